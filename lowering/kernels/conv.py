"""A shape-generic float32 conv2d routine for blocked layouts, one `llvm.func` with vector types.

    Y = clip(conv2d(X, W) + bias + residual, lo, hi)       (bias and residual optional)

with data X in NCHW{IC}c (`[N, C, H, WI, IC]`, C input-channel blocks of IC), weight W in
OIHW{IC}i{L}o (`[OB, C, KH, KW, IC, L]`) and result Y in NCHW{L}c (`[N, OB, OH, OW, L]`),
L the target's float32 lanes. Sizes, strides, padding and dilation are arguments, so every
conv of a network (1x1, 3x3, strided, a 7x7 over 3 channels) calls the same code and the
module's compile time does not grow with its number of layers.

Direct convolution with a register tile of T output columns x V output-channel vectors
(V = 2; an odd last block with V = 1): T x V vector accumulators, one broadcast input
element times V weight vectors per step (`llvm.intr.fma`). For each tile the reductions run
over input-channel blocks, kernel rows, kernel columns and the IC channels of a block; with
dilation 1 a kernel row's columns and channels are one contiguous run in both X and W, so
they are one loop. Padding costs no branch in those loops: each output row reads only its
valid kernel rows, the columns whose taps are all inside the image go in whole tiles, and
the border columns (and the last OW mod T) go one at a time with their own valid taps.
Without padding (the lowering pads with a copy) a tile's T pixels may cross the end of an
output row, so only the last OH*OW mod T pixels go one at a time.

The loops over channel-block pairs and output rows are ordered by cache traffic (whichever
of the image and the weights would be re-read from beyond L2 fewer bytes goes inside). Their
iterations, per image, are the routine's work items, which the thread pool splits in
contiguous runs (`build_conv_rows`): each output element is computed by one item, in the same
order at any thread count.

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
from relay_opt.lowering.kernels.routine import Kernel, routine_function
from relay_opt.lowering.kernels.target import Target

CONV_PARAMS = (
    "X", "W", "Y", "bias", "residual",
    "N", "C", "IC", "H", "WI", "OB", "OH", "OW", "KH", "KW",
    "SH", "SW", "PH", "PW", "DH", "DW", "flags", "lo", "hi",
)  # fmt: skip
"""The routine's parameters in order: five pointers (bias and residual may be anything when
their flag is off), i64 sizes, strides, padding (top, left), dilation and flags, then the
float32 clip bounds."""

CONV_TYPES = (*([PTR] * 5), *([i64] * (len(CONV_PARAMS) - 7)), F32, F32)

HAS_BIAS = 1
HAS_RESIDUAL = 2

CACHE_BYTES = 256 * 1024
"""What a stream may take of the L2 cache and still be reused from it (half of Zen 3's)."""


@dataclass(frozen=True)
class ConvTile:
    """The register tile for one target: `columns` x `vectors` accumulators."""

    columns: int
    vectors: int
    lanes: int

    @staticmethod
    def for_target(target: Target) -> ConvTile:
        lanes = target.lanes(32)
        # 6 x 2 accumulators, 2 weight vectors and a broadcast fit AVX2's 16 registers;
        # AVX-512 has 32 (12 x 2; untuned).
        columns = 12 if target.vector_bits >= 512 else 6
        return ConvTile(columns=columns, vectors=2, lanes=lanes)


def conv_name(target: Target) -> str:
    t = ConvTile.for_target(target)
    return f"relay_opt_conv2d_nchw{t.lanes}c_{t.columns}x{t.vectors}"


def build_conv(
    target: Target, tile: ConvTile | None = None, linkage: str = "external"
) -> llvm.FuncOp:
    """The routine `conv_name(target)(X, W, Y, bias, residual, N, C, IC, H, WI, OB, OH, OW,
    KH, KW, SH, SW, PH, PW, DH, DW, flags, lo, hi)`; `tile` overrides the target's. It runs
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


def build_conv_rows(target: Target, tile: ConvTile | None = None) -> llvm.FuncOp:
    """`conv_name(target)_rows(ctx, begin, end)`: the routine's work items [begin, end) (an
    output row, or all of an image's pixels, of a channel-block pair or of the odd last
    block), the parameters read from `ctx` (CONV_PARAMS, 8 bytes each): one thread's task
    (lowering/kernels/thread_pool.py). Every output element is computed by one item in the
    same order at any thread count, so the result is bit-identical."""
    from relay_opt.lowering.kernels.thread_pool import BODY_TYPE

    t = tile or ConvTile.for_target(target)
    entry = Block(arg_types=list(BODY_TYPE.inputs))
    region = Region(entry)
    ir = _IR(region, entry)
    ctx, begin, end = entry.args
    p: dict[str, SSAValue] = {}
    for k, (name, typ) in enumerate(zip(CONV_PARAMS, CONV_TYPES, strict=True)):
        slot = ir.emit(llvm.BitcastOp(ir.gep(ctx, ir.const(k), elem=i64), PTR))
        if typ == F32:
            p[name] = ir.emit(llvm.LoadOp(slot, F32, alignment=4))
        else:
            v = ir.emit(llvm.LoadOp(slot, i64, alignment=8))
            p[name] = ir.emit(llvm.IntToPtrOp(v)) if typ == PTR else v
    conv = _Conv(ir, t, p, target.fma)
    conv.plan()
    conv.items(begin, end)
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

    def plan(self) -> None:
        """Derived sizes, the loop order and the work items (once per call, and per task)."""
        ir, p, lanes = self.ir, self.p, self.t.lanes
        one = self.c(1)
        self.ic_lanes = ir.mul(p["IC"], self.c(lanes))
        self.w_block = ir.mul(ir.mul(ir.mul(p["C"], p["KH"]), p["KW"]), self.ic_lanes)
        self.w_row = ir.mul(p["KW"], self.ic_lanes)
        self.x_row = ir.mul(p["WI"], p["IC"])
        self.x_col = ir.mul(p["SW"], p["IC"])
        self.unit_dw = ir.cmp("eq", p["DW"], one)
        # Epilogue operands: without a bias, a zero vector read at every block; without a
        # residual, Y itself is read (a valid address) and the sum is not selected.
        zeros = ir.emit(llvm.AllocaOp(self.c(lanes), F32, alignment=64))
        ir.store(self.vsplat_const(0.0), zeros, 4 * lanes)
        flags = p["flags"]
        zero = self.c(0)
        has_bias = ir.cmp("ne", ir.emit(llvm.AndOp(flags, self.c(HAS_BIAS))), zero)
        self.has_res = ir.cmp("ne", ir.emit(llvm.AndOp(flags, self.c(HAS_RESIDUAL))), zero)
        self.bias = ir.select(has_bias, p["bias"], zeros)
        self.bias_step = ir.select(has_bias, self.c(lanes), zero)
        self.res = ir.select(self.has_res, p["residual"], p["Y"])
        self.lo = self.splat(p["lo"])
        self.hi = self.splat(p["hi"])

        # Output columns whose taps are all inside the image: [ox_lo, ox_hi).
        kw_span = ir.mul(ir.sub(p["KW"], one), p["DW"])
        ox_lo = ir.min(self.div(ir.add(p["PW"], ir.sub(p["SW"], one)), p["SW"]), p["OW"])
        last = ir.sub(ir.add(p["WI"], p["PW"]), ir.add(kw_span, one))
        ox_hi = ir.select(
            ir.cmp("slt", last, zero), zero, ir.min(p["OW"], ir.add(self.div(last, p["SW"]), one))
        )
        ox_hi = self.max(ox_hi, ox_lo)

        v = self.t.vectors

        pairs = self.div(p["OB"], self.c(v))
        ob_paired = ir.mul(pairs, self.c(v))
        # Loop order: block pairs outside rows keeps a pair's weights in cache while the image
        # streams past once per pair; rows outside block pairs keeps a row's input in cache
        # while all weights stream past once per row. Whichever re-reads fewer bytes from
        # beyond L2 (a stream that fits in CACHE_BYTES is free).
        image_bytes = ir.mul(ir.mul(ir.mul(p["C"], p["H"]), self.x_row), self.c(4))
        weight_bytes = ir.mul(ir.mul(p["OB"], self.w_block), self.c(4))
        budget = self.c(CACHE_BYTES)
        image_cost = ir.select(ir.cmp("sgt", image_bytes, budget), ir.mul(image_bytes, pairs), zero)
        weight_cost = ir.select(
            ir.cmp("sgt", weight_bytes, budget), ir.mul(weight_bytes, p["OH"]), zero
        )
        rows_outer = ir.cmp("slt", weight_cost, image_cost)

        # Pixels go in rows of `row_len`: output rows, or, with no padding, all OH x OW pixels
        # as one row (tiles then cross the ends of output rows, and only the last OH*OW mod
        # T pixels go one at a time: the 7-wide rows of a late layer are not 6 + 1). Not with
        # rows outside the block pairs, nor for rows narrower than a tile (a tile crosses at
        # most one row end).
        pixels = ir.mul(p["OH"], p["OW"])
        cols = self.c(self.t.columns)
        inside = ir.emit(
            llvm.AndOp(
                ir.cmp(
                    "slt",
                    ir.add(
                        ir.mul(ir.sub(p["OH"], one), p["SH"]), ir.mul(ir.sub(p["KH"], one), p["DH"])
                    ),
                    p["H"],
                ),
                ir.cmp("slt", ir.add(ir.mul(ir.sub(p["OW"], one), p["SW"]), kw_span), p["WI"]),
            )
        )
        unpadded = ir.emit(llvm.AndOp(ir.cmp("eq", p["PH"], zero), ir.cmp("eq", p["PW"], zero)))
        wide = ir.emit(llvm.AndOp(ir.cmp("sge", p["OW"], cols), inside))
        whole = ir.emit(
            llvm.AndOp(
                ir.emit(llvm.AndOp(unpadded, wide)),
                ir.cmp("eq", rows_outer, ir.const(0, IntegerType(1))),
            )
        )
        rows = ir.select(whole, one, p["OH"])
        self.row_len = ir.select(whole, pixels, p["OW"])
        self.ox_lo = ir.select(whole, zero, ox_lo)
        span_hi = ir.select(whole, pixels, ox_hi)
        tiles = self.div(ir.sub(span_hi, self.ox_lo), cols)
        self.ox_tiled = ir.add(self.ox_lo, ir.mul(tiles, cols))
        self.rows, self.pairs, self.rows_outer = rows, pairs, rows_outer
        self.inner = ir.select(rows_outer, pairs, rows)
        # Work items: per image, each (block pair, row) in loop order, then each row of an odd
        # last block; a thread takes a contiguous run of them (the cache order holds inside).
        odd = ir.sub(p["OB"], ob_paired)
        self.paired_items = ir.mul(pairs, rows)
        self.image_items = ir.add(self.paired_items, ir.mul(odd, rows))

    def items(self, begin: SSAValue, end: SSAValue) -> None:
        """Work items [begin, end) of all N images (`plan` first)."""
        ir, v = self.ir, self.t.vectors

        def item(k: SSAValue, _: list[SSAValue]) -> None:
            n = self.div(k, self.image_items)
            r = ir.sub(k, ir.mul(n, self.image_items))

            def paired() -> None:
                a = self.div(r, self.inner)
                b = ir.sub(r, ir.mul(a, self.inner))
                ob = ir.mul(ir.select(self.rows_outer, b, a), self.c(v))
                self.row(n, ob, ir.select(self.rows_outer, a, b), v)

            def last_block() -> None:  # an odd number of blocks
                self.row(n, ir.sub(self.p["OB"], self.c(1)), ir.sub(r, self.paired_items), 1)

            ir.if_(ir.cmp("slt", r, self.paired_items), paired, last_block)

        ir.loop(begin, end, self.c(1), item)

    def build(self, task: str) -> None:
        """The routine: its parameters into a context, its work items across the pool."""
        from relay_opt.lowering.kernels.thread_pool import PARALLEL_FOR

        ir, p = self.ir, self.p
        self.plan()
        ctx = ir.emit(llvm.AllocaOp(self.c(len(CONV_PARAMS)), i64, alignment=8))
        for k, name in enumerate(CONV_PARAMS):
            slot = ir.emit(llvm.BitcastOp(ir.gep(ctx, self.c(k), elem=i64), PTR))
            value = p[name]
            if isinstance(value.type, llvm.LLVMPointerType):
                value = ir.emit(llvm.PtrToIntOp(value, i64))
            ir.emit(llvm.StoreOp(value, slot, alignment=4 if value.type == F32 else 8))
        items = ir.mul(p["N"], self.image_items)
        per_item = ir.mul(
            ir.mul(self.row_len, self.c(self.t.lanes * self.t.vectors)),
            ir.mul(ir.mul(p["C"], p["IC"]), ir.mul(p["KH"], p["KW"])),
        )
        grain = self.div(self.c(PARALLEL_MIN_MACS), ir.add(per_item, self.c(1)))
        address = ir.emit(llvm.AddressOfOp(task, PTR))
        ir.emit(llvm.CallOp(PARALLEL_FOR, address, ctx, items, grain, return_type=i64))
        ir.emit(llvm.ReturnOp())

    def row(self, n: SSAValue, ob: SSAValue, r: SSAValue, vectors: int) -> None:
        """Row r of pixels of channel blocks ob..ob+vectors-1: border columns one at a time,
        interior columns in whole tiles, the rest one at a time."""
        ir, p = self.ir, self.p
        one = self.c(1)
        # (A row of all pixels has no padding: every kernel row is valid, as for r = 0.)
        ky = self.valid_taps(ir.mul(r, p["SH"]), p["H"], p["KH"], p["DH"], p["PH"])
        full_kx = (self.c(0), p["KW"])
        first = ir.mul(r, self.row_len)

        def column(x: SSAValue, _: list[SSAValue]) -> None:
            pixel = ir.add(first, x)
            ox = ir.emit(llvm.SRemOp(pixel, p["OW"]))
            kx = self.valid_taps(ir.mul(ox, p["SW"]), p["WI"], p["KW"], p["DW"], p["PW"])
            self.tile(n, ob, pixel, ky, kx, 1, vectors)

        ir.loop(self.c(0), self.ox_lo, one, column)
        ir.loop(
            self.ox_lo,
            self.ox_tiled,
            self.c(self.t.columns),
            lambda x, _: self.tile(n, ob, ir.add(first, x), ky, full_kx, self.t.columns, vectors),
        )
        ir.loop(self.ox_tiled, self.row_len, one, column)

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
        """Pixels pixel..pixel+columns-1 (row-major over OH x OW; at most one row end among
        them), channel blocks ob..ob+vectors-1: the reductions over the valid taps `ky` x
        `kx`, then the epilogue and the store."""
        ir, p, lanes = self.ir, self.p, self.t.lanes
        one = self.c(1)
        oy = self.div(pixel, p["OW"])
        ox = ir.sub(pixel, ir.mul(oy, p["OW"]))
        # Column t's input is `shift[t]` elements after column 0's: t columns on, or, past the
        # row end, one row down and OW columns back.
        down = ir.sub(ir.mul(p["SH"], self.x_row), ir.mul(p["OW"], self.x_col))
        shift = [self.c(0)]
        for t in range(1, columns):
            wraps = ir.cmp("sge", ir.add(ox, self.c(t)), p["OW"])
            along = ir.mul(self.c(t), self.x_col)
            shift.append(ir.select(wraps, ir.add(along, down), along))
        # With dilation 1, a kernel row's valid columns and their channels are contiguous in X
        # and W: one loop of (kx_hi - kx_lo) * IC steps; otherwise one loop per column.
        kx_lo, kx_hi = kx
        kx_end = ir.select(self.unit_dw, ir.add(kx_lo, one), kx_hi)
        run = ir.select(self.unit_dw, ir.mul(ir.sub(kx_hi, kx_lo), p["IC"]), p["IC"])
        x_first = ir.sub(ir.mul(ox, p["SW"]), p["PW"])  # the tile's first column, at kx = 0
        w_first = ir.mul(ob, self.w_block)
        y_first = ir.sub(ir.mul(oy, p["SH"]), p["PH"])

        def block(cb: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
            x_cb = ir.mul(ir.add(ir.mul(n, p["C"]), cb), p["H"])
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

        zero = self.vsplat_const(0.0)
        acc = ir.loop(self.c(0), p["C"], one, block, [zero] * (columns * vectors))
        self.store(acc, n, ob, pixel, columns, vectors)

    def store(
        self,
        acc: list[SSAValue],
        n: SSAValue,
        ob: SSAValue,
        pixel: SSAValue,
        columns: int,
        vectors: int,
    ) -> None:
        ir, p, lanes = self.ir, self.p, self.t.lanes
        plane = ir.mul(ir.mul(p["OH"], p["OW"]), self.c(lanes))
        for v in range(vectors):
            obv = ir.add(ob, self.c(v)) if v else ob
            bias = ir.load(ir.at(self.bias, (obv, self.bias_step)), self.vec, 4)
            row = ir.add(
                ir.mul(ir.add(ir.mul(n, p["OB"]), obv), plane), ir.mul(pixel, self.c(lanes))
            )
            for t in range(columns):
                offset = ir.add(row, self.c(t * lanes)) if t else row
                value = ir.emit(llvm.FAddOp(acc[t * vectors + v], bias))
                residual = ir.load(ir.at(self.res, offset), self.vec, 4)
                summed = ir.emit(llvm.FAddOp(value, residual))
                value = ir.select(self.has_res, summed, value)
                value = self.clip(value)
                ir.store(value, ir.at(p["Y"], offset), 4)

    def clip(self, value: SSAValue) -> SSAValue:
        """value clamped to [lo, hi]; llvm.maximum/minimum keep a NaN (as relu and clip do)."""
        ir, lanes = self.ir, self.t.lanes
        value = ir.emit(
            llvm.CallIntrinsicOp(f"llvm.maximum.v{lanes}f32", [value, self.lo], [self.vec])
        )
        return ir.emit(
            llvm.CallIntrinsicOp(f"llvm.minimum.v{lanes}f32", [value, self.hi], [self.vec])
        )
