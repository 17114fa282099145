"""Building blocks for the structured (non-elementwise) lowering rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith
from xdsl.dialects.builtin import (
    AffineMapAttr,
    BFloat16Type,
    Float16Type,
    Float32Type,
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

from relay_opt.lowering.convert_relay_to_linalg import Lowerer, signless

_HALVES = (Float16Type, BFloat16Type)
"""The 16-bit floats, which accumulate in float32."""

PARALLEL = IteratorTypeAttr.parallel()
REDUCTION = IteratorTypeAttr.reduction()

Body = Callable[[Builder, Sequence[SSAValue]], Sequence[SSAValue] | SSAValue]


def d(i: int) -> AffineExpr:
    return AffineExpr.dimension(i)


def c(v: int) -> AffineExpr:
    return AffineExpr.constant(v)


def amap(num_dims: int, exprs: Sequence[AffineExpr]) -> AffineMapAttr:
    return AffineMapAttr(AffineMap(num_dims, 0, tuple(exprs)))


def scalar_const(b: Builder | Lowerer, value: float | int | bool, t: Attribute) -> SSAValue:
    if isinstance(t, (IntegerType, IndexType)):
        attr = IntegerAttr(int(value), t)
    else:
        attr = FloatAttr(float(value), t)  # pyright: ignore
    op = arith.ConstantOp(attr, t)
    b.insert(op)
    return op.results[0]


def empty(lw: Lowerer, t: Attribute) -> SSAValue:
    """A tensor.empty; `?` dims take the run-time sizes of the operator being lowered."""
    return lw.sized_empty(signless(t))


def filled(lw: Lowerer, t: Attribute, value: float | int | bool) -> SSAValue:
    """A tensor of type `t` with every element `value` (tensor.empty + linalg.fill)."""
    t = signless(t)
    assert isinstance(t, TensorType)
    v = scalar_const(lw, value, t.element_type)
    return lw.insert(linalg.FillOp([v], [empty(lw, t)], [t])).results[0]


def generic(
    lw: Lowerer,
    inputs: Sequence[SSAValue],
    inits: Sequence[SSAValue],
    maps: Sequence[AffineMapAttr],
    iterators: Sequence[Attribute],
    body: Body,
) -> list[SSAValue]:
    """A linalg.generic whose body `body(builder, block_args)` returns the values to yield."""
    arg_types = [i.type.element_type for i in [*inputs, *inits]]  # pyright: ignore[reportAttributeAccessIssue]
    block = Block(arg_types=arg_types)
    b = Builder(InsertPoint.at_end(block))
    out = body(b, block.args)
    values = [out] if isinstance(out, SSAValue) else list(out)
    b.insert(linalg.YieldOp(*values))
    op = linalg.GenericOp(
        list(inputs),
        list(inits),
        Region(block),
        list(maps),
        list(iterators),
        [i.type for i in inits],
    )
    lw.insert(op)
    return list(op.results)


def accumulate(
    lw: Lowerer,
    inputs: Sequence[SSAValue],
    result_type: Attribute,
    start: float | int,
    maps: Sequence[AffineMapAttr],
    iterators: Sequence[Attribute],
    body: Body,
) -> SSAValue:
    """A reduction `linalg.generic` into a new tensor of `result_type` that starts at `start`.

    float16 and bfloat16 accumulate in float32 and are rounded once at the end, as numpy and
    onnxruntime do: 16-bit partial sums drift by an ulp every few terms. `body` then sees
    float32 values.
    """
    t = signless(result_type)
    assert isinstance(t, TensorType)
    if not isinstance(t.element_type, _HALVES):
        return generic(lw, inputs, [filled(lw, t, start)], maps, iterators, body)[0]
    wide = Float32Type()

    def widened(b: Builder, args: Sequence[SSAValue]) -> Sequence[SSAValue] | SSAValue:
        return body(
            b,
            [
                b.insert(arith.ExtFOp(a, wide)).results[0] if isinstance(a.type, _HALVES) else a
                for a in args
            ],
        )

    total = generic(
        lw, inputs, [filled(lw, TensorType(wide, t.get_shape()), start)], maps, iterators, widened
    )[0]
    rank = len(t.get_shape())
    identity = amap(rank, [d(i) for i in range(rank)])
    return generic(
        lw,
        [total],
        [empty(lw, t)],
        [identity, identity],
        [PARALLEL] * rank,
        lambda b, a: b.insert(arith.TruncFOp(a[0], t.element_type)).results[0],
    )[0]


def index(b: Builder, dim: int) -> SSAValue:
    op = linalg.IndexOp(dim)
    b.insert(op)
    return op.results[0]
