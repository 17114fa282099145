"""How much of TVM's own Relay text relay-opt reads: per program, parse / type-check /
interpreter run / compile, with the first error of the first step that fails.

    python benchmarks/tvm_programs.py DIR [DIR...] [--no-compile] [--verbose]

A DIR holds `.rly` files (each one program) and Python files (TVM's tests): from these the
script takes the Relay text passed, as a literal, to TVM's parsing functions
(`tvm.parser.parse`, `fromtext`, `parse_expr`, and the `parse_module` /
`assert_parse_module_as` helpers of TVM's parser tests, which put the version header in
front). Get the files from a TVM checkout (e.g. v0.17's `python/tvm/relay/std/*.rly` and
`tests/python/relay/*.py`) into a directory outside this repository; nothing of them is
kept here.

"run" calls @main in the reference interpreter with random inputs (tensors, and `List`s of
them); a program without a @main (a library) or whose @main takes something else counts as
"-". "compile" JIT-compiles that @main at -O1 and compares with the interpreter.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEMVER = '#[version = "0.0.5"]\n'
PARSERS = {"parse", "fromtext", "parse_expr"}
HEADER_ADDING = {"parse_module", "assert_parse_module_as"}


@dataclass
class Source:
    name: str
    text: str


def _literal(node: ast.expr, env: dict[str, str]) -> str | None:
    """A string expression made of literals and names bound to literals, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, env), _literal(node.right, env)
        return None if left is None or right is None else left + right
    return None


def _bindings(stmts: list[ast.stmt], env: dict[str, str]) -> dict[str, str]:
    env = dict(env)
    for s in stmts:
        for node in ast.walk(s):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                value = _literal(node.value, env)
                if value is not None:
                    env[node.targets[0].id] = value
    return env


# A docstring or string statement that holds a program (TVM's tests show the expected
# Relay text in them) starts with one of these.
PROGRAM_START = re.compile(r"\s*(#\[version|def @|fn \(|free_var %|type \w+)")


def programs_in_python(path: Path) -> Iterator[Source]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module_env = _bindings([s for s in tree.body if isinstance(s, ast.Assign)], {})
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            and PROGRAM_START.match(node.value.value)
        ):
            yield Source(f"{path.name}:{node.lineno}", textwrap.dedent(node.value.value))
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or fn.name in HEADER_ADDING:
            continue
        env = _bindings(fn.body, module_env)
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in PARSERS | HEADER_ADDING:
                continue
            text = _literal(node.args[0], env)
            if text is None:
                continue
            if name in HEADER_ADDING:
                text = SEMVER + text
            yield Source(f"{path.name}:{node.lineno}:{fn.name}", text)


def programs_in(dirs: list[Path]) -> list[Source]:
    found: list[Source] = []
    for d in dirs:
        for path in sorted(d.iterdir()):
            if path.suffix == ".rly":
                found.append(Source(path.name, path.read_text(encoding="utf-8")))
            elif path.suffix == ".py":
                found.extend(programs_in_python(path))
    return found


def _random_value(t, rng: np.random.Generator):  # noqa: ANN001, ANN202
    """A random value of type `t`: a tensor, a tuple of values, a List of 0..4 values."""
    from xdsl.dialects.builtin import TensorType, TupleType

    from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
    from relay_opt.dialects.relay.types import ADTType, tensor_dtype
    from relay_opt.runtime.values import to_adt_list

    if isinstance(t, TensorType):
        shape = tuple(t.get_shape())
        if any(d < 0 for d in shape):
            raise TypeError(f"an input with ? dims ({t})")
        dtype = numpy_dtype(tensor_dtype(t))
        if dtype.kind == "f":
            return rng.standard_normal(shape).astype(dtype)
        if dtype.kind == "b":
            return rng.integers(0, 2, shape).astype(dtype)
        return rng.integers(0, 10, shape).astype(dtype)
    if isinstance(t, TupleType):
        return tuple(_random_value(e, rng) for e in t.types.data)
    if isinstance(t, ADTType) and t.adt_name == "List" and len(t.args.data) == 1:
        return to_adt_list(_random_value(t.args.data[0], rng) for _ in range(rng.integers(0, 5)))
    raise TypeError(f"an input of type {t}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    lines = text.splitlines()
    return lines[0] if len(lines) == 1 or "error" in lines[0] else " / ".join(lines[:2])


def check(src: Source, compile_too: bool) -> tuple[list[str], str]:
    """The steps passed ("parse", "typecheck", "run", "compile"; "-" for not applicable) and
    the first error."""
    from relay_opt import load_program
    from relay_opt.dialects.relay.ir_helpers import functions_by_name
    from relay_opt.runtime import jit
    from relay_opt.runtime.interpreter import interpret
    from relay_opt.runtime.values import same_value

    steps: list[str] = []
    try:
        program = load_program(src.text, "relay", filename=src.name, type_checked=False)
    except Exception as e:  # noqa: BLE001 (a report, not a program: every failure is a row)
        return steps, _first_line(e)
    steps.append("parse")
    try:
        program = load_program(src.text, "relay", filename=src.name)
    except Exception as e:  # noqa: BLE001
        return steps, _first_line(e)
    steps.append("typecheck")
    main = functions_by_name(program.module).get("main")
    if main is None:
        return [*steps, "-", "-"], "no @main"
    rng = np.random.default_rng(0)
    try:
        inputs = [_random_value(a.type, rng) for a in main.args]
    except TypeError as e:
        return [*steps, "-", "-"], f"not run: {e}"
    try:
        want = interpret(program.module, inputs)
    except Exception as e:  # noqa: BLE001
        return steps, _first_line(e)
    steps.append("run")
    if not compile_too:
        return steps, ""
    try:
        got = jit.compile(program.module, opt=1, cache=False)(*inputs)  # pyright: ignore[reportArgumentType]
    except Exception as e:  # noqa: BLE001
        return steps, _first_line(e)
    if not same_value(got, want, rtol=1e-4, atol=1e-5):
        return steps, "compiled result differs from the interpreter's"
    steps.append("compile")
    return steps, ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--no-compile", action="store_true", help="stop after the interpreter run")
    ap.add_argument("--verbose", action="store_true", help="print every row, not only failures")
    ns = ap.parse_args(argv)
    sources = programs_in(ns.dirs)
    steps_named = ("parse", "typecheck", "run", "compile")
    counts: dict[str, int] = dict.fromkeys(steps_named, 0)
    not_applicable: dict[str, int] = dict.fromkeys(steps_named, 0)
    for src in sources:
        steps, error = check(src, not ns.no_compile)
        for i, step in enumerate(steps):
            key = steps_named[i]
            if step == "-":
                not_applicable[key] += 1
            else:
                counts[key] += 1
        passed = [s for s in steps if s != "-"]
        if ns.verbose or (error and not error.startswith(("no @main", "not run"))):
            print(f"{src.name}: {'/'.join(passed) or 'nothing'}: {error or 'ok'}")
    print(
        f"{len(sources)} programs: {counts['parse']} parse, {counts['typecheck']} type-check, "
        f"{counts['run']} run in the interpreter ({not_applicable['run']} not runnable: no @main "
        f"or inputs it cannot make), {counts['compile']} compile and match"
        + (" (not tried)" if ns.no_compile else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
