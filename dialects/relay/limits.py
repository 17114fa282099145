"""The recursion depth limit, shared by the interpreter and native code.

A Relay function may call itself; a program that never stops would otherwise grow the
interpreter's frame stack until memory runs out, and overflow the native stack (a segfault
that kills the calling process). Both executors stop at the same depth with the same error.

Native code reports through module globals (convert-to-llvm defines them when some function
is in a call-graph cycle, and only those functions count): the current depth, the limit, the
lowest frame address the stack allows (0: unchecked), and an error code: 0, or k = 1 + the
index in the module's `relay_opt.recursive_functions` list of the function that went too
deep (-k when the stack ran out first). The JIT sets the limit and the stack floor and clears
the others before each call, and raises the error after it.
"""

from __future__ import annotations

import os
import threading

from relay_opt.diagnostics import RelayError

MAX_DEPTH_ENV = "RELAY_OPT_MAX_DEPTH"
DEFAULT_MAX_DEPTH = 10_000
"""Nested calls allowed; at a few hundred bytes per native frame it fits an 8 MB stack."""

DEPTH_GLOBAL = "relay_opt_depth"
MAX_DEPTH_GLOBAL = "relay_opt_max_depth"
STACK_FLOOR_GLOBAL = "relay_opt_stack_floor"
STACK_RESERVE = 256 * 1024
"""Bytes of stack kept free below the deepest recursive frame (for the kernels it calls)."""
ERROR_GLOBAL = "relay_opt_error"
RECURSIVE_FUNCTIONS_ATTR = "relay_opt.recursive_functions"
MATCH_FAILED = "relay_opt_match_failed"
"""The function compiled code calls where a `match?` finds no clause: convert-to-llvm
makes the call a store of the error code `MATCH_FAILURE_BASE + k` and a return."""
MATCH_FAILURES_ATTR = "relay_opt.match_failures"
"""Module attribute: the source position (`file:line:col`) of failing `match?` number k."""
MATCH_FAILURE_BASE = 1 << 32


def max_depth() -> int:
    """The limit: $RELAY_OPT_MAX_DEPTH, else DEFAULT_MAX_DEPTH."""
    text = os.environ.get(MAX_DEPTH_ENV)
    if text is None or not text.strip():
        return DEFAULT_MAX_DEPTH
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise RelayError(f"{MAX_DEPTH_ENV} must be a positive integer, got '{text}'")
    return value


def depth_error(
    function: str, limit: int, at: object = None, out_of_stack: bool = False
) -> RelayError:
    """The error both executors raise when a call of `function` ("@f") would nest deeper
    than `limit` (or, in native code, than the stack holds); `at` locates it (the function's
    definition)."""
    if out_of_stack:
        return RelayError(
            f"recursion too deep: {function} used up the native stack before the depth limit "
            f"of {limit} (runaway recursion? {MAX_DEPTH_ENV} sets the limit)",
            at,  # pyright: ignore[reportArgumentType]
        )
    return RelayError(
        f"recursion too deep: {function} called more than {limit} levels deep "
        f"(runaway recursion? {MAX_DEPTH_ENV} sets the limit)",
        at,  # pyright: ignore[reportArgumentType]
    )


_THIS_THREAD = threading.local()


def stack_floor() -> int:
    """The lowest address this thread's native frames may use (its stack's low end plus
    STACK_RESERVE), or 0 where the C library cannot say (no check). Kept per thread: glibc
    answers for the main thread by reading /proc/self/maps (2-3 ms, at every call of
    compiled recursive code)."""
    floor = getattr(_THIS_THREAD, "stack_floor", None)
    if floor is None:
        floor = _THIS_THREAD.stack_floor = _stack_floor()
    return floor


def _stack_floor() -> int:
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        pthread_self = libc.pthread_self
        pthread_self.restype = ctypes.c_ulong
        attr = ctypes.create_string_buffer(256)  # pthread_attr_t is 56 bytes on glibc x86-64
        if libc.pthread_getattr_np(ctypes.c_ulong(pthread_self()), attr) != 0:
            return 0
        low, size = ctypes.c_void_p(), ctypes.c_size_t()
        ok = libc.pthread_attr_getstack(attr, ctypes.byref(low), ctypes.byref(size)) == 0
        libc.pthread_attr_destroy(attr)
    except (AttributeError, OSError):
        return 0
    if not ok or not low.value or size.value <= 2 * STACK_RESERVE:
        return 0
    return low.value + STACK_RESERVE
