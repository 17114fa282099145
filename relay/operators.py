"""The operator namespaces (`relay.add`, `relay.nn.conv2d`, `relay.image.resize2d`, ...),
made from the operator registry: each operator's function takes its operands, then its
attributes, by TVM's names and in TVM's order, with the registry's defaults.

Where TVM's Python signature differs from the operator's declaration (nn.pad takes
`pad_width` before `pad_value`; arange's stop and step are optional; dropout returns only
its first result), the few exceptions are listed below, not the operators.
"""

from __future__ import annotations

import types
from collections.abc import Callable

from relay_opt.dialects.relay.registry import OpDef, all_ops, lookup
from relay_opt.relay import expr as e

# TVM's positional order, where it is not "operands, then attributes as declared".
_TVM_ORDER: dict[str, tuple[str, ...]] = {
    "nn.pad": ("data", "pad_width", "pad_value", "pad_mode"),
    "nn.conv2d_transpose": (
        "data", "weight", "strides", "padding", "output_padding", "dilation", "groups",
        "channels", "kernel_size", "data_layout", "kernel_layout", "out_layout", "out_dtype",
    ),
}  # fmt: skip

# Operands TVM's Python functions let the caller leave out.
_OPERAND_DEFAULTS: dict[tuple[str, str], float] = {("nn.pad", "pad_value"): 0.0}

# Defaults of TVM's Python functions that differ from the attribute's own default.
_PYTHON_DEFAULTS: dict[tuple[str, str], object] = {("nn.leaky_relu", "alpha"): 0.01}

# Window attributes of the 2-d operators that TVM's functions take as one int for both axes.
_PAIRS = {"pool_size", "strides", "dilation", "kernel_size", "padding", "output_padding"}

# Operators whose result is a tuple: how many fields, from the attributes.
_TUPLE_SIZES: dict[str, Callable[[dict[str, object]], int]] = {
    "split": lambda a: (
        int(a["indices_or_sections"])  # pyright: ignore[reportArgumentType]
        if isinstance(a["indices_or_sections"], int)
        else len(a["indices_or_sections"]) + 1  # pyright: ignore[reportArgumentType]
    ),
    "nn.batch_norm": lambda a: 3,
}


def get(name: str) -> e.Op:
    """The operator `name` (`relay.op.get("nn.conv2d")`)."""
    if lookup(name) is None:
        raise ValueError(f"unknown operator '{name}'")
    return e.Op(name)


def call(name: str, *args: object, **kwargs: object) -> e.Call:
    """A call of operator `name` with TVM's positional and keyword arguments."""
    opdef = lookup(name)
    assert opdef is not None, name
    order = _TVM_ORDER.get(name, (*opdef.args, *(a.name for a in opdef.attrs)))
    if len(args) > len(order):
        raise TypeError(f"relay.{name} takes at most {len(order)} arguments, got {len(args)}")
    given: dict[str, object] = {}
    for key, value in zip(order, args, strict=False):
        given[key] = value
    for key, value in kwargs.items():
        if key in given:
            raise TypeError(f"relay.{name} got two values for '{key}'")
        if key not in order:
            raise TypeError(f"relay.{name} has no argument '{key}' (it takes {', '.join(order)})")
        given[key] = value
    operands: list[e.Expr] = []
    for arg in opdef.args:
        if arg in given:
            value = given.pop(arg)
        elif (name, arg) in _OPERAND_DEFAULTS:
            value = _OPERAND_DEFAULTS[(name, arg)]
        else:
            raise TypeError(f"relay.{name} needs its argument '{arg}'")
        like = operands[0] if operands else None
        operands.append(e.as_expr(value, like))
    attrs = {k: v for k, v in given.items() if v is not None}
    if name.endswith("2d"):
        for key in _PAIRS & attrs.keys():
            if isinstance(attrs[key], int):
                attrs[key] = (attrs[key], attrs[key])
    for (op, key), default in _PYTHON_DEFAULTS.items():
        if op == name and key not in attrs:
            attrs[key] = default
    return e.Call(e.Op(name), operands, attrs)


def _function(opdef: OpDef) -> Callable[..., object]:
    name = opdef.name

    def build(*args: object, **kwargs: object) -> object:
        result = call(name, *args, **kwargs)
        if name in _TUPLE_SIZES:
            attrs = {a.name: a.default for a in opdef.attrs} | dict(result.attrs)
            return e.TupleWrapper(result, _TUPLE_SIZES[name](attrs))
        return result

    order = _TVM_ORDER.get(name, (*opdef.args, *(a.name for a in opdef.attrs)))
    build.__name__ = name.rsplit(".", 1)[-1]
    build.__qualname__ = name
    build.__doc__ = f"relay.{name}({', '.join(order)}): {opdef.summary or 'Relay operator'}"
    return build


def _dropout(data: object, rate: float = 0.5) -> e.Expr:
    """relay.nn.dropout: the output only (nn.dropout_raw gives the mask too)."""
    return e.TupleGetItem(call("nn.dropout", data, rate=rate), 0)


def _dropout_raw(data: object, rate: float = 0.5) -> e.TupleWrapper:
    return e.TupleWrapper(call("nn.dropout", data, rate=rate), 2)


def _arange(
    start: object, stop: object = None, step: object = None, dtype: str = "float32"
) -> e.Call:
    """relay.arange(stop) or (start, stop, step), with constants of `dtype`, as TVM's."""
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    bounds = [v if isinstance(v, e.Expr) else e.const(v, dtype) for v in (start, stop, step)]
    return call("arange", *bounds, dtype=dtype)


def namespaces() -> dict[str, types.SimpleNamespace]:
    """Every operator's function under its Relay name: '' holds `add`, 'nn' holds `conv2d`."""
    out: dict[str, types.SimpleNamespace] = {"": types.SimpleNamespace()}
    for opdef in all_ops():
        prefix, _, short = opdef.name.rpartition(".")
        space = out.setdefault(prefix, types.SimpleNamespace())
        setattr(space, short, _function(opdef))
    out["nn"].dropout = _dropout
    out["nn"].dropout_raw = _dropout_raw
    out[""].arange = _arange
    return out
