"""Native control flow: `if` (nested, tuple results, in fused code), direct, mutual and
non-tail recursion, tail calls in constant stack, compiled at -O0 and -O3 against the
reference interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

HEADER = '#[version = "0.0.5"]\n'

IFS = (
    HEADER
    + """
def @pick(%c: bool, %x: Tensor[(2, 3), float32]) -> Tensor[(2, 3), float32] {
  if (%c) { %x } else { negative(%x) }
}
def @main(%a: Tensor[(2, 3), float32], %b: Tensor[(2, 3), float32], %t: float32)
    -> (Tensor[(2, 3), float32], (Tensor[(2, 3), float32], Tensor[(3), float32])) {
  let %s = sum(%a);
  let %r = if (greater(%s, %t)) {
    let %z = multiply(%a, %b);
    if (less(sum(%b), %t)) {
      (exp(%z), (%a, sum(%z, axis=[0])))
    } else {
      (%z, (add(@pick(greater(%t, 0f), %b), %a), max(%a, axis=[0])))
    }
  } else {
    (%b, (tanh(add(%a, %b)), mean(%b, axis=[0])))
  };
  (add(%r.0, %a), %r.1)
}
"""
)

RECURSION = (
    HEADER
    + """
def @fact(%n: int32) -> int32 {
  if (less_equal(%n, 1)) { 1 } else { multiply(%n, @fact(subtract(%n, 1))) }
}
def @fib(%n: int32) -> int32 {
  if (less(%n, 2)) { %n } else { add(@fib(subtract(%n, 1)), @fib(subtract(%n, 2))) }
}
def @even(%n: int32) -> bool {
  if (equal(%n, 0)) { True } else { @odd(subtract(%n, 1)) }
}
def @odd(%n: int32) -> bool {
  if (equal(%n, 0)) { False } else { @even(subtract(%n, 1)) }
}
def @loop(%i: int32, %n: int32, %acc: Tensor[(3), float32]) -> Tensor[(3), float32] {
  if (less(%i, %n)) {
    @loop(add(%i, 1), %n, add(multiply(%acc, 0.5f), 1f))
  } else {
    %acc
  }
}
def @main(%n: int32, %x: Tensor[(3), float32])
    -> (int32, int32, bool, bool, Tensor[(3), float32]) {
  (@fact(%n), @fib(%n), @even(%n), @odd(%n), @loop(0, %n, %x))
}
"""
)


def _leaves(value: object) -> list[np.ndarray]:
    if isinstance(value, tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [np.asarray(value)]


def _check(module, exe, inputs: list[np.ndarray]) -> None:  # noqa: ANN001
    want = _leaves(interpret(module, inputs))
    got = _leaves(exe(*inputs))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("level", [0, 3])
def test_if_matches_the_interpreter(level: int):
    module = load_program(IFS, "relay").module
    rng = np.random.default_rng(level)
    exe = compile(module, opt=level)
    seen = set()
    for _ in range(12):
        a = rng.standard_normal((2, 3)).astype(np.float32)
        b = rng.standard_normal((2, 3)).astype(np.float32)
        t = np.array(rng.uniform(-2, 2), np.float32)
        seen.add((a.sum() > t, b.sum() < t))
        want = _leaves(interpret(module, [a, b, t]))
        got = _leaves(exe(a, b, t))
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert len(seen) >= 3  # every branch ran


@pytest.mark.parametrize("level", [0, 3])
def test_recursion_matches_the_interpreter(level: int):
    module = load_program(RECURSION, "relay").module
    exe = compile(module, opt=level)
    rng = np.random.default_rng(10 + level)
    for n in [0, 1, 2, 7, int(rng.integers(3, 15))]:
        _check(module, exe, [np.array(n, np.int32), rng.standard_normal(3).astype(np.float32)])


TAIL_LOOPS = (
    HEADER
    + """
def @count(%i: int32, %n: int32, %acc: Tensor[(2), int32]) -> Tensor[(2), int32] {
  if (less(%i, %n)) { @count(add(%i, 1), %n, add(%acc, %i)) } else { %acc }
}
def @even(%n: int32) -> bool {
  if (equal(%n, 0)) { True } else { @odd(subtract(%n, 1)) }
}
def @odd(%n: int32) -> bool {
  if (equal(%n, 0)) { False } else { @even(subtract(%n, 1)) }
}
def @main(%n: int32, %x: Tensor[(2), int32]) -> (Tensor[(2), int32], bool) {
  (@count(0, %n, %x), @even(%n))
}
"""
)


@pytest.mark.parametrize("level", [0, 3])
def test_a_million_tail_calls_run_in_constant_stack(level: int):
    """Self and mutual tail calls are jumps: far past RELAY_OPT_MAX_DEPTH (default 10,000)."""
    module = load_program(TAIL_LOOPS, "relay").module
    exe = compile(module, opt=level)
    n = 1_000_000
    x = np.array([3, -5], np.int32)
    total, even = exe(np.array(n, np.int32), x)  # pyright: ignore[reportGeneralTypeIssues]
    want = (x.astype(np.int64) + n * (n - 1) // 2).astype(np.int32)  # int32 wraps
    np.testing.assert_array_equal(total, want)
    assert bool(even) is True
    _, odd = exe(np.array(n + 1, np.int32), x)  # pyright: ignore[reportGeneralTypeIssues]
    assert bool(odd) is False


SLOT_RESULT_LOOPS = (
    HEADER
    + """
def @grow(%i: int32, %xs: Tensor[(?), int32]) -> Tensor[(?), int32] {
  if (greater(%i, 0)) { @grow(subtract(%i, 1), concatenate((%xs, expand_dims(%i, axis=0)))) }
  else { %xs }
}
def @ping(%i: int32, %x: Tensor[(?, 2), float32], %t: Tensor[(2), float32])
    -> (Tensor[(?, 2), float32], Tensor[(2), float32]) {
  if (greater(%i, 0)) { @pong(subtract(%i, 1), add(%x, 1f), add(%t, 1f)) } else { (%x, %t) }
}
def @pong(%i: int32, %x: Tensor[(?, 2), float32], %t: Tensor[(2), float32])
    -> (Tensor[(?, 2), float32], Tensor[(2), float32]) {
  let %half = multiply(%x, 0.5f);
  if (equal(%i, 0)) { (%x, %t) } else { @ping(subtract(%i, 1), %half, %t) }
}
def @build(%i: int32, %acc: List[int32]) -> List[int32] {
  if (greater(%i, 0)) { @build(subtract(%i, 1), Cons(%i, %acc)) } else { %acc }
}
def @main(%g: int32, %n: int32, %x: Tensor[(?, 2), float32])
    -> (Tensor[(?), int32], (Tensor[(?, 2), float32], Tensor[(2), float32]), int32, int32) {
  (@grow(%g, zeros(shape=[0], dtype="int32")), @ping(%n, %x, zeros(shape=[2], dtype="float32")),
   @length(@build(%n, Nil)), @hd(@rev(@build(%g, Nil))))
}
"""
)


@pytest.mark.parametrize("level", [0, 3])
def test_tail_calls_with_dynamic_or_object_results_are_loops(level: int):
    """A call in tail position passes its caller's result slot on (bufferize), so a tail
    call whose result has `?` dims, or is an object (a List: @rev is the prelude's foldl), is a jump too: 20,000 steps,
    past RELAY_OPT_MAX_DEPTH, in constant stack and memory (each step's temporaries freed)."""
    module = load_program(SLOT_RESULT_LOOPS, "relay").module
    exe = compile(module, opt=level, cache=False)
    rng = np.random.default_rng(level)
    x = rng.standard_normal((3, 2)).astype(np.float32)
    small = [np.array(5, np.int32), np.array(7, np.int32), x]
    _check(module, exe, small)
    # @length is not a tail call (1 + @length(rest)): 9,000 elements stay under the limit.
    n = 9_000
    grown, (y, t), length, head = exe(np.array(20_000, np.int32), np.array(n, np.int32), x)  # pyright: ignore[reportGeneralTypeIssues]
    np.testing.assert_array_equal(grown, np.arange(20_000, 0, -1, dtype=np.int32))
    want = x.astype(np.float64)
    for _ in range(n // 2):  # ping adds 1, pong halves: n steps in all
        want = (want + 1) * 0.5
    np.testing.assert_allclose(y, want.astype(np.float32), rtol=1e-5)
    np.testing.assert_array_equal(t, np.full(2, n // 2 + n % 2, np.float32))
    assert (int(length), int(head)) == (n, 20_000)


NON_TAIL = (
    HEADER
    + """
def @sum(%n: int32) -> int32 {
  if (equal(%n, 0)) { 0 } else { add(%n, @sum(subtract(%n, 1))) }
}
def @main(%n: int32) -> int32 { @sum(%n) }
"""
)

# In a child process: a broken depth check would overflow the stack and kill it, not pytest.
CHILD = """
import sys
import numpy as np
from relay_opt import load_program
from relay_opt.diagnostics import RelayError, location_of
from relay_opt.runtime.jit import compile

module = load_program(sys.argv[1], "relay", filename="sum.rly").module
for level in (0, 3):
    exe = compile(module, opt=level)
    print(int(exe(np.array(400, np.int32))))
    try:
        exe(np.array(100000, np.int32))
    except RelayError as e:
        print(f"{location_of(e.at)}: {e.message}")
"""


def test_runaway_non_tail_recursion_is_a_located_error():
    env = {**os.environ, "RELAY_OPT_MAX_DEPTH": "500"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, NON_TAIL],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr
    error = (
        "sum.rly:3:1: recursion too deep: @sum called more than 500 levels deep "
        "(runaway recursion? RELAY_OPT_MAX_DEPTH sets the limit)"
    )
    assert child.stdout.splitlines() == 2 * [str(400 * 401 // 2), error]


def test_relay_run_runs_control_flow_natively(tmp_path):
    path = tmp_path / "fact.rly"
    path.write_text(RECURSION)
    np.savez(tmp_path / "in.npz", n=np.array(6, np.int32), x=np.ones(3, np.float32))
    outputs = {}
    for extra in ([], ["--interpret"]):
        out = tmp_path / f"out{len(extra)}.npz"
        child = subprocess.run(
            ["relay-run", str(path), "-i", str(tmp_path / "in.npz"), "-o", str(out), *extra],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert child.returncode == 0, child.stderr
        outputs[len(extra)] = dict(np.load(out))
    assert int(outputs[0]["output_0"]) == 720 and int(outputs[0]["output_1"]) == 8
    for key, value in outputs[1].items():
        np.testing.assert_allclose(outputs[0][key], value, rtol=1e-6)


def test_references_compile():
    """References are heap objects now (docs/native-objects.md; tests/test_native_objects.py
    has the rest, and the refusal of what still does not compile)."""
    text = HEADER + (
        "def @main(%x: Tensor[(2), float32]) -> Tensor[(2), float32] {\n"
        "  let %r = ref(%x);\n"
        "  ref_read(%r)\n"
        "}\n"
    )
    module = load_program(text, "relay").module
    x = np.array([1.5, -2.0], np.float32)
    np.testing.assert_array_equal(compile(module, opt=0)(x), x)


def test_the_interpreter_runs_tail_calls_in_constant_depth(monkeypatch):
    """As native code does: three times the depth limit in tail calls runs; that depth
    outside tail position is the depth error."""
    from relay_opt.diagnostics import RelayError

    monkeypatch.setenv("RELAY_OPT_MAX_DEPTH", "1000")
    module = load_program(TAIL_LOOPS, "relay").module
    x = np.array([1, 2], np.int32)
    n = np.array(3000, np.int32)
    got = _leaves(interpret(module, [n, x]))
    want = _leaves(compile(module, opt=0)(n, x))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(RelayError, match="@sum called more than 1000 levels deep"):
        interpret(load_program(NON_TAIL, "relay").module, [n])


def test_kernels_in_branches_are_profiled():
    module = load_program(IFS, "relay").module
    exe = compile(module, opt=0, profile=True)
    assert exe.profile is not None
    assert any(n.startswith("@pick: negative (generic)") for n in exe.profile.names)
    a = np.ones((2, 3), np.float32)
    exe(a, a, np.array(100, np.float32))  # the else branch: tanh and mean run
    # A row is "@function: operator ..." (tools' profile rows name function and operator).
    ran = {n.split(" ")[1] for n, c in zip(exe.profile.names, exe.profile.calls, strict=True) if c}
    assert {"tanh", "mean"} <= ran and "exp" not in ran
