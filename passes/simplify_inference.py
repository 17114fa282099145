"""simplify-inference: inference-time normalizations become elementwise arithmetic.

    batch_norm(x, g, b, m, v).0  ->  x * s + (b - m * s),  s = g / sqrt(v + eps)   (per channel)
    layer_norm(x, g, b)          ->  (x - mean) / sqrt(var + eps) * g + b
    instance_norm(x, g, b)       ->  (x - mean) * rsqrt(var + eps) * g + b   (over all axes but 0, axis)
    group_norm(x, g, b)          ->  the same on x reshaped to (..., groups, C / groups, ...), reshaped back
    l2_normalize(x)              ->  x * rsqrt(max(sum(x * x, axis), eps))
    dropout(x).0                 ->  x

The per-channel vectors get trailing size-1 axes so they broadcast along `axis`.
Written as rewrite patterns; the module must be type-checked. The expansions of the
single-result normalizations (`EXPANSIONS`) are also the native lowering of those
operators (lowering/convert_relay_to_linalg/nn.py), so they are written once.
"""

from __future__ import annotations

from collections.abc import Callable
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
from relay_opt.dialects.relay.ops.nn import l2_axes, norm_reduced_axes
from relay_opt.dialects.relay.registry import RelayOperatorOp, lookup
from relay_opt.dialects.relay.types import tensor_dtype


class Emitter:
    """Builds Relay operator calls with the location of `anchor`, handing each to `insert`
    (the rewriter's insertion before the matched op, or the lowering's scratch block)."""

    def __init__(self, insert: Callable[[Operation], object], anchor: Operation):
        self.insert, self.anchor = insert, anchor

    def __call__(self, name: str, *operands: SSAValue, **attrs: object) -> SSAValue:
        op = lookup(name).build(list(operands), attrs)  # pyright: ignore[reportOptionalMemberAccess]
        op.location = self.anchor.location
        self.insert(op)
        return op.result

    def scalar(self, value: float, like: SSAValue) -> SSAValue:
        dtype = tensor_dtype(like.type)  # pyright: ignore[reportArgumentType]
        op = core.ConstantOp(dense_from_numpy(np.array(value, dtype=numpy_dtype(dtype)), dtype))
        op.location = self.anchor.location
        self.insert(op)
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
        e = Emitter(rewriter.insert, bn)
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
        e = Emitter(rewriter.insert, op)
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


def _standardized(e: Emitter, x: SSAValue, axes: list[int], eps: float) -> SSAValue:
    """(x - mean) * rsqrt(var + eps) over `axes`."""
    mean = e("mean", x, axis=axes, keepdims=True)
    var = e("variance", x, mean, axis=axes, keepdims=True)
    return e("multiply", e("subtract", x, mean), e("rsqrt", e("add", var, e.scalar(eps, var))))


def _scaled(e: Emitter, op: RelayOperatorOp, y: SSAValue, axis: int, rank: int) -> SSAValue:
    _, gamma, beta = op.operands
    if op.attrs.scale:
        y = e("multiply", y, e.along(gamma, axis, rank))
    if op.attrs.center:
        y = e("add", y, e.along(beta, axis, rank))
    return y


def expand_instance_norm(e: Emitter, op: RelayOperatorOp) -> SSAValue:
    x = op.operands[0]
    rank = _rank(x)
    axis = normalize_axis(op.attrs.axis, rank)
    y = _standardized(e, x, norm_reduced_axes(rank, axis), op.attrs.epsilon)
    return _scaled(e, op, y, axis, rank)


def expand_group_norm(e: Emitter, op: RelayOperatorOp) -> SSAValue:
    x = op.operands[0]
    rank = _rank(x)
    attrs = op.attrs
    axis = normalize_axis(attrs.axis, rank)
    # Split the channel axis into (groups, channels per group): reshape codes 0 (copy),
    # -4 (split into the next two values), -2 (copy the rest); -3 merges them back.
    split = e("reshape", x, newshape=[0] * axis + [-4, attrs.num_groups, -1, -2])
    y = _standardized(e, split, norm_reduced_axes(rank + 1, axis), attrs.epsilon)
    y = e("reshape", y, newshape=[0] * axis + [-3, -2])
    return _scaled(e, op, y, axis, rank)


def expand_l2_normalize(e: Emitter, op: RelayOperatorOp) -> SSAValue:
    x = op.operands[0]
    total = e("sum", e("multiply", x, x), axis=l2_axes(op.attrs, _rank(x)), keepdims=True)
    return e("multiply", x, e("rsqrt", e("maximum", total, e.scalar(op.attrs.eps, total))))


EXPANSIONS: dict[str, Callable[[Emitter, RelayOperatorOp], SSAValue]] = {
    "nn.instance_norm": expand_instance_norm,
    "nn.group_norm": expand_group_norm,
    "nn.l2_normalize": expand_l2_normalize,
}
"""Single-result operators and the arithmetic they expand to (inserted through the emitter)."""


class ExpandNormalization(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: RelayOperatorOp, rewriter: PatternRewriter) -> None:
        expand = EXPANSIONS.get(op.opdef.name)
        if expand is not None:
            rewriter.replace(op, [], [expand(Emitter(rewriter.insert, op), op)])


class DropoutAway(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, get: core.TupleGetOp, rewriter: PatternRewriter) -> None:
        dropout = get.tuple.owner
        if isinstance(dropout, RelayOperatorOp) and dropout.opdef.name == "nn.dropout" and get.field_index == 0:
            rewriter.replace(get, [], [dropout.operands[0]])


@dataclass(frozen=True)
class SimplifyInferencePass(ModulePass):
    """Turns batch_norm, layer_norm, instance_norm, group_norm and l2_normalize into
    arithmetic and removes dropout (inference)."""

    name = "simplify-inference"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from relay_opt.passes.dce import DeadCodeEliminationPass

        PatternRewriteWalker(
            GreedyRewritePatternApplier([BatchNormToArithmetic(), LayerNormToArithmetic(), ExpandNormalization(),
                                         DropoutAway()]),
            apply_recursively=True,
        ).rewrite_module(op)
        # The normalization calls left without uses go; nothing else is touched.
        DeadCodeEliminationPass().apply(ctx, op)

