"""Relay dialect -> Relay text 0.0.5, in the conventions of TVM's printer.

Type definitions, then `def`s, each sorted by name. Values named by a `let`
keep their name (`let %x = ...;`), others are graph bindings `%N = ...;` with
one counter for the whole module; constants (literals or
`meta[relay.Constant][i]`), global references,
field-less constructors and projections print inline; a value used only by
the end of its block prints in place. Non-scalar constants print as
`meta[relay.Constant][i]`; `print_relay` returns their arrays too, and can
append them as a `#[metadata]` section.

Printing, parsing and printing again gives the same text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    FunctionType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    TupleType,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.constants import numpy_from_dense
from relay_opt.dialects.relay.patterns import (
    ConstructorPattern,
    TuplePattern,
    VarPattern,
    WildcardPattern,
)
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.resources import array_of
from relay_opt.dialects.relay.types import (
    DYNAMIC,
    ADTType,
    IncompleteType,
    RefType,
    TypeVarType,
    UnknownDTypeError,
    tensor_dtype,
)

# Relay's reference built-ins, written as calls of their operands (`ref_write(r, v)`).
_REF_FUNCTIONS: dict[type[Operation], str] = {
    core.RefCreateOp: "ref",
    core.RefReadOp: "ref_read",
    core.RefWriteOp: "ref_write",
}

_LITERAL_SUFFIX = {
    "float32": "f",
    "float16": "f16",
    "float64": "f64",
    "int32": "",
    "int64": "i64",
    "int16": "i16",
    "int8": "i8",
}


def _wider_cell(op: Operation) -> bool:
    """A `ref` whose cell type is not its first value's (`?` dims where the value has sizes)."""
    return isinstance(op, core.RefCreateOp) and op.result.type != RefType(op.value.type)


def relay_type(t: Attribute) -> str:
    if isinstance(t, TensorType):
        try:
            dtype = tensor_dtype(t)
        except UnknownDTypeError:
            raise RelayError(f"{t} has no Relay dtype") from None
        shape = t.get_shape()
        if not shape:
            return dtype
        dims = ", ".join("?" if d == DYNAMIC else str(d) for d in shape)
        return f"Tensor[({dims}), {dtype}]"
    if isinstance(t, TupleType):
        fields = [relay_type(f) for f in t.types]
        return "(" + ", ".join(fields) + ("," if len(fields) == 1 else "") + ")"
    if isinstance(t, FunctionType):
        params = ", ".join(relay_type(p) for p in t.inputs)
        return f"fn ({params}) -> {relay_type(t.outputs.data[0])}"
    if isinstance(t, TypeVarType):
        return t.var_name.data
    if isinstance(t, IncompleteType):
        return "_"
    if isinstance(t, RefType):
        return f"ref({relay_type(t.value_type)})"
    if isinstance(t, ADTType):
        if not t.args:
            return t.adt_name
        return f"{t.adt_name}[{', '.join(relay_type(a) for a in t.args)}]"
    raise RelayError(f"type {t} has no Relay spelling")


def relay_float(value: float, suffix: str = "f") -> str:
    if math.isinf(value):
        return ("-" if value < 0 else "") + "inf" + suffix
    if math.isnan(value):
        raise RelayError("NaN has no Relay literal")
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return text + suffix


def relay_attr_value(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return relay_float(value)
    if isinstance(value, str):
        if '"' in value:
            raise RelayError(f"the string {value!r} cannot be written in Relay text")
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(relay_attr_value(v) for v in value) + "]"
    raise RelayError(f"attribute value {value!r} has no Relay spelling")


def _function_attr(attr: Attribute) -> str:
    if isinstance(attr, IntegerAttr):
        if isinstance(attr.type, IntegerType) and attr.type.width.data == 1:
            return "True" if attr.value.data else "False"
        return str(attr.value.data)
    if isinstance(attr, FloatAttr):
        return relay_float(attr.value.data)
    if isinstance(attr, StringAttr):
        return f'"{attr.data}"'
    if isinstance(attr, ArrayAttr):
        return "[" + ", ".join(_function_attr(a) for a in attr.data) + "]"  # pyright: ignore
    raise RelayError(f"function attribute {attr} has no Relay spelling")


@dataclass
class PrintedRelay:
    text: str
    constants: list[np.ndarray] = field(default_factory=list)
    """The arrays of `meta[relay.Constant][i]`, in index order."""


class RelayPrinter:
    def __init__(self) -> None:
        self.names: dict[SSAValue, str] = {}
        self.used_names: set[str] = set()
        self.graph_counter = 0
        self.constants: list[np.ndarray] = []
        self.meta_index: dict[Operation, int] = {}
        self.bfloat16: set[int] = set()
        """The indices of `constants` that are bfloat16 (float32 stands in for it)."""
        self.lines: list[str] = []

    # -- naming ----------------------------------------------------------------------------

    def fresh_name(self, hint: str | None) -> str:
        if hint and not hint[0].isdigit():
            name, k = hint, 1
            while name in self.used_names:
                name = f"{hint}_{k}"
                k += 1
            self.used_names.add(name)
            return name
        name = str(self.graph_counter)
        self.graph_counter += 1
        return name

    def bind(self, value: SSAValue, hint: str | None) -> str:
        name = self.fresh_name(hint)
        self.names[value] = name
        return name

    # -- module ----------------------------------------------------------------------------

    def module(self, module: ModuleOp) -> str:
        out = ['#[version = "0.0.5"]']
        type_defs = sorted(
            (op for op in module.ops if isinstance(op, adt.TypeDefOp)),
            key=lambda o: o.sym_name.data,
        )
        funcs = sorted(
            (op for op in module.ops if isinstance(op, core.FuncOp)), key=lambda o: o.sym_name.data
        )
        for op in module.ops:
            if not isinstance(op, (adt.TypeDefOp, core.FuncOp)):
                raise RelayError(f"'{op.name}' cannot be written in Relay text", op)
        for td in type_defs:
            out.append(self.type_def(td))
        for f in funcs:
            out.append(self.func(f))
        return "\n".join(out) + "\n"

    def type_def(self, td: adt.TypeDefOp) -> str:
        params = f"[{', '.join(td.type_param_names)}]" if td.type_param_names else ""
        if td.extern:
            return f"extern type {td.sym_name.data}{params}"
        lines = [f"type {td.sym_name.data}{params} {{"]
        for c in td.constructors:
            fields = f"({', '.join(relay_type(t) for t in c.inputs)})" if c.inputs.data else ""
            lines.append(f"  {c.sym_name.data}{fields},")
        lines.append("}")
        return "\n".join(lines)

    def params(self, args: tuple[SSAValue, ...], attributes: dict[str, Attribute]) -> str:
        items = []
        for a in args:
            name = self.bind(a, a.name_hint or "x")
            items.append(f"%{name}: {relay_type(a.type)}")
        for key in sorted(attributes):
            items.append(f"{key}={_function_attr(attributes[key])}")
        return ", ".join(items)

    def func(self, f: core.FuncOp) -> str:
        self.used_names = set()  # names are per function; graph numbers run on, as in TVM
        tparams = f"[{', '.join(f.type_param_names)}]" if f.type_param_names else ""
        head = f"def @{f.sym_name.data}{tparams}({self.params(f.args, dict(f.attributes))})"
        head += f" -> {relay_type(f.ret_type)}"
        return head + " {\n" + self.body(f.body.block, "  ") + "\n}"

    # -- blocks and expressions ------------------------------------------------------------

    def body(self, block: Block, indent: str) -> str:
        """A block as a sequence of bindings ending in its value."""
        lines: list[str] = []
        ops = list(block.ops)
        terminator = ops[-1]
        assert isinstance(terminator, (core.ReturnOp, core.YieldOp))
        tail_value = terminator.operands[0]
        for op in ops[:-1]:
            if self.inline(op):
                continue
            result = op.results[0]
            # The value of the block itself prints in place, at the end.
            if (
                result is tail_value
                and result.has_one_use()
                and op is ops[-2]
                and not self.needs_let_name(op)
            ):
                continue
            if result.first_use is None and not self.needs_let_name(op):
                lines.append(f"{indent}{self.expr(op, indent)};")
            elif self.needs_let_name(op) or (
                result.name_hint and not result.name_hint[0].isdigit()
            ):
                name = self.bind(result, result.name_hint or "f")
                if isinstance(op, core.ClosureOp) and op.self_arg is not None:
                    self.names[op.self_arg] = name
                annotation = f": {relay_type(result.type)}" if _wider_cell(op) else ""
                lines.append(f"{indent}let %{name}{annotation} = {self.expr(op, indent)};")
            else:
                expr = self.expr(op, indent)
                name = self.bind(result, None)
                ty = f" /* ty={relay_type(result.type)} */" if self.show_type(op) else ""
                lines.append(f"{indent}%{name} = {expr}{ty};")
        lines.append(indent + self.value(tail_value, indent))
        return "\n".join(lines)

    @staticmethod
    def needs_let_name(op: Operation) -> bool:
        # A recursive closure refers to itself by its let-bound name; a cell whose type is
        # wider than its first value's keeps it in the let's annotation.
        return isinstance(op, core.ClosureOp) and op.self_arg is not None or _wider_cell(op)

    @staticmethod
    def show_type(op: Operation) -> bool:
        return isinstance(op, (RelayOperatorOp, core.CallOp, core.CallClosureOp))

    def inline(self, op: Operation) -> bool:
        """Ops printed where they are used rather than bound to a name."""
        if isinstance(op, (core.ConstantOp, core.GlobalRefOp)):
            return True
        if isinstance(op, adt.ConstructOp):
            return not op.fields
        return isinstance(op, core.TupleGetOp)

    def value(self, v: SSAValue, indent: str) -> str:
        if v in self.names:
            return "%" + self.names[v]
        owner = v.owner
        if isinstance(owner, Operation):
            return self.expr(owner, indent)
        raise RelayError("a value is used outside its scope")

    def scalar_literal(self, op: core.ConstantOp) -> str | None:
        value = op.value
        if not isinstance(value, DenseIntOrFPElementsAttr):
            return None
        t = value.type
        assert isinstance(t, TensorType)
        if t.get_shape():
            return None
        dtype = tensor_dtype(t)
        x = numpy_from_dense(value).item()
        if dtype == "bool":
            return "True" if x else "False"
        if dtype not in _LITERAL_SUFFIX:
            return None
        if dtype.startswith("float"):
            if math.isnan(x):
                return None
            # The shortest decimal that reads back as the same value of this width.
            short = float(
                str(numpy_from_dense(value).item() if dtype == "float64" else np.float32(x))
            )
            if dtype == "float16":
                short = float(str(np.float16(x)))
            return relay_float(short, _LITERAL_SUFFIX[dtype])
        return f"{x}{_LITERAL_SUFFIX[dtype]}"

    def args(self, values, indent: str) -> list[str]:  # noqa: ANN001
        return [self.value(v, indent) for v in values]

    def call(self, head: str, values, indent: str) -> str:  # noqa: ANN001
        """`head(v, ...)`."""
        return f"{head}({', '.join(self.args(values, indent))})"

    def expr(self, op: Operation, indent: str) -> str:
        if isinstance(op, RelayOperatorOp):
            items = self.args(op.operands, indent)
            attrs = op.attrs
            for spec in op.opdef.attrs:
                value = attrs[spec.name]
                if value != spec.normalize(spec.default):
                    items.append(f"{spec.name}={relay_attr_value(value)}")
            return f"{op.opdef.name}({', '.join(items)})"
        if isinstance(op, core.ConstantOp):
            if (lit := self.scalar_literal(op)) is not None:
                return lit
            if op not in self.meta_index:
                try:
                    self.constants.append(np.asarray(array_of(op.value)))
                except KeyError as e:
                    raise RelayError(str(e.args[0]), op) from None
                self.meta_index[op] = len(self.constants) - 1
                if tensor_dtype(op.result.type) == "bfloat16":  # pyright: ignore[reportArgumentType]
                    self.bfloat16.add(len(self.constants) - 1)
            return f"meta[relay.Constant][{self.meta_index[op]}]"
        if isinstance(op, core.CallOp):
            return self.call(f"@{op.callee.root_reference.data}", op.arguments, indent)
        if isinstance(op, core.GlobalRefOp):
            return f"@{op.callee.root_reference.data}"
        if isinstance(op, core.CallClosureOp):
            return self.call(self.value(op.callee, indent), op.arguments, indent)
        if isinstance(op, adt.ConstructOp):
            name = op.constructor.nested_references.data[-1].data
            return self.call(name, op.fields, indent) if op.fields else name
        if isinstance(op, core.TupleOp):
            fields = self.args(op.fields, indent)
            return "(" + ", ".join(fields) + ("," if len(fields) == 1 else "") + ")"
        if isinstance(op, core.TupleGetOp):
            return f"{self.value(op.tuple, indent)}.{op.field_index}"
        if (function := _REF_FUNCTIONS.get(type(op))) is not None:
            return self.call(function, op.operands, indent)
        if isinstance(op, core.ClosureOp):
            inner = indent + "  "
            params = self.params(op.args, dict(op.attributes))
            return (
                f"fn ({params}) -> {relay_type(op.ret_type)} {{\n"
                + self.body(op.body.block, inner)
                + f"\n{indent}}}"
            )
        if isinstance(op, core.IfOp):
            inner = indent + "  "
            return (
                f"if ({self.value(op.cond, indent)}) {{\n"
                + self.body(op.then_region.block, inner)
                + f"\n{indent}}} else {{\n"
                + self.body(op.else_region.block, inner)
                + f"\n{indent}}}"
            )
        if isinstance(op, adt.MatchOp):
            inner = indent + "  "
            keyword = "match?" if op.partial else "match"
            lines = [f"{keyword} ({self.value(op.data, indent)}) {{"]
            for pattern, region in zip(op.patterns, op.clauses, strict=True):
                args = iter(region.block.args)
                pat = self.pattern(pattern, args)
                lines.append(
                    f"{inner}{pat} => {{\n"
                    + self.body(region.block, inner + "  ")
                    + f"\n{inner}}},"
                )
            lines.append(f"{indent}}}")
            return "\n".join(lines)
        raise RelayError(f"'{op.name}' cannot be written in Relay text", op)

    def pattern(self, p: Attribute, args) -> str:  # noqa: ANN001
        if isinstance(p, WildcardPattern):
            return "_"
        if isinstance(p, VarPattern):
            arg = next(args)
            return "%" + self.bind(arg, arg.name_hint or "v")
        if isinstance(p, TuplePattern):
            fields = [self.pattern(f, args) for f in p.fields]
            return "(" + ", ".join(fields) + ("," if len(fields) == 1 else "") + ")"
        assert isinstance(p, ConstructorPattern)
        name = p.constructor.nested_references.data[-1].data
        if not p.fields.data:
            return name
        return f"{name}({', '.join(self.pattern(f, args) for f in p.fields)})"


def print_relay(module: ModuleOp, show_meta_data: bool = False) -> PrintedRelay:
    """Relay text for a module; non-scalar constants go to `.constants` (and the text's
    `#[metadata]` section when `show_meta_data`), bfloat16 ones as ml_dtypes' bfloat16 (exact),
    not the float32 that stands in for it, so that they read back as bfloat16."""
    import ml_dtypes

    printer = RelayPrinter()
    text = printer.module(module)
    arrays = [
        a.astype(ml_dtypes.bfloat16) if i in printer.bfloat16 else a
        for i, a in enumerate(printer.constants)
    ]
    if arrays:
        if show_meta_data:
            from relay_opt.frontends.relay_text.metadata import to_tvm_json

            text += "#[metadata]\n" + to_tvm_json({"relay.Constant": arrays}) + "\n"
        else:
            text += "/* meta data omitted: pass the constants separately (--meta M.npz). */\n"
    return PrintedRelay(text, arrays)
