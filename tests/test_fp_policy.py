"""The floating-point policy (lowering/apply_fp_policy.py) in compiled code: `fast` matches the
interpreter within fp32's reassociation error (1e-4 relative), `strict` adds in written order
(a sequential float32 sum: numpy's cumsum order) within 1e-6, and the option reaches every
way to compile: the Python API, relay-run and relay-translate."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import relay_opt
from relay_opt.diagnostics import RelayError
from relay_opt.runtime.interpreter import interpret

REDUCTIONS = """#[version = "0.0.5"]
def @main(%x: Tensor[(3, 4096), float32], %w: Tensor[(5, 4096), float32]) {
  (sum(%x, axis=[1]), mean(%x, axis=[1]), nn.dense(%x, %w), variance(%x, mean(%x, axis=[1], keepdims=True), axis=[1]),
   nn.softmax(%x), nn.relu(add(nn.dense(%x, %w), 1f)))
}
"""


@pytest.fixture(scope="module")
def program():  # noqa: ANN201
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 4096), dtype=np.float32)
    w = rng.standard_normal((5, 4096), dtype=np.float32)
    return relay_opt.load_program(REDUCTIONS, format="relay").module, x, w


def _serial_sum(terms: np.ndarray) -> np.ndarray:
    """Float32 terms added left to right in float32 (cumsum's order), along the last axis."""
    return np.cumsum(terms, axis=-1, dtype=np.float32)[..., -1]


def test_fast_matches_the_interpreter(program):  # noqa: ANN001
    module, x, w = program
    got = relay_opt.compile(module)(x, w)
    want = interpret(module, {"x": x, "w": w})
    for g, r in zip(got, want, strict=True):  # pyright: ignore[reportArgumentType]
        scale = np.abs(r).max()
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4 * scale)


def test_strict_adds_in_written_order(program):  # noqa: ANN001
    module, x, w = program
    total, mean, dense, *_ = relay_opt.compile(module, fp_policy="strict")(x, w)  # pyright: ignore
    np.testing.assert_allclose(total, _serial_sum(x), rtol=1e-6, atol=0)
    np.testing.assert_allclose(mean, _serial_sum(x) / np.float32(4096), rtol=1e-6, atol=0)
    # Each product rounded to float32 (no FMA), then added in order.
    products = x[:, None, :] * w[None, :, :]
    np.testing.assert_allclose(dense, _serial_sum(products), rtol=1e-6, atol=0)


def test_fast_reassociates(program):  # noqa: ANN001
    """The flags reach LLVM: the vectorized sum adds in another order than the serial one."""
    module, x, w = program
    fast = relay_opt.compile(module)(x, w)[0]  # pyright: ignore[reportIndexIssue]
    strict = relay_opt.compile(module, fp_policy="strict")(x, w)[0]  # pyright: ignore[reportIndexIssue]
    assert not np.array_equal(fast, strict)
    np.testing.assert_allclose(fast, strict, rtol=1e-4, atol=1e-4 * np.abs(strict).max())


def test_unknown_policy_is_an_error(program):  # noqa: ANN001
    with pytest.raises(RelayError, match="unknown floating-point policy 'loose'"):
        relay_opt.compile(program[0], fp_policy="loose")


def test_relay_run_takes_the_policy(tmp_path):  # noqa: ANN001
    path = tmp_path / "p.rly"
    path.write_text('#[version = "0.0.5"]\ndef @main(%x: Tensor[(1000), float32]) { sum(%x) }\n')
    x = np.random.default_rng(3).standard_normal(1000, dtype=np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    for policy in ("strict", "fast"):
        out = tmp_path / f"{policy}.npz"
        r = subprocess.run(
            ["relay-run", str(path), "-i", str(tmp_path / "in.npz"), "-o", str(out)]
            + ["--fp-policy", policy],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        np.testing.assert_allclose(np.load(out)["output_0"], _serial_sum(x), rtol=1e-4)
    assert np.load(tmp_path / "strict.npz")["output_0"] == _serial_sum(x)
    r = subprocess.run(
        ["relay-run", str(path), "--fill-mode", "zeros", "--fp-policy", "loose"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode != 0 and "invalid choice: 'loose'" in r.stderr
    assert "Traceback" not in r.stderr
