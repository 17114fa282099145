"""The one way to build Relay: operator calls by class, constants, tuples and projections.

Each op gets the builder's source location and goes to `insert`, a callback that puts it
where the caller wants it: before the op a rewrite pattern matched (`RelayBuilder.before`),
at the end of a block (`at_end`), or into a list (`collect`). Operator calls take their
attributes as keywords, with the operator's defaults for the others, and infer their result
type from the operands' (`!relay.incomplete` while some operand type is not known yet):

    b = RelayBuilder.before(rewriter, op.location)
    y = b.call(Add, b.call(Multiply, x, scale), shift)
    z = b.call(Reshape, y, newshape=[1, -1])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import numpy as np
from xdsl.dialects.builtin import LocationAttr
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter

from relay_opt.dialects.relay.core import ConstantOp, TupleGetOp, TupleOp
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype, string_array
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.resources import constant_attr
from relay_opt.dialects.relay.types import tensor_dtype

OpT = TypeVar("OpT", bound=Operation)
OperatorT = TypeVar("OperatorT", bound=RelayOperatorOp)


class RelayBuilder:
    """Builds Relay ops at one source location, handing each to `insert`."""

    def __init__(self, insert: Callable[[Operation], object], location: LocationAttr | None = None):
        self.insert = insert
        self.location = location
        """Given to every op built; None leaves the op's own (unknown) location."""

    @classmethod
    def before(cls, rewriter: PatternRewriter, location: LocationAttr | None) -> RelayBuilder:
        """Inserts before the op `rewriter`'s pattern matched."""
        return cls(rewriter.insert, location)

    @classmethod
    def at_end(cls, block: Block, location: LocationAttr | None = None) -> RelayBuilder:
        return cls(block.add_op, location)

    @classmethod
    def collect(cls, ops: list[Operation], location: LocationAttr | None = None) -> RelayBuilder:
        """Appends to `ops`, for a caller that places (or discards) them all at once."""
        return cls(ops.append, location)

    def add(self, op: OpT) -> OpT:
        if self.location is not None:
            op.location = self.location
        self.insert(op)
        return op

    # -- operator calls ----------------------------------------------------------------------

    def build(
        self,
        op: type[OperatorT],
        *operands: SSAValue | Operation,
        result_type: Attribute | None = None,
        **attrs: object,
    ) -> OperatorT:
        """A call of operator `op`; its result type is inferred unless given. Raises
        TypeRelationError or AttrError when the operator rejects the operands or attributes."""
        built = op.OPDEF.build(operands, attrs, result_type)  # pyright: ignore[reportArgumentType]
        return cast(OperatorT, self.add(built))

    def call(
        self,
        op: type[RelayOperatorOp],
        *operands: SSAValue | Operation,
        result_type: Attribute | None = None,
        **attrs: object,
    ) -> SSAValue:
        """The result of a call of operator `op` (see `build`)."""
        return self.build(op, *operands, result_type=result_type, **attrs).result

    # -- constants, tuples -------------------------------------------------------------------

    def constant(self, array: np.ndarray, dtype: str | None = None) -> SSAValue:
        """A constant holding `array` (inline when small, else a resource); a string array
        (dtype object or 'U') is a `strings.constant`."""
        if array.dtype.kind in "OU":
            from relay_opt.dialects.relay.ops.strings import StringConstant  # (ops import us)

            values = list(string_array(array).reshape(-1))
            return self.call(StringConstant, texts=values, shape=list(array.shape))
        return self.add(ConstantOp(constant_attr(array, dtype))).result

    def scalar(self, value: float | int | bool, like: SSAValue | str) -> SSAValue:
        """A 0-d constant with the dtype of tensor `like` (or the dtype named)."""
        dtype = like if isinstance(like, str) else tensor_dtype(like.type)  # pyright: ignore
        return self.constant(np.array(value, dtype=numpy_dtype(dtype)), dtype)

    def tuple(self, fields: Sequence[SSAValue | Operation]) -> SSAValue:
        return self.add(TupleOp(fields)).result

    def tuple_get(self, tup: SSAValue | Operation, index: int) -> SSAValue:
        return self.add(TupleGetOp(tup, index)).result
