"""The one benchmark command: relay-opt next to numpy, onnxruntime and PyTorch, one run, one
thread count for every system.

    pip install -e '.[benchmark]'
    python benchmarks/run.py [--threads N] [--quick]
        [--sections matmul,conv,models,functional,math,compile]

Sections: matmul 256-2048 (GFLOP/s next to numpy's BLAS); every distinct conv2d shape of
ResNet-50 next to onnxruntime running that one Conv; the nine light ONNX models, the MLP and
the LSTM next to onnxruntime and relay-opt's numpy interpreter, and (where torch is installed)
the five real models of real_models.py (ResNet-18, MobileNetV2, a BERT encoder layer, a GPT-2
block with a KV cache, a small U-Net) next to onnxruntime and PyTorch eager; CharRNN,
TreeLSTM and an LSTM over a `List` in Relay text (examples/relay/) compiled, interpreted, in
numpy and in PyTorch eager (thread CPU time, functional.py); exp, tanh and sigmoid over
float32 next to numpy;
the compile time of ResNet-50 from ONNX to a callable, cold (empty compile cache) and warm,
each in a fresh process, and the load and first call of its package (export_library).
`--threads N` (default 1) is given to every system: onnxruntime's intra-op threads,
numpy's BLAS (threadpoolctl), torch.set_num_threads and relay-opt's RELAY_OPT_NUM_THREADS.
Times are medians of wall-clock calls after a warm-up (at more than one thread, after a
pause in which the other systems' pools stop spinning), stopping once a runner has used
`--budget` seconds (vector math: relay-opt's and numpy's calls alternate in turns). Outputs are
compared where two systems run the same thing, so a wrong answer cannot look fast. Nothing
here asserts a time.

The sections reuse onnx_models.py (models, inputs, the per-model measurement), real_models.py
(the torch-built models, exported to ONNX in a temporary directory),
functional.py (the functional models and their numpy and torch twins) and vector_math.py
(the vector-math programs and their numpy competitors).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SECTIONS = ("matmul", "conv", "models", "functional", "math", "compile")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="threads for every system (default 1)")
    p.add_argument("--quick", action="store_true", help="fewer sizes, shapes and models")
    p.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    p.add_argument("--budget", type=float, default=None, help="seconds per runner and row")
    p.add_argument("--matmul-sizes", default=None, help="comma-separated n of n x n x n")
    p.add_argument("--conv-limit", type=int, default=None, help="at most this many conv shapes")
    p.add_argument("--models", default=None, help="comma-separated (see onnx_models.py)")
    p.add_argument("--math-n", type=int, default=None, help="float32 elements per call")
    p.add_argument("--compile-model", default=None, help="the model of the compile section")
    return p


def _settings(ns: argparse.Namespace) -> dict[str, object]:
    quick = ns.quick
    return {
        "budget": ns.budget if ns.budget is not None else (1.0 if quick else 10.0),
        "matmul": [
            int(n)
            for n in (ns.matmul_sizes or ("256" if quick else "256,512,1024,2048")).split(",")
        ],
        "conv_limit": ns.conv_limit if ns.conv_limit is not None else (3 if quick else 10**9),
        "models": (ns.models or ("mlp,lstm,squeezenet" if quick else "")).split(",")
        if (ns.models or quick)
        else None,
        "math_n": ns.math_n or (1 << 16 if quick else 1 << 20),
        "compile_model": ns.compile_model or ("mlp" if quick else "resnet50"),
    }


def _pin_threads(n: int) -> str:
    """Every system to `n` threads; returns how (for the header)."""
    os.environ["RELAY_OPT_NUM_THREADS"] = str(n)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))  # for libraries loaded from here on
    notes: list[str] = []
    try:
        from threadpoolctl import (  # pyright: ignore[reportMissingImports]
            threadpool_info,  # pyright: ignore[reportUnknownVariableType]
            threadpool_limits,  # pyright: ignore[reportUnknownVariableType]
        )

        threadpool_limits(n)
        libs = sorted({f"{i['internal_api']} ({i['num_threads']})" for i in threadpool_info()})
        notes.append("BLAS/OpenMP via threadpoolctl: " + (", ".join(libs) or "none loaded"))
    except ImportError:
        notes.append("threadpoolctl not installed: BLAS threads from the environment only")
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(n)
        notes.append(f"torch {torch.__version__} ({torch.get_num_threads()})")
    else:
        notes.append("torch not installed")
    return "; ".join(notes)


def _torch():  # noqa: ANN202
    try:
        import torch  # pyright: ignore[reportMissingImports]
    except ImportError:
        return None
    return torch


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def _header(threads: int, how: str) -> str:
    import llvmlite.binding as llvm
    import numpy as np

    from relay_opt import __version__
    from relay_opt.lowering.kernels.target import Target

    llvm.initialize_native_target()
    target = Target.host()
    lines = [
        f"CPU: {_cpu_name()} (LLVM: {llvm.get_host_cpu_name()}), "
        f"vector width {target.vector_bits} bits, FMA {'yes' if target.fma else 'no'}, "
        f"{os.cpu_count()} CPUs",
        f"threads: {threads} for every system ({how})",
        f"relay-opt {__version__}, LLVM {'.'.join(map(str, llvm.llvm_version_info))}, "
        f"numpy {np.__version__}, onnxruntime {_ort_version()}",
    ]
    return "\n".join(lines)


def _ort_version() -> str:
    try:
        import onnxruntime

        return onnxruntime.__version__
    except ImportError:
        return "not installed"


QUIET_S = 0.0
"""A pause before each measurement: main sets it when the systems run more than one thread.
OpenBLAS's and onnxruntime's workers spin for tens of milliseconds after a call (70 and 45
ms of CPU measured on this project's 2-core machine), so whichever system was measured
right after another shared its second core with them: a 0.4 ms conv's whole measurement
fit in that window (relay-opt's 2-thread 1x1 convs and 512^3 matmul ran at half speed)."""


def bench(fn: Callable[[], object], budget: float, repeat: int = 50) -> float:
    """Median seconds of wall-clock calls after a warm-up; one call when a call is over budget."""
    time.sleep(QUIET_S)
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    if first >= budget:
        return first
    times: list[float] = []
    while len(times) < repeat and (len(times) < 3 or sum(times) < budget):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def table(title: str, columns: Sequence[str], rows: Sequence[dict[str, object]]) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "-" if v is None else str(v)

    widths = [max(len(c), *(len(cell(r.get(c))) for r in rows)) for c in columns]
    out = [f"\n## {title}", " | ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    out.append("-|-".join("-" * w for w in widths))
    for r in rows:
        out.append(
            " | ".join(cell(r.get(c)).rjust(w) for c, w in zip(columns, widths, strict=True))
        )
    return "\n".join(out)


def _ratio(a: object, b: object) -> float | None:
    if isinstance(a, float) and isinstance(b, float) and b > 0:
        return a / b
    return None


# -- matmul --------------------------------------------------------------------------------


def matmul_rows(sizes: Sequence[int], budget: float) -> list[dict[str, object]]:
    import numpy as np

    from relay_opt import load_program
    from relay_opt.runtime.jit import compile

    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        text = f"""#[version = "0.0.5"]
def @main(%a: Tensor[({n}, {n}), float32], %b: Tensor[({n}, {n}), float32]) {{
  nn.matmul(%a, %b)
}}"""
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        start = time.perf_counter()
        exe = compile(load_program(text, "relay").module)
        setup = time.perf_counter() - start
        got = np.asarray(exe(a, b))
        want = a @ b
        flops = 2.0 * n**3
        ours = flops / bench(lambda: exe(a, b), budget) / 1e9  # noqa: B023
        theirs = flops / bench(lambda: a @ b, budget) / 1e9  # noqa: B023
        rows.append(
            {
                "n": n,
                "relay-opt GFLOP/s": ours,
                "numpy GFLOP/s": theirs,
                "x numpy": _ratio(ours, theirs),
                "compile s": setup,
                "max rel diff": float(np.abs(got - want).max() / np.abs(want).max()),
            }
        )
    return rows


# -- ResNet-50's conv shapes -----------------------------------------------------------------


def resnet_conv_shapes() -> list[dict[str, object]]:
    """The distinct Conv configurations of ResNet-50 (ONNX's light model), in order of use."""
    import onnx
    from onnx_models import light_model

    model = onnx.shape_inference.infer_shapes(light_model("resnet50"))
    shapes = {
        vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in (*model.graph.value_info, *model.graph.input, *model.graph.output)
    }
    shapes.update({i.name: list(i.dims) for i in model.graph.initializer})
    seen: dict[tuple, dict[str, object]] = {}
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        x, w = shapes[node.input[0]], shapes[node.input[1]]
        conv = {
            "x": tuple(x),
            "w": tuple(w),
            "strides": tuple(attrs.get("strides", [1, 1])),
            "pads": tuple(attrs.get("pads", [0, 0, 0, 0])),
            "group": int(attrs.get("group", 1)),
            "dilations": tuple(attrs.get("dilations", [1, 1])),
        }
        key = tuple(conv.values())
        if key in seen:
            seen[key]["count"] += 1  # pyright: ignore[reportOperatorIssue]
        else:
            seen[key] = {**conv, "count": 1}
    return list(seen.values())


def _conv_model(conv: dict[str, object]):  # noqa: ANN202
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    x, w = conv["x"], conv["w"]
    rng = np.random.default_rng(0)
    weight = (rng.standard_normal(w) / np.sqrt(np.prod(w[1:]))).astype(np.float32)  # pyright: ignore
    bias = rng.standard_normal(w[0]).astype(np.float32)  # pyright: ignore
    node = helper.make_node(
        "Conv",
        ["x", "w", "b"],
        ["y"],
        strides=list(conv["strides"]),  # pyright: ignore
        pads=list(conv["pads"]),  # pyright: ignore
        group=conv["group"],
        dilations=list(conv["dilations"]),  # pyright: ignore
    )
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x))],  # pyright: ignore
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def conv_rows(limit: int, budget: float, threads: int) -> list[dict[str, object]]:
    import numpy as np
    import onnxruntime as ort

    from relay_opt.frontends.onnx import import_onnx
    from relay_opt.runtime.jit import compile

    rows = []
    for conv in resnet_conv_shapes()[:limit]:
        model = _conv_model(conv)
        x = np.random.default_rng(1).standard_normal(conv["x"]).astype(np.float32)  # pyright: ignore
        exe = compile(import_onnx(model).module)
        ours_out = np.asarray(exe(x))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        (theirs_out,) = session.run(None, {"x": x})
        n, c, h, wd = conv["x"]  # pyright: ignore
        o, cg, kh, kw = conv["w"]  # pyright: ignore
        flops = 2.0 * ours_out.size * cg * kh * kw
        ours = flops / bench(lambda: exe(x), budget) / 1e9  # noqa: B023
        theirs = flops / bench(lambda: session.run(None, {"x": x}), budget) / 1e9  # noqa: B023
        sh, sw = conv["strides"]  # pyright: ignore
        rows.append(
            {
                "input": f"{c}x{h}x{wd}",
                "kernel": f"{o}x{cg}x{kh}x{kw}/{sh}"
                + (f" g{conv['group']}" if conv["group"] != 1 else ""),
                "uses": conv["count"],
                "GFLOP": flops / 1e9,
                "relay-opt GFLOP/s": ours,
                "ort GFLOP/s": theirs,
                "x ort": _ratio(ours, theirs),
                "max |diff|": float(np.abs(ours_out - theirs_out).max()),
            }
        )
        print(f"  conv {rows[-1]['input']} {rows[-1]['kernel']}: done", file=sys.stderr)
    return rows


# -- whole models ----------------------------------------------------------------------------


def model_rows(names: Sequence[str], budget: float, threads: int) -> list[dict[str, object]]:
    from onnx_models import light_model, lstm_model, measure, mlp_model
    from real_models import MODELS as REAL
    from real_models import measure as measure_real

    rows = []
    for name in names:
        if name in REAL:  # built with torch: PyTorch eager is timed too
            row = measure_real(name, budget, threads, torch_too=True)
            rows.append(row)
            print(
                f"  {name}: {row['relay-opt ms']:.4g} ms, ort {row['ort ms']:.4g} ms, "
                f"rel err {row['rel err']:.2g}",
                file=sys.stderr,
            )
            continue
        model = (
            mlp_model() if name == "mlp" else lstm_model() if name == "lstm" else light_model(name)
        )
        row = measure(name, model, 50, budget, True, threads)
        row["torch ms"] = None  # PyTorch eager: only for the models built with torch
        rows.append(row)
        print(
            f"  {name}: {row['relay-opt ms']:.4g} ms, ort {row['ort ms']:.4g} ms", file=sys.stderr
        )
    return rows


# -- vector math -----------------------------------------------------------------------------


def math_rows(n: int, budget: float) -> list[dict[str, object]]:
    import numpy as np
    from vector_math import FUNCTIONS, compiled

    rows = []
    rng = np.random.default_rng(1)
    np.seterr(over="ignore")  # np.exp(-x) overflows for sigmoid's far left: inf is right
    for name in ("exp", "tanh", "sigmoid"):
        reference, competitor, (lo, hi) = FUNCTIONS[name]
        assert competitor is not None
        numpy_fn = competitor
        x = rng.uniform(lo, hi, n).astype(np.float32)
        f = compiled(name, n)
        got = np.asarray(f(x)).astype(np.float64)
        want = reference(x.astype(np.float64))
        ours, theirs = (
            n / t / 1e9
            for t in alternating([lambda: f(x), lambda: numpy_fn(x)], budget)  # noqa: B023
        )
        rows.append(
            {
                "function": name,
                "relay-opt G/s": ours,
                "numpy G/s": theirs,
                "x numpy": _ratio(ours, theirs),
                "max rel err": float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-30))),
            }
        )
    return rows


def alternating(
    fns: Sequence[Callable[[], object]], budget: float, rounds: int = 25, block: int = 8
) -> list[float]:
    """The median wall-clock seconds of each of `fns`, called in turns of `block` calls
    after a warm-up, until `rounds` turns or `budget` seconds: on a shared machine a load
    that comes and goes then weighs on each alike (timed one after the other, a drift decided
    a row), while each turn's calls still run back to back, as a throughput measurement's
    do (a thread pool's workers stay awake between them)."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    start = time.perf_counter()
    for turn in range(rounds):
        if turn >= 1 and time.perf_counter() - start > budget:
            break
        for fn, spent in zip(fns, times, strict=True):
            for _ in range(block):
                t = time.perf_counter()
                fn()
                spent.append(time.perf_counter() - t)
    return [statistics.median(spent) for spent in times]


# -- compile time ----------------------------------------------------------------------------

# A fresh process: Python's imports are counted apart from the compile.
COMPILE_CHILD = """
import json, os, sys, time
def cpu():  # this process's CPU time and its children's (LLVM's optimizer runs in a fork)
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
start = time.perf_counter()
sys.path.insert(0, sys.argv[2])
import llvmlite.binding, onnx, onnx.helper, onnx.numpy_helper
from onnx_models import light_model, lstm_model, mlp_model
from relay_opt.frontends.onnx import import_onnx
from relay_opt.runtime.jit import compile
from relay_opt.timing import Timings
imports = time.perf_counter() - start
name = sys.argv[1]
start, cpu_start = time.perf_counter(), cpu()
model = mlp_model() if name == "mlp" else lstm_model() if name == "lstm" else light_model(name)
loaded = time.perf_counter()
module = import_onnx(model).module
imported = time.perf_counter()
timings = Timings()
exe = compile(module, timings=timings)
done, cpu_done = time.perf_counter(), cpu()
if len(sys.argv) > 3:  # the package the next child loads
    exe.export_library(sys.argv[3])
steps = {}
for step, seconds in timings.rows:
    steps[step] = steps.get(step, 0.0) + seconds
print(json.dumps({"imports": imports, "onnx.load": loaded - start, "import": imported - loaded,
                  "compile": done - imported, "cpu": cpu_done - cpu_start, "steps": steps}))
"""


# A fresh process loads the package the warm child wrote (relay-compile's format) and calls it
# once: no ONNX, no compile, no cache.
PACKAGE_CHILD = """
import json, os, sys, time
def cpu():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
start = time.perf_counter()
import numpy as np
from relay_opt.runtime import load_module
imports = time.perf_counter() - start
start, cpu_start = time.perf_counter(), cpu()
exe = load_module(sys.argv[1])
loaded = time.perf_counter()
exe(*[np.zeros(p.shape, p.np_dtype) for p in exe.params])
done, cpu_done = time.perf_counter(), cpu()
print(json.dumps({"imports": imports, "load": loaded - start, "first run": done - loaded,
                  "cpu": cpu_done - cpu_start}))
"""


def compile_rows(name: str) -> list[dict[str, object]]:
    rows = []
    here = str(Path(__file__).resolve().parent)
    with tempfile.TemporaryDirectory(prefix="relay-opt-bench-cache-") as cache:
        env = {**os.environ, "RELAY_OPT_CACHE_DIR": cache}
        env.pop("RELAY_OPT_NO_CACHE", None)
        package = os.path.join(cache, "model.relaymod")
        for state in ("cold", "warm"):
            extra = [package] if state == "warm" else []
            child = subprocess.run(
                [sys.executable, "-c", COMPILE_CHILD, name, here, *extra],
                capture_output=True,
                text=True,
                env=env,
                timeout=3600,
            )
            if child.returncode != 0:
                raise RuntimeError(f"the compile-time child failed:\n{child.stderr}")
            r = json.loads(child.stdout.strip().splitlines()[-1])
            steps = sorted(r["steps"].items(), key=lambda kv: -kv[1])[:4]
            rows.append(
                {
                    "model": name,
                    "cache": state,
                    "ONNX to callable s": r["onnx.load"] + r["import"] + r["compile"],
                    "(CPU s)": r["cpu"],
                    "import s": r["import"],
                    "compile s": r["compile"],
                    "Python imports s": r["imports"],
                    "largest steps (s)": ", ".join(f"{k} {v:.2f}" for k, v in steps),
                }
            )
        env["RELAY_OPT_CACHE_DIR"] = os.path.join(cache, "unused")  # the package only
        child = subprocess.run(
            [sys.executable, "-c", PACKAGE_CHILD, package],
            capture_output=True,
            text=True,
            env=env,
            timeout=3600,
        )
        if child.returncode != 0:
            raise RuntimeError(f"the package child failed:\n{child.stderr}")
        r = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append(
            {
                "model": name,
                "cache": "package",
                "ONNX to callable s": r["load"],
                "(CPU s)": r["cpu"],
                "import s": 0.0,
                "compile s": 0.0,
                "Python imports s": r["imports"],
                "largest steps (s)": f"load_module {r['load']:.2f}, first run {r['first run']:.2f}",
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = _parser()
    ns = p.parse_args(argv)
    sections = [s for s in ns.sections.split(",") if s]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section {unknown[0]!r}: choose from {', '.join(SECTIONS)}")
    if ns.threads < 1:
        p.error("--threads must be at least 1")
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark modules
    from onnx_models import LIGHT
    from real_models import MODELS as REAL

    settings = _settings(ns)
    # The five real models are built with torch: by default where it is installed.
    models = settings["models"] or [*LIGHT, "mlp", "lstm", *(REAL if _torch() else ())]
    known = (*LIGHT, "mlp", "lstm", *REAL)
    bad = [m for m in models if m not in known]  # pyright: ignore
    if bad:
        p.error(f"unknown model {bad[0]!r}: choose from {', '.join(known)}")
    print(_header(ns.threads, _pin_threads(ns.threads)), flush=True)
    global QUIET_S
    QUIET_S = 0.25 if ns.threads > 1 else 0.0
    budget = settings["budget"]
    assert isinstance(budget, float)
    if "matmul" in sections:
        rows = matmul_rows(settings["matmul"], budget)  # pyright: ignore
        cols = ["n", "relay-opt GFLOP/s", "numpy GFLOP/s", "x numpy", "compile s", "max rel diff"]
        print(table("matmul n x n x n, float32", cols, rows), flush=True)
    if "conv" in sections:
        rows = conv_rows(settings["conv_limit"], budget, ns.threads)  # pyright: ignore
        cols = [
            "input",
            "kernel",
            "uses",
            "GFLOP",
            "relay-opt GFLOP/s",
            "ort GFLOP/s",
            "x ort",
            "max |diff|",
        ]
        title = "ResNet-50's distinct conv2d shapes, batch 1, one Conv each"
        print(table(title, cols, rows), flush=True)
    if "models" in sections:
        rows = model_rows(models, budget, ns.threads)  # pyright: ignore
        cols = [
            "model",
            "relay-opt ms",
            "ort ms",
            "ratio to ort",
            "numpy ms",
            "torch ms",
            "relay-opt setup s",
            "ort setup s",
            "max |diff|",
            "rel err",
        ]
        title = (
            "models, batch 1 latency (ratio to ort: lower is faster; rel err: max |diff| / "
            "max |ort|, for the five built with torch)"
        )
        print(table(title, cols, rows), flush=True)
    if "functional" in sections:
        from functional import COLUMNS as FUNCTIONAL_COLUMNS
        from functional import rows as functional_rows

        rows = functional_rows(budget)
        clock = "thread CPU" if ns.threads == 1 else "wall-clock"
        title = f"functional models, median {clock} ms (x system: its time over relay-opt's)"
        print(table(title, FUNCTIONAL_COLUMNS, rows), flush=True)
    if "math" in sections:
        rows = math_rows(settings["math_n"], budget)  # pyright: ignore
        cols = ["function", "relay-opt G/s", "numpy G/s", "x numpy", "max rel err"]
        title = (
            f"vector math over {settings['math_n']} float32 (relay-opt's and numpy's calls "
            "alternate in turns of 8; each returns a new array, as numpy's ufunc without out= "
            "does)"
        )
        print(table(title, cols, rows), flush=True)
    if "compile" in sections:
        rows = compile_rows(settings["compile_model"])  # pyright: ignore
        cols = [
            "model",
            "cache",
            "ONNX to callable s",
            "(CPU s)",
            "import s",
            "compile s",
            "Python imports s",
            "largest steps (s)",
        ]
        title = (
            "compile time, each in a fresh process (CPU s: this process's CPU time; package: "
            "load_module of the warm run's export_library, then one call)"
        )
        print(table(title, cols, rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
