"""Lowering of the operators whose result size the computation finds (ops/vision.py).

Their algorithms are sequential (a greedy selection reads what it kept so far), so the rule
writes buffers directly: it reads its operands through `bufferization.to_buffer`, runs `scf`
loops with loads and stores into scratch buffers sized by an upper bound, then copies the
rows it found into a buffer of their count, which becomes its result through an owned
`bufferization.to_tensor` (bufferize frees it after its last use, or hands it to the caller
as a `?` result: docs/native-dynamic-shapes.md).
"""

from __future__ import annotations

import math as pymath
from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, bufferization, memref, scf, tensor
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    AnyFloat,
    Float64Type,
    IndexType,
    MemRefType,
    TensorType,
    UnitAttr,
    f32,
    f64,
    i1,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.attribute_names import OWNED
from relay_opt.dialects.relay.ops.vision import NonMaxSuppression, Unique, unique_axis
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.lowering.convert_relay_to_linalg import Lowerer, RuntimeDim, lowering, unsigned

Carried = Sequence[SSAValue]
"""The values a loop carries from one iteration to the next."""


class Emitter:
    """Scalar and loop code at a builder's insertion point."""

    def __init__(self, b: Builder) -> None:
        self.b = b

    def __call__(self, op: Operation) -> SSAValue:
        self.b.insert(op)
        return op.results[0]

    def const(self, value: float | int | bool, t: Attribute) -> SSAValue:
        from relay_opt.lowering.convert_relay_to_linalg.structured import scalar_const

        return scalar_const(self.b, value, t)

    def index(self, value: int) -> SSAValue:
        return self.const(value, IndexType())

    def loop(
        self,
        upper: SSAValue,
        carried: Sequence[SSAValue],
        body: Callable[[Emitter, SSAValue, Sequence[SSAValue]], Sequence[SSAValue]],
    ) -> list[SSAValue]:
        """for i in [0, upper) carrying `carried`; body(emitter, i, carried) -> next values."""
        block = Block(arg_types=[IndexType(), *(v.type for v in carried)])
        inner = Emitter(Builder(InsertPoint.at_end(block)))
        out = body(inner, block.args[0], block.args[1:])
        inner.b.insert(scf.YieldOp(*out))
        zero, one = self.index(0), self.index(1)
        loop = scf.ForOp(zero, upper, one, list(carried), Region(block))
        self.b.insert(loop)
        return list(loop.results)

    def if_(
        self,
        cond: SSAValue,
        types: Sequence[Attribute],
        then: Callable[[Emitter], Sequence[SSAValue]],
        other: Callable[[Emitter], Sequence[SSAValue]],
    ) -> list[SSAValue]:
        blocks = []
        for branch in (then, other):
            block = Block()
            inner = Emitter(Builder(InsertPoint.at_end(block)))
            inner.b.insert(scf.YieldOp(*branch(inner)))
            blocks.append(block)
        op = scf.IfOp(cond, list(types), Region(blocks[0]), Region(blocks[1]))
        self.b.insert(op)
        return list(op.results)

    def load(self, buffer: SSAValue, at: Sequence[SSAValue]) -> SSAValue:
        return self(memref.LoadOp.get(buffer, list(at)))

    def store(self, value: SSAValue, buffer: SSAValue, at: Sequence[SSAValue]) -> None:
        self.b.insert(memref.StoreOp.get(value, buffer, list(at)))

    def select(self, cond: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        return self(arith.SelectOp(cond, a, b))


def read_buffer(lw: Lowerer, v: SSAValue) -> SSAValue:
    """The buffer of an operand tensor, read only."""
    t = v.type
    assert isinstance(t, TensorType)
    op = bufferization.ToBufferOp.create(
        operands=[v],
        result_types=[MemRefType(t.element_type, t.get_shape())],
        properties={"read_only": UnitAttr()},
    )
    return lw.insert(op).results[0]


def owned_tensor(lw: Lowerer, buffer: SSAValue) -> SSAValue:
    """The result tensor of a buffer the rule allocated and filled: bufferize owns it."""
    op = bufferization.ToTensorOp(buffer, restrict=True)
    op.attributes[OWNED] = UnitAttr()
    return lw.insert(op).results[0]


def dim(lw: Lowerer, v: SSAValue, axis: int) -> SSAValue:
    d = v.type.get_shape()[axis]  # pyright: ignore[reportAttributeAccessIssue]
    return RuntimeDim.of(lw, v, axis).value if d < 0 else RuntimeDim.const(lw, d).value


def widen(e: Emitter, v: SSAValue, ct: Attribute) -> SSAValue:
    """A float value in the wider compute type (float16 in float32)."""
    return e(arith.ExtFOp(v, ct)) if v.type != ct else v


def as_index(e: Emitter, v: SSAValue) -> SSAValue:
    return e(arith.IndexCastOp(v, IndexType()))


def first_element(e: Emitter, v: SSAValue) -> SSAValue:
    """The value of a 0-d or one-element 1-D tensor."""
    t = v.type
    assert isinstance(t, TensorType)
    at = [e.index(0)] if t.get_shape() else []
    return e(tensor.ExtractOp(v, at, t.element_type))


# -- vision.non_max_suppression -------------------------------------------------------------


def _suppresses(
    e: Emitter, a: Sequence[SSAValue], b: Sequence[SSAValue], center: bool, threshold: SSAValue
) -> SSAValue:
    """ONNX's overlap test, as ops/vision.py's `nms_suppresses`, without branches."""
    ct = a[0].type
    if center:
        two = e.const(2.0, ct)
        half = [e(arith.DivfOp(v, two)) for v in (a[2], a[3], b[2], b[3])]
        x = [e(arith.SubfOp(a[0], half[0])), e(arith.AddfOp(a[0], half[0]))]
        x += [e(arith.SubfOp(b[0], half[2])), e(arith.AddfOp(b[0], half[2]))]
        y = [e(arith.SubfOp(a[1], half[1])), e(arith.AddfOp(a[1], half[1]))]
        y += [e(arith.SubfOp(b[1], half[3])), e(arith.AddfOp(b[1], half[3]))]
    else:

        def ordered(p: SSAValue, q: SSAValue) -> list[SSAValue]:
            return [e(arith.MinimumfOp(p, q)), e(arith.MaximumfOp(p, q))]

        x = ordered(a[1], a[3]) + ordered(b[1], b[3])
        y = ordered(a[0], a[2]) + ordered(b[0], b[2])
    zero = e.const(0.0, ct)
    ix = e(arith.SubfOp(e(arith.MinimumfOp(x[1], x[3])), e(arith.MaximumfOp(x[0], x[2]))))
    iy = e(arith.SubfOp(e(arith.MinimumfOp(y[1], y[3])), e(arith.MaximumfOp(y[0], y[2]))))
    inter = e(arith.MulfOp(ix, iy))
    area_a = e(arith.MulfOp(e(arith.SubfOp(x[1], x[0])), e(arith.SubfOp(y[1], y[0]))))
    area_b = e(arith.MulfOp(e(arith.SubfOp(x[3], x[2])), e(arith.SubfOp(y[3], y[2]))))
    union = e(arith.SubfOp(e(arith.AddfOp(area_a, area_b)), inter))
    above = e(arith.CmpfOp(e(arith.DivfOp(inter, union)), threshold, "ogt"))
    for v in (ix, iy, inter, area_a, area_b, union):
        above = e(arith.AndIOp(above, e(arith.CmpfOp(v, zero, "ogt"))))
    return above


@lowering(NonMaxSuppression)
def lower_nms(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """Per batch and class: an insertion sort of the candidates' indices by score, then the
    greedy selection over them, each checked against the boxes kept so far (rows of the
    scratch result, at most min(max_output, boxes) per class); the rows found are copied
    into the result."""
    boxes, scores, max_out, iou, threshold = args
    elem = boxes.type.element_type  # pyright: ignore[reportAttributeAccessIssue]
    ct = f64 if isinstance(elem, Float64Type) else f32
    center = bool(op.attrs.center_point_box)
    for a, a_axis, s, s_axis, what in (
        (boxes, 0, scores, 0, "batches"),
        (boxes, 1, scores, 2, "boxes"),
    ):
        lw.check_same_size(op, a, a_axis, s, s_axis, f"boxes and scores differ in their {what}")
    if boxes.type.get_shape()[2] < 0:  # pyright: ignore[reportAttributeAccessIssue]
        lw.check_equal(op, dim(lw, boxes, 2), 4, "boxes must be (batches, boxes, 4)")
    n_batch, n_box, n_class = dim(lw, boxes, 0), dim(lw, boxes, 1), dim(lw, scores, 1)
    e = Emitter(lw.builder)

    limit64 = first_element(e, max_out)
    limit64 = e(arith.MaxSIOp(limit64, e.const(0, i64)))
    limit64 = e(arith.MinSIOp(limit64, e(arith.IndexCastOp(n_box, i64))))
    limit = e(arith.IndexCastOp(limit64, IndexType()))
    iou_t = widen(e, first_element(e, iou), ct)
    score_t = first_element(e, threshold)
    b_buf, s_buf = read_buffer(lw, boxes), read_buffer(lw, scores)
    rows = e(arith.MuliOp(e(arith.MuliOp(n_batch, n_class)), limit))
    scratch = e(memref.AllocOp.get(i64, shape=[DYNAMIC_INDEX, 3], dynamic_sizes=[rows]))
    order = e(memref.AllocOp.get(i64, shape=[DYNAMIC_INDEX], dynamic_sizes=[n_box]))
    columns = [e.index(k) for k in range(4)]

    def batch(e: Emitter, b: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        def klass(e: Emitter, c: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
            (total,) = carried

            def score(e: Emitter, i: SSAValue) -> SSAValue:
                return e.load(s_buf, [b, c, i])

            def candidate(e: Emitter, i: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
                (m,) = carried
                s_i = score(e, i)

                def insert(e: Emitter) -> list[SSAValue]:
                    # Its place: after every candidate scoring as much (ties keep index order).
                    def count(e: Emitter, k: SSAValue, carried: Carried) -> list[SSAValue]:
                        s_k = score(e, as_index(e, e.load(order, [k])))
                        ge = e(arith.CmpfOp(s_k, s_i, "oge"))
                        return [e(arith.AddiOp(carried[0], as_index(e, e(arith.ExtUIOp(ge, i64)))))]

                    one = e.index(1)
                    (pos,) = e.loop(m, [e.index(0)], count)

                    def shift(e: Emitter, t: SSAValue, _: Sequence[SSAValue]) -> list[SSAValue]:
                        k = e(arith.SubiOp(m, t))
                        e.store(e.load(order, [e(arith.SubiOp(k, one))]), order, [k])
                        return []

                    e.loop(e(arith.SubiOp(m, pos)), [], shift)
                    e.store(e(arith.IndexCastOp(i, i64)), order, [pos])
                    return [e(arith.AddiOp(m, one))]

                above = e(arith.CmpfOp(s_i, score_t, "ogt"))
                return e.if_(above, [IndexType()], insert, lambda _: [m])

            (m,) = e.loop(n_box, [e.index(0)], candidate)

            def corners(e: Emitter, i: SSAValue) -> list[SSAValue]:
                return [widen(e, e.load(b_buf, [b, i, col]), ct) for col in columns]

            def select(e: Emitter, t: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
                (kept,) = carried
                room = e(arith.CmpiOp(kept, limit, "ult"))

                def check(e: Emitter) -> list[SSAValue]:
                    i = as_index(e, e.load(order, [t]))
                    box = corners(e, i)

                    def against(e: Emitter, q: SSAValue, carried: Carried) -> list[SSAValue]:
                        row = e(arith.AddiOp(total, q))
                        j = as_index(e, e.load(scratch, [row, columns[2]]))
                        hit = _suppresses(e, corners(e, j), box, center, iou_t)
                        return [e(arith.AndIOp(carried[0], e(arith.XOrIOp(hit, e.const(1, i1)))))]

                    (keep,) = e.loop(kept, [e.const(1, i1)], against)

                    def write(e: Emitter) -> list[SSAValue]:
                        row = e(arith.AddiOp(total, kept))
                        for col, v in zip(columns, (b, c, i), strict=False):
                            e.store(e(arith.IndexCastOp(v, i64)), scratch, [row, col])
                        return []

                    e.if_(keep, [], write, lambda _: [])
                    return [e(arith.AddiOp(kept, as_index(e, e(arith.ExtUIOp(keep, i64)))))]

                return e.if_(room, [IndexType()], check, lambda _: [kept])

            (kept,) = e.loop(m, [e.index(0)], select)
            return [e(arith.AddiOp(total, kept))]

        return e.loop(n_class, carried, klass)

    (found,) = e.loop(n_batch, [e.index(0)], batch)
    out = e(memref.AllocOp.get(i64, shape=[DYNAMIC_INDEX, 3], dynamic_sizes=[found]))

    def copy(e: Emitter, r: SSAValue, _: Sequence[SSAValue]) -> list[SSAValue]:
        for col in columns[:3]:
            e.store(e.load(scratch, [r, col]), out, [r, col])
        return []

    e.loop(found, [], copy)
    lw.insert(memref.DeallocOp.get(scratch))
    lw.insert(memref.DeallocOp.get(order))
    return owned_tensor(lw, out)


# -- unique ---------------------------------------------------------------------------------


@lowering(Unique)
def lower_unique(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> list[SSAValue]:
    """The data as N slices along the axis (N elements without one), compared element by
    element in row-major order: each slice's first equal slice, a position for each first
    one (its rank among them when sorted, else its order), then one pass writing the values,
    first indices, inverse indices and counts into buffers of the distinct count."""
    (x,) = args
    shape = list(x.type.get_shape())  # pyright: ignore[reportAttributeAccessIssue]
    if any(d < 0 for d in shape):
        raise RelayError("unique of data with ? dimensions is not lowered natively yet", op)
    elem = x.type.element_type  # pyright: ignore[reportAttributeAccessIssue]
    axis = unique_axis(shape, op.attrs)
    inner = shape if axis is None else shape[:axis] + shape[axis + 1 :]
    n = pymath.prod(shape) if axis is None else shape[axis]
    size = 1 if axis is None else pymath.prod(inner)
    is_float = isinstance(elem, AnyFloat)
    is_unsigned = unsigned(op) or elem == i1
    e = Emitter(lw.builder)
    data = read_buffer(lw, x)

    def at(e: Emitter, k: SSAValue, s: SSAValue) -> list[SSAValue]:
        """The indices of element s of slice k (without an axis: flat element k)."""
        dims, flat = (shape, k) if axis is None else (inner, s)
        out: list[SSAValue] = []
        for d in reversed(dims):
            out.append(e(arith.RemUIOp(flat, e.index(d))))
            flat = e(arith.DivUIOp(flat, e.index(d)))
        out.reverse()
        if axis is not None:
            out.insert(axis, k)
        return out

    def element(e: Emitter, k: SSAValue, s: SSAValue) -> SSAValue:
        return e.load(data, at(e, k, s))

    def less(e: Emitter, a: SSAValue, b: SSAValue) -> SSAValue:
        if not is_float:
            return e(arith.CmpiOp(a, b, "ult" if is_unsigned else "slt"))
        nan_last = e(arith.AndIOp(e(arith.CmpfOp(a, a, "ord")), e(arith.CmpfOp(b, b, "uno"))))
        return e(arith.OrIOp(e(arith.CmpfOp(a, b, "olt")), nan_last))

    def equal(e: Emitter, a: SSAValue, b: SSAValue) -> SSAValue:
        if not is_float:
            return e(arith.CmpiOp(a, b, "eq"))
        nans = e(arith.AndIOp(e(arith.CmpfOp(a, a, "uno")), e(arith.CmpfOp(b, b, "uno"))))
        return e(arith.OrIOp(e(arith.CmpfOp(a, b, "oeq")), nans))

    def slices_equal(e: Emitter, j: SSAValue, k: SSAValue) -> SSAValue:
        def step(e: Emitter, s: SSAValue, carried: Carried) -> list[SSAValue]:
            same = equal(e, element(e, j, s), element(e, k, s))
            return [e(arith.AndIOp(carried[0], same))]

        return e.loop(e.index(size), [e.const(1, i1)], step)[0]

    def slice_less(e: Emitter, j: SSAValue, k: SSAValue) -> SSAValue:
        """Lexicographic: the first element that differs decides."""

        def step(e: Emitter, s: SSAValue, carried: Carried) -> list[SSAValue]:
            decided, result = carried
            a, b = element(e, j, s), element(e, k, s)
            lt, gt = less(e, a, b), less(e, b, a)
            result = e.select(decided, result, lt)
            return [e(arith.OrIOp(decided, e(arith.OrIOp(lt, gt)))), result]

        false = e.const(0, i1)
        return e.loop(e.index(size), [false, false], step)[1]

    def alloc(count: SSAValue | None) -> SSAValue:
        sizes = [] if count is None else [count]
        dims = [n if count is None else DYNAMIC_INDEX]
        return e(memref.AllocOp.get(i64, shape=dims, dynamic_sizes=sizes))

    n_i = e.index(n)
    first_of, position = alloc(n_i), alloc(n_i)

    def find_first(e: Emitter, k: SSAValue, carried: Carried) -> list[SSAValue]:
        def scan(e: Emitter, j: SSAValue, carried: Carried) -> list[SSAValue]:
            (f,) = carried
            unset = e(arith.CmpiOp(f, k, "eq"))
            hit = e(arith.AndIOp(unset, slices_equal(e, j, k)))
            return [e.select(hit, j, f)]

        (f,) = e.loop(k, [k], scan)
        e.store(e(arith.IndexCastOp(f, i64)), first_of, [k])
        is_first = e(arith.CmpiOp(f, k, "eq"))
        e.store(e(arith.IndexCastOp(carried[0], i64)), position, [k])  # order of appearance
        return [e(arith.AddiOp(carried[0], as_index(e, e(arith.ExtUIOp(is_first, i64)))))]

    (count,) = e.loop(n_i, [e.index(0)], find_first)

    def is_first_at(e: Emitter, k: SSAValue) -> SSAValue:
        return e(arith.CmpiOp(as_index(e, e.load(first_of, [k])), k, "eq"))

    if op.attrs.sorted:

        def rank(e: Emitter, k: SSAValue, _: Carried) -> list[SSAValue]:
            def below(e: Emitter, j: SSAValue, carried: Carried) -> list[SSAValue]:
                smaller = e(arith.AndIOp(is_first_at(e, j), slice_less(e, j, k)))
                return [e(arith.AddiOp(carried[0], e(arith.ExtUIOp(smaller, i64))))]

            (r,) = e.loop(n_i, [e.const(0, i64)], below)
            e.store(r, position, [k])
            return []

        e.loop(n_i, [], rank)
    # Unsorted: a first slice's position is the count of first slices before it (above).
    values_shape = (
        [DYNAMIC_INDEX]
        if axis is None
        else [DYNAMIC_INDEX if k == axis else d for k, d in enumerate(shape)]
    )
    values = e(memref.AllocOp.get(elem, shape=values_shape, dynamic_sizes=[count]))
    first_index, counts, inverse = alloc(count), alloc(count), alloc(None)

    def zero(e: Emitter, p: SSAValue, _: Carried) -> list[SSAValue]:
        e.store(e.const(0, i64), counts, [p])
        return []

    e.loop(count, [], zero)

    def scatter(e: Emitter, k: SSAValue, _: Carried) -> list[SSAValue]:
        f = as_index(e, e.load(first_of, [k]))
        p64 = e.load(position, [f])
        p = as_index(e, p64)
        e.store(p64, inverse, [k])
        e.store(e(arith.AddiOp(e.load(counts, [p]), e.const(1, i64))), counts, [p])

        def write(e: Emitter) -> list[SSAValue]:
            e.store(e(arith.IndexCastOp(k, i64)), first_index, [p])

            def copy(e: Emitter, s: SSAValue, _: Carried) -> list[SSAValue]:
                e.store(element(e, k, s), values, [p] if axis is None else at(e, p, s))
                return []

            e.loop(e.index(size), [], copy)
            return []

        e.if_(e(arith.CmpiOp(f, k, "eq")), [], write, lambda _: [])
        return []

    e.loop(n_i, [], scatter)
    lw.insert(memref.DeallocOp.get(first_of))
    lw.insert(memref.DeallocOp.get(position))
    return [owned_tensor(lw, b) for b in (values, first_index, inverse, counts)]
