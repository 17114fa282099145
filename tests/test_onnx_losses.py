"""frontends/onnx/losses.py: each decomposition compiled to native code against onnx's reference
evaluator on random inputs (tests/test_onnx_backend.py runs ONNX's own node tests of them)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from relay_opt.frontends.onnx import OnnxImportError, import_onnx
from relay_opt.runtime.jit import compile

_ONNX_TYPES = {
    np.dtype(t): helper.np_dtype_to_tensor_dtype(np.dtype(t))
    for t in (np.float32, np.float64, np.int32, np.int64, np.int8)
}


def _model(
    node: onnx.NodeProto,
    inputs: dict[str, np.ndarray],
    outputs: Sequence[str],
    inits: dict[str, np.ndarray] | None = None,
    opset: int = 18,
) -> onnx.ModelProto:
    """A one-node model; its outputs have the first input's dtype, their shapes are not given."""
    out_type = _ONNX_TYPES[next(iter(inputs.values())).dtype]
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(k, _ONNX_TYPES[v.dtype], v.shape)
            for k, v in inputs.items()
        ],
        [helper.make_tensor_value_info(o, out_type, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.checker.check_model(model)
    return model


def _check(
    model: onnx.ModelProto,
    inputs: dict[str, np.ndarray],
    rtol: float = 1e-5,
    atol: float = 1e-6,
    onnxruntime: bool = False,
) -> None:
    if onnxruntime:
        import onnxruntime as ort

        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        expected = session.run(None, inputs)
    else:
        expected = ReferenceEvaluator(model).run(None, inputs)
    exe = compile(import_onnx(model).module)
    got = exe(*inputs.values())
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        e = np.asarray(e)
        assert g.dtype == e.dtype and g.shape == e.shape, (g.dtype, g.shape, e.dtype, e.shape)
        if np.issubdtype(e.dtype, np.integer):
            np.testing.assert_array_equal(g, e)
        else:
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# -- NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss ---------------------------------------


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("ignore_index", [None, 1, -5])
def test_nll_weight_ignore_index(
    rng: np.random.Generator, reduction: str, ignore_index: int | None
) -> None:
    x = rng.standard_normal((3, 4, 2, 5)).astype(np.float32)
    target = rng.integers(0, 4, (3, 2, 5)).astype(np.int64)
    if ignore_index is not None:
        target[0, 0, :3] = ignore_index
    weight = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    attrs = {} if ignore_index is None else {"ignore_index": ignore_index}
    node = helper.make_node(
        "NegativeLogLikelihoodLoss", ["x", "t", "w"], ["loss"], reduction=reduction, **attrs
    )
    inputs = {"x": x, "t": target, "w": weight}
    _check(_model(node, inputs, ["loss"]), inputs)


def test_nll_mean_without_weight_divides_by_the_kept_count(rng: np.random.Generator) -> None:
    x = rng.standard_normal((6, 3)).astype(np.float64)
    target = np.array([0, 2, 1, 2, 2, 0], np.int32)
    node = helper.make_node("NegativeLogLikelihoodLoss", ["x", "t"], ["loss"], ignore_index=2)
    inputs = {"x": x, "t": target}
    _check(_model(node, inputs, ["loss"]), inputs)
    expected = -(x[0, 0] + x[2, 1] + x[5, 0]) / 3
    got = compile(import_onnx(_model(node, inputs, ["loss"])).module)(x, target)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_softmax_cross_entropy_with_log_prob(rng: np.random.Generator, reduction: str) -> None:
    scores = rng.standard_normal((2, 5, 3)).astype(np.float32)
    labels = rng.integers(0, 5, (2, 3)).astype(np.int64)
    labels[1, 2] = -1
    weight = rng.uniform(0.5, 2.0, 5).astype(np.float32)
    node = helper.make_node(
        "SoftmaxCrossEntropyLoss",
        ["s", "l", "w"],
        ["loss", "log_prob"],
        reduction=reduction,
        ignore_index=-1,
    )
    inputs = {"s": scores, "l": labels, "w": weight}
    _check(_model(node, inputs, ["loss", "log_prob"]), inputs)


def test_softmax_cross_entropy_default_mean(rng: np.random.Generator) -> None:
    scores = rng.standard_normal((4, 7)).astype(np.float32)
    labels = rng.integers(0, 7, (4,)).astype(np.int32)
    node = helper.make_node("SoftmaxCrossEntropyLoss", ["s", "l"], ["loss"])
    inputs = {"s": scores, "l": labels}
    _check(_model(node, inputs, ["loss"]), inputs)


def test_bad_reduction_is_an_error(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3)).astype(np.float32)
    node = helper.make_node("NegativeLogLikelihoodLoss", ["x", "t"], ["loss"], reduction="max")
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape),
            helper.make_tensor_value_info("t", onnx.TensorProto.INT64, [2]),
        ],
        [helper.make_tensor_value_info("loss", onnx.TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(OnnxImportError, match="reduction 'max'"):
        import_onnx(model)


# -- CumSum -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32])
@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumsum(
    rng: np.random.Generator, dtype: type, exclusive: int, reverse: int, axis: int
) -> None:
    if np.issubdtype(dtype, np.integer):
        # Large enough that a float accumulation would round: the integer path must be exact.
        x = rng.integers(-(2**24), 2**24, (3, 5, 4)).astype(dtype)
    else:
        x = rng.standard_normal((3, 5, 4)).astype(dtype)
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)
    model = _model(node, {"x": x}, ["y"], {"axis": np.array(axis, np.int64)})
    _check(model, {"x": x})


# -- Swish, Shrink ----------------------------------------------------------------------------


def test_swish(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 8)).astype(np.float32)
    node = helper.make_node("Swish", ["x"], ["y"], alpha=1.5)
    _check(_model(node, {"x": x}, ["y"], opset=24), {"x": x})


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_shrink(rng: np.random.Generator, dtype: type) -> None:
    x = (rng.standard_normal((4, 6)) * 3).astype(dtype)
    node = helper.make_node("Shrink", ["x"], ["y"], lambd=1.5, bias=0.75)
    _check(_model(node, {"x": x}, ["y"]), {"x": x})


# -- LpPool -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "attrs"),
    [
        ((1, 2, 9, 8), dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1], p=3)),
        ((1, 2, 9, 8), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, p=2)),
        ((2, 3, 11), dict(kernel_shape=[3], strides=[2], dilations=[2], p=1)),
        (
            (1, 2, 5, 6, 7),
            dict(kernel_shape=[2, 3, 2], strides=[1, 2, 2], auto_pad="SAME_UPPER", p=2),
        ),
    ],
)
def test_lp_pool(
    rng: np.random.Generator, shape: tuple[int, ...], attrs: dict[str, object]
) -> None:
    # Against onnxruntime: onnx's ReferenceEvaluator scales an average over the cells inside the
    # input by the window size (its own comment calls it a known difference), which is not the
    # spec's sum where a window overlaps padding; ONNX's node tests and onnxruntime sum.
    x = rng.standard_normal(shape).astype(np.float32)
    node = helper.make_node("LpPool", ["x"], ["y"], **attrs)
    _check(_model(node, {"x": x}, ["y"]), {"x": x}, rtol=1e-4, atol=1e-5, onnxruntime=True)
