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


def _e8m0_sweep() -> np.ndarray:
    """Every E8M0 power of two as float32, the ties of `nearest` (1.5 times them), their
    float32 neighbours, float32 subnormals, 0, negatives, out-of-range values, inf, NaN."""
    powers = np.arange(255, dtype=np.uint8).view(ml_dtypes.float8_e8m0fnu).astype(np.float32)
    ties = (powers[:-1] * 1.5).astype(np.float32)
    near = np.concatenate([np.nextafter(v, w) for v in (powers, ties) for w in (0, np.inf)])
    extra = [0.0, -0.0, -1.0, -3e-39, 1e-45, 2.0**-128, 3e38, np.inf, -np.inf, np.nan]
    return np.concatenate([powers, ties, near, np.array(extra, np.float32)])


def _e8m0_round_trip(saturate: int, round_mode: str, size: int) -> onnx.ModelProto:
    """x cast to E8M0 and back to float32: onnxruntime runs the cast but gives no E8M0
    arrays, and the way back is exact."""
    nodes = [
        helper.make_node(
            "Cast",
            ["x"],
            ["e"],
            to=TensorProto.FLOAT8E8M0,
            saturate=saturate,
            round_mode=round_mode,
        ),
        helper.make_node("Cast", ["e"], ["y"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [size])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])
    model.ir_version = 11
    return model


@pytest.mark.parametrize("round_mode", ["up", "down", "nearest"])
@pytest.mark.parametrize("saturate", [1, 0])
def test_cast_to_e8m0_as_onnxruntime(saturate: int, round_mode: str) -> None:
    """Cast's E8M0 table (onnxruntime follows it, ONNX's numpy reference does not at 0,
    negatives, inf and subnormals), natively and folded."""
    ort = pytest.importorskip("onnxruntime")
    x = _e8m0_sweep()
    model = _e8m0_round_trip(saturate, round_mode, len(x))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"x": x})
    (got,) = RelayOptBackend.prepare(model).run([x])
    np.testing.assert_array_equal(got, want)
    folded = RelayOptBackend.prepare(_constant_input(model, x)).run([])[0]
    np.testing.assert_array_equal(folded, want)


def test_e8m0_values_in_and_out() -> None:
    """E8M0 arrays cross the boundary as ml_dtypes arrays, exactly (2^-127 is a float32
    subnormal), and an unknown round_mode is an import error naming it."""
    e = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e8m0fnu)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT8E8M0, [256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT8E8M0, [256])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])
    (got,) = RelayOptBackend.prepare(model).run([e])
    assert got.dtype == e.dtype
    np.testing.assert_array_equal(got.view(np.uint8), e.view(np.uint8))
    bad = _e8m0_round_trip(1, "sideways", 2)
    with pytest.raises(Exception, match="round_mode 'sideways' is none of up, down, nearest"):
        RelayOptBackend.prepare(bad)


def _e8m0_scaled_model(output_dtype: int | None) -> onnx.ModelProto:
    out = {} if output_dtype is None else {"output_dtype": output_dtype}
    nodes = [
        helper.make_node("DequantizeLinear", ["q", "s"], ["y"], axis=0, **out),
        helper.make_node(
            "QuantizeLinear", ["x", "s"], ["z"], axis=0, output_dtype=TensorProto.INT8
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("q", TensorProto.INT8, [2, 64]),
            helper.make_tensor_value_info("s", TensorProto.FLOAT8E8M0, [2]),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64]),
        ],
        [
            helper.make_tensor_value_info("y", output_dtype or TensorProto.FLOAT8E8M0, [2, 64]),
            helper.make_tensor_value_info("z", TensorProto.INT8, [2, 64]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])


def test_quantize_with_e8m0_scales() -> None:
    """MX-style per-row power-of-two scales (E8M0) for QuantizeLinear and DequantizeLinear,
    against ONNX's reference (onnxruntime implements neither with them); a dequantized
    result left in E8M0 (no output_dtype) is refused by name."""
    rng = np.random.default_rng(17)
    q = rng.integers(-128, 128, (2, 64)).astype(np.int8)
    s = np.array([2.0**-3, 2.0**4], np.float32).astype(ml_dtypes.float8_e8m0fnu)
    x = (rng.standard_normal((2, 64)) * [[10], [2000]]).astype(np.float32)
    model = _e8m0_scaled_model(TensorProto.FLOAT)
    want = ReferenceEvaluator(model).run(None, {"q": q, "s": s, "x": x})
    got = RelayOptBackend.prepare(model).run([q, s, x])
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    with pytest.raises(Exception, match="a dequantized result in FLOAT8E8M0"):
        RelayOptBackend.prepare(_e8m0_scaled_model(None))
