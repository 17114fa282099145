"""The ONNX frontend as users meet it: the importer against onnx's reference evaluator, the
tools on .onnx files, and the errors for what relay-opt does not take (tests/test_onnx_backend.py
runs ONNX's own conformance suite)."""

from __future__ import annotations

import subprocess
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from relay_opt.frontends.onnx import OnnxImportError, OnnxUnsupportedError, import_onnx
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile


def _model(nodes, inputs, outputs, inits=(), opset: int = 17) -> onnx.ModelProto:  # noqa: ANN001
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def mlp(rng: np.random.Generator, sizes=(64, 48, 10)) -> onnx.ModelProto:  # noqa: ANN001
    nodes, inits, prev = [], [], "x"
    for i, (a, b) in enumerate(pairwise(sizes)):
        inits += [
            numpy_helper.from_array(rng.standard_normal((b, a)).astype(np.float32), f"w{i}"),
            numpy_helper.from_array(rng.standard_normal(b).astype(np.float32), f"b{i}"),
        ]
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"h{i}"], transB=1))
        nodes.append(helper.make_node("Relu", [f"h{i}"], [f"r{i}"]))
        prev = f"r{i}"
    nodes.append(helper.make_node("Softmax", [prev], ["probs"], axis=-1))
    return _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, sizes[0]])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [2, sizes[-1]])],
        inits,
    )


def lstm(
    rng: np.random.Generator, seq: int = 5, inputs: int = 6, hidden: int = 8
) -> onnx.ModelProto:
    inits = [
        numpy_helper.from_array((rng.standard_normal(s) * 0.3).astype(np.float32), name)
        for name, s in (
            ("W", (1, 4 * hidden, inputs)),
            ("R", (1, 4 * hidden, hidden)),
            ("B", (1, 8 * hidden)),
        )
    ]
    node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["y", "y_h", "y_c"], hidden_size=hidden)
    return _model(
        [node],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [seq, 2, inputs])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [seq, 1, 2, hidden]),
            helper.make_tensor_value_info("y_h", TensorProto.FLOAT, [1, 2, hidden]),
            helper.make_tensor_value_info("y_c", TensorProto.FLOAT, [1, 2, hidden]),
        ],
        inits,
        opset=14,
    )


def attention_block(rng: np.random.Generator) -> onnx.ModelProto:
    """A transformer fragment: MatMul, Reshape, Transpose, scaled Softmax, LayerNormalization, Gelu-by-Erf."""
    d, heads, t = 16, 2, 4
    inits = [
        numpy_helper.from_array((rng.standard_normal((d, d)) * 0.2).astype(np.float32), "wq"),
        numpy_helper.from_array(np.array([1, t, heads, d // heads], np.int64), "split_shape"),
        numpy_helper.from_array(np.array([1, t, d], np.int64), "merge_shape"),
        numpy_helper.from_array(np.float32(1 / np.sqrt(d // heads)), "scale"),
        numpy_helper.from_array(np.ones(d, np.float32), "gamma"),
        numpy_helper.from_array(np.zeros(d, np.float32), "beta"),
        numpy_helper.from_array(np.float32(np.sqrt(2)), "sqrt2"),
        numpy_helper.from_array(np.float32(0.5), "half"),
        numpy_helper.from_array(np.float32(1), "one"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"]),
        helper.make_node("Reshape", ["q", "split_shape"], ["q4"]),
        helper.make_node("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
        helper.make_node("Transpose", ["q4"], ["kt"], perm=[0, 2, 3, 1]),
        helper.make_node("MatMul", ["qh", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["ss"]),
        helper.make_node("Softmax", ["ss"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "qh"], ["o"]),
        helper.make_node("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ot", "merge_shape"], ["m"]),
        helper.make_node("Add", ["m", "x"], ["res"]),
        helper.make_node(
            "LayerNormalization", ["res", "gamma", "beta"], ["ln"], axis=-1, epsilon=1e-5
        ),
        helper.make_node("Div", ["ln", "sqrt2"], ["u"]),
        helper.make_node("Erf", ["u"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["e1"]),
        helper.make_node("Mul", ["ln", "e1"], ["g"]),
        helper.make_node("Mul", ["g", "half"], ["y"]),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, t, d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, t, d])],
        inits,
    )


MODELS = {"mlp": mlp, "lstm": lstm, "attention": attention_block}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("seed", [0, 1])
def test_compiled_and_interpreted_match_onnx_reference(name: str, seed: int):
    rng = np.random.default_rng(seed)
    model = MODELS[name](rng)
    feeds = {
        vi.name: rng.standard_normal([d.dim_value for d in vi.type.tensor_type.shape.dim]).astype(
            np.float32
        )
        for vi in model.graph.input
    }
    expected = ReferenceEvaluator(model).run(None, feeds)
    imported = import_onnx(model)
    args = [feeds[n] for n in imported.input_names]
    for got in (compile(imported.module)(*args), interpret(imported.module, args)):
        got = list(got) if isinstance(got, tuple) else [got]
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-4, atol=1e-5)


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300)


@pytest.fixture
def mlp_file(tmp_path: Path) -> Path:
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp(np.random.default_rng(0), sizes=(300, 200, 10)), path)
    return path


def test_import_onnx_prints_weights_as_resources(mlp_file: Path, tmp_path: Path):
    r = tool("relay-translate", "--import-onnx", str(mlp_file))
    assert r.returncode == 0, r.stderr
    assert "relay.func @main(%x: tensor<2x300xf32>) -> tensor<2x10xf32>" in r.stdout
    assert "relay.nn.dense" in r.stdout and "relay.nn.softmax" in r.stdout
    # The 200x300 weight is a resource handle in the body, not 60,000 numbers of text; its
    # bytes travel in the dialect_resources section, so the output reads back complete.
    body, _, blobs = r.stdout.partition("{-#")
    assert "dense_resource<" in body and len(body) < 20_000
    assert "dialect_resources" in blobs and len(blobs) > 2 * 4 * 200 * 300  # hex: 2 chars a byte
    printed = tmp_path / "mlp.mlir"
    printed.write_text(r.stdout)
    back = tool("relay-run", str(printed), "--fill-mode", "ones")
    direct = tool("relay-run", str(mlp_file), "--fill-mode", "ones")
    assert back.returncode == 0 and direct.returncode == 0, back.stderr + direct.stderr
    assert back.stdout == direct.stdout


def test_relay_run_names_inputs_and_outputs_as_the_graph_does(mlp_file: Path, tmp_path: Path):
    x = np.random.default_rng(1).standard_normal((2, 300)).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    r = tool(
        "relay-run",
        str(mlp_file),
        "--inputs",
        str(tmp_path / "in.npz"),
        "--outputs",
        str(tmp_path / "out.npz"),
    )
    assert r.returncode == 0, r.stderr
    assert "result[0]: 2x10xfloat32" in r.stdout
    expected = ReferenceEvaluator(onnx.load(mlp_file)).run(None, {"x": x})[0]
    np.testing.assert_allclose(
        np.load(tmp_path / "out.npz")["probs"], expected, rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((3, 300), np.float32), "graph input 'x' has shape (2, 300), not (3, 300)"),
        (np.zeros((2, 300), np.float64), "float64"),
    ],
)
def test_relay_run_rejects_mismatched_inputs_before_running(
    mlp_file: Path, tmp_path: Path, array, message
):
    np.savez(tmp_path / "in.npz", x=array)
    r = tool(
        "relay-run",
        str(mlp_file),
        "--inputs",
        str(tmp_path / "in.npz"),
        "--outputs",
        str(tmp_path / "out.npz"),
    )
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out.npz").exists()


def test_unsupported_operator_names_the_node(tmp_path: Path):
    model = _model(
        [
            helper.make_node("Identity", ["x"], ["r"]),
            helper.make_node("ImageDecoder", ["r"], ["v"], name="dec"),
        ],
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [64])],
        [helper.make_tensor_value_info("v", TensorProto.UINT8, [2, 2, 3])],
        opset=20,
    )
    with pytest.raises(
        OnnxUnsupportedError,
        match=r"node 1 'dec' \(ImageDecoder\): operator ImageDecoder is not supported",
    ):
        import_onnx(model)
    path = tmp_path / "decoder.onnx"
    onnx.save(model, path)
    r = tool("relay-translate", "--import-onnx", str(path))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    message = f"{path}: error: node 1 'dec' (ImageDecoder): operator ImageDecoder is not supported"
    assert message in r.stderr


def test_not_an_onnx_file(tmp_path: Path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x00\x01 certainly not protobuf")
    with pytest.raises(OnnxImportError, match="not an ONNX model"):
        import_onnx(str(path))
    r = tool("relay-run", str(path), "--fill-mode", "zeros")
    assert r.returncode == 1 and "not an ONNX model" in r.stderr and "Traceback" not in r.stderr


def test_a_negative_input_dimension_is_refused(tmp_path: Path):
    # onnx.checker lets it through; relay-run's random filling then died in numpy (input fuzzer)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    x.type.tensor_type.shape.dim[1].dim_value = -5
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [])
    graph.output.extend([helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(
        OnnxImportError, match=r"graph input 'x' has a negative dimension: \(1, -5\)"
    ):
        import_onnx(model)
    path = tmp_path / "negative.onnx"
    onnx.save(model, path)
    r = tool("relay-run", str(path), "--fill-mode", "random", "--interpret")
    assert r.returncode == 1 and "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert f"{path}: error: graph input 'x' has a negative dimension: (1, -5)" in r.stderr


@pytest.mark.parametrize(
    "equation, shapes",
    [
        ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
        ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
        ("...ij,...jk->...ik", [(1, 3, 4), (2, 4, 5)]),
        ("ij,jk", [(3, 4), (4, 5)]),
        ("i,j->ij", [(3,), (4,)]),
        ("bii->bi", [(2, 3, 3)]),
        ("ijk->", [(2, 3, 4)]),
        ("ijk,ik->kj", [(2, 3, 4), (2, 4)]),
    ],
)
def test_einsum_matches_numpy(equation: str, shapes):  # noqa: ANN001
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    names = [f"x{i}" for i in range(len(arrays))]
    expected = np.einsum(equation, *arrays)
    model = _model(
        [helper.make_node("Einsum", names, ["y"], equation=equation)],
        [
            helper.make_tensor_value_info(nm, TensorProto.FLOAT, a.shape)
            for nm, a in zip(names, arrays, strict=True)
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, expected.shape)],
        opset=12,
    )
    got = compile(import_onnx(model).module)(*arrays)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def _run_both(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> None:
    expected = ReferenceEvaluator(model).run(None, feeds)
    imported = import_onnx(model)
    got = compile(imported.module)(*[feeds[name] for name in imported.input_names])
    got = list(got) if isinstance(got, tuple) else [got]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("largest", [1, 0])
def test_topk_keeps_the_lower_index_first_among_ties(largest: int):
    x = np.array([[3, 1, 3, 2, 1, 3], [0, 5, 5, 5, 4, 0]], np.float32)
    model = _model(
        [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1, largest=largest)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6])],
        [
            helper.make_tensor_value_info("v", TensorProto.FLOAT, [2, 4]),
            helper.make_tensor_value_info("i", TensorProto.INT64, [2, 4]),
        ],
        [numpy_helper.from_array(np.array([4], np.int64), "k")],
    )
    _run_both(model, {"x": x})


@pytest.mark.parametrize("reduction", ["add", "mul", "max", "min"])
def test_scatter_elements_reduces_duplicate_indices(reduction: str):
    rng = np.random.default_rng(0)
    indices = np.array([[1, 1, 0], [2, 2, 2]], np.int64)  # duplicates in each row
    model = _model(
        [
            helper.make_node(
                "ScatterElements", ["data", "idx", "upd"], ["y"], axis=1, reduction=reduction
            )
        ],
        [
            helper.make_tensor_value_info("data", TensorProto.FLOAT, [2, 4]),
            helper.make_tensor_value_info("upd", TensorProto.FLOAT, [2, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(indices, "idx")],
        opset=18,
    )
    _run_both(
        model,
        {
            "data": rng.standard_normal((2, 4)).astype(np.float32),
            "upd": rng.standard_normal((2, 3)).astype(np.float32),
        },
    )


def test_gather_nd_with_batch_dims():
    rng = np.random.default_rng(0)
    indices = np.array([[[1, -1]], [[0, 2]], [[2, 0]]], np.int64)  # [3, 1, 2], a negative index too
    model = _model(
        [helper.make_node("GatherND", ["x", "idx"], ["y"], batch_dims=1)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3, 4, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 1, 2])],
        [numpy_helper.from_array(indices, "idx")],
    )
    _run_both(model, {"x": rng.standard_normal((3, 3, 4, 2)).astype(np.float32)})


def test_quantize_dequantize_per_channel_round_trip():
    rng = np.random.default_rng(0)
    scale = np.array([0.02, 0.05, 0.1], np.float32)
    zero_point = np.array([0, 10, -5], np.int8)
    model = _model(
        [
            helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
            helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4])],
        [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zero_point, "z")],
        opset=19,
    )
    x = rng.standard_normal((2, 3, 4)).astype(np.float32) * 4  # saturates some
    x[0, 0, :2] = [0.01, 0.03]  # halves: round to even
    _run_both(model, {"x": x})


@pytest.mark.parametrize("axes", [{}, {"time_axis": 1, "batch_axis": 0}])
def test_reverse_sequence_with_onnx_axes(axes: dict):
    """ONNX's defaults (time_axis=0, batch_axis=1) differ from Relay's; the lengths are a graph
    input, read at run time: the whole axis, 1, and longer than the axis (all of it reverses)."""
    rng = np.random.default_rng(0)
    shape = (5, 3, 2) if not axes else (3, 5, 2)
    model = _model(
        [helper.make_node("ReverseSequence", ["x", "lens"], ["y"], **axes)],
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info("lens", TensorProto.INT64, [3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        opset=10,
    )
    feeds = {
        "x": rng.standard_normal(shape).astype(np.float32),
        "lens": np.array([5, 1, 7], np.int64),
    }
    _run_both(model, feeds)
    imported = import_onnx(model)
    interpreted = interpret(imported.module, [feeds[name] for name in imported.input_names])
    np.testing.assert_array_equal(interpreted, ReferenceEvaluator(model).run(None, feeds)[0])


IF_MODEL = """
<ir_version: 8, opset_import: ["" : 13]>
g (float[3] x, bool k) => (float[3] y, float[3] z)
{
  s = ReduceSum <keepdims = 0> (x)
  zero = Constant <value = float {0.0}> ()
  positive = Greater (s, zero)
  y = If (positive) <
    then_branch = t () => (float[3] a) {
      a = If (k) <
        then_branch = tt () => (float[3] a1) { a1 = Exp (x) },
        else_branch = te () => (float[3] a2) { a2 = Add (x, x) }
      >
    },
    else_branch = e () => (float[3] b) { b = Neg (x) }
  >
  known = Constant <value = bool {1}> ()
  z = If (known) <
    then_branch = kt () => (float[3] c) { c = Relu (x) },
    else_branch = ke () => (float[3] d) { d = RandomUniformLike (x) }
  >
}
"""


def test_if_nested_and_known_condition() -> None:
    """A run-time If in a run-time If's branch (reading the outer x), against ONNX's
    reference on each path; an If whose condition is known while importing imports only
    the branch taken (the other is never imported)."""
    model = onnx.parser.parse_model(IF_MODEL)
    imported = import_onnx(model)
    text = str(imported.module)
    assert text.count("relay.if") == 2 and "relay.nn.relu" in text
    exe = compile(imported.module, opt=1, cache=False)
    for x, k in [([1, 2, -0.5], True), ([1, 2, -0.5], False), ([-1, 0, 0.5], True)]:
        feeds = {"x": np.array(x, np.float32), "k": np.array(k)}
        expected = ReferenceEvaluator(model).run(None, feeds)
        args = [feeds[n] for n in imported.input_names]
        for got in (exe(*args), interpret(imported.module, args)):
            for g, e in zip(got, expected, strict=True):  # pyright: ignore[reportArgumentType]
                np.testing.assert_allclose(g, e, rtol=1e-5)


def test_models_older_than_opset_7_are_upgraded_by_onnx_version_converter():
    """Opsets 1 to 6 (PyTorch's first exports, ONNX's oldest node tests) import through
    onnx.version_converter: legacy `broadcast=1` Add, and opset 6's per-channel PRelu slope,
    which the converter keeps as written and the importer reads per channel."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [4])
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, [3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4])
    nodes = [
        helper.make_node("Add", ["x", "b"], ["t"], broadcast=1),
        helper.make_node("PRelu", ["t", "s"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [x, b, s], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 6)])
    rng = np.random.default_rng(0)
    xv, bv, sv = (rng.standard_normal(v).astype(np.float32) for v in ((2, 3, 4), (4,), (3,)))
    t = xv + bv
    want = np.where(t < 0, t * sv[None, :, None], t)
    module = import_onnx(model).module
    np.testing.assert_allclose(compile(module)(xv, bv, sv), want, rtol=1e-6)


def test_a_model_the_version_converter_cannot_upgrade_is_refused_with_its_reason():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 5)])
    with pytest.raises(OnnxUnsupportedError, match="opset 5 is older than 7, and ONNX's version"):
        import_onnx(model, filename="old.onnx")


@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_unet_upsampling_resize_matches_onnx_reference(mode: str):
    """A U-Net's `nn.Upsample(scale_factor=2)` as PyTorch exports it (Resize, scales 2,
    half-pixel coordinates), 32 channels 64x64 -> 128x128. Its lowering was one contraction
    over both spatial axes (2 G multiply-adds, 1.4 s); it is now one contraction per axis."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 64, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32, 128, 128])
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    node = helper.make_node(
        "Resize",
        ["x", "", "scales"],
        ["y"],
        mode=mode,
        coordinate_transformation_mode="half_pixel" if mode == "linear" else "asymmetric",
        nearest_mode="floor",
    )
    graph = helper.make_graph([node], "up", [x], [y], [scales])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 32, 64, 64)).astype(np.float32)}
    (want,) = ReferenceEvaluator(model).run(None, feeds)
    got = compile(import_onnx(model).module)(feeds["x"])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _integer_resize(dtype: type, shape: list[int], out: list[int], **attrs: Any) -> onnx.ModelProto:
    """A Resize of integer data by constant scales or sizes (the one given in attrs)."""
    code = numpy_helper.from_array(np.zeros(1, dtype)).data_type
    inits = [numpy_helper.from_array(np.zeros(0, np.float32), "roi")]
    if "roi" in attrs:
        inits = [numpy_helper.from_array(np.array(attrs.pop("roi"), np.float32), "roi")]
    if "scales" in attrs:
        inputs = ["x", "roi", "scales"]
        inits.append(numpy_helper.from_array(np.array(attrs.pop("scales"), np.float32), "scales"))
    else:
        inputs = ["x", "roi", "", "sizes"]
        inits.append(numpy_helper.from_array(np.array(attrs.pop("sizes"), np.int64), "sizes"))
    graph = helper.make_graph(
        [helper.make_node("Resize", inputs, ["y"], **attrs)],
        "g",
        [helper.make_tensor_value_info("x", code, shape)],
        [helper.make_tensor_value_info("y", code, out)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


# image.resize2d (NCHW, whole scales) and one contraction per axis (the others), cubic,
# antialiased and cropping.
INTEGER_RESIZES = [
    (np.uint8, [1, 2, 5, 6], [1, 2, 10, 12], dict(mode="cubic", scales=[1, 1, 2, 2])),
    (np.int8, [1, 2, 5, 6], [1, 2, 8, 13], dict(mode="cubic", scales=[1, 1, 1.7, 2.3])),
    (np.int16, [2, 9, 7], [2, 4, 5], dict(mode="cubic", sizes=[4, 5], axes=[1, 2])),
    (
        np.uint16,
        [1, 1, 12, 10],
        [1, 1, 6, 6],
        dict(mode="linear", scales=[1, 1, 0.5, 0.6], antialias=1),
    ),
    (
        np.int8,
        [2, 3, 12, 10],
        [2, 3, 6, 5],
        dict(mode="cubic", scales=[1, 1, 0.5, 0.5], antialias=1),
    ),
    (
        np.uint8,
        [1, 1, 6, 6],
        [1, 1, 7, 5],
        dict(
            mode="cubic",
            sizes=[1, 1, 7, 5],
            coordinate_transformation_mode="tf_crop_and_resize",
            roi=[0, 0, 0.1, 0.2, 1, 1, 0.9, 1.2],
            extrapolation_value=10.0,
        ),
    ),
]


@pytest.mark.parametrize(("dtype", "shape", "out", "attrs"), INTEGER_RESIZES)
def test_cubic_and_antialiased_resize_of_integers(
    dtype: type, shape: list[int], out: list[int], attrs: dict[str, Any]
) -> None:
    """Weighed in float64, rounded half to even and saturated once (image.resize2d's rule),
    over the whole range of the dtype: as ONNX's reference, exactly. (onnxruntime runs
    only antialiased uint8 of these, in fixed point: test_antialiased_uint8_resize_...)"""
    info = np.iinfo(dtype)
    x = np.random.default_rng(1).integers(info.min, int(info.max) + 1, shape).astype(dtype)
    model = _integer_resize(dtype, shape, out, **dict(attrs))
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    got = compile(import_onnx(model).module)(x)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    if attrs["mode"] == "cubic" and not attrs.get("antialias") and "scales" in attrs:  # upsampled
        assert info.min in want and info.max in want  # cubic's overshoot saturated


def test_int32_cubic_resize_rounds_the_exact_float64_result() -> None:
    """int32 data: the float64 result of the same Resize, rounded half to even. (ONNX's
    reference is up to 2.5e-7 of the range off the exact sum, so up to 1 off here.)"""
    x = np.random.default_rng(2).integers(-(2**31), 2**31, (1, 2, 5, 6)).astype(np.int32)
    attrs = dict(mode="cubic", scales=[1, 1, 1.5, 2.5])
    got = compile(
        import_onnx(_integer_resize(np.int32, [1, 2, 5, 6], [1, 2, 7, 15], **attrs)).module
    )(x)
    wide = _integer_resize(np.float64, [1, 2, 5, 6], [1, 2, 7, 15], **attrs)
    exact = compile(import_onnx(wide).module)(x.astype(np.float64))
    info = np.iinfo(np.int32)
    np.testing.assert_array_equal(got, np.clip(np.rint(exact), info.min, info.max).astype(np.int32))


def test_antialiased_uint8_resize_is_onnxruntimes_within_its_fixed_point() -> None:
    """onnxruntime's integer antialias weighs in fixed point (rounding each axis' pass): within
    2 of relay-opt's float64 result, which ONNX's reference matches exactly (above)."""
    ort = pytest.importorskip("onnxruntime")
    x = np.random.default_rng(3).integers(0, 256, (2, 3, 12, 10)).astype(np.uint8)
    for attrs in (
        dict(mode="cubic", scales=[1, 1, 0.5, 0.5], antialias=1),
        dict(mode="linear", scales=[1, 1, 0.5, 0.6], antialias=1),
    ):
        model = _integer_resize(
            np.uint8, [2, 3, 12, 10], [2, 3, 6, int(10 * attrs["scales"][3])], **attrs
        )
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        (want,) = session.run(None, {"x": x})
        got = compile(import_onnx(model).module)(x)
        np.testing.assert_allclose(got.astype(np.int32), want.astype(np.int32), atol=2, rtol=0)


@pytest.mark.parametrize(
    ("bins", "length", "rate", "low", "high", "dtype"),
    [(5, 64, 16000, 20.0, 7000.0, 11), (12, 30, 8000, 0.0, 4000.0, 1)],  # the second: equal edges
)
def test_mel_weight_matrix_matches_onnx_reference(
    bins: int, length: int, rate: int, low: float, high: float, dtype: int
) -> None:
    node = helper.make_node(
        "MelWeightMatrix", ["m", "n", "r", "lo", "hi"], ["y"], output_datatype=dtype
    )
    inits = [
        numpy_helper.from_array(np.array(v, t), name)
        for name, v, t in (
            ("m", bins, np.int64),
            ("n", length, np.int64),
            ("r", rate, np.int64),
            ("lo", low, np.float32),
            ("hi", high, np.float32),
        )
    ]
    out = helper.make_tensor_value_info("y", dtype, [length // 2 + 1, bins])
    model = _model([node], [], [out], inits, opset=17)
    (want,) = ReferenceEvaluator(model).run(None, {})
    got = compile(import_onnx(model).module)()
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_nonzero_of_run_time_data_sizes_its_result_per_call() -> None:
    node = helper.make_node("NonZero", ["x"], ["y"])
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])
    out = helper.make_tensor_value_info("y", TensorProto.INT64, [3, None])
    module = import_onnx(_model([node], [x_info], [out], opset=13)).module
    native = compile(module)
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    x[x < 0.3] = 0
    for data in (x, np.zeros_like(x)):  # some nonzero elements, then none
        want = np.array(np.nonzero(data), np.int64)
        np.testing.assert_array_equal(native(data), want)
        np.testing.assert_array_equal(interpret(module, [data]), want)
