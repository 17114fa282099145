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
    "gradient": "passes.gradient:GradientPass",
    "to-a-normal-form": "passes.to_a_normal_form:ToANormalFormPass",
    "to-graph-normal-form": "passes.to_graph_normal_form:ToGraphNormalFormPass",
    "view-op-graph": "passes.view_op_graph:ViewOpGraphPass",
    # Lowering (lowering/)
    "convert-relay-to-linalg": "lowering.convert_relay_to_linalg:ConvertRelayToLinalgPass",
    "bufferize": "lowering.bufferize:BufferizePass",
    "fuse-linalg-elementwise": "lowering.fuse_linalg_elementwise:FuseLinalgElementwisePass",
    "fuse-linalg-epilogue": "lowering.fuse_linalg_epilogue:FuseLinalgEpiloguePass",
    "apply-fp-policy": "lowering.apply_fp_policy:ApplyFpPolicyPass",
    "lower-contractions": "lowering.lower_contractions:LowerContractionsPass",
    "collapse-linalg-dims": "lowering.collapse_linalg_dims:CollapseLinalgDimsPass",
    "emit-kernel-library": "lowering.emit_kernel_library:EmitKernelLibraryPass",
    "legalize-bf16": "lowering.legalize_bf16:LegalizeBf16Pass",
    "expand-math": "lowering.expand_math:ExpandMathPass",
    "convert-to-llvm": "lowering.convert_to_llvm:ConvertToLLVMPass",
    "relay-to-llvm": "lowering.relay_to_llvm:RelayToLLVMPipeline",
    "profile-kernels": "lowering.profile_kernels:ProfileKernelsPass",
}


# Passes whose names xDSL's own passes already take: relay-opt's replace them there.
RELAY_OPT_OVERRIDES: dict[str, str] = {
    "dce": "passes.dce:DeadCodeEliminationPass",
    "parallelize-loops": "lowering.parallelize_loops:ParallelizeLoopsPass",
    "convert-scf-to-cf": "lowering.convert_scf_to_cf:ConvertScfToCfPass",
    "tail-calls-to-loops": "lowering.tail_calls_to_loops:TailCallsToLoopsPass",
}


# One line each for the xDSL passes whose classes have no docstring (xDSL 0.74), so that
# --list-passes describes every pass; written from each pass's source.
XDSL_PASS_SUMMARIES: dict[str, str] = {
    "apply-eqsat-pdl-interp": "Applies pdl_interp patterns to an e-graph (equality saturation).",
    "apply-pdl": "Applies the PDL patterns found in the module (or in pdl-file) to it.",
    "apply-pdl-interp": "Applies the pdl_interp matchers and rewriters found in the module to it.",
    "canonicalize-dmp": "Simplifies dmp.swap ops: removes the swaps they do not need.",
    "convert-arith-to-riscv": "Lowers arith ops to RISC-V instructions.",
    "convert-arith-to-riscv-snitch": "Lowers arith ops on vectors to Snitch's packed SIMD "
    "RISC-V instructions.",
    "convert-arith-to-x86": "Lowers arith ops to x86 instructions.",
    "convert-func-to-riscv-func": "Lowers func functions, calls and returns to riscv_func ones "
    "with the RISC-V calling convention.",
    "convert-func-to-x86-func": "Lowers func functions, calls and returns to x86_func ones.",
    "convert-linalg-to-memref-stream": "Rewrites linalg.generic ops on memrefs as "
    "memref_stream.generic ops.",
    "convert-memref-to-ptr": "Lowers memref loads, stores and subviews to pointer arithmetic "
    "in the ptr dialect.",
    "convert-memref-to-riscv": "Lowers memref ops to RISC-V loads, stores and address arithmetic.",
    "convert-pdl-interp-to-eqsat-pdl-interp": "Rewrites pdl_interp ops as their "
    "eqsat_pdl_interp counterparts (for apply-eqsat-pdl-interp).",
    "convert-print-format-to-riscv-debug": "Rewrites printf.print_format as riscv_debug.printf.",
    "convert-ptr-to-llvm": "Lowers ptr dialect ops to llvm dialect pointer ops.",
    "convert-ptr-to-riscv": "Lowers ptr dialect ops to RISC-V loads, stores and adds.",
    "convert-ptr-to-x86": "Lowers ptr dialect ops to x86 memory instructions.",
    "convert-ptr-type-offsets": "Replaces ptr.type_offset ops by the constant size of their "
    "element type.",
    "convert-riscv-scf-to-riscv-cf": "Lowers riscv_scf loops to RISC-V labels and branches.",
    "convert-scf-to-riscv-scf": "Lowers scf.for loops to riscv_scf.for loops.",
    "convert-scf-to-x86-scf": "Lowers scf.for loops to x86_scf.for loops.",
    "convert-snitch-stream-to-snitch": "Lowers snitch_stream regions to Snitch stream "
    "configuration instructions.",
    "convert-stencil-to-csl-stencil": "Lowers stencil applies to csl_stencil ops for "
    "Cerebras' CSL.",
    "convert-stencil-to-ll-mlir": "Lowers the stencil dialect to scf loops on memrefs.",
    "convert-vector-to-ptr": "Lowers vector loads and stores on memrefs to the ptr dialect.",
    "convert-vector-to-x86": "Lowers vector ops to x86 vector instructions.",
    "convert-x86-scf-to-x86": "Lowers x86_scf loops to x86 labels and jumps.",
    "cse": "Common subexpression elimination: an op equal to an earlier one that dominates it "
    "is replaced by that one.",
    "dce": "Removes ops whose results are unused and that have no side effects.",
    "dmp-to-mpi": "Lowers dmp halo exchanges to MPI sends and receives.",
    "eqsat-serialize-egraph": "Prints the module's e-graph as JSON (for egraph visualizers).",
    "frontend-desymrefy": "Replaces symref declare/fetch/update ops by SSA values.",
    "gpu-map-parallel-loops": "Maps scf.parallel loops to GPU block and thread ids.",
    "hls-convert-stencil-to-ll-mlir": "Lowers the stencil dialect to loops for high-level "
    "synthesis (FPGA).",
    "jax-use-donated-arguments": "Writes JAX functions' results into their donated argument "
    "buffers instead of new ones.",
    "loop-hoist-memref": "Hoists a loop's load and store of one memref location out of the "
    "loop, carrying the value through its iterations.",
    "lower-affine": "Lowers affine loops, loads, stores and maps to scf, memref and arith.",
    "lower-hls": "Lowers the hls dialect's streams, pragmas and dataflow regions for an HLS "
    "toolchain.",
    "lower-mpi": "Lowers the mpi dialect to llvm dialect calls of the MPI library.",
    "lower-riscv-func": "Lowers riscv_func syscalls and functions to RISC-V registers and ecall.",
    "lower-snitch": "Lowers snitch ops to RISC-V instructions and CSR writes.",
    "memref-to-gpu": "Replaces memref.alloc and memref.dealloc by gpu.alloc and gpu.dealloc.",
    "printf-to-llvm": "Lowers printf.print_format to llvm dialect calls of C's printf.",
    "printf-to-putchar": "Lowers printf.print_char to calls of C's putchar.",
    "reconcile-unrealized-casts": "Removes builtin.unrealized_conversion_cast chains that "
    "cancel out.",
    "replace-incompatible-fpga": "Replaces copysign, maximumf and absf, which FPGA "
    "toolchains lack, by calls of Xilinx math functions.",
    "riscv-scf-for-infer-constant-step": "Folds a riscv_scf loop's statically known step into "
    "an immediate.",
    "scf-parallel-loop-tiling": "Tiles scf.parallel loops by the given tile sizes.",
    "stencil-inlining": "Inlines a stencil.apply into the stencil.apply that uses its result.",
    "stencil-tensorize-z-dimension": "Makes the z dimension of stencil fields a tensor element: "
    "each access reads a tensor of z values.",
    "stencil-unroll": "Unrolls stencil.apply bodies by the given factors.",
    "x86-prologue-epilogue-insertion": "Adds the saves and restores of callee-saved registers "
    "to x86 functions.",
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
    if getattr(pass_class, "name", None) in XDSL_PASS_SUMMARIES:
        return XDSL_PASS_SUMMARIES[pass_class.name]
    origin = pass_class.__module__.split(".")[0]
    return f"({origin} pass without a description)"
