"""The benchmark command (benchmarks/run.py) runs end to end on a tiny configuration: every
section's code path, with outputs compared inside it. Its times are printed, never checked."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _run_module():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("relay_opt_benchmarks_run", BENCHMARKS / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_mode_prints_every_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("onnxruntime")
    # run.py pins every library's threads for the rest of its process: undone after.
    monkeypatch.setattr(sys, "path", list(sys.path))  # run.py adds benchmarks/ to it
    for var in ("RELAY_OPT_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("RELAY_OPT_VERIFY_EACH", "0")  # the passes are not under test
    run = _run_module()
    args = ["--quick", "--threads", "1", "--budget", "0.01", "--matmul-sizes", "16"]
    args += ["--sections", "matmul,models,math", "--models", "mlp", "--math-n", "64"]
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        assert run.main(args) == 0
    else:
        with threadpool_limits(limits=None):  # restores the BLAS threads on exit
            assert run.main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("CPU: ") and "vector width" in out and "threads: 1" in out
    for title in ("## matmul", "## models", "## vector math over 64 float32"):
        assert title in out
    matmul = out.partition("## matmul")[2].splitlines()[3]
    assert matmul.split("|")[0].strip() == "16"
    assert any(line.strip().startswith("mlp |") for line in out.splitlines())
    assert [line.split("|")[0].strip() for line in out.splitlines() if "|" in line][-3:] == [
        "exp",
        "tanh",
        "sigmoid",
    ]


def test_conv_shapes_are_resnet50s_distinct_convolutions():
    pytest.importorskip("onnx")
    saved = list(sys.path)
    sys.path.insert(0, str(BENCHMARKS))  # run.py's siblings
    try:
        shapes = _run_module().resnet_conv_shapes()
    finally:
        sys.path[:] = saved
    # ResNet-50 has 53 convolutions; the first is the 7x7/2 stem over 3x224x224.
    assert sum(s["count"] for s in shapes) == 53
    assert shapes[0]["x"] == (1, 3, 224, 224) and shapes[0]["w"] == (64, 3, 7, 7)
    assert shapes[0]["strides"] == (2, 2)
    assert len({(s["x"], s["w"], s["strides"]) for s in shapes}) == len(shapes)


def _tvm_programs():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(
        "relay_opt_tvm_programs", BENCHMARKS / "tvm_programs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


# A file in the style of TVM's tests: each kind of program tvm_programs.py tells apart.
TVM_STYLE_TEST = '''
import pytest
import tvm

def test_runs():
    def input():  # nested: the call is taken once
        return tvm.relay.parse("""
            #[version = "0.0.5"]
            def @main(%x: Tensor[(?, 2), float32]) { add(%x, %x) }
        """)
    return input()

def test_returns_a_function():
    tvm.relay.fromtext('#[version = "0.0.5"]\\ndef @main() { fn (%y: float32) { %y } }')

def test_takes_a_function():
    tvm.relay.fromtext('#[version = "0.0.5"]\\ndef @main(%f: fn (float32) -> float32) { %f(1f) }')

def test_library():
    tvm.relay.parse('#[version = "0.0.5"]\\ndef @id(%x: float32) { %x }')

def test_metadata():
    tvm.relay.parse('#[version = "0.0.5"]\\ndef @main() { meta[relay.Constant][0] }', "s", None, {})

def test_refused():
    with pytest.raises(tvm.error.DiagnosticError):
        tvm.relay.parse_expr("1 +")

def test_grown_in_a_loop():
    text = '#[version = "0.0.5"]\\ndef @main(%a: float32) {'
    for i in range(3):
        text += " %a"
    tvm.relay.parse(text)

def test_ill_typed():
    tvm.relay.parse_expr("let %_: Tensor[(), float32] = (); ()")
'''


def test_tvm_programs_tells_why_a_program_is_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    (tmp_path / "test_style.py").write_text(TVM_STYLE_TEST)
    assert _tvm_programs().main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("test_style.py")]
    # Only the ill-typed expression fails, marked as one TVM's test never type-checks.
    assert len(rows) == 1 and "test_ill_typed [TVM only parses it]: nothing:" in rows[0], out
    assert (
        "7 programs, 5 standalone: 4 parse, 4 type-check; of their 2 runnable, 2 run in the "
        "interpreter; of their 1 compilable, 1 compile and match; 1 fail" in out
    )
    for reason in (
        "1  not standalone: needs a metadata table from Python",
        "1  not runnable: no @main, a library",
        "1  not runnable: @main takes a function",
        "1  not compilable: @main returns a function",
        "1  refused as TVM refuses it",
    ):
        assert f"'-'   {reason}" in out, out
