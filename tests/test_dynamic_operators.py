"""Every registry operator compiled with `?` dims (issue 12): for each operand, every dim of
that operand `?` (the others static), compiled once and run against the reference
interpreter on the case's arrays (test_operator_relations' first case). What the type
relation refuses is listed in REFUSES, what does not compile or run natively in NOT_NATIVE,
each with why: an operator that starts or stops refusing fails the walk."""

from __future__ import annotations

import numpy as np
import pytest
from test_operator_relations import CASES, cases
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.numpy_dtypes import relay_dtype
from relay_opt.dialects.relay.registry import TypeRelationError, lookup
from relay_opt.dialects.relay.types import DYNAMIC, tensor_type
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

NOT_NATIVE: dict[tuple[str, int], str] = {}
"""(operator, operand) pairs that do not compile or run natively with that operand's dims
`?`, each with the reason (docs/native-dynamic-shapes.md, "Limits")."""


REFUSES: dict[tuple[str, int], str] = {}
"""(operator, operand) pairs whose type relation refuses that operand's dims all `?`, each
with the reason (docs/native-dynamic-shapes.md, "Limits")."""


def _dynamic_module(name: str, operands: list, attrs: dict, dynamic: int) -> ModuleOp:
    """@main taking every array operand as a parameter, leaf `dynamic` with all dims `?`."""
    leaves = [x for v in operands for x in (v if isinstance(v, tuple) else [v])]
    types = [
        tensor_type(
            [DYNAMIC] * np.ndim(x) if k == dynamic else list(np.shape(x)),
            relay_dtype(np.asarray(x).dtype),
        )
        for k, x in enumerate(leaves)
    ]
    block = Block(arg_types=types)
    args = iter(block.args)
    values = []
    for v in operands:
        if isinstance(v, tuple):
            t = core.TupleOp([next(args) for _ in v])
            block.add_op(t)
            values.append(t.result)
        else:
            values.append(next(args))
    op = lookup(name).build(values, attrs)
    block.add_ops([op, core.ReturnOp(op.result)])
    return ModuleOp(
        [core.FuncOp("main", [a.type for a in block.args], op.result.type, region=Region(block))]
    )


def _leaves(v: object) -> list[np.ndarray]:
    return [np.asarray(x) for x in (v if isinstance(v, tuple) else [v])]


@pytest.mark.parametrize("name", sorted(CASES))
def test_operator_compiles_with_dynamic_dims(name: str):
    operands, attrs = cases(name, 1)[0]
    arrays = [np.asarray(x) for v in operands for x in (v if isinstance(v, tuple) else [v])]
    for k, x in enumerate(arrays):
        if x.ndim == 0:
            continue
        try:
            module = _dynamic_module(name, operands, attrs, k)
        except TypeRelationError as e:
            assert (name, k) in REFUSES, f"{name} refuses `?` in operand {k}: {e}"
            continue
        assert (name, k) not in REFUSES, f"{name} accepts `?` in operand {k}: unlist it"
        if (name, k) in NOT_NATIVE:
            with pytest.raises(RelayError):
                compile(module, opt=0, cache=False)(*arrays)
                interpret(module, arrays)
            continue
        got = _leaves(compile(module, opt=0, cache=False)(*arrays))
        want = _leaves(interpret(module, arrays))
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape and g.dtype == w.dtype, (name, k)
            if w.dtype.kind in "fc":
                np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5, err_msg=f"{name} #{k}")
            else:
                np.testing.assert_array_equal(g, w, err_msg=f"{name} #{k}")


def test_every_listed_pair_names_an_operand():
    for name, k in [*NOT_NATIVE, *REFUSES]:
        operands, _ = cases(name, 1)[0]
        count = sum(len(v) if isinstance(v, tuple) else 1 for v in operands)
        assert 0 <= k < count, (name, k)
