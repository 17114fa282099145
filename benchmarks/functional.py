"""CharRNN, TreeLSTM and an LSTM over a `List`, written in Relay text (examples/relay/), compiled
versus interpreted versus the same models in numpy and in PyTorch eager, in one run.

    python benchmarks/functional.py [--threads 1] [--budget 2] [--memory]

Every system runs on `--threads` threads (default 1: numpy's BLAS through threadpoolctl,
torch.set_num_threads, RELAY_OPT_NUM_THREADS). Times are the median *thread CPU time*
(time.thread_time) of calls after a warm-up, so other processes on a loaded machine count
less than in wall-clock time; they are still only indicative there (with more than one
thread, wall-clock time: the calling thread's CPU time leaves out the others' work). Every
system's result is compared with the compiled one, so a wrong answer cannot look fast.
PyTorch is used where it is installed (`pip install -e '.[benchmark]'`), else its columns print "-".

`--memory` also calls the compiled TreeLSTM and LSTM 10,000 times and prints how far the
peak RSS grew after the first 100 calls (the arena of docs/native-objects.md frees every
call's objects; the acceptance bound is 5 MiB). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "relay"
F32 = np.float32


def _torch() -> Any:  # noqa: ANN401
    try:
        import torch  # pyright: ignore[reportMissingImports]
    except ImportError:
        return None
    return torch


@dataclass
class Model:
    """One example: its file, the inputs of its @main, and the same model in numpy and torch
    (each returning a value comparable with `same`)."""

    name: str
    file: str
    inputs: list[np.ndarray]
    numpy: Callable[..., object]
    torch: Callable[..., object]
    result: Callable[[object], object]  # the compiled result, in the form numpy returns


def _weights(rng: np.random.Generator, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    # Scaled by 1/sqrt(fan-in) so the gates do not saturate (which would hide wrong math).
    return [
        (rng.standard_normal(s) / np.sqrt(s[-1] if len(s) > 1 else 16)).astype(F32) for s in shapes
    ]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


# -- CharRNN: 100 characters, each fed back in ----------------------------------------------


def char_rnn(rng: np.random.Generator) -> Model:
    w = _weights(rng, (64, 32), (128, 32), (128, 128), (128,), (64, 128), (64,))
    inputs = [np.array(100, np.int32), np.array(3, np.int32), *w]

    def numpy_model(n, start, emb, w_ih, w_hh, b_h, w_out, b_out):  # noqa: ANN001, ANN202
        h = np.zeros((1, 128), F32)
        char, out = int(start), []
        for _ in range(int(n)):
            h = np.tanh(emb[char][None] @ w_ih.T + h @ w_hh.T + b_h)
            char = int(np.argmax(h @ w_out.T + b_out))
            out.append(char)
        return out

    def torch_model(torch, n, start, emb, w_ih, w_hh, b_h, w_out, b_out):  # noqa: ANN001, ANN202
        linear = torch.nn.functional.linear
        h = torch.zeros((1, 128))
        char, out = start, []
        for _ in range(int(n)):
            h = torch.tanh(linear(emb[char][None], w_ih) + linear(h, w_hh, b_h))
            char = torch.argmax(linear(h, w_out, b_out))
            out.append(char)
        return [int(c) for c in out]

    def result(value: object) -> object:
        from relay_opt.runtime.values import from_adt_list

        items = from_adt_list(value)  # pyright: ignore[reportArgumentType]
        assert items is not None
        return [int(c) for c in items]  # pyright: ignore[reportArgumentType]

    return Model("CharRNN, 100 chars, hidden 128", "char_rnn.rly", inputs, numpy_model,
                 torch_model, result)  # fmt: skip


# -- TreeLSTM: a complete binary tree of 15 nodes -------------------------------------------


def tree_lstm(rng: np.random.Generator) -> Model:
    x = rng.standard_normal((15, 1, 32)).astype(F32)
    w = _weights(rng, (192, 32), (192, 64), (192,), (64, 32), (64, 64), (64,))

    def numpy_model(x, w_iou, u_iou, b_iou, w_f, u_f, b_f):  # noqa: ANN001, ANN202
        def node(i: int) -> tuple[np.ndarray, np.ndarray]:
            kids = [node(k) for k in (2 * i + 1, 2 * i + 2) if 2 * i + 1 < 15]
            h_sum = sum((h for h, _ in kids), np.zeros((1, 64), F32))
            fx = x[i] @ w_f.T + b_f
            fc = sum((_sigmoid(fx + h @ u_f.T) * c for h, c in kids), np.zeros((1, 64), F32))
            i_, o, u = np.split(x[i] @ w_iou.T + h_sum @ u_iou.T + b_iou, 3, axis=1)
            c = _sigmoid(i_) * np.tanh(u) + fc
            return _sigmoid(o) * np.tanh(c), c

        return node(0)[0]

    def torch_model(torch, x, w_iou, u_iou, b_iou, w_f, u_f, b_f):  # noqa: ANN001, ANN202
        linear = torch.nn.functional.linear

        def node(i: int):  # noqa: ANN202
            kids = [node(k) for k in (2 * i + 1, 2 * i + 2) if 2 * i + 1 < 15]
            h_sum = torch.zeros((1, 64))
            fc = torch.zeros((1, 64))
            fx = linear(x[i], w_f, b_f)
            for h, c in kids:
                h_sum = h_sum + h
                fc = fc + torch.sigmoid(fx + linear(h, u_f)) * c
            i_, o, u = torch.chunk(linear(x[i], w_iou) + linear(h_sum, u_iou, b_iou), 3, dim=1)
            c = torch.sigmoid(i_) * torch.tanh(u) + fc
            return torch.sigmoid(o) * torch.tanh(c), c

        return node(0)[0].numpy()

    return Model("TreeLSTM, 15 nodes, hidden 64", "tree_lstm.rly", [x, *w], numpy_model,
                 torch_model, lambda v: v)  # fmt: skip


# -- LSTM over a List of 8 steps, folded with foldl -------------------------------------------


def lstm_list(rng: np.random.Generator) -> Model:
    seq = rng.standard_normal((8, 1, 32)).astype(F32)
    w = _weights(rng, (256, 32), (256, 64), (256,))

    def numpy_model(seq, w_ih, w_hh, b):  # noqa: ANN001, ANN202
        h = c = np.zeros((1, 64), F32)
        for x in seq:
            i, f, g, o = np.split(x @ w_ih.T + h @ w_hh.T + b, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
        return h

    def torch_model(torch, seq, w_ih, w_hh, b):  # noqa: ANN001, ANN202
        # The same cell as torch.nn.LSTMCell (torch's fused cell, the fastest eager path).
        h = c = torch.zeros((1, 64))
        for x in seq:
            h, c = torch.lstm_cell(x, (h, c), w_ih, w_hh, b)
        return h.numpy()

    return Model("LSTM over a List, 8 steps, hidden 64", "lstm_list.rly", [seq, *w],
                 numpy_model, torch_model, lambda v: v)  # fmt: skip


MODELS = (char_rnn, tree_lstm, lstm_list)


def thread_cpu_median(fn: Callable[[], object], budget: float, repeat: int = 200) -> float:
    """Median thread CPU seconds of calls after a warm-up; stops after `budget` CPU seconds.
    With more than one thread, wall-clock seconds: the calling thread's CPU time would leave
    out the other threads' share of the work."""
    from relay_opt.runtime import thread_pool

    clock = time.thread_time if thread_pool.num_threads() == 1 else time.perf_counter
    fn()
    times: list[float] = []
    while len(times) < repeat and (len(times) < 3 or sum(times) < budget):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def same(a: object, b: object) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return a == b
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4))


def measure(model: Model, budget: float) -> dict[str, object]:
    """One row: the model compiled (-O3), interpreted, in numpy and in torch."""
    from relay_opt import load_program
    from relay_opt.runtime.interpreter import Interpreter
    from relay_opt.runtime.jit import compile

    torch = _torch()
    module = load_program(str(EXAMPLES / model.file)).module
    exe = compile(module, opt=3)
    got = model.result(exe(*model.inputs))
    interpreter = Interpreter(module)
    row: dict[str, object] = {"model": model.name}
    row["relay-opt ms"] = 1e3 * thread_cpu_median(lambda: exe(*model.inputs), budget)
    row["interpreter ms"] = 1e3 * thread_cpu_median(
        lambda: interpreter.run("main", model.inputs), budget, repeat=5
    )
    row["numpy ms"] = 1e3 * thread_cpu_median(lambda: model.numpy(*model.inputs), budget)
    checks = [same(model.result(interpreter.run("main", model.inputs)), got)]
    checks.append(same(model.numpy(*model.inputs), got))
    row["torch ms"] = None
    if torch is not None:
        args = [torch.from_numpy(np.array(a)) for a in model.inputs]
        with torch.inference_mode():
            row["torch ms"] = 1e3 * thread_cpu_median(lambda: model.torch(torch, *args), budget)
            checks.append(same(model.torch(torch, *args), got))
    ours = row["relay-opt ms"]
    assert isinstance(ours, float)
    for system in ("interpreter", "numpy", "torch"):
        ms = row[f"{system} ms"]
        row[f"x {system}"] = ms / ours if isinstance(ms, float) else None
    row["same result"] = "yes" if all(checks) else "NO"
    return row


def rows(budget: float, models: Sequence[Callable[[np.random.Generator], Model]] = MODELS) -> list[dict[str, object]]:  # noqa: E501  # fmt: skip
    out = []
    for make in models:
        row = measure(make(np.random.default_rng(0)), budget)
        print(f"  {row['model']}: {row['relay-opt ms']:.4g} ms", file=sys.stderr)
        out.append(row)
    return out


COLUMNS = ["model", "relay-opt ms", "interpreter ms", "numpy ms", "torch ms", "x interpreter",
           "x numpy", "x torch", "same result"]  # fmt: skip


def memory_rows(calls: int = 10_000) -> list[dict[str, object]]:
    """Peak RSS growth of `calls` compiled calls after the first 100."""
    from relay_opt import load_program
    from relay_opt.runtime.jit import compile

    out: list[dict[str, object]] = []
    for make in (tree_lstm, lstm_list):
        model = make(np.random.default_rng(0))
        exe = compile(load_program(str(EXAMPLES / model.file)).module, opt=3)
        for _ in range(100):
            exe(*model.inputs)
        first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(calls):
            exe(*model.inputs)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - first
        out.append({"model": model.name, "calls": calls, "peak RSS growth KiB": grown})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="threads for every system (default 1)")
    p.add_argument("--budget", type=float, default=2.0, help="CPU seconds per system and model")
    p.add_argument("--memory", action="store_true", help="also measure RSS over 10,000 calls")
    ns = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import _header, _pin_threads, table  # the one header and table of run.py

    print(_header(ns.threads, _pin_threads(ns.threads)), flush=True)
    print("times: median thread CPU time per call (indicative on a loaded machine)")
    title = "functional models (x system: its time over relay-opt's; above 1 is slower)"
    print(table(title, COLUMNS, rows(ns.budget)), flush=True)
    if ns.memory:
        cols = ["model", "calls", "peak RSS growth KiB"]
        print(table("peak RSS after the first 100 calls", cols, memory_rows()), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RELAY_OPT_NUM_THREADS", "1")
    sys.exit(main())
