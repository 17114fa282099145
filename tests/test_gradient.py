"""The gradient pass: every differentiable operator's rule against central finite differences
in float64 (interpreter), on random shapes and attributes; the parameter selection; the
located errors; one compiled gradient module against the interpreter."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from xdsl.context import Context

from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.ops import nn, transform
from relay_opt.dialects.relay.ops.grad import differentiable_operators
from relay_opt.passes.gradient import GradientPass
from relay_opt.runtime.interpreter import Interpreter

Params = dict[str, tuple[tuple[int, ...], str]]
Case = tuple[Params, str] | tuple[Params, str, dict[str, np.ndarray]]
"""Parameters (name -> shape, dtype) and the body computing `%y` (a tensor) from them; then,
optionally, the values of integer parameters that must be valid (a shape, a slice's bounds)."""


def f64(*shape: int) -> tuple[tuple[int, ...], str]:
    return tuple(shape), "float64"


def _shape(rng: np.random.Generator, rank: int, lo: int = 1, hi: int = 4) -> tuple[int, ...]:
    return tuple(int(d) for d in rng.integers(lo, hi + 1, rank))


def _unary(name: str, positive: bool = False) -> Callable[[np.random.Generator], Case]:
    def case(rng: np.random.Generator) -> Case:
        body = f"{name}(%x)" if not positive else f"{name}(abs(%x) + 0.5f64)"
        return {"x": f64(*_shape(rng, 2))}, body

    return case


def _binary(name: str) -> Callable[[np.random.Generator], Case]:
    def case(rng: np.random.Generator) -> Case:
        shape = _shape(rng, 3, 2, 3)
        # b broadcasts: some axes 1, maybe fewer leading axes.
        bshape = tuple(1 if rng.random() < 0.5 else d for d in shape)[int(rng.integers(0, 2)) :]
        if name == "power":
            return {"a": f64(*shape), "b": f64(*bshape)}, "power(abs(%a) + 0.5f64, %b)"
        if name == "divide":
            return {"a": f64(*shape), "b": f64(*bshape)}, "divide(%a, abs(%b) + 0.5f64)"
        return {"a": f64(*shape), "b": f64(*bshape)}, f"{name}(%b, %a)"

    return case


def _conv2d(rng: np.random.Generator) -> Case:
    groups = int(rng.choice([1, 2]))
    c, o = 2 * groups, 2 * groups
    kh, kw = (int(k) for k in rng.integers(1, 4, 2))
    strides = [int(s) for s in rng.integers(1, 3, 2)]
    dilation = [int(s) for s in rng.integers(1, 3, 2)]
    padding = [int(p) for p in rng.integers(0, 2, 4)]
    h, w = (int(d) for d in rng.integers(5, 8, 2))
    attrs = f"strides={strides}, padding={padding}, dilation={dilation}, groups={groups}"
    return (
        {"x": f64(2, c, h, w), "w": f64(o, c // groups, kh, kw)},
        f"nn.conv2d(%x, %w, {attrs})",
    )


def _depthwise(rng: np.random.Generator) -> Case:
    return (
        {"x": f64(1, 3, 5, 5), "w": f64(3, 1, 3, 3)},
        "nn.conv2d(%x, %w, strides=[2, 2], padding=[1, 1], groups=3)",
    )


def _conv2d_transpose(rng: np.random.Generator) -> Case:
    groups = int(rng.choice([1, 2]))
    c, o = 2 * groups, 2 * groups
    kh, kw = (int(k) for k in rng.integers(1, 4, 2))
    strides = [int(s) for s in rng.integers(1, 3, 2)]
    dilation = [int(s) for s in rng.integers(1, 3, 2)]
    padding = [int(p) for p in rng.integers(0, 2, 4)]
    extra = [int(rng.integers(0, s)) for s in strides]
    attrs = (
        f"strides={strides}, padding={padding}, dilation={dilation}, groups={groups}, "
        f"output_padding={extra}"
    )
    return (
        {"x": f64(2, c, 3, 4), "w": f64(c, o // groups, kh, kw)},
        f"nn.conv2d_transpose(%x, %w, {attrs})",
    )


def _dense(rng: np.random.Generator) -> Case:
    lead, k, u = _shape(rng, int(rng.integers(1, 3))), int(rng.integers(1, 4)), 3
    return {"x": f64(*lead, k), "w": f64(u, k)}, "nn.dense(%x, %w)"


def _matmul(rng: np.random.Generator) -> Case:
    ta, tb = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    m, k, n = _shape(rng, 3, 2, 4)
    a = (k, m) if ta else (m, k)
    b = (n, k) if tb else (k, n)
    attrs = f"transpose_a={ta}, transpose_b={tb}".replace("True", "True").replace("False", "False")
    return {"a": f64(*a), "b": f64(*b)}, f"nn.matmul(%a, %b, {attrs})"


def _batch_matmul(rng: np.random.Generator) -> Case:
    ta, tb = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    m, k, n = _shape(rng, 3, 2, 3)
    bx, by = (3, 1) if rng.random() < 0.5 else (3, 3)
    x = (bx, k, m) if ta else (bx, m, k)
    y = (by, n, k) if tb else (by, k, n)
    attrs = f"transpose_a={ta}, transpose_b={tb}"
    return {"x": f64(*x), "y": f64(*y)}, f"nn.batch_matmul(%x, %y, {attrs})"


def _pool(kind: str) -> Callable[[np.random.Generator], Case]:
    def case(rng: np.random.Generator) -> Case:
        k = [int(d) for d in rng.integers(1, 4, 2)]
        strides = [int(s) for s in rng.integers(1, 3, 2)]
        padding = [int(p) for p in rng.integers(0, 2, 4)]
        padding = [min(p, kk - 1) for p, kk in zip(padding, k + k, strict=True)]
        ceil = bool(rng.integers(0, 2))
        attrs = f"pool_size={k}, strides={strides}, padding={padding}, ceil_mode={ceil}"
        if kind == "avg":
            attrs += f", count_include_pad={bool(rng.integers(0, 2))}"
        return {"x": f64(2, 2, 6, 5)}, f"nn.{kind}_pool2d(%x, {attrs})"

    return case


def _reduce(name: str) -> Callable[[np.random.Generator], Case]:
    def case(rng: np.random.Generator) -> Case:
        axis = sorted({int(a) % 3 for a in rng.integers(-3, 3, 2)})
        keep = bool(rng.integers(0, 2))
        return {"x": f64(*_shape(rng, 3, 2, 3))}, f"{name}(%x, axis={axis}, keepdims={keep})"

    return case


def _strided_slice(rng: np.random.Generator) -> Case:
    shape = _shape(rng, 3, 3, 6)
    begin = [int(rng.integers(0, d)) for d in shape]
    end = [int(rng.integers(b + 1, d + 2)) for b, d in zip(begin, shape, strict=True)]
    strides = [int(s) for s in rng.integers(1, 4, 3)]
    return {"x": f64(*shape)}, f"strided_slice(%x, begin={begin}, end={end}, strides={strides})"


def _take(rng: np.random.Generator) -> Case:
    mode = str(rng.choice(["clip", "wrap", "fast"]))
    axis = int(rng.integers(0, 2))
    return (
        {"x": f64(3, 4), "i": ((2, 3), "int32")},
        f'take(%x, %i, axis={axis}, mode="{mode}")',
    )


def _pad(rng: np.random.Generator) -> Case:
    widths = [[int(a), int(b)] for a, b in rng.integers(0, 3, (3, 2))]
    return {"x": f64(*_shape(rng, 3)), "v": f64()}, f"nn.pad(%x, %v, pad_width={widths})"


def _adaptive_avg_pool(rng: np.random.Generator) -> Case:
    h, w = (int(d) for d in rng.integers(2, 8, 2))
    size = [int(rng.integers(1, h + 2)), int(rng.integers(1, w + 2))][: int(rng.integers(1, 3))]
    layout = str(rng.choice(["NCHW", "NHWC"]))
    out_layout = str(rng.choice(["", "NCHW", "NHWC"]))
    shape = (2, 3, h, w) if layout == "NCHW" else (2, h, w, 3)
    attrs = f'output_size={size}, layout="{layout}", out_layout="{out_layout}"'
    return {"x": f64(*shape)}, f"nn.adaptive_avg_pool2d(%x, {attrs})"


def _resize2d(rng: np.random.Generator) -> Case:
    h, w = (int(d) for d in rng.integers(1, 6, 2))
    size = [int(d) for d in rng.integers(1, 8, 2)]
    layout = str(rng.choice(["NCHW", "NHWC"]))
    method = str(rng.choice(["nearest_neighbor", "linear", "cubic"]))
    modes = [
        "half_pixel",
        "align_corners",
        "asymmetric",
        "pytorch_half_pixel",
        "tf_crop_and_resize",
    ]
    mode = str(rng.choice(modes))
    rounding = ""
    if method == "nearest_neighbor":
        rounding = str(
            rng.choice(["", "round", "floor", "ceil", "round_prefer_floor", "round_prefer_ceil"])
        )
    shape = (2, 2, h, w) if layout == "NCHW" else (2, h, w, 2)
    attrs = (
        f'size={size}, layout="{layout}", method="{method}", '
        f'coordinate_transformation_mode="{mode}", rounding_method="{rounding}"'
    )
    if mode == "tf_crop_and_resize":  # part of the crop outside: extrapolated, no gradient
        attrs += ", roi=[0.25f, -0.25f, 1f, 0.75f], extrapolation_value=2f"
    if method != "nearest_neighbor" and rng.random() < 0.5:
        attrs += ", antialias=True"
    return {"x": f64(*shape)}, f"image.resize2d(%x, {attrs})"


def _dyn_reshape(rng: np.random.Generator) -> Case:
    newshape = [[12], [3, 4], [4, 1, 3], [2, 6]][int(rng.integers(0, 4))]
    return (
        {"x": f64(2, 3, 2), "s": ((len(newshape),), "int64")},
        "dyn.reshape(%x, %s)",
        {"s": np.array(newshape, np.int64)},
    )


def _dyn_broadcast_to(rng: np.random.Generator) -> Case:
    shape = [int(rng.integers(1, 4)), 3, int(rng.integers(1, 4))]
    return (
        {"x": f64(3, 1), "s": ((3,), "int32")},
        "dyn.broadcast_to(%x, %s)",
        {"s": np.array(shape, np.int32)},
    )


def _dyn_strided_slice(rng: np.random.Generator) -> Case:
    shape = _shape(rng, 3, 2, 6)
    strides = [int(s) for s in rng.integers(1, 4, 3)]
    begin = [int(rng.integers(0, d)) for d in shape]
    # Any count that stays in bounds, zero included.
    size = [
        int(rng.integers(0, (d - 1 - b) // st + 2))
        for b, d, st in zip(begin, shape, strides, strict=True)
    ]
    return (
        {"x": f64(*shape), "b": ((3,), "int64"), "n": ((3,), "int32")},
        f"dyn.strided_slice(%x, %b, %n, strides={strides})",
        {"b": np.array(begin, np.int64), "n": np.array(size, np.int32)},
    )


def _dyn_update_slice(rng: np.random.Generator) -> Case:
    shape = _shape(rng, 3, 2, 5)
    sizes = [int(rng.integers(1, d + 1)) for d in shape]
    begin = [int(rng.integers(0, d - s + 1)) for d, s in zip(shape, sizes, strict=True)]
    return (
        {"x": f64(*shape), "u": f64(*sizes), "b": ((3,), "int64")},
        "dyn.update_slice(%x, %u, %b)",
        {"b": np.array(begin, np.int64)},
    )


def _dyn_tile(rng: np.random.Generator) -> Case:
    reps = [int(r) for r in rng.integers(1, 4, int(rng.integers(1, 4)))]
    return (
        {"x": f64(2, 3), "r": ((len(reps),), "int64")},
        "dyn.tile(%x, %r)",
        {"r": np.array(reps, np.int64)},
    )


CASES: dict[str, Callable[[np.random.Generator], Case]] = {
    **{n: _unary(n) for n in ("exp", "tanh", "sigmoid", "sin", "cos", "erf", "negative")},
    **{n: _unary(n) for n in ("abs", "nn.relu", "floor", "ceil", "round")},
    **{n: _unary(n, positive=True) for n in ("log", "sqrt", "rsqrt", "log2", "log10")},
    **{n: _unary(n) for n in ("tan", "sinh", "cosh", "atan", "asinh", "trunc")},
    # inside their domains: (-1, 1) and [1, inf)
    **{
        n: (lambda rng, n=n: ({"x": f64(3, 4)}, f"{n}(tanh(%x) * 0.9f64)"))
        for n in ("asin", "acos", "atanh")
    },
    "acosh": lambda rng: ({"x": f64(3, 4)}, "acosh(abs(%x) + 1.5f64)"),
    "nn.leaky_relu": lambda rng: ({"x": f64(3, 4)}, "nn.leaky_relu(%x, alpha=0.3f)"),
    "clip": lambda rng: ({"x": f64(3, 4)}, "clip(%x, a_min=-0.5f, a_max=0.7f)"),
    # (through float32 the finite differences would be rounding noise)
    "cast": lambda rng: ({"x": f64(3, 4)}, 'cast(%x, dtype="float64") * %x'),
    **{
        n: _binary(n)
        for n in ("add", "subtract", "multiply", "divide", "power", "maximum", "minimum")
    },
    "where": lambda rng: (
        {"a": f64(3, 4), "b": f64(4)},
        "where(greater(%a, 0f64), %a, %b)",
    ),
    "nn.conv2d": _conv2d,
    "nn.conv2d/depthwise": _depthwise,
    "nn.dense": _dense,
    "nn.matmul": _matmul,
    "nn.batch_matmul": _batch_matmul,
    "nn.bias_add": lambda rng: ({"x": f64(2, 3, 2), "b": f64(3)}, "nn.bias_add(%x, %b)"),
    "nn.prelu": lambda rng: ({"x": f64(2, 3, 2), "a": f64(3)}, "nn.prelu(%x, %a)"),
    "nn.softmax": lambda rng: (
        {"x": f64(3, 4)},
        f"nn.softmax(%x, axis={int(rng.integers(-2, 2))})",
    ),
    "nn.log_softmax": lambda rng: (
        {"x": f64(3, 4)},
        f"nn.log_softmax(%x, axis={int(rng.integers(-2, 2))})",
    ),
    "nn.max_pool2d": _pool("max"),
    "nn.avg_pool2d": _pool("avg"),
    "nn.global_avg_pool2d": lambda rng: ({"x": f64(2, 3, 3, 2)}, "nn.global_avg_pool2d(%x)"),
    "nn.global_max_pool2d": lambda rng: ({"x": f64(2, 3, 3, 2)}, "nn.global_max_pool2d(%x)"),
    "nn.batch_norm": lambda rng: (
        {"x": f64(2, 3, 2), "g": f64(3), "b": f64(3), "m": f64(3), "v": f64(3)},
        "%t = nn.batch_norm(%x, %g, %b, %m, abs(%v) + 0.5f64); %t.0 + sum(%t.1 * %t.2)",
    ),
    "nn.layer_norm": lambda rng: (
        {"x": f64(2, 3, 4), "g": f64(3), "b": f64(3)},
        f"nn.layer_norm(%x, %g, %b, axis=1, center={bool(rng.integers(0, 2))})",
    ),
    "nn.instance_norm": lambda rng: (
        {"x": f64(2, 3, 2, 3), "g": f64(3), "b": f64(3)},
        f"nn.instance_norm(%x, %g, %b, scale={bool(rng.integers(0, 2))})",
    ),
    "nn.group_norm": lambda rng: (
        {"x": f64(2, 4, 3), "g": f64(4), "b": f64(4)},
        "nn.group_norm(%x, %g, %b, num_groups=2)",
    ),
    "nn.l2_normalize": lambda rng: (
        {"x": f64(2, 3, 2)},
        f"nn.l2_normalize(%x, eps={float(rng.choice([1e-10, 4.0]))}f, axis=[1, 2])",
    ),
    "nn.conv2d_transpose": _conv2d_transpose,
    "variance": lambda rng: (
        {"x": f64(3, 4, 2), "m": f64(1, 4, 1)},
        f"variance(%x, %m, axis=[0, 2], keepdims={bool(rng.integers(0, 2))}, "
        f"unbiased={bool(rng.integers(0, 2))})",
    ),
    "nn.batch_norm/training": lambda rng: (
        {"x": f64(4, 3, 2), "g": f64(3), "b": f64(3)},
        "%m = mean(%x, axis=[0, 2]); %v = variance(%x, mean(%x, axis=[0, 2], keepdims=True), "
        "axis=[0, 2]); %t = nn.batch_norm(%x, %g, %b, %m, %v); %t.0",
    ),
    "nn.pad": _pad,
    "nn.batch_flatten": lambda rng: ({"x": f64(2, 3, 2)}, "nn.batch_flatten(%x)"),
    **{n: _reduce(n) for n in ("sum", "mean", "max", "min", "prod")},
    "reshape": lambda rng: ({"x": f64(2, 3, 2)}, "reshape(%x, newshape=[3, -1])"),
    "squeeze": lambda rng: ({"x": f64(2, 1, 3)}, "squeeze(%x, axis=[1])"),
    "expand_dims": lambda rng: ({"x": f64(2, 3)}, "expand_dims(%x, axis=1, num_newaxis=2)"),
    "transpose": lambda rng: (
        {"x": f64(2, 3, 4)},
        f"transpose(%x, axes={[int(a) for a in rng.permutation(3)]})",
    ),
    "broadcast_to": lambda rng: ({"x": f64(3, 1)}, "broadcast_to(%x, shape=[2, 3, 4])"),
    "concatenate": lambda rng: (
        {"a": f64(2, 3), "b": f64(2, 1)},
        "concatenate((%a, %b, %a), axis=1)",
    ),
    "stack": lambda rng: ({"a": f64(2, 3), "b": f64(2, 3)}, "stack((%a, %b), axis=1)"),
    "split": lambda rng: (
        {"x": f64(2, 6)},
        "%t = split(%x, indices_or_sections=[1, 4], axis=1); "
        "concatenate((%t.0 * %t.0, %t.2), axis=1)",
    ),
    "strided_slice": _strided_slice,
    "take": _take,
    "tile": lambda rng: ({"x": f64(2, 3)}, "tile(%x, reps=[2, 1, 3])"),
    "repeat": lambda rng: (
        {"x": f64(2, 3)},
        f"repeat(%x, repeats=3, axis={int(rng.integers(-2, 2))})",
    ),
    "copy": lambda rng: ({"x": f64(2, 3)}, "copy(%x) * %x"),
    "reshape_like": lambda rng: (
        {"x": f64(2, 3), "s": f64(3, 2)},
        "reshape_like(%x, %s) * %s",
    ),
    "broadcast_to_like": lambda rng: (
        {"x": f64(3, 1), "s": f64(2, 3, 4)},
        "broadcast_to_like(%x, %s) * %s",
    ),
    "collapse_sum_like": lambda rng: (
        {"x": f64(2, 3, 4), "s": f64(3, 1)},
        "collapse_sum_like(%x * %x, %s) * %s",
    ),
    "collapse_sum_to": lambda rng: ({"x": f64(2, 3)}, "collapse_sum_to(%x * %x, shape=[1, 3])"),
    "mod": lambda rng: ({"a": f64(2, 3), "b": f64(2, 1)}, "mod(%a, abs(%b) + 0.5f64)"),
    "layout_transform": lambda rng: (
        {"x": f64(1, 4, 2, 3)},
        'layout_transform(%x, src_layout="NCHW", dst_layout="NCHW2c")',
    ),
    "reverse_sequence": lambda rng: (
        {"x": f64(3, 5), "l": ((3,), "int32")},
        "reverse_sequence(%x, abs(%l), seq_axis=1, batch_axis=0)",
    ),
    "nn.dropout": lambda rng: ({"x": f64(2, 3)}, "%t = nn.dropout(%x); %t.0 * %x"),
    "nn.adaptive_avg_pool2d": _adaptive_avg_pool,
    "image.resize2d": _resize2d,
    "full": lambda rng: (
        {"v": f64(), "x": f64(2, 3)},
        f'full(%v, shape=[2, 3], dtype="{rng.choice(["", "float64"])}") * %x',
    ),
    "dyn.reshape": _dyn_reshape,
    "dyn.broadcast_to": _dyn_broadcast_to,
    "dyn.strided_slice": _dyn_strided_slice,
    "dyn.update_slice": _dyn_update_slice,
    "dyn.tile": _dyn_tile,
}


def top_level_parts(body: str) -> list[str]:
    """`body` split at the semicolons outside braces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == ";" and depth == 0:
            parts.append(body[start:i].strip())
            start = i + 1
    return [*parts, body[start:].strip()]


def program(params: Params, body: str) -> str:
    """`@main` computing `sum(y * y + y)` of the case's `%y`: a seed that is not all ones."""
    decl = ", ".join(
        f"%{n}: {t}"
        if t.startswith("Option")
        else f"%{n}: Tensor[({', '.join(map(str, s))}{',' if len(s) == 1 else ''}), {t}]"
        for n, (s, t) in params.items()
    )
    *lets, last = top_level_parts(body)
    lets_text = "".join(f"  let {let};\n" for let in lets)
    return (
        '#[version = "0.0.5"]\n'
        f"def @main({decl}) {{\n{lets_text}  let %y = {last};\n  sum(%y * %y + %y)\n}}\n"
    )


def random_inputs(params: Params, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for shape, dtype in params.values():
        if dtype.startswith("int"):
            out.append(rng.integers(-5, 6, shape).astype(dtype))
        elif dtype == "bool":
            out.append(np.array(rng.random(shape) < 0.5))
        elif dtype.startswith("Option"):
            out.append(np.zeros(0))  # given by the test (`fixed`)
        else:
            out.append(rng.standard_normal(shape))
    return out


def check_gradient(
    params: Params, body: str, rng: np.random.Generator, fixed: dict[str, np.ndarray] | None = None
) -> None:
    module = load_program(program(params, body), format="relay").module
    wrt = tuple(n for n, (_, t) in params.items() if t.startswith("float"))
    GradientPass(wrt=wrt).apply(Context(), module)
    module.verify()
    run = Interpreter(module).run
    inputs: list = random_inputs(params, rng)
    for name, value in (fixed or {}).items():
        inputs[list(params).index(name)] = value
    value, grads = run("main_grad", inputs)
    np.testing.assert_allclose(value, run("main", inputs), rtol=1e-12)
    eps = 1e-6
    for k, (name, grad) in enumerate(zip(wrt, grads, strict=True)):
        i = list(params).index(name)
        numeric = np.zeros_like(inputs[i])
        for pos in np.ndindex(inputs[i].shape):
            hi = [a.copy() if isinstance(a, np.ndarray) else a for a in inputs]
            lo = [a.copy() if isinstance(a, np.ndarray) else a for a in inputs]
            hi[i][pos] += eps
            lo[i][pos] -= eps
            numeric[pos] = (run("main", hi) - run("main", lo)) / (2 * eps)
        np.testing.assert_allclose(
            grad, numeric, rtol=1e-5, atol=1e-6, err_msg=f"d/d{name} (gradient {k})"
        )


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("op", sorted(CASES))
def test_operator_gradient(op: str, seed: int) -> None:
    rng = np.random.default_rng([seed, len(op)])
    params, body, *fixed = CASES[op](rng)
    check_gradient(params, body, rng, *fixed)


_BOOLEAN = "a boolean result"
_BITS = "integer bit arithmetic"
NOT_DIFFERENTIABLE = {
    "arange": "its length depends on its operands' values",
    "argmax": "an integer index",
    "argmin": "an integer index",
    **{n: _BITS for n in ("bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor")},
    **{n: _BITS for n in ("left_shift", "right_shift")},
    **{n: _BOOLEAN for n in ("equal", "not_equal", "greater", "greater_equal", "less")},
    **{n: _BOOLEAN for n in ("less_equal", "logical_and", "logical_not", "logical_or")},
    "det": "its adjoint is det(A) times A's inverse transposed, and no registry operator inverts",
    "floor_divide": "integer division, as in TVM (floor(a / b) differentiates on floats)",
    "ndarray_size": "an integer count of the data's elements, not a function of their values",
    "shape_of": "integer sizes of the data, not a function of its values",
    "image.grid_sample": (
        "its data adjoint scatters into positions read from the grid, which no registry "
        "operator expresses (a scatter-add by computed index)"
    ),
    "nn.modulated_deformable_conv2d": (
        "its data adjoint scatters into positions moved by the offsets, and its offset adjoint "
        "needs the sampling's spatial derivative: no registry operator expresses either"
    ),
    "nn.max_unpool": (
        "a repeated index passes the gradient to its last writer only, which take (its "
        "adjoint otherwise) cannot express"
    ),
    "ones": "no operands",
    "zeros": "no operands",
    "reinterpret": "the same bits read as another dtype",
    "vision.roi_align": (
        "its data adjoint scatters into positions and counts read from the rois, which no "
        "registry operator expresses"
    ),
    "vision.non_max_suppression": "integer indices selected by comparisons",
    "unique": "its result size depends on the values (and three of its four results are indices)",
}
"""The registry operators without a gradient rule, each with the reason."""


def test_every_registry_operator_is_differentiable_or_listed() -> None:
    """An operator added to the registry needs a gradient rule (and a case above) or a
    place in NOT_DIFFERENTIABLE with its reason."""
    from relay_opt.dialects.relay.registry import all_ops

    names = {opdef.name for opdef in all_ops()}
    declared = {cls.OPDEF.name for cls in differentiable_operators()}
    assert not NOT_DIFFERENTIABLE.keys() - names, "listed but not in the registry"
    assert not declared & NOT_DIFFERENTIABLE.keys(), "listed but has a rule"
    assert names - NOT_DIFFERENTIABLE.keys() <= declared, (
        names - NOT_DIFFERENTIABLE.keys() - declared
    )


@pytest.mark.parametrize(
    "op",
    [
        "nn.adaptive_avg_pool2d",
        "image.resize2d",
        "full",
        "dyn.reshape",
        "dyn.broadcast_to",
        "dyn.strided_slice",
        "dyn.update_slice",
        "dyn.tile",
    ],
)
def test_compiled_operator_gradient(op: str) -> None:
    """These rules' gradients compile natively (the dyn.* ones through `?` dims) and agree
    with the interpreter."""
    from relay_opt import compile as compile_module

    rng = np.random.default_rng([2, len(op)])
    params, body, *fixed = CASES[op](rng)
    module = load_program(program(params, body), format="relay").module
    wrt = tuple(n for n, (_, t) in params.items() if t.startswith("float"))
    GradientPass(wrt=wrt).apply(Context(), module)
    inputs: list = random_inputs(params, rng)
    for name, value in (fixed[0] if fixed else {}).items():
        inputs[list(params).index(name)] = value
    want_value, want_grads = Interpreter(module).run("main_grad", inputs)
    value, grads = compile_module(module, entry="main_grad", cache=False)(*inputs)
    np.testing.assert_allclose(value, want_value, rtol=1e-10)
    for got, want in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_every_rule_is_checked() -> None:
    """Each operator with a gradient rule has a finite-difference case above."""
    checked = {name.split("/")[0] for name in CASES} | {"zeros_like", "ones_like"}
    declared = {cls.OPDEF.name for cls in differentiable_operators()}
    assert declared <= checked, declared - checked


def test_chain_and_shared_values() -> None:
    """A value used twice gets the sum of its adjoints; a small MLP end to end."""
    params: Params = {"x": f64(4, 3), "w1": f64(5, 3), "b1": f64(5), "w2": f64(2, 5)}
    body = (
        "%h = tanh(nn.bias_add(nn.dense(%x, %w1), %b1)); "
        "nn.log_softmax(nn.dense(%h * %h + %h, %w2))"
    )
    check_gradient(params, body, np.random.default_rng(7))


@pytest.mark.parametrize("c", [False, True])
@pytest.mark.parametrize("d", [False, True])
def test_through_if(c: bool, d: bool) -> None:
    """An `if` differentiates through the branch taken: the backward `if` reruns that
    branch's forward ops and yields the adjoints of the outer values it uses (a tuple too)."""
    params: Params = {
        "c": ((), "bool"),
        "d": ((), "bool"),
        "x": f64(3, 4),
        "w": f64(4),
    }
    body = (
        "%p = (%x, %w); "
        "if (%c) { let %h = tanh(%x) * %w; if (%d) { %h * %h } else { %h + %p.1 } } "
        "else { exp(%p.0) * %x }"
    )
    fixed = {"c": np.array(c), "d": np.array(d)}
    check_gradient(params, body, np.random.default_rng(5), fixed)


@pytest.mark.parametrize("some", [False, True])
def test_through_match(some: bool) -> None:
    """A `match` on a value that is not differentiated: the backward `match` has the same
    patterns (rebinding their variables) and reruns the clause taken."""
    from relay_opt.runtime.values import ADTValue

    params: Params = {"o": ((), "Option[Tensor[(3), float64]]"), "x": f64(3)}
    body = "match (%o) { Some(%v) => %v * exp(%x) + %x, None => %x * %x }"
    rng = np.random.default_rng(11)
    o = (
        ADTValue("Option::Some", 0, (rng.standard_normal(3),))
        if some
        else ADTValue("Option::None", 1, ())
    )
    check_gradient(params, body, rng, {"o": o})  # pyright: ignore[reportArgumentType]


def test_wrt_selects_parameters_and_unused_get_zeros() -> None:
    src = (
        '#[version = "0.0.5"]\n'
        "def @main(%x: Tensor[(2), float64], %y: Tensor[(2), float64], %z: Tensor[(2), float64]) {\n"
        "  sum(%x * %y)\n}\n"
    )
    module = load_program(src, format="relay").module
    GradientPass(wrt=("z", "0")).apply(Context(), module)
    x, y, z = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])
    value, (gz, gx) = Interpreter(module).run("main_grad", [x, y, z])
    assert value == 11.0
    np.testing.assert_array_equal(gz, [0.0, 0.0])
    np.testing.assert_array_equal(gx, y)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("argmax(%x)", "'argmax' is not differentiable"),
        # In a closure: the higher-order gradient names the operator too.
        (
            "let %f = fn (%y: Tensor[(3), float32]) { floor_divide(%y, 2f) }; %f(%x)",
            "'floor_divide' is not",
        ),
        ('nn.pad(%x, 0f, pad_width=[[1, 1]], pad_mode="edge")', "pad_mode 'edge'"),
    ],
)
def test_errors_name_the_operator(body: str, message: str) -> None:
    src = f'#[version = "0.0.5"]\ndef @main(%x: Tensor[(3), float32]) {{\n  {body}\n}}\n'
    module = load_program(src, format="relay").module
    with pytest.raises(RelayError, match=message) as info:
        GradientPass().apply(Context(), module)
    assert info.value.at is not None


def test_rules_are_declared_with_their_operators() -> None:
    """The rules live in the operator families (not in the pass)."""
    from relay_opt.dialects.relay.ops.grad import gradient_rule

    rule = gradient_rule(nn.Conv2D)
    assert rule is not None and rule.__module__ == nn.__name__
    rule = gradient_rule(transform.Take)
    assert rule is not None and rule.__module__ == transform.__name__


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def train():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("train", EXAMPLES / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["train"] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_compiled_training_step(train, kind: str) -> None:  # noqa: ANN001
    """examples/train.py's step (gradient pass + SGD update) for its MLP and its CNN, compiled
    once: equal to the interpreter and to the hand-written numpy step, and the loss falls
    over a few steps."""
    from relay_opt import compile as compile_module

    batch, lr = 16, 0.2
    model = train.mlp(6, 12, 3) if kind == "mlp" else train.cnn(side=6, channels=2, classes=3)
    module = train.build_module(model, batch, lr)
    step = compile_module(module, entry="train_step", opt=1, cache=False)
    x, t = model.make_dataset(batch, 0)
    weights = model.init_weights(1)
    got = step(x, t, *weights)
    interpreted = Interpreter(module).run("train_step", [x, t, *weights])
    by_hand = model.numpy_step(x, t, weights, lr)
    for a, b, c in zip(got, interpreted, by_hand, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-5)
    losses = []
    for _ in range(20):
        loss, *weights = step(x, t, *weights)
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0], losses
