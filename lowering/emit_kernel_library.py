"""emit-kernel-library: the kernel library itself, as the llvm-dialect module it is compiled from.

The runtime compiles this module once per CPU (runtime/kernel_library.py); the pass shows it
(`relay-opt empty.mlir -p 'emit-kernel-library{vector-bits=256}'`) so the routines are read
and golden-tested like any stage. It adds every routine of `lowering.kernels.LIBRARY`, with
external linkage, and what they need (malloc, free, the error cell), to the module; a routine
the module declares (lower-contractions' output) is replaced by its definition.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import llvm
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from relay_opt.diagnostics import RelayError
from relay_opt.lowering.kernels import library_module
from relay_opt.lowering.kernels.target import Target

VECTOR_WIDTHS = (128, 256, 512)


@dataclass(frozen=True)
class EmitKernelLibraryPass(ModulePass):
    """Adds the kernel library's routines for a target (external) to the module."""

    name = "emit-kernel-library"

    vector_bits: int = 0
    """The target's vector width (128, 256, 512); 0 is the host's."""
    fma: bool = True
    """Whether the target fuses multiply-add (with vector_bits; the host's when that is 0)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.vector_bits == 0:
            target = Target.host()
        elif self.vector_bits in VECTOR_WIDTHS:
            target = Target(vector_bits=self.vector_bits, fma=self.fma)
        else:
            raise RelayError(
                f"emit-kernel-library: vector-bits must be 0 (the host) or one of "
                f"{', '.join(map(str, VECTOR_WIDTHS))}, got {self.vector_bits}"
            )
        library = library_module(target)
        existing = {
            f.sym_name.data: f
            for f in op.ops
            if isinstance(f, (llvm.FuncOp, llvm.GlobalOp)) and f.sym_name is not None
        }
        first = op.body.block.first_op  # what the routines need goes before everything
        for routine in list(library.ops):
            name = routine.sym_name.data  # pyright: ignore[reportAttributeAccessIssue]
            had = existing.get(name)
            routine.detach()
            defines = isinstance(routine, llvm.FuncOp) and routine.body.blocks
            if had is None and not defines and first is not None:
                op.body.block.insert_op_before(routine, first)
            elif had is None:
                op.body.block.add_op(routine)
            elif isinstance(had, llvm.FuncOp) and not had.body.blocks:
                if defines:
                    # The module's declaration (lower-contractions') becomes the routine.
                    op.body.block.insert_op_before(routine, had)
                    had.detach()
                    had.erase()
            elif defines:
                raise RelayError(f"emit-kernel-library: the module already defines @{name}")
