"""A Relay function as a self-contained native module: LLVM IR or an object file to link.

The JIT binds a module's weights to arrays of this process by address; an object file
cannot, so here the weights become constants inside the module, and the entry function
gets a namespaced symbol (`relay_main` for @main) so that it links into a C program, which
has its own `main`. Every other function is internal. The entry's C signature:

    void relay_main(const T0 *in0, ..., T_k *out0, ...);

one pointer per input tensor, then one per result tensor (tuples flattened, in order), each
to a dense row-major (C-contiguous) buffer of the tensor's element type. Results are
written in place; the function allocates its scratch memory itself (malloc/free). The kernel
library's routines the module calls are linked in (internal), so the object needs only libc;
a routine that cannot allocate its scratch stores the byte count in the weak i64 global
`relay_opt_kernel_error` and leaves its result unwritten (a C caller may clear and read it).
The pointers are `noalias` (C's `restrict`): an output buffer must not overlap an input or
another output (inputs may share memory: they are only read)."""

from __future__ import annotations

import re

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from relay_opt.diagnostics import ArgumentError, RelayError
from relay_opt.dialects.relay.ir_helpers import functions_by_name
from relay_opt.lowering.kernels.thread_pool import PARALLEL_FOR
from relay_opt.runtime import kernel_library
from relay_opt.runtime.jit import _llvm, llvm_ir, lower_to_llvm, optimize
from relay_opt.timing import Timings

_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def default_symbol(entry: str) -> str:
    """The C symbol of a Relay function: `relay_` and its name."""
    return f"relay_{entry}"


def _weights(lowered: ModuleOp) -> dict[str, np.ndarray]:
    """The stored arrays of the module's external globals (its weights), by name."""
    from xdsl.dialects import llvm as llvm_dialect

    from relay_opt.dialects.relay.resources import stored

    arrays: dict[str, np.ndarray] = {}
    for op in lowered.ops:
        if isinstance(op, llvm_dialect.GlobalOp) and "value" not in op.properties:
            name = op.sym_name.data
            array = stored(name)
            if array is None:
                raise RelayError(f"the data of the weight @{name} is not available")
            arrays[name] = array
    return arrays


def _weights_ir(arrays: dict[str, np.ndarray], triple: str, layout: str) -> str:
    """An LLVM module defining each weight as a byte array (its little-endian bytes)."""
    lines = [f'target triple = "{triple}"', f'target datalayout = "{layout}"']
    for name, array in arrays.items():
        data = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False))
        raw = data.reshape(-1).view(np.uint8).tobytes()
        init = f'c"\\{raw.hex(chr(92))}"' if raw else "zeroinitializer"
        lines.append(f'@"{name}" = constant [{len(raw)} x i8] {init}, align 64')
    return "\n".join(lines) + "\n"


def _link_serial_parallel_for(ir_text: str) -> str:
    """`ir_text` with a serial `relay_opt_parallel_for` (one task over all of [0, n)): an
    object file has no init hook for the JIT's thread pool, so its parallel regions (the GEMM's
    panels, parallelize-loops' nests) run in the calling thread and it needs no pthreads."""
    llvm = _llvm()
    module = llvm.parse_assembly(ir_text)
    module.link_in(
        llvm.parse_assembly(
            f"define i64 @{PARALLEL_FOR}(ptr %task, ptr %ctx, i64 %n, i64 %grain) {{\n"
            "  %r = call i64 %task(ptr %ctx, i64 0, i64 %n)\n"
            "  ret i64 %r\n"
            "}\n"
        )
    )
    return str(module)


def native_module(
    module: ModuleOp,
    entry: str = "main",
    symbol: str | None = None,
    opt: int = 3,
    timings: Timings | None = None,
    fp_policy: str = "fast",
):  # noqa: ANN201
    """Lower and optimize `entry` of a type-checked Relay module into an llvmlite module with
    its weights inside and the entry named `symbol` (default `relay_<entry>`); `fp_policy`
    as the JIT's (fast or strict)."""
    symbol = symbol or default_symbol(entry)
    if not _SYMBOL.fullmatch(symbol):
        raise ArgumentError(f"the entry symbol '{symbol}' is not a C identifier")
    funcs = functions_by_name(module)
    if entry not in funcs:
        raise ArgumentError(
            f"the module has no function @{entry} (it has {', '.join(sorted(funcs)) or 'none'})"
        )
    timings = timings or Timings()
    lowered = lower_to_llvm(module, level=opt, timings=timings, entry=entry, fp_policy=fp_policy)
    arrays = _weights(lowered)
    with timings.measure("llvm-translate"):
        ir_text = llvm_ir(lowered)
        if kernel_library.called_kernels(lowered):
            ir_text = kernel_library.link_library(ir_text)
        if PARALLEL_FOR in ir_text:
            ir_text = _link_serial_parallel_for(ir_text)
    with timings.measure("llvm-optimize"):
        mod = optimize(ir_text, opt)
    llvm = _llvm()
    defined = {f.name for f in mod.functions if not f.is_declaration}
    if entry not in defined:
        raise RuntimeError(f"@{entry} was not compiled (no native code has its name)")
    if symbol != entry and symbol in {f.name for f in mod.functions} | set(arrays):
        raise ArgumentError(f"the entry symbol '{symbol}' is already a name in the module")
    used = {g.name for g in mod.global_variables if g.is_declaration and g.name in arrays}
    if used:
        weights = {name: arrays[name] for name in sorted(used)}
        mod.link_in(llvm.parse_assembly(_weights_ir(weights, mod.triple, mod.data_layout)))
    for g in mod.global_variables:
        if g.name in arrays:
            g.linkage = llvm.Linkage.internal
    for f in mod.functions:
        if f.is_declaration:
            continue
        if f.name == entry:
            f.name = symbol
        else:
            f.linkage = llvm.Linkage.internal
    mod.verify()
    return mod


def object_machine(opt: int = 3):  # noqa: ANN201
    """A TargetMachine for objects to link: position-independent code (PIE executables and
    shared libraries accept it), the default code model, this CPU's features."""
    from relay_opt.lowering.kernels.target import llvm_features

    llvm = _llvm()
    return llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm_features(llvm.get_host_cpu_features().flatten()),
        opt=opt,
        reloc="pic",
        codemodel="default",
    )


def emit_object(
    module: ModuleOp,
    entry: str = "main",
    symbol: str | None = None,
    opt: int = 3,
    fp_policy: str = "fast",
) -> bytes:
    """The bytes of an object file for this host defining the entry's symbol."""
    mod = native_module(module, entry, symbol, opt, fp_policy=fp_policy)
    return object_machine(opt).emit_object(mod)
