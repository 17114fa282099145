"""Helpers shared by the operator families' type relations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xdsl.dialects.builtin import TensorType, TupleType
from xdsl.ir import Attribute

from relay_opt.dialects.relay.registry import TypeRelationError
from relay_opt.dialects.relay.types import (
    DYNAMIC,
    UnknownDTypeError,
    tensor_dtype,
    tensor_shape,
    tensor_type,
)

Shape = tuple[int, ...]


def show_shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join("?" if d == DYNAMIC else str(d) for d in shape) + ")"


def expect_tensor(t: Attribute, what: str = "operand") -> tuple[Shape, str]:
    """The shape and dtype of a tensor type; a relation error for anything else."""
    if not isinstance(t, TensorType):
        raise TypeRelationError(f"{what} must be a tensor, got {t}")
    try:
        return tensor_shape(t), tensor_dtype(t)
    except UnknownDTypeError as e:
        raise TypeRelationError(f"{what}: {e}") from None


def expect_tuple(t: Attribute, what: str = "operand") -> list[tuple[Shape, str]]:
    if not isinstance(t, TupleType):
        raise TypeRelationError(f"{what} must be a tuple of tensors, got {t}")
    return [expect_tensor(f, f"{what} field {i}") for i, f in enumerate(t.types)]


def dims_agree(a: Sequence[int], b: Sequence[int]) -> bool:
    """Whether two shapes can be the same at run time: one rank, each pair of dims equal or
    one of them `?` (the lowering checks that pair when it runs)."""
    return len(a) == len(b) and all(x == y or DYNAMIC in (x, y) for x, y in zip(a, b, strict=True))


def joined_dims(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """The dims of two shapes that agree (dims_agree): the static one of each pair."""
    return [y if x == DYNAMIC else x for x, y in zip(a, b, strict=True)]


def broadcast_shapes(a: Shape, b: Shape) -> Shape:
    """numpy's broadcasting rule, with `?` dims: `?` against n is n unless n is 1."""
    out: list[int] = []
    for i in range(max(len(a), len(b))):
        da = a[len(a) - 1 - i] if i < len(a) else 1
        db = b[len(b) - 1 - i] if i < len(b) else 1
        if da == db:
            out.append(da)
        elif da == 1:
            out.append(db)
        elif db == 1:
            out.append(da)
        elif da == DYNAMIC:
            out.append(db)
        elif db == DYNAMIC:
            out.append(da)
        else:
            raise TypeRelationError(
                f"shapes {show_shape(a)} and {show_shape(b)} do not broadcast "
                f"(dimension {da} against {db})"
            )
    return tuple(reversed(out))


def normalize_axis(axis: int, ndim: int, what: str = "axis") -> int:
    if not -ndim <= axis < max(ndim, 1):
        raise TypeRelationError(f"{what} {axis} is out of range for rank {ndim}")
    return axis + ndim if axis < 0 else axis


def result(shape: Sequence[int], dtype: str) -> TensorType[Attribute]:
    return tensor_type(shape, dtype)


# -- shape functions (registry.ShapeFunction): a result's `?` dims at run time ----------------


def broadcast_dims(shapes: Sequence[Sequence[object]], attrs: object) -> list[object]:
    """numpy broadcasting over every operand, for the shape function of elementwise
    operators. A static 1 yields to the other dim, and so does a run-time size of 1: facing a
    static n the result is n, and run-time sizes alone give their largest (`.max`, which
    run-time sizes have; the lowering checks that each is 1 or that size)."""
    rank = max(len(s) for s in shapes)
    out: list[object] = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        static = [d for d in dims if isinstance(d, int) and d != 1]
        dynamic = [d for d in dims if not isinstance(d, int)]
        if static or not dynamic:
            out.append(static[0] if static else 1)
            continue
        size = dynamic[0]
        for d in dynamic[1:]:
            size = size.max(d)  # pyright: ignore[reportAttributeAccessIssue]
        out.append(size)
    return out


def same_dims(shapes: Sequence[Sequence[object]], attrs: object) -> list[object]:
    """The first operand's shape (softmax, layout-preserving operators)."""
    return list(shapes[0])


def dim_max(a: Any, b: Any) -> Any:
    """The larger of two signed dims, for shape functions: ints compare now, a run-time size
    builds the comparison (`smax`)."""
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    return a.smax(b) if not isinstance(a, int) else b.smax(a)


def dim_min(a: Any, b: Any) -> Any:
    """The smaller of two signed dims (see `dim_max`)."""
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    return a.smin(b) if not isinstance(a, int) else b.smin(a)
