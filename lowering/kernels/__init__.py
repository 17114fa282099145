"""The kernel library: shape-generic, register-blocked routines built in the llvm dialect.

Each kernel is a Python generator that returns an `llvm.func` with vector types for one
target (`Target`: the host's vector width), so kernels print as MLIR and are golden-tested
like every other stage. `lower-contractions` replaces the contractions that bufferize left
as `linalg` ops with calls to them, adding each routine to the module once.
"""

from __future__ import annotations

from math import prod

from xdsl.dialects.builtin import ContainerType, Float32Type, StringAttr
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Operation

from relay_opt.dialects.relay.attribute_names import CONTRACTION

GEMM_CONTRACTIONS = frozenset({"dense", "matmul", "batch_matmul"})
"""The contractions (attribute_names.CONTRACTION) the GEMM routine computes."""
KERNEL_CONTRACTIONS = GEMM_CONTRACTIONS | {"conv2d"}
"""Every contraction with a routine: the GEMM's, and the blocked conv2d (kernels/conv.py)."""

MIN_KERNEL_MACS = 4096
"""Smaller contractions (multiply-adds, the product of the loop ranges) keep their loops:
they take microseconds either way, and a module without a kernel compiles in a tenth of
the time (LLVM spends about a second on the GEMM routine)."""


def kernel_contraction(op: Operation, min_macs: int = MIN_KERNEL_MACS) -> str | None:
    """The contraction `op` computes if lower-contractions will call a kernel for it: named
    by convert-relay-to-linalg, with a kernel for that name, all operands float32, at least
    `min_macs` multiply-adds."""
    kind = op.attributes.get(CONTRACTION)
    if not isinstance(kind, StringAttr) or kind.data not in KERNEL_CONTRACTIONS:
        return None
    if not isinstance(op, linalg.GenericOp) or prod(op.get_static_loop_ranges()) < min_macs:
        return None
    for v in op.operands:
        t = v.type
        if not (isinstance(t, ContainerType) and isinstance(t.get_element_type(), Float32Type)):
            return None
    return kind.data
