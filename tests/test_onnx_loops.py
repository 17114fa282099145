"""ONNX Loop and Scan (recursive Relay functions, compiled natively) and shape inputs given at
run time (Reshape's shape: `dyn.reshape`), against onnx's reference evaluator
(tests/test_onnx_backend.py runs ONNX's node tests of them)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from relay_opt.frontends.onnx import import_onnx
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile


def _model(nodes, inputs, outputs, opset: int = 17) -> onnx.ModelProto:  # noqa: ANN001
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def _check(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> None:
    """Compiled and interpreted results against onnx's reference evaluator."""
    expected = ReferenceEvaluator(model).run(None, feeds)
    imported = import_onnx(model)
    args = [feeds[n] for n in imported.input_names]
    for got in (compile(imported.module)(*args), interpret(imported.module, args)):
        got = got if isinstance(got, tuple) else (got,)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-5, atol=1e-6)


def _tensor(name: str, dtype: int, shape: list[int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def scan_model(reverse_in: int, out_axis: int, length: int = 7) -> onnx.ModelProto:
    body = helper.make_graph(
        [
            helper.make_node("Mul", ["row", "w"], ["scaled"]),
            helper.make_node("Add", ["acc", "scaled"], ["acc_out"]),
            helper.make_node("Tanh", ["acc_out"], ["seen"]),
        ],
        "body",
        [_tensor("acc", TensorProto.FLOAT, [4]), _tensor("row", TensorProto.FLOAT, [4])],
        [_tensor("acc_out", TensorProto.FLOAT, [4]), _tensor("seen", TensorProto.FLOAT, [4])],
    )
    scan = helper.make_node(
        "Scan",
        ["init", "x"],
        ["final", "seen_all"],
        body=body,
        num_scan_inputs=1,
        scan_input_axes=[1],
        scan_input_directions=[reverse_in],
        scan_output_axes=[out_axis],
    )
    return _model(
        [scan],
        [
            _tensor("init", TensorProto.FLOAT, [4]),
            _tensor("x", TensorProto.FLOAT, [4, length]),
            _tensor("w", TensorProto.FLOAT, [4]),
        ],
        [
            _tensor("final", TensorProto.FLOAT, [4]),
            _tensor("seen_all", TensorProto.FLOAT, ["s0", "s1"]),
        ],
    )


def _scan_reference(feeds: dict[str, np.ndarray], reverse_in: int, out_axis: int) -> list:
    # (onnx's reference evaluator scans axis 0 forwards only)
    acc, seen = feeds["init"], []
    length = feeds["x"].shape[1]
    columns = range(length - 1, -1, -1) if reverse_in else range(length)
    for k in columns:
        acc = acc + feeds["x"][:, k] * feeds["w"]
        seen.append(np.tanh(acc))
    return [acc, np.stack(seen, axis=out_axis)]


@pytest.mark.parametrize(
    "reverse_in, out_axis, length",
    # each output written at its iteration in place (dyn.update_slice): 1 step too
    [(0, 0, 7), (1, 1, 7), (0, -1, 7), (1, 0, 1)],
)
def test_scan_matches_numpy(reverse_in: int, out_axis: int, length: int):
    rng = np.random.default_rng([reverse_in, out_axis + 1])
    feeds = {
        "init": rng.standard_normal(4).astype(np.float32),
        "x": rng.standard_normal((4, length)).astype(np.float32),
        "w": rng.standard_normal(4).astype(np.float32),
    }
    imported = import_onnx(scan_model(reverse_in, out_axis, length))
    args = [feeds[n] for n in imported.input_names]
    expected = _scan_reference(feeds, reverse_in, out_axis)
    for got in (compile(imported.module)(*args), interpret(imported.module, args)):
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-5, atol=1e-6)


def test_scan_on_axis_0_matches_the_reference():
    rng = np.random.default_rng(5)
    model = scan_model(0, 0)
    [axes] = [a for a in model.graph.node[0].attribute if a.name == "scan_input_axes"]
    axes.ints[:] = [0]
    model.graph.input[1].CopyFrom(_tensor("x", TensorProto.FLOAT, [7, 4]))
    feeds = {
        "init": rng.standard_normal(4).astype(np.float32),
        "x": rng.standard_normal((7, 4)).astype(np.float32),
        "w": rng.standard_normal(4).astype(np.float32),
    }
    _check(model, feeds)


def while_model() -> onnx.ModelProto:
    """Doubles x until its sum passes the limit or n iterations ran; counts them and keeps
    every iteration's x (scan outputs only with a known trip count: not here)."""
    body = helper.make_graph(
        [
            helper.make_node("Add", ["v", "v"], ["v_out"]),
            helper.make_node("ReduceSum", ["v_out"], ["total"], keepdims=0),
            helper.make_node("Less", ["total", "limit"], ["c_out"]),
        ],
        "body",
        [
            _tensor("i", TensorProto.INT64, []),
            _tensor("c", TensorProto.BOOL, []),
            _tensor("v", TensorProto.FLOAT, [3]),
        ],
        [_tensor("c_out", TensorProto.BOOL, []), _tensor("v_out", TensorProto.FLOAT, [3])],
    )
    go = helper.make_node(
        "Constant", [], ["go"], value=helper.make_tensor("t", TensorProto.BOOL, [], [True])
    )
    return _model(
        [go, helper.make_node("Loop", ["n", "go", "x"], ["y"], body=body)],
        [
            _tensor("n", TensorProto.INT64, []),
            _tensor("x", TensorProto.FLOAT, [3]),
            _tensor("limit", TensorProto.FLOAT, []),
        ],
        [_tensor("y", TensorProto.FLOAT, [3])],
    )


@pytest.mark.parametrize("n, limit", [(0, 100.0), (3, 1e9), (50, 100.0)])
def test_a_while_loop_matches_the_reference(n: int, limit: float):
    feeds = {
        "n": np.array(n, np.int64),
        "x": np.array([0.5, 0.25, 1e-30], np.float32),
        "limit": np.array(limit, np.float32),
    }
    _check(while_model(), feeds)


def _scan_body(step: onnx.NodeProto, seen: str) -> onnx.GraphProto:
    """A Loop body over v (3 floats) that goes on, carries `step`'s v_out and scans `seen`(v)."""
    return helper.make_graph(
        [step, helper.make_node(seen, ["v"], ["seen"])],
        "body",
        [
            _tensor("i", TensorProto.INT64, []),
            _tensor("c", TensorProto.BOOL, []),
            _tensor("v", TensorProto.FLOAT, [3]),
        ],
        [
            _tensor("c", TensorProto.BOOL, []),
            _tensor("v_out", TensorProto.FLOAT, [3]),
            _tensor("seen", TensorProto.FLOAT, [3]),
        ],
    )


@pytest.mark.parametrize("trips", [0, 1, 3])
def test_a_loop_of_known_trips_stacks_its_scan_output(trips: int):
    # The scan output is written in place at each iteration's row (dyn.update_slice); with
    # 0 trips it has no row (ONNX's Scan over an empty axis does not import: its take).
    body = _scan_body(helper.make_node("Add", ["v", "v"], ["v_out"]), "Neg")
    constants = [
        helper.make_node("Constant", [], ["n"], value=numpy_helper.from_array(np.int64(trips))),
        helper.make_node("Constant", [], ["go"], value=numpy_helper.from_array(np.array(True))),
    ]
    model = _model(
        [*constants, helper.make_node("Loop", ["n", "go", "x"], ["y", "all"], body=body)],
        [_tensor("x", TensorProto.FLOAT, [3])],
        [_tensor("y", TensorProto.FLOAT, [3]), _tensor("all", TensorProto.FLOAT, [trips, 3])],
    )
    x = np.array([0.5, -2.0, 3.0], np.float32)
    expected = [x * 2.0**trips, np.array([-x * 2.0**k for k in range(trips)]).reshape(trips, 3)]
    imported = import_onnx(model)  # (onnx's evaluator cannot stack 0 iterations)
    for got in (compile(imported.module)(x), interpret(imported.module, [x])):
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(np.asarray(g), e)


def test_a_long_loop_runs_in_constant_stack():
    imported = import_onnx(while_model())
    x = np.array([0.0, 0.0, 0.0], np.float32)  # stays below the limit: all n iterations run
    got = compile(imported.module)(np.array(300_000, np.int64), x, np.array(1.0, np.float32))
    np.testing.assert_array_equal(got, x)


def test_a_long_loop_with_scan_outputs_runs_in_constant_stack():
    """A run-time trip count with a scan output: the step function's result has a `?` axis,
    handed back through the caller's slot, and its call is still a tail call (a jump), so
    20,000 iterations pass RELAY_OPT_MAX_DEPTH (10,000)."""
    body = _scan_body(helper.make_node("Neg", ["v"], ["v_out"]), "Abs")
    go = helper.make_node("Constant", [], ["go"], value=numpy_helper.from_array(np.array(True)))
    model = _model(
        [go, helper.make_node("Loop", ["n", "go", "x"], ["y", "all"], body=body)],
        [_tensor("n", TensorProto.INT64, []), _tensor("x", TensorProto.FLOAT, [3])],
        [_tensor("y", TensorProto.FLOAT, [3]), _tensor("all", TensorProto.FLOAT, ["n", 3])],
    )
    imported = import_onnx(model)
    x = np.array([0.5, -2.0, 3.0], np.float32)
    exe = compile(imported.module)
    for trips in (3, 20_000):
        y, rows = exe(np.array(trips, np.int64), x)  # pyright: ignore[reportGeneralTypeIssues]
        np.testing.assert_array_equal(y, x * (-1) ** trips)
        np.testing.assert_array_equal(rows, np.broadcast_to(np.abs(x), (trips, 3)))


def reshape_model() -> onnx.ModelProto:
    return _model(
        [
            helper.make_node("Reshape", ["x", "shape"], ["r"]),
            helper.make_node("Relu", ["r"], ["y"]),
        ],
        [_tensor("x", TensorProto.FLOAT, [2, 3, 4]), _tensor("shape", TensorProto.INT64, [3])],
        [_tensor("y", TensorProto.FLOAT, ["a", "b", "c"])],
    )


def _relay_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["relay-run", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("shape", [[4, 3, 2], [0, -1, 2], [-1, 1, 1], [2, 0, 4]])
def test_relay_run_takes_reshapes_shape_at_run_time(tmp_path: Path, shape: list[int]):
    model = tmp_path / "reshape.onnx"
    onnx.save(reshape_model(), model)
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x, shape=np.array(shape, np.int64))
    r = _relay_run(str(model), "-i", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz"))
    assert r.returncode == 0, r.stderr
    feeds = {"x": x, "shape": np.array(shape, np.int64)}
    expected = ReferenceEvaluator(reshape_model()).run(None, feeds)[0]
    got = np.load(tmp_path / "out.npz")["y"]
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "shape, message",
    [
        ([5, 5, 1], "'dyn.reshape': the new shape has a different element count"),
        ([-4, -6, 1], "'dyn.reshape': a size of the new shape is negative"),
        ([0, -1, 5], "'dyn.reshape': the new shape has a different element count"),
    ],
)
def test_a_run_time_shape_that_does_not_fit_is_a_located_error(
    tmp_path: Path, shape: list[int], message: str
):
    model = tmp_path / "reshape.onnx"
    onnx.save(reshape_model(), model)
    x = np.zeros((2, 3, 4), np.float32)
    np.savez(tmp_path / "in.npz", x=x, shape=np.array(shape, np.int64))
    out = tmp_path / "out.npz"
    r = _relay_run(str(model), "-i", str(tmp_path / "in.npz"), "-o", str(out))
    assert r.returncode != 0 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def slice_model() -> onnx.ModelProto:
    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [1, 0])
    steps = helper.make_tensor("steps", TensorProto.INT64, [2], [2, 1])
    return _model(
        [
            helper.make_node("Constant", [], ["ax"], value=axes),
            helper.make_node("Constant", [], ["st"], value=steps),
            helper.make_node("Slice", ["x", "s", "e", "ax", "st"], ["y"]),
        ],
        [
            _tensor("x", TensorProto.FLOAT, [5, 6]),
            _tensor("s", TensorProto.INT64, [2]),
            _tensor("e", TensorProto.INT64, [2]),
        ],
        [_tensor("y", TensorProto.FLOAT, ["a", "b"])],
    )


@pytest.mark.parametrize(
    "starts, ends",
    [([1, 0], [5, 5]), ([-5, 1], [100, -1]), ([4, 3], [2, 1]), ([-100, -2], [2**62, 5])],
)
def test_slice_with_run_time_starts_and_ends(starts: list[int], ends: list[int]):
    x = np.random.default_rng(2).standard_normal((5, 6)).astype(np.float32)
    _check(slice_model(), {"x": x, "s": np.array(starts), "e": np.array(ends)})


def expand_model() -> onnx.ModelProto:
    fill = helper.make_tensor("fill", TensorProto.FLOAT, [1], [2.5])
    return _model(
        [
            helper.make_node("Expand", ["x", "s"], ["y"]),
            helper.make_node("ConstantOfShape", ["s"], ["z"], value=fill),
        ],
        [_tensor("x", TensorProto.FLOAT, [3, 1]), _tensor("s", TensorProto.INT64, [3])],
        [
            _tensor("y", TensorProto.FLOAT, ["a", "b", "c"]),
            _tensor("z", TensorProto.FLOAT, ["d", "e", "f"]),
        ],
    )


@pytest.mark.parametrize("shape", [[2, 3, 4], [2, 1, 4], [1, 1, 1], [0, 3, 2]])
def test_expand_and_constant_of_shape_take_the_shape_at_run_time(shape: list[int]):
    x = np.random.default_rng(3).standard_normal((3, 1)).astype(np.float32)
    _check(expand_model(), {"x": x, "s": np.array(shape, np.int64)})
