"""Expressions <-> the text frontend's syntax tree, the shim's one bridge to the dialect.

`ToSyntax` writes a module's expressions as a syntax `Program` (constants as
`meta[relay.Constant][i]`), which `to_dialect` turns into the Relay dialect exactly as it
does parsed text. An expression object used more than once becomes one `let` binding in the
innermost scope where it is first used, so a dataflow graph stays a graph. `FromSyntax`
goes back: a module is printed as Relay text, parsed, and its syntax becomes expressions; a
graph binding `%N = ...` becomes a shared node, except one that creates, reads or writes a
reference, which becomes a `let` (a shared node is evaluated at its first use, which may be
after a write, or inside a closure).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from relay_opt.diagnostics import RelayError, SourceLoc
from relay_opt.frontends.relay_text import syntax as s
from relay_opt.relay import expr as e
from relay_opt.relay.ty import IncompleteType, Type, TypeVar, from_syntax

_LEAVES = (e.Var, e.GlobalVar, e.Constant, e.Op, e.Constructor)
_DATAFLOW = (e.Call, e.Tuple, e.TupleGetItem, e.RefCreate, e.RefRead, e.RefWrite)


def _children(node: e.Expr) -> list[e.Expr]:
    if isinstance(node, e.Call):
        return [node.op, *node.args]
    if isinstance(node, e.Tuple):
        return list(node.fields)
    if isinstance(node, e.TupleGetItem):
        return [node.tuple_value]
    if isinstance(node, e.Function):
        return [node.body]
    if isinstance(node, e.Let):
        return [node.value, node.body]
    if isinstance(node, e.If):
        return [node.cond, node.true_branch, node.false_branch]
    if isinstance(node, e.Match):
        return [node.data, *(c.rhs for c in node.clauses)]
    if isinstance(node, e.RefCreate):
        return [node.value]
    if isinstance(node, e.RefRead):
        return [node.ref]
    if isinstance(node, e.RefWrite):
        return [node.ref, node.value]
    return []


def use_counts(roots: list[e.Expr]) -> dict[int, int]:
    """How many edges lead to each node (by id), each node's own edges counted once."""
    counts: dict[int, int] = {}
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for child in _children(node):
            counts[id(child)] = counts.get(id(child), 0) + 1
            stack.append(child)
    return counts


def _attr_value(value: object, where: SourceLoc) -> object:
    """An attribute as the registry takes it: lists for tuples, Python numbers."""
    if isinstance(value, e.Constant):
        value = value.data.numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_attr_value(v, where) for v in value]
    if isinstance(value, e.Expr):
        raise RelayError("an operator attribute must be a constant, not an expression", where)
    return value


class _Scope:
    def __init__(self, parent: _Scope | None):
        self.parent = parent
        self.bound: dict[int, str] = {}
        self.bindings: list[tuple[str, bool, s.TypeExpr | None, s.Expr, SourceLoc]] = []
        """(name, a graph binding (a shared value, not a `let`), type, value, location)"""

    def lookup(self, key: int) -> str | None:
        scope: _Scope | None = self
        while scope is not None:
            if key in scope.bound:
                return scope.bound[key]
            scope = scope.parent
        return None


class ToSyntax:
    def __init__(self, roots: list[e.Expr]):
        self.counts = use_counts(roots)
        self.constants: list[np.ndarray] = []
        self.names: dict[int, str] = {}
        self.taken: set[str] = set()
        self.counters: dict[str, int] = {}  # the last suffix `fresh` gave each hint
        self.scope = _Scope(None)

    def name_of(self, v: e.Var) -> str:
        if (name := self.names.get(id(v))) is None:
            base = "".join(c if c.isalnum() or c in "_." else "_" for c in v.name_hint) or "v"
            if base[0].isdigit():
                base = "v" + base
            name = self.fresh(base, "_")
            self.names[id(v)] = name
        return name

    def fresh(self, hint: str, sep: str = "") -> str:
        i = self.counters.get(hint + sep, 0)
        name = hint
        while name in self.taken:
            i += 1
            name = f"{hint}{sep}{i}"
        self.counters[hint + sep] = i
        self.taken.add(name)
        return name

    @contextmanager
    def nested(self) -> Iterator[_Scope]:
        self.scope = _Scope(self.scope)
        try:
            yield self.scope
        finally:
            assert self.scope.parent is not None
            self.scope = self.scope.parent

    def scoped(self, node: e.Expr) -> s.Expr:
        """`node` in a scope of its own (a function body, a branch): its shared values bound
        there, first to last."""
        with self.nested() as scope:
            result = self.expr(node)
            for name, graph, t, value, loc in reversed(scope.bindings):
                result = s.Let(name, graph, t, value, result, loc)
        return result

    def type(self, t: Type | None) -> s.TypeExpr | None:
        return None if t is None or isinstance(t, IncompleteType) else t.to_syntax()

    # -- expressions -------------------------------------------------------------------------

    def expr(self, node: e.Expr) -> s.Expr:
        if not isinstance(node, e.Expr):
            raise RelayError(f"expected a Relay expression, got {type(node).__name__}")
        if isinstance(node, _LEAVES):
            return self.leaf(node)
        key = id(node)
        if (name := self.scope.lookup(key)) is not None:
            return s.Local(name, node.span)
        if isinstance(node, e.Let):
            return self.let(node)
        if isinstance(node, _DATAFLOW):
            self.bind_operands(node)
        built = self.build(node)
        if self.counts.get(key, 0) > 1:
            name = self.fresh("x")
            self.scope.bindings.append((name, True, None, built, node.span))
            self.scope.bound[key] = name
            return s.Local(name, node.span)
        return built

    def bind_operands(self, root: e.Expr) -> None:
        """Binds the dataflow values under `root` (calls, tuples, projections, refs), operands
        first, found with an explicit stack: a chain of thousands of operators becomes a flat
        sequence of graph bindings, never a deep recursion here or in `to_dialect`."""
        order: list[e.Expr] = []
        seen: set[int] = set()
        stack: list[tuple[e.Expr, bool]] = [(c, False) for c in reversed(_children(root))]
        while stack:
            node, ready = stack.pop()
            if ready:
                order.append(node)
                continue
            key = id(node)
            if key in seen or not isinstance(node, _DATAFLOW) or self.scope.lookup(key):
                continue
            seen.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(_children(node)))
        for node in order:
            name = self.fresh("x")
            self.scope.bindings.append((name, True, None, self.build(node), node.span))
            self.scope.bound[id(node)] = name

    def leaf(self, node: e.Expr) -> s.Expr:
        loc = node.span
        if isinstance(node, e.Var):
            return s.Local(self.name_of(node), loc)
        if isinstance(node, e.GlobalVar):
            return s.Global(node.name_hint, loc)
        if isinstance(node, e.Constructor):
            return s.Name(node.name_hint, loc)
        if isinstance(node, e.Op):
            raise RelayError(f"operator '{node.name}' must be called with its arguments", loc)
        assert isinstance(node, e.Constant)
        self.constants.append(node.data.numpy())
        return s.MetaRef("relay.Constant", len(self.constants) - 1, loc)

    def let(self, node: e.Let) -> s.Expr:
        # A chain of lets is a sequence of bindings of this scope (no Python recursion); the
        # shared values its values use are bound in between, in order.
        cur: e.Expr = node
        while isinstance(cur, e.Let) and self.scope.lookup(id(cur)) is None:
            name = self.name_of(cur.var)
            value = self.expr(cur.value)
            binding = (name, False, self.type(cur.var.type_annotation), value, cur.span)
            self.scope.bindings.append(binding)
            cur = cur.body
        return self.expr(cur)

    def build(self, node: e.Expr) -> s.Expr:
        loc = node.span
        if isinstance(node, e.Call):
            callee = node.op
            if isinstance(callee, e.Op):
                attrs = {k: _attr_value(v, loc) for k, v in node.attrs.items()}
                args = [self.expr(a) for a in node.args]
                return s.Call(s.Name(callee.name, loc), args, attrs, loc)
            fn = self.expr(callee)
            return s.Call(fn, [self.expr(a) for a in node.args], {}, loc)
        if isinstance(node, e.Tuple):
            return s.Tuple([self.expr(f) for f in node.fields], loc)
        if isinstance(node, e.TupleGetItem):
            return s.TupleGet(self.expr(node.tuple_value), node.index, loc)
        if isinstance(node, e.Function):
            return self.function(node)
        if isinstance(node, e.If):
            cond = self.expr(node.cond)
            return s.If(cond, self.scoped(node.true_branch), self.scoped(node.false_branch), loc)
        if isinstance(node, e.Match):
            data = self.expr(node.data)
            clauses = []
            for c in node.clauses:
                pattern = self.pattern(c.lhs, loc)
                clauses.append(s.Clause(pattern, self.scoped(c.rhs)))
            return s.Match(data, clauses, node.complete, loc)
        if isinstance(node, e.RefCreate):
            return s.RefCreate(self.expr(node.value), loc)
        if isinstance(node, e.RefRead):
            return s.RefRead(self.expr(node.ref), loc)
        if isinstance(node, e.RefWrite):
            return s.RefWrite(self.expr(node.ref), self.expr(node.value), loc)
        raise RelayError(f"cannot convert a {type(node).__name__}", loc)

    def function(self, fn: e.Function) -> s.Fn:
        params = [s.Param(self.name_of(p), self.type(p.type_annotation), p.span) for p in fn.params]
        body = self.scoped(fn.body)
        attrs = {k: _attr_value(v, fn.span) for k, v in fn.attrs.items()}
        type_params = [t.name_hint for t in fn.type_params]
        return s.Fn(type_params, params, self.type(fn.ret_type), attrs, body, fn.span)

    def pattern(self, p: e.Pattern, loc: SourceLoc) -> s.Pattern:
        if isinstance(p, e.PatternWildcard):
            return s.PWild(loc)
        if isinstance(p, e.PatternVar):
            return s.PVar(self.name_of(p.var), self.type(p.var.type_annotation), loc)
        if isinstance(p, e.PatternTuple):
            return s.PTuple(tuple(self.pattern(q, loc) for q in p.patterns), loc)
        assert isinstance(p, e.PatternConstructor)
        fields = tuple(self.pattern(q, loc) for q in p.patterns)
        return s.PCtor(p.constructor.name_hint, fields, loc)


def type_def_syntax(td: e.TypeData) -> s.TypeDef:
    loc = SourceLoc("<python>", 1, 1)
    ctors = [s.Ctor(c.name_hint, [t.to_syntax() for t in c.inputs], loc) for c in td.constructors]
    params = [v.name_hint for v in td.type_vars]
    return s.TypeDef(td.header.name_hint, params, ctors, False, loc)


# -- syntax -> expressions -------------------------------------------------------------------


class FromSyntax:
    """A parsed program's syntax as expressions; constants from `meta`."""

    def __init__(self, program: s.Program, meta: list[np.ndarray]):
        self.program = program
        self.meta = meta
        self.globals: dict[str, e.GlobalVar] = {
            f.name: e.GlobalVar(f.name) for f in program.func_defs
        }
        self.type_data: dict[str, e.TypeData] = {}
        self.ctors: dict[str, e.Constructor] = {}
        for td in program.type_defs:
            header = TypeVar(td.name)
            ctors = [
                e.Constructor(
                    c.name, [from_syntax(t) or IncompleteType() for t in c.inputs], header
                )
                for c in td.ctors
            ]
            self.type_data[td.name] = e.TypeData(
                header, [TypeVar(p) for p in td.type_params], ctors
            )
            self.ctors.update({c.name_hint: c for c in ctors})
        self.scope: dict[str, e.Expr] = {}

    def functions(self) -> dict[str, e.Function]:
        out = {}
        for fd in self.program.func_defs:
            self.scope = {}
            fn = self.fn(fd.fn)
            out[fd.name] = fn
        return out

    def expr(self, node: s.Expr) -> e.Expr:
        if isinstance(node, (s.Let, s.FreeVar)):
            return self.let_chain(node)
        return getattr(self, "x_" + type(node).__name__.lower())(node)

    def let_chain(self, node: s.Expr) -> e.Expr:
        saved = dict(self.scope)
        lets: list[tuple[e.Var, e.Expr]] = []
        while isinstance(node, (s.Let, s.FreeVar)):
            if isinstance(node, s.FreeVar):
                self.scope[node.name] = e.Var(node.name, from_syntax(node.type))
            elif node.graph and not s.touches_refs(node.value):
                self.scope[node.name or ""] = self.expr(node.value)  # a shared node
            else:  # a `let`, or a graph binding that must stay where it is (refs)
                hint = f"x{node.name}" if node.graph else node.name or "_"
                v = e.Var(hint, from_syntax(node.type))
                if node.name is not None:
                    self.scope[node.name] = v  # visible in its own value: recursive closures
                lets.append((v, self.expr(node.value)))
            node = node.body
        result = self.expr(node)
        for v, value in reversed(lets):
            result = e.Let(v, value, result)
        self.scope = saved
        return result

    def x_local(self, node: s.Local) -> e.Expr:
        return self.scope[node.name]

    def x_graph(self, node: s.Graph) -> e.Expr:
        return self.scope[node.number]

    def x_global(self, node: s.Global) -> e.Expr:
        return self.globals[node.name]

    def x_name(self, node: s.Name) -> e.Expr:
        return self.ctors[node.name]

    def x_literal(self, node: s.Literal) -> e.Expr:
        return e.const(node.value, node.dtype)

    def x_metaref(self, node: s.MetaRef) -> e.Expr:
        return e.Constant(self.meta[node.index])

    def x_call(self, node: s.Call) -> e.Expr:
        args = [self.expr(a) for a in node.args]
        callee = node.callee
        if isinstance(callee, s.Name) and callee.name not in self.ctors:
            return e.Call(e.Op(callee.name), args, node.attrs)
        return e.Call(self.expr(callee), args)

    def fn(self, node: s.Fn) -> e.Function:
        saved = dict(self.scope)
        params = []
        for p in node.params:
            v = e.Var(p.name, from_syntax(p.type))
            self.scope[p.name] = v
            params.append(v)
        body = self.expr(node.body)
        self.scope = saved
        ret = from_syntax(node.ret)
        if ret is not None and body._checked_type is None:  # pyright: ignore[reportPrivateUsage]
            body._checked_type = ret  # pyright: ignore[reportPrivateUsage]
        return e.Function(params, body, ret, [TypeVar(t) for t in node.type_params], node.attrs)

    x_fn = fn

    def x_if(self, node: s.If) -> e.Expr:
        return e.If(self.expr(node.cond), self.expr(node.then), self.expr(node.orelse))

    def x_tuple(self, node: s.Tuple) -> e.Expr:
        return e.Tuple([self.expr(f) for f in node.fields])

    def x_tupleget(self, node: s.TupleGet) -> e.Expr:
        return e.TupleGetItem(self.expr(node.tuple), node.index)

    def x_refcreate(self, node: s.RefCreate) -> e.Expr:
        return e.RefCreate(self.expr(node.value))

    def x_refread(self, node: s.RefRead) -> e.Expr:
        return e.RefRead(self.expr(node.ref))

    def x_refwrite(self, node: s.RefWrite) -> e.Expr:
        return e.RefWrite(self.expr(node.ref), self.expr(node.value))

    def x_match(self, node: s.Match) -> e.Expr:
        data = self.expr(node.data)
        clauses = []
        for c in node.clauses:
            saved = dict(self.scope)
            pattern = self.pattern(c.pattern)
            clauses.append(e.Clause(pattern, self.expr(c.body)))
            self.scope = saved
        return e.Match(data, clauses, node.complete)

    def pattern(self, p: s.Pattern) -> e.Pattern:
        if isinstance(p, s.PWild):
            return e.PatternWildcard()
        if isinstance(p, s.PVar):
            v = e.Var(p.name, from_syntax(p.type))
            self.scope[p.name] = v
            return e.PatternVar(v)
        if isinstance(p, s.PTuple):
            return e.PatternTuple([self.pattern(q) for q in p.fields])
        return e.PatternConstructor(self.ctors[p.name], [self.pattern(q) for q in p.fields])


@contextmanager
def deep_recursion() -> Iterator[None]:
    """Large models nest deeply; the converters recurse once per level."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
