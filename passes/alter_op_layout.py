"""alter-op-layout: conv2d chains in TVM's blocked layout NCHW{c}c, c the vector lanes.

    %y = nn.conv2d(%x, %w)                    %xb = layout_transform(%x, "NCHW", "NCHW8c")
    %z = nn.relu(add(%y, %b))          ->     %wb = layout_transform(%w, "OIHW", "OIHW8i8o")
    %v = nn.conv2d(%z, %w2)                   %yb = nn.conv2d(%xb, %wb, data_layout="NCHW8c")
                                              %bb = reshape(%b, [1, C/8, 1, 1, 8])
                                              %zb = nn.relu(add(%yb, %bb))
                                              %vb = nn.conv2d(%zb, ...), then back to NCHW

A conv2d (NCHW/OIHW, groups=1, or depthwise with a blocked input or at least
DEPTHWISE_MIN_WIDTH outputs wide, or a `?` width) computes in NCHW{block}c; with output channels
not a multiple of `block` (groups=1 only; at least one block of them: a conv to fewer channels
keeps its loops) its weight is zero-padded to the next multiple and
its result, transformed back to NCHW and sliced to the real channels, ends the chain. Its input
channels are split in blocks of `block`, or, when they do not
divide (an image's 3 channels), of their largest divisor below it (NCHW3c). Between convs,
elementwise and broadcasting operators (relu, clip, add, multiply, bias_add, ...) stay blocked:
a per-channel operand ((C,1,1), (1,C,1,1), bias_add's (C,)) is reshaped to (1, C/c, 1, 1, c),
a whole NCHW operand is transformed, a scalar is left alone. layout_transform appears only
where a value enters or leaves such a chain. Weights are transformed by layout_transform too;
fold-constant, which runs after this pass at -O3, turns a constant weight's into a new
constant (a resource). A grouped conv (not depthwise) becomes one blocked grouped conv (each
output block reads only its group's input blocks), its input in its blocked twin's blocks
when they divide a group's channels, else in one block per group; when a group's output
channels do not fill whole blocks, each group's weight is zero-padded to the next multiple
(at most GROUP_PADDING times the multiply-adds, else the conv stays) and the padding is
dropped from its NCHW result, which ends the chain. A concatenate of channels (axis 1) with
a blocked operand stays blocked (a concatenate of channel blocks, axis 1 of NCHW{c}c) when
every operand's channels are whole blocks: SqueezeNet's fire modules join their two expand
convs without a transform back to NCHW and again. A `?` batch, height or width is blocked like
a static one: each stays whole in every blocked layout, and the conv2d routines take them as
run-time sizes. Anything else (other `?` dims, other layouts, out_dtype) stays as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.core import TupleOp
from relay_opt.dialects.relay.ir_helpers import shape_of
from relay_opt.dialects.relay.ops.elementwise import Add
from relay_opt.dialects.relay.ops.nn import BiasAdd, Conv2D, Pad
from relay_opt.dialects.relay.ops.transform import (
    Concatenate,
    LayoutTransform,
    Reshape,
    StridedSlice,
)
from relay_opt.dialects.relay.registry import OpPattern, RelayOperatorOp
from relay_opt.dialects.relay.types import DYNAMIC, tensor_dtype
from relay_opt.host import host_float32_lanes

_NEUTRAL_ATTRS = {"dtype", "a_min", "a_max", "alpha"}
"""Attributes of elementwise operators that say nothing about axes (cast, clip, leaky_relu)."""


def _layout_agnostic(op: RelayOperatorOp) -> bool:
    """An operator computed element by element with numpy broadcasting, in any layout."""
    opdef = op.opdef
    return (
        opdef.pattern in (OpPattern.ELEMWISE, OpPattern.BROADCAST)
        and bool(op.operands)
        and all(spec.name in _NEUTRAL_ATTRS for spec in opdef.attrs)
    )


GROUP_PADDING = 2.0
"""A grouped conv whose groups' output channels do not fill whole blocks is blocked with each
group's padded to the next multiple when that at most doubles its multiply-adds (ShuffleNet's
groups of 28, 34, 68 and 136 channels); with more padding it keeps its loops."""


DEPTHWISE_MIN_WIDTH = 32
"""A depthwise conv with narrower outputs whose input is NCHW (not computed blocked: ShuffleNet's,
after a channel shuffle) stays in NCHW: its loops with the layout_transforms are as fast as the
blocked routine, which has a tap's check per column at the borders (ShuffleNet's 3x3 depthwise at
112x28x28: 0.055 ms in NCHW with the transforms, 0.064 in the routine). One whose input is
already blocked (MobileNetV2's, after the 1x1 expand) stays blocked at any width: the routine is
within 1.3x of onnxruntime's Conv there (960x7x7 0.043 ms, 1.17x) and the chain keeps no
transforms. A `?` width (which may be narrow or wide at run time) is blocked: a 3x3 depthwise
of 112 channels from NCHW into a 1x1 conv (blocked) took, one thread, 0.046 ms blocked against
0.055 ms in NCHW at 7x7 and 6.09 against 6.13 ms at 112x112."""


def _blockable_shape(v: SSAValue) -> tuple[int, ...] | None:
    """The shape of tensor `v` when every dim is known but perhaps the batch and, 4-d, the
    height and width (`?`, DYNAMIC here: NCHW{c}c keeps them whole, and the routines take
    them at run time), else None."""
    if not isinstance(v.type, TensorType):
        return None
    shape = shape_of(v)
    free = (0, 2, 3) if len(shape) == 4 else (0,)
    return shape if all(d >= 0 for k, d in enumerate(shape) if k not in free) else None


def _divisor_up_to(n: int, block: int) -> int:
    return max(k for k in range(1, min(n, block) + 1) if n % k == 0)


class _Chain:
    """One block's rewrite: each NCHW value computed blocked maps to its blocked twin."""

    def __init__(self, block_size: int):
        self.c = block_size
        self.blocked: dict[SSAValue, tuple[SSAValue, int]] = {}
        self.transformed: dict[tuple[SSAValue, int], SSAValue] = {}
        self.replaced: list[Operation] = []

    def builder(self, before: Operation) -> RelayBuilder:
        return RelayBuilder(
            lambda new: Rewriter.insert_op(new, InsertPoint.before(before)), before.location
        )

    def to_blocked(self, b: RelayBuilder, v: SSAValue, c: int) -> SSAValue:
        """NCHW value `v` in NCHW{c}c: its blocked twin, or a layout_transform of it."""
        twin = self.blocked.get(v)
        if twin is not None and twin[1] == c:
            return twin[0]
        key = (v, c)
        if key not in self.transformed:
            self.transformed[key] = b.call(
                LayoutTransform, v, src_layout="NCHW", dst_layout=f"NCHW{c}c"
            )
        return self.transformed[key]

    # -- conv2d ---------------------------------------------------------------------------

    def conv2d(self, op: Conv2D) -> None:
        attrs = op.attrs
        x, w = op.operands
        xs, ws, ys = _blockable_shape(x), _blockable_shape(w), _blockable_shape(op.result)
        if (
            (attrs.data_layout, attrs.kernel_layout) != ("NCHW", "OIHW")
            or attrs.out_layout not in ("", "NCHW")
            or attrs.out_dtype not in ("", None, tensor_dtype(x.type))  # pyright: ignore[reportArgumentType]
            or xs is None
            or ws is None
            or ys is None
            or ws[0] < 0
        ):
            return
        in_c, out_c = xs[1], ys[1]
        depthwise = attrs.groups == in_c == out_c and ws[1] == 1
        # A `?` width counts as wide: blocked, it is as fast at 7 columns and faster in a chain.
        narrow = ys[3] != DYNAMIC and ys[3] < DEPTHWISE_MIN_WIDTH and x not in self.blocked
        if depthwise and (out_c % self.c or narrow):
            return  # narrow, from NCHW: its loops cost no more than transforms and the routine
        if out_c < self.c:  # not one whole block: padding would compute mostly zeros
            return
        if attrs.groups != 1 and not depthwise:
            self.grouped(op, xs, ws, ys)
            return
        b = self.builder(op)
        if depthwise:
            ci = self.c
        else:
            twin = self.blocked.get(x)
            ci = twin[1] if twin is not None else _divisor_up_to(in_c, self.c)
        y, blocked = self.blocked_conv(b, self.to_blocked(b, x, ci), ci, w, ys, dict(attrs))
        if blocked:
            self.done(op, y, self.c)
        else:
            self.ended(op, y)

    def blocked_conv(
        self, b: RelayBuilder, xb: SSAValue, ci: int, w: SSAValue, ys: Sequence[int],
        attrs: dict[str, Any],
    ) -> tuple[SSAValue, bool]:  # fmt: skip
        """The conv2d of blocked `xb` (NCHW{ci}c) and OIHW `w` whose NCHW result is `ys`: its
        NCHW{c}c result and True, or, when the output channels are not a multiple of c, its
        NCHW result and False: the weight is zero-padded to the next multiple and the result
        transformed back and sliced to the real channels (SqueezeNet's 1000 at 16 lanes)."""
        out_c = ys[1]
        pad_out = -out_c % self.c
        if pad_out:
            zero = b.scalar(0.0, w)
            w = b.call(Pad, w, zero, pad_width=[[0, pad_out], [0, 0], [0, 0], [0, 0]])
            if attrs.get("channels"):
                attrs.update(channels=out_c + pad_out)
        kernel = f"OIHW1i{self.c}o" if attrs.get("groups", 1) != 1 else f"OIHW{ci}i{self.c}o"
        attrs.update(data_layout=f"NCHW{ci}c", kernel_layout=kernel, out_layout=f"NCHW{self.c}c")
        wb = b.call(LayoutTransform, w, src_layout="OIHW", dst_layout=kernel)
        yb = b.call(Conv2D, xb, wb, **attrs)
        if not pad_out:
            return yb, True
        y = b.call(LayoutTransform, yb, src_layout=f"NCHW{self.c}c", dst_layout="NCHW")
        return b.call(StridedSlice, y, begin=[0], end=[out_c], axes=[1]), False

    def grouped(
        self, op: Conv2D, xs: Sequence[int], ws: Sequence[int],
        ys: Sequence[int],
    ) -> None:  # fmt: skip
        """A grouped (not depthwise) conv2d as one blocked grouped conv on the kernel library's
        routine: the input in its blocked twin's blocks when they divide a group's channels,
        else one block per group, each group's output channels padded to whole blocks (zero
        weight rows).
        Without padding (AlexNet's groups of 32 at 8 or 16 lanes) the chain goes on in
        NCHW{c}c; with it (ShuffleNet's 4 groups of 28, 34, 68 or 136) the NCHW result drops
        each group's padding (a slice per group, concatenated) and ends the chain."""
        x, w = op.operands
        groups = op.attrs.groups
        in_c = xs[1]
        cg, og = in_c // groups, ys[1] // groups
        og_pad = -(-og // self.c) * self.c
        if og_pad > GROUP_PADDING * og:
            return
        b = self.builder(op)
        twin = self.blocked.get(x)
        # The input in its twin's blocks when they divide a group's channels, else one block
        # per group (no transform is saved by smaller ones, and a block's loop is longer).
        ci = twin[1] if twin is not None and cg % twin[1] == 0 else cg
        attrs = dict(op.attrs)
        if og_pad != og:
            # Each group's weight rows padded: [G, og, ...] -> [G, og_pad, ...].
            per_group = b.call(Reshape, w, newshape=[groups, og, *ws[1:]])
            widths = [[0, 0], [0, og_pad - og], [0, 0], [0, 0], [0, 0]]
            padded = b.call(Pad, per_group, b.scalar(0.0, w), pad_width=widths)
            w = b.call(Reshape, padded, newshape=[groups * og_pad, *ws[1:]])
            if attrs.get("channels"):
                attrs.update(channels=groups * og_pad)
        kernel = f"OIHW{ci}i{self.c}o"
        attrs.update(data_layout=f"NCHW{ci}c", kernel_layout=kernel, out_layout=f"NCHW{self.c}c")
        xb = self.to_blocked(b, x, ci)
        wb = b.call(LayoutTransform, w, src_layout="OIHW", dst_layout=kernel)
        yb = b.call(Conv2D, xb, wb, **attrs)
        if og_pad == og:
            self.done(op, yb, self.c)
            return
        # Each group's real channels, concatenated: one copy of the NCHW result.
        y = b.call(LayoutTransform, yb, src_layout=f"NCHW{self.c}c", dst_layout="NCHW")
        parts = [
            b.call(StridedSlice, y, begin=[k * og_pad], end=[k * og_pad + og], axes=[1])
            for k in range(groups)
        ]
        self.ended(op, b.call(Concatenate, b.tuple(parts), axis=1))

    def ended(self, op: Operation, y: SSAValue) -> None:
        """`op`'s uses read NCHW `y` (computed blocked inside, but the chain ends here)."""
        op.results[0].replace_all_uses_with(y)
        self.replaced.append(op)

    # -- elementwise and broadcasting operators between convs ----------------------------------

    def elementwise(self, op: RelayOperatorOp) -> None:
        twins = [self.blocked[v] for v in op.operands if v in self.blocked]
        if not twins or len({c for _, c in twins}) != 1 or len(op.results) != 1:
            return
        c = twins[0][1]
        nchw = _blockable_shape(op.result)
        if nchw is None or len(nchw) != 4 or any(_blockable_shape(v) is None for v in op.operands):
            return
        b = self.builder(op)
        operands: list[SSAValue] = []
        for v in op.operands:
            blocked = self.operand(b, v, nchw, c)
            if blocked is None:
                return
            operands.append(blocked)
        self.done(op, b.call(type(op), *operands, **op.attrs), c)

    def operand(
        self, b: RelayBuilder, v: SSAValue, nchw: tuple[int, ...], c: int
    ) -> SSAValue | None:
        """Operand `v` of an elementwise operator whose NCHW result is `nchw`, made to
        broadcast against NCHW{c}c the way it broadcast against NCHW; None if it cannot."""
        if v in self.blocked:
            return self.blocked[v][0] if self.blocked[v][1] == c else None
        shape = _blockable_shape(v)
        assert shape is not None
        if tuple(shape) == nchw:
            return self.to_blocked(b, v, c)
        if len(shape) > 4:
            return None
        n, ch, h, w = (1,) * (4 - len(shape)) + tuple(shape)
        if h != 1 or w != 1 or n not in (1, nchw[0]):
            return None
        if ch == 1:
            return v  # the same value for every channel: broadcasts against any layout
        if ch != nchw[1]:
            return None
        return b.call(Reshape, v, newshape=[n, ch // c, 1, 1, c])

    def concatenate(self, op: Concatenate) -> None:
        """A concatenate of NCHW channels with a blocked operand: one of NCHW{c}c channel
        blocks, when every operand's channels are whole blocks of c."""
        fields = op.operands[0].owner
        nchw = _blockable_shape(op.result)
        if (
            not isinstance(fields, TupleOp)
            or op.attrs.axis not in (1, -3)
            or nchw is None
            or len(nchw) != 4
        ):
            return
        twins = {self.blocked[v][1] for v in fields.operands if v in self.blocked}
        if len(twins) != 1:
            return
        c = twins.pop()
        for v in fields.operands:
            shape = _blockable_shape(v)
            if v not in self.blocked and (shape is None or len(shape) != 4 or shape[1] % c):
                return
        b = self.builder(op)
        parts = [self.to_blocked(b, v, c) for v in fields.operands]
        if fields.result.has_one_use():
            self.replaced.append(fields)  # goes after the concatenate (erased in reverse)
        self.done(op, b.call(Concatenate, b.tuple(parts), axis=1), c)

    def bias_add(self, op: BiasAdd) -> None:
        x, bias = op.operands
        twin = self.blocked.get(x)
        shape = _blockable_shape(x)
        if twin is None or shape is None or len(shape) != 4 or op.attrs.axis not in (1, -3):
            return
        c = twin[1]
        b = self.builder(op)
        per_channel = b.call(Reshape, bias, newshape=[1, shape[1] // c, 1, 1, c])
        self.done(op, b.call(Add, twin[0], per_channel), c)

    def done(self, op: Operation, blocked: SSAValue, c: int) -> None:
        self.blocked[op.results[0]] = (blocked, c)
        self.replaced.append(op)

    # -- the edges ---------------------------------------------------------------------------

    def finish(self) -> None:
        """Users left outside the chain read a layout_transform back to NCHW; the NCHW ops
        computed blocked go."""
        backs: list[Operation] = []
        for v, (twin, c) in self.blocked.items():
            if not v.uses:
                continue
            owner = twin.owner
            assert isinstance(owner, Operation)
            back = LayoutTransform.OPDEF.build(
                [twin], {"src_layout": f"NCHW{c}c", "dst_layout": "NCHW"}, None
            )
            back.location = owner.location
            Rewriter.insert_op(back, InsertPoint.after(owner))
            v.replace_all_uses_with(back.results[0])
            backs.append(back)
        for op in reversed(self.replaced):
            Rewriter.erase_op(op)
        for back in backs:
            if not back.results[0].uses:
                Rewriter.erase_op(back)


def _alter_block(block: Block, c: int) -> None:
    chain = _Chain(c)
    for op in list(block.ops):
        if isinstance(op, Conv2D):
            chain.conv2d(op)
        elif isinstance(op, BiasAdd):
            chain.bias_add(op)
        elif isinstance(op, Concatenate):
            chain.concatenate(op)
        elif isinstance(op, RelayOperatorOp) and _layout_agnostic(op):
            chain.elementwise(op)
    if chain.replaced:
        chain.finish()


@dataclass(frozen=True)
class AlterOpLayoutPass(ModulePass):
    """Puts conv2d chains in the blocked layout NCHW{block}c, transforming only at their edges."""

    name = "alter-op-layout"

    block: int | None = None
    """Channels per block: the vector lanes of the target (8 float32 in 256 bits); unset, the
    host's (relay_opt.host, as the conv routines lower-contractions calls by default)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        block = host_float32_lanes() if self.block is None else self.block
        if block < 1:
            raise RelayError(f"alter-op-layout: block must be positive, got {block}")
        blocks = [blk for o in op.walk() for r in o.regions for blk in r.blocks]
        for blk in blocks:
            if any(isinstance(o, Conv2D) for o in blk.ops):
                _alter_block(blk, block)
