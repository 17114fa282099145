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

One axis given at run time (CumSum's, DFT's) picks among the results along every axis
(`by_axis`); Split's sizes at run time become run-time slices (`split_sizes`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.ir import Block, Region

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.types import DYNAMIC, tensor_dtype, tensor_shape, tensor_type
from relay_opt.frontends.onnx.importer import Node, OnnxImportError, Value


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


def _checked_slot(n: Node, at: Value, count: int) -> Value:
    """`at` ((1,) int64) as a scalar, read back from the slice [at, at + 1) of arange(count):
    outside [0, count) it is dyn.strided_slice's located bounds error at run time."""
    valid = n.op(
        "dyn.strided_slice", np.arange(count, dtype=np.int64), at, np.ones(1, np.int64), strides=[1]
    )
    return n.op("take", valid, np.array(0, np.int64))


def checked_axis(n: Node, axis: Value, rank: int, axes: list[int]) -> Value:
    """The position in `axes` of the axis given at run time (one value, a negative one
    counted from the end of `rank` axes); an axis not among `axes` is a located run-time
    error (`_checked_slot`)."""
    if n.shape(axis) not in ((), (1,)):
        raise n.error(f"the axis must hold one value, not shape {list(n.shape(axis))}")
    a = n.reshape(n.cast(axis, "int64"), [1])
    a = n.op("where", n.op("less", a, n.scalar(0, "int64")), n.op("add", a, n.scalar(rank, a)), a)
    if axes == list(range(len(axes))):
        return _checked_slot(n, a, len(axes))
    slot = np.full(rank, -1, np.int64)  # -1 for an axis not among them: out of bounds
    slot[axes] = np.arange(len(axes))
    at = n.op("take", slot, _checked_slot(n, a, rank))
    return _checked_slot(n, n.reshape(at, [1]), len(axes))


def by_axis(n: Node, axis: Value, rank: int, count: int, build: Callable[[int], Value]) -> Value:
    """`build(d)` for the axis d in [0, count) given at run time: a chain of `if (axis ==
    d) { build(d) } else { ... }`, each candidate built only inside its branch. A candidate
    that `build` refuses (an OnnxImportError) is left out, and naming it, or an axis
    outside [0, count), is a located run-time error (`checked_axis`). A result dim on which
    the candidates disagree is `?`."""
    graph = n.graph
    built: list[tuple[Block, dict, Value]] = []
    axes: list[int] = []
    refused: OnnxImportError | None = None
    for d in range(count):
        try:
            built.append(_built_apart(n, build, d))
            axes.append(d)
        except OnnxImportError as e:
            refused = refused or e
    if not built:
        raise refused or n.error("there is no axis to choose from")
    a = checked_axis(n, axis, rank, axes)
    if len(built) == 1:  # still an `if`, so the axis' check is used; its else repeats it
        built.append(built[0])
        built[0] = _built_apart(n, build, axes[0])
    conds = [n.op("equal", a, n.scalar(i, "int64")) for i in range(len(built) - 1)]
    shapes = [n.shape(v) for _, _, v in built]
    if len({len(s) for s in shapes}) != 1:
        raise n.error(f"the candidate axes give results of different ranks: {shapes}")
    shape = [s[0] if len(set(s)) == 1 else DYNAMIC for s in zip(*shapes, strict=True)]
    dtype = n.dtype(built[0][2])
    outer_block, outer_constants = graph.block, graph._materialized  # noqa: SLF001
    try:
        for block, constants, v in built:
            graph.block, graph._materialized = block, constants  # noqa: SLF001
            if list(n.shape(v)) != shape:  # typed with `?` dims, as the `if` is
                v = n.op("dyn.reshape", v, n.op("shape_of", v, dtype="int64"))
            graph.add(core.YieldOp(graph.ssa(v)))
    finally:
        graph.block, graph._materialized = outer_block, outer_constants  # noqa: SLF001
    result_type = tensor_type(shape, dtype)
    otherwise = built[-1][0]
    for i in range(len(built) - 2, 0, -1):
        op = core.IfOp(graph.ssa(conds[i]), result_type, Region(built[i][0]), Region(otherwise))
        otherwise = Block([op, core.YieldOp(op.result)])
    op = core.IfOp(graph.ssa(conds[0]), result_type, Region(built[0][0]), Region(otherwise))
    return graph.add(op).result


def _built_apart(n: Node, build: Callable[[int], Value], d: int) -> tuple[Block, dict, Value]:
    """build(d) in a block of its own (constants made there stay there: they would not
    dominate later uses)."""
    graph = n.graph
    outer_block, outer_constants = graph.block, graph._materialized  # noqa: SLF001
    graph.block, graph._materialized = Block(), dict(outer_constants)  # noqa: SLF001
    try:
        return graph.block, graph._materialized, build(d)  # noqa: SLF001
    finally:
        graph.block, graph._materialized = outer_block, outer_constants  # noqa: SLF001


def split_parts(n: Node, x: Value, axis: int, parts: int) -> list[Value]:
    """ONNX Split into `parts` outputs of a `?` axis of length L: parts of ceil(L / parts)
    elements, the last one what is left (ONNX's uneven split), sized at run time. Parts
    that cannot add up to L (5 in 4 parts: 2, 2, 1 and -1) fail split_sizes' element count
    check, as they are an import error for a static axis."""
    length = n.op("take", _sizes(n, x), np.array(axis, np.int64))
    chunk = n.op(
        "floor_divide",
        n.op("add", length, np.array(parts - 1, np.int64)),
        np.array(parts, np.int64),
    )
    before = n.op("multiply", np.arange(parts, dtype=np.int64), chunk)
    sizes = n.op("minimum", chunk, n.op("subtract", length, before))
    return split_sizes(n, x, axis, sizes)


def split_sizes(n: Node, x: Value, axis: int, sizes: Value) -> list[Value]:
    """ONNX Split whose part sizes are known only at run time: one part per output, each a
    `dyn.strided_slice` at the sum of the sizes before it (every dim `?`). Sizes that do not
    add up to the axis are dyn.reshape's element-count error (x reshaped to that sum along
    the axis first); a negative size is the slice's bounds error."""
    count = n.num_outputs
    if n.shape(sizes) != (count,):
        raise n.error(
            f"split must hold one size per output ({count}), not shape {list(n.shape(sizes))}"
        )
    rank = n.rank(x)
    sizes = n.cast(sizes, "int64")
    along = np.eye(rank, dtype=np.int64)[axis]
    dims = _sizes(n, x)
    x = n.op("dyn.reshape", x, n.op("where", along.astype(bool), n.op("sum", sizes), dims))
    # begins[i] = sizes[0] + ... + sizes[i - 1]
    before = np.tril(np.ones((count, count), np.int64), -1)
    begins = n.op("sum", n.op("multiply", before, n.reshape(sizes, [1, count])), axis=[1])
    parts = []
    for i in range(count):
        at = np.array(i, np.int64)
        begin = n.op("multiply", along, n.op("take", begins, at))
        size = n.op("where", along.astype(bool), n.op("take", sizes, at), dims)
        parts.append(n.op("dyn.strided_slice", x, begin, size, strides=[1] * rank))
    return parts
