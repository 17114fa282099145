"""partial-evaluate: runs what is known at compile time, leaves the rest (TVM's PartialEvaluate).

Each global function is evaluated with its parameters unknown, and its body rebuilt from
what could not be computed (the residual program). A value is known (a tensor, a tuple, an
ADT value, a closure or a global function, with unknown parts inside) or unknown (an SSA
value of the residual program). Then:

- operators on known tensors are computed with their numpy semantics (opaque operators
  other than arange are left to run, as fold-constant leaves them);
- `if` on a known condition and `match` on a value known as far as its patterns look take
  their clause; on unknown ones they are rebuilt, each branch evaluated in turn;
- a call of a known closure is inlined, and so is a call of a global function with a known
  function, closure or ADT value among its arguments (or, if it is not recursive, any known
  argument): so `map` over a list built in the program becomes straight-line code, and
  recursion over known lists and trees unrolls;
- recursion below an unknown branch is not unrolled: the call goes to a copy of the callee
  specialized on the functions and closures among its arguments (`@foldl__pe1`, memoized by
  what is known, so the copy calls itself), with the rest (tensors, ADT values, unknown
  values) as its parameters;
- known values are rebuilt (constants, tuples, constructors, closures) only where unknown
  code needs them; ops whose values nobody needs and that have no effect vanish.

It terminates on every program: recursion unrolls only on control flow decided at compile
time, inlining stops `MAX_DEPTH` calls deep and after `FUEL` calls per function, a function
gets at most `MAX_SPECIALIZATIONS` copies, and what is not inlined becomes a call. A second
run changes nothing unless one of these bounds was hit. References are always unknown
(their effects stay, in order). Polymorphic functions are not inlined (run monomorphize
first); Primitive closures stay as they are. Run `dce` after it to drop what the residual
program computes but does not use.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, SymbolRefAttr, TensorType, TupleType
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.attribute_names import PRIMITIVE
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.ir_helpers import building_ir, functions_by_name
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.ops.transform import Arange
from relay_opt.dialects.relay.patterns import (
    ConstructorPattern,
    TuplePattern,
    VarPattern,
    WildcardPattern,
)
from relay_opt.dialects.relay.registry import OpPattern, RelayOperatorOp
from relay_opt.dialects.relay.resources import array_of
from relay_opt.dialects.relay.types import tensor_dtype
from relay_opt.passes.lambda_lift import free_values

FUEL = 1000
"""Calls inlined into one function at most."""

MAX_DEPTH = 100
"""Calls inlined inside one another at most."""

MAX_SPECIALIZATIONS = 16
"""Specialized copies of one function at most."""

MAX_SHAPE_DEPTH = 4
"""How deep into a known argument a specialization looks (deeper parts are passed)."""

# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class PValue:
    """A value during partial evaluation; `built` caches where it was rebuilt (block, value)."""

    built: list[tuple[Block, SSAValue]] = field(default_factory=list, init=False, repr=False)


@dataclass(eq=False)
class Unknown(PValue):
    value: SSAValue


@dataclass(eq=False)
class KnownTensor(PValue):
    array: np.ndarray
    type: Attribute
    op: core.ConstantOp | None = None  # the constant it came from, rebuilt as it was


@dataclass(eq=False)
class KnownTuple(PValue):
    fields: list[PValue]


@dataclass(eq=False)
class KnownADT(PValue):
    constructor: SymbolRefAttr
    fields: list[PValue]
    type: Attribute


@dataclass(eq=False)
class KnownClosure(PValue):
    op: core.ClosureOp
    env: Env


@dataclass(eq=False)
class KnownGlobal(PValue):
    name: str
    type: Attribute


@dataclass
class Env:
    values: dict[SSAValue, PValue]
    parent: Env | None = None

    def __getitem__(self, v: SSAValue) -> PValue:
        env: Env | None = self
        while env is not None:
            if (pv := env.values.get(v)) is not None:
                return pv
            env = env.parent
        raise KeyError(v)


def _numpy(pv: PValue) -> object:
    """The numpy value of a known tensor or tuple of them, else None."""
    if isinstance(pv, KnownTensor):
        return pv.array
    if isinstance(pv, KnownTuple):
        fields = [_numpy(f) for f in pv.fields]
        return None if any(f is None for f in fields) else tuple(fields)
    return None


def _from_numpy(value: object, t: Attribute) -> PValue:
    if isinstance(t, TupleType):
        assert isinstance(value, (tuple, list))
        return KnownTuple([_from_numpy(v, ft) for v, ft in zip(value, t.types, strict=True)])
    assert isinstance(t, TensorType)
    return KnownTensor(np.asarray(value, dtype=numpy_dtype(tensor_dtype(t))), t)


# ---------------------------------------------------------------------------
# The evaluator
# ---------------------------------------------------------------------------


@dataclass
class _Frame:
    callee: object  # a global's name, or the ClosureOp inlined
    unknown_depth: int  # unknown branches around the call


class _Evaluator:
    def __init__(self, module: ModuleOp, funcs: dict[str, core.FuncOp]):
        self.module = module
        self.funcs = funcs
        self.block: Block = Block()
        self.unknown_depth = 0
        self.stack: list[_Frame] = []
        self.fuel = FUEL
        self.recursive: dict[str, bool] = {}
        self.specialized: dict[tuple[object, ...], str] = {}
        self.count: dict[str, int] = {}
        self.last: dict[str, core.FuncOp] = {}
        self.taken = {str(getattr(o.properties.get("sym_name"), "data", "")) for o in module.ops}

    # -- emitting the residual program ---------------------------------------------------

    def emit(self, op: Operation) -> Operation:
        self.block.add_op(op)
        return op

    def _visible(self, block: Block) -> bool:
        """Whether a value emitted into `block` is visible where we emit now."""
        cur: Block | None = self.block
        while cur is not None:
            if cur is block:
                return True
            parent = cur.parent_op()
            cur = parent.parent_block() if parent is not None else None
        return False

    def build(self, pv: PValue) -> SSAValue:
        """An SSA value for `pv` where we emit now (rebuilt if it is known)."""
        if isinstance(pv, Unknown):
            return pv.value
        for block, value in pv.built:
            if self._visible(block):
                return value
        value = self._rebuild(pv)
        pv.built.append((self.block, value))
        return value

    def _rebuild(self, pv: PValue) -> SSAValue:
        if isinstance(pv, KnownTensor):
            if pv.op is not None:
                op = self.emit(pv.op.clone())
                return op.results[0]
            return RelayBuilder(self.emit).constant(pv.array, tensor_dtype(pv.type))  # pyright: ignore
        if isinstance(pv, KnownTuple):
            return self.emit(core.TupleOp([self.build(f) for f in pv.fields])).results[0]
        if isinstance(pv, KnownADT):
            fields = [self.build(f) for f in pv.fields]
            return self.emit(adt.ConstructOp(pv.constructor, fields, pv.type)).results[0]
        if isinstance(pv, KnownGlobal):
            return self.emit(core.GlobalRefOp(pv.name, pv.type)).results[0]
        assert isinstance(pv, KnownClosure)
        mapping = {v: self.build(pv.env[v]) for v in free_values(pv.op)}
        return self.emit(pv.op.clone(value_mapper=mapping)).results[0]

    def residual(self, op: Operation, env: Env) -> Operation:
        """`op` itself in the residual program, reading its operands' values."""
        mapping = {v: self.build(env[v]) for v in op.operands}
        new = self.emit(op.clone(value_mapper=mapping))
        for old, r in zip(op.results, new.results, strict=True):
            r.name_hint = old.name_hint
            env.values[old] = Unknown(r)
        return new

    # -- evaluating ---------------------------------------------------------------------

    def function(self, func: core.FuncOp) -> Region:
        block = Block(arg_types=[a.type for a in func.args])
        env = Env({})
        for old, new in zip(func.args, block.args, strict=True):
            new.name_hint = old.name_hint
            env.values[old] = Unknown(new)
        self.block, self.fuel = block, FUEL
        result = self.body(func.body.block, env)
        ret = self.emit(core.ReturnOp(self.build(result)))
        ret.location = func.body.block.last_op.location  # pyright: ignore[reportOptionalMemberAccess]
        return Region(block)

    def body(self, block: Block, env: Env) -> PValue:
        """Evaluate a block's ops; the value of its terminator (return or yield)."""
        for op in block.ops:
            if isinstance(op, (core.ReturnOp, core.YieldOp)):
                return env[op.value]
            self.op(op, env)
        raise AssertionError("a Relay block ends with return or yield")

    def op(self, op: Operation, env: Env) -> None:
        if isinstance(op, core.ConstantOp):
            env.values[op.result] = KnownTensor(np.asarray(array_of(op.value)), op.result.type, op)
        elif isinstance(op, core.TupleOp):
            env.values[op.result] = KnownTuple([env[f] for f in op.fields])
        elif isinstance(op, core.TupleGetOp):
            tup = env[op.tuple]
            if isinstance(tup, KnownTuple):
                env.values[op.result] = tup.fields[op.field_index]
            else:
                self.residual(op, env)
        elif isinstance(op, adt.ConstructOp):
            fields = [env[f] for f in op.fields]
            env.values[op.result] = KnownADT(op.constructor, fields, op.result.type)
        elif isinstance(op, core.GlobalRefOp):
            env.values[op.result] = KnownGlobal(op.callee.root_reference.data, op.result.type)
        elif isinstance(op, core.ClosureOp):
            if op.attributes.get(PRIMITIVE) is not None:
                self.residual_closure(op, env)
            else:
                env.values[op.result] = KnownClosure(op, env)
        elif isinstance(op, RelayOperatorOp):
            self.operator(op, env)
        elif isinstance(op, core.CallOp):
            args = [env[a] for a in op.arguments]
            env.values[op.result] = self.call_global(op.callee.root_reference.data, args, op, env)
        elif isinstance(op, core.CallClosureOp):
            args = [env[a] for a in op.arguments]
            env.values[op.result] = self.call_value(env[op.callee], args, op, env)
        elif isinstance(op, core.IfOp):
            self.if_(op, env)
        elif isinstance(op, adt.MatchOp):
            self.match(op, env)
        elif not op.regions:
            self.residual(op, env)  # references, and ops this pass does not know
        else:
            self.residual_closure(op, env)

    def residual_closure(self, op: Operation, env: Env) -> None:
        """An op with regions kept as it is, its free values rebuilt."""
        mapping = {v: self.build(env[v]) for v in free_values(op)}
        new = self.emit(op.clone(value_mapper=mapping))
        for old, r in zip(op.results, new.results, strict=True):
            env.values[old] = Unknown(r)

    def operator(self, op: RelayOperatorOp, env: Env) -> None:
        values = [_numpy(env[o]) for o in op.operands]
        foldable = op.opdef.pattern is not OpPattern.OPAQUE or isinstance(op, Arange)
        if foldable and all(v is not None for v in values):
            try:
                out = op.opdef.evaluate(op.attrs, *values)
            except Exception:  # noqa: BLE001 - what fails now fails at run time: leave it there
                out = None
            if out is not None:
                env.values[op.result] = _from_numpy(out, op.result.type)
                return
        self.residual(op, env)

    # -- calls --------------------------------------------------------------------------

    def may_inline(self, callee: object, recursive: bool) -> bool:
        if self.fuel <= 0 or len(self.stack) >= MAX_DEPTH:
            return False
        # Unrolling recursion below an unknown branch is what would not end (and a second
        # run would unroll one step more): there a recursive callee is called, specialized.
        if recursive and self.unknown_depth > 0:
            return False
        return not any(
            f.callee == callee and f.unknown_depth < self.unknown_depth for f in self.stack
        )

    @contextmanager
    def inlining(self, callee: object) -> Iterator[None]:
        self.fuel -= 1
        self.stack.append(_Frame(callee, self.unknown_depth))
        try:
            yield
        finally:
            self.stack.pop()

    def call_global(self, name: str, args: list[PValue], op: Operation, env: Env) -> PValue:
        func = self.funcs.get(name)
        if func is not None and not func.type_param_names:
            structured = any(_structured(a) for a in args)
            known = any(not isinstance(a, Unknown) for a in args)
            recursive = self.is_recursive(name)
            # Known tensors alone do not unroll a recursive function: a counter would go on
            # unrolling one step more at every run of the pass.
            if (structured or (known and not recursive)) and self.may_inline(name, recursive):
                with self.inlining(name):
                    return self.body(func.body.block, Env(dict(zip(func.args, args, strict=True))))
            if structured:
                return self.specialize(func, args, op)
        call = core.CallOp(name, [self.build(a) for a in args], op.results[0].type)
        call.location = op.location
        return Unknown(self.emit(call).results[0])

    def is_recursive(self, name: str) -> bool:
        """Whether `name` can reach a call of itself."""
        if (known := self.recursive.get(name)) is not None:
            return known
        seen: set[str] = set()
        todo = [name]
        found = False
        while todo and not found:
            f = self.funcs.get(todo.pop())
            if f is None:
                continue
            for inner in f.walk():
                if isinstance(inner, (core.CallOp, core.GlobalRefOp)):
                    callee = inner.callee.root_reference.data
                    if callee == name:
                        found = True
                        break
                    if callee not in seen:
                        seen.add(callee)
                        todo.append(callee)
        self.recursive[name] = found
        return found

    def specialize(self, func: core.FuncOp, args: list[PValue], op: Operation) -> PValue:
        """A call of a copy of `func` evaluated with the known parts of `args` (memoized by
        their shape, so a recursive call with the same known parts calls the same copy)."""
        name = func.sym_name.data
        leaves: list[PValue] = []
        key = (name, *(_shape(a, leaves, 0) for a in args))
        copy = None
        # Only functions and closures are specialized on (finitely many); a known part passed
        # on as a parameter would be specialized on again by the next run of the pass.
        if any(k is not None for k in key[1:]) and not any(_has_code(leaf) for leaf in leaves):
            values = [self.build(leaf) for leaf in leaves]
            copy = self.specialized.get(key)
            if copy is None and self.count.get(name, 0) < MAX_SPECIALIZATIONS:
                self.count[name] = self.count.get(name, 0) + 1
                copy = f"{name}__pe{self.count[name]}"
                while copy in self.taken:
                    copy += "_"
                self.taken.add(copy)
                self.specialized[key] = copy
                self.specialized_body(func, copy, args, values)
        if copy is None:
            copy, values = name, [self.build(a) for a in args]
        call = core.CallOp(copy, values, op.results[0].type)
        call.location = op.location
        return Unknown(self.emit(call).results[0])

    def specialized_body(
        self, func: core.FuncOp, name: str, args: list[PValue], values: list[SSAValue]
    ) -> None:
        types = [v.type for v in values]
        hints = [v.name_hint for v in values]
        block = Block(arg_types=types)
        for arg, hint in zip(block.args, hints, strict=True):
            arg.name_hint = hint
        leaves = iter(block.args)
        params = [_rebuild_shape(a, leaves, 0) for a in args]
        saved = (self.block, self.unknown_depth, self.stack, self.fuel)
        self.block, self.unknown_depth, self.fuel = block, 0, FUEL
        self.stack = [_Frame(func.sym_name.data, 0)]
        try:
            result = self.body(func.body.block, Env(dict(zip(func.args, params, strict=True))))
            ret = self.emit(core.ReturnOp(self.build(result)))
            ret.location = func.location
        finally:
            self.block, self.unknown_depth, self.stack, self.fuel = saved
        copy = core.FuncOp(name, types, func.ret_type, region=Region(block))
        copy.location = func.location
        original = func.sym_name.data
        self.module.body.block.insert_op_after(copy, self.last.get(original, func))
        self.last[original] = copy
        self.funcs[name] = copy  # later calls of it may inline it

    def call_value(self, callee: PValue, args: list[PValue], op: Operation, env: Env) -> PValue:
        if isinstance(callee, KnownGlobal):
            return self.call_global(callee.name, args, op, env)
        if isinstance(callee, KnownClosure) and self.may_inline(
            callee.op, callee.op.recursive is not None
        ):
            c = callee.op
            if not (c.recursive and all(isinstance(a, Unknown) for a in args)):
                inner = Env(dict(zip(c.args, args, strict=True)), callee.env)
                if c.self_arg is not None:
                    inner.values[c.self_arg] = callee
                with self.inlining(c):
                    return self.body(c.body.block, inner)
        call = core.CallClosureOp(
            self.build(callee), [self.build(a) for a in args], op.results[0].type
        )
        call.location = op.location
        return Unknown(self.emit(call).results[0])

    # -- control flow -------------------------------------------------------------------

    def if_(self, op: core.IfOp, env: Env) -> None:
        cond = env[op.cond]
        if isinstance(cond, KnownTensor):
            region = op.then_region if bool(cond.array) else op.else_region
            env.values[op.result] = self.body(region.block, Env({}, env))
            return
        new = core.IfOp(self.build(cond), op.result.type, Region(Block()), Region(Block()))
        new.location = op.location
        new.attributes |= op.attributes
        self.emit(new)
        for old_region, new_region in (
            (op.then_region, new.then_region),
            (op.else_region, new.else_region),
        ):
            self.branch(old_region.block, new_region.block, Env({}, env), core.YieldOp)
        new.result.name_hint = op.result.name_hint
        env.values[op.result] = Unknown(new.result)

    def branch(self, old: Block, new: Block, env: Env, terminator: type[core.YieldOp]) -> None:
        """Evaluate `old` into `new`, an unknown branch of the residual program."""
        outer = self.block
        self.block = new
        self.unknown_depth += 1
        try:
            value = self.body(old, env)
            self.emit(terminator(self.build(value)))
        finally:
            self.block = outer
            self.unknown_depth -= 1

    def match(self, op: adt.MatchOp, env: Env) -> None:
        data = env[op.data]
        for pattern, region in zip(op.patterns, op.clauses, strict=True):
            bound: list[PValue] = []
            decided = _matches(pattern, data, bound)
            if decided is None:
                break  # the value is not known far enough: match at run time
            if decided:
                inner = Env(dict(zip(region.block.args, bound, strict=True)), env)
                env.values[op.result] = self.body(region.block, inner)
                return
        new = adt.MatchOp(
            self.build(data),
            op.result.type,
            op.patterns.data,
            [Region(Block(arg_types=[a.type for a in r.block.args])) for r in op.clauses],
            partial=op.partial is not None,
        )
        new.location = op.location
        new.attributes |= op.attributes
        self.emit(new)
        for old_region, new_region in zip(op.clauses, new.clauses, strict=True):
            inner = Env({}, env)
            for a, b in zip(old_region.block.args, new_region.block.args, strict=True):
                b.name_hint = a.name_hint
                inner.values[a] = Unknown(b)
            self.branch(old_region.block, new_region.block, inner, core.YieldOp)
        new.result.name_hint = op.result.name_hint
        env.values[op.result] = Unknown(new.result)


def _structured(pv: PValue) -> bool:
    """Whether `pv` is known beyond tensors: a function, a closure, an ADT value, or a tuple
    holding one (what specializing a call on it can use)."""
    if isinstance(pv, (KnownClosure, KnownGlobal, KnownADT)):
        return True
    return isinstance(pv, KnownTuple) and any(_structured(f) for f in pv.fields)


def _has_code(pv: PValue) -> bool:
    """Whether a known function or closure is part of `pv`."""
    if isinstance(pv, (KnownClosure, KnownGlobal)):
        return True
    return isinstance(pv, (KnownTuple, KnownADT)) and any(_has_code(f) for f in pv.fields)


def _shape(pv: PValue, leaves: list[PValue], depth: int) -> object:
    """A hashable description of what is known of `pv`; the parts passed to the specialized
    copy as parameters (unknown values, tensors, what lies deeper) go to `leaves`."""
    if not _structured(pv) or isinstance(pv, KnownADT) or depth >= MAX_SHAPE_DEPTH:
        leaves.append(pv)
        return None
    if isinstance(pv, KnownGlobal):
        return ("global", pv.name)
    if isinstance(pv, KnownClosure):
        env = tuple(_shape(pv.env[v], leaves, depth + 1) for v in free_values(pv.op))
        return ("closure", id(pv.op), env)
    assert isinstance(pv, KnownTuple)
    return ("tuple", tuple(_shape(f, leaves, depth + 1) for f in pv.fields))


def _rebuild_shape(pv: PValue, leaves: Iterator[SSAValue], depth: int) -> PValue:
    """`pv` as the specialized copy sees it: its known parts, and parameters for the leaves
    (the same walk as `_shape`)."""
    if not _structured(pv) or isinstance(pv, KnownADT) or depth >= MAX_SHAPE_DEPTH:
        return Unknown(next(leaves))
    if isinstance(pv, KnownGlobal):
        return KnownGlobal(pv.name, pv.type)
    if isinstance(pv, KnownClosure):
        env = {v: _rebuild_shape(pv.env[v], leaves, depth + 1) for v in free_values(pv.op)}
        return KnownClosure(pv.op, Env(env))
    assert isinstance(pv, KnownTuple)
    return KnownTuple([_rebuild_shape(f, leaves, depth + 1) for f in pv.fields])


def _matches(pattern: Attribute, pv: PValue, bound: list[PValue]) -> bool | None:
    """Whether `pv` matches `pattern` (binding its variables), or None when not known."""
    if isinstance(pattern, WildcardPattern):
        return True
    if isinstance(pattern, VarPattern):
        bound.append(pv)
        return True
    if isinstance(pattern, TuplePattern):
        if not isinstance(pv, KnownTuple):
            return None
        fields: Sequence[PValue] = pv.fields
    else:
        assert isinstance(pattern, ConstructorPattern)
        if not isinstance(pv, KnownADT):
            return None
        if pv.constructor != pattern.constructor:
            return False
        fields = pv.fields
    for sub, f in zip(pattern.fields, fields, strict=True):
        decided = _matches(sub, f, bound)
        if decided is not True:
            return decided
    return True


@contextmanager
def _deep_recursion(limit: int) -> Iterator[None]:
    """Inlining nests Python calls (a few frames per inlined call): room for MAX_DEPTH."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@dataclass(frozen=True)
class PartialEvaluatePass(ModulePass):
    """Computes what is known at compile time: folds, takes known branches, inlines known calls."""

    name = "partial-evaluate"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        funcs = functions_by_name(op)
        evaluator = _Evaluator(op, funcs)
        with building_ir(), _deep_recursion(20 * MAX_DEPTH + 2000):
            for func in list(funcs.values()):  # not the copies it makes: they are evaluated
                region = evaluator.function(func)
                old = func.detach_region(func.body)
                func.add_region(region)
                old.drop_all_references()
