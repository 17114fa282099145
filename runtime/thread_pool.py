"""The process's thread pool for compiled code (lowering/kernels/thread_pool.py).

The pool's module is compiled once per process, on first need, into an engine of its own
that lives as long as the process; `relay_opt_parallel_for` is then given to LLVM as a
process symbol, so every compiled module (and every object loaded from the compile cache)
calls the same pool.

The thread count is a run-time setting, not part of the compiled code (nor of the compile
cache's key): the CPUs this process may run on (`os.sched_getaffinity`), unless
RELAY_OPT_NUM_THREADS says otherwise; `set_num_threads` changes it, `relay-run --threads N`
and `compile(..., threads=N)` use that. Workers start on the first parallel region that needs
them; a fork re-initializes the pool in the child (no worker survives a fork), and the
workers are stopped and joined at interpreter exit.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading
from dataclasses import dataclass

from relay_opt.diagnostics import ArgumentError

ENV = "RELAY_OPT_NUM_THREADS"

OBJECT = "thread-pool"
"""The pool's object among a package's runtime objects (runtime/package.py)."""


def default_threads() -> int:
    """RELAY_OPT_NUM_THREADS if set, else the number of CPUs this process may use."""
    text = os.environ.get(ENV, "").strip()
    if text:
        try:
            n = int(text)
        except ValueError:
            n = 0
        if n < 1:
            raise ArgumentError(f"{ENV} must be a positive integer, got '{text}'")
        return n
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass
class _Pool:
    engine: object  # keeps the code alive
    set_threads: ctypes._CFuncPtr  # pyright: ignore[reportAttributeAccessIssue]
    get_threads: ctypes._CFuncPtr  # pyright: ignore[reportAttributeAccessIssue]
    get_workers: ctypes._CFuncPtr  # pyright: ignore[reportAttributeAccessIssue]
    after_fork: ctypes._CFuncPtr  # pyright: ignore[reportAttributeAccessIssue]
    shutdown: ctypes._CFuncPtr  # pyright: ignore[reportAttributeAccessIssue]
    parallel_for: int
    object_code: bytes
    """The pool's native object (a package carries it: runtime/package.py)."""


_pool: _Pool | None = None
_lock = threading.Lock()


def load(code: bytes | None = None) -> _Pool:
    """The pool, compiled (or loaded from `code`, a package's object of it) and registered on
    first use (a few tens of milliseconds)."""
    global _pool
    if _pool is not None:
        return _pool
    with _lock:
        if _pool is None:
            _pool = _compile(code)
    return _pool


def _compile(code: bytes | None) -> _Pool:
    from relay_opt.lowering.kernels import thread_pool as ir
    from relay_opt.runtime import jit

    llvm = jit._llvm()
    objects: list[bytes] = []
    if code is None:
        mod = jit.optimize(jit.llvm_ir(ir.build_thread_pool()), 2)
        engine = llvm.create_mcjit_compiler(mod, jit.target_machine(2))
        engine.set_object_cache(lambda _module, made: objects.append(bytes(made)))
    else:
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), jit.target_machine(2))
        engine.add_object_file(llvm.ObjectFileRef.from_data(code))
        objects.append(code)
    engine.finalize_object()

    def fn(name: str, result, *args):  # noqa: ANN001, ANN202
        address = engine.get_function_address(name)
        if not address:
            raise RuntimeError(f"the thread pool has no function {name}")
        return ctypes.CFUNCTYPE(result, *args)(address)

    i64 = ctypes.c_int64
    pool = _Pool(
        engine=engine,
        set_threads=fn(ir.SET_THREADS, None, i64),
        get_threads=fn(ir.THREADS, i64),
        get_workers=fn(ir.WORKERS, i64),
        after_fork=fn(ir.AFTER_FORK, None),
        shutdown=fn(ir.SHUTDOWN, None),
        parallel_for=engine.get_function_address(ir.PARALLEL_FOR),
        object_code=objects[0] if objects else b"",
    )
    fn(ir.INIT, None)()
    pool.set_threads(default_threads())
    llvm.add_symbol(ir.PARALLEL_FOR, pool.parallel_for)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=pool.after_fork)
    atexit.register(pool.shutdown)
    return pool


def set_num_threads(n: int) -> None:
    """The number of threads (the caller included) a parallel region may use from now on."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ArgumentError(f"the thread count must be a positive integer, got {n!r}")
    load().set_threads(n)


def num_threads() -> int:
    """The thread count parallel regions use now."""
    return int(load().get_threads())


def started_workers() -> int:
    """Worker threads running now (not counting callers): a hook for tests and tools."""
    return int(load().get_workers())


def uses_pool(llvm_ir_or_object: str | bytes) -> bool:
    """Whether compiled code (LLVM IR text or an object file) calls the pool."""
    from relay_opt.lowering.kernels.thread_pool import PARALLEL_FOR

    if isinstance(llvm_ir_or_object, str):
        return PARALLEL_FOR in llvm_ir_or_object
    return PARALLEL_FOR.encode() in llvm_ir_or_object


def ensure_for(llvm_ir_or_object: str | bytes, pool_object: bytes | None = None) -> None:
    """Loads the pool if compiled code (LLVM IR text or an object file) calls it (from
    `pool_object`, a package's, if the process has none yet)."""
    if uses_pool(llvm_ir_or_object):
        load(pool_object)
