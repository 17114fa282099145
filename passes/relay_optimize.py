"""relay-optimize{level=N}: the default pipeline of each optimization level, in TVM's order.

    0: infer-types
    1: + inline, remove-unused-functions, simplify-inference, dce
    2: + fold-constant, simplify-expr, fold-explicit-padding
    3: + fold-scale-axis, alter-op-layout (conv2d chains in NCHW{c}c, c the host's float32
       lanes unless `layout-block` says; `layout-block=0` turns it off), fold-constant
       (which re-lays constant weights), cse (xDSL's, on Relay's pure ops: attributes
       compared), fuse-ops
(`relay-opt -O N` and `relay-run -O N` run it; the JIT uses level 3 by default.)
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass


def passes_for_level(
    level: int, entry: tuple[str, ...] = ("main",), layout_block: int | None = None
) -> list[ModulePass]:
    """The passes of `level`; `entry` names the functions to keep (the others may be dropped);
    `layout_block` is alter-op-layout's channels per block (None: the host's float32 lanes,
    alter-op-layout's default; 0: no alter-op-layout)."""
    from xdsl.transforms.common_subexpression_elimination import CommonSubexpressionElimination

    from relay_opt.passes.alter_op_layout import AlterOpLayoutPass
    from relay_opt.passes.dce import DeadCodeEliminationPass
    from relay_opt.passes.fold_constant import FoldConstantPass
    from relay_opt.passes.fold_explicit_padding import FoldExplicitPaddingPass
    from relay_opt.passes.fold_scale_axis import FoldScaleAxisPass
    from relay_opt.passes.fuse_ops import FuseOpsPass
    from relay_opt.passes.infer_types import InferTypesPass
    from relay_opt.passes.inline import InlinePass
    from relay_opt.passes.remove_unused_functions import RemoveUnusedFunctionsPass
    from relay_opt.passes.simplify_expr import SimplifyExprPass
    from relay_opt.passes.simplify_inference import SimplifyInferencePass

    pipeline: list[ModulePass] = [InferTypesPass()]
    if level >= 1:
        pipeline += [
            InlinePass(),
            RemoveUnusedFunctionsPass(entry),
            SimplifyInferencePass(),
            DeadCodeEliminationPass(),
        ]
    if level >= 2:
        pipeline += [FoldConstantPass(), SimplifyExprPass(), FoldExplicitPaddingPass()]
    if level >= 3:
        pipeline += [
            FoldScaleAxisPass(),
            *([AlterOpLayoutPass(layout_block)] if layout_block != 0 else []),
            FoldConstantPass(),
            CommonSubexpressionElimination(),
            FuseOpsPass(),
        ]
    return pipeline


@dataclass(frozen=True)
class OptimizePass(ModulePass):
    """Runs the default Relay pipeline of an optimization level (0 to 3), in TVM's order."""

    name = "relay-optimize"

    level: int = 3

    entry: tuple[str, ...] = ("main",)
    """The functions the program is called through: remove-unused-functions keeps them."""

    layout_block: int | None = None
    """alter-op-layout's channels per block at level 3; unset, the host's float32 vector lanes
    (as lower-contractions' conv routines by default, and the JIT); 0 leaves conv2d in NCHW."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not 0 <= self.level <= 3:
            from relay_opt.diagnostics import RelayError

            raise RelayError(f"optimization level {self.level} does not exist (0 to 3)")
        for p in passes_for_level(self.level, self.entry, self.layout_block):
            p.apply(ctx, op)
