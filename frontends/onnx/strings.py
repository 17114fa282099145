"""ONNX's string operators (docs/strings.md): StringConcat, StringSplit, StringNormalizer,
RegexFullMatch, LabelEncoder (ai.onnx.ml), and the string forms of Equal, Cast and CastLike.

Equal, Cast and CastLike have numeric converters in ops.py; this module registers after it
and wraps them: a string operand (or a cast to STRING) takes the string operator, anything
else the numeric converter. Identity moves a string tensor as it moves any other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from relay_opt.dialects.relay.types import STRING
from relay_opt.frontends.onnx import ops  # noqa: F401  (registers the numeric forms first)
from relay_opt.frontends.onnx.importer import (
    CONVERTERS,
    ONNX_DTYPES,
    Converter,
    Node,
    Value,
    converter,
    relay_dtype_of,
)
from relay_opt.frontends.onnx.narrow import NARROW

_ONNX_STRING = 8
_ML = "ai.onnx.ml"


@converter("StringConcat")
def string_concat(n: Node) -> Value:
    return n.op("strings.concat", n.required(0), n.required(1))


@converter("StringSplit")
def string_split(n: Node) -> list[Value]:
    """The substrings on a new last axis (padded with "" to the longest) and their counts."""
    maxsplit = n.attr("maxsplit")
    split = n.op(
        "strings.split", n.required(0), delimiter=n.attr("delimiter", ""), maxsplit=maxsplit
    )
    return [n.tuple_get(split, 0), n.tuple_get(split, 1)]


# Locales whose case mapping is Unicode's default one (Python's str.lower/upper): the others
# (Turkish dotted i, ...) would need their own tables.
_DEFAULT_CASE_LOCALES = ("", "C", "POSIX")


@converter("StringNormalizer")
def string_normalizer(n: Node) -> Value:
    locale = n.attr("locale", "")
    if locale not in _DEFAULT_CASE_LOCALES and not locale.startswith("en"):
        raise n.unsupported(
            f"locale '{locale}' (the case mapping is Unicode's default one, as en_US's)"
        )
    return n.op(
        "strings.normalize",
        n.required(0),
        case_change_action=n.attr("case_change_action", "NONE"),
        is_case_sensitive=bool(n.attr("is_case_sensitive", 0)),
        stopwords=list(n.attr("stopwords", [])),
    )


@converter("RegexFullMatch")
def regex_full_match(n: Node) -> Value:
    """The pattern becomes a DFA while importing (regex.py): a pattern outside the supported
    subset of RE2 is an error naming its construct."""
    return n.op("strings.regex_full_match", n.required(0), pattern=n.attr("pattern", ""))


def _tensor_list(n: Node, name: str) -> tuple[list, str | None]:
    """Tensor attribute `name` as a Python list and its dtype (None when absent)."""
    if n.tensor_attr_dtype(name) is None:
        return [], None
    array = np.asarray(n.attr(name))
    dtype = STRING if array.dtype == object else str(array.dtype)
    return array.reshape(-1).tolist(), dtype


@converter("LabelEncoder", domain=_ML)
def label_encoder(n: Node) -> Value:
    """Keys and values from their lists (keys_strings, values_int64s, ...) or tensors
    (keys_tensor, values_tensor; opset 4 of ai.onnx.ml)."""
    x = n.required(0)
    attrs: dict[str, object] = {}
    key_tensor, key_dtype = _tensor_list(n, "keys_tensor")
    keys = {"strings": n.attr("keys_strings"), "ints": n.attr("keys_int64s")}
    keys["floats"] = n.attr("keys_floats")
    if key_dtype is not None:
        keys[_kind(key_dtype)] = key_tensor
    value_tensor, value_dtype = _tensor_list(n, "values_tensor")
    values = {"strings": n.attr("values_strings"), "ints": n.attr("values_int64s")}
    values["floats"] = n.attr("values_floats")
    out = "string" if values["strings"] else "int64" if values["ints"] else "float32"
    if value_dtype is not None:
        values[_kind(value_dtype)] = value_tensor
        out = value_dtype
    for kind in ("strings", "ints", "floats"):
        if keys[kind]:
            attrs[f"keys_{kind}"] = list(keys[kind])
        if values[kind]:
            attrs[f"values_{kind}"] = list(values[kind])
    default, default_dtype = _tensor_list(n, "default_tensor")
    kind = _kind(out)
    if default_dtype is not None:
        if len(default) != 1 or _kind(default_dtype) != kind:
            raise n.error(f"default_tensor must hold one {out} value")
        attrs[f"default_{kind[:-1]}"] = default[0]
    elif kind == "strings" and n.has_attr("default_string"):
        attrs["default_string"] = n.attr("default_string")
    elif kind == "ints" and n.has_attr("default_int64"):
        attrs["default_int"] = n.attr("default_int64")
    elif kind == "floats" and n.has_attr("default_float"):
        attrs["default_float"] = n.attr("default_float")
    return n.op("strings.label_encode", x, out_dtype=out, **attrs)


def _kind(dtype: str) -> str:
    return "strings" if dtype == STRING else "floats" if "float" in dtype else "ints"


# -- the string forms of Equal, Cast and CastLike ----------------------------------------------


def _with_strings(op_type: str, string_form: Converter) -> None:
    numeric = CONVERTERS[op_type]

    def convert(n: Node) -> Value | Sequence[Value | None]:
        strings = any(v is not None and n.dtype(v) == STRING for v in n.inputs)
        if strings or (op_type == "Cast" and n.attr("to") == _ONNX_STRING):
            return string_form(n)
        return numeric(n)

    convert.__doc__ = f"{op_type}: {string_form.__doc__}"
    CONVERTERS[op_type] = convert


def _equal(n: Node) -> Value:
    """strings.equal when an operand is a string tensor (both must be)."""
    return n.op("strings.equal", n.required(0), n.required(1))


def cast_strings(n: Node, x: Value, target: int) -> Value:
    """To STRING: each number as numpy's text of it; from STRING: parsed."""
    if target in NARROW:
        raise n.unsupported("a cast between strings and a narrow dtype (float8, int4, ...)")
    if n.narrow(0) is not None:
        raise n.unsupported("a cast between strings and a narrow dtype (float8, int4, ...)")
    source = n.dtype(x)
    if target == _ONNX_STRING:
        return x if source == STRING else n.op("strings.to_string", x)
    return n.op("strings.from_string", x, dtype=relay_dtype_of(target, n.where()))


def _cast(n: Node) -> Value:
    """to or from STRING through strings.to_string / strings.from_string."""
    return cast_strings(n, n.required(0), n.attr("to"))


def _cast_like(n: Node) -> Value:
    """to or from a string tensor's dtype through strings.to_string / strings.from_string."""
    like = n.required(1)
    target = _ONNX_STRING if n.dtype(like) == STRING else None
    if target is None:
        code = {v: k for k, v in ONNX_DTYPES.items()}.get(n.dtype(like))
        target = n.narrow(1) or code
    if target is None:
        raise n.unsupported(f"CastLike of a string tensor to {n.dtype(like)}")
    return cast_strings(n, n.required(0), target)


# (ops, imported above, has registered the numeric forms)
_with_strings("Equal", _equal)
_with_strings("Cast", _cast)
_with_strings("CastLike", _cast_like)
