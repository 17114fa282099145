"""Relay dtype names <-> numpy dtypes, for the operators' numpy semantics."""

from __future__ import annotations

import ml_dtypes
import numpy as np

_NUMPY: dict[str, np.dtype] = {
    "bool": np.dtype(np.bool_),
    "int8": np.dtype(np.int8),
    "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "uint8": np.dtype(np.uint8),
    "uint16": np.dtype(np.uint16),
    "uint32": np.dtype(np.uint32),
    "uint64": np.dtype(np.uint64),
    "float16": np.dtype(np.float16),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    # Python str objects (docs/strings.md): one dtype for every length, unlike numpy's 'U<n>'.
    "string": np.dtype(object),
}


def numpy_dtype(dtype: str) -> np.dtype:
    """numpy's dtype for a Relay dtype name. bfloat16 has no numpy dtype: float32 stands in."""
    if dtype == "bfloat16":
        return np.dtype(np.float32)
    return _NUMPY[dtype]


def exact_dtype(dtype: str) -> np.dtype:
    """The numpy dtype whose arrays hold Relay dtype `dtype` bit for bit: numpy_dtype's, but
    ml_dtypes' bfloat16 for bfloat16 (native code's arrays, and constants whose dtype must
    read back as bfloat16)."""
    if dtype == "bfloat16":
        return np.dtype(ml_dtypes.bfloat16)
    return _NUMPY[dtype]


def relay_dtype(dt: np.dtype) -> str:
    if dt.kind == "U":  # a text array as numpy makes it: strings, held as objects inside
        return "string"
    if dt.name == "bfloat16":  # ml_dtypes' (the #[metadata] section's bfloat16 arrays)
        return "bfloat16"
    for name, npdt in _NUMPY.items():
        if npdt == dt:
            return name
    raise ValueError(f"numpy dtype {dt} has no Relay dtype")


def string_array(values: object) -> np.ndarray:
    """`values` (an array of 'U' dtype, or of objects that are all str) as a string tensor's
    array: dtype object, each element a Python str. Raises ValueError for anything else
    (bytes, numbers, None)."""
    array = np.asarray(values)
    if array.dtype.kind == "U":
        return array.astype(object)
    if array.dtype.kind != "O":
        raise ValueError(f"expected strings, got an array of dtype {array.dtype}")
    for x in array.reshape(-1):
        if not isinstance(x, str):
            raise ValueError(f"expected strings, got an element of type {type(x).__name__}")
    return array
