"""Batch-1 latency and compile time of ONNX models: relay-opt next to numpy and onnxruntime.

    pip install -e '.[benchmark]'
    python benchmarks/onnx_models.py [--models resnet50,mlp,lstm] [--budget 20]

Models: the nine light models that ship with the `onnx` package
(onnx/backend/test/data/light), an MLP (784-512-512-10) and an LSTM (sequence
32, input 128, hidden 256), batch 1. Every runner is measured in the same
process on the same inputs: relay-opt (import + -O3 + LLVM, then the native
code), numpy (relay-opt's reference interpreter: one numpy call per Relay
operator) and onnxruntime (CPU execution provider, all graph optimizations).
Latency is the median of up to `--repeat` calls after a warm-up, stopping
early once a runner has used `--budget` seconds (at least 3 calls); "setup" is
relay-opt's compile time and onnxruntime's session creation. The outputs are
compared, so a wrong answer cannot look fast. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from itertools import pairwise

import numpy as np

LIGHT = [
    "bvlc_alexnet",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "resnet50",
    "shufflenet",
    "squeezenet",
    "vgg19",
    "zfnet512",
]


def light_model(name: str):  # noqa: ANN201
    import onnx

    path = os.path.join(
        os.path.dirname(onnx.__file__), "backend", "test", "data", "light", f"light_{name}.onnx"
    )
    return onnx.load(path)


def mlp_model():  # noqa: ANN201
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    sizes = [784, 512, 512, 10]
    nodes, inits, prev = [], [], "x"
    for i, (a, b) in enumerate(pairwise(sizes)):
        inits += [
            numpy_helper.from_array(
                (rng.standard_normal((b, a)) / np.sqrt(a)).astype(np.float32), f"w{i}"
            ),
            numpy_helper.from_array((rng.standard_normal(b) * 0.1).astype(np.float32), f"b{i}"),
        ]
        out = f"h{i}" if i < len(sizes) - 2 else "logits"
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [out], transB=1))
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"]))
            out = f"r{i}"
        prev = out
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def lstm_model(seq: int = 32, inputs: int = 128, hidden: int = 256):  # noqa: ANN201
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    scale = 1 / np.sqrt(hidden)
    inits = [
        numpy_helper.from_array((rng.uniform(-scale, scale, s)).astype(np.float32), n)
        for n, s in (
            ("W", (1, 4 * hidden, inputs)),
            ("R", (1, 4 * hidden, hidden)),
            ("B", (1, 8 * hidden)),
        )
    ]
    node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["y", "y_h", "y_c"], hidden_size=hidden)
    graph = helper.make_graph(
        [node],
        "lstm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [seq, 1, inputs])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [seq, 1, 1, hidden]),
            helper.make_tensor_value_info("y_h", TensorProto.FLOAT, [1, 1, hidden]),
            helper.make_tensor_value_info("y_c", TensorProto.FLOAT, [1, 1, hidden]),
        ],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def inputs_for(model) -> dict[str, np.ndarray]:  # noqa: ANN001
    """ONNX's backend-test input for the light models (arange / n), random for the others."""
    from onnx.backend.test.runner import Runner

    initializers = {i.name for i in model.graph.initializer}
    return {
        vi.name: Runner.generate_dummy_data(vi, seed=0, random=model.graph.name in ("mlp", "lstm"))
        for vi in model.graph.input
        if vi.name not in initializers
    }


def timed(fn: Callable[[], object], repeat: int, budget: float) -> tuple[float, int]:
    """Median milliseconds of up to `repeat` calls (at least 3 unless over budget)."""
    fn()
    times: list[float] = []
    spent = 0.0
    while len(times) < repeat and (len(times) < 3 or spent < budget):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        spent += times[-1]
    return statistics.median(times) * 1e3, len(times)


def ort_session(model, threads: int | None):  # noqa: ANN001, ANN201
    """onnxruntime's CPU session for `model`, fully optimized, with `threads` intra-op
    threads (None: onnxruntime's default) and no inter-op parallelism."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def flat(result: object) -> list[np.ndarray]:
    return (
        [np.asarray(r) for r in result]
        if isinstance(result, (tuple, list))
        else [np.asarray(result)]
    )


def measure(
    name: str,
    model,  # noqa: ANN001
    repeat: int,
    budget: float,
    numpy_too: bool,
    threads: int | None = None,
) -> dict[str, object]:
    """One row: relay-opt's, onnxruntime's (`threads` intra-op threads, else its default) and
    the interpreter's latency, setup times and the largest difference of the outputs."""

    from relay_opt.frontends.onnx import import_onnx
    from relay_opt.runtime.jit import compile

    feeds = inputs_for(model)
    row: dict[str, object] = {"model": name}

    start = time.perf_counter()
    imported = import_onnx(model)
    exe = compile(imported.module)
    row["relay-opt setup s"] = time.perf_counter() - start
    args = [feeds[n] for n in imported.input_names]
    ours = flat(exe(*args))
    row["relay-opt ms"], row["runs"] = timed(lambda: exe(*args), repeat, budget)

    start = time.perf_counter()
    session = ort_session(model, threads)
    row["ort setup s"] = time.perf_counter() - start
    theirs = session.run(None, feeds)
    row["ort ms"], _ = timed(lambda: session.run(None, feeds), repeat, budget)
    row["max |diff|"] = max(
        float(np.abs(a.astype(np.float64) - np.asarray(b).reshape(a.shape)).max())
        for a, b in zip(ours, theirs, strict=True)
    )

    if numpy_too:
        from relay_opt.runtime.interpreter import Interpreter

        interpreter = Interpreter(imported.module)
        row["numpy ms"], _ = timed(
            lambda: interpreter.run("main", args), max(3, repeat // 4), budget
        )
    row["ratio to ort"] = row["relay-opt ms"] / row["ort ms"]  # pyright: ignore[reportOperatorIssue]
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--models", default=",".join([*LIGHT, "mlp", "lstm"]), help="comma-separated")
    p.add_argument("--repeat", type=int, default=50, help="calls per runner at most")
    p.add_argument(
        "--budget", type=float, default=20.0, help="seconds per runner before stopping early"
    )
    p.add_argument("--no-numpy", action="store_true", help="skip the numpy interpreter column")
    args = p.parse_args()
    columns = [
        "model",
        "relay-opt ms",
        "numpy ms",
        "ort ms",
        "ratio to ort",
        "relay-opt setup s",
        "ort setup s",
        "runs",
        "max |diff|",
    ]
    print(" | ".join(f"{c:>17}" for c in columns))
    print("-|-".join("-" * 17 for _ in columns))
    names = args.models.split(",")
    unknown = [n for n in names if n not in ("mlp", "lstm", *LIGHT)]
    if unknown:
        p.error(f"unknown model {unknown[0]!r}: choose from mlp, lstm, {', '.join(LIGHT)}")
    for name in names:
        model = (
            mlp_model() if name == "mlp" else lstm_model() if name == "lstm" else light_model(name)
        )
        row = measure(name, model, args.repeat, args.budget, not args.no_numpy)
        cells = []
        for c in columns:
            v = row.get(c, "-")
            cells.append(f"{v:>17.4g}" if isinstance(v, float) else f"{v!s:>17}")
        print(" | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
