"""ONNX Col2Im (frontends/onnx/ops.py: ConvTranspose with a one-hot kernel) compiled to native
code against ONNX's reference, where the stride leaves the image's last rows and columns to
no block (ONNX's node tests have none such)."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from relay_opt.runtime.onnx_backend import RelayOptBackend


def test_col2im_stride_leaves_a_margin() -> None:
    h, w, kh, kw, s = 8, 7, 2, 3, 2
    pads = [1, 0, 0, 1]  # top, left, bottom, right
    lh = (h + pads[0] + pads[2] - (kh - 1) - 1) // s + 1
    lw = (w + pads[1] + pads[3] - (kw - 1) - 1) // s + 1
    x = np.random.default_rng(0).standard_normal((2, 3 * kh * kw, lh * lw)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Col2Im", ["x", "i", "b"], ["y"], strides=[s, s], pads=pads)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, h, w])],
        [
            helper.make_tensor("i", TensorProto.INT64, [2], [h, w]),
            helper.make_tensor("b", TensorProto.INT64, [2], [kh, kw]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    (got,) = RelayOptBackend.prepare(model).run([x])
    assert got.shape == want.shape == (2, 3, h, w)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
