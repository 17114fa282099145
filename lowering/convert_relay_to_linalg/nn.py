"""nn operators -> linalg.generic (contractions, windows) and elementwise compositions.

Layouts follow the registry: NCHW/OIHW and NHWC/HWIO convolution, NCHW and
NHWC pooling; only the indexing maps differ.
"""

from __future__ import annotations

import math as pymath
from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, math, scf, tensor
from xdsl.dialects.builtin import (
    AffineMapAttr,
    AnyFloat,
    BFloat16Type,
    DenseArrayBase,
    Float32Type,
    IndexType,
    IntegerType,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Attribute, Block, Region, SSAValue

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.attribute_names import CONTRACTION, CONV_PADDING
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.decompositions import DECOMPOSITIONS, HALVES
from relay_opt.dialects.relay.ir_helpers import shape_of
from relay_opt.dialects.relay.ops.common import normalize_axis
from relay_opt.dialects.relay.ops.elementwise import Add, Cast, Maximum, Multiply
from relay_opt.dialects.relay.ops.nn import (
    DEFORM_CHANNELS,
    DEFORM_MISMATCH,
    MAX_UNPOOL_MISMATCH,
    AvgPool2D,
    BatchMatmul,
    BatchNorm,
    BiasAdd,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    GroupNorm,
    InstanceNorm,
    L2Normalize,
    LayerNorm,
    LogSoftmax,
    Matmul,
    MaxPool2D,
    MaxUnpool,
    ModulatedDeformableConv2D,
    Pad,
    Prelu,
    Softmax,
    Window,
    conv2d_blocks,
    deform_offset_shapes,
    deform_out,
    layouts_are_native,
    padding4,
    spatial_windows,
)
from relay_opt.dialects.relay.ops.transform import LayoutTransform
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.types import DYNAMIC, tensor_dtype, tensor_type
from relay_opt.lowering.convert_relay_to_linalg import (
    Lowerer,
    RuntimeDim,
    lower_through_relay,
    lowering,
    signless,
)
from relay_opt.lowering.convert_relay_to_linalg.elementwise import (
    BINARY,
    Scalar,
    cast_scalar,
    elementwise,
)
from relay_opt.lowering.convert_relay_to_linalg.reduce import reduction_identity, run_time_count
from relay_opt.lowering.convert_relay_to_linalg.structured import (
    PARALLEL,
    REDUCTION,
    accumulate,
    amap,
    c,
    d,
    empty,
    filled,
    generic,
    index,
    scalar_const,
)


def _mac(dtype: str):  # noqa: ANN202
    """acc + a * b, in the dtype's arithmetic."""

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        s = Scalar(b, dtype)
        return BINARY[Add](s, a[2], BINARY[Multiply](s, a[0], a[1]))

    return body


def _dtype(op: RelayOperatorOp, i: int = 0) -> str:
    return tensor_dtype(op.operands[i].type)  # pyright: ignore[reportArgumentType]


def _in_out_dtype(lw: Lowerer, op: RelayOperatorOp) -> SSAValue | None:
    """A contraction whose out_dtype is not its operands' (int8 in, int32 out; float16 in,
    float32 out) is computed as TVM's compute rules do: the operands cast to out_dtype, then
    the contraction in out_dtype. None when out_dtype is the operands' own."""
    out_dtype = op.attrs.out_dtype
    if out_dtype in ("", _dtype(op)):
        return None

    def build(b: RelayBuilder, op: RelayOperatorOp) -> SSAValue:
        attrs = {k: v for k, v in op.attrs.items() if v is not None}
        attrs["out_dtype"] = ""
        operands = [b.call(Cast, v, dtype=out_dtype) for v in op.operands]
        return b.call(type(op), *operands, **attrs)

    return lower_through_relay(lw, op, build)


def bf16_in_float32(lw: Lowerer, op: RelayOperatorOp) -> SSAValue | None:
    """An operator whose steps would round a bfloat16 intermediate (a window's sum, the
    exponentials) computes in float32 from its operands cast up, and its result rounds to
    bfloat16 once, as the interpreter's does. None when no operand is bfloat16."""
    if not any(tensor_dtype(v.type) == "bfloat16" for v in op.operands):  # pyright: ignore[reportArgumentType]
        return None

    def build(b: RelayBuilder, op: RelayOperatorOp) -> SSAValue:
        attrs = {k: v for k, v in op.attrs.items() if v is not None}
        operands = [
            b.call(Cast, v, dtype="float32") if tensor_dtype(v.type) == "bfloat16" else v  # pyright: ignore[reportArgumentType]
            for v in op.operands
        ]
        return b.call(Cast, b.call(type(op), *operands, **attrs), dtype="bfloat16")

    return lower_through_relay(lw, op, build)


# -- contractions ------------------------------------------------------------------------


def _contract(
    lw: Lowerer,
    op: RelayOperatorOp,
    operands: list[SSAValue],
    maps: list[AffineMapAttr],
    parallel: int,
    kind: str,
) -> SSAValue:
    """The sum of the operands' products over the last loop, after `parallel` parallel loops;
    `kind` names the contraction (see attribute_names.CONTRACTION)."""
    iterators = [PARALLEL] * parallel + [REDUCTION]
    result = accumulate(lw, operands, op.result.type, 0, maps, iterators, _mac(_dtype(op)))
    # Named for lower-contractions, which calls a kernel for it (float16's result is the
    # generic that rounds the float32 sum: the name goes on the sum).
    anchor = result.owner
    if isinstance(anchor, linalg.GenericOp) and REDUCTION not in anchor.iterator_types.data:
        anchor = anchor.inputs[0].owner
    if isinstance(anchor, linalg.GenericOp):
        # The GEMM routine takes `?` sizes too: lower-contractions reads them at the call.
        anchor.attributes[CONTRACTION] = StringAttr(kind)
    return result


@lowering(Dense)
def lower_dense(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    if (cast := _in_out_dtype(lw, op)) is not None:
        return cast
    x, w = args
    lead = len(shape_of(x)) - 1
    lw.check_same_size(op, x, lead, w, 1)
    n = lead + 2  # loops: lead..., j (units), k (reduction)
    maps = [
        amap(n, [*(d(i) for i in range(lead)), d(lead + 1)]),
        amap(n, [d(lead), d(lead + 1)]),
        amap(n, [*(d(i) for i in range(lead)), d(lead)]),
    ]
    return _contract(lw, op, [x, w], maps, lead + 1, "dense")


@lowering(Matmul)
def lower_matmul(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    if (cast := _in_out_dtype(lw, op)) is not None:
        return cast
    a, b = args
    # loops: a's leading axes (m), n, then the reduction k
    lead = 1 if op.attrs.transpose_a else len(shape_of(a)) - 1
    a_k = len(shape_of(a)) - (2 if op.attrs.transpose_a else 1)
    lw.check_same_size(op, a, a_k, b, 1 if op.attrs.transpose_b else 0)
    n = lead + 2
    k = d(n - 1)
    a_map = [k, d(0)] if op.attrs.transpose_a else [*(d(i) for i in range(lead)), k]
    b_map = [d(lead), k] if op.attrs.transpose_b else [k, d(lead)]
    maps = [amap(n, a_map), amap(n, b_map), amap(n, [*(d(i) for i in range(lead)), d(lead)])]
    return _contract(lw, op, [a, b], maps, lead + 1, "matmul")


@lowering(BatchMatmul)
def lower_batch_matmul(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    if (cast := _in_out_dtype(lw, op)) is not None:
        return cast
    x, y = args
    lw.check_same_size(op, x, 1 if op.attrs.transpose_a else 2, y, 2 if op.attrs.transpose_b else 1)
    if shape_of(x)[0] < 0 and shape_of(y)[0] < 0:
        lw.check_same_size(op, x, 0, y, 0)  # a ? batch is not broadcast
    # loops: batch, m, n, k
    bx = c(0) if shape_of(x)[0] == 1 and shape_of(y)[0] != 1 else d(0)
    by = c(0) if shape_of(y)[0] == 1 and shape_of(x)[0] != 1 else d(0)
    x_map = [bx, d(3), d(1)] if op.attrs.transpose_a else [bx, d(1), d(3)]
    y_map = [by, d(2), d(3)] if op.attrs.transpose_b else [by, d(3), d(2)]
    maps = [amap(4, x_map), amap(4, y_map), amap(4, [d(0), d(1), d(2)])]
    return _contract(lw, op, [x, y], maps, 3, "batch_matmul")


# -- convolution and pooling --------------------------------------------------------------


def _pad_spatial(
    lw: Lowerer, x: SSAValue, pads: tuple[int, int, int, int], value: float, layout: str = "NCHW"
) -> SSAValue:
    """x with (top, left, bottom, right) padding of `value` on the H and W axes."""
    top, left, bottom, right = pads
    if not any(pads):
        return x
    widths = [[0, 0] for _ in shape_of(x)]
    h_axis, w_axis = (1, 2) if layout == "NHWC" else (2, 3)
    widths[h_axis], widths[w_axis] = [top, bottom], [left, right]
    return pad_by_index(lw, x, widths, "constant", value)


def _blocked_conv2d(lw: Lowerer, op: RelayOperatorOp, x: SSAValue, w: SSAValue) -> SSAValue:
    """NCHW{c}c data, OIHW{i}i{o}o weight: the output-channel block is the innermost loop,
    inside the reductions, and outside it a tile of up to 8 output columns (a divisor of the
    width). Each step multiplies one broadcast input element by a vector of `o` weights into
    `tile` independent vector sums, which LLVM keeps in registers across the reductions
    (with noalias buffers) and vectorizes (SLP): a register tile of tile x o accumulators."""
    attrs = op.attrs
    sh, sw = attrs.strides
    dh, dw = attrs.dilation
    pads = padding4(attrs.padding)
    if any(n < 0 for n in shape_of(x)[2:4]):  # `?` H or W: the windows must fit
        check_windows(lw, op, x)
    x = _pad_spatial(lw, x, pads, 0.0)
    if any(pads) and isinstance(x.owner, linalg.GenericOp):
        # lower-contractions drops this copy when it calls the conv2d routine (which pads).
        x.owner.attributes[CONV_PADDING] = DenseArrayBase.from_list(i64, list(pads))
    ow = lw.result_dims()[3]
    # A `?` width is cut in tiles of one column (the routine tiles it at run time).
    tile = max(t for t in range(1, 9) if ow % t == 0) if isinstance(ow, int) else 1
    # An unread operand whose shape gives the split column loops (xo, xi) their ranges.
    t = signless(op.result.type)
    assert isinstance(t, TensorType)
    ranges: list[int | SSAValue] = [ow // tile if isinstance(ow, int) else ow, tile]
    wshape, xshape = shape_of(w), shape_of(op.operands[0].type)
    in_c, out_c = xshape[1] * xshape[4], wshape[0] * wshape[5]
    grouped = attrs.groups != 1 and not attrs.groups == in_c == out_c  # (not depthwise)
    if grouped:
        # loops: n, g, ob, y, xo, ib, i, j, ii (reductions), xi, oo; group g's output block
        # ob reads its group's input blocks (ib of the weight's I / i); the unread operand
        # also gives g and ob their ranges
        groups = attrs.groups
        obg, cbg = wshape[0] // groups, wshape[1]
        col = d(4) * tile + d(9)
        rows, cols = d(3) * sh + d(6) * dh, col * sw + d(7) * dw
        ranges = [groups, obg, *ranges]
        maps = [
            amap(11, [d(0), d(1) * cbg + d(5), rows, cols, d(8)]),
            amap(11, [d(1) * obg + d(2), d(5), d(6), d(7), d(8), d(10)]),
            amap(11, [d(1), d(2), d(4), d(9)]),
            amap(11, [d(0), d(1) * obg + d(2), d(3), col, d(10)]),
        ]
        iterators = [PARALLEL] * 5 + [REDUCTION] * 4 + [PARALLEL] * 2
    elif attrs.groups == 1:
        # loops: n, ob, y, xo, ib, i, j, ii (reductions), xi, oo
        col = d(3) * tile + d(8)
        rows, cols = d(2) * sh + d(5) * dh, col * sw + d(6) * dw
        maps = [
            amap(10, [d(0), d(4), rows, cols, d(7)]),
            amap(10, [d(1), d(4), d(5), d(6), d(7), d(9)]),
            amap(10, [d(3), d(8)]),
            amap(10, [d(0), d(1), d(2), col, d(9)]),
        ]
        iterators = [PARALLEL] * 4 + [REDUCTION] * 4 + [PARALLEL] * 2
    else:
        # depthwise: loops n, cb, y, xo, i, j (reductions), xi, cc; channel block cb reads
        # its own input block
        col = d(3) * tile + d(6)
        rows, cols = d(2) * sh + d(4) * dh, col * sw + d(5) * dw
        maps = [
            amap(8, [d(0), d(1), rows, cols, d(7)]),
            amap(8, [d(1), c(0), d(4), d(5), c(0), d(7)]),
            amap(8, [d(3), d(6)]),
            amap(8, [d(0), d(1), d(2), col, d(7)]),
        ]
        iterators = [PARALLEL] * 4 + [REDUCTION] * 2 + [PARALLEL] * 2
    mac = _mac(_dtype(op))
    tiles_t = TensorType(t.element_type, [r if isinstance(r, int) else DYNAMIC for r in ranges])
    tiles = lw.insert(
        tensor.EmptyOp([r for r in ranges if not isinstance(r, int)], tiles_t)
    ).results[0]
    result = accumulate(
        lw,
        [x, w, tiles],
        op.result.type,
        0,
        maps,
        iterators,
        lambda b, a: mac(b, [a[0], a[1], a[3]]),
    )
    anchor = result.owner
    if isinstance(anchor, linalg.GenericOp):
        # Named for lower-contractions, which calls a routine for it (float32).
        kind = "conv2d" if attrs.groups == 1 or grouped else "depthwise_conv2d"
        anchor.attributes[CONTRACTION] = StringAttr(kind)
    return result


def through_nchw(lw: Lowerer, op: RelayOperatorOp) -> SSAValue:
    """A conv2d or pooling in layouts the rules do not compute in (OHWI, NWHC, a result in
    another layout, ...): layout_transforms to NCHW (and OIHW), the op there, and back."""

    def relaid(b: RelayBuilder, v: SSAValue, src: str, dst: str) -> SSAValue:
        return v if src == dst else b.call(LayoutTransform, v, src_layout=src, dst_layout=dst)

    def build(b: RelayBuilder, op: RelayOperatorOp) -> SSAValue:
        attrs = {k: v for k, v in op.attrs.items() if v is not None}
        if isinstance(op, Conv2D):
            out = attrs["out_layout"] or attrs["data_layout"]
            x = relaid(b, op.operands[0], attrs["data_layout"], "NCHW")
            w = relaid(b, op.operands[1], attrs["kernel_layout"], "OIHW")
            attrs.update(data_layout="NCHW", kernel_layout="OIHW", out_layout="")
            y = b.call(Conv2D, x, w, **attrs)
        else:
            out = attrs["out_layout"] or attrs["layout"]
            x = relaid(b, op.operands[0], attrs["layout"], "NCHW")
            attrs.update(layout="NCHW", out_layout="")
            y = b.call(type(op), x, **attrs)
        return relaid(b, y, "NCHW", out)

    return lower_through_relay(lw, op, build)


@lowering(Conv2D)
def lower_conv2d(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    if not layouts_are_native(op):
        return through_nchw(lw, op)
    attrs = op.attrs
    nhwc = attrs.data_layout == "NHWC"
    if (cast := _in_out_dtype(lw, op)) is not None:
        return cast
    x, w = args
    if conv2d_blocks(attrs) is not None:
        return _blocked_conv2d(lw, op, x, w)
    if nhwc:
        kh, kw, cpg, cout = shape_of(w)
    else:
        cout, cpg, kh, kw = shape_of(w)
    if any(n < 0 for n in (*shape_of(x)[1:], kh, kw)):  # `?` spatial dims: windows must fit
        check_windows(lw, op, x, w)
    # A `?` channel count (the data's, the weight's I) is checked against the other's: the
    # loops read it from the data; a grouped weight's `?` channels split the loops' channels
    # by sizes read at run time.
    channel_axis, what = 3 if nhwc else 1, "the data's channels differ from the weight's"
    if attrs.groups == 1:
        lw.check_same_size(op, x, channel_axis, w, 2 if nhwc else 1, what)
    elif min(cout, cpg) < 0:  # grouped, `?` weight channels: the groups' sizes at run time
        out_c = _size(lw, w, 3 if nhwc else 0)
        lw.check_equal(
            op,
            _size(lw, x, channel_axis).value,
            (_size(lw, w, 2 if nhwc else 1) * attrs.groups).value,
            what,
        )
        opg_rt = _groups_split(
            lw,
            op,
            out_c,
            attrs.groups,
            f"the weight's output channels do not split into {attrs.groups} groups",
        )
        # at least 1: indices divided by it never trap (no output is made for 0 channels)
        opg_rt = opg_rt.max(1).value
        x = _pad_spatial(lw, x, padding4(attrs.padding), 0.0, attrs.data_layout)
        return _grouped_conv2d_at_run_time(lw, op, x, w, opg_rt, nhwc)
    elif shape_of(x)[channel_axis] < 0:
        in_c = RuntimeDim.of(lw, x, channel_axis).value
        lw.check_equal(op, in_c, cpg * attrs.groups, what)
    x = _pad_spatial(lw, x, padding4(attrs.padding), 0.0, attrs.data_layout)
    opg = cout // attrs.groups
    sh, sw = attrs.strides
    dh, dw = attrs.dilation
    # loops: n, o, y, x, c (within the group), i, j
    channel = d(4) if attrs.groups == 1 else (d(1) // opg) * cpg + d(4)
    rows, cols = d(2) * sh + d(5) * dh, d(3) * sw + d(6) * dw
    if nhwc:
        maps = [
            amap(7, [d(0), rows, cols, channel]),
            amap(7, [d(5), d(6), d(4), d(1)]),
            amap(7, [d(0), d(2), d(3), d(1)]),
        ]
    else:
        maps = [
            amap(7, [d(0), channel, rows, cols]),
            amap(7, [d(1), d(4), d(5), d(6)]),
            amap(7, [d(0), d(1), d(2), d(3)]),
        ]
    return accumulate(
        lw, [x, w], op.result.type, 0, maps, [PARALLEL] * 4 + [REDUCTION] * 3, _mac(_dtype(op))
    )


def _size(lw: Lowerer, v: SSAValue, axis: int) -> RuntimeDim:
    """v's size along axis as a run-time value (a constant for a static dim)."""
    n = shape_of(v)[axis]
    return RuntimeDim.const(lw, n) if n >= 0 else RuntimeDim.of(lw, v, axis)


def _groups_split(
    lw: Lowerer, op: RelayOperatorOp, channels: RuntimeDim, groups: int, message: str
) -> RuntimeDim:
    """channels / groups, after a run-time check that the groups split the channels (the
    type relation's check, for a `?` count; `message` its error)."""
    per_group = channels // groups
    lw.check_equal(op, (per_group * groups).value, channels.value, message)
    return per_group


def _group_channel(
    b: Builder, out: SSAValue, inner: SSAValue, out_per_group: SSAValue, in_per_group: SSAValue
) -> tuple[SSAValue, SSAValue]:
    """For output channel `out` and channel `inner` within its group, group sizes read at
    run time (an affine map cannot divide by them): the input channel (out's group *
    in_per_group + inner) and out's place in its group."""
    group = b.insert(arith.DivUIOp(out, out_per_group)).results[0]
    start = b.insert(arith.MuliOp(group, in_per_group)).results[0]
    channel = b.insert(arith.AddiOp(start, inner)).results[0]
    first = b.insert(arith.MuliOp(group, out_per_group)).results[0]
    return channel, b.insert(arith.SubiOp(out, first)).results[0]


def _extracted(b: Builder, t: SSAValue, coords: Sequence[SSAValue], like: SSAValue) -> SSAValue:
    """t[coords], widened to `like`'s float type (a 16-bit float accumulates in float32)."""
    element = t.type.element_type  # pyright: ignore[reportAttributeAccessIssue]
    value = b.insert(tensor.ExtractOp(t, list(coords), element)).results[0]
    if value.type != like.type:
        value = b.insert(arith.ExtFOp(value, like.type)).results[0]  # pyright: ignore[reportArgumentType]
    return value


def _affine_index(b: Builder, terms: Sequence[tuple[int, int]]) -> SSAValue:
    """sum(index(loop) * factor) over (loop, factor) terms, in the body of a generic."""
    from relay_opt.lowering.convert_relay_to_linalg.structured import index

    total: SSAValue | None = None
    for loop, factor in terms:
        term = index(b, loop)
        if factor != 1:
            term = b.insert(arith.MuliOp(term, scalar_const(b, factor, IndexType()))).results[0]
        total = term if total is None else b.insert(arith.AddiOp(total, term)).results[0]
    assert total is not None
    return total


def _grouped_conv2d_at_run_time(
    lw: Lowerer, op: RelayOperatorOp, x: SSAValue, w: SSAValue, opg: SSAValue, nhwc: bool
) -> SSAValue:
    """A grouped conv2d whose weight's channels are `?`: the loops (n, o, y, x, c within the
    group, i, j) take o, y, x from the result and c, i, j from the weight; the body reads the
    padded data at the channel of o's group, computed from the run-time group sizes."""
    from relay_opt.lowering.convert_relay_to_linalg.structured import index

    attrs = op.attrs
    (sh, sw), (dh, dw) = attrs.strides, attrs.dilation
    cpg = _size(lw, w, 2 if nhwc else 1).value
    mac = _mac(_dtype(op))

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        channel, _ = _group_channel(b, index(b, 1), index(b, 4), opg, cpg)
        rows = _affine_index(b, [(2, sh), (5, dh)])
        cols = _affine_index(b, [(3, sw), (6, dw)])
        coords = [index(b, 0), rows, cols, channel] if nhwc else [index(b, 0), channel, rows, cols]
        return mac(b, [_extracted(b, x, coords, a[1]), a[0], a[1]])

    if nhwc:
        maps = [amap(7, [d(5), d(6), d(4), d(1)]), amap(7, [d(0), d(2), d(3), d(1)])]
    else:
        maps = [amap(7, [d(1), d(4), d(5), d(6)]), amap(7, [d(0), d(1), d(2), d(3)])]
    return accumulate(lw, [w], op.result.type, 0, maps, [PARALLEL] * 4 + [REDUCTION] * 3, body)


def _zero_inserted(
    lw: Lowerer,
    x: SSAValue,
    strides: Sequence[int],
    before: Sequence[int | SSAValue],
    shape: Sequence[int | SSAValue],
) -> SSAValue:
    """An NCHW buffer of `shape` (ints, or run-time sizes for x's `?` dims) holding
    x[n, c, y, x] at (before[0] + y * sh, before[1] + x * sw) and zeros elsewhere (`before`
    may be negative: the buffer then starts inside x's span; run-time for a `?` kernel)."""
    from xdsl.dialects.builtin import IndexType

    from relay_opt.lowering.convert_relay_to_linalg.structured import index

    t = x.type
    assert isinstance(t, TensorType)
    in_shape = t.get_shape()
    out_t = TensorType(t.element_type, [n if isinstance(n, int) else DYNAMIC for n in shape])
    # The last input position along each spatial axis, read at run time for a `?` axis.
    lasts = [
        (in_shape[k] - 1) * stride
        if in_shape[k] >= 0
        else ((RuntimeDim.of(lw, x, k) - 1) * stride).value
        for k, stride in zip((2, 3), strides, strict=True)
    ]

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        ix = IndexType()
        valid = None
        coords = [index(b, 0), index(b, 1)]
        for k, (stride, offset) in enumerate(zip(strides, before, strict=True)):
            shift = offset if isinstance(offset, SSAValue) else scalar_const(b, offset, ix)
            pos = b.insert(arith.SubiOp(index(b, k + 2), shift)).results[0]
            limit = lasts[k]
            last = limit if isinstance(limit, SSAValue) else scalar_const(b, limit, ix)
            checks = [
                b.insert(arith.CmpiOp(pos, scalar_const(b, 0, ix), "sge")).results[0],
                b.insert(arith.CmpiOp(pos, last, "sle")).results[0],
            ]
            if stride > 1:
                rem = b.insert(arith.RemSIOp(pos, scalar_const(b, stride, ix))).results[0]
                checks.append(b.insert(arith.CmpiOp(rem, scalar_const(b, 0, ix), "eq")).results[0])
                pos = b.insert(arith.DivSIOp(pos, scalar_const(b, stride, ix))).results[0]
            for check in checks:
                valid = check if valid is None else b.insert(arith.AndIOp(valid, check)).results[0]
            coords.append(pos)
        assert valid is not None
        zero = scalar_const(b, 0, ix)
        coords[2:] = [b.insert(arith.SelectOp(valid, p, zero)).results[0] for p in coords[2:]]
        value = b.insert(tensor.ExtractOp(x, coords, t.element_type)).results[0]
        return b.insert(arith.SelectOp(valid, value, scalar_const(b, 0, t.element_type))).results[0]

    sizes = [n for n in shape if not isinstance(n, int)]
    init = lw.insert(tensor.EmptyOp(sizes, out_t)).results[0]
    return generic(lw, [], [init], [amap(4, [d(i) for i in range(4)])], [PARALLEL] * 4, body)[0]


@lowering(Conv2DTranspose)
def lower_conv2d_transpose(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """A stride-1 convolution with the flipped kernel over the input spread out by the strides
    (zeros between its elements) and padded by (kernel span - 1 - padding) on each side; or,
    when the kernel is the strides (no padding, dilation, output padding or groups), a matmul
    and a pixel shuffle (_conv2d_transpose_as_matmul)."""
    attrs = op.attrs
    if (cast := _in_out_dtype(lw, op)) is not None:
        return cast
    x, w = args
    cin = shape_of(x)[1]
    w_in, opg, kh, kw = shape_of(w)
    out_shape = signless(op.result.type).get_shape()  # pyright: ignore[reportAttributeAccessIssue]
    (sh, sw), (dh, dw) = attrs.strides, attrs.dilation
    top, left, _, _ = padding4(attrs.padding)
    no_overlap = (kh, kw, dh, dw) == (sh, sw, 1, 1) and tuple(padding4(attrs.padding)) == (0,) * 4
    h, w_in_width = shape_of(x)[2:]
    static = min(*shape_of(x), *shape_of(w)) >= 0
    if (
        static
        and no_overlap
        and attrs.groups == 1
        and list(out_shape[2:]) == [h * sh, w_in_width * sw]
    ):
        return _conv2d_transpose_as_matmul(lw, op, x, w)
    # A `?` channel count (the data's, the weight's I) is checked against the other's.
    lw.check_same_size(op, x, 1, w, 0, "the data's channels differ from the weight's")
    dims = lw.result_dims()
    spatial = [size for size in dims[2:] if isinstance(size, SSAValue)]
    if spatial:  # the padding may leave no output for a `?` axis (the type relation's error)
        empty_output: SSAValue | None = None
        for size in spatial:
            below = lw.insert(arith.CmpiOp(size, c_index(lw, 1), "slt")).results[0]
            if empty_output is not None:
                below = lw.insert(arith.OrIOp(empty_output, below)).results[0]
            empty_output = below
        assert empty_output is not None
        lw.objects.fail_if(
            op, empty_output, "'nn.conv2d_transpose': the padding leaves an empty output"
        )
    # Sizes read at run time where the types leave them `?`: the kernel, and the channels in
    # a group (grouped with `?` weight channels: computed from the data's).
    kernel = [k if k >= 0 else RuntimeDim.of(lw, w, axis) for axis, k in ((2, kh), (3, kw))]
    mac = _mac(_dtype(op))
    spans = [(k - 1) * dilation for k, dilation in zip(kernel, (dh, dw), strict=True)]
    before = [
        span - pad if isinstance(span, int) else (span - pad).value
        for span, pad in zip(spans, (top, left), strict=True)
    ]
    buffer = (
        dims[0],
        cin if cin >= 0 else RuntimeDim.of(lw, x, 1).value,
        *(
            size + span
            if isinstance(size, int) and isinstance(span, int)
            else (RuntimeDim(lw, size) + span if isinstance(size, SSAValue) else span + size).value
            for size, span in zip(dims[2:], spans, strict=True)
        ),
    )
    xp = _zero_inserted(lw, x, (sh, sw), before, buffer)
    if attrs.groups != 1 and min(w_in, opg) < 0:
        cpg_rt = _groups_split(
            lw,
            op,
            _size(lw, x, 1),
            attrs.groups,
            f"the data's channels do not split into {attrs.groups} groups",
        )
        return _grouped_conv2d_transpose_at_run_time(lw, op, xp, w, cpg_rt.value, kernel)
    cpg = (w_in if cin < 0 else cin) // attrs.groups
    # loops: n, o, y, x, c (within the group), i, j; the weight is IOHW, read flipped.
    channel = d(4) if attrs.groups == 1 else (d(1) // opg) * cpg + d(4)
    out_in_group = d(1) if attrs.groups == 1 else d(1) % opg
    if min(kh, kw) < 0:  # a `?` kernel: flipped by a copy, since a map cannot read k - 1 - i
        w = _flipped_kernel(lw, w)
        w_map = [channel, out_in_group, d(5), d(6)]
    else:
        w_map = [channel, out_in_group, c(kh - 1) - d(5), c(kw - 1) - d(6)]
    # The window operand only gives the reduction loops (channels in the group, the flipped
    # kernel) their bounds: no other operand reads them by a plain loop index.
    window_dims = [cpg if attrs.groups != 1 or cin >= 0 else RuntimeDim.of(lw, x, 1), *kernel]
    window_t = tensor_type([n if isinstance(n, int) else DYNAMIC for n in window_dims], _dtype(op))
    window_sizes = [n.value for n in window_dims if not isinstance(n, int)]
    window = lw.insert(tensor.EmptyOp(window_sizes, signless(window_t))).results[0]
    maps = [
        amap(7, [d(0), channel, d(2) + d(5) * dh, d(3) + d(6) * dw]),
        amap(7, w_map),
        amap(7, [d(4), d(5), d(6)]),
        amap(7, [d(0), d(1), d(2), d(3)]),
    ]
    return accumulate(
        lw,
        [xp, w, window],
        op.result.type,
        0,
        maps,
        [PARALLEL] * 4 + [REDUCTION] * 3,
        lambda b, a: mac(b, [a[0], a[1], a[3]]),
    )


def _grouped_conv2d_transpose_at_run_time(
    lw: Lowerer,
    op: RelayOperatorOp,
    xp: SSAValue,
    w: SSAValue,
    cpg: SSAValue,
    kernel: Sequence[int | RuntimeDim],
) -> SSAValue:
    """lower_conv2d_transpose's convolution of the zero-inserted data `xp` for a grouped
    weight with `?` channels: the loops (n, o, y, x, c within the group, i, j) take their
    bounds from the result and a [cpg, kh, kw] window; the body reads xp and the flipped
    weight at the channels computed from the run-time group sizes."""
    from relay_opt.lowering.convert_relay_to_linalg.structured import index

    (dh, dw), dtype = op.attrs.dilation, _dtype(op)
    opg = _size(lw, w, 1).max(1).value
    lasts = [(k - 1 if isinstance(k, int) else (k - 1).value) for k in kernel]
    window_dims = [cpg, *(k if isinstance(k, int) else k.value for k in kernel)]
    window_t = tensor_type([n if isinstance(n, int) else DYNAMIC for n in window_dims], dtype)
    window_sizes = [n for n in window_dims if not isinstance(n, int)]
    window = lw.insert(tensor.EmptyOp(window_sizes, signless(window_t))).results[0]
    mac = _mac(dtype)

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        ix = IndexType()
        channel, place = _group_channel(b, index(b, 1), index(b, 4), opg, cpg)
        rows, cols = _affine_index(b, [(2, 1), (5, dh)]), _affine_index(b, [(3, 1), (6, dw)])
        flipped = [
            b.insert(
                arith.SubiOp(
                    last if isinstance(last, SSAValue) else scalar_const(b, last, ix),
                    index(b, loop),
                )
            ).results[0]
            for last, loop in zip(lasts, (5, 6), strict=True)
        ]
        value = _extracted(b, xp, [index(b, 0), channel, rows, cols], a[1])
        weight = _extracted(b, w, [channel, place, *flipped], a[1])
        return mac(b, [value, weight, a[1]])

    maps = [amap(7, [d(4), d(5), d(6)]), amap(7, [d(0), d(1), d(2), d(3)])]
    return accumulate(lw, [window], op.result.type, 0, maps, [PARALLEL] * 4 + [REDUCTION] * 3, body)


def _flipped_kernel(lw: Lowerer, w: SSAValue) -> SSAValue:
    """An IOHW weight with its kernel reversed along H and W (w[c, o, kh - 1 - i, kw - 1 - j]),
    for a kernel whose size is read at run time."""
    t = w.type
    assert isinstance(t, TensorType)
    shape = t.get_shape()
    sizes = [RuntimeDim.of(lw, w, k).value for k, n in enumerate(shape) if n < 0]
    lasts = [
        c_index(lw, n - 1) if n >= 0 else (RuntimeDim.of(lw, w, k) - 1).value
        for k, n in ((2, shape[2]), (3, shape[3]))
    ]

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        coords = [index(b, 0), index(b, 1)]
        coords += [
            b.insert(arith.SubiOp(last, index(b, k))).results[0]
            for k, last in ((2, lasts[0]), (3, lasts[1]))
        ]
        return b.insert(tensor.ExtractOp(w, coords, t.element_type)).results[0]

    init = lw.insert(tensor.EmptyOp(sizes, t)).results[0]
    return generic(lw, [], [init], [amap(4, [d(i) for i in range(4)])], [PARALLEL] * 4, body)[0]


def _conv2d_transpose_as_matmul(
    lw: Lowerer, op: RelayOperatorOp, x: SSAValue, w: SSAValue
) -> SSAValue:
    """Kernel = strides (a U-Net's or a decoder's 2x2 stride-2 up-convolution): the windows do
    not overlap, so out[n, o, y*sh + i, x*sw + j] = sum_c x[n, c, y, x] * w[c, o, i, j], a
    product [Cout*kh*kw, Cin] x [Cin, H*W] per image (named batch_matmul: the GEMM kernel
    takes it), then a copy that interleaves the kh*kw planes. The zero-inserted convolution
    multiplies kh*kw taps per output of which all but one read an inserted zero, in loops."""
    from relay_opt.lowering.convert_relay_to_linalg.transform import gather, reshape_to

    n, cin, h, wd = shape_of(x)
    _, cout, kh, kw = shape_of(w)
    elem = signless(op.result.type).element_type  # pyright: ignore[reportAttributeAccessIssue]
    flat = reshape_to(lw, x, TensorType(signless(x.type).element_type, [n, cin, h * wd]))  # pyright: ignore
    planes = TensorType(elem, [n, cout, kh, kw, h * wd])
    # loops: n, o, i, j, the pixel p, then c (the reduction)
    maps = [
        amap(6, [d(5), d(1), d(2), d(3)]),
        amap(6, [d(0), d(5), d(4)]),
        amap(6, [d(0), d(1), d(2), d(3), d(4)]),
    ]
    result = accumulate(
        lw, [w, flat], planes, 0, maps, [PARALLEL] * 5 + [REDUCTION], _mac(_dtype(op))
    )
    anchor = result.owner
    if isinstance(anchor, linalg.GenericOp) and REDUCTION not in anchor.iterator_types.data:
        anchor = anchor.inputs[0].owner  # float16: the name goes on the float32 sum
    if isinstance(anchor, linalg.GenericOp):
        anchor.attributes[CONTRACTION] = StringAttr("batch_matmul")
    (sh, sw) = op.attrs.strides
    source = [d(0), d(1), d(2) % sh, d(3) % sw, (d(2) // sh) * wd + d(3) // sw]
    return gather(lw, result, op.result.type, source)


def _pool(lw: Lowerer, op: RelayOperatorOp, x: SSAValue, kind: str) -> SSAValue:
    if not layouts_are_native(op):
        return through_nchw(lw, op)
    attrs = op.attrs
    nhwc = attrs.layout == "NHWC"
    dtype = _dtype(op)
    out_t = signless(op.result.type)
    assert isinstance(out_t, TensorType)
    top, left, bottom, right = padding4(attrs.padding)
    kh, kw = attrs.pool_size
    sh, sw = attrs.strides
    dh, dw = attrs.dilation
    out_shape, in_shape = out_t.get_shape(), shape_of(x)
    (oh, ow), (h, w) = (
        ((out_shape[1], out_shape[2]), (in_shape[1], in_shape[2]))
        if nhwc
        else ((out_shape[2], out_shape[3]), (in_shape[2], in_shape[3]))
    )
    if h < 0 or w < 0:
        return _dynamic_pool(lw, op, x, kind)
    # Pad so every window (ceil_mode ones too) reads inside the tensor.
    extra_h = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - (h + top + bottom))
    extra_w = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - (w + left + right))
    pads = (top, left, bottom + extra_h, right + extra_w)
    lowest = reduction_identity("max", dtype, signless(op.result.type).element_type)  # pyright: ignore
    xp = _pad_spatial(lw, x, pads, lowest if kind == "max" else 0.0, attrs.layout)
    # The window operand only gives the loops over the window their bounds.
    window = empty(lw, tensor_type([kh, kw], dtype))
    # loops: n, c, y, x, i, j
    rows, cols = d(2) * sh + d(4) * dh, d(3) * sw + d(5) * dw
    x_map = [d(0), rows, cols, d(1)] if nhwc else [d(0), d(1), rows, cols]
    out_map = [d(0), d(2), d(3), d(1)] if nhwc else [d(0), d(1), d(2), d(3)]
    maps = [amap(6, x_map), amap(6, [d(4), d(5)]), amap(6, out_map)]
    iterators = [PARALLEL] * 4 + [REDUCTION] * 2
    if kind == "max":
        init = filled(lw, out_t, lowest)
        return generic(
            lw,
            [xp, window],
            [init],
            maps,
            iterators,
            lambda b, a: BINARY[Maximum](Scalar(b, dtype), a[0], a[2]),
        )[0]
    init = filled(lw, out_t, 0.0)
    total = generic(
        lw,
        [xp, window],
        [init],
        maps,
        iterators,
        lambda b, a: BINARY[Add](Scalar(b, dtype), a[0], a[2]),
    )[0]
    if dtype == "bool":
        return total  # the declaration's mean, then != 0: whether any cell is true
    # The divisor per output position: the window's cells inside the (declared) input.
    counts = _pool_counts(
        h,
        w,
        oh,
        ow,
        (kh, kw),
        (sh, sw),
        (dh, dw),
        (top, left, bottom, right),
        attrs.count_include_pad,
    )
    if nhwc:
        counts = counts[:, :, None]
    from relay_opt.dialects.relay.constants import dense_from_numpy

    is_float = not isinstance(out_t.element_type, IntegerType)
    attr = dense_from_numpy(counts, dtype if is_float else "int64")
    const = lw.insert(arith.ConstantOp(attr, signless(attr.type))).results[0]

    def divide(b: Builder, a: Sequence[SSAValue], t: Attribute) -> SSAValue:
        if is_float:
            return b.insert(arith.DivfOp(a[0], a[1])).results[0]
        return _int_mean(b, dtype, a[0], a[1])

    return elementwise(lw, op, [total, const], divide)


def check_windows(
    lw: Lowerer, op: RelayOperatorOp, x: SSAValue, w: SSAValue | None = None
) -> dict[int, Window | None]:
    """The windows of a conv2d or pooling over data with `?` spatial dims (the registry's
    `spatial_windows`); before the shape function's sizes are used, a window larger than a
    `?` axis with its padding ends the call with a located error (the type relation's
    error for a static axis). A conv2d's `?` kernel size is read from its weight `w`."""
    shapes = [shape_of(v) for v in op.operands]
    _, _, windows = spatial_windows(op.attrs, shapes)
    for axis, window in windows.items():
        if window is None:
            continue
        k, _, dilation, before, after, _ = window
        if shapes[0][axis] >= 0 and k >= 0:
            continue
        size = shapes[0][axis] if shapes[0][axis] >= 0 else RuntimeDim.of(lw, x, axis)
        if k >= 0:
            span, what = (k - 1) * dilation + 1, f"the window ({(k - 1) * dilation + 1})"
        else:
            assert w is not None
            kernel = op.attrs.kernel_layout.index(op.attrs.data_layout[axis])
            span, what = (RuntimeDim.of(lw, w, kernel) - 1) * dilation + 1, "the window"
        short = lw.insert(
            arith.CmpiOp(
                RuntimeDim.const(lw, size).value if isinstance(size, int) else size.value,
                c_index(lw, span - before - after)
                if isinstance(span, int)
                else (span - (before + after)).value,
                "slt",
            )
        )
        lw.objects.fail_if(
            op, short.results[0], f"'{op.opdef.name}': {what} is larger than the padded input"
        )
    return windows


def c_index(lw: Lowerer | Builder, n: int) -> SSAValue:
    return scalar_const(lw, n, IndexType())


def _dynamic_pool(lw: Lowerer, op: RelayOperatorOp, x: SSAValue, kind: str) -> SSAValue:
    """Pooling over `?` spatial dims: one reduction over the result and the window that reads
    x where the window is inside it (the identity elsewhere: padding, ceil_mode's overhang),
    then for an average the division by the window's cells inside the input (or inside its
    declared padding with count_include_pad), counted per output position at run time."""
    attrs = op.attrs
    nhwc = attrs.layout == "NHWC"
    dtype = _dtype(op)
    out_t = signless(op.result.type)
    xt = x.type
    assert isinstance(out_t, TensorType) and isinstance(xt, TensorType)
    h_axis, w_axis = (1, 2) if nhwc else (2, 3)
    windows = check_windows(lw, op, x)
    sizes = [
        c_index(lw, n) if n >= 0 else RuntimeDim.of(lw, x, axis).value
        for axis, n in ((h_axis, shape_of(x)[h_axis]), (w_axis, shape_of(x)[w_axis]))
    ]
    wins = [windows[h_axis], windows[w_axis]]
    lowest = reduction_identity("max", dtype, out_t.element_type)
    identity = lowest if kind == "max" else 0.0
    kh, kw = attrs.pool_size
    window = empty(lw, tensor_type([kh, kw], dtype))
    out_map = [d(0), d(2), d(3), d(1)] if nhwc else [d(0), d(1), d(2), d(3)]
    combine = BINARY[Maximum if kind == "max" else Add]

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        # loops: n, c, y, x (the result's), i, j (the window's)
        inside: SSAValue | None = None
        spatial = []
        for k, (size, win) in enumerate(zip(sizes, wins, strict=True)):
            assert win is not None
            _, stride, dilation, before, _, _ = win
            at = b.insert(arith.MuliOp(index(b, 2 + k), c_index(b, stride))).results[0]
            tap = b.insert(arith.MuliOp(index(b, 4 + k), c_index(b, dilation))).results[0]
            at = b.insert(arith.AddiOp(at, tap)).results[0]
            r = b.insert(arith.SubiOp(at, c_index(b, before))).results[0]
            low = b.insert(arith.CmpiOp(r, c_index(b, 0), "sge")).results[0]
            high = b.insert(arith.CmpiOp(r, size, "slt")).results[0]
            both = b.insert(arith.AndIOp(low, high)).results[0]
            inside = both if inside is None else b.insert(arith.AndIOp(inside, both)).results[0]
            # A clamped position, so the read stays inside x (its value is not used).
            last = b.insert(arith.SubiOp(size, c_index(b, 1))).results[0]
            r = b.insert(arith.MaxSIOp(r, c_index(b, 0))).results[0]
            spatial.append(b.insert(arith.MinSIOp(r, last)).results[0])
        n, ch = index(b, 0), index(b, 1)
        coords = [n, *spatial, ch] if nhwc else [n, ch, *spatial]
        assert inside is not None
        value = b.insert(tensor.ExtractOp(x, coords, xt.element_type)).results[0]
        value = b.insert(
            arith.SelectOp(inside, value, scalar_const(b, identity, xt.element_type))
        ).results[0]
        return combine(Scalar(b, dtype), value, a[1])

    [total] = generic(
        lw,
        [window],
        [filled(lw, out_t, identity)],
        [amap(6, [d(4), d(5)]), amap(6, out_map)],
        [PARALLEL] * 4 + [REDUCTION] * 2,
        body,
    )
    if kind == "max" or dtype == "bool":
        return total

    def divide(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        # The cells of each window inside the input (or its declared padding), per axis:
        # the window's taps are few and static, so each is one comparison.
        count: SSAValue | None = None
        for k, (size, win) in enumerate(zip(sizes, wins, strict=True)):
            assert win is not None
            taps, stride, dilation, before, after, _ = win
            lo, hi = (-before, after) if attrs.count_include_pad else (0, 0)
            limit = b.insert(arith.AddiOp(size, c_index(b, hi))).results[0]
            start = b.insert(arith.MuliOp(index(b, 2 + k), c_index(b, stride))).results[0]
            start = b.insert(arith.SubiOp(start, c_index(b, before))).results[0]
            n = c_index(b, 0)
            for t in range(taps):
                r = b.insert(arith.AddiOp(start, c_index(b, t * dilation))).results[0]
                low = b.insert(arith.CmpiOp(r, c_index(b, lo), "sge")).results[0]
                high = b.insert(arith.CmpiOp(r, limit, "slt")).results[0]
                both = b.insert(arith.AndIOp(low, high)).results[0]
                one = b.insert(arith.IndexCastOp(both, IndexType())).results[0]
                n = b.insert(arith.AddiOp(n, one)).results[0]
            count = n if count is None else b.insert(arith.MuliOp(count, n)).results[0]
        assert count is not None
        count = b.insert(arith.MaxSIOp(count, c_index(b, 1))).results[0]
        wide = b.insert(arith.IndexCastOp(count, i64)).results[0]
        if isinstance(out_t.element_type, IntegerType):
            return _int_mean(b, dtype, a[0], wide)
        return b.insert(arith.DivfOp(a[0], _to_float(b, wide, out_t.element_type))).results[0]

    # loops: n, c, y, x, as the reduction's
    same = amap(4, out_map)
    return generic(lw, [total], [empty(lw, out_t)], [same, same], [PARALLEL] * 4, divide)[0]


def _pool_counts(h, w, oh, ow, k, s, dl, pads, include_pad):  # noqa: ANN001, ANN202
    import numpy as np

    from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype

    top, left, bottom, right = pads
    counts = np.zeros((oh, ow))
    for y in range(oh):
        for x in range(ow):
            n = 0
            for i in range(k[0]):
                for j in range(k[1]):
                    py, px = y * s[0] + i * dl[0] - top, x * s[1] + j * dl[1] - left
                    if include_pad:
                        n += -top <= py < h + bottom and -left <= px < w + right
                    else:
                        n += 0 <= py < h and 0 <= px < w
            counts[y, x] = max(n, 1)
    return counts.astype(numpy_dtype("float32"))


def _int_mean(b: Builder, dtype: str, total: SSAValue, count: SSAValue) -> SSAValue:
    """An integer average as the declaration's (TVM's): the window sum (wrapped in the input
    dtype) divided by the i64 `count` towards zero (unsigned for unsigned dtypes), exactly:
    the division is in 64 bits, so a count the input dtype cannot hold is no problem."""
    s = Scalar(b, dtype)
    t = total.type
    assert isinstance(t, IntegerType)
    wide = total
    if t.width.data < 64:
        ext = arith.ExtUIOp if s.is_unsigned else arith.ExtSIOp
        wide = s.emit(ext(total, IntegerType(64)))
    quotient = s.emit((arith.DivUIOp if s.is_unsigned else arith.DivSIOp)(wide, count))
    if t.width.data < 64:
        return s.emit(arith.TruncIOp(quotient, t))
    return quotient


@lowering(MaxPool2D)
def lower_max_pool(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    return _pool(lw, op, args[0], "max")


@lowering(AvgPool2D)
def lower_avg_pool(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    if (widened := bf16_in_float32(lw, op)) is not None:
        return widened
    return _pool(lw, op, args[0], "avg")


@lowering(GlobalAvgPool2D, GlobalMaxPool2D)
def lower_global_pool(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    if not layouts_are_native(op):
        return through_nchw(lw, op)
    x = args[0]
    nhwc = op.attrs.layout == "NHWC"
    shape = shape_of(x)
    h, w = (shape[1], shape[2]) if nhwc else (shape[2], shape[3])
    dtype = _dtype(op)
    # A bool average is the declaration's mean, then != 0: whether any cell is true, a max.
    is_max = isinstance(op, GlobalMaxPool2D) or dtype == "bool"
    elem = signless(op.result.type).element_type  # pyright: ignore
    init = filled(lw, op.result.type, reduction_identity("max", dtype, elem) if is_max else 0.0)
    # loops: n, c, y, x
    x_map = [d(0), d(2), d(3), d(1)] if nhwc else [d(0), d(1), d(2), d(3)]
    out_map = [d(0), c(0), c(0), d(1)] if nhwc else [d(0), d(1), c(0), c(0)]
    combine = BINARY[Maximum if is_max else Add]
    [total] = generic(
        lw,
        [x],
        [init],
        [amap(4, x_map), amap(4, out_map)],
        [PARALLEL, PARALLEL, REDUCTION, REDUCTION],
        lambda b, a: combine(Scalar(b, dtype), a[0], a[1]),
    )
    if is_max:
        return total
    # The divisor h * w; with `?` spatial dims, read at run time (an i64).
    wide: SSAValue | None = None
    if h < 0 or w < 0:
        h_axis, w_axis = (1, 2) if nhwc else (2, 3)
        count = RuntimeDim.const(lw, 1)
        for axis, n in ((h_axis, h), (w_axis, w)):
            count = count * (n if n >= 0 else RuntimeDim.of(lw, x, axis))
        wide = lw.insert(arith.IndexCastOp(count.value, i64)).results[0]

    def divide(b: Builder, a: Sequence[SSAValue], t: Attribute) -> SSAValue:
        if not Scalar(b, dtype).is_float:
            return _int_mean(b, dtype, a[0], wide or scalar_const(b, h * w, IntegerType(64)))
        n = scalar_const(b, h * w, t) if wide is None else _to_float(b, wide, t)
        return b.insert(arith.DivfOp(a[0], n)).results[0]

    return elementwise(lw, op, [total], divide)


def _to_float(b: Builder, n: SSAValue, t: Attribute) -> SSAValue:
    """An i64 count as a float of type t (a divisor read at run time)."""
    return b.insert(arith.SIToFPOp(n, t)).results[0]  # pyright: ignore[reportArgumentType]


# -- softmax, normalization ---------------------------------------------------------------


def _reduce_axis(
    lw: Lowerer, x: SSAValue, axis: int, init_value: float, combine, value_fn=None
) -> SSAValue:  # noqa: ANN001
    """Reduce `x` over `axis`, keeping it as a size-1 axis."""
    shape = shape_of(x)
    t = x.type
    assert isinstance(t, TensorType)
    out_shape = list(shape)
    out_shape[axis] = 1
    n = len(shape)
    kept = [a for a in range(n) if a != axis]
    order = kept + [axis]
    pos = {a: i for i, a in enumerate(order)}
    in_map = amap(n, [d(pos[a]) for a in range(n)])
    out_map = amap(n, [c(0) if a == axis else d(pos[a]) for a in range(n)])

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        v = value_fn(b, a[0]) if value_fn else a[0]
        return b.insert(combine(v, a[1])).results[0]

    return accumulate(
        lw,
        [x],
        TensorType(t.element_type, out_shape),
        init_value,
        [in_map, out_map],
        [PARALLEL] * (n - 1) + [REDUCTION],
        body,
    )


@lowering(Softmax, LogSoftmax)
def lower_softmax(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    if (widened := bf16_in_float32(lw, op)) is not None:
        return widened
    x = args[0]
    axis = normalize_axis(op.attrs.axis, len(shape_of(x)))
    peak = _reduce_axis(lw, x, axis, -pymath.inf, arith.MaximumfOp)

    # sum(exp(x - max)) along the axis, computed from a shifted copy.
    shifted = elementwise(
        lw, op, [x, peak], lambda b, a, t: b.insert(arith.SubfOp(a[0], a[1])).results[0]
    )
    total = _reduce_axis(
        lw, shifted, axis, 0.0, arith.AddfOp, lambda b, v: b.insert(math.ExpOp(v)).results[0]
    )
    if isinstance(op, LogSoftmax):
        return elementwise(
            lw,
            op,
            [shifted, total],
            lambda b, a, t: b.insert(
                arith.SubfOp(a[0], b.insert(math.LogOp(a[1])).results[0])
            ).results[0],
        )
    return elementwise(
        lw,
        op,
        [shifted, total],
        lambda b, a, t: b.insert(arith.DivfOp(b.insert(math.ExpOp(a[0])).results[0], a[1])).results[
            0
        ],
    )


def _channel(lw: Lowerer, v: SSAValue, axis: int, rank: int) -> SSAValue:
    """A vector along `axis`, reshaped to broadcast against a rank-`rank` tensor (the
    current operator's result). Its axis is `?`, sized by the vector's length, when that
    length is `?` or faces a `?` axis of the result (unless it is 1): the elementwise
    kernel reading it then checks at run time that it is 1 or the result's size."""
    t = v.type
    assert isinstance(t, TensorType)
    length = t.get_shape()[0]
    shape = [1] * rank
    shape[axis] = length
    facing = lw.result_dims()[axis] if len(lw.result_dims()) == rank else 1
    sizes: list[SSAValue] = []
    if length < 0 or (not isinstance(facing, int) and length != 1):
        shape[axis] = DYNAMIC
        sizes = [RuntimeDim.of(lw, v, 0).value if length < 0 else c_index(lw, length)]
    out_t = TensorType(t.element_type, shape)
    init = lw.insert(tensor.EmptyOp(sizes, out_t)).results[0]
    # Loops over the (size-1 everywhere but `axis`) result shape.
    maps = [amap(rank, [d(axis)]), amap(rank, [d(a) for a in range(rank)])]
    return generic(lw, [v], [init], maps, [PARALLEL] * rank, lambda b, a: a[0])[0]


@lowering(BiasAdd)
def lower_bias_add(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    x, bias = args
    rank = len(shape_of(x))
    b = _channel(lw, bias, normalize_axis(op.attrs.axis, rank), rank)
    dtype = _dtype(op)
    return elementwise(
        lw,
        op,
        [x, b],
        lambda bl, a, t: BINARY[Add](Scalar(bl, dtype), a[0], a[1]),
    )


@lowering(Prelu)
def lower_prelu(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    x, alpha = args
    rank = len(shape_of(x))
    al = _channel(lw, alpha, normalize_axis(op.attrs.axis, rank), rank)

    dtype = _dtype(op)

    def body(b: Builder, a: Sequence[SSAValue], t: Attribute) -> SSAValue:
        s = Scalar(b, dtype)
        if s.is_float:
            positive = s.emit(arith.CmpfOp(a[0], s.zero(a[0]), "ogt"))
            scaled = s.emit(arith.MulfOp(a[0], a[1]))
        else:  # integer prelu (the registry allows any dtype): integer compare and multiply
            positive = s.emit(arith.CmpiOp(a[0], s.zero(a[0]), "ugt" if s.is_unsigned else "sgt"))
            scaled = s.emit(arith.MuliOp(a[0], a[1]))
        return s.emit(arith.SelectOp(positive, a[0], scaled))

    return elementwise(lw, op, [x, al], body)


@lowering(BatchNorm)
def lower_batch_norm(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> list[SSAValue]:
    x, gamma, beta, mean, var = args
    rank = len(shape_of(x))
    axis = normalize_axis(op.attrs.axis, rank)
    out_t = op.result.type.types.data[0]  # pyright: ignore[reportAttributeAccessIssue]
    _size_first_field(lw, out_t, x)
    # A statistic must have the channel count at run time when either is `?`; a `?` one
    # facing a static channel axis is then read as static.
    channels = shape_of(x)[axis]
    count = channels if channels >= 0 else RuntimeDim.of(lw, x, axis).value
    stats = []
    for a in (gamma, beta, mean, var):
        if shape_of(a)[0] < 0 or channels < 0:
            length = shape_of(a)[0]
            length = length if length >= 0 else RuntimeDim.of(lw, a, 0).value
            lw.check_equal(op, length, count, "a statistic's length differs")
        if shape_of(a)[0] < 0 and channels >= 0:
            a = lw.insert(tensor.CastOp(a, TensorType(a.type.element_type, [channels]))).results[0]  # pyright: ignore[reportAttributeAccessIssue]
        stats.append(a)
    gamma, beta, mean, var = stats
    g, bt, m, v = (_channel(lw, a, axis, rank) for a in (gamma, beta, mean, var))
    eps, scale, center = op.attrs.epsilon, op.attrs.scale, op.attrs.center

    def body(b: Builder, a: Sequence[SSAValue], out: Attribute) -> SSAValue:
        # bfloat16 computes in float32 and rounds once (legalize-bf16 would round each step)
        t = Float32Type() if isinstance(out, BFloat16Type) else out
        xv, gv, bv, mv, vv = (
            v if t == out else b.insert(arith.ExtFOp(v, t)).results[0] for v in a[:5]
        )
        e = b.insert(arith.AddfOp(vv, scalar_const(b, eps, t))).results[0]
        y = b.insert(arith.SubfOp(xv, mv)).results[0]
        y = b.insert(arith.MulfOp(y, b.insert(math.RsqrtOp(e)).results[0])).results[0]
        if scale:
            y = b.insert(arith.MulfOp(y, gv)).results[0]
        if center:
            y = b.insert(arith.AddfOp(y, bv)).results[0]
        return y if t == out else b.insert(arith.TruncFOp(y, out)).results[0]

    out = _elementwise_typed(lw, out_t, [x, g, bt, m, v], body)
    # the statistics handed back as the result's fields are typed (a `?` channel count)
    handed = []
    for a, field in zip((mean, var), op.result.type.types.data[1:], strict=True):  # pyright: ignore[reportAttributeAccessIssue]
        t = signless(field)
        assert isinstance(t, TensorType)
        handed.append(a if a.type == t else lw.insert(tensor.CastOp(a, t)).results[0])
    return [out, *handed]


def _size_first_field(lw: Lowerer, field_t: Attribute, like: SSAValue) -> None:
    """For a tuple-typed operator whose first field has the data's shape (batch_norm,
    dropout): `?` temporaries take the data's run-time sizes, as that field's."""
    shape = shape_of(like)
    sizes = [RuntimeDim.of(lw, like, k).value for k, n in enumerate(shape) if n < 0]
    lw.result_sizes = (signless(field_t), sizes)


def _elementwise_typed(lw: Lowerer, out_t: Attribute, inputs: list[SSAValue], body) -> SSAValue:  # noqa: ANN001
    """elementwise() for a result type other than the op's own (tuple-returning ops)."""
    from relay_opt.lowering.convert_relay_to_linalg.elementwise import broadcast_map
    from relay_opt.lowering.convert_relay_to_linalg.structured import AffineMapAttr

    out_t = signless(out_t)
    assert isinstance(out_t, TensorType)
    shape = out_t.get_shape()
    maps = [AffineMapAttr(broadcast_map(shape_of(i), shape)) for i in inputs]
    maps.append(amap(len(shape), [d(i) for i in range(len(shape))]))
    init = empty(lw, out_t)
    return generic(
        lw,
        inputs,
        [init],
        maps,
        [PARALLEL] * len(shape),
        lambda b, a: body(b, a, out_t.element_type),
    )[0]


@lowering(LayerNorm)
def lower_layer_norm(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    x, gamma, beta = args
    if tensor_dtype(op.operands[0].type) in HALVES:  # pyright: ignore[reportArgumentType]
        # float32 statistics (a 16-bit mean drops what x - mean keeps): the decomposition
        # simplify-inference uses, whose casts say so
        return lower_through_relay(lw, op, DECOMPOSITIONS[LayerNorm])
    rank = len(shape_of(x))
    axis = normalize_axis(op.attrs.axis, rank)
    n = shape_of(x)[axis]
    element = signless(x.type).element_type  # pyright: ignore[reportAttributeAccessIssue]
    count = run_time_count(lw, x, [axis], 0, 0, element)  # over a `?` axis

    def divided(b: Builder, v: SSAValue, t: Attribute) -> SSAValue:
        return b.insert(arith.DivfOp(v, count or scalar_const(b, n, t))).results[0]

    total = _reduce_axis(lw, x, axis, 0.0, arith.AddfOp)
    mean = elementwise(lw, op, [total], lambda b, a, t: divided(b, a[0], t))
    mean = _keep_shape(lw, mean, total)
    centered = elementwise(
        lw, op, [x, mean], lambda b, a, t: b.insert(arith.SubfOp(a[0], a[1])).results[0]
    )
    sq = _reduce_axis(
        lw, centered, axis, 0.0, arith.AddfOp, lambda b, v: b.insert(arith.MulfOp(v, v)).results[0]
    )
    g, bt = _channel(lw, gamma, axis, rank), _channel(lw, beta, axis, rank)
    eps, scale, center = op.attrs.epsilon, op.attrs.scale, op.attrs.center

    def body(b: Builder, a: Sequence[SSAValue], t: Attribute) -> SSAValue:
        cv, sv, gv, bv = a[:4]
        var = divided(b, sv, t)
        inv = b.insert(
            math.RsqrtOp(b.insert(arith.AddfOp(var, scalar_const(b, eps, t))).results[0])
        ).results[0]
        y = b.insert(arith.MulfOp(cv, inv)).results[0]
        if scale:
            y = b.insert(arith.MulfOp(y, gv)).results[0]
        if center:
            y = b.insert(arith.AddfOp(y, bv)).results[0]
        return y

    return elementwise(lw, op, [centered, sq, g, bt], body)


def _keep_shape(lw: Lowerer, value: SSAValue, like: SSAValue) -> SSAValue:
    """`value` was computed with the op's (full) result type; view it in `like`'s shape."""
    if value.type == like.type:
        return value
    t = like.type
    assert isinstance(t, TensorType)
    n = len(t.get_shape())
    maps = [
        amap(n, [c(0) if s == 1 else d(i) for i, s in enumerate(t.get_shape())]),
        amap(n, [d(i) for i in range(n)]),
    ]
    return generic(lw, [value], [empty(lw, t)], maps, [PARALLEL] * n, lambda b, a: a[0])[0]


@lowering(Dropout)
def lower_dropout(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> list[SSAValue]:
    x = args[0]
    t = x.type
    _size_first_field(lw, t, x)
    ones = filled(lw, t, 1)
    return [x, ones]


@lowering(Pad)
def lower_pad(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    x, value = args
    src, dst = _dtype(op, 1), _dtype(op, 0)
    xt = x.type
    assert isinstance(xt, TensorType)

    def convert(b: Builder, v: SSAValue) -> SSAValue:  # the pad value in the data's dtype
        return cast_scalar(b, v, src, dst, xt.element_type)

    return pad_by_index(lw, x, op.attrs.pad_width, op.attrs.pad_mode, value, convert, op)


def pad_by_index(
    lw: Lowerer,
    x: SSAValue,
    widths: Sequence[Sequence[int]],
    mode: str,
    value: SSAValue | float | None = None,
    convert: Callable[[Builder, SSAValue], SSAValue] | None = None,
    op: RelayOperatorOp | None = None,
) -> SSAValue:
    """Padding as one kernel over the result that writes every element: x read at its index
    (clamped for "edge", mirrored for "reflect"), or `value` (a number, or a 0-d tensor
    operand) outside x for "constant".

    (A fill, then x copied into part of it, would be a generic that writes only part of its
    result, and one whose identity map on a padded axis contradicts the result's shape.)

    A padded `?` axis (nn.pad, `op`) takes its last index from its run-time size, which must
    leave every clamped or mirrored read inside x: at least 1, and more than the widths when
    reflecting; else the call ends with a located error."""
    from xdsl.dialects.builtin import IndexType

    from relay_opt.lowering.convert_relay_to_linalg.structured import index

    shape = shape_of(x)
    n = len(shape)
    xt = x.type
    assert isinstance(xt, TensorType)
    out_t = TensorType(
        xt.element_type,
        [
            size if size < 0 else size + lo + hi
            for size, (lo, hi) in zip(shape, widths, strict=True)
        ],
    )
    reflect = mode == "reflect"
    last_of: dict[int, SSAValue] = {}  # a padded `?` axis' last index, at run time
    sizes: list[SSAValue] = []  # the result's `?` sizes (a convolution's padding is no op's)
    for k, size in enumerate(shape):
        if size >= 0:
            continue
        dim = lw.insert(tensor.DimOp(x, scalar_const(lw, k, IndexType()))).results[0]
        width = scalar_const(lw, sum(widths[k]), IndexType())
        sizes.append(lw.insert(arith.AddiOp(dim, width)).results[0] if any(widths[k]) else dim)
        if not any(widths[k]):
            continue
        last_of[k] = lw.insert(arith.SubiOp(dim, scalar_const(lw, 1, IndexType()))).results[0]
        if mode == "constant":  # an empty axis: every element is padding, nothing is read
            continue
        assert op is not None  # convolutions and pooling pad with a constant
        least = max(widths[k]) + 1 if reflect else 1
        short = lw.insert(arith.CmpiOp(dim, scalar_const(lw, least, IndexType()), "slt"))
        what = f"more than {least - 1} elements" if reflect else "an element"
        lw.objects.fail_if(op, short.results[0], f"'nn.pad': padded axis {k} needs {what}")

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        coords = []
        outside: SSAValue | None = None
        for k in range(n):
            i = index(b, k)
            if not any(widths[k]):
                coords.append(i)
                continue
            size = shape[k]
            zero = scalar_const(b, 0, IndexType())
            last = last_of[k] if size < 0 else scalar_const(b, size - 1, IndexType())
            r = b.insert(arith.SubiOp(i, scalar_const(b, widths[k][0], IndexType()))).results[0]
            below = b.insert(arith.CmpiOp(r, zero, "slt")).results[0]
            above = b.insert(arith.CmpiOp(r, last, "sgt")).results[0]
            if mode == "constant":
                off = b.insert(arith.OrIOp(below, above)).results[0]
                outside = off if outside is None else b.insert(arith.OrIOp(outside, off)).results[0]
            if reflect:  # -r below, 2 * last - r above
                low = b.insert(arith.SubiOp(zero, r)).results[0]
                twice = (
                    b.insert(arith.AddiOp(last, last)).results[0]
                    if size < 0
                    else scalar_const(b, 2 * (size - 1), IndexType())
                )
                high = b.insert(arith.SubiOp(twice, r)).results[0]
            else:  # clamped: edge padding's value, and an in-bounds read for constant padding
                low, high = zero, last
            r = b.insert(arith.SelectOp(below, low, r)).results[0]
            coords.append(b.insert(arith.SelectOp(above, high, r)).results[0])
        read = tensor.ExtractOp(x, coords, xt.element_type)
        if outside is None or value is None:
            return b.insert(read).results[0]
        if not last_of:
            b.insert(read)
        pad = a[0] if isinstance(value, SSAValue) else scalar_const(b, value, xt.element_type)
        if convert is not None:
            pad = convert(b, pad)
        if last_of:  # a padded `?` axis may be empty: read the data only inside it
            padding, inside = Region(Block([scf.YieldOp(pad)])), Region(Block([read]))
            inside.block.add_op(scf.YieldOp(read.results[0]))
            return b.insert(scf.IfOp(outside, [xt.element_type], padding, inside)).results[0]
        return b.insert(arith.SelectOp(outside, pad, read.results[0])).results[0]

    inputs = [value] if isinstance(value, SSAValue) else []
    maps = [amap(n, [])] * len(inputs) + [amap(n, [d(i) for i in range(n)])]
    init = lw.insert(tensor.EmptyOp(sizes, out_t)).results[0]
    return generic(lw, inputs, [init], maps, [PARALLEL] * n, body)[0]


# -- normalizations by their decomposition into Relay arithmetic ----------------------------


@lowering(InstanceNorm, GroupNorm, L2Normalize)
def lower_by_expansion(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """The Relay arithmetic the op decomposes into (as simplify-inference rewrites it),
    built aside and lowered op by op with the existing rules."""
    return lower_through_relay(lw, op, DECOMPOSITIONS[type(op)])


MAX_UNPOOL_WORK = 1 << 28
"""The most (output, input) element pairs max_unpool compares natively."""


@lowering(MaxUnpool)
def lower_max_unpool(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """A scatter as a gather: each output element scans the inputs in order and keeps the
    last one whose index is its flat position (0 if none), which is the declaration's
    last-write-wins rule with no write to memory at a computed address. That costs
    outputs x inputs comparisons: larger unpoolings are a located error."""
    from relay_opt.lowering.convert_relay_to_linalg.structured import index

    x, indices = args
    in_shape, out_t = shape_of(x), signless(op.result.type)
    out_shape = shape_of(out_t)
    for k in range(len(in_shape)):  # a `?` dim of either: both read at the loop index
        lw.check_same_size(op, x, k, indices, k, MAX_UNPOOL_MISMATCH)
    if DYNAMIC in in_shape:
        # The input count is known when it runs: so is the bound on the comparisons.
        count = RuntimeDim.const(lw, 1)
        for k in range(len(in_shape)):
            count = count * RuntimeDim.of(lw, x, k)
        most = RuntimeDim.const(lw, MAX_UNPOOL_WORK // max(pymath.prod(out_shape), 1)).value
        over = lw.insert(arith.CmpiOp(count.value, most, "ugt")).results[0]
        lw.objects.fail_if(
            op,
            over,
            f"'nn.max_unpool': the input has more than {MAX_UNPOOL_WORK} // "
            f"{pymath.prod(out_shape)} elements (every output is compared with every input)",
        )
    elif (work := pymath.prod(in_shape) * pymath.prod(out_shape)) > MAX_UNPOOL_WORK:
        raise RelayError(
            f"nn.max_unpool of {pymath.prod(in_shape)} elements into {pymath.prod(out_shape)} "
            f"compares every pair ({work}, over {MAX_UNPOOL_WORK}): not lowered natively",
            op,
        )
    n_out, n_in = len(out_shape), len(in_shape)
    dims = n_out + n_in
    out_map = amap(dims, [d(k) for k in range(n_out)])
    in_map = amap(dims, [d(n_out + k) for k in range(n_in)])

    def body(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        value, where, acc = a
        if where.type != i64:
            where = b.insert(arith.ExtSIOp(where, i64)).results[0]
        flat = scalar_const(b, 0, i64)
        stride = 1
        for k in reversed(range(n_out)):
            pos = b.insert(arith.IndexCastOp(index(b, k), i64)).results[0]
            term = b.insert(arith.MuliOp(pos, scalar_const(b, stride, i64))).results[0]
            flat = b.insert(arith.AddiOp(flat, term)).results[0]
            stride *= out_shape[k]
        hit = b.insert(arith.CmpiOp(where, flat, "eq")).results[0]
        return b.insert(arith.SelectOp(hit, value, acc)).results[0]

    return generic(
        lw,
        [x, indices],
        [filled(lw, out_t, 0)],
        [in_map, in_map, out_map],
        [PARALLEL] * n_out + [REDUCTION] * n_in,
        body,
    )[0]


@lowering(ModulatedDeformableConv2D)
def lower_deformable_conv2d(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """Two loop nests, as im2col and a GEMM: the first samples every (channel, kh, kw, oh,
    ow) tap once, reading its offset and mask, bilinearly at the moved position (4 reads at
    clamped indices, 0 outside) times the mask, in float32 (float64 for float64); the second
    contracts those columns with the weight over (input channel of the group, kh, kw)."""
    from xdsl.dialects.builtin import Float16Type, Float64Type

    from relay_opt.lowering.convert_relay_to_linalg.structured import index

    x, offset, weight, mask = args
    elem = x.type.element_type  # pyright: ignore[reportAttributeAccessIssue]
    if not isinstance(elem, Float16Type | Float32Type | Float64Type):
        raise RelayError(f"{op.OPDEF.name} of {elem} data is not lowered", op)
    ct = Float64Type() if isinstance(elem, Float64Type) else Float32Type()
    attrs = op.attrs
    _, c, h, w = shape_of(x)
    oc, icg, kh, kw = shape_of(weight)
    (sh, sw), (dh, dw) = attrs.strides, attrs.dilation
    top, left, _, _ = padding4(attrs.padding)
    out_t = signless(op.result.type)
    data_dims = [n if n >= 0 else RuntimeDim.of(lw, x, k) for k, n in enumerate(shape_of(x))]
    weight_dims = [
        n if n >= 0 else RuntimeDim.of(lw, weight, k) for k, n in enumerate(shape_of(weight))
    ]
    groups, dg = attrs.groups, attrs.deformable_groups
    if min(c, oc, icg) >= 0:
        per_group_out: int | SSAValue = oc // groups
        per_offset_group: int | SSAValue = c // dg
    else:  # `?` channels: the relation's checks when it runs, the group sizes read then
        channels = _size(lw, x, 1)
        lw.check_equal(op, channels.value, (_size(lw, weight, 1) * groups).value, DEFORM_CHANNELS)
        # at least 1: indices divided by them never trap (no column is made for 0 channels)
        out_c = _size(lw, weight, 0)
        per_group_out = _groups_split(lw, op, out_c, groups, DEFORM_CHANNELS).max(1).value
        per_offset_group = _groups_split(lw, op, channels, dg, DEFORM_CHANNELS).max(1).value
    # The offset's and mask's dims against those the data and weight give, each checked when
    # it runs where either side is `?`; a window larger than a `?` input gives a negative
    # size no offset has.
    out_dims = deform_out(data_dims, weight_dims, attrs)
    for value, want in zip(
        (offset, mask), deform_offset_shapes(attrs, out_dims, weight_dims[2:]), strict=True
    ):
        for axis, (have, size) in enumerate(zip(shape_of(value), want, strict=True)):
            if have == DYNAMIC or not isinstance(size, int):
                lw.check_equal(
                    op,
                    RuntimeDim.of(lw, value, axis).value if have == DYNAMIC else have,
                    size.value if isinstance(size, RuntimeDim) else size,
                    DEFORM_MISMATCH,
                )
    # The kernel's taps and width for the offset's channel, read once where `?`.
    kernel_taps, kernel_width = (
        k if isinstance(k, int) else k.value
        for k in (weight_dims[2] * weight_dims[3], weight_dims[3])
    )
    # A `?` height or width as a float, read once (the taps' clamp).
    last_row, last_column = (
        size - 1 if isinstance(size, int) else _as_float(lw, (size - 1).value, ct)
        for size in data_dims[2:]
    )

    def body(b: Builder, _: Sequence[SSAValue]) -> SSAValue:

        def emit(o):  # noqa: ANN001, ANN202
            return b.insert(o).results[0]

        def ic(v: int) -> SSAValue:
            return scalar_const(b, v, IndexType())

        def f(v: float) -> SSAValue:
            return scalar_const(b, v, ct)

        def read(t: SSAValue, at: list[SSAValue]) -> SSAValue:
            v = emit(tensor.ExtractOp(t, at, elem))
            return emit(arith.ExtFOp(v, ct)) if isinstance(elem, Float16Type) else v

        def lin(terms: Sequence[tuple[SSAValue, int | SSAValue]], const: int) -> SSAValue:
            """sum(value * k) + const, in index arithmetic (k a constant or a run-time size)."""
            total = ic(const)
            for v, k in terms:
                factor = k if isinstance(k, SSAValue) else ic(k)
                total = emit(arith.AddiOp(total, emit(arith.MuliOp(v, factor))))
            return total

        n, chan, i, j, p, q = (index(b, k) for k in range(6))
        divisor = per_offset_group
        og = emit(arith.DivUIOp(chan, divisor if isinstance(divisor, SSAValue) else ic(divisor)))
        tap = lin([(og, kernel_taps), (i, kernel_width), (j, 1)], 0)
        off_y = read(offset, [n, lin([(tap, 2)], 0), p, q])
        off_x = read(offset, [n, lin([(tap, 2)], 1), p, q])
        scale = read(mask, [n, tap, p, q])

        def position(terms: list[tuple[SSAValue, int]], const: int, off: SSAValue) -> SSAValue:
            base = emit(arith.IndexCastOp(lin(terms, const), i64))
            return emit(arith.AddfOp(emit(arith.SIToFPOp(base, ct)), off))

        ys = position([(p, sh), (i, dh)], -top, off_y)
        xs = position([(q, sw), (j, dw)], -left, off_x)

        def taps(v: SSAValue, last: int | SSAValue) -> list[tuple[SSAValue, SSAValue, SSAValue]]:
            low = emit(math.FloorOp(v))
            t = emit(arith.SubfOp(v, low))
            out = []
            for pos, wgt in (
                (low, emit(arith.SubfOp(f(1), t))),
                (emit(arith.AddfOp(low, f(1))), t),
            ):
                inside = emit(
                    arith.AndIOp(
                        emit(arith.CmpfOp(pos, f(0), "oge")),
                        emit(
                            arith.CmpfOp(
                                pos, last if isinstance(last, SSAValue) else f(last), "ole"
                            )
                        ),
                    )
                )
                safe = emit(arith.SelectOp(inside, pos, f(0)))
                at = emit(arith.IndexCastOp(emit(arith.FPToSIOp(safe, i64)), IndexType()))
                out.append((at, wgt, inside))
            return out

        sample = None
        for yi, wy, y_in in taps(ys, last_row):
            for xi, wx, x_in in taps(xs, last_column):
                inside = emit(arith.AndIOp(y_in, x_in))
                v = emit(arith.SelectOp(inside, read(x, [n, chan, yi, xi]), f(0)))
                term = emit(arith.MulfOp(emit(arith.MulfOp(wy, wx)), v))
                sample = term if sample is None else emit(arith.AddfOp(sample, term))
        assert sample is not None
        return emit(arith.MulfOp(sample, scale))

    n, _, oh, ow = shape_of(out_t)
    cols_t = TensorType(ct, [n, c, kh, kw, oh, ow])
    # The columns' `?` dims: N, OH, OW the result's, C, KH, KW the data's and weight's.
    result_n, _, result_h, result_w = lw.result_dims()
    col_dims = [result_n, data_dims[1], *weight_dims[2:], result_h, result_w]
    sizes = [s if isinstance(s, SSAValue) else s.value for s in col_dims if not isinstance(s, int)]
    cols_empty = lw.insert(tensor.EmptyOp(sizes, cols_t)).results[0]
    identity = amap(6, [d(k) for k in range(6)])
    cols = generic(lw, [], [cols_empty], [identity], [PARALLEL] * 6, body)[0]
    if isinstance(per_group_out, SSAValue):  # `?` channels: the group's column read by index
        return _deform_contraction_at_run_time(lw, op, weight, cols, per_group_out, out_t)
    # out[n, o, p, q] += w[o, ci, i, j] * cols[n, (o // per_group_out) * icg + ci, i, j, p, q]
    channel = (d(1) // per_group_out) * icg + d(4)
    maps = [
        amap(7, [d(1), d(4), d(5), d(6)]),
        amap(7, [d(0), channel, d(5), d(6), d(2), d(3)]),
        amap(7, [d(0), d(1), d(2), d(3)]),
    ]

    def mac(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        wv, col, acc = a  # float16 weights arrive widened
        return b.insert(arith.AddfOp(acc, b.insert(arith.MulfOp(wv, col)).results[0])).results[0]

    return accumulate(lw, [weight, cols], out_t, 0.0, maps, [PARALLEL] * 4 + [REDUCTION] * 3, mac)


def _deform_contraction_at_run_time(
    lw: Lowerer,
    op: RelayOperatorOp,
    weight: SSAValue,
    cols: SSAValue,
    per_group_out: SSAValue,
    out_t: Attribute,
) -> SSAValue:
    """lower_deformable_conv2d's contraction for `?` channels: out[n, o, p, q] += w[o, ci,
    i, j] * cols[n, group(o) * icg + ci, i, j, p, q], the column's channel computed in the
    body from the run-time group sizes (an indexing map cannot divide by them)."""
    from relay_opt.lowering.convert_relay_to_linalg.structured import index

    icg = _size(lw, weight, 1).value

    def mac(b: Builder, a: Sequence[SSAValue]) -> SSAValue:
        wv, acc = a  # float16 weights arrive widened
        channel, _ = _group_channel(b, index(b, 1), index(b, 4), per_group_out, icg)
        at = [index(b, 0), channel, index(b, 5), index(b, 6), index(b, 2), index(b, 3)]
        col = _extracted(b, cols, at, acc)
        return b.insert(arith.AddfOp(acc, b.insert(arith.MulfOp(wv, col)).results[0])).results[0]

    maps = [amap(7, [d(1), d(4), d(5), d(6)]), amap(7, [d(0), d(1), d(2), d(3)])]
    return accumulate(lw, [weight], out_t, 0.0, maps, [PARALLEL] * 4 + [REDUCTION] * 3, mac)


def _as_float(lw: Lowerer, size: SSAValue, t: AnyFloat) -> SSAValue:
    """An index value as a float of type t."""
    wide = lw.insert(arith.IndexCastOp(size, i64)).results[0]
    return lw.insert(arith.SIToFPOp(wide, t)).results[0]
