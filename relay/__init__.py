"""relay_opt.relay: the tvm.relay Python API, on the project's own IR and compilers.

A script written for `from tvm import relay` runs with `from relay_opt import relay` (and
`from relay_opt import tvm` for `tvm.IRModule`, `tvm.transform.PassContext`, `tvm.nd`,
`tvm.cpu()`, `tvm.contrib.graph_executor`). Expressions are built as Python objects; every
analysis, pass and compilation runs on the Relay dialect they convert to. The operator
namespaces (`relay.add`, `relay.nn.conv2d`, `relay.image.resize2d`) come from the registry.
"""

from __future__ import annotations

import sys
import types
from typing import Any as _AnyT

from relay_opt.relay import analysis, expr_functor, frontend, transform
from relay_opt.relay import operators as _op
from relay_opt.relay import prelude as prelude
from relay_opt.relay.build_module import build, create_executor
from relay_opt.relay.expr import (
    Call,
    Clause,
    Constant,
    Constructor,
    Expr,
    Function,
    GlobalVar,
    If,
    Let,
    Match,
    PatternConstructor,
    PatternTuple,
    PatternVar,
    PatternWildcard,
    RefCreate,
    RefRead,
    RefWrite,
    Tuple,
    TupleGetItem,
    TupleWrapper,
    TypeData,
    Var,
    const,
    var,
)
from relay_opt.relay.expr_functor import ExprFunctor, ExprMutator, ExprVisitor, bind
from relay_opt.relay.module import IRModule
from relay_opt.relay.prelude import Prelude
from relay_opt.relay.scope_builder import ScopeBuilder
from relay_opt.relay.ty import (
    Any,
    FuncType,
    GlobalTypeVar,
    IncompleteType,
    RefType,
    TensorType,
    TupleType,
    Type,
    TypeCall,
    TypeVar,
    scalar_type,
)

_spaces = _op.namespaces()


def _module(name: str, space: types.SimpleNamespace) -> types.ModuleType:
    full = f"{__name__}.{name}"
    m = sys.modules.get(full) or types.ModuleType(full, f"relay.{name}: operators of the registry")
    m.__dict__.update(vars(space))
    sys.modules[full] = m
    return m


nn = _module("nn", _spaces["nn"])
image = _module("image", _spaces["image"]) if "image" in _spaces else None
for _name, _space in _spaces.items():  # the other namespaces (relay.dyn: shapes read at run time)
    if _name and _name not in ("nn", "image"):
        globals()[_name] = _module(_name, _space)
_top = vars(_spaces[""])
for _name, _fn in _top.items():  # relay.add, relay.reshape, ... (never over a name of the API)
    globals().setdefault(_name, _fn)


def __getattr__(name: str) -> _AnyT:  # noqa: ANN401
    # The operators are made at import time; this tells type checkers that `relay.add` exists.
    if name in _top:
        return _top[name]
    raise AttributeError(f"module 'relay_opt.relay' has no attribute '{name}'")


# relay.op: the same functions, plus `relay.op.get(name)`.
op = types.ModuleType(f"{__name__}.op", "relay.op: every operator, and get(name)")
op.__dict__.update(vars(_spaces[""]))
op.get = _op.get  # pyright: ignore[reportAttributeAccessIssue]
for _name, _space in _spaces.items():
    if _name:
        setattr(
            op,
            _name,
            sys.modules[f"{__name__}.{_name}"]
            if f"{__name__}.{_name}" in sys.modules
            else _module(_name, _space),
        )
sys.modules[op.__name__] = op


def fromtext(text: str, source_name: str = "from_string") -> IRModule:
    """A module from Relay text (type-checked); errors raise LoadError, located."""
    from relay_opt.diagnostics import LoadError, RelayError, render_error
    from relay_opt.frontends.relay_text import parse_relay
    from relay_opt.loader import type_check

    try:
        module = parse_relay(text, source_name)
        type_check(module)
    except RelayError as err:
        raise LoadError(render_error(err, {source_name: text}), err.message) from None
    return IRModule.from_dialect(module)


parse = fromtext


__all__ = [
    "Any", "Call", "Clause", "Constant", "Constructor", "Expr", "ExprFunctor", "ExprMutator",
    "ExprVisitor", "FuncType", "Function", "GlobalTypeVar", "GlobalVar", "IRModule", "If",
    "IncompleteType", "Let", "Match", "PatternConstructor", "PatternTuple", "PatternVar",
    "PatternWildcard", "Prelude", "RefCreate", "RefRead", "RefType", "RefWrite", "ScopeBuilder",
    "TensorType", "Tuple", "TupleGetItem", "TupleType", "TupleWrapper", "Type", "TypeCall",
    "TypeData", "TypeVar", "Var", "analysis", "bind", "build", "const", "create_executor",
    "expr_functor", "fromtext", "frontend", "image", "nn", "op", "parse", "prelude", "scalar_type",
    "transform", "var",
]  # fmt: skip
