"""gradient: reverse-mode automatic differentiation of a first-order function (TVM's gradient).

For `@f(%x1, ..., %xn) -> Y` the pass adds `@f_grad(%x1, ..., %xn) -> (Y, (G1, ..., Gk))`:
the value of `@f` and the gradients, with respect to the selected parameters (`wrt`, by
name or position; all by default), of the sum of all elements of the result (the seed is
`ones_like` of every result tensor, as in TVM; a tuple result is seeded field by field).
`@f` stays; `@f_grad` is its own function, so a caller (an SGD step) can use both.

The body of `@f_grad` is `@f`'s body once more (the forward pass), then one adjoint per
value, last op first: each operator call's adjoint comes from the gradient rule declared
next to the operator (`@gradient(Op)` in `dialects/relay/ops/`), adjoints of a value used
twice are added, a broadcast operand gets its adjoint summed back to its shape. Only values
that depend on a selected parameter are differentiated, so integer index arithmetic or a
non-differentiable operator on constants is no obstacle. A parameter nothing depends on
gets zeros.

First-order programs (operator calls, constants, tuples, projections, `relay.if`, `relay.match`
on values not differentiated) become a static graph: an `if`'s adjoint is an `if` on the same
condition whose branches rerun their branch's forward ops (values local to a branch are not
visible after it) and sweep back from its yield, yielding the adjoints of the outer values
the branch uses.

Everything else (calls, closures, references, recursion, `match` on differentiated ADT
values) goes through the higher-order form, TVM's: each float tensor becomes the pair
(value, reference to its adjoint), and each operator call pushes onto a tape (a reference
`%bp` to a closure) a closure that adds its operands' adjoints and then runs the closure
pushed before it. Every function the entry reaches gets an AD copy `@g_ad` taking `%bp`
last; ADT values carry AD values through their type parameters (`List[(T, ref T)]`), or are
values of a copy `@T_ad` of an ADT that declares tensor fields, so `match`, `call_closure`
and recursion need no rule of their own: the tape records what ran.
`@f_grad` lifts its parameters (a List by a generated `@List_lift`), runs f's body in AD
form (no `@f_ad` unless f calls itself), seeds the result's adjoints with ones, runs the
tape and reads the parameters' adjoints.

Located errors, named with the reason: an operator without a gradient rule, or one whose
rule does not take its attributes; in the higher-order form, a parameter holding floats in
a reference or a function, a primitive function.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import (
    AnyFloat,
    FunctionType,
    ModuleOp,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    TupleType,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.attribute_names import GRADIENT_OF
from relay_opt.dialects.relay.ir_helpers import functions_by_name
from relay_opt.dialects.relay.ops.grad import DY, GradBuilder, NotDifferentiable, gradient_rule
from relay_opt.dialects.relay.patterns import ConstructorPattern, TuplePattern, VarPattern
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.types import (
    ADTType,
    RefType,
    function_type,
    substitute_type_vars,
    tuple_type,
)
from relay_opt.passes.lambda_lift import free_values

_FIRST_ORDER = (
    RelayOperatorOp,
    core.ConstantOp,
    core.TupleOp,
    core.TupleGetOp,
    core.IfOp,
    adt.MatchOp,
    core.YieldOp,
    core.ReturnOp,
)


def _is_tensor_or_tuple(t: object) -> bool:
    if isinstance(t, TensorType):
        return True
    return isinstance(t, TupleType) and all(isinstance(f, TensorType) for f in t.types)


class _Adjoints:
    """The adjoint of each value: a tensor value, or a list (one per field) for a tuple."""

    def __init__(self) -> None:
        self.tensors: dict[SSAValue, SSAValue] = {}
        self.tuples: dict[SSAValue, list[SSAValue | None]] = {}

    def add(self, g: GradBuilder, v: SSAValue, adjoint: SSAValue) -> None:
        if adjoint.type != v.type:
            raise AssertionError(f"gradient: adjoint type {adjoint.type} for a value of {v.type}")
        old = self.tensors.get(v)
        self.tensors[v] = adjoint if old is None else g.plus(old, adjoint)

    def add_field(self, g: GradBuilder, v: SSAValue, index: int, adjoint: SSAValue) -> None:
        assert isinstance(v.type, TupleType)
        fields = self.tuples.setdefault(v, [None] * len(v.type.types))
        old = fields[index]
        if adjoint.type != v.type.types.data[index]:
            raise AssertionError(f"gradient: adjoint type {adjoint.type} for field {index}")
        fields[index] = adjoint if old is None else g.plus(old, adjoint)

    def fields(self, g: GradBuilder, v: SSAValue) -> list[SSAValue] | None:
        """A tuple value's field adjoints, zeros for fields nothing used; None if none."""
        got = self.tuples.get(v)
        if got is None:
            return None
        return [a if a is not None else g.zeros_like(g.tuple_get(v, i)) for i, a in enumerate(got)]

    def whole(self, g: GradBuilder, v: SSAValue) -> SSAValue:
        """The adjoint of a parameter, zeros when nothing reached it."""
        if isinstance(v.type, TupleType):
            fields = self.fields(g, v)
            if fields is None:
                fields = [g.zeros_like(g.tuple_get(v, i)) for i in range(len(v.type.types))]
            return g.tuple(fields)
        got = self.tensors.get(v)
        return got if got is not None else g.zeros_like(v)


@dataclass(frozen=True)
class GradientPass(ModulePass):
    """Reverse-mode AD: adds @F_grad returning F's result and the gradients of its sum."""

    name = "gradient"

    entry: str = "main"
    """The function to differentiate."""
    wrt: tuple[str, ...] = ()
    """Parameters to differentiate by, by name (`x`) or position (`0`); empty: all."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        funcs = functions_by_name(op)
        f = funcs.get(self.entry)
        if f is None:
            raise RelayError(f"gradient: the module has no function @{self.entry}")
        name = f"{self.entry}_grad"
        if name in funcs:
            raise RelayError(f"gradient: @{name} exists already", funcs[name])
        selected = self._selected(f)
        if _first_order(f, selected):
            grad = differentiate(f, name, selected)
            grad.attributes[GRADIENT_OF] = StringAttr(self.entry)
            op.body.block.insert_op_after(grad, f)
            return
        higher = _HigherOrder(op, funcs)
        for new in higher.differentiate(f, name, selected):
            if new.sym_name.data == name:
                new.attributes[GRADIENT_OF] = StringAttr(self.entry)
            op.body.block.add_op(new)
        for typedef in higher.new_types:
            op.body.block.insert_op_before(typedef, f)

    def _selected(self, f: core.FuncOp) -> list[int]:
        if not self.wrt:
            return list(range(len(f.args)))
        names = [a.name_hint for a in f.args]
        chosen: list[int] = []
        for key in self.wrt:
            if key in names:
                chosen.append(names.index(key))
            elif key.isdigit() and int(key) < len(f.args):
                chosen.append(int(key))
            else:
                known = ", ".join(f"%{n}" if n else str(i) for i, n in enumerate(names))
                raise RelayError(f"gradient: @{self.entry} has no parameter '{key}' ({known})", f)
        return chosen


class _MatchOnActive(Exception):
    """A `match` whose data depends on a differentiated parameter: the higher-order form."""


def _first_order(f: core.FuncOp, selected: list[int]) -> bool:
    """Whether the first-order gradient takes `f` (no calls, closures, references or a
    match on a differentiated value); it builds a static graph, so it is preferred."""
    if f.type_param_names:
        raise RelayError("gradient: a polymorphic function (monomorphize first)", f)
    if not all(_is_tensor_or_tuple(f.args[i].type) for i in selected):
        return False
    if not all(isinstance(inner, _FIRST_ORDER) for inner in f.body.walk()):
        return False
    try:
        _mark_active(list(f.body.block.ops), {f.args[i] for i in selected})
    except _MatchOnActive:
        return False
    return True


def _check_first_order(f: core.FuncOp, selected: list[int]) -> None:
    if f.type_param_names:
        raise RelayError("gradient: a polymorphic function (monomorphize first)", f)
    for i in selected:
        if not _is_tensor_or_tuple(f.args[i].type):
            raise RelayError(
                f"gradient: parameter {i} has type {f.args[i].type}; only tensors and tuples "
                "of tensors are differentiated (first-order gradient)",
                f,
            )
    if not _is_tensor_or_tuple(f.ret_type):
        raise RelayError(f"gradient: the result type {f.ret_type} is not a tensor or a tuple", f)
    for inner in f.body.walk():
        if not isinstance(inner, _FIRST_ORDER):
            raise RelayError(
                f"gradient: '{inner.name}' is not supported by the first-order gradient "
                "(inline calls or partial-evaluate first)",
                inner,
            )


def differentiate(f: core.FuncOp, name: str, selected: list[int]) -> core.FuncOp:
    """The function `name` computing f and the gradients of its sum w.r.t. `selected`."""
    _check_first_order(f, selected)
    block = Block(arg_types=[a.type for a in f.args])
    mapping: dict[SSAValue, SSAValue] = {}
    for old, new in zip(f.args, block.args, strict=True):
        new.name_hint = old.name_hint
        mapping[old] = new
    # The forward pass, and which of its values depend on a selected parameter.
    forward: list[Operation] = []
    result: SSAValue | None = None
    for old in f.body.block.ops:
        if isinstance(old, core.ReturnOp):
            result = mapping[old.value]
            continue
        new = old.clone(mapping)
        block.add_op(new)
        forward.append(new)
    assert result is not None
    active: set[SSAValue] = {block.args[i] for i in selected}
    _mark_active(forward, active)

    adjoints = _Adjoints()
    _seed(GradBuilder(block.add_op, f.location), adjoints, result, None)
    _backward(forward, active, adjoints, block)

    g = GradBuilder(block.add_op, f.location)
    grads = g.tuple([adjoints.whole(g, block.args[i]) for i in selected])
    out = g.tuple([result, grads])
    block.add_op(core.ReturnOp(out))
    _erase_unused(block)
    return core.FuncOp(
        name,
        [a.type for a in f.args],
        tuple_type([result.type, grads.type]),
        region=Region(block),
    )


def _mark_active(ops: list[Operation], active: set[SSAValue]) -> None:
    """Add the results of `ops` that depend on an active value (an if's through its yields)."""
    for op in ops:
        if isinstance(op, (core.IfOp, adt.MatchOp)):
            if isinstance(op, adt.MatchOp) and op.data in active:
                raise _MatchOnActive()
            yields = []
            for region in op.regions:
                body = list(region.block.ops)
                _mark_active(body[:-1], active)
                yields.append(body[-1].operands[0])
            if any(v in active for v in yields):
                active.add(op.result)
        elif any(o in active for o in op.operands):
            active.update(op.results)


def _seed(g: GradBuilder, adjoints: _Adjoints, value: SSAValue, dy: DY | None) -> None:
    """Start the sweep at `value` with adjoint `dy` (ones when None)."""
    if isinstance(value.type, TupleType):
        for i in range(len(value.type.types)):
            if isinstance(dy, list):
                adjoints.add_field(g, value, i, dy[i])
            else:
                adjoints.add_field(g, value, i, g.ones_like(g.tuple_get(value, i)))
    else:
        assert not isinstance(dy, list)
        adjoints.add(g, value, dy if dy is not None else g.ones_like(value))


def _backward(ops: list[Operation], active: set[SSAValue], adjoints: _Adjoints, block: Block):
    """Append to `block` the adjoints of the values `ops` use, last op first."""
    for new in reversed(ops):
        if not any(r in active for r in new.results):
            continue
        g = GradBuilder(block.add_op, new.location)
        out = new.results[0]
        dy = (
            adjoints.fields(g, out)
            if isinstance(out.type, TupleType)
            else adjoints.tensors.get(out)
        )
        if dy is None:
            continue
        if isinstance(new, core.TupleOp):
            for operand, adjoint in zip(new.operands, adjoints.tuples.get(out, []), strict=False):
                if operand in active and adjoint is not None:
                    _accumulate(g, adjoints, operand, adjoint)
        elif isinstance(new, core.TupleGetOp):
            assert isinstance(dy, SSAValue)
            adjoints.add_field(g, new.tuple, new.field_index, dy)
        elif isinstance(new, (core.IfOp, adt.MatchOp)):
            _backward_branches(g, new, dy, active, adjoints)
        elif isinstance(new, RelayOperatorOp):
            rule = gradient_rule(type(new))
            if rule is None:
                raise RelayError(f"gradient: '{new.OPDEF.name}' is not differentiable", new)
            try:
                grads = rule(g, new, dy)
            except NotDifferentiable as e:
                raise RelayError(
                    f"gradient: cannot differentiate '{new.OPDEF.name}': {e}", new
                ) from None
            for operand, adjoint in zip(new.operands, grads, strict=True):
                if operand in active and adjoint is not None:
                    _accumulate(g, adjoints, operand, adjoint)


def _backward_branches(
    g: GradBuilder,
    op: core.IfOp | adt.MatchOp,
    dy: DY,
    active: set[SSAValue],
    adjoints: _Adjoints,
) -> None:
    """The adjoint of an `if` (a `match`): an `if` on the same condition (a `match` of the
    same value with the same patterns) whose branches run their branch's forward ops again
    (the forward values are local to the branch) and sweep back from the yield, yielding the
    adjoints of the active outer values the branches use."""
    free = [v for v in free_values(op) if v in active and _is_tensor_or_tuple(v.type)]
    free = [v for v in free if v is not getattr(op, "cond", None)]
    if not free:
        return
    regions = []
    for region in op.regions:
        block = Block(arg_types=region.block.arg_types)
        mapping: dict[SSAValue, SSAValue] = dict(zip(region.block.args, block.args, strict=True))
        for old_arg, new_arg in mapping.items():
            new_arg.name_hint = old_arg.name_hint
        body = list(region.block.ops)
        forward = []
        for inner in body[:-1]:
            clone = inner.clone(mapping)
            block.add_op(clone)
            forward.append(clone)
        yielded = mapping.get(body[-1].operands[0], body[-1].operands[0])
        _mark_active(forward, active)
        local = _Adjoints()
        inner_g = GradBuilder(block.add_op, op.location)
        if yielded in active:
            _seed(inner_g, local, yielded, dy)
            _backward(forward, active, local, block)
        out = inner_g.tuple([local.whole(inner_g, v) for v in free])
        block.add_op(core.YieldOp(out))
        regions.append(Region(block))
    back_type = tuple_type([v.type for v in free])
    if isinstance(op, core.IfOp):
        back = g.add(core.IfOp(op.cond, back_type, *regions)).result
    else:
        patterns = list(op.patterns.data)
        back = g.add(adt.MatchOp(op.data, back_type, patterns, regions, op.partial is not None))
        back = back.result
    for i, v in enumerate(free):
        adjoint = g.tuple_get(back, i)
        if isinstance(v.type, TupleType):
            for j in range(len(v.type.types)):
                adjoints.add_field(g, v, j, g.tuple_get(adjoint, j))
        else:
            adjoints.add(g, v, adjoint)


def _accumulate(
    g: GradBuilder, adjoints: _Adjoints, v: SSAValue, adjoint: SSAValue | list[SSAValue]
) -> None:
    if isinstance(adjoint, list):
        for i, field in enumerate(adjoint):
            adjoints.add_field(g, v, i, field)
    else:
        adjoints.add(g, v, adjoint)


def _erase_unused(block: Block) -> None:
    """Drop what the rules built but nothing used (a rule may return None for an operand,
    a branch's forward op rerun for its backward may feed only the forward result)."""
    for op in reversed(list(block.walk())):
        if isinstance(op, (core.ReturnOp, core.YieldOp, core.IfOp, adt.MatchOp)):
            continue
        if all(not r.uses for r in op.results):
            op.detach()
            op.erase()


# ---------------------------------------------------------------------------------------------
# The higher-order gradient: references hold the adjoints, closures are the tape.
# ---------------------------------------------------------------------------------------------

_UNIT = tuple_type([])
_BACKPROP = function_type([], _UNIT)


def _is_float_tensor(t: Attribute) -> bool:
    return isinstance(t, TensorType) and isinstance(t.element_type, AnyFloat)


def _holds_float(t: Attribute) -> bool:
    if _is_float_tensor(t):
        return True
    return isinstance(t, TupleType) and any(_holds_float(f) for f in t.types)


def _adts_declaring_floats(typedefs: list[adt.TypeDefOp]) -> set[str]:
    """The ADTs a constructor of which declares a field holding float tensors (a tensor, or
    an ADT of this set, not through a type parameter): those get an AD copy. A fixpoint, so
    mutually recursive ADTs agree."""
    found: set[str] = set()

    def holds(t: Attribute) -> bool:
        if _is_float_tensor(t):
            return True
        if isinstance(t, ADTType):
            return t.adt_name in found or any(holds(a) for a in t.args)
        if isinstance(t, TupleType):
            return any(holds(f) for f in t.types)
        if isinstance(t, FunctionType):
            return any(holds(x) for x in (*t.inputs, *t.outputs))
        return isinstance(t, RefType) and holds(t.value_type)

    changed = True
    while changed:
        changed = False
        for typedef in typedefs:
            name = typedef.sym_name.data
            if name not in found and any(holds(f) for c in typedef.constructors for f in c.inputs):
                found.add(name)
                changed = True
    return found


class _HigherOrder:
    """Rewrites functions into their AD form: every float tensor value becomes the pair
    (value, reference to its adjoint), and each operator call pushes a closure that adds its
    operands' adjoints onto a tape, a reference `%bp` to the closure to run next (TVM's
    higher-order gradient). Each module function `@g` the entry reaches gets an AD copy
    `@g_ad` taking `%bp` last; closures, ADT values and references carry AD values inside
    (through an ADT's type parameters, or a copy of an ADT declaring tensor fields), so
    `match`, `call_closure` and recursion need nothing of their own: the tape records what
    actually ran."""

    def __init__(self, module: ModuleOp, funcs: dict[str, core.FuncOp]) -> None:
        self.funcs = funcs
        self.types = {op.sym_name.data: op for op in module.ops if isinstance(op, adt.TypeDefOp)}
        self.taken = set(funcs) | set(self.types)
        self.ad_names: dict[str, str] = {}
        self.queue: list[core.FuncOp] = []
        self.lifters: dict[ADTType, str] = {}
        self.extra: list[core.FuncOp] = []
        """The ADT lifters built."""
        self.adt_copies: dict[str, str] = {}
        self.copied_adts = _adts_declaring_floats(list(self.types.values()))
        self.new_types: list[adt.TypeDefOp] = []
        """The ADT copies built, for the module."""

    # -- types ------------------------------------------------------------------------------

    def ad_type(self, t: Attribute) -> Attribute:
        if _is_float_tensor(t):
            return tuple_type([t, RefType(t)])
        if isinstance(t, TupleType):
            return tuple_type([self.ad_type(f) for f in t.types])
        if isinstance(t, FunctionType):
            return function_type(
                [self.ad_type(i) for i in t.inputs], self.ad_type(t.outputs.data[0])
            )
        if isinstance(t, RefType):
            return RefType(self.ad_type(t.value_type))
        if isinstance(t, ADTType):
            return ADTType(self.ad_adt(t.adt_name), [self.ad_type(a) for a in t.args])
        return t

    def ad_adt(self, name: str) -> str:
        """The ADT whose values hold AD values where `name`'s hold float tensors: `name`
        itself when those come only through type parameters (List[Tensor] is List[(T, ref
        T)]), else a copy `{name}_ad` whose constructors have their field types transformed
        (a field declared as a tensor, or as an ADT that needs a copy)."""
        if name in self.adt_copies:
            return self.adt_copies[name]
        typedef = self.types.get(name)
        if typedef is None or name not in self.copied_adts:
            return name
        copy, k = f"{name}_ad", 2
        while copy in self.types or copy in self.taken:
            copy, k = f"{name}_ad{k}", k + 1
        self.taken.add(copy)
        self.adt_copies[name] = copy
        new = adt.TypeDefOp(copy, typedef.type_param_names)
        self.types[copy] = new
        for c in typedef.constructors:
            ctor = adt.ConstructorOp(c.sym_name.data, [self.ad_type(f) for f in c.inputs])
            ctor.location = c.location
            new.body.block.add_op(ctor)
        new.location = typedef.location
        self.new_types.append(new)
        return copy

    def ad_constructor(self, ctor: SymbolRefAttr) -> SymbolRefAttr:
        return SymbolRefAttr(self.ad_adt(ctor.root_reference.data), ctor.nested_references)

    def ad_pattern(self, p: Attribute) -> Attribute:
        if isinstance(p, ConstructorPattern):
            fields = [self.ad_pattern(f) for f in p.fields]
            return ConstructorPattern(self.ad_constructor(p.constructor), fields)
        if isinstance(p, TuplePattern):
            return TuplePattern([self.ad_pattern(f) for f in p.fields])
        return p

    # -- the entry --------------------------------------------------------------------------

    def differentiate(self, f: core.FuncOp, name: str, selected: list[int]) -> list[core.FuncOp]:
        """`@name` (f's value and gradients) and the AD copies of the functions f reaches."""
        for i, arg in enumerate(f.args):
            if not self.liftable(arg.type, set()):
                raise RelayError(
                    f"gradient: Not yet: the higher-order gradient takes parameter {i} of type "
                    f"{arg.type}, which holds float tensors in a reference or a function; "
                    "build it inside the function",
                    f,
                )
            if i in selected and not _is_tensor_or_tuple(arg.type):
                raise RelayError(
                    f"gradient: parameter {i} has type {arg.type}; only tensors and tuples "
                    "of tensors are differentiated (select the others with wrt)",
                    f,
                )
        if not _is_tensor_or_tuple(f.ret_type):
            raise RelayError(
                f"gradient: the result type {f.ret_type} is not a tensor or a tuple", f
            )
        block = Block(arg_types=[a.type for a in f.args])
        for old, new in zip(f.args, block.args, strict=True):
            new.name_hint = old.name_hint
        g = GradBuilder(block.add_op, f.location)
        done = g.add(core.ClosureOp([], _UNIT))
        inner = GradBuilder(done.body.block.add_op, f.location)
        inner.add(core.ReturnOp(inner.tuple([])))
        bp = g.add(core.RefCreateOp(done.result)).result
        bp.name_hint = "bp"
        ad_args = [self.lift(g, a) for a in block.args]
        # f's AD form inline (an @f_ad only if f calls itself): the result needs no other
        # function unless f calls one.
        mapping: dict[SSAValue, SSAValue] = dict(zip(f.args, ad_args, strict=True))
        self.block(f.body.block, block, mapping, bp)
        ret = block.last_op
        assert isinstance(ret, core.ReturnOp)
        result = ret.value
        ret.detach()
        ret.erase()
        value = self.primal(g, result, f.ret_type)
        self.seed(g, result, value, f.ret_type)
        backprop = g.add(core.RefReadOp(bp)).result
        g.add(core.CallClosureOp(backprop, [], _UNIT))
        grads = g.tuple([self.adjoint(g, ad_args[i], f.args[i].type) for i in selected])
        out = g.tuple([value, grads])
        block.add_op(core.ReturnOp(out))
        grad = core.FuncOp(name, [a.type for a in f.args], out.type, region=Region(block))
        copies: list[core.FuncOp] = [grad]
        while self.queue:
            copies.append(self.function(self.queue.pop(0)))
        return copies + self.extra

    def ad_name(self, f: core.FuncOp) -> str:
        name = f.sym_name.data
        if name not in self.ad_names:
            new, k = f"{name}_ad", 2
            while new in self.taken:
                new, k = f"{name}_ad{k}", k + 1
            self.taken.add(new)
            self.ad_names[name] = new
            self.queue.append(f)
        return self.ad_names[name]

    # -- AD values --------------------------------------------------------------------------

    def lift(self, g: GradBuilder, v: SSAValue) -> SSAValue:
        """The AD value of a primal `v`: its float tensors paired with a zero adjoint."""
        t = v.type
        if _is_float_tensor(t):
            cell = g.add(core.RefCreateOp(g.zeros_like(v))).result
            # Named, so Relay text binds it with `let`: as a graph binding, the Python AST
            # (relay.transform.gradient) would copy it into each scope using it, two cells.
            cell.name_hint = "adj"
            return g.tuple([v, cell])
        if isinstance(t, TupleType) and _holds_float(t):
            return g.tuple([self.lift(g, g.tuple_get(v, i)) for i in range(len(t.types))])
        if isinstance(t, ADTType) and self.ad_type(t) != t:
            lifter = self.adt_lifter(t)
            return g.add(core.CallOp(lifter, [v], self.ad_type(t))).result
        return v

    def liftable(self, t: Attribute, seen: set[str]) -> bool:
        """Whether a parameter of type `t` can be lifted into its AD form: float tensors only
        in tuples and ADTs (fields or arguments), not in references or functions."""
        if isinstance(t, TupleType):
            return all(self.liftable(f, seen) for f in t.types)
        if isinstance(t, ADTType):
            typedef = self.types.get(t.adt_name)
            if typedef is not None and t.adt_name not in seen:
                seen.add(t.adt_name)
                fields = [f for c in typedef.constructors for f in c.inputs]
                if not all(self.liftable(f, seen) for f in fields):
                    return False
            return all(self.liftable(a, seen) for a in t.args)
        return _is_float_tensor(t) or self.ad_type(t) == t

    def adt_lifter(self, t: ADTType) -> str:
        """A function rebuilding an ADT value (a parameter's List[Tensor]) with its float
        tensors lifted, one per ADT instance (recursive for a recursive ADT)."""
        if t in self.lifters:
            return self.lifters[t]
        typedef = self.types[t.adt_name]
        name, k = f"{t.adt_name}_lift", 2
        while name in self.taken:
            name, k = f"{t.adt_name}_lift{k}", k + 1
        self.taken.add(name)
        self.lifters[t] = name
        ad_type = self.ad_type(t)
        block = Block(arg_types=[t])
        block.args[0].name_hint = "v"
        g = GradBuilder(block.add_op, typedef.location)
        subst = dict(zip(typedef.type_param_names, t.args, strict=True))
        patterns: list[Attribute] = []
        clauses: list[Region] = []
        for ctor in typedef.constructors:
            fields = [substitute_type_vars(f, subst) for f in ctor.inputs]
            patterns.append(ConstructorPattern(ctor.symbol, [VarPattern()] * len(fields)))
            clause = Block(arg_types=fields)
            inner = GradBuilder(clause.add_op, typedef.location)
            lifted = [self.lift(inner, v) for v in clause.args]
            built = inner.add(adt.ConstructOp(self.ad_constructor(ctor.symbol), lifted, ad_type))
            inner.add(core.YieldOp(built.result))
            clauses.append(Region(clause))
        result = g.add(adt.MatchOp(block.args[0], ad_type, patterns, clauses)).result
        g.add(core.ReturnOp(result))
        self.extra.append(core.FuncOp(name, [t], ad_type, region=Region(block)))
        return name

    def primal(self, g: GradBuilder, ad: SSAValue, t: Attribute) -> SSAValue:
        if _is_float_tensor(t):
            return g.tuple_get(ad, 0)
        if isinstance(t, TupleType) and _holds_float(t):
            return g.tuple([self.primal(g, g.tuple_get(ad, i), f) for i, f in enumerate(t.types)])
        return ad

    def adjoint(self, g: GradBuilder, ad: SSAValue, t: Attribute) -> SSAValue:
        """The adjoint an AD value of tensor(s) `t` has gathered (zeros for integers)."""
        if _is_float_tensor(t):
            return g.add(core.RefReadOp(g.tuple_get(ad, 1))).result
        if isinstance(t, TupleType):
            return g.tuple([self.adjoint(g, g.tuple_get(ad, i), f) for i, f in enumerate(t.types)])
        return g.zeros_like(ad)

    def seed(self, g: GradBuilder, ad: SSAValue, value: SSAValue, t: Attribute) -> None:
        """Ones as the adjoint of each float tensor of the result `value` (AD value `ad`)."""
        if _is_float_tensor(t):
            g.add(core.RefWriteOp(g.tuple_get(ad, 1), g.ones_like(value)))
        elif isinstance(t, TupleType):
            for i, f in enumerate(t.types):
                self.seed(g, g.tuple_get(ad, i), g.tuple_get(value, i), f)

    def accumulate(
        self, g: GradBuilder, ad: SSAValue, t: Attribute, adjoint: SSAValue | list[SSAValue]
    ) -> None:
        """Add `adjoint` to the adjoint references of the AD value `ad` of type `t`."""
        if _is_float_tensor(t):
            assert isinstance(adjoint, SSAValue)
            cell = g.tuple_get(ad, 1)
            g.add(core.RefWriteOp(cell, g.plus(g.add(core.RefReadOp(cell)).result, adjoint)))
        elif isinstance(t, TupleType):
            for i, f in enumerate(t.types):
                part = adjoint[i] if isinstance(adjoint, list) else g.tuple_get(adjoint, i)
                self.accumulate(g, g.tuple_get(ad, i), f, part)

    # -- functions and their bodies ---------------------------------------------------------

    def function(self, f: core.FuncOp) -> core.FuncOp:
        params = [self.ad_type(a.type) for a in f.args]
        block = Block(arg_types=[*params, RefType(_BACKPROP)])
        mapping: dict[SSAValue, SSAValue] = {}
        for old, new in zip(f.args, block.args, strict=False):
            new.name_hint = old.name_hint
            mapping[old] = new
        block.args[-1].name_hint = "bp"
        self.block(f.body.block, block, mapping, block.args[-1])
        return core.FuncOp(
            self.ad_names[f.sym_name.data],
            [*params, RefType(_BACKPROP)],
            self.ad_type(f.ret_type),
            f.type_param_names,
            Region(block),
        )

    def region(
        self, old: Region, mapping: dict[SSAValue, SSAValue], bp: SSAValue, at: Operation
    ) -> Region:
        block = Block(arg_types=[self.ad_type(t) for t in old.block.arg_types])
        for o, n in zip(old.block.args, block.args, strict=True):
            n.name_hint = o.name_hint
            mapping[o] = n
        self.block(old.block, block, mapping, bp)
        return Region(block)

    def block(
        self, old: Block, new: Block, mapping: dict[SSAValue, SSAValue], bp: SSAValue
    ) -> None:
        for op in old.ops:
            g = GradBuilder(new.add_op, op.location)
            results = self.op(g, op, mapping, bp)
            for o, n in zip(op.results, results, strict=True):
                if o.name_hint and n.name_hint is None:
                    n.name_hint = o.name_hint
                mapping[o] = n

    def op(
        self, g: GradBuilder, op: Operation, m: dict[SSAValue, SSAValue], bp: SSAValue
    ) -> list[SSAValue]:
        """The AD form of `op`, built with `g`; its results' AD values."""
        if isinstance(op, RelayOperatorOp):
            return [self.operator(g, op, m, bp)]
        if isinstance(op, core.ConstantOp):
            return [self.lift(g, g.add(op.clone()).result)]
        if isinstance(op, core.TupleOp):
            return [g.tuple([m[v] for v in op.fields])]
        if isinstance(op, core.TupleGetOp):
            return [g.tuple_get(m[op.tuple], op.field_index)]
        if isinstance(op, (core.ReturnOp, core.YieldOp)):
            g.add(type(op)(m[op.value]))
            return []
        if isinstance(op, core.IfOp):
            then, other = (self.region(r, m, bp, op) for r in op.regions)
            return [g.add(core.IfOp(m[op.cond], self.ad_type(op.result.type), then, other)).result]
        if isinstance(op, adt.MatchOp):
            clauses = [self.region(r, m, bp, op) for r in op.clauses]
            ad_type = self.ad_type(op.result.type)
            patterns = [self.ad_pattern(p) for p in op.patterns]
            new = adt.MatchOp(m[op.data], ad_type, patterns, clauses, op.partial is not None)
            return [g.add(new).result]
        if isinstance(op, adt.ConstructOp):
            ad_type = self.ad_type(op.result.type)
            return [
                g.add(
                    adt.ConstructOp(
                        self.ad_constructor(op.constructor), [m[v] for v in op.fields], ad_type
                    )
                ).result
            ]
        if isinstance(op, core.CallOp):
            callee = self.funcs.get(op.callee.string_value())
            assert callee is not None
            args = [*(m[v] for v in op.arguments), bp]
            new = core.CallOp(self.ad_name(callee), args, self.ad_type(op.result.type))
            return [g.add(new).result]
        if isinstance(op, core.CallClosureOp):
            args = [m[v] for v in op.arguments]
            ad_type = self.ad_type(op.result.type)
            return [g.add(core.CallClosureOp(m[op.callee], args, ad_type)).result]
        if isinstance(op, core.GlobalRefOp):
            return [self.global_value(g, op, bp)]
        if isinstance(op, core.ClosureOp):
            return [self.closure(g, op, m, bp)]
        if isinstance(op, core.RefCreateOp):
            return [g.add(core.RefCreateOp(m[op.value], self.ad_type(op.result.type))).result]
        if isinstance(op, core.RefReadOp):
            return [g.add(core.RefReadOp(m[op.ref], self.ad_type(op.result.type))).result]
        if isinstance(op, core.RefWriteOp):
            return [g.add(core.RefWriteOp(m[op.ref], m[op.value])).result]
        raise RelayError(f"gradient: Not yet: '{op.name}' in the higher-order gradient", op)

    def closure(
        self, g: GradBuilder, op: core.ClosureOp, m: dict[SSAValue, SSAValue], bp: SSAValue
    ) -> SSAValue:
        if "Primitive" in op.attributes:
            raise RelayError(
                "gradient: Not yet: a primitive function (differentiate before fuse-ops)", op
            )
        ftype = self.ad_type(op.function_type)
        assert isinstance(ftype, FunctionType)
        new = core.ClosureOp(
            ftype.inputs.data,
            ftype.outputs.data[0],
            self.region(op.body, m, bp, op),
            recursive=op.recursive is not None,
        )
        return g.add(new).result

    def global_value(self, g: GradBuilder, op: core.GlobalRefOp, bp: SSAValue) -> SSAValue:
        """A global function as a value: a closure calling its AD copy with this tape."""
        callee = self.funcs.get(op.callee.string_value())
        assert callee is not None and isinstance(op.result.type, FunctionType)
        ftype = self.ad_type(op.result.type)
        assert isinstance(ftype, FunctionType)
        new = g.add(core.ClosureOp(ftype.inputs.data, ftype.outputs.data[0]))
        inner = GradBuilder(new.body.block.add_op, op.location)
        args = [*new.body.block.args, bp]
        result = inner.add(core.CallOp(self.ad_name(callee), args, ftype.outputs.data[0]))
        inner.add(core.ReturnOp(result.result))
        return new.result

    def operator(
        self, g: GradBuilder, op: RelayOperatorOp, m: dict[SSAValue, SSAValue], bp: SSAValue
    ) -> SSAValue:
        """The call on the primal operands, its result lifted, and (when it takes and gives
        float tensors) the closure adding its operands' adjoints pushed onto the tape."""
        primals = {v: self.primal(g, m[v], v.type) for v in dict.fromkeys(op.operands)}
        forward = g.add(op.clone(primals))
        assert isinstance(forward, RelayOperatorOp)
        result = self.lift(g, forward.result)
        active = [_holds_float(v.type) for v in op.operands]
        if not _holds_float(op.result.type) or not any(active):
            return result
        rule = gradient_rule(type(op))
        if rule is None:
            raise RelayError(f"gradient: '{op.OPDEF.name}' is not differentiable", op)
        # After this step, the one pushed before it: the tape runs the last call first.
        rest = g.add(core.RefReadOp(bp)).result
        # Named (see `lift`): as a graph binding it would be read where it is used, inside
        # the closure, once %bp holds the closure itself.
        rest.name_hint = "rest"
        step = g.add(core.ClosureOp([], _UNIT))
        inner = GradBuilder(step.body.block.add_op, op.location)
        t = op.result.type
        if isinstance(t, TupleType):
            dy: DY = [
                self.adjoint(inner, inner.tuple_get(result, i), f) for i, f in enumerate(t.types)
            ]
        else:
            dy = self.adjoint(inner, result, t)
        try:
            grads = rule(inner, forward, dy)
        except NotDifferentiable as e:
            raise RelayError(f"gradient: cannot differentiate '{op.OPDEF.name}': {e}", op) from None
        for v, is_active, adjoint in zip(op.operands, active, grads, strict=True):
            if is_active and adjoint is not None:
                self.accumulate(inner, m[v], v.type, adjoint)
        done = inner.add(core.CallClosureOp(rest, [], _UNIT)).result
        inner.add(core.ReturnOp(done))
        g.add(core.RefWriteOp(bp, step.result))
        return result
