"""tail-calls-to-loops: a recursive function's calls in tail position become jumps.

A call is in tail position when its results are the function's results and nothing but
frees follows it: in destination-passing style (after bufferize) it passes the caller's own
out-parameters (result buffers, or the slots a `?`-shaped or object result is stored into:
bufferize passes a slot on where the result is returned as it is), and the path from it to
`func.return` holds only `memref.dealloc`s and argument-less branches (what
convert-scf-to-cf leaves of an `scf.if` branch). Only calls of
functions in a call-graph cycle are rewritten: a tail call of any other function happens
once per frame and cannot grow the stack.

In each function `@f` with such calls, every recursive callee reached through tail calls
gets a copy of its body in `@f` (its entry block is its loop head; `@f`'s own entry block is
`@f`'s), and each tail call becomes a branch to its callee's head: a self tail call is a
loop, mutual tail calls (even/odd) are a loop over the copies. Depth counting
(convert-to-llvm) stays in `@f`'s entry, so a tail call does not count towards
RELAY_OPT_MAX_DEPTH and the stack stays constant, at every optimization level.

Memory stays constant too: inside the loop every parameter buffer is owned by the loop. The
entry copies `@f`'s (borrowed) parameters into fresh buffers once; a jump hands its
arguments over instead of freeing them after a call (a temporary the call's path would
free, or a parameter passed on), copies an argument it cannot hand over (a constant, a value
passed twice), and frees the parameters it does not pass on; every `func.return` frees the
parameters of the copy it belongs to.
Owning them, the loop may also write them: bufferize's copy of a parameter it must not
update (a slice written into a loop's accumulator) goes when the jump hands the copy on and
nothing after the copy reads the parameter (`update_in_place`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import arith, cf, func, memref
from xdsl.dialects.builtin import IndexType, IntegerAttr, MemRefType, ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from relay_opt.dialects.relay.attribute_names import OUTPUTS
from relay_opt.lowering.convert_to_llvm import _recursion


def _outputs(f: func.FuncOp) -> int:
    n = f.attributes.get(OUTPUTS)
    return n.value.data if isinstance(n, IntegerAttr) else 0


def _tail_frees(call: func.CallOp) -> list[SSAValue] | None:
    """The buffers freed between `call` and `func.return`, if nothing else happens there."""
    freed: list[SSAValue] = []
    op, seen = call.next_op, set[Block]()
    while True:
        while isinstance(op, memref.DeallocOp):
            freed.append(op.memref)
            op = op.next_op
        if isinstance(op, func.ReturnOp) and not op.arguments:
            return freed
        if isinstance(op, cf.BranchOp) and not op.arguments and op.successor not in seen:
            seen.add(op.successor)
            op = op.successor.first_op
            continue
        return None


@dataclass
class _Jump:
    call: func.CallOp
    freed: list[SSAValue]
    owner: str
    """The function whose body copy holds the call."""


@dataclass
class _Loops:
    f: func.FuncOp
    originals: dict[str, func.FuncOp]
    """Each recursive function before any rewrite (the bodies copied into `f`)."""
    heads: dict[str, Block] = field(default_factory=dict)
    owner: dict[Block, str] = field(default_factory=dict)

    def run(self) -> None:
        f, n = self.f, _outputs(self.f)
        name = f.sym_name.data
        entry = f.body.blocks.first
        assert entry is not None
        self.heads[name] = entry
        pending = [(b, name) for b in f.body.blocks]
        jumps: list[_Jump] = []
        while pending:
            block, owner = pending.pop()
            self.owner[block] = owner
            outs = list(self.heads[owner].args[len(self.heads[owner].args) - n :])
            for call in [op for op in block.ops if isinstance(op, func.CallOp)]:
                callee = self.originals.get(call.callee.string_value())
                if callee is None or _outputs(callee) != n:
                    continue
                if list(call.arguments[len(call.arguments) - n :]) != outs:
                    continue
                freed = _tail_frees(call)
                if freed is None:
                    continue
                target = callee.sym_name.data
                if target not in self.heads:
                    # Cloned into an empty region: clone_into pairs the source's ops with
                    # the destination's by position.
                    scratch = Region()
                    callee.body.clone_into(scratch)
                    copied = list(scratch.blocks)
                    for copy in copied:
                        scratch.detach_block(copy)
                        f.body.add_block(copy)
                    self.heads[target] = copied[0]
                    pending.extend((b, target) for b in copied)
                jumps.append(_Jump(call, freed, owner))
        if not jumps:
            return
        for jump in jumps:
            self.update_in_place(jump, n)
        for jump in jumps:
            self.jump(jump, n)
        for block, owner in self.owner.items():
            ret = block.last_op
            if isinstance(ret, func.ReturnOp):
                for p in self.params(owner, n):
                    block.insert_op_before(memref.DeallocOp.get(p), ret)
        self.own_parameters(entry, n)
        _erase_unreachable(f.body)

    def params(self, owner: str, n: int) -> list[SSAValue]:
        head = self.heads[owner]
        # Buffers only: an object parameter (an !llvm.ptr, docs/native-objects.md) is a
        # pointer into the call's arena, passed on as it is and never freed here.
        inputs = head.args[: len(head.args) - n]
        return list(dict.fromkeys(a for a in inputs if isinstance(a.type, MemRefType)))

    def update_in_place(self, jump: _Jump, n: int) -> None:
        """A parameter copied into a fresh buffer that the jump hands on (bufferize's copy
        before a write into a parameter: an accumulator updated at a run-time position) is
        written in place instead, so an iteration costs its slice, not the whole buffer.
        Safe because the loop owns its parameters (distinct buffers: the entry copies them,
        a jump copies a value it passes twice) and the parameter is read nowhere the copy
        reaches: every other use comes before it in its block, or in a block it does not
        reach (the other branch), and the fresh buffer is freed only on the jump's path."""
        call = jump.call
        params = self.params(jump.owner, n)
        inputs = list(call.arguments[: len(call.arguments) - n])
        for b in dict.fromkeys(inputs):
            alloc = b.owner
            if not isinstance(alloc, memref.AllocOp) or inputs.count(b) != 1:
                continue
            copies = [u.operation for u in b.uses if isinstance(u.operation, memref.CopyOp)]
            if len(copies) != 1 or copies[0].destination is not b:
                continue
            copy = copies[0]
            p = copy.source
            block = copy.parent_block()
            if p not in params or block is None or self.owner.get(block) != jump.owner:
                continue
            frees = [u for u in b.uses if isinstance(u.operation, memref.DeallocOp)]
            if len(frees) != jump.freed.count(b) or not _read_only_before(p, copy):
                continue
            copy.detach()
            copy.erase()
            b.replace_all_uses_with(p)
            alloc.detach()
            alloc.erase()
            jump.freed = [p if f is b else f for f in jump.freed]

    def jump(self, jump: _Jump, n: int) -> None:
        call = jump.call
        block = call.parent_block()
        assert block is not None
        args = list(call.arguments)
        inputs, outs = args[: len(args) - n], args[len(args) - n :]
        params = self.params(jump.owner, n)
        owned = set(jump.freed) | set(params)
        handed: set[SSAValue] = set()
        new_ops: list[Operation] = []
        passed: list[SSAValue] = []
        for a in inputs:
            if not isinstance(a.type, MemRefType):
                passed.append(a)  # an object pointer
                continue
            if a in owned and a not in handed:
                handed.add(a)
                passed.append(a)
                continue
            ops, copy = _copy(a)
            new_ops += ops
            passed.append(copy)
        for buffer in dict.fromkeys([*jump.freed, *params]):
            if buffer not in handed:
                new_ops.append(memref.DeallocOp.get(buffer))
        new_ops.append(cf.BranchOp(self.heads[call.callee.string_value()], *passed, *outs))
        for op in new_ops:
            op.location = call.location
        rest: list[Operation] = []
        op: Operation | None = call
        while op is not None:
            rest.append(op)
            op = op.next_op
        block.insert_ops_before(new_ops, call)
        for op in reversed(rest):
            op.detach()
            op.erase()

    def own_parameters(self, head: Block, n: int) -> None:
        """A new entry block: the parameters copied into buffers the loop owns."""
        entry = Block(arg_types=[a.type for a in head.args])
        for old, new in zip(head.args, entry.args, strict=True):
            new.name_hint = old.name_hint
        owned: list[SSAValue] = []
        for p in entry.args[: len(entry.args) - n]:
            if not isinstance(p.type, MemRefType):
                owned.append(p)  # an object pointer: nothing to own
                continue
            ops, copy = _copy(p)
            entry.add_ops(ops)
            owned.append(copy)
        entry.add_op(cf.BranchOp(head, *owned, *entry.args[len(entry.args) - n :]))
        for op in entry.ops:
            op.location = self.f.location
        self.f.body.insert_block_before(entry, head)


def _read_only_before(p: SSAValue, copy: Operation) -> bool:
    """Whether every use of `p` but `copy` happens before it: earlier in its block (not in a
    loop), or in a block that the copy's block does not reach (tail calls are not edges yet)."""
    block = copy.parent_block()
    assert block is not None
    reached = _reached_from(block)
    if block in reached:  # the copy runs in a loop: an earlier use comes after it too
        return False
    reached.add(block)
    position = {op: k for k, op in enumerate(block.ops)}
    for use in p.uses:
        user = use.operation
        if user is copy:
            continue
        where = user.parent_block()
        if where is block and position.get(user, len(position)) < position[copy]:
            continue
        if where in reached:
            return False
    return True


def _reached_from(block: Block) -> set[Block]:
    """The blocks branches lead to from `block` (itself only when a loop comes back)."""
    reached: set[Block] = set()
    todo = [block]
    while todo:
        last = todo.pop().last_op
        for succ in last.successors if last is not None else ():
            if succ not in reached:
                reached.add(succ)
                todo.append(succ)
    return reached


def _erase_unreachable(body: Region) -> None:
    """Drop the blocks no branch reaches any more: a join block whose every predecessor
    ended in a tail call (a closure dispatch whose arms all jump). LLVM needs each block
    terminated, and convert-to-llvm does not translate unreachable ones."""
    entry = body.blocks.first
    assert entry is not None
    reached = {entry} | _reached_from(entry)
    dead = [b for b in body.blocks if b not in reached]
    for block in dead:
        for op in block.ops:
            op.drop_all_references()
    for block in dead:
        for op in reversed(list(block.ops)):
            op.erase(safe_erase=False)
        body.detach_block(block).erase()


def _copy(source: SSAValue) -> tuple[list[Operation], SSAValue]:
    """The ops that copy `source` into a new buffer of its sizes (`?` ones read with
    `memref.dim`), and that buffer."""
    t = source.type
    assert isinstance(t, MemRefType)
    ops: list[Operation] = []
    sizes: list[SSAValue] = []
    for axis, d in enumerate(t.get_shape()):
        if d < 0:
            index = arith.ConstantOp(IntegerAttr(axis, IndexType()))
            dim = memref.DimOp(source, index.result)
            ops += [index, dim]
            sizes.append(dim.result)
    alloc = memref.AllocOp.get(t.element_type, shape=t.get_shape(), dynamic_sizes=sizes)
    ops += [alloc, memref.CopyOp(source, alloc.results[0])]
    return ops, alloc.results[0]


@dataclass(frozen=True)
class TailCallsToLoopsPass(ModulePass):
    """Tail calls between recursive functions become branches: loops in constant stack."""

    name = "tail-calls-to-loops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        cyclic, _ = _recursion(op)
        functions = {
            f.sym_name.data: f
            for f in op.ops
            if isinstance(f, func.FuncOp) and f.sym_name.data in cyclic
        }
        originals = {name: f.clone() for name, f in functions.items()}
        for f in functions.values():
            _Loops(f, originals).run()
