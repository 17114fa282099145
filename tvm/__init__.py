"""relay_opt.tvm: the few `tvm.*` names that tvm.relay scripts use, for
`from relay_opt import tvm` in place of `import tvm`.

`tvm.IRModule`, `tvm.transform` (PassContext, Sequential, module_pass, PrintIR), `tvm.nd`
(array, NDArray), `tvm.cpu()`, `tvm.device()`, `tvm.runtime`, `tvm.target.Target`,
`tvm.contrib.graph_executor`, `tvm.parser.parse`, `tvm.ir.structural_equal`,
`tvm.testing.assert_allclose` and `tvm.relay` (relay_opt.relay). Only the host CPU is a target.
"""

from __future__ import annotations

import sys
import types

from relay_opt import relay as relay
from relay_opt.relay import structural as _structural
from relay_opt.relay import transform as _relay_transform
from relay_opt.relay.expr import Op as _Op
from relay_opt.relay.module import IRModule
from relay_opt.tvm import contrib as contrib
from relay_opt.tvm import nd as nd
from relay_opt.tvm.nd import Device, cpu, device

__all__ = [
    "Device", "IRModule", "contrib", "cpu", "device", "ir", "nd", "parser", "relay", "runtime",
    "target", "testing", "transform",
]  # fmt: skip


def _module(name: str, doc: str, **names: object) -> types.ModuleType:
    m = types.ModuleType(f"{__name__}.{name}", doc)
    m.__dict__.update(names)
    sys.modules[m.__name__] = m
    return m


transform = _module(
    "transform",
    "tvm.transform: pass contexts and pass combinators",
    PassContext=_relay_transform.PassContext,
    Pass=_relay_transform.Pass,
    PassInfo=_relay_transform.PassInfo,
    Sequential=_relay_transform.Sequential,
    module_pass=_relay_transform.module_pass,
    PrintIR=_relay_transform.PrintIR,
)

runtime = _module(
    "runtime",
    "tvm.runtime: arrays and devices",
    NDArray=nd.NDArray,
    ndarray=nd,
    Device=Device,
    cpu=cpu,
    device=device,
)


class Target:
    """A compilation target: only the host CPU ('llvm', any -mcpu: the JIT uses the host's)."""

    def __init__(self, target: str | Target = "llvm", host: object = None):
        text = target.text if isinstance(target, Target) else str(target)
        if text.split()[0] not in ("llvm", "c"):
            raise ValueError(f"relay-opt compiles for the host CPU (target 'llvm'), not '{text}'")
        self.text = text
        self.kind = "llvm"

    def __str__(self) -> str:
        return self.text


target = _module("target", "tvm.target: the host CPU target", Target=Target)
ir = _module(
    "ir",
    "tvm.ir",
    IRModule=IRModule,
    Op=_Op,
    structural_equal=_structural.structural_equal,
    assert_structural_equal=_structural.assert_structural_equal,
)
parser = _module("parser", "tvm.parser: Relay text", parse=relay.fromtext, fromtext=relay.fromtext)


def _assert_allclose(actual: object, desired: object, rtol: float = 1e-7, atol: float = 0) -> None:
    import numpy as np

    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=rtol, atol=atol)


testing = _module("testing", "tvm.testing", assert_allclose=_assert_allclose)
