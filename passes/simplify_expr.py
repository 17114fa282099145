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
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.ops.transform import transpose_axes
from relay_opt.dialects.relay.registry import RelayOperatorOp, lookup
from relay_opt.dialects.relay.resources import array_of

RESHAPES = ("reshape", "squeeze", "expand_dims", "nn.batch_flatten")


def _name(v: SSAValue) -> str | None:
    owner = v.owner
    return owner.opdef.name if isinstance(owner, RelayOperatorOp) else None


def _shape(v: SSAValue) -> tuple[int, ...]:
    t = v.type
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


class MergeReshapes(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: RelayOperatorOp, rewriter: PatternRewriter) -> None:
        if op.opdef.name not in RESHAPES:
            return
        x = op.operands[0]
        if _shape(x) == _shape(op.result):
            rewriter.replace(op, [], [x])  # a reshape to the same shape
            return
        inner = x.owner
        shape = _shape(op.result)
        if isinstance(inner, RelayOperatorOp) and inner.opdef.name in RESHAPES and -1 not in shape and min(shape, default=0) >= 0:
            new = lookup("reshape").build([inner.operands[0]], {"newshape": list(shape)})  # pyright: ignore
            new.location = op.location
            rewriter.replace(op, [new])


class MergeTransposes(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: RelayOperatorOp, rewriter: PatternRewriter) -> None:
        if op.opdef.name != "transpose":
            return
        rank = len(_shape(op.result))
        axes = transpose_axes(op.attrs, rank)
        if axes == list(range(rank)):
            rewriter.replace(op, [], [op.operands[0]])
            return
        inner = op.operands[0].owner
        if isinstance(inner, RelayOperatorOp) and inner.opdef.name == "transpose":
            first = transpose_axes(inner.attrs, rank)
            combined = [first[a] for a in axes]
            new = lookup("transpose").build([inner.operands[0]], {"axes": combined})  # pyright: ignore
            new.location = op.location
            rewriter.replace(op, [new])


class DropNoOpCast(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: RelayOperatorOp, rewriter: PatternRewriter) -> None:
        if op.opdef.name == "cast" and op.operands[0].type == op.result.type:
            rewriter.replace(op, [], [op.operands[0]])


_IDENTITY = {"add": (0.0, "either"), "subtract": (0.0, "rhs"), "multiply": (1.0, "either"), "divide": (1.0, "rhs")}


class AlgebraicIdentity(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: RelayOperatorOp, rewriter: PatternRewriter) -> None:
        rule = _IDENTITY.get(op.opdef.name)
        if rule is None:
            return
        unit, side = rule
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
        from relay_opt.passes.dce import DeadCodeEliminationPass

        PatternRewriteWalker(
            GreedyRewritePatternApplier([MergeReshapes(), MergeTransposes(), DropNoOpCast(), AlgebraicIdentity()]),
            apply_recursively=True,
        ).rewrite_module(op)
        DeadCodeEliminationPass().apply(ctx, op)
