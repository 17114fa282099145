"""ONNX's random operators: RandomUniform, RandomNormal, their *Like forms, Bernoulli and
Multinomial.

Relay is pure, so a random tensor is a value of the model: its numbers depend on the node's
`seed` and the element's position only, and every call gives the same ones (onnxruntime
draws new ones per call; ONNX fixes no generator). They come from splitmix64, counter-based
(element i takes output i of the sequence the seed starts), computed while importing with
integer arithmetic, so they are the same on every machine and numpy version. A node without
`seed` takes one from its first output's name: the model stays deterministic and two such
nodes differ. The drawn tensors are constants; what reads run-time inputs (Bernoulli's
probabilities, Multinomial's logits) is Relay.
"""

from __future__ import annotations

import zlib

import numpy as np

from relay_opt.dialects.relay.numpy_dtypes import exact_dtype
from relay_opt.dialects.relay.types import DYNAMIC
from relay_opt.frontends.onnx.importer import ONNX_DTYPES, Node, Value, converter

# The significant bits of each float dtype: a unit draw of that many bits is exact in it.
_PRECISION = {"bfloat16": 8, "float16": 11, "float32": 24, "float64": 53}
_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def _splitmix(start: np.uint64, count: int) -> np.ndarray:
    """Outputs 1..count of splitmix64 from state `start`: 64 random bits each."""
    with np.errstate(over="ignore"):
        z = start + np.arange(1, count + 1, dtype=np.uint64) * _GAMMA
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _stream(n: Node, k: int, count: int) -> np.ndarray:
    """`count` random words of the node's stream k (normal draws take two streams)."""
    seed = n.attr("seed")
    if seed is None:
        base = zlib.crc32(n.proto.output[0].encode()) | (1 << 32)  # apart from float seeds
    else:
        base = int(np.float32(seed).view(np.uint32))
    start = _splitmix(np.uint64((base << 8) | k), 1)[0]
    return _splitmix(start, count)


def _unit(words: np.ndarray, dtype: str) -> np.ndarray:
    """Uniform on [0, 1) in float64, each value exact in `dtype` (so never 1 there)."""
    bits = _PRECISION[dtype]
    return (words >> np.uint64(64 - bits)).astype(np.float64) * 2.0**-bits


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


def _cast(values: np.ndarray, dtype: str) -> np.ndarray:
    return values.astype(exact_dtype(dtype))


@converter("RandomUniform", "RandomUniformLike")
def random_uniform(n: Node) -> Value:
    """low + (high - low) * u, kept below high where rounding to the dtype would reach it."""
    dtype, shape = _shape(n)
    low, high = float(n.attr("low", 0.0)), float(n.attr("high", 1.0))
    count = int(np.prod(shape, dtype=np.int64))
    drawn = _cast(low + (high - low) * _unit(_stream(n, 0, count), dtype), dtype)
    if high > low:
        top = _cast(np.array(high), dtype)
        below = np.nextafter(top, _cast(np.array(-np.inf), dtype))
        drawn = np.where(drawn >= top, below, drawn)
    return drawn.reshape(shape)


@converter("RandomNormal", "RandomNormalLike")
def random_normal(n: Node) -> Value:
    """mean + scale * z, z from Box-Muller on two uniform streams (in float64)."""
    dtype, shape = _shape(n)
    count = int(np.prod(shape, dtype=np.int64))
    u1 = 1.0 - _unit(_stream(n, 0, count), "float64")  # (0, 1]: log is finite
    u2 = _unit(_stream(n, 1, count), "float64")
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    mean, scale = float(n.attr("mean", 0.0)), float(n.attr("scale", 1.0))
    return _cast(mean + scale * z, dtype).reshape(shape)


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
    count = int(np.prod(n.shape(p), dtype=np.int64))
    u = _cast(_unit(_stream(n, 0, count), dtype), dtype).reshape(n.shape(p))
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
    u = _unit(_stream(n, 0, batch * samples), "float32").reshape(batch, samples, 1)
    threshold = n.op("multiply", n.reshape(total, [batch, 1, 1]), _cast(u, n.dtype(p)))
    below = n.op("less_equal", n.reshape(cdf, [batch, 1, classes]), threshold)
    picked = n.op("sum", n.cast(below, "int32"), axis=[2], keepdims=False)
    clipped = n.op("minimum", picked, n.scalar(classes - 1, "int32"))  # u * total rounded up
    return n.cast(clipped, out_dtype)
