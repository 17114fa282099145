"""ONNX's classical machine-learning operators (domain ai.onnx.ml) that compute on tensors:
ArrayFeatureExtractor, Binarizer, Scaler, Normalizer and LinearRegressor, as ONNX's
reference and onnxruntime compute them (features on the last axis; a 1-d input is one row).
"""

from __future__ import annotations

import numpy as np

from relay_opt.frontends.onnx.importer import Node, Value, converter
from relay_opt.frontends.onnx.ops import matmul_values

_ML = "ai.onnx.ml"


def _rows(n: Node, x: Value) -> Value:
    """x as [rows, features] (a vector is one row; ONNX's ML operators take 1-d or 2-d)."""
    if n.rank(x) == 1:
        return n.reshape(x, [1, n.shape(x)[0]])
    if n.rank(x) != 2:
        raise n.error(f"the input must be 1-d or 2-d, not {n.rank(x)}-d")
    return x


def _float_features(n: Node, x: Value) -> Value:
    """Integer features compute in float32 (the operators' outputs are float tensors)."""
    return x if n.dtype(x).startswith("float") else n.cast(x, "float32")


@converter("ArrayFeatureExtractor", domain=_ML)
def array_feature_extractor(n: Node) -> Value:
    """x[..., indices] (the indices flattened); a vector's result is one row."""
    x = n.required(0)
    indices = n.reshape(n.required(1), [int(np.prod(n.shape(n.required(1))))])
    picked = n.op("take", x, n.cast(indices, "int64"), axis=n.rank(x) - 1)
    return n.reshape(picked, [1, n.shape(picked)[0]]) if n.rank(x) == 1 else picked


@converter("Binarizer", domain=_ML)
def binarizer(n: Node) -> Value:
    x = n.required(0)
    return n.cast(n.op("greater", x, n.scalar(n.attr("threshold", 0.0), x)), n.dtype(x))


@converter("Scaler", domain=_ML)
def scaler(n: Node) -> Value:
    """(x - offset) * scale, per feature (one value for all when a single one is given)."""
    x = _float_features(n, n.required(0))
    offset = np.asarray(n.attr("offset", [0.0]), dtype=n.dtype(x))
    scale = np.asarray(n.attr("scale", [1.0]), dtype=n.dtype(x))
    features = n.shape(x)[-1]
    for name, v in (("offset", offset), ("scale", scale)):
        if v.size not in (1, features):
            raise n.error(f"{name} has {v.size} values for {features} features")
    return n.op("multiply", n.op("subtract", x, offset), scale)


@converter("Normalizer", domain=_ML)
def normalizer(n: Node) -> Value:
    """Each row divided by its MAX, L1 or L2 norm, left as it is where that is 0, as
    onnxruntime computes it. MAX is the row's largest value, as the spec (x / max(x)) says;
    ONNX's reference takes the largest magnitude and divides by at least 1e-30 instead."""
    x = _float_features(n, _rows(n, n.required(0)))
    norm = n.attr("norm", "MAX")
    if norm == "MAX":
        size = n.op("max", x, axis=[1], keepdims=True)
    elif norm == "L1":
        size = n.op("sum", n.op("abs", x), axis=[1], keepdims=True)
    elif norm == "L2":
        size = n.op("sqrt", n.op("sum", n.op("multiply", x, x), axis=[1], keepdims=True))
    else:
        raise n.error(f"norm '{norm}' is none of MAX, L1, L2")
    zero = n.op("equal", size, n.scalar(0, x))
    return n.op("divide", x, n.op("where", zero, n.scalar(1, x), size))


@converter("LinearRegressor", domain=_ML)
def linear_regressor(n: Node) -> Value:
    """x @ coefficients (targets rows of features) + intercepts."""
    x = _float_features(n, _rows(n, n.required(0)))
    if n.attr("post_transform", "NONE") != "NONE":
        raise n.unsupported(f"post_transform '{n.attr('post_transform')}'")
    targets = int(n.attr("targets", 1))
    features = n.shape(x)[1]
    coefficients = np.asarray(n.attr("coefficients", []), dtype=np.float32)
    if coefficients.size != targets * features:
        raise n.error(
            f"{coefficients.size} coefficients for {targets} target(s) of {features} features"
        )
    weights = coefficients.reshape(targets, features).T.astype(n.dtype(x))
    score = matmul_values(n, x, np.ascontiguousarray(weights))
    if n.has_attr("intercepts"):
        intercepts = np.asarray(n.attr("intercepts"), dtype=weights.dtype)
        if intercepts.size not in (1, targets):
            raise n.error(f"{intercepts.size} intercepts for {targets} target(s)")
        score = n.op("add", score, intercepts)
    return score
