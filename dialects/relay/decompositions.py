"""The normalizations as Relay arithmetic, written once for simplify-inference (which
rewrites them at inference time) and convert-relay-to-linalg (which lowers instance_norm,
group_norm and l2_normalize through them):

    batch_norm(x, g, b, m, v).0  ->  x * s + (b - m * s),  s = g / sqrt(v + eps)   (per channel)
    layer_norm(x, g, b)          ->  (x - mean) / sqrt(var + eps) * g + b
    instance_norm(x, g, b)       ->  (x - mean) * rsqrt(var + eps) * g + b
                                     (over every axis but 0 and `axis`)
    group_norm(x, g, b)          ->  the same on x reshaped to (..., groups, C / groups, ...),
                                     reshaped back
    l2_normalize(x)              ->  x * rsqrt(max(sum(x * x, axis), eps))

The per-channel vectors get trailing size-1 axes so they broadcast along `axis`. float16 and
bfloat16 data are normalized in float32 and rounded once (batch_norm's float16, whose
statistics are given, computes in float16). The
operands must have tensor types (run infer-types first).
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import SSAValue

from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.ir_helpers import shape_of
from relay_opt.dialects.relay.ops.common import normalize_axis
from relay_opt.dialects.relay.ops.elementwise import (
    Add,
    Cast,
    Divide,
    Maximum,
    Multiply,
    Negative,
    Rsqrt,
    Sqrt,
    Subtract,
)
from relay_opt.dialects.relay.ops.nn import (
    GroupNorm,
    InstanceNorm,
    L2Normalize,
    LayerNorm,
    l2_axes,
    norm_reduced_axes,
)
from relay_opt.dialects.relay.ops.reduce import Mean, Sum, Variance
from relay_opt.dialects.relay.ops.transform import ExpandDims, Reshape
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.types import tensor_dtype


def along(b: RelayBuilder, vector: SSAValue, axis: int, rank: int) -> SSAValue:
    """A per-channel vector shaped to broadcast against axis `axis` of a rank-`rank` tensor."""
    trailing = rank - axis - 1
    return b.call(ExpandDims, vector, axis=1, num_newaxis=trailing) if trailing else vector


def batch_norm(b: RelayBuilder, op: RelayOperatorOp) -> SSAValue:
    """Field 0 of batch_norm (the other two are its moving mean and variance, unchanged)."""
    dtype = tensor_dtype(op.operands[0].type)  # pyright: ignore[reportArgumentType]
    x, gamma, beta, mean, var = (
        b.call(Cast, v, dtype="float32") if dtype == "bfloat16" else v for v in op.operands
    )  # bfloat16 computes in float32 and rounds once, as the interpreter
    attrs = op.attrs
    rank = len(shape_of(x))
    axis = normalize_axis(attrs.axis, rank)
    inv = b.call(Rsqrt, b.call(Add, var, b.scalar(attrs.epsilon, var)))
    scale = b.call(Multiply, inv, gamma) if attrs.scale else inv
    shift = b.call(Negative, b.call(Multiply, mean, scale))
    if attrs.center:
        shift = b.call(Add, shift, beta)
    scaled = b.call(Multiply, x, along(b, scale, axis, rank))
    y = b.call(Add, scaled, along(b, shift, axis, rank))
    return b.call(Cast, y, dtype=dtype) if dtype == "bfloat16" else y


HALVES = ("float16", "bfloat16")


def _widened(b: RelayBuilder, op: RelayOperatorOp) -> tuple[str, list[SSAValue]]:
    """The dtype of op's data, and its operands, cast to float32 when that dtype is float16 or
    bfloat16: a 16-bit mean or sum of squares loses the digits x - mean (or x / norm) keeps
    when x's values nearly agree, so the statistics and the arithmetic after them are float32
    (as the interpreter's) and the result is rounded once (`_narrowed`)."""
    dtype = tensor_dtype(op.operands[0].type)  # pyright: ignore[reportArgumentType]
    values = list(op.operands)
    if dtype in HALVES:
        values = [b.call(Cast, v, dtype="float32") for v in values]
    return dtype, values


def _narrowed(b: RelayBuilder, y: SSAValue, dtype: str) -> SSAValue:
    return b.call(Cast, y, dtype=dtype) if dtype in HALVES else y


def layer_norm(b: RelayBuilder, op: RelayOperatorOp) -> SSAValue:
    dtype, (x, gamma, beta) = _widened(b, op)
    attrs = op.attrs
    rank = len(shape_of(x))
    axis = normalize_axis(attrs.axis, rank)
    mean = b.call(Mean, x, axis=[axis], keepdims=True)
    var = b.call(Variance, x, mean, axis=[axis], keepdims=True)
    out = b.call(
        Divide,
        b.call(Subtract, x, mean),
        b.call(Sqrt, b.call(Add, var, b.scalar(attrs.epsilon, var))),
    )
    if attrs.scale:
        out = b.call(Multiply, out, along(b, gamma, axis, rank))
    if attrs.center:
        out = b.call(Add, out, along(b, beta, axis, rank))
    return _narrowed(b, out, dtype)


def _standardized(b: RelayBuilder, x: SSAValue, axes: list[int], eps: float) -> SSAValue:
    """(x - mean) * rsqrt(var + eps) over `axes`."""
    mean = b.call(Mean, x, axis=axes, keepdims=True)
    var = b.call(Variance, x, mean, axis=axes, keepdims=True)
    return b.call(
        Multiply, b.call(Subtract, x, mean), b.call(Rsqrt, b.call(Add, var, b.scalar(eps, var)))
    )


def _scaled(
    b: RelayBuilder, op: RelayOperatorOp, y: SSAValue, gamma: SSAValue, beta: SSAValue, axis: int
) -> SSAValue:
    rank = len(shape_of(y))
    if op.attrs.scale:
        y = b.call(Multiply, y, along(b, gamma, axis, rank))
    if op.attrs.center:
        y = b.call(Add, y, along(b, beta, axis, rank))
    return y


def instance_norm(b: RelayBuilder, op: RelayOperatorOp) -> SSAValue:
    dtype, (x, gamma, beta) = _widened(b, op)
    rank = len(shape_of(x))
    axis = normalize_axis(op.attrs.axis, rank)
    y = _standardized(b, x, norm_reduced_axes(rank, axis), op.attrs.epsilon)
    return _narrowed(b, _scaled(b, op, y, gamma, beta, axis), dtype)


def group_norm(b: RelayBuilder, op: RelayOperatorOp) -> SSAValue:
    dtype, (x, gamma, beta) = _widened(b, op)
    rank = len(shape_of(x))
    attrs = op.attrs
    axis = normalize_axis(attrs.axis, rank)
    # Split the channel axis into (groups, channels per group): reshape codes 0 (copy),
    # -4 (split into the next two values), -2 (copy the rest); -3 merges them back.
    split = b.call(Reshape, x, newshape=[0] * axis + [-4, attrs.num_groups, -1, -2])
    y = _standardized(b, split, norm_reduced_axes(rank + 1, axis), attrs.epsilon)
    y = b.call(Reshape, y, newshape=[0] * axis + [-3, -2])
    return _narrowed(b, _scaled(b, op, y, gamma, beta, axis), dtype)


def l2_normalize(b: RelayBuilder, op: RelayOperatorOp) -> SSAValue:
    dtype, (x,) = _widened(b, op)
    total = b.call(
        Sum, b.call(Multiply, x, x), axis=l2_axes(op.attrs, len(shape_of(x))), keepdims=True
    )
    y = b.call(Multiply, x, b.call(Rsqrt, b.call(Maximum, total, b.scalar(op.attrs.eps, total))))
    return _narrowed(b, y, dtype)


Decomposition = Callable[[RelayBuilder, RelayOperatorOp], SSAValue]

DECOMPOSITIONS: dict[type[RelayOperatorOp], Decomposition] = {
    LayerNorm: layer_norm,
    InstanceNorm: instance_norm,
    GroupNorm: group_norm,
    L2Normalize: l2_normalize,
}
"""The single-result normalizations and the arithmetic they decompose into (built through
the builder). batch_norm, with its tuple result, is `batch_norm` on its field 0."""
