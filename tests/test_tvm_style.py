"""The scripts of examples/tvm_style/, written against TVM's Relay API, run with only their
import lines changed; each one's result matches the reference interpreter on its program."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import numpy as np
import pytest

from relay_opt.relay.build_module import _to_numpy  # pyright: ignore[reportPrivateUsage]
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.values import same_value

SCRIPTS = sorted((Path(__file__).parent.parent / "examples" / "tvm_style").glob("*.py"))


def _normalize(value: object) -> object:
    value = _to_numpy(value)
    if isinstance(value, (tuple, list)):
        return tuple(_normalize(v) for v in value)
    return value


def test_there_are_ten_scripts_or_more():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_differs_from_tvm_only_in_its_imports(script: Path):
    for line in script.read_text().splitlines():
        if "relay_opt" in line:
            assert re.match(r"(from relay_opt[\w.]* import|import relay_opt)", line), line
            assert "# was: " in line and ("tvm" in line.split("# was: ")[1]), line


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_runs_and_matches_the_interpreter(script: Path, capsys):
    globs = runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert out.strip(), "the script prints what it computed"
    mod, inputs, result = globs["CHECK"]
    args = {k: np.asarray(_to_numpy(v)) for k, v in inputs.items()}
    expected = interpret(mod.to_dialect(), args)
    assert same_value(_normalize(expected), _normalize(result), rtol=1e-4, atol=1e-5), (
        expected,
        result,
    )
