"""tvm.ir.structural_equal: two programs are equal when their type-checked dialect forms
print the same with every value's name dropped (bound variables compare by position)."""

from __future__ import annotations

import io

from xdsl.printer import Printer

from relay_opt.relay import expr as e
from relay_opt.relay.module import IRModule


def _canonical(x: IRModule | e.Expr) -> str:
    mod = x if isinstance(x, IRModule) else IRModule.from_expr(x)
    module = mod.to_dialect()
    for op in module.walk():
        for r in op.results:
            r.name_hint = None
        for region in op.regions:
            for block in region.blocks:
                for arg in block.args:
                    arg.name_hint = None
    out = io.StringIO()
    Printer(stream=out).print_op(module)
    return out.getvalue()


def structural_equal(
    lhs: IRModule | e.Expr, rhs: IRModule | e.Expr, map_free_vars: bool = False
) -> bool:
    """Whether two modules or expressions are the same program up to variable names (free
    variables become parameters in order of use, so they match by position too)."""
    return _canonical(lhs) == _canonical(rhs)


def assert_structural_equal(
    lhs: IRModule | e.Expr, rhs: IRModule | e.Expr, map_free_vars: bool = False
) -> None:
    left, right = _canonical(lhs), _canonical(rhs)
    if left != right:
        raise ValueError(f"the programs differ:\n{left}\n---- and ----\n{right}")
