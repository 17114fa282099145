"""ONNX's random operators: RandomUniform, RandomNormal, their *Like forms, Bernoulli and
Multinomial, and Dropout's mask in training mode.

Every call draws new numbers, as onnxruntime does (ONNX fixes no generator). The state is a
counter per random node, `relay.call_count`: how many times the node ran before in this
loaded module. It lives with the compiled code (a global of the module, 0 when the code is
loaded: every `compile`, package load or process starts over) or, in the interpreter, with
the module; so a fresh load of a model with `seed` repeats the same sequence of calls, and
native code and the interpreter draw the same words. The words come from splitmix64,
counter-based: element i of call c is output c * n + i + 1 of the sequence the node's seed
starts (n elements per call), computed with Relay's uint64 arithmetic at run time, so the
same on every machine and thread count. A node without `seed` takes one from its first
output's name: the model stays deterministic and two such nodes differ. What reads run-time
inputs (Bernoulli's probabilities, Multinomial's logits) is Relay as well.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.numpy_dtypes import exact_dtype
from relay_opt.dialects.relay.types import DYNAMIC
from relay_opt.frontends.onnx.importer import ONNX_DTYPES, Node, Value, converter

# The significant bits of each float dtype: a unit draw of that many bits is exact in it.
_PRECISION = {"bfloat16": 8, "float16": 11, "float32": 24, "float64": 53}
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _splitmix(start: np.uint64, count: int) -> np.ndarray:
    """Outputs 1..count of splitmix64 from state `start`: 64 random bits each."""
    with np.errstate(over="ignore"):
        z = start + np.arange(1, count + 1, dtype=np.uint64) * _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _MIX[0]
        z = (z ^ (z >> np.uint64(27))) * _MIX[1]
        return z ^ (z >> np.uint64(31))


def _call_count(n: Node) -> Value:
    return n.graph.builder.add(core.CallCountOp()).result


def _stream(n: Node, k: int, shape: list[int], call: Value) -> Value:
    """This call's random words (uint64) of the node's stream k, one per element of `shape`
    (normal draws take two streams): outputs call * count + 1 .. of splitmix64."""
    seed = n.attr("seed")
    if seed is None:
        base = zlib.crc32(n.proto.output[0].encode()) | (1 << 32)  # apart from float seeds
    else:
        base = int(np.float32(seed).view(np.uint32))
    start = _splitmix(np.uint64((base << 8) | k), 1)[0]
    count = int(np.prod(shape, dtype=np.int64))
    with np.errstate(over="ignore"):
        first = (start + np.arange(1, count + 1, dtype=np.uint64) * _GAMMA).reshape(shape)
        step = np.uint64(count) * _GAMMA
    z = n.op("add", first, n.op("multiply", call, n.scalar(int(step), "uint64")))
    for shift, factor in zip((30, 27), _MIX, strict=True):
        z = n.op("bitwise_xor", z, n.op("right_shift", z, n.scalar(shift, "uint64")))
        z = n.op("multiply", z, n.scalar(int(factor), "uint64"))
    return n.op("bitwise_xor", z, n.op("right_shift", z, n.scalar(31, "uint64")))


def _unit(n: Node, words: Value, dtype: str) -> Value:
    """Uniform on [0, 1) in float64, each value exact in `dtype` (so never 1 there)."""
    bits = _PRECISION[dtype]
    top = n.cast(n.op("right_shift", words, n.scalar(64 - bits, "uint64")), "float64")
    return n.op("multiply", top, n.scalar(2.0**-bits, "float64"))


def _float_dtype(n: Node, code: int | None, default: str) -> str:
    dtype = default if code is None else ONNX_DTYPES.get(int(code))
    if dtype not in _PRECISION:
        raise n.error(f"dtype {dtype or code} is not a float type")
    return dtype


def _shape(n: Node) -> tuple[str, list[int]]:
    """(dtype, shape) of a draw: from the attributes, or from input 0 for the *Like forms."""
    if n.op_type.endswith("Like"):
        x = n.required(0)
        if DYNAMIC in n.shape(x):
            raise n.unsupported(f"an input of shape {list(n.shape(x))} (? dims)")
        default = n.dtype(x) if n.dtype(x) in _PRECISION else "float32"
        return _float_dtype(n, n.attr("dtype"), default), list(n.shape(x))
    shape = n.attr("shape")
    if shape is None or any(int(d) < 0 for d in shape):
        raise n.error(f"shape {shape} is not a list of sizes")
    return _float_dtype(n, n.attr("dtype"), "float32"), [int(d) for d in shape]


@converter("RandomUniform", "RandomUniformLike")
def random_uniform(n: Node) -> Value:
    """low + (high - low) * u, kept below high where rounding to the dtype would reach it."""
    dtype, shape = _shape(n)
    low, high = float(n.attr("low", 0.0)), float(n.attr("high", 1.0))
    u = _unit(n, _stream(n, 0, shape, _call_count(n)), dtype)
    spread = n.op("multiply", u, n.scalar(high - low, "float64"))
    drawn = n.cast(n.op("add", spread, n.scalar(low, "float64")), dtype)
    if high > low:
        top = n.scalar(high, dtype)
        below = np.nextafter(top, n.scalar(-np.inf, dtype))
        drawn = n.op("where", n.op("greater_equal", drawn, top), below, drawn)
    return drawn


@converter("RandomNormal", "RandomNormalLike")
def random_normal(n: Node) -> Value:
    """mean + scale * z, z from Box-Muller on two uniform streams (in float64)."""
    dtype, shape = _shape(n)
    call = _call_count(n)
    one = n.scalar(1.0, "float64")
    u1 = n.op("subtract", one, _unit(n, _stream(n, 0, shape, call), "float64"))  # (0, 1]
    u2 = _unit(n, _stream(n, 1, shape, call), "float64")
    radius = n.op("sqrt", n.op("multiply", n.op("log", u1), n.scalar(-2.0, "float64")))
    angle = n.op("multiply", u2, n.scalar(2.0 * np.pi, "float64"))
    z = n.op("multiply", radius, n.op("cos", angle))
    mean, scale = float(n.attr("mean", 0.0)), float(n.attr("scale", 1.0))
    scaled = n.op("multiply", z, n.scalar(scale, "float64"))
    return n.cast(n.op("add", scaled, n.scalar(mean, "float64")), dtype)


@converter("Bernoulli")
def bernoulli(n: Node) -> Value:
    """1 where a uniform draw u < p, else 0 (p = 1 always gives 1: u < 1 in p's dtype)."""
    p = n.required(0)
    if DYNAMIC in n.shape(p):
        raise n.unsupported(f"an input of shape {list(n.shape(p))} (? dims)")
    dtype = n.dtype(p)
    if dtype not in _PRECISION:
        raise n.error(f"the probabilities are {dtype}, not a float type")
    out = n.attr("dtype")
    out_dtype = dtype if out is None else ONNX_DTYPES.get(int(out))
    if out_dtype is None:
        raise n.unsupported(f"dtype {out}")
    u = n.cast(_unit(n, _stream(n, 0, list(n.shape(p)), _call_count(n)), dtype), dtype)
    return n.cast(n.op("less", u, p), out_dtype)


@converter("Multinomial")
def multinomial(n: Node) -> Value:
    """sample_size class indices per batch row, drawn from softmax(input): the number of
    classes whose cumulative probability is at most u * total (the inverse of the CDF)."""
    x = n.required(0)
    if n.rank(x) != 2 or DYNAMIC in n.shape(x):
        raise n.error(f"input must be a static (batch, classes) matrix, got {list(n.shape(x))}")
    dtype = n.dtype(x)
    if dtype not in _PRECISION:
        raise n.error(f"input is {dtype}, not a float type")
    out_dtype = ONNX_DTYPES.get(int(n.attr("dtype", 6)))
    if out_dtype not in ("int32", "int64"):
        raise n.error(f"dtype {n.attr('dtype')} is neither int32 nor int64")
    samples = int(n.attr("sample_size", 1))
    batch, classes = n.shape(x)
    if samples < 1 or classes < 1:
        raise n.error(f"sample_size {samples} of {classes} classes: both must be positive")
    wide = n.cast(x, "float32") if dtype in ("float16", "bfloat16") else x
    p = n.op("exp", n.op("subtract", wide, n.op("max", wide, axis=[1], keepdims=True)))
    lower = np.tril(np.ones((classes, classes), exact_dtype(n.dtype(p))))
    cdf = n.op("nn.dense", p, lower)  # cdf[b, j] = sum of p[b, :j + 1]
    total = n.op("strided_slice", cdf, begin=[0, classes - 1], end=[batch, classes], strides=[1, 1])
    u = _unit(n, _stream(n, 0, [batch, samples, 1], _call_count(n)), "float32")
    threshold = n.op("multiply", n.reshape(total, [batch, 1, 1]), n.cast(u, n.dtype(p)))
    below = n.op("less_equal", n.reshape(cdf, [batch, 1, classes]), threshold)
    picked = n.op("sum", n.cast(below, "int32"), axis=[2], keepdims=False)
    clipped = n.op("minimum", picked, n.scalar(classes - 1, "int32"))  # u * total rounded up
    return n.cast(clipped, out_dtype)


@converter("Dropout")
def dropout(n: Node) -> Sequence[Value]:
    """x * mask / (1 - ratio) with mask = u >= ratio (u uniform in float64, ratio 0.5 when
    not given) when training_mode is true, as ONNX's reference computes it; the input itself
    and a mask all true otherwise. A run-time training_mode selects between the two."""
    x = n.required(0)
    training = n.input(2) if n.opset >= 12 else None
    ratio = n.input(1) if n.opset >= 12 else None
    keep_all = np.ones(n.shape(x), dtype=bool)
    if training is None or (isinstance(training, np.ndarray) and not training.any()):
        return [x, keep_all] if n.num_outputs > 1 else [x]
    if n.shape(training) not in ((), (1,)):
        raise n.error(f"training_mode must hold one value, got shape {list(n.shape(training))}")
    if ratio is not None and n.shape(ratio) not in ((), (1,)):
        raise n.error(f"ratio must hold one value, got shape {list(n.shape(ratio))}")
    shape = list(n.shape(x))
    if DYNAMIC in shape:
        raise n.unsupported(f"training mode for data of shape {shape} (? dims)")
    rate = n.scalar(0.5, "float64") if ratio is None else n.cast(n.reshape(ratio, []), "float64")
    u = _unit(n, _stream(n, 0, shape, _call_count(n)), "float64")
    keep = n.op("greater_equal", u, rate)
    scale = n.op(
        "divide", n.scalar(1.0, "float64"), n.op("subtract", n.scalar(1.0, "float64"), rate)
    )
    dropped = n.op(
        "multiply", n.op("multiply", x, n.cast(keep, n.dtype(x))), n.cast(scale, n.dtype(x))
    )
    if not isinstance(training, np.ndarray):  # chosen at run time
        on = n.reshape(n.cast(training, "bool"), [])
        dropped = n.op("where", on, dropped, x)
        keep = n.op("logical_or", keep, n.op("logical_not", on))
    return [dropped, keep] if n.num_outputs > 1 else [dropped]
