"""relay.build, the graph executor module it makes, and create_executor.

relay.build compiles `main` natively (`relay_opt.compile`, at the PassContext's opt level,
at most 3), with the given params bound as constants. create_executor's "debug" kind runs the
reference interpreter; "graph" and "vm" run native code (which handles control flow, ADTs
and closures too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from relay_opt.relay import expr as e
from relay_opt.relay.expr_functor import bind
from relay_opt.relay.module import IRModule
from relay_opt.relay.ndarray import Device, NDArray
from relay_opt.relay.transform import PassContext


def _check_target(target: object) -> None:
    text = str(getattr(target, "kind", target) or "llvm")
    if isinstance(target, dict):
        text = str(next(iter(target.values())))
    if text.split()[0] not in ("llvm", "cpu", "c"):
        raise ValueError(f"relay-opt compiles for the host CPU (target 'llvm'), not '{text}'")


def bind_params_by_name(func: e.Function, params: Mapping[str, Any]) -> e.Function:
    """`func` with the parameters named in `params` replaced by those constants."""
    by_name: dict[str, e.Var] = {}
    for p in func.params:
        if p.name_hint in by_name:
            raise ValueError(f"two parameters are named '{p.name_hint}': bind them by Var")
        by_name[p.name_hint] = p
    unknown = sorted(set(params) - set(by_name))
    if unknown:
        raise ValueError(f"params names no parameter of the function: {', '.join(unknown)}")
    binds = {
        by_name[k]: e.const(v.numpy() if isinstance(v, NDArray) else np.asarray(v))
        for k, v in params.items()
    }
    out = bind(func, binds)
    assert isinstance(out, e.Function)
    return out


def _with_params(mod: IRModule | e.Function, params: Mapping[str, Any] | None) -> IRModule:
    if isinstance(mod, e.Function):
        mod = IRModule.from_expr(mod)
    if params:
        mod = mod.copy()
        mod["main"] = bind_params_by_name(mod["main"], params)
    return mod


def _to_numpy(value: Any) -> Any:
    if isinstance(value, NDArray):
        return value.numpy()
    if isinstance(value, (int, float, bool, np.generic)):
        return np.asarray(value)
    if isinstance(value, ConstructorValue):
        return value.value
    if isinstance(value, (tuple, list)):
        return tuple(_to_numpy(v) for v in value)
    return value


class ConstructorRef:
    """The constructor of a ConstructorValue: `.name_hint`, `.tag`."""

    def __init__(self, name_hint: str, tag: int):
        self.name_hint = name_hint
        self.tag = tag


class ConstructorValue:
    """An ADT value in a result: `.tag`, `.fields`, `.constructor.name_hint`."""

    def __init__(self, value: Any):
        self.value = value
        self.tag = value.tag
        self.constructor = ConstructorRef(value.constructor.split("::")[-1], value.tag)
        self.fields = [_wrap(f) for f in value.fields]

    def __repr__(self) -> str:
        return repr(self.value)


def _wrap(value: Any) -> Any:
    from relay_opt.runtime.values import ADTValue

    if isinstance(value, np.ndarray):
        return NDArray(value)
    if isinstance(value, np.generic):
        return NDArray(np.asarray(value))
    if isinstance(value, ADTValue):
        return ConstructorValue(value)
    if isinstance(value, (tuple, list)):
        return tuple(_wrap(v) for v in value)
    return value


def _flat(value: Any) -> list[np.ndarray]:
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _flat(v)]
    return [np.asarray(value)]


# -- relay.build ---------------------------------------------------------------------------


class GraphExecutorFactoryModule:
    """What relay.build returns: `lib["default"](dev)` makes a runnable module."""

    def __init__(self, executable: Any, mod: IRModule, params: Mapping[str, Any]):
        self.executable = executable
        self.ir_mod = mod
        self.params = dict(params)

    def __getitem__(self, name: str):  # noqa: ANN204
        if name != "default":
            raise KeyError(f"the built module's function is 'default', not '{name}'")
        return lambda dev=None: GraphModule(self, dev)

    def get_params(self) -> dict[str, Any]:
        return dict(self.params)


def build(
    ir_mod: IRModule | e.Function,
    target: object = "llvm",
    target_host: object = None,
    executor: object = None,
    runtime: object = None,
    workspace_memory_pools: object = None,
    constant_memory_pools: object = None,
    params: Mapping[str, Any] | None = None,
    mod_name: str = "default",
) -> GraphExecutorFactoryModule:
    """Compile `main` to native code for the host CPU, `params` bound as constants."""
    import relay_opt

    _check_target(target)
    mod = _with_params(ir_mod, params)
    opt = min(PassContext.current().opt_level, 3)
    executable = relay_opt.compile(mod.to_dialect(), "main", opt=opt)
    return GraphExecutorFactoryModule(executable, mod, params or {})


class GraphModule:
    """tvm.contrib.graph_executor.GraphModule: set_input, run, get_output."""

    def __init__(self, module: Any, dev: Device | None = None):
        if isinstance(module, GraphModule):
            module = module.factory
        self.factory: GraphExecutorFactoryModule = module
        self.device = dev
        self._inputs: dict[str, np.ndarray] = {}
        self._outputs: list[np.ndarray] = []
        self._names = [p.name_hint for p in module.ir_mod["main"].params]

    def set_input(self, key: str | int | None = None, value: Any = None, **params: Any) -> None:
        if key is not None:
            name = self._names[key] if isinstance(key, int) else key
            if name in self.factory.params:
                # relay.build compiled the params in as constants: setting one to its own
                # value (`m.set_input(**lib.get_params())`) is fine; a new value is not.
                built = _to_numpy(self.factory.params[name])
                if not np.array_equal(np.asarray(built), np.asarray(_to_numpy(value))):
                    raise ValueError(
                        f"'{name}' was given to relay.build as a param and is compiled in; "
                        "build again to change it"
                    )
                return
            if name not in self._names:
                raise ValueError(f"main has no input '{name}' (it has {', '.join(self._names)})")
            self._inputs[name] = _to_numpy(value)
        for k, v in params.items():
            self.set_input(k, v)

    def run(self, **inputs: Any) -> None:
        self.set_input(**inputs)
        missing = [n for n in self._names if n not in self._inputs]
        if missing:
            raise ValueError(f"inputs not set: {', '.join(missing)}")
        result = self.factory.executable(**{n: self._inputs[n] for n in self._names})
        self._outputs = _flat(result)

    def get_num_outputs(self) -> int:
        return len(self._outputs)

    def get_num_inputs(self) -> int:
        return len(self._names)

    def get_input(self, key: str | int) -> NDArray:
        name = self._names[key] if isinstance(key, int) else key
        return NDArray(self._inputs[name])

    def get_output(self, index: int, out: NDArray | None = None) -> NDArray:
        if not self._outputs:
            raise ValueError("call run() before get_output()")
        result = NDArray(self._outputs[index])
        return out.copyfrom(result) if out is not None else result


# -- create_executor ------------------------------------------------------------------------


class Executor:
    def __init__(self, kind: str, mod: IRModule, device: Device | None, target: object):
        self.kind = kind
        self.mod = mod
        self.device = device
        self.target = target

    def evaluate(self, expr: e.Expr | None = None, binds: Mapping[e.Var, Any] | None = None):  # noqa: ANN201
        """A Python function running `expr` (by default the module's main); `binds` replaces
        variables of `expr` by values first."""
        mod = self.mod
        if binds:
            expr = bind(
                expr if expr is not None else mod["main"],
                {
                    k: v if isinstance(v, e.Expr) else e.const(_to_numpy(v))
                    for k, v in binds.items()
                },
            )
        if expr is not None and not (isinstance(expr, e.GlobalVar) and expr.name_hint == "main"):
            mod = mod.copy()
            if isinstance(expr, e.GlobalVar):
                expr = mod[expr]
            mod["main"] = expr
            if not isinstance(expr, e.Function):  # a closed expression: run it now
                return _wrap(self._runner(mod)())
        return self._runner(mod)

    def _runner(self, mod: IRModule):  # noqa: ANN202
        module = mod.to_dialect()
        if self.kind == "debug":
            from relay_opt.runtime.interpreter import interpret

            def run_debug(*args: Any, **kwargs: Any) -> Any:
                if kwargs:
                    return _wrap(interpret(module, {k: _to_numpy(v) for k, v in kwargs.items()}))
                return _wrap(interpret(module, [_to_numpy(a) for a in args]))

            return run_debug
        import relay_opt

        opt = min(PassContext.current().opt_level, 3)
        executable = relay_opt.compile(module, "main", opt=opt)

        def run_native(*args: Any, **kwargs: Any) -> Any:
            if kwargs:
                return _wrap(executable(**{k: _to_numpy(v) for k, v in kwargs.items()}))
            return _wrap(executable(*[_to_numpy(a) for a in args]))

        return run_native


def create_executor(
    kind: str = "debug",
    mod: IRModule | None = None,
    device: Device | None = None,
    target: object = "llvm",
    params: Mapping[str, Any] | None = None,
) -> Executor:
    """kind "debug" (the reference interpreter), "graph" or "vm" (native code)."""
    if kind not in ("debug", "graph", "vm"):
        raise ValueError(f"executor kind must be 'debug', 'graph' or 'vm', got {kind!r}")
    _check_target(target)
    mod = mod if mod is not None else IRModule()
    if params and "main" in mod:
        mod = _with_params(mod, params)
    return Executor(kind, mod, device, target)
