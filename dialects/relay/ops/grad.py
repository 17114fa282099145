"""How an operator declares its gradient, and the helpers its rule builds with.

Each differentiable operator's rule sits in its family module, right after the class:

    @gradient(Exp)
    def _exp_grad(g: GradBuilder, op: RelayOperatorOp, dy: SSAValue) -> Adjoints:
        return [g.mul(dy, op.result)]

A rule gets the forward call `op` (its operands and result are values of the function the
gradient pass builds), the adjoint `dy` of its result (a list of per-field adjoints when the
result is a tuple, zeros for fields nothing used) and returns one adjoint per operand: a
value of the operand's type, None when the operand gets no gradient (an index, a
condition), or a list of per-field adjoints for a tuple operand (concatenate's). A rule
that cannot differentiate a call (an attribute it does not support) raises
`NotDifferentiable` with the reason; an operator without a rule is not differentiable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from xdsl.ir import SSAValue

from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.types import DYNAMIC, tensor_dtype, tensor_shape

Adjoint = SSAValue | list[SSAValue] | None
Adjoints = Sequence[Adjoint]
DY = SSAValue | list[SSAValue]
GradientRule = Callable[["GradBuilder", RelayOperatorOp, DY], Adjoints]

_RULES: dict[type[RelayOperatorOp], GradientRule] = {}
_RuleT = TypeVar("_RuleT", bound=Callable[..., Adjoints])


class NotDifferentiable(Exception):
    """A call the gradient rule of its operator cannot differentiate; the message says why."""


def gradient(*op_classes: type[RelayOperatorOp]) -> Callable[[_RuleT], _RuleT]:
    """Declare `rule` as the gradient of each operator in `op_classes`."""

    def define(rule: _RuleT) -> _RuleT:
        for cls in op_classes:
            if cls in _RULES:
                raise ValueError(f"operator '{cls.OPDEF.name}' has two gradient rules")
            _RULES[cls] = rule
        return rule

    return define


def gradient_rule(op_class: type[RelayOperatorOp]) -> GradientRule | None:
    """The declared gradient of an operator class, or None."""
    return _RULES.get(op_class)


def differentiable_operators() -> list[type[RelayOperatorOp]]:
    return list(_RULES)


def shape_of(v: SSAValue) -> tuple[int, ...]:
    return tensor_shape(v.type)  # pyright: ignore[reportArgumentType]


def dtype_of(v: SSAValue) -> str:
    return tensor_dtype(v.type)  # pyright: ignore[reportArgumentType]


class GradBuilder(RelayBuilder):
    """The RelayBuilder with the arithmetic gradient rules share (operators imported when
    used: the families import this module)."""

    def _ew(self):  # noqa: ANN202
        from relay_opt.dialects.relay.ops import elementwise

        return elementwise

    def plus(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.call(self._ew().Add, a, b)

    def minus(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.call(self._ew().Subtract, a, b)

    def mul(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.call(self._ew().Multiply, a, b)

    def div(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.call(self._ew().Divide, a, b)

    def neg(self, a: SSAValue) -> SSAValue:
        return self.call(self._ew().Negative, a)

    def scale(self, a: SSAValue, k: float) -> SSAValue:
        return self.mul(a, self.scalar(k, a))

    def zeros_like(self, v: SSAValue) -> SSAValue:
        from relay_opt.dialects.relay.ops.transform import ZerosLike

        return self.call(ZerosLike, v)

    def ones_like(self, v: SSAValue) -> SSAValue:
        from relay_opt.dialects.relay.ops.transform import OnesLike

        return self.call(OnesLike, v)

    def select(self, cond: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.call(self._ew().Where, cond, a, b)

    def mask(self, cond: SSAValue, like: SSAValue) -> SSAValue:
        """`cond` as 0/1 in `like`'s dtype."""
        return self.call(self._ew().Cast, cond, dtype=dtype_of(like))

    def reshape(self, v: SSAValue, shape: Sequence[int]) -> SSAValue:
        from relay_opt.dialects.relay.ops.transform import Reshape

        if shape_of(v) == tuple(shape):
            return v
        return self.call(Reshape, v, newshape=list(shape))

    def transpose(self, v: SSAValue, axes: Sequence[int]) -> SSAValue:
        from relay_opt.dialects.relay.ops.transform import Transpose

        return self.call(Transpose, v, axes=list(axes))

    def reduce_sum(self, v: SSAValue, axes: Sequence[int], keepdims: bool = False) -> SSAValue:
        from relay_opt.dialects.relay.ops.reduce import Sum

        if not axes:
            return v
        return self.call(Sum, v, axis=list(axes), keepdims=keepdims)

    def broadcast_to(
        self, v: SSAValue, shape: Sequence[int], like: SSAValue | None = None
    ) -> SSAValue:
        """`v` broadcast to `shape`; to `like`'s shape when that has `?` dims."""
        from relay_opt.dialects.relay.ops.transform import BroadcastTo, BroadcastToLike

        if shape_of(v) == tuple(shape):
            return v
        if DYNAMIC in shape:
            if like is None:
                raise NotDifferentiable("a broadcast back to a shape with `?` dims")
            return self.call(BroadcastToLike, v, like)
        return self.call(BroadcastTo, v, shape=list(shape))

    def sum_to(self, g: SSAValue, shape: Sequence[int]) -> SSAValue:
        """Un-broadcast: the adjoint `g` of a value broadcast from `shape` summed back to it
        (leading axes broadcasting added, and the axes where `shape` has 1)."""
        gshape = shape_of(g)
        if gshape == tuple(shape):
            return g
        lead = len(gshape) - len(shape)
        axes = list(range(lead))
        axes += [lead + i for i, d in enumerate(shape) if d == 1 and gshape[lead + i] != 1]
        return self.reshape(self.reduce_sum(g, axes, keepdims=True), shape)

    def full_constant(self, array: np.ndarray, like: SSAValue) -> SSAValue:
        return self.constant(np.asarray(array, dtype=np.dtype(dtype_of(like))), dtype_of(like))

    def slice_back(
        self,
        dy: SSAValue,
        shape: Sequence[int],
        bounds: Sequence[tuple[int, int, int]],
    ) -> SSAValue:
        """The adjoint of `x[b0:e0:s0, ...]` (x of `shape`, positive steps) from the slice's
        adjoint `dy`: spread each axis by its step (reshape, then pad the new unit axis), then
        zero-pad to `shape`. No scatter is needed, so it lowers like any pad."""
        from relay_opt.dialects.relay.ops.nn import Pad

        g = dy
        for axis, (begin, _, step) in enumerate(bounds):
            n = shape_of(g)[axis]
            if step > 1 and n > 0:
                cur = shape_of(g)
                g = self.reshape(g, (*cur[: axis + 1], 1, *cur[axis + 1 :]))
                widths = [[0, 0] for _ in range(len(cur) + 1)]
                widths[axis + 1] = [0, step - 1]
                g = self.call(Pad, g, self.scalar(0, g), pad_width=widths)
                g = self.reshape(g, (*cur[:axis], n * step, *cur[axis + 1 :]))
            # After spreading, the axis covers begin .. begin + n*step; pad or crop to shape.
            cur = shape_of(g)
            after = shape[axis] - begin - cur[axis]
            if after < 0:
                g = self.crop(g, axis, 0, cur[axis] + after)
                after = 0
            if begin or after:
                widths = [[0, 0] for _ in cur]
                widths[axis] = [begin, after]
                g = self.call(Pad, g, self.scalar(0, g), pad_width=widths)
        return g

    def spatial_adjoint(
        self, dy: SSAValue, rows: np.ndarray, cols: np.ndarray, dy_layout: str, x_layout: str
    ) -> SSAValue:
        """The adjoint of a separable linear map of the two spatial axes (resize, adaptive
        pooling): `y[n, c, i, j] = sum rows[i, r] * cols[j, s] * x[n, c, r, s]`, so
        `dx = rows^T dy cols`, as two matmuls on dy seen in NCHW; the result in `x_layout`."""
        from relay_opt.dialects.relay.ops.nn import Matmul

        def permute(v: SSAValue, src: str, dst: str) -> SSAValue:
            axes = [src.index(a) for a in dst]
            return v if axes == sorted(axes) else self.transpose(v, axes)

        d = permute(dy, dy_layout, "NCHW")
        n, c, oh, ow = shape_of(d)
        h, w = rows.shape[1], cols.shape[1]
        # Along W: (n*c*oh, ow) @ cols -> (n*c*oh, w); then along H on the (.., w, oh) view.
        d = self.call(Matmul, self.reshape(d, (n * c * oh, ow)), self.full_constant(cols, dy))
        d = self.transpose(self.reshape(d, (n * c, oh, w)), (0, 2, 1))
        d = self.call(Matmul, self.reshape(d, (n * c * w, oh)), self.full_constant(rows, dy))
        return permute(self.reshape(d, (n, c, w, h)), "NCWH", x_layout)

    def crop(self, v: SSAValue, axis: int, begin: int, end: int, step: int = 1) -> SSAValue:
        from relay_opt.dialects.relay.ops.transform import StridedSlice

        return self.call(StridedSlice, v, begin=[begin], end=[end], strides=[step], axes=[axis])
