"""combine-parallel-conv2d and combine-parallel-dense keep a program's meaning (interpreted
before, interpreted and compiled after, on random inputs), combine what they should, and
are idempotent (a second run changes nothing)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import print_module
from xdsl.context import Context
from xdsl.passes import ModulePass

from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.passes.combine_parallel_conv2d import CombineParallelConv2DPass
from relay_opt.passes.combine_parallel_dense import CombineParallelDensePass
from relay_opt.passes.fold_constant import FoldConstantPass
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

HEADER = '#[version = "0.0.5"]\n'

# An inception-like block: three 1x1 branches with bias and relu, constant weights (fed
# through meta), one branch used before the others' weights are written.
INCEPTION = (
    HEADER
    + """def @main(%x: Tensor[(1, 4, 6, 6), float32]) {
  %0 = nn.relu(nn.bias_add(nn.conv2d(%x, meta[relay.Constant][0], padding=[1, 1]), meta[relay.Constant][3]));
  %1 = nn.max_pool2d(%0, pool_size=[2, 2]);
  %2 = nn.relu(nn.bias_add(nn.conv2d(%x, meta[relay.Constant][1], padding=[1, 1]), meta[relay.Constant][4]));
  %3 = nn.relu(nn.bias_add(nn.conv2d(%x, meta[relay.Constant][2], padding=[1, 1]), meta[relay.Constant][5]));
  (%1, concatenate((%2, %3), axis=1))
}"""
)


def _inception_meta(rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    shapes = [(2, 4, 3, 3), (3, 4, 3, 3), (5, 4, 3, 3), (2,), (3,), (5,)]
    return {"relay.Constant": [rng.standard_normal(s).astype(np.float32) for s in shapes]}


CONV_NHWC = (
    HEADER
    + """def @main(%x: Tensor[(1, 7, 7, 3), float32], %w1: Tensor[(3, 3, 3, 2), float32],
          %w2: Tensor[(3, 3, 3, 4), float32], %w3: Tensor[(3, 3, 3, 1), float32], %k: float32) {
  %0 = add(nn.conv2d(%x, %w1, strides=[2, 2], padding=[1, 1], data_layout="NHWC", kernel_layout="HWIO"), %k);
  %1 = add(nn.conv2d(%x, %w2, strides=[2, 2], padding=[1, 1], data_layout="NHWC", kernel_layout="HWIO"), %k);
  %2 = add(nn.conv2d(%x, %w3, strides=[2, 2], padding=[1, 1], data_layout="NHWC", kernel_layout="HWIO"), %k);
  (sigmoid(%0), %1, %2)
}"""
)

CONV_PARTIAL = (
    HEADER
    + """def @main(%x: Tensor[(2, 3, 5, 5), float32], %w1: Tensor[(1, 3, 3, 3), float32],
          %w2: Tensor[(2, 3, 3, 3), float32], %w3: Tensor[(3, 3, 3, 3), float32], %w4: Tensor[(2, 3, 1, 1), float32],
          %s1: Tensor[(1, 1, 1), float32], %s2: Tensor[(2, 1, 1), float32], %s3: Tensor[(3, 1, 1), float32]) {
  %0 = nn.relu(multiply(%s1, nn.conv2d(%x, %w1, dilation=[2, 1])));
  %1 = nn.relu(multiply(%s2, nn.conv2d(%x, %w2, dilation=[2, 1])));
  %2 = multiply(%s3, nn.conv2d(%x, %w3, dilation=[2, 1]));
  %3 = nn.conv2d(%x, %w4);
  (%0, %1, add(%2, %2), %3)
}"""
)

CONV_WEIGHTS_LATER = (
    HEADER
    + """def @main(%x: Tensor[(1, 2, 5, 5), float32], %w1: Tensor[(2, 2, 3, 3), float32]) {
  %0 = nn.conv2d(%x, %w1);
  %1 = nn.relu(%0);
  %2 = nn.conv2d(%x, multiply(ones(shape=[2, 2, 3, 3], dtype="float32"), 0.5f));
  %3 = nn.conv2d(%x, multiply(%w1, mean(%x)));
  (%1, %0, %2, %3)
}"""
)

DENSE = (
    HEADER
    + """def @main(%x: Tensor[(3, 4), float32], %w1: Tensor[(5, 4), float32], %w2: Tensor[(5, 4), float32],
          %w3: Tensor[(5, 4), float32], %b1: Tensor[(5), float32], %b2: Tensor[(5), float32], %b3: Tensor[(5), float32],
          %s1: Tensor[(3, 5), float32], %s2: Tensor[(3, 5), float32], %s3: Tensor[(3, 5), float32]) {
  %0 = subtract(%s1, nn.relu(nn.bias_add(nn.dense(%x, %w1), %b1, axis=-1)));
  %1 = subtract(%s2, nn.relu(nn.bias_add(nn.dense(%x, %w2), %b2, axis=-1)));
  %2 = subtract(%s3, nn.relu(nn.bias_add(nn.dense(%x, %w3), %b3, axis=-1)));
  (%0, %1, %2)
}"""
)

DENSE_UNITS = (
    HEADER
    + """def @main(%x: Tensor[(2, 3, 4), float32], %w1: Tensor[(2, 4), float32], %w2: Tensor[(3, 4), float32],
          %w3: Tensor[(4, 4), float32], %k: float32) {
  %0 = tanh(multiply(nn.dense(%x, %w1, units=2), %k));
  %1 = tanh(multiply(nn.dense(%x, %w2, units=3), %k));
  %2 = tanh(multiply(nn.dense(%x, %w3, units=4), %k));
  (%0, %1, %2)
}"""
)

CONV = CombineParallelConv2DPass()
CONV2 = CombineParallelConv2DPass(min_num_branches=2)
BATCH = CombineParallelDensePass()
CONCAT = CombineParallelDensePass(to_batch=False)

# (name, program, pass, the op counts expected afterwards)
CASES = [
    ("inception", INCEPTION, CONV, {"relay.nn.conv2d": 1, "relay.strided_slice": 3}),
    ("nhwc", CONV_NHWC, CONV, {"relay.nn.conv2d": 1, "relay.add": 1}),
    (
        "partial",
        CONV_PARTIAL,
        CONV,
        {"relay.nn.conv2d": 2, "relay.multiply": 1, "relay.nn.relu": 2},
    ),
    ("weights_later", CONV_WEIGHTS_LATER, CONV, {"relay.nn.conv2d": 1, "relay.strided_slice": 3}),
    ("weights_later2", CONV_WEIGHTS_LATER, CONV2, {"relay.nn.conv2d": 1, "relay.strided_slice": 3}),
    (
        "dense_batch",
        DENSE,
        BATCH,
        {"relay.nn.dense": 0, "relay.nn.batch_matmul": 1, "relay.subtract": 1},
    ),
    (
        "dense_concat",
        DENSE,
        CONCAT,
        {"relay.nn.dense": 1, "relay.nn.bias_add": 1, "relay.subtract": 1},
    ),
    ("dense_units_batch", DENSE_UNITS, BATCH, {"relay.nn.dense": 3, "relay.nn.batch_matmul": 0}),
    ("dense_units_concat", DENSE_UNITS, CONCAT, {"relay.nn.dense": 1, "relay.tanh": 1}),
]


def _parse(name: str, text: str):  # noqa: ANN202
    meta = _inception_meta(np.random.default_rng(1)) if name == "inception" else None
    return load_program(text, "relay", filename=f"{name}.rly", meta=meta).module


def _inputs(module) -> list[np.ndarray]:  # noqa: ANN001
    rng = np.random.default_rng(0)
    main = next(
        op for op in module.ops if getattr(op, "sym_name", None) and op.sym_name.data == "main"
    )
    return [
        rng.standard_normal(tuple(a.type.get_shape())).astype(np.float32)
        for a in main.body.block.args
    ]


def _counts(module) -> dict[str, int]:  # noqa: ANN001
    counts: dict[str, int] = {}
    for op in module.walk():
        counts[op.name] = counts.get(op.name, 0) + 1
    return counts


def _assert_close(got, want, name: str) -> None:  # noqa: ANN001
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    assert len(got) == len(want), name
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name, text, p, expected", CASES, ids=[c[0] for c in CASES])
def test_meaning_is_kept(name: str, text: str, p: ModulePass, expected: dict[str, int]):
    module = _parse(name, text)
    inputs = _inputs(module)
    want = interpret(module, inputs)
    changed = module.clone()
    p.apply(Context(), changed)
    changed.verify()
    counts = _counts(changed)
    assert {k: counts.get(k, 0) for k in expected} == expected, name
    _assert_close(interpret(changed, inputs), want, name)
    _assert_close(compile(changed)(*inputs), want, name)
    # the combined constant weights fold into one constant
    FoldConstantPass().apply(Context(), changed)
    _assert_close(interpret(changed, inputs), want, name)


@pytest.mark.parametrize("name, text, p, expected", CASES, ids=[c[0] for c in CASES])
def test_idempotent(name: str, text: str, p: ModulePass, expected: dict[str, int]):
    module = _parse(name, text)
    p.apply(Context(), module)
    once = print_module(module)
    p.apply(Context(), module)
    assert print_module(module) == once


@pytest.mark.parametrize(
    "p", [CombineParallelConv2DPass(1), CombineParallelDensePass(0)], ids=["conv2d", "dense"]
)
def test_min_num_branches_below_two_is_a_diagnostic(p: ModulePass):
    module = _parse("dense_batch", DENSE)
    with pytest.raises(RelayError, match="min-num-branches must be at least 2"):
        p.apply(Context(), module)


def test_not_in_the_default_pipelines():
    from relay_opt.passes.relay_optimize import passes_for_level

    names = {p.name for level in range(4) for p in passes_for_level(level)}
    assert not names & {"combine-parallel-conv2d", "combine-parallel-dense"}
