"""Elementwise and broadcasting operators -> one `linalg.generic` each.

Broadcasting is in the indexing maps: an operand dimension of size 1 facing a
larger result dimension reads index 0. The scalar body of each operator is a
small function over arith/math values, chosen by dtype (float, signed or
unsigned integer, bool).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects import arith, func, math, tensor
from xdsl.dialects.builtin import (
    AffineMapAttr,
    AnyFloat,
    BFloat16Type,
    Float16Type,
    Float32Type,
    Float64Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    TensorType,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.dialects.linalg.attrs import IteratorTypeAttr
from xdsl.ir import Attribute, Block, Region, SSAValue
from xdsl.ir.affine import AffineExpr, AffineMap
from xdsl.rewriter import InsertPoint

from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.ops.elementwise import (
    Abs,
    Acos,
    Acosh,
    Add,
    Asin,
    Asinh,
    Atan,
    Atanh,
    BitwiseAnd,
    BitwiseNot,
    BitwiseOr,
    BitwiseXor,
    Cast,
    Ceil,
    Clip,
    Cos,
    Cosh,
    Divide,
    Equal,
    Erf,
    Exp,
    Floor,
    FloorDivide,
    Greater,
    GreaterEqual,
    LeakyRelu,
    LeftShift,
    Less,
    LessEqual,
    Log,
    Log2,
    Log10,
    LogicalAnd,
    LogicalNot,
    LogicalOr,
    Maximum,
    Minimum,
    Mod,
    Multiply,
    Negative,
    NotEqual,
    Power,
    Reinterpret,
    Relu,
    RightShift,
    Round,
    Rsqrt,
    Sigmoid,
    Sin,
    Sinh,
    Sqrt,
    Subtract,
    Tan,
    Tanh,
    Trunc,
    Where,
    int_limits,
)
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.types import tensor_dtype
from relay_opt.lowering.convert_relay_to_linalg import (
    Lowerer,
    RuntimeDim,
    _is_dim_of,  # pyright: ignore[reportPrivateUsage]
    lowering,
    signless,
)


class Scalar:
    """Builds arith/math ops on scalars inside a linalg body."""

    def __init__(self, builder: Builder, dtype: str):
        self.b = builder
        self.dtype = dtype

    @property
    def is_float(self) -> bool:
        return self.dtype.startswith(("float", "bfloat"))

    @property
    def is_unsigned(self) -> bool:
        return self.dtype.startswith("uint") or self.dtype == "bool"

    def emit(self, op):  # noqa: ANN001, ANN201
        self.b.insert(op)
        return op.results[0]

    def const(self, value: float | int | bool, t: Attribute) -> SSAValue:
        if isinstance(t, IntegerType):
            attr = IntegerAttr(int(value), t)
        else:
            assert isinstance(t, AnyFloat), t
            attr = FloatAttr(float(value), t)
        return self.emit(arith.ConstantOp(attr, t))

    def zero(self, like: SSAValue) -> SSAValue:
        return self.const(0, like.type)


def _float_or_int(f: Callable, i: Callable, u: Callable | None = None):  # noqa: ANN202
    def build(s: Scalar, x: SSAValue, y: SSAValue) -> SSAValue:
        if s.is_float:
            return s.emit(f(x, y))
        if s.is_unsigned and u is not None:
            return s.emit(u(x, y))
        return s.emit(i(x, y))

    return build


def _power(s: Scalar, x: SSAValue, y: SSAValue) -> SSAValue:
    if s.is_float:
        return s.emit(math.PowFOp(x, y))
    p = s.emit(math.IPowIOp(x, y))
    if s.is_unsigned:
        return p
    # A negative exponent: 1 / x ** -y towards zero, as the declaration's _int_power.
    t = x.type
    one, minus_one = s.const(1, t), s.const(-1, t)
    odd = s.emit(arith.CmpiOp(s.emit(arith.AndIOp(y, one)), one, "eq"))
    sign = s.emit(arith.SelectOp(odd, minus_one, one))
    small = s.emit(arith.SelectOp(s.emit(arith.CmpiOp(x, minus_one, "eq")), sign, s.zero(x)))
    inverse = s.emit(arith.SelectOp(s.emit(arith.CmpiOp(x, one, "eq")), one, small))
    negative = s.emit(arith.CmpiOp(y, s.zero(y), "slt"))
    return s.emit(arith.SelectOp(negative, inverse, p))


def _mod(s: Scalar, x: SSAValue, y: SSAValue) -> SSAValue:
    if s.is_float:  # C's fmod: exact, unlike x - trunc(x / y) * y (and right for y = inf)
        if isinstance(x.type, Float64Type):
            return s.emit(func.CallOp("fmod", [x, y], [x.type]))
        if isinstance(x.type, Float32Type):
            return s.emit(func.CallOp("fmodf", [x, y], [x.type]))
        # float16: fmodf of the widened operands is exact, so rounding back is too.
        wide = [s.emit(arith.ExtFOp(v, Float32Type())) for v in (x, y)]
        return s.emit(arith.TruncFOp(s.emit(func.CallOp("fmodf", wide, [Float32Type()])), x.type))
    return _int_division(s, x, y, arith.RemUIOp if s.is_unsigned else arith.RemSIOp)


def _floor_divide(s: Scalar, x: SSAValue, y: SSAValue) -> SSAValue:
    if s.is_float:
        if isinstance(x.type, (Float16Type, BFloat16Type)):
            # numpy divides halves in float32: a float16 quotient just under a whole number
            # (3.002 / 0.6006 = 4.9983) would round up to it (5.0) before the floor.
            wide = [s.emit(arith.ExtFOp(v, Float32Type())) for v in (x, y)]
            q = s.emit(math.FloorOp(s.emit(arith.DivfOp(wide[0], wide[1]))))
            return s.emit(arith.TruncFOp(q, x.type))
        return s.emit(math.FloorOp(s.emit(arith.DivfOp(x, y))))
    return _int_division(s, x, y, arith.DivUIOp if s.is_unsigned else arith.FloorDivSIOp)


def _divide(s: Scalar, x: SSAValue, y: SSAValue) -> SSAValue:
    if s.is_float:
        return s.emit(arith.DivfOp(x, y))
    return _int_division(s, x, y, arith.DivUIOp if s.is_unsigned else arith.DivSIOp)


def _int_division(s: Scalar, x: SSAValue, y: SSAValue, divide: Callable) -> SSAValue:
    """x divide y where the hardware would trap (y == 0, signed INT_MIN / -1) gives the values
    the operator's declaration defines (safe_divisor): the division runs on a safe divisor (1
    there) and a select zeroes the quotient of a division by zero. No branch: it vectorizes."""
    t = x.type
    assert isinstance(t, IntegerType)
    zero = s.zero(x)
    by_zero = s.emit(arith.CmpiOp(y, zero, "eq"))
    bad = by_zero
    if not s.is_unsigned:
        is_min = s.emit(arith.CmpiOp(x, s.const(-(1 << (t.width.data - 1)), t), "eq"))
        by_minus_one = s.emit(arith.CmpiOp(y, s.const(-1, t), "eq"))
        bad = s.emit(arith.OrIOp(bad, s.emit(arith.AndIOp(is_min, by_minus_one))))
    q = s.emit(divide(x, s.emit(arith.SelectOp(bad, s.const(1, t), y))))
    if divide in (arith.RemSIOp, arith.RemUIOp):
        return q  # x mod 1 is already 0
    return s.emit(arith.SelectOp(by_zero, zero, q))


def _compare(fpred: str, spred: str, upred: str):  # noqa: ANN202
    def build(s: Scalar, x: SSAValue, y: SSAValue) -> SSAValue:
        if s.is_float:
            return s.emit(arith.CmpfOp(x, y, fpred))
        return s.emit(arith.CmpiOp(x, y, upred if s.is_unsigned else spred))

    return build


def _shift(left: bool):  # noqa: ANN202
    """x << y or x >> y; a shift amount outside [0, bits) (compared unsigned) shifts every bit
    out, as numpy defines it (arith leaves it undefined)."""

    def build(s: Scalar, x: SSAValue, y: SSAValue) -> SSAValue:
        t = x.type
        assert isinstance(t, IntegerType)
        in_range = s.emit(arith.CmpiOp(y, s.const(t.width.data, t), "ult"))
        if left:
            return s.emit(arith.SelectOp(in_range, s.emit(arith.ShLIOp(x, y)), s.zero(x)))
        if s.is_unsigned:
            return s.emit(arith.SelectOp(in_range, s.emit(arith.ShRUIOp(x, y)), s.zero(x)))
        # Signed: shifting by bits - 1 gives the sign fill (0 or -1) the out-of-range case needs.
        amount = s.emit(arith.SelectOp(in_range, y, s.const(t.width.data - 1, t)))
        return s.emit(arith.ShRSIOp(x, amount))

    return build


def _add(s: Scalar, x: SSAValue, y: SSAValue) -> SSAValue:
    # numpy's bool add is a logical or (a sum of bools is whether any is true); addi on i1
    # would wrap (xor): 36 trues summed to false.
    if s.dtype == "bool":
        return s.emit(arith.OrIOp(x, y))
    return _float_or_int(arith.AddfOp, arith.AddiOp)(s, x, y)


BINARY: dict[type[RelayOperatorOp], Callable[[Scalar, SSAValue, SSAValue], SSAValue]] = {
    Add: _add,
    Subtract: _float_or_int(arith.SubfOp, arith.SubiOp),
    Multiply: _float_or_int(arith.MulfOp, arith.MuliOp),
    Divide: _divide,
    Power: _power,
    Maximum: _float_or_int(arith.MaximumfOp, arith.MaxSIOp, arith.MaxUIOp),
    Minimum: _float_or_int(arith.MinimumfOp, arith.MinSIOp, arith.MinUIOp),
    Mod: _mod,
    FloorDivide: _floor_divide,
    LeftShift: _shift(left=True),
    RightShift: _shift(left=False),
    Equal: _compare("oeq", "eq", "eq"),
    NotEqual: _compare("une", "ne", "ne"),
    Less: _compare("olt", "slt", "ult"),
    LessEqual: _compare("ole", "sle", "ule"),
    Greater: _compare("ogt", "sgt", "ugt"),
    GreaterEqual: _compare("oge", "sge", "uge"),
    LogicalAnd: lambda s, x, y: s.emit(arith.AndIOp(x, y)),
    LogicalOr: lambda s, x, y: s.emit(arith.OrIOp(x, y)),
    BitwiseAnd: lambda s, x, y: s.emit(arith.AndIOp(x, y)),
    BitwiseOr: lambda s, x, y: s.emit(arith.OrIOp(x, y)),
    BitwiseXor: lambda s, x, y: s.emit(arith.XOrIOp(x, y)),
}


def _sigmoid(s: Scalar, x: SSAValue) -> SSAValue:
    one = s.const(1.0, x.type)
    e = s.emit(math.ExpOp(s.emit(arith.NegfOp(x))))
    return s.emit(arith.DivfOp(one, s.emit(arith.AddfOp(one, e))))


def _negative(s: Scalar, x: SSAValue) -> SSAValue:
    if s.is_float:
        return s.emit(arith.NegfOp(x))
    return s.emit(arith.SubiOp(s.zero(x), x))


def _abs(s: Scalar, x: SSAValue) -> SSAValue:
    if s.is_float:
        return s.emit(math.AbsFOp(x))
    return x if s.is_unsigned else s.emit(math.AbsIOp(x))


def _relu(s: Scalar, x: SSAValue) -> SSAValue:
    if s.is_float:
        return s.emit(arith.MaximumfOp(x, s.zero(x)))
    return x if s.is_unsigned else s.emit(arith.MaxSIOp(x, s.zero(x)))


UNARY: dict[type[RelayOperatorOp], Callable[[Scalar, SSAValue], SSAValue]] = {
    Exp: lambda s, x: s.emit(math.ExpOp(x)),
    Log: lambda s, x: s.emit(math.LogOp(x)),
    Sqrt: lambda s, x: s.emit(math.SqrtOp(x)),
    Rsqrt: lambda s, x: s.emit(math.RsqrtOp(x)),
    Tanh: lambda s, x: s.emit(math.TanhOp(x)),
    Sigmoid: _sigmoid,
    Erf: lambda s, x: s.emit(math.ErfOp(x)),
    Floor: lambda s, x: s.emit(math.FloorOp(x)),
    Ceil: lambda s, x: s.emit(math.CeilOp(x)),
    Round: lambda s, x: s.emit(math.RoundOp(x)),  # halves away from zero, as TVM
    Sin: lambda s, x: s.emit(math.SinOp(x)),
    Cos: lambda s, x: s.emit(math.CosOp(x)),
    Negative: _negative,
    Abs: _abs,
    Relu: _relu,
    LogicalNot: lambda s, x: s.emit(arith.XOrIOp(x, s.const(1, x.type))),
    # all ones: -1 in a signless integer, 1 in a bool
    BitwiseNot: lambda s, x: s.emit(
        arith.XOrIOp(x, s.const(1 if x.type == IntegerType(1) else -1, x.type))
    ),
    Tan: lambda s, x: s.emit(math.TanOp(x)),
    Sinh: lambda s, x: s.emit(math.SinhOp(x)),
    Cosh: lambda s, x: s.emit(math.CoshOp(x)),
    Asin: lambda s, x: s.emit(math.AsinOp(x)),
    Acos: lambda s, x: s.emit(math.AcosOp(x)),
    Atan: lambda s, x: s.emit(math.AtanOp(x)),
    Asinh: lambda s, x: s.emit(math.AsinhOp(x)),
    Acosh: lambda s, x: s.emit(math.AcoshOp(x)),
    Atanh: lambda s, x: s.emit(math.AtanhOp(x)),
    Log2: lambda s, x: s.emit(math.Log2Op(x)),
    Log10: lambda s, x: s.emit(math.Log10Op(x)),
    Trunc: lambda s, x: s.emit(math.TruncOp(x)),
}


# -- the linalg.generic builder ---------------------------------------------------------


def broadcast_map(in_shape: Sequence[int], out_shape: Sequence[int]) -> AffineMap:
    """Indexing map of an operand broadcast (numpy rules) to the result shape."""
    rank, offset = len(out_shape), len(out_shape) - len(in_shape)
    exprs: list[AffineExpr] = []
    for j, d in enumerate(in_shape):
        k = j + offset
        exprs.append(
            AffineExpr.constant(0) if d == 1 and out_shape[k] != 1 else AffineExpr.dimension(k)
        )
    return AffineMap(rank, 0, tuple(exprs))


def elementwise(
    lw: Lowerer,
    op: RelayOperatorOp,
    inputs: Sequence[SSAValue],
    body: Callable[[Builder, Sequence[SSAValue], Attribute], SSAValue],
) -> SSAValue:
    """`linalg.generic` computing op's result from `inputs` elementwise (with broadcasting)."""
    out_type = signless(op.result.type)
    assert isinstance(out_type, TensorType)
    out_shape = out_type.get_shape()
    init = lw.sized_empty(out_type)
    # An operand whose `?` dim may be 1 where the result's is larger (numpy broadcasting at
    # run time) is read in the body at that dim's index times (its size != 1); the others
    # go through an indexing map.
    steps = [_runtime_broadcast(lw, op, i) for i in inputs]
    direct = [i for i, step in zip(inputs, steps, strict=True) if step is None]
    maps = [AffineMapAttr(broadcast_map(i.type.get_shape(), out_shape)) for i in direct]  # pyright: ignore
    maps.append(AffineMapAttr(AffineMap.identity(len(out_shape))))
    block = Block(arg_types=[i.type.element_type for i in direct] + [out_type.element_type])  # pyright: ignore
    b = Builder(InsertPoint.at_end(block))
    args = iter(block.args)
    values = [
        next(args) if step is None else _read_broadcast(b, i, step, out_shape)
        for i, step in zip(inputs, steps, strict=True)
    ]
    value = body(b, values, out_type.element_type)
    b.insert(linalg.YieldOp(value))
    generic = linalg.GenericOp(
        direct,
        [init],
        Region(block),
        maps,
        [IteratorTypeAttr.parallel()] * len(out_shape),
        [out_type],
    )
    lw.insert(generic)
    return generic.results[0]


def _runtime_broadcast(
    lw: Lowerer, op: RelayOperatorOp, operand: SSAValue
) -> list[SSAValue | None] | None:
    """For an operand with a `?` dim that is not the result's own size: per operand axis, the
    index step (1, or 0 where its run-time size is 1) of each such dim, None for the others;
    and the run-time check that each is 1 or the result's size. None when the operand needs
    no run-time broadcasting (an indexing map reads it)."""
    shape = operand.type.get_shape()  # pyright: ignore[reportAttributeAccessIssue]
    result = lw.result_dims()
    offset = len(result) - len(shape)
    steps: list[SSAValue | None] = []
    for j, d in enumerate(shape):
        want = result[j + offset]
        if (
            d >= 0
            or isinstance(want, int)
            and want == 1
            or (isinstance(want, SSAValue) and _is_dim_of(want, operand, j))
        ):
            steps.append(None)  # static, facing a static 1 (read at 0), or the result's size
            continue
        size = RuntimeDim.of(lw, operand, j).value
        one = RuntimeDim.const(lw, 1).value
        want_value = want if isinstance(want, SSAValue) else RuntimeDim.const(lw, want).value
        not_one = lw.insert(arith.CmpiOp(size, one, "ne")).results[0]
        differ = lw.insert(arith.CmpiOp(size, want_value, "ne")).results[0]
        lw.objects.fail_if(
            op,
            lw.insert(arith.AndIOp(not_one, differ)).results[0],
            f"'{op.name.removeprefix('relay.')}': a ? dimension of an operand has a different "
            "size at run time than the others and is not 1",
        )
        zero = RuntimeDim.const(lw, 0).value
        steps.append(lw.insert(arith.SelectOp(not_one, one, zero)).results[0])
    return steps if any(s is not None for s in steps) else None


def _read_broadcast(
    b: Builder, operand: SSAValue, steps: list[SSAValue | None], out_shape: Sequence[int]
) -> SSAValue:
    """The operand's element for the current result element, inside the body: a dim of
    run-time size 1 is read at 0 (its step), a static 1 facing a larger dim at 0."""
    shape = operand.type.get_shape()  # pyright: ignore[reportAttributeAccessIssue]
    offset = len(out_shape) - len(shape)
    coords: list[SSAValue] = []
    for j, (d, step) in enumerate(zip(shape, steps, strict=True)):
        if d == 1 and out_shape[j + offset] != 1:
            coords.append(b.insert(arith.ConstantOp(IntegerAttr(0, IndexType()))).result)
            continue
        index = b.insert(linalg.IndexOp(j + offset)).result
        coords.append(index if step is None else b.insert(arith.MuliOp(index, step)).result)
    element = operand.type.element_type  # pyright: ignore[reportAttributeAccessIssue]
    return b.insert(tensor.ExtractOp(operand, coords, element)).result


def _operand_dtype(op: RelayOperatorOp, index: int = 0) -> str:
    t = op.operands[index].type
    assert isinstance(t, TensorType)
    return tensor_dtype(t)


@lowering(*BINARY)
def lower_binary(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    fn = BINARY[type(op)]
    dtype = _operand_dtype(op)
    return elementwise(lw, op, args, lambda b, xs, _: fn(Scalar(b, dtype), xs[0], xs[1]))


# Float functions of an integer tensor (TVM types them as the integer type): the identity
# for floor, ceil and round; the others in float64, converted back saturating, as the
# operators' numpy semantics (`saturating_int`).
_INTEGER_IDENTITY = (Floor, Ceil, Round, Trunc)
_VIA_FLOAT64 = (Exp, Log, Sqrt, Rsqrt, Tanh, Sigmoid, Erf, Sin, Cos, Tan, Sinh, Cosh)
_VIA_FLOAT64 += (Asin, Acos, Atan, Asinh, Acosh, Atanh, Log2, Log10)


def _via_float64(
    fn: Callable[[Scalar, SSAValue], SSAValue], dtype: str
) -> Callable[[Scalar, SSAValue], SSAValue]:
    def build(s: Scalar, x: SSAValue) -> SSAValue:
        t = x.type
        assert isinstance(t, IntegerType)
        y = fn(Scalar(s.b, "float64"), cast_scalar(s.b, x, dtype, "float64", Float64Type()))
        f = Scalar(s.b, "float64")
        lo, hi = int_limits(numpy_dtype(dtype))
        info = np.iinfo(numpy_dtype(dtype))
        nan = f.emit(arith.CmpfOp(y, y, "uno"))
        below = f.emit(arith.CmpfOp(y, f.const(lo, y.type), "olt"))
        above = f.emit(arith.CmpfOp(y, f.const(hi, y.type), "oge"))
        bad = f.emit(arith.OrIOp(nan, f.emit(arith.OrIOp(below, above))))
        safe = f.emit(arith.SelectOp(bad, f.zero(y), y))
        i = cast_scalar(s.b, safe, "float64", dtype, t)
        i = f.emit(arith.SelectOp(below, f.const(int(info.min), t), i))
        return f.emit(arith.SelectOp(above, f.const(int(info.max), t), i))

    return build


@lowering(*UNARY)
def lower_unary(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    fn = UNARY[type(op)]
    dtype = _operand_dtype(op)
    if not dtype.startswith(("float", "bfloat")):
        if isinstance(op, _INTEGER_IDENTITY):
            return args[0]
        if isinstance(op, _VIA_FLOAT64):
            fn = _via_float64(fn, dtype)
    return elementwise(lw, op, args, lambda b, xs, _: fn(Scalar(b, dtype), xs[0]))


@lowering(LeakyRelu)
def lower_leaky_relu(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    alpha = op.attrs.alpha

    def body(b: Builder, xs: Sequence[SSAValue], t: Attribute) -> SSAValue:
        s = Scalar(b, _operand_dtype(op))
        x = xs[0]
        positive = s.emit(arith.CmpfOp(x, s.zero(x), "ogt"))
        if isinstance(t, BFloat16Type):
            # bfloat16 computes in float32 and rounds the result once (legalize-bf16), as the
            # interpreter does: alpha too stays float32 (a bfloat16 0.01 is 0.010009765625).
            wide = s.emit(arith.ExtFOp(x, Float32Type()))
            product = s.emit(arith.MulfOp(wide, s.const(alpha, Float32Type())))
            scaled = s.emit(arith.TruncFOp(product, t))
        else:
            scaled = s.emit(arith.MulfOp(x, s.const(alpha, t)))
        return s.emit(arith.SelectOp(positive, x, scaled))

    return elementwise(lw, op, args, body)


@lowering(Clip)
def lower_clip(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    lo, hi = op.attrs.a_min, op.attrs.a_max

    def body(b: Builder, xs: Sequence[SSAValue], t: Attribute) -> SSAValue:
        s = Scalar(b, _operand_dtype(op))
        x = xs[0]
        if s.is_float:
            x = s.emit(arith.MaximumfOp(x, s.const(lo, t)))
            return s.emit(arith.MinimumfOp(x, s.const(hi, t)))
        low, high, constant = _integer_clip_bounds(lo, hi, _operand_dtype(op))
        if constant is not None:
            return s.const(constant, t)
        mx, mn = (arith.MaxUIOp, arith.MinUIOp) if s.is_unsigned else (arith.MaxSIOp, arith.MinSIOp)
        x = s.emit(mx(x, s.const(low, t)))
        return s.emit(mn(x, s.const(high, t)))

    return elementwise(lw, op, args, body)


def _integer_clip_bounds(lo: float, hi: float, dtype: str) -> tuple[int, int, int | None]:
    """(low, high, None), the bounds of an integer clip inside the dtype's range, or
    (0, 0, value) when every element becomes one value. As the reference, clipping in wide
    arithmetic then converting: bounds round towards the inside, a bound beyond the range
    clamps to it (a_min=-1000 leaves uint16 alone instead of wrapping to 64536), and a range
    wholly outside wraps; an infinite or NaN bound bounds nothing."""
    import math as pymath

    info = np.iinfo(numpy_dtype(dtype))
    low = pymath.ceil(lo) if pymath.isfinite(lo) else int(info.min)
    high = pymath.floor(hi) if pymath.isfinite(hi) else int(info.max)
    if low > info.max or high < info.min:
        value = min(low, high) if low > info.max else high
        wrapped = value % (1 << info.bits)
        if info.min < 0 and wrapped > info.max:
            wrapped -= 1 << info.bits
        return 0, 0, wrapped
    return max(low, int(info.min)), min(high, int(info.max)), None


@lowering(Where)
def lower_where(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    return elementwise(lw, op, args, lambda b, xs, _: Scalar(b, "").emit(arith.SelectOp(*xs)))


def _width(t: Attribute) -> int:
    if isinstance(t, IntegerType):
        return t.width.data
    assert isinstance(t, AnyFloat)
    return t.bitwidth


def cast_scalar(b: Builder, x: SSAValue, src: str, dst: str, t: Attribute) -> SSAValue:
    """x (of Relay dtype `src`) converted to `dst` (element type `t`), as numpy's astype."""
    s = Scalar(b, src)
    st = x.type
    src_float, dst_float = not isinstance(st, IntegerType), not isinstance(t, IntegerType)
    if st == t:
        return x
    if dst == "bool":  # nonzero -> true
        if src_float:
            return s.emit(arith.CmpfOp(x, s.zero(x), "une"))
        return s.emit(arith.CmpiOp(x, s.zero(x), "ne"))
    if src_float and dst_float:
        if _width(t) == _width(st):  # float16 <-> bfloat16: exactly to f32, rounded once
            x = s.emit(arith.ExtFOp(x, Float32Type()))
            return s.emit(arith.TruncFOp(x, t))
        op_ = arith.ExtFOp if _width(t) > _width(st) else arith.TruncFOp
        return s.emit(op_(x, t))
    if src_float:
        assert isinstance(t, IntegerType), t
        return s.emit((arith.FPToUIOp if dst.startswith("uint") else arith.FPToSIOp)(x, t))
    from_unsigned = src.startswith("uint") or src == "bool"
    if dst_float:
        assert isinstance(t, AnyFloat), t
        return s.emit((arith.UIToFPOp if from_unsigned else arith.SIToFPOp)(x, t))
    assert isinstance(t, IntegerType), t
    if _width(t) > _width(st):
        return s.emit((arith.ExtUIOp if from_unsigned else arith.ExtSIOp)(x, t))
    return s.emit(arith.TruncIOp(x, t))


@lowering(Reinterpret)
def lower_reinterpret(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    def bits(b: Builder, xs: Sequence[SSAValue], t: Attribute) -> SSAValue:
        # (int32 and uint32 are both i32: no op between them)
        return xs[0] if xs[0].type == t else Scalar(b, "").emit(arith.BitcastOp(xs[0], t))

    return elementwise(lw, op, args, bits)


@lowering(Cast)
def lower_cast(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    src, dst = _operand_dtype(op), op.attrs.dtype
    return elementwise(lw, op, args, lambda b, xs, t: cast_scalar(b, xs[0], src, dst, t))
