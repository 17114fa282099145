"""frontends/onnx/narrow.py: casts to float8, float4, int4 and int2 (carried in a wider dtype)
compiled to native code and folded while importing, value for value against ONNX's reference
evaluator (ml_dtypes) over every float8 value, the midpoints between them, overflow, infinity
and NaN. ONNX's node tests (test_onnx_backend.py) hold only a dozen values per format."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from relay_opt.frontends.onnx.narrow import NARROW
from relay_opt.runtime.onnx_backend import RelayOptBackend


def _sweep() -> np.ndarray:
    """Every float8 value of each format as float32, the midpoints between neighbours (the
    ties), their float32 neighbours, out-of-range values, infinities and NaN."""
    values = [
        np.arange(256, dtype=np.uint8).view(getattr(ml_dtypes, t)).astype(np.float32)
        for t in ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz")
    ]
    exact = np.unique(np.concatenate(values))
    exact = exact[np.isfinite(exact)]
    mid = (exact[:-1] + exact[1:]) / 2
    near = np.concatenate([np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf)])
    extra = np.array([1e-30, 1e6, 3e38, 500.0, 464.0, 61440.0, np.inf, -np.inf, np.nan])
    return np.concatenate([exact, mid, near, extra, -extra]).astype(np.float32)


def _cast_model(source: int, to: int, saturate: int, size: int) -> onnx.ModelProto:
    attrs = {"to": to, "saturate": saturate} if to in (17, 18, 19, 20) else {"to": to}
    node = helper.make_node("Cast", ["x"], ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", source, [size])],
        [helper.make_tensor_value_info("y", to, [size])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float32))


# (float4 always saturates: Cast's saturate attribute is for float8 only)
@pytest.mark.parametrize(
    ("to", "saturate"), [(to, s) for to in (17, 18, 19, 20) for s in (1, 0)] + [(23, 1)]
)
def test_cast_float_to_float_format(to: int, saturate: int) -> None:
    x = _sweep()
    model = _cast_model(TensorProto.FLOAT, to, saturate, len(x))
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    (got,) = RelayOptBackend.prepare(model).run([x])
    _same(got, want)
    # Folded while importing (numpy semantics of the same Relay operators).
    folded = RelayOptBackend.prepare(_constant_input(model, x)).run([])[0]
    _same(folded, want)


def _constant_input(model: onnx.ModelProto, x: np.ndarray) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.input[:]
    m.graph.initializer.append(onnx.numpy_helper.from_array(x, "x"))
    return m


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # the reference's
@pytest.mark.parametrize("to", [21, 22, 25, 26])
def test_cast_to_int_formats(to: int) -> None:
    f = np.array(
        [
            -17.5,
            -9,
            -8.9,
            -8,
            -2.5,
            -1,
            -0.5,
            0,
            0.7,
            1,
            1.9,
            3,
            7.9,
            8,
            15,
            16,
            1e9,
            np.inf,
            -np.inf,
            np.nan,
        ],
        np.float32,
    )
    i = np.array(
        [-300, -129, -17, -9, -8, -3, -2, -1, 0, 1, 2, 3, 7, 8, 15, 16, 17, 255, 1000], np.int32
    )
    for x, source in ((f, TensorProto.FLOAT), (i, TensorProto.INT32)):
        model = _cast_model(source, to, 1, len(x))
        (want,) = ReferenceEvaluator(model).run(None, {"x": x})
        (got,) = RelayOptBackend.prepare(model).run([x])
        assert got.dtype == want.dtype == NARROW[to].dtype
        np.testing.assert_array_equal(got.astype(np.int32), want.astype(np.int32))


def test_narrow_values_move_through_layout_operators() -> None:
    """A float8 input reshaped, then cast to float32: its dtype follows the value."""
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Cast", ["r"], ["y"], to=TensorProto.FLOAT),
        helper.make_node("CastLike", ["y", "r"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT8E5M2, [2, 3])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT8E5M2, [3, 2]),
        ],
        [onnx.numpy_helper.from_array(np.array([3, 2], np.int64), "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    x = np.array([[1, 2.5, -3], [0.125, 57344, -0.0]], np.float32).astype(ml_dtypes.float8_e5m2)
    y, z = RelayOptBackend.prepare(model).run([x])
    want_y, want_z = ReferenceEvaluator(model).run(None, {"x": x})
    _same(y, want_y)
    _same(z, want_z)
