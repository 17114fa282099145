"""ONNX's linear quantization operators in float and integer arithmetic.

relay-opt has no quantized operators (TVM's `qnn`), so QuantizeLinear,
DequantizeLinear and the QLinear/Integer operators import as what they
compute: x / scale rounded half to even plus the zero point, saturated, and
(q - zero point) * scale; integer products accumulate in int32. The integer
types are int8, uint8, int16, uint16 and int32, and the narrow ones (int4, int2, float8,
float4: narrow.py), carried in a wider dtype.
"""

from __future__ import annotations

import numpy as np

from relay_opt.frontends.onnx.importer import Node, Value, converter, relay_dtype_of
from relay_opt.frontends.onnx.narrow import NARROW, to_narrow
from relay_opt.frontends.onnx.ops import conv_values, matmul_values, round_half_even

_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "uint16": (0, 65535)}


def _per_axis(n: Node, v: Value, x: Value) -> Value:
    """A scale or zero point shaped to broadcast against x: a scalar, a vector along `axis`,
    or (block_size > 0) one value per block of `axis`."""
    shape = list(n.shape(x))
    vshape = list(n.shape(v))
    if int(np.prod(vshape)) == 1:
        return n.reshape(v, [])
    axis = n.axis(n.attr("axis", 1), len(shape))
    block = int(n.attr("block_size", 0) or 0)
    if block:
        if len(vshape) != len(shape):
            raise n.error(
                f"a blocked scale must have the input's rank {len(shape)}, not {len(vshape)}"
            )
        v = n.op("repeat", v, repeats=block, axis=axis)
        return n.op("strided_slice", v, begin=[0], end=[shape[axis]], strides=[1], axes=[axis])
    if len(vshape) != 1 or vshape[0] != shape[axis]:
        raise n.error(
            f"a scale of shape {tuple(vshape)} fits no axis of {tuple(shape)} (axis {axis})"
        )
    target = [1] * len(shape)
    target[axis] = shape[axis]
    return n.reshape(v, target)


def _saturate(n: Node, q: Value, dtype: str) -> Value:
    """An int32 (or float) value clipped to `dtype`'s range and cast to it."""
    if dtype in _RANGES:
        lo, hi = _RANGES[dtype]
        q = n.op("clip", q, a_min=float(lo), a_max=float(hi))
    return n.cast(q, dtype)


def _narrow_target(n: Node) -> int | None:
    """QuantizeLinear's output dtype when it is a narrow one (its ONNX code)."""
    if n.input(2) is not None:
        return n.narrow(2)
    code = n.attr("output_dtype", 0) if n.has_attr("output_dtype") else 0
    return code if code in NARROW else None


def _quantized_dtype(n: Node, zero_point: Value | None) -> str:
    if zero_point is not None:
        dtype = n.dtype(zero_point)
    elif n.has_attr("output_dtype") and n.attr("output_dtype"):
        dtype = relay_dtype_of(n.attr("output_dtype"), n.where())
    else:
        dtype = "uint8"
    if dtype not in _RANGES:
        raise n.unsupported(f"quantizing to {dtype}")
    return dtype


@converter("QuantizeLinear")
def quantize_linear(n: Node) -> Value:
    x, scale, zero_point = n.required(0), n.required(1), n.input(2)
    if n.has_attr("precision") and n.attr("precision"):
        raise n.unsupported("the precision attribute")
    code = _narrow_target(n)
    target = NARROW.get(code) if code is not None else None
    divided = n.op("divide", x, n.cast(_per_axis(n, scale, x), n.dtype(x)))
    if target is not None and target.is_float:
        # float8's zero point is 0 by the spec (ignored, as ONNX's reference does); float4's
        # is added before rounding.
        assert code is not None
        n.narrow_outputs[0] = code
        if zero_point is not None and code == 23:
            divided = n.op("add", divided, n.cast(_per_axis(n, zero_point, x), n.dtype(x)))
        return to_narrow(n, divided, target, saturate=bool(n.attr("saturate", 1)))
    dtype = target.wide if target is not None else _quantized_dtype(n, zero_point)
    q = n.cast(round_half_even(n, divided), "int32")
    if zero_point is not None:
        q = n.op("add", q, n.cast(_per_axis(n, zero_point, x), "int32"))
    if target is not None:
        assert code is not None
        n.narrow_outputs[0] = code
        q = n.op("clip", q, a_min=float(target.lo), a_max=float(target.hi))
    return _saturate(n, q, dtype)


def _dequantize(n: Node, x: Value, scale: Value, zero_point: Value | None) -> Value:
    """(x - zero_point) * scale, in the scale's dtype (int32 differences are exact)."""
    centered = n.cast(x, "int32")
    if zero_point is not None:
        centered = n.op("subtract", centered, n.cast(_per_axis(n, zero_point, x), "int32"))
    return n.op("multiply", n.cast(centered, n.dtype(scale)), _per_axis(n, scale, x))


@converter("DequantizeLinear")
def dequantize_linear(n: Node) -> Value:
    x, scale, zero_point = n.required(0), n.required(1), n.input(2)
    scale_code = n.narrow(1)
    if scale_code is not None and not (n.has_attr("output_dtype") and n.attr("output_dtype")):
        # The result would be in the scale's narrow dtype (E8M0, MX formats' scale):
        # a rounding the spec leaves to the cast, which models name with output_dtype.
        raise n.unsupported(f"a dequantized result in {NARROW[scale_code].name} (no output_dtype)")
    code = n.narrow(0)
    if code is not None and NARROW[code].is_float:
        # float8 and float4 values, exact in float32: (x - zero point) * scale in floats.
        if zero_point is not None:
            x = n.op("subtract", x, _per_axis(n, zero_point, x))
        out = n.op("multiply", n.cast(x, n.dtype(scale)), _per_axis(n, scale, x))
        if n.has_attr("output_dtype") and n.attr("output_dtype"):
            return n.cast(out, relay_dtype_of(n.attr("output_dtype"), n.where()))
        return out
    if n.dtype(x) not in (*_RANGES, "int32"):
        raise n.unsupported(f"dequantizing {n.dtype(x)}")
    if n.has_attr("output_dtype") and n.attr("output_dtype"):
        out = relay_dtype_of(n.attr("output_dtype"), n.where())
        return n.cast(_dequantize(n, x, scale, zero_point), out)
    return _dequantize(n, x, scale, zero_point)


@converter("DynamicQuantizeLinear")
def dynamic_quantize_linear(n: Node) -> list[Value]:
    """uint8 with the scale and zero point that map [min(x, 0), max(x, 0)] onto [0, 255]."""
    x = n.required(0)
    zero = n.scalar(0, x)
    lo = n.op("minimum", n.op("min", x), zero)
    hi = n.op("maximum", n.op("max", x), zero)
    scale = n.op("divide", n.op("subtract", hi, lo), n.scalar(255, x))
    # A constant-zero input has scale 0: any zero point, and every q, is 0 then.
    safe = n.op("where", n.op("equal", scale, zero), n.scalar(1, x), scale)
    zp_float = n.op(
        "clip",
        round_half_even(n, n.op("divide", n.op("negative", lo), safe)),
        a_min=0.0,
        a_max=255.0,
    )
    zero_point = n.cast(zp_float, "uint8")
    q = n.op(
        "add",
        n.cast(round_half_even(n, n.op("divide", x, safe)), "int32"),
        n.cast(zero_point, "int32"),
    )
    return [_saturate(n, q, "uint8"), scale, zero_point]


def _centered(n: Node, q: Value, zero_point: Value | None, axis_of: int | None = None) -> Value:
    """q - zero_point in int32; a per-row/column zero point is a vector along `axis_of`."""
    out = n.cast(q, "int32")
    if zero_point is None:
        return out
    zp = n.cast(zero_point, "int32")
    if int(np.prod(n.shape(zp))) > 1 and axis_of is not None:
        target = [1] * n.rank(q)
        target[axis_of] = n.shape(zp)[0] if n.rank(zp) == 1 else int(np.prod(n.shape(zp)))
        zp = n.reshape(zp, target)
    return n.op("subtract", out, zp)


@converter("MatMulInteger")
def matmul_integer(n: Node) -> Value:
    a, b = n.required(0), n.required(1)
    a = _centered(n, a, n.input(2), axis_of=n.rank(a) - 2 if n.rank(a) >= 2 else None)
    b = _centered(n, b, n.input(3), axis_of=n.rank(b) - 1)
    return matmul_values(n, a, b)


@converter("QLinearMatMul")
def qlinear_matmul(n: Node) -> Value:
    a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp = (n.input(i) for i in range(8))
    if a is None or b is None or a_scale is None or b_scale is None or y_scale is None:
        raise n.error("a, b and the three scales are required")
    if any(int(np.prod(n.shape(s))) != 1 for s in (a_scale, b_scale, y_scale)):
        raise n.unsupported("per-axis scales")
    product = matmul_values(n, _centered(n, a, a_zp), _centered(n, b, b_zp))
    # As ONNX computes it: the int32 product times a_scale * b_scale / y_scale, in float64.
    multiplier = n.op(
        "divide",
        n.op("multiply", n.reshape(a_scale, []), n.reshape(b_scale, [])),
        n.reshape(y_scale, []),
    )
    scaled = n.op("multiply", n.cast(product, "float64"), n.cast(multiplier, "float64"))
    dtype = n.dtype(y_zp) if y_zp is not None else n.dtype(a)
    if y_zp is not None:
        scaled = n.op("add", scaled, n.cast(n.reshape(y_zp, []), "float64"))
    return _saturate(n, round_half_even(n, scaled), dtype)


@converter("ConvInteger")
def conv_integer(n: Node) -> Value:
    x, w = n.required(0), n.required(1)
    return conv_values(
        n, _centered(n, x, n.input(2), axis_of=1), _centered(n, w, n.input(3), axis_of=0), None
    )


@converter("QLinearConv")
def qlinear_conv(n: Node) -> Value:
    x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias = (n.input(i) for i in range(9))
    if x is None or w is None or x_scale is None or w_scale is None or y_scale is None:
        raise n.error("x, w and the three scales are required")
    acc = conv_values(
        n,
        _centered(n, x, x_zp, axis_of=1),
        _centered(n, w, w_zp, axis_of=0),
        None if bias is None else n.cast(bias, "int32"),
    )
    # As ONNX computes it: the int32 accumulator times x_scale * w_scale (per output channel)
    # / y_scale, in float64.
    channels = n.shape(acc)[1]
    w_scale = (
        n.reshape(w_scale, [1, channels] + [1] * (n.rank(acc) - 2))
        if int(np.prod(n.shape(w_scale))) > 1
        else n.reshape(w_scale, [])
    )
    multiplier = n.op(
        "divide", n.op("multiply", n.reshape(x_scale, []), w_scale), n.reshape(y_scale, [])
    )
    scaled = n.op("multiply", n.cast(acc, "float64"), n.cast(multiplier, "float64"))
    dtype = n.dtype(y_zp) if y_zp is not None else n.dtype(x)
    q = n.cast(round_half_even(n, scaled), "int32")
    if y_zp is not None:
        q = n.op("add", q, n.cast(n.reshape(y_zp, []), "int32"))
    return _saturate(n, q, dtype)
