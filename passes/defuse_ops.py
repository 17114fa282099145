"""defuse-ops: the inverse of fuse-ops; every Primitive closure's body goes back in place."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.attribute_names import PRIMITIVE
from relay_opt.dialects.relay.ir_helpers import inline_body


@dataclass(frozen=True)
class DefuseOpsPass(ModulePass):
    """Puts the operators of each Primitive closure back where the closure is called."""

    name = "defuse-ops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for call in [c for c in op.walk() if isinstance(c, core.CallClosureOp)]:
            fn = call.callee.owner
            if not isinstance(fn, core.ClosureOp) or fn.attributes.get(PRIMITIVE) is None:
                continue
            block = call.parent_block()
            assert block is not None
            insert = partial(block.insert_op_before, existing_op=call)
            result = inline_body(fn, call.arguments, insert)
            call.result.replace_all_uses_with(result)
            call.detach()
            call.erase()
            if fn.result.first_use is None:
                fn.detach()
                fn.erase()
