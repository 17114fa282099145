"""Input fuzzing of the three tools: mutated Relay text, MLIR and ONNX models through
relay-opt, relay-translate and relay-run.

    python -m relay_opt.fuzz.inputs --format relay|mlir|onnx --count N --seed S [--first I]
        [--out DIR]

Seeds are the repository's own inputs (tests/lit's .rly and .mlir, split at `// -----`) and
small ONNX models built here with onnx.helper. Each mutant goes through all three tools,
called in-process through their `main(argv)` in a worker child process (restarted when it
dies), with a per-call budget of the child's CPU time (fuzz/budget.py). A call is a clean
error (exit 1 with a message), a success, or a finding: a Python traceback, an "internal
error", a signal, a hang, exit 0 with an error message, an exit code other than 0 and 1, an
error with no message, or an output file left behind by a failure (or a `.tmp` file by
anything). Each finding is saved under
DIR/findings/ as the input plus a `.cmd` file with the command that reproduces it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from relay_opt.fuzz.budget import POLL, Budget
from relay_opt.fuzz.mutate import mutate_onnx, mutate_text

ROOT = Path(__file__).resolve().parent.parent
EXTENSIONS = {"relay": ".rly", "mlir": ".mlir", "onnx": ".onnx"}
WORKER_MEMORY = 4 << 30
"""The worker's address-space limit: a mutant asking for a huge tensor fails in the worker
(MemoryError) instead of exhausting the machine."""

# -- seeds ---------------------------------------------------------------------------------


def _strip_comments(text: str) -> str:
    """Lit's RUN/CHECK lines and other whole-line comments, which mutations would waste time on."""
    return "".join(
        line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("//")
    )


def text_seeds(fmt: str) -> list[tuple[str, bytes]]:
    """(name, text) of every .rly or .mlir file under tests/lit and examples, one per
    `// -----` chunk."""
    ext = EXTENSIONS[fmt]
    seeds = []
    files = sorted((ROOT / "tests" / "lit").rglob(f"*{ext}")) + sorted(
        (ROOT / "examples").rglob(f"*{ext}")
    )
    for path in files:
        if "Output" in path.parts:  # lit's own outputs
            continue
        text = path.read_text(encoding="utf-8")
        chunks = re.split(r"^// -----.*$", text, flags=re.M)
        for i, chunk in enumerate(chunks):
            body = _strip_comments(chunk).strip()
            if not body:
                continue
            if fmt == "relay" and "#[version" not in body:
                body = '#[version = "0.0.5"]\n' + body
            seeds.append((f"{path.relative_to(ROOT)}#{i}", (body + "\n").encode()))
    return seeds


def onnx_seeds() -> list[tuple[str, bytes]]:
    """Small ONNX models, one per family of converters, and the ONNX text seeds of tests/lit."""
    import numpy as np
    import onnx
    import onnx.parser
    from onnx import TensorProto, helper, numpy_helper

    F = TensorProto.FLOAT
    rng = np.random.default_rng(0)

    def w(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    def ints(name: str, values: list[int]) -> onnx.TensorProto:
        return numpy_helper.from_array(np.array(values, dtype=np.int64), name)

    def vi(name: str, shape: list[int], dtype: int = F) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, dtype, shape)

    def model(name: str, nodes, inputs, outputs, inits=(), opset: int = 13) -> bytes:  # noqa: ANN001
        graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 8
        return m.SerializeToString()

    n = helper.make_node
    seeds = [
        (
            "cnn",
            model(
                "cnn",
                [
                    n("Conv", ["x", "cw", "cb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                    n(
                        "BatchNormalization",
                        ["c", "s", "bb", "m", "v"],
                        ["bn"],
                        epsilon=1e-5,
                    ),
                    n("Relu", ["bn"], ["r"]),
                    n("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                    n("Flatten", ["p"], ["f"], axis=1),
                    n("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
                ],
                [vi("x", [1, 2, 6, 6])],
                [vi("y", [1, 3])],
                [
                    w("cw", 4, 2, 3, 3),
                    w("cb", 4),
                    w("s", 4),
                    w("bb", 4),
                    w("m", 4),
                    numpy_helper.from_array(np.ones(4, np.float32), "v"),
                    w("fw", 3, 36),
                    w("fb", 3),
                ],
            ),
        ),
        (
            "shape-subgraph",
            model(
                "shapes",
                [
                    n("Shape", ["x"], ["s"]),
                    n("Gather", ["s", "zero"], ["b"], axis=0),
                    n("Unsqueeze", ["b", "axes"], ["bu"]),
                    n("Concat", ["bu", "minus1"], ["ns"], axis=0),
                    n("Reshape", ["x", "ns"], ["y"]),
                ],
                [vi("x", [2, 3, 4])],
                [vi("y", [2, 12])],
                [
                    numpy_helper.from_array(np.array(0, np.int64), "zero"),
                    ints("axes", [0]),
                    ints("minus1", [-1]),
                ],
            ),
        ),
        (
            "attention-ish",
            model(
                "att",
                [
                    n("MatMul", ["q", "kt"], ["s"]),
                    n("Add", ["s", "bias"], ["sb"]),
                    n("Softmax", ["sb"], ["p"], axis=-1),
                    n("Transpose", ["p"], ["y"], perm=[1, 0]),
                ],
                [vi("q", [4, 8]), vi("kt", [8, 5])],
                [vi("y", [5, 4])],
                [w("bias", 5)],
            ),
        ),
        (
            "slices",
            model(
                "slices",
                [
                    n("Split", ["x", "split"], ["a", "b"], axis=1),
                    n("Slice", ["a", "st", "en", "ax", "stp"], ["sa"]),
                    n("Concat", ["sa", "b"], ["c"], axis=1),
                    n("Pad", ["c", "pads"], ["y"], mode="constant"),
                ],
                [vi("x", [2, 6])],
                [vi("y", [4, 6])],
                [
                    ints("split", [4, 2]),
                    ints("st", [0]),
                    ints("en", [4]),
                    ints("ax", [1]),
                    ints("stp", [1]),
                    ints("pads", [1, 0, 1, 0]),
                ],
            ),
        ),
        (
            "lstm",
            model(
                "lstm",
                [n("LSTM", ["x", "W", "R", "B"], ["y", "yh"], hidden_size=2)],
                [vi("x", [2, 1, 3])],
                [vi("y", [2, 1, 1, 2]), vi("yh", [1, 1, 2])],
                [w("W", 1, 8, 3), w("R", 1, 8, 2), w("B", 1, 16)],
            ),
        ),
        (
            "einsum",
            model(
                "einsum",
                [n("Einsum", ["a", "b"], ["y"], equation="bij,bjk->bik")],
                [vi("a", [2, 3, 4]), vi("b", [2, 4, 5])],
                [vi("y", [2, 3, 5])],
            ),
        ),
        (
            "reductions",
            model(
                "reduce",
                [
                    n("ReduceMean", ["x"], ["m"], axes=[1], keepdims=1),
                    n("Sub", ["x", "m"], ["d"]),
                    n("ReduceSum", ["d", "axes"], ["s"], keepdims=0),
                    n("ArgMax", ["x"], ["am"], axis=1, keepdims=0),
                    n("Cast", ["am"], ["y2"], to=TensorProto.FLOAT),
                    n("Add", ["s", "y2"], ["y"]),
                ],
                [vi("x", [3, 4])],
                [vi("y", [3])],
                [ints("axes", [1])],
            ),
        ),
        (
            "gather-where",
            model(
                "gw",
                [
                    n("Gather", ["x", "idx"], ["g"], axis=0),
                    n("Greater", ["g", "zero"], ["c"]),
                    n("Where", ["c", "g", "zero"], ["wh"]),
                    n("Clip", ["wh", "lo", "hi"], ["y"]),
                ],
                [vi("x", [5, 3])],
                [vi("y", [2, 3])],
                [
                    ints("idx", [4, 1]),
                    numpy_helper.from_array(np.array(0, np.float32), "zero"),
                    numpy_helper.from_array(np.array(-1, np.float32), "lo"),
                    numpy_helper.from_array(np.array(1, np.float32), "hi"),
                ],
            ),
        ),
        (
            "pool-resize",
            model(
                "pr",
                [
                    n("AveragePool", ["x"], ["a"], kernel_shape=[2, 2], strides=[1, 1]),
                    n("Resize", ["a", "", "scales"], ["r"], mode="nearest"),
                    n("GlobalAveragePool", ["r"], ["y"]),
                ],
                [vi("x", [1, 1, 5, 5])],
                [vi("y", [1, 1, 1, 1])],
                [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")],
            ),
        ),
        (
            "constants",
            model(
                "consts",
                [
                    n("Constant", [], ["k"], value=w("kv", 1, 3)),
                    n("Expand", ["k", "shape"], ["e"]),
                    n("Tile", ["x", "reps"], ["t"]),
                    n("Mul", ["e", "t"], ["m"]),
                    n("TopK", ["m", "kk"], ["y", "yi"], axis=1),
                ],
                [vi("x", [2, 1])],
                [vi("y", [2, 2]), vi("yi", [2, 2], TensorProto.INT64)],
                [ints("shape", [2, 3]), ints("reps", [1, 3]), ints("kk", [2])],
            ),
        ),
        (
            "conv-transpose-gru",
            model(
                "ctg",
                [
                    n("GRU", ["x", "W", "R"], ["y", "yh"], hidden_size=3, linear_before_reset=1),
                    n("Squeeze", ["yh", "ax0"], ["h"]),
                    n("Unsqueeze", ["h", "ax1"], ["hu"]),
                    n("ConvTranspose", ["hu", "cw"], ["ct"], strides=[2]),
                    n("LeakyRelu", ["ct"], ["z"], alpha=0.1),
                ],
                [vi("x", [3, 1, 2])],
                [vi("z", [1, 2, 5])],
                [
                    w("W", 1, 9, 2),
                    w("R", 1, 9, 3),
                    ints("ax0", [0]),
                    ints("ax1", [1]),
                    w("cw", 1, 2, 3),
                ],
            ),
        ),
    ]
    for path in sorted((ROOT / "tests" / "lit").rglob("*.onnxtxt")):
        for i, chunk in enumerate(re.split(r"^// -----.*$", path.read_text(), flags=re.M)):
            lines = chunk.splitlines(keepends=True)
            body = "".join(line for line in lines if not line.startswith("#"))
            with contextlib.suppress(Exception):  # the seeds of error tests may not parse
                proto = onnx.parser.parse_model(body)
                seeds.append((f"{path.relative_to(ROOT)}#{i}", proto.SerializeToString()))
    return seeds


def seeds_of(fmt: str) -> list[tuple[str, bytes]]:
    return onnx_seeds() if fmt == "onnx" else text_seeds(fmt)


# -- the commands --------------------------------------------------------------------------


FUNCTION = re.compile(rb"(?:def|relay\.func|func\.func)\s+@([A-Za-z_]\w*)")


def commands(
    fmt: str, rng: random.Random, inp: str, out: str, data: bytes = b""
) -> list[tuple[str, list[str]]]:
    """The three tools' command lines for one mutant (options vary with the mutant);
    relay-run runs the first function of a text that has no @main."""
    opt = rng.choice(([], ["-O3"], ["-O1"], ["-p", "relay-to-llvm"], ["-p", "fuse-ops,defuse-ops"]))
    if fmt == "onnx":
        translate = rng.choice((["--import-onnx"], ["--import-onnx"], ["--emit-llvm"]))
    elif fmt == "relay":
        translate = rng.choice((["--import-relay"], ["--export-relay"], ["--emit-llvm"]))
    else:
        translate = rng.choice((["--export-relay"], ["--emit-llvm"]))
    run = rng.choice((["--interpret"], ["--interpret"], [], ["-O0"]))
    names = [m.decode() for m in FUNCTION.findall(data)]
    if names and "main" not in names:
        run += ["--entry", names[0]]
    return [
        ("relay-opt", [inp, *opt, "-o", out + ".mlir"]),
        ("relay-translate", [*translate, inp, "-o", out + ".txt"]),
        ("relay-run", [inp, "--fill-mode", "random", *run, "-o", out + ".npz"]),
    ]


# -- the worker ----------------------------------------------------------------------------


def _tool(name: str) -> Callable[[list[str]], int]:
    from relay_opt.tools import relay_opt, relay_run, relay_translate

    return {
        "relay-opt": relay_opt.main,
        "relay-translate": relay_translate.main,
        "relay-run": relay_run.main,
    }[name]


def _worker(conn: Connection) -> None:
    """Run tool calls received on `conn`, reply (exit code, stdout length, stderr, traceback)."""
    import resource

    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    os.environ.pop("RELAY_OPT_TRACEBACK", None)
    for name in ("relay-opt", "relay-translate", "relay-run"):
        _tool(name)  # import everything once, before the first timed call
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        tool, argv = request
        out, err = io.StringIO(), io.StringIO()
        escaped = ""
        code: int | None
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = _tool(tool)(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:  # noqa: BLE001 - whatever escapes main() is the finding
            code = None
            escaped = traceback.format_exc()
        conn.send((code, len(out.getvalue()), err.getvalue()[-4000:], escaped[-6000:]))


class Worker:
    """A persistent child process running tool calls, restarted when it dies or hangs."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.process: BaseProcess | None = None
        self.conn: Any = None  # a Connection (the stubs call the Pipe's end a PipeConnection)
        self.restarts = 0

    def _start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_worker, args=(child,), daemon=True)
        process.start()
        child.close()
        self.process, self.conn = process, parent

    def _kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.join()
        if self.conn is not None:
            self.conn.close()
        self.process, self.conn = None, None
        self.restarts += 1

    def call(self, tool: str, argv: list[str]) -> tuple[str, tuple]:
        """("done", reply), ("signal", (signal number,)) or ("hang", ())."""
        if self.process is None:
            self._start()
        assert self.conn is not None and self.process is not None
        self.conn.send((tool, argv))
        # The first call after a start also imports the tools: allow for that. The budget is
        # the child's CPU time, so a loaded machine does not turn slow calls into hangs.
        assert self.process.pid is not None
        budget = Budget(self.process.pid, self.timeout + (30 if self.restarts == 0 else 10))
        while not budget.exceeded():
            if self.conn.poll(POLL):
                try:
                    return "done", self.conn.recv()
                except EOFError:
                    break
            if not self.process.is_alive():
                break
        if self.process.is_alive():
            self._kill()
            return "hang", ()
        self.process.join()
        code = self.process.exitcode or 0
        self._kill()
        return "signal", (-code,)

    def close(self) -> None:
        if self.process is not None:
            self._kill()


# -- classification ------------------------------------------------------------------------


@dataclass
class Finding:
    kind: str
    tool: str
    argv: list[str]
    index: int
    seed_name: str
    mutations: list[str]
    detail: str

    def signature(self) -> str:
        """What tells findings apart: the kind, the tool and the message without numbers."""
        lines = [
            line for line in self.detail.strip().splitlines() if line.strip() and "^" not in line
        ]
        last = lines[-1] if lines else ""
        if self.kind == "traceback":
            last = lines[-1] if lines else ""
        elif lines:
            last = next((line for line in lines if "error" in line), lines[0])
        last = re.sub(r"\d+", "N", last.split("input")[-1])[:160]
        return f"{self.kind} {self.tool}: {last}"


def classify(outcome: str, reply: tuple, produced: list[str], output: str) -> tuple[str, str]:
    """(class, detail): class is "success", "error" (clean) or a finding's kind."""
    if outcome == "hang":
        return "hang", "no answer within the timeout"
    if outcome == "signal":
        return "signal", f"the worker died by signal {reply[0]}"
    code, _stdout_len, stderr, escaped = reply
    if escaped or "Traceback (most recent call last)" in stderr:
        return "traceback", escaped or stderr
    if "internal error" in stderr:
        return "internal-error", stderr
    leftovers = [p for p in produced if p.endswith(".tmp")]
    if leftovers:
        return "half-written", f"left behind: {', '.join(leftovers)}\n{stderr}"
    if code == 0:
        if re.search(r"\berror:", stderr):
            return "exit0-error", stderr
        return "success", ""
    if code != 1:
        return "bad-exit", f"exit code {code}\n{stderr}"
    if not stderr.strip():
        return "silent-error", "exit 1 with no message"
    if os.path.exists(output):
        return "half-written", f"{output} written by a failing call\n{stderr}"
    return "error", stderr


@dataclass
class Report:
    fmt: str
    count: int = 0
    calls: int = 0
    classes: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    restarts: int = 0

    def summary(self) -> str:
        signatures = Counter(f.signature() for f in self.findings)
        lines = [
            f"{self.fmt}: {self.count} inputs, {self.calls} tool calls in {self.seconds:.0f} s; "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.classes.items()))
            + f"; worker restarts {self.restarts}",
            f"findings: {len(self.findings)} ({len(signatures)} distinct)",
        ]
        lines += [f"  {n:5d}  {s}" for s, n in signatures.most_common()]
        return "\n".join(lines) + "\n"


def mutants(
    fmt: str, count: int, seed: int, first: int = 0
) -> Iterator[tuple[int, str, bytes, list[str]]]:
    """(index, seed name, mutant, mutations) for `count` mutants of `seed` from index `first`
    (each mutant depends on its index only, so a long run splits into chunks)."""
    seeds = seeds_of(fmt)
    mutate = mutate_onnx if fmt == "onnx" else mutate_text
    for index in range(first, first + count):
        rng = random.Random(f"{seed}:{fmt}:{index}")
        name, data = rng.choice(seeds)
        mutant, names = mutate(rng, data)
        yield index, name, mutant, names


def run(
    fmt: str,
    count: int,
    seed: int,
    out_dir: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
    ignore: Callable[[Finding], bool] = lambda _: False,
    progress: bool = False,
    rotate: bool = False,
    first: int = 0,
) -> Report:
    """Fuzz `count` mutants of `fmt`; findings (but those `ignore` accepts) are saved under
    out_dir/findings when out_dir is given. `rotate` sends each mutant through one tool
    only, in turn (a third of the calls, for quick runs)."""
    report = Report(fmt)
    worker = Worker(timeout)
    work = Path(tempfile.mkdtemp(prefix="relay-fuzz-"))
    started = time.monotonic()
    ext = EXTENSIONS[fmt]
    try:
        for index, seed_name, data, names in mutants(fmt, count, seed, first):
            report.count += 1
            inp = str(work / f"input{ext}")
            Path(inp).write_bytes(data)
            rng = random.Random(f"{seed}:{fmt}:{index}:commands")
            calls = commands(fmt, rng, inp, str(work / "out"), data)
            if rotate:
                calls = [calls[index % len(calls)]]
            for tool, argv in calls:
                output = argv[-1]
                outcome, reply = worker.call(tool, argv)
                produced = [p.name for p in work.iterdir() if p.name != Path(inp).name]
                kind, detail = classify(outcome, reply, produced, output)
                for p in work.iterdir():
                    if p.name != Path(inp).name:
                        p.unlink()
                report.calls += 1
                report.classes[kind] += 1
                if kind in ("success", "error"):
                    continue
                finding = Finding(kind, tool, argv, index, seed_name, names, detail)
                if ignore(finding):
                    report.classes[kind] -= 1
                    report.classes["ignored"] += 1
                    continue
                report.findings.append(finding)
                if out_dir is not None:
                    _save(Path(out_dir), fmt, seed, finding, data, inp)
            if progress and report.count % 500 == 0:
                report.seconds = time.monotonic() - started
                report.restarts = worker.restarts
                sys.stderr.write(report.summary().partition("\n")[0] + "\n")
    finally:
        worker.close()
        shutil.rmtree(work, ignore_errors=True)
    report.seconds = time.monotonic() - started
    report.restarts = worker.restarts
    return report


def _save(out_dir: Path, fmt: str, seed: int, finding: Finding, data: bytes, inp: str) -> None:
    """The mutant and the command that reproduces it (with the tool's name in front)."""
    findings = out_dir / "findings"
    findings.mkdir(parents=True, exist_ok=True)
    stem = f"{fmt}-{seed}-{finding.index}-{finding.tool}-{finding.kind}"
    path = findings / (stem + EXTENSIONS[fmt])
    path.write_bytes(data)
    argv = [str(path) if a == inp else a for a in finding.argv]
    argv = [re.sub(r".*/out\.", "/tmp/fuzz-out.", a) for a in argv]
    command = " ".join([finding.tool, *argv])
    (findings / (stem + ".cmd")).write_text(
        f"{command}\n# seed input: {finding.seed_name}; mutations: {', '.join(finding.mutations)}"
        f"\n# the mutant again (same source tree): python -m relay_opt.fuzz.inputs --format {fmt} "
        f"--seed {seed} --only {finding.index}\n\n{finding.detail}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m relay_opt.fuzz.inputs", description=(__doc__ or "").partition("\n")[0]
    )
    p.add_argument("--format", choices=tuple(EXTENSIONS), required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--first", type=int, default=0, help="index of the first mutant")
    p.add_argument("--out", default=None, help="save findings under OUT/findings")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="CPU seconds per tool call (wall: 5 times)"
    )
    p.add_argument("--rotate", action="store_true", help="each mutant through one tool, in turn")
    p.add_argument(
        "--only", type=int, default=None, metavar="I", help="write mutant I to --out and stop"
    )
    ns = p.parse_args(argv)
    if ns.only is not None:
        for index, name, data, names in mutants(ns.format, 1, ns.seed, ns.only):
            if index == ns.only:
                target = Path(ns.out or ".") / f"mutant-{ns.seed}-{index}{EXTENSIONS[ns.format]}"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                print(f"{target} (from {name}: {', '.join(names)})")
        return 0
    report = run(
        ns.format,
        ns.count,
        ns.seed,
        ns.out,
        ns.timeout,
        progress=True,
        rotate=ns.rotate,
        first=ns.first,
    )
    sys.stdout.write(report.summary())
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
