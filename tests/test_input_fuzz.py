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
    assert list(inputs.mutants("mlir", 5, seed=3, first=15)) == first[15:]  # chunks


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


def test_onnx_name_that_is_not_utf8_is_an_error_naming_the_field() -> None:
    from onnx import helper

    # protobuf hands a string field that is not UTF-8 back as bytes; the importer's name
    # hint code crashed on it ('int' object has no attribute 'isalnum').
    data = _model([helper.make_node("Relu", ["x"], ["y"])], opset=13)
    assert data.count(b"\n\x01x") == 2  # the graph input's name and the node's input
    message = _onnx_error(data.replace(b"\n\x01x", b"\n\x01\xcc"))
    assert message == (
        "m.onnx: error: the model, graph, node[0]: field 'input' is not valid UTF-8: b'\\xcc'\n"
    )


def test_onnx_node_a_converter_cannot_take_is_an_error_naming_it() -> None:
    from onnx import AttributeProto, helper

    # Empty strides: the pooling relation indexed past the list's end; now the relation
    # checks the list's length, a type error naming the attribute.
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2])
    node.attribute.append(helper.make_attribute("strides", [], attr_type=AttributeProto.INTS))
    message = _onnx_error(_model([node]))
    assert message.startswith(
        "m.onnx: error: node 0 (AveragePool): nn.avg_pool2d: strides must have 2 entries, got []"
    )


def _mlir_error(text: str) -> str:
    with pytest.raises(LoadError) as e:
        load_program(text, format="mlir", filename="t.mlir")
    return str(e.value)


def test_mlir_value_used_before_its_definition() -> None:
    # xDSL's parser resolves forward references; infer-types then met an untyped value.
    message = _mlir_error(
        "relay.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
        "  %1 = relay.add %0, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>\n"
        "  %0 = relay.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>\n"
        "  relay.return %1 : tensor<4xf32>\n"
        "}\n"
    )
    assert message.startswith(
        "t.mlir:2:3: error: operand 0 of 'relay.add' is used before the op that defines it\n"
    )
    assert "t.mlir:3:3: note: defined here" in message


def test_mlir_function_without_terminator() -> None:
    # The interpreter, the Relay printer and bufferize ran off the end of the empty body.
    message = _mlir_error("relay.func @f(%x: tensor<f32>) -> tensor<f32> {\n}\n")
    assert message.startswith(
        "t.mlir:1:1: error: a block of 'relay.func' does not end with a terminator\n"
    )


@pytest.mark.parametrize("literal", ["1 : f80", "1.5 : f128", "0x3FFF8000000000000000 : f80"])
def test_mlir_f80_and_f128_literals_are_refused(literal: str) -> None:
    # xDSL parses them but cannot print or pack them: relay-opt died printing its output.
    message = _mlir_error(f"func.func @f() attributes {{n = {literal}}} {{\n  func.return\n}}\n")
    assert message.startswith("t.mlir:1:32: error: f80 and f128 literals are not supported")


def test_mlir_block_label_defined_twice_after_a_forward_reference() -> None:
    # xDSL's parser died on a KeyError: the first ^join was referenced before its label.
    message = _mlir_error(
        "func.func @f(%c: i1) {\n  cf.cond_br %c, ^join, ^join\n^join:\n^join:\n  func.return\n}\n"
    )
    assert message.startswith("t.mlir:4:1: error: re-declaration of block 'join'")


def test_mlir_integer_width_past_mlir_limit_is_refused_at_once() -> None:
    # `i4294967296` made xDSL compute the range of a 2^32-bit integer (no end in sight); in a
    # child process, so that the old behaviour fails by the timeout instead of hanging pytest.
    code = (
        "from relay_opt.loader import LoadError, load_program\n"
        "text = 'relay.func @f(%x: tensor<f32>) -> tensor<f32> attributes {n = 0 : i4294967296}'"
        " ' {\\n  relay.return %x : tensor<f32>\\n}\\n'\n"
        "try:\n    load_program(text, format='mlir', filename='t.mlir')\n"
        "except LoadError as e:\n    print(e)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "t.mlir:1:67: error: integer width 4294967296 exceeds 16777215" in r.stdout


@pytest.mark.parametrize(
    ("constant", "expected"),
    [
        ("dense<[1, 2]> : tensor<2xi255>", "Format not implemented for i255"),  # NotImplemented
        ("dense<300> : tensor<i8>", "Integer value 300 is out of range for type i8"),  # ValueError
        ("dense<1> : tensor<99999999999999999999xf32>", "cannot fit 'int'"),  # OverflowError
    ],
)
def test_mlir_attribute_xdsl_refuses_is_located(constant: str, expected: str) -> None:
    message = _mlir_error(
        "relay.func @f() -> tuple<> {\n"
        f"  %c = relay.constant {constant}\n"
        "  %t = relay.tuple : () -> tuple<>\n  relay.return %t : tuple<>\n}\n"
    )
    assert message.startswith(f"t.mlir:2:3: error: {expected}")


def test_mlir_op_parser_assertion_is_located() -> None:
    # xDSL's linalg.generic parser asserts that iterator_types is an array.
    message = _mlir_error(
        "func.func @f(%x: tensor<3xf32>, %e: tensor<3xf32>) -> tensor<3xf32> {\n"
        "  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, "
        "affine_map<(d0) -> (d0)>], iterator_types = 7} ins(%x : tensor<3xf32>) "
        "outs(%e : tensor<3xf32>) {\n"
        "  ^bb0(%a: f32, %o: f32):\n    linalg.yield %a : f32\n  } -> tensor<3xf32>\n"
        "  func.return %r : tensor<3xf32>\n}\n"
    )
    assert message.startswith("t.mlir:2:3: error: malformed operation\n")


def test_mlir_linalg_fill_without_ins_is_located() -> None:
    # xDSL's linalg.fill parser took the missing `ins` as no inputs and built its body from
    # input 0: an IndexError, an internal error in all three tools (mlir seed 1309 #532).
    message = _mlir_error(
        "func.func @f(%z: f32, %e: tensor<4xf32>) -> tensor<4xf32> {\n"
        "  %a = linalg.fill (%z : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>\n"
        "  func.return %a : tensor<4xf32>\n}\n"
    )
    assert message.startswith("t.mlir:2:3: error: malformed operation\n")


def test_out_of_memory_is_an_error_not_an_internal_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # relay-run on `arange(1f, 2147483648f, 1f)`: numpy's MemoryError was an "internal error".
    from relay_opt.diagnostics import run_tool

    def tool() -> int:
        raise MemoryError("Unable to allocate 16.0 GiB for an array")

    assert run_tool(tool, "relay-run") == 1
    assert capsys.readouterr().err == (
        "relay-run: error: out of memory: Unable to allocate 16.0 GiB for an array\n"
    )


def test_a_stray_value_error_is_an_internal_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Only ArgumentError (bad values given to the API) is the user's; a ValueError from
    # anywhere else is a bug and must not pass as a user error.
    from relay_opt import ArgumentError
    from relay_opt.diagnostics import run_tool

    def bug() -> int:
        raise ValueError("not enough values to unpack")

    def user() -> int:
        raise ArgumentError("input 'x' must be 2x3 float32, got 3x2 float32")

    assert run_tool(bug, "relay-run") == 2
    assert "internal error: ValueError: not enough values to unpack" in capsys.readouterr().err
    assert run_tool(user, "relay-run") == 1
    assert capsys.readouterr().err == (
        "relay-run: error: input 'x' must be 2x3 float32, got 3x2 float32\n"
    )


def test_onnx_recurrence_too_long_to_unroll() -> None:
    # An LSTM of 65,536 steps took minutes to unroll (a hang to the fuzzer). A long sequence
    # imports as a loop (one tail call per step, each writing its slice in place), so the
    # program's size does not grow with the step count.
    from onnx import TensorProto, helper, numpy_helper

    def lstm(steps: int) -> bytes:
        rng = np.random.default_rng(0)
        inits = [
            numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), name)
            for name, s in (("W", (1, 8, 3)), ("R", (1, 8, 2)))
        ]
        node = helper.make_node("LSTM", ["x", "W", "R"], ["y"], hidden_size=2)
        graph = helper.make_graph(
            [node],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [steps, 1, 3])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        return model.SerializeToString()

    sizes = [
        sum(1 for _ in load_program(lstm(n), format="onnx", filename="m.onnx").module.walk())
        for n in (100, 65536)
    ]
    assert sizes[0] == sizes[1]


def test_relay_text_attribute_none_is_its_default() -> None:
    # `padding=None` reached conv2d's relation as None (a TypeError, an internal error).
    program = load_program(
        '#[version = "0.0.5"]\n'
        "def @main(%x: Tensor[(1, 3, 8, 8), float32], %w: Tensor[(4, 3, 3, 3), float32]) {\n"
        "  nn.conv2d(%x, %w, padding=None, channels=None)\n}\n",
        format="relay",
    )
    text = str(program.module)
    assert "relay.nn.conv2d %x, %w : " in text and "-> tensor<1x4x6x6xf32>" in text


def test_mlir_symbol_lookup_in_a_module_of_two_blocks_is_located() -> None:
    # xDSL's symbol lookup (llvm.call's verifier) raised a ValueError on a module body of two
    # blocks: an internal error in all three tools (mlir seed 1313 #1944).
    message = _mlir_error(
        "builtin.module {\n  func.func @g() {\n    llvm.call @h() : () -> ()\n    func.return\n"
        "  }\n^bb0:\n  llvm.func @h()\n}\n"
    )
    assert message.startswith("t.mlir:3:5: error: 'llvm.call' does not verify here: ")


def test_mlir_linalg_body_without_terminator_is_located() -> None:
    # An empty linalg.generic body passed xDSL's verifier; convert-linalg-to-loops then failed
    # an assertion (mlir seed 1313 #5971).
    message = _mlir_error(
        "func.func @f(%x: tensor<3xf32>, %e: tensor<3xf32>) -> tensor<3xf32> {\n"
        "  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, "
        'affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<3xf32>) '
        "outs(%e : tensor<3xf32>) {\n  ^bb0(%a: f32, %o: f32):\n  } -> tensor<3xf32>\n"
        "  func.return %r : tensor<3xf32>\n}\n"
    )
    assert message.startswith(
        "t.mlir:2:3: error: a block of 'linalg.generic' does not end with a terminator\n"
    )


@pytest.mark.parametrize("method", ["linear", "cubic", "nearest_neighbor"])
def test_relay_resize_to_an_empty_axis_runs(method: str) -> None:
    # The weights' scale in_size / out_size divided by zero: an internal error in relay-run
    # (relay seed 1313 #6292).
    from relay_opt.runtime.interpreter import interpret
    from relay_opt.runtime.jit import compile

    module = load_program(
        '#[version = "0.0.5"]\ndef @main(%x: Tensor[(1, 2, 3, 4), float32]) {\n'
        f'  image.resize2d(%x, size=[6, 0], method="{method}")\n}}\n',
        "relay",
    ).module
    x = np.ones((1, 2, 3, 4), np.float32)
    assert compile(module, opt=0, cache=False)(x).shape == (1, 2, 6, 0)
    assert interpret(module, {"x": x}).shape == (1, 2, 6, 0)  # pyright: ignore[reportAttributeAccessIssue]


def test_only_a_verifier_s_bare_exception_is_the_user_s(monkeypatch: pytest.MonkeyPatch) -> None:
    # xDSL's memref.store raises a bare Exception for a wrong index count: a located error
    # (mlir seed 1313 #6714); an AssertionError from a verifier is a bug and stays one.
    from xdsl.dialects import memref

    text = (
        "func.func @f(%v: f32, %t: memref<4xf32>) {\n  memref.store %v, %t[] : memref<4xf32>\n"
        "  func.return\n}\n"
    )
    assert _mlir_error(text).startswith(
        "t.mlir:2:3: error: 'memref.store' op expected an index for each dimension\n"
    )

    def broken(self: memref.StoreOp) -> None:
        raise AssertionError("a verifier's bug")

    monkeypatch.setattr(memref.StoreOp, "verify_", broken)
    with pytest.raises(AssertionError):
        load_program(text, format="mlir", filename="t.mlir")
