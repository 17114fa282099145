"""The kernel library: shape-generic, register-blocked routines built in the llvm dialect.

Each kernel is a Python generator that returns an `llvm.func` with vector types for one
target (`Target`: the host's vector width), so kernels print as MLIR and are golden-tested
like every other stage. `LIBRARY` lists them (a `Kernel` each: symbol, parameters,
generator); `library_module` builds them (or some) as one llvm-dialect module: the runtime
compiles each routine as its own object once per CPU (runtime/kernel_library.py).
`lower-contractions` replaces the contractions that bufferize left as `linalg` ops with calls
to them, and gives the module a declaration of each routine it calls (or, with
`kernels=define`, the routine).
"""

from __future__ import annotations

from collections.abc import Iterable
from math import prod

from xdsl.dialects import llvm
from xdsl.dialects.builtin import ContainerType, Float32Type, ModuleOp, StringAttr
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Operation

from relay_opt.dialects.relay.attribute_names import CONTRACTION
from relay_opt.lowering.kernels.conv import CONV_KERNEL
from relay_opt.lowering.kernels.depthwise import DEPTHWISE_KERNEL
from relay_opt.lowering.kernels.gemm import (
    GEMM_KERNEL,
    GEMM_PACKED_B_KERNEL,
    add_runtime_declarations,
)
from relay_opt.lowering.kernels.routine import Kernel
from relay_opt.lowering.kernels.target import Target

LIBRARY: list[Kernel] = [GEMM_KERNEL, GEMM_PACKED_B_KERNEL, CONV_KERNEL, DEPTHWISE_KERNEL]
"""Every routine of the library, in the order the library module defines them; a new
kernel family appends its `Kernel` here."""


def library_module(target: Target, names: Iterable[str] | None = None) -> ModuleOp:
    """The library for `target`, or only its routines `names` (symbols): each routine
    defined with external linkage, and what they need (malloc, free, the error cell)."""
    wanted = None if names is None else set(names)
    module = ModuleOp([])
    add_runtime_declarations(module)
    for kernel in LIBRARY:
        if wanted is None or kernel.name(target) in wanted:
            module.body.block.add_ops([*kernel.helpers(target), kernel.build(target)])
    return module


def library_symbols(target: Target) -> frozenset[str]:
    """The symbols the library defines for `target`."""
    return frozenset(kernel.name(target) for kernel in LIBRARY)


def declare_kernel(module: ModuleOp, kernel: Kernel, target: Target) -> str:
    """Declares `kernel`'s routine in `module` (once) and returns its name; the library
    object defines it."""
    name = kernel.name(target)
    if not any(isinstance(op, llvm.FuncOp) and op.sym_name.data == name for op in module.ops):
        module.body.block.add_op(kernel.declaration(target))
    return name


GEMM_CONTRACTIONS = frozenset({"dense", "matmul", "batch_matmul"})
"""The contractions (attribute_names.CONTRACTION) the GEMM routine computes."""
KERNEL_CONTRACTIONS = GEMM_CONTRACTIONS | {"conv2d", "depthwise_conv2d"}
"""Every contraction with a routine: the GEMM's, the blocked conv2d (kernels/conv.py) and
the blocked depthwise conv2d (kernels/depthwise.py)."""

MIN_KERNEL_MACS = 4096
"""Smaller contractions (multiply-adds, the product of the loop ranges) keep their loops:
they take microseconds either way, and a module without a kernel compiles in a tenth of
the time (LLVM spends about a second on the GEMM routine)."""


def kernel_contraction(op: Operation, min_macs: int = MIN_KERNEL_MACS) -> str | None:
    """The contraction `op` computes if lower-contractions will call a kernel for it: named
    by convert-relay-to-linalg, with a kernel for that name, all operands float32, at least
    `min_macs` multiply-adds, or a `?` loop (a size known at run time only, which may be
    large: the routine serves every size)."""
    kind = op.attributes.get(CONTRACTION)
    if not isinstance(kind, StringAttr) or kind.data not in KERNEL_CONTRACTIONS:
        return None
    if not isinstance(op, linalg.GenericOp):
        return None
    ranges = op.get_static_loop_ranges()
    if all(r >= 0 for r in ranges) and prod(ranges) < min_macs:
        return None
    for v in op.operands:
        t = v.type
        if not (isinstance(t, ContainerType) and isinstance(t.get_element_type(), Float32Type)):
            return None
    return kind.data
