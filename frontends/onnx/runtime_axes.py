"""ONNX axes given as a tensor computed at run time (Reduce*'s, Squeeze's and Unsqueeze's
`axes` input). The axes' count is their tensor's static length, so the result's rank is
known while importing; which axes they are is not, so the affected sizes are `?` dims
(docs/native-dynamic-shapes.md).

A reduction runs one axis at a time: `if (axis d is named) { reduce(x, axis=[d],
keepdims=True) } else { x }` for each axis d of the data (an axis of static size 1 is left
alone: reducing it changes nothing), which is exact for sum, mean, max, min and prod since
reducing axis by axis gives the same result. Dropping the reduced axes (keepdims=0),
Squeeze and Unsqueeze reshape with `dyn.reshape` to sizes computed from the data's
(`shape_of` when it has `?` dims) and the per-axis counts, with small int64 tensor
operators.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.ir import Block, Region

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.types import DYNAMIC, tensor_dtype, tensor_shape, tensor_type
from relay_opt.frontends.onnx.importer import Node, Value


def is_run_time(n: Node, axes: Value | None) -> bool:
    """Whether `axes` is a tensor known only at run time (1-D of static length)."""
    if axes is None or isinstance(axes, np.ndarray):
        return False
    if n.rank(axes) != 1 or DYNAMIC in n.shape(axes):
        raise n.error(f"the axes must be 1-D of static length, not {n.shape(axes)}")
    return True


def axis_counts(n: Node, axes: Value, rank: int) -> Value:
    """(rank,) int64: how many of `axes` name each axis (a negative one counts from the
    end). An axis out of [-rank, rank) names none."""
    a = n.cast(axes, "int64")
    a = n.op("where", n.op("less", a, n.scalar(0, "int64")), n.op("add", a, n.scalar(rank, a)), a)
    named = n.op("equal", n.reshape(a, [-1, 1]), np.arange(rank, dtype=np.int64).reshape(1, -1))
    return n.op("sum", n.cast(named, "int64"), axis=[0])


def _sizes(n: Node, x: Value) -> Value:
    shape = n.shape(x)
    if DYNAMIC in shape:
        return n.op("shape_of", x, dtype="int64")
    return np.array(shape, np.int64)


def _positions(n: Node, keep_row: Value) -> Value:
    """(rank,) int64: for each axis, how many kept axes come before it or are it (a running
    sum of `keep_row`, (1, rank) of 0 or 1; a lower-triangular product: Relay has no cumsum)."""
    rank = n.shape(keep_row)[1]
    below = np.tril(np.ones((rank, rank), np.int64))
    return n.op("sum", n.op("multiply", below, keep_row), axis=[1])


def kept_sizes(n: Node, x: Value, counts: Value, count: int) -> Value:
    """(count,) int64: the sizes of x's axes that `counts` does not name, in order."""
    rank = n.rank(x)
    keep = n.reshape(n.cast(n.op("equal", counts, n.scalar(0, "int64")), "int64"), [1, rank])
    slot = n.op("subtract", _positions(n, keep), n.scalar(1, "int64"))
    pick = n.op("equal", n.reshape(slot, [1, rank]), np.arange(count, dtype=np.int64)[:, None])
    pick = n.op("multiply", n.cast(pick, "int64"), keep)
    return n.op("sum", n.op("multiply", pick, n.reshape(_sizes(n, x), [1, rank])), axis=[1])


def _if(
    n: Node, cond: Value, then: Callable[[], Value], otherwise: Value, shape: list[int]
) -> Value:
    """`if (cond) { then() } else { otherwise }` typed `shape` (with `?` dims where the
    branches' sizes differ); `then` is built inside its branch."""
    graph = n.graph
    regions = []
    for build in (then, lambda: otherwise):
        outer_block, outer_constants = graph.block, graph._materialized  # noqa: SLF001
        # (constants made inside a branch stay there: they would not dominate later uses)
        graph.block, graph._materialized = Block(), dict(outer_constants)  # noqa: SLF001
        try:
            graph.add(core.YieldOp(graph.ssa(build())))
            regions.append(Region(graph.block))
        finally:
            graph.block, graph._materialized = outer_block, outer_constants  # noqa: SLF001
    result_type = tensor_type(shape, tensor_dtype(graph.ssa(otherwise).type))  # pyright: ignore[reportArgumentType]
    return graph.add(core.IfOp(graph.ssa(cond), result_type, *regions)).result


def reduce_kept(n: Node, relay_op: str, x: Value, counts: Value) -> Value:
    """`relay_op` over the axes `counts` names, keepdims=True: one `if` per axis that is not
    of static size 1, so the result's reducible dims are `?` (1 or the size, at run time)."""
    out = x
    for d, size in enumerate(n.shape(x)):
        if size == 1:
            continue
        named = n.op("greater", n.op("take", counts, np.array(d, np.int64)), n.scalar(0, "int64"))
        shape = list(tensor_shape(n.graph.ssa(out).type))  # pyright: ignore[reportArgumentType]
        shape[d] = DYNAMIC
        out = _if(n, named, _reducer(n, relay_op, out, d), out, shape)
    return out


def _reducer(n: Node, relay_op: str, x: Value, d: int) -> Callable[[], Value]:
    def build() -> Value:
        out = n.op(relay_op, x, axis=[d], keepdims=True)
        # typed with `?` dims (the `if`'s branches must have one type; the other is x's size)
        return n.op("dyn.reshape", out, n.op("shape_of", out, dtype="int64"))

    return build


def drop_named(n: Node, out: Value, counts: Value, count: int) -> Value:
    """`out` without the `count` axes `counts` names (each of size 1 in `out`)."""
    return n.op("dyn.reshape", out, kept_sizes(n, out, counts, n.rank(out) - count))


def unsqueezed(n: Node, x: Value, axes: Value) -> Value:
    """x with a 1 inserted at each of the run-time `axes` (counted in the result's rank)."""
    count = n.shape(axes)[0]
    rank = n.rank(x) + count
    if n.rank(x) == 0:  # every result dim is 1, whichever the axes are
        return n.reshape(x, [1] * count)
    inserted = n.op("greater", axis_counts(n, axes, rank), n.scalar(0, "int64"))
    keep = n.reshape(n.cast(n.op("logical_not", inserted), "int64"), [1, rank])
    # a kept result axis takes the size of the data axis its running count names
    source = n.op("subtract", _positions(n, keep), n.scalar(1, "int64"))
    sizes = n.op("take", _sizes(n, x), source, axis=0, mode="clip")
    return n.op("dyn.reshape", x, n.op("where", inserted, n.scalar(1, "int64"), sizes))


def sliced(n: Node, x: Value, starts: Value, ends: Value, axes: Value, steps: Value) -> Value:
    """ONNX Slice whose axes or steps (any of its inputs) are known only at run time: each
    axis of x gathers `arange(begin, end, step)` of its clamped bounds (`take`), the bounds
    picked from the entry that names the axis (0, its size and 1 when none does). A step of
    0 is arange's located run-time error."""
    rank = n.rank(x)
    count = n.shape(starts)[0]
    for what, v in (("ends", ends), ("axes", axes), ("steps", steps)):
        if n.shape(v) != (count,):
            raise n.error(f"starts and {what} must be 1-D of the same length, not {n.shape(v)}")
    axes = n.cast(axes, "int64")
    axes = n.op(
        "where",
        n.op("less", axes, n.scalar(0, "int64")),
        n.op("add", axes, n.scalar(rank, axes)),
        axes,
    )
    sizes = _sizes(n, x)
    zero, one = n.scalar(0, "int64"), n.scalar(1, "int64")
    out = x
    for d in range(rank):
        named = n.op("equal", axes, n.scalar(d, "int64"))  # (count,) the entry for axis d
        given = n.op("greater", n.op("sum", n.cast(named, "int64")), zero)

        def entry(v: Value, default: Value, named: Value = named, given: Value = given) -> Value:
            picked = n.op("sum", n.op("where", named, n.cast(v, "int64"), zero))
            return n.op("where", given, picked, default)

        dim = n.op("take", sizes, np.array(d, np.int64))
        step = entry(steps, one)
        begin, end = entry(starts, zero), entry(ends, dim)
        begin, end = (
            n.op("where", n.op("less", v, zero), n.op("add", v, dim), v) for v in (begin, end)
        )
        # ONNX's clamping: [0, dim] going forward; [0, dim - 1] and [-1, dim - 1] backward
        back = n.op("less", step, zero)
        last = n.op("subtract", dim, one)
        high = n.op("where", back, last, dim)
        begin = n.op("minimum", n.op("maximum", begin, zero), high)
        end = n.op(
            "minimum", n.op("maximum", end, n.op("where", back, n.scalar(-1, "int64"), zero)), high
        )
        out = n.op("take", out, n.op("arange", begin, end, step, dtype="int64"), axis=d)
    return out


def run_time_scalar(n: Node, v: Value, what: str) -> Value:
    """A one-element size tensor (a scalar or [1], as ONNX's tests give them) as an int64
    0-d value."""
    if DYNAMIC in n.shape(v) or int(np.prod(n.shape(v))) != 1:
        raise n.error(f"{what} must hold one value, got shape {list(n.shape(v))}")
    return n.reshape(n.cast(v, "int64"), [])


def counted(n: Node, count: Value) -> Value:
    """(count,) int64: 0, 1, ..., count - 1 for a 0-d int64 count read at run time; a negative
    count is dyn.reshape's located run-time error (arange alone would give no elements)."""
    zero, one = n.scalar(0, "int64"), n.scalar(1, "int64")
    return n.op(
        "dyn.reshape", n.op("arange", zero, count, one, dtype="int64"), n.reshape(count, [1])
    )
