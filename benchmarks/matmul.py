"""Compiled matmul (the kernel library's GEMM through lower-contractions) next to numpy on one
thread, in GFLOP/s.

    python benchmarks/matmul.py [--sizes 256 512 1024 2048] [--repeat 5]

Each row is the best of `--repeat` calls, timed in thread CPU time (the machine may be
shared): relay-opt's compiled `nn.matmul` (N x N times N x N, float32) and numpy's `@` with
OpenBLAS pinned to one thread (threadpoolctl when installed, else a subprocess with
OPENBLAS_NUM_THREADS=1). Also dense 1x2048 -> 1000 (a matrix-vector product). `matmul_rows`
is the measurement as a function, for a combined benchmark command. Asserts nothing.

relay-opt runs on one thread too (`compile(threads=1)`): thread CPU time counts only the
calling thread, so with the pool's default (every CPU) it would count only the caller's share
of the work and overstate the speed (a 1024^3 product "reached" 160 GFLOP/s on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

MATMUL = """#[version = "0.0.5"]
def @main(%a: Tensor[(N, N), float32], %b: Tensor[(N, N), float32]) {
  nn.matmul(%a, %b)
}"""

DENSE = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 2048), float32], %w: Tensor[(1000, 2048), float32]) {
  nn.dense(%x, %w, units=1000)
}"""


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    """The least thread CPU time of `repeat` calls, after one untimed call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        best = min(best, time.thread_time() - start)
    return best


def _relay_seconds(text: str, inputs: list[np.ndarray], repeat: int) -> float:
    from relay_opt import load_program
    from relay_opt.runtime.jit import compile

    exe = compile(load_program(text, "relay").module, opt=3, threads=1)
    return best_seconds(lambda: exe(*inputs), repeat)


_NUMPY_CHILD = """
import json, sys, time
import numpy as np
shapes, repeat = json.loads(sys.argv[1]), int(sys.argv[2])
out = []
for (m, k, n) in shapes:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeat):
        t = time.thread_time(); a @ b; best = min(best, time.thread_time() - t)
    out.append(best)
print(json.dumps(out))
"""


def numpy_seconds(shapes: list[tuple[int, int, int]], repeat: int) -> list[float]:
    """numpy's best time for each (M, K, N) product on one OpenBLAS thread."""
    try:
        from threadpoolctl import threadpool_limits  # pyright: ignore[reportMissingImports]
    except ImportError:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        args = [sys.executable, "-c", _NUMPY_CHILD, json.dumps(shapes), str(repeat)]
        return json.loads(subprocess.run(args, env=env, capture_output=True, check=True).stdout)
    out = []
    with threadpool_limits(1):
        for m, k, n in shapes:
            rng = np.random.default_rng(0)
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            out.append(best_seconds(lambda a=a, b=b: a @ b, repeat))
    return out


def matmul_rows(
    sizes: tuple[int, ...] = (256, 512, 1024, 2048), repeat: int = 5
) -> list[tuple[str, float, float]]:
    """(name, relay-opt GFLOP/s, numpy 1-thread GFLOP/s) for each matmul size and for dense
    1x2048 -> 1000."""
    rng = np.random.default_rng(0)
    shapes = [(n, n, n) for n in sizes] + [(1, 2048, 1000)]
    theirs = numpy_seconds(shapes, repeat)
    rows = []
    for n, t_np in zip(sizes, theirs, strict=False):
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        ours = _relay_seconds(MATMUL.replace("N", str(n)), [a, b], repeat)
        flops = 2.0 * n**3
        rows.append((f"matmul {n}^3", flops / ours / 1e9, flops / t_np / 1e9))
    x = rng.standard_normal((1, 2048), dtype=np.float32)
    w = rng.standard_normal((1000, 2048), dtype=np.float32)
    ours = _relay_seconds(DENSE, [x, w], repeat * 20)
    # numpy computed x @ w.T as a (1, 2048) x (2048, 1000) product: the same work.
    flops = 2.0 * 2048 * 1000
    rows.append(("dense 1x2048->1000", flops / ours / 1e9, flops / theirs[-1] / 1e9))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'':22} {'relay-opt':>10} {'numpy 1T':>10} {'ratio':>7}   (GFLOP/s)")
    for name, ours, theirs in matmul_rows(tuple(args.sizes), args.repeat):
        print(f"{name:22} {ours:10.1f} {theirs:10.1f} {ours / theirs:7.2f}")


if __name__ == "__main__":
    main()
