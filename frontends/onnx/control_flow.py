"""ONNX control flow: `If` becomes `relay.if`, its branches regions that see the outer
graph's values (ONNX subgraphs capture by name); branch tensors of different sizes join to
`?` dims, of different ranks to a rank-erased tensor (sequences.py), read at the highest
rank. A condition known while importing imports only the branch taken.

`Loop` and `Scan` become a recursive global function, one call per iteration (a tail call,
so native code runs it in constant stack): its parameters are the iteration number, the
condition, the loop-carried values, the outer values the body reads (run-time ones only;
known ones stay constants inside) and one accumulator per scan output. The accumulator has
the whole scan output's shape, so the number of iterations must be known before the loop
starts (Scan: the scan axis' length; Loop: its trip count, with a condition the body leaves
unchanged; a trip count or condition read at run time makes the scan axis `?`), and each
iteration writes its slice at the iteration number (`dyn.update_slice`, in place; a scan
output that grows per iteration would need `?` dims in `if` branches)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, Block, Region, SSAValue

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype, relay_dtype
from relay_opt.dialects.relay.types import (
    DYNAMIC,
    tensor_dtype,
    tensor_shape,
    tensor_type,
    tuple_type,
    types_compatible,
)
from relay_opt.frontends.onnx.importer import (
    Node,
    OnnxUnsupportedError,
    Value,
    converter,
)
from relay_opt.frontends.onnx.sequences import (
    erase,
    erase_sequence,
    erased_dtype,
    erased_rank,
    erased_type,
    erased_version,
    get_element,
    is_erased,
    is_optional,
    is_sequence,
    some,
    typed,
)


def _import_branch(node: Node, name: str) -> tuple[Block, dict, list[Value]]:
    """The nodes of subgraph attribute `name` imported into a fresh block; the constants
    materialized there and its outputs. Those constants stay in the branch: the outer graph
    must not reuse them (they would not dominate its later uses)."""
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
        return graph.block, graph._materialized, outputs  # noqa: SLF001
    finally:
        graph.block, graph._materialized = outer_block, outer_materialized  # noqa: SLF001
        graph.env = outer_env  # the branch's names are its own


def _joined_type(node: Node, k: int, a: Value, b: Value) -> Attribute:
    """Output k's type over both branches: tensors of one rank and dtype join to `?` dims
    where their sizes differ, tensors of two ranks to a rank-erased tensor, sequences of two
    ranks to a sequence of rank-erased tensors; other types must agree."""
    ta, tb = _type_of(a), _type_of(b)
    if isinstance(ta, TensorType) and isinstance(tb, TensorType):
        sa, sb = tensor_shape(ta), tensor_shape(tb)
        if ta.element_type == tb.element_type and len(sa) == len(sb):
            return tensor_type(
                [x if x == y else DYNAMIC for x, y in zip(sa, sb, strict=True)], tensor_dtype(ta)
            )
    if types_compatible(ta, tb):
        return ta
    dtypes = {_erasable_dtype(t) for t in (ta, tb)}
    if len(dtypes) == 1 and None not in dtypes:
        (dtype,) = dtypes
        return erased_type(dtype)  # pyright: ignore[reportArgumentType]
    for t, other in ((ta, tb), (tb, ta)):
        erased = erased_version(t)
        if erased is not None and types_compatible(erased, erased_version(other) or other):
            return erased
    raise node.unsupported(
        f"output {k} of the branches differs in type ({ta} and {tb}): relay-opt's `if` "
        "joins tensor sizes into ? dims and tensor ranks into rank-erased tensors"
    )


def _erasable_dtype(t: Attribute) -> str | None:
    """The dtype of a tensor or a rank-erased tensor of type `t`; None for other types."""
    if isinstance(t, TensorType):
        return tensor_dtype(t)
    return erased_dtype(t) if is_erased(t) else None


def _as_joined(node: Node, v: Value, t: Attribute) -> Value:
    """Branch value `v` as joined type `t` wants it: rank-erased where `t` is."""
    if is_erased(t) and not is_erased(_type_of(v)):
        return erase(node, v)
    erased = erased_version(_type_of(v))
    if erased is not None and types_compatible(erased, t):
        return erase_sequence(node, v)
    return v


def _rank_read(node: Node, values: Sequence[Value]) -> int | None:
    """The rank the uses of an If's rank-erased output read: its branches' highest (a lower
    one as broadcasting sees it), None when a branch's is known only at run time."""
    ranks = [
        erased_rank(node.graph, v) if is_erased(_type_of(v)) else len(tensor_shape(_type_of(v)))  # pyright: ignore[reportArgumentType]
        for v in values
    ]
    return None if None in ranks else max(ranks)  # pyright: ignore[reportArgumentType, reportCallIssue]


@converter("If")
def if_(node: Node) -> Any:  # noqa: ANN401
    cond = node.required(0)
    if int(np.prod(node.shape(cond))) != 1:
        raise node.error(f"the condition must have one element, not shape {node.shape(cond)}")
    if isinstance(cond, np.ndarray):  # known while importing: only the branch taken
        taken = "then_branch" if bool(cond.reshape(-1)[0]) else "else_branch"
        block, _, outputs = _import_branch(node, taken)
        for op in list(block.ops):  # its run-time part joins the enclosing block
            op.detach()
            node.graph.add(op)
        return outputs
    cond = node.reshape(node.cast(cond, "bool"), [])
    names = ("then_branch", "else_branch")
    branches = [_import_branch(node, name) for name in names]
    graph = node.graph
    branch_outputs = []
    for name, (block, materialized, outputs) in zip(names, branches, strict=True):
        outer_block, outer_materialized = graph.block, graph._materialized  # noqa: SLF001
        graph.block, graph._materialized = block, materialized  # noqa: SLF001
        try:  # an empty sequence or a missing optional takes its declared type
            declared = node.subgraph(name).output
            branch_outputs.append(
                [
                    typed(graph, v, vi.type, f"output '{vi.name}' of the {name} subgraph")
                    for v, vi in zip(outputs, declared, strict=True)
                ]
            )
        finally:
            graph.block, graph._materialized = outer_block, outer_materialized  # noqa: SLF001
    joined = [
        _joined_type(node, k, a, b) for k, (a, b) in enumerate(zip(*branch_outputs, strict=True))
    ]
    regions = []
    for (block, materialized, _), outputs in zip(branches, branch_outputs, strict=True):
        outer_block, outer_materialized = graph.block, graph._materialized  # noqa: SLF001
        graph.block, graph._materialized = block, materialized  # noqa: SLF001
        try:  # the branch's value is built at its end, typed with the joined `?` dims
            outputs = [_as_joined(node, v, t) for v, t in zip(outputs, joined, strict=True)]
            values = [
                graph.ssa(v)
                if _type_of(v) == t or not isinstance(t, TensorType) or isinstance(v, np.ndarray)
                else graph.ssa(node.op("dyn.reshape", v, node.op("shape_of", v, dtype="int64")))
                for v, t in zip(outputs, joined, strict=True)
            ]
            value = values[0] if len(values) == 1 else graph.builder.tuple(values)
            graph.add(core.YieldOp(value))
        finally:
            graph.block, graph._materialized = outer_block, outer_materialized  # noqa: SLF001
        regions.append(Region(block))
    result_type = joined[0] if len(joined) == 1 else tuple_type(joined)
    result = graph.add(core.IfOp(graph.ssa(cond), result_type, *regions)).result
    n = len(node.subgraph("then_branch").output)
    results = [result] if n == 1 else [node.tuple_get(result, i) for i in range(n)]
    for k, (r, t) in enumerate(zip(results, joined, strict=True)):
        rank = _rank_read(node, [b[k] for b in branch_outputs]) if is_erased(t) else None
        if rank is not None:
            graph.erased_ranks[r] = rank  # pyright: ignore[reportArgumentType]
    return results


# -- Loop and Scan ---------------------------------------------------------------------------


def _names_read(graph: Any) -> set[str]:  # noqa: ANN401
    """The outer names a subgraph (and the subgraphs inside it) reads."""
    defined = {vi.name for vi in graph.input} | {i.name for i in graph.initializer}
    read: set[str] = set()
    for proto in graph.node:
        read |= {n for n in proto.input if n}
        for a in proto.attribute:
            for g in [a.g] if a.type == a.GRAPH else list(a.graphs):
                read |= _names_read(g)
        defined |= set(proto.output)
    return read - defined


def _type_of(v: Value) -> Attribute:
    if isinstance(v, np.ndarray):
        return tensor_type(v.shape, relay_dtype(v.dtype))
    return v.type


@dataclass
class _ScanOutput:
    """Where one scan output's per-iteration values go: stacked on `axis`, the last iteration
    first when `reverse`."""

    axis: int
    reverse: bool


Step = Callable[[SSAValue, SSAValue, list[Value]], tuple[Value | None, list[Value], list[Value]]]
"""One iteration: (iteration number, condition, carried values) -> (the next condition or
None for unchanged, the next carried values, this iteration's scan outputs), built into the
graph's current block."""


def _emit_loop(
    node: Node,
    stem: str,
    trips: int | Value | None,
    cond: Value,
    carried: Sequence[Value],
    body: Any | None,  # noqa: ANN401
    scans: Sequence[_ScanOutput],
    step: Step,
    extra: Sequence[Value] = (),
) -> tuple[list[Value], list[Value]]:
    """The recursive function of a loop, and its call: (the final carried values, the
    stacked scan outputs). `trips` bounds the iterations (an int when scan outputs are
    stacked); the function also takes the run-time outer values that `body` (an ONNX graph,
    or None for a step built by a converter) reads and
    `extra` (the step finds them in the graph's env, `extra` as its first carried values'
    successors: see Scan)."""
    graph = node.graph
    int64, boolean = tensor_type([], "int64"), tensor_type([], "bool")
    carried_types = [_type_of(v) for v in carried]
    read = _names_read(body) if body is not None else set()
    captured = sorted(n for n in read if isinstance(graph.env.get(n), SSAValue))
    trip_param = isinstance(trips, SSAValue)
    fixed: list[SSAValue] = (
        [trips] if isinstance(trips, SSAValue) else []  # pyright: ignore[reportAssignmentType]
    )
    fixed += [v for v in extra if isinstance(v, SSAValue)]
    fixed += [graph.env[n] for n in captured]  # pyright: ignore[reportAssignmentType]
    params = [int64, boolean, *carried_types, *(v.type for v in fixed)]
    name = graph.function_name(stem)
    entry = Block(arg_types=params)
    outer = (graph.block, graph._materialized, graph.env)  # noqa: SLF001
    try:
        graph.block, graph._materialized = entry, {}  # noqa: SLF001
        graph.env = {k: v for k, v in graph.env.items() if isinstance(v, np.ndarray)}
        i, cond_p = entry.args[0], entry.args[1]
        carried_p = list(entry.args[2 : 2 + len(carried)])
        rest = list(entry.args[2 + len(carried) :])
        trips_in = rest.pop(0) if trip_param else trips
        extra_in = [rest.pop(0) if isinstance(v, SSAValue) else v for v in extra]
        for n, arg in zip(captured, rest, strict=True):
            graph.env[n] = arg
        go: Value = cond_p
        if trips_in is not None:
            bound = trips_in if not isinstance(trips_in, int) else np.array(trips_in, np.int64)
            go = node.op("logical_and", cond_p, node.op("less", i, bound))
        go_ssa = graph.ssa(go)
        entry_materialized = dict(graph._materialized)  # noqa: SLF001

        then = Block()
        graph.block, graph._materialized = then, dict(entry_materialized)  # noqa: SLF001
        next_cond, next_carried, outputs = step(i, cond_p, [*carried_p, *extra_in])
        now_static: dict[int, Value] = {}
        for k, (v, t) in enumerate(zip(next_carried, carried_types, strict=True)):
            if _type_of(v) != t and types_compatible(_type_of(v), t):
                # `?` dims where the loop carries static ones (a slice at a run-time
                # position): a reshape to them, whose element count is checked at run time;
                # a scan output of the same value takes it too
                next_carried[k] = now_static[id(v)] = node.reshape(v, tensor_shape(t))  # pyright: ignore
                v = next_carried[k]
            erased = erased_version(t)
            if erased is not None and types_compatible(_type_of(v), erased):
                raise _CarriedRanksDiffer(node, k)
            if not types_compatible(_type_of(v), t):
                raise node.unsupported(
                    f"loop-carried value {k} changes type across iterations ({t} to "
                    f"{_type_of(v)}): ? dimensions across iterations are not imported yet"
                )
        outputs = [now_static.get(id(y), y) for y in outputs]
        for y in outputs:
            if DYNAMIC in node.shape(y):
                raise node.unsupported(
                    f"a scan output of shape {node.shape(y)} (? dims) is not imported yet"
                )
        if len(outputs) != len(scans):
            raise node.error(f"the body computes {len(outputs)} scan outputs, not {len(scans)}")
        if scans and trips is None:
            raise node.unsupported("scan outputs need a number of iterations")
        # a trip count or condition read at run time: the scan axis is `?` (its length is
        # the number of iterations, the accumulator's own length inside the loop)
        static = isinstance(trips, int) and isinstance(cond, np.ndarray)
        stacked_types: list[Attribute] = []
        stacked_next: list[Value] = []
        accumulators = []
        for y, spec in zip(outputs, scans, strict=True):
            shape, dtype = list(node.shape(y)), node.dtype(y)
            spec = _ScanOutput(node.axis(spec.axis, len(shape) + 1), spec.reverse)
            shape.insert(spec.axis, trips if static else DYNAMIC)  # pyright: ignore[reportArgumentType]
            stacked_types.append(tensor_type(shape, dtype))
            accumulators.append(entry.insert_arg(stacked_types[-1], len(entry.args)))
            if (
                static and trips == 0
            ):  # the step never runs; its slice would not fit the empty output
                stacked_next.append(accumulators[-1])
                continue
            position: Value = i
            if spec.reverse:
                count = _scan_length(node, accumulators[-1], spec.axis)
                position = node.op("subtract", node.op("subtract", count, np.array(1, np.int64)), i)
            # The slice written at its position: bufferize and tail-calls-to-loops update the
            # accumulator in place, so an iteration costs its slice (a `where` over the
            # whole accumulator made a loop quadratic in its length).
            begin: list[Value] = [np.zeros(1, np.int64)] * len(shape)
            begin[spec.axis] = node.reshape(position, [1])
            slice_ = node.op("expand_dims", y, axis=spec.axis)
            offsets = node.op("concatenate", begin, axis=0)
            stacked_next.append(node.op("dyn.update_slice", accumulators[-1], slice_, offsets))
        result_type = tuple_type([*carried_types, *stacked_types])
        arguments = [
            node.op("add", i, np.array(1, np.int64)),
            cond_p if next_cond is None else node.reshape(node.cast(next_cond, "bool"), []),
            *next_carried,
            *entry.args[2 + len(carried) : 2 + len(carried) + len(fixed)],  # unchanged
        ]
        arguments += stacked_next
        again = graph.add(core.CallOp(name, [graph.ssa(a) for a in arguments], result_type)).result
        graph.add(core.YieldOp(again))

        done = Block()
        graph.block = done
        graph.add(core.YieldOp(graph.builder.tuple([*carried_p, *accumulators])))
        result = core.IfOp(go_ssa, result_type, Region(then), Region(done))
        entry.add_op(result)
        entry.add_op(core.ReturnOp(result.result))
    finally:
        graph.block, graph._materialized, graph.env = outer  # noqa: SLF001
    params = [a.type for a in entry.args]
    graph.functions.append(core.FuncOp(name, params, result_type, (), Region(entry)))
    initial = [
        np.array(0, np.int64),
        node.reshape(node.cast(cond, "bool"), []),
        *carried,
        *fixed,
        *(_empty_scan(node, t, trips, cond) for t in stacked_types),  # pyright: ignore[reportArgumentType]
    ]
    call = graph.add(core.CallOp(name, [graph.ssa(a) for a in initial], result_type)).result
    values: list[Value] = [
        graph.builder.tuple_get(call, k) for k in range(len(carried) + len(scans))
    ]
    return values[: len(carried)], values[len(carried) :]


class _CarriedRanksDiffer(OnnxUnsupportedError):  # noqa: N818  (Loop's signal to retry)
    """The body makes sequence `k` carried by a loop one of several ranks (a SequenceInsert
    of another rank): Loop imports it again with that sequence rank-erased (a loop of
    another converter reports it as unsupported)."""

    def __init__(self, node: Node, k: int):
        super().__init__(
            f"{node.where()}: loop-carried sequence {k} is given tensors of another rank"
        )
        self.k = k


def _scan_length(node: Node, accumulator: SSAValue, axis: int) -> Value:
    """The length of a scan output's axis (0-d int64): a constant, or read at run time."""
    length = tensor_shape(accumulator.type)[axis]  # pyright: ignore[reportArgumentType]
    if length != DYNAMIC:
        return np.array(length, np.int64)
    sizes = node.op("shape_of", accumulator, dtype="int64")
    return node.op("take", sizes, np.array(axis, np.int64))


def _empty_scan(node: Node, t: Attribute, trips: int | Value | None, cond: Value) -> Value:
    """A scan output's first accumulator: zeros, its scan axis as long as the iterations
    (the trip count, at least 0, when the condition is true; else none)."""
    shape, dtype = tensor_shape(t), numpy_dtype(tensor_dtype(t))  # pyright: ignore[reportArgumentType]
    if DYNAMIC not in shape:
        return np.zeros(shape, dtype)
    zero = np.array(0, np.int64)
    count = node.op("maximum", node.cast(trips, "int64"), zero)  # pyright: ignore[reportArgumentType]
    count = node.op("where", node.reshape(node.cast(cond, "bool"), []), count, zero)
    sizes = [node.reshape(count, [1]) if d == DYNAMIC else np.array([d], np.int64) for d in shape]
    return node.op("dyn.broadcast_to", np.zeros((), dtype), node.op("concatenate", sizes, axis=0))


def _bind_body(node: Node, body: Any, values: Sequence[Value]) -> None:  # noqa: ANN401
    """Binds the body's inputs and initializers in the graph's env."""
    from onnx import numpy_helper

    if len(body.input) != len(values):
        raise node.error(f"the body takes {len(body.input)} inputs, not {len(values)}")
    for vi, v in zip(body.input, values, strict=True):
        node.graph.env[vi.name] = v
    for init in body.initializer:
        node.graph.env[init.name] = numpy_helper.to_array(init)


def _run_body(node: Node, body: Any) -> list[Value]:  # noqa: ANN401
    """The body's nodes imported into the graph's current block; its outputs."""
    graph = node.graph
    for index, proto in enumerate(body.node):
        graph.convert(proto, index)
    outputs = []
    for vi in body.output:
        if vi.name not in graph.env:
            raise node.error(f"output '{vi.name}' of the body is never computed")
        outputs.append(graph.env[vi.name])
    return outputs


@converter("Loop")
def loop(node: Node) -> list[Value]:
    body = node.subgraph("body")
    carried = [node.required(k) for k in range(2, len(node.inputs))]
    if len(body.input) == 2 + len(carried):  # an empty sequence takes the body's type for it
        carried = [
            typed(node.graph, v, body.input[2 + k].type, f"loop-carried value {k}")
            for k, v in enumerate(carried)
        ]
    n_scans = len(body.output) - 1 - len(carried)
    if len(body.input) != 2 + len(carried) or n_scans < 0:
        raise node.error(
            f"the body takes {len(body.input)} inputs and computes {len(body.output)} outputs "
            f"for {len(carried)} loop-carried values"
        )
    trips = node.input(0)
    cond = node.input(1)
    if trips is not None and int(np.prod(node.shape(trips))) != 1:
        raise node.error(f"the trip count must have one element, not {node.shape(trips)}")
    if trips is not None and not isinstance(trips, np.ndarray):
        trips = node.reshape(node.cast(trips, "int64"), [])
    if isinstance(trips, np.ndarray):
        trips = max(int(trips.reshape(-1)[0]), 0)
    if n_scans and trips is None:
        raise node.unsupported("scan outputs of a Loop without a trip count (a while loop)")
    if isinstance(cond, np.ndarray) and not bool(cond.reshape(-1)[0]):
        trips = 0  # no iteration: the carried values as given, empty scan outputs
    cond = np.array(True) if cond is None else cond

    # an optional carried value whose body output is its value (ONNX's loop16_seq_none):
    # carried as the optional, the output wrapped in Some; the loop's result is the value
    wrapped: set[int] = set()

    def step(
        i: SSAValue, cond_in: SSAValue, values: list[Value]
    ) -> tuple[Value | None, list[Value], list[Value]]:
        _bind_body(node, body, [i, cond_in, *values])
        outputs = _run_body(node, body)
        for k, (v, y) in enumerate(zip(values, outputs[1 : 1 + len(carried)], strict=True)):
            if (
                isinstance(v, SSAValue)
                and is_optional(v.type)
                and isinstance(y, SSAValue)
                and is_sequence(y.type)
            ):
                outputs[1 + k] = some(node, y)
                wrapped.add(k)
        next_cond = outputs[0]
        keeps_going = next_cond is cond_in or (
            isinstance(next_cond, np.ndarray) and bool(next_cond.reshape(-1)[0])
        )
        if n_scans and not keeps_going:
            raise node.unsupported(
                "scan outputs of a Loop whose body computes its condition: their length is "
                "known only at run time (? dimensions across iterations are not imported yet)"
            )
        return next_cond, outputs[1 : 1 + len(carried)], outputs[1 + len(carried) :]

    scans = [_ScanOutput(0, reverse=False) for _ in range(n_scans)]
    graph = node.graph
    while True:
        functions, helpers = len(graph.functions), dict(graph.helpers)
        try:
            finals, stacked = _emit_loop(node, "onnx_loop", trips, cond, carried, body, scans, step)
            break
        except _CarriedRanksDiffer as e:  # again, with that sequence rank-erased
            del graph.functions[functions:]  # (the attempt's loops inside the body)
            graph.helpers = helpers
            wrapped.clear()
            carried[e.k] = erase_sequence(node, carried[e.k])
    finals = [get_element(node, v) if k in wrapped else v for k, v in enumerate(finals)]
    return [*finals, *stacked]


def _scan(
    node: Node,
    body: Any,  # noqa: ANN401
    states: list[Value],
    inputs: list[Value],
    input_axes: list[int],
    input_reverse: list[bool],
    scans: list[_ScanOutput],
) -> list[Value]:
    """One Scan (opset 9's form) over `inputs`: the final states, then the scan outputs."""
    lengths = {node.shape(x)[a] for x, a in zip(inputs, input_axes, strict=True)}
    if len(lengths) != 1:
        raise node.error(f"the scan inputs differ in length on their scan axes: {sorted(lengths)}")
    (trips,) = lengths
    if trips < 0:
        raise node.unsupported("a scan axis of ? length (the scan outputs' shape is static)")

    def step(
        i: SSAValue, _cond: SSAValue, values: list[Value]
    ) -> tuple[Value | None, list[Value], list[Value]]:
        elements = []
        for x, axis, reverse in zip(values[len(states) :], input_axes, input_reverse, strict=True):
            index: Value = i
            if reverse:
                index = node.op("subtract", np.array(trips - 1, np.int64), i)
            elements.append(node.op("take", x, index, axis=axis))
        _bind_body(node, body, [*values[: len(states)], *elements])
        outputs = _run_body(node, body)
        return None, outputs[: len(states)], outputs[len(states) :]

    finals, stacked = _emit_loop(
        node, "onnx_scan", trips, np.array(True), states, body, scans, step, inputs
    )
    return [*finals, *stacked]


@converter("Scan")
def scan(node: Node) -> list[Value]:
    body = node.subgraph("body")
    k = int(node.attr("num_scan_inputs"))
    first = 1 if node.opset < 9 else 0  # opset 8's sequence_lens
    operands = [node.required(j) for j in range(first, len(node.inputs))]
    n = len(operands) - k
    if n < 0 or len(body.input) != n + k or len(body.output) < n:
        raise node.error(
            f"{len(operands)} operands with num_scan_inputs={k} do not fit a body of "
            f"{len(body.input)} inputs and {len(body.output)} outputs"
        )
    n_out = len(body.output) - n
    states, inputs = operands[:n], operands[n:]
    if node.opset >= 9:
        given = node.attr("scan_input_axes", [0] * k)
        axes = [node.axis(a, node.rank(x)) for a, x in zip(given, inputs, strict=True)]
        reverse = [bool(d) for d in node.attr("scan_input_directions", [0] * k)]
        out_reverse = [bool(d) for d in node.attr("scan_output_directions", [0] * n_out)]
        scans = [
            _ScanOutput(int(a), out_reverse[j])
            for j, a in enumerate(node.attr("scan_output_axes", [0] * n_out))
        ]
        return _scan(node, body, states, inputs, axes, reverse, scans)
    # Opset 8: every operand has a batch axis first, the scan axis second; one scan per batch
    # element (the batch is static), stacked.
    lengths = node.input(0)
    if lengths is not None:
        lengths = node.const_input(0, "sequence_lens")
        full = {node.shape(x)[1] for x in inputs}
        if lengths is not None and not all(int(v) in full for v in lengths.reshape(-1)):
            raise node.unsupported("sequence_lens shorter than the scan axis")
    batch = node.shape(operands[0])[0]
    reverse = [bool(d) for d in node.attr("directions", [0] * k)]
    per_batch = []
    for b in range(batch):
        index = np.array(b, np.int64)
        pick = [node.op("take", x, index, axis=0) for x in operands]
        scans = [_ScanOutput(0, reverse=False) for _ in range(n_out)]
        per_batch.append(_scan(node, body, pick[:n], pick[n:], [0] * k, reverse, scans))
    return [node.op("stack", [r[j] for r in per_batch], axis=0) for j in range(n + n_out)]
