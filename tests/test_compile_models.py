"""Whole models compiled to native code versus the interpreter: an MLP, an MNIST CNN,
a ResNet (batch_norm, residual adds, pooling), and a GPT-2 block."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp

from relay_opt import load_program
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import Executable, compile

sys.path.insert(0, str(Path(__file__).parent.parent / "examples" / "models"))


def compare(
    text: str, weights: list[np.ndarray], x: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6
) -> None:
    module = load_program(
        text, "relay", filename="model.rly", meta={"relay.Constant": weights}
    ).module
    got = compile(module)(x)
    want = interpret(module, [x])
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def test_mlp():
    rng = np.random.default_rng(0)
    w = [
        rng.standard_normal((512, 784)).astype(np.float32) * 0.05,
        rng.standard_normal(512).astype(np.float32),
        rng.standard_normal((10, 512)).astype(np.float32) * 0.05,
        rng.standard_normal(10).astype(np.float32),
    ]
    text = """#[version = "0.0.5"]
def @main(%x: Tensor[(4, 784), float32]) {
  %0 = nn.dense(%x, meta[relay.Constant][0], units=512);
  %1 = nn.relu(nn.bias_add(%0, meta[relay.Constant][1]));
  %2 = nn.bias_add(nn.dense(%1, meta[relay.Constant][2], units=10), meta[relay.Constant][3]);
  nn.log_softmax(%2)
}"""
    compare(text, w, rng.standard_normal((4, 784)).astype(np.float32), rtol=1e-4, atol=1e-5)


@functools.cache
def mnist() -> tuple[ModuleOp, Executable]:
    """The MNIST CNN and its executable, compiled once for the tests that call it."""
    from mnist import mnist_text

    text, w = mnist_text()
    module = load_program(text, "relay", filename="mnist.rly", meta={"relay.Constant": w}).module
    return module, compile(module)


@pytest.mark.xdist_group("mnist")  # one process compiles it for both tests
def test_mnist_cnn():
    module, exe = mnist()
    x = np.random.default_rng(1).standard_normal((1, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(exe(x), interpret(module, [x]), rtol=1e-5, atol=1e-6)


def test_resnet18_small():
    from resnet import resnet_text

    text, w, _ = resnet_text(18, image=32, classes=10)
    compare(
        text,
        w,
        np.random.default_rng(2).standard_normal((1, 3, 32, 32)).astype(np.float32),
        rtol=1e-4,
        atol=1e-7,
    )


def test_gpt2_block():
    from gpt2 import gpt2_text

    text, w = gpt2_text()
    compare(
        text,
        w,
        np.random.default_rng(3).standard_normal((1, 8, 64)).astype(np.float32),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.xdist_group("mnist")
def test_wrong_inputs_are_python_exceptions():
    _, exe = mnist()
    with pytest.raises(
        ValueError, match="input 'x' must be 1x1x28x28 float32, got 1x1x28x27 float32"
    ):
        exe(np.zeros((1, 1, 28, 27), np.float32))
    with pytest.raises(ValueError, match="got 1x1x28x28 float64"):
        exe(np.zeros((1, 1, 28, 28)))
    with pytest.raises(TypeError, match="expected 1 input"):
        exe()
