"""convert-relay-to-linalg: Relay programs -> func + tensor + linalg + arith + math.

The driver knows nothing about individual operators: each operator's lowering is
a rule registered in a table keyed by operator class (`@lowering(Add, ...)`), as
JAX does; an operator without a rule is a diagnostic naming it.

Functions become `func.func`; tuples disappear (a tuple-typed parameter or
result becomes one per field, recursively; `relay.tuple`/`relay.tuple_get`
just regroup values); unsigned dtypes become signless integers with the
unsigned operations chosen by the rules. `relay.if` becomes `scf.if` on the condition
extracted as an i1, with the branches lowered by the same Lowerer and their results
flattened like any value. ADT values and references are heap objects (objects.py,
docs/native-objects.md); `match` becomes `scf.if` on tags; closures are
defunctionalized (an object holding the captured values, called through one apply
function per signature: objects.py). Tensors with `?` dims carry their sizes at run time;
an operator's result sizes come from its shape function (docs/native-dynamic-shapes.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, func, llvm, math, scf, tensor
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    FunctionType,
    IndexType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    Signedness,
    TensorType,
    TupleType,
    UnknownLoc,
    f64,
    i1,
    i64,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.attribute_names import GROUP, PRIMITIVE
from relay_opt.dialects.relay.ir_helpers import inline_body
from relay_opt.dialects.relay.registry import RelayOperatorOp, TypeRelationError
from relay_opt.dialects.relay.types import (
    ADTType,
    RefType,
    StringType,
    is_concrete,
    tensor_dtype,
)
from relay_opt.lowering.convert_relay_to_linalg.objects import OBJECT, Objects
from relay_opt.lowering.convert_relay_to_linalg.string_pool import StringPool

if TYPE_CHECKING:
    from relay_opt.dialects.relay.builder import RelayBuilder

Rule = Callable[["Lowerer", RelayOperatorOp, list[SSAValue]], SSAValue | list[SSAValue]]
RULES: dict[type[RelayOperatorOp], Rule] = {}


def lowering(*ops: type[RelayOperatorOp]) -> Callable[[Rule], Rule]:
    """Register a lowering rule for the given Relay operator classes."""

    def register(rule: Rule) -> Rule:
        for op in ops:
            if op in RULES:
                raise ValueError(f"two lowering rules for '{op.OPDEF.name}'")
            RULES[op] = rule
        return rule

    return register


def _load_rules() -> None:
    from relay_opt.lowering.convert_relay_to_linalg import (  # noqa: F401
        elementwise,
        nn,
        reduce,
        strings,
        transform,
        vision,
    )


def signless(t: Attribute) -> Attribute:
    """MLIR's arith works on signless integers: ui8 -> i8 (the rules know it was unsigned).
    A string is the address of its object, an i64 (strings.py)."""
    if isinstance(t, StringType):
        return i64
    if isinstance(t, IntegerType) and t.signedness.data != Signedness.SIGNLESS:
        return IntegerType(t.width.data)
    if isinstance(t, TensorType):
        return TensorType(signless(t.element_type), t.get_shape())
    return t


NO_NATIVE_STRINGS = (
    "is not compiled to native code yet; the interpreter runs it "
    "(relay-run --interpret; docs/strings.md)"
)
"""The end of every refusal of a string case (`'strings.split' of data with ? dimensions
...`): ONNX's backend reports a model that meets one as skipped."""


def flatten_type(t: Attribute) -> list[Attribute]:
    """The tensor types a Relay type becomes: a tuple, one per field (recursively)."""
    if isinstance(t, TupleType):
        return [leaf for f in t.types for leaf in flatten_type(f)]
    if isinstance(t, TensorType):
        return [signless(t)]
    if isinstance(t, (ADTType, RefType, FunctionType)):
        return [OBJECT]  # a heap object (objects.py)
    raise RelayError(f"values of type {t} are not supported by convert-relay-to-linalg yet")


@dataclass
class Lowerer:
    """Lowers one module; rules build ops through `self.builder`."""

    builder: Builder

    def __post_init__(self) -> None:
        self.values: dict[SSAValue, list[SSAValue]] = {}
        self.primitives: dict[SSAValue, core.ClosureOp] = {}
        self.groups = 0
        """Fused groups inlined so far: each call of a primitive closure is a group of its own."""
        self.objects = Objects(self)  # pyright: ignore[reportArgumentType]
        self.strings = StringPool()
        self.relay_functions: dict[str, core.FuncOp] = {}
        self.counters = 0
        """`relay.call_count` ops lowered so far: each has a global of its own."""
        self.result_sizes: tuple[Attribute, list[SSAValue]] = (i1, [])
        """The result type of the operator being lowered and the run-time sizes of its `?`
        dims: what `sized_empty` gives a tensor.empty of that type."""

    def result_dims(self) -> list[int | SSAValue]:
        """The current operator's result dims: ints, and run-time sizes for `?` dims."""
        rt, sizes = self.result_sizes
        assert isinstance(rt, TensorType)
        at = iter(sizes)
        return [d if d >= 0 else next(at) for d in rt.get_shape()]

    def check_same_size(
        self,
        op: Operation,
        a: SSAValue,
        a_axis: int,
        b: SSAValue,
        b_axis: int,
        what: str = "the inner dimensions differ at run time",
    ) -> None:
        """A run-time check that two dims the lowering pairs (a contraction's inner dims)
        are equal, when one is `?`."""
        da, db = a.type.get_shape()[a_axis], b.type.get_shape()[b_axis]  # pyright: ignore[reportAttributeAccessIssue]
        if da >= 0 and db >= 0:
            return
        size_a = da if da >= 0 else RuntimeDim.of(self, a, a_axis).value
        size_b = db if db >= 0 else RuntimeDim.of(self, b, b_axis).value
        self.check_equal(op, size_a, size_b, what)

    def check_equal(self, op: Operation, a: int | SSAValue, b: int | SSAValue, what: str) -> None:
        """When two sizes differ at run time, the call ends with `what` at op's position."""
        a_value = a if isinstance(a, SSAValue) else RuntimeDim.const(self, a).value
        b_value = b if isinstance(b, SSAValue) else RuntimeDim.const(self, b).value
        differ = self.insert(arith.CmpiOp(a_value, b_value, "ne")).results[0]
        self.objects.fail_if(op, differ, f"'{op.name.removeprefix('relay.')}': {what}")

    def sized_empty(self, t: Attribute) -> SSAValue:
        """`tensor.empty` of type `t`; with `?` dims, sized as the current operator's result."""
        sizes: list[SSAValue] = []
        if isinstance(t, TensorType) and _has_dynamic_dims(t):
            # The result itself, or a temporary of its rank (softmax's row maxima): each `?`
            # dim is the result's run-time size at that position.
            rt, result_sizes = self.result_sizes
            assert isinstance(rt, TensorType)
            at = iter(result_sizes)
            by_axis = {k: next(at) for k, d in enumerate(rt.get_shape()) if d < 0}
            shape = t.get_shape()
            if len(shape) != len(rt.get_shape()) or any(
                d < 0 and k not in by_axis for k, d in enumerate(shape)
            ):
                raise RelayError(f"a temporary of type {t} with ? dimensions is not supported yet")
            sizes = [by_axis[k] for k, d in enumerate(shape) if d < 0]
        return self.insert(tensor.EmptyOp(sizes, t)).results[0]

    def dynamic_sizes(self, op: RelayOperatorOp, operands: list[SSAValue]) -> list[SSAValue]:
        """The run-time sizes of the `?` dims of op's result (index values, in order), from
        the operator's shape function (docs/native-dynamic-shapes.md). An operator with `?`
        dims in an operand needs one too, even when its result is static (a global pooling
        over `?` rows): only the operators that have one are lowered with `?` dims."""
        result_t = op.result.type
        leaves = [f for v in operands for f in ([v] if _is_tensor(v) else self.values.get(v, []))]
        if not any(
            isinstance(t, TensorType) and _has_dynamic_dims(t)
            for t in [result_t] + [f.type for f in leaves]
        ):
            return []
        shape_fn = op.opdef.shape
        if op.opdef.sized_by_values:
            return []  # the rule sizes its result (and reads its operands' run-time sizes)
        if shape_fn is None:
            raise RelayError(
                f"'{op.opdef.name}' with ? dimensions is not supported natively yet "
                "(the interpreter runs it: relay-run --interpret)",
                op,
            )

        def dims_of(v: SSAValue) -> list[object]:
            t = v.type
            assert isinstance(t, TensorType)
            return [d if d >= 0 else RuntimeDim.of(self, v, i) for i, d in enumerate(t.get_shape())]

        def contents_of(v: SSAValue) -> list[object]:
            """The elements of a 1-D or 0-d tensor as run-time values (`shape_reads`):
            integers as sizes (index), floats as float64 (arange's bounds)."""
            t = v.type
            assert isinstance(t, TensorType)
            sizes: list[object] = []
            shape = t.get_shape()
            for k in range(shape[0]) if shape else [None]:
                at = [] if k is None else [RuntimeDim.const(self, k).value]
                element = self.insert(tensor.ExtractOp(v, at, t.element_type)).results[0]
                if isinstance(t.element_type, IntegerType):
                    value = self.insert(arith.IndexCastOp(element, IndexType())).results[0]
                elif t.element_type == f64:
                    value = element
                else:
                    value = self.insert(arith.ExtFOp(element, f64)).results[0]
                sizes.append(RuntimeDim(self, value))
            return sizes

        # A tuple operand (concatenate's) is the list of its fields' shapes.
        shapes = [
            contents_of(v)
            if k in op.opdef.shape_reads
            else dims_of(v)
            if isinstance(v.type, TensorType)
            else [dims_of(f) for f in self.values[v]]
            for k, v in enumerate(operands)
        ]
        try:
            dims = shape_fn(shapes, op.attrs)
        except TypeRelationError as e:
            raise RelayError(
                f"'{op.opdef.name}' with these ? dimensions is not supported natively yet: {e}", op
            ) from None
        sizes: list[SSAValue] = []
        if not isinstance(result_t, TensorType):
            return sizes
        for d, static in zip(dims, result_t.get_shape(), strict=True):
            if static >= 0:
                continue
            sizes.append(d.value if isinstance(d, RuntimeDim) else RuntimeDim.const(self, d).value)
        return sizes

    def insert(self, op: Operation) -> Operation:
        self.builder.insert(op)
        return op

    def tensor(self, v: SSAValue) -> SSAValue:
        [leaf] = self.values[v]
        return leaf

    # -- the module ------------------------------------------------------------------------

    def module(self, module: ModuleOp) -> None:
        _load_rules()
        self.relay_functions = {
            f.sym_name.data: f for f in module.ops if isinstance(f, core.FuncOp)
        }
        new_ops: list[Operation] = []
        for op in list(module.ops):
            if isinstance(op, adt.TypeDefOp):
                continue
            if not isinstance(op, core.FuncOp):
                new_ops.append(op.clone())
                continue
            new_ops.append(self.function(op))
        for op in list(module.ops):
            op.detach()
        new_ops += self.strings.finish()
        new_ops += self.objects.finish(new_ops)
        new_ops += [
            llvm.GlobalOp(i64, _counter(k), "internal", value=IntegerAttr(0, i64), alignment=8)
            for k in range(self.counters)
        ]
        module.body.block.add_ops([*_external_declarations(new_ops), *new_ops])
        module.attributes.update(self.objects.module_attributes())

    def function(self, f: core.FuncOp) -> func.FuncOp:
        if f.type_param_names:
            raise RelayError(
                f"@{f.sym_name.data} is polymorphic; run the monomorphize pass first", f
            )
        if not is_concrete(f.function_type):
            raise RelayError(f"@{f.sym_name.data} is not fully typed; run infer-types first", f)
        for inner in f.body.walk():
            # A value the result does not use (a `Nil` of no known element type) is not
            # typed by the signature; infer-types refuses it, and the rules assume types.
            for r in inner.results:
                if not is_concrete(r.type):
                    raise RelayError(
                        f"the type of this value is not known: {r.type}; run infer-types "
                        "first, or annotate it",
                        inner,
                    )
        try:
            inputs = [leaf for t in f.function_type.inputs for leaf in flatten_type(t)]
            outputs = flatten_type(f.ret_type)
        except RelayError as e:
            raise RelayError(f"@{f.sym_name.data}: {e.message}", f) from None
        block = Block(arg_types=inputs)
        args = iter(block.args)
        for param in f.args:
            self.values[param] = [next(args) for _ in flatten_type(param.type)]
            for leaf in self.values[param]:
                leaf.name_hint = param.name_hint
        new = func.FuncOp(f.sym_name.data, (inputs, outputs), Region(block))
        new.location = f.location
        self.builder = Builder(InsertPoint.at_end(block))
        for op in f.body.block.ops:
            self.op(op)
        return new

    def op(self, op: Operation) -> None:
        if isinstance(op, core.ReturnOp):
            f, leaves = op.parent_op(), self.values[op.value]
            if isinstance(f, core.FuncOp):
                leaves = self.coerce(leaves, flatten_type(f.ret_type), op)
            self.insert(func.ReturnOp(*leaves))
            return
        if isinstance(op, core.TupleOp):
            self.values[op.result] = [leaf for f in op.fields for leaf in self.values[f]]
            return
        if isinstance(op, core.TupleGetOp):
            ttype = op.tuple.type
            assert isinstance(ttype, TupleType)
            sizes = [len(flatten_type(f)) for f in ttype.types]
            start = sum(sizes[: op.field_index])
            self.values[op.result] = self.values[op.tuple][start : start + sizes[op.field_index]]
            return
        if isinstance(op, core.ConstantOp):
            self.values[op.result] = [self.constant(op)]
            return
        if isinstance(op, core.CallOp):
            args = [leaf for a in op.arguments for leaf in self.values[a]]
            callee = self.callee_inputs(op)
            if callee is not None:
                args = self.coerce(args, callee, op)
            call = self.insert(func.CallOp(op.callee, args, flatten_type(op.result.type)))
            call.location = op.location
            self.values[op.result] = list(call.results)
            return
        if (rule := OBJECT_OPS.get(type(op))) is not None:
            self.objects.lower(rule, op)
            return
        if isinstance(op, core.ClosureOp) and op.attributes.get(PRIMITIVE) is not None:
            self.primitives[op.result] = op  # lowered where it is called
            return
        if isinstance(op, core.CallClosureOp) and op.callee in self.primitives:
            self.inline_primitive(self.primitives[op.callee], op)
            return
        if isinstance(op, core.ClosureOp):
            self.objects.lower("closure", op)
            return
        if isinstance(op, core.CallClosureOp):
            self.objects.lower("call_closure", op)
            return
        if isinstance(op, core.GlobalRefOp):
            self.objects.lower("global_ref", op)
            return
        if isinstance(op, core.IfOp):
            self.if_(op)
            return
        if isinstance(op, core.CallCountOp):
            self.values[op.result] = [self.call_count()]
            return
        if isinstance(op, RelayOperatorOp):
            rule = RULES.get(type(op))
            if rule is None and op.opdef.strings:
                raise RelayError(f"'{op.opdef.name}' {NO_NATIVE_STRINGS}", op)
            if rule is None:
                raise RelayError(f"no lowering to linalg for operator '{op.opdef.name}' yet", op)
            block = self.builder.insertion_point.block
            before = block.last_op
            operands = [self.tensor(o) if _is_tensor(o) else o for o in op.operands]
            self.result_sizes = (signless(op.result.type), self.dynamic_sizes(op, operands))
            try:
                result = rule(self, op, operands)
            except RelayError as e:
                if e.at is None:  # a rule's own refusal (a ? temporary): at the operator
                    e.at = op
                raise
            self.values[op.result] = result if isinstance(result, list) else [result]
            # Every op the rule made carries the Relay op's source position.
            new = before.next_op if before is not None else block.first_op
            while new is not None:
                if isinstance(new.location, UnknownLoc):
                    new.location = op.location
                new = new.next_op
            return
        raise RelayError(
            f"'{op.name}' is not supported by convert-relay-to-linalg yet",
            op,
        )

    def coerce(
        self, leaves: Sequence[SSAValue], types: Sequence[Attribute], at: Operation
    ) -> list[SSAValue]:
        """Leaves where values of `types` are expected (a callee's parameters, a function's or
        a branch's result) by a `tensor.cast`: a tensor with static dims where the type has
        `?` ones (Relay types `(3, 0)` as a `(3, ?)`), or one with `?` dims where the type
        is static (type inference lets `?` meet a static dim): each such size is checked at
        run time first, an error at `at` when it differs, so nothing reads past the data."""
        out: list[SSAValue] = []
        for leaf, t in zip(leaves, types, strict=True):
            if leaf.type != t and isinstance(t, TensorType) and isinstance(leaf.type, TensorType):
                static = t.get_shape()
                for k, (have, want) in enumerate(zip(leaf.type.get_shape(), static, strict=True)):
                    if have < 0 <= want:
                        size = RuntimeDim.of(self, leaf, k).value
                        what = f"a ? dimension (axis {k}) is not {want} at run time, as {t} needs"
                        self.check_equal(at, size, want, what)
                leaf = self.insert(tensor.CastOp(leaf, t)).results[0]
            out.append(leaf)
        return out

    def callee_inputs(self, op: core.CallOp) -> list[Attribute] | None:
        """The leaf types of a called function's parameters."""
        callee = self.relay_functions.get(op.callee.string_value())
        if callee is None:
            return None
        return [leaf for t in callee.function_type.inputs for leaf in flatten_type(t)]

    def if_(self, op: core.IfOp) -> None:
        """`scf.if` on the condition's one element; each branch is lowered in its own region
        and yields its value's leaves."""
        cond = self.insert(tensor.ExtractOp(self.tensor(op.cond), [], i1))
        cond.location = op.location
        new = scf.IfOp(cond, flatten_type(op.result.type), Region(Block()), Region(Block()))
        new.location = op.location
        for old, region in ((op.then_region, new.true_region), (op.else_region, new.false_region)):
            self.region(old.block, region.block, flatten_type(op.result.type))
        self.insert(new)
        self.values[op.result] = list(new.results)

    def region(self, old: Block, block: Block, types: Sequence[Attribute]) -> None:
        """Lowers the ops of a branch into `block`; its `relay.yield` becomes `scf.yield`."""
        outer = self.builder
        self.builder = Builder(InsertPoint.at_end(block))
        for inner in old.ops:
            if isinstance(inner, core.YieldOp):
                leaves = self.coerce(self.values[inner.value], types, inner)
                self.insert(scf.YieldOp(*leaves)).location = inner.location
            else:
                self.op(inner)
        self.builder = outer

    def inline_primitive(self, fn: core.ClosureOp, call: core.CallClosureOp) -> None:
        """A fused group: its body's ops, lowered in place of the call."""
        block = self.builder.insertion_point.block
        before = block.last_op
        inlined: list[Operation] = []

        def lower(inner: Operation) -> None:
            inlined.append(inner)
            self.op(inner)

        result = inline_body(fn, call.arguments, lower)
        # Mark the group's kernels, for fuse-linalg-elementwise.
        self.groups += 1
        group = IntegerAttr(self.groups, i64)
        new = before.next_op if before is not None else block.first_op
        while new is not None:
            if new.name == "linalg.generic":
                new.attributes[GROUP] = group
            new = new.next_op
        self.values[call.result] = self.values[result]
        # The inlined copies read the call's arguments: drop them (last first, so no use is left).
        for inner in reversed(inlined):
            inner.erase(safe_erase=False)

    def call_count(self) -> SSAValue:
        """The count before this run, read from the op's global, which is then incremented
        (an internal global starts at 0 in every engine or process that loads the code)."""
        at = self.insert(llvm.AddressOfOp(_counter(self.counters), OBJECT)).results[0]
        self.counters += 1
        count = self.insert(llvm.LoadOp(at, i64)).results[0]
        one = self.insert(llvm.ConstantOp(IntegerAttr(1, i64), i64)).results[0]
        self.insert(llvm.StoreOp(self.insert(llvm.AddOp(count, one)).results[0], at))
        t = TensorType(i64, [])
        return self.insert(linalg.FillOp([count], [self.sized_empty(t)], [t])).results[0]

    def constant(self, op: core.ConstantOp) -> SSAValue:
        value = op.value
        t = signless(value.get_type())
        if isinstance(value, DenseResourceAttr):
            value = DenseResourceAttr(value.resource_handle, t)  # pyright: ignore[reportArgumentType]
        elif t != value.type:
            value = DenseIntOrFPElementsAttr(t, BytesAttr(value.data.data))  # pyright: ignore
        c = self.insert(arith.ConstantOp(value, t))
        c.location = op.location
        return c.results[0]


OBJECT_OPS = {
    adt.ConstructOp: "construct",
    adt.MatchOp: "match",
    core.RefCreateOp: "ref_create",
    core.RefReadOp: "ref_read",
    core.RefWriteOp: "ref_write",
}


def lower_through_relay(
    lw: Lowerer, op: RelayOperatorOp, build: Callable[[RelayBuilder, RelayOperatorOp], SSAValue]
) -> SSAValue:
    """Lower `op` through the Relay ops `build` expresses it in (built aside, each lowered
    with its own rule); the value the last one computes."""
    from relay_opt.dialects.relay.builder import RelayBuilder

    built: list[Operation] = []
    try:
        out = build(RelayBuilder.collect(built, op.location), op)
    except TypeRelationError as e:  # a step the rule needs does not type (a `?` dim it refuses)
        for relay_op in reversed(built):
            relay_op.erase(safe_erase=False)
        raise RelayError(
            f"'{op.opdef.name}' is not supported natively this way yet: {e}", op
        ) from None
    if not built:  # nothing to compute: `op`'s operand itself
        return lw.values[out][0]
    for relay_op in built:
        lw.op(relay_op)
    [lowered] = lw.values[out]
    # The built ops use the op's operands: drop them (last first, so no use is left).
    for relay_op in reversed(built):
        relay_op.erase(safe_erase=False)
    return lowered


def _external_declarations(ops: list[Operation]) -> list[func.FuncOp]:
    """A private declaration of each function the kernels call that the module does not
    define (C's fmodf): a call needs its callee in the symbol table to verify."""
    defined = {op.sym_name.data for op in ops if isinstance(op, func.FuncOp)}
    declared: dict[str, func.FuncOp] = {}
    for op in ops:
        for call in op.walk():
            if isinstance(call, func.CallOp):
                name = call.callee.string_value()
                if name not in defined and name not in declared:
                    types = ([a.type for a in call.arguments], [r.type for r in call.results])
                    declared[name] = func.FuncOp.external(name, *types)
    return list(declared.values())


def _counter(k: int) -> str:
    return f"relay_opt_call_count_{k}"


def _has_dynamic_dims(t: TensorType[Attribute]) -> bool:
    return any(d < 0 for d in t.get_shape())


def _is_dim_of(size: SSAValue, value: SSAValue, axis: int) -> bool:
    """Whether `size` is `tensor.dim value, axis`."""
    owner = size.owner
    if not isinstance(owner, tensor.DimOp) or owner.source != value:
        return False
    index = owner.index.owner
    return isinstance(index, arith.ConstantOp) and index.value.value.data == axis  # pyright: ignore[reportAttributeAccessIssue]


class RuntimeDim:
    """A size known at run time (an `index` value), for the operators' shape functions:
    `+ - * //`, `.max` (unsigned) and `.smax`/`.smin` (signed) with ints and other
    RuntimeDims build `arith` ops; ints stay ints."""

    def __init__(self, lw: Lowerer, value: SSAValue | None, dim_of: tuple[SSAValue, int] = ()):  # pyright: ignore[reportArgumentType]
        self.lw, self._value, self._dim_of = lw, value, dim_of

    @property
    def value(self) -> SSAValue:
        """The index value; a tensor's dim is read (`tensor.dim`) the first time it is used."""
        if self._value is None:
            source, axis = self._dim_of
            axis_value = RuntimeDim.const(self.lw, axis).value
            self._value = self.lw.insert(tensor.DimOp(source, axis_value)).results[0]
        return self._value

    @staticmethod
    def of(lw: Lowerer, tensor_value: SSAValue, axis: int) -> RuntimeDim:
        return RuntimeDim(lw, None, (tensor_value, axis))

    @staticmethod
    def const(lw: Lowerer, value: int) -> RuntimeDim:
        return RuntimeDim(
            lw, lw.insert(arith.ConstantOp(IntegerAttr(value, IndexType()))).results[0]
        )

    def _binary(self, other: object, op: type[Operation], swap: bool = False) -> RuntimeDim:
        if isinstance(other, int):
            other = RuntimeDim.const(self.lw, other)
        if not isinstance(other, RuntimeDim):
            return NotImplemented
        lhs, rhs = (other.value, self.value) if swap else (self.value, other.value)
        if lhs.type == f64 or rhs.type == f64:  # a float read (arange's bounds): float64 ops
            lhs, rhs = self._float(lhs), self._float(rhs)
            op = _FLOAT_OPS[op]
        return RuntimeDim(self.lw, self.lw.insert(op(lhs, rhs)).results[0])  # pyright: ignore[reportCallIssue]

    def _float(self, v: SSAValue) -> SSAValue:
        if v.type == f64:
            return v
        wide = self.lw.insert(arith.IndexCastOp(v, i64)).results[0]
        return self.lw.insert(arith.SIToFPOp(wide, f64)).results[0]

    def ceil_div(self, other: object) -> RuntimeDim:
        """ceil(self / other) as a size, in float64 when either is a float (numpy's arange
        length). An integer divisor of 0 divides by 1 instead (no trap): the caller checks
        for it and reports it."""
        if isinstance(other, int):
            other = RuntimeDim.const(self.lw, other)
        assert isinstance(other, RuntimeDim)
        a, b = self.value, other.value
        insert = self.lw.insert
        if a.type == f64 or b.type == f64:
            ratio = insert(arith.DivfOp(self._float(a), self._float(b))).results[0]
            up = insert(math.CeilOp(ratio)).results[0]
            # Beyond i64 (a zero step's inf, nan) the size is garbage the caller's check stops.
            whole = insert(arith.FPToSIOp(up, i64)).results[0]
            return RuntimeDim(self.lw, insert(arith.IndexCastOp(whole, IndexType())).results[0])
        zero, one = RuntimeDim.const(self.lw, 0).value, RuntimeDim.const(self.lw, 1).value
        is_zero = insert(arith.CmpiOp(b, zero, "eq")).results[0]
        b = insert(arith.SelectOp(is_zero, one, b)).results[0]
        negated = insert(arith.SubiOp(zero, a)).results[0]
        down = insert(arith.FloorDivSIOp(negated, b)).results[0]
        return RuntimeDim(self.lw, insert(arith.SubiOp(zero, down)).results[0])

    def __add__(self, other: object) -> RuntimeDim:
        return self._binary(other, arith.AddiOp)

    __radd__ = __add__

    def __mul__(self, other: object) -> RuntimeDim:
        return self._binary(other, arith.MuliOp)

    __rmul__ = __mul__

    def __sub__(self, other: object) -> RuntimeDim:
        return self._binary(other, arith.SubiOp)

    def __rsub__(self, other: object) -> RuntimeDim:
        return self._binary(other, arith.SubiOp, swap=True)

    def max(self, other: object) -> RuntimeDim:
        """The larger size (numpy broadcasting); a dim with itself is itself."""
        if isinstance(other, RuntimeDim) and self._dim_of and self._dim_of == other._dim_of:
            return self
        return self._binary(other, arith.MaxUIOp)

    def smax(self, other: object) -> RuntimeDim:
        """The larger of two signed sizes (a slice bound clamped from below)."""
        return self._binary(other, arith.MaxSIOp)

    def smin(self, other: object) -> RuntimeDim:
        """The smaller of two signed sizes (a slice bound clamped from above)."""
        return self._binary(other, arith.MinSIOp)

    def __floordiv__(self, other: object) -> RuntimeDim:
        return self._binary(other, arith.FloorDivSIOp)

    def __rfloordiv__(self, other: object) -> RuntimeDim:
        return self._binary(other, arith.FloorDivSIOp, swap=True)


_FLOAT_OPS: dict[type[Operation], type[Operation]] = {
    arith.AddiOp: arith.AddfOp,
    arith.SubiOp: arith.SubfOp,
    arith.MuliOp: arith.MulfOp,
}
"""The float64 op of each size op that a float read may take part in."""


def _is_tensor(v: SSAValue) -> bool:
    return isinstance(v.type, TensorType)


def unsigned(op: RelayOperatorOp, index: int = 0) -> bool:
    """Whether operand `index` of a Relay op has an unsigned dtype."""
    t = op.operands[index].type
    return isinstance(t, TensorType) and tensor_dtype(t).startswith("uint")


@dataclass(frozen=True)
class ConvertRelayToLinalgPass(ModulePass):
    """Lowers static Relay graphs to func, tensor, linalg, arith and math (upstream MLIR)."""

    name = "convert-relay-to-linalg"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        Lowerer(Builder(InsertPoint.at_end(op.body.block))).module(op)
