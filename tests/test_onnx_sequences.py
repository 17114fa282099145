"""ONNX sequences and optionals as the prelude's List and Option (frontends/onnx/sequences.py),
compiled and interpreted, against onnx's reference evaluator (tests/test_onnx_backend.py runs
ONNX's node tests of them)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from relay_opt.diagnostics import RelayError
from relay_opt.frontends.onnx import import_onnx
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile
from relay_opt.runtime.onnx_backend import RelayOptBackend

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def _model(nodes, inputs, outputs, opset: int = 18) -> onnx.ModelProto:  # noqa: ANN001
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def _positions_model() -> onnx.ModelProto:
    """Every position operator at run-time positions, and the other list operators."""
    node = helper.make_node
    return _model(
        [
            node("SplitToSequence", ["x"], ["rows"], axis=0, keepdims=0),
            node("SequenceConstruct", ["x", "y"], ["s"]),
            node("SequenceInsert", ["s", "y", "at"], ["t"]),
            node("SequenceErase", ["t", "at"], ["u"]),
            node("ConcatFromSequence", ["u"], ["joined"], axis=0),
            node("ConcatFromSequence", ["rows"], ["stacked"], axis=1, new_axis=1),
            node("SequenceAt", ["t", "at"], ["picked"]),
            node("SequenceLength", ["t"], ["count"]),
        ],
        [
            helper.make_tensor_value_info("x", F, [2, 3]),
            helper.make_tensor_value_info("y", F, [1, 3]),
            helper.make_tensor_value_info("at", I64, []),
        ],
        [
            helper.make_tensor_value_info("joined", F, [3, 3]),
            helper.make_tensor_value_info("stacked", F, [3, 2]),
            helper.make_tensor_value_info("picked", F, ["r", 3]),
            helper.make_tensor_value_info("count", I64, []),
        ],
    )


@pytest.fixture(scope="module")
def positions():  # noqa: ANN201
    model = _positions_model()
    imported = import_onnx(model)
    return model, imported, compile(imported.module)


@pytest.mark.parametrize("at", [-2, 1])  # (the reference inserts at n at the front)
def test_positions_match_the_reference(positions, at: int) -> None:  # noqa: ANN001
    model, imported, exe = positions
    rng = np.random.default_rng(at + 5)
    feeds = {
        "x": rng.standard_normal((2, 3)).astype(np.float32),
        "y": rng.standard_normal((1, 3)).astype(np.float32),
        "at": np.array(at, np.int64),
    }
    expected = ReferenceEvaluator(model).run(None, feeds)
    args = [feeds[n] for n in imported.input_names]
    for got in (exe(*args), interpret(imported.module, args)):
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6)


def test_position_out_of_range_is_a_located_error(positions) -> None:  # noqa: ANN001
    _, imported, exe = positions
    x, y = np.zeros((2, 3), np.float32), np.zeros((1, 3), np.float32)
    with pytest.raises(RelayError, match=r"node 2 \(SequenceInsert\)"):
        exe(x, y, np.array(-5, np.int64))  # [x, y] takes an insertion at -2 to 2


def test_sequence_map_and_optionals_through_the_backend() -> None:
    """Python lists and None in and out: SequenceMap adds a tensor to each element of a
    list input; an optional input's element or, when it is None, the tensor."""
    body = helper.make_graph(
        [helper.make_node("Add", ["e", "b"], ["out"])],
        "body",
        [helper.make_tensor_value_info("e", F, ["n"]), helper.make_tensor_value_info("b", F, [3])],
        [helper.make_tensor_value_info("out", F, ["n"])],
    )
    seq = helper.make_tensor_sequence_value_info
    optional = helper.make_value_info(
        "o", helper.make_optional_type_proto(helper.make_tensor_type_proto(F, [3]))
    )
    model = _model(
        [
            helper.make_node("SequenceMap", ["xs", "b"], ["ys"], body=body),
            helper.make_node("OptionalHasElement", ["o"], ["has"]),
            helper.make_node(
                "If",
                ["has"],
                ["picked"],
                then_branch=helper.make_graph(
                    [helper.make_node("OptionalGetElement", ["o"], ["v"])],
                    "then",
                    [],
                    [helper.make_tensor_value_info("v", F, [3])],
                ),
                else_branch=helper.make_graph(
                    [helper.make_node("Identity", ["b"], ["w"])],
                    "else",
                    [],
                    [helper.make_tensor_value_info("w", F, [3])],
                ),
            ),
        ],
        [seq("xs", F, [3]), helper.make_tensor_value_info("b", F, [3]), optional],
        [seq("ys", F, [3]), helper.make_tensor_value_info("picked", F, [3])],
    )
    rep = RelayOptBackend.prepare(model)
    xs = [np.arange(3, dtype=np.float32) * k for k in range(4)]
    b = np.full(3, 0.5, np.float32)
    for given in (None, np.ones(3, np.float32)):
        ys, picked = rep.run([xs, b, given])
        assert isinstance(ys, list) and len(ys) == len(xs)
        for got, x in zip(ys, xs, strict=True):
            np.testing.assert_array_equal(got, x + b)
        np.testing.assert_array_equal(picked, b if given is None else given)
