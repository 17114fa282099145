"""remove-unused-functions: drops global functions nothing reachable from the entries uses.

The gradient of a kept function (`@f_grad`, marked GradientOf="f" by the gradient pass) is
kept with it, as what it reaches: it is called from outside, as TVM's gradient function is."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.attribute_names import GRADIENT_OF
from relay_opt.dialects.relay.ir_helpers import functions_by_name


@dataclass(frozen=True)
class RemoveUnusedFunctionsPass(ModulePass):
    """Drops relay.funcs not reachable from the entry functions (default: main)."""

    name = "remove-unused-functions"

    entry: tuple[str, ...] = ("main",)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        funcs = functions_by_name(op)
        live: set[str] = set()
        todo = [name for name in self.entry if name in funcs]
        while todo:
            name = todo.pop()
            if name not in live:
                live.add(name)
                for inner in funcs[name].walk():
                    if isinstance(inner, (core.CallOp, core.GlobalRefOp)):
                        todo.append(inner.callee.root_reference.data)
            if not todo:  # the gradients of live functions are called from outside too
                todo = [n for n, f in funcs.items() if n not in live and _gradient_of(f) in live]
        for name, f in funcs.items():
            if name not in live:
                f.detach()
                f.erase()


def _gradient_of(f: core.FuncOp) -> str | None:
    attr = f.attributes.get(GRADIENT_OF)
    return attr.data if isinstance(attr, StringAttr) else None
