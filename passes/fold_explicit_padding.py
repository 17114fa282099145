"""fold-explicit-padding: conv2d(nn.pad(x, 0), w) becomes conv2d(x, w) with the padding added
to the convolution's own, when the pad is constant zero and touches only the spatial axes."""

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
from relay_opt.dialects.relay.ops.nn import Conv2D, Pad, padding4
from relay_opt.dialects.relay.resources import array_of


class FoldPadIntoConv(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, conv: Conv2D, rewriter: PatternRewriter) -> None:
        pad = conv.operands[0].owner
        if not isinstance(pad, Pad) or pad.attrs.pad_mode != "constant":
            return
        if conv.attrs.data_layout not in ("NCHW", "NHWC"):
            return  # blocked (NCHW8c) data: its fifth axis is channels too
        value = pad.operands[1].owner
        if not isinstance(value, core.ConstantOp) or np.asarray(array_of(value.value)).item() != 0:
            return
        h, w = (1, 2) if conv.attrs.data_layout == "NHWC" else (2, 3)
        widths = pad.attrs.pad_width
        if any(widths[a] != [0, 0] for a in range(4) if a not in (h, w)):
            return  # padding the batch or channel axes is not a convolution's padding
        top, left, bottom, right = padding4(conv.attrs.padding)
        attrs = dict(conv.attrs)
        attrs["padding"] = [
            top + widths[h][0],
            left + widths[w][0],
            bottom + widths[h][1],
            right + widths[w][1],
        ]
        new: list[Operation] = []
        RelayBuilder.collect(new, conv.location).call(
            Conv2D, pad.operands[0], conv.operands[1], result_type=conv.result.type, **attrs
        )
        rewriter.replace(conv, new)


@dataclass(frozen=True)
class FoldExplicitPaddingPass(ModulePass):
    """Folds a zero nn.pad of the spatial axes into the following conv2d's padding."""

    name = "fold-explicit-padding"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # The applier erases the pure ops left without uses (the pads folded).
        PatternRewriteWalker(GreedyRewritePatternApplier([FoldPadIntoConv()])).rewrite_module(op)
