"""Values of the whole language in the Python API: ADT values, reference cells, Python lists
as the prelude's `List`, and their native form (docs/native-objects.md).

The interpreter and compiled code take and return the same classes: `ADTValue` (a
constructor and its fields) and `RefCell`. A Python list is accepted wherever a `List[T]`
is expected (`to_adt_list`), and `from_adt_list` turns a `List` back into one.
"""

from __future__ import annotations

import ctypes
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp, TensorType, TupleType
from xdsl.ir import Attribute

from relay_opt.diagnostics import ArgumentError
from relay_opt.dialects.relay.numpy_dtypes import exact_dtype, numpy_dtype
from relay_opt.dialects.relay.types import (
    ADTType,
    RefType,
    substitute_type_vars,
    tensor_dtype,
)

Value = Any


@dataclass(frozen=True)
class ADTValue:
    constructor: str  # "List::Cons"
    tag: int
    fields: tuple[Value, ...]

    def __repr__(self) -> str:
        # A long list would recurse as deep as it is long: print it iteratively.
        if self.constructor == "List::Cons":
            items = from_adt_list(self)
            if items is not None:
                return f"List[{', '.join(map(_show, items))}]"
        name = self.constructor.split("::")[-1]
        return f"{name}({', '.join(map(_show, self.fields))})" if self.fields else name


@dataclass(eq=False)
class RefCell:
    value: Value

    def __repr__(self) -> str:
        return f"ref({_show(self.value)})"


def _show(v: Value) -> str:
    if isinstance(v, np.ndarray):
        return np.array2string(v, separator=", ", threshold=20)
    return repr(v)


def to_adt_list(items: Iterable[Value]) -> ADTValue:
    """A Python iterable as the prelude's `List` (Cons cells ending in Nil)."""
    result = ADTValue("List::Nil", 1, ())
    for item in reversed(list(items)):
        result = ADTValue("List::Cons", 0, (item, result))
    return result


def from_adt_list(value: ADTValue) -> list[Value] | None:
    """The items of a `List` value, or None when `value` is not one."""
    items = []
    while isinstance(value, ADTValue) and value.constructor == "List::Cons":
        items.append(value.fields[0])
        value = value.fields[1]
    if not isinstance(value, ADTValue) or value.constructor != "List::Nil":
        return None
    return items


def same_value(a: Value, b: Value, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Whether two values are equal, tensors within tolerances (iterative: deep lists)."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            x, y = np.asarray(x), np.asarray(y)
            if x.shape != y.shape or x.dtype != y.dtype:
                return False
            if not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
                return False
        elif isinstance(x, ADTValue) and isinstance(y, ADTValue):
            if x.constructor != y.constructor or len(x.fields) != len(y.fields):
                return False
            pending += zip(x.fields, y.fields, strict=True)
        elif isinstance(x, RefCell) and isinstance(y, RefCell):
            pending.append((x.value, y.value))
        elif isinstance(x, tuple) and isinstance(y, tuple) and len(x) == len(y):
            pending += zip(x, y, strict=True)
        else:
            return False
    return True


# -- the native form -------------------------------------------------------------------------

SLOT = 8


@dataclass(frozen=True)
class Constructor:
    name: str  # "List::Cons"
    tag: int
    inputs: tuple[Attribute, ...]
    params: tuple[str, ...]  # the ADT's type parameters


@dataclass(frozen=True)
class ObjectSpec:
    """A parameter or result that is an object (an ADT value or a reference): one pointer."""

    name: str
    type: Attribute

    def describe(self) -> str:
        return str(self.type)


class TypeTable:
    """The constructors of a module's ADTs, by ADT name and by constructor name."""

    def __init__(self, module: ModuleOp):
        from relay_opt.dialects.relay.adt import TypeDefOp

        self.by_adt: dict[str, list[Constructor]] = {}
        self._fields: dict[tuple[str, int], tuple[ADTType, list[Attribute]]] = {}
        for op in module.ops:
            if isinstance(op, TypeDefOp):
                adt = op.sym_name.data
                self.by_adt[adt] = [
                    Constructor(
                        f"{adt}::{c.sym_name.data}", k, tuple(c.inputs), op.type_param_names
                    )
                    for k, c in enumerate(op.constructors)
                ]
        self.by_name = {c.name: c for cs in self.by_adt.values() for c in cs}

    def fields(self, ctor: Constructor, t: ADTType) -> list[Attribute]:
        """The field types of `ctor` in instance `t` (made once: building types is slow)."""
        # By identity: hashing a type hashes all of it. The types made here are the ones
        # asked about next (a list's tail), so the first miss is the only one.
        key = (ctor.name, id(t))
        made = self._fields.get(key)
        if made is None:
            subst = dict(zip(ctor.params, t.args, strict=True))
            made = self._fields[key] = (t, [substitute_type_vars(f, subst) for f in ctor.inputs])
        return made[1]


def leaf_count(t: Attribute) -> int:
    """The slots a value of type `t` takes in an object: one per leaf, and for a tensor
    one more per dim (its size, after the pointer)."""
    if isinstance(t, TupleType):
        return sum(leaf_count(f) for f in t.types)
    if isinstance(t, TensorType):
        return 1 + len(t.get_shape())
    return 1


def _split(leaves: list[int], types: Iterable[Attribute]) -> list[list[int]]:
    parts, start = [], 0
    for t in types:
        n = leaf_count(t)
        parts.append(leaves[start : start + n])
        start += n
    return parts


def _trampoline(gen: Generator[Any, Any, Any]) -> Value:
    """Runs nested generators without Python recursion (a list may be 10,000 deep): each
    yields the (sub)generator of a part and receives its value."""
    stack = [gen]
    value = None
    while stack:
        try:
            sub = stack[-1].send(value)
        except StopIteration as done:
            stack.pop()
            value = done.value
            continue
        stack.append(sub)
        value = None
    return value


class NativeWriter:
    """Python values as native objects in memory Python owns (kept alive by `self.keep`
    for the call): the layout compiled code reads. Every tensor's shape and dtype is
    checked before native code sees it."""

    def __init__(self, table: TypeTable):
        self.table = table
        self.keep: list[np.ndarray] = []

    def leaves(self, value: Value, t: Attribute, where: str) -> list[int]:
        return _trampoline(self._leaves(value, t, where))

    def _leaves(self, value: Value, t: Attribute, where: str):  # noqa: ANN202
        if isinstance(t, TensorType):
            array = np.asarray(value) if not isinstance(value, (ADTValue, RefCell)) else None
            # bfloat16: the float32 that stands in for it, or ml_dtypes' (stored as the latter).
            stored = exact_dtype(tensor_dtype(t))
            shape = t.get_shape()
            if (
                array is None
                or array.ndim != len(shape)
                or any(d >= 0 and d != n for d, n in zip(shape, array.shape, strict=True))
                or array.dtype not in (numpy_dtype(tensor_dtype(t)), stored)
            ):
                got = (
                    f"{'x'.join(map(str, array.shape)) or 'scalar'} {array.dtype}"
                    if array is not None
                    else type(value).__name__
                )
                dims = "x".join("?" if d < 0 else str(d) for d in shape) or "scalar"
                raise ArgumentError(f"{where} must be {dims} {tensor_dtype(t)}, got {got}")
            sizes = array.shape  # (ascontiguousarray makes a 0-d array 1-d)
            array = np.ascontiguousarray(array, dtype=stored)
            self.keep.append(array)
            # Every size follows the pointer (docs/native-objects.md).
            return [array.ctypes.data, *sizes]
        if isinstance(t, TupleType):
            if not isinstance(value, tuple) or len(value) != len(t.types):
                raise ArgumentError(f"{where} must be a {len(t.types)}-tuple")
            out: list[int] = []
            for i, (v, ft) in enumerate(zip(value, t.types, strict=True)):
                out += yield self._leaves(v, ft, f"{where}.{i}")
            return out
        if isinstance(t, RefType):
            if not isinstance(value, RefCell):
                raise ArgumentError(f"{where} must be a RefCell, got {type(value).__name__}")
            inner = yield self._leaves(value.value, t.value_type, f"{where}.value")
            return [self.object(0, inner)]
        assert isinstance(t, ADTType), t
        if isinstance(value, (list, tuple)) and t.adt_name == "List":
            value = to_adt_list(value)
        ctor = self.table.by_name.get(value.constructor) if isinstance(value, ADTValue) else None
        if (
            ctor is None
            or not isinstance(value, ADTValue)
            or not ctor.name.startswith(f"{t.adt_name}::")
        ):
            raise ArgumentError(f"{where} must be a value of {t}, got {value!r:.60}")
        fields = self.table.fields(ctor, t)
        if len(value.fields) != len(fields):
            raise ArgumentError(f"{where}: {ctor.name} takes {len(fields)} field(s)")
        inner: list[int] = []
        for i, (v, ft) in enumerate(zip(value.fields, fields, strict=True)):
            inner += yield self._leaves(v, ft, f"{where}.{ctor.name.partition('::')[2]}[{i}]")
        return [self.object(ctor.tag, inner)]

    def object(self, tag: int, leaves: list[int]) -> int:
        memory = np.array([tag, *leaves], dtype=np.uint64)
        self.keep.append(memory)
        return memory.ctypes.data


class NativeReader:
    """Native objects (the arena's, before it is released) back as Python values.

    Reading is on every call's path (a 100-element list result is 100 objects), so what
    depends only on a type is worked out once per reader: each tensor type's dtype, shape
    and size, and each constructor instance's field layout. Types are canonical (one object
    per distinct type), so those caches are looked up by identity, not by hashing a type."""

    def __init__(self, table: TypeTable):
        self.table = table
        self._types: list[Attribute] = []  # the canonical types: few, a result's and its parts'
        # By id(type) (the type is kept in the value: its id stays unique).
        self._tensors: dict[int, tuple[Attribute, np.dtype, tuple[int, ...], Any]] = {}
        self._layouts: dict[tuple[int, int], tuple[Attribute, str, list[tuple]]] = {}

    def value(self, t: Attribute, leaves: list[int]) -> Value:
        return _trampoline(self._value(self._canonical(t), leaves))

    def _canonical(self, t: Attribute) -> Attribute:
        """The one object of type `t` (types compare by structure; some do not hash)."""
        for known in self._types:
            if known is t or known == t:
                return known
        self._types.append(t)
        return t

    def _tensor(self, t: Attribute, address: int, sizes: Sequence[int] = ()) -> np.ndarray:
        """A copy of the tensor at `address`; `sizes`: its sizes (needed for `?` dims)."""
        info = self._tensors.get(id(t))
        if info is None:
            assert isinstance(t, TensorType), t
            dtype = exact_dtype(tensor_dtype(t))  # bfloat16: its bits, as ml_dtypes' arrays
            shape = tuple(t.get_shape())
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            raw = ctypes.c_char * size if size and min(shape, default=0) >= 0 else None
            info = self._tensors[id(t)] = (t, dtype, shape, raw)
        _, dtype, shape, raw = info
        if min(shape, default=0) < 0:
            shape = tuple(sizes)
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            raw = ctypes.c_char * size if size else None
        if raw is None:
            return np.zeros(shape, dtype)
        data = raw.from_address(address)  # a ctypes array over the bytes: no copy yet
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()  # pyright: ignore[reportCallIssue, reportArgumentType]

    def _layout(self, t: ADTType, tag: int) -> tuple[str, list[tuple]]:
        """The constructor's name and, per field, (type, first slot, slots, is a tensor)."""
        hit = self._layouts.get((id(t), tag))
        if hit is None:
            ctor = self.table.by_adt[t.adt_name][tag]
            fields = [self._canonical(f) for f in self.table.fields(ctor, t)]
            layout, start = [], 1  # slot 0 is the tag
            for f in fields:
                n = leaf_count(f)
                static = isinstance(f, TensorType) and min(f.get_shape(), default=0) >= 0
                layout.append((f, start, n, static))
                start += n
            hit = self._layouts[(id(t), tag)] = (t, ctor.name, layout)
        return hit[1], hit[2]

    def _value(self, t: Attribute, leaves: list[int]):  # noqa: ANN202
        if isinstance(t, TensorType):
            return self._tensor(t, leaves[0], leaves[1:])
        if isinstance(t, TupleType):
            parts = []
            for ft, part in zip(t.types, _split(leaves, t.types), strict=True):
                ft = self._canonical(ft)
                parts.append((yield self._value(ft, part)))
            return tuple(parts)
        [address] = leaves
        if isinstance(t, RefType):
            inner = self.slots(address, leaf_count(t.value_type))
            value_type = self._canonical(t.value_type)
            return RefCell((yield self._value(value_type, inner)))
        assert isinstance(t, ADTType), t
        tag = ctypes.c_int64.from_address(address).value
        name, layout = self._layout(t, tag)
        values = []
        for ft, start, n, is_tensor in layout:
            if is_tensor:  # most fields (static tensors): read here, without a generator
                values.append(
                    self._tensor(ft, ctypes.c_uint64.from_address(address + SLOT * start).value)
                )
            else:
                part = [
                    ctypes.c_uint64.from_address(address + SLOT * (start + k)).value
                    for k in range(n)
                ]
                values.append((yield self._value(ft, part)))
        return ADTValue(name, tag, tuple(values))

    @staticmethod
    def slots(address: int, n: int) -> list[int]:
        return [ctypes.c_uint64.from_address(address + SLOT * (k + 1)).value for k in range(n)]


# -- showing and saving results --------------------------------------------------------------


def tensors_inside(value: Value, name: str) -> list[tuple[str, np.ndarray]]:
    """Every tensor in a value with a path name: `name/3` is item 3 of a `List`,
    `name/Rose.0` field 0 of a constructor, `name/1` field 1 of a tuple, `name/ref` the
    value of a reference cell (pre-order, iterative: a list may be 10,000 long)."""
    found: list[tuple[str, np.ndarray]] = []
    pending: list[tuple[str, Value]] = [(name, value)]
    while pending:
        path, v = pending.pop()
        parts: list[tuple[str, Value]] = []
        if isinstance(v, np.ndarray):
            found.append((path, v))
        elif isinstance(v, tuple):
            parts = [(f"{path}/{i}", f) for i, f in enumerate(v)]
        elif isinstance(v, RefCell):
            parts = [(f"{path}/ref", v.value)]
        elif isinstance(v, ADTValue):
            items = from_adt_list(v) if v.constructor == "List::Cons" else None
            if items is not None:
                parts = [(f"{path}/{i}", item) for i, item in enumerate(items)]
            else:
                ctor = v.constructor.partition("::")[2]
                parts = [(f"{path}/{ctor}.{i}", f) for i, f in enumerate(v.fields)]
        pending += reversed(parts)
    return found


def show(value: Value, limit: int = 8) -> str:
    """A short readable form: tensors by shape and dtype (a scalar by its value), lists as
    `[a, b, ...]` with at most `limit` items shown, constructors as `Name(fields)`."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return str(value.item())
        return f"{'x'.join(map(str, value.shape))}x{value.dtype}"
    if isinstance(value, tuple):
        return f"({', '.join(show(v, limit) for v in value)})"
    if isinstance(value, RefCell):
        return f"ref({show(value.value, limit)})"
    if isinstance(value, ADTValue):
        items = from_adt_list(value) if value.constructor in ("List::Cons", "List::Nil") else None
        if items is not None:
            shown = [show(item, limit) for item in items[:limit]]
            if len(items) > limit:
                shown.append(f"... {len(items) - limit} more")
            return f"[{', '.join(shown)}]"
        name = value.constructor.partition("::")[2]
        if not value.fields:
            return name
        return f"{name}({', '.join(show(f, limit) for f in value.fields)})"
    return repr(value)
