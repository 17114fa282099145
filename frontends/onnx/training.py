"""ONNX's training operators (domain ai.onnx.preview.training): one optimizer step of
Adagrad, Momentum (standard and Nesterov) and Adam, elementwise over each of the n tensors
the node updates, as ONNX's reference computes them. The learning rate R and the step
count T are run-time scalars: T's tests (T > 0) are `where`s.
"""

from __future__ import annotations

from relay_opt.frontends.onnx.importer import Node, Value, converter

_TRAINING = "ai.onnx.preview.training"


def _groups(n: Node, count: int) -> list[list[Value]]:
    """The n-tuples after R and T: [X1..Xn], [G1..Gn], ... (`count` groups)."""
    rest = [n.required(i) for i in range(2, len(n.inputs))]
    if len(rest) % count:
        raise n.error(f"the inputs after R and T must be {count} groups of equal length")
    size = len(rest) // count
    return [rest[k * size : (k + 1) * size] for k in range(count)]


def _step(n: Node, like: Value) -> tuple[Value, Value, Value]:
    """R and T in x's dtype, and whether T > 0."""
    r = n.cast(n.reshape(n.required(0), []), n.dtype(like))
    t = n.reshape(n.required(1), [])
    later = n.op("greater", t, n.scalar(0, t))
    return r, n.cast(t, n.dtype(like)), later


def _regularized(n: Node, x: Value, g: Value) -> Value:
    """norm_coefficient * x + g."""
    return n.op("add", n.op("multiply", n.scalar(n.attr("norm_coefficient", 0.0), x), x), g)


@converter("Adagrad", domain=_TRAINING)
def adagrad(n: Node) -> list[Value]:
    xs, gs, hs = _groups(n, 3)
    new_x, new_h = [], []
    for x, g, h in zip(xs, gs, hs, strict=True):
        r, t, _ = _step(n, x)
        decay = n.scalar(n.attr("decay_factor", 0.0), x)
        rate = n.op("divide", r, n.op("add", n.scalar(1, x), n.op("multiply", t, decay)))
        gr = _regularized(n, x, g)
        h2 = n.op("add", h, n.op("multiply", gr, gr))
        scale = n.op("add", n.op("sqrt", h2), n.scalar(n.attr("epsilon", 1e-6), x))
        new_x.append(n.op("subtract", x, n.op("divide", n.op("multiply", rate, gr), scale)))
        new_h.append(h2)
    return new_x + new_h


@converter("Momentum", domain=_TRAINING)
def momentum(n: Node) -> list[Value]:
    xs, gs, vs = _groups(n, 3)
    nesterov = n.attr("mode") == "nesterov"
    if not nesterov and n.attr("mode") != "standard":
        raise n.error(f"mode '{n.attr('mode')}' is neither 'standard' nor 'nesterov'")
    new_x, new_v = [], []
    for x, g, v in zip(xs, gs, vs, strict=True):
        r, _, later = _step(n, x)
        alpha = n.scalar(n.attr("alpha"), x)
        beta = n.op("where", later, n.scalar(n.attr("beta"), x), n.scalar(1, x))
        gr = _regularized(n, x, g)
        v2 = n.op("add", n.op("multiply", alpha, v), n.op("multiply", beta, gr))
        direction = n.op("add", gr, n.op("multiply", alpha, v2)) if nesterov else v2
        new_x.append(n.op("subtract", x, n.op("multiply", r, direction)))
        new_v.append(v2)
    return new_x + new_v


@converter("Adam", domain=_TRAINING)
def adam(n: Node) -> list[Value]:
    xs, gs, vs, hs = _groups(n, 4)
    new_x, new_v, new_h = [], [], []
    for x, g, v, h in zip(xs, gs, vs, hs, strict=True):
        r, t, later = _step(n, x)
        alpha = n.scalar(n.attr("alpha", 0.9), x)
        beta = n.scalar(n.attr("beta", 0.999), x)
        one = n.scalar(1, x)
        gr = _regularized(n, x, g)
        v2 = n.op(
            "add", n.op("multiply", alpha, v), n.op("multiply", n.op("subtract", one, alpha), gr)
        )
        h2 = n.op(
            "add",
            n.op("multiply", beta, h),
            n.op("multiply", n.op("subtract", one, beta), n.op("multiply", gr, gr)),
        )
        root = n.op("add", n.op("sqrt", h2), n.scalar(n.attr("epsilon", 1e-6), x))
        # Bias correction from the second step on (at T = 0 the other branch divides by 0).
        corrected = n.op(
            "divide",
            n.op("multiply", r, n.op("sqrt", n.op("subtract", one, n.op("power", beta, t)))),
            n.op("subtract", one, n.op("power", alpha, t)),
        )
        rate = n.op("where", later, corrected, r)
        stepped = n.op("subtract", x, n.op("multiply", rate, n.op("divide", v2, root)))
        post = n.scalar(1 - n.attr("norm_coefficient_post", 0.0), x)
        new_x.append(n.op("multiply", post, stepped))
        new_v.append(v2)
        new_h.append(h2)
    return new_x + new_v + new_h
