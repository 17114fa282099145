"""ONNX ConvTranspose, GroupNormalization and BitShift beyond the ONNX node tests: attribute
combinations against onnx's reference evaluator (compiled), and bad nodes as diagnostics."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from relay_opt.frontends.onnx import OnnxImportError, import_onnx
from relay_opt.runtime.jit import compile


def _model(
    node, x_shape, y_shape, inits=(), opset: int = 21, dtype=TensorProto.FLOAT
) -> onnx.ModelProto:  # noqa: ANN001
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", dtype, x_shape)],
        [helper.make_tensor_value_info("y", dtype, y_shape)],
        list(inits),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _check(model: onnx.ModelProto, x: np.ndarray, want: np.ndarray | None = None) -> None:
    if want is None:
        want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    got = compile(import_onnx(model).module)(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _conv_transpose(attrs: dict, x_shape, w: np.ndarray, b: np.ndarray) -> onnx.ModelProto:  # noqa: ANN001
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)
    return _model(
        node, x_shape, None, [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    )


@pytest.mark.parametrize(
    "attrs, x_shape, w_shape",
    [
        (
            {
                "strides": [2, 3],
                "pads": [1, 0, 2, 1],
                "output_padding": [1, 2],
                "dilations": [1, 2],
            },
            (2, 4, 3, 3),
            (4, 1, 3, 2),
        ),
        ({"group": 2, "strides": [2, 2], "auto_pad": "SAME_LOWER"}, (1, 4, 3, 4), (4, 3, 3, 3)),
        (
            {"strides": [2, 2], "output_shape": [9, 8], "auto_pad": "SAME_UPPER"},
            (1, 2, 4, 3),
            (2, 3, 2, 2),
        ),  # negative padding
        ({"strides": [3], "pads": [1, 2], "group": 3}, (2, 3, 5), (3, 2, 4)),  # 1-d
        # Kernel = strides: the windows do not overlap (a U-Net's up-convolution), lowered
        # as a matmul per image and a pixel shuffle (groups and output padding: as above).
        ({"strides": [2, 2]}, (2, 8, 5, 6), (8, 4, 2, 2)),
        ({"strides": [3, 1]}, (1, 5, 2, 3), (5, 3, 3, 1)),
        ({"strides": [3, 2], "group": 2}, (2, 4, 3, 2), (4, 3, 3, 2)),
        ({"strides": [2, 2], "output_padding": [1, 0]}, (1, 3, 2, 3), (3, 2, 2, 2)),
        # 3-d: one 2-d transpose per kernel depth, placed along the output depth
        (
            {"strides": [2, 1, 2], "pads": [1, 0, 1, 0, 1, 0], "dilations": [2, 1, 1]},
            (1, 2, 3, 2, 3),
            (2, 2, 2, 2, 2),
        ),
    ],
)
def test_conv_transpose_against_the_reference(attrs, x_shape, w_shape):
    rng = np.random.default_rng(0)
    groups = attrs.get("group", 1)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[1] * groups).astype(np.float32)
    # onnx's reference evaluator mishandles group > 1: run it one group at a time.
    per_group = {k: v for k, v in attrs.items() if k != "group"}
    cin, cout = x_shape[1] // groups, w_shape[1]
    want = np.concatenate(
        [
            ReferenceEvaluator(
                _conv_transpose(
                    per_group,
                    (x_shape[0], cin, *x_shape[2:]),
                    w[g * cin : (g + 1) * cin],
                    b[g * cout : (g + 1) * cout],
                )
            ).run(None, {"x": x[:, g * cin : (g + 1) * cin]})[0]
            for g in range(groups)
        ],
        axis=1,
    )
    _check(_conv_transpose(attrs, x_shape, w, b), x, want)


def test_group_normalization_opset_18_scales_per_group():
    rng = np.random.default_rng(1)
    scale, bias = (
        rng.standard_normal(2).astype(np.float32),
        rng.standard_normal(2).astype(np.float32),
    )
    node = helper.make_node(
        "GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2, epsilon=1e-3
    )
    model = _model(
        node,
        (2, 6, 3),
        (2, 6, 3),
        [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(bias, "b")],
        opset=18,
    )
    _check(model, rng.standard_normal((2, 6, 3)).astype(np.float32))


@pytest.mark.parametrize(
    "node, x_shape, inits, message",
    [
        (
            helper.make_node("BitShift", ["x", "x"], ["y"], direction="UP"),
            (3,),
            [],
            "direction must be LEFT or RIGHT",
        ),
        (
            helper.make_node("GroupNormalization", ["x", "s", "s"], ["y"], num_groups=4),
            (1, 6, 2),
            [numpy_helper.from_array(np.ones(6, np.float32), "s")],
            "6 channels do not split into num_groups=4",
        ),
        (
            helper.make_node("ConvTranspose", ["x", "w"], ["y"], pads=[1, 1]),
            (1, 2, 3, 3),
            [numpy_helper.from_array(np.ones((2, 1, 2, 2), np.float32), "w")],
            "pads has 2 values, expected 4",
        ),
    ],
)
def test_bad_nodes_are_diagnostics(node, x_shape, inits, message):
    dtype = TensorProto.UINT8 if node.op_type == "BitShift" else TensorProto.FLOAT
    with pytest.raises(OnnxImportError, match=message):
        import_onnx(_model(node, x_shape, None, inits, dtype=dtype))
