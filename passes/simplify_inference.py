"""simplify-inference: inference-time normalizations become elementwise arithmetic.

batch_norm, layer_norm, instance_norm, group_norm and l2_normalize become the
arithmetic of their decompositions (dialects/relay/decompositions.py, which the
native lowering shares); dropout(x).0 becomes x. Written as rewrite patterns; the
module must be type-checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.decompositions import DECOMPOSITIONS, batch_norm
from relay_opt.dialects.relay.ops.nn import (
    BatchNorm,
    Dropout,
    GroupNorm,
    InstanceNorm,
    L2Normalize,
    LayerNorm,
)


class BatchNormToArithmetic(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, get: core.TupleGetOp, rewriter: PatternRewriter) -> None:
        bn = get.tuple.owner
        if not isinstance(bn, BatchNorm):
            return
        if get.field_index != 0:  # the other fields are the moving statistics, unchanged
            rewriter.replace(get, [], [bn.operands[3 if get.field_index == 1 else 4]])
            return
        rewriter.replace(get, [], [batch_norm(RelayBuilder.before(rewriter, bn.location), bn)])


class ExpandNormalization(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: LayerNorm | InstanceNorm | GroupNorm | L2Normalize, rewriter: PatternRewriter
    ) -> None:
        out = DECOMPOSITIONS[type(op)](RelayBuilder.before(rewriter, op.location), op)
        rewriter.replace(op, [], [out])


class DropoutAway(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, get: core.TupleGetOp, rewriter: PatternRewriter) -> None:
        dropout = get.tuple.owner
        if isinstance(dropout, Dropout) and get.field_index == 0:
            rewriter.replace(get, [], [dropout.operands[0]])


@dataclass(frozen=True)
class SimplifyInferencePass(ModulePass):
    """Turns batch_norm, layer_norm, instance_norm, group_norm and l2_normalize into
    arithmetic and removes dropout (inference)."""

    name = "simplify-inference"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # The applier erases the pure ops left without uses (the normalization calls).
        patterns = [BatchNormToArithmetic(), ExpandNormalization(), DropoutAway()]
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns)).rewrite_module(op)
