"""ONNX's indexing operators as gathers from a flattened tensor.

Relay has `take` but no scatter or sort. A gather at computed coordinates is a
`take` from the flat tensor at the flat offset (GatherND). A scatter whose
indices are known while importing (ScatterElements, ScatterND; ONNX's backend
binds index inputs as constants) is a gather too: for each output element the
list of updates that land on it is known, so the result is `data` where none
lands and the reduction of the gathered updates where some do. TopK ranks every
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
    idx = _indices(n)
    shape = n.shape(data)
    axis = n.axis(n.attr("axis", 0), len(shape))
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
    x = n.required(0)
    condition = np.asarray(n.const_input(1, "condition")).astype(bool).reshape(-1)
    axis = n.attr("axis")
    if axis is None:
        x, axis = _flat(n, x), 0
    axis = n.axis(axis, n.rank(x))
    kept = np.nonzero(condition[: n.shape(x)[axis]])[0].astype(np.int64)
    return n.op("take", x, kept, axis=axis)


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
