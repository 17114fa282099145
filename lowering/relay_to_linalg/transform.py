"""Shape and indexing operators -> linalg.generic copies whose indexing maps do the work.

A reshape reads the source at the row-major position of each result element
(affine floordiv/mod of the linear index); transposes, slices, tiles and
repeats are affine maps too; concatenate writes each input at its offset.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import TensorType
from xdsl.ir import SSAValue
from xdsl.ir.affine import AffineExpr

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.ops.common import normalize_axis
from relay_opt.dialects.relay.ops.transform import slice_bounds, split_bounds, transpose_axes
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.lowering.relay_to_linalg import Lowerer, lowering, signless
from relay_opt.lowering.relay_to_linalg.elementwise import broadcast_map
from relay_opt.lowering.relay_to_linalg.structured import (
    PARALLEL,
    AffineMapAttr,
    amap,
    c,
    d,
    empty,
    filled,
    generic,
)


def _shape(v: SSAValue | object) -> tuple[int, ...]:
    t = v.type if isinstance(v, SSAValue) else v
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def _identity(n: int) -> AffineMapAttr:
    return amap(n, [d(i) for i in range(n)])


def gather(lw: Lowerer, x: SSAValue, out_type, source: Sequence[AffineExpr]) -> SSAValue:  # noqa: ANN001
    """The result's element at the loop indices is x[source(indices)].

    The result tensor is also the first input, unread: linalg takes each loop's
    range from the first operand that indexes it by that loop alone, and that
    must be the result, not a larger `x` (a slice from 0 reads x[d0])."""
    out_t = signless(out_type)
    n = len(_shape(out_t))
    init = empty(lw, out_t)
    return generic(lw, [init, x], [init], [_identity(n), amap(n, source), _identity(n)], [PARALLEL] * n,
                   lambda b, a: a[1])[0]


def reshape_exprs(src: Sequence[int], dst: Sequence[int]) -> list[AffineExpr]:
    """Source indices of a row-major reshape, from result loop dims."""
    linear: AffineExpr = c(0)
    stride = 1
    for k in range(len(dst) - 1, -1, -1):
        if dst[k] != 1:
            linear = d(k) * stride + linear if stride != 1 else d(k) + linear
        stride *= dst[k]
    exprs = []
    stride = 1
    strides = []
    for s in reversed(src):
        strides.append(stride)
        stride *= s
    strides.reverse()
    for k, (size, st) in enumerate(zip(src, strides)):
        e = linear // st if st != 1 else linear
        exprs.append(c(0) if size == 1 else (e % size if k > 0 else e))
    return exprs


def reshape_to(lw: Lowerer, x: SSAValue, out_type) -> SSAValue:  # noqa: ANN001
    src, dst = _shape(x), _shape(out_type)
    if src == dst:
        return x
    return gather(lw, x, out_type, reshape_exprs(src, dst))


@lowering("reshape", "squeeze", "expand_dims", "nn.batch_flatten")
def lower_reshape(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    return reshape_to(lw, args[0], op.result.type)


@lowering("transpose")
def lower_transpose(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    axes = transpose_axes(op.attrs, len(_shape(args[0])))
    source = [d(axes.index(i)) for i in range(len(axes))]
    return gather(lw, args[0], op.result.type, source)


@lowering("broadcast_to")
def lower_broadcast_to(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    m = broadcast_map(_shape(args[0]), _shape(op.result.type))
    return gather(lw, args[0], op.result.type, list(m.results))


@lowering("tile")
def lower_tile(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    src = _shape(args[0])
    n = len(_shape(op.result.type))
    offset = n - len(src)
    return gather(lw, args[0], op.result.type,
                  [d(k + offset) % size if size != 1 else c(0) for k, size in enumerate(src)])


@lowering("repeat")
def lower_repeat(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    n = len(_shape(args[0]))
    axis = normalize_axis(op.attrs.axis, n)
    r = op.attrs.repeats
    return gather(lw, args[0], op.result.type, [d(k) // r if k == axis else d(k) for k in range(n)])


@lowering("strided_slice")
def lower_strided_slice(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    shape = _shape(args[0])
    source = [d(k) * step + c(begin) for k, (begin, _, step) in enumerate(slice_bounds(op.attrs, shape))]
    return gather(lw, args[0], op.result.type, source)


@lowering("split")
def lower_split(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> list[SSAValue]:
    x = args[0]
    shape = _shape(x)
    axis = normalize_axis(op.attrs.axis, len(shape))
    parts = []
    for (start, _), t in zip(split_bounds(op.attrs, shape[axis]), op.result.type.types):  # pyright: ignore
        parts.append(gather(lw, x, t, [d(k) + c(start) if k == axis else d(k) for k in range(len(shape))]))
    return parts


@lowering("concatenate")
def lower_concatenate(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    fields = lw.values[op.operands[0]]
    out_t = signless(op.result.type)
    n = len(_shape(out_t))
    axis = normalize_axis(op.attrs.axis, n)
    out = empty(lw, out_t)
    offset = 0
    for f in fields:
        maps = [_identity(n), amap(n, [d(k) + c(offset) if k == axis else d(k) for k in range(n)])]
        out = generic(lw, [f], [out], maps, [PARALLEL] * n, lambda b, a: a[0])[0]
        offset += _shape(f)[axis]
    return out


@lowering("stack")
def lower_stack(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    out_t = signless(op.result.type)
    axis = normalize_axis(op.attrs.axis, len(_shape(out_t)))
    out = empty(lw, out_t)
    for i, f in enumerate(lw.values[op.operands[0]]):
        out = _stack_one(lw, f, out, axis, i)
    return out


def _stack_one(lw: Lowerer, f: SSAValue, out: SSAValue, axis: int, i: int) -> SSAValue:
    """Write `f` as slice `i` of `out` along `axis`."""
    n = len(_shape(f))
    maps = [_identity(n), amap(n, [*(d(k) for k in range(axis)), c(i), *(d(k) for k in range(axis, n))])]
    return generic(lw, [f], [out], maps, [PARALLEL] * n, lambda b, a: a[0])[0]


@lowering("zeros", "ones")
def lower_zeros_ones(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    return filled(lw, op.result.type, 0 if op.opdef.name == "zeros" else 1)


@lowering("zeros_like", "ones_like")
def lower_like(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    return filled(lw, op.result.type, 0 if op.opdef.name == "zeros_like" else 1)


@lowering("full")
def lower_full(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    from relay_opt.dialects.relay.types import tensor_dtype
    from relay_opt.lowering.relay_to_linalg.elementwise import cast_scalar

    value = args[0]
    out_t = signless(op.result.type)
    n = len(_shape(out_t))
    src, dst = tensor_dtype(op.operands[0].type), tensor_dtype(op.result.type)  # pyright: ignore
    return generic(lw, [value], [empty(lw, out_t)], [amap(n, []), _identity(n)], [PARALLEL] * n,
                   lambda b, a: cast_scalar(b, a[0], src, dst, out_t.element_type))[0]  # pyright: ignore
