"""A shape-generic float32 depthwise conv2d routine in NCHW{L}c, one `llvm.func` with vectors.

    Y = clip(depthwise_conv2d(X, W) + bias + residual, lo, hi)   (bias and residual optional)

with X in NCHW{L}c (`[N, C, H, WI, L]`, C channel blocks of the target's L float32 lanes),
W in OIHW1i{L}o (`[C, 1, KH, KW, 1, L]`) and Y in NCHW{L}c (`[N, C, OH, OW, L]`): each
channel is convolved with its own kernel (groups = channels, as alter-op-layout blocks it).
Sizes, strides, padding and dilation are arguments, like the blocked conv2d's (conv.py).

Each lane is one channel, so there is nothing to broadcast: a tile of T output columns keeps
T vector accumulators, and each kernel tap loads one weight vector and T input vectors. For
each image, channel block and output row: the row's valid kernel rows; tiles whose columns'
taps are all inside the image take the fast path, the others (the borders, the last OW mod
T columns) test each tap of each column and read zeros outside, so padding costs no copy.
The epilogue (bias, residual, clip) is the conv2d routine's, applied at the store.

The work items are the (image, channel block, output row) triples, which the thread pool
splits in contiguous runs (`build_depthwise_rows`, the routine's task): each output element
is computed by one item in the same order at any thread count, so the result is
bit-identical.
"""

from __future__ import annotations

from xdsl.dialects import llvm
from xdsl.dialects.builtin import i64
from xdsl.ir import Block, Region, SSAValue

from relay_opt.lowering.kernels.conv import HAS_BIAS, HAS_RESIDUAL, ConvTile, _Conv
from relay_opt.lowering.kernels.gemm import _IR, F32, PTR
from relay_opt.lowering.kernels.routine import Kernel, routine_function
from relay_opt.lowering.kernels.target import Target

DEPTHWISE_PARAMS = (
    "X", "W", "Y", "bias", "residual",
    "N", "C", "H", "WI", "OH", "OW", "KH", "KW",
    "SH", "SW", "PH", "PW", "DH", "DW", "flags", "lo", "hi",
)  # fmt: skip
"""The routine's parameters in order (as the conv2d routine's, without IC and OB: the input
block is the output block, L channels)."""

DEPTHWISE_TYPES = (*([PTR] * 5), *([i64] * (len(DEPTHWISE_PARAMS) - 7)), F32, F32)

DEPTHWISE_COLUMNS = 8
"""Output columns per tile: 8 accumulators, a weight vector and an input vector at a time
fit AVX2's 16 registers."""


DEPTHWISE_MIN_MACS = 1 << 16
"""A thread's share is at least this many multiply-adds (some microseconds at the routine's
speed; a parallel region costs about one): a depthwise layer has few multiply-adds per
byte, so a smaller share than the GEMM's still pays."""


def depthwise_name(target: Target) -> str:
    return f"relay_opt_depthwise_conv2d_nchw{target.lanes(32)}c_{DEPTHWISE_COLUMNS}"


def _tile(target: Target) -> ConvTile:
    return ConvTile(columns=DEPTHWISE_COLUMNS, vectors=1, lanes=target.lanes(32))


def build_depthwise(target: Target, linkage: str = "external") -> llvm.FuncOp:
    """The routine `depthwise_name(target)(X, W, Y, bias, residual, N, C, H, WI, OH, OW, KH,
    KW, SH, SW, PH, PW, DH, DW, flags, lo, hi)`: its parameters in a context, its work items
    on the thread pool (`build_depthwise_rows`, defined beside it)."""
    return routine_function(
        depthwise_name(target),
        DEPTHWISE_PARAMS,
        DEPTHWISE_TYPES,
        lambda region, entry, params: _Depthwise(
            _IR(region, entry), _tile(target), params, target.fma
        ).run(f"{depthwise_name(target)}_rows"),
        linkage,
    )


def build_depthwise_rows(target: Target) -> llvm.FuncOp:
    """`depthwise_name(target)_rows(ctx, begin, end)`: work items [begin, end) (an output
    row of an image's channel block, item (n * C + cb) * OH + oy), the parameters read from
    `ctx` (DEPTHWISE_PARAMS, 8 bytes each): one thread's task (kernels/thread_pool.py)."""
    from relay_opt.lowering.kernels.thread_pool import BODY_TYPE

    entry = Block(arg_types=list(BODY_TYPE.inputs))
    region = Region(entry)
    ir = _IR(region, entry)
    ctx, begin, end = entry.args
    p = ir.task_params(ctx, DEPTHWISE_PARAMS, DEPTHWISE_TYPES)
    _Depthwise(ir, _tile(target), p, target.fma).items(begin, end)
    ir.emit(llvm.ReturnOp(ir.const(0)))
    return llvm.FuncOp(
        f"{depthwise_name(target)}_rows",
        BODY_TYPE,
        linkage=llvm.LinkageAttr("internal"),
        body=region,
    )


DEPTHWISE_KERNEL = Kernel(
    name=depthwise_name,
    params=DEPTHWISE_TYPES,
    build=build_depthwise,
    helpers=lambda target: [build_depthwise_rows(target)],
)
"""The blocked depthwise conv2d as a routine of the kernel library (its work items are a
thread-pool task)."""


class _Depthwise(_Conv):
    def run(self, task: str) -> None:
        """The routine's body: the parameters into a context, the N * C * OH items across
        the pool, each thread's share at least DEPTHWISE_MIN_MACS multiply-adds."""
        from relay_opt.lowering.kernels.thread_pool import PARALLEL_FOR

        ir, p = self.ir, self.p
        ctx = ir.emit(llvm.AllocaOp(self.c(len(DEPTHWISE_PARAMS)), i64, alignment=8))
        for k, (name, typ) in enumerate(zip(DEPTHWISE_PARAMS, DEPTHWISE_TYPES, strict=True)):
            v = ir.emit(llvm.PtrToIntOp(p[name], i64)) if typ == PTR else p[name]
            slot = ir.emit(llvm.BitcastOp(ir.gep(ctx, self.c(k), elem=i64), PTR))
            ir.store(v, slot, 4 if typ == F32 else 8)
        items = ir.mul(ir.mul(p["N"], p["C"]), p["OH"])
        per_item = ir.mul(ir.mul(p["OW"], self.c(self.t.lanes)), ir.mul(p["KH"], p["KW"]))
        grain = self.div(self.c(DEPTHWISE_MIN_MACS), ir.add(per_item, self.c(1)))
        address = ir.emit(llvm.AddressOfOp(task, PTR))
        ir.emit(llvm.CallOp(PARALLEL_FOR, address, ctx, items, grain, return_type=i64))
        ir.emit(llvm.ReturnOp())

    def items(self, begin: SSAValue, end: SSAValue) -> None:
        """Work items [begin, end): each an output row of one image's channel block."""
        ir, lanes = self.ir, self.t.lanes
        p = self.p = dict(self.p)
        p["OB"] = p["C"]  # the store's output blocks
        one, zero = self.c(1), self.c(0)
        # Epilogue operands, as the conv2d routine's.
        zeros = ir.emit(llvm.AllocaOp(self.c(lanes), F32, alignment=64))
        ir.store(self.vsplat_const(0.0), zeros, 4 * lanes)
        flags = p["flags"]
        has_bias = ir.cmp("ne", ir.emit(llvm.AndOp(flags, self.c(HAS_BIAS))), zero)
        self.has_res = ir.cmp("ne", ir.emit(llvm.AndOp(flags, self.c(HAS_RESIDUAL))), zero)
        self.bias = ir.select(has_bias, p["bias"], zeros)
        self.bias_step = ir.select(has_bias, self.c(lanes), zero)
        self.res = ir.select(self.has_res, p["residual"], p["Y"])
        self.lo = self.splat(p["lo"])
        self.hi = self.splat(p["hi"])

        self.zeros = zeros
        ox_lo, ox_hi = self.interior(p["OW"], p["WI"], p["KW"], p["SW"], p["PW"], p["DW"])
        columns = self.t.columns
        cols = self.c(columns)
        # Checked tiles from 0 over the left border, fast ones while they end by ox_hi,
        # checked ones for the rest (the right border, the last OW mod T columns).
        fast_lo = ir.mul(self.div(ir.add(ox_lo, ir.sub(cols, one)), cols), cols)
        tiles = self.max(self.div(ir.sub(ox_hi, fast_lo), cols), zero)
        fast_hi = ir.add(fast_lo, ir.mul(tiles, cols))

        def row(n: SSAValue, cb: SSAValue, oy: SSAValue) -> None:
            ky = self.valid_taps(ir.mul(oy, p["SH"]), p["H"], p["KH"], p["DH"], p["PH"])
            iy0 = ir.sub(ir.mul(oy, p["SH"]), p["PH"])
            plane = ir.mul(ir.add(ir.mul(n, p["C"]), cb), p["H"])
            pixel = ir.mul(oy, p["OW"])

            def tile(ox: SSAValue, checked: bool) -> None:
                """Columns ox..ox+T-1; checked: each tap of each column tested (a tap
                outside the image reads zeros), the columns from OW on not stored."""
                ix0 = [
                    ir.sub(ir.mul(ir.add(ox, self.c(t)), p["SW"]), p["PW"]) for t in range(columns)
                ]
                live = [ir.cmp("slt", ir.add(ox, self.c(t)), p["OW"]) for t in range(columns)]

                def kernel_row(k: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
                    iy = ir.add(iy0, ir.mul(k, p["DH"]))
                    x_row = ir.mul(ir.add(plane, iy), p["WI"])
                    w_row = ir.mul(ir.add(ir.mul(cb, p["KH"]), k), p["KW"])

                    def kernel_col(j: SSAValue, acc: list[SSAValue]) -> list[SSAValue]:
                        w = ir.load(ir.at(p["W"], (ir.add(w_row, j), self.c(lanes))), self.vec, 4)
                        dx = ir.mul(j, p["DW"])
                        out = []
                        for t in range(columns):
                            ix = ir.add(ix0[t], dx)
                            xp = ir.at(p["X"], (ir.add(x_row, ix), self.c(lanes)))
                            if checked:
                                ok = ir.emit(llvm.AndOp(live[t], ir.cmp("ult", ix, p["WI"])))
                                xp = ir.select(ok, xp, self.zeros)
                            out.append(self.fma(ir.load(xp, self.vec, 4), w, acc[t]))
                        return out

                    return ir.loop(zero, p["KW"], one, kernel_col, acc)

                acc = ir.loop(ky[0], ky[1], one, kernel_row, [self.vsplat_const(0.0)] * columns)
                if not checked:
                    self.store(acc, n, cb, ir.add(pixel, ox), columns, 1)
                    return
                for t in range(columns):
                    at = ir.add(pixel, ir.add(ox, self.c(t)))
                    ir.if_(live[t], lambda t=t, at=at: self.store([acc[t]], n, cb, at, 1, 1))

            ir.loop(zero, fast_lo, cols, lambda ox, _: tile(ox, True))
            ir.loop(fast_lo, fast_hi, cols, lambda ox, _: tile(ox, False))
            ir.loop(fast_hi, p["OW"], cols, lambda ox, _: tile(ox, True))

        def item(i: SSAValue, _: list[SSAValue]) -> None:
            plane = self.div(i, p["OH"])  # n * C + cb
            n = self.div(plane, p["C"])
            row(n, ir.sub(plane, ir.mul(n, p["C"])), ir.sub(i, ir.mul(plane, p["OH"])))

        ir.loop(begin, end, one, item)
