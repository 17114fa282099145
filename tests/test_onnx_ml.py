"""frontends/onnx/ml.py: ai.onnx.ml operators compiled to native code against onnxruntime
(ONNX's node tests cover only ArrayFeatureExtractor and Binarizer of these)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from relay_opt.frontends.onnx import OnnxImportError, import_onnx
from relay_opt.runtime.onnx_backend import RelayOptBackend


def _model(node: onnx.NodeProto, x_shape: list[int], y_shape: list[int]) -> onnx.ModelProto:
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 3)],
    )


def _check(model: onnx.ModelProto, x: np.ndarray) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"x": x})
    (got,) = RelayOptBackend.prepare(model).run([x])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


X = np.random.default_rng(7).standard_normal((5, 4)).astype(np.float32)
X[3] = 0  # a row whose norm is 0 stays as it is


def test_scaler() -> None:
    node = helper.make_node(
        "Scaler", ["x"], ["y"], domain="ai.onnx.ml", offset=[0.5, -1, 0, 2], scale=[2.0, 1, -0.5, 3]
    )
    _check(_model(node, [5, 4], [5, 4]), X)


@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
def test_normalizer(norm: str) -> None:
    node = helper.make_node("Normalizer", ["x"], ["y"], domain="ai.onnx.ml", norm=norm)
    _check(_model(node, [5, 4], [5, 4]), X)


def test_linear_regressor() -> None:
    node = helper.make_node(
        "LinearRegressor",
        ["x"],
        ["y"],
        domain="ai.onnx.ml",
        coefficients=[0.5, -1, 2, 0.25, 1, 1, -3, 0],
        intercepts=[0.1, -0.2],
        targets=2,
    )
    _check(_model(node, [5, 4], [5, 2]), X)


def test_array_feature_extractor_of_a_vector_is_one_row() -> None:
    node = helper.make_node("ArrayFeatureExtractor", ["x", "i"], ["y"], domain="ai.onnx.ml")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor("i", TensorProto.INT64, [3], [3, 0, 3])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 3)],
    )
    _check(model, X[0])


def test_a_domain_the_model_does_not_import_is_an_error() -> None:
    node = helper.make_node("Binarizer", ["x"], ["y"], domain="ai.onnx.ml")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(OnnxImportError, match="does not import the operator domain 'ai.onnx.ml'"):
        import_onnx(model)


@pytest.mark.parametrize("aggregate", [0, 2])  # AVERAGE (a sum, then a division), MIN
def test_tree_ensemble_every_branch_mode(aggregate: int) -> None:
    # tree 0: x0 <= 0 ? (x1 in {1, 3} ? l0 : l1) : (x2 > 0.5 or nan ? l2 : (x3 != 0 ? l3 : l4));
    # tree 1: x1 < -0.2 ? l5 : l6; tree 2 is one leaf (l7) behind an EQ node
    def tensor(name: str, values: list[float], dtype: int = TensorProto.FLOAT) -> onnx.TensorProto:
        return helper.make_tensor(name, dtype, [len(values)], values)

    node = helper.make_node(
        "TreeEnsemble",
        ["x"],
        ["y"],
        domain="ai.onnx.ml",
        nodes_modes=tensor("m", [0, 6, 3, 5, 1, 4], TensorProto.UINT8),
        nodes_featureids=[0, 1, 2, 3, 1, 0],
        nodes_splits=tensor("s", [0.0, 0.0, 0.5, 0.0, -0.2, 0.0]),
        nodes_truenodeids=[1, 0, 2, 3, 5, 7],
        nodes_trueleafs=[0, 1, 1, 1, 1, 1],
        nodes_falsenodeids=[2, 1, 3, 4, 6, 7],
        nodes_falseleafs=[0, 1, 0, 1, 1, 1],
        nodes_missing_value_tracks_true=[0, 0, 1, 0, 0, 0],
        membership_values=tensor("v", [1.0, 3.0, float("nan")]),
        leaf_targetids=[0, 0, 1, 0, 1, 1, 0, 1],
        leaf_weights=tensor("w", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]),
        tree_roots=[0, 4, 5],
        n_targets=2,
        aggregate_function=aggregate,
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [6, 2])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)]
    )
    x = np.array(
        [
            [-1, 3, 0, 0],
            [-1, 2, 0, 0],
            [1, -1, float("nan"), 0],
            [1, 0, 0.25, 2],
            [1, 0, 0.75, 0],
            [0, 1, 0.5, 0],
        ],
        np.float32,
    )
    _check(model, x)
