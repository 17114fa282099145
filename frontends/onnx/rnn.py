"""RNN, GRU and LSTM, unrolled over their (static) sequence length.

The input projection X·Wᵀ + Wb (+ Rb) is one dense over all time steps; each
step then adds H·Rᵀ, applies the gate activations and produces the next
state. The sequence is fixed at import (ONNX shapes are static here), so the
unrolled program is straight-line Relay that fuse-ops and the code generator
see whole; a bidirectional layer is two unrolled directions stacked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from relay_opt.frontends.onnx.activations import recurrent_activation
from relay_opt.frontends.onnx.importer import Node, Value, converter

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
DEFAULT_ACTIVATIONS = {
    "RNN": ["Tanh"],
    "GRU": ["Sigmoid", "Tanh"],
    "LSTM": ["Sigmoid", "Tanh", "Tanh"],
}

Activation = Callable[[Value], Value]


def _activations(n: Node, num_directions: int) -> list[list[Activation]]:
    names = n.attr("activations")
    per = len(DEFAULT_ACTIVATIONS[n.op_type])
    if names is None:
        names = DEFAULT_ACTIVATIONS[n.op_type] * num_directions
    if len(names) != per * num_directions:
        raise n.error(f"{len(names)} activations given, {per * num_directions} expected")
    alphas, betas = iter(n.attr("activation_alpha", [])), iter(n.attr("activation_beta", []))
    fns = [recurrent_activation(n, name, alphas, betas) for name in names]
    return [fns[d * per : (d + 1) * per] for d in range(num_directions)]


def _rows(n: Node, x: Value, start: int, count: int) -> Value:
    """x[start:start+count] on axis 0."""
    shape = n.shape(x)
    return n.op(
        "strided_slice",
        x,
        begin=[start] + [0] * (len(shape) - 1),
        end=[start + count, *shape[1:]],
        strides=[1] * len(shape),
    )


def _gate(n: Node, x: Value, k: int, hidden: int) -> Value:
    """Gate k of a [batch, gates*hidden] value."""
    b = n.shape(x)[0]
    return n.op(
        "strided_slice", x, begin=[0, k * hidden], end=[b, (k + 1) * hidden], strides=[1, 1]
    )


MAX_STEPS = 4096
"""The longest sequence unrolled: each step is a dozen operators, and a model of 65,536 steps
took minutes to import before it was refused."""


@converter("RNN", "GRU", "LSTM")
def recurrent(n: Node) -> Sequence[Value | None]:
    kind = n.op_type
    x, w, r = n.required(0), n.required(1), n.required(2)
    layout = n.attr("layout", 0)
    if layout:
        x = n.op("transpose", x, axes=[1, 0, 2])
    seq, batch, _ = n.shape(x)
    if seq > MAX_STEPS:
        raise n.unsupported(
            f"a sequence of {seq} steps: relay-opt unrolls {kind} over at most {MAX_STEPS}"
        )
    hidden = int(n.attr("hidden_size", n.shape(r)[-1]))
    gates = GATES[kind]
    direction = n.attr("direction", "forward")
    directions = {
        "forward": ["forward"],
        "reverse": ["reverse"],
        "bidirectional": ["forward", "reverse"],
    }.get(direction)
    if directions is None:
        raise n.error(f"direction '{direction}' is not forward, reverse or bidirectional")
    if (lens := n.input(4)) is not None:
        known = n.const_input(4, "sequence_lens")
        if known is None or not (known == seq).all():  # pyright: ignore
            raise n.unsupported("sequence_lens shorter than the sequence")
    del lens
    if kind == "LSTM" and n.attr("input_forget", 0):
        raise n.unsupported("input_forget=1")
    clip = n.attr("clip")
    acts = _activations(n, len(directions))
    dtype_like = x

    def clipped(v: Value) -> Value:
        return v if clip is None else n.op("clip", v, a_min=-float(clip), a_max=float(clip))

    ys, hs, cs = [], [], []
    flat_x = n.reshape(x, [seq * batch, n.shape(x)[2]])
    for d, name in enumerate(directions):
        wd = n.reshape(_rows(n, w, d, 1), n.shape(w)[1:])
        rd = n.reshape(_rows(n, r, d, 1), n.shape(r)[1:])
        proj = n.op("nn.dense", flat_x, wd)
        b = n.input(3)
        wb = rb = None
        if b is not None:
            bd = n.reshape(_rows(n, b, d, 1), [2 * gates * hidden])
            wb = n.op("strided_slice", bd, begin=[0], end=[gates * hidden], strides=[1])
            rb = n.op(
                "strided_slice", bd, begin=[gates * hidden], end=[2 * gates * hidden], strides=[1]
            )
            if kind == "GRU" and n.attr("linear_before_reset", 0):
                proj = n.op("add", proj, wb)  # Rb_h stays inside the reset product
            else:
                proj = n.op("add", proj, n.op("add", wb, rb))
        proj = n.reshape(proj, [seq, batch, gates * hidden])

        def initial(i: int, d: int = d) -> Value:  # (called in this iteration; d bound for clarity)
            v = n.input(i)
            if v is None:
                return np.zeros((batch, hidden), dtype=np.dtype(n.dtype(dtype_like)))
            if layout:
                v = n.op("transpose", v, axes=[1, 0, 2])
            return n.reshape(_rows(n, v, d, 1), [batch, hidden])

        h = initial(5)
        c = initial(6) if kind == "LSTM" else None
        peep = None
        if kind == "LSTM" and (p := n.input(7)) is not None:
            peep = n.reshape(_rows(n, p, d, 1), [3 * hidden])
        outputs: list[Value] = [None] * seq  # type: ignore[list-item]
        steps = range(seq) if name == "forward" else range(seq - 1, -1, -1)
        f, g = acts[d][0], acts[d][1] if gates > 1 else None
        for t in steps:
            xt = n.reshape(_rows(n, proj, t, 1), [batch, gates * hidden])
            if kind == "RNN":
                h = f(clipped(n.op("add", xt, n.op("nn.dense", h, rd))))
            elif kind == "GRU":
                h = _gru_step(n, xt, h, rd, rb, hidden, f, g, clipped)  # pyright: ignore
            else:
                h, c = _lstm_step(n, xt, h, c, rd, peep, hidden, f, g, acts[d][2], clipped)  # pyright: ignore
            outputs[t] = h
        ys.append(n.op("stack", outputs, axis=0))  # [seq, batch, hidden]
        hs.append(h)
        cs.append(c)
    y = n.op("stack", ys, axis=1)  # [seq, num_directions, batch, hidden]
    y_h = n.op("stack", hs, axis=0)
    y_c = n.op("stack", cs, axis=0) if kind == "LSTM" else None
    if layout:
        y = n.op("transpose", y, axes=[2, 0, 1, 3])
        y_h = n.op("transpose", y_h, axes=[1, 0, 2])
        y_c = None if y_c is None else n.op("transpose", y_c, axes=[1, 0, 2])
    return [y, y_h, y_c] if kind == "LSTM" else [y, y_h]


def _gru_step(
    n: Node,
    xt: Value,
    h: Value,
    r: Value,
    rb: Value | None,
    hidden: int,
    f: Activation,
    g: Activation,
    clipped: Callable[[Value], Value],
) -> Value:
    rz = n.op(
        "nn.dense",
        h,
        n.op("strided_slice", r, begin=[0, 0], end=[2 * hidden, hidden], strides=[1, 1]),
    )
    z = f(clipped(n.op("add", _gate(n, xt, 0, hidden), _gate(n, rz, 0, hidden))))
    reset = f(clipped(n.op("add", _gate(n, xt, 1, hidden), _gate(n, rz, 1, hidden))))
    rh = n.op("strided_slice", r, begin=[2 * hidden, 0], end=[3 * hidden, hidden], strides=[1, 1])
    if n.attr("linear_before_reset", 0):
        hr = n.op("nn.dense", h, rh)
        if rb is not None:
            hr = n.op(
                "add",
                hr,
                n.op("strided_slice", rb, begin=[2 * hidden], end=[3 * hidden], strides=[1]),
            )
        cand = n.op("add", _gate(n, xt, 2, hidden), n.op("multiply", reset, hr))
    else:
        cand = n.op(
            "add", _gate(n, xt, 2, hidden), n.op("nn.dense", n.op("multiply", reset, h), rh)
        )
    hh = g(clipped(cand))
    one = n.scalar(1, hh)
    return n.op("add", n.op("multiply", n.op("subtract", one, z), hh), n.op("multiply", z, h))


def _lstm_step(
    n: Node,
    xt: Value,
    h: Value,
    c: Value,
    r: Value,
    peep: Value | None,
    hidden: int,
    f: Activation,
    g: Activation,
    act_h: Activation,
    clipped: Callable[[Value], Value],
) -> tuple[Value, Value]:
    pre = n.op("add", xt, n.op("nn.dense", h, r))  # gates i, o, f, c

    def peephole(k: int, state: Value) -> Value:
        p = n.op("strided_slice", peep, begin=[k * hidden], end=[(k + 1) * hidden], strides=[1])  # pyright: ignore
        return n.op("multiply", p, state)

    gi, go, gf, gc = (_gate(n, pre, k, hidden) for k in range(4))
    if peep is not None:
        gi = n.op("add", gi, peephole(0, c))
        gf = n.op("add", gf, peephole(2, c))
    i, fg, cand = f(clipped(gi)), f(clipped(gf)), g(clipped(gc))
    c_next = n.op("add", n.op("multiply", fg, c), n.op("multiply", i, cand))
    if peep is not None:
        go = n.op("add", go, peephole(1, c_next))
    o = f(clipped(go))
    return n.op("multiply", o, act_h(c_next)), c_next
