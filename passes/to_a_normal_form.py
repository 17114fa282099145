"""to-a-normal-form: every value is computed in the innermost scope that holds all its uses
(TVM's ToANormalForm, whose dependency graph puts each let at the least common ancestor scope
of its uses).

In the Relay dialect every intermediate is already named (an SSA value) and evaluation order
is the order of the ops, so what A-normal form adds is scoping: a pure computation used
only inside one branch of a `relay.if` or one clause of a `relay.match` moves into that
branch, before its first use there, so it runs only on the path that needs it; nested
branches take it deeper. Values used on several paths, or after the branch, stay where they
are. Only pure value ops move (operator calls, constants, tuples, projections, constructors,
global references); calls, references and closures stay in place, and nothing moves into a
closure body (a closure may run many times). The inverse is to-graph-normal-form.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.registry import RelayOperatorOp

MOVABLE = (
    RelayOperatorOp,
    core.ConstantOp,
    core.TupleOp,
    core.TupleGetOp,
    core.GlobalRefOp,
    adt.ConstructOp,
)
"""Ops that only compute a value from their operands: they may run in another scope."""

BRANCHING = (core.IfOp, adt.MatchOp)
"""Ops whose regions are scopes of control flow (run at most once, where they are)."""


def branch_scopes(block: Block) -> list[Block]:
    """`block` and the blocks around it, innermost first, as far as only branches of ifs and
    matches enclose it (up to the function or closure body)."""
    chain = [block]
    while True:
        parent = chain[-1].parent_op()
        if not isinstance(parent, BRANCHING) or parent.parent_block() is None:
            return chain
        chain.append(parent.parent_block())  # pyright: ignore[reportArgumentType]


def _ancestor_in(op: Operation, block: Block) -> Operation | None:
    """The op of `block` that is `op` or holds it."""
    current: Operation | None = op
    while current is not None and current.parent_block() is not block:
        current = current.parent_op()
    return current


def _target(op: Operation) -> tuple[Block, Operation] | None:
    """The innermost branch block holding every use of `op`, with the op of it that holds
    the first use; None if that is `op`'s own block."""
    home = op.parent_block()
    assert home is not None
    common: list[Block] | None = None
    for result in op.results:
        for use in result.uses:
            user_block = use.operation.parent_block()
            assert user_block is not None
            chain = branch_scopes(user_block)
            if home not in chain:
                return None  # used inside a closure body: stays
            path = list(reversed(chain[: chain.index(home) + 1]))  # home first
            if common is None:
                common = path
            else:
                n = 0
                while n < min(len(common), len(path)) and common[n] is path[n]:
                    n += 1
                common = common[:n]
    if not common or len(common) < 2:
        return None
    target = common[-1]
    first = min(
        (_ancestor_in(use.operation, target) for r in op.results for use in r.uses),
        key=lambda o: target.get_operation_index(o),  # pyright: ignore[reportArgumentType]
    )
    assert first is not None
    return target, first


def sink_into_branches(func: Operation) -> None:
    blocks = [b for inner in func.walk() for region in inner.regions for b in region.blocks]
    for block in blocks:
        for op in reversed(list(block.ops)):
            if not isinstance(op, MOVABLE) or not any(r.uses for r in op.results):
                continue
            if (found := _target(op)) is not None:
                target, before = found
                op.detach()
                target.insert_op_before(op, before)


@dataclass(frozen=True)
class ToANormalFormPass(ModulePass):
    """Moves each pure computation into the innermost if/match branch holding all its uses."""

    name = "to-a-normal-form"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for func in op.ops:
            if isinstance(func, core.FuncOp):
                sink_into_branches(func)
