"""Relay's prelude (prelude.rly beside this file), added to programs that use it.

A program may use `List`, `Cons`, `@map`, ... without defining them: the
definitions it refers to (and those they need in turn) are added to it; the
program's own definitions of the same names win.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from functools import cache
from importlib.resources import files

from relay_opt.frontends.relay_text import syntax as s
from relay_opt.frontends.relay_text.parser import parse_program

PRELUDE_FILE = "prelude.rly"


@cache
def prelude() -> s.Program:
    assert __package__, "prelude.py is a module of the relay_text package"
    text = files(__package__).joinpath(PRELUDE_FILE).read_text(encoding="utf-8")
    return parse_program(text, PRELUDE_FILE)


def _references(node: object) -> set[str]:
    """Names a syntax tree refers to: `@f` as '@f', constructors and types by name."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (list, tuple)):
            stack.extend(n)
            continue
        if isinstance(n, dict):
            stack.extend(n.values())
            continue
        if not is_dataclass(n):
            continue
        if isinstance(n, s.Global):
            out.add("@" + n.name)
        elif isinstance(n, (s.Name, s.PCtor, s.NamedT)):
            out.add(n.name)
        for f in fields(n):
            stack.append(getattr(n, f.name))
    return out


def with_prelude(program: s.Program) -> s.Program:
    """`program` plus the prelude definitions it needs."""
    lib = prelude()
    defined = {"@" + f.name for f in program.func_defs} | {t.name for t in program.type_defs}
    defined |= {c.name for t in program.type_defs for c in t.ctors}
    lib_types = {t.name: t for t in lib.type_defs}
    lib_ctor_owner = {c.name: t.name for t in lib.type_defs for c in t.ctors}
    lib_funcs = {"@" + f.name: f for f in lib.func_defs}

    wanted_types: dict[str, s.TypeDef] = {}
    wanted_funcs: dict[str, s.FuncDef] = {}
    refs = program.references if program.references is not None else _references(program)
    pending = [r for r in refs if r not in defined]
    while pending:
        name = pending.pop()
        if name in defined or name in wanted_types or name in wanted_funcs:
            continue
        if name in lib_ctor_owner:
            name = lib_ctor_owner[name]
            if name in defined or name in wanted_types:
                continue
        if name in lib_types:
            wanted_types[name] = lib_types[name]
            pending.extend(_references(lib_types[name].ctors))
        elif name in lib_funcs:
            wanted_funcs[name] = lib_funcs[name]
            pending.extend(_references(lib_funcs[name].fn))
    if not wanted_types and not wanted_funcs:
        return program
    # Keep the prelude's order so the module reads the same whatever the program used.
    types = [t for t in lib.type_defs if t.name in wanted_types]
    funcs = [f for f in lib.func_defs if "@" + f.name in wanted_funcs]
    return s.Program(
        [*types, *program.type_defs], [*funcs, *program.func_defs], program.metadata, program.body
    )
