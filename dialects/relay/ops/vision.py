"""Operators whose result size depends on the operands' values: NonMaxSuppression's
selected boxes, Unique's distinct values. Their lowering sizes the result itself
(`OpDef.sized_by_values`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.ir import Attribute

from relay_opt.dialects.relay.attributes import AttrKind, Attrs, AttrSpec
from relay_opt.dialects.relay.ops.common import (
    expect_tensor,
    normalize_axis,
    result,
    show_shape,
)
from relay_opt.dialects.relay.registry import (
    OpDef,
    OpPattern,
    RelayOperatorOp,
    TypeRelationError,
    register,
)
from relay_opt.dialects.relay.types import DYNAMIC, tuple_type

# -- vision.non_max_suppression -------------------------------------------------------------

NMS_ATTRS = (AttrSpec("center_point_box", AttrKind.BOOL, False),)

_FLOATS = ("float16", "float32", "float64")


def _one_value(t: Attribute, what: str, kinds: tuple[str, ...]) -> None:
    shape, dtype = expect_tensor(t, what)
    if len(shape) > 1 or (shape and shape[0] != 1) or dtype not in kinds:
        raise TypeRelationError(
            f"non_max_suppression's {what} is one {'/'.join(kinds)} value (shape () or (1,)), "
            f"got {show_shape(shape)} {dtype}"
        )


def _nms_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:  # noqa: ARG001
    bshape, bdtype = expect_tensor(args[0], "boxes")
    sshape, sdtype = expect_tensor(args[1], "scores")
    if len(bshape) != 3 or bshape[2] not in (4, DYNAMIC):
        raise TypeRelationError(
            f"non_max_suppression's boxes are (batches, boxes, 4), got {show_shape(bshape)}"
        )
    if len(sshape) != 3:
        raise TypeRelationError(
            f"non_max_suppression's scores are (batches, classes, boxes), got {show_shape(sshape)}"
        )
    for axis_b, axis_s, what in ((0, 0, "batches"), (1, 2, "boxes")):
        b, s = bshape[axis_b], sshape[axis_s]
        if DYNAMIC not in (b, s) and b != s:
            raise TypeRelationError(
                f"non_max_suppression: boxes {show_shape(bshape)} and scores "
                f"{show_shape(sshape)} differ in their number of {what}"
            )
    if bdtype not in _FLOATS or sdtype != bdtype:
        raise TypeRelationError(
            f"non_max_suppression takes float boxes and scores of one dtype, got {bdtype}, {sdtype}"
        )
    _one_value(args[2], "max_output_boxes_per_class", ("int64",))
    _one_value(args[3], "iou_threshold", (bdtype,))
    _one_value(args[4], "score_threshold", (bdtype,))
    return result([DYNAMIC, 3], "int64")


def nms_compute_dtype(dtype: str) -> np.dtype:
    """The boxes' arithmetic: float32 (float64 for float64), in the lowering too."""
    return np.dtype(np.float64 if dtype == "float64" else np.float32)


def nms_suppresses(a: np.ndarray, b: np.ndarray, center: bool, iou_threshold: object) -> bool:
    """ONNX's rule: whether box b's overlap with box a (intersection over union) is above
    the threshold; corners in either order, or (x, y) center and (width, height)."""
    if center:
        x1 = (a[0] - a[2] / 2, a[0] + a[2] / 2, b[0] - b[2] / 2, b[0] + b[2] / 2)
        y1 = (a[1] - a[3] / 2, a[1] + a[3] / 2, b[1] - b[3] / 2, b[1] + b[3] / 2)
    else:
        x1 = (min(a[1], a[3]), max(a[1], a[3]), min(b[1], b[3]), max(b[1], b[3]))
        y1 = (min(a[0], a[2]), max(a[0], a[2]), min(b[0], b[2]), max(b[0], b[2]))
    ix = min(x1[1], x1[3]) - max(x1[0], x1[2])
    iy = min(y1[1], y1[3]) - max(y1[0], y1[2])
    if not (ix > 0 and iy > 0):
        return False
    inter = ix * iy
    area_a = (x1[1] - x1[0]) * (y1[1] - y1[0])
    area_b = (x1[3] - x1[2]) * (y1[3] - y1[2])
    union = area_a + area_b - inter
    if not (inter > 0 and area_a > 0 and area_b > 0 and union > 0):
        return False
    return bool(inter / union > iou_threshold)


def _nms(
    attrs: Attrs,
    boxes: np.ndarray,
    scores: np.ndarray,
    max_out: np.ndarray,
    iou: np.ndarray,
    score_threshold: np.ndarray,
) -> np.ndarray:
    ct = nms_compute_dtype(str(boxes.dtype)).type
    limit = max(int(max_out.reshape(-1)[0]), 0)
    iou_t = ct(iou.reshape(-1)[0])
    score_t = scores.dtype.type(score_threshold.reshape(-1)[0])
    picked: list[tuple[int, int, int]] = []
    for b in range(boxes.shape[0]):
        box = boxes[b].astype(ct)
        for c in range(scores.shape[1]):
            s = scores[b, c]
            # Candidates above the threshold, by score descending, ties by index.
            order = sorted((i for i in range(s.shape[0]) if s[i] > score_t), key=lambda i: -s[i])
            kept: list[int] = []
            for i in order:
                if len(kept) >= limit:
                    break
                center = attrs.center_point_box
                if not any(nms_suppresses(box[i], box[k], center, iou_t) for k in kept):
                    kept.append(i)
                    picked.append((b, c, i))
    return np.array(picked, dtype=np.int64).reshape(-1, 3)


@register(
    OpDef(
        "vision.non_max_suppression",
        ("boxes", "scores", "max_output_boxes_per_class", "iou_threshold", "score_threshold"),
        NMS_ATTRS,
        _nms_rel,
        OpPattern.OPAQUE,
        _nms,
        "ONNX's NonMaxSuppression: per batch and class, the boxes scoring above score_threshold "
        "in descending score order, each kept unless it overlaps a kept one by more than "
        "iou_threshold, at most max_output_boxes_per_class; rows (batch, class, box)",
        sized_by_values=True,
    )
)
class NonMaxSuppression(RelayOperatorOp): ...


# -- unique ---------------------------------------------------------------------------------

UNIQUE_ATTRS = (AttrSpec("sorted", AttrKind.BOOL, True), AttrSpec("axis", AttrKind.INT, None))


def unique_axis(shape: Sequence[int], attrs: Attrs) -> int | None:
    if attrs.axis is None:
        return None
    return normalize_axis(attrs.axis, len(shape))


def _unique_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    axis = unique_axis(shape, attrs)
    if axis is None:
        values, n = [DYNAMIC], _count(shape)
    else:
        values, n = [DYNAMIC if k == axis else d for k, d in enumerate(shape)], shape[axis]
    return tuple_type(
        [
            result(values, dtype),
            result([DYNAMIC], "int64"),
            result([n], "int64"),
            result([DYNAMIC], "int64"),
        ]
    )


def _count(shape: Sequence[int]) -> int:
    return DYNAMIC if DYNAMIC in shape else int(np.prod(shape, dtype=np.int64))


def _unique(attrs: Attrs, x: np.ndarray) -> tuple[np.ndarray, ...]:
    axis = unique_axis(x.shape, attrs)
    if axis is not None and x.shape[axis] == 0:
        empty = np.zeros(0, np.int64)
        return x, empty, empty, empty
    values, first, inverse, counts = np.unique(
        x, return_index=True, return_inverse=True, return_counts=True, axis=axis
    )
    inverse = inverse.reshape(-1)
    if not attrs.sorted:  # in order of first occurrence
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        values = np.take(values, order, axis=0 if axis is None else axis)
        first, counts, inverse = first[order], counts[order], rank[inverse]
    return values, first.astype(np.int64), inverse.astype(np.int64), counts.astype(np.int64)


@register(
    OpDef(
        "unique",
        ("data",),
        UNIQUE_ATTRS,
        _unique_rel,
        OpPattern.OPAQUE,
        _unique,
        "ONNX's Unique: the distinct elements (or slices along axis), sorted or in order of "
        "first occurrence; each one's first index, every element's position among them, "
        "and each one's count",
        sized_by_values=True,
    )
)
class Unique(RelayOperatorOp): ...
