"""Model weights outside the IR text.

A constant larger than `INLINE_LIMIT` elements is a `dense_resource<name>`
whose array lives in this process-wide store, never in IR text: lowering
keeps the name (an external global), and the JIT binds that global to the
array's address. Printing a module writes the blobs out (`write_blobs`,
`print_module`), as MLIR does in its `{-# dialect_resources ... #-}` section,
and parsing such text makes them readable again (`array_of`).

Names never collide within a process: a stored array is named by a hash of its
dtype, shape and bytes (`__relay_w_<hash>`), and every name in use is declared
in builtin's resource table, so a parsed file whose resource has a name already
taken gets it renamed (`loader.LocatingParser` maps each of the file's names to
one new name) instead of reading another module's data.
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import IO

import numpy as np
from xdsl.dialect_interfaces.op_asm import OpAsmDialectInterface
from xdsl.dialects.builtin import Builtin, DenseIntOrFPElementsAttr, DenseResourceAttr, StringAttr
from xdsl.ir import Attribute, Operation
from xdsl.printer import Printer

from relay_opt.diagnostics import Anchor, RelayError
from relay_opt.dialects.relay.constants import dense_from_numpy, numpy_from_dense
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype, relay_dtype
from relay_opt.dialects.relay.types import tensor_dtype, tensor_type

INLINE_LIMIT = 64
"""Constants with more elements than this are resources."""

_ARRAYS: dict[str, np.ndarray] = {}


def _blobs() -> OpAsmDialectInterface:
    interface = Builtin.get_interface(OpAsmDialectInterface)
    assert interface is not None
    return interface


def _digest(array: np.ndarray) -> str:
    # sha256, not blake2b: OpenSSL's uses the CPU's SHA instructions, 3x faster on weights.
    h = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    h.update(array.reshape(-1).view(np.uint8).data)
    return h.hexdigest()[:16]


def _aligned(array: np.ndarray) -> np.ndarray:
    """A read-only C-contiguous copy at a 64-byte boundary: the lowering declares the weights'
    globals `alignment = 64`, so compiled code may use aligned vector loads on them."""
    raw = np.empty(array.nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    copy = raw[start : start + array.nbytes].view(array.dtype).reshape(array.shape)
    copy[...] = array
    copy.setflags(write=False)
    return copy


def store(array: np.ndarray, hint: str = "relay_w") -> str:
    """Keep `array` (read-only) under a name derived from its content.

    Equal arrays share a name; a name taken by other data (a parsed file's) is not reused."""
    frozen = _aligned(np.asarray(array))
    digest = _digest(frozen)
    name = f"__{hint}_{digest}"
    known = _ARRAYS.get(name)
    if known is not None and known.dtype == frozen.dtype and np.array_equal(known, frozen):
        return name
    # Declaring the name makes the parser rename a file's resource that has it.
    name = _blobs().declare_resource(name)
    _ARRAYS[name] = frozen
    _DIGESTS[name] = digest
    return name


def constant_attr(
    array: np.ndarray, dtype: str | None = None
) -> DenseIntOrFPElementsAttr | DenseResourceAttr:
    """A constant's attribute: inline `dense<...>` when small, else a resource."""
    dtype = dtype or relay_dtype(array.dtype)
    if array.size <= INLINE_LIMIT or dtype == "bfloat16":
        return dense_from_numpy(array, dtype)
    array = np.asarray(array, dtype=numpy_dtype(dtype))
    return DenseResourceAttr(StringAttr(store(array)), tensor_type(array.shape, dtype))


def memory_bytes() -> int:
    """This machine's physical memory: no tensor can be larger."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): no limit known
        return 2**63


def _size_text(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"


def check_size(t: Attribute, what: str, at: Anchor = None) -> None:
    """Refuse, before allocating it, a tensor of type `t` larger than this machine's memory
    (numpy's MemoryError would be an internal error, or the allocation would swap for
    minutes). Dynamic dimensions and non-tensor types pass."""
    from xdsl.dialects.builtin import TensorType

    if not isinstance(t, TensorType):
        return
    shape = tuple(t.get_shape())
    if any(d < 0 for d in shape):
        return
    nbytes = math.prod(shape) * numpy_dtype(tensor_dtype(t)).itemsize  # pyright: ignore[reportArgumentType]
    if nbytes > memory_bytes():
        raise RelayError(
            f"{what} of type {t} needs {_size_text(nbytes)}, more than this machine's "
            f"memory ({_size_text(memory_bytes())})",
            at,
        )


def array_of(attr: Attribute, at: Anchor = None) -> np.ndarray:
    """The array of a `dense<...>` or `dense_resource<...>` attribute (`at`: its op, to locate
    the error that refuses a splat too large to expand)."""
    if isinstance(attr, DenseIntOrFPElementsAttr):
        check_size(attr.get_type(), "the constant", at)
        return numpy_from_dense(attr)
    assert isinstance(attr, DenseResourceAttr)
    name = attr.resource_handle.data
    t = attr.get_type()
    if name in _ARRAYS:
        return _ARRAYS[name]
    blob = _blobs().lookup(name)
    if not blob:
        raise KeyError(f"the data of dense_resource<{name}> is not available")
    # MLIR's blob: a 4-byte little-endian alignment, then the raw little-endian data.
    raw = bytes.fromhex(blob[2:])[4:]
    dtype = tensor_dtype(t)  # pyright: ignore[reportArgumentType]
    if dtype == "bool":
        flat = np.frombuffer(raw, dtype=np.uint8) != 0
    else:
        flat = np.frombuffer(raw, dtype=numpy_dtype(dtype).newbyteorder("<")).astype(
            numpy_dtype(dtype)
        )
    array = _aligned(flat.reshape(tuple(t.get_shape())))  # pyright: ignore
    _ARRAYS[name] = array
    return array


_BYTES: dict[str, np.ndarray] = {}
_DIGESTS: dict[str, str] = {}


def content_digest(name: str) -> str | None:
    """A hash of a resource's data (of its dtype, shape and bytes where the array is stored,
    else of its blob's bytes), computed once per name: the compile cache keys on it, since a
    parsed file may give other data a name that looks like a content hash. None when the
    resource has no data."""
    if name not in _DIGESTS:
        array = stored(name)
        if array is None:
            return None
        _DIGESTS[name] = ("" if name in _ARRAYS else "bytes:") + _digest(array)
    return _DIGESTS[name]


def stored(name: str) -> np.ndarray | None:
    """The array of a resource, for binding compiled code to it: the stored (or decoded)
    array, else the raw bytes of its parsed blob (the lowered module names the weight but no
    longer has its type; the bytes are its memory layout on a little-endian host)."""
    if name in _ARRAYS:
        return _ARRAYS[name]
    if name not in _BYTES:
        blob = _blobs().lookup(name)
        if not blob:
            return None
        _BYTES[name] = _aligned(np.frombuffer(bytes.fromhex(blob[2:])[4:], dtype=np.uint8))
    return _BYTES[name]


def write_blobs(root: Operation, limit: int | None = None) -> list[str]:
    """Make the printer write the blobs of the resources `root` uses (up to `limit` bytes each).

    Returns the names whose blobs were left out."""
    elided: list[str] = []
    interface = _blobs()
    for op in root.walk():
        for value in (*op.properties.values(), *op.attributes.values()):
            if not isinstance(value, DenseResourceAttr):
                continue
            name = value.resource_handle.data
            if interface.lookup(name) or name not in _ARRAYS:
                continue
            array = _ARRAYS[name]
            if limit is not None and array.nbytes > limit:
                elided.append(name)
                continue
            data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            if interface.lookup(name) is None:  # stored before this module declared it
                interface.declare_resource(name)
            interface.parse_resource(name, "0x" + (64).to_bytes(4, "little").hex() + data.hex())
    return elided


def print_module(
    module: Operation, stream: IO[str], generic: bool = False, limit: int | None = None
) -> list[str]:
    """Print `module` with the blobs of its resources (what reads back complete).

    Returns the names of the blobs left out for being larger than `limit` bytes."""
    elided = write_blobs(module, limit)
    printer = Printer(stream=stream, print_generic_format=generic)
    printer.print_op(module)
    printer.print_metadata([Builtin])
    stream.write("\n")
    return elided
