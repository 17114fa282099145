"""3-d Conv, MaxPool and AveragePool (frontends/onnx/ops.py: sums of 2-d convolutions, two
2-d pools) compiled to native code against onnxruntime, with uneven padding, strides,
dilations, groups and ceil_mode together (ONNX's node tests take them one at a time)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from relay_opt.runtime.onnx_backend import RelayOptBackend

RNG = np.random.default_rng(3)
X = RNG.standard_normal((2, 4, 7, 6, 9)).astype(np.float32)


def _run_both(node: onnx.NodeProto, inits: dict[str, np.ndarray]) -> None:
    import onnxruntime as ort

    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(X.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"x": X})
    (got,) = RelayOptBackend.prepare(model).run([X])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv3d_grouped_strided_dilated_uneven_pads() -> None:
    w = RNG.standard_normal((6, 2, 3, 2, 3)).astype(np.float32)
    b = RNG.standard_normal(6).astype(np.float32)
    node = helper.make_node(
        "Conv",
        ["x", "w", "b"],
        ["y"],
        group=2,
        strides=[2, 1, 2],
        dilations=[2, 1, 1],
        pads=[1, 0, 2, 2, 1, 0],
    )
    _run_both(node, {"w": w, "b": b})


@pytest.mark.parametrize(
    "attrs", [{}, {"count_include_pad": 0}, {"count_include_pad": 1}], ids=["max", "avg", "avg-pad"]
)
def test_pool3d_ceil_mode_uneven_pads(attrs: dict[str, int]) -> None:
    op = "AveragePool" if attrs else "MaxPool"
    node = helper.make_node(
        op,
        ["x"],
        ["y"],
        kernel_shape=[3, 2, 3],
        strides=[2, 2, 3],
        pads=[1, 0, 1, 0, 1, 1],
        dilations=[1, 2, 1],
        ceil_mode=1,
        **attrs,
    )
    _run_both(node, {})
