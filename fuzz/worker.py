"""The child process that runs programs: Relay text in, the reference interpreter's outputs and
native code's at each optimization level out. A program that kills the process (a signal) or
never answers is a finding of the parent's; the parent starts a new worker and goes on."""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import ml_dtypes
import numpy as np

from relay_opt.fuzz.budget import POLL, Budget


@dataclass
class Job:
    text: str
    """The program, as Relay text."""
    inputs: list[np.ndarray]
    levels: tuple[int, ...] = (0, 3)
    reference: bool = True
    """Run the interpreter too."""
    verify_each: bool = True
    """Verify the IR after every pass (RELAY_OPT_VERIFY_EACH, as the test suite does): a pass
    that leaves invalid IR is a finding even when the code it produces happens to run."""


@dataclass
class Outcome:
    """What one run of a stage gave: `ok` with outputs, `refused` (a clean, located error:
    native code does not support something), or `error` (any other exception)."""

    status: str
    outputs: list[np.ndarray] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0


@dataclass
class Result:
    load: Outcome
    reference: Outcome | None
    native: dict[int, Outcome]


def flatten(value: Any) -> list[np.ndarray]:
    """The leaves of a result; native code's bfloat16 arrays (ml_dtypes) as the float32 the
    interpreter stands in with (exact)."""
    if isinstance(value, tuple | list):
        return [leaf for v in value for leaf in flatten(v)]
    array = np.asarray(value)
    return [array.astype(np.float32) if array.dtype == ml_dtypes.bfloat16 else array]


def _refusal(e: BaseException) -> bool:
    """A clean refusal: relay-opt's located error, or the JIT's 'only static shapes' error."""
    from relay_opt.diagnostics import RelayError

    if isinstance(e, RelayError):
        return True
    return isinstance(e, ValueError) and "only static shapes compile" in str(e)


def _describe(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
    message = "\n".join(str(a) for a in e.args) if len(e.args) > 1 else str(e)
    return f"{type(e).__name__}: {message}{where}"


def run_job(job: Job) -> Result:
    import relay_opt
    from relay_opt.runtime.interpreter import interpret
    from relay_opt.runtime.jit import compile  # noqa: A004

    os.environ["RELAY_OPT_VERIFY_EACH"] = "1" if job.verify_each else "0"
    start = time.perf_counter()
    try:
        module = relay_opt.load_program(job.text, format="relay").module
    except Exception as e:  # noqa: BLE001 - every failure is reported, none ends the worker
        return Result(Outcome("error", message=_describe(e)), None, {})
    load = Outcome("ok", seconds=time.perf_counter() - start)
    reference = None
    if job.reference:
        start = time.perf_counter()
        try:
            with np.errstate(all="ignore"):
                out = flatten(interpret(module, list(job.inputs)))
            reference = Outcome("ok", out, seconds=time.perf_counter() - start)
        except Exception as e:  # noqa: BLE001
            reference = Outcome("error", message=_describe(e))
    native: dict[int, Outcome] = {}
    for level in job.levels:
        start = time.perf_counter()
        try:
            exe = compile(module, opt=level, cache=False)  # random programs: never cached
        except Exception as e:  # noqa: BLE001
            status = "refused" if _refusal(e) else "error"
            native[level] = Outcome(status, message=_describe(e))
            continue
        try:
            out = flatten(exe(*job.inputs))
            native[level] = Outcome("ok", out, seconds=time.perf_counter() - start)
        except Exception as e:  # noqa: BLE001
            native[level] = Outcome("error", message="running: " + _describe(e))
    return Result(load, reference, native)


def serve(conn: Connection) -> None:
    """The worker's loop: a Job in, a Result out, until the parent closes the pipe."""
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(run_job(job))


class Worker:
    """A persistent child process running jobs, restarted when it dies or hangs."""

    def __init__(self) -> None:
        # fork: the child starts with everything imported, and the parent's main module is
        # not run again (spawn and forkserver re-import it). The parent has no threads.
        self._ctx = multiprocessing.get_context("fork")
        self.process: Any = None
        self.conn: Any = None
        """The pipe to the process (a multiprocessing Connection)."""
        self.restarts = 0

    def start(self) -> None:
        parent, child = self._ctx.Pipe()
        self.process = self._ctx.Process(target=serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.conn = parent

    def stop(self) -> None:
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()  # the one process this worker started
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.process = None
        self.conn = None

    def submit(self, job: Job) -> bool:
        """Send a job (starting the process if needed); False if the process died at once."""
        if self.process is None or not self.process.is_alive():
            self.stop()
            self.start()
        assert self.conn is not None
        try:
            self.conn.send(job)
        except (OSError, BrokenPipeError):
            return False
        return True

    def receive(self) -> tuple[str, Result | str]:
        """The answer to the job submitted: ('ok', Result) or ('crash', how it died)."""
        assert self.conn is not None
        try:
            return "ok", self.conn.recv()
        except (EOFError, OSError):
            return self._died()

    def abandon(self, detail: str) -> tuple[str, str]:
        """The job never answered: end the process (a hang, `detail` saying after how long)."""
        self.stop()
        self.restarts += 1
        return "hang", detail

    def run(self, job: Job, timeout: float) -> tuple[str, Result | str]:
        """('ok', Result), ('crash', how it died) or ('hang', after how long): a hang is
        `timeout` seconds of the process's CPU time (or the budget's wall-clock cap)."""
        if not self.submit(job):
            return self._died()
        assert self.conn is not None and self.process is not None
        budget = Budget(self.process.pid, timeout)
        while not self.conn.poll(POLL):  # an answer, or the end of the pipe (a crash)
            if budget.exceeded():
                return self.abandon(budget.describe())
        return self.receive()

    def _died(self) -> tuple[str, str]:
        assert self.process is not None
        self.process.join(5)
        code = self.process.exitcode
        self.stop()
        self.restarts += 1
        if code is not None and code < 0:
            import signal

            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return "crash", f"killed by signal {name}"
        return "crash", f"exited with code {code}"
