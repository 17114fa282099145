"""lambda-lift: every local function (`relay.fn`) becomes a global function (TVM's LambdaLift).

After the pass, closure conversion is local: a closure's environment is exactly the
parameters of the global that builds it. For a closure of a global `@f`:

- **no free variables**: its body becomes a global `@f_lifted_N(params) -> R` and the closure
  a `relay.global_ref` of it; calls through that value become direct `relay.call`s (a
  recursive closure's calls of itself too).
- **free variables** `%c1 ... %ck` (in order of first use): a global marked `Closure = 1`,
  `@f_lifted_N(%c1: C1, ..., %ck: Ck) -> ((P) -> R)`, whose whole body is the closure,
  `%fn = relay.fn (params) -> R {...}; relay.return %fn`, now reading `%c1 ... %ck` as the
  global's parameters, and the closure becomes `relay.call @f_lifted_N(%c1, ..., %ck)`.
  Native code builds the closure object there: the code of the inner `relay.fn` plus an
  environment holding the call's arguments. A recursive closure stays `relay.fn recursive
  %self`, so it calls itself without building a new closure.

Constants and `relay.global_ref`s a closure reads are copied into the lifted function rather
than captured. `N` is the closure's name in the text (`let %sq = fn ...` gives
`@main_lifted_sq`) or its position, with `_2`, `_3`, ... when a name is taken. Inner
closures are lifted before the closures around them. Primitive closures (fuse-ops' groups)
stay where they are. A closure inside a polymorphic function gives a global with the type
parameters its types use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, ModuleOp, TensorType, i64
from xdsl.ir import Attribute, Block, Operation, ParametrizedAttribute, Region, SSAValue
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.attribute_names import CLOSURE, PRIMITIVE
from relay_opt.dialects.relay.ir_helpers import building_ir
from relay_opt.dialects.relay.types import TypeVarType


def _is_primitive(op: core.ClosureOp) -> bool:
    return op.attributes.get(PRIMITIVE) is not None


def _type_var_names(t: Attribute, into: set[str]) -> None:
    if isinstance(t, TypeVarType):
        into.add(t.var_name.data)
    elif isinstance(t, ArrayAttr):
        for x in t:  # pyright: ignore
            _type_var_names(x, into)  # pyright: ignore
    elif isinstance(t, ParametrizedAttribute) and not isinstance(t, TensorType):
        for p in t.parameters:
            _type_var_names(p, into)


def free_uses(op: Operation) -> dict[SSAValue, list[tuple[Operation, int]]]:
    """The values `op`'s regions use but do not define, in order of first use, each with
    its uses there (user, operand index)."""
    defined: set[SSAValue] = set()
    free: dict[SSAValue, list[tuple[Operation, int]]] = {}
    for inner in op.walk():
        if inner is not op:
            for i, v in enumerate(inner.operands):
                if v not in defined:
                    free.setdefault(v, []).append((inner, i))
            defined.update(inner.results)
        for region in inner.regions:
            for block in region.blocks:
                defined.update(block.args)
    # Blocks of one region may use a value that a later block of it defines.
    return {v: uses for v, uses in free.items() if v not in defined}


def free_values(op: Operation) -> list[SSAValue]:
    """The values `op`'s regions use but do not define, in order of first use."""
    return list(free_uses(op))


def _rematerializable(v: SSAValue) -> bool:
    """A value cheaper to recompute in the lifted function than to capture."""
    return isinstance(v.owner, (core.ConstantOp, core.GlobalRefOp))


def _replace_uses(uses: list[tuple[Operation, int]], new: SSAValue) -> None:
    for user, index in uses:
        user.operands[index] = new


def _name_part(hint: str | None) -> str | None:
    if hint and all(c.isalnum() or c == "_" for c in hint):
        return hint
    return None


@dataclass
class _Lifter:
    module: ModuleOp
    taken: set[str]
    count: dict[str, int] = field(default_factory=dict)

    def fresh_name(self, func: str, hint: str | None) -> str:
        part = _name_part(hint)
        if part is None:
            part = str(self.count.get(func, 0))
            self.count[func] = self.count.get(func, 0) + 1
        base = name = f"{func}_lifted_{part}"
        i = 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def function(self, func: core.FuncOp) -> None:
        # A Closure global's own closure is already lifted: only what is inside it is left.
        own = _own_closure(func)
        for c in _closures_inner_first(func.body.block):
            if c is not own:
                self.lift(func, c)

    def lift(self, func: core.FuncOp, c: core.ClosureOp) -> None:
        free = free_uses(c)
        captured = [v for v in free if not _rematerializable(v)]
        name = self.fresh_name(func.sym_name.data, c.result.name_hint)
        block = c.parent_block()
        assert block is not None
        for v in free:
            if _rematerializable(v):
                assert isinstance(v.owner, Operation)
                copy = v.owner.clone()
                c.body.block.insert_op_before(copy, c.body.block.first_op)  # pyright: ignore
                copy.results[0].name_hint = v.name_hint
                _replace_uses(free[v], copy.results[0])
                if v.first_use is None:
                    v.owner.detach()
                    v.owner.erase()
        ftype = c.function_type
        if not captured:
            lifted = self.plain_function(func, c, name)
            self.place(func, lifted)
            ref = core.GlobalRefOp(name, ftype)
            ref.location = c.location
            block.insert_op_before(ref, c)
            ref.result.name_hint = c.result.name_hint
            c.result.replace_all_uses_with(ref.result)
            c.detach()
            c.erase()
            _direct_calls(ref, name)
            return
        body = Block(arg_types=[v.type for v in captured])
        for v, arg in zip(captured, body.args, strict=True):
            arg.name_hint = v.name_hint
        call = core.CallOp(name, captured, ftype)
        call.location = c.location
        block.insert_op_before(call, c)
        call.result.name_hint = c.result.name_hint
        c.result.replace_all_uses_with(call.result)
        c.detach()
        body.add_op(c)
        for v, arg in zip(captured, body.args, strict=True):
            _replace_uses(free[v], arg)
        ret = core.ReturnOp(c.result)
        ret.location = c.location
        body.add_op(ret)
        lifted = core.FuncOp(
            name,
            [v.type for v in captured],
            ftype,
            type_params=_used_type_params(func, [ftype, *(v.type for v in captured)], c),
            region=Region(body),
            attributes={CLOSURE: IntegerAttr(1, i64)},
        )
        lifted.location = c.location
        self.place(func, lifted)

    def plain_function(self, func: core.FuncOp, c: core.ClosureOp, name: str) -> core.FuncOp:
        """`c`'s body as a global function; a recursive closure calls itself directly."""
        type_params = _used_type_params(func, [c.function_type], c)
        region = c.detach_region(c.body)
        block = region.block
        self_ref = None
        if c.recursive:
            self_arg = block.args[0]
            self_ref = core.GlobalRefOp(name, c.function_type)
            self_ref.location = c.location
            self_ref.result.name_hint = self_arg.name_hint
            block.insert_op_before(self_ref, block.first_op)  # pyright: ignore
            self_arg.replace_all_uses_with(self_ref.result)
            block.erase_arg(self_arg)
        lifted = core.FuncOp(
            name,
            [a.type for a in block.args],
            c.ret_type,
            type_params=type_params,
            region=region,
        )
        lifted.location = c.location
        if self_ref is not None:
            _direct_calls(self_ref, name)
        return lifted

    def place(self, func: core.FuncOp, lifted: core.FuncOp) -> None:
        """Lifted functions go before the function they came from, in the order lifted."""
        self.module.body.block.insert_op_before(lifted, func)


def _closures_inner_first(block: Block) -> list[core.ClosureOp]:
    """The non-primitive closures in `block`, each after those inside it, else in text order
    (the lifted functions then read in the order of the program)."""
    found: list[core.ClosureOp] = []
    stack: list[tuple[Operation, bool]] = [(op, False) for op in reversed(list(block.ops))]
    while stack:
        op, done = stack.pop()
        if done:
            found.append(op)  # pyright: ignore[reportArgumentType]
            continue
        if isinstance(op, core.ClosureOp):
            if _is_primitive(op):
                continue  # left alone, with everything inside it
            stack.append((op, True))
        for region in reversed(op.regions):
            for inner in reversed(region.blocks):
                stack.extend((o, False) for o in reversed(list(inner.ops)))
    return found


def _own_closure(func: core.FuncOp) -> core.ClosureOp | None:
    """The closure a Closure global returns (its whole body), if `func` is one."""
    if func.attributes.get(CLOSURE) is None:
        return None
    ret = func.body.block.last_op
    if isinstance(ret, core.ReturnOp) and isinstance(ret.value.owner, core.ClosureOp):
        return ret.value.owner
    return None


def _direct_calls(ref: core.GlobalRefOp, name: str) -> None:
    """Calls through `ref`'s value become direct calls of the global."""
    for use in list(ref.result.uses):
        op = use.operation
        if isinstance(op, core.CallClosureOp) and use.index == 0:
            call = core.CallOp(name, op.arguments, op.result.type)
            call.location = op.location
            call.attributes |= op.attributes
            block = op.parent_block()
            assert block is not None
            block.insert_op_before(call, op)
            call.result.name_hint = op.result.name_hint
            op.result.replace_all_uses_with(call.result)
            op.detach()
            op.erase()
    if ref.result.first_use is None and ref.parent is not None:
        ref.detach()
        ref.erase()


def _used_type_params(func: core.FuncOp, types: Iterable[Attribute], scope: Operation) -> list[str]:
    """The type parameters of `func` that `types` or the values in `scope` mention, in order."""
    if not func.type_param_names:
        return []
    used: set[str] = set()
    for t in types:
        _type_var_names(t, used)
    for op in scope.walk():
        for v in op.results:
            _type_var_names(v.type, used)
        for region in op.regions:
            for block in region.blocks:
                for a in block.args:
                    _type_var_names(a.type, used)
    return [p for p in func.type_param_names if p in used]


@dataclass(frozen=True)
class LambdaLiftPass(ModulePass):
    """Lifts local functions to global ones; free variables become a Closure global's parameters."""

    name = "lambda-lift"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        taken = {str(getattr(o.properties.get("sym_name"), "data", "")) for o in op.ops}
        lifter = _Lifter(op, taken)
        with building_ir():
            for func in [f for f in op.ops if isinstance(f, core.FuncOp)]:
                lifter.function(func)
