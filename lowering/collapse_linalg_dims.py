"""collapse-linalg-dims: adjacent loops of a kernel that walk memory contiguously become one.

LLVM vectorizes a nest's innermost loop. A kernel over `1x272x14x14` runs an inner loop of
14 iterations, too short to fill a 16-lane vector, so it runs scalar: a ReLU of that shape
took 52 us where the same 53,312 elements as one loop took 7 us. Every CNN's elementwise
kernels, channel shuffles and layout transforms have such small spatial dims.

Loops `d_i` and `d_i+1` of a bufferized `linalg.generic` merge into one when
- both are parallel, or both are reductions;
- every operand's indexing map has either both, as consecutive results `d_i, d_i+1`, or
  neither (a broadcast operand); neither appears inside another result (`d_i * 2 + d_j`);
- every operand that has them is a memref with static sizes and the identity layout, so the
  two dims are one run of memory: `memref.collapse_shape` views it with them as one dim (the
  same pointer, no copy);
- the body does not read a loop index (`linalg.index`).
A run of such loops merges into one. Transposes keep their unmoved inner dims together (a
channel shuffle's `H, W` become one loop of H * W).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import memref
from xdsl.dialects.builtin import (
    AffineMapAttr,
    ArrayAttr,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    NoneAttr,
    i64,
)
from xdsl.dialects.linalg import ops as linalg
from xdsl.ir import SSAValue
from xdsl.ir.affine import AffineDimExpr, AffineExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter


def _pure_positions(m: AffineMap) -> dict[int, int]:
    """Loop dim -> the result position where it is the whole result."""
    return {e.position: k for k, e in enumerate(m.results) if isinstance(e, AffineDimExpr)}


def _dims_inside_expressions(m: AffineMap) -> set[int]:
    """The loop dims read by a result that is more than one dim (a window's `d2 * 2 + d5`)."""
    dims: set[int] = set()
    for e in m.results:
        if not isinstance(e, AffineDimExpr):
            dims |= e.used_dims()
    return dims


def _contiguous(v: SSAValue) -> bool:
    t = v.type
    return (
        isinstance(t, MemRefType)
        and isinstance(t.layout, NoneAttr)
        and all(d >= 0 for d in t.get_shape())
    )


def _mergeable(op: linalg.GenericOp, maps: list[AffineMap], a: int, b: int) -> bool:
    """Whether loop `b` (= a + 1) can join loop `a`'s run in every operand."""
    kinds = [t.data for t in op.iterator_types]  # pyright: ignore[reportAttributeAccessIssue]
    if kinds[a] != kinds[b]:
        return False
    for m, v in zip(maps, op.operands, strict=True):
        if {a, b} & _dims_inside_expressions(m):
            return False
        pure = _pure_positions(m)
        has_a, has_b = a in pure, b in pure
        if not has_a and not has_b:
            continue
        if not (has_a and has_b and pure[b] == pure[a] + 1 and _contiguous(v)):
            return False
    return True


def _runs(op: linalg.GenericOp, maps: list[AffineMap]) -> list[list[int]]:
    """The op's loops, in order, grouped into runs that merge."""
    n = maps[0].num_dims
    runs: list[list[int]] = [[0]] if n else []
    for d in range(1, n):
        if _mergeable(op, maps, d - 1, d):
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def _collapse(op: linalg.GenericOp) -> None:
    maps = [m.data for m in op.indexing_maps]
    if any(isinstance(o, linalg.IndexOp) for o in op.body.walk()) or op.results:
        return
    runs = _runs(op, maps)
    if all(len(r) == 1 for r in runs):
        return
    new_dim = {d: k for k, run in enumerate(runs) for d in run}
    dims: list[AffineExpr] = [AffineDimExpr(new_dim[d]) for d in range(maps[0].num_dims)]
    rewriter = Rewriter()
    views: dict[tuple[SSAValue, str], SSAValue] = {}  # an operand read and written: one view
    operands: list[SSAValue] = []
    new_maps: list[AffineMapAttr] = []
    for m, v in zip(maps, op.operands, strict=True):
        # Result positions grouped as the loops are: a run's dims are consecutive here.
        groups: list[list[int]] = []
        results: list[AffineExpr] = []
        for k, e in enumerate(m.results):
            if isinstance(e, AffineDimExpr) and runs[new_dim[e.position]][0] != e.position:
                groups[-1].append(k)  # a later dim of the run the previous result began
                continue
            groups.append([k])
            results.append(e.replace_dims_and_symbols(dims, []))
        new_maps.append(AffineMapAttr(AffineMap(len(runs), m.num_symbols, tuple(results))))
        if len(groups) == len(m.results):
            operands.append(v)
            continue
        if (v, str(groups)) in views:
            operands.append(views[v, str(groups)])
            continue
        assert isinstance(v.type, MemRefType)
        shape = v.type.get_shape()
        sizes = [1] * len(groups)
        for g, positions in enumerate(groups):
            for k in positions:
                sizes[g] *= shape[k]
        view = memref.CollapseShapeOp(
            operands=[v],
            result_types=[MemRefType(v.type.element_type, sizes)],
            properties={
                "reassociation": ArrayAttr(
                    [ArrayAttr([IntegerAttr(k, i64) for k in g]) for g in groups]
                )
            },
        )
        rewriter.insert_op(view, InsertPoint.before(op))
        views[v, str(groups)] = view.result
        operands.append(view.result)
    n_in = len(op.inputs)
    collapsed = linalg.GenericOp(
        operands[:n_in],
        operands[n_in:],
        op.body.clone(),
        new_maps,
        [op.iterator_types.data[run[0]] for run in runs],
        [],
        op.doc,
        op.library_call,
    )
    collapsed.attributes.update(op.attributes)
    collapsed.location = op.location
    rewriter.replace_op(op, collapsed)


@dataclass(frozen=True)
class CollapseLinalgDimsPass(ModulePass):
    """Merges a bufferized kernel's adjacent loops over contiguous memory into one loop."""

    name = "collapse-linalg-dims"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for generic in [o for o in op.walk() if isinstance(o, linalg.GenericOp)]:
            _collapse(generic)
