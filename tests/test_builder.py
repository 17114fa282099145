"""The one Relay builder and the IR helpers that passes, the lowering and the runtime share."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import FileLineColLoc, IntAttr, StringAttr
from xdsl.ir import Block, Operation

from relay_opt import load_program
from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.attributes import AttrError
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.ir_helpers import (
    functions_by_name,
    inline_body,
    shape_of,
    static_shape,
)
from relay_opt.dialects.relay.ops.elementwise import Add
from relay_opt.dialects.relay.ops.nn import Dropout
from relay_opt.dialects.relay.ops.transform import Reshape
from relay_opt.dialects.relay.registry import TypeRelationError
from relay_opt.dialects.relay.types import DYNAMIC, IncompleteType, tensor_type


def _loc() -> FileLineColLoc:
    return FileLineColLoc(StringAttr("m.rly"), IntAttr(3), IntAttr(7))


def test_calls_infer_their_type_and_carry_the_location():
    block = Block(arg_types=[tensor_type((2, 3), "float32")])
    b = RelayBuilder.at_end(block, _loc())
    x = block.args[0]
    y = b.call(Reshape, b.call(Add, x, b.scalar(1.0, x)), newshape=[3, 2])
    assert y.type == tensor_type((3, 2), "float32")
    assert [op.name for op in block.ops] == ["relay.constant", "relay.add", "relay.reshape"]
    assert all(op.location == _loc() for op in block.ops)
    reshape = y.owner
    assert isinstance(reshape, Reshape) and reshape.attrs.newshape == [3, 2]
    pair = b.call(Dropout, x)  # a tuple result, taken apart with tuple_get
    assert b.tuple_get(pair, 1).type == x.type
    assert list(b.tuple([x, y]).owner.operands) == [x, y]  # pyright: ignore[reportAttributeAccessIssue]


def test_unknown_operand_types_give_an_incomplete_result_and_errors_are_the_registry_s():
    block = Block(arg_types=[IncompleteType(), tensor_type((2,), "float32")])
    built: list[Operation] = []
    b = RelayBuilder.collect(built)
    assert b.call(Add, *block.args).type == IncompleteType()
    with pytest.raises(TypeRelationError):
        b.call(Add, block.args[1], b.constant(np.zeros((3,), np.float32)))
    with pytest.raises(AttrError):
        b.call(Add, block.args[1], block.args[1], axis=1)
    assert not list(block.ops) and len(built) == 2  # the list got them, the block did not


def test_shapes():
    t = tensor_type((1, DYNAMIC), "float32")
    assert shape_of(t) == (1, DYNAMIC) and static_shape(t) is None
    assert static_shape(tensor_type((4, 5), "int8")) == (4, 5)


def test_functions_by_name_and_inline_body():
    module = load_program(
        '#[version = "0.0.5"]\n'
        "def @twice(%x: Tensor[(2), float32]) { add(%x, %x) }\n"
        "def @main(%y: Tensor[(2), float32]) { @twice(%y) }\n",
        "relay",
        filename="m.rly",
    ).module
    funcs = functions_by_name(module)
    assert list(funcs) == ["twice", "main"]
    [call] = [op for op in funcs["main"].walk() if isinstance(op, core.CallOp)]
    inlined: list[Operation] = []
    out = inline_body(funcs["twice"], call.arguments, inlined.append, call.location)
    assert [op.name for op in inlined] == ["relay.add"]
    assert list(inlined[0].operands) == [call.arguments[0], call.arguments[0]]
    assert out is inlined[0].results[0] and inlined[0].location == call.location
