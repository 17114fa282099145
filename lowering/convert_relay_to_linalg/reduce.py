"""Reductions -> a linalg.fill of the identity, then a linalg.generic with reduction iterators."""

from __future__ import annotations

import math as pymath
from collections.abc import Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, tensor
from xdsl.dialects.builtin import IndexType, IntegerType, TensorType, i8, i64
from xdsl.ir import Attribute, SSAValue

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.ir_helpers import shape_of
from relay_opt.dialects.relay.ops.elementwise import Add, Maximum, Minimum, Multiply
from relay_opt.dialects.relay.ops.reduce import (
    Argmax,
    Argmin,
    Det,
    Max,
    Mean,
    Min,
    Prod,
    Sum,
    Variance,
    reduced_axes,
)
from relay_opt.dialects.relay.ops.transform import (
    CollapseSumLike,
    CollapseSumTo,
    Reshape,
    collapsed_axes,
)
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.types import DYNAMIC, tensor_dtype
from relay_opt.lowering.convert_relay_to_linalg import (
    Lowerer,
    RuntimeDim,
    lower_through_relay,
    lowering,
    signless,
)
from relay_opt.lowering.convert_relay_to_linalg.elementwise import BINARY, Scalar, elementwise
from relay_opt.lowering.convert_relay_to_linalg.structured import (
    PARALLEL,
    REDUCTION,
    accumulate,
    amap,
    c,
    d,
    empty,
    filled,
    generic,
    index,
    scalar_const,
)


def reduction_identity(name: str, dtype: str, t: Attribute) -> float | int:
    """The start value of reduction `name` for element type `t` (max starts at the lowest value)."""
    if name in ("sum", "mean"):
        return 0
    if name == "prod":
        return 1
    is_float = not isinstance(t, IntegerType)
    if is_float:
        return -pymath.inf if name == "max" else pymath.inf
    bits = t.width.data  # pyright: ignore[reportAttributeAccessIssue]
    unsigned = dtype.startswith("uint") or dtype == "bool"
    if name == "max":
        return 0 if unsigned else -(2 ** (bits - 1))
    return 2**bits - 1 if unsigned else 2 ** (bits - 1) - 1


def reduction_maps(shape: Sequence[int], axes: Sequence[int], keepdims: bool):  # noqa: ANN201
    """Loops: kept axes first, then reduced ones; the input and output maps."""
    kept = [a for a in range(len(shape)) if a not in axes]
    order = kept + list(axes)
    position = {a: i for i, a in enumerate(order)}
    n = len(shape)
    in_map = amap(n, [d(position[a]) for a in range(n)])
    if keepdims:
        out_map = amap(n, [c(0) if a in axes else d(position[a]) for a in range(n)])
    else:
        out_map = amap(n, [d(position[a]) for a in kept])
    iterators = [PARALLEL] * len(kept) + [REDUCTION] * len(axes)
    return in_map, out_map, iterators


_REDUCTIONS: dict[type[RelayOperatorOp], tuple[str, type[RelayOperatorOp]]] = {
    Sum: ("sum", Add),
    Mean: ("sum", Add),
    Prod: ("prod", Multiply),
    Max: ("max", Maximum),
    Min: ("min", Minimum),
}
"""A reduction's kind (its start value, `reduction_identity`) and its combining operator."""


@lowering(Sum, Mean, Max, Min, Prod)
def lower_reduce(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    x = args[0]
    xt = x.type
    assert isinstance(xt, TensorType)
    dtype = tensor_dtype(op.operands[0].type)  # pyright: ignore[reportArgumentType]
    axes = reduced_axes(op.attrs, len(xt.get_shape()))
    in_map, out_map, iterators = reduction_maps(xt.get_shape(), axes, op.attrs.keepdims)
    kind, combine = _REDUCTIONS[type(op)]

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        return BINARY[combine](Scalar(b, dtype), a[1], a[0])

    start = reduction_identity(kind, dtype, xt.element_type)
    total = accumulate(lw, [x], op.result.type, start, [in_map, out_map], iterators, body)
    if not isinstance(op, Mean) or dtype == "bool":  # a bool mean is its sum: any
        return total
    count = 1
    for a in axes:
        count *= xt.get_shape()[a]
    is_float = Scalar(lw.builder, dtype).is_float
    element = _element(op)
    # A count the dtype cannot hold (300 int8 elements, or an unknown run-time count) divides
    # in i64: the sum, extended, by the count, truncated back (|sum| < count: 0, or -1).
    narrow = element if isinstance(element, IntegerType) and element.width.data < 64 else None
    wide = narrow is not None
    if narrow is not None and all(xt.get_shape()[a] >= 0 for a in axes):
        bits = narrow.width.data - (0 if dtype.startswith("uint") else 1)
        wide = max(count, 1) >= 1 << bits
    # Over a `?` axis the count is the run-time product, made once before the kernel.
    run_time = run_time_count(lw, x, axes, 0, 0 if is_float else 1, i64 if wide else element)

    def divide(b: Builder, xs: Sequence[SSAValue], t: Attribute) -> SSAValue:
        s = Scalar(b, dtype)
        if s.is_float:  # an empty mean is 0 / 0, nan
            return s.emit(arith.DivfOp(xs[0], run_time or scalar_const(b, count, t)))
        # Integers: the declaration's count, at least 1 (an empty sum, 0, stays 0; dividing
        # by a constant 0 would trap at -O0 and be poison at -O3).
        total = xs[0]
        if wide:
            total = s.emit(
                arith.ExtUIOp(total, i64) if s.is_unsigned else arith.ExtSIOp(total, i64)
            )
        n = run_time or scalar_const(b, max(count, 1), i64 if wide else t)
        q = s.emit(arith.DivUIOp(total, n) if s.is_unsigned else arith.DivSIOp(total, n))
        return s.emit(arith.TruncIOp(q, narrow)) if wide and narrow is not None else q

    return elementwise(lw, op, [total], divide)


def _element(op: RelayOperatorOp) -> Attribute:
    t = signless(op.result.type)
    assert isinstance(t, TensorType)
    return t.element_type


def run_time_count(
    lw: Lowerer, x: SSAValue, axes: Sequence[int], less: int, least: int, t: Attribute
) -> SSAValue | None:
    """The product of x's dims along `axes`, minus `less`, at least `least`, as a scalar
    of type `t` (float or integer), when one of those dims is `?`; else None (the rule
    keeps its constant)."""
    shape = shape_of(x)
    if all(shape[a] >= 0 for a in axes):
        return None
    n = RuntimeDim.of(lw, x, axes[0]) if shape[axes[0]] < 0 else shape[axes[0]]
    for a in axes[1:]:
        n = n * (RuntimeDim.of(lw, x, a) if shape[a] < 0 else shape[a])
    if less:
        n = n - less
    n = n.value  # pyright: ignore[reportAttributeAccessIssue]
    if least:  # a count is never negative: only a floor above 0 needs the comparison
        n = lw.insert(arith.MaxSIOp(n, scalar_const(lw, least, IndexType()))).results[0]
    if isinstance(t, IntegerType):
        return lw.insert(arith.IndexCastOp(n, t)).results[0]
    wide = lw.insert(arith.IndexCastOp(n, i64)).results[0]
    return lw.insert(arith.SIToFPOp(wide, t)).results[0]  # pyright: ignore[reportArgumentType]


@lowering(Argmax, Argmin)
def lower_arg_reduce(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    x = args[0]
    xt = x.type
    assert isinstance(xt, TensorType)
    shape = xt.get_shape()
    dtype = tensor_dtype(op.operands[0].type)  # pyright: ignore[reportArgumentType]
    axes = reduced_axes(op.attrs, len(shape))
    in_map, out_map, iterators = reduction_maps(shape, axes, op.attrs.keepdims)
    out_t = signless(op.result.type)
    assert isinstance(out_t, TensorType)
    is_max = isinstance(op, Argmax)
    value_t = TensorType(xt.element_type, out_t.get_shape())
    best = filled(
        lw, value_t, reduction_identity("max" if is_max else "min", dtype, xt.element_type)
    )
    where = filled(lw, out_t, 0)
    kept = len(shape) - len(axes)
    # numpy has no arg-reduction over no elements: an empty `?` axis ends the call, unless
    # the result has no element either (0 rows kept: nothing is picked, as the interpreter).
    empty_axes = run_time_count(lw, x, axes, 0, 0, i64)
    kept_axes = [a for a in range(len(shape)) if a not in axes]
    if empty_axes is not None and all(shape[a] != 0 for a in kept_axes):
        zero = scalar_const(lw, 0, i64)
        none = lw.insert(arith.CmpiOp(empty_axes, zero, "eq")).results[0]
        results = run_time_count(lw, x, kept_axes, 0, 0, i64) if kept_axes else None
        if results is not None:
            some = lw.insert(arith.CmpiOp(results, zero, "ne")).results[0]
            none = lw.insert(arith.AndIOp(none, some)).results[0]
        lw.objects.fail_if(op, none, f"'{op.opdef.name}' over no elements (an empty ? axis)")
    # The flat index's strides: constants, or run-time products (made before the kernel, in
    # the index's type) when a later reduced axis is `?`.
    strides: list[int | SSAValue] = []
    for k in range(len(axes)):
        later = axes[k + 1 :]
        stride = 1
        for a in later:
            stride *= shape[a]
        run_time = run_time_count(lw, x, later, 0, 0, out_t.element_type) if later else None
        strides.append(run_time or stride)

    def body(b: Builder, a: Sequence[SSAValue]) -> list[SSAValue]:
        s = Scalar(b, dtype)
        value, cur_best, cur_idx = a
        # The flat index over the reduced axes, as int32.
        flat = None
        for k, stride in enumerate(strides):
            i = index(b, kept + k)
            term = s.emit(arith.IndexCastOp(i, out_t.element_type))
            if isinstance(stride, SSAValue):
                term = s.emit(arith.MuliOp(term, stride))
            elif stride != 1:
                term = s.emit(arith.MuliOp(term, scalar_const(b, stride, out_t.element_type)))
            flat = term if flat is None else s.emit(arith.AddiOp(flat, term))
        if flat is None:  # no axis reduced (axis=[], or exclude naming every axis): index 0
            flat = scalar_const(b, 0, out_t.element_type)
        strict, tie = ("ogt", "oge") if is_max else ("olt", "ole")
        if not s.is_float:
            pred = {"ogt": "sgt", "oge": "sge", "olt": "slt", "ole": "sle"}
            if s.is_unsigned:
                pred = {"ogt": "ugt", "oge": "uge", "olt": "ult", "ole": "ule"}
            better = s.emit(
                arith.CmpiOp(value, cur_best, pred[tie if op.attrs.select_last_index else strict])
            )
        else:
            better = s.emit(
                arith.CmpfOp(value, cur_best, tie if op.attrs.select_last_index else strict)
            )
        return [
            s.emit(arith.SelectOp(better, value, cur_best)),
            s.emit(arith.SelectOp(better, flat, cur_idx)),
        ]

    _, indices = generic(lw, [x], [best, where], [in_map, out_map, out_map], iterators, body)
    return indices


@lowering(Variance)
def lower_variance(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    x, mean = args
    xt = x.type
    assert isinstance(xt, TensorType)
    shape = xt.get_shape()
    axes = reduced_axes(op.attrs, len(shape))
    in_map, out_map, iterators = reduction_maps(shape, axes, op.attrs.keepdims)
    # The mean has the data's rank with reduced axes of size 1 (TVM's keepdims mean).
    kept_map = reduction_maps(shape, axes, True)[1]

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        diff = b.insert(arith.SubfOp(a[0], a[1])).results[0]
        sq = b.insert(arith.MulfOp(diff, diff)).results[0]
        return b.insert(arith.AddfOp(a[2], sq)).results[0]

    total = accumulate(
        lw, [x, mean], op.result.type, 0, [in_map, kept_map, out_map], iterators, body
    )
    count = 1
    for a in axes:
        count *= shape[a]
    less = 1 if op.attrs.unbiased else 0
    count = max(count - less, 1)
    run_time = run_time_count(lw, x, axes, less, 1, _element(op))

    def divide(b: Builder, xs: Sequence[SSAValue], t: Attribute) -> SSAValue:
        return b.insert(arith.DivfOp(xs[0], run_time or scalar_const(b, count, t))).results[0]

    return elementwise(lw, op, [total], divide)


@lowering(CollapseSumLike, CollapseSumTo)
def lower_collapse_sum(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """A sum over the collapsed axes (kept), reshaped to the target shape; to a target with
    `?` dims, whose collapsed axes are known at run time only, `_collapse_sum_at_run_time`."""
    if DYNAMIC in shape_of(op.result.type):
        return _collapse_sum_at_run_time(lw, op, args[0])

    def build(b: RelayBuilder, op: RelayOperatorOp) -> SSAValue:
        x = op.operands[0]
        target = shape_of(op.result.type)
        axes = collapsed_axes(shape_of(x), target)
        summed = b.call(Sum, x, axis=axes, keepdims=True) if axes else x
        if shape_of(summed.type) == tuple(target):
            return summed
        return b.call(Reshape, summed, newshape=list(target))

    return lower_through_relay(lw, op, build)


def _collapse_sum_at_run_time(lw: Lowerer, op: RelayOperatorOp, x: SSAValue) -> SSAValue:
    """collapse_sum_like to a target with `?` dims: one reduction whose data index along a
    target axis is o + r, o the result's index and r a reduction loop of d - t + 1 steps
    (d the data's size, t the target's): a summed axis (t = 1) runs r over the data's d, a kept
    one (t = d) runs it once, at o. Both read at run time, so one kernel serves either case,
    with no branch per axis; each axis where t is neither 1 nor d is a located error first.
    The leading axes the target lacks are plain reduction loops."""
    shape, target = shape_of(x), shape_of(op.result.type)
    dtype = tensor_dtype(op.operands[0].type)  # pyright: ignore[reportArgumentType]
    lead, rank = len(shape) - len(target), len(target)
    sizes = lw.result_dims()  # the target's, read for the result (its shape function)
    window: list[int | RuntimeDim] = []
    for j, (size, t) in enumerate(zip(shape[lead:], target, strict=True)):
        if size >= 0 and t >= 0:
            window.append(size - t + 1)
            continue
        data = RuntimeDim.of(lw, x, lead + j) if size < 0 else RuntimeDim.const(lw, size)
        read = sizes[j]
        goal = RuntimeDim(lw, read) if isinstance(read, SSAValue) else RuntimeDim.const(lw, t)
        if t != 1:  # a static 1 collapses whatever the data's size
            differ = lw.insert(arith.CmpiOp(goal.value, data.value, "ne")).results[0]
            not_one = lw.insert(
                arith.CmpiOp(goal.value, RuntimeDim.const(lw, 1).value, "ne")
            ).results[0]
            bad = lw.insert(arith.AndIOp(differ, not_one)).results[0]
            lw.objects.fail_if(
                op,
                bad,
                f"'{op.opdef.name}': the target's axis {j} is neither 1 nor the data's size",
            )
        window.append(data - goal + 1)
    # Loops: the result's axes (parallel), the leading axes, then the windows (reductions).
    loops = 2 * rank + lead
    # Bytes: the window is never read, but bufferize allocates it (freed after the kernel).
    window_t = TensorType(i8, [n if isinstance(n, int) else DYNAMIC for n in window])
    window_sizes = [n.value for n in window if not isinstance(n, int)]
    window_value = lw.insert(tensor.EmptyOp(window_sizes, window_t)).results[0]
    maps = [
        amap(
            loops,
            [
                *(d(rank + i) for i in range(lead)),
                *(d(j) + d(rank + lead + j) for j in range(rank)),
            ],
        ),
        amap(loops, [d(rank + lead + j) for j in range(rank)]),
        amap(loops, [d(j) for j in range(rank)]),
    ]
    start = reduction_identity("sum", dtype, signless(x.type).element_type)  # pyright: ignore[reportAttributeAccessIssue]

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        return BINARY[Add](Scalar(b, dtype), a[2], a[0])

    iterators = [PARALLEL] * rank + [REDUCTION] * (lead + rank)
    return accumulate(lw, [x, window_value], op.result.type, start, maps, iterators, body)


DET_UNROLLED = 12
"""The largest matrix whose det elimination is unrolled into scalar code (about M^3
operations per matrix); larger and `?` sizes take loops (_looped_det)."""


@lowering(Det)
def lower_det(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """One loop over the matrices; each body reads its M x M entries and eliminates them
    unrolled, as the declaration's numpy semantics do (compare-and-swap pivoting, a zero
    pivot eliminating nothing), in float32 (float64 for float64)."""
    from xdsl.dialects import math
    from xdsl.dialects import tensor as tensor_d
    from xdsl.dialects.builtin import Float16Type, Float32Type, Float64Type

    (x,) = args
    elem = x.type.element_type  # pyright: ignore[reportAttributeAccessIssue]
    if not isinstance(elem, Float16Type | Float32Type | Float64Type):
        raise RelayError(f"det of {elem} matrices is not lowered (float16/32/64 are)", op)
    ct = Float64Type() if isinstance(elem, Float64Type) else Float32Type()
    rows, m = shape_of(x)[-2:]
    if DYNAMIC in (rows, m) or m > DET_UNROLLED:
        return _looped_det(lw, op, x, ct)
    out_t = signless(op.result.type)
    rank = len(shape_of(out_t))

    def body(b: Builder, _: Sequence[SSAValue]) -> SSAValue:
        def emit(o):  # noqa: ANN001, ANN202
            return b.insert(o).results[0]

        at = [index(b, k) for k in range(rank)]
        pos = [scalar_const(b, i, IndexType()) for i in range(m)]
        zero, one = scalar_const(b, 0.0, ct), scalar_const(b, 1.0, ct)

        def read(i: int, j: int) -> SSAValue:
            v = emit(tensor_d.ExtractOp(x, [*at, pos[i], pos[j]], elem))
            return emit(arith.ExtFOp(v, ct)) if isinstance(elem, Float16Type) else v

        a = [[read(i, j) for j in range(m)] for i in range(m)]
        sign = one
        for k in range(m):
            for i in range(k + 1, m):
                bigger = emit(
                    arith.CmpfOp(emit(math.AbsFOp(a[i][k])), emit(math.AbsFOp(a[k][k])), "ogt")
                )
                for j in range(k, m):
                    a[k][j], a[i][j] = (
                        emit(arith.SelectOp(bigger, a[i][j], a[k][j])),
                        emit(arith.SelectOp(bigger, a[k][j], a[i][j])),
                    )
                sign = emit(arith.SelectOp(bigger, emit(arith.NegfOp(sign)), sign))
            if k + 1 == m:
                break
            pivot = a[k][k]
            singular = emit(arith.CmpfOp(pivot, zero, "oeq"))
            divisor = emit(arith.SelectOp(singular, one, pivot))
            for i in range(k + 1, m):
                quotient = emit(arith.DivfOp(a[i][k], divisor))
                factor = emit(arith.SelectOp(singular, zero, quotient))
                for j in range(k + 1, m):
                    a[i][j] = emit(arith.SubfOp(a[i][j], emit(arith.MulfOp(factor, a[k][j]))))
        out = sign
        for k in range(m):
            out = emit(arith.MulfOp(out, a[k][k]))
        return emit(arith.TruncFOp(out, elem)) if isinstance(elem, Float16Type) else out

    init = empty(lw, out_t)
    identity = amap(rank, [d(k) for k in range(rank)])
    return generic(lw, [init], [init], [identity, identity], [PARALLEL] * rank, body)[0]


def _looped_det(lw: Lowerer, op: RelayOperatorOp, x: SSAValue, ct: Attribute) -> SSAValue:
    """det of matrices whose size is `?` (or too large to unroll): the same elimination as
    lower_det's, in `scf.for` loops over the run-time size on a copy of the matrices in ct
    (one per matrix, so the matrices stay independent), then the diagonal's product."""
    from xdsl.dialects import math, memref
    from xdsl.dialects.builtin import DYNAMIC_INDEX, Float16Type, MemRefType

    from relay_opt.dialects.relay.ops.reduce import DET_NOT_SQUARE
    from relay_opt.lowering.convert_relay_to_linalg.vision import (
        Emitter,
        dim,
        owned_tensor,
        read_buffer,
        widen,
    )

    shape = shape_of(x)
    rank = len(shape) - 2
    lw.check_same_size(op, x, rank, x, rank + 1, DET_NOT_SQUARE)
    elem = x.type.element_type  # pyright: ignore[reportAttributeAccessIssue]
    e = Emitter(lw.builder)
    data = read_buffer(lw, x)
    sizes = [dim(lw, x, k) for k in range(rank + 2)]
    m = sizes[-1]
    dynamic = [sizes[k] for k, n in enumerate(shape) if n == DYNAMIC]
    work = e(
        memref.AllocOp.get(
            ct,
            shape=[DYNAMIC_INDEX if n == DYNAMIC else n for n in shape],
            dynamic_sizes=dynamic,
        )
    )
    out_t = MemRefType(elem, [DYNAMIC_INDEX if n == DYNAMIC else n for n in shape[:rank]])
    out = e(
        memref.AllocOp.get(
            elem,
            shape=out_t.get_shape(),
            dynamic_sizes=[s for s, n in zip(sizes, shape[:rank], strict=False) if n == DYNAMIC],
        )
    )

    def after(e: Emitter, start: SSAValue, body) -> None:  # noqa: ANN001
        """for i in [start, m): body(e, i) (a loop of m - start trips)."""

        def step(e: Emitter, t: SSAValue, _: Sequence[SSAValue]) -> list[SSAValue]:
            body(e, e(arith.AddiOp(start, t)))
            return []

        e.loop(e(arith.SubiOp(m, start)), [], step)

    def matrix(e: Emitter, at: list[SSAValue]) -> None:
        def a(i: SSAValue, j: SSAValue) -> SSAValue:
            return e.load(work, [*at, i, j])

        def copy(e: Emitter, i: SSAValue) -> None:
            after(
                e,
                e.index(0),
                lambda e, j: e.store(widen(e, e.load(data, [*at, i, j]), ct), work, [*at, i, j]),
            )

        after(e, e.index(0), copy)
        zero, one = e.const(0.0, ct), e.const(1.0, ct)

        def column(e: Emitter, k: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
            (sign,) = carried
            below = e(arith.AddiOp(k, e.index(1)))

            def compare(e: Emitter, t: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
                (sign,) = carried
                i = e(arith.AddiOp(below, t))
                mag_i = e(math.AbsFOp(e.load(work, [*at, i, k])))
                mag_k = e(math.AbsFOp(e.load(work, [*at, k, k])))
                bigger = e(arith.CmpfOp(mag_i, mag_k, "ogt"))

                def swap(e: Emitter) -> list[SSAValue]:
                    def one_swap(e: Emitter, j: SSAValue) -> None:
                        upper, lower = e.load(work, [*at, k, j]), e.load(work, [*at, i, j])
                        e.store(lower, work, [*at, k, j])
                        e.store(upper, work, [*at, i, j])

                    after(e, k, one_swap)
                    return []

                e.if_(bigger, [], swap, lambda _: [])
                return [e.select(bigger, e(arith.NegfOp(sign)), sign)]

            [sign] = e.loop(e(arith.SubiOp(m, below)), [sign], compare)
            pivot = e.load(work, [*at, k, k])
            singular = e(arith.CmpfOp(pivot, zero, "oeq"))
            divisor = e.select(singular, one, pivot)

            def eliminate(e: Emitter, i: SSAValue) -> None:
                quotient = e(arith.DivfOp(e.load(work, [*at, i, k]), divisor))
                factor = e.select(singular, zero, quotient)

                def update(e: Emitter, j: SSAValue) -> None:
                    product = e(arith.MulfOp(factor, e.load(work, [*at, k, j])))
                    e.store(e(arith.SubfOp(e.load(work, [*at, i, j]), product)), work, [*at, i, j])

                after(e, below, update)

            after(e, below, eliminate)
            return [sign]

        [sign] = e.loop(m, [one], column)

        def diagonal(e: Emitter, k: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
            return [e(arith.MulfOp(carried[0], e.load(work, [*at, k, k])))]

        [value] = e.loop(m, [sign], diagonal)
        if isinstance(elem, Float16Type):
            value = e(arith.TruncFOp(value, elem))
        e.store(value, out, at)

    def nest(e: Emitter, at: list[SSAValue]) -> None:
        if len(at) == rank:
            matrix(e, at)
            return

        def inner(e: Emitter, i: SSAValue, _: Sequence[SSAValue]) -> list[SSAValue]:
            nest(e, [*at, i])
            return []

        e.loop(sizes[len(at)], [], inner)

    nest(e, [])
    lw.insert(memref.DeallocOp.get(work))
    return owned_tensor(lw, out)
