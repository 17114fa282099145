"""MaxPool's Indices output (frontends/onnx/ops.py) compiled to native code against
onnxruntime, with padding, dilations, ceil_mode and both storage orders together."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from relay_opt.runtime.onnx_backend import RelayOptBackend


@pytest.mark.parametrize("storage_order", [0, 1])
def test_maxpool_indices(storage_order: int) -> None:
    import onnxruntime as ort

    # Distinct values: the first-of-equals rule is not what this compares.
    x = np.random.default_rng(5).permutation(2 * 3 * 9 * 8).astype(np.float32)
    x = x.reshape(2, 3, 9, 8)
    node = helper.make_node(
        "MaxPool",
        ["x"],
        ["y", "i"],
        kernel_shape=[3, 2],
        strides=[2, 3],
        pads=[1, 0, 1, 1],
        dilations=[1, 2],
        ceil_mode=1,
        storage_order=storage_order,
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("i", TensorProto.INT64, None),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want_y, want_i = session.run(None, {"x": x})
    got_y, got_i = RelayOptBackend.prepare(model).run([x])
    np.testing.assert_array_equal(got_y, want_y)
    assert got_i.dtype == np.int64
    np.testing.assert_array_equal(got_i, want_i)
