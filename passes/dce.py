"""dce: removes values nobody uses, keeping what has effects (ref writes, calls that may write).

Works from the end of each block backwards, so chains of dead values go in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block
from xdsl.passes import ModulePass

from relay_opt.passes.effects import Effects


def _clean(block: Block, effects: Effects) -> None:
    for op in reversed(list(block.ops)):
        if (
            op.results
            and all(r.first_use is None for r in op.results)
            and not effects.op_has_effects(op)
        ):
            op.detach()
            op.erase()
            continue
        for region in op.regions:
            for inner in region.blocks:
                _clean(inner, effects)


@dataclass(frozen=True)
class DeadCodeEliminationPass(ModulePass):
    """Removes unused values; ref writes and calls that may write stay (effect-aware)."""

    name = "dce"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        effects = Effects(op)
        for func in op.ops:
            for region in func.regions:
                for block in region.blocks:
                    _clean(block, effects)
