"""ONNX's random operators (frontends/onnx/sampling.py). ONNX's node tests compare with numpy's
global generator, which nothing else reproduces (they are known failures in
test_onnx_backend.py), so these tests check the distributions on many draws (bounds of
about 5 standard errors), the ranges, the dtypes, that every call draws anew and that a seed
fixes the sequence of calls; compiled code and the interpreter draw the same words (exactly
equal results, but for float64 log and cos in normal draws)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from relay_opt.frontends.onnx import OnnxImportError, import_onnx
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

_CODES = {np.dtype(np.float16): TensorProto.FLOAT16, np.dtype(np.float32): TensorProto.FLOAT}
_CODES[np.dtype(np.float64)] = TensorProto.DOUBLE
_CODES[np.dtype(np.bool_)] = TensorProto.BOOL


def _model(nodes, feeds: dict[str, np.ndarray], outs: dict[str, int]) -> onnx.ModelProto:  # noqa: ANN001
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(k, _CODES[v.dtype], v.shape) for k, v in feeds.items()],
        [helper.make_tensor_value_info(name, code, None) for name, code in outs.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])


def _run(node, feeds: dict[str, np.ndarray], out: int = TensorProto.FLOAT) -> np.ndarray:  # noqa: ANN001
    imported = import_onnx(_model([node], feeds, {node.output[0]: out}))
    args = [feeds[name] for name in imported.input_names]
    got = compile(imported.module)(*args)
    want = interpret(imported.module, args)
    if node.op_type.startswith("RandomNormal"):  # float64 log and cos: libm's and numpy's
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    else:
        np.testing.assert_array_equal(got, want)
    return got


def _near(value: float, expected: float, std_error: float) -> None:
    assert abs(value - expected) < 5 * std_error, (value, expected, std_error)


@pytest.mark.parametrize(("dtype", "code"), [(np.float32, 1), (np.float16, 10)])
def test_random_uniform_range_moments_and_seed(dtype: type, code: int):
    def draw(seed: float) -> np.ndarray:
        node = helper.make_node(
            "RandomUniform", [], ["y"], shape=[100, 200], low=-2.0, high=3.0, seed=seed, dtype=code
        )
        return _run(node, {}, code)

    y = draw(7.0)
    assert y.dtype == dtype and y.shape == (100, 200)
    assert y.min() >= -2.0 and y.max() < 3.0
    _near(float(y.astype(np.float64).mean()), 0.5, 5 / np.sqrt(12 * y.size))
    _near(float(y.astype(np.float64).var()), 25 / 12, 25 / 12 * np.sqrt(0.8 / y.size))
    np.testing.assert_array_equal(draw(7.0), y)
    assert (draw(8.0) != y).mean() > 0.99


def test_random_normal_like_moments_and_unseeded_nodes_differ():
    x = np.zeros((50, 400), np.float64)
    a = helper.make_node("RandomNormalLike", ["x"], ["y"], mean=1.5, scale=2.0)
    y = _run(a, {"x": x}, TensorProto.DOUBLE)
    assert y.dtype == np.float64 and y.shape == x.shape
    _near(float(y.mean()), 1.5, 2.0 / np.sqrt(y.size))
    _near(float(y.std()), 2.0, 2.0 / np.sqrt(2 * y.size))
    _near(float(((y - 1.5) ** 4).mean() / 16), 3.0, np.sqrt(96 / y.size))  # kurtosis
    other = helper.make_node("RandomNormalLike", ["x"], ["z"], mean=1.5, scale=2.0)
    assert (_run(other, {"x": x}, TensorProto.DOUBLE) != y).all()


def test_bernoulli_frequencies_follow_run_time_probabilities():
    p = np.repeat(np.array([[0.0], [0.25], [0.9], [1.0]], np.float32), 5000, axis=1)
    node = helper.make_node("Bernoulli", ["p"], ["y"], seed=3.0, dtype=TensorProto.INT32)
    y = _run(node, {"p": p}, TensorProto.INT32)
    assert y.dtype == np.int32 and set(np.unique(y)) <= {0, 1}
    assert y[0].sum() == 0 and y[3].sum() == 5000
    for row, q in ((1, 0.25), (2, 0.9)):
        _near(float(y[row].mean()), q, np.sqrt(q * (1 - q) / 5000))


def test_multinomial_frequencies_and_a_class_of_probability_zero():
    probs = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    with np.errstate(divide="ignore"):
        logits = np.log(probs).astype(np.float32)
    node = helper.make_node("Multinomial", ["x"], ["y"], sample_size=4000, seed=5.0)
    y = _run(node, {"x": logits}, TensorProto.INT32)
    assert y.dtype == np.int32 and y.shape == (2, 4000)
    for b in range(2):
        counts = np.bincount(y[b], minlength=4) / 4000
        for q, f in zip(probs[b], counts, strict=True):
            _near(float(f), q, max(np.sqrt(q * (1 - q) / 4000), 1e-9))


def test_a_random_dtype_that_is_not_float_is_a_located_error():
    node = helper.make_node("RandomUniform", [], ["y"], shape=[2], dtype=TensorProto.INT32)
    graph = helper.make_graph(
        [node], "g", [], [helper.make_tensor_value_info("y", TensorProto.INT32, None)]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    with pytest.raises(OnnxImportError, match=r"\(RandomUniform\): dtype int32 is not a float"):
        import_onnx(model)


def test_each_call_draws_anew_and_a_fresh_load_repeats_the_calls():
    p = np.full((4, 64), 0.5, np.float32)
    nodes = [
        helper.make_node("RandomUniform", [], ["u"], shape=[4, 64], seed=2.0),
        helper.make_node("Bernoulli", ["p"], ["b"], seed=3.0),
    ]
    model = _model(nodes, {"p": p}, {"u": TensorProto.FLOAT, "b": TensorProto.FLOAT})
    module = import_onnx(model).module
    native = compile(module)
    calls = [native(p) for _ in range(3)]
    for earlier, later in pairwise(calls):
        assert (earlier[0] != later[0]).mean() > 0.99
        assert (earlier[1] != later[1]).any()
    for call in calls:  # the interpreter's counters advance with the module's calls
        for got, want in zip(call, interpret(module, [p]), strict=True):
            np.testing.assert_array_equal(got, want)
    again = compile(import_onnx(model).module)  # a fresh load (here from the compile cache)
    for call in calls:
        for got, want in zip(call, again(p), strict=True):
            np.testing.assert_array_equal(got, want)


def test_dropout_in_training_mode_draws_its_mask_at_run_time():
    x = np.random.default_rng(0).standard_normal((40, 100)).astype(np.float32)
    node = helper.make_node("Dropout", ["x", "ratio", "training"], ["y", "mask"], seed=4)
    feeds = {"x": x, "ratio": np.array(0.25, np.float32), "training": np.array(True)}
    model = _model([node], feeds, {"y": TensorProto.FLOAT, "mask": TensorProto.BOOL})
    module = import_onnx(model).module
    native = compile(module)
    y, mask = native(*feeds.values())
    np.testing.assert_array_equal(y, mask * x * np.float32(1 / 0.75))  # as ONNX computes it
    _near(float(mask.mean()), 0.75, np.sqrt(0.75 * 0.25 / mask.size))
    for got, want in zip((y, mask), interpret(module, list(feeds.values())), strict=True):
        np.testing.assert_array_equal(got, want)
    assert (native(*feeds.values())[1] != mask).any()  # a new mask per call
    for training, ratio in ((False, 0.25), (True, 0.0)):  # the input and a full mask
        off = {**feeds, "training": np.array(training), "ratio": np.array(ratio, np.float32)}
        y, mask = native(*off.values())
        np.testing.assert_array_equal(y, x)
        assert mask.all()
