"""One SGD step of examples/train.py's MLP and CNN: compiled by relay-opt (forward, the
gradient pass's backward and the update in one native call) next to the same step in numpy
and, when it is installed, in PyTorch eager.

    python benchmarks/training.py [--models mlp,cnn] [--batch 64] [--repeat 200]

One thread for every system (set before numpy loads its BLAS). Times are the median of
`--repeat` calls after a warm-up, in thread CPU time (time.thread_time), so other processes on
a shared machine disturb them less; still, on a loaded machine they are indicative only. The
three steps' results are compared first, so a wrong step cannot look fast.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RELAY_OPT_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))


def _time(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return statistics.median(times)


def _torch_step(kind: str, lr: float):  # noqa: ANN202
    try:
        import torch  # pyright: ignore[reportMissingImports]
    except ImportError:
        return None
    torch.set_num_threads(1)
    functional = torch.nn.functional

    def step(x, t, *weights):  # noqa: ANN001, ANN002, ANN202
        params = [torch.from_numpy(w).requires_grad_() for w in weights]
        tx = torch.from_numpy(x)
        if kind == "mlp":
            w1, b1, w2, b2 = params
            logits = torch.relu(tx @ w1.T + b1) @ w2.T + b2
        else:
            k, c, w, b = params
            h = torch.relu(functional.conv2d(tx, k, c, padding=1))
            logits = functional.max_pool2d(h, 2).flatten(1) @ w.T + b
        logp = torch.log_softmax(logits, dim=1)
        loss = -(logp * torch.from_numpy(t)).sum(dim=1).mean()
        loss.backward()
        with torch.no_grad():
            new = [p - lr * p.grad for p in params]  # pyright: ignore[reportOperatorIssue, reportOptionalOperand]
        return (loss.detach().numpy(), *(w.numpy() for w in new))

    return step


def main(argv: list[str] | None = None) -> int:
    from train import MODELS, build_module  # pyright: ignore[reportMissingImports]

    from relay_opt import compile as compile_module

    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp, cnn")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--opt", type=int, default=3)
    args = p.parse_args(argv)
    lr = 0.1
    kinds = args.models.split(",")
    if unknown := [k for k in kinds if k not in MODELS]:
        p.error(f"unknown model {unknown[0]!r}: choose from {', '.join(MODELS)}")

    print(f"one SGD step, batch {args.batch}, median of {args.repeat}, thread CPU time, 1 thread")
    print(f"{'model':<10} {'system':<22} {'ms/step':>10} {'vs numpy':>9}")
    for kind in kinds:
        model = MODELS[kind]()
        x, t = model.make_dataset(args.batch, 0)
        weights = model.init_weights(1)
        compiled = compile_module(build_module(model, args.batch, lr), "train_step", opt=args.opt)
        steps: dict[str, Callable[..., object]] = {
            "relay-opt (compiled)": compiled,
            "numpy": lambda x, t, *w, m=model: m.numpy_step(x, t, w, lr),
        }
        if (torch_step := _torch_step(kind, lr)) is not None:
            steps["PyTorch eager"] = torch_step

        reference = model.numpy_step(x, t, weights, lr)
        for name, step in steps.items():
            got = step(x, t, *weights)
            for a, b in zip(got, reference, strict=True):  # pyright: ignore[reportArgumentType]
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)

        results = {
            name: _time(lambda s=step, a=(x, t, *weights): s(*a), args.repeat)
            for name, step in steps.items()
        }
        for name, seconds in results.items():
            print(
                f"{kind:<10} {name:<22} {seconds * 1e3:>10.3f} {results['numpy'] / seconds:>8.2f}x"
            )
        print(f"{'':<10} ({model.name})")
    if _torch_step("mlp", lr) is None:
        print("(PyTorch is not installed: its rows are left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
