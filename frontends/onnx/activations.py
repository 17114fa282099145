"""ONNX's activation functions, one table for the operators (Relu, Elu, ...) and for the gate
activations of RNN, GRU and LSTM.

Each entry writes f(x) with Relay operators, finite wherever f is (Softplus of a large x
does not overflow), with f's limits at ±inf (Softsign(±inf) = ±1, HardSwish(-inf) = 0) and
nan kept nan. ThresholdedRelu maps nan to 0, as ONNX's `x > alpha ? x : 0` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.frontends.onnx.importer import Node, Value


def _gated(n: Node, x: Value, g: Value) -> Value:
    """x * g, and 0 where g is 0: there f(x) = x * g tends to 0, but inf * 0 is nan."""
    return n.op("where", n.op("equal", g, n.scalar(0, g)), g, n.op("multiply", x, g))


def relu(n: Node, x: Value) -> Value:
    return n.op("nn.relu", x)


def tanh(n: Node, x: Value) -> Value:
    return n.op("tanh", x)


def sigmoid(n: Node, x: Value) -> Value:
    return n.op("sigmoid", x)


def affine(n: Node, x: Value, alpha: float, beta: float) -> Value:
    return n.op("add", n.op("multiply", x, n.scalar(alpha, x)), n.scalar(beta, x))


def leaky_relu(n: Node, x: Value, alpha: float) -> Value:
    return n.op("nn.leaky_relu", x, alpha=float(alpha))


def thresholded_relu(n: Node, x: Value, alpha: float) -> Value:
    return n.op("where", n.op("greater", x, n.scalar(alpha, x)), x, n.scalar(0, x))


def scaled_tanh(n: Node, x: Value, alpha: float, beta: float) -> Value:
    scaled = n.op("multiply", x, n.scalar(beta, x))
    return n.op("multiply", n.op("tanh", scaled), n.scalar(alpha, x))


def hard_sigmoid(n: Node, x: Value, alpha: float, beta: float) -> Value:
    y = n.op("add", n.op("multiply", x, n.scalar(alpha, x)), n.scalar(beta, x))
    return n.op("clip", y, a_min=0.0, a_max=1.0)


def _elu_negative(n: Node, x: Value, alpha: float) -> Value:
    return n.op("multiply", n.op("subtract", n.op("exp", x), n.scalar(1, x)), n.scalar(alpha, x))


def elu(n: Node, x: Value, alpha: float) -> Value:
    return n.op("where", n.op("greater", x, n.scalar(0, x)), x, _elu_negative(n, x, alpha))


def softsign(n: Node, x: Value) -> Value:
    # x / (1 + |x|) is inf / inf at ±inf; the largest finite x already gives exactly ±1.
    big = float(np.finfo(numpy_dtype(n.dtype(x))).max)
    c = n.op("clip", x, a_min=-big, a_max=big)
    return n.op("divide", c, n.op("add", n.op("abs", c), n.scalar(1, c)))


def _log1p(n: Node, y: Value) -> Value:
    """log(1 + y) to a few ulps also for a small y, where log(1 + y) keeps only the digits of
    y that survive the sum (Goldberg): log(u) * y / (u - 1) with u = 1 + y rounded."""
    one = n.scalar(1, y)
    u = n.op("add", y, one)
    d = n.op("subtract", u, one)
    exact = n.op("multiply", n.op("log", u), n.op("divide", y, d))
    return n.op("where", n.op("equal", d, n.scalar(0, y)), y, exact)


def softplus(n: Node, x: Value) -> Value:
    # log(1 + exp(x)) without overflow: max(x, 0) + log(1 + exp(-|x|)).
    return n.op("add", n.op("nn.relu", x), _log1p(n, n.op("exp", n.op("negative", n.op("abs", x)))))


def selu(n: Node, x: Value, alpha: float, gamma: float) -> Value:
    return n.op("multiply", elu(n, x, alpha), n.scalar(gamma, x))


def celu(n: Node, x: Value, alpha: float) -> Value:
    neg = _elu_negative(n, n.op("divide", x, n.scalar(alpha, x)), alpha)
    return n.op("add", n.op("nn.relu", x), n.op("minimum", neg, n.scalar(0, x)))


def hard_swish(n: Node, x: Value) -> Value:
    return _gated(n, x, hard_sigmoid(n, x, 1 / 6, 0.5))


def mish(n: Node, x: Value) -> Value:
    return _gated(n, x, n.op("tanh", softplus(n, x)))


def swish(n: Node, x: Value, alpha: float) -> Value:
    scaled = x if alpha == 1.0 else n.op("multiply", x, n.scalar(alpha, x))
    return _gated(n, x, n.op("sigmoid", scaled))


def gelu(n: Node, x: Value, approximate: str) -> Value:
    if approximate == "tanh":
        cube = n.op("multiply", n.op("multiply", x, x), x)
        inner = n.op("add", x, n.op("multiply", cube, n.scalar(0.044715, x)))
        t = n.op("tanh", n.op("multiply", inner, n.scalar(math.sqrt(2 / math.pi), x)))
    else:
        t = n.op("erf", n.op("multiply", x, n.scalar(1 / math.sqrt(2), x)))
    # 0.5 * x * (1 + t), the half taken first as before; 1 + t is 0 only towards -inf.
    return _gated(n, n.op("multiply", x, n.scalar(0.5, x)), n.op("add", t, n.scalar(1, x)))


@dataclass(frozen=True)
class Activation:
    build: Callable[..., Value]
    """(node, x, *params) -> f(x)."""
    params: tuple[tuple[str, Any], ...] = ()
    """The attributes f takes, in build's order, with ONNX's defaults."""
    operator: bool = True
    """An ONNX operator of the same name (Affine and ScaledTanh exist only inside RNNs)."""

    def defaults(self) -> list[Any]:
        # An ONNX float attribute is a float32: a missing one is its float32 default, so that
        # float64 tensors see the same alpha whether it is given or not.
        return [float(np.float32(d)) if isinstance(d, float) else d for _, d in self.params]

    def of_node(self, n: Node, x: Value) -> Value:
        """f(x) with the parameters an operator node gives as attributes."""
        names = [name for name, _ in self.params]
        values = [n.attr(k, d) for k, d in zip(names, self.defaults(), strict=True)]
        return self.build(n, x, *values)


ACTIVATIONS: dict[str, Activation] = {
    "Relu": Activation(relu),
    "Tanh": Activation(tanh),
    "Sigmoid": Activation(sigmoid),
    "Affine": Activation(affine, (("alpha", 1.0), ("beta", 0.0)), operator=False),
    "LeakyRelu": Activation(leaky_relu, (("alpha", 0.01),)),
    "ThresholdedRelu": Activation(thresholded_relu, (("alpha", 1.0),)),
    "ScaledTanh": Activation(scaled_tanh, (("alpha", 1.0), ("beta", 1.0)), operator=False),
    "HardSigmoid": Activation(hard_sigmoid, (("alpha", 0.2), ("beta", 0.5))),
    "Elu": Activation(elu, (("alpha", 1.0),)),
    "Softsign": Activation(softsign),
    "Softplus": Activation(softplus),
    "Selu": Activation(
        selu, (("alpha", 1.67326319217681884765625), ("gamma", 1.05070102214813232421875))
    ),
    "Celu": Activation(celu, (("alpha", 1.0),)),
    "HardSwish": Activation(hard_swish),
    "Mish": Activation(mish),
    "Swish": Activation(swish, (("alpha", 1.0),)),
    "Gelu": Activation(gelu, (("approximate", "none"),)),
}

OPERATORS = [name for name, a in ACTIVATIONS.items() if a.operator]
"""The activations that are ONNX operators (ops.py converts them)."""

RECURRENT = [
    "Relu",
    "Tanh",
    "Sigmoid",
    "Affine",
    "LeakyRelu",
    "ThresholdedRelu",
    "ScaledTanh",
    "HardSigmoid",
    "Elu",
    "Softsign",
    "Softplus",
]
"""The activations the ONNX spec allows in RNN, GRU and LSTM (their parameters are alpha, beta)."""

_RECURRENT_BY_KEY = {name.lower(): name for name in RECURRENT}


def recurrent_activation(
    n: Node, name: str, alphas: Iterator[float], betas: Iterator[float]
) -> Callable[[Value], Value]:
    """The gate activation `name` of an RNN, GRU or LSTM node (names match case-insensitively,
    as in onnxruntime). An activation that takes alpha (beta) takes the next unread value of
    activation_alpha (activation_beta): the spec consumes them in the order of the activations.
    Missing values are the ONNX defaults."""
    key = _RECURRENT_BY_KEY.get(str(name).lower())
    if key is None:
        raise n.error(f"activation '{name}' is not one of {', '.join(RECURRENT)}")
    act = ACTIVATIONS[key]
    names = [p for p, _ in act.params]
    values = [
        float(next(alphas if p == "alpha" else betas, d))
        for p, d in zip(names, act.defaults(), strict=True)
    ]
    return lambda x: act.build(n, x, *values)
