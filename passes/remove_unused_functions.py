"""remove-unused-functions: drops global functions nothing reachable from the entry uses."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import core
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
            if name in live:
                continue
            live.add(name)
            for inner in funcs[name].walk():
                if isinstance(inner, (core.CallOp, core.GlobalRefOp)):
                    todo.append(inner.callee.root_reference.data)
        for name, f in funcs.items():
            if name not in live:
                f.detach()
                f.erase()
