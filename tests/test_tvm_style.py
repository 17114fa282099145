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


def test_build_gives_the_numbers_relay_run_gives(tmp_path: Path, capsys):
    """relay.build + set_input/run/get_output and relay-run on the module's text agree."""
    from relay_opt import relay, tvm
    from relay_opt.tools.relay_run import main as relay_run
    from relay_opt.tvm.contrib import graph_executor

    rng = np.random.default_rng(0)
    data = relay.var("data", shape=(1, 3, 10, 10))
    weight = relay.const(rng.standard_normal((6, 3, 3, 3)).astype("float32"))
    x = relay.nn.relu(relay.nn.conv2d(data, weight, padding=(1, 1), channels=6))
    x = relay.nn.dense(relay.nn.batch_flatten(relay.nn.max_pool2d(x, (2, 2), (2, 2))),
                       relay.var("fc", shape=(4, 150)))  # fmt: skip
    mod = tvm.IRModule.from_expr(relay.Function(relay.analysis.free_vars(x), relay.tanh(x)))
    inputs = {
        "data": rng.standard_normal((1, 3, 10, 10)).astype("float32"),
        "fc": rng.standard_normal((4, 150)).astype("float32") * 0.1,
    }
    with tvm.transform.PassContext(opt_level=3):
        lib = relay.build(mod, target="llvm")
    gm = graph_executor.GraphModule(lib["default"](tvm.cpu()))
    gm.set_input(**inputs)
    gm.run()
    built = gm.get_output(0).numpy()

    (tmp_path / "m.rly").write_text(mod.astext(show_meta_data=True))
    np.savez(tmp_path / "in.npz", **inputs)
    code = relay_run([str(tmp_path / "m.rly"), "-i", str(tmp_path / "in.npz"),
                      "-o", str(tmp_path / "out.npz"), "-O", "3"])  # fmt: skip
    assert code == 0, capsys.readouterr()
    np.testing.assert_array_equal(built, np.load(tmp_path / "out.npz")["output_0"])


def test_a_type_error_names_the_script_line():
    from relay_opt import LoadError, relay, tvm

    x = relay.var("x", shape=(2, 3))
    bad = relay.nn.dense(x, relay.var("w", shape=(4, 5)))  # this line is the culprit
    with pytest.raises(LoadError) as info:
        relay.transform.InferType()(tvm.IRModule.from_expr(bad))
    message = str(info.value)
    assert f"{__file__}:" in message and "this line is the culprit" in message, message
