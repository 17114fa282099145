"""Shape, layout, indexing and creation operators."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, SSAValue

from relay_opt.dialects.relay.attributes import AttrKind, Attrs, AttrSpec
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.ops.common import (
    dim_max,
    dim_min,
    dims_agree,
    expect_tensor,
    expect_tuple,
    joined_dims,
    normalize_axis,
    result,
    same_dims,
    show_shape,
)
from relay_opt.dialects.relay.ops.elementwise import (
    Cast,
    Equal,
    GreaterEqual,
    Less,
    LogicalAnd,
    Mod,
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
from relay_opt.dialects.relay.registry import (
    OpDef,
    OpPattern,
    RelayOperatorOp,
    TypeRelationError,
    register,
)
from relay_opt.dialects.relay.types import DYNAMIC, tensor_shape, tensor_type, tuple_type

INJ = OpPattern.INJECTIVE
Shape = tuple[int, ...]


def _size(shape: Sequence[int]) -> int:
    return DYNAMIC if DYNAMIC in shape else int(np.prod(shape, dtype=np.int64))


# -- reshape -------------------------------------------------------------------------------


def reshape_shape(
    shape: Sequence[int], newshape: Sequence[int], allowzero: bool = False
) -> tuple[int, ...]:
    """TVM's newshape codes: 0 copies a dim, -1 infers one, -2 copies the rest,
    -3 merges two dims, -4 splits one dim into the next two values."""
    out: list[int] = []
    src = 0
    infer_at = None
    i = 0
    while i < len(newshape):
        v = newshape[i]
        if v > 0 or (v == 0 and allowzero):
            out.append(v)
            src += 1
        elif v == 0:
            if src >= len(shape):
                raise TypeRelationError(
                    f"newshape {list(newshape)}: 0 has no input dimension to copy"
                )
            out.append(shape[src])
            src += 1
        elif v == -1:
            if infer_at is not None:
                raise TypeRelationError(f"newshape {list(newshape)} has more than one -1")
            infer_at = len(out)
            out.append(1)
            src += 1
        elif v == -2:
            out.extend(shape[src:])
            src = len(shape)
        elif v == -3:
            if src + 1 >= len(shape):
                raise TypeRelationError(f"newshape {list(newshape)}: -3 needs two input dimensions")
            a, b = shape[src], shape[src + 1]
            out.append(DYNAMIC if DYNAMIC in (a, b) else a * b)
            src += 2
        elif v == -4:
            if i + 2 >= len(newshape) or src >= len(shape):
                raise TypeRelationError(f"newshape {list(newshape)}: -4 needs two following values")
            d, a, b = shape[src], newshape[i + 1], newshape[i + 2]
            if a == -1 and b == -1:
                raise TypeRelationError("-4 cannot be followed by two -1")
            if a == -1:
                a = DYNAMIC if d == DYNAMIC else d // b
            if b == -1:
                b = DYNAMIC if d == DYNAMIC else d // a
            if DYNAMIC not in (d, a, b) and a * b != d:
                raise TypeRelationError(f"-4 splits {d} into {a} x {b}")
            out.extend([a, b])
            src += 1
            i += 2
        else:
            raise TypeRelationError(f"newshape value {v} is not allowed")
        i += 1
    total = _size(shape)
    if infer_at is not None:
        known = _size([d for k, d in enumerate(out) if k != infer_at])
        if DYNAMIC in (total, known):
            out[infer_at] = DYNAMIC
        else:
            if known == 0 or total % known:
                raise TypeRelationError(f"cannot reshape {show_shape(shape)} to {list(newshape)}")
            out[infer_at] = total // known
    if DYNAMIC not in (total, _size(out)) and total != _size(out):
        raise TypeRelationError(
            f"cannot reshape {show_shape(shape)} ({total} elements) to {show_shape(out)}"
        )
    return tuple(out)


def dims_product(dims: Sequence[object]) -> object:
    """The product of dims (ints or run-time sizes), for shape functions."""
    total: object = 1
    for d in dims:
        total = total * d  # pyright: ignore[reportOperatorIssue]
    return total


def _reshape_dims(shapes: Sequence[Sequence[object]], attrs: Attrs) -> list[object]:
    """The shape function of reshape: `reshape_shape` over run-time sizes (-4 needs its two
    values given)."""
    shape, newshape = shapes[0], list(attrs.newshape)
    out: list[object] = []
    src, infer_at, i = 0, None, 0
    while i < len(newshape):
        v = newshape[i]
        if v > 0 or (v == 0 and attrs.allowzero):
            out.append(v)
            src += 1
        elif v == 0:
            out.append(shape[src])
            src += 1
        elif v == -1:
            infer_at = len(out)
            out.append(1)
            src += 1
        elif v == -2:
            out.extend(shape[src:])
            src = len(shape)
        elif v == -3:
            out.append(shape[src] * shape[src + 1])  # pyright: ignore[reportOperatorIssue]
            src += 2
        else:  # -4: one dim split into the next two values
            a, b = newshape[i + 1], newshape[i + 2]
            out += [shape[src] // b if a == -1 else a, shape[src] // a if b == -1 else b]  # pyright: ignore[reportOperatorIssue]
            src += 1
            i += 2
        i += 1
    if infer_at is not None:
        known = dims_product([d for k, d in enumerate(out) if k != infer_at])
        out[infer_at] = dims_product(shape) // known  # pyright: ignore[reportOperatorIssue]
    return out


def _reshape_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    return result(reshape_shape(shape, attrs.newshape, bool(attrs.allowzero)), dtype)


@register(
    OpDef(
        "reshape",
        ("data",),
        (AttrSpec("newshape", AttrKind.INTS, []), AttrSpec("allowzero", AttrKind.INT, 0)),
        _reshape_rel,
        INJ,
        lambda attrs, x: x.reshape(
            reshape_shape(x.shape, attrs.newshape, bool(attrs.allowzero))
        ).copy(),
        "reshape (with TVM's 0/-1/-2/-3/-4 codes)",
        shape=_reshape_dims,
        moves_strings=True,
    )
)
class Reshape(RelayOperatorOp): ...


def _dyn_reshape(x: np.ndarray, newshape: np.ndarray) -> np.ndarray:
    sizes = [int(d) for d in newshape]
    if min(sizes, default=0) < 0:  # (numpy would take a negative size as one to infer)
        raise ValueError(f"a size of the new shape {sizes} is negative")
    return x.reshape(sizes).copy()


def _dyn_reshape_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:  # noqa: ARG001
    _, dtype = expect_tensor(args[0], "data")
    shape, shape_dtype = expect_tensor(args[1], "newshape")
    if len(shape) != 1 or shape[0] < 0 or not shape_dtype.startswith("int"):
        raise TypeRelationError(
            f"newshape must be a 1-D integer tensor of static length, not "
            f"{show_shape(shape)} {shape_dtype}"
        )
    return result([DYNAMIC] * shape[0], dtype)


@register(
    OpDef(
        "dyn.reshape",
        ("data", "newshape"),
        (),
        _dyn_reshape_rel,
        OpPattern.OPAQUE,  # its own kernel: the sizes are read from `newshape` first
        lambda attrs, x, newshape: _dyn_reshape(x, newshape),  # noqa: ARG005
        "reshape to a shape computed at run time (every size given: no 0/-1 codes)",
        shape=lambda shapes, attrs: list(shapes[1]),  # noqa: ARG005
        shape_reads=(1,),
    )
)
class DynReshape(RelayOperatorOp): ...


def _dyn_slice_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    for name, t in zip(("begin", "size"), args[1:], strict=True):
        dims, index_dtype = expect_tensor(t, name)
        if list(dims) != [len(shape)] or not index_dtype.startswith("int"):
            raise TypeRelationError(
                f"{name} must be a 1-D integer tensor of the data's rank {len(shape)}, not "
                f"{show_shape(dims)} {index_dtype}"
            )
    strides = list(attrs.strides) or [1] * len(shape)
    if len(strides) != len(shape) or any(st < 1 for st in strides):
        raise TypeRelationError(f"strides {strides} must be positive, one per axis")
    return result([DYNAMIC] * len(shape), dtype)


def _dyn_slice(attrs: Attrs, x: np.ndarray, begin: np.ndarray, size: np.ndarray) -> np.ndarray:
    strides = list(attrs.strides) or [1] * x.ndim
    out = x
    for axis, (b, n, st) in enumerate(zip(begin, size, strides, strict=True)):
        indices = int(b) + np.arange(int(n), dtype=np.int64) * st
        if int(n) < 0 or (int(n) and (int(b) < 0 or indices[-1] >= x.shape[axis])):
            raise ValueError(f"slice of axis {axis} out of bounds")
        out = np.take(out, indices, axis=axis)
    return out.copy()


@register(
    OpDef(
        "dyn.strided_slice",
        ("data", "begin", "size"),
        (AttrSpec("strides", AttrKind.INTS, []),),
        _dyn_slice_rel,
        OpPattern.OPAQUE,  # its own kernel: the sizes are read from `size` first
        _dyn_slice,
        "elements begin + i * stride, i < size, of each axis (begin and size read at run time)",
        shape=lambda shapes, attrs: list(shapes[2]),  # noqa: ARG005
        shape_reads=(2,),
    )
)
class DynStridedSlice(RelayOperatorOp): ...


def _dyn_update_slice_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:  # noqa: ARG001
    shape, dtype = expect_tensor(args[0], "data")
    update, update_dtype = expect_tensor(args[1], "update")
    if update_dtype != dtype or len(update) != len(shape):
        raise TypeRelationError(
            f"update must be a {dtype} tensor of the data's rank {len(shape)}, not "
            f"{show_shape(update)} {update_dtype}"
        )
    # A `?` size (of either) is checked when it runs, with the offset read from `begin`.
    if any(0 <= d < u for d, u in zip(shape, update, strict=True)):
        raise TypeRelationError(
            f"update's shape {show_shape(update)} must fit in the data's {show_shape(shape)}"
        )
    dims, index_dtype = expect_tensor(args[2], "begin")
    # A `?` length must be the data's rank when it runs (checked then).
    if len(dims) != 1 or dims[0] not in (len(shape), DYNAMIC) or not index_dtype.startswith("int"):
        raise TypeRelationError(
            f"begin must be a 1-D integer tensor of the data's rank {len(shape)}, not "
            f"{show_shape(dims)} {index_dtype}"
        )
    return result(shape, dtype)


def _dyn_update_slice(x: np.ndarray, update: np.ndarray, begin: np.ndarray) -> np.ndarray:
    return update_slice_into(x.copy(), update, begin)


def update_slice_into(out: np.ndarray, update: np.ndarray, begin: np.ndarray) -> np.ndarray:
    """`out` with `update` written at `begin`, in place: dyn.update_slice's semantics for a
    caller that owns `out` (the interpreter, when the data is dead after the update)."""
    if begin.shape != (out.ndim,):
        raise ValueError(
            f"begin's length is not the data's rank ({begin.size} elements, not {out.ndim})"
        )
    box = []
    for axis, (b, n, dim) in enumerate(zip(begin, update.shape, out.shape, strict=True)):
        if int(b) < 0 or int(b) + n > dim:
            raise ValueError(f"axis {axis} writes outside the data (the update at {int(b)})")
        box.append(slice(int(b), int(b) + n))
    out[tuple(box)] = update
    return out


@register(
    OpDef(
        "dyn.update_slice",
        ("data", "update", "begin"),
        (),
        _dyn_update_slice_rel,
        OpPattern.OPAQUE,  # its own kernel: a write at a position read at run time
        lambda attrs, x, update, begin: _dyn_update_slice(x, update, begin),  # noqa: ARG005
        "the data with `update` written at `begin` (read at run time; the slice must fit)",
        shape=same_dims,
    )
)
class DynUpdateSlice(RelayOperatorOp): ...


def _dyn_broadcast_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:  # noqa: ARG001
    data, dtype = expect_tensor(args[0], "data")
    shape, shape_dtype = expect_tensor(args[1], "shape")
    if len(shape) != 1 or shape[0] < len(data) or not shape_dtype.startswith("int"):
        raise TypeRelationError(
            f"shape must be a 1-D integer tensor of static length at least the data's rank "
            f"{len(data)}, not {show_shape(shape)} {shape_dtype}"
        )
    return result([DYNAMIC] * shape[0], dtype)


@register(
    OpDef(
        "dyn.broadcast_to",
        ("data", "shape"),
        (),
        _dyn_broadcast_rel,
        OpPattern.OPAQUE,  # its own kernel: the sizes are read from `shape` first
        lambda attrs, x, shape: np.broadcast_to(x, [int(d) for d in shape]).copy(),  # noqa: ARG005
        "broadcast to a shape read at run time (numpy's rules: a dim of the data is 1 or equal)",
        shape=lambda shapes, attrs: list(shapes[1]),  # noqa: ARG005
        shape_reads=(1,),
    )
)
class DynBroadcastTo(RelayOperatorOp): ...


# -- transpose, squeeze, expand_dims ------------------------------------------------------------


def transpose_axes(attrs: Attrs, ndim: int) -> list[int]:
    if attrs.axes is None or len(attrs.axes) == 0:
        return list(range(ndim))[::-1]
    axes = [normalize_axis(a, ndim) for a in attrs.axes]
    if sorted(axes) != list(range(ndim)):
        raise TypeRelationError(f"axes {list(attrs.axes)} is not a permutation of {ndim} axes")
    return axes


def _transpose_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    return result([shape[a] for a in transpose_axes(attrs, len(shape))], dtype)


@register(
    OpDef(
        "transpose",
        ("data",),
        (AttrSpec("axes", AttrKind.INTS, None),),
        _transpose_rel,
        INJ,
        lambda attrs, x: np.transpose(x, transpose_axes(attrs, x.ndim)).copy(),
        "permute axes (reversed by default)",
        shape=lambda shapes, attrs: [shapes[0][a] for a in transpose_axes(attrs, len(shapes[0]))],
        moves_strings=True,
    )
)
class Transpose(RelayOperatorOp): ...


def _static(shape: Sequence[object]) -> list[int]:
    """A shape with its run-time sizes as `?` (for helpers that only look at static dims)."""
    return [d if isinstance(d, int) else DYNAMIC for d in shape]


def squeeze_axes(attrs: Attrs, shape: Sequence[int]) -> list[int]:
    if attrs.axis is None:
        return [i for i, d in enumerate(shape) if d == 1]
    axes = [normalize_axis(a, len(shape)) for a in attrs.axis]
    for a in axes:
        if shape[a] not in (1, DYNAMIC):
            raise TypeRelationError(f"cannot squeeze axis {a} of size {shape[a]}")
    return axes


def _squeeze_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    axes = squeeze_axes(attrs, shape)
    return result([d for i, d in enumerate(shape) if i not in axes], dtype)


def _squeeze_typed_attrs(attrs: Attrs, arg_types: Sequence[Attribute]) -> Attrs:
    """Without axes, the axes the type relation drops: the data's dims statically 1."""
    if attrs.axis is not None:
        return attrs
    shape, _ = expect_tensor(arg_types[0], "data")
    return Attrs({**attrs, "axis": squeeze_axes(attrs, shape)})


@register(
    OpDef(
        "squeeze",
        ("data",),
        (AttrSpec("axis", AttrKind.INTS, None),),
        _squeeze_rel,
        INJ,
        lambda attrs, x: x.reshape(
            [d for i, d in enumerate(x.shape) if i not in squeeze_axes(attrs, x.shape)]
        ).copy(),
        "remove size-1 axes (without axes: the dims statically 1)",
        shape=lambda shapes, attrs: [
            d for i, d in enumerate(shapes[0]) if i not in squeeze_axes(attrs, _static(shapes[0]))
        ],
        typed_attrs=_squeeze_typed_attrs,
    )
)
class Squeeze(RelayOperatorOp):
    """squeeze(data, axis): drops the named size-1 axes (a `?` one must be 1 at run time).
    Without axes it drops the dims its type says are 1 and keeps every `?` dim, whatever
    its run-time size: the result's rank is the type's, so the interpreter and native code
    agree with TVM's relation (numpy's squeeze would also drop a `?` dim that is 1)."""


def expand_shape(attrs: Attrs, shape: Sequence[int]) -> list[int]:
    ndim = len(shape)
    if not -ndim - 1 <= attrs.axis <= ndim:
        raise TypeRelationError(f"axis {attrs.axis} is out of range for rank {ndim}")
    axis = attrs.axis + ndim + 1 if attrs.axis < 0 else attrs.axis
    return [*shape[:axis], *([1] * attrs.num_newaxis), *shape[axis:]]


def _expand_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    return result(expand_shape(attrs, shape), dtype)


@register(
    OpDef(
        "expand_dims",
        ("data",),
        (AttrSpec("axis", AttrKind.INT, 0), AttrSpec("num_newaxis", AttrKind.INT, 1)),
        _expand_rel,
        OpPattern.BROADCAST,
        lambda attrs, x: x.reshape(expand_shape(attrs, x.shape)).copy(),
        "insert size-1 axes",
        shape=lambda shapes, attrs: expand_shape(attrs, shapes[0]),  # pyright: ignore[reportArgumentType]
    )
)
class ExpandDims(RelayOperatorOp): ...


# -- concatenate, stack, split --------------------------------------------------------------


def _concat_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    fields = expect_tuple(args[0], "data")
    if not fields:
        raise TypeRelationError("concatenate needs at least one tensor")
    shape0, dtype = fields[0]
    axis = normalize_axis(attrs.axis, len(shape0))
    total = 0
    for i, (shape, dt) in enumerate(fields):
        if dt != dtype or len(shape) != len(shape0):
            raise TypeRelationError(
                f"field {i} is {show_shape(shape)} {dt}, field 0 is {show_shape(shape0)} {dtype}"
            )
        for k, (a, b) in enumerate(zip(shape, shape0, strict=True)):
            if k != axis and DYNAMIC not in (a, b) and a != b:
                raise TypeRelationError(
                    f"field {i} has shape {show_shape(shape)}, incompatible with "
                    f"{show_shape(shape0)} off axis {axis}"
                )
        total = DYNAMIC if DYNAMIC in (total, shape[axis]) else total + shape[axis]
    out = list(shape0)
    out[axis] = total
    return result(out, dtype)


def _concat_dims(shapes: Sequence[Sequence[Sequence[object]]], attrs: Attrs) -> list[object]:
    fields = shapes[0]
    axis = normalize_axis(attrs.axis, len(fields[0]))
    out = list(fields[0])
    for f in fields[1:]:
        out[axis] = out[axis] + f[axis]  # pyright: ignore[reportOperatorIssue]
    return out


@register(
    OpDef(
        "concatenate",
        ("data",),
        (AttrSpec("axis", AttrKind.INT, 0),),
        _concat_rel,
        INJ,
        lambda attrs, xs: np.concatenate(xs, axis=attrs.axis),
        "join a tuple of tensors along an axis",
        shape=_concat_dims,
        moves_strings=True,
    )
)
class Concatenate(RelayOperatorOp): ...


def _stack_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    fields = expect_tuple(args[0], "data")
    if not fields:
        raise TypeRelationError("stack needs at least one tensor")
    shape0, dtype = fields[0]
    for i, (shape, dt) in enumerate(fields):
        if (
            dt != dtype
            or len(shape) != len(shape0)
            or any(DYNAMIC not in (a, b) and a != b for a, b in zip(shape, shape0, strict=True))
        ):
            raise TypeRelationError(
                f"field {i} is {show_shape(shape)} {dt}, field 0 is {show_shape(shape0)} {dtype}"
            )
    ndim = len(shape0) + 1
    if not -ndim <= attrs.axis < ndim:
        raise TypeRelationError(f"axis {attrs.axis} is out of range for rank {ndim}")
    axis = attrs.axis % ndim
    return result([*shape0[:axis], len(fields), *shape0[axis:]], dtype)


def _stack_dims(shapes: Sequence[Sequence[Sequence[object]]], attrs: Attrs) -> list[object]:
    fields = shapes[0]
    out = list(fields[0])
    axis = normalize_axis(attrs.axis, len(out) + 1)
    return [*out[:axis], len(fields), *out[axis:]]


@register(
    OpDef(
        "stack",
        ("data",),
        (AttrSpec("axis", AttrKind.INT, 0),),
        _stack_rel,
        INJ,
        lambda attrs, xs: np.stack(xs, axis=attrs.axis),
        "stack a tuple of tensors on a new axis",
        shape=_stack_dims,
    )
)
class Stack(RelayOperatorOp): ...


def split_bounds(attrs: Attrs, size: Any) -> list[tuple[Any, Any]]:
    """(start, stop) of each part; `size` may be a run-time size (the shape function's: its
    sections' divisibility is checked by the lowering)."""
    sections = attrs.indices_or_sections
    if isinstance(sections, int):
        if sections <= 0 or (isinstance(size, int) and size != DYNAMIC and size % sections):
            raise TypeRelationError(
                f"cannot split a dimension of {size} into {sections} equal parts"
            )
        step = DYNAMIC if size == DYNAMIC else size // sections
        return [(k * step, (k + 1) * step) for k in range(sections)]
    starts = [0, *sections]
    ends = [*sections, size]
    return list(zip(starts, ends, strict=True))


def _split_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    axis = normalize_axis(attrs.axis, len(shape))
    fields = []
    for a, b in split_bounds(attrs, shape[axis]):
        out = list(shape)
        out[axis] = DYNAMIC if DYNAMIC in (a, b) else b - a
        if out[axis] != DYNAMIC and out[axis] < 0:
            raise TypeRelationError(f"split indices {attrs.indices_or_sections} are not increasing")
        fields.append(result(out, dtype))
    return tuple_type(fields)


def _split_dims(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[list[Any]]:
    """The shape function: one shape per part (the result is a tuple). Indices past a
    run-time size clamp to it, as numpy's slicing does."""
    shape = shapes[0]
    axis = normalize_axis(attrs.axis, len(shape))
    size = shape[axis]
    parts = []
    for a, b in split_bounds(attrs, size):
        start = dim_min(a, size)
        part = list(shape)
        part[axis] = dim_max(dim_min(b, size) - start, 0)
        parts.append(part)
    return parts


def _split(attrs: Attrs, x: np.ndarray) -> tuple[np.ndarray, ...]:
    axis = normalize_axis(attrs.axis, x.ndim)
    parts = []
    for a, b in split_bounds(attrs, x.shape[axis]):
        index = [slice(None)] * x.ndim
        index[axis] = slice(a, b)
        parts.append(x[tuple(index)].copy())
    return tuple(parts)


@register(
    OpDef(
        "split",
        ("data",),
        (
            AttrSpec("indices_or_sections", AttrKind.INT_OR_INTS, 1),
            AttrSpec("axis", AttrKind.INT, 0),
        ),
        _split_rel,
        INJ,
        _split,
        "split into equal sections or at indices; returns a tuple",
        shape=_split_dims,
    )
)
class Split(RelayOperatorOp): ...


# -- strided_slice, take ---------------------------------------------------------------------


def slice_bounds(attrs: Attrs, shape: Sequence[Any]) -> list[tuple[Any, Any, int]]:
    """(start, stop, step) per axis, clamped as TVM's strided_slice does. A dim may be a
    run-time size (the shape function's): its bounds are clamped at run time (`dim_min`,
    `dim_max`); a `DYNAMIC` dim (the type relation's) keeps the attributes' bounds."""
    ndim = len(shape)
    axes = (
        [normalize_axis(a, ndim) for a in attrs.axes]
        if attrs.axes is not None
        else list(range(len(attrs.begin)))
    )
    begin, end = list(attrs.begin), list(attrs.end)
    strides = list(attrs.strides) if attrs.strides else [1]
    if len(strides) == 1:
        strides = strides * len(axes)
    bounds: list[tuple[Any, Any, int]] = [(0, d, 1) for d in shape]
    for k, axis in enumerate(axes):
        d = shape[axis]
        step = strides[k] if k < len(strides) else 1
        if step == 0:
            raise TypeRelationError("strided_slice strides cannot be 0")
        given_b = k < len(begin)
        b = begin[k] if given_b else (0 if step > 0 else d - 1)
        if attrs.slice_mode == "size":
            size = end[k] if k < len(end) else -1
            e, given_e = (d, False) if size < 0 else (b + size, given_b)
            step = 1
        elif k < len(end):
            e, given_e = end[k], True
        else:  # to the end: past the last element, or before the first
            e, given_e = (d if step > 0 else -1), False
        if d == DYNAMIC:
            bounds[axis] = (b, e, step)
            continue
        # A given negative bound counts from the end (the defaults above need no such step).
        if given_b and b < 0:
            b = b + d
        if given_e and e < 0:
            e = e + d
        lo, hi = (0, d) if step > 0 else (-1, d - 1)
        b, e = dim_min(dim_max(b, lo), hi), dim_min(dim_max(e, lo), hi)
        bounds[axis] = (b, e, step)
    return bounds


def _slice_len(b: Any, e: Any, s: int) -> Any:
    return dim_max(0, (e - b + (s - (1 if s > 0 else -1))) // s)


def _strided_slice_dims(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:
    """The shape function: each axis' length between its bounds, clamped at run time."""
    return [_slice_len(*bounds) for bounds in slice_bounds(attrs, shapes[0])]


def _strided_slice_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    if attrs.begin is None or attrs.end is None:
        raise TypeRelationError("strided_slice needs begin and end")
    out = [
        DYNAMIC if d == DYNAMIC else _slice_len(*bd)
        for d, bd in zip(shape, slice_bounds(attrs, shape), strict=True)
    ]
    return result(out, dtype)


def _strided_slice(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    index = []
    for b, e, s in slice_bounds(attrs, x.shape):
        # A bound of -1 is "before the first element" (clamped), not numpy's last one.
        index.append(slice(0, 0) if b < 0 else slice(b, None if e < 0 else e, s))
    return x[tuple(index)].copy()


@register(
    OpDef(
        "strided_slice",
        ("data",),
        (
            AttrSpec("begin", AttrKind.INTS, None),
            AttrSpec("end", AttrKind.INTS, None),
            AttrSpec("strides", AttrKind.INTS, None),
            AttrSpec("axes", AttrKind.INTS, None),
            AttrSpec("slice_mode", AttrKind.STR, "end", ("end", "size")),
        ),
        _strided_slice_rel,
        INJ,
        _strided_slice,
        "slice with begin/end/strides per axis",
        shape=_strided_slice_dims,
    )
)
class StridedSlice(RelayOperatorOp): ...


def _take_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    ishape, idtype = expect_tensor(args[1], "indices")
    if not idtype.startswith(("int", "uint")):
        raise TypeRelationError(f"indices must be integers, got {idtype}")
    if attrs.batch_dims != 0:
        raise TypeRelationError("take with batch_dims is not supported")
    if attrs.mode not in ("clip", "wrap", "fast"):
        raise TypeRelationError(f"take mode '{attrs.mode}' is not supported")
    axis = None if attrs.axis is None else normalize_axis(attrs.axis, len(shape))
    size = math.prod(shape) if axis is None else shape[axis]
    if size == 0 and math.prod(ishape) != 0:
        # No index is in bounds of an empty axis, whatever the mode.
        raise TypeRelationError("take from an empty axis (no element to read)")
    if axis is None:
        return result(ishape, dtype)
    return result([*shape[:axis], *ishape, *shape[axis + 1 :]], dtype)


def take_positions(indices: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Where take reads: TVM's modes, never out of bounds. "wrap" is Python's modulo; "clip"
    and "fast" (which TVM leaves unchecked) clamp to [0, size). An unsigned index is its
    value (numpy's own take would read uint64 2**64 - 1 as -1)."""
    size = max(size, 1)  # an empty axis takes nothing (the relation ensures it)
    if indices.dtype.kind == "u":
        wide = indices.astype(np.uint64)
        pos = wide % np.uint64(size) if mode == "wrap" else np.minimum(wide, np.uint64(size - 1))
        return pos.astype(np.int64)
    wide = indices.astype(np.int64)
    return np.mod(wide, size) if mode == "wrap" else np.clip(wide, 0, size - 1)


def _take(attrs: Attrs, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
    if attrs.axis is None:
        x, axis = x.reshape(-1), 0
    else:
        axis = normalize_axis(attrs.axis, x.ndim)
    return np.take(x, take_positions(indices, x.shape[axis], attrs.mode), axis=axis)


def _take_dims(shapes: Sequence[Sequence[object]], attrs: Attrs) -> list[object]:
    shape, ishape = shapes
    if attrs.axis is None:
        return list(ishape)
    axis = normalize_axis(attrs.axis, len(shape))
    return [*shape[:axis], *ishape, *shape[axis + 1 :]]


@register(
    OpDef(
        "take",
        ("data", "indices"),
        (
            AttrSpec("axis", AttrKind.INT, None),
            AttrSpec("batch_dims", AttrKind.INT, 0),
            AttrSpec("mode", AttrKind.STR, "clip"),
        ),
        _take_rel,
        INJ,
        _take,
        "gather along an axis (embeddings)",
        shape=_take_dims,
        moves_strings=True,
    )
)
class Take(RelayOperatorOp): ...


# -- reverse_sequence ------------------------------------------------------------------------


def reverse_sequence_axes(attrs: Attrs, ndim: int) -> tuple[int, int]:
    """(seq_axis, batch_axis), non-negative and distinct."""
    if ndim < 2:
        raise TypeRelationError(
            f"reverse_sequence needs data of rank 2 or more (a batch and a sequence axis), "
            f"got rank {ndim}"
        )
    seq = normalize_axis(attrs.seq_axis, ndim, "seq_axis")
    batch = normalize_axis(attrs.batch_axis, ndim, "batch_axis")
    if seq == batch:
        raise TypeRelationError(
            f"seq_axis {attrs.seq_axis} and batch_axis {attrs.batch_axis} are the same axis "
            f"({seq}) of rank {ndim} data"
        )
    return seq, batch


def _reverse_sequence_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    lshape, ldtype = expect_tensor(args[1], "seq_lengths")
    _, batch = reverse_sequence_axes(attrs, len(shape))
    if len(lshape) != 1:
        raise TypeRelationError(f"seq_lengths must be 1-d, got {show_shape(lshape)}")
    if ldtype not in ("int32", "int64"):
        raise TypeRelationError(f"seq_lengths must be int32 or int64, got {ldtype}")
    if DYNAMIC not in (lshape[0], shape[batch]) and lshape[0] != shape[batch]:
        raise TypeRelationError(
            f"seq_lengths has {lshape[0]} lengths but batch axis {batch} of data "
            f"{show_shape(shape)} has {shape[batch]}"
        )
    return result(shape, dtype)


def _reverse_sequence(attrs: Attrs, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """TVM's semantics: with L = seq_lengths[b] clamped to [0, n], position i < L reads
    L - 1 - i and the others read i (L > n reverses the whole axis, L < 1 copies)."""
    seq, batch = reverse_sequence_axes(attrs, x.ndim)
    n = x.shape[seq]
    clamped = np.clip(lengths.astype(np.int64), 0, n)[:, None]  # [batch, 1]
    i = np.arange(n, dtype=np.int64)[None, :]  # [1, seq]
    source = np.where(i < clamped, clamped - 1 - i, i)  # [batch, seq]
    if batch > seq:
        source = source.T
    shape = [1] * x.ndim
    shape[batch], shape[seq] = x.shape[batch], n
    return np.take_along_axis(x, np.broadcast_to(source.reshape(shape), x.shape), axis=seq)


@register(
    OpDef(
        "reverse_sequence",
        ("data", "seq_lengths"),
        (AttrSpec("seq_axis", AttrKind.INT, 1), AttrSpec("batch_axis", AttrKind.INT, 0)),
        _reverse_sequence_rel,
        INJ,
        _reverse_sequence,
        "reverse the first seq_lengths[b] elements along seq_axis, for each b along batch_axis",
        shape=same_dims,
    )
)
class ReverseSequence(RelayOperatorOp): ...


# -- broadcast_to, tile, repeat --------------------------------------------------------------


def broadcasts_to(shape: Sequence[int], target: Sequence[int]) -> bool:
    """Whether numpy can broadcast `shape` to `target`, as far as the types tell: each dim
    is 1 or the target's; a `?` on either side is checked when it runs (the lowering's
    size check, numpy's error in the interpreter)."""
    lead = len(target) - len(shape)
    return lead >= 0 and all(
        d in (1, t) or DYNAMIC in (d, t) for d, t in zip(shape, target[lead:], strict=True)
    )


def _broadcast_to_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    target = tuple(attrs.shape)
    if min(target, default=0) < 0 or not broadcasts_to(shape, target):
        raise TypeRelationError(f"cannot broadcast {show_shape(shape)} to {show_shape(target)}")
    return result(target, dtype)


@register(
    OpDef(
        "broadcast_to",
        ("data",),
        (AttrSpec("shape", AttrKind.INTS, []),),
        _broadcast_to_rel,
        OpPattern.BROADCAST,
        lambda attrs, x: np.broadcast_to(x, attrs.shape).copy(),
        "broadcast to a shape",
        shape=lambda shapes, attrs: list(attrs.shape),  # noqa: ARG005,
    )
)
class BroadcastTo(RelayOperatorOp): ...


def _tile_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    reps = list(attrs.reps)
    n = max(len(shape), len(reps))
    shape = [1] * (n - len(shape)) + list(shape)
    reps = [1] * (n - len(reps)) + reps
    return result(
        [DYNAMIC if d == DYNAMIC else d * r for d, r in zip(shape, reps, strict=True)], dtype
    )


def _tile_dims(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:
    return tiled_dims(shapes[0], list(attrs.reps))


def tiled_dims(shape: Sequence[Any], reps: Sequence[Any]) -> list[Any]:
    """numpy's tile: the shorter of shape and reps is padded with leading 1s."""
    shape, reps = list(shape), list(reps)
    n = max(len(shape), len(reps))
    shape = [1] * (n - len(shape)) + shape
    reps = [1] * (n - len(reps)) + reps
    return [d * r for d, r in zip(shape, reps, strict=True)]


@register(
    OpDef(
        "tile",
        ("data",),
        (AttrSpec("reps", AttrKind.INTS, []),),
        _tile_rel,
        INJ,
        lambda attrs, x: np.tile(x, attrs.reps),
        "repeat the whole tensor along axes",
        shape=_tile_dims,
    )
)
class Tile(RelayOperatorOp): ...


def _repeat_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    if attrs.repeats < 1:
        raise TypeRelationError(f"repeats must be positive, got {attrs.repeats}")
    axis = normalize_axis(attrs.axis, len(shape))
    out = list(shape)
    out[axis] = DYNAMIC if shape[axis] == DYNAMIC else shape[axis] * attrs.repeats
    return result(out, dtype)


def _dyn_tile_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:  # noqa: ARG001
    data, dtype = expect_tensor(args[0], "data")
    reps, reps_dtype = expect_tensor(args[1], "reps")
    if len(reps) != 1 or reps[0] == DYNAMIC or not reps_dtype.startswith("int"):
        raise TypeRelationError(
            f"reps must be a 1-D integer tensor of static length, not {show_shape(reps)} "
            f"{reps_dtype}"
        )
    return result([DYNAMIC] * max(len(data), reps[0]), dtype)


@register(
    OpDef(
        "dyn.tile",
        ("data", "reps"),
        (),
        _dyn_tile_rel,
        OpPattern.OPAQUE,  # its own kernel: the sizes are read from `reps` first
        lambda attrs, x, reps: np.tile(x, [int(r) for r in reps]),  # noqa: ARG005
        "tile by repetitions read at run time",
        shape=lambda shapes, attrs: tiled_dims(shapes[0], shapes[1]),  # noqa: ARG005
        shape_reads=(1,),
    )
)
class DynTile(RelayOperatorOp): ...


def _repeat_dims(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:
    out = list(shapes[0])
    axis = normalize_axis(attrs.axis, len(out))
    out[axis] = out[axis] * attrs.repeats
    return out


@register(
    OpDef(
        "repeat",
        ("data",),
        (AttrSpec("repeats", AttrKind.INT, 1), AttrSpec("axis", AttrKind.INT, 0)),
        _repeat_rel,
        INJ,
        lambda attrs, x: np.repeat(x, attrs.repeats, axis=attrs.axis),
        "repeat each element along an axis",
        shape=_repeat_dims,
    )
)
class Repeat(RelayOperatorOp): ...


# -- creation --------------------------------------------------------------------------------


def _init_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    if any(d < 0 for d in attrs.shape):
        raise TypeRelationError(f"shape {list(attrs.shape)} has a negative dimension")
    if args:
        _, dtype = expect_tensor(args[0], "fill_value")
        return result(attrs.shape, attrs.dtype or dtype)
    return result(attrs.shape, attrs.dtype or "float32")


CREATE_ATTRS = (AttrSpec("shape", AttrKind.INTS, []), AttrSpec("dtype", AttrKind.DTYPE, "float32"))


@register(
    OpDef(
        "zeros",
        (),
        CREATE_ATTRS,
        _init_rel,
        OpPattern.ELEMWISE,
        lambda attrs: np.zeros(attrs.shape, numpy_dtype(attrs.dtype)),
        "a tensor of zeros",
    )
)
class Zeros(RelayOperatorOp): ...


@register(
    OpDef(
        "ones",
        (),
        CREATE_ATTRS,
        _init_rel,
        OpPattern.ELEMWISE,
        lambda attrs: np.ones(attrs.shape, numpy_dtype(attrs.dtype)),
        "a tensor of ones",
    )
)
class Ones(RelayOperatorOp): ...


def _full_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    vshape, _ = expect_tensor(args[0], "fill_value")
    if vshape:
        raise TypeRelationError(f"fill_value must be a scalar, got {show_shape(vshape)}")
    return _init_rel(args, attrs)


@register(
    OpDef(
        "full",
        ("fill_value",),
        (AttrSpec("shape", AttrKind.INTS, []), AttrSpec("dtype", AttrKind.DTYPE, "")),
        _full_rel,
        OpPattern.ELEMWISE,
        lambda attrs, v: np.full(
            attrs.shape, v.item(), numpy_dtype(attrs.dtype) if attrs.dtype else v.dtype
        ),
        "a tensor filled with a scalar",
    )
)
class Full(RelayOperatorOp): ...


def _like_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    return result(shape, dtype)


@register(
    OpDef(
        "zeros_like",
        ("data",),
        (),
        _like_rel,
        OpPattern.ELEMWISE,
        lambda attrs, x: np.zeros_like(x),
        "zeros of the same shape and dtype",
        shape=same_dims,
    )
)
class ZerosLike(RelayOperatorOp): ...


@register(
    OpDef(
        "ones_like",
        ("data",),
        (),
        _like_rel,
        OpPattern.ELEMWISE,
        lambda attrs, x: np.ones_like(x),
        "ones of the same shape and dtype",
        shape=same_dims,
    )
)
class OnesLike(RelayOperatorOp): ...


@register(
    OpDef(
        "copy",
        ("data",),
        (),
        _like_rel,
        OpPattern.ELEMWISE,
        lambda attrs, x: x.copy(),
        "the same values (a copy)",
        shape=same_dims,
        moves_strings=True,
    )
)
class Copy(RelayOperatorOp): ...


# -- the `_like` forms: the shape comes from a second operand's type ----------------------------


def reshape_like_shape(data: Sequence[int], like: Sequence[int], attrs: Attrs) -> list[int]:
    """TVM's reshape_like: data's dims [lhs_begin, lhs_end) replaced by like's dims
    [rhs_begin, rhs_end) (None: to the end), the element count kept."""
    out = _reshape_like_dims([data, like], attrs)
    if DYNAMIC not in out and DYNAMIC not in data and math.prod(out) != math.prod(data):
        raise TypeRelationError(
            f"reshape_like cannot reshape {show_shape(data)} ({math.prod(data)} elements) "
            f"to {show_shape(out)} ({math.prod(out)} elements)"
        )
    return out


def _reshape_like_dims(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:
    """reshape_like's result dims (ints, or run-time sizes for the shape function: the
    lowering checks the element count at run time)."""
    data, like = shapes

    def bounds(begin: int, end: int | None, n: int, what: str) -> tuple[int, int]:
        b = begin + n if begin < 0 else begin
        e = n if end is None else end + n if end < 0 else end
        if not 0 <= b <= e <= n:
            raise TypeRelationError(f"{what} [{begin}, {end}) is out of range for rank {n}")
        return b, e

    lb, le = bounds(attrs.lhs_begin, attrs.lhs_end, len(data), "lhs")
    rb, re_ = bounds(attrs.rhs_begin, attrs.rhs_end, len(like), "rhs")
    return [*data[:lb], *like[rb:re_], *data[le:]]


def _reshape_like_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    like, _ = expect_tensor(args[1], "shape_like")
    return result(reshape_like_shape(shape, like, attrs), dtype)


@register(
    OpDef(
        "reshape_like",
        ("data", "shape_like"),
        (
            AttrSpec("lhs_begin", AttrKind.INT, 0),
            AttrSpec("lhs_end", AttrKind.INT, None),
            AttrSpec("rhs_begin", AttrKind.INT, 0),
            AttrSpec("rhs_end", AttrKind.INT, None),
        ),
        _reshape_like_rel,
        INJ,
        lambda attrs, x, like: x.reshape(reshape_like_shape(x.shape, like.shape, attrs)).copy(),
        "reshape to (part of) another tensor's shape",
        shape=_reshape_like_dims,
    )
)
class ReshapeLike(RelayOperatorOp): ...


def _broadcast_to_like_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    target, _ = expect_tensor(args[1], "broadcast_type")
    if not broadcasts_to(shape, target):
        raise TypeRelationError(f"cannot broadcast {show_shape(shape)} to {show_shape(target)}")
    return result(target, dtype)


@register(
    OpDef(
        "broadcast_to_like",
        ("data", "broadcast_type"),
        (),
        _broadcast_to_like_rel,
        OpPattern.BROADCAST,
        lambda attrs, x, like: np.broadcast_to(x, like.shape).copy(),
        "broadcast to another tensor's shape",
        shape=lambda shapes, attrs: list(shapes[1]),  # noqa: ARG005
    )
)
class BroadcastToLike(RelayOperatorOp): ...


def collapsed_axes(shape: Sequence[int], target: Sequence[int]) -> list[int]:
    """The axes of `shape` that summing collapses to broadcast-compatible `target`: the
    leading ones `target` lacks, and those where `target` has 1 (numpy's un-broadcast)."""
    lead = len(shape) - len(target)
    return [
        *range(lead),
        *(lead + i for i, d in enumerate(target) if d == 1 and shape[lead + i] != 1),
    ]


def _collapse_sum_rel(shape: Shape, dtype: str, target: Shape) -> Attribute:
    # Each target dim is 1 or the data's; a `?` on either side takes any (dyn.broadcast_to's
    # adjoint; a target whose 1s are known at run time only): that is checked when it runs.
    lead = len(shape) - len(target)
    fits = lead >= 0 and all(
        t in (1, d) or DYNAMIC in (d, t) for d, t in zip(shape[lead:], target, strict=True)
    )
    if not fits:
        raise TypeRelationError(
            f"cannot collapse {show_shape(shape)} to {show_shape(target)} by summing: "
            f"{show_shape(target)} does not broadcast to it"
        )
    return result(target, dtype)


def _collapse_sum_like_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    target, _ = expect_tensor(args[1], "collapse_type")
    return _collapse_sum_rel(shape, dtype, target)


def collapse_sum(x: np.ndarray, target: Sequence[int]) -> np.ndarray:
    lead = x.ndim - len(target)
    for axis, (d, t) in enumerate(zip(x.shape[lead:], target, strict=True)):
        if t not in (1, d):  # (a `?` dim's size, known here)
            raise ValueError(
                f"the target's axis {axis} is neither 1 nor the data's size ({t}, not {d})"
            )
    axes = tuple(collapsed_axes(x.shape, target))
    # As `sum` computes it (the lowering is a sum): accumulated wide, then in x's dtype.
    return np.asarray(np.sum(x, axis=axes, keepdims=True)).astype(x.dtype).reshape(target)


@register(
    OpDef(
        "collapse_sum_like",
        ("data", "collapse_type"),
        (),
        _collapse_sum_like_rel,
        OpPattern.COMM_REDUCE,
        lambda attrs, x, like: collapse_sum(x, like.shape),
        "sum a broadcast tensor back to another tensor's shape (a `?` target dim: summed when "
        "it is 1 and the data's is not, kept when they are equal, decided at run time)",
        shape=lambda shapes, attrs: list(shapes[1]),  # noqa: ARG005
    )
)
class CollapseSumLike(RelayOperatorOp): ...


@register(
    OpDef(
        "collapse_sum_to",
        ("data",),
        (AttrSpec("shape", AttrKind.INTS, []),),
        lambda args, attrs: _collapse_sum_rel(*expect_tensor(args[0], "data"), tuple(attrs.shape)),
        OpPattern.COMM_REDUCE,
        lambda attrs, x: collapse_sum(x, attrs.shape),
        "sum a broadcast tensor back to a shape",
        shape=lambda shapes, attrs: list(attrs.shape),  # noqa: ARG005
    )
)
class CollapseSumTo(RelayOperatorOp): ...


def _arange_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    for name, t in zip(("start", "stop", "step"), args, strict=True):
        shape, _ = expect_tensor(t, name)
        if shape:
            raise TypeRelationError(f"{name} must be a scalar, got {show_shape(shape)}")
    # The length depends on the values: only known at run time (or after fold-constant).
    return result([DYNAMIC], attrs.dtype or "float32")


def _arange(attrs: Attrs, start: np.ndarray, stop: np.ndarray, step: np.ndarray) -> np.ndarray:
    if step.item() == 0:  # (numpy's ZeroDivisionError; the compiled code's check)
        raise ValueError("the step is 0")
    return np.arange(start.item(), stop.item(), step.item()).astype(
        numpy_dtype(attrs.dtype or "float32")
    )


def _arange_value_rel(
    args: Sequence[Attribute], attrs: Attrs, values: Sequence[object]
) -> Attribute:
    out = _arange_rel(args, attrs)
    if any(v is None for v in values):
        return out
    start, stop, step = (np.asarray(v).item() for v in values)
    if step == 0:
        raise TypeRelationError("arange step cannot be 0")
    return result([len(np.arange(start, stop, step))], attrs.dtype or "float32")


def _arange_dims(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:  # noqa: ARG001
    """The shape function: ceil((stop - start) / step), at least 0, from the bounds' values
    (`shape_reads`); the lowering checks that the step is not 0."""
    [start], [stop], [step] = shapes
    return [dim_max((stop - start).ceil_div(step), 0)]


@register(
    OpDef(
        "arange",
        ("start", "stop", "step"),
        (AttrSpec("dtype", AttrKind.DTYPE, ""),),
        _arange_rel,
        OpPattern.OPAQUE,
        _arange,
        "evenly spaced values in [start, stop)",
        value_relation=_arange_value_rel,
        shape=_arange_dims,
        shape_reads=(0, 1, 2),
    )
)
class Arange(RelayOperatorOp): ...


# -- shape_of, ndarray_size -------------------------------------------------------------------


def _size_dtype(attrs: Attrs, name: str) -> str:
    dtype = attrs.dtype or "int32"
    if dtype not in ("int32", "int64"):
        raise TypeRelationError(f"'{name}' gives int32 or int64 sizes, not {dtype}")
    return dtype


def _shape_of_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, _ = expect_tensor(args[0], "data")
    return result([len(shape)], _size_dtype(attrs, "shape_of"))


@register(
    OpDef(
        "shape_of",
        ("data",),
        (AttrSpec("dtype", AttrKind.DTYPE, "int32"),),
        _shape_of_rel,
        OpPattern.OPAQUE,  # reads the data's sizes, not its elements
        lambda attrs, x: np.array(x.shape, dtype=numpy_dtype(attrs.dtype or "int32")),
        "the data's shape as a 1-D tensor (its `?` sizes read at run time)",
        # Static whatever the data's dims: one element per axis.
        shape=lambda shapes, attrs: [len(shapes[0])],  # noqa: ARG005
    )
)
class ShapeOf(RelayOperatorOp): ...


def _ndarray_size_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    expect_tensor(args[0], "data")
    return result([], _size_dtype(attrs, "ndarray_size"))


@register(
    OpDef(
        "ndarray_size",
        ("data",),
        (AttrSpec("dtype", AttrKind.DTYPE, "int32"),),
        _ndarray_size_rel,
        OpPattern.OPAQUE,  # reads the data's sizes, not its elements
        lambda attrs, x: np.array(x.size, dtype=numpy_dtype(attrs.dtype or "int32")),
        "the data's element count as a scalar (its `?` sizes read at run time)",
        shape=lambda shapes, attrs: [],  # noqa: ARG005
    )
)
class NdarraySize(RelayOperatorOp): ...


# -- layout_transform ------------------------------------------------------------------------

_LAYOUT = re.compile(r"(\d*)([A-Za-z])")


def parse_layout(layout: str | None, what: str = "layout") -> list[tuple[str, int]]:
    """'NCHW4c' -> [('N', 0), ('C', 0), ('H', 0), ('W', 0), ('c', 4)] (0: a whole axis)."""
    if layout is None:
        raise TypeRelationError(f"{what} is required")
    parts = _LAYOUT.findall(layout)
    if "".join(f"{n}{a}" for n, a in parts) != layout or not parts:
        raise TypeRelationError(f"layout '{layout}' is not understood")
    out = [(a, int(n) if n else 0) for n, a in parts]
    names = [a for a, _ in out]
    if len(set(names)) != len(names):
        raise TypeRelationError(f"layout '{layout}' repeats an axis")
    for a, n in out:
        if a.islower() and n <= 0:
            raise TypeRelationError(f"layout '{layout}': sub-axis {a} needs a positive size")
        if a.islower() and a.upper() not in names:
            raise TypeRelationError(
                f"layout '{layout}': sub-axis {n}{a} needs its axis {a.upper()}"
            )
        if a.isupper() and n:
            raise TypeRelationError(
                f"layout '{layout}': axis {a} is whole, only a sub-axis ({n}{a.lower()}) has a size"
            )
    return out


def _logical_shape(shape: Sequence[int], layout: list[tuple[str, int]]) -> dict[str, int]:
    dims = {a: d for (a, _), d in zip(layout, shape, strict=True)}
    logical = {}
    for a, _ in layout:
        if a.isupper():
            sub = dims.get(a.lower())
            logical[a] = dims[a] * sub if sub is not None else dims[a]
    return logical


def _layout_shape(logical: dict[str, int], layout: list[tuple[str, int]]) -> list[int]:
    out = []
    for a, n in layout:
        if a.islower():
            out.append(n)
        else:
            sub = next((m for b, m in layout if b == a.lower()), None)
            if sub is not None and logical[a] % sub:
                raise TypeRelationError(f"axis {a} of size {logical[a]} does not split by {sub}")
            out.append(logical[a] // sub if sub else logical[a])
    return out


def _layout_transform_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    src = parse_layout(attrs.src_layout, "src_layout")
    dst = parse_layout(attrs.dst_layout, "dst_layout")
    if len(src) != len(shape):
        raise TypeRelationError(
            f"layout {attrs.src_layout} has {len(src)} axes, data has {len(shape)}"
        )
    split = {a.upper() for a, _ in (*src, *dst) if a.islower()}
    if any(size == DYNAMIC and a in split for (a, _), size in zip(src, shape, strict=False)):
        raise TypeRelationError("layout_transform of a ? axis needs it whole in both layouts")
    for (a, n), size in zip(src, shape, strict=True):
        if a.islower() and size != n:
            raise TypeRelationError(
                f"sub-axis {n}{a} of layout {attrs.src_layout} has length {n}, "
                f"the data's is {size}: data {show_shape(shape)}"
            )
    if sorted(a for a, _ in src if a.isupper()) != sorted(a for a, _ in dst if a.isupper()):
        raise TypeRelationError(
            f"layouts {attrs.src_layout} and {attrs.dst_layout} have different axes"
        )
    return result(_layout_shape(_logical_shape(shape, src), dst), dtype)


def _to_logical(x: np.ndarray, layout: list[tuple[str, int]]) -> tuple[np.ndarray, list[str]]:
    """Merge sub-axes (c into C) and return the array with its upper-case axis names."""
    names = [a for a, _ in layout]
    for a in [b for b in names if b.islower()]:
        outer, inner = names.index(a.upper()), names.index(a)
        x = np.moveaxis(x, inner, outer + 1)
        names.insert(outer + 1, names.pop(inner))
        shape = list(x.shape)
        shape[outer : outer + 2] = [shape[outer] * shape[outer + 1]]
        x = x.reshape(shape)
        names.pop(outer + 1)
    return x, names


def _layout_transform(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    return relayout(x, attrs.src_layout, attrs.dst_layout)


def relayout(x: np.ndarray, src_layout: str, dst_layout: str) -> np.ndarray:
    """x, laid out as `src_layout`, in `dst_layout` (layout_transform's numpy semantics)."""
    src, dst = parse_layout(src_layout), parse_layout(dst_layout)
    logical, names = _to_logical(x, src)
    upper = [a for a, _ in dst if a.isupper()]
    y = np.transpose(logical, [names.index(a) for a in upper])
    # Split each axis that has a sub-axis in dst, then move the sub-axis into place.
    shape = []
    order_names = []
    for a in upper:
        sub = next((n for b, n in dst if b == a.lower()), None)
        if sub:
            shape += [y.shape[upper.index(a)] // sub, sub]
            order_names += [a, a.lower()]
        else:
            shape.append(y.shape[upper.index(a)])
            order_names.append(a)
    y = y.reshape(shape)
    return np.transpose(y, [order_names.index(a) for a, _ in dst]).copy()


def _layout_transform_dims(shapes: Sequence[Sequence[object]], attrs: Attrs) -> list[object]:
    """The relation's result, each `?` axis (whole in both layouts: the relation checks it)
    moved to its place in the destination layout."""
    shape = shapes[0]
    probe = [d if isinstance(d, int) else DYNAMIC for d in shape]
    out_t = _layout_transform_rel([tensor_type(probe, "float32")], attrs)
    assert isinstance(out_t, TensorType)
    out: list[object] = list(out_t.get_shape())
    dst = [a for a, _ in parse_layout(attrs.dst_layout)]
    for (a, _), d in zip(parse_layout(attrs.src_layout), shape, strict=True):
        if not isinstance(d, int):
            out[dst.index(a)] = d
    return out


@register(
    OpDef(
        "layout_transform",
        ("data",),
        (
            # required, as in TVM: a default would hide the layout from the printed text
            AttrSpec("src_layout", AttrKind.STR, None),
            AttrSpec("dst_layout", AttrKind.STR, None),
        ),
        _layout_transform_rel,
        INJ,
        _layout_transform,
        "change data layout (NCHW, NHWC, NCHW4c, ...)",
        shape=_layout_transform_dims,
    )
)
class LayoutTransform(RelayOperatorOp): ...


# -- image.resize2d ---------------------------------------------------------------------------

RESIZE_METHODS = ("nearest_neighbor", "linear", "cubic")
RESIZE_ATTRS = (
    AttrSpec("size", AttrKind.INTS, None),
    # [start_h, start_w, end_h, end_w] as fractions of the input (tf_crop_and_resize only)
    AttrSpec("roi", AttrKind.FLOATS, [0.0, 0.0, 0.0, 0.0]),
    AttrSpec("layout", AttrKind.STR, "NCHW"),
    AttrSpec("method", AttrKind.STR, "linear", RESIZE_METHODS),
    AttrSpec(
        "coordinate_transformation_mode",
        AttrKind.STR,
        "half_pixel",
        ("half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel", "tf_crop_and_resize"),
    ),
    AttrSpec("rounding_method", AttrKind.STR, ""),
    AttrSpec("cubic_alpha", AttrKind.FLOAT, -0.5),
    AttrSpec("cubic_exclude", AttrKind.INT, 0),
    AttrSpec("extrapolation_value", AttrKind.FLOAT, 0.0),
    AttrSpec("out_dtype", AttrKind.DTYPE, ""),
    # Not TVM's: ONNX's and PyTorch's antialiased downsampling (the filter widens by 1 / scale)
    AttrSpec("antialias", AttrKind.BOOL, False),
)


def _resize_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    if len(shape) != 4 or attrs.layout not in ("NCHW", "NHWC"):
        raise TypeRelationError(
            f"resize2d expects 4-d NCHW or NHWC data, got {show_shape(shape)} {attrs.layout}"
        )
    if attrs.size is None or len(attrs.size) != 2:
        raise TypeRelationError("resize2d needs size=[height, width]")
    if len(attrs.roi) != 4:
        raise TypeRelationError(f"resize2d's roi holds 4 values, got {len(attrs.roi)}")
    h, w = (2, 3) if attrs.layout == "NCHW" else (1, 2)
    out = list(shape)
    out[h], out[w] = attrs.size
    return result(out, attrs.out_dtype or dtype)


def _resize_shape(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:
    """The data's dims (any may be `?`: the weights of a `?` spatial axis are built at run
    time) with the spatial ones the static `size`."""
    out = list(shapes[0])
    h, w = (2, 3) if attrs.layout == "NCHW" else (1, 2)
    out[h], out[w] = attrs.size
    return out


def source_coords(
    out_size: int,
    in_size: int,
    mode: str,
    scale: float | None = None,
    roi: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """Each output index's source coordinate (float64) along one axis. `scale` is ONNX's
    (the output's length before rounding down, over the input's); out / in by default."""
    i = np.arange(out_size, dtype=np.float64)
    scale = out_size / in_size if scale is None else scale
    width = scale * in_size
    if mode == "tf_crop_and_resize":
        span = (roi[1] - roi[0]) * (in_size - 1)
        if width == 1:
            return np.full_like(i, roi[0] * (in_size - 1) + span / 2)
        return roi[0] * (in_size - 1) + i * span / (width - 1)
    if mode == "align_corners":
        return i * ((in_size - 1) / (width - 1)) if width != 1 else np.zeros_like(i)
    if mode == "asymmetric":
        return i / scale
    if mode == "pytorch_half_pixel" and width == 1:
        return np.zeros_like(i)
    return (i + 0.5) / scale - 0.5


def nearest_source_index(coords: np.ndarray, in_size: int, rounding: str, mode: str) -> np.ndarray:
    """The input index nearest_neighbor resize reads for each source coordinate, in bounds."""
    rounding = rounding or ("round" if mode == "align_corners" else "floor")
    pick = {
        "round": np.round,
        "floor": np.floor,
        "ceil": np.ceil,
        "round_prefer_floor": lambda v: np.ceil(v - 0.5),
        "round_prefer_ceil": lambda v: np.floor(v + 0.5),
    }[rounding]
    return np.clip(pick(coords).astype(np.int64), 0, in_size - 1)


def resize_weights(
    out_size: int,
    in_size: int,
    *,
    method: str,
    mode: str,
    rounding: str = "",
    alpha: float = -0.5,
    exclude: bool = False,
    antialias: bool = False,
    scale: float | None = None,
    roi: tuple[float, float] = (0.0, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Resize along one axis as a matrix m (float64): `out[i] = sum_r m[i, r] * in[r]`,
    indices past the edge read the edge; and which outputs lie outside tf_crop_and_resize's
    roi (their row is zero: they take the extrapolation value). Linear and cubic weigh the
    taps around the source coordinate c by a kernel of |tap - c|; antialias (downsampling)
    stretches the kernel by 1 / scale and normalizes the taps' weights, exclude drops the
    taps past the edge and normalizes the rest, as ONNX's reference does."""
    coords = source_coords(out_size, in_size, mode, scale, roi)
    rows = np.arange(out_size)
    m = np.zeros((out_size, in_size))
    outside = np.zeros(out_size, bool)
    if mode == "tf_crop_and_resize":
        outside = (coords < 0) | (coords > in_size - 1)
    if method == "nearest_neighbor":
        m[rows, nearest_source_index(coords, in_size, rounding, mode)] = 1.0
    else:
        reach = 1 if method == "linear" else 2  # the kernel's support: |x| < reach
        stretch = min(out_size / in_size if scale is None else scale, 1.0) if antialias else 1.0
        first = int(np.floor(-reach / stretch)) + 1
        base = np.floor(coords)
        for k in range(first, 2 - first):
            tap = base + k
            x = np.abs(tap - coords) * stretch
            w = resize_tap_weight(x, method, alpha)
            if exclude:
                w = np.where((tap >= 0) & (tap <= in_size - 1), w, 0.0)
            np.add.at(m, (rows, np.clip(tap, 0, in_size - 1).astype(np.int64)), w)
        if antialias or exclude:
            m /= m.sum(axis=1, keepdims=True)
    m[outside] = 0.0
    return m, outside


def extrapolation_fill(value: float, dtype: np.dtype) -> np.generic:
    """tf_crop_and_resize's value for points outside the image, in the result's dtype,
    converted as a cast converts: nonzero is True for bool, integers truncate toward zero."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.float64(value).astype(dtype)


def resize_tap_weight(x: Any, method: str, alpha: float, xp: Any = np) -> Any:  # noqa: ANN401
    """The weight of a linear or cubic tap at (stretched) distance x >= 0 from the source
    coordinate. `xp` gives `where` and `maximum`: numpy's, or the ONNX importer's builders of
    the same formula in Relay (run-time scales)."""
    if method == "linear":
        return xp.maximum(1 - x, 0.0)
    return xp.where(x <= 1, _cubic_near(x, alpha), xp.where(x < 2, _cubic_far(x, alpha), 0.0))


def resize_axis_weights(attrs: Attrs, axis: int, in_size: int) -> tuple[np.ndarray, np.ndarray]:
    """resize_weights of resize2d's spatial `axis` (0: height, 1: width)."""
    return resize_weights(
        attrs.size[axis],
        in_size,
        method=attrs.method,
        mode=attrs.coordinate_transformation_mode,
        rounding=attrs.rounding_method,
        alpha=attrs.cubic_alpha,
        exclude=bool(attrs.cubic_exclude),
        antialias=attrs.antialias,
        roi=(attrs.roi[axis], attrs.roi[axis + 2]),
    )


def _resize(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    xs = x.transpose(0, 3, 1, 2) if attrs.layout == "NHWC" else x
    _, _, h, w = xs.shape
    (rows, out_h), (cols, out_w) = (
        resize_axis_weights(attrs, 0, h),
        resize_axis_weights(attrs, 1, w),
    )
    if attrs.method == "nearest_neighbor":  # a gather: int64 data never passes through float64
        out = xs[:, :, rows.argmax(axis=1)][:, :, :, cols.argmax(axis=1)]
    else:
        out = rows @ xs.astype(np.float64) @ cols.T
    out_dtype = numpy_dtype(attrs.out_dtype) if attrs.out_dtype else x.dtype
    if attrs.method != "nearest_neighbor" and np.issubdtype(out_dtype, np.integer):
        out = np.clip(np.round(out), *resize_integer_bounds(out_dtype))
    out = out.astype(out_dtype)
    outside = out_h[:, None] | out_w[None, :]
    if outside.any():
        out = np.where(outside, extrapolation_fill(attrs.extrapolation_value, out_dtype), out)
    return out.transpose(0, 2, 3, 1).copy() if attrs.layout == "NHWC" else out


def resize_integer_bounds(dtype: np.dtype) -> tuple[float, float]:
    """An integer result of a weighted resize is rounded half to even and saturated to these
    (ONNX's Resize): the dtype's range, as float64 values whose conversion is exact."""
    info = np.iinfo(dtype)
    return float(info.min), float(np.nextafter(float(info.max) + 1, 0))


@register(
    OpDef(
        "image.resize2d",
        ("data",),
        RESIZE_ATTRS,
        _resize_rel,
        INJ,
        _resize,
        "2-d resize (nearest, linear or cubic)",
        shape=_resize_shape,
    )
)
class Resize2D(RelayOperatorOp): ...


# -- image.grid_sample ------------------------------------------------------------------------

GRID_SAMPLE_ATTRS = (
    AttrSpec("method", AttrKind.STR, "bilinear", ("nearest", "bilinear", "bicubic")),
    AttrSpec("layout", AttrKind.STR, "NCHW", ("NCHW", "NCDHW")),
    AttrSpec("padding_mode", AttrKind.STR, "zeros", ("zeros", "border", "reflection")),
    AttrSpec("align_corners", AttrKind.BOOL, True),
)
CUBIC_A = -0.75
"""Keys' cubic convolution parameter of bicubic grid sampling (PyTorch's and ONNX's)."""


def _grid_sample_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    gshape, gdtype = expect_tensor(args[1], "grid")
    k = len(attrs.layout) - 2
    if len(shape) != k + 2:
        raise TypeRelationError(
            f"grid_sample with layout {attrs.layout} expects {k + 2}-d data, "
            f"got {show_shape(shape)}"
        )
    # A `?` batch or grid channel count is checked when it runs (GRID_SAMPLE_MISMATCH).
    if (
        len(gshape) != k + 2
        or gshape[1] not in (k, DYNAMIC)
        or not dims_agree(gshape[:1], shape[:1])
    ):
        raise TypeRelationError(
            f"grid_sample's grid must be (N, {k}, out dims...) for data {show_shape(shape)}, "
            f"got {show_shape(gshape)}"
        )
    if not dtype.startswith("float") or gdtype != dtype:
        raise TypeRelationError(
            f"grid_sample takes float data and a grid of its dtype, got {dtype}, {gdtype}"
        )
    if attrs.method == "bicubic" and k != 2:
        raise TypeRelationError("bicubic grid_sample is 2-d (NCHW) only")
    if 0 in shape[2:]:
        raise TypeRelationError(
            f"grid_sample of data with an empty spatial axis {show_shape(shape)}"
        )
    return result([*joined_dims(shape[:1], gshape[:1]), shape[1], *gshape[2:]], dtype)


GRID_SAMPLE_MISMATCH = (
    "the grid is not (N, spatial rank, out dims...) for the data's batch N, or a spatial "
    "axis of the data is empty, at run time"
)
"""The run-time error of grid_sample's `?` dims, interpreted and native."""


def _grid_sample_dims(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:  # noqa: ARG001
    data, grid = shapes
    return [data[0], data[1], *grid[2:]]


def grid_sample_compute_dtype(dtype: str) -> str:
    """Coordinates, weights and sums are float32 (float64 for float64 data), as ONNX's."""
    return "float64" if dtype == "float64" else "float32"


def grid_sample_bounds(size: int, align_corners: bool) -> tuple[float, float]:
    """The coordinate range that reflection mirrors at: pixel centres or pixel edges."""
    return (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)


def _reflect(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """v mirrored at lo and hi until inside (as the lowering computes it: floor of the
    number of whole spans, the remainder, and its parity)."""
    span = hi - lo
    if span == 0:
        return np.full_like(v, lo)
    below, above = v < lo, v > hi
    dist = np.where(below, lo - v, v - hi)
    turns = np.floor(dist / span)
    rem = dist - turns * span
    odd = turns - 2 * np.floor(turns * 0.5) != 0
    from_lo, from_hi = lo + rem, hi - rem
    mirrored = np.where(below, np.where(odd, from_hi, from_lo), np.where(odd, from_lo, from_hi))
    return np.where(below | above, mirrored, v)


def _safe_index(v: np.ndarray, size: int) -> np.ndarray:
    """v clamped to [0, size - 1] (nan to 0) and truncated: always a valid index."""
    v = np.where(v >= 0, v, 0)
    return np.where(v <= size - 1, v, size - 1).astype(np.int64)


def _cubic_far(x: np.ndarray, a: Any) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter a for 1 <= |x| < 2."""
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def _cubic_near(x: np.ndarray, a: Any) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter a for |x| <= 1."""
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    a = t.dtype.type(CUBIC_A)
    one, two = t.dtype.type(1), t.dtype.type(2)
    return [
        _cubic_far(t + one, a),
        _cubic_near(t, a),
        _cubic_near(one - t, a),
        _cubic_far(two - t, a),
    ]


def _grid_sample(attrs: Attrs, x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    ct = np.dtype(grid_sample_compute_dtype(str(x.dtype)))
    k = x.ndim - 2
    if grid.shape[:2] != (x.shape[0], k) or 0 in x.shape[2:]:
        raise ValueError(f"{GRID_SAMPLE_MISMATCH}: grid {grid.shape}, data {x.shape}")
    sizes = x.shape[2:]
    n_idx = np.arange(x.shape[0]).reshape((-1,) + (1,) * k)
    axes = []  # per data axis: [(index array, weight array or None, inside array)]
    for i, size in enumerate(sizes):
        g = grid[:, k - 1 - i].astype(ct)  # the grid's first channel is x, the last axis
        if attrs.align_corners:
            v = (g + 1) * ct.type(0.5) * ct.type(size - 1)
        else:
            v = ((g + 1) * ct.type(size) - 1) * ct.type(0.5)
        if attrs.method == "nearest":
            v = np.rint(v)
        lo, hi = grid_sample_bounds(size, attrs.align_corners)
        if attrs.padding_mode == "border":
            v = np.where((v < lo) | (v > hi), np.where(v >= 0, np.minimum(v, size - 1), 0), v)
        elif attrs.padding_mode == "reflection":
            v = _reflect(v, lo, hi).astype(ct)
        if attrs.method == "nearest":
            taps, weights = [v], [None]
        else:
            base = np.floor(v)
            t = (v - base).astype(ct)
            if attrs.method == "bilinear":
                taps, weights = [base, base + 1], [1 - t, t]
            else:
                taps, weights = [base + j for j in (-1, 0, 1, 2)], _cubic_weights(t)
        neighbours = []
        for tap, w in zip(taps, weights, strict=True):
            inside = (tap >= 0) & (tap <= size - 1)
            if attrs.padding_mode == "reflection":
                tap = _reflect(tap, lo, hi)
            neighbours.append((_safe_index(tap, size), w, inside))
        axes.append(neighbours)

    def interpolate(i: int, index: list[np.ndarray], inside: np.ndarray) -> np.ndarray:
        if i == k:  # (N, out dims..., C) -> (N, C, out dims...)
            picked = np.moveaxis(x[(n_idx, slice(None), *index)], -1, 1).astype(ct)
            if attrs.padding_mode != "zeros":
                return picked
            return np.where(inside[:, None], picked, ct.type(0))
        total = None
        for tap, w, ok in axes[i]:
            v = interpolate(i + 1, [*index, tap], inside & ok)
            if w is None:
                return v
            term = w[:, None] * v
            total = term if total is None else total + term
        assert total is not None
        return total

    return interpolate(0, [], np.ones(grid.shape[:1] + grid.shape[2:], bool)).astype(x.dtype)


@register(
    OpDef(
        "image.grid_sample",
        ("data", "grid"),
        GRID_SAMPLE_ATTRS,
        _grid_sample_rel,
        OpPattern.OPAQUE,
        _grid_sample,
        "sample data at the grid's normalized [-1, 1] positions (nearest, bilinear, bicubic)",
        shape=_grid_sample_dims,
    )
)
class GridSample(RelayOperatorOp): ...


# -- vision.roi_align -------------------------------------------------------------------------

ROI_ALIGN_ATTRS = (
    AttrSpec("pooled_size", AttrKind.INTS, None),
    AttrSpec("spatial_scale", AttrKind.FLOAT, 1.0),
    AttrSpec("sample_ratio", AttrKind.INT, -1),
    AttrSpec("layout", AttrKind.STR, "NCHW", ("NCHW",)),
    AttrSpec("mode", AttrKind.STR, "avg", ("avg", "max")),
    AttrSpec("aligned", AttrKind.BOOL, False),
)


ROI_ALIGN_MAX_SAMPLES = 65536
"""The most bilinear samples one bin of vision.roi_align takes (rows x columns). Real models
take 2 x 2 (Mask R-CNN's sampling_ratio=2) or adaptive counts of a few to a few dozen per
axis (a region's size in feature pixels over the pooled size); 256 x 256 leaves a wide margin
and keeps a hostile sample_ratio or spatial_scale from running for hours."""


def _roi_align_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    rshape, rdtype = expect_tensor(args[1], "rois")
    if len(shape) != 4 or 0 in shape[2:]:
        raise TypeRelationError(f"roi_align expects 4-d NCHW data, got {show_shape(shape)}")
    if len(rshape) != 2 or rshape[1] not in (5, DYNAMIC):  # a `?` 5 is checked when it runs
        raise TypeRelationError(
            f"roi_align's rois are (R, 5): batch index, x1, y1, x2, y2; got {show_shape(rshape)}"
        )
    if not dtype.startswith("float") or rdtype != dtype:
        raise TypeRelationError(
            f"roi_align takes float data and rois of its dtype, got {dtype}, {rdtype}"
        )
    if attrs.pooled_size is None or len(attrs.pooled_size) != 2 or min(attrs.pooled_size) < 1:
        raise TypeRelationError("roi_align needs pooled_size=[height, width], each at least 1")
    if attrs.sample_ratio > math.isqrt(ROI_ALIGN_MAX_SAMPLES):
        raise TypeRelationError(
            f"roi_align's sample_ratio {attrs.sample_ratio} asks for more than "
            f"{ROI_ALIGN_MAX_SAMPLES} samples per bin (at most "
            f"{math.isqrt(ROI_ALIGN_MAX_SAMPLES)}; 0 or less: adaptive)"
        )
    if not math.isfinite(attrs.spatial_scale):
        raise TypeRelationError(
            f"roi_align's spatial_scale must be finite, got {attrs.spatial_scale}"
        )
    return result([rshape[0], shape[1], *attrs.pooled_size], dtype)


def roi_geometry(attrs: Attrs, roi: Sequence[Any], ct: Any) -> tuple[Any, ...]:
    """One roi's start (y, x), bin size (y, x) and samples per bin (y, x), as the lowering
    computes them: an unaligned roi is at least 1 pixel wide; sample_ratio <= 0 takes
    ceil(roi size / bins) samples (0 or fewer: none)."""
    offset = ct(0.5) if attrs.aligned else ct(0)
    scale = ct(attrs.spatial_scale)
    x1, y1, x2, y2 = (ct(v) * scale - offset for v in roi[1:5])
    h, w = y2 - y1, x2 - x1
    if not attrs.aligned:
        h, w = max(h, ct(1)), max(w, ct(1))
    ph, pw = attrs.pooled_size
    bin_h, bin_w = h / ct(ph), w / ct(pw)
    if attrs.sample_ratio > 0:
        gh = gw = attrs.sample_ratio
    else:
        gh, gw = (int(min(np.ceil(v), 2**31)) if np.ceil(v) > 0 else 0 for v in (bin_h, bin_w))
    return y1, x1, bin_h, bin_w, gh, gw


def roi_sample_taps(v: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps of sample positions on one axis (ONNX's and onnxruntime's rule): a
    position below 0 reads at 0, one at or past the last pixel reads the last pixel only.
    Returns the low and high index and the high tap's weight."""
    v = np.where(v > 0, v, 0).astype(v.dtype)
    low = np.floor(v)
    last = low >= size - 1
    low = np.where(last, size - 1, low)
    frac = np.where(last, 0, v - low).astype(v.dtype)
    high = np.where(last, size - 1, low + 1)
    return _safe_index(low, size), _safe_index(high, size), frac


def _roi_tap(
    img: np.ndarray, yi: np.ndarray, xi: np.ndarray, wy: np.ndarray, wx: np.ndarray
) -> np.ndarray:
    """One bilinear corner's weighted term of every sample: (c, ph, gh, pw, gw)."""
    v = img[:, yi[:, :, None, None], xi[None, None, :, :]]
    return (wy[:, :, None, None] * wx[None, None, :, :]) * v


ROI_ALIGN_TOO_MANY = (
    f"a region needs more than {ROI_ALIGN_MAX_SAMPLES} samples per bin (adaptive: the bin's "
    "size, rounded up, in each axis; a fixed sample_ratio or a smaller spatial_scale bounds it)"
)
"""The run-time error of an adaptive sample count over the bound, interpreted and native."""


ROI_ALIGN_NOT_ROIS = "the rois are not (R, 5) at run time"
ROI_ALIGN_NO_PIXELS = "the regions sample data with an empty axis (no image or no pixel)"
"""The run-time errors of roi_align's `?` dims, interpreted and native."""


def _roi_align_dims(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:
    data, rois = shapes
    return [rois[0], data[1], *attrs.pooled_size]


def _roi_align(attrs: Attrs, x: np.ndarray, rois: np.ndarray) -> np.ndarray:
    ct = np.dtype(grid_sample_compute_dtype(str(x.dtype))).type
    _, c, h, w = x.shape
    if rois.shape[1] != 5:
        raise ValueError(f"{ROI_ALIGN_NOT_ROIS}: {rois.shape}")
    if len(rois) and 0 in (x.shape[0], h, w):
        raise ValueError(f"{ROI_ALIGN_NO_PIXELS}: {x.shape}")
    ph, pw = attrs.pooled_size
    out = np.zeros((rois.shape[0], c, ph, pw), ct)
    for r, roi in enumerate(rois):
        b = int(_safe_index(np.asarray(roi[0], ct), x.shape[0]))
        y1, x1, bin_h, bin_w, gh, gw = roi_geometry(attrs, roi, ct)
        if gh * gw > ROI_ALIGN_MAX_SAMPLES:
            raise ValueError(ROI_ALIGN_TOO_MANY + f" (region {r}: {gh} x {gw})")
        if gh <= 0 or gw <= 0:
            continue
        iy = (np.arange(gh, dtype=ct) + ct(0.5)) * bin_h / ct(gh)
        ix = (np.arange(gw, dtype=ct) + ct(0.5)) * bin_w / ct(gw)
        ys = y1 + np.arange(ph, dtype=ct)[:, None] * bin_h + iy[None, :]  # (ph, gh)
        xs = x1 + np.arange(pw, dtype=ct)[:, None] * bin_w + ix[None, :]  # (pw, gw)
        y_ok = (ys >= -1) & (ys <= h)
        x_ok = (xs >= -1) & (xs <= w)
        yl, yh, ly = roi_sample_taps(ys, h)
        xl, xh, lx = roi_sample_taps(xs, w)
        hy, hx = ct(1) - ly, ct(1) - lx
        img = x[b].astype(ct)  # (c, h, w)
        taps = [
            _roi_tap(img, yi, xi, wy, wx)
            for yi, wy in ((yl, hy), (yh, ly))
            for xi, wx in ((xl, hx), (xh, lx))
        ]
        ok = y_ok[:, :, None, None] & x_ok[None, None, :, :]
        combine = np.maximum if attrs.mode == "max" else np.add
        sample = np.where(ok, combine(combine(combine(taps[0], taps[1]), taps[2]), taps[3]), 0)
        sample = sample.astype(ct)
        if attrs.mode == "avg":
            out[r] = sample.sum(axis=(2, 4), dtype=ct) / ct(gh * gw)
        else:
            out[r] = sample.max(axis=(2, 4))
    return out.astype(x.dtype)


@register(
    OpDef(
        "vision.roi_align",
        ("data", "rois"),
        ROI_ALIGN_ATTRS,
        _roi_align_rel,
        OpPattern.OPAQUE,
        _roi_align,
        "average (or max) of bilinear samples per bin of each region (rois: batch, x1, y1, "
        "x2, y2); max is ONNX's: the largest weighted corner term of each sample",
        shape=_roi_align_dims,
    )
)
class RoiAlign(RelayOperatorOp): ...


# -- gradients -----------------------------------------------------------------------------


def _one(dy: DY) -> SSAValue:
    assert isinstance(dy, SSAValue)
    return dy


@gradient(Reshape, Squeeze, ExpandDims)
def _reshape_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.reshape(_one(dy), shape_of(op.operands[0]))]


@gradient(Transpose)
def _transpose_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    axes = transpose_axes(op.attrs, len(shape_of(op.operands[0])))
    return [g.transpose(_one(dy), [axes.index(i) for i in range(len(axes))])]


@gradient(BroadcastTo)
def _broadcast_to_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.sum_to(_one(dy), shape_of(op.operands[0]))]


@gradient(Concatenate)
def _concatenate_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    d = _one(dy)
    fields = op.operands[0].type.types.data  # pyright: ignore[reportAttributeAccessIssue]
    axis = normalize_axis(op.attrs.axis, len(shape_of(d)))
    parts: list[SSAValue] = []
    start = 0
    for f in fields:
        size = tensor_shape(f)[axis]
        parts.append(g.crop(d, axis, start, start + size))
        start += size
    return [parts]


@gradient(Stack)
def _stack_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    d = _one(dy)
    fields = op.operands[0].type.types.data  # pyright: ignore[reportAttributeAccessIssue]
    axis = op.attrs.axis % len(shape_of(d))
    return [[g.reshape(g.crop(d, axis, k, k + 1), tensor_shape(f)) for k, f in enumerate(fields)]]


@gradient(LayoutTransform)
def _layout_transform_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # A permutation of the elements (blocked layouts split axes exactly): its inverse.
    src, dst = op.attrs.src_layout, op.attrs.dst_layout
    return [g.call(LayoutTransform, _one(dy), src_layout=dst, dst_layout=src)]


@gradient(ReverseSequence)
def _reverse_sequence_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # Reversing the same prefixes again puts every element back: the map is its own inverse.
    attrs = op.attrs
    lengths = op.operands[1]
    d = g.call(
        ReverseSequence, _one(dy), lengths, seq_axis=attrs.seq_axis, batch_axis=attrs.batch_axis
    )
    return [d, None]


@gradient(Split)
def _split_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    assert isinstance(dy, list)
    return [g.call(Concatenate, g.tuple(dy), axis=op.attrs.axis)]


@gradient(StridedSlice)
def _strided_slice_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    shape = shape_of(op.operands[0])
    bounds = slice_bounds(op.attrs, shape)
    if any(step < 0 for _, _, step in bounds):
        raise NotDifferentiable("strided_slice with a negative stride is not differentiable here")
    return [g.slice_back(_one(dy), shape, bounds)]


@gradient(Take)
def _take_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    from relay_opt.dialects.relay.ops.nn import Matmul

    x, indices = op.operands
    d = _one(dy)
    shape = shape_of(x)
    axis = None if op.attrs.axis is None else normalize_axis(op.attrs.axis, len(shape))
    flat = (math.prod(shape),) if axis is None else shape
    axis = 0 if axis is None else axis
    size, k = flat[axis], math.prod(shape_of(indices))
    pre, post = math.prod(flat[:axis]), math.prod(flat[axis + 1 :])
    # Where each index reads (take's own clamping or wrapping, applied to 0..size-1), as a
    # one-hot [k, size] matrix; the adjoint is its transpose times dy's [k, pre*post] view.
    arange = g.constant(np.arange(size, dtype=np.int64), "int64")
    positions = g.reshape(g.call(Take, arange, indices, axis=0, mode=op.attrs.mode), (k, 1))
    one_hot = g.mask(g.call(Equal, positions, g.reshape(arange, (1, size))), d)
    rows = g.reshape(g.transpose(g.reshape(d, (pre, k, post)), (1, 0, 2)), (k, pre * post))
    dx = g.call(Matmul, one_hot, rows, transpose_a=True)
    dx = g.transpose(g.reshape(dx, (size, pre, post)), (1, 0, 2))
    return [g.reshape(dx, shape), None]


@gradient(Copy)
def _copy_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [_one(dy)]


@gradient(ReshapeLike)
def _reshape_like_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.reshape(_one(dy), shape_of(op.operands[0])), None]


@gradient(BroadcastToLike)
def _broadcast_to_like_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.sum_to(_one(dy), shape_of(op.operands[0])), None]


@gradient(CollapseSumLike, CollapseSumTo)
def _collapse_sum_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    dx = g.broadcast_to(_one(dy), shape_of(op.operands[0]))
    return [dx] if len(op.operands) == 1 else [dx, None]


@gradient(ZerosLike, OnesLike)
def _constant_like_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [None]  # the values do not depend on the operand's


@gradient(Resize2D)
def _resize_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    x = op.operands[0]
    attrs = op.attrs
    if not dtype_of(x).startswith("float") or attrs.out_dtype not in ("", dtype_of(x)):
        raise NotDifferentiable("'image.resize2d' is differentiable on floats, in their dtype")
    h, w = (2, 3) if attrs.layout == "NCHW" else (1, 2)
    shape = shape_of(x)
    rows = resize_axis_weights(attrs, 0, shape[h])[0]
    cols = resize_axis_weights(attrs, 1, shape[w])[0]
    return [g.spatial_adjoint(_one(dy), rows, cols, attrs.layout, attrs.layout)]


@gradient(Full)
def _full_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # Every element is the fill value: its adjoint is the sum of them all.
    value = op.operands[0]
    if not dtype_of(op.result).startswith("float"):
        raise NotDifferentiable("'full' is differentiable into a float dtype")
    d = _one(dy)
    total = g.reduce_sum(d, list(range(len(shape_of(d)))))
    if dtype_of(total) != dtype_of(value):
        total = g.call(Cast, total, dtype=dtype_of(value))
    return [total]


def _int64(g: GradBuilder, v: SSAValue) -> SSAValue:
    return v if dtype_of(v) == "int64" else g.call(Cast, v, dtype="int64")


def _static_data(op: RelayOperatorOp) -> tuple[int, ...]:
    shape = shape_of(op.operands[0])
    if DYNAMIC in shape:
        raise NotDifferentiable(f"'{op.OPDEF.name}' is differentiable on data of static shape")
    return shape


@gradient(DynReshape)
def _dyn_reshape_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.call(ReshapeLike, _one(dy), op.operands[0]), None]


@gradient(DynBroadcastTo)
def _dyn_broadcast_to_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.call(CollapseSumLike, _one(dy), op.operands[0]), None]


@gradient(DynTile)
def _dyn_tile_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # As tile's: view each axis as (reps_i, size_i) and sum the copies; the view's shape is
    # built at run time from the repetitions (left-padded with ones, as dyn.tile pads them).
    x, reps = op.operands
    shape = _static_data(op)
    count = shape_of(reps)[0]
    n = max(len(shape), count)
    r = _int64(g, reps)
    if n > count:
        ones = g.constant(np.ones(n - count, np.int64), "int64")
        r = g.call(Concatenate, g.tuple([ones, r]), axis=0)
    sizes = g.constant(np.array([1] * (n - len(shape)) + list(shape), np.int64), "int64")
    view = g.reshape(g.call(Stack, g.tuple([r, sizes]), axis=1), (2 * n,))
    summed = g.reduce_sum(g.call(DynReshape, _one(dy), view), list(range(0, 2 * n, 2)))
    return [g.call(ReshapeLike, summed, x), None]


@gradient(DynStridedSlice)
def _dyn_strided_slice_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # A gather back, axis by axis: x's index j reads dy's (j - begin) / stride when that is a
    # whole index below size, else a zero appended to dy's axis (so an empty slice works).
    from relay_opt.dialects.relay.ops.nn import Pad

    _, begin, size = op.operands
    shape = _static_data(op)
    strides = list(op.attrs.strides) or [1] * len(shape)
    d = _one(dy)
    for axis, (extent, stride) in enumerate(zip(shape, strides, strict=True)):
        index = g.constant(np.array(axis, np.int64), "int64")
        start = _int64(g, g.call(Take, begin, index, axis=0))
        count = _int64(g, g.call(Take, size, index, axis=0))
        offset = g.minus(g.constant(np.arange(extent, dtype=np.int64), "int64"), start)
        pos = offset
        valid = g.call(GreaterEqual, offset, g.scalar(0, offset))
        if stride > 1:
            step = g.scalar(stride, offset)
            pos = g.div(offset, step)
            whole = g.call(Equal, g.call(Mod, offset, step), g.scalar(0, offset))
            valid = g.call(LogicalAnd, valid, whole)
        valid = g.call(LogicalAnd, valid, g.call(Less, pos, count))
        widths = [[0, 0] for _ in shape]
        widths[axis] = [0, 1]
        padded = g.call(Pad, d, g.scalar(0, d), pad_width=widths)
        d = g.call(Take, padded, g.select(valid, pos, count), axis=axis, mode="clip")
    return [d, None, None]


@gradient(DynUpdateSlice)
def _dyn_update_slice_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # The data's elements outside the slice pass through; the update's are dy's slice.
    _, update, begin = op.operands
    d = _one(dy)
    shape = shape_of(update)
    sizes = g.constant(np.array(shape, np.int64), "int64")
    d_update = g.reshape(g.call(DynStridedSlice, d, begin, sizes), shape)
    return [g.call(DynUpdateSlice, d, g.zeros_like(update), begin), d_update, None]


@gradient(Tile)
def _tile_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # dy holds reps_i copies of x along each (left-padded) axis i: view each axis as
    # (reps_i, size_i) and sum the copies.
    shape = shape_of(op.operands[0])
    reps = list(op.attrs.reps)
    n = max(len(shape), len(reps))
    sizes = [1] * (n - len(shape)) + list(shape)
    reps = [1] * (n - len(reps)) + reps
    split = [d for r, s in zip(reps, sizes, strict=True) for d in (r, s)]
    summed = g.reduce_sum(g.reshape(_one(dy), split), list(range(0, 2 * n, 2)))
    return [g.reshape(summed, shape)]


@gradient(Repeat)
def _repeat_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # Each element of x appears `repeats` times in a row along the axis: view the axis as
    # (size, repeats) and sum the copies.
    shape = shape_of(op.operands[0])
    axis = normalize_axis(op.attrs.axis, len(shape))
    split = [*shape[: axis + 1], op.attrs.repeats, *shape[axis + 1 :]]
    return [g.reduce_sum(g.reshape(_one(dy), split), [axis + 1])]
