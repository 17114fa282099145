"""ONNX's image sampling operators: GridSample as `image.grid_sample`."""

from __future__ import annotations

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
