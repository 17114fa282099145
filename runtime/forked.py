"""Work done in a forked child, its bytes read back through a pipe: the JIT runs LLVM's
optimizer there (the optimizer's state never grows this process), and the kernel library
builds its routines there, on the other core, while this process lowers the module."""

from __future__ import annotations

import os
from collections.abc import Callable


def start(work: Callable[[], bytes]) -> Callable[[], bytes | None] | None:
    """Runs `work` in a forked child and returns `wait`, which reads what the child wrote and
    reaps it: its bytes, or None if the child failed or wrote nothing. None (nothing started)
    where this process cannot fork."""
    if not hasattr(os, "fork"):
        return None
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child: work, write, exit without any Python clean-up
        status = 1
        try:
            os.close(read_end)
            data = work()
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)

    def wait() -> bytes | None:
        with os.fdopen(read_end, "rb") as source:
            data = source.read()
        _, status = os.waitpid(pid, 0)
        return data if os.waitstatus_to_exitcode(status) == 0 and data else None

    return wait
