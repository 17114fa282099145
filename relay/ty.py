"""Relay's types as tvm.relay scripts spell them (`relay.TensorType((1, 3), "float32")`).

They convert to the text frontend's type syntax (`to_syntax`), which names ADTs and type
variables the way the dialect does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relay_opt.frontends.relay_text import syntax as s
from relay_opt.relay.location import caller_loc


class Type:
    """A Relay type."""

    def to_syntax(self) -> s.TypeExpr:
        raise NotImplementedError

    def __str__(self) -> str:
        return type_text(self)


class Any:
    """A dimension known only at run time (TVM's `relay.Any()`), printed `?`."""

    def __repr__(self) -> str:
        return "?"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Any)

    def __hash__(self) -> int:
        return hash("?")


@dataclass(eq=True, frozen=True)
class TensorType(Type):
    shape: tuple[int | Any, ...]
    dtype: str = "float32"

    def __init__(self, shape: Sequence[int | Any | None] | int = (), dtype: str = "float32"):
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        object.__setattr__(
            self, "shape", tuple(Any() if d is None or isinstance(d, Any) else int(d) for d in dims)
        )
        object.__setattr__(self, "dtype", str(dtype))

    @property
    def concrete_shape(self) -> tuple[int, ...]:
        return tuple(d for d in self.shape if isinstance(d, int))

    def to_syntax(self) -> s.TypeExpr:
        dims = tuple(None if isinstance(d, Any) else d for d in self.shape)
        return s.TensorT(dims, self.dtype, caller_loc())


def scalar_type(dtype: str) -> TensorType:
    return TensorType((), dtype)


@dataclass(eq=True, frozen=True)
class TupleType(Type):
    fields: tuple[Type, ...]

    def __init__(self, fields: Sequence[Type]):
        object.__setattr__(self, "fields", tuple(fields))

    def to_syntax(self) -> s.TypeExpr:
        return s.TupleT(tuple(f.to_syntax() for f in self.fields), caller_loc())


@dataclass(eq=True, frozen=True)
class FuncType(Type):
    arg_types: tuple[Type, ...]
    ret_type: Type

    def __init__(self, arg_types: Sequence[Type], ret_type: Type, *_ignored: object):
        object.__setattr__(self, "arg_types", tuple(arg_types))
        object.__setattr__(self, "ret_type", ret_type)

    def to_syntax(self) -> s.TypeExpr:
        return s.FuncT(
            tuple(a.to_syntax() for a in self.arg_types), self.ret_type.to_syntax(), caller_loc()
        )


@dataclass(eq=True, frozen=True)
class TypeVar(Type):
    name_hint: str

    def __init__(self, name_hint: str, kind: object = None):
        object.__setattr__(self, "name_hint", name_hint)

    def to_syntax(self) -> s.TypeExpr:
        return s.NamedT(self.name_hint, (), caller_loc())


GlobalTypeVar = TypeVar


@dataclass(eq=True, frozen=True)
class TypeCall(Type):
    """An ADT applied to its type arguments: `List[float32]`."""

    func: TypeVar
    args: tuple[Type, ...]

    def __init__(self, func: TypeVar, args: Sequence[Type]):
        object.__setattr__(self, "func", func)
        object.__setattr__(self, "args", tuple(args))

    def to_syntax(self) -> s.TypeExpr:
        return s.NamedT(self.func.name_hint, tuple(a.to_syntax() for a in self.args), caller_loc())


@dataclass(eq=True, frozen=True)
class RefType(Type):
    value: Type

    def to_syntax(self) -> s.TypeExpr:
        return s.RefT(self.value.to_syntax(), caller_loc())


class IncompleteType(Type):
    def to_syntax(self) -> s.TypeExpr:
        return s.IncompleteT(caller_loc())


def from_syntax(t: s.TypeExpr | None) -> Type | None:
    """The text frontend's type syntax as a Type (None when the text leaves it out)."""
    if t is None or isinstance(t, s.IncompleteT):
        return None
    if isinstance(t, s.TensorT):
        return TensorType(t.shape, t.dtype)
    if isinstance(t, s.TupleT):
        return TupleType([from_syntax(f) or IncompleteType() for f in t.fields])
    if isinstance(t, s.FuncT):
        return FuncType(
            [from_syntax(p) or IncompleteType() for p in t.params],
            from_syntax(t.ret) or IncompleteType(),
        )
    if isinstance(t, s.RefT):
        return RefType(from_syntax(t.value) or IncompleteType())
    if t.args:
        return TypeCall(TypeVar(t.name), [from_syntax(a) or IncompleteType() for a in t.args])
    return TypeVar(t.name)


def type_text(t: Type) -> str:
    """Relay text's spelling of a type."""
    if isinstance(t, TensorType):
        if not t.shape:
            return t.dtype
        return (
            f"Tensor[({', '.join(map(str, t.shape))}{',' if len(t.shape) == 1 else ''}), {t.dtype}]"
        )
    if isinstance(t, TupleType):
        return f"({', '.join(map(type_text, t.fields))}{',' if len(t.fields) == 1 else ''})"
    if isinstance(t, FuncType):
        return f"fn ({', '.join(map(type_text, t.arg_types))}) -> {type_text(t.ret_type)}"
    if isinstance(t, TypeCall):
        return f"{t.func.name_hint}[{', '.join(map(type_text, t.args))}]"
    if isinstance(t, TypeVar):
        return t.name_hint
    if isinstance(t, RefType):
        return f"ref({type_text(t.value)})"
    return "?"
