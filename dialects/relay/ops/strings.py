"""String operators: the operators that take or give string tensors (docs/strings.md).

A string tensor's element type is `!relay.string` (dtype `string`); its numpy value is an
array of dtype object holding Python str (numpy_dtypes.string_array converts at the edges).
Every operator here is declared with `strings=True`: the other operators refuse string
tensors, and the walks over numeric operators (registry.all_ops) leave these out. They are
OPAQUE (fold-constant leaves them to run; the ONNX importer evaluates them on constants).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from xdsl.ir import Attribute

from relay_opt.dialects.relay import regex
from relay_opt.dialects.relay.attributes import AttrKind, Attrs, AttrSpec
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.ops.common import broadcast_shapes, expect_tensor, result
from relay_opt.dialects.relay.registry import (
    OpDef,
    OpPattern,
    RelayOperatorOp,
    TypeRelationError,
    register,
)
from relay_opt.dialects.relay.types import DTYPES, DYNAMIC, STRING, tuple_type


def _strings(t: Attribute, what: str) -> tuple[int, ...]:
    shape, dtype = expect_tensor(t, what)
    if dtype != STRING:
        raise TypeRelationError(f"{what} must be a string tensor, got {dtype}")
    return shape


def _texts(values: Sequence[object], shape: Sequence[int]) -> np.ndarray:
    """A string tensor's array from Python str values (np.array would make 'U' or nest)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out.reshape(shape)


# -- constants --------------------------------------------------------------------------------


def _constant_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape = attrs.shape
    if any(d < 0 for d in shape):
        raise TypeRelationError(f"shape {shape} has a negative size")
    if len(attrs.texts) != math.prod(shape):
        raise TypeRelationError(f"{len(attrs.texts)} values for shape {shape}")
    return result(shape, STRING)


@register(
    OpDef(
        "strings.constant",
        (),
        (AttrSpec("texts", AttrKind.STRS, []), AttrSpec("shape", AttrKind.INTS, [])),
        _constant_rel,
        OpPattern.OPAQUE,
        lambda attrs: _texts(attrs.texts, attrs.shape),
        "a string tensor written out: its values in row-major order and its shape",
        strings=True,
    )
)
class StringConstant(RelayOperatorOp): ...


# -- elementwise -------------------------------------------------------------------------------


def _binary_rel(out_dtype: str):  # noqa: ANN202
    def relation(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
        a, b = _strings(args[0], "lhs"), _strings(args[1], "rhs")
        return result(broadcast_shapes(a, b), out_dtype)

    return relation


def _concat(attrs: Attrs, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(a, b)
    return _texts([x + y for x, y in zip(a.reshape(-1), b.reshape(-1), strict=True)], a.shape)


@register(
    OpDef(
        "strings.equal",
        ("lhs", "rhs"),
        (),
        _binary_rel("bool"),
        OpPattern.OPAQUE,
        lambda attrs, a, b: np.equal(a, b).astype(bool),
        "elementwise string equality (the same code points), broadcasting",
        strings=True,
    )
)
class StringEqual(RelayOperatorOp): ...


@register(
    OpDef(
        "strings.concat",
        ("lhs", "rhs"),
        (),
        _binary_rel(STRING),
        OpPattern.OPAQUE,
        _concat,
        "elementwise concatenation, broadcasting",
        strings=True,
    )
)
class StringConcat(RelayOperatorOp): ...


# -- split -------------------------------------------------------------------------------------


def _split_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape = _strings(args[0], "data")
    if attrs.maxsplit is not None and attrs.maxsplit < 0:
        raise TypeRelationError(f"maxsplit must not be negative, got {attrs.maxsplit}")
    return tuple_type([result((*shape, DYNAMIC), STRING), result(shape, "int64")])


def _split(attrs: Attrs, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Python's str.split: a delimiter splits at each occurrence; none ("") splits at runs of
    whitespace, ignoring leading and trailing ones. At most maxsplit splits."""
    sep = attrs.delimiter or None
    most = -1 if attrs.maxsplit is None else attrs.maxsplit
    parts = [s.split(sep, most) for s in x.reshape(-1)]
    width = max((len(p) for p in parts), default=0)
    padded = [p + [""] * (width - len(p)) for p in parts]
    words = _texts([w for p in padded for w in p], (*x.shape, width))
    return words, np.array([len(p) for p in parts], dtype=np.int64).reshape(x.shape)


@register(
    OpDef(
        "strings.split",
        ("data",),
        (AttrSpec("delimiter", AttrKind.STR, ""), AttrSpec("maxsplit", AttrKind.INT)),
        _split_rel,
        OpPattern.OPAQUE,
        _split,
        "each string's substrings on a new last axis, padded with empty strings to the "
        "longest, and their counts",
        sized_by_values=True,
        strings=True,
    )
)
class StringSplit(RelayOperatorOp): ...


# -- normalize ---------------------------------------------------------------------------------


def _normalize_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape = _strings(args[0], "data")
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[0] not in (1, DYNAMIC)):
        raise TypeRelationError(f"data must have shape (C) or (1, C), got {list(shape)}")
    if not attrs.stopwords:
        return result(shape, STRING)
    return result((*shape[:-1], DYNAMIC), STRING)


def _normalize(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    """Drops the elements that are stopwords (compared lowercased unless is_case_sensitive),
    then changes the case of the rest (Python's str.lower/upper: Unicode's default case
    mapping). When every element is dropped the result is one empty string."""
    if x.ndim == 2 and x.shape[0] != 1:
        raise ValueError(f"data must have shape (C) or (1, C), got {list(x.shape)}")
    words = list(x.reshape(-1))
    if attrs.stopwords:
        if attrs.is_case_sensitive:
            stops = set(attrs.stopwords)
            words = [w for w in words if w not in stops]
        else:
            stops = {s.lower() for s in attrs.stopwords}
            words = [w for w in words if w.lower() not in stops]
        words = words or [""]
    if attrs.case_change_action == "LOWER":
        words = [w.lower() for w in words]
    elif attrs.case_change_action == "UPPER":
        words = [w.upper() for w in words]
    return _texts(words, (*x.shape[:-1], len(words)))


@register(
    OpDef(
        "strings.normalize",
        ("data",),
        (
            AttrSpec("case_change_action", AttrKind.STR, "NONE", ("NONE", "LOWER", "UPPER")),
            AttrSpec("is_case_sensitive", AttrKind.BOOL, False),
            AttrSpec("stopwords", AttrKind.STRS, []),
        ),
        _normalize_rel,
        OpPattern.OPAQUE,
        _normalize,
        "ONNX's StringNormalizer: stopwords removed, case changed",
        sized_by_values=True,
        strings=True,
    )
)
class StringNormalize(RelayOperatorOp): ...


# -- regex -------------------------------------------------------------------------------------


def _regex_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape = _strings(args[0], "data")
    try:
        regex.compile_dfa(attrs.pattern)
    except regex.RegexError as e:
        raise TypeRelationError(f"pattern `{attrs.pattern}`: {e}") from None
    return result(shape, "bool")


def _full_match(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    dfa = regex.compile_dfa(attrs.pattern)
    return np.array([dfa.full_match(s) for s in x.reshape(-1)], dtype=bool).reshape(x.shape)


@register(
    OpDef(
        "strings.regex_full_match",
        ("data",),
        (AttrSpec("pattern", AttrKind.STR, ""),),
        _regex_rel,
        OpPattern.OPAQUE,
        _full_match,
        "whether the pattern (regex.py's subset of RE2) matches each whole string",
        strings=True,
    )
)
class RegexFullMatch(RelayOperatorOp): ...


# -- casts -------------------------------------------------------------------------------------


def _from_string_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape = _strings(args[0], "data")
    if attrs.dtype in ("", "bool"):
        raise TypeRelationError(f"a string does not convert to '{attrs.dtype or 'no dtype'}'")
    return result(shape, attrs.dtype)


def _from_string(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    """Decimal text to numbers: float() for floats ("1e-3", "inf", "NaN"), int() for
    integers (a fraction is an error), as ONNX's reference (numpy's astype) parses."""
    out = np.empty(x.shape, dtype=numpy_dtype(attrs.dtype))
    is_float = attrs.dtype.startswith(("float", "bfloat"))
    for i, s in enumerate(x.reshape(-1)):
        try:
            value = float(s) if is_float else int(s)
        except ValueError:
            raise ValueError(f"{s!r} is not a number of dtype {attrs.dtype}") from None
        try:
            out.reshape(-1)[i] = value
        except OverflowError:  # an integer beyond the dtype (a float overflows to inf)
            raise ValueError(f"{s!r} is out of the range of {attrs.dtype}") from None
    return out


@register(
    OpDef(
        "strings.from_string",
        ("data",),
        (AttrSpec("dtype", AttrKind.DTYPE, ""),),
        _from_string_rel,
        OpPattern.OPAQUE,
        _from_string,
        "parses each string as a number of `dtype`",
        strings=True,
    )
)
class FromString(RelayOperatorOp): ...


def _to_string_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    if dtype == STRING:
        raise TypeRelationError("data is a string tensor already")
    return result(shape, STRING)


@register(
    OpDef(
        "strings.to_string",
        ("data",),
        (),
        _to_string_rel,
        OpPattern.OPAQUE,
        # numpy's text of each number (the shortest that reads back, for floats), as ONNX's
        # reference casts to string
        lambda attrs, x: x.astype(np.str_).astype(object),
        "each number as text",
        strings=True,
    )
)
class ToString(RelayOperatorOp): ...


# -- label encoder -----------------------------------------------------------------------------

_LABEL_ATTRS = (
    AttrSpec("keys_strings", AttrKind.STRS, []),
    AttrSpec("keys_ints", AttrKind.INTS, []),
    AttrSpec("keys_floats", AttrKind.FLOATS, []),
    AttrSpec("values_strings", AttrKind.STRS, []),
    AttrSpec("values_ints", AttrKind.INTS, []),
    AttrSpec("values_floats", AttrKind.FLOATS, []),
    AttrSpec("default_string", AttrKind.STR, "_Unused"),
    AttrSpec("default_int", AttrKind.INT, -1),
    AttrSpec("default_float", AttrKind.FLOAT, -0.0),
    AttrSpec("out_dtype", AttrKind.STR, STRING),
)


def _label_table(attrs: Attrs, in_dtype: str) -> tuple[list, list, object]:
    """The keys, the values and the default of a label_encode call, checked against the
    input's dtype: keys and values are the one non-empty list of each kind, of one length."""
    keys = [k for k in (attrs.keys_strings, attrs.keys_ints, attrs.keys_floats) if k]
    values = [v for v in (attrs.values_strings, attrs.values_ints, attrs.values_floats) if v]
    if len(keys) > 1 or len(values) > 1:
        raise TypeRelationError("give one list of keys and one list of values")
    key_list, value_list = (keys or [[]])[0], (values or [[]])[0]
    if len(key_list) != len(value_list):
        raise TypeRelationError(f"{len(key_list)} keys but {len(value_list)} values")
    want_key = "strings" if in_dtype == STRING else "floats" if "float" in in_dtype else "ints"
    if key_list and key_list is not getattr(attrs, f"keys_{want_key}"):
        raise TypeRelationError(f"keys must be keys_{want_key} for a {in_dtype} input")
    out = attrs.out_dtype
    if out != STRING and out not in DTYPES:
        raise TypeRelationError(f"unknown out_dtype '{out}'")
    want_value = "strings" if out == STRING else "floats" if "float" in out else "ints"
    if value_list and value_list is not getattr(attrs, f"values_{want_value}"):
        raise TypeRelationError(f"values must be values_{want_value} for out_dtype {out}")
    return key_list, value_list, getattr(attrs, f"default_{want_value[:-1]}")


def _label_rel(args: Sequence[Attribute], attrs: Attrs) -> Attribute:
    shape, dtype = expect_tensor(args[0], "data")
    _label_table(attrs, dtype)
    return result(shape, attrs.out_dtype)


def _label_encode(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    """Each element's value from the table, the default when it is no key; a float key
    matches equal floats (-0.0 matches 0.0; NaN matches NaN, as ONNX says)."""
    in_dtype = "string" if x.dtype == object else str(x.dtype)
    keys, values, default = _label_table(attrs, in_dtype)
    table: dict[object, object] = {}
    nan_value = default
    for k, v in zip(keys, values, strict=True):
        if isinstance(k, float) and math.isnan(k):
            nan_value = v
        table.setdefault(k if isinstance(k, str) else float(k) if "float" in in_dtype else k, v)

    def one(e: object) -> object:
        if isinstance(e, (float, np.floating)) and math.isnan(e):
            return nan_value
        return table.get(e if isinstance(e, str) else e.item(), default)  # pyright: ignore

    out = [one(e) for e in x.reshape(-1)]
    if attrs.out_dtype == STRING:
        return _texts(out, x.shape)
    return np.array(out, dtype=numpy_dtype(attrs.out_dtype)).reshape(x.shape)


@register(
    OpDef(
        "strings.label_encode",
        ("data",),
        _LABEL_ATTRS,
        _label_rel,
        OpPattern.OPAQUE,
        _label_encode,
        "ONNX's LabelEncoder: each element mapped through a constant table, a default for "
        "the others (keys and values: strings, integers or floats)",
        strings=True,
    )
)
class LabelEncode(RelayOperatorOp): ...
