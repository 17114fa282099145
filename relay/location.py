"""Where in the user's script an expression was built: the first stack frame outside this
shim, so that a type error in a built program names the script's line."""

from __future__ import annotations

import os
import sys

from relay_opt.diagnostics import SourceLoc

_SHIM_DIRS = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), d) + os.sep
    for d in ("relay", "tvm")
)


def caller_loc() -> SourceLoc:
    frame = sys._getframe(1)  # pyright: ignore[reportPrivateUsage]
    while frame is not None and frame.f_code.co_filename.startswith(_SHIM_DIRS):
        frame = frame.f_back
    if frame is None:
        return SourceLoc("<python>", 1, 1)
    return SourceLoc(frame.f_code.co_filename, frame.f_lineno, 1)
