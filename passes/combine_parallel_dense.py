"""combine-parallel-dense: sibling dense calls of one input become one call (TVM's
CombineParallelDense, opt level 4, so not part of -O3).

With `to-batch=true` (the default, as TVM) dense calls whose weights have one shape
become one batch_matmul over the stacked weights:

    dense(x, w1), dense(x, w2), dense(x, w3)
      ->  b = nn.batch_matmul(expand_dims(x, 0), stack((w1, w2, w3)), transpose_b=True)
          squeeze(split(b, 3).i, axis=[0])

(x is broadcast over the batch axis rather than stacked three times; data must be 2-d).
With `to-batch=false` the weights may differ in their number of units: they are
concatenated, one dense computes every branch, and strided_slices take them apart.
The elementwise and broadcast calls that follow every branch alike (bias_add, relu, ...)
are combined too. Only groups of at least `min-num-branches` (default 3) are combined.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker

from relay_opt.dialects.relay.attributes import AttrValue
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.ir_helpers import shape_of, static_shape
from relay_opt.dialects.relay.ops import transform
from relay_opt.dialects.relay.ops.nn import BatchMatmul, Dense
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.passes.combine_parallel import (
    CombineParallel,
    Combiner,
    Concat,
    Layout,
    Stack,
    check_min_num_branches,
)


@dataclass(frozen=True)
class DenseCombiner(Combiner):
    to_batch: bool
    root = Dense

    def key(self, op: RelayOperatorOp) -> Hashable | None:
        data, weight = op.operands
        dshape, wshape = static_shape(data), static_shape(weight)
        if dshape is None or wshape is None or static_shape(op.result) is None:
            return None
        if self.to_batch and len(dshape) != 2:
            return None  # batch_matmul takes 3-d operands
        assert isinstance(weight.type, TensorType)
        # to_batch stacks the weights, so they must be alike; concatenating needs only equal rows
        alike = wshape if self.to_batch else wshape[1:]
        return (alike, weight.type.element_type, op.attrs.out_dtype)

    def layout(self, roots: Sequence[RelayOperatorOp]) -> Layout:
        return Stack() if self.to_batch else Concat(len(static_shape(roots[0].result) or ()) - 1)

    def combine_roots(self, b: RelayBuilder, roots: Sequence[RelayOperatorOp]) -> SSAValue:
        data = roots[0].operands[0]
        weights = b.tuple([r.operands[1] for r in roots])
        out_dtype = roots[0].attrs.out_dtype
        if self.to_batch:
            stacked = b.call(transform.Stack, weights, axis=0)
            batched = b.call(transform.ExpandDims, data, axis=0)
            return b.call(BatchMatmul, batched, stacked, transpose_b=True, out_dtype=out_dtype)
        attrs: dict[str, AttrValue] = {"out_dtype": out_dtype}
        if roots[0].attrs.units is not None:
            attrs["units"] = sum(shape_of(r.operands[1])[0] for r in roots)  # (static: see key)
        return b.call(Dense, data, b.call(transform.Concatenate, weights, axis=0), **attrs)


@dataclass(frozen=True)
class CombineParallelDensePass(ModulePass):
    """Combines sibling dense calls of one input (and the elementwise calls after them)."""

    name = "combine-parallel-dense"

    min_num_branches: int = 3
    """Combine only groups of at least this many dense calls (TVM's default is 3)."""
    to_batch: bool = True
    """One batch_matmul on stacked weights (TVM's default), else one dense on concatenated ones."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        check_min_num_branches(self.min_num_branches, self.name)
        pattern = CombineParallel(DenseCombiner(self.to_batch), self.min_num_branches)
        PatternRewriteWalker(pattern).rewrite_module(op)
