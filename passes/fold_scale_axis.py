"""fold-scale-axis: a per-output-channel scale after a conv2d or dense goes into its weight.

    multiply(conv2d(x, w), s)  ->  conv2d(x, w * s')     s constant, one value per output channel
    multiply(dense(x, w), s)   ->  dense(x, w * s')

(s' is s laid out along the weight's output-channel axis.) This is the backward
direction of TVM's FoldScaleAxis; run fold-constant afterwards so that `w * s'`
becomes the new constant weight, as -O3 does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
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
from relay_opt.dialects.relay.ops.elementwise import Multiply
from relay_opt.dialects.relay.ops.nn import Conv2D, Dense
from relay_opt.dialects.relay.ops.transform import Reshape
from relay_opt.dialects.relay.resources import array_of


def _per_channel(scale: SSAValue, out_shape: tuple[int, ...], channel_axis: int) -> bool:
    """Whether `scale` is a constant that varies only along `channel_axis` of the output."""
    if not isinstance(scale.owner, core.ConstantOp):
        return False
    shape = shape_of(scale)
    rank = len(out_shape)
    if len(shape) > rank:
        return False
    padded = (1,) * (rank - len(shape)) + shape
    return all(d == 1 or (a == channel_axis and d == out_shape[a]) for a, d in enumerate(padded))


class FoldScaleIntoWeight(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, mul: Multiply, rewriter: PatternRewriter) -> None:
        for anchor_value, scale in (
            (mul.operands[0], mul.operands[1]),
            (mul.operands[1], mul.operands[0]),
        ):
            anchor = anchor_value.owner
            if not isinstance(anchor, Conv2D | Dense) or not anchor_value.has_one_use():
                continue
            out_shape = shape_of(anchor.result)
            if isinstance(anchor, Conv2D):
                a = anchor.attrs
                if (
                    a.groups != 1
                    or (a.data_layout, a.kernel_layout) != ("NCHW", "OIHW")
                    or a.out_dtype not in ("", None)
                ):
                    continue
                channel_axis, weight_shape = 1, [out_shape[1], 1, 1, 1]
            else:
                channel_axis, weight_shape = len(out_shape) - 1, [out_shape[-1], 1]
            if shape_of(mul.result) != out_shape or not _per_channel(
                scale, out_shape, channel_axis
            ):
                continue
            values = np.asarray(array_of(scale.owner.value)).reshape(-1)  # pyright: ignore[reportAttributeAccessIssue]
            if values.size not in (1, out_shape[channel_axis]):
                continue
            if values.size == 1:
                return  # a scalar scale: nothing per channel to fold, leave it to simplify-expr
            new: list[Operation] = []
            b = RelayBuilder.collect(new, mul.location)
            weight = b.call(
                Multiply, anchor.operands[1], b.call(Reshape, scale, newshape=weight_shape)
            )
            b.call(
                type(anchor),
                anchor.operands[0],
                weight,
                result_type=anchor.result.type,
                **anchor.attrs,
            )
            rewriter.replace(mul, new)
            return


@dataclass(frozen=True)
class FoldScaleAxisPass(ModulePass):
    """Folds per-channel multiplies after conv2d or dense into their weights."""

    name = "fold-scale-axis"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # The applier erases the pure ops left without uses (the conv2d or dense folded).
        PatternRewriteWalker(GreedyRewritePatternApplier([FoldScaleIntoWeight()])).rewrite_module(
            op
        )
