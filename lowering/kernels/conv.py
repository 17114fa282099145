"""A shape-generic float32 conv2d routine for blocked layouts, one `llvm.func` with vector types.

    Y = clip(conv2d(X, W) + bias + residual, lo, hi)       (bias and residual optional)

with data X in NCHW{IC}c (`[N, G*C, H, WI, IC]`, C input-channel blocks of IC per group),
weight W in OIHW{IC}i{L}o (`[G*OB, C, KH, KW, IC, L]`) and result Y in NCHW{L}c
(`[N, G*OB, OH, OW, L]`), L the target's float32 lanes, G the groups (1 for a plain conv):
output block ob belongs to group ob // OB and reads only that group's C input blocks, so a
grouped conv (ShuffleNet's) does its own multiply-adds only, in one call. Sizes, strides,
padding and dilation are arguments, so every conv of a network (1x1, 3x3, strided, a 7x7 over
3 channels, grouped) calls the same code and the module's compile time does not grow with its
number of layers.

Direct convolution with a register tile of T output columns x V output-channel vectors
(a group's last OB mod V blocks in a tile of as many): T x V vector accumulators, one
broadcast input element times V weight vectors per step (`llvm.intr.fma`). For each tile
the reductions run over input-channel blocks, kernel rows, kernel columns and the IC
channels of a block; with
dilation 1 a kernel row's columns and channels are one contiguous run in both X and W, so
they are one loop. Padding is the routine's: a tile whose columns' taps are all inside the
image (its row's valid kernel rows) takes that fast path; a checked tile (the left and right
borders, the last pixels of a row) tests each tap of each column once, outside the loop over
a block's channels, and reads zeros for a tap outside. Rows of fewer than PAD_COPY_COLUMNS
tiles would lose much to their borders: such a padded image is copied into a zero-padded
scratch first (one image at a time, into cache). Without padding (or in the scratch) the
OH x OW pixels are one flat run cut in bands, so a tile's T pixels may cross ends of output
rows (the 7-wide rows of a late layer are not 12 = 7 + 5 wasted), and a band's last pixels
go in narrower fast tiles (8, 4, 2, 1 columns) instead of a checked one.

A row's tiles reduce over chunks of the input blocks whose weights (for the tile's V output
blocks) fit CHUNK_BYTES, every tile of the row per chunk: the tiles re-read a chunk's weights
from L2, not from beyond it; a chunk after the first starts from the partial sums the one
before left in Y, and only the last applies the epilogue.

The loops over sets of V channel blocks and output rows are ordered by cache traffic (whichever
of the image and the weights would be re-read from beyond L2 fewer bytes goes inside). Their
iterations, per image, are the routine's work items, which the thread pool splits in
contiguous runs (`build_conv_rows`): each output element is computed by one item, in the same
order at any thread count. The images go one parallel region at a time, after the image's
scratch copy when there is one (the scratch holds one image).

The epilogue is applied to the tile in registers at the store: the per-channel bias
(`flags & 1`), the residual (`flags & 2`, Y's shape) and the clip to [lo, hi] (relu is
[0, inf], none is [-inf, inf]; a NaN stays NaN), so the output is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects import llvm
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    IntegerType,
    VectorType,
    i64,
)
from xdsl.ir import Block, Region, SSAValue

from relay_opt.lowering.kernels.gemm import _IR, F32, PARALLEL_MIN_MACS, PTR
from relay_opt.lowering.kernels.routine import KERNEL_ERROR_GLOBAL, Kernel, routine_function
from relay_opt.lowering.kernels.target import Target

CONV_PARAMS = (
    "X", "W", "Y", "bias", "residual",
    "N", "C", "IC", "H", "WI", "OB", "G", "OH", "OW", "KH", "KW",
    "SH", "SW", "PH", "PW", "DH", "DW", "flags", "lo", "hi",
)  # fmt: skip
"""The routine's parameters in order: five pointers (bias and residual may be anything when
their flag is off), i64 sizes (C and OB per group, G groups), strides, padding (top, left),
dilation and flags, then the float32 clip bounds."""

CONV_TYPES = (*([PTR] * 5), *([i64] * (len(CONV_PARAMS) - 7)), F32, F32)

HAS_BIAS = 1
HAS_RESIDUAL = 2

PAD_COPY_COLUMNS = 8
"""A padded conv whose output rows are narrower than this many tiles reads a zero-padded copy
of each image (made by the routine); wider rows read the image itself, their borders in
checked tiles."""

CACHE_BYTES = 256 * 1024
"""What a stream may take of the L2 cache and still be reused from it (half of Zen 3's)."""


CHUNK_BYTES = 64 * 1024
"""What one set of V output blocks' weights may take per reduction chunk: the tiles of a row
re-read them from L2 rather than from beyond (ResNet-50's last 3x3s hold 1.2 MB per set)."""


@dataclass(frozen=True)
class ConvTile:
    """The register tile for one target: `columns` x `vectors` accumulators."""

    columns: int
    vectors: int
    lanes: int

    @staticmethod
    def for_target(target: Target) -> ConvTile:
        lanes = target.lanes(32)
        # 6 x 2 accumulators, 2 weight vectors and a broadcast fit AVX2's 16 registers.
        # AVX-512 has 32: 6 x 4 (29 registers) loads 10 vectors per 24 FMAs where 12 x 2
        # loads 14, and its smaller tail suits the 49 pixels of a 7x7 image (ResNet-50's
        # convs on Rocket Lake, kernel only: 110 GFLOP/s against 103 at 12 x 2).
        if target.vector_bits >= 512:
            return ConvTile(columns=6, vectors=4, lanes=lanes)
        return ConvTile(columns=6, vectors=2, lanes=lanes)


def conv_name(target: Target) -> str:
    t = ConvTile.for_target(target)
    return f"relay_opt_conv2d_nchw{t.lanes}c_{t.columns}x{t.vectors}"


def build_conv(
    target: Target, tile: ConvTile | None = None, linkage: str = "external"
) -> llvm.FuncOp:
    """The routine `conv_name(target)(X, W, Y, bias, residual, N, C, IC, H, WI, OB, G, OH,
    OW, KH, KW, SH, SW, PH, PW, DH, DW, flags, lo, hi)`; `tile` overrides the target's. It runs
    its work items on the thread pool (`build_conv_rows`, defined beside it)."""
    t = tile or ConvTile.for_target(target)
    return routine_function(
        conv_name(target),
        CONV_PARAMS,
        CONV_TYPES,
        lambda region, entry, params: _Conv(_IR(region, entry), t, params, target.fma).build(
            f"{conv_name(target)}_rows"
        ),
        linkage,
    )


TASK_SLOTS = len(CONV_PARAMS) + 2
"""A task's context: CONV_PARAMS (8 bytes each, X etc. already the scratch's when the image
was copied), then the image n and the image of X it reads (0 in the scratch)."""


def build_conv_rows(target: Target, tile: ConvTile | None = None) -> llvm.FuncOp:
    """`conv_name(target)_rows(ctx, begin, end)`: work items [begin, end) of one image (an
    output row, or all of its pixels, of a set of V channel blocks or of a group's last blocks), the
    parameters read from `ctx` (TASK_SLOTS): one thread's task (lowering/kernels/
    thread_pool.py). Every output element is computed by one item in the same order at any
    thread count, so the result is bit-identical."""
    from relay_opt.lowering.kernels.thread_pool import BODY_TYPE

    t = tile or ConvTile.for_target(target)
    entry = Block(arg_types=list(BODY_TYPE.inputs))
    region = Region(entry)
    ir = _IR(region, entry)
    ctx, begin, end = entry.args
    p = ir.task_params(ctx, CONV_PARAMS, CONV_TYPES)
    n = ir.emit(llvm.LoadOp(ir.task_slot(ctx, len(CONV_PARAMS)), i64, alignment=8))
    conv = _Conv(ir, t, p, target.fma)
    conv.x_n = ir.emit(llvm.LoadOp(ir.task_slot(ctx, len(CONV_PARAMS) + 1), i64, alignment=8))
    conv.plan()
    conv.items(n, begin, end)
    ir.emit(llvm.ReturnOp(ir.const(0)))
    return llvm.FuncOp(
        f"{conv_name(target)}_rows", BODY_TYPE, linkage=llvm.LinkageAttr("internal"), body=region
    )


CONV_KERNEL = Kernel(
    name=conv_name,
    params=CONV_TYPES,
    build=build_conv,
    helpers=lambda target: [build_conv_rows(target)],
)
"""The blocked conv2d as a routine of the kernel library (its work items are a thread-pool
task)."""


class _Conv:
    x_n: SSAValue
    """The image of X the tiles read (0 in the padded scratch, which holds one image)."""
    chunk_lo: SSAValue
    chunk_hi: SSAValue
    """The input-channel blocks [chunk_lo, chunk_hi) the tiles being emitted reduce over."""
    first_chunk: SSAValue | None = None
    last_chunk: SSAValue | None = None
    """Whether those are the first (the tiles start from zero, else from Y's partial sums) and
    the last (the epilogue is applied at the store); None: the tiles reduce over all blocks."""

    def __init__(self, ir: _IR, t: ConvTile, p: dict[str, SSAValue], fused: bool):
        self.ir, self.t, self.p, self.fused = ir, t, p, fused
        self.vec = VectorType(F32, [t.lanes])

    def c(self, v: int) -> SSAValue:
        return self.ir.const(v)

    def div(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.ir.emit(llvm.SDivOp(a, b))

    def max(self, a: SSAValue, b: SSAValue) -> SSAValue:
        ir = self.ir
        return ir.select(ir.cmp("sgt", a, b), a, b)

    def valid_taps(
        self, first: SSAValue, size: SSAValue, taps: SSAValue, dilation: SSAValue, pad: SSAValue
    ) -> tuple[SSAValue, SSAValue]:
        """[lo, hi): the taps k < `taps` with 0 <= first + k*dilation - pad < size."""
        ir = self.ir
        zero = self.c(0)
        before = ir.sub(pad, first)  # taps needed to get inside: ceil(before / dilation)
        lo = ir.select(
            ir.cmp("sgt", before, zero),
            self.div(ir.add(before, ir.sub(dilation, self.c(1))), dilation),
            zero,
        )
        last = ir.sub(ir.add(size, before), self.c(1))  # the last valid tap: last / dilation
        count = ir.min(taps, ir.add(self.div(last, dilation), self.c(1)))
        hi = ir.select(ir.cmp("slt", last, zero), zero, count)
        return lo, hi

    def fma(self, a: SSAValue, b: SSAValue, c: SSAValue) -> SSAValue:
        return self.ir.fma(a, b, c, self.fused)

    def splat(self, x: SSAValue) -> SSAValue:
        return self.ir.splat(x, self.vec)

    def vsplat_const(self, value: float) -> SSAValue:
        return self.ir.emit(
            llvm.ConstantOp(
                DenseIntOrFPElementsAttr.from_list(self.vec, [value] * self.t.lanes), self.vec
            )
        )

    def build(self, task: str) -> None:
        """The routine: the scratch decision, then each image's work items across the pool."""
        ir, p = self.ir, self.p
        one, zero = self.c(1), self.c(0)
        self.cx = ir.mul(p["G"], p["C"])  # X's channel blocks
        self.x_image = ir.mul(ir.mul(ir.mul(self.cx, p["H"]), p["WI"]), p["IC"])
        # Rows of fewer than PAD_COPY_COLUMNS tiles lose much to their border tiles: such a
        # padded image (a small one) is copied, one image at a time, into a zero-padded
        # scratch that the routine then reads without padding (all pixels as one row). The
        # scratch also gets the right and bottom padding the outputs reach.
        self.oy_lo, self.oy_hi = self.interior(p["OH"], p["H"], p["KH"], p["SH"], p["PH"], p["DH"])
        self.ox_lo, self.ox_hi = self.interior(p["OW"], p["WI"], p["KW"], p["SW"], p["PW"], p["DW"])
        narrow = ir.cmp("slt", p["OW"], self.c(PAD_COPY_COLUMNS * self.t.columns))
        self.copy = ir.emit(llvm.AndOp(narrow, self.not_(self.all_inside())))
        self.h_pad = self.max(
            ir.add(p["PH"], p["H"]),
            ir.add(ir.mul(ir.sub(p["OH"], one), p["SH"]), ir.add(self.span(p["KH"], p["DH"]), one)),
        )
        self.w_pad = self.max(
            ir.add(p["PW"], p["WI"]),
            ir.add(ir.mul(ir.sub(p["OW"], one), p["SW"]), ir.add(self.span(p["KW"], p["DW"]), one)),
        )
        padded = ir.mul(ir.mul(ir.mul(self.cx, self.h_pad), self.w_pad), p["IC"])
        scratch_bytes = ir.select(self.copy, ir.mul(padded, self.c(4)), one)
        scratch = ir.emit(llvm.CallOp("malloc", scratch_bytes, return_type=PTR))
        self.source = {k: p[k] for k in ("X", "H", "WI", "PH", "PW")}
        self.p = p = dict(p)
        p["X"] = ir.select(self.copy, scratch, p["X"])
        p["H"] = ir.select(self.copy, self.h_pad, p["H"])
        p["WI"] = ir.select(self.copy, self.w_pad, p["WI"])
        p["PH"] = ir.select(self.copy, zero, p["PH"])
        p["PW"] = ir.select(self.copy, zero, p["PW"])

        def out_of_memory() -> None:  # reported through the error cell; Y is not written
            cell = ir.emit(llvm.AddressOfOp(KERNEL_ERROR_GLOBAL, PTR))
            ir.emit(llvm.StoreOp(scratch_bytes, cell, alignment=8))

        def compute() -> None:
            self.run_images(task)
            ir.emit(llvm.CallOp("free", scratch))

        address = ir.emit(llvm.PtrToIntOp(scratch, i64))
        ir.if_(ir.cmp("eq", address, zero), out_of_memory, compute)
        ir.emit(llvm.ReturnOp())

    def not_(self, a: SSAValue) -> SSAValue:
        return self.ir.emit(llvm.XOrOp(a, self.ir.const(1, IntegerType(1))))

    def span(self, taps: SSAValue, dilation: SSAValue) -> SSAValue:
        return self.ir.mul(self.ir.sub(taps, self.c(1)), dilation)

    def all_inside(self) -> SSAValue:
        """Whether every tap of every output pixel is inside the image."""
        ir, p, zero = self.ir, self.p, self.c(0)
        rows = ir.emit(
            llvm.AndOp(ir.cmp("eq", self.oy_lo, zero), ir.cmp("eq", self.oy_hi, p["OH"]))
        )
        columns = ir.emit(
            llvm.AndOp(ir.cmp("eq", self.ox_lo, zero), ir.cmp("eq", self.ox_hi, p["OW"]))
        )
        return ir.emit(llvm.AndOp(rows, columns))

    def pad_image(self, n: SSAValue) -> None:
        """Image n of the source into the scratch (p["X"]) with its zero padding."""
        ir, p, src = self.ir, self.p, self.source
        one, zero = self.c(1), self.c(0)
        zero_f = self.ir.fconst(0.0)
        row_out = ir.mul(p["WI"], p["IC"])
        row_in = ir.mul(src["WI"], p["IC"])
        left = ir.mul(src["PW"], p["IC"])
        filled = ir.add(left, row_in)
        image = ir.at(src["X"], (n, self.x_image))

        def row(r: SSAValue, _: list[SSAValue]) -> None:  # r over G * C * h_pad scratch rows
            cb = self.div(r, p["H"])
            iy = ir.sub(ir.sub(r, ir.mul(cb, p["H"])), src["PH"])
            out = ir.at(p["X"], (r, row_out))
            inside = ir.cmp("ult", iy, src["H"])

            def zeros(lo: SSAValue, hi: SSAValue) -> None:
                ir.loop(lo, hi, one, lambda i, _: ir.store(zero_f, ir.at(out, i)))

            def copy() -> None:
                zeros(zero, left)
                x = ir.at(image, (ir.add(ir.mul(cb, src["H"]), iy), row_in))
                ir.loop(
                    zero,
                    row_in,
                    one,
                    lambda i, _: ir.store(ir.load(ir.at(x, i)), ir.at(out, ir.add(left, i))),
                )
                zeros(filled, row_out)

            ir.if_(inside, copy, lambda: zeros(zero, row_out))

        ir.loop(zero, ir.mul(self.cx, p["H"]), one, row)

    def run_images(self, task: str) -> None:
        """Per image: its scratch copy (when the routine copies), then its work items on the
        thread pool, the parameters in a context (TASK_SLOTS)."""
        from relay_opt.lowering.kernels.thread_pool import PARALLEL_FOR

        ir, p = self.ir, self.p
        zero, one = self.c(0), self.c(1)
        self.plan()
        ctx = ir.emit(llvm.AllocaOp(self.c(TASK_SLOTS), i64, alignment=8))

        def slot(k: int) -> SSAValue:
            return ir.emit(llvm.BitcastOp(ir.gep(ctx, self.c(k), elem=i64), PTR))

        for k, name in enumerate(CONV_PARAMS):
            value = p[name]
            if isinstance(value.type, llvm.LLVMPointerType):
                value = ir.emit(llvm.PtrToIntOp(value, i64))
            ir.emit(llvm.StoreOp(value, slot(k), alignment=4 if value.type == F32 else 8))
        per_item = ir.mul(
            ir.mul(self.row_len, self.c(self.t.lanes * self.t.vectors)),
            ir.mul(ir.mul(p["C"], p["IC"]), ir.mul(p["KH"], p["KW"])),
        )
        grain = self.div(self.c(PARALLEL_MIN_MACS), ir.add(per_item, one))
        address = ir.emit(llvm.AddressOfOp(task, PTR))

        def image(n: SSAValue, _: list[SSAValue]) -> None:
            ir.if_(self.copy, lambda: self.pad_image(n))
            ir.emit(llvm.StoreOp(n, slot(len(CONV_PARAMS)), alignment=8))
            x_n = ir.select(self.copy, zero, n)  # the scratch holds one image
            ir.emit(llvm.StoreOp(x_n, slot(len(CONV_PARAMS) + 1), alignment=8))
            ir.emit(
                llvm.CallOp(PARALLEL_FOR, address, ctx, self.image_items, grain, return_type=i64)
            )

        ir.loop(zero, p["N"], one, image)

    def plan(self) -> None:
        """Derived sizes, the loop order and the work items (once per call, and per task)."""
        ir, p, lanes = self.ir, self.p, self.t.lanes
        one = self.c(1)
        self.cx = ir.mul(p["G"], p["C"])
        self.oy_lo, self.oy_hi = self.interior(p["OH"], p["H"], p["KH"], p["SH"], p["PH"], p["DH"])
        self.ox_lo, self.ox_hi = self.interior(p["OW"], p["WI"], p["KW"], p["SW"], p["PW"], p["DW"])
        self.ic_lanes = ir.mul(p["IC"], self.c(lanes))
        self.w_block = ir.mul(ir.mul(ir.mul(p["C"], p["KH"]), p["KW"]), self.ic_lanes)
        self.w_row = ir.mul(p["KW"], self.ic_lanes)
        self.x_row = ir.mul(p["WI"], p["IC"])
        self.x_col = ir.mul(p["SW"], p["IC"])
        self.unit_dw = ir.cmp("eq", p["DW"], one)
        # Epilogue operands: without a bias, a zero vector read at every block; without a
        # residual, Y itself is read (a valid address) and the sum is not selected.
        # (The checked tile reads its taps outside the image from it too: max(IC, L) zeros.)
        zeros = ir.emit(llvm.AllocaOp(self.max(p["IC"], self.c(lanes)), F32, alignment=64))
        zero_f = ir.fconst(0.0)
        ir.loop(
            self.c(0),
            self.max(p["IC"], self.c(lanes)),
            one,
            lambda i, _: ir.store(zero_f, ir.at(zeros, i)),
        )
        self.zeros = zeros
        flags = p["flags"]
        zero = self.c(0)
        has_bias = ir.cmp("ne", ir.emit(llvm.AndOp(flags, self.c(HAS_BIAS))), zero)
        self.has_res = ir.cmp("ne", ir.emit(llvm.AndOp(flags, self.c(HAS_RESIDUAL))), zero)
        self.bias = ir.select(has_bias, p["bias"], zeros)
        self.bias_step = ir.select(has_bias, self.c(lanes), zero)
        self.res = ir.select(self.has_res, p["residual"], p["Y"])
        self.lo = self.splat(p["lo"])
        self.hi = self.splat(p["hi"])

        v = self.t.vectors

        # Sets of V blocks go within a group (`sets` of them per group, G * sets in all).
        self.sets = self.div(p["OB"], self.c(v))
        sets = ir.mul(p["G"], self.sets)
        self.rest = ir.sub(p["OB"], ir.mul(self.sets, self.c(v)))  # a group's last < V blocks
        # Loop order: block sets outside rows keeps a set's weights in cache while the image
        # (its group's part) streams past once per set; rows outside block sets keeps a row's
        # input in cache while all weights stream past once per row. Whichever re-reads fewer
        # bytes from beyond L2 (a stream that fits in CACHE_BYTES is free).
        image_bytes = ir.mul(ir.mul(ir.mul(p["C"], p["H"]), self.x_row), self.c(4))
        weight_bytes = ir.mul(ir.mul(ir.mul(p["G"], p["OB"]), self.w_block), self.c(4))
        budget = self.c(CACHE_BYTES)
        image_cost = ir.select(ir.cmp("sgt", image_bytes, budget), ir.mul(image_bytes, sets), zero)
        weight_cost = ir.select(
            ir.cmp("sgt", weight_bytes, budget), ir.mul(weight_bytes, p["OH"]), zero
        )
        rows_outer = ir.cmp("slt", weight_cost, image_cost)
        # Reduction chunks of input blocks whose weights for a set fit CHUNK_BYTES; a chunk
        # after the first adds to the partial sums its tiles left in Y.
        set_block = ir.mul(ir.mul(ir.mul(p["KH"], p["KW"]), self.ic_lanes), self.c(4 * v))
        self.chunk = self.max(self.div(self.c(CHUNK_BYTES), set_block), one)

        # Pixels go in rows of `row_len`: output rows, or, when every tap of every pixel is
        # inside the image (no padding, or the padded scratch), bands of the OH x OW pixels
        # taken as one flat run: tiles then cross the ends of output rows, so the 7- and
        # 14-wide rows of late layers waste no tile columns at their ends. A band is all the
        # pixels with the block sets outside, else about one output row (whole tiles).
        pixels = ir.mul(p["OH"], p["OW"])
        cols = self.c(self.t.columns)
        whole = self.all_inside()
        band = ir.select(
            rows_outer, ir.mul(self.div(ir.add(p["OW"], ir.sub(cols, one)), cols), cols), pixels
        )
        rows = ir.select(whole, self.div(ir.add(pixels, ir.sub(band, one)), band), p["OH"])
        self.row_len = ir.select(whole, band, p["OW"])
        self.pixels, self.whole = pixels, whole
        # An output row's tiles: checked ones from 0 over the left border [0, ox_lo), fast
        # ones while they end by ox_hi, checked ones for the rest (the right border, the last
        # pixels). A band's are fast ones, then narrower fast ones for its last pixels.
        self.fast_lo = ir.mul(self.div(ir.add(self.ox_lo, ir.sub(cols, one)), cols), cols)
        fast_tiles = self.div(ir.sub(self.ox_hi, self.fast_lo), cols)
        self.fast_hi = ir.add(self.fast_lo, ir.mul(self.max(fast_tiles, zero), cols))
        self.rows_outer = rows_outer
        self.inner = ir.select(rows_outer, sets, rows)
        # Work items of an image: each (block set, row) in loop order, then each row of each
        # group's last blocks (fewer than V); a thread takes a contiguous run of them (the
        # cache order holds inside).
        rest_items = ir.select(ir.cmp("sgt", self.rest, zero), ir.mul(p["G"], rows), zero)
        self.rows = rows
        self.set_items = ir.mul(sets, rows)
        self.image_items = ir.add(self.set_items, rest_items)

    def items(self, n: SSAValue, begin: SSAValue, end: SSAValue) -> None:
        """Work items [begin, end) of image n (`plan` first; `x_n` set)."""
        ir, v = self.ir, self.t.vectors

        def item(r: SSAValue, _: list[SSAValue]) -> None:
            def full_set() -> None:
                a = self.div(r, self.inner)
                b = ir.sub(r, ir.mul(a, self.inner))
                s = ir.select(self.rows_outer, b, a)  # group g's set k: g * sets + k
                g = self.div(s, self.sets)
                k = ir.sub(s, ir.mul(g, self.sets))
                ob = ir.add(ir.mul(g, self.p["OB"]), ir.mul(k, self.c(v)))
                self.row(n, ob, ir.select(self.rows_outer, a, b), v)

            def last_blocks() -> None:  # group g's last `rest` blocks, in one tile of as many
                q = ir.sub(r, self.set_items)
                g = self.div(q, self.rows)
                first = ir.sub(ir.mul(ir.add(g, self.c(1)), self.p["OB"]), self.rest)
                row = ir.sub(q, ir.mul(g, self.rows))
                for k in range(1, v):
                    ir.if_(
                        ir.cmp("eq", self.rest, self.c(k)),
                        lambda k=k: self.row(n, first, row, k),
                    )

            ir.if_(ir.cmp("slt", r, self.set_items), full_set, last_blocks)

        ir.loop(begin, end, self.c(1), item)

    def interior(
        self, out: SSAValue, size: SSAValue, taps: SSAValue, stride: SSAValue, pad: SSAValue,
        dilation: SSAValue,
    ) -> tuple[SSAValue, SSAValue]:  # fmt: skip
        """[lo, hi): the outputs along one axis whose taps are all inside [0, size)."""
        ir, one, zero = self.ir, self.c(1), self.c(0)
        span = ir.mul(ir.sub(taps, one), dilation)
        lo = ir.min(self.div(ir.add(pad, ir.sub(stride, one)), stride), out)
        last = ir.sub(ir.add(size, pad), ir.add(span, one))
        hi = ir.select(
            ir.cmp("slt", last, zero), zero, ir.min(out, ir.add(self.div(last, stride), one))
        )
        return lo, self.max(hi, lo)

    def row(self, n: SSAValue, ob: SSAValue, r: SSAValue, vectors: int) -> None:
        """Row r of pixels (`row_len` of them, fewer in the last band) of channel blocks
        ob..ob+vectors-1, in tiles of T: fast tiles (the row's valid kernel rows, every kernel
        column) where all columns' taps are inside the image, checked tiles at an output row's
        borders and last pixels; a band's last pixels in narrower fast tiles."""
        ir, p = self.ir, self.p
        cols = self.c(self.t.columns)
        zero = self.c(0)
        # (A band has no padding: every kernel row is valid.)
        ky_lo, ky_hi = self.valid_taps(ir.mul(r, p["SH"]), p["H"], p["KH"], p["DH"], p["PH"])
        ky = (ir.select(self.whole, zero, ky_lo), ir.select(self.whole, p["KH"], ky_hi))
        full_kx = (zero, p["KW"])
        first = ir.mul(r, self.row_len)
        end = ir.min(ir.add(first, self.row_len), self.pixels)
        length = ir.sub(end, first)
        fast_hi = ir.select(self.whole, ir.mul(self.div(length, cols), cols), self.fast_hi)

        def checked(x: SSAValue, _: list[SSAValue]) -> None:
            self.checked_tile(n, ob, ir.add(first, x), end, vectors)

        def chunk(lo: SSAValue, _: list[SSAValue]) -> None:  # input blocks [lo, lo + chunk)
            self.chunk_lo, self.chunk_hi = lo, ir.min(ir.add(lo, self.chunk), p["C"])
            self.first_chunk = ir.cmp("eq", lo, zero)
            self.last_chunk = ir.cmp("eq", self.chunk_hi, p["C"])
            ir.loop(zero, self.fast_lo, cols, checked)
            ir.loop(
                self.fast_lo,
                fast_hi,
                cols,
                lambda x, _: self.tile(
                    n, ob, ir.add(first, x), ky, full_kx, self.t.columns, vectors
                ),
            )

            def band_end() -> None:  # the rest (< T pixels) as fast tiles of 2^k columns
                rest = ir.sub(length, fast_hi)
                start = ir.add(first, fast_hi)
                width = 1 << (self.t.columns - 1).bit_length()
                while width > 1:
                    width //= 2
                    done = ir.emit(llvm.AndOp(rest, self.c(-2 * width)))  # the wider ones'
                    bit = ir.cmp("ne", ir.emit(llvm.AndOp(rest, self.c(width))), zero)
                    at = ir.add(start, done)
                    ir.if_(
                        bit, lambda w=width, at=at: self.tile(n, ob, at, ky, full_kx, w, vectors)
                    )

            def row_end() -> None:  # an output row's right border and last pixels
                ir.loop(fast_hi, self.row_len, cols, checked)

            ir.if_(self.whole, band_end, row_end)

        ir.loop(zero, p["C"], self.chunk, chunk)

    def tile(
        self,
        n: SSAValue,
        ob: SSAValue,
        pixel: SSAValue,
        ky: tuple[SSAValue, SSAValue],
        kx: tuple[SSAValue, SSAValue],
        columns: int,
        vectors: int,
    ) -> None:
        """Pixels pixel..pixel+columns-1 (row-major over OH x OW; row ends among them only
        without padding), channel blocks ob..ob+vectors-1: the reductions over the valid taps `ky` x
        `kx`, then the epilogue and the store."""
        ir, p, lanes = self.ir, self.p, self.t.lanes
        one = self.c(1)
        oy = self.div(pixel, p["OW"])
        ox = ir.sub(pixel, ir.mul(oy, p["OW"]))
        # Column t's input is `shift[t]` elements after column 0's: one column on from column
        # t - 1's, and at each output row end it passes one row down and OW columns back.
        down = ir.sub(ir.mul(p["SH"], self.x_row), ir.mul(p["OW"], self.x_col))
        shift = [self.c(0)]
        col = ox
        for _ in range(1, columns):
            col = ir.add(col, one)
            wraps = ir.cmp("sge", col, p["OW"])
            col = ir.select(wraps, self.c(0), col)
            along = ir.add(shift[-1], self.x_col)
            shift.append(ir.select(wraps, ir.add(along, down), along))
        # With dilation 1, a kernel row's valid columns and their channels are contiguous in X
        # and W: one loop of (kx_hi - kx_lo) * IC steps; otherwise one loop per column.
        kx_lo, kx_hi = kx
        kx_end = ir.select(self.unit_dw, ir.add(kx_lo, one), kx_hi)
        run = ir.select(self.unit_dw, ir.mul(ir.sub(kx_hi, kx_lo), p["IC"]), p["IC"])
        x_first = ir.sub(ir.mul(ox, p["SW"]), p["PW"])  # the tile's first column, at kx = 0
        w_first = ir.mul(ob, self.w_block)
        y_first = ir.sub(ir.mul(oy, p["SH"]), p["PH"])
        x_group = self.group_blocks(ob)

        def block(cb: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
            x_cb = ir.mul(ir.add(x_group, cb), p["H"])
            w_cb = ir.add(w_first, ir.mul(cb, ir.mul(p["KH"], self.w_row)))

            def kernel_row(k: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
                iy = ir.add(y_first, ir.mul(k, p["DH"]))
                x_r = ir.mul(ir.add(x_cb, iy), self.x_row)
                w_r = ir.add(w_cb, ir.mul(k, self.w_row))

                def kernel_col(j: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
                    ix = ir.add(x_first, ir.mul(j, p["DW"]))
                    xp = ir.at(p["X"], ir.add(x_r, ir.mul(ix, p["IC"])))
                    wp = ir.at(p["W"], ir.add(w_r, ir.mul(j, self.ic_lanes)))

                    def step(i: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
                        wi = ir.at(wp, (i, self.c(lanes)))
                        w = [
                            ir.load(ir.at(wi, (self.c(v), self.w_block)) if v else wi, self.vec, 4)
                            for v in range(vectors)
                        ]
                        out = list(acc)
                        for t in range(columns):
                            xt = ir.at(xp, shift[t], i) if t else ir.at(xp, i)
                            x = self.splat(ir.load(xt))
                            for v in range(vectors):
                                out[t * vectors + v] = self.fma(x, w[v], acc[t * vectors + v])
                        return out

                    return ir.loop(self.c(0), run, one, step, acc)

                return ir.loop(kx_lo, kx_end, one, kernel_col, acc)

            return ir.loop(ky[0], ky[1], one, kernel_row, acc)

        init = self.partial_sums(n, ob, [ir.add(pixel, self.c(t)) for t in range(columns)], vectors)
        acc = ir.loop(self.chunk_lo, self.chunk_hi, one, block, init)
        self.store(acc, n, ob, pixel, columns, vectors)

    def group_blocks(self, ob: SSAValue) -> SSAValue:
        """The first of X's channel blocks (image x_n, all groups) that output block ob reads:
        its group's."""
        ir, p = self.ir, self.p
        group = self.div(ob, p["OB"])
        return ir.add(ir.mul(self.x_n, self.cx), ir.mul(group, p["C"]))

    def checked_tile(
        self, n: SSAValue, ob: SSAValue, pixel: SSAValue, end: SSAValue, vectors: int
    ) -> None:
        """Pixels pixel..pixel+T-1 (row-major over OH x OW, those from `end` on left out), channel
        blocks ob..ob+vectors-1, every tap checked per pixel: a tap outside the image (the
        padding) reads zeros. The check is per kernel tap and pixel, outside the loop over a
        block's IC channels."""
        ir, p = self.ir, self.p
        columns, lanes = self.t.columns, self.t.lanes
        one, zero = self.c(1), self.c(0)
        live, iy0, ix0 = [], [], []
        for t in range(columns):
            pt = ir.add(pixel, self.c(t)) if t else pixel
            alive = ir.cmp("slt", pt, end)
            oy = self.div(pt, p["OW"])
            ox = ir.sub(pt, ir.mul(oy, p["OW"]))
            live.append(alive)
            # A pixel left out reads only zeros: its first input row is past the image.
            iy0.append(ir.select(alive, ir.sub(ir.mul(oy, p["SH"]), p["PH"]), p["H"]))
            ix0.append(ir.sub(ir.mul(ox, p["SW"]), p["PW"]))
        w_first = ir.mul(ob, self.w_block)
        x_group = self.group_blocks(ob)

        def block(cb: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
            x_cb = ir.mul(ir.add(x_group, cb), p["H"])
            w_cb = ir.add(w_first, ir.mul(cb, ir.mul(p["KH"], self.w_row)))

            def kernel_row(k: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
                dy = ir.mul(k, p["DH"])
                iy = [ir.add(y, dy) for y in iy0]
                row_ok = [ir.cmp("ult", y, p["H"]) for y in iy]
                x_r = [ir.mul(ir.add(x_cb, y), self.x_row) for y in iy]
                w_r = ir.add(w_cb, ir.mul(k, self.w_row))

                def kernel_col(j: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
                    dx = ir.mul(j, p["DW"])
                    xp = []
                    for t in range(columns):
                        ix = ir.add(ix0[t], dx)
                        ok = ir.emit(llvm.AndOp(row_ok[t], ir.cmp("ult", ix, p["WI"])))
                        inside = ir.at(p["X"], x_r[t], (ix, p["IC"]))
                        xp.append(ir.select(ok, inside, self.zeros))
                    wp = ir.at(p["W"], ir.add(w_r, ir.mul(j, self.ic_lanes)))

                    def step(i: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
                        wi = ir.at(wp, (i, self.c(lanes)))
                        w = [
                            ir.load(ir.at(wi, (self.c(v), self.w_block)) if v else wi, self.vec, 4)
                            for v in range(vectors)
                        ]
                        out = list(acc)
                        for t in range(columns):
                            x = self.splat(ir.load(ir.at(xp[t], i)))
                            for v in range(vectors):
                                out[t * vectors + v] = self.fma(x, w[v], acc[t * vectors + v])
                        return out

                    return ir.loop(zero, p["IC"], one, step, acc)

                return ir.loop(zero, p["KW"], one, kernel_col, acc)

            return ir.loop(zero, p["KH"], one, kernel_row, acc)

        pixels = [ir.add(pixel, self.c(t)) for t in range(columns)]
        init = self.partial_sums(n, ob, pixels, vectors, live)
        acc = ir.loop(self.chunk_lo, self.chunk_hi, one, block, init)
        for t in range(columns):
            ir.if_(
                live[t],
                lambda t=t: self.store(
                    acc[t * vectors : (t + 1) * vectors],
                    n,
                    ob,
                    ir.add(pixel, self.c(t)) if t else pixel,
                    1,
                    vectors,
                ),
            )

    def y_offset(self, n: SSAValue, ob: SSAValue, pixel: SSAValue) -> SSAValue:
        """Where pixel `pixel` of Y's output block ob of image n starts (in floats)."""
        ir, p, lanes = self.ir, self.p, self.t.lanes
        plane = ir.mul(ir.mul(p["OH"], p["OW"]), self.c(lanes))
        # Y's channel blocks: all groups' (the depthwise routine, which shares this, has none).
        out_blocks = ir.mul(p["G"], p["OB"]) if "G" in p else p["OB"]
        return ir.add(
            ir.mul(ir.add(ir.mul(n, out_blocks), ob), plane), ir.mul(pixel, self.c(lanes))
        )

    def partial_sums(
        self,
        n: SSAValue,
        ob: SSAValue,
        pixels: list[SSAValue],
        vectors: int,
        live: list[SSAValue] | None = None,
    ) -> list[SSAValue]:
        """A tile's accumulators at the start of a chunk: zeros in the first, else what the
        chunks before stored in Y (a pixel not `live` reads the zeros)."""
        ir = self.ir
        zero = self.vsplat_const(0.0)
        first = self.first_chunk
        assert first is not None
        acc = [zero] * (len(pixels) * vectors)
        for v in range(vectors):
            obv = ir.add(ob, self.c(v)) if v else ob
            for t, pixel in enumerate(pixels):
                at = ir.at(self.p["Y"], self.y_offset(n, obv, pixel))
                if live is not None:
                    at = ir.select(live[t], at, self.zeros)
                acc[t * vectors + v] = ir.select(first, zero, ir.load(at, self.vec, 4))
        return acc

    def store(
        self,
        acc: list[SSAValue],
        n: SSAValue,
        ob: SSAValue,
        pixel: SSAValue,
        columns: int,
        vectors: int,
    ) -> None:
        """The tile's sums with the epilogue into Y; before the last chunk, the sums alone."""
        ir, lanes = self.ir, self.t.lanes
        for v in range(vectors):
            obv = ir.add(ob, self.c(v)) if v else ob
            bias = ir.load(ir.at(self.bias, (obv, self.bias_step)), self.vec, 4)
            row = self.y_offset(n, obv, pixel)
            for t in range(columns):
                offset = ir.add(row, self.c(t * lanes)) if t else row
                value = ir.emit(llvm.FAddOp(acc[t * vectors + v], bias))
                residual = ir.load(ir.at(self.res, offset), self.vec, 4)
                summed = ir.emit(llvm.FAddOp(value, residual))
                value = ir.select(self.has_res, summed, value)
                value = self.clip(value)
                if self.last_chunk is not None:
                    value = ir.select(self.last_chunk, value, acc[t * vectors + v])
                ir.store(value, ir.at(self.p["Y"], offset), 4)

    def clip(self, value: SSAValue) -> SSAValue:
        """value clamped to [lo, hi]; llvm.maximum/minimum keep a NaN (as relu and clip do)."""
        ir, lanes = self.ir, self.t.lanes
        value = ir.emit(
            llvm.CallIntrinsicOp(f"llvm.maximum.v{lanes}f32", [value, self.lo], [self.vec])
        )
        return ir.emit(
            llvm.CallIntrinsicOp(f"llvm.minimum.v{lanes}f32", [value, self.hi], [self.vec])
        )
