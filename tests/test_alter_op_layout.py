"""conv2d in TVM's blocked layouts and alter-op-layout: numerics on random inputs against
NCHW convolution, the reference interpreter and native code at -O0 and -O3."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import DenseResourceAttr

from relay_opt import load_program
from relay_opt.diagnostics import RelayError, location_of
from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.ops.nn import Conv2D, conv2d_nchw
from relay_opt.dialects.relay.ops.transform import LayoutTransform, relayout
from relay_opt.dialects.relay.types import DYNAMIC
from relay_opt.passes.alter_op_layout import AlterOpLayoutPass
from relay_opt.passes.relay_optimize import OptimizePass
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile


def _tensor(shape: tuple[int, ...]) -> str:
    return f"Tensor[({', '.join(map(str, shape))}), float32]"


@pytest.mark.parametrize(
    "cin, cout, ci, co, k, stride, pad, dilation, depthwise",
    [
        (16, 16, 8, 8, 3, 1, [1, 1], 1, False),
        (3, 8, 3, 8, 5, 2, [2, 1, 0, 2], 1, False),  # an image's 3 channels: NCHW3c
        (8, 12, 4, 4, 2, 1, [0, 0], 2, False),
        (8, 8, 4, 4, 3, 2, [1, 1], 1, True),
    ],
)
def test_blocked_conv2d_is_nchw_conv2d_relaid(
    cin, cout, ci, co, k, stride, pad, dilation, depthwise
):
    rng = np.random.default_rng(cin * 100 + cout)
    groups = cin if depthwise else 1
    x = rng.standard_normal((2, cin, 9, 8)).astype(np.float32)
    w = rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32)
    kernel = f"OIHW1i{co}o" if depthwise else f"OIHW{ci}i{co}o"
    xb, wb = relayout(x, "NCHW", f"NCHW{ci}c"), relayout(w, "OIHW", kernel)
    text = f"""#[version = "0.0.5"]
def @main(%x: {_tensor(xb.shape)}, %w: {_tensor(wb.shape)}) {{
  nn.conv2d(%x, %w, strides=[{stride}, {stride}], padding={pad}, dilation=[{dilation}, {dilation}],
            groups={groups}, data_layout="NCHW{ci}c", kernel_layout="{kernel}", out_layout="NCHW{co}c")
}}"""
    module = load_program(text, "relay").module
    want = conv2d_nchw(x, w, [stride] * 2, pad, [dilation] * 2, groups, np.dtype(np.float64))
    want = relayout(want, "NCHW", f"NCHW{co}c")
    np.testing.assert_allclose(interpret(module, [xb, wb]), want, rtol=1e-5, atol=1e-5)
    for opt in (0, 3):
        got = compile(module, opt=opt)(xb, wb)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


CHAIN = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 3, 12, 66), float32], %w0: Tensor[(16, 3, 3, 3), float32],
          %b0: Tensor[(16), float32], %w1: Tensor[(16, 16, 3, 3), float32],
          %s: Tensor[(16, 1, 1), float32], %wd: Tensor[(16, 1, 3, 3), float32],
          %w2: Tensor[(24, 16, 1, 1), float32]) {
  %0 = nn.relu(nn.bias_add(nn.conv2d(%x, %w0, padding=[1, 1]), %b0));
  %1 = multiply(nn.conv2d(%0, %w1, padding=[1, 1]), %s);
  %2 = clip(add(%1, %0), a_min=-1f, a_max=2f);
  %3 = nn.conv2d(%2, %wd, strides=[2, 2], padding=[1, 1], groups=16);
  %4 = nn.max_pool2d(%3, pool_size=[2, 2]);
  %5 = nn.conv2d(%4, %w2);
  (%5, nn.softmax(%2, axis=1), sigmoid(%3))
}"""


def _chain_inputs(rng: np.random.Generator) -> list[np.ndarray]:
    shapes = [(1, 3, 12, 66), (16, 3, 3, 3), (16,), (16, 16, 3, 3), (16, 1, 1), (16, 1, 3, 3)]
    return [rng.standard_normal(s).astype(np.float32) for s in [*shapes, (24, 16, 1, 1)]]


@pytest.mark.parametrize("block", [4, 8, 16])
def test_alter_op_layout_keeps_the_values(block):
    """A chain (3 input channels, bias, relu, per-channel scale, residual add, clip, depthwise
    33 columns wide, a pooling edge, 24 output channels, values read outside the chain)
    computes the same."""
    inputs = _chain_inputs(np.random.default_rng(block))
    module = load_program(CHAIN, "relay").module
    want = interpret(module, inputs)
    AlterOpLayoutPass(block).apply(Context(), module)
    convs = [op for op in module.walk() if isinstance(op, Conv2D)]
    blocked = [op for op in convs if op.attrs.data_layout != "NCHW"]
    # 24 output channels do not split into 16: padded to 32, sliced back
    assert len(blocked) == 4, [op.attrs.data_layout for op in convs]
    for got, ref in zip(interpret(module, inputs), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opt", [0, 3])
def test_chain_compiled_matches_the_interpreter(opt):
    inputs = _chain_inputs(np.random.default_rng(1))
    module = load_program(CHAIN, "relay").module
    want = interpret(module, inputs)
    for got, ref in zip(compile(module, opt=opt)(*inputs), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


PADDED = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 16, 11, 9), float32], %w: Tensor[(20, 16, 3, 3), float32],
          %b: Tensor[(20), float32], %w2: Tensor[(8, 20, 1, 1), float32]) {
  %0 = nn.relu(nn.bias_add(nn.conv2d(%x, %w, strides=[2, 1], padding=[1, 1]), %b));
  nn.conv2d(%0, %w2)
}"""


@pytest.mark.parametrize("block", [8, 16])
def test_output_channels_off_the_block_are_padded(block):
    """20 output channels (no multiple of 8 or 16) compute zero-padded in NCHW{block}c and are
    sliced back; the next conv reads the 20 real channels."""
    rng = np.random.default_rng(block)
    shapes = [(1, 16, 11, 9), (20, 16, 3, 3), (20,), (8, 20, 1, 1)]
    inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    module = load_program(PADDED, "relay").module
    want = interpret(module, inputs)
    AlterOpLayoutPass(block).apply(Context(), module)
    convs = [op for op in module.walk() if isinstance(op, Conv2D)]
    assert convs[0].attrs.kernel_layout == f"OIHW{block}i{block}o"
    assert convs[0].result.type.get_shape()[1] == -(-20 // block)  # pyright: ignore
    np.testing.assert_allclose(interpret(module, inputs), want, rtol=1e-5, atol=1e-5)
    OptimizePass(3, layout_block=block).apply(Context(), module)
    np.testing.assert_allclose(compile(module)(*inputs), want, rtol=1e-4, atol=1e-4)


GROUPED = """#[version = "0.0.5"]
def @main(%x: Tensor[(2, 24, 10, 9), float32], %w0: Tensor[(112, 6, 1, 1), float32],
          %w1: Tensor[(64, 56, 3, 3), float32], %b1: Tensor[(64), float32],
          %w2: Tensor[(32, 16, 3, 3), float32], %w3: Tensor[(16, 4, 1, 1), float32]) {
  %0 = nn.relu(nn.conv2d(%x, %w0, groups=4));
  %1 = nn.conv2d(%0, %w1, strides=[2, 1], padding=[1, 2, 0, 1], dilation=[1, 2], groups=2);
  %2 = nn.relu(nn.bias_add(%1, %b1));
  %3 = nn.conv2d(%2, %w2, padding=[1, 1], groups=4);
  (%3, nn.conv2d(%3, %w3, groups=8))
}"""


@pytest.mark.parametrize("block", [8, 16])
def test_grouped_convs_are_blocked_per_group(block):
    """Grouped convs as one blocked grouped conv each: ShuffleNet's 4 groups of 28 output
    channels (6 input channels each; padded to 32 per group, the padding sliced off the
    NCHW result); AlexNet's 2 groups of 32 with bias, strides, asymmetric padding and
    dilation (the chain goes on blocked); 4 groups of 8 (whole blocks at 8 lanes, padded to
    16 at 16); 8 groups of 2 stay (padding would take 4 or 8 times the multiply-adds).
    Interpreted and compiled, against the original."""
    rng = np.random.default_rng(block)
    shapes = [(2, 24, 10, 9), (112, 6, 1, 1), (64, 56, 3, 3), (64,), (32, 16, 3, 3), (16, 4, 1, 1)]
    # Weights scaled by their fan-in keep every layer's values near 1 (a fixed tolerance).
    inputs = [(rng.standard_normal(s) / np.sqrt(np.prod(s[1:]))).astype(np.float32) for s in shapes]
    module = load_program(GROUPED, "relay").module
    want = interpret(module, inputs)
    AlterOpLayoutPass(block).apply(Context(), module)
    groups = [op.attrs.groups for op in module.walk() if isinstance(op, Conv2D)]
    assert groups == [4, 2, 4, 8], groups
    layouts = [op.attrs.data_layout for op in module.walk() if isinstance(op, Conv2D)]
    # A group's channels in one block, or its blocked input's (whole blocks of 8 or 16).
    assert layouts == ["NCHW6c", "NCHW56c", f"NCHW{block}c", "NCHW"], layouts
    for got, ref in zip(interpret(module, inputs), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    OptimizePass(3, layout_block=block).apply(Context(), module)
    for got, ref in zip(compile(module)(*inputs), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_constant_weights_are_relaid_at_compile_time():
    """At -O3 each constant weight's layout_transform folds into a new resource of the blocked
    shape; with layout-block=0 nothing is blocked."""
    rng = np.random.default_rng(0)
    weights = [
        rng.standard_normal((32, 16, 3, 3)).astype(np.float32),
        rng.standard_normal((32,)).astype(np.float32),
        rng.standard_normal((16, 32, 1, 1)).astype(np.float32),
    ]
    text = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 16, 10, 10), float32]) {
  %0 = nn.relu(nn.bias_add(nn.conv2d(%x, meta[relay.Constant][0], padding=[1, 1]), meta[relay.Constant][1]));
  nn.conv2d(%0, meta[relay.Constant][2])
}"""

    def optimized(block: int):  # noqa: ANN202
        module = load_program(text, "relay", meta={"relay.Constant": weights}).module
        OptimizePass(3, layout_block=block).apply(Context(), module)
        return module

    module = optimized(8)
    convs = [op for op in module.walk() if isinstance(op, Conv2D)]
    assert [op.attrs.kernel_layout for op in convs] == ["OIHW8i8o", "OIHW8i8o"]
    weight_ops = [op.operands[1].owner for op in convs]
    assert all(isinstance(w, core.ConstantOp) for w in weight_ops)
    assert [w.value.type.get_shape() for w in weight_ops] == [
        (4, 2, 3, 3, 8, 8),
        (2, 4, 1, 1, 8, 8),
    ]  # pyright: ignore
    assert all(isinstance(w.value, DenseResourceAttr) for w in weight_ops)  # pyright: ignore
    transforms = [op for op in module.walk() if isinstance(op, LayoutTransform)]
    assert len(transforms) == 2  # the input in, the result out
    assert not any(isinstance(t.operands[0].owner, core.ConstantOp) for t in transforms)
    x = rng.standard_normal((1, 16, 10, 10)).astype(np.float32)
    np.testing.assert_allclose(
        interpret(module, [x]),
        interpret(load_program(text, "relay", meta={"relay.Constant": weights}).module, [x]),
        rtol=1e-5,
        atol=1e-5,
    )
    off = optimized(0)
    assert not any(isinstance(op, LayoutTransform) for op in off.walk())
    assert all(op.attrs.data_layout == "NCHW" for op in off.walk() if isinstance(op, Conv2D))


INVERTED = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 16, 14, 13), float32], %e: Tensor[(96, 16, 1, 1), float32],
          %w: Tensor[(96, 1, 3, 3), float32], %w2: Tensor[(96, 1, 3, 3), float32],
          %p: Tensor[(16, 96, 1, 1), float32]) {
  %0 = clip(nn.conv2d(%x, %e), a_min=0f, a_max=6f);
  %1 = clip(nn.conv2d(%0, %w, padding=[1, 1], groups=96), a_min=0f, a_max=6f);
  %2 = clip(nn.conv2d(%1, %w2, strides=[2, 2], padding=[1, 1], groups=96), a_min=0f, a_max=6f);
  nn.conv2d(%2, %p)
}"""


@pytest.mark.parametrize("block", [8, 16])
def test_narrow_depthwise_of_a_blocked_input_stays_blocked(block):
    """MobileNetV2's expand -> depthwise (13 and 7 columns, stride 1 and 2) -> project: the
    depthwise convs read the expand's blocked result and stay blocked; the compiled chain
    (the depthwise routine at these widths) matches the interpreter."""
    rng = np.random.default_rng(block)
    shapes = [(1, 16, 14, 13), (96, 16, 1, 1), (96, 1, 3, 3), (96, 1, 3, 3), (16, 96, 1, 1)]
    inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    module = load_program(INVERTED, "relay").module
    want = interpret(module, inputs)
    OptimizePass(3, layout_block=block).apply(Context(), module)
    convs = [op for op in module.walk() if isinstance(op, Conv2D)]
    assert [op.attrs.data_layout for op in convs] == [f"NCHW{block}c"] * 4
    transforms = [
        op
        for op in module.walk()
        if isinstance(op, LayoutTransform) and op.attrs.src_layout.startswith("NCHW")
    ]
    assert len(transforms) == 2  # of the data: only the chain's edges
    np.testing.assert_allclose(compile(module)(*inputs), want, rtol=1e-4, atol=1e-4)


FIRE = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 8, 5, 6), float32], %s: Tensor[({c}, 8, 1, 1), float32],
          %e1: Tensor[({c}, {c}, 1, 1), float32], %e3: Tensor[({c}, {c}, 3, 3), float32],
          %w: Tensor[({c}, {c2}, 1, 1), float32]) {{
  %0 = nn.relu(nn.conv2d(%x, %s));
  %1 = nn.relu(nn.conv2d(%0, %e1));
  %2 = nn.relu(nn.conv2d(%0, %e3, padding=[1, 1]));
  nn.conv2d(concatenate((%1, %2), axis=1), %w)
}}"""


def test_fire_module_concatenates_channel_blocks():
    """SqueezeNet's fire module at the host's block: the two expand convs are concatenated as
    channel blocks (no transform between them and the next conv), and the compiled module
    matches the interpreter."""
    from relay_opt.dialects.relay.ir_helpers import static_shape
    from relay_opt.dialects.relay.ops.transform import Concatenate
    from relay_opt.lowering.kernels.target import Target

    c = Target.host().lanes(32)
    text = FIRE.format(c=c, c2=2 * c)
    fn = load_program(text, "relay").module.ops.first
    shapes = [a.type.get_shape() for a in fn.body.block.args]  # pyright: ignore
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    module = load_program(text, "relay").module
    want = interpret(module, inputs)
    OptimizePass(3, layout_block=c).apply(Context(), module)
    (concat,) = [op for op in module.walk() if isinstance(op, Concatenate)]
    assert static_shape(concat.result) == (1, 2, 5, 6, c)
    transforms = [
        op
        for op in module.walk()
        if isinstance(op, LayoutTransform) and op.attrs.src_layout.startswith("NCHW")
    ]
    assert len(transforms) == 2  # of the data: only the chain's edges
    np.testing.assert_allclose(compile(module)(*inputs), want, rtol=1e-4, atol=1e-4)


def _routine_calls(module, block: int) -> list[str]:  # noqa: ANN001
    """The kernel library routines the module calls after lower-contractions at `block` lanes."""
    from xdsl.dialects import llvm

    from relay_opt.lowering.lower_contractions import LowerContractionsPass
    from relay_opt.lowering.relay_to_llvm import STAGES

    lowered = module.clone()
    for stage in STAGES[: STAGES.index(LowerContractionsPass())]:
        stage.apply(Context(), lowered)
    LowerContractionsPass(vector_bits=32 * block).apply(Context(), lowered)
    return [op.callee.root_reference.data for op in lowered.walk() if isinstance(op, llvm.CallOp)]


@pytest.mark.parametrize(
    "text, shapes",
    [
        (CHAIN, [s.shape for s in _chain_inputs(np.random.default_rng(0))]),
        (PADDED, [(1, 16, 11, 9), (20, 16, 3, 3), (20,), (8, 20, 1, 1)]),
        (GROUPED, [(2, 24, 10, 9), (112, 6, 1, 1), (64, 56, 3, 3), (64,), (32, 16, 3, 3),
                   (16, 4, 1, 1)]),
        (INVERTED, [(1, 16, 14, 13), (96, 16, 1, 1), (96, 1, 3, 3), (96, 1, 3, 3),
                    (16, 96, 1, 1)]),
    ],
    ids=["chain", "padded", "grouped", "depthwise"],
)  # fmt: skip
@pytest.mark.parametrize("dynamic", ["N", "HW", "NHW"])
@pytest.mark.parametrize("block", [8, 16])
def test_dynamic_dims_are_blocked_and_call_the_routines(text, shapes, dynamic, block):
    """With a `?` batch, height or width the convs are blocked as with static ones (bias,
    relu, clip, the residual add, stride 2, output channels padded to the block, groups,
    depthwise) and each calls its routine with those sizes read at run time: one compile,
    several sizes (an empty batch too) against the interpreter."""
    static = load_program(text, "relay").module
    OptimizePass(3, layout_block=block).apply(Context(), static)
    n, c, h, w = shapes[0]
    dims = [f"{'?' if a in dynamic else d}" for a, d in zip("NCHW", (n, c, h, w), strict=True)]
    module = load_program(text.replace(f"({n}, {c}, {h}, {w})", f"({', '.join(dims)})", 1), "relay")
    module = module.module
    OptimizePass(3, layout_block=block).apply(Context(), module)
    convs = [op for op in module.walk() if isinstance(op, Conv2D)]
    layouts = [op.attrs.data_layout for op in convs]
    assert layouts == [op.attrs.data_layout for op in static.walk() if isinstance(op, Conv2D)]
    assert all(
        (op.operands[0].type.get_shape()[0] == DYNAMIC) == ("N" in dynamic)  # pyright: ignore
        and (op.operands[0].type.get_shape()[2] == DYNAMIC) == ("H" in dynamic)  # pyright: ignore
        for op in convs
    )
    blocked = sum(layout != "NCHW" for layout in layouts)
    assert blocked >= 1
    calls = [name for name in _routine_calls(module, block) if "conv2d" in name]
    assert len(calls) == blocked, calls
    run = compile(module)
    rng = np.random.default_rng(block)
    sizes = [(1, h, w), (3, h + 5, w + 2), (5, h - 1, w - 2), (0, h, w)]
    for size in sizes:
        if size[0] == 0 and "N" not in dynamic:
            continue
        first = tuple(
            s if a in dynamic else d for a, s, d in zip("NHW", size, (n, h, w), strict=True)
        )
        first = (first[0], c, *first[1:])
        inputs = [
            # Scaled by the fan-in: every layer's values near 1 (a fixed tolerance).
            (rng.standard_normal(s) / np.sqrt(np.prod(s[1:]))).astype(np.float32)
            for s in [first, *shapes[1:]]
        ]
        want = interpret(module, inputs)
        got = run(*inputs)
        for g, w_ in zip(*((got, want) if isinstance(want, tuple) else ((got,), (want,))),
                         strict=True):  # fmt: skip
            assert g.shape == w_.shape
            np.testing.assert_allclose(g, w_, rtol=1e-4, atol=1e-4)


def test_a_dynamic_height_too_small_for_the_window_is_a_located_error():
    """A blocked conv over a `?` height checks its window against the run-time size before
    the routine runs: the type relation's error for a static axis, at the conv, as a
    RelayError through the native error channel."""
    text = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 16, ?, 8), float32], %w: Tensor[(16, 16, 3, 3), float32]) {
  nn.relu(nn.conv2d(%x, %w))
}"""
    module = load_program(text, "relay", filename="window.rly").module
    OptimizePass(3, layout_block=8).apply(Context(), module)
    assert [op.attrs.data_layout for op in module.walk() if isinstance(op, Conv2D)] == ["NCHW8c"]
    run = compile(module)
    w = np.ones((16, 16, 3, 3), np.float32)
    assert run(np.ones((1, 16, 3, 8), np.float32), w).shape == (1, 16, 1, 6)
    with pytest.raises(RelayError, match="the window \\(3\\) is larger than the padded input") as e:
        run(np.ones((1, 16, 2, 8), np.float32), w)
    assert str(location_of(e.value.at)).startswith("window.rly:3:")


def test_a_dynamic_width_without_the_routine_tiles_by_one_column():
    """Under the strict policy no routine is called: the blocked conv's own loops run over a
    `?` width in tiles of one column (its tile operand sized at run time)."""
    text = """#[version = "0.0.5"]
def @main(%x: Tensor[(?, 16, ?, ?), float32], %w: Tensor[(16, 16, 3, 3), float32]) {
  nn.relu(nn.conv2d(%x, %w, strides=[1, 2], padding=[1, 1]))
}"""
    module = load_program(text, "relay").module
    OptimizePass(3, layout_block=8).apply(Context(), module)
    assert [op.attrs.data_layout for op in module.walk() if isinstance(op, Conv2D)] == ["NCHW8c"]
    run = compile(module, fp_policy="strict")
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((16, 16, 3, 3)) / 12).astype(np.float32)
    for shape in [(1, 16, 5, 7), (2, 16, 3, 12)]:
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(run(x, w), interpret(module, [x, w]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "features, lanes",
    [({"avx512f": True, "avx2": True, "fma": True}, 16), ({"avx2": True, "fma": True}, 8)],
)
def test_the_default_pipeline_blocks_for_the_host_routines(
    monkeypatch: pytest.MonkeyPatch, features: dict[str, bool], lanes: int
):
    """With no block given, relay-optimize's level 3 (relay-opt -O 3) blocks by the host's
    float32 lanes, the one default lower-contractions' conv routines take too, so a CLI
    pipeline's conv calls its routine (a block of 8 against AVX-512's 16 lanes kept it in
    loops); the host emulated through relay_opt.host, which both read."""
    from xdsl.dialects import llvm

    from relay_opt import host
    from relay_opt.lowering.kernels import target
    from relay_opt.lowering.lower_contractions import LowerContractionsPass
    from relay_opt.lowering.relay_to_llvm import STAGES
    from relay_opt.passes.relay_optimize import passes_for_level

    monkeypatch.setattr(host, "_features", lambda: features)
    monkeypatch.setattr(target, "_host", target._host.__wrapped__)  # not the cached host
    text = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 32, 10, 10), float32], %w: Tensor[(32, 32, 3, 3), float32]) {
  nn.relu(nn.conv2d(%x, %w, padding=[1, 1]))
}"""
    module = load_program(text, "relay").module
    for p in [*passes_for_level(3), *STAGES[: STAGES.index(LowerContractionsPass()) + 1]]:
        p.apply(Context(), module)
    calls = [op.callee.root_reference.data for op in module.walk() if isinstance(op, llvm.CallOp)]
    convs = [c for c in calls if c.startswith("relay_opt_conv2d_")]
    assert len(convs) == 1 and convs[0].startswith(f"relay_opt_conv2d_nchw{lanes}c_"), calls


@pytest.mark.parametrize("block", [8, 16])
def test_a_dynamic_width_depthwise_of_an_nchw_input_is_blocked(block):
    """A depthwise conv whose width is `?` and whose input is NCHW is blocked (a static one
    narrower than DEPTHWISE_MIN_WIDTH stays NCHW): one call of the depthwise routine, then
    the 1x1 conv after it in the chain; one compile against the interpreter at widths 1, 7
    and 112."""
    text = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 32, ?, ?), float32], %w: Tensor[(32, 1, 3, 3), float32],
          %v: Tensor[(32, 32, 1, 1), float32]) {
  %0 = nn.relu(nn.conv2d(%x, %w, padding=[1, 1], groups=32));
  nn.conv2d(%0, %v)
}"""
    module = load_program(text, "relay").module
    OptimizePass(3, layout_block=block).apply(Context(), module)
    assert [op.attrs.data_layout for op in module.walk() if isinstance(op, Conv2D)] == [
        f"NCHW{block}c"
    ] * 2
    calls = _routine_calls(module, block)
    assert sum(name.startswith("relay_opt_depthwise_conv2d") for name in calls) == 1, calls
    assert sum(name.startswith("relay_opt_conv2d") for name in calls) == 1, calls
    run = compile(module)
    rng = np.random.default_rng(block)
    w = (rng.standard_normal((32, 1, 3, 3)) / 3).astype(np.float32)
    v = (rng.standard_normal((32, 32, 1, 1)) / 6).astype(np.float32)
    for height, width in [(3, 1), (7, 7), (5, 112)]:
        x = rng.standard_normal((1, 32, height, width)).astype(np.float32)
        got, want = run(x, w, v), interpret(module, [x, w, v])
        assert got.shape == want.shape == (1, 32, height, width)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
