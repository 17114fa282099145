"""Wall time per pass, reported as mlir-opt's `--mlir-timing` does (relay-opt, relay-run)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Timings:
    """Rows of (step, seconds) in the order the steps ran; a step may appear more than once."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []

    def add(self, name: str, seconds: float) -> None:
        self.rows.append((name, seconds))

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def apply(self, pass_: Any, ctx: Any, module: Any) -> None:  # noqa: ANN401
        """Run an xDSL ModulePass on `module`, timed under its name."""
        with self.measure(pass_.name):
            pass_.apply(ctx, module)

    def report(self) -> str:
        total = sum(t for _, t in self.rows) or 1e-12
        rows = [
            "===" + "-" * 73 + "===",
            " " * 27 + "... Pass execution timing report ...",
            "===" + "-" * 73 + "===",
            f"  Total Execution Time: {total:.4f} seconds",
            "",
            "  ----Wall Time----  ----Name----",
        ]
        for name, t in self.rows:
            rows.append(f"  {t:8.4f} ({100 * t / total:5.1f}%)  {name}")
        rows.append(f"  {total:8.4f} (100.0%)  Total")
        return "\n".join(rows) + "\n"
