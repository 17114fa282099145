"""Imports point down the pipeline: every module of relay_opt is parsed (with `ast`) and each
import of another part of the package must appear in LAYERS. Imports inside functions count."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

UTILITIES = {"diagnostics", "timing", "host"}
"""Top-level helper modules that any part may import; they import no other part."""

# Each part of relay_opt and the parts it may import (besides UTILITIES, xDSL, numpy, the
# standard library and the installed packages a frontend or the JIT wraps).
LAYERS: dict[str, set[str]] = {
    "diagnostics": set(),
    "timing": set(),
    "host": set(),
    "dialects": set(),  # the bottom: only xdsl, numpy (with ml_dtypes) and the standard library
    "frontends": {"dialects"},  # not passes: a frontend parses, the loader type-checks
    "passes": {"dialects"},  # not frontends
    "lowering": {"dialects", "passes"},
    "universe": {"dialects"},  # names the passes by string, importing them when used
    "loader": {"dialects", "frontends", "passes"},
    "runtime": {"dialects", "passes", "lowering", "frontends"},  # onnx_backend imports models
    "relay_opt": {"loader", "runtime"},  # the package's own __init__: the lazy public API
    "tools": {
        "relay_opt",
        "dialects",
        "frontends",
        "passes",
        "lowering",
        "universe",
        "loader",
        "runtime",
    },
    # The tvm.relay API (relay/) builds programs and hands them to the loader's type check,
    # the passes and the runtime; the tvm.* names (tvm/) wrap it.
    "relay": {"relay_opt", "dialects", "frontends", "passes", "loader", "runtime"},
    "tvm": {"relay"},
    # The fuzzers sit at the top (nothing imports them): they run everything, the tools too.
    "fuzz": {
        "relay_opt",
        "tools",
        "dialects",
        "frontends",
        "passes",
        "lowering",
        "universe",
        "loader",
        "runtime",
    },
}

KNOWN_EXCEPTIONS: set[tuple[str, str]] = {
    # The ONNX sequence helpers are Relay text whose let-bound values are untyped; they are
    # type-checked while importing. To remove: write their types out, or have the loader
    # check them with the rest of the module.
    ("relay_opt.frontends.onnx.sequences", "relay_opt.loader"),
}
"""(module, imported module) pairs that break the layering today, to be removed."""

# ml_dtypes is numpy's companion for the dtypes numpy lacks (bfloat16, float8, int4): a core
# dependency, and the operators' numpy semantics need it for bfloat16 results.
EXTERNAL_FOR_DIALECTS = {"xdsl", "numpy", "ml_dtypes"}


def package_parts() -> set[str]:
    """The parts of relay_opt: its subpackages (pyproject.toml) and its top-level modules."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = config["tool"]["setuptools"]["packages"]
    parts = {p.split(".")[1] for p in packages if p.count(".") >= 1}
    parts |= {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
    return parts


def modules() -> dict[str, Path]:
    """Every module of relay_opt by its dotted name."""
    found = {"relay_opt": ROOT / "__init__.py"}
    for part in package_parts():
        path = ROOT / f"{part}.py"
        if path.exists():
            found[f"relay_opt.{part}"] = path
            continue
        for file in (ROOT / part).rglob("*.py"):
            rel = file.relative_to(ROOT).with_suffix("")
            name = ".".join(("relay_opt", *rel.parts)).removesuffix(".__init__")
            found[name] = file
    return found


def part_of(module: str) -> str:
    """`relay_opt.passes.fuse_ops` -> `passes`; the package and the names of its __init__
    (`relay_opt.__version__`) -> `relay_opt`."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 and pieces[1] in package_parts() else "relay_opt"


def imports(module: str, source: str, is_package: bool = False) -> list[tuple[str, int]]:
    """The modules `source` imports (absolute names) with their line, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            if base == "relay_opt":  # `from relay_opt import loader` imports relay_opt.loader
                found += [(f"relay_opt.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((base, node.lineno))
    return found


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    part = part_of(module)
    allowed = LAYERS[part] | UTILITIES
    bad = []
    for target, line in imports(module, source, is_package):
        where = f"{module}:{line} imports {target}"
        if target.split(".")[0] != "relay_opt":
            top = target.split(".")[0]
            standard = set(sys.stdlib_module_names)
            if part == "dialects" and top not in EXTERNAL_FOR_DIALECTS | standard:
                bad.append(
                    f"{where}: the dialect uses only xdsl, numpy, ml_dtypes and the standard library"
                )
            continue
        target_part = part_of(target)
        if target_part == part:
            if part == "tools":
                bad.append(f"{where}: the tools do not import each other")
        elif target_part not in allowed and (module, target) not in KNOWN_EXCEPTIONS:
            bad.append(f"{where}: {part} may import only {', '.join(sorted(allowed))}")
    return bad


def test_every_part_has_a_layer():
    assert package_parts() - set(LAYERS) == set()


def test_imports_point_down_the_pipeline():
    bad = []
    for name, path in sorted(modules().items()):
        bad += violations(name, path.read_text(), path.name == "__init__.py")
    assert bad == []


def test_the_known_exceptions_are_still_needed():
    edges = set()
    for name, path in modules().items():
        edges |= {(name, t) for t, _ in imports(name, path.read_text(), path.name == "__init__.py")}
    assert KNOWN_EXCEPTIONS - edges == set(), "an exception is gone: remove it from the table"


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("relay_opt.dialects.relay.core", "from relay_opt.passes.fuse_ops import FuseOpsPass"),
        ("relay_opt.frontends.relay_text", "def f():\n    from relay_opt.passes import dce"),
        ("relay_opt.passes.dce", "import relay_opt.lowering.bufferize"),
        ("relay_opt.lowering.bufferize", "from relay_opt.runtime.jit import compile"),
        ("relay_opt.runtime.jit", "from relay_opt.tools.relay_run import main"),
        ("relay_opt.tools.relay_run", "from relay_opt.tools.relay_opt import run_tool"),
        ("relay_opt.dialects.relay.core", "import onnx"),
        ("relay_opt.passes.dce", "from ..lowering import bufferize"),
        ("relay_opt.diagnostics", "from relay_opt import loader"),
    ],
)
def test_an_upward_import_is_caught(module: str, source: str):
    assert violations(module, source)
