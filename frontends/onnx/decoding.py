"""The operators of autoregressive decoding that carry state between calls: TensorScatter
(a KV-cache write), CausalConvWithState (a depthwise causal conv and its rolling window) and
LinearAttention (the recurrent state of linear attention), as Relay operators.

TensorScatter is one gather: every cache position reads the update row that lands on it
(found from `write_indices` at run time) or keeps the past value, in one fused loop nest.
LinearAttention runs its recurrence step by step, as ONNX defines it (the chunked forms
reorder the sums): unrolled up to rnn.UNROLL_STEPS steps, a loop beyond (rnn.py says why).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from xdsl.ir import SSAValue

from relay_opt.dialects.relay.types import DYNAMIC
from relay_opt.frontends.onnx.control_flow import _emit_loop, _ScanOutput
from relay_opt.frontends.onnx.importer import Node, Value, converter
from relay_opt.frontends.onnx.rnn import UNROLL_STEPS

_HALVES = ("float16", "bfloat16")


def _static(n: Node, *values: Value) -> None:
    for v in values:
        if DYNAMIC in n.shape(v):
            raise n.unsupported(f"an input of shape {list(n.shape(v))} (? dims)")


# -- TensorScatter ----------------------------------------------------------------------------


@converter("TensorScatter")
def tensor_scatter(n: Node) -> Value:
    """present[b, ..., s, ...] = update[b, ..., j, ...] where j = s - write_indices[b]
    (mod max_sequence_length in circular mode) lies in [0, sequence_length), else past."""
    past, update = n.required(0), n.required(1)
    _static(n, past, update)
    shape, ushape = n.shape(past), n.shape(update)
    rank = len(shape)
    if len(ushape) != rank:
        raise n.error(f"past_cache has rank {rank} and update rank {len(ushape)}")
    axis = int(n.attr("axis", -2))
    axis = axis + rank if axis < 0 else axis
    if not 0 < axis < rank:
        raise n.error(f"axis {n.attr('axis', -2)} is out of range 1..{rank - 1} (0 is the batch)")
    mode = n.attr("mode", "linear")
    if mode not in ("linear", "circular"):
        raise n.error(f"mode '{mode}' is neither linear nor circular")
    if any(shape[i] != ushape[i] for i in range(rank) if i != axis) or ushape[axis] > shape[axis]:
        raise n.error(
            f"update {list(ushape)} does not fit past_cache {list(shape)} (equal but on axis "
            f"{axis}, where it may be shorter)"
        )
    if n.dtype(past) != n.dtype(update):
        raise n.error(f"past_cache is {n.dtype(past)} and update {n.dtype(update)}")
    batch, length, width = shape[0], shape[axis], ushape[axis]
    inner = int(np.prod(shape[1:axis], dtype=np.int64))
    outer = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    w = n.input(2)
    if w is None:
        w = np.zeros(batch, np.int64)
    if n.shape(w) != (batch,):
        raise n.error(f"write_indices has shape {list(n.shape(w))}, not [{batch}]")
    w = n.reshape(n.cast(w, "int64"), [batch, 1])
    positions = np.arange(length, dtype=np.int64).reshape(1, length)
    if mode == "circular":  # floor modulo from the truncated one, w reduced first (no overflow)
        big = n.scalar(length, "int64")
        shifted = n.op("add", n.op("subtract", positions, n.op("mod", w, big)), big)
        j = n.op("mod", shifted, big)
    else:
        j = n.op("subtract", positions, w)  # [batch, length]
    hit = n.op(
        "logical_and",
        n.op("greater_equal", j, n.scalar(0, "int64")),
        n.op("less", j, n.scalar(width, "int64")),
    )
    # The flat offset into update viewed as [batch, inner, width, outer]; a position no row
    # lands on reads a clamped element that `where` drops.
    row = n.reshape(n.op("multiply", j, n.scalar(outer, "int64")), [batch, 1, length, 1])
    base = (
        np.arange(batch, dtype=np.int64).reshape(batch, 1, 1, 1) * (inner * width * outer)
        + np.arange(inner, dtype=np.int64).reshape(1, inner, 1, 1) * (width * outer)
        + np.arange(outer, dtype=np.int64).reshape(1, 1, 1, outer)
    )
    flat = n.reshape(update, [batch * inner * width * outer])
    picked = n.op("take", flat, n.op("add", row, base), axis=0, mode="clip")
    view = [batch, inner, length, outer]
    keep = n.reshape(hit, [batch, 1, length, 1])
    return n.reshape(n.op("where", keep, picked, n.reshape(past, view)), shape)


# -- CausalConvWithState ----------------------------------------------------------------------


@converter("CausalConvWithState")
def causal_conv_with_state(n: Node) -> Sequence[Value]:
    """(output, present_state): a depthwise conv1d of past_state ++ input (zeros when there
    is no past_state) without padding, plus bias, then SiLU if asked; present_state is the
    last k - 1 positions of past_state ++ input."""
    x, weight, bias, past = n.required(0), n.required(1), n.input(2), n.input(3)
    _static(n, x, weight)
    if n.rank(x) != 3 or n.rank(weight) != 3:
        raise n.error(
            f"input and weight must be 3-d (B, C, L) and (C, 1, k), got "
            f"{list(n.shape(x))} and {list(n.shape(weight))}"
        )
    batch, channels, _ = n.shape(x)
    k = n.shape(weight)[2]
    if n.shape(weight)[:2] != (channels, 1) or k < 1:
        raise n.error(f"weight {list(n.shape(weight))} is not ({channels}, 1, k) with k >= 1")
    activation = n.attr("activation", "none")
    if activation not in ("none", "silu", "swish"):
        raise n.error(f"activation '{activation}' is none of none, silu, swish")
    dtype = n.dtype(x)
    if past is None:
        past = np.zeros((batch, channels, k - 1), np.dtype(n.scalar(0, x).dtype))
    if n.shape(past) != (batch, channels, k - 1):
        raise n.error(f"past_state has shape {list(n.shape(past))}, not {[batch, channels, k - 1]}")
    padded = n.op("concatenate", [past, x], axis=2) if k > 1 else x
    total = n.shape(padded)[2]
    out = n.op(
        "nn.conv2d",
        n.reshape(padded, [batch, channels, 1, total]),
        n.reshape(weight, [channels, 1, 1, k]),
        groups=channels,
        channels=channels,
        kernel_size=[1, k],
    )
    out = n.reshape(out, [batch, channels, total - k + 1])
    if bias is not None:
        if n.shape(bias) != (channels,):
            raise n.error(f"bias has shape {list(n.shape(bias))}, not [{channels}]")
        out = n.op("nn.bias_add", out, bias, axis=1)
    if activation != "none":  # x * sigmoid(x), in float32 for the half types (as ONNX's)
        wide = n.cast(out, "float32") if dtype in _HALVES else out
        out = n.cast(n.op("multiply", wide, n.op("sigmoid", wide)), dtype)
    state = n.op(
        "strided_slice",
        padded,
        begin=[0, 0, total - (k - 1)],
        end=[batch, channels, total],
        strides=[1, 1, 1],
    )
    return [out, state]


# -- LinearAttention --------------------------------------------------------------------------

_RULES = {  # update_rule -> (gated, delta)
    "linear": (False, False),
    "gated": (True, False),
    "delta": (False, True),
    "gated_delta": (True, True),
}


def _heads(n: Node, x: Value, heads: int, what: str) -> tuple[Value, int]:
    """(B, T, heads * D) as float32 (B, heads, T, D), and D."""
    if n.rank(x) != 3:
        raise n.error(f"{what} must be 3-d (B, T, H*D), got {list(n.shape(x))}")
    b, t, hidden = n.shape(x)
    if hidden % heads:
        raise n.error(f"{what}'s last dimension {hidden} is not a multiple of {heads} heads")
    d = hidden // heads
    x4 = n.op("transpose", n.reshape(n.cast(x, "float32"), [b, t, heads, d]), axes=[0, 2, 1, 3])
    return x4, d


def _step_of(n: Node, x: Value, t: Value | int) -> Value:
    """x[:, :, t] of a (B, H, T, D) value: (B, H, D)."""
    b, h, _, d = n.shape(x)
    if isinstance(t, int):
        return n.reshape(
            n.op("strided_slice", x, begin=[0, 0, t, 0], end=[b, h, t + 1, d], strides=[1] * 4),
            [b, h, d],
        )
    return n.op("take", x, t, axis=2)


class _Recurrence:
    """One LinearAttention step: the next state and this step's output."""

    def __init__(
        self, batch: int, kv_heads: int, group: int, dk: int, dv: int, scale: float
    ) -> None:
        self.batch, self.kv_heads, self.group = batch, kv_heads, group
        self.dk, self.dv, self.scale = dk, dv, scale

    def step(
        self,
        n: Node,
        state: Value,
        q: Value,
        k: Value,
        v: Value,
        decay: Value | None,
        beta: Value | None,
    ) -> tuple[Value, Value]:
        """state (B, Hkv, dk, dv); q (B, Hq, dk); k (B, Hkv, dk); v (B, Hkv, dv); decay
        (B, Hkv, 1 or dk); beta (B, Hkv or 1, 1) -> (state, output (B, Hq, dv))."""
        b, hk, g, dk, dv = self.batch, self.kv_heads, self.group, self.dk, self.dv
        rows = b * hk
        if decay is not None:  # S *= exp(g_t), per head or per key dimension
            gate = n.op("exp", decay)
            state = n.op("multiply", state, n.reshape(gate, [b, hk, n.shape(decay)[2], 1]))
        if beta is not None:  # v <- beta * (v - S^T k)
            kt = n.reshape(k, [rows, 1, dk])
            flat_state = n.reshape(state, [rows, dk, dv])
            read = n.op("nn.batch_matmul", kt, flat_state, transpose_a=False, transpose_b=False)
            v = n.op("multiply", beta, n.op("subtract", v, n.reshape(read, [b, hk, dv])))
        outer = n.op("multiply", n.reshape(k, [b, hk, dk, 1]), n.reshape(v, [b, hk, 1, dv]))
        state = n.op("add", state, outer)
        # query head h reads kv head h // group: (B * Hkv, group, dk) x (B * Hkv, dk, dv)
        read = n.op(
            "nn.batch_matmul",
            n.reshape(q, [rows, g, dk]),
            n.reshape(state, [rows, dk, dv]),
            transpose_a=False,
            transpose_b=False,
        )
        out = n.op("multiply", n.reshape(read, [b, hk * g, dv]), n.scalar(self.scale, "float32"))
        return state, out


@converter("LinearAttention")
def linear_attention(n: Node) -> Sequence[Value]:
    """(output (B, T, Hq * dv), present_state (B, Hkv, dk, dv)), computed in float32."""
    query, key, value = n.required(0), n.required(1), n.required(2)
    past, decay, beta = n.input(3), n.input(4), n.input(5)
    _static(n, *(v for v in (query, key, value, past, decay, beta) if v is not None))
    rule = n.attr("update_rule", "gated_delta")
    if rule not in _RULES:
        raise n.error(f"update_rule '{rule}' is none of {', '.join(_RULES)}")
    gated, delta = _RULES[rule]
    for name, needed, given in (("decay", gated, decay), ("beta", delta, beta)):
        if needed != (given is not None):
            verb = "needs" if needed else "takes no"
            raise n.error(f"update_rule '{rule}' {verb} {name} input")
    hq, hk = n.attr("q_num_heads"), n.attr("kv_num_heads")
    if hq is None or hk is None:
        raise n.error("q_num_heads and kv_num_heads are required")
    hq, hk = int(hq), int(hk)
    if hq <= 0 or hk <= 0 or hq % hk:
        raise n.error(f"q_num_heads {hq} is not a positive multiple of kv_num_heads {hk}")
    q4, dk = _heads(n, query, hq, "query")
    k4, dk_k = _heads(n, key, hk, "key")
    v4, dv = _heads(n, value, hk, "value")
    b, t = n.shape(query)[:2]
    if dk_k != dk or any(n.shape(x)[:2] != (b, t) for x in (key, value)):
        raise n.error(
            f"query {list(n.shape(query))}, key {list(n.shape(key))} and value "
            f"{list(n.shape(value))} do not agree on (B, T) and d_k"
        )
    decay4 = beta4 = None
    if decay is not None:
        if n.rank(decay) != 3 or n.shape(decay)[:2] != (b, t):
            raise n.error(f"decay has shape {list(n.shape(decay))}, not (B, T, H) or (B, T, H*dk)")
        if n.shape(decay)[2] not in (hk, hk * dk):
            raise n.error(f"decay's last dimension {n.shape(decay)[2]} is not {hk} or {hk * dk}")
        decay4, _ = _heads(n, decay, hk, "decay")
    if beta is not None:
        if n.rank(beta) != 3 or n.shape(beta)[:2] != (b, t) or n.shape(beta)[2] not in (hk, 1):
            raise n.error(f"beta has shape {list(n.shape(beta))}, not (B, T, {hk}) or (B, T, 1)")
        beta4, _ = _heads(n, beta, n.shape(beta)[2], "beta")  # (B, Hkv or 1, T, 1)
    state_dtype = n.dtype(query)
    if past is None:
        state: Value = np.zeros((b, hk, dk, dv), np.float32)
    else:
        if n.shape(past) != (b, hk, dk, dv):
            raise n.error(f"past_state has shape {list(n.shape(past))}, not {[b, hk, dk, dv]}")
        state_dtype = n.dtype(past)
        state = n.cast(past, "float32")
    scale = float(n.attr("scale", 0.0)) or 1.0 / math.sqrt(dk)
    cell = _Recurrence(b, hk, hq // hk, dk, dv, scale)
    per_step = [x for x in (q4, k4, v4, decay4, beta4) if x is not None]
    if t > UNROLL_STEPS:
        state, outputs = _looped(n, cell, state, per_step, decay is not None, t)
    else:
        steps = []
        for i in range(t):
            q_t, k_t, v_t, *rest = (_step_of(n, x, i) for x in per_step)
            g_t = rest.pop(0) if decay is not None else None
            b_t = rest.pop(0) if beta is not None else None
            state, out = cell.step(n, state, q_t, k_t, v_t, g_t, b_t)
            steps.append(out)
        outputs = n.op("stack", steps, axis=2)  # (B, Hq, T, dv)
    output = n.reshape(n.op("transpose", outputs, axes=[0, 2, 1, 3]), [b, t, hq * dv])
    return [n.cast(output, n.dtype(query)), n.cast(state, state_dtype)]


def _looped(
    n: Node, cell: _Recurrence, state: Value, per_step: list[Value], gated: bool, t: int
) -> tuple[Value, Value]:
    """(the last state, the outputs stacked as (B, Hq, T, dv)) from a recursive function of
    one step per call."""

    def step(
        i: SSAValue, _cond: SSAValue, values: list[Value]
    ) -> tuple[Value | None, list[Value], list[Value]]:
        q_t, k_t, v_t, *rest = (_step_of(n, x, i) for x in values[1:])
        g_t = rest.pop(0) if gated else None
        b_t = rest.pop(0) if rest else None
        next_state, out = cell.step(n, values[0], q_t, k_t, v_t, g_t, b_t)
        return None, [next_state], [out]

    if isinstance(state, np.ndarray):
        state = n.graph.ssa(state)
    finals, (outputs,) = _emit_loop(
        n, "onnx_linear_attention", t, np.array(True), [state], None, [_ScanOutput(2, False)],
        step, per_step,
    )  # fmt: skip
    return finals[0], outputs
