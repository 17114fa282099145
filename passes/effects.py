"""Which Relay ops and functions have effects (on reference cells), for DCE and CSE.

Operators, tuples, constants, closures and constructors only compute values.
`ref_write` is an effect; so are calls that may reach one: a call of a
global function whose body (transitively) writes a ref or calls an unknown
closure. Creating or reading a cell nobody uses has no observable effect.
"""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.ir_helpers import functions_by_name
from relay_opt.dialects.relay.registry import RelayOperatorOp

_VALUE_OPS = (
    core.TupleOp,
    core.TupleGetOp,
    core.ConstantOp,
    core.ClosureOp,
    core.GlobalRefOp,
    adt.ConstructOp,
    core.RefCreateOp,
    core.RefReadOp,
)


class Effects:
    def __init__(self, module: ModuleOp):
        self.funcs = functions_by_name(module)
        self._impure: dict[str, bool] = {}

    def function_has_effects(self, name: str) -> bool:
        if name not in self._impure:
            self._impure[name] = True  # assumed while recursing (cycles stay conservative)
            func = self.funcs.get(name)
            self._impure[name] = func is None or any(
                self.op_has_effects(op, nested=True) for op in func.body.walk()
            )
        return self._impure[name]

    def op_has_effects(self, op: Operation, nested: bool = False) -> bool:
        """Whether running `op` (and, unless `nested`, what its regions run) can change state."""
        if isinstance(op, (RelayOperatorOp, *_VALUE_OPS, core.ReturnOp, core.YieldOp)):
            return False
        if isinstance(op, core.RefWriteOp):
            return True
        if isinstance(op, core.CallOp):
            return self.function_has_effects(op.callee.root_reference.data)
        if isinstance(op, core.CallClosureOp):
            return True  # the callee is not known here
        if isinstance(op, (core.IfOp, adt.MatchOp)):
            return not nested and any(
                self.op_has_effects(o, nested=True) for o in op.walk() if o is not op
            )
        return True
