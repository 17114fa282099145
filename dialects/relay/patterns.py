"""Patterns of `relay.match` clauses, as attributes.

    _                          #relay.pwild
    %x : T                     #relay.pvar          (binds the next block argument)
    @List::@Cons(p, q)         #relay.pctor<@List::@Cons, p, q>
    (p, q)                     #relay.ptuple<p, q>

A clause's region has one block argument per `pvar`, in left-to-right order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from xdsl.dialects.builtin import ArrayAttr, SymbolRefAttr
from xdsl.ir import Attribute, ParametrizedAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer


@irdl_attr_definition
class WildcardPattern(ParametrizedAttribute):
    name = "relay.pwild"


@irdl_attr_definition
class VarPattern(ParametrizedAttribute):
    name = "relay.pvar"


@irdl_attr_definition
class ConstructorPattern(ParametrizedAttribute):
    name = "relay.pctor"

    constructor: SymbolRefAttr
    fields: ArrayAttr[Attribute]

    def __init__(self, constructor: SymbolRefAttr, fields: Sequence[Attribute] = ()):
        super().__init__(constructor, ArrayAttr(fields))

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_list((self.constructor, *self.fields), printer.print_attribute)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> tuple[SymbolRefAttr, ArrayAttr[Attribute]]:
        with parser.in_angle_brackets():
            ctor = parser.parse_attribute()
            if not isinstance(ctor, SymbolRefAttr):
                parser.raise_error("expected a constructor symbol such as @List::@Cons")
            fields: list[Attribute] = []
            while parser.parse_optional_punctuation(",") is not None:
                fields.append(parser.parse_attribute())
        return ctor, ArrayAttr(fields)


@irdl_attr_definition
class TuplePattern(ParametrizedAttribute):
    name = "relay.ptuple"

    fields: ArrayAttr[Attribute]

    def __init__(self, fields: Sequence[Attribute] = ()):
        super().__init__(ArrayAttr(fields))

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_list(self.fields, printer.print_attribute)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> tuple[ArrayAttr[Attribute]]:
        fields: list[Attribute] = []
        with parser.in_angle_brackets():
            if (first := parser.parse_optional_attribute()) is not None:
                fields.append(first)
                while parser.parse_optional_punctuation(",") is not None:
                    fields.append(parser.parse_attribute())
        return (ArrayAttr(fields),)


Pattern = WildcardPattern | VarPattern | ConstructorPattern | TuplePattern
PATTERN_TYPES = (WildcardPattern, VarPattern, ConstructorPattern, TuplePattern)


def pattern_var_count(p: Attribute) -> int:
    if isinstance(p, VarPattern):
        return 1
    if isinstance(p, (ConstructorPattern, TuplePattern)):
        return sum(pattern_var_count(f) for f in p.fields)
    return 0


def walk_patterns(p: Attribute) -> Iterator[Attribute]:
    """Pre-order walk, left to right (the order pattern variables bind in)."""
    yield p
    if isinstance(p, (ConstructorPattern, TuplePattern)):
        for f in p.fields:
            yield from walk_patterns(f)
