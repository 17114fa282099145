"""ShuffleNet's channel shuffle (reshape, transpose, reshape) as one copy: row-major reshapes
read per run of axes, copies composed into their consumers; numerics against the reference
interpreter in the blocked layouts of 8 and 16 lanes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.linalg import ops as linalg

from relay_opt import load_program
from relay_opt.lowering.convert_relay_to_linalg import ConvertRelayToLinalgPass
from relay_opt.lowering.convert_relay_to_linalg.transform import reshape_exprs
from relay_opt.lowering.fuse_linalg_elementwise import FuseLinalgElementwisePass
from relay_opt.passes.fuse_ops import FuseOpsPass
from relay_opt.passes.relay_optimize import OptimizePass
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

RESHAPES = [
    ((1, 112, 56, 56), (1, 4, 28, 56, 56)),
    ((1, 28, 4, 56, 56), (1, 112, 56, 56)),
    ((2, 3, 4), (4, 6)),
    ((4, 6), (2, 3, 4)),
    ((2, 3, 4), (24,)),
    ((1, 6), (2, 3)),
    ((6,), (6, 1)),
    ((3, 1, 4), (12,)),
    ((12,), (3, 1, 4, 1)),
    ((1, 2, 1, 3), (3, 1, 2)),
    ((1, 1), (1,)),
    ((), (1, 1)),
    ((1,), ()),
]


@pytest.mark.parametrize("src, dst", RESHAPES)
def test_reshape_reads_the_row_major_element(src, dst):
    """Every result element's source index is numpy's reshape's."""
    exprs = reshape_exprs(src, dst)
    x = np.arange(int(np.prod(src))).reshape(src)
    y = x.reshape(dst)
    for index in itertools.product(*(range(n) for n in dst)):
        at = tuple(int(e.eval(list(index), [])) for e in exprs)
        assert x[at] == y[index], (index, at)


SHUFFLE = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 16, 9, 8), float32], %w0: Tensor[(32, 16, 1, 1), float32],
          %wd: Tensor[(32, 1, 3, 3), float32], %w1: Tensor[(24, 32, 1, 1), float32],
          %wd2: Tensor[(24, 1, 3, 3), float32]) {
  %0 = nn.relu(nn.conv2d(%x, %w0));
  %1 = reshape(transpose(reshape(%0, newshape=[1, 4, 8, 9, 8]), axes=[0, 2, 1, 3, 4]),
               newshape=[1, 32, 9, 8]);
  %2 = nn.conv2d(nn.conv2d(%1, %wd, padding=[1, 1], groups=32), %w1);
  %3 = reshape(transpose(reshape(nn.relu(%2), newshape=[1, 4, 6, 9, 8]), axes=[0, 2, 1, 3, 4]),
               newshape=[1, 24, 9, 8]);
  nn.conv2d(%3, %wd2, strides=[2, 2], padding=[1, 1], groups=24)
}"""


@pytest.mark.parametrize("block", [8, 16])
def test_shuffle_units_match_the_interpreter(block):
    """Two shuffle units: 32 channels (blocked on both sides: one copy from NCHW{block}c to
    NCHW{block}c) and 24 (a block multiple at 8 lanes only)."""
    rng = np.random.default_rng(block)
    shapes = [(1, 16, 9, 8), (32, 16, 1, 1), (32, 1, 3, 3), (24, 32, 1, 1), (24, 1, 3, 3)]
    inputs = [(rng.standard_normal(s) / np.sqrt(np.prod(s[1:]))).astype(np.float32) for s in shapes]
    module = load_program(SHUFFLE, "relay").module
    want = interpret(module, inputs)
    OptimizePass(3, layout_block=block).apply(Context(), module)
    np.testing.assert_allclose(compile(module)(*inputs), want, rtol=1e-4, atol=1e-4)


ONE_SHUFFLE = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 12, 5, 6), float32]) {
  reshape(transpose(reshape(%x, newshape=[1, 3, 4, 5, 6]), axes=[0, 2, 1, 3, 4]),
          newshape=[1, 12, 5, 6])
}"""


def test_a_shuffle_is_one_copy():
    """After fusion a shuffle reads its source once: no intermediate copy is left."""
    module = load_program(ONE_SHUFFLE, "relay").module
    for p in (FuseOpsPass(), ConvertRelayToLinalgPass(), FuseLinalgElementwisePass()):
        p.apply(Context(), module)
    assert len([op for op in module.walk() if isinstance(op, linalg.GenericOp)]) == 1
    x = np.arange(360, dtype=np.float32).reshape(1, 12, 5, 6)
    want = x.reshape(1, 3, 4, 5, 6).transpose(0, 2, 1, 3, 4).reshape(1, 12, 5, 6)
    np.testing.assert_array_equal(compile(load_program(ONE_SHUFFLE, "relay").module)(x), want)
