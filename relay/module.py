"""IRModule: global functions and ADT definitions, as tvm.IRModule holds them.

The module is kept as expressions, for scripts to read and change; `to_dialect` builds the
project's Relay dialect from them (type-checked, the prelude definitions it uses added),
and `from_dialect` reads a dialect module back (printed as Relay text and parsed).
"""

from __future__ import annotations

import linecache
from collections.abc import Mapping

from xdsl.dialects.builtin import ModuleOp

from relay_opt.diagnostics import LoadError, RelayError, location_of, render_error, verify_located
from relay_opt.frontends.relay_text import syntax as s
from relay_opt.relay import expr as e
from relay_opt.relay.convert import FromSyntax, ToSyntax, deep_recursion, type_def_syntax
from relay_opt.relay.ty import TypeVar


class IRModule:
    def __init__(
        self,
        functions: Mapping[e.GlobalVar | str, e.Function] | None = None,
        type_definitions: Mapping[TypeVar | str, e.TypeData] | None = None,
    ):
        self._functions: dict[str, e.Function] = {}
        self._globals: dict[str, e.GlobalVar] = {}
        self._types: dict[str, e.TypeData] = {}
        for key, fn in (functions or {}).items():
            self[key] = fn
        for key, td in (type_definitions or {}).items():
            self._types[key if isinstance(key, str) else key.name_hint] = td

    # -- tvm.IRModule's interface ------------------------------------------------------------

    @staticmethod
    def from_expr(
        expr: e.Expr,
        functions: Mapping[e.GlobalVar | str, e.Function] | None = None,
        type_defs: Mapping[TypeVar | str, e.TypeData] | None = None,
    ) -> IRModule:
        """A module whose `main` is `expr` (a function, or an expression whose free
        variables become main's parameters)."""
        mod = IRModule(functions, type_defs)
        if not isinstance(expr, e.Function):
            from relay_opt.relay.analysis import free_vars

            expr = e.Function(free_vars(expr), expr)
        mod["main"] = expr
        return mod

    def _name(self, key: e.GlobalVar | str) -> str:
        return key if isinstance(key, str) else key.name_hint

    def __getitem__(self, key: e.GlobalVar | str) -> e.Function:
        name = self._name(key)
        if name not in self._functions:
            raise KeyError(f"the module has no function @{name}")
        return self._functions[name]

    def __setitem__(self, key: e.GlobalVar | TypeVar | str, fn: e.Expr | e.TypeData) -> None:
        if isinstance(fn, e.TypeData):  # mod[GlobalTypeVar("Shape")] = TypeData(...)
            self._types[fn.header.name_hint] = fn
            return
        assert not isinstance(key, TypeVar), "a type variable names a TypeData"
        name = self._name(key)
        if not isinstance(fn, e.Function):
            from relay_opt.relay.analysis import free_vars

            fn = e.Function(free_vars(fn), fn)
        self._functions[name] = fn
        if name not in self._globals:
            self._globals[name] = key if isinstance(key, e.GlobalVar) else e.GlobalVar(name)

    def __contains__(self, key: e.GlobalVar | str) -> bool:
        return self._name(key) in self._functions

    def update_func(self, var: e.GlobalVar, fn: e.Function) -> None:
        self[var] = fn

    def update(self, other: IRModule) -> None:
        for name, fn in other._functions.items():
            self[other._globals[name]] = fn
        self._types.update(other._types)

    def add_type_data(self, td: e.TypeData) -> None:
        self._types[td.header.name_hint] = td

    def __getattr__(self, name: str):  # noqa: ANN204
        if name == "functions":
            return {self._globals[n]: f for n, f in self._functions.items()}
        if name == "type_definitions":
            return {td.header: td for td in self._types.values()}
        raise AttributeError(name)

    def get_global_var(self, name: str) -> e.GlobalVar:
        if name not in self._globals:
            raise ValueError(f"the module has no global function @{name}")
        return self._globals[name]

    def get_global_vars(self) -> list[e.GlobalVar]:
        return list(self._globals.values())

    def get_global_type_var(self, name: str) -> TypeVar:
        if name not in self._types:
            raise ValueError(f"the module has no type {name}")
        return self._types[name].header

    def get_type(self, name: str) -> tuple:  # noqa: ANN401
        """(the type, its constructors...) of ADT `name`, as TVM's Module.get_type."""
        td = self._types[name]
        return (td.header, *td.constructors)

    def type_data(self, name: str) -> e.TypeData:
        """The definition of ADT `name`."""
        return self._types[name]

    def get_constructor(self, tag: int) -> e.Constructor:
        for td in self._types.values():
            for c in td.constructors:
                if c.tag == tag:
                    return c
        raise ValueError(f"no constructor has tag {tag}")

    def astext(self, show_meta_data: bool = True) -> str:
        """The module as Relay text (type-checked; with `show_meta_data` its constants in a
        `#[metadata]` section, which `relay.fromtext` reads back)."""
        from relay_opt.frontends.relay_text.printer import print_relay

        return print_relay(self.to_dialect(), show_meta_data=show_meta_data).text

    def __str__(self) -> str:
        return self.astext(show_meta_data=False)

    __repr__ = __str__

    def copy(self) -> IRModule:
        mod = IRModule()
        mod.update(self)
        return mod

    # -- the dialect ---------------------------------------------------------------------------

    def syntax(self) -> tuple[s.Program, list]:
        """The module as the text frontend's syntax tree, and its constants."""
        names = list(self._functions)
        conv = ToSyntax([self._functions[n] for n in names])
        with deep_recursion():
            func_defs = [
                s.FuncDef(n, conv.function(self._functions[n]), self._functions[n].span)
                for n in names
            ]
        type_defs = [type_def_syntax(td) for td in self._types.values()]
        return s.Program(type_defs, func_defs, None), conv.constants

    def to_dialect(self, type_check: bool = True) -> ModuleOp:
        """The module in the Relay dialect, type-checked unless told not to. A program the
        type checker rejects raises LoadError located at the script line that built the
        culprit."""
        from relay_opt.dialects.relay.ir_helpers import building_ir
        from relay_opt.frontends.relay_text.prelude import with_prelude
        from relay_opt.frontends.relay_text.to_dialect import to_dialect
        from relay_opt.loader import type_check as infer_types

        try:
            program, constants = self.syntax()
            with building_ir(), deep_recursion():
                module = to_dialect(with_prelude(program), {"relay.Constant": constants})
                verify_located(module)
            if type_check:
                infer_types(module)
        except RelayError as err:
            raise located(err) from None
        return module

    @staticmethod
    def from_dialect(module: ModuleOp) -> IRModule:
        from relay_opt.frontends.relay_text.parser import parse_program
        from relay_opt.frontends.relay_text.printer import print_relay

        printed = print_relay(module)
        with deep_recursion():
            program = parse_program(printed.text, "<module>")
            conv = FromSyntax(program, list(printed.constants))
            functions = conv.functions()
        mod = IRModule()
        for name, fn in functions.items():
            mod[conv.globals[name]] = fn
        mod._types = conv.type_data
        return mod


def located(err: RelayError) -> LoadError:
    """A RelayError rendered with the script line it points at."""
    loc = location_of(err.at)
    sources = {}
    if loc is not None:
        lines = linecache.getlines(loc.file)
        if lines:
            sources[loc.file] = "".join(lines)
    return LoadError(render_error(err, sources, unlocated="<relay>"), err.message, loc)
