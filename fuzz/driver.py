"""The differential run: generate programs, run each in a worker (reference interpreter, native
code at -O0 and -O3), compare, reduce each finding to a small reproducer, and summarize."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import numpy as np

from relay_opt.fuzz.budget import POLL, Budget
from relay_opt.fuzz.programs import RTOL, Program, generate, registry_ops, to_text
from relay_opt.fuzz.worker import Job, Result, Worker

KINDS = ("mismatch", "crash", "hang", "error", "reference-error", "load-error", "roundtrip")
"""Kinds of finding. `error`: compiling or running native code raised something other than a
clean refusal; `roundtrip`: the interpreter, on the program printed as Relay text and parsed
back, disagrees with the operators' numpy semantics on the program as built."""


@dataclass
class Verdict:
    kind: str
    """`pass`, `refused`, or one of KINDS."""
    detail: str = ""
    levels: tuple[int, ...] = ()
    output: int | None = None
    """The first output that differs (a mismatch)."""


def outputs_agree(
    ref: np.ndarray, got: np.ndarray, spec: tuple[str, bool, float]
) -> tuple[bool, str]:
    """Whether `got` matches the reference: shape and dtype, then bit for bit (exact values,
    integers, bools) or within the dtype's tolerance relative to |ref| + the value's scale."""
    dtype, exact, scale = spec
    if ref.shape != got.shape or ref.dtype != got.dtype:
        return False, f"{got.shape} {got.dtype} instead of {ref.shape} {ref.dtype}"
    if ref.size == 0:
        return True, ""
    if exact or dtype not in RTOL:
        equal = np.array_equal(ref, got, equal_nan=ref.dtype.kind == "f")
        if equal:
            return True, ""
        bad = np.argwhere(ref != got)
        at = tuple(int(i) for i in bad[0]) if len(bad) else ()
        return False, (
            f"{int(np.sum(ref != got))} of {ref.size} elements differ (exact); "
            f"at {at}: {ref[at]!r} expected, {got[at]!r} computed"
        )
    a, b = ref.astype(np.float64), got.astype(np.float64)
    with np.errstate(all="ignore"):
        err = np.abs(a - b)
        bound = RTOL[dtype] * (np.abs(a) + max(1.0, scale))
    bad = ~((err <= bound) | (np.isnan(a) & np.isnan(b)))
    if not bad.any():
        return True, ""
    at = tuple(int(i) for i in np.argwhere(bad)[0])
    return False, (
        f"{int(bad.sum())} of {ref.size} elements differ beyond rtol {RTOL[dtype]:g} "
        f"(scale {scale:.3g}); at {at}: {a[at]!r} expected, {b[at]!r} computed"
    )


def judge(program: Program, status: str, result: Result | str) -> Verdict:
    if status != "ok":
        return Verdict(status, str(result))
    assert isinstance(result, Result)
    if result.load.status != "ok":
        return Verdict("load-error", result.load.message)
    specs = program.output_specs()
    ref = result.reference
    if ref is not None:
        if ref.status != "ok":
            return Verdict("reference-error", ref.message)
        for i, (want, got, spec) in enumerate(
            zip(program.expected(), ref.outputs, specs, strict=True)
        ):
            ok, why = outputs_agree(np.asarray(want), got, (spec[0], False, spec[2]))
            if not ok:
                return Verdict("roundtrip", f"output {i}: {why}", output=i)
    expected = ref.outputs if ref is not None else [np.asarray(v) for v in program.expected()]
    errors = {lv: o for lv, o in result.native.items() if o.status == "error"}
    if errors:
        level, first = next(iter(errors.items()))
        return Verdict("error", first.message, tuple(errors))
    bad: dict[int, tuple[int, str]] = {}
    for level, outcome in result.native.items():
        if outcome.status != "ok":
            continue
        for i, (want, got, spec) in enumerate(zip(expected, outcome.outputs, specs, strict=True)):
            ok, why = outputs_agree(want, got, spec)
            if not ok:
                bad[level] = (i, why)
                break
    if bad:
        level, (i, why) = next(iter(bad.items()))
        return Verdict("mismatch", f"-O{level} output {i}: {why}", tuple(bad), i)
    refused = [o.message for o in result.native.values() if o.status == "refused"]
    if refused:
        return Verdict("refused", refused[0])
    return Verdict("pass")


def job_for(program: Program, levels: tuple[int, ...]) -> Job:
    return Job(to_text(program), program.inputs(), levels)


# -- reduction ------------------------------------------------------------------------------


def reduce(
    program: Program, verdict: Verdict, worker: Worker, timeout: float, budget: int = 40
) -> tuple[Program, Verdict]:
    """Delta debugging: keep the one output that differs, then replace operator calls by
    parameters holding their values while the finding persists."""
    levels = verdict.levels or (0, 3)
    checks = [0]
    limit = 2 if verdict.kind == "hang" else budget

    def still(candidate: Program) -> Verdict | None:
        if checks[0] >= limit:
            return None
        checks[0] += 1
        status, result = worker.run(job_for(candidate, levels), timeout)
        v = judge(candidate, status, result)
        return v if v.kind == verdict.kind else None

    best, best_verdict = program, verdict
    if len(program.outputs) > 1:
        # One output: the one that differs, else the first that keeps the finding.
        names = program.outputs if verdict.output is None else [program.outputs[verdict.output]]
        for name in names:
            one = program.with_outputs([name])
            if (v := still(one)) is not None:
                best, best_verdict = one, v
                break
    progress = True
    while progress and checks[0] < limit:
        progress = False
        for node in reversed(best.nodes):
            candidate = best.cut(node.name)
            if candidate is None:
                continue
            if (v := still(candidate)) is not None:
                best, best_verdict, progress = candidate, v, True
                break
    return best, best_verdict


# -- findings -------------------------------------------------------------------------------


def save_finding(
    out: Path, number: int, original: Program, program: Program, verdict: Verdict
) -> Path:
    ops = "-".join(dict.fromkeys(program.ops()))[:60].replace(".", "_") or "program"
    where = out / f"{number:04d}-{verdict.kind}-{ops}"
    where.mkdir(parents=True, exist_ok=True)
    (where / "program.rly").write_text(to_text(program))
    inputs: dict[str, Any] = {p.name: p.value for p in program.params}
    np.savez(where / "inputs.npz", **inputs)
    expected: dict[str, Any] = {f"output_{i}": v for i, v in enumerate(program.expected())}
    np.savez(where / "expected.npz", **expected)
    (where / "original.rly").write_text(to_text(original))
    original_inputs: dict[str, Any] = {p.name: p.value for p in original.params}
    np.savez(where / "original-inputs.npz", **original_inputs)
    specs = program.output_specs()
    info = {
        "kind": verdict.kind,
        "detail": verdict.detail,
        "levels": list(verdict.levels),
        "seed": program.seed,
        "index": program.index,
        "operators": program.ops(),
        "outputs": [{"dtype": d, "exact": e, "scale": s} for d, e, s in specs],
    }
    (where / "finding.json").write_text(json.dumps(info, indent=2) + "\n")
    rtol = max((0.0 if e else RTOL.get(d, 0.0)) for d, e, _ in specs)
    atol = max((0.0 if e else RTOL.get(d, 0.0) * max(1.0, s)) for d, e, s in specs)
    level = verdict.levels[0] if verdict.levels else 3
    (where / "README.txt").write_text(
        f"{verdict.kind}: {verdict.detail}\n\n"
        f"generated by: python -m relay_opt.fuzz --seed {program.seed} "
        f"--first {program.index} --count 1\n"
        f"reproduce:    python -m relay_opt.fuzz --replay {where}\n"
        f"or:           relay-run {where}/program.rly -i {where}/inputs.npz -o /tmp/out.npz "
        f"-O {level} --expected {where}/expected.npz --rtol {rtol:g} --atol {atol:g}\n"
        f"original (before reduction): original.rly with original-inputs.npz\n"
    )
    return where


def replay(where: Path, timeout: float = 60.0) -> Verdict:
    """Run a saved finding again: its program, inputs and output tolerances."""
    import relay_opt

    info = json.loads((where / "finding.json").read_text())
    text = (where / "program.rly").read_text()
    try:
        func = relay_opt.load_program(text, format="relay").module.ops.first
    except relay_opt.LoadError as e:  # a load-error finding: its program does not read back
        return Verdict("load-error", str(e))
    names = [a.name_hint for a in func.body.block.args]  # pyright: ignore
    stored = np.load(where / "inputs.npz")
    inputs = [stored[n] for n in names]
    expected = np.load(where / "expected.npz")
    specs = [(o["dtype"], o["exact"], o["scale"]) for o in info["outputs"]]
    worker = Worker()
    try:
        status, result = worker.run(Job(text, inputs, (0, 3)), timeout)
    finally:
        worker.stop()
    if status != "ok":
        return Verdict(status, str(result))
    assert isinstance(result, Result)
    if result.load.status != "ok":
        return Verdict("load-error", result.load.message)
    if result.reference is None or result.reference.status != "ok":
        return Verdict("reference-error", result.reference.message if result.reference else "")
    want = [expected[f"output_{i}"] for i in range(len(specs))]
    for i, (w, got, spec) in enumerate(zip(want, result.reference.outputs, specs, strict=True)):
        if not outputs_agree(w, got, (spec[0], False, spec[2]))[0]:
            return Verdict("roundtrip", f"reference output {i} differs from expected.npz")
    for level, outcome in result.native.items():
        if outcome.status == "error":
            return Verdict("error", outcome.message, (level,))
        if outcome.status != "ok":
            continue
        for i, (w, got, spec) in enumerate(zip(want, outcome.outputs, specs, strict=True)):
            ok, why = outputs_agree(w, got, spec)
            if not ok:
                return Verdict("mismatch", f"-O{level} output {i}: {why}", (level,), i)
    return Verdict("pass")


# -- the run --------------------------------------------------------------------------------


@dataclass
class Summary:
    programs: int = 0
    seconds: float = 0.0
    operators: Counter = field(default_factory=Counter)
    dtypes: Counter = field(default_factory=Counter)
    verdicts: Counter = field(default_factory=Counter)
    refusals: Counter = field(default_factory=Counter)
    findings: list[tuple[Verdict, Program, Path | None]] = field(default_factory=list)
    excluded_ops: set[str] = field(default_factory=set)

    def count(self, kind: str) -> int:
        return self.verdicts[kind]

    def report(self) -> str:
        from relay_opt.fuzz.programs import missing_generators

        lines = [
            f"programs: {self.programs} in {self.seconds:.1f} s "
            f"({self.seconds / max(self.programs, 1):.2f} s each)",
        ]
        registry = registry_ops()
        covered = [o for o in registry if self.operators[o]]
        lines.append(f"operators covered: {len(covered)} of {len(registry)}")
        never = {}
        missing = missing_generators()
        for o in registry:
            if self.operators[o]:
                continue
            if o in missing:
                never[o] = missing[o]
            elif o in self.excluded_ops:
                never[o] = "not among --ops"
            else:
                never[o] = "no valid call drawn in this run (more programs cover it)"
        left_out = [o for o, why in never.items() if why == "not among --ops"]
        if left_out:
            lines.append(f"  not among --ops: {len(left_out)} operators")
        for o, why in never.items():
            if why != "not among --ops":
                lines.append(f"  never generated: {o}: {why}")
        lines.append("dtypes: " + ", ".join(f"{d} {n}" for d, n in sorted(self.dtypes.items())))
        for kind in ("pass", *KINDS, "refused"):
            label = "clean refusals" if kind == "refused" else kind
            lines.append(f"{label}: {self.verdicts[kind]}")
        for why, n in self.refusals.most_common(8):
            lines.append(f"  refused {n}x: {why[:150]}")
        for verdict, program, where in self.findings:
            lines.append(
                f"FINDING {verdict.kind} (seed {program.seed}, program {program.index}, "
                f"{' '.join(program.ops())}): {verdict.detail[:300]}"
                + (f"\n  reproducer: {where}" if where else "")
            )
        return "\n".join(lines)


def run(
    count: int,
    seed: int,
    *,
    first: int = 0,
    out: Path | None = None,
    ops: list[str] | None = None,
    jobs: int = 1,
    timeout: float = 60.0,
    levels: tuple[int, ...] = (0, 3),
    max_ops: int = 6,
    minimize: bool = True,
    progress: bool = False,
) -> Summary:
    start = time.perf_counter()
    summary = Summary()
    if ops:
        summary.excluded_ops = set(registry_ops()) - set(ops)
    workers = [Worker() for _ in range(max(1, jobs))]
    idle = list(workers)
    running: dict[Any, tuple[Worker, Program, Budget]] = {}
    pending = iter(range(first, first + count))
    raw: list[tuple[Verdict, Program]] = []

    def settle(program: Program, status: str, result: Result | str) -> None:
        verdict = judge(program, status, result)
        summary.programs += 1
        summary.verdicts[verdict.kind] += 1
        summary.operators.update(set(program.ops()))
        summary.dtypes.update(program.dtypes())
        if verdict.kind == "refused":
            summary.refusals[verdict.detail.split(" (at ")[0]] += 1
        elif verdict.kind != "pass":
            raw.append((verdict, program))
        if progress and summary.programs % 50 == 0:
            print(
                f"[{summary.programs}/{count}] {time.perf_counter() - start:.0f} s, "
                f"{len(raw)} finding(s)",
                flush=True,
            )

    try:
        exhausted = False
        while not exhausted or running:
            while idle and not exhausted:
                index = next(pending, None)
                if index is None:
                    exhausted = True
                    break
                program = generate(seed, index, ops, max_ops)
                worker = idle.pop()
                if not worker.submit(job_for(program, levels)):
                    settle(program, *worker.receive())
                    idle.append(worker)
                    continue
                running[worker.conn] = (worker, program, Budget(worker.process.pid, timeout))
            if not running:
                continue
            ready = wait(list(running), POLL)
            for conn in ready:
                worker, program, _ = running.pop(conn)
                settle(program, *worker.receive())
                idle.append(worker)
            for conn, (worker, program, budget) in list(running.items()):
                if budget.exceeded():
                    del running[conn]
                    settle(program, *worker.abandon(budget.describe()))
                    idle.append(worker)
        for number, (verdict, program) in enumerate(raw, 1):
            reduced, rverdict = program, verdict
            if minimize:
                reduced, rverdict = reduce(program, verdict, workers[0], timeout)
            where = save_finding(out, number, program, reduced, rverdict) if out else None
            summary.findings.append((rverdict, reduced, where))
    finally:
        for w in workers:
            w.stop()
    summary.seconds = time.perf_counter() - start
    return summary
