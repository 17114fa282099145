"""RNN, GRU and LSTM: unrolled over a short sequence, a loop over a long one.

The input projection X·Wᵀ + Wb (+ Rb) is one dense over all time steps; each
step then adds H·Rᵀ, applies the gate activations and produces the next
state. Up to UNROLL_STEPS steps the program is unrolled: straight-line Relay
that fuse-ops and the code generator see whole. A longer sequence becomes the
recursive step function Scan and Loop import as (control_flow._emit_loop), which
tail-calls-to-loops turns into a native loop: LLVM's -O3 time on an unrolled
body grows faster than its length (a GRU of 128 steps took 63 s), a loop's does
not. A bidirectional layer is two directions stacked. With sequence_lens, a batch row past
its length keeps its state and outputs zeros (masks on the step number); a row of length 0
ends with zero states (Y_h, Y_c), as onnxruntime gives them.

A `?` sequence length is a loop whose trip count is read at run time (Y's time axis `?`); a
`?` batch is a `?` dim of every state, the zeros of a missing initial state broadcast to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.ir import SSAValue

from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.types import DYNAMIC
from relay_opt.frontends.onnx.activations import recurrent_activation
from relay_opt.frontends.onnx.control_flow import _emit_loop, _ScanOutput
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


_WHOLE = int(np.iinfo(np.int64).max)
"""A slice's end that takes a whole axis, `?` ones too (clamped to the size at run time)."""


def _rows(n: Node, x: Value, start: int, count: int) -> Value:
    """x[start:start+count] on axis 0."""
    shape = n.shape(x)
    return n.op(
        "strided_slice",
        x,
        begin=[start] + [0] * (len(shape) - 1),
        end=[start + count] + [_WHOLE if d == DYNAMIC else d for d in shape[1:]],
        strides=[1] * len(shape),
    )


def _gate(n: Node, x: Value, k: int, hidden: int) -> Value:
    """Gate k of a [batch, gates*hidden] value."""
    b = n.shape(x)[0]
    end = [_WHOLE if b == DYNAMIC else b, (k + 1) * hidden]
    return n.op("strided_slice", x, begin=[0, k * hidden], end=end, strides=[1, 1])


def _static_or_any(d: int) -> int:
    """A reshape's size for a dim: itself, or -1 (inferred) when it is `?`."""
    return -1 if d == DYNAMIC else d


def _dim(d: int) -> str:
    return "?" if d == DYNAMIC else str(d)


def _sizes(n: Node, x: Value, axes: Sequence[int]) -> Value:
    """The sizes of x's axes, an int64 vector read at run time."""
    return n.op("take", n.op("shape_of", x, dtype="int64"), np.array(list(axes), np.int64))


def _time_major(n: Node, flat: Value, x: Value, width: int) -> Value:
    """flat [seq * batch, width] as [seq, batch, width], seq and batch x's first two dims
    (at most one of them `?`: a reshape infers it; both: their sizes read at run time)."""
    seq, batch = n.shape(x)[:2]
    if seq != DYNAMIC or batch != DYNAMIC:
        return n.reshape(flat, [_static_or_any(seq), _static_or_any(batch), width])
    shape = n.op("concatenate", [_sizes(n, x, [0, 1]), np.array([width], np.int64)], axis=0)
    return n.op("dyn.reshape", flat, shape)


# No longest sequence: compiled, the loop writes each step's row of Y in place
# (control_flow._emit_loop): an LSTM of hidden size 64 takes 1.2, 1.4 and 1.4 us a step at
# 100, 1,000 and 4,000 steps (thread CPU time at -O3, shared machine; a `where` over the
# whole of Y took 1.7, 8.1 and 41), and the interpreter writes it in place too
# (interpreter._sole_holder), so both are linear in the length.

UNROLL_STEPS = 64
"""The longest sequence unrolled. Measured (thread CPU time, shared machine): the unrolled form
compiles in 3.1 s at 32 steps and 7.3 s at 64 for the #431 GRU (hidden 3), 2.6 s and 5.6 s for
the benchmark LSTM (hidden 256), and -O3's time grows super-linearly beyond (63 s at 128
steps); the loop compiles in 0.2-0.9 s at any length but runs 16-22% slower on the LSTM at 32
and 64 steps (no fusion across steps)."""


class _Direction:
    """One direction's weights and activations: what a step reads besides its state."""

    def __init__(
        self,
        kind: str,
        hidden: int,
        r: Value,
        rb: Value | None,
        peep: Value | None,
        acts: list[Activation],
        clip: float | None,
        linear_before_reset: bool,
    ):
        self.kind, self.hidden, self.r, self.rb, self.peep = kind, hidden, r, rb, peep
        self.acts, self.clip, self.linear_before_reset = acts, clip, linear_before_reset

    def step(self, n: Node, xt: Value, h: Value, c: Value | None) -> tuple[Value, Value | None]:
        """The next (h, c) from this step's projected input xt [batch, gates*hidden]."""
        clip = self.clip

        def clipped(v: Value) -> Value:
            return v if clip is None else n.op("clip", v, a_min=-clip, a_max=clip)

        f = self.acts[0]
        if self.kind == "RNN":
            return f(clipped(n.op("add", xt, n.op("nn.dense", h, self.r)))), None
        if self.kind == "GRU":
            return _gru_step(n, xt, h, self, clipped), None
        assert c is not None
        return _lstm_step(n, xt, h, c, self, clipped)

    def with_values(self, r: Value, rb: Value | None, peep: Value | None) -> _Direction:
        """The same direction reading r, rb and peep (parameters of a loop's function)."""
        return _Direction(
            self.kind, self.hidden, r, rb, peep, self.acts, self.clip, self.linear_before_reset
        )


@converter("RNN", "GRU", "LSTM")
def recurrent(n: Node) -> Sequence[Value | None]:
    kind = n.op_type
    x, w, r = n.required(0), n.required(1), n.required(2)
    layout = n.attr("layout", 0)
    if layout:
        x = n.op("transpose", x, axes=[1, 0, 2])
    seq, batch, features = n.shape(x)
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
    lens = n.input(4)
    if lens is not None and not (
        n.rank(lens) == 1 and (DYNAMIC in (batch, n.shape(lens)[0]) or n.shape(lens) == (batch,))
    ):
        raise n.error(f"sequence_lens has shape {list(n.shape(lens))}, not [{_dim(batch)}]")
    if isinstance(lens, np.ndarray):  # (against a `?` sequence, lengths past its end mask nothing)
        longest = np.iinfo(np.int64).max if seq == DYNAMIC else seq
        if not ((lens >= 0) & (lens <= longest)).all():
            raise n.error(
                f"sequence_lens {lens.tolist()} is not {_dim(batch)} lengths of 0 to {_dim(seq)}"
            )
        if (lens == seq).all():
            lens = None  # every row the whole sequence: no masks
    if lens is not None:
        lens = n.reshape(n.cast(lens, "int64"), [_static_or_any(batch), 1])
    if kind == "LSTM" and n.attr("input_forget", 0):
        raise n.unsupported("input_forget=1")
    clip = n.attr("clip")
    acts = _activations(n, len(directions))
    dtype_like = x
    linear_before_reset = kind == "GRU" and bool(n.attr("linear_before_reset", 0))

    ys, hs, cs = [], [], []
    flat_x = n.reshape(x, [-1 if DYNAMIC in (seq, batch) else seq * batch, features])
    for d, name in enumerate(directions):
        wd = n.reshape(_rows(n, w, d, 1), n.shape(w)[1:])
        rd = n.reshape(_rows(n, r, d, 1), n.shape(r)[1:])
        proj = n.op("nn.dense", flat_x, wd)
        b = n.input(3)
        rb = None
        if b is not None:
            bd = n.reshape(_rows(n, b, d, 1), [2 * gates * hidden])
            wb = n.op("strided_slice", bd, begin=[0], end=[gates * hidden], strides=[1])
            rb = n.op(
                "strided_slice", bd, begin=[gates * hidden], end=[2 * gates * hidden], strides=[1]
            )
            both = rb
            if linear_before_reset:  # Rb_h stays inside the reset product; Rb_z, Rb_r join Wb
                rb_zr = n.op("strided_slice", rb, begin=[0], end=[2 * hidden], strides=[1])
                no_h = np.zeros(hidden, numpy_dtype(n.dtype(rb)))
                both = n.op("concatenate", [rb_zr, no_h], axis=0)
            proj = n.op("add", proj, n.op("add", wb, both))
        proj = _time_major(n, proj, x, gates * hidden)

        def initial(i: int, d: int = d) -> Value:  # (called in this iteration; d bound for clarity)
            v = n.input(i)
            if v is None and batch != DYNAMIC:
                return np.zeros((batch, hidden), dtype=np.dtype(n.dtype(dtype_like)))
            if v is None:  # zeros as many rows as the batch
                shape = n.op(
                    "concatenate", [_sizes(n, x, [1]), np.array([hidden], np.int64)], axis=0
                )
                return n.op("dyn.broadcast_to", n.scalar(0, dtype_like), shape)
            if layout:
                v = n.op("transpose", v, axes=[1, 0, 2])
            return n.reshape(_rows(n, v, d, 1), [_static_or_any(batch), hidden])

        h = initial(5)
        c = initial(6) if kind == "LSTM" else None
        peep = None
        if kind == "LSTM" and (p := n.input(7)) is not None:
            peep = n.reshape(_rows(n, p, d, 1), [3 * hidden])
        cell = _Direction(
            kind,
            hidden,
            rd,
            rb if linear_before_reset else None,  # else it is in proj
            peep,
            acts[d],
            None if clip is None else float(clip),
            linear_before_reset,
        )
        reverse = name == "reverse"
        if (seq == DYNAMIC or seq > UNROLL_STEPS) and batch == DYNAMIC:
            raise n.unsupported(
                f"{kind} over a ? batch and a sequence of {_dim(seq)} steps, a loop: its steps' "
                "rows of Y have a ? dim, which dyn.update_slice does not write yet (a ? batch "
                f"is imported up to {UNROLL_STEPS} steps)"
            )
        if seq == DYNAMIC or seq > UNROLL_STEPS:
            y, h, c = _looped(n, cell, proj, h, c, lens, reverse)
        else:
            y, h, c = _unrolled(n, cell, proj, h, c, lens, reverse)
        if lens is not None:  # a row of no steps ends in zeros, not its initial state
            # (as onnxruntime: the ONNX spec leaves it open, its reference takes no lengths)
            empty = n.op("equal", lens, np.array(0, np.int64))
            h = n.op("where", empty, n.scalar(0, h), h)
            if c is not None:
                c = n.op("where", empty, n.scalar(0, c), c)
        ys.append(y)
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


def _masked_step(
    n: Node,
    cell: _Direction,
    xt: Value,
    h: Value,
    c: Value | None,
    t: Value,
    lens: Value | None,
) -> tuple[Value, Value | None, Value]:
    """(h, c, this step's row of Y) at step t: a batch row past its sequence_lens keeps its
    state and outputs 0 (counting down, a reverse direction starts at the row's last step)."""
    h_next, c_next = cell.step(n, xt, h, c)
    if lens is None:
        return h_next, c_next, h_next
    active = n.op("less", t, lens)  # [batch, 1]
    h_next = n.op("where", active, h_next, h)
    if c_next is not None:
        c_next = n.op("where", active, c_next, c)  # pyright: ignore[reportArgumentType]
    return h_next, c_next, n.op("where", active, h_next, n.scalar(0, h_next))


def _unrolled(
    n: Node,
    cell: _Direction,
    proj: Value,
    h: Value,
    c: Value | None,
    lens: Value | None,
    reverse: bool,
) -> tuple[Value, Value, Value | None]:
    """(Y [seq, batch, hidden], the last h, the last c), one copy of the step per time step."""
    seq, batch, width = n.shape(proj)
    outputs: list[Value] = [None] * seq  # type: ignore[list-item]
    for t in range(seq - 1, -1, -1) if reverse else range(seq):
        xt = n.reshape(_rows(n, proj, t, 1), [_static_or_any(batch), width])
        h, c, outputs[t] = _masked_step(n, cell, xt, h, c, np.array(t, np.int64), lens)
    return n.op("stack", outputs, axis=0), h, c


def _looped(
    n: Node,
    cell: _Direction,
    proj: Value,
    h: Value,
    c: Value | None,
    lens: Value | None,
    reverse: bool,
) -> tuple[Value, Value, Value | None]:
    """(Y, the last h, the last c) from a recursive function of one step per call: it takes
    the states, then proj and the weights (the run-time ones become its parameters), and
    writes its h into Y at its time step (counted down when `reverse`). A `?` sequence length
    is read at run time, outside the function (its trip count) and inside (`reverse`)."""
    seq = n.shape(proj)[0]
    trips: int | Value = seq if seq != DYNAMIC else n.reshape(_sizes(n, proj, [0]), [])
    states = [h] if c is None else [h, c]
    extra = [proj, cell.r, cell.rb, cell.peep, lens]
    present = [v for v in extra if v is not None]

    def step(
        i: SSAValue, _cond: SSAValue, values: list[Value]
    ) -> tuple[Value | None, list[Value], list[Value]]:
        state, rest = values[: len(states)], iter(values[len(states) :])
        proj_in, r_in, rb_in, peep_in, lens_in = (None if v is None else next(rest) for v in extra)
        assert proj_in is not None and r_in is not None
        t: Value = i
        if reverse:
            count = (
                np.array(seq, np.int64)
                if seq != DYNAMIC
                else n.reshape(_sizes(n, proj_in, [0]), [])
            )
            last = n.op("subtract", count, np.array(1, np.int64))
            t = n.op("subtract", last, i)
        xt = n.op("take", proj_in, t, axis=0)
        h_next, c_next, y = _masked_step(
            n,
            cell.with_values(r_in, rb_in, peep_in),
            xt,
            state[0],
            state[1] if c is not None else None,
            t,
            lens_in,
        )
        carried = [h_next] if c_next is None else [h_next, c_next]
        return None, carried, [y]

    finals, (y,) = _emit_loop(
        n,
        f"onnx_{n.op_type.lower()}",
        trips,
        np.array(True),
        states,
        None,
        [_ScanOutput(0, reverse)],
        step,
        present,
    )
    return y, finals[0], finals[1] if c is not None else None


def _gru_step(
    n: Node, xt: Value, h: Value, cell: _Direction, clipped: Callable[[Value], Value]
) -> Value:
    hidden, r, rb = cell.hidden, cell.r, cell.rb
    f, g = cell.acts[0], cell.acts[1]
    rz = n.op(
        "nn.dense",
        h,
        n.op("strided_slice", r, begin=[0, 0], end=[2 * hidden, hidden], strides=[1, 1]),
    )
    z = f(clipped(n.op("add", _gate(n, xt, 0, hidden), _gate(n, rz, 0, hidden))))
    reset = f(clipped(n.op("add", _gate(n, xt, 1, hidden), _gate(n, rz, 1, hidden))))
    rh = n.op("strided_slice", r, begin=[2 * hidden, 0], end=[3 * hidden, hidden], strides=[1, 1])
    if cell.linear_before_reset:
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
    cell: _Direction,
    clipped: Callable[[Value], Value],
) -> tuple[Value, Value]:
    hidden, peep = cell.hidden, cell.peep
    f, g, act_h = cell.acts
    pre = n.op("add", xt, n.op("nn.dense", h, cell.r))  # gates i, o, f, c

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
