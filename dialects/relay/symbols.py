"""Looking up global functions, ADT definitions and constructors from any op."""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp, SymbolRefAttr
from xdsl.ir import Operation

from relay_opt.dialects.relay.adt import ConstructorOp, TypeDefOp
from relay_opt.dialects.relay.core import FuncOp


def enclosing_module(op: Operation) -> ModuleOp | None:
    cur: Operation | None = op
    while cur is not None and not isinstance(cur, ModuleOp):
        cur = cur.parent_op()
    return cur


def _top_level(op: Operation, name: str) -> Operation | None:
    module = enclosing_module(op)
    if module is None:
        return None
    for top in module.ops:
        sym = top.properties.get("sym_name")
        if sym is not None and getattr(sym, "data", None) == name:
            return top
    return None


def lookup_function(op: Operation, ref: SymbolRefAttr) -> FuncOp | None:
    if ref.nested_references.data:
        return None
    found = _top_level(op, ref.root_reference.data)
    return found if isinstance(found, FuncOp) else None


def lookup_type_def(op: Operation, name: str) -> TypeDefOp | None:
    found = _top_level(op, name)
    return found if isinstance(found, TypeDefOp) else None


def lookup_constructor(op: Operation, ref: SymbolRefAttr) -> ConstructorOp | None:
    """`@List::@Cons` -> the constructor op."""
    if len(ref.nested_references.data) != 1:
        return None
    type_def = lookup_type_def(op, ref.root_reference.data)
    if type_def is None:
        return None
    return type_def.constructor(ref.nested_references.data[0].data)
