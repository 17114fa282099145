"""Control flow and recursion compiled (-O3) versus the reference interpreter.

    python benchmarks/control_flow.py [--repeat 5]

Rows: fib (non-tail recursion through `if`), a self tail loop and a mutual tail loop over
int32 scalars, and a tail loop applying tensor operators to a 256x256 tensor. Prints the
median time of `--repeat` calls after a warm-up and the speed-up; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

PROGRAMS = """#[version = "0.0.5"]
def @fib(%n: int32) -> int32 {
  if (less(%n, 2)) { %n } else { add(@fib(subtract(%n, 1)), @fib(subtract(%n, 2))) }
}
def @count(%i: int32, %n: int32, %acc: int32) -> int32 {
  if (less(%i, %n)) { @count(add(%i, 1), %n, add(%acc, %i)) } else { %acc }
}
def @even(%n: int32) -> bool {
  if (equal(%n, 0)) { True } else { @odd(subtract(%n, 1)) }
}
def @odd(%n: int32) -> bool {
  if (equal(%n, 0)) { False } else { @even(subtract(%n, 1)) }
}
def @smooth(%i: int32, %n: int32, %x: Tensor[(256, 256), float32]) -> Tensor[(256, 256), float32] {
  if (less(%i, %n)) {
    @smooth(add(%i, 1), %n, tanh(add(multiply(%x, 0.9f), 0.1f)))
  } else {
    %x
  }
}
def @fib_main(%n: int32) -> int32 { @fib(%n) }
def @count_main(%n: int32) -> int32 { @count(0, %n, 0) }
def @even_main(%n: int32) -> bool { @even(%n) }
def @smooth_main(%n: int32, %x: Tensor[(256, 256), float32]) -> Tensor[(256, 256), float32] {
  @smooth(0, %n, %x)
}
"""


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="Control flow compiled versus interpreted.")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from relay_opt import load_program
    from relay_opt.runtime.interpreter import Interpreter
    from relay_opt.runtime.jit import compile

    module = load_program(PROGRAMS, "relay").module
    interpreter = Interpreter(module)
    x = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    rows = [
        ("fib(15), non-tail recursion", "fib_main", [np.array(15, np.int32)]),
        ("self tail loop, 5,000 steps", "count_main", [np.array(5_000, np.int32)]),
        ("mutual tail loop, 5,000 steps", "even_main", [np.array(5_000, np.int32)]),
        ("tensor tail loop, 256x256, 50 steps", "smooth_main", [np.array(50, np.int32), x]),
    ]
    print(f"{'program':<38} {'interpreter (ms)':>17} {'compiled (ms)':>14} {'speed-up':>9}")
    for label, entry, inputs in rows:
        exe = compile(module, entry=entry, opt=3)
        native = _median_ms(lambda e=exe, i=inputs: e(*i), args.repeat)
        interp = _median_ms(
            lambda e=entry, i=inputs: interpreter.run(e, i), max(1, args.repeat // 2)
        )
        print(f"{label:<38} {interp:>17.2f} {native:>14.3f} {interp / native:>8.0f}x")


if __name__ == "__main__":
    main()
