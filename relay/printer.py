"""`str(expr)`: an expression as Relay text, through the dialect's printer."""

from __future__ import annotations

from relay_opt.relay import expr as e


def expr_text(node: e.Expr) -> str:
    from relay_opt.diagnostics import LoadError
    from relay_opt.frontends.relay_text.printer import print_relay
    from relay_opt.relay.module import IRModule

    if isinstance(node, (e.Var, e.GlobalVar)):
        return ("%" if isinstance(node, e.Var) else "@") + node.name_hint
    if isinstance(node, e.Op):
        return node.name
    if isinstance(node, e.Constructor):
        return node.name_hint
    mod = IRModule.from_expr(node)
    try:
        module = mod.to_dialect()
    except LoadError:  # still show what was built
        module = mod.to_dialect(type_check=False)
    return print_relay(module).text
