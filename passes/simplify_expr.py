"""simplify-expr: algebraic rewrites of Relay expressions, as local patterns.

- consecutive reshapes (reshape, squeeze, expand_dims, batch_flatten) become one reshape;
- consecutive transposes become one;
- reshapes to the same shape, transposes by the identity, casts to the same dtype go;
- x + 0, x - 0, x * 1, x / 1 with a constant of the result's type go (only when the
  constant does not broadcast x to a larger shape).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
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
from relay_opt.dialects.relay.ir_helpers import shape_of
from relay_opt.dialects.relay.ops.elementwise import Add, Cast, Divide, Multiply, Subtract
from relay_opt.dialects.relay.ops.nn import BatchFlatten
from relay_opt.dialects.relay.ops.transform import (
    ExpandDims,
    Reshape,
    Squeeze,
    Transpose,
    transpose_axes,
)
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.resources import array_of

RESHAPES = (Reshape, Squeeze, ExpandDims, BatchFlatten)


class MergeReshapes(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: Reshape | Squeeze | ExpandDims | BatchFlatten, rewriter: PatternRewriter
    ) -> None:
        x = op.operands[0]
        if shape_of(x) == shape_of(op.result):
            rewriter.replace(op, [], [x])  # a reshape to the same shape
            return
        inner = x.owner
        shape = shape_of(op.result)
        if isinstance(inner, RESHAPES) and -1 not in shape and min(shape, default=0) >= 0:
            new: list[Operation] = []
            b = RelayBuilder.collect(new, op.location)
            b.call(Reshape, inner.operands[0], newshape=list(shape))
            rewriter.replace(op, new)


class MergeTransposes(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: Transpose, rewriter: PatternRewriter) -> None:
        rank = len(shape_of(op.result))
        axes = transpose_axes(op.attrs, rank)
        if axes == list(range(rank)):
            rewriter.replace(op, [], [op.operands[0]])
            return
        inner = op.operands[0].owner
        if isinstance(inner, Transpose):
            first = transpose_axes(inner.attrs, rank)
            combined = [first[a] for a in axes]
            new: list[Operation] = []
            RelayBuilder.collect(new, op.location).call(Transpose, inner.operands[0], axes=combined)
            rewriter.replace(op, new)


class DropNoOpCast(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: Cast, rewriter: PatternRewriter) -> None:
        if op.operands[0].type == op.result.type:
            rewriter.replace(op, [], [op.operands[0]])


_IDENTITY: dict[type[RelayOperatorOp], tuple[float, str]] = {
    Add: (0.0, "either"),
    Subtract: (0.0, "rhs"),
    Multiply: (1.0, "either"),
    Divide: (1.0, "rhs"),
}
"""x op unit == x: the unit, and which operand may be it."""


class AlgebraicIdentity(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: Add | Subtract | Multiply | Divide, rewriter: PatternRewriter
    ) -> None:
        unit, side = _IDENTITY[type(op)]
        lhs, rhs = op.operands
        candidates = [(rhs, lhs)] if side == "rhs" else [(rhs, lhs), (lhs, rhs)]
        for const, other in candidates:
            owner = const.owner
            if not isinstance(owner, core.ConstantOp) or other.type != op.result.type:
                continue
            value = np.asarray(array_of(owner.value))
            if value.size and np.all(value == unit):
                rewriter.replace(op, [], [other])
                return


@dataclass(frozen=True)
class SimplifyExprPass(ModulePass):
    """Merges reshapes and transposes, removes no-op reshapes, casts and x+0, x*1."""

    name = "simplify-expr"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # The applier erases the pure ops left without uses (the reshapes merged away).
        patterns = [MergeReshapes(), MergeTransposes(), DropNoOpCast(), AlgebraicIdentity()]
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns)).rewrite_module(op)
