"""simplify-inference: inference-time normalizations become elementwise arithmetic.

    batch_norm(x, g, b, m, v).0  ->  x * s + (b - m * s),  s = g / sqrt(v + eps)   (per channel)
    layer_norm(x, g, b)          ->  (x - mean) / sqrt(var + eps) * g + b
    dropout(x).0                 ->  x

The per-channel vectors get trailing size-1 axes so they broadcast along `axis`.
Written as rewrite patterns; the module must be type-checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
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
from relay_opt.dialects.relay.constants import dense_from_numpy
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.ops.common import normalize_axis
from relay_opt.dialects.relay.registry import RelayOperatorOp, lookup
from relay_opt.dialects.relay.types import tensor_dtype


class _Emitter:
    """Builds Relay operator calls before an op, with its location."""

    def __init__(self, rewriter: PatternRewriter, anchor: Operation):
        self.rewriter, self.anchor = rewriter, anchor

    def __call__(self, name: str, *operands: SSAValue, **attrs: object) -> SSAValue:
        op = lookup(name).build(list(operands), attrs)  # pyright: ignore[reportOptionalMemberAccess]
        op.location = self.anchor.location
        self.rewriter.insert(op)
        return op.result

    def scalar(self, value: float, like: SSAValue) -> SSAValue:
        dtype = tensor_dtype(like.type)  # pyright: ignore[reportArgumentType]
        op = core.ConstantOp(dense_from_numpy(np.array(value, dtype=numpy_dtype(dtype)), dtype))
        op.location = self.anchor.location
        self.rewriter.insert(op)
        return op.result

    def along(self, vector: SSAValue, axis: int, rank: int) -> SSAValue:
        """A per-channel vector shaped to broadcast against axis `axis` of a rank-`rank` tensor."""
        trailing = rank - axis - 1
        return self("expand_dims", vector, axis=1, num_newaxis=trailing) if trailing else vector


def _rank(v: SSAValue) -> int:
    t = v.type
    assert isinstance(t, TensorType)
    return len(t.get_shape())


class BatchNormToArithmetic(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, get: core.TupleGetOp, rewriter: PatternRewriter) -> None:
        bn = get.tuple.owner
        if not isinstance(bn, RelayOperatorOp) or bn.opdef.name != "nn.batch_norm":
            return
        x, gamma, beta, mean, var = bn.operands
        if get.field_index != 0:  # the other fields are the moving statistics, unchanged
            rewriter.replace(get, [], [mean if get.field_index == 1 else var])
            return
        attrs = bn.attrs
        e = _Emitter(rewriter, bn)
        rank = _rank(x)
        axis = normalize_axis(attrs.axis, rank)
        inv = e("rsqrt", e("add", var, e.scalar(attrs.epsilon, var)))
        scale = e("multiply", inv, gamma) if attrs.scale else inv
        shift = e("negative", e("multiply", mean, scale))
        if attrs.center:
            shift = e("add", shift, beta)
        out = e("add", e("multiply", x, e.along(scale, axis, rank)), e.along(shift, axis, rank))
        rewriter.replace(get, [], [out])


class LayerNormToArithmetic(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: RelayOperatorOp, rewriter: PatternRewriter) -> None:
        if op.opdef.name != "nn.layer_norm":
            return
        x, gamma, beta = op.operands
        attrs = op.attrs
        e = _Emitter(rewriter, op)
        rank = _rank(x)
        axis = normalize_axis(attrs.axis, rank)
        mean = e("mean", x, axis=[axis], keepdims=True)
        var = e("variance", x, mean, axis=[axis], keepdims=True)
        out = e("divide", e("subtract", x, mean), e("sqrt", e("add", var, e.scalar(attrs.epsilon, var))))
        if attrs.scale:
            out = e("multiply", out, e.along(gamma, axis, rank))
        if attrs.center:
            out = e("add", out, e.along(beta, axis, rank))
        rewriter.replace(op, [], [out])


class DropoutAway(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, get: core.TupleGetOp, rewriter: PatternRewriter) -> None:
        dropout = get.tuple.owner
        if isinstance(dropout, RelayOperatorOp) and dropout.opdef.name == "nn.dropout" and get.field_index == 0:
            rewriter.replace(get, [], [dropout.operands[0]])


@dataclass(frozen=True)
class SimplifyInferencePass(ModulePass):
    """Turns batch_norm and layer_norm into arithmetic and removes dropout (inference)."""

    name = "simplify-inference"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from relay_opt.passes.dce import DeadCodeEliminationPass

        PatternRewriteWalker(
            GreedyRewritePatternApplier([BatchNormToArithmetic(), LayerNormToArithmetic(), DropoutAway()]),
            apply_recursively=True,
        ).rewrite_module(op)
        # The normalization calls left without uses go; nothing else is touched.
        DeadCodeEliminationPass().apply(ctx, op)

