"""ExprFunctor, ExprVisitor and ExprMutator: walks over expressions in TVM's style (one
`visit_<kind>` method per node kind, each node visited once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relay_opt.relay import expr as e

_KINDS: dict[type, str] = {
    e.Function: "function",
    e.Let: "let",
    e.Call: "call",
    e.Var: "var",
    e.GlobalVar: "global_var",
    e.If: "if",
    e.Tuple: "tuple",
    e.TupleGetItem: "tuple_getitem",
    e.Constant: "constant",
    e.Op: "op",
    e.Constructor: "constructor",
    e.Match: "match",
    e.RefCreate: "ref_create",
    e.RefRead: "ref_read",
    e.RefWrite: "ref_write",
}


class ExprFunctor:
    """Dispatches `visit(expr)` to `visit_<kind>`; results are memoized per node."""

    def __init__(self) -> None:
        self.memo_map: dict[int, tuple[e.Expr, Any]] = {}

    def visit(self, expr: e.Expr) -> Any:
        key = id(expr)
        if key in self.memo_map:
            return self.memo_map[key][1]
        kind = _KINDS.get(type(expr))
        if kind is None:
            raise TypeError(f"not a Relay expression: {type(expr).__name__}")
        result = getattr(self, "visit_" + kind)(expr)
        self.memo_map[key] = (expr, result)  # the node is kept so its id stays unique
        return result

    def visit_pattern(self, pattern: e.Pattern) -> Any:
        return pattern

    def visit_type(self, t: Any) -> Any:
        return t


class ExprVisitor(ExprFunctor):
    """Visits every node once (children before returning); override to look at some."""

    def visit_function(self, fn: e.Function) -> None:
        for p in fn.params:
            self.visit(p)
        self.visit(fn.body)

    def visit_let(self, let: e.Let) -> None:
        self.visit(let.var)
        self.visit(let.value)
        self.visit(let.body)

    def visit_call(self, call: e.Call) -> None:
        self.visit(call.op)
        for a in call.args:
            self.visit(a)

    def visit_var(self, var: e.Var) -> None:
        pass

    def visit_global_var(self, gv: e.GlobalVar) -> None:
        pass

    def visit_if(self, node: e.If) -> None:
        self.visit(node.cond)
        self.visit(node.true_branch)
        self.visit(node.false_branch)

    def visit_tuple(self, tup: e.Tuple) -> None:
        for f in tup.fields:
            self.visit(f)

    def visit_tuple_getitem(self, t: e.TupleGetItem) -> None:
        self.visit(t.tuple_value)

    def visit_constant(self, c: e.Constant) -> None:
        pass

    def visit_op(self, op: e.Op) -> None:
        pass

    def visit_constructor(self, c: e.Constructor) -> None:
        pass

    def visit_match(self, m: e.Match) -> None:
        self.visit(m.data)
        for c in m.clauses:
            self.visit_pattern(c.lhs)
            self.visit(c.rhs)

    def visit_ref_create(self, r: e.RefCreate) -> None:
        self.visit(r.value)

    def visit_ref_read(self, r: e.RefRead) -> None:
        self.visit(r.ref)

    def visit_ref_write(self, r: e.RefWrite) -> None:
        self.visit(r.ref)
        self.visit(r.value)


class ExprMutator(ExprFunctor):
    """Rebuilds an expression from the visits of its parts; a node whose parts are all
    unchanged is kept (so sharing survives)."""

    def visit_function(self, fn: e.Function) -> e.Expr:
        params = [self.visit(p) for p in fn.params]
        body = self.visit(fn.body)
        if body is fn.body and all(a is b for a, b in zip(params, fn.params, strict=True)):
            return fn
        return e.Function(params, body, fn.ret_type, fn.type_params, fn.attrs)

    def visit_let(self, let: e.Let) -> e.Expr:
        var, value, body = self.visit(let.var), self.visit(let.value), self.visit(let.body)
        if var is let.var and value is let.value and body is let.body:
            return let
        return e.Let(var, value, body)

    def visit_call(self, call: e.Call) -> e.Expr:
        op = self.visit(call.op)
        args = [self.visit(a) for a in call.args]
        if op is call.op and all(a is b for a, b in zip(args, call.args, strict=True)):
            return call
        return e.Call(op, args, call.attrs, call.type_args)

    def visit_var(self, var: e.Var) -> e.Expr:
        return var

    def visit_global_var(self, gv: e.GlobalVar) -> e.Expr:
        return gv

    def visit_if(self, node: e.If) -> e.Expr:
        c, t, f = self.visit(node.cond), self.visit(node.true_branch), self.visit(node.false_branch)
        if c is node.cond and t is node.true_branch and f is node.false_branch:
            return node
        return e.If(c, t, f)

    def visit_tuple(self, tup: e.Tuple) -> e.Expr:
        fields = [self.visit(f) for f in tup.fields]
        if all(a is b for a, b in zip(fields, tup.fields, strict=True)):
            return tup
        return e.Tuple(fields)

    def visit_tuple_getitem(self, t: e.TupleGetItem) -> e.Expr:
        value = self.visit(t.tuple_value)
        return t if value is t.tuple_value else e.TupleGetItem(value, t.index)

    def visit_constant(self, c: e.Constant) -> e.Expr:
        return c

    def visit_op(self, op: e.Op) -> e.Expr:
        return op

    def visit_constructor(self, c: e.Constructor) -> e.Expr:
        return c

    def visit_match(self, m: e.Match) -> e.Expr:
        data = self.visit(m.data)
        clauses = [e.Clause(self.visit_pattern(c.lhs), self.visit(c.rhs)) for c in m.clauses]
        return e.Match(data, clauses, m.complete)

    def visit_ref_create(self, r: e.RefCreate) -> e.Expr:
        return e.RefCreate(self.visit(r.value))

    def visit_ref_read(self, r: e.RefRead) -> e.Expr:
        return e.RefRead(self.visit(r.ref))

    def visit_ref_write(self, r: e.RefWrite) -> e.Expr:
        return e.RefWrite(self.visit(r.ref), self.visit(r.value))


def bind(expr: e.Expr, binds: Mapping[e.Var, e.Expr]) -> e.Expr:
    """`expr` with the variables of `binds` replaced (TVM's relay.bind)."""

    class _Bind(ExprMutator):
        def visit_var(self, var: e.Var) -> e.Expr:
            return binds.get(var, var)

    if isinstance(expr, e.Function):
        body = _Bind().visit(expr.body)
        params = [p for p in expr.params if p not in binds]
        return e.Function(params, body, expr.ret_type, expr.type_params, expr.attrs)
    return _Bind().visit(expr)
