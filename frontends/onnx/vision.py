"""ONNX's image sampling operators: GridSample as `image.grid_sample`, RoiAlign as
`vision.roi_align` (TVM's operators); NonMaxSuppression as `vision.non_max_suppression`,
Unique as `unique` (their result sizes depend on the values)."""

from __future__ import annotations

import numpy as np

from relay_opt.frontends.onnx.importer import Node, Value, converter

# ONNX opset 16 spells the modes as PyTorch does; opset 20 as Resize does.
_GRID_SAMPLE_MODES = {
    "bilinear": "bilinear",
    "linear": "bilinear",
    "nearest": "nearest",
    "bicubic": "bicubic",
    "cubic": "bicubic",
}


@converter("GridSample")
def grid_sample(n: Node) -> Value:
    """ONNX's grid is (N, out dims..., k) with x first; Relay's (TVM's) is (N, k, out dims...)."""
    x, grid = n.required(0), n.required(1)
    rank = n.rank(x)
    if rank not in (4, 5):
        raise n.unsupported(f"GridSample of a rank-{rank} input (4-d and 5-d are supported)")
    if n.rank(grid) != rank or n.shape(grid)[-1] != rank - 2:
        raise n.error(
            f"the grid {list(n.shape(grid))} must be (N, out dims..., {rank - 2}) "
            f"for a rank-{rank} input"
        )
    mode = n.attr("mode", "linear" if n.opset >= 20 else "bilinear")
    if mode not in _GRID_SAMPLE_MODES:
        raise n.error(f"unknown mode '{mode}'")
    method = _GRID_SAMPLE_MODES[mode]
    if method == "bicubic" and rank != 4:
        raise n.unsupported("cubic GridSample of a 5-d input (ONNX defines it for 4-d only)")
    padding = n.attr("padding_mode", "zeros")
    if padding not in ("zeros", "border", "reflection"):
        raise n.error(f"unknown padding_mode '{padding}'")
    dtype = n.dtype(x)
    if not dtype.startswith("float"):
        raise n.unsupported(f"GridSample of {dtype} data (float data is supported)")
    layout = "NCHW" if rank == 4 else "NCDHW"
    channels_first = n.op("transpose", n.cast(grid, dtype), axes=[0, rank - 1, *range(1, rank - 1)])
    return n.op(
        "image.grid_sample",
        x,
        channels_first,
        method=method,
        layout=layout,
        padding_mode=padding,
        align_corners=bool(n.attr("align_corners", 0)),
    )


@converter("RoiAlign")
def roi_align(n: Node) -> Value:
    """ONNX's rois (R, 4) and batch_indices (R,) become TVM's rois (R, 5), the batch index
    first (as a float: exact below 2^24 images)."""
    x, rois, batch = n.required(0), n.required(1), n.required(2)
    if n.rank(x) != 4:
        raise n.unsupported(f"RoiAlign of a rank-{n.rank(x)} input (4-d NCHW is supported)")
    dtype = n.dtype(x)
    if not dtype.startswith("float"):
        raise n.unsupported(f"RoiAlign of {dtype} data (float data is supported)")
    if n.rank(rois) != 2 or n.shape(rois)[1] != 4:
        raise n.error(f"rois must be (num_rois, 4), got {list(n.shape(rois))}")
    if list(n.shape(batch)) != [n.shape(rois)[0]]:
        raise n.error(
            f"batch_indices {list(n.shape(batch))} must hold one index per roi ({n.shape(rois)[0]})"
        )
    mode = n.attr("mode", "avg")
    if mode not in ("avg", "max"):
        raise n.error(f"unknown mode '{mode}'")
    # Opset 16 added the half-pixel shift, and made it the default.
    transform = n.attr(
        "coordinate_transformation_mode", "half_pixel" if n.opset >= 16 else "output_half_pixel"
    )
    if transform not in ("half_pixel", "output_half_pixel"):
        raise n.error(f"unknown coordinate_transformation_mode '{transform}'")
    index = n.op("expand_dims", n.cast(batch, dtype), axis=1)
    boxes = n.op("concatenate", [index, n.cast(rois, dtype)], axis=1)
    return n.op(
        "vision.roi_align",
        x,
        boxes,
        pooled_size=[int(n.attr("output_height", 1)), int(n.attr("output_width", 1))],
        spatial_scale=float(n.attr("spatial_scale", 1.0)),
        sample_ratio=int(n.attr("sampling_ratio", 0)) or -1,
        mode=mode,
        aligned=transform == "half_pixel",
    )


@converter("NonMaxSuppression")
def non_max_suppression(n: Node) -> Value:
    """The optional scalar inputs default as ONNX says: no boxes kept (max 0), an iou
    threshold of 0 and no score threshold (-inf keeps every score but NaN)."""
    boxes, scores = n.required(0), n.required(1)
    if n.rank(boxes) != 3:
        raise n.error(f"boxes must be (batches, boxes, 4), got {list(n.shape(boxes))}")
    if n.rank(scores) != 3:
        raise n.error(f"scores must be (batches, classes, boxes), got {list(n.shape(scores))}")
    dtype = n.dtype(boxes)
    if dtype not in ("float16", "float32", "float64"):
        raise n.unsupported(f"NonMaxSuppression of {dtype} boxes (float boxes are supported)")
    defaults = (n.scalar(0, "int64"), n.scalar(0, dtype), n.scalar(-np.inf, dtype))
    given = [n.input(i) for i in (2, 3, 4)]
    limit, iou, threshold = (
        d if v is None else n.cast(v, n.dtype(d)) for v, d in zip(given, defaults, strict=True)
    )
    center = int(n.attr("center_point_box", 0))
    if center not in (0, 1):
        raise n.error(f"center_point_box must be 0 or 1, got {center}")
    return n.op(
        "vision.non_max_suppression",
        boxes,
        n.cast(scores, dtype),
        limit,
        iou,
        threshold,
        center_point_box=bool(center),
    )


@converter("Unique")
def unique(n: Node) -> list[Value]:
    """Its four outputs: the distinct values, their first indices, the inverse indices and
    the counts (`unique`'s tuple)."""
    x = n.required(0)
    axis = n.attr("axis")
    if axis is not None:
        axis = n.axis(int(axis), n.rank(x))
    out = n.op("unique", x, sorted=bool(n.attr("sorted", 1)), axis=axis)
    return [n.tuple_get(out, k) for k in range(n.num_outputs)]
