"""Elementwise and broadcasting operators, declared from tables.

Adding a unary float operator is one line in `_FLOAT_UNARY` and its class's name in the
unpacking after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.ir import Attribute

from relay_opt.dialects.relay.attributes import Attrs, AttrKind, AttrSpec
from relay_opt.dialects.relay.ops.common import broadcast_shapes, expect_tensor, result
from relay_opt.dialects.relay.registry import OpDef, OpPattern, TypeRelationError, register

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
            raise TypeRelationError(f"expects a {' or '.join(_families(allowed))} tensor, got {dtype}")
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
    # TVM's round rounds halves away from zero; numpy's rounds them to even.
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


_FLOAT_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: 1.0 / np.sqrt(x),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "erf": _erf,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": _round_half_away,
    "sin": np.sin,
    "cos": np.cos,
}

_NUMERIC = FLOAT_DTYPES + INT_DTYPES

# The table's operators, in its order (a test checks each class is bound to its own name).
Exp, Log, Sqrt, Rsqrt, Tanh, Sigmoid, Erf, Floor, Ceil, Round, Sin, Cos = [
    register(
        OpDef(
            name=_name,
            args=("data",),
            attrs=(),
            relation=_unary_rel(FLOAT_DTYPES),
            pattern=OpPattern.ELEMWISE,
            compute=_same_dtype(_fn),
            summary=f"elementwise {_name}",
        )
    )
    for _name, _fn in _FLOAT_UNARY.items()
]

Negative = register(
    OpDef("negative", ("data",), (), _unary_rel(_NUMERIC), OpPattern.ELEMWISE,
          _same_dtype(np.negative), "elementwise -x")
)
Abs = register(
    OpDef("abs", ("data",), (), _unary_rel(_NUMERIC), OpPattern.ELEMWISE,
          _same_dtype(np.abs), "elementwise |x|")
)
LogicalNot = register(
    OpDef("logical_not", ("data",), (), _unary_rel(("bool",)), OpPattern.ELEMWISE,
          _same_dtype(np.logical_not), "elementwise boolean not")
)
Relu = register(
    OpDef("nn.relu", ("data",), (), _unary_rel(_NUMERIC), OpPattern.ELEMWISE,
          _same_dtype(lambda x: np.maximum(x, 0)), "max(x, 0)")
)
LeakyRelu = register(
    OpDef(
        "nn.leaky_relu",
        ("data",),
        (AttrSpec("alpha", AttrKind.FLOAT, 0.25),),
        _unary_rel(FLOAT_DTYPES),
        OpPattern.ELEMWISE,
        lambda attrs, x: np.where(x > 0, x, x * x.dtype.type(attrs.alpha)).astype(x.dtype),
        "x if x > 0 else alpha * x",
    )
)
Clip = register(
    OpDef(
        "clip",
        ("data",),
        (AttrSpec("a_min", AttrKind.FLOAT, 0.0), AttrSpec("a_max", AttrKind.FLOAT, 0.0)),
        _unary_rel(_NUMERIC),
        OpPattern.ELEMWISE,
        lambda attrs, x: np.clip(x, attrs.a_min, attrs.a_max).astype(x.dtype),
        "clamp to [a_min, a_max]",
    )
)


def _cast_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, _ = expect_tensor(args[0], "data")
    if not attrs.dtype:
        raise TypeRelationError("cast needs a target dtype")
    return result(shape, attrs.dtype)


def _cast(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype

    return x.astype(numpy_dtype(attrs.dtype))


Cast = register(
    OpDef("cast", ("data",), (AttrSpec("dtype", AttrKind.DTYPE, ""),), _cast_rel,
          OpPattern.ELEMWISE, _cast, "convert to another dtype")
)


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


def _floor_mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Relay's mod truncates (C's fmod) for both floats and integers.
    return np.fmod(a, b)


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Integer division truncates towards zero, as in C (and TVM).
    if np.issubdtype(a.dtype, np.integer):
        return np.trunc(a / b).astype(a.dtype)
    return a / b


_ARITH: dict[str, tuple[Callable[..., np.ndarray], str]] = {
    "add": (np.add, "a + b"),
    "subtract": (np.subtract, "a - b"),
    "multiply": (np.multiply, "a * b"),
    "divide": (_divide, "a / b"),
    "power": (np.power, "a ** b"),
    "maximum": (np.maximum, "max(a, b)"),
    "minimum": (np.minimum, "min(a, b)"),
    "mod": (_floor_mod, "truncated remainder"),
    "floor_divide": (np.floor_divide, "floor(a / b)"),
}
Add, Subtract, Multiply, Divide, Power, Maximum, Minimum, Mod, FloorDivide = [
    register(
        OpDef(_name, ("lhs", "rhs"), (), _binary_rel(_NUMERIC), OpPattern.BROADCAST,
              _same_dtype(_fn), _summary)
    )
    for _name, (_fn, _summary) in _ARITH.items()
]

# Integer shifts (TVM's left_shift/right_shift; right_shift is arithmetic for signed dtypes,
# logical for unsigned ones). A shift amount outside [0, bits) is defined as numpy does: it
# shifts every bit out (0, or -1 for a negative signed value shifted right).
LeftShift, RightShift = [
    register(
        OpDef(_name, ("lhs", "rhs"), (), _binary_rel(INT_DTYPES), OpPattern.BROADCAST,
              _same_dtype(_fn), _summary)
    )
    for _name, _fn, _summary in (
        ("left_shift", np.left_shift, "a << b"),
        ("right_shift", np.right_shift, "a >> b"),
    )
]

_COMPARE: dict[str, Callable[..., np.ndarray]] = {
    "equal": np.equal,
    "not_equal": np.not_equal,
    "less": np.less,
    "less_equal": np.less_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
}
Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual = [
    register(
        OpDef(_name, ("lhs", "rhs"), (), _binary_rel(None, "bool"), OpPattern.BROADCAST,
              (lambda f: lambda attrs, a, b: f(a, b))(_fn), f"elementwise {_name}, bool result")
    )
    for _name, _fn in _COMPARE.items()
]

LogicalAnd, LogicalOr = [
    register(
        OpDef(_name, ("lhs", "rhs"), (), _binary_rel(("bool",)), OpPattern.BROADCAST,
              (lambda f: lambda attrs, a, b: f(a, b))(_fn), f"elementwise {_name}")
    )
    for _name, _fn in {"logical_and": np.logical_and, "logical_or": np.logical_or}.items()
]


def _where_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    cshape, cdtype = expect_tensor(args[0], "condition")
    xshape, xdtype = expect_tensor(args[1], "x")
    yshape, ydtype = expect_tensor(args[2], "y")
    if cdtype != "bool":
        raise TypeRelationError(f"condition must be a bool tensor, got {cdtype}")
    if xdtype != ydtype:
        raise TypeRelationError(f"x and y dtypes differ: {xdtype} and {ydtype}")
    return result(broadcast_shapes(cshape, broadcast_shapes(xshape, yshape)), xdtype)


Where = register(
    OpDef("where", ("condition", "x", "y"), (), _where_rel, OpPattern.BROADCAST,
          lambda attrs, c, x, y: np.where(c, x, y), "x where condition else y")
)
