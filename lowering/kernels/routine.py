"""One routine of the kernel library: its symbol, its C signature and its generator.

A routine is built once per target into the library module (lowering/kernels/__init__.py),
which the runtime compiles to one native object per CPU; a module that calls it holds only
a declaration, made from `params` without building the body.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.dialects import llvm
from xdsl.ir import Attribute, Block, Region, SSAValue

from relay_opt.lowering.kernels.target import Target

KERNEL_ERROR_GLOBAL = "relay_opt_kernel_error"
"""The library's error cell (a weak i64 global, 0 when all is well): a routine that cannot
allocate its scratch memory stores the byte count it asked for and returns without writing
its result; the JIT clears the cell before a call and raises after it."""


@dataclass(frozen=True)
class Kernel:
    """A routine of the library."""

    name: Callable[[Target], str]
    """Its symbol for a target (the register tile is part of the name)."""
    params: tuple[Attribute, ...]
    """Its parameters' llvm types; it returns nothing."""
    build: Callable[[Target], llvm.FuncOp]
    """The definition for a target (external linkage)."""
    helpers: Callable[[Target], Sequence[llvm.FuncOp]] = lambda _target: ()
    """Internal functions the definition calls (a thread-pool task), defined beside it."""

    def declaration(self, target: Target) -> llvm.FuncOp:
        return llvm.FuncOp(
            self.name(target),
            llvm.LLVMFunctionType(list(self.params), None),
            linkage=llvm.LinkageAttr("external"),
        )


def routine_function(
    name: str,
    params: Sequence[str],
    types: Sequence[Attribute],
    build_body: Callable[[Region, Block, dict[str, SSAValue]], None],
    linkage: str,
) -> llvm.FuncOp:
    """An `llvm.func` returning nothing, its arguments named after `params`; `build_body`
    fills its region given the entry block and the arguments by name."""
    entry = Block(arg_types=list(types))
    for arg, pname in zip(entry.args, params, strict=True):
        arg.name_hint = pname
    region = Region(entry)
    build_body(region, entry, dict(zip(params, entry.args, strict=True)))
    return llvm.FuncOp(
        name,
        llvm.LLVMFunctionType(list(types), None),
        linkage=llvm.LinkageAttr(linkage),
        body=region,
    )
