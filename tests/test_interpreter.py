"""The reference interpreter: every construct, each prelude function, deep recursion, and
models written in Relay text against independent numpy implementations."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.ops.transform import update_slice_into
from relay_opt.runtime.interpreter import ADTValue, Interpreter, RefCell, interpret

sys.path.insert(0, str(Path(__file__).parent.parent / "examples" / "models"))

HEADER = '#[version = "0.0.5"]\n'


def run(body: str, *inputs, entry="main"):
    return interpret(load_program(HEADER + body, "relay").module, list(inputs), entry)


def pylist(v) -> list:
    """A Relay List value as a Python list."""
    out = []
    while isinstance(v, ADTValue) and v.constructor == "List::Cons":
        out.append(v.fields[0])
        v = v.fields[1]
    assert isinstance(v, ADTValue) and v.constructor == "List::Nil"
    return out


LIST = "Cons(1, Cons(2, Cons(3, Nil)))"


@pytest.mark.parametrize(
    "expr, want",
    [
        ("@id(7)", 7),
        ("@compose(fn (%a: int32) { %a + 1 }, fn (%b: int32) { %b * 10 })(2)", 21),
        ("@flip(fn (%a: int32, %b: int32) { %a - %b })(1, 10)", 9),
        (f"@hd({LIST})", 1),
        (f"@length(@tl({LIST}))", 2),
        (f"@nth({LIST}, 2)", 3),
        (f"@nth(@update({LIST}, 1, 9), 1)", 9),
        (f"@length({LIST})", 3),
        (f"@sum(@map(fn (%x: int32) {{ %x * %x }}, {LIST}))", 14),
        (f"@foldl(fn (%acc: int32, %x: int32) {{ %acc * 10 + %x }}, 0, {LIST})", 123),
        (f"@foldr(fn (%x: int32, %acc: int32) {{ %acc * 10 + %x }}, 0, {LIST})", 321),
        (f"@foldr1(fn (%x: int32, %y: int32) {{ %x - %y }}, {LIST})", 2),
        (f"@sum({LIST})", 6),
        (f"@length(@concat({LIST}, {LIST}))", 6),
        (f"@sum(@filter(fn (%x: int32) {{ %x != 2 }}, {LIST}))", 4),
        (f"@length(@zip({LIST}, Cons(True, Nil)))", 1),
        (f"@hd(@rev({LIST}))", 3),
        (f"@map_accuml(fn (%a: int32, %x: int32) {{ (%a + %x, %a) }}, 0, {LIST}).0", 6),
        (f"@sum(@map_accumr(fn (%a: int32, %x: int32) {{ (%a + %x, %a) }}, 0, {LIST}).1)", 8),
        (
            "@sum(@unfoldr(fn (%n: int32) { if (%n == 0) { None } else { Some((%n - 1, %n)) } }, 4))",
            10,
        ),
        (
            "@hd(@unfoldl(fn (%n: int32) { if (%n == 0) { None } else { Some((%n - 1, %n)) } }, 4))",
            1,
        ),
        (
            "@size(@tmap(fn (%x: int32) { %x * 2 }, Rose(1, Cons(Rose(2, Nil), Cons(Rose(3, Nil), Nil)))))",
            3,
        ),
        ("@iterate(fn (%x: int32) { %x * 2 }, 5)(1)", 32),
    ],
)
def test_prelude_functions(expr, want):
    assert run(f"def @main() {{ {expr} }}").item() == want


def test_prelude_covers_all_24_functions():
    from relay_opt.frontends.relay_text.prelude import prelude

    names = {f.name for f in prelude().func_defs}
    tested = {
        name
        for case in test_prelude_functions.pytestmark[0].args[1]
        for name in names
        if f"@{name}(" in case[0]
    }
    assert tested == names


def test_closures_capture_and_curry():
    got = run(
        "def @main(%x: float32) { let %add = fn (%a: float32) { fn (%b: float32) { %a + %b + %x } }; %add(1f)(2f) }",
        np.float32(10),
    )
    assert got.item() == 13


def test_references_alias():
    got = run("def @main() { let %r = ref(1); let %s = %r; ref_write(%s, 5); (ref_read(%r), %r) }")
    assert got[0].item() == 5 and isinstance(got[1], RefCell)


def test_recursion_100000_deep_through_a_global_and_a_local_function(monkeypatch):
    monkeypatch.setenv("RELAY_OPT_MAX_DEPTH", "200000")  # the default is 10000
    assert (
        run(
            "def @down(%n: int32) -> int32 { if (%n == 0) { 0 } else { 1 + @down(%n - 1) } }\n"
            "def @main(%n: int32) { @down(%n) }",
            np.int32(100000),
        ).item()
        == 100000
    )
    got = run(
        "def @main(%n: int32) { let %f = fn (%i: int32, %acc: int32) -> int32 {"
        " if (%i == 0) { %acc } else { %f(%i - 1, %acc + 2) } }; %f(%n, 0) }",
        np.int32(100000),
    )
    assert got.item() == 200000


def test_sum_over_a_long_list(monkeypatch):
    monkeypatch.setenv("RELAY_OPT_MAX_DEPTH", "200000")
    text = HEADER + (
        "def @build(%n: int32, %acc: List[int32]) -> List[int32] {"
        " if (%n == 0) { %acc } else { @build(%n - 1, Cons(mod(%n, 7), %acc)) } }\n"
        "def @total(%xs: List[int32]) -> int32 { match (%xs) { Cons(%h, %t) => %h + @total(%t), Nil => 0 } }\n"
        "def @main(%n: int32) { @total(@build(%n, Nil)) }"
    )
    assert interpret(load_program(text, "relay").module, [np.int32(100000)]).item() == sum(
        i % 7 for i in range(1, 100001)
    )


def test_partial_match_failure_is_located():
    module = load_program(
        HEADER + "def @main() { @hd(@tl(Cons(1, Nil))) }", "relay", filename="p.rly"
    ).module
    with pytest.raises(RelayError) as err:
        interpret(module)
    assert "no clause of this match? matches" in err.value.message


def test_inputs_are_checked():
    module = load_program(HEADER + "def @main(%x: Tensor[(2), float32]) { %x }", "relay").module
    with pytest.raises(ValueError, match="input 'x'"):
        interpret(module, [np.zeros(3, np.float32)])
    with pytest.raises(ValueError, match="missing: x"):
        Interpreter(module).run("main", {})


def test_mnist_cnn_matches_numpy():
    from mnist import mnist_numpy, mnist_text

    text, weights = mnist_text()
    module = load_program(
        text, "relay", filename="mnist.rly", meta={"relay.Constant": weights}
    ).module
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(
        interpret(module, [x]), mnist_numpy(x, weights), rtol=1e-5, atol=1e-6
    )


def test_gpt2_block_matches_numpy():
    from gpt2 import gpt2_numpy, gpt2_text

    text, weights = gpt2_text()
    module = load_program(
        text, "relay", filename="gpt2.rly", meta={"relay.Constant": weights}
    ).module
    x = np.random.default_rng(1).standard_normal((1, 8, 64)).astype(np.float32)
    np.testing.assert_allclose(interpret(module, [x]), gpt2_numpy(x, weights), rtol=1e-4, atol=1e-5)


def test_resnet_matches_numpy():
    # ResNet-18 at 64x64 keeps the test quick; test_models.py runs ResNet-50.
    from resnet import resnet_numpy, resnet_text

    text, weights, ops = resnet_text(18, image=64, classes=10)
    module = load_program(
        text, "relay", filename="resnet.rly", meta={"relay.Constant": weights}
    ).module
    x = np.random.default_rng(2).standard_normal((1, 3, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(
        interpret(module, [x]), resnet_numpy(x, weights, ops), rtol=1e-4, atol=1e-6
    )


def test_group_and_instance_norm_from_text_against_numpy():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    g, b = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    got = run(
        "def @main(%x: Tensor[(2, 4, 3, 3), float32], %g: Tensor[(4), float32], %b: Tensor[(4), float32]) {\n"
        "  nn.group_norm(%x, %g, %b, num_groups=2)\n}",
        x,
        g,
        b,
    )
    want = np.empty_like(x)
    for n in range(2):
        for grp in range(2):
            block = x[n, 2 * grp : 2 * grp + 2].astype(np.float64)
            want[n, 2 * grp : 2 * grp + 2] = (block - block.mean()) / np.sqrt(block.var() + 1e-5)
    want = want * g[:, None, None] + b[:, None, None]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    got = run(
        "def @main(%x: Tensor[(2, 4, 3, 3), float32], %g: Tensor[(4), float32], %b: Tensor[(4), float32]) {\n"
        "  nn.instance_norm(%x, %g, %b)\n}",
        x,
        g,
        b,
    )
    mean, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-5) * g[:, None, None] + b[:, None, None]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    got = run(
        "def @main(%x: Tensor[(2, 4), float32]) { nn.l2_normalize(%x, eps=1e-12f, axis=[1]) }",
        x[:, :, 0, 0],
    )
    np.testing.assert_allclose(
        got, x[:, :, 0, 0] / np.linalg.norm(x[:, :, 0, 0], axis=1, keepdims=True), rtol=1e-5
    )


def test_reverse_sequence_from_text_against_python_lists():
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    lengths = np.array([4, 0, 2], np.int32)  # along axis 2: all, none, the first two
    got = run(
        "def @main(%x: Tensor[(2, 4, 3), float32], %l: Tensor[(3), int32]) {\n"
        "  reverse_sequence(%x, %l, seq_axis=1, batch_axis=2)\n}",
        x,
        lengths,
    )
    want = x.copy()
    for b, length in enumerate(lengths):
        want[:, :length, b] = x[:, :length, b][:, ::-1]
    np.testing.assert_array_equal(got, want)


def _writes_in_place(monkeypatch) -> list[int]:
    """Counts the dyn.update_slice the interpreter writes in place (into its data)."""
    import relay_opt.runtime.interpreter as interpreter

    count = [0]

    def counted(*args):
        count[0] += 1
        return update_slice_into(*args)

    monkeypatch.setattr(interpreter, "update_slice_into", counted)
    return count


def test_update_slice_writes_in_place_only_into_a_dead_unshared_array(monkeypatch):
    """The loop's accumulator (dead after each update, held by the callee's env only) is
    written in place; a value still used after the update, one a tuple holds, an input, a
    constant and a value captured by a closure called twice keep their contents."""
    in_place = _writes_in_place(monkeypatch)
    loop = (
        "def @fill(%i: int64, %acc: Tensor[(5), float32]) -> Tensor[(5), float32] {\n"
        "  if (%i == 5i64) { %acc } else {\n"
        '    @fill(%i + 1i64, dyn.update_slice(%acc, reshape(cast(%i, dtype="float32"),'
        " newshape=[1]), reshape(%i, newshape=[1])))\n  }\n}\n"
    )
    got = run(
        loop + "def @main(%x: Tensor[(5), float32]) { @fill(0i64, %x + 1f) }", np.ones(5, "f")
    )
    np.testing.assert_array_equal(got, np.arange(5, dtype="f"))
    assert in_place[0] == 5
    in_place[0] = 0
    x, u, at = np.zeros(3, "f"), np.full(1, 5, "f"), np.array([1])
    head = "def @main(%x: Tensor[(3), float32], %u: Tensor[(1), float32], %b: Tensor[(1), int64])"
    used_after = run(head + " { %0 = %x + 1f; (dyn.update_slice(%0, %u, %b), %0) }", x, u, at)
    in_tuple = run(
        head + " { %0 = %x + 1f; %1 = (%0,); (dyn.update_slice(%0, %u, %b), %1) }", x, u, at
    )
    an_input = run(head + " { (dyn.update_slice(%x, %u, %b), %x) }", x, u, at)
    twice = run(
        head + " { %0 = %x + 1f; let %f = fn (%v: Tensor[(1), float32]) {"
        " dyn.update_slice(%0, %v, %b) }; (%f(%u), %f(%u + %u)) }",
        x,
        u,
        at,
    )
    np.testing.assert_array_equal(used_after[0], [1, 5, 1])
    np.testing.assert_array_equal(used_after[1], [1, 1, 1])
    np.testing.assert_array_equal(in_tuple[0], [1, 5, 1])
    np.testing.assert_array_equal(in_tuple[1][0], [1, 1, 1])
    np.testing.assert_array_equal(an_input[0], [0, 5, 0])
    np.testing.assert_array_equal(an_input[1], [0, 0, 0])
    np.testing.assert_array_equal(x, [0, 0, 0])
    np.testing.assert_array_equal(twice[0], [1, 5, 1])
    np.testing.assert_array_equal(twice[1], [1, 10, 1])
    assert in_place[0] == 0
