"""The recursion depth limit, shared by the interpreter and native code.

A Relay function may call itself; a program that never stops would otherwise grow the
interpreter's frame stack until memory runs out, and overflow the native stack (a segfault
that kills the calling process). Both executors stop at the same depth with the same error.

Native code reports through three module globals (convert-to-llvm defines them when some
function is in a call-graph cycle, and only those functions count): the current depth, the
limit, and an error code, 0 or 1 + the index of the function that went too deep in the
module's `relay_opt.recursive_functions` list. The JIT sets the limit and clears the others
before each call, and raises the error after it.
"""

from __future__ import annotations

import os

from relay_opt.diagnostics import RelayError

MAX_DEPTH_ENV = "RELAY_OPT_MAX_DEPTH"
DEFAULT_MAX_DEPTH = 10_000
"""Nested calls allowed; at a few hundred bytes per native frame it fits an 8 MB stack."""

DEPTH_GLOBAL = "relay_opt_depth"
MAX_DEPTH_GLOBAL = "relay_opt_max_depth"
ERROR_GLOBAL = "relay_opt_error"
RECURSIVE_FUNCTIONS_ATTR = "relay_opt.recursive_functions"


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


def depth_error(function: str, limit: int, at: object = None) -> RelayError:
    """The error both executors raise when a call of `function` ("@f") would nest deeper
    than `limit`; `at` locates it (the function's definition)."""
    return RelayError(
        f"recursion too deep: {function} called more than {limit} levels deep "
        f"(runaway recursion? {MAX_DEPTH_ENV} sets the limit)",
        at,  # pyright: ignore[reportArgumentType]
    )
