"""One converter per ONNX operator: ONNX semantics written with Relay operators. The
activations (Relu, Elu, Softplus, ...) share one converter over activations.py's table.

Opset differences (attributes that became inputs, changed defaults) are handled
inside each converter with `n.opset`. A converter raises `n.unsupported(...)`
for the parts of an operator relay-opt does not implement, so that the error
names the node and the operator.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np

from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.ops.common import show_shape
from relay_opt.dialects.relay.types import DYNAMIC
from relay_opt.frontends.onnx import runtime_axes
from relay_opt.frontends.onnx.activations import ACTIVATIONS, OPERATORS
from relay_opt.frontends.onnx.importer import Node, Value, converter, relay_dtype_of
from relay_opt.frontends.onnx.narrow import NARROW, to_narrow

# -- elementwise ------------------------------------------------------------------------------

_UNARY = {
    "Abs": "abs",
    "Neg": "negative",
    "Exp": "exp",
    "Log": "log",
    "Sqrt": "sqrt",
    "Erf": "erf",
    "Floor": "floor",
    "Ceil": "ceil",
    "Sin": "sin",
    "Cos": "cos",
    "Tan": "tan",
    "Sinh": "sinh",
    "Cosh": "cosh",
    "Asin": "asin",
    "Acos": "acos",
    "Atan": "atan",
    "Asinh": "asinh",
    "Acosh": "acosh",
    "Atanh": "atanh",
    "Not": "logical_not",
    "BitwiseNot": "bitwise_not",
}


@converter(*_UNARY)
def unary(n: Node) -> Value:
    return n.op(_UNARY[n.op_type], n.required(0))


_BINARY = {
    "Add": "add",
    "Sub": "subtract",
    "Mul": "multiply",
    "Div": "divide",
    "Equal": "equal",
    "Less": "less",
    "Greater": "greater",
    "LessOrEqual": "less_equal",
    "GreaterOrEqual": "greater_equal",
    "And": "logical_and",
    "Or": "logical_or",
    "Xor": "not_equal",
    "BitwiseAnd": "bitwise_and",
    "BitwiseOr": "bitwise_or",
    "BitwiseXor": "bitwise_xor",
}


@converter(*_BINARY)
def binary(n: Node) -> Value:
    if n.has_attr("broadcast") or n.has_attr("axis"):
        raise n.unsupported("legacy broadcast/axis attributes (opset < 7)")
    return n.op(_BINARY[n.op_type], n.required(0), n.required(1))


@converter("Pow")
def pow_(n: Node) -> Value:
    x, y = n.required(0), n.required(1)
    return n.op("power", x, n.cast(y, n.dtype(x)))


@converter("Mod")
def mod(n: Node) -> Value:
    a, b = n.required(0), n.required(1)
    r = n.op("mod", a, b)  # truncated: the sign of the dividend (C's fmod)
    if n.attr("fmod", 0) or n.dtype(a).startswith("uint"):
        return r
    # fmod=0 gives the remainder the divisor's sign (Python's %): move a nonzero r by b.
    zero = n.scalar(0, r)
    fix = n.op(
        "logical_and",
        n.op("not_equal", r, zero),
        n.op("not_equal", n.op("less", r, zero), n.op("less", b, n.scalar(0, b))),
    )
    return n.op("where", fix, n.op("add", r, b), r)


@converter("BitShift")
def bit_shift(n: Node) -> Value:
    x, y = n.required(0), n.required(1)
    direction = n.attr("direction")
    if direction not in ("LEFT", "RIGHT"):
        raise n.error(f"direction must be LEFT or RIGHT, got {direction!r}")
    # Unsigned integers; opset 28 adds signed ones (arithmetic right shift). An amount outside
    # [0, bits) gives the sign fill (0, or -1 shifting a negative value right), as the
    # Relay operators define it.
    for v in (x, y):
        if not n.dtype(v).startswith(("uint", "int")):
            raise n.error(f"BitShift takes integer tensors, got {n.dtype(v)}")
    return n.op("left_shift" if direction == "LEFT" else "right_shift", x, y)


@converter("Sum", "Max", "Min", "Mean")
def variadic(n: Node) -> Value:
    name = {"Sum": "add", "Max": "maximum", "Min": "minimum", "Mean": "add"}[n.op_type]
    args = [v for v in n.inputs if v is not None]
    out = args[0]
    for v in args[1:]:
        out = n.op(name, out, v)
    if n.op_type == "Mean":
        out = n.op("divide", out, n.scalar(len(args), out))
    return out


@converter("Reciprocal")
def reciprocal(n: Node) -> Value:
    x = n.required(0)
    return n.op("divide", n.scalar(1, x), x)


@converter("Sign")
def sign(n: Node) -> Value:
    x = n.required(0)
    zero, one = n.scalar(0, x), n.scalar(1, x)
    neg = n.op(
        "where", n.op("less", x, zero), n.scalar(-1, x) if n.dtype(x)[0] != "u" else zero, zero
    )
    return n.op("where", n.op("greater", x, zero), one, neg)


@converter("IsNaN")
def isnan(n: Node) -> Value:
    x = n.required(0)
    return n.op("not_equal", x, x)


@converter("Round")
def round_(n: Node) -> Value:
    return round_half_even(n, n.required(0))


def round_half_even(n: Node, x: Value) -> Value:
    """Round to the nearest integer, halves to even (ONNX's and numpy's rint; Relay's round
    takes halves away from zero)."""
    half = n.op("equal", n.op("subtract", x, n.op("floor", x)), n.scalar(0.5, x))
    even = n.op("multiply", n.op("round", n.op("multiply", x, n.scalar(0.5, x))), n.scalar(2, x))
    return n.op("where", half, even, n.op("round", x))


@converter("Identity")
def identity(n: Node) -> Value:
    return n.required(0)


@converter("Where")
def where(n: Node) -> Value:
    return n.op("where", n.required(0), n.required(1), n.required(2))


@converter("Cast")
def cast(n: Node) -> Value:
    return cast_to(n, n.required(0), n.attr("to"))


@converter("BitCast")
def bit_cast(n: Node) -> Value:
    """The same bits in another dtype of the same width (Relay's reinterpret)."""
    x = n.required(0)
    if n.narrow(0) is not None or n.attr("to") in NARROW:
        raise n.unsupported("BitCast of a narrow dtype (float8, int4, ...)")
    target = relay_dtype_of(n.attr("to"), n.where())
    if "bool" in (n.dtype(x), target):
        # bool's byte is 0 or 1: the same bits as the 8-bit integer of that value
        if target not in ("bool", "int8", "uint8") or n.dtype(x) not in ("bool", "int8", "uint8"):
            raise n.error(f"BitCast of {n.dtype(x)} to {target}: their widths differ")
        return n.cast(x, target)
    return x if n.dtype(x) == target else n.op("reinterpret", x, dtype=target)


@converter("CastLike")
def cast_like(n: Node) -> Value:
    like = n.narrow(1)
    if like is not None:
        return cast_to(n, n.required(0), like)
    return n.cast(n.required(0), n.dtype(n.required(1)))


def cast_to(n: Node, x: Value, code: int) -> Value:
    """Cast to ONNX dtype `code`; to a narrow one (float8, int4, ...) by rounding to its
    values (saturating as the `saturate` attribute says, opset 19+; to E8M0 rounding as
    `round_mode` says, opset 25+)."""
    target = NARROW.get(code)
    if target is None:
        return n.cast(x, relay_dtype_of(code, n.where()))
    n.narrow_outputs[0] = code
    if n.narrow(0) == code:
        return x
    saturate = bool(n.attr("saturate", 1))
    return to_narrow(n, x, target, saturate=saturate, round_mode=n.attr("round_mode", "up"))


@converter("Clip")
def clip(n: Node) -> Value:
    x = n.required(0)
    if n.opset < 11:
        lo, hi = n.attr("min", -math.inf), n.attr("max", math.inf)
        return n.op("clip", x, a_min=float(lo), a_max=float(hi))
    out = x
    if (lo := n.input(1)) is not None:
        out = n.op("maximum", out, lo)
    if (hi := n.input(2)) is not None:
        out = n.op("minimum", out, hi)
    return out


# -- activations ------------------------------------------------------------------------------


@converter(*OPERATORS)
def activation(n: Node) -> Value:
    """Relu, Tanh, Sigmoid, LeakyRelu, Elu, Selu, Softplus, ...: activations.py's table."""
    return ACTIVATIONS[n.op_type].of_node(n, n.required(0))


@converter("SwiGLU")
def swiglu(n: Node) -> Value:
    """Swish_alpha(A) * B, A and B of one shape (no broadcasting)."""
    a, b = n.required(0), n.required(1)
    if n.shape(a) != n.shape(b):
        raise n.error(f"A {list(n.shape(a))} and B {list(n.shape(b))} must have one shape")
    gate = ACTIVATIONS["Swish"].build(n, a, float(np.float32(n.attr("alpha", 1.0))))
    return n.op("multiply", gate, b)


@converter("PRelu")
def prelu(n: Node) -> Value:
    x, slope = n.required(0), n.required(1)
    rank = n.rank(x)
    if n.source_opset < 7 and n.rank(slope) == 1 and n.shape(slope)[0] != 1 and rank >= 2:
        # Before opset 7 a 1-d slope is per channel (axis 1), not numpy-broadcast.
        slope = n.reshape(slope, [n.shape(slope)[0]] + [1] * (rank - 2))
    return n.op("where", n.op("less", x, n.scalar(0, x)), n.op("multiply", x, slope), x)


def _coerce_2d_softmax(n: Node, relay_op: str) -> Value:
    x = n.required(0)
    shape = n.shape(x)
    if n.opset >= 13:
        return n.op(relay_op, x, axis=n.axis(n.attr("axis", -1), len(shape)))
    # Before opset 13 the input is read as a matrix [prod(shape[:axis]), prod(shape[axis:])].
    axis = n.axis(n.attr("axis", 1), len(shape))
    flat = n.reshape(x, [int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))])
    return n.reshape(n.op(relay_op, flat, axis=1), shape)


@converter("Softmax")
def softmax(n: Node) -> Value:
    return _coerce_2d_softmax(n, "nn.softmax")


@converter("LogSoftmax")
def log_softmax(n: Node) -> Value:
    return _coerce_2d_softmax(n, "nn.log_softmax")


# -- convolution, pooling, normalization ------------------------------------------------------


def per_axis(n: Node, count: int, **values: Sequence[object]) -> None:
    """Attribute lists with one value per axis: a list of another length is the model's error."""
    for name, vs in values.items():
        if len(vs) != count:
            raise n.error(f"{name} has {len(vs)} values, expected {count}")


def spatial_pads(
    n: Node,
    in_spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    ceil_mode: bool = False,
) -> list[int]:
    """ONNX `pads`/`auto_pad` as [begin..., end...] for the spatial dims."""
    k = len(in_spatial)
    auto_pad = n.attr("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        per_axis(n, k, kernel_shape=kernel, strides=strides, dilations=dilations)
        begins, ends = [], []
        for size, kk, s, d in zip(in_spatial, kernel, strides, dilations, strict=True):
            out = -(-size // s)
            total = max(0, (out - 1) * s + (kk - 1) * d + 1 - size)
            small = total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else total - small)
            ends.append(total - begins[-1])
        return begins + ends
    if auto_pad == "VALID":
        return [0] * (2 * k)
    if auto_pad != "NOTSET":
        raise n.error(f"auto_pad '{auto_pad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    pads = list(n.attr("pads", [0] * (2 * k)))
    if len(pads) != 2 * k:
        raise n.error(f"pads has {len(pads)} values, expected {2 * k}")
    return pads


def _to_2d(n: Node, x: Value, what: str) -> tuple[Value, bool]:
    """A 1-d spatial operand (N, C, W) as (N, C, 1, W); 3-d spatial is not supported."""
    rank = n.rank(x)
    if rank == 4:
        return x, False
    if rank == 3:
        s = n.shape(x)
        return n.reshape(x, [s[0], s[1], 1, s[2]]), True
    raise n.unsupported(f"{what} with {rank - 2} spatial dimensions (1-d and 2-d are supported)")


def _from_2d(n: Node, out: Value, lifted: bool) -> Value:
    """A result computed on a 1-d operand lifted by _to_2d, as (N, C, W) again."""
    if not lifted:
        return out
    s = n.shape(out)
    return n.reshape(out, [s[0], s[1], s[3]])


def _conv_to_2d(n: Node, x: Value, w: Value, what: str) -> tuple[Value, Value, bool]:
    """x by _to_2d, and the convolution weight w (O, I, W) as (O, I, 1, W) along with it."""
    x2, lifted = _to_2d(n, x, what)
    w2 = n.reshape(w, [*n.shape(w)[:2], 1, n.shape(w)[2]]) if lifted else w
    return x2, w2, lifted


def _conv_window(
    strides: Sequence[int], pads: Sequence[int], dilations: Sequence[int]
) -> dict[str, list[int]]:
    """Relay's 2-d strides, padding and dilation for a convolution's 1-d or 2-d ONNX ones."""
    return {
        "strides": _lift(strides, 1),
        "padding": _lift_pads(pads),
        "dilation": _lift(dilations, 1),
    }


def _lift(values: Sequence[int], one: int) -> list[int]:
    return [one, *values] if len(values) == 1 else list(values)


def _lift_pads(pads: Sequence[int]) -> list[int]:
    return [0, pads[0], 0, pads[1]] if len(pads) == 2 else list(pads)


@converter("Conv")
def conv(n: Node) -> Value:
    return conv_values(n, n.required(0), n.required(1), n.input(2))


def conv_values(n: Node, x: Value, w: Value, b: Value | None) -> Value:
    """ONNX's Conv of x by w (plus b) with the node's attributes, 1-d, 2-d or 3-d."""
    k = n.rank(x) - 2
    kernel = list(n.attr("kernel_shape", n.shape(w)[2:]))
    strides = list(n.attr("strides", [1] * k))
    dilations = list(n.attr("dilations", [1] * k))
    pads = spatial_pads(n, n.shape(x)[2:], kernel, strides, dilations)
    if k == 3 and n.rank(w) == 5:
        out = _conv3d(n, x, w, strides, pads, dilations)
        return out if b is None else n.op("nn.bias_add", out, b, axis=1)
    x2, w2, lifted = _conv_to_2d(n, x, w, "Conv")
    out = n.op(
        "nn.conv2d",
        x2,
        w2,
        **_conv_window(strides, pads, dilations),
        groups=int(n.attr("group", 1)),
        channels=n.shape(w)[0],
        kernel_size=_lift(kernel, 1),
    )
    if b is not None:
        out = n.op("nn.bias_add", out, b, axis=1)
    return _from_2d(n, out, lifted)


def _conv3d(
    n: Node,
    x: Value,
    w: Value,
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
) -> Value:
    """A 3-d convolution as a sum of 2-d ones, one per kernel depth kd: the input's depths
    that kd meets (od * stride + kd * dilation, zero-padded) folded into the batch,
    convolved over (h, w) with w[:, :, kd]."""
    N, C, D = n.shape(x)[:3]
    kd_size = n.shape(w)[2]
    sd, dd = strides[0], dilations[0]
    if pads[0] or pads[3]:
        widths = [[0, 0], [0, 0], [pads[0], pads[3]], [0, 0], [0, 0]]
        x = n.op("nn.pad", x, n.scalar(0, x), pad_width=widths)
        D += pads[0] + pads[3]
    od = (D - (kd_size - 1) * dd - 1) // sd + 1
    if od < 1:
        raise n.error("the kernel is deeper than the padded input")
    depth_major = n.op("transpose", x, axes=[0, 2, 1, 3, 4])  # (N, D, C, H, W)
    total = None
    for kd in range(kd_size):
        start = kd * dd
        taken = n.op(
            "strided_slice",
            depth_major,
            begin=[start],
            end=[start + (od - 1) * sd + 1],
            strides=[sd],
            axes=[1],
        )
        planes = n.reshape(taken, [N * od, C, *n.shape(x)[3:]])
        wk = n.op("strided_slice", w, begin=[kd], end=[kd + 1], strides=[1], axes=[2])
        wk = n.reshape(wk, [n.shape(w)[0], n.shape(w)[1], *n.shape(w)[3:]])
        part = n.op(
            "nn.conv2d",
            planes,
            wk,
            strides=list(strides[1:]),
            padding=[pads[1], pads[2], pads[4], pads[5]],
            dilation=list(dilations[1:]),
            groups=int(n.attr("group", 1)),
            channels=n.shape(w)[0],
            kernel_size=list(n.shape(w)[3:]),
        )
        total = part if total is None else n.op("add", total, part)
    assert total is not None
    _, m, oh, ow = n.shape(total)
    return n.op("transpose", n.reshape(total, [N, od, m, oh, ow]), axes=[0, 2, 1, 3, 4])


@converter("ConvTranspose")
def conv_transpose(n: Node) -> Value:
    x, w = n.required(0), n.required(1)
    k = n.rank(x) - 2
    if k not in (1, 2, 3) or n.rank(w) != k + 2:
        raise n.unsupported(
            f"ConvTranspose with data {list(n.shape(x))} and weight {list(n.shape(w))} "
            f"(1-d, 2-d and 3-d are supported)"
        )
    groups = int(n.attr("group", 1))
    in_spatial = n.shape(x)[2:]
    kernel = list(n.attr("kernel_shape", n.shape(w)[2:]))
    if kernel != list(n.shape(w)[2:]):
        raise n.error(f"kernel_shape {kernel} differs from the weight's {list(n.shape(w)[2:])}")
    strides = list(n.attr("strides", [1] * k))
    dilations = list(n.attr("dilations", [1] * k))
    output_padding = list(n.attr("output_padding", [0] * k))
    per_axis(n, k, strides=strides, dilations=dilations, output_padding=output_padding)
    auto_pad = n.attr("auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise n.error(f"auto_pad '{auto_pad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    output_shape = n.attr("output_shape")
    if output_shape is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        output_shape = [size * s for size, s in zip(in_spatial, strides, strict=True)]
    if output_shape is not None:
        # The padding that gives exactly output_shape (ONNX: output_shape overrides pads);
        # negative padding grows the output with zeros.
        output_shape = list(output_shape)[-k:]
        per_axis(n, k, output_shape=output_shape)
        total = [
            s * (size - 1) + op + (kk - 1) * d + 1 - out
            for size, kk, s, d, op, out in zip(
                in_spatial, kernel, strides, dilations, output_padding, output_shape, strict=True
            )
        ]
        upper = auto_pad == "SAME_UPPER"
        begins = [t // 2 if upper else t - t // 2 for t in total]
        pads = begins + [t - b for t, b in zip(total, begins, strict=True)]
    elif auto_pad == "VALID":
        pads = [0] * (2 * k)
    else:
        pads = list(n.attr("pads", [0] * (2 * k)))
        if len(pads) != 2 * k:
            raise n.error(f"pads has {len(pads)} values, expected {2 * k}")
    if k == 3:
        out = _conv_transpose3d(n, x, w, strides, pads, dilations, output_padding, groups)
        b = n.input(2)
        return out if b is None else n.op("nn.bias_add", out, b, axis=1)
    x2, w2, lifted = _conv_to_2d(n, x, w, "ConvTranspose")
    out = n.op(
        "nn.conv2d_transpose",
        x2,
        w2,
        **_conv_window(strides, pads, dilations),
        output_padding=_lift(output_padding, 0),
        groups=groups,
        channels=n.shape(w)[1] * groups,
        kernel_size=_lift(kernel, 1),
    )
    if (b := n.input(2)) is not None:
        out = n.op("nn.bias_add", out, b, axis=1)
    return _from_2d(n, out, lifted)


def _conv_transpose3d(
    n: Node,
    x: Value,
    w: Value,
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    output_padding: Sequence[int],
    groups: int,
) -> Value:
    """A 3-d ConvTranspose as 2-d ones, one per kernel depth kd: the input's depths folded
    into the batch, transposed over (h, w) by w[:, :, kd], then each input depth d put at
    output depth d * stride + kd * dilation (a one-hot contraction along the depth), summed
    over kd; the depth's pads crop the result."""
    N, C, D, H, W = n.shape(x)
    kd_size = n.shape(w)[2]
    M = n.shape(w)[1] * groups
    sd, dd = strides[0], dilations[0]
    full = (D - 1) * sd + (kd_size - 1) * dd + 1 + output_padding[0]
    out_d = full - pads[0] - pads[3]
    if DYNAMIC in (N, C, D, H, W) or out_d < 1:
        raise n.unsupported(f"3-d ConvTranspose of data {[N, C, D, H, W]} to depth {out_d}")
    planes = n.reshape(n.op("transpose", x, axes=[0, 2, 1, 3, 4]), [N * D, C, H, W])
    total = None
    for kd in range(kd_size):
        wk = n.op("strided_slice", w, begin=[kd], end=[kd + 1], strides=[1], axes=[2])
        part = n.op(
            "nn.conv2d_transpose",
            planes,
            n.reshape(wk, [n.shape(w)[0], n.shape(w)[1], *n.shape(w)[3:]]),
            strides=list(strides[1:]),
            padding=[pads[1], pads[2], pads[4], pads[5]],
            dilation=list(dilations[1:]),
            output_padding=list(output_padding[1:]),
            groups=groups,
            channels=M,
            kernel_size=list(n.shape(w)[3:]),
        )
        _, _, oh, ow = n.shape(part)
        depth_last = n.op("transpose", n.reshape(part, [N, D, M, oh, ow]), axes=[0, 2, 3, 4, 1])
        place = np.zeros((out_d, D), numpy_dtype(n.dtype(x)))
        for d in range(D):
            at = d * sd + kd * dd - pads[0]
            if 0 <= at < out_d:
                place[at, d] = 1
        placed = n.op("nn.dense", depth_last, place)
        total = placed if total is None else n.op("add", total, placed)
    assert total is not None
    return n.op("transpose", total, axes=[0, 1, 4, 2, 3])


@converter("Col2Im")
def col2im(n: Node) -> Value:
    """The sum of the columns' blocks put back at their image positions: ConvTranspose
    with a one-hot kernel, one group per image channel (2-d images)."""
    x = n.required(0)
    image_shape, block_shape = n.required(1), n.required(2)
    if not (isinstance(image_shape, np.ndarray) and isinstance(block_shape, np.ndarray)):
        return _col2im_at_run_time(n, x, image_shape, block_shape)
    image = [int(v) for v in image_shape.reshape(-1)]
    block = [int(v) for v in block_shape.reshape(-1)]
    if len(image) != 2 or len(block) != 2:
        raise n.unsupported(f"Col2Im of a {len(image)}-d image (2-d is supported)")
    strides = list(n.attr("strides", [1, 1]))
    dilations = list(n.attr("dilations", [1, 1]))
    pads = list(n.attr("pads", [0, 0, 0, 0]))
    per_axis(n, 2, strides=strides, dilations=dilations)
    if len(pads) != 4:
        raise n.error(f"pads has {len(pads)} values, expected 4")
    blocks = [
        (size + pads[a] + pads[2 + a] - dilations[a] * (block[a] - 1) - 1) // strides[a] + 1
        for a, size in enumerate(image)
    ]
    rows, columns, count = n.shape(x) if n.rank(x) == 3 else (0, 0, 0)
    k = block[0] * block[1]
    if n.rank(x) != 3 or columns % k or count != blocks[0] * blocks[1] or min(blocks) < 1:
        raise n.error(
            f"input {list(n.shape(x))} is not (N, C * {k}, {max(blocks[0], 0) * max(blocks[1], 0)})"
            f" for image {image} and block {block}"
        )
    channels = columns // k
    one_hot = np.zeros((channels * k, 1, *block), dtype=numpy_dtype(n.dtype(x)))
    for c in range(channels):
        for i in range(k):
            one_hot[c * k + i, 0, i // block[1], i % block[1]] = 1
    # A stride that does not divide the padded image leaves its last rows/columns to no block.
    reach = [
        (b - 1) * strides[a] + dilations[a] * (block[a] - 1) + 1 - pads[a] - pads[2 + a]
        for a, b in enumerate(blocks)
    ]
    return n.op(
        "nn.conv2d_transpose",
        n.reshape(x, [rows, columns, *blocks]),
        one_hot,
        **_conv_window(strides, pads, dilations),
        output_padding=[size - r for size, r in zip(image, reach, strict=True)],
        groups=channels,
        channels=channels,
        kernel_size=block,
    )


def _col2im_at_run_time(n: Node, x: Value, image: Value, block: Value) -> Value:
    """Col2Im whose image or block shape is read at run time (any number of image axes):
    each column element's image position is computed from the run-time sizes (-1 outside
    the image), and the image is x times the one-hot matrix of those positions (one matmul,
    no gather, so no size can make it read out of bounds). The channel count (C * K / K),
    the block count (L against the product of the blocks per axis) and the image sizes (not
    negative) are checked by dyn.reshape's located run-time errors."""
    k = n.shape(image)[0] if n.rank(image) == 1 else 0
    if k < 1 or n.shape(block) != (k,) or n.rank(x) != 3 or DYNAMIC in n.shape(x):
        raise n.error(
            f"image_shape {list(n.shape(image))} and block_shape {list(n.shape(block))} must be"
            f" 1-D of one length, and the input (N, C * K, L) of static sizes, not"
            f" {list(n.shape(x))}"
        )
    strides = list(n.attr("strides", [1] * k))
    dilations = list(n.attr("dilations", [1] * k))
    pads = list(n.attr("pads", [0] * (2 * k)))
    per_axis(n, k, strides=strides, dilations=dilations)
    if len(pads) != 2 * k or min(strides) < 1 or min(dilations) < 1:
        raise n.error(f"pads must give {2 * k} values, strides and dilations positive ones")
    batch, columns, count = n.shape(x)
    i64 = "int64"
    one = n.scalar(1, i64)
    image, block = n.cast(image, i64), n.cast(block, i64)
    sizes = [n.op("take", image, np.array(a, np.int64)) for a in range(k)]
    # (a block size below 1 is taken as 1 where it divides, so nothing divides by 0; its
    # product below 1 makes the channel count negative: dyn.reshape's error)
    blocks = [n.op("take", block, np.array(a, np.int64)) for a in range(k)]
    divisors = [n.op("maximum", b, one) for b in blocks]
    per = [
        n.op(
            "add",
            n.op(
                "floor_divide",
                n.op(
                    "subtract",
                    n.op("add", sizes[a], n.scalar(pads[a] + pads[k + a] - 1, i64)),
                    n.op("multiply", n.op("subtract", blocks[a], one), n.scalar(dilations[a], i64)),
                ),
                n.scalar(strides[a], i64),
            ),
            one,
        )
        for a in range(k)
    ]
    product = one
    for b in blocks:
        product = n.op("multiply", product, b)
    kernel = n.op("where", n.op("less", product, one), n.scalar(-1, i64), product)
    channels = n.op("divide", n.scalar(columns, i64), kernel)
    # the column index l, through a dyn.reshape that checks L = the product of `per`
    blocks_count = one
    for p in per:
        blocks_count = n.op("multiply", blocks_count, n.op("maximum", p, n.scalar(0, i64)))
    column = n.reshape(
        n.op("dyn.reshape", runtime_axes.counted(n, blocks_count), np.array([count], np.int64)),
        [count],
    )
    element = n.op("expand_dims", runtime_axes.counted(n, kernel), axis=1)  # (K, 1)
    flat, inside = n.scalar(0, i64), n.scalar(True, "bool")
    block_stride, column_stride = one, one
    for a in reversed(range(k)):
        ka = n.op("mod", n.op("floor_divide", element, block_stride), divisors[a])
        pa = n.op("maximum", per[a], one)
        la = n.op("mod", n.op("floor_divide", column, column_stride), pa)
        pos = n.op(
            "add",
            n.op("multiply", la, n.scalar(strides[a], i64)),
            n.op(
                "subtract",
                n.op("multiply", ka, n.scalar(dilations[a], i64)),
                n.scalar(pads[a], i64),
            ),
        )  # (K, L)
        inside = n.op(
            "logical_and",
            inside,
            n.op(
                "logical_and",
                n.op("greater_equal", pos, n.scalar(0, i64)),
                n.op("less", pos, sizes[a]),
            ),
        )
        image_stride = one
        for b in range(a + 1, k):
            image_stride = n.op("multiply", image_stride, sizes[b])
        flat = n.op("add", flat, n.op("multiply", pos, image_stride))
        block_stride = n.op("multiply", block_stride, divisors[a])
        column_stride = n.op("multiply", column_stride, pa)
    flat = n.op("where", inside, flat, n.scalar(-1, i64))
    pixels = one
    for v in sizes:
        pixels = n.op("multiply", pixels, n.op("maximum", v, n.scalar(0, i64)))
    hot = n.op(
        "equal",
        n.reshape(flat, [-1, 1]),
        n.op("expand_dims", runtime_axes.counted(n, pixels), axis=0),
    )
    rows = n.op("multiply", n.scalar(batch, i64), channels)
    cells = n.op("multiply", kernel, n.scalar(count, i64))
    shape = n.op("concatenate", [n.reshape(rows, [1]), n.reshape(cells, [1])], axis=0)
    x2 = n.op("dyn.reshape", x, shape)  # (N * C, K * L)
    out = n.op("nn.matmul", x2, n.cast(hot, n.dtype(x)))
    head = [np.array([batch], np.int64), n.reshape(channels, [1]), image]
    return n.op("dyn.reshape", out, n.op("concatenate", head, axis=0))


@converter("AffineGrid")
def affine_grid(n: Node) -> Value:
    """theta (N, k, k+1) applied to the homogeneous positions of a k-d grid spanning [-1, 1]
    per axis (pixel centres, or corners with align_corners): (N, *spatial, k), x first."""
    theta = n.required(0)
    size_in = n.required(1)
    if not isinstance(size_in, np.ndarray):
        return _affine_grid_at_run_time(n, theta, size_in)
    size = [int(v) for v in size_in.reshape(-1)]
    k = len(size) - 2
    if k not in (2, 3) or list(n.shape(theta)) != [size[0], k, k + 1]:
        raise n.error(f"theta {list(n.shape(theta))} does not fit size {size} (2-d or 3-d)")
    align = bool(n.attr("align_corners", 0))

    def axis(count: int) -> np.ndarray:
        if align:
            return np.linspace(-1.0, 1.0, count) if count > 1 else np.array([-1.0])
        return (2 * np.arange(count) + 1) / count - 1

    spatial = size[2:]
    # Positions as rows (x, y[, z], 1), the last spatial axis (x) varying fastest.
    mesh = np.meshgrid(*[axis(c) for c in spatial], indexing="ij")
    rows = [m.reshape(-1) for m in reversed(mesh)] + [np.ones(int(np.prod(spatial)))]
    positions = np.stack(rows, axis=1).astype(numpy_dtype(n.dtype(theta)))
    grid = matmul_values(n, positions, n.op("transpose", theta, axes=[0, 2, 1]))
    return n.reshape(grid, [size[0], *spatial, k])


def _affine_grid_at_run_time(n: Node, theta: Value, size: Value) -> Value:
    """AffineGrid of a size read at run time: each spatial axis' coordinates from `counted`
    positions (a negative size is a located run-time error), the grid's rows (x, y[, z], 1)
    by broadcasting them, times theta with one nn.dense, then dyn.reshape to (size[0],
    *spatial, k), whose element count check refuses a batch other than theta's."""
    if n.shape(size) not in ((4,), (5,)) or DYNAMIC in n.shape(theta):
        raise n.error(f"size must be 1-D of length 4 or 5, not {list(n.shape(size))}")
    k = n.shape(size)[0] - 2
    if list(n.shape(theta))[1:] != [k, k + 1]:
        raise n.error(f"theta {list(n.shape(theta))} is not (N, {k}, {k + 1})")
    size = n.cast(size, "int64")
    align = bool(n.attr("align_corners", 0))
    one = n.scalar(1, "int64")
    coords = []
    for a in range(k):
        count = n.op("take", size, np.array(2 + a, np.int64))
        i = n.cast(runtime_axes.counted(n, count), "float64")
        if align:  # -1 + 2i / (count - 1), just -1 for one position
            steps = n.cast(n.op("maximum", n.op("subtract", count, one), one), "float64")
            c = n.op(
                "add",
                n.op("divide", n.op("multiply", i, n.scalar(2.0, i)), steps),
                n.scalar(-1.0, i),
            )
        else:  # pixel centres: (2i + 1) / count - 1
            odd = n.op("add", n.op("multiply", i, n.scalar(2.0, i)), n.scalar(1.0, i))
            c = n.op("subtract", n.op("divide", odd, n.cast(count, "float64")), n.scalar(1.0, i))
        coords.append(n.cast(c, n.dtype(theta)))
    # each coordinate broadcast over the grid (axis a of k), then the rows (x, y[, z], 1)
    grids = []
    for a, c in enumerate(coords):
        shaped = n.op("expand_dims", c, axis=1, num_newaxis=k - 1 - a) if a < k - 1 else c
        for b, other in enumerate(coords):
            if b != a:
                ones = n.op("ones_like", other)
                ones = (
                    n.op("expand_dims", ones, axis=1, num_newaxis=k - 1 - b) if b < k - 1 else ones
                )
                shaped = n.op("multiply", shaped, ones)
        grids.append(shaped)
    grids.append(n.op("ones_like", grids[0]))
    rows = n.reshape(n.op("stack", [*reversed(grids[:k]), grids[k]], axis=k), [-1, k + 1])
    batch = n.shape(theta)[0]
    out = n.op("nn.dense", rows, n.reshape(theta, [batch * k, k + 1]))  # (P, N * k)
    out = n.op("transpose", n.reshape(out, [-1, batch, k]), axes=[1, 0, 2])
    sizes = [n.op("take", size, np.array(a, np.int64)) for a in (0, *range(2, 2 + k))]
    shape = n.op(
        "concatenate", [*(n.reshape(v, [1]) for v in sizes), np.array([k], np.int64)], axis=0
    )
    return n.op("dyn.reshape", out, shape)


def _pool(n: Node, relay_op: str, **extra: object) -> Value:
    x = n.required(0)
    k = n.rank(x) - 2
    kernel = list(n.attr("kernel_shape"))
    strides = list(n.attr("strides", [1] * k))
    dilations = list(n.attr("dilations", [1] * k))
    ceil_mode = bool(n.attr("ceil_mode", 0))
    pads = spatial_pads(n, n.shape(x)[2:], kernel, strides, dilations)
    if k == 3:
        return _pool3d(n, x, relay_op, kernel, strides, pads, dilations, ceil_mode, extra)
    x2, lifted = _to_2d(n, x, n.op_type)
    attrs = dict(
        pool_size=_lift(kernel, 1),
        strides=_lift(strides, 1),
        padding=_lift_pads(pads),
        ceil_mode=ceil_mode,
        **extra,
    )
    attrs["dilation"] = _lift(dilations, 1)
    out = n.op(relay_op, x2, **attrs)
    return _from_2d(n, out, lifted)


def _pool3d(
    n: Node,
    x: Value,
    relay_op: str,
    kernel: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    ceil_mode: bool,
    extra: dict[str, object],
) -> Value:
    """A 3-d max or average pool as two 2-d ones: the (h, w) windows with the depth folded
    into the channels, then the depth windows with (h, w) flattened into one axis. Exact:
    the max of maxes is the max, and the average of averages is the average because the
    window's element count (with or without padding) is the product of its per-axis ones."""
    N, C, D, H, W = n.shape(x)

    def pool(v: Value, size: list[int], step: list[int], pad: list[int], dil: list[int]) -> Value:
        return n.op(
            relay_op,
            v,
            pool_size=size,
            strides=step,
            padding=pad,
            dilation=dil,
            ceil_mode=ceil_mode,
            **extra,
        )

    hw = pool(
        n.reshape(x, [N, C * D, H, W]),
        list(kernel[1:]),
        list(strides[1:]),
        [pads[1], pads[2], pads[4], pads[5]],
        list(dilations[1:]),
    )
    oh, ow = n.shape(hw)[2:]
    d = pool(
        n.reshape(hw, [N, C, D, oh * ow]),
        [kernel[0], 1],
        [strides[0], 1],
        [pads[0], 0, pads[3], 0],
        [dilations[0], 1],
    )
    return n.reshape(d, [N, C, n.shape(d)[2], oh, ow])


@converter("MaxPool")
def max_pool(n: Node) -> Sequence[Value]:
    out = _pool(n, "nn.max_pool2d")
    if n.num_outputs > 1 and n.proto.output[1]:
        return [out, _max_pool_indices(n, n.required(0), out)]
    return [out]


def _max_pool_indices(n: Node, x: Value, out: Value) -> Value:
    """MaxPool's Indices (2-d): where in x (flattened, rows first, or columns first with
    storage_order=1) each window's max is, its first place in window order as ONNX's
    reference takes it. Each window offset's values are compared with the max, from the
    last offset to the first, each match replacing the index."""
    if n.rank(x) != 4:
        raise n.unsupported(f"the Indices output of a {n.rank(x) - 2}-d MaxPool (2-d is supported)")
    N, C, H, W = n.shape(x)
    kernel = list(n.attr("kernel_shape"))
    strides = list(n.attr("strides", [1, 1]))
    dilations = list(n.attr("dilations", [1, 1]))
    pads = spatial_pads(n, [H, W], kernel, strides, dilations)
    oh, ow = n.shape(out)[2:]
    # Rows first: ((n*C + c)*H + h)*W + w; columns first: (n*C + c)*H*W + w*H + h.
    row_step, col_step = (1, H) if n.attr("storage_order", 0) else (W, 1)
    plane = np.arange(N * C, dtype=np.int64).reshape(N, C, 1, 1) * (H * W)
    rows = (np.arange(oh, dtype=np.int64) * strides[0] * row_step).reshape(1, 1, oh, 1)
    cols = (np.arange(ow, dtype=np.int64) * strides[1] * col_step).reshape(1, 1, 1, ow)
    base = plane + rows + cols  # (small: N*C*oh*ow indices)
    lowest = n.scalar(-np.inf, x) if n.dtype(x).startswith("float") else None
    if lowest is None:
        lowest = n.scalar(np.iinfo(numpy_dtype(n.dtype(x))).min, x)
    # Padded so that every window (ceil_mode's too) is whole; padding never equals a max.
    reach = [
        (o - 1) * s + (k - 1) * d + 1
        for o, s, k, d in zip((oh, ow), strides, kernel, dilations, strict=True)
    ]
    widths = [[0, 0], [0, 0]] + [
        [pads[a], max(0, reach[a] - size - pads[a])] for a, size in enumerate((H, W))
    ]
    padded = n.op("nn.pad", x, lowest, pad_width=widths)
    index: Value | None = None
    for i in reversed(range(kernel[0])):
        for j in reversed(range(kernel[1])):
            top, left = i * dilations[0], j * dilations[1]
            window = n.op(
                "strided_slice",
                padded,
                begin=[top, left],
                end=[top + (oh - 1) * strides[0] + 1, left + (ow - 1) * strides[1] + 1],
                strides=strides,
                axes=[2, 3],
            )
            offset = (top - pads[0]) * row_step + (left - pads[1]) * col_step
            here = base + offset
            index = (
                here if index is None else n.op("where", n.op("equal", window, out), here, index)
            )
    assert index is not None
    return index


@converter("AveragePool")
def avg_pool(n: Node) -> Value:
    return _pool(n, "nn.avg_pool2d", count_include_pad=bool(n.attr("count_include_pad", 0)))


@converter("GlobalAveragePool", "GlobalMaxPool")
def global_pool(n: Node) -> Value:
    x = n.required(0)
    if n.rank(x) == 4:
        return n.op(
            "nn.global_avg_pool2d" if n.op_type == "GlobalAveragePool" else "nn.global_max_pool2d",
            x,
        )
    axes = list(range(2, n.rank(x)))
    return n.op("mean" if n.op_type == "GlobalAveragePool" else "max", x, axis=axes, keepdims=True)


@converter("BatchNormalization")
def batch_norm(n: Node) -> Sequence[Value]:
    if n.opset < 9 and n.attr("is_test", 1) == 0:
        raise n.unsupported("training mode before opset 9 (is_test=0, with saved statistics)")
    training = bool(n.attr("training_mode", 0))
    if not training and n.num_outputs > 1 and any(n.proto.output[1:]):
        raise n.unsupported("the running mean/variance outputs outside training mode")
    x, scale, bias, running_mean, running_var = (n.required(i) for i in range(5))
    epsilon = float(n.attr("epsilon", 1e-5))
    if not training:
        out = n.op(
            "nn.batch_norm", x, scale, bias, running_mean, running_var, axis=1, epsilon=epsilon
        )
        return [n.tuple_get(out, 0)]
    # Training mode: normalize with the batch's statistics (the population variance over every
    # axis but the channel axis) and blend them into the running ones with `momentum`.
    axes = [0, *range(2, n.rank(x))]
    mean = n.op("mean", x, axis=axes)
    var = n.op("variance", x, n.op("mean", x, axis=axes, keepdims=True), axis=axes)
    out = n.tuple_get(n.op("nn.batch_norm", x, scale, bias, mean, var, axis=1, epsilon=epsilon), 0)
    momentum = float(n.attr("momentum", 0.9))

    def blend(running: Value, batch: Value) -> Value:
        kept = n.op("multiply", running, n.scalar(momentum, running))
        return n.op("add", kept, n.op("multiply", batch, n.scalar(1 - momentum, batch)))

    return [out, blend(running_mean, mean), blend(running_var, var)][: n.num_outputs]


def _normalized_operands(n: Node) -> tuple[Value, Value, Value]:
    """x, scale and bias of InstanceNormalization and GroupNormalization; x has a spatial axis."""
    x, scale, bias = n.required(0), n.required(1), n.required(2)
    if n.rank(x) < 3:
        raise n.error(
            f"input must have a spatial axis (rank 3 or more), got shape {list(n.shape(x))}"
        )
    return x, scale, bias


@converter("InstanceNormalization")
def instance_norm(n: Node) -> Value:
    x, scale, bias = _normalized_operands(n)
    return n.op("nn.instance_norm", x, scale, bias, axis=1, epsilon=float(n.attr("epsilon", 1e-5)))


@converter("GroupNormalization")
def group_norm(n: Node) -> Value:
    x, scale, bias = _normalized_operands(n)
    groups = n.attr("num_groups")
    if groups is None:
        raise n.error("the num_groups attribute is required")
    channels = n.shape(x)[1]
    if groups <= 0 or channels % groups:
        raise n.error(f"{channels} channels do not split into num_groups={groups} groups")
    if n.opset < 21:
        # Opset 18 gives scale and bias per group: each applies to the group's channels.
        scale, bias = (n.op("repeat", v, repeats=channels // groups, axis=0) for v in (scale, bias))
    # The statistics are computed in stash_type (float32 by default), as ONNX defines them.
    stash = relay_dtype_of(n.attr("stash_type", 1), n.where()) if n.opset >= 21 else n.dtype(x)
    y = n.op(
        "nn.group_norm",
        n.cast(x, stash),
        n.cast(scale, stash),
        n.cast(bias, stash),
        num_groups=int(groups),
        axis=1,
        epsilon=float(n.attr("epsilon", 1e-5)),
    )
    return n.cast(y, n.dtype(x))


@converter("MeanVarianceNormalization")
def mean_variance_normalization(n: Node) -> Value:
    """(x - mean) / sqrt(mean((x - mean)^2)) over `axes` (default: all but the channels)."""
    x = n.required(0)
    axes = sorted({n.axis(int(a), n.rank(x)) for a in n.attr("axes", [0, 2, 3])})
    centered = n.op("subtract", x, n.op("mean", x, axis=axes, keepdims=True))
    variance = n.op("mean", n.op("multiply", centered, centered), axis=axes, keepdims=True)
    return n.op("divide", centered, n.op("sqrt", variance))


@converter("LayerNormalization")
def layer_norm(n: Node) -> Sequence[Value]:
    x, scale, bias = n.required(0), n.required(1), n.input(2)
    rank = n.rank(x)
    axis = n.axis(n.attr("axis", -1), rank)
    eps = float(n.attr("epsilon", 1e-5))
    stats_wanted = n.num_outputs > 1 and any(n.proto.output[1:])
    if axis == rank - 1 and bias is not None and not stats_wanted:
        return [n.op("nn.layer_norm", x, scale, bias, axis=-1, epsilon=eps)]
    # The statistics are computed in stash_type (float32 by default), as ONNX defines them.
    stash = relay_dtype_of(n.attr("stash_type", 1), n.where())
    xs = n.cast(x, stash)
    axes = list(range(axis, rank))
    mean = n.op("mean", xs, axis=axes, keepdims=True)
    centered = n.op("subtract", xs, mean)
    var = n.op("mean", n.op("multiply", centered, centered), axis=axes, keepdims=True)
    inv_std = n.op("divide", n.scalar(1, xs), n.op("sqrt", n.op("add", var, n.scalar(eps, xs))))
    y = n.op("multiply", n.cast(n.op("multiply", centered, inv_std), n.dtype(x)), scale)
    y = y if bias is None else n.op("add", y, bias)
    return [y, mean, inv_std]


@converter("LRN")
def lrn(n: Node) -> Value:
    # y = x / (bias + alpha / size * sum of x^2 over `size` neighbouring channels) ^ beta; the
    # channel-window sum is an average pool (zero padding counted) on (N, 1, C, H*W), times size.
    x = n.required(0)
    size = int(n.attr("size"))
    alpha, beta, bias = n.attr("alpha", 1e-4), n.attr("beta", 0.75), n.attr("bias", 1.0)
    shape = n.shape(x)
    if len(shape) < 3:
        raise n.error(f"LRN needs an (N, C, ...) input, got rank {len(shape)}")
    square = n.reshape(n.op("multiply", x, x), [shape[0], 1, shape[1], int(np.prod(shape[2:]))])
    before = (size - 1) // 2
    window = n.op(
        "nn.avg_pool2d",
        square,
        pool_size=[size, 1],
        padding=[before, 0, size - 1 - before, 0],
        count_include_pad=True,
    )
    scaled = n.op(
        "add", n.op("multiply", n.reshape(window, shape), n.scalar(alpha, x)), n.scalar(bias, x)
    )
    return n.op("divide", x, n.op("power", scaled, n.scalar(beta, x)))


# -- linear algebra ---------------------------------------------------------------------------


@converter("Gemm")
def gemm(n: Node) -> Value:
    a, b = n.required(0), n.required(1)
    if n.attr("transA", 0):
        a = n.op("transpose", a, axes=[1, 0])
    if not n.attr("transB", 0):
        b = n.op("transpose", b, axes=[1, 0])
    out = n.op("nn.dense", a, b)
    if (alpha := n.attr("alpha", 1.0)) != 1.0:
        out = n.op("multiply", out, n.scalar(alpha, out))
    if (c := n.input(2)) is not None:
        if (beta := n.attr("beta", 1.0)) != 1.0:
            c = n.op("multiply", c, n.scalar(beta, c))
        out = n.op("add", out, c)
    return out


@converter("MatMul")
def matmul(n: Node) -> Value:
    return matmul_values(n, n.required(0), n.required(1))


def matmul_values(n: Node, a: Value, b: Value) -> Value:
    """numpy's matmul: 1-d operands promoted and dropped again, batch axes broadcast."""
    sa, sb = n.shape(a), n.shape(b)
    if DYNAMIC in sa or DYNAMIC in sb:
        return _matmul_of_run_time_sizes(n, a, b)
    if len(sa) == 1:
        a = n.reshape(a, [1, sa[0]])
    if len(sb) == 1:
        b = n.reshape(b, [sb[0], 1])
    ra, rb = n.shape(a), n.shape(b)
    if len(ra) == 2 and len(rb) == 2:
        out = n.op("nn.matmul", a, b)
    elif len(rb) == 2:
        # Batched times one matrix: fold the batch into the rows.
        flat = n.reshape(a, [int(np.prod(ra[:-1])), ra[-1]])
        out = n.reshape(n.op("nn.matmul", flat, b), [*ra[:-1], rb[-1]])
    else:
        batch = tuple(np.broadcast_shapes(ra[:-2], rb[:-2]))
        count = int(np.prod(batch))
        a3 = n.reshape(
            n.op("broadcast_to", a, shape=[*batch, *ra[-2:]]) if ra[:-2] != batch else a,
            [count, *ra[-2:]],
        )
        b3 = n.reshape(
            n.op("broadcast_to", b, shape=[*batch, *rb[-2:]]) if rb[:-2] != batch else b,
            [count, *rb[-2:]],
        )
        out = n.reshape(
            n.op("nn.batch_matmul", a3, b3, transpose_a=False, transpose_b=False),
            [*batch, ra[-2], rb[-1]],
        )
    shape = list(n.shape(out))
    if len(sa) == 1:
        shape.pop(-2)
    if len(sb) == 1:
        shape.pop(-1)
    return n.reshape(out, shape)


def _matmul_of_run_time_sizes(n: Node, a: Value, b: Value) -> Value:
    """matmul of operands with `?` dims (a symbolic batch or sequence length), built only
    from operators that keep every static size: the computed sizes of the static path would
    be numbers made of `?`. A 1-d operand gets and loses its unit axis by expand_dims and
    squeeze; a batched `a` times a matrix is nn.matmul itself; a matrix times a batched `b`
    is nn.matmul with the operands' roles swapped; two batched operands merge their batch
    axes (`reshape`'s -3 code), take nn.batch_matmul (which checks at run time that the
    batch counts agree) and get `a`'s batch axes back (`reshape_like`). Batch axes that
    would broadcast a 1 against a `?` are refused: only run time knows what they do."""
    sa, sb = n.shape(a), n.shape(b)
    if len(sa) == 1:
        a = n.op("expand_dims", a, axis=0)
    if len(sb) == 1:
        b = n.op("expand_dims", b, axis=1)
    ra, rb = n.shape(a), n.shape(b)
    if len(rb) == 2:
        out = n.op("nn.matmul", a, b)
    elif len(ra) == 2:  # a b = ((b^T) a^T)^T, each transpose of the last two axes
        out = _swap_last_two(n, n.op("nn.matmul", _swap_last_two(n, b), a, transpose_b=True))
    else:
        if len(ra) != len(rb) or any(
            x != y and (DYNAMIC not in (x, y) or 1 in (x, y))
            for x, y in zip(ra[:-2], rb[:-2], strict=True)
        ):
            raise n.unsupported(
                f"matmul of {show_shape(ra)} and {show_shape(rb)}: batch axes that broadcast "
                "with ? sizes"
            )
        out = n.op(
            "nn.batch_matmul",
            _batch_merged(n, a),
            _batch_merged(n, b),
            transpose_a=False,
            transpose_b=False,
        )
        if len(ra) > 3:
            out = n.op("reshape_like", out, a, lhs_begin=0, lhs_end=1, rhs_begin=0, rhs_end=-2)
    if len(sa) == 1:
        out = n.op("squeeze", out, axis=[n.rank(out) - 2])
    if len(sb) == 1:
        out = n.op("squeeze", out, axis=[n.rank(out) - 1])
    return out


def _swap_last_two(n: Node, x: Value) -> Value:
    rank = n.rank(x)
    return n.op("transpose", x, axes=[*range(rank - 2), rank - 1, rank - 2])


def _batch_merged(n: Node, x: Value) -> Value:
    """`x` [b0, ..., bk, m, k] as [b0 * ... * bk, m, k]."""
    while n.rank(x) > 3:
        x = n.op("reshape", x, newshape=[-3] + [0] * (n.rank(x) - 2))
    return x


# -- shapes and data movement -----------------------------------------------------------------


@converter("Shape")
def shape(n: Node) -> Value:
    x = n.required(0)
    dims = np.array(n.shape(x), dtype=np.int64)
    rank = len(dims)
    # ONNX clamps start and end to the rank, as Python's slices do.
    picked = range(rank)[slice(n.attr("start", 0), n.attr("end", rank))]
    begin, end = picked.start, max(picked.stop, picked.start)
    if (dims[begin:end] >= 0).all():
        return dims[begin:end]
    # A `?` dim: its size is read at run time (`shape_of`).
    sizes = n.op("shape_of", x, dtype="int64")
    if (begin, end) == (0, rank):
        return sizes
    return n.op("strided_slice", sizes, begin=[begin], end=[end], strides=[1])


@converter("Size")
def size(n: Node) -> Value:
    x = n.required(0)
    dims = n.shape(x)
    if any(d < 0 for d in dims):  # a `?` dim: the count is read at run time
        return n.op("ndarray_size", x, dtype="int64")
    return np.array(int(np.prod(dims)), dtype=np.int64)


@converter("Constant")
def constant(n: Node) -> Value:
    for key, dtype in (
        ("value_float", np.float32),
        ("value_floats", np.float32),
        ("value_int", np.int64),
        ("value_ints", np.int64),
    ):
        if n.has_attr(key):
            return np.array(n.attr(key), dtype=dtype)
    if n.has_attr("value"):
        value = n.attr("value")
        code = n.tensor_attr_dtype("value")
        if code in NARROW:
            n.narrow_outputs[0] = code
        relay_dtype_of(_onnx_type(value), n.where())
        return value
    raise n.unsupported("a Constant without a dense value (sparse or string values)")


def _onnx_type(array: np.ndarray) -> int:
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(array.dtype)


@converter("ConstantOfShape")
def constant_of_shape(n: Node) -> Value:
    value = n.attr("value")
    fill = np.zeros(1, np.float32) if value is None else value.reshape(-1)
    if not isinstance(n.required(0), np.ndarray) and n.shape(n.required(0)) != (-1,):
        # a shape computed at run time: the value broadcast to it (`?` dims)
        return n.op("dyn.broadcast_to", fill.reshape(()), n.cast(n.required(0), "int64"))
    dims = n.const_input(0, "shape")
    return np.full([int(d) for d in dims.reshape(-1)], fill[0], dtype=fill.dtype)  # pyright: ignore


@converter("Range")
def range_(n: Node) -> Value:
    if not all(isinstance(n.required(i), np.ndarray) for i in range(3)):
        return _range_at_run_time(n)
    start, limit, delta = (
        np.asarray(n.const_input(i, name)) for i, name in enumerate(("start", "limit", "delta"))
    )
    for name, v in zip(("start", "limit", "delta"), (start, limit, delta), strict=True):
        # Scalars by the spec; one-element tensors too, as onnxruntime takes them (ONNX's
        # own AffineGrid function passes a dim sliced out of a shape).
        if v.size != 1:
            raise n.error(f"{name} must be a scalar, got shape {v.shape}")
    start, limit, delta = (v.reshape(()) for v in (start, limit, delta))
    return np.arange(start, limit, delta).astype(start.dtype)


def _range_at_run_time(n: Node) -> Value:
    """Bounds computed at run time: Relay's arange, whose length its shape function reads
    from them (a `?` dim, docs/native-dynamic-shapes.md)."""
    scalars = []
    for i, name in enumerate(("start", "limit", "delta")):
        v = n.required(i)
        shape = n.shape(v)
        if DYNAMIC in shape or int(np.prod(shape)) != 1:
            raise n.error(f"{name} must be a scalar, got shape {show_shape(shape)}")
        scalars.append(n.reshape(v, []))
    return n.op("arange", *scalars, dtype=n.dtype(scalars[0]))


@converter("Reshape")
def reshape(n: Node) -> Value:
    x = n.required(0)
    in_shape = n.shape(x)
    allowzero = n.attr("allowzero", 0)
    if n.opset >= 5 and not isinstance(n.required(1), np.ndarray):
        return _reshape_at_run_time(n, x, n.required(1), bool(allowzero))
    target = n.attr("shape") if n.opset < 5 else n.const_input(1, "shape")
    target = [int(d) for d in np.asarray(target).reshape(-1)]
    if DYNAMIC in in_shape:  # (the sizes below would be computed from `?` as numbers)
        if allowzero and 0 in target:
            return _reshape_at_run_time(n, x, np.array(target, np.int64), True)
        return n.op("reshape", x, newshape=target)  # Relay's 0 and -1 are ONNX's
    out = [in_shape[i] if d == 0 and not allowzero else d for i, d in enumerate(target)]
    if out.count(-1) > 1:
        raise n.error(f"shape {target} has more than one -1")
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        total = int(np.prod(in_shape))
        if known == 0 or total % known:
            raise n.error(f"cannot reshape {tuple(in_shape)} to {target}")
        out[out.index(-1)] = total // known
    if int(np.prod(out)) != int(np.prod(in_shape)):
        raise n.error(
            f"cannot reshape {tuple(in_shape)} ({int(np.prod(in_shape))} elements) to {tuple(out)}"
        )
    if 0 in out:  # no elements, so nothing to compute (and Relay's reshape reads 0 as "keep")
        return np.zeros(out, dtype=numpy_dtype(n.dtype(x)))
    return n.reshape(x, out)


def _reshape_at_run_time(n: Node, x: Value, shape: Value, allowzero: bool) -> Value:
    """Reshape to a shape computed at run time: its 0 (keep) and -1 (infer) codes resolved
    with Relay arithmetic on the shape tensor, then `dyn.reshape` (`?` dims; the compiled
    code checks the element count and that no size is negative)."""
    if n.rank(shape) != 1 or DYNAMIC in n.shape(shape):
        raise n.error(f"the shape must be 1-D of static length, not {n.shape(shape)}")
    rank = n.shape(shape)[0]
    in_shape = n.shape(x)
    shape = n.cast(shape, "int64")
    dynamic = DYNAMIC in in_shape  # the data's sizes read at run time too
    if not allowzero:
        kept = np.array([in_shape[k] if k < len(in_shape) else 0 for k in range(rank)], np.int64)
        if dynamic:
            kept = _padded_shape_of(n, x, rank)
        shape = n.op("where", n.op("equal", shape, n.scalar(0, "int64")), kept, shape)
    infer = n.op("equal", shape, n.scalar(-1, "int64"))
    known = n.op("prod", n.op("where", infer, n.scalar(1, "int64"), shape))
    total = (
        n.op("ndarray_size", x, dtype="int64")
        if dynamic
        else n.scalar(int(np.prod(in_shape)), "int64")
    )
    # (max 1: a zero-size known part must not divide by zero; the count check reports it)
    inferred = n.op("floor_divide", total, n.op("maximum", known, n.scalar(1, "int64")))
    shape = n.op("where", infer, inferred, shape)
    return n.op("dyn.reshape", x, shape)


def _padded_shape_of(n: Node, x: Value, length: int) -> Value:
    """The data's run-time shape cut or padded with zeros to `length` entries: the sizes
    a Reshape's 0 codes keep (a 0 past the data's rank keeps 0, as the static path does)."""
    rank = n.rank(x)
    sizes = n.op("shape_of", x, dtype="int64")
    if length <= rank:
        return sizes if length == rank else n.op("strided_slice", sizes, begin=[0], end=[length])
    return n.op("concatenate", [sizes, np.zeros(length - rank, np.int64)], axis=0)


@converter("Flatten")
def flatten(n: Node) -> Value:
    x = n.required(0)
    shape = n.shape(x)
    axis = n.attr("axis", 1)
    axis = axis + len(shape) if axis < 0 else axis
    lead, rest = shape[:axis], shape[axis:]
    if any(d < 0 for d in shape):  # `?` dims: the unknown side is inferred (-1)
        if all(d >= 0 for d in rest):
            return n.reshape(x, [-1, int(np.prod(rest))])
        if all(d >= 0 for d in lead):
            return n.reshape(x, [int(np.prod(lead)), -1])
        # Both sides: their products read at run time (`shape_of`), then `dyn.reshape`.
        sizes = n.op("shape_of", x, dtype="int64")
        sides = [
            n.op("prod", n.op("strided_slice", sizes, begin=[b], end=[e]), axis=[0], keepdims=True)
            for b, e in ((0, axis), (axis, len(shape)))
        ]
        return n.op("dyn.reshape", x, n.op("concatenate", sides, axis=0))
    return n.reshape(x, [int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))])


@converter("Transpose")
def transpose(n: Node) -> Value:
    x = n.required(0)
    perm = n.attr("perm", list(reversed(range(n.rank(x)))))
    return n.op("transpose", x, axes=list(perm))


def _axes(n: Node, opset_with_input: int, index: int = 1) -> list[int] | Value | None:
    """The axes as a list, or their tensor when it is computed at run time (runtime_axes)."""
    if n.opset >= opset_with_input:
        if runtime_axes.is_run_time(n, n.input(index)):
            return n.required(index)
        axes = n.const_input(index, "axes")
        return None if axes is None else [int(a) for a in axes.reshape(-1)]
    axes = n.attr("axes")
    return None if axes is None else list(axes)


@converter("Squeeze")
def squeeze(n: Node) -> Value:
    x = n.required(0)
    shape = n.shape(x)
    axes = _axes(n, 13)
    if axes is not None and not isinstance(axes, list):  # the result has len(axes) dims less
        counts = runtime_axes.axis_counts(n, axes, len(shape))
        return runtime_axes.drop_named(n, x, counts, n.shape(axes)[0])
    drop = (
        {i for i, d in enumerate(shape) if d == 1}
        if axes is None
        else {n.axis(a, len(shape)) for a in axes}
    )
    kept = [i for i in range(len(shape)) if i not in drop]
    if any(shape[a] == DYNAMIC for a in drop):
        # A named `?` axis: dyn.reshape to the other sizes, whose element count check fails
        # when it is not 1 at run time; the static sizes stay static.
        sizes = n.op("take", n.op("shape_of", x, dtype="int64"), np.array(kept, np.int64))
        out = n.op("dyn.reshape", x, sizes)
        static = [shape[i] for i in kept]
        if all(d == DYNAMIC for d in static):
            return out
        return n.op("reshape", out, newshape=[0 if d == DYNAMIC else d for d in static])
    for a in drop:
        if shape[a] != 1:
            raise n.error(f"cannot squeeze axis {a} of size {shape[a]}")
    if axes is None and DYNAMIC in shape:
        # Without axes a `?` dim is kept, as if it were not 1 at run time (ONNX's shape
        # inference cannot squeeze it either); the static dims of 1 go.
        return n.op("squeeze", x, axis=sorted(drop)) if drop else x
    return n.reshape(x, [shape[i] for i in kept])


@converter("Unsqueeze")
def unsqueeze(n: Node) -> Value:
    x = n.required(0)
    axes = _axes(n, 13)
    if axes is None:
        raise n.error("axes are required")
    if not isinstance(axes, list):
        return runtime_axes.unsqueezed(n, x, axes)
    shape = list(n.shape(x))
    rank = len(shape) + len(axes)
    if DYNAMIC in shape:  # (reshape needs every size; expand_dims keeps the `?` ones)
        for a in sorted(n.axis(a, rank) for a in axes):
            x = n.op("expand_dims", x, axis=a)
        return x
    for a in sorted(n.axis(a, rank) for a in axes):
        shape.insert(a, 1)
    return n.reshape(x, shape)


@converter("Concat")
def concat(n: Node) -> Value:
    args = [v for v in n.inputs if v is not None]
    axis = n.axis(n.attr("axis", 1 if n.opset < 4 else 0), n.rank(args[0]))
    if len(args) == 1:
        return args[0]
    return n.op("concatenate", args, axis=axis)


def _slice(n: Node, x: Value, axis: int, start: int, stop: int, step: int = 1) -> Value:
    if DYNAMIC in n.shape(x):  # the other axes whole, whatever their run-time sizes
        return n.op("strided_slice", x, begin=[start], end=[stop], strides=[step], axes=[axis])
    rank = n.rank(x)
    begin, end, strides = [0] * rank, list(n.shape(x)), [1] * rank
    begin[axis], end[axis], strides[axis] = start, stop, step
    return n.op("strided_slice", x, begin=begin, end=end, strides=strides)


@converter("Split")
def split(n: Node) -> Sequence[Value]:
    x = n.required(0)
    shape = n.shape(x)
    axis = n.axis(n.attr("axis", 0), len(shape))
    given = n.input(1) if n.opset >= 13 else None
    if given is not None and not isinstance(given, np.ndarray):
        return runtime_axes.split_sizes(n, x, axis, given)
    if given is not None:
        sizes = [int(s) for s in given.reshape(-1)]
    elif n.opset < 13 and n.has_attr("split"):
        sizes = list(n.attr("split"))
    else:
        parts = n.attr("num_outputs", n.num_outputs)
        if shape[axis] == DYNAMIC:
            return runtime_axes.split_parts(n, x, axis, parts)
        chunk = -(-shape[axis] // parts)
        sizes = [min(chunk, shape[axis] - i * chunk) for i in range(parts)]
    if sum(sizes) != shape[axis]:
        raise n.error(f"split sizes {sizes} do not add up to the axis length {shape[axis]}")
    outs, start = [], 0
    for s in sizes:
        outs.append(_slice(n, x, axis, start, start + s))
        start += s
    return outs


@converter("Slice")
def slice_(n: Node) -> Value:
    x = n.required(0)
    shape = n.shape(x)
    if n.opset < 10:
        starts, ends = list(n.attr("starts")), list(n.attr("ends"))
        axes = list(n.attr("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        if any(runtime_axes.is_run_time(n, n.input(i)) for i in (3, 4)):
            return _slice_by_run_time_axes(n, x)
        if not all(isinstance(n.required(i), np.ndarray) for i in (1, 2)):
            return _slice_at_run_time(n, x)
        starts = [int(v) for v in n.const_input(1, "starts").reshape(-1)]  # pyright: ignore
        ends = [int(v) for v in n.const_input(2, "ends").reshape(-1)]  # pyright: ignore
        ax = n.const_input(3, "axes")
        axes = list(range(len(starts))) if ax is None else [int(v) for v in ax.reshape(-1)]
        st = n.const_input(4, "steps")
        steps = [1] * len(starts) if st is None else [int(v) for v in st.reshape(-1)]
        if any(shape[n.axis(a, len(shape))] == DYNAMIC for a in axes):
            # constant bounds on a `?` axis: ONNX's clamping needs its run-time size
            return _slice_at_run_time(n, x)
    out = x
    per_axis(n, len(starts), ends=ends, axes=axes, steps=steps)
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis = n.axis(axis, len(shape))
        if step == 0:
            raise n.error("slice step 0")
        # Python's slice clamping is ONNX's: normalize, then pick the indices.
        indices = range(shape[axis])[slice(start, end, step)]
        if step > 0:
            out = _slice(n, out, axis, indices.start, max(indices.stop, indices.start), step)
        else:
            out = n.op("take", out, np.array(list(indices), dtype=np.int64), axis=axis)
    return out


def _slice_by_run_time_axes(n: Node, x: Value) -> Value:
    starts = n.required(1)
    count = n.shape(starts)[0] if n.rank(starts) == 1 else -1
    if count < 0 or DYNAMIC in n.shape(starts):
        raise n.error(f"starts must be 1-D of static length, not {n.shape(starts)}")
    axes = n.input(3)
    if axes is None:
        axes = np.arange(count, dtype=np.int64)
    steps = n.input(4)
    if steps is None:
        steps = np.ones(count, np.int64)
    return runtime_axes.sliced(n, x, starts, n.required(2), axes, steps)


def _slice_at_run_time(n: Node, x: Value) -> Value:
    """Slice with starts or ends computed at run time: ONNX's clamping done with Relay
    arithmetic on them, then `dyn.strided_slice` (`?` dims). Axes and steps are constants
    here; a step that is not positive or data with `?` dims gather instead (runtime_axes)."""
    shape = n.shape(x)
    starts, ends = n.required(1), n.required(2)
    count = n.shape(starts)[0] if n.rank(starts) == 1 else -1
    if count < 0 or n.shape(ends) != (count,):
        for i, what in ((1, "starts"), (2, "ends")):
            n.const_input(i, what)  # (raises for the one computed at run time)
        raise n.error("starts and ends must be 1-D of the same static length")
    ax = n.const_input(3, "axes")
    axes = (
        list(range(count)) if ax is None else [n.axis(int(v), len(shape)) for v in ax.reshape(-1)]
    )
    st = n.const_input(4, "steps")
    steps = [1] * count if st is None else [int(v) for v in st.reshape(-1)]
    if len(axes) != count or len(steps) != count or len(set(axes)) != count:
        raise n.error(f"starts, ends, axes and steps must be {count} distinct axes")
    if DYNAMIC in shape or any(step < 1 for step in steps):
        return _slice_by_run_time_axes(n, x)
    dims = np.array([shape[a] for a in axes], np.int64)
    zero = n.scalar(0, "int64")

    def clamped(v: Value) -> Value:  # ONNX: negative counts from the end, then clamp to [0, dim]
        v = n.cast(v, "int64")
        v = n.op("where", n.op("less", v, zero), n.op("add", v, dims), v)
        return n.op("minimum", n.op("maximum", v, zero), dims)

    begin, end = clamped(starts), clamped(ends)
    step = np.array(steps, np.int64)
    size = n.op("floor_divide", n.op("add", n.op("subtract", end, begin), step - 1), step)
    size = n.op("maximum", size, zero)
    # Full rank: an axis not sliced begins at 0 and keeps its size.
    position = {a: k for k, a in enumerate(axes)}
    rank = len(shape)
    pick = np.array([position.get(k, count + k) for k in range(rank)], np.int64)
    begin = n.op("take", n.op("concatenate", [begin, np.zeros(rank, np.int64)]), pick)
    size = n.op("take", n.op("concatenate", [size, np.array(shape, np.int64)]), pick)
    strides = [steps[position[k]] if k in position else 1 for k in range(rank)]
    return n.op("dyn.strided_slice", x, begin, size, strides=strides)


@converter("Gather")
def gather(n: Node) -> Value:
    x, idx = n.required(0), n.required(1)
    axis = n.axis(n.attr("axis", 0), n.rank(x))
    dim = n.shape(x)[axis]
    if isinstance(idx, np.ndarray):
        if ((idx < -dim) | (idx >= dim)).any():
            raise n.error(f"index out of range for an axis of length {dim}")
        idx = np.where(idx < 0, idx + dim, idx)
    else:
        idx = n.op(
            "where", n.op("less", idx, n.scalar(0, idx)), n.op("add", idx, n.scalar(dim, idx)), idx
        )
    return n.op("take", x, idx, axis=axis)


@converter("Expand")
def expand(n: Node) -> Value:
    x = n.required(0)
    shape = n.required(1)
    if not isinstance(shape, np.ndarray) and n.rank(shape) == 1 and DYNAMIC not in n.shape(shape):
        return _expand_at_run_time(n, x, shape)
    target = [int(d) for d in n.const_input(1, "shape").reshape(-1)]  # pyright: ignore
    try:
        out = list(np.broadcast_shapes(n.shape(x), tuple(target)))
    except ValueError:
        raise n.error(f"cannot expand {n.shape(x)} to {tuple(target)}") from None
    return x if list(n.shape(x)) == out else n.op("broadcast_to", x, shape=out)


def _expand_at_run_time(n: Node, x: Value, shape: Value) -> Value:
    """Expand to a shape computed at run time: numpy's broadcast of the data's shape (its `?`
    sizes read at run time) and it (a 1 in it keeps the data's dim), then `dyn.broadcast_to`,
    which checks the rest."""
    in_shape = n.shape(x)
    rank = max(len(in_shape), n.shape(shape)[0])
    shape = n.cast(shape, "int64")
    if n.shape(shape)[0] < rank:
        ones = np.ones(rank - n.shape(shape)[0], np.int64)
        shape = n.op("concatenate", [ones, shape], axis=0)
    padded: Value = np.array([1] * (rank - len(in_shape)) + list(in_shape), np.int64)
    if DYNAMIC in in_shape:
        sizes = n.op("shape_of", x, dtype="int64")
        ones = np.ones(rank - len(in_shape), np.int64)
        padded = n.op("concatenate", [ones, sizes], axis=0) if len(ones) else sizes
    out = n.op("where", n.op("equal", shape, n.scalar(1, "int64")), padded, shape)
    y = n.op("dyn.broadcast_to", x, out)
    # Sizes known while importing (a constant part of the shape: Concat(N, [2, 3]), or a 1
    # facing a static dim) stay static: a reshape keeps the `?` ones (code 0) and names them.
    target = known_elements(shape)
    data = [1] * (rank - len(in_shape)) + list(in_shape)
    static = [
        t if t is not None and t != 1 else d if t == 1 and d != DYNAMIC else None
        for t, d in zip(target, data, strict=True)
    ]
    if all(s is None for s in static):
        return y
    return n.op("reshape", y, newshape=[0 if s is None else s for s in static])


def known_elements(v: Value) -> list[int | None]:
    """The elements of a 1-d integer tensor of static length, computed at run time, that are
    known while importing (None for the others): a constant's, and a concatenation's or an
    integer cast's from their operands'."""
    from xdsl.dialects.builtin import IntegerType

    from relay_opt.dialects.relay.constants import numpy_from_dense
    from relay_opt.dialects.relay.core import ConstantOp, TupleOp
    from relay_opt.dialects.relay.ops.elementwise import Cast
    from relay_opt.dialects.relay.ops.transform import Concatenate

    if isinstance(v, np.ndarray):
        return [int(e) for e in v.reshape(-1)]
    (length,) = v.type.get_shape()  # pyright: ignore[reportAttributeAccessIssue]
    owner = v.owner
    known: list[int | None] = [None] * length
    if isinstance(owner, ConstantOp):
        with contextlib.suppress(Exception):  # a weight's dense_resource: not read here
            known = [int(e) for e in numpy_from_dense(owner.value).reshape(-1)]  # pyright: ignore
    elif isinstance(owner, Cast) and isinstance(owner.operands[0].type.element_type, IntegerType):  # pyright: ignore
        known = known_elements(owner.operands[0])
    elif isinstance(owner, Concatenate) and isinstance(owner.operands[0].owner, TupleOp):
        known = [e for f in owner.operands[0].owner.fields for e in known_elements(f)]
    return known if len(known) == length else [None] * length


@converter("Tile")
def tile(n: Node) -> Value:
    repeats = n.required(1)
    if not isinstance(repeats, np.ndarray) and n.shape(repeats) == (n.rank(n.required(0)),):
        # repetitions computed at run time: the sizes are read from them (`?` dims)
        return n.op("dyn.tile", n.required(0), n.cast(repeats, "int64"))
    reps = [int(r) for r in n.const_input(1, "repeats").reshape(-1)]  # pyright: ignore
    return n.op("tile", n.required(0), reps=reps)


@converter("Pad")
def pad(n: Node) -> Value:
    x = n.required(0)
    rank = n.rank(x)
    mode = n.attr("mode", "constant")
    if mode not in ("constant", "edge", "reflect", "wrap"):
        raise n.unsupported(f"mode '{mode}'")
    if n.opset < 11:
        pads: Value = np.array(n.attr("pads", n.attr("paddings", [])), np.int64)
        value: Value = n.scalar(n.attr("value", 0.0), x)
    else:
        pads = n.required(1)
        v = n.input(2)
        value = n.scalar(0, x) if v is None else n.reshape(v, [])
    ax = n.input(3) if n.opset >= 18 else None
    if ax is not None and not isinstance(ax, np.ndarray):
        pads = _pads_of_run_time_axes(n, x, n.cast(pads, "int64"), ax)
        ax = None
    axes = list(range(rank)) if ax is None else [n.axis(int(a), rank) for a in ax.reshape(-1)]
    if len(set(axes)) != len(axes):
        raise n.error(f"axes {axes} repeat an axis")
    if n.shape(pads) != (2 * len(axes),):
        raise n.error(f"pads has shape {list(n.shape(pads))}, expected [{2 * len(axes)}]")
    if not isinstance(pads, np.ndarray) or mode == "wrap" or (pads < 0).any():
        return _pad_by_gathers(n, x, n.cast(pads, "int64"), value, mode, axes)
    widths = [[0, 0] for _ in range(rank)]
    for i, a in enumerate(axes):
        widths[a] = [int(pads[i]), int(pads[len(axes) + i])]
    return n.op("nn.pad", x, value, pad_width=widths, pad_mode=mode)


def _pads_of_run_time_axes(n: Node, x: Value, pads: Value, axes: Value) -> Value:
    """Pads for every axis from pads for `axes` read at run time: axis a's pad is the sum of
    those whose (negative-counting) axis is a, 0 when none is. Not checked at run time (there
    is no Relay operator for it yet): repeated axes add up, an axis out of range pads nothing."""
    rank = n.rank(x)
    if n.rank(axes) != 1 or DYNAMIC in n.shape(axes) or n.shape(pads) != (2 * n.shape(axes)[0],):
        raise n.error(
            f"axes {list(n.shape(axes))} and pads {list(n.shape(pads))} must be 1-D, with "
            "two pads per axis"
        )
    count = n.shape(axes)[0]
    axes = n.cast(axes, "int64")
    axes = n.op(
        "where",
        n.op("less", axes, n.scalar(0, "int64")),
        n.op("add", axes, n.scalar(rank, "int64")),
        axes,
    )
    # [rank, count]: entry (a, i) is pad i's when axes[i] == a
    hits = n.cast(n.op("equal", np.arange(rank, dtype=np.int64).reshape(rank, 1), axes), "int64")
    halves = n.reshape(pads, [2, 1, count])
    return n.reshape(n.op("sum", n.op("multiply", halves, hits), axis=[2]), [2 * rank])


def _pad_by_gathers(
    n: Node, x: Value, pads: Value, value: Value, mode: str, axes: list[int]
) -> Value:
    """Pad with pads read at run time (or by wrapping, which nn.pad lacks): one gather per
    axis, at source position i - before for each output position i < before + size + after
    (`?` when the pads are run-time values). Edge clamps the position, wrap takes it modulo
    the size, reflect folds it into [0, size); constant clamps and then selects the value
    outside the axis. A negative pad removes elements, as ONNX's spec says."""
    shape = n.shape(x)
    if DYNAMIC in shape:
        raise n.unsupported("run-time pads of data with ? dims")
    zero = n.scalar(0, "int64")
    out = x
    for k, a in enumerate(axes):
        size = shape[a]
        if size == 0:
            raise n.unsupported(f"run-time pads of the empty axis {a}")
        before = n.op("take", pads, np.array(k, np.int64))
        after = n.op("take", pads, np.array(len(axes) + k, np.int64))
        length = n.op("add", n.op("add", before, after), n.scalar(size, "int64"))
        i = n.op(
            "subtract", n.op("arange", zero, length, n.scalar(1, "int64"), dtype="int64"), before
        )
        if mode == "reflect" and size > 1:
            period = n.scalar(2 * (size - 1), "int64")
            m = n.op("mod", n.op("add", n.op("mod", i, period), period), period)
            last = n.scalar(size - 1, "int64")
            i = n.op("subtract", last, n.op("abs", n.op("subtract", m, last)))
        out = n.op("take", out, i, axis=a, mode="wrap" if mode == "wrap" else "clip")
        if mode == "constant":
            inside = n.op(
                "logical_and",
                n.op("greater_equal", i, zero),
                n.op("less", i, n.scalar(size, "int64")),
            )
            if a < len(shape) - 1:
                inside = n.op("expand_dims", inside, axis=1, num_newaxis=len(shape) - 1 - a)
            out = n.op("where", inside, out, value)
    return out


@converter("DepthToSpace", "SpaceToDepth")
def depth_space(n: Node) -> Value:
    x = n.required(0)
    b = int(n.attr("blocksize"))
    N, C, H, W = n.shape(x)
    if n.op_type == "SpaceToDepth":
        t = n.reshape(x, [N, C, H // b, b, W // b, b])
        crd = n.attr("mode", "DCR") == "CRD"  # (opset 28) channel-major instead of block-major
        t = n.op("transpose", t, axes=[0, 1, 3, 5, 2, 4] if crd else [0, 3, 5, 1, 2, 4])
        return n.reshape(t, [N, C * b * b, H // b, W // b])
    if n.attr("mode", "DCR") == "DCR":
        t = n.op("transpose", n.reshape(x, [N, b, b, C // (b * b), H, W]), axes=[0, 3, 4, 1, 5, 2])
    else:
        t = n.op("transpose", n.reshape(x, [N, C // (b * b), b, b, H, W]), axes=[0, 1, 4, 2, 5, 3])
    return n.reshape(t, [N, C // (b * b), H * b, W * b])


# -- reductions -------------------------------------------------------------------------------


def _reduce_axes(n: Node, x: Value) -> list[int] | Value | None:
    """The reduced axes; None for all of them, [] for none (noop_with_empty_axes), their
    tensor when it is computed at run time (of static length, not 0)."""
    with_input = 13 if n.op_type == "ReduceSum" else 18
    axes = _axes(n, with_input)
    if axes is not None and not isinstance(axes, list) and n.shape(axes)[0] == 0:
        axes = []  # known empty: no axis named, whatever the values
    if axes is None or (isinstance(axes, list) and not axes):
        return [] if n.attr("noop_with_empty_axes", 0) else None
    if not isinstance(axes, list):
        return axes
    return sorted(n.axis(a, n.rank(x)) for a in axes)


def _reduce(n: Node, relay_op: str, x: Value, keepdims: bool | None = None) -> Value:
    axes = _reduce_axes(n, x)
    keep = bool(n.attr("keepdims", 1)) if keepdims is None else keepdims
    if axes == []:
        return x
    if axes is None or isinstance(axes, list):
        return n.op(relay_op, x, axis=axes, keepdims=keep)
    counts = runtime_axes.axis_counts(n, axes, n.rank(x))
    out = runtime_axes.reduce_kept(n, relay_op, x, counts)
    return out if keep else runtime_axes.drop_named(n, out, counts, n.shape(axes)[0])


def _drop_reduced(n: Node, out: Value, x: Value) -> Value:
    """A keepdims=True reduction's result without the reduced axes when keepdims=0."""
    if n.attr("keepdims", 1):
        return out
    axes = _reduce_axes(n, x)
    if axes is None or isinstance(axes, list):
        return n.reshape(
            out, [d for i, d in enumerate(n.shape(out)) if i not in (axes or range(n.rank(x)))]
        )
    counts = runtime_axes.axis_counts(n, axes, n.rank(x))
    return runtime_axes.drop_named(n, out, counts, n.shape(axes)[0])


_REDUCE = {
    "ReduceSum": "sum",
    "ReduceMean": "mean",
    "ReduceMax": "max",
    "ReduceMin": "min",
    "ReduceProd": "prod",
}


@converter(*_REDUCE)
def reduce(n: Node) -> Value:
    return _reduce(n, _REDUCE[n.op_type], n.required(0))


@converter("ReduceSumSquare", "ReduceL2", "ReduceL1", "ReduceLogSum", "ReduceLogSumExp")
def reduce_composite(n: Node) -> Value:
    x = n.required(0)
    if n.op_type == "ReduceL1":
        return _reduce(n, "sum", n.op("abs", x))
    if n.op_type == "ReduceLogSum":
        return n.op("log", _reduce(n, "sum", x))
    if n.op_type == "ReduceLogSumExp":
        if _reduce_axes(n, x) == []:
            return x
        top = _reduce(n, "max", x, keepdims=True)
        total = _reduce(n, "sum", n.op("exp", n.op("subtract", x, top)), keepdims=True)
        return _drop_reduced(n, n.op("add", n.op("log", total), top), x)
    total = _reduce(n, "sum", n.op("multiply", x, x))
    return n.op("sqrt", total) if n.op_type == "ReduceL2" else total


@converter("ArgMax", "ArgMin")
def arg_reduce(n: Node) -> Value:
    x = n.required(0)
    out = n.op(
        "argmax" if n.op_type == "ArgMax" else "argmin",
        x,
        axis=[n.axis(n.attr("axis", 0), n.rank(x))],
        keepdims=bool(n.attr("keepdims", 1)),
        select_last_index=bool(n.attr("select_last_index", 0)),
    )
    return n.cast(out, "int64")


# -- more shapes and indexing -----------------------------------------------------------------


@converter("GatherElements")
def gather_elements(n: Node) -> Value:
    # out[i, j, k] = x[i, idx[i, j, k], k] (axis 1) is a gather from the flat x at
    # idx * stride(axis) + (the flat offset of the other coordinates), known at import.
    x, idx = n.required(0), n.required(1)
    shape, ishape = n.shape(x), n.shape(idx)
    axis = n.axis(n.attr("axis", 0), len(shape))
    if DYNAMIC in (*shape, *ishape):
        return _gather_elements_sized_at_run_time(n, x, idx, axis)
    strides = [int(np.prod(shape[k + 1 :])) for k in range(len(shape))]
    grids = np.indices(ishape, dtype=np.int64) if ishape else np.zeros((0,), np.int64)
    offset = sum(
        (grids[k] * strides[k] for k in range(len(shape)) if k != axis), np.zeros(ishape, np.int64)
    )
    dim = shape[axis]
    idx = n.cast(idx, "int64")
    idx = n.op(
        "where", n.op("less", idx, n.scalar(0, idx)), n.op("add", idx, n.scalar(dim, idx)), idx
    )
    flat = n.op("add", n.op("multiply", idx, n.scalar(strides[axis], idx)), offset)
    return n.op("take", n.reshape(x, [int(np.prod(shape))]), flat, axis=0)


def _gather_elements_sized_at_run_time(n: Node, x: Value, idx: Value, axis: int) -> Value:
    """GatherElements with `?` dims: the same flat gather, its strides and the index grids
    built from the sizes read at run time (`arange` per axis of the indices)."""
    rank = n.rank(x)
    if n.rank(idx) != rank:
        raise n.error(f"the indices' rank {n.rank(idx)} is not the data's ({rank})")
    i64 = "int64"

    def sizes(v: Value) -> list[Value]:
        read = n.op("shape_of", v, dtype=i64)
        return [
            n.op("take", read, np.array(k, np.int64)) if d == DYNAMIC else np.array(d, np.int64)
            for k, d in enumerate(n.shape(v))
        ]

    dims, idims = sizes(x), sizes(idx)
    strides: list[Value] = [np.array(1, np.int64)]
    for d in reversed(dims[1:]):
        strides.insert(0, n.op("multiply", strides[0], d))
    zero, one = n.scalar(0, i64), n.scalar(1, i64)
    idx = n.cast(idx, i64)
    idx = n.op("where", n.op("less", idx, zero), n.op("add", idx, dims[axis]), idx)
    flat = n.op("multiply", idx, strides[axis])
    for k in range(rank):
        if k == axis:
            continue
        grid = n.op("arange", zero, idims[k], one, dtype=i64)
        if k < rank - 1:
            grid = n.op("expand_dims", grid, axis=1, num_newaxis=rank - 1 - k)
        flat = n.op("add", flat, n.op("multiply", grid, strides[k]))
    return n.op("take", n.reshape(x, [-1]), flat, axis=0)


@converter("Trilu")
def trilu(n: Node) -> Value:
    x = n.required(0)
    if n.rank(x) < 2:
        raise n.error(f"Trilu takes (..., N, M) matrices, got {list(n.shape(x))}")
    rows, cols = n.shape(x)[-2:]
    if DYNAMIC in (rows, cols):
        raise n.unsupported("a matrix with ? dims")
    upper = n.attr("upper", 1) != 0
    k = n.input(1)
    if k is None or isinstance(k, np.ndarray):
        k = 0 if k is None else int(np.asarray(k).reshape(-1)[0])
        keep = np.ones((rows, cols), bool)
        keep = np.triu(keep, k) if upper else np.tril(keep, k)
        return n.op("where", keep, x, n.scalar(0, x))
    # k read at run time: element (i, j) is kept when j - i >= k (upper) or <= k (lower).
    if n.shape(k) not in ((), (1,)):
        raise n.error(f"k must hold one value, got shape {list(n.shape(k))}")
    offset = np.arange(cols, dtype=np.int64)[None, :] - np.arange(rows, dtype=np.int64)[:, None]
    k = n.reshape(n.cast(k, "int64"), [])
    keep = n.op("greater_equal" if upper else "less_equal", offset, k)
    return n.op("where", keep, x, n.scalar(0, x))


@converter("OneHot")
def one_hot(n: Node) -> Value:
    """A depth read at run time gives the new axis a `?` size (a negative one is a located
    run-time error)."""
    indices, values = n.required(0), n.required(2)
    depth = runtime_axes.run_time_scalar(n, n.required(1), "depth")
    rank = n.rank(indices) + 1
    axis = n.axis(n.attr("axis", -1), rank)
    idx = n.cast(indices, "int64")
    idx = n.op("where", n.op("less", idx, n.scalar(0, idx)), n.op("add", idx, depth), idx)
    shape = [1] * rank
    shape[axis] = -1
    positions = n.reshape(runtime_axes.counted(n, depth), shape)
    expanded = n.reshape(idx, [*n.shape(idx)[:axis], 1, *n.shape(idx)[axis:]])
    hot = n.op("equal", expanded, positions)
    off = n.reshape(n.op("strided_slice", values, begin=[0], end=[1], strides=[1]), [])
    on = n.reshape(n.op("strided_slice", values, begin=[1], end=[2], strides=[1]), [])
    return n.op("where", hot, on, off)


@converter("Hardmax")
def hardmax(n: Node) -> Value:
    x = n.required(0)
    shape = n.shape(x)
    if n.opset < 13:
        axis = n.axis(n.attr("axis", 1), len(shape))
        flat = n.reshape(x, [int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))])
        return n.reshape(_hardmax(n, flat, 1), shape)
    return _hardmax(n, x, n.axis(n.attr("axis", -1), len(shape)))


def _hardmax(n: Node, x: Value, axis: int) -> Value:
    first = n.cast(n.op("argmax", x, axis=[axis], keepdims=True), "int64")
    shape = [1] * n.rank(x)
    shape[axis] = n.shape(x)[axis]
    hot = n.op("equal", first, np.arange(shape[axis], dtype=np.int64).reshape(shape))
    return n.op("where", hot, n.scalar(1, x), n.scalar(0, x))


@converter("IsInf")
def isinf(n: Node) -> Value:
    x = n.required(0)
    pos = n.op("equal", x, n.scalar(np.inf, x))
    neg = n.op("equal", x, n.scalar(-np.inf, x))
    if not n.attr("detect_negative", 1):
        return pos
    if not n.attr("detect_positive", 1):
        return neg
    return n.op("logical_or", pos, neg)


@converter("LpNormalization")
def lp_normalization(n: Node) -> Value:
    x = n.required(0)
    axis = n.axis(n.attr("axis", -1), n.rank(x))
    p = n.attr("p", 2)
    if p == 1:
        norm = n.op("sum", n.op("abs", x), axis=[axis], keepdims=True)
    elif p == 2:
        norm = n.op("sqrt", n.op("sum", n.op("multiply", x, x), axis=[axis], keepdims=True))
    else:
        raise n.error(f"p must be 1 or 2, got {p}")
    zero = n.scalar(0, x)
    return n.op("where", n.op("equal", norm, zero), zero, n.op("divide", x, norm))


@converter("RMSNormalization")
def rms_normalization(n: Node) -> Value:
    x, scale = n.required(0), n.required(1)
    rank = n.rank(x)
    axes = list(range(n.axis(n.attr("axis", -1), rank), rank))
    eps = float(n.attr("epsilon", 1e-5))
    stash = relay_dtype_of(n.attr("stash_type", 1), n.where())
    xs = n.cast(x, stash)
    mean_square = n.op("mean", n.op("multiply", xs, xs), axis=axes, keepdims=True)
    y = n.op("divide", xs, n.op("sqrt", n.op("add", mean_square, n.scalar(eps, xs))))
    return n.op("multiply", n.cast(y, n.dtype(x)), scale)


# -- resize -----------------------------------------------------------------------------------


_COORDINATE_MODES = ("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel")


@converter("Resize", "Upsample")
def resize(n: Node) -> Value:
    x = n.required(0)
    shape = n.shape(x)
    mode = n.attr("mode", "nearest")
    axes: list[int] | None = None
    aspect = "stretch"
    if n.op_type == "Upsample":
        scales = n.attr("scales") if n.opset < 9 else n.required(1)
        coordinate, nearest = "asymmetric", "floor"
        sizes = None
    else:
        if n.opset < 11:
            scales, sizes = n.required(1), None
            coordinate = "asymmetric"
        else:
            scales, sizes = n.input(2), n.input(3)
            coordinate = n.attr("coordinate_transformation_mode", "half_pixel")
        nearest = n.attr("nearest_mode", "round_prefer_floor")
        aspect = n.attr("keep_aspect_ratio_policy", "stretch")
        if aspect not in ("stretch", "not_larger", "not_smaller"):
            raise n.error(f"keep_aspect_ratio_policy '{aspect}' is not one of ONNX's")
        if (given := n.attr("axes")) is not None:
            axes = [n.axis(int(a), len(shape)) for a in given]
    if mode not in ("nearest", "linear", "bilinear", "cubic"):
        raise n.unsupported(f"mode '{mode}'")
    if coordinate not in (*_COORDINATE_MODES, "half_pixel_symmetric", "tf_crop_and_resize"):
        raise n.unsupported(f"coordinate_transformation_mode '{coordinate}'")
    # An empty scales or sizes stands for an absent one.
    scales = None if scales is None or 0 in n.shape(scales) else scales
    sizes = None if sizes is None or 0 in n.shape(sizes) else sizes
    if scales is None and sizes is None:
        raise n.error("needs scales or sizes")
    if isinstance(scales, list | tuple):
        scales = np.array(scales, np.float32)
    aspect = aspect if sizes is not None else "stretch"  # (it only applies to sizes)
    roi = n.input(1) if coordinate == "tf_crop_and_resize" else None
    if coordinate == "tf_crop_and_resize" and (roi is None or 0 in n.shape(roi)):
        raise n.error("tf_crop_and_resize needs a roi")
    known = all(v is None or isinstance(v, np.ndarray) for v in (scales, sizes))
    bound = known and (roi is None or isinstance(roi, np.ndarray))
    if bound and _filtered(n, mode, coordinate):
        return _resize_by_weights(n, x, scales, sizes, axes, mode, coordinate, nearest, aspect)
    fill = float(n.attr("extrapolation_value", 0.0))
    gathers = (n, x, scales, sizes, axes, mode, coordinate, nearest, aspect, roi, fill)
    if aspect != "stretch" or not all(
        v is None or isinstance(v, np.ndarray) for v in (scales, sizes)
    ):
        return _resize_by_gathers(*gathers)
    # image.resize2d resizes the spatial axes of NCHW data by out / in: anything else (other
    # axes, another rank, a scale that gives no whole size) is gathered by ONNX's own scale.
    known = np.asarray(sizes if sizes is not None else scales).reshape(-1)
    if (
        len(shape) != 4
        or known.size not in (2, 4)
        or (axes is not None and sorted(axes) != [2, 3])
        or coordinate not in _COORDINATE_MODES
    ):
        return _resize_by_gathers(*gathers)
    if axes is not None:  # put them in (H, W) order
        known = known[[axes.index(i) for i in (2, 3)]]
    if sizes is not None:
        out = [int(s) for s in known[-2:]]
        if known.size == 4 and list(known[:2]) != list(shape[:2]):
            return _resize_by_gathers(*gathers)
    else:
        factors = [float(s) for s in known]
        out = [int(np.floor(d * s)) for d, s in zip(shape[2:], factors[-2:], strict=True)]
        exact = all(
            abs(o / d - s) <= 1e-6 for o, d, s in zip(out, shape[2:], factors[-2:], strict=True)
        )
        if (known.size == 4 and factors[:2] != [1.0, 1.0]) or not exact:
            return _resize_by_gathers(*gathers)
    method = "nearest_neighbor" if mode == "nearest" else "linear"
    return n.op(
        "image.resize2d",
        x,
        size=out,
        layout="NCHW",
        method=method,
        coordinate_transformation_mode=coordinate,
        rounding_method=nearest if method == "nearest_neighbor" else "",
    )


def _filtered(n: Node, mode: str, coordinate: str) -> bool:
    """Whether a Resize with known scales, sizes and roi takes weights from the registry's
    resize_weights, computed while importing: cubic and antialias (more than the gathers'
    nearest or linear pick), and a crop. With any of them read at run time, the gathers
    crop, and build cubic and antialiased weights (`_run_time_weights`)."""
    if n.op_type != "Resize" or n.opset < 11:
        return False
    aa = bool(n.attr("antialias", 0)) and mode != "nearest"
    return mode == "cubic" or aa or coordinate == "tf_crop_and_resize"


def _resize_by_weights(
    n: Node,
    x: Value,
    scales: Value | None,
    sizes: Value | None,
    axes: list[int] | None,
    mode: str,
    coordinate: str,
    nearest: str,
    aspect: str,
) -> Value:
    """Cubic, antialiased or cropping Resize with constant scales, sizes and roi: each
    resized axis contracts with its weight matrix (image.resize2d when the axes are NCHW's
    spatial ones at a whole scale, else one nn.dense per axis), the outputs outside the roi
    take extrapolation_value."""
    from relay_opt.dialects.relay.ops.transform import resize_integer_bounds, resize_weights

    shape = n.shape(x)
    rank = len(shape)
    if DYNAMIC in shape:
        raise n.unsupported(f"{mode} Resize of data with ? dims")
    what = "sizes" if sizes is not None else "scales"
    given = n.const_input(3 if sizes is not None else 2, what)
    if n.dtype(x) == "bool":
        raise n.unsupported(f"{mode} Resize of bool data")
    axes = list(range(rank)) if axes is None else axes
    values = np.asarray(given, np.float64).reshape(-1)
    if values.size != len(axes):
        raise n.error(f"{what} has {values.size} values, expected {len(axes)}")
    dims = np.array([shape[a] for a in axes], np.float64)
    if sizes is not None:
        factors = values / dims
        if aspect != "stretch":
            common = factors.min() if aspect == "not_larger" else factors.max()
            factors = np.full_like(factors, common)
            lengths = [int(np.floor(d * common + 0.5)) for d in dims]
        else:
            lengths = [int(v) for v in values]
    else:
        factors = values
        lengths = [int(np.floor(d * f)) for d, f in zip(dims, factors, strict=True)]
    roi = np.array([0.0, 1.0] * len(axes)).reshape(2, -1, order="F").T  # (start, end) per axis
    if coordinate == "tf_crop_and_resize":
        given_roi = n.const_input(1, "roi")
        if given_roi is None or np.asarray(given_roi).size != 2 * len(axes):
            raise n.error(f"tf_crop_and_resize needs a roi of {2 * len(axes)} values")
        roi = np.asarray(given_roi, np.float64).reshape(2, -1).T
    common = {
        "method": "nearest_neighbor" if mode == "nearest" else mode.removeprefix("bi"),
        "mode": coordinate,
        "rounding": nearest if mode == "nearest" else "",
        "alpha": float(n.attr("cubic_coeff_a", -0.75)),
        "exclude": bool(n.attr("exclude_outside", 0)),
        "antialias": bool(n.attr("antialias", 0)),
    }
    fill = float(n.attr("extrapolation_value", 0.0))
    resized = [
        (a, length, float(f), (float(r[0]), float(r[1])))
        for a, length, f, r in zip(axes, lengths, factors, roi, strict=True)
        if not (length == shape[a] and f == 1.0 and tuple(r) == (0.0, 1.0))
    ]
    spatial = [a for a, *_ in resized]
    whole = all(length / shape[a] == f for a, length, f, _ in resized)
    if rank == 4 and spatial and set(spatial) <= {2, 3} and whole and mode != "nearest":
        by_axis = {a: (length, r) for a, length, _, r in resized}
        size = [by_axis.get(a, (shape[a], (0.0, 1.0)))[0] for a in (2, 3)]
        box = [by_axis.get(a, (shape[a], (0.0, 1.0)))[1] for a in (2, 3)]
        attrs: dict[str, object] = {"method": common["method"], "antialias": common["antialias"]}
        if mode == "cubic":
            attrs.update(cubic_alpha=common["alpha"], cubic_exclude=int(common["exclude"]))
        if coordinate == "tf_crop_and_resize":
            attrs.update(roi=[box[0][0], box[1][0], box[0][1], box[1][1]])
            attrs.update(extrapolation_value=fill)
        return n.op(
            "image.resize2d",
            x,
            size=size,
            layout="NCHW",
            coordinate_transformation_mode=coordinate,
            **attrs,  # pyright: ignore[reportArgumentType]
        )
    # Integer data is weighed in float64 (exact for every int32), the sum rounded half to
    # even and saturated once at the end, as image.resize2d does.
    integer = not n.dtype(x).startswith(("float", "bfloat")) and mode != "nearest"
    out = n.cast(x, "float64") if integer else x
    outside = np.zeros([1] * rank, bool)
    for a, length, f, r in resized:
        m, off = resize_weights(length, shape[a], scale=f, roi=r, **common)  # pyright: ignore[reportArgumentType]
        perm = list(range(rank))
        perm[a], perm[-1] = perm[-1], perm[a]
        out = out if a == rank - 1 else n.op("transpose", out, axes=perm)
        out = n.op("nn.dense", out, m.astype(numpy_dtype(n.dtype(out))))
        out = out if a == rank - 1 else n.op("transpose", out, axes=perm)
        outside = outside | off.reshape([-1 if k == a else 1 for k in range(rank)])
    if integer:
        lo, hi = resize_integer_bounds(numpy_dtype(n.dtype(x)))
        out = n.cast(n.op("clip", round_half_even(n, out), a_min=lo, a_max=hi), n.dtype(x))
    if outside.any():
        out = n.op("where", outside, n.scalar(fill, x), out)
    return out


# nearest_mode as the rounding of (coordinate + shift); ties go down by ceil(x - 0.5)
_NEAREST = {
    "floor": ("floor", 0.0),
    "ceil": ("ceil", 0.0),
    "round_prefer_floor": ("ceil", -0.5),
    "round_prefer_ceil": ("floor", 0.5),
}


def _resize_by_gathers(
    n: Node,
    x: Value,
    scales: Value | None,
    sizes: Value | None,
    axes: list[int] | None,
    mode: str,
    coordinate: str,
    nearest: str,
    aspect: str,
    roi: Value | None = None,
    fill: float = 0.0,
) -> Value:
    """Resize with scales or sizes read at run time (or constant ones image.resize2d cannot
    express): one gather per axis, as ONNX's reference computes it. Output position o of an
    axis of size d maps to source coordinate x (float64) by the coordinate mode, with the
    scale given (or out / d for sizes; the least or largest of those, keep_aspect_ratio_policy
    not_larger or not_smaller); nearest takes x rounded by nearest_mode, linear blends the
    two elements around x by its fraction; positions clamp to the axis (edge), except that
    tf_crop_and_resize's positions outside the axis take `fill` (its roi may be read at run
    time: the outputs span [start, end] * (d - 1) of the axis). The result's
    sizes are `?` for run-time scales or sizes (floor(d * scale), sizes, or d * scale rounded
    half up keeping the aspect ratio)."""
    shape = n.shape(x)
    rank = len(shape)
    if DYNAMIC in shape:
        raise n.unsupported(f"{n.op_type} of data with ? dims and run-time scales or sizes")
    if mode != "nearest" and not n.dtype(x).startswith(("float", "bfloat")):
        raise n.unsupported(
            f"{mode} {n.op_type} of {n.dtype(x)} data with run-time scales or sizes"
        )
    # more taps than the two linear blends: each axis contracts with weights built at run time
    weighed = _filtered(n, mode, "") and mode != "nearest"
    axes = list(range(rank)) if axes is None else axes
    given = sizes if sizes is not None else scales
    if n.shape(given) != (len(axes),):  # pyright: ignore[reportArgumentType]
        what = "sizes" if sizes is not None else "scales"
        raise n.error(f"{what} has shape {list(n.shape(given))}, expected [{len(axes)}]")  # pyright: ignore[reportArgumentType]
    if mode == "nearest" and nearest not in _NEAREST:
        raise n.unsupported(f"nearest_mode '{nearest}'")
    if roi is not None and n.shape(roi) != (2 * len(axes),):
        raise n.error(f"roi has shape {list(n.shape(roi))}, expected [{2 * len(axes)}]")
    f64, i64 = "float64", "int64"

    def f(v: float) -> np.ndarray:
        return n.scalar(v, f64)

    if 0 in [shape[a] for a in axes]:
        raise n.unsupported(f"{n.op_type} of an empty axis by gathers")
    common = None
    if aspect != "stretch":  # one scale for every axis in `axes`
        dims = np.array([shape[a] for a in axes], np.float64)
        ratios = n.op("divide", n.cast(sizes, f64), dims)  # pyright: ignore[reportArgumentType]
        common = n.op("min" if aspect == "not_larger" else "max", ratios, axis=[0])
    out = x
    for j, a in enumerate(axes):
        d = shape[a]
        crop = roi is not None and coordinate == "tf_crop_and_resize"
        if common is None and isinstance(given, np.ndarray) and not crop:
            v = float(given.reshape(-1)[j])
            if v == (d if sizes is not None else 1.0):  # every coordinate mode maps o to o
                continue
        pick = np.array(j, np.int64)
        # width: the output's length before rounding down, as ONNX's coordinates use it
        if common is not None:
            scale = common
            width = n.op("multiply", scale, f(d))
            length = n.cast(n.op("floor", n.op("add", width, f(0.5))), i64)
        elif sizes is not None:
            length = n.op("take", n.cast(sizes, i64), pick)
            width = n.cast(length, f64)
            scale = n.op("divide", width, f(d))
        else:
            scale = n.op("take", n.cast(scales, f64), pick)  # pyright: ignore[reportArgumentType]
            width = n.op("multiply", scale, f(d))
            length = n.cast(n.op("floor", width), i64)
        o = n.cast(n.op("arange", n.scalar(0, i64), length, n.scalar(1, i64), dtype=i64), f64)
        outside = None
        if roi is not None and crop:
            start, end = (
                n.op("take", n.cast(roi, f64), np.array(k, np.int64)) for k in (j, j + len(axes))
            )
            first = n.op("multiply", start, f(d - 1))
            span = n.op("multiply", n.op("subtract", end, start), f(d - 1))
            step = n.op("divide", span, n.op("subtract", width, f(1.0)))
            pos = n.op("add", first, n.op("multiply", o, step))
            middle = n.op("add", first, n.op("multiply", span, f(0.5)))
            pos = n.op("where", n.op("equal", width, f(1.0)), middle, pos)
            low_, high_ = n.op("less", pos, f(0.0)), n.op("greater", pos, f(d - 1))
            outside = n.op("logical_or", low_, high_)
        elif coordinate == "asymmetric":
            pos = n.op("divide", o, scale)
        elif coordinate == "align_corners":
            span = n.op("subtract", width, f(1.0))
            pos = n.op("divide", n.op("multiply", o, f(d - 1)), span)
        else:
            pos = n.op("subtract", n.op("divide", n.op("add", o, f(0.5)), scale), f(0.5))
        if coordinate == "half_pixel_symmetric":  # centred: shifted by d / 2 * (1 - length / width)
            rest = n.op("subtract", f(1.0), n.op("divide", n.cast(length, f64), width))
            pos = n.op("add", pos, n.op("multiply", f(d / 2), rest))
        if coordinate in ("align_corners", "pytorch_half_pixel"):  # a width of 1: a fixed position
            fixed = f(0.0 if coordinate == "align_corners" else -0.5)
            pos = n.op("where", n.op("equal", width, f(1.0)), fixed, pos)
        if weighed:
            m = _run_time_weights(n, pos, d, scale, mode)
            if outside is not None:  # those rows take the fill below
                m = n.op("where", n.op("expand_dims", outside, axis=1), f(0.0), m)
            perm = list(range(rank))
            perm[a], perm[-1] = perm[-1], perm[a]
            out = out if a == rank - 1 else n.op("transpose", out, axes=perm)
            out = n.op("nn.dense", out, n.cast(m, n.dtype(x)))
            out = out if a == rank - 1 else n.op("transpose", out, axes=perm)
        if outside is not None and a < rank - 1:
            outside = n.op("expand_dims", outside, axis=1, num_newaxis=rank - 1 - a)
        if weighed:
            if outside is not None:
                out = n.op("where", outside, n.scalar(fill, x), out)
            continue
        if mode == "nearest":
            how, shift = _NEAREST[nearest]
            rounded = n.op(how, n.op("add", pos, f(shift)) if shift else pos)
            out = n.op("take", out, n.cast(rounded, i64), axis=a, mode="clip")
            if outside is not None:
                out = n.op("where", outside, n.scalar(fill, x), out)
            continue
        low = n.op("floor", pos)
        first = n.cast(low, i64)
        below = n.op("take", out, first, axis=a, mode="clip")
        above = n.op("take", out, n.op("add", first, n.scalar(1, i64)), axis=a, mode="clip")
        weight = n.cast(n.op("subtract", pos, low), n.dtype(x))
        if a < rank - 1:
            weight = n.op("expand_dims", weight, axis=1, num_newaxis=rank - 1 - a)
        keep = n.op("subtract", n.scalar(1, x), weight)
        out = n.op("add", n.op("multiply", below, keep), n.op("multiply", above, weight))
        if outside is not None:
            out = n.op("where", outside, n.scalar(fill, x), out)
    return out


class _Built:
    """A Relay value with +, -, * and comparisons, so the registry's formulas written for
    numpy (resize_tap_weight) build it; `where` and `maximum` are `_BuiltOps`'."""

    def __init__(self, n: Node, v: Value) -> None:
        self.n, self.v = n, v

    def _of(self, other: object) -> Value:
        if isinstance(other, _Built):
            return other.v
        return self.n.scalar(float(other), "float64")  # pyright: ignore[reportArgumentType]

    def _op(self, name: str, a: object, b: object) -> _Built:
        return _Built(self.n, self.n.op(name, self._of(a), self._of(b)))

    def __add__(self, o: object) -> _Built:
        return self._op("add", self, o)

    def __radd__(self, o: object) -> _Built:
        return self._op("add", o, self)

    def __sub__(self, o: object) -> _Built:
        return self._op("subtract", self, o)

    def __rsub__(self, o: object) -> _Built:
        return self._op("subtract", o, self)

    def __mul__(self, o: object) -> _Built:
        return self._op("multiply", self, o)

    def __rmul__(self, o: object) -> _Built:
        return self._op("multiply", o, self)

    def __le__(self, o: object) -> _Built:
        return self._op("less_equal", self, o)

    def __lt__(self, o: object) -> _Built:
        return self._op("less", self, o)


class _BuiltOps:
    """numpy's `where` and `maximum` for `_Built` values."""

    @staticmethod
    def where(c: _Built, a: object, b: object) -> _Built:
        return _Built(c.n, c.n.op("where", c.v, c._of(a), c._of(b)))  # noqa: SLF001

    @staticmethod
    def maximum(a: _Built, b: object) -> _Built:
        return a._op("maximum", a, b)  # noqa: SLF001


def _run_time_weights(n: Node, pos: Value, d: int, scale: Value, mode: str) -> Value:
    """resize_weights' matrix (L, d), float64, for source coordinates `pos` (L,) and a scale
    read at run time: every tap t in a range that covers each coordinate's taps and the
    whole axis weighs resize_tap_weight(|t - pos| * stretch) (zero past the kernel's reach,
    so the extra taps add nothing), then the taps fold onto the element they read (clamped
    to the axis: a one-hot matrix, so the edge gathers the taps past it). Exclude_outside
    drops the taps past the edge; it and antialias divide each row by its sum."""
    from relay_opt.dialects.relay.ops.transform import resize_tap_weight

    f64, i64 = "float64", "int64"
    antialias = bool(n.attr("antialias", 0))
    exclude = bool(n.attr("exclude_outside", 0))
    reach = 1.0 if mode == "linear" else 2.0
    one = n.scalar(1.0, f64)
    stretch = n.op("minimum", scale, one) if antialias else one
    # the taps around c are floor(c) + k for k in [first, 1 - first]
    first = n.op("add", n.op("floor", n.op("divide", n.scalar(-reach, f64), stretch)), one)
    ends = n.op("concatenate", [pos, np.array([0.0, d - 1.0])], axis=0)
    low = n.op("add", n.op("floor", n.op("min", ends, axis=[0])), first)
    high = n.op("subtract", n.op("add", n.op("floor", n.op("max", ends, axis=[0])), one), first)
    taps = n.op("arange", low, n.op("add", high, one), one, dtype=f64)
    distance = n.op("abs", n.op("subtract", n.op("expand_dims", pos, axis=1), taps))
    x = _Built(n, n.op("multiply", distance, stretch))
    w = resize_tap_weight(x, mode, float(n.attr("cubic_coeff_a", -0.75)), _BuiltOps).v
    if exclude:
        inside = n.op(
            "logical_and",
            n.op("greater_equal", taps, n.scalar(0.0, f64)),
            n.op("less_equal", taps, n.scalar(d - 1.0, f64)),
        )
        w = n.op("where", inside, w, n.scalar(0.0, f64))
    read = n.cast(n.op("clip", taps, a_min=0.0, a_max=d - 1.0), i64)
    fold = n.op("equal", np.arange(d, dtype=np.int64).reshape(d, 1), read)
    m = n.op("nn.dense", w, n.cast(fold, f64))
    if antialias or exclude:
        m = n.op("divide", m, n.op("sum", m, axis=[1], keepdims=True))
    return m


@converter("Det")
def det(n: Node) -> Value:
    x = n.required(0)
    if n.rank(x) < 2 or n.shape(x)[-1] != n.shape(x)[-2]:
        raise n.error(f"Det takes square matrices (..., M, M), got {list(n.shape(x))}")
    if not n.dtype(x).startswith("float"):
        raise n.unsupported(f"Det of {n.dtype(x)} matrices (float ones are supported)")
    return n.op("det", x)


@converter("MaxUnpool")
def max_unpool(n: Node) -> Value:
    """The indices are flat positions in the shape MaxPool's inverse infers ((in - 1) *
    stride - pads + kernel); a larger output_shape keeps that block at its start and pads
    the rest with zeros, as ONNX's reference does."""
    x, indices = n.required(0), n.required(1)
    shape = list(n.shape(x))
    k = len(shape) - 2
    if k < 1:
        raise n.error(f"MaxUnpool takes (N, C, spatial...) data, got {shape}")
    kernel = n.attr("kernel_shape")
    if kernel is None or len(kernel) != k:
        raise n.error(f"kernel_shape must give {k} sizes")
    strides = list(n.attr("strides", [1] * k))
    pads = list(n.attr("pads", [0] * (2 * k)))
    if len(strides) != k or len(pads) != 2 * k:
        raise n.error(f"strides and pads must give {k} and {2 * k} values")
    inferred = shape[:2] + [
        (shape[2 + i] - 1) * strides[i] - (pads[i] + pads[k + i]) + kernel[i] for i in range(k)
    ]
    if min(inferred) < 0:
        raise n.error(f"the unpooled shape {inferred} is negative")
    out = n.op("nn.max_unpool", x, indices, shape=inferred)
    given = n.input(2)
    if given is not None and not isinstance(given, np.ndarray):
        return _unpooled_to_run_time_shape(n, out, given, inferred)
    if given is None or not np.asarray(given).size:
        return out
    wanted = [int(v) for v in np.asarray(given).reshape(-1)]
    if len(wanted) != len(shape) or wanted[:2] != shape[:2]:
        raise n.error(f"output_shape {wanted} does not fit data of shape {shape}")
    extra = [w - i for w, i in zip(wanted, inferred, strict=True)]
    if min(extra) < 0:
        raise n.unsupported(f"an output_shape {wanted} smaller than the unpooled {inferred}")
    if not any(extra):
        return out
    return n.op(
        "nn.pad", out, n.scalar(0, x), pad_width=[[0, e] for e in extra], pad_mode="constant"
    )


def _unpooled_to_run_time_shape(n: Node, out: Value, given: Value, inferred: list[int]) -> Value:
    """The unpooled block at the start of an output_shape read at run time, zeros after it:
    per spatial axis, a gather at positions 0 .. want - 1 (those past the block masked). A
    size smaller than the block's is a located run-time error (a negative count of extra
    positions), and so is a batch or channel count other than the data's (the final
    dyn.reshape's element count)."""
    rank = len(inferred)
    if 0 in inferred:
        raise n.unsupported("a run-time output_shape for an empty unpooled block")
    if n.shape(given) != (rank,):
        raise n.error(f"output_shape has shape {list(n.shape(given))}, expected [{rank}]")
    given = n.cast(given, "int64")
    for a in range(2, rank):
        want = n.op("take", given, np.array(a, np.int64))
        extra = n.op("subtract", want, n.scalar(inferred[a], "int64"))
        block = np.arange(inferred[a], dtype=np.int64)
        past = n.op("add", runtime_axes.counted(n, extra), n.scalar(inferred[a], "int64"))
        i = n.op("concatenate", [block, past], axis=0)
        out = n.op("take", out, i, axis=a, mode="clip")
        inside = n.op("less", i, n.scalar(inferred[a], "int64"))
        if a < rank - 1:
            inside = n.op("expand_dims", inside, axis=1, num_newaxis=rank - 1 - a)
        out = n.op("where", inside, out, n.scalar(0, out))
    return n.op("dyn.reshape", out, given)


@converter("DeformConv")
def deform_conv(n: Node) -> Value:
    """nn.modulated_deformable_conv2d (a mask of ones when none is given), then the bias."""
    x, weight, offset = n.required(0), n.required(1), n.required(2)
    if n.rank(x) != 4:
        raise n.unsupported(f"DeformConv of a rank-{n.rank(x)} input (2-d NCHW is supported)")
    dtype = n.dtype(x)
    if not dtype.startswith("float"):
        raise n.unsupported(f"DeformConv of {dtype} data (float data is supported)")
    kernel = list(n.attr("kernel_shape", n.shape(weight)[2:]))
    if kernel != list(n.shape(weight)[2:]):
        raise n.error(f"kernel_shape {kernel} differs from the weight's {list(n.shape(weight))}")
    groups, offset_groups = int(n.attr("group", 1)), int(n.attr("offset_group", 1))
    mask = n.input(4)
    if mask is None:
        oshape = n.shape(offset)
        mask = np.ones(
            (oshape[0], offset_groups * kernel[0] * kernel[1], *oshape[2:]), numpy_dtype(dtype)
        )
    out = n.op(
        "nn.modulated_deformable_conv2d",
        x,
        offset,
        weight,
        mask,
        strides=list(n.attr("strides", [1, 1])),
        padding=list(n.attr("pads", [0, 0, 0, 0])),
        dilation=list(n.attr("dilations", [1, 1])),
        deformable_groups=offset_groups,
        groups=groups,
    )
    bias = n.input(3)
    return out if bias is None else n.op("nn.bias_add", out, bias, axis=1)
