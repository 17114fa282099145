"""lambda-lift keeps a program's meaning (the interpreter before and after, on random inputs),
alone and with monomorphize in either order; leaves no non-primitive closure outside the
Closure globals' own; is idempotent and keeps the module typed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import print_module
from test_monomorphize import same_value
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from relay_opt import load_program
from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.attribute_names import CLOSURE, PRIMITIVE
from relay_opt.passes.fuse_ops import FuseOpsPass
from relay_opt.passes.infer_types import InferTypesPass
from relay_opt.passes.lambda_lift import LambdaLiftPass, free_values
from relay_opt.passes.monomorphize import MonomorphizePass
from relay_opt.runtime.interpreter import interpret

LIT = Path(__file__).parent / "lit" / "passes"


def run(module: ModuleOp, *passes: ModulePass) -> ModuleOp:
    out = module.clone()
    for p in passes:
        p.apply(Context(), out)
        out.verify()
    return out


def check_lifted(module: ModuleOp) -> None:
    """Every non-primitive closure is the whole body of a Closure global, and its free
    values are exactly that global's parameters, in order."""
    for f in module.ops:
        if not isinstance(f, core.FuncOp):
            continue
        closures = [
            c
            for c in f.walk()
            if isinstance(c, core.ClosureOp) and c.attributes.get(PRIMITIVE) is None
        ]
        if f.attributes.get(CLOSURE) is None:
            assert not closures, f.sym_name.data
            continue
        [c] = closures
        ret = f.body.block.last_op
        assert isinstance(ret, core.ReturnOp) and ret.value is c.result
        assert list(f.body.block.ops) == [c, ret]
        assert free_values(c) == list(f.args)


PIPELINES = {
    "lift": [LambdaLiftPass()],
    "mono-lift": [MonomorphizePass(), LambdaLiftPass()],
    "lift-mono": [LambdaLiftPass(), MonomorphizePass()],
}


@pytest.mark.parametrize("pipeline", PIPELINES, ids=list(PIPELINES))
def test_prelude_keeps_meaning(pipeline: str):
    module = load_program((LIT / "monomorphize" / "prelude.rly").read_text(), "relay").module
    after = run(module, *PIPELINES[pipeline])
    check_lifted(after)
    rng = np.random.default_rng(len(pipeline))
    for _ in range(2):
        x = rng.standard_normal(2).astype(np.float32)
        n = np.array(rng.integers(1, 6), dtype=np.int32)
        assert same_value(interpret(module, [x, n]), interpret(after, [x, n]))


@pytest.mark.parametrize("seed", [0, 1])
def test_captures_recursion_and_nesting_keep_meaning(seed: int):
    module = load_program((LIT / "lambda-lift" / "lift.rly").read_text(), "relay").module
    after = run(module, LambdaLiftPass())
    check_lifted(after)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(3).astype(np.float32)
    for n in (0, 1, 4):
        args = [x, np.array(n, dtype=np.int32)]
        assert same_value(interpret(module, args), interpret(after, args))


def test_closures_in_adts_and_branches():
    text = """#[version = "0.0.5"]
    def @main(%x: Tensor[(2, 2), float32], %c: bool) {
      let %y = nn.relu(%x);
      let %fs = Cons(fn (%v: Tensor[(2, 2), float32]) { %v + %y },
                     Cons(fn (%v: Tensor[(2, 2), float32]) { %v * %x }, Nil));
      let %g = if (%c) { fn (%v: Tensor[(2, 2), float32]) { %v - %y } }
               else { match (%fs) { Cons(%h, _) => %h, Nil => fn (%v: Tensor[(2, 2), float32]) { %v } } };
      (%g(%x), @foldl(fn (%acc: Tensor[(2, 2), float32], %f: fn (Tensor[(2, 2), float32]) -> Tensor[(2, 2), float32]) { %f(%acc) }, %x, %fs))
    }
    """
    module = load_program(text, "relay").module
    for passes in PIPELINES.values():
        after = run(module, *passes)
        check_lifted(after)
        rng = np.random.default_rng(5)
        x = rng.standard_normal((2, 2)).astype(np.float32)
        for c in (True, False):
            args = [x, np.array(c)]
            assert same_value(interpret(module, args), interpret(after, args))


def test_primitive_closures_stay():
    module = load_program((LIT / "lambda-lift" / "primitive.rly").read_text(), "relay").module
    fused = run(module, FuseOpsPass())
    after = run(fused, LambdaLiftPass())
    check_lifted(after)
    primitive = [c for c in after.walk() if isinstance(c, core.ClosureOp)]
    assert any(c.attributes.get(PRIMITIVE) is not None for c in primitive)
    x = np.random.default_rng(2).standard_normal(3).astype(np.float32)
    assert same_value(interpret(module, [x]), interpret(after, [x]))


def test_idempotent_and_typed():
    module = load_program((LIT / "lambda-lift" / "lift.rly").read_text(), "relay").module
    once = run(module, LambdaLiftPass())
    text = print_module(once)
    assert print_module(run(once, LambdaLiftPass())) == text
    assert print_module(run(once, InferTypesPass())) == text
