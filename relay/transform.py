"""relay.transform: the project's passes under TVM's names, PassContext and Sequential.

A pass runs on the module's dialect form (`IRModule.to_dialect`): `Sequential` builds it
once, runs its passes in order (each skipped when its TVM opt level is above the context's,
unless required), and reads the result back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import import_module

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass

from relay_opt.diagnostics import RelayError, verify_located
from relay_opt.relay import expr as e
from relay_opt.relay.module import IRModule, located


class PassContext:
    """`with PassContext(opt_level=3): ...`; the innermost one is `PassContext.current()`."""

    _stack: list[PassContext] = []

    def __init__(
        self,
        opt_level: int = 2,
        required_pass: Sequence[str] | None = None,
        disabled_pass: Sequence[str] | None = None,
        config: dict[str, object] | None = None,
        instruments: object = None,
        trace: object = None,
    ):
        if not 0 <= int(opt_level) <= 4:
            raise ValueError(f"opt_level must be 0 to 4, got {opt_level}")
        self.opt_level = int(opt_level)
        self.required_pass = list(required_pass or [])
        self.disabled_pass = list(disabled_pass or [])
        self.config = dict(config or {})

    def __enter__(self) -> PassContext:
        PassContext._stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        PassContext._stack.pop()

    @staticmethod
    def current() -> PassContext:
        return PassContext._stack[-1] if PassContext._stack else PassContext()

    def enabled(self, p: Pass) -> bool:
        if p.name in self.disabled_pass:
            return False
        return p.name in self.required_pass or p.opt_level <= self.opt_level


class PassInfo:
    def __init__(self, opt_level: int, name: str, required: Sequence[str] = ()):
        self.opt_level = opt_level
        self.name = name
        self.required = list(required)


class Pass:
    """A module-to-module transformation; `pass_(mod)` returns the new module."""

    name = "Pass"
    opt_level = 0

    @property
    def info(self) -> PassInfo:
        return PassInfo(self.opt_level, self.name)

    def __call__(self, mod: IRModule) -> IRModule:
        """Runs the pass whatever the context's opt level (as TVM does when called)."""
        return Sequential([self], opt_level=0, name=self.name)(mod, always=True)

    def run(self, module: ModuleOp, ctx: PassContext) -> ModuleOp:
        raise NotImplementedError


class _DialectPass(Pass):
    """One of the project's passes (universe.py's `module:Class`) with its options."""

    def __init__(self, name: str, opt_level: int, target: str, **options: object):
        self.name = name
        self.opt_level = opt_level
        self.target = target
        self.options = options

    def make(self, ctx: PassContext) -> ModulePass:
        module, cls = self.target.split(":")
        path = module if module.startswith("xdsl.") else "relay_opt." + module
        pass_class = getattr(import_module(path), cls)
        return pass_class(**self.options)

    def run(self, module: ModuleOp, ctx: PassContext) -> ModuleOp:
        self.make(ctx).apply(Context(), module)
        return module


class _FuseOps(_DialectPass):
    def make(self, ctx: PassContext) -> ModulePass:
        level = self.options.get("fuse_opt_level", -1)
        if level == -1:  # TVM: taken from the context
            level = 0 if ctx.opt_level == 0 else 1
        return super().make(ctx).__class__(fuse_opt_level=level)  # pyright: ignore[reportCallIssue]


class _PythonPass(Pass):
    """A pass written in Python on the module (`module_pass`) or each function
    (`function_pass`)."""

    def __init__(self, fn: Callable[..., object], opt_level: int, name: str, per_function: bool):
        self.fn = fn
        self.opt_level = opt_level
        self.name = name
        self.per_function = per_function

    def transform(self, mod: IRModule, ctx: PassContext) -> IRModule:
        if not self.per_function:
            return self.fn(mod, ctx)  # pyright: ignore[reportReturnType]
        out = mod.copy()
        for gv, fn in mod.functions.items():
            out[gv] = self.fn(fn, mod, ctx)  # pyright: ignore[reportArgumentType]
        return out


class PrintIR(Pass):
    """Prints the module (to stdout, as TVM's PrintIR logs it) and passes it on."""

    name = "PrintIR"

    def __init__(self, header: str = "") -> None:
        self.header = header

    def run(self, module: ModuleOp, ctx: PassContext) -> ModuleOp:
        from relay_opt.frontends.relay_text.printer import print_relay

        if self.header:
            print(self.header)
        print(print_relay(module).text)
        return module


class Sequential(Pass):
    def __init__(
        self,
        passes: Sequence[Pass] | None = None,
        opt_level: int = 0,
        name: str = "sequential",
        required: Sequence[str] | None = None,
    ):
        self.passes = list(passes or [])
        self.opt_level = opt_level
        self.name = name

    def __call__(self, mod: IRModule, always: bool = False) -> IRModule:
        ctx = PassContext.current()
        module: ModuleOp | None = None
        for p in self.passes:
            if not always and not ctx.enabled(p):
                continue
            if isinstance(p, (_PythonPass, Sequential)):
                if module is not None:
                    mod, module = IRModule.from_dialect(module), None
                mod = p.transform(mod, ctx) if isinstance(p, _PythonPass) else p(mod)
                continue
            if module is None:
                module = mod.to_dialect()
            try:
                module = p.run(module, ctx)
                verify_located(module)
            except RelayError as err:
                raise located(err) from None
        return mod if module is None else IRModule.from_dialect(module)


def _pass(name: str, opt_level: int, target: str, cls: type[_DialectPass] = _DialectPass):
    def make(**options: object) -> Pass:
        return cls(name, opt_level, target, **options)

    make.__name__ = name
    make.__doc__ = f"relay.transform.{name}(): the pass {target.split(':')[1]}"
    return make


InferType = _pass("InferType", 0, "passes.infer_types:InferTypesPass")
SimplifyInference = _pass("SimplifyInference", 0, "passes.simplify_inference:SimplifyInferencePass")
FoldConstant = _pass("FoldConstant", 2, "passes.fold_constant:FoldConstantPass")
DeadCodeElimination = _pass("DeadCodeElimination", 1, "passes.dce:DeadCodeEliminationPass")
EliminateCommonSubexpr = _pass(
    "EliminateCommonSubexpr",
    3,
    "xdsl.transforms.common_subexpression_elimination:CommonSubexpressionElimination",
)
SimplifyExpr = _pass("SimplifyExpr", 0, "passes.simplify_expr:SimplifyExprPass")
FoldExplicitPadding = _pass(
    "FoldExplicitPadding", 0, "passes.fold_explicit_padding:FoldExplicitPaddingPass"
)
FoldScaleAxis = _pass("FoldScaleAxis", 3, "passes.fold_scale_axis:FoldScaleAxisPass")
AlterOpLayout = _pass("AlterOpLayout", 3, "passes.alter_op_layout:AlterOpLayoutPass")
Inline = _pass("Inline", 1, "passes.inline:InlinePass")
RemoveUnusedFunctions = _pass(
    "RemoveUnusedFunctions", 1, "passes.remove_unused_functions:RemoveUnusedFunctionsPass"
)
DefuseOps = _pass("DefuseOps", 0, "passes.defuse_ops:DefuseOpsPass")
LambdaLift = _pass("LambdaLift", 0, "passes.lambda_lift:LambdaLiftPass")
PartialEvaluate = _pass("PartialEvaluate", 1, "passes.partial_evaluate:PartialEvaluatePass")
ToANormalForm = _pass("ToANormalForm", 1, "passes.to_a_normal_form:ToANormalFormPass")
ToGraphNormalForm = _pass(
    "ToGraphNormalForm", 1, "passes.to_graph_normal_form:ToGraphNormalFormPass"
)


def FuseOps(fuse_opt_level: int = -1) -> Pass:  # noqa: N802 (TVM's name)
    """relay.transform.FuseOps: fuse_opt_level -1 takes the context's (0 at opt_level 0)."""
    return _FuseOps("FuseOps", 0, "passes.fuse_ops:FuseOpsPass", fuse_opt_level=fuse_opt_level)


def CombineParallelConv2D(min_num_branches: int = 3) -> Pass:  # noqa: N802
    return _DialectPass(
        "CombineParallelConv2D",
        4,
        "passes.combine_parallel_conv2d:CombineParallelConv2DPass",
        min_num_branches=min_num_branches,
    )


def CombineParallelDense(min_num_branches: int = 3, to_batch: bool = True) -> Pass:  # noqa: N802
    return _DialectPass(
        "CombineParallelDense",
        4,
        "passes.combine_parallel_dense:CombineParallelDensePass",
        min_num_branches=min_num_branches,
        to_batch=to_batch,
    )


def module_pass(
    pass_func: Callable[..., object] | None = None, opt_level: int = 0, name: str | None = None
):  # noqa: ANN201
    """`@module_pass(opt_level=1) def f(mod, ctx): ... return mod`, or on a class with
    `transform_module(self, mod, ctx)`."""
    return _decorator(pass_func, opt_level, name, per_function=False)


def function_pass(
    pass_func: Callable[..., object] | None = None, opt_level: int = 0, name: str | None = None
):  # noqa: ANN201
    """`@function_pass(opt_level=1) def f(func, mod, ctx): ... return func`, or on a class
    with `transform_function(self, func, mod, ctx)`."""
    return _decorator(pass_func, opt_level, name, per_function=True)


def _decorator(pass_func, opt_level: int, name: str | None, per_function: bool):  # noqa: ANN001, ANN202
    method = "transform_function" if per_function else "transform_module"

    def make(fn):  # noqa: ANN001, ANN202
        if isinstance(fn, type):

            def create(*args: object, **kwargs: object) -> Pass:
                inst = fn(*args, **kwargs)
                return _PythonPass(
                    getattr(inst, method), opt_level, name or fn.__name__, per_function
                )

            return create
        return _PythonPass(fn, opt_level, name or fn.__name__, per_function)

    return make if pass_func is None else make(pass_func)


def _symbols(module: ModuleOp) -> set[str]:
    """The names of the module's functions and ADTs."""
    return {
        sym.data
        for op in module.ops
        if isinstance(sym := op.properties.get("sym_name"), StringAttr)
    }


def gradient(
    expr: e.Function, mod: IRModule | None = None, mode: str = "higher_order"
) -> e.Function:
    """The gradient of function `expr` (reverse mode, the `gradient` pass): a function of the
    same parameters that returns (expr's result, (d sum(result) / d param, ...))."""
    if mode not in ("higher_order", "first_order"):
        raise ValueError(f"gradient mode must be 'higher_order' or 'first_order', got {mode!r}")
    work = mod.copy() if mod is not None else IRModule()
    name = "main"
    while f"{name}_grad" in work or (name in work and work[name] is not expr):
        name += "_"
    work[name] = expr
    module = work.to_dialect()
    before = _symbols(module)
    try:
        _DialectPass("gradient", 0, "passes.gradient:GradientPass", entry=name).run(
            module, PassContext.current()
        )
    except RelayError as err:
        raise located(err) from None
    result = IRModule.from_dialect(module)
    if mod is not None:
        # As TVM's higher-order gradient, the globals it builds (AD copies of the functions
        # `expr` calls, ADT copies and lifters) go into `mod`, where the result calls them.
        for new in _symbols(module) - before - {f"{name}_grad"}:
            if new in result:
                mod[result.get_global_var(new)] = result[new]
            else:
                mod.add_type_data(result.type_data(new))
    return result[f"{name}_grad"]


# relay.transform.InferTypeLocal-style helper some scripts use on a single expression.
def InferTypeLocal(expr: e.Expr) -> object:  # noqa: N802
    """The type of `expr` (a function's FuncType; for other expressions, main's result)."""
    mod = InferType()(IRModule.from_expr(expr))
    fn = mod["main"]
    return fn.checked_type if isinstance(expr, e.Function) else fn.ret_type
