"""Every elementwise/broadcast operator compiled to native code, against its numpy semantics."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.registry import lookup
from relay_opt.dialects.relay.types import tensor_type
from relay_opt.runtime.jit import compile

SHAPES = [((5,), (5,)), ((2, 3), (3,)), ((4, 1, 3), (1, 2, 1))]
FLOAT_UNARY = [
    "exp",
    "log",
    "sqrt",
    "rsqrt",
    "tanh",
    "sigmoid",
    "erf",
    "floor",
    "ceil",
    "round",
    "sin",
    "cos",
    "negative",
    "abs",
    "nn.relu",
]
ARITH = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "maximum",
    "minimum",
    "mod",
    "floor_divide",
    "power",
]
COMPARE = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]


def single_op(name: str, arg_types, attrs=None) -> ModuleOp:
    opdef = lookup(name)
    block = Block(arg_types=arg_types)
    op = opdef.build(list(block.args), attrs or {})
    block.add_ops([op, core.ReturnOp(op.result)])
    f = core.FuncOp("main", arg_types, op.result.type, region=Region(block))
    return ModuleOp([f])


def random(shape, dtype: str, rng, positive: bool = False) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        x = rng.standard_normal(shape) * 2
        return (np.abs(x) + 0.1 if positive else x).astype(numpy_dtype(dtype))
    lo = 1 if positive else (-9 if not dtype.startswith("uint") else 0)
    return rng.integers(lo, 10, shape).astype(numpy_dtype(dtype))


def check(name: str, shapes, dtypes, attrs=None, positive=False, rtol=1e-5, atol=1e-6):
    rng = np.random.default_rng(zlib.crc32(repr((name, shapes)).encode()))
    types = [tensor_type(s, d) for s, d in zip(shapes, dtypes, strict=True)]
    module = single_op(name, types, attrs)
    exe = compile(module)
    inputs = [random(s, d, rng, positive) for s, d in zip(shapes, dtypes, strict=True)]
    got = exe(*inputs)
    opdef = lookup(name)
    want = opdef.compute(opdef.make_attrs(attrs), *inputs)
    assert got.dtype == want.dtype and got.shape == want.shape
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", FLOAT_UNARY)
@pytest.mark.parametrize("shape", [s for s, _ in SHAPES])
def test_float_unary(name, shape):
    check(name, [shape], ["float32"], positive=name in ("log", "sqrt", "rsqrt"))


@pytest.mark.parametrize("name", ["negative", "abs", "nn.relu"])
@pytest.mark.parametrize("dtype", ["int32", "int64", "int8"])
def test_integer_unary(name, dtype):
    check(name, [(3, 4)], [dtype])


@pytest.mark.parametrize("name", ARITH)
@pytest.mark.parametrize("shapes", SHAPES)
def test_float_binary(name, shapes):
    check(
        name,
        list(shapes),
        ["float32", "float32"],
        positive=name in ("power", "mod", "floor_divide", "divide"),
    )


@pytest.mark.parametrize("name", [n for n in ARITH if n != "power"])
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
def test_integer_binary(name, dtype):
    check(name, [(2, 3), (3,)], [dtype, dtype], positive=name in ("divide", "mod", "floor_divide"))


@pytest.mark.parametrize("name", COMPARE)
@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8"])
def test_compare(name, dtype):
    check(name, [(4, 3), (3,)], [dtype, dtype])


@pytest.mark.parametrize("name", ["logical_and", "logical_or"])
def test_logical(name):
    check(name, [(3, 5), (5,)], ["bool", "bool"])
    check("logical_not", [(7,)], ["bool"])


def test_where_leaky_relu_clip():
    check("where", [(2, 3), (2, 3), (3,)], ["bool", "float32", "float32"])
    check("nn.leaky_relu", [(4, 5)], ["float32"], {"alpha": 0.1})
    check("clip", [(4, 5)], ["float32"], {"a_min": -0.5, "a_max": 1.5})
    check("clip", [(4, 5)], ["int32"], {"a_min": -3.0, "a_max": 4.0})


@pytest.mark.parametrize(
    "dtype, a_min, a_max",
    [
        ("uint16", -1000.0, 1000.0),  # the fuzzer's: a_min wrapped to 64536, every value 1000
        ("uint8", -5.0, 300.0),  # both bounds beyond the range: the values unchanged
        ("int8", -1e30, 2.5),
        ("int32", float("-inf"), float("inf")),  # math.ceil(-inf) raised OverflowError
        ("uint8", 300.0, 400.0),  # the whole range above: one value, wrapped (300 -> 44)
        ("int8", -1000.0, -200.0),
    ],
)
def test_integer_clip_bounds_beyond_the_dtype(dtype: str, a_min: float, a_max: float):
    check("clip", [(4, 5)], [dtype], {"a_min": a_min, "a_max": a_max})


@pytest.mark.parametrize(
    "src, dst",
    [
        ("float32", "int32"),
        ("int32", "float32"),
        ("float32", "float64"),
        ("float64", "float32"),
        ("int64", "int8"),
        ("int8", "int64"),
        ("uint8", "float32"),
        ("float32", "bool"),
        ("bool", "int32"),
        ("int32", "bool"),
    ],
)
def test_cast(src, dst):
    check("cast", [(3, 4)], [src], {"dtype": dst})


def test_executable_checks_its_arguments():
    exe = compile(single_op("add", [tensor_type((2,), "float32")] * 2))
    ok = np.zeros(2, np.float32)
    with pytest.raises(ValueError, match="input 'x|must be 2 float32"):
        exe(ok, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="float32, got 2 float64"):
        exe(ok, np.zeros(2, np.float64))
    with pytest.raises(TypeError, match="expected 2 input"):
        exe(ok)


def test_round_just_below_a_half():
    """round's halves go away from zero, and what is below a half goes down, in both
    implementations: floor(|x| + 0.5) took 0.49999997 to 1 (the sum rounds to 1.0)."""
    x = np.array([0.49999997, -0.49999997, 0.5, -0.5, 1.4999999, 2.5, -2.5, 8388609.0], np.float32)
    want = np.array([0, -0, 1, -1, 1, 3, -3, 8388609], np.float32)
    opdef = lookup("round")
    np.testing.assert_array_equal(opdef.compute(opdef.make_attrs({}), x), want)
    exe = compile(single_op("round", [tensor_type(x.shape, "float32")]))
    np.testing.assert_array_equal(exe(x), want)


def test_float16_floor_divide_just_under_a_whole_number():
    """numpy divides float16 in float32: 3.002 / 0.6006 is 4.9983, which float16 rounds to
    5.0, so dividing in float16 before the floor gave 5 where numpy gives 4 (fuzzer, seed
    13 #9684)."""
    x = np.array([3.002, -3.002, 7.0, 1.0], np.float16)
    y = np.array([0.6006, 0.6006, 2.0, 3.0], np.float16)
    want = np.floor_divide(x, y)
    assert want[0] == 4
    types = [tensor_type((4,), "float16")] * 2
    for level in (0, 3):
        exe = compile(single_op("floor_divide", types), opt=level)
        np.testing.assert_array_equal(exe(x, y), want)
