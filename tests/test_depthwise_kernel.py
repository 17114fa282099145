"""The kernel library's blocked depthwise conv2d routine (lowering/kernels/depthwise.py)
through its C ABI against numpy over random shapes, strides, padding and dilation, with and
without the epilogue, bit-identical at 1 and 2 threads; and lower-contractions calling it for compiled depthwise convs, against
the interpreter."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp

from relay_opt.lowering.kernels.conv import HAS_BIAS, HAS_RESIDUAL
from relay_opt.lowering.kernels.depthwise import (
    DEPTHWISE_PARAMS,
    build_depthwise,
    build_depthwise_rows,
    depthwise_name,
)
from relay_opt.lowering.kernels.gemm import add_runtime_declarations
from relay_opt.lowering.kernels.target import Target


@pytest.fixture(scope="module", params=["host", 512])
def routine(request: pytest.FixtureRequest):  # noqa: ANN201
    from relay_opt.runtime import thread_pool
    from relay_opt.runtime.jit import _llvm, llvm_ir, optimize, target_machine

    target = Target.host() if request.param == "host" else Target(vector_bits=request.param)
    module = ModuleOp([])
    add_runtime_declarations(module)  # the thread pool's entry among them
    # External linkage: callable from here; its task is defined beside it.
    module.body.block.add_ops([build_depthwise_rows(target), build_depthwise(target)])
    thread_pool.load()  # relay_opt_parallel_for, as a process symbol
    engine = _llvm().create_mcjit_compiler(optimize(llvm_ir(module), 1), target_machine(1))
    engine.finalize_object()
    signature = ctypes.CFUNCTYPE(
        None,
        *([ctypes.c_void_p] * 5),
        *([ctypes.c_int64] * (len(DEPTHWISE_PARAMS) - 7)),
        ctypes.c_float,
        ctypes.c_float,
    )
    fn = signature(engine.get_function_address(depthwise_name(target)))
    return engine, fn, target.lanes(32)


def _reference(x: np.ndarray, w: np.ndarray, stride, pad, dilation) -> np.ndarray:  # noqa: ANN001
    """NCHW depthwise conv2d (w: [C, KH, KW]) in float64, padding (top, left, bottom, right)."""
    _, _, h, wi = x.shape
    _, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    top, left, bottom, right = pad
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    oh = (h + top + bottom - (kh - 1) * dh - 1) // sh + 1
    ow = (wi + left + right - (kw - 1) * dw - 1) // sw + 1
    y = np.zeros((x.shape[0], x.shape[1], oh, ow))
    for i in range(kh):
        for j in range(kw):
            window = xp[
                :,
                :,
                i * dh : i * dh + (oh - 1) * sh + 1 : sh,
                j * dw : j * dw + (ow - 1) * sw + 1 : sw,
            ]
            y += window * w[None, :, i, j, None, None]
    return y


# (N, channel blocks, H, W, KH, KW, stride, padding, dilation)
CASES = [
    (1, 2, 14, 40, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)),  # MobileNet's 3x3 same
    (2, 1, 15, 67, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1)),  # strided, odd sizes, a batch
    (1, 3, 9, 70, 5, 3, (1, 2), (2, 1, 0, 3), (2, 3)),  # dilated, uneven padding
    (1, 1, 4, 5, 5, 5, (1, 1), (3, 3, 3, 3), (1, 1)),  # taps larger than the image
    (1, 2, 7, 40, 3, 3, (1, 1), (0, 0, 0, 0), (1, 1)),  # no padding, wide rows
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[4]}x{c[5]}s{c[6][0]}w{c[3]}")
@pytest.mark.parametrize("epilogue", ["none", "bias_relu", "bias_residual_clip"])
def test_routine_against_numpy(routine, case, epilogue: str) -> None:  # noqa: ANN001
    _, fn, lanes = routine
    n, cb, h, wi, kh, kw, stride, pad, dilation = case
    c = cb * lanes
    rng = np.random.default_rng(h * 10 + kw)
    x = rng.standard_normal((n, c, h, wi), dtype=np.float32)
    w = rng.standard_normal((c, kh, kw), dtype=np.float32)
    want = _reference(x, w, stride, pad, dilation)
    _, _, oh, ow = want.shape
    bias = rng.standard_normal(c, dtype=np.float32)
    residual = rng.standard_normal(want.shape, dtype=np.float32)
    flags, lo, hi = 0, -np.inf, np.inf
    if epilogue != "none":
        flags |= HAS_BIAS
        want = want + bias.reshape(1, -1, 1, 1)
    if epilogue == "bias_residual_clip":
        flags |= HAS_RESIDUAL
        want = want + residual
        lo, hi = -0.5, 6.0
    elif epilogue == "bias_relu":
        lo = 0.0
    want = np.clip(want, lo, hi)

    def blocked(a: np.ndarray) -> np.ndarray:  # NCHW -> NCHW{lanes}c
        b, _, hh, ww = a.shape
        return np.ascontiguousarray(a.reshape(b, cb, lanes, hh, ww).transpose(0, 1, 3, 4, 2))

    wb = np.ascontiguousarray(w.reshape(cb, lanes, kh, kw).transpose(0, 2, 3, 1))
    y = np.full((n, cb, oh, ow, lanes), np.nan, dtype=np.float32)
    xb, rb = blocked(x), blocked(residual.astype(np.float32))
    top, left, _, _ = pad
    fn(
        xb.ctypes.data, wb.ctypes.data, y.ctypes.data, bias.ctypes.data, rb.ctypes.data,
        n, cb, h, wi, oh, ow, kh, kw, *stride, top, left, *dilation, flags, lo, hi,
    )  # fmt: skip
    got = y.transpose(0, 1, 4, 2, 3).reshape(want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_routine_identical_at_1_and_2_threads(routine) -> None:  # noqa: ANN001
    # Two images of 3 blocks x 9 rows = 54 items, each under DEPTHWISE_MIN_MACS: the split
    # falls inside an image and a block; the right border and a last narrow tile are checked.
    from relay_opt.runtime import thread_pool

    _, fn, lanes = routine
    n, cb, h, wi, oh, ow = 2, 3, 17, 45, 9, 23
    rng = np.random.default_rng(5)
    xb = rng.standard_normal((n, cb, h, wi, lanes), dtype=np.float32)
    wb = rng.standard_normal((cb, 3, 3, lanes), dtype=np.float32)
    bias = rng.standard_normal(cb * lanes, dtype=np.float32)
    before = thread_pool.num_threads()
    results = []
    try:
        for threads in (1, 2):
            thread_pool.set_num_threads(threads)
            y = np.full((n, cb, oh, ow, lanes), np.nan, dtype=np.float32)
            fn(
                xb.ctypes.data, wb.ctypes.data, y.ctypes.data, bias.ctypes.data, None,
                n, cb, h, wi, oh, ow, 3, 3, 2, 2, 1, 1, 1, 1, HAS_BIAS, 0.0, np.inf,
            )  # fmt: skip
            results.append(y)
    finally:
        thread_pool.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])  # a deterministic partition
    x = xb.transpose(0, 1, 4, 2, 3).reshape(n, cb * lanes, h, wi)
    w = wb.transpose(0, 3, 1, 2).reshape(cb * lanes, 3, 3)
    want = _reference(x, w, (2, 2), (1, 1, 1, 1), (1, 1)) + bias.reshape(1, -1, 1, 1)
    got = results[1].transpose(0, 1, 4, 2, 3).reshape(want.shape)
    np.testing.assert_allclose(got, np.maximum(want, 0), rtol=1e-4, atol=1e-4)


# -- lower-contractions: compiled depthwise convs against the interpreter --------------------


def _depthwise(lanes: int, case: tuple) -> str:  # noqa: ANN001
    n, cb, h, w, kh, kw, stride, pad, dilation = case
    c = cb * lanes
    return f"""#[version = "0.0.5"]
def @main(%x: Tensor[({n}, {cb}, {h}, {w}, {lanes}), float32], %w: Tensor[({cb}, 1, {kh}, {kw}, 1, {lanes}), float32], %b: Tensor[(1, {cb}, 1, 1, {lanes}), float32]) {{
  %0 = nn.conv2d(%x, %w, strides={list(stride)}, padding={list(pad)}, dilation={list(dilation)}, groups={c}, data_layout="NCHW{lanes}c", kernel_layout="OIHW1i{lanes}o");
  nn.relu(add(%0, %b))
}}"""


@pytest.mark.parametrize("case", CASES[:4], ids=lambda c: f"{c[4]}x{c[5]}s{c[6][0]}w{c[3]}")
@pytest.mark.parametrize("fp_policy", ["fast", "strict"])
def test_compiled_depthwise_convs(case, fp_policy: str) -> None:  # noqa: ANN001
    # Under the fast policy one call of the routine (the bias and relu at its store) at any
    # width (the fourth case's 7 too); strict keeps the loops (the routine reorders the sums).
    from xdsl.dialects import llvm

    from relay_opt import load_program
    from relay_opt.runtime.interpreter import interpret
    from relay_opt.runtime.jit import compile, lower_to_llvm

    text = _depthwise(Target.host().lanes(32), case)
    module = load_program(text, "relay").module
    fn = module.ops.first
    shapes = [a.type.get_shape() for a in fn.body.block.args]  # pyright: ignore
    rng = np.random.default_rng(len(shapes))
    inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    got = compile(module, opt=1, fp_policy=fp_policy)(*inputs)
    np.testing.assert_allclose(got, interpret(module, inputs), rtol=1e-4, atol=1e-4)
    lowered = lower_to_llvm(load_program(text, "relay").module, level=1, fp_policy=fp_policy)
    calls = [
        op
        for op in lowered.walk()
        if isinstance(op, llvm.CallOp)
        and op.callee.string_value().startswith("relay_opt_depthwise_conv2d_")
    ]
    assert len(calls) == (1 if fp_policy == "fast" else 0)
