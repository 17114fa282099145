"""The operator registry: one declaration per Relay operator.

An `OpDef` holds everything the compiler knows about an operator: its operand
names, its attributes with Relay's defaults, its type relation (shapes and
dtypes, `?` dims included), its fusion pattern kind and its numpy semantics.
`@register(OpDef(...))` on a class statement in the operator's family module makes that
class the xDSL op class `relay.<name>` (`relay.add`, `relay.nn.conv2d`), importable by
its CamelCase name (`ops.elementwise.Add`, `ops.nn.Conv2D`; `Conv2D.OPDEF` is the
declaration).
Passes match and build operators by class; `lookup` goes from a Relay name to a
declaration, for the parsers and frontends. Every operator shares one assembly format:

    %y = relay.nn.conv2d %x, %w {padding = [1, 1, 1, 1], channels = 64}
           : (tensor<1x3x8x8xf32>, tensor<64x3x3x3xf32>) -> tensor<1x64x8x8xf32>

Only attributes that differ from the default are printed in the custom form;
the generic form shows every stored property.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

from xdsl.dialects.builtin import FunctionType
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    opt_prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser, UnresolvedOperand
from xdsl.printer import Printer
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from relay_opt.dialects.relay.attributes import (
    AttrError,
    Attrs,
    AttrSpec,
    AttrValue,
    format_value,
    parse_value,
)
from relay_opt.dialects.relay.types import (
    IncompleteType,
    holds_strings,
    is_concrete,
    too_large,
    types_compatible,
)


class OpPattern(IntEnum):
    """TVM's operator pattern kinds (OpPatternKind), which drive fuse-ops."""

    ELEMWISE = 0
    BROADCAST = 1
    INJECTIVE = 2
    COMM_REDUCE = 3
    OUT_ELEMWISE_FUSABLE = 4
    TUPLE = 7
    OPAQUE = 8


class TypeRelationError(Exception):
    """Raised by a type relation: the message says what was expected and what was found."""


TypeRelation = Callable[[Sequence[Attribute], Attrs], Attribute]
"""(operand types, attributes) -> result type. Operand types are concrete."""

ShapeFunction = Callable[[Sequence[Sequence[Any]], Attrs], Sequence[Any]]
"""(operand shapes, attributes) -> the result's shape, at run time: the shape function of an
operator whose result has `?` dims. A dim is an int when the type fixes it, else a run-time
size that supports `+ - * //` with ints and other sizes (the lowering's `RuntimeDim` builds
index arithmetic with them; plain ints work too). Tuple operands arrive as lists of shapes.
It may only combine dims, never compare a run-time one: it runs once, when compiling."""

Compute = Callable[..., Any]
"""(attrs, *numpy arrays) -> numpy array, or a tuple of them for tuple results.

Tuple operands arrive as Python tuples of arrays."""


@dataclass(frozen=True)
class OpDef:
    name: str
    """Relay's name: `add`, `nn.conv2d`."""
    args: tuple[str, ...]
    """Operand names, in order (Relay's argument names)."""
    attrs: tuple[AttrSpec, ...]
    relation: TypeRelation
    pattern: OpPattern
    compute: Compute
    summary: str = ""
    value_relation: Callable[[Sequence[Attribute], Attrs, Sequence[Any]], Attribute] | None = None
    """A sharper relation for when some operands are constants (numpy arrays, else None):
    arange's length follows from its start, stop and step."""
    shape: ShapeFunction | None = None
    """The run-time shape function (see `ShapeFunction`); None: the operator does not compile
    with `?` dims (docs/native-dynamic-shapes.md)."""
    shape_reads: tuple[int, ...] = ()
    """Operands whose *contents* decide the result's shape (`dyn.reshape`'s new shape: 1-D,
    static length): the shape function gets their elements as run-time sizes, not their dims."""
    sized_by_values: bool = False
    """The result's `?` dims are found by the computation itself (how many boxes
    non_max_suppression keeps): the lowering rule sizes its result, no shape function does."""
    strings: bool = False
    """A string operator (ops/strings.py, docs/strings.md): it takes string tensors, and the
    walks over numeric operators (all_ops) leave it out. Every other operator refuses them,
    but those that move them (`moves_strings`)."""
    moves_strings: bool = False
    """A data movement operator that takes string tensors too: it moves elements without
    reading them (natively a string is an i64 address: docs/strings.md)."""
    typed_attrs: Callable[[Attrs, Sequence[Attribute]], Attrs] | None = None
    """The attributes the numpy semantics run with, completed from the operand types where
    the type relation decides what the values alone do not (squeeze without axes drops the
    dims *statically* 1: a `?` dim stays, even when it is 1 at run time). The interpreter,
    which runs programs with `?` dims, uses them (`attrs_for`)."""
    op_class: type[RelayOperatorOp] = field(init=False, repr=False, compare=False)

    @property
    def mlir_name(self) -> str:
        return "relay." + self.name

    def attr_spec(self, name: str) -> AttrSpec | None:
        for spec in self.attrs:
            if spec.name == name:
                return spec
        return None

    def make_attrs(self, values: dict[str, AttrValue] | None = None) -> Attrs:
        """Attributes with defaults filled; raises AttrError on unknown names or bad values."""
        values = dict(values or {})
        out: dict[str, AttrValue] = {}
        for spec in self.attrs:
            out[spec.name] = spec.normalize(values.pop(spec.name, spec.default))
        if values:
            unknown = next(iter(values))
            raise AttrError(f"operator '{self.name}' has no attribute '{unknown}'")
        return Attrs(out)

    def attrs_for(self, attrs: Attrs, arg_types: Sequence[Attribute]) -> Attrs:
        """The attributes a call with operands of `arg_types` computes with (`typed_attrs`)."""
        return attrs if self.typed_attrs is None else self.typed_attrs(attrs, arg_types)

    def evaluate(self, attrs: Attrs, *args: Any) -> Any:
        """The numpy semantics, without numpy's floating-point warnings: inf, nan and wrapped
        integers are the operator's defined values (log(0), a float division by zero), not
        something to print on the user's terminal with this package's file paths."""
        import numpy as np

        with np.errstate(all="ignore"):
            return self.compute(attrs, *args)

    def infer(
        self, arg_types: Sequence[Attribute], attrs: Attrs, values: Sequence[Any] | None = None
    ) -> Attribute:
        """Run the type relation after checking the operand count; `values` holds the
        operands known as constants (None for the others)."""
        if len(arg_types) != len(self.args):
            raise TypeRelationError(
                f"'{self.name}' takes {len(self.args)} operand(s) "
                f"({', '.join(self.args)}), got {len(arg_types)}"
            )
        if not (self.strings or self.moves_strings) and any(holds_strings(t) for t in arg_types):
            raise TypeRelationError(f"'{self.name}' does not accept string tensors")
        if values is not None and self.value_relation is not None:
            result = self.value_relation(arg_types, attrs, values)
        else:
            result = self.relation(arg_types, attrs)
        # An attribute can ask for more than the lowering's 64-bit sizes hold (RoiAlign's
        # output_width = 2^63 - 1); refused here, for every frontend, not in convert-to-llvm.
        if (reason := too_large(result)) is not None:
            raise TypeRelationError(reason)
        return result

    def build(
        self,
        operands: Sequence[SSAValue | Operation],
        attrs: dict[str, AttrValue] | None = None,
        result_type: Attribute | None = None,
    ) -> RelayOperatorOp:
        """Create a call of this operator; the result type is inferred when not given."""
        full = self.make_attrs(attrs)
        if result_type is None:
            types = [SSAValue.get(o).type for o in operands]
            result_type = (
                self.infer(types, full) if all(is_concrete(t) for t in types) else IncompleteType()
            )
        props = {}
        for spec in self.attrs:
            if (a := spec.to_attribute(full[spec.name])) is not None:
                props[spec.name] = a
        return self.op_class.create(
            operands=[SSAValue.get(o) for o in operands],
            result_types=[result_type],
            properties=props,
        )


class RelayOperatorOp(IRDLOperation):
    """Base of every registered operator's op class."""

    OPDEF: ClassVar[OpDef]

    operands_ = var_operand_def()
    result = result_def()

    @property
    def opdef(self) -> OpDef:
        return type(self).OPDEF

    @property
    def attrs(self) -> Attrs:
        """The call's attributes as Python values, defaults filled in."""
        values: dict[str, AttrValue] = {}
        for spec in self.OPDEF.attrs:
            values[spec.name] = spec.from_attribute(self.properties.get(spec.name))
        return Attrs(values)

    def verify_(self) -> None:
        opdef = self.OPDEF
        if len(self.operands) != len(opdef.args):
            raise VerifyException(
                f"'{opdef.name}' takes {len(opdef.args)} operand(s) "
                f"({', '.join(opdef.args)}), got {len(self.operands)}"
            )
        for key in self.properties:
            if opdef.attr_spec(key) is None:
                raise VerifyException(f"operator '{opdef.name}' has no attribute '{key}'")
        try:
            attrs = self.attrs
        except AttrError as e:
            raise VerifyException(str(e)) from None
        types = [o.type for o in self.operands]
        if all(is_concrete(t) for t in types) and is_concrete(self.result.type):
            try:
                expected = opdef.infer(types, attrs)
            except TypeRelationError as e:
                raise VerifyException(str(e)) from None
            if not types_compatible(expected, self.result.type):
                raise VerifyException(
                    f"result type {self.result.type} does not match the inferred type {expected}"
                )

    # -- assembly format ------------------------------------------------------------------

    def print(self, printer: Printer) -> None:
        if self.operands:
            printer.print_string(" ")
            printer.print_list(self.operands, printer.print_operand)
        shown = []
        attrs = self.attrs
        for spec in self.OPDEF.attrs:
            value = attrs[spec.name]
            if value != spec.normalize(spec.default):
                shown.append(f"{spec.name} = {format_value(value)}")
        if shown:
            printer.print_string(" {" + ", ".join(shown) + "}")
        printer.print_string(" : ")
        printer.print_function_type(self.operand_types, self.result_types)

    @classmethod
    def parse(cls, parser: Parser) -> RelayOperatorOp:
        opdef = cls.OPDEF
        unresolved: list[UnresolvedOperand] = []
        if (first := parser.parse_optional_unresolved_operand()) is not None:
            unresolved.append(first)
            while parser.parse_optional_punctuation(",") is not None:
                unresolved.append(parser.parse_unresolved_operand())
        values: dict[str, AttrValue] = {}
        if parser.parse_optional_punctuation("{") is not None:
            values = _parse_attributes(parser, opdef)
        parser.parse_punctuation(":")
        pos = parser.pos
        ftype = parser.parse_type()
        if not isinstance(ftype, FunctionType) or len(ftype.outputs) != 1:
            parser.raise_error(
                "expected a function type with one result, `(operand types) -> result type`",
                pos,
                parser.pos,
            )
        if len(ftype.inputs) != len(unresolved):
            parser.raise_error(
                f"{len(unresolved)} operand(s) but {len(ftype.inputs)} operand type(s)",
                pos,
                parser.pos,
            )
        operands = parser.resolve_operands(unresolved, ftype.inputs.data, parser.pos)
        return opdef.build(operands, values, ftype.outputs.data[0])


def _parse_attributes(parser: Parser, opdef: OpDef) -> dict[str, AttrValue]:
    """`key = value, ...}`: an operator's attributes after their `{`, checked against `opdef`."""
    values: dict[str, AttrValue] = {}
    if parser.parse_optional_punctuation("}") is not None:
        return values
    while True:
        pos = parser.pos
        key = parser.parse_identifier("attribute name")
        parser.parse_punctuation("=")
        spec = opdef.attr_spec(key)
        if spec is None:
            parser.raise_error(f"operator '{opdef.name}' has no attribute '{key}'", pos, parser.pos)
        if key in values:
            parser.raise_error(f"duplicate attribute '{key}'", pos, parser.pos)
        vpos = parser.pos
        value = parse_value(parser)
        try:
            values[key] = spec.normalize(value)
        except AttrError as e:
            parser.raise_error(str(e), vpos, parser.pos)
        if parser.parse_optional_punctuation(",") is None:
            break
    parser.parse_punctuation("}")
    return values


_REGISTRY: dict[str, OpDef] = {}
_CLASS_NAMES: set[str] = set()
_OperatorT = TypeVar("_OperatorT", bound=RelayOperatorOp)


def register(opdef: OpDef) -> Callable[[type[_OperatorT]], type[_OperatorT]]:
    """Declare an operator: decorates its class in the family module, which becomes the
    xDSL op class `relay.<name>` (the class statement names it for importers and type
    checkers; everything else comes from the declaration):

        @register(OpDef("nn.conv2d", ("data", "weight"), CONV2D_ATTRS, ...))
        class Conv2D(RelayOperatorOp): ...
    """

    def define(cls: type[_OperatorT]) -> type[_OperatorT]:
        if opdef.name in _REGISTRY:
            raise ValueError(f"operator '{opdef.name}' is registered twice")
        if cls.__name__ in _CLASS_NAMES:
            raise ValueError(f"two operators have the class name {cls.__name__}")
        namespace: dict[str, Any] = {
            "name": opdef.mlir_name,
            "OPDEF": opdef,
            "__annotations__": {"OPDEF": "ClassVar[OpDef]"},
            # Operators compute values only: unused calls may be removed, equal ones merged.
            "traits": traits_def(Pure()),
            "__doc__": cls.__doc__ or opdef.summary or f"Relay operator `{opdef.name}`.",
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
        }
        for spec in opdef.attrs:
            namespace["attr_" + spec.name] = opt_prop_def(Attribute, prop_name=spec.name)
        op_class = irdl_op_definition(type(cls.__name__, (RelayOperatorOp,), namespace))
        object.__setattr__(opdef, "op_class", op_class)
        _REGISTRY[opdef.name] = opdef
        _CLASS_NAMES.add(cls.__name__)
        return op_class  # pyright: ignore[reportReturnType]

    return define


def _load() -> None:
    # The operator families register themselves on import.
    from relay_opt.dialects.relay import ops  # noqa: F401


def lookup(name: str) -> OpDef | None:
    """The operator named `name` (Relay spelling, `nn.conv2d`), or None."""
    _load()
    return _REGISTRY.get(name)


def all_ops(*, strings: bool = False) -> Iterator[OpDef]:
    """The operators, by name; the string operators (OpDef.strings) only when `strings`: the
    walks over operators (gradients, shape functions, bf16, the fuzzer's generators) are
    about numeric tensors."""
    _load()
    ops = sorted(_REGISTRY.values(), key=lambda d: d.name)
    return iter([d for d in ops if strings or not d.strings])
