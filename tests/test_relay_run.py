"""relay-run end to end, as a user runs it: npz in and out, naming errors, fill modes, --expected."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PROGRAM = """#[version = "0.0.5"]
def @main(%x: Tensor[(2, 3), float32], %y: Tensor[(3), float32]) {
  (add(%x, %y), sum(%x))
}
"""


def relay_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["relay-run", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "p.rly"
    path.write_text(PROGRAM)
    np.savez(
        tmp_path / "in.npz",
        x=np.arange(6, dtype=np.float32).reshape(2, 3),
        y=np.ones(3, np.float32),
    )
    return path


@pytest.mark.parametrize("mode", [["--interpret"], []])
def test_runs_and_saves_outputs(program: Path, tmp_path: Path, mode):
    out = tmp_path / "out.npz"
    r = relay_run(str(program), "-i", str(tmp_path / "in.npz"), "-o", str(out), *mode)
    if not mode and r.returncode:  # compiled: sum has no native lowering yet
        assert (
            "no lowering to linalg for operator 'sum'" in r.stderr and "Traceback" not in r.stderr
        )
        return
    assert r.returncode == 0, r.stderr
    assert "result[0]: 2x3xfloat32" in r.stdout and "result[1]: float32 15." in r.stdout
    saved = np.load(out)
    np.testing.assert_array_equal(saved["output_0"], np.arange(6).reshape(2, 3) + 1)
    assert saved["output_1"] == 15


def test_input_names_are_checked(program: Path, tmp_path: Path):
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 3), np.float32), z=np.zeros(3, np.float32))
    r = relay_run(str(program), "-i", str(tmp_path / "bad.npz"), "--interpret")
    assert r.returncode == 1
    assert "unknown input(s) z; @main expects x, y" in r.stderr and "Traceback" not in r.stderr
    r = relay_run(str(program), "--interpret")
    assert r.returncode == 1 and "missing input(s) x, y" in r.stderr


def test_fill_mode_and_expected(program: Path, tmp_path: Path):
    want = tmp_path / "want.npz"
    np.savez(want, output_0=np.full((2, 3), 2, np.float32), output_1=np.float32(6))
    r = relay_run(str(program), "--fill-mode", "ones", "--interpret", "--expected", str(want))
    assert r.returncode == 0 and "[SUCCESS]" in r.stdout
    r = relay_run(str(program), "--fill-mode", "zeros", "--interpret", "--expected", str(want))
    assert r.returncode == 1 and "[FAILED] result[0]: max abs diff 2" in r.stdout


def test_wrong_shape_is_an_error(program: Path, tmp_path: Path):
    np.savez(tmp_path / "in2.npz", x=np.zeros((3, 3), np.float32), y=np.ones(3, np.float32))
    r = relay_run(str(program), "-i", str(tmp_path / "in2.npz"), "--interpret")
    assert r.returncode == 1 and "input 'x'" in r.stderr and "Traceback" not in r.stderr


def test_syntax_error_is_located(tmp_path: Path):
    bad = tmp_path / "bad.rly"
    bad.write_text('#[version = "0.0.5"]\ndef @main() { add(1, }\n')
    r = relay_run(str(bad), "--interpret")
    assert r.returncode == 1 and f"{bad}:2:" in r.stderr and "Traceback" not in r.stderr


def test_compiled_timing(tmp_path: Path):
    path = tmp_path / "e.rly"
    path.write_text('#[version = "0.0.5"]\ndef @main(%x: Tensor[(64), float32]) { exp(%x) }\n')
    r = relay_run(str(path), "--fill-mode", "random", "--repeat", "5", "--print-time")
    assert r.returncode == 0, r.stderr
    assert "mean (ms)" in r.stdout and "median (ms)" in r.stdout and "std (ms)" in r.stdout


def test_profile_of_an_onnx_model_names_each_kernel_by_its_node(tmp_path: Path):
    """ONNX operators have no source position: their kernels are named by the node each was
    built for (the importer's `NameLoc`), so two nodes of one operator are told apart."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="first"),
        helper.make_node("Softmax", ["r"], ["s"], name="probs"),
        helper.make_node("Relu", ["s"], ["y"], name="second"),
    ]
    info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 8]) for n in ("x", "y")]
    model = helper.make_model(helper.make_graph(nodes, "g", info[:1], info[1:]))
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    r = relay_run(str(path), "--fill-mode", "random", "--profile", "-O", "0")
    assert r.returncode == 0, r.stderr
    assert "@main: nn.relu (generic) at node 0 'first' (Relu)" in r.stdout
    assert "@main: nn.relu (generic) at node 2 'second' (Relu)" in r.stdout
    assert re.search(
        r"@main: nn.softmax step \d/\d \(generic, reduction\) at node 1 'probs'", r.stdout
    )


def test_profile_names_each_kernel(tmp_path: Path):
    path = tmp_path / "k.rly"
    path.write_text(
        '#[version = "0.0.5"]\ndef @main(%x: Tensor[(1, 2, 6, 6), float32], %w: Tensor[(3, 2, 3, 3), float32]) {\n'
        "  nn.relu(nn.conv2d(%x, %w, padding=[1, 1]))\n}\n"
    )
    r = relay_run(str(path), "--fill-mode", "random", "--profile")
    assert r.returncode == 0, r.stderr
    assert "Kernel profile" in r.stdout
    assert re.search(rf"@main: nn.conv2d (step \d/\d )?\(generic.*\) at {path}:3:", r.stdout)
    assert "nn.relu" not in r.stdout  # fused into the conv2d's loop nest (fuse-linalg-epilogue)
    r = relay_run(
        str(path), "--fill-mode", "random", "--profile", "-O", "0"
    )  # unfused: a kernel each
    assert r.returncode == 0, r.stderr
    assert (
        f"@main: nn.conv2d step 3/3 (generic, reduction) at {path}:3:" in r.stdout
        and f"@main: nn.relu (generic) at {path}:3:" in r.stdout
    )
    r = relay_run(str(path), "--fill-mode", "random", "--profile", "--interpret")
    assert r.returncode == 1 and "--profile times compiled kernels" in r.stderr


@pytest.mark.parametrize("suffix", [".rly", ".mlir"])
def test_mlir_timing_shows_infer_types_once(tmp_path: Path, suffix: str):
    path = tmp_path / "e.rly"
    path.write_text(
        '#[version = "0.0.5"]\ndef @main(%x: Tensor[(8), float32]) { exp(negative(%x)) }\n'
    )
    if suffix == ".mlir":
        mlir = tmp_path / "e.mlir"
        r = subprocess.run(
            ["relay-opt", str(path), "-o", str(mlir)], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        path = mlir
    r = relay_run(str(path), "--fill-mode", "random", "--mlir-timing")
    assert r.returncode == 0, r.stderr
    assert "Pass execution timing report" in r.stderr and "timing" not in r.stdout
    rows = [line.split()[-1] for line in r.stderr.splitlines() if "%)" in line]
    assert rows.count("infer-types") == 1 and rows[0] == "infer-types"
    assert {"fuse-ops", "convert-relay-to-linalg", "convert-to-llvm", "Total"} <= set(rows)


def test_entry_other_than_main_at_every_level(tmp_path: Path):
    # Optimizing used to drop every function but @main: `--entry f` at -O1..-O3 segfaulted.
    path = tmp_path / "two.rly"
    path.write_text(
        '#[version = "0.0.5"]\n'
        "def @f(%x: Tensor[(4), float32]) { add(%x, %x) }\n"
        "def @main(%x: Tensor[(4), float32]) { multiply(%x, %x) }\n"
    )
    for level in ("0", "1", "3"):
        r = relay_run(str(path), "--entry", "f", "-O", level, "--fill-mode", "ones")
        assert r.returncode == 0, r.stderr
        assert "result[0]: 4xfloat32 [2., 2., 2., 2.]" in r.stdout


@pytest.mark.parametrize(
    "option", [["--rtol", "nan"], ["--atol", "-1"], ["--atol", "inf"], ["--repeat", "-3"]]
)
def test_meaningless_numbers_are_refused(program: Path, option):
    # --rtol nan used to print [SUCCESS] for any result; --repeat -3 was ignored.
    r = relay_run(str(program), "--interpret", "--fill-mode", "ones", *option)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"argument {option[0]}" in r.stderr


def _run_in_process(*args: str) -> int:
    from relay_opt.tools.relay_run import main

    return main(list(args))


def test_bad_npz_files_are_named_errors(program: Path, tmp_path: Path, capsys):
    import zipfile

    rand = tmp_path / "rand.npz"
    rand.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8)))
    member = tmp_path / "member.npz"
    with zipfile.ZipFile(member, "w") as z:
        z.writestr("x.npy", b"not an npy array")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, x=np.array([{}], dtype=object))
    cases = {
        ("-i", rand): "rand.npz: error: --inputs: not a valid .npz file: not a zip archive",
        ("--expected", rand): "rand.npz: error: --expected: not a valid .npz file: not a zip",
        ("--meta", rand): "rand.npz: error: --meta: not a valid .npz file: not a zip archive",
        ("-i", member): "member.npz: error: --inputs: not a valid .npz file: its member 'x' is "
        "not an .npy array",
        ("-i", pickled): "pickled.npz: error: --inputs: not a valid .npz file: its member 'x' is "
        "an array of Python objects, which is never unpickled",
        ("-i", tmp_path / "none.npz"): "none.npz: error: --inputs: cannot read the file: No such",
    }
    for (option, path), message in cases.items():
        code = _run_in_process(str(program), option, str(path), "--fill-mode", "ones")
        captured = capsys.readouterr()
        assert code == 1 and message in captured.err, (option, path, captured.err)
        assert "allow_pickle" not in captured.err and "internal error" not in captured.err
        assert captured.out == ""  # refused before anything ran


def test_npz_with_wrong_shapes_or_dtypes_is_an_error(program: Path, tmp_path: Path, capsys):
    np.savez(tmp_path / "s.npz", x=np.zeros((3, 2), np.float32), y=np.ones(3, np.float32))
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 3), np.int32), y=np.ones(3, np.float32))
    for name, message in (("s", "got 3x2 float32"), ("d", "got 2x3 int32")):
        assert _run_in_process(str(program), "-i", str(tmp_path / f"{name}.npz")) == 1
        assert f"input 'x' must be 2x3 float32, {message}" in capsys.readouterr().err


def test_a_tensor_larger_than_memory_is_refused_where_it_is_declared(tmp_path: Path, capsys):
    huge = tmp_path / "huge.rly"
    huge.write_text(
        '#[version = "0.0.5"]\n'
        "def @main(%x: Tensor[(100000, 100000, 10000), float32]) {\n"
        "  add(%x, 1f)\n"
        "}\n"
    )
    for mode in ([], ["--interpret"]):
        assert _run_in_process(str(huge), "--fill-mode", "zeros", *mode) == 1
        err = capsys.readouterr().err
        assert f"{huge}:2:1: error: parameter %x of type tensor<100000x100000x10000xf32>" in err
        assert "needs 364 TiB, more than this machine's memory" in err
    splat = tmp_path / "splat.mlir"
    t = "tensor<1000000000x1000000000xf32>"
    splat.write_text(
        f"builtin.module {{\n  relay.func @main() -> {t} {{\n"
        f"    %0 = relay.constant dense<1.0> : {t}\n    relay.return %0 : {t}\n  }}\n}}\n"
    )
    assert _run_in_process(str(splat)) == 1
    err = capsys.readouterr().err
    assert f"{splat}:3:30: error: this dense literal has too many elements to expand" in err


def test_onnx_external_data_is_read_beside_the_model(tmp_path: Path, capsys, monkeypatch):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.arange(200, dtype=np.float32).reshape(20, 10)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 20])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(w, "W")],
    )
    model = tmp_path / "m.onnx"
    onnx.save_model(
        helper.make_model(graph),
        str(model),
        save_as_external_data=True,
        location="m.weights",
        size_threshold=0,
    )
    monkeypatch.chdir(tmp_path.parent)  # relative to the model, not to the current directory
    out = tmp_path / "out.npz"
    assert _run_in_process(str(model), "--fill-mode", "ones", "-o", str(out)) == 0
    np.testing.assert_array_equal(np.load(out)["y"], np.ones((1, 20), np.float32) @ w)
    data = (tmp_path / "m.weights").read_bytes()
    (tmp_path / "m.weights").write_bytes(data[:100])
    assert _run_in_process(str(model), "--fill-mode", "ones") == 1
    err = capsys.readouterr().err
    assert f"{model}: error: the data of tensor 'W' cannot be read from 'm.weights'" in err
    (tmp_path / "m.weights").unlink()
    assert _run_in_process(str(model), "--fill-mode", "ones") == 1
    err = capsys.readouterr().err
    assert (
        f"{model}: error: the data of tensor 'W' is in the file 'm.weights', which does not exist"
        in err
    )
    assert "internal error" not in err


SCRATCH_PROBE = """
import resource, sys
import numpy as np
from relay_opt import load_program
from relay_opt.runtime.allocator import steady_scratch_memory
from relay_opt.runtime.jit import compile

if sys.argv[1] == "steady":
    assert steady_scratch_memory()
exe = compile(load_program(sys.argv[2]).module)
x, w = np.ones((1, 16, 128, 128), np.float32), np.ones((16, 16, 1, 1), np.float32)
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    exe(x, w)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(*faults)
"""


def test_the_second_call_reuses_the_scratch_memory_of_the_first(tmp_path: Path):
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("the malloc thresholds are glibc's")
    model = tmp_path / "m.rly"
    model.write_text(
        '#[version = "0.0.5"]\n'
        "def @main(%x: Tensor[(1, 16, 128, 128), float32], %w: Tensor[(16, 16, 1, 1), float32]) {\n"
        "  %0 = nn.conv2d(%x, %w, padding=[1, 1]);\n"
        "  nn.relu(nn.conv2d(nn.max_pool2d(%0, pool_size=[2, 2], strides=[2, 2]), %w))\n"
        "}\n"
    )

    def faults(mode: str) -> list[int]:
        r = subprocess.run(
            [sys.executable, "-c", SCRATCH_PROBE, mode, str(model)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        return [int(n) for n in r.stdout.split()]

    # glibc alone: the second call faults in its 1 MB of scratch memory again (the cause).
    assert faults("default")[1] > 50
    # With the thresholds fixed, only the first call does (relay-run's timed calls are steady).
    first, second, third = faults("steady")
    assert first > 50 and second < 10 and third < 10


def test_repeat_times_n_calls_after_an_untimed_warm_up(program: Path, capsys, monkeypatch):
    from relay_opt.runtime.interpreter import Interpreter

    calls = []
    run = Interpreter.run
    monkeypatch.setattr(Interpreter, "run", lambda self, *a: calls.append(1) or run(self, *a))
    args = [str(program), "--interpret", "--fill-mode", "ones", "--print-time"]
    assert _run_in_process(*args, "--repeat", "3") == 0
    assert len(calls) == 1 + 1 + 3  # the result, a warm-up, three timed
    out = capsys.readouterr().out.splitlines()
    header = out.index("Execution time summary:")
    assert out[header + 1].split() == [
        "mean",
        "(ms)",
        "median",
        "(ms)",
        "max",
        "(ms)",
        "min",
        "(ms)",
        "std",
        "(ms)",
    ]
    assert len([float(v) for v in out[header + 2].split()]) == 5
    calls.clear()
    assert _run_in_process(*args) == 0 and len(calls) == 3  # --print-time alone times one call


def test_threads_option(tmp_path: Path):
    # A nest large enough for parallelize-loops, run on two threads, checked by --expected.
    path = tmp_path / "big.rly"
    path.write_text(
        '#[version = "0.0.5"]\n'
        "def @main(%x: Tensor[(1, 16, 64, 64), float32]) { nn.relu(add(%x, %x)) }\n"
    )
    x = np.random.default_rng(0).standard_normal((1, 16, 64, 64), dtype=np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    np.savez(tmp_path / "want.npz", output_0=np.maximum(x + x, 0))
    args = [str(path), "-i", str(tmp_path / "in.npz"), "-O", "1", "--no-cache"]
    r = relay_run(*args, "--threads", "2", "--expected", str(tmp_path / "want.npz"))
    assert r.returncode == 0 and "[SUCCESS]" in r.stdout, r.stderr
    r = relay_run(*args, "--threads", "0")
    assert r.returncode != 0 and "--threads must be at least 1, got 0" in r.stderr
    assert "Traceback" not in r.stderr


IDENTITY = """#[version = "0.0.5"]
def @main(%x: Tensor[(4000), float32], %n: Tensor[(4000), int8], %b: Tensor[(4000), bool]) {
  (%x, %n, %b)
}
"""


def test_fill_mode_random_draws_uniformly_as_tvmc(tmp_path: Path, capsys):
    path = tmp_path / "id.rly"
    path.write_text(IDENTITY)
    drawn = []
    for seed in ("0", "0", "1"):
        out = tmp_path / f"out{len(drawn)}.npz"
        args = ["--interpret", "--fill-mode", "random", "--seed", seed, "-o", str(out)]
        assert _run_in_process(str(path), *args) == 0
        drawn.append(np.load(out))
    x, n, b = (drawn[0][f"output_{i}"] for i in range(3))
    # float: uniform on [-1, 1) (not standard-normal: no value beyond 1, a flat histogram)
    assert x.min() >= -1 and x.max() < 1 and x.min() < -0.99 and x.max() > 0.99
    counts, _ = np.histogram(x, bins=4, range=(-1, 1))
    assert counts.min() > 800
    # int8: [0, 128); bool: both values
    assert n.min() == 0 and n.max() == 127
    assert 1500 < b.sum() < 2500
    np.testing.assert_array_equal(drawn[0]["output_0"], drawn[1]["output_0"])  # seeded
    assert not np.array_equal(drawn[0]["output_0"], drawn[2]["output_0"])
    capsys.readouterr()


def test_scalar_results_print_as_scalars(tmp_path: Path, capsys):
    path = tmp_path / "s.rly"
    path.write_text('#[version = "0.0.5"]\ndef @main() { (55, 2.5f) }\n')
    assert _run_in_process(str(path), "--interpret") == 0
    out = capsys.readouterr().out
    assert "result[0]: int32 55\n" in out and "result[1]: float32 2.5\n" in out


def test_print_top_lists_the_largest_values_with_their_indices(tmp_path: Path, capsys):
    path = tmp_path / "t.rly"
    path.write_text(
        '#[version = "0.0.5"]\ndef @main(%x: Tensor[(1, 6), float32]) { nn.softmax(%x) }\n'
    )
    np.savez(tmp_path / "in.npz", x=np.array([[0.1, 3.0, -1.0, 2.0, 3.0, 0.5]], np.float32))
    args = [str(path), "--interpret", "-i", str(tmp_path / "in.npz"), "--print-top", "3"]
    assert _run_in_process(*args) == 0
    out = capsys.readouterr().out
    top = out[out.index("result[0] top 3:") :].splitlines()[1:4]
    # The 1 of shape 1x6 is left out of the index; equal values rank by index.
    assert [line.split()[1] for line in top] == ["[1]", "[4]", "[3]"]
    probs = np.exp([3.0, 3.0, 2.0]) / np.exp([0.1, 3.0, -1.0, 2.0, 3.0, 0.5]).sum()
    np.testing.assert_allclose([float(line.split()[2]) for line in top], probs, rtol=1e-4)


SYMBOLIC = """#[version = "0.0.5"]
def @main(%x: Tensor[(?, 3), float32]) { add(%x, %x) }
"""


def test_input_shape_fixes_symbolic_dimensions(tmp_path: Path, capsys):
    path = tmp_path / "sym.rly"
    path.write_text(SYMBOLIC)
    base = [str(path), "--interpret", "--fill-mode", "ones"]
    assert _run_in_process(*base) == 1
    assert "give them with --input-shape x=D1,D2,..." in capsys.readouterr().err
    assert _run_in_process(*base, "--input-shape", "x=2,3") == 0
    assert "result[0]: 2x3xfloat32 [2., 2., 2., 2., 2., 2.]" in capsys.readouterr().out
    assert _run_in_process(*base, "--input-shape", "x=2,4") == 1
    assert "--input-shape gives 'x' the shape (2, 4), which its type" in capsys.readouterr().err
    assert _run_in_process(*base, "--input-shape", "y=2") == 1
    err = capsys.readouterr().err
    assert "--input-shape names unknown input(s) y; @main expects x" in err
    np.savez(tmp_path / "in.npz", x=np.zeros((5, 3), np.float32))
    assert _run_in_process(*base, "-i", str(tmp_path / "in.npz"), "--input-shape", "x=2,3") == 1
    assert "but --inputs gives an array of shape (5, 3)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        _run_in_process(*base, "--input-shape", "x=2,three")
    assert exit_.value.code == 2
    assert "'x=2,three' is not NAME=D1,D2,..." in capsys.readouterr().err


def test_input_shape_of_an_onnx_graph_input(tmp_path: Path, capsys):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
    )
    model = tmp_path / "m.onnx"
    onnx.save_model(helper.make_model(graph), str(model))
    base = [str(model), "--interpret", "--fill-mode", "ones"]
    assert _run_in_process(*base) == 1  # nothing gives the ? dim a size to fill
    err = capsys.readouterr().err
    assert "cannot fill input 'x'" in err and "--input-shape x=D1,D2,..." in err
    assert _run_in_process(*base, "--input-shape", "x=4,3") == 0
    assert "result[0]: 4x3xfloat32" in capsys.readouterr().out


SOFTMAX = """#[version = "0.0.5"]
def @main(%x: Tensor[(2, 8), float32]) {
  nn.softmax(%x)
}
"""


@pytest.fixture(scope="module")
def softmax_profile(tmp_path_factory) -> tuple[str, str]:
    """One compiled --profile --html run (stdout, the page), shared by the tests that read it."""
    tmp = tmp_path_factory.mktemp("profile")
    path = tmp / "softmax.rly"
    path.write_text(SOFTMAX)
    page = tmp / "report.html"
    r = relay_run(str(path), "--fill-mode", "random", "--profile", "--html", str(page))
    assert r.returncode == 0, r.stderr
    return r.stdout, page.read_text()


def test_profile_rows_can_be_told_apart(softmax_profile):
    stdout, _ = softmax_profile
    table = stdout[stdout.index("Kernel profile") :].splitlines()[2:-1]
    names = [line.rsplit(None, 4)[0] for line in table]
    # softmax lowers to several kernels at one source position: each is a step of it
    steps = [n for n in names if "nn.softmax step" in n]
    assert len(steps) >= 2 and len(set(names)) == len(names)
    assert any("(generic, reduction)" in n for n in steps)
    assert all(n.startswith("@") for n in names)


def test_html_profile_is_a_self_contained_page(softmax_profile):
    from html.parser import HTMLParser

    stdout, page = softmax_profile

    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[str] = []
            self.bars: list[str] = []
            self.kernels: list[str] = []
            self.stages: list[str] = []
            self.external: list[str] = []
            self._cell: list[str] | None = None
            self._summary = False

        def handle_starttag(self, tag, attrs):  # noqa: ANN001
            a = dict(attrs)
            if tag not in ("meta", "br"):
                self.open.append(tag)
            if a.get("src") or (a.get("href") or "").startswith(("http", "//")):
                self.external.append(tag)
            if a.get("class") == "bar":
                self.bars.append(a.get("style") or "")
            if tag == "td" and self._cell is None:
                self._cell = []
            self._summary = tag == "summary"

        def handle_endtag(self, tag):  # noqa: ANN001
            assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing"
            if tag == "td" and self._cell is not None:
                self.kernels.append("".join(self._cell))
                self._cell = None

        def handle_data(self, data):  # noqa: ANN001
            if self._cell is not None:
                self._cell.append(data)
            if self._summary:
                self.stages.append(data)
                self._summary = False

    reader = Reader()
    reader.feed(page)
    reader.close()
    assert not reader.open and not reader.external and "<script" not in page
    table = stdout[stdout.index("Kernel profile") :].splitlines()[2:-1]
    assert len(reader.bars) == len(table)
    for line in table:  # every kernel of the printed profile has its row and bar
        assert line.rsplit(None, 4)[0] in reader.kernels
    assert "fuse-ops" in reader.stages and "convert-to-llvm" in reader.stages
    assert "nn.softmax" in page[page.index('id="groups"') :]  # the fused group's operators


def test_html_profile_draws_the_fused_groups(tmp_path: Path):
    """The page's picture: @main's dataflow as inline SVG, each fused group one box named as in
    the groups table, edges labelled with types."""
    import xml.etree.ElementTree as ET

    path = tmp_path / "two.rly"
    path.write_text(
        '#[version = "0.0.5"]\n'
        "def @main(%x: Tensor[(1, 8), float32], %w: Tensor[(4, 8), float32]) {\n"
        "  %0 = nn.relu(nn.dense(%x, %w));\n  add(nn.softmax(%0), %0)\n}\n"
    )
    page = tmp_path / "report.html"
    r = relay_run(str(path), "--fill-mode", "random", "--profile", "--html", str(page))
    assert r.returncode == 0, r.stderr
    text = page.read_text()
    svg = text[text.index("<svg") : text.index("</svg>") + len("</svg>")]
    root = ET.fromstring(svg)  # well-formed
    ns = {"s": "http://www.w3.org/2000/svg"}
    boxes = {
        kind: [t.text for t in root.findall(f"s:g[@class='{kind}']/s:title", ns)]
        for kind in ("group", "param", "op")
    }
    assert boxes["group"] == ["group 0: nn.dense + nn.relu", "group 1: nn.softmax + add"]
    assert boxes["param"] == ["%x", "%w"] and boxes["op"] == ["return"]
    labels = [t.text for t in root.findall("s:text", ns)]  # the edges' labels
    assert labels == ["1x8xfloat32", "4x8xfloat32", "1x4xfloat32", "1x4xfloat32"]
    groups_table = text[text.index('id="groups"') : text.index('id="graph"')]
    assert "nn.dense + nn.relu" in groups_table and "nn.softmax + add" in groups_table


def test_html_profile_loads_in_a_headless_browser(softmax_profile, tmp_path: Path):
    import shutil

    browser = next(
        (
            b
            for b in ("chromium", "chromium-browser", "google-chrome", "firefox")
            if shutil.which(b)
        ),
        None,
    )
    if browser is None:
        pytest.skip("no headless browser (chromium, google-chrome or firefox) is installed")
    _, page = softmax_profile
    path = tmp_path / "report.html"
    path.write_text(page)
    flags = ["--headless", "--disable-gpu", "--dump-dom"]
    if browser == "firefox":
        flags = ["--headless", "--screenshot", str(tmp_path / "shot.png")]
    r = subprocess.run(
        [browser, *flags, path.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    if browser != "firefox":
        assert 'id="kernels"' in r.stdout


def test_html_needs_profile(program: Path, tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_:
        _run_in_process(str(program), "--fill-mode", "ones", "--html", str(tmp_path / "r.html"))
    assert exit_.value.code == 2 and "give --profile too" in capsys.readouterr().err


POLYMORPHIC_MAIN = """#[version = "0.0.5"]
def @twice[A](%f: fn (A) -> A, %x: A) -> A { %f(%f(%x)) }
def @main[B](%x: B, %n: int32) -> (B, int32) {
  if (%n > 0) { @main(@twice(fn (%y: B) { %y }, %x), %n - 1) } else { (%x, %n) }
}
"""


def test_a_polymorphic_main_is_compiled_at_its_inputs_types(tmp_path: Path, capsys):
    """TVM's `def @main[A](%x: A)`: the interpreter runs it as it is; compiled, @main (and the
    polymorphic functions it calls, itself included) is specialized to the given arrays."""
    path = tmp_path / "poly.rly"
    path.write_text(POLYMORPHIC_MAIN)
    x = np.array([[1.0, 0.5], [2.0, -1.0]], np.float32)
    np.savez(tmp_path / "in.npz", x=x, n=np.int32(2))
    for extra in ([], ["--interpret"]):
        out = tmp_path / f"out{len(extra)}.npz"
        code = _run_in_process(str(path), "-i", str(tmp_path / "in.npz"), "-o", str(out), *extra)
        assert code == 0, capsys.readouterr()
        np.testing.assert_array_equal(np.load(out)["output_0"], x)
    # Arrays of two types for one type parameter: a named input error, no traceback.
    np.savez(tmp_path / "bad.npz", x=x, n=np.float32(2))
    capsys.readouterr()
    assert _run_in_process(str(path), "-i", str(tmp_path / "bad.npz")) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "input 'n'" in err, err


def test_compiling_a_polymorphic_entry_without_types_is_a_located_error():
    from relay_opt import load_program
    from relay_opt.diagnostics import RelayError
    from relay_opt.runtime.jit import compile

    program = load_program(POLYMORPHIC_MAIN, "relay", filename="poly.rly")
    with pytest.raises(RelayError, match="@main is polymorphic") as info:
        compile(program.module, cache=False)
    assert program.render(info.value).startswith("poly.rly:3:1: error: @main is polymorphic (B)")


def test_onnx_float8_and_int4_arrays_through_npz(tmp_path: Path, capsys):
    """.npz keeps only the bytes of an ml_dtypes array (dtype V1): an ONNX model's narrow
    inputs, outputs and expected arrays are read and written by the model's own dtypes."""
    import ml_dtypes
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT8E4M3FN),
        helper.make_node("Cast", ["q"], ["z"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
            helper.make_tensor_value_info("q", TensorProto.INT4, [2]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT8E4M3FN, [3]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, [2]),
        ],
    )
    model = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), str(model))
    x = np.array([0.3, 500, -2.7], np.float32)
    np.savez(tmp_path / "in.npz", x=x, q=np.array([-8, 7]).astype(ml_dtypes.int4))
    y = np.clip(x, -448, 448).astype(ml_dtypes.float8_e4m3fn)  # Cast saturates by default
    np.savez(tmp_path / "want.npz", y=y, z=np.array([-8, 7], np.float32))
    out = tmp_path / "out.npz"
    args = [
        "-i",
        str(tmp_path / "in.npz"),
        "-o",
        str(out),
        "--expected",
        str(tmp_path / "want.npz"),
    ]
    assert _run_in_process(str(model), *args) == 0
    printed = capsys.readouterr().out
    assert "result[0]: 3xfloat8_e4m3fn [0.3125, 448, -2.75]" in printed
    assert "[SUCCESS]" in printed
    saved = np.load(out)
    np.testing.assert_array_equal(saved["y"].view(ml_dtypes.float8_e4m3fn), y)
    np.testing.assert_array_equal(saved["z"], [-8, 7])


def test_onnx_e8m0_arrays_through_npz(tmp_path: Path, capsys):
    """FLOAT8E8M0 (MX formats' power-of-two scale) in and out of .npz: an E8M0 input cast
    to float32, and a float32 input cast to E8M0 rounding down."""
    import ml_dtypes
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["s"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["x"], ["e"], to=TensorProto.FLOAT8E8M0, round_mode="down"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("s", TensorProto.FLOAT8E8M0, [3]),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
        ],
        [
            helper.make_tensor_value_info("f", TensorProto.FLOAT, [3]),
            helper.make_tensor_value_info("e", TensorProto.FLOAT8E8M0, [3]),
        ],
    )
    model = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)]), str(model))
    s = np.array([0, 127, 130], np.uint8).view(ml_dtypes.float8_e8m0fnu)  # 2^-127, 1, 8
    np.savez(tmp_path / "in.npz", s=s, x=np.array([0.3, 5, 1e30], np.float32))
    e = np.array([0.25, 4, 2.0**99], np.float32).astype(ml_dtypes.float8_e8m0fnu)
    np.savez(tmp_path / "want.npz", f=np.array([2.0**-127, 1, 8], np.float32), e=e)
    out = tmp_path / "out.npz"
    args = [
        "-i",
        str(tmp_path / "in.npz"),
        "-o",
        str(out),
        "--expected",
        str(tmp_path / "want.npz"),
    ]
    assert _run_in_process(str(model), *args) == 0
    printed = capsys.readouterr().out
    assert "result[1]: 3xfloat8_e8m0fnu [0.25, 4, 6.33825e+29]" in printed
    assert "[SUCCESS]" in printed
    np.testing.assert_array_equal(np.load(out)["e"].view(ml_dtypes.float8_e8m0fnu), e)


def test_bfloat16_inputs_outputs_and_expected(tmp_path: Path) -> None:
    """bfloat16 through relay-run: `.npz` keeps ml_dtypes' bfloat16 arrays as their bytes (V2);
    they are read as bfloat16 inputs and --expected arrays (an internal DTypePromotionError
    before), native code writes its bfloat16 results so, and the interpreter, which rounds
    each operator's result to bfloat16, agrees with it."""
    import ml_dtypes

    program = tmp_path / "bf.rly"
    program.write_text(
        '#[version = "0.0.5"]\n'
        "def @main(%x: Tensor[(4), bfloat16], %y: Tensor[(4), bfloat16]) { exp(add(%x, %y)) }\n"
    )
    bf16 = ml_dtypes.bfloat16
    x = np.array([1.5, 2.25, 3.0, 4.0], bf16)
    y = np.array([1.0, 1.0, 1.0, 1e-3], bf16)
    np.savez(tmp_path / "in.npz", x=x, y=y)
    out = tmp_path / "out.npz"
    assert relay_run(str(program), "-i", str(tmp_path / "in.npz"), "-o", str(out)).returncode == 0
    with np.load(out) as saved:
        got = saved["output_0"].view(bf16)
    np.testing.assert_array_equal(got.view(np.uint16), np.exp(x + y).view(np.uint16))
    for mode in ([], ["--interpret"]):
        r = relay_run(str(program), "-i", str(tmp_path / "in.npz"), "--expected", str(out), *mode)
        assert r.returncode == 0 and "[SUCCESS]" in r.stdout, r.stderr


OPTIONAL_MODEL = """<
  ir_version: 8,
  opset_import: ["" : 18]
>
g (optional(float[3]) x, float[3] y, optional(seq(float[?])) s) => (float[3] z, float total) {
  has = OptionalHasElement (x)
  z = If (has) <then_branch: graph = t () => (float[3] a) {
      v = OptionalGetElement (x)
      a = Add (v, y)
    }, else_branch: graph = e () => (float[3] b) {
      b = Identity (y)
    }>
  has_s = OptionalHasElement (s)
  total = If (has_s) <then_branch: graph = t2 () => (float c) {
      items = OptionalGetElement (s)
      joined = ConcatFromSequence <axis = 0> (items)
      c = ReduceSum <keepdims = 0> (joined)
    }, else_branch: graph = e2 () => (float d) {
      d = Constant <value = float {-1}> ()
    }>
}
"""


@pytest.mark.parametrize("mode", [["--interpret"], []])
def test_an_optional_input_is_given_or_absent(tmp_path: Path, mode: list[str]):
    """An ONNX optional input is Some(the array, or the list s/0, s/1, ...) when the .npz
    has it, None when it does not; results against numpy."""
    model = tmp_path / "optional.onnxtxt"
    model.write_text(OPTIONAL_MODEL)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    items = [rng.standard_normal(k).astype(np.float32) for k in (2, 5)]
    cases = {
        "both": (
            {"x": x, "y": y, "s/0": items[0], "s/1": items[1]},
            x + y,
            sum(map(np.sum, items)),
        ),
        "neither": ({"y": y}, y, -1.0),
        "only_s": ({"y": y, "s/0": items[1]}, y, np.sum(items[1])),
    }
    for name, (inputs, z, total) in cases.items():
        np.savez(tmp_path / f"{name}.npz", **inputs)
        out = tmp_path / f"{name}.out.npz"
        r = relay_run(str(model), "-i", str(tmp_path / f"{name}.npz"), "-o", str(out), *mode)
        assert r.returncode == 0, r.stderr
        saved = np.load(out)
        np.testing.assert_allclose(saved["z"], z, rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(saved["total"], total, rtol=1e-5, err_msg=name)
