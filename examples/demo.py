"""The main job (`make demo`): Relay text in, types inferred, native code out, checked against numpy.

1. Type-check the language showcase (ADTs, polymorphism, closures, refs, a CNN).
2. Parse an MNIST-style CNN written in Relay text with its weights, and type-check it.
3. Compile a GELU MLP block to native code, run it, and compare with numpy.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from xdsl.context import Context

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "models"))


def main() -> None:
    from mnist import mnist_text

    from relay_opt.dialects.relay import core
    from relay_opt.frontends.relay_text import parse_relay
    from relay_opt.passes.infer_types import InferTypesPass
    from relay_opt.runtime.jit import compile
    from relay_opt.tools.loading import read_module

    module, _ = read_module(str(HERE / "models" / "showcase.mlir"))
    InferTypesPass().apply(Context(), module)
    main_fn = next(op for op in module.ops if isinstance(op, core.FuncOp) and op.sym_name.data == "main")
    print(f"1. showcase.mlir type-checks: @main : {main_fn.function_type}")

    text, weights = mnist_text()
    mnist = parse_relay(text, "mnist.rly", meta={"relay.Constant": weights})
    f = next(op for op in mnist.ops if isinstance(op, core.FuncOp))
    print(f"2. MNIST CNN in Relay text ({len(list(f.walk())) - 1} ops) type-checks: {f.function_type}")

    gelu = parse_relay('''#[version = "0.0.5"]
def @main(%x: Tensor[(64, 512), float32], %b: Tensor[(512), float32]) {
  %0 = add(%x, %b);
  %1 = multiply(%0, 0.7978845608028654f);
  %2 = multiply(%1, add(1f, multiply(0.044715f, multiply(%0, %0))));
  multiply(multiply(0.5f, %0), add(1f, tanh(%2)))
}''', "gelu.rly")
    start = time.perf_counter()
    exe = compile(gelu)
    compile_ms = (time.perf_counter() - start) * 1e3
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 512)).astype(np.float32)
    b = rng.standard_normal(512).astype(np.float32)
    got = exe(x, b)
    h = (x + b).astype(np.float64)
    want = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3)))
    err = float(np.max(np.abs(got - want)))
    start = time.perf_counter()
    for _ in range(20):
        exe(x, b)
    run_ms = (time.perf_counter() - start) / 20 * 1e3
    print(f"3. GELU block compiled in {compile_ms:.0f} ms; runs in {run_ms:.2f} ms; "
          f"max |native - numpy| = {err:.2e}")
    if err > 1e-4:
        sys.exit("the compiled result differs from numpy")


if __name__ == "__main__":
    main()
