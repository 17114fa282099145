"""profile-kernels: time every kernel (top-level linalg op) of the bufferized program.

Each kernel is bracketed by calls `relay_opt_profile_enter(id)` and
`relay_opt_profile_exit(id)`, C functions the JIT binds to a timer
(`runtime/jit.py`); `kernel_names` says which id is which kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, func, scf
from xdsl.dialects.builtin import FileLineColLoc, IntegerAttr, ModuleOp, NameLoc, i64
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Operation
from xdsl.passes import ModulePass

ENTER, EXIT = "relay_opt_profile_enter", "relay_opt_profile_exit"


def _where(op: Operation) -> str:
    """The op's source position, or for an ONNX import the node it was built for (its
    `NameLoc`: `node 3 'conv1' (Conv)`), or "?"."""
    loc = op.location
    if isinstance(loc, FileLineColLoc):
        return f"{loc.filename.data}:{loc.line.data}:{loc.column.data}"
    if isinstance(loc, NameLoc):
        return loc.desc.data
    return "?"


def _kernels(f: func.FuncOp) -> list[Operation]:
    """The linalg ops of a function's body and of its branches (scf.if, scf.index_switch), in
    order: not those inside another op's body."""
    found: list[Operation] = []
    for op in f.walk():
        if isinstance(op, (linalg.GenericOp, linalg.FillOp)):
            parent = op.parent_op()
            while isinstance(parent, (scf.IfOp, scf.IndexSwitchOp)):
                parent = parent.parent_op()
            if parent is f:
                found.append(op)
    return found


def _kind(op: Operation) -> str:
    """`generic, reduction` for a generic with a reduction loop, so the steps of one operator
    (softmax's max, exp, sum and divide) can be told apart; `fill` for a fill."""
    if isinstance(op, linalg.GenericOp):
        reduces = any(
            t.data.value == "reduction"
            for t in op.iterator_types  # pyright: ignore[reportAttributeAccessIssue]
        )
        return "generic, reduction" if reduces else "generic"
    return op.name.removeprefix("linalg.")


def kernel_names(module: ModuleOp, origins: dict[str, str] | None = None) -> list[str]:
    """The kernel of each id, in the order profile-kernels numbers them: the function it is in,
    the Relay operator at its source position (`origins`), and, where one operator lowers to
    several kernels in a function, which step of how many it is; every name is different."""
    origins = origins or {}
    names = []
    for f in module.ops:
        if isinstance(f, func.FuncOp) and not f.is_declaration:
            kernels = _kernels(f)
            steps: dict[str, int] = {}
            for op in kernels:
                steps[_where(op)] = steps.get(_where(op), 0) + 1
            seen: dict[str, int] = {}
            for op in kernels:
                where = _where(op)
                seen[where] = seen.get(where, 0) + 1
                what = origins.get(where, op.name)
                step = f" step {seen[where]}/{steps[where]}" if steps[where] > 1 else ""
                names.append(f"@{f.sym_name.data}: {what}{step} ({_kind(op)}) at {where}")
    return names


def operator_origins(module: ModuleOp) -> dict[str, str]:
    """Source position (or ONNX node) -> Relay operator name, for naming kernels. Operators
    without either name nothing: "?" would name every such kernel after the last of them."""
    from relay_opt.dialects.relay.registry import RelayOperatorOp

    origins = {_where(op): op.opdef.name for op in module.walk() if isinstance(op, RelayOperatorOp)}
    origins.pop("?", None)
    return origins


@dataclass(frozen=True)
class ProfileKernelsPass(ModulePass):
    """Brackets each kernel (a linalg op, in a body or a branch) with timer calls (--profile)."""

    name = "profile-kernels"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        kernel = 0
        for f in list(op.ops):
            if not isinstance(f, func.FuncOp) or f.is_declaration:
                continue
            for k in _kernels(f):
                block = k.parent_block()
                assert block is not None
                ident = arith.ConstantOp(IntegerAttr(kernel, i64), i64)
                block.insert_ops_before([ident, func.CallOp(ENTER, [ident.result], [])], k)
                block.insert_op_after(func.CallOp(EXIT, [ident.result], []), k)
                kernel += 1
        for name in (ENTER, EXIT):
            op.body.block.add_op(func.FuncOp.external(name, [i64], []))
