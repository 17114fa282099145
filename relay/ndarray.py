"""NDArray (tvm.nd), a numpy array with TVM's methods (`.numpy()`, `.asnumpy()`)."""

from __future__ import annotations

from typing import Any

import numpy as np


class Device:
    """The host CPU: the only device relay-opt's native code runs on."""

    def __init__(self, kind: str = "cpu", index: int = 0):
        self.device_type = kind
        self.device_id = index

    def __repr__(self) -> str:
        return f"{self.device_type}({self.device_id})"

    def sync(self) -> None:
        """Nothing to wait for: calls return when their results are written."""


def cpu(index: int = 0) -> Device:
    return Device("cpu", index)


def device(kind: str | int = "cpu", index: int = 0) -> Device:
    name = str(kind).split()[0]
    if name not in ("cpu", "llvm", "1"):
        raise ValueError(f"relay-opt runs on the host CPU only, not on '{kind}'")
    return Device("cpu", index)


class NDArray:
    def __init__(self, array: np.ndarray, dev: Device | None = None):
        array = np.asarray(array)
        # (np.ascontiguousarray would make a 0-d array 1-d)
        self._array = array if array.flags.c_contiguous else array.copy(order="C")
        self.device = dev or cpu()

    def numpy(self) -> np.ndarray:
        return self._array

    asnumpy = numpy

    @property
    def shape(self) -> tuple[int, ...]:
        return self._array.shape

    @property
    def dtype(self) -> str:
        return str(self._array.dtype)

    def copyfrom(self, source: Any) -> NDArray:
        self._array[...] = np.asarray(source.numpy() if isinstance(source, NDArray) else source)
        return self

    def copyto(self, target: Any) -> NDArray:
        if isinstance(target, NDArray):
            return target.copyfrom(self)
        return NDArray(self._array.copy(), target)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._array if dtype is None else self._array.astype(dtype)

    def __repr__(self) -> str:
        return f"<tvm.nd.NDArray shape={self.shape}, {self.device}>\n{self._array!r}"


def array(arr: Any, device: Device | None = None, dtype: str | None = None) -> NDArray:
    """tvm.nd.array(numpy_array, tvm.cpu())."""
    if isinstance(arr, NDArray):
        arr = arr.numpy()
    return NDArray(np.array(arr, dtype=dtype), device)


def empty(shape: Any, dtype: str = "float32", device: Device | None = None) -> NDArray:
    return NDArray(np.empty(shape, dtype=dtype), device)
