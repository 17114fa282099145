"""What combine-parallel-conv2d and combine-parallel-dense share: TVM's ParallelOpCombiner.

Branches are calls of one operator in one block that read the same input and that a
`Combiner` declares compatible (equal keys). Each branch then grows by the elementwise
and broadcast calls that follow it, one level at a time, as long as every branch has
the same operator with the same attributes there, the previous value is used only by
it, and the other operands can be combined too:

    y1 = relu(bias_add(conv2d(x, w1), b1))          c = conv2d(x, concatenate((w1, w2, w3)))
    y2 = relu(bias_add(conv2d(x, w2), b2))    ->    c = relu(bias_add(c, concatenate((b1, b2, b3))))
    y3 = relu(bias_add(conv2d(x, w3), b3))          y1, y2, y3 = slices of c

The combined calls go just before the first use of any branch's result, so every
operand they read (weights, biases) must be defined before that point; pure values
defined later that depend on nothing the branches compute (a constant written next
to its conv2d) are moved up to it. A branch whose weight is not available leaves the
group; a level whose operands are not available ends the branches there.

Two ways to combine (`Layout`): `Concat(axis)` joins the branches along an output
axis (conv2d channels, dense units) and slices the result apart; `Stack()` puts them
on a new leading batch axis (dense to batch_matmul) and splits it.

Calls whose types are not all known, or that have `?` dimensions, are left as they are
(run infer-types first). The walk repeats until nothing combines any more, so the passes
are idempotent.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from xdsl.ir import Block, Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl.rewriter import InsertPoint
from xdsl.traits import Pure

from relay_opt.dialects.relay.attributes import AttrError, Attrs, AttrValue
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.ir_helpers import static_shape
from relay_opt.dialects.relay.ops import transform
from relay_opt.dialects.relay.ops.common import normalize_axis
from relay_opt.dialects.relay.ops.elementwise import Add
from relay_opt.dialects.relay.ops.nn import BiasAdd, Prelu
from relay_opt.dialects.relay.registry import OpPattern, RelayOperatorOp, TypeRelationError

CHANNEL_VECTOR_OPS = (BiasAdd, Prelu)
"""Broadcast calls whose second operand is a vector along their `axis`."""

_SHAPE_ATTRS = ("shape", "axis", "num_newaxis")
"""Attributes of an elementwise or broadcast operator that make it more than elementwise
(expand_dims, broadcast_to, full): such calls never join a branch."""

_MAX_HOIST_DEPTH = 16


def frozen(attrs: Attrs, skip: Sequence[str] = ()) -> Hashable:
    """Attributes as a hashable value, for group keys."""

    def freeze(v: AttrValue) -> Hashable:
        return tuple(freeze(x) for x in v) if isinstance(v, list) else v  # pyright: ignore

    return tuple((k, freeze(v)) for k, v in attrs.items() if k not in skip)


# -- how the branches are joined ----------------------------------------------------------------


class Layout:
    """How the branches' values are joined into one and taken apart again."""

    def follow(
        self,
        op: RelayOperatorOp,
        index: int,
        chains: Sequence[SSAValue],
        others: Sequence[SSAValue | None],
    ) -> bool:
        """Whether the calls of one level (`op` is the first branch's), which take the branch
        values `chains` at operand `index` and the other operands `others`, can be combined."""
        raise NotImplementedError

    def combine_follow(
        self,
        b: RelayBuilder,
        op: RelayOperatorOp,
        index: int,
        combined: SSAValue,
        chains: Sequence[SSAValue],
        others: Sequence[SSAValue | None],
    ) -> SSAValue:
        raise NotImplementedError

    def unpack(
        self, b: RelayBuilder, combined: SSAValue, finals: Sequence[SSAValue]
    ) -> list[SSAValue]:
        """The value of each branch, taken from the combined one."""
        raise NotImplementedError


def _elementwise_kind(op: RelayOperatorOp, index: int) -> str | None:
    """'unary', 'binary' or 'vector' (bias_add, prelu) for a call that may join a branch at
    operand `index`; None for any other call."""
    opdef = op.opdef
    if isinstance(op, CHANNEL_VECTOR_OPS):
        return "vector" if index == 0 else None
    if opdef.pattern > OpPattern.BROADCAST or any(opdef.attr_spec(a) for a in _SHAPE_ATTRS):
        return None
    return {1: "unary", 2: "binary"}.get(len(op.operands))


def _keeps_shape(op: RelayOperatorOp, chain: SSAValue) -> bool:
    shape = static_shape(chain)
    return shape is not None and static_shape(op.result) == shape


@dataclass(frozen=True)
class Concat(Layout):
    """The branches differ only along `axis` of their values (non-negative); the combined
    value has them side by side there."""

    axis: int

    def _other_ok(self, chains: Sequence[SSAValue], others: Sequence[SSAValue]) -> bool:
        if all(o is others[0] for o in others):
            shape = static_shape(others[0])
            if shape is None:
                return False
            rank = len(static_shape(chains[0]) or ())
            pos = self.axis - (rank - len(shape))
            if pos < 0 or shape[pos] == 1:
                return True  # one value, constant along the axis: it broadcasts the same way
        return self._concat_pos(chains, others) is not None

    def _concat_pos(self, chains: Sequence[SSAValue], others: Sequence[SSAValue]) -> int | None:
        """The axis along which the other operands are joined, when they can be."""
        shapes = [static_shape(o) for o in others]
        first = shapes[0]
        if first is None or any(s is None or len(s) != len(first) for s in shapes):
            return None
        if any(o.type.element_type != others[0].type.element_type for o in others):  # pyright: ignore
            return None
        rank = len(static_shape(chains[0]) or ())
        pos = self.axis - (rank - len(first))
        if pos < 0:
            return None
        for s, chain in zip(shapes, chains, strict=True):
            assert s is not None
            if s[pos] != (static_shape(chain) or ())[self.axis]:
                return None  # the operand must run along the whole axis, not broadcast on it
            if any(a != b for k, (a, b) in enumerate(zip(s, first, strict=True)) if k != pos):
                return None
        return pos

    def follow(
        self,
        op: RelayOperatorOp,
        index: int,
        chains: Sequence[SSAValue],
        others: Sequence[SSAValue | None],
    ) -> bool:
        kind = _elementwise_kind(op, index)
        if kind == "unary":
            return True
        if kind == "vector":
            rank = len(static_shape(chains[0]) or ())
            if normalize_axis(op.attrs.axis, rank) != self.axis:
                return False
            sizes = [static_shape(o) for o in others]  # pyright: ignore[reportArgumentType]
            return all(s is not None and len(s) == 1 for s in sizes)
        if kind == "binary":
            return self._other_ok(chains, others)  # pyright: ignore[reportArgumentType]
        return False

    def combine_follow(
        self,
        b: RelayBuilder,
        op: RelayOperatorOp,
        index: int,
        combined: SSAValue,
        chains: Sequence[SSAValue],
        others: Sequence[SSAValue | None],
    ) -> SSAValue:
        operands = list(op.operands)
        kind = _elementwise_kind(op, index)
        if kind != "unary":
            vals: list[SSAValue] = [o for o in others if o is not None]
            if kind == "vector":
                other = b.call(transform.Concatenate, b.tuple(vals), axis=0)
            elif (pos := self._concat_pos(chains, vals)) is not None:
                other = b.call(transform.Concatenate, b.tuple(vals), axis=pos)
            else:
                other = vals[0]
            operands[1 - index] = other
        operands[index] = combined
        return b.call(type(op), *operands, **op.attrs)

    def unpack(
        self, b: RelayBuilder, combined: SSAValue, finals: Sequence[SSAValue]
    ) -> list[SSAValue]:
        outs: list[SSAValue] = []
        start = 0
        for f in finals:
            size = (static_shape(f) or ())[self.axis]
            outs.append(
                b.call(
                    transform.StridedSlice,
                    combined,
                    begin=[start],
                    end=[start + size],
                    axes=[self.axis],
                )
            )
            start += size
        return outs


@dataclass(frozen=True)
class Stack(Layout):
    """The branches have equal shapes; the combined value stacks them on a new axis 0."""

    def follow(
        self,
        op: RelayOperatorOp,
        index: int,
        chains: Sequence[SSAValue],
        others: Sequence[SSAValue | None],
    ) -> bool:
        kind = _elementwise_kind(op, index)
        if kind == "unary":
            return True
        if kind == "vector" and not isinstance(op, BiasAdd):
            return False  # prelu's alpha stays a vector: it cannot follow a stacked value
        if kind not in ("vector", "binary"):
            return False
        vals = [o for o in others if o is not None]
        shape = static_shape(vals[0])
        rank = len(static_shape(chains[0]) or ())
        return (
            shape is not None
            and len(shape) <= rank
            and all(static_shape(o) == shape and o.type == vals[0].type for o in vals)
        )

    def combine_follow(
        self,
        b: RelayBuilder,
        op: RelayOperatorOp,
        index: int,
        combined: SSAValue,
        chains: Sequence[SSAValue],
        others: Sequence[SSAValue | None],
    ) -> SSAValue:
        kind = _elementwise_kind(op, index)
        operands = list(op.operands)
        operands[index] = combined
        if kind == "unary":
            return b.call(type(op), *operands, **op.attrs)
        vals: list[SSAValue] = [o for o in others if o is not None]
        rank = len(static_shape(chains[0]) or ())
        shape = static_shape(vals[0])
        assert shape is not None  # follow() checked it
        if kind == "vector":
            # bias_add(y, b) with y stacked is y + b laid out along the batch and the axis.
            axis = normalize_axis(op.attrs.axis, rank)
            stacked = b.call(transform.Stack, b.tuple(vals), axis=0)
            layout = [len(vals), *([1] * axis), shape[0], *([1] * (rank - 1 - axis))]
            return b.call(Add, combined, b.call(transform.Reshape, stacked, newshape=layout))
        if all(o is vals[0] for o in vals):
            other = vals[0]  # one value for every branch: it broadcasts over the batch axis
        else:
            other = b.call(transform.Stack, b.tuple(vals), axis=0)
            if len(shape) < rank:
                newshape = [len(vals), *([1] * (rank - len(shape))), *shape]
                other = b.call(transform.Reshape, other, newshape=newshape)
        operands[1 - index] = other
        return b.call(type(op), *operands, **op.attrs)

    def unpack(
        self, b: RelayBuilder, combined: SSAValue, finals: Sequence[SSAValue]
    ) -> list[SSAValue]:
        parts = b.call(transform.Split, combined, indices_or_sections=len(finals), axis=0)
        return [
            b.call(transform.Squeeze, b.tuple_get(parts, i), axis=[0]) for i in range(len(finals))
        ]


# -- the combiner ---------------------------------------------------------------------------------


class Combiner:
    """What one pass knows: which calls are roots, which of them combine, and how."""

    root: type[RelayOperatorOp]
    """The operator combined (`Conv2D`)."""

    def key(self, op: RelayOperatorOp) -> Hashable | None:
        """Roots with equal keys combine; None for a call that never does."""
        raise NotImplementedError

    def layout(self, roots: Sequence[RelayOperatorOp]) -> Layout:
        raise NotImplementedError

    def combine_roots(self, b: RelayBuilder, roots: Sequence[RelayOperatorOp]) -> SSAValue:
        raise NotImplementedError


@dataclass
class _Level:
    index: int
    """The operand through which each call takes its branch's value."""
    others: list[SSAValue | None]
    """Each branch's other operand (None for unary calls)."""


class _Group:
    """A group of branches in one block, with what placing their combination needs."""

    def __init__(self, block: Block, roots: list[RelayOperatorOp], layout: Layout):
        self.block = block
        self.roots = roots
        self.layout = layout
        self.position = {op: i for i, op in enumerate(block.ops)}
        self.chains: list[list[RelayOperatorOp]] = []
        self.levels: list[_Level] = []

    def extend(self, cap: int) -> None:
        """Grow every branch by the levels of equal elementwise calls that follow (at most cap)."""
        self.chains = [[r] for r in self.roots]
        self.levels = []
        while len(self.levels) < cap:
            nexts: list[tuple[Operation, int]] = []
            for chain in self.chains:
                value = chain[-1].result
                use = value.first_use
                if use is None or not value.has_one_use():
                    return
                nexts.append((use.operation, use.index))
            users = [u for u, _ in nexts]
            first, index = nexts[0]
            if (
                len(set(users)) != len(users)
                or not isinstance(first, RelayOperatorOp)
                or any(u.parent_block() is not self.block for u in users)
            ):
                return
            if any(
                type(u) is not type(first) or i != index or u.attrs != first.attrs  # pyright: ignore
                for u, i in nexts
            ):
                return
            calls: list[RelayOperatorOp] = users  # pyright: ignore[reportAssignmentType]
            values = [c[-1].result for c in self.chains]
            if not all(_keeps_shape(c, v) for c, v in zip(calls, values, strict=True)):
                return
            others: list[SSAValue | None] = [
                c.operands[1 - index] if len(c.operands) == 2 else None for c in calls
            ]
            if any(
                o is not None and isinstance(o.owner, Operation) and self._in_chain(o.owner, calls)
                for o in others
            ):
                return  # an operand computed by a branch itself
            if not self.layout.follow(first, index, values, others):
                return
            for chain, call in zip(self.chains, calls, strict=True):
                chain.append(call)
            self.levels.append(_Level(index, others))

    def _in_chain(self, op: Operation, calls: Sequence[Operation]) -> bool:
        return op in calls or any(op in chain for chain in self.chains)

    def insertion_point(self) -> Operation | None:
        """The first op of the block that uses a branch's result (None if nothing does)."""
        best: Operation | None = None
        for chain in self.chains:
            for use in chain[-1].result.uses:
                user = self.block.find_ancestor_op_in_block(use.operation)
                if user is not None and (best is None or self.position[user] < self.position[best]):
                    best = user
        return best

    def available(
        self, value: SSAValue, before: Operation, hoist: set[Operation], depth: int = 0
    ) -> bool:
        """Whether `value` can be read just before `before`: it is defined earlier or outside
        the block, or it is pure and its operands are available (then it joins `hoist`)."""
        owner = value.owner
        if not isinstance(owner, Operation) or owner.parent_block() is not self.block:
            return True  # a block argument, or defined in an enclosing region: it dominates the use
        if any(owner in chain for chain in self.chains):
            return False  # a value the branches compute
        if self.position[owner] < self.position[before] or owner in hoist:
            return True
        if depth >= _MAX_HOIST_DEPTH or owner.regions or not owner.has_trait(Pure):
            return False
        if all(self.available(o, before, hoist, depth + 1) for o in owner.operands):
            hoist.add(owner)
            return True
        return False


class CombineParallel(RewritePattern):
    """Combines the group of compatible roots that a matched root belongs to."""

    def __init__(self, combiner: Combiner, min_num_branches: int):
        self.combiner = combiner
        self.min_num_branches = min_num_branches

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: RelayOperatorOp, rewriter: PatternRewriter) -> None:
        combiner = self.combiner
        if not isinstance(op, combiner.root) or (block := op.parent_block()) is None:
            return
        key = combiner.key(op)
        if key is None:
            return
        siblings = {u.operation for u in op.operands[0].uses if u.index == 0}
        roots = [
            s
            for s in siblings
            if isinstance(s, RelayOperatorOp)
            and s.opdef is op.opdef
            and s.parent_block() is block
            and combiner.key(s) == key
        ]
        if len(roots) < self.min_num_branches:
            return
        group = _Group(block, [], combiner.layout(roots))
        group.roots = sorted(roots, key=group.position.__getitem__)
        plan = self._plan(group)
        if plan is None:
            return
        before, hoist = plan
        built: list[Operation] = []
        b = RelayBuilder.collect(built, group.roots[0].location)
        try:
            combined = combiner.combine_roots(b, group.roots)
            for depth, level in enumerate(group.levels):
                calls = [chain[depth + 1] for chain in group.chains]
                values = [chain[depth].result for chain in group.chains]
                combined = group.layout.combine_follow(
                    b, calls[0], level.index, combined, values, level.others
                )
            outs = group.layout.unpack(b, combined, [chain[-1].result for chain in group.chains])
        except (TypeRelationError, AttrError):
            for new in reversed(built):  # a combination the operators reject: undo it
                new.erase(safe_erase=False)
            return
        for moved in sorted(hoist, key=group.position.__getitem__):
            moved.detach()
            block.insert_op_before(moved, before)
        rewriter.insert(built, InsertPoint.before(before))
        for chain, out in zip(group.chains, outs, strict=True):
            rewriter.replace_all_uses_with(chain[-1].result, out)
        for chain in group.chains:
            for call in reversed(chain):
                rewriter.erase(call)

    def _plan(self, group: _Group) -> tuple[Operation, set[Operation]] | None:
        """Shrink the group until every operand the combination reads is available at its
        insertion point; that point and the ops to move up to it, or None."""
        cap = len(group.block.ops)
        while len(group.roots) >= self.min_num_branches:
            group.extend(cap)
            before = group.insertion_point()
            if before is None:
                return None  # nothing uses the branches: dead code is dce's business
            hoist: set[Operation] = set()
            kept = [
                r for r in group.roots if all(group.available(o, before, hoist) for o in r.operands)
            ]
            if len(kept) < len(group.roots):
                group.roots = kept
                continue
            for depth, level in enumerate(group.levels):
                if any(
                    o is not None and not group.available(o, before, hoist) for o in level.others
                ):
                    cap = depth
                    break
            else:
                return before, hoist
        return None


def check_min_num_branches(n: int, pass_name: str) -> None:
    if n < 2:
        from relay_opt.diagnostics import RelayError

        raise RelayError(f"{pass_name}: min-num-branches must be at least 2, got {n}")
