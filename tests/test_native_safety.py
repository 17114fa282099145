"""Native code never kills the process that called it: integer division by zero and
INT_MIN / -1, runaway recursion and out-of-range indices end in a defined value or a clean
error, the same in compiled code (-O0 and -O3) and in the reference interpreter, and the
reference semantics print no numpy warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.diagnostics import RelayError, location_of
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

HEADER = '#[version = "0.0.5"]\n'
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def _quietly(fn, *args):  # noqa: ANN001, ANN002, ANN202
    """fn(*args), failing on any warning it emits."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args)


# -- integer division ------------------------------------------------------------------------


def _expected(op: str, a: int, b: int, dtype: np.dtype) -> int:
    """The defined value, from Python's unbounded integers: x / 0, x // 0, x mod 0 are 0;
    a quotient out of range (INT_MIN / -1) wraps to INT_MIN."""
    if b == 0:
        return 0
    if op == "mod":
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    if op == "divide":
        q = abs(a) // abs(b)
        q = -q if (a < 0) != (b < 0) else q
    else:
        q = a // b
    info = np.iinfo(dtype)
    return (q - info.min) % (1 << info.bits) + info.min  # wraps, as two's complement


def _division_inputs(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    info = np.iinfo(dtype)
    edges = [
        (5, 0),
        (-7, 0),
        (0, 0),
        (info.min, 0),
        (info.max, 0),
        (info.min, -1),
        (info.min, 1),
        (info.max, -1),
        (-7, 2),
        (7, -2),
        (-7, -2),
        (info.min, 2),
        (info.max, info.max),
        (info.min, info.min),
    ]
    rng = np.random.default_rng(len(dtype))
    pairs = [(a, b) for a, b in edges if info.min <= a <= info.max and info.min <= b <= info.max]
    # Enough lanes for -O3's vector loop, with zeros among random divisors.
    ints = rng.integers(info.min, info.max, (46, 2), dtype=dtype, endpoint=True)
    pairs += [(int(a), int(b)) for a, b in ints[:40]] + [(int(a), 0) for a in ints[40:, 0]]
    x = np.array([a for a, _ in pairs], dtype=dtype)
    y = np.array([b for _, b in pairs], dtype=dtype)
    return x, y


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_division_is_defined_everywhere(dtype: str):
    x, y = _division_inputs(dtype)
    n = len(x)
    text = HEADER + (
        f"def @main(%x: Tensor[({n}), {dtype}], %y: Tensor[({n}), {dtype}]) {{\n"
        "  (divide(%x, %y), mod(%x, %y), floor_divide(%x, %y))\n}\n"
    )
    module = load_program(text, "relay").module
    ops = ["divide", "mod", "floor_divide"]
    want = [
        np.array(
            [_expected(op, int(a), int(b), x.dtype) for a, b in zip(x, y, strict=True)], dtype=dtype
        )
        for op in ops
    ]
    interpreted = _quietly(interpret, module, [x, y])
    for op, got, expected in zip(ops, interpreted, want, strict=True):
        np.testing.assert_array_equal(got, expected, err_msg=f"interpreted {op}")
    for level in (0, 3):
        native = compile(module, opt=level)(x, y)
        for op, got, expected in zip(ops, native, want, strict=True):  # pyright: ignore
            np.testing.assert_array_equal(got, expected, err_msg=f"{op} at -O{level}")


def test_float_division_by_zero_prints_no_warning():
    text = HEADER + (
        "def @main(%x: Tensor[(3), float32], %y: Tensor[(3), float32]) {\n"
        "  (divide(%x, %y), mod(%x, %y), floor_divide(%x, %y))\n}\n"
    )
    module = load_program(text, "relay").module
    x = np.array([1, -1, 0], dtype="float32")
    y = np.zeros(3, dtype="float32")
    q, r, f = _quietly(interpret, module, [x, y])  # pyright: ignore
    np.testing.assert_array_equal(q, [np.inf, -np.inf, np.nan])
    assert np.isnan(r).all()
    np.testing.assert_array_equal(f, [np.inf, -np.inf, np.nan])


def _wrap(value: int, dtype: str) -> int:
    info = np.iinfo(dtype)
    return (value - info.min) % (1 << info.bits) + info.min


def _run_everywhere(text: str, inputs: list[np.ndarray]) -> list[tuple[str, object]]:
    """(executor, result) of the interpreter (checked quiet) and native code at -O0, -O3."""
    module = load_program(text, "relay").module
    out: list[tuple[str, object]] = [("interpreted", _quietly(interpret, module, inputs))]
    for level in (0, 3):
        out.append((f"-O{level}", compile(module, opt=level)(*inputs)))
    return out


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint64"])
def test_integer_power_is_defined_for_negative_exponents(dtype: str):
    """x ** -n is 1 / x ** n towards zero (numpy refuses it; native code gave 1)."""
    info = np.iinfo(dtype)
    pairs = [(x, y) for x in (-3, -2, -1, 0, 1, 2, 3, 7) for y in (-3, -2, -1, 0, 1, 2, 3, 5)]
    pairs = [(x, y) for x, y in pairs if info.min <= x and info.min <= y]
    x = np.array([a for a, _ in pairs], dtype=dtype)
    y = np.array([b for _, b in pairs], dtype=dtype)
    want = []
    for a, b in pairs:
        if b >= 0:
            want.append(_wrap(a**b, dtype))
        else:
            want.append(1 if a == 1 else (-1) ** (-b) if a == -1 else 0)
    n = len(pairs)
    text = HEADER + (
        f"def @main(%x: Tensor[({n}), {dtype}], %y: Tensor[({n}), {dtype}]) {{ power(%x, %y) }}\n"
    )
    for where, got in _run_everywhere(text, [x, y]):
        np.testing.assert_array_equal(got, np.array(want, dtype=dtype), err_msg=where)  # pyright: ignore


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32"])
def test_integer_mean_wraps_like_tvm_and_an_empty_mean_is_zero(dtype: str):
    """The sum in the input dtype, truncated division by the count; nothing to average is 0
    (native code divided by a constant 0: SIGFPE at -O0)."""
    x = np.array([[100, 100, 27], [-100, -100, -27]] if dtype[0] == "i" else [[200, 100, 9]] * 2)
    x = x.astype(dtype)
    text = HEADER + (
        f"def @main(%x: Tensor[(2, 3), {dtype}], %e: Tensor[(2, 0), {dtype}]) {{\n"
        "  (mean(%x, axis=[1]), mean(%e, axis=[1]))\n}\n"
    )
    sums = [_wrap(int(sum(int(v) for v in row)), dtype) for row in x]
    want = [abs(s) // 3 * (1 if s >= 0 else -1) for s in sums]
    for where, got in _run_everywhere(text, [x, np.zeros((2, 0), dtype)]):
        np.testing.assert_array_equal(got[0], np.array(want, dtype=dtype), err_msg=where)  # pyright: ignore
        np.testing.assert_array_equal(got[1], np.zeros(2, dtype), err_msg=where)  # pyright: ignore


# -- runaway recursion -----------------------------------------------------------------------

# Not tail calls: a tail call is a jump (tail-calls-to-loops), and `@f(%x)` alone would loop
# forever in constant stack.
RUNAWAY = HEADER + (
    "def @f(%x: Tensor[(4), float32]) -> Tensor[(4), float32] {\n"
    "  add(@f(%x), %x)\n"
    "}\n"
    "def @main(%x: Tensor[(4), float32]) -> Tensor[(4), float32] {\n"
    "  @f(%x)\n"
    "}\n"
)
MUTUAL = HEADER + (
    "def @ping(%x: Tensor[(4), float32]) -> Tensor[(4), float32] {\n"
    "  negative(@pong(%x))\n"
    "}\n"
    "def @pong(%x: Tensor[(4), float32]) -> Tensor[(4), float32] {\n"
    "  @ping(%x)\n"
    "}\n"
    "def @main(%x: Tensor[(4), float32]) -> Tensor[(4), float32] {\n"
    "  @ping(%x)\n"
    "}\n"
)


def test_runaway_recursion_is_a_located_error_in_the_interpreter(monkeypatch):
    monkeypatch.setenv("RELAY_OPT_MAX_DEPTH", "300")
    module = load_program(RUNAWAY, "relay", filename="runaway.rly").module
    with pytest.raises(RelayError, match=r"@f called more than 300 levels deep") as e:
        interpret(module, [np.ones(4, np.float32)])
    assert str(location_of(e.value.at)) == "runaway.rly:2:1"  # @f's definition
    monkeypatch.setenv("RELAY_OPT_MAX_DEPTH", "many")
    with pytest.raises(RelayError, match="RELAY_OPT_MAX_DEPTH must be a positive integer"):
        interpret(module, [np.ones(4, np.float32)])


def test_mutual_recursion_is_limited_too(monkeypatch):
    monkeypatch.setenv("RELAY_OPT_MAX_DEPTH", "100")
    module = load_program(MUTUAL, "relay").module
    with pytest.raises(RelayError, match=r"@p[io]ng called more than 100 levels deep"):
        interpret(module, [np.ones(4, np.float32)])


# Native code runs in a child process: if the depth check ever breaks, the stack overflow
# kills the child, not pytest.
NATIVE_CHILD = """
import sys
import numpy as np
from relay_opt import load_program
from relay_opt.diagnostics import RelayError, location_of
from relay_opt.runtime.jit import compile

module = load_program(sys.argv[1], "relay", filename="runaway.rly").module
for level in (0, 3):
    exe = compile(module, opt=level)
    for attempt in range(2):  # the error state is cleared before each call
        try:
            exe(np.ones(4, np.float32))
        except RelayError as e:
            print(f"-O{level}: {location_of(e.at)}: {e.message}")
        else:
            print(f"-O{level}: returned")
"""


@pytest.mark.parametrize("program, where", [(RUNAWAY, "2:1"), (MUTUAL, "(2|5):1")])
def test_runaway_recursion_is_a_located_error_in_native_code(program: str, where: str):
    import os
    import re
    import subprocess
    import sys

    env = {**os.environ, "RELAY_OPT_MAX_DEPTH": "2000"}
    child = subprocess.run(
        [sys.executable, "-c", NATIVE_CHILD, program],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr
    lines = child.stdout.splitlines()
    assert len(lines) == 4, child.stdout
    for line in lines:
        assert re.fullmatch(
            rf"-O[03]: runaway\.rly:{where}: recursion too deep: @\w+ called more than 2000 "
            r"levels deep \(runaway recursion\? RELAY_OPT_MAX_DEPTH sets the limit\)",
            line,
        ), line


STACK_CHILD = """
import os, sys, threading
import numpy as np
from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.runtime.jit import compile

os.environ["RELAY_OPT_MAX_DEPTH"] = str(10**9)  # more than any stack holds
exe = compile(load_program(sys.argv[1], "relay").module, opt=0)

def run():
    try:
        exe(np.ones(4, np.float32))
    except RelayError as e:
        print(e.message)

for stack in (None, 1 << 20):  # the main thread's stack, and a small thread's
    if stack:
        threading.stack_size(stack)
    t = threading.Thread(target=run) if stack else None
    (t.start(), t.join()) if t else run()
"""


def test_a_depth_limit_beyond_the_stack_is_still_an_error():
    import subprocess
    import sys

    child = subprocess.run(
        [sys.executable, "-c", STACK_CHILD, RUNAWAY], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.splitlines() == 2 * [
        "recursion too deep: @f used up the native stack before the depth limit of 1000000000 "
        "(runaway recursion? RELAY_OPT_MAX_DEPTH sets the limit)"
    ]


def test_relay_run_reports_runaway_recursion(tmp_path):
    import os
    import subprocess

    path = tmp_path / "runaway.rly"
    path.write_text(RUNAWAY)
    env = {**os.environ, "RELAY_OPT_MAX_DEPTH": "500"}
    for extra in ([], ["--interpret"]):
        child = subprocess.run(
            ["relay-run", str(path), "--fill-mode", "ones", "-o", str(tmp_path / "o.npz"), *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert child.returncode == 1, child.stderr
        assert child.stderr.startswith(
            f"{path}:2:1: error: recursion too deep: @f called more than 500 levels deep"
        ), child.stderr
        assert not (tmp_path / "o.npz").exists()


def test_code_without_recursion_has_no_depth_check():
    from relay_opt.runtime.jit import lower_to_llvm

    text = HEADER + (
        "def @g(%x: Tensor[(4), float32]) -> Tensor[(4), float32] { add(%x, %x) }\n"
        "def @main(%x: Tensor[(4), float32]) -> Tensor[(4), float32] { @g(@g(%x)) }\n"
    )
    lowered = lower_to_llvm(load_program(text, "relay").module, level=0)
    assert "relay_opt_depth" not in str(lowered) and "relay_opt_error" not in str(lowered)


# -- data-dependent indices ------------------------------------------------------------------

INDEX_DTYPES = ["int8", "int32", "int64", "uint8", "uint32", "uint64"]


def _take_expected(size: int, index: int, mode: str) -> int:
    """TVM's take: clip (and fast) clamps to [0, size), wrap is Python's modulo."""
    return index % size if mode == "wrap" else min(max(index, 0), size - 1)


@pytest.mark.parametrize("mode", ["clip", "wrap", "fast"])
@pytest.mark.parametrize("size", [5, 300])
def test_take_never_reads_out_of_bounds(mode: str, size: int):
    data = np.arange(size * 2, dtype=np.float32).reshape(2, size)
    params = ", ".join(f"%i_{d}: Tensor[(12), {d}]" for d in INDEX_DTYPES)
    takes = ", ".join(f'take(%x, %i_{d}, axis=1, mode="{mode}")' for d in INDEX_DTYPES)
    text = HEADER + (f"def @main(%x: Tensor[(2, {size}), float32], {params}) {{\n  ({takes})\n}}\n")
    module = load_program(text, "relay").module
    inputs, want = [data], []
    for d in INDEX_DTYPES:
        info = np.iinfo(d)
        values = [0, 1, size - 1, size, size + 3, -1, -size, -size - 2, 127, info.min, info.max, 2]
        indices = np.array([v for v in values if info.min <= v <= info.max][:12], dtype=d)
        indices = np.resize(indices, 12)
        inputs.append(indices)
        cols = [_take_expected(size, int(i), mode) for i in indices]
        want.append(data[:, cols])
    interpreted = _quietly(interpret, module, inputs)
    for d, got, expected in zip(INDEX_DTYPES, interpreted, want, strict=True):
        np.testing.assert_array_equal(got, expected, err_msg=f"interpreted, {d} indices")
    for level in (0, 3):
        native = compile(module, opt=level)(*inputs)
        for d, got, expected in zip(INDEX_DTYPES, native, want, strict=True):  # pyright: ignore
            np.testing.assert_array_equal(got, expected, err_msg=f"-O{level}, {d} indices")


def test_take_from_an_empty_axis_is_a_type_error():
    text = HEADER + (
        "def @main(%x: Tensor[(2, 0), float32], %i: Tensor[(3), int32]) {\n"
        '  take(%x, %i, axis=1, mode="wrap")\n}\n'
    )
    with pytest.raises(RelayError, match="take from an empty axis"):
        load_program(text, "relay", filename="empty.rly")
    # Taking nothing from it is fine.
    empty = text.replace("Tensor[(3), int32]", "Tensor[(0), int32]")
    module = load_program(empty, "relay").module
    x, i = np.zeros((2, 0), np.float32), np.zeros(0, np.int32)
    assert interpret(module, [x, i]).shape == (2, 0)  # pyright: ignore


# -- numpy warnings --------------------------------------------------------------------------

WARNING_PRONE = HEADER + (
    "def @main(%x: Tensor[(3), float32], %i: Tensor[(), int32]) {\n"
    '  (log(%x), exp(multiply(%x, 1000f)), cast(log(%x), dtype="int32"),\n'
    "   add(%i, 2147483647), divide(%x, 0f))\n"
    "}\n"
)


def test_the_reference_semantics_print_no_warnings():
    module = load_program(WARNING_PRONE, "relay").module
    x, i = np.array([-1, 0, 1], np.float32), np.array(5, np.int32)
    out = _quietly(interpret, module, [x, i])
    assert np.isnan(out[0][0]) and out[0][1] == -np.inf and out[1][2] == np.inf  # pyright: ignore
    assert out[3] == np.int32(-2147483644)  # pyright: ignore


def test_fold_constant_prints_no_warnings():
    from xdsl.context import Context

    from relay_opt.passes.fold_constant import FoldConstantPass

    text = HEADER + "def @main() { (log(-1f), divide(1f, 0f), add(2147483647, 1)) }\n"
    module = load_program(text, "relay").module
    _quietly(FoldConstantPass().apply, Context(), module)
    assert "relay.log" not in str(module) and "relay.divide" not in str(module)


def test_relay_run_compares_nan_and_inf_quietly(tmp_path):
    import subprocess

    (tmp_path / "log.rly").write_text(HEADER + "def @main(%x: Tensor[(3), float32]) { log(%x) }\n")
    np.savez(tmp_path / "in.npz", x=np.array([-1, 0, 1], np.float32))
    np.savez(tmp_path / "same.npz", output_0=np.array([np.nan, -np.inf, 0], np.float32))
    np.savez(tmp_path / "other.npz", output_0=np.array([np.inf, -np.inf, 0], np.float32))
    for extra, expected, verdict in [
        (["--interpret"], "same.npz", "[SUCCESS]"),
        ([], "same.npz", "[SUCCESS]"),
        ([], "other.npz", "[FAILED] result[0]: max abs diff nan"),
    ]:
        child = subprocess.run(
            ["relay-run", "log.rly", "-i", "in.npz", "--expected", expected, *extra],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )
        assert child.stderr == ""
        assert verdict in child.stdout, child.stdout


def test_onnx_import_folds_constants_quietly():
    from onnx import TensorProto, helper

    const = helper.make_tensor("c", TensorProto.FLOAT, [2], [-1.0, 0.0])
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["k"], value=const),
            helper.make_node("Log", ["k"], ["logk"]),  # all-constant: evaluated at import
            helper.make_node("Add", ["x", "logk"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    program = _quietly(load_program, model.SerializeToString(), "onnx")
    got = interpret(program.module, [np.zeros(2, np.float32)])
    assert np.isnan(got[0]) and got[1] == -np.inf  # pyright: ignore


def test_a_run_time_error_in_an_onnx_model_names_its_node(tmp_path):
    """Ops imported from ONNX carry their node (a NameLoc): a run-time error, native or
    interpreted, says the file and the node as the importer's own errors do; it said
    `<unknown>` (native) or `'relay.vision.roi_align'` (interpreted) before."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node(
        "RoiAlign", ["x", "rois", "i"], ["y"], name="roi", spatial_scale=1e6, sampling_ratio=0
    )
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4]),
            helper.make_tensor_value_info("rois", TensorProto.FLOAT, [1, 4]),
            helper.make_tensor_value_info("i", TensorProto.INT64, [1]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1])],
    )
    path = tmp_path / "roi.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)]), path)
    program = load_program(str(path))
    inputs = [np.ones((1, 1, 4, 4), np.float32), np.array([[0, 0, 3, 3]], np.float32)]
    inputs.append(np.zeros(1, np.int64))
    where = f"{path}: error: node 0 'roi' (RoiAlign): 'vision.roi_align'"
    with pytest.raises(RelayError) as native:
        compile(program.module, opt=0)(*inputs)
    assert program.render(native.value).startswith(f"{where}: a region needs more than 65536")
    with pytest.raises(RelayError) as interpreted:
        interpret(program.module, inputs)
    assert program.render(interpreted.value).startswith(f"{where} failed at run time: a region")
