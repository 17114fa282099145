"""Algebraic data types: definitions, constructor calls and `match`.

    relay.type @List[A] {
      relay.constructor @Cons(!relay.tvar<A>, !relay.adt<@List, !relay.tvar<A>>)
      relay.constructor @Nil
    }
    %l = relay.construct @List::@Cons(%x, %xs)
           : (tensor<f32>, !relay.adt<@List, tensor<f32>>) -> !relay.adt<@List, tensor<f32>>
    %r = relay.match %l : !relay.adt<@List, tensor<f32>> -> tensor<f32> {
      case @List::@Cons(%h : tensor<f32>, _) {
        relay.yield %h : tensor<f32>
      }
      case @List::@Nil {
        ...
      }
    }

`relay.match partial` is Relay's `match?` (clauses need not cover every value).
A constructor's tag is its position in its definition.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    ArrayAttr,
    StringAttr,
    SymbolNameConstraint,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
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
    var_region_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import HasParent, NoTerminator, Pure, SymbolOpInterface, SymbolTable
from xdsl.utils.exceptions import VerifyException

from relay_opt.dialects.relay.core import (
    parse_operand_to_result,
    parse_symbol_head,
    print_operand_to_result,
    print_symbol_head,
)
from relay_opt.dialects.relay.patterns import (
    PATTERN_TYPES,
    ConstructorPattern,
    TuplePattern,
    VarPattern,
    WildcardPattern,
    pattern_var_count,
)
from relay_opt.dialects.relay.types import (
    ADTType,
    IncompleteType,
    TypeVarType,
    substitute_type_vars,
)


@irdl_op_definition
class TypeDefOp(IRDLOperation):
    """An ADT definition with its constructors; `extern` marks Relay's `extern type`."""

    name = "relay.type"

    sym_name = prop_def(SymbolNameConstraint())
    type_params = opt_prop_def(ArrayAttr[StringAttr])
    extern = opt_prop_def(UnitAttr)
    body = region_def("single_block")

    traits = traits_def(SymbolOpInterface(), SymbolTable(), NoTerminator())

    def __init__(
        self,
        name: str,
        type_params: Sequence[str] = (),
        extern: bool = False,
        constructors: Sequence[ConstructorOp] = (),
    ):
        props: dict[str, Attribute] = {"sym_name": StringAttr(name)}
        if type_params:
            props["type_params"] = ArrayAttr(StringAttr(p) for p in type_params)
        if extern:
            props["extern"] = UnitAttr()
        super().__init__(properties=props, regions=[Region(Block(constructors))])

    @property
    def type_param_names(self) -> tuple[str, ...]:
        return tuple(p.data for p in self.type_params) if self.type_params else ()

    @property
    def constructors(self) -> list[ConstructorOp]:
        return [op for op in self.body.block.ops if isinstance(op, ConstructorOp)]

    def constructor(self, name: str) -> ConstructorOp | None:
        for c in self.constructors:
            if c.sym_name.data == name:
                return c
        return None

    def instance_type(self) -> ADTType:
        """`List[A]` with this definition's own type variables."""
        return ADTType(self.sym_name.data, [TypeVarType(p) for p in self.type_param_names])

    def verify_(self) -> None:
        from relay_opt.dialects.relay.core import _type_vars, check_unique_symbol

        check_unique_symbol(self, self.sym_name.data)
        if len(set(self.type_param_names)) != len(self.type_param_names):
            raise VerifyException("duplicate type parameter")
        for op in self.body.block.ops:
            if not isinstance(op, ConstructorOp):
                raise VerifyException(f"'{op.name}' is not allowed in a type definition")
        if self.extern and self.constructors:
            raise VerifyException("an extern type has no constructors")
        bound = set(self.type_param_names)
        for c in self.constructors:
            for t in c.inputs:
                if unbound := _type_vars(t) - bound:
                    raise VerifyException(
                        f"constructor @{c.sym_name.data} uses unbound type variable(s) "
                        f"{', '.join(sorted(unbound))}"
                    )
            check_adt_types(self, c.inputs)

    def print(self, printer: Printer) -> None:
        print_symbol_head(printer, self.sym_name.data, self.type_param_names)
        if self.extern:
            printer.print_string(" extern")
        printer.print_op_attributes(self.attributes, print_keyword=True)
        if self.extern and not self.body.block.ops:
            return
        printer.print_string(" ")
        printer.print_region(self.body, print_empty_block=False)

    @classmethod
    def parse(cls, parser: Parser) -> TypeDefOp:
        name, type_params = parse_symbol_head(parser)
        extern = parser.parse_optional_keyword("extern") is not None
        attributes = parser.parse_optional_attr_dict_with_keyword()
        ops: list[Operation] = []
        # An extern type has no body; one that has is invalid, and read so the verifier says so.
        region = parser.parse_optional_region() if extern else parser.parse_region()
        if region is not None and region.blocks:
            ops = list(region.block.ops)
            for o in ops:
                o.detach()
        op = TypeDefOp(name, type_params, extern, constructors=ops)  # pyright: ignore[reportArgumentType]
        if attributes is not None:
            op.attributes |= attributes.data
        return op


@irdl_op_definition
class ConstructorOp(IRDLOperation):
    """A constructor of the enclosing ADT: `relay.constructor @Cons(A, List[A])`."""

    name = "relay.constructor"

    sym_name = prop_def(SymbolNameConstraint())
    inputs = prop_def(ArrayAttr[Attribute])

    traits = traits_def(SymbolOpInterface(), HasParent(TypeDefOp))

    def __init__(self, name: str, inputs: Sequence[Attribute] = ()):
        super().__init__(properties={"sym_name": StringAttr(name), "inputs": ArrayAttr(inputs)})

    @property
    def type_def(self) -> TypeDefOp:
        parent = self.parent_op()
        assert isinstance(parent, TypeDefOp)
        return parent

    @property
    def tag(self) -> int:
        return self.type_def.constructors.index(self)

    @property
    def symbol(self) -> SymbolRefAttr:
        return SymbolRefAttr(self.type_def.sym_name.data, [self.sym_name.data])

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_symbol_name(self.sym_name.data)
        if self.inputs.data:
            printer.print_string("(")
            printer.print_list(self.inputs, printer.print_attribute)
            printer.print_string(")")
        printer.print_op_attributes(self.attributes)

    @classmethod
    def parse(cls, parser: Parser) -> ConstructorOp:
        name = parser.parse_symbol_name().data
        inputs: list[Attribute] = []
        if parser.parse_optional_punctuation("(") is not None:
            inputs.append(parser.parse_type())
            while parser.parse_optional_punctuation(",") is not None:
                inputs.append(parser.parse_type())
            parser.parse_punctuation(")")
        op = ConstructorOp(name, inputs)
        op.attributes |= parser.parse_optional_attr_dict()
        return op


@irdl_op_definition
class ConstructOp(IRDLOperation):
    """A constructor call, building an ADT value: `relay.construct @List::@Nil() : () -> T`."""

    name = "relay.construct"

    constructor = prop_def(SymbolRefAttr)
    fields = var_operand_def()
    result = result_def()

    traits = traits_def(Pure())

    assembly_format = "$constructor `(` $fields `)` attr-dict `:` functional-type($fields, $result)"

    def __init__(
        self,
        constructor: SymbolRefAttr,
        fields: Sequence[SSAValue | Operation],
        result_type: Attribute,
    ):
        super().__init__(
            operands=[list(fields)],
            result_types=[result_type],
            properties={"constructor": constructor},
        )

    def verify_(self) -> None:
        ctor = _checked_constructor(self, self.constructor, len(self.fields), "got")
        t = self.result.type
        adt = ctor.type_def.sym_name.data
        if not isinstance(t, (ADTType, IncompleteType)) or (
            isinstance(t, ADTType) and t.adt_name != adt
        ):
            raise VerifyException(
                f"constructor {self.constructor} builds a !relay.adt<@{adt}, ...>, not {t}"
            )
        check_adt_types(self, t)
        if not isinstance(t, ADTType):
            return
        # A tensor field of the wrong shape: infer-types says the same, but the lowering of
        # a fully typed module (no infer-types) built a cast that did not verify.
        binding = dict(zip(ctor.type_def.type_param_names, t.args, strict=False))
        for i, (field_, declared) in enumerate(zip(self.fields, ctor.inputs, strict=True)):
            want = substitute_type_vars(declared, binding)
            if _tensors_differ(want, field_.type):
                raise VerifyException(
                    f"field {i} of constructor {self.constructor} must be {want}, got {field_.type}"
                )


def _tensors_differ(a: Attribute, b: Attribute) -> bool:
    """Two tensor types of different dtypes, ranks or static dims (`?` matches any)."""
    if not isinstance(a, TensorType) or not isinstance(b, TensorType):
        return False
    if a.element_type != b.element_type or len(a.get_shape()) != len(b.get_shape()):
        return True
    return any(
        x != y and x >= 0 and y >= 0 for x, y in zip(a.get_shape(), b.get_shape(), strict=True)
    )


@irdl_op_definition
class MatchOp(IRDLOperation):
    """Pattern matching on a value; one region per clause, in order."""

    name = "relay.match"

    data = operand_def()
    patterns = prop_def(ArrayAttr[Attribute])
    partial = opt_prop_def(UnitAttr)
    clauses = var_region_def("single_block")
    result = result_def()

    def __init__(
        self,
        data: SSAValue | Operation,
        result_type: Attribute,
        patterns: Sequence[Attribute],
        clauses: Sequence[Region],
        partial: bool = False,
    ):
        props: dict[str, Attribute] = {"patterns": ArrayAttr(patterns)}
        if partial:
            props["partial"] = UnitAttr()
        super().__init__(
            operands=[data], result_types=[result_type], properties=props, regions=[list(clauses)]
        )

    def verify_(self) -> None:
        if len(self.patterns) != len(self.clauses):
            raise VerifyException(
                f"{len(self.patterns)} pattern(s) but {len(self.clauses)} clause region(s)"
            )
        if not self.clauses:
            raise VerifyException("a match needs at least one clause")
        for i, (p, region) in enumerate(zip(self.patterns, self.clauses, strict=True)):
            _verify_pattern(self, p)
            n = pattern_var_count(p)
            if len(region.block.args) != n:
                raise VerifyException(
                    f"clause {i} binds {n} variable(s) but its region has "
                    f"{len(region.block.args)} argument(s)"
                )

    def print(self, printer: Printer) -> None:
        if self.partial:
            printer.print_string(" partial")
        print_operand_to_result(printer, self, self.data)
        printer.print_string(" {")
        with printer.indented():
            for p, region in zip(self.patterns, self.clauses, strict=True):
                printer.print_string("\n")
                printer.print_string("case ")
                args = iter(region.block.args)
                _print_pattern(printer, p, args)
                printer.print_string(" ")
                printer.print_region(region, print_entry_block_args=False)
        printer.print_string("\n}")

    @classmethod
    def parse(cls, parser: Parser) -> MatchOp:
        partial = parser.parse_optional_keyword("partial") is not None
        data, result_type, attributes = parse_operand_to_result(parser)
        parser.parse_punctuation("{")
        patterns: list[Attribute] = []
        regions: list[Region] = []
        while parser.parse_optional_keyword("case") is not None:
            bound: list[Parser.Argument] = []
            patterns.append(_parse_pattern(parser, bound))
            regions.append(parser.parse_region(bound))
        parser.parse_punctuation("}", " to end the match clauses (each starts with `case`)")
        op = MatchOp(data, result_type, patterns, regions, partial)
        op.attributes |= attributes
        return op


def check_adt_types(op: Operation, t: Attribute) -> None:
    """Every `!relay.adt<@T, ...>` in `t` names a relay.type of the module, with its arity."""
    from relay_opt.dialects.relay.core import _types_in
    from relay_opt.dialects.relay.symbols import enclosing_module, lookup_type_def

    if enclosing_module(op) is None:
        return
    for adt in _types_in(t):
        if not isinstance(adt, ADTType):
            continue
        type_def = lookup_type_def(op, adt.adt_name)
        if type_def is None:
            raise VerifyException(f"'@{adt.adt_name}' in {adt} does not name a relay.type")
        want = len(type_def.type_param_names)
        if len(adt.args) != want:
            raise VerifyException(
                f"{adt} has {len(adt.args)} type argument(s) but @{adt.adt_name} takes {want}"
            )


def _checked_constructor(op: Operation, ref: SymbolRefAttr, fields: int, has: str):  # noqa: ANN202
    """The constructor `ref` names, given `fields` fields (`has` says by whom: "got", ...).

    Its ConstructorOp type is inferred from `lookup_constructor`: the type checker reads
    this file both as `dialects.relay.adt` and `relay_opt.dialects.relay.adt`.
    """
    from relay_opt.dialects.relay.symbols import lookup_constructor

    ctor = lookup_constructor(op, ref)
    if ctor is None:
        raise VerifyException(f"'{ref}' does not name a constructor")
    if fields != len(ctor.inputs):
        raise VerifyException(
            f"constructor {ref} takes {len(ctor.inputs)} field(s), {has} {fields}"
        )
    return ctor


def _verify_pattern(op: Operation, p: Attribute) -> None:
    if not isinstance(p, PATTERN_TYPES):
        raise VerifyException(f"{p} is not a pattern")
    if isinstance(p, ConstructorPattern):
        _checked_constructor(op, p.constructor, len(p.fields), "the pattern has")
    if isinstance(p, (ConstructorPattern, TuplePattern)):
        for f in p.fields:
            _verify_pattern(op, f)


def _print_pattern(printer: Printer, p: Attribute, args) -> None:  # noqa: ANN001
    if isinstance(p, WildcardPattern):
        printer.print_string("_")
    elif isinstance(p, VarPattern):
        printer.print_block_argument(next(args))
    elif isinstance(p, ConstructorPattern):
        printer.print_attribute(p.constructor)
        if p.fields.data:
            _print_pattern_fields(printer, p.fields, args)
    elif isinstance(p, TuplePattern):
        _print_pattern_fields(printer, p.fields, args)
    else:
        printer.print_attribute(p)


def _print_pattern_fields(printer: Printer, fields: ArrayAttr[Attribute], args) -> None:  # noqa: ANN001
    """`(p, ...)`."""
    printer.print_string("(")
    printer.print_list(fields, lambda f: _print_pattern(printer, f, args))
    printer.print_string(")")


def _parse_pattern(parser: Parser, bound: list[Parser.Argument]) -> Attribute:
    if parser.parse_optional_keyword("_") is not None:
        return WildcardPattern()
    if (arg := parser.parse_optional_argument(expect_type=True)) is not None:
        bound.append(arg)
        return VarPattern()
    if parser.parse_optional_punctuation("(") is not None:
        return TuplePattern(_parse_pattern_fields(parser, bound))
    ctor = parser._parse_optional_symref_attr()  # pyright: ignore[reportPrivateUsage]
    if ctor is None:
        parser.raise_error("expected a pattern: `_`, `%x : T`, `(p, ...)` or `@T::@Ctor(p, ...)`")
    # `@T::@Ctor`, `@T::@Ctor()` and `@T::@Ctor(p, ...)`.
    fields = (
        _parse_pattern_fields(parser, bound)
        if parser.parse_optional_punctuation("(") is not None
        else []
    )
    return ConstructorPattern(ctor, fields)


def _parse_pattern_fields(parser: Parser, bound: list[Parser.Argument]) -> list[Attribute]:
    """`p, ...)` or `)`, after a pattern's `(`."""
    fields: list[Attribute] = []
    if parser.parse_optional_punctuation(")") is None:
        fields.append(_parse_pattern(parser, bound))
        while parser.parse_optional_punctuation(",") is not None:
            fields.append(_parse_pattern(parser, bound))
        parser.parse_punctuation(")")
    return fields
