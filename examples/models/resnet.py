"""ResNet (v1, bottleneck blocks for 50/101/152 layers, basic blocks for 18/34) in Relay text.

Writes the model the way TVM's printer would: graph bindings, one
`meta[relay.Constant][i]` per weight, the weights saved separately in an .npz
(arrays named `relay.Constant.0`, `relay.Constant.1`, ...). Also an independent
numpy implementation of the same network, to check compiled and interpreted
results against.

    python examples/models/resnet.py --layers 50 -o resnet50.rly --meta resnet50.npz
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np

STAGES = {
    18: [2, 2, 2, 2],
    34: [3, 4, 6, 3],
    50: [3, 4, 6, 3],
    101: [3, 4, 23, 3],
    152: [3, 8, 36, 3],
}


@dataclass
class _Builder:
    rng: np.random.Generator
    lines: list[str] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    ops: list[tuple] = field(default_factory=list)  # the same network, for the numpy reference
    counter: int = 0

    def const(self, array: np.ndarray) -> str:
        self.weights.append(array.astype(np.float32))
        return f"meta[relay.Constant][{len(self.weights) - 1}]"

    def bind(self, expr: str) -> str:
        name = f"%{self.counter}"
        self.counter += 1
        self.lines.append(f"  {name} = {expr};")
        return name

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int) -> str:
        # He initialisation keeps activations in range through 50+ layers.
        w = self.rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))
        pad = k // 2
        self.ops.append(("conv", len(self.weights), stride, pad))
        return self.bind(
            f"nn.conv2d({x}, {self.const(w)}, strides=[{stride}, {stride}], "
            f"padding=[{pad}, {pad}, {pad}, {pad}], channels={cout}, kernel_size=[{k}, {k}])"
        )

    def bn(self, x: str, c: int, gamma_scale: float = 1.0) -> str:
        gamma = gamma_scale * (1.0 + 0.1 * self.rng.standard_normal(c))
        beta = 0.1 * self.rng.standard_normal(c)
        mean = 0.1 * self.rng.standard_normal(c)
        var = 1.0 + 0.1 * np.abs(self.rng.standard_normal(c))
        self.ops.append(("bn", len(self.weights)))
        args = ", ".join(self.const(a) for a in (gamma, beta, mean, var))
        t = self.bind(f"nn.batch_norm({x}, {args}, epsilon=1e-05f)")
        return self.bind(f"{t}.0")

    def relu(self, x: str) -> str:
        self.ops.append(("relu",))
        return self.bind(f"nn.relu({x})")

    def conv_bn(self, x: str, cin: int, cout: int, k: int, stride: int, relu: bool = True) -> str:
        # A residual branch's last batch_norm starts small, so activations stay in range
        # through the blocks (as with "zero-init residual" training).
        y = self.bn(self.conv(x, cin, cout, k, stride), cout, 1.0 if relu else 0.2)
        return self.relu(y) if relu else y


def resnet_text(
    layers: int = 50, batch: int = 1, image: int = 224, classes: int = 1000, seed: int = 0
) -> tuple[str, list[np.ndarray], list[tuple]]:
    """Relay text of the network, its weights (meta constants) and its op list."""
    b = _Builder(np.random.default_rng(seed))
    bottleneck = layers >= 50
    x = b.conv_bn("%data", 3, 64, 7, 2)
    b.ops.append(("maxpool",))
    x = b.bind(f"nn.max_pool2d({x}, pool_size=[3, 3], strides=[2, 2], padding=[1, 1, 1, 1])")
    cin = 64
    for stage, units in enumerate(STAGES[layers]):
        width = 64 * 2**stage
        cout = width * 4 if bottleneck else width
        for unit in range(units):
            stride = 2 if unit == 0 and stage > 0 else 1
            outer, main_ops, shortcut_ops = b.ops, [], []
            b.ops = main_ops
            shortcut = x
            if bottleneck:
                y = b.conv_bn(x, cin, width, 1, 1)
                y = b.conv_bn(y, width, width, 3, stride)
                y = b.conv_bn(y, width, cout, 1, 1, relu=False)
            else:
                y = b.conv_bn(x, cin, width, 3, stride)
                y = b.conv_bn(y, width, width, 3, 1, relu=False)
            if stride != 1 or cin != cout:
                b.ops = shortcut_ops
                shortcut = b.conv_bn(x, cin, cout, 1, stride, relu=False)
            b.ops = outer
            b.ops.append(("residual", main_ops, shortcut_ops))
            x = b.relu(b.bind(f"add({y}, {shortcut})"))
            cin = cout
    b.ops.append(("head", len(b.weights)))
    x = b.bind(f"nn.global_avg_pool2d({x})")
    x = b.bind(f"nn.batch_flatten({x})")
    w = b.rng.standard_normal((classes, cin)) * np.sqrt(1.0 / cin)
    x = b.bind(f"nn.dense({x}, {b.const(w)}, units={classes})")
    x = b.bind(f"nn.bias_add({x}, {b.const(0.01 * b.rng.standard_normal(classes))})")
    body = "\n".join(b.lines) + f"\n  nn.softmax({x})\n"
    text = (
        '#[version = "0.0.5"]\n'
        f"// ResNet-{layers} v1 ({'bottleneck' if bottleneck else 'basic'} blocks), "
        f"weights in meta[relay.Constant].\n"
        f"def @main(%data: Tensor[({batch}, 3, {image}, {image}), float32]) "
        f"-> Tensor[({batch}, {classes}), float32] {{\n{body}}}\n"
    )
    return text, b.weights, b.ops


# -- an independent numpy implementation ----------------------------------------------------


def _conv(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    cols = np.empty((n, c, k, k, oh, ow), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = xp[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride]
    return np.einsum("nckluv,ockl->nouv", cols, w, optimize=True)


def _maxpool(x: np.ndarray) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    oh, ow = (x.shape[2] - 1) // 2 + 1, (x.shape[3] - 1) // 2 + 1
    out = np.full(x.shape[:2] + (oh, ow), -np.inf, dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            out = np.maximum(out, xp[:, :, i : i + 2 * oh : 2, j : j + 2 * ow : 2])
    return out


def resnet_numpy(data: np.ndarray, weights: list[np.ndarray], ops: list[tuple]) -> np.ndarray:
    """Run the op list of `resnet_text` with plain numpy (float64 inside, float32 out)."""

    def run(x: np.ndarray, layer_ops: list[tuple]) -> np.ndarray:
        for op in layer_ops:
            kind = op[0]
            if kind == "conv":
                _, wi, stride, pad = op
                x = _conv(x, weights[wi].astype(np.float64), stride, pad)
            elif kind == "bn":
                gamma, beta, mean, var = (
                    weights[op[1] + k].astype(np.float64)[None, :, None, None] for k in range(4)
                )
                x = gamma * (x - mean) / np.sqrt(var + 1e-5) + beta
            elif kind == "relu":
                x = np.maximum(x, 0)
            elif kind == "maxpool":
                x = _maxpool(x)
            elif kind == "residual":
                _, main_ops, shortcut_ops = op
                x = run(x, main_ops) + run(x, shortcut_ops)
            elif kind == "head":
                wi = op[1]
                x = x.mean(axis=(2, 3))
                x = x @ weights[wi].astype(np.float64).T + weights[wi + 1].astype(np.float64)
                x = np.exp(x - x.max(axis=1, keepdims=True))
                x = x / x.sum(axis=1, keepdims=True)
        return x

    return run(data.astype(np.float64), ops).astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--layers", type=int, default=50, choices=sorted(STAGES))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--image", type=int, default=224)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("-o", "--output", required=True, help="the .rly file to write")
    p.add_argument("--meta", required=True, help="the .npz of weights to write")
    a = p.parse_args()
    text, weights, _ = resnet_text(a.layers, a.batch, a.image, a.classes)
    with open(a.output, "w") as f:
        f.write(text)
    # numpy's stub types **kwds so that a key could be allow_pickle; these keys never are.
    np.savez(a.meta, **{f"relay.Constant.{i}": w for i, w in enumerate(weights)})  # pyright: ignore[reportArgumentType]


if __name__ == "__main__":
    main()
