"""fuse-ops: TVM's operator fusion (its FuseOps pass).

In each function's dataflow graph, a node may fuse into its immediate
post-dominator when every path between them passes the rule of its pattern
kind:
- phase 0: an out-elementwise-fusable anchor (conv2d, dense, ...) takes an
  elementwise post-dominator when everything between is at most broadcast;
  elementwise/broadcast nodes fuse into injective or reduction post-dominators
  (the sink may also be an anchor's group);
- phase 1: injective nodes and tuples fuse along injective paths;
- phase 2: injective nodes fuse into tuples already fused into injective groups.
A group never grows past `max-depth` nodes. Each group becomes a closure with
the `Primitive` attribute, called in place:

    %f = relay.fn (%p0: ..., %p1: ...) -> ... attributes {Primitive = 1 : i64} { ... }
    %y = relay.call_closure %f(%x, %w) : ...
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.attribute_names import PRIMITIVE
from relay_opt.dialects.relay.registry import OpPattern, RelayOperatorOp

ELEMWISE, BROADCAST, INJECTIVE = OpPattern.ELEMWISE, OpPattern.BROADCAST, OpPattern.INJECTIVE
REDUCE, OEF, TUPLE, OPAQUE = (
    OpPattern.COMM_REDUCE,
    OpPattern.OUT_ELEMWISE_FUSABLE,
    OpPattern.TUPLE,
    OpPattern.OPAQUE,
)


def op_pattern(op: Operation) -> OpPattern:
    if isinstance(op, RelayOperatorOp):
        return op.opdef.pattern
    if isinstance(op, core.TupleOp):
        return TUPLE
    if isinstance(op, core.TupleGetOp):
        return INJECTIVE
    return OPAQUE


@dataclass(eq=False)
class Node:
    op: Operation
    index: int
    pattern: OpPattern
    outputs: list[tuple[Node, OpPattern]] = field(default_factory=list)
    extern: bool = False  # used by something that is not a node (a return, a call, ...)
    # post-dominator tree
    parent: Node | None = None
    depth: int = 0
    edge_pattern: OpPattern = ELEMWISE


@dataclass(eq=False)
class Group:
    pattern: OpPattern
    parent: Group | None = None
    size: int = 1

    def root(self) -> Group:
        g = self
        while g.parent is not None:
            g = g.parent
        # Path compression: a chain fuses one node at a time, and without it every lookup
        # walks the whole group built so far.
        h = self
        while h.parent is not None and h.parent is not g:
            h.parent, h = g, h.parent
        return g


def _edge_pattern(user: Operation, value: SSAValue) -> OpPattern:
    p = op_pattern(user)
    if p is BROADCAST and user.results and value.type == user.results[0].type:
        return ELEMWISE  # broadcasting to the same shape is elementwise
    return p


class Fuser:
    def __init__(self, block: Block, max_depth: int):
        self.max_depth = max_depth
        # Constants are free to copy into every group; they are not graph nodes.
        ops = [
            op
            for op in block.ops
            if isinstance(op, (RelayOperatorOp, core.TupleOp, core.TupleGetOp))
        ]
        self.nodes = [Node(op, i, op_pattern(op)) for i, op in enumerate(ops)]
        by_op = {n.op: n for n in self.nodes}
        for n in self.nodes:
            for result in n.op.results:
                for use in result.uses:
                    user = by_op.get(use.operation)
                    if user is None:
                        n.extern = True
                    else:
                        n.outputs.append((user, _edge_pattern(use.operation, result)))
        self.groups = [Group(n.pattern) for n in self.nodes]
        self._post_dominators()

    # -- the post-dominator tree (least common ancestors of the consumers) ---------------------

    def _post_dominators(self) -> None:
        for n in reversed(self.nodes):
            if n.extern or not n.outputs:
                n.parent, n.depth, n.edge_pattern = None, 1, OPAQUE
                continue
            parent, pattern = n.outputs[0]
            for out, edge in n.outputs[1:]:
                parent, climbed = self._lca(parent, out)
                pattern = max(pattern, climbed, edge)
                if parent is None:
                    break
            n.parent = parent
            n.depth = parent.depth + 1 if parent else 1
            n.edge_pattern = pattern

    @staticmethod
    def _lca(a: Node | None, b: Node | None) -> tuple[Node | None, OpPattern]:
        """The least common ancestor in the post-dominator tree, and the patterns climbed."""
        pattern = ELEMWISE
        while a is not b:
            if a is None or b is None:
                return None, pattern
            if a.depth < b.depth:
                pattern = max(pattern, b.edge_pattern)
                b = b.parent
            elif b.depth < a.depth:
                pattern = max(pattern, a.edge_pattern)
                a = a.parent
            else:
                pattern = max(pattern, a.edge_pattern, b.edge_pattern)
                a, b = a.parent, b.parent
        return a, pattern

    # -- paths and merging ---------------------------------------------------------------------

    def group(self, n: Node) -> Group:
        return self.groups[n.index].root()

    def check_path(self, src: Node, sink: Node, cond) -> bool:  # noqa: ANN001
        seen: set[int] = set()
        stack = [out for out, _ in src.outputs]
        while stack:
            n = stack.pop()
            if n.index in seen:
                continue
            seen.add(n.index)
            if not cond(self.group(n).pattern, n is sink):
                return False
            if n is not sink:
                stack.extend(out for out, _ in n.outputs)
        return True

    def commit(self, src: Node, sink: Node) -> None:
        target = self.group(sink)
        seen: set[int] = set()
        stack = [src]
        while stack:
            n = stack.pop()
            if n is sink or n.index in seen:
                continue
            seen.add(n.index)
            child = self.group(n)
            if child is not target:
                child.parent = target
                target.size += child.size
                target.pattern = max(target.pattern, child.pattern)
            stack.extend(out for out, _ in n.outputs)

    def fused_size(self, src: Node, sink: Node) -> int:
        return self.group(src).size + self.group(sink).size

    # -- the three phases ----------------------------------------------------------------------

    def run(self) -> None:
        for phase in range(3):
            for n in self.nodes:
                self._try(n, phase)

    def _try(self, n: Node, phase: int) -> None:
        g = self.group(n)
        p = n.parent
        if g.pattern is OPAQUE or p is None or self.fused_size(n, p) > self.max_depth:
            return
        pg = self.groups[p.index]
        if phase == 2:
            if g.pattern > INJECTIVE or pg.root().pattern is TUPLE:
                return
            if (
                pg.pattern is TUPLE
                and pg.root().pattern <= INJECTIVE
                and self.check_path(n, p, lambda k, sink: k <= INJECTIVE)
            ):
                self.commit(n, p)
            return
        if g is pg.root() or pg.pattern is TUPLE:
            return
        if g.pattern is OEF:
            if (
                phase == 0
                and n.edge_pattern is ELEMWISE
                and self.check_path(n, p, lambda k, sink: k <= BROADCAST)
            ):
                self.commit(n, p)
        elif g.pattern <= BROADCAST:
            if n.edge_pattern <= INJECTIVE or n.edge_pattern is REDUCE:

                def cond(k: OpPattern, sink: bool) -> bool:
                    return (
                        k <= BROADCAST
                        if not sink
                        else k in (ELEMWISE, BROADCAST, INJECTIVE, REDUCE, OEF)
                    )

                if self.check_path(n, p, cond):
                    self.commit(n, p)
        elif (
            g.pattern in (INJECTIVE, TUPLE)
            and phase == 1
            and self.check_path(n, p, lambda k, sink: k <= INJECTIVE)
        ):
            self.commit(n, p)


def outline(block: Block, fuser: Fuser) -> None:
    """Each group becomes a Primitive closure called in place of its ops."""
    members: dict[int, list[Node]] = {}
    for n in fuser.nodes:
        members.setdefault(id(fuser.group(n)), []).append(n)
    # Positions in the block, numbered once (not per group, which made outlining quadratic):
    # outlining erases ops and puts the closure and its call at the anchor's position.
    order = {op: i for i, op in enumerate(block.ops)}
    for nodes in members.values():
        ops = [n.op for n in nodes if isinstance(n.op, RelayOperatorOp) or len(nodes) > 1]
        if not any(isinstance(o, RelayOperatorOp) for o in ops):
            continue  # a lone tuple or projection stays as it is
        _outline_group(block, ops, order)


def _outline_group(block: Block, ops: list[Operation], order: dict[Operation, int]) -> None:
    inside = set(ops)
    inputs: list[SSAValue] = []
    constants: list[core.ConstantOp] = []
    for op in ops:
        for v in op.operands:
            owner = v.owner
            if isinstance(owner, core.ConstantOp):
                if owner not in constants:
                    constants.append(owner)
            elif owner not in inside and v not in inputs:
                inputs.append(v)
    outputs = [
        r for op in ops for r in op.results if any(u.operation not in inside for u in r.uses)
    ]
    if len(outputs) != 1:
        return  # groups with several outputs are left unfused (the post-dominator makes this rare)
    [output] = outputs
    anchor = ops[-1]
    if any(
        order.get(u.operation, len(order)) < order[anchor]
        for u in output.uses
        if u.operation not in inside
    ):
        return  # the value is used between the group's ops: the call could not come first
    closure = core.ClosureOp(
        [v.type for v in inputs], output.type, attributes={PRIMITIVE: IntegerAttr(1, i64)}
    )
    body = closure.body.block
    mapping: dict[SSAValue, SSAValue] = dict(zip(inputs, closure.args, strict=True))
    for i, arg in enumerate(closure.args):
        arg.name_hint = f"p{i}"
    for c in constants:
        new_c = c.clone()
        body.add_op(new_c)
        mapping[c.result] = new_c.result
    for op in ops:
        new = op.clone(value_mapper=mapping)
        body.add_op(new)
    body.add_op(core.ReturnOp(mapping[output]))
    closure.location = anchor.location
    call = core.CallClosureOp(closure.result, inputs, output.type)
    call.location = anchor.location
    block.insert_ops_after([closure, call], anchor)
    order[closure] = order[call] = order[anchor]
    output.replace_all_uses_with(call.result)
    for op in reversed(ops):
        op.detach()
        op.erase()
    # Each constant now lives in the closures that read it (as TVM's FuseOps copies them in):
    # the outer one goes when the last group that used it has been outlined.
    for c in constants:
        if not c.result.uses:
            c.detach()
            c.erase()


@dataclass(frozen=True)
class FuseOpsPass(ModulePass):
    """Groups operators as TVM's FuseOps does; each group becomes a Primitive closure."""

    name = "fuse-ops"

    max_depth: int = 256
    fuse_opt_level: int = 1
    """0 puts every operator in its own primitive function."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for func in [f for f in op.ops if isinstance(f, core.FuncOp)]:
            if any(
                c.attributes.get(PRIMITIVE) for c in func.walk() if isinstance(c, core.ClosureOp)
            ):
                continue  # already fused
            # The body and each branch of an `if` or `match` are dataflow graphs of their own
            # (as in TVM): a value crossing into a branch is an input of the branch's groups.
            blocks = [func.body.block] + [
                r.block
                for o in func.walk()
                if isinstance(o, (core.IfOp, adt.MatchOp))
                for r in o.regions
            ]
            for block in blocks:
                fuser = Fuser(block, self.max_depth if self.fuse_opt_level > 0 else 1)
                if self.fuse_opt_level > 0:
                    fuser.run()
                outline(block, fuser)
