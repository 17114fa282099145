"""fold-explicit-padding: conv2d(nn.pad(x, 0), w) becomes conv2d(x, w) with the padding added
to the convolution's own, when the pad is constant zero and touches only the spatial axes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.ops.nn import padding4
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.resources import array_of


class FoldPadIntoConv(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, conv: RelayOperatorOp, rewriter: PatternRewriter) -> None:
        if conv.opdef.name != "nn.conv2d":
            return
        pad = conv.operands[0].owner
        if not isinstance(pad, RelayOperatorOp) or pad.opdef.name != "nn.pad" or pad.attrs.pad_mode != "constant":
            return
        value = pad.operands[1].owner
        if not isinstance(value, core.ConstantOp) or np.asarray(array_of(value.value)).item() != 0:
            return
        h, w = (1, 2) if conv.attrs.data_layout == "NHWC" else (2, 3)
        widths = pad.attrs.pad_width
        if any(widths[a] != [0, 0] for a in range(4) if a not in (h, w)):
            return  # padding the batch or channel axes is not a convolution's padding
        top, left, bottom, right = padding4(conv.attrs.padding)
        attrs = dict(conv.attrs)
        attrs["padding"] = [top + widths[h][0], left + widths[w][0], bottom + widths[h][1], right + widths[w][1]]
        new = conv.opdef.build([pad.operands[0], conv.operands[1]], attrs, conv.result.type)
        new.location = conv.location
        rewriter.replace(conv, [new])


@dataclass(frozen=True)
class FoldExplicitPaddingPass(ModulePass):
    """Folds a zero nn.pad of the spatial axes into the following conv2d's padding."""

    name = "fold-explicit-padding"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from relay_opt.passes.dce import DeadCodeEliminationPass

        PatternRewriteWalker(FoldPadIntoConv()).rewrite_module(op)
        DeadCodeEliminationPass().apply(ctx, op)
