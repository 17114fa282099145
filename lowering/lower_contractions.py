"""lower-contractions: contractions become calls into the kernel library.

After bufferize, a contraction that convert-relay-to-linalg named (attribute
`relay_opt.contraction`: dense, matmul, batch_matmul) is a `linalg.generic` over
memrefs. When its operands are float32 and contiguous, of non-empty static shapes or with `?`
dims, it is replaced by one call of the shape-generic GEMM routine (lowering/kernels/gemm.py):

    linalg.fill ins(%zero) outs(%c)                %pa = memref.extract_aligned_pointer_as_index %a
    linalg.generic {relay_opt.contraction}    ->   ... (llvm.inttoptr of each base pointer)
        ins(%a, %b) outs(%c)                       llvm.call @relay_opt_sgemm_6x16(%pa, %pb, %pc,
                                                       M, N, K, strides..., batch, accumulate)

The geometry (M, N, K, the batch, each operand's element strides) is read from the
generic's indexing maps and memref shapes, so every layout the lowering produces
(transposed operands, dense's [N, K] weight, broadcast batches, leading axes folded
into M) is one routine. A `?` loop's range is read at the call (`memref.dim` of an input
that it indexes), and the sizes and strides that depend on it are computed from it. A zero
fill of the destination right before the op is dropped: the routine overwrites C
(`accumulate = 0`); otherwise it adds to C. Everything else (other dtypes, strided views,
static empty shapes, fewer than `min-macs` multiply-adds) keeps its loops.

The elementwise generic that alone reads a fresh, zero-filled C (`store_epilogue`: a multiply
by a constant, a bias add per column or per row of C, a residual add of a buffer of C's shape,
a leaky relu with alpha in [0, 1], then max/min with constants) goes into the call, which
applies it on the register tile at the last store of each element: the call's last seven
arguments are the bias, the residual (C's pointer when absent), the flags
(gemm.BIAS_PER_COLUMN, BIAS_PER_ROW, ADD_RESIDUAL), the scale, the clip bounds and leaky
relu's slope (1: none); it sits where that generic was, writes its destination, and C goes. So a
dense + bias + relu writes its output once (fuse-linalg-epilogue leaves these anchors alone).

A constant B (a weight global, or an inline constant) of a product of SMALL_M rows or more, or
of a `?` M, is packed now, in numpy, into the NR-column panels the microkernel reads
(`pack_b_panels`): a new global (a stored weight, or an inline constant) that the call of the
packed-B entry (`relay_opt_sgemm_{MR}x{NR}_packed_b`, no B strides) reads, so no call packs B.
Each weight
is packed once however many contractions read it; the source global goes when nothing else
reads it. Fewer static rows read B once in place (dot products along dense's rows), which
measured faster than panels; a `?` M that has fewer at run time streams the panels (the
packed-B entry's few-row path). `pack-weights=false` keeps every call on the strided entry.

When the only reader of the product's fresh buffer is an elementwise `C + R` into another
fresh buffer D, and R is written before the product and dead after the sum, the call adds
the product to R in place (`accumulate = 1`) and R stands for D: the sum's loop and two
buffers go (an LSTM step: the input projection's slice plus the recurrent product).

A blocked conv2d (`conv2d`: NCHW{c}c data, OIHW{i}i{o}o weight, `o` the target's lanes) becomes
a call of the conv2d routine (lowering/kernels/conv.py), its geometry read back from the maps.
The elementwise generic that alone reads its result, when its body is a bias add, a residual
add and max/min with constants, goes into the call (applied on the register tile at the
store); the call then sits where that generic was and writes its destination. The routine
pads: the call reads the input of convert-relay-to-linalg's padding copy (marked
`relay_opt.conv_padding`) with the padding as arguments, and the copy goes.

The module gets a declaration of each routine it calls (`kernels=declare`, the default):
the routines are the kernel library's, compiled once per CPU and added to every JIT engine
(runtime/kernel_library.py), and relay-translate links them into what it emits. With
`kernels=define` each declaration becomes the routine itself (internal), so the module
needs no library: for tools that compile the printed IR alone.

A blocked depthwise conv2d (`depthwise_conv2d`, OIHW1i{o}o) becomes a call of the depthwise
routine (lowering/kernels/depthwise.py) the same way, epilogue and padding included.

`KERNELS` maps a contraction's name to the rule that emits its call; a new kernel family
(conv2d) adds a row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from math import prod

import numpy as np
from xdsl.context import Context
from xdsl.dialects import arith, func, llvm, memref
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    AffineMapAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IndexType,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    NoneAttr,
    StridedLayoutAttr,
    StringAttr,
    UnitAttr,
    f32,
    i64,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.ir.affine import AffineConstantExpr, AffineDimExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.traits import SymbolTable

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.attribute_names import CONV_PADDING
from relay_opt.dialects.relay.constants import dense_from_numpy, numpy_from_dense
from relay_opt.dialects.relay.resources import store, stored
from relay_opt.lowering.kernels import (
    GEMM_CONTRACTIONS,
    LIBRARY,
    MIN_KERNEL_MACS,
    declare_kernel,
    kernel_contraction,
)
from relay_opt.lowering.kernels.conv import CONV_KERNEL, HAS_BIAS, HAS_RESIDUAL
from relay_opt.lowering.kernels.depthwise import DEPTHWISE_KERNEL
from relay_opt.lowering.kernels.gemm import (
    ADD_RESIDUAL,
    BIAS_PER_COLUMN,
    BIAS_PER_ROW,
    GEMM_KERNEL,
    GEMM_PACKED_B_KERNEL,
    SMALL_M,
    GemmShape,
    add_runtime_declarations,
    pack_b_panels,
)
from relay_opt.lowering.kernels.target import Target

KERNEL_MODES = ("declare", "define")
"""lower-contractions' `kernels` option: declare the library's routines, or define them."""


@dataclass(frozen=True)
class RunTimeSize:
    """A size known at run time only: `factor` times the ranges of the `?` loops `loops`
    (sorted; a loop twice for its square), each read from an operand's buffer at the call."""

    factor: int
    loops: tuple[int, ...]


Extent = int | RunTimeSize
"""A GEMM size or stride: an int, or a RunTimeSize when it depends on a `?` loop."""


def _times(a: Extent, b: Extent) -> Extent:
    """The product of two extents (an int when neither depends on a `?` loop, or one is 0)."""
    fa, la = (a, ()) if isinstance(a, int) else (a.factor, a.loops)
    fb, lb = (b, ()) if isinstance(b, int) else (b.factor, b.loops)
    factor, loops = fa * fb, tuple(sorted(la + lb))
    return factor if not loops or factor == 0 else RunTimeSize(factor, loops)


@dataclass(frozen=True)
class GemmGeometry:
    """One GEMM call: sizes and element strides (see kernels/gemm.py); those that depend on
    a `?` loop are RunTimeSizes, computed at the call from the operands' run-time sizes."""

    m: Extent
    n: Extent
    k: Extent
    rsa: Extent
    csa: Extent
    rsb: Extent
    csb: Extent
    ldc: Extent
    batch: Extent = 1
    bsa: Extent = 0
    bsb: Extent = 0
    bsc: Extent = 0

    def is_static(self) -> bool:
        return all(isinstance(v, int) for v in vars(self).values())


def _row_major(shape: tuple[int, ...]) -> list[int]:
    strides, acc = [], 1
    for size in reversed(shape):
        strides.append(acc)
        acc *= size
    return strides[::-1]


def _contiguous(t: Attribute) -> bool:
    """A memref whose elements are one row-major run: no layout, or a strided one (bufferize's
    view of a concatenation's slice) with a static offset and the row-major strides on every
    axis longer than 1."""
    if not isinstance(t, MemRefType):
        return False
    if isinstance(t.layout, NoneAttr):
        return True
    if not isinstance(t.layout, StridedLayoutAttr) or t.layout.get_offset() is None:
        return False
    shape = t.get_shape()
    strides = t.layout.get_strides()
    return all(d == 1 or s == r for d, s, r in zip(shape, strides, _row_major(shape), strict=True))


def _same_elements(a: Attribute, b: Attribute) -> bool:
    """Two memrefs of one shape and element type, both contiguous (whatever their offsets)."""
    return (
        isinstance(a, MemRefType)
        and isinstance(b, MemRefType)
        and a.get_shape() == b.get_shape()
        and a.element_type == b.element_type
        and _contiguous(a)
        and _contiguous(b)
    )


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


def _loop_extent_strides(
    t: MemRefType, amap: AffineMapAttr, ranges: Sequence[Extent]
) -> list[Extent] | None:
    """_loop_strides of a row-major memref whose `?` axes are read by plain loops: a stride
    past such an axis is a RunTimeSize of that loop's range. None if a `?` axis is read
    otherwise, or a loop reads two axes of which one is past a `?` one."""
    shape, results = t.get_shape(), amap.data.results
    sizes: list[Extent] = []
    for d, expr in zip(shape, results, strict=True):
        if d != DYNAMIC_INDEX:
            sizes.append(d)
        elif isinstance(expr, AffineDimExpr):
            sizes.append(ranges[expr.position])
        else:
            return None
    strides: list[Extent] = [0] * len(ranges)
    for axis, expr in enumerate(results):
        stride: Extent = 1
        for size in sizes[axis + 1 :]:
            stride = _times(stride, size)
        if isinstance(expr, AffineDimExpr):
            old = strides[expr.position]
            if old == 0:
                strides[expr.position] = stride
            elif isinstance(old, int) and isinstance(stride, int):
                strides[expr.position] = old + stride
            else:
                return None
        elif not (isinstance(expr, AffineConstantExpr) and expr.value == 0 and shape[axis] == 1):
            return None
    return strides


def _plain_inputs_contiguous_output(types: Sequence[Attribute]) -> bool:
    """Memrefs without layout, but for the last (the output): contiguous, which may be the
    view of a slice of a concatenation that bufferize had the product write in place."""
    *inputs, out = types
    plain = all(isinstance(t, MemRefType) and isinstance(t.layout, NoneAttr) for t in inputs)
    return plain and _contiguous(out)


def _is_mac(op: linalg.GenericOp, acc: int = 2) -> bool:
    """The body is `out + in0 * in1`, `out` the block argument at `acc`."""
    body = list(op.body.block.ops)
    if len(body) != 3:
        return False
    mul, add, yld = body
    a = op.body.block.args
    return (
        isinstance(mul, arith.MulfOp)
        and {mul.lhs, mul.rhs} == {a[0], a[1]}
        and isinstance(add, arith.AddfOp)
        and {add.lhs, add.rhs} == {a[acc], mul.result}
        and isinstance(yld, linalg.YieldOp)
        and list(yld.operands) == [add.result]
    )


def gemm_geometry(op: linalg.GenericOp, kind: str) -> GemmGeometry | None:
    """The GEMM a named contraction computes, from its maps and (contiguous) memref types; a
    `?` loop's range (M's rows, N, K, the batch) is a RunTimeSize."""
    if len(op.inputs) != 2 or len(op.outputs) != 1 or op.results or not _is_mac(op):
        return None
    values = [*op.inputs, *op.outputs]
    types = [v.type for v in values]
    if not _plain_inputs_contiguous_output(types):
        return None
    iterators = [str(it.data) for it in op.iterator_types]  # pyright: ignore
    static = op.get_static_loop_ranges()
    if iterators.count("reduction") != 1 or any(r <= 0 and r != DYNAMIC_INDEX for r in static):
        return None
    ranges: list[Extent] = [
        RunTimeSize(1, (loop,)) if r == DYNAMIC_INDEX else r for loop, r in enumerate(static)
    ]
    kr = iterators.index("reduction")
    maps = op.indexing_maps.data
    sa, sb, sc = (_loop_extent_strides(t, m, ranges) for t, m in zip(types, maps, strict=True))  # pyright: ignore
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
        if sa[outer] != _times(sa[inner], ranges[inner]):
            return None
        if sc[outer] != _times(sc[inner], ranges[inner]):
            return None
    last_m = m_loops[-1] if m_loops else None
    m: Extent = 1
    for loop in m_loops:
        m = _times(m, ranges[loop])
    g = GemmGeometry(
        m=m,
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


def _loop_sizes(op: linalg.GenericOp) -> dict[int, tuple[SSAValue, int]]:
    """For each loop of `op`, an operand's buffer and axis its range can be read from at run
    time: an input's first (a contraction reads every loop through its inputs, which outlive
    the call; its output may go with it)."""
    found: dict[int, tuple[SSAValue, int]] = {}
    for v, amap in zip([*op.inputs, *op.outputs], op.indexing_maps.data, strict=True):
        for axis, expr in enumerate(amap.data.results):
            if isinstance(expr, AffineDimExpr) and expr.position not in found:
                found[expr.position] = (v, axis)
    return found


def _extent(
    ops: list[Operation],
    e: Extent,
    sizes: dict[int, tuple[SSAValue, int]],
    read: dict[int, SSAValue],
) -> SSAValue:
    """An extent as the routine's i64: a constant, or the product of its factor and the `?`
    loops' ranges, each read once per call (`read`) from the buffer `sizes` names."""
    if isinstance(e, int):
        return _i64(ops, e)
    value = None if e.factor == 1 else _i64(ops, e.factor)
    for loop in e.loops:
        if loop not in read:
            v, axis = sizes[loop]
            read[loop] = _size(ops, DYNAMIC_INDEX, v, axis)
        if value is None:
            value = read[loop]
        else:
            mul = arith.MuliOp(value, read[loop])
            ops.append(mul)
            value = mul.result
    assert value is not None
    return value


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
    """`v`'s first element's address as an `!llvm.ptr` (through index and i64: upstream MLIR's
    way). A view (a strided layout's static offset) is addressed from the buffer it views, whose
    aligned pointer has no offset in any reading of the op."""
    t = v.type
    offset = 0
    if isinstance(t, MemRefType) and isinstance(t.layout, StridedLayoutAttr):
        offset = t.layout.get_offset()
        assert isinstance(offset, int)  # _contiguous checked it
        while isinstance(view := v.owner, memref.SubviewOp):
            v = view.source
        root = v.type
        assert isinstance(root, MemRefType) and isinstance(root.layout, NoneAttr)
    address = memref.ExtractAlignedPointerAsIndexOp.get(v)
    as_int = arith.IndexCastOp(address.results[0], i64)
    ops += [address, as_int]
    value = as_int.result
    if offset:
        assert isinstance(t, MemRefType)
        width = t.element_type.bitwidth // 8  # pyright: ignore[reportAttributeAccessIssue]
        add = arith.AddiOp(value, _i64(ops, offset * width))
        ops.append(add)
        value = add.result
    ptr = llvm.IntToPtrOp(value)
    ops.append(ptr)
    return ptr.results[0]


def _i64(ops: list[Operation], value: int) -> SSAValue:
    c = arith.ConstantOp(IntegerAttr(value, i64), i64)
    ops.append(c)
    return c.result


@dataclass
class PackedWeights:
    """The packed copies of constant B operands made in one run of the pass, by source global
    and the B geometry read from it (a weight used by many contractions is packed once)."""

    module: ModuleOp
    made: dict[tuple[str, int, int, int, int, int, int], tuple[str, MemRefType]] = field(
        default_factory=dict
    )
    sources: set[str] = field(default_factory=set)
    """The globals read for packing: dropped when no `get_global` names them any more."""

    def global_op(self, name: str) -> memref.GlobalOp | None:
        for o in self.module.ops:
            if isinstance(o, memref.GlobalOp) and o.sym_name.data == name:
                return o
        return None

    def constant_b(self, b: SSAValue) -> tuple[memref.GlobalOp, np.ndarray] | None:
        """The global `b` reads and its float32 data, flat; None if `b` is not a constant."""
        get = b.owner
        if not isinstance(get, memref.GetGlobalOp):
            return None
        g = self.global_op(get.name_.root_reference.data)
        if g is None or g.initial_value is None:
            return None
        size = prod(g.type.get_shape())
        value = g.initial_value
        if isinstance(value, DenseIntOrFPElementsAttr):
            if g.constant is None:
                return None  # a mutable global
            data = numpy_from_dense(value)
        elif isinstance(value, UnitAttr):  # a weight: the array the JIT binds
            data = stored(g.sym_name.data)
            if data is None:
                return None
        else:
            return None
        flat = np.ascontiguousarray(data).reshape(-1).view(np.float32)
        return (g, flat) if flat.size == size else None

    def packed(self, b: SSAValue, g: GemmGeometry, nr: int) -> tuple[SSAValue, int] | None:
        """A `get_global` (before the contraction) of B packed in NR-column panels
        (`pack_b_panels`) and its batch stride in that layout; None if B is not a constant."""
        found = self.constant_b(b)
        if found is None:
            return None
        source, flat = found
        name = source.sym_name.data
        # A constant B is static: its sizes and strides are ints (a `?` M or batch of A only).
        static = [v for v in (g.k, g.n, g.rsb, g.csb, g.bsb, g.batch if g.bsb else 1)
                  if isinstance(v, int)]  # fmt: skip
        if len(static) != 6:
            return None
        k, n, rsb, csb, bsb, batch = static
        key = (name, batch, k, n, rsb, csb, bsb)
        if key not in self.made:
            index = (
                np.arange(batch)[:, None, None] * bsb
                + np.arange(k)[None, :, None] * rsb
                + np.arange(n)[None, None, :] * csb
            )
            panels = pack_b_panels(flat[index], nr)
            if batch == 1:
                panels = panels[0]
            t = MemRefType(f32, panels.shape)
            if isinstance(source.initial_value, UnitAttr):
                # A weight's packed copy is a weight too: stored, bound by the JIT.
                new_name = store(panels, "relay_packed")
                made = memref.GlobalOp.get(
                    StringAttr(new_name), t, UnitAttr(), sym_visibility=StringAttr("public")
                )
            else:
                new_name = f"{name}_packed{nr}"
                while self.global_op(new_name) is not None:
                    new_name += "_"
                made = memref.GlobalOp.get(
                    StringAttr(new_name),
                    t,
                    dense_from_numpy(panels, "float32"),
                    sym_visibility=StringAttr("private"),
                    constant=UnitAttr(),
                )
            if self.global_op(new_name) is None:
                self.module.body.block.insert_op_after(made, source)
            self.made[key] = (new_name, t)
        self.sources.add(name)
        new_name, t = self.made[key]
        get = memref.GetGlobalOp(new_name, t)
        get_op = b.owner
        assert isinstance(get_op, Operation)
        get.location = get_op.location
        block = get_op.parent_block()
        assert block is not None
        block.insert_op_after(get, get_op)
        stride = prod(t.get_shape()[1:]) if batch > 1 else 0
        return get.memref, stride

    def drop_unused_sources(self) -> None:
        """Erases each packed source global (and `get_global` of it) nothing reads any more."""
        used: set[str] = set()
        for o in self.module.walk():
            if isinstance(o, memref.GetGlobalOp):
                if o.memref.first_use is None and o.name_.root_reference.data in self.sources:
                    o.detach()
                    o.erase()
                else:
                    used.add(o.name_.root_reference.data)
        for name in self.sources - used:
            g = self.global_op(name)
            if g is not None:
                g.detach()
                g.erase()


def gemm_call(
    op: linalg.GenericOp,
    kind: str,
    module: ModuleOp,
    target: Target,
    weights: PackedWeights | None = None,
) -> bool:
    """Replaces `op` by a call of the GEMM routine; False (nothing changed) if it does not fit.
    A constant B is packed now (`weights`) and the call is the packed-B entry's."""
    g = gemm_geometry(op, kind)
    if g is None:
        return False
    loop_sizes = _loop_sizes(op)
    fill = _zero_fill_before(op)
    ops: list[Operation] = []
    x, w, y = (*op.inputs, *op.outputs)
    addend = _addend(op) if fill is not None else None
    if addend is not None:  # the call adds the product to R, which then holds the sum
        y = addend.addend
    # The elementwise bias/scale/residual/clip after a product that overwrites a fresh C: the
    # call applies it on the register tile and writes its destination; C goes.
    ep = None
    if fill is not None and addend is None and isinstance(y.owner, memref.AllocOp):
        ep = gemm_epilogue(op, kind)
        if ep is not None and not _only_freed_between(op, ep.op, [x, w]):
            ep = None
    at: Operation = op if ep is None else ep.op
    if ep is not None:
        y = ep.op.outputs[0]
    # A few-row product reads B once, in place (dot products along dense's weight rows):
    # packed panels measured slower there (LSTM's recurrent step, the batch-1 MLP).
    packed = None
    if weights is not None and (not isinstance(g.m, int) or g.m >= SMALL_M):
        packed = weights.packed(w, g, GemmShape.for_target(target).nr)
    a, b, c = (_pointer(ops, v) for v in (x, w if packed is None else packed[0], y))
    sizes: list[Extent]
    if packed is None:
        sizes = [g.m, g.n, g.k, g.rsa, g.csa, g.rsb, g.csb, g.ldc, g.batch, g.bsa, g.bsb, g.bsc]
        kernel = GEMM_KERNEL
    else:
        sizes = [g.m, g.n, g.k, g.rsa, g.csa, g.ldc, g.batch, g.bsa, packed[1], g.bsc]
        kernel = GEMM_PACKED_B_KERNEL
    overwrite = fill is not None and addend is None
    read: dict[int, SSAValue] = {}
    args = [a, b, c, *(_extent(ops, v, loop_sizes, read) for v in sizes)]
    args.append(_i64(ops, 0 if overwrite else 1))
    args += _epilogue_args(ops, ep, c)
    call = llvm.CallOp(declare_kernel(module, kernel, target), *args)
    call.location = op.location
    ops.append(call)
    block = op.parent_block()
    assert block is not None
    block.insert_ops_before(ops, at)
    product = op.outputs[0]
    if ep is not None:
        _move_deallocs_after(op, ep.op, (x, w), call)
        ep.op.detach()
        ep.op.erase()
    op.detach()
    op.erase()
    if fill is not None:
        fill.detach()
        fill.erase()
    if addend is not None:
        addend.add.detach()
        addend.add.erase()
        for use in list(addend.addend.uses):
            if isinstance(use.operation, memref.DeallocOp):
                use.operation.detach()
                use.operation.erase()
        addend.result.replace_all_uses_with(addend.addend)
        _drop_if_unused(addend.result)
        _drop_if_unused(product)
    if ep is not None:
        _drop_if_unused(product)
    _drop_if_unused(y)
    return True


def gemm_epilogue(op: linalg.GenericOp, kind: str) -> Epilogue | None:
    """The GEMM routine's epilogue after the product `op` (store_epilogue): its bias is per
    column (C's last axis, dense's bias_add) or per row (C's rows, the leading axes folded into
    M as the geometry folds them), shared by every batch."""
    out_type = op.outputs[0].type
    assert isinstance(out_type, MemRefType)
    shape = out_type.get_shape()
    rank = len(shape)
    lead = 1 if kind == "batch_matmul" else 0
    column = [0] * (rank - 1) + [1]
    row = [0] * lead + _row_major(shape[lead:-1]) + [0]

    def bias_kind(amap: AffineMap, t: MemRefType) -> int | None:
        strides = _loop_strides(t, AffineMapAttr(amap), rank)
        size = prod(t.get_shape())
        if strides == column and size == shape[-1]:
            return BIAS_PER_COLUMN
        if strides == row and size == prod(shape[lead:-1]):
            return BIAS_PER_ROW
        return None

    return store_epilogue(op, bias_kind, scale=True, leaky=True)


def _epilogue_args(ops: list[Operation], ep: Epilogue | None, c: SSAValue) -> list[SSAValue]:
    """The GEMM call's epilogue arguments: bias, residual (C's pointer when there is none),
    flags, scale, lo, hi, slope."""
    bias = c if ep is None or ep.bias is None else _pointer(ops, ep.bias)
    residual = c if ep is None or ep.residual is None else _pointer(ops, ep.residual)
    flags, values = 0, (1.0, -math.inf, math.inf, 1.0)
    if ep is not None:
        flags = ep.bias_flag | (ADD_RESIDUAL if ep.residual is not None else 0)
        values = (ep.scale, ep.lo, ep.hi, ep.slope)
    flag_bits = _i64(ops, flags)
    floats = [arith.ConstantOp(FloatAttr(v, f32)) for v in values]
    ops += floats
    return [bias, residual, flag_bits, *(f.result for f in floats)]


def _move_deallocs_after(first: Operation, last: Operation, values: Sequence[SSAValue],
                         call: Operation) -> None:  # fmt: skip
    """The deallocs of `values` between `first` and `last` move after `call` (which now reads
    them where `last` was)."""
    moved = []
    o = first.next_op
    while o is not None and o is not last:
        nxt = o.next_op
        if isinstance(o, memref.DeallocOp) and o.memref in values:
            o.detach()
            moved.append(o)
        o = nxt
    block = call.parent_block()
    assert block is not None
    block.insert_ops_after(moved, call)


@dataclass(frozen=True)
class Addend:
    """The elementwise sum `C + R` after a product into C: `add`, R and its destination."""

    add: linalg.GenericOp
    addend: SSAValue
    result: SSAValue


def _addend(op: linalg.GenericOp) -> Addend | None:
    """The sum that alone reads the product's buffer C (an alloc, zero-filled, so the call
    would overwrite it), `C + R` element by element into D, when R and D are allocs of this
    block and R is written before the product, untouched until the sum and dead after it:
    then the call can add the product to R in place, R stands for D, and the sum, C and D go
    (the LSTM's step: the input projection's slice plus the recurrent product)."""
    c = op.outputs[0]
    block = op.parent_block()
    if not isinstance(c.owner, memref.AllocOp) or block is None:
        return None
    readers = [
        u.operation
        for u in c.uses
        if u.operation is not op and not isinstance(u.operation, (memref.DeallocOp, linalg.FillOp))
    ]
    if len(readers) != 1 or not isinstance(readers[0], linalg.GenericOp):
        return None
    add = readers[0]
    if add.parent is not block or len(add.inputs) != 2 or len(add.outputs) != 1 or add.results:
        return None
    rank = len(add.iterator_types)
    if any(str(it.data) != "parallel" for it in add.iterator_types):  # pyright: ignore
        return None
    if any(m.data != AffineMap.identity(rank) for m in add.indexing_maps.data):
        return None
    body, args = list(add.body.block.ops), add.body.block.args
    if not (
        len(body) == 2
        and isinstance(body[0], arith.AddfOp)
        and {body[0].lhs, body[0].rhs} == {args[0], args[1]}
        and isinstance(body[1], linalg.YieldOp)
        and list(body[1].operands) == [body[0].result]
    ):
        return None
    r = add.inputs[1] if add.inputs[0] is c else add.inputs[0]
    d = add.outputs[0]
    if r is c or d in (c, r) or not (r.type == c.type == d.type):
        return None
    for v in (r, d):
        alloc = v.owner
        if not isinstance(alloc, memref.AllocOp) or alloc.parent is not block:
            return None
    alloc_r = r.owner
    assert isinstance(alloc_r, Operation)
    if not alloc_r.is_before_in_block(op) or not _only_freed_between(op, add, [r, d]):
        return None
    for u in r.uses:  # written before the product, freed after the sum, nothing else
        user = u.operation
        if user.parent is not block:
            return None
        after = user is not add and not user.is_before_in_block(op)
        if after and not isinstance(user, memref.DeallocOp):
            return None
    return Addend(add, r, d)


# -- conv2d ----------------------------------------------------------------------------------


def _coefficients(amap: AffineMapAttr, loops: int) -> list[dict[int, int]] | None:
    """Each result of a linear map as {loop: coefficient}; None if a result is not linear
    without a constant term (checked at one more point than the unit vectors)."""
    m = amap.data
    zero = m.eval([0] * loops, [])
    units = [m.eval([int(k == j) for k in range(loops)], []) for j in range(loops)]
    probe = [j + 2 for j in range(loops)]
    coeffs = [{j: units[j][r] for j in range(loops) if units[j][r]} for r in range(len(zero))]
    at_probe = m.eval(probe, [])
    if any(zero) or any(
        at_probe[r] != sum(c * probe[j] for j, c in coeffs[r].items()) for r in range(len(zero))
    ):
        return None
    return coeffs


@dataclass(frozen=True)
class ConvGeometry:
    """One call of the conv2d routine (see kernels/conv.py): sizes (c and ob per group),
    strides, dilation, groups. A `?` batch, height or width (n, h, wi, oh, ow) is DYNAMIC_INDEX:
    the call reads it from the input's or the result's buffer (the routine takes every size
    at run time)."""

    n: int
    c: int
    ic: int
    h: int
    wi: int
    ob: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    groups: int = 1


def conv_geometry(op: linalg.GenericOp, lanes: int) -> ConvGeometry | None:
    """The blocked conv2d convert-relay-to-linalg built (loops n, ob, y, xo, ib, i, j, ii, xi,
    oo, or, grouped, n, g, ob, y, ... with ob and ib within group g; see its _blocked_conv2d),
    read back from the maps and contiguous memref types; None for anything else (a depthwise
    conv, an output block other than `lanes`)."""
    if len(op.inputs) != 3 or len(op.outputs) != 1 or op.results:
        return None
    types = [v.type for v in (*op.inputs, *op.outputs)]
    if not _plain_inputs_contiguous_output(types):
        return None
    iterators = [str(it.data) for it in op.iterator_types]  # pyright: ignore
    loops = len(iterators)
    g = int(loops == 11)  # the group loop: every loop after it is one further on
    if iterators != ["parallel"] * (4 + g) + ["reduction"] * 4 + ["parallel"] * 2:
        return None
    if not _is_conv_mac(op):
        return None
    x, w, tiles, y = (t.get_shape() for t in types)  # pyright: ignore
    if len(x) != 5 or len(w) != 6 or len(tiles) != 2 + 2 * g or len(y) != 5:
        return None
    if not _conv_sizes(x, w, tiles, y):
        return None
    maps = [_coefficients(m, loops) for m in op.indexing_maps.data]  # pyright: ignore
    if any(m is None for m in maps):
        return None
    mx, mw, mt, my = maps  # pyright: ignore
    ob_, y_, xo, ib, ki, kj, ii, xi, oo = range(1 + g, loops)
    groups, obg, cbg = (tiles[0], tiles[1], w[1]) if g else (1, y[1], x[1])
    tile = tiles[-1]
    row, col = mx[2], mx[3]  # pyright: ignore
    sh, dh, sw, dw = row.get(y_, 0), row.get(ki, 0), col.get(xi, 0), col.get(kj, 0)
    if min(sh, dh, sw, dw) < 1:
        return None
    in_block = {1: cbg, ib: 1} if g else {ib: 1}
    out_block = {1: obg, ob_: 1} if g else {ob_: 1}
    expect_x = [{0: 1}, in_block, {y_: sh, ki: dh}, {xo: tile * sw, xi: sw, kj: dw}, {ii: 1}]
    expect_w = [out_block, {ib: 1}, {ki: 1}, {kj: 1}, {ii: 1}, {oo: 1}]
    expect_t = [*([{1: 1}, {ob_: 1}] if g else []), {xo: 1}, {xi: 1}]
    expect_y = [{0: 1}, out_block, {y_: 1}, {xo: tile, xi: 1}, {oo: 1}]
    if (mx, mw, mt, my) != (expect_x, expect_w, expect_t, expect_y):
        return None
    n, c, h, wi, ic = x
    ob, oh, ow, lane = y[1], y[2], y[3], y[4]
    if w[0] != ob or w[4] != ic or w[5] != lane or lane != lanes:
        return None
    if c != groups * cbg or ob != groups * obg:
        return None
    return ConvGeometry(n, cbg, ic, h, wi, obg, oh, ow, w[2], w[3], sh, sw, dh, dw, groups)


_DEPTHWISE_ITERATORS = ["parallel"] * 4 + ["reduction"] * 2 + ["parallel"] * 2


def depthwise_geometry(op: linalg.GenericOp, lanes: int) -> ConvGeometry | None:
    """The blocked depthwise conv2d convert-relay-to-linalg built (loops n, cb, y, xo, i, j,
    xi, cc), read back like conv_geometry's (ic and ob: `lanes` and C); None otherwise."""
    if len(op.inputs) != 3 or len(op.outputs) != 1 or op.results:
        return None
    types = [v.type for v in (*op.inputs, *op.outputs)]
    if not _plain_inputs_contiguous_output(types):
        return None
    iterators = [str(it.data) for it in op.iterator_types]  # pyright: ignore
    if iterators != _DEPTHWISE_ITERATORS or not _is_conv_mac(op):
        return None
    x, w, tiles, y = (t.get_shape() for t in types)  # pyright: ignore
    if len(x) != 5 or len(w) != 6 or len(tiles) != 2 or len(y) != 5:
        return None
    if not _conv_sizes(x, w, tiles, y):
        return None
    maps = [_coefficients(m, 8) for m in op.indexing_maps.data]  # pyright: ignore
    if any(m is None for m in maps):
        return None
    mx, mw, mt, my = maps  # pyright: ignore
    tile = tiles[1]
    row, col = mx[2], mx[3]  # pyright: ignore
    sh, dh, sw, dw = row.get(2, 0), row.get(4, 0), col.get(6, 0), col.get(5, 0)
    if min(sh, dh, sw, dw) < 1:
        return None
    expect_x = [{0: 1}, {1: 1}, {2: sh, 4: dh}, {3: tile * sw, 6: sw, 5: dw}, {7: 1}]
    expect_w = [{1: 1}, {}, {4: 1}, {5: 1}, {}, {7: 1}]
    expect_y = [{0: 1}, {1: 1}, {2: 1}, {3: tile, 6: 1}, {7: 1}]
    if (mx, mw, mt, my) != (expect_x, expect_w, [{3: 1}, {6: 1}], expect_y):
        return None
    n, c, h, wi, lane = x
    if list(w) != [c, 1, w[2], w[3], 1, lane] or y[1] != c:
        return None
    if lane != lanes or y[4] != lanes:
        return None
    return ConvGeometry(n, c, lanes, h, wi, c, y[2], y[3], w[2], w[3], sh, sw, dh, dw)


def _conv_sizes(x: Sequence[int], w: Sequence[int], tiles: Sequence[int], y: Sequence[int]) -> bool:
    """The sizes of a blocked conv: positive, but for a `?` batch (of both the input and the
    result: the conv2d shape function's), height and width (the input's, the result's and
    the tile loop's: the routine reads them at run time)."""
    if x[0] != y[0] or (x[0] <= 0 and x[0] != DYNAMIC_INDEX):
        return False
    free = [*x[2:4], *y[2:4], tiles[-2]]
    fixed = [x[1], x[4], *w, *tiles[:-2], tiles[-1], y[1], y[4]]
    return min(fixed) > 0 and all(d > 0 or d == DYNAMIC_INDEX for d in free)


def _size(ops: list[Operation], n: int, v: SSAValue, axis: int) -> SSAValue:
    """A size as the routine's i64: `n`, or, for a `?` one, `axis` of `v`'s buffer read at
    run time."""
    if n != DYNAMIC_INDEX:
        return _i64(ops, n)
    at = arith.ConstantOp(IntegerAttr(axis, IndexType()), IndexType())
    dim = memref.DimOp(v, at.result)
    as_int = arith.IndexCastOp(dim.result, i64)
    ops += [at, dim, as_int]
    return as_int.result


def _is_conv_mac(op: linalg.GenericOp) -> bool:
    """The body is `out + x * w` (the third input is read for its shape only)."""
    return _is_mac(op, acc=3) and op.body.block.args[2].first_use is None


@dataclass
class Epilogue:
    """What a routine applies at its store, taken from the elementwise generic after the
    product: clip(leaky(scale * product + bias + residual), lo, hi) with leaky relu's
    leaky(v) = max(v, slope * v)."""

    op: linalg.GenericOp
    bias: SSAValue | None = None
    bias_flag: int = 0
    """The routine's flag for the kind of bias (per channel, per column, per row)."""
    residual: SSAValue | None = None
    scale: float = 1.0
    slope: float = 1.0
    """Leaky relu's alpha (1: none)."""
    lo: float = -math.inf
    hi: float = math.inf


BiasKind = Callable[[AffineMap, MemRefType], int | None]
"""A routine's bias kinds: the flag of a bias read at that map with that type, else None."""


def _float_constant(v: SSAValue) -> float | None:
    owner = v.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, FloatAttr):
        return float(owner.value.value.data)
    return None


def _scalar_constant(v: SSAValue) -> float | None:
    """The value of a float32 constant global of one element that `v` reads (a scalar
    operand such as `multiply(x, 0.5f)` after convert-relay-to-linalg), else None."""
    get = v.owner
    if not isinstance(get, memref.GetGlobalOp) or prod(get.memref.type.get_shape()) != 1:  # pyright: ignore
        return None
    g = SymbolTable.lookup_symbol(get, get.name_)
    if not isinstance(g, memref.GlobalOp) or g.constant is None:
        return None
    value = g.initial_value
    if not isinstance(value, DenseIntOrFPElementsAttr) or value.get_element_type() != f32:
        return None
    return float(numpy_from_dense(value).reshape(-1)[0])


def store_epilogue(
    product: linalg.GenericOp, bias_kind: BiasKind, scale: bool, leaky: bool = False
) -> Epilogue | None:
    """The generic that reads the product's output (element by element, and nothing else reads
    it but a dealloc) when its body is a chain the routine can apply at its store: a multiply
    by a constant first (when the routine has a `scale`), a bias add (of a kind `bias_kind`
    knows), a residual add of a buffer of the output's shape, in that order, then (when the
    routine has a `leaky` slope) one leaky relu, then max/min with constants; None otherwise."""
    out = product.outputs[0]
    out_type = out.type
    assert isinstance(out_type, MemRefType)  # the geometry checked it
    bookkeeping = (memref.DeallocOp, linalg.FillOp)
    readers = [
        u.operation
        for u in out.uses
        if u.operation is not product and not isinstance(u.operation, bookkeeping)
    ]
    if len(readers) != 1 or not isinstance(readers[0], linalg.GenericOp):
        return None
    ep = readers[0]
    if ep.parent is not product.parent or len(ep.outputs) != 1 or ep.results:
        return None
    if any(str(it.data) != "parallel" for it in ep.iterator_types):  # pyright: ignore
        return None
    rank = len(out_type.get_shape())
    maps = [m.data for m in ep.indexing_maps.data]
    identity = AffineMap.identity(rank)
    dest = ep.outputs[0]
    if not _same_elements(dest.type, out.type) or maps[-1] != identity:
        return None
    if dest in (*product.inputs, out):
        return None
    if ep.body.block.args[-1].first_use is not None:
        return None  # the epilogue reads its destination
    args = ep.body.block.args
    operand: dict[SSAValue, SSAValue] = dict(zip(args, (*ep.inputs, *ep.outputs), strict=True))
    amap: dict[SSAValue, AffineMap] = dict(zip(args, maps, strict=True))
    product_args = [a for a in args[:-1] if operand[a] is out]
    if len(product_args) != 1 or amap[product_args[0]] != identity:
        return None
    found = Epilogue(ep)
    current: SSAValue = product_args[0]
    clipped = False
    # A leaky relu is three ops: its compare and multiply are taken at the first of them,
    # and nothing but those and constants may come before its select.
    leaky_parts: tuple[Operation, ...] = ()
    for o in ep.body.block.ops:
        if isinstance(o, arith.ConstantOp) or o in leaky_parts[:-1]:
            continue
        if leaky_parts:
            if o is not leaky_parts[-1]:
                return None
            current, leaky_parts = o.results[0], ()
            continue
        if leaky and not clipped and found.slope == 1.0:
            matched = _leaky_relu(o, current)
            if matched is not None:
                found.slope, leaky_parts = matched
                continue
        if isinstance(o, linalg.YieldOp):
            return found if list(o.operands) == [current] else None
        binary = isinstance(o, arith.FloatingPointLikeBinaryOperation)
        if not (binary and current in (o.lhs, o.rhs)):  # pyright: ignore[reportAttributeAccessIssue]
            return None
        other = o.rhs if o.lhs is current else o.lhs
        if other is current:
            return None
        if isinstance(o, arith.MulfOp) and scale and current is product_args[0]:
            value = _float_constant(other)
            if value is None and other in amap:
                value = _scalar_constant(operand[other])
            if value is None:
                return None
            found.scale = value
        elif isinstance(o, arith.AddfOp) and not clipped and other in amap:
            read = operand[other]
            if read is out or not isinstance(read.type, MemRefType):
                return None
            if not isinstance(read.type.layout, NoneAttr):
                return None
            kind = bias_kind(amap[other], read.type)
            if kind is not None:
                if found.bias is not None or found.residual is not None:
                    return None
                found.bias, found.bias_flag = read, kind
            elif (
                amap[other] == identity
                and found.residual is None
                and (read.type == out.type or _same_elements(read.type, out.type))
            ):
                found.residual = read
            else:
                return None
        elif isinstance(o, (arith.MaximumfOp, arith.MinimumfOp)):
            value = _float_constant(other)
            if value is None or math.isnan(value):
                return None
            clipped = True
            # Clamps compose to one [lo, hi] (max then min) only while lo <= hi.
            if isinstance(o, arith.MaximumfOp):
                if value > found.hi:
                    return None
                found.lo = max(found.lo, value)
            else:
                if value < found.lo:
                    return None
                found.hi = min(found.hi, value)
        else:
            return None
        current = o.result
    return None


def _leaky_relu(o: Operation, x: SSAValue) -> tuple[float, tuple[Operation, ...]] | None:
    """(alpha, (compare, multiply, select)) when `o` starts convert-relay-to-linalg's leaky
    relu of `x`, `select(x > 0, x, x * alpha)`, with a constant alpha in [0, 1]: then it is
    max(x, alpha * x) exactly (+-0 and NaN included), the routine's slope; else None."""
    if not isinstance(o, (arith.CmpfOp, arith.MulfOp)) or x not in o.operands:
        return None
    uses = list(o.results[0].uses)
    if len(uses) != 1 or not isinstance(sel := uses[0].operation, arith.SelectOp):
        return None
    cmp, mul = sel.cond.owner, sel.rhs.owner
    if sel.lhs is not x or not isinstance(cmp, arith.CmpfOp) or not isinstance(mul, arith.MulfOp):
        return None
    ogt = arith.CMPF_COMPARISON_OPERATIONS.index("ogt")
    if cmp.predicate.value.data != ogt or cmp.lhs is not x or _float_constant(cmp.rhs) != 0.0:
        return None
    if x not in mul.operands or not all(r.has_one_use() for r in (*cmp.results, *mul.results)):
        return None
    alpha = _float_constant(mul.rhs if mul.lhs is x else mul.lhs)
    if alpha is None or not 0.0 <= alpha <= 1.0 or o not in (cmp, mul):
        return None
    return alpha, (cmp, mul, sel)


def conv_epilogue(conv: linalg.GenericOp) -> Epilogue | None:
    """The conv routine's epilogue after `conv` (store_epilogue): its bias is per output
    channel, `[1, OB, 1, 1, L]` read at (n, ob, y, x, l) -> (0, ob, 0, 0, l)."""
    out_type = conv.outputs[0].type
    assert isinstance(out_type, MemRefType)
    shape = out_type.get_shape()
    # Axis 0 of the bias (size 1) is read at n, or at 0 against a `?` batch (broadcast).
    channel = [
        AffineMap(5, 0, (batch, AffineDimExpr(1), AffineConstantExpr(0), AffineConstantExpr(0),
                         AffineDimExpr(4)))
        for batch in (AffineDimExpr(0), AffineConstantExpr(0))
    ]  # fmt: skip
    bias_type = MemRefType(out_type.get_element_type(), [1, shape[1], 1, 1, shape[4]])

    def bias_kind(amap: AffineMap, t: MemRefType) -> int | None:
        return HAS_BIAS if amap in channel and t == bias_type else None

    return store_epilogue(conv, bias_kind, scale=False)


def _only_freed_between(first: Operation, last: Operation, values: Sequence[SSAValue]) -> bool:
    """Between `first` and `last` (same block) nothing touches `values` but deallocs."""
    op = first.next_op
    while op is not None and op is not last:
        if not isinstance(op, memref.DeallocOp) and any(
            v in inner.operands for inner in op.walk() for v in values
        ):
            return False
        op = op.next_op
    return op is last


@dataclass(frozen=True)
class ConvPadding:
    """The zero padding copy before a conv (convert-relay-to-linalg's, CONV_PADDING): the
    generic, the buffer it reads and the padding's top rows and left columns."""

    op: linalg.GenericOp
    source: SSAValue
    top: int
    left: int


def conv_padding(x: SSAValue, at: Operation) -> ConvPadding | None:
    """The padding copy that writes the conv input `x`, when the routine can read its source
    instead at `at` (same block, the source contiguous and not written or freed on the way
    but for deallocs, which then move after the call)."""
    writers = [
        u.operation
        for u in x.uses
        if isinstance(u.operation, linalg.GenericOp) and x in u.operation.outputs
    ]
    if len(writers) != 1 or CONV_PADDING not in writers[0].attributes:
        return None
    pad = writers[0]
    pads = pad.attributes[CONV_PADDING]
    if not isinstance(pads, DenseArrayBase) or pad.parent is not at.parent:
        return None
    top, left, bottom, right = (int(v) for v in pads.get_values())
    loads = {
        o.memref
        for o in pad.body.walk()
        if isinstance(o, memref.LoadOp) and not _defined_in(o.memref, pad)
    }
    if len(loads) != 1 or list(pad.inputs):
        return None
    (source,) = loads
    st, xt = source.type, x.type
    if not (isinstance(st, MemRefType) and isinstance(xt, MemRefType)):
        return None
    if not isinstance(st.layout, NoneAttr):
        return None
    s, p = st.get_shape(), xt.get_shape()
    if len(s) != 5 or len(p) != 5:
        return None
    # A `?` axis of the copy is its source's plus the padding at run time (the pad's shape).
    padded = [s[0], s[1], s[2] + top + bottom, s[3] + left + right, s[4]]
    if any(d != (e if n != DYNAMIC_INDEX else n) for d, e, n in zip(p, padded, s, strict=True)):
        return None
    if not _only_freed_between(pad, at, [source]):
        return None
    return ConvPadding(pad, source, top, left)


def _defined_in(v: SSAValue, op: Operation) -> bool:
    owner = v.owner
    parent = owner.parent_op() if isinstance(owner, Block) else owner
    return parent is not None and op.is_ancestor(parent)


def conv_call(op: linalg.GenericOp, kind: str, module: ModuleOp, target: Target) -> bool:
    """Replaces the blocked conv2d `op` (and the elementwise epilogue after it, when the routine
    can apply it at its store) by a call of the conv2d routine; False if it does not fit."""
    depthwise = kind == "depthwise_conv2d"
    g = (depthwise_geometry if depthwise else conv_geometry)(op, target.lanes(32))
    fill = _zero_fill_before(op)
    if g is None or fill is None:
        return False
    x, w, tiles = op.inputs
    out = op.outputs[0]
    ep = conv_epilogue(op)
    if ep is not None and not _only_freed_between(op, ep.op, [x, w]):
        ep = None
    # With an epilogue the call goes where the epilogue was (its bias and residual are ready
    # there); the conv's inputs freed in between are freed after the call instead.
    at: Operation = op if ep is None else ep.op
    # The routine pads: it reads the padding copy's source (the copy goes when no other
    # conv reads it).
    padding = conv_padding(x, at)
    ops: list[Operation] = []
    dest = out if ep is None else ep.op.outputs[0]
    source = x if padding is None else padding.source
    px, pw, py = (_pointer(ops, v) for v in (source, w, dest))
    bias = _pointer(ops, ep.bias) if ep is not None and ep.bias is not None else py
    residual = _pointer(ops, ep.residual) if ep is not None and ep.residual is not None else py
    flags = 0
    if ep is not None:
        flags = ep.bias_flag | (HAS_RESIDUAL if ep.residual is not None else 0)
    h, wi, top, left = g.h, g.wi, 0, 0
    if padding is not None:
        st = padding.source.type
        assert isinstance(st, MemRefType)
        h, wi, top, left = st.get_shape()[2], st.get_shape()[3], padding.top, padding.left
    # (size, buffer and axis it is read from when `?`): the input's N, H, W, the result's OH, OW
    n, h, wi, oh, ow = (
        (g.n, source, 0),
        (h, source, 2),
        (wi, source, 3),
        (g.oh, dest, 2),
        (g.ow, dest, 3),
    )
    sizes = [n, g.c, g.ic, h, wi, g.ob, g.groups, oh, ow, g.kh, g.kw, g.sh, g.sw, top, left]
    sizes += [g.dh, g.dw]
    if depthwise:  # no IC nor OB: one block in, one out
        sizes = [n, g.c, h, wi, oh, ow, g.kh, g.kw, g.sh, g.sw, top, left, g.dh, g.dw]
    bounds = [
        arith.ConstantOp(FloatAttr(v, f32))
        for v in ((ep.lo, ep.hi) if ep is not None else (-math.inf, math.inf))
    ]
    ops += bounds
    args = [px, pw, py, bias, residual]
    args += [_size(ops, *v) if isinstance(v, tuple) else _i64(ops, v) for v in sizes]
    args.append(_i64(ops, flags))
    call = llvm.CallOp(
        declare_kernel(module, DEPTHWISE_KERNEL if depthwise else CONV_KERNEL, target),
        *args,
        *(b.result for b in bounds),
    )
    call.location = op.location
    ops.append(call)
    block = at.parent_block()
    assert block is not None
    block.insert_ops_before(ops, at)
    if ep is not None:
        _move_deallocs_after(op, ep.op, (x, w), call)
        ep.op.detach()
        ep.op.erase()
    if padding is not None:
        # The source's deallocs between the copy and the call go after the call.
        o, freed = padding.op.next_op, []
        while o is not None and o is not call:
            nxt = o.next_op
            if isinstance(o, memref.DeallocOp) and o.memref is padding.source:
                o.detach()
                freed.append(o)
            o = nxt
        block.insert_ops_after(freed, call)
    for dead in (op, fill):
        dead.detach()
        dead.erase()
    for buffer in (tiles, out, dest) if ep is not None else (tiles, dest):
        _drop_if_unused(buffer)
    if padding is not None and all(
        u.operation is padding.op or isinstance(u.operation, memref.DeallocOp) for u in x.uses
    ):
        padding.op.detach()
        padding.op.erase()
        _drop_if_unused(x)
    return True


def _drop_if_unused(buffer: SSAValue) -> None:
    """Erases a memref.alloc that nothing but its deallocs uses any more, or a view that nothing
    uses (a call addresses a view from its buffer)."""
    alloc = buffer.owner
    if isinstance(alloc, memref.SubviewOp) and alloc.result.first_use is None:
        alloc.detach()
        alloc.erase()
        return
    if not isinstance(alloc, memref.AllocOp):
        return
    users = [u.operation for u in buffer.uses]
    if all(isinstance(u, memref.DeallocOp) for u in users):
        for u in users:
            u.detach()
            u.erase()
        alloc.detach()
        alloc.erase()


KernelRule = Callable[[linalg.GenericOp, str, ModuleOp, Target], bool]
KERNELS: dict[str, KernelRule] = {
    "dense": gemm_call,
    "matmul": gemm_call,
    "batch_matmul": gemm_call,
    "conv2d": conv_call,
    "depthwise_conv2d": conv_call,
}
"""A contraction's name (attribute_names.CONTRACTION) -> the rule replacing it by a kernel call."""


@dataclass(frozen=True)
class LowerContractionsPass(ModulePass):
    """Replaces named float32 contractions by calls to the kernel library, declared in the module
    (or defined: kernels=define): dense, matmul, batch_matmul by the packed GEMM; a blocked conv2d
    (with the bias/residual/relu epilogue after it) by the shape-generic conv2d routine."""

    name = "lower-contractions"

    vector_bits: int = 0
    """The target's vector width (128, 256, 512); 0 is the host's."""
    fma: bool = True
    """Whether the target fuses multiply-add (with vector_bits; the host's when that is 0)."""
    min_macs: int = MIN_KERNEL_MACS
    """Smaller contractions keep their loops."""
    pack_weights: bool = True
    """A constant B (a weight) is packed in the GEMM's panels now, and the call is the
    packed-B entry's (no packing of B in each call)."""
    kernels: str = "declare"
    """declare: the module declares the routines it calls (the kernel library defines them);
    define: the module gets the routines themselves, internal (self-sufficient IR)."""

    def target(self) -> Target:
        if self.vector_bits == 0:
            return Target.host()
        if self.vector_bits not in (128, 256, 512):
            raise RelayError(
                f"lower-contractions: vector-bits must be 128, 256 or 512 (0: the host's), "
                f"got {self.vector_bits}"
            )
        return Target(vector_bits=self.vector_bits, fma=self.fma)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.kernels not in KERNEL_MODES:
            raise RelayError(
                f"lower-contractions: unknown kernels mode '{self.kernels}' "
                f"(expected {' or '.join(KERNEL_MODES)})"
            )
        target = self.target()
        rules = dict(KERNELS)
        weights = PackedWeights(op) if self.pack_weights else None
        if weights is not None:
            rules.update(dict.fromkeys(GEMM_CONTRACTIONS, partial(gemm_call, weights=weights)))
        for f in list(op.ops):
            if not isinstance(f, func.FuncOp) or f.is_declaration:
                continue
            for kernel in [o for o in f.walk() if isinstance(o, linalg.GenericOp)]:
                kind = kernel_contraction(kernel, self.min_macs)
                rule = rules.get(kind) if kind is not None else None
                if rule is not None:
                    rule(kernel, kind, op, target)  # pyright: ignore[reportArgumentType]
        if weights is not None:
            weights.drop_unused_sources()
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
        kernel = by_name[f.sym_name.data]
        definition = kernel.build(target)
        definition.linkage = llvm.LinkageAttr("internal")
        for helper in kernel.helpers(target):
            module.body.block.insert_op_before(helper, f)
        module.body.block.insert_op_before(definition, f)
        f.detach()
        f.erase()
