"""Train an MLP with SGD, compiled to native code: forward, backward and update in one call.

    python examples/train_mlp.py [--epochs 8] [--batch 64] [--hidden 128] [--lr 0.1]

The dataset is synthetic, made here: random inputs labelled by a random "teacher" network
(argmax of a fixed two-layer MLP), split into training and held-out samples. The model's
loss (`@loss`, mean cross-entropy of a softmax over a two-layer ReLU MLP) is written in
Relay text; the `gradient` pass turns it into `@loss_grad` (the loss and its gradients with
respect to the weights); `@train_step` calls it and applies the SGD update; the whole step
is compiled once with `relay_opt.compile` and called per batch. The loss falls per epoch.
`numpy_step` is the same step written by hand in numpy: the example checks the compiled
step against it on the first batch (and benchmarks/training.py times both).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import cast

import numpy as np

LOSS = """#[version = "0.0.5"]
def @loss(%x: Tensor[({batch}, {features}), float32], %t: Tensor[({batch}, {classes}), float32],
          %w1: Tensor[({hidden}, {features}), float32], %b1: Tensor[({hidden}), float32],
          %w2: Tensor[({classes}, {hidden}), float32], %b2: Tensor[({classes}), float32]) {{
  let %h = nn.relu(nn.bias_add(nn.dense(%x, %w1), %b1));
  let %logp = nn.log_softmax(nn.bias_add(nn.dense(%h, %w2), %b2));
  mean(negative(sum(%logp * %t, axis=[1])))
}}
"""

WEIGHTS = ("w1", "b1", "w2", "b2")


def build_module(batch: int, features: int, hidden: int, classes: int, lr: float):  # noqa: ANN201
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

    text = LOSS.format(batch=batch, features=features, hidden=hidden, classes=classes)
    module = load_program(text, format="relay", filename="train_mlp.rly").module
    GradientPass(entry="loss", wrt=WEIGHTS).apply(Context(), module)
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


def make_dataset(n: int, features: int, classes: int, seed: int = 0):  # noqa: ANN201
    """Inputs and one-hot labels from a random teacher network."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    t1 = rng.standard_normal((features, 32)).astype(np.float32)
    t2 = rng.standard_normal((32, classes)).astype(np.float32)
    labels = np.argmax(np.tanh(x @ t1) @ t2, axis=1)
    return x, np.eye(classes, dtype=np.float32)[labels]


def init_weights(features: int, hidden: int, classes: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((hidden, features)) * np.sqrt(2 / features)).astype(np.float32),
        np.zeros(hidden, np.float32),
        (rng.standard_normal((classes, hidden)) * np.sqrt(1 / hidden)).astype(np.float32),
        np.zeros(classes, np.float32),
    ]


def numpy_step(
    x: np.ndarray, t: np.ndarray, weights: Sequence[np.ndarray], lr: float
) -> tuple[np.ndarray, ...]:
    """The same training step by hand: forward, backward, update; (loss, new weights...)."""
    w1, b1, w2, b2 = weights
    pre = x @ w1.T + b1
    h = np.maximum(pre, 0)
    z = h @ w2.T + b2
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = x.shape[0]
    loss = -(logp * t).sum() / n
    dz = (np.exp(logp) * t.sum(axis=1, keepdims=True) - t) / n
    dw2, db2 = dz.T @ h, dz.sum(axis=0)
    dh = (dz @ w2) * (pre > 0)
    dw1, db1 = dh.T @ x, dh.sum(axis=0)
    lr32 = np.float32(lr)
    return (
        np.asarray(loss, np.float32),
        w1 - lr32 * dw1,
        b1 - lr32 * db1,
        w2 - lr32 * dw2,
        b2 - lr32 * db2,
    )


def accuracy(x: np.ndarray, t: np.ndarray, weights: Sequence[np.ndarray]) -> float:
    w1, b1, w2, b2 = weights
    logits = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    return float(np.mean(np.argmax(logits, axis=1) == np.argmax(t, axis=1)))


def progress(done: int, total: int, text: str, width: int = 30) -> None:
    filled = width * done // total
    bar = "#" * filled + "." * (width - filled)
    sys.stdout.write(f"\r  [{bar}] {done}/{total} {text}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--samples", type=int, default=4096)
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--opt", type=int, default=3, help="optimization level of the compile")
    args = p.parse_args(argv)

    from relay_opt import compile as compile_module

    x, t = make_dataset(args.samples + 1024, args.features, args.classes)
    x_train, t_train, x_test, t_test = x[:-1024], t[:-1024], x[-1024:], t[-1024:]
    weights = init_weights(args.features, args.hidden, args.classes)

    start = time.perf_counter()
    module = build_module(args.batch, args.features, args.hidden, args.classes, args.lr)
    step = compile_module(module, entry="train_step", opt=args.opt)
    print(f"train_step compiled in {time.perf_counter() - start:.1f} s")

    def run_step(x: np.ndarray, t: np.ndarray, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
        return list(cast(Sequence[np.ndarray], step(x, t, *weights)))

    first = run_step(x_train[: args.batch], t_train[: args.batch], weights)
    expected = numpy_step(x_train[: args.batch], t_train[: args.batch], weights, args.lr)
    error = max(float(np.max(np.abs(a - b))) for a, b in zip(first, expected, strict=True))
    print(f"compiled step vs numpy step on one batch: max |difference| = {error:.2e}")
    if error > 1e-3:
        print("error: the compiled step differs from the numpy step", file=sys.stderr)
        return 1

    batches = len(x_train) // args.batch
    print(f"before training: held-out accuracy {accuracy(x_test, t_test, weights):.3f}")
    for epoch in range(1, args.epochs + 1):
        order = np.random.default_rng(epoch).permutation(len(x_train))
        total = 0.0
        for i in range(batches):
            idx = order[i * args.batch : (i + 1) * args.batch]
            loss, *weights = run_step(x_train[idx], t_train[idx], weights)
            total += float(loss)
            if i % 8 == 0 or i == batches - 1:
                progress(i + 1, batches, f"loss {total / (i + 1):.4f}")
        acc = accuracy(x_test, t_test, weights)
        sys.stdout.write(
            f"\r  epoch {epoch}/{args.epochs}: mean loss {total / batches:.4f}, "
            f"held-out accuracy {acc:.3f}" + " " * 20 + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
