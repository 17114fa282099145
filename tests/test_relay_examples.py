"""The Relay-text examples (examples/relay/*.rly): each compiled natively and checked against the
interpreter on random inputs, run through relay-run as a user runs them, and the memory of
10,000 calls of the TreeLSTM, the List-LSTM and the ragged list. beam_search.rly has `?`
dimensions (its hypotheses grow a token a step) and runs natively too; ragged.rly holds
`?`-shaped tensors in a List, a reference and a closure."""

from __future__ import annotations

import resource
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import TensorType

from relay_opt import load_program
from relay_opt.dialects.relay.ir_helpers import functions_by_name
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.types import tensor_dtype
from relay_opt.runtime import jit
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.values import from_adt_list, same_value
from relay_opt.tools import relay_run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "relay"
NATIVE = ("prelude", "lstm_list", "char_rnn", "tree_lstm", "refs", "beam_search", "ragged")


@cache
def _example(name: str):  # noqa: ANN202
    """The example's module and its compiled @main (-O1: the tests are about the language)."""
    module = load_program(str(EXAMPLES / f"{name}.rly")).module
    return module, jit.compile(module, opt=1, cache=False)


def _random_inputs(module, seed: int) -> list[np.ndarray]:  # noqa: ANN001
    """Random values for @main's parameters: floats around 0 (scaled down so the gates of the
    recurrent examples do not saturate), integers 0 to 9 (counts and characters); a `?` dim
    is 1 to 6."""
    rng = np.random.default_rng(seed)
    out = []
    for arg in functions_by_name(module)["main"].args:
        t = arg.type
        assert isinstance(t, TensorType)
        shape = tuple(d if d >= 0 else int(rng.integers(1, 7)) for d in t.get_shape())
        dtype = numpy_dtype(tensor_dtype(t))
        if dtype.kind == "f":
            out.append((rng.standard_normal(shape) * 0.3).astype(dtype))
        else:
            out.append(rng.integers(0, 10, shape).astype(dtype))
    return out


def test_every_example_is_checked() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.rly")} == set(NATIVE)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", NATIVE)
def test_native_matches_interpreter(name: str, seed: int) -> None:
    module, exe = _example(name)
    inputs = _random_inputs(module, seed)
    got = exe(*inputs)
    want = interpret(module, inputs)
    assert same_value(got, want, rtol=1e-4, atol=1e-5), (got, want)


def test_char_rnn_feeds_its_output_back() -> None:
    """The generated characters depend on each other: the n-character result starts with the
    (n-1)-character one, and each character is in the vocabulary."""
    module, exe = _example("char_rnn")
    inputs = _random_inputs(module, 2)
    chars = from_adt_list(exe(np.array(12, np.int32), *inputs[1:]))  # pyright: ignore[reportArgumentType]
    fewer = from_adt_list(exe(np.array(11, np.int32), *inputs[1:]))  # pyright: ignore[reportArgumentType]
    assert chars is not None and fewer is not None and len(chars) == 12
    assert [int(c) for c in chars[:11]] == [int(c) for c in fewer]  # pyright: ignore[reportArgumentType]
    assert all(0 <= int(c) < 64 for c in chars)  # pyright: ignore[reportArgumentType]
    # The result reader's per-type caches hold the list's types once, not once per cell.
    reader = exe._objects.reader  # pyright: ignore[reportOptionalMemberAccess, reportPrivateUsage]
    assert len(reader._types) <= 2 and len(reader._layouts) <= 2  # pyright: ignore[reportPrivateUsage]


def test_refs_counters_are_separate() -> None:
    module, exe = _example("refs")
    start = np.array(5, np.int32)
    init = np.zeros(4, np.float32)
    xs = np.arange(12, dtype=np.float32).reshape(3, 4)
    counts, totals = exe(start, init, xs)  # pyright: ignore[reportGeneralTypeIssues]
    assert [int(c) for c in counts] == [6, 7, 6]
    items = from_adt_list(totals)
    assert items is not None
    np.testing.assert_array_equal(np.stack(items), np.cumsum(xs, axis=0))  # pyright: ignore[reportArgumentType]


def test_beam_search_in_the_interpreter() -> None:
    """Hypotheses grow by one token a step (a `(3, ?)` tensor); the scores are the sums of
    the picked tokens' log-probabilities, best first."""
    module = load_program(str(EXAMPLES / "beam_search.rly")).module
    inputs = _random_inputs(module, 3)
    inputs[0] = np.array(4, np.int32)
    seqs, scores = interpret(module, inputs)  # pyright: ignore[reportGeneralTypeIssues]
    assert seqs.shape == (3, 4) and seqs.dtype == np.int32
    assert np.all(np.diff(scores) <= 0) and np.all(scores < 0)
    # The best hypothesis, scored again step by step, from the numpy semantics.
    _, h, emb, w_hh, w_out = inputs
    hs, total = h[0:1], 0.0
    for token in seqs[0]:
        logits = hs @ w_out.T
        logp = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        total += float(logp[0, token])
        hs = np.tanh(emb[token][None] + hs @ w_hh.T)
    # (Only beam 0 has the same ancestry from step 0; its score is exact up to rounding.)
    assert np.isclose(total, scores[0], rtol=1e-4), (total, scores)


@pytest.mark.parametrize("opt", [1, 3])
def test_beam_search_native(opt: int) -> None:
    """One compile runs every number of steps (the hypotheses' `?` dim: 0 to 9 tokens)."""
    module = load_program(str(EXAMPLES / "beam_search.rly")).module
    exe = jit.compile(module, opt=opt, cache=False)
    inputs = _random_inputs(module, 3)
    for steps in (0, 1, 4, 9):
        inputs[0] = np.array(steps, np.int32)
        got = exe(*inputs)
        assert got[0].shape == (3, steps)  # pyright: ignore[reportIndexIssue]
        assert same_value(got, interpret(module, inputs), rtol=1e-4, atol=1e-5)


# Calls per example: a ragged call (9 list elements of 1 to 14 rows, their attended copies,
# closures and a reference rewritten 9 times: over 4 KiB in the arena and `?` results
# malloc'd) gets 10,000. A TreeLSTM call takes ~0.4 ms at -O1, so it gets 3,000 here (a call
# builds a 15-node tree of 1x32 tensors, 14 (h, c) states of 2x256 bytes, lists and closures:
# over 8 KiB, so a leak of them would pass 5 MiB);
# `python benchmarks/functional.py --memory` makes the 10,000 calls of the acceptance test.
@pytest.mark.parametrize(
    ("name", "calls"), [("tree_lstm", 3_000), ("lstm_list", 10_000), ("ragged", 10_000)]
)
def test_memory_is_steady(name: str, calls: int) -> None:
    """After 100 calls, more calls leave the peak RSS within 5 MiB (the per-call arena frees
    every list, tree and closure a call builds)."""
    module, exe = _example(name)
    inputs = _random_inputs(module, 0)
    for _ in range(100):
        exe(*inputs)
    first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(calls):
        exe(*inputs)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - first
    assert grown_kib < 5 * 1024, f"peak RSS grew by {grown_kib} KiB over {calls} calls"


@pytest.mark.parametrize("opt", [1, 3])
def test_ragged_native(opt: int) -> None:
    """One compile runs lists of any length whose elements have any number of rows: element k
    of the list has k more rows than the input, the log in the reference has them all."""
    module = load_program(str(EXAMPLES / "ragged.rly")).module
    exe = jit.compile(module, opt=opt, cache=False)
    rng = np.random.default_rng(4)
    for n, rows, keys in ((0, 1, 1), (1, 3, 2), (6, 2, 5), (9, 1, 7)):
        x = rng.standard_normal((rows, 4)).astype(np.float32)
        k = rng.standard_normal((keys, 4)).astype(np.float32)
        w = (rng.standard_normal((4, 4)) * 0.5).astype(np.float32)
        inputs = [np.array(n, np.int32), x, k, w]
        attended, total, log = exe(*inputs)  # pyright: ignore[reportGeneralTypeIssues]
        items = from_adt_list(attended)
        assert items is not None
        assert [a.shape for a in items] == [(rows + i, 4) for i in range(n)]  # pyright: ignore
        assert log.shape == (rows + sum(rows + i for i in range(n)), 4)
        assert total.shape == (1, 4)
        assert same_value((attended, total, log), interpret(module, inputs), rtol=1e-4, atol=1e-5)


def test_relay_run_runs_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    """As the README says: `relay-run examples/relay/refs.rly --fill-mode random`."""
    path = str(EXAMPLES / "refs.rly")
    assert relay_run.main([path, "--fill-mode", "random", "--no-cache"]) == 0
    native = capsys.readouterr().out
    assert "[4xfloat32, 4xfloat32, 4xfloat32]" in native, native
    assert relay_run.main([path, "--fill-mode", "random", "--interpret"]) == 0
    assert capsys.readouterr().out == native
