"""Operator attributes: Relay's `k=v` call attributes as MLIR properties.

Each operator declares its attributes as `AttrSpec`s (name, kind, Relay's
default). The kind fixes one MLIR encoding, so the generic form is plain
builtin attributes, while the custom form spells values as Relay does:

    kind         Python value        MLIR property (generic form)
    INT          3                   3 : i64
    FLOAT        1e-05               1.000000e-05 : f64
    BOOL         True                true
    STR / DTYPE  "NCHW"              "NCHW"
    INTS         [1, 1]              array<i64: 1, 1>
    FLOATS       [0.5]               array<f64: 0.5>
    INT_LISTS    [[0, 0], [1, 1]]    [array<i64: 0, 0>, array<i64: 1, 1>]
    STRS         ["a", "b"]          ["a", "b"]
    INT_OR_INTS  2 or [1, 3]         2 : i64 or array<i64: 1, 3>

`None` (Relay's null) is an absent property.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from xdsl.dialects.builtin import (
    ArrayAttr,
    BoolAttr,
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    f64,
    i64,
)
from xdsl.ir import Attribute
from xdsl.parser import Parser

from relay_opt.dialects.relay.types import DTYPES

AttrValue = Any
"""A Python attribute value: int, float, bool, str, list of those, nested lists, or None."""


class AttrKind(Enum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR = "str"
    DTYPE = "dtype"
    INTS = "ints"
    FLOATS = "floats"
    INT_LISTS = "int lists"
    INT_OR_INTS = "int or ints"
    STRS = "strs"


class AttrError(ValueError):
    pass


@dataclass(frozen=True)
class AttrSpec:
    name: str
    kind: AttrKind
    default: AttrValue = None
    choices: tuple[str, ...] | None = None
    """For STR: the accepted values (None: any string)."""

    # -- Python value -> MLIR attribute --------------------------------------------------

    def normalize(self, value: AttrValue) -> AttrValue:
        """Check a Python value against the kind; returns the canonical Python value."""
        if value is None:
            return None
        k = self.kind
        try:
            if k is AttrKind.INT:
                return _as_int(value)
            if k is AttrKind.FLOAT:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise AttrError
                return float(value)
            if k is AttrKind.BOOL:
                if isinstance(value, bool):
                    return value
                if isinstance(value, int) and value in (0, 1):
                    return bool(value)
                raise AttrError
            if k in (AttrKind.STR, AttrKind.DTYPE):
                if not isinstance(value, str):
                    raise AttrError
                if k is AttrKind.DTYPE and value not in DTYPES and value != "":
                    raise AttrError(f"unknown dtype '{value}'")
                if self.choices is not None and value not in self.choices:
                    raise AttrError(f"expected one of {', '.join(map(repr, self.choices))}")
                return value
            if k is AttrKind.INTS:
                # Relay accepts a lone integer where a list is expected (`axis=1`).
                if isinstance(value, int) and not isinstance(value, bool):
                    return [value]
                return [_as_int(v) for v in _as_list(value)]
            if k is AttrKind.FLOATS:
                return [float(_as_number(v)) for v in _as_list(value)]
            if k is AttrKind.INT_LISTS:
                return [[_as_int(v) for v in _as_list(row)] for row in _as_list(value)]
            if k is AttrKind.INT_OR_INTS:
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
                return [_as_int(v) for v in _as_list(value)]
            if k is AttrKind.STRS:
                return [v if isinstance(v, str) else _not_str() for v in _as_list(value)]
        except AttrError as e:
            detail = f": {e}" if str(e) else ""
            raise AttrError(
                f"attribute '{self.name}' expects {_KIND_WORDS[k]}, "
                f"got {format_value(value)}{detail}"
            ) from None
        raise AssertionError(k)

    def to_attribute(self, value: AttrValue) -> Attribute | None:
        value = self.normalize(value)
        if value is None:
            return None
        k = self.kind
        if k is AttrKind.INT or (k is AttrKind.INT_OR_INTS and isinstance(value, int)):
            return IntegerAttr(value, i64)
        if k is AttrKind.FLOAT:
            return FloatAttr(value, f64)
        if k is AttrKind.BOOL:
            return BoolAttr.from_bool(value)
        if k in (AttrKind.STR, AttrKind.DTYPE):
            return StringAttr(value)
        if k in (AttrKind.INTS, AttrKind.INT_OR_INTS):
            return DenseArrayBase.from_list(i64, value)
        if k is AttrKind.FLOATS:
            return DenseArrayBase.from_list(f64, value)
        if k is AttrKind.INT_LISTS:
            return ArrayAttr([DenseArrayBase.from_list(i64, row) for row in value])
        if k is AttrKind.STRS:
            return ArrayAttr([StringAttr(v) for v in value])
        raise AssertionError(k)

    # -- MLIR attribute -> Python value --------------------------------------------------

    def from_attribute(self, attr: Attribute | None) -> AttrValue:
        """The Python value of a stored property; raises AttrError when it has the wrong form."""
        if attr is None:
            return None
        k = self.kind
        if k is AttrKind.BOOL and isinstance(attr, IntegerAttr):
            if isinstance(attr.type, IntegerType) and attr.type.width.data == 1:
                return bool(attr.value.data)
        elif (k in (AttrKind.INT, AttrKind.INT_OR_INTS) and isinstance(attr, IntegerAttr)) or (
            k is AttrKind.FLOAT and isinstance(attr, FloatAttr)
        ):
            return attr.value.data
        elif k in (AttrKind.STR, AttrKind.DTYPE) and isinstance(attr, StringAttr):
            return self.normalize(attr.data)
        elif k in (AttrKind.INTS, AttrKind.INT_OR_INTS) and isinstance(attr, DenseArrayBase):
            if attr.elt_type == i64:
                return list(attr.get_values())
        elif k is AttrKind.FLOATS and isinstance(attr, DenseArrayBase):
            if attr.elt_type == f64:
                return list(attr.get_values())
        elif k is AttrKind.INT_LISTS and isinstance(attr, ArrayAttr):
            rows: list[list[int]] = []
            for row in attr:
                if not isinstance(row, DenseArrayBase) or row.elt_type != i64:
                    break
                rows.append(list(row.get_values()))  # pyright: ignore
            else:
                return rows
        elif (
            k is AttrKind.STRS
            and isinstance(attr, ArrayAttr)
            and all(isinstance(v, StringAttr) for v in attr)
        ):
            return [v.data for v in attr]  # pyright: ignore[reportAttributeAccessIssue]
        raise AttrError(f"attribute '{self.name}' expects {_KIND_WORDS[k]}, got {attr}")


_KIND_WORDS = {
    AttrKind.INT: "an integer",
    AttrKind.FLOAT: "a number",
    AttrKind.BOOL: "a boolean",
    AttrKind.STR: "a string",
    AttrKind.DTYPE: "a dtype name",
    AttrKind.INTS: "a list of integers",
    AttrKind.FLOATS: "a list of numbers",
    AttrKind.INT_LISTS: "a list of integer lists",
    AttrKind.INT_OR_INTS: "an integer or a list of integers",
    AttrKind.STRS: "a list of strings",
}


def _as_int(v: AttrValue) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise AttrError


def _not_str() -> str:
    raise AttrError


def _as_number(v: AttrValue) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    raise AttrError


def _as_list(v: AttrValue) -> Sequence[AttrValue]:
    if isinstance(v, (list, tuple)):
        return v
    raise AttrError


class Attrs(Mapping[str, AttrValue]):
    """An operator call's attributes as Python values, every default filled in.

    Read-only; `attrs.axis` and `attrs["axis"]` both work.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, AttrValue]):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> AttrValue:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> AttrValue:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Attrs({self._values!r})"


# ---------------------------------------------------------------------------
# Relay-style spelling of attribute values in the custom assembly format
# ---------------------------------------------------------------------------


def format_value(value: AttrValue) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if math.isnan(value):
            return "nan"
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def quote(text: str) -> str:
    """`text` as an MLIR string literal that parses back to it: `\\"`, `\\\\`, `\\n`, `\\t`
    and the other control characters as `\\XX`; the rest (non-ASCII too) as it is."""
    return (
        '"'
        + "".join(
            _ESCAPES.get(c) or (f"\\{ord(c):02X}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
            for c in text
        )
        + '"'
    )


def parse_value(parser: Parser) -> AttrValue:
    """Parse one value: integer, float, true/false, string, none, inf/nan, or a `[...]` list."""
    if parser.parse_optional_punctuation("[") is not None:
        items: list[AttrValue] = []
        if parser.parse_optional_punctuation("]") is None:
            items.append(parse_value(parser))
            while parser.parse_optional_punctuation(",") is not None:
                items.append(parse_value(parser))
            parser.parse_punctuation("]", " to close an attribute list")
        return items
    if (s := parser.parse_optional_str_literal()) is not None:
        return s
    pos = parser.pos
    if (raw := parser.parse_optional_bytes_literal()) is not None:
        # xDSL's lexer calls a literal with non-ASCII text and escapes a bytes literal
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            parser.raise_error("a string attribute must be UTF-8 text", pos, parser.pos)
    if (b := parser.parse_optional_boolean()) is not None:
        return b
    negative = parser.parse_optional_punctuation("-") is not None
    if (kw := parser.parse_optional_keyword_in(("none", "inf", "nan"))) is not None:
        if kw == "none" and not negative:
            return None
        if kw != "none":
            v = math.inf if kw == "inf" else math.nan
            return -v if negative else v
    if (n := parser.parse_optional_number()) is not None:
        return -n if negative else n
    parser.raise_error("expected an attribute value (number, bool, string, none or list)")
