"""fuse-linalg-epilogue: an anchor (conv2d, dense, pooling, ...) and its elementwise epilogue
compiled as one kernel, against the interpreter on random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.linalg import ops as linalg

from relay_opt import load_program
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

HEADER = '#[version = "0.0.5"]\n'


def kernels_after_fusion(text: str) -> list[linalg.GenericOp]:
    """The top-level generics of @main after -O3 and the lowering up to fuse-linalg-epilogue."""
    from relay_opt.lowering.convert_relay_to_linalg import ConvertRelayToLinalgPass
    from relay_opt.lowering.fuse_linalg_elementwise import FuseLinalgElementwisePass
    from relay_opt.lowering.fuse_linalg_epilogue import FuseLinalgEpiloguePass
    from relay_opt.passes.relay_optimize import OptimizePass

    module = load_program(text, "relay").module
    for p in (
        OptimizePass(3, layout_block=0),  # NCHW: a blocked conv2d keeps its epilogue apart
        ConvertRelayToLinalgPass(),
        FuseLinalgElementwisePass(),
        FuseLinalgEpiloguePass(),
    ):
        p.apply(Context(), module)
    [main] = [
        op for op in module.ops if getattr(op, "sym_name", None) and op.sym_name.data == "main"
    ]
    return [op for op in main.body.block.ops if isinstance(op, linalg.GenericOp)]


def has_reduction(op: linalg.GenericOp) -> bool:
    return any(str(it.data) == "reduction" for it in op.iterator_types)  # pyright: ignore


def check(
    text: str,
    shapes: list[tuple[int, ...]],
    fused: bool = True,
    seed: int = 0,
    dtype: str = "float32",
) -> None:
    rng = np.random.default_rng(seed)
    scale = 1 if dtype.startswith("float") else 4  # integers: values other than -1, 0, 1
    inputs = [(rng.standard_normal(s) * scale).astype(dtype) for s in shapes]
    module = load_program(text, "relay").module
    got = compile(module, opt=3)(*inputs)
    want = interpret(module, inputs)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # Fused: no generic with reduction loops is left on its own (its epilogue took it in).
    assert any(has_reduction(op) for op in kernels_after_fusion(text)) is not fused


CONV_BLOCK = (
    HEADER
    + """def @main(%x: Tensor[(1, 8, 16, 16), float32], %w: Tensor[(8, 8, 3, 3), float32], %b: Tensor[(8), float32]) {
  %0 = nn.conv2d(%x, %w, padding=[1, 1, 1, 1]);
  %1 = nn.bias_add(%0, %b);
  %2 = nn.relu(%1);
  add(%2, %x)
}"""
)


def test_conv2d_bias_relu_residual_add():
    check(CONV_BLOCK, [(1, 8, 16, 16), (8, 8, 3, 3), (8,)])


def test_conv2d_strided_bias_relu():
    text = (
        HEADER
        + """def @main(%x: Tensor[(2, 3, 15, 15), float32], %w: Tensor[(4, 3, 3, 3), float32], %b: Tensor[(4), float32]) {
  nn.relu(nn.bias_add(nn.conv2d(%x, %w, strides=[2, 2], padding=[1, 1, 1, 1]), %b))
}"""
    )
    check(text, [(2, 3, 15, 15), (4, 3, 3, 3), (4,)])


DENSE_BIAS_RELU = (
    HEADER
    + """def @main(%x: Tensor[(4, 32), DT], %w: Tensor[(16, 32), DT], %b: Tensor[(16), DT]) {
  nn.relu(nn.bias_add(nn.dense(%x, %w, units=16), %b))
}"""
)


def test_dense_bias_relu():
    text = DENSE_BIAS_RELU.replace("DT", "int32")
    check(text, [(4, 32), (16, 32), (16,)], dtype="int32")


def test_float32_contractions_are_left_to_lower_contractions():
    # lower-contractions calls the GEMM kernel for them (4096 multiply-adds and more): the
    # epilogue loops over its result; smaller ones are fused.
    text = DENSE_BIAS_RELU.replace("DT", "float32")
    check(text, [(4, 32), (16, 32), (16,)])
    big = text.replace("(4, 32)", "(8, 32)").replace("16", "24")
    check(big, [(8, 32), (24, 32), (24,)], fused=False)


def test_batch_matmul_scale_tanh():
    text = (
        HEADER
        + """def @main(%a: Tensor[(3, 5, 7), float32], %b: Tensor[(3, 7, 6), float32]) {
  tanh(multiply(nn.batch_matmul(%a, %b), 0.5f))
}"""
    )
    check(text, [(3, 5, 7), (3, 7, 6)])


def test_max_pool_then_elementwise():
    text = (
        HEADER
        + """def @main(%x: Tensor[(1, 4, 9, 9), float32], %y: Tensor[(1, 4, 4, 4), float32]) {
  %0 = nn.max_pool2d(%x, pool_size=[3, 3], strides=[2, 2]);
  nn.relu(add(%0, %y))
}"""
    )
    check(text, [(1, 4, 9, 9), (1, 4, 4, 4)])


def test_avg_pool_divides_in_the_window_loop():
    # avg_pool2d is a sum then a division by the window count: one kernel.
    text = (
        HEADER
        + """def @main(%x: Tensor[(1, 4, 8, 8), float32]) {
  exp(nn.avg_pool2d(%x, pool_size=[3, 3], strides=[1, 1], padding=[1, 1, 1, 1]))
}"""
    )
    check(text, [(1, 4, 8, 8)])


def test_max_pool_nhwc_output_permutes_the_loops():
    text = (
        HEADER
        + """def @main(%x: Tensor[(1, 8, 8, 3), float32]) {
  sigmoid(nn.max_pool2d(%x, pool_size=[2, 2], strides=[2, 2], layout="NHWC"))
}"""
    )
    check(text, [(1, 8, 8, 3)])


def test_global_avg_pool_output_has_unit_axes():
    text = (
        HEADER
        + """def @main(%x: Tensor[(2, 4, 5, 5), float32]) {
  nn.relu(nn.global_avg_pool2d(%x))
}"""
    )
    check(text, [(2, 4, 5, 5)])


def test_intermediate_with_another_user_is_not_fused():
    # The dense result is also returned: it must stay a tensor of its own.
    text = (
        HEADER
        + """def @main(%x: Tensor[(4, 8), float32], %w: Tensor[(6, 8), float32]) {
  %0 = nn.dense(%x, %w, units=6);
  (%0, nn.relu(%0))
}"""
    )
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(s).astype(np.float32) for s in [(4, 8), (6, 8)]]
    module = load_program(text, "relay").module
    got, want = compile(module)(*inputs), interpret(module, inputs)
    for g, w in zip(got, want, strict=True):  # pyright: ignore
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert any(has_reduction(op) for op in kernels_after_fusion(text))


@pytest.mark.parametrize("seed", [1, 2])
def test_conv_block_random_inputs(seed: int):
    check(CONV_BLOCK, [(1, 8, 16, 16), (8, 8, 3, 3), (8,)], seed=seed)


@pytest.mark.parametrize("opt", [0, 3])
def test_scalar_fill_into_keepdims_reduction_is_not_merged(opt):
    # Merging the `full` of a scalar into prod over its one axis left the maps (d0) -> () and
    # (d0) -> (0): no operand gave the loop's range (fuse-linalg-elementwise built a
    # non-invertible generic). The producer stays a loop of its own.
    text = HEADER + (
        "def @main(%p: float64) {\n"
        '  %0 = full(%p, shape=[2], dtype="int16");\n'
        "  %1 = prod(%0, keepdims=True);\n"
        "  min(%1, axis=[-1], keepdims=True)\n"
        "}"
    )
    p = np.array(-3.5)
    module = load_program(text, "relay").module
    got = compile(module, opt=opt)(p)
    np.testing.assert_array_equal(got, interpret(module, [p]))
    np.testing.assert_array_equal(got, np.array([9], np.int16))


RELU6_CHAIN = (
    HEADER
    + """def @main(%x: Tensor[(1, 32, 9, 64), float32], %w: Tensor[(32, 32, 1, 1), float32], %b: Tensor[(32), float32], %d: Tensor[(32, 1, 3, 3), float32]) {
  %0 = nn.bias_add(nn.conv2d(%x, %w, padding=[0, 0, 0, 0]), %b);
  %1 = minimum(maximum(%0, 0f), 6f);
  %2 = nn.conv2d(%1, %d, strides=[2, 2], padding=[1, 1, 1, 1], groups=32);
  minimum(maximum(%2, 0f), 6f)
}"""
)


def test_relu6_as_maximum_and_minimum_is_applied_at_the_routines_store():
    # ONNX's Clip arrives as maximum and minimum with scalar constants (MobileNetV2's ReLU6):
    # fuse-linalg-elementwise inlines the constants, so the conv and depthwise routines clamp
    # at their stores and no elementwise loop nest is left after lower-contractions.
    from xdsl.ir import Operation

    from relay_opt.runtime.jit import lower_to_llvm

    shapes = [(1, 32, 9, 64), (32, 32, 1, 1), (32,), (32, 1, 3, 3)]
    rng = np.random.default_rng(6)
    inputs = [(rng.standard_normal(s) * 3).astype(np.float32) for s in shapes]
    module = load_program(RELU6_CHAIN, "relay").module
    got = compile(module, opt=3)(*inputs)
    np.testing.assert_allclose(got, interpret(module, inputs), rtol=1e-4, atol=1e-5)
    assert (got == 6).any() and (got == 0).any()  # both bounds reached
    left: list[Operation] = []

    def after(name: str, m) -> None:  # noqa: ANN001
        if name == "lower-contractions":  # (the routines are only declared)
            left.extend(op for op in m.walk() if op.name == "arith.minimumf")

    lower_to_llvm(load_program(RELU6_CHAIN, "relay").module, after_pass=after)
    assert not left
