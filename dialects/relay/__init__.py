"""The Relay dialect: types, core ops, ADTs and the operator registry.

`Relay` is built on first use, so importing this package does no work; every
registered operator (`relay.add`, `relay.nn.conv2d`, ...) is one of its ops.
"""

from __future__ import annotations

from xdsl.ir import Dialect


def get_relay_dialect() -> Dialect:
    from relay_opt.dialects.relay import adt, core, patterns, types
    from relay_opt.dialects.relay.registry import all_ops

    core_ops = [
        core.FuncOp,
        core.ClosureOp,
        core.ReturnOp,
        core.CallOp,
        core.CallClosureOp,
        core.GlobalRefOp,
        core.IfOp,
        core.YieldOp,
        core.ConstantOp,
        core.TupleOp,
        core.TupleGetOp,
        core.RefCreateOp,
        core.RefReadOp,
        core.RefWriteOp,
        core.CallCountOp,
        adt.TypeDefOp,
        adt.ConstructorOp,
        adt.ConstructOp,
        adt.MatchOp,
    ]
    attrs = [
        types.TypeVarType,
        types.IncompleteType,
        types.RefType,
        types.ADTType,
        types.StringType,
        patterns.WildcardPattern,
        patterns.VarPattern,
        patterns.ConstructorPattern,
        patterns.TuplePattern,
    ]
    return Dialect("relay", [*core_ops, *(d.op_class for d in all_ops(strings=True))], attrs)
