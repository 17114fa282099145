"""An MNIST-style CNN in Relay text (as TVM printed such models), and the same net in numpy.

x: (1, 1, 28, 28) -> pad -> conv 5x5 (8) + bias -> relu -> max_pool 2
  -> conv 5x5 (16) + bias -> relu -> max_pool 2 -> flatten -> dense (10) + bias -> softmax
"""

from __future__ import annotations

import numpy as np


def mnist_text(batch: int = 1, seed: int = 0) -> tuple[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    weights = [
        rng.standard_normal((8, 1, 5, 5)) * 0.2,
        rng.standard_normal((8, 1, 1)) * 0.1,
        rng.standard_normal((16, 8, 5, 5)) * 0.07,
        rng.standard_normal((16, 1, 1)) * 0.1,
        rng.standard_normal((10, 16 * 7 * 7)) * 0.03,
        rng.standard_normal((10,)) * 0.1,
    ]
    weights = [w.astype(np.float32) for w in weights]
    text = f"""#[version = "0.0.5"]
def @main(%x: Tensor[({batch}, 1, 28, 28), float32]) -> Tensor[({batch}, 10), float32] {{
  %0 = nn.pad(%x, 0f, pad_width=[[0, 0], [0, 0], [2, 2], [2, 2]]);
  %1 = nn.conv2d(%0, meta[relay.Constant][0], padding=[0, 0, 0, 0], channels=8, kernel_size=[5, 5]);
  %2 = add(%1, meta[relay.Constant][1]);
  %3 = nn.relu(%2);
  %4 = nn.max_pool2d(%3, pool_size=[2, 2], strides=[2, 2], padding=[0, 0, 0, 0]);
  %5 = nn.conv2d(%4, meta[relay.Constant][2], padding=[2, 2, 2, 2], channels=16,
                 kernel_size=[5, 5]);
  %6 = add(%5, meta[relay.Constant][3]);
  %7 = nn.relu(%6);
  %8 = nn.max_pool2d(%7, pool_size=[2, 2], strides=[2, 2], padding=[0, 0, 0, 0]);
  %9 = reshape(%8, newshape=[{batch}, -1]);
  %10 = nn.dense(%9, meta[relay.Constant][4], units=10);
  %11 = nn.bias_add(%10, meta[relay.Constant][5]);
  nn.softmax(%11)
}}
"""
    return text, weights


def _conv_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    k = w.shape[2]
    oh, ow = x.shape[2] - k + 1, x.shape[3] - k + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", x[:, :, i : i + oh, j : j + ow], w[:, :, i, j])
    return out


def _pool2(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def mnist_numpy(x: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    w1, b1, w2, b2, wd, bd = (w.astype(np.float64) for w in weights)
    h = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (2, 2), (2, 2)))
    h = _pool2(np.maximum(_conv_valid(h, w1) + b1, 0))
    h = np.pad(h, ((0, 0), (0, 0), (2, 2), (2, 2)))
    h = _pool2(np.maximum(_conv_valid(h, w2) + b2, 0))
    logits = h.reshape(h.shape[0], -1) @ wd.T + bd
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
