"""fuse-linalg-elementwise: a fused group's elementwise producers go into their consumer's loop.

A `linalg.generic` whose loops are all parallel, whose single result is read
only by the next generic of the same fuse-ops group, through an indexing map
that is the identity on the consumer's loops, is inlined into that consumer:
its body computes the value the consumer would have loaded, and the
intermediate tensor (so its buffer) disappears. A chain of elementwise
operators becomes one loop nest; `exp` then `sum` too.

A copy (a generic that yields one of its inputs: reshape, transpose, layout_transform,
slices) is also absorbed by an all-parallel consumer that reads it through any map: the
consumer reads the copy's source through the composition of both maps. A channel shuffle
(layout_transform, reshape, transpose, reshape, layout_transform) becomes one copy instead
of five, and its reshapes' H and W stay the inner, contiguous dimensions.

A scalar constant input (`arith.constant dense<v> : tensor<f32>`, read through `() -> ()`:
Relay's `maximum(%x, 0f)`, ONNX's Clip bounds) of a group's generic becomes `arith.constant v`
in its body, so the body says what it computes: lower-contractions takes a max/min with a
constant as a clamp at a conv's store (MobileNetV2's ReLU6), and LLVM sees an immediate.

The groups are those of fuse-ops (`relay_opt.group` on each generic); without
fuse-ops nothing is merged, so unfused code stays one loop nest per operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, tensor
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    AffineMapAttr,
    AnyFloat,
    ContainerType,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    LocationAttr,
    ModuleOp,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Attribute, Block, Region, SSAValue
from xdsl.ir.affine import AffineDimExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from relay_opt.dialects.relay.attribute_names import GROUP


def _sole_reader_in_group(producer: linalg.GenericOp, consumer: linalg.GenericOp) -> bool:
    """Whether `consumer` is in `producer`'s fused group and the only reader of its one result."""
    group = producer.attributes.get(GROUP)
    if group is None or consumer.attributes.get(GROUP) != group:
        return False
    return len(producer.outputs) == 1 and producer.results[0].has_one_use()


def _mergeable(producer: linalg.GenericOp, consumer: linalg.GenericOp, operand_index: int) -> bool:
    if not _sole_reader_in_group(producer, consumer):
        return False
    if any(str(it.data) != "parallel" for it in producer.iterator_types):  # pyright: ignore
        return False
    maps = producer.indexing_maps.data
    out_map = maps[-1].data
    consumer_map = consumer.indexing_maps.data[operand_index].data
    n = len(producer.iterator_types)
    if out_map != AffineMap.identity(n) or consumer_map != AffineMap.identity(
        consumer_map.num_dims
    ):
        return False
    if consumer_map.num_dims != n:
        return False
    # The producer must write every element of its result (a pad copies x into part of a
    # filled tensor: the rest is its init's) and must not read its init (an accumulation).
    if list(producer.get_static_loop_ranges()) != list(producer.results[0].type.get_shape()):  # pyright: ignore
        return False
    if producer.body.block.args[-1].first_use is not None:
        return False
    # The fused generic infers each loop's range from an operand indexed by that loop alone:
    # the input merged away may have been the only one (a `full` of a scalar into a keepdims
    # reduction: `(d0) -> ()` and `(d0) -> (0)` are left, a map that cannot be inverted).
    c_maps = consumer.indexing_maps.data
    left = [m.data for k, m in enumerate(c_maps) if k != operand_index] + [
        m.data for m in maps[:-1]
    ]
    bare = {e.position for m in left for e in m.results if isinstance(e, AffineDimExpr)}
    return bare >= set(range(n))


def _copy_source(
    producer: linalg.GenericOp, consumer: linalg.GenericOp, operand_index: int
) -> tuple[SSAValue, AffineMap] | None:
    """The source and map through which `consumer` can read `producer`'s result directly,
    if `producer` is a copy of its group that `consumer`, all parallel, reads alone."""
    if not _sole_reader_in_group(producer, consumer):
        return None
    if any(str(it.data) != "parallel" for it in consumer.iterator_types):  # pyright: ignore
        return None  # a reduction or a contraction keeps its own operand layout
    maps = [m.data for m in producer.indexing_maps.data]
    n = len(producer.iterator_types)
    if maps[-1] != AffineMap.identity(n):
        return None
    yielded = producer.body.block.last_op
    assert yielded is not None
    source = yielded.operands[0] if len(yielded.operands) == 1 else None
    args = producer.body.block.args
    if source not in args[: len(producer.inputs)] or len(list(producer.body.block.ops)) != 1:
        return None
    if list(producer.get_static_loop_ranges()) != list(producer.results[0].type.get_shape()):  # pyright: ignore
        return None  # it writes part of its init (a pad): the rest is not a read of the source
    k = args.index(source)  # pyright: ignore[reportArgumentType]
    x = producer.inputs[k]
    composed = maps[k].compose(consumer.indexing_maps.data[operand_index].data)
    # An axis of x read by a bare loop index gives that loop its range: it must be the
    # consumer's (a slice of the copy may read less of x than the copy did).
    ranges = consumer.get_static_loop_ranges()
    shape = _shape(x)
    for e, size in zip(composed.results, shape, strict=True):
        if isinstance(e, AffineDimExpr) and ranges[e.position] != size:
            return None
    return x, composed


def _shape(v: SSAValue) -> tuple[int, ...]:
    t = v.type
    assert isinstance(t, ContainerType), t
    return tuple(t.get_shape())  # pyright: ignore[reportAttributeAccessIssue]


def _read_source(
    consumer: linalg.GenericOp, operand_index: int, x: SSAValue, composed: AffineMap
) -> linalg.GenericOp:
    """`consumer` reading `x` through `composed` in place of its input `operand_index`."""
    inputs = list(consumer.inputs)
    inputs[operand_index] = x
    maps = list(consumer.indexing_maps.data)
    maps[operand_index] = AffineMapAttr(composed)
    block = consumer.body.detach_block(0)
    return fused_generic(consumer, inputs, block, maps, consumer.location)


def _element_type(v: SSAValue) -> Attribute:
    t = v.type
    assert isinstance(t, ContainerType), t  # a linalg operand is a tensor or a memref
    return t.get_element_type()


def _merge(
    producer: linalg.GenericOp, consumer: linalg.GenericOp, operand_index: int
) -> linalg.GenericOp:
    """The generic computing `consumer` with `producer`'s body inlined for its input
    `operand_index`. Both bodies are moved, not cloned, into the producer's block: along a
    chain the producer holds every op merged so far, so a merge costs the consumer's body
    and the arguments, and a chain of n operators is merged in O(n) rather than O(n^2)."""
    p_inputs, c_inputs = list(producer.inputs), list(consumer.inputs)
    inputs = c_inputs[:operand_index] + c_inputs[operand_index + 1 :] + p_inputs
    c_maps = list(consumer.indexing_maps.data)
    n_c_in = len(c_inputs)
    maps = (
        c_maps[:operand_index]
        + c_maps[operand_index + 1 : n_c_in]
        + list(producer.indexing_maps.data[:-1])
        + c_maps[n_c_in:]
    )
    block = producer.body.detach_block(0)
    c_block = consumer.body.block
    c_args = list(c_block.args)
    # Arguments: the consumer's other inputs, the producer's inputs, the consumer's outputs.
    others = [v for k, v in enumerate(c_inputs) if k != operand_index]
    for k, (v, arg) in enumerate(
        zip(others, [a for k, a in enumerate(c_args[:n_c_in]) if k != operand_index], strict=True)
    ):
        arg.replace_all_uses_with(block.insert_arg(_element_type(v), k))
    block.erase_arg(block.args[-1])  # the producer's output: never read (_mergeable)
    for v, arg in zip(consumer.outputs, c_args[n_c_in:], strict=True):
        arg.replace_all_uses_with(block.insert_arg(_element_type(v), len(block.args)))
    # The producer's yielded value is what the consumer read from its input.
    p_yield = block.last_op
    assert p_yield is not None
    c_args[operand_index].replace_all_uses_with(p_yield.operands[0])
    block.erase_op(p_yield)
    for op in list(c_block.ops):
        c_block.detach_op(op)
        block.add_op(op)
    return fused_generic(
        consumer, inputs, block, [AffineMapAttr(m.data) for m in maps], consumer.location
    )


def fused_generic(
    like: linalg.GenericOp,
    inputs: Sequence[SSAValue],
    block: Block,
    maps: Sequence[AffineMapAttr],
    location: LocationAttr,
) -> linalg.GenericOp:
    """A generic that replaces `like` in its fused group: its outputs, loops and result types,
    with new inputs (`maps` for them and the outputs) and body."""
    fused = linalg.GenericOp(
        inputs,
        list(like.outputs),
        Region(block),
        maps,
        list(like.iterator_types),
        [r.type for r in like.results],
    )
    fused.attributes[GROUP] = like.attributes[GROUP]
    fused.location = location
    return fused


def _sizes_from_init(producer: linalg.GenericOp) -> None:
    """`tensor.dim`s of the producer's result (a `?` size the next op's tensor.empty is given)
    read the size its init's tensor.empty (perhaps zero-filled) was given instead: the same.
    Then the consumer can be the result's only reader, and a chain with `?` dims merges too."""
    if len(producer.outputs) != 1:
        return
    init = producer.outputs[0]
    while isinstance(init.owner, linalg.FillOp):
        init = init.owner.outputs[0]
    empty = init.owner
    if not isinstance(empty, tensor.EmptyOp):
        return
    shape = _shape(init)
    for use in list(producer.results[0].uses):
        dim = use.operation
        axis = dim.operands[1].owner if isinstance(dim, tensor.DimOp) else None
        if not isinstance(axis, arith.ConstantOp) or not isinstance(axis.value, IntegerAttr):
            continue
        k = axis.value.value.data
        if 0 <= k < len(shape) and shape[k] == DYNAMIC_INDEX:
            dim.results[0].replace_all_uses_with(
                empty.dynamic_sizes[sum(d == DYNAMIC_INDEX for d in shape[:k])]
            )
            Rewriter.erase_op(dim)


def _absorb_producers(consumer: linalg.GenericOp) -> None:
    """Merges into `consumer` every elementwise producer of its group, until none is left."""
    merged = True
    while merged:
        merged = False
        for k, v in enumerate(consumer.inputs):
            producer = v.owner
            if not isinstance(producer, linalg.GenericOp):
                continue
            _sizes_from_init(producer)
            if _mergeable(producer, consumer, k):
                fused = _merge(producer, consumer, k)
                Rewriter.replace_op(consumer, fused)
                Rewriter.erase_op(producer)
            elif (copy := _copy_source(producer, consumer, k)) is not None:
                fused = _read_source(consumer, k, *copy)
                Rewriter.replace_op(consumer, fused)
                _erase_copy(producer)
            else:
                continue
            consumer, merged = fused, True
            break


def _erase_copy(producer: linalg.GenericOp) -> None:
    """Erases a copy no longer read, and its tensor.empty (its init, and the unread input that
    gives its loops their ranges)."""
    operands = [v.owner for v in producer.operands]
    Rewriter.erase_op(producer)
    for owner in operands:
        if isinstance(owner, tensor.EmptyOp) and not owner.results[0].uses:
            Rewriter.erase_op(owner)


def _scalar_constant(v: SSAValue) -> arith.ConstantOp | None:
    """`arith.constant v` for `v` an `arith.constant dense<v> : tensor<T>` of rank 0."""
    owner = v.owner
    if not isinstance(owner, arith.ConstantOp):
        return None
    attr = owner.value
    if not isinstance(attr, DenseIntOrFPElementsAttr) or attr.get_shape() != ():
        return None
    value = attr.get_values()[0]
    element = attr.get_element_type()
    if isinstance(value, tuple):  # complex
        return None
    if isinstance(element, AnyFloat):
        return arith.ConstantOp(FloatAttr(float(value), element))
    if isinstance(element, IntegerType | IndexType):
        return arith.ConstantOp(IntegerAttr(int(value), element))
    return None


def _inline_scalar_constants(generic: linalg.GenericOp) -> None:
    """The group's generic with its rank-0 constant inputs as constants in its body (their
    `() -> ()` maps give no loop its range, so the loops stay as they are)."""
    if GROUP not in generic.attributes:
        return
    n_in = len(generic.inputs)
    found = {k: c for k, v in enumerate(generic.inputs) if (c := _scalar_constant(v)) is not None}
    if not found:
        return
    block = generic.body.detach_block(0)
    for k in sorted(found, reverse=True):
        constant = found[k]
        block.insert_op_before(constant, block.first_op)  # pyright: ignore[reportArgumentType]
        block.args[k].replace_all_uses_with(constant.result)
        block.erase_arg(block.args[k])
    sources = [generic.inputs[k].owner for k in found]
    keep = [k for k in range(n_in) if k not in found]
    maps = list(generic.indexing_maps.data)
    inputs = [generic.inputs[k] for k in keep]
    maps = [maps[k] for k in keep] + maps[n_in:]
    Rewriter.replace_op(generic, fused_generic(generic, inputs, block, maps, generic.location))
    for owner in sources:  # a constant read by nothing else goes
        if isinstance(owner, arith.ConstantOp) and owner.parent and not owner.result.uses:
            Rewriter.erase_op(owner)


@dataclass(frozen=True)
class FuseLinalgElementwisePass(ModulePass):
    """Inlines a fused group's elementwise linalg.generic producers into their consumers."""

    name = "fuse-linalg-elementwise"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # In program order, so a producer has taken in its own producers before its consumer
        # takes it in: one pass, each generic visited once (a greedy rewrite walker re-walks).
        for generic in [o for o in op.walk() if isinstance(o, linalg.GenericOp)]:
            if generic.parent is not None:  # not merged into an earlier consumer
                _absorb_producers(generic)
        for generic in [o for o in op.walk() if isinstance(o, linalg.GenericOp)]:
            _inline_scalar_constants(generic)
