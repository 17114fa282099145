"""Tensors with `?` dims compiled natively (docs/native-dynamic-shapes.md): each program is
compiled ONCE and run at two run-time sizes against the reference interpreter and numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from relay_opt import ArgumentError, load_program
from relay_opt.diagnostics import RelayError, location_of
from relay_opt.dialects.relay.ir_helpers import functions_by_name
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile
from relay_opt.runtime.values import same_value

HEADER = '#[version = "0.0.5"]\n'

PROGRAMS = {
    "mlp": """
def @main(%x: Tensor[(?, 6), float32], %w1: Tensor[(8, 6), float32], %b1: Tensor[(8), float32],
          %w2: Tensor[(4, 8), float32], %b2: Tensor[(4), float32]) -> Tensor[(?, 4), float32] {
  %0 = nn.relu(nn.bias_add(nn.dense(%x, %w1), %b1));
  nn.softmax(add(nn.dense(%0, %w2), %b2))
}""",
    "elementwise": """
def @main(%x: Tensor[(?, 3), float32], %y: Tensor[(1, 3), float32], %z: Tensor[(?, 1), float32])
    -> Tensor[(?, 3), float32] {
  tanh(subtract(exp(multiply(add(%x, %y), %z)), %x))
}""",
    "reductions": """
def @main(%x: Tensor[(?, 3, ?), float32]) -> (Tensor[(?, 1, ?), float32], Tensor[(?), float32],
    Tensor[(3), float32], Tensor[(?), float32]) {
  (sum(%x, axis=[1], keepdims=True), max(%x, axis=[1, 2]), min(%x, axis=[0, 2]),
   mean(prod(%x, axis=[2]), axis=[1]))
}""",
    "reshapes": """
def @main(%x: Tensor[(?, 2, 3), float32]) -> (Tensor[(?, 6), float32], Tensor[(3, ?), float32],
    Tensor[(?), float32], Tensor[(?, 1, 2, 3), float32], Tensor[(?, 6), float32]) {
  (reshape(%x, newshape=[-1, 6]), reshape(transpose(%x, axes=[2, 1, 0]), newshape=[3, -1]),
   reshape(%x, newshape=[-1]), expand_dims(%x, axis=1), nn.batch_flatten(%x))
}""",
    # The `_like` forms take the shape from the second operand's run-time sizes.
    "like": """
def @main(%x: Tensor[(?, 6), float32], %like: Tensor[(?, 2, 3), float32],
          %b: Tensor[(1, 6), float32], %t: Tensor[(?, 6), float32]) {
  (reshape_like(%x, %like), reshape_like(%x, %like, lhs_begin=1, rhs_begin=1),
   broadcast_to_like(%b, %t))
}""",
    # A beam-search-like step: embed the tokens, score, keep the rows, grow the beam.
    "beam_step": """
def @main(%emb: Tensor[(10, 4), float32], %tokens: Tensor[(?), int32],
          %beam: Tensor[(?, 4), float32], %w: Tensor[(4, 4), float32])
    -> (Tensor[(?, 4), float32], Tensor[(?), float32]) {
  %0 = take(%emb, %tokens, axis=0);
  %1 = tanh(add(nn.dense(%0, %w), %beam));
  %2 = concatenate((%beam, %1));
  (%2, sum(%2, axis=[1]))
}""",
    # A CNN with a `?` batch (an ONNX model's symbolic N): convolutions, pooling, flatten.
    "cnn": """
def @main(%x: Tensor[(?, 3, 8, 8), float32], %w: Tensor[(8, 3, 3, 3), float32],
          %b: Tensor[(8), float32], %d: Tensor[(5, 8), float32]) -> Tensor[(?, 5), float32] {
  %0 = nn.relu(nn.bias_add(nn.conv2d(%x, %w, padding=[1, 1]), %b));
  %1 = nn.avg_pool2d(nn.max_pool2d(%0, pool_size=[2, 2], strides=[2, 2]), pool_size=[2, 2]);
  nn.dense(nn.batch_flatten(nn.global_avg_pool2d(%1)), %d)
}""",
    # `?` spatial dims (an ONNX model's symbolic H and W): padded, strided and dilated
    # windows, ceil_mode, averages that count the cells inside the input (or its padding).
    "spatial": """
def @main(%x: Tensor[(?, 3, ?, ?), float32], %w: Tensor[(4, 3, 3, 3), float32]) {
  (nn.conv2d(%x, %w, padding=[1, 1]), nn.conv2d(%x, %w, strides=[2, 1], dilation=[1, 2],
   padding=[2, 1, 0, 2]),
   nn.max_pool2d(%x, pool_size=[2, 2], strides=[2, 2], padding=[1, 0, 0, 1], ceil_mode=True),
   nn.avg_pool2d(%x, pool_size=[3, 2], strides=[2, 1], padding=[1, 1], dilation=[1, 2]),
   nn.avg_pool2d(%x, pool_size=[3, 3], strides=[2, 2], padding=[1, 1], count_include_pad=True,
     ceil_mode=True),
   nn.global_avg_pool2d(%x), nn.global_max_pool2d(%x),
   nn.adaptive_avg_pool2d(%x, output_size=[2, 3]), nn.adaptive_avg_pool2d(%x),
   nn.adaptive_avg_pool2d(cast(multiply(%x, 10f), dtype="int32"), output_size=[2, 2]))
}""",
    "spatial_nhwc": """
def @main(%x: Tensor[(?, ?, ?, 3), float32], %w: Tensor[(3, 3, 3, 4), float32]) {
  (nn.conv2d(%x, %w, padding=[1, 1], data_layout="NHWC", kernel_layout="HWIO"),
   nn.max_pool2d(%x, pool_size=[2, 2], strides=[2, 2], layout="NHWC", ceil_mode=True),
   nn.avg_pool2d(%x, pool_size=[3, 2], padding=[1, 1], layout="NHWC"),
   nn.global_avg_pool2d(%x, layout="NHWC"),
   nn.avg_pool2d(cast(multiply(%x, 10f), dtype="int32"), pool_size=[3, 3], strides=[2, 2],
     padding=[1, 1], layout="NHWC"),
   nn.avg_pool2d(%x, pool_size=[2, 2], layout="NHWC", out_layout="NCHW"),
   nn.adaptive_avg_pool2d(%x, output_size=[3], layout="NHWC"))
}""",
    # Pooling treats each channel alike: a `?` channel axis too, with `?` or static H, W.
    "pool_channels": """
def @main(%x: Tensor[(?, ?, ?, ?), float32], %y: Tensor[(1, ?, 6, 5), float32]) {
  (nn.max_pool2d(%x, pool_size=[2, 2], padding=[1, 1]), nn.avg_pool2d(%x, pool_size=[2, 2]),
   nn.global_max_pool2d(%x), nn.adaptive_avg_pool2d(%x, output_size=[2, 2]),
   nn.max_pool2d(%y, pool_size=[2, 2]), nn.avg_pool2d(%y, pool_size=[3, 3], strides=[2, 2]),
   nn.global_avg_pool2d(%y), nn.adaptive_avg_pool2d(%y, output_size=[3, 2]))
}""",
    # A transposed convolution (a decoder's upsampling) with a `?` batch, and with `?`
    # spatial dims (each output size from the run-time input size): strided, dilated,
    # asymmetrically padded, grouped, and the kernel-is-the-strides case.
    "conv_transpose": """
def @main(%x: Tensor[(?, 3, 5, 5), float32], %w: Tensor[(3, 4, 3, 3), float32],
          %y: Tensor[(?, 4, ?, ?), float32], %v: Tensor[(4, 3, 3, 2), float32],
          %u: Tensor[(4, 2, 2, 2), float32]) {
  (nn.conv2d_transpose(%x, %w, strides=[2, 2], padding=[1, 1], output_padding=[1, 1]),
   nn.conv2d_transpose(%x, %w),
   nn.conv2d_transpose(%y, %v, strides=[2, 3], padding=[1, 0, 2, 1], output_padding=[1, 0],
     dilation=[1, 2]),
   nn.conv2d_transpose(%y, %v), nn.conv2d_transpose(%y, %u, strides=[2, 2]),
   nn.conv2d_transpose(%y, %u, groups=2, padding=[1, 1]))
}""",
    "norms": """
def @main(%x: Tensor[(?, 4, 6), float32], %g: Tensor[(6), float32], %b: Tensor[(6), float32],
          %g4: Tensor[(4), float32], %b4: Tensor[(4), float32]) {
  (nn.layer_norm(%x, %g, %b), nn.group_norm(%x, %g4, %b4, num_groups=2), nn.prelu(%x, %g4))
}""",
    # Tuple-typed operators: each field sized from the data (a `?` channel axis too).
    "batch_norm": """
def @main(%x: Tensor[(?, 3, ?, ?), float32], %g: Tensor[(3), float32], %b: Tensor[(3), float32],
          %y: Tensor[(?, 3), float32], %z: Tensor[(2, ?, 4), float32]) {
  %0 = nn.batch_norm(%x, %g, %b, %g, %b, epsilon=0.5f);
  %1 = nn.dropout(%y);
  %2 = mean(%z, axis=[0, 2]);
  %3 = nn.batch_norm(%z, %2, %2, %2, abs(%2), axis=1);
  (%0.0, %0.1, %0.2, %1.0, %1.1, collapse_sum_to(%y, shape=[1, 3]), %3.0, %3.1)
}""",
    "misc": """
def @main(%x: Tensor[(?, 3), float32], %y: Tensor[(?, 3), float32]) {
  (stack((%x, %y), axis=1), zeros_like(%x), argmax(%x, axis=[1]), argmin(%y, axis=[1]))
}""",
    # Operators whose `?` result sizes come from their shape functions at run time: Relay's
    # clamped slice bounds, tiles, repeats, sections, paddings, and counts over `?` axes.
    "slices": """
def @main(%x: Tensor[(?, 4), float32]) {
  (strided_slice(%x, begin=[1, 0], end=[-1, 3]), strided_slice(%x, begin=[-1], end=[0], strides=[-2]),
   strided_slice(%x, begin=[1, 1], end=[2, -1], slice_mode="size"),
   strided_slice(%x, begin=[-3, 0], end=[-100, 4], strides=[-1, 3]),
   split(%x, indices_or_sections=[1], axis=0), split(%x, indices_or_sections=[2], axis=1))
}""",
    "tiles": """
def @main(%x: Tensor[(?, 3), float32], %y: Tensor[(?, 1), float32]) {
  (tile(%x, reps=[2, 1, 2]), repeat(%x, repeats=3, axis=0), repeat(%y, repeats=2, axis=1),
   broadcast_to(%y, shape=[2, 5, 4]), split(%x, indices_or_sections=3, axis=1))
}""",
    "pads": """
def @main(%x: Tensor[(?, 4), float32]) {
  (nn.pad(%x, 1.5f, pad_width=[[1, 2], [0, 1]]),
   nn.pad(%x, 0f, pad_width=[[0, 0], [2, 1]], pad_mode="reflect"),
   nn.pad(%x, 0f, pad_width=[[1, 1], [2, 1]], pad_mode="edge"))
}""",
    # With `?` spatial dims each `?` axis' weights are built at run time from its size.
    "resize": """
def @main(%x: Tensor[(?, 3, 4, 4), float32], %y: Tensor[(?, 2, ?, ?), float32],
          %z: Tensor[(1, ?, 5, ?), float32]) {
  (image.resize2d(%x, size=[6, 3], method="linear"),
   image.resize2d(%x, size=[8, 8], method="nearest_neighbor"),
   image.resize2d(%y, size=[7, 3], method="linear"),
   image.resize2d(%y, size=[2, 9], method="nearest_neighbor", rounding_method="round",
     coordinate_transformation_mode="align_corners"),
   image.resize2d(%y, size=[3, 4], method="cubic", antialias=True),
   image.resize2d(%y, size=[6, 6], method="cubic", cubic_exclude=1, cubic_alpha=-0.75f,
     coordinate_transformation_mode="asymmetric"),
   image.resize2d(%y, size=[4, 5], method="linear", coordinate_transformation_mode=
     "tf_crop_and_resize", roi=[0.1f, -0.2f, 0.9f, 1.2f], extrapolation_value=-2f),
   image.resize2d(%z, size=[3, 4], method="linear", layout="NHWC", out_dtype="int8"))
}""",
    "counts": """
def @main(%x: Tensor[(?, 3, ?), float32], %i: Tensor[(?), int32]) {
  (mean(%x, axis=[0, 2]), mean(%x, axis=[1], keepdims=True),
   variance(%x, mean(%x, axis=[0, 2], keepdims=True), axis=[0, 2], unbiased=True),
   argmax(%x, axis=[2]), argmin(%x, axis=[0, 2]), argmax(%x), take(%x, %i))
}""",
    # Lengths clamped to a `?` sequence axis; the lengths' count is the `?` batch's.
    "reverse_sequence": """
def @main(%x: Tensor[(?, ?, 2), float32], %n: Tensor[(?), int32], %m: Tensor[(2), int32]) {
  (reverse_sequence(%x, %n, seq_axis=1, batch_axis=0),
   reverse_sequence(%x, %m, seq_axis=1, batch_axis=2))
}""",
    # A length read from the bounds at run time (an ONNX Range of computed inputs).
    "arange": """
def @main(%x: Tensor[(?), float32], %i: Tensor[(?), int32]) {
  (arange(0f, add(sum(%x), 3f), 0.5f), arange(5f, mean(%x), -0.7f),
   arange(cast(sum(%i), dtype="int64"), 40i64, 3i64), arange(sum(%i), 0, -2))
}""",
    # Sizes read at run time: a shape, a count, a reshape to a shape built from them, and a
    # broadcast of data with a `?` dim to another tensor's shape.
    "shape_of": """
def @main(%x: Tensor[(?, 3, ?), float32], %s: float32, %b: Tensor[(1, ?), float32],
          %c: Tensor[(2, ?), float32]) {
  %0 = shape_of(%x, dtype="int64");
  %1 = strided_slice(%0, begin=[0], end=[1]);
  %2 = reshape(floor_divide(ndarray_size(%x, dtype="int64"), %1), newshape=[1]);
  (shape_of(%x), ndarray_size(%x), shape_of(%s), ndarray_size(%s),
   dyn.reshape(%x, concatenate((%1, %2))), dyn.broadcast_to(%b, shape_of(%c)))
}""",
}


def _inputs(module, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for a in functions_by_name(module)["main"].args:
        shape = [n + k if d < 0 else d for k, d in enumerate(a.type.get_shape())]
        if "i32" in str(a.type):
            out[a.name_hint] = rng.integers(-2, 12, size=shape).astype(np.int32)
        else:
            out[a.name_hint] = rng.standard_normal(shape).astype(np.float32)
    return out


class _Compiled(dict):
    """Each program loaded and compiled once, when a test first needs it (-O1; -O3 for the
    MLP and the resizes: fused groups)."""

    def __missing__(self, name: str):  # noqa: ANN204
        module = load_program(HEADER + PROGRAMS[name], "relay").module
        opt = 3 if name in ("mlp", "resize") else 1
        self[name] = (module, compile(module, opt=opt, cache=False))
        return self[name]


@pytest.fixture(scope="module")
def compiled() -> _Compiled:
    return _Compiled()


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_one_compile_runs_at_two_sizes(compiled, name):
    module, exe = compiled[name]
    rng = np.random.default_rng(0)
    for n in (1, 5):
        inputs = _inputs(module, n, rng)
        got, want = _leaves(exe(**inputs)), _leaves(interpret(module, inputs))
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def _leaves(value) -> list[np.ndarray]:  # noqa: ANN001
    """The arrays of a result, nested tuples (split's) flattened."""
    if isinstance(value, tuple):
        return [leaf for field in value for leaf in _leaves(field)]
    return [value]


def test_the_mlp_matches_numpy(compiled):
    _, exe = compiled["mlp"]
    rng = np.random.default_rng(1)
    w1, b1 = rng.standard_normal((8, 6)), rng.standard_normal(8)
    w2, b2 = rng.standard_normal((4, 8)), rng.standard_normal(4)
    for n in (3, 0):  # an empty batch too
        x = rng.standard_normal((n, 6))
        logits = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        args = [a.astype(np.float32) for a in (x, w1, b1, w2, b2)]
        got = exe(*args)
        assert got.shape == (n, 4)
        np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-5)


def test_static_dims_are_checked_before_the_call(compiled):
    _, exe = compiled["elementwise"]
    x, y, z = np.zeros((2, 3), np.float32), np.zeros((1, 3), np.float32), np.zeros((2, 1), "f4")
    with pytest.raises(ArgumentError, match=r"input 'x' must be \?x3 float32, got 2x4 float32"):
        exe(np.zeros((2, 4), np.float32), y, z)
    with pytest.raises(ArgumentError, match=r"input 'z' must be \?x1 float32, got 2 float32"):
        exe(x, y, np.zeros(2, np.float32))
    assert exe(x, y, z).shape == (2, 3)


def test_calls_between_functions_hand_back_dynamic_results():
    module = load_program(
        HEADER
        + """
def @f(%x: Tensor[(?, 3), float32]) -> Tensor[(?, 3), float32] { tanh(%x) }
def @g(%x: Tensor[(?, 3), float32]) -> Tensor[(?, 3), float32] { %x }
def @main(%x: Tensor[(?, 3), float32]) {
  %0 = @f(%x);
  %1 = @g(%0);
  (add(%0, %1), %1, %x)
}""",
        "relay",
    ).module
    exe = compile(module, opt=0, cache=False)
    for n in (1, 4):
        x = np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)
        for g, w in zip(exe(x), (2 * np.tanh(x), np.tanh(x), x), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-6)


NO_SHAPE_FUNCTION = {
    "full": "its result's shape is an attribute and its one operand a scalar: never `?`",
    "ones": "no operands; its shape is an attribute",
    "zeros": "no operands; its shape is an attribute",
    "vision.non_max_suppression": (
        "its row count is found by the computation (`sized_by_values`): the lowering sizes "
        "its result, and reads `?` box, class and batch counts at run time"
    ),
    "unique": (
        "its distinct count is found by the computation (`sized_by_values`); `?` data dims "
        "are a located error"
    ),
}
"""The registry operators without a run-time shape function, each with the reason."""


def test_every_registry_operator_has_a_shape_function_or_is_listed():
    """An operator added to the registry needs a shape function (`OpDef.shape`) to compile
    with `?` dims, or a place in NO_SHAPE_FUNCTION with its reason."""
    from relay_opt.dialects.relay.registry import all_ops

    missing = {opdef.name for opdef in all_ops() if opdef.shape is None}
    assert missing == NO_SHAPE_FUNCTION.keys(), (
        missing - NO_SHAPE_FUNCTION.keys(),
        NO_SHAPE_FUNCTION.keys() - missing,
    )


def _onnx_mlp(path: Path) -> tuple[np.ndarray, ...]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2)
    w1, b1 = rng.standard_normal((4, 8)).astype("f4"), rng.standard_normal(8).astype("f4")
    w2, b2 = rng.standard_normal((8, 3)).astype("f4"), rng.standard_normal(3).astype("f4")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h0"]),
            helper.make_node("Add", ["h0", "b1"], ["h1"]),
            helper.make_node("Relu", ["h1"], ["h2"]),
            helper.make_node("Gemm", ["h2", "w2", "b2"], ["y"]),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(a, k) for k, a in zip(("w1", "b1", "w2", "b2"), (w1, b1, w2, b2))],  # noqa: B905
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return w1, b1, w2, b2


def test_onnx_dim_param_compiles_once(tmp_path: Path):
    w1, b1, w2, b2 = _onnx_mlp(tmp_path / "mlp.onnx")
    module = load_program(tmp_path / "mlp.onnx").module
    [param] = functions_by_name(module)["main"].args
    assert param.type.get_shape()[0] < 0  # N is `?`
    exe = compile(module, opt=1, cache=False)
    for n in (2, 7):
        x = np.random.default_rng(n).standard_normal((n, 4)).astype(np.float32)
        want = np.maximum(x @ w1 + b1, 0) @ w2 + b2
        np.testing.assert_allclose(exe(x), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("a", "b", "result"),
    [
        (["N", 4, 8], [8, 3], "?x4x3"),  # a symbolic batch times a weight
        (["N", 2, "S", 8], ["N", 2, 8, "S"], "?x2x?x?"),  # attention scores
        ([4, 8], ["N", 2, 8, 3], "?x2x4x3"),  # a matrix times a batch
        ([8], ["N", 8, 3], "?x3"),  # 1-d operands get and lose a unit axis
        (["N", 8], [8], "?"),
    ],
)
def test_onnx_matmul_of_symbolic_dims_keeps_the_static_ones(a, b, result):
    module = load_program(_onnx_matmul(a, b), "onnx").module
    main = functions_by_name(module)["main"]
    assert (
        "x".join("?" if d < 0 else str(d) for d in main.function_type.outputs.data[0].get_shape())
        == result
    )
    exe = compile(module, opt=1, cache=False)
    rng = np.random.default_rng(3)
    for size in (2, 5):
        x, y = (
            rng.standard_normal([size if isinstance(d, str) else d for d in s]).astype("f4")
            for s in (a, b)
        )
        np.testing.assert_allclose(exe(a=x, b=y), x @ y, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(interpret(module, {"a": x, "b": y}), x @ y, rtol=1e-5, atol=1e-5)


def test_onnx_matmul_of_a_unit_batch_against_a_symbolic_one_is_refused():
    with pytest.raises(
        RelayError, match=r"node 0 \(MatMul\): matmul of \(\?, 4, 8\) and \(1, 8, 3\)"
    ):
        load_program(_onnx_matmul(["N", 4, 8], [1, 8, 3]), "onnx")


def _onnx_matmul(a: list, b: list) -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])],
        "matmul",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, s) for k, s in (("a", a), ("b", b))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def test_onnx_flatten_by_a_run_time_shape_compiles_once(tmp_path: Path):
    """`Reshape(x, Concat(Shape(x)[0:1], [-1]))`, flatten keeping a symbolic batch: Shape
    and the Reshape's -1 read the sizes at run time, the result is `?` dims (as is a
    Flatten with `?` dims on both sides of its axis)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((12, 5)).astype(np.float32)
    consts = {"zero": [0], "one": [1], "minus1": [-1]}
    graph = helper.make_graph(
        [
            helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Slice", ["s", "zero", "one"], ["n"]),
            helper.make_node("Concat", ["n", "minus1"], ["target"], axis=0),
            helper.make_node("Reshape", ["x", "target"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["y"]),
            helper.make_node("Size", ["x"], ["count"]),
            helper.make_node("Flatten", ["z"], ["fz"], axis=2),
        ],
        "flatten",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 2, "M"]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("count", TensorProto.INT64, None),
            helper.make_tensor_value_info("fz", TensorProto.FLOAT, None),
        ],
        [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in consts.items()]
        + [numpy_helper.from_array(w, "w")],
    )
    path = tmp_path / "flatten.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    exe = compile(load_program(path).module, opt=1, cache=False)
    for n in (1, 4):
        x = np.random.default_rng(n).standard_normal((n, 3, 4)).astype(np.float32)
        z = np.arange(n * 2 * (n + 2), dtype=np.float32).reshape(n, 2, n + 2)
        y, count, fz = exe(x, z)
        np.testing.assert_allclose(y, x.reshape(n, 12) @ w, rtol=1e-5, atol=1e-5)
        assert count.dtype == np.int64 and int(count) == 12 * n
        np.testing.assert_array_equal(fz, z.reshape(n * 2, n + 2))


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_onnx_range_of_computed_bounds_compiles_once(tmp_path: Path, dtype):
    import onnx
    from onnx import helper

    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    graph = helper.make_graph(
        [
            helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
            helper.make_node("Range", ["zero", "s", "d"], ["y"]),
        ],
        "range",
        [helper.make_tensor_value_info("x", elem, ["N"])],
        [helper.make_tensor_value_info("y", elem, None)],
        [helper.make_tensor("zero", elem, [], [0]), helper.make_tensor("d", elem, [], [2])],
    )
    path = tmp_path / "range.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    exe = compile(load_program(path).module, opt=1, cache=False)
    for n in (1, 4, 9):  # lengths 0, 3 and 18 from one compile
        x = np.arange(n, dtype=dtype)
        got, want = exe(x), np.arange(0, x.sum(), 2, dtype=dtype)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_onnx_tile_of_run_time_repeats_compiles_once(tmp_path: Path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Tile", ["x", "r"], ["y"])],
        "tile",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3]),
            helper.make_tensor_value_info("r", TensorProto.INT64, [2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "tile.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    module = load_program(path).module
    exe = compile(module, opt=3, cache=False)
    rng = np.random.default_rng(4)
    for n, reps in ((2, (1, 1)), (3, (2, 3)), (0, (4, 1)), (1, (0, 2))):
        x, r = rng.standard_normal((n, 3)).astype(np.float32), np.array(reps, np.int64)
        got, want = exe(x, r), np.tile(x, reps)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(interpret(module, {"x": x, "r": r}), want)
    with pytest.raises(RelayError, match="'dyn.tile': a repetition is negative"):
        exe(np.ones((2, 3), np.float32), np.array([1, -1], np.int64))


def _onnx_cnn(path: Path) -> None:
    """A CNN whose input has symbolic N, H and W (as torch exports dynamic axes)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    init = {
        "w": rng.standard_normal((4, 3, 3, 3)),
        "b": rng.standard_normal(4),
        "scale": rng.random(4) + 0.5,
        "bias": rng.standard_normal(4),
        "mean": rng.standard_normal(4),
        "var": rng.random(4) + 0.5,
        "fc": rng.standard_normal((4, 5)),
    }
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
            helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["n"]),
            helper.make_node("Relu", ["n"], ["r"]),
            helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], ceil_mode=1),
            helper.make_node("AveragePool", ["p"], ["a"], kernel_shape=[2, 2], pads=[1, 1, 0, 0]),
            helper.make_node("GlobalAveragePool", ["a"], ["g"]),
            helper.make_node("Flatten", ["g"], ["f"]),
            helper.make_node("MatMul", ["f", "fc"], ["y"]),
        ],
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        [numpy_helper.from_array(a.astype("f4"), k) for k, a in init.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_onnx_symbolic_height_and_width_compile_once(tmp_path: Path):
    _onnx_cnn(tmp_path / "cnn.onnx")
    module = load_program(tmp_path / "cnn.onnx").module
    [param] = functions_by_name(module)["main"].args
    assert [d < 0 for d in param.type.get_shape()] == [True, False, True, True]
    exe = compile(module, opt=3, cache=False)
    for shape in ((1, 3, 9, 12), (3, 3, 16, 7)):
        x = np.random.default_rng(shape[2]).standard_normal(shape).astype(np.float32)
        got, want = exe(x), interpret(module, {"x": x})
        assert got.shape == want.shape == (shape[0], 5)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_relay_run_takes_the_shape_from_the_inputs(tmp_path: Path, capsys):
    from relay_opt.tools.relay_run import main

    _onnx_mlp(tmp_path / "mlp.onnx")
    (tmp_path / "mlp.rly").write_text(HEADER + PROGRAMS["elementwise"])
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "onnx_in.npz", x=rng.standard_normal((6, 4)).astype(np.float32))
    np.savez(
        tmp_path / "rly_in.npz",
        x=rng.standard_normal((5, 3)).astype(np.float32),
        y=rng.standard_normal((1, 3)).astype(np.float32),
        z=rng.standard_normal((5, 1)).astype(np.float32),
    )
    _onnx_cnn(tmp_path / "cnn.onnx")
    np.savez(tmp_path / "cnn_in.npz", x=rng.standard_normal((2, 3, 11, 6)).astype(np.float32))
    for model, inputs, shape in (
        ("mlp.onnx", "onnx_in", "6x3"),
        ("mlp.rly", "rly_in", "5x3"),
        ("cnn.onnx", "cnn_in", "2x5"),
    ):
        code = main([str(tmp_path / model), "-i", str(tmp_path / f"{inputs}.npz"), "--no-cache"])
        out = capsys.readouterr()
        assert code == 0, out.err
        assert f"result[0]: {shape}xfloat32" in out.out


@pytest.mark.parametrize(
    ("body", "bad", "message"),
    [
        ("add(%a, %b)", (3, 2), "'add': a \\? dimension of an operand has a different size"),
        ("nn.dense(%a, %w)", (3, 2), "'nn.dense': the inner dimensions differ at run time"),
        ("reshape(%a, newshape=[-1, 3])", (2, 2), "'reshape': the new shape has a different"),
        ("concatenate((%a, %b), axis=1)", (3, 2), "'concatenate': the inner dimensions differ"),
        ("split(%a, indices_or_sections=2)", (3, 2), "'split': the axis does not split into 2"),
        ("broadcast_to(%a, shape=[2, 3])", (3, 2), "'broadcast_to': a \\? dimension of the data"),
        (
            'nn.pad(%a, 0f, pad_width=[[0, 0], [2, 2]], pad_mode="reflect")',
            (3, 2),
            "'nn.pad': padded axis 1 needs more than 2 elements",
        ),
        ("argmax(%a, axis=[0])", (0, 3), "'argmax' over no elements"),
        (
            "nn.conv2d_transpose(expand_dims(%a, axis=0, num_newaxis=2), "
            "reshape(%w, newshape=[1, 1, 2, 3]), padding=[1, 1])",
            (1, 3),
            "'nn.conv2d_transpose': the padding leaves an empty output",
        ),
        (
            "nn.batch_norm(%w, %g, %g, %g, %g).0".replace("%g", "sum(%a, axis=[0])"),
            (3, 2),
            "'nn.batch_norm': a statistic's length differs",
        ),
    ],
)
def test_sizes_that_do_not_fit_at_run_time_are_located_errors(body, bad, message):
    # Both operands are ?x?: only the run-time sizes can disagree; compiled code reports it
    # through the error channel (never an out-of-bounds read), at the operator's position.
    module = load_program(
        HEADER + "def @main(%a: Tensor[(?, ?), float32], %b: Tensor[(?, ?), float32],\n"
        f"          %w: Tensor[(2, 3), float32]) {{\n  {body}\n}}\n",
        "relay",
        filename="fit.rly",
    ).module
    exe = compile(module, opt=0, cache=False)
    w = np.ones((2, 3), np.float32)
    exe(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32), w)  # sizes that fit
    with pytest.raises(RelayError, match=message) as e:
        exe(np.ones(bad, np.float32), np.ones((2, 3), np.float32), w)
    assert str(location_of(e.value.at)).startswith("fit.rly:4:3")


def test_an_update_outside_the_data_is_a_located_error():
    # dyn.update_slice's offsets are read at run time: one that fits matches the interpreter,
    # one past either end is reported at the operator, never written out of bounds.
    module = load_program(
        HEADER + "def @main(%x: Tensor[(5, 3), float32], %u: Tensor[(2, 3), float32],\n"
        "          %b: Tensor[(2), int64]) {\n  dyn.update_slice(%x, %u, %b)\n}\n",
        "relay",
        filename="update.rly",
    ).module
    exe = compile(module, opt=0, cache=False)
    x, u = np.zeros((5, 3), np.float32), np.ones((2, 3), np.float32)
    for begin in ([0, 0], [3, 0]):
        args = [x, u, np.array(begin, np.int64)]
        np.testing.assert_array_equal(exe(*args), interpret(module, args))
    for begin, axis in (([4, 0], 0), ([-1, 0], 0), ([0, 1], 1)):
        with pytest.raises(RelayError, match=f"axis {axis} writes outside the data") as e:
            exe(x, u, np.array(begin, np.int64))
        assert str(location_of(e.value.at)).startswith("update.rly:4:3")


def test_arg_reductions_over_empty_axes_agree_with_the_interpreter():
    # An empty reduced axis with result elements has no answer (numpy raises): a located
    # error in both; with no result element either (0 rows kept), both give empty results.
    module = load_program(
        HEADER + "def @main(%x: Tensor[(?, ?), float32]) {\n"
        "  (argmax(%x, axis=[1]), argmin(%x, axis=[1], keepdims=True), argmax(%x, axis=[0]))\n"
        "}\n",
        "relay",
        filename="arg.rly",
    ).module
    exe = compile(module, opt=0, cache=False)
    for shape in ((0, 0), (2, 3)):
        x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        assert same_value(exe(x), interpret(module, [x]))
    assert [r.shape for r in exe(np.zeros((0, 0), np.float32))] == [(0,), (0, 1), (0,)]  # pyright: ignore
    for shape, column in (((0, 3), 63), ((2, 0), 4)):
        x = np.zeros(shape, np.float32)
        for run in (lambda: exe(x), lambda: interpret(module, [x])):  # noqa: B023
            with pytest.raises(RelayError, match="over no elements") as e:
                run()
            assert str(location_of(e.value.at)) == f"arg.rly:3:{column}"


@pytest.mark.parametrize(
    ("step", "message"),
    [("0", "'arange': the step is 0"), ("0f", "'arange': the step is 0 or the bounds give no")],
)
def test_an_arange_step_of_0_is_a_located_error(step, message):
    bound = "%n" if step == "0" else 'cast(%n, dtype="float32")'
    module = load_program(
        HEADER + f"def @main(%n: int32) {{\n  arange({bound}, {bound}, {step})\n}}\n",
        "relay",
        filename="range.rly",
    ).module
    with pytest.raises(RelayError, match=message) as e:
        compile(module, opt=0, cache=False)(np.int32(3))
    assert str(location_of(e.value.at)) == "range.rly:3:3"


@pytest.mark.parametrize("opt", [0, 3])
def test_constant_padding_of_an_axis_empty_at_run_time(opt):
    # Every element is the pad value; the data (no element) is never read.
    module = load_program(
        HEADER + "def @main(%x: Tensor[(?, 4), float32]) {\n"
        "  nn.pad(%x, 1.5f, pad_width=[[1, 2], [0, 1]])\n}\n",
        "relay",
    ).module
    exe = compile(module, opt=opt, cache=False)
    for n in (0, 3):
        x = np.random.default_rng(n).standard_normal((n, 4)).astype(np.float32)
        want = np.pad(x, [(1, 2), (0, 1)], constant_values=1.5)
        np.testing.assert_array_equal(exe(x), want)


def test_handed_back_results_are_freed():
    # Every call allocates its ? results in native code; the JIT frees them after copying.
    import resource

    module = load_program(
        HEADER + "def @main(%x: Tensor[(?, 3), float32]) { (tanh(%x), %x) }", "relay"
    ).module
    exe = compile(module, opt=0, cache=False)
    x = np.ones((256, 3), np.float32)  # 3 KiB per result: 3,000 calls would leak 18 MiB
    for _ in range(100):
        exe(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(3000):
        exe(x)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 4096  # KiB


def _resident_mib() -> float:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


FAILING_CALLS = {
    # A run-time size check fails after the function allocated a temporary and its ? result.
    "size_check": """
def @main(%a: Tensor[(?, ?), float32], %b: Tensor[(?, ?), float32]) {
  %0 = tanh(%a);
  %1 = exp(%0);
  %2 = add(%1, %b);
  (multiply(%2, %1), %0)
}""",
    # The callee fails: the caller's temporaries and the callee's are both freed.
    "in_a_callee": """
def @inner(%a: Tensor[(?, ?), float32], %b: Tensor[(?, ?), float32]) -> Tensor[(?, ?), float32] {
  %0 = exp(%a);
  add(%0, %b)
}
def @main(%a: Tensor[(?, ?), float32], %b: Tensor[(?, ?), float32]) {
  %0 = tanh(%a);
  %1 = @inner(%0, %b);
  multiply(%1, %0)
}""",
    # Too deep: every frame of the recursion holds a temporary when the limit stops it.
    "too_deep": """
def @down(%x: Tensor[(?, ?), float32], %n: int32) -> Tensor[(?, ?), float32] {
  if (greater(%n, 0)) {
    %0 = tanh(%x);
    %1 = @down(%0, subtract(%n, 1));
    add(%1, %0)
  } else {
    %x
  }
}
def @main(%a: Tensor[(?, ?), float32], %b: Tensor[(?, ?), float32]) {
  @down(add(%a, %b), 1000)
}""",
}


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc/self/statm")
@pytest.mark.parametrize("name", sorted(FAILING_CALLS))
def test_a_failing_call_frees_what_it_allocated(name, monkeypatch):
    # 64 KiB per temporary: 2,000 failing calls that leaked one would grow by 125 MiB.
    monkeypatch.setenv("RELAY_OPT_MAX_DEPTH", "20")
    module = load_program(HEADER + FAILING_CALLS[name], "relay").module
    exe = compile(module, opt=0, cache=False)
    a = np.full((128, 128), 0.5, np.float32)
    bad = np.ones((128, 127), np.float32) if name != "too_deep" else a
    if name != "too_deep":
        expected, got = interpret(module, [a, a]), exe(a, a)  # sizes that fit
        if not isinstance(got, tuple):
            expected, got = (expected,), (got,)
        for e, g in zip(expected, got, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-5)
    for _ in range(100):
        with pytest.raises(RelayError):
            exe(a, bad)
    before = _resident_mib()
    for _ in range(2000):
        with pytest.raises(RelayError):
            exe(a, bad)
    assert _resident_mib() - before < 5.0


BRANCHES = """
def @pick(%o: Option[Tensor[(3), float32]], %x: Tensor[(?, 3), float32]) -> Tensor[(?, 3), float32] {
  match (%o) {
    Some(%v) => add(%x, %v),
    None => concatenate((%x, %x)),
  }
}
def @main(%x: Tensor[(?, 3), float32], %c: bool, %v: Tensor[(3), float32]) {
  %0 = if (%c) { concatenate((%x, %x)) } else { tanh(%x) };
  %1 = if (%c) { (%x, %0) } else { (%0, %0) };
  %2 = if (%c) { @pick(Some(%v), %0) } else { @pick(None, %x) };
  (add(%0, 1f), %1.0, %1.1, if (%c) { %x } else { %x }, %2)
}"""


@pytest.mark.parametrize("opt", [0, 3])
def test_branches_whose_values_have_dynamic_sizes(opt):
    # The branches of an `if` and the clauses of a `match` yield different sizes (their own
    # buffer, a parameter, a value from outside, one value twice); each size runs both ways.
    module = load_program(HEADER + BRANCHES, "relay").module
    exe = compile(module, opt=opt, cache=False)
    rng = np.random.default_rng(1)
    for n in (1, 4):
        for c in (True, False):
            args = [rng.standard_normal((n, 3)).astype(np.float32), np.array(c)]
            args.append(rng.standard_normal(3).astype(np.float32))
            for g, w in zip(exe(*args), interpret(module, args), strict=True):
                assert g.shape == w.shape
                np.testing.assert_allclose(g, w, rtol=1e-6)
    if Path("/proc/self/statm").exists():  # each branch's buffer is freed by its user
        x = rng.standard_normal((128, 3)).astype(np.float32)
        for _ in range(100):
            exe(x, np.array(True), args[2])
        before = _resident_mib()
        for _ in range(2000):
            exe(x, np.array(True), args[2])
        assert _resident_mib() - before < 5.0


@pytest.mark.parametrize("opt", [0, 3])
def test_a_dimension_of_size_1_at_run_time_broadcasts(opt):
    # numpy's rule, as the interpreter runs it: a `?` dim that is 1 at run time broadcasts
    # against the others (another `?` or a static one); any other mismatch is the error.
    module = load_program(
        HEADER + "def @main(%a: Tensor[(?, ?), float32], %b: Tensor[(?, 3), float32],\n"
        "          %c: Tensor[(4, ?), float32]) {\n"
        "  (add(%a, %b), multiply(%a, %c), subtract(%b, %b), tanh(%a))\n}\n",
        "relay",
        filename="bc.rly",
    ).module
    exe = compile(module, opt=opt, cache=False)
    rng = np.random.default_rng(7)
    for shapes in [
        ((4, 3), (4, 3), (4, 3)),
        ((1, 3), (4, 3), (4, 3)),
        ((4, 1), (1, 3), (4, 1)),
        ((1, 1), (4, 3), (4, 3)),
        ((4, 3), (1, 3), (4, 1)),
    ]:
        args = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        for g, w in zip(exe(*args), interpret(module, args), strict=True):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-6)
    with pytest.raises(RelayError, match="different size at run time than the others and is not 1"):
        exe(*(np.ones(s, np.float32) for s in ((2, 3), (4, 3), (4, 3))))


def test_a_ref_annotated_with_dynamic_dims_is_a_cell_of_that_type(tmp_path: Path):
    # The annotation wins over the first value's static shape: the cell later holds %x's
    # rows; the Relay printer keeps the annotation, so the text reads back the same.
    from relay_opt.frontends.relay_text.printer import print_relay

    src = HEADER + (
        "def @main(%x: Tensor[(?, 4), float32]) {\n"
        '  let %r: ref(Tensor[(?, 4), float32]) = ref(zeros(shape=[0, 4], dtype="float32"));\n'
        "  let %u = ref_write(%r, %x);\n"
        "  ref_read(%r)\n}\n"
    )
    module = load_program(src, "relay").module
    exe = compile(module, opt=0, cache=False)
    for n in (0, 3):
        x = np.arange(4 * n, dtype=np.float32).reshape(n, 4)
        np.testing.assert_array_equal(exe(x), x)
        np.testing.assert_array_equal(interpret(module, {"x": x}), x)
    text = print_relay(module).text
    assert "let %r: ref(Tensor[(?, 4), float32]) = ref(" in text
    again = load_program(text, "relay").module
    np.testing.assert_array_equal(compile(again, opt=0, cache=False)(np.ones((2, 4), "f4")), 1)


def test_dynamic_data_read_through_a_static_type_is_checked():
    # `?` meets a static dim in type inference; compiled code checks the size before it
    # reads the data through the static type.
    module = load_program(
        HEADER + "def @f(%y: Tensor[(3, 4), float32]) -> Tensor[(3, 4), float32] {\n"
        "  add(%y, 1f)\n}\n"
        "def @main(%x: Tensor[(?, 4), float32]) -> Tensor[(3, 4), float32] {\n  @f(%x)\n}\n",
        "relay",
        filename="static.rly",
    ).module
    exe = compile(module, opt=0, cache=False)
    np.testing.assert_array_equal(exe(np.ones((3, 4), np.float32)), 2)
    with pytest.raises(RelayError, match="a \\? dimension \\(axis 0\\) is not 3 at run time") as e:
        exe(np.ones((5, 4), np.float32))
    assert str(location_of(e.value.at)) == "static.rly:6:5"  # the call's parenthesis
