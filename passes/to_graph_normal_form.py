"""to-graph-normal-form: one dataflow graph per function body (TVM's ToGraphNormalForm).

TVM's graph normal form has no let bindings: sharing is a graph edge and where a value is
computed is not part of the program. Here every value is an SSA value already, so the pass
makes the placement graph-like: each pure computation inside a `relay.if` branch or a
`relay.match` clause moves out to the outermost enclosing block where its operands exist,
before the branch; the branches are left choosing among values of one graph (what
fuse-ops and a graph executor see whole). Relay's operators are total (integer division by
zero and out-of-range `take` have defined values), so computing a value on a path that
does not use it changes only the cost, never the result. Values that read a clause's
pattern variables or a branch's own results stay inside as far as they must. The same
ops move as in to-a-normal-form (pure value ops; never out of a closure body), which is
its inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import core
from relay_opt.passes.to_a_normal_form import MOVABLE, branch_scopes


def _holder_in(op: Operation, block: Block) -> Operation:
    current: Operation | None = op
    while current is not None and current.parent_block() is not block:
        current = current.parent_op()
    assert current is not None
    return current


def _defining_block(value: object) -> Block | None:
    from xdsl.ir import BlockArgument, OpResult

    if isinstance(value, BlockArgument):
        return value.block
    if isinstance(value, OpResult):
        return value.op.parent_block()
    return None


def hoist_out_of_branches(func: Operation) -> None:
    for op in list(func.walk()):
        if not isinstance(op, MOVABLE) or op.regions:
            continue
        home = op.parent_block()
        if home is None:
            continue
        chain = branch_scopes(home)
        # The outermost block of the chain where every operand is defined (in it or outside).
        outermost = len(chain) - 1
        for operand in op.operands:
            block = _defining_block(operand)
            if block in chain:
                outermost = min(outermost, chain.index(block))  # pyright: ignore[reportArgumentType]
        if outermost > 0:
            target = chain[outermost]
            before = _holder_in(op, target)
            op.detach()
            target.insert_op_before(op, before)


@dataclass(frozen=True)
class ToGraphNormalFormPass(ModulePass):
    """Moves each pure computation out of if/match branches to where its operands are."""

    name = "to-graph-normal-form"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for func in op.ops:
            if isinstance(func, core.FuncOp):
                hoist_out_of_branches(func)
