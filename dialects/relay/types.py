"""Relay's types as MLIR types.

Tensors, tuples and function types are xDSL's builtin `tensor`, `tuple` and
function types (so lowering needs no type conversion for them); what Relay adds
is here: ADT instances, references, type variables and the incomplete type `_`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    AnyFloat,
    ArrayAttr,
    BFloat16Type,
    Float16Type,
    Float32Type,
    Float64Type,
    FunctionType,
    IntegerType,
    Signedness,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    TupleType,
)
from xdsl.ir import Attribute, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer

DYNAMIC = DYNAMIC_INDEX
"""The value of a `?` dimension in a tensor shape."""


@irdl_attr_definition
class TypeVarType(ParametrizedAttribute, TypeAttribute):
    """A type variable, bound by a polymorphic function or ADT: `!relay.tvar<A>`."""

    name = "relay.tvar"

    var_name: StringAttr

    def __init__(self, var_name: str | StringAttr):
        super().__init__(StringAttr(var_name) if isinstance(var_name, str) else var_name)

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_identifier_or_string_literal(self.var_name.data)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> tuple[StringAttr]:
        with parser.in_angle_brackets():
            return (StringAttr(parser.parse_identifier_or_str_literal("type variable name")),)


@irdl_attr_definition
class IncompleteType(ParametrizedAttribute, TypeAttribute):
    """Relay's `_`: a type that infer-types fills in."""

    name = "relay.incomplete"


@irdl_attr_definition
class RefType(ParametrizedAttribute, TypeAttribute):
    """A mutable reference cell holding a value of `value_type`: `!relay.ref<T>`."""

    name = "relay.ref"

    value_type: Attribute

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_attribute(self.value_type)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> tuple[Attribute]:
        with parser.in_angle_brackets():
            return (parser.parse_type(),)


@irdl_attr_definition
class ADTType(ParametrizedAttribute, TypeAttribute):
    """An instance of an algebraic data type: `!relay.adt<@List, tensor<f32>>`.

    `adt` names the `relay.type` definition; `args` instantiate its type parameters.
    """

    name = "relay.adt"

    adt: SymbolRefAttr
    args: ArrayAttr[Attribute]

    def __init__(self, adt: str | SymbolRefAttr, args: Sequence[Attribute] = ()):
        super().__init__(SymbolRefAttr(adt) if isinstance(adt, str) else adt, ArrayAttr(args))

    @property
    def adt_name(self) -> str:
        return self.adt.root_reference.data

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_list((self.adt, *self.args), printer.print_attribute)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> tuple[SymbolRefAttr, ArrayAttr[Attribute]]:
        with parser.in_angle_brackets():
            name = parser.parse_symbol_name()
            args: list[Attribute] = []
            while parser.parse_optional_punctuation(",") is not None:
                args.append(parser.parse_type())
        return SymbolRefAttr(name), ArrayAttr(args)


@irdl_attr_definition
class StringType(ParametrizedAttribute, TypeAttribute):
    """The element type of a string tensor, `tensor<2x!relay.string>` (Relay's dtype `string`):
    one UTF-8 text per element (docs/strings.md)."""

    name = "relay.string"


STRING = "string"
"""The dtype name of string tensors. Not in DTYPES, which are the numeric dtypes that the
operator walks (gradients, bf16, the fuzzer) go through; only the string operators and a few
moves take it (OpDef.strings)."""

# ---------------------------------------------------------------------------
# Relay dtypes <-> MLIR element types
# ---------------------------------------------------------------------------

_DTYPE_TO_ELEMENT: dict[str, IntegerType | AnyFloat] = {
    "bool": IntegerType(1),
    "int8": IntegerType(8),
    "int16": IntegerType(16),
    "int32": IntegerType(32),
    "int64": IntegerType(64),
    "uint8": IntegerType(8, Signedness.UNSIGNED),
    "uint16": IntegerType(16, Signedness.UNSIGNED),
    "uint32": IntegerType(32, Signedness.UNSIGNED),
    "uint64": IntegerType(64, Signedness.UNSIGNED),
    "float16": Float16Type(),
    "bfloat16": BFloat16Type(),
    "float32": Float32Type(),
    "float64": Float64Type(),
}
_ELEMENT_TO_DTYPE: dict[Attribute, str] = {v: k for k, v in _DTYPE_TO_ELEMENT.items()}

DTYPES: tuple[str, ...] = tuple(_DTYPE_TO_ELEMENT)
"""Relay's dtype names that this project supports."""


class UnknownDTypeError(ValueError):
    pass


def element_type(dtype: str) -> IntegerType | AnyFloat:
    """The MLIR element type of a Relay dtype name (`float32` -> `f32`)."""
    if dtype == STRING:
        return StringType()  # pyright: ignore[reportReturnType]
    try:
        return _DTYPE_TO_ELEMENT[dtype]
    except KeyError:
        raise UnknownDTypeError(f"unknown dtype '{dtype}'") from None


def dtype_of_element(elem: Attribute) -> str:
    """The Relay dtype name of an MLIR element type (`f32` -> `float32`)."""
    if isinstance(elem, StringType):
        return STRING
    try:
        return _ELEMENT_TO_DTYPE[elem]
    except KeyError:
        raise UnknownDTypeError(f"element type {elem} has no Relay dtype") from None


def tensor_type(shape: Sequence[int], dtype: str | Attribute) -> TensorType[Attribute]:
    """A tensor type from a shape (`DYNAMIC` for `?`) and a dtype name or element type."""
    elem = element_type(dtype) if isinstance(dtype, str) else dtype
    return TensorType(elem, list(shape))


def tensor_dtype(t: TensorType[Attribute]) -> str:
    return dtype_of_element(t.element_type)


def tensor_shape(t: TensorType[Attribute]) -> tuple[int, ...]:
    return tuple(t.get_shape())


# A static dimension is TVM's int32 shape value; and a tensor's byte size must fit in the
# 64-bit sizes the lowering computes with. Relay text's types and every operator's result
# (OpDef.infer) keep to these.
MAX_DIM = 2**31 - 1
MAX_ELEMENTS = 2**56


def too_large(t: Attribute) -> str | None:
    """Why a tensor type (or a tuple's) is larger than MAX_DIM and MAX_ELEMENTS allow, or
    None; `?` dims count as 1."""
    for part in t.types.data if isinstance(t, TupleType) else (t,):
        if isinstance(part, TupleType):
            if (reason := too_large(part)) is not None:
                return reason
            continue
        if not isinstance(part, TensorType):
            continue
        shape = tensor_shape(part)
        elements = 1
        for d in shape:
            elements *= 1 if d == DYNAMIC else d
        if any(d > MAX_DIM for d in shape) or elements > MAX_ELEMENTS:
            dims = ", ".join("?" if d == DYNAMIC else str(d) for d in shape)
            return (
                f"a result of shape [{dims}] is too large (dims at most {MAX_DIM}, "
                f"at most 2^{MAX_ELEMENTS.bit_length() - 1} elements)"
            )
    return None


def holds_strings(t: Attribute) -> bool:
    """Whether `t` is a string tensor or a tuple holding one."""
    if isinstance(t, TensorType):
        return isinstance(t.element_type, StringType)
    if isinstance(t, TupleType):
        return any(holds_strings(f) for f in t.types)
    return False


def is_concrete(t: Attribute) -> bool:
    """True when `t` holds no incomplete type and no type variable."""
    if isinstance(t, (IncompleteType, TypeVarType)):
        return False
    if isinstance(t, TupleType):
        return all(is_concrete(f) for f in t.types)
    if isinstance(t, FunctionType):
        return all(is_concrete(x) for x in (*t.inputs, *t.outputs))
    if isinstance(t, RefType):
        return is_concrete(t.value_type)
    if isinstance(t, ADTType):
        return all(is_concrete(a) for a in t.args)
    return True


def has_type_vars(t: Attribute) -> bool:
    if isinstance(t, TypeVarType):
        return True
    if isinstance(t, ArrayAttr):
        return any(has_type_vars(x) for x in t)  # pyright: ignore
    if isinstance(t, ParametrizedAttribute) and not isinstance(t, TensorType):
        return any(has_type_vars(p) for p in t.parameters)
    return False


def substitute_type_vars(
    t: Attribute, subst: Mapping[str, Attribute], *, strict: bool = False
) -> Attribute:
    """`t` with each type variable replaced by its binding in `subst`.

    A variable without a binding stays, unless `strict` (then it is a KeyError: the caller
    promised a complete substitution)."""
    if isinstance(t, TypeVarType):
        name = t.var_name.data
        return subst[name] if strict or name in subst else t
    if not has_type_vars(t):
        return t
    if isinstance(t, TupleType):
        return tuple_type([substitute_type_vars(f, subst, strict=strict) for f in t.types])
    if isinstance(t, FunctionType):
        return FunctionType.from_lists(
            [substitute_type_vars(x, subst, strict=strict) for x in t.inputs],
            [substitute_type_vars(r, subst, strict=strict) for r in t.outputs],
        )
    if isinstance(t, RefType):
        return RefType(substitute_type_vars(t.value_type, subst, strict=strict))
    if isinstance(t, ADTType):
        return ADTType(t.adt, [substitute_type_vars(a, subst, strict=strict) for a in t.args])
    if isinstance(t, ArrayAttr):
        return ArrayAttr(substitute_type_vars(x, subst, strict=strict) for x in t)  # pyright: ignore
    raise AssertionError(f"no type-variable substitution for {t}")


def tuple_type(fields: Sequence[Attribute]) -> TupleType:
    # TupleType(list) keeps the list, which then compares unequal to a parsed tuple type.
    # (TupleType verifies on construction that every field is a type.)
    return TupleType(ArrayAttr(cast("tuple[TypeAttribute, ...]", tuple(fields))))


def types_compatible(a: Attribute, b: Attribute) -> bool:
    """Whether two types can describe the same value: equal up to `_` and `?` dims.

    Verifiers use this rather than equality so that partially typed IR (before
    infer-types) and `?` dimensions are accepted.
    """
    if a == b or isinstance(a, IncompleteType) or isinstance(b, IncompleteType):
        return True
    if isinstance(a, TensorType) and isinstance(b, TensorType):
        sa, sb = a.get_shape(), b.get_shape()
        return (
            a.element_type == b.element_type
            and len(sa) == len(sb)
            and all(x == y or DYNAMIC in (x, y) for x, y in zip(sa, sb, strict=True))
        )
    if isinstance(a, TupleType) and isinstance(b, TupleType):
        return len(a.types) == len(b.types) and all(
            types_compatible(x, y) for x, y in zip(a.types, b.types, strict=True)
        )
    if isinstance(a, FunctionType) and isinstance(b, FunctionType):
        return (
            len(a.inputs) == len(b.inputs)
            and len(a.outputs) == len(b.outputs)
            and all(types_compatible(x, y) for x, y in zip(a.inputs, b.inputs, strict=True))
            and all(types_compatible(x, y) for x, y in zip(a.outputs, b.outputs, strict=True))
        )
    if isinstance(a, RefType) and isinstance(b, RefType):
        return types_compatible(a.value_type, b.value_type)
    if isinstance(a, ADTType) and isinstance(b, ADTType):
        return (
            a.adt == b.adt
            and len(a.args) == len(b.args)
            and all(types_compatible(x, y) for x, y in zip(a.args, b.args, strict=True))
        )
    return False


def function_type(inputs: Sequence[Attribute], output: Attribute) -> FunctionType:
    """Relay functions return exactly one value (a tuple when there are several)."""
    return FunctionType.from_lists(list(inputs), [output])
