"""How long a fuzzer's child may take on one job before it counts as a hang.

Under load (other processes on the machine, the fuzzer run at nice 19) a child gets a
fraction of a core, so wall time over-counts what it did and a slow job looks hung. The
budget is the child's own CPU time (Linux's /proc/PID/stat), with a wall-clock cap
WALL_FACTOR times larger for a child that waits without computing (a deadlock, a sleep).
Where /proc is missing, the budget is wall time alone.
"""

from __future__ import annotations

import os
import time

WALL_FACTOR = 5.0
"""The wall-clock cap, in CPU budgets."""

POLL = 0.25
"""Seconds between two looks at a child's CPU time."""


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time process `pid` has used, None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            text = f.read()
        # the name (field 2) is in parentheses and may hold spaces: count after the last ')'
        fields = text.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Budget:
    """`cpu` seconds of process `pid`'s CPU time from now, at most `cpu * WALL_FACTOR` of
    wall time."""

    def __init__(self, pid: int, cpu: float):
        self.pid, self.cpu, self.wall = pid, cpu, cpu * WALL_FACTOR
        self.start_wall = time.monotonic()
        self.start_cpu = cpu_seconds(pid)

    def used(self) -> tuple[float | None, float]:
        """(CPU seconds, wall seconds) since the start; CPU None where it cannot be read."""
        wall = time.monotonic() - self.start_wall
        now = cpu_seconds(self.pid)
        if now is None or self.start_cpu is None:
            return None, wall
        return now - self.start_cpu, wall

    def exceeded(self) -> bool:
        cpu, wall = self.used()
        if cpu is None:
            return wall > self.cpu
        return cpu > self.cpu or wall > self.wall

    def describe(self) -> str:
        """What was used, for a hang's report."""
        cpu, wall = self.used()
        if cpu is None:
            return f"no answer in {wall:.0f} s"
        return (
            f"no answer after {cpu:.1f} s of CPU time ({wall:.0f} s wall; budget {self.cpu:g} s "
            f"of CPU, {self.wall:g} s wall)"
        )
