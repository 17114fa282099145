"""relay.analysis: the variables of an expression and a post-order walk."""

from __future__ import annotations

from collections.abc import Callable

from relay_opt.relay import expr as e
from relay_opt.relay.convert import _children  # pyright: ignore[reportPrivateUsage]


def _pattern_vars(p: e.Pattern) -> list[e.Var]:
    if isinstance(p, e.PatternVar):
        return [p.var]
    if isinstance(p, (e.PatternConstructor, e.PatternTuple)):
        return [v for q in p.patterns for v in _pattern_vars(q)]
    return []


def _post_order(expr: e.Expr) -> list[e.Expr]:
    """Every node once, children before parents (iteratively: models are deep)."""
    out: list[e.Expr] = []
    seen: set[int] = set()
    stack: list[tuple[e.Expr, bool]] = [(expr, False)]
    while stack:
        node, done = stack.pop()
        if done:
            out.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        kids = _children(node)
        if isinstance(node, e.Function):
            kids = [*node.params, *kids]
        elif isinstance(node, e.Let):
            kids = [node.var, *kids]
        stack.extend((k, False) for k in reversed(kids))
    return out


def post_order_visit(expr: e.Expr, fvisit: Callable[[e.Expr], object]) -> None:
    """Calls `fvisit` on every node of `expr` once, operands before their users."""
    for node in _post_order(expr):
        fvisit(node)


def bound_vars(expr: e.Expr) -> list[e.Var]:
    """Variables bound in `expr` (parameters, lets, patterns), in post order."""
    out: list[e.Var] = []
    for node in _post_order(expr):
        if isinstance(node, e.Function):
            out.extend(node.params)
        elif isinstance(node, e.Let):
            out.append(node.var)
        elif isinstance(node, e.Match):
            for c in node.clauses:
                out.extend(_pattern_vars(c.lhs))
    return list(dict.fromkeys(out))


def all_vars(expr: e.Expr) -> list[e.Var]:
    """Every variable of `expr`, bound or free, in post order."""
    found = [n for n in _post_order(expr) if isinstance(n, e.Var)]
    return list(dict.fromkeys([*found, *bound_vars(expr)]))


def free_vars(expr: e.Expr) -> list[e.Var]:
    """Variables used in `expr` but bound nowhere in it, in the order they first occur."""
    bound = set(map(id, bound_vars(expr)))
    used = [n for n in _post_order(expr) if isinstance(n, e.Var) and id(n) not in bound]
    return list(dict.fromkeys(used))
