"""relay-run end to end, as a user runs it: npz in and out, naming errors, fill modes, --expected."""

from __future__ import annotations

import subprocess
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
    assert "result[0]: 2x3xfloat32" in r.stdout and "result[1]: ()xfloat32 [15.]" in r.stdout
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


def test_profile_names_each_kernel(tmp_path: Path):
    path = tmp_path / "k.rly"
    path.write_text(
        '#[version = "0.0.5"]\ndef @main(%x: Tensor[(1, 2, 6, 6), float32], %w: Tensor[(3, 2, 3, 3), float32]) {\n'
        "  nn.relu(nn.conv2d(%x, %w, padding=[1, 1]))\n}\n"
    )
    r = relay_run(str(path), "--fill-mode", "random", "--profile")
    assert r.returncode == 0, r.stderr
    assert "Kernel profile" in r.stdout
    assert f"nn.conv2d (generic) at {path}:3:" in r.stdout
    assert "nn.relu" not in r.stdout  # fused into the conv2d's loop nest (fuse-linalg-epilogue)
    r = relay_run(
        str(path), "--fill-mode", "random", "--profile", "-O", "0"
    )  # unfused: a kernel each
    assert r.returncode == 0, r.stderr
    assert (
        f"nn.conv2d (generic) at {path}:3:" in r.stdout
        and f"nn.relu (generic) at {path}:3:" in r.stdout
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
