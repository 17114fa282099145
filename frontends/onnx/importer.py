"""The ONNX graph walk: graph inputs become @main's parameters, nodes become Relay operators.

A value in the walk is either an SSA value (computed at run time) or a numpy
array (known while importing: initializers, Constant nodes, shapes). An
operator whose operands are all known is evaluated with the registry's numpy
semantics instead of being emitted, so shape computations (Shape -> Gather ->
Concat -> Reshape) and the placeholder weights of ONNX's light models
(ConstantOfShape) fold away; a known array reaches the IR as a constant only
where a run-time operator reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xdsl.dialects.builtin import (
    ModuleOp,
    NameLoc,
    StringAttr,
    TensorType,
    TupleType,
    UnknownLoc,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.attributes import AttrError
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.numpy_dtypes import exact_dtype, relay_dtype
from relay_opt.dialects.relay.registry import RelayOperatorOp, TypeRelationError, lookup
from relay_opt.dialects.relay.types import (
    DYNAMIC,
    tensor_dtype,
    tensor_shape,
    tensor_type,
    tuple_type,
)
from relay_opt.frontends.onnx.narrow import NARROW, widen

Value = SSAValue | np.ndarray
"""A run-time value, or an array known while importing."""

# ONNX TensorProto.DataType -> Relay dtype (the ones relay-opt computes with).
ONNX_DTYPES: dict[int, str] = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    16: "bfloat16",  # computed natively as float32 arithmetic, bf16 storage (legalize-bf16)
}
ONNX_DTYPE_NAMES: dict[int, str] = {
    0: "UNDEFINED",
    8: "STRING",
    14: "COMPLEX64",
    15: "COMPLEX128",
    17: "FLOAT8E4M3FN",
    18: "FLOAT8E4M3FNUZ",
    19: "FLOAT8E5M2",
    20: "FLOAT8E5M2FNUZ",
    21: "UINT4",
    22: "INT4",
    23: "FLOAT4E2M1",
}

MIN_OPSET = 7

# Operators whose output 0 has input 0's dtype and values (moved, not computed): a narrow
# dtype (float8, int4, ...) passes through them.
_MOVES_VALUES = frozenset(
    {
        "Identity",
        "Reshape",
        "Flatten",
        "Squeeze",
        "Unsqueeze",
        "Transpose",
        "Concat",
        "Slice",
        "Gather",
        "Expand",
        "Tile",
        "Split",
        "Pad",
        "DepthToSpace",
        "SpaceToDepth",
    }
)


class OnnxImportError(RelayError):
    """A model relay-opt cannot import: the message names the node and its operator."""


class OnnxUnsupportedError(OnnxImportError):
    """The model is valid ONNX but uses an operator, attribute, opset or dtype relay-opt lacks."""


class OnnxNeedsConstantError(OnnxUnsupportedError):
    """An operand that decides a shape (Reshape's shape, Slice's starts, ...) is computed at run
    time; binding the graph inputs it comes from as constants (`constants=`) can fix it."""

    value_name: str = ""
    """The ONNX name of that operand."""


def relay_dtype_of(onnx_type: int, what: str) -> str:
    """The Relay dtype of an ONNX dtype code; a narrow one's (float8, int4, ...: narrow.py)
    is the wider dtype that carries it."""
    if onnx_type in ONNX_DTYPES:
        return ONNX_DTYPES[onnx_type]
    if onnx_type == 8:  # STRING: only the string operators take it (frontends/onnx/strings.py)
        return "string"
    if onnx_type in NARROW:
        return NARROW[onnx_type].wide
    raise OnnxUnsupportedError(
        f"{what}: dtype {ONNX_DTYPE_NAMES.get(onnx_type, onnx_type)} is not supported"
    )


Converter = Callable[["Node"], Sequence[Value | None] | Value]
CONVERTERS: dict[str, Converter] = {}


# Operator domains besides the default one that have converters: ONNX's classical machine
# learning operators and its training operators.
DOMAINS = ("ai.onnx.ml", "ai.onnx.preview.training")


def converter(*op_types: str, domain: str = "") -> Callable[[Converter], Converter]:
    """Register the converter of one or more ONNX operators (in the modules _load_converters
    imports); one of another domain (DOMAINS) is registered as `domain.OpType`."""

    def register(fn: Converter) -> Converter:
        for t in op_types:
            CONVERTERS[f"{domain}.{t}" if domain else t] = fn
        return fn

    return register


def _load_converters() -> None:
    # The converter modules register themselves.
    from relay_opt.frontends.onnx import (  # noqa: F401
        attention,
        control_flow,
        decoding,
        einsum,
        indexing,
        losses,
        ml,
        ops,
        quantize,
        rnn,
        sampling,
        sequences,
        signal,
        strings,
        text,
        training,
        vision,
    )


def supported_operators() -> list[str]:
    _load_converters()
    return sorted(CONVERTERS)


@dataclass
class ImportedModel:
    module: ModuleOp
    input_names: list[str]
    """The ONNX names of @main's parameters, in order."""
    output_names: list[str]
    input_types: list[Attribute] = field(default_factory=list)
    input_narrow: list[int | None] = field(default_factory=list)
    """Per @main parameter: the ONNX code of its narrow dtype, or None (as output_narrow)."""
    output_narrow: list[int | None] = field(default_factory=list)
    """Per output: the ONNX code of its narrow dtype (narrow.py; None for the others): the
    result is carried wide and is given back in that dtype with narrow.narrowed."""


class Node:
    """One ONNX node as its converter sees it: operands, attributes and a builder."""

    def __init__(self, graph: GraphImporter, proto: Any, index: int):
        self.graph = graph
        self.proto = proto
        self.index = index
        self.op_type: str = proto.op_type
        self.opset: int = graph.opset
        self.source_opset: int = graph.source_opset or graph.opset
        """The opset the model was written for, before `upgraded` (semantics the version
        converter leaves alone, such as opset 6's per-channel PRelu slope, depend on it)."""
        self.name: str = proto.name
        self.inputs: list[Value | None] = [
            graph.lookup(n, self) if n else None for n in proto.input
        ]
        self.num_outputs = len(proto.output)
        self._attrs = {a.name: a for a in proto.attribute}
        self.narrow_outputs: dict[int, int] = {}
        """Outputs of a narrow dtype (its ONNX code) that its converter produced."""

    # -- diagnostics ---------------------------------------------------------------------------

    def where(self) -> str:
        label = f" '{self.name}'" if self.name else ""
        return f"node {self.index}{label} ({self.op_type})"

    def error(self, message: str) -> OnnxImportError:
        return OnnxImportError(f"{self.where()}: {message}")

    def unsupported(self, message: str) -> OnnxUnsupportedError:
        return OnnxUnsupportedError(f"{self.where()}: {message}")

    # -- operands and attributes ---------------------------------------------------------------

    def input(self, i: int) -> Value | None:
        return self.inputs[i] if i < len(self.inputs) else None

    def required(self, i: int) -> Value:
        v = self.input(i)
        if v is None:
            raise self.error(f"input {i} is required")
        return v

    def const_input(self, i: int, what: str) -> np.ndarray | None:
        """Input i as an array known while importing (None when absent)."""
        v = self.input(i)
        if v is None:
            return None
        if not isinstance(v, np.ndarray):
            error = OnnxNeedsConstantError(
                f"{self.where()}: {what} (input {i}) must be a constant: "
                "relay-opt needs static shapes"
            )
            error.value_name = self.proto.input[i]
            raise error
        return v

    def narrow(self, i: int) -> int | None:
        """The ONNX code of input i's narrow dtype (float8, int4, ...: narrow.NARROW), if its
        value has one."""
        if i >= len(self.proto.input) or not self.proto.input[i]:
            return None
        return self.graph.narrow_types.get(self.proto.input[i])

    def subgraph(self, name: str) -> Any:  # noqa: ANN401
        """The GraphProto of graph attribute `name` (control flow's bodies and branches)."""
        a = self._attrs.get(name)
        if a is None or a.type != a.GRAPH:
            raise self.error(f"attribute '{name}' must be a graph")
        return a.g

    def tensor_attr_dtype(self, name: str) -> int | None:
        """The ONNX dtype code of tensor attribute `name` (None when it is no tensor)."""
        a = self._attrs.get(name)
        return a.t.data_type if a is not None and a.type == a.TENSOR else None

    def has_attr(self, name: str) -> bool:
        return name in self._attrs

    def attr(self, name: str, default: Any = None) -> Any:
        a = self._attrs.get(name)
        if a is None:
            return default
        from onnx import helper, numpy_helper

        value = helper.get_attribute_value(a)
        if a.type == a.TENSOR:
            return widen(numpy_helper.to_array(value))
        if isinstance(value, bytes):
            return value.decode("utf-8")
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            return [v.decode("utf-8") for v in value]
        if a.type in (a.GRAPH, a.GRAPHS):
            raise self.unsupported(
                f"attribute '{name}' holds a subgraph; control flow is not imported"
            )
        return value

    # -- types ---------------------------------------------------------------------------------

    @staticmethod
    def shape(v: Value) -> tuple[int, ...]:
        if isinstance(v, np.ndarray):
            return tuple(v.shape)
        return tensor_shape(v.type)  # pyright: ignore[reportArgumentType]

    @staticmethod
    def dtype(v: Value) -> str:
        if isinstance(v, np.ndarray):
            return relay_dtype(v.dtype)
        return tensor_dtype(v.type)  # pyright: ignore[reportArgumentType]

    def rank(self, v: Value) -> int:
        return len(self.shape(v))

    def scalar(self, value: float | int | bool, like: Value | str) -> np.ndarray:
        """A 0-d constant with the dtype of `like` (a value or a dtype name)."""
        dtype = like if isinstance(like, str) else self.dtype(like)
        return np.array(value, dtype=exact_dtype(dtype))

    def axis(self, axis: int, rank: int) -> int:
        if not -rank <= axis < max(rank, 1):
            raise self.error(f"axis {axis} is out of range for rank {rank}")
        return axis + rank if axis < 0 else axis

    # -- building ------------------------------------------------------------------------------

    def op(
        self, op: str | type[RelayOperatorOp], *args: Value | Sequence[Value], **attrs: Any
    ) -> Value:
        """Relay operator `op` (a class, or its Relay name) on `args` (a list stands for a
        Relay tuple). Evaluated now when every operand is known; otherwise built with its
        type inferred."""
        return self.graph.emit(self, op, args, attrs)

    def tuple_get(self, value: Value | tuple, index: int) -> Value:
        if isinstance(value, tuple):
            return value[index]
        return self.graph.builder.tuple_get(value, index)  # pyright: ignore[reportArgumentType]

    def cast(self, v: Value, dtype: str) -> Value:
        return v if self.dtype(v) == dtype else self.op("cast", v, dtype=dtype)

    def reshape(self, v: Value, shape: Sequence[int]) -> Value:
        shape = [int(d) for d in shape]
        return v if list(self.shape(v)) == shape else self.op("reshape", v, newshape=shape)


class GraphImporter:
    def __init__(
        self,
        model: Any,
        shapes: dict[str, Sequence[int]] | None,
        filename: str,
        constants: dict[str, np.ndarray] | None = None,
    ):
        self.model = model
        self.shapes = dict(shapes or {})
        self.constants = dict(constants or {})
        self.filename = filename
        self.opset = 0  # the default domain's version, read first thing in run()
        self.domain_versions: dict[str, int] = {}
        """The versions of the other domains the model imports (DOMAINS)."""
        self.source_opset = 0  # the version before `upgraded`, when it upgraded the model
        self.env: dict[str, Value] = {}
        self.block = Block()
        self.builder = RelayBuilder(self.add)
        """Builds into the current block."""
        self._materialized: dict[int, tuple[np.ndarray, SSAValue]] = {}
        self.shape_origins: dict[SSAValue, str] = {}
        """Values with `?` dims from a shape computed at run time -> that shape's ONNX name."""
        self.functions: list[core.FuncOp] = []
        """Global functions besides @main (control flow's loops, recursive)."""
        self.type_defs: list[Operation] = []
        self.helpers: dict[str, str] = {}
        """The ADTs (List, Option) and the helper functions by their text (sequences.py)."""
        self.erased_ranks: dict[SSAValue, int] = {}
        """Rank-erased tensors (sequences.py) -> the rank their uses read them at."""
        self._declared_ranks: dict[str, int] | None = None
        self.narrow_types: dict[str, int] = {}
        """ONNX values of a narrow dtype (narrow.py) -> its ONNX code: declared, or produced
        by a converter that says so, or moved by a layout operator."""

    def function_name(self, stem: str) -> str:
        """A fresh global function name: `stem`, `stem_1`, ..."""
        taken = {f.sym_name.data for f in self.functions}
        name, k = stem, 0
        while name in taken or name == "main":
            k += 1
            name = f"{stem}_{k}"
        return name

    def _opset(self) -> int:
        import onnx

        newest = onnx.defs.onnx_opset_version()
        version = None
        for imp in self.model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                version = imp.version
            elif imp.domain in DOMAINS:
                self.domain_versions[imp.domain] = imp.version
        if version is None:
            if not self.domain_versions:
                raise OnnxUnsupportedError(
                    "the model imports no ONNX opset (the default domain, "
                    f"{' and '.join(DOMAINS)} are supported)"
                )
            return newest  # (a model of only ai.onnx.ml operators, say)
        if not MIN_OPSET <= version <= newest:
            raise OnnxUnsupportedError(
                f"opset {version} is not supported "
                f"(relay-opt imports opsets {MIN_OPSET} to {newest})"
            )
        return version

    def declared_rank(self, name: str) -> int | None:
        """The rank the model declares for tensor `name` (value_info or an output, of the
        graph or a subgraph), if it does."""
        if self._declared_ranks is None:
            ranks: dict[str, int] = {}
            todo = [self.model.graph]
            while todo:
                g = todo.pop()
                for vi in (*g.value_info, *g.output):
                    if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
                        ranks[vi.name] = len(vi.type.tensor_type.shape.dim)
                for proto in g.node:
                    for a in proto.attribute:
                        todo.extend([a.g] if a.type == a.GRAPH else list(a.graphs))
            self._declared_ranks = ranks
        return self._declared_ranks.get(name)

    # -- values --------------------------------------------------------------------------------

    def lookup(self, name: str, node: Node) -> Value:
        if name not in self.env:
            raise node.error(
                f"input '{name}' is not defined before this node "
                "(the graph must be topologically sorted)"
            )
        return self.env[name]

    def add(self, op: Any) -> Any:
        self.block.add_op(op)
        return op

    def ssa(self, v: Value) -> SSAValue:
        if isinstance(v, SSAValue):
            return v
        key = id(v)
        if key not in self._materialized:
            array = np.array(v, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
            self._materialized[key] = (v, self.builder.constant(array))
        return self._materialized[key][1]

    def emit(
        self,
        node: Node,
        op: str | type[RelayOperatorOp],
        args: Sequence[Any],
        attrs: dict[str, Any],
    ) -> Value:
        opdef = lookup(op) if isinstance(op, str) else op.OPDEF
        assert opdef is not None, op
        try:
            full = opdef.make_attrs(attrs)
            known = all(
                isinstance(a, np.ndarray)
                or (isinstance(a, (list, tuple)) and all(isinstance(x, np.ndarray) for x in a))
                for a in args
            )
            if known:
                return self._evaluate(opdef, full, args)
            operands = [
                self.builder.tuple([self.ssa(x) for x in a])
                if isinstance(a, (list, tuple))
                else self.ssa(a)
                for a in args
            ]
            result = self.builder.call(opdef.op_class, *operands, **attrs)
        except (TypeRelationError, AttrError) as e:
            raise node.error(f"{opdef.name}: {e}") from None
        return result

    @staticmethod
    def _evaluate(opdef: Any, attrs: Any, args: Sequence[Any]) -> Any:
        def ttype(a: np.ndarray) -> TensorType[Attribute]:
            return tensor_type(a.shape, relay_dtype(a.dtype))

        types = [
            tuple_type([ttype(x) for x in a]) if isinstance(a, (list, tuple)) else ttype(a)
            for a in args
        ]
        result_type = opdef.infer(types, attrs)
        out = opdef.evaluate(attrs, *[tuple(a) if isinstance(a, list) else a for a in args])

        def fit(array: Any, t: Any) -> np.ndarray:
            return np.asarray(array, dtype=exact_dtype(tensor_dtype(t))).reshape(tensor_shape(t))

        if isinstance(out, tuple):
            return tuple(fit(o, t) for o, t in zip(out, result_type.types.data, strict=True))  # pyright: ignore
        return fit(out, result_type)

    # -- the graph -----------------------------------------------------------------------------

    def input_type(self, vi: Any) -> Attribute:
        from relay_opt.frontends.onnx.sequences import declare_types, onnx_type

        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            # a sequence or an optional (`shapes` gives a sequence's element rank)
            t = onnx_type(vi.type, f"graph input '{vi.name}'", self.shapes.get(vi.name))
            assert t is not None
            declare_types(self)  # pyright: ignore[reportArgumentType]  (importer.py is read twice)
            return t
        dtype = relay_dtype_of(tt.elem_type, f"graph input '{vi.name}'")
        if vi.name in self.shapes:
            shape = [int(d) for d in self.shapes[vi.name]]
            if tt.HasField("shape"):
                declared = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
                if len(declared) != len(shape) or any(
                    d is not None and d != g for d, g in zip(declared, shape, strict=True)
                ):
                    shown = "(" + ", ".join("?" if d is None else str(d) for d in declared) + ")"
                    raise OnnxImportError(
                        f"graph input '{vi.name}' has shape {shown}, not {tuple(shape)}"
                    )
            return tensor_type(shape, dtype)
        if not tt.HasField("shape"):
            raise OnnxUnsupportedError(
                f"graph input '{vi.name}' has no shape; give it (--input-shape "
                f"{vi.name}=D1,D2,... in relay-run and relay-translate, shapes= in the API)"
            )
        # A symbolic dimension (dim_param, or none given) is Relay's `?`: the model compiles
        # for every size (docs/native-dynamic-shapes.md); `shapes` fixes it instead.
        shape = [d.dim_value if d.HasField("dim_value") else DYNAMIC for d in tt.shape.dim]
        if any(d.dim_value < 0 for d in tt.shape.dim if d.HasField("dim_value")):
            # protobuf's int64 holds sizes no tensor has: refuse them here, not in numpy later
            shown = ", ".join(
                str(d.dim_value) if d.HasField("dim_value") else "?" for d in tt.shape.dim
            )
            raise OnnxImportError(f"graph input '{vi.name}' has a negative dimension: ({shown})")
        for d in tt.shape.dim:
            if not d.HasField("dim_value"):
                self.symbolic.setdefault(vi.name, d.dim_param or "?")
        return tensor_type(shape, dtype)

    def run(self) -> ImportedModel:
        self.symbolic: dict[str, str] = {}
        """Graph inputs with a symbolic dimension (imported as `?`): the first symbol of each."""
        try:
            return self._run()
        except OnnxImportError as e:
            e.file = e.file or self.filename
            if self.symbolic:
                name, symbol = next(iter(self.symbolic.items()))
                e.message += (
                    f" (graph input '{name}' has the symbolic dimension '{symbol}', imported as ?; "
                    "giving the input's shape fixes it: --input-shape)"
                )
                e.args = (e.message,)
            raise

    def _run(self) -> ImportedModel:
        from onnx import numpy_helper

        _check_strings(self.model, "the model")
        self.opset = self._opset()
        _load_converters()
        graph = self.model.graph
        if len(graph.sparse_initializer):
            raise OnnxUnsupportedError("sparse initializers are not supported")
        for vi in (*graph.input, *graph.output, *graph.value_info):
            code = vi.type.tensor_type.elem_type
            if code in NARROW:
                self.narrow_types[vi.name] = code
        for init in graph.initializer:
            relay_dtype_of(init.data_type, f"initializer '{init.name}'")
            if init.data_type in NARROW:
                self.narrow_types[init.name] = init.data_type
            try:
                self.env[init.name] = widen(numpy_helper.to_array(init))
            except (ValueError, TypeError, OverflowError, MemoryError) as e:
                detail = " ".join(str(e).split()) or type(e).__name__
                raise OnnxImportError(
                    f"initializer '{init.name}': its data does not fit its dtype and shape "
                    f"{tuple(init.dims)}: {detail}"
                ) from None
        for name, array in self.constants.items():
            self.env[name] = widen(np.asarray(array))
        inputs = [vi for vi in graph.input if vi.name not in self.env]
        types = [self.input_type(vi) for vi in inputs]
        self.block = Block(arg_types=types)
        for vi, arg in zip(inputs, self.block.args, strict=True):
            self.env[vi.name] = arg
            hint = "".join(c if c.isalnum() or c == "_" else "_" for c in vi.name)
            if hint and not hint[0].isdigit():
                arg.name_hint = hint
        for index, proto in enumerate(graph.node):
            self.convert(proto, index)
        outputs = []
        for vi in graph.output:
            if vi.name not in self.env:
                raise OnnxImportError(f"graph output '{vi.name}' is never computed")
            value = self.env[vi.name]
            if not isinstance(value, (SSAValue, np.ndarray)):  # an empty sequence or optional
                from relay_opt.frontends.onnx.sequences import typed

                what = f"graph output '{vi.name}'"
                value = typed(self, value, vi.type, what)  # pyright: ignore[reportArgumentType]
            if isinstance(value, SSAValue) and isinstance(value.type, TupleType):
                raise OnnxUnsupportedError(
                    f"graph output '{vi.name}' is a tensor whose rank is known only at run time "
                    "(an If's branches of different ranks); it is not given back yet"
                )
            outputs.append(self.ssa(value))
        result = outputs[0] if len(outputs) == 1 else self.builder.tuple(outputs)
        self.add(core.ReturnOp(result))
        func = core.FuncOp("main", types, result.type, (), Region(self.block))
        module = ModuleOp([func, *self.functions, *self.type_defs])
        return ImportedModel(
            module,
            [vi.name for vi in inputs],
            [vi.name for vi in graph.output],
            types,
            [self.narrow_types.get(vi.name) for vi in inputs],
            [self.narrow_types.get(vi.name) for vi in graph.output],
        )

    def convert(self, proto: Any, index: int) -> None:
        node_label = f"node {index}{f' {proto.name!r}' if proto.name else ''} ({proto.op_type})"
        if proto.domain in ("", "ai.onnx"):
            key, domain, version = proto.op_type, "", self.opset
        elif proto.domain in self.domain_versions:
            key, domain = f"{proto.domain}.{proto.op_type}", proto.domain
            version = self.domain_versions[domain]
        elif proto.domain in DOMAINS:
            raise OnnxImportError(
                f"{node_label}: the model does not import the operator domain '{proto.domain}'"
            )
        else:
            raise OnnxUnsupportedError(
                f"{node_label}: operator domain '{proto.domain}' is not supported"
            )
        fn = CONVERTERS.get(key)
        if fn is None:
            raise OnnxUnsupportedError(f"{node_label}: operator {proto.op_type} is not supported")
        check_schema(proto, version, node_label, domain)
        node = Node(self, proto, index)
        node.opset = version
        from relay_opt.frontends.onnx.sequences import check_operands

        # The node is the location of the ops built for it: run-time errors name it.
        self.builder.location = NameLoc(StringAttr(node_label), UnknownLoc())
        try:
            try:
                check_operands(node)  # pyright: ignore[reportArgumentType]  (importer.py is read twice)
                result = fn(node)
            except (
                ValueError,
                IndexError,
                TypeError,
                KeyError,
                ZeroDivisionError,
                OverflowError,
            ) as e:
                # What the schema does not say (attribute values against the operands'
                # shapes, constant operands' contents) some converters and relations still
                # take on trust; a malformed node must be an error naming it, not a crash.
                raise node.error(f"cannot import this node: {type(e).__name__}: {e}") from None
            except MemoryError:
                raise node.error(
                    "cannot import this node: it needs more memory than there is"
                ) from None
        except OnnxImportError as e:
            origin = self._run_time_shape_origin(node)
            if origin is None or isinstance(e, OnnxNeedsConstantError):
                raise
            error = OnnxNeedsConstantError(
                f"{e.message} (its operand has ? dims from the shape '{origin}', computed at run "
                "time; a constant shape fixes it)"
            )
            error.value_name = origin
            raise error from None
        finally:
            self.builder.location = None
        results = list(result) if isinstance(result, Sequence) else [result]
        self._note_run_time_shapes(node, results)
        self._note_narrow_types(node)
        for name, value in zip(
            proto.output, results, strict=False
        ):  # the counts may differ: see below
            if name:
                if value is None:
                    raise node.unsupported(
                        f"output '{name}' is not produced by relay-opt's {proto.op_type}"
                    )
                self.env[name] = value
        for name in list(proto.output)[len(results) :]:
            if name:
                raise node.unsupported(
                    f"output '{name}' is not produced by relay-opt's {proto.op_type}"
                )

    def _note_narrow_types(self, node: Node) -> None:
        """The narrow dtypes of the node's outputs: what its converter said, or input 0's
        through an operator that only moves values."""
        for i, code in node.narrow_outputs.items():
            self.narrow_types[node.proto.output[i]] = code
        moved = self.narrow_types.get(node.proto.input[0]) if node.proto.input else None
        if moved is not None and node.op_type in _MOVES_VALUES and node.proto.output:
            self.narrow_types.setdefault(node.proto.output[0], moved)

    # -- ? dims from shapes computed at run time ---------------------------------------------------

    def _run_time_shape_origin(self, node: Node) -> str | None:
        """The ONNX name of the run-time shape an operand's `?` dims come from, if any."""
        for v in node.inputs:
            if isinstance(v, SSAValue) and v in self.shape_origins:
                return self.shape_origins[v]
        return None

    def _note_run_time_shapes(self, node: Node, results: Sequence[Any]) -> None:
        """Remembers which results have `?` dims from a shape computed at run time (a dyn
        operator's, or inherited from an operand): a converter that cannot take them then
        asks for that shape as a constant (what ONNX's backend interface does)."""
        from relay_opt.dialects.relay.ops.transform import (
            DynBroadcastTo,
            DynReshape,
            DynStridedSlice,
        )

        inherited = self._run_time_shape_origin(node)
        for v in results:
            if (
                not isinstance(v, SSAValue)
                or not isinstance(v.type, TensorType)  # (a sequence's `?` dims are its own)
                or DYNAMIC not in tensor_shape(v.type)
            ):
                continue
            origin = inherited
            if origin is None and isinstance(
                v.owner, (DynReshape, DynBroadcastTo, DynStridedSlice)
            ):
                shapes = [
                    name
                    for name, value in zip(node.proto.input, node.inputs, strict=False)
                    if name and isinstance(value, SSAValue) and value is not node.inputs[0]
                ]
                origin = shapes[0] if shapes else node.proto.input[0]
            if origin is not None:
                self.shape_origins[v] = origin


def check_schema(proto: Any, opset: int, node_label: str, domain: str = "") -> None:
    """The node against its ONNX schema: attribute types, required attributes, the number
    of inputs and outputs, required inputs given. The converters read attributes and inputs
    trusting these (a malformed model crashed them with a TypeError or an IndexError)."""
    from onnx import AttributeProto, defs

    try:
        schema = defs.get_schema(proto.op_type, opset, domain)
    except defs.SchemaError:
        raise OnnxImportError(
            f"{node_label}: operator {proto.op_type} does not exist in opset {opset}"
        ) from None
    given = {}
    for a in proto.attribute:
        if a.name in given:
            raise OnnxImportError(f"{node_label}: attribute '{a.name}' is given twice")
        given[a.name] = a
        spec = schema.attributes.get(a.name)
        # (a pybind11 enum; its stub does not say that int() takes it)
        declared = int(spec.type) if spec is not None else 0  # pyright: ignore[reportArgumentType]
        if spec is not None and a.type != declared:
            want = AttributeProto.AttributeType.Name(declared)
            got = (
                AttributeProto.AttributeType.Name(a.type)
                if a.type in AttributeProto.AttributeType.values()
                else str(a.type)
            )
            raise OnnxImportError(f"{node_label}: attribute '{a.name}' must be {want}, not {got}")
    for name, spec in schema.attributes.items():
        if spec.required and name not in given:
            raise OnnxImportError(f"{node_label}: attribute '{name}' is required")
    n_in, n_out = len(proto.input), len(proto.output)
    if not schema.min_input <= n_in <= schema.max_input:
        raise OnnxImportError(
            f"{node_label}: {n_in} inputs given, {proto.op_type} takes "
            f"{_count_range(schema.min_input, schema.max_input)}"
        )
    if not schema.min_output <= n_out <= schema.max_output:
        raise OnnxImportError(
            f"{node_label}: {n_out} outputs given, {proto.op_type} has "
            f"{_count_range(schema.min_output, schema.max_output)}"
        )
    single = defs.OpSchema.FormalParameterOption.Single
    for i, formal in enumerate(schema.inputs):
        if formal.option == single and (i >= n_in or not proto.input[i]):
            raise OnnxImportError(f"{node_label}: input {i} ('{formal.name}') is required")


def _count_range(low: int, high: int) -> str:
    if low == high:
        return str(low)
    return f"{low} or more" if high >= 1 << 30 else f"{low} to {high}"


def _check_strings(message: Any, where: str) -> None:
    """Every string field of the protobuf `message` is text: protobuf hands a string that is
    not valid UTF-8 (a corrupt or hostile file) back as bytes, which the importer's name
    handling cannot take; that is an OnnxImportError naming the field (doc strings are never
    read, so they may hold anything)."""
    from google.protobuf.descriptor import FieldDescriptor

    for fd, value in message.ListFields():
        repeated = (
            fd.is_repeated
            if hasattr(fd, "is_repeated")  # protobuf 6+; label is gone in 7
            else fd.label == FieldDescriptor.LABEL_REPEATED
        )
        if fd.type == FieldDescriptor.TYPE_STRING and fd.name != "doc_string":
            for v in value if repeated else [value]:
                if not isinstance(v, str):
                    raise OnnxImportError(
                        f"{where}: field '{fd.name}' is not valid UTF-8: {bytes(v)!r}"
                    )
        elif fd.type == FieldDescriptor.TYPE_MESSAGE and not fd.message_type.GetOptions().map_entry:
            for i, v in enumerate(value if repeated else [value]):
                _check_strings(v, f"{where}, {fd.name}[{i}]" if repeated else f"{where}, {fd.name}")


def load_model(source: str | bytes, filename: str | None = None, text: bool | None = None) -> Any:
    """An onnx.ModelProto from a path or serialized bytes; ONNX's text syntax (onnx.parser,
    files named *.onnxtxt) when `text` or the name says so. Raises OnnxImportError."""
    import onnx
    import onnx.parser

    name = filename or (source if isinstance(source, str) else "<onnx>")
    if text is None:
        text = name.endswith(".onnxtxt")
    try:
        if isinstance(source, str):
            with open(source, "rb") as f:
                source = f.read()
        if text:
            return onnx.parser.parse_model(source.decode("utf-8", "replace"))
        return onnx.load_from_string(source)
    except OSError as e:
        raise OnnxImportError(f"cannot read the file: {e.strerror}", file=name) from None
    except Exception as e:  # noqa: BLE001  (protobuf's and onnx.parser's errors have several types)
        what = "ONNX text syntax" if text else "not an ONNX model"
        detail = e.args[0] if e.args else e
        detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        raise OnnxImportError(f"{what}: {' '.join(detail.split())}", file=name) from None


def import_onnx(
    model: Any,
    shapes: dict[str, Sequence[int]] | None = None,
    filename: str | None = None,
    text: bool | None = None,
    constants: dict[str, np.ndarray] | None = None,
) -> ImportedModel:
    """An ONNX model (a path, the serialized bytes or an onnx.ModelProto) as a Relay module
    with @main.

    `shapes` fixes the shape of graph inputs (needed for symbolic dimensions); `constants`
    binds graph inputs to arrays (they are then no parameters of @main); `text`
    reads ONNX's text syntax (by default: when the file name ends with .onnxtxt).
    Raises OnnxImportError (OnnxUnsupportedError for what relay-opt lacks).
    """
    if isinstance(model, (str, bytes)):
        filename = filename or (model if isinstance(model, str) else None)
        model = load_model(model, filename, text)
    source_opset = _default_opset(model)
    model = upgraded(model, filename or "<onnx>")
    importer = GraphImporter(model, shapes, filename or "<onnx>", constants)
    importer.source_opset = source_opset or 0
    return importer.run()


def _default_opset(model: Any) -> int | None:
    return next((imp.version for imp in model.opset_import if imp.domain in ("", "ai.onnx")), None)


def upgraded(model: Any, filename: str) -> Any:
    """A model of an opset older than MIN_OPSET, rewritten to MIN_OPSET by ONNX's own
    version converter (the importer's converters know opsets 7 and newer); others as given.
    A model the converter cannot upgrade is refused with the converter's reason."""
    import onnx.version_converter

    version = _default_opset(model)
    if version is None or version >= MIN_OPSET:
        return model
    try:
        return onnx.version_converter.convert_version(model, MIN_OPSET)
    except Exception as e:  # noqa: BLE001  (the converter raises RuntimeError, ValueError, ...)
        detail = " ".join(str(e).split()) or type(e).__name__
        raise OnnxUnsupportedError(
            f"opset {version} is older than {MIN_OPSET}, and ONNX's version converter could "
            f"not upgrade the model: {detail}",
            file=filename,
        ) from None
