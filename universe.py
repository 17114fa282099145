"""relay-opt's dialects and passes, published to xDSL's `xdsl.universe` plugin group.

Every pass is listed here once, by name, with where it lives inside `relay_opt`
(`module:Class`), and is imported only when it is used.
"""

from collections.abc import Callable
from importlib import import_module

from xdsl.passes import ModulePass
from xdsl.universe import Universe

PASSES: dict[str, str] = {
    # Relay -> Relay (passes/)
    "infer-types": "passes.infer_types:InferTypesPass",
    "simplify-inference": "passes.simplify_inference:SimplifyInferencePass",
    "fold-constant": "passes.fold_constant:FoldConstantPass",
    "remove-unused-functions": "passes.remove_unused_functions:RemoveUnusedFunctionsPass",
    "fuse-ops": "passes.fuse_ops:FuseOpsPass",
    "defuse-ops": "passes.defuse_ops:DefuseOpsPass",
    "inline": "passes.inline:InlinePass",
    "simplify-expr": "passes.simplify_expr:SimplifyExprPass",
    "fold-explicit-padding": "passes.fold_explicit_padding:FoldExplicitPaddingPass",
    "fold-scale-axis": "passes.fold_scale_axis:FoldScaleAxisPass",
    "alter-op-layout": "passes.alter_op_layout:AlterOpLayoutPass",
    "combine-parallel-conv2d": "passes.combine_parallel_conv2d:CombineParallelConv2DPass",
    "combine-parallel-dense": "passes.combine_parallel_dense:CombineParallelDensePass",
    "relay-optimize": "passes.relay_optimize:OptimizePass",
    "monomorphize": "passes.monomorphize:MonomorphizePass",
    "lambda-lift": "passes.lambda_lift:LambdaLiftPass",
    "partial-evaluate": "passes.partial_evaluate:PartialEvaluatePass",
    "view-op-graph": "passes.view_op_graph:ViewOpGraphPass",
    # Lowering (lowering/)
    "convert-relay-to-linalg": "lowering.convert_relay_to_linalg:ConvertRelayToLinalgPass",
    "bufferize": "lowering.bufferize:BufferizePass",
    "fuse-linalg-elementwise": "lowering.fuse_linalg_elementwise:FuseLinalgElementwisePass",
    "fuse-linalg-epilogue": "lowering.fuse_linalg_epilogue:FuseLinalgEpiloguePass",
    "apply-fp-policy": "lowering.apply_fp_policy:ApplyFpPolicyPass",
    "lower-contractions": "lowering.lower_contractions:LowerContractionsPass",
    "expand-math": "lowering.expand_math:ExpandMathPass",
    "convert-to-llvm": "lowering.convert_to_llvm:ConvertToLLVMPass",
    "relay-to-llvm": "lowering.relay_to_llvm:RelayToLLVMPipeline",
    "profile-kernels": "lowering.profile_kernels:ProfileKernelsPass",
}


# Passes whose names xDSL's own passes already take: relay-opt's replace them there.
RELAY_OPT_OVERRIDES: dict[str, str] = {
    "dce": "passes.dce:DeadCodeEliminationPass",
    "convert-scf-to-cf": "lowering.convert_scf_to_cf:ConvertScfToCfPass",
    "tail-calls-to-loops": "lowering.tail_calls_to_loops:TailCallsToLoopsPass",
}


def pass_loader(path: str) -> Callable[[], type[ModulePass]]:
    """A factory importing the pass `module:Class` of relay_opt when it is first used."""
    module, _, name = path.partition(":")
    return lambda: getattr(import_module("relay_opt." + module), name)


def _relay():
    from relay_opt.dialects.relay import get_relay_dialect

    return get_relay_dialect()


RELAY_UNIVERSE = Universe(
    all_dialects={"relay": _relay},
    all_passes={name: pass_loader(path) for name, path in PASSES.items()},
)


def load_plugin(name: str) -> list[Universe]:
    """The Universes of a plugin module: `MODULE:NAME`, or every Universe that MODULE defines."""
    from relay_opt.diagnostics import RelayError

    module_name, _, attr = name.partition(":")
    try:
        module = import_module(module_name)
    except ImportError as e:
        raise RelayError(f"cannot load plugin '{name}': {e}") from None
    if attr:
        found = [getattr(module, attr, None)]
    else:
        found = [v for v in vars(module).values() if isinstance(v, Universe)]
    found = [u for u in found if isinstance(u, Universe)]
    if not found:
        raise RelayError(f"plugin module '{module_name}' defines no xdsl.universe.Universe")
    return found


def pass_summary(pass_class: type[ModulePass]) -> str:
    """The first line of a pass's docstring (what `relay-opt --list-passes` shows)."""
    doc = pass_class.__doc__ or ""
    if doc.startswith(f"{pass_class.__name__}("):
        doc = ""  # the signature that @dataclass writes when a class has no docstring
    # The first sentence of the first paragraph, however the docstring wraps it.
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    if paragraph:
        end = paragraph.find(". ")
        return paragraph if end < 0 else paragraph[: end + 1]
    origin = pass_class.__module__.split(".")[0]
    return f"({origin} pass without a description)"
