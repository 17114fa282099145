"""infer-types: Relay's type inference over a whole module.

Hindley–Milner unification plus the operators' type relations, as in TVM's
InferType: every value's type becomes a term, `!relay.incomplete` becomes a
fresh unification variable, constraints come from the ops (calls, closures,
`if`/`match` joins, tuples, refs, constructors), and relations run once their
operand types are known, until nothing changes. Polymorphic global functions
(`relay.func @f[A]`) are instantiated afresh at each use; their type
parameters are rigid inside their own body. Then every value, block argument
and function signature is rewritten with its inferred type.

Tensor types unify when they agree on dtype and rank and each pair of
dimensions is equal or has a `?`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, FunctionType, ModuleOp, TensorType, TupleType
from xdsl.ir import Attribute, Operation, ParametrizedAttribute, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.attributes import AttrError
from relay_opt.dialects.relay.ir_helpers import building_ir
from relay_opt.dialects.relay.patterns import (
    ConstructorPattern,
    TuplePattern,
    VarPattern,
    WildcardPattern,
)
from relay_opt.dialects.relay.registry import RelayOperatorOp, TypeRelationError
from relay_opt.dialects.relay.symbols import lookup_constructor
from relay_opt.dialects.relay.types import (
    DYNAMIC,
    ADTType,
    IncompleteType,
    RefType,
    TypeVarType,
    function_type,
    tuple_type,
)

# ---------------------------------------------------------------------------
# Type terms
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class Var:
    """A unification variable; `ref` is what it was bound to."""

    id: int
    ref: Term | None = None


@dataclass(frozen=True)
class Rigid:
    """A type parameter inside the function that binds it (it unifies only with itself)."""

    name: str
    owner: int  # id() of the binding op, so two functions' `A`s differ


@dataclass(frozen=True)
class Leaf:
    """A tensor type (or any other type with no type inside)."""

    attr: Attribute


@dataclass(frozen=True)
class Con:
    """A type constructor applied to terms: tuple, fn (inputs..., output), ref, adt:<name>."""

    head: str
    args: tuple[Term, ...] = field(default=())


Term = Var | Rigid | Leaf | Con


class UnifyError(Exception):
    pass


def _dims_compatible(a: TensorType[Attribute], b: TensorType[Attribute]) -> bool:
    if a.element_type != b.element_type:
        return False
    sa, sb = a.get_shape(), b.get_shape()
    return len(sa) == len(sb) and all(
        x == y or DYNAMIC in (x, y) for x, y in zip(sa, sb, strict=True)
    )


class Solver:
    def __init__(self) -> None:
        self._ids = itertools.count()

    def fresh(self) -> Var:
        return Var(next(self._ids))

    def find(self, t: Term) -> Term:
        while isinstance(t, Var) and t.ref is not None:
            t = t.ref
        return t

    def resolve(self, t: Term) -> Term:
        """`t` with every bound variable replaced by what it is bound to."""
        t = self.find(t)
        if isinstance(t, Con):
            return Con(t.head, tuple(self.resolve(a) for a in t.args))
        return t

    def occurs(self, v: Var, t: Term) -> bool:
        t = self.find(t)
        if t is v:
            return True
        return isinstance(t, Con) and any(self.occurs(v, a) for a in t.args)

    def unify(self, a: Term, b: Term) -> None:
        a, b = self.find(a), self.find(b)
        if a is b:
            return
        if isinstance(a, Var) or isinstance(b, Var):
            v, other = (a, b) if isinstance(a, Var) else (b, a)
            assert isinstance(v, Var)
            if self.occurs(v, other):
                raise UnifyError("a type would contain itself (infinite type)")
            v.ref = other
            return
        if isinstance(a, Leaf) and isinstance(b, Leaf):
            if a.attr == b.attr:
                return
            if (
                isinstance(a.attr, TensorType)
                and isinstance(b.attr, TensorType)
                and _dims_compatible(a.attr, b.attr)
            ):
                return
            raise UnifyError
        if isinstance(a, Con) and isinstance(b, Con):
            if a.head != b.head or len(a.args) != len(b.args):
                raise UnifyError
            for x, y in zip(a.args, b.args, strict=True):
                self.unify(x, y)
            return
        if a == b:  # equal rigid variables
            return
        raise UnifyError

    def free_vars(self, t: Term) -> bool:
        t = self.find(t)
        if isinstance(t, Var):
            return True
        return isinstance(t, Con) and any(self.free_vars(a) for a in t.args)


# ---------------------------------------------------------------------------
# Attribute <-> term
# ---------------------------------------------------------------------------


def to_term(solver: Solver, t: Attribute, rigid: Callable[[str], Term]) -> Term:
    """A term for a type attribute: `_` -> fresh variable, `A` -> rigid(A)."""
    if isinstance(t, IncompleteType):
        return solver.fresh()
    if isinstance(t, TypeVarType):
        return rigid(t.var_name.data)
    if isinstance(t, TupleType):
        return Con("tuple", tuple(to_term(solver, f, rigid) for f in t.types))
    if isinstance(t, FunctionType):
        parts = [*t.inputs, *t.outputs]
        return Con("fn", tuple(to_term(solver, p, rigid) for p in parts))
    if isinstance(t, RefType):
        return Con("ref", (to_term(solver, t.value_type, rigid),))
    if isinstance(t, ADTType):
        return Con("adt:" + t.adt_name, tuple(to_term(solver, a, rigid) for a in t.args))
    return Leaf(t)


def to_attr(solver: Solver, t: Term) -> Attribute:
    """The type attribute of a term; unsolved variables become `!relay.incomplete`."""
    t = solver.find(t)
    if isinstance(t, Var):
        return IncompleteType()
    if isinstance(t, Rigid):
        return TypeVarType(t.name)
    if isinstance(t, Leaf):
        return t.attr
    args = [to_attr(solver, a) for a in t.args]
    if t.head == "tuple":
        return tuple_type(args)
    if t.head == "fn":
        return function_type(args[:-1], args[-1])
    if t.head == "ref":
        return RefType(args[0])
    assert t.head.startswith("adt:")
    return ADTType(t.head[4:], args)


def instantiate(solver: Solver, t: Term, owner: int, subst: dict[str, Var]) -> Term:
    """Replace the rigid variables that `owner` binds by fresh variables (one per name)."""
    t = solver.find(t)
    if isinstance(t, Rigid) and t.owner == owner:
        if t.name not in subst:
            subst[t.name] = solver.fresh()
        return subst[t.name]
    if isinstance(t, Con):
        return Con(t.head, tuple(instantiate(solver, a, owner, subst) for a in t.args))
    return t


# ---------------------------------------------------------------------------
# Constraint generation
# ---------------------------------------------------------------------------


@dataclass
class Pending:
    """A constraint that waits until the terms it needs are known."""

    op: Operation
    ready: Callable[[], bool]
    solve: Callable[[], None]


class Inference:
    def __init__(self, module: ModuleOp):
        self.module = module
        self.solver = Solver()
        self.terms: dict[SSAValue, Term] = {}
        self.signatures: dict[str, tuple[core.FuncOp, Term]] = {}
        self.pending: list[Pending] = []

    # -- helpers ------------------------------------------------------------------------

    def show(self, t: Term) -> str:
        return str(to_attr(self.solver, t))

    def unify(self, a: Term, b: Term, at: Operation, what: str) -> None:
        """Unify; on failure a located error saying `what` with both types."""
        try:
            self.solver.unify(a, b)
        except UnifyError as e:
            detail = f" ({e})" if str(e) else ""
            raise RelayError(what.format(a=self.show(a), b=self.show(b)) + detail, at) from None

    def term(self, v: SSAValue) -> Term:
        return self.terms[v]

    def rigid_for(self, op: Operation) -> Callable[[str], Term]:
        """How type variables read inside `op`: rigid, bound by the enclosing relay.func."""
        func = op if isinstance(op, core.FuncOp) else _enclosing_func(op)
        bound = set(func.type_param_names) if func is not None else set()
        owner = id(func)

        def rigid(name: str) -> Term:
            if name not in bound:
                raise RelayError(f"type variable {name} is not bound here", op)
            return Rigid(name, owner)

        return rigid

    def declare(self, v: SSAValue, at: Operation) -> Term:
        t = to_term(self.solver, v.type, self.rigid_for(at))
        self.terms[v] = t
        return t

    # -- the module -----------------------------------------------------------------------

    def run(self) -> None:
        for op in self.module.ops:
            if isinstance(op, core.FuncOp):
                sig = to_term(self.solver, op.function_type, self.rigid_for(op))
                self.signatures[op.sym_name.data] = (op, sig)
        for op in self.module.ops:
            if isinstance(op, core.FuncOp):
                self.function(op)
        self.solve_pending()
        self.write_back()

    def function(self, func: core.FuncOp) -> None:
        _, sig = self.signatures[func.sym_name.data]
        assert isinstance(sig, Con)
        for arg, t in zip(func.args, sig.args[:-1], strict=True):
            self.unify(self.declare(arg, func), t, func, "parameter type {a} differs from {b}")
        self.region_ops(func.body.block.ops, sig.args[-1])

    def region_ops(self, ops: Iterable[Operation], ret: Term | None) -> None:
        for op in ops:
            self.op(op, ret)

    def op(self, op: Operation, ret: Term | None) -> None:
        """Constraints of one op; `ret` is the result term of the enclosing function."""
        for r in op.results:
            self.declare(r, op)
        handler = _HANDLERS.get(type(op))
        if handler is not None:
            handler(self, op, ret)
        elif isinstance(op, RelayOperatorOp):
            self.operator(op)
        elif op.regions:
            raise RelayError(f"infer-types does not know the op '{op.name}'", op)

    # -- per-op constraints -----------------------------------------------------------------

    def operator(self, op: RelayOperatorOp) -> None:
        args = [self.term(o) for o in op.operands]
        result = self.term(op.result)
        opdef = op.opdef
        values = [_constant_value(o) for o in op.operands] if opdef.value_relation else None

        def solve() -> None:
            types = [to_attr(self.solver, a) for a in args]
            try:
                inferred = opdef.infer(types, op.attrs, values)
            except (TypeRelationError, AttrError) as e:
                raise RelayError(f"'{opdef.name}': {e}", op) from None
            self.unify(
                result,
                to_term(self.solver, inferred, self.rigid_for(op)),
                op,
                f"'{opdef.name}' produces {{b}} but its result is declared {{a}}",
            )

        self.defer(Pending(op, lambda: not any(self.solver.free_vars(a) for a in args), solve))

    def call(self, op: core.CallOp, ret: Term | None) -> None:
        self.use_global(op, op.callee.root_reference.data, self.fn_term(op.arguments, op.result))

    def global_ref(self, op: core.GlobalRefOp, ret: Term | None) -> None:
        self.use_global(op, op.callee.root_reference.data, self.term(op.result))

    def use_global(self, op: Operation, name: str, use: Term) -> None:
        if name not in self.signatures:
            raise RelayError(f"'@{name}' does not name a relay.func", op)
        func, sig = self.signatures[name]
        # Inside its own body a function is monomorphic (recursion keeps its type parameters).
        if not func.type_param_names or func.is_ancestor(op):
            self.unify(use, sig, op, f"@{name} has type {{b}} but is used as {{a}}")
            return

        def solve() -> None:
            inst = instantiate(self.solver, sig, id(func), {})
            self.unify(use, inst, op, f"@{name} has type {{b}} but is used as {{a}}")

        # A polymorphic function is instantiated once its own body fixed its type.
        self.defer(Pending(op, lambda: not self.solver.free_vars(sig), solve))

    def fn_term(self, args: Sequence[SSAValue], result: SSAValue) -> Term:
        return Con("fn", (*(self.term(a) for a in args), self.term(result)))

    def call_closure(self, op: core.CallClosureOp, ret: Term | None) -> None:
        self.unify(
            self.term(op.callee),
            self.fn_term(op.arguments, op.result),
            op,
            "the callee has type {a} but is called as {b}",
        )

    def closure(self, op: core.ClosureOp, ret: Term | None) -> None:
        block_args = [self.declare(a, op) for a in op.body.block.args]
        if op.self_arg is not None:
            self.unify(block_args[0], self.term(op.result), op, "recursive closure: {a} vs {b}")
        params = block_args[1:] if op.self_arg is not None else block_args
        own = self.term(op.result)
        fresh_ret = self.solver.fresh()
        self.unify(
            own, Con("fn", (*params, fresh_ret)), op, "closure type {a} vs its parameters {b}"
        )
        self.region_ops(op.body.block.ops, fresh_ret)

    def return_(self, op: core.ReturnOp, ret: Term | None) -> None:
        assert ret is not None
        self.unify(
            ret, self.term(op.value), op, "the function returns {b} but its result type is {a}"
        )

    def if_(self, op: core.IfOp, ret: Term | None) -> None:
        self.unify(
            self.term(op.cond),
            Leaf(TensorType(_i1(), [])),
            op,
            "the condition of 'relay.if' must be a bool scalar tensor<i1>, got {a}",
        )
        result = self.term(op.result)
        then_yield, else_yield = _yield_of(op.then_region), _yield_of(op.else_region)
        self.region_ops(op.then_region.block.ops, ret)
        self.region_ops(op.else_region.block.ops, ret)
        self.unify(
            result,
            self.term(then_yield.value),
            then_yield,
            "the then branch yields {b} but 'relay.if' has type {a}",
        )
        self.unify(
            self.term(then_yield.value),
            self.term(else_yield.value),
            else_yield,
            "the branches of 'relay.if' differ: the then branch yields {a}, the else branch {b}",
        )

    def yield_(self, op: core.YieldOp, ret: Term | None) -> None:
        pass  # joined by the parent `if` or `match`

    def constant(self, op: core.ConstantOp, ret: Term | None) -> None:
        self.unify(self.term(op.result), Leaf(op.value.get_type()), op, "constant: {a} vs {b}")

    def tuple_(self, op: core.TupleOp, ret: Term | None) -> None:
        fields = tuple(self.term(f) for f in op.fields)
        self.unify(self.term(op.result), Con("tuple", fields), op, "tuple: {a} vs {b}")

    def tuple_get(self, op: core.TupleGetOp, ret: Term | None) -> None:
        tup, result, index = self.term(op.tuple), self.term(op.result), op.field_index

        def solve() -> None:
            t = self.solver.find(tup)
            if not isinstance(t, Con) or t.head != "tuple":
                raise RelayError(f"'relay.tuple_get' needs a tuple, got {self.show(t)}", op)
            if not 0 <= index < len(t.args):
                raise RelayError(
                    f"index {index} is out of range for {self.show(t)} ({len(t.args)} field(s))", op
                )
            self.unify(result, t.args[index], op, f"field {index} has type {{b}}, not {{a}}")

        self.defer(Pending(op, lambda: not isinstance(self.solver.find(tup), Var), solve))

    def call_count(self, op: core.CallCountOp, ret: Term | None) -> None:
        self.unify(self.term(op.result), Leaf(core.COUNT_TYPE), op, "call_count: {a} vs {b}")

    def ref_create(self, op: core.RefCreateOp, ret: Term | None) -> None:
        self.unify(self.term(op.result), Con("ref", (self.term(op.value),)), op, "ref: {a} vs {b}")

    def ref_read(self, op: core.RefReadOp, ret: Term | None) -> None:
        self.unify(
            self.term(op.ref),
            Con("ref", (self.term(op.result),)),
            op,
            "'relay.ref_read' needs a reference, got {a}",
        )

    def ref_write(self, op: core.RefWriteOp, ret: Term | None) -> None:
        self.unify(
            self.term(op.ref),
            Con("ref", (self.term(op.value),)),
            op,
            "the reference has type {a} but the stored value makes it {b}",
        )

    def construct(self, op: adt.ConstructOp, ret: Term | None) -> None:
        ctor = self.constructor(op, op.constructor)
        inputs, output = self.constructor_signature(ctor)
        if len(inputs) != len(op.fields):
            raise RelayError(
                f"constructor {op.constructor} takes {len(inputs)} field(s), got {len(op.fields)}",
                op,
            )
        for i, (field_, want) in enumerate(zip(op.fields, inputs, strict=True)):
            self.unify(
                want,
                self.term(field_),
                op,
                f"field {i} of constructor {op.constructor} must be {{a}}, got {{b}}",
            )
        self.unify(self.term(op.result), output, op, "the constructed value is {b}, declared {a}")

    def constructor(self, op: Operation, ref: object) -> adt.ConstructorOp:
        from xdsl.dialects.builtin import SymbolRefAttr

        assert isinstance(ref, SymbolRefAttr)
        ctor = lookup_constructor(op, ref)
        if ctor is None:
            raise RelayError(f"'{ref}' does not name a constructor", op)
        return ctor

    def constructor_signature(self, ctor: adt.ConstructorOp) -> tuple[list[Term], Term]:
        """The constructor's input terms and ADT term, its type parameters instantiated."""
        type_def = ctor.type_def
        subst = {p: self.solver.fresh() for p in type_def.type_param_names}

        def rigid(name: str) -> Term:
            return subst[name]

        inputs = [to_term(self.solver, t, rigid) for t in ctor.inputs]
        return inputs, to_term(self.solver, type_def.instance_type(), rigid)

    def match(self, op: adt.MatchOp, ret: Term | None) -> None:
        data, result = self.term(op.data), self.term(op.result)
        for pattern, region in zip(op.patterns, op.clauses, strict=True):
            bound = iter(region.block.args)
            self.pattern(op, pattern, data, bound)
            self.region_ops(region.block.ops, ret)
            y = _yield_of(region)
            self.unify(
                result, self.term(y.value), y, "this clause yields {b} but the match has type {a}"
            )

    def pattern(self, op: adt.MatchOp, p: Attribute, t: Term, bound: Iterator[SSAValue]) -> None:
        if isinstance(p, WildcardPattern):
            return
        if isinstance(p, VarPattern):
            arg = next(bound)
            self.unify(self.declare(arg, op), t, op, "pattern variable of type {a} matches {b}")
            return
        if isinstance(p, TuplePattern):
            fields = tuple(self.solver.fresh() for _ in p.fields)
            self.unify(t, Con("tuple", fields), op, "a tuple pattern cannot match {a}")
            for sub, ft in zip(p.fields, fields, strict=True):
                self.pattern(op, sub, ft, bound)
            return
        assert isinstance(p, ConstructorPattern)
        ctor = self.constructor(op, p.constructor)
        inputs, output = self.constructor_signature(ctor)
        self.unify(t, output, op, f"pattern {p.constructor} matches {{b}}, not {{a}}")
        for sub, ft in zip(p.fields, inputs, strict=True):
            self.pattern(op, sub, ft, bound)

    # -- solving and writing back -------------------------------------------------------------

    def defer(self, p: Pending) -> None:
        """Solve now if possible (ops come in dataflow order, so usually it is), else later.

        Solving early makes `if`/`match` joins see real types, so a mismatch is
        reported at the join rather than inside a branch."""
        if p.ready():
            p.solve()
        else:
            self.pending.append(p)

    def solve_pending(self) -> None:
        progress = True
        while self.pending and progress:
            progress = False
            waiting: list[Pending] = []
            for p in self.pending:
                if p.ready():
                    p.solve()
                    progress = True
                else:
                    waiting.append(p)
            self.pending = waiting
        if self.pending:
            p = self.pending[0]
            operands = ", ".join(self.show(self.term(o)) for o in p.op.operands)
            raise RelayError(
                f"cannot infer the type of '{p.op.name}': its operand types are not known "
                f"({operands})",
                p.op,
            )

    def write_back(self) -> None:
        for value, term in list(self.terms.items()):
            new = to_attr(self.solver, term)
            if new != value.type:
                Rewriter.replace_value_with_new_type(value, new)
        for op in self.module.ops:
            if isinstance(op, core.FuncOp):
                _, sig = self.signatures[op.sym_name.data]
                op.properties["function_type"] = to_attr(self.solver, sig)
        incomplete: dict[Attribute, bool] = {}  # types repeat from value to value
        for op in self.module.walk():
            for v in (*op.results, *(a for r in op.regions for b in r.blocks for a in b.args)):
                if (bad := incomplete.get(v.type)) is None:
                    bad = incomplete[v.type] = _has_incomplete(v.type)
                if bad:
                    raise RelayError(
                        f"cannot infer a type for this value: {v.type}; annotate it", op
                    )


def _constant_value(v: SSAValue) -> object:
    """The array of a relay.constant operand, else None."""
    if isinstance(v.owner, core.ConstantOp):
        from relay_opt.dialects.relay.resources import array_of

        return array_of(v.owner.value)
    return None


def _has_incomplete(t: Attribute) -> bool:
    if isinstance(t, IncompleteType):
        return True
    if isinstance(t, ArrayAttr):
        return any(_has_incomplete(x) for x in t)  # pyright: ignore
    if isinstance(t, ParametrizedAttribute):
        return any(_has_incomplete(p) for p in t.parameters)
    return False


def _i1() -> Attribute:
    from xdsl.dialects.builtin import i1

    return i1


def _enclosing_func(op: Operation) -> core.FuncOp | None:
    cur = op.parent_op()
    while cur is not None and not isinstance(cur, core.FuncOp):
        cur = cur.parent_op()
    return cur


def _yield_of(region) -> core.YieldOp:  # noqa: ANN001
    last = region.block.last_op
    if not isinstance(last, core.YieldOp):
        raise RelayError("a branch must end with 'relay.yield'", region.parent_op())
    return last


_HANDLERS: dict[type[Operation], Callable[[Inference, Operation, Term | None], None]] = {
    core.CallOp: Inference.call,  # pyright: ignore[reportAssignmentType]
    core.GlobalRefOp: Inference.global_ref,
    core.CallClosureOp: Inference.call_closure,
    core.ClosureOp: Inference.closure,
    core.ReturnOp: Inference.return_,
    core.IfOp: Inference.if_,
    core.YieldOp: Inference.yield_,
    core.ConstantOp: Inference.constant,
    core.TupleOp: Inference.tuple_,
    core.TupleGetOp: Inference.tuple_get,
    core.RefCreateOp: Inference.ref_create,
    core.RefReadOp: Inference.ref_read,
    core.RefWriteOp: Inference.ref_write,
    core.CallCountOp: Inference.call_count,
    adt.ConstructOp: Inference.construct,
    adt.MatchOp: Inference.match,
}  # pyright: ignore


@dataclass(frozen=True)
class InferTypesPass(ModulePass):
    """Infers and checks the types of a whole module (unification plus operator relations)."""

    name = "infer-types"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        with building_ir():
            Inference(op).run()
