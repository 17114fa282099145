"""legalize-bf16: bfloat16 stored as its 16 bits (i16) and computed in float32.

LLVM lowers `bfloat` arithmetic through compiler-rt's conversion routines on CPUs without
AVX512-BF16 (every x86 this project targets), which the JIT does not link. So after the
loops exist (scalar loads, stores and arithmetic), this pass rewrites the bfloat16 types:

- a memref or dense constant of bf16 holds i16 (the same bits: ml_dtypes' bfloat16 arrays);
- a scalar bf16 value is an f32 that holds a bf16 value exactly: a load extends the bits
  (shift left 16), a store keeps the upper half;
- an operation that computed a bf16 result computes it in f32 and rounds it to the nearest
  bf16 (ties to even; a NaN stays a quiet NaN, its sign kept), as ml_dtypes and onnxruntime
  do. Operations whose result is exact on bf16 operands (negate, abs, min/max, select,
  floor/ceil/trunc/round, copysign) are not rounded. Reductions and contractions already
  accumulate in f32 (convert-relay-to-linalg), as for float16.

f64 -> bf16 goes through f32 (two roundings: rarely one bf16 ulp off, as for float16).
Runs before expand-math, which then expands the f32 math ops like any others.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, func, math, memref
from xdsl.dialects.builtin import (
    BFloat16Type,
    DenseIntOrFPElementsAttr,
    Float32Type,
    FloatAttr,
    FunctionType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    ModuleOp,
    TensorType,
    VectorType,
    i16,
    i32,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from relay_opt.diagnostics import RelayError

f32 = Float32Type()

# Exact on bf16 operands: their f32 result is a bf16 value already.
_EXACT = (
    arith.NegfOp,
    arith.SelectOp,
    arith.MaximumfOp,
    arith.MinimumfOp,
    arith.MaxnumfOp,
    arith.MinnumfOp,
    math.AbsFOp,
    math.CopySignOp,
    math.FloorOp,
    math.CeilOp,
    math.TruncOp,
    math.RoundOp,
    math.RoundEvenOp,
)


def _is_bf16(t: Attribute) -> bool:
    return isinstance(t, BFloat16Type)


def _storage(t: Attribute) -> Attribute:
    """`t` with bf16 as it is held: i16 in memory, f32 as a scalar."""
    if _is_bf16(t):
        return f32
    if isinstance(t, MemRefType) and _is_bf16(t.element_type):
        return MemRefType(i16, t.shape, t.layout, t.memory_space)
    if isinstance(t, (TensorType, VectorType)) and _is_bf16(t.element_type):
        return type(t)(i16, t.get_shape())
    if isinstance(t, FunctionType):
        return FunctionType.from_lists(
            [_storage(a) for a in t.inputs.data], [_storage(r) for r in t.outputs.data]
        )
    return t


def _has_bf16(t: Attribute) -> bool:
    return _storage(t) != t


def _bits_of(value: Attribute) -> Attribute:
    """A constant's or global's value with bf16 elements as i16 (the same bytes)."""
    if isinstance(value, DenseIntOrFPElementsAttr) and _has_bf16(value.type):
        return DenseIntOrFPElementsAttr(_storage(value.type), value.data)  # pyright: ignore[reportArgumentType]
    if isinstance(value, FloatAttr) and _is_bf16(value.type):
        return FloatAttr(value.value.data, f32)
    return value


class _Emit:
    """Inserts ops at a point, returning their first result."""

    def __init__(self, point: InsertPoint):
        self.point = point

    def __call__(self, op: Operation) -> SSAValue:
        Rewriter.insert_op(op, self.point)
        return op.results[0]

    def const(self, value: int, t: IntegerType) -> SSAValue:
        return self(arith.ConstantOp(IntegerAttr(value, t)))

    def widen(self, bits: SSAValue) -> SSAValue:
        """The f32 whose upper half is `bits` (i16): exact."""
        wide = self(arith.ExtUIOp(bits, i32))
        return self(arith.BitcastOp(self(arith.ShLIOp(wide, self.const(16, i32))), f32))

    def round(self, x: SSAValue) -> SSAValue:
        """`x` (f32) rounded to the nearest bf16, ties to even; NaN quiet, sign kept."""
        bits = self(arith.BitcastOp(x, i32))
        lsb = self(arith.AndIOp(self(arith.ShRUIOp(bits, self.const(16, i32))), self.const(1, i32)))
        biased = self(arith.AddiOp(bits, self(arith.AddiOp(lsb, self.const(0x7FFF, i32)))))
        quiet = self(arith.OrIOp(bits, self.const(0x00400000, i32)))
        nan = self(arith.CmpfOp(x, x, "uno"))
        chosen = self(arith.SelectOp(nan, quiet, biased))
        high = self(arith.AndIOp(chosen, self.const(-0x10000, i32)))
        return self(arith.BitcastOp(high, f32))

    def narrow(self, x: SSAValue) -> SSAValue:
        """The upper half of `x` (f32 holding a bf16 value) as i16."""
        bits = self(arith.BitcastOp(x, i32))
        return self(arith.TruncIOp(self(arith.ShRUIOp(bits, self.const(16, i32))), i16))


@dataclass(frozen=True)
class _Facts:
    """What an op was before the types changed."""

    loads: bool  # a bf16 element
    stores: bool  # a bf16 element
    from_bf16: bool  # a bitcast bf16 -> i16
    computes: bool  # a bf16 scalar result

    @staticmethod
    def of(op: Operation) -> _Facts:
        return _Facts(
            isinstance(op, memref.LoadOp) and _is_bf16(op.results[0].type),
            isinstance(op, memref.StoreOp) and _is_bf16(op.value.type),
            isinstance(op, arith.BitcastOp) and _is_bf16(op.input.type),
            any(_is_bf16(r.type) for r in op.results),
        )


def _retype(op: Operation) -> None:
    """Gives op's results, its regions' block arguments and its type attributes their storage
    types."""
    for r in list(op.results):
        if _has_bf16(r.type):
            Rewriter.replace_value_with_new_type(r, _storage(r.type))
    for region in op.regions:
        for block in region.blocks:
            for a in list(block.args):
                if _has_bf16(a.type):
                    Rewriter.replace_value_with_new_type(a, _storage(a.type))
    if isinstance(op, func.FuncOp) and _has_bf16(op.function_type):
        op.function_type = _storage(op.function_type)  # pyright: ignore[reportAttributeAccessIssue]
    if isinstance(op, memref.GlobalOp):
        if _has_bf16(op.type):
            op.type = _storage(op.type)  # pyright: ignore[reportAttributeAccessIssue]
        if op.initial_value is not None:
            op.initial_value = _bits_of(op.initial_value)  # pyright: ignore[reportAttributeAccessIssue]
    if isinstance(op, arith.ConstantOp):
        op.value = _bits_of(op.value)  # pyright: ignore[reportAttributeAccessIssue]


def _redirect(uses: list[tuple[Operation, int]], value: SSAValue) -> None:
    for user, index in uses:
        user.operands = [*user.operands[:index], value, *user.operands[index + 1 :]]


def _uses(value: SSAValue) -> list[tuple[Operation, int]]:
    return [(u.operation, u.index) for u in value.uses]


def _legalize(op: Operation, facts: _Facts) -> None:
    """Rewrites one op after `_retype`: loads widen, stores narrow, casts and arithmetic round."""
    if isinstance(op, memref.StoreOp) and facts.stores:
        bits = _Emit(InsertPoint.before(op)).narrow(op.value)
        op.operands = [bits, *op.operands[1:]]
    elif facts.loads:
        uses = _uses(op.results[0])
        bits = Rewriter.replace_value_with_new_type(op.results[0], i16)
        _redirect(uses, _Emit(InsertPoint.after(op)).widen(bits))
    elif isinstance(op, arith.BitcastOp) and facts.from_bf16:  # bf16 -> i16: its bits
        Rewriter.replace_op(op, [], [_Emit(InsertPoint.before(op)).narrow(op.input)])
    elif isinstance(op, arith.ExtFOp) and op.input.type == op.result.type:
        Rewriter.replace_op(op, [], [op.input])  # bf16 -> f32: the f32 already is the value
    elif not facts.computes or isinstance(op, (arith.ConstantOp, *_EXACT)):
        pass
    elif isinstance(op, arith.BitcastOp):  # i16 -> bf16
        Rewriter.replace_op(op, [], [_Emit(InsertPoint.before(op)).widen(op.input)])
    elif isinstance(op, arith.TruncFOp):  # to bf16: round (from f64: through f32)
        emit = _Emit(InsertPoint.before(op))
        x = op.input if op.input.type == f32 else emit(arith.TruncFOp(op.input, f32))
        Rewriter.replace_op(op, [], [emit.round(x)])
    elif op.dialect_name() in ("arith", "math") and len(op.results) == 1:
        uses = _uses(op.results[0])
        _redirect(uses, _Emit(InsertPoint.after(op)).round(op.results[0]))
    # Calls and branches pass values that are bf16 already.


@dataclass(frozen=True)
class LegalizeBf16Pass(ModulePass):
    """bfloat16 as i16 in memory and f32 in registers, rounded to bf16 where it is computed."""

    name = "legalize-bf16"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        ops = [(o, _Facts.of(o)) for o in op.walk()]
        for o, _ in ops:
            _retype(o)
        for o, facts in ops:
            _legalize(o, facts)
        for o in op.walk():
            left = [
                v.type
                for v in (*o.results, *(a for r in o.regions for b in r.blocks for a in b.args))
                if _has_bf16(v.type)
            ]
            if left:
                raise RelayError(
                    f"'{o.name}' on bfloat16 is not supported by the native code generator", o
                )
