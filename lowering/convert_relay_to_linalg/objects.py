"""ADTs, `match` and references as heap objects (docs/native-objects.md has the ABI).

A value that is not a tensor (an ADT value, a reference) is an `!llvm.ptr` to an object
of 8-byte slots: slot 0 holds the tag (the constructor's position; 0 for a reference),
then the leaves of the fields (tuples flattened, as for function parameters): a pointer to
the object of an ADT or reference field, or to the dense buffer of a tensor field followed
by every size of the tensor (a `?` dim's is read back; static ones keep the layout the
same for every type that unifies with it). A tensor is copied into a fresh buffer when
it is stored (the function's own buffers die with it) and read back as a view of that
buffer, without a copy: `bufferization.to_tensor` of the pointer (and `?` sizes) cast to
a memref. Objects and the buffers they hold come from `relay_opt_alloc`, the per-call
arena that `relay_opt_release` frees.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import prod
from typing import TYPE_CHECKING

from xdsl.builder import Builder
from xdsl.dialects import arith, bufferization, func, llvm, scf, tensor
from xdsl.dialects.builtin import (
    ArrayAttr,
    FunctionType,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    StringAttr,
    TensorType,
    TupleType,
    UnitAttr,
    UnrealizedConversionCastOp,
    i1,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.limits import MATCH_FAILED, MATCH_FAILURES_ATTR
from relay_opt.dialects.relay.patterns import (
    ConstructorPattern,
    TuplePattern,
    VarPattern,
    WildcardPattern,
    pattern_var_count,
)
from relay_opt.dialects.relay.symbols import lookup_constructor
from relay_opt.dialects.relay.types import ADTType, RefType, substitute_type_vars

if TYPE_CHECKING:
    from relay_opt.lowering.convert_relay_to_linalg import Lowerer

OBJECT = llvm.LLVMPointerType()
SLOT = 8
ALLOC = "relay_opt_alloc"
RELEASE = "relay_opt_release"
ARENA = "relay_opt_arena"
ARENA_HEADER = 16
"""Bytes before each allocation: the arena's list link (16 keeps the buffer 16-aligned)."""


def constructor_fields(op: Operation, ctor: adt.ConstructorOp, t: Attribute) -> list[Attribute]:
    """The field types of constructor `ctor` in the ADT instance `t`."""
    assert isinstance(t, ADTType)
    names = ctor.type_def.type_param_names
    return [substitute_type_vars(f, dict(zip(names, t.args, strict=True))) for f in ctor.inputs]


class Objects:
    """The object rules of one Lowerer (it calls `op` for the object ops)."""

    def __init__(self, lowerer: Lowerer):
        self.lw = lowerer
        self.used = False
        self.match_failures: list[str] = []
        self.signatures: dict[tuple[tuple[Attribute, ...], tuple[Attribute, ...]], int] = {}
        """Closure signatures (lowered argument and result types) -> their apply function."""
        self.codes: list[list[str]] = []
        self.first_call: dict[int, core.CallClosureOp] = {}  # by signature, for diagnostics
        """Per signature, by tag: a lifted function, or `@global` for a global one."""
        self.global_tags: dict[tuple[int, str], int] = {}
        self.lifted: list[Operation] = []
        self.lifted_count = 0
        self.at: Operation | None = None
        """The op being lowered (for run-time checks)."""

    def lower(self, rule: str, op: Operation) -> None:
        """Lower `op` by method `rule`; an error without a position gets the op's."""
        self.at = op
        try:
            getattr(self, rule)(op)
        except RelayError as e:
            if e.at is None:
                raise RelayError(e.message, op) from None
            raise

    @property
    def b(self) -> Builder:
        return self.lw.builder

    def emit(self, op: Operation) -> SSAValue:
        self.b.insert(op)
        return op.results[0]

    def const(self, value: int, t: Attribute = i64) -> SSAValue:
        return self.emit(arith.ConstantOp(IntegerAttr(value, t)))  # pyright: ignore[reportCallIssue, reportArgumentType]

    def alloc(self, size: int | SSAValue) -> SSAValue:
        self.used = True
        nbytes = self.const(size) if isinstance(size, int) else size
        return self.emit(llvm.CallOp(ALLOC, nbytes, return_type=OBJECT))

    def slot(self, obj: SSAValue, k: int) -> SSAValue:
        return self.emit(llvm.GEPOp(obj, [k], OBJECT, inbounds=True))

    # -- leaves into slots and back ------------------------------------------------------

    def store(
        self, obj: SSAValue, first: int, leaves: Sequence[SSAValue], types: Sequence[Attribute]
    ) -> None:
        """Leaves into the slots from `first` on, as the object's leaf `types` lay them out: a
        tensor as a pointer to a copy of it, then one i64 slot per dim with its size."""
        at = first
        for leaf, t in zip(leaves, types, strict=True):
            if isinstance(t, TensorType):
                leaf = self.fit(leaf, t)
                dynamic = [
                    self.emit(tensor.DimOp(leaf, self.index(axis)))
                    for axis, d in enumerate(t.get_shape())
                    if d < 0
                ]
                buffer = self.alloc(self.tensor_bytes(t, dynamic))
                memref_t = MemRefType(t.element_type, t.get_shape())
                dest = self.emit(UnrealizedConversionCastOp.get([buffer, *dynamic], [memref_t]))
                self.b.insert(
                    bufferization.MaterializeInDestinationOp.create(
                        operands=[leaf, dest], properties={"writable": UnitAttr()}
                    )
                )
                self.emit_store(buffer, self.slot(obj, at))
                at_size = iter(dynamic)
                for k, d in enumerate(t.get_shape()):
                    word = (
                        self.const(d)
                        if d >= 0
                        else self.emit(arith.IndexCastOp(next(at_size), i64))
                    )
                    self.emit_store(word, self.slot(obj, at + 1 + k))
            else:
                self.emit_store(leaf, self.slot(obj, at))
            at += slot_count(t)

    def fit(self, leaf: SSAValue, t: TensorType[Attribute]) -> SSAValue:
        """`leaf` as a tensor of the slot's type `t`. Type inference lets a `?` dim stand for
        a static one (a `?` tensor written into a `ref` of a `(0, 4)` one): its run-time
        size is checked, since the slots hold no size for a static dim."""
        if leaf.type == t:
            return leaf
        lt, at = leaf.type, self.at
        assert at is not None
        assert isinstance(lt, TensorType)
        for axis, (have, want) in enumerate(zip(lt.get_shape(), t.get_shape(), strict=True)):
            if have < 0 <= want:
                size = self.emit(tensor.DimOp(leaf, self.index(axis)))
                self.lw.check_equal(
                    at, size, want, "the value's shape at run time is not its place's type"
                )
        return self.emit(tensor.CastOp(leaf, t))

    def tensor_bytes(self, t: TensorType[Attribute], sizes: Sequence[SSAValue]) -> SSAValue:
        """The bytes of a tensor's buffer (at least 1), an i64; `sizes`: its `?` dims."""
        static = prod(d for d in t.get_shape() if d >= 0) * _element_bytes(t.element_type)
        if not sizes:
            return self.const(max(1, static))
        total = self.index(static)
        for size in sizes:
            total = self.emit(arith.MuliOp(total, size))
        return self.emit(arith.IndexCastOp(total, i64))  # malloc(0 + header) is fine

    def index(self, value: int) -> SSAValue:
        return self.emit(arith.ConstantOp(IntegerAttr(value, IndexType())))

    def emit_store(self, value: SSAValue, address: SSAValue) -> None:
        self.b.insert(llvm.StoreOp(value, address))

    def load(self, obj: SSAValue, first: int, types: Sequence[Attribute]) -> list[SSAValue]:
        """The leaves in the slots from `first` on (tensors as views, no copy; a `?` dim's
        size from its slot)."""
        leaves = []
        at = first
        for t in types:
            value = self.emit(llvm.LoadOp(self.slot(obj, at), OBJECT))
            if isinstance(t, TensorType):
                sizes = []  # only the `?` dims' are read
                for k, d in enumerate(t.get_shape()):
                    if d < 0:
                        word = self.emit(llvm.LoadOp(self.slot(obj, at + 1 + k), i64))
                        sizes.append(self.emit(arith.IndexCastOp(word, IndexType())))
                memref_t = MemRefType(t.element_type, t.get_shape())
                view = self.emit(UnrealizedConversionCastOp.get([value, *sizes], [memref_t]))
                value = self.emit(bufferization.ToTensorOp(view, restrict=True))
            leaves.append(value)
            at += slot_count(t)
        return leaves

    def new_object(
        self, tag: int, leaves: Sequence[SSAValue], types: Sequence[Attribute] | None = None
    ) -> SSAValue:
        """An object of `leaves` (laid out as `types`, by default their own types)."""
        types = [leaf.type for leaf in leaves] if types is None else types
        obj = self.alloc(SLOT * (1 + sum(slot_count(t) for t in types)))
        self.emit_store(self.const(tag), obj)
        self.store(obj, 1, leaves, types)
        return obj

    # -- the ops -------------------------------------------------------------------------

    def construct(self, op: adt.ConstructOp) -> None:
        ctor = lookup_constructor(op, op.constructor)
        assert ctor is not None
        from relay_opt.lowering.convert_relay_to_linalg import flatten_type

        leaves = [leaf for f in op.fields for leaf in self.lw.values[f]]
        fields = constructor_fields(op, ctor, op.result.type)
        types = [leaf for f in fields for leaf in flatten_type(f)]
        self.lw.values[op.result] = [self.new_object(ctor.tag, leaves, types)]

    def ref_create(self, op: core.RefCreateOp) -> None:
        types = _cell_types(op.result.type)
        self.lw.values[op.result] = [self.new_object(0, self.lw.values[op.value], types)]

    def ref_read(self, op: core.RefReadOp) -> None:
        from relay_opt.lowering.convert_relay_to_linalg import flatten_type

        [obj] = self.lw.values[op.ref]
        leaves = self.load(obj, 1, _cell_types(op.ref.type))
        self.lw.values[op.result] = self.lw.coerce(leaves, flatten_type(op.result.type), op)

    def ref_write(self, op: core.RefWriteOp) -> None:
        # A fresh copy of a tensor: a view read from the cell before keeps its value.
        [obj] = self.lw.values[op.ref]
        self.store(obj, 1, self.lw.values[op.value], _cell_types(op.ref.type))
        self.lw.values[op.result] = []

    # -- match ---------------------------------------------------------------------------

    def match(self, op: adt.MatchOp) -> None:
        from relay_opt.lowering.convert_relay_to_linalg import flatten_type

        result_types = flatten_type(op.result.type)
        data = self.lw.values[op.data]
        self.lw.values[op.result] = self.clauses(op, 0, data, result_types)

    def clauses(
        self, op: adt.MatchOp, i: int, data: list[SSAValue], result_types: list[Attribute]
    ) -> list[SSAValue]:
        """Clause i and those after it: `scf.if` on each refutable pattern, in order."""
        if i == len(op.clauses):
            return self.no_match(op, result_types)
        pattern = op.patterns.data[i]
        test = self.test(op, pattern, data, op.data.type)
        if test is None:  # irrefutable: the clauses after it are never tried
            return self.lw.coerce(self.clause_body(op, i, data), result_types, op)
        then_block, else_block = Block(), Block()
        outer = self.b
        self.lw.builder = Builder(InsertPoint.at_end(then_block))
        self.b.insert(scf.YieldOp(*self.lw.coerce(self.clause_body(op, i, data), result_types, op)))
        self.lw.builder = Builder(InsertPoint.at_end(else_block))
        self.b.insert(scf.YieldOp(*self.clauses(op, i + 1, data, result_types)))
        self.lw.builder = outer
        branch = scf.IfOp(test, result_types, Region(then_block), Region(else_block))
        branch.location = op.location
        self.b.insert(branch)
        return list(branch.results)

    def clause_body(self, op: adt.MatchOp, i: int, data: list[SSAValue]) -> list[SSAValue]:
        region = op.clauses[i]
        bound: list[list[SSAValue]] = []
        self.bind(op, op.patterns.data[i], data, op.data.type, bound)
        for arg, leaves in zip(region.block.args, bound, strict=True):
            self.lw.values[arg] = leaves
        terminator = region.block.last_op
        for inner in region.block.ops:
            if inner is terminator:
                break
            self.lw.op(inner)
        assert isinstance(terminator, core.YieldOp)
        return list(self.lw.values[terminator.operands[0]])

    def fail_if(self, op: Operation, condition: SSAValue, message: str) -> None:
        """A run-time error of compiled code (a shape that does not fit): when `condition`
        holds, the error channel reports `message` at op's position. It shares the failing
        match?'s hook; its entry in `relay_opt.match_failures` is `position<TAB>message`."""
        code = len(self.match_failures)
        self.match_failures.append(f"{_position(op)}\t{message}")
        then = Block()
        then.add_ops(
            [
                number := arith.ConstantOp(IntegerAttr(code, i64)),
                func.CallOp(MATCH_FAILED, [number], []),
                scf.YieldOp(),
            ]
        )
        otherwise = Block()
        otherwise.add_op(scf.YieldOp())
        self.b.insert(scf.IfOp(condition, [], Region(then), Region(otherwise)))

    def no_match(self, op: adt.MatchOp, result_types: list[Attribute]) -> list[SSAValue]:
        """No clause matched: the error channel, and placeholder values never read."""
        code = len(self.match_failures)
        self.match_failures.append(_position(op))
        self.b.insert(func.CallOp(MATCH_FAILED, [self.const(code)], []))
        values = []
        for t in result_types:
            if isinstance(t, TensorType):
                # A `?` dim of the placeholder is 0: nothing is ever read from it.
                zeros = [
                    self.emit(arith.ConstantOp(IntegerAttr(0, IndexType())))
                    for d in t.get_shape()
                    if d < 0
                ]
                values.append(self.emit(tensor.EmptyOp(zeros, t)))
            else:
                values.append(self.emit(llvm.ZeroOp(result_types=[t])))
        return values

    def test(
        self, op: Operation, p: Attribute, leaves: list[SSAValue], t: Attribute
    ) -> SSAValue | None:
        """An i1 that holds when `p` matches the value (None: always)."""

        if isinstance(p, (WildcardPattern, VarPattern)):
            return None
        if isinstance(p, TuplePattern):
            assert isinstance(t, TupleType)
            tests = [
                self.test(op, fp, part, ft)
                for fp, part, ft in zip(p.fields, _split(leaves, t.types), t.types, strict=True)
            ]
            return self.conjunction([x for x in tests if x is not None])
        assert isinstance(p, ConstructorPattern)
        ctor = lookup_constructor(op, p.constructor)
        assert ctor is not None
        [obj] = leaves
        tag = self.emit(llvm.LoadOp(obj, i64))
        same = self.emit(arith.CmpiOp(tag, self.const(ctor.tag), "eq"))
        if len(ctor.type_def.constructors) == 1:
            same = None
        fields = constructor_fields(op, ctor, t)
        if not any(_refutable(fp) for fp in p.fields):
            return same
        # The fields exist only if the tag matched: read them under it.
        inner = Block()
        outer = self.b
        self.lw.builder = Builder(InsertPoint.at_end(inner))
        # Only the fields a refutable sub-pattern looks at are read.
        tests = [
            self.test(op, fp, self.field(obj, fields, i), fields[i])
            for i, fp in enumerate(p.fields)
            if _refutable(fp)
        ]
        sub = self.conjunction([x for x in tests if x is not None])
        assert sub is not None
        self.b.insert(scf.YieldOp(sub))
        self.lw.builder = outer
        if same is None:
            # One constructor: the fields are always there.
            for o in list(inner.ops)[:-1]:
                o.detach()
                self.b.insert(o)
            return sub
        otherwise = Block()
        otherwise.add_ops([false := arith.ConstantOp(IntegerAttr(0, i1)), scf.YieldOp(false)])
        branch = scf.IfOp(same, [i1], Region(inner), Region(otherwise))
        self.b.insert(branch)
        return branch.results[0]

    def field(self, obj: SSAValue, fields: list[Attribute], i: int) -> list[SSAValue]:
        """The leaves of field i of an object whose fields have types `fields`."""
        from relay_opt.lowering.convert_relay_to_linalg import flatten_type

        first = 1 + sum(slot_count(leaf) for f in fields[:i] for leaf in flatten_type(f))
        return self.load(obj, first, flatten_type(fields[i]))

    def conjunction(self, tests: list[SSAValue]) -> SSAValue | None:
        if not tests:
            return None
        acc = tests[0]
        for x in tests[1:]:
            acc = self.emit(arith.AndIOp(acc, x))
        return acc

    def bind(
        self,
        op: Operation,
        p: Attribute,
        leaves: list[SSAValue],
        t: Attribute,
        bound: list[list[SSAValue]],
    ) -> None:
        """The leaves of each pattern variable, left to right (the pattern has matched)."""

        if isinstance(p, WildcardPattern):
            return
        if isinstance(p, VarPattern):
            bound.append(leaves)
            return
        if isinstance(p, TuplePattern):
            assert isinstance(t, TupleType)
            for fp, part, ft in zip(p.fields, _split(leaves, t.types), t.types, strict=True):
                self.bind(op, fp, part, ft, bound)
            return
        assert isinstance(p, ConstructorPattern)
        ctor = lookup_constructor(op, p.constructor)
        assert ctor is not None
        fields = constructor_fields(op, ctor, t)
        [obj] = leaves
        for i, fp in enumerate(p.fields):
            if pattern_var_count(fp):  # only the fields that bind something are read
                self.bind(op, fp, self.field(obj, fields, i), fields[i], bound)

    # -- closures (defunctionalized: docs/native-objects.md) -----------------------------

    def signature(self, t: Attribute) -> int:
        """The apply function of closures of Relay function type `t` (by lowered types)."""
        from relay_opt.lowering.convert_relay_to_linalg import flatten_type

        assert isinstance(t, FunctionType)
        key = (
            tuple(leaf for a in t.inputs for leaf in flatten_type(a)),
            tuple(leaf for r in t.outputs for leaf in flatten_type(r)),
        )
        k = self.signatures.setdefault(key, len(self.signatures))
        if k == len(self.codes):
            self.codes.append([])
        return k

    def closure(self, op: core.ClosureOp) -> None:
        """A local function: its body lifted into a function of (closure, args...), which
        reads the captured values from the closure object; the value is that object, its
        tag naming the lifted function among those of its type."""
        from relay_opt.lowering.convert_relay_to_linalg import flatten_type

        lw = self.lw
        captured = [v for v in _free_values(op) if v not in lw.primitives]
        k = self.signature(op.result.type)
        name = f"{_enclosing_name(op)}__fn{self.lifted_count}"
        self.lifted_count += 1
        tag = len(self.codes[k])
        self.codes[k].append(name)
        leaves = [leaf for v in captured for leaf in lw.values[v]]
        lw.values[op.result] = [self.new_object(tag, leaves)]

        arg_types = [leaf for a in op.args for leaf in flatten_type(a.type)]
        outputs = flatten_type(op.ret_type)
        block = Block(arg_types=[OBJECT, *arg_types])
        saved = {v: lw.values[v] for v in captured}
        outer = lw.builder
        lw.builder = Builder(InsertPoint.at_end(block))
        env = self.load(block.args[0], 1, [leaf.type for leaf in leaves])
        start = 0
        for v in captured:
            n = len(saved[v])
            lw.values[v] = env[start : start + n]
            start += n
        if op.self_arg is not None:
            lw.values[op.self_arg] = [block.args[0]]
        args = iter(block.args[1:])
        for a in op.args:
            lw.values[a] = [next(args) for _ in flatten_type(a.type)]
        for inner in op.body.block.ops:
            lw.op(inner)
        lw.builder = outer
        lw.values.update(saved)
        lifted = func.FuncOp(name, ([OBJECT, *arg_types], outputs), Region(block))
        lifted.location = op.location
        self.lifted.append(lifted)

    def global_ref(self, op: core.GlobalRefOp) -> None:
        """A global function as a value: a closure with no captured values."""
        k = self.signature(op.result.type)
        name = op.callee.root_reference.data
        key = (k, name)
        if key not in self.global_tags:
            self.global_tags[key] = len(self.codes[k])
            self.codes[k].append("@" + name)  # called without the closure
        self.lw.values[op.result] = [self.new_object(self.global_tags[key], [])]

    def call_closure(self, op: core.CallClosureOp) -> None:
        from relay_opt.lowering.convert_relay_to_linalg import flatten_type

        k = self.signature(op.callee.type)
        self.first_call.setdefault(k, op)
        [closure] = self.lw.values[op.callee]
        args = [leaf for a in op.arguments for leaf in self.lw.values[a]]
        call = func.CallOp(f"relay_opt_apply{k}", [closure, *args], flatten_type(op.result.type))
        call.location = op.location
        self.b.insert(call)
        self.lw.values[op.result] = list(call.results)

    def apply_functions(self) -> list[Operation]:
        """`relay_opt_apply<k>(closure, args...)`: a chain of `scf.if` on the closure's tag, each
        branch a direct call of one function of signature k (the last needs no test)."""
        made: list[Operation] = []
        for (inputs, outputs), k in self.signatures.items():
            block = Block(arg_types=[OBJECT, *inputs])
            outer = self.lw.builder
            self.lw.builder = Builder(InsertPoint.at_end(block))
            codes = self.codes[k]
            if not codes:  # the closure can only come from outside: a parameter of the entry
                raise RelayError(
                    f"no function of type {self.first_call[k].callee.type} is made in this module: "
                    "a closure passed in from outside cannot be called in native code",
                    self.first_call[k],
                )
            tag = self.emit(llvm.LoadOp(block.args[0], i64)) if len(codes) > 1 else None
            results = self.dispatch(codes, 0, tag, block.args, list(outputs))
            self.b.insert(func.ReturnOp(*results))
            self.lw.builder = outer
            made.append(
                func.FuncOp(
                    f"relay_opt_apply{k}", ([OBJECT, *inputs], list(outputs)), Region(block)
                )
            )
        return made

    def dispatch(
        self,
        codes: list[str],
        j: int,
        tag: SSAValue | None,
        args: Sequence[SSAValue],
        outputs: list[Attribute],
    ) -> list[SSAValue]:
        def call() -> list[SSAValue]:
            code = codes[j]
            operands = list(args[1:]) if code.startswith("@") else list(args)
            made = func.CallOp(code.lstrip("@"), operands, outputs)
            self.b.insert(made)
            return list(made.results)

        if j == len(codes) - 1 or tag is None:
            return call()
        then_block, else_block = Block(), Block()
        outer = self.b
        same = self.emit(arith.CmpiOp(tag, self.const(j), "eq"))
        self.lw.builder = Builder(InsertPoint.at_end(then_block))
        self.b.insert(scf.YieldOp(*call()))
        self.lw.builder = Builder(InsertPoint.at_end(else_block))
        self.b.insert(scf.YieldOp(*self.dispatch(codes, j + 1, tag, args, outputs)))
        self.lw.builder = outer
        branch = scf.IfOp(same, outputs, Region(then_block), Region(else_block))
        self.b.insert(branch)
        return list(branch.results)

    # -- the module's runtime ------------------------------------------------------------

    def finish(self, module_ops: list[Operation]) -> list[Operation]:
        """The arena's global and functions, and the failure hook, when objects were used."""
        extra: list[Operation] = [*self.lifted, *self.apply_functions()]
        if self.used:
            extra += runtime_functions()
        if self.match_failures:
            extra.append(func.FuncOp.external(MATCH_FAILED, [i64], []))
        return extra

    def module_attributes(self) -> dict[str, Attribute]:
        if not self.match_failures:
            return {}
        return {MATCH_FAILURES_ATTR: ArrayAttr([StringAttr(s) for s in self.match_failures])}


def _cell_types(t: Attribute) -> list[Attribute]:
    """The leaf types a reference of type `t` holds."""
    from relay_opt.lowering.convert_relay_to_linalg import flatten_type

    assert isinstance(t, RefType)
    return flatten_type(t.value_type)


def slot_count(t: Attribute) -> int:
    """The slots a leaf of type `t` takes in an object: its pointer, and for a tensor one
    more per dim (its size). Static dims have slots too: two types that unify (a `(2, 4)`
    and a `(?, 4)` tensor, a list of each) have the same layout."""
    if isinstance(t, TensorType):
        return 1 + len(t.get_shape())
    return 1


def _free_values(op: Operation) -> list[SSAValue]:
    """The values defined outside `op` that its regions use, in order of first use."""
    seen: dict[SSAValue, None] = {}
    for inner in op.walk():
        for v in inner.operands:
            if v not in seen and not _inside(v, op):
                seen[v] = None
    return list(seen)


def _inside(v: SSAValue, op: Operation) -> bool:
    owner = v.owner
    at: Operation | None = owner if isinstance(owner, Operation) else owner.parent_op()
    while at is not None:
        if at is op:
            return True
        at = at.parent_op()
    return False


def _enclosing_name(op: Operation) -> str:
    at = op.parent_op()
    while at is not None and not isinstance(at, core.FuncOp):
        at = at.parent_op()
    return at.sym_name.data if isinstance(at, core.FuncOp) else "closure"


def _refutable(p: Attribute) -> bool:
    if isinstance(p, (WildcardPattern, VarPattern)):
        return False
    if isinstance(p, TuplePattern):
        return any(_refutable(f) for f in p.fields)
    return True


def _split(leaves: list[SSAValue], types: Iterable[Attribute]) -> list[list[SSAValue]]:
    from relay_opt.lowering.convert_relay_to_linalg import flatten_type

    parts, start = [], 0
    for t in types:
        n = len(flatten_type(t))
        parts.append(leaves[start : start + n])
        start += n
    return parts


def _element_bytes(t: Attribute) -> int:
    width = getattr(t, "bitwidth", None) or t.width.data  # pyright: ignore[reportAttributeAccessIssue]
    return max(1, (width + 7) // 8)


def _position(op: Operation) -> str:
    """`file:line:col` of an op, else its ONNX node ("" when it has neither)."""
    from relay_opt.diagnostics import location_of, node_of

    loc = location_of(op)
    return str(loc) if loc is not None else node_of(op) or ""


def runtime_functions() -> list[Operation]:
    """`relay_opt_alloc(size)`: malloc'd memory linked into the arena list (a weak global,
    one per module); `relay_opt_release()`: frees the list."""
    ptr = OBJECT
    decls = [
        llvm.FuncOp(
            "malloc", llvm.LLVMFunctionType([i64], ptr), linkage=llvm.LinkageAttr("external")
        ),
        llvm.FuncOp("free", llvm.LLVMFunctionType([ptr]), linkage=llvm.LinkageAttr("external")),
    ]
    # The list head, a pointer (null at first) in an 8-byte global; weak, as the JIT finds it.
    arena = llvm.GlobalOp(i64, ARENA, "weak", value=IntegerAttr(0, i64), alignment=8)

    body = Block(arg_types=[i64])
    b = Builder(InsertPoint.at_end(body))
    header = b.insert(llvm.ConstantOp(IntegerAttr(ARENA_HEADER, i64), i64)).results[0]
    total = b.insert(llvm.AddOp(body.args[0], header)).results[0]
    block = b.insert(llvm.CallOp("malloc", total, return_type=ptr)).results[0]
    # The head is kept as an integer: llvmlite types the global's address as i64*.
    head_at = b.insert(llvm.AddressOfOp(ARENA, ptr)).results[0]
    head = b.insert(llvm.LoadOp(head_at, i64)).results[0]
    b.insert(llvm.StoreOp(head, block))
    b.insert(llvm.StoreOp(b.insert(llvm.PtrToIntOp(block, i64)).results[0], head_at))
    data = b.insert(llvm.GEPOp(block, [ARENA_HEADER], IntegerType(8), inbounds=True)).results[0]
    b.insert(llvm.ReturnOp(data))
    alloc = llvm.FuncOp(
        ALLOC,
        llvm.LLVMFunctionType([i64], ptr),
        linkage=llvm.LinkageAttr("internal"),
        body=Region(body),
    )

    entry, loop, step, done = Block(), Block(arg_types=[i64]), Block(), Block()
    b = Builder(InsertPoint.at_end(entry))
    head_at = b.insert(llvm.AddressOfOp(ARENA, ptr)).results[0]
    first = b.insert(llvm.LoadOp(head_at, i64)).results[0]
    b.insert(llvm.BrOp(loop, first))
    b = Builder(InsertPoint.at_end(loop))
    zero = b.insert(llvm.ConstantOp(IntegerAttr(0, i64), i64)).results[0]
    eq = IntegerAttr(llvm.ICmpPredicateFlag("eq").to_int(), i64)
    end = b.insert(llvm.ICmpOp(loop.args[0], zero, eq)).results[0]
    b.insert(llvm.CondBrOp(end, done, [], step, []))
    b = Builder(InsertPoint.at_end(step))
    block = b.insert(llvm.IntToPtrOp(loop.args[0])).results[0]
    nxt = b.insert(llvm.LoadOp(block, i64)).results[0]
    b.insert(llvm.CallOp("free", block))
    b.insert(llvm.BrOp(loop, nxt))
    b = Builder(InsertPoint.at_end(done))
    head_at = b.insert(llvm.AddressOfOp(ARENA, ptr)).results[0]
    b.insert(llvm.StoreOp(b.insert(llvm.ConstantOp(IntegerAttr(0, i64), i64)).results[0], head_at))
    b.insert(llvm.ReturnOp(None))
    release = llvm.FuncOp(
        RELEASE,
        llvm.LLVMFunctionType([]),
        linkage=llvm.LinkageAttr("external"),
        body=Region([entry, loop, step, done]),
    )
    return [*decls, arena, alloc, release]
