"""Fused (-O3) versus unfused (-O0 Relay passes, same LLVM -O3) native code, next to numpy.

    python benchmarks/fusion.py [--repeat 50]

Rows: a conv2d + bias + relu + residual add block, and a chain of 8 elementwise
operators. Prints the median time of `--repeat` calls after a warm-up; asserts
nothing about time (the numbers are for reading).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from xdsl.context import Context

CONV_BLOCK = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 64, 28, 28), float32], %w: Tensor[(64, 64, 3, 3), float32],
          %b: Tensor[(64), float32], %r: Tensor[(1, 64, 28, 28), float32]) {
  %0 = nn.conv2d(%x, %w, padding=[1, 1], channels=64, kernel_size=[3, 3]);
  %1 = nn.bias_add(%0, %b);
  %2 = nn.relu(%1);
  add(%2, %r)
}"""

CHAIN = """#[version = "0.0.5"]
def @main(%x: Tensor[(256, 1024), float32]) {
  %0 = add(%x, 1f);
  %1 = multiply(%0, 0.5f);
  %2 = sigmoid(%1);
  %3 = subtract(%2, 0.25f);
  %4 = abs(%3);
  %5 = sqrt(%4);
  %6 = tanh(%5);
  exp(%6)
}"""


def conv_numpy(x, w, b, r):  # noqa: ANN001, ANN201
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([xp[:, :, i : i + h, j : j + wd] for i in range(3) for j in range(3)], axis=2)
    y = np.einsum("nckhw,ock->nohw", cols, w.reshape(w.shape[0], c, 9), optimize=True)
    return np.maximum(y + b[None, :, None, None], 0) + r


def chain_numpy(x):  # noqa: ANN001, ANN201
    return np.exp(np.tanh(np.sqrt(np.abs(1 / (1 + np.exp(-((x + 1) * 0.5))) - 0.25))))


def median_ms(fn, args: list[np.ndarray], repeat: int) -> float:  # noqa: ANN001
    fn(*args)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    from relay_opt import load_program
    from relay_opt.runtime.jit import compile

    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--repeat", type=int, default=50)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    cases = [
        (
            "conv2d+bias+relu+add 1x64x28x28",
            CONV_BLOCK,
            conv_numpy,
            [
                rng.standard_normal(s).astype(np.float32)
                for s in [(1, 64, 28, 28), (64, 64, 3, 3), (64,), (1, 64, 28, 28)]
            ],
        ),
        (
            "8 elementwise ops 256x1024",
            CHAIN,
            chain_numpy,
            [rng.standard_normal((256, 1024)).astype(np.float32)],
        ),
    ]
    for name, text, reference, inputs in cases:
        module = load_program(text, "relay").module
        times = {}
        exes = {}
        for label, level in (("unfused", 0), ("fused", 3)):
            # LLVM -O3 in both: only the Relay pipeline (fuse-ops) differs.
            from relay_opt.passes.relay_optimize import OptimizePass

            m = module.clone()
            OptimizePass(level).apply(Context(), m)
            exes[label] = compile(m, opt=3)
            times[label] = median_ms(exes[label], inputs, args.repeat)
        got = np.asarray(exes["fused"](*inputs))
        np.testing.assert_allclose(got, reference(*inputs), rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(np.asarray(exes["unfused"](*inputs)), got, rtol=1e-5, atol=1e-5)
        times["numpy"] = median_ms(reference, inputs, args.repeat)
        rows.append((name, times))
    print(
        f"{'workload':<34} {'unfused (ms)':>13} {'fused (ms)':>11} {'numpy (ms)':>11}"
        f" {'fused/unfused':>14}"
    )
    for name, t in rows:
        print(
            f"{name:<34} {t['unfused']:>13.3f} {t['fused']:>11.3f} {t['numpy']:>11.3f} "
            f"{t['fused'] / t['unfused']:>14.2f}"
        )


if __name__ == "__main__":
    main()
