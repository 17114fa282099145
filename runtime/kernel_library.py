"""The kernel library compiled: one native object per CPU, built once and loaded once.

Modules only declare the library's routines (lower-contractions); this module compiles the
whole library (`lowering.kernels.library_module`) for the host at -O3 into one object, and
the JIT adds that object to every engine whose code calls a routine, so LLVM optimizes and
generates the routines once, not once per module.

The object is cached on disk as an entry of the compile cache's format (atomic write, length
and CRC checked, a corrupt entry is rebuilt and replaced) under `kernels/` in its directory,
keyed by the toolchain (CPU name and features, LLVM and llvmlite versions), the hash of the
sources that make it (`LIBRARY_SOURCES`: a changed kernel is a new key, an edit elsewhere is
not), the `Target` and the library's symbols. Without the
cache (RELAY_OPT_NO_CACHE=1, `compile(..., cache=False)`, `--no-cache`) it is built in
memory. Either way a process builds or reads it at most once per target. A cold compile that may
call the library starts its build early (`prefetch`: a forked child, on another core,
while the module is lowered).

relay-translate cannot link objects, so `link_library` links the library's LLVM IR into the
module it emits instead: its output stays self-sufficient.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from functools import cache

from xdsl.dialects import llvm as llvm_dialect
from xdsl.dialects.builtin import ModuleOp

from relay_opt.diagnostics import RelayError
from relay_opt.lowering.kernels import library_module, library_symbols
from relay_opt.lowering.kernels.routine import KERNEL_ERROR_GLOBAL
from relay_opt.lowering.kernels.target import Target
from relay_opt.runtime import compile_cache
from relay_opt.timing import Timings

OBJECT = "kernel-library"
"""The library object's name among a package's runtime objects (runtime/package.py)."""

LIBRARY_FORMAT = 1
"""Bumped when what the library object holds or how it is built changes."""

_objects: dict[Target, bytes] = {}
_lock = threading.Lock()


@dataclass
class _Build:
    """The library being built by a forked child (`prefetch`); a thread collects it."""

    done: threading.Event = field(default_factory=threading.Event)
    code: bytes | None = None  # None after `done`: the child failed (build here instead)


_pending: dict[Target, _Build] = {}


LIBRARY_SOURCES = (
    "lowering/kernels",
    "runtime/jit.py",
    "runtime/kernel_library.py",
    "runtime/thread_pool.py",
    "dialects/relay/attribute_names.py",
    "lowering/expand_math.py",  # its vector variants are part of the JIT's LLVM IR and pipeline
)
"""The sources that make the library object (its generator, the translation to LLVM IR, the
-O3 pipeline and code generation): its key hashes these, not all of relay-opt's sources, so
that an edit elsewhere reuses the cached object (a rebuild is minutes of CPU).
tests/test_kernel_library.py checks that building the library imports nothing else."""


def library_key(target: Target) -> str:
    """The disk-cache key of the library object for `target` on this machine."""
    head = json.dumps(
        {
            "format": LIBRARY_FORMAT,
            "machine": compile_cache.machine(),
            "sources": compile_cache.source_hash(LIBRARY_SOURCES),
            "target": [target.vector_bits, target.fma],
            "symbols": sorted(library_symbols(target)),
        },
        sort_keys=True,
    )
    return hashlib.sha256(head.encode()).hexdigest()


@cache
def library_ir(target: Target) -> str:
    """LLVM IR text of the library for `target` (not optimized)."""
    from relay_opt.runtime.jit import llvm_ir

    return llvm_ir(library_module(target))


def build_library(target: Target) -> bytes:
    """The library for `target` optimized at -O3 and compiled for this CPU: an object file."""
    from relay_opt.runtime.jit import optimize, target_machine

    return target_machine(3).emit_object(optimize(library_ir(target), 3))


def prefetch(target: Target | None = None, cache: bool = True) -> None:
    """Start building the library for `target` in a forked child, when this process has it
    neither in memory nor in the disk cache: a cold compile lowers its module on one core
    while the library is built on another (the library's IR, its -O3 and its code
    generation are a large share of a cold compile). `library_object` then waits for it."""
    target = target or Target.host()
    if not hasattr(os, "fork") or os.environ.get("RELAY_OPT_LLVM_IN_PROCESS"):
        return
    with _lock:
        if target in _objects or target in _pending:
            return
        if compile_cache.enabled(cache):
            key = library_key(target)
            if compile_cache.entry_path(key, compile_cache.KERNELS).exists():
                return  # reading it is fast
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return
        if pid == 0:  # the child: build, write, exit without any Python clean-up
            status = 1
            try:
                os.close(read_end)
                # As a build here would (its optimizer forks too): the same object, byte
                # for byte (codegen after the bitcode round trip differs in spill slots).
                code = build_library(target)
                with os.fdopen(write_end, "wb") as out:
                    out.write(code)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        build = _pending[target] = _Build()

    def collect() -> None:  # reads while the caller lowers (the read releases the GIL)
        with os.fdopen(read_end, "rb") as source:
            code = source.read()
        _, status = os.waitpid(pid, 0)
        build.code = code if os.waitstatus_to_exitcode(status) == 0 and code else None
        build.done.set()

    threading.Thread(target=collect, name="relay-opt kernel library", daemon=True).start()


def library_object(
    target: Target | None = None, cache: bool = True, timings: Timings | None = None
) -> bytes:
    """The library object for `target` (the host's by default): from this process's memory,
    else from the disk cache (when `cache` and RELAY_OPT_NO_CACHE allow), else built (and
    stored); a build `prefetch` started is waited for. `timings` records
    `kernel-library-load`, `kernel-library-wait` or `kernel-library-build`."""
    target = target or Target.host()
    timings = timings or Timings()
    with _lock:  # two threads compiling at once build it once
        code = _objects.get(target)
        if code is not None:
            return code
        key = library_key(target) if compile_cache.enabled(cache) else None
        if key is not None:
            with timings.measure("kernel-library-load"):
                entry = compile_cache.load(key, compile_cache.KERNELS)
            if entry is not None:
                code = entry.object_code
        build = _pending.pop(target, None)
        if code is None:
            if build is not None:  # prefetch's child
                with timings.measure("kernel-library-wait"):
                    build.done.wait()
                code = build.code
            if code is None:
                with timings.measure("kernel-library-build"):
                    code = build_library(target)
            if key is not None:
                compile_cache.save(key, code, [], [], None, folder=compile_cache.KERNELS)
        _objects[target] = code
        return code


def forget_loaded() -> None:
    """Drop the objects this process holds (the next use reads the disk cache or builds)."""
    with _lock:
        _objects.clear()
        for build in _pending.values():
            build.done.wait()
        _pending.clear()


def called_kernels(module: ModuleOp, target: Target | None = None) -> list[str]:
    """The library routines an llvm-dialect module declares (and so calls), in order."""
    symbols = library_symbols(target or Target.host())
    return [
        op.sym_name.data
        for op in module.ops
        if isinstance(op, llvm_dialect.FuncOp)
        and not op.body.blocks
        and op.sym_name.data in symbols
    ]


def add_library(
    engine,  # noqa: ANN001
    cache: bool = True,
    timings: Timings | None = None,
    code: bytes | None = None,
) -> KernelErrorCell:
    """Adds the host's library object (or `code`, a package's) to an MCJIT engine (before
    `finalize_object`); returns the engine's error cell of the library."""
    from relay_opt.runtime import thread_pool
    from relay_opt.runtime.jit import _llvm

    if code is None:
        code = library_object(cache=cache, timings=timings)
    thread_pool.ensure_for(code)  # the GEMM runs its packed products on the pool
    engine.add_object_file(_llvm().ObjectFileRef.from_data(code))
    return KernelErrorCell(engine)


class KernelErrorCell:
    """The library's error cell in one engine (routine.KERNEL_ERROR_GLOBAL): cleared before a
    call, raised after it. Calls from several threads share it; only a failure sets it."""

    def __init__(self, engine):  # noqa: ANN001
        self.engine = engine
        self.cell: ctypes.c_int64 | None = None

    def resolve(self) -> ctypes.c_int64:
        if self.cell is None:  # known once the engine is finalized
            address = self.engine.get_global_value_address(KERNEL_ERROR_GLOBAL)
            if not address:
                raise RuntimeError(f"@{KERNEL_ERROR_GLOBAL} was not loaded with the library")
            self.cell = ctypes.c_int64.from_address(address)
        return self.cell

    def clear(self) -> None:
        self.resolve().value = 0

    def check(self) -> None:
        requested = self.resolve().value
        if requested:
            raise RelayError(
                f"out of memory: a kernel could not allocate {requested} bytes of scratch "
                "memory (compiled code)"
            )


def link_library(ir_text: str, target: Target | None = None) -> str:
    """`ir_text` (LLVM IR) with the library's definitions linked in: self-sufficient IR for
    relay-translate and object files."""
    from relay_opt.runtime.jit import _llvm

    llvm = _llvm()
    target = target or Target.host()
    module = llvm.parse_assembly(ir_text)
    module.link_in(llvm.parse_assembly(library_ir(target)))
    symbols = library_symbols(target)
    for f in module.functions:  # internal: LLVM drops the routines the module does not call
        if f.name in symbols and not f.is_declaration:
            f.linkage = llvm.Linkage.internal
    return str(module)
