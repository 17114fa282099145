"""combine-parallel-conv2d: sibling conv2ds of one input become one wider conv2d (TVM's
CombineParallelConv2D, opt level 4, so not part of -O3).

    conv2d(x, w1), conv2d(x, w2), conv2d(x, w3)
      ->  c = conv2d(x, concatenate((w1, w2, w3), axis=O)); strided_slices of c's channels

The conv2ds must have groups=1 and equal attributes (strides, padding, dilation, layouts,
out_dtype, kernel_size) and weights that differ only in their number of output channels;
the elementwise and broadcast calls that follow every branch alike (bias_add, relu, add
of a per-channel constant, ...) are combined too. Only groups of at least
`min-num-branches` (default 3, as TVM) are combined. Run fold-constant afterwards to
join constant weights. See combine_parallel.py for where the combination is placed.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker

from relay_opt.dialects.relay.attributes import Attrs
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.ir_helpers import static_shape
from relay_opt.dialects.relay.ops.nn import Conv2D
from relay_opt.dialects.relay.ops.transform import Concatenate
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.passes.combine_parallel import (
    CombineParallel,
    Combiner,
    Concat,
    Layout,
    check_min_num_branches,
    frozen,
)

_LAYOUTS = {("NCHW", "OIHW"): (1, 0), ("NHWC", "HWIO"): (3, 3)}
"""(data layout, kernel layout) -> (channel axis of the result, output axis of the weight)."""


def _axes(attrs: Attrs) -> tuple[int, int] | None:
    return _LAYOUTS.get((str(attrs.data_layout), str(attrs.kernel_layout)))


class Conv2DCombiner(Combiner):
    root = Conv2D

    def key(self, op: RelayOperatorOp) -> Hashable | None:
        a = op.attrs
        axes = _axes(a)
        data, weight = op.operands
        wshape = static_shape(weight)
        if (
            a.groups != 1
            or axes is None
            or wshape is None
            or static_shape(data) is None
            or static_shape(op.result) is None
        ):
            return None
        kernel = tuple(d for k, d in enumerate(wshape) if k != axes[1])
        assert isinstance(weight.type, TensorType) and isinstance(op.result.type, TensorType)
        dtypes = (weight.type.element_type, op.result.type.element_type)
        return (frozen(a, skip=("channels",)), kernel, dtypes)

    def layout(self, roots: Sequence[RelayOperatorOp]) -> Layout:
        axes = _axes(roots[0].attrs)
        assert axes is not None
        return Concat(axes[0])

    def combine_roots(self, b: RelayBuilder, roots: Sequence[RelayOperatorOp]) -> SSAValue:
        first = roots[0]
        a = first.attrs
        axes = _axes(a)
        assert axes is not None
        out_axis = axes[1]
        weights = [r.operands[1] for r in roots]
        weight = b.call(Concatenate, b.tuple(weights), axis=out_axis)
        attrs = dict(a)
        if a.channels is not None:
            attrs["channels"] = sum((static_shape(w) or ())[out_axis] for w in weights)
        return b.call(Conv2D, first.operands[0], weight, **attrs)


@dataclass(frozen=True)
class CombineParallelConv2DPass(ModulePass):
    """Combines sibling conv2ds of one input (and the elementwise calls after them) into one."""

    name = "combine-parallel-conv2d"

    min_num_branches: int = 3
    """Combine only groups of at least this many conv2ds (TVM's default is 3)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        check_min_num_branches(self.min_num_branches, self.name)
        pattern = CombineParallel(Conv2DCombiner(), self.min_num_branches)
        PatternRewriteWalker(pattern).rewrite_module(op)
