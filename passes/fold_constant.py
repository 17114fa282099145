"""fold-constant: computes operator calls whose operands are all constants, at compile time.

The values come from the operators' numpy semantics (the interpreter's); a
folded result larger than `INLINE_LIMIT` elements becomes a resource, not text. A call
whose result would be much larger than its operands (`GROWTH_LIMIT`) is not folded.
Tuples of constants and projections of them fold too. Opaque operators stay, except
arange.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType, TupleType
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.ops.transform import Arange
from relay_opt.dialects.relay.registry import OpPattern, RelayOperatorOp
from relay_opt.dialects.relay.resources import array_of
from relay_opt.dialects.relay.types import tensor_dtype


def _constant(v: SSAValue) -> object:
    """The value of `v` if it is a constant (or a tuple of constants), else None."""
    owner = v.owner
    if isinstance(owner, core.ConstantOp):
        return np.asarray(array_of(owner.value))
    if isinstance(owner, core.TupleOp):
        fields = [_constant(f) for f in owner.fields]
        return None if any(f is None for f in fields) else tuple(fields)
    return None


GROWTH_LIMIT = 1 << 16
"""Elements a folded result may have beyond its operands' total: `zeros((4096, 4096))` or a
`tile` of a small constant stays a call (a fill loop is cheaper than a 64 MiB constant, and
folding must not exhaust memory at compile time), while re-laying a large weight (the same
size out as in) still folds."""


def _elements(t: Attribute) -> int | None:
    """Elements of a static tensor type (tuples summed); None when a dimension is `?`."""
    if isinstance(t, TupleType):
        sizes = [_elements(f) for f in t.types]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)
    if isinstance(t, TensorType):
        shape = t.get_shape()
        return None if any(d < 0 for d in shape) else math.prod(shape)
    return None


def _input_elements(value: object) -> int:
    if isinstance(value, tuple):
        return sum(_input_elements(f) for f in value)
    return int(np.asarray(value).size)


def _grows_too_much(op: RelayOperatorOp, values: list[object]) -> bool:
    out = _elements(op.result.type)
    if out is None:
        return True
    return out > sum(_input_elements(v) for v in values) + GROWTH_LIMIT


class FoldOperator(RewritePattern):
    """An operator call whose operands are all constants (one generic pattern for all operators)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: RelayOperatorOp, rewriter: PatternRewriter) -> None:
        # Opaque operators (dropout, layer_norm, ...) are left to run, as TVM leaves them; arange
        # is opaque too but folds: with constant operands it is a constant.
        if op.opdef.pattern is OpPattern.OPAQUE and not isinstance(op, Arange):
            return
        values = [_constant(o) for o in op.operands]
        if any(v is None for v in values):
            return
        if _grows_too_much(op, values):
            return
        out = op.opdef.evaluate(op.attrs, *values)
        new: list[Operation] = []
        b = RelayBuilder.collect(new, op.location)
        if isinstance(out, tuple):
            types = op.result.type.types  # pyright: ignore[reportAttributeAccessIssue]
            fields = [
                b.constant(np.asarray(o), tensor_dtype(t)) for o, t in zip(out, types, strict=True)
            ]
            tup = b.tuple(fields)
            rewriter.replace(op, new, [tup])
        else:
            b.constant(np.asarray(out), tensor_dtype(op.result.type))  # pyright: ignore
            rewriter.replace(op, new)


class FoldTupleGet(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: core.TupleGetOp, rewriter: PatternRewriter) -> None:
        owner = op.tuple.owner
        if isinstance(owner, core.TupleOp):
            rewriter.replace(op, [], [owner.fields[op.field_index]])


@dataclass(frozen=True)
class FoldConstantPass(ModulePass):
    """Evaluates operator calls on constants with their numpy semantics."""

    name = "fold-constant"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # The applier erases the pure ops left without uses (the constants folded into others).
        patterns = [FoldOperator(), FoldTupleGet()]
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns)).rewrite_module(op)
