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
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.registry import RelayOperatorOp, lookup
from relay_opt.dialects.relay.resources import array_of


def _shape(v: SSAValue) -> tuple[int, ...]:
    t = v.type
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def _per_channel(scale: SSAValue, out_shape: tuple[int, ...], channel_axis: int) -> bool:
    """Whether `scale` is a constant that varies only along `channel_axis` of the output."""
    if not isinstance(scale.owner, core.ConstantOp):
        return False
    shape = _shape(scale)
    rank = len(out_shape)
    if len(shape) > rank:
        return False
    padded = (1,) * (rank - len(shape)) + shape
    return all(d == 1 or (a == channel_axis and d == out_shape[a]) for a, d in enumerate(padded))


class FoldScaleIntoWeight(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, mul: RelayOperatorOp, rewriter: PatternRewriter) -> None:
        if mul.opdef.name != "multiply":
            return
        for anchor_value, scale in ((mul.operands[0], mul.operands[1]), (mul.operands[1], mul.operands[0])):
            anchor = anchor_value.owner
            if not isinstance(anchor, RelayOperatorOp) or not anchor_value.has_one_use():
                continue
            out_shape = _shape(anchor.result)
            if anchor.opdef.name == "nn.conv2d":
                a = anchor.attrs
                if a.groups != 1 or (a.data_layout, a.kernel_layout) != ("NCHW", "OIHW") or a.out_dtype not in ("", None):
                    continue
                channel_axis, weight_shape = 1, [out_shape[1], 1, 1, 1]
            elif anchor.opdef.name == "nn.dense":
                channel_axis, weight_shape = len(out_shape) - 1, [out_shape[-1], 1]
            else:
                continue
            if _shape(mul.result) != out_shape or not _per_channel(scale, out_shape, channel_axis):
                continue
            values = np.asarray(array_of(scale.owner.value)).reshape(-1)  # pyright: ignore[reportAttributeAccessIssue]
            if values.size not in (1, out_shape[channel_axis]):
                continue
            if values.size == 1:
                return  # a scalar scale: nothing per channel to fold, leave it to simplify-expr
            reshaped = lookup("reshape").build([scale], {"newshape": weight_shape})  # pyright: ignore
            weight = lookup("multiply").build([anchor.operands[1], reshaped.result])  # pyright: ignore
            new = anchor.opdef.build([anchor.operands[0], weight.result], dict(anchor.attrs), anchor.result.type)
            for op in (reshaped, weight, new):
                op.location = mul.location
            rewriter.replace(mul, [reshaped, weight, new])
            return


@dataclass(frozen=True)
class FoldScaleAxisPass(ModulePass):
    """Folds per-channel multiplies after conv2d or dense into their weights."""

    name = "fold-scale-axis"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from relay_opt.passes.dce import DeadCodeEliminationPass

        PatternRewriteWalker(FoldScaleIntoWeight()).rewrite_module(op)
        DeadCodeEliminationPass().apply(ctx, op)
