"""partial-evaluate keeps a program's meaning (the interpreter before and after, on random
inputs: known and unknown lists, closures, ADTs, effects on references), is idempotent on
what it fully decides, and leaves a typed module."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import print_module
from test_monomorphize import same_value
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

import relay_opt
from relay_opt import load_program
from relay_opt.passes.dce import DeadCodeEliminationPass
from relay_opt.passes.infer_types import InferTypesPass
from relay_opt.passes.lambda_lift import LambdaLiftPass
from relay_opt.passes.monomorphize import MonomorphizePass
from relay_opt.passes.partial_evaluate import PartialEvaluatePass
from relay_opt.passes.remove_unused_functions import RemoveUnusedFunctionsPass
from relay_opt.runtime.interpreter import ADTValue, interpret

LIT = Path(__file__).parent / "lit" / "passes"
PE = [MonomorphizePass(), PartialEvaluatePass(), DeadCodeEliminationPass()]


def run(module: ModuleOp, *passes: ModulePass) -> ModuleOp:
    out = module.clone()
    for p in passes:
        p.apply(Context(), out)
        out.verify()
    return out


def pylist(items: list[object], name: str = "List") -> ADTValue:
    value = ADTValue(f"{name}::Nil", 1, ())
    for item in reversed(items):
        value = ADTValue(f"{name}::Cons", 0, (item, value))
    return value


def load(path: Path) -> ModuleOp:
    return load_program(path.read_text(), "relay").module


def test_prelude_keeps_meaning_and_is_idempotent():
    module = load(LIT / "monomorphize" / "prelude.rly")
    after = run(module, *PE)
    text = print_module(after)
    assert print_module(run(after, PartialEvaluatePass(), DeadCodeEliminationPass())) == text
    assert print_module(run(after, InferTypesPass())) == text
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal(2).astype(np.float32)
        n = np.array(rng.integers(1, 6), dtype=np.int32)
        assert same_value(interpret(module, [x, n]), interpret(after, [x, n]))


def test_unrolled_literal_list_keeps_meaning_and_compiles():
    module = load(LIT / "partial-evaluate" / "unroll.rly")
    after = run(module, *PE, RemoveUnusedFunctionsPass())
    rng = np.random.default_rng(2)
    args = [rng.standard_normal(3).astype(np.float32) for _ in range(4)]
    expected = interpret(module, args)
    assert same_value(expected, interpret(after, args))
    # No list is left: the program is a static graph, which compiles to native code today.
    compiled = relay_opt.compile(after)(*args)
    np.testing.assert_allclose(compiled[0], expected[0], rtol=1e-6)
    assert same_value(compiled[1], expected[1])


@pytest.mark.parametrize("length", [0, 1, 5])
def test_unknown_list_keeps_meaning(length: int):
    module = load(LIT / "partial-evaluate" / "unknown.rly")
    after = run(module, *PE)
    rng = np.random.default_rng(length)
    xs = pylist([rng.standard_normal(3).astype(np.float32) for _ in range(length)])
    x = rng.standard_normal(3).astype(np.float32)
    for c in (True, False):
        args = [xs, x, np.array(c)]
        assert same_value(interpret(module, args), interpret(after, args))


@pytest.mark.parametrize("passes", ["pe", "lift-pe", "pe-lift"])
def test_closures_keep_meaning(passes: str):
    module = load(LIT / "lambda-lift" / "lift.rly")
    pipeline = {
        "pe": PE,
        "lift-pe": [LambdaLiftPass(), *PE],
        "pe-lift": [*PE, LambdaLiftPass()],
    }[passes]
    after = run(module, *pipeline)
    rng = np.random.default_rng(4)
    x = rng.standard_normal(3).astype(np.float32)
    for n in (0, 1, 4):
        args = [x, np.array(n, dtype=np.int32)]
        assert same_value(interpret(module, args), interpret(after, args))


def test_reference_effects_stay_in_order():
    text = """#[version = "0.0.5"]
    def @main(%x: float32, %c: bool) {
      let %r = ref(%x);
      let %bump = fn (%d: float32) { ref_write(%r, ref_read(%r) * %d + 1f) };
      let %u1 = %bump(2f);
      let %u2 = if (%c) { %bump(3f) } else { ref_write(%r, 0f) };
      let %s = @foldl(fn (%a: float32, %b: float32) { let %old = ref_read(%r); let %w = ref_write(%r, %b); %a + %old }, 0f, Cons(%x, Cons(5f, Nil)));
      (ref_read(%r), %s)
    }
    """
    module = load_program(text, "relay").module
    after = run(module, *PE)
    assert "relay.fn" not in print_module(after)  # the known closures are all inlined
    for c in (True, False):
        args = [np.array(1.5, dtype=np.float32), np.array(c)]
        assert same_value(interpret(module, args), interpret(after, args))


def test_closures_in_adts_and_trees():
    text = """#[version = "0.0.5"]
    def @main(%x: Tensor[(2), float32], %t: Tree[Tensor[(2), float32]]) {
      let %fs = Cons(fn (%v: Tensor[(2), float32]) { %v + %x }, Cons(fn (%v: Tensor[(2), float32]) { %v * %x }, Nil));
      let %apply = fn (%v: Tensor[(2), float32]) { @foldl(fn (%a: Tensor[(2), float32], %f: fn (Tensor[(2), float32]) -> Tensor[(2), float32]) { %f(%a) }, %v, %fs) };
      let %known = Rose(%x, Cons(Rose(%x * 2f, Nil), Nil));
      (@size(@tmap(%apply, %known)), @size(@tmap(%apply, %t)), @tmap(%apply, %t))
    }
    """
    module = load_program(text, "relay").module
    after = run(module, *PE)
    rng = np.random.default_rng(6)
    x = rng.standard_normal(2).astype(np.float32)

    def leaf() -> ADTValue:
        return ADTValue("Tree::Rose", 0, (rng.standard_normal(2).astype(np.float32), pylist([])))

    tree = ADTValue("Tree::Rose", 0, (x, pylist([leaf(), leaf()])))
    before, now = interpret(module, [x, tree]), interpret(after, [x, tree])
    assert same_value(before, now)
    main = print_module(after).split("relay.func @main")[1]
    assert "relay.constant dense<2> : tensor<i32>" in main  # the known tree's size
