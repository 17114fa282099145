"""Reductions: sum mean max min prod argmax argmin variance.

`axis=None` reduces every axis; `exclude=True` reduces every axis but the
given ones; `keepdims` keeps reduced axes as size 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.ir import Attribute, SSAValue

from relay_opt.dialects.relay.attributes import AttrKind, Attrs, AttrSpec
from relay_opt.dialects.relay.ops.common import (
    dims_agree,
    expect_tensor,
    normalize_axis,
    result,
    show_shape,
)
from relay_opt.dialects.relay.ops.grad import (
    DY,
    Adjoints,
    GradBuilder,
    NotDifferentiable,
    dtype_of,
    gradient,
    shape_of,
)
from relay_opt.dialects.relay.ops.transform import ExpandDims
from relay_opt.dialects.relay.registry import (
    OpDef,
    OpPattern,
    RelayOperatorOp,
    TypeRelationError,
    register,
)
from relay_opt.dialects.relay.types import DYNAMIC

REDUCE_ATTRS = (
    AttrSpec("axis", AttrKind.INTS, None),
    AttrSpec("keepdims", AttrKind.BOOL, False),
    AttrSpec("exclude", AttrKind.BOOL, False),
)


def reduced_axes(attrs: Attrs, ndim: int) -> tuple[int, ...]:
    """The axes a reduction removes, sorted, after `axis`/`exclude`."""
    if attrs.axis is None:
        return tuple(range(ndim))
    if ndim == 0 and attrs.axis:  # normalize_axis lets axis 0 through on rank 0; TVM does not
        raise TypeRelationError(f"axis {list(attrs.axis)} is out of range for rank 0")
    given = [normalize_axis(a, ndim) for a in attrs.axis]
    if len(set(given)) != len(given):
        raise TypeRelationError(f"axis {list(attrs.axis)} names an axis twice")
    if attrs.exclude:
        return tuple(a for a in range(ndim) if a not in given)
    return tuple(sorted(given))


def reduced_shape(shape: Sequence[int], axes: Sequence[int], keepdims: bool) -> tuple[int, ...]:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_rel(out_dtype: str | None = None, floats_only: bool = False):  # noqa: ANN202
    def relation(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
        shape, dtype = expect_tensor(args[0], "data")
        if floats_only and not dtype.startswith(("float", "bfloat")):
            raise TypeRelationError(f"expects a floating-point tensor, got {dtype}")
        axes = reduced_axes(attrs, len(shape))
        return result(reduced_shape(shape, axes, attrs.keepdims), out_dtype or dtype)

    return relation


def _reduce_dims(shapes: Sequence[Sequence[object]], attrs: Attrs) -> list[object]:
    """The shape function: the kept dims of the data."""
    shape = shapes[0]
    return list(reduced_shape(shape, reduced_axes(attrs, len(shape)), attrs.keepdims))  # pyright: ignore[reportArgumentType]


def _np_reduce(fn: Callable[..., np.ndarray]):  # noqa: ANN202
    def compute(attrs: Attrs, x: np.ndarray) -> np.ndarray:
        axes = reduced_axes(attrs, x.ndim)
        return np.asarray(fn(x, axis=axes, keepdims=attrs.keepdims)).astype(x.dtype)

    return compute


def _mean(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    if x.dtype == np.bool_:
        # A bool mean is nonzero when any element is true (and false over no elements: the
        # integer mean's 0), as a bool sum is a logical or.
        return np.any(x, axis=axis, keepdims=keepdims)
    if np.issubdtype(x.dtype, np.integer):
        # Integer mean is TVM's: the sum in the input dtype (wrapping), divided by the count
        # with truncation (exactly: no float round trip); an empty mean is 0 (0 / 0 is 0, as
        # the integer divide defines it).
        count = int(np.prod([x.shape[a] for a in axis], dtype=np.int64)) or 1
        s = np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)
        wide = np.abs(s.astype(np.int64)) if x.dtype.kind == "i" else s.astype(np.uint64)
        q = wide // wide.dtype.type(count)  # (a count past the dtype's range: numpy refused)
        return np.where(s < 0, -q, q).astype(x.dtype)
    return np.asarray(np.mean(x, axis=axis, keepdims=keepdims, dtype=np.float64))


def _reduction(name: str, fn: Callable[..., np.ndarray], summary: str) -> OpDef:
    return OpDef(
        name,
        ("data",),
        REDUCE_ATTRS,
        _reduce_rel(),
        OpPattern.COMM_REDUCE,
        _np_reduce(fn),
        summary,
        shape=_reduce_dims,
    )


@register(_reduction("sum", np.sum, "sum over axes"))
class Sum(RelayOperatorOp): ...


@register(_reduction("mean", _mean, "mean over axes"))
class Mean(RelayOperatorOp): ...


def _extreme(fn: Callable[..., np.ndarray], lowest: bool) -> Callable[..., np.ndarray]:
    """max or min that, over no elements, gives the reduction's start value as native code
    does (the lowest or highest value of the dtype: -inf, inf, or the integer bounds), where
    numpy raises."""

    def reduce(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
        if all(x.shape[a] for a in axis):
            return fn(x, axis=axis, keepdims=keepdims)
        if x.dtype == np.bool_:
            start = not lowest
        elif np.issubdtype(x.dtype, np.integer):
            info = np.iinfo(x.dtype)
            start = info.min if lowest else info.max
        else:
            start = -np.inf if lowest else np.inf
        return fn(x, axis=axis, keepdims=keepdims, initial=np.asarray(start).astype(x.dtype))

    return reduce


@register(_reduction("max", _extreme(np.max, lowest=True), "maximum over axes"))
class Max(RelayOperatorOp): ...


@register(_reduction("min", _extreme(np.min, lowest=False), "minimum over axes"))
class Min(RelayOperatorOp): ...


@register(_reduction("prod", np.prod, "product over axes"))
class Prod(RelayOperatorOp): ...


def _arg_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, _ = expect_tensor(args[0], "data")
    axes = reduced_axes(attrs, len(shape))
    return result(reduced_shape(shape, axes, attrs.keepdims), "int32")


def _arg_reduce(pick: Callable[..., np.ndarray]):  # noqa: ANN202
    def compute(attrs: Attrs, x: np.ndarray) -> np.ndarray:
        axes = reduced_axes(attrs, x.ndim)
        kept = [a for a in range(x.ndim) if a not in axes]
        # Move the reduced axes last and flatten them: the index is into that flattening.
        count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
        moved: np.ndarray = np.transpose(x, kept + list(axes)).reshape(
            [x.shape[a] for a in kept] + [count]
        )
        if count == 0 and moved.size == 0 and 0 in moved.shape[:-1]:
            # No result element (0 rows kept): nothing to pick from, as native code.
            idx = np.zeros(moved.shape[:-1], np.int32)
            return idx.reshape(reduced_shape(x.shape, axes, True)) if attrs.keepdims else idx
        if count == 0:  # numpy has no answer; compiled code reports the same
            raise ValueError("over no elements (an empty axis)")
        if attrs.select_last_index:
            flipped = moved[..., ::-1]
            idx = moved.shape[-1] - 1 - pick(flipped, axis=-1)
        else:
            idx = pick(moved, axis=-1)
        idx = np.asarray(idx, dtype=np.int32)
        if attrs.keepdims:
            idx = idx.reshape(reduced_shape(x.shape, axes, True))
        return idx

    return compute


ARG_ATTRS = (*REDUCE_ATTRS, AttrSpec("select_last_index", AttrKind.BOOL, False))


@register(
    OpDef(
        "argmax",
        ("data",),
        ARG_ATTRS,
        _arg_rel,
        OpPattern.COMM_REDUCE,
        _arg_reduce(np.argmax),
        "index of the maximum (int32)",
        shape=_reduce_dims,
    )
)
class Argmax(RelayOperatorOp): ...


@register(
    OpDef(
        "argmin",
        ("data",),
        ARG_ATTRS,
        _arg_rel,
        OpPattern.COMM_REDUCE,
        _arg_reduce(np.argmin),
        "index of the minimum (int32)",
        shape=_reduce_dims,
    )
)
class Argmin(RelayOperatorOp): ...


def _variance_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    out = _reduce_rel(floats_only=True)(args[:1], attrs)
    mshape, mdtype = expect_tensor(args[1], "mean")
    dshape, ddtype = expect_tensor(args[0], "data")
    if mdtype != ddtype:
        raise TypeRelationError(f"data is {ddtype} but mean is {mdtype}")
    kept = reduced_shape(dshape, reduced_axes(attrs, len(dshape)), True)
    if len(mshape) != len(kept) or any(
        m not in (k, 1) and DYNAMIC not in (m, k) for m, k in zip(mshape, kept, strict=True)
    ):
        raise TypeRelationError(
            f"mean has shape {show_shape(mshape)}; expected the data's shape "
            f"{show_shape(kept)} with reduced axes of size 1"
        )
    return out


def _variance(attrs: Attrs, x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    axes = reduced_axes(attrs, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    sq = np.sum((x.astype(np.float64) - mean) ** 2, axis=axes, keepdims=attrs.keepdims)
    return (sq / max(count - (1 if attrs.unbiased else 0), 1)).astype(x.dtype)


@register(
    OpDef(
        "variance",
        ("data", "mean"),
        (*REDUCE_ATTRS, AttrSpec("unbiased", AttrKind.BOOL, False)),
        _variance_rel,
        OpPattern.COMM_REDUCE,
        _variance,
        "mean squared deviation from a given mean (TVM's variance(data, mean))",
        shape=_reduce_dims,
    )
)
class Variance(RelayOperatorOp): ...


# -- det ---------------------------------------------------------------------------------------


def _det_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    # A `?` side of the matrices is checked when it runs (DET_NOT_SQUARE).
    if len(shape) < 2 or not dims_agree(shape[-1:], shape[-2:-1]):
        raise TypeRelationError(f"det takes square matrices (..., M, M), got {list(shape)}")
    if not dtype.startswith("float"):
        raise TypeRelationError(f"det takes float matrices, got {dtype}")
    return result(shape[:-2], dtype)


DET_NOT_SQUARE = "the matrices are not square at run time"
"""The run-time error of det's `?` matrix sides, interpreted and native."""


def det_compute_dtype(dtype: str) -> str:
    """float64 matrices are eliminated in float64, the others in float32."""
    return "float64" if dtype == "float64" else "float32"


def _det(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    """Gaussian elimination with partial pivoting, in the order the lowering unrolls it: for
    each column k, rows below k are compared with row k in turn and swapped in when their
    entry is larger in magnitude (the first largest wins; each swap flips the sign); a zero
    pivot eliminates nothing (the determinant is 0)."""
    ct = np.dtype(det_compute_dtype(str(x.dtype))).type
    m = x.shape[-1]
    if x.shape[-2] != m:
        raise ValueError(f"{DET_NOT_SQUARE}: {x.shape}")
    a = x.astype(ct)
    a = np.array(a, copy=True)
    sign = np.ones(x.shape[:-2], ct)
    for k in range(m):
        for i in range(k + 1, m):
            swap = np.abs(a[..., i, k]) > np.abs(a[..., k, k])
            row_k, row_i = a[..., k, k:].copy(), a[..., i, k:].copy()
            a[..., k, k:] = np.where(swap[..., None], row_i, row_k)
            a[..., i, k:] = np.where(swap[..., None], row_k, row_i)
            sign = np.where(swap, -sign, sign)
        pivot = a[..., k, k]
        for i in range(k + 1, m):
            factor = np.where(pivot == 0, ct(0), a[..., i, k] / np.where(pivot == 0, 1, pivot))
            a[..., i, k + 1 :] = a[..., i, k + 1 :] - factor[..., None] * a[..., k, k + 1 :]
    out = sign
    for k in range(m):
        out = out * a[..., k, k]
    return np.asarray(out, ct).astype(x.dtype)


@register(
    OpDef(
        "det",
        ("data",),
        (),
        _det_rel,
        OpPattern.OPAQUE,
        _det,
        "determinant of each matrix of the last two axes (elimination with partial pivoting)",
        shape=lambda shapes, attrs: list(shapes[0][:-2]),  # noqa: ARG005
    )
)
class Det(RelayOperatorOp): ...


# -- gradients -----------------------------------------------------------------------------


def _spread(g: GradBuilder, op: RelayOperatorOp, v: SSAValue) -> SSAValue:
    """A reduction's result (or its adjoint) broadcast back over the reduced axes."""
    x = op.operands[0]
    xshape = shape_of(x)
    axes = reduced_axes(op.attrs, len(xshape))
    kept = reduced_shape(xshape, axes, True)
    if DYNAMIC not in kept:
        v = g.reshape(v, kept)
    elif not op.attrs.keepdims:  # (a reshape cannot name `?` sizes: unit axes put back)
        for axis in sorted(axes):
            v = g.call(ExpandDims, v, axis=axis)
    return g.broadcast_to(v, xshape, like=x)


def _count(op: RelayOperatorOp) -> int:
    """How many elements each result of a reduction combines (known at compile time)."""
    xshape = shape_of(op.operands[0])
    sizes = [xshape[a] for a in reduced_axes(op.attrs, len(xshape))]
    if DYNAMIC in sizes:
        raise NotDifferentiable(f"'{op.OPDEF.name}' over `?` axes is not differentiable here")
    return int(np.prod(sizes))


def _reduction_input(op: RelayOperatorOp) -> SSAValue:
    x = op.operands[0]
    if not dtype_of(x).startswith(("float", "bfloat")):
        raise NotDifferentiable(f"'{op.OPDEF.name}' on {dtype_of(x)} is not differentiable")
    return x


@gradient(Sum)
def _sum_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _reduction_input(op)
    assert isinstance(dy, SSAValue)
    return [_spread(g, op, dy)]


@gradient(Mean)
def _mean_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _reduction_input(op)
    assert isinstance(dy, SSAValue)
    count = _count(op)
    return [_spread(g, op, g.scale(dy, 1.0 / max(count, 1)))]


@gradient(Max, Min)
def _extremum_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    from relay_opt.dialects.relay.ops.elementwise import Equal

    x = _reduction_input(op)
    assert isinstance(dy, SSAValue)
    # Every element equal to the extremum gets the adjoint (TVM's rule; ties are rare in floats).
    hit = g.mask(g.call(Equal, x, _spread(g, op, op.result)), x)
    return [g.mul(hit, _spread(g, op, dy))]


@gradient(Prod)
def _prod_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    x = _reduction_input(op)
    assert isinstance(dy, SSAValue)
    # d prod / d x_i = prod / x_i, for nonzero x_i.
    return [g.div(g.mul(_spread(g, op, dy), _spread(g, op, op.result)), x)]


@gradient(Variance)
def _variance_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # v = sum((x - m)^2) / c: dv/dx = 2 (x - m) / c, and m (broadcast over the reduced axes)
    # gets minus the sum of that. With m = mean(x) this is batch_norm's training form: its
    # statistics carry gradient too.
    x, m = op.operands
    _reduction_input(op)
    assert isinstance(dy, SSAValue)
    count = _count(op)
    c = max(count - (1 if op.attrs.unbiased else 0), 1)
    dx = g.mul(g.scale(g.minus(x, m), 2.0 / c), _spread(g, op, dy))
    return [dx, g.neg(g.sum_to(dx, shape_of(m)))]
