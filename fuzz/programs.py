"""Random well-typed Relay programs over the whole operator registry.

A program is a straight-line `@main`: parameters with concrete input arrays, then operator calls
(and tuples, projections, scalar constants), returning one tensor or a tuple. Each call is
generated with its operands' *values* known: every node is evaluated with its operator's numpy
semantics as it is added, so an operator that needs positive, nonzero or bounded operands gets
them, and a candidate whose result overflows or is not finite is dropped and another tried.

Each value records whether native code must reproduce it bit for bit (`exact`): inputs,
data movement, integer arithmetic and IEEE-exact float arithmetic (+ - * /, max, min, abs,
selections) on exact operands are exact; transcendental functions, reductions that sum and
contractions are not, and are compared with a tolerance relative to `scale`, the largest
magnitude in the value's computation. A discontinuous operator (floor, comparisons, argmax,
casts to integers, ...) on an inexact operand is generated only when every element is further
from the discontinuity than that tolerance, so a robust comparison stays exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np
from xdsl.dialects.builtin import ModuleOp, TupleType
from xdsl.ir import Attribute, Block, Region, SSAValue

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.attributes import AttrError
from relay_opt.dialects.relay.builder import RelayBuilder
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.registry import OpDef, TypeRelationError, all_ops, lookup
from relay_opt.dialects.relay.types import tensor_dtype, tensor_type, tuple_type

FLOATS = ("float32", "float16", "float64", "bfloat16")
SIGNED = ("int8", "int16", "int32", "int64")
UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
INTS = SIGNED + UNSIGNED
NUMERIC = FLOATS + INTS
ALL = (*NUMERIC, "bool")

RTOL = {"float16": 1e-2, "bfloat16": 1e-2, "float32": 1e-4, "float64": 1e-9}
"""Relative tolerance per float dtype, against |reference| + the value's scale."""

MAGNITUDE = {"float16": 6e3, "bfloat16": 1e6, "float32": 1e7, "float64": 1e12}
"""Largest magnitude a float value may reach; beyond it a candidate is dropped."""

INEXACT_FLOAT_OPS = {
    "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "erf", "sin", "cos", "power",
    "tan", "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "log2", "log10",
    "sum", "mean", "prod", "variance", "nn.conv2d", "nn.conv2d_transpose", "nn.dense",
    "nn.matmul", "nn.batch_matmul", "nn.softmax", "nn.log_softmax", "nn.avg_pool2d",
    "nn.global_avg_pool2d", "nn.adaptive_avg_pool2d", "nn.batch_norm", "nn.layer_norm",
    "nn.instance_norm", "nn.group_norm", "nn.l2_normalize", "image.resize2d", "arange",
    "collapse_sum_like", "collapse_sum_to", "image.grid_sample", "vision.roi_align",
    "det", "nn.modulated_deformable_conv2d",
}  # fmt: skip
"""Operators whose float results native code may round differently (libm, summation order,
float64 reference arithmetic). Everything else is exact on exact operands."""

CONTRACTED_ADDS = ("add", "subtract", "nn.bias_add")
"""Float adds a product feeding them may fuse into (an FMA under the fast policy)."""

MOVEMENT = (
    "reshape", "transpose", "expand_dims", "squeeze", "broadcast_to", "broadcast_to_like",
    "reshape_like", "strided_slice", "take", "copy", "tile", "repeat", "concatenate", "stack",
    "split", "reverse", "layout_transform", "nn.batch_flatten", "where", "negative",
)  # fmt: skip
"""Operators that pass values through unrounded (a product read through them can still
reach an add's loop as the same product)."""

SUMS = ("sum", "mean", "prod", "collapse_sum_like", "collapse_sum_to")
"""Reductions whose float result of integer operands is exact."""

CONTRACTIONS = {
    "nn.conv2d", "nn.conv2d_transpose", "nn.dense", "nn.matmul", "nn.batch_matmul",
    "nn.max_pool2d", "nn.avg_pool2d", "nn.global_avg_pool2d", "nn.global_max_pool2d",
    "nn.adaptive_avg_pool2d", "sum", "mean", "max", "min", "prod",
}  # fmt: skip
"""Anchors of fuse-linalg-epilogue: after one, elementwise operators are likely next."""

EPILOGUE = (
    "add", "multiply", "subtract", "nn.relu", "nn.bias_add", "tanh", "sigmoid", "clip",
    "maximum", "minimum", "negative", "abs", "exp", "nn.leaky_relu", "divide", "cast",
    "nn.prelu", "where", "round", "floor",
)  # fmt: skip


KNOWN_BUGS: list[tuple[str, Callable[[list[Val], dict[str, Any]], bool], str]] = []
"""(operator, whether a call hits the bug, the bug): calls the fuzzer leaves out until the bug
is fixed, so that a fixed-seed run stays clean (`--include-known-bugs` generates them)."""

EXCLUDE_KNOWN_BUGS = [True]


class Reject(Exception):
    """The candidate operator call cannot be generated here; another is tried."""


@dataclass
class Param:
    name: str
    dtype: str
    value: np.ndarray


@dataclass
class Node:
    name: str
    op: str
    """A registry name, or `tuple`, `tuple_get`, `const`."""
    args: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    index: int = 0
    """The field a `tuple_get` projects."""
    dtype: str = ""
    """The result's dtype (a tensor result), for constants and the comparison."""
    value: Any = None
    """The value the operator's numpy semantics computed while generating."""
    exact: bool = True
    scale: float = 1.0
    result_type: Attribute | None = None
    precision: str = ""
    """The float dtype whose tolerance an inexact result gets: the least precise one it was
    computed in (a float32 mean cast to float64 is as good as float32)."""


@dataclass
class Program:
    params: list[Param]
    nodes: list[Node]
    outputs: list[str]
    seed: int = 0
    index: int = 0
    form: str = "plain"
    """`plain`: the calls in @main; `call`: in @f, which @main calls; `if`: @main returns them
    from both branches of an `if` on the parameter `cond` (native code refuses `if` today)."""

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def ops(self) -> list[str]:
        return [n.op for n in self.nodes if n.op not in ("tuple", "tuple_get", "const")]

    def dtypes(self) -> set[str]:
        return {p.dtype for p in self.params} | {n.dtype for n in self.nodes if n.dtype}

    def inputs(self) -> list[np.ndarray]:
        return [p.value for p in self.params]

    def output_specs(self) -> list[tuple[str, bool, float]]:
        """(dtype, exact, scale) of each output, in order."""
        specs = []
        for name in self.outputs:
            n = self.node(name)
            assert n is not None
            specs.append((n.precision or n.dtype, n.exact, n.scale))
        return specs

    def expected(self) -> list[np.ndarray]:
        """The outputs as computed while generating."""
        return [self.node(o).value for o in self.outputs]  # pyright: ignore[reportOptionalMemberAccess]

    # -- shrinking, for the reducer ----------------------------------------------------------

    def pruned(self) -> Program:
        """Without the nodes and parameters no output uses."""
        live = set(self.outputs)
        kept: list[Node] = []
        for n in reversed(self.nodes):
            if n.name in live:
                kept.append(n)
                live.update(n.args)
        if self.form == "if":
            live.add("cond")
        params = [p for p in self.params if p.name in live]
        return self._like(params, kept[::-1], list(self.outputs))

    def _like(self, params: list[Param], nodes: list[Node], outputs: list[str]) -> Program:
        return Program(params, nodes, outputs, self.seed, self.index, self.form)

    def with_outputs(self, outputs: list[str]) -> Program:
        return self._like(self.params, self.nodes, outputs).pruned()

    def cut(self, name: str) -> Program | None:
        """The node `name` replaced by a parameter holding its value (None if it has no tensor
        value or is an output)."""
        n = self.node(name)
        if n is None or n.op in ("tuple",) or not isinstance(n.value, np.ndarray):
            return None
        if name in self.outputs:
            return None
        param = Param(name, n.dtype, n.value)
        nodes = [m for m in self.nodes if m.name != name]
        return self._like([*self.params, param], nodes, self.outputs).pruned()


# -- building IR ----------------------------------------------------------------------------


def to_module(program: Program) -> ModuleOp:
    """@main of `program`, built with the RelayBuilder."""
    types = [tensor_type(p.value.shape, p.dtype) for p in program.params]
    block = Block(arg_types=types)
    env: dict[str, SSAValue] = {}
    for p, arg in zip(program.params, block.args, strict=True):
        arg.name_hint = p.name
        env[p.name] = arg
    b = RelayBuilder.at_end(block)
    for n in program.nodes:
        args = [env[a] for a in n.args]
        if n.op == "tuple":
            env[n.name] = b.tuple(args)
        elif n.op == "tuple_get":
            env[n.name] = b.tuple_get(args[0], n.index)
        elif n.op == "const":
            env[n.name] = b.constant(np.asarray(n.value), n.dtype)
        else:
            opdef = lookup(n.op)
            assert opdef is not None
            env[n.name] = b.call(opdef.op_class, *args, result_type=n.result_type, **n.attrs)
    outs = [env[o] for o in program.outputs]
    result = outs[0] if len(outs) == 1 else b.tuple(outs)
    if program.form == "if":
        branches = [Region(Block([core.YieldOp(result)])) for _ in range(2)]
        result = b.add(core.IfOp(env["cond"], result.type, *branches)).result
    block.add_op(core.ReturnOp(result))
    if program.form != "call":
        return ModuleOp([core.FuncOp("main", types, result.type, region=Region(block))])
    callee = core.FuncOp("f", types, result.type, region=Region(block))
    caller = Block(arg_types=types)
    for p, arg in zip(program.params, caller.args, strict=True):
        arg.name_hint = p.name
    call = core.CallOp("f", caller.args, result.type)
    caller.add_ops([call, core.ReturnOp(call.result)])
    return ModuleOp([callee, core.FuncOp("main", types, result.type, region=Region(caller))])


def to_text(program: Program) -> str:
    """The program as Relay text (what a reproducer file holds)."""
    from relay_opt.frontends.relay_text.printer import print_relay

    return print_relay(to_module(program), show_meta_data=True).text


# -- values -------------------------------------------------------------------------------


@dataclass
class Val:
    name: str
    dtype: str
    value: np.ndarray
    exact: bool
    scale: float
    precision: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def rank(self) -> int:
        return self.value.ndim


def _is_float(dtype: str) -> bool:
    return dtype in FLOATS


def _scale_of(a: np.ndarray) -> float:
    if a.size == 0 or a.dtype == np.bool_:
        return 1.0
    return float(np.max(np.abs(a.astype(np.float64))))


def as_dtype(value: Any, dtype: str) -> Any:
    """`value` as a `dtype` value: a bfloat16 one (float32 stands in) rounded to bfloat16, as
    the interpreter and native code round every operator's result, so a generated value, and
    the expected value a finding saves, is what they compute."""
    if dtype != "bfloat16":
        return value
    return np.asarray(value).astype(ml_dtypes.bfloat16).astype(np.float32)


def tolerance(dtype: str, scale: float) -> float:
    """The absolute part of the tolerance of an inexact value of `dtype`."""
    return RTOL.get(dtype, 0.0) * max(1.0, scale)


class Generator:
    """Builds one program: a pool of values, and operator calls added one by one."""

    def __init__(self, rng: np.random.Generator, ops: list[str], max_ops: int = 6):
        self.rng = rng
        self.ops = ops
        self.max_ops = max_ops
        self.params: list[Param] = []
        self.nodes: list[Node] = []
        self.pool: list[Val] = []
        self.names = 0

    # -- random choices ---------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def int(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, xs):  # noqa: ANN001, ANN201
        return xs[int(self.rng.integers(len(xs)))]

    def dtype(self, allowed: tuple[str, ...]) -> str:
        """float32 half of the time when allowed, else any of them (bfloat16 compiles too)."""
        if "float32" in allowed and self.chance(0.5):
            return "float32"
        return self.choice(allowed)

    def shape(self, rank: int, lo: int = 1, hi: int = 5) -> tuple[int, ...]:
        return tuple(self.int(lo, hi) for _ in range(rank))

    # -- values -----------------------------------------------------------------------------

    def fresh_name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def array(self, shape: tuple[int, ...], dtype: str, kind: str = "any") -> np.ndarray:
        """Random input values: `positive` (> 0, away from 0), `nonzero`, `small`, `any`."""
        rng = self.rng
        npdt = numpy_dtype(dtype)
        if dtype == "bool":
            return rng.random(shape) < 0.5
        if _is_float(dtype):
            if kind == "positive":
                x = rng.uniform(0.5, 3.0, shape)
            elif kind == "nonzero":
                x = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
            elif kind == "small":
                x = rng.uniform(-2.0, 2.0, shape)
            else:
                x = rng.standard_normal(shape) * self.choice([1.0, 1.0, 3.0, 0.25])
            if dtype == "bfloat16":
                # bfloat16 values (float32 stands in): a constant of them is rounded to
                # bfloat16 when written (#[metadata]), so the reference must start from them.
                x = x.astype(ml_dtypes.bfloat16)
            return x.astype(npdt)
        info = np.iinfo(npdt)
        if kind == "positive":
            lo, hi = 1, 9
        elif kind == "nonzero":
            x = rng.integers(1, 6, shape) * rng.choice([-1, 1] if info.min < 0 else [1], shape)
            return x.astype(npdt)
        elif kind == "small":
            lo, hi = (-3, 3) if info.min < 0 else (0, 4)
        elif kind == "any" and self.chance(0.1):
            # The whole range now and then: wrap-around and sign edges.
            return rng.integers(info.min, info.max, shape, dtype=npdt, endpoint=True)
        else:
            lo, hi = (-10, 10) if info.min < 0 else (0, 20)
        return rng.integers(lo, hi + 1, shape).astype(npdt)

    def param(self, shape: tuple[int, ...], dtype: str, kind: str = "any") -> Val:
        name = self.fresh_name("p")
        value = self.array(shape, dtype, kind)
        self.params.append(Param(name, dtype, value))
        val = Val(name, dtype, value, True, _scale_of(value))
        self.pool.append(val)
        return val

    def tensor(
        self,
        dtypes: tuple[str, ...] | str,
        *,
        rank: int | tuple[int, int] | None = None,
        shape: tuple[int, ...] | None = None,
        kind: str = "any",
        where: Callable[[Val], bool] | None = None,
        reuse: float = 0.75,
    ) -> Val:
        """An operand: a value of the pool that fits (the newest more often), else a new
        parameter."""
        allowed = (dtypes,) if isinstance(dtypes, str) else dtypes
        lo, hi = (rank, rank) if isinstance(rank, int) else (rank or (0, 4))

        def fits(v: Val) -> bool:
            if v.dtype not in allowed or not lo <= v.rank <= hi:
                return False
            if shape is not None and v.shape != shape:
                return False
            if v.value.size == 0 and shape is None:
                return False
            return _kind_holds(v, kind) and (where is None or where(v))

        if self.chance(reuse):
            fitting = [v for v in self.pool if fits(v)]
            if fitting:
                return fitting[-1] if self.chance(0.5) else self.choice(fitting)
        dtype = self.dtype(allowed)
        if shape is None:
            shape = self.shape(self.int(lo, hi))
        return self.param(shape, dtype, kind)

    def scalar(self, dtype: str, value: float | int | bool) -> str:
        """A 0-d constant node; its name."""
        name = self.fresh_name("c")
        array = as_dtype(np.asarray(value).astype(numpy_dtype(dtype)), dtype)
        self.nodes.append(Node(name, "const", [], dtype=dtype, value=array, scale=_scale_of(array)))
        self.pool.append(Val(name, dtype, array, True, _scale_of(array)))
        return name

    # -- operator calls -----------------------------------------------------------------------

    def emit(self, op: str, args: list[Val | list[Val]], attrs: dict[str, Any]) -> list[Val]:
        """Add a call of `op` (a list among `args` becomes a tuple); returns its tensor
        values (the fields of a tuple result, projected). Raises Reject."""
        opdef = lookup(op)
        assert opdef is not None, op
        if EXCLUDE_KNOWN_BUGS[0]:
            operands = [v for a in args for v in (a if isinstance(a, list) else [a])]
            for bug_op, applies, why in KNOWN_BUGS:
                if bug_op == op and applies(operands, attrs):
                    raise Reject(f"known bug: {why}")
        names: list[str] = []
        arrays: list[Any] = []
        types: list[Attribute] = []
        leaves: list[Val] = []
        for a in args:
            if isinstance(a, list):
                tname = self.fresh_name("t")
                self.nodes.append(Node(tname, "tuple", [v.name for v in a]))
                names.append(tname)
                arrays.append(tuple(v.value for v in a))
                types.append(tuple_type([tensor_type(v.shape, v.dtype) for v in a]))
                leaves += a
            else:
                names.append(a.name)
                arrays.append(a.value)
                types.append(tensor_type(a.shape, a.dtype))
                leaves.append(a)
        try:
            full = opdef.make_attrs(attrs)
            rtype = opdef.infer(types, full, arrays if op == "arange" else None)
            with np.errstate(all="ignore"):
                out = opdef.compute(full, *arrays)
        except (TypeRelationError, AttrError) as e:
            raise Reject(str(e)) from None
        except Exception as e:  # noqa: BLE001 - the numpy semantics refuse these values
            raise Reject(f"{op}: the numpy semantics raised {type(e).__name__}: {e}") from None
        is_tuple = isinstance(rtype, TupleType)
        result_types = list(rtype.types) if isinstance(rtype, TupleType) else [rtype]
        outs = list(out) if isinstance(out, tuple) else [out]
        dtypes = [tensor_dtype(t) for t in result_types]  # pyright: ignore[reportArgumentType]
        if "bfloat16" in dtypes:
            outs = [as_dtype(o, d) for o, d in zip(outs, dtypes, strict=True)]
            out = tuple(outs) if isinstance(out, tuple) else outs[0]
        for o, t in zip(outs, result_types, strict=True):
            static = t.get_shape()  # pyright: ignore[reportAttributeAccessIssue]
            if len(np.shape(o)) != len(static) or any(  # (a ? dim takes any size)
                d >= 0 and d != n for d, n in zip(static, np.shape(o), strict=True)
            ):
                raise Reject(f"{op}: the numpy semantics disagree with the relation")
        exact = self._exact(op, leaves, outs, dtypes, full)
        scale = max([_scale_of(np.asarray(o)) for o in outs] + [v.scale for v in leaves] + [1.0])
        for o, d in zip(outs, dtypes, strict=True):
            if _is_float(d):
                o = np.asarray(o, dtype=np.float64)
                if not np.all(np.isfinite(o)) or (o.size and np.max(np.abs(o)) > MAGNITUDE[d]):
                    raise Reject(f"{op}: result out of range")
        name = self.fresh_name("v")
        explicit = rtype if op == "arange" else None
        node = Node(name, op, names, attrs, value=out, exact=exact, scale=scale)
        node.result_type = explicit
        floats = [d for d in dtypes if _is_float(d)] + [v.precision for v in leaves if v.precision]
        floats += [v.dtype for v in leaves if not v.exact and _is_float(v.dtype)]
        precision = "" if exact else max(floats, key=lambda d: RTOL[d], default="")
        node.precision = precision
        if not is_tuple:
            node.dtype = dtypes[0]
            self.nodes.append(node)
            val = Val(name, dtypes[0], np.asarray(out), exact, scale, precision)
            self.pool.append(val)
            return [val]
        self.nodes.append(node)
        vals = []
        for i, (o, d) in enumerate(zip(outs, dtypes, strict=True)):
            if i and self.chance(0.5):
                continue  # not every field is projected
            fname = self.fresh_name("v")
            self.nodes.append(
                Node(
                    fname, "tuple_get", [name], index=i, dtype=d, value=o, exact=exact, scale=scale
                )
            )
            self.nodes[-1].precision = precision
            val = Val(fname, d, np.asarray(o), exact, scale, precision)
            self.pool.append(val)
            vals.append(val)
        return vals

    def _from_a_product(self, name: str) -> bool:
        """Whether value `name` is a float product, directly or through data movement."""
        node = next((n for n in self.nodes if n.name == name), None)
        if node is None:
            return False
        if node.op == "multiply":
            return _is_float(node.dtype)
        if node.op in MOVEMENT or node.op in ("tuple", "tuple_get"):
            return any(self._from_a_product(a) for a in node.args)
        return False

    def _exact(
        self, op: str, leaves: list[Val], outs: list[Any], dtypes: list[str], attrs: Any
    ) -> bool:
        inexact_in = [v for v in leaves if not v.exact]
        # The fast policy's `contract` lets LLVM fuse a product feeding a float add into one
        # FMA (one rounding, not two) when both land in one loop (seed 13 #1693).
        float_add = op in CONTRACTED_ADDS and any(_is_float(d) for d in dtypes)
        if float_add and any(self._from_a_product(v.name) for v in leaves):
            return False
        if op in INEXACT_FLOAT_OPS and any(_is_float(d) for d in dtypes):
            if op == "image.resize2d" and attrs.method == "nearest_neighbor" and not inexact_in:
                return True
            # Integer sums are exact (and a float result of them is too).
            return op in SUMS and not _is_float(leaves[0].dtype)
        if not inexact_in:
            return True
        # An inexact operand: a float result stays inexact; a discontinuous result must be
        # far enough from its discontinuity that native rounding cannot cross it.
        floats = all(_is_float(d) for d in dtypes)
        if floats and op not in ("floor", "ceil", "round", "mod", "floor_divide"):
            return False
        if not _clear_of_discontinuity(op, leaves, attrs):
            raise Reject(f"{op}: an inexact operand is too close to a discontinuity")
        # a float mod jumps by the divisor at each multiple of it, and is inexact between
        return not (floats and op == "mod")

    # -- the program --------------------------------------------------------------------------

    def step(self, op: str) -> bool:
        gen = GENERATORS[op]
        mark = (len(self.params), len(self.nodes), len(self.pool))
        try:
            gen(self, op)
            return True
        except Reject:
            del self.params[mark[0] :]
            del self.nodes[mark[1] :]
            del self.pool[mark[2] :]
            return False

    def run(self) -> None:
        target = self.int(1, self.max_ops)
        done = tries = 0
        last_op = ""
        while done < target and tries < 8 * target:
            tries += 1
            if last_op in CONTRACTIONS and self.chance(0.7):
                choices = [o for o in EPILOGUE if o in self.ops] or self.ops
            else:
                # Contractions three times as often: their epilogues exercise fusion.
                choices = self.ops + [o for o in self.ops if o in CONTRACTIONS] * 2
            op = self.choice(choices)
            if self.step(op):
                done += 1
                last_op = op


def _kind_holds(v: Val, kind: str) -> bool:
    if kind == "any" or v.value.size == 0:
        return kind == "any"
    x = v.value.astype(np.float64) if v.dtype != "bool" else None
    if x is None:
        return False
    if kind == "positive":
        return bool(x.min() >= (0.25 if _is_float(v.dtype) else 1))
    if kind == "nonzero":
        return bool(np.abs(x).min() >= (0.25 if _is_float(v.dtype) else 1))
    if kind == "small":
        return bool(np.abs(x).max() <= 3)
    return True


def _margin(v: Val) -> float:
    return 4 * tolerance(v.dtype, v.scale)


def _distance_to_integer(x: np.ndarray) -> np.ndarray:
    return np.abs(x - np.round(x))


def _clear_of_discontinuity(op: str, leaves: list[Val], attrs: Any) -> bool:
    floats = [v for v in leaves if _is_float(v.dtype)]
    if not floats:
        return True
    m = max(_margin(v) for v in floats)
    xs = [v.value.astype(np.float64) for v in leaves]
    with np.errstate(all="ignore"):
        if op in ("floor", "ceil", "cast"):
            x = xs[0]
            if op == "cast" and attrs.dtype == "bool":
                return bool(np.all(np.abs(x) > m))
            return bool(np.all(_distance_to_integer(x) > m * np.maximum(1, np.abs(x))))
        if op == "round":
            return bool(np.all(_distance_to_integer(xs[0] - 0.5) > m))
        if op in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
            return bool(np.all(np.abs(xs[0] - xs[1]) > m))
        if op in ("floor_divide", "mod"):
            q = xs[0] / xs[1]
            return bool(np.all(_distance_to_integer(q) > m * np.maximum(1, np.abs(q))))
        if op in ("argmax", "argmin"):
            from relay_opt.dialects.relay.ops.reduce import reduced_axes

            x = xs[0]
            axes = reduced_axes(attrs, x.ndim)
            kept = [a for a in range(x.ndim) if a not in axes]
            moved: Any = np.transpose(x, kept + list(axes))
            moved = moved.reshape([x.shape[a] for a in kept] + [-1])
            if moved.shape[-1] < 2:
                return True
            s = np.sort(moved, axis=-1)
            gap = s[..., -1] - s[..., -2] if op == "argmax" else s[..., 1] - s[..., 0]
            return bool(np.all(gap > m))
    return False


# -- the operators' generators ----------------------------------------------------------------


def _broadcast_partner(g: Generator, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with `shape`: the same, a suffix, or with some axes 1."""
    r = g.int(0, 2)
    if r == 0:
        return shape
    if r == 1:
        return shape[g.int(0, len(shape)) :]
    return tuple(1 if g.chance(0.5) else d for d in shape)


def _binary(dtypes: tuple[str, ...], rhs_kind: str = "any", lhs_kind: str = "any"):  # noqa: ANN202
    def gen(g: Generator, op: str) -> None:
        lhs = g.tensor(dtypes, kind=lhs_kind)
        partner = _broadcast_partner(g, lhs.shape)
        rhs = g.tensor(lhs.dtype, shape=partner, kind=rhs_kind)
        if g.chance(0.3):
            lhs, rhs = (rhs, lhs) if rhs_kind == lhs_kind else (lhs, rhs)
        g.emit(op, [lhs, rhs], {})

    return gen


def _gen_divide(g: Generator, op: str) -> None:
    lhs = g.tensor(NUMERIC)
    kind = "nonzero" if _is_float(lhs.dtype) or not DIV_BY_ZERO[0] else "any"
    rhs = g.tensor(lhs.dtype, shape=_broadcast_partner(g, lhs.shape), kind=kind)
    if not _is_float(lhs.dtype):
        info = np.iinfo(numpy_dtype(lhs.dtype))
        a, b = np.broadcast_arrays(lhs.value, rhs.value)
        if info.min < 0 and np.any((a == info.min) & (b == -1)):
            raise Reject("INT_MIN / -1 overflows")
    g.emit(op, [lhs, rhs], {})


DIV_BY_ZERO = [True]
"""Whether integer divide, mod and floor_divide may see a zero divisor (their value is defined:
x / 0 and x % 0 are 0 in the interpreter and in native code alike)."""


def _gen_power(g: Generator, op: str) -> None:
    dtype = g.dtype(NUMERIC)
    if _is_float(dtype):
        base = g.tensor(dtype, kind="positive")
        exp = g.tensor(dtype, shape=_broadcast_partner(g, base.shape), kind="small")
    else:
        base = g.tensor(dtype, kind="small")
        shape = _broadcast_partner(g, base.shape)
        name = g.fresh_name("p")
        value = g.rng.integers(0, 4, shape).astype(numpy_dtype(dtype))
        g.params.append(Param(name, dtype, value))
        exp = Val(name, dtype, value, True, _scale_of(value))
    g.emit(op, [base, exp], {})


def _gen_shift(g: Generator, op: str) -> None:
    lhs = g.tensor(INTS)
    bits = np.dtype(numpy_dtype(lhs.dtype)).itemsize * 8
    shape = _broadcast_partner(g, lhs.shape)
    lo = -2 if lhs.dtype in SIGNED and g.chance(0.2) else 0
    amounts = g.rng.integers(lo, bits + 4 if g.chance(0.3) else bits, shape)
    name = g.fresh_name("p")
    value = amounts.astype(numpy_dtype(lhs.dtype))
    g.params.append(Param(name, lhs.dtype, value))
    g.emit(op, [lhs, Val(name, lhs.dtype, value, True, 1.0)], {})


def _unary(dtypes: tuple[str, ...], kind: str = "any", bound: float | None = None):  # noqa: ANN202
    def gen(g: Generator, op: str) -> None:
        limit = np.inf if bound is None else bound

        def small(v: Val) -> bool:
            return v.value.size > 0 and float(np.max(np.abs(v.value))) <= limit

        x = g.tensor(dtypes, kind=kind, where=small)
        if x.value.size and np.max(np.abs(x.value)) > limit:
            raise Reject("operand too large")
        g.emit(op, [x], {})

    return gen


def _gen_leaky_relu(g: Generator, op: str) -> None:
    x = g.tensor(FLOATS)
    g.emit(op, [x], {"alpha": g.choice([0.25, 0.01, 0.1, 1.0, 0.0, -0.5, 2.0])})


def _gen_clip(g: Generator, op: str) -> None:
    x = g.tensor(NUMERIC)
    if _is_float(x.dtype):
        lo, hi = g.choice([(-1.0, 1.0), (0.0, 6.0), (-0.5, 0.25), (0.5, 0.5), (-3.0, 2.0)])
    else:
        unsigned = x.dtype in UNSIGNED
        lo, hi = g.choice(
            [(0.0, 6.0), (2.0, 9.0), (3.0, 3.0)]
            + ([(-5.0, 5.0), (-100.0, 1.0)] if not unsigned else [])
            + ([(-1000.0, 1000.0)] if g.chance(0.2) else [])
        )
    g.emit(op, [x], {"a_min": lo, "a_max": hi})


def _gen_cast(g: Generator, op: str) -> None:
    x = g.tensor(ALL)
    target = g.choice(ALL)
    if target == "bfloat16" and not g.chance(0.2):
        target = "float32"
    if _is_float(x.dtype) and target in INTS:
        info = np.iinfo(numpy_dtype(target))
        v = x.value.astype(np.float64)
        if v.size and (v.min() <= info.min or v.max() >= info.max):
            raise Reject("out of the target's range")
    if target == "float16" and x.value.size and np.max(np.abs(x.value.astype(np.float64))) > 6e4:
        raise Reject("out of float16's range")
    g.emit(op, [x], {"dtype": target})


def _gen_reinterpret(g: Generator, op: str) -> None:
    # bool's bits are not a byte's, bfloat16's numpy stand-in is float32's width: neither
    plain = tuple(d for d in ALL if d not in ("bool", "bfloat16"))
    x = g.tensor(plain)
    width = numpy_dtype(x.dtype).itemsize
    g.emit(op, [x], {"dtype": g.choice([d for d in plain if numpy_dtype(d).itemsize == width])})


def _gen_where(g: Generator, op: str) -> None:
    x = g.tensor(ALL)
    y = g.tensor(x.dtype, shape=_broadcast_partner(g, x.shape))
    cond = g.tensor("bool", shape=_broadcast_partner(g, x.shape))
    g.emit(op, [cond, x, y], {})


def _axes_attrs(g: Generator, rank: int) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    r = g.int(0, 3)
    if r == 1 and rank:
        attrs["axis"] = [g.int(-rank, rank - 1)]
    elif r == 2 and rank:
        k = g.int(1, rank)
        axes = list(g.rng.permutation(rank)[:k])
        attrs["axis"] = [int(a) - (rank if g.chance(0.3) else 0) for a in axes]
    elif r == 3:
        attrs["axis"] = []
    if g.chance(0.4):
        attrs["keepdims"] = True
    if g.chance(0.2):
        attrs["exclude"] = True
    return attrs


def _gen_reduce(g: Generator, op: str) -> None:
    if op in ("sum", "prod") and g.chance(0.08):
        # An empty reduction: an axis of size 0.
        shape = list(g.shape(g.int(1, 3)))
        shape[g.int(0, len(shape) - 1)] = 0
        x = g.param(tuple(shape), g.dtype(NUMERIC))
    else:
        x = g.tensor(ALL if g.chance(0.1) else NUMERIC, rank=(0, 4))
        if op == "prod" and x.value.size > 12:
            raise Reject("prod of many values overflows")
    attrs = _axes_attrs(g, x.rank)
    if op in ("argmax", "argmin") and g.chance(0.4):
        attrs["select_last_index"] = True
    if op in ("max", "min", "argmax", "argmin") and x.value.size == 0:
        raise Reject("empty")
    g.emit(op, [x], attrs)


def _gen_variance(g: Generator, op: str) -> None:
    x = g.tensor(FLOATS, rank=(1, 4))
    attrs = _axes_attrs(g, x.rank)
    mean_attrs = {k: v for k, v in attrs.items() if k != "keepdims"}
    (mean,) = g.emit("mean", [x], {**mean_attrs, "keepdims": True})
    if g.chance(0.3):
        attrs["unbiased"] = True
    g.emit(op, [x, mean], attrs)


def _padding(g: Generator, hi: int) -> list[int]:
    n = g.choice([1, 2, 4])
    return [g.int(0, hi) for _ in range(n)]


def _image(g: Generator, dtypes: tuple[str, ...], nhwc: bool) -> Val:
    """A small 4-d operand: a value of the pool, or a new (1-2, 1-4, 3-7, 3-7) parameter."""
    small = lambda v: v.shape[0] <= 2 and max(v.shape) <= 8  # noqa: E731
    x = g.tensor(dtypes, rank=4, reuse=0.6, where=small)
    if small(x):
        return x
    n, c, h, w = g.int(1, 2), g.int(1, 4), g.int(3, 7), g.int(3, 7)
    return g.param((n, h, w, c) if nhwc else (n, c, h, w), g.dtype(dtypes))


def _gen_conv2d(g: Generator, op: str) -> None:
    nhwc = g.chance(0.3)
    dtype_set = ("float32", "float16", "float64", "int32", "int8", "bfloat16")
    existing = _image(g, dtype_set, nhwc)
    n, c, h, w = (
        existing.shape if not nhwc else (existing.shape[0], existing.shape[3], *existing.shape[1:3])
    )
    if max(h, w) > 9 or c > 8 or n > 2:
        raise Reject("too large")
    groups = g.choice([1, 1, 1, c] + ([2] if c % 2 == 0 else []))
    if c % groups:
        raise Reject("groups")
    out_c = groups * g.int(1, 3)
    kh, kw = g.int(1, 3), g.int(1, 3)
    cpg = c // groups
    wshape = (kh, kw, cpg, out_c) if nhwc else (out_c, cpg, kh, kw)
    weight = g.param(wshape, existing.dtype, "small")
    attrs: dict[str, Any] = {
        "strides": [g.int(1, 2), g.int(1, 2)],
        "padding": _padding(g, 2),
        "dilation": [g.int(1, 2), g.int(1, 2)] if g.chance(0.3) else [1, 1],
        "groups": groups,
    }
    if nhwc:
        attrs |= {"data_layout": "NHWC", "kernel_layout": "HWIO"}
    if g.chance(0.3):
        attrs["channels"] = out_c
        attrs["kernel_size"] = [kh, kw]
    if existing.dtype in ("int8",) or (existing.dtype == "float16" and g.chance(0.3)):
        attrs["out_dtype"] = "int32" if existing.dtype == "int8" else "float32"
    g.emit(op, [existing, weight], attrs)


def _gen_conv2d_transpose(g: Generator, op: str) -> None:
    x = _image(g, ("float32", "float16", "float64", "int32"), False)
    n, c, h, w = x.shape
    if max(h, w) > 7 or c > 6 or n > 2:
        raise Reject("too large")
    groups = g.choice([1, 1] + ([2] if c % 2 == 0 else []) + [c])
    opg = g.int(1, 2)
    kh, kw = g.int(1, 3), g.int(1, 3)
    weight = g.param((c, opg, kh, kw), x.dtype, "small")
    strides = [g.int(1, 2), g.int(1, 2)]
    attrs: dict[str, Any] = {
        "strides": strides,
        "padding": _padding(g, 1),
        "output_padding": [g.int(0, strides[0] - 1), g.int(0, strides[1] - 1)],
        "dilation": [g.int(1, 2), g.int(1, 2)] if g.chance(0.3) else [1, 1],
        "groups": groups,
    }
    if g.chance(0.3):
        attrs["channels"] = opg * groups
    g.emit(op, [x, weight], attrs)


def _contraction_dtype(g: Generator) -> tuple[str, ...]:
    return ("float32", "float16", "float64", "int32", "int64", "int8", "uint8", "bfloat16")


def _gen_dense(g: Generator, op: str) -> None:
    x = g.tensor(_contraction_dtype(g), rank=(1, 3))
    k = x.shape[-1]
    if k > 16 or x.value.size > 200:
        raise Reject("too large")
    units = g.int(1, 6)
    weight = g.param((units, k), x.dtype, "small")
    attrs: dict[str, Any] = {"units": units} if g.chance(0.3) else {}
    if x.dtype in ("int8", "uint8") and g.chance(0.5):
        attrs["out_dtype"] = "int32"
    g.emit(op, [x, weight], attrs)


def _gen_matmul(g: Generator, op: str) -> None:
    ta, tb = g.chance(0.3), g.chance(0.4)
    a = g.tensor(_contraction_dtype(g), rank=2 if ta else (1, 3))
    if a.value.size > 200:
        raise Reject("too large")
    k = a.shape[-2] if ta else a.shape[-1]
    n = g.int(1, 5)
    b = g.param((n, k) if tb else (k, n), a.dtype, "small")
    g.emit(op, [a, b], {"transpose_a": ta, "transpose_b": tb})


def _gen_batch_matmul(g: Generator, op: str) -> None:
    ta, tb = g.chance(0.3), g.chance(0.5)
    x = g.tensor(_contraction_dtype(g), rank=3)
    if x.value.size > 200:
        raise Reject("too large")
    batch, m, k = x.shape
    if ta:
        m, k = k, m
    n = g.int(1, 5)
    b2 = 1 if g.chance(0.2) else batch
    y = g.param((b2, n, k) if tb else (b2, k, n), x.dtype, "small")
    g.emit(op, [x, y], {"transpose_a": ta, "transpose_b": tb})


def _gen_channel_vector(g: Generator, op: str) -> None:
    x = g.tensor(NUMERIC, rank=(1, 4))
    axis = g.int(-x.rank, x.rank - 1) if g.chance(0.6) else 1
    if not -x.rank <= axis < x.rank:
        raise Reject("axis")
    vec = g.param((x.shape[axis],), x.dtype, "small")
    g.emit(op, [x, vec], {"axis": axis})


def _gen_softmax(g: Generator, op: str) -> None:
    x = g.tensor(FLOATS, rank=(1, 4))
    g.emit(op, [x], {"axis": g.int(-x.rank, x.rank - 1)})


def _pool_input(g: Generator, dtypes: tuple[str, ...]) -> tuple[Val, bool]:
    x = g.tensor(dtypes, rank=4)
    if max(x.shape) > 9:
        raise Reject("too large")
    return x, g.chance(0.3)


def _gen_pool(g: Generator, op: str) -> None:
    x, nhwc = _pool_input(g, ("float32", "float16", "float64", "int32", "int8", "uint8"))
    h, w = (x.shape[1], x.shape[2]) if nhwc else (x.shape[2], x.shape[3])
    kh, kw = g.int(1, min(3, h)), g.int(1, min(3, w))
    pad = [g.int(0, kh - 1), g.int(0, kw - 1)]
    if g.chance(0.3):
        pad = [pad[0], pad[1], g.int(0, kh - 1), g.int(0, kw - 1)]
    attrs: dict[str, Any] = {
        "pool_size": [kh, kw],
        "strides": [g.int(1, 2), g.int(1, 2)],
        "padding": pad,
        "dilation": [g.int(1, 2), g.int(1, 2)] if g.chance(0.2) else [1, 1],
        "ceil_mode": g.chance(0.3),
    }
    if nhwc:
        attrs["layout"] = "NHWC"
    if op == "nn.avg_pool2d":
        if not _is_float(x.dtype) and not g.chance(0.3):
            raise Reject("integer average pooling, rarely")
        attrs["count_include_pad"] = g.chance(0.4)
    g.emit(op, [x], attrs)


def _gen_global_pool(g: Generator, op: str) -> None:
    x, nhwc = _pool_input(g, ("float32", "float16", "float64", "int32"))
    g.emit(op, [x], {"layout": "NHWC"} if nhwc else {})


def _gen_adaptive(g: Generator, op: str) -> None:
    x, nhwc = _pool_input(g, ("float32", "float16", "float64"))
    attrs: dict[str, Any] = {"layout": "NHWC"} if nhwc else {}
    r = g.int(0, 2)
    if r == 1:
        attrs["output_size"] = [g.int(1, 4)]
    elif r == 2:
        attrs["output_size"] = [g.int(1, 4), g.int(1, 4)]
    g.emit(op, [x], attrs)


def _gen_batch_norm(g: Generator, op: str) -> None:
    x = g.tensor(FLOATS, rank=(2, 4))
    axis = g.choice([1, 1, -1, x.rank - 1])
    c = x.shape[axis]
    gamma, beta = g.param((c,), x.dtype, "small"), g.param((c,), x.dtype, "small")
    mean, var = g.param((c,), x.dtype, "small"), g.param((c,), x.dtype, "positive")
    attrs = {"axis": axis, "center": not g.chance(0.2), "scale": not g.chance(0.2)}
    if g.chance(0.2):
        attrs["epsilon"] = g.choice([1e-3, 0.1])
    g.emit(op, [x, gamma, beta, mean, var], attrs)


def _gen_norm(g: Generator, op: str) -> None:
    min_rank = {"nn.layer_norm": 1, "nn.instance_norm": 3, "nn.group_norm": 2}[op]
    x = g.tensor(FLOATS, rank=(min_rank, 4))
    if x.value.size < 2:
        raise Reject("too small to normalize")
    axis = g.int(-x.rank, x.rank - 1) if op == "nn.layer_norm" else g.choice([1, -1])
    if op != "nn.layer_norm" and (axis % x.rank) == 0:
        raise Reject("the batch axis")
    c = x.shape[axis]
    attrs: dict[str, Any] = {"axis": axis, "center": g.chance(0.8), "scale": g.chance(0.8)}
    if op == "nn.group_norm":
        attrs["num_groups"] = g.choice([d for d in range(1, c + 1) if c % d == 0])
    if g.chance(0.3):
        attrs["epsilon"] = g.choice([1e-3, 0.1])
    gamma, beta = g.param((c,), x.dtype, "small"), g.param((c,), x.dtype, "small")
    g.emit(op, [x, gamma, beta], attrs)


def _gen_l2_normalize(g: Generator, op: str) -> None:
    x = g.tensor(FLOATS, rank=(1, 4))
    attrs: dict[str, Any] = {"eps": g.choice([1e-12, 1e-4, 10.0])}
    if g.chance(0.6):
        attrs["axis"] = [g.int(-x.rank, x.rank - 1)]
    g.emit(op, [x], attrs)


def _gen_dropout(g: Generator, op: str) -> None:
    g.emit(op, [g.tensor(ALL)], {"rate": g.choice([0.5, 0.0, 0.9])})


def _gen_pad(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 4))
    mode = g.choice(["constant", "constant", "edge", "reflect"])
    widths = []
    for d in x.shape:
        hi = min(2, d - 1) if mode == "reflect" else 2
        widths.append([g.int(0, max(hi, 0)), g.int(0, max(hi, 0))])
    if g.chance(0.5):
        value = g.tensor(x.dtype, shape=())
    else:
        g.scalar(x.dtype, g.array((), x.dtype).item())
        value = g.pool[-1]
    g.emit(op, [x, value], {"pad_width": widths, "pad_mode": mode})


def _gen_batch_flatten(g: Generator, op: str) -> None:
    g.emit(op, [g.tensor(ALL, rank=(1, 4))], {})


def _gen_reshape(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(0, 4))
    shape = list(x.shape)
    size = int(np.prod(shape, dtype=np.int64))
    r = g.int(0, 5)
    if r == 0:  # a random factorization
        new = []
        rest = size
        while rest > 1 and len(new) < 4:
            divisors = [d for d in range(2, rest + 1) if rest % d == 0]
            d = g.choice(divisors)
            new.append(d)
            rest //= d
        if g.chance(0.3):
            new.insert(g.int(0, len(new)), 1)
        newshape = new or [1]
        if g.chance(0.4):
            newshape[g.int(0, len(newshape) - 1)] = -1
    elif r == 1 and shape:  # copy dims with 0, infer one with -1
        newshape = [0] * (len(shape) - 1) + [-1]
    elif r == 2 and shape:
        newshape = [0, -2] if g.chance(0.5) else [-2]
    elif r == 3 and len(shape) >= 2:
        newshape = [-3, -2]
    elif r == 4 and shape and shape[0] % 2 == 0:
        newshape = [-4, 2, -1, -2]
    else:
        newshape = [-1]
    g.emit(op, [x], {"newshape": newshape})


def _gen_dyn_reshape(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 3))
    shape = [int(d) for d in x.shape]
    r = g.int(0, 2)
    new = [int(x.value.size)] if r == 0 else shape[::-1] if r == 1 else [1, *shape]
    name = g.fresh_name("p")
    value = np.array(new, dtype=np.int64)
    g.params.append(Param(name, "int64", value))
    [y] = g.emit(op, [x, Val(name, "int64", value, True, 1.0)], {})
    # Its dims are ?: later operators read it through a static reshape (few have shape
    # functions for ? dims).
    g.pool.remove(y)
    g.emit("reshape", [y], {"newshape": new})


def _gen_dyn_strided_slice(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 3))
    begin, size, strides = [], [], []
    for dim in x.shape:
        b = g.int(0, dim - 1)
        st = g.choice([1, 1, 2])
        begin.append(b)
        size.append(g.int(0, (dim - 1 - b) // st + 1))
        strides.append(st)
    operands = []
    for values in (begin, size):
        name = g.fresh_name("p")
        value = np.array(values, dtype=np.int64)
        g.params.append(Param(name, "int64", value))
        operands.append(Val(name, "int64", value, True, 1.0))
    [y] = g.emit(op, [x, *operands], {"strides": strides})
    g.pool.remove(y)  # its dims are ?: later operators read it through a static reshape
    g.emit("reshape", [y], {"newshape": list(y.shape)})


def _gen_dyn_update_slice(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 3))
    sizes = tuple(g.int(0, int(d)) for d in x.shape)
    update = g.tensor(x.dtype, shape=sizes)
    name = g.fresh_name("p")
    value = np.array([g.int(0, int(d) - s) for d, s in zip(x.shape, sizes, strict=True)], np.int64)
    g.params.append(Param(name, "int64", value))
    g.emit(op, [x, update, Val(name, "int64", value, True, 1.0)], {})


def _gen_dyn_broadcast_to(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(0, 3))
    lead = [g.int(1, 3) for _ in range(g.int(0, 1))]
    new = lead + [g.int(1, 3) if d == 1 else int(d) for d in x.shape]
    name = g.fresh_name("p")
    value = np.array(new, dtype=np.int64)
    g.params.append(Param(name, "int64", value))
    [y] = g.emit(op, [x, Val(name, "int64", value, True, 1.0)], {})
    g.pool.remove(y)  # its dims are ?: later operators read it through a static reshape
    g.emit("reshape", [y], {"newshape": new})


def _gen_dyn_tile(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(0, 3))
    reps = [g.int(1, 3) for _ in range(g.int(1, x.rank + 1))]
    name = g.fresh_name("p")
    value = np.array(reps, dtype=np.int64)
    g.params.append(Param(name, "int64", value))
    [y] = g.emit(op, [x, Val(name, "int64", value, True, 1.0)], {})
    g.pool.remove(y)  # its dims are ?: later operators read it through a static reshape
    g.emit("reshape", [y], {"newshape": list(np.tile(x.value, reps).shape)})


def _gen_transpose(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 4))
    attrs: dict[str, Any] = {}
    if g.chance(0.7):
        perm = [int(a) for a in g.rng.permutation(x.rank)]
        attrs["axes"] = [a - x.rank if g.chance(0.3) else a for a in perm]
    g.emit(op, [x], attrs)


def _gen_squeeze(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 4), where=lambda v: 1 in v.shape)
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    attrs: dict[str, Any] = {}
    if ones and g.chance(0.6):
        k = g.int(1, len(ones))
        attrs["axis"] = [a - x.rank if g.chance(0.3) else a for a in ones[:k]]
    elif g.chance(0.3):
        attrs["axis"] = []
    g.emit(op, [x], attrs)


def _gen_expand_dims(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(0, 3))
    g.emit(op, [x], {"axis": g.int(-x.rank - 1, x.rank), "num_newaxis": g.choice([1, 1, 2, 0])})


def _gen_concatenate(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 4))
    axis = g.int(-x.rank, x.rank - 1)
    fields = [x]
    for _ in range(g.int(0, 2)):
        shape = list(x.shape)
        shape[axis] = g.int(0 if g.chance(0.1) else 1, 3)
        fields.append(g.tensor(x.dtype, shape=tuple(shape)) if g.chance(0.8) else x)
    g.emit(op, [fields], {"axis": axis})


def _gen_stack(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(0, 3))
    fields = [x] + [g.tensor(x.dtype, shape=x.shape) for _ in range(g.int(0, 2))]
    g.emit(op, [fields], {"axis": g.int(-x.rank - 1, x.rank)})


def _gen_split(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 4))
    axis = g.int(-x.rank, x.rank - 1)
    d = x.shape[axis]
    if g.chance(0.5):
        sections: Any = g.choice([k for k in range(1, d + 1) if d % k == 0])
    else:
        sections = sorted(g.int(0, d) for _ in range(g.int(1, 3)))
    g.emit(op, [x], {"indices_or_sections": sections, "axis": axis})


def _gen_strided_slice(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 4))
    rank = x.rank
    use_axes = g.chance(0.3)
    axes = sorted(int(a) for a in g.rng.permutation(rank)[: g.int(1, rank)]) if use_axes else None
    n = len(axes) if axes is not None else g.int(1, rank)
    begin, end, strides = [], [], []
    size_mode = g.chance(0.15)
    for k in range(n):
        d = x.shape[axes[k] if axes is not None else k]
        step = g.choice([1, 1, 2, -1, -2, 3])
        if size_mode:
            step = 1
        begin.append(g.int(-d - 1, d + 1))
        end.append(g.int(-1, d) if size_mode else g.int(-d - 2, d + 2))
        strides.append(step)
    attrs: dict[str, Any] = {"begin": begin, "end": end}
    if g.chance(0.7):
        attrs["strides"] = strides if g.chance(0.7) else strides[:1]
    if axes is not None:
        attrs["axes"] = axes
    if size_mode:
        attrs["slice_mode"] = "size"
    g.emit(op, [x], attrs)


def _gen_take(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 3))
    mode = g.choice(["clip", "clip", "wrap", "fast"])
    axis = None if g.chance(0.25) else g.int(-x.rank, x.rank - 1)
    n = x.value.size if axis is None else x.shape[axis]
    lo, hi = (0, n - 1) if mode == "fast" else (-n - 2, n + 2)
    ishape = g.shape(g.int(0, 2), 1, 4)
    name = g.fresh_name("p")
    idtype = g.choice(["int32", "int64"])
    value = g.rng.integers(lo, hi + 1, ishape).astype(numpy_dtype(idtype))
    g.params.append(Param(name, idtype, value))
    attrs: dict[str, Any] = {"mode": mode}
    if axis is not None:
        attrs["axis"] = axis
    g.emit(op, [x, Val(name, idtype, value, True, 1.0)], attrs)


def _gen_reverse_sequence(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(2, 4))
    seq, batch = (int(a) for a in g.rng.permutation(x.rank)[:2])
    if g.chance(0.3):
        seq -= x.rank
    name = g.fresh_name("p")
    ldtype = g.choice(["int32", "int64"])
    value = g.rng.integers(-1, x.shape[seq % x.rank] + 3, (x.shape[batch],))
    value = value.astype(numpy_dtype(ldtype))
    g.params.append(Param(name, ldtype, value))
    g.emit(op, [x, Val(name, ldtype, value, True, 1.0)], {"seq_axis": seq, "batch_axis": batch})


def _gen_broadcast_to(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(0, 3))
    target = [g.int(1, 3) for _ in range(g.int(0, 1))] + [
        g.int(1, 3) if d == 1 else d for d in x.shape
    ]
    g.emit(op, [x], {"shape": target})


def _gen_broadcast_to_like(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(0, 3))
    target = [g.int(1, 3) for _ in range(g.int(0, 1))] + [
        g.int(1, 3) if d == 1 else d for d in x.shape
    ]
    g.emit(op, [x, g.tensor(ALL, shape=tuple(target))], {})


def _gen_collapse_sum(g: Generator, op: str) -> None:
    """Sum back to a shape that broadcasts to the operand's (leading axes dropped, some
    axes kept as 1)."""
    x = g.tensor(FLOATS + INTS, rank=(1, 3))
    keep = g.int(0, x.rank)
    target = tuple(1 if g.chance(0.4) else d for d in x.shape[x.rank - keep :])
    if op == "collapse_sum_to":
        g.emit(op, [x], {"shape": list(target)})
    else:
        g.emit(op, [x, g.tensor(ALL, shape=target)], {})


def _gen_reshape_like(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 3))
    size = int(np.prod(x.shape, dtype=np.int64))
    like = (size,) if g.chance(0.5) else (1, size)
    g.emit(op, [x, g.tensor(ALL, shape=like)], {})


def _gen_tile(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(0, 3))
    reps = [g.int(1, 3) for _ in range(g.int(1, x.rank + 1))]
    g.emit(op, [x], {"reps": reps})


def _gen_repeat(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=(1, 3))
    g.emit(op, [x], {"repeats": g.int(1, 3), "axis": g.int(-x.rank, x.rank - 1)})


def _gen_create(g: Generator, op: str) -> None:
    shape = list(g.shape(g.int(0, 3)))
    g.emit(op, [], {"shape": shape, "dtype": g.choice(ALL)})


def _gen_full(g: Generator, op: str) -> None:
    dtype = g.choice(ALL)
    fill = g.tensor(dtype, shape=(), kind="small") if g.chance(0.5) else None
    if fill is None:
        g.scalar(dtype, g.array((), dtype, "small").item())
        fill = g.pool[-1]
    attrs: dict[str, Any] = {"shape": list(g.shape(g.int(0, 3)))}
    if g.chance(0.4):
        target = g.choice(ALL)
        if _is_float(dtype) and target in UNSIGNED and float(fill.value) < 0:
            raise Reject("negative to unsigned")
        attrs["dtype"] = target
    g.emit(op, [fill], attrs)


def _gen_like(g: Generator, op: str) -> None:
    g.emit(op, [g.tensor(ALL)], {})


def _gen_size(g: Generator, op: str) -> None:
    g.emit(op, [g.tensor(ALL, rank=(0, 4))], {"dtype": g.choice(("int32", "int64"))})


def _gen_arange(g: Generator, op: str) -> None:
    dtype = g.choice(("float32", "int32", "int64", "float64", "int8"))
    if _is_float(dtype):
        start, step = g.choice([0.0, 1.5, -2.0]), g.choice([1.0, 0.5, -1.0, 2.5])
        stop = start + step * g.int(0, 8) + (0.25 if g.chance(0.5) else 0.0)
    else:
        start, step = g.int(-5, 5), g.choice([1, 2, -1, 3])
        stop = start + step * g.int(0, 8) + (1 if g.chance(0.3) else 0)
    vals: list[Val | list[Val]] = []
    for v in (start, stop, step):
        g.scalar(dtype, v)
        vals.append(g.pool[-1])
    g.emit(op, vals, {"dtype": g.choice([dtype, dtype, "float32", "int64"])})


def _gen_layout_transform(g: Generator, op: str) -> None:
    r = g.int(0, 3)
    if r == 0:
        src, dst, shape = "NCHW", "NHWC", g.shape(4)
    elif r == 1:
        src, dst, shape = "NHWC", "NCHW", g.shape(4)
    elif r == 2:
        n, c, h, w = g.shape(4)
        src, dst, shape = "NCHW", "NCHW4c", (n, 4 * c, h, w)
    else:
        n, c, h, w = g.shape(4)
        src, dst, shape = "NCHW4c", "NCHW", (n, c, h, w, 4)
    x = g.tensor(ALL, shape=tuple(shape))
    g.emit(op, [x], {"src_layout": src, "dst_layout": dst})


def _gen_resize(g: Generator, op: str) -> None:
    nhwc = g.chance(0.3)
    method = g.choice(["nearest_neighbor", "linear", "cubic"])
    x = g.tensor(FLOATS if method != "nearest_neighbor" else ALL, rank=4)
    if max(x.shape) > 8:
        raise Reject("too large")
    attrs: dict[str, Any] = {
        "size": [g.int(1, 8), g.int(1, 8)],
        "method": method,
        "coordinate_transformation_mode": g.choice(
            [
                "half_pixel",
                "align_corners",
                "asymmetric",
                "pytorch_half_pixel",
                "tf_crop_and_resize",
            ]
        ),
    }
    if nhwc:
        attrs["layout"] = "NHWC"
    if attrs["coordinate_transformation_mode"] == "tf_crop_and_resize":
        # quarter steps, some past the input: exact coordinates, extrapolated outputs
        attrs["roi"] = [g.choice([-0.25, 0.0, 0.25, 0.5]) for _ in range(2)] + [
            g.choice([0.5, 0.75, 1.0, 1.25]) for _ in range(2)
        ]
        attrs["extrapolation_value"] = g.choice([0.0, -2.5])
    if method == "nearest_neighbor" and g.chance(0.5):
        attrs["rounding_method"] = g.choice(
            ["round", "floor", "ceil", "round_prefer_floor", "round_prefer_ceil"]
        )
    if method == "cubic" and g.chance(0.5):
        attrs["cubic_alpha"] = -0.75
        attrs["cubic_exclude"] = g.int(0, 1)
    if method != "nearest_neighbor" and g.chance(0.3):
        attrs["antialias"] = True
    if method != "nearest_neighbor" and x.dtype == "float16" and g.chance(0.5):
        attrs["out_dtype"] = "float32"
    g.emit(op, [x], attrs)


def _gen_grid_sample(g: Generator, op: str) -> None:
    """The grid is a new parameter of quarter steps past [-1, 1]: exact positions, so a
    nearest pick or a border never depends on how the coordinate arithmetic rounds."""
    volumetric = g.chance(0.25)
    x = g.tensor(("float32", "float16", "float64"), rank=5 if volumetric else 4)
    k = x.rank - 2
    if max(x.shape) > 8 or 0 in x.shape:
        raise Reject("too large or empty")
    gshape = (x.shape[0], k, *g.shape(k, 1, 4))
    name = g.fresh_name("p")
    value = (g.rng.integers(-6, 7, gshape) / 4).astype(numpy_dtype(x.dtype))
    g.params.append(Param(name, x.dtype, value))
    grid = Val(name, x.dtype, value, True, 1.0)
    methods = ["nearest", "bilinear"] + ([] if volumetric else ["bicubic"])
    attrs: dict[str, Any] = {
        "method": g.choice(methods),
        "padding_mode": g.choice(["zeros", "border", "reflection"]),
        "align_corners": g.chance(0.5),
    }
    if volumetric:
        attrs["layout"] = "NCDHW"
    g.emit(op, [x, grid], attrs)


def _gen_roi_align(g: Generator, op: str) -> None:
    """The rois are a new parameter of quarter-step corners (some outside the data): exact,
    so each region's sample count (a ceil of its size) is the same in both computations."""
    x = g.tensor(("float32", "float16", "float64"), rank=4)
    n, _, h, w = x.shape
    if max(x.shape) > 8 or 0 in x.shape:
        raise Reject("too large or empty")
    count = g.int(1, 3)
    corners = g.rng.integers(-8, 4 * max(h, w) + 8, (count, 4)) / 4
    index = g.rng.integers(0, n, (count, 1))
    value = np.concatenate([index, corners], axis=1).astype(numpy_dtype(x.dtype))
    name = g.fresh_name("p")
    g.params.append(Param(name, x.dtype, value))
    rois = Val(name, x.dtype, value, True, 1.0)
    attrs: dict[str, Any] = {
        "pooled_size": [g.int(1, 3), g.int(1, 3)],
        "mode": g.choice(["avg", "max"]),
        "aligned": g.chance(0.5),
        "spatial_scale": g.choice([1.0, 0.5]),
    }
    if g.chance(0.3):
        attrs["sample_ratio"] = g.int(1, 3)
    g.emit(op, [x, rois], attrs)


def _gen_nms(g: Generator, op: str) -> None:
    """Quarter-step boxes (exact areas, so each overlap is one correctly rounded quotient in
    both computations) with tied scores. The result's row count is data-dependent: it is an
    output only, never another call's operand."""
    dtype = g.choice(("float32", "float16", "float64"))
    batches, classes, n = g.int(1, 2), g.int(1, 3), g.int(0, 6)
    ftype = numpy_dtype(dtype)
    values = [
        (g.rng.integers(-4, 24, (batches, n, 4)) / 4).astype(ftype),
        (g.rng.integers(0, 4, (batches, classes, n)) / 4).astype(ftype),
        np.array([g.int(0, 4)], np.int64),
        np.array([g.choice([0.0, 0.25, 0.5])], ftype),
        np.array(g.choice([-np.inf, 0.25]), ftype),
    ]
    operands = []
    for value in values:
        name = g.fresh_name("p")
        d = "int64" if value.dtype == np.int64 else dtype
        g.params.append(Param(name, d, value))
        operands.append(Val(name, d, value, True, _scale_of(value)))
    for out in g.emit(op, operands, {"center_point_box": g.chance(0.5)}):
        g.pool.remove(out)


def _gen_unique(g: Generator, op: str) -> None:
    """Data with repeated values (and slices); the results' sizes are data-dependent, so they
    are outputs only, never another call's operand."""
    x = g.tensor(NUMERIC, rank=(1, 3), kind="small", where=lambda v: v.exact)
    if x.value.size > 24:
        raise Reject("too large")
    axis = g.int(-x.rank, x.rank - 1) if g.chance(0.5) else None
    for out in g.emit(op, [x], {"sorted": g.chance(0.5), "axis": axis}):
        g.pool.remove(out)


def _gen_det(g: Generator, op: str) -> None:
    m = g.int(1, 4)
    lead = g.shape(g.int(0, 2), 1, 3)
    x = g.tensor(("float32", "float16", "float64"), shape=(*lead, m, m))
    g.emit(op, [x], {})


def _gen_max_unpool(g: Generator, op: str) -> None:
    x = g.tensor(ALL, rank=4)
    if 0 in x.shape or x.value.size > 64:
        raise Reject("too large or empty")
    shape = [x.shape[0], x.shape[1], x.shape[2] * 2, x.shape[3] + g.int(0, 2)]
    size = int(np.prod(shape))
    name = g.fresh_name("p")
    idtype = g.choice(["int32", "int64"])
    value = g.rng.integers(-1, size + 1, x.shape).astype(numpy_dtype(idtype))
    g.params.append(Param(name, idtype, value))
    g.emit(op, [x, Val(name, idtype, value, True, 1.0)], {"shape": shape})


def _gen_deformable_conv2d(g: Generator, op: str) -> None:
    """Offsets are a new parameter of quarter steps: exact tap positions, so whether a tap
    lands inside the data never depends on rounding."""
    x = g.tensor(("float32", "float16", "float64"), rank=4)
    n, c, h, w = x.shape
    if max(x.shape) > 6 or 0 in x.shape:
        raise Reject("too large or empty")
    kh, kw = g.int(1, min(h, 3)), g.int(1, min(w, 3))
    groups = g.choice([d for d in (1, 2) if c % d == 0])
    dg = g.choice([d for d in (1, 2) if c % d == 0])
    oc = groups * g.int(1, 2)
    oh, ow = h - kh + 1, w - kw + 1
    dtype = numpy_dtype(x.dtype)
    values = {
        "offset": (g.rng.integers(-8, 9, (n, dg * kh * kw * 2, oh, ow)) / 4).astype(dtype),
        "weight": g.array((oc, c // groups, kh, kw), x.dtype),
        "mask": (g.rng.integers(0, 5, (n, dg * kh * kw, oh, ow)) / 4).astype(dtype),
    }
    vals = []
    for value in values.values():
        name = g.fresh_name("p")
        g.params.append(Param(name, x.dtype, value))
        vals.append(Val(name, x.dtype, value, True, _scale_of(value)))
    offset, weight, mask = vals
    g.emit(op, [x, offset, weight, mask], {"groups": groups, "deformable_groups": dg})


def _gen_tuple(g: Generator, op: str) -> None:
    """A tuple of pool values and a projection of one field (tuple and tuple_get as such)."""
    fields = [g.tensor(ALL, reuse=0.9) for _ in range(g.int(1, 3))]
    tname = g.fresh_name("t")
    g.nodes.append(Node(tname, "tuple", [v.name for v in fields]))
    i = g.int(0, len(fields) - 1)
    f = fields[i]
    name = g.fresh_name("v")
    g.nodes.append(
        Node(name, "tuple_get", [tname], index=i, dtype=f.dtype, value=f.value, exact=f.exact)
    )
    g.nodes[-1].scale = f.scale
    g.nodes[-1].precision = f.precision
    g.pool.append(Val(name, f.dtype, f.value, f.exact, f.scale, f.precision))


_G = Callable[[Generator, str], None]

GENERATORS: dict[str, _G] = {
    "exp": _unary(FLOATS, bound=8.0),
    "log": _unary(FLOATS, kind="positive"),
    "sqrt": _unary(FLOATS, kind="positive"),
    "rsqrt": _unary(FLOATS, kind="positive"),
    "tanh": _unary(FLOATS),
    "sigmoid": _unary(FLOATS, bound=30.0),
    "erf": _unary(FLOATS),
    "floor": _unary(FLOATS),
    "ceil": _unary(FLOATS),
    "round": _unary(FLOATS),
    "sin": _unary(FLOATS, bound=100.0),
    "cos": _unary(FLOATS, bound=100.0),
    "tan": _unary(FLOATS, bound=1.4),  # away from the poles at +-pi/2
    "sinh": _unary(FLOATS, bound=8.0),
    "cosh": _unary(FLOATS, bound=8.0),
    "asin": _unary(FLOATS, bound=0.9),  # inside the domain, away from its edges
    "acos": _unary(FLOATS, bound=0.9),
    "atanh": _unary(FLOATS, bound=0.9),
    "atan": _unary(FLOATS),
    "asinh": _unary(FLOATS),
    "acosh": _unary(FLOATS, kind="positive"),
    "log2": _unary(FLOATS, kind="positive"),
    "log10": _unary(FLOATS, kind="positive"),
    "trunc": _unary(NUMERIC),
    "bitwise_not": _unary((*INTS, "bool")),
    "negative": _unary(NUMERIC),
    "abs": _unary(NUMERIC),
    "logical_not": _unary(("bool",)),
    "nn.relu": _unary(NUMERIC),
    "nn.leaky_relu": _gen_leaky_relu,
    "clip": _gen_clip,
    "cast": _gen_cast,
    "reinterpret": _gen_reinterpret,
    "add": _binary(NUMERIC),
    "subtract": _binary(NUMERIC),
    "multiply": _binary(NUMERIC),
    "divide": _gen_divide,
    "power": _gen_power,
    "maximum": _binary(NUMERIC),
    "minimum": _binary(NUMERIC),
    "mod": _gen_divide,
    "floor_divide": _gen_divide,
    "left_shift": _gen_shift,
    "right_shift": _gen_shift,
    "equal": _binary(ALL),
    "not_equal": _binary(ALL),
    "less": _binary(ALL),
    "less_equal": _binary(ALL),
    "greater": _binary(ALL),
    "greater_equal": _binary(ALL),
    "logical_and": _binary(("bool",)),
    "logical_or": _binary(("bool",)),
    "bitwise_and": _binary((*INTS, "bool")),
    "bitwise_or": _binary((*INTS, "bool")),
    "bitwise_xor": _binary((*INTS, "bool")),
    "where": _gen_where,
    "sum": _gen_reduce,
    "mean": _gen_reduce,
    "max": _gen_reduce,
    "min": _gen_reduce,
    "prod": _gen_reduce,
    "argmax": _gen_reduce,
    "argmin": _gen_reduce,
    "variance": _gen_variance,
    "nn.conv2d": _gen_conv2d,
    "nn.conv2d_transpose": _gen_conv2d_transpose,
    "nn.dense": _gen_dense,
    "nn.matmul": _gen_matmul,
    "nn.batch_matmul": _gen_batch_matmul,
    "nn.bias_add": _gen_channel_vector,
    "nn.prelu": _gen_channel_vector,
    "nn.softmax": _gen_softmax,
    "nn.log_softmax": _gen_softmax,
    "nn.max_pool2d": _gen_pool,
    "nn.avg_pool2d": _gen_pool,
    "nn.global_avg_pool2d": _gen_global_pool,
    "nn.global_max_pool2d": _gen_global_pool,
    "nn.adaptive_avg_pool2d": _gen_adaptive,
    "nn.batch_norm": _gen_batch_norm,
    "nn.layer_norm": _gen_norm,
    "nn.instance_norm": _gen_norm,
    "nn.group_norm": _gen_norm,
    "nn.l2_normalize": _gen_l2_normalize,
    "nn.dropout": _gen_dropout,
    "nn.pad": _gen_pad,
    "nn.batch_flatten": _gen_batch_flatten,
    "reshape": _gen_reshape,
    "dyn.reshape": _gen_dyn_reshape,
    "dyn.broadcast_to": _gen_dyn_broadcast_to,
    "dyn.strided_slice": _gen_dyn_strided_slice,
    "dyn.update_slice": _gen_dyn_update_slice,
    "dyn.tile": _gen_dyn_tile,
    "transpose": _gen_transpose,
    "squeeze": _gen_squeeze,
    "expand_dims": _gen_expand_dims,
    "concatenate": _gen_concatenate,
    "stack": _gen_stack,
    "split": _gen_split,
    "strided_slice": _gen_strided_slice,
    "take": _gen_take,
    "reverse_sequence": _gen_reverse_sequence,
    "broadcast_to": _gen_broadcast_to,
    "broadcast_to_like": _gen_broadcast_to_like,
    "collapse_sum_like": _gen_collapse_sum,
    "collapse_sum_to": _gen_collapse_sum,
    "reshape_like": _gen_reshape_like,
    "copy": _gen_like,
    "tile": _gen_tile,
    "repeat": _gen_repeat,
    "zeros": _gen_create,
    "ones": _gen_create,
    "full": _gen_full,
    "zeros_like": _gen_like,
    "ones_like": _gen_like,
    "arange": _gen_arange,
    "shape_of": _gen_size,
    "ndarray_size": _gen_size,
    "layout_transform": _gen_layout_transform,
    "image.resize2d": _gen_resize,
    "image.grid_sample": _gen_grid_sample,
    "vision.roi_align": _gen_roi_align,
    "vision.non_max_suppression": _gen_nms,
    "unique": _gen_unique,
    "det": _gen_det,
    "nn.max_unpool": _gen_max_unpool,
    "nn.modulated_deformable_conv2d": _gen_deformable_conv2d,
    "tuple": _gen_tuple,
}
"""One generator per registry operator (plus `tuple`: a tuple and a projection)."""

NOT_GENERATED: dict[str, str] = {}
"""Registry operators the fuzzer does not generate, with the reason (reported in the summary)."""


def registry_ops() -> list[str]:
    return [d.name for d in all_ops()]


def missing_generators() -> dict[str, str]:
    """Registry operators without a generator: the reason, or 'no generator written'."""
    return {
        name: NOT_GENERATED.get(name, "no generator written")
        for name in registry_ops()
        if name not in GENERATORS or name in NOT_GENERATED
    }


def generate(seed: int, index: int, ops: list[str] | None = None, max_ops: int = 6) -> Program:
    """Program `index` of the run seeded `seed` (the same pair, the same program)."""
    names = [o for o in (ops or list(GENERATORS)) if o not in NOT_GENERATED]
    rng = np.random.default_rng([seed, index])
    for _ in range(20):
        g = Generator(rng, names, max_ops)
        g.run()
        real = [n for n in g.nodes if n.op not in ("const", "tuple", "tuple_get")]
        if real:
            break
    used = {a for n in g.nodes for a in n.args}
    sinks = [v.name for v in g.pool if v.name not in used and g_is_node(g, v.name)]
    last = next(n.name for n in reversed(g.nodes) if n.op not in ("tuple", "const"))
    outputs = [last] + [s for s in sinks if s != last][:3]
    form = "call" if rng.random() < 0.1 else "if" if rng.random() < 0.03 else "plain"
    if form == "if":
        g.params.append(Param("cond", "bool", np.array(rng.random() < 0.5)))
    return Program(g.params, g.nodes, outputs, seed, index, form).pruned()


def g_is_node(g: Generator, name: str) -> bool:
    return any(n.name == name and n.op not in ("tuple", "const") for n in g.nodes)


def describe(opdef: OpDef) -> str:  # pragma: no cover - a helper for interactive use
    return f"{opdef.name}({', '.join(opdef.args)})"
