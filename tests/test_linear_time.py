"""relay-opt -O3 and the lowering do work linear in the length of a program.

A chain of n operators (elementwise ones and a softmax every fifth: many fused groups,
loops and buffers) is optimized and lowered at two sizes, counting the steps every walk of
the IR takes (`Operation.next_op`, `Block.next_block`: block iteration, walks, splits and
clones all go through them). Counts, not times, so a loaded machine cannot make it flaky.
Ten times the operators may cost at most 12 times the steps; the quadratic walks this
guards against (a block re-numbered per fused group, bodies re-cloned per merge, a block
split per loop re-parenting the rest of the function) gave 20 to 60.
"""

from __future__ import annotations

import pytest
from xdsl.context import Context
from xdsl.ir import Block, Operation

from relay_opt import load_program
from relay_opt.lowering.relay_to_llvm import lowering_stages
from relay_opt.passes.infer_types import InferTypesPass
from relay_opt.passes.relay_optimize import passes_for_level

STEPS = ("add({}, 1f)", "tanh({})", "nn.softmax({})", "multiply({}, 0.5f)", "nn.relu({})")


def chain(n: int) -> str:
    lines = ['#[version = "0.0.5"]', "def @main(%x: Tensor[(4, 8), float32]) {"]
    prev = "%x"
    for i in range(n):
        lines.append(f"  %{i} = {STEPS[i % len(STEPS)].format(prev)};")
        prev = f"%{i}"
    return "\n".join([*lines, f"  {prev}", "}"])


def walk_steps(n: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The IR steps taken by each pass of -O3 and of the lowering on a chain of n operators."""
    module = load_program(chain(n), "relay").module
    count = [0]

    def counted(prop: property) -> property:
        def get(self: object) -> object:
            count[0] += 1
            return prop.fget(self)  # pyright: ignore[reportOptionalCall]

        return property(get, prop.fset)

    steps: dict[str, int] = {}
    ctx = Context()
    passes = [p for p in passes_for_level(3) if not isinstance(p, InferTypesPass)]
    with monkeypatch.context() as m:
        m.setattr(Operation, "next_op", counted(Operation.next_op))  # pyright: ignore
        m.setattr(Block, "next_block", counted(Block.next_block))  # pyright: ignore
        for p in [*passes, *lowering_stages()]:
            count[0] = 0
            p.apply(ctx, module)
            steps[p.name] = steps.get(p.name, 0) + count[0]
    return steps


def test_optimize_and_lower_in_linear_time(monkeypatch: pytest.MonkeyPatch):
    small = walk_steps(50, monkeypatch)
    large = walk_steps(500, monkeypatch)
    slow = {name: large[name] / max(small[name], 1) for name in large}
    assert all(ratio < 12 for ratio in slow.values()), slow
    assert sum(large.values()) < 12 * sum(small.values())
