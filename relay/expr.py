"""Relay expressions as tvm.relay scripts build them: a tree of Python objects.

They are only a way to write a program: `IRModule` turns them into the Relay dialect (through
the text frontend's syntax tree, `convert.py`), where type inference, the passes and the
compilers run. An object used twice is one value (a dataflow graph), as in TVM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any as AnyT

import numpy as np

from relay_opt.diagnostics import SourceLoc
from relay_opt.relay.location import caller_loc
from relay_opt.relay.ty import FuncType, TensorType, Type, TypeVar


class Expr:
    """A Relay expression. Arithmetic operators build operator calls, `e[i]` a projection."""

    span: SourceLoc
    _checked_type: Type | None = None

    def __init__(self) -> None:
        self.span = caller_loc()

    @property
    def checked_type(self) -> Type:
        """The type infer-types gave (known for functions, variables and constants)."""
        if self._checked_type is None:
            raise ValueError(
                "the type of this expression is not known here: run relay.transform.InferType() "
                "on its module (types are kept on functions, variables and constants)"
            )
        return self._checked_type

    # -- operators ---------------------------------------------------------------------------

    def _binary(self, name: str, other: object, reverse: bool = False) -> Call:
        rhs = as_expr(other, self)
        return Call(Op(name), [rhs, self] if reverse else [self, rhs])

    def __add__(self, other: object) -> Call:
        return self._binary("add", other)

    def __radd__(self, other: object) -> Call:
        return self._binary("add", other, True)

    def __sub__(self, other: object) -> Call:
        return self._binary("subtract", other)

    def __rsub__(self, other: object) -> Call:
        return self._binary("subtract", other, True)

    def __mul__(self, other: object) -> Call:
        return self._binary("multiply", other)

    def __rmul__(self, other: object) -> Call:
        return self._binary("multiply", other, True)

    def __truediv__(self, other: object) -> Call:
        return self._binary("divide", other)

    def __rtruediv__(self, other: object) -> Call:
        return self._binary("divide", other, True)

    def __lt__(self, other: object) -> Call:
        return self._binary("less", other)

    def __gt__(self, other: object) -> Call:
        return self._binary("greater", other)

    def __le__(self, other: object) -> Call:
        return self._binary("less_equal", other)

    def __ge__(self, other: object) -> Call:
        return self._binary("greater_equal", other)

    def __neg__(self) -> Call:
        return Call(Op("negative"), [self])

    __hash__ = object.__hash__

    def same_as(self, other: object) -> bool:
        """Whether `other` is this very node (TVM's reference equality)."""
        return self is other

    def __getitem__(self, index: int) -> TupleGetItem:
        return TupleGetItem(self, index)

    def astuple(self) -> Expr:
        return self

    def astype(self, dtype: str) -> Call:
        return Call(Op("cast"), [self], {"dtype": dtype})

    def __call__(self, *args: object) -> Call:
        return Call(self, [as_expr(a) for a in args])

    def __str__(self) -> str:
        from relay_opt.relay.printer import expr_text

        return expr_text(self)  # pyright: ignore[reportArgumentType]

    __repr__ = __str__

    def astext(self, show_meta_data: bool = True) -> str:
        return str(self)


def as_expr(value: object, like: Expr | None = None) -> Expr:
    """A Python number, array or list as an expression (a list becomes a Tuple); a number
    next to a tensor takes its dtype when that is known."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, (list, tuple)):
        return Tuple([as_expr(v) for v in value])
    dtype = None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and like is not None:
        known = like._checked_type or getattr(like, "type_annotation", None)
        if isinstance(known, TensorType):
            dtype = known.dtype
    return const(value, dtype)


class Var(Expr):
    def __init__(self, name_hint: str, type_annotation: Type | None = None):
        super().__init__()
        self.name_hint = name_hint
        self.type_annotation = type_annotation
        self._checked_type = type_annotation

    @property
    def vid(self) -> Var:
        return self


def var(
    name_hint: str,
    type_annotation: Type | str | None = None,
    shape: Sequence[int] | None = None,
    dtype: str = "float32",
) -> Var:
    """`relay.var("x", shape=(1, 3), dtype="float32")`, or with a Type, or a dtype string."""
    if isinstance(type_annotation, str):
        type_annotation = TensorType(shape or (), type_annotation)
    elif type_annotation is None and shape is not None:
        type_annotation = TensorType(shape, dtype)
    return Var(name_hint, type_annotation)


class GlobalVar(Expr):
    def __init__(self, name_hint: str):
        super().__init__()
        self.name_hint = name_hint

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GlobalVar) and other.name_hint == self.name_hint

    def __hash__(self) -> int:
        return hash(("global", self.name_hint))


class Constant(Expr):
    def __init__(self, data: AnyT):
        super().__init__()
        from relay_opt.relay.ndarray import NDArray

        array = data.numpy() if isinstance(data, NDArray) else np.asarray(data)
        self.data = NDArray(array)
        self._checked_type = TensorType(array.shape, str(array.dtype))


def const(value: object, dtype: str | None = None) -> Constant:
    """`relay.const(1.0)` (float32, int32 for ints, as TVM), `relay.const(array)`."""
    from relay_opt.relay.ndarray import NDArray

    if isinstance(value, NDArray):
        value = value.numpy()
    if dtype is None and isinstance(value, float):
        dtype = "float32"
    elif dtype is None and isinstance(value, bool):
        dtype = "bool"
    elif dtype is None and isinstance(value, int):
        dtype = "int32"
    array = np.asarray(value, dtype=dtype)
    if array.dtype == np.float64 and dtype is None and not isinstance(value, np.ndarray):
        array = array.astype("float32")
    return Constant(array)


class Op(Expr):
    """An operator of the registry (`relay.op.get("nn.conv2d")`)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Op) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("op", self.name))


class Call(Expr):
    def __init__(
        self,
        op: Expr,
        args: Sequence[Expr],
        attrs: Mapping[str, object] | None = None,
        type_args: Sequence[Type] | None = None,
        span: object = None,
    ):
        super().__init__()
        self.op = op
        self.args = list(args)
        self.attrs = Attrs(attrs or {})
        self.type_args = list(type_args or [])


class Attrs(dict[str, object]):
    """A call's attributes: `call.attrs["strides"]` or `call.attrs.strides`."""

    def __getattr__(self, name: str) -> object:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def keys(self):  # noqa: ANN201
        return list(super().keys())


class Tuple(Expr):
    def __init__(self, fields: Sequence[Expr], span: object = None):
        super().__init__()
        self.fields = [as_expr(f) for f in fields]

    def __len__(self) -> int:
        return len(self.fields)

    def astuple(self) -> Expr:
        return self


class TupleGetItem(Expr):
    def __init__(self, tuple_value: Expr, index: int):
        super().__init__()
        self.tuple_value = tuple_value
        self.index = int(index)


class TupleWrapper:
    """What TVM's operators with several results return: indexable, `astuple()` the call."""

    def __init__(self, tuple_value: Expr, size: int):
        self.tuple_value = tuple_value
        self.size = size

    def astuple(self) -> Expr:
        return self.tuple_value

    def __getitem__(self, index: int) -> TupleGetItem:
        if not -self.size <= index < self.size:
            raise IndexError(f"tuple index {index} out of range (the tuple has {self.size})")
        return TupleGetItem(self.tuple_value, index % self.size)

    def __len__(self) -> int:
        return self.size

    def __iter__(self):  # noqa: ANN204
        return (self[i] for i in range(self.size))

    def astext(self) -> str:
        return str(self.tuple_value)


class Function(Expr):
    def __init__(
        self,
        params: Sequence[Var],
        body: Expr,
        ret_type: Type | None = None,
        type_params: Sequence[TypeVar] | None = None,
        attrs: Mapping[str, object] | None = None,
        span: object = None,
    ):
        super().__init__()
        self.params = list(params)
        self.body = as_expr(body)
        self.ret_type = ret_type
        self.type_params = list(type_params or [])
        self.attrs = Attrs(attrs or {})
        if all(p.type_annotation is not None for p in self.params) and ret_type is not None:
            self._checked_type = FuncType([p.type_annotation for p in self.params], ret_type)  # pyright: ignore[reportArgumentType]

    def with_attr(self, key: str, value: object) -> Function:
        attrs = dict(self.attrs)
        attrs[key] = value
        return Function(self.params, self.body, self.ret_type, self.type_params, attrs)


class Let(Expr):
    def __init__(self, variable: Var, value: Expr, body: Expr):
        super().__init__()
        self.var = variable
        self.value = as_expr(value)
        self.body = as_expr(body)


class If(Expr):
    def __init__(self, cond: Expr, true_branch: Expr, false_branch: Expr):
        super().__init__()
        self.cond = cond
        self.true_branch = as_expr(true_branch)
        self.false_branch = as_expr(false_branch)


class RefCreate(Expr):
    def __init__(self, value: Expr):
        super().__init__()
        self.value = as_expr(value)


class RefRead(Expr):
    def __init__(self, ref: Expr):
        super().__init__()
        self.ref = ref


class RefWrite(Expr):
    def __init__(self, ref: Expr, value: Expr):
        super().__init__()
        self.ref = ref
        self.value = as_expr(value)


# -- algebraic data types --------------------------------------------------------------------


class Constructor(Expr):
    """A constructor of an ADT; calling it builds a value (`cons(x, nil())`)."""

    def __init__(self, name_hint: str, inputs: Sequence[Type], belong_to: TypeVar):
        super().__init__()
        self.name_hint = name_hint
        self.inputs = list(inputs)
        self.belong_to = belong_to
        self.tag = -1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constructor) and other.name_hint == self.name_hint

    def __hash__(self) -> int:
        return hash(("ctor", self.name_hint))


class TypeData:
    """An ADT's definition: `type List[A] { Cons(A, List[A]), Nil }`."""

    def __init__(
        self, header: TypeVar, type_vars: Sequence[TypeVar], constructors: Sequence[Constructor]
    ):
        self.header = header
        self.type_vars = list(type_vars)
        self.constructors = list(constructors)
        for i, c in enumerate(self.constructors):
            c.tag = i


class Pattern:
    pass


class PatternWildcard(Pattern):
    pass


class PatternVar(Pattern):
    def __init__(self, var: Var):
        self.var = var


class PatternConstructor(Pattern):
    def __init__(self, constructor: Constructor, patterns: Sequence[Pattern] | None = None):
        self.constructor = constructor
        self.patterns = list(patterns or [])


class PatternTuple(Pattern):
    def __init__(self, patterns: Sequence[Pattern] | None = None):
        self.patterns = list(patterns or [])


class Clause:
    def __init__(self, lhs: Pattern, rhs: Expr):
        self.lhs = lhs
        self.rhs = as_expr(rhs)


class Match(Expr):
    def __init__(self, data: Expr, clauses: Sequence[Clause], complete: bool = True):
        super().__init__()
        self.data = data
        self.clauses = list(clauses)
        self.complete = complete
