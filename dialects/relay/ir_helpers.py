"""Questions about Relay IR that passes, the lowering and the runtime share, asked one way:
a module's functions by name, a value's shape, and a callee's body inlined at a call; and
building a large module (`building_ir`)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from xdsl.dialects.builtin import LocationAttr, ModuleOp, TensorType
from xdsl.ir import Attribute, Operation, SSAValue

from relay_opt.dialects.relay.core import ClosureOp, FuncOp, ReturnOp
from relay_opt.dialects.relay.types import DYNAMIC


@contextmanager
def building_ir() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector while a whole module is built or retyped.

    Every op and value is a cycle (uses point back to their users) that lives on, so each
    full collection rescans all the IR built so far: on a 20,000-op module that was a third
    of the import time, growing faster than the module. Little garbage is made meanwhile;
    it is collected when the collector resumes."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def functions_by_name(module: ModuleOp) -> dict[str, FuncOp]:
    """The module's global functions (`relay.func`), by symbol name, in module order."""
    return {op.sym_name.data: op for op in module.ops if isinstance(op, FuncOp)}


def shape_of(v: SSAValue | Attribute) -> tuple[int, ...]:
    """The shape of a tensor value or type (`?` dimensions as DYNAMIC)."""
    t = v.type if isinstance(v, SSAValue) else v
    assert isinstance(t, TensorType), t
    return tuple(t.get_shape())


def static_shape(v: SSAValue | Attribute) -> tuple[int, ...] | None:
    """The shape of a tensor value or type whose dimensions are all known, else None."""
    t = v.type if isinstance(v, SSAValue) else v
    if not isinstance(t, TensorType):
        return None
    shape = tuple(t.get_shape())
    return None if DYNAMIC in shape or any(d < 0 for d in shape) else shape


def inline_body(
    callee: FuncOp | ClosureOp,
    arguments: Sequence[SSAValue],
    insert: Callable[[Operation], object],
    location: LocationAttr | None = None,
) -> SSAValue:
    """Clones of a callee's body ops (all but its `relay.return`), with its parameters read
    as `arguments`, handed to `insert` in order; returns the value the body returns.
    `location`, when given, replaces the clones' (inline gives them the call's)."""
    mapping: dict[SSAValue, SSAValue] = dict(zip(callee.args, arguments, strict=True))
    *ops, ret = list(callee.body.block.ops)
    for op in ops:
        new = op.clone(value_mapper=mapping)
        if location is not None:
            new.location = location
        insert(new)
    assert isinstance(ret, ReturnOp)
    return mapping.get(ret.value, ret.value)
