"""count-relay-ops: how many calls of each operator every relay.func makes."""

from collections import Counter
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from relay_opt.dialects.relay.core import FuncOp
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt_example_plugin.stats import OpCountOp


@dataclass(frozen=True)
class CountRelayOpsPass(ModulePass):
    """Records the operator calls of each relay.func as stats.op_count ops."""

    name = "count-relay-ops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for func in op.ops:
            if not isinstance(func, FuncOp):
                continue
            counts = Counter(o.opdef.name for o in func.walk() if isinstance(o, RelayOperatorOp))
            block = func.body.block
            # Counts from an earlier run are replaced, so running the pass twice changes nothing.
            for old in [o for o in block.ops if isinstance(o, OpCountOp)]:
                old.detach()
                old.erase()
            for name, count in sorted(counts.items(), reverse=True):
                block.insert_op_before(OpCountOp(name, count), block.first_op)  # pyright: ignore
