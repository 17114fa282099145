"""The Relay language's core ops: functions, closures, calls, `if`, tuples,
constants and references. ADTs and `match` are in `adt.py`; operators in `ops/`.

Every Relay function returns exactly one value (a tuple when there are several),
so function types here always have one result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeGuard, TypeVar

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    FunctionType,
    IntegerType,
    Signedness,
    StringAttr,
    SymbolNameConstraint,
    SymbolRefAttr,
    TensorType,
    TupleType,
    UnitAttr,
)
from xdsl.ir import Attribute, Block, Operation, ParametrizedAttribute, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import (
    CallableOpInterface,
    HasParent,
    IsolatedFromAbove,
    IsTerminator,
    Pure,
    SymbolOpInterface,
)
from xdsl.utils.exceptions import VerifyException

from relay_opt.dialects.relay.types import (
    IncompleteType,
    RefType,
    TypeVarType,
    function_type,
    tuple_type,
    types_compatible,
)

_OpT = TypeVar("_OpT", bound=Operation)


def _type_vars(t: Attribute) -> set[str]:
    """Names of the type variables occurring in `t`."""
    if isinstance(t, TypeVarType):
        return {t.var_name.data}
    if isinstance(t, ArrayAttr):
        return set().union(*(_type_vars(x) for x in t))  # pyright: ignore
    if isinstance(t, ParametrizedAttribute):
        return set().union(*(_type_vars(p) for p in t.parameters))
    return set()


def _types_in(t: Attribute) -> Iterator[Attribute]:
    """`t` and every type nested in it, pre-order."""
    yield t
    if isinstance(t, ArrayAttr):
        for x in t:  # pyright: ignore
            yield from _types_in(x)  # pyright: ignore
    elif isinstance(t, ParametrizedAttribute):
        for p in t.parameters:
            yield from _types_in(p)


def _single_result(t: FunctionType, what: str) -> Attribute:
    if len(t.outputs) != 1:
        raise VerifyException(f"{what} must have exactly one result type, got {len(t.outputs)}")
    return t.outputs.data[0]


def _parse_params(parser: Parser) -> list[Parser.Argument]:
    return parser.parse_comma_separated_list(
        Parser.Delimiter.PAREN, lambda: parser.parse_argument(expect_type=True)
    )


def _print_params(printer: Printer, args: Sequence[SSAValue]) -> None:
    printer.print_string("(")
    printer.print_list(args, printer.print_block_argument)  # pyright: ignore
    printer.print_string(")")


def _print_extra_attributes(printer: Printer, op: Operation) -> None:
    """` attributes {...}`: the op's discardable attributes, before a region."""
    printer.print_op_attributes(op.attributes, print_keyword=True)


def _print_attr_dict(printer: Printer, op: Operation) -> None:
    """` {...}`: the op's discardable attributes (custom forms must not drop them)."""
    printer.print_op_attributes(op.attributes)


def parse_symbol_head(parser: Parser) -> tuple[str, list[str]]:
    """`@name[A, B]` or `@name`: the name and type parameters of relay.func and relay.type."""
    name = parser.parse_symbol_name().data
    if parser.parse_optional_punctuation("[") is None:
        return name, []
    names = [parser.parse_identifier_or_str_literal("type parameter")]
    while parser.parse_optional_punctuation(",") is not None:
        names.append(parser.parse_identifier_or_str_literal("type parameter"))
    parser.parse_punctuation("]")
    return name, names


def print_symbol_head(printer: Printer, name: str, type_params: Sequence[str]) -> None:
    """` @name[A, B]`, or ` @name` without type parameters."""
    printer.print_string(" ")
    printer.print_symbol_name(name)
    if type_params:
        printer.print_string("[")
        printer.print_list(type_params, printer.print_identifier_or_string_literal)
        printer.print_string("]")


def check_unique_symbol(op: Operation, name: str) -> None:
    """A top-level symbol must not be defined twice; the redefinition is the error."""
    from xdsl.dialects.builtin import ModuleOp

    module = op.parent_op()
    if not isinstance(module, ModuleOp):
        return
    for other in module.ops:
        if other is op:
            return
        sym = other.properties.get("sym_name")
        if isinstance(sym, StringAttr) and sym.data == name:
            raise VerifyException(f"redefinition of symbol @{name}")


# ---------------------------------------------------------------------------
# Functions and closures
# ---------------------------------------------------------------------------


class RelayCallable(CallableOpInterface):
    @classmethod
    def get_callable_region(cls, op: Operation) -> Region:
        assert isinstance(op, (FuncOp, ClosureOp))
        return op.body

    @classmethod
    def get_argument_types(cls, op: Operation) -> tuple[Attribute, ...]:
        assert isinstance(op, (FuncOp, ClosureOp))
        return op.function_type.inputs.data

    @classmethod
    def get_result_types(cls, op: Operation) -> tuple[Attribute, ...]:
        assert isinstance(op, (FuncOp, ClosureOp))
        return op.function_type.outputs.data


@irdl_op_definition
class FuncOp(IRDLOperation):
    """A global function: `relay.func @map[A, B](%f: ..., %xs: ...) -> T { ... }`.

    `type_params` names the type variables it is polymorphic over. Relay's
    function attributes (`Primitive`, `Inline`, ...) are the op's attributes.
    """

    name = "relay.func"

    body = region_def("single_block")
    sym_name = prop_def(SymbolNameConstraint())
    function_type = prop_def(FunctionType)
    type_params = opt_prop_def(ArrayAttr[StringAttr])

    traits = traits_def(IsolatedFromAbove(), SymbolOpInterface(), RelayCallable())

    def __init__(
        self,
        name: str,
        params: Sequence[Attribute],
        ret: Attribute,
        type_params: Sequence[str] = (),
        region: Region | None = None,
        attributes: dict[str, Attribute] | None = None,
    ):
        props: dict[str, Attribute] = {
            "sym_name": StringAttr(name),
            "function_type": function_type(params, ret),
        }
        if type_params:
            props["type_params"] = ArrayAttr(StringAttr(p) for p in type_params)
        super().__init__(
            properties=props,
            regions=[region or Region(Block(arg_types=params))],
            attributes=attributes or {},
        )

    @property
    def ret_type(self) -> Attribute:
        return self.function_type.outputs.data[0]

    @property
    def type_param_names(self) -> tuple[str, ...]:
        return tuple(p.data for p in self.type_params) if self.type_params else ()

    @property
    def args(self) -> tuple[SSAValue, ...]:
        return self.body.block.args

    def verify_(self) -> None:
        _single_result(self.function_type, "a Relay function")
        if self.body.block.arg_types != self.function_type.inputs.data:
            raise VerifyException("entry block argument types differ from the function type")
        bound = set(self.type_param_names)
        if len(bound) != len(self.type_param_names):
            raise VerifyException("duplicate type parameter")
        if unbound := _type_vars(self.function_type) - bound:
            raise VerifyException(
                f"type variable(s) {', '.join(sorted(unbound))} not bound by the "
                f"function's type parameters"
            )
        check_unique_symbol(self, self.sym_name.data)
        from relay_opt.dialects.relay.adt import check_adt_types

        check_adt_types(self, self.function_type)

    def print(self, printer: Printer) -> None:
        print_symbol_head(printer, self.sym_name.data, self.type_param_names)
        _print_params(printer, self.args)
        printer.print_string(" -> ")
        printer.print_attribute(self.ret_type)
        _print_extra_attributes(printer, self)
        printer.print_string(" ")
        printer.print_region(self.body, print_entry_block_args=False)

    @classmethod
    def parse(cls, parser: Parser) -> FuncOp:
        name, type_params = parse_symbol_head(parser)
        params = _parse_params(parser)
        parser.parse_punctuation("->")
        ret = parser.parse_type()
        attributes = parser.parse_optional_attr_dict_with_keyword()
        region = parser.parse_region(params)
        return FuncOp(
            name,
            [p.type for p in params],
            ret,
            type_params,
            region,
            dict(attributes.data) if attributes else None,
        )


@irdl_op_definition
class ClosureOp(IRDLOperation):
    """A function value that may use enclosing values: `%f = relay.fn (%x: T) -> R {...}`.

    With `recursive %self`, the entry block's first argument is the closure
    itself, which is how a `let`-bound local function calls itself.
    """

    name = "relay.fn"

    body = region_def("single_block")
    recursive = opt_prop_def(UnitAttr)
    result = result_def(FunctionType)

    traits = traits_def(RelayCallable(), Pure())

    def __init__(
        self,
        params: Sequence[Attribute],
        ret: Attribute,
        region: Region | None = None,
        recursive: bool = False,
        attributes: dict[str, Attribute] | None = None,
    ):
        ftype = function_type(params, ret)
        if region is None:
            region = Region(Block(arg_types=[ftype, *params] if recursive else params))
        super().__init__(
            result_types=[ftype],
            regions=[region],
            properties={"recursive": UnitAttr()} if recursive else {},
            attributes=attributes or {},
        )

    @property
    def function_type(self) -> FunctionType:
        return self.result.type

    @property
    def ret_type(self) -> Attribute:
        return self.function_type.outputs.data[0]

    @property
    def self_arg(self) -> SSAValue | None:
        return self.body.block.args[0] if self.recursive else None

    @property
    def args(self) -> tuple[SSAValue, ...]:
        block_args = self.body.block.args
        return block_args[1:] if self.recursive else block_args

    def verify_(self) -> None:
        _single_result(self.function_type, "a Relay function")
        if tuple(a.type for a in self.args) != self.function_type.inputs.data:
            raise VerifyException("closure parameter types differ from its function type")
        if self.recursive and self.body.block.args[0].type != self.function_type:
            raise VerifyException("the self argument of a recursive closure must have its type")

    def print(self, printer: Printer) -> None:
        if self.recursive:
            printer.print_string(" recursive ")
            printer.print_operand(self.body.block.args[0])
        printer.print_string(" ")
        _print_params(printer, self.args)
        printer.print_string(" -> ")
        printer.print_attribute(self.ret_type)
        _print_extra_attributes(printer, self)
        printer.print_string(" ")
        printer.print_region(self.body, print_entry_block_args=False)

    @classmethod
    def parse(cls, parser: Parser) -> ClosureOp:
        self_name = None
        if parser.parse_optional_keyword("recursive") is not None:
            self_name = parser.parse_argument(expect_type=False)
        params = _parse_params(parser)
        parser.parse_punctuation("->")
        ret = parser.parse_type()
        ftype = function_type([p.type for p in params], ret)
        attributes = parser.parse_optional_attr_dict_with_keyword()
        block_args = [self_name.resolve(ftype), *params] if self_name else params
        region = parser.parse_region(block_args)
        return ClosureOp(
            [p.type for p in params],
            ret,
            region,
            recursive=self_name is not None,
            attributes=dict(attributes.data) if attributes else None,
        )


@irdl_op_definition
class ReturnOp(IRDLOperation):
    """Ends a function or closure body with its value: `relay.return %v : T`."""

    name = "relay.return"

    value = operand_def()

    traits = traits_def(IsTerminator(), HasParent(FuncOp, ClosureOp))

    assembly_format = "$value attr-dict `:` type($value)"

    def __init__(self, value: SSAValue | Operation):
        super().__init__(operands=[value])

    def verify_(self) -> None:
        parent = self.parent_op()
        assert isinstance(parent, (FuncOp, ClosureOp))
        if not types_compatible(self.value.type, parent.ret_type):
            raise VerifyException(
                f"returns {self.value.type} but the function's result type is {parent.ret_type}"
            )


def _check_signature(
    ftype: FunctionType, args: Sequence[Attribute], result: Attribute, callee: object
) -> None:
    """A monomorphic callee's parameter and result types must fit the call's."""
    for i, (want, got) in enumerate(zip(ftype.inputs, args, strict=True)):
        if not types_compatible(want, got):
            raise VerifyException(f"argument {i} of {callee} must be {want}, got {got}")
    if not types_compatible(ftype.outputs.data[0], result):
        raise VerifyException(f"{callee} returns {ftype.outputs.data[0]}, not {result}")


def _parse_call_type(parser: Parser, nargs: int) -> FunctionType:
    """A call's `(argument types) -> result type`, one argument type per argument."""
    pos = parser.pos
    ftype = parser.parse_type()
    if not isinstance(ftype, FunctionType) or len(ftype.outputs) != 1:
        parser.raise_error("expected `(argument types) -> result type`", pos, parser.pos)
    if len(ftype.inputs) != nargs:
        parser.raise_error(
            f"{nargs} argument(s) but {len(ftype.inputs)} argument type(s)", pos, parser.pos
        )
    return ftype


@irdl_op_definition
class CallOp(IRDLOperation):
    """A direct call of a global function: `relay.call @f(%a, %b) : (A, B) -> R`."""

    name = "relay.call"

    callee = prop_def(SymbolRefAttr)
    arguments = var_operand_def()
    result = result_def()

    def __init__(self, callee: str, args: Sequence[SSAValue | Operation], ret: Attribute):
        super().__init__(
            operands=[list(args)], result_types=[ret], properties={"callee": SymbolRefAttr(callee)}
        )

    # Not the declarative `functional-type(...)`: xDSL's directive prints a function-typed
    # result bare, `() -> (A) -> R`, which reads back as `() -> (A)` and a stray `-> R`.
    # The builtin function type's own printer parenthesizes it: `() -> ((A) -> R)`.
    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_attribute(self.callee)
        printer.print_operands(self.arguments)
        _print_attr_dict(printer, self)
        printer.print_string(" : ")
        printer.print_attribute(function_type(self.arguments.types, self.result.type))

    @classmethod
    def parse(cls, parser: Parser) -> CallOp:
        pos = parser.pos
        callee = parser.parse_attribute()
        if not isinstance(callee, SymbolRefAttr):
            parser.raise_error("expected the callee, a symbol such as @f", pos)
        args = parser.parse_comma_separated_list(
            Parser.Delimiter.PAREN, parser.parse_unresolved_operand
        )
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        ftype = _parse_call_type(parser, len(args))
        op = CallOp(
            callee.string_value(),
            parser.resolve_operands(args, ftype.inputs.data, pos),
            ftype.outputs.data[0],
        )
        op.attributes |= attributes
        return op

    def verify_(self) -> None:
        from relay_opt.dialects.relay.symbols import lookup_function

        func = lookup_function(self, self.callee)
        if func is None:
            raise VerifyException(f"'{self.callee}' does not name a relay.func")
        want = len(func.function_type.inputs)
        if len(self.arguments) != want:
            raise VerifyException(
                f"'{self.callee}' takes {want} argument(s), got {len(self.arguments)}"
            )
        if not func.type_param_names:
            _check_signature(
                func.function_type, self.arguments.types, self.result.type, self.callee
            )


@irdl_op_definition
class CallClosureOp(IRDLOperation):
    """A call of a function value: `relay.call_closure %f(%a) : (A) -> R`."""

    name = "relay.call_closure"

    callee = operand_def()
    arguments = var_operand_def()
    result = result_def()

    def __init__(
        self, callee: SSAValue | Operation, args: Sequence[SSAValue | Operation], ret: Attribute
    ):
        super().__init__(operands=[callee, list(args)], result_types=[ret])

    def verify_(self) -> None:
        ftype = self.callee.type
        if isinstance(ftype, FunctionType):
            if len(ftype.inputs) != len(self.arguments):
                raise VerifyException(
                    f"the callee takes {len(ftype.inputs)} argument(s), got {len(self.arguments)}"
                )
            _check_signature(ftype, self.arguments.types, self.result.type, "the callee")
        elif not isinstance(ftype, (IncompleteType, TypeVarType)):
            raise VerifyException(f"callee of type {ftype} is not a function")

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_operand(self.callee)
        printer.print_operands(self.arguments)
        _print_attr_dict(printer, self)
        printer.print_string(" : ")
        implied = function_type(self.arguments.types, self.result.type)
        printer.print_attribute(implied)
        if self.callee.type != implied:
            printer.print_string(", callee: ")
            printer.print_attribute(self.callee.type)

    @classmethod
    def parse(cls, parser: Parser) -> CallClosureOp:
        callee = parser.parse_unresolved_operand()
        args = parser.parse_comma_separated_list(
            Parser.Delimiter.PAREN, parser.parse_unresolved_operand
        )
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        pos = parser.pos
        ftype = _parse_call_type(parser, len(args))
        # The callee's type is the call's function type unless `, callee: T` says otherwise.
        callee_type: Attribute = ftype
        if parser.parse_optional_punctuation(",") is not None:
            parser.parse_keyword("callee")
            parser.parse_punctuation(":")
            callee_type = parser.parse_type()
        op = CallClosureOp(
            parser.resolve_operand(callee, callee_type),
            parser.resolve_operands(args, ftype.inputs.data, pos),
            ftype.outputs.data[0],
        )
        op.attributes |= attributes
        return op


@irdl_op_definition
class GlobalRefOp(IRDLOperation):
    """A global function as a value: `%f = relay.global_ref @g : (A) -> R`."""

    name = "relay.global_ref"

    callee = prop_def(SymbolRefAttr)
    result = result_def()

    traits = traits_def(Pure())

    assembly_format = "$callee attr-dict `:` type($result)"

    def __init__(self, callee: str, ftype: Attribute):
        super().__init__(result_types=[ftype], properties={"callee": SymbolRefAttr(callee)})

    def verify_(self) -> None:
        from relay_opt.dialects.relay.symbols import lookup_function

        func = lookup_function(self, self.callee)
        if func is None:
            raise VerifyException(f"'{self.callee}' does not name a relay.func")
        if not func.type_param_names and not types_compatible(self.result.type, func.function_type):
            raise VerifyException(
                f"'{self.callee}' has type {func.function_type}, not {self.result.type}"
            )


# ---------------------------------------------------------------------------
# Control flow
# ---------------------------------------------------------------------------


_BOOL_SCALAR = TensorType(IntegerType(1), [])


@irdl_op_definition
class IfOp(IRDLOperation):
    """`%r = relay.if %c : tensor<i1> -> T { ... } else { ... }`; each branch yields a T."""

    name = "relay.if"

    cond = operand_def()
    then_region = region_def("single_block")
    else_region = region_def("single_block")
    result = result_def()

    def __init__(
        self,
        cond: SSAValue | Operation,
        result_type: Attribute,
        then_region: Region | None = None,
        else_region: Region | None = None,
    ):
        super().__init__(
            operands=[cond],
            result_types=[result_type],
            regions=[then_region or Region(Block()), else_region or Region(Block())],
        )

    def verify_(self) -> None:
        # Relay's condition is a bool scalar (TVM unifies it with Tensor[(), bool]).
        t = self.cond.type
        if not isinstance(t, TypeVarType) and not types_compatible(t, _BOOL_SCALAR):
            raise VerifyException(f"the condition must be a bool scalar {_BOOL_SCALAR}, got {t}")

    def print(self, printer: Printer) -> None:
        print_operand_to_result(printer, self, self.cond)
        printer.print_string(" ")
        printer.print_region(self.then_region)
        printer.print_string(" else ")
        printer.print_region(self.else_region)

    @classmethod
    def parse(cls, parser: Parser) -> IfOp:
        cond, result_type, attributes = parse_operand_to_result(parser)
        then_region = parser.parse_region()
        parser.parse_keyword("else")
        else_region = parser.parse_region()
        op = IfOp(cond, result_type, then_region, else_region)
        op.attributes |= attributes
        return op


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends an `if` branch or a `match` clause with its value."""

    name = "relay.yield"

    value = operand_def()

    traits = traits_def(IsTerminator())

    assembly_format = "$value attr-dict `:` type($value)"

    def __init__(self, value: SSAValue | Operation):
        super().__init__(operands=[value])

    def verify_(self) -> None:
        from relay_opt.dialects.relay.adt import MatchOp

        parent = self.parent_op()
        if not isinstance(parent, (IfOp, MatchOp)):
            raise VerifyException("expects parent op 'relay.if' or 'relay.match'")
        if not types_compatible(self.value.type, parent.result.type):
            raise VerifyException(
                f"yields {self.value.type} but '{parent.name}' has type {parent.result.type}"
            )


# ---------------------------------------------------------------------------
# Values: constants, tuples, references
# ---------------------------------------------------------------------------


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """`%c = relay.constant dense<...> : tensor<...>`, or `dense_resource<name>` for weights."""

    name = "relay.constant"

    value = prop_def(DenseIntOrFPElementsAttr | DenseResourceAttr)
    result = result_def()

    traits = traits_def(Pure())

    def __init__(self, value: DenseIntOrFPElementsAttr | DenseResourceAttr):
        super().__init__(properties={"value": value}, result_types=[value.get_type()])

    def verify_(self) -> None:
        if self.result.type != self.value.get_type():
            raise VerifyException(
                f"result type {self.result.type} differs from the value's type "
                f"{self.value.get_type()}"
            )

    def print(self, printer: Printer) -> None:
        _print_attr_dict(printer, self)
        printer.print_string(" ")
        if _has_non_finite(self.value):
            # xDSL 0.74 prints inf/nan as hex literals that it then reads back as integers;
            # MLIR's raw-data form `dense<"0x...">` reads back exactly, here and upstream.
            printer.print_string(f'dense<"0x{self.value.data.data.hex().upper()}"> : ')
            printer.print_attribute(self.value.get_type())
            return
        printer.print_attribute(self.value)

    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        attributes = parser.parse_optional_attr_dict()
        pos = parser.pos
        value = parser.parse_attribute()
        if not isinstance(value, (DenseIntOrFPElementsAttr, DenseResourceAttr)):
            parser.raise_error(
                "expected a dense<...> or dense_resource<...> value", pos, parser.pos
            )
        op = ConstantOp(value)
        op.attributes |= attributes
        return op


def _has_non_finite(value: Attribute) -> TypeGuard[DenseIntOrFPElementsAttr]:
    """A dense float attribute holding an inf or a nan."""
    if not isinstance(value, DenseIntOrFPElementsAttr) or isinstance(
        value.get_element_type(), IntegerType
    ):
        return False
    import numpy as np

    from relay_opt.dialects.relay.constants import numpy_from_dense

    return not bool(np.isfinite(numpy_from_dense(value).astype(np.float64)).all())


def _print_derived_type(
    printer: Printer, operand: Attribute, result: Attribute, derived: Attribute | None
) -> None:
    """`: T` when the result type follows from the operand's, `: T -> R` otherwise."""
    printer.print_string(" : ")
    printer.print_attribute(operand)
    if derived != result:
        printer.print_string(" -> ")
        printer.print_attribute(result)


def _parse_derived_type(parser: Parser) -> tuple[Attribute, Attribute | None]:
    parser.parse_punctuation(":")
    operand = parser.parse_type()
    result = parser.parse_type() if parser.parse_optional_punctuation("->") else None
    return operand, result


def _print_derived_op(
    printer: Printer, op: Operation, operand: SSAValue, derived: Attribute | None
) -> None:
    """` %v {...} : T` (`: T -> R` when the result type is not `derived`): a one-operand op."""
    printer.print_string(" ")
    printer.print_operand(operand)
    _print_attr_dict(printer, op)
    _print_derived_type(printer, operand.type, op.results[0].type, derived)


def _parse_derived_op(parser: Parser, build: Callable[[SSAValue, Attribute | None], _OpT]) -> _OpT:
    """Reads what `_print_derived_op` writes; `build(operand, result type or None)` makes the op."""
    unresolved = parser.parse_unresolved_operand()
    attributes = parser.parse_optional_attr_dict()
    operand_type, result_type = _parse_derived_type(parser)
    op = build(parser.resolve_operand(unresolved, operand_type), result_type)
    op.attributes |= attributes
    return op


def print_operand_to_result(printer: Printer, op: Operation, operand: SSAValue) -> None:
    """` %v {...} : T -> R`: the head of `relay.if` and `relay.match`, before their regions."""
    printer.print_string(" ")
    printer.print_operand(operand)
    _print_attr_dict(printer, op)
    printer.print_string(" : ")
    printer.print_attribute(operand.type)
    printer.print_string(" -> ")
    printer.print_attribute(op.results[0].type)


def parse_operand_to_result(parser: Parser) -> tuple[SSAValue, Attribute, dict[str, Attribute]]:
    """Reads what `print_operand_to_result` writes: the operand, the result type, the attributes."""
    unresolved = parser.parse_unresolved_operand()
    attributes = parser.parse_optional_attr_dict()
    parser.parse_punctuation(":")
    operand = parser.resolve_operand(unresolved, parser.parse_type())
    parser.parse_punctuation("->")
    return operand, parser.parse_type(), attributes


@irdl_op_definition
class TupleOp(IRDLOperation):
    """`%t = relay.tuple %a, %b : tuple<A, B>`; `relay.tuple : tuple<>` is Relay's unit `()`."""

    name = "relay.tuple"

    fields = var_operand_def()
    result = result_def(TupleType)

    traits = traits_def(Pure())

    def __init__(self, fields: Sequence[SSAValue | Operation]):
        values = [SSAValue.get(f) for f in fields]
        super().__init__(operands=[values], result_types=[tuple_type([v.type for v in values])])

    def verify_(self) -> None:
        if self.result.type.types.data != self.fields.types:
            raise VerifyException(f"result type {self.result.type} differs from the fields' types")

    def print(self, printer: Printer) -> None:
        if self.fields:
            printer.print_string(" ")
            printer.print_list(self.fields, printer.print_operand)
        _print_attr_dict(printer, self)
        printer.print_string(" : ")
        printer.print_attribute(self.result.type)

    @classmethod
    def parse(cls, parser: Parser) -> TupleOp:
        unresolved = []
        if (first := parser.parse_optional_unresolved_operand()) is not None:
            unresolved.append(first)
            while parser.parse_optional_punctuation(",") is not None:
                unresolved.append(parser.parse_unresolved_operand())
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        pos = parser.pos
        ttype = parser.parse_type()
        if not isinstance(ttype, TupleType) or len(ttype.types) != len(unresolved):
            parser.raise_error(
                f"expected a tuple type with {len(unresolved)} field(s)", pos, parser.pos
            )
        op = TupleOp(parser.resolve_operands(unresolved, ttype.types.data, pos))
        op.attributes |= attributes
        return op


@irdl_op_definition
class TupleGetOp(IRDLOperation):
    """`%x = relay.tuple_get %t[1] : tuple<A, B>` (Relay's `%t.1`)."""

    name = "relay.tuple_get"

    tuple = operand_def()
    index = prop_def(Attribute)  # IntegerAttr; checked in verify_
    result = result_def()

    traits = traits_def(Pure())

    def __init__(self, tup: SSAValue | Operation, index: int, result_type: Attribute | None = None):
        from xdsl.dialects.builtin import IntegerAttr, i64

        value = SSAValue.get(tup)
        if result_type is None:
            result_type = _tuple_field(value.type, index) or IncompleteType()
        super().__init__(
            operands=[value],
            result_types=[result_type],
            properties={"index": IntegerAttr(index, i64)},
        )

    @property
    def field_index(self) -> int:
        from xdsl.dialects.builtin import IntegerAttr

        assert isinstance(self.index, IntegerAttr)
        return self.index.value.data

    def verify_(self) -> None:
        from xdsl.dialects.builtin import IntegerAttr

        if not isinstance(self.index, IntegerAttr):
            raise VerifyException("index must be an integer")
        ttype = self.tuple.type
        if isinstance(ttype, TupleType):
            if not 0 <= self.field_index < len(ttype.types):
                raise VerifyException(
                    f"index {self.field_index} is out of range for {ttype} "
                    f"({len(ttype.types)} field(s))"
                )
            if not types_compatible(ttype.types.data[self.field_index], self.result.type):
                raise VerifyException(
                    f"result type {self.result.type} differs from field {self.field_index} "
                    f"of {ttype}"
                )
        elif not isinstance(ttype, (IncompleteType, TypeVarType)):
            raise VerifyException(f"operand of type {ttype} is not a tuple")

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_operand(self.tuple)
        printer.print_string(f"[{self.field_index}]")
        _print_attr_dict(printer, self)
        ttype = self.tuple.type
        _print_derived_type(printer, ttype, self.result.type, _tuple_field(ttype, self.field_index))

    @classmethod
    def parse(cls, parser: Parser) -> TupleGetOp:
        unresolved = parser.parse_unresolved_operand()
        parser.parse_punctuation("[")
        index = parser.parse_integer(allow_negative=False, allow_boolean=False)
        parser.parse_punctuation("]")
        attributes = parser.parse_optional_attr_dict()
        operand_type, result_type = _parse_derived_type(parser)
        tup = parser.resolve_operand(unresolved, operand_type)
        op = TupleGetOp(tup, index, result_type)
        op.attributes |= attributes
        return op


def _tuple_field(t: Attribute, index: int) -> Attribute | None:
    if isinstance(t, TupleType) and 0 <= index < len(t.types):
        return t.types.data[index]
    return None


@irdl_op_definition
class RefCreateOp(IRDLOperation):
    """`%r = relay.ref_create %v : T` makes a new mutable cell holding %v."""

    name = "relay.ref_create"

    value = operand_def()
    result = result_def()

    def __init__(self, value: SSAValue | Operation, result_type: Attribute | None = None):
        v = SSAValue.get(value)
        super().__init__(operands=[v], result_types=[result_type or RefType(v.type)])

    def verify_(self) -> None:
        r = self.result.type
        if not isinstance(r, (RefType, IncompleteType)):
            raise VerifyException(f"result type {r} is not a reference type")
        if isinstance(r, RefType) and not types_compatible(r.value_type, self.value.type):
            raise VerifyException(f"puts {self.value.type} into a cell of {r.value_type}")

    def print(self, printer: Printer) -> None:
        _print_derived_op(printer, self, self.value, RefType(self.value.type))

    @classmethod
    def parse(cls, parser: Parser) -> RefCreateOp:
        return _parse_derived_op(parser, RefCreateOp)


def _cell_type(t: Attribute) -> Attribute | None:
    """What a reference of type `t` holds; None while `t` is not known yet."""
    if isinstance(t, RefType):
        return t.value_type
    if not isinstance(t, (IncompleteType, TypeVarType)):
        raise VerifyException(f"operand of type {t} is not a reference")
    return None


@irdl_op_definition
class RefReadOp(IRDLOperation):
    """`%v = relay.ref_read %r : !relay.ref<T>` reads the cell's current value."""

    name = "relay.ref_read"

    ref = operand_def()
    result = result_def()

    def __init__(self, ref: SSAValue | Operation, result_type: Attribute | None = None):
        r = SSAValue.get(ref)
        if result_type is None:
            result_type = r.type.value_type if isinstance(r.type, RefType) else IncompleteType()
        super().__init__(operands=[r], result_types=[result_type])

    def verify_(self) -> None:
        cell = _cell_type(self.ref.type)
        if cell is not None and not types_compatible(cell, self.result.type):
            raise VerifyException(f"result type {self.result.type} differs from the cell's {cell}")

    def print(self, printer: Printer) -> None:
        t = self.ref.type
        _print_derived_op(printer, self, self.ref, t.value_type if isinstance(t, RefType) else None)

    @classmethod
    def parse(cls, parser: Parser) -> RefReadOp:
        return _parse_derived_op(parser, RefReadOp)


@irdl_op_definition
class RefWriteOp(IRDLOperation):
    """`relay.ref_write %r, %v : !relay.ref<T>, T` stores %v; its value is `()`."""

    name = "relay.ref_write"

    ref = operand_def()
    value = operand_def()
    result = result_def(TupleType)

    def __init__(self, ref: SSAValue | Operation, value: SSAValue | Operation):
        super().__init__(operands=[ref, value], result_types=[tuple_type([])])

    def verify_(self) -> None:
        if self.result.type.types.data:
            raise VerifyException("result type must be the unit tuple<>")
        cell = _cell_type(self.ref.type)
        if cell is not None and not types_compatible(cell, self.value.type):
            raise VerifyException(f"stores {self.value.type} into a cell of {cell}")

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_operand(self.ref)
        printer.print_string(", ")
        printer.print_operand(self.value)
        _print_attr_dict(printer, self)
        printer.print_string(" : ")
        printer.print_attribute(self.ref.type)
        printer.print_string(", ")
        printer.print_attribute(self.value.type)

    @classmethod
    def parse(cls, parser: Parser) -> RefWriteOp:
        r = parser.parse_unresolved_operand()
        parser.parse_punctuation(",")
        v = parser.parse_unresolved_operand()
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        rt = parser.parse_type()
        parser.parse_punctuation(",")
        vt = parser.parse_type()
        op = RefWriteOp(parser.resolve_operand(r, rt), parser.resolve_operand(v, vt))
        op.attributes |= attributes
        return op


# ---------------------------------------------------------------------------
# State of a loaded module
# ---------------------------------------------------------------------------

COUNT_TYPE = TensorType(IntegerType(64, Signedness.UNSIGNED), [])


@irdl_op_definition
class CallCountOp(IRDLOperation):
    """`%n = relay.call_count : tensor<ui64>` is how many times this op ran before in this
    loaded module (0 on its first run): the state behind per-call random draws. Each op
    counts on its own; the count lives with the compiled code (a global) or, in the
    interpreter, with the module, and starts at 0 when the module is loaded or compiled."""

    name = "relay.call_count"

    result = result_def(COUNT_TYPE)

    assembly_format = "attr-dict `:` type($result)"

    def __init__(self) -> None:
        super().__init__(result_types=[COUNT_TYPE])


__all__ = [
    "CallClosureOp",
    "CallCountOp",
    "CallOp",
    "ClosureOp",
    "ConstantOp",
    "FuncOp",
    "GlobalRefOp",
    "IfOp",
    "RefCreateOp",
    "RefReadOp",
    "RefWriteOp",
    "ReturnOp",
    "TupleGetOp",
    "TupleOp",
    "YieldOp",
]
