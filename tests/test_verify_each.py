"""Verify-each: IR that a pass leaves invalid is caught right after that pass, which is named,
and reported as an internal error (a compiler bug, exit 2), never as the user's mistake; by
relay-opt always (unless --verify-each=false), by the JIT when RELAY_OPT_VERIFY_EACH=1."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from xdsl.context import Context
from xdsl.dialects import arith
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, TensorType, f64, i32, i64
from xdsl.passes import ModulePass

from relay_opt import load_program
from relay_opt.diagnostics import InternalError

GOOD = """\
relay.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = relay.exp %x : (tensor<2xf32>) -> tensor<2xf32>
  relay.return %0 : tensor<2xf32>
}
"""


def bad_constant(module: ModuleOp) -> None:
    """Puts an invalid op (an i32 value for an i64 constant) at the first op of the first
    function, with that op's source position, as a buggy pass would."""
    block = next(op.regions[0].first_block for op in module.ops if op.regions)
    assert block is not None and block.first_op is not None
    bad = arith.ConstantOp.create(properties={"value": IntegerAttr(1, i32)}, result_types=[i64])
    bad.location = block.first_op.location
    block.insert_op_before(bad, block.first_op)


PLUGIN = '''
from dataclasses import dataclass

from xdsl.passes import ModulePass
from xdsl.universe import Universe

from test_verify_each import bad_constant


@dataclass(frozen=True)
class BreakIR(ModulePass):
    """Leaves an invalid op (a test of verify-each)."""

    name = "break-ir"

    def apply(self, ctx, op):
        bad_constant(op)


@dataclass(frozen=True)
class RaiseValueError(ModulePass):
    """Crashes with a ValueError (a test of internal errors)."""

    name = "raise-value-error"

    def apply(self, ctx, op):
        raise ValueError("Can't insert operation before operation not in current block")


UNIVERSE = Universe(
    all_passes={"break-ir": lambda: BreakIR, "raise-value-error": lambda: RaiseValueError}
)
'''


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment in which `--load-plugin verify_each_plugin` finds the test passes."""
    (tmp_path / "verify_each_plugin.py").write_text(PLUGIN)
    paths = [str(tmp_path), os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def relay_opt(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    src = tmp_path / "good.mlir"
    src.write_text(GOOD)
    return subprocess.run(
        ["relay-opt", str(src), "--load-plugin", "verify_each_plugin", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_invalid_ir_after_a_pass_is_an_internal_error_naming_it(
    tmp_path: Path, env: dict[str, str]
):
    out = tmp_path / "out.mlir"
    r = relay_opt(tmp_path, env, "-p", "break-ir,dce", "-o", str(out))
    assert r.returncode == 2, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == "relay-opt: internal error: the IR does not verify after pass 'break-ir'"
    # The op that does not verify, at its source position, with the line and a caret.
    assert lines[1] == (
        f"{tmp_path / 'good.mlir'}:2:3: error: attribute i64 expected from variable 'T', "
        "but got i32"
    )
    assert lines[2:4] == [GOOD.splitlines()[1], "  ^"]
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--verify-each=false", "--verify-each=0", "--no-verify-each"])
def test_verify_each_false_lets_the_ir_through(tmp_path: Path, env: dict[str, str], flag: str):
    r = relay_opt(tmp_path, env, "-p", "break-ir", flag)
    assert r.returncode == 0, r.stderr
    assert "arith.constant" in r.stdout


def test_verify_each_takes_a_boolean(tmp_path: Path, env: dict[str, str]):
    r = relay_opt(tmp_path, env, "-p", "break-ir", "--verify-each=maybe")
    assert r.returncode == 1
    assert r.stderr == "relay-opt: error: --verify-each takes true or false, not 'maybe'\n"


def test_a_pass_raising_value_error_is_an_internal_error(tmp_path: Path, env: dict[str, str]):
    """A ValueError escaping a pass is a bug in it, not bad input (it was exit 1, 'error')."""
    r = relay_opt(tmp_path, env, "-p", "dce,raise-value-error")
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines()[0] == (
        "relay-opt: internal error: pass 'raise-value-error' crashed: ValueError: "
        "Can't insert operation before operation not in current block"
    )


@dataclass(frozen=True)
class BreakIR(ModulePass):
    name = "break-ir"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        bad_constant(op)


@pytest.fixture
def broken_lowering(monkeypatch: pytest.MonkeyPatch) -> None:
    """The JIT's stage list with a last stage that breaks the IR."""
    from relay_opt.lowering import relay_to_llvm

    stages = relay_to_llvm.lowering_stages
    monkeypatch.setattr(
        relay_to_llvm,
        "lowering_stages",
        lambda profile=False, fp_policy="fast": [*stages(profile, fp_policy), BreakIR()],
    )


def test_the_jit_verifies_each_stage_when_asked(
    broken_lowering: None, monkeypatch: pytest.MonkeyPatch
):
    from relay_opt.runtime.jit import lower_to_llvm

    module = load_program(GOOD, format="mlir").module
    with pytest.raises(InternalError, match="the IR does not verify after pass 'break-ir'") as e:
        lower_to_llvm(module, level=0, verify_each=True)
    assert "error: attribute i64 expected from variable 'T', but got i32" in e.value.details
    # By default the switch is the environment's: the test suite sets it, users do not.
    monkeypatch.setenv("RELAY_OPT_VERIFY_EACH", "1")
    with pytest.raises(InternalError):
        lower_to_llvm(module, level=0)
    monkeypatch.setenv("RELAY_OPT_VERIFY_EACH", "0")
    lowered = lower_to_llvm(module, level=0)
    assert any(isinstance(op, arith.ConstantOp) for op in lowered.walk())


def test_relay_to_llvm_is_verified_after_each_of_its_stages(
    broken_lowering: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """relay-opt runs relay-to-llvm (and relay-optimize) as their passes, so the stage that
    breaks the IR is named, not the pipeline; they are timed one by one too."""
    from relay_opt.tools.relay_opt import main

    src = tmp_path / "good.mlir"
    src.write_text(GOOD)
    assert main([str(src), "-p", "relay-to-llvm", "--mlir-timing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("relay-opt: internal error: the IR does not verify after pass 'break-ir'")
    assert main([str(src), "-O0", "-p", "relay-to-llvm", "--no-verify-each", "--mlir-timing"]) == 0
    rows = [line.split()[-1] for line in capsys.readouterr().err.splitlines() if "%)" in line]
    assert rows[:2] == ["infer-types", "convert-relay-to-linalg"]  # relay-optimize at -O0
    assert rows[-4:] == ["expand-math", "convert-to-llvm", "break-ir", "Total"]


def test_the_fingerprint_changes_with_every_kind_of_rewrite_and_only_then():
    """VerifyEach skips the verifier after a pass whose fingerprint is unchanged, so every
    change a pass can make must change it."""
    from xdsl.rewriter import Rewriter

    from relay_opt.diagnostics import ir_fingerprint

    module = load_program(GOOD, format="mlir").module
    first = ir_fingerprint(module)
    assert ir_fingerprint(module) == first  # nothing changed

    func = next(iter(module.ops))
    block = func.regions[0].blocks.first
    assert block is not None
    exp, ret = list(block.ops)

    seen = {first}

    def changed() -> None:
        now = ir_fingerprint(module)
        assert now not in seen
        seen.add(now)

    bad_constant(module)  # an op inserted
    changed()
    const = block.first_op
    assert const is not None
    const.properties["value"] = IntegerAttr(2, i32)  # a property replaced
    changed()
    const.attributes["tag"] = IntegerAttr(0, i32)  # an attribute added
    changed()
    ret.operands[0] = block.args[0]  # an operand replaced
    changed()
    Rewriter.erase_op(exp)  # an op erased
    changed()
    Rewriter.replace_value_with_new_type(block.args[0], TensorType(f64, [2]))  # an argument retyped
    changed()
