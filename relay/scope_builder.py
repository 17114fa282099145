"""relay.ScopeBuilder: nested lets and if/else written as Python statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from relay_opt.relay import expr as e
from relay_opt.relay.ty import Type


class _Scope:
    def __init__(self) -> None:
        self.bindings: list[tuple[e.Var, e.Expr]] = []
        self.ret: e.Expr | None = None


class ScopeBuilder:
    """`x = sb.let("x", value)`; `with sb.if_scope(c): sb.ret(a)`, `with sb.else_scope():
    sb.ret(b)` (the if becomes the enclosing scope's result); `sb.get()` the whole body."""

    def __init__(self) -> None:
        self._scopes = [_Scope()]
        self._pending_if: tuple[e.Expr, e.Expr] | None = None

    def let(self, var: e.Var | str | tuple[str, Type], value: e.Expr) -> e.Var:
        if isinstance(var, str):
            var = e.Var(var)
        elif isinstance(var, tuple):
            var = e.Var(var[0], var[1])
        self._scopes[-1].bindings.append((var, e.as_expr(value)))
        return var

    def ret(self, value: object) -> None:
        scope = self._scopes[-1]
        if scope.ret is not None:
            raise ValueError("this scope's result is given twice")
        scope.ret = e.as_expr(value)

    @contextmanager
    def if_scope(self, cond: e.Expr) -> Iterator[None]:
        self._scopes.append(_Scope())
        yield
        then = self._close()
        self._pending_if = (cond, then)

    @contextmanager
    def else_scope(self) -> Iterator[None]:
        if self._pending_if is None:
            raise ValueError("else_scope must follow an if_scope")
        cond, then = self._pending_if
        self._pending_if = None
        self._scopes.append(_Scope())
        yield
        orelse = self._close()
        self.ret(e.If(cond, then, orelse))

    def _close(self) -> e.Expr:
        scope = self._scopes.pop()
        if scope.ret is None:
            raise ValueError("a scope ends without a result: call ret(value) in it")
        result = scope.ret
        for var, value in reversed(scope.bindings):
            result = e.Let(var, value, result)
        return result

    def get(self) -> e.Expr:
        if len(self._scopes) != 1:
            raise ValueError("get() inside an open scope")
        return self._close()
