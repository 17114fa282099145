"""ONNX sequences and optionals as the prelude's `List` and `Option`.

A `seq(tensor(T))` value is a `List[Tensor[(?, ..., ?), T]]`: every dim `?`, since the
elements of one sequence usually differ in shape, and one type per rank and dtype lets
`If` branches and loop iterations agree. An `optional(X)` is an `Option[X]`.

Each operator is a call of a small Relay function written below in Relay text (a `match`
on the list, recursion for positions), parsed with the prelude's types and functions it
uses and added to the module once per element type. A position is normalized and checked
where the node is (a negative one counts from the end; one out of range is the located
bounds error of `dyn.strided_slice`), so the helpers only see valid positions.

A `SequenceEmpty` whose element rank is not known yet is an `EmptySequence` while
importing: the first `SequenceInsert` gives it a type (a list of one element), and a loop
or a graph output takes the rank its declared ONNX type gives.

Where one rank cannot hold the values (a sequence given tensors of two ranks, an `If`
whose branches yield two ranks), a tensor is *rank-erased*: the tuple `(Tensor[(?), T],
Tensor[(?), int64])` of its data flattened and its shape (`erase`). A sequence of them is
a `List` of such tuples. An operator that needs a rank reshapes the value back to it
(`unerase`), the shape vector's length checked at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import StringAttr, TensorType, TupleType
from xdsl.ir import Attribute, Operation, SSAValue

from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.types import (
    DYNAMIC,
    ADTType,
    tensor_dtype,
    tensor_type,
    tuple_type,
)
from relay_opt.frontends.onnx.importer import (
    GraphImporter,
    Node,
    OnnxUnsupportedError,
    Value,
    converter,
    relay_dtype_of,
)


@dataclass(frozen=True)
class EmptySequence:
    """An empty sequence of `dtype` whose element rank is not known yet."""

    dtype: str


def list_type(element: Attribute) -> ADTType:
    return ADTType("List", [element])


def option_type(t: Attribute) -> ADTType:
    return ADTType("Option", [t])


def element_type(dtype: str, rank: int) -> TensorType[Attribute]:
    """The element type of every sequence of this dtype and rank: all dims `?`."""
    return tensor_type([DYNAMIC] * rank, dtype)


def is_sequence(t: Attribute) -> bool:
    return isinstance(t, ADTType) and t.adt_name == "List"


def is_optional(t: Attribute) -> bool:
    return isinstance(t, ADTType) and t.adt_name == "Option"


def onnx_type(proto: Any, what: str, element: Sequence[int] | None = None) -> Attribute | None:  # noqa: ANN401
    """The Relay type of an ONNX TypeProto of a sequence or an optional (None for a
    tensor: the importer's own rules apply to it). `element` is the shape of an element of
    a sequence whose type does not declare their rank."""
    kind = proto.WhichOneof("value")
    if kind == "tensor_type":
        return None
    if kind == "sequence_type":
        elem = proto.sequence_type.elem_type
        if elem.WhichOneof("value") != "tensor_type":
            raise OnnxUnsupportedError(f"{what}: a sequence of non-tensors is not supported")
        tt = elem.tensor_type
        dtype = relay_dtype_of(tt.elem_type, what)
        if tt.HasField("shape"):
            return list_type(element_type(dtype, len(tt.shape.dim)))
        if element is None:
            raise OnnxUnsupportedError(
                f"{what}: the rank of the sequence's elements is not declared (give the shape "
                "of one element as the input's shape)"
            )
        return list_type(element_type(dtype, len(element)))
    if kind == "optional_type":
        elem = proto.optional_type.elem_type
        inner = onnx_type(elem, what)
        if inner is None:
            tt = elem.tensor_type
            dtype = relay_dtype_of(tt.elem_type, what)
            if not tt.HasField("shape"):
                raise OnnxUnsupportedError(
                    f"{what}: the rank of the optional tensor is not declared"
                )
            shape = [d.dim_value if d.HasField("dim_value") else DYNAMIC for d in tt.shape.dim]
            inner = tensor_type(shape, dtype)
        return option_type(inner)
    raise OnnxUnsupportedError(f"{what}: a value of ONNX type '{kind}' is not supported")


def typed(graph: GraphImporter, value: Any, proto: Any, what: str) -> Value:  # noqa: ANN401
    """`value` as a run-time value: an EmptySequence or a NoValue takes the type that its
    ONNX type `proto` declares."""
    if not isinstance(value, (EmptySequence, NoValue)):
        return value
    t = onnx_type(proto, what) if proto is not None else None
    if isinstance(value, EmptySequence) and t is not None and is_sequence(t):
        return _call(graph, "nil", _elem(t), [], t)
    if isinstance(value, NoValue) and t is not None and is_optional(t):
        assert isinstance(t, ADTType)
        return _call(graph, "none", t.args.data[0], [], t)
    raise OnnxUnsupportedError(f"{what}: the type of an empty sequence or optional is not known")


def _elem(t: Attribute) -> Attribute:
    """A sequence type's element type: a tensor type, or a rank-erased tuple."""
    assert isinstance(t, ADTType)
    e = t.args.data[0]
    assert isinstance(e, TensorType) or is_erased(e)
    return e


# -- rank-erased tensors --------------------------------------------------------------------


def erased_type(dtype: str) -> TupleType:
    """A tensor of `dtype` and any rank: (its data flattened, its shape)."""
    return tuple_type([tensor_type([DYNAMIC], dtype), tensor_type([DYNAMIC], "int64")])


def is_erased(t: Attribute) -> bool:
    # (ONNX has no tuple values: a tuple the importer makes is a rank-erased tensor)
    if not isinstance(t, TupleType) or len(t.types) != 2:
        return False
    data, shape = t.types.data
    return (
        isinstance(data, TensorType)
        and isinstance(shape, TensorType)
        and len(data.get_shape()) == 1
        and len(shape.get_shape()) == 1
        and tensor_dtype(shape) == "int64"
    )


def erased_dtype(t: Attribute) -> str:
    assert isinstance(t, TupleType) and is_erased(t)
    data = t.types.data[0]
    assert isinstance(data, TensorType)
    return tensor_dtype(data)


def _value_dtype(t: Attribute) -> str:
    """The dtype of a tensor or a rank-erased tensor of type `t`."""
    return erased_dtype(t) if is_erased(t) else tensor_dtype(t)  # pyright: ignore[reportArgumentType]


def _any_size(node: Node, v: Value) -> SSAValue:
    """`v` typed with `?` dims (a reshape to its own shape, read at run time)."""
    v = node.graph.ssa(v)
    if all(d == DYNAMIC for d in node.shape(v)):
        return v
    return node.graph.ssa(node.op("dyn.reshape", v, node.op("shape_of", v, dtype="int64")))


def erase(node: Node, x: Value) -> SSAValue:
    """Tensor `x` rank-erased: (its data flattened, its shape)."""
    x = node.graph.ssa(x)
    flat = _any_size(node, node.op("reshape", x, newshape=[-1]))
    shape = _any_size(node, node.op("shape_of", x, dtype="int64"))
    return node.graph.builder.tuple([flat, shape])


def unerase(node: Node, v: SSAValue, rank: int, exact: bool) -> Value:
    """Rank-erased `v` as a tensor of `rank` (`?` dims). Its rank at run time must be
    `rank` (`exact`) or at most `rank`: a lower one gets leading dims of 1, the value as
    broadcasting sees it. Another rank is a located run-time error, the bounds error of
    `_checked` (the count of missing dims must be in [0, 1) or [0, rank])."""
    data, shape = node.tuple_get(v, 0), node.tuple_get(v, 1)
    length = node.op("take", node.op("shape_of", shape, dtype="int64"), np.array(0, np.int64))
    missing = node.op("subtract", np.array(rank, np.int64), length)
    missing = _checked(node, missing, np.array(1 if exact else rank + 1, np.int64))
    # the last `rank` sizes of [1] * rank + shape: gathered at positions known in length,
    # so that the sizes' vector, and the result's rank, are static
    padded = node.op("concatenate", [np.ones(rank, np.int64), shape], axis=0)
    positions = node.op("subtract", np.arange(rank, dtype=np.int64) + rank, missing)
    return node.op("dyn.reshape", data, node.op("take", padded, positions))


def erased_rank(graph: GraphImporter, v: Value) -> int | None:
    """The rank the uses of rank-erased `v` read it at (an If's join: its branches' highest),
    or None when it is known only at run time."""
    return graph.erased_ranks.get(v) if isinstance(v, SSAValue) else None


_ERASE_ALL = """
def @F(%xs: List[T]) -> List[E] {
  match (%xs) {
    Cons(%x, %rest) => Cons((reshape(%x, newshape=[-1]), shape_of(%x, dtype="int64")), @F(%rest)),
    Nil => Nil,
  }
}"""

_ERASE_OPTION = """
def @F(%x: Option[List[T]]) -> Option[List[E]] {
  match (%x) {
    Some(%xs) => Some(@G(%xs)),
    None => None,
  }
}"""


def erased_version(t: Attribute) -> Attribute | None:
    """The type of a sequence (or an optional one) of type `t` with its elements rank-erased;
    None for other types or when they are already."""
    if is_sequence(t):
        e = _elem(t)
        return list_type(erased_type(tensor_dtype(e))) if isinstance(e, TensorType) else None  # pyright: ignore[reportArgumentType]
    if is_optional(t):
        assert isinstance(t, ADTType)
        inner = erased_version(t.args.data[0])
        return option_type(inner) if inner is not None else None
    return None


def erase_sequence(node: Node, v: Value) -> SSAValue:
    """Sequence (or optional sequence) `v` with its elements rank-erased (at run time, a map)."""
    from relay_opt.frontends.relay_text.printer import relay_type

    assert isinstance(v, SSAValue)
    t = v.type
    assert isinstance(t, ADTType)
    erased = erased_version(t)
    assert erased is not None
    inner = t.args.data[0]
    e = _elem(inner if is_optional(t) else t)
    dtype = tensor_dtype(e)  # pyright: ignore[reportArgumentType]
    erase_all = _replace_word(_ERASE_ALL, "E", relay_type(erased_type(dtype)))
    name = helper(node.graph, "erase_all", e, erase_all)
    if is_optional(t):  # (its text holds the list's function too, which it calls)
        body = erase_all.replace("@F", f"@{name}") + _ERASE_OPTION.replace("@G", f"@{name}")
        body = _replace_word(body, "E", relay_type(erased_type(dtype)))
        name = helper(node.graph, "erase_option", e, body)
    return node.graph.add(core.CallOp(name, [v], erased)).result


# -- the Relay functions the operators call -------------------------------------------------

# `@F` is the function's name, `T` the element type. Positions are int64 scalars in range.
_HELPERS: dict[str, str] = {
    "nil": "def @F() -> List[T] { Nil }",
    "cons": "def @F(%x: T, %xs: List[T]) -> List[T] { Cons(%x, %xs) }",
    "length": """
def @F(%xs: List[T], %n: int64) -> int64 {
  match (%xs) {
    Cons(_, %rest) => @F(%rest, %n + 1i64),
    Nil => %n,
  }
}""",
    "at": """
def @F(%xs: List[T], %i: int64) -> T {
  match? (%xs) {
    Cons(%x, %rest) => if (%i == 0i64) { %x } else { @F(%rest, %i - 1i64) },
  }
}""",
    "insert": """
def @F(%xs: List[T], %i: int64, %v: T) -> List[T] {
  if (%i == 0i64) {
    Cons(%v, %xs)
  } else {
    match? (%xs) {
      Cons(%x, %rest) => Cons(%x, @F(%rest, %i - 1i64, %v)),
    }
  }
}""",
    "erase": """
def @F(%xs: List[T], %i: int64) -> List[T] {
  match? (%xs) {
    Cons(%x, %rest) => if (%i == 0i64) { %rest } else { Cons(%x, @F(%rest, %i - 1i64)) },
  }
}""",
    "reverse": "def @F(%xs: List[T]) -> List[T] { @rev(%xs) }",
    "some": "def @F(%x: T) -> Option[T] { Some(%x) }",
    "none": "def @F() -> Option[T] { None }",
    "has_element": """
def @F(%x: Option[T]) -> bool {
  match (%x) {
    Some(_) => True,
    None => False,
  }
}""",
    "get_element": """
def @F(%x: Option[T]) -> T {
  match? (%x) {
    Some(%v) => %v,
  }
}""",
}


def helper(graph: GraphImporter, kind: str, t: Attribute, body: str | None = None) -> str:
    """The name of helper `kind` for element type `t`, added to the module on first use
    (with the prelude's types and functions it needs). `body` is the text of a helper the
    caller writes (`@F` and `T` in it as in _HELPERS)."""
    from relay_opt.frontends.relay_text import parse_relay
    from relay_opt.frontends.relay_text.printer import relay_type
    from relay_opt.loader import type_check

    template = body if body is not None else _HELPERS[kind]
    key = template.replace("T", relay_type(t))
    if key in graph.helpers:
        return graph.helpers[key]
    name = graph.function_name(f"onnx_seq_{kind}")
    declare_types(graph)
    text = '#[version = "0.0.5"]\n' + template.replace("@F", f"@{name}")
    # (T only as a whole word: the helpers' names and types hold no other capital T)
    text = _replace_word(text, "T", relay_type(t))
    module = parse_relay(text, filename=f"<onnx {kind}>")
    type_check(module)  # (the text leaves the types of its let-bound values out)
    taken = {_symbol(op) for op in (*graph.functions, *graph.type_defs)}
    for op in list(module.ops):
        op.detach()
        if _symbol(op) in taken:
            continue  # a prelude definition an earlier helper added
        if isinstance(op, adt.TypeDefOp):
            graph.type_defs.append(op)
        elif isinstance(op, core.FuncOp):
            graph.functions.append(op)
    graph.helpers[key] = name
    return name


def _symbol(op: Operation) -> str | None:
    symbol = op.properties.get("sym_name")
    return symbol.data if isinstance(symbol, StringAttr) else None


def declare_types(graph: GraphImporter) -> None:
    """Adds the prelude's List and Option to the module (once)."""
    from relay_opt.frontends.relay_text import parse_relay

    if graph.type_defs:
        return
    text = '#[version = "0.0.5"]\ndef @f(%x: Option[List[int32]]) -> Option[List[int32]] { %x }'
    for op in list(parse_relay(text, filename="<onnx types>").ops):
        if isinstance(op, adt.TypeDefOp):
            op.detach()
            graph.type_defs.append(op)


def _replace_word(text: str, word: str, by: str) -> str:
    import re

    return re.sub(rf"\b{word}\b", by, text)


def _call(
    graph: GraphImporter, kind: str, t: Attribute, args: list[Value], result: Attribute
) -> SSAValue:
    name = helper(graph, kind, t)
    return graph.add(core.CallOp(name, [graph.ssa(a) for a in args], result)).result


# -- operands ----------------------------------------------------------------------------------

# The operators that take sequences or optionals; every other one takes tensors only.
TAKES_SEQUENCES = frozenset(
    {
        "Identity",
        "Loop",
        "SequenceAt",
        "SequenceInsert",
        "SequenceErase",
        "SequenceLength",
        "ConcatFromSequence",
        "SequenceMap",
        "Optional",
        "OptionalHasElement",
        "OptionalGetElement",
    }
)


# The operators that take a rank-erased tensor as it is; the others read it at its rank.
TAKES_ERASED = frozenset({"Identity", "SequenceInsert", "SequenceConstruct"})


def check_operands(node: Node) -> None:
    """A sequence or an optional given to an operator of tensors is an error naming the node
    (the converters read their operands' shapes trusting them to be tensors). A rank-erased
    tensor is reshaped to the rank its uses read it at (`erased_rank`) first."""
    for i, v in enumerate(node.inputs):
        if not isinstance(v, SSAValue) or not is_erased(v.type) or node.op_type in TAKES_ERASED:
            continue
        rank = erased_rank(node.graph, v)
        if rank is None:
            raise node.unsupported(
                f"input {i} is a tensor whose rank is known only at run time (an element of a "
                "sequence of several ranks); declare its rank (value_info of the SequenceAt "
                "that reads it)"
            )
        node.inputs[i] = unerase(node, v, rank, exact=False)
    if node.op_type in TAKES_SEQUENCES:
        return
    for i, v in enumerate(node.inputs):
        if v is None or isinstance(v, np.ndarray):
            continue
        if not isinstance(v, SSAValue) or not isinstance(v.type, TensorType):
            raise node.error(
                f"input {i} is a sequence or an optional; {node.op_type} takes tensors"
            )


def sequence(node: Node, i: int) -> SSAValue | EmptySequence:
    v = node.required(i)
    if isinstance(v, EmptySequence) or (isinstance(v, SSAValue) and is_sequence(v.type)):
        return v
    raise node.error(f"input {i} must be a sequence")


def _tensor(node: Node, i: int) -> Value:
    """Input i, a tensor (rank-erased too)."""
    v = node.required(i)
    if isinstance(v, np.ndarray) or (
        isinstance(v, SSAValue) and (isinstance(v.type, TensorType) or is_erased(v.type))
    ):
        return v
    raise node.error(f"input {i} must be a tensor")


def _is_erased_value(v: Value) -> bool:
    return isinstance(v, SSAValue) and is_erased(v.type)


def _dtype(node: Node, x: Value) -> str:
    return erased_dtype(x.type) if _is_erased_value(x) else node.dtype(x)  # pyright: ignore[reportAttributeAccessIssue]


def _fits(node: Node, seq: SSAValue, x: Value, what: str) -> None:
    elem = _elem(seq.type)
    if is_erased(elem):
        if _dtype(node, x) != erased_dtype(elem):
            raise node.error(
                f"{what} ({_dtype(node, x)}) does not fit a sequence of "
                f"{erased_dtype(elem)} tensors"
            )
        return
    assert isinstance(elem, TensorType)
    if (
        _is_erased_value(x)
        or node.dtype(x) != tensor_dtype(elem)
        or node.rank(x) != len(elem.get_shape())
    ):
        raise node.error(
            f"{what} ({_describe(node, x)}) does not fit a sequence of "
            f"{len(elem.get_shape())}-d {tensor_dtype(elem)} tensors"
        )


def _describe(node: Node, x: Value) -> str:
    if _is_erased_value(x):
        return f"{_dtype(node, x)} of a rank known at run time"
    return f"{node.rank(x)}-d {node.dtype(x)}"


def length(node: Node, seq: SSAValue | EmptySequence) -> Value:
    if isinstance(seq, EmptySequence):
        return np.array(0, np.int64)
    return _call(
        node.graph,
        "length",
        _elem(seq.type),
        [seq, np.array(0, np.int64)],
        tensor_type([], "int64"),
    )


def _run_time_arange(node: Node, count: Value) -> Value:
    zero, one = node.scalar(0, "int64"), node.scalar(1, "int64")
    return node.op(
        "dyn.reshape", node.op("arange", zero, count, one, dtype="int64"), node.reshape(count, [1])
    )


def position(node: Node, i: int, count: Value, past_end: bool = False) -> Value:
    """Input i, a position in [-count, count) (or [-count, count] when `past_end`), as an
    int64 scalar in [0, count) (or [0, count]) (`_checked`)."""
    at = node.required(i)
    if node.shape(at) not in ((), (1,)):
        raise node.error(f"the position must hold one value, not shape {list(node.shape(at))}")
    at = node.reshape(node.cast(at, "int64"), [])
    negative = node.op("less", at, node.scalar(0, "int64"))
    at = node.op("where", negative, node.op("add", at, count), at)
    return _checked(node, at, node.op("add", count, node.scalar(1, "int64")) if past_end else count)


def _checked(node: Node, at: Value, count: Value) -> Value:
    """`at` (an int64 scalar), which must be in [0, count): one out of range is a located
    run-time error, the bounds error of a slice [at, at + 1) of arange(count)."""
    if isinstance(at, np.ndarray) and isinstance(count, np.ndarray):
        if not 0 <= int(at) < int(count):
            raise node.error(f"position {int(at)} is out of range for {int(count)} elements")
        return at
    slot = node.op(
        "dyn.strided_slice",
        _run_time_arange(node, count),
        node.reshape(at, [1]),
        np.ones(1, np.int64),
        strides=[1],
    )
    return node.op("take", slot, np.array(0, np.int64))


# -- the operators -------------------------------------------------------------------------------


@converter("SequenceEmpty")  # pyright: ignore[reportArgumentType]  (a placeholder: typed())
def sequence_empty(node: Node) -> Value | EmptySequence:
    dtype = relay_dtype_of(int(node.attr("dtype", 1)), node.where())
    return EmptySequence(dtype)  # pyright: ignore[reportReturnType]


@converter("SequenceConstruct")
def sequence_construct(node: Node) -> Value:
    items = [_tensor(node, i) for i in range(len(node.inputs))]
    dtype = _dtype(node, items[0])
    for k, x in enumerate(items):
        if _dtype(node, x) != dtype:
            raise node.error(
                f"input {k} ({_describe(node, x)}) differs from input 0 "
                f"({_describe(node, items[0])}): a sequence holds tensors of one dtype"
            )
    ranks = {None if _is_erased_value(x) else node.rank(x) for x in items}
    if len(ranks) == 1 and None not in ranks:
        elem: Attribute = element_type(dtype, node.rank(items[0]))
    else:  # several ranks: the elements rank-erased
        elem = erased_type(dtype)
        items = [x if _is_erased_value(x) else erase(node, x) for x in items]
    t = list_type(elem)
    result: Value = _call(node.graph, "nil", elem, [], t)
    for x in reversed(items):
        result = _call(node.graph, "cons", elem, [x, result], t)
    return result


@converter("SequenceLength")
def sequence_length(node: Node) -> Value:
    return length(node, sequence(node, 0))


@converter("SequenceAt")
def sequence_at(node: Node) -> Value:
    seq = sequence(node, 0)
    if isinstance(seq, EmptySequence):
        raise node.error("SequenceAt of an empty sequence")
    at = position(node, 1, length(node, seq))
    elem = _elem(seq.type)
    x = _call(node.graph, "at", elem, [seq, at], elem)
    if is_erased(elem):  # the rank its output declares, else its uses cannot read it
        rank = node.graph.declared_rank(node.proto.output[0])
        if rank is not None:
            return unerase(node, x, rank, exact=True)
    return x


@converter("SequenceInsert")
def sequence_insert(node: Node) -> Value:
    seq, x = sequence(node, 0), _tensor(node, 1)
    erased = _is_erased_value(x)
    if isinstance(seq, EmptySequence):
        if _dtype(node, x) != seq.dtype:
            raise node.error(f"the tensor is {_dtype(node, x)}, the sequence holds {seq.dtype}")
        elem = erased_type(seq.dtype) if erased else element_type(seq.dtype, node.rank(x))
        seq = _call(node.graph, "nil", elem, [], list_type(elem))
    elem = _elem(seq.type)
    if is_erased(elem) and not erased:
        x = erase(node, x)
    elif (
        isinstance(elem, TensorType)
        and _dtype(node, x) == tensor_dtype(elem)
        and (erased or node.rank(x) != len(elem.get_shape()))
    ):  # another rank than the sequence's: both rank-erased
        seq = erase_sequence(node, seq)
        x = x if erased else erase(node, x)
    _fits(node, seq, x, "the tensor")
    count = length(node, seq)
    if node.input(2) is None:
        at: Value = count
    else:  # a position in [-count, count]: one past the end appends
        at = position(node, 2, count, past_end=True)
    return _call(node.graph, "insert", _elem(seq.type), [seq, at, x], seq.type)


@converter("SequenceErase")
def sequence_erase(node: Node) -> Value:
    seq = sequence(node, 0)
    if isinstance(seq, EmptySequence):
        raise node.error("SequenceErase of an empty sequence")
    count = length(node, seq)
    if node.input(1) is None:  # the last element
        at = _checked(node, node.op("subtract", count, node.scalar(1, "int64")), count)
    else:
        at = position(node, 1, count)
    return _call(node.graph, "erase", _elem(seq.type), [seq, at], seq.type)


@converter("ConcatFromSequence")
def concat_from_sequence(node: Node) -> Value:
    seq = sequence(node, 0)
    if isinstance(seq, EmptySequence):
        raise node.error("ConcatFromSequence of an empty sequence")
    elem = _elem(seq.type)
    if not isinstance(elem, TensorType):
        raise node.unsupported("ConcatFromSequence of a sequence of several ranks")
    rank = len(elem.get_shape())
    new_axis = bool(node.attr("new_axis", 0))
    axis = node.axis(int(node.attr("axis")), rank + 1 if new_axis else rank)
    result = element_type(tensor_dtype(elem), rank + 1 if new_axis else rank)
    from relay_opt.frontends.relay_text.printer import relay_type

    part = f"expand_dims(%y, axis={axis})" if new_axis else "%y"
    # An empty sequence is the located error of the partial match.
    body = f"""
def @F(%xs: List[T]) -> R {{
  match? (%xs) {{
    Cons(%y, %rest) => @foldl(fn (%acc: R, %y: T) -> R {{
      concatenate((%acc, {part}), axis={axis})
    }}, {part}, %rest),
  }}
}}"""
    body = _replace_word(body, "R", relay_type(result))
    name = helper(node.graph, f"concat_axis{axis}{'_new' if new_axis else ''}", elem, body)
    return node.graph.add(core.CallOp(name, [seq], result)).result


@converter("SplitToSequence")
def split_to_sequence(node: Node) -> Value:
    x = _tensor(node, 0)
    shape = node.shape(x)
    axis = node.axis(int(node.attr("axis", 0)), len(shape))
    if shape[axis] == DYNAMIC:
        raise node.unsupported("splitting a ? axis into a sequence (its length is not known)")
    given = node.const_input(1, "split")
    keepdims = bool(node.attr("keepdims", 1))
    if given is None:
        sizes = [1] * shape[axis]
    elif given.ndim == 0:
        chunk = int(given)
        if chunk <= 0:
            raise node.error(f"split must be positive, not {chunk}")
        sizes = [min(chunk, shape[axis] - i) for i in range(0, shape[axis], chunk)]
    else:
        sizes = [int(s) for s in given.reshape(-1)]
    if sum(sizes) != shape[axis] or any(s < 0 for s in sizes):
        raise node.error(f"split sizes {sizes} do not add up to the axis length {shape[axis]}")
    parts: list[Value] = []
    start = 0
    for s in sizes:
        end = [d if d != DYNAMIC else np.iinfo(np.int64).max for d in shape]
        begin = [0] * len(shape)
        begin[axis], end[axis] = start, start + s
        parts.append(node.op("strided_slice", x, begin=begin, end=end, strides=[1] * len(shape)))
        start += s
    if given is None and not keepdims:
        parts = [node.op("squeeze", p, axis=[axis]) for p in parts]
    elem = element_type(node.dtype(x), node.rank(parts[0]) if parts else len(shape))
    t = list_type(elem)
    result: Value = _call(node.graph, "nil", elem, [], t)
    for p in reversed(parts):
        result = _call(node.graph, "cons", elem, [p, result], t)
    return result


@dataclass(frozen=True)
class NoValue:
    """An empty optional whose element type's shape is not known while importing."""

    proto: Any  # the ONNX TypeProto of its element


@converter("Optional")  # pyright: ignore[reportArgumentType]  (a placeholder: typed())
def optional(node: Node) -> Value | NoValue:
    x = node.input(0)
    if x is None:
        proto = node.attr("type")  # a TypeProto
        if proto is None:
            raise node.error("an Optional without an input needs its 'type'")
        t = onnx_type(proto, node.where()) if proto.WhichOneof("value") != "tensor_type" else None
        return NoValue(proto) if t is None else _call(node.graph, "none", t, [], option_type(t))  # pyright: ignore[reportReturnType]
    if isinstance(x, EmptySequence):
        raise node.unsupported("an optional of a sequence whose element rank is not known")
    t = x.type if isinstance(x, SSAValue) else tensor_type(x.shape, node.dtype(x))
    return _call(node.graph, "some", t, [x], option_type(t))


def some(node: Node, x: SSAValue) -> SSAValue:
    """`Some(x)`."""
    return _call(node.graph, "some", x.type, [x], option_type(x.type))


def get_element(node: Node, x: Value) -> SSAValue:
    """The value of optional `x`; an empty one is the located error of the partial match."""
    assert isinstance(x, SSAValue) and isinstance(x.type, ADTType)
    inner = x.type.args.data[0]
    return _call(node.graph, "get_element", inner, [x], inner)


@converter("OptionalHasElement")
def optional_has_element(node: Node) -> Value:
    x: Any = node.input(0)  # (a NoValue too; None when absent or named "")
    if x is None or isinstance(x, NoValue):
        return np.array(False)
    if isinstance(x, SSAValue) and is_optional(x.type):
        assert isinstance(x.type, ADTType)
        return _call(node.graph, "has_element", x.type.args.data[0], [x], tensor_type([], "bool"))
    return np.array(True)  # a tensor or a sequence (opset 18)


@converter("OptionalGetElement")
def optional_get_element(node: Node) -> Value:
    x: Any = node.input(0)
    if isinstance(x, NoValue):
        raise node.error("OptionalGetElement of an empty optional")
    x = node.required(0)
    if isinstance(x, SSAValue) and is_optional(x.type):
        assert isinstance(x.type, ADTType)
        inner = x.type.args.data[0]
        return _call(node.graph, "get_element", inner, [x], inner)
    return x  # a tensor or a sequence (opset 18)


@converter("SequenceMap")
def sequence_map(node: Node) -> list[Value]:
    """The body once per element, as a loop (control_flow.py's) over the first sequence's
    positions: input k's element at the position when it is a sequence (each must be as
    long as the first), input k itself when it is a tensor. Each output list is built in
    reverse with `Cons`, then reversed."""
    from relay_opt.frontends.onnx.control_flow import _bind_body, _emit_loop, _run_body

    body = node.subgraph("body")
    operands = [node.required(i) for i in range(len(node.inputs))]
    first = sequence(node, 0)
    if isinstance(first, EmptySequence) or any(isinstance(v, EmptySequence) for v in operands):
        raise node.unsupported("SequenceMap over an empty sequence of unknown rank")
    if len(body.input) != len(operands):
        raise node.error(f"the body takes {len(body.input)} inputs, not {len(operands)}")
    elements: list[TensorType[Attribute]] = []
    for k, vi in enumerate(body.output):
        t = onnx_type(vi.type, f"body output '{vi.name}'")
        tt = vi.type.tensor_type
        if t is not None or not tt.HasField("shape"):
            raise node.unsupported(f"body output {k} must be a tensor of declared rank")
        dtype = relay_dtype_of(tt.elem_type, f"body output '{vi.name}'")
        elements.append(element_type(dtype, len(tt.shape.dim)))
    empty = [_call(node.graph, "nil", e, [], list_type(e)) for e in elements]
    count = length(node, first)

    def step(
        i: SSAValue, _cond: SSAValue, values: list[Value]
    ) -> tuple[Value | None, list[Value], list[Value]]:
        built, given = values[: len(elements)], values[len(elements) :]
        items = []
        for k, v in enumerate(given):
            if isinstance(v, SSAValue) and is_sequence(v.type):
                at = i if k == 0 else _checked(node, i, length(node, v))
                items.append(_call(node.graph, "at", _elem(v.type), [v, at], _elem(v.type)))
            else:
                items.append(v)
        _bind_body(node, body, items)
        outputs = _run_body(node, body)
        grown = []
        for acc, y, e in zip(built, outputs, elements, strict=True):
            _fits(node, acc, y, "a body output")  # pyright: ignore[reportArgumentType]
            grown.append(_call(node.graph, "cons", e, [y, acc], list_type(e)))
        return None, grown, []

    finals, _ = _emit_loop(
        node, "onnx_sequence_map", count, np.array(True), empty, body, [], step, operands
    )
    return [
        _call(node.graph, "reverse", e, [v], list_type(e))
        for v, e in zip(finals, elements, strict=True)
    ]
