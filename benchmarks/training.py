"""One SGD step of examples/train_mlp.py's MLP: compiled by relay-opt (forward, the gradient
pass's backward and the update in one native call) next to the same step in numpy and, when
it is installed, in PyTorch eager.

    python benchmarks/training.py [--batch 64] [--hidden 128] [--repeat 200]

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


def _torch_step(lr: float):  # noqa: ANN202
    try:
        import torch  # pyright: ignore[reportMissingImports]
    except ImportError:
        return None
    torch.set_num_threads(1)

    def step(x, t, w1, b1, w2, b2):  # noqa: ANN001, ANN202
        params = [torch.from_numpy(w).requires_grad_() for w in (w1, b1, w2, b2)]
        tw1, tb1, tw2, tb2 = params
        h = torch.relu(torch.from_numpy(x) @ tw1.T + tb1)
        logp = torch.log_softmax(h @ tw2.T + tb2, dim=1)
        loss = -(logp * torch.from_numpy(t)).sum(dim=1).mean()
        loss.backward()
        with torch.no_grad():
            new = [p - lr * p.grad for p in params]  # pyright: ignore[reportOperatorIssue, reportOptionalOperand]
        return (loss.detach().numpy(), *(w.numpy() for w in new))

    return step


def main(argv: list[str] | None = None) -> int:
    from train_mlp import (  # pyright: ignore[reportMissingImports]
        build_module,
        init_weights,
        make_dataset,
        numpy_step,
    )

    from relay_opt import compile as compile_module

    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--opt", type=int, default=3)
    args = p.parse_args(argv)
    lr = 0.1

    x, t = make_dataset(args.batch, args.features, args.classes)
    weights = init_weights(args.features, args.hidden, args.classes)
    module = build_module(args.batch, args.features, args.hidden, args.classes, lr)
    compiled = compile_module(module, entry="train_step", opt=args.opt)

    steps: dict[str, Callable[..., object]] = {
        "relay-opt (compiled)": compiled,
        "numpy": lambda x, t, *w: numpy_step(x, t, w, lr),
    }
    if (torch_step := _torch_step(lr)) is not None:
        steps["PyTorch eager"] = torch_step

    reference = numpy_step(x, t, weights, lr)
    for name, step in steps.items():
        got = step(x, t, *weights)
        for a, b in zip(got, reference, strict=True):  # pyright: ignore[reportArgumentType]
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)

    shape = f"batch {args.batch}, {args.features}-{args.hidden}-{args.classes} MLP"
    print(f"one SGD step ({shape}), median of {args.repeat}, thread CPU time, 1 thread")
    print(f"{'system':<22} {'ms/step':>10} {'vs numpy':>9}")
    results = {
        name: _time(lambda s=step: s(x, t, *weights), args.repeat) for name, step in steps.items()
    }
    for name, seconds in results.items():
        print(f"{name:<22} {seconds * 1e3:>10.3f} {results['numpy'] / seconds:>8.2f}x")
    if "PyTorch eager" not in steps:
        print("(PyTorch is not installed: its row is left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
