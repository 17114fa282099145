"""Shared helpers for the pytest suite."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer

from relay_opt.dialects.relay import get_relay_dialect

# The JIT verifies the IR after every pass under test (jit.lower_to_llvm): a pass that
# leaves invalid IR fails right there, named. Off for users: it costs compile time.
os.environ.setdefault("RELAY_OPT_VERIFY_EACH", "1")

# The compile cache of the tests (and of the tools they start) is theirs, never the user's:
# one per run, made by the first process (pytest-xdist's workers inherit it, so the kernel
# library is compiled once per run, not once per worker) and removed by it at exit.
_SHARED = "RELAY_OPT_TEST_CACHE_DIR"
if os.environ.get(_SHARED) and os.path.isdir(os.environ[_SHARED]):
    _CACHE = os.environ[_SHARED]
else:
    _CACHE = os.environ[_SHARED] = tempfile.mkdtemp(prefix="relay-opt-test-cache-")
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ["RELAY_OPT_CACHE_DIR"] = _CACHE
os.environ.pop("RELAY_OPT_NO_CACHE", None)


def relay_context() -> Context:
    ctx = Context()
    ctx.load_dialect(Builtin)
    ctx.load_dialect(get_relay_dialect())
    return ctx


def parse_module(text: str) -> ModuleOp:
    return Parser(relay_context(), text, "test.mlir").parse_module()


def print_module(module: ModuleOp) -> str:
    from io import StringIO

    out = StringIO()
    Printer(stream=out).print_op(module)
    return out.getvalue()


@pytest.fixture
def ctx() -> Context:
    return relay_context()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say at the end that the upstream MLIR acceptance test did not run, and why: its
    module's skip is otherwise one letter among many."""
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and "upstream MLIR acceptance NOT TESTED" in longrepr[2]:
            reason = longrepr[2].removeprefix("Skipped: ")
            terminalreporter.write_line(reason, yellow=True, bold=True)
            return
