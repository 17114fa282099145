"""to-a-normal-form and to-graph-normal-form keep a program's meaning (the interpreter on
random inputs and every branch), are idempotent, and undo each other's placement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import print_module
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from relay_opt import load_program
from relay_opt.passes.to_a_normal_form import ToANormalFormPass
from relay_opt.passes.to_graph_normal_form import ToGraphNormalFormPass
from relay_opt.runtime.interpreter import interpret

LIT = Path(__file__).parent / "lit" / "passes"
PROGRAMS = [
    LIT / "to-a-normal-form" / "scopes.rly",
    LIT / "to-graph-normal-form" / "graph.rly",
]


def run(module: ModuleOp, *passes: ModulePass) -> ModuleOp:
    out = module.clone()
    for p in passes:
        p.apply(Context(), out)
        out.verify()
    return out


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.parent.name)
def test_meaning_kept_on_every_path(path: Path) -> None:
    module = load_program(path).module
    anf = run(module, ToANormalFormPass())
    gnf = run(module, ToGraphNormalFormPass())
    rng = np.random.default_rng(0)
    for c in (False, True):
        for d in (False, True):
            x = rng.standard_normal(3).astype(np.float32)
            inputs = [np.array(c), np.array(d), x]
            want = interpret(module, inputs)
            for changed in (anf, gnf):
                got = interpret(changed, inputs)
                for a, b in zip(got, want, strict=True):
                    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.parent.name)
def test_idempotent_and_inverse(path: Path) -> None:
    module = load_program(path).module
    anf = run(module, ToANormalFormPass())
    gnf = run(module, ToGraphNormalFormPass())
    assert print_module(run(anf, ToANormalFormPass())) == print_module(anf)
    assert print_module(run(gnf, ToGraphNormalFormPass())) == print_module(gnf)
    assert print_module(run(gnf, ToANormalFormPass())) == print_module(anf)
    # Back to graph form: the same placement up to the order of independent values.
    again = run(anf, ToGraphNormalFormPass())
    assert print_module(run(again, ToANormalFormPass(), ToGraphNormalFormPass())) == print_module(
        again
    )
    assert sorted(print_module(again).splitlines()) == sorted(print_module(gnf).splitlines())
