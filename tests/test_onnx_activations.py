"""ONNX's activations (frontends/onnx/activations.py) as operators and as the gate activations
of RNN, GRU and LSTM: compiled and interpreted, against numpy written from the ONNX spec, at
extreme inputs (±100, ±inf, nan) and random ones; nan and inf must sit where numpy has them.

The numpy references take f's limits at ±inf (Softsign(inf) = 1, HardSwish(-inf) = 0) where
evaluating the formula gives nan; onnx's reference evaluator checks them on finite inputs.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from relay_opt.frontends.onnx import OnnxImportError, import_onnx
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

# Extreme inputs overflow numpy's exp in the interpreter on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _times(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """x * g(x) for a g that decays to 0 faster than x grows: 0 where g is 0, also at ±inf."""
    return np.where(np.isinf(x) & (g == 0), 0.0, x * g)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _elu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _hard_sigmoid(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    return np.clip(alpha * x + beta, 0, 1)


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        t = np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
    else:
        t = _erf(x / math.sqrt(2))
    return _times(x, 0.5 * (1 + t))


# name -> (f in float64, its parameters with the spec's defaults, other values to test)
REFERENCE = {
    "Relu": (lambda x: np.maximum(x, 0), {}, {}),
    "Tanh": (np.tanh, {}, {}),
    "Sigmoid": (_sigmoid, {}, {}),
    "Affine": (
        lambda x, alpha, beta: alpha * x + beta,
        {"alpha": 1.0, "beta": 0.0},
        {"alpha": -0.5, "beta": 0.25},
    ),
    "LeakyRelu": (lambda x, alpha: np.where(x >= 0, x, alpha * x), {"alpha": 0.01}, {"alpha": 0.3}),
    "ThresholdedRelu": (
        lambda x, alpha: np.where(x > alpha, x, 0),
        {"alpha": 1.0},
        {"alpha": -0.5},
    ),
    "ScaledTanh": (
        lambda x, alpha, beta: alpha * np.tanh(beta * x),
        {"alpha": 1.0, "beta": 1.0},
        {"alpha": 1.5, "beta": 0.4},
    ),
    "HardSigmoid": (_hard_sigmoid, {"alpha": 0.2, "beta": 0.5}, {"alpha": 0.3, "beta": 0.4}),
    "Elu": (_elu, {"alpha": 1.0}, {"alpha": 0.7}),
    "Softsign": (lambda x: np.where(np.isinf(x), np.sign(x), x / (1 + np.abs(x))), {}, {}),
    "Softplus": (lambda x: np.logaddexp(0, x), {}, {}),
    "Selu": (
        lambda x, alpha, gamma: gamma * _elu(x, alpha),
        {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875},
        {"alpha": 2.0, "gamma": 0.5},
    ),
    "Celu": (
        lambda x, alpha: np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(x / alpha)),
        {"alpha": 1.0},
        {"alpha": 2.5},
    ),
    "HardSwish": (lambda x: _times(x, _hard_sigmoid(x, 1 / 6, 0.5)), {}, {}),
    "Mish": (lambda x: _times(x, np.tanh(np.logaddexp(0, x))), {}, {}),
    "Swish": (lambda x, alpha: _times(x, _sigmoid(alpha * x)), {"alpha": 1.0}, {"alpha": -1.5}),
    "Gelu": (_gelu, {"approximate": "none"}, {"approximate": "tanh"}),
}
OPERATORS = [name for name in REFERENCE if name not in ("Affine", "ScaledTanh")]
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

# Several roundings of the dtype (exp, log, tanh and erf of libm against numpy's) plus a
# cancellation in exp(x) - 1 near 0, which costs absolute, not relative, accuracy.
TOLERANCE = {np.float16: (4e-3, 2e-3), np.float32: (2e-6, 5e-7), np.float64: (1e-14, 1e-15)}

EXTREMES = [-np.inf, -100, -20, -3, -1, -1e-3, 0, 1e-3, 0.5, 1, 3, 20, 100, np.inf, np.nan]


def _inputs(dtype: type, rng: np.random.Generator) -> np.ndarray:
    x = np.concatenate([EXTREMES, rng.standard_normal(33 - len(EXTREMES)) * 4])
    return x.reshape(3, 11).astype(dtype)


def _onnx_floats(params: dict) -> dict:
    """Parameters as ONNX holds them: float attributes are float32."""
    return {k: float(np.float32(v)) if isinstance(v, float) else v for k, v in params.items()}


def _reference(name: str, x: np.ndarray, params: dict) -> np.ndarray:
    fn, defaults, _ = REFERENCE[name]
    with np.errstate(all="ignore"):
        return fn(x.astype(np.float64), **_onnx_floats({**defaults, **params})).astype(x.dtype)


def _check(got: np.ndarray, expected: np.ndarray, dtype: type, what: str) -> None:
    rtol, atol = TOLERANCE[dtype]
    assert got.dtype == expected.dtype, what
    # assert_allclose requires nan where expected is nan and the same inf where it is inf.
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)


def _operators_model(params: str, dtype: type) -> tuple[onnx.ModelProto, list[tuple[str, dict]]]:
    """Every activation operator on one input x, one output each."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    nodes, outputs, cases = [], [], []
    for name in OPERATORS:
        _, defaults, custom = REFERENCE[name]
        attrs = custom if params == "custom" else {}
        nodes.append(helper.make_node(name, ["x"], [f"y_{name}"], **attrs))
        outputs.append(helper.make_tensor_value_info(f"y_{name}", elem, [3, 11]))
        cases.append((name, attrs))
    inputs = [helper.make_tensor_value_info("x", elem, [3, 11])]
    graph = helper.make_graph(nodes, "activations", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 24)])
    return model, cases


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("params", ["default", "custom"])
def test_activation_operators_compiled_and_interpreted(params: str, dtype: type):
    model, cases = _operators_model(params, dtype)
    x = _inputs(dtype, np.random.default_rng(0))
    imported = import_onnx(model)
    runs = (
        ("compiled", compile(imported.module)(x)),
        ("interpreted", interpret(imported.module, [x])),
    )
    for how, results in runs:
        for (name, attrs), got in zip(cases, results, strict=True):
            what = f"{how} {name} {attrs} {dtype.__name__}"
            _check(np.asarray(got), _reference(name, x, attrs), dtype, what)


@pytest.mark.parametrize("params", ["default", "custom"])
def test_numpy_references_agree_with_onnx_reference_evaluator(params: str):
    """The references above are ONNX's operators (checked on finite inputs, where the evaluator's
    formulas hold)."""
    model, cases = _operators_model(params, np.float32)
    x = (np.random.default_rng(1).standard_normal((3, 11)) * 4).astype(np.float32)
    x[0, :4] = [-1e-3, 0, 1, 30]
    results = ReferenceEvaluator(model).run(None, {"x": x})
    for (name, attrs), expected in zip(cases, results, strict=True):
        got = _reference(name, x, attrs)
        np.testing.assert_allclose(got, expected, rtol=2e-6, atol=5e-7, err_msg=name)


# -- RNN, GRU, LSTM -------------------------------------------------------------------------------

HIDDEN, INPUT, SEQ = 3, 2, 3
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}

# (operator, direction, activations, activation_alpha, activation_beta): all eleven of the spec's
# activations, given and default parameters, consumed across directions.
RECURRENT_CASES = [
    ("RNN", "bidirectional", ["Affine", "ScaledTanh"], [0.5, 0.8], [0.1, 1.5]),
    ("RNN", "forward", ["Relu"], [], []),
    ("GRU", "reverse", ["HardSigmoid", "Softplus"], [0.3], [0.4]),
    ("GRU", "bidirectional", ["Softsign", "Elu", "Sigmoid", "ThresholdedRelu"], [0.7, 0.2], []),
    # Positional reading would give Elu 0.9 and leave ScaledTanh's alpha at its default.
    ("LSTM", "forward", ["Sigmoid", "Elu", "ScaledTanh"], [0.6, 0.9], [1.2]),
    (
        "LSTM",
        "bidirectional",
        ["HardSigmoid", "LeakyRelu", "Softplus", "relu", "Tanh", "ThresholdedRelu"],
        [0.25],
        [],
    ),
]


def _recurrent_model(
    kind: str,
    direction: str,
    acts: list[str],
    alphas: list[float],
    betas: list[float],
    rng: np.random.Generator,
) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    dirs, g = 2 if direction == "bidirectional" else 1, GATES[kind]
    weights = {
        "W": (dirs, g * HIDDEN, INPUT),
        "R": (dirs, g * HIDDEN, HIDDEN),
        "B": (dirs, 2 * g * HIDDEN),
    }
    inits = {
        name: (rng.uniform(0.2, 0.8, shape) * rng.choice([-1, 1], shape)).astype(np.float32)
        for name, shape in weights.items()
    }  # no zero weight: inf * 0 would hide an inf
    attrs: dict = {"hidden_size": HIDDEN, "direction": direction, "activations": acts}
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    outputs = ["Y", "Y_h"] + (["Y_c"] if kind == "LSTM" else [])
    node = helper.make_node(kind, ["X", "W", "R", "B"], outputs, name="rnn", **attrs)
    f32 = onnx.TensorProto.FLOAT
    shapes = {"Y": [SEQ, dirs, 4, HIDDEN], "Y_h": [dirs, 4, HIDDEN], "Y_c": [dirs, 4, HIDDEN]}
    graph = helper.make_graph(
        [node],
        "rnn",
        [helper.make_tensor_value_info("X", f32, [SEQ, 4, INPUT])],
        [helper.make_tensor_value_info(o, f32, shapes[o]) for o in outputs],
        [numpy_helper.from_array(a, name) for name, a in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), inits


def _gate_functions(
    acts: list[str], alphas: list[float], betas: list[float], other_defaults: dict | None = None
) -> list:
    """numpy gate activations, taking alpha and beta in turn as the spec consumes them."""
    alpha_iter, beta_iter = iter(alphas), iter(betas)
    fns = []
    for name in acts:
        name = next(n for n in RECURRENT if n.lower() == name.lower())
        fn, defaults, _ = REFERENCE[name]
        defaults = {**defaults, **(other_defaults or {}).get(name, {})}
        params = _onnx_floats(
            {p: next(alpha_iter if p == "alpha" else beta_iter, d) for p, d in defaults.items()}
        )
        fns.append(lambda x, fn=fn, params=params: fn(x, **params))
    return fns


def _recurrent_reference(
    kind: str, direction: str, fns: list, x: np.ndarray, w: dict[str, np.ndarray]
) -> list[np.ndarray]:
    """ONNX's equations (layout 0, no initial state, no peepholes, linear_before_reset 0)."""
    hsz, g = HIDDEN, GATES[kind]
    names = ["forward", "reverse"] if direction == "bidirectional" else [direction]
    per = len(fns) // len(names)
    x = x.astype(np.float64)
    ys, hs, cs = [], [], []
    for d, name in enumerate(names):
        f = fns[d * per : (d + 1) * per]
        wd, rd, bd = (w[k][d].astype(np.float64) for k in "WRB")
        wb, rb = bd[: g * hsz], bd[g * hsz :]
        h = c = np.zeros((x.shape[1], hsz))
        out = [None] * SEQ
        for t in range(SEQ) if name == "forward" else reversed(range(SEQ)):
            gx = x[t] @ wd.T + wb
            if kind == "RNN":
                h = f[0](gx + h @ rd.T + rb)
            elif kind == "GRU":
                gh = h @ rd[: 2 * hsz].T + rb[: 2 * hsz]
                z, r = f[0](gx[:, :hsz] + gh[:, :hsz]), f[0](gx[:, hsz : 2 * hsz] + gh[:, hsz:])
                hh = f[1](gx[:, 2 * hsz :] + (r * h) @ rd[2 * hsz :].T + rb[2 * hsz :])
                h = (1 - z) * hh + z * h
            else:
                pre = gx + h @ rd.T + rb  # i, o, f, c
                i, o, fg = (f[0](pre[:, k * hsz : (k + 1) * hsz]) for k in range(3))
                c = fg * c + i * f[1](pre[:, 3 * hsz :])
                h = o * f[2](c)
            out[t] = h
        ys.append(np.stack(out))
        hs.append(h)
        cs.append(c)
    results = [np.stack(ys, axis=1), np.stack(hs)] + ([np.stack(cs)] if kind == "LSTM" else [])
    return [r.astype(np.float32) for r in results]


def _sequence(rng: np.random.Generator) -> np.ndarray:
    """Batch rows: random; ±100; one ±inf among finite values; nan from the second step on."""
    x = rng.standard_normal((SEQ, 4, INPUT)) * 2
    x[:, 1] = rng.choice([-100, 100], (SEQ, INPUT))
    x[:, 2, 0] = [np.inf, -np.inf, np.inf]
    x[1:, 3, 1] = np.nan
    return x.astype(np.float32)


@pytest.mark.parametrize("kind, direction, acts, alphas, betas", RECURRENT_CASES)
def test_recurrent_activations_compiled_and_interpreted(
    kind: str, direction: str, acts: list[str], alphas: list[float], betas: list[float]
):
    rng = np.random.default_rng(2)
    model, weights = _recurrent_model(kind, direction, acts, alphas, betas, rng)
    x = _sequence(rng)
    with np.errstate(all="ignore"):
        fns = _gate_functions(acts, alphas, betas)
        expected = _recurrent_reference(kind, direction, fns, x, weights)
    imported = import_onnx(model)
    runs = (
        ("compiled", compile(imported.module)(x)),
        ("interpreted", interpret(imported.module, [x])),
    )
    for how, got in runs:
        assert len(got) == len(expected), how
        for name, g, e in zip(("Y", "Y_h", "Y_c"), got, expected, strict=False):
            # Three steps of float32 arithmetic on values up to about 100.
            np.testing.assert_allclose(
                np.asarray(g), e, rtol=1e-5, atol=1e-5, err_msg=f"{how} {name}"
            )


def test_recurrent_reference_agrees_with_onnxruntime():
    """The numpy RNNs above, and the order in which they consume alpha and beta, are
    onnxruntime's (on finite inputs: its Softplus is log(1 + exp(x))). Inside RNNs onnxruntime
    defaults ThresholdedRelu's alpha to 0, not to the operator's 1.0 as the spec says."""
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(3)
    for kind, direction, acts, alphas, betas in RECURRENT_CASES:
        model, weights = _recurrent_model(kind, direction, acts, alphas, betas, rng)
        x = (rng.standard_normal((SEQ, 4, INPUT)) * 2).astype(np.float32)
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        expected = session.run(None, {"X": x})
        fns = _gate_functions(acts, alphas, betas, {"ThresholdedRelu": {"alpha": 0.0}})
        got = _recurrent_reference(kind, direction, fns, x, weights)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=f"{kind} {acts}")


@pytest.mark.parametrize(
    "acts, message",
    [
        (
            ["Sigmoid", "Swish", "Tanh"],
            r"node 0 'rnn' \(LSTM\): activation 'Swish' is not one of Relu, Tanh, ",
        ),
        (["Sigmoid", "Tanh"], r"node 0 'rnn' \(LSTM\): 2 activations given, 3 expected"),
    ],
)
def test_recurrent_activation_errors_name_the_node(acts: list[str], message: str):
    model, _ = _recurrent_model("LSTM", "forward", acts, [], [], np.random.default_rng(0))
    with pytest.raises(OnnxImportError, match=message):
        import_onnx(model)
