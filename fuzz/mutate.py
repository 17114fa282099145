"""Mutations of the tools' inputs: Relay text and MLIR (bytes, tokens, structure) and ONNX
models (the protobuf's fields, then its bytes).

Every mutator takes a `random.Random` and returns the mutated input; the same seed gives the
same mutant, so a finding is reproduced from (format, seed, index) as well as from its file.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

# Numbers a shape, an axis, an index or a constant should never be trusted with.
EDGE_NUMBERS = (
    "0",
    "-1",
    "1",
    "-0",
    "2",
    "255",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999999",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "1e-320",
    "-0.0",
    "0x7FFFFFFF",
)
EDGE_INTS = (0, -1, 1, 2, -2, 3, 7, 255, 1 << 16, (1 << 31) - 1, 1 << 31, 1 << 40, (1 << 63) - 1)
EDGE_FLOATS = (0.0, -0.0, -1.0, 1e-45, 1e38, 3.4e38, float("nan"), float("inf"), float("-inf"))

# Relay's dtype names, MLIR's element types and a few that exist in neither.
DTYPES = (
    "float32",
    "float16",
    "float64",
    "bfloat16",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "float8",
    "int1",
    "uint1",
    "int0",
    "handle",
    "void",
)
MLIR_TYPES = (
    "f32",
    "f16",
    "f64",
    "bf16",
    "f80",
    "f128",
    "i1",
    "i8",
    "i16",
    "i32",
    "i64",
    "i0",
    "i7",
    "si32",
    "ui8",
    "index",
    "none",
    "complex<f32>",
    "tensor<*xf32>",
    "tensor<?xf32>",
    "tensor<0xf32>",
    "vector<4xf32>",
    "memref<4xf32>",
    "!relay.incomplete",
    "tuple<>",
)
TYPE_WORDS = re.compile(
    r"\b(?:(?:b?float|u?int)(?:8|16|32|64|1|0)?|bool|[fi](?:1|8|16|32|64|80|128)|bf16|si32|ui8|index)\b"
)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"'  # strings
    r"|[%@#^!]?[A-Za-z_][\w.$]*"  # identifiers, SSA names, keywords
    r"|[%@]\d+"  # numbered SSA names
    r"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"  # numbers
    r"|->|=>|::|\s+"
    r"|.",
    re.S,
)
BRACKETS = "()[]{}<>"
ATTRIBUTE = re.compile(r"\b([A-Za-z_]\w*)\s*=\s*")
ATTRIBUTE_VALUES = (
    "0",
    "-1",
    "[]",
    "[0]",
    "[-1, -1]",
    "[1, 2, 3, 4, 5, 6, 7, 8]",
    "[2147483648]",
    '"NCHW"',
    '""',
    '"xyz"',
    "True",
    "False",
    "nan",
    "1.5",
    "(1, 2)",
    "None",
    "array<i64: 0, -1>",
    "dense<0> : tensor<0xi64>",
    "unit",
)


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _significant(tokens: list[str]) -> list[int]:
    return [i for i, t in enumerate(tokens) if not t.isspace()] or [0]


# -- text: byte level ------------------------------------------------------------------------


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not b:
            break
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def insert_bytes(rng: random.Random, data: bytes) -> bytes:
    junk = rng.choice(
        (b"\x00", b"\xff\xfe", b"\xc3", b"\xe2\x82", b"\r", b"\t", b"\x1b[0m", b"\\", b'"', b"\n")
    )
    at = rng.randint(0, len(data))
    return data[:at] + junk + data[at:]


def delete_bytes(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 16) :]


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randint(0, len(data))]


# -- text: token level -----------------------------------------------------------------------


def _on_text(fn: Callable[[random.Random, str], str]) -> Callable[[random.Random, bytes], bytes]:
    def mutate(rng: random.Random, data: bytes) -> bytes:
        return fn(rng, data.decode("utf-8", "replace")).encode("utf-8", "surrogatepass")

    mutate.__name__ = fn.__name__
    return mutate


@_on_text
def delete_token(rng: random.Random, text: str) -> str:
    tokens = _tokens(text)
    i = rng.choice(_significant(tokens))
    return "".join(tokens[:i] + tokens[i + 1 :])


@_on_text
def duplicate_token(rng: random.Random, text: str) -> str:
    tokens = _tokens(text)
    i = rng.choice(_significant(tokens))
    return "".join(tokens[: i + 1] + tokens[i:])


@_on_text
def swap_tokens(rng: random.Random, text: str) -> str:
    tokens = _tokens(text)
    sig = _significant(tokens)
    i, j = rng.choice(sig), rng.choice(sig)
    if i < len(tokens) and j < len(tokens):
        tokens[i], tokens[j] = tokens[j], tokens[i]
    return "".join(tokens)


@_on_text
def replace_token(rng: random.Random, text: str) -> str:
    """A token replaced by another token of the same text (an op name, a type, an SSA name)."""
    tokens = _tokens(text)
    sig = _significant(tokens)
    i = rng.choice(sig)
    if i < len(tokens):
        tokens[i] = tokens[rng.choice(sig)]
    return "".join(tokens)


@_on_text
def edge_number(rng: random.Random, text: str) -> str:
    """A number (also one inside a shape, `2x3xf32`) replaced by an edge value."""
    spans = [m.span() for m in NUMBER.finditer(text)]
    for _ in range(rng.randint(1, 3)):
        if not spans:
            break
        a, b = rng.choice(spans)
        value = rng.choice(EDGE_NUMBERS)
        text = text[:a] + value + text[b:]
        spans = [m.span() for m in NUMBER.finditer(text)]
    return text


@_on_text
def change_dtype(rng: random.Random, text: str) -> str:
    spans = [m.span() for m in TYPE_WORDS.finditer(text)]
    if not spans:
        return text
    a, b = rng.choice(spans)
    word = text[a:b]
    pool = DTYPES if word[:1] in "bu" or len(word) > 4 else MLIR_TYPES
    if rng.random() < 0.2:
        pool = DTYPES + MLIR_TYPES
    return text[:a] + rng.choice(pool) + text[b:]


@_on_text
def change_attribute(rng: random.Random, text: str) -> str:
    """The value after `name=` replaced: an edge number, a list, a string, another kind."""
    found = list(ATTRIBUTE.finditer(text))
    if not found:
        return text
    m = rng.choice(found)
    rest = text[m.end() :]
    # The old value: up to the next ',' ')' '}' or newline at depth 0.
    depth, end = 0, len(rest)
    for i, c in enumerate(rest):
        if c in "([{<":
            depth += 1
        elif c in ")]}>" and depth > 0:
            depth -= 1
        elif c in ")]}>,\n" and depth == 0:
            end = i
            break
    value = rng.choice(ATTRIBUTE_VALUES + EDGE_NUMBERS)
    return text[: m.end()] + value + rest[end:]


# -- text: structure level -------------------------------------------------------------------


@_on_text
def unbalance_bracket(rng: random.Random, text: str) -> str:
    positions = [i for i, c in enumerate(text) if c in BRACKETS]
    if positions and rng.random() < 0.6:
        i = rng.choice(positions)
        return text[:i] + text[i + 1 :]
    at = rng.randint(0, len(text))
    return text[:at] + rng.choice(BRACKETS) * rng.choice((1, 1, 2, 64)) + text[at:]


@_on_text
def delete_line(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    i = rng.randrange(len(lines))
    return "".join(lines[:i] + lines[i + rng.randint(1, 3) :])


@_on_text
def duplicate_line(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    i = rng.randrange(len(lines))
    return "".join(lines[: i + 1] + lines[i:])


@_on_text
def swap_lines(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if len(lines) < 2:
        return text
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


@_on_text
def nest(rng: random.Random, text: str) -> str:
    """An expression wrapped in many parentheses (deep nesting, moderately)."""
    tokens = _tokens(text)
    sig = _significant(tokens)
    i = rng.choice(sig)
    if i >= len(tokens):
        return text
    n = rng.choice((2, 8, 50))
    tokens[i] = "(" * n + tokens[i] + ")" * n
    return "".join(tokens)


TEXT_MUTATORS: tuple[Callable[[random.Random, bytes], bytes], ...] = (
    flip_bytes,
    insert_bytes,
    delete_bytes,
    truncate,
    delete_token,
    delete_token,
    duplicate_token,
    swap_tokens,
    replace_token,
    replace_token,
    edge_number,
    edge_number,
    edge_number,
    change_dtype,
    change_dtype,
    change_attribute,
    change_attribute,
    unbalance_bracket,
    delete_line,
    duplicate_line,
    swap_lines,
    nest,
)


def mutate_text(rng: random.Random, data: bytes) -> tuple[bytes, list[str]]:
    """One to three stacked mutations of a text input; returns it and the mutations' names."""
    names = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        fn = rng.choice(TEXT_MUTATORS)
        data = fn(rng, data)
        names.append(fn.__name__)
    return data, names


# -- ONNX ------------------------------------------------------------------------------------

ONNX_OPS = (
    "Add",
    "Mul",
    "Relu",
    "Conv",
    "MaxPool",
    "AveragePool",
    "Gemm",
    "MatMul",
    "Reshape",
    "Transpose",
    "Concat",
    "Split",
    "Slice",
    "Gather",
    "Squeeze",
    "Unsqueeze",
    "Softmax",
    "ReduceSum",
    "ReduceMean",
    "BatchNormalization",
    "Flatten",
    "Expand",
    "Tile",
    "Pad",
    "Resize",
    "Cast",
    "Where",
    "Shape",
    "ConstantOfShape",
    "Einsum",
    "LSTM",
    "GRU",
    "TopK",
    "ArgMax",
    "Clip",
    "Range",
    "OneHot",
    "ScatterND",
    "GatherND",
    "DepthToSpace",
    "CumSum",
    "Attention",
    "DFT",
    "NotAnOp",
    "",
)


def _dims(model: Any) -> list[Any]:
    g = model.graph
    dims = []
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
            dims.extend(vi.type.tensor_type.shape.dim)
    return dims


def _value_infos(model: Any) -> list[Any]:
    g = model.graph
    return list(g.input) + list(g.output) + list(g.value_info)


def _names(model: Any) -> list[str]:
    g = model.graph
    names = [vi.name for vi in g.input] + [t.name for t in g.initializer]
    for n in g.node:
        names.extend(n.output)
    return names or ["x"]


def onnx_dim(rng: random.Random, model: Any) -> None:
    dims = _dims(model)
    if not dims:
        return
    d = rng.choice(dims)
    r = rng.random()
    if r < 0.7:
        d.dim_value = rng.choice(EDGE_INTS[:9] + (-5,))
    elif r < 0.85:
        d.dim_param = rng.choice(("N", "", "batch"))
    else:
        d.Clear()


def onnx_shape(rng: random.Random, model: Any) -> None:
    """A value's whole shape: a dim more, a dim less, none at all."""
    vis = [vi for vi in _value_infos(model) if vi.type.HasField("tensor_type")]
    if not vis:
        return
    tt = rng.choice(vis).type.tensor_type
    r = rng.random()
    if r < 0.35:
        tt.shape.dim.add().dim_value = rng.choice((1, 2, 3))
    elif r < 0.7 and len(tt.shape.dim):
        del tt.shape.dim[rng.randrange(len(tt.shape.dim))]
    elif r < 0.85:
        tt.ClearField("shape")
    else:
        tt.elem_type = rng.choice((0, 2, 3, 6, 7, 8, 9, 10, 11, 14, 16, 17, 23, 99))


def onnx_attribute(rng: random.Random, model: Any) -> None:
    from onnx import AttributeProto

    attrs = [a for n in model.graph.node for a in n.attribute]
    if not attrs:
        onnx_add_attribute(rng, model)
        return
    a = rng.choice(attrs)
    r = rng.random()
    if r < 0.1:
        a.type = rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 8, 10))  # the declared type no longer fits
        return
    if r < 0.15:
        a.name = rng.choice(("", "axis", "perm", "kernel_shape", "bogus"))
        return
    if a.type == AttributeProto.INT:
        a.i = rng.choice(EDGE_INTS + (-(1 << 63),))
    elif a.type == AttributeProto.FLOAT:
        a.f = rng.choice(EDGE_FLOATS)
    elif a.type == AttributeProto.INTS:
        values = list(a.ints)
        k = rng.random()
        if k < 0.3 and values:
            values[rng.randrange(len(values))] = rng.choice(EDGE_INTS + (-3,))
        elif k < 0.5 and values:
            values.pop(rng.randrange(len(values)))
        elif k < 0.7:
            values.append(rng.choice(EDGE_INTS[:6]))
        elif k < 0.8:
            values = []
        else:
            values = values * rng.choice((2, 3))
        del a.ints[:]
        a.ints.extend(values)
    elif a.type == AttributeProto.FLOATS:
        a.floats.append(rng.choice(EDGE_FLOATS))
    elif a.type == AttributeProto.STRING:
        a.s = rng.choice(
            (b"", b"NOTSET", b"SAME_UPPER", b"VALID", b"\xff\xfe", b"linear", b"x" * 9)
        )
    elif a.type == AttributeProto.TENSOR:
        t = a.t
        if t.dims:
            t.dims[rng.randrange(len(t.dims))] = rng.choice(EDGE_INTS[:6])
        else:
            t.dims.append(rng.choice((0, 2, 7)))
    else:
        a.i = rng.choice(EDGE_INTS)


def onnx_add_attribute(rng: random.Random, model: Any) -> None:
    from onnx import helper

    if not model.graph.node:
        return
    node = rng.choice(model.graph.node)
    name = rng.choice(
        ("axis", "axes", "perm", "kernel_shape", "strides", "pads", "group", "auto_pad", "to", "k")
    )
    value = rng.choice((0, -1, 1 << 40, [0, -1], [], 1.5, "SAME_LOWER", [1] * 9))
    if value == []:
        value = [0]
    node.attribute.append(helper.make_attribute(name, value))


def onnx_initializer(rng: random.Random, model: Any) -> None:
    g = model.graph
    if not g.initializer:
        return
    t = rng.choice(g.initializer)
    r = rng.random()
    if r < 0.3 and t.raw_data:
        t.raw_data = t.raw_data[: rng.randrange(len(t.raw_data) + 1)]
    elif r < 0.45 and t.float_data:
        del t.float_data[rng.randrange(len(t.float_data)) :]
    elif r < 0.6 and t.dims:
        t.dims[rng.randrange(len(t.dims))] = rng.choice(EDGE_INTS[:8])
    elif r < 0.7:
        t.dims.append(rng.choice((0, 1, 2)))
    elif r < 0.8:
        t.data_type = rng.choice((0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 16, 23, 99))
    elif r < 0.9:
        t.name = rng.choice(_names(model))  # a duplicate name
    else:
        g.initializer.remove(t)


def onnx_op_type(rng: random.Random, model: Any) -> None:
    if model.graph.node:
        node = rng.choice(model.graph.node)
        if rng.random() < 0.9:
            node.op_type = rng.choice(ONNX_OPS)
        else:
            node.domain = rng.choice(("com.microsoft", "ai.onnx.ml", "ai.onnx"))


def onnx_edge(rng: random.Random, model: Any) -> None:
    """Rewire the graph: an input from another value, a missing one, an empty one, swapped
    inputs, a dropped or duplicated node, an output renamed."""
    g = model.graph
    if not g.node:
        return
    node = rng.choice(g.node)
    r = rng.random()
    names = _names(model)
    if r < 0.3 and node.input:
        node.input[rng.randrange(len(node.input))] = rng.choice(names + ["missing", ""])
    elif r < 0.4 and len(node.input) > 1:
        i, j = rng.sample(range(len(node.input)), 2)
        node.input[i], node.input[j] = node.input[j], node.input[i]
    elif r < 0.5 and node.input:
        del node.input[rng.randrange(len(node.input))]
    elif r < 0.6:
        node.input.append(rng.choice(names))
    elif r < 0.7:
        g.node.remove(node)
    elif r < 0.78:
        g.node.append(node)  # an output defined twice
    elif r < 0.86 and node.output:
        node.output[rng.randrange(len(node.output))] = rng.choice(names + [""])
    elif r < 0.93:
        nodes = list(g.node)
        rng.shuffle(nodes)  # no longer topologically sorted
        del g.node[:]
        g.node.extend(nodes)
    elif g.output:
        g.output[rng.randrange(len(g.output))].name = rng.choice(names + ["nowhere"])


def onnx_opset(rng: random.Random, model: Any) -> None:
    r = rng.random()
    if r < 0.6 and model.opset_import:
        model.opset_import[0].version = rng.choice((1, 6, 7, 9, 11, 13, 17, 21, 99, -1))
    elif r < 0.8:
        del model.opset_import[:]
    else:
        model.ir_version = rng.choice((0, 1, 3, 99, -1))


def onnx_graph_io(rng: random.Random, model: Any) -> None:
    g = model.graph
    r = rng.random()
    if r < 0.3:
        del g.output[:]
    elif r < 0.5 and g.input:
        del g.input[rng.randrange(len(g.input))]
    elif r < 0.7 and g.input:
        g.input.append(g.input[0])  # an input twice
    elif g.input:
        g.input[rng.randrange(len(g.input))].name = rng.choice(_names(model) + ["", "1x"])


PROTO_MUTATORS: tuple[Callable[[random.Random, Any], None], ...] = (
    onnx_dim,
    onnx_dim,
    onnx_shape,
    onnx_attribute,
    onnx_attribute,
    onnx_attribute,
    onnx_add_attribute,
    onnx_initializer,
    onnx_initializer,
    onnx_op_type,
    onnx_edge,
    onnx_edge,
    onnx_opset,
    onnx_graph_io,
)


def mutate_onnx(rng: random.Random, data: bytes) -> tuple[bytes, list[str]]:
    """Mutate a serialized ModelProto: one to three field mutations and, one time in
    eight, its bytes after serializing."""
    import onnx

    model = onnx.load_from_string(data)
    names = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        fn = rng.choice(PROTO_MUTATORS)
        fn(rng, model)
        names.append(fn.__name__)
    out = model.SerializeToString()
    if rng.random() < 0.125:
        fn = rng.choice((flip_bytes, insert_bytes, delete_bytes, truncate))
        out = fn(rng, out)
        names.append(fn.__name__)
    return out, names
