"""ONNX Attention and RotaryEmbedding as Relay operators.

Attention (opsets 23-25) is decomposed the way the operator's own definition
reads: Q and K scaled by sqrt(scale), Q·Kᵀ, softcap, an additive bias (the
attention mask, the causal frontier, the sliding window, the padding mask of
`nonpad_kv_seqlen`), softmax, a guard that zeroes fully masked rows, ·V.

Grouped-query attention needs no copy of the key/value heads: query head h
reads kv head h // (q_heads / kv_heads), so (B, Hq, Sq, D) viewed as
(B * Hkv, (Hq / Hkv) * Sq, D) lines every query row up with its kv head in one
batch_matmul. Shapes are static, so the causal and window masks are arrays
built while importing; only masks that depend on a run-time
`nonpad_kv_seqlen` are computed with Relay operators.

float16 and bfloat16 are computed in float32 inside (cast in, cast out): the matmuls and
the softmax would otherwise round at every step.
"""

from __future__ import annotations

import math

import numpy as np

from relay_opt.dialects.relay.numpy_dtypes import exact_dtype
from relay_opt.frontends.onnx.importer import Node, Value, converter

_FLOATS = ("float16", "bfloat16", "float32", "float64")
_HALVES = ("float16", "bfloat16")
_SOFTMAX_PRECISIONS = {1: "float32", 10: "float16", 11: "float64", 16: "bfloat16"}
_QK_MODES = (0, 1, 2, 3)


def _split_heads(n: Node, x: Value, heads: int, what: str) -> Value:
    """(B, S, heads * D) as (B, heads, S, D)."""
    b, s, hidden = n.shape(x)
    if heads <= 0 or hidden % heads:
        raise n.error(f"{what}'s hidden size {hidden} is not a multiple of its {heads} heads")
    return n.op("transpose", n.reshape(x, [b, s, heads, hidden // heads]), axes=[0, 2, 1, 3])


def _where_bias(n: Node, allowed: Value, dtype: str) -> Value:
    """0 where `allowed`, -inf elsewhere (select, so no 0 * inf)."""
    return n.op("where", allowed, n.scalar(0, dtype), n.scalar(-np.inf, dtype))


def _add_bias(n: Node, bias: Value | None, term: Value) -> Value:
    return term if bias is None else n.op("add", bias, term)


def _mask_bias(n: Node, mask: Value, kv_len: int, dtype: str) -> Value:
    """attn_mask as an additive bias whose last axis is padded with -inf to kv_len."""
    if n.dtype(mask) == "bool":
        bias = _where_bias(n, mask, dtype)
    elif n.dtype(mask) in _FLOATS:
        bias = n.cast(mask, dtype)
    else:
        raise n.error(f"attn_mask must be bool or a float type, got {n.dtype(mask)}")
    shape = n.shape(bias)
    if not shape:
        return bias
    short = kv_len - shape[-1]
    if short < 0:
        raise n.error(f"attn_mask's last dimension {shape[-1]} is longer than the {kv_len} keys")
    if short:
        widths = [[0, 0]] * (len(shape) - 1) + [[0, short]]
        bias = n.op("nn.pad", bias, n.scalar(-np.inf, dtype), pad_width=widths, pad_mode="constant")
    return bias


def _query_positions(n: Node, q_len: int, nonpad: Value | None, offset: int) -> Value:
    """The absolute position of each query row: (Sq, 1) for a known offset, (B, 1, Sq, 1)
    when the offset is nonpad_kv_seqlen[b] - Sq."""
    rows = np.arange(q_len, dtype=np.int64).reshape(q_len, 1)
    if nonpad is None:
        return rows + offset
    lengths = n.cast(nonpad, "int64")
    offsets = n.op("subtract", lengths, n.scalar(q_len, "int64"))
    return n.op("add", n.reshape(offsets, [n.shape(nonpad)[0], 1, 1, 1]), rows)


def _frontier_bias(
    n: Node,
    q_len: int,
    kv_len: int,
    nonpad: Value | None,
    offset: int,
    causal: bool,
    left: int,
    right: int,
    dtype: str,
) -> Value | None:
    """The causal frontier and the sliding window as one additive bias (None: no restriction)."""
    if not causal and left < 0 and right < 0:
        return None
    pos = _query_positions(n, q_len, nonpad, offset)
    keys = np.arange(kv_len, dtype=np.int64).reshape(1, kv_len)
    allowed: Value | None = None

    def both(a: Value | None, b: Value) -> Value:
        return b if a is None else n.op("logical_and", a, b)

    if causal:
        allowed = both(allowed, n.op("less_equal", keys, pos))
    if left >= 0:
        first = n.op("subtract", pos, n.scalar(left, "int64"))
        allowed = both(allowed, n.op("greater_equal", keys, first))
    if right >= 0:
        last = n.op("add", pos, n.scalar(right, "int64"))
        allowed = both(allowed, n.op("less_equal", keys, last))
    assert allowed is not None
    return _where_bias(n, allowed, dtype)


def _padding_bias(n: Node, nonpad: Value, kv_len: int, dtype: str) -> Value:
    """-inf at the keys past nonpad_kv_seqlen[b]: (B, 1, 1, Skv)."""
    lengths = n.reshape(n.cast(nonpad, "int64"), [n.shape(nonpad)[0], 1, 1, 1])
    return _where_bias(n, n.op("less", np.arange(kv_len, dtype=np.int64), lengths), dtype)


@converter("Attention")
def attention(n: Node) -> list[Value | None]:
    q, k, v = n.required(0), n.required(1), n.required(2)
    mask, past_k, past_v = n.input(3), n.input(4), n.input(5)
    nonpad = n.input(6) if n.opset >= 24 else None
    dtype = n.dtype(q)
    if dtype not in _FLOATS:
        raise n.unsupported(
            f"Attention on {dtype} (float16, bfloat16, float32 and float64 are supported)"
        )
    if n.dtype(k) != dtype or n.dtype(v) != dtype:
        raise n.error(f"Q, K and V must have one dtype, got {dtype}, {n.dtype(k)} and {n.dtype(v)}")
    compute = "float32" if dtype in _HALVES else dtype

    precision = n.attr("softmax_precision")
    if precision is not None and precision not in _SOFTMAX_PRECISIONS:
        raise n.unsupported(
            f"softmax_precision {precision} (FLOAT, FLOAT16, BFLOAT16 and DOUBLE are supported)"
        )
    softmax_dtype = compute if precision is None else _SOFTMAX_PRECISIONS[precision]
    if softmax_dtype in _HALVES:
        softmax_dtype = compute  # wider than asked: 16-bit floats are never computed in (above)

    mode = int(n.attr("qk_matmul_output_mode", 0))
    if mode not in _QK_MODES:
        raise n.error(f"qk_matmul_output_mode {mode} is not one of 0, 1, 2, 3")
    want_qk = n.num_outputs > 3 and bool(n.proto.output[3])
    left = int(n.attr("left_window_size", -1)) if n.opset >= 25 else -1
    right = int(n.attr("right_window_size", -1)) if n.opset >= 25 else -1
    if left < -1 or right < -1:
        raise n.error(f"window sizes must be -1 or nonnegative, got left {left} and right {right}")

    rank = n.rank(q)
    if n.rank(k) != rank or n.rank(v) != rank:
        raise n.error(f"Q, K and V must have one rank, got {rank}, {n.rank(k)} and {n.rank(v)}")
    if rank == 3:
        q_heads, kv_heads = n.attr("q_num_heads"), n.attr("kv_num_heads")
        if q_heads is None or kv_heads is None:
            raise n.error("3-d Q, K and V need the q_num_heads and kv_num_heads attributes")
        q = _split_heads(n, q, int(q_heads), "Q")
        k = _split_heads(n, k, int(kv_heads), "K")
        v = _split_heads(n, v, int(kv_heads), "V")
    elif rank == 4:
        if n.opset >= 25 and (n.has_attr("q_num_heads") or n.has_attr("kv_num_heads")):
            raise n.error("q_num_heads and kv_num_heads must not be given for 4-d Q, K and V")
    else:
        raise n.error(f"Q, K and V must be 3-d or 4-d, got rank {rank}")

    if (past_k is None) != (past_v is None):
        raise n.error("past_key and past_value must be given together")
    past_len = 0
    if past_k is not None and past_v is not None:
        if nonpad is not None:
            raise n.error("nonpad_kv_seqlen cannot be combined with past_key and past_value")
        past_len = n.shape(past_k)[2]
        k = n.op("concatenate", [past_k, k], axis=2)
        v = n.op("concatenate", [past_v, v], axis=2)
    present_k, present_v = k, v

    batch, q_heads, q_len, head = n.shape(q)
    kb, kv_heads, kv_len, k_head = n.shape(k)
    vb, v_heads, v_len, v_head = n.shape(v)
    if (kb, vb) != (batch, batch) or v_heads != kv_heads or v_len != kv_len or k_head != head:
        raise n.error(
            f"Q {n.shape(q)}, K {n.shape(k)} and V {n.shape(v)} (as 4-d) do not fit together"
        )
    if q_heads % kv_heads:
        raise n.error(f"{q_heads} query heads are not a multiple of {kv_heads} key/value heads")
    group = q_heads // kv_heads

    scale = n.attr("scale")
    scale = 1 / math.sqrt(head) if scale is None else float(scale)
    # sqrt(scale) on both sides keeps Q·Kᵀ from overflowing; rounded to the input dtype as
    # ONNX does.
    root = n.scalar(float(np.asarray(math.sqrt(scale), dtype=exact_dtype(dtype))), compute)
    qs = n.op("multiply", n.cast(q, compute), root)
    ks = n.op("multiply", n.cast(k, compute), root)
    scores = n.op(
        "nn.batch_matmul",
        n.reshape(qs, [batch * kv_heads, group * q_len, head]),
        n.reshape(ks, [batch * kv_heads, kv_len, head]),
        transpose_b=True,
    )
    scores = n.reshape(scores, [batch, q_heads, q_len, kv_len])
    qk = scores

    softcap = float(n.attr("softcap", 0.0))
    if softcap > 0:
        cap = n.scalar(softcap, compute)
        scores = n.op("multiply", n.op("tanh", n.op("divide", scores, cap)), cap)
        if mode == 1:
            qk = scores

    bias: Value | None = None
    if mask is not None:
        bias = _mask_bias(n, mask, kv_len, compute)
    frontier = _frontier_bias(
        n, q_len, kv_len, nonpad, past_len, bool(n.attr("is_causal", 0)), left, right, compute
    )
    if frontier is not None:
        bias = _add_bias(n, bias, frontier)
    if nonpad is not None:
        bias = _add_bias(n, bias, _padding_bias(n, nonpad, kv_len, compute))
    if bias is not None:
        scores = n.op("add", scores, bias)
    if mode == 2:
        qk = scores

    probs = n.op("nn.softmax", n.cast(scores, softmax_dtype), axis=3)
    if bias is not None:
        # A row with no key to attend is all -inf (softmax NaN); ONNX makes it zeros.
        row_max = n.op("max", bias, axis=[-1], keepdims=True)
        empty = n.op("equal", row_max, n.scalar(-np.inf, compute))
        if not (isinstance(empty, np.ndarray) and not empty.any()):
            probs = n.op("where", empty, n.scalar(0, softmax_dtype), probs)
    if mode == 3:
        qk = probs
    probs = n.cast(probs, compute)

    y = n.op(
        "nn.batch_matmul",
        n.reshape(probs, [batch * kv_heads, group * q_len, kv_len]),
        n.reshape(n.cast(v, compute), [batch * kv_heads, kv_len, v_head]),
    )
    y = n.cast(n.reshape(y, [batch, q_heads, q_len, v_head]), dtype)
    if rank == 3:
        y = n.reshape(n.op("transpose", y, axes=[0, 2, 1, 3]), [batch, q_len, q_heads * v_head])
    return [y, present_k, present_v, n.cast(qk, dtype) if want_qk else None]


@converter("RotaryEmbedding")
def rotary_embedding(n: Node) -> Value:
    x, cos, sin, positions = n.required(0), n.required(1), n.required(2), n.input(3)
    dtype = n.dtype(x)
    if dtype not in _FLOATS:
        raise n.unsupported(
            f"RotaryEmbedding on {dtype} (float16, bfloat16, float32 and float64 are supported)"
        )
    shape = n.shape(x)
    if len(shape) == 4:
        batch, _, seq, head = shape
        heads_axis = 1  # (B, H, S, D): cos/sin (B, S, half) broadcast as (B, 1, S, half)
    elif len(shape) == 3:
        heads = int(n.attr("num_heads", 0))
        batch, seq, hidden = shape
        if heads <= 0 or hidden % heads:
            raise n.error(
                f"a 3-d input needs num_heads dividing its hidden size {hidden}, got {heads}"
            )
        head = hidden // heads
        x = n.reshape(x, [batch, seq, heads, head])
        heads_axis = 2  # (B, S, H, D): cos/sin broadcast as (B, S, 1, half)
    else:
        raise n.error(f"the input must be 3-d or 4-d, got rank {len(shape)}")
    rotated = int(n.attr("rotary_embedding_dim", 0)) or head
    if rotated % 2 or rotated > head:
        raise n.error(
            f"rotary_embedding_dim {rotated} must be even and at most the head size {head}"
        )
    half = rotated // 2

    def table(cache: Value, what: str) -> Value:
        if positions is not None:
            cache = n.op("take", cache, n.cast(positions, "int64"), axis=0)
        if n.shape(cache) != (batch, seq, half):
            raise n.error(
                f"{what} gives {n.shape(cache)} per position, expected {(batch, seq, half)}"
            )
        cache = n.cast(cache, dtype)
        out = [batch, seq, half]
        out.insert(heads_axis, 1)
        return n.reshape(cache, out)

    c, s = table(cos, "cos_cache"), table(sin, "sin_cache")
    lead = list(n.shape(x)[:-1])

    def part(t: Value, begin: int, end: int) -> Value:
        return n.op("strided_slice", t, begin=[begin], end=[end], strides=[1], axes=[n.rank(t) - 1])

    x_rot = part(x, 0, rotated) if rotated < head else x
    if n.attr("interleaved", 0):
        # Pairs (x[2i], x[2i+1]) rotate together: view them as (..., half, 2).
        pairs = n.reshape(x_rot, [*lead, half, 2])
        x1, x2 = part(pairs, 0, 1), part(pairs, 1, 2)
        c, s = n.reshape(c, [*n.shape(c), 1]), n.reshape(s, [*n.shape(s), 1])
    else:
        x1, x2 = part(x_rot, 0, half), part(x_rot, half, rotated)
    real = n.op("subtract", n.op("multiply", c, x1), n.op("multiply", s, x2))
    imag = n.op("add", n.op("multiply", s, x1), n.op("multiply", c, x2))
    out = n.op("concatenate", [real, imag], axis=-1)
    if n.attr("interleaved", 0):
        out = n.reshape(out, [*lead, rotated])
    if rotated < head:
        out = n.op("concatenate", [out, part(x, rotated, head)], axis=-1)
    return n.reshape(out, shape)
