"""The floating-point policy's effect: latency of compiled code under `fast` and `strict`.

    python benchmarks/fp_policy.py [--models dense,mlp,lstm,squeezenet] [--rounds 5]

Each model is compiled once per policy; a round calls each compiled function for about
`--seconds` and records the thread CPU time per call (time.thread_time: other processes on a
shared machine do not count); the table shows the minimum over `--rounds` rounds, which
alternate between the policies, and the ratio strict / fast. The results of both are compared
with the reference interpreter (largest error relative to the largest reference value), so a
wrong answer cannot look fast. Models: dense 1x2048 -> 1000, and from onnx_models.py the MLP
784-512-512-10, the LSTM (sequence 32, hidden 256) and the light models (squeezenet, resnet50,
...). On a checkout without policies, the one column is the default code. Nothing asserts a
time.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DENSE = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 2048), float32], %w: Tensor[(1000, 2048), float32]) {
  nn.dense(%x, %w)
}"""


def load(name: str):  # noqa: ANN201
    """(module, inputs) of a model."""
    import relay_opt

    if name == "dense":
        rng = np.random.default_rng(0)
        module = relay_opt.load_program(DENSE, format="relay").module
        x = rng.standard_normal((1, 2048), dtype=np.float32)
        w = rng.standard_normal((1000, 2048), dtype=np.float32)
        return module, [x, w]
    import onnx_models

    from relay_opt.frontends.onnx import import_onnx

    model = {"mlp": onnx_models.mlp_model, "lstm": onnx_models.lstm_model}.get(name)
    model = model() if model else onnx_models.light_model(name)
    feeds = onnx_models.inputs_for(model)
    imported = import_onnx(model)
    return imported.module, [feeds[n] for n in imported.input_names]


def per_call(fn, seconds: float) -> float:  # noqa: ANN001
    """Thread CPU seconds per call, over about `seconds`."""
    fn()
    calls, start = 0, time.thread_time()
    while True:
        fn()
        calls += 1
        spent = time.thread_time() - start
        if spent >= seconds and calls >= 3:
            return spent / calls


def main() -> None:
    import relay_opt
    from relay_opt.runtime.interpreter import Interpreter

    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--models", default="dense,mlp,lstm,squeezenet", help="comma-separated")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=0.5, help="per model, policy and round")
    ns = p.parse_args()
    has_policy = "fp_policy" in inspect.signature(relay_opt.compile).parameters
    policies = ["fast", "strict"] if has_policy else ["default"]
    print(f"{'model':<12}" + "".join(f"{pol + ' ms':>12}{'error':>10}" for pol in policies), end="")
    print(f"{'strict/fast':>12}" if has_policy else "")
    for name in ns.models.split(","):
        module, args = load(name)
        ref = Interpreter(module).run("main", args)
        ref = np.asarray(ref[0] if isinstance(ref, (tuple, list)) else ref, np.float64)
        scale = float(np.abs(ref).max()) or 1.0
        # A checkout without policies compiles its one default.
        options = [{"fp_policy": pol} if has_policy else {} for pol in policies]
        exes = {
            pol: relay_opt.compile(module, **kw)  # pyright: ignore[reportArgumentType]
            for pol, kw in zip(policies, options, strict=True)
        }
        errors = {}
        for pol, exe in exes.items():
            out = exe(*args)
            out = out[0] if isinstance(out, tuple) else out
            errors[pol] = float(np.abs(np.asarray(out, np.float64) - ref).max()) / scale
        best = dict.fromkeys(policies, float("inf"))
        for _ in range(ns.rounds):
            for pol, exe in exes.items():
                call = lambda exe=exe, args=args: exe(*args)  # noqa: E731
                best[pol] = min(best[pol], per_call(call, ns.seconds))
        row = f"{name:<12}" + "".join(
            f"{best[pol] * 1e3:>12.4f}{errors[pol]:>10.1e}" for pol in policies
        )
        if has_policy:
            row += f"{best['strict'] / best['fast']:>12.2f}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
