"""RNN, GRU and LSTM over long sequences import as a loop (frontends/onnx/rnn.py): one
recursive step function whose size does not grow with the length, compiled to a native loop.
Compiled and interpreted results are checked against onnx's reference evaluator, and against
onnxruntime when it is installed (the benchmark extra)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from relay_opt.dialects.relay import core
from relay_opt.frontends.onnx import OnnxImportError, OnnxUnsupportedError, import_onnx
from relay_opt.frontends.onnx.rnn import UNROLL_STEPS
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
HIDDEN, INPUT, BATCH = 8, 4, 2
SEQ = UNROLL_STEPS + 3
"""A sequence just long enough to import as a loop (the loop's code does not depend on its
length; the interpreter's and the reference evaluator's time does)."""


def _model(
    kind: str,
    seq: int,
    direction: str = "forward",
    weights_as_inputs: bool = False,
    lens: np.ndarray | None = None,
    lens_at_run_time: bool = False,
    **attrs: object,
) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """A model of one `kind` node with bias, initial states (and peepholes for LSTM) over
    `seq` steps, and `lens` as its sequence_lens; its run-time inputs with values."""
    rng = np.random.default_rng(seq)
    batch = BATCH if lens is None else len(lens)
    dirs, g = 2 if direction == "bidirectional" else 1, GATES[kind]
    shapes = {
        "W": (dirs, g * HIDDEN, INPUT),
        "R": (dirs, g * HIDDEN, HIDDEN),
        "B": (dirs, 2 * g * HIDDEN),
        "initial_h": (dirs, batch, HIDDEN),
    }
    if kind == "LSTM":
        shapes |= {"initial_c": (dirs, batch, HIDDEN), "P": (dirs, 3 * HIDDEN)}
    values = {k: rng.uniform(-0.5, 0.5, s).astype(np.float32) for k, s in shapes.items()}
    if lens is not None:
        values["lens"] = lens.astype(np.int32)
    states = ["initial_h", *(["initial_c", "P"] if kind == "LSTM" else [])]
    names = ["X", "W", "R", "B", "" if lens is None else "lens", *states]
    outputs = ["Y", "Y_h"] + (["Y_c"] if kind == "LSTM" else [])
    node = helper.make_node(kind, names, outputs, hidden_size=HIDDEN, direction=direction, **attrs)
    runtime = ["X", "initial_h", *(["W", "R", "B"] if weights_as_inputs else [])]
    runtime += ["lens"] if lens_at_run_time else []
    feeds = {"X": rng.standard_normal((seq, batch, INPUT)).astype(np.float32)}
    feeds |= {k: values[k] for k in runtime if k != "X"}
    dtype = {"lens": TensorProto.INT32}
    graph = helper.make_graph(
        [node],
        "recurrent",
        [
            helper.make_tensor_value_info(k, dtype.get(k, TensorProto.FLOAT), v.shape)
            for k, v in feeds.items()
        ],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in values.items() if k not in feeds],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), feeds


def _loop_functions(model: onnx.ModelProto) -> list[core.FuncOp]:
    module = import_onnx(model).module
    return [f for f in module.walk() if isinstance(f, core.FuncOp) and f.sym_name.data != "main"]


CASES = [
    ("RNN", "forward", False, {}),
    ("GRU", "bidirectional", True, {"linear_before_reset": 1, "clip": 2.5}),
    ("GRU", "reverse", False, {}),
    ("LSTM", "bidirectional", False, {}),
    ("LSTM", "reverse", True, {"clip": 1.5}),
]


def _check(model: onnx.ModelProto, feeds: dict[str, np.ndarray], clip: bool) -> None:
    """Compiled against interpreted, and both against onnx's reference evaluator unless the
    node clips (the evaluator ignores `clip`; onnxruntime checks it below)."""
    imported = import_onnx(model)
    args = [feeds[name] for name in imported.input_names]
    compiled = compile(imported.module)(*args)
    interpreted = interpret(imported.module, args)
    expected = None if clip else ReferenceEvaluator(model).run(None, feeds)
    for k, name in enumerate(["Y", "Y_h", "Y_c"][: len(interpreted)]):
        got = np.asarray(interpreted[k])
        np.testing.assert_allclose(np.asarray(compiled[k]), got, rtol=1e-5, atol=1e-6, err_msg=name)
        if expected is not None:
            # SEQ steps of float32 arithmetic against onnx's float32 evaluator.
            np.testing.assert_allclose(got, expected[k], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("kind, direction, weights_as_inputs, attrs", CASES)
def test_long_sequence_compiled_and_interpreted(
    kind: str, direction: str, weights_as_inputs: bool, attrs: dict
):
    model, feeds = _model(kind, SEQ, direction, weights_as_inputs, **attrs)
    assert len(_loop_functions(model)) == (2 if direction == "bidirectional" else 1)
    _check(model, feeds, "clip" in attrs)


@pytest.mark.parametrize("seq", [5, SEQ])
def test_gru_linear_before_reset_adds_the_recurrent_bias_of_z_and_r(seq: int):
    # Only Rb_h belongs inside the reset product; Rb_z and Rb_r were dropped (unrolled too).
    model, feeds = _model("GRU", seq, "forward", linear_before_reset=1)
    _check(model, feeds, clip=False)


@pytest.mark.parametrize("kind, direction, weights_as_inputs, attrs", CASES)
def test_long_sequence_matches_onnxruntime(
    kind: str, direction: str, weights_as_inputs: bool, attrs: dict
):
    ort = pytest.importorskip("onnxruntime")
    model, feeds = _model(kind, SEQ, direction, weights_as_inputs, **attrs)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, feeds)
    imported = import_onnx(model)
    got = compile(imported.module)(*(feeds[name] for name in imported.input_names))
    assert len(got) == len(expected)
    for name, g, e in zip(("Y", "Y_h", "Y_c"), got, expected, strict=False):
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize(
    "kind, seq, lens_at_run_time",
    # each kind; unrolled and looped, each with known and run-time lengths
    [("RNN", 6, True), ("GRU", SEQ, False), ("LSTM", SEQ, True), ("LSTM", 6, False)],
)
def test_sequence_lens_stop_each_row_at_its_length(kind: str, seq: int, lens_at_run_time: bool):
    """Each batch row of a bidirectional layer with sequence_lens equals that row run alone
    over its own length (onnx's evaluator, which takes no sequence_lens), Y zero past it."""
    lens = np.array([seq, seq // 2, 1])
    model, feeds = _model(kind, seq, "bidirectional", lens=lens, lens_at_run_time=lens_at_run_time)
    imported = import_onnx(model)
    args = [feeds[name] for name in imported.input_names]
    results = {
        "compiled": [np.asarray(v) for v in compile(imported.module)(*args)],
        "interpreted": [np.asarray(v) for v in interpret(imported.module, args)],
    }
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    states = {**inits, **feeds}
    for row, length in enumerate(lens):
        alone = onnx.ModelProto()
        alone.CopyFrom(model)
        alone.graph.node[0].input[4] = ""  # no sequence_lens
        for init in alone.graph.initializer:  # this row's initial states
            if init.name.startswith("initial"):
                init.CopyFrom(
                    numpy_helper.from_array(states[init.name][:, row : row + 1], init.name)
                )
        given = {k: v[:, row : row + 1] for k, v in feeds.items() if k.startswith("initial")}
        given["X"] = feeds["X"][:length, row : row + 1]
        evaluator = ReferenceEvaluator(alone)
        expected = evaluator.run(
            None, {k: v for k, v in given.items() if k in evaluator.input_names}
        )
        for how, got in results.items():
            y = got[0][:, :, row : row + 1]
            np.testing.assert_allclose(y[:length], expected[0], rtol=1e-4, atol=1e-5, err_msg=how)
            assert not y[length:].any(), how
            for g, e in zip(got[1:], expected[1:], strict=True):
                np.testing.assert_allclose(
                    g[:, row : row + 1], e, rtol=1e-4, atol=1e-5, err_msg=how
                )


@pytest.mark.parametrize(
    "kind, seq, lens_at_run_time",
    [("RNN", 6, True), ("GRU", SEQ, False), ("LSTM", SEQ, True), ("LSTM", 6, False)],
)
def test_a_row_of_no_steps_ends_in_zero_states(kind: str, seq: int, lens_at_run_time: bool):
    """A row of sequence_lens 0 gives zeros for Y, Y_h and Y_c (as onnxruntime; not its
    initial state); the other rows are those of the same layer where that row has 1 step
    (rows are independent)."""
    results = []
    for first in (0, 1):
        lens = np.array([first, seq, seq // 2])
        model, feeds = _model(
            kind, seq, "bidirectional", lens=lens, lens_at_run_time=lens_at_run_time
        )
        imported = import_onnx(model)
        args = [feeds[name] for name in imported.input_names]
        compiled = [np.asarray(v) for v in compile(imported.module)(*args)]
        interpreted = [np.asarray(v) for v in interpret(imported.module, args)]
        for c, i in zip(compiled, interpreted, strict=True):
            np.testing.assert_allclose(c, i, rtol=1e-5, atol=1e-6)
        results.append(compiled)
    (y, *states), (y1, *states1) = results
    assert not y[:, :, 0].any()
    for s, s1 in zip(states, states1, strict=True):
        assert s.shape == s1.shape
        assert not s[:, 0].any()
        assert s1[:, 0].any()  # (with one step the row's state is not zero)
        np.testing.assert_array_equal(s[:, 1:], s1[:, 1:])
    np.testing.assert_array_equal(y[:, :, 1:], y1[:, :, 1:])


def test_the_loop_does_not_grow_with_the_sequence():
    """The imported program is the same size at 100 and 1,000 steps (its compile time flat
    in the length), and a sequence up to UNROLL_STEPS stays unrolled (no function)."""

    def size(seq: int) -> int:
        model, _ = _model("GRU", seq, "bidirectional")
        return sum(1 for _ in import_onnx(model).module.walk())

    assert size(100) == size(1000)
    model, _ = _model("LSTM", UNROLL_STEPS)
    assert _loop_functions(model) == []
    model, _ = _model("LSTM", UNROLL_STEPS + 1)
    assert len(_loop_functions(model)) == 1


def test_a_sequence_longer_than_4096_steps_compiles_and_interprets():
    """4,096 steps was the limit while the interpreter copied Y per step (quadratic); it
    writes it in place now."""
    model, feeds = _model("RNN", 5000)
    imported = import_onnx(model)
    args = [feeds[name] for name in imported.input_names]
    compiled = compile(imported.module)(*args)
    interpreted = interpret(imported.module, args)
    for got, want in zip(compiled, interpreted, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_sequence_lens_out_of_range_is_a_located_error():
    model, _ = _model("GRU", 6, lens=np.array([7, 2]))
    with pytest.raises(OnnxImportError, match=r"node 0 \(GRU\): sequence_lens \[7, 2\] is not 2 "):
        import_onnx(model)


def _symbolic(model: onnx.ModelProto, dims: dict[str, dict[int, str]]) -> onnx.ModelProto:
    """The model with the named inputs' dims made symbolic (name -> {axis: dim_param})."""
    for vi in model.graph.input:
        for axis, param in dims.get(vi.name, {}).items():
            dim = vi.type.tensor_type.shape.dim[axis]
            dim.ClearField("dim_value")
            dim.dim_param = param
    return model


def _against_onnxruntime_and_interpreter(
    model: onnx.ModelProto, feeds_per_run: list[dict[str, np.ndarray]]
) -> None:
    """One compiled program run on every feed, against onnxruntime and the interpreter."""
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    imported = import_onnx(model)
    compiled = compile(imported.module)
    for feeds in feeds_per_run:
        args = [feeds[name] for name in imported.input_names]
        got, interpreted = compiled(*args), interpret(imported.module, args)
        expected = session.run(None, feeds)
        assert len(got) == len(expected)
        for name, g, i, e in zip(("Y", "Y_h", "Y_c"), got, interpreted, expected, strict=False):
            np.testing.assert_allclose(np.asarray(g), np.asarray(i), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-4, atol=1e-5, err_msg=name)


def _with(feeds: dict[str, np.ndarray], seq: int, batch: int, lens: bool) -> dict:
    """feeds with X and initial_h (and lens) of `seq` steps and `batch` rows."""
    rng = np.random.default_rng(seq * 10 + batch)
    out = dict(feeds)
    out["X"] = rng.standard_normal((seq, batch, INPUT)).astype(np.float32)
    if "initial_h" in feeds:
        dirs = feeds["initial_h"].shape[0]
        out["initial_h"] = rng.standard_normal((dirs, batch, HIDDEN)).astype(np.float32)
    if lens:  # (a row of length 0 too: its Y_h is zeros, not its initial state)
        out["lens"] = rng.integers(0, seq + 1, batch).astype(np.int32)
        out["lens"][0] = 0
    return out


@pytest.mark.parametrize(
    "kind, direction, lens",
    [("GRU", "forward", False), ("LSTM", "reverse", True), ("RNN", "bidirectional", False)],
)
def test_a_sequence_length_read_at_run_time(kind: str, direction: str, lens: bool):
    """A `?` sequence length imports as the loop with its trip count read at run time: one
    program for 3 steps and for UNROLL_STEPS + 6."""
    model, feeds = _model(
        kind, 5, direction, lens=np.array([5, 2]) if lens else None, lens_at_run_time=lens
    )
    model = _symbolic(model, {"X": {0: "T"}})
    assert len(_loop_functions(model)) == (2 if direction == "bidirectional" else 1)
    runs = [_with(feeds, seq, BATCH, lens) for seq in (3, UNROLL_STEPS + 6)]
    _against_onnxruntime_and_interpreter(model, runs)


@pytest.mark.parametrize(
    "kind, direction, lens, initial_h",
    [
        ("RNN", "bidirectional", False, True),
        ("GRU", "forward", True, True),
        ("GRU", "reverse", False, False),
    ],
)
def test_a_batch_read_at_run_time(kind: str, direction: str, lens: bool, initial_h: bool):
    """A `?` batch over a short sequence (unrolled): one program for 2 rows and for 3; a
    missing initial state is zeros as many rows as the batch."""
    model, feeds = _model(
        kind, 5, direction, lens=np.array([5, 2]) if lens else None, lens_at_run_time=lens
    )
    model = _symbolic(model, {"X": {1: "B"}, "initial_h": {1: "B"}, "lens": {0: "B"}})
    if not initial_h:
        node = model.graph.node[0]
        node.input[5] = ""
        keep = [vi for vi in model.graph.input if vi.name != "initial_h"]
        del model.graph.input[:]
        model.graph.input.extend(keep)
        feeds = {k: v for k, v in feeds.items() if k != "initial_h"}
    runs = [_with(feeds, 5, batch, lens) for batch in (2, 3)]
    _against_onnxruntime_and_interpreter(model, runs)


def test_a_run_time_batch_over_a_loop_is_a_located_error():
    model, _ = _model("GRU", 6)
    model = _symbolic(model, {"X": {0: "T", 1: "B"}, "initial_h": {1: "B"}})
    with pytest.raises(
        OnnxUnsupportedError,
        match=r"node 0 \(GRU\): GRU over a \? batch and a sequence of \? steps, a loop: its "
        r"steps' rows of Y have a \? dim",
    ):
        import_onnx(model)
