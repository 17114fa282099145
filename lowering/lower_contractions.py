"""lower-contractions: contractions become calls into the kernel library.

After bufferize, a contraction that convert-relay-to-linalg named (attribute
`relay_opt.contraction`: dense, matmul, batch_matmul) is a `linalg.generic` over
memrefs. When its operands are float32, contiguous and of static, non-empty shapes, it is
replaced by one call of the shape-generic GEMM routine (lowering/kernels/gemm.py):

    linalg.fill ins(%zero) outs(%c)                %pa = memref.extract_aligned_pointer_as_index %a
    linalg.generic {relay_opt.contraction}    ->   ... (llvm.inttoptr of each base pointer)
        ins(%a, %b) outs(%c)                       llvm.call @relay_opt_sgemm_6x16(%pa, %pb, %pc,
                                                       M, N, K, strides..., batch, accumulate)

The geometry (M, N, K, the batch, each operand's element strides) is read from the
generic's indexing maps and memref shapes, so every layout the lowering produces
(transposed operands, dense's [N, K] weight, broadcast batches, leading axes folded
into M) is one routine. A zero fill of the destination right before the op is dropped:
the routine overwrites C (`accumulate = 0`); otherwise it adds to C. Everything else
(other dtypes, strided views, empty shapes, fewer than `min-macs` multiply-adds) keeps
its loops. A fused epilogue stays a
separate loop over C: fuse-linalg-epilogue does not fuse into these anchors.

The module gets a declaration of each routine it calls (`kernels=declare`, the default):
the routines are the kernel library's, compiled once per CPU and added to every JIT engine
(runtime/kernel_library.py), and relay-translate links them into what it emits. With
`kernels=define` each declaration becomes the routine itself (internal), so the module
needs no library: for tools that compile the printed IR alone.

`KERNELS` maps a contraction's name to the rule that emits its call; a new kernel family
(conv2d) adds a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod

from xdsl.context import Context
from xdsl.dialects import arith, func, llvm, memref
from xdsl.dialects.builtin import (
    AffineMapAttr,
    FloatAttr,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    NoneAttr,
    i64,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Operation, SSAValue
from xdsl.ir.affine import AffineConstantExpr, AffineDimExpr
from xdsl.passes import ModulePass

from relay_opt.diagnostics import RelayError
from relay_opt.lowering.kernels import (
    LIBRARY,
    MIN_KERNEL_MACS,
    declare_kernel,
    kernel_contraction,
)
from relay_opt.lowering.kernels.gemm import GEMM_KERNEL, add_runtime_declarations
from relay_opt.lowering.kernels.target import Target

KERNEL_MODES = ("declare", "define")
"""lower-contractions' `kernels` option: declare the library's routines, or define them."""


@dataclass(frozen=True)
class GemmGeometry:
    """One GEMM call: sizes and element strides (see kernels/gemm.py)."""

    m: int
    n: int
    k: int
    rsa: int
    csa: int
    rsb: int
    csb: int
    ldc: int
    batch: int = 1
    bsa: int = 0
    bsb: int = 0
    bsc: int = 0


def _row_major(shape: tuple[int, ...]) -> list[int]:
    strides, acc = [], 1
    for size in reversed(shape):
        strides.append(acc)
        acc *= size
    return strides[::-1]


def _loop_strides(t: MemRefType, amap: AffineMapAttr, loops: int) -> list[int] | None:
    """The element stride of a contiguous memref along each loop, or None if a map result is
    neither a loop nor a 0 on a unit axis."""
    shape = t.get_shape()
    strides = [0] * loops
    for axis, (expr, stride) in enumerate(zip(amap.data.results, _row_major(shape), strict=True)):
        if isinstance(expr, AffineDimExpr):
            strides[expr.position] += stride
        elif not (isinstance(expr, AffineConstantExpr) and expr.value == 0 and shape[axis] == 1):
            return None
    return strides


def _is_mac(op: linalg.GenericOp) -> bool:
    """The body is `out + in0 * in1`."""
    body = list(op.body.block.ops)
    if len(body) != 3:
        return False
    mul, add, yld = body
    a = op.body.block.args
    return (
        isinstance(mul, arith.MulfOp)
        and {mul.lhs, mul.rhs} == {a[0], a[1]}
        and isinstance(add, arith.AddfOp)
        and {add.lhs, add.rhs} == {a[2], mul.result}
        and isinstance(yld, linalg.YieldOp)
        and list(yld.operands) == [add.result]
    )


def gemm_geometry(op: linalg.GenericOp, kind: str) -> GemmGeometry | None:
    """The GEMM a named contraction computes, from its maps and (contiguous) memref types."""
    if len(op.inputs) != 2 or len(op.outputs) != 1 or op.results or not _is_mac(op):
        return None
    values = [*op.inputs, *op.outputs]
    types = [v.type for v in values]
    if not all(isinstance(t, MemRefType) and isinstance(t.layout, NoneAttr) for t in types):
        return None
    iterators = [str(it.data) for it in op.iterator_types]  # pyright: ignore
    ranges = op.get_static_loop_ranges()
    if iterators.count("reduction") != 1 or any(r <= 0 for r in ranges):
        return None
    kr = iterators.index("reduction")
    n_loops = len(iterators)
    maps = op.indexing_maps.data
    sa, sb, sc = (_loop_strides(t, m, n_loops) for t, m in zip(types, maps, strict=True))  # pyright: ignore
    out = [e.position for e in maps[2].data.results if isinstance(e, AffineDimExpr)]
    if sa is None or sb is None or sc is None or len(out) != len(maps[2].data.results):
        return None
    lead = 1 if kind == "batch_matmul" else 0
    if len(out) < lead + 1 or len(set(out)) != len(out) or kr in out:
        return None
    batch_loops, m_loops, n_loop = out[:lead], out[lead:-1], out[-1]
    if sc[n_loop] != 1 or sa[n_loop] != 0 or sc[kr] != 0 or any(sb[m] != 0 for m in m_loops):
        return None
    # Leading output axes fold into M when A and C step through them as one axis.
    for outer, inner in zip(m_loops, m_loops[1:], strict=False):
        if sa[outer] != sa[inner] * ranges[inner] or sc[outer] != sc[inner] * ranges[inner]:
            return None
    last_m = m_loops[-1] if m_loops else None
    g = GemmGeometry(
        m=prod(ranges[m] for m in m_loops),
        n=ranges[n_loop],
        k=ranges[kr],
        rsa=sa[last_m] if last_m is not None else 0,
        csa=sa[kr],
        rsb=sb[kr],
        csb=sb[n_loop],
        ldc=sc[last_m] if last_m is not None else 0,
    )
    if batch_loops:
        (bl,) = batch_loops
        g = GemmGeometry(
            g.m, g.n, g.k, g.rsa, g.csa, g.rsb, g.csb, g.ldc, ranges[bl], sa[bl], sb[bl], sc[bl]
        )
    return g


def _zero_fill_before(op: linalg.GenericOp) -> linalg.FillOp | None:
    """The `linalg.fill` of 0.0 into the op's destination that is the last thing before it to
    touch that buffer (other ops in between, a profile call, leave it alone)."""
    dest = op.outputs[0]
    prev = op.prev_op
    while prev is not None and dest not in prev.operands:
        prev = prev.prev_op
    if not isinstance(prev, linalg.FillOp) or list(prev.outputs) != [dest]:
        return None
    value = prev.inputs[0].owner
    if (
        isinstance(value, arith.ConstantOp)
        and isinstance(value.value, FloatAttr)
        and value.value.value.data == 0.0
    ):
        return prev
    return None


def _pointer(ops: list[Operation], v: SSAValue) -> SSAValue:
    """`v`'s base address as an `!llvm.ptr` (through index and i64: upstream MLIR's way)."""
    address = memref.ExtractAlignedPointerAsIndexOp.get(v)
    as_int = arith.IndexCastOp(address.results[0], i64)
    ptr = llvm.IntToPtrOp(as_int.result)
    ops += [address, as_int, ptr]
    return ptr.results[0]


def _i64(ops: list[Operation], value: int) -> SSAValue:
    c = arith.ConstantOp(IntegerAttr(value, i64), i64)
    ops.append(c)
    return c.result


def gemm_call(op: linalg.GenericOp, kind: str, module: ModuleOp, target: Target) -> bool:
    """Replaces `op` by a call of the GEMM routine; False (nothing changed) if it does not fit."""
    g = gemm_geometry(op, kind)
    if g is None:
        return False
    fill = _zero_fill_before(op)
    ops: list[Operation] = []
    a, b, c = (_pointer(ops, v) for v in (*op.inputs, *op.outputs))
    sizes = [g.m, g.n, g.k, g.rsa, g.csa, g.rsb, g.csb, g.ldc, g.batch, g.bsa, g.bsb, g.bsc]
    args = [a, b, c, *(_i64(ops, v) for v in sizes), _i64(ops, 0 if fill else 1)]
    call = llvm.CallOp(declare_kernel(module, GEMM_KERNEL, target), *args)
    call.location = op.location
    ops.append(call)
    block = op.parent_block()
    assert block is not None
    block.insert_ops_before(ops, op)
    op.detach()
    op.erase()
    if fill is not None:
        fill.detach()
        fill.erase()
    return True


KernelRule = Callable[[linalg.GenericOp, str, ModuleOp, Target], bool]
KERNELS: dict[str, KernelRule] = {
    "dense": gemm_call,
    "matmul": gemm_call,
    "batch_matmul": gemm_call,
}
"""A contraction's name (attribute_names.CONTRACTION) -> the rule replacing it by a kernel call."""


@dataclass(frozen=True)
class LowerContractionsPass(ModulePass):
    """Replaces named float32 contractions (dense, matmul, batch_matmul) by calls to the kernel
    library's packed GEMM routine, declared in the module (or defined: kernels=define)."""

    name = "lower-contractions"

    vector_bits: int = 0
    """The target's vector width (128, 256, 512); 0 is the host's."""
    fma: bool = True
    """Whether the target fuses multiply-add (with vector_bits; the host's when that is 0)."""
    min_macs: int = MIN_KERNEL_MACS
    """Smaller contractions keep their loops."""
    kernels: str = "declare"
    """declare: the module declares the routines it calls (the kernel library defines them);
    define: the module gets the routines themselves, internal (self-sufficient IR)."""

    def target(self) -> Target:
        if self.vector_bits == 0:
            return Target.host()
        return Target(vector_bits=self.vector_bits, fma=self.fma)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.kernels not in KERNEL_MODES:
            raise RelayError(
                f"lower-contractions: unknown kernels mode '{self.kernels}' "
                f"(expected {' or '.join(KERNEL_MODES)})"
            )
        target = self.target()
        for f in list(op.ops):
            if not isinstance(f, func.FuncOp) or f.is_declaration:
                continue
            for kernel in [o for o in f.walk() if isinstance(o, linalg.GenericOp)]:
                kind = kernel_contraction(kernel, self.min_macs)
                rule = KERNELS.get(kind) if kind is not None else None
                if rule is not None:
                    rule(kernel, kind, op, target)  # pyright: ignore[reportArgumentType]
        if self.kernels == "define":
            define_kernels(op, target)


def define_kernels(module: ModuleOp, target: Target) -> None:
    """Replaces each declaration of a library routine in `module` by its definition
    (internal linkage), with what the routines need."""
    by_name = {kernel.name(target): kernel for kernel in LIBRARY}
    declared = [
        f
        for f in module.ops
        if isinstance(f, llvm.FuncOp) and f.sym_name.data in by_name and not f.body.blocks
    ]
    if not declared:
        return
    add_runtime_declarations(module)
    for f in declared:
        definition = by_name[f.sym_name.data].build(target)
        definition.linkage = llvm.LinkageAttr("internal")
        module.body.block.insert_op_before(definition, f)
        f.detach()
        f.erase()
