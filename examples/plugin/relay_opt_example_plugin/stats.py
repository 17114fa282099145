"""The `stats` dialect: one op that records a count."""

from xdsl.dialects.builtin import IntegerAttr, StringAttr, i64
from xdsl.ir import Dialect
from xdsl.irdl import IRDLOperation, irdl_op_definition, prop_def


@irdl_op_definition
class OpCountOp(IRDLOperation):
    """`stats.op_count "nn.conv2d" 2 : i64`: the function calls that operator that many times."""

    name = "stats.op_count"

    op = prop_def(StringAttr)
    count = prop_def(IntegerAttr)

    assembly_format = "$op $count attr-dict"

    def __init__(self, op: str, count: int):
        super().__init__(properties={"op": StringAttr(op), "count": IntegerAttr(count, i64)})


Stats = Dialect("stats", [OpCountOp])
