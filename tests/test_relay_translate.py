"""relay-translate and the files the tools write: weights that read back, resource names that
never collide, objects that link into a C program, output files written whole and through
symlinks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.dialects.relay.resources import array_of, store
from relay_opt.tools.relay_opt import main as relay_opt
from relay_opt.tools.relay_run import main as relay_run
from relay_opt.tools.relay_translate import main as relay_translate

DENSE = """#[version = "0.0.5"]
def @main(%x: Tensor[(4, 100), float32]) {
  nn.dense(%x, meta[relay.Constant][0])
}
"""


def _weights(tmp_path: Path, name: str, scale: float) -> Path:
    path = tmp_path / name
    w = (np.arange(1000, dtype=np.float32).reshape(10, 100) % 13) * scale
    np.savez(path, **{"relay.Constant.0": w})
    return path


def _constant(program) -> np.ndarray:  # noqa: ANN001
    from relay_opt.dialects.relay.core import ConstantOp

    (op,) = [op for op in program.module.walk() if isinstance(op, ConstantOp)]
    return array_of(op.value)


def test_imported_mlir_reads_back_with_its_weights(tmp_path: Path):
    (tmp_path / "m.rly").write_text(DENSE)
    meta = _weights(tmp_path, "w.npz", 0.5)
    out = tmp_path / "m.mlir"
    assert (
        relay_translate(
            ["--import-relay", str(tmp_path / "m.rly"), "--meta", str(meta), "-o", str(out)]
        )
        == 0
    )
    text = out.read_text()
    assert "dense_resource<__relay_w_" in text and "dialect_resources" in text
    np.testing.assert_array_equal(_constant(load_program(out)), np.load(meta)["relay.Constant.0"])
    # In a new process only the file has the weights: compiled code binds them from its blobs.
    x = np.random.default_rng(0).standard_normal((4, 100)).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    run = ["relay-run", str(out), "-i", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz")]
    r = subprocess.run(run, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    want = x @ np.load(meta)["relay.Constant.0"].T
    # fp32's tolerance under the default floating-point policy: the compiled dense adds its
    # 100 products in vector lanes, numpy's BLAS in its own order (1.4e-5 seen where they cancel).
    np.testing.assert_allclose(np.load(tmp_path / "o.npz")["output_0"], want, rtol=1e-4)


def test_weights_are_64_byte_aligned_as_their_globals_declare():
    from relay_opt.dialects.relay.resources import stored

    for array in (np.arange(99, dtype=np.float32), np.arange(200) % 3 == 0, np.ones((3, 50))):
        name = store(array[1:] if array.ndim == 1 else array)
        kept = stored(name)
        assert kept is not None and kept.ctypes.data % 64 == 0 and not kept.flags.writeable


def _mlir_with_blob(name: str, values: np.ndarray) -> str:
    blob = (64).to_bytes(4, "little").hex() + values.astype("<f4").tobytes().hex()
    return f"""builtin.module {{
  relay.func @main() -> tensor<{values.size}xf32> {{
    %0 = relay.constant dense_resource<{name}> : tensor<{values.size}xf32>
    relay.return %0 : tensor<{values.size}xf32>
  }}
}}

{{-#
  dialect_resources: {{
    builtin: {{
      {name}: "0x{blob}"
    }}
  }}
#-}}
"""


def test_two_files_with_the_same_resource_name_keep_their_own_data(tmp_path: Path):
    # Two runs of an older relay-translate both named their first weight __relay_w0.
    first, second = np.arange(100, dtype=np.float32), -np.arange(100, dtype=np.float32)
    (tmp_path / "a.mlir").write_text(_mlir_with_blob("__relay_w0", first))
    (tmp_path / "b.mlir").write_text(_mlir_with_blob("__relay_w0", second))
    a, b = load_program(tmp_path / "a.mlir"), load_program(tmp_path / "b.mlir")
    np.testing.assert_array_equal(_constant(a), first)
    np.testing.assert_array_equal(_constant(b), second)
    np.testing.assert_array_equal(_constant(load_program(tmp_path / "a.mlir")), first)


def test_a_stored_weight_and_a_parsed_file_do_not_share_a_name(tmp_path: Path):
    ours = np.full(100, 7, np.float32)
    name = store(ours)
    assert store(ours.copy()) == name  # the same content, the same name
    assert store(ours + 1) != name
    theirs = np.arange(100, dtype=np.float32)
    (tmp_path / "c.mlir").write_text(_mlir_with_blob(name, theirs))
    np.testing.assert_array_equal(_constant(load_program(tmp_path / "c.mlir")), theirs)
    from relay_opt.dialects.relay.resources import stored

    np.testing.assert_array_equal(stored(name), ours)  # type: ignore[arg-type]


TWO_FUNCTIONS = """#[version = "0.0.5"]
def @scale(%a: Tensor[(4, 10), float32]) {
  multiply(%a, 2f)
}
def @main(%x: Tensor[(4, 100), float32], %y: Tensor[(4, 10), float32]) {
  %0 = nn.dense(%x, meta[relay.Constant][0]);
  (@scale(%0), add(%0, %y))
}
"""

DRIVER = r"""#include <stdio.h>
void %(symbol)s(const float *x, const float *y, float *out0, float *out1);
int main(void) {
  static float x[400], y[40], out0[40], out1[40];
  FILE *f = fopen(%(inputs)s, "rb");
  if (!f || fread(x, sizeof x, 1, f) != 1 || fread(y, sizeof y, 1, f) != 1) return 3;
  fclose(f);
  %(symbol)s(x, y, out0, out1);
  fwrite(out0, sizeof out0, 1, stdout);
  fwrite(out1, sizeof out1, 1, stdout);
  return 0;
}
"""


@pytest.mark.parametrize("symbol", [None, "net_forward"])
def test_emitted_object_links_into_a_c_program(tmp_path: Path, symbol: str | None):
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc) on PATH to link the object with")
    (tmp_path / "m.rly").write_text(TWO_FUNCTIONS)
    meta = _weights(tmp_path, "w.npz", 0.25)
    obj = tmp_path / "m.o"
    args = ["--emit-obj", str(tmp_path / "m.rly"), "--meta", str(meta), "-o", str(obj)]
    assert relay_translate([*args, *(["--entry-symbol", symbol] if symbol else [])]) == 0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 100)).astype(np.float32)
    y = rng.standard_normal((4, 10)).astype(np.float32)
    (tmp_path / "in.bin").write_bytes(x.tobytes() + y.tobytes())
    driver = DRIVER % {"symbol": symbol or "relay_main", "inputs": f'"{tmp_path / "in.bin"}"'}
    (tmp_path / "driver.c").write_text(driver)
    exe = tmp_path / "driver"
    # The object defines no `main` and needs no weights from elsewhere: it links as it is.
    subprocess.run([cc, str(tmp_path / "driver.c"), str(obj), "-o", str(exe), "-lm"], check=True)
    got = np.frombuffer(subprocess.run([str(exe)], check=True, capture_output=True).stdout, "<f4")

    np.savez(tmp_path / "in.npz", x=x, y=y)
    out = tmp_path / "out.npz"
    run_args = ["--meta", str(meta), "-i", str(tmp_path / "in.npz"), "-o", str(out)]
    assert relay_run([str(tmp_path / "m.rly"), *run_args]) == 0
    want = np.load(out)
    np.testing.assert_array_equal(got[:40].reshape(4, 10), want["output_0"])
    np.testing.assert_array_equal(got[40:].reshape(4, 10), want["output_1"])


def test_emit_llvm_defines_the_weights_and_names_the_entry(tmp_path: Path, capsys):
    (tmp_path / "m.rly").write_text(TWO_FUNCTIONS)
    meta = _weights(tmp_path, "w.npz", 0.25)
    assert relay_translate(["--emit-llvm", str(tmp_path / "m.rly"), "--meta", str(meta)]) == 0
    text = capsys.readouterr().out
    assert "define void @relay_main(" in text and "define void @main(" not in text
    assert "external" not in text.split("define", 1)[0]  # every weight is defined
    assert (
        relay_translate(
            ["--emit-llvm", str(tmp_path / "m.rly"), "--meta", str(meta), "--entry-symbol", "1x"]
        )
        == 1
    )
    assert "the entry symbol '1x' is not a C identifier" in capsys.readouterr().err


def test_output_is_written_through_a_symlink(tmp_path: Path):
    (tmp_path / "m.rly").write_text(DENSE)
    meta = _weights(tmp_path, "w.npz", 1.0)
    real = tmp_path / "real.mlir"
    real.write_text("old")
    link = tmp_path / "link.mlir"
    link.symlink_to(real)
    assert (
        relay_translate(
            ["--import-relay", str(tmp_path / "m.rly"), "--meta", str(meta), "-o", str(link)]
        )
        == 0
    )
    assert link.is_symlink() and "relay.nn.dense" in real.read_text()
    assert relay_opt([str(real), "-o", str(link)]) == 0
    assert link.is_symlink() and "relay.nn.dense" in real.read_text()
    np.savez(tmp_path / "in.npz", x=np.ones((4, 100), np.float32))
    npz_real, npz_link = tmp_path / "o.npz", tmp_path / "olink.npz"
    npz_real.write_bytes(b"")
    npz_link.symlink_to(npz_real)
    assert (
        relay_run([str(real), "-i", str(tmp_path / "in.npz"), "-o", str(npz_link), "--interpret"])
        == 0
    )
    assert npz_link.is_symlink() and np.load(npz_real)["output_0"].shape == (4, 10)


def test_no_temporary_file_is_left_on_error(tmp_path: Path, capsys):
    (tmp_path / "m.rly").write_text(DENSE)
    meta = _weights(tmp_path, "w.npz", 1.0)
    np.savez(tmp_path / "in.npz", x=np.ones((4, 100), np.float32))
    target = tmp_path / "out"
    target.mkdir()
    before = sorted(os.listdir(tmp_path))
    rly = str(tmp_path / "m.rly")
    assert (
        relay_run(
            [
                rly,
                "--meta",
                str(meta),
                "-i",
                str(tmp_path / "in.npz"),
                "-o",
                str(target),
                "--interpret",
            ]
        )
        == 1
    )
    assert relay_translate(["--import-relay", rly, "--meta", str(meta), "-o", str(target)]) == 1
    assert relay_opt([rly, "--meta", str(meta), "-o", str(target)]) == 1
    err = capsys.readouterr().err
    for tool in ("relay-run", "relay-translate", "relay-opt"):
        assert f"{tool}: error: cannot write '{target}': it is a directory" in err
    assert ".tmp" not in err
    missing = tmp_path / "no-such-dir" / "x.mlir"
    assert relay_translate(["--import-relay", rly, "--meta", str(meta), "-o", str(missing)]) == 1
    assert f"cannot write '{missing}': No such file or directory" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == before and os.listdir(target) == []


def test_output_to_a_pipe_or_device_is_written_directly(tmp_path: Path):
    (tmp_path / "m.rly").write_text(DENSE)
    meta = _weights(tmp_path, "w.npz", 1.0)
    args = ["--import-relay", str(tmp_path / "m.rly"), "--meta", str(meta)]
    # Standard output is a pipe here: /dev/stdout resolves to a name that is no file.
    r = subprocess.run(
        ["relay-translate", *args, "-o", "/dev/stdout"], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert "relay.nn.dense" in r.stdout and "dialect_resources" in r.stdout
    assert relay_translate([*args, "-o", os.devnull]) == 0


def test_help_names_every_input_format_and_what_o_means(capsys):
    with pytest.raises(SystemExit) as exit_:
        relay_translate(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for text in (".rly", ".mlir", ".onnx", ".onnxtxt", "--import-onnx", "--emit-obj"):
        assert text in out
    assert "Relay's and LLVM's for --emit-*" in out
    assert "relay-optimize{level=N}" in out


def test_o_optimizes_an_imported_program_as_relay_opt_does(tmp_path: Path, capsys):
    path = tmp_path / "d.rly"
    np.savez(tmp_path / "w.npz", **{"relay.Constant.0": np.ones((10, 100), np.float32)})
    path.write_text(
        '#[version = "0.0.5"]\ndef @main(%x: Tensor[(4, 100), float32]) {\n'
        "  nn.relu(add(nn.dense(%x, meta[relay.Constant][0]), 1f))\n}\n"
    )
    meta = ["--meta", str(tmp_path / "w.npz")]
    assert relay_translate(["--import-relay", str(path), *meta]) == 0
    as_read = capsys.readouterr().out
    assert relay_translate(["--import-relay", "-O", "3", str(path), *meta]) == 0
    optimized = capsys.readouterr().out
    assert "Primitive" not in as_read and optimized.count("Primitive = 1") == 1
    assert relay_opt([str(path), *meta, "-O", "3"]) == 0
    assert capsys.readouterr().out.strip() == optimized.strip()  # relay-opt -O 3's pipeline


def test_meta_out_keeps_bfloat16_constants(tmp_path: Path) -> None:
    """`--export-relay --meta-out` wrote a bfloat16 constant as its float32 stand-in, so the
    text read back with `--meta` held a float32 constant that the bfloat16 add refused
    (issue 13). It is written as ml_dtypes' bfloat16 (.npz keeps its bytes as V2) and
    read back as bfloat16, bit for bit."""
    import ml_dtypes

    from relay_opt.dialects.relay.core import ConstantOp
    from relay_opt.dialects.relay.types import tensor_dtype
    from relay_opt.loader import read_meta

    w = np.array([1.5, -0.0078125, 3.0e38, 1.0 / 3.0], dtype=ml_dtypes.bfloat16)
    np.savez(tmp_path / "w.npz", **{"relay.Constant.0": w})
    (tmp_path / "m.rly").write_text(
        '#[version = "0.0.5"]\n'
        "def @main(%x: Tensor[(4), bfloat16]) {\n  add(%x, meta[relay.Constant][0])\n}\n"
    )
    mlir, back, out = tmp_path / "m.mlir", tmp_path / "back.rly", tmp_path / "out.npz"
    args = ["--import-relay", str(tmp_path / "m.rly"), "--meta", str(tmp_path / "w.npz")]
    assert relay_translate([*args, "-o", str(mlir)]) == 0
    assert (
        relay_translate(["--export-relay", str(mlir), "--meta-out", str(out), "-o", str(back)]) == 0
    )
    meta = read_meta(out)
    assert meta is not None
    (saved,) = meta["relay.Constant"]
    assert saved.dtype == w.dtype and np.array_equal(saved.view(np.uint16), w.view(np.uint16))
    program = load_program(back.read_text(), "relay", meta=meta)
    (op,) = [op for op in program.module.walk() if isinstance(op, ConstantOp)]
    assert tensor_dtype(op.result.type) == "bfloat16"  # pyright: ignore[reportArgumentType]
    assert np.array_equal(array_of(op.value), w.astype(np.float32))
    assert relay_run([str(back), "--meta", str(out), "--fill-mode", "random"]) == 0
