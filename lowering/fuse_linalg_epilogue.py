"""fuse-linalg-epilogue: a fused group's elementwise epilogue goes into its anchor's loop nest.

An anchor is a `linalg.generic` with reduction loops whose output map is the
projection onto its parallel loops (conv2d, dense, matmul, batch_matmul,
pooling, reductions): each output element is finished once its reduction
loops are done. Its epilogue is the all-parallel generic of the same fuse-ops
group (after fuse-linalg-elementwise, the whole elementwise chain) that reads
the anchor's result, and nothing else does, at exactly the index it writes.

The pair becomes one all-parallel generic over the epilogue's loops. Its body
computes the anchor's element first, as an `scf.for` nest over the reduction
loops that carries the accumulator as a scalar (`iter_args`) and reads the
anchor's operands with `tensor.extract`; the epilogue's body then finishes
that element while it is still in a register. The intermediate tensor (so its
buffer, and the `linalg.fill` of its init) disappears:

    %acc = linalg.fill ins(%zero) ...            linalg.generic ins(%bias ...) outs(%out ...) {
    %y = linalg.generic {reduction} ins(%x, %w)    %i = linalg.index 0 ...
    %z = linalg.generic ins(%y, %bias)      ->     %y = scf.for %k ... iter_args(%a = %zero) { ... }
                                                   %r = <epilogue>(%y, %bias)
                                                   linalg.yield %r
                                                 }

It runs on tensors, after fuse-linalg-elementwise and before bufferize (which
does not keep the group attribute). It does not fire across groups, without
fuse-ops groups, when the anchor's result has another user, or when the
epilogue reads it at another index (a transpose, a broadcast).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import affine, arith, scf, tensor
from xdsl.dialects.builtin import (
    AffineMapAttr,
    ContainerType,
    IndexType,
    IntegerAttr,
    ModuleOp,
    ShapedType,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import Attribute, Block, SSAValue
from xdsl.ir.affine import AffineConstantExpr, AffineDimExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from relay_opt.dialects.relay.attribute_names import GROUP
from relay_opt.lowering.fuse_linalg_elementwise import fused_generic
from relay_opt.lowering.kernels import kernel_contraction


def _iterators(op: linalg.GenericOp) -> list[str]:
    return [str(it.data) for it in op.iterator_types]  # pyright: ignore


def _output_dims(anchor: linalg.GenericOp) -> dict[int, int] | None:
    """For an anchor, its parallel loops -> the output dimension each one indexes; else None."""
    if len(anchor.outputs) != 1 or len(anchor.results) != 1:
        return None
    iterators = _iterators(anchor)
    if "reduction" not in iterators or any(it not in ("parallel", "reduction") for it in iterators):
        return None
    out_type = anchor.outputs[0].type
    if not isinstance(out_type, ShapedType) or any(s < 0 for s in anchor.get_static_loop_ranges()):
        return None
    shape = out_type.get_shape()
    out_map = anchor.indexing_maps.data[-1].data
    dims: dict[int, int] = {}
    ranges = anchor.get_static_loop_ranges()
    for j, expr in enumerate(out_map.results):
        k = expr.position if isinstance(expr, AffineDimExpr) else None
        # Each parallel loop must span its whole output dimension (every element is written).
        if k is not None and iterators[k] == "parallel" and k not in dims and ranges[k] == shape[j]:
            dims[k] = j
        elif not (isinstance(expr, AffineConstantExpr) and expr.value == 0 and shape[j] == 1):
            return None  # a reduction loop, a repeated loop or a computed index: not a projection
    if len(dims) != iterators.count("parallel"):
        return None
    return dims


def _fusable(anchor: linalg.GenericOp, epilogue: linalg.GenericOp, operand_index: int) -> bool:
    group = anchor.attributes.get(GROUP)
    if group is None or epilogue.attributes.get(GROUP) != group:
        return False
    if _output_dims(anchor) is None or not anchor.results[0].has_one_use():
        return False
    if kernel_contraction(anchor) is not None:
        # lower-contractions calls a kernel for it, which applies the epilogue (bias, scale,
        # residual, relu/clip) at its store; any other epilogue loops over its result.
        return False
    iterators = _iterators(anchor)
    if "parallel" in iterators[iterators.index("reduction") :]:
        # A parallel loop inside the reductions (blocked conv2d's vector lanes) must stay the
        # innermost loop for LLVM to vectorize it; fused, the reductions would go inside it.
        return False
    if any(it != "parallel" for it in _iterators(epilogue)):
        return False
    # The epilogue reads the anchor's element at the very index the anchor writes it.
    n = len(epilogue.iterator_types)
    rank = len(anchor.results[0].type.get_shape())  # pyright: ignore
    if n != rank or epilogue.indexing_maps.data[operand_index].data != AffineMap.identity(n):
        return False
    init = anchor.outputs[0]
    return _fill_value(anchor) is not None or not isinstance(init.owner, tensor.EmptyOp)


def _fill_value(anchor: linalg.GenericOp) -> SSAValue | None:
    """The scalar the anchor's init is filled with, when that fill is there for the anchor alone."""
    init = anchor.outputs[0]
    fill = init.owner
    if not (isinstance(fill, linalg.FillOp) and init.has_one_use()):
        return None
    value = fill.inputs[0]
    if not isinstance(value.type, ShapedType):
        return value
    return None


def _index(b: Builder, value: int) -> SSAValue:
    return b.insert(arith.ConstantOp(IntegerAttr.from_index_int_value(value))).result


def _indices(b: Builder, amap: AffineMap, values: Sequence[SSAValue]) -> list[SSAValue]:
    """The indices `amap` gives at loop indices `values` (an affine.apply per computed one)."""
    indices: list[SSAValue] = []
    for expr in amap.results:
        if isinstance(expr, AffineDimExpr):
            indices.append(values[expr.position])
        elif isinstance(expr, AffineConstantExpr):
            indices.append(_index(b, expr.value))
        else:
            used = expr.used_dims()
            unused = [k not in used for k in range(amap.num_dims)]
            one = AffineMap(amap.num_dims, 0, (expr,)).drop_dims(unused)
            operands = [values[k] for k in range(amap.num_dims) if k in used]
            indices.append(b.insert(affine.ApplyOp(operands, AffineMapAttr(one))).result)
    return indices


def _anchor_element(
    b: Builder, anchor: linalg.GenericOp, loop_index: list[SSAValue | None], init: SSAValue
) -> SSAValue:
    """The anchor's output element at the parallel indices already in `loop_index`: its reduction
    loops as an scf.for nest carrying the accumulator, starting from `init`."""
    ranges = anchor.get_static_loop_ranges()
    reductions = [k for k, it in enumerate(_iterators(anchor)) if it == "reduction"]
    zero, one = _index(b, 0), _index(b, 1)
    bounds = [_index(b, ranges[k]) for k in reductions]

    def loop(level: int, outer: Builder, acc: SSAValue) -> SSAValue:
        body = Block(arg_types=[IndexType(), acc.type])
        for_op = outer.insert(scf.ForOp(zero, bounds[level], one, [acc], body))
        loop_index[reductions[level]] = body.args[0]
        inner = Builder(InsertPoint.at_end(body))
        if level + 1 < len(reductions):
            value = loop(level + 1, inner, body.args[1])
        else:
            value = _anchor_body(inner, anchor, loop_index, body.args[1])
        inner.insert(scf.YieldOp(value))
        return for_op.results[0]

    return loop(0, b, init)


def _anchor_body(
    b: Builder, anchor: linalg.GenericOp, loop_index: list[SSAValue | None], acc: SSAValue
) -> SSAValue:
    """One iteration of the anchor: its operands read at their maps, its body; returns the new
    accumulator."""
    values = [v for v in loop_index if v is not None]
    assert len(values) == len(loop_index)
    args = anchor.body.block.args
    maps = anchor.indexing_maps.data
    mapping: dict[SSAValue, SSAValue] = {args[-1]: acc}
    for k, operand in enumerate(anchor.inputs):
        if args[k].first_use is None:
            continue  # read only for its shape (a pooling window)
        t = operand.type
        if isinstance(t, ShapedType) and isinstance(
            t, ContainerType
        ):  # (builtin shaped types are both)
            indices = _indices(b, maps[k].data, values)
            element = t.get_element_type()
            mapping[args[k]] = b.insert(tensor.ExtractOp(operand, indices, element)).result
        else:
            mapping[args[k]] = operand
    *ops, yield_op = list(anchor.body.block.ops)
    for op in ops:
        if isinstance(op, linalg.IndexOp):
            mapping[op.result] = values[op.dim.value.data]
        else:
            b.insert(op.clone(value_mapper=mapping))
    result = yield_op.operands[0]
    return mapping.get(result, result)


def _fuse(
    anchor: linalg.GenericOp, epilogue: linalg.GenericOp, operand_index: int
) -> linalg.GenericOp:
    e_args = list(epilogue.body.block.args)
    kept = [k for k in range(len(e_args)) if k != operand_index]
    block = Block(arg_types=[e_args[k].type for k in kept])
    mapping: dict[SSAValue, SSAValue] = {
        e_args[k]: a for k, a in zip(kept, block.args, strict=True)
    }
    b = Builder(InsertPoint.at_end(block))
    # The anchor's loops: its parallel ones are the epilogue's (the output's dimensions).
    rank = len(epilogue.iterator_types)
    index = [b.insert(linalg.IndexOp(j)).result for j in range(rank)]
    loop_index: list[SSAValue | None] = [None] * len(anchor.iterator_types)
    for k, j in (_output_dims(anchor) or {}).items():
        loop_index[k] = index[j]
    init = _fill_value(anchor)
    if init is None:
        out = anchor.outputs[0]
        element: Attribute = out.type.get_element_type()  # pyright: ignore
        init = b.insert(tensor.ExtractOp(out, index, element)).result
    mapping[e_args[operand_index]] = _anchor_element(b, anchor, loop_index, init)
    for op in epilogue.body.block.ops:
        b.insert(op.clone(value_mapper=mapping))
    maps = [m for k, m in enumerate(epilogue.indexing_maps.data) if k != operand_index]
    inputs = [v for k, v in enumerate(epilogue.inputs) if k != operand_index]
    # The kernel's location is the anchor's, as a profile names it.
    return fused_generic(epilogue, inputs, block, maps, anchor.location)


class FuseEpilogueIntoAnchor(RewritePattern):
    """An epilogue generic absorbs the anchor it reads (and the anchor's init, now unused)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, epilogue: linalg.GenericOp, rewriter: PatternRewriter) -> None:
        for k, v in enumerate(epilogue.inputs):
            anchor = v.owner
            if not (isinstance(anchor, linalg.GenericOp) and _fusable(anchor, epilogue, k)):
                continue
            # The init's fill (and its tensor.empty) and the tensors read only for their shape
            # (a pooling window) die with the anchor; a fill comes before its tensor.empty.
            init = anchor.outputs[0].owner
            maybe_dead = [init, *(o.owner for o in anchor.inputs)]
            if isinstance(init, linalg.FillOp):
                maybe_dead.append(init.outputs[0].owner)
            rewriter.replace(epilogue, _fuse(anchor, epilogue, k))
            rewriter.erase(anchor)
            for op in dict.fromkeys(maybe_dead):
                if (
                    isinstance(op, (linalg.FillOp, tensor.EmptyOp))
                    and op.parent is not None
                    and all(r.first_use is None for r in op.results)
                ):
                    rewriter.erase(op)
            return


@dataclass(frozen=True)
class FuseLinalgEpiloguePass(ModulePass):
    """Moves a fused group's elementwise epilogue into its anchor's (conv2d, dense, pooling, ...)
    loop nest: each element is finished right after its reduction, the intermediate disappears."""

    name = "fuse-linalg-epilogue"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        applier = GreedyRewritePatternApplier([FuseEpilogueIntoAnchor()], dce_enabled=False)
        PatternRewriteWalker(applier).rewrite_module(op)
