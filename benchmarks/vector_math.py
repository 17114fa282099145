"""exp, tanh, sigmoid, log and erf compiled (expand-math) versus numpy: throughput and ulp error.

    python benchmarks/vector_math.py [--n 1048576] [--repeat 30] [--exhaustive]

Each function is a one-op Relay program over n float32 values, compiled with
relay_opt.runtime.jit.compile on one thread. Throughput is n over the median thread CPU
time of one call (G elements/s; ours and numpy's calls alternate), next to numpy's
(np.exp, np.tanh, 1 / (1 + np.exp(-x)), np.log; numpy has no erf). Max ulp is the largest
error, in units in the last place of the correctly rounded float32 result, against a float64
reference: over 2^22 random bit patterns, a dense sample of the function's interesting range
and the special values, or with --exhaustive over all 2^32 float32 values (about a quarter
of an hour per function on one idle core). The numbers are for reading: nothing is asserted.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numpy as np

Fn = Callable[[np.ndarray], np.ndarray]


def erf64(x: np.ndarray) -> np.ndarray:
    """erf in float64, vectorized: the Taylor series below 3 (cancellation costs at most 1e-12),
    math.erf from 3 to 6 (few float32 values), +-1 beyond (1 - erf(6) is 2e-17)."""
    x = np.asarray(x, np.float64)
    out = np.sign(x)
    a = np.abs(x)
    series = a < 3.0
    z = x[series]
    term = z.copy()
    total = z.copy()
    z2 = z * z
    for n in range(1, 200):
        term = term * -z2 / n
        total += term / (2 * n + 1)
        if not np.any(np.abs(term) > 1e-18 * np.abs(total)):
            break
    out[series] = total * (2.0 / math.sqrt(math.pi))
    tail = (a >= 3.0) & (a < 6.0)
    out[tail] = np.vectorize(math.erf, otypes=[np.float64])(x[tail])
    out[np.isnan(x)] = np.nan
    return out


# name -> (float64 reference, numpy float32 competitor or None, throughput input range)
FUNCTIONS: dict[str, tuple[Fn, Fn | None, tuple[float, float]]] = {
    "exp": (np.exp, np.exp, (-87.0, 88.0)),
    "tanh": (np.tanh, np.tanh, (-10.0, 10.0)),
    "sigmoid": (
        lambda x: 1.0 / (1.0 + np.exp(-x)),
        lambda x: np.float32(1) / (np.float32(1) + np.exp(-x)),
        (-20.0, 20.0),
    ),
    "log": (np.log, np.log, (1e-3, 1e3)),
    "erf": (erf64, None, (-5.0, 5.0)),
}

SPECIAL = np.array(
    [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38]
    + [1.17549435e-38, 3.4028235e38, -3.4028235e38, 1.0, -1.0]
    # exp's overflow and underflow thresholds (and their neighbours), tanh's saturation
    + [88.72283, 88.722839, 88.72284, -87.33654, -103.27893, -103.97207, -103.972084]
    + [9.010913, -9.010913, 0.625, -0.625, 3.92, -3.92, 2.25, 1.0000001, 0.99999994],
    np.float32,
)


def ulp_error(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|y - ref| in float32 ulps of the rounded reference (2^-149 at least); 0 where equal."""
    with np.errstate(all="ignore"):
        y64 = y.astype(np.float64)
        r32 = ref.astype(np.float32)
        spacing = np.maximum(np.spacing(np.abs(r32)).astype(np.float64), 2.0**-149)
        same = (y64 == ref) | (np.isnan(y64) & np.isnan(ref)) | (y == r32)
        err = np.where(same, 0.0, np.abs(y64 - ref) / spacing)
    return np.nan_to_num(err, nan=np.inf, posinf=np.inf)


def compiled(name: str, n: int, threads: int | None = None):  # noqa: ANN201
    from relay_opt import load_program
    from relay_opt.runtime.jit import compile

    text = f"""#[version = "0.0.5"]
def @main(%x: Tensor[({n}), float32]) {{ {name}(%x) }}"""
    return compile(load_program(text, "relay").module, threads=threads)


def thread_time_median(fn: Callable[[], object], repeat: int) -> float:
    return thread_time_medians([fn], repeat)[0]


def thread_time_medians(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """The median thread CPU time of each of `fns`, called in turn `repeat` times: on a shared
    machine, a load that comes and goes then weighs on each alike."""
    for fn in fns:
        fn()
    times: list[list[int]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times, strict=True):
            start = time.thread_time_ns()
            fn()
            spent.append(time.thread_time_ns() - start)
    return [statistics.median(spent) * 1e-9 for spent in times]


def max_ulp(name: str, exhaustive: bool, chunk: int = 1 << 22) -> tuple[float, float]:
    """(max ulp error, where) over the sample or all 2^32 float32 values."""
    reference = FUNCTIONS[name][0]
    f = compiled(name, chunk)
    lo, hi = FUNCTIONS[name][2]
    rng = np.random.default_rng(0)
    if exhaustive:
        chunks = (
            np.arange(start, start + chunk, dtype=np.uint32).view(np.float32)
            for start in range(0, 1 << 32, chunk)
        )
    else:
        random_bits = rng.integers(0, 1 << 32, chunk, dtype=np.uint64).astype(np.uint32)
        dense = rng.uniform(lo, hi, chunk).astype(np.float32)
        special = np.resize(SPECIAL, chunk)
        chunks = iter([random_bits.view(np.float32), dense, special])
    worst, at = 0.0, 0.0
    for x in chunks:
        y = np.asarray(f(x))
        with np.errstate(all="ignore"):
            err = ulp_error(y, reference(x.astype(np.float64)))
        i = int(np.argmax(err))
        if err[i] > worst:
            worst, at = float(err[i]), float(x[i])
    return worst, at


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--n", type=int, default=1 << 20)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--exhaustive", action="store_true", help="max ulp over all 2^32 inputs")
    p.add_argument("functions", nargs="*", default=list(FUNCTIONS))
    args = p.parse_args()
    rng = np.random.default_rng(1)
    print(
        f"{'function':<9} {'compiled G/s':>13} {'numpy G/s':>10} {'ratio':>6}"
        f" {'max ulp':>8}  {'at':<14}"
    )
    for name in args.functions:
        _, competitor, (lo, hi) = FUNCTIONS[name]
        x = rng.uniform(lo, hi, args.n).astype(np.float32)
        f = compiled(name, args.n, threads=1)  # thread CPU time counts one thread
        if competitor is not None:
            np.seterr(over="ignore")  # np.exp(-x) overflows for sigmoid's far left: inf is right
            run_numpy = competitor
            ours_s, theirs_s = thread_time_medians(
                [lambda: f(x), lambda: run_numpy(x)],  # noqa: B023
                args.repeat,
            )
            ours, theirs = args.n / ours_s * 1e-9, args.n / theirs_s * 1e-9
            numpy_text, ratio_text = f"{theirs:>10.3f}", f"{ours / theirs:>6.2f}"
        else:
            ours = args.n / thread_time_median(lambda: f(x), args.repeat) * 1e-9  # noqa: B023
            numpy_text, ratio_text = f"{'-':>10}", f"{'-':>6}"
        worst, at = max_ulp(name, args.exhaustive)
        print(f"{name:<9} {ours:>13.3f} {numpy_text} {ratio_text} {worst:>8.3f}  {at:<14.8g}")


if __name__ == "__main__":
    main()
