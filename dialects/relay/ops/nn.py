"""Neural-network operators (`nn.*`): convolution, dense, pooling, normalization, ...

Layouts: conv2d takes data in any order of the axes N, C, H, W (NCHW, TVM's default, NHWC,
...), a kernel in any order of O, I, H, W (OIHW, HWIO, OHWI, ...) and a result in any order of
N, C, H, W (`out_layout`, default the data's), or TVM's blocked NCHW{c}c/OIHW{i}i{o}o
(groups=1 or depthwise; the result is NCHW{o}c); pooling likewise any order of N, C, H, W
(`layout`, `out_layout`). Other layouts are reported as unsupported rather than guessed.
NCHW/OIHW and NHWC/HWIO (result in the data's layout) lower natively; the others through
layout_transforms to NCHW/OIHW (`layouts_are_native`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, SSAValue

from relay_opt.dialects.relay.attributes import AttrKind, Attrs, AttrSpec
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.ops.common import (
    Shape,
    dim_max,
    dim_min,
    dims_agree,
    expect_tensor,
    joined_dims,
    normalize_axis,
    result,
    same_dims,
    show_shape,
)
from relay_opt.dialects.relay.ops.elementwise import (
    Equal,
    Exp,
    Greater,
    LogicalAnd,
    LogicalNot,
    LogicalOr,
    Maximum,
    Rsqrt,
)
from relay_opt.dialects.relay.ops.grad import (
    DY,
    Adjoints,
    GradBuilder,
    NotDifferentiable,
    dtype_of,
    gradient,
    shape_of,
)
from relay_opt.dialects.relay.ops.transform import (
    Concatenate,
    StridedSlice,
    dims_product,
    parse_layout,
    relayout,
)
from relay_opt.dialects.relay.registry import (
    OpDef,
    OpPattern,
    RelayOperatorOp,
    ShapeFunction,
    TypeRelationError,
    register,
)
from relay_opt.dialects.relay.types import DYNAMIC, tensor_type, tuple_type

OEF = OpPattern.OUT_ELEMWISE_FUSABLE


def padding4(padding: Sequence[int]) -> tuple[int, int, int, int]:
    """TVM's padding forms: [p], [h, w] or [top, left, bottom, right]."""
    if len(padding) == 1:
        return (padding[0],) * 4  # pyright: ignore
    if len(padding) == 2:
        return (padding[0], padding[1], padding[0], padding[1])
    if len(padding) == 4:
        return tuple(padding)  # pyright: ignore
    raise TypeRelationError(f"padding must have 1, 2 or 4 entries, got {list(padding)}")


def check_window_lists(attrs: Attrs, names: Sequence[str], rank: int = 2) -> None:
    """Each of the `names` attributes (pool_size, strides, dilation) has one positive entry per
    spatial axis; the padding forms are padding4's."""
    for name in names:
        value = list(attrs[name])
        if len(value) != rank:
            raise TypeRelationError(f"{name} must have {rank} entries, got {value}")
        if min(value) < 1:
            raise TypeRelationError(f"{name} must be positive, got {value}")
    padding4(attrs.padding)


def window_out(
    size: int, k: int, stride: int, dilation: int, before: int, after: int, ceil_mode: bool = False
) -> int:
    if DYNAMIC in (size, k):  # a `?` weight's window too (conv2d's)
        return DYNAMIC
    span = (k - 1) * dilation + 1
    total = size + before + after - span
    if total < 0:
        raise TypeRelationError(
            f"the window ({span}) is larger than the padded input ({size + before + after})"
        )
    out = (total + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + before:
        out -= 1  # the last window must start inside the input or its left padding
    return out


Window = tuple[int, int, int, int, int, bool]
"""One spatial axis' window: kernel, stride, dilation, padding before and after, ceil_mode."""


def window_out_dim(
    size: Any, k: int, stride: int, dilation: int, before: int, after: int, ceil_mode: bool
) -> Any:
    """`window_out` of a run-time size (for shape functions): the same arithmetic, its
    ceil_mode correction (one window less when the last would start past the input and its
    left padding) as a clamp, since a shape function cannot branch. A window larger than
    the padded input gives a size below 1: the lowering checks it first."""
    span = (k - 1) * dilation + 1
    out = (size + (before + after - span + (stride - 1 if ceil_mode else 0))) // stride + 1
    if ceil_mode:
        # (out - 1) * stride >= size + before exactly when out - 1 >= ceil((size + before) /
        # stride): one less then
        starts = (size + (before + stride - 1)) // stride
        out = out - dim_min(dim_max(out - starts, 0), 1)
    return out


def spatial_windows(op_attrs: Attrs, shapes: Sequence[Sequence[Any]]) -> tuple[str, str, dict]:
    """(data layout, result layout, {data axis: Window or None}) of a conv2d or pooling for
    its shape function; None for an axis a global pooling reduces to 1. A blocked layout
    has no spatial axes here (only its batch may be `?`), but a blocked conv2d's (NCHW{c}c,
    OIHW{i}i{o}o: H and W are axes 2 and 3 of both)."""
    attrs = op_attrs
    if "data_layout" in attrs:  # conv2d
        layout, out_layout, kernel = attrs.data_layout, attrs.out_layout, attrs.kernel_layout
        blocked = conv2d_blocks(attrs) is not None
        if not blocked and (not plain_layout(layout) or not plain_layout(kernel, "OIHW")):
            return layout, out_layout, {}
        wshape = shapes[1]
        kh, kw = (wshape[2], wshape[3]) if blocked else (wshape[kernel.index(a)] for a in "HW")
        top, left, bottom, right = padding4(attrs.padding)
        (sh, sw), (dh, dw) = attrs.strides, attrs.dilation
        h_win: Window | None = (kh, sh, dh, top, bottom, False)
        w_win: Window | None = (kw, sw, dw, left, right, False)
    else:
        layout, out_layout = attrs.layout, attrs.out_layout
        if not plain_layout(layout):
            return layout, out_layout, {}
        if "pool_size" in attrs:
            top, left, bottom, right = padding4(attrs.padding)
            (kh, kw), (sh, sw), (dh, dw) = attrs.pool_size, attrs.strides, attrs.dilation
            h_win = (kh, sh, dh, top, bottom, attrs.ceil_mode)
            w_win = (kw, sw, dw, left, right, attrs.ceil_mode)
        else:  # global and adaptive pooling: no window the output size follows from
            h_win = w_win = None
    return layout, out_layout, {layout.index("H"): h_win, layout.index("W"): w_win}


def spatial_dims(relation: Callable[[Sequence[Attribute], Attrs], Attribute]) -> ShapeFunction:
    """The shape function of a convolution or pooling whose data may have a `?` batch and
    `?` spatial dims (H, W), and a pooling's data a `?` channel axis too: the type
    relation's result for a batch of 1 with the data's run-time batch (and channels), and
    each `?` spatial dim `window_out_dim` of the run-time size (a global pooling's stays 1).
    Other `?` dims are refused (the lowering reports it)."""

    def shape(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:
        data = shapes[0]
        layout, out_layout, windows = spatial_windows(attrs, shapes)
        batch = layout.index("N") if "N" in layout else 0
        free = {batch, *windows}
        if "data_layout" not in attrs and windows:  # a pooling: each channel alike
            free.add(layout.index("C"))
        if any(
            not isinstance(d, int)
            for s in shapes
            for k, d in enumerate(s)
            if s is not data or k not in free
        ):
            raise TypeRelationError(
                "only a ? batch and ? spatial dims (H, W) of the data are supported"
            )
        types = [
            tensor_type(
                [
                    1 if s is data and k == batch else d if isinstance(d, int) else DYNAMIC
                    for k, d in enumerate(s)
                ],
                "float32",
            )
            for s in shapes
        ]
        out = relation(types, attrs)
        assert isinstance(out, TensorType)
        dims: list[Any] = list(out.get_shape())
        out_layout = out_layout or layout
        dims[out_layout.index(layout[batch]) if "N" in layout else 0] = data[batch]
        if "C" in layout and not isinstance(data[layout.index("C")], int):  # a pooling's
            dims[out_layout.index("C")] = data[layout.index("C")]
        for axis, window in windows.items():
            if isinstance(data[axis], int):
                continue
            at = out_layout.index(layout[axis])
            if window is not None:
                dims[at] = window_out_dim(data[axis], *window)
            elif dims[at] == DYNAMIC:  # an adaptive pooling to the input's own size
                dims[at] = data[axis]
        return dims

    return shape


def plain_layout(layout: str, axes: str = "NCHW") -> bool:
    """Whether `layout` orders exactly the axes `axes` (no blocks): NHWC, HWIO, ..."""
    return len(layout) == len(axes) and sorted(layout) == sorted(axes)


def _layout_axes(layout: str, what: str) -> tuple[int, int, int]:
    """(channel, height, width) axes of a 2-D data layout."""
    if not plain_layout(layout):
        raise TypeRelationError(
            f"{what} layout '{layout}' is not supported (an order of N, C, H, W: NCHW, NHWC, ...)"
        )
    return layout.index("C"), layout.index("H"), layout.index("W")


def _relaid(dims: Sequence[int], layout: str, out_layout: str, what: str) -> list[int]:
    """`dims` of a `layout` tensor, ordered as `out_layout` ("": the same)."""
    if not out_layout or out_layout == layout:
        return list(dims)
    if not plain_layout(out_layout):
        raise TypeRelationError(
            f"{what} out_layout '{out_layout}' is not supported (an order of N, C, H, W)"
        )
    return [dims[layout.index(a)] for a in out_layout]


def layouts_are_native(op: RelayOperatorOp) -> bool:
    """Whether the lowering computes a conv2d or pooling in its own layouts (NCHW/OIHW,
    NHWC/HWIO or blocked, the result in the data's layout); else it goes through NCHW."""
    attrs = op.attrs
    if "data_layout" in attrs:  # conv2d
        if conv2d_blocks(attrs) is not None:
            return True
        pair = (attrs.data_layout, attrs.kernel_layout)
        return pair in (("NCHW", "OIHW"), ("NHWC", "HWIO")) and attrs.out_layout in (
            "",
            attrs.data_layout,
        )
    return attrs.layout in ("NCHW", "NHWC") and attrs.out_layout in ("", attrs.layout)


# -- conv2d ------------------------------------------------------------------------------

CONV2D_ATTRS = (
    AttrSpec("strides", AttrKind.INTS, [1, 1]),
    AttrSpec("padding", AttrKind.INTS, [0, 0]),
    AttrSpec("dilation", AttrKind.INTS, [1, 1]),
    AttrSpec("groups", AttrKind.INT, 1),
    AttrSpec("channels", AttrKind.INT, None),
    AttrSpec("kernel_size", AttrKind.INTS, None),
    AttrSpec("data_layout", AttrKind.STR, "NCHW"),
    AttrSpec("kernel_layout", AttrKind.STR, "OIHW"),
    AttrSpec("out_layout", AttrKind.STR, ""),
    AttrSpec("out_dtype", AttrKind.DTYPE, ""),
)


def _tensor_pair(
    args: Sequence[Attribute],
    names: tuple[str, str],
    fit: Callable[[Shape, Shape], bool],
    expects: str,
) -> tuple[Shape, str, Shape, str]:
    """The two operands' shapes and dtypes; `expects, got (..) and (..)` unless the shapes `fit`."""
    ashape, adtype = expect_tensor(args[0], names[0])
    bshape, bdtype = expect_tensor(args[1], names[1])
    if not fit(ashape, bshape):
        raise TypeRelationError(f"{expects}, got {show_shape(ashape)} and {show_shape(bshape)}")
    return ashape, adtype, bshape, bdtype


def _both_4d(a: Shape, b: Shape) -> bool:
    return len(a) == 4 and len(b) == 4


_BLOCKED_DATA = re.compile(r"NCHW([0-9]+)c")
_BLOCKED_KERNEL = re.compile(r"OIHW([0-9]+)i([0-9]+)o")


def conv2d_blocks(attrs: Attrs) -> tuple[int, int, int, int] | None:
    """(data block, kernel i block, kernel o block, result block) of a conv2d in TVM's blocked
    layouts (data NCHW{c}c, kernel OIHW{i}i{o}o, result NCHW{o}c), None for NCHW and NHWC."""
    if plain_layout(attrs.data_layout):
        return None
    for name in ("data_layout", "kernel_layout", "out_layout"):
        if attrs[name]:
            parse_layout(attrs[name])  # a malformed string is reported as such
    data = _BLOCKED_DATA.fullmatch(attrs.data_layout)
    kernel = _BLOCKED_KERNEL.fullmatch(attrs.kernel_layout)
    if not data or not kernel:
        raise TypeRelationError(
            f"conv2d layouts {attrs.data_layout}/{attrs.kernel_layout} are not supported "
            f"(orders of NCHW/OIHW such as NHWC/HWIO, or NCHW{{c}}c/OIHW{{i}}i{{o}}o)"
        )
    dc, ki, ko = int(data[1]), int(kernel[1]), int(kernel[2])
    out = _BLOCKED_DATA.fullmatch(attrs.out_layout or attrs.data_layout)
    if not out or int(out[1]) != ko:
        raise TypeRelationError(
            f"conv2d out_layout '{attrs.out_layout}' must be NCHW{ko}c, the kernel's "
            f"output-channel block ({attrs.kernel_layout})"
        )
    if min(dc, ki, ko) < 1:
        raise TypeRelationError("conv2d layout blocks must be positive")
    return dc, ki, ko, ko


def _blocked_conv2d_rel(
    args: Sequence[Attribute], attrs: Attrs, blocks: tuple[int, int, int, int]
) -> Attribute:
    dc, ki, ko, _ = blocks
    dshape, ddtype = expect_tensor(args[0], "data")
    wshape, wdtype = expect_tensor(args[1], "weight")
    if ddtype != wdtype:
        raise TypeRelationError(f"data is {ddtype} but weight is {wdtype}")
    if len(dshape) != 5 or len(wshape) != 6:
        raise TypeRelationError(
            f"conv2d in {attrs.data_layout}/{attrs.kernel_layout} expects 5-d data and 6-d "
            f"weight, got {show_shape(dshape)} and {show_shape(wshape)}"
        )
    if DYNAMIC in (dshape[1], dshape[4], *wshape):  # N, H, W may be ?: the routine's sizes
        raise TypeRelationError(
            "conv2d in blocked layouts needs static channels, blocks and weights"
        )
    if dshape[4] != dc or wshape[4] != ki or wshape[5] != ko:
        raise TypeRelationError(
            f"conv2d: data {show_shape(dshape)} and weight {show_shape(wshape)} do not have "
            f"the blocks of {attrs.data_layout}/{attrs.kernel_layout}"
        )
    in_c, out_c = dshape[1] * dc, wshape[0] * ko
    kh, kw = wshape[2], wshape[3]
    groups = attrs.groups
    if groups == 1:
        if ki != dc or wshape[1] * ki != in_c:
            raise TypeRelationError(
                f"data has {in_c} input channels in blocks of {dc} but weight expects "
                f"{wshape[1] * ki} in blocks of {ki}; data {show_shape(dshape)}, weight "
                f"{show_shape(wshape)}"
            )
    elif groups == in_c == out_c:
        if ki != 1 or wshape[1] != 1 or ko != dc:
            raise TypeRelationError(
                f"depthwise conv2d in {attrs.data_layout} needs kernel layout OIHW1i{dc}o "
                f"with weight (C/{dc}, 1, KH, KW, 1, {dc}), got {attrs.kernel_layout} "
                f"{show_shape(wshape)}"
            )
    elif (
        groups < 1
        or ki != dc
        or in_c % groups
        or out_c % groups
        or (in_c // groups) % dc
        or (out_c // groups) % ko
        or wshape[1] * ki != in_c // groups
    ):
        raise TypeRelationError(
            f"conv2d in blocked layouts takes groups=1, depthwise (groups = channels = "
            f"{in_c}), or groups whose input and output channels are whole blocks of the "
            f"data's and the kernel's (weight I = input channels / groups); got groups={groups}, "
            f"data {show_shape(dshape)}, weight {show_shape(wshape)}"
        )
    top, left, bottom, right, sh, sw, dh, dw = _conv2d_window(attrs, out_c, kh, kw)
    oh = window_out(dshape[2], kh, sh, dh, top, bottom)
    ow = window_out(dshape[3], kw, sw, dw, left, right)
    return result([dshape[0], wshape[0], oh, ow, ko], attrs.out_dtype or ddtype)


def _kernel_fits(kernel_size: Sequence[int], kh: int, kw: int) -> bool:
    """Whether the kernel_size attribute agrees with the weight's kernel (a `?` one may)."""
    return all(k in (want, DYNAMIC) for want, k in zip(kernel_size, (kh, kw), strict=True))


def _conv2d_window(attrs: Attrs, out_c: int, kh: int, kw: int) -> tuple[int, ...]:
    """Check channels/kernel_size against the weight and the window lists; return the
    padding (top, left, bottom, right), strides (h, w) and dilation (h, w)."""
    if attrs.channels is not None and out_c != DYNAMIC and attrs.channels != out_c:
        raise TypeRelationError(
            f"channels={attrs.channels} but the weight has {out_c} output channels"
        )
    if attrs.kernel_size is not None and not _kernel_fits(attrs.kernel_size, kh, kw):
        raise TypeRelationError(
            f"kernel_size={list(attrs.kernel_size)} but the weight's kernel is "
            f"[{', '.join('?' if k == DYNAMIC else str(k) for k in (kh, kw))}]"
        )
    check_window_lists(attrs, ("strides", "dilation"))
    return (*padding4(attrs.padding), *attrs.strides, *attrs.dilation)


def _conv2d_parts(args: Sequence[Attribute], attrs: Attrs):  # noqa: ANN202
    dshape, ddtype, wshape, wdtype = _tensor_pair(
        args, ("data", "weight"), _both_4d, "conv2d expects 4-d data and weight"
    )
    c, h, w = _layout_axes(attrs.data_layout, "data")
    kernel = attrs.kernel_layout
    if not plain_layout(kernel, "OIHW"):
        raise TypeRelationError(
            f"conv2d kernel layout '{kernel}' is not supported (an order of O, I, H, W: OIHW, "
            f"HWIO, OHWI, ...)"
        )
    out_c, in_per_group, kh, kw = (wshape[kernel.index(a)] for a in "OIHW")
    return dshape, ddtype, wdtype, (c, h, w), (out_c, in_per_group, kh, kw)


def _conv2d_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    blocks = conv2d_blocks(attrs)
    if blocks is not None:
        return _blocked_conv2d_rel(args, attrs, blocks)
    dshape, ddtype, wdtype, (c, h, w), (out_c, in_per_group, kh, kw) = _conv2d_parts(args, attrs)
    if ddtype != wdtype:
        raise TypeRelationError(f"data is {ddtype} but weight is {wdtype}")
    groups = attrs.groups
    in_c = dshape[c]
    if in_c != DYNAMIC and in_per_group != DYNAMIC and in_c != in_per_group * groups:
        raise TypeRelationError(
            f"data has {in_c} input channels but weight expects {in_per_group * groups} "
            f"(groups={groups}); data {show_shape(dshape)}, weight "
            f"{show_shape(args[1].get_shape())}"  # pyright: ignore[reportAttributeAccessIssue]
        )
    if out_c != DYNAMIC and out_c % groups:
        raise TypeRelationError(f"{out_c} output channels do not split into {groups} groups")
    top, left, bottom, right, sh, sw, dh, dw = _conv2d_window(attrs, out_c, kh, kw)
    out = list(dshape)
    out[c] = out_c
    out[h] = window_out(dshape[h], kh, sh, dh, top, bottom)
    out[w] = window_out(dshape[w], kw, sw, dw, left, right)
    out = _relaid(out, attrs.data_layout, attrs.out_layout, "conv2d")
    return result(out, attrs.out_dtype or ddtype)


def _conv2d_shape(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:
    """The shape function of conv2d. A blocked layout: `spatial_dims` (a `?` batch, H, W).
    NCHW, NHWC and the layouts computed through them: any `?` dim of the data or the weight
    (the output channels are the weight's O; each output H, W `window_out_dim` of the data's
    size and the weight's kernel, either read at run time); a grouped one's channels per
    group are checked and computed when it runs."""
    if conv2d_blocks(attrs) is not None:
        return list(spatial_dims(_conv2d_rel)(shapes, attrs))
    data, weight = shapes
    kernel = attrs.kernel_layout
    out_c, _, kh, kw = (weight[kernel.index(a)] for a in "OIHW")
    layout = attrs.data_layout
    top, left, bottom, right = padding4(attrs.padding)
    (sh, sw), (dh, dw) = attrs.strides, attrs.dilation
    windows = {"H": (kh, sh, dh, top, bottom), "W": (kw, sw, dw, left, right)}
    dims: dict[str, Any] = {"N": data[layout.index("N")], "C": out_c}
    for axis, (k, stride, dilation, before, after) in windows.items():
        size = data[layout.index(axis)]
        if isinstance(size, int) and isinstance(k, int):
            dims[axis] = window_out(size, k, stride, dilation, before, after)
        else:
            dims[axis] = window_out_dim(size, k, stride, dilation, before, after, False)
    return [dims[a] for a in (attrs.out_layout or layout)]


def conv2d_nchw(
    x: np.ndarray,
    w: np.ndarray,
    strides,
    padding,
    dilation,
    groups: int,  # noqa: ANN001
    out_dtype: np.dtype,
) -> np.ndarray:
    """Direct convolution (NCHW data, OIHW weight) accumulated in float64 or int64."""
    top, left, bottom, right = padding4(padding)
    acc = np.float64 if np.issubdtype(out_dtype, np.floating) else np.int64
    xp = np.pad(x.astype(acc), ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, cin, hp, wp = xp.shape
    cout, cpg, kh, kw = w.shape
    sh, sw = strides
    dh, dw = dilation
    oh = (hp - (kh - 1) * dh - 1) // sh + 1
    ow = (wp - (kw - 1) * dw - 1) // sw + 1
    # The type relation's checks, for `?` channels (the lowering's run-time errors' text)
    if cin != cpg * groups:
        raise TypeRelationError("the data's channels differ from the weight's")
    if cout % groups:
        raise TypeRelationError(f"the weight's output channels do not split into {groups} groups")
    out = np.zeros((n, cout, oh, ow), dtype=acc)
    opg = cout // groups
    for g in range(groups):
        xs = xp[:, g * cpg : (g + 1) * cpg]
        ws = w[g * opg : (g + 1) * opg].astype(acc)
        for i in range(kh):
            for j in range(kw):
                patch = xs[
                    :,
                    :,
                    i * dh : i * dh + sh * (oh - 1) + 1 : sh,
                    j * dw : j * dw + sw * (ow - 1) + 1 : sw,
                ]
                out[:, g * opg : (g + 1) * opg] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    return out.astype(out_dtype)


def _conv2d(attrs: Attrs, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    out_dtype = numpy_dtype(attrs.out_dtype) if attrs.out_dtype else x.dtype
    blocks = conv2d_blocks(attrs)
    if blocks is not None:
        y = conv2d_nchw(
            relayout(x, attrs.data_layout, "NCHW"),
            relayout(w, attrs.kernel_layout, "OIHW"),
            attrs.strides,
            attrs.padding,
            attrs.dilation,
            attrs.groups,
            out_dtype,
        )
        return relayout(y, "NCHW", f"NCHW{blocks[3]}c")
    if (attrs.data_layout, attrs.kernel_layout, attrs.out_layout) != ("NCHW", "OIHW", ""):
        y = conv2d_nchw(
            relayout(x, attrs.data_layout, "NCHW"),
            relayout(w, attrs.kernel_layout, "OIHW"),
            attrs.strides,
            attrs.padding,
            attrs.dilation,
            attrs.groups,
            out_dtype,
        )
        return relayout(y, "NCHW", attrs.out_layout or attrs.data_layout)
    return conv2d_nchw(x, w, attrs.strides, attrs.padding, attrs.dilation, attrs.groups, out_dtype)


@register(
    OpDef(
        "nn.conv2d",
        ("data", "weight"),
        CONV2D_ATTRS,
        _conv2d_rel,
        OEF,
        _conv2d,
        "2-d convolution",
        shape=_conv2d_shape,
    )
)
class Conv2D(RelayOperatorOp): ...


# -- conv2d_transpose ----------------------------------------------------------------------

CONV2D_TRANSPOSE_ATTRS = (
    AttrSpec("channels", AttrKind.INT, None),
    AttrSpec("kernel_size", AttrKind.INTS, None),
    AttrSpec("strides", AttrKind.INTS, [1, 1]),
    AttrSpec("padding", AttrKind.INTS, [0, 0]),
    AttrSpec("output_padding", AttrKind.INTS, [0, 0]),
    AttrSpec("dilation", AttrKind.INTS, [1, 1]),
    AttrSpec("groups", AttrKind.INT, 1),
    AttrSpec("data_layout", AttrKind.STR, "NCHW"),
    AttrSpec("kernel_layout", AttrKind.STR, "IOHW"),
    AttrSpec("out_layout", AttrKind.STR, ""),
    AttrSpec("out_dtype", AttrKind.DTYPE, ""),
)


def transpose_out(
    size: Any, k: Any, stride: int, dilation: int, before: int, after: int, extra: int
) -> Any:
    """The output length of a transposed convolution along one axis (of a static or a
    run-time size: the shape function's)."""
    if any(isinstance(n, int) and n == DYNAMIC for n in (size, k)):
        return DYNAMIC
    return (size - 1) * stride + ((k - 1) * dilation + 1 - before - after + extra)


def _conv2d_transpose_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    dshape, ddtype, wshape, wdtype = _tensor_pair(
        args, ("data", "weight"), _both_4d, "conv2d_transpose expects 4-d data and weight"
    )
    if (attrs.data_layout, attrs.kernel_layout) != ("NCHW", "IOHW") or attrs.out_layout not in (
        "",
        "NCHW",
    ):
        raise TypeRelationError(
            f"conv2d_transpose layouts {attrs.data_layout}/{attrs.kernel_layout} "
            "are not supported (NCHW/IOHW)"
        )
    if ddtype != wdtype:
        raise TypeRelationError(f"data is {ddtype} but weight is {wdtype}")
    for name in ("strides", "dilation", "output_padding"):
        if len(attrs[name]) != 2:
            raise TypeRelationError(f"{name} must have 2 entries, got {list(attrs[name])}")
    if min(*attrs.strides, *attrs.dilation) < 1 or min(attrs.output_padding) < 0:
        raise TypeRelationError(
            "strides and dilation must be positive and output_padding not negative, got "
            f"strides={list(attrs.strides)}, dilation={list(attrs.dilation)}, "
            f"output_padding={list(attrs.output_padding)}"
        )
    groups = attrs.groups
    in_c, (w_in, opg, kh, kw) = dshape[1], wshape
    if groups < 1 or in_c != DYNAMIC and in_c % groups:
        raise TypeRelationError(f"{in_c} input channels do not split into {groups} groups")
    if DYNAMIC not in (in_c, w_in) and in_c != w_in:
        raise TypeRelationError(
            f"data has {in_c} input channels but the weight (IOHW) has {w_in}; data "
            f"{show_shape(dshape)}, weight {show_shape(wshape)}"
        )
    out_c = DYNAMIC if opg == DYNAMIC else opg * groups
    if attrs.channels is not None and out_c != DYNAMIC and attrs.channels != out_c:
        raise TypeRelationError(
            f"channels={attrs.channels} but the weight gives {out_c} output channels "
            f"({opg} x {groups} groups)"
        )
    if attrs.kernel_size is not None and not _kernel_fits(attrs.kernel_size, kh, kw):
        raise TypeRelationError(
            f"kernel_size={list(attrs.kernel_size)} but the weight's kernel is "
            f"[{', '.join('?' if k == DYNAMIC else str(k) for k in (kh, kw))}]"
        )
    top, left, bottom, right = padding4(attrs.padding)
    (sh, sw), (dh, dw), (oph, opw) = attrs.strides, attrs.dilation, attrs.output_padding
    oh = transpose_out(dshape[2], kh, sh, dh, top, bottom, oph)
    ow = transpose_out(dshape[3], kw, sw, dw, left, right, opw)
    if DYNAMIC not in (oh, ow) and min(oh, ow) < 1:
        raise TypeRelationError(
            f"conv2d_transpose of data {show_shape(dshape)} with padding {list(attrs.padding)} "
            f"leaves an empty output ({oh} x {ow})"
        )
    return result((dshape[0], out_c, oh, ow), attrs.out_dtype or ddtype)


def _conv2d_transpose_shape(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:
    """The shape function of conv2d_transpose: any `?` dim of the data or the weight (IOHW),
    the output channels the weight's O times the groups and each output size
    `transpose_out` of the data's size and the weight's kernel, either read at run time
    (a grouped one's channels per group are checked and computed when it runs)."""
    data, weight = shapes
    w_in, opg, kh, kw = weight
    top, left, bottom, right = padding4(attrs.padding)
    (sh, sw), (dh, dw), (oph, opw) = attrs.strides, attrs.dilation, attrs.output_padding
    windows = ((data[2], kh, sh, dh, top, bottom, oph), (data[3], kw, sw, dw, left, right, opw))
    return [
        data[0],
        opg * attrs.groups,
        *(transpose_out(size, k, *rest) for size, k, *rest in windows),
    ]


def _conv2d_transpose(attrs: Attrs, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each input element scatters its kernel-weighted copy into the output (NCHW, IOHW)."""
    out_dtype = _out_dtype(attrs, x)
    acc = np.float64 if np.issubdtype(out_dtype, np.floating) else np.int64
    n, cin, h, wd = x.shape
    _, opg, kh, kw = w.shape
    g = attrs.groups
    # The type relation's checks, for `?` channels (the lowering's run-time errors' text)
    if w.shape[0] != cin:
        raise TypeRelationError("the data's channels differ from the weight's")
    if cin % g:
        raise TypeRelationError(f"the data's channels do not split into {g} groups")
    cpg = cin // g
    top, left, bottom, right = padding4(attrs.padding)
    (sh, sw), (dh, dw), (oph, opw) = attrs.strides, attrs.dilation, attrs.output_padding
    oh = transpose_out(h, kh, sh, dh, top, bottom, oph)
    ow = transpose_out(wd, kw, sw, dw, left, right, opw)
    # The unpadded output, grown so the crop below stays inside it whatever the padding's sign.
    fh, fw = (h - 1) * sh + (kh - 1) * dh + 1, (wd - 1) * sw + (kw - 1) * dw + 1
    lo_h, lo_w = max(0, -top), max(0, -left)
    full = np.zeros((n, opg * g, lo_h + max(fh, top + oh), lo_w + max(fw, left + ow)), acc)
    for gi in range(g):
        xs = x[:, gi * cpg : (gi + 1) * cpg].astype(acc)
        ws = w[gi * cpg : (gi + 1) * cpg].astype(acc)
        for i in range(kh):
            for j in range(kw):
                rows = slice(lo_h + i * dh, lo_h + i * dh + sh * (h - 1) + 1, sh)
                cols = slice(lo_w + j * dw, lo_w + j * dw + sw * (wd - 1) + 1, sw)
                full[:, gi * opg : (gi + 1) * opg, rows, cols] += np.einsum(
                    "nchw,co->nohw", xs, ws[:, :, i, j]
                )
    y0, x0 = lo_h + top, lo_w + left
    return full[:, :, y0 : y0 + oh, x0 : x0 + ow].astype(out_dtype)


# -- dense, matmul, batch_matmul -------------------------------------------------------------


@register(
    OpDef(
        "nn.conv2d_transpose",
        ("data", "weight"),
        CONV2D_TRANSPOSE_ATTRS,
        _conv2d_transpose_rel,
        OEF,
        _conv2d_transpose,
        "2-d transposed convolution (the gradient of conv2d)",
        shape=_conv2d_transpose_shape,
    )
)
class Conv2DTranspose(RelayOperatorOp): ...


def _dense_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    dshape, ddtype, wshape, wdtype = _tensor_pair(
        args,
        ("data", "weight"),
        lambda d, w: len(w) == 2 and len(d) > 0,
        "dense expects weight [units, in] and data [..., in]",
    )
    if ddtype != wdtype:
        raise TypeRelationError(f"data is {ddtype} but weight is {wdtype}")
    if DYNAMIC not in (dshape[-1], wshape[1]) and dshape[-1] != wshape[1]:
        raise TypeRelationError(
            f"data's last dimension {dshape[-1]} differs from weight's input dimension {wshape[1]} "
            f"(data {show_shape(dshape)}, weight {show_shape(wshape)})"
        )
    if attrs.units is not None and wshape[0] != DYNAMIC and attrs.units != wshape[0]:
        raise TypeRelationError(f"units={attrs.units} but the weight has {wshape[0]} rows")
    return result((*dshape[:-1], wshape[0]), attrs.out_dtype or ddtype)


def _matmul_acc(a: np.ndarray, b: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
    acc = np.float64 if np.issubdtype(out_dtype, np.floating) else np.int64
    return np.matmul(a.astype(acc), b.astype(acc)).astype(out_dtype)


def _out_dtype(attrs: Attrs, x: np.ndarray) -> np.dtype:
    return numpy_dtype(attrs.out_dtype) if attrs.out_dtype else x.dtype


@register(
    OpDef(
        "nn.dense",
        ("data", "weight"),
        (AttrSpec("units", AttrKind.INT, None), AttrSpec("out_dtype", AttrKind.DTYPE, "")),
        _dense_rel,
        OEF,
        lambda attrs, x, w: _matmul_acc(x, w.T, _out_dtype(attrs, x)),
        "data · weightᵀ (weight is [units, in])",
        shape=lambda shapes, attrs: [*shapes[0][:-1], shapes[1][0]],
    )
)
class Dense(RelayOperatorOp): ...


def _matmul_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    ashape, adtype, bshape, bdtype = _tensor_pair(
        args,
        ("a", "b"),
        lambda a, b: len(b) == 2 and len(a) > 0,
        "matmul expects a [..., k] and a 2-d b",
    )
    if adtype != bdtype:
        raise TypeRelationError(f"operand dtypes differ: {adtype} and {bdtype}")
    if attrs.transpose_a and len(ashape) != 2:
        raise TypeRelationError("transpose_a needs a 2-d first operand")
    m_axis_k = ashape[-2] if attrs.transpose_a else ashape[-1]
    k, n = (bshape[1], bshape[0]) if attrs.transpose_b else (bshape[0], bshape[1])
    if DYNAMIC not in (m_axis_k, k) and m_axis_k != k:
        raise TypeRelationError(f"inner dimensions differ: {m_axis_k} and {k}")
    lead = (ashape[-1],) if attrs.transpose_a else ashape[:-1]
    return result((*lead, n), attrs.out_dtype or adtype)


def _matmul_dims(shapes: Sequence[Sequence[object]], attrs: Attrs) -> list[object]:
    a, b = shapes
    lead = [a[-1]] if attrs.transpose_a else list(a[:-1])
    return [*lead, b[0] if attrs.transpose_b else b[1]]


def _matmul(attrs: Attrs, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.T if attrs.transpose_a else a
    b = b.T if attrs.transpose_b else b
    return _matmul_acc(a, b, _out_dtype(attrs, a))


@register(
    OpDef(
        "nn.matmul",
        ("a", "b"),
        (
            AttrSpec("units", AttrKind.INT, None),
            AttrSpec("out_dtype", AttrKind.DTYPE, ""),
            AttrSpec("transpose_a", AttrKind.BOOL, False),
            AttrSpec("transpose_b", AttrKind.BOOL, False),
        ),
        _matmul_rel,
        OEF,
        _matmul,
        "a · b with optional transposes",
        shape=_matmul_dims,
    )
)
class Matmul(RelayOperatorOp): ...


def _batch_matmul_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    xs, xdtype, ys, ydtype = _tensor_pair(
        args,
        ("x", "y"),
        lambda x, y: len(x) == 3 and len(y) == 3,
        "batch_matmul expects 3-d operands",
    )
    if xdtype != ydtype:
        raise TypeRelationError(f"operand dtypes differ: {xdtype} and {ydtype}")
    b1, b2 = xs[0], ys[0]
    if DYNAMIC not in (b1, b2) and b1 != b2 and 1 not in (b1, b2):
        raise TypeRelationError(f"batch sizes {b1} and {b2} differ")
    m, k1 = (xs[2], xs[1]) if attrs.transpose_a else (xs[1], xs[2])
    k2, n = (ys[2], ys[1]) if attrs.transpose_b else (ys[1], ys[2])
    if DYNAMIC not in (k1, k2) and k1 != k2:
        raise TypeRelationError(
            f"inner dimensions differ: {k1} and {k2} (x {show_shape(xs)}, y {show_shape(ys)})"
        )
    batch = b2 if b1 == 1 else b1
    return result((batch, m, n), attrs.out_dtype or xdtype)


def _batch_matmul_dims(shapes: Sequence[Sequence[object]], attrs: Attrs) -> list[object]:
    x, y = shapes
    batch = y[0] if x[0] == 1 else x[0]
    return [batch, x[2] if attrs.transpose_a else x[1], y[1] if attrs.transpose_b else y[2]]


def _batch_matmul(attrs: Attrs, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x.transpose(0, 2, 1) if attrs.transpose_a else x
    y = y.transpose(0, 2, 1) if attrs.transpose_b else y
    return _matmul_acc(x, y, _out_dtype(attrs, x))


@register(
    OpDef(
        "nn.batch_matmul",
        ("x", "y"),
        (
            AttrSpec("out_dtype", AttrKind.DTYPE, ""),
            AttrSpec("transpose_a", AttrKind.BOOL, False),
            AttrSpec("transpose_b", AttrKind.BOOL, False),
        ),
        _batch_matmul_rel,
        OEF,
        _batch_matmul,
        "batched matrix product",
        shape=_batch_matmul_dims,
    )
)
class BatchMatmul(RelayOperatorOp): ...


# -- bias_add, prelu, softmax ----------------------------------------------------------------


def _channel_vector_rel(name: str, arg: str):  # noqa: ANN202
    def relation(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
        dshape, ddtype = expect_tensor(args[0], "data")
        vshape, vdtype = expect_tensor(args[1], arg)
        if vdtype != ddtype:
            raise TypeRelationError(f"data is {ddtype} but {arg} is {vdtype}")
        axis = normalize_axis(attrs.axis, len(dshape))
        if (
            len(vshape) != 1
            or DYNAMIC not in (vshape[0], dshape[axis])
            and vshape[0] != dshape[axis]
        ):
            raise TypeRelationError(
                f"{name}: {arg} must have shape ({dshape[axis]},) to match axis {attrs.axis} of "
                f"data {show_shape(dshape)}, got {show_shape(vshape)}"
            )
        return result(dshape, ddtype)

    return relation


def _along(v: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


@register(
    OpDef(
        "nn.bias_add",
        ("data", "bias"),
        (AttrSpec("axis", AttrKind.INT, 1),),
        _channel_vector_rel("bias_add", "bias"),
        OpPattern.BROADCAST,
        lambda attrs, x, b: (x + _along(b, normalize_axis(attrs.axis, x.ndim), x.ndim)).astype(
            x.dtype
        ),
        "add a vector along an axis",
        shape=same_dims,
    )
)
class BiasAdd(RelayOperatorOp): ...


@register(
    OpDef(
        "nn.prelu",
        ("data", "alpha"),
        (AttrSpec("axis", AttrKind.INT, 1),),
        _channel_vector_rel("prelu", "alpha"),
        OpPattern.BROADCAST,
        lambda attrs, x, a: np.where(
            x > 0, x, x * _along(a, normalize_axis(attrs.axis, x.ndim), x.ndim)
        ).astype(x.dtype),
        "x if x > 0 else alpha * x, alpha per channel",
        shape=same_dims,
    )
)
class Prelu(RelayOperatorOp): ...


def _same_float_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    if not dtype.startswith(("float", "bfloat")):
        raise TypeRelationError(f"expects a floating-point tensor, got {dtype}")
    normalize_axis(attrs.axis, len(shape))
    return result(shape, dtype)


def _softmax(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    y = x.astype(np.float64)
    y = np.exp(y - y.max(axis=attrs.axis, keepdims=True))
    return (y / y.sum(axis=attrs.axis, keepdims=True)).astype(x.dtype)


def _log_softmax(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    y = x.astype(np.float64)
    y = y - y.max(axis=attrs.axis, keepdims=True)
    return (y - np.log(np.exp(y).sum(axis=attrs.axis, keepdims=True))).astype(x.dtype)


@register(
    OpDef(
        "nn.softmax",
        ("data",),
        (AttrSpec("axis", AttrKind.INT, -1),),
        _same_float_rel,
        OEF,
        _softmax,
        "softmax along an axis",
        shape=same_dims,
    )
)
class Softmax(RelayOperatorOp): ...


@register(
    OpDef(
        "nn.log_softmax",
        ("data",),
        (AttrSpec("axis", AttrKind.INT, -1),),
        _same_float_rel,
        OEF,
        _log_softmax,
        "log of softmax along an axis",
        shape=same_dims,
    )
)
class LogSoftmax(RelayOperatorOp): ...


# -- pooling ---------------------------------------------------------------------------------

POOL_ATTRS = (
    AttrSpec("pool_size", AttrKind.INTS, [1, 1]),
    AttrSpec("strides", AttrKind.INTS, [1, 1]),
    AttrSpec("dilation", AttrKind.INTS, [1, 1]),
    AttrSpec("padding", AttrKind.INTS, [0, 0]),
    AttrSpec("layout", AttrKind.STR, "NCHW"),
    AttrSpec("out_layout", AttrKind.STR, ""),
    AttrSpec("ceil_mode", AttrKind.BOOL, False),
)


def _pool_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    if len(shape) != 4:
        raise TypeRelationError(f"pooling expects 4-d data, got {show_shape(shape)}")
    _, h, w = _layout_axes(attrs.layout, "pooling")
    check_window_lists(attrs, ("pool_size", "strides", "dilation"))
    top, left, bottom, right = padding4(attrs.padding)
    kh, kw = attrs.pool_size
    out = list(shape)
    out[h] = window_out(
        shape[h], kh, attrs.strides[0], attrs.dilation[0], top, bottom, attrs.ceil_mode
    )
    out[w] = window_out(
        shape[w], kw, attrs.strides[1], attrs.dilation[1], left, right, attrs.ceil_mode
    )
    return result(_relaid(out, attrs.layout, attrs.out_layout, "pooling"), dtype)


def _pool_nchw(attrs: Attrs, x: np.ndarray, kind: str) -> np.ndarray:
    n, c, h, w = x.shape
    top, left, bottom, right = padding4(attrs.padding)
    kh, kw = attrs.pool_size
    sh, sw = attrs.strides
    dh, dw = attrs.dilation
    oh = window_out(h, kh, sh, dh, top, bottom, attrs.ceil_mode)
    ow = window_out(w, kw, sw, dw, left, right, attrs.ceil_mode)
    # Pad enough on the bottom/right for ceil_mode windows; padding never wins a max
    # and is counted in an average only with count_include_pad (and only the declared padding).
    extra_h = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - (h + top + bottom))
    extra_w = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - (w + left + right))
    # Integer averages are TVM's: the window sum wraps in the input dtype, then is divided
    # by the count towards zero (_int_mean).
    int_avg = kind == "avg" and x.dtype.kind in "iu"
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(
        x if int_avg else x.astype(np.float64),
        ((0, 0), (0, 0), (top, bottom + extra_h), (left, right + extra_w)),
        constant_values=fill,
    )
    inside = np.pad(np.ones((h, w)), ((top, bottom + extra_h), (left, right + extra_w)))
    declared = np.pad(np.ones((h + top + bottom, w + left + right)), ((0, extra_h), (0, extra_w)))
    acc = np.zeros((n, c, oh, ow), x.dtype) if int_avg else np.full((n, c, oh, ow), fill)
    count = np.zeros((oh, ow))
    for i in range(kh):
        for j in range(kw):
            sl = (
                slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                slice(j * dw, j * dw + sw * (ow - 1) + 1, sw),
            )
            window = xp[:, :, sl[0], sl[1]]
            if kind == "max":
                acc = np.maximum(acc, window)
            else:
                acc = acc + window
                count += (declared if attrs.count_include_pad else inside)[sl[0], sl[1]]
    if int_avg:
        return _int_mean(acc, np.maximum(count, 1).astype(np.int64))
    if kind == "avg":
        acc = acc / np.maximum(count, 1)
    return acc.astype(x.dtype)


def _int_mean(total: np.ndarray, count: np.ndarray | int) -> np.ndarray:
    """TVM's integer average: `total` (the sum, wrapped in its integer dtype) divided by the
    positive `count` towards zero (exactly, in 64 bits), in total's dtype."""
    wide = total.astype(np.uint64 if total.dtype == np.uint64 else np.int64)
    c = np.asarray(count).astype(wide.dtype)
    q = wide // c
    q = q + ((wide % c != 0) & (wide < 0))
    return q.astype(total.dtype)


def _pool(kind: str):  # noqa: ANN202
    def compute(attrs: Attrs, x: np.ndarray) -> np.ndarray:
        if attrs.layout == "NCHW" and attrs.out_layout in ("", "NCHW"):
            return _pool_nchw(attrs, x, kind)
        y = _pool_nchw(attrs, relayout(x, attrs.layout, "NCHW"), kind)
        return relayout(y, "NCHW", attrs.out_layout or attrs.layout)

    return compute


@register(
    OpDef(
        "nn.max_pool2d",
        ("data",),
        POOL_ATTRS,
        _pool_rel,
        OEF,
        _pool("max"),
        "2-d max pooling",
        shape=spatial_dims(_pool_rel),
    )
)
class MaxPool2D(RelayOperatorOp): ...


# -- nn.modulated_deformable_conv2d ---------------------------------------------------------------

DEFORM_ATTRS = (
    AttrSpec("strides", AttrKind.INTS, [1, 1]),
    AttrSpec("padding", AttrKind.INTS, [0, 0, 0, 0]),
    AttrSpec("dilation", AttrKind.INTS, [1, 1]),
    AttrSpec("deformable_groups", AttrKind.INT, 1),
    AttrSpec("groups", AttrKind.INT, 1),
)


def _deform_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    oshape, odtype = expect_tensor(args[1], "offset")
    wshape, wdtype = expect_tensor(args[2], "weight")
    mshape, mdtype = expect_tensor(args[3], "mask")
    if len(shape) != 4 or len(wshape) != 4:
        raise TypeRelationError(
            f"deformable conv2d takes NCHW data and OIHW weights, got {show_shape(shape)}, "
            f"{show_shape(wshape)}"
        )
    if not dtype.startswith("float") or {odtype, wdtype, mdtype} != {dtype}:
        raise TypeRelationError(f"deformable conv2d takes operands of one float dtype, got {dtype}")
    n, c, h, w = shape
    oc, icg, kh, kw = wshape
    groups, dg = attrs.groups, attrs.deformable_groups
    # What a `?` dim leaves open is checked when it runs (DEFORM_CHANNELS, DEFORM_MISMATCH).
    if (
        groups < 1
        or dg < 1
        or DYNAMIC not in (c, icg)
        and c != icg * groups
        or oc != DYNAMIC
        and oc % groups
        or c != DYNAMIC
        and c % dg
        or 0 in (h, w)
    ):
        raise TypeRelationError(
            f"deformable conv2d: {'?' if c == DYNAMIC else c} channels do not fit weight "
            f"{show_shape(wshape)} with groups={groups}, deformable_groups={dg}"
        )
    _, _, oh, ow = deform_out(shape, wshape, attrs)
    taps = DYNAMIC if DYNAMIC in (kh, kw) else dg * kh * kw
    pairs = DYNAMIC if taps == DYNAMIC else taps * 2
    if not dims_agree(oshape, (n, pairs, oh, ow)):
        raise TypeRelationError(
            f"the offset must be {show_shape((n, pairs, oh, ow))}, got {show_shape(oshape)}"
        )
    if not dims_agree(mshape, (n, taps, oh, ow)):
        raise TypeRelationError(
            f"the mask must be {show_shape((n, taps, oh, ow))}, got {show_shape(mshape)}"
        )
    n, oh, ow = joined_dims(
        joined_dims([n, oh, ow], [oshape[0], *oshape[2:]]), [mshape[0], *mshape[2:]]
    )
    return result([n, oc, oh, ow], dtype)


DEFORM_MISMATCH = "the offset or mask does not have the shape the data and weight give"
"""The run-time error of a deformable conv2d's `?` offset or mask, interpreted and native."""

DEFORM_CHANNELS = "the data's channels do not fit the weight, groups and deformable_groups"
"""The run-time error of a deformable conv2d's `?` channels or weight, interpreted and native."""


def deform_offset_shapes(
    attrs: Attrs, out: Sequence[Any], kernel: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """The offset's and mask's shapes for a result `out` (N, O, OH, OW) and kernel (KH, KW):
    ints or run-time sizes."""
    n, _, oh, ow = out
    taps = attrs.deformable_groups * kernel[0] * kernel[1]
    return [(n, taps * 2, oh, ow), (n, taps, oh, ow)]


def deform_out(shape: Sequence[Any], wshape: Sequence[Any], attrs: Attrs) -> list[Any]:
    """The result's shape (N, O, OH, OW) from the data's and the weight's (ints, `?` in a
    type, or run-time sizes in a shape function)."""
    (n, _, h, w), (oc, _, kh, kw) = shape, wshape
    (sh, sw), (dh, dw) = attrs.strides, attrs.dilation
    top, left, bottom, right = padding4(attrs.padding)

    def out(size: Any, before: int, after: int, k: Any, stride: int, dilation: int) -> Any:
        if any(isinstance(v, int) and v == DYNAMIC for v in (size, k)):
            return DYNAMIC
        return (size + (before + after - (k - 1) * dilation - 1)) // stride + 1

    return [n, oc, out(h, top, bottom, kh, sh, dh), out(w, left, right, kw, sw, dw)]


def _deform_dims(shapes: Sequence[Sequence[Any]], attrs: Attrs) -> list[Any]:
    # The data's and the weight's sizes give the result's.
    return deform_out(shapes[0], shapes[2], attrs)


def deform_sample(img: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Bilinear samples of img (..., H, W) at pixel positions (..., *S), 0 outside: the
    result is (..., *S). ys and xs broadcast against img's leading axes."""
    h, w = img.shape[-2:]
    lead = img.shape[:-2]
    y0, x0 = np.floor(ys), np.floor(xs)
    ty, tx = (ys - y0).astype(ys.dtype), (xs - x0).astype(xs.dtype)
    total = None
    for yi, wy in ((y0, 1 - ty), (y0 + 1, ty)):
        for xi, wx in ((x0, 1 - tx), (x0 + 1, tx)):
            inside = (yi >= 0) & (yi <= h - 1) & (xi >= 0) & (xi <= w - 1)
            iy = np.where(inside, yi, 0).astype(np.int64)
            ix = np.where(inside, xi, 0).astype(np.int64)
            grids = np.indices(lead, sparse=True)
            extra = iy.ndim - len(lead)
            at = tuple(g.reshape(g.shape + (1,) * extra) for g in grids)
            v = np.where(inside, img[(*at, iy, ix)], 0).astype(ys.dtype)
            term = (wy * wx) * v
            total = term if total is None else total + term
    assert total is not None
    return total


def _deform(
    attrs: Attrs, x: np.ndarray, offset: np.ndarray, weight: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    (c, (oc, icg, _, _)), groups = (x.shape[1], weight.shape), attrs.groups
    dg = attrs.deformable_groups
    if c != icg * groups or oc % groups or c % dg:  # the relation's check, for `?` channels
        raise TypeRelationError(DEFORM_CHANNELS)
    out = deform_out(x.shape, weight.shape, attrs)
    if [offset.shape, mask.shape] != deform_offset_shapes(attrs, out, weight.shape[2:]):
        raise ValueError(f"{DEFORM_MISMATCH}: offset {offset.shape}, mask {mask.shape}")
    ct = np.float64 if x.dtype == np.float64 else np.float32
    n, c, h, w = x.shape
    oc, icg, kh, kw = weight.shape
    dg, groups = attrs.deformable_groups, attrs.groups
    _, _, oh, ow = offset.shape
    (sh, sw), (dh, dw) = attrs.strides, attrs.dilation
    top, left, _, _ = padding4(attrs.padding)
    off = offset.astype(ct).reshape(n, dg, kh, kw, 2, oh, ow)
    # Each tap's position per (n, deformable group, kh, kw, oh, ow), in pixels.
    base_y = (np.arange(kh) * dh)[:, None, None, None] + (np.arange(oh) * sh - top)[:, None]
    base_x = (np.arange(kw) * dw)[:, None, None] + (np.arange(ow) * sw - left)
    ys = base_y.astype(ct) + off[:, :, :, :, 0]
    xs = base_x.astype(ct) + off[:, :, :, :, 1]
    chan_group = np.arange(c) // (c // dg)
    sampled = deform_sample(x.astype(ct), ys[:, chan_group], xs[:, chan_group])
    sampled = sampled * mask.astype(ct).reshape(n, dg, kh, kw, oh, ow)[:, chan_group]
    out = np.zeros((n, oc, oh, ow), ct)
    ocg = oc // groups
    for g in range(groups):
        cols = sampled[:, g * icg : (g + 1) * icg]
        wg = weight[g * ocg : (g + 1) * ocg].astype(ct)
        out[:, g * ocg : (g + 1) * ocg] = np.einsum("ncijhw,ocij->nohw", cols, wg)
    return out.astype(x.dtype)


@register(
    OpDef(
        "nn.modulated_deformable_conv2d",
        ("data", "offset", "weight", "mask"),
        DEFORM_ATTRS,
        _deform_rel,
        OpPattern.OPAQUE,
        _deform,
        "2-d convolution whose taps are moved by `offset` (bilinear samples, 0 outside) and "
        "scaled by `mask` (DCNv2; ONNX's DeformConv)",
        shape=_deform_dims,
    )
)
class ModulatedDeformableConv2D(RelayOperatorOp): ...


# -- nn.max_unpool ------------------------------------------------------------------------------


def _max_unpool_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    ishape, idtype = expect_tensor(args[1], "indices")
    if not dims_agree(ishape, shape) or idtype not in ("int32", "int64"):
        raise TypeRelationError(
            f"max_unpool's indices are int32/int64 of the data's shape {show_shape(shape)}, "
            f"got {show_shape(ishape)} {idtype}"
        )
    if attrs.shape is None or len(attrs.shape) != len(shape) or min(attrs.shape, default=1) < 0:
        raise TypeRelationError(
            f"max_unpool needs shape=[...] of the data's rank {len(shape)}, got {attrs.shape}"
        )
    return result(list(attrs.shape), dtype)


MAX_UNPOOL_MISMATCH = "the indices' shape is not the data's at run time"


def _max_unpool(attrs: Attrs, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
    if x.shape != indices.shape:
        raise ValueError(f"{MAX_UNPOOL_MISMATCH}: {indices.shape} against {x.shape}")
    size = int(np.prod(attrs.shape, dtype=np.int64))
    out = np.zeros(size, x.dtype)
    flat = indices.reshape(-1).astype(np.int64)
    ok = (flat >= 0) & (flat < size)
    # The last element written to a position wins: keep each position's last occurrence.
    targets, values = flat[ok][::-1], x.reshape(-1)[ok][::-1]
    positions, last = np.unique(targets, return_index=True)
    out[positions] = values[last]
    return out.reshape(attrs.shape)


@register(
    OpDef(
        "nn.max_unpool",
        ("data", "indices"),
        (AttrSpec("shape", AttrKind.INTS, None),),
        _max_unpool_rel,
        OpPattern.OPAQUE,
        _max_unpool,
        "zeros of `shape` with each data element written at its flat index (max_pool's "
        "indices; the last write to a position wins, indices outside are dropped)",
        shape=lambda shapes, attrs: list(attrs.shape),  # noqa: ARG005
    )
)
class MaxUnpool(RelayOperatorOp): ...


@register(
    OpDef(
        "nn.avg_pool2d",
        ("data",),
        (*POOL_ATTRS, AttrSpec("count_include_pad", AttrKind.BOOL, False)),
        _pool_rel,
        OEF,
        _pool("avg"),
        "2-d average pooling",
        shape=spatial_dims(_pool_rel),
    )
)
class AvgPool2D(RelayOperatorOp): ...


GLOBAL_POOL_ATTRS = (
    AttrSpec("layout", AttrKind.STR, "NCHW"),
    AttrSpec("out_layout", AttrKind.STR, ""),
)


def _global_pool_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    if len(shape) != 4:
        raise TypeRelationError(f"pooling expects 4-d data, got {show_shape(shape)}")
    _, h, w = _layout_axes(attrs.layout, "pooling")
    out = list(shape)
    out[h] = out[w] = 1
    return result(_relaid(out, attrs.layout, attrs.out_layout, "pooling"), dtype)


def _global_pool(fn):  # noqa: ANN001, ANN202
    def compute(attrs: Attrs, x: np.ndarray) -> np.ndarray:
        _, h, w = _layout_axes(attrs.layout, "pooling")
        if fn is np.mean and x.dtype.kind in "iu":
            # TVM's: the sum wraps in the input dtype; divided towards zero.
            total = np.sum(x, axis=(h, w), keepdims=True, dtype=x.dtype)
            y = _int_mean(total, x.shape[h] * x.shape[w])
        else:
            y = fn(x.astype(np.float64), axis=(h, w), keepdims=True).astype(x.dtype)
        return relayout(y, attrs.layout, attrs.out_layout) if attrs.out_layout else y

    return compute


@register(
    OpDef(
        "nn.global_avg_pool2d",
        ("data",),
        GLOBAL_POOL_ATTRS,
        _global_pool_rel,
        OEF,
        _global_pool(np.mean),
        "mean over the spatial axes",
        shape=spatial_dims(_global_pool_rel),
    )
)
class GlobalAvgPool2D(RelayOperatorOp): ...


@register(
    OpDef(
        "nn.global_max_pool2d",
        ("data",),
        GLOBAL_POOL_ATTRS,
        _global_pool_rel,
        OEF,
        _global_pool(np.max),
        "maximum over the spatial axes",
        shape=spatial_dims(_global_pool_rel),
    )
)
class GlobalMaxPool2D(RelayOperatorOp): ...


def _adaptive_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    if len(shape) != 4:
        raise TypeRelationError(f"pooling expects 4-d data, got {show_shape(shape)}")
    _, h, w = _layout_axes(attrs.layout, "pooling")
    size = list(attrs.output_size or [])
    if len(size) > 2:
        raise TypeRelationError(f"output_size must have 1 or 2 entries, got {size}")
    if size and min(size) < 1:
        raise TypeRelationError(f"output_size must be positive, got {size}")
    if len(size) == 1:
        size = size * 2
    out = list(shape)
    if size:
        out[h], out[w] = size[0], size[1]
    return result(_relaid(out, attrs.layout, attrs.out_layout, "pooling"), dtype)


def adaptive_windows(in_size: int, out_size: int) -> list[tuple[int, int]]:
    """The input range [start, end) each output position of adaptive pooling averages."""
    return [
        ((i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)) for i in range(out_size)
    ]


def _adaptive_sizes(attrs: Attrs, h: int, w: int) -> tuple[int, int]:
    size = list(attrs.output_size or [h, w])
    oh, ow = (size * 2) if len(size) == 1 else size
    return oh, ow


def _adaptive_avg(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    _layout_axes(attrs.layout, "pooling")  # (a layout it does not take is an error)
    xs = relayout(x, attrs.layout, "NCHW")
    n, c, h, w = xs.shape
    oh, ow = _adaptive_sizes(attrs, h, w)
    out = np.zeros((n, c, oh, ow))
    for i, (h0, h1) in enumerate(adaptive_windows(h, oh)):
        for j, (w0, w1) in enumerate(adaptive_windows(w, ow)):
            out[:, :, i, j] = xs[:, :, h0:h1, w0:w1].astype(np.float64).mean(axis=(2, 3))
    return relayout(out.astype(x.dtype), "NCHW", attrs.out_layout or attrs.layout)


@register(
    OpDef(
        "nn.adaptive_avg_pool2d",
        ("data",),
        (
            AttrSpec("output_size", AttrKind.INTS, None),
            AttrSpec("layout", AttrKind.STR, "NCHW"),
            AttrSpec("out_layout", AttrKind.STR, ""),
        ),
        _adaptive_rel,
        OEF,
        _adaptive_avg,
        "average pooling to a given output size",
        shape=spatial_dims(_adaptive_rel),
    )
)
class AdaptiveAvgPool2D(RelayOperatorOp): ...


# -- normalization, dropout ----------------------------------------------------------------


def _batch_norm_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    dshape, ddtype = expect_tensor(args[0], "data")
    axis = normalize_axis(attrs.axis, len(dshape))
    c = dshape[axis]
    for name, t in zip(("gamma", "beta", "moving_mean", "moving_var"), args[1:], strict=True):
        vshape, vdtype = expect_tensor(t, name)
        if vdtype != ddtype:
            raise TypeRelationError(f"data is {ddtype} but {name} is {vdtype}")
        if len(vshape) != 1 or DYNAMIC not in (vshape[0], c) and vshape[0] != c:
            raise TypeRelationError(
                f"{name} must have shape ({c},) (axis {attrs.axis} of data {show_shape(dshape)}), "
                f"got {show_shape(vshape)}"
            )
    vec = result((c,), ddtype)
    return tuple_type([result(dshape, ddtype), vec, vec])


def _batch_norm_dims(shapes: Sequence[Sequence[object]], attrs: Attrs) -> list[list[object]]:
    """One shape per result field: the data's, then the statistics' (the channel count, a
    run-time size for a `?` channel axis: the lowering checks each statistic against it)."""
    data = shapes[0]
    c = data[normalize_axis(attrs.axis, len(data))]
    return [list(data), [c], [c]]


def _batch_norm(attrs: Attrs, x, gamma, beta, mean, var):  # noqa: ANN001, ANN202
    axis = normalize_axis(attrs.axis, x.ndim)
    g = gamma.astype(np.float64) if attrs.scale else 1.0
    b = beta.astype(np.float64) if attrs.center else 0.0
    inv = g / np.sqrt(var.astype(np.float64) + attrs.epsilon)
    y = (x - _along(mean, axis, x.ndim)) * _along(np.broadcast_to(inv, mean.shape), axis, x.ndim)
    y = y + _along(np.broadcast_to(b, mean.shape), axis, x.ndim)
    return y.astype(x.dtype), mean.copy(), var.copy()


@register(
    OpDef(
        "nn.batch_norm",
        ("data", "gamma", "beta", "moving_mean", "moving_var"),
        (
            AttrSpec("axis", AttrKind.INT, 1),
            AttrSpec("epsilon", AttrKind.FLOAT, 1e-5),
            AttrSpec("center", AttrKind.BOOL, True),
            AttrSpec("scale", AttrKind.BOOL, True),
        ),
        _batch_norm_rel,
        OEF,
        _batch_norm,
        "inference batch normalization; returns (out, moving_mean, moving_var)",
        shape=_batch_norm_dims,
    )
)
class BatchNorm(RelayOperatorOp): ...


def _layer_norm_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    dshape, ddtype = expect_tensor(args[0], "data")
    axis = normalize_axis(attrs.axis, len(dshape))
    for name, t in zip(("gamma", "beta"), args[1:], strict=True):
        vshape, vdtype = expect_tensor(t, name)
        if (
            vdtype != ddtype
            or len(vshape) != 1
            or DYNAMIC not in (vshape[0], dshape[axis])
            and vshape[0] != dshape[axis]
        ):
            raise TypeRelationError(
                f"{name} must be ({dshape[axis]},) {ddtype} for axis {attrs.axis} of data "
                f"{show_shape(dshape)}, got {show_shape(vshape)} {vdtype}"
            )
    return result(dshape, ddtype)


def _layer_norm(attrs: Attrs, x, gamma, beta):  # noqa: ANN001, ANN202
    axis = normalize_axis(attrs.axis, x.ndim)
    y = x.astype(np.float64)
    mean = y.mean(axis=axis, keepdims=True)
    var = y.var(axis=axis, keepdims=True)
    y = (y - mean) / np.sqrt(var + attrs.epsilon)
    if attrs.scale:
        y = y * _along(gamma, axis, x.ndim)
    if attrs.center:
        y = y + _along(beta, axis, x.ndim)
    return y.astype(x.dtype)


@register(
    OpDef(
        "nn.layer_norm",
        ("data", "gamma", "beta"),
        (
            AttrSpec("axis", AttrKind.INT, -1),
            AttrSpec("epsilon", AttrKind.FLOAT, 1e-5),
            AttrSpec("center", AttrKind.BOOL, True),
            AttrSpec("scale", AttrKind.BOOL, True),
        ),
        _layer_norm_rel,
        OpPattern.OPAQUE,
        _layer_norm,
        "layer normalization along an axis",
        shape=same_dims,
    )
)
class LayerNorm(RelayOperatorOp): ...


def _per_channel_rel(name: str, *, min_rank: int = 1):  # noqa: ANN202
    """data plus a (C,) gamma and beta along `axis`: the result has data's type."""

    def relation(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
        dshape, ddtype = expect_tensor(args[0], "data")
        if not ddtype.startswith(("float", "bfloat")):
            raise TypeRelationError(f"{name} expects floating-point data, got {ddtype}")
        if len(dshape) < min_rank:
            raise TypeRelationError(
                f"{name} expects data of rank {min_rank} or more, got {show_shape(dshape)}"
            )
        axis = normalize_axis(attrs.axis, len(dshape))
        c = dshape[axis]
        for arg, t in zip(("gamma", "beta"), args[1:], strict=True):
            vshape, vdtype = expect_tensor(t, arg)
            if (
                vdtype != ddtype
                or len(vshape) != 1
                or DYNAMIC not in (vshape[0], c)
                and vshape[0] != c
            ):
                raise TypeRelationError(
                    f"{name}: {arg} must be ({c},) {ddtype} for axis {attrs.axis} of data "
                    f"{show_shape(dshape)}, got {show_shape(vshape)} {vdtype}"
                )
        if name == "group_norm":
            g = attrs.num_groups
            if g is None:
                raise TypeRelationError("group_norm needs num_groups")
            if g <= 0 or c != DYNAMIC and c % g:
                raise TypeRelationError(
                    f"group_norm: {c} channels (axis {attrs.axis} of data {show_shape(dshape)}) "
                    f"do not split into num_groups={g} groups"
                )
        return result(dshape, ddtype)

    return relation


def norm_reduced_axes(rank: int, axis: int) -> list[int]:
    """instance_norm and group_norm (after the group split) reduce every axis but the batch
    axis 0 and `axis`."""
    return [a for a in range(rank) if a not in (0, axis)]


def _scale_shift(
    attrs: Attrs, y: np.ndarray, gamma: np.ndarray, beta: np.ndarray, axis: int
) -> np.ndarray:
    if attrs.scale:
        y = y * _along(gamma.astype(np.float64), axis, y.ndim)
    if attrs.center:
        y = y + _along(beta.astype(np.float64), axis, y.ndim)
    return y


def _standardize(y: np.ndarray, axes: list[int], eps: float) -> np.ndarray:
    mean = y.mean(axis=tuple(axes), keepdims=True)
    var = y.var(axis=tuple(axes), keepdims=True)
    return (y - mean) / np.sqrt(var + eps)


def _instance_norm(attrs: Attrs, x, gamma, beta):  # noqa: ANN001, ANN202
    axis = normalize_axis(attrs.axis, x.ndim)
    y = _standardize(x.astype(np.float64), norm_reduced_axes(x.ndim, axis), attrs.epsilon)
    return _scale_shift(attrs, y, gamma, beta, axis).astype(x.dtype)


def _group_norm(attrs: Attrs, x, gamma, beta):  # noqa: ANN001, ANN202
    axis = normalize_axis(attrs.axis, x.ndim)
    g = attrs.num_groups
    split = (*x.shape[:axis], g, x.shape[axis] // g, *x.shape[axis + 1 :])
    y = _standardize(
        x.astype(np.float64).reshape(split), norm_reduced_axes(len(split), axis), attrs.epsilon
    )
    return _scale_shift(attrs, y.reshape(x.shape), gamma, beta, axis).astype(x.dtype)


# TVM registers no fusion pattern for instance_norm and group_norm (so fuse-ops treats them
# as opaque), like layer_norm; simplify-inference turns all three into fusable arithmetic.
NORM_ATTRS = (
    AttrSpec("axis", AttrKind.INT, 1),
    AttrSpec("epsilon", AttrKind.FLOAT, 1e-5),
    AttrSpec("center", AttrKind.BOOL, True),
    AttrSpec("scale", AttrKind.BOOL, True),
)


@register(
    OpDef(
        "nn.instance_norm",
        ("data", "gamma", "beta"),
        NORM_ATTRS,
        _per_channel_rel("instance_norm", min_rank=3),
        OpPattern.OPAQUE,
        _instance_norm,
        "normalization over every axis but the batch and channel axes",
        shape=same_dims,
    )
)
class InstanceNorm(RelayOperatorOp): ...


@register(
    OpDef(
        "nn.group_norm",
        ("data", "gamma", "beta"),
        (AttrSpec("num_groups", AttrKind.INT, None), *NORM_ATTRS),
        _per_channel_rel("group_norm", min_rank=2),
        OpPattern.OPAQUE,
        _group_norm,
        "normalization over groups of channels (and every axis but the batch axis)",
        shape=same_dims,
    )
)
class GroupNorm(RelayOperatorOp): ...


def _l2_normalize_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    if not dtype.startswith(("float", "bfloat")):
        raise TypeRelationError(f"l2_normalize expects floating-point data, got {dtype}")
    if attrs.eps is None:
        raise TypeRelationError("l2_normalize needs eps (the lower bound of the squared norm)")
    l2_axes(attrs, len(shape))
    return result(shape, dtype)


def l2_axes(attrs: Attrs, rank: int) -> list[int]:
    """The axes l2_normalize sums over: `axis`, or every axis when it is not given."""
    if attrs.axis is None:
        return list(range(rank))
    axes = [normalize_axis(a, rank) for a in attrs.axis]
    if len(set(axes)) != len(axes):
        raise TypeRelationError(f"axis {list(attrs.axis)} names an axis twice")
    return sorted(axes)


def _l2_normalize(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    y = x.astype(np.float64)
    total = (y * y).sum(axis=tuple(l2_axes(attrs, x.ndim)), keepdims=True)
    return (y / np.sqrt(np.maximum(total, attrs.eps))).astype(x.dtype)


# TVM gives l2_normalize the out-elementwise-fusable pattern (a reduction followed by
# elementwise work on its input), as softmax.
@register(
    OpDef(
        "nn.l2_normalize",
        ("data",),
        (AttrSpec("eps", AttrKind.FLOAT, None), AttrSpec("axis", AttrKind.INTS, None)),
        _l2_normalize_rel,
        OEF,
        _l2_normalize,
        "x / sqrt(max(sum(x * x, axis), eps))",
        shape=same_dims,
    )
)
class L2Normalize(RelayOperatorOp): ...


def _dropout_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    return tuple_type([result(shape, dtype), result(shape, dtype)])


@register(
    OpDef(
        "nn.dropout",
        ("data",),
        (AttrSpec("rate", AttrKind.FLOAT, 0.5),),
        _dropout_rel,
        OpPattern.OPAQUE,
        # Inference semantics: the identity (and a mask of ones), as TVM's interpreter.
        lambda attrs, x: (x.copy(), np.ones_like(x)),
        "dropout; the identity at inference, returns (out, mask)",
        shape=lambda shapes, attrs: [list(shapes[0]), list(shapes[0])],  # noqa: ARG005
    )
)
class Dropout(RelayOperatorOp): ...


@gradient(Dropout)
def _dropout_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # The identity at inference (the semantics above); the mask is a constant.
    assert isinstance(dy, list)
    return [dy[0]]


# -- pad, batch_flatten ------------------------------------------------------------------------


def _pad_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    vshape, vdtype = expect_tensor(args[1], "pad_value")
    # Any dtype, converted to the data's as `cast` does (TVM's PadCompute casts it too).
    if vshape:
        raise TypeRelationError(f"pad_value must be a scalar, got {show_shape(vshape)} {vdtype}")
    widths = attrs.pad_width
    if len(widths) != len(shape) or any(len(p) != 2 for p in widths):
        raise TypeRelationError(
            f"pad_width needs one [before, after] pair per axis ({len(shape)}), got {widths}"
        )
    if attrs.pad_mode not in ("constant", "edge", "reflect"):
        raise TypeRelationError(f"pad_mode '{attrs.pad_mode}' is not supported")
    # (as TVM's: a crop is a slice; ONNX's negative pads import as gathers)
    if any(w < 0 for pair in widths for w in pair):
        raise TypeRelationError(f"pad_width {widths} has a negative width")
    return result(
        [d if d == DYNAMIC else d + a + b for d, (a, b) in zip(shape, widths, strict=True)], dtype
    )


def _pad(attrs: Attrs, x: np.ndarray, value: np.ndarray) -> np.ndarray:
    widths = [tuple(p) for p in attrs.pad_width]
    if attrs.pad_mode == "constant":
        return np.pad(x, widths, constant_values=value.astype(x.dtype).item())
    return np.pad(x, widths, mode=attrs.pad_mode)


@register(
    OpDef(
        "nn.pad",
        ("data", "pad_value"),
        (
            AttrSpec("pad_width", AttrKind.INT_LISTS, []),
            AttrSpec("pad_mode", AttrKind.STR, "constant"),
        ),
        _pad_rel,
        OpPattern.INJECTIVE,
        _pad,
        "pad every axis ([before, after] per axis)",
        shape=lambda shapes, attrs: [
            d + a + b for d, (a, b) in zip(shapes[0], attrs.pad_width, strict=True)
        ],
    )
)
class Pad(RelayOperatorOp): ...


def _batch_flatten_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    if not shape:
        raise TypeRelationError("batch_flatten needs at least one axis")
    rest = shape[1:]
    size = DYNAMIC if DYNAMIC in rest else int(np.prod(rest, dtype=np.int64))
    return result((shape[0], size), dtype)


@register(
    OpDef(
        "nn.batch_flatten",
        ("data",),
        (),
        _batch_flatten_rel,
        OpPattern.INJECTIVE,
        lambda attrs, x: x.reshape(x.shape[0], -1).copy(),
        "flatten all axes but the first",
        shape=lambda shapes, attrs: [shapes[0][0], dims_product(shapes[0][1:])],
    )
)
class BatchFlatten(RelayOperatorOp): ...


# -- gradients -----------------------------------------------------------------------------


def _t(dy: DY) -> SSAValue:
    assert isinstance(dy, SSAValue)
    return dy


def _float_op(op: RelayOperatorOp) -> None:
    dtype = dtype_of(op.operands[0])
    if not dtype.startswith(("float", "bfloat")) or op.attrs.get("out_dtype") not in (
        None,
        "",
        dtype,
    ):
        raise NotDifferentiable(f"'{op.OPDEF.name}' is differentiable on floats, in their dtype")


def _nchw(op: RelayOperatorOp, key: str = "layout", want: str = "NCHW") -> None:
    if op.attrs[key] != want:
        raise NotDifferentiable(f"'{op.OPDEF.name}' with {key} {op.attrs[key]} (only {want})")


def _vector_along(g: GradBuilder, v: SSAValue, axis: int, ndim: int) -> SSAValue:
    shape = [1] * ndim
    shape[axis] = shape_of(v)[0]
    return g.reshape(v, shape)


def _all_but(axis: int, ndim: int) -> list[int]:
    return [a for a in range(ndim) if a != axis]


def _conv_weight_grad(
    g: GradBuilder,
    data: SSAValue,
    out_adjoint: SSAValue,
    groups: int,
    kernel: tuple[int, int],
    strides: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> SSAValue:
    """The adjoint of an NCHW conv2d's OIHW weight, from its data and its result's adjoint:
    per group, a convolution of the data (channels as batch) with the adjoint (as kernel),
    strides and dilation exchanged; the result can exceed the kernel by what strides skip."""
    kh, kw = kernel
    ci, co = shape_of(data)[1] // groups, shape_of(out_adjoint)[1] // groups
    parts: list[SSAValue] = []
    for k in range(groups):
        xg = g.crop(data, 1, k * ci, (k + 1) * ci) if groups > 1 else data
        dg = g.crop(out_adjoint, 1, k * co, (k + 1) * co) if groups > 1 else out_adjoint
        corr = g.call(
            Conv2D,
            g.transpose(xg, (1, 0, 2, 3)),
            g.transpose(dg, (1, 0, 2, 3)),
            strides=list(dilation),
            padding=list(padding4(padding)),
            dilation=list(strides),
        )
        if shape_of(corr)[2:] != (kh, kw):
            corr = g.call(StridedSlice, corr, begin=[0, 0], end=[kh, kw], axes=[2, 3])
        parts.append(g.transpose(corr, (1, 0, 2, 3)))
    return parts[0] if groups == 1 else g.call(Concatenate, g.tuple(parts), axis=0)


@gradient(Conv2D)
def _conv2d_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    attrs = op.attrs
    if (attrs.data_layout, attrs.kernel_layout) != ("NCHW", "OIHW"):
        raise NotDifferentiable(f"conv2d with layouts {attrs.data_layout}/{attrs.kernel_layout}")
    x, w = op.operands
    d = _t(dy)
    (_, c, h, wd), (_, _, kh, kw) = shape_of(x), shape_of(w)
    oh, ow = shape_of(d)[2:]
    top, left, bottom, right = padding4(attrs.padding)
    (sh, sw), (dh, dw), groups = attrs.strides, attrs.dilation, attrs.groups
    # data: the transposed convolution of dy with the same weight (IOHW reads OIHW's [O, C/G]);
    # output_padding restores the rows and columns the strides dropped.
    extra_h = h - ((oh - 1) * sh + (kh - 1) * dh + 1 - top - bottom)
    extra_w = wd - ((ow - 1) * sw + (kw - 1) * dw + 1 - left - right)
    dx = g.call(
        Conv2DTranspose,
        d,
        w,
        strides=[sh, sw],
        padding=[top, left, bottom, right],
        dilation=[dh, dw],
        groups=groups,
        output_padding=[extra_h, extra_w],
        channels=c,
        kernel_size=[kh, kw],
    )
    dw_ = _conv_weight_grad(g, x, d, groups, (kh, kw), attrs.strides, attrs.padding, attrs.dilation)
    return [dx, dw_]


@gradient(Dense)
def _dense_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    x, w = op.operands
    d = _t(dy)
    units, k = shape_of(w)
    m = int(np.prod(shape_of(x)[:-1]))
    dx = g.call(Matmul, d, w)
    dw = g.call(Matmul, g.reshape(d, (m, units)), g.reshape(x, (m, k)), transpose_a=True)
    return [dx, dw]


@gradient(Matmul)
def _matmul_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    a, b = op.operands
    d = _t(dy)
    ta, tb = op.attrs.transpose_a, op.attrs.transpose_b
    k = shape_of(a)[-2] if ta else shape_of(a)[-1]
    n = shape_of(d)[-1]
    m = int(np.prod(shape_of(d)[:-1]))
    a2 = a if ta else g.reshape(a, (m, k))
    d2 = g.reshape(d, (m, n))
    # With A = op(a) [m, k] and B = op(b) [k, n]: dA = dY B^T, dB = A^T dY.
    da = g.call(Matmul, d2, b, transpose_b=not tb)
    db = g.call(Matmul, a2, d2, transpose_a=not ta)
    da = g.transpose(da, (1, 0)) if ta else g.reshape(da, shape_of(a))
    db = g.transpose(db, (1, 0)) if tb else db
    return [da, db]


@gradient(BatchMatmul)
def _batch_matmul_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    x, y = op.operands
    d = _t(dy)
    ta, tb = op.attrs.transpose_a, op.attrs.transpose_b
    dx = g.call(BatchMatmul, d, y, transpose_a=False, transpose_b=not tb)
    dy_ = g.call(BatchMatmul, x, d, transpose_a=not ta, transpose_b=False)
    dx = g.transpose(dx, (0, 2, 1)) if ta else dx
    dy_ = g.transpose(dy_, (0, 2, 1)) if tb else dy_
    # A batch of 1 was broadcast: its adjoint is the sum over the batch.
    return [g.sum_to(dx, shape_of(x)), g.sum_to(dy_, shape_of(y))]


@gradient(BiasAdd)
def _bias_add_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    d = _t(dy)
    ndim = len(shape_of(d))
    return [d, g.reduce_sum(d, _all_but(normalize_axis(op.attrs.axis, ndim), ndim))]


@gradient(Prelu)
def _prelu_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    x, alpha = op.operands
    d = _t(dy)
    ndim = len(shape_of(x))
    axis = normalize_axis(op.attrs.axis, ndim)
    positive = g.call(Greater, x, g.scalar(0, x))
    zero = g.zeros_like(d)
    dx = g.select(positive, d, g.mul(d, _vector_along(g, alpha, axis, ndim)))
    dalpha = g.reduce_sum(g.select(positive, zero, g.mul(d, x)), _all_but(axis, ndim))
    return [dx, dalpha]


@gradient(Softmax)
def _softmax_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    y, d = op.result, _t(dy)
    axis = normalize_axis(op.attrs.axis, len(shape_of(y)))
    return [g.mul(y, g.minus(d, g.reduce_sum(g.mul(d, y), [axis], keepdims=True)))]


@gradient(LogSoftmax)
def _log_softmax_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    y, d = op.result, _t(dy)
    axis = normalize_axis(op.attrs.axis, len(shape_of(y)))
    return [g.minus(d, g.mul(g.call(Exp, y), g.reduce_sum(d, [axis], keepdims=True)))]


def _pool_windows(op: RelayOperatorOp):  # noqa: ANN202
    """The pooling window geometry of _pool_nchw: padding (with the ceil_mode extra) and,
    per kernel offset, the slice bounds of the padded input that the windows read."""
    attrs = op.attrs
    _, _, h, w = shape_of(op.operands[0])
    _, _, oh, ow = shape_of(op.result)
    top, left, bottom, right = padding4(attrs.padding)
    (kh, kw), (sh, sw), (dh, dw) = attrs.pool_size, attrs.strides, attrs.dilation
    extra_h = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - (h + top + bottom))
    extra_w = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - (w + left + right))
    pads = (top, bottom + extra_h, left, right + extra_w)
    windows = [
        [
            (0, 0, 1),
            (0, 0, 1),
            (i * dh, i * dh + sh * (oh - 1) + 1, sh),
            (j * dw, j * dw + sw * (ow - 1) + 1, sw),
        ]
        for i in range(kh)
        for j in range(kw)
    ]
    return pads, windows


def _window(g: GradBuilder, xp: SSAValue, bounds: list[tuple[int, int, int]]) -> SSAValue:
    (bh, eh, sh), (bw, ew, sw) = bounds[2], bounds[3]
    return g.call(StridedSlice, xp, begin=[bh, bw], end=[eh, ew], strides=[sh, sw], axes=[2, 3])


def _pool_backward(
    g: GradBuilder, op: RelayOperatorOp, parts: list[tuple[SSAValue, list[tuple[int, int, int]]]]
) -> SSAValue:
    """Sum each window's adjoint back into the padded input, then drop the padding."""
    n, c, h, w = shape_of(op.operands[0])
    (top, bottom, left, right), _ = _pool_windows(op)
    padded = (n, c, h + top + bottom, w + left + right)
    total: SSAValue | None = None
    for part, bounds in parts:
        back = g.slice_back(part, padded, [(b, e, s) for b, e, s in bounds])
        total = back if total is None else g.plus(total, back)
    assert total is not None
    return g.call(StridedSlice, total, begin=[top, left], end=[top + h, left + w], axes=[2, 3])


@gradient(MaxPool2D)
def _max_pool_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    _nchw(op)
    x, y, d = op.operands[0], op.result, _t(dy)
    (top, bottom, left, right), windows = _pool_windows(op)
    xp = g.call(
        Pad, x, g.scalar(-np.inf, x), pad_width=[[0, 0], [0, 0], [top, bottom], [left, right]]
    )
    # The first element of a window equal to its maximum takes the adjoint (_pool_nchw's order).
    taken: SSAValue | None = None
    zero = g.zeros_like(d)
    parts = []
    for bounds in windows:
        hit = g.call(Equal, _window(g, xp, bounds), y)
        if taken is not None:
            hit = g.call(LogicalAnd, hit, g.call(LogicalNot, taken))
        taken = hit if taken is None else g.call(LogicalOr, taken, hit)
        parts.append((g.select(hit, d, zero), bounds))
    return [_pool_backward(g, op, parts)]


@gradient(AvgPool2D)
def _avg_pool_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    _nchw(op)
    _, _, h, w = shape_of(op.operands[0])
    (top, bottom, left, right), windows = _pool_windows(op)
    declared_top, declared_left = padding4(op.attrs.padding)[:2]
    declared_bottom, declared_right = padding4(op.attrs.padding)[2:]
    # The count of each window, as _pool_nchw counts it: a constant of the shapes.
    inside = np.pad(np.ones((h, w)), ((top, bottom), (left, right)))
    declared = np.pad(
        np.ones((h + declared_top + declared_bottom, w + declared_left + declared_right)),
        ((0, bottom - declared_bottom), (0, right - declared_right)),
    )
    counted = declared if op.attrs.count_include_pad else inside
    count = sum(counted[slice(*b[2]), slice(*b[3])] for b in windows)
    d = _t(dy)
    share = g.div(d, g.full_constant(np.maximum(count, 1), d))
    return [_pool_backward(g, op, [(share, bounds) for bounds in windows])]


@gradient(GlobalAvgPool2D)
def _global_avg_pool_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    _nchw(op)
    x = op.operands[0]
    _, _, h, w = shape_of(x)
    return [g.broadcast_to(g.scale(_t(dy), 1.0 / (h * w)), shape_of(x))]


@gradient(GlobalMaxPool2D)
def _global_max_pool_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    _nchw(op)
    x = op.operands[0]
    hit = g.mask(g.call(Equal, x, op.result), x)
    return [g.mul(hit, _t(dy))]


@gradient(AdaptiveAvgPool2D)
def _adaptive_avg_pool_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # A mean over a rectangle is separable: rows and columns of 1/size averaging matrices.
    _float_op(op)
    layout = op.attrs.layout
    _, hx, wx = _layout_axes(layout, "pooling")
    h, w = shape_of(op.operands[0])[hx], shape_of(op.operands[0])[wx]

    def averaging(size: int, out: int) -> np.ndarray:
        m = np.zeros((out, size))
        for i, (start, end) in enumerate(adaptive_windows(size, out)):
            m[i, start:end] = 1.0 / (end - start)
        return m

    oh, ow = _adaptive_sizes(op.attrs, h, w)
    rows, cols = averaging(h, oh), averaging(w, ow)
    return [g.spatial_adjoint(_t(dy), rows, cols, op.attrs.out_layout or layout, layout)]


@gradient(BatchNorm)
def _batch_norm_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    assert isinstance(dy, list)
    d, dmean_out, dvar_out = dy
    x, gamma, _, mean, var = op.operands
    attrs = op.attrs
    ndim = len(shape_of(x))
    axis = normalize_axis(attrs.axis, ndim)
    others = _all_but(axis, ndim)
    rstd = g.call(Rsqrt, g.plus(var, g.scalar(attrs.epsilon, var)))
    inv = g.mul(gamma, rstd) if attrs.scale else rstd
    centered = g.minus(x, _vector_along(g, mean, axis, ndim))
    dx = g.mul(d, _vector_along(g, inv, axis, ndim))
    d_sum = g.reduce_sum(d, others)
    d_centered = g.reduce_sum(g.mul(d, centered), others)
    dgamma = g.mul(d_centered, rstd) if attrs.scale else None
    dbeta = d_sum if attrs.center else None
    dmean = g.plus(g.neg(g.mul(d_sum, inv)), dmean_out)
    # d/dvar (var + eps)^-1/2 = -1/2 rstd^3
    dvar = g.mul(g.scale(d_centered, -0.5), g.mul(inv, g.mul(rstd, rstd)))
    return [dx, dgamma, dbeta, dmean, g.plus(dvar, dvar_out)]


def _standardized_grad(
    g: GradBuilder, x: SSAValue, dxhat: SSAValue, axes: list[int], eps: float
) -> tuple[SSAValue, SSAValue]:
    """For xhat = (x - mean) / sqrt(var + eps) over `axes` (population variance): the adjoint
    of x given xhat's adjoint `dxhat`, and xhat itself.
    dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))."""
    n = 1
    for a in axes:
        n *= shape_of(x)[a]

    def mean(v: SSAValue) -> SSAValue:
        return g.scale(g.reduce_sum(v, axes, keepdims=True), 1.0 / n)

    centered = g.minus(x, mean(x))
    var = mean(g.mul(centered, centered))
    rstd = g.call(Rsqrt, g.plus(var, g.scalar(eps, var)))
    xhat = g.mul(centered, rstd)
    inner = g.minus(g.minus(dxhat, mean(dxhat)), g.mul(xhat, mean(g.mul(dxhat, xhat))))
    return g.mul(rstd, inner), xhat


@gradient(LayerNorm, InstanceNorm, GroupNorm)
def _norm_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    """layer_norm, instance_norm and group_norm standardize x over some axes with statistics
    computed from x itself (so, unlike inference batch_norm, the statistics carry gradient),
    then scale by gamma and shift by beta along `axis`."""
    _float_op(op)
    x, gamma, _ = op.operands
    attrs = op.attrs
    shape = shape_of(x)
    ndim = len(shape)
    axis = normalize_axis(attrs.axis, ndim)
    d = _t(dy)
    dxhat = g.mul(d, _vector_along(g, gamma, axis, ndim)) if attrs.scale else d
    if isinstance(op, LayerNorm):
        dx, xhat = _standardized_grad(g, x, dxhat, [axis], attrs.epsilon)
    elif isinstance(op, InstanceNorm):
        dx, xhat = _standardized_grad(g, x, dxhat, norm_reduced_axes(ndim, axis), attrs.epsilon)
    else:  # group_norm: statistics per (batch, group) over the group's channels and the rest
        groups = attrs.num_groups
        split = [*shape[:axis], groups, shape[axis] // groups, *shape[axis + 1 :]]
        axes = norm_reduced_axes(len(split), axis)
        dx, xhat = _standardized_grad(
            g, g.reshape(x, split), g.reshape(dxhat, split), axes, attrs.epsilon
        )
        dx, xhat = g.reshape(dx, shape), g.reshape(xhat, shape)
    others = _all_but(axis, ndim)
    dgamma = g.reduce_sum(g.mul(d, xhat), others) if attrs.scale else None
    dbeta = g.reduce_sum(d, others) if attrs.center else None
    return [dx, dgamma, dbeta]


@gradient(L2Normalize)
def _l2_normalize_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    # y = x * r with r = max(S, eps)^-1/2, S = sum(x * x) over the axes. Where S > eps,
    # dr/dx = -x r^3, so dx = dy r - x r^3 sum(dy x); where eps bounds S, r is a constant.
    _float_op(op)
    x = op.operands[0]
    d = _t(dy)
    axes = l2_axes(op.attrs, len(shape_of(x)))
    total = g.reduce_sum(g.mul(x, x), axes, keepdims=True)
    eps = g.scalar(op.attrs.eps, total)
    r = g.call(Rsqrt, g.call(Maximum, total, eps))
    live = g.mask(g.call(Greater, total, eps), total)
    r3 = g.mul(live, g.mul(r, g.mul(r, r)))
    dot = g.reduce_sum(g.mul(d, x), axes, keepdims=True)
    return [g.minus(g.mul(d, r), g.mul(x, g.mul(r3, dot)))]


@gradient(Conv2DTranspose)
def _conv2d_transpose_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    """conv2d_transpose is the adjoint of conv2d in its data: <dy, convT(x, w)> equals
    <conv2d(dy, w), x>. So x's adjoint is that conv2d, and w's is conv2d's weight gradient
    with dy as the data and x as the output's adjoint."""
    _float_op(op)
    attrs = op.attrs
    if (attrs.data_layout, attrs.kernel_layout) != ("NCHW", "IOHW"):
        raise NotDifferentiable(
            f"conv2d_transpose with layouts {attrs.data_layout}/{attrs.kernel_layout}"
        )
    top, left, bottom, right = padding4(attrs.padding)
    (sh, sw), (dh, dw), groups = attrs.strides, attrs.dilation, attrs.groups
    if min(top, left, bottom, right) < 0 or any(
        e >= s for e, s in zip(attrs.output_padding, attrs.strides, strict=True)
    ):
        raise NotDifferentiable(
            "conv2d_transpose with negative padding or output_padding >= strides"
        )
    x, w = op.operands
    d = _t(dy)
    _, _, kh, kw = shape_of(w)
    pad = [top, left, bottom, right]
    dx = g.call(Conv2D, d, w, strides=[sh, sw], padding=pad, dilation=[dh, dw], groups=groups)
    # As the weight of that conv2d (dy its data, x its result): OIHW with O = x's channels,
    # which is conv2d_transpose's IOHW.
    return [dx, _conv_weight_grad(g, d, x, groups, (kh, kw), attrs.strides, pad, attrs.dilation)]


@gradient(Pad)
def _pad_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    _float_op(op)
    if op.attrs.pad_mode != "constant":
        raise NotDifferentiable(f"nn.pad with pad_mode '{op.attrs.pad_mode}' (only constant)")
    x, value = op.operands
    d = _t(dy)
    dx = d
    for axis, (before, _) in enumerate(op.attrs.pad_width):
        size = shape_of(x)[axis]
        if shape_of(dx)[axis] != size:
            dx = g.crop(dx, axis, before, before + size)
    dvalue = None
    if dtype_of(value) == dtype_of(x):
        everything = list(range(len(shape_of(d))))
        dvalue = g.minus(g.reduce_sum(d, everything), g.reduce_sum(dx, everything))
    return [dx, dvalue]


@gradient(BatchFlatten)
def _batch_flatten_grad(g: GradBuilder, op: RelayOperatorOp, dy: DY) -> Adjoints:
    return [g.reshape(_t(dy), shape_of(op.operands[0]))]
