"""monomorphize: one copy of each polymorphic global function per type it is used at.

Starting from every monomorphic function, each `relay.call` and `relay.global_ref` of a
polymorphic `relay.func @f[A, ...]` is matched against `@f`'s signature to find the type
arguments; `@f` is copied once per distinct instantiation (a memo table, so recursion and
mutual recursion reuse the copy being built), the copy's types are substituted everywhere
(signature, block arguments, every value, closures and ADT values in its body), and the
use is redirected to it. The copies are scanned in turn, so what they call is specialized
too. Then the polymorphic originals go: no monomorphic function uses them any more.

A copy is named after its original and its type arguments, `@map__3xf32__i32`
(`tensor<3xf32>` and `tensor<i32>`; tuples `tuple2_a_b`, functions `fn1_a_r`, refs
`ref_a`, ADTs `List_a`, a `?` dimension `any`), with `_2`, `_3`, ... when that name is
taken. ADT definitions stay polymorphic (a value of `List[A]` has one representation
whatever `A` is), but every type in a copy is concrete. A type parameter that the
signature does not fix (used only inside the body) becomes `tuple<>`.

The pass reads the types infer-types wrote: run infer-types first (the loader does); its
output type-checks as it is. Polymorphic recursion that would not end (`@f[A]` reaching
`@f[(A, A)]`) is an error at the use that would make one instantiation too many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import (
    ArrayAttr,
    FunctionType,
    ModuleOp,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    TupleType,
)
from xdsl.ir import Attribute, Operation, ParametrizedAttribute, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.ir_helpers import building_ir, functions_by_name
from relay_opt.dialects.relay.types import (
    DYNAMIC,
    ADTType,
    IncompleteType,
    RefType,
    TypeVarType,
    function_type,
    has_type_vars,
    is_concrete,
    substitute_type_vars,
    tuple_type,
)

MAX_INSTANTIATIONS = 64
"""Copies of one function before polymorphic recursion is declared endless."""

MAX_TYPE_SIZE = 2000
"""Nodes in one type argument before polymorphic recursion is declared endless."""

Subst = dict[str, Attribute]


def substitute(t: Attribute, subst: Subst) -> Attribute:
    """`t` with each type variable replaced by its binding in `subst` (all are bound)."""
    return substitute_type_vars(t, subst, strict=True)


def match(pattern: Attribute, concrete: Attribute, subst: Subst) -> bool:
    """Bind the type variables of `pattern` so that it describes `concrete`; False on a clash.

    A variable keeps its first binding (later ones may differ only in `?` dimensions,
    which infer-types accepts)."""
    if isinstance(pattern, TypeVarType):
        subst.setdefault(pattern.var_name.data, concrete)
        return True
    if not has_type_vars(pattern):
        return True
    if isinstance(pattern, TupleType) and isinstance(concrete, TupleType):
        return len(pattern.types) == len(concrete.types) and all(
            match(p, c, subst) for p, c in zip(pattern.types, concrete.types, strict=True)
        )
    if isinstance(pattern, FunctionType) and isinstance(concrete, FunctionType):
        ps, cs = [*pattern.inputs, *pattern.outputs], [*concrete.inputs, *concrete.outputs]
        return len(ps) == len(cs) and all(match(p, c, subst) for p, c in zip(ps, cs, strict=True))
    if isinstance(pattern, RefType) and isinstance(concrete, RefType):
        return match(pattern.value_type, concrete.value_type, subst)
    if isinstance(pattern, ADTType) and isinstance(concrete, ADTType):
        return (
            pattern.adt == concrete.adt
            and len(pattern.args) == len(concrete.args)
            and all(match(p, c, subst) for p, c in zip(pattern.args, concrete.args, strict=True))
        )
    return False


def type_size(t: Attribute, memo: dict[int, int] | None = None) -> int:
    """The number of nodes of `t` as a tree (shared parts counted once per occurrence, but
    visited once, so a type that doubles at every step is measured without expanding it)."""
    memo = {} if memo is None else memo
    if (n := memo.get(id(t))) is not None:
        return n
    children: Sequence[Attribute] = ()
    if isinstance(t, ArrayAttr):
        children = t.data  # pyright: ignore
    elif isinstance(t, ParametrizedAttribute) and not isinstance(t, TensorType):
        children = t.parameters
    n = memo[id(t)] = 1 + sum(type_size(c, memo) for c in children)
    return n


def mangle(t: Attribute) -> str:
    """A readable identifier fragment for a type (see the module docstring)."""
    if isinstance(t, TensorType):
        dims = ["any" if d == DYNAMIC else str(d) for d in t.get_shape()]
        return "x".join([*dims, str(t.element_type)])
    if isinstance(t, TupleType):
        return "_".join([f"tuple{len(t.types)}", *(mangle(f) for f in t.types)])
    if isinstance(t, FunctionType):
        return "_".join([f"fn{len(t.inputs)}", *(mangle(x) for x in (*t.inputs, *t.outputs))])
    if isinstance(t, RefType):
        return "ref_" + mangle(t.value_type)
    if isinstance(t, ADTType):
        return "_".join([t.adt_name, *(mangle(a) for a in t.args)])
    return "".join(c if c.isalnum() else "_" for c in str(t))


def _use_type(use: core.CallOp | core.GlobalRefOp) -> Attribute:
    """The function type a call or a global_ref uses its callee at."""
    if isinstance(use, core.CallOp):
        return function_type(use.arguments.types, use.result.type)
    return use.result.type


@dataclass
class _Specializer:
    module: ModuleOp
    funcs: dict[str, core.FuncOp]
    memo: dict[tuple[str, tuple[Attribute, ...]], str]
    count: dict[str, int]
    last: dict[str, core.FuncOp]  # the latest copy of each original: the next goes after it
    taken: set[str]
    todo: list[core.FuncOp]

    def run(self) -> None:
        while self.todo:
            f = self.todo.pop()
            for op in f.walk():
                if isinstance(op, (core.CallOp, core.GlobalRefOp)):
                    self.redirect(op)

    def redirect(self, use: core.CallOp | core.GlobalRefOp) -> None:
        name = use.callee.root_reference.data
        callee = self.funcs.get(name)
        if callee is None or not callee.type_param_names:
            return
        used_at = _use_type(use)
        if not is_concrete(used_at):
            raise RelayError(
                f"@{name} is used at a type that is not known ({used_at}); "
                f"run infer-types before monomorphize",
                use,
            )
        subst: Subst = {}
        if not match(callee.function_type, used_at, subst):
            raise RelayError(f"@{name} has type {callee.function_type}, used as {used_at}", use)
        args = tuple(subst.get(p, tuple_type([])) for p in callee.type_param_names)
        key = (name, args)
        if (copy := self.memo.get(key)) is None:
            copy = self.specialize(callee, args, use)
            self.memo[key] = copy
        use.properties["callee"] = SymbolRefAttr(copy)

    def specialize(self, callee: core.FuncOp, args: tuple[Attribute, ...], use: Operation) -> str:
        name = callee.sym_name.data
        params = callee.type_param_names
        n = self.count.get(name, 0) + 1
        memo: dict[int, int] = {}
        if n > MAX_INSTANTIATIONS or any(type_size(a, memo) > MAX_TYPE_SIZE for a in args):
            why = (
                f"more than {MAX_INSTANTIATIONS} instantiations"
                if n > MAX_INSTANTIATIONS
                else f"a type argument of more than {MAX_TYPE_SIZE} parts"
            )
            raise RelayError(
                f"monomorphize: specializing @{name} does not end (polymorphic recursion: "
                f"{why}); the last use is at {', '.join(params)} = "
                f"{_short(', '.join(map(str, args)))}",
                use,
                notes=[(callee, f"@{name} is defined here")],
            )
        self.count[name] = n
        new_name = self.fresh_name("__".join([name, *(mangle(a) for a in args)]))
        subst = dict(zip(params, args, strict=True))
        copy = callee.clone()
        copy.properties["sym_name"] = StringAttr(new_name)
        del copy.properties["type_params"]
        copy.properties["function_type"] = substitute(callee.function_type, subst)
        _retype(copy, subst)
        self.module.body.block.insert_op_after(copy, self.last.get(name, callee))
        self.last[name] = copy
        self.todo.append(copy)
        return new_name

    def fresh_name(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _retype(func: core.FuncOp, subst: Subst) -> None:
    """Substitute `subst` in every type of `func`'s body: values, block arguments and
    type-valued properties (a closure's is its result type)."""
    cache: dict[Attribute, Attribute] = {}

    def new_type(t: Attribute) -> Attribute:
        if (n := cache.get(t)) is None:
            n = cache[t] = substitute(t, subst)
            if isinstance(n, IncompleteType) or not is_concrete(n):
                raise RelayError(
                    f"@{func.sym_name.data} holds a value of unknown type {t}; "
                    f"run infer-types before monomorphize",
                    func,
                )
        return n

    values: list[SSAValue] = []
    for op in func.walk():
        for name, prop in list(op.properties.items()):
            if has_type_vars(prop):
                op.properties[name] = substitute(prop, subst)
        values.extend(op.results)
        for region in op.regions:
            for block in region.blocks:
                values.extend(block.args)
    for v in values:
        t = new_type(v.type)
        if t != v.type:
            Rewriter.replace_value_with_new_type(v, t)


def specialize_entry(module: ModuleOp, entry: str, arg_types: Sequence[Attribute]) -> str:
    """The name of a copy of the polymorphic function @entry at the types of the arguments it
    is called with (relay-run's `@main[A](%x: A)` run on a given array), what it calls
    specialized too. A type the parameters do not accept is an error at @entry."""
    funcs = functions_by_name(module)
    f = funcs[entry]
    subst: Subst = {}
    params = f.function_type.inputs.data
    if len(params) != len(arg_types) or not all(
        match(p, a, subst) for p, a in zip(params, arg_types, strict=True)
    ):
        given = ", ".join(map(str, arg_types))
        raise RelayError(f"@{entry} has type {f.function_type}; it cannot take ({given})", f)
    args = tuple(subst.get(p, tuple_type([])) for p in f.type_param_names)
    with building_ir():
        specializer = _Specializer(
            module=module,
            funcs=funcs,
            memo={},
            count={},
            last={},
            taken={str(getattr(o.properties.get("sym_name"), "data", "")) for o in module.ops},
            todo=[],
        )
        name = specializer.specialize(f, args, f)
        specializer.memo[(entry, args)] = name  # its recursive calls go to the copy
        specializer.run()
    return name


@dataclass(frozen=True)
class MonomorphizePass(ModulePass):
    """Copies each polymorphic function once per type it is used at (after infer-types)."""

    name = "monomorphize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        funcs = functions_by_name(op)
        if not any(f.type_param_names for f in funcs.values()):
            return
        with building_ir():
            monomorphic = [f for f in funcs.values() if not f.type_param_names]
            _Specializer(
                module=op,
                funcs=funcs,
                memo={},
                count={},
                last={},
                taken={str(getattr(o.properties.get("sym_name"), "data", "")) for o in op.ops},
                todo=list(reversed(monomorphic)),
            ).run()
            for f in funcs.values():
                if f.type_param_names:
                    f.detach()
                    f.erase()
