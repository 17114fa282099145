"""The kernel library compiled: one native object per routine and CPU, built once, loaded once.

Modules only declare the library's routines (lower-contractions); this module compiles each
routine (`lowering.kernels.library_module(target, [name])`) for the host (at -O3, or -O2
where that is as fast: `lean_pipeline`) into its own object, and the JIT adds the objects
of the routines a module calls to its engine, so LLVM optimizes and generates a routine once,
not once per module, and a model builds only what it calls (ResNet-50: the conv and the
GEMM, not the depthwise conv nor the packed GEMM). The routines share nothing but the error
cell, a weak global each object defines and the engine resolves to one.

Each object is cached on disk as an entry of the compile cache's format (atomic write, length
and CRC checked, a corrupt entry is rebuilt and replaced) under `kernels/` in its directory,
keyed by the toolchain (CPU name and features, LLVM and llvmlite versions), the hash of the
sources that make it (`LIBRARY_SOURCES`: a changed kernel is a new key, an edit elsewhere is
not), the `Target` and the routine's symbol. Without the cache (RELAY_OPT_NO_CACHE=1,
`compile(..., cache=False)`, `--no-cache`) it is built in memory. Either way a process builds
or reads a routine at most once per target. A cold compile starts the builds of the routines
its module will likely call early (`prefetch`: one forked child per routine, on the other
core, while the module is lowered), and those of any other routine the lowered module calls
as soon as it knows them, all at once.

relay-translate cannot link objects, so `link_library` links the library's LLVM IR into the
module it emits instead: its output stays self-sufficient.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from xdsl.dialects import llvm as llvm_dialect
from xdsl.dialects.builtin import ModuleOp

from relay_opt.diagnostics import RelayError
from relay_opt.lowering.kernels import library_module, library_symbols
from relay_opt.lowering.kernels.routine import KERNEL_ERROR_GLOBAL
from relay_opt.lowering.kernels.target import Target
from relay_opt.runtime import compile_cache, forked
from relay_opt.timing import Timings

OBJECT = "kernel-library"
"""The prefix of the routines' objects among a package's runtime objects (runtime/package.py):
`kernel-library/<symbol>`; a package written before holds the whole library as `kernel-library`."""

LIBRARY_FORMAT = 2
"""Bumped when what a library object holds or how it is built changes (2: one per routine)."""

_objects: dict[tuple[Target, str], bytes] = {}
_lock = threading.Lock()


@dataclass
class _Build:
    """A routine being built by a forked child (`prefetch`); a thread collects it."""

    done: threading.Event = field(default_factory=threading.Event)
    code: bytes | None = None  # None after `done`: the child failed (build here instead)


_pending: dict[tuple[Target, str], _Build] = {}


LIBRARY_SOURCES = (
    "lowering/kernels",
    "runtime/jit.py",
    "runtime/kernel_library.py",
    "runtime/forked.py",
    "runtime/thread_pool.py",
    "dialects/relay/attribute_names.py",
    "lowering/expand_math.py",  # its vector variants are part of the JIT's LLVM IR and pipeline
    "host.py",  # Target.host()'s vector width and FMA
)
"""The sources that make the library objects (their generator, the translation to LLVM IR,
the pipeline and code generation): a key hashes these, not all of relay-opt's sources, so
that an edit elsewhere reuses the cached objects (a rebuild is seconds of CPU per routine).
tests/test_kernel_library.py checks that building the library imports nothing else."""


def _check_routine(name: str, target: Target) -> None:
    if name not in library_symbols(target):
        raise ValueError(f"the kernel library has no routine {name} for {target}")


def library_key(target: Target, name: str) -> str:
    """The disk-cache key of routine `name`'s object for `target` on this machine."""
    _check_routine(name, target)
    head = json.dumps(
        {
            "format": LIBRARY_FORMAT,
            "machine": compile_cache.machine(),
            "sources": compile_cache.source_hash(LIBRARY_SOURCES),
            "target": [target.vector_bits, target.fma],
            "routine": name,
        },
        sort_keys=True,
    )
    return hashlib.sha256(head.encode()).hexdigest()


@cache
def library_ir(target: Target, name: str | None = None) -> str:
    """LLVM IR text of the library for `target`, or of its routine `name` (not optimized)."""
    from relay_opt.runtime.jit import llvm_ir

    return llvm_ir(library_module(target, None if name is None else [name]))


def lean_pipeline(target: Target, name: str) -> bool:
    """Whether routine `name` is optimized at -O2 without the SLP vectorizer rather than at
    -O3 (code generation is -O3 for all). The conv and the GEMM are written unrolled and
    vectorized already: -O2 gives them the same speed as -O3 (ResNet-50's convs, GEMMs of 96
    and 1 rows; AVX-512 and AVX2 code) in about two thirds of the optimizer's time, and SLP
    finds nothing in them (the same objects, byte for byte) for another tenth; the conv's
    build is what a cold compile waits for. The others' objects differ (kept at -O3)."""
    from relay_opt.lowering.kernels.conv import CONV_KERNEL
    from relay_opt.lowering.kernels.gemm import GEMM_KERNEL

    return name in (CONV_KERNEL.name(target), GEMM_KERNEL.name(target))


def build_routine(target: Target, name: str) -> bytes:
    """Routine `name` for `target` optimized (`lean_pipeline`) and compiled for this CPU: an
    object file."""
    from relay_opt.runtime.jit import optimize, target_machine

    _check_routine(name, target)
    lean = lean_pipeline(target, name)
    optimized = optimize(library_ir(target, name), 2 if lean else 3, slp=not lean)
    return target_machine(3).emit_object(optimized)


def prefetch(names: Iterable[str], target: Target | None = None, cache: bool = True) -> None:
    """Start building each routine of `names` for `target` in a forked child of its own, if
    this process has it neither in memory, nor under way, nor in the disk cache: a cold
    compile lowers its module on one core while the routines are built on the other (a
    routine's IR, its optimizer and its code generation are most of a cold compile).
    `library_objects` then waits for them."""
    target = target or Target.host()
    if not hasattr(os, "fork") or os.environ.get("RELAY_OPT_LLVM_IN_PROCESS"):
        return
    for name in names:
        _check_routine(name, target)
        with _lock:
            if (target, name) in _objects or (target, name) in _pending:
                continue
            if compile_cache.enabled(cache):
                path = compile_cache.entry_path(library_key(target, name), compile_cache.KERNELS)
                if path.exists():
                    continue  # reading it is fast
            started = _fork_build(target, name)
            if started is not None:
                _pending[target, name] = started


def _fork_build(target: Target, name: str) -> _Build | None:
    """A child building routine `name`, collected by a thread; None if it cannot fork."""
    # As a build here would (its optimizer forks too): the same object, byte for byte
    # (codegen after the bitcode round trip differs in spill slots).
    wait = forked.start(lambda: build_routine(target, name))
    if wait is None:
        return None
    build = _Build()

    def collect() -> None:  # reads while the caller lowers (the read releases the GIL)
        build.code = wait()
        build.done.set()

    threading.Thread(target=collect, name=f"relay-opt kernel {name}", daemon=True).start()
    return build


def library_objects(
    names: Iterable[str],
    target: Target | None = None,
    cache: bool = True,
    timings: Timings | None = None,
) -> dict[str, bytes]:
    """The object of each routine of `names` for `target` (the host's by default), by name:
    from this process's memory, else from the disk cache (when `cache` and
    RELAY_OPT_NO_CACHE allow), else built (and stored); the routines not under way yet are
    started in children together (`prefetch`), then waited for. `timings` records
    `kernel-library-load`, `kernel-library-wait` or `kernel-library-build`."""
    target = target or Target.host()
    timings = timings or Timings()
    names = list(dict.fromkeys(names))
    found: dict[str, bytes] = {}
    missing = []
    with _lock:
        for name in names:
            code = _objects.get((target, name))
            if code is not None:
                found[name] = code
                continue
            if compile_cache.enabled(cache):
                with timings.measure("kernel-library-load"):
                    entry = compile_cache.load(library_key(target, name), compile_cache.KERNELS)
                if entry is not None:
                    found[name] = _objects[target, name] = entry.object_code
                    continue
            missing.append(name)
    if len(missing) > 1:
        prefetch(missing, target, cache=False)  # the disk cache was just read
    for name in missing:
        found[name] = _built(target, name, cache, timings)
    return {name: found[name] for name in names}


def _built(target: Target, name: str, cache: bool, timings: Timings) -> bytes:
    """Routine `name`'s object from its child, or built here (two threads compiling at once
    build it once), then kept and stored."""
    with _lock:
        code = _objects.get((target, name))
        if code is not None:
            return code
        build = _pending.pop((target, name), None)
        if build is not None:
            with timings.measure("kernel-library-wait"):
                build.done.wait()
            code = build.code
        if code is None:
            with timings.measure("kernel-library-build"):
                code = build_routine(target, name)
        if compile_cache.enabled(cache):
            key = library_key(target, name)
            compile_cache.save(key, code, [], [], None, folder=compile_cache.KERNELS)
        _objects[target, name] = code
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
    kernels: Iterable[str],
    cache: bool = True,
    timings: Timings | None = None,
    objects: Mapping[str, bytes] | None = None,
) -> KernelErrorCell:
    """Adds the objects of the host's routines `kernels` (or `objects`, a package's:
    `packaged`) to an MCJIT engine (before `finalize_object`); returns the
    engine's error cell of the library."""
    from relay_opt.runtime import thread_pool
    from relay_opt.runtime.jit import _llvm

    if objects is None:
        objects = library_objects(kernels, cache=cache, timings=timings)
    for code in objects.values():
        thread_pool.ensure_for(code)  # the routines run their work items on the pool
        engine.add_object_file(_llvm().ObjectFileRef.from_data(code))
    return KernelErrorCell(engine)


def package_objects(kernels: Iterable[str], cache: bool = True) -> dict[str, bytes]:
    """The runtime objects a package holds for the host's routines `kernels`."""
    objects = library_objects(kernels, cache=cache)
    return {f"{OBJECT}/{name}": code for name, code in objects.items()}


def packaged(runtime_objects: Mapping[str, bytes]) -> dict[str, bytes]:
    """The library's objects among a package's runtime objects (`package_objects`, or the
    whole library as one object in a package written before)."""
    return {n: code for n, code in runtime_objects.items() if n.partition("/")[0] == OBJECT}


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
