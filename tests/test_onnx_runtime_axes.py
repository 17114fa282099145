"""ONNX axes and steps given as run-time tensors (frontends/onnx/runtime_axes.py): Reduce*,
Squeeze, Unsqueeze and Slice import from their inputs alone, compile once and match numpy at
several axes, natively and in the interpreter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile


def _model(tmp_path: Path, op: str, inputs: dict[str, tuple[int, list[int]]], opset: int, **attrs):
    import onnx
    from onnx import helper

    graph = helper.make_graph(
        [helper.make_node(op, list(inputs), ["y"], **attrs)],
        op.lower(),
        [helper.make_tensor_value_info(k, t, s) for k, (t, s) in inputs.items()],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return load_program(path).module


def _check(module, exe, *args: np.ndarray, want: np.ndarray) -> None:
    names = ["x", "a", "b", "c", "d"][: len(args)]
    for got in (exe(*args), interpret(module, dict(zip(names, args, strict=True)))):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _lse(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    return np.log(np.exp(x.astype(np.float64)).sum(axis=axis, keepdims=keepdims))


@pytest.mark.parametrize(
    ("op", "opset", "keepdims", "shape", "all_axes"),
    [
        # one `if` per axis (none for the axis of size 1)
        ("ReduceSum", 13, 1, [2, 1, 3], ((0, 2), (-1, 1), (2, 0))),
        # max, then sum of exp(x - max) (`?` dims broadcast), then the reduced axis dropped
        ("ReduceLogSumExp", 18, 0, [2, 3], ((1,), (-2,))),
    ],
)
def test_reduce_over_run_time_axes(tmp_path: Path, op, opset, keepdims, shape, all_axes):
    from onnx import TensorProto

    reference = np.sum if op == "ReduceSum" else _lse
    inputs = {"x": (TensorProto.FLOAT, shape), "a": (TensorProto.INT64, [len(all_axes[0])])}
    module = _model(tmp_path, op, inputs, opset, keepdims=keepdims)
    exe = compile(module, opt=1, cache=False)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for axes in all_axes:
        want = reference(x, axis=axes, keepdims=bool(keepdims)).astype(np.float32)
        _check(module, exe, x, np.array(axes, np.int64), want=want)


def test_reduce_over_an_empty_axes_tensor_keeps_its_meaning(tmp_path: Path):
    from onnx import TensorProto

    inputs = {"x": (TensorProto.FLOAT, [2, 3]), "a": (TensorProto.INT64, [0])}
    x, none = np.ones((2, 3), np.float32), np.zeros(0, np.int64)
    module = _model(tmp_path, "ReduceMax", inputs, 18, noop_with_empty_axes=1)
    np.testing.assert_array_equal(interpret(module, {"x": x, "a": none}), x)
    module = _model(tmp_path, "ReduceMax", inputs, 18, keepdims=0)  # all axes
    assert interpret(module, {"x": x, "a": none}).shape == ()


@pytest.mark.parametrize("op", ["Squeeze", "Unsqueeze"])
def test_squeeze_and_unsqueeze_of_run_time_axes(tmp_path: Path, op):
    from onnx import TensorProto

    shape = [3, 1, 2, 1] if op == "Squeeze" else [3, 2]
    inputs = {"x": (TensorProto.FLOAT, shape), "a": (TensorProto.INT64, [2])}
    module = _model(tmp_path, op, inputs, 13)
    exe = compile(module, opt=1, cache=False)
    x = np.arange(6, dtype=np.float32).reshape(shape)
    for axes in ((1, 3), (-1, 1)) if op == "Squeeze" else ((0, 3), (-1, 1), (2, 0)):
        want = np.squeeze(x, axes) if op == "Squeeze" else np.expand_dims(x, axes)
        _check(module, exe, x, np.array(axes, np.int64), want=want)
    if op == "Squeeze":  # an axis whose size is not 1
        with pytest.raises(RelayError, match="dyn.reshape"):
            exe(x, np.array([0, 1], np.int64))


def test_slice_of_run_time_axes_and_steps(tmp_path: Path):
    from onnx import TensorProto

    ints = TensorProto.INT64
    inputs = {"x": (TensorProto.FLOAT, [4, 5]), "a": (ints, [1]), "b": (ints, [1])}
    inputs |= {"c": (ints, [1]), "d": (ints, [1])}
    module = _model(tmp_path, "Slice", inputs, 13)
    exe = compile(module, opt=1, cache=False)
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    for start, end, axis, step in ((1, 9, 1, 2), (-1, -9, 0, -1), (3, 0, -1, -2), (7, 8, 0, 1)):
        index = [slice(None)] * 2
        index[axis] = slice(start, end, step)
        args = (np.array([v], np.int64) for v in (start, end, axis, step))
        _check(module, exe, x, *args, want=x[tuple(index)])
    with pytest.raises(RelayError, match="step"):
        exe(x, *(np.array([v], np.int64) for v in (0, 2, 0, 0)))


def test_unsqueeze_and_reshape_of_data_with_dynamic_dims(tmp_path: Path):
    # constant axes and shape, a symbolic dim: expand_dims keeps the `?` size (a reshape
    # needs it), Relay's reshape infers the -1 at run time (it was a constant (0, 2))
    import onnx
    from onnx import TensorProto, helper

    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [0, -1])
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 2])
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["a"], value=axes),
            helper.make_node("Unsqueeze", ["x", "a"], ["u"]),
            helper.make_node("Constant", [], ["s"], value=shape),
            helper.make_node("Reshape", ["u", "s"], ["y"]),
        ],
        "unsqueeze",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    module = load_program(path).module
    exe = compile(module, opt=1, cache=False)
    for n in (1, 3):
        x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
        _check(module, exe, x, want=x.reshape(-1, 2))
