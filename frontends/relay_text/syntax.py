"""The syntax tree of a Relay text program, before names are resolved.

The parser builds it; `to_dialect` resolves names (locals, globals, ADTs,
constructors, operators) and emits Relay dialect ops.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from relay_opt.diagnostics import SourceLoc

# -- types -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorT:
    shape: tuple[int | None, ...]  # None is `?`
    dtype: str
    loc: SourceLoc


@dataclass(frozen=True)
class TupleT:
    fields: tuple[TypeExpr, ...]
    loc: SourceLoc


@dataclass(frozen=True)
class FuncT:
    params: tuple[TypeExpr, ...]
    ret: TypeExpr
    loc: SourceLoc


@dataclass(frozen=True)
class NamedT:
    """`A` (a type variable) or `List[A]` (an ADT), told apart when names are resolved."""

    name: str
    args: tuple[TypeExpr, ...]
    loc: SourceLoc


@dataclass(frozen=True)
class RefT:
    value: TypeExpr
    loc: SourceLoc


@dataclass(frozen=True)
class IncompleteT:
    loc: SourceLoc


TypeExpr = TensorT | TupleT | FuncT | NamedT | RefT | IncompleteT

# -- patterns ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PWild:
    loc: SourceLoc


@dataclass(frozen=True)
class PVar:
    name: str
    type: TypeExpr | None
    loc: SourceLoc


@dataclass(frozen=True)
class PCtor:
    name: str
    fields: tuple[Pattern, ...]
    loc: SourceLoc


@dataclass(frozen=True)
class PTuple:
    fields: tuple[Pattern, ...]
    loc: SourceLoc


Pattern = PWild | PVar | PCtor | PTuple

# -- expressions -------------------------------------------------------------------------

AttrValue = object  # int, float, bool, str, None, list of AttrValue


@dataclass(eq=False)
class Local:
    name: str
    loc: SourceLoc


@dataclass(eq=False)
class Graph:
    number: str
    loc: SourceLoc


@dataclass(eq=False)
class Global:
    name: str
    loc: SourceLoc


@dataclass(eq=False)
class Name:
    """A bare identifier in expression position: a constructor or an operator."""

    name: str
    loc: SourceLoc


@dataclass(eq=False)
class Literal:
    value: int | float | bool
    dtype: str
    loc: SourceLoc


@dataclass(eq=False)
class MetaRef:
    kind: str  # relay.Constant
    index: int
    loc: SourceLoc


@dataclass(eq=False)
class Call:
    callee: Expr
    args: list[Expr]
    attrs: dict[str, AttrValue]
    loc: SourceLoc
    attr_locs: dict[str, SourceLoc] = field(default_factory=dict)


@dataclass(eq=False)
class Param:
    name: str
    type: TypeExpr | None
    loc: SourceLoc


@dataclass(eq=False)
class Fn:
    type_params: list[str]
    params: list[Param]
    ret: TypeExpr | None
    attrs: dict[str, AttrValue]
    body: Expr
    loc: SourceLoc


@dataclass(eq=False)
class Let:
    """`let %x: T = value; body`, a graph binding `%0 = value; body`, or `e1; e2`."""

    name: str | None  # None for sequencing
    graph: bool
    type: TypeExpr | None
    value: Expr
    body: Expr
    loc: SourceLoc


@dataclass(eq=False)
class If:
    cond: Expr
    then: Expr
    orelse: Expr
    loc: SourceLoc


@dataclass(eq=False)
class Tuple:
    fields: list[Expr]
    loc: SourceLoc


@dataclass(eq=False)
class TupleGet:
    tuple: Expr
    index: int
    loc: SourceLoc


@dataclass(eq=False)
class RefCreate:
    value: Expr
    loc: SourceLoc


@dataclass(eq=False)
class RefRead:
    ref: Expr
    loc: SourceLoc


@dataclass(eq=False)
class RefWrite:
    ref: Expr
    value: Expr
    loc: SourceLoc


@dataclass(eq=False)
class Clause:
    pattern: Pattern
    body: Expr


@dataclass(eq=False)
class Match:
    data: Expr
    clauses: list[Clause]
    complete: bool
    loc: SourceLoc


@dataclass(eq=False)
class FreeVar:
    """`free_var %x: T; body` — %x stays free (it becomes a parameter of `main`)."""

    name: str
    type: TypeExpr | None
    body: Expr
    loc: SourceLoc


Expr = (
    Local
    | Graph
    | Global
    | Name
    | Literal
    | MetaRef
    | Call
    | Fn
    | Let
    | If
    | Tuple
    | TupleGet
    | RefCreate
    | RefRead
    | RefWrite
    | Match
    | FreeVar
)

# -- definitions -------------------------------------------------------------------------


@dataclass(eq=False)
class Ctor:
    name: str
    inputs: list[TypeExpr]
    loc: SourceLoc


@dataclass(eq=False)
class TypeDef:
    name: str
    type_params: list[str]
    ctors: list[Ctor]
    extern: bool
    loc: SourceLoc


@dataclass(eq=False)
class FuncDef:
    name: str
    fn: Fn
    loc: SourceLoc


@dataclass(eq=False)
class Program:
    type_defs: list[TypeDef]
    func_defs: list[FuncDef]
    metadata: str | None
    body: Expr | None = None  # a bare expression (no `def`), as parse_expr takes
    references: frozenset[str] | None = None
    """The names the text refers to ('@f', constructors, types), as the parser saw them;
    None when not known (then the prelude walks the tree)."""


def nodes(e: object) -> Iterator[object]:
    """Every syntax node in an expression (iteratively: a model is deep)."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, list):
            stack.extend(node)
        elif hasattr(node, "__dataclass_fields__"):
            for f in node.__dataclass_fields__:  # pyright: ignore
                value = getattr(node, f)
                if isinstance(value, (list, tuple)) or hasattr(value, "__dataclass_fields__"):
                    stack.append(list(value) if isinstance(value, tuple) else value)


def touches_refs(e: object) -> bool:
    """Whether evaluating `e` creates, reads or writes a reference: then where it is
    evaluated matters (a read moved past a write sees another value), and how often (a
    `ref` evaluated twice makes two cells)."""
    return any(isinstance(n, (RefCreate, RefRead, RefWrite)) for n in nodes(e))
