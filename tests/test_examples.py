"""The runnable examples in examples/: current with their generators, and each runs as
examples/README.md says, matching the model's numpy version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_example_files_are_what_the_generators_write():
    r = subprocess.run(
        [sys.executable, str(EXAMPLES / "write_examples.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(("name", "extra"), [("mnist", []), ("gpt2_block", ["--rtol", "1e-4"])])
def test_example_runs_as_its_readme_says(name: str, extra: list[str], capsys, monkeypatch):
    from relay_opt.tools.relay_run import main

    readme = (EXAMPLES / "README.md").read_text()
    assert f"relay-run {name}.rly --meta {name}.npz -i {name}_input.npz" in readme
    monkeypatch.chdir(EXAMPLES)
    args = [f"{name}.rly", "--meta", f"{name}.npz", "-i", f"{name}_input.npz"]
    # -O 1: the README's run is -O 3; the test keeps compile time short.
    code = main([*args, "--expected", f"{name}_expected.npz", *extra, "-O", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "[SUCCESS]" in out, out
