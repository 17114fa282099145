"""numpy arrays <-> `dense<...>` attributes, byte for byte (no per-element Python work)."""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import BytesAttr, DenseIntOrFPElementsAttr, TensorType
from xdsl.ir import Attribute

from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.types import element_type, tensor_dtype


def _to_bf16_bytes(arr: np.ndarray) -> bytes:
    # Round float32 to the nearest bfloat16 (ties to even): keep the upper 16 bits.
    bits = np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16).tobytes()


def _from_bf16_bytes(data: bytes) -> np.ndarray:
    halves = np.frombuffer(data, dtype=np.uint16).astype(np.uint32)
    return (halves << 16).view(np.float32)


def dense_from_numpy(arr: np.ndarray, dtype: str | None = None) -> DenseIntOrFPElementsAttr:
    """A `dense<...>` attribute holding `arr` (as Relay dtype `dtype`, default: arr's)."""
    from relay_opt.dialects.relay.numpy_dtypes import relay_dtype

    dtype = dtype or relay_dtype(arr.dtype)
    t = TensorType(element_type(dtype), list(arr.shape))
    if dtype == "bfloat16":
        data = _to_bf16_bytes(arr)
    elif dtype == "bool":
        # MLIR stores i1 elements as one byte each, 0xff for true.
        data = (np.asarray(arr, dtype=np.bool_).astype(np.uint8) * 0xFF).tobytes()
    else:
        data = (
            np.ascontiguousarray(arr, dtype=numpy_dtype(dtype))
            .astype(numpy_dtype(dtype).newbyteorder("<"), copy=False)
            .tobytes()
        )
    return DenseIntOrFPElementsAttr(t, BytesAttr(data))


def numpy_from_dense(attr: DenseIntOrFPElementsAttr) -> np.ndarray:
    """The array a `dense<...>` attribute holds (splats expanded)."""
    t: Attribute = attr.type
    assert isinstance(t, TensorType)
    dtype = tensor_dtype(t)
    shape = tuple(t.get_shape())
    data = attr.data.data
    if dtype == "bfloat16":
        flat = _from_bf16_bytes(data)
    elif dtype == "bool":
        flat = np.frombuffer(data, dtype=np.uint8) != 0
    else:
        flat = np.frombuffer(data, dtype=numpy_dtype(dtype).newbyteorder("<"))
        flat = flat.astype(numpy_dtype(dtype), copy=False)
    size = int(np.prod(shape, dtype=np.int64))
    if flat.size == 1 and size != 1:
        flat = np.full(size, flat[0], dtype=flat.dtype)
    return flat.reshape(shape).copy()
