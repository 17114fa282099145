"""The kernel library's blocked conv2d routine (lowering/kernels/conv.py) through its C ABI,
against numpy, over random shapes, strides, padding and dilation (1x1, 3x3, strided, the 7x7
over 3 channels), with and without the fused epilogue (bias, residual, relu/clip); and
lower-contractions calling it for compiled blocked conv2d chains, against the interpreter."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from xdsl.dialects import llvm as llvm_dialect
from xdsl.dialects.builtin import ModuleOp

from relay_opt.lowering.kernels.conv import (
    CONV_PARAMS,
    HAS_BIAS,
    HAS_RESIDUAL,
    build_conv,
    build_conv_rows,
    conv_name,
)
from relay_opt.lowering.kernels.gemm import add_runtime_declarations
from relay_opt.lowering.kernels.target import Target


@pytest.fixture(scope="module", params=["host", 256, 512])
def routine(request: pytest.FixtureRequest):  # noqa: ANN201
    """The host's conv routine, AVX2's (8 lanes, 6 x 2 tile) and AVX-512's (16 lanes, 12 x 2
    tile; LLVM splits its vectors where the host's are narrower), each compiled alone and
    callable through its C ABI."""
    from relay_opt.runtime import thread_pool
    from relay_opt.runtime.jit import _llvm, llvm_ir, optimize, target_machine

    target = Target.host() if request.param == "host" else Target(vector_bits=request.param)
    module = ModuleOp([])
    # malloc and free (the scratch), the error cell, the thread pool's entry
    add_runtime_declarations(module)
    # External linkage: callable from here; its task is defined beside it.
    module.body.block.add_ops([build_conv_rows(target), build_conv(target)])
    thread_pool.load()  # relay_opt_parallel_for, as a process symbol
    engine = _llvm().create_mcjit_compiler(optimize(llvm_ir(module), 1), target_machine(1))
    engine.finalize_object()
    signature = ctypes.CFUNCTYPE(
        None,
        *([ctypes.c_void_p] * 5),
        *([ctypes.c_int64] * (len(CONV_PARAMS) - 7)),
        ctypes.c_float,
        ctypes.c_float,
    )
    fn = signature(engine.get_function_address(conv_name(target)))
    return engine, fn, target.lanes(32)


def _reference(x: np.ndarray, w: np.ndarray, stride, pad, dilation, groups: int = 1) -> np.ndarray:  # noqa: ANN001
    """NCHW x OIHW conv2d in float64, padding (top, left, bottom, right), `groups` groups."""
    n, _, h, wi = x.shape
    o, _, kh, kw = w.shape
    sh, sw = stride
    dh, dw = dilation
    top, left, bottom, right = pad
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    oh = (h + top + bottom - (kh - 1) * dh - 1) // sh + 1
    ow = (wi + left + right - (kw - 1) * dw - 1) // sw + 1
    y = np.zeros((n, o, oh, ow))
    cg, og = x.shape[1] // groups, o // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                window = xp[
                    :,
                    g * cg : (g + 1) * cg,
                    i * dh : i * dh + (oh - 1) * sh + 1 : sh,
                    j * dw : j * dw + (ow - 1) * sw + 1 : sw,
                ]
                y[:, g * og : (g + 1) * og] += np.einsum(
                    "nchw,oc->nohw", window, w[g * og : (g + 1) * og, :, i, j]
                )
    return y


# (N, input channels, input block, H, W, output blocks, KH, KW, stride, padding, dilation)
CASES = [
    (1, 3, 3, 23, 21, 2, 7, 7, (2, 2), (3, 3, 3, 3), (1, 1)),  # ResNet's first layer, small
    (1, 16, 8, 9, 9, 3, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1)),  # 1x1, odd number of blocks
    (2, 8, 8, 10, 15, 2, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)),  # 3x3 same
    (1, 8, 4, 11, 13, 1, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1)),  # strided, one block
    (1, 6, 2, 12, 14, 2, 3, 3, (1, 2), (2, 1, 0, 3), (2, 3)),  # dilated, uneven padding
    (1, 8, 8, 4, 5, 2, 5, 5, (1, 1), (3, 3, 3, 3), (1, 1)),  # taps larger than the image
    (1, 16, 8, 14, 14, 4, 1, 1, (2, 2), (0, 0, 0, 0), (1, 1)),  # 1x1 strided (downsample)
    # Padded rows of at least 8 tiles read the image itself, their borders in checked tiles
    # (narrower ones a zero-padded copy): the first layer's shape, dilated, uneven, a batch
    # of two, a block of 5 channels, an input block wider than the output's (16).
    (1, 3, 3, 60, 101, 2, 7, 7, (2, 2), (3, 3, 3, 3), (1, 1)),
    (1, 10, 5, 9, 70, 1, 3, 3, (1, 1), (2, 1, 0, 3), (2, 3)),
    (2, 8, 8, 5, 50, 3, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
    (2, 10, 5, 7, 9, 1, 3, 5, (1, 2), (0, 2, 1, 0), (1, 1)),
    (1, 32, 16, 6, 7, 1, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
    (1, 8, 8, 3, 60, 1, 5, 1, (1, 1), (3, 0, 4, 0), (1, 1)),
    # Images over the routine's cache budget (rows outside the channel-block pairs).
    (1, 16, 8, 66, 66, 2, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1)),
    (1, 16, 8, 64, 65, 2, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
    # Unpadded (or copied) images are one flat run of pixels: tiles cross one or several
    # row ends (rows of 7, 3 and 9 pixels), a band's last pixels go in tiles of 8, 4, 2 and 1
    # columns (49, 15, 35, 45 and 196 pixels leave 1, 3, 11, 9 and 4 at 12 columns); bands
    # of about a row when the image is over the cache budget (a strided 1x1 over a batch of
    # two, a 3x3).
    (1, 32, 16, 7, 7, 3, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1)),
    (1, 8, 8, 5, 3, 2, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1)),
    (1, 16, 8, 5, 7, 1, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1)),
    (1, 8, 8, 9, 11, 2, 3, 3, (1, 1), (0, 0, 0, 0), (2, 1)),
    (1, 16, 16, 14, 14, 2, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
    (2, 64, 16, 33, 33, 3, 1, 1, (2, 2), (0, 0, 0, 0), (1, 1)),
    (1, 24, 8, 60, 51, 2, 3, 3, (1, 1), (0, 0, 0, 0), (1, 1)),
    # Weights over CHUNK_BYTES per set of blocks: reduction chunks (16 input blocks in 3s
    # at 16 lanes, 14 + 2 at 8), the later ones adding to Y's partial sums, in fast and
    # checked tiles.
    (1, 128, 8, 3, 50, 3, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[6]}x{c[7]}s{c[8][0]}c{c[1]}")
@pytest.mark.parametrize("epilogue", ["none", "bias_relu", "bias_residual_clip"])
def test_routine_against_numpy(routine, case, epilogue: str) -> None:  # noqa: ANN001
    _, fn, lanes = routine
    n, channels, ic, h, wi, ob, kh, kw, stride, pad, dilation = case
    rng = np.random.default_rng(channels * 100 + kh)
    x = rng.standard_normal((n, channels, h, wi), dtype=np.float32)
    w = rng.standard_normal((ob * lanes, channels, kh, kw), dtype=np.float32)
    want = _reference(x, w, stride, pad, dilation)
    _, _, oh, ow = want.shape
    bias = rng.standard_normal(ob * lanes, dtype=np.float32)
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

    # Blocked layouts: data NCHW{ic}c, weight OIHW{ic}i{lanes}o, result NCHW{lanes}c.
    cb = channels // ic
    xb = np.ascontiguousarray(x.reshape(n, cb, ic, h, wi).transpose(0, 1, 3, 4, 2))
    wb = np.ascontiguousarray(w.reshape(ob, lanes, cb, ic, kh, kw).transpose(0, 2, 4, 5, 3, 1))
    block = (n, ob, lanes, oh, ow)
    rb = np.ascontiguousarray(residual.reshape(block).transpose(0, 1, 3, 4, 2))
    y = np.full((n, ob, oh, ow, lanes), np.nan, dtype=np.float32)
    top, left, _, _ = pad
    fn(
        xb.ctypes.data, wb.ctypes.data, y.ctypes.data, bias.ctypes.data, rb.ctypes.data,
        n, cb, ic, h, wi, ob, 1, oh, ow, kh, kw, *stride, top, left, *dilation, flags, lo, hi,
    )  # fmt: skip
    got = y.transpose(0, 1, 4, 2, 3).reshape(want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


# Grouped: (N, input channels, input block, H, W, output blocks per group, KH, KW, stride,
# padding, dilation, groups). ShuffleNet's 1x1s (4 groups; 6, 34 or 68 input channels per
# group in blocks of 6, 2 and 4), an odd number of blocks per group, one block per group
# (no pairs), padded and dilated 3x3s, wide rows (checked tiles) and an image over the cache
# budget (rows outside the block pairs), a batch of two.
GROUPED = [
    (1, 24, 6, 13, 13, 2, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 4),
    (1, 136, 2, 7, 7, 3, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 4),
    (2, 272, 4, 5, 6, 1, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 4),
    (1, 12, 3, 9, 11, 2, 3, 3, (2, 1), (1, 0, 2, 1), (1, 2), 2),
    (1, 24, 4, 6, 70, 3, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 3),
    (1, 32, 8, 60, 60, 2, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 2),
]


@pytest.mark.parametrize("case", GROUPED, ids=lambda c: f"{c[6]}x{c[7]}c{c[1]}g{c[11]}")
def test_grouped_routine_against_numpy(routine, case) -> None:  # noqa: ANN001
    # Output block ob reads only its group's input blocks (the weight holds C per group).
    _, fn, lanes = routine
    n, channels, ic, h, wi, ob, kh, kw, stride, pad, dilation, groups = case
    rng = np.random.default_rng(channels + groups)
    x = rng.standard_normal((n, channels, h, wi), dtype=np.float32)
    cg = channels // groups
    w = rng.standard_normal((groups * ob * lanes, cg, kh, kw), dtype=np.float32)
    bias = rng.standard_normal(groups * ob * lanes, dtype=np.float32)
    want = _reference(x, w, stride, pad, dilation, groups) + bias.reshape(1, -1, 1, 1)
    want = np.maximum(want, 0)
    _, _, oh, ow = want.shape
    cb, cbg = channels // ic, cg // ic
    xb = np.ascontiguousarray(x.reshape(n, cb, ic, h, wi).transpose(0, 1, 3, 4, 2))
    wb = w.reshape(groups * ob, lanes, cbg, ic, kh, kw).transpose(0, 2, 4, 5, 3, 1)
    wb = np.ascontiguousarray(wb)
    y = np.full((n, groups * ob, oh, ow, lanes), np.nan, dtype=np.float32)
    top, left, _, _ = pad
    fn(
        xb.ctypes.data, wb.ctypes.data, y.ctypes.data, bias.ctypes.data, None,
        n, cbg, ic, h, wi, ob, groups, oh, ow, kh, kw, *stride, top, left, *dilation,
        HAS_BIAS, 0.0, np.inf,
    )  # fmt: skip
    got = y.transpose(0, 1, 4, 2, 3).reshape(want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_routine_keeps_nan(routine) -> None:  # noqa: ANN001
    # relu and clip propagate a NaN (as numpy's maximum and the interpreter do).
    _, fn, lanes = routine
    x = np.ones((1, 1, 3, 3, 1), dtype=np.float32)
    x[0, 0, 1, 1, 0] = np.nan
    wb = np.ones((1, 1, 1, 1, 1, lanes), dtype=np.float32)
    y = np.zeros((1, 1, 3, 3, lanes), dtype=np.float32)
    fn(x.ctypes.data, wb.ctypes.data, y.ctypes.data, None, None,
       1, 1, 1, 3, 3, 1, 1, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0.0, np.inf)  # fmt: skip
    assert np.isnan(y[0, 0, 1, 1]).all()
    assert (y[0, 0, 0] == 1).all()


# Convs with work enough for the pool to split their (block pair, row) items: a padded 3x3
# with an odd number of blocks over 2 images, and an unpadded 1x1 (an item is an image's
# pixels), a strided one with rows outside the block pairs, and ShuffleNet's grouped 1x1 (4
# groups of 68 input channels, 5 output blocks each: pairs and odd blocks per group), flat
# pixel runs. The last field is the group count (output blocks per group).
SPLIT_CASES = [
    (2, 32, 8, 20, 18, 5, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (1, 64, 8, 28, 28, 8, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (1, 16, 8, 90, 90, 2, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), 1),
    (1, 272, 68, 14, 14, 5, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 4),
    # Flat pixel runs: a late layer's 7 x 7 (block pairs outside), bands of about a row of a
    # strided 1x1 over the cache budget.
    (1, 256, 16, 7, 7, 8, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (1, 64, 16, 35, 33, 3, 1, 1, (2, 2), (0, 0, 0, 0), (1, 1), 1),
]


@pytest.mark.parametrize("case", SPLIT_CASES, ids=lambda c: f"{c[6]}x{c[7]}c{c[1]}g{c[11]}")
def test_routine_identical_at_1_and_2_threads(routine, case) -> None:  # noqa: ANN001
    from relay_opt.runtime import thread_pool

    _, fn, lanes = routine
    n, channels, ic, h, wi, ob, kh, kw, stride, pad, dilation, groups = case
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((n, channels, h, wi), dtype=np.float32)
    w = rng.standard_normal((groups * ob * lanes, channels // groups, kh, kw), dtype=np.float32)
    bias = rng.standard_normal(groups * ob * lanes, dtype=np.float32)
    want = _reference(x, w, stride, pad, dilation, groups) + bias.reshape(1, -1, 1, 1)
    want = np.maximum(want, 0)
    _, _, oh, ow = want.shape
    cb, cbg = channels // ic, channels // groups // ic
    xb = np.ascontiguousarray(x.reshape(n, cb, ic, h, wi).transpose(0, 1, 3, 4, 2))
    wb = w.reshape(groups * ob, lanes, cbg, ic, kh, kw).transpose(0, 2, 4, 5, 3, 1)
    wb = np.ascontiguousarray(wb)
    top, left, _, _ = pad
    before = thread_pool.num_threads()
    results = []
    try:
        for threads in (1, 2):
            thread_pool.set_num_threads(threads)
            y = np.full((n, groups * ob, oh, ow, lanes), np.nan, dtype=np.float32)
            fn(
                xb.ctypes.data, wb.ctypes.data, y.ctypes.data, bias.ctypes.data, None,
                n, cbg, ic, h, wi, ob, groups, oh, ow, kh, kw, *stride, top, left, *dilation,
                HAS_BIAS, 0.0, np.inf,
            )  # fmt: skip
            results.append(y)
    finally:
        thread_pool.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])  # a deterministic partition
    got = results[1].transpose(0, 1, 4, 2, 3).reshape(want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert thread_pool.started_workers() >= 1


# -- lower-contractions: compiled blocked conv2d chains against the interpreter ---------------

HEADER = '#[version = "0.0.5"]\n'


def _calls(module: ModuleOp, prefix: str) -> int:
    return sum(
        1
        for op in module.walk()
        if isinstance(op, llvm_dialect.CallOp) and op.callee.string_value().startswith(prefix)
    )


def _compare(text: str, opt: int, convs: int, fp_policy: str = "fast") -> ModuleOp:
    """Compiles `text` (checking it against the interpreter on random inputs) and returns the
    lowered module, which calls the conv routine `convs` times."""
    from relay_opt import load_program
    from relay_opt.runtime.interpreter import interpret
    from relay_opt.runtime.jit import compile, lower_to_llvm

    module = load_program(text, "relay").module
    fn = module.ops.first
    shapes = [a.type.get_shape() for a in fn.body.block.args]  # pyright: ignore
    rng = np.random.default_rng(opt)
    inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    got = compile(module, opt=opt, fp_policy=fp_policy)(*inputs)
    want = interpret(module, inputs)
    # Sums of hundreds of products (288 per output with 16 lanes) cancel: the absolute error
    # of float32 in any order grows with the outputs' scale, not with each element's.
    pairs = zip(got, want, strict=True) if isinstance(want, tuple) else [(got, want)]
    for g, w in pairs:
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(w).max())))
    lowered = lower_to_llvm(load_program(text, "relay").module, level=opt, fp_policy=fp_policy)
    assert _calls(lowered, "relay_opt_conv2d_") == convs
    return lowered


def _blocked(lanes: int) -> str:
    # A strided 3x3 with bias, residual and relu (one call, the epilogue at its store), then a
    # dilated 1x1-blocked 3x3 whose output feeds two readers (no epilogue fused), then a clip.
    return (
        HEADER
        + f"""def @main(%x: Tensor[(1, 2, 9, 11, 4), float32], %w: Tensor[(2, 2, 3, 3, 4, {lanes}), float32], %b: Tensor[(1, 2, 1, 1, {lanes}), float32], %r: Tensor[(1, 2, 5, 5, {lanes}), float32], %w2: Tensor[(1, 2, 3, 3, {lanes}, {lanes}), float32]) {{
  %0 = nn.conv2d(%x, %w, strides=[2, 2], padding=[1, 0, 1, 1], data_layout="NCHW4c", kernel_layout="OIHW4i{lanes}o", out_layout="NCHW{lanes}c");
  %1 = nn.relu(add(add(%0, %b), %r));
  %2 = nn.conv2d(%1, %w2, padding=[2, 2, 2, 2], dilation=[2, 2], data_layout="NCHW{lanes}c", kernel_layout="OIHW{lanes}i{lanes}o");
  (clip(%2, a_min=-1f, a_max=1f), multiply(%2, 2f))
}}"""
    )


def test_compiled_blocked_convs() -> None:
    lowered = _compare(_blocked(Target.host().lanes(32)), 3, 2)
    flags = [
        op.args[-3].owner.value.value.data  # pyright: ignore
        for op in lowered.walk()
        if isinstance(op, llvm_dialect.CallOp)
        and op.callee.string_value().startswith("relay_opt_conv2d_")
    ]
    # The fused group's epilogue (bias, residual, relu) goes into the first call; the second
    # conv's result has two readers and is stored as it is.
    assert sorted(flags) == [0, HAS_BIAS | HAS_RESIDUAL]


def test_strict_policy_keeps_the_loops() -> None:
    # The routine reorders the sums: under strict, the conv keeps its loops.
    _compare(_blocked(Target.host().lanes(32)), 1, 0, fp_policy="strict")


def test_other_output_blocks_keep_their_loops() -> None:
    # An output block that is not the host's vector width keeps its loops.
    _compare(_blocked(Target.host().lanes(32) // 2), 1, 0)


def _padded_conv(lanes: int, case: tuple) -> str:  # noqa: ANN001
    c, ic, h, w, ob, k, stride, pad, dilation = case
    return (
        HEADER
        + f"""def @main(%x: Tensor[(1, {c // ic}, {h}, {w}, {ic}), float32], %w: Tensor[({ob}, {c // ic}, {k[0]}, {k[1]}, {ic}, {lanes}), float32]) {{
  nn.conv2d(%x, %w, strides={list(stride)}, padding={list(pad)}, dilation={list(dilation)}, data_layout="NCHW{ic}c", kernel_layout="OIHW{ic}i{lanes}o", out_layout="NCHW{lanes}c")
}}"""
    )


# (channels, input block, H, W, output blocks, kernel, stride, padding, dilation)
PADDED = [
    (6, 3, 23, 21, 1, (7, 7), (2, 2), (3, 3, 3, 3), (1, 1)),  # the first layer's form
    (10, 5, 9, 13, 2, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),  # channels not a multiple of 8
    (8, 8, 7, 60, 1, (3, 5), (1, 2), (2, 1, 0, 3), (2, 1)),  # wide rows: checked tiles
    (8, 4, 9, 11, 2, (3, 3), (2, 1), (0, 0, 2, 2), (1, 2)),  # bottom and right padding only
]


@pytest.mark.parametrize("case", PADDED, ids=lambda c: f"{c[5][0]}x{c[5][1]}c{c[0]}w{c[3]}")
@pytest.mark.parametrize("fp_policy", ["fast", "strict"])
def test_padded_convs_read_the_unpadded_input(case, fp_policy: str) -> None:  # noqa: ANN001
    # The routine pads: lower-contractions drops convert-relay-to-linalg's padding copy and
    # passes the padding (strict keeps the loops and the copy).
    from xdsl.context import Context

    from relay_opt import load_program
    from relay_opt.dialects.relay.attribute_names import CONV_PADDING
    from relay_opt.lowering.apply_fp_policy import ApplyFpPolicyPass
    from relay_opt.lowering.relay_to_llvm import lowering_stages

    text = _padded_conv(Target.host().lanes(32), case)
    _compare(text, 1, int(fp_policy == "fast"), fp_policy)
    module = load_program(text, "relay").module
    for stage in lowering_stages(fp_policy=fp_policy):
        if isinstance(stage, ApplyFpPolicyPass):  # after lower-contractions (not under strict)
            break
        stage.apply(Context(), module)
    copies = [op for op in module.walk() if CONV_PADDING in op.attributes]
    assert len(copies) == (0 if fp_policy == "fast" else 1)


def test_compiled_grouped_conv_calls_the_routine() -> None:
    # A blocked grouped conv (2 groups of 10 input channels in blocks of 5, 2 output blocks
    # each), padded and strided, with bias and relu: one call, against the interpreter.
    lanes = Target.host().lanes(32)
    text = (
        HEADER
        + f"""def @main(%x: Tensor[(1, 4, 9, 10, 5), float32], %w: Tensor[(4, 2, 3, 3, 5, {lanes}), float32], %b: Tensor[(1, 4, 1, 1, {lanes}), float32]) {{
  %0 = nn.conv2d(%x, %w, strides=[2, 1], padding=[1, 1], groups=2, data_layout="NCHW5c", kernel_layout="OIHW5i{lanes}o", out_layout="NCHW{lanes}c");
  nn.relu(add(%0, %b))
}}"""
    )
    _compare(text, 3, 1)
