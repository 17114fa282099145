"""Elementwise and broadcasting operators, declared from tables.

Adding a unary float operator is one declaration:
`@register(_float_unary("name", numpy function))` on its class (integer tensors are
computed in float64 and converted back, saturating, as TVM types them: the integer dtype).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.ir import Attribute, SSAValue

from relay_opt.dialects.relay.attributes import AttrKind, Attrs, AttrSpec
from relay_opt.dialects.relay.ops.common import (
    broadcast_dims,
    broadcast_shapes,
    expect_tensor,
    result,
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

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _same_dtype(np_fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """numpy may widen (float16 -> float32, int -> float64); Relay keeps the operand dtype."""

    def compute(attrs: Attrs, *xs: np.ndarray) -> np.ndarray:
        return np.asarray(np_fn(*xs)).astype(xs[0].dtype, copy=False)

    return compute


def _unary_rel(allowed: Sequence[str] | None) -> Callable[[Sequence[Attribute], Attrs], Attribute]:
    def relation(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
        shape, dtype = expect_tensor(args[0], "data")
        if allowed is not None and dtype not in allowed:
            raise TypeRelationError(
                f"expects a {' or '.join(_families(allowed))} tensor, got {dtype}"
            )
        return result(shape, dtype)

    return relation


def _families(dtypes: Sequence[str]) -> list[str]:
    names = []
    if any(d in FLOAT_DTYPES for d in dtypes):
        names.append("floating-point")
    if any(d in INT_DTYPES for d in dtypes):
        names.append("integer")
    if "bool" in dtypes:
        names.append("bool")
    return names


def _erf(x: np.ndarray) -> np.ndarray:
    from math import erf

    return np.vectorize(erf, otypes=[np.float64])(x)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # TVM's round rounds halves away from zero; numpy's rounds them to even. The fraction is
    # compared, not added: floor(|x| + 0.5) rounds 0.49999997 up (the sum rounds to 1.0).
    a = np.abs(x)
    whole = np.floor(a)
    return np.copysign(whole + (a - whole >= 0.5), x)


_NUMERIC = FLOAT_DTYPES + INT_DTYPES


def _float_unary(
    name: str, fn: Callable[[np.ndarray], np.ndarray], on_integers: str = "via_float64"
) -> OpDef:
    """A float function that, as in TVM (whose unary relations are the identity), also takes
    integer tensors and returns their dtype: computed in float64 and converted back as
    `saturating_int` does (`on_integers="via_float64"`), or the identity (floor, ceil,
    round: TVM's floor of an integer is the integer)."""
    compute = _same_dtype(fn)

    def semantics(attrs: Attrs, x: np.ndarray) -> np.ndarray:
        if x.dtype.kind not in "iu":
            with np.errstate(all="ignore"):  # outside the domain: NaN, as in native code
                return compute(attrs, x)
        if on_integers == "identity":
            return x.copy()
        with np.errstate(all="ignore"):
            return saturating_int(np.asarray(fn(x.astype(np.float64))), x.dtype)

    return OpDef(
        name,
        ("data",),
        (),
        _unary_rel(_NUMERIC),
        OpPattern.ELEMWISE,
        semantics,
        f"elementwise {name}",
        shape=broadcast_dims,
    )


def int_limits(dtype: np.dtype) -> tuple[float, float]:
    """[lo, hi): the float64 values that convert to the integer dtype without saturating."""
    bits = dtype.itemsize * 8
    if dtype.kind == "u":
        return 0.0, 2.0**bits
    return -(2.0 ** (bits - 1)), 2.0 ** (bits - 1)


def saturating_int(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float64 -> an integer dtype, toward zero; out-of-range values saturate, NaN is 0
    (LLVM's fptosi.sat; a plain conversion of those is undefined)."""
    lo, hi = int_limits(dtype)
    info = np.iinfo(dtype)
    y = np.asarray(y, np.float64)
    inside = np.where(np.isnan(y) | (y < lo) | (y >= hi), 0.0, y)
    out = inside.astype(dtype)
    out[y >= hi] = info.max
    out[y < lo] = info.min
    return out


@register(_float_unary("exp", np.exp))
class Exp(RelayOperatorOp): ...


@register(_float_unary("log", np.log))
class Log(RelayOperatorOp): ...


@register(_float_unary("sqrt", np.sqrt))
class Sqrt(RelayOperatorOp): ...


@register(_float_unary("rsqrt", lambda x: 1.0 / np.sqrt(x)))
class Rsqrt(RelayOperatorOp): ...


@register(_float_unary("tanh", np.tanh))
class Tanh(RelayOperatorOp): ...


@register(_float_unary("sigmoid", lambda x: 1.0 / (1.0 + np.exp(-x))))
class Sigmoid(RelayOperatorOp): ...


@register(_float_unary("erf", _erf))
class Erf(RelayOperatorOp): ...


@register(_float_unary("floor", np.floor, on_integers="identity"))
class Floor(RelayOperatorOp): ...


@register(_float_unary("ceil", np.ceil, on_integers="identity"))
class Ceil(RelayOperatorOp): ...


@register(_float_unary("round", _round_half_away, on_integers="identity"))
class Round(RelayOperatorOp): ...


@register(_float_unary("sin", np.sin))
class Sin(RelayOperatorOp): ...


@register(_float_unary("cos", np.cos))
class Cos(RelayOperatorOp): ...


@register(_float_unary("tan", np.tan))
class Tan(RelayOperatorOp): ...


@register(_float_unary("sinh", np.sinh))
class Sinh(RelayOperatorOp): ...


@register(_float_unary("cosh", np.cosh))
class Cosh(RelayOperatorOp): ...


@register(_float_unary("asin", np.arcsin))
class Asin(RelayOperatorOp): ...


@register(_float_unary("acos", np.arccos))
class Acos(RelayOperatorOp): ...


@register(_float_unary("atan", np.arctan))
class Atan(RelayOperatorOp): ...


@register(_float_unary("asinh", np.arcsinh))
class Asinh(RelayOperatorOp): ...


@register(_float_unary("acosh", np.arccosh))
class Acosh(RelayOperatorOp): ...


@register(_float_unary("atanh", np.arctanh))
class Atanh(RelayOperatorOp): ...


@register(_float_unary("log2", np.log2))
class Log2(RelayOperatorOp): ...


@register(_float_unary("log10", np.log10))
class Log10(RelayOperatorOp): ...


@register(_float_unary("trunc", np.trunc, on_integers="identity"))
class Trunc(RelayOperatorOp): ...


@register(
    OpDef(
        "negative",
        ("data",),
        (),
        _unary_rel(_NUMERIC),
        OpPattern.ELEMWISE,
        _same_dtype(np.negative),
        "elementwise -x",
        shape=broadcast_dims,
    )
)
class Negative(RelayOperatorOp): ...


@register(
    OpDef(
        "abs",
        ("data",),
        (),
        _unary_rel(_NUMERIC),
        OpPattern.ELEMWISE,
        _same_dtype(np.abs),
        "elementwise |x|",
        shape=broadcast_dims,
    )
)
class Abs(RelayOperatorOp): ...


@register(
    OpDef(
        "logical_not",
        ("data",),
        (),
        _unary_rel(("bool",)),
        OpPattern.ELEMWISE,
        _same_dtype(np.logical_not),
        "elementwise boolean not",
        shape=broadcast_dims,
    )
)
class LogicalNot(RelayOperatorOp): ...


@register(
    OpDef(
        "nn.relu",
        ("data",),
        (),
        _unary_rel(_NUMERIC),
        OpPattern.ELEMWISE,
        _same_dtype(lambda x: np.maximum(x, 0)),
        "max(x, 0)",
        shape=broadcast_dims,
    )
)
class Relu(RelayOperatorOp): ...


@register(
    OpDef(
        "nn.leaky_relu",
        ("data",),
        (AttrSpec("alpha", AttrKind.FLOAT, 0.25),),
        _unary_rel(FLOAT_DTYPES),
        OpPattern.ELEMWISE,
        lambda attrs, x: np.where(x > 0, x, x * x.dtype.type(attrs.alpha)).astype(x.dtype),
        "x if x > 0 else alpha * x",
        shape=broadcast_dims,
    )
)
class LeakyRelu(RelayOperatorOp): ...


@register(
    OpDef(
        "clip",
        ("data",),
        (AttrSpec("a_min", AttrKind.FLOAT, 0.0), AttrSpec("a_max", AttrKind.FLOAT, 0.0)),
        _unary_rel(_NUMERIC),
        OpPattern.ELEMWISE,
        lambda attrs, x: np.clip(x, attrs.a_min, attrs.a_max).astype(x.dtype),
        "clamp to [a_min, a_max]",
        shape=broadcast_dims,
    )
)
class Clip(RelayOperatorOp): ...


def _cast_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, _ = expect_tensor(args[0], "data")
    if not attrs.dtype:
        raise TypeRelationError("cast needs a target dtype")
    return result(shape, attrs.dtype)


def _cast(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype

    return x.astype(numpy_dtype(attrs.dtype))


@register(
    OpDef(
        "cast",
        ("data",),
        (AttrSpec("dtype", AttrKind.DTYPE, ""),),
        _cast_rel,
        OpPattern.ELEMWISE,
        _cast,
        "convert to another dtype",
        shape=broadcast_dims,
    )
)
class Cast(RelayOperatorOp): ...


def _reinterpret_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype

    if not attrs.dtype:
        raise TypeRelationError("reinterpret needs a target dtype")
    for d in (dtype, attrs.dtype):
        if d in ("bool", "bfloat16"):  # (bool's bits are not a byte's; bfloat16 has no numpy dtype)
            raise TypeRelationError(f"reinterpret does not take {d}")
    if numpy_dtype(dtype).itemsize != numpy_dtype(attrs.dtype).itemsize:
        raise TypeRelationError(f"reinterpret {dtype} as {attrs.dtype}: their widths differ")
    return result(shape, attrs.dtype)


def _reinterpret(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype

    return np.ascontiguousarray(x).view(numpy_dtype(attrs.dtype))


@register(
    OpDef(
        "reinterpret",
        ("data",),
        (AttrSpec("dtype", AttrKind.DTYPE, ""),),
        _reinterpret_rel,
        OpPattern.ELEMWISE,
        _reinterpret,
        "the same bits as another dtype of the same width (TVM's reinterpret)",
        shape=broadcast_dims,
    )
)
class Reinterpret(RelayOperatorOp): ...


# -- binary, numpy broadcasting ----------------------------------------------------------


def _binary_rel(
    allowed: Sequence[str] | None, out_dtype: str | None = None
) -> Callable[[Sequence[Attribute], Attrs], Attribute]:
    def relation(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
        lshape, ldtype = expect_tensor(args[0], "lhs")
        rshape, rdtype = expect_tensor(args[1], "rhs")
        if ldtype != rdtype:
            raise TypeRelationError(f"operand dtypes differ: {ldtype} and {rdtype}")
        if allowed is not None and ldtype not in allowed:
            raise TypeRelationError(
                f"expects {' or '.join(_families(allowed))} tensors, got {ldtype}"
            )
        return result(broadcast_shapes(lshape, rshape), out_dtype or ldtype)

    return relation


# Integer division by zero and INT_MIN / -1 trap in native code (SIGFPE). Relay defines them
# as numpy does, and the lowering computes exactly this (one select around a safe divisor):
#   x / 0 -> 0, x // 0 -> 0, x mod 0 -> 0; INT_MIN / -1 and INT_MIN // -1 -> INT_MIN (the
#   quotient wraps), INT_MIN mod -1 -> 0.
# Float division keeps IEEE's values (inf, nan), computed without printing numpy's warnings.


def safe_divisor(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """b, with 1 where integer division would trap (b == 0, and INT_MIN / -1 for signed)."""
    bad = b == 0
    if np.issubdtype(a.dtype, np.signedinteger):
        bad = bad | ((a == np.iinfo(a.dtype).min) & (b == -1))
    return np.where(bad, np.ones((), b.dtype), b)


def _int_division(quotient: Callable[[np.ndarray, np.ndarray], np.ndarray]):  # noqa: ANN202
    def compute(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if not np.issubdtype(a.dtype, np.integer):
            with np.errstate(all="ignore"):
                return quotient(a, b)
        q = quotient(a, safe_divisor(a, b))
        return np.where(b == 0, np.zeros((), a.dtype), q)

    return compute


def _trunc_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b rounded towards zero, as C and TVM divide integers (exact: no float round trip)."""
    if not np.issubdtype(a.dtype, np.integer):
        return a / b
    q = np.floor_divide(a, b)
    # floor and truncation differ by one when the division is inexact and the signs differ.
    fix = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
    return q + fix.astype(q.dtype)


def _trunc_mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Relay's mod truncates (C's fmod) for both floats and integers; x mod 1 is 0, so the
    # safe divisor alone gives 0 where the division would trap.
    if not np.issubdtype(a.dtype, np.integer):
        with np.errstate(all="ignore"):
            return np.fmod(a, b)
    return np.fmod(a, safe_divisor(a, b))


def _int_power(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a ** b; integers wrap, and a negative exponent gives 1 / a ** -b towards zero (1 for
    a = 1, +-1 for a = -1, else 0: 0 ** -n is a division by zero, 0) where numpy refuses."""
    if not np.issubdtype(a.dtype, np.integer):
        with np.errstate(all="ignore"):
            return np.power(a, b)
    if a.dtype.kind == "u":
        return np.power(a, b)
    negative = b < 0
    p = np.power(a, np.where(negative, np.zeros((), b.dtype), b))
    inverse = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 == 0, 1, -1), 0))
    return np.where(negative, inverse, p).astype(a.dtype)


def _arith(
    name: str, fn: Callable[..., np.ndarray], summary: str, dtypes: Sequence[str] = _NUMERIC
) -> OpDef:
    return OpDef(
        name,
        ("lhs", "rhs"),
        (),
        _binary_rel(dtypes),
        OpPattern.BROADCAST,
        _same_dtype(fn),
        summary,
        shape=broadcast_dims,
    )


@register(_arith("add", np.add, "a + b"))
class Add(RelayOperatorOp): ...


@register(_arith("subtract", np.subtract, "a - b"))
class Subtract(RelayOperatorOp): ...


@register(_arith("multiply", np.multiply, "a * b"))
class Multiply(RelayOperatorOp): ...


@register(_arith("divide", _int_division(_trunc_div), "a / b (integers: towards zero)"))
class Divide(RelayOperatorOp): ...


@register(_arith("power", _int_power, "a ** b"))
class Power(RelayOperatorOp): ...


@register(_arith("maximum", np.maximum, "max(a, b)"))
class Maximum(RelayOperatorOp): ...


@register(_arith("minimum", np.minimum, "min(a, b)"))
class Minimum(RelayOperatorOp): ...


@register(_arith("mod", _trunc_mod, "truncated remainder"))
class Mod(RelayOperatorOp): ...


@register(_arith("floor_divide", _int_division(np.floor_divide), "floor(a / b)"))
class FloorDivide(RelayOperatorOp): ...


# Integer shifts (TVM's left_shift/right_shift; right_shift is arithmetic for signed dtypes,
# logical for unsigned ones). A shift amount outside [0, bits) is defined as numpy does: it
# shifts every bit out (0, or -1 for a negative signed value shifted right).
@register(_arith("left_shift", np.left_shift, "a << b", INT_DTYPES))
class LeftShift(RelayOperatorOp): ...


@register(_arith("right_shift", np.right_shift, "a >> b", INT_DTYPES))
class RightShift(RelayOperatorOp): ...


# Bitwise operators on integers and bools (TVM's bitwise_and/or/xor/not).
_BITWISE = (*INT_DTYPES, "bool")


@register(_arith("bitwise_and", np.bitwise_and, "a & b", _BITWISE))
class BitwiseAnd(RelayOperatorOp): ...


@register(_arith("bitwise_or", np.bitwise_or, "a | b", _BITWISE))
class BitwiseOr(RelayOperatorOp): ...


@register(_arith("bitwise_xor", np.bitwise_xor, "a ^ b", _BITWISE))
class BitwiseXor(RelayOperatorOp): ...


@register(
    OpDef(
        "bitwise_not",
        ("data",),
        (),
        _unary_rel(_BITWISE),
        OpPattern.ELEMWISE,
        _same_dtype(np.invert),
        "elementwise ~x",
        shape=broadcast_dims,
    )
)
class BitwiseNot(RelayOperatorOp): ...


def _compare(name: str, fn: Callable[..., np.ndarray]) -> OpDef:
    return OpDef(
        name,
        ("lhs", "rhs"),
        (),
        _binary_rel(None, "bool"),
        OpPattern.BROADCAST,
        lambda attrs, a, b: fn(a, b),
        f"elementwise {name}, bool result",
        shape=broadcast_dims,
    )


@register(_compare("equal", np.equal))
class Equal(RelayOperatorOp): ...


@register(_compare("not_equal", np.not_equal))
class NotEqual(RelayOperatorOp): ...


@register(_compare("less", np.less))
class Less(RelayOperatorOp): ...


@register(_compare("less_equal", np.less_equal))
class LessEqual(RelayOperatorOp): ...


@register(_compare("greater", np.greater))
class Greater(RelayOperatorOp): ...


@register(_compare("greater_equal", np.greater_equal))
class GreaterEqual(RelayOperatorOp): ...


def _logical(name: str, fn: Callable[..., np.ndarray]) -> OpDef:
    return OpDef(
        name,
        ("lhs", "rhs"),
        (),
        _binary_rel(("bool",)),
        OpPattern.BROADCAST,
        lambda attrs, a, b: fn(a, b),
        f"elementwise {name}",
        shape=broadcast_dims,
    )


@register(_logical("logical_and", np.logical_and))
class LogicalAnd(RelayOperatorOp): ...


@register(_logical("logical_or", np.logical_or))
class LogicalOr(RelayOperatorOp): ...


def _where_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    cshape, cdtype = expect_tensor(args[0], "condition")
    xshape, xdtype = expect_tensor(args[1], "x")
    yshape, ydtype = expect_tensor(args[2], "y")
    if cdtype != "bool":
        raise TypeRelationError(f"condition must be a bool tensor, got {cdtype}")
    if xdtype != ydtype:
        raise TypeRelationError(f"x and y dtypes differ: {xdtype} and {ydtype}")
    return result(broadcast_shapes(cshape, broadcast_shapes(xshape, yshape)), xdtype)


@register(
    OpDef(
        "where",
        ("condition", "x", "y"),
        (),
        _where_rel,
        OpPattern.BROADCAST,
        lambda attrs, c, x, y: np.where(c, x, y),
        "x where condition else y",
        shape=broadcast_dims,
    )
)
class Where(RelayOperatorOp): ...


# -- gradients (what the gradient pass uses; the arithmetic ones un-broadcast) --------------


def _x(op: RelayOperatorOp, i: int = 0) -> SSAValue:
    return op.operands[i]


def _dy(dy: DY) -> SSAValue:
    assert isinstance(dy, SSAValue)
    return dy


def _float_only(op: RelayOperatorOp) -> None:
    if not dtype_of(op.result).startswith(("float", "bfloat")):
        raise NotDifferentiable(f"'{op.OPDEF.name}' on {dtype_of(op.result)} is not differentiable")


@gradient(Exp)
def _exp_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.mul(_dy(dy), op.result)]


@gradient(Log)
def _log_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.div(_dy(dy), _x(op))]


@gradient(Sqrt)
def _sqrt_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.div(g.scale(_dy(dy), 0.5), op.result)]


@gradient(Rsqrt)
def _rsqrt_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y / x
    return [g.div(g.mul(g.scale(_dy(dy), -0.5), op.result), _x(op))]


@gradient(Tanh)
def _tanh_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    y = op.result
    return [g.mul(_dy(dy), g.minus(g.ones_like(y), g.mul(y, y)))]


@gradient(Sigmoid)
def _sigmoid_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    y = op.result
    return [g.mul(_dy(dy), g.mul(y, g.minus(g.ones_like(y), y)))]


@gradient(Sin)
def _sin_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.mul(_dy(dy), g.call(Cos, _x(op)))]


@gradient(Cos)
def _cos_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.neg(g.mul(_dy(dy), g.call(Sin, _x(op))))]


@gradient(Tan)
def _tan_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    y = op.result  # d tan = 1 + tan^2
    return [g.mul(_dy(dy), g.plus(g.ones_like(y), g.mul(y, y)))]


@gradient(Sinh)
def _sinh_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.mul(_dy(dy), g.call(Cosh, _x(op)))]


@gradient(Cosh)
def _cosh_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.mul(_dy(dy), g.call(Sinh, _x(op)))]


@gradient(Asin, Acos)
def _asin_acos_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    x = _x(op)  # d asin = 1 / sqrt(1 - x^2) = -d acos
    d = g.call(Rsqrt, g.minus(g.ones_like(x), g.mul(x, x)))
    return [g.mul(_dy(dy), d if isinstance(op, Asin) else g.neg(d))]


@gradient(Atan)
def _atan_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    x = _x(op)
    return [g.div(_dy(dy), g.plus(g.ones_like(x), g.mul(x, x)))]


@gradient(Asinh, Acosh)
def _asinh_acosh_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    x = _x(op)  # 1 / sqrt(x^2 + 1) and 1 / sqrt(x^2 - 1)
    one = g.ones_like(x)
    sq = g.mul(x, x)
    return [
        g.mul(
            _dy(dy), g.call(Rsqrt, g.plus(sq, one) if isinstance(op, Asinh) else g.minus(sq, one))
        )
    ]


@gradient(Atanh)
def _atanh_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    x = _x(op)
    return [g.div(_dy(dy), g.minus(g.ones_like(x), g.mul(x, x)))]


@gradient(Log2, Log10)
def _log_base_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    base = 2.0 if isinstance(op, Log2) else 10.0
    return [g.div(g.scale(_dy(dy), 1.0 / float(np.log(base))), _x(op))]


@gradient(Erf)
def _erf_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    x = _x(op)
    bell = g.call(Exp, g.neg(g.mul(x, x)))
    return [g.mul(g.scale(_dy(dy), 2.0 / float(np.sqrt(np.pi))), bell)]


@gradient(Floor, Ceil, Round, Trunc)
def _step_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    return [g.zeros_like(_x(op))]  # piecewise constant: zero almost everywhere


@gradient(Negative)
def _negative_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    return [g.neg(_dy(dy))]


@gradient(Abs)
def _abs_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    x, d = _x(op), _dy(dy)
    return [g.select(g.call(Less, x, g.scalar(0, x)), g.neg(d), d)]


@gradient(Relu)
def _relu_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    x, d = _x(op), _dy(dy)
    return [g.select(g.call(Greater, x, g.scalar(0, x)), d, g.zeros_like(d))]


@gradient(LeakyRelu)
def _leaky_relu_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    x, d = _x(op), _dy(dy)
    return [g.select(g.call(Greater, x, g.scalar(0, x)), d, g.scale(d, op.attrs.alpha))]


@gradient(Clip)
def _clip_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    x, d = _x(op), _dy(dy)
    inside = g.call(
        LogicalAnd,
        g.call(GreaterEqual, x, g.scalar(op.attrs.a_min, x)),
        g.call(LessEqual, x, g.scalar(op.attrs.a_max, x)),
    )
    return [g.select(inside, d, g.zeros_like(d))]


@gradient(Cast)
def _cast_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    if not dtype_of(_x(op)).startswith(("float", "bfloat")):
        return [None]  # from integers: nothing to differentiate
    return [g.call(Cast, _dy(dy), dtype=dtype_of(_x(op)))]


def _unbroadcast(g: GradBuilder, op: RelayOperatorOp, da: SSAValue | None, db: SSAValue | None):
    a, b = _x(op, 0), _x(op, 1)
    return [
        None if da is None else g.sum_to(g.broadcast_to(da, shape_of(op.result)), shape_of(a)),
        None if db is None else g.sum_to(g.broadcast_to(db, shape_of(op.result)), shape_of(b)),
    ]


@gradient(Add)
def _add_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    return _unbroadcast(g, op, _dy(dy), _dy(dy))


@gradient(Subtract)
def _subtract_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    return _unbroadcast(g, op, _dy(dy), g.neg(_dy(dy)))


@gradient(Multiply)
def _multiply_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    a, b, d = _x(op, 0), _x(op, 1), _dy(dy)
    return _unbroadcast(g, op, g.mul(d, b), g.mul(d, a))


@gradient(Divide)
def _divide_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    b, d = _x(op, 1), _dy(dy)
    da = g.div(d, b)
    # d/db a/b = -a/b^2 = -(1/b) y
    return _unbroadcast(g, op, da, g.neg(g.mul(da, op.result)))


@gradient(Mod)
def _mod_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    # a - b*trunc(a/b): slope 1 in a, -trunc(a/b) in b (between the jumps)
    a, b, d = _x(op, 0), _x(op, 1), _dy(dy)
    return _unbroadcast(g, op, d, g.neg(g.mul(d, g.call(Trunc, g.div(a, b)))))


@gradient(Power)
def _power_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    a, b, d = _x(op, 0), _x(op, 1), _dy(dy)
    # d/da a^b = b a^(b-1); d/db a^b = a^b log a (a > 0)
    da = g.mul(d, g.mul(b, g.call(Power, a, g.minus(b, g.ones_like(b)))))
    db = g.mul(d, g.mul(op.result, g.call(Log, a)))
    return _unbroadcast(g, op, da, db)


@gradient(Maximum, Minimum)
def _extremum_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_only(op)
    a, b, d = _x(op, 0), _x(op, 1), _dy(dy)
    # Ties go to the first operand, as TVM's rule does.
    a_wins = g.call(GreaterEqual if isinstance(op, Maximum) else LessEqual, a, b)
    zero = g.zeros_like(d)
    return _unbroadcast(g, op, g.select(a_wins, d, zero), g.select(a_wins, zero, d))


@gradient(Where)
def _where_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    c, a, b, d = _x(op, 0), _x(op, 1), _x(op, 2), _dy(dy)
    zero = g.zeros_like(d)
    out = shape_of(op.result)
    da = g.sum_to(g.select(c, d, zero), shape_of(a)) if shape_of(a) != out else g.select(c, d, zero)
    db = g.sum_to(g.select(c, zero, d), shape_of(b)) if shape_of(b) != out else g.select(c, zero, d)
    return [None, da, db]
