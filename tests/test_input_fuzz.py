"""Input fuzzing (relay_opt.fuzz.inputs): mutated Relay text, MLIR and ONNX models through the
three tools give clean errors or results, never a traceback, an internal error, a signal or a
hang; and the bugs it found, one test each."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from relay_opt.fuzz import inputs
from relay_opt.loader import LoadError, load_program


@pytest.mark.parametrize("fmt", ["relay", "mlir", "onnx"])
def test_mutated_inputs_give_no_findings(fmt: str) -> None:
    # Each mutant through one of the three tools in turn; a fixed seed, so a failure here is
    # reproduced by `python -m relay_opt.fuzz.inputs --format FMT --seed 7 --count 200
    # --rotate`.
    report = inputs.run(fmt, 200, seed=7, timeout=30, rotate=True)
    assert report.count == 200 and report.calls == 200
    assert report.classes["error"] > 0  # the mutants do reach the tools' error paths
    assert not report.findings, report.summary()


def test_mutants_are_reproducible_and_seeds_exist() -> None:
    for fmt in ("relay", "mlir", "onnx"):
        assert len(inputs.seeds_of(fmt)) >= 10
    first = list(inputs.mutants("mlir", 20, seed=3))
    again = list(inputs.mutants("mlir", 20, seed=3))
    assert first == again
    assert len({m[2] for m in first}) > 15  # and they differ from each other


def test_classify() -> None:
    ok = (0, 10, "", "")
    assert inputs.classify("done", ok, [], "/nonexistent")[0] == "success"
    clean = (1, 0, "x.rly:1:2: error: expected ')'\n", "")
    assert inputs.classify("done", clean, [], "/nonexistent")[0] == "error"
    internal = (2, 0, "relay-opt: internal error: TypeError: bad\n", "")
    assert inputs.classify("done", internal, [], "/nonexistent")[0] == "internal-error"
    escaped = (None, 0, "", "Traceback (most recent call last):\n ...\nSystemError\n")
    assert inputs.classify("done", escaped, [], "/nonexistent")[0] == "traceback"
    assert inputs.classify("done", (0, 0, "x: error: no\n", ""), [], "/x")[0] == "exit0-error"
    assert inputs.classify("done", (1, 0, "", ""), [], "/nonexistent")[0] == "silent-error"
    assert inputs.classify("done", ok, ["out.mlir.tmp"], "/x")[0] == "half-written"
    assert inputs.classify("done", clean, [], __file__)[0] == "half-written"
    assert inputs.classify("signal", (11,), [], "/x")[0] == "signal"
    assert inputs.classify("hang", (), [], "/x")[0] == "hang"


# -- what the fuzzer found ----------------------------------------------------------------


def test_unclosed_string_in_mlir_is_an_error_not_a_hang() -> None:
    # xDSL's string-literal regex backtracked exponentially on a '"' not closed on its line.
    code = (
        "from relay_opt.loader import LoadError, load_program\n"
        "text = 'relay.func @f(%x: tensor<f32>) -> tensor<f32> {\\n'"
        " '  %0 = relay.add %x, %x : (tensor<f32>,\" tensor<f32>) -> tensor<f32>, extra: ()\\n}'\n"
        "try:\n    load_program(text, format='mlir')\n"
        "except LoadError as e:\n    print(e)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "error: End of file reached before closing string literal" in r.stdout


def test_type_mismatch_in_a_declarative_format_is_located() -> None:
    # xDSL raises a VerifyException from inside the parser; it escaped load_program.
    text = (
        "func.func @f(%a: f32) -> f32 {\n  %s = arith.addf %a, %a : i8\n  func.return %s : f32\n}\n"
    )
    with pytest.raises(LoadError) as e:
        load_program(text, format="mlir", filename="t.mlir")
    assert str(e.value).startswith("t.mlir:2:3: error: Unexpected attribute i8")


def _model(nodes, inits=(), x_shape=(1, 1, 4, 4), y_shape=None, opset: int = 13) -> bytes:  # noqa: ANN001
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
        list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model.SerializeToString()


def _onnx_error(data: bytes) -> str:
    with pytest.raises(LoadError) as e:
        load_program(data, format="onnx", filename="m.onnx")
    return str(e.value)


def test_onnx_attribute_of_the_wrong_type() -> None:
    from onnx import helper

    node = helper.make_node("Softmax", ["x"], ["y"])
    node.attribute.append(helper.make_attribute("axis", [1.0, 2.0]))
    assert _onnx_error(_model([node])) == (
        "m.onnx: error: node 0 (Softmax): attribute 'axis' must be INT, not FLOATS\n"
    )


def test_onnx_attribute_given_twice() -> None:
    from onnx import helper

    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[1, 1])
    node.attribute.append(helper.make_attribute("strides", 2))
    assert _onnx_error(_model([node])) == (
        "m.onnx: error: node 0 (MaxPool): attribute 'strides' is given twice\n"
    )


def test_onnx_required_attribute_and_inputs() -> None:
    from onnx import helper, numpy_helper

    pool = helper.make_node("MaxPool", ["x"], ["y"], name="p")
    assert "node 0 'p' (MaxPool): attribute 'kernel_shape' is required" in _onnx_error(
        _model([pool])
    )
    pad = helper.make_node("Pad", ["x"], ["y"])
    assert "node 0 (Pad): 1 inputs given, Pad takes 2 to 3" in _onnx_error(_model([pad]))
    w = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
    conv = helper.make_node("Conv", ["", "w"], ["y"])
    assert "node 0 (Conv): input 0 ('X') is required" in _onnx_error(_model([conv], [w]))


def test_onnx_initializer_data_that_does_not_fit_its_shape() -> None:
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.ones((2, 3), np.float32), "w")
    w.raw_data = w.raw_data[:10]
    node = helper.make_node("Add", ["x", "w"], ["y"])
    message = _onnx_error(_model([node], [w], x_shape=(2, 3)))
    assert message.startswith(
        "m.onnx: error: initializer 'w': its data does not fit its dtype and shape (2, 3): "
    )


def test_onnx_node_a_converter_cannot_take_is_an_error_naming_it() -> None:
    from onnx import AttributeProto, helper

    # Empty strides: the pooling relation indexed past the list's end.
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2])
    node.attribute.append(helper.make_attribute("strides", [], attr_type=AttributeProto.INTS))
    message = _onnx_error(_model([node]))
    assert message.startswith("m.onnx: error: node 0 (AveragePool): cannot import this node: ")
