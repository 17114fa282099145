"""relay-to-llvm: the whole way from type-checked Relay to the llvm dialect, as one pass."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.transforms.convert_linalg_to_loops import ConvertLinalgToLoopsPass

from relay_opt.lowering.apply_fp_policy import ApplyFpPolicyPass, check_fp_policy
from relay_opt.lowering.bufferize import BufferizePass
from relay_opt.lowering.collapse_linalg_dims import CollapseLinalgDimsPass
from relay_opt.lowering.convert_relay_to_linalg import ConvertRelayToLinalgPass
from relay_opt.lowering.convert_scf_to_cf import ConvertScfToCfPass
from relay_opt.lowering.convert_to_llvm import ConvertToLLVMPass
from relay_opt.lowering.expand_math import ExpandMathPass
from relay_opt.lowering.fuse_linalg_elementwise import FuseLinalgElementwisePass
from relay_opt.lowering.fuse_linalg_epilogue import FuseLinalgEpiloguePass
from relay_opt.lowering.legalize_bf16 import LegalizeBf16Pass
from relay_opt.lowering.lower_contractions import LowerContractionsPass
from relay_opt.lowering.parallelize_loops import ParallelizeLoopsPass
from relay_opt.lowering.tail_calls_to_loops import TailCallsToLoopsPass

# The lowering stages in the order they run: the one list the pass, the JIT and
# relay-run --profile use.
STAGES: tuple[ModulePass, ...] = (
    ConvertRelayToLinalgPass(),
    FuseLinalgElementwisePass(),
    FuseLinalgEpiloguePass(),
    BufferizePass(),
    # Named float32 contractions become kernel calls; the rest of linalg becomes loops.
    LowerContractionsPass(),
    # What lower-contractions left: adjacent loops over contiguous memory as one loop.
    CollapseLinalgDimsPass(),
    # Before the loops: reductions are still linalg reduction iterators and scf.for iter_args.
    ApplyFpPolicyPass(),
    ConvertLinalgToLoopsPass(),
    # While the loops are still scf.for: large parallel nests become thread-pool tasks.
    ParallelizeLoopsPass(),
    ConvertScfToCfPass(),
    TailCallsToLoopsPass(),
    # bfloat16 as i16 in memory, f32 in registers (no compiler-rt calls); before expand-math,
    # which then expands its math as f32.
    LegalizeBf16Pass(),
    # Last before convert-to-llvm: the structural stages see one math op, not its expansion.
    ExpandMathPass(),
    ConvertToLLVMPass(),
)


def lowering_stages(profile: bool = False, fp_policy: str = "fast") -> list[ModulePass]:
    """The passes of relay-to-llvm in order; with `profile`, profile-kernels after bufferize;
    `fp_policy` is apply-fp-policy's (fast or strict)."""
    from relay_opt.lowering.profile_kernels import ProfileKernelsPass

    check_fp_policy(fp_policy)
    stages: list[ModulePass] = []
    for stage in STAGES:
        if isinstance(stage, ApplyFpPolicyPass):
            stage = ApplyFpPolicyPass(fp_policy)
        if isinstance(stage, LowerContractionsPass) and fp_policy == "strict":
            continue  # the kernels block and reorder the sums; strict keeps the written order
        stages.append(stage)
        if profile and isinstance(stage, BufferizePass):
            stages.append(ProfileKernelsPass())
    return stages


@dataclass(frozen=True)
class RelayToLLVMPipeline(ModulePass):
    """Runs the lowering stages (STAGES) in order, from type-checked Relay to the llvm dialect."""

    name = "relay-to-llvm"

    profile: bool = False
    """Bracket each kernel with timer calls (profile-kernels) after bufferize."""

    fp_policy: str = "fast"
    """The floating-point policy (apply-fp-policy): fast (contract, reassoc on reductions) or
    strict (every operation as written)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for stage in lowering_stages(self.profile, self.fp_policy):
            stage.apply(ctx, op)
