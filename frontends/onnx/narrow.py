"""ONNX's narrow dtypes: the float8 family (with E8M0, MX formats' power-of-two scale),
float4, int4/uint4 and int2/uint2.

relay-opt computes with none of them, and ONNX only moves them (Identity, Reshape, ...)
and converts them (Cast, CastLike, QuantizeLinear, DequantizeLinear). So a narrow value
is carried in a wider Relay dtype that holds each of its values exactly (float32 for the
float formats, int8/uint8 for the integers), and a conversion *to* a narrow dtype rounds
in Relay arithmetic to a value of that format, as ml_dtypes (ONNX's numpy companion)
does. Arrays cross the boundary with `widen` (ml_dtypes -> the wide numpy dtype) and
`narrowed` (back, exact). This module is the one place that knows the formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import ml_dtypes
import numpy as np

if TYPE_CHECKING:
    from relay_opt.frontends.onnx.importer import Node, Value


@dataclass(frozen=True)
class Narrow:
    name: str
    """ONNX's name of the dtype (TensorProto.DataType)."""
    numpy: str
    """ml_dtypes' name of it."""
    wide: str
    """The Relay dtype that carries its values exactly."""
    mantissa: int = 0
    """Float formats: explicit mantissa bits, the smallest normal exponent, the largest
    finite value, and whether overflow may give infinity (else NaN) and NaN exists."""
    emin: int = 0
    max: float = 0.0
    inf: bool = False
    nan: bool = True
    power_of_two: bool = False
    """E8M0: a power of two 2^-127 .. 2^127 (or NaN), without sign or zero."""
    lo: int = 0
    """Integer formats: the range."""
    hi: int = 0

    @property
    def is_float(self) -> bool:
        return self.wide.startswith("float")

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(getattr(ml_dtypes, self.numpy))


NARROW: dict[int, Narrow] = {
    17: Narrow("FLOAT8E4M3FN", "float8_e4m3fn", "float32", 3, -6, 448.0),
    18: Narrow("FLOAT8E4M3FNUZ", "float8_e4m3fnuz", "float32", 3, -7, 240.0),
    19: Narrow("FLOAT8E5M2", "float8_e5m2", "float32", 2, -14, 57344.0, inf=True),
    20: Narrow("FLOAT8E5M2FNUZ", "float8_e5m2fnuz", "float32", 2, -15, 57344.0),
    21: Narrow("UINT4", "uint4", "uint8", lo=0, hi=15),
    22: Narrow("INT4", "int4", "int8", lo=-8, hi=7),
    23: Narrow("FLOAT4E2M1", "float4_e2m1fn", "float32", 1, 0, 6.0, nan=False),
    24: Narrow("FLOAT8E8M0", "float8_e8m0fnu", "float32", 0, -127, 2.0**127, power_of_two=True),
    25: Narrow("UINT2", "uint2", "uint8", lo=0, hi=3),
    26: Narrow("INT2", "int2", "int8", lo=-2, hi=1),
}
_BY_NUMPY = {t.numpy: code for code, t in NARROW.items()}


def narrow_code(dtype: np.dtype) -> int | None:
    """The ONNX dtype code of an ml_dtypes narrow numpy dtype (None for others)."""
    return _BY_NUMPY.get(dtype.name)


def widen(array: np.ndarray) -> np.ndarray:
    """A narrow-dtype array in its wide numpy dtype (exact); other arrays as given."""
    code = narrow_code(array.dtype)
    return array if code is None else array.astype(NARROW[code].wide)


def narrowed(array: np.ndarray, code: int) -> np.ndarray:
    """A wide array holding values of narrow dtype `code` in that dtype (exact)."""
    return np.asarray(array).astype(NARROW[code].dtype)


def from_stored(array: np.ndarray, code: int) -> np.ndarray:
    """An array given for a value of narrow dtype `code`, in its wide dtype: an ml_dtypes
    array, the raw bytes numpy's .npz keeps of one (dtype V1), or already wide values."""
    t = NARROW[code]
    if array.dtype.kind == "V" and array.dtype.itemsize == 1:
        array = array.view(np.uint8).view(t.dtype)
    return array.astype(t.wide)


def to_narrow(n: Node, x: Value, t: Narrow, saturate: bool = True, round_mode: str = "up") -> Value:
    """x converted to narrow dtype t, carried in t.wide: ONNX's Cast (and QuantizeLinear's
    last step) as ml_dtypes computes it; to E8M0 as Cast's table says (round_mode applies
    to it only)."""
    if t.power_of_two:
        return _to_power_of_two(n, x, t, saturate, round_mode)
    if t.is_float:
        return _to_float_format(n, x, t, saturate)
    if n.dtype(x).startswith(("float", "bfloat")):
        # Truncation toward zero; a value outside the range (and NaN, inf) gives 0.
        y = n.op("trunc", x)
        inside = n.op(
            "logical_and",
            n.op("greater_equal", y, n.scalar(t.lo, y)),
            n.op("less_equal", y, n.scalar(t.hi, y)),
        )
        return n.cast(n.op("where", inside, y, n.scalar(0, y)), t.wide)
    # Integers wrap: the low bits, read with the format's sign.
    bits = (t.hi - t.lo).bit_length()
    y = n.cast(x, "int64")
    y = n.op("bitwise_and", n.op("subtract", y, n.scalar(t.lo, y)), n.scalar((1 << bits) - 1, y))
    return n.cast(n.op("add", y, n.scalar(t.lo, y)), t.wide)


def _to_float_format(n: Node, x: Value, t: Narrow, saturate: bool) -> Value:
    """Round to nearest, ties to even, at the format's quantum 2^(e - mantissa) (e the
    exponent of |x|, at least emin: subnormals share emin's quantum). Scaling by a power of
    two is exact, so the only rounding is round_half_even's."""
    from relay_opt.frontends.onnx.ops import round_half_even

    work = "float64" if n.dtype(x) == "float64" else "float32"
    x = n.cast(x, work)
    a = n.op("abs", x)
    two = n.scalar(2, work)
    at_least = n.op("maximum", a, n.scalar(2.0**t.emin, work))
    # floor(log2) can be off by one next to a power of two: checked against 2^e both ways.
    e = n.op("floor", n.op("log2", at_least))
    p = n.op("power", two, e)
    e = n.op("subtract", e, n.cast(n.op("greater", p, at_least), work))
    e = n.op("add", e, n.cast(n.op("less_equal", n.op("multiply", p, two), at_least), work))
    quantum = n.op("power", two, n.op("subtract", e, n.scalar(t.mantissa, work)))
    r = n.op("multiply", round_half_even(n, n.op("divide", a, quantum)), quantum)
    if saturate or not t.nan:
        over = n.scalar(t.max, work)
    else:
        over = n.scalar(np.inf if t.inf else np.nan, work)
    overflow = n.op(
        "logical_or",
        n.op("greater", r, n.scalar(t.max, work)),
        n.op("equal", a, n.scalar(np.inf, work)),
    )
    r = n.op("where", overflow, over, r)
    if not t.nan:
        r = n.op("where", n.op("not_equal", x, x), n.scalar(0, work), r)
    signed = n.op("where", n.op("less", x, n.scalar(0, work)), n.op("negative", r), r)
    return n.cast(signed, t.wide)


E8M0_ROUND_MODES = ("up", "down", "nearest")


def _to_power_of_two(n: Node, x: Value, t: Narrow, saturate: bool, round_mode: str) -> Value:
    """x as E8M0, the way Cast's table for it and onnxruntime have it: a positive finite x
    rounded to a power of two `up`, `down` or to the `nearest` (mantissa 1.5 and above
    rounds up); NaN stays NaN; with saturate, what is above 2^127 or rounds above it (and
    +inf) is 2^127 and what is below 2^-127 (0, negatives, -inf) is 2^-127, without it
    both are NaN. (ONNX's
    numpy reference differs at 0, negatives, inf and float32 subnormals: it reads float32
    bits; onnxruntime follows the table.) Worked on float64's bits, where every float32
    is normal: the exponent field is floor(log2 |x|), the fraction says how to round."""
    if round_mode not in E8M0_ROUND_MODES:
        raise n.error(f"round_mode '{round_mode}' is none of {', '.join(E8M0_ROUND_MODES)}")
    x = n.cast(x, "float64")
    bits = n.op("reinterpret", x, dtype="int64")
    exponent = n.op(
        "subtract",
        n.op("bitwise_and", n.op("right_shift", bits, n.scalar(52, bits)), n.scalar(0x7FF, bits)),
        n.scalar(1023, bits),
    )
    fraction = n.op("bitwise_and", bits, n.scalar((1 << 52) - 1, bits))
    if round_mode != "down":
        # up: any fraction; nearest: a mantissa of 1.5 or more
        least = 1 if round_mode == "up" else 1 << 51
        rounds_up = n.op("greater_equal", fraction, n.scalar(least, bits))
        exponent = n.op("add", exponent, n.cast(rounds_up, "int64"))
    # 2^exponent, built from its bits (exact; the exponent is clamped into float64's range
    # first, the out-of-range cases being replaced below).
    biased = n.op("clip", n.op("add", exponent, n.scalar(1023, bits)), a_min=1.0, a_max=2046.0)
    power = n.op("reinterpret", n.op("left_shift", biased, n.scalar(52, bits)), dtype="float64")
    nan = n.scalar(np.nan, "float64")
    smallest = n.scalar(2.0**t.emin, "float64")
    # Out of range by value, as the table has it (x > 2^127 even where `down` would give
    # 2^127), or by rounding.
    above = n.op(
        "logical_or",
        n.op("greater", x, n.scalar(t.max, "float64")),
        n.op("greater", exponent, n.scalar(127, exponent)),
    )
    below = n.op("less", x, smallest)  # (NaN is neither)
    r = n.op("where", above, n.scalar(t.max, "float64") if saturate else nan, power)
    r = n.op("where", below, smallest if saturate else nan, r)
    r = n.op("where", n.op("not_equal", x, x), nan, r)
    return n.cast(r, t.wide)
