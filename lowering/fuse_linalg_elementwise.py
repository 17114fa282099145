"""fuse-linalg-elementwise: a fused group's elementwise producers go into their consumer's loop.

A `linalg.generic` whose loops are all parallel, whose single result is read
only by the next generic of the same fuse-ops group, through an indexing map
that is the identity on the consumer's loops, is inlined into that consumer:
its body computes the value the consumer would have loaded, and the
intermediate tensor (so its buffer) disappears. A chain of elementwise
operators becomes one loop nest; `exp` then `sum` too.

The groups are those of fuse-ops (`relay_opt.group` on each generic); without
fuse-ops nothing is merged, so unfused code stays one loop nest per operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import AffineMapAttr, ContainerType, LocationAttr, ModuleOp
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Attribute, Block, Region, SSAValue
from xdsl.ir.affine import AffineMap
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from relay_opt.dialects.relay.attribute_names import GROUP


def _mergeable(producer: linalg.GenericOp, consumer: linalg.GenericOp, operand_index: int) -> bool:
    group = producer.attributes.get(GROUP)
    if group is None or consumer.attributes.get(GROUP) != group:
        return False
    if len(producer.outputs) != 1 or not producer.results[0].has_one_use():
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
    return producer.body.block.args[-1].first_use is None


def _element_type(v: SSAValue) -> Attribute:
    t = v.type
    assert isinstance(t, ContainerType), t  # a linalg operand is a tensor or a memref
    return t.get_element_type()


def _merge(
    producer: linalg.GenericOp, consumer: linalg.GenericOp, operand_index: int
) -> linalg.GenericOp:
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
    block = Block(arg_types=[_element_type(v) for v in [*inputs, *consumer.outputs]])
    c_args, p_args = list(consumer.body.block.args), list(producer.body.block.args)
    kept = len(c_inputs) - 1
    mapping: dict[SSAValue, SSAValue] = {}
    for k, arg in enumerate(c_args[:n_c_in]):
        if k != operand_index:
            mapping[arg] = block.args[k if k < operand_index else k - 1]
    for k, arg in enumerate(p_args[:-1]):
        mapping[arg] = block.args[kept + k]
    for k, arg in enumerate(c_args[n_c_in:]):
        mapping[arg] = block.args[kept + len(p_inputs) + k]
    # The producer's body, whose yield becomes the value the consumer reads.
    *p_ops, p_yield = list(producer.body.block.ops)
    for op in p_ops:
        block.add_op(op.clone(value_mapper=mapping))
    mapping[c_args[operand_index]] = mapping.get(p_yield.operands[0], p_yield.operands[0])
    for op in consumer.body.block.ops:
        block.add_op(op.clone(value_mapper=mapping))
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


class InlineElementwiseProducer(RewritePattern):
    """A generic takes in the body of an elementwise producer of its group (until none is left)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, consumer: linalg.GenericOp, rewriter: PatternRewriter) -> None:
        for k, v in enumerate(consumer.inputs):
            producer = v.owner
            if isinstance(producer, linalg.GenericOp) and _mergeable(producer, consumer, k):
                rewriter.replace(consumer, _merge(producer, consumer, k))
                rewriter.erase(producer)
                return


@dataclass(frozen=True)
class FuseLinalgElementwisePass(ModulePass):
    """Inlines a fused group's elementwise linalg.generic producers into their consumers."""

    name = "fuse-linalg-elementwise"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        applier = GreedyRewritePatternApplier([InlineElementwiseProducer()], dce_enabled=False)
        PatternRewriteWalker(applier).rewrite_module(op)
