"""ADT values, `match` and references in native code (docs/native-objects.md): compiled
results against the interpreter on random inputs at -O0 and -O3, objects as arguments and
results, a failing `match?` as a located error, deep data, and steady memory over calls."""

from __future__ import annotations

import resource

import numpy as np
import pytest
from xdsl.context import Context

from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.ir_helpers import functions_by_name
from relay_opt.passes.lambda_lift import LambdaLiftPass
from relay_opt.passes.monomorphize import MonomorphizePass
from relay_opt.runtime import jit
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.values import (
    ADTValue,
    RefCell,
    from_adt_list,
    same_value,
    to_adt_list,
)

HEADER = '#[version = "0.0.5"]\n'
T = "Tensor[(2, 3), float32]"


def _load(text: str):  # noqa: ANN202
    module = load_program(HEADER + text, "relay").module
    MonomorphizePass().apply(Context(), module)  # the prelude is polymorphic
    return module


def _random(rng: np.random.Generator, n: int = 4) -> list[np.ndarray]:
    return [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(n)]


def _check(text: str, rng: np.random.Generator, opt: int, lift: bool = False) -> object:
    module = _load(text)
    if lift:
        LambdaLiftPass().apply(Context(), module)
    args = _random(rng, len(functions_by_name(module)["main"].args))
    got = jit.compile(module, opt=opt)(*args)
    want = interpret(module, args)
    assert same_value(got, want), (got, want)
    return got


PROGRAMS = {
    "construct_and_refs": f"""
type Pair {{ P({T}, ({T}, {T})), }}
def @main(%a: {T}, %b: {T}) -> (Pair, ref({T}), {T}) {{
  let %r = ref(%a);
  let %old = ref_read(%r);
  let %u = ref_write(%r, add(%a, %b));
  (P(%old, (ref_read(%r), %b)), %r, %old)
}}
""",
    "match_nested": f"""
def @second(%xs: List[{T}]) -> {T} {{
  match (%xs) {{
    Cons(_, Cons(%y, _)) => %y,
    Cons(%x, Nil) => negative(%x),
    Nil => zeros(shape=[2, 3], dtype="float32"),
  }}
}}
def @main(%a: {T}, %b: {T}, %c: {T}) -> ({T}, {T}, {T}) {{
  (@second(Cons(%a, Cons(%b, Nil))), @second(Cons(%c, Nil)), @second(Nil))
}}
""",
    "match_tuple_and_option": f"""
def @pick(%p: (Option[{T}], Option[{T}])) -> {T} {{
  match (%p) {{
    (Some(%x), Some(%y)) => multiply(%x, %y),
    (None, Some(%y)) => %y,
    (%o, _) => match (%o) {{ Some(%x) => exp(%x), None => ones(shape=[2, 3], dtype="float32"), }},
  }}
}}
def @main(%a: {T}, %b: {T}) -> ({T}, {T}, {T}, {T}) {{
  (@pick((Some(%a), Some(%b))), @pick((None, Some(%b))), @pick((Some(%a), None)),
   @pick((None, None)))
}}
""",
    "prelude_lists": f"""
def @main(%a: {T}, %b: {T}, %c: {T}, %d: {T}) -> (List[{T}], {T}, int32, List[{T}], List[({T}, {T})]) {{
  let %xs = Cons(%a, Cons(%b, Cons(%c, Nil)));
  (Cons(@hd(%xs), @tl(%xs)), @nth(%xs, 2), @length(%xs), @update(%xs, 1, %d),
   @zip(%xs, @tl(%xs)))
}}
""",
    "tree": f"""
def @size_of(%t: Tree[{T}]) -> int32 {{
  match (%t) {{ Rose(_, %children) => 1 + @size_all(%children), }}
}}
def @size_all(%ts: List[Tree[{T}]]) -> int32 {{
  match (%ts) {{ Cons(%t, %rest) => @size_of(%t) + @size_all(%rest), Nil => 0, }}
}}
def @main(%a: {T}, %b: {T}, %c: {T}) -> (int32, Tree[{T}]) {{
  let %t = Rose(%a, Cons(Rose(%b, Nil), Cons(Rose(%c, Cons(Rose(%a, Nil), Nil)), Nil)));
  (@size_of(%t), %t)
}}
""",
}


@pytest.mark.parametrize("opt", [0, 3])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_against_interpreter(name: str, opt: int) -> None:
    rng = np.random.default_rng(hash(name) % 1000)
    _check(PROGRAMS[name], rng, opt)


@pytest.mark.parametrize("opt", [0, 3])
def test_objects_as_arguments(opt: int) -> None:
    """Python lists as `List`, ADT values and reference cells in; the same classes out."""
    text = f"""
def @rev(%xs: List[{T}], %acc: List[{T}]) -> List[{T}] {{
  match (%xs) {{ Cons(%x, %rest) => @rev(%rest, Cons(%x, %acc)), Nil => %acc, }}
}}
def @main(%xs: List[{T}], %r: ref({T}), %o: Option[{T}]) -> (List[{T}], {T}) {{
  let %u = ref_write(%r, match (%o) {{ Some(%x) => %x, None => ref_read(%r), }});
  (@rev(%xs, Nil), ref_read(%r))
}}
"""
    rng = np.random.default_rng(1)
    items = _random(rng, 5)
    args = [items[:3], RefCell(items[3]), ADTValue("Option::Some", 0, (items[4],))]
    module = _load(text)
    got = jit.compile(module, opt=opt)(*args)
    want = interpret(module, [to_adt_list(items[:3]), RefCell(items[3]), args[2]])
    assert same_value(got, want)
    assert isinstance(got, tuple)
    reversed_items = from_adt_list(got[0])  # pyright: ignore[reportArgumentType]
    assert reversed_items is not None
    assert all(np.array_equal(x, y) for x, y in zip(reversed_items, items[2::-1], strict=True))


def test_tensor_inside_argument_checked() -> None:
    exe = jit.compile(_load(f"def @main(%xs: List[{T}]) -> int32 {{ @length(%xs) }}"))
    with pytest.raises(
        ValueError, match=r"input 'xs'\.Cons\[0\] must be 2x3 float32, got 3 float32"
    ):
        exe([np.zeros(3, np.float32)])
    with pytest.raises(ValueError, match="must be a value of"):
        exe(np.zeros((2, 3), np.float32))


def test_failed_match_is_located() -> None:
    text = f"def @main(%xs: List[{T}]) -> {T} {{ @hd(%xs) }}"
    module = _load(text)
    exe = jit.compile(module)
    x = np.ones((2, 3), np.float32)
    assert np.array_equal(exe([x]), x)  # type: ignore[arg-type]
    with pytest.raises(RelayError, match="no clause of this match") as info:
        exe([])
    assert info.value.at is not None and "prelude" in str(info.value.at)
    assert np.array_equal(exe([x, x]), x)  # type: ignore[arg-type]  # the code still runs


def test_deep_list_and_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 10,000-element list in, reversed, mapped, folded, counted and out; a tree of depth
    1,000. (The limit is raised: map and foldl recurse once per element.)"""
    monkeypatch.setenv("RELAY_OPT_MAX_DEPTH", "20000")
    text = """
def @rev(%xs: List[int32], %acc: List[int32]) -> List[int32] {
  match (%xs) { Cons(%x, %rest) => @rev(%rest, Cons(%x, %acc)), Nil => %acc, }
}
def @total(%xs: List[int32]) -> int32 {
  match (%xs) { Cons(%x, %rest) => %x + @total(%rest), Nil => 0, }
}
def @main(%xs: List[int32]) -> (int32, int32, List[int32], int32) {
  let %r = @rev(%xs, Nil);
  let %m = @map(fn (%x: int32) -> int32 { %x * 3 - 1 }, %r);
  (@total(%r), @length(%r), %m, @foldl(fn (%a: int32, %x: int32) -> int32 { %a + %x }, 0, %m))
}
"""
    module = _load(text)
    items = [np.array(i % 7, np.int32) for i in range(10_000)]
    got = jit.compile(module, opt=3)(items)
    want = interpret(module, [to_adt_list(items)])
    assert same_value(got, want)
    text = f"""
def @size_of(%t: Tree[{T}]) -> int32 {{
  match (%t) {{ Rose(_, %children) => 1 + @size_all(%children), }}
}}
def @size_all(%ts: List[Tree[{T}]]) -> int32 {{
  match (%ts) {{ Cons(%t, %rest) => @size_of(%t) + @size_all(%rest), Nil => 0, }}
}}
def @chain(%n: int32, %x: {T}) -> Tree[{T}] {{
  if (%n == 0) {{ Rose(%x, Nil) }} else {{ Rose(%x, Cons(@chain(%n - 1, negative(%x)), Nil)) }}
}}
def @main(%x: {T}) -> (int32, Tree[{T}]) {{
  let %t = @chain(999, %x);
  (@size_of(%t), %t)
}}
"""
    module = _load(text)
    x = np.random.default_rng(2).standard_normal((2, 3)).astype(np.float32)
    got = jit.compile(module, opt=3)(x)
    assert same_value(got, interpret(module, [x]))


def test_every_prelude_function_on_a_long_list_and_a_deep_tree(monkeypatch) -> None:
    """Each list function of the prelude on a 10,000-element list of random tensors, and
    each tree function on a tree of depth 1,000, natively and in the interpreter. (The
    limit is raised: map, foldr, zip and the others recurse once per element.)"""
    monkeypatch.setenv("RELAY_OPT_MAX_DEPTH", "30000")
    text = f"""
def @main(%xs: List[{T}], %ns: List[int32], %x: {T}) {{
  let %neg = fn (%v: {T}) -> {T} {{ negative(%v) }};
  let %add = fn (%a: {T}, %b: {T}) -> {T} {{ add(%a, %b) }};
  let %upto = fn (%i: int32) -> Option[(int32, int32)] {{
    if (%i >= 10000) {{ None }} else {{ Some((%i + 1, %i)) }}
  }};
  let %step = fn (%a: int32, %v: {T}) -> (int32, {T}) {{ (%a + 1, multiply(%v, 2f)) }};
  let %chain = fn (%n: int32) -> Tree[{T}] {{
    if (%n == 0) {{ Rose(%x, Nil) }} else {{ Rose(%x, Cons(%chain(%n - 1), Nil)) }}
  }};
  let %t = %chain(999);
  ((@hd(%xs), @length(@tl(%xs)), @nth(%xs, 9999), @length(@update(%xs, 5000, %x)),
    @foldl(%add, %x, @map(%neg, %xs)), @foldr(%add, %x, %xs), @foldr1(%add, %xs),
    @sum(%ns), @length(@concat(%xs, %xs)),
    @length(@filter(fn (%v: {T}) -> bool {{ greater(sum(%v), 0f) }}, %xs)),
    @length(@zip(%xs, @rev(%xs))), @nth(@rev(%xs), 0)),
   (@map_accuml(%step, 0, %xs).0, @nth(@map_accumr(%step, 0, %xs).1, 17),
    @sum(@unfoldr(%upto, 0)), @hd(@unfoldl(%upto, 0)),
    @compose(%neg, %neg)(@id(%x)), @flip(fn (%a: {T}, %b: int32) -> {T} {{ %a }})(0, %x),
    @iterate(%neg, 3)(%x), @size(@tmap(%neg, %t)), @size(%t)))
}}
"""
    module = _load(text)
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(10_000)]
    ns = [np.array(i % 11 - 5, np.int32) for i in range(10_000)]
    x = rng.standard_normal((2, 3)).astype(np.float32)
    got = jit.compile(module, opt=1, cache=False)(xs, ns, x)
    want = interpret(module, [to_adt_list(xs), to_adt_list(ns), x])
    assert same_value(got, want, rtol=1e-4, atol=1e-4)


def test_memory_is_steady() -> None:
    """Everything a call allocates is freed when it returns: after 100 calls of a program
    that builds, maps and folds a list (closures included), 10,000 more leave the peak RSS within 5 MiB."""
    text = f"""
def @build(%n: int32, %x: {T}) -> List[{T}] {{
  if (%n == 0) {{ Nil }} else {{ Cons(%x, @build(%n - 1, add(%x, %x))) }}
}}
def @main(%n: int32, %x: {T}) -> {T} {{
  let %add = fn (%a: {T}, %b: {T}) -> {T} {{ add(%a, %b) }};
  @foldl(%add, zeros(shape=[2, 3], dtype="float32"), @map(fn (%y: {T}) -> {T} {{ %add(%y, %x) }}, @build(%n, %x)))
}}
"""
    module = _load(text)
    exe = jit.compile(module, opt=3)
    n = np.array(50, np.int32)
    x = np.full((2, 3), 0.001, np.float32)
    want = interpret(module, [n, x])
    for _ in range(100):
        got = exe(n, x)
    assert same_value(got, want)
    first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(10_000):
        exe(n, x)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - first
    assert grown_kib < 5 * 1024, f"peak RSS grew by {grown_kib} KiB over 10,000 calls"


F = f"fn ({T}) -> {T}"
PRELUDE = {
    "id_compose_flip_iterate": f"""
def @main(%a: {T}, %b: {T}) -> ({T}, {T}, {T}, {T}) {{
  let %neg = fn (%x: {T}) -> {T} {{ negative(%x) }};
  let %sub = fn (%x: {T}, %y: {T}) -> {T} {{ subtract(%x, %y) }};
  let %twice = @iterate(fn (%x: {T}) -> {T} {{ add(%x, %b) }}, 2);
  (@id(%a), @compose(%neg, fn (%x: {T}) -> {T} {{ exp(%x) }})(%a), @flip(%sub)(%a, %b),
   %twice(%a))
}}
""",
    "lists": f"""
def @main(%a: {T}, %b: {T}, %c: {T}) -> (List[{T}], {T}, {T}, {T}, List[{T}], List[{T}], List[{T}]) {{
  let %xs = Cons(%a, Cons(%b, Cons(%c, Nil)));
  let %mul = fn (%x: {T}, %y: {T}) -> {T} {{ multiply(%x, %y) }};
  (@map(fn (%x: {T}) -> {T} {{ add(%x, %a) }}, %xs), @foldl(%mul, %c, %xs),
   @foldr(fn (%x: {T}, %y: {T}) -> {T} {{ subtract(%x, %y) }}, %a, %xs), @foldr1(%mul, %xs),
   @concat(%xs, @rev(%xs)), @filter(fn (%x: {T}) -> bool {{ greater(sum(%x), 0f) }}, %xs),
   @update(%xs, 2, %a))
}}
""",
    "accumulate_and_unfold": f"""
def @main(%a: {T}, %b: {T}, %c: {T}) -> (({T}, List[{T}]), ({T}, List[{T}]), List[int32], List[int32], int32) {{
  let %xs = Cons(%a, Cons(%b, Cons(%c, Nil)));
  let %step = fn (%acc: {T}, %x: {T}) -> ({T}, {T}) {{ (add(%acc, %x), multiply(%acc, %x)) }};
  let %count = fn (%n: int32) -> Option[(int32, int32)] {{
    if (%n == 0) {{ None }} else {{ Some((%n - 1, %n * 10)) }}
  }};
  (@map_accuml(%step, %a, %xs), @map_accumr(%step, %b, %xs), @unfoldr(%count, 4),
   @unfoldl(%count, 3), @sum(@unfoldr(%count, 5)))
}}
""",
    "trees": f"""
def @main(%a: {T}, %b: {T}, %c: {T}) -> (Tree[{T}], int32, Tree[List[{T}]]) {{
  let %t = Rose(%a, Cons(Rose(%b, Nil), Cons(Rose(%c, Cons(Rose(%a, Nil), Nil)), Nil)));
  (@tmap(fn (%x: {T}) -> {T} {{ tanh(%x) }}, %t), @size(%t),
   @tmap(fn (%x: {T}) -> List[{T}] {{ Cons(%x, Cons(%b, Nil)) }}, %t))
}}
""",
    "closures_in_adts_and_refs": f"""
def @apply_all(%fs: List[{F}], %x: {T}) -> {T} {{
  match (%fs) {{ Cons(%f, %rest) => @apply_all(%rest, %f(%x)), Nil => %x, }}
}}
def @negate(%x: {T}) -> {T} {{ negative(%x) }}
def @main(%a: {T}, %b: {T}) -> ({T}, {T}) {{
  let %fs = Cons(fn (%x: {T}) -> {T} {{ add(%x, %b) }}, Cons(@negate, Cons(@negate, Nil)));
  let %r = ref(@negate);
  let %u = ref_write(%r, fn (%x: {T}) -> {T} {{ multiply(%x, %a) }});
  let %fact = fn (%n: int32, %x: {T}) -> {T} {{
    if (%n == 0) {{ %x }} else {{ %fact(%n - 1, add(%x, %x)) }}
  }};
  (@apply_all(%fs, %a), ref_read(%r)(%fact(3, %b)))
}}
""",
}


@pytest.mark.parametrize(("opt", "lift"), [(0, False), (3, False), (3, True)])
@pytest.mark.parametrize("name", sorted(PRELUDE))
def test_prelude_and_closures(name: str, opt: int, lift: bool) -> None:
    """Every function of the prelude (frontends/relay_text/prelude.rly), with closures
    passed, returned, stored in lists and references, and recursive local functions; also
    after lambda-lift (closures then come from lifted globals)."""
    _check(PRELUDE[name], np.random.default_rng(7), opt, lift)
