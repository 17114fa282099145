"""The reference interpreter: runs the whole Relay language with numpy.

It is the semantics every compiled result is checked against, so it is
simple: operators run their registry entry's numpy semantics, and the
language constructs are evaluated directly. Calls, `if` branches and `match`
clauses push frames on an explicit stack instead of recursing in Python, so a
Relay program may recurse as deep as the depth limit (dialects/relay/limits.py, the
native code's too) allows: a runaway recursion is a located error, not a full memory.

Values: numpy arrays (rank 0 for scalars), Python tuples, `Closure`,
`GlobalFunction`, `ADTValue` and `RefCell`.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np
from xdsl.dialects.builtin import ModuleOp, TensorType, TupleType
from xdsl.ir import Attribute, Block, Operation, SSAValue

from relay_opt.diagnostics import ArgumentError, RelayError
from relay_opt.dialects.relay import adt, core
from relay_opt.dialects.relay.attributes import Attrs
from relay_opt.dialects.relay.ir_helpers import functions_by_name
from relay_opt.dialects.relay.limits import depth_error, max_depth
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype, string_array
from relay_opt.dialects.relay.ops.transform import DynUpdateSlice, update_slice_into
from relay_opt.dialects.relay.patterns import (
    ConstructorPattern,
    TuplePattern,
    VarPattern,
    WildcardPattern,
)
from relay_opt.dialects.relay.registry import RelayOperatorOp, TypeRelationError
from relay_opt.dialects.relay.resources import array_of
from relay_opt.dialects.relay.symbols import lookup_constructor
from relay_opt.dialects.relay.types import DYNAMIC, holds_strings, tensor_dtype
from relay_opt.runtime.values import ADTValue, RefCell  # noqa: F401 - the API's value classes

Value = Any

_CALL_COUNTS: weakref.WeakKeyDictionary[Operation, int] = weakref.WeakKeyDictionary()
"""Each `relay.call_count` op's runs so far: the interpreter's counters live with the module's
ops, so a module loaded again starts at 0, as compiled code does."""


@dataclass
class Env:
    """Values of SSA values, chained to the enclosing scope's."""

    values: dict[SSAValue, Value] = field(default_factory=dict)
    parent: Env | None = None

    def __getitem__(self, v: SSAValue) -> Value:
        env: Env | None = self
        while env is not None:
            if v in env.values:
                return env.values[v]
            env = env.parent
        raise KeyError(v)


@dataclass(eq=False)
class Closure:
    op: core.ClosureOp
    env: Env

    def __repr__(self) -> str:
        return f"<closure {self.op.function_type}>"


@dataclass(frozen=True)
class GlobalFunction:
    name: str


@dataclass
class _Frame:
    ops: list[Operation]
    env: Env
    dest: SSAValue | None  # where the caller wants the value of this frame
    depth: int = 1  # function calls on the stack up to this frame
    pc: int = 0


def _tail_base(stack: list[_Frame], value: SSAValue | None) -> int | None:
    """The index of the function frame whose remaining work is only to return `value` (a
    call's result, through the branches that yield it), or None."""
    for k in range(len(stack) - 1, -1, -1):
        frame = stack[k]
        after = frame.ops[frame.pc] if frame.pc < len(frame.ops) else None
        if not isinstance(after, (core.ReturnOp, core.YieldOp)) or after.value != value:
            return None
        if isinstance(after, core.ReturnOp):
            return k
        value = frame.dest  # a branch's value is its if's (or match's) result below
    return None


def _shape_fits(array: np.ndarray, t: TensorType[Attribute]) -> bool:
    shape = t.get_shape()
    return len(shape) == array.ndim and all(
        d in (DYNAMIC, s) for d, s in zip(shape, array.shape, strict=True)
    )


def check_value(value: Value, t: Attribute) -> str | None:
    """Why `value` does not have type `t`, or None when it does (tensors and tuples)."""
    if isinstance(t, TensorType):
        if not isinstance(value, np.ndarray):
            return f"expected a tensor, got {type(value).__name__}"
        want = numpy_dtype(tensor_dtype(t))
        if value.dtype != want or not _shape_fits(value, t):
            return f"expected {t}, got an array of shape {value.shape} and dtype {value.dtype}"
        return None
    if isinstance(t, TupleType):
        if not isinstance(value, tuple) or len(value) != len(t.types):
            return f"expected a {len(t.types)}-tuple, got {type(value).__name__}"
        for i, (v, ft) in enumerate(zip(value, t.types, strict=True)):
            if (why := check_value(v, ft)) is not None:
                return f"field {i}: {why}"
    return None


def _bf16_rounded(value: Value, t: Attribute) -> Value:
    """A bfloat16 result (float32 stands in) rounded to bfloat16, nearest even, as ml_dtypes,
    onnxruntime and native code (legalize-bf16) round each operator's result."""
    if isinstance(t, TupleType):
        return tuple(_bf16_rounded(v, f) for v, f in zip(value, t.types, strict=True))  # pyright: ignore
    if isinstance(t, TensorType) and tensor_dtype(t) == "bfloat16":
        return np.asarray(value).astype(ml_dtypes.bfloat16).astype(np.float32)
    return value


def _holders(args: list[Value]) -> int | None:
    """The references to args[0] (its env entry, `args`' slot and getrefcount's own), or
    None when it is not a writable array owning its memory (a view writes into its base)."""
    if not isinstance(args[0], np.ndarray) or args[0].base is not None:
        return None
    return sys.getrefcount(args[0]) if args[0].flags.writeable else None


def _calibrated() -> int | None:
    """What _holders counts for an array held by one env entry only, measured once (what a
    CPython call counts of its own references differs between Python versions)."""
    env = {0: np.zeros(1)}
    return _holders([env[0]])


_SOLE = _calibrated()


def _sole_holder(dead: bool, args: list[Value]) -> bool:
    """Whether dyn.update_slice may write into its data array, args[0]: its data value is
    `dead` after it (_dead_after) and the array has no holder but that value's env entry.
    CPython's reference count sees every other one: a tuple, a caller's env, the constant
    cache, the caller's inputs, a view of it. So a loop of n updates (a Scan output, an
    RNN's Y) costs n slices, not n copies of the data, and every value the program can still
    read keeps its contents."""
    return dead and _SOLE is not None and _holders(args) == _SOLE


def _ancestors(op: Operation) -> list[Operation]:
    chain = [op]
    while (parent := chain[-1].parent_op()) is not None:
        chain.append(parent)
    return chain


def _dead_after(op: Operation, value: SSAValue) -> bool:
    """Whether no use of `value` other than `op` can run after `op`: every other one ran
    before it in an enclosing block, or is in another branch of an `if` or `match` than
    `op`. A closure may run any time, so `op` inside one that `value` comes into from
    outside (each call of it sees the same value), or another use inside one, answers no."""
    home = value.owner if isinstance(value.owner, Block) else value.owner.parent_block()
    chain = _ancestors(op)
    for o in chain:
        if isinstance(o, core.ClosureOp):
            return False
        if o.parent_block() is home:
            break
    at = {id(o.parent_block()): o for o in chain}
    for use in value.uses:
        if use.operation is op:
            continue
        for o in _ancestors(use.operation):
            if isinstance(o, core.ClosureOp):
                return False
            mine = at.get(id(o.parent_block()))
            if mine is None:
                continue
            if mine is o:  # both inside o, in different regions
                if not isinstance(o, (core.IfOp, adt.MatchOp)):
                    return False
            elif not o.is_before_in_block(mine):
                return False
            break
    return True


class Interpreter:
    def __init__(self, module: ModuleOp):
        self.module = module
        self.functions = functions_by_name(module)
        self._attrs: dict[Operation, Attrs] = {}
        self._constants: dict[Operation, np.ndarray] = {}
        self._data_dead: dict[Operation, bool] = {}

    # -- entry point -------------------------------------------------------------------------

    def run(self, entry: str = "main", inputs: Sequence[Value] | Mapping[str, Value] = ()) -> Value:
        func = self.functions.get(entry)
        if func is None:
            raise ArgumentError(f"the module has no function @{entry}")
        names = [a.name_hint or f"arg{i}" for i, a in enumerate(func.args)]
        if isinstance(inputs, Mapping):
            unknown = sorted(set(inputs) - set(names))
            missing = [n for n in names if n not in inputs]
            if unknown or missing:
                raise ArgumentError(
                    f"@{entry} expects inputs {', '.join(names)}"
                    + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                    + (f"; missing: {', '.join(missing)}" if missing else "")
                )
            inputs = [inputs[n] for n in names]
        if len(inputs) != len(names):
            raise ArgumentError(
                f"@{entry} takes {len(names)} input(s) ({', '.join(names)}), got {len(inputs)}"
            )
        args = []
        for name, arg, value in zip(names, func.args, inputs, strict=True):
            value = (
                np.asarray(value)
                if not isinstance(value, (tuple, Closure, ADTValue, RefCell))
                else value
            )
            if holds_strings(arg.type) and isinstance(value, np.ndarray):
                try:  # numpy's 'U' arrays (an .npz's) to the str objects strings compute on
                    value = string_array(value)
                except ValueError as e:
                    raise ArgumentError(f"input '{name}': {e}") from None
            if (why := check_value(value, arg.type)) is not None:
                raise ArgumentError(f"input '{name}': {why}")
            args.append(value)
        return self.call_function(func, args)

    def call_function(self, func: core.FuncOp, args: Sequence[Value]) -> Value:
        self._max_depth = max_depth()
        stack = [self._enter(func.body.block, Env(dict(zip(func.args, args, strict=True))), None)]
        # What OpDef.evaluate does for one operator, once for the whole run (it is not free).
        with np.errstate(all="ignore"):
            return self._loop(stack)

    # -- the machine -------------------------------------------------------------------------

    @staticmethod
    def _enter(block: Block, env: Env, dest: SSAValue | None, depth: int = 1) -> _Frame:
        return _Frame(list(block.ops), env, dest, depth)

    def _call(
        self,
        caller: _Frame,
        callee: Operation,
        block: Block,
        env: Env,
        dest: SSAValue,
        name: str,
        stack: list[_Frame],
    ) -> _Frame:
        """A function's frame, one call deeper than its caller's, within the depth limit.
        A call in tail position takes the place of the frames that would only return its
        value, at their depth: tail calls do not count, as in native code
        (lowering/tail_calls_to_loops.py)."""
        base = _tail_base(stack, dest)
        if base is not None:
            replaced = stack[base]
            del stack[base:]
            return self._enter(block, env, replaced.dest, replaced.depth)
        if caller.depth >= self._max_depth:
            raise depth_error(name, self._max_depth, callee)
        return self._enter(block, env, dest, caller.depth + 1)

    def _loop(self, stack: list[_Frame]) -> Value:
        while stack:
            frame = stack[-1]
            op = frame.ops[frame.pc]
            frame.pc += 1
            if isinstance(op, (core.ReturnOp, core.YieldOp)):
                value = frame.env[op.value]
                stack.pop()
                if not stack:
                    return value
                stack[-1].env.values[frame.dest] = value  # pyright: ignore[reportArgumentType]
                continue
            pushed = self._step(op, frame, stack)
            if pushed is not None:
                stack.append(pushed)
        raise AssertionError("a function body ended without relay.return")

    def _step(self, op: Operation, frame: _Frame, stack: list[_Frame]) -> _Frame | None:
        env = frame.env
        if isinstance(op, RelayOperatorOp):
            args = [env[o] for o in op.operands]
            in_place = isinstance(op, DynUpdateSlice) and _sole_holder(self._dead(op), args)
            env.values[op.result] = self._operator(op, args, in_place)
        elif isinstance(op, core.ConstantOp):
            if op not in self._constants:
                self._constants[op] = np.asarray(array_of(op.value))
            env.values[op.result] = self._constants[op]
        elif isinstance(op, core.TupleOp):
            env.values[op.result] = tuple(env[f] for f in op.fields)
        elif isinstance(op, core.TupleGetOp):
            env.values[op.result] = env[op.tuple][op.field_index]
        elif isinstance(op, core.CallOp):
            name = op.callee.root_reference.data
            callee = self._function(op, name)
            args = [env[a] for a in op.arguments]
            env = Env(dict(zip(callee.args, args, strict=True)))
            return self._call(frame, callee, callee.body.block, env, op.result, f"@{name}", stack)
        elif isinstance(op, core.CallClosureOp):
            args = [env[a] for a in op.arguments]
            return self._apply(op, env[op.callee], args, op.result, frame, stack)
        elif isinstance(op, core.GlobalRefOp):
            env.values[op.result] = GlobalFunction(op.callee.root_reference.data)
        elif isinstance(op, core.ClosureOp):
            env.values[op.result] = Closure(op, env)
        elif isinstance(op, core.IfOp):
            cond = env[op.cond]
            region = op.then_region if bool(np.asarray(cond)) else op.else_region
            return self._enter(region.block, Env(parent=env), op.result, frame.depth)
        elif isinstance(op, adt.MatchOp):
            return self._match(op, env, frame.depth)
        elif isinstance(op, adt.ConstructOp):
            ctor = lookup_constructor(op, op.constructor)
            if ctor is None:
                raise RelayError(f"'{op.constructor}' does not name a constructor", op)
            ref = op.constructor
            name = f"{ref.root_reference.data}::{ref.nested_references.data[0].data}"
            env.values[op.result] = ADTValue(name, ctor.tag, tuple(env[f] for f in op.fields))
        elif isinstance(op, core.RefCreateOp):
            env.values[op.result] = RefCell(env[op.value])
        elif isinstance(op, core.RefReadOp):
            env.values[op.result] = env[op.ref].value
        elif isinstance(op, core.RefWriteOp):
            env[op.ref].value = env[op.value]
            env.values[op.result] = ()
        elif isinstance(op, core.CallCountOp):
            count = _CALL_COUNTS.get(op, 0)
            _CALL_COUNTS[op] = count + 1
            env.values[op.result] = np.array(count, np.uint64)
        else:
            raise RelayError(f"the interpreter does not know '{op.name}'", op)
        return None

    def _dead(self, op: Operation) -> bool:
        """_dead_after for a dyn.update_slice's data, once per op."""
        dead = self._data_dead.get(op)
        if dead is None:
            dead = self._data_dead[op] = _dead_after(op, op.operands[0])
        return dead

    def _function(self, op: Operation, name: str) -> core.FuncOp:
        func = self.functions.get(name)
        if func is None:
            raise RelayError(f"no function @{name}", op)
        return func

    def _apply(
        self,
        op: Operation,
        callee: Value,
        args: list[Value],
        dest: SSAValue,
        frame: _Frame,
        stack: list[_Frame],
    ) -> _Frame:
        if isinstance(callee, Closure):
            c = callee.op
            values = dict(zip(c.args, args, strict=True))
            if c.self_arg is not None:
                values[c.self_arg] = callee
            env = Env(values, callee.env)
            return self._call(frame, c, c.body.block, env, dest, "a local function", stack)
        if isinstance(callee, GlobalFunction):
            func = self._function(op, callee.name)
            env = Env(dict(zip(func.args, args, strict=True)))
            return self._call(frame, func, func.body.block, env, dest, f"@{callee.name}", stack)
        raise RelayError(f"cannot call a {type(callee).__name__}", op)

    def _operator(self, op: RelayOperatorOp, args: list[Value], in_place: bool = False) -> Value:
        attrs = self._attrs.get(op)
        if attrs is None:
            types = [o.type for o in op.operands]
            attrs = self._attrs[op] = op.opdef.attrs_for(op.attrs, types)
        try:
            # in place: a dyn.update_slice whose data nothing else sees (_sole_holder);
            # quiet: call_function's errstate
            out = update_slice_into(*args) if in_place else op.opdef.compute(attrs, *args)
        except (ValueError, IndexError, FloatingPointError, TypeRelationError) as e:
            # TypeRelationError: a check the semantics share with the type relation, failing
            # on a `?` dim's run-time size (squeeze of an axis that is not 1)
            raise RelayError(f"'{op.opdef.name}' failed at run time: {e}", op) from None
        out = tuple(np.asarray(o) for o in out) if isinstance(out, tuple) else np.asarray(out)
        if (why := check_value(out, op.result.type)) is not None:
            raise RelayError(f"'{op.opdef.name}' produced a wrong value: {why}", op)
        return _bf16_rounded(out, op.result.type)

    def _match(self, op: adt.MatchOp, env: Env, depth: int) -> _Frame:
        data = env[op.data]
        for pattern, region in zip(op.patterns, op.clauses, strict=True):
            bound: list[Value] = []
            if self._matches(op, pattern, data, bound):
                return self._enter(
                    region.block,
                    Env(dict(zip(region.block.args, bound, strict=True)), env),
                    op.result,
                    depth,
                )
        raise RelayError(f"no clause of this match? matches the value {data!r}", op)

    def _matches(self, op: Operation, p: Attribute, value: Value, bound: list[Value]) -> bool:
        if isinstance(p, WildcardPattern):
            return True
        if isinstance(p, VarPattern):
            bound.append(value)
            return True
        if isinstance(p, TuplePattern):
            return all(self._matches(op, f, v, bound) for f, v in zip(p.fields, value, strict=True))
        assert isinstance(p, ConstructorPattern)
        name = (
            f"{p.constructor.root_reference.data}::{p.constructor.nested_references.data[0].data}"
        )
        if not isinstance(value, ADTValue) or value.constructor != name:
            return False
        return all(
            self._matches(op, f, v, bound) for f, v in zip(p.fields, value.fields, strict=True)
        )


def interpret(
    module: ModuleOp, inputs: Sequence[Value] | Mapping[str, Value] = (), entry: str = "main"
) -> Value:
    """Run `entry` of a type-checked module with numpy inputs."""
    return Interpreter(module).run(entry, inputs)
