"""ONNX's indexing operators as gathers from a flattened tensor.

Relay has `take` but no scatter or sort. A gather at computed coordinates is a
`take` from the flat tensor at the flat offset (GatherND). A scatter whose
indices are known while importing (ScatterElements, ScatterND; ONNX's backend
binds index inputs as constants) is a gather too: for each output element the
list of updates that land on it is known, so the result is `data` where none
lands and the reduction of the gathered updates where some do; with indices known only at
run time every element compares its position with each index that could name it. Compress
with a run-time condition gathers the positions of its true entries (`unique`). TopK ranks every
element against every other along the axis (O(n²) comparisons) and gathers by
rank, which keeps ONNX's order for ties (the lower index first).
ReverseSequence is Relay's `reverse_sequence`, a gather at a computed index.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from relay_opt.dialects.relay.types import DYNAMIC
from relay_opt.frontends.onnx.importer import Node, Value, converter
from relay_opt.frontends.onnx.runtime_axes import counted


def _flat(n: Node, x: Value) -> Value:
    return n.reshape(x, [int(np.prod(n.shape(x)))])


def _wrap_negative(n: Node, idx: Value, dims: np.ndarray | int) -> Value:
    """Negative indices count from the end."""
    if isinstance(idx, np.ndarray):
        return np.where(idx < 0, idx + dims, idx)
    return n.op(
        "where",
        n.op("less", idx, n.scalar(0, idx)),
        n.op("add", idx, n.cast(np.asarray(dims), n.dtype(idx))),
        idx,
    )


@converter("GatherND")
def gather_nd(n: Node) -> Value:
    x, idx = n.required(0), n.cast(n.required(1), "int64")
    shape, ishape = n.shape(x), n.shape(idx)
    b = n.attr("batch_dims", 0)
    k = ishape[-1]
    if not 0 <= b < len(ishape) or b + k > len(shape):
        raise n.error(f"batch_dims {b} and index length {k} do not fit data of rank {len(shape)}")
    indexed = shape[b : b + k]
    rest = list(shape[b + k :])
    # flat = (batch offset) + sum_j idx_j * stride_j
    # over the flattened [batch..., indexed..., rest...]
    inner = int(np.prod(indexed))
    strides = np.array([int(np.prod(indexed[j + 1 :])) for j in range(k)], np.int64)
    idx = _wrap_negative(n, idx, np.array(indexed, np.int64))
    offset = n.op("sum", n.op("multiply", idx, strides), axis=[len(ishape) - 1], keepdims=False)
    batch_shape = ishape[:-1]
    if b:
        grids = np.indices(ishape[:b], dtype=np.int64)
        batch_flat = sum(
            (grids[j] * int(np.prod(ishape[j + 1 : b])) for j in range(b)),
            np.zeros(ishape[:b], np.int64),
        )
        batch_offset = (batch_flat * inner).reshape(list(ishape[:b]) + [1] * (len(batch_shape) - b))
        offset = n.op("add", offset, batch_offset)
    table = n.reshape(x, [int(np.prod(shape[:b])) * inner, *rest])
    return n.op("take", table, offset, axis=0)


@converter("ReverseSequence")
def reverse_sequence(n: Node) -> Value:
    # ONNX's defaults are not Relay's (seq_axis=1, batch_axis=0): time_axis=0, batch_axis=1.
    x, lengths = n.required(0), n.required(1)
    return n.op(
        "reverse_sequence",
        x,
        lengths,
        seq_axis=int(n.attr("time_axis", 0)),
        batch_axis=int(n.attr("batch_axis", 1)),
    )


# -- scatters ---------------------------------------------------------------------------------


def _indices(n: Node) -> np.ndarray:
    """A scatter's indices (input 1), known while importing."""
    idx = n.const_input(1, "indices")
    if idx is None:
        raise n.error("input 1 (indices) is required")
    return idx.astype(np.int64)


def _scatter(n: Node, data: Value, updates: Value, targets: np.ndarray) -> Value:
    """data with updates[u] combined into data.flat[targets[u]] by the node's reduction."""
    size = int(np.prod(n.shape(data)))
    targets = targets.reshape(-1)
    if targets.size and (targets.min() < 0 or targets.max() >= size):
        raise n.error("an index is out of range")
    reduction = n.attr("reduction", "none")
    if reduction not in ("none", "add", "mul", "max", "min"):
        raise n.error(f"unknown reduction '{reduction}'")
    flat_updates = _flat(n, updates)
    hit = np.zeros(size, bool)
    hit[targets] = True
    if reduction == "none":
        # The last update to reach an element wins (ONNX leaves duplicates undefined).
        source = np.zeros(size, np.int64)
        source[targets] = np.arange(targets.size)
        picked = n.op("take", flat_updates, source, axis=0)
        return n.reshape(n.op("where", hit, picked, _flat(n, data)), n.shape(data))
    # Each element's updates, padded to the largest count with a neutral element appended
    # after the updates; reduced over the padding axis, then combined with the data.
    counts = np.bincount(targets, minlength=size)
    depth = int(counts.max()) if targets.size else 0
    if depth == 0:
        return data
    neutral = {"add": 0, "mul": 1, "max": -np.inf, "min": np.inf}[reduction]
    dtype = n.dtype(data)
    if reduction in ("max", "min") and not dtype.startswith("float"):
        info = np.iinfo(np.dtype(n.scalar(0, data).dtype))
        neutral = info.min if reduction == "max" else info.max
    lists = np.full((size, depth), targets.size, np.int64)
    fill = np.zeros(size, np.int64)
    for u, t in enumerate(targets):
        lists[t, fill[t]] = u
        fill[t] += 1
    padded = n.op("concatenate", [flat_updates, n.scalar(neutral, data).reshape(1)], axis=0)
    gathered = n.op("take", padded, lists, axis=0)
    combine = {
        "add": ("sum", "add"),
        "mul": ("prod", "multiply"),
        "max": ("max", "maximum"),
        "min": ("min", "minimum"),
    }[reduction]
    reduced = n.op(combine[0], gathered, axis=[1], keepdims=False)
    flat_data = _flat(n, data)
    return n.reshape(
        n.op("where", hit, n.op(combine[1], flat_data, reduced), flat_data), n.shape(data)
    )


@converter("ScatterElements", "Scatter")
def scatter_elements(n: Node) -> Value:
    data, updates = n.required(0), n.required(2)
    shape = n.shape(data)
    axis = n.axis(n.attr("axis", 0), len(shape))
    if not isinstance(n.required(1), np.ndarray):
        return _scatter_elements_at_run_time(n, data, n.required(1), updates, axis)
    idx = _indices(n)
    if idx.shape != tuple(n.shape(updates)):
        raise n.error(f"indices {idx.shape} and updates {tuple(n.shape(updates))} differ in shape")
    idx = np.where(idx < 0, idx + shape[axis], idx)
    if ((idx < 0) | (idx >= shape[axis])).any():
        raise n.error("an index is out of range")
    grids = np.indices(idx.shape, dtype=np.int64)
    coords = [grids[j] for j in range(idx.ndim)]
    coords[axis] = idx
    return _scatter(
        n,
        data,
        updates,
        np.asarray(np.ravel_multi_index(tuple(coords), shape)) if idx.size else idx,
    )


@converter("ScatterND")
def scatter_nd(n: Node) -> Value:
    data, updates = n.required(0), n.required(2)
    if not isinstance(n.required(1), np.ndarray):
        return _scatter_nd_at_run_time(n, data, n.required(1), updates)
    idx = _indices(n)
    shape = n.shape(data)
    k = idx.shape[-1]
    if k > len(shape):
        raise n.error(f"index length {k} exceeds the data's rank {len(shape)}")
    indexed = np.array(shape[:k], np.int64)
    idx = np.where(idx < 0, idx + indexed, idx)
    if ((idx < 0) | (idx >= indexed)).any():
        raise n.error("an index is out of range")
    rest = int(np.prod(shape[k:]))
    starts = (
        np.ravel_multi_index(tuple(idx[..., j] for j in range(k)), tuple(shape[:k])) * rest
        if k
        else np.zeros(idx.shape[:-1], np.int64)
    )
    targets = starts[..., None] + np.arange(rest, dtype=np.int64)
    return _scatter(n, data, updates, targets)


# Indices known only at run time: no list of updates per element can be made while importing,
# so every element compares its position with every index that could name it (the updates
# along the axis for ScatterElements, all of them for ScatterND) and reduces the matches.
# That costs (elements x candidates) comparisons and memory; an index outside the data is a
# located run-time error (`_in_range`), and nothing is ever written but the result.


def _in_range(n: Node, idx: Value, dim: int) -> Value:
    """idx (int64, negative ones already wrapped) read back through the slice of arange(dim)
    that its values span: one outside [0, dim) is dyn.strided_slice's bounds error."""
    if 0 in n.shape(idx):
        return idx
    low = n.reshape(n.op("min", idx), [1])
    count = n.op("add", n.op("subtract", n.reshape(n.op("max", idx), [1]), low), n.scalar(1, idx))
    span = n.op("dyn.strided_slice", np.arange(dim, dtype=np.int64), low, count, strides=[1])
    return n.op("take", span, n.op("subtract", idx, low))


def _combine_matches(
    n: Node, data: Value, hits: Value, updates: Value, over: int, order: np.ndarray
) -> Value:
    """data with the updates that `hits` matches to each element (along axis `over` of the
    broadcast of hits and updates; `order` numbers the updates there) combined by the node's
    reduction; the last matching update wins without one."""
    reduction = n.attr("reduction", "none")
    neutral = {"none": 0, "add": 0, "mul": 1, "max": -np.inf, "min": np.inf}.get(reduction)
    if neutral is None:
        raise n.error(f"unknown reduction '{reduction}'")
    if reduction in ("max", "min") and not n.dtype(data).startswith("float"):
        info = np.iinfo(np.dtype(n.scalar(0, data).dtype))
        neutral = info.min if reduction == "max" else info.max
    hit = n.op("greater", n.op("sum", n.cast(hits, "int64"), axis=[over]), n.scalar(0, "int64"))
    if reduction == "none":
        last = n.op("max", n.op("where", hits, order, n.scalar(-1, "int64")), axis=[over])
        hits = n.op("equal", order, n.op("expand_dims", last, axis=over))
    matched = n.op("where", hits, updates, n.scalar(neutral, data))
    reducer, combine = {
        "none": ("sum", None),
        "add": ("sum", "add"),
        "mul": ("prod", "multiply"),
        "max": ("max", "maximum"),
        "min": ("min", "minimum"),
    }[reduction]
    reduced = n.op(reducer, matched, axis=[over])
    return n.op("where", hit, reduced if combine is None else n.op(combine, data, reduced), data)


def _scatter_elements_at_run_time(
    n: Node, data: Value, idx: Value, updates: Value, axis: int
) -> Value:
    shape, ishape = n.shape(data), n.shape(idx)
    rank = len(shape)
    if ishape != n.shape(updates) or len(ishape) != rank:
        raise n.error(
            f"indices {list(ishape)} and updates {list(n.shape(updates))} must have one shape "
            f"of the data's rank {rank}"
        )
    if DYNAMIC in shape or DYNAMIC in ishape:
        raise n.unsupported("run-time indices with ? dims")
    if any(ishape[d] > shape[d] for d in range(rank) if d != axis):
        raise n.error(f"indices {list(ishape)} do not fit the data {list(shape)} off the axis")
    size = shape[axis]
    idx = _in_range(n, _wrap_negative(n, n.cast(idx, "int64"), size), size)
    # Indices and updates padded to the data's extent off the axis; padded indices name no
    # position (size is past the end).
    widths = [[0, 0 if d == axis else shape[d] - ishape[d]] for d in range(rank)]
    if any(w[1] for w in widths):
        idx = n.op("nn.pad", idx, n.scalar(size, "int64"), pad_width=widths)
        updates = n.op("nn.pad", updates, n.scalar(0, updates), pad_width=widths)
    moved_idx = _moved(n, idx, axis, to_last=True)  # [..., J]
    moved_updates = _moved(n, updates, axis, to_last=True)
    count = ishape[axis]
    positions = np.arange(size, dtype=np.int64).reshape(size, 1)
    hits = n.op("equal", n.op("expand_dims", moved_idx, axis=rank - 1), positions)  # [..., K, J]
    out = _combine_matches(
        n,
        _moved(n, data, axis, to_last=True),
        hits,
        n.op("expand_dims", moved_updates, axis=rank - 1),
        rank,
        np.arange(count, dtype=np.int64),
    )
    return _moved(n, out, axis, to_last=False)


def _scatter_nd_at_run_time(n: Node, data: Value, idx: Value, updates: Value) -> Value:
    shape, ishape = n.shape(data), n.shape(idx)
    if DYNAMIC in shape or DYNAMIC in ishape or not ishape:
        raise n.unsupported("run-time indices with ? dims or of rank 0")
    k = ishape[-1]
    if k > len(shape):
        raise n.error(f"index length {k} exceeds the data's rank {len(shape)}")
    lead, rest = list(ishape[:-1]), list(shape[k:])
    if list(n.shape(updates)) != lead + rest:
        raise n.error(f"updates {list(n.shape(updates))} must have shape {lead + rest}")
    count, cells, width = int(np.prod(lead)), int(np.prod(shape[:k])), int(np.prod(rest))
    idx = n.reshape(n.cast(idx, "int64"), [count, k])
    position: Value = np.zeros(count, np.int64)
    for j in range(k):  # each coordinate checked against its own axis
        coord = n.op("take", idx, np.array(j, np.int64), axis=1)
        coord = _in_range(n, _wrap_negative(n, coord, shape[j]), shape[j])
        stride = int(np.prod(shape[j + 1 : k]))
        position = n.op("add", position, n.op("multiply", coord, n.scalar(stride, "int64")))
    cell = np.arange(cells, dtype=np.int64).reshape(cells, 1, 1)
    hits = n.op("equal", n.reshape(position, [1, count, 1]), cell)  # [cells, count, 1]
    out = _combine_matches(
        n,
        n.reshape(data, [cells, width]),
        hits,
        n.reshape(updates, [1, count, width]),
        1,
        np.arange(count, dtype=np.int64).reshape(1, count, 1),
    )
    return n.reshape(out, shape)


# -- TopK -------------------------------------------------------------------------------------


def _moved(n: Node, x: Value, axis: int, to_last: bool) -> Value:
    rank = n.rank(x)
    if axis == rank - 1:
        return x
    perm = (
        [a for a in range(rank) if a != axis] + [axis]
        if to_last
        else list(range(axis)) + [rank - 1] + list(range(axis, rank - 1))
    )
    return n.op("transpose", x, axes=perm)


@converter("TopK")
def topk(n: Node) -> Sequence[Value]:
    x = n.required(0)
    shape = n.shape(x)
    axis = n.axis(n.attr("axis", -1), len(shape))
    size = shape[axis]
    if DYNAMIC in shape:
        raise n.unsupported("data with ? dims")
    given = n.input(1) if n.opset >= 10 else None
    if given is None or isinstance(given, np.ndarray):
        k = int(n.attr("k")) if given is None else int(np.asarray(given).reshape(-1)[0])
        if not 0 <= k <= size:
            raise n.error(f"k = {k} for an axis of length {size}")
    else:
        # k read at run time: rank the whole axis, then keep the first k (a `?` dim; the
        # slice's bounds check makes a k outside [0, size] a located run-time error).
        if n.shape(given) not in ((), (1,)):
            raise n.error(f"k must hold one value, got shape {list(n.shape(given))}")
        k = size
    # sorted=0 allows any order: the sorted one serves.
    largest = bool(n.attr("largest", 1))
    xl = _moved(n, x, axis, to_last=True)  # [..., size]
    lead = list(n.shape(xl)[:-1])
    a = n.op("expand_dims", xl, axis=len(lead) + 1)  # [..., size, 1]: element i
    b = n.op("expand_dims", xl, axis=len(lead))  # [..., 1, size]: element j
    before = n.op("greater" if largest else "less", b, a)
    order = np.arange(size)
    tie = np.less.outer(order, order).T  # [i, j]: j < i
    ahead = n.op("logical_or", before, n.op("logical_and", n.op("equal", b, a), tie))
    rank = n.op("sum", n.cast(ahead, "int64"), axis=[len(lead) + 1], keepdims=False)  # [..., size]
    # The element of rank p goes to output position p < k.
    positions = np.arange(k, dtype=np.int64).reshape(k, 1)
    chosen = n.op("equal", n.op("expand_dims", rank, axis=len(lead)), positions)  # [..., k, size]
    indices = n.op(
        "sum",
        n.op("multiply", n.cast(chosen, "int64"), order.astype(np.int64)),
        axis=[len(lead) + 1],
        keepdims=False,
    )  # [..., k]
    rows = int(np.prod(lead))
    offsets = (
        (np.arange(rows, dtype=np.int64) * size).reshape(lead + [1])
        if lead
        else np.array(0, np.int64)
    )
    values = n.op("take", _flat(n, xl), n.op("add", indices, offsets), axis=0)
    if given is not None and not isinstance(given, np.ndarray):
        begin = np.zeros(len(shape), np.int64)
        count = n.op(
            "concatenate", [np.array(lead, np.int64), n.reshape(n.cast(given, "int64"), [1])]
        )
        values = n.op("dyn.strided_slice", values, begin, count, strides=[1] * len(shape))
        indices = n.op("dyn.strided_slice", indices, begin, count, strides=[1] * len(shape))
    return [_moved(n, values, axis, to_last=False), _moved(n, indices, axis, to_last=False)]


# -- shape-known operators --------------------------------------------------------------------


@converter("Compress")
def compress(n: Node) -> Value:
    x, given = n.required(0), n.required(1)
    axis = n.attr("axis")
    if axis is None:
        x, axis = _flat(n, x), 0
    axis = n.axis(axis, n.rank(x))
    size = n.shape(x)[axis]
    if not isinstance(given, np.ndarray):
        return n.op("take", x, _true_positions(n, given, size), axis=axis)
    condition = given.astype(bool).reshape(-1)
    kept = np.nonzero(condition[:size])[0].astype(np.int64)
    return n.op("take", x, kept, axis=axis)


def _true_positions(n: Node, condition: Value, size: int) -> Value:
    """(?,) int64: where a condition known only at run time is true among its first `size`
    entries (as many as it has true ones): `unique` of the positions, those of the false
    entries replaced by `size` (so they sort last, as one value), cut at the count of true."""
    if n.rank(condition) != 1 or DYNAMIC in n.shape(condition):
        raise n.error(f"the condition must be 1-D of static length, not {n.shape(condition)}")
    length = min(n.shape(condition)[0], size)
    if length < n.shape(condition)[0]:  # entries past the axis select nothing
        condition = n.op("strided_slice", condition, begin=[0], end=[length], strides=[1])
    true = n.op("not_equal", condition, n.scalar(0, condition))
    marked = n.op("where", true, np.arange(length, dtype=np.int64), n.scalar(size, "int64"))
    if length == 0:
        return marked
    distinct = n.tuple_get(n.op("unique", marked, sorted=True), 0)
    count = n.reshape(n.op("sum", n.cast(true, "int64")), [1])
    return n.op("dyn.strided_slice", distinct, np.zeros(1, np.int64), count, strides=[1])


@converter("NonZero")
def nonzero(n: Node) -> Value:
    """[rank, ?] int64: the indices of the nonzero elements in row-major order, one row per
    axis: the flat positions `_true_positions` finds, unravelled by each axis's stride."""
    x = n.required(0)
    shape = n.shape(x)
    if not shape or DYNAMIC in shape:
        raise n.unsupported(f"an input of shape {list(shape)} (0-d, or ? dims)")
    if isinstance(x, np.ndarray):
        return np.array(np.nonzero(x), dtype=np.int64).reshape(len(shape), -1)
    size = int(np.prod(shape))
    flat = _true_positions(n, n.reshape(x, [size]), size)
    strides = np.cumprod((shape[1:] + (1,))[::-1])[::-1]
    rows = []
    for stride, dim in zip(strides.tolist(), shape, strict=True):
        index = n.op(
            "mod", n.op("floor_divide", flat, n.scalar(stride, "int64")), n.scalar(dim, "int64")
        )
        rows.append(n.op("expand_dims", index, axis=0))
    return rows[0] if len(rows) == 1 else n.op("concatenate", rows, axis=0)


@converter("EyeLike")
def eye_like(n: Node) -> Value:
    from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
    from relay_opt.frontends.onnx.importer import relay_dtype_of

    x = n.required(0)
    shape = n.shape(x)
    if len(shape) != 2:
        raise n.error(f"the input must be 2-d, not rank {len(shape)}")
    dtype = relay_dtype_of(n.attr("dtype"), n.where()) if n.has_attr("dtype") else n.dtype(x)
    return np.eye(shape[0], shape[1], k=int(n.attr("k", 0)), dtype=numpy_dtype(dtype))


@converter("CenterCropPad")
def center_crop_pad(n: Node) -> Value:
    x = n.required(0)
    shape = list(n.shape(x))
    axes = [n.axis(a, len(shape)) for a in n.attr("axes", list(range(len(shape))))]
    given = n.required(1)
    if n.shape(given) != (len(axes),):
        raise n.error(
            f"shape {list(n.shape(given))} does not give one size for each of {len(axes)} axes"
        )
    if not isinstance(given, np.ndarray):
        return _center_crop_pad_at_run_time(n, x, given, axes)
    target = [int(v) for v in given.reshape(-1)]
    for axis, want in zip(axes, target, strict=True):
        have = shape[axis]
        if want < have:  # crop: the start rounds down
            start = (have - want) // 2
            x = n.op(
                "strided_slice", x, begin=[start], end=[start + want], strides=[1], axes=[axis]
            )
        elif want > have:  # pad: the extra before rounds down
            before = (want - have) // 2
            pads = [[0, 0] for _ in shape]
            pads[axis] = [before, want - have - before]
            x = n.op("nn.pad", x, n.scalar(0, x), pad_width=pads)
        shape[axis] = want
    return x


def _center_crop_pad_at_run_time(n: Node, x: Value, target: Value, axes: list[int]) -> Value:
    """Sizes read at run time: each axis gathers its output position i from i + offset,
    (have - want) // 2 when cropping and -((want - have) // 2) when padding, with zeros
    outside the data; the axis becomes `?` (a negative size is a located run-time error)."""
    shape = n.shape(x)
    if DYNAMIC in shape or 0 in shape:
        raise n.unsupported("a run-time shape for data with ? or empty dims")
    target = n.cast(target, "int64")
    zero = n.scalar(0, "int64")
    two = n.scalar(2, "int64")
    for k, a in enumerate(axes):
        want = n.op("take", target, np.array(k, np.int64))
        have = n.scalar(shape[a], "int64")
        crop = n.op("floor_divide", n.op("subtract", have, want), two)
        pad = n.op("negative", n.op("floor_divide", n.op("subtract", want, have), two))
        offset = n.op("where", n.op("less", want, have), crop, pad)
        i = n.op("add", counted(n, want), offset)
        x = n.op("take", x, i, axis=a, mode="clip")
        inside = n.op("logical_and", n.op("greater_equal", i, zero), n.op("less", i, have))
        if a < len(shape) - 1:
            inside = n.op("expand_dims", inside, axis=1, num_newaxis=len(shape) - 1 - a)
        x = n.op("where", inside, x, n.scalar(0, x))
    return x
