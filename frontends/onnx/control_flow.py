"""ONNX control flow: `If` becomes `relay.if`, its branches regions that see the outer
graph's values (ONNX subgraphs capture by name). A condition known while importing imports
only the branch taken. `Loop` and `Scan` are not imported yet (their scan outputs grow with
the trip count: `?` dimensions)."""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.ir import Block, Region

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.types import types_compatible
from relay_opt.frontends.onnx.importer import Node, Value, converter


def _import_branch(node: Node, name: str) -> tuple[Block, list[Value]]:
    """The nodes of subgraph attribute `name` imported into a fresh block; its outputs.
    Constants materialized inside the branch stay there: the outer graph must not reuse
    them (they would not dominate its later uses)."""
    graph = node.graph
    subgraph = node.subgraph(name)
    if len(subgraph.input):
        raise node.error(f"the {name} subgraph takes inputs; an If branch takes none")
    outer_block, outer_materialized = graph.block, graph._materialized  # noqa: SLF001
    outer_env = dict(graph.env)
    graph.block, graph._materialized = Block(), dict(outer_materialized)  # noqa: SLF001
    try:
        for index, proto in enumerate(subgraph.node):
            graph.convert(proto, index)
        outputs = []
        for vi in subgraph.output:
            if vi.name not in graph.env:
                raise node.error(f"output '{vi.name}' of the {name} subgraph is never computed")
            outputs.append(graph.env[vi.name])
        return graph.block, outputs
    finally:
        graph.block, graph._materialized = outer_block, outer_materialized  # noqa: SLF001
        graph.env = outer_env  # the branch's names are its own


@converter("If")
def if_(node: Node) -> Any:  # noqa: ANN401
    cond = node.required(0)
    if int(np.prod(node.shape(cond))) != 1:
        raise node.error(f"the condition must have one element, not shape {node.shape(cond)}")
    if isinstance(cond, np.ndarray):  # known while importing: only the branch taken
        taken = "then_branch" if bool(cond.reshape(-1)[0]) else "else_branch"
        block, outputs = _import_branch(node, taken)
        for op in list(block.ops):  # its run-time part joins the enclosing block
            op.detach()
            node.graph.add(op)
        return outputs
    cond = node.reshape(node.cast(cond, "bool"), [])
    regions, types = [], []
    for name in ("then_branch", "else_branch"):
        block, outputs = _import_branch(node, name)
        graph = node.graph
        outer_block = graph.block
        graph.block = block  # the branch's value is built at its end
        try:
            values = [graph.ssa(v) for v in outputs]
            value = values[0] if len(values) == 1 else graph.builder.tuple(values)
            graph.add(core.YieldOp(value))
        finally:
            graph.block = outer_block
        regions.append(Region(block))
        types.append(value.type)
    if not types_compatible(types[0], types[1]):
        raise node.unsupported(
            f"the branches' outputs differ in type ({types[0]} and {types[1]}): "
            "relay-opt's `if` has one result type (no `?` shapes across branches yet)"
        )
    result = node.graph.add(core.IfOp(node.graph.ssa(cond), types[0], *regions)).result
    n = len(node.subgraph("then_branch").output)
    if n == 1:
        return [result]
    return [node.tuple_get(result, i) for i in range(n)]
