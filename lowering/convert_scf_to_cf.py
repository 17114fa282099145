"""convert-scf-to-cf: xDSL's lowering of scf.for, scf.if and scf.index_switch to branches,
applied from the last op to the first.

xDSL's pass walks forwards: each loop it lowers splits the block that holds it, and
`Block.split_before` re-parents every op after the loop and looks up the block's index by
scanning the region, so a function with n loops in a row costs O(n^2). Walking backwards,
the ops after a loop are only those up to the loop lowered before it, and its block is near
the start of the region: linear. The patterns are xDSL's, so the IR is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker
from xdsl.transforms import convert_scf_to_cf as xdsl_scf_to_cf


@dataclass(frozen=True)
class ConvertScfToCfPass(ModulePass):
    """Lowers scf.for, scf.if and scf.index_switch to branches (xDSL's patterns, backwards)."""

    name = "convert-scf-to-cf"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        patterns = GreedyRewritePatternApplier(
            [
                xdsl_scf_to_cf.SwitchLowering(),
                xdsl_scf_to_cf.IfLowering(),
                xdsl_scf_to_cf.ForLowering(),
            ]
        )
        PatternRewriteWalker(patterns, walk_reverse=True).rewrite_module(op)
