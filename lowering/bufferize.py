"""bufferize: tensors -> memrefs for the IR convert-relay-to-linalg produces.

Functions take their results as trailing out-parameters (destination-passing
style: `func.func @f(%x: memref<..>, %out: memref<..>)`, attribute
`relay_opt.outputs` counts them), so the caller owns every buffer it sees.
Inside a function each `linalg` op writes straight into its destination, and
no copy is made where none is needed:
- a result computed by a linalg op is written into its out-parameter directly;
- an op whose init tensor is used only by it updates that buffer in place
  (a `linalg.fill` then a reduction share one buffer);
- other intermediates get a `memref.alloc`, freed right after their last use;
- a static `tensor.extract_slice` is a `memref.subview` of its source's buffer, and a
  `tensor.insert_slice` a copy into a view of its destination's (updated in place; at
  run-time offsets, `dyn.update_slice`'s, a view whose offset is `?`);
- unless the inserted value is written in place: when it is computed by linalg ops
  (through their inits) into a fresh tensor, is used only by the insert, and its slice is
  contiguous (a channel of a batch-1 concatenation) and overlaps no other slice of a chain
  of inserts into one fresh tensor, its producer writes straight into the view of the
  chain's buffer (allocated at the producer) and the copy goes (`_Function.slice_view`);
- tensor constants become `memref.global` constants; a weight (a `dense_resource`)
  becomes an external `memref.global` that the JIT binds to the array's address.
A copy (`memref.copy`) remains only where a value must exist twice: a
parameter or constant returned as a result, or one value returned twice.

Region ops with tensor results (`scf.if`, `scf.index_switch`; any op whose regions are
single blocks without arguments ending in `scf.yield`, see `_Function.region_op`) follow
the same rule as a function's body, one level down:
- each tensor result gets one destination before the op: the out-parameter when the result
  is returned, else one `memref.alloc`; the op loses its tensor results (others stay);
- every branch computes what it yields straight into those destinations (a yielded value is
  the branch's "returned" value), and copies only what must exist twice (a value defined
  outside the branch, a parameter, a constant, a value yielded twice);
- a buffer allocated inside a branch is freed inside it, after its last use there; a buffer
  allocated outside and used inside is freed after the region op, on every path.
- a result with `?` dims cannot be sized before the op: each branch yields its buffer's
  address and `?` sizes instead (copying a value it does not own), and the code after the
  op owns that buffer, as a callee's `?` result;
- unless the result (`?`-shaped, or an object) is only returned: then each branch stores it
  into the caller's slot itself (`_Function.delivery_slot`), and a call whose result is only
  returned passes that slot on instead of a slot of its own, so nothing but frees follows it
  (a tail call for tail-calls-to-loops).
`tensor.extract` of a scalar (an `scf.if` condition) becomes `memref.load`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, bufferization, func, llvm, memref, scf, tensor
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    AffineMapAttr,
    DenseResourceAttr,
    FixedBitwidthType,
    IndexType,
    IntAttr,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    StridedLayoutAttr,
    StringAttr,
    TensorType,
    UnitAttr,
    UnrealizedConversionCastOp,
    i64,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.dialects.linalg.attrs import IteratorTypeAttr
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue, Use
from xdsl.ir.affine import AffineMap
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.attribute_names import CONTRACTION, CONV_PADDING, OUTPUTS, OWNED
from relay_opt.dialects.relay.limits import MATCH_FAILED


def memref_type(t: Attribute) -> MemRefType[Attribute]:
    if not isinstance(t, TensorType):
        raise RelayError(f"bufferize expects tensor types, got {t}")
    return MemRefType(t.element_type, t.get_shape())


def is_dynamic(t: Attribute) -> bool:
    """A tensor type with `?` dims."""
    return isinstance(t, TensorType) and any(d < 0 for d in t.get_shape())


def _buffer_type(t: Attribute) -> Attribute:
    """A parameter's type after bufferize: a tensor's memref."""
    return memref_type(t) if isinstance(t, TensorType) else t


def _result_type(t: Attribute) -> Attribute:
    """A result's out-parameter: a tensor's memref; any other result (an object's `!llvm.ptr`,
    a scalar) and a tensor result with `?` dims become a pointer to the slot the callee stores
    it into (for a tensor: its buffer's address and every size, as i64;
    docs/native-dynamic-shapes.md), the slot a caller gives (`_Function.slot`)."""
    if isinstance(t, TensorType) and not is_dynamic(t):
        return memref_type(t)
    return llvm.LLVMPointerType()


def _is_slot(destination: SSAValue) -> bool:
    """Whether a destination is a caller's slot (a `?`-shaped tensor's or an object's), not a
    buffer."""
    return isinstance(destination.type, llvm.LLVMPointerType)


def _slot_words(t: Attribute) -> int:
    """The 8-byte words of the slot a non-tensor result is stored into (an i128 takes two)."""
    bits = t.bitwidth if isinstance(t, FixedBitwidthType) else 64
    return max(1, -(-bits // 64))


def _dps_inits(op: Operation) -> list[SSAValue] | None:
    """The init (outs) tensors of a destination-passing op, one per result (None for one on
    buffers already, which has no results: it is copied over as it is)."""
    if isinstance(op, (linalg.GenericOp, linalg.FillOp)) and op.results:
        return list(op.outputs)  # pyright: ignore
    if isinstance(op, tensor.InsertSliceOp):
        return [op.dest]
    return None


def _dps_init_of(user: Operation, v: SSAValue) -> SSAValue | None:
    """The result that `user` computes in place of its init `v`, if `v` is one of its inits."""
    inits = _dps_inits(user)
    if inits is None or v not in inits:
        return None
    return user.results[inits.index(v)]


@dataclass
class _Sink:
    """Where a block's results go: the values its terminator returns (or yields), each
    computed straight into its destination (an out-parameter, or a region op's result buffer)."""

    returned: dict[SSAValue, int]
    """The first position at which each value is returned."""
    destinations: dict[int, SSAValue]
    taken: set[int]
    """Positions whose destination already holds a value."""


def _sink(values: Sequence[SSAValue], destinations: dict[int, SSAValue]) -> _Sink:
    returned: dict[SSAValue, int] = {}
    for k, v in enumerate(values):
        if k in destinations:
            returned.setdefault(v, k)
    return _Sink(returned, destinations, set())


@dataclass
class _Function:
    old: func.FuncOp
    globals_out: list[Operation]
    """The module-level globals this function's constants need, in order of creation."""
    globals_made: dict[Attribute, str]

    def run(self) -> func.FuncOp:
        old = self.old
        if len(old.body.blocks) != 1:  # branches come later (convert-scf-to-cf)
            raise RelayError(
                f"bufferize expects a function of one block, @{old.sym_name.data} has "
                f"{len(old.body.blocks)} (branches come after bufferize: structured control "
                "flow before it)",
                old,
            )
        inputs = [_buffer_type(t) for t in old.function_type.inputs]
        outputs = [_result_type(t) for t in old.function_type.outputs]
        block = Block(arg_types=[*inputs, *outputs])
        self.params = block.args[: len(inputs)]
        self.out_params = block.args[len(inputs) :]
        for new, prev in zip(self.params, old.args, strict=True):
            new.name_hint = prev.name_hint
        for i, out in enumerate(self.out_params):
            out.name_hint = f"out{i}"
        self.buffers: dict[SSAValue, SSAValue] = dict(zip(old.args, self.params, strict=True))
        self.allocs: list[SSAValue] = []
        self.handed_back: set[SSAValue] = set()
        """Buffers of `?`-shaped results, allocated here and owned by the caller."""
        self.delivered: set[SSAValue] = set()
        """Values already stored into the caller's slot where they were made (a call's result
        in tail position, a branch's): nothing is left to write at the return."""
        self.b = Builder(InsertPoint.at_end(block))
        self.slots: list[Operation] = []
        """Stack slots for the object results of calls (docs/native-objects.md)."""
        self.chain_buffers: dict[SSAValue, SSAValue] = {}
        """The buffer of a chain of inserts, by the fresh tensor at its root, when a producer
        needed it before the chain's first insert."""
        self.written_in_place: dict[tensor.InsertSliceOp, SSAValue] = {}
        """Inserts whose source was computed into the view of their destination: the view."""
        ret = old.body.block.last_op
        assert isinstance(ret, func.ReturnOp)
        self.out_destinations: dict[int, SSAValue] = dict(enumerate(self.out_params))
        self.sink = _sink(list(ret.arguments), self.out_destinations)
        for op in old.body.block.ops:
            self.op(op)
        new = func.FuncOp(old.sym_name.data, ([*inputs, *outputs], []), Region(block))
        new.attributes[OUTPUTS] = IntegerAttr(len(outputs), i64)
        new.location = old.location
        self.free_after_last_use(block, self.allocs)
        if self.slots:  # in the entry block, so a loop around a call reuses its slot
            if block.first_op is None:
                block.add_ops(self.slots)
            else:
                block.insert_ops_before(self.slots, block.first_op)
        return new

    # -- destinations ------------------------------------------------------------------------

    def out_param_for(self, v: SSAValue) -> int | None:
        """The out-parameter `v` can be computed into: its own, or that of the op it feeds
        in place."""
        k = self.sink.returned.get(v)
        if k is not None and k not in self.sink.taken:
            return k
        users = [u.operation for u in v.uses]
        if len(users) == 1 and (r := _dps_init_of(users[0], v)) is not None:
            return self.out_param_for(r)
        return None

    def destination(
        self, result: SSAValue, sizes: Sequence[SSAValue] = (), views: bool = False
    ) -> SSAValue:
        """Where `result` is computed: its out-parameter, else (`views`: for a linalg op) the
        view of a slice it is inserted into, else a new buffer (`sizes`: the run-time sizes
        of its `?` dims, already bufferized)."""
        k = self.out_param_for(result)
        dynamic = is_dynamic(result.type)
        if k is not None and not dynamic:
            self.sink.taken.add(k)
            return self.sink.destinations[k]
        if k is None and views and (view := self.slice_view(result)) is not None:
            return view
        alloc = memref.AllocOp.get(
            result.type.element_type,  # pyright: ignore[reportAttributeAccessIssue]
            shape=result.type.get_shape(),  # pyright: ignore[reportAttributeAccessIssue]
            dynamic_sizes=list(sizes),
        )
        alloc.results[0].name_hint = result.name_hint
        self.b.insert(alloc)
        if k is not None and _is_slot(self.sink.destinations[k]):
            # A `?`-shaped result: computed in its own buffer, handed back to the caller.
            self.sink.taken.add(k)
            self.handed_back.add(alloc.results[0])
        else:
            self.allocs.append(alloc.results[0])
        return alloc.results[0]

    def delivery_slot(self, v: SSAValue) -> SSAValue | None:
        """The caller's slot that `v` (a `?`-shaped tensor or an object) can be stored into
        where it is made, when `v` is only returned, at a position whose destination is a
        slot: a call passes that slot on instead of a slot of its own (so the call is in tail
        position for tail-calls-to-loops), a region op's branches store into it."""
        if isinstance(v.type, TensorType) and not is_dynamic(v.type):
            return None
        k = self.sink.returned.get(v)
        if k is None or k in self.sink.taken or not v.has_one_use():
            return None
        slot = self.sink.destinations.get(k)
        if slot is None or not _is_slot(slot):
            return None
        self.sink.taken.add(k)
        self.delivered.add(v)
        return slot

    def slice_view(self, v: SSAValue) -> SSAValue | None:
        """The view of its destination's buffer that the insert of `v` (through the inits of
        the ops it feeds in place) copies into, when `v` can be written there directly: the
        insert is static, in this block, the view contiguous, and the destination a chain of
        inserts into a fresh static tensor, each used once, whose slices do not overlap (so no
        later insert overwrites what the producer wrote). The chain's buffer is made now,
        here, and the insert later finds its source already in place."""
        users = [u.operation for u in v.uses]
        if len(users) != 1:
            return None
        if (r := _dps_init_of(users[0], v)) is not None and not isinstance(
            users[0], tensor.InsertSliceOp
        ):
            return self.slice_view(r)
        insert = users[0]
        if not isinstance(insert, tensor.InsertSliceOp) or insert.source is not v:
            return None
        producer = v.owner
        if not isinstance(producer, Operation):
            return None
        if insert.parent_block() is not producer.parent_block():
            return None
        chain = _insert_chain(insert)
        if chain is None or not _contiguous_slice(insert):
            return None
        if any(i.parent_block() is not producer.parent_block() for i in chain):
            return None
        root = chain[0].dest
        if not all(_disjoint(insert, other) for other in chain if other is not insert):
            return None
        # The chain's buffer: made by an earlier producer, or by the chain's first insert
        # already (a producer between two inserts), else now.
        buffer = self.chain_buffers.get(root) or self.buffers.get(chain[0].result)
        if buffer is None:
            buffer = self.destination(chain[0].result)
            self.chain_buffers[root] = buffer
        view = self.slice_of(buffer, insert)
        self.written_in_place[insert] = view
        return view

    def empty_sizes(self, init: SSAValue) -> list[SSAValue]:
        """The bufferized run-time sizes of a `tensor.empty`'s `?` dims."""
        owner = init.owner
        if not isinstance(owner, tensor.EmptyOp):
            return []
        return [self.buffers.get(s, s) for s in owner.dynamic_sizes]

    # -- ops ---------------------------------------------------------------------------------

    def op(self, op: Operation) -> None:
        if isinstance(op, tensor.EmptyOp):
            return  # materialized by the op that fills it
        if isinstance(op, arith.ConstantOp) and isinstance(op.result.type, TensorType):
            self.buffers[op.result] = self.constant(op)
            return
        if (inits := _dps_inits(op)) is not None:
            self.dps(op, inits)
            return
        if isinstance(op, tensor.ExtractSliceOp):
            self.buffers[op.result] = self.view(op)
            return
        if isinstance(op, tensor.CastOp):  # static dims as `?` ones: a view of the same buffer
            cast = memref.CastOp.get(self.input_buffer(op.source), memref_type(op.dest.type))
            self.buffers[op.dest] = self.b.insert(cast).results[0]
            return
        if isinstance(op, tensor.DimOp):
            dim = memref.DimOp(self.input_buffer(op.source), self.buffers.get(op.index, op.index))
            self.b.insert(dim)
            self.buffers[op.result] = dim.result
            return
        if isinstance(op, func.CallOp) and op.callee.string_value() != MATCH_FAILED:
            args = [self.buffers[a] for a in op.arguments]
            outs = [
                slot
                if (slot := self.delivery_slot(r)) is not None
                else self.slot(1 + len(r.type.get_shape()))  # pyright: ignore[reportAttributeAccessIssue]
                if is_dynamic(r.type)
                else self.destination(r)
                if isinstance(r.type, TensorType)
                else self.slot(_slot_words(r.type))
                for r in op.results
            ]
            call = func.CallOp(op.callee, [*args, *outs], [])
            call.location = op.location
            self.b.insert(call)
            for r, out in zip(op.results, outs, strict=True):
                if r in self.delivered:
                    continue  # in the caller's slot already: the call is in tail position
                if is_dynamic(r.type):
                    self.buffers[r] = self.received(out, r.type)
                elif isinstance(r.type, TensorType):
                    self.buffers[r] = out
                else:
                    self.buffers[r] = self.b.insert(llvm.LoadOp(out, r.type)).results[0]
            return
        if isinstance(op, func.ReturnOp):
            self.write_results(list(op.arguments))
            self.b.insert(func.ReturnOp())
            return
        if isinstance(op, bufferization.ToTensorOp):
            self.buffers[op.tensor] = self.buffers[op.memref]  # a view of an object's buffer
            if OWNED in op.attributes:  # a rule's own allocation (ops sized by values)
                self.allocs.append(self.buffers[op.memref])
            return
        if isinstance(op, bufferization.ToBufferOp):
            self.buffers[op.memref] = self.input_buffer(op.tensor)  # read in place
            return
        if isinstance(op, bufferization.MaterializeInDestinationOp):
            self.b.insert(memref.CopyOp(self.input_buffer(op.source), self.buffers[op.dest]))
            return
        if isinstance(op, tensor.ExtractOp):
            indices = [self.buffers.get(i, i) for i in op.indices]
            load = memref.LoadOp.get(self.input_buffer(op.tensor), indices)
            load.location = op.location
            self.b.insert(load)
            self.buffers[op.result] = load.res
            return
        if op.regions and _yields_from_single_blocks(op):
            self.region_op(op)
            return
        if all(not isinstance(r.type, TensorType) for r in op.results) and all(
            not isinstance(o.type, TensorType) for o in op.operands
        ):
            # Scalars are copied over; `buffers` maps them to their copies like any value.
            self.b.insert(op.clone(value_mapper=self.buffers))
            return
        raise RelayError(f"bufferize does not handle '{op.name}' yet", op)

    def slot(self, words: int = 1) -> SSAValue:
        """A stack slot of 8-byte words that a callee stores an object result or a scalar (one
        word) or a `?`-shaped tensor result (its address and sizes) into."""
        count = arith.ConstantOp(IntegerAttr(words, i64))
        alloca = llvm.AllocaOp(count, i64 if words > 1 else llvm.LLVMPointerType(), alignment=8)
        self.slots += [count, alloca]
        return alloca.results[0]

    def sizes_of(self, buffer: SSAValue) -> list[SSAValue]:
        """`memref.dim` of each `?` dim of a buffer."""
        t = buffer.type
        assert isinstance(t, MemRefType)
        sizes: list[SSAValue] = []
        for axis, d in enumerate(t.get_shape()):
            if d < 0:
                index = self.b.insert(arith.ConstantOp(IntegerAttr(axis, IndexType()))).result
                sizes.append(self.b.insert(memref.DimOp(buffer, index)).result)
        return sizes

    def hand_back(self, buffer: SSAValue, slot: SSAValue) -> None:
        """A `?`-shaped result into the caller's slot: the buffer's address, then every size."""
        t = buffer.type
        assert isinstance(t, MemRefType)
        address = self.b.insert(memref.ExtractAlignedPointerAsIndexOp.get(buffer)).results[0]
        words = [address]
        for axis in range(len(t.get_shape())):
            index = self.b.insert(arith.ConstantOp(IntegerAttr(axis, IndexType()))).result
            words.append(self.b.insert(memref.DimOp(buffer, index)).result)
        for k, word in enumerate(words):
            value = self.b.insert(arith.IndexCastOp(word, i64)).result
            at = self.b.insert(llvm.GEPOp(slot, [k], i64)).result if k else slot
            self.b.insert(llvm.StoreOp(value, at))

    def received(self, slot: SSAValue, t: Attribute) -> SSAValue:
        """A callee's `?`-shaped result, read from its slot; this function frees it."""
        mt = memref_type(t)
        words: list[SSAValue] = []
        for k in range(1 + len(mt.get_shape())):
            at = self.b.insert(llvm.GEPOp(slot, [k], i64)).result if k else slot
            words.append(self.b.insert(llvm.LoadOp(at, i64)).dereferenced_value)
        address = self.b.insert(llvm.IntToPtrOp(words[0])).results[0]
        sizes = [
            self.b.insert(arith.IndexCastOp(w, IndexType())).result
            for w, d in zip(words[1:], mt.get_shape(), strict=True)
            if d < 0
        ]
        cast = UnrealizedConversionCastOp.get([address, *sizes], [mt])
        self.b.insert(cast)
        self.allocs.append(cast.results[0])
        return cast.results[0]

    def write_results(self, values: list[SSAValue]) -> None:
        """Copies into the sink's destinations the values not computed there already."""
        handed: set[SSAValue] = set()
        for k, v in enumerate(values):
            dest = self.sink.destinations.get(k)
            if v in self.delivered:
                continue
            if dest is not None and is_dynamic(v.type) and _is_slot(dest):
                buffer = self.input_buffer(v)
                if buffer in self.allocs and buffer not in handed:
                    # A buffer this function would free (a callee's `?` result): handed on.
                    self.allocs.remove(buffer)
                    self.handed_back.add(buffer)
                if buffer not in self.handed_back or buffer in handed:
                    # A parameter, or a value returned twice: a copy the caller will own.
                    copy = memref.AllocOp.get(
                        buffer.type.element_type,  # pyright: ignore[reportAttributeAccessIssue]
                        shape=buffer.type.get_shape(),  # pyright: ignore[reportAttributeAccessIssue]
                        dynamic_sizes=self.sizes_of(buffer),
                    )
                    self.b.insert(copy)
                    self.b.insert(memref.CopyOp(buffer, copy.results[0]))
                    buffer = copy.results[0]
                handed.add(buffer)
                self.hand_back(buffer, dest)
            elif dest is not None and not isinstance(v.type, TensorType):
                # An object result (its pointer) or a scalar into the caller's slot.
                self.b.insert(llvm.StoreOp(self.buffers[v], dest))
            elif isinstance(v.owner, tensor.EmptyOp) and v not in self.buffers:
                continue  # an unfilled tensor (a failed match?'s placeholder): nothing to write
            elif dest is not None and self.buffers[v] is not dest:
                self.b.insert(memref.CopyOp(self.buffers[v], dest))

    def region_op(self, op: Operation) -> None:
        """An op whose regions are single blocks ending in `scf.yield` (scf.if,
        scf.index_switch): its tensor results become destinations allocated before it (or
        out-parameters), which each branch writes directly; see the module docstring. A
        result with `?` dims has no size before the op: each branch yields its own buffer
        (address and `?` sizes), which the code after the op owns."""
        if any(isinstance(o.type, TensorType) for o in op.operands):
            raise RelayError(f"bufferize does not handle tensor operands of '{op.name}'", op)
        destinations: dict[int, SSAValue] = {}
        for k, r in enumerate(op.results):
            if (slot := self.delivery_slot(r)) is not None:
                destinations[k] = slot  # each branch stores its value into the caller's slot
        dynamic = [
            k for k, r in enumerate(op.results) if is_dynamic(r.type) and k not in destinations
        ]
        for k, r in enumerate(op.results):
            if isinstance(r.type, TensorType) and k not in dynamic and k not in destinations:
                destinations[k] = self.destination(r)
        kept = [
            r for r in op.results if not isinstance(r.type, TensorType) and r not in self.delivered
        ]
        handed_types: list[Attribute] = []
        for k in dynamic:
            rank = sum(d < 0 for d in op.results[k].type.get_shape())  # pyright: ignore[reportAttributeAccessIssue]
            handed_types += [i64] + [IndexType()] * rank
        blocks = [Block() for _ in op.regions]
        new = op.create(
            operands=[self.buffers.get(o, o) for o in op.operands],
            result_types=[*(r.type for r in kept), *handed_types],
            properties=dict(op.properties),
            attributes=dict(op.attributes),
            regions=[Region(b) for b in blocks],
        )
        new.location = op.location
        self.b.insert(new)
        outer = (self.b, self.sink, self.allocs)
        for region, block in zip(op.regions, blocks, strict=True):
            old = region.block
            terminator = old.last_op
            assert isinstance(terminator, scf.YieldOp)
            self.b = Builder(InsertPoint.at_end(block))
            self.sink = _sink(list(terminator.arguments), destinations)
            self.allocs = []
            for inner in old.ops:
                if inner is terminator:
                    self.write_results(list(terminator.arguments))
                    kept_values = [
                        self.buffers.get(v, v)
                        for k, v in enumerate(terminator.arguments)
                        if not isinstance(v.type, TensorType) and k not in destinations
                    ]
                    handed = self.yield_owned([terminator.arguments[k] for k in dynamic])
                    self.b.insert(scf.YieldOp(*kept_values, *handed))
                else:
                    self.op(inner)
            self.free_after_last_use(block, self.allocs)
        self.b, self.sink, self.allocs = outer
        for k, r in enumerate(op.results):
            if k in destinations and r not in self.delivered:
                self.buffers[r] = destinations[k]
        self.buffers.update(zip(kept, new.results, strict=False))
        words = iter(new.results[len(kept) :])
        for k in dynamic:
            mt = memref_type(op.results[k].type)
            address = self.b.insert(llvm.IntToPtrOp(next(words))).results[0]
            sizes = [next(words) for d in mt.get_shape() if d < 0]
            cast = UnrealizedConversionCastOp.get([address, *sizes], [mt])
            self.b.insert(cast)
            self.allocs.append(cast.results[0])  # freed after its last use, or handed back
            self.buffers[op.results[k]] = cast.results[0]

    def yield_owned(self, values: list[SSAValue]) -> list[SSAValue]:
        """The words a branch yields for its `?`-shaped values: each one's buffer address
        (i64), then its `?` sizes. The buffer passes to the code after the op: one the
        branch allocated is not freed in it; any other (a parameter, a value from outside,
        a view, one yielded twice) is copied into a buffer of its own."""
        words: list[SSAValue] = []
        handed: set[SSAValue] = set()
        for v in values:
            buffer = self.input_buffer(v)
            if buffer in self.allocs and buffer not in handed:
                self.allocs.remove(buffer)
            else:
                copy = memref.AllocOp.get(
                    buffer.type.element_type,  # pyright: ignore[reportAttributeAccessIssue]
                    shape=buffer.type.get_shape(),  # pyright: ignore[reportAttributeAccessIssue]
                    dynamic_sizes=self.sizes_of(buffer),
                )
                self.b.insert(copy)
                self.b.insert(memref.CopyOp(buffer, copy.results[0]))
                buffer = copy.results[0]
            handed.add(buffer)
            address = self.b.insert(memref.ExtractAlignedPointerAsIndexOp.get(buffer)).results[0]
            words.append(self.b.insert(arith.IndexCastOp(address, i64)).result)
            words += self.sizes_of(buffer)
        return words

    def dps(self, op: Operation, inits: list[SSAValue]) -> None:
        outs = []
        for result, init in zip(op.results, inits, strict=True):
            owner = init.owner
            if init in self.chain_buffers:  # made early for a producer writing in place
                buffer = self.chain_buffers[init]
            elif isinstance(owner, tensor.EmptyOp):
                buffer = self.destination(result, self.empty_sizes(init), views=True)
            elif _dies_at(init) and init in self.buffers and _dps_inits(owner) is not None:  # pyright: ignore
                buffer = self.buffers[init]  # the init dies here: update it in place
            else:
                buffer = self.destination(result, self.sizes_of(self.buffers[init]))
                self.b.insert(memref.CopyOp(self.buffers[init], buffer))
            self.buffers.setdefault(init, buffer)  # an op may also read its init (for its shape)
            outs.append(buffer)
        if isinstance(op, tensor.InsertSliceOp):
            self.insert_slice(op, outs[0])
            return
        ins = [self.input_buffer(i) for i in op.inputs]  # pyright: ignore
        if isinstance(op, linalg.GenericOp):
            body = Region()
            for o in op.body.walk():
                # A fused body (fuse-linalg-epilogue's loop nest) may extract from an operand
                # that is only a shape, an unfilled tensor.empty (a window): it gets a buffer
                # like such an operand of the op itself.
                if isinstance(o, tensor.ExtractOp) and isinstance(o.tensor.owner, tensor.EmptyOp):
                    self.input_buffer(o.tensor)
            # Only the outer values the body reads: copying all of `buffers` per op was quadratic.
            outer = {
                v: self.buffers[v] for o in op.body.walk() for v in o.operands if v in self.buffers
            }
            op.body.clone_into(body, value_mapper=outer)
            # A body may read a tensor at computed indices (take): now it reads the buffer.
            for extract in [o for o in body.walk() if isinstance(o, tensor.ExtractOp)]:
                load = memref.LoadOp.get(extract.tensor, list(extract.indices))
                Rewriter.replace_op(extract, load)
            new = linalg.GenericOp(ins, outs, body, op.indexing_maps, op.iterator_types, [])
            for name in (CONTRACTION, CONV_PADDING):  # for lower-contractions
                if name in op.attributes:
                    new.attributes[name] = op.attributes[name]
        else:
            assert isinstance(op, linalg.FillOp)
            new = linalg.FillOp(ins, outs, [])
        new.location = op.location
        self.b.insert(new)
        self.buffers.update(zip(op.results, outs, strict=True))

    def input_buffer(self, v: SSAValue) -> SSAValue:
        """The buffer an op reads; an unfilled tensor.empty read only for its shape gets one too."""
        if v in self.buffers or not isinstance(v.type, TensorType):
            return self.buffers.get(v, v)
        if isinstance(v.owner, tensor.EmptyOp):
            self.buffers[v] = self.destination(v, self.empty_sizes(v))
            return self.buffers[v]
        raise RelayError(f"bufferize: no buffer for {v}")

    def view(self, op: tensor.ExtractSliceOp) -> SSAValue:
        """A static slice is a `memref.subview` of its source's buffer: no copy."""
        if op.offsets or op.sizes or op.strides:
            raise RelayError("bufferize handles slices with static offsets, sizes and strides", op)
        source = self.input_buffer(op.source)
        source_t = source.type
        assert isinstance(source_t, MemRefType)
        view = memref.SubviewOp.from_static_parameters(
            source,
            source_t,
            op.static_offsets.get_values(),
            op.static_sizes.get_values(),
            op.static_strides.get_values(),
        )
        self.b.insert(view)
        return view.result

    def slice_of(self, buffer: SSAValue, op: tensor.InsertSliceOp) -> SSAValue:
        """The view of `buffer` that `op` inserts into."""
        if op.offsets and not (op.sizes or op.strides):
            offsets = [self.buffers.get(o, o) for o in op.offsets]
            return _dynamic_offset_view(self.b, buffer, op, offsets)
        if op.offsets or op.sizes or op.strides:
            raise RelayError("bufferize handles slices with static offsets, sizes and strides", op)
        buffer_t = buffer.type
        assert isinstance(buffer_t, MemRefType)
        view = memref.SubviewOp.from_static_parameters(
            buffer,
            buffer_t,
            op.static_offsets.get_values(),
            op.static_sizes.get_values(),
            op.static_strides.get_values(),
        )
        view.location = op.location
        self.b.insert(view)
        return view.result

    def insert_slice(self, op: tensor.InsertSliceOp, buffer: SSAValue) -> None:
        """The source is copied into a view of the destination's buffer (a loop nest: the view
        may be strided, which memref.copy's memcpy would not respect), unless its producer
        already wrote it there (`slice_view`)."""
        self.buffers[op.result] = buffer
        if self.buffers.get(op.source) is self.written_in_place.get(op):
            return
        if op.offsets and (op.sizes or _runtime_strides(buffer)):
            offsets = [self.buffers.get(o, o) for o in op.offsets]
            sizes = [self.buffers.get(s, s) for s in op.sizes]
            _copy_at_offsets(self.b, self.input_buffer(op.source), buffer, op, offsets, sizes)
            return
        view = self.slice_of(buffer, op)
        buffer_t = buffer.type
        assert isinstance(buffer_t, MemRefType)
        n = buffer_t.get_num_dims()
        identity = AffineMapAttr(AffineMap.identity(n))
        body = Block(arg_types=[buffer_t.element_type] * 2)
        body.add_op(linalg.YieldOp(body.args[0]))
        copy = linalg.GenericOp(
            [self.input_buffer(op.source)],
            [view],
            Region(body),
            [identity, identity],
            [IteratorTypeAttr.parallel()] * n,
            [],
        )
        copy.location = op.location
        self.b.insert(copy)

    def constant(self, op: arith.ConstantOp) -> SSAValue:
        value = op.value
        t = memref_type(value.get_type())
        name = self.globals_made.get(value)
        if name is None and isinstance(value, DenseResourceAttr):
            # A weight: an external global, bound to the array's address when run.
            name = value.resource_handle.data
            self.globals_made[value] = name
            self.globals_out.append(
                memref.GlobalOp.get(
                    StringAttr(name), t, UnitAttr(), sym_visibility=StringAttr("public")
                )
            )
        elif name is None:
            name = f"__constant_{len(self.globals_made)}"
            self.globals_made[value] = name
            self.globals_out.append(
                memref.GlobalOp.get(StringAttr(name), t, value, constant=UnitAttr())
            )
        get = memref.GetGlobalOp(name, t)
        self.b.insert(get)
        return get.results[0]

    def free_after_last_use(self, block: Block, allocs: list[SSAValue]) -> None:
        """A `memref.dealloc` for each of `block`'s allocs, right after the last op of `block`
        that uses it (an op holding a use in its regions uses it)."""
        ops = list(block.ops)
        position = {op: i for i, op in enumerate(ops)}
        for buffer in allocs:
            last = buffer.owner
            assert isinstance(last, Operation)
            for use in _uses_through_views(buffer):
                # The top-level op that holds the use.
                user: Operation | None = use.operation
                while user is not None and user not in position:
                    user = user.parent_op()
                if user is not None and position[user] > position[last]:
                    last = user
            block.insert_op_after(memref.DeallocOp.get(buffer), last)


def _dies_at(init: SSAValue) -> bool:
    """Whether `init` has one use besides the reads of its sizes (`tensor.dim`: a `?` dim's
    checks, which an in-place update leaves true, since it keeps the shape)."""
    return sum(not isinstance(u.operation, tensor.DimOp) for u in init.uses) == 1


def _runtime_strides(buffer: SSAValue) -> bool:
    """Whether a row-major buffer's strides depend on run-time sizes (a `?` dim after the
    first): a view of it would need `?` strides, which convert-to-llvm does not take."""
    t = buffer.type
    assert isinstance(t, MemRefType)
    return any(d < 0 for d in t.get_shape()[1:]) and not isinstance(t.layout, StridedLayoutAttr)


def _copy_at_offsets(
    b: Builder,
    source: SSAValue,
    buffer: SSAValue,
    op: tensor.InsertSliceOp,
    offsets: list[SSAValue],
    sizes: list[SSAValue],
) -> None:
    """An insert at run-time offsets (unit strides) into a buffer whose strides are run-time
    sizes, or of run-time sizes (a `?`-shaped update): a loop nest over the slice that stores
    each element at its offset position (memref.store computes the address from the buffer's
    run-time sizes), in place of a view with `?` strides or sizes."""
    if any(s != 1 for s in op.static_strides.get_values()):
        raise RelayError("bufferize handles an insert at run-time offsets with unit strides", op)
    index = IndexType()

    def const(builder: Builder, value: int) -> SSAValue:
        return builder.insert(arith.ConstantOp(IntegerAttr(value, index))).results[0]

    run_time = iter(offsets)
    starts = [
        next(run_time) if o == DYNAMIC_INDEX else const(b, o)
        for o in op.static_offsets.get_values()
    ]
    run_time_sizes = iter(sizes)
    inner, positions, bodies = b, [], []
    for size in op.static_sizes.get_values():
        body = Block(arg_types=[index])
        bound = next(run_time_sizes) if size == DYNAMIC_INDEX else const(inner, size)
        loop = scf.ForOp(const(inner, 0), bound, const(inner, 1), [], Region(body))
        loop.location = op.location
        inner.insert(loop)
        positions.append(body.args[0])
        bodies.append(body)
        inner = Builder(InsertPoint.at_end(body))
    value = inner.insert(memref.LoadOp.get(source, positions)).results[0]
    at = [
        inner.insert(arith.AddiOp(s, i)).results[0] for s, i in zip(starts, positions, strict=True)
    ]
    inner.insert(memref.StoreOp.get(value, buffer, at))
    for body in bodies:
        body.add_op(scf.YieldOp())


def _dynamic_offset_view(
    b: Builder, buffer: SSAValue, op: tensor.InsertSliceOp, offsets: list[SSAValue]
) -> SSAValue:
    """The view an insert at run-time offsets (static sizes, unit strides) writes: a
    `memref.subview` whose offset is `?` in its type (its pointer moves; the strides stay
    the buffer's, which must be static: only the first dim may be `?`, as in a loop's
    scan output stacked along a run-time number of iterations)."""
    buffer_t = buffer.type
    assert isinstance(buffer_t, MemRefType)
    shape = buffer_t.get_shape()
    layout = buffer_t.layout
    if any(d < 0 for d in shape[1:]) or any(s != 1 for s in op.static_strides.get_values()):
        raise RelayError(
            "bufferize handles an insert at run-time offsets with unit strides, into a buffer "
            "whose strides are static (`?` only in its first dim)",
            op,
        )
    if isinstance(layout, StridedLayoutAttr):
        strides = [s.data if isinstance(s, IntAttr) else -1 for s in layout.strides]
        if -1 in strides:
            raise RelayError("bufferize: an insert into a view of run-time strides", op)
    else:
        strides = [prod(shape[k + 1 :]) for k in range(len(shape))]
    sizes = list(op.static_sizes.get_values())
    static_offsets = list(op.static_offsets.get_values())  # xDSL's DYNAMIC_INDEX at run-time ones
    view_t = MemRefType(buffer_t.element_type, sizes, StridedLayoutAttr(strides, None))
    view = memref.SubviewOp(
        buffer, offsets, [], [], static_offsets, sizes, [1] * len(sizes), view_t
    )
    view.location = op.location
    b.insert(view)
    return view.result


def _insert_chain(insert: tensor.InsertSliceOp) -> list[tensor.InsertSliceOp] | None:
    """The chain of inserts `insert` belongs to, first one first, when it starts from a fresh
    static tensor and each insert's result feeds only the next one's destination (so they
    all write one buffer in place); None otherwise."""
    first = insert
    while isinstance(prev := first.dest.owner, tensor.InsertSliceOp):
        if not first.dest.has_one_use():
            return None
        first = prev
    root = first.dest
    if not isinstance(root.owner, tensor.EmptyOp) or is_dynamic(root.type):
        return None
    if not root.has_one_use():
        return None
    chain = [first]
    while True:
        users = [u.operation for u in chain[-1].result.uses]
        nxt = users[0] if len(users) == 1 else None
        if not isinstance(nxt, tensor.InsertSliceOp) or nxt.dest is not chain[-1].result:
            return chain
        chain.append(nxt)


def _static_box(op: tensor.InsertSliceOp) -> tuple[list[int], list[int]] | None:
    """The offsets and sizes of a static, unit-stride insert."""
    if op.offsets or op.sizes or op.strides:
        return None
    if any(s != 1 for s in op.static_strides.get_values()):
        return None
    return list(op.static_offsets.get_values()), list(op.static_sizes.get_values())


def _contiguous_slice(op: tensor.InsertSliceOp) -> bool:
    """Whether the slice is one run of memory in its row-major destination: every axis after
    the first one of size above 1 is whole."""
    box = _static_box(op)
    if box is None:
        return False
    _, sizes = box
    shape = list(op.result.type.get_shape())  # pyright: ignore[reportAttributeAccessIssue]
    first = next((k for k, s in enumerate(sizes) if s != 1), len(sizes))
    return sizes[first + 1 :] == shape[first + 1 :]


def _disjoint(a: tensor.InsertSliceOp, b: tensor.InsertSliceOp) -> bool:
    """Whether two static inserts write no element in common."""
    box_a, box_b = _static_box(a), _static_box(b)
    if box_a is None or box_b is None:
        return False
    return any(
        oa + sa <= ob or ob + sb <= oa for oa, sa, ob, sb in zip(*box_a, *box_b, strict=True)
    )


def _yields_from_single_blocks(op: Operation) -> bool:
    """Whether every region of `op` is one block without arguments ending in `scf.yield`."""
    return all(
        len(r.blocks) == 1 and not r.block.args and isinstance(r.block.last_op, scf.YieldOp)
        for r in op.regions
    )


def _uses_through_views(buffer: SSAValue) -> list[Use]:
    """The uses of a buffer and of every view of it (a read of a view reads the buffer)."""
    uses: list[Use] = []
    pending = [buffer]
    while pending:
        for use in pending.pop().uses:
            uses.append(use)
            if isinstance(use.operation, (memref.SubviewOp, memref.CastOp)):
                pending.append(use.operation.results[0])
    return uses


@dataclass(frozen=True)
class BufferizePass(ModulePass):
    """Tensors to memrefs: results become out-parameters, buffers are reused, copies avoided."""

    name = "bufferize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        globals_made: dict[Attribute, str] = {}
        made: list[Operation] = []
        for f in [f for f in op.ops if isinstance(f, func.FuncOp) and not f.is_declaration]:
            if OUTPUTS in f.attributes:
                continue  # bufferized already (an input at the memref stage): nothing to do
            new = _Function(f, made, globals_made).run()
            op.body.block.insert_op_after(new, f)
            f.detach()
            f.erase()
        # The globals go first, once every function is replaced (an insertion point kept
        # before the first function would die with it).
        block = op.body.block
        if block.first_op is None:
            block.add_ops(made)
        else:
            block.insert_ops_before(made, block.first_op)
