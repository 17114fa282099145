"""defuse-ops: the inverse of fuse-ops; every Primitive closure's body goes back in place."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.attribute_names import PRIMITIVE


@dataclass(frozen=True)
class DefuseOpsPass(ModulePass):
    """Puts the operators of each Primitive closure back where the closure is called."""

    name = "defuse-ops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for call in [c for c in op.walk() if isinstance(c, core.CallClosureOp)]:
            fn = call.callee.owner
            if not isinstance(fn, core.ClosureOp) or fn.attributes.get(PRIMITIVE) is None:
                continue
            mapping: dict[SSAValue, SSAValue] = dict(zip(fn.args, call.arguments))
            *ops, ret = list(fn.body.block.ops)
            block = call.parent_block()
            assert block is not None
            for inner in ops:
                block.insert_op_before(inner.clone(value_mapper=mapping), call)
            assert isinstance(ret, core.ReturnOp)
            call.result.replace_all_uses_with(mapping[ret.value])
            call.detach()
            call.erase()
            if fn.result.first_use is None:
                fn.detach()
                fn.erase()
