"""Train an MLP or a small CNN with SGD, compiled to native code: forward, backward and update
in one call.

    python examples/train.py [--model mlp|cnn] [--epochs 8] [--batch 64] [--lr 0.1]

The dataset is synthetic, made here: random inputs labelled by a random "teacher" network,
split into training and held-out samples. Each model's loss (`@loss`, mean cross-entropy of
a log-softmax) is written in Relay text; the `gradient` pass turns it into `@loss_grad` (the
loss and its gradients with respect to the weights); `@train_step` calls it and applies the
SGD update; the whole step is compiled once with `relay_opt.compile` and called per batch.
The loss falls per epoch. Each model's `numpy_step` is the same step written by hand in
numpy: the example checks the compiled step against it on the first batch (and
benchmarks/training.py times both).

- mlp: 32 features -> dense 128 -> relu -> dense 10.
- cnn: 1x12x12 images -> conv2d 3x3 (8 channels, padding 1) -> relu -> max_pool2d 2x2 ->
  dense 10.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

MLP_LOSS = """#[version = "0.0.5"]
def @loss(%x: Tensor[({batch}, {features}), float32], %t: Tensor[({batch}, {classes}), float32],
          %w1: Tensor[({hidden}, {features}), float32], %b1: Tensor[({hidden}), float32],
          %w2: Tensor[({classes}, {hidden}), float32], %b2: Tensor[({classes}), float32]) {{
  let %h = nn.relu(nn.bias_add(nn.dense(%x, %w1), %b1));
  let %logp = nn.log_softmax(nn.bias_add(nn.dense(%h, %w2), %b2));
  mean(negative(sum(%logp * %t, axis=[1])))
}}
"""

CNN_LOSS = """#[version = "0.0.5"]
def @loss(%x: Tensor[({batch}, 1, {side}, {side}), float32],
          %t: Tensor[({batch}, {classes}), float32],
          %k: Tensor[({channels}, 1, 3, 3), float32], %c: Tensor[({channels}), float32],
          %w: Tensor[({classes}, {flat}), float32], %b: Tensor[({classes}), float32]) {{
  let %h = nn.relu(nn.bias_add(nn.conv2d(%x, %k, padding=[1, 1]), %c));
  let %p = nn.batch_flatten(nn.max_pool2d(%h, pool_size=[2, 2], strides=[2, 2]));
  let %logp = nn.log_softmax(nn.bias_add(nn.dense(%p, %w), %b));
  mean(negative(sum(%logp * %t, axis=[1])))
}}
"""


def log_softmax_loss(z: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean cross-entropy of log_softmax(z) against one-hot t, and its adjoint in z."""
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = z.shape[0]
    loss = -(logp * t).sum() / n
    dz = (np.exp(logp) * t.sum(axis=1, keepdims=True) - t) / n
    return np.asarray(loss, np.float32), dz


def sgd(weights: Sequence[np.ndarray], grads: Sequence[np.ndarray], lr: float) -> list[np.ndarray]:
    lr32 = np.float32(lr)
    return [w - lr32 * g for w, g in zip(weights, grads, strict=True)]


# -- the MLP ----------------------------------------------------------------------------------


def mlp_forward(x: np.ndarray, weights: Sequence[np.ndarray]) -> np.ndarray:
    w1, b1, w2, b2 = weights
    return np.maximum(x @ w1.T + b1, 0) @ w2.T + b2


def mlp_step(
    x: np.ndarray, t: np.ndarray, weights: Sequence[np.ndarray], lr: float
) -> tuple[np.ndarray, ...]:
    """The MLP's training step by hand: forward, backward, update; (loss, new weights...)."""
    w1, b1, w2, b2 = weights
    pre = x @ w1.T + b1
    h = np.maximum(pre, 0)
    loss, dz = log_softmax_loss(h @ w2.T + b2, t)
    dw2, db2 = dz.T @ h, dz.sum(axis=0)
    dh = (dz @ w2) * (pre > 0)
    dw1, db1 = dh.T @ x, dh.sum(axis=0)
    return (loss, *sgd(weights, [dw1, db1, dw2, db2], lr))


# -- the CNN ----------------------------------------------------------------------------------


def patches(x: np.ndarray) -> np.ndarray:
    """The 3x3 neighbourhoods of each pixel of x (N, C, H, W) padded by 1: (N, H, W, C*9),
    ordered (channel, row, column) like a (O, C, 3, 3) kernel's flattening."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = [padded[:, :, i : i + h, j : j + w] for i in range(3) for j in range(3)]
    return np.stack(cols, axis=-1).transpose(0, 2, 3, 1, 4).reshape(n, h, w, c * 9)


def cnn_forward(x: np.ndarray, weights: Sequence[np.ndarray]) -> np.ndarray:
    k, c, w, b = weights
    pre = np.einsum("nhwk,ok->nohw", patches(x), k.reshape(len(k), -1)) + c[:, None, None]
    h = np.maximum(pre, 0)
    n, o, s, _ = h.shape
    pooled = h.reshape(n, o, s // 2, 2, s // 2, 2).max(axis=(3, 5))
    return pooled.reshape(n, -1) @ w.T + b


def cnn_step(
    x: np.ndarray, t: np.ndarray, weights: Sequence[np.ndarray], lr: float
) -> tuple[np.ndarray, ...]:
    """The CNN's training step by hand: forward, backward, update; (loss, new weights...)."""
    k, c, w, b = weights
    cols = patches(x)
    pre = np.einsum("nhwk,ok->nohw", cols, k.reshape(len(k), -1)) + c[:, None, None]
    h = np.maximum(pre, 0)
    n, o, s, _ = h.shape
    windows = h.reshape(n, o, s // 2, 2, s // 2, 2)
    pooled = windows.max(axis=(3, 5))
    flat = pooled.reshape(n, -1)
    loss, dz = log_softmax_loss(flat @ w.T + b, t)
    dw, db = dz.T @ flat, dz.sum(axis=0)
    dpooled = (dz @ w).reshape(pooled.shape)
    # max_pool2d's adjoint goes to every element equal to its window's maximum
    hit = windows == pooled[:, :, :, None, :, None]
    dh = (hit * dpooled[:, :, :, None, :, None]).reshape(h.shape)
    dpre = dh * (pre > 0)
    dk = np.einsum("nohw,nhwk->ok", dpre, cols).reshape(k.shape)
    dc = dpre.sum(axis=(0, 2, 3))
    return (loss, *sgd(weights, [dk, dc, dw, db], lr))


# -- the models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """One trainable model: its loss in Relay text, weights, synthetic data and numpy twin."""

    name: str
    loss: Callable[[int], str]
    """The loss in Relay text for a batch size."""
    weights: tuple[str, ...]
    make_dataset: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    init_weights: Callable[[int], list[np.ndarray]]
    forward: Callable[[np.ndarray, Sequence[np.ndarray]], np.ndarray]
    numpy_step: Callable[..., tuple[np.ndarray, ...]]


def mlp(features: int = 32, hidden: int = 128, classes: int = 10) -> Model:
    def dataset(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, features)).astype(np.float32)
        t1 = rng.standard_normal((features, 32)).astype(np.float32)
        t2 = rng.standard_normal((32, classes)).astype(np.float32)
        labels = np.argmax(np.tanh(x @ t1) @ t2, axis=1)
        return x, np.eye(classes, dtype=np.float32)[labels]

    def init(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [
            (rng.standard_normal((hidden, features)) * np.sqrt(2 / features)).astype(np.float32),
            np.zeros(hidden, np.float32),
            (rng.standard_normal((classes, hidden)) * np.sqrt(1 / hidden)).astype(np.float32),
            np.zeros(classes, np.float32),
        ]

    return Model(
        f"{features}-{hidden}-{classes} MLP",
        lambda batch: MLP_LOSS.format(
            batch=batch, features=features, hidden=hidden, classes=classes
        ),
        ("w1", "b1", "w2", "b2"),
        dataset,
        init,
        mlp_forward,
        mlp_step,
    )


def cnn(side: int = 12, channels: int = 8, classes: int = 10) -> Model:
    flat = channels * (side // 2) ** 2

    def dataset(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        # The teacher: a fixed random conv + relu + global pooling + linear map.
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, 1, side, side)).astype(np.float32)
        k = rng.standard_normal((6, 9)).astype(np.float32)
        features = np.maximum(np.einsum("nhwk,ok->nohw", patches(x), k), 0).mean(axis=(2, 3))
        features = (features - features.mean(axis=0)) / features.std(axis=0)
        labels = np.argmax(features @ rng.standard_normal((6, classes)), axis=1)
        return x, np.eye(classes, dtype=np.float32)[labels]

    def init(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [
            (rng.standard_normal((channels, 1, 3, 3)) * np.sqrt(2 / 9)).astype(np.float32),
            np.zeros(channels, np.float32),
            (rng.standard_normal((classes, flat)) * np.sqrt(1 / flat)).astype(np.float32),
            np.zeros(classes, np.float32),
        ]

    return Model(
        f"{side}x{side} CNN (conv 3x3 x{channels}, max-pool, dense {classes})",
        lambda batch: CNN_LOSS.format(
            batch=batch, side=side, channels=channels, flat=flat, classes=classes
        ),
        ("k", "c", "w", "b"),
        dataset,
        init,
        cnn_forward,
        cnn_step,
    )


MODELS: dict[str, Callable[[], Model]] = {"mlp": mlp, "cnn": cnn}


def build_module(model: Model, batch: int, lr: float):  # noqa: ANN201
    """@loss, its @loss_grad (the gradient pass) and @train_step(x, t, weights...) ->
    (loss, updated weights...)."""
    from xdsl.context import Context
    from xdsl.ir import Block, Region

    from relay_opt import load_program
    from relay_opt.dialects.relay import core
    from relay_opt.dialects.relay.builder import RelayBuilder
    from relay_opt.dialects.relay.ir_helpers import functions_by_name
    from relay_opt.dialects.relay.ops.elementwise import Multiply, Subtract
    from relay_opt.passes.gradient import GradientPass

    module = load_program(model.loss(batch), format="relay", filename="train.rly").module
    GradientPass(entry="loss", wrt=model.weights).apply(Context(), module)
    grad = functions_by_name(module)["loss_grad"]

    block = Block(arg_types=[a.type for a in grad.args])
    for old, new in zip(grad.args, block.args, strict=True):
        new.name_hint = old.name_hint
    b = RelayBuilder.at_end(block)
    both = b.add(core.CallOp("loss_grad", block.args, grad.ret_type)).results[0]
    grads = b.tuple_get(both, 1)
    updated = [
        b.call(Subtract, w, b.call(Multiply, b.tuple_get(grads, i), b.scalar(lr, w)))
        for i, w in enumerate(block.args[2:])
    ]
    out = b.tuple([b.tuple_get(both, 0), *updated])
    block.add_op(core.ReturnOp(out))
    step = core.FuncOp("train_step", [a.type for a in grad.args], out.type, region=Region(block))
    module.body.block.add_op(step)
    module.verify()
    return module


def accuracy(model: Model, x: np.ndarray, t: np.ndarray, weights: Sequence[np.ndarray]) -> float:
    logits = model.forward(x, weights)
    return float(np.mean(np.argmax(logits, axis=1) == np.argmax(t, axis=1)))


def progress(done: int, total: int, text: str, width: int = 30) -> None:
    filled = width * done // total
    bar = "#" * filled + "." * (width - filled)
    sys.stdout.write(f"\r  [{bar}] {done}/{total} {text}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--model", choices=sorted(MODELS), default="mlp")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--samples", type=int, default=4096)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--opt", type=int, default=3, help="optimization level of the compile")
    args = p.parse_args(argv)

    from relay_opt import compile as compile_module

    model = MODELS[args.model]()
    x, t = model.make_dataset(args.samples + 1024, 0)
    x_train, t_train, x_test, t_test = x[:-1024], t[:-1024], x[-1024:], t[-1024:]
    weights = model.init_weights(1)

    start = time.perf_counter()
    module = build_module(model, args.batch, args.lr)
    step = compile_module(module, entry="train_step", opt=args.opt)
    print(f"{model.name}: train_step compiled in {time.perf_counter() - start:.1f} s")

    def run_step(x: np.ndarray, t: np.ndarray, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
        return list(cast(Sequence[np.ndarray], step(x, t, *weights)))

    first = run_step(x_train[: args.batch], t_train[: args.batch], weights)
    expected = model.numpy_step(x_train[: args.batch], t_train[: args.batch], weights, args.lr)
    error = max(float(np.max(np.abs(a - b))) for a, b in zip(first, expected, strict=True))
    print(f"compiled step vs numpy step on one batch: max |difference| = {error:.2e}")
    if error > 1e-3:
        print("error: the compiled step differs from the numpy step", file=sys.stderr)
        return 1

    batches = len(x_train) // args.batch
    print(f"before training: held-out accuracy {accuracy(model, x_test, t_test, weights):.3f}")
    for epoch in range(1, args.epochs + 1):
        order = np.random.default_rng(epoch).permutation(len(x_train))
        total = 0.0
        for i in range(batches):
            idx = order[i * args.batch : (i + 1) * args.batch]
            loss, *weights = run_step(x_train[idx], t_train[idx], weights)
            total += float(loss)
            if i % 8 == 0 or i == batches - 1:
                progress(i + 1, batches, f"loss {total / (i + 1):.4f}")
        acc = accuracy(model, x_test, t_test, weights)
        sys.stdout.write(
            f"\r  epoch {epoch}/{args.epochs}: mean loss {total / batches:.4f}, "
            f"held-out accuracy {acc:.3f}" + " " * 20 + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
