"""tvm.nd: NDArray (relay_opt.relay.ndarray), array(), cpu()."""

from relay_opt.relay.ndarray import Device, NDArray, array, cpu, device, empty

__all__ = ["Device", "NDArray", "array", "cpu", "device", "empty"]
