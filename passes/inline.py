"""inline: replaces calls of global functions marked `Inline` by their bodies.

Recursive functions are left alone (inlining them would not end); a function
whose every call was inlined stays, for remove-unused-functions to drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp
from xdsl.ir import Attribute
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.attribute_names import INLINE
from relay_opt.dialects.relay.ir_helpers import functions_by_name, inline_body


def _marked(attr: Attribute | None) -> bool:
    return isinstance(attr, IntegerAttr) and attr.value.data != 0


def _recursive(func: core.FuncOp, funcs: dict[str, core.FuncOp]) -> bool:
    """Whether `func` can reach a call of itself."""
    name = func.sym_name.data
    seen: set[str] = set()
    todo = [func]
    while todo:
        f = todo.pop()
        for op in f.walk():
            if isinstance(op, (core.CallOp, core.GlobalRefOp)):
                callee = op.callee.root_reference.data
                if callee == name:
                    return True
                if callee not in seen and callee in funcs:
                    seen.add(callee)
                    todo.append(funcs[callee])
    return False


def inline_call(call: core.CallOp, callee: core.FuncOp) -> None:
    """The callee's body in place of the call (a polymorphic callee's type variables are
    already instantiated in the call's types, so the clone is retyped by infer-types)."""
    block = call.parent_block()
    assert block is not None
    insert = partial(block.insert_op_before, existing_op=call)
    result = inline_body(callee, call.arguments, insert, call.location)
    call.result.replace_all_uses_with(result)
    call.detach()
    call.erase()


@dataclass(frozen=True)
class InlinePass(ModulePass):
    """Inlines the calls of global functions marked Inline (non-recursive ones)."""

    name = "inline"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        funcs = functions_by_name(op)
        inlinable = {
            n
            for n, f in funcs.items()
            if _marked(f.attributes.get(INLINE))
            and not f.type_param_names
            and not _recursive(f, funcs)
        }
        changed = True
        while changed:  # an inlined body may call another Inline function
            changed = False
            for call in [c for c in op.walk() if isinstance(c, core.CallOp)]:
                name = call.callee.root_reference.data
                if name in inlinable:
                    inline_call(call, funcs[name])
                    changed = True
