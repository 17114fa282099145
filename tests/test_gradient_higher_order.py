"""The higher-order gradient (passes/gradient.py): through calls of module functions,
closures, references, recursion and `match` on ADTs whose fields carry differentiated
tensors. Each case is checked against central finite differences in float64 in the
interpreter; the List-LSTM and the TreeLSTM of examples/relay (shrunk so the tests run fast)
also compiled natively at float32 against the interpreter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType

from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.ir_helpers import functions_by_name
from relay_opt.passes.gradient import GradientPass
from relay_opt.runtime import jit
from relay_opt.runtime.interpreter import Interpreter
from relay_opt.runtime.values import ADTValue, to_adt_list

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "relay"


def _shrunk(name: str, sizes: dict[str, str], dtype: str) -> str:
    """An example program with smaller tensors (each text replaced must occur) and `dtype`."""
    src = (EXAMPLES / f"{name}.rly").read_text()
    for old, new in sizes.items():
        assert old in src, old
        src = src.replace(old, new)
    return src.replace("float32", dtype)


LSTM_SIZES = {
    "(1, 64)": "(1, 3)",
    "(1, 32)": "(1, 2)",
    "(256, 32)": "(12, 2)",
    "(256, 64)": "(12, 3)",
    "(256)": "(12)",
    "shape=[1, 64]": "shape=[1, 3]",
    "(8, 1, 32)": "(3, 1, 2)",
    "%i >= 8": "%i >= 3",
}
TREE_SIZES = {
    "(1, 64)": "(1, 3)",
    "(1, 32)": "(1, 2)",
    "(192, 32)": "(9, 2)",
    "(192, 64)": "(9, 3)",
    "(192)": "(9)",
    "(64, 32)": "(3, 2)",
    "(64, 64)": "(3, 3)",
    "(64)": "(3)",
    "shape=[1, 64]": "shape=[1, 3]",
    "(15, 1, 32)": "(5, 1, 2)",
    "%left >= 15": "%left >= 5",
}
EXAMPLE_SIZES = {"lstm_list": LSTM_SIZES, "tree_lstm": TREE_SIZES}


def _differentiated(src: str) -> ModuleOp:
    module = load_program(src, format="relay").module
    GradientPass().apply(Context(), module)
    module.verify()
    return module


def _inputs(module: ModuleOp, dtype: type, seed: int) -> list[np.ndarray]:
    """Random values for @main's float parameters, small so the gates do not saturate."""
    rng = np.random.default_rng(seed)
    out = []
    for arg in functions_by_name(module)["main"].args:
        assert isinstance(arg.type, TensorType)
        out.append((rng.standard_normal(tuple(arg.type.get_shape())) * 0.5).astype(dtype))
    return out


def central_differences(
    loss: Callable[[list[np.ndarray]], float], args: list[np.ndarray], i: int
) -> np.ndarray:
    """d loss / d args[i] by central finite differences (step 1e-6, float64)."""
    eps = 1e-6
    numeric = np.zeros_like(args[i])
    for pos in np.ndindex(args[i].shape):
        hi = [a.copy() for a in args]
        lo = [a.copy() for a in args]
        hi[i][pos] += eps
        lo[i][pos] -= eps
        numeric[pos] = (loss(hi) - loss(lo)) / (2 * eps)
    return numeric


def check_gradient(src: str, seed: int = 0) -> ModuleOp:
    """@main_grad's value and gradients (w.r.t. every parameter) against @main and central
    finite differences of the sum of @main's result, in float64."""
    module = _differentiated(src)
    run = Interpreter(module).run
    inputs = _inputs(module, np.float64, seed)
    value, grads = run("main_grad", inputs)
    np.testing.assert_allclose(value, run("main", inputs), rtol=1e-12)
    for i, grad in enumerate(grads):
        numeric = central_differences(lambda a: float(np.sum(run("main", a))), inputs, i)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7, err_msg=f"parameter {i}")
    return module


def test_calls_closures_references() -> None:
    """A call of a module function, a closure over a parameter, a global function passed as
    a value, a recursive closure, and a reference written in a loop and read after it."""
    check_gradient(
        '#[version = "0.0.5"]\n'
        "def @twice(%f: fn (Tensor[(3), float64]) -> Tensor[(3), float64],\n"
        "           %x: Tensor[(3), float64]) -> Tensor[(3), float64] {\n"
        "  %f(%f(%x)) * %x\n"
        "}\n"
        "def @soft(%v: Tensor[(3), float64]) -> Tensor[(3), float64] { nn.softmax(%v) }\n"
        "def @main(%x: Tensor[(3), float64], %w: Tensor[(3), float64]) -> Tensor[(3), float64] {\n"
        "  let %acc = ref(%w);\n"
        "  let %loop = fn (%n: int32) -> int32 {\n"
        "    if (%n <= 0) { 0 } else {\n"
        "      let %u = ref_write(%acc, tanh(ref_read(%acc)) * %x);\n"
        "      %loop(%n - 1)\n"
        "    }\n"
        "  };\n"
        "  let %k = %loop(3);\n"
        "  let %scale = fn (%v: Tensor[(3), float64]) -> Tensor[(3), float64] { %v * %w };\n"
        "  @twice(%scale, %x) + @twice(@soft, ref_read(%acc))\n"
        "}\n"
    )


def test_match_on_differentiated_list() -> None:
    """`match` on ADT values whose fields carry differentiated tensors: a List built from
    the parameters, summed by recursion and folded by the prelude's foldl."""
    check_gradient(
        '#[version = "0.0.5"]\n'
        "def @total(%xs: List[Tensor[(2), float64]]) -> Tensor[(2), float64] {\n"
        "  match (%xs) {\n"
        "    Cons(%h, %t) => %h * %h + @total(%t),\n"
        '    Nil => zeros(shape=[2], dtype="float64"),\n'
        "  }\n"
        "}\n"
        "def @main(%a: Tensor[(2), float64], %b: Tensor[(2), float64]) -> Tensor[(2), float64] {\n"
        "  let %xs = Cons(%a, Cons(exp(%b), Cons(%a * %b, Nil)));\n"
        "  let %m = @foldl(fn (%acc: Tensor[(2), float64], %x: Tensor[(2), float64])\n"
        "                    -> Tensor[(2), float64] { sigmoid(%acc) * %x }, %b, %xs);\n"
        "  @total(@map(fn (%x: Tensor[(2), float64]) -> Tensor[(2), float64] { tanh(%x) },\n"
        "              %xs)) + %m\n"
        "}\n"
    )


@pytest.mark.parametrize("name", sorted(EXAMPLE_SIZES))
def test_example_gradient(name: str) -> None:
    """The List-LSTM (foldl over a List built by recursion, a closure over the weights) and
    the child-sum TreeLSTM (map and foldl over each node's children, by recursion)."""
    check_gradient(_shrunk(name, EXAMPLE_SIZES[name], "float64"))


@pytest.mark.parametrize("name", sorted(EXAMPLE_SIZES))
def test_example_gradient_compiled(name: str) -> None:
    """The same gradients compiled to native code equal the interpreter's at float32."""
    module = _differentiated(_shrunk(name, EXAMPLE_SIZES[name], "float32"))
    exe = jit.compile(module, entry="main_grad", opt=1, cache=False)
    for seed in (0, 1):
        inputs = _inputs(module, np.float32, seed)
        value, grads = exe(*inputs)
        want_value, want_grads = Interpreter(module).run("main_grad", inputs)
        np.testing.assert_allclose(value, want_value, rtol=1e-4, atol=1e-5)
        for got, want in zip(grads, want_grads, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_tape_longer_than_the_recursion_limit() -> None:
    """A 1000-step List-LSTM pushes 15,000 closures; running the tape is a chain of
    tail calls, so neither native code nor the interpreter counts it as recursion depth
    (RELAY_OPT_MAX_DEPTH is 10,000)."""
    sizes = {**LSTM_SIZES, "(8, 1, 32)": "(1000, 1, 2)", "%i >= 8": "%i >= 1000"}
    module = _differentiated(_shrunk("lstm_list", sizes, "float32"))
    exe = jit.compile(module, entry="main_grad", opt=1, cache=False)
    inputs = _inputs(module, np.float32, 0)
    _, grads = exe(*inputs)
    _, want = Interpreter(module).run("main_grad", inputs)
    for got, expected in zip(grads, want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_list_parameter() -> None:
    """The List-LSTM's @lstm differentiated itself: its List parameter is rebuilt with each
    step's tensor lifted (@List_lift) and not differentiated; the weights are."""
    module = load_program(_shrunk("lstm_list", LSTM_SIZES, "float64"), format="relay").module
    wrt = ("w_ih", "w_hh", "b")
    GradientPass(entry="lstm", wrt=wrt).apply(Context(), module)
    module.verify()
    assert "List_lift" in functions_by_name(module)
    run = Interpreter(module).run
    rng = np.random.default_rng(3)
    steps = [rng.standard_normal((1, 2)) * 0.5 for _ in range(3)]
    weights = [rng.standard_normal(s) * 0.5 for s in ((12, 2), (12, 3), (12,))]

    def loss(ws: list[np.ndarray]) -> float:
        return float(np.sum(run("lstm", [to_adt_list(steps), *ws])))

    value, grads = run("lstm_grad", [to_adt_list(steps), *weights])
    np.testing.assert_allclose(np.sum(value), loss(weights), rtol=1e-12)
    for i, grad in enumerate(grads):
        numeric = central_differences(loss, weights, i)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7, err_msg=wrt[i])


EXPR = """#[version = "0.0.5"]
type Expr {
  Leaf(Tensor[(2), float64]),
  Node(Expr, Expr),
  Scale(Tensor[(2), float64], Expr),
}
def @eval(%e: Expr) -> Tensor[(2), float64] {
  match (%e) {
    Leaf(%x) => %x,
    Node(%a, %b) => tanh(@eval(%a)) * @eval(%b),
    Scale(%w, %a) => %w * @eval(%a),
  }
}
def @main(%x: Tensor[(2), float64], %y: Tensor[(2), float64]) -> Tensor[(2), float64] {
  @eval(Node(Scale(%y, Leaf(%x)), Node(Leaf(%y), Leaf(exp(%x)))))
}
def @apply(%e: Expr, %w: Tensor[(2), float64]) -> Tensor[(2), float64] {
  @eval(Scale(%w, Node(%e, Leaf(%w))))
}
"""


def test_adt_declaring_float_fields() -> None:
    """An ADT whose constructors declare tensor fields gets a copy `Expr_ad` holding AD
    values; a recursive evaluator over it is differentiated, natively too."""
    module = check_gradient(EXPR)
    assert "Expr_ad" in {op.sym_name.data for op in module.ops if hasattr(op, "sym_name")}
    module32 = _differentiated(EXPR.replace("float64", "float32"))
    exe = jit.compile(module32, entry="main_grad", opt=1, cache=False)
    inputs = _inputs(module32, np.float32, 0)
    got, want = exe(*inputs), Interpreter(module32).run("main_grad", inputs)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    for a, b in zip(got[1], want[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_mutually_recursive_adts() -> None:
    """Forest holds only Tree2s, Tree2 declares a tensor field: both get copies that agree."""
    module = check_gradient(
        '#[version = "0.0.5"]\n'
        "type Forest { Empty, Trees(Tree2, Forest) }\n"
        "type Tree2 { Node(Tensor[(2), float64], Forest) }\n"
        "def @fsum(%f: Forest) -> Tensor[(2), float64] {\n"
        "  match (%f) {\n"
        '    Empty => zeros(shape=[2], dtype="float64"),\n'
        "    Trees(%t, %rest) => @tsum(%t) + @fsum(%rest),\n"
        "  }\n"
        "}\n"
        "def @tsum(%t: Tree2) -> Tensor[(2), float64] {\n"
        "  match (%t) { Node(%v, %kids) => tanh(%v * @fsum(%kids) + %v) }\n"
        "}\n"
        "def @main(%x: Tensor[(2), float64], %y: Tensor[(2), float64]) -> Tensor[(2), float64] {\n"
        "  @tsum(Node(%x, Trees(Node(%y, Empty), Trees(Node(%x * %y, Empty), Empty))))\n"
        "}\n"
    )
    names = {op.sym_name.data for op in module.ops if hasattr(op, "sym_name")}
    assert {"Forest_ad", "Tree2_ad"} <= names


def test_adt_parameter_declaring_float_fields() -> None:
    """An `Expr` parameter is rebuilt as an `Expr_ad` (@Expr_lift) and not differentiated."""
    module = load_program(EXPR, format="relay").module
    GradientPass(entry="apply", wrt=("w",)).apply(Context(), module)
    module.verify()
    run = Interpreter(module).run
    rng = np.random.default_rng(5)
    a, b, w = (rng.standard_normal(2) for _ in range(3))
    leaf_a, leaf_b = ADTValue("Expr::Leaf", 0, (a,)), ADTValue("Expr::Leaf", 0, (b,))
    e = ADTValue("Expr::Node", 1, (ADTValue("Expr::Scale", 2, (b, leaf_a)), leaf_b))
    value, (grad,) = run("apply_grad", [e, w])
    np.testing.assert_allclose(value, run("apply", [e, w]), rtol=1e-12)
    eps, numeric = 1e-6, np.zeros(2)
    for k in range(2):
        step = np.eye(2)[k] * eps
        hi, lo = np.sum(run("apply", [e, w + step])), np.sum(run("apply", [e, w - step]))
        numeric[k] = (hi - lo) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_function_parameter_is_a_located_error() -> None:
    """A closure passed in computes on plain tensors: its AD form cannot be built here."""
    src = (
        '#[version = "0.0.5"]\n'
        "def @main(%f: fn (Tensor[(3), float32]) -> Tensor[(3), float32],\n"
        "          %x: Tensor[(3), float32]) -> Tensor[(3), float32] {\n"
        "  %f(%x) * %x\n"
        "}\n"
    )
    module = load_program(src, format="relay").module
    with pytest.raises(RelayError, match="Not yet: the higher-order gradient takes parameter 0"):
        GradientPass(wrt=("x",)).apply(Context(), module)


def test_python_api_round_trip() -> None:
    """`relay.transform.gradient` on a function calling a closure and a global: the AD copy
    `@sq_ad` is added to the module (as TVM does), and the result, taken through the Python
    AST and back, keeps one adjoint cell per value and reads the tape where it should."""
    import relay_opt.tvm as tvm
    from relay_opt.tvm import relay

    x = relay.var("x", shape=(3,), dtype="float64")
    y = relay.var("y", shape=(3,), dtype="float64")
    z = relay.var("z", shape=(3,), dtype="float64")
    sq = relay.GlobalVar("sq")
    mod = tvm.IRModule()
    mod[sq] = relay.Function([z], relay.multiply(z, z))
    closure = relay.Function([y], relay.tanh(y))
    mod["main"] = relay.Function([x], relay.Call(closure, [relay.Call(sq, [x])]))
    mod = relay.transform.InferType()(mod)
    grad_fn = relay.transform.gradient(mod["main"], mod)
    assert "sq_ad" in [g.name_hint for g in mod.get_global_vars()]
    mod["main_grad"] = grad_fn
    v = np.array([1.0, 2.0, 3.0])
    run = relay.create_executor("debug", mod=mod).evaluate(mod.get_global_var("main_grad"))
    value, (grad,) = run(v)
    np.testing.assert_allclose(value.numpy(), np.tanh(v * v))
    np.testing.assert_allclose(grad.numpy(), (1 - np.tanh(v * v) ** 2) * 2 * v, rtol=1e-12)
