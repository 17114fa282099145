"""Where `meta[relay.Constant][i]` gets its arrays.

Two sources, as TVM users have them:
- an `.npz` whose arrays are named `relay.Constant.0`, `relay.Constant.1`, …;
- the `#[metadata]` section: TVM's SaveJSON node graph, whose `b64ndarrays`
  hold each array base64-encoded in the DLPack tensor format (magic
  0xDD5E40F096B4A13F, reserved word, device, ndim, dtype, shape, byte size, data).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Mapping

import ml_dtypes
import numpy as np

_MAGIC = 0xDD5E40F096B4A13F
# DLPack dtype codes: 0 int, 1 uint, 2 float, 4 bfloat.
_DL_TYPES = {
    (0, 8): "int8",
    (0, 16): "int16",
    (0, 32): "int32",
    (0, 64): "int64",
    (1, 1): "bool",
    (1, 8): "uint8",
    (1, 16): "uint16",
    (1, 32): "uint32",
    (1, 64): "uint64",
    (2, 16): "float16",
    (2, 32): "float32",
    (2, 64): "float64",
    (4, 16): "bfloat16",
}


class MetadataError(ValueError):
    pass


MetaTable = dict[str, list[np.ndarray]]
"""Metadata kind (`relay.Constant`) -> arrays by index (bfloat16 ones as ml_dtypes.bfloat16)."""


_NPZ_BFLOAT16 = np.dtype("V2")
"""How `.npz` keeps an ml_dtypes bfloat16 array (its bytes, no dtype name): the only 2-byte
dtype numpy does not know, as relay-translate --meta-out writes bfloat16 constants."""


def from_npz(arrays: Mapping[str, np.ndarray]) -> MetaTable:
    table: MetaTable = {}
    indexed: dict[str, dict[int, np.ndarray]] = {}
    for name, array in arrays.items():
        kind, _, index = name.rpartition(".")
        if not kind or not index.isdigit():
            raise MetadataError(f"array '{name}' is not named like relay.Constant.0 (kind.index)")
        array = np.asarray(array)
        if array.dtype == _NPZ_BFLOAT16:  # np.savez's record of an ml_dtypes bfloat16 array
            array = array.view(ml_dtypes.bfloat16)
        indexed.setdefault(kind, {})[int(index)] = array
    for kind, by_index in indexed.items():
        missing = sorted(set(range(max(by_index) + 1)) - set(by_index))
        if missing:
            raise MetadataError(f"the metadata has no {kind}.{missing[0]}")
        table[kind] = [by_index[i] for i in range(len(by_index))]
    return table


def decode_ndarray(blob: bytes) -> np.ndarray:
    """One DLPack-serialized array (TVM's NDArray::Save)."""
    try:
        magic, _reserved = struct.unpack_from("<QQ", blob, 0)
        if magic != _MAGIC:
            raise MetadataError("an array in the metadata has a bad magic number")
        offset = 16 + 8  # device: int32 type, int32 id
        (ndim,) = struct.unpack_from("<i", blob, offset)
        offset += 4
        code, bits, lanes = struct.unpack_from("<BBH", blob, offset)
        offset += 4
        shape = struct.unpack_from(f"<{ndim}q", blob, offset)
        offset += 8 * ndim
        (nbytes,) = struct.unpack_from("<q", blob, offset)
        offset += 8
    except struct.error:
        raise MetadataError("an array in the metadata is truncated") from None
    dtype = _DL_TYPES.get((code, bits))
    if dtype is None or lanes != 1:
        raise MetadataError(f"unsupported array dtype (code {code}, {bits} bits, {lanes} lanes)")
    data = blob[offset : offset + nbytes]
    if len(data) != nbytes:
        raise MetadataError("an array in the metadata is truncated")
    if dtype == "bfloat16":
        # As ml_dtypes' bfloat16, not the float32 stand-in: the constant's dtype is the array's.
        return np.frombuffer(data, dtype="<u2").view(ml_dtypes.bfloat16).reshape(shape).copy()
    np_dtype = np.dtype(np.bool_) if dtype == "bool" else np.dtype(dtype).newbyteorder("<")
    return np.frombuffer(data, dtype=np_dtype).reshape(shape).copy()


def from_tvm_json(text: str) -> MetaTable:
    """The `#[metadata]` section: a JSON node graph with base64 arrays."""
    try:
        graph = json.loads(text)
        nodes = graph["nodes"]
        arrays = [decode_ndarray(base64.b64decode(b)) for b in graph.get("b64ndarrays", [])]
        root = nodes[int(graph["root"])]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        if isinstance(e, MetadataError):
            raise
        raise MetadataError(f"the #[metadata] section is not TVM's JSON format ({e})") from None
    table: MetaTable = {}
    keys = root.get("keys", [])
    values = root.get("data", [])
    if len(keys) != len(values):
        raise MetadataError(
            f"the #[metadata] root maps {len(keys)} key(s) to {len(values)} value list(s)"
        )
    for key, value in zip(keys, values, strict=True):
        # String keys are stored inline, or as the index of a string node.
        kind = (
            key if isinstance(key, str) and not key.isdigit() else nodes[int(key)].get("repr_str")
        )
        if not isinstance(kind, str):
            continue
        array_node = nodes[int(value)]
        items: list[np.ndarray] = []
        for element in array_node.get("data", []):
            attrs = nodes[int(element)].get("attrs", {})
            if "data" not in attrs:
                raise MetadataError(f"a {kind} node in the metadata has no data")
            items.append(arrays[int(attrs["data"])])
        table[kind] = items
    return table


_DL_CODES = {dtype: key for key, dtype in _DL_TYPES.items()}


def encode_ndarray(array: np.ndarray) -> bytes:
    """One array in DLPack's serialized form (the inverse of decode_ndarray)."""
    from relay_opt.dialects.relay.numpy_dtypes import relay_dtype

    array = np.asarray(array, order="C")  # (ascontiguousarray would make a scalar 1-d)
    if array.dtype == ml_dtypes.bfloat16:
        code, bits = _DL_CODES["bfloat16"]
        data = array.view("<u2").tobytes()
    else:
        code, bits = _DL_CODES[relay_dtype(array.dtype)]
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    header = struct.pack("<QQiii", _MAGIC, 0, 1, 0, array.ndim)  # device: CPU (1), id 0
    header += struct.pack("<BBH", code, bits, 1)
    header += struct.pack(f"<{array.ndim}q", *array.shape)
    header += struct.pack("<q", len(data))
    return header + data


def to_tvm_json(table: MetaTable) -> str:
    """A `#[metadata]` section in TVM's SaveJSON layout (a Map of Arrays of nodes)."""
    nodes: list[dict[str, object]] = [{"type_key": ""}, {"type_key": "Map", "keys": [], "data": []}]
    b64: list[str] = []
    root = nodes[1]
    for kind, arrays in table.items():
        elements = []
        for array in arrays:
            elements.append(len(nodes))
            nodes.append({"type_key": kind, "attrs": {"data": str(len(b64)), "span": "0"}})
            b64.append(base64.b64encode(encode_ndarray(array)).decode("ascii"))
        root["keys"].append(kind)  # pyright: ignore
        root["data"].append(len(nodes))  # pyright: ignore
        nodes.append({"type_key": "Array", "data": elements})
    return json.dumps(
        {"root": 1, "nodes": nodes, "b64ndarrays": b64, "attrs": {"tvm_version": "0.17.0"}},
        indent=2,
    )
