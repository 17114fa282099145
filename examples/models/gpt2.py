"""A GPT-2-style transformer block in Relay text, and the same block in numpy.

Pre-norm attention with a causal mask and a GELU MLP, written with the
operators TVM's GPT-2 used (layer_norm, dense, reshape, transpose, split,
batch_matmul, softmax, where, tanh, power):

    h = x + attn(layer_norm(x));  y = h + mlp(layer_norm(h))
"""

from __future__ import annotations

import numpy as np


def gpt2_text(
    seq: int = 8, dim: int = 64, heads: int = 4, seed: int = 0
) -> tuple[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    dh = dim // heads
    weights = [
        1.0 + 0.1 * rng.standard_normal(dim),
        0.1 * rng.standard_normal(dim),  # ln1
        rng.standard_normal((3 * dim, dim)) / np.sqrt(dim),
        0.02 * rng.standard_normal(3 * dim),
        rng.standard_normal((dim, dim)) / np.sqrt(dim),
        0.02 * rng.standard_normal(dim),
        1.0 + 0.1 * rng.standard_normal(dim),
        0.1 * rng.standard_normal(dim),  # ln2
        rng.standard_normal((4 * dim, dim)) / np.sqrt(dim),
        0.02 * rng.standard_normal(4 * dim),
        rng.standard_normal((dim, 4 * dim)) / np.sqrt(4 * dim),
        0.02 * rng.standard_normal(dim),
        np.tril(np.ones((seq, seq), dtype=bool)),  # causal mask
    ]
    weights = [w if w.dtype == bool else w.astype(np.float32) for w in weights]
    c = [f"meta[relay.Constant][{i}]" for i in range(len(weights))]
    scale = float(1.0 / np.sqrt(dh))
    text = f"""#[version = "0.0.5"]
def @main(%x: Tensor[(1, {seq}, {dim}), float32]) -> Tensor[(1, {seq}, {dim}), float32] {{
  %0 = nn.layer_norm(%x, {c[0]}, {c[1]}, axis=-1, epsilon=1e-05f);
  %1 = reshape(%0, newshape=[-1, {dim}]);
  %2 = nn.dense(%1, {c[2]}, units={3 * dim});
  %3 = add(%2, {c[3]});
  %4 = reshape(%3, newshape=[1, {seq}, {3 * dim}]);
  %5 = split(%4, indices_or_sections=3, axis=2);
  %6 = reshape(%5.0, newshape=[1, {seq}, {heads}, {dh}]);
  %7 = transpose(%6, axes=[0, 2, 1, 3]);
  %8 = reshape(%7, newshape=[{heads}, {seq}, {dh}]);
  %9 = reshape(%5.1, newshape=[1, {seq}, {heads}, {dh}]);
  %10 = transpose(%9, axes=[0, 2, 1, 3]);
  %11 = reshape(%10, newshape=[{heads}, {seq}, {dh}]);
  %12 = reshape(%5.2, newshape=[1, {seq}, {heads}, {dh}]);
  %13 = transpose(%12, axes=[0, 2, 1, 3]);
  %14 = reshape(%13, newshape=[{heads}, {seq}, {dh}]);
  %15 = nn.batch_matmul(%8, %11, transpose_b=True);
  %16 = multiply(%15, {scale!r}f);
  %17 = where({c[12]}, %16, -10000f);
  %18 = nn.softmax(%17, axis=-1);
  %19 = nn.batch_matmul(%18, %14, transpose_b=False);
  %20 = reshape(%19, newshape=[1, {heads}, {seq}, {dh}]);
  %21 = transpose(%20, axes=[0, 2, 1, 3]);
  %22 = reshape(%21, newshape=[{seq}, {dim}]);
  %23 = nn.dense(%22, {c[4]}, units={dim});
  %24 = add(%23, {c[5]});
  %25 = reshape(%24, newshape=[1, {seq}, {dim}]);
  %26 = add(%x, %25);
  %27 = nn.layer_norm(%26, {c[6]}, {c[7]}, axis=-1, epsilon=1e-05f);
  %28 = reshape(%27, newshape=[-1, {dim}]);
  %29 = nn.dense(%28, {c[8]}, units={4 * dim});
  %30 = add(%29, {c[9]});
  %31 = power(%30, 3f);
  %32 = multiply(%31, 0.044715f);
  %33 = add(%30, %32);
  %34 = multiply(%33, 0.7978845608028654f);
  %35 = tanh(%34);
  %36 = add(%35, 1f);
  %37 = multiply(%30, %36);
  %38 = multiply(%37, 0.5f);
  %39 = nn.dense(%38, {c[10]}, units={dim});
  %40 = add(%39, {c[11]});
  %41 = reshape(%40, newshape=[1, {seq}, {dim}]);
  add(%26, %41)
}}
"""
    return text, weights


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * g + b


def gpt2_numpy(x: np.ndarray, weights: list[np.ndarray], heads: int = 4) -> np.ndarray:
    g1, b1, wqkv, bqkv, wo, bo, g2, b2, w1, bb1, w2, bb2, mask = (
        w if w.dtype == bool else w.astype(np.float64) for w in weights
    )
    x = x.astype(np.float64)[0]
    seq, dim = x.shape
    dh = dim // heads
    qkv = _layer_norm(x, g1, b1) @ wqkv.T + bqkv
    q, k, v = (
        qkv[:, i * dim : (i + 1) * dim].reshape(seq, heads, dh).transpose(1, 0, 2) for i in range(3)
    )
    scores = np.where(mask, q @ k.transpose(0, 2, 1) / np.sqrt(dh), -10000.0)
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    attn = (p @ v).transpose(1, 0, 2).reshape(seq, dim) @ wo.T + bo
    h = x + attn
    m = _layer_norm(h, g2, b2) @ w1.T + bb1
    m = 0.5 * m * (1 + np.tanh(np.sqrt(2 / np.pi) * (m + 0.044715 * m**3)))
    return (h + m @ w2.T + bb2)[None].astype(np.float32)
