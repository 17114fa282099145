"""relay_opt.load_program: every format, one type-check, one located error type."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from relay_opt import LoadError, load_program
from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.types import IncompleteType
from relay_opt.frontends.relay_text import parse_relay
from relay_opt.timing import Timings

ROOT = Path(__file__).parent.parent
TEXT = (
    '#[version = "0.0.5"]\ndef @main(%x: Tensor[(2, 3), float32]) {\n  let %y = exp(%x);\n  %y\n}\n'
)


def incomplete(module) -> bool:  # noqa: ANN001
    return any(isinstance(r.type, IncompleteType) for op in module.walk() for r in op.results)


def main_of(module) -> core.FuncOp:  # noqa: ANN001
    return next(f for f in module.ops if isinstance(f, core.FuncOp) and f.sym_name.data == "main")


def test_the_frontend_only_parses():
    assert incomplete(parse_relay(TEXT))


def test_relay_text_is_type_checked_once(tmp_path: Path):
    timings = Timings()
    program = load_program(TEXT, "relay", timings=timings)
    assert not incomplete(program.module)
    assert [name for name, _ in timings.rows] == ["infer-types"]
    assert str(main_of(program.module).ret_type) == "tensor<2x3xf32>"
    path = tmp_path / "p.rly"
    path.write_text(TEXT)
    for source in (path, str(path)):
        loaded = load_program(source)
        assert loaded.format == "relay" and loaded.filename == str(path) and loaded.source == TEXT


def test_mlir_is_type_checked(tmp_path: Path):
    path = tmp_path / "p.mlir"
    path.write_text(
        "relay.func @main(%x: tensor<2xf32>) -> !relay.incomplete {\n"
        "  %0 = relay.exp %x : (tensor<2xf32>) -> !relay.incomplete\n"
        "  relay.return %0 : !relay.incomplete\n}\n"
    )
    assert incomplete(load_program(path, type_checked=False).module)
    program = load_program(path)
    assert program.format == "mlir" and not incomplete(program.module)


def test_onnx_text_and_bytes():
    path = ROOT / "tests" / "lit" / "frontends" / "onnx" / "gemm-relu.onnxtxt"
    program = load_program(path)
    assert program.format == "onnxtxt" and program.input_names == ["input"]
    import onnx.parser

    data = onnx.parser.parse_model(path.read_text()).SerializeToString()
    again = load_program(data, "onnx")
    assert again.input_names == ["input"] and again.output_names == program.output_names


def test_meta_constants_from_a_table():
    text = '#[version = "0.0.5"]\ndef @main() { meta[relay.Constant][0] }\n'
    program = load_program(text, "relay", meta={"relay.Constant": [np.ones(3, np.float32)]})
    assert str(main_of(program.module).ret_type) == "tensor<3xf32>"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('#[version = "0.0.5"]\ndef @main() { add(1, }\n', "bad.rly:2:", "error:"),
        (
            '#[version = "0.0.5"]\ndef @f(%x: float32) { let %y: int32 = %x; %y }\n',
            "bad.rly:2:",
            "error:",
        ),
    ],
)
def test_errors_are_located(text: str, where: str, message: str):
    with pytest.raises(LoadError) as err:
        load_program(text, "relay", filename="bad.rly")
    assert str(err.value).startswith(where) and message in str(err.value)
    assert "^" in str(err.value)  # the source line with a caret


@pytest.mark.parametrize(
    "text",
    [
        # 3,000 nested regions, and a type nested 3,000 deep: xDSL's parser recurses on both.
        '"builtin.module"() ({\n' + '"test.op"() ({\n' * 3000 + "}) : () -> ()\n" * 3001,
        "func.func @f(%x: " + "tuple<" * 3000 + "i32" + ">" * 3000 + ")\n",
    ],
)
def test_input_nested_past_the_parsers_stack_is_a_located_error(text: str):
    with pytest.raises(LoadError) as err:
        load_program(text, "mlir", filename="deep.mlir")
    assert re.match(
        r"deep\.mlir:\d+:\d+: error: the input nests too deeply to parse here\n", str(err.value)
    )


def test_a_missing_or_binary_file_is_a_load_error(tmp_path: Path):
    with pytest.raises(LoadError, match="cannot read the file"):
        load_program(tmp_path / "none.rly")
    with pytest.raises(LoadError, match="none.rly: error: cannot read the file"):
        load_program(str(tmp_path / "none.rly"), "relay")  # a path, though a format is given
    (tmp_path / "b.rly").write_bytes(b"\xff\xfe")
    with pytest.raises(LoadError, match="not UTF-8 text"):
        load_program(tmp_path / "b.rly")


def test_compile_refuses_a_module_that_was_not_type_checked():
    from relay_opt import compile

    with pytest.raises(ValueError, match="not type-checked"):
        compile(parse_relay(TEXT))


def test_importing_the_package_does_no_work():
    code = (
        "import sys, relay_opt\n"
        "print(sorted(m for m in sys.modules if m.startswith(('xdsl', 'relay_opt.'))))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
