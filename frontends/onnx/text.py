"""ONNX's TfIdfVectorizer, as Relay: on integer tokens, and on string tokens numbered by
their place in the pool (strings.label_encode, then the same integer path).

The pool of n-grams is an attribute, so it is known while importing. ONNX's reference walks a
trie of the pool from every start position, once per skip distance; the same counts are, for
each pool n-gram g of length k and each skip distance d, the number of positions s with
x[s + j * d] == g[j] for every j < k. So each (k, d) is one comparison of k shifted slices of
the input with the pool's k columns, ANDed and summed over positions: `B x L x P_k` compares,
linear in the input and in the pool. Unigrams count once (they do not depend on the skip),
longer n-grams once per distance 1 .. max_skip_count + 1, and only lengths within
[min_gram_length, max_gram_length] count. A pool n-gram listed twice counts at its last
listing, as the trie's overwritten id does.
"""

from __future__ import annotations

import numpy as np

from relay_opt.dialects.relay.types import DYNAMIC, STRING
from relay_opt.frontends.onnx.importer import Node, Value, converter


def _pool(n: Node, pool: list[int]) -> dict[tuple[int, ...], int]:
    """The counted n-grams of the pool (its tokens as integers), each with its output
    column."""
    starts = [int(c) for c in n.attr("ngram_counts", [])]
    columns = [int(c) for c in n.attr("ngram_indexes", [])]
    low, high = int(n.attr("min_gram_length", 1)), int(n.attr("max_gram_length", 1))
    if not 1 <= low <= high:
        raise n.error(f"min_gram_length {low} and max_gram_length {high}: need 1 <= min <= max")
    if any(c < 0 for c in columns):
        raise n.error(f"ngram_indexes {columns} has a negative index")
    grams: dict[tuple[int, ...], int] = {}
    ngram_id = 0  # ids count every pool n-gram, counted or not, as ngram_indexes does
    for size, start in enumerate(starts, 1):
        end = starts[size] if size < len(starts) else len(pool)
        if not 0 <= start <= end <= len(pool):
            raise n.error(f"ngram_counts {starts} are not ascending offsets into the pool")
        count = (end - start) // size
        for i in range(count):
            if low <= size <= high:
                if ngram_id >= len(columns):
                    raise n.error(f"ngram_indexes has {len(columns)} entries, the pool more")
                gram = tuple(pool[start + i * size : start + (i + 1) * size])
                grams.pop(gram, None)  # a repeated n-gram counts at its last listing
                grams[gram] = columns[ngram_id]
            ngram_id += 1
    return grams


def _matches(n: Node, x: Value, grams: np.ndarray, skip: int) -> Value:
    """[rows, P]: how often each row holds each n-gram (the rows of `grams`) with `skip`
    positions between its tokens."""
    rows, length = n.shape(x)
    size = grams.shape[1]
    span = length - (size - 1) * skip  # the start positions
    hit: Value | None = None
    for j in range(size):
        part = n.op(
            "strided_slice", x, begin=[0, j * skip], end=[rows, j * skip + span], strides=[1, 1]
        )
        eq = n.op("equal", n.reshape(part, [rows, span, 1]), grams[:, j])
        hit = eq if hit is None else n.op("logical_and", hit, eq)
    assert hit is not None
    return n.op("sum", n.cast(hit, "int32"), axis=[1], keepdims=False)


def _string_ids(n: Node, x: Value) -> tuple[Value, list[int]]:
    """String tokens as integers: each distinct pool string numbered, a token outside the
    pool -1 (strings.label_encode, then the integer path), and the pool in those numbers."""
    strings = [str(v) for v in n.attr("pool_strings", [])]
    ids = {t: i for i, t in enumerate(dict.fromkeys(strings))}
    if not ids:  # an empty pool: no token matches
        return np.full(n.shape(x), -1, np.int64), []
    keys = list(ids)
    tokens = n.op(
        "strings.label_encode",
        x,
        out_dtype="int64",
        keys_strings=keys,
        values_ints=[ids[k] for k in keys],
        default_int=-1,
    )
    return tokens, [ids[t] for t in strings]


@converter("TfIdfVectorizer")
def tfidf_vectorizer(n: Node) -> Value:
    x = n.required(0)
    if n.has_attr("pool_strings") and n.has_attr("pool_int64s"):
        raise n.error("give pool_strings or pool_int64s, not both")
    if n.has_attr("pool_strings"):
        if n.dtype(x) != STRING:
            raise n.error(f"pool_strings needs string tokens, not {n.dtype(x)}")
        x, pool = _string_ids(n, x)
    elif n.dtype(x) in ("int32", "int64"):
        pool = [int(v) for v in n.attr("pool_int64s", [])]
    else:
        raise n.unsupported(f"{n.dtype(x)} tokens: only int32, int64 and string are supported")
    shape = n.shape(x)
    if DYNAMIC in shape:
        raise n.unsupported(f"an input of shape {list(shape)} (? dims)")
    if len(shape) > 2 or (len(shape) == 2 and shape[0] < 1):
        raise n.error(f"the input must be [C] or [B, C] with B > 0, not {list(shape)}")
    rows, length = (shape[0], shape[1]) if len(shape) == 2 else (1, int(np.prod(shape)))
    x = n.reshape(n.cast(x, "int64"), [rows, length])
    grams = _pool(n, pool)
    columns = [int(c) for c in n.attr("ngram_indexes", [])]
    width = max(columns) + 1 if columns else 0
    mode = n.attr("mode")
    if mode not in ("TF", "IDF", "TFIDF"):
        raise n.error(f"mode {mode!r} is none of TF, IDF, TFIDF")
    weights = n.attr("weights")
    if weights is not None and len(weights) and len(weights) < width:
        raise n.error(f"weights has {len(weights)} values for {width} output columns")
    skips = int(n.attr("max_skip_count", 0)) + 1
    if skips < 1:
        raise n.error(f"max_skip_count {skips - 1} is negative")

    counts: Value = np.zeros((rows, width), np.float32)
    for size in sorted({len(g) for g in grams}):
        pool = np.array([g for g in grams if len(g) == size], np.int64).reshape(-1, size)
        # Each pool n-gram's output column, as a [width, P] 0/1 matrix.
        to_column = np.zeros((width, len(pool)), np.float32)
        to_column[[grams[tuple(g)] for g in pool.tolist()], np.arange(len(pool))] = 1
        for skip in range(1, (skips if size > 1 else 1) + 1):
            if (size - 1) * skip >= length:
                break
            found = n.cast(_matches(n, x, pool, skip), "float32")
            spread = n.op("multiply", n.reshape(found, [rows, 1, len(pool)]), to_column)
            counts = n.op("add", counts, n.op("sum", spread, axis=[2], keepdims=False))
    if mode != "TF":
        have = n.cast(n.op("greater", counts, n.scalar(0, "float32")), "float32")
        counts = have if mode == "IDF" else counts
        if weights is not None and len(weights):
            counts = n.op("multiply", counts, np.asarray(weights[:width], np.float32))
    return counts if len(shape) == 2 else n.reshape(counts, [width])
