"""The main job (`make demo`): a real model in Relay text, compiled to native code and checked.

1. Type-check the language showcase (ADTs, polymorphism, closures, refs, a CNN).
2. Parse an MNIST-style CNN written in Relay text with its weights, type-check it,
   compile it to native code, run it, and compare with an independent numpy
   implementation and with the reference interpreter.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "models"))


def main() -> None:
    from mnist import mnist_numpy, mnist_text

    from relay_opt import compile, load_program
    from relay_opt.dialects.relay import core
    from relay_opt.runtime.interpreter import interpret

    module = load_program(HERE / "models" / "showcase.mlir").module
    main_fn = next(
        op for op in module.ops if isinstance(op, core.FuncOp) and op.sym_name.data == "main"
    )
    print(f"1. showcase.mlir type-checks: @main : {main_fn.function_type}")

    text, weights = mnist_text()
    mnist = load_program(
        text, "relay", filename="mnist.rly", meta={"relay.Constant": weights}
    ).module
    f = next(op for op in mnist.ops if isinstance(op, core.FuncOp))
    print(f"2. MNIST CNN in Relay text type-checks: {f.function_type}")
    start = time.perf_counter()
    exe = compile(mnist)
    print(f"   compiled to native code in {(time.perf_counter() - start) * 1e3:.0f} ms")
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    got = np.asarray(exe(x))
    start = time.perf_counter()
    for _ in range(50):
        exe(x)
    run_ms = (time.perf_counter() - start) / 50 * 1e3
    vs_numpy = float(np.max(np.abs(got - mnist_numpy(x, weights))))
    vs_interpreter = float(np.max(np.abs(got - interpret(mnist, [x]))))
    print(
        f"   runs in {run_ms:.2f} ms; predicted class {int(got.argmax())}; max |native - numpy| = "
        f"{vs_numpy:.1e}, max |native - interpreter| = {vs_interpreter:.1e}"
    )
    if max(vs_numpy, vs_interpreter) > 1e-5:
        sys.exit("the compiled result differs")


if __name__ == "__main__":
    main()
