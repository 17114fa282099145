"""Relay passes keep a program's meaning (interpreted before, interpreted and compiled after,
on random inputs) and are idempotent (a second run changes nothing)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import print_module
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp

from relay_opt import load_program
from relay_opt.passes.dce import DeadCodeEliminationPass
from relay_opt.passes.defuse_ops import DefuseOpsPass
from relay_opt.passes.fold_constant import FoldConstantPass
from relay_opt.passes.fold_explicit_padding import FoldExplicitPaddingPass
from relay_opt.passes.fold_scale_axis import FoldScaleAxisPass
from relay_opt.passes.fuse_ops import FuseOpsPass
from relay_opt.passes.inline import InlinePass
from relay_opt.passes.remove_unused_functions import RemoveUnusedFunctionsPass
from relay_opt.passes.simplify_expr import SimplifyExprPass
from relay_opt.passes.simplify_inference import SimplifyInferencePass
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

sys.path.insert(0, str(Path(__file__).parent.parent / "examples" / "models"))

PASSES = [
    SimplifyInferencePass(),
    FoldConstantPass(),
    DeadCodeEliminationPass(),
    RemoveUnusedFunctionsPass(),
    InlinePass(),
    SimplifyExprPass(),
    FoldExplicitPaddingPass(),
    FoldScaleAxisPass(),
    FuseOpsPass(),
    DefuseOpsPass(),
]


@functools.cache
def _models() -> tuple[tuple[str, ModuleOp, list[np.ndarray], np.ndarray], ...]:
    from gpt2 import gpt2_text
    from mnist import mnist_text
    from resnet import resnet_text

    rng = np.random.default_rng(0)
    loaded: list[tuple[str, ModuleOp, list[np.ndarray]]] = []
    text, w, _ = resnet_text(18, image=32, classes=10)
    loaded.append(
        (
            "resnet18",
            load_program(text, "relay", filename="r.rly", meta={"relay.Constant": w}).module,
            [rng.standard_normal((1, 3, 32, 32)).astype(np.float32)],
        )
    )
    text, w = mnist_text()  # its nn.pad folds into the first conv2d
    loaded.append(
        (
            "mnist",
            load_program(text, "relay", filename="m.rly", meta={"relay.Constant": w}).module,
            [rng.standard_normal((1, 1, 28, 28)).astype(np.float32)],
        )
    )
    text, w = gpt2_text()
    loaded.append(
        (
            "gpt2",
            load_program(text, "relay", filename="g.rly", meta={"relay.Constant": w}).module,
            [rng.standard_normal((1, 8, 64)).astype(np.float32)],
        )
    )
    return tuple((name, m, inputs, interpret(m, inputs)) for name, m, inputs in loaded)


def models() -> Iterator[tuple[str, ModuleOp, list[np.ndarray], np.ndarray]]:
    """The models (each a fresh copy: tests change them), their inputs and the interpreter's
    result on the unchanged model; loaded and interpreted once per process."""
    for name, module, inputs, want in _models():
        yield name, module.clone(), inputs, want


@pytest.mark.parametrize(
    "pipeline", [[p] for p in PASSES] + [PASSES], ids=[p.name for p in PASSES] + ["all"]
)
def test_meaning_is_kept(pipeline):
    for name, module, inputs, want in models():
        changed = module.clone()
        for p in pipeline:
            p.apply(Context(), changed)
        changed.verify()
        np.testing.assert_allclose(
            interpret(changed, inputs), want, rtol=1e-4, atol=1e-6, err_msg=name
        )
        if pipeline is PASSES:
            # Native code of one pass's output would run -O3's whole pipeline again, so it
            # is compiled once, after all of them (each is also in -O3 itself).
            np.testing.assert_allclose(
                compile(changed)(*inputs), want, rtol=1e-4, atol=1e-6, err_msg=name
            )


@pytest.mark.parametrize("p", PASSES, ids=[p.name for p in PASSES])
def test_idempotent(p):
    for _, module, _, _ in models():
        p.apply(Context(), module)
        once = print_module(module)
        p.apply(Context(), module)
        assert print_module(module) == once


def test_simplify_inference_removes_every_batch_norm():
    _, module, _, _ = next(models())
    SimplifyInferencePass().apply(Context(), module)
    names = {op.name for op in module.walk()}
    assert "relay.nn.batch_norm" not in names and "relay.nn.conv2d" in names


def test_dce_keeps_effects_inside_branches():
    module = load_program(
        '#[version = "0.0.5"]\ndef @main(%c: bool) {\n'
        "  let %r = ref(1);\n"
        "  if (%c) { ref_write(%r, 2) } else { () };\n"
        "  ref_read(%r)\n}",
        "relay",
    ).module
    DeadCodeEliminationPass().apply(Context(), module)
    assert any(op.name == "relay.ref_write" for op in module.walk())
    assert interpret(module, [np.array(True)]).item() == 2


def test_O3_on_resnet_folds_scales_and_gives_one_group_per_conv2d():
    from relay_opt.passes.relay_optimize import OptimizePass

    _, module, _, _ = next(models())
    OptimizePass(3).apply(Context(), module)
    assert not any(o.name in ("relay.nn.batch_norm", "relay.multiply") for o in module.walk())
    groups = [op for op in module.walk() if op.name == "relay.fn"]
    with_conv = [g for g in groups if any(o.name == "relay.nn.conv2d" for o in g.walk())]
    convs = [o for o in module.walk() if o.name == "relay.nn.conv2d"]
    assert len(with_conv) == len(convs) == 20
    assert all(sum(o.name == "relay.nn.conv2d" for o in g.walk()) == 1 for g in with_conv)
    # alter-op-layout's edges, each a group of its own: the image into NCHW3c, around max_pool,
    # before global_avg_pool
    edges = [
        g
        for g in groups
        if {o.name for o in g.walk() if o is not g} == {"relay.layout_transform", "relay.return"}
    ]
    assert len(edges) == 4
    # the other groups: max_pool, global_avg_pool, batch_flatten, dense + bias_add, softmax
    assert len(groups) - len(with_conv) - len(edges) == 5


def test_optimization_levels_keep_meaning_and_fuse_at_3():
    from relay_opt.passes.relay_optimize import OptimizePass

    for name, module, inputs, want in models():
        for level in range(4):
            changed = module.clone()
            OptimizePass(level).apply(Context(), changed)
            fused = any(op.name == "relay.fn" for op in changed.walk())
            assert fused == (level == 3), (name, level)
            np.testing.assert_allclose(interpret(changed, inputs), want, rtol=1e-4, atol=1e-6)
            if level == 3:  # fused primitive functions, as native code receives them
                got = compile(changed, opt=0)(*inputs)
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


NORMS = """#[version = "0.0.5"]
def @main(%x: Tensor[(2, 6, 3, 5), float32], %g: Tensor[(6), float32], %b: Tensor[(6), float32],
          %h: Tensor[(5), float32], %c: Tensor[(5), float32]) {
  %0 = nn.group_norm(%x, %g, %b, num_groups=3, epsilon=1e-3f);
  %1 = nn.instance_norm(%0, %g, %b);
  %2 = nn.group_norm(%1, %h, %c, num_groups=5, axis=-1, center=False);
  %3 = nn.instance_norm(%2, %h, %c, axis=3, scale=False);
  nn.l2_normalize(%3, eps=1e-10f, axis=[1, 2])
}
"""


def test_simplify_inference_expands_group_instance_and_l2_norms():
    module = load_program(NORMS, "relay").module
    rng = np.random.default_rng(3)
    inputs = [
        rng.standard_normal(s).astype(np.float32) for s in ((2, 6, 3, 5), (6,), (6,), (5,), (5,))
    ]
    want = interpret(module, inputs)
    changed = module.clone()
    SimplifyInferencePass().apply(Context(), changed)
    changed.verify()
    names = {op.name for op in changed.walk()}
    assert not any(
        n.startswith(("relay.nn.group_norm", "relay.nn.instance_norm", "relay.nn.l2_norm"))
        for n in names
    )
    np.testing.assert_allclose(interpret(changed, inputs), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(compile(changed)(*inputs), want, rtol=1e-4, atol=1e-5)
    # The operators also compile without the pass (their lowering is the same expansion).
    np.testing.assert_allclose(compile(module)(*inputs), want, rtol=1e-4, atol=1e-5)
