"""A shape-generic float32 GEMM routine, built as one `llvm.func` with vector types.

    v    = scale * (A[b] x B[b] (+ C[b])) + bias + residual[b]
    C[b] = clip(max(v, slope * v), lo, hi)                                  for b < batch

C[b] an M x N row-major view, `+ C[b]` when `accumulate` is set; the epilogue (the bias per
column or per row, the residual, the scale, leaky relu's slope and the clip, `flags`) is
applied to each element once its whole sum is in registers, at its last store, so a dense +
bias + relu writes C once. Without flags, scale 1, slope 1 and the clip [-inf, inf], it is
C (= or +=) A x B. max(v, slope * v) is leaky relu for a slope <= 1 (and v itself at 1).

Every operand is addressed through element strides, so one routine serves the plain, the
transposed and the batched products: A's element (i, k) is at `A + b*bsa + i*rsa + k*csa`,
B's (k, n) at `B + b*bsb + k*rsb + n*csb`, C's (i, n) at `C + b*bsc + i*ldc + n`. dense
(weight [N, K]) is `rsb = 1, csb = K`; a broadcast batch operand has a batch stride of 0.

The structure is the packed, register-blocked GEMM of BLIS and OpenBLAS:

    for jc < N step NC:  for pc < K step KC:        pack B[pc:+KC, jc:+NC] in NR-column panels
      for ic < M step MC:                           pack A[ic:+MC, pc:+KC] in MR-row panels
        for jr < nc step NR:  for ir < mc step MR:  MR x NR microkernel over kc

Packed panels are contiguous (`k*NR + j`, `k*MR + i`), zero-padded at the edges, in one
64-byte-aligned scratch buffer allocated at entry and freed before return (when malloc
fails, the routine stores the byte count in the library's error cell, `KERNEL_ERROR_GLOBAL`,
and returns with C unwritten: the JIT raises the error after the call). The microkernel
keeps the MR x NR tile in MR * NR/lanes vector accumulators, broadcasts one element of A
and issues `llvm.intr.fma` on vectors of B: LLVM's register allocator keeps the tile in
registers without fast-math flags or the SLP vectorizer. A full tile is stored (or added)
with vector loads and stores; an edge tile goes through a small stack buffer and a scalar
loop over its valid part. The first K block overwrites C unless `accumulate` is set.

A second entry, `..._packed_b`, takes B already packed (`pack_b_panels`: the same NR-column
panels over all of K, `[batch, ceil(N/NR), K, NR]`): lower-contractions packs a constant B
(a weight) at compile time, as onnxruntime prepacks, and the call only packs A. With fewer
than SMALL_M rows (a `?` M at run time) it streams FEW_PANELS panels at a time per row of A.

Products of fewer than SMALL_M rows (a batch-1 dense) are memory-bound on B and read it in
place, once: dot products along k, or rows of B scaled into C's row. Both kinds split their
columns across the thread pool, so every element of C is summed in one order at any thread
count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects import llvm
from xdsl.dialects.builtin import (
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    Float32Type,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    VectorType,
    i32,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from relay_opt.lowering.kernels.routine import KERNEL_ERROR_GLOBAL, Kernel, routine_function
from relay_opt.lowering.kernels.target import Target

PTR = llvm.LLVMPointerType()
F32 = Float32Type()

GEMM_PARAMS = (
    "A", "B", "C", "M", "N", "K", "rsa", "csa", "rsb", "csb", "ldc",
    "batch", "bsa", "bsb", "bsc", "accumulate",
    "bias", "residual", "flags", "scale", "lo", "hi", "slope",
)  # fmt: skip
"""The routine's parameters in order: three pointers, i64 sizes and strides, `accumulate` (0
or 1), then the epilogue: two pointers (either may be anything when its flag is off), the
flags and four float32s."""
GEMM_TYPES = (PTR, PTR, PTR, *([i64] * 13), PTR, PTR, i64, F32, F32, F32, F32)

GEMM_PACKED_B_PARAMS = tuple(p for p in GEMM_PARAMS if p not in ("rsb", "csb"))
"""The packed-B entry's parameters: B is already in panels (`pack_b_panels`), no strides."""
GEMM_PACKED_B_TYPES = tuple(
    t for p, t in zip(GEMM_PARAMS, GEMM_TYPES, strict=True) if p not in ("rsb", "csb")
)

BIAS_PER_COLUMN = 1
"""Epilogue flag: `bias` holds N floats, bias[n] is added to column n (dense's bias)."""
BIAS_PER_ROW = 2
"""Epilogue flag: `bias` holds M floats, bias[i] is added to row i of every batch."""
ADD_RESIDUAL = 4
"""Epilogue flag: `residual` is laid out as C (same strides), added element by element."""


SMALL_M = 4
"""Products with fewer rows than this read A and B in place (no packing)."""

FEW_PANELS = 4
"""Panels of B a few-row product of the packed-B entry streams at once, each row of A."""

DOT_COLUMNS = 8
"""Columns of C a few-row product with B's columns along k sums at once (its lanes are summed
into one vector of this many)."""

AXPY_ROWS = 4
"""Rows of B a few-row product with B's rows along n scales into C's row at once."""

AXPY_COLUMNS = 2048
"""... into a run of C's row this long (8 KB: it stays in L1 while the rows of B stream)."""


@dataclass(frozen=True)
class GemmShape:
    """Register tile and cache blocks for one target."""

    mr: int
    nr: int
    lanes: int
    kc: int = 384
    """A K block: a KC x NR panel of B (24 KB at NR=16) and an MR x KC one of A stay in L1."""
    mc: int = 144
    """An M block: its packed MC x KC of A (216 KB) stays in L2."""
    nc: int = 3072
    """An N block: its packed KC x NC of B (4.5 MB) in L3."""

    @staticmethod
    def for_target(target: Target) -> GemmShape:
        lanes = target.lanes(32)
        # 6 rows x 2 vectors: 12 accumulators, 2 B vectors and a broadcast fit 16 registers
        # (AVX2); with AVX-512's 32 registers, 14 rows x 2 vectors.
        mr = 14 if target.vector_bits >= 512 else 6
        if mr == 14:  # NR=32: keep a KC x NR panel of B within L1 (AVX-512 is untuned here)
            return GemmShape(mr=mr, nr=2 * lanes, lanes=lanes, kc=256, mc=112)
        return GemmShape(mr=mr, nr=2 * lanes, lanes=lanes)


def micro_rows(mr: int) -> list[int]:
    """The row counts of the microkernel variants, fewest first: the tile's MR, and for the
    last panel of M also about half of it and 4 (the few-row path takes M < SMALL_M)."""
    return sorted({mr, max(SMALL_M, (mr + 1) // 2), min(SMALL_M, mr)})


def gemm_name(target: Target) -> str:
    return gemm_name_of(GemmShape.for_target(target))


def gemm_name_of(s: GemmShape) -> str:
    return f"relay_opt_sgemm_{s.mr}x{s.nr}"


def gemm_packed_b_name(target: Target) -> str:
    return gemm_packed_b_name_of(GemmShape.for_target(target))


def gemm_packed_b_name_of(s: GemmShape) -> str:
    return f"{gemm_name_of(s)}_packed_b"


def pack_b_panels(b: np.ndarray, nr: int) -> np.ndarray:
    """B as `[batch, K, N]` -> the panels the packed-B entry reads, `[batch, ceil(N/nr), K,
    nr]`: panel p holds columns p*nr.. (zero past N), one contiguous row of nr per k. The
    microkernel reads a panel at `k*nr` as the runtime packing would lay it out, so a
    constant B is packed once, at compile time."""
    batch, k, n = b.shape
    panels = -(-n // nr)
    padded = np.zeros((batch, k, panels * nr), np.float32)
    padded[:, :, :n] = b
    return np.ascontiguousarray(padded.reshape(batch, k, panels, nr).transpose(0, 2, 1, 3))


class _IR:
    """Straight-line llvm-dialect code with counted loops and ifs as blocks and branches."""

    def __init__(self, region: Region, entry: Block):
        self.region = region
        self.entry = entry
        self.b = Builder(InsertPoint.at_end(entry))

    def emit(self, op: Operation) -> SSAValue:
        self.b.insert(op)
        return op.results[0] if op.results else None  # pyright: ignore[reportReturnType]

    def fma(self, a: SSAValue, b: SSAValue, c: SSAValue, fused: bool) -> SSAValue:
        """a * b + c: one fused multiply-add, or a multiply then an add without FMA."""
        if fused:
            return self.emit(llvm.FMAOp(a, b, c))
        return self.emit(llvm.FAddOp(self.emit(llvm.FMulOp(a, b)), c))

    def splat(self, x: SSAValue, vec: VectorType) -> SSAValue:
        """The scalar `x` in every lane of a `vec`."""
        undef = self.emit(llvm.UndefOp(vec))
        one = self.emit(llvm.InsertElementOp(undef, x, self.const(0, i32)))
        mask = DenseArrayBase.from_list(i32, [0] * vec.get_shape()[0])
        return self.emit(llvm.ShuffleVectorOp(one, undef, mask, vec))

    def const(self, value: int, t: IntegerType = i64) -> SSAValue:
        return self.emit(llvm.ConstantOp(IntegerAttr(value, t), t))

    def fconst(self, value: float) -> SSAValue:
        from xdsl.dialects.builtin import FloatAttr

        return self.emit(llvm.ConstantOp(FloatAttr(value, F32), F32))

    def add(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(llvm.AddOp(a, b))

    def sub(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(llvm.SubOp(a, b))

    def mul(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(llvm.MulOp(a, b))

    def cmp(self, pred: str, a: SSAValue, b: SSAValue) -> SSAValue:
        flag = llvm.ICmpPredicateFlag(pred).to_int()
        return self.emit(llvm.ICmpOp(a, b, IntegerAttr(flag, i64)))

    def select(self, c: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(llvm.SelectOp(c, a, b))

    def min(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.select(self.cmp("slt", a, b), a, b)

    def gep(self, ptr: SSAValue, index: SSAValue, elem: Attribute = F32) -> SSAValue:
        return self.emit(
            llvm.GEPOp(ptr, [llvm.GEP_USE_SSA_VAL], elem, ssa_indices=[index], inbounds=True)
        )

    def at(self, ptr: SSAValue, *terms: tuple[SSAValue, SSAValue] | SSAValue) -> SSAValue:
        """`ptr` moved by the sum of `terms` elements (an (index, stride) pair is a product)."""
        offset: SSAValue | None = None
        for t in terms:
            v = self.mul(*t) if isinstance(t, tuple) else t
            offset = v if offset is None else self.add(offset, v)
        return ptr if offset is None else self.gep(ptr, offset)

    def opaque(self, ptr: SSAValue, t: Attribute) -> SSAValue:
        # llvmlite types a GEP's result by its element (float*): a vector access needs the
        # opaque pointer back (a no-op in LLVM's opaque-pointer IR).
        return ptr if t == F32 else self.emit(llvm.BitcastOp(ptr, PTR))

    def load(self, ptr: SSAValue, t: Attribute = F32, align: int = 4) -> SSAValue:
        return self.emit(llvm.LoadOp(self.opaque(ptr, t), t, alignment=align))

    def task_slot(self, ctx: SSAValue, k: int) -> SSAValue:
        """Slot `k` of a thread-pool task's context (8 bytes each), as an opaque pointer:
        llvmlite types the element pointer i64*, and a slot may hold an f32."""
        return self.emit(llvm.BitcastOp(self.gep(ctx, self.const(k), elem=i64), PTR))

    def task_params(
        self, ctx: SSAValue, names: Sequence[str], types: Sequence[Attribute]
    ) -> dict[str, SSAValue]:
        """A routine's parameters as its task function reads them from the context the
        routine filled (lowering/kernels/thread_pool.py): one slot each, in order."""
        p: dict[str, SSAValue] = {}
        for k, (name, typ) in enumerate(zip(names, types, strict=True)):
            if typ == F32:
                p[name] = self.emit(llvm.LoadOp(self.task_slot(ctx, k), F32, alignment=4))
            else:
                v = self.emit(llvm.LoadOp(self.task_slot(ctx, k), i64, alignment=8))
                p[name] = self.emit(llvm.IntToPtrOp(v)) if typ == PTR else v
        return p

    def store(self, value: SSAValue, ptr: SSAValue, align: int = 4) -> None:
        self.emit(llvm.StoreOp(value, self.opaque(ptr, value.type), alignment=align))

    def loop(
        self,
        lo: SSAValue,
        hi: SSAValue,
        step: SSAValue,
        body: Callable[[SSAValue, list[SSAValue]], Sequence[SSAValue] | None],
        carried: Sequence[SSAValue] = (),
    ) -> list[SSAValue]:
        """for (i = lo; i < hi; i += step) with `carried` values; returns their final values.

        Blocks are added in the order they are built, so every value is defined in an earlier
        block than its uses (the order llvm translation needs)."""
        header = Block(arg_types=[i64, *(v.type for v in carried)])
        body_block, exit_block = Block(), Block()
        self.emit(llvm.BrOp(header, lo, *carried))
        self.region.add_block(header)
        self.b = Builder(InsertPoint.at_end(header))
        cond = self.cmp("slt", header.args[0], hi)
        self.emit(llvm.CondBrOp(cond, body_block, [], exit_block, []))
        self.region.add_block(body_block)
        self.b = Builder(InsertPoint.at_end(body_block))
        out = body(header.args[0], list(header.args[1:])) or []
        self.emit(llvm.BrOp(header, self.add(header.args[0], step), *out))
        self.region.add_block(exit_block)
        self.b = Builder(InsertPoint.at_end(exit_block))
        return list(header.args[1:])

    def if_(
        self, cond: SSAValue, then: Callable[[], None], else_: Callable[[], None] | None = None
    ) -> None:
        then_block, merge = Block(), Block()
        else_block = Block() if else_ is not None else merge
        self.emit(llvm.CondBrOp(cond, then_block, [], else_block, []))
        for block, build in ((then_block, then), (else_block, else_)):
            if build is None:
                continue
            self.region.add_block(block)
            self.b = Builder(InsertPoint.at_end(block))
            build()
            self.emit(llvm.BrOp(merge))
        self.region.add_block(merge)
        self.b = Builder(InsertPoint.at_end(merge))


def _declare(
    module: ModuleOp, name: str, inputs: list[Attribute], output: Attribute | None
) -> None:
    if any(isinstance(op, llvm.FuncOp) and op.sym_name.data == name for op in module.ops):
        return
    module.body.block.add_op(
        llvm.FuncOp(
            name, llvm.LLVMFunctionType(inputs, output), linkage=llvm.LinkageAttr("external")
        )
    )


def add_runtime_declarations(module: ModuleOp) -> None:
    """What the library's routines need from their module: malloc, free and the error cell
    (weak: every module or library object that has it may define it)."""
    _declare(module, "malloc", [i64], PTR)
    from relay_opt.lowering.kernels.thread_pool import declare_parallel_for

    _declare(module, "free", [PTR], None)
    declare_parallel_for(module)
    if not any(
        isinstance(op, llvm.GlobalOp) and op.sym_name.data == KERNEL_ERROR_GLOBAL
        for op in module.ops
    ):
        module.body.block.add_op(
            llvm.GlobalOp(i64, KERNEL_ERROR_GLOBAL, "weak", value=IntegerAttr(0, i64), alignment=8)
        )


PARALLEL_MIN_MACS = 1 << 20
"""A pool task of a packed product (or a conv) is at least this many multiply-adds (about
10 us of work), so a parallel region's cost (about a microsecond) stays small."""

PACKED_TASK_COLUMNS = 128
"""A pool task of the packed product takes at least this many columns of C: each task packs
all of A for its columns, so narrower ones would pack it more often than they save in
balance. Packing reads A with a stride, so it costs more than its share of operations: one
thread's CPU time for 1024x1024 @ 1024xN, as N/1024 products of 1024 columns cost (Rocket
Lake): N = 128 +21%, 256 +7.7%, 512 +0.2%. The thread pool cuts more than one chunk per
thread only when each holds 4 grains (at least 512 columns), so a split pays this only where
one chunk per thread is already this narrow."""


FEW_ROWS_MIN_MACS = 1 << 16
"""A thread's share of a few-row product is at least this many multiply-adds: that product
streams B from memory once (4 bytes a multiply-add), so this is about 10 us of work too."""

FEW_ROWS_COLUMNS = 64
"""The few-row products split their N in runs of this many columns (the thread pool's unit)."""


def _gemm_task(
    target: Target,
    shape: GemmShape | None,
    suffix: str,
    columns: int,
    body: Callable[[_Gemm], None],
    packed_b: bool = False,
) -> llvm.FuncOp:
    """`{entry}_{suffix}(ctx, begin, end)`: `body` over the columns [begin*columns,
    end*columns) of C (clipped to N), the parameters read from `ctx` (GEMM_PARAMS as i64s):
    one thread's task (lowering/kernels/thread_pool.py). `entry` is the GEMM's name, or the
    packed-B entry's (`columns` is then a multiple of NR: a task starts at a panel)."""
    from relay_opt.lowering.kernels.thread_pool import BODY_TYPE

    s = shape or GemmShape.for_target(target)
    entry = Block(arg_types=list(BODY_TYPE.inputs))
    region = Region(entry)
    ir = _IR(region, entry)
    ctx, begin, end = entry.args
    p = ir.task_params(ctx, GEMM_PARAMS, GEMM_TYPES)
    first = ir.mul(begin, ir.const(columns))
    last = ir.min(ir.mul(end, ir.const(columns)), p["N"])
    # Packed B: panel first/NR starts (first/NR) * K * NR elements in.
    p["B"] = ir.at(p["B"], (first, p["K"] if packed_b else p["csb"]))
    p["C"] = ir.at(p["C"], first)
    p["N"] = ir.sub(last, first)
    gemm = _Gemm(ir, s, p, target.fma, packed_b)
    gemm.plan_epilogue(first)
    body(gemm)
    ir.emit(llvm.ReturnOp(ir.const(0)))
    return llvm.FuncOp(
        f"{gemm.entry_name}_{suffix}", BODY_TYPE, linkage=llvm.LinkageAttr("internal"), body=region
    )


def build_gemm_columns(
    target: Target, shape: GemmShape | None = None, packed_b: bool = False
) -> llvm.FuncOp:
    """The packed product for the NR-column panels [begin, end) of C. Each task packs into
    its own scratch (A only, when B comes packed)."""
    s = shape or GemmShape.for_target(target)

    def body(gemm: _Gemm) -> None:
        # The edge tile's stack buffer, in the entry block (one alloca per task).
        gemm.tile = gemm.ir.emit(llvm.AllocaOp(gemm.c(s.mr * s.nr), F32, alignment=64))
        gemm.packed()

    return _gemm_task(target, s, "columns", s.nr, body, packed_b)


def build_gemm_few_rows(target: Target, shape: GemmShape | None = None) -> llvm.FuncOp:
    """The few-row product (A and B read in place) for the runs [begin, end) of
    FEW_ROWS_COLUMNS columns of C."""
    return _gemm_task(target, shape, "few_rows", FEW_ROWS_COLUMNS, lambda g: g.few_rows())


def packed_few_rows_columns(s: GemmShape) -> int:
    """The packed-B entry's few-row runs: FEW_ROWS_COLUMNS rounded up to whole panels."""
    return -(-FEW_ROWS_COLUMNS // s.nr) * s.nr


def build_gemm_packed_b_few_rows(target: Target, shape: GemmShape | None = None) -> llvm.FuncOp:
    """The packed-B entry's few-row product (`few_rows_packed`) for runs of
    `packed_few_rows_columns` columns of C."""
    s = shape or GemmShape.for_target(target)

    def body(gemm: _Gemm) -> None:
        gemm.tile = gemm.ir.emit(llvm.AllocaOp(gemm.c(s.lanes), F32, alignment=64))
        gemm.few_rows_packed()

    return _gemm_task(target, s, "few_rows", packed_few_rows_columns(s), body, packed_b=True)


def build_gemm(
    target: Target, shape: GemmShape | None = None, linkage: str = "external"
) -> llvm.FuncOp:
    """The routine `gemm_name(target)(A, B, C, M, N, K, rsa, csa, rsb, csb, ldc, batch, bsa,
    bsb, bsc, accumulate)`; `shape` overrides the target's blocking (for tuning). Its module
    needs `add_runtime_declarations`."""
    s = shape or GemmShape.for_target(target)
    return routine_function(
        gemm_name(target),
        GEMM_PARAMS,
        GEMM_TYPES,
        lambda region, entry, params: _Gemm(_IR(region, entry), s, params, target.fma).build(),
        linkage,
    )


def build_gemm_packed_b(
    target: Target, shape: GemmShape | None = None, linkage: str = "external"
) -> llvm.FuncOp:
    """The routine `gemm_packed_b_name(target)(A, B, C, M, N, K, rsa, csa, ldc, batch, bsa,
    bsb, bsc, accumulate)`: the GEMM with B given as `pack_b_panels` lays it out (a constant
    weight, packed at compile time by lower-contractions), `bsb` in elements of that layout.
    No B packing in the call."""
    s = shape or GemmShape.for_target(target)

    def body(region: Region, entry: Block, params: dict[str, SSAValue]) -> None:
        ir = _IR(region, entry)
        zero = ir.const(0)
        _Gemm(ir, s, {**params, "rsb": zero, "csb": zero}, target.fma, packed_b=True).build()

    return routine_function(
        gemm_packed_b_name(target), GEMM_PACKED_B_PARAMS, GEMM_PACKED_B_TYPES, body, linkage
    )


GEMM_KERNEL = Kernel(
    name=gemm_name,
    params=GEMM_TYPES,
    build=build_gemm,
    helpers=lambda target: [build_gemm_columns(target), build_gemm_few_rows(target)],
)
"""The GEMM as a routine of the kernel library (its packed and its few-row products are
thread-pool tasks)."""

GEMM_PACKED_B_KERNEL = Kernel(
    name=gemm_packed_b_name,
    params=GEMM_PACKED_B_TYPES,
    build=build_gemm_packed_b,
    helpers=lambda target: [
        build_gemm_columns(target, packed_b=True),
        build_gemm_packed_b_few_rows(target),
    ],
)
"""The GEMM whose B is packed already (a constant weight): the packed product's task without
packing B."""


@dataclass(frozen=True)
class Row:
    """Row i of C in the current batch: its index, its start, the residual's (C's layout)."""

    i: SSAValue
    c: SSAValue
    residual: SSAValue


@dataclass(frozen=True)
class Tile:
    """A register tile of C: its first row and column, its start, the residual's."""

    row: SSAValue
    col: SSAValue
    c: SSAValue
    residual: SSAValue


class _Gemm:
    tile: SSAValue
    """The edge tile's stack buffer (the caller of `packed` allocates it)."""

    def __init__(
        self, ir: _IR, s: GemmShape, p: dict[str, SSAValue], fused: bool, packed_b: bool = False
    ):
        self.ir, self.s, self.p, self.fused, self.packed_b = ir, s, p, fused, packed_b
        self.vec = VectorType(F32, [s.lanes])
        self.nv = s.nr // s.lanes
        self.entry_name = gemm_packed_b_name_of(s) if packed_b else gemm_name_of(s)

    def c(self, v: int) -> SSAValue:
        return self.ir.const(v)

    def plan_epilogue(self, first: SSAValue) -> None:
        """The epilogue's operands for a task whose columns start at `first`: a bias that is
        off reads a zero vector in place (step 0), a residual that is off reads C; so the
        epilogue is one version of straight code (a select, not a branch, per flag)."""
        ir, p = self.ir, self.p
        zero = self.c(0)

        def flag(bit: int) -> SSAValue:
            return ir.cmp("ne", ir.emit(llvm.AndOp(p["flags"], self.c(bit))), zero)

        zeros = ir.emit(llvm.AllocaOp(self.c(self.s.lanes), F32, alignment=64))
        vzero = DenseIntOrFPElementsAttr.from_list(self.vec, [0.0] * self.s.lanes)
        ir.store(ir.emit(llvm.ConstantOp(vzero, self.vec)), zeros, 4 * self.s.lanes)
        columns, rows = flag(BIAS_PER_COLUMN), flag(BIAS_PER_ROW)
        self.has_residual = flag(ADD_RESIDUAL)
        self.column_bias = ir.select(columns, ir.at(p["bias"], first), zeros)
        self.column_step = ir.select(columns, self.c(1), zero)
        self.row_bias = ir.select(rows, p["bias"], zeros)
        self.row_step = ir.select(rows, self.c(1), zero)
        self.residual = ir.select(self.has_residual, ir.at(p["residual"], first), p["C"])
        # Any epilogue at all: without one, the stores skip it (a plain product stays as fast).
        changes = [ir.cmp("ne", p["flags"], zero)]
        for name, value in (("scale", 1.0), ("lo", -math.inf), ("hi", math.inf), ("slope", 1.0)):
            changes.append(ir.emit(llvm.FCmpOp(p[name], ir.fconst(value), "une")))
        self.has_epilogue = changes[0]
        for c in changes[1:]:
            self.has_epilogue = ir.emit(llvm.OrOp(self.has_epilogue, c))

    def epilogue(self, value: SSAValue, i: SSAValue, n: SSAValue, residual: SSAValue) -> SSAValue:
        """clip(max(v, slope * v), lo, hi) with v = scale * value + bias + residual, for C's
        element (or vector of columns) at row i, column n (from the task's first); `residual`
        its element there. llvm.maximum/minimum keep a NaN (as relu, leaky relu and clip do)."""
        ir, p = self.ir, self.p
        t = value.type

        def wide(x: SSAValue) -> SSAValue:
            return x if t == F32 else ir.splat(x, t)  # pyright: ignore[reportArgumentType]

        value = ir.emit(llvm.FMulOp(value, wide(p["scale"])))
        column = ir.load(ir.at(self.column_bias, (n, self.column_step)), t, 4)
        row = wide(ir.load(ir.at(self.row_bias, (i, self.row_step))))
        value = ir.emit(llvm.FAddOp(ir.emit(llvm.FAddOp(value, column)), row))
        added = ir.emit(llvm.FAddOp(value, ir.load(residual, t, 4)))
        value = ir.select(self.has_residual, added, value)
        suffix = "f32" if t == F32 else f"v{t.get_shape()[0]}f32"  # pyright: ignore
        sloped = ir.emit(llvm.FMulOp(value, wide(p["slope"])))
        leaky = llvm.CallIntrinsicOp(f"llvm.maximum.{suffix}", [value, sloped], [t])
        value = ir.emit(leaky)
        for bound, name in ((p["lo"], "maximum"), (p["hi"], "minimum")):
            intrinsic = llvm.CallIntrinsicOp(f"llvm.{name}.{suffix}", [value, wide(bound)], [t])
            value = ir.emit(intrinsic)
        return value

    def round_up(self, x: SSAValue, m: int) -> SSAValue:
        ir = self.ir
        q = ir.emit(llvm.SDivOp(ir.add(x, self.c(m - 1)), self.c(m)))
        return ir.mul(q, self.c(m))

    def build(self) -> None:
        ir, p = self.ir, self.p
        one = self.c(1)
        if self.packed_b:
            # lower-contractions packs B for products of SMALL_M rows or more, and for a `?`
            # M, which may have fewer at run time: those stream the panels (few_rows_packed).
            small = ir.cmp("slt", p["M"], self.c(SMALL_M))
            few_columns = packed_few_rows_columns(self.s)
            ir.if_(
                small,
                lambda: self.on_pool("few_rows", few_columns, FEW_ROWS_MIN_MACS),
                lambda: self.on_pool("columns", self.s.nr, PARALLEL_MIN_MACS, PACKED_TASK_COLUMNS),
            )
            ir.emit(llvm.ReturnOp())
            return
        # A few rows (a batch-1 dense): packing B would copy all of it to use it once, so
        # such products read the operands in place, along their contiguous axis.
        small = ir.cmp("slt", p["M"], self.c(SMALL_M))
        rows_in_k = ir.emit(llvm.AndOp(ir.cmp("eq", p["csa"], one), ir.cmp("eq", p["rsb"], one)))
        cols_in_n = ir.cmp("eq", p["csb"], one)
        few = ir.emit(llvm.AndOp(small, ir.emit(llvm.OrOp(rows_in_k, cols_in_n))))
        ir.if_(
            few,
            lambda: self.on_pool("few_rows", FEW_ROWS_COLUMNS, FEW_ROWS_MIN_MACS),
            lambda: self.on_pool("columns", self.s.nr, PARALLEL_MIN_MACS, PACKED_TASK_COLUMNS),
        )
        ir.emit(llvm.ReturnOp())

    def on_pool(self, task: str, columns: int, min_macs: int, min_columns: int = 0) -> None:
        """The task `{entry_name}_{task}` over runs of `columns` columns of C, split
        across the thread pool, each pool task at least `min_macs` multiply-adds and
        `min_columns` columns."""
        from relay_opt.lowering.kernels.thread_pool import PARALLEL_FOR

        ir, p = self.ir, self.p
        ctx = ir.emit(llvm.AllocaOp(self.c(len(GEMM_PARAMS)), i64, alignment=8))
        for k, (pname, typ) in enumerate(zip(GEMM_PARAMS, GEMM_TYPES, strict=True)):
            v = ir.emit(llvm.PtrToIntOp(p[pname], i64)) if typ == PTR else p[pname]
            slot = ir.gep(ctx, self.c(k), elem=i64)
            if typ == F32:
                ir.store(v, ir.emit(llvm.BitcastOp(slot, PTR)), 4)
            else:
                ir.store(v, slot, 8)
        runs = ir.emit(llvm.SDivOp(ir.add(p["N"], self.c(columns - 1)), self.c(columns)))
        per_run = ir.mul(ir.mul(p["batch"], p["M"]), ir.mul(p["K"], self.c(columns)))
        grain = ir.emit(llvm.SDivOp(self.c(min_macs), ir.add(per_run, self.c(1))))
        if min_columns > columns:
            least = self.c(min_columns // columns)
            grain = ir.select(ir.cmp("slt", grain, least), least, grain)
        address = ir.emit(llvm.AddressOfOp(f"{self.entry_name}_{task}", PTR))
        ir.emit(llvm.CallOp(PARALLEL_FOR, address, ctx, runs, grain, return_type=i64))

    def few_rows(self) -> None:
        """The product read in place: dot products when A's rows and B's columns run along
        k (dense's weight), else (B's rows run along n) rows of B scaled into C's."""
        p, one = self.p, self.c(1)
        rows_in_k = self.ir.emit(
            llvm.AndOp(self.ir.cmp("eq", p["csa"], one), self.ir.cmp("eq", p["rsb"], one))
        )
        self.ir.if_(rows_in_k, self.dot_rows, self.axpy_rows)

    def packed(self) -> None:
        ir, s, p = self.ir, self.s, self.p
        # Scratch: packed A (MC x KC at most) then packed B (KC x NC at most), 64-byte aligned.
        kc_max = ir.min(p["K"], self.c(s.kc))
        a_elems = ir.mul(self.round_up(ir.min(p["M"], self.c(s.mc)), s.mr), kc_max)
        b_elems = ir.mul(self.round_up(ir.min(p["N"], self.c(s.nc)), s.nr), kc_max)
        if self.packed_b:
            b_elems = self.c(0)
        a_elems = self.round_up(a_elems, 16)
        total = ir.add(ir.mul(ir.add(a_elems, b_elems), self.c(4)), self.c(64))
        raw = ir.emit(llvm.CallOp("malloc", total, return_type=PTR))
        addr = ir.emit(llvm.PtrToIntOp(raw, i64))

        def out_of_memory() -> None:  # reported through the error cell; C is not written
            # Stored as addressed: llvmlite types the global's address as i64*.
            cell = ir.emit(llvm.AddressOfOp(KERNEL_ERROR_GLOBAL, PTR))
            ir.emit(llvm.StoreOp(total, cell, alignment=8))

        pad = ir.emit(llvm.AndOp(ir.sub(self.c(0), addr), self.c(63)))
        self.ap = ir.gep(raw, pad, elem=IntegerType(8))  # a byte offset (unused if null)
        self.bp = ir.gep(self.ap, a_elems)

        def compute() -> None:
            ir.loop(self.c(0), p["batch"], self.c(1), self.batch)
            ir.emit(llvm.CallOp("free", raw))

        ir.if_(ir.cmp("eq", addr, self.c(0)), out_of_memory, compute)

    # -- few rows: no packing --------------------------------------------------------------

    def finish(self, row: Row, n: SSAValue, value: SSAValue) -> None:
        """C[i, n:] = value, or C += value when accumulating (scalars and vectors alike), then
        the epilogue: the sum is complete."""
        ir = self.ir
        ptr = ir.at(row.c, n)
        t = value.type
        old = ir.load(ptr, t, 4)
        summed = ir.emit(llvm.FAddOp(old, value))
        keep = ir.cmp("eq", self.p["accumulate"], self.c(0))
        value = ir.select(keep, value, summed)
        ir.store(self.epilogue(value, row.i, n, ir.at(row.residual, n)), ptr, 4)

    def each_row(self, body: Callable[[SSAValue, Row], None]) -> None:
        """body(A's row i, C's row i) for every batch and row."""
        ir, p = self.ir, self.p

        def batch(b: SSAValue, _: list[SSAValue]) -> None:
            a = ir.at(p["A"], (b, p["bsa"]))
            c = ir.at(p["C"], (b, p["bsc"]))
            residual = ir.at(self.residual, (b, p["bsc"]))
            self.b = ir.at(p["B"], (b, p["bsb"]))

            def row(i: SSAValue, _: list[SSAValue]) -> None:
                at_c = ir.at(c, (i, p["ldc"]))
                body(ir.at(a, (i, p["rsa"])), Row(i, at_c, ir.at(residual, (i, p["ldc"]))))

            ir.loop(self.c(0), p["M"], self.c(1), row)

        ir.loop(self.c(0), p["batch"], self.c(1), batch)

    def dot_rows(self) -> None:
        """A's rows and B's columns both contiguous in k (dense's weight): C[i, n] is a dot
        product. DOT_COLUMNS columns at a time, one vector accumulator each (B streams from
        memory or L2, so FMA latency is not the limit), their lanes summed together by a
        shuffle tree into one vector of DOT_COLUMNS sums, stored as one; the last N mod
        DOT_COLUMNS columns one at a time. An ordered `vector.reduce.fadd` would be a chain
        of `lanes` dependent adds per column, longer than the product itself at K = 256."""
        ir, s, p = self.ir, self.s, self.p
        lanes, cols = s.lanes, min(DOT_COLUMNS, s.lanes)
        k_vec = ir.mul(ir.emit(llvm.SDivOp(p["K"], self.c(lanes))), self.c(lanes))
        zero = ir.emit(
            llvm.ConstantOp(DenseIntOrFPElementsAttr.from_list(self.vec, [0.0] * lanes), self.vec)
        )

        def group(arow: SSAValue, crow: Row, n: SSAValue, width: int) -> None:
            wrows = [ir.at(self.b, (ir.add(n, self.c(j)), p["csb"])) for j in range(width)]

            def step(k: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
                a = ir.load(ir.at(arow, k), self.vec, 4)
                return [
                    self.fma(a, ir.load(ir.at(wrows[j], k), self.vec, 4), acc[j])
                    for j in range(width)
                ]

            acc = ir.loop(self.c(0), k_vec, self.c(lanes), step, [zero] * width)
            sums = self.lane_sums(acc)

            def tail(k: SSAValue, carried: list[SSAValue]) -> list[SSAValue]:
                a = ir.splat(ir.load(ir.at(arow, k)), sums.type)  # pyright: ignore[reportArgumentType]
                w = [ir.load(ir.at(wrows[j], k)) for j in range(width)]
                return [self.fma(a, self.gather(w), carried[0])]

            (sums,) = ir.loop(k_vec, p["K"], self.c(1), tail, [sums])
            self.finish(crow, n, sums)

        def row(arow: SSAValue, crow: Row) -> None:
            n_grouped = ir.mul(ir.emit(llvm.SDivOp(p["N"], self.c(cols))), self.c(cols))
            ir.loop(self.c(0), n_grouped, self.c(cols), lambda n, _: group(arow, crow, n, cols))
            ir.loop(n_grouped, p["N"], self.c(1), lambda n, _: group(arow, crow, n, 1))

        self.each_row(row)

    def few_rows_packed(self) -> None:
        """The packed-B entry's product of a few rows: each row of A against FEW_PANELS
        panels of B at once (as many streams of B, FEW_PANELS * NR / lanes independent
        vector sums over all of K), the last panels one at a time; a vector of C past N is
        finished through the stack tile, one column at a time."""
        ir, s, p = self.ir, self.s, self.p
        nv, lanes, nr = self.nv, s.lanes, s.nr
        zero = ir.emit(
            llvm.ConstantOp(DenseIntOrFPElementsAttr.from_list(self.vec, [0.0] * lanes), self.vec)
        )
        panels = ir.emit(llvm.SDivOp(ir.add(p["N"], self.c(nr - 1)), self.c(nr)))
        grouped = ir.mul(ir.emit(llvm.SDivOp(panels, self.c(FEW_PANELS))), self.c(FEW_PANELS))
        panel_size = ir.mul(p["K"], self.c(nr))

        def group(arow: SSAValue, crow: Row, first: SSAValue, width: int) -> None:
            starts = [ir.at(self.b, (ir.add(first, self.c(g)), panel_size)) for g in range(width)]

            def step(k: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
                a = self.splat(ir.load(ir.at(arow, (k, p["csa"]))))
                out = list(acc)
                for g in range(width):
                    row = ir.at(starts[g], (k, self.c(nr)))
                    for v in range(nv):
                        b = ir.load(ir.at(row, self.c(v * lanes)), self.vec, 4)
                        out[g * nv + v] = self.fma(a, b, acc[g * nv + v])
                return out

            acc = ir.loop(self.c(0), p["K"], self.c(1), step, [zero] * (width * nv))
            for g in range(width):
                for v in range(nv):
                    n = ir.add(ir.mul(ir.add(first, self.c(g)), self.c(nr)), self.c(v * lanes))
                    whole = ir.cmp("sle", ir.add(n, self.c(lanes)), p["N"])
                    ir.if_(
                        whole,
                        partial(self.finish, crow, n, acc[g * nv + v]),
                        partial(self.finish_edge, crow, n, acc[g * nv + v]),
                    )

        def row(arow: SSAValue, crow: Row) -> None:
            step = self.c(FEW_PANELS)
            ir.loop(self.c(0), grouped, step, lambda q, _: group(arow, crow, q, FEW_PANELS))
            ir.loop(grouped, panels, self.c(1), lambda q, _: group(arow, crow, q, 1))

        self.each_row(row)

    def finish_edge(self, row: Row, n: SSAValue, value: SSAValue) -> None:
        """finish() of the columns of vector `value` (from column n) that are within N."""
        ir = self.ir
        ir.store(value, self.tile, 4 * self.s.lanes)
        valid = ir.sub(self.p["N"], n)

        def column(j: SSAValue, _: list[SSAValue]) -> None:
            self.finish(row, ir.add(n, j), ir.load(ir.at(self.tile, j)))

        ir.loop(self.c(0), valid, self.c(1), column)

    def gather(self, xs: list[SSAValue]) -> SSAValue:
        """The scalars `xs` as one vector."""
        ir = self.ir
        vec = VectorType(F32, [len(xs)])
        v = ir.emit(llvm.UndefOp(vec))
        for j, x in enumerate(xs):
            v = ir.emit(llvm.InsertElementOp(v, x, ir.const(j, i32)))
        return v

    def lane_sums(self, acc: list[SSAValue]) -> SSAValue:
        """The lanes of each vector in `acc` (a power of two of them, at most `lanes`) summed:
        a vector of len(acc) sums (one lane for one vector). Pairs of vectors holding c
        columns of w lanes each become one vector of 2c columns of w/2 lanes (two shuffles
        and an add), then the last vector is folded onto itself until each column is one lane."""
        ir, lanes = self.ir, self.s.lanes
        vs, c = list(acc), 1
        while len(vs) > 1:
            w = lanes // c
            first = [j * w + t for j in range(c) for t in range(w // 2)]
            second = [j * w + t + w // 2 for j in range(c) for t in range(w // 2)]
            nxt = []
            for x, y in zip(vs[0::2], vs[1::2], strict=True):
                lo = self.shuffle(x, y, first + [lanes + m for m in first])
                hi = self.shuffle(x, y, second + [lanes + m for m in second])
                nxt.append(ir.emit(llvm.FAddOp(lo, hi)))
            vs, c = nxt, 2 * c
        v, width = vs[0], lanes
        while width > c:  # each of the c columns holds width/c lanes
            w = width // c
            first = [j * w + t for j in range(c) for t in range(w // 2)]
            second = [j * w + t + w // 2 for j in range(c) for t in range(w // 2)]
            v = ir.emit(llvm.FAddOp(self.shuffle(v, v, first), self.shuffle(v, v, second)))
            width //= 2
        return v

    def shuffle(self, x: SSAValue, y: SSAValue, mask: list[int]) -> SSAValue:
        """The lanes `mask` of x ++ y as a vector of len(mask) lanes."""
        vec = VectorType(F32, [len(mask)])
        return self.ir.emit(llvm.ShuffleVectorOp(x, y, DenseArrayBase.from_list(i32, mask), vec))

    def axpy_rows(self) -> None:
        """B's rows contiguous in n: C[i, :] accumulates A[i, k] * B[k, :] in order of k,
        AXPY_ROWS rows of B at a time, each read once and contiguously (a stream the
        prefetcher follows), into a run of at most AXPY_COLUMNS columns of C that stays in
        L1; vectors of columns with FMA, the last N mod lanes columns one at a time."""
        ir, s, p = self.ir, self.s, self.p
        lanes, unroll = s.lanes, AXPY_ROWS
        zero_vec = ir.emit(
            llvm.ConstantOp(DenseIntOrFPElementsAttr.from_list(self.vec, [0.0] * lanes), self.vec)
        )
        zero = ir.fconst(0.0)
        fresh_c = ir.cmp("eq", p["accumulate"], self.c(0))
        k_grouped = ir.mul(ir.emit(llvm.SDivOp(p["K"], self.c(unroll))), self.c(unroll))

        def row(arow: SSAValue, crow: Row) -> None:
            def run(n0: SSAValue, _: list[SSAValue]) -> None:
                width = ir.min(self.c(AXPY_COLUMNS), ir.sub(p["N"], n0))
                n_vec = ir.mul(ir.emit(llvm.SDivOp(width, self.c(lanes))), self.c(lanes))
                c0 = ir.at(crow.c, n0)

                def rows_of_b(k: SSAValue, count: int) -> None:
                    # The first rows overwrite C unless accumulating.
                    fresh = ir.emit(llvm.AndOp(fresh_c, ir.cmp("eq", k, self.c(0))))
                    ks = [ir.add(k, self.c(j)) if j else k for j in range(count)]
                    a = [ir.load(ir.at(arow, (kj, p["csa"]))) for kj in ks]
                    av = [self.splat(x) for x in a]
                    b = [ir.at(self.b, (kj, p["rsb"]), n0) for kj in ks]

                    def vector(n: SSAValue, _: list[SSAValue]) -> None:
                        ptr = ir.at(c0, n)
                        acc = ir.select(fresh, zero_vec, ir.load(ptr, self.vec, 4))
                        for j in range(count):
                            acc = self.fma(av[j], ir.load(ir.at(b[j], n), self.vec, 4), acc)
                        ir.store(acc, ptr, 4)

                    def scalar(n: SSAValue, _: list[SSAValue]) -> None:
                        ptr = ir.at(c0, n)
                        acc = ir.select(fresh, zero, ir.load(ptr))
                        for j in range(count):
                            acc = self.fma(a[j], ir.load(ir.at(b[j], n)), acc)
                        ir.store(acc, ptr)

                    ir.loop(self.c(0), n_vec, self.c(lanes), vector)
                    ir.loop(n_vec, width, self.c(1), scalar)

                ir.loop(self.c(0), k_grouped, self.c(unroll), lambda k, _: rows_of_b(k, unroll))
                ir.loop(k_grouped, p["K"], self.c(1), lambda k, _: rows_of_b(k, 1))

                def no_k() -> None:  # K = 0: C = 0, or kept when accumulating
                    ir.loop(self.c(0), width, self.c(1), lambda n, _: ir.store(zero, ir.at(c0, n)))

                ir.if_(ir.emit(llvm.AndOp(fresh_c, ir.cmp("eq", p["K"], self.c(0)))), no_k)

                # The run's sums are complete: its epilogue, while the run is still in L1.
                def finished(t: Attribute) -> Callable[[SSAValue, list[SSAValue]], None]:
                    def apply(n: SSAValue, _: list[SSAValue]) -> None:
                        col, ptr = ir.add(n0, n), ir.at(c0, n)
                        value = ir.load(ptr, t, 4)
                        residual = ir.at(crow.residual, col)
                        ir.store(self.epilogue(value, crow.i, col, residual), ptr, 4)

                    return apply

                def epilogue() -> None:
                    ir.loop(self.c(0), n_vec, self.c(lanes), finished(self.vec))
                    ir.loop(n_vec, width, self.c(1), finished(F32))

                ir.if_(self.has_epilogue, epilogue)

            ir.loop(self.c(0), p["N"], self.c(AXPY_COLUMNS), run)

        self.each_row(row)

    def batch(self, b: SSAValue, _: list[SSAValue]) -> None:
        ir, s, p = self.ir, self.s, self.p
        self.a = ir.at(p["A"], (b, p["bsa"]))
        self.b = ir.at(p["B"], (b, p["bsb"]))
        self.cb = ir.at(p["C"], (b, p["bsc"]))
        self.rb = ir.at(self.residual, (b, p["bsc"]))

        def jc_loop(jc: SSAValue, _: list[SSAValue]) -> None:
            nc = ir.min(self.c(s.nc), ir.sub(p["N"], jc))

            def pc_loop(pc: SSAValue, _: list[SSAValue]) -> None:
                kc = ir.min(self.c(s.kc), ir.sub(p["K"], pc))
                if not self.packed_b:
                    self.pack_b(pc, jc, kc, nc)
                first_k = ir.cmp("eq", pc, self.c(0))
                overwrite = ir.emit(llvm.AndOp(first_k, ir.cmp("eq", p["accumulate"], self.c(0))))
                last_k = ir.cmp("eq", ir.add(pc, kc), p["K"])

                def ic_loop(ic: SSAValue, _: list[SSAValue]) -> None:
                    mc = ir.min(self.c(s.mc), ir.sub(p["M"], ic))
                    self.pack_a(ic, pc, mc, kc)

                    def jr_loop(jr: SSAValue, _: list[SSAValue]) -> None:
                        nr = ir.min(self.c(s.nr), ir.sub(nc, jr))

                        def ir_loop(i: SSAValue, _: list[SSAValue]) -> None:
                            mr = ir.min(self.c(s.mr), ir.sub(mc, i))
                            a_panel = ir.at(self.ap, (i, kc))
                            if self.packed_b:  # panel (jc+jr)/NR, row pc of it
                                col = ir.add(jc, jr)
                                b_panel = ir.at(self.b, (col, p["K"]), (pc, self.c(s.nr)))
                            else:
                                b_panel = ir.at(self.bp, (jr, kc))
                            row, col = ir.add(ic, i), ir.add(jc, jr)
                            offset = ir.add(ir.mul(row, p["ldc"]), col)
                            tile = Tile(row, col, ir.at(self.cb, offset), ir.at(self.rb, offset))
                            self.micro_for(kc, a_panel, b_panel, tile, mr, nr, overwrite, last_k)

                        ir.loop(self.c(0), mc, self.c(s.mr), ir_loop)

                    ir.loop(self.c(0), nc, self.c(s.nr), jr_loop)

                ir.loop(self.c(0), p["M"], self.c(s.mc), ic_loop)

            # At least one K block: with K = 0 (a `?` K empty at run time) it stores the
            # tile's zeros (or keeps C when accumulating) with the epilogue.
            k_end = ir.select(ir.cmp("slt", p["K"], self.c(1)), self.c(1), p["K"])
            ir.loop(self.c(0), k_end, self.c(s.kc), pc_loop)

        ir.loop(self.c(0), p["N"], self.c(s.nc), jc_loop)

    # -- packing ---------------------------------------------------------------------------

    def pack_b(self, pc: SSAValue, jc: SSAValue, kc: SSAValue, nc: SSAValue) -> None:
        """B[pc:+kc, jc:+nc] -> NR-column panels `bp[jp*kc + k*NR + j]`, zero past nc."""
        ir, s, p = self.ir, self.s, self.p
        full_panels = ir.mul(ir.emit(llvm.SDivOp(nc, self.c(s.nr))), self.c(s.nr))

        def gather(jp: SSAValue, _: list[SSAValue]) -> None:
            nr = ir.min(self.c(s.nr), ir.sub(nc, jp))
            dst = ir.at(self.bp, (jp, kc))
            col0 = ir.add(jc, jp)

            def row(k: SSAValue, _: list[SSAValue]) -> None:
                src = ir.at(self.b, (ir.add(pc, k), p["rsb"]))
                out = ir.at(dst, (k, self.c(s.nr)))
                self.pack_line(src, col0, p["csb"], nr, s.nr, out)

            ir.loop(self.c(0), kc, self.c(1), row)

        def rows() -> None:
            # Contiguous rows (B not transposed): read each row of the block once, in order,
            # and copy it panel by panel with vector moves; a strided walk down a column of
            # rows defeats the prefetcher and thrashes the cache sets (4 KB apart at N=1024).
            def row(k: SSAValue, _: list[SSAValue]) -> None:
                src = ir.at(self.b, (ir.add(pc, k), p["rsb"]), jc)

                def panel(jp: SSAValue, _: list[SSAValue]) -> None:
                    out = ir.at(self.bp, (jp, kc), (k, self.c(s.nr)))
                    for v in range(self.nv):
                        x = ir.load(ir.at(src, ir.add(jp, self.c(v * s.lanes))), self.vec, 4)
                        ir.store(x, ir.at(out, self.c(v * s.lanes)), 4 * s.lanes)

                ir.loop(self.c(0), full_panels, self.c(s.nr), panel)

            ir.loop(self.c(0), kc, self.c(1), row)
            ir.loop(full_panels, nc, self.c(s.nr), gather)

        unit = ir.cmp("eq", p["csb"], self.c(1))

        def gather_all() -> None:
            ir.loop(self.c(0), nc, self.c(s.nr), gather)

        ir.if_(unit, rows, gather_all)

    def pack_a(self, ic: SSAValue, pc: SSAValue, mc: SSAValue, kc: SSAValue) -> None:
        """A[ic:+mc, pc:+kc] -> MR-row panels `ap[ip*kc + k*MR + i]`, zero past mc."""
        ir, s, p = self.ir, self.s, self.p

        def panel(ip: SSAValue, _: list[SSAValue]) -> None:
            mr = ir.min(self.c(s.mr), ir.sub(mc, ip))
            dst = ir.at(self.ap, (ip, kc))
            row0 = ir.add(ic, ip)

            def col(k: SSAValue, _: list[SSAValue]) -> None:
                src = ir.at(self.a, (ir.add(pc, k), p["csa"]))
                out = ir.at(dst, (k, self.c(s.mr)))
                self.pack_line(src, row0, p["rsa"], mr, s.mr, out)

            ir.loop(self.c(0), kc, self.c(1), col)

        ir.loop(self.c(0), mc, self.c(s.mr), panel)

    def pack_line(
        self,
        src: SSAValue,
        first: SSAValue,
        stride: SSAValue,
        valid: SSAValue,
        n: int,
        out: SSAValue,
    ) -> None:
        """out[j] = src[(first + j) * stride] for j < valid, 0 for valid <= j < n. Reads are
        clamped to the last valid element, so none is out of bounds."""
        ir = self.ir

        def full() -> None:
            for j in range(n):
                x = ir.load(ir.at(src, (ir.add(first, self.c(j)), stride)))
                ir.store(x, ir.at(out, self.c(j)))

        def edge() -> None:  # rare: a loop, not unrolled (compile time)
            zero = ir.fconst(0.0)
            last = ir.sub(valid, self.c(1))

            def element(j: SSAValue, _: list[SSAValue]) -> None:
                x = ir.load(ir.at(src, (ir.add(first, ir.min(j, last)), stride)))
                ir.store(ir.select(ir.cmp("slt", j, valid), x, zero), ir.at(out, j))

            ir.loop(self.c(0), self.c(n), self.c(1), element)

        ir.if_(ir.cmp("eq", valid, self.c(n)), full, edge)

    # -- the microkernel ---------------------------------------------------------------------

    def fma(self, a: SSAValue, b: SSAValue, c: SSAValue) -> SSAValue:
        return self.ir.fma(a, b, c, self.fused)

    def splat(self, x: SSAValue) -> SSAValue:
        return self.ir.splat(x, self.vec)

    def micro_for(
        self,
        kc: SSAValue,
        a: SSAValue,
        b: SSAValue,
        c: Tile,
        mr: SSAValue,
        nr: SSAValue,
        overwrite: SSAValue,
        last_k: SSAValue,
    ) -> None:
        """The microkernel with the fewest rows (of `micro_rows`) that covers the panel's
        `mr` valid rows: the last panel of M = 32 on a 14-row tile has 4, and computing 14
        would be 31% more FMAs for the whole product."""
        rows = micro_rows(self.s.mr)

        def pick(k: int) -> None:
            if k == len(rows) - 1:
                self.micro(kc, a, b, c, mr, nr, overwrite, last_k, rows[k])
                return
            self.ir.if_(
                self.ir.cmp("sle", mr, self.c(rows[k])),
                lambda: self.micro(kc, a, b, c, mr, nr, overwrite, last_k, rows[k]),
                lambda: pick(k + 1),
            )

        pick(0)

    def micro(
        self,
        kc: SSAValue,
        a: SSAValue,
        b: SSAValue,
        tile: Tile,
        mr: SSAValue,
        nr: SSAValue,
        overwrite: SSAValue,
        last_k: SSAValue,
        rows: int,
    ) -> None:
        """The `rows` x NR tile over a packed A panel of MR rows (rows <= MR); after the last
        K block (`last_k`) the epilogue is applied on the tile before it is stored."""
        ir, s, nv = self.ir, self.s, self.nv
        c, ldc = tile.c, self.p["ldc"]
        vbytes = 4 * s.lanes
        zero = ir.emit(
            llvm.ConstantOp(DenseIntOrFPElementsAttr.from_list(self.vec, [0.0] * s.lanes), self.vec)
        )

        def step(k: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
            bk = ir.at(b, (k, self.c(s.nr)))
            bv = [ir.load(ir.at(bk, self.c(v * s.lanes)), self.vec, vbytes) for v in range(nv)]
            ak = ir.at(a, (k, self.c(s.mr)))
            out = list(acc)
            for i in range(rows):
                x = self.splat(ir.load(ir.at(ak, self.c(i))))
                for v in range(nv):
                    out[i * nv + v] = self.fma(x, bv[v], acc[i * nv + v])
            return out

        # The C tile is needed after the loop: its lines (rows ldc apart, which the hardware
        # prefetcher does not follow) are fetched while the FMAs run.
        for i in range(rows):
            row = ir.emit(llvm.BitcastOp(ir.at(c, (self.c(i), self.p["ldc"])), PTR))
            args = [row, ir.const(1, i32), ir.const(3, i32), ir.const(1, i32)]
            ir.emit(llvm.CallIntrinsicOp("llvm.prefetch.p0", args, []))
        acc = ir.loop(self.c(0), kc, self.c(1), step, [zero] * (rows * nv))
        full = ir.emit(llvm.AndOp(ir.cmp("eq", mr, self.c(rows)), ir.cmp("eq", nr, self.c(s.nr))))

        def finished(value: SSAValue, i: SSAValue, j: SSAValue) -> SSAValue:
            """`value` at the tile's (i, j) of an edge tile: after the last K block, the
            epilogue (computed in every block, selected in the last: one version of the code)."""
            at = ir.add(ir.mul(i, ldc), j)
            done = self.epilogue(
                value, ir.add(tile.row, i), ir.add(tile.col, j), ir.at(tile.residual, at)
            )
            return ir.select(last_k, done, value)

        def store_full(epilogue: bool) -> None:
            # One version for overwrite and accumulate (compile time): C was prefetched,
            # reading it is cheap; one with the epilogue (the last K block), one without.
            for i in range(rows):
                row = ir.at(c, (self.c(i), ldc))
                for v in range(nv):
                    ptr = ir.at(row, self.c(v * s.lanes))
                    value = acc[i * nv + v]
                    summed = ir.emit(llvm.FAddOp(ir.load(ptr, self.vec, 4), value))
                    value = ir.select(overwrite, value, summed)
                    if epilogue:
                        at = ir.add(tile.row, self.c(i)), ir.add(tile.col, self.c(v * s.lanes))
                        offset = ir.add(ir.mul(self.c(i), ldc), self.c(v * s.lanes))
                        value = self.epilogue(value, *at, ir.at(tile.residual, offset))
                    ir.store(value, ptr, 4)

        def store_tile() -> None:
            with_epilogue = ir.emit(llvm.AndOp(last_k, self.has_epilogue))
            ir.if_(with_epilogue, lambda: store_full(True), lambda: store_full(False))

        def store_edge() -> None:
            for i in range(rows):
                for v in range(nv):
                    ptr = ir.at(self.tile, self.c(i * s.nr + v * s.lanes))
                    ir.store(acc[i * nv + v], ptr, vbytes)

            def row(i: SSAValue, _: list[SSAValue]) -> None:
                def col(j: SSAValue, _: list[SSAValue]) -> None:
                    t = ir.load(ir.at(self.tile, (i, self.c(s.nr)), j))
                    ptr = ir.at(c, (i, ldc), j)
                    summed = ir.emit(llvm.FAddOp(ir.load(ptr), t))
                    ir.store(finished(ir.select(overwrite, t, summed), i, j), ptr)

                ir.loop(self.c(0), nr, self.c(1), col)

            ir.loop(self.c(0), mr, self.c(1), row)

        ir.if_(full, store_tile, store_edge)
