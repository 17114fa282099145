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

First-order programs: the body may hold operator calls, constants, tuples, projections and
`relay.if`. An `if`'s adjoint is an `if` on the same condition whose branches rerun their
branch's forward ops (values local to a branch are not visible after it) and sweep back from
its yield, yielding the adjoints of the outer values the branch uses. `relay.match`, calls,
closures and references are located errors (inline or partial-evaluate first), and so is an
operator without a gradient rule, or one whose rule does not take its attributes, named with
the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType, TupleType
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.ir_helpers import functions_by_name
from relay_opt.dialects.relay.ops.grad import DY, GradBuilder, NotDifferentiable, gradient_rule
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.types import tuple_type
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
        grad = differentiate(f, name, self._selected(f))
        op.body.block.insert_op_after(grad, f)

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
                raise RelayError(
                    "gradient: a match on a value that depends on a differentiated parameter "
                    "is not supported by the first-order gradient",
                    op,
                )
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
