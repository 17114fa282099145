"""Upstream MLIR accepts every standard-dialect stage relay-opt prints.

Each lowering stage (STAGES in lowering/relay_to_llvm.py) is printed the way
`relay-opt -p STAGE` prints it (weights in a `{-# dialect_resources #-}` section);
every stage with no Relay op or type left must parse and verify in upstream
`mlir-opt`, and the last stage (the llvm dialect) must translate with
`mlir-translate --mlir-to-llvmir`. The inputs are the example models at -O3 (what
`relay_opt.compile` lowers; examples/demo.py compiles `mnist_text()`, the mnist case)
and every program in the lit inputs (tests/lit), lowered from the stage their RUN lines
start at.

The tools are found in $RELAY_OPT_MLIR_BIN, else on PATH or in the newest
/usr/lib/llvm-*/bin (Debian's `mlir-N-tools`, N >= 19; .ci/run installs the newest); without
them this module is skipped, and the summary says so.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import MemRefType, ModuleOp, TensorType
from xdsl.ir import Attribute
from xdsl.passes import ModulePass

from relay_opt import LoadError, load_program
from relay_opt.diagnostics import RelayError
from relay_opt.lowering.relay_to_llvm import STAGES

ROOT = Path(__file__).parent.parent
LIT = ROOT / "tests" / "lit"
sys.path.insert(0, str(ROOT / "examples" / "models"))


def upstream_tool(name: str) -> str | None:
    """`name` in $RELAY_OPT_MLIR_BIN if set; else on PATH, else the newest
    /usr/lib/llvm-N/bin/`name` (Debian's layout)."""
    if "RELAY_OPT_MLIR_BIN" in os.environ:
        return shutil.which(name, path=os.environ["RELAY_OPT_MLIR_BIN"])
    found = shutil.which(name)
    if found is not None:
        return found

    def version(path: Path) -> int:
        digits = path.parent.parent.name.removeprefix("llvm-")
        return int(digits) if digits.isdigit() else -1

    candidates = sorted(Path("/usr/lib").glob(f"llvm-*/bin/{name}"), key=version)
    return str(candidates[-1]) if candidates else None


MLIR_OPT = upstream_tool("mlir-opt")
MLIR_TRANSLATE = upstream_tool("mlir-translate")
MISSING = [n for n, p in (("mlir-opt", MLIR_OPT), ("mlir-translate", MLIR_TRANSLATE)) if not p]
if MISSING:
    pytest.skip(
        f"upstream MLIR acceptance NOT TESTED: {' and '.join(MISSING)} not found (looked in "
        + (
            f"RELAY_OPT_MLIR_BIN={os.environ['RELAY_OPT_MLIR_BIN']}"
            if "RELAY_OPT_MLIR_BIN" in os.environ
            else "PATH and /usr/lib/llvm-*/bin"
        )
        + "; apt-get install mlir-22-tools, or 19 or newer)",
        allow_module_level=True,
    )

# One worker under pytest-xdist (--dist loadgroup): the lowered stages are computed once per
# model and per lit file, and shared by that input's tests.
pytestmark = pytest.mark.xdist_group("upstream_mlir")

# -- printing and lowering, as relay-opt does -----------------------------------------------


@functools.cache
def _printer() -> Callable[[ModuleOp], str]:
    from relay_opt.tools.relay_opt import RelayOptMain

    return RelayOptMain([]).output_resulting_program


def printed(module: ModuleOp) -> str:
    """The module as `relay-opt -p ...` prints it, blobs included."""
    return _printer()(module)


def has_relay(module: ModuleOp) -> bool:
    def relay_type(t: Attribute) -> bool:
        return t.name.startswith("relay.")

    for op in module.walk():
        if op.name.startswith("relay."):
            return True
        if any(relay_type(r.type) for r in op.results):
            return True
        for region in op.regions:
            for block in region.blocks:
                if any(relay_type(a.type) for a in block.args):
                    return True
    return False


@dataclass
class Stage:
    label: str  # where it comes from: model or file#chunk, and the stage's name
    text: str
    final: bool  # the llvm dialect: mlir-translate gets it too


@dataclass
class Checked:
    """The stages of some inputs, what upstream said about each, and lowering crashes."""

    stages: list[Stage] = field(default_factory=list[Stage])
    errors: dict[str, list[str]] = field(default_factory=dict[str, list[str]])
    crashes: list[str] = field(default_factory=list[str])
    stopped: list[str] = field(default_factory=list[str])  # lowering refused (unsupported)


def lower(label: str, module: ModuleOp, stages: list[ModulePass], out: Checked) -> None:
    """Run `stages`, keeping each standard-dialect stage's printed text in `out`."""
    ctx = Context()
    if not has_relay(module):
        out.stages.append(Stage(f"{label}: input", printed(module), False))
    for stage in stages:
        try:
            stage.apply(ctx, module)
            module.verify()
        except RelayError as e:  # a construct the lowering does not support yet
            out.stopped.append(f"{label}: {stage.name}: {str(e).splitlines()[0]}")
            return
        except Exception as e:  # a crash: always a bug
            out.crashes.append(f"{label}: {stage.name} crashed: {type(e).__name__}: {e}")
            return
        if not has_relay(module):
            final = stage is STAGES[-1]
            out.stages.append(Stage(f"{label}: {stage.name}", printed(module), final))


# MLIR 19 names an error's place as the split's separator line and an offset in the split;
# MLIR 20 and newer give the line in the whole file.
SPLIT = re.compile(r"within split at .*?:(\d+) offset :(\d+):(\d+): (.*)")
WHOLE_FILE = re.compile(r"\S+?\.mlir:(\d+):(\d+): (.*)")


def upstream(tool: str, args: list[str], stages: list[Stage], out: Checked) -> None:
    """Run `tool` once over all `stages` (--split-input-file); file each error under its stage."""
    if not stages:
        return
    # mlir-opt names a chunk by the line of the separator before it (1 for the first).
    starts: list[int] = []
    chunks: list[str] = []
    line = 1
    for i, s in enumerate(stages):
        chunk = s.text.rstrip("\n") + "\n"
        starts.append(line)
        chunks.append(chunk)
        line += chunk.count("\n") + (1 if i > 0 else 0)
    with tempfile.NamedTemporaryFile("w", suffix=".mlir", delete=False) as f:
        f.write("// -----\n".join(chunks))
        path = f.name
    try:
        run = subprocess.run(
            [tool, *args, "--split-input-file", path, "-o", "/dev/null"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        Path(path).unlink()
    name = Path(tool).name
    for text_line in run.stderr.splitlines():
        if m := SPLIT.match(text_line):
            separator, offset, column, message = int(m[1]), int(m[2]), m[3], m[4]
        elif m := WHOLE_FILE.match(text_line):
            line_no, column, message = int(m[1]), m[2], m[3]
            separator = max(s for s in starts if s <= line_no)
            offset = line_no - separator + 1
        else:
            continue
        if not message.startswith("error:"):
            continue
        index = max(i for i, s in enumerate(starts) if s <= separator)
        # A chunk after a separator starts with the rest of the separator's line.
        line_in_stage = offset - (1 if index > 0 else 0)
        out.errors.setdefault(stages[index].label, []).append(
            f"{name}: {line_in_stage}:{column}: {message}"
        )
    if run.returncode != 0 and not out.errors:
        out.errors.setdefault(f"{name} (whole run)", []).append(run.stderr[-2000:])


def check(out: Checked) -> Checked:
    assert MLIR_OPT is not None and MLIR_TRANSLATE is not None
    upstream(MLIR_OPT, [], out.stages, out)
    finals = [s for s in out.stages if s.final]
    translate = Checked()
    upstream(MLIR_TRANSLATE, ["--mlir-to-llvmir"], finals, translate)
    for label, errors in translate.errors.items():
        out.errors.setdefault(f"{label} (translate)", []).extend(errors)
    return out


def report(out: Checked, labels: list[str] | None = None) -> list[str]:
    """The errors filed under `labels` (all if None), and those no stage could be named for."""
    return [
        f"{label}: {e}"
        for label, errors in out.errors.items()
        if labels is None or label in labels or label.endswith("(whole run)")
        for e in errors
    ]


# -- the example models ------------------------------------------------------------------

MODELS = ("mnist", "resnet18", "gpt2")


def model_module(name: str) -> ModuleOp:
    if name == "mnist":  # examples/demo.py's model too
        from mnist import mnist_text

        text, weights = mnist_text()
    elif name == "resnet18":  # the size the other model tests compile
        from resnet import resnet_text

        text, weights, _ = resnet_text(18, image=32, classes=10)
    else:
        from gpt2 import gpt2_text

        text, weights = gpt2_text()
    meta = {"relay.Constant": weights}
    return load_program(text, "relay", filename=f"{name}.rly", meta=meta).module


@functools.cache
def model_checked(name: str) -> Checked:
    from relay_opt.passes.relay_optimize import passes_for_level

    out = Checked()
    lower(name, model_module(name), [*passes_for_level(3), *STAGES], out)
    return check(out)


STAGE_NAMES = [s.name for s in STAGES]


@pytest.mark.parametrize("stage", [*STAGE_NAMES, "translate"])
@pytest.mark.parametrize("model", MODELS)
def test_model_stage_upstream(model: str, stage: str):
    out = model_checked(model)
    assert not out.crashes, out.crashes
    assert not out.stopped, out.stopped
    name = STAGE_NAMES[-1] if stage == "translate" else stage
    assert f"{model}: {name}" in [s.label for s in out.stages], f"{name} still has Relay"
    label = f"{model}: {name}" + (" (translate)" if stage == "translate" else "")
    errors = report(out, [label])
    assert not errors, "\n".join(errors)


# -- the lit inputs ---------------------------------------------------------------------

LIT_SUFFIXES = {".mlir": "mlir", ".rly": "relay", ".onnxtxt": "onnxtxt"}
LIT_FILES = sorted(
    p for p in LIT.rglob("*") if p.suffix in LIT_SUFFIXES and "Output" not in p.parts
)
SEPARATOR = re.compile(r"^\s*(?://|#) -----.*$", re.MULTILINE)


def first_stage(text: str) -> int:
    """A lit input is written for the first lowering stage its RUN lines run (-p NAME)."""
    named = [
        STAGE_NAMES.index(n)
        for line in text.splitlines()
        if "RUN:" in line
        for n in re.findall(r"[\w-]+", line)
        if n in STAGE_NAMES
    ]
    return min(named, default=0)


@functools.cache
def lit_checked(relpath: str) -> Checked:
    path = LIT / relpath
    text = path.read_text()
    start = first_stage(text)
    out = Checked()
    for i, chunk in enumerate(SEPARATOR.split(text)):
        try:
            module = load_program(chunk, LIT_SUFFIXES[path.suffix], filename=str(path)).module
        except LoadError:  # a test of a diagnostic, not a program
            continue
        # An input with memrefs and no tensors is past bufferize whatever its RUN lines run
        # (one with both, such as a view of an object's buffer beside tensors, is not).
        types = [t for op in module.walk() for t in op.result_types]
        if any(isinstance(t, MemRefType) for t in types) and not any(
            isinstance(t, TensorType) for t in types
        ):
            start = max(start, STAGE_NAMES.index("convert-linalg-to-loops"))
        lower(f"{relpath}#{i}", module, list(STAGES[start:]), out)
    return check(out)


def upstream_major() -> int:
    """The major LLVM version of the mlir-opt in use (`Debian LLVM version 22.1.8`)."""
    assert MLIR_OPT is not None
    printed = subprocess.run([MLIR_OPT, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"LLVM version (\d+)", printed)
    return int(found.group(1)) if found else 0


# Stages holding native objects (ADTs, closures) read an object's buffer as a tensor with
# `bufferization.to_tensor %m : memref<..> to tensor<..>`, the form MLIR 20 introduced and xDSL
# prints; MLIR 19 knows only `: memref<..>` and stops at the `to` ("custom op 'to' is
# unknown"). Newer tools (.ci/run installs the newest Debian has) accept these files.
MLIR19_SYNTAX_GAPS = {
    "frontends/relay_text/roundtrip.rly",
    "lowering/objects/closures.rly",
    "lowering/objects/convert-relay-to-linalg.mlir",
    "passes/cse/cse.rly",
    "passes/gradient/errors.mlir",
    "passes/gradient/match.rly",
    "passes/lambda-lift/primitive.rly",
    "passes/to-a-normal-form/scopes.rly",
    "passes/to-graph-normal-form/graph.rly",
}
UPSTREAM_GAPS = MLIR19_SYNTAX_GAPS if upstream_major() < 20 else set()


@pytest.mark.parametrize(
    "relpath",
    [
        pytest.param(
            rel,
            marks=pytest.mark.xfail(
                strict=True, reason="MLIR 19's to_tensor syntax: see UPSTREAM_GAPS"
            ),
        )
        if rel in UPSTREAM_GAPS
        else rel
        for rel in (p.relative_to(LIT).as_posix() for p in LIT_FILES)
    ],
)
def test_lit_input_stages_upstream(relpath: str):
    out = lit_checked(relpath)
    assert not out.crashes, "\n".join(out.crashes)
    if not out.stages:
        pytest.skip(
            "no program here reaches a standard-dialect stage"
            + (f" ({out.stopped[0]})" if out.stopped else " (diagnostic tests only)")
        )
    errors = report(out)
    assert not errors, "\n".join(errors)


def test_upstream_errors_are_filed_under_their_stage():
    """The harness itself: each upstream error lands on the stage that caused it, never on a
    neighbour (one mlir-opt run checks them all), and a final stage is translated too."""
    ok = "func.func @f(%x: f32) -> f32 {\n  func.return %x : f32\n}\n"
    bad = "func.func @g(%x: f32) -> i32 {\n\n  func.return %x : f32\n}\n"
    llvm_ok = "llvm.func @h() {\n  llvm.return\n}\n"
    out = check(
        Checked(
            stages=[
                Stage("a", ok, False),
                Stage("b", bad, False),
                Stage("c", ok, False),
                Stage("d", bad, False),
                Stage("e", llvm_ok, True),
                Stage("f", ok, True),  # parses, but func.func is not LLVM IR
            ]
        )
    )
    assert sorted(out.errors) == ["b", "d", "f (translate)"]
    assert out.errors["b"] == [
        "mlir-opt: 3:3: error: type of return operand 0 ('f32') doesn't match function "
        "result type ('i32') in function @g"
    ]
    assert out.errors["f (translate)"][0].startswith("mlir-translate: ")
