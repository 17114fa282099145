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

"run" calls @main in the reference interpreter with random inputs (tensors, with 3 for each
`?` dimension, tuples and `List`s of them); "compile" JIT-compiles that @main at -O1 and
compares with the interpreter. A program counts as "-" (not applicable), with the reason in
the report, when it has no @main (a library: TVM's `std` files, ADT definitions), when @main
takes a function (there is no random function), or when TVM's test hands the parser a
metadata table or a module from Python (`meta[VirtualDevice][0]`, a global defined in the
module passed) and the text does not stand alone.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEMVER = '#[version = "0.0.5"]\n'
# TVM's parsing functions and the expression helpers of its parser tests (`parse_text`,
# `assert_parses_as`, which call parse_expr).
PARSERS = {"parse", "fromtext", "parse_expr", "parse_text", "assert_parses_as"}
SYNTAX_ONLY = {"parse_expr", "parse_text", "assert_parses_as"}
HEADER_ADDING = {"parse_module", "assert_parse_module_as"}


@dataclass
class Source:
    name: str
    text: str
    needs: str = ""
    """What TVM's test passes the parser besides the text ("" for nothing)."""
    refused: bool = False
    """TVM's test expects the parser to refuse it (the call is in `pytest.raises`)."""
    syntax_only: bool = False
    """TVM's test only parses it (`parse_expr` does not type-check): it may be ill-typed."""


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
    grown: set[str] = set()  # `text += ...` (in a loop): not a literal
    for s in stmts:
        for node in ast.walk(s):
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                grown.add(node.target.id)
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                value = _literal(node.value, env)
                if value is not None:
                    env[node.targets[0].id] = value
    return {k: v for k, v in env.items() if k not in grown}


def _passed_from_python(call: ast.Call) -> str:
    """What a `tvm.relay.parse(source, source_name, init_module, init_meta_table)` call gives
    besides the text."""

    def given(position: int, keyword: str) -> bool:
        arg = call.args[position] if len(call.args) > position else None
        for kw in call.keywords:
            if kw.arg == keyword:
                arg = kw.value
        return arg is not None and not (isinstance(arg, ast.Constant) and arg.value is None)

    if given(3, "init_meta_table"):
        return "a metadata table from Python"
    if given(2, "init_module"):
        return "a module from Python"
    return ""


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
    seen: set[int] = set()  # a call in a nested function is taken once, in the outer one
    refused = {
        id(node)
        for w in ast.walk(tree)
        if isinstance(w, ast.With) and any("raises" in ast.unparse(i.context_expr) for i in w.items)
        for s in w.body
        for node in ast.walk(s)
    }
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or fn.name in HEADER_ADDING | PARSERS:
            continue
        env = _bindings(fn.body, module_env)
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call) or not node.args or id(node) in seen:
                continue
            seen.add(id(node))
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in PARSERS | HEADER_ADDING:
                continue
            text = _literal(node.args[0], env)
            if text is None:
                continue
            if name in HEADER_ADDING:
                text = SEMVER + text
            needs = _passed_from_python(node) if name in PARSERS else ""
            yield Source(
                f"{path.name}:{node.lineno}:{fn.name}",
                text,
                needs,
                id(node) in refused,
                name in SYNTAX_ONLY,
            )


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
    from xdsl.dialects.builtin import FunctionType, TensorType, TupleType

    from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
    from relay_opt.dialects.relay.types import ADTType, tensor_dtype
    from relay_opt.runtime.values import to_adt_list

    if isinstance(t, TensorType):
        shape = tuple(d if d >= 0 else 3 for d in t.get_shape())
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
    if isinstance(t, FunctionType):
        raise TypeError("@main takes a function")
    raise TypeError(f"@main takes a {t}")


def _holds_a_function(t) -> bool:  # noqa: ANN001
    from xdsl.dialects.builtin import FunctionType, TupleType

    if isinstance(t, TupleType):
        return any(_holds_a_function(e) for e in t.types.data)
    return isinstance(t, FunctionType)


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
    if src.refused:
        try:
            load_program(src.text, "relay", filename=src.name)
        except Exception as e:  # noqa: BLE001
            return ["-"] * 4, f"refused as TVM refuses it ({_first_line(e)})"
        return ["-"] * 4, "accepted where TVM refuses it"
    try:
        program = load_program(src.text, "relay", filename=src.name, type_checked=False)
    except Exception as e:  # noqa: BLE001 (a report, not a program: every failure is a row)
        if src.needs:
            return ["-"] * 4, f"not standalone: needs {src.needs} ({_first_line(e)})"
        return steps, _first_line(e)
    steps.append("parse")
    try:
        program = load_program(src.text, "relay", filename=src.name)
    except Exception as e:  # noqa: BLE001
        return steps, _first_line(e)
    steps.append("typecheck")
    main = functions_by_name(program.module).get("main")
    if main is None:
        return [*steps, "-", "-"], "not runnable: no @main, a library"
    rng = np.random.default_rng(0)
    try:
        inputs = [_random_value(a.type, rng) for a in main.args]
    except TypeError as e:
        return [*steps, "-", "-"], f"not runnable: {e}"
    try:
        want = interpret(program.module, inputs)
    except Exception as e:  # noqa: BLE001
        return steps, _first_line(e)
    steps.append("run")
    if not compile_too:
        return steps, ""
    if _holds_a_function(main.function_type.outputs.data[0]):
        # Native code returns data; the interpreter's closure has no native form.
        return [*steps, "-"], "not compilable: @main returns a function"
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
    why_not: Counter[str] = Counter()  # why a program is "-" at some step
    failed = syntax_only_failed = 0
    for src in sources:
        steps, error = check(src, not ns.no_compile)
        for i, step in enumerate(steps):
            if step != "-":
                counts[steps_named[i]] += 1
        not_applicable = error.startswith(
            ("not runnable", "not standalone", "not compilable", "refused as TVM")
        )
        if not_applicable:
            why_not[error.split(" (")[0]] += 1
        elif error:
            failed += 1
            syntax_only_failed += src.syntax_only
        if ns.verbose or (error and not not_applicable):
            passed = [s for s in steps if s != "-"]
            mark = " [TVM only parses it]" if src.syntax_only else ""
            print(f"{src.name}{mark}: {'/'.join(passed) or 'nothing'}: {error or 'ok'}")
    standalone = len(sources) - sum(
        n for r, n in why_not.items() if r.startswith(("not standalone", "refused as TVM"))
    )
    # Of the programs that type-check, those with a @main it can call; of those run, those whose
    # result native code can return.
    runnable = counts["typecheck"] - sum(
        n for r, n in why_not.items() if r.startswith("not runnable")
    )
    compilable = counts["run"] - sum(
        n for r, n in why_not.items() if r.startswith("not compilable")
    )
    print(
        f"{len(sources)} programs, {standalone} standalone: {counts['parse']} parse, "
        f"{counts['typecheck']} type-check; of their {runnable} runnable, {counts['run']} run "
        f"in the interpreter; of their {compilable} compilable, {counts['compile']} compile "
        "and match"
        + (" (not tried)" if ns.no_compile else "")
        + f"; {failed} fail (rows above; {syntax_only_failed} of them expressions TVM's test only"
        " parses, never type-checks)"
    )
    for reason, n in why_not.most_common():
        print(f"  '-' {n:3d}  {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
