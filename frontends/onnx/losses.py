"""ONNX losses and further operators written with existing Relay operators.

Each converter is a decomposition: no operator here has a Relay operator of its
own. NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss share one gather
(`_nll`); CumSum and CumProd are log-step scans; LpPool is
a window sum, which is an average pool times the window size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from relay_opt.frontends.onnx import runtime_axes
from relay_opt.frontends.onnx.importer import Node, Value, converter
from relay_opt.frontends.onnx.ops import spatial_pads

# -- losses -----------------------------------------------------------------------------------

_REDUCTIONS = ("none", "sum", "mean")


def _nll(n: Node, x: Value, target: Value, weight: Value | None) -> Value:
    """NegativeLogLikelihoodLoss of x (N, C, d1, ...) at target (N, d1, ...): the loss
    -x[n, target[n, d...], d...] * weight[target[n, d...]], zero where target is ignore_index,
    then reduced as `reduction` says (mean divides by the sum of the weights applied)."""
    reduction = n.attr("reduction", "mean")
    if reduction not in _REDUCTIONS:
        raise n.error(f"reduction '{reduction}' is not one of none, sum, mean")
    shape, tshape = n.shape(x), n.shape(target)
    if len(shape) < 2:
        raise n.error(f"the input must be (N, C, d1, ...), got shape {shape}")
    classes = shape[1]
    if tuple(tshape) != (shape[0], *shape[2:]):
        expected = (shape[0], *shape[2:])
        raise n.error(
            f"the target has shape {tuple(tshape)}, expected {expected} for input {shape}"
        )
    if weight is not None and tuple(n.shape(weight)) != (classes,):
        raise n.error(f"the weight has shape {tuple(n.shape(weight))}, expected ({classes},)")

    t = n.cast(target, "int64")
    ignored = None
    if n.has_attr("ignore_index"):
        ignored = n.op("equal", t, n.scalar(int(n.attr("ignore_index")), t))
    # A class in [0, C): an ignored target (which may lie outside) then still reads inside its row.
    cls = n.op("minimum", n.op("maximum", t, n.scalar(0, t)), n.scalar(classes - 1, t))

    # The gather x[n, cls, d...] from the flat x: cls * D plus the offset of (n, d...),
    # where D is the product of the d's. The offsets are known at import.
    inner = int(np.prod(shape[2:], dtype=np.int64))
    offset = (
        np.arange(shape[0], dtype=np.int64)[:, None] * (classes * inner)
        + np.arange(inner, dtype=np.int64)[None, :]
    ).reshape(tshape)
    flat = n.op("add", n.op("multiply", cls, n.scalar(inner, t)), offset)
    picked = n.op("take", n.reshape(x, [int(np.prod(shape, dtype=np.int64))]), flat, axis=0)
    loss = n.op("negative", picked)

    zero = n.scalar(0, x)
    applied: Value | None = None  # the weight of every position, when not all ones
    if weight is not None:
        applied = n.op("take", weight, cls, axis=0)
        loss = n.op("multiply", loss, applied)
    if ignored is not None:
        # Selected, not multiplied by 0: what an ignored position reads may be inf.
        applied = n.op("where", ignored, zero, n.scalar(1, x) if applied is None else applied)
        loss = n.op("where", ignored, zero, loss)

    if reduction == "none":
        return loss
    total = n.op("sum", loss)
    if reduction == "sum":
        return total
    if applied is None:
        return n.op("mean", loss)
    return n.op("divide", total, n.op("sum", applied))


@converter("NegativeLogLikelihoodLoss")
def negative_log_likelihood_loss(n: Node) -> Value:
    return _nll(n, n.required(0), n.required(1), n.input(2))


@converter("SoftmaxCrossEntropyLoss")
def softmax_cross_entropy_loss(n: Node) -> Sequence[Value]:
    scores = n.required(0)
    if n.rank(scores) < 2:
        raise n.error(f"the scores must be (N, C, d1, ...), got shape {n.shape(scores)}")
    log_prob = n.op("nn.log_softmax", scores, axis=1)
    loss = _nll(n, log_prob, n.required(1), n.input(2))
    return [loss, log_prob] if n.num_outputs > 1 else [loss]


# -- elementwise ------------------------------------------------------------------------------


@converter("Shrink")
def shrink(n: Node) -> Value:
    x = n.required(0)
    lambd, bias = float(n.attr("lambd", 0.5)), float(n.attr("bias", 0.0))
    dtype = n.dtype(x)
    # lambd and bias are floats; for integer x they are compared and added in float64 and
    # the result is truncated back, as numpy's astype (ONNX's reference) does.
    xf = x if dtype.startswith(("float", "bfloat")) else n.cast(x, "float64")
    low = n.op("less", xf, n.scalar(-lambd, xf))
    high = n.op("greater", xf, n.scalar(lambd, xf))
    out = n.op(
        "where",
        low,
        n.op("add", xf, n.scalar(bias, xf)),
        n.op("where", high, n.op("subtract", xf, n.scalar(bias, xf)), n.scalar(0, xf)),
    )
    return n.cast(out, dtype)


# -- cumulative sums and products -------------------------------------------------------------


def _shifted(n: Node, y: Value, axis: int, by: int, identity: np.ndarray) -> Value:
    """y moved `by` places along `axis`, the first `by` filled with `identity`."""
    shape = list(n.shape(y))
    kept = n.op("strided_slice", y, begin=[0], end=[shape[axis] - by], strides=[1], axes=[axis])
    fill_shape = shape[:axis] + [by] + shape[axis + 1 :]
    return n.op("concatenate", [np.broadcast_to(identity, fill_shape).copy(), kept], axis=axis)


@converter("CumSum", "CumProd")
def cumulative(n: Node) -> Value:
    """A prefix sum or product as a log-step scan (Hillis and Steele): after step s every
    element combines the 2^s elements up to it, so ceil(log2 L) combines of the whole tensor.
    Exact for integers; floats are added in a tree order rather than left to right. An axis
    given at run time picks among the scans along every axis (`runtime_axes.by_axis`)."""
    x = n.required(0)
    axis_value = n.input(1)
    if axis_value is None:
        raise n.error("input 1 (axis) is required")
    rank = n.rank(x)
    if rank == 0:
        raise n.error("the input must have rank 1 or more")
    if not isinstance(axis_value, np.ndarray):
        return runtime_axes.by_axis(n, axis_value, rank, rank, lambda d: _scan(n, x, d))
    if axis_value.size != 1:
        raise n.error(f"axis must be a scalar, got shape {tuple(axis_value.shape)}")
    return _scan(n, x, n.axis(int(axis_value.reshape(-1)[0]), rank))


def _scan(n: Node, x: Value, axis: int) -> Value:
    length = n.shape(x)[axis]
    combine = "add" if n.op_type == "CumSum" else "multiply"
    identity = n.scalar(0 if n.op_type == "CumSum" else 1, x)
    reverse, exclusive = bool(n.attr("reverse", 0)), bool(n.attr("exclusive", 0))
    flip = np.arange(length - 1, -1, -1, dtype=np.int64)
    y = n.op("take", x, flip, axis=axis) if reverse else x
    if exclusive and length:
        y = _shifted(n, y, axis, 1, identity)
    step = 1
    while step < length:
        y = n.op(combine, y, _shifted(n, y, axis, step, identity))
        step *= 2
    return n.op("take", y, flip, axis=axis) if reverse else y


# -- Lp pooling -------------------------------------------------------------------------------


def _window_out(
    size: int, k: int, stride: int, dilation: int, before: int, after: int, ceil: bool
) -> int:
    """ONNX's pooled length (ceil_mode drops a last window that would start in the end padding)."""
    span = (k - 1) * dilation + 1
    total = size + before + after - span
    out = (total + (stride - 1 if ceil else 0)) // stride + 1
    if ceil and (out - 1) * stride >= size + before:
        out -= 1
    return out


def _window_sum_2d(
    n: Node, x: Value, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int]
) -> Value:
    """The sum over each window of a 4-d (already padded) x: an average times the window size."""
    mean = n.op(
        "nn.avg_pool2d",
        x,
        pool_size=list(kernel),
        strides=list(strides),
        dilation=list(dilations),
        padding=[0, 0, 0, 0],
        ceil_mode=False,
        count_include_pad=True,
    )
    return n.op("multiply", mean, n.scalar(int(np.prod(kernel)), x))


@converter("LpPool")
def lp_pool(n: Node) -> Value:
    x = n.required(0)
    shape = n.shape(x)
    k = len(shape) - 2
    if k < 1:
        raise n.error(f"the input must be (N, C, d1, ...), got shape {shape}")
    if k > 3:
        raise n.unsupported(f"LpPool with {k} spatial dimensions (1-d, 2-d and 3-d are supported)")
    if not n.has_attr("kernel_shape"):
        raise n.error("kernel_shape is required")
    kernel = [int(v) for v in n.attr("kernel_shape")]
    strides = [int(v) for v in n.attr("strides", [1] * k)]
    dilations = [int(v) for v in n.attr("dilations", [1] * k)]
    if not len(kernel) == len(strides) == len(dilations) == k:
        raise n.error(
            f"kernel_shape, strides and dilations must have {k} values "
            f"for a rank-{len(shape)} input"
        )
    p = n.attr("p", 2)
    if p <= 0:
        raise n.error(f"p must be positive, got {p}")
    ceil = bool(n.attr("ceil_mode", 0))
    pads = spatial_pads(n, shape[2:], kernel, strides, dilations)
    # Pad with zeros up front, including what a ceil_mode window reads past the end padding,
    # so that every window is whole and the average pool divides by the window size.
    widths = [[0, 0], [0, 0]]
    for a in range(k):
        out = _window_out(
            shape[2 + a], kernel[a], strides[a], dilations[a], pads[a], pads[k + a], ceil
        )
        if out < 1:
            raise n.error(f"the window is larger than the padded input along spatial axis {a}")
        reach = (out - 1) * strides[a] + (kernel[a] - 1) * dilations[a] + 1
        widths.append([pads[a], max(pads[k + a], reach - shape[2 + a] - pads[a])])

    if p == 1:
        powered = n.op("abs", x)
    elif p == 2:
        powered = n.op("multiply", x, x)
    else:
        powered = n.op("power", n.op("abs", x), n.scalar(p, x))
    if any(w != [0, 0] for w in widths):
        powered = n.op("nn.pad", powered, n.scalar(0, x), pad_width=widths)
    padded = n.shape(powered)

    if k == 1:
        lifted = n.reshape(powered, [padded[0], padded[1], 1, padded[2]])
        total = _window_sum_2d(n, lifted, [1, kernel[0]], [1, strides[0]], [1, dilations[0]])
        s = n.shape(total)
        total = n.reshape(total, [s[0], s[1], s[3]])
    elif k == 2:
        total = _window_sum_2d(n, powered, kernel, strides, dilations)
    else:
        # A 3-d window sum is separable: the (h, w) windows with depth folded into the
        # channels, then the depth windows with (h, w) flattened into one axis.
        N, C, D, H, W = padded
        hw = _window_sum_2d(
            n, n.reshape(powered, [N, C * D, H, W]), kernel[1:], strides[1:], dilations[1:]
        )
        oh, ow = n.shape(hw)[2:]
        d = _window_sum_2d(
            n, n.reshape(hw, [N, C, D, oh * ow]), [kernel[0], 1], [strides[0], 1], [dilations[0], 1]
        )
        total = n.reshape(d, [N, C, n.shape(d)[2], oh, ow])

    if p == 1:
        return total
    if p == 2:
        return n.op("sqrt", total)
    return n.op("power", total, n.scalar(1.0 / p, x))
