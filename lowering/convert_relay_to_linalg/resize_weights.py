"""image.resize2d's weight matrix of a `?` spatial axis, built at run time.

The registry's `resize_weights` (dialects/relay/ops/transform.py) builds the matrix with
numpy from the static sizes; an axis of `?` size builds the same matrix, (output size,
input size read at run time), with linalg.generic bodies that repeat its float64 arithmetic
in the same order: each output index's source coordinate, then the nearest input index,
or the linear or cubic taps around the coordinate (the kernel is `resize_tap_weight`
itself, run on `_F64` values), folded onto the element each tap reads (clamped to the
axis), normalized for antialias and exclude, zero outside tf_crop_and_resize's roi.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, math, tensor
from xdsl.dialects.builtin import IndexType, TensorType, f64, i1, i64
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Attribute, SSAValue

from relay_opt.dialects.relay.ops.transform import resize_tap_weight
from relay_opt.dialects.relay.types import DYNAMIC, element_type
from relay_opt.lowering.convert_relay_to_linalg import Lowerer, signless
from relay_opt.lowering.convert_relay_to_linalg.elementwise import cast_scalar
from relay_opt.lowering.convert_relay_to_linalg.structured import (
    PARALLEL,
    REDUCTION,
    amap,
    d,
    generic,
    index,
    scalar_const,
)

Emit = Builder | Lowerer


class _F64:
    """A float64 (or i1, from a comparison) scalar with numpy's operators, so the registry's
    formulas written for numpy arrays (resize_tap_weight) build arith ops."""

    def __init__(self, b: Emit, v: SSAValue) -> None:
        self.b, self.v = b, v

    def _of(self, other: object) -> SSAValue:
        if isinstance(other, _F64):
            return other.v
        return scalar_const(self.b, float(other), f64)  # pyright: ignore[reportArgumentType]

    def _op(self, op: type, lhs: object, rhs: object) -> _F64:
        return _F64(self.b, self.b.insert(op(self._of(lhs), self._of(rhs))).results[0])

    def __add__(self, o: object) -> _F64:
        return self._op(arith.AddfOp, self, o)

    def __radd__(self, o: object) -> _F64:
        return self._op(arith.AddfOp, o, self)

    def __sub__(self, o: object) -> _F64:
        return self._op(arith.SubfOp, self, o)

    def __rsub__(self, o: object) -> _F64:
        return self._op(arith.SubfOp, o, self)

    def __mul__(self, o: object) -> _F64:
        return self._op(arith.MulfOp, self, o)

    def __rmul__(self, o: object) -> _F64:
        return self._op(arith.MulfOp, o, self)

    def __truediv__(self, o: object) -> _F64:
        return self._op(arith.DivfOp, self, o)

    def __rtruediv__(self, o: object) -> _F64:
        return self._op(arith.DivfOp, o, self)

    def _cmp(self, o: object, predicate: str) -> _F64:
        cmp = arith.CmpfOp(self.v, self._of(o), predicate)
        return _F64(self.b, self.b.insert(cmp).results[0])

    def __le__(self, o: object) -> _F64:  # pyright: ignore[reportIncompatibleMethodOverride]
        return self._cmp(o, "ole")

    def __lt__(self, o: object) -> _F64:
        return self._cmp(o, "olt")

    def __ge__(self, o: object) -> _F64:  # pyright: ignore[reportIncompatibleMethodOverride]
        return self._cmp(o, "oge")

    def __gt__(self, o: object) -> _F64:
        return self._cmp(o, "ogt")

    def eq(self, o: object) -> _F64:
        return self._cmp(o, "oeq")

    def __or__(self, o: _F64) -> _F64:
        return _F64(self.b, self.b.insert(arith.OrIOp(self.v, o.v)).results[0])

    def __and__(self, o: _F64) -> _F64:
        return _F64(self.b, self.b.insert(arith.AndIOp(self.v, o.v)).results[0])

    def unary(self, op: type) -> _F64:
        return _F64(self.b, self.b.insert(op(self.v)).results[0])


class _Ops:
    """numpy's `where`, `maximum` and `minimum` for `_F64` values."""

    @staticmethod
    def where(c: _F64, a: object, b: object) -> _F64:
        return _F64(c.b, c.b.insert(arith.SelectOp(c.v, c._of(a), c._of(b))).results[0])  # noqa: SLF001

    @staticmethod
    def maximum(a: _F64, b: object) -> _F64:
        return a._op(arith.MaximumfOp, a, b)  # noqa: SLF001

    @staticmethod
    def minimum(a: _F64, b: object) -> _F64:
        return a._op(arith.MinimumfOp, a, b)  # noqa: SLF001


def _float(b: Emit, v: SSAValue) -> _F64:
    """An index value as float64."""
    wide = b.insert(arith.IndexCastOp(v, i64)).results[0]
    return _F64(b, b.insert(arith.SIToFPOp(wide, f64)).results[0])


def _sized(lw: Lowerer, t: TensorType, sizes: Sequence[SSAValue]) -> SSAValue:
    return lw.insert(tensor.EmptyOp(list(sizes), t)).results[0]


def _source_coords(
    b: Builder, i: _F64, out_size: int, in_size: _F64, attrs: object, axis: int
) -> _F64:
    """`source_coords` of output index i: the same float64 operations in the same order."""
    mode = attrs.coordinate_transformation_mode  # pyright: ignore[reportAttributeAccessIssue]
    scale = _F64(b, scalar_const(b, float(out_size), f64)) / in_size
    width = scale * in_size
    single = width.eq(1.0)
    if mode == "tf_crop_and_resize":
        lo, hi = attrs.roi[axis], attrs.roi[axis + 2]  # pyright: ignore[reportAttributeAccessIssue]
        start = lo * (in_size - 1.0)
        span = (hi - lo) * (in_size - 1.0)
        return _Ops.where(single, start + span * 0.5, start + i * span / (width - 1.0))
    if mode == "align_corners":
        return _Ops.where(single, 0.0, i * ((in_size - 1.0) / (width - 1.0)))
    if mode == "asymmetric":
        return i / scale
    half_pixel = (i + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return _Ops.where(single, 0.0, half_pixel)
    return half_pixel


def runtime_resize_weights(
    lw: Lowerer, attrs: object, axis: int, in_size: SSAValue, dtype: str
) -> tuple[SSAValue, SSAValue | None]:
    """resize2d's weight matrix along spatial `axis` (0: height, 1: width) of an input axis
    of run-time size `in_size`: (output size, ?) in Relay dtype `dtype`; and, for
    tf_crop_and_resize, which outputs lie outside the roi ((output size,) i1)."""
    a = attrs
    out_size = a.size[axis]  # pyright: ignore[reportAttributeAccessIssue]
    method, exclude = a.method, bool(a.cubic_exclude)  # pyright: ignore[reportAttributeAccessIssue]
    crop = a.coordinate_transformation_mode == "tf_crop_and_resize"  # pyright: ignore[reportAttributeAccessIssue]
    normalize = method != "nearest_neighbor" and (a.antialias or exclude)  # pyright: ignore[reportAttributeAccessIssue]
    in_f = _float(lw, in_size)

    def coords(b: Builder) -> _F64:
        size = _F64(b, in_f.v)
        return _source_coords(b, _float(b, index(b, 0)), out_size, size, a, axis)

    outside = None
    if crop:
        mask_t = TensorType(i1, [out_size])

        def outside_body(b: Builder, _: Sequence[SSAValue]) -> SSAValue:
            c = coords(b)
            return ((c < 0.0) | (c > _F64(b, in_f.v) - 1.0)).v

        outside = generic(
            lw, [], [_sized(lw, mask_t, [])], [amap(1, [d(0)])], [PARALLEL], outside_body
        )[0]

    wide_t = TensorType(f64, [out_size, DYNAMIC])
    pair = amap(2, [d(0), d(1)])
    if method == "nearest_neighbor":

        def weight(b: Builder) -> SSAValue:
            c = coords(b)
            rounding = a.rounding_method or (  # pyright: ignore[reportAttributeAccessIssue]
                "round" if a.coordinate_transformation_mode == "align_corners" else "floor"  # pyright: ignore[reportAttributeAccessIssue]
            )
            picked = {
                "round": lambda: c.unary(math.RoundEvenOp),
                "floor": lambda: c.unary(math.FloorOp),
                "ceil": lambda: c.unary(math.CeilOp),
                "round_prefer_floor": lambda: (c - 0.5).unary(math.CeilOp),
                "round_prefer_ceil": lambda: (c + 0.5).unary(math.FloorOp),
            }[rounding]()
            at = b.insert(arith.FPToSIOp(picked.v, i64)).results[0]
            last = b.insert(arith.IndexCastOp(in_size, i64)).results[0]
            last = b.insert(arith.SubiOp(last, scalar_const(b, 1, i64))).results[0]
            at = b.insert(arith.MaxSIOp(at, scalar_const(b, 0, i64))).results[0]
            at = b.insert(arith.MinSIOp(at, last)).results[0]
            r = b.insert(arith.IndexCastOp(index(b, 1), i64)).results[0]
            hit = b.insert(arith.CmpiOp(at, r, "eq")).results[0]
            return _Ops.where(_F64(b, hit), 1.0, 0.0).v

        matrix = None
    else:
        reach = 1.0 if method == "linear" else 2.0
        stretch = (
            _Ops.minimum(_F64(lw, scalar_const(lw, float(out_size), f64)) / in_f, 1.0)
            if a.antialias  # pyright: ignore[reportAttributeAccessIssue]
            else _F64(lw, scalar_const(lw, 1.0, f64))
        )
        # the taps around c are floor(c) + k for k in [first, 1 - first]: 2 - 2 * first of them
        first = (_F64(lw, scalar_const(lw, -reach, f64)) / stretch).unary(math.FloorOp) + 1.0
        first_i = lw.insert(arith.FPToSIOp(first.v, i64)).results[0]
        taps = lw.insert(arith.MuliOp(first_i, scalar_const(lw, -2, i64))).results[0]
        taps = lw.insert(arith.AddiOp(taps, scalar_const(lw, 2, i64))).results[0]
        taps = lw.insert(arith.IndexCastOp(taps, IndexType())).results[0]
        # Only gives the tap loop its bound: nothing reads it.
        tap_loop = _sized(lw, TensorType(f64, [DYNAMIC]), [taps])

        def tap_body(b: Builder, args: Sequence[SSAValue]) -> SSAValue:
            c = coords(b)
            size = _F64(b, in_f.v)
            k = _F64(b, first.v) + _float(b, index(b, 2))
            tap = c.unary(math.FloorOp) + k
            x = (tap - c).unary(math.AbsFOp) * _F64(b, stretch.v)
            w = resize_tap_weight(x, method, a.cubic_alpha, _Ops)  # pyright: ignore[reportAttributeAccessIssue]
            if exclude:
                w = _Ops.where((tap >= 0.0) & (tap <= size - 1.0), w, 0.0)
            clamped = _Ops.minimum(_Ops.maximum(tap, 0.0), size - 1.0)
            w = _Ops.where(clamped.eq(_float(b, index(b, 1))), w, 0.0)
            return (_F64(b, args[1]) + w).v

        zero = scalar_const(lw, 0.0, f64)
        start = _sized(lw, wide_t, [in_size])
        start = lw.insert(linalg.FillOp([zero], [start], [wide_t])).results[0]
        matrix = generic(
            lw,
            [tap_loop],
            [start],
            [amap(3, [d(2)]), amap(3, [d(0), d(1)])],
            [PARALLEL, PARALLEL, REDUCTION],
            tap_body,
        )[0]
        sums = None
        if normalize:
            sums_t = TensorType(f64, [out_size])
            init = lw.insert(linalg.FillOp([zero], [_sized(lw, sums_t, [])], [sums_t]))
            sums = generic(
                lw,
                [matrix],
                [init.results[0]],
                [pair, amap(2, [d(0)])],
                [PARALLEL, REDUCTION],
                lambda b, args: b.insert(arith.AddfOp(args[0], args[1])).results[0],
            )[0]

        def weight(b: Builder) -> SSAValue:
            m = b.insert(tensor.ExtractOp(matrix, [index(b, 0), index(b, 1)], f64)).results[0]
            if sums is not None:
                total = b.insert(tensor.ExtractOp(sums, [index(b, 0)], f64)).results[0]
                m = b.insert(arith.DivfOp(m, total)).results[0]
            return m

    element: Attribute = signless(element_type(dtype))
    out_t = TensorType(element, [out_size, DYNAMIC])

    def final(b: Builder, _: Sequence[SSAValue]) -> SSAValue:
        w = weight(b)
        if outside is not None:  # rows outside the roi are zero
            out = b.insert(tensor.ExtractOp(outside, [index(b, 0)], i1)).results[0]
            w = b.insert(arith.SelectOp(out, scalar_const(b, 0.0, f64), w)).results[0]
        return cast_scalar(b, w, "float64", dtype, element)

    weights = generic(lw, [], [_sized(lw, out_t, [in_size])], [pair], [PARALLEL] * 2, final)[0]
    return weights, outside
