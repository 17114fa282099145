"""Relay text syntax tree -> Relay dialect.

Resolves names (locals and graph variables lexically, globals and constructors
module-wide so they may be used before their definition, operators through the
registry), turns expressions into SSA ops, and gives every op the source
position of its expression. Types that the text leaves out are
`!relay.incomplete` until infer-types runs (`relay_opt.load_program` runs it, as TVM's
parser does).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    BoolAttr,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    FileLineColLoc,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    SymbolRefAttr,
    f64,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.rewriter import Rewriter

from relay_opt.diagnostics import RelayError, SourceLoc
from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.attributes import AttrError
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.patterns import (
    ConstructorPattern,
    TuplePattern,
    VarPattern,
    WildcardPattern,
)
from relay_opt.dialects.relay.registry import lookup
from relay_opt.dialects.relay.resources import constant_attr
from relay_opt.dialects.relay.types import (
    DYNAMIC,
    ADTType,
    IncompleteType,
    RefType,
    TypeVarType,
    function_type,
    tensor_type,
    tuple_type,
    types_compatible,
)
from relay_opt.frontends.relay_text import syntax as s
from relay_opt.frontends.relay_text.metadata import MetaTable

_A = TypeVar("_A", bound=Attribute)

# Results whose type a `let %x: T = ...` annotation may fill in.
_REFINABLE = (
    core.CallOp,
    core.CallClosureOp,
    core.IfOp,
    core.TupleGetOp,
    core.RefReadOp,
    adt.ConstructOp,
    adt.MatchOp,
)


def _valid_name_hint(name: str) -> bool:
    return bool(name) and not name[0].isdigit() and all(c.isalnum() or c in "_$.-" for c in name)


class ToDialect:
    def __init__(self, program: s.Program, meta: MetaTable | None):
        self.program = program
        self.meta = meta or {}
        self.module = ModuleOp([])
        self.type_defs: dict[str, s.TypeDef] = {}
        self.ctors: dict[str, tuple[str, s.Ctor]] = {}  # ctor name -> (type name, ctor)
        self.funcs: dict[str, s.FuncDef] = {}
        self.scope: dict[str, SSAValue] = {}
        self.graph_defs: dict[str, s.Let] = {}  # graph bindings of the function, by number
        self.type_params: set[str] = set()
        self.erased_type_params: set[str] = set()  # those of local fns (see expr_fn)
        self.block: Block | None = None
        self.attrs: dict[tuple[type, object], Attribute] = {}  # built once each (see `attr`)
        self.literals: dict[
            tuple[str, type, str], DenseIntOrFPElementsAttr | DenseResourceAttr
        ] = {}

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def error(message: str, loc: SourceLoc) -> RelayError:
        return RelayError(message, loc)

    def add(self, op: Operation, loc: SourceLoc) -> Operation:
        return self.at(loc).add(op)

    def at(self, loc: SourceLoc) -> RelayBuilder:
        """Builds into the current block at source position `loc`."""
        assert self.block is not None
        return RelayBuilder.at_end(self.block, self.location(loc))

    def location(self, loc: SourceLoc) -> FileLineColLoc:
        # xDSL verifies every attribute it builds: the file name and the numbers, which
        # repeat from op to op, are built once each.
        return FileLineColLoc(
            self.attr(StringAttr, loc.file), self.int(loc.line), self.int(loc.col)
        )

    def int(self, n: int) -> IntAttr:
        return self.attr(IntAttr, n)

    def attr(self, kind: type[_A], value: object) -> _A:
        key = (kind, value)
        if (a := self.attrs.get(key)) is None:
            a = self.attrs[key] = kind(value)  # pyright: ignore[reportCallIssue]
        return a  # pyright: ignore[reportReturnType]

    @contextmanager
    def binding(self, name: str, value: SSAValue) -> Iterator[None]:
        old = self.scope.get(name)
        self.scope[name] = value
        try:
            yield
        finally:
            if old is None:
                del self.scope[name]
            else:
                self.scope[name] = old

    @contextmanager
    def in_block(self, block: Block) -> Iterator[None]:
        old, self.block = self.block, block
        try:
            yield
        finally:
            self.block = old

    # -- types ---------------------------------------------------------------------------------

    def type(self, t: s.TypeExpr | None) -> Attribute:
        if t is None or isinstance(t, s.IncompleteT):
            return IncompleteType()
        if isinstance(t, s.TensorT):
            return tensor_type([DYNAMIC if d is None else d for d in t.shape], t.dtype)
        if isinstance(t, s.TupleT):
            return tuple_type([self.type(f) for f in t.fields])
        if isinstance(t, s.FuncT):
            return function_type([self.type(p) for p in t.params], self.type(t.ret))
        if isinstance(t, s.RefT):
            return RefType(self.type(t.value))
        assert isinstance(t, s.NamedT)
        if t.name in self.erased_type_params and not t.args:
            return IncompleteType()
        if t.name in self.type_params and not t.args:
            return TypeVarType(t.name)
        if t.name in self.type_defs:
            want = len(self.type_defs[t.name].type_params)
            if len(t.args) != want:
                raise self.error(
                    f"type {t.name} takes {want} type argument(s), got {len(t.args)}", t.loc
                )
            return ADTType(t.name, [self.type(a) for a in t.args])
        raise self.error(f"unknown type '{t.name}'", t.loc)

    @contextmanager
    def type_scope(self, params: Sequence[str], loc: SourceLoc) -> Iterator[None]:
        if len(set(params)) != len(params):
            raise self.error("duplicate type parameter", loc)
        old = self.type_params
        self.type_params = old | set(params)
        try:
            yield
        finally:
            self.type_params = old

    @contextmanager
    def erasing(self, params: Sequence[str], loc: SourceLoc) -> Iterator[None]:
        if len(set(params)) != len(params):
            raise self.error("duplicate type parameter", loc)
        old = self.erased_type_params
        self.erased_type_params = old | set(params)
        try:
            yield
        finally:
            self.erased_type_params = old

    # -- the module ----------------------------------------------------------------------------

    def run(self) -> ModuleOp:
        p = self.program
        for td in p.type_defs:
            if td.name in self.type_defs:
                raise self.error(f"type '{td.name}' is defined twice", td.loc)
            self.type_defs[td.name] = td
            for c in td.ctors:
                if c.name in self.ctors:
                    raise self.error(f"constructor '{c.name}' is defined twice", c.loc)
                self.ctors[c.name] = (td.name, c)
        for fd in p.func_defs:
            if fd.name in self.funcs:
                raise self.error(f"function '@{fd.name}' is defined twice", fd.loc)
            self.funcs[fd.name] = fd
        for td in p.type_defs:
            self.type_def(td)
        for fd in p.func_defs:
            self.func_def(fd.name, fd.fn, fd.loc)
        if p.body is not None:
            self.expression_program(p.body)
        return self.module

    def type_def(self, td: s.TypeDef) -> None:
        with self.type_scope(td.type_params, td.loc):
            ctors = [adt.ConstructorOp(c.name, [self.type(t) for t in c.inputs]) for c in td.ctors]
        op = adt.TypeDefOp(td.name, td.type_params, td.extern, ctors)
        self.block = self.module.body.block
        self.add(op, td.loc)
        for c, cop in zip(td.ctors, ctors, strict=True):
            cop.location = self.location(c.loc)

    def func_def(self, name: str, fn: s.Fn, loc: SourceLoc, free: Sequence[s.FreeVar] = ()) -> None:
        with self.type_scope(fn.type_params, fn.loc):
            params = [
                *((fv.name, fv.type, fv.loc) for fv in free),
                *((p.name, p.type, p.loc) for p in fn.params),
            ]
            param_types = [self.type(t) for _, t, _ in params]
            ret = self.type(fn.ret)
            block = Block(arg_types=param_types)
            func = core.FuncOp(
                name, param_types, ret, fn.type_params, Region(block), self.func_attributes(fn)
            )
            self.block = self.module.body.block
            self.add(func, loc)
            self.scope = {}
            self.graph_defs = {}
            for (pname, _, _), arg in zip(params, block.args, strict=True):
                self.declare_param(pname, arg, loc)
            with self.in_block(block):
                value = self.expr(fn.body)
                self.add(core.ReturnOp(value), fn.loc)

    def declare_param(self, name: str, arg: SSAValue, loc: SourceLoc) -> None:
        if name in self.scope:
            raise self.error(f"parameter %{name} is declared twice", loc)
        self.scope[name] = arg
        if _valid_name_hint(name):
            arg.name_hint = name

    def func_attributes(self, fn: s.Fn) -> dict[str, Attribute]:
        out: dict[str, Attribute] = {}
        for key, value in fn.attrs.items():
            attr = _function_attr(value)
            if attr is None:
                raise self.error(
                    f"function attribute '{key}' must be a number, bool, string or a list of them",
                    fn.loc,
                )
            out[key] = attr
        return out

    def expression_program(self, body: s.Expr) -> None:
        """A bare expression (as `parse_expr` takes) becomes `@main`'s body (a bare `fn`, @main
        itself); its free_vars, wherever
        they are declared (TVM's printer puts them just before their first use, also in a
        branch or a closure), its parameters in the order of declaration."""
        free: dict[str, s.FreeVar] = {}
        for fv in _free_var_decls(body):
            free.setdefault(fv.name, fv)
        if "main" in self.funcs:
            raise self.error("a bare expression cannot go with a function named @main", body.loc)  # pyright: ignore
        if isinstance(body, s.Fn) and not free:
            # A function is @main itself, as TVM's IRModule.from_expr makes it.
            self.func_def("main", body, body.loc)
            return
        self.top_level_free = {id(fv) for fv in _free_var_decls(body)}
        main = s.Fn([], [], None, {}, body, body.loc)  # pyright: ignore
        self.func_def("main", main, body.loc, list(free.values()))  # pyright: ignore

    # -- expressions ---------------------------------------------------------------------------

    def expr(self, e: s.Expr) -> SSAValue:
        if isinstance(e, (s.Let, s.FreeVar)):
            return self.let_chain(e)
        method = getattr(self, "expr_" + type(e).__name__.lower())
        return method(e)

    def let_chain(self, e: s.Expr) -> SSAValue:
        """A chain of bindings, walked in a loop rather than by recursion."""
        saved = dict(self.scope)
        try:
            while isinstance(e, (s.Let, s.FreeVar)):
                if isinstance(e, s.FreeVar):
                    if id(e) not in getattr(self, "top_level_free", ()):
                        raise self.error(
                            "free_var is only allowed in a bare expression, not in a def", e.loc
                        )
                    e = e.body
                    continue
                if e.name is None:
                    self.expr(e.value)  # `e1; e2`: evaluated for its effects
                else:
                    if e.graph:
                        self.graph_defs[e.name] = e
                    value = self.let_value(e)
                    self.scope[e.name] = value
                e = e.body
            return self.expr(e)
        finally:
            self.scope = saved

    def let_value(self, e: s.Let) -> SSAValue:
        assert e.name is not None
        if isinstance(e.value, s.Fn) and not e.graph and _mentions(e.value.body, e.name):
            value = self.expr_fn(e.value, self_name=e.name)
        else:
            value = self.expr(e.value)
        if e.type is not None:
            value = self.annotate(value, self.type(e.type), e)
        if not e.graph and _valid_name_hint(e.name) and value.name_hint is None:
            value.name_hint = e.name
        return value

    def annotate(self, value: SSAValue, t: Attribute, e: s.Let) -> SSAValue:
        if isinstance(value.type, IncompleteType):
            owner = value.owner
            if isinstance(owner, _REFINABLE) or getattr(owner, "OPDEF", None) is not None:
                return Rewriter.replace_value_with_new_type(value, t)
            return value
        if not types_compatible(value.type, t):
            raise self.error(
                f"%{e.name} is annotated {t} but its value has type {value.type}", e.loc
            )
        if isinstance(value.owner, core.RefCreateOp) and isinstance(t, RefType):
            # The annotation is the cell's type: `ref(zeros([0, 4]))` annotated
            # `ref(Tensor[(?, 4)])` is a cell that later holds any number of rows.
            return Rewriter.replace_value_with_new_type(value, t)
        return value

    def expr_local(self, e: s.Local) -> SSAValue:
        if e.name not in self.scope:
            raise self.error(f"undefined variable %{e.name}", e.loc)
        return self.scope[e.name]

    def expr_graph(self, e: s.Graph) -> SSAValue:
        if e.number in self.scope:
            return self.scope[e.number]
        # TVM's printer names a shared node once, and may use the name outside the branch or
        # closure that bound it (a graph, not a scope). A pure node is computed again here.
        bound = self.graph_defs.get(e.number)
        if bound is None or s.touches_refs(bound.value):
            raise self.error(f"undefined graph variable %{e.number}", e.loc)
        del self.graph_defs[e.number]  # (not while it is being computed: no cycle)
        try:
            value = self.let_value(bound)
        finally:
            self.graph_defs[e.number] = bound
        self.scope[e.number] = value
        return value

    def expr_global(self, e: s.Global) -> SSAValue:
        self.check_global(e)
        return self.add(core.GlobalRefOp(e.name, IncompleteType()), e.loc).results[0]

    def check_global(self, e: s.Global) -> None:
        if e.name not in self.funcs:
            raise self.error(f"undefined global @{e.name}", e.loc)

    def expr_name(self, e: s.Name) -> SSAValue:
        if e.name in self.ctors:
            if not self.ctors[e.name][1].inputs:
                return self.construct(e.name, [], e.loc)
            return self.constructor_function(e.name, e.loc)
        if lookup(e.name) is not None:
            raise self.error(f"operator '{e.name}' must be called with its arguments", e.loc)
        raise self.error(f"unknown operator or constructor '{e.name}'", e.loc)

    def constructor_function(self, name: str, loc: SourceLoc) -> SSAValue:
        """A constructor with fields used as a value (`@foldr(Cons, ...)`): the closure
        `fn (%0, %1) { Cons(%0, %1) }`, its types inferred where it is used."""
        arity = len(self.ctors[name][1].inputs)
        op = core.ClosureOp([IncompleteType()] * arity, IncompleteType(), recursive=False)
        self.add(op, loc)
        with self.in_block(op.body.block):
            value = self.construct(name, list(op.args), loc)
            self.add(core.ReturnOp(value), loc)
        return op.result

    def construct(self, name: str, args: list[SSAValue], loc: SourceLoc) -> SSAValue:
        type_name, ctor = self.ctors[name]
        if len(args) != len(ctor.inputs):
            raise self.error(
                f"constructor {name} takes {len(ctor.inputs)} field(s), got {len(args)}", loc
            )
        ref = SymbolRefAttr(type_name, [name])
        return self.add(adt.ConstructOp(ref, args, IncompleteType()), loc).results[0]

    def expr_literal(self, e: s.Literal) -> SSAValue:
        # A model repeats its literals (1f, 0f, ...): each value's attribute is built once.
        key = (e.dtype, type(e.value), repr(e.value))
        if (attr := self.literals.get(key)) is None:
            array = np.array(e.value, dtype=numpy_dtype(e.dtype))
            attr = self.literals[key] = constant_attr(array, e.dtype)
        return self.add(core.ConstantOp(attr), e.loc).results[0]

    def expr_metaref(self, e: s.MetaRef) -> SSAValue:
        if e.kind != "relay.Constant":
            raise self.error(f"meta[{e.kind}] is not supported; only meta[relay.Constant]", e.loc)
        arrays = self.meta.get(e.kind)
        if arrays is None:
            raise self.error(
                f"meta[relay.Constant][{e.index}] needs the constants: pass them with --meta M.npz "
                f"or include a #[metadata] section",
                e.loc,
            )
        if not 0 <= e.index < len(arrays):
            raise self.error(
                f"meta[relay.Constant][{e.index}] is missing (the metadata holds {len(arrays)})",
                e.loc,
            )
        return self.at(e.loc).constant(arrays[e.index])

    def expr_call(self, e: s.Call) -> SSAValue:
        callee = e.callee
        if isinstance(callee, s.Name) and callee.name not in self.ctors:
            return self.operator_call(callee, e)
        # Attributes on a call of a function or constructor (TVM keeps them on the call node,
        # where nothing reads them) do not change its meaning: they are dropped.
        args = [self.expr(a) for a in e.args]
        if isinstance(callee, s.Name):
            return self.construct(callee.name, args, callee.loc)
        if isinstance(callee, s.Global):
            self.check_global(callee)
            return self.add(core.CallOp(callee.name, args, IncompleteType()), e.loc).results[0]
        fn = self.expr(callee)
        return self.add(core.CallClosureOp(fn, args, IncompleteType()), e.loc).results[0]

    def operator_call(self, callee: s.Name, e: s.Call) -> SSAValue:
        opdef = lookup(callee.name)
        if opdef is None:
            raise self.error(f"unknown operator '{callee.name}'", callee.loc)
        if len(e.args) != len(opdef.args):
            raise self.error(
                f"'{opdef.name}' takes {len(opdef.args)} argument(s) ({', '.join(opdef.args)}), "
                f"got {len(e.args)}",
                e.loc,
            )
        for key in e.attrs:
            if opdef.attr_spec(key) is None:
                raise self.error(
                    f"operator '{opdef.name}' has no attribute '{key}'", e.attr_locs.get(key, e.loc)
                )
        # `None` is Relay's null, an absent attribute: its default, never a None that the
        # type relation would take for a value (`padding=None` crashed conv2d's).
        attrs = {k: v for k, v in e.attrs.items() if v is not None}
        try:
            opdef.make_attrs(attrs)
        except AttrError as err:
            bad = next((k for k in attrs if k in str(err)), None)
            raise self.error(str(err), e.attr_locs.get(bad, e.loc) if bad else e.loc) from None
        args = [self.expr(a) for a in e.args]
        return self.at(callee.loc).call(
            opdef.op_class, *args, result_type=IncompleteType(), **attrs
        )

    def expr_fn(self, e: s.Fn, self_name: str | None = None) -> SSAValue:
        # A local `fn[A](...)`: its type parameters are left to inference (each use of A an
        # unknown), so it takes the one instance its uses need. Generic use at two types
        # needs a def.
        with self.erasing(e.type_params, e.loc):
            param_types = [self.type(p.type) for p in e.params]
            ret = self.type(e.ret)
        op = core.ClosureOp(
            param_types, ret, recursive=self_name is not None, attributes=self.func_attributes(e)
        )
        self.add(op, e.loc)
        saved = dict(self.scope)
        try:
            if self_name is not None:
                self.scope[self_name] = op.body.block.args[0]
                if _valid_name_hint(self_name):
                    op.body.block.args[0].name_hint = self_name
            for p, arg in zip(e.params, op.args, strict=True):
                self.scope[p.name] = arg
                if _valid_name_hint(p.name):
                    arg.name_hint = p.name
            with self.in_block(op.body.block), self.erasing(e.type_params, e.loc):
                value = self.expr(e.body)
                self.add(core.ReturnOp(value), e.loc)
        finally:
            self.scope = saved
        return op.result

    def branch(self, body: s.Expr, block: Block, loc: SourceLoc) -> None:
        saved = dict(self.scope)
        try:
            with self.in_block(block):
                value = self.expr(body)
                self.add(core.YieldOp(value), loc)
        finally:
            self.scope = saved

    def expr_if(self, e: s.If) -> SSAValue:
        cond = self.expr(e.cond)
        op = core.IfOp(cond, IncompleteType())
        self.add(op, e.loc)
        self.branch(e.then, op.then_region.block, e.loc)
        self.branch(e.orelse, op.else_region.block, e.loc)
        return op.result

    def expr_match(self, e: s.Match) -> SSAValue:
        data = self.expr(e.data)
        patterns: list[Attribute] = []
        regions: list[Region] = []
        bound_names: list[list[str]] = []
        for clause in e.clauses:
            names: list[tuple[str, Attribute]] = []
            patterns.append(self.pattern(clause.pattern, names))
            seen = [n for n, _ in names]
            if len(set(seen)) != len(seen):
                raise self.error("a pattern binds the same variable twice", clause.pattern.loc)
            regions.append(Region(Block(arg_types=[t for _, t in names])))
            bound_names.append(seen)
        op = adt.MatchOp(data, IncompleteType(), patterns, regions, partial=not e.complete)
        self.add(op, e.loc)
        for clause, region, bound in zip(e.clauses, op.clauses, bound_names, strict=True):
            saved = dict(self.scope)
            try:
                for n, arg in zip(bound, region.block.args, strict=True):
                    self.scope[n] = arg
                    if _valid_name_hint(n):
                        arg.name_hint = n
                self.branch(clause.body, region.block, e.loc)
            finally:
                self.scope = saved
        return op.result

    def pattern(self, p: s.Pattern, names: list[tuple[str, Attribute]]) -> Attribute:
        if isinstance(p, s.PWild):
            return WildcardPattern()
        if isinstance(p, s.PVar):
            names.append((p.name, self.type(p.type)))
            return VarPattern()
        if isinstance(p, s.PTuple):
            return TuplePattern([self.pattern(f, names) for f in p.fields])
        if p.name not in self.ctors:
            raise self.error(f"unknown constructor '{p.name}'", p.loc)
        type_name, ctor = self.ctors[p.name]
        if len(p.fields) != len(ctor.inputs):
            raise self.error(
                f"constructor {p.name} takes {len(ctor.inputs)} field(s), the pattern has "
                f"{len(p.fields)}",
                p.loc,
            )
        fields = [self.pattern(f, names) for f in p.fields]
        return ConstructorPattern(SymbolRefAttr(type_name, [p.name]), fields)

    def expr_tuple(self, e: s.Tuple) -> SSAValue:
        fields = [self.expr(f) for f in e.fields]
        return self.at(e.loc).tuple(fields)

    def expr_tupleget(self, e: s.TupleGet) -> SSAValue:
        tup = self.expr(e.tuple)
        return self.at(e.loc).tuple_get(tup, e.index)

    def expr_refcreate(self, e: s.RefCreate) -> SSAValue:
        return self.add(core.RefCreateOp(self.expr(e.value)), e.loc).results[0]

    def expr_refread(self, e: s.RefRead) -> SSAValue:
        return self.add(core.RefReadOp(self.expr(e.ref)), e.loc).results[0]

    def expr_refwrite(self, e: s.RefWrite) -> SSAValue:
        ref = self.expr(e.ref)
        value = self.expr(e.value)
        return self.add(core.RefWriteOp(ref, value), e.loc).results[0]


def _free_var_decls(e: object) -> list[s.FreeVar]:
    """The `free_var` declarations in an expression, in source order."""
    found = [n for n in s.nodes(e) if isinstance(n, s.FreeVar)]
    return sorted(found, key=lambda fv: (fv.loc.line, fv.loc.col))


def _mentions(e: object, name: str) -> bool:
    """Whether `%name` occurs in an expression (used to spot recursive local functions)."""
    return any(isinstance(node, s.Local) and node.name == name for node in s.nodes(e))


def to_dialect(program: s.Program, meta: MetaTable | None = None) -> ModuleOp:
    return ToDialect(program, meta).run()


def _function_attr(value: object) -> Attribute | None:
    """A function attribute's value as an xDSL attribute (lists as TVM's
    `param_device_types=[2]`), None when Relay text has no such function attribute."""
    if isinstance(value, bool):
        return BoolAttr.from_bool(value)
    if isinstance(value, int):
        return IntegerAttr(value, i64)
    if isinstance(value, float):
        return FloatAttr(value, f64)
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, list):
        items = [_function_attr(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
        return None if any(a is None for a in items) else ArrayAttr(items)  # pyright: ignore
    return None
