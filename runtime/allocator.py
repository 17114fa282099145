"""Steady memory for repeated calls of compiled code.

Compiled functions malloc their scratch buffers and free them before returning. glibc serves
a block above its mmap threshold (128 KiB at first) with a fresh mmap, and on freeing such a
block raises the threshold to its size: the next call then takes the same sizes from the heap,
which grows into fresh pages. So the first call and again the second fault in every page of
their scratch memory (the second call of a model with 100 MB of intermediates took 20 ms more
than the others), and only from the third call on is the memory reused. Fixing the thresholds
before the first call makes the heap serve the buffers from the start and keep them: only the
first call faults.
"""

from __future__ import annotations

import ctypes
import platform

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
"""glibc's largest (its dynamic threshold's ceiling on 64-bit systems)."""
TRIM_THRESHOLD = 512 << 20
"""Free memory the heap keeps instead of giving it back after each call."""


def steady_scratch_memory() -> bool:
    """Fix glibc's malloc thresholds for this process (see the module's docstring); returns
    whether it could (not on other C libraries)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
