"""A plugin module that is never installed: `relay-opt --load-plugin relay_opt_sample_universe`
finds it on PYTHONPATH. It offers one pass, `drop-dropout`."""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.universe import Universe

from relay_opt.dialects.relay.core import TupleGetOp
from relay_opt.dialects.relay.ops.nn import Dropout


@dataclass(frozen=True)
class DropDropoutPass(ModulePass):
    """Replaces nn.dropout(x).0 by x (dropout is the identity at inference)."""

    name = "drop-dropout"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for get in [o for o in op.walk() if isinstance(o, TupleGetOp)]:
            dropout = get.tuple.owner
            if isinstance(dropout, Dropout) and get.field_index == 0:
                get.result.replace_all_uses_with(dropout.operands[0])
                get.detach()
                get.erase()
                if dropout.result.first_use is None:
                    dropout.detach()
                    dropout.erase()


SAMPLE = Universe(all_passes={"drop-dropout": lambda: DropDropoutPass})
