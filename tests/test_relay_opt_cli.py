"""relay-opt as a user runs it: the installed `relay-opt` command, its exit codes,
stdout and stderr. Every kind of bad input gets a located one-line message and a
non-zero exit, never a traceback, and `-o` is written only when everything succeeded."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

GOOD = """\
relay.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = relay.add %x, %x : (tensor<2xf32>, tensor<2xf32>) -> !relay.incomplete
  %1 = relay.exp %0 : (!relay.incomplete) -> !relay.incomplete
  relay.return %1 : !relay.incomplete
}
"""

SYNTAX_ERROR = """\
relay.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = relay.tuple_get %x[zero] : tensor<2xf32>
  relay.return %x : tensor<2xf32>
}
"""

VERIFIER_ERROR = """\
relay.func @f(%x: tensor<2xf32>) -> tensor<3xf32> {
  relay.return %x : tensor<2xf32>
}
"""

# Parses and verifies; infer-types then finds that the shapes do not broadcast.
TYPE_ERROR = """\
relay.func @f(%x: tensor<2xf32>, %y: tensor<3xf32>) -> !relay.incomplete {
  %0 = relay.add %x, %y : (tensor<2xf32>, tensor<3xf32>) -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}
"""

LOCATED = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.+)$")


def relay_opt(*args: str, env: dict[str, str] | None = None, stdin: str | None = None):
    return subprocess.run(
        ["relay-opt", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=300,
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_clean_failure(r: subprocess.CompletedProcess, rc: int = 1) -> str:
    """Non-zero exit, nothing on stdout, no traceback; returns stderr's first line."""
    assert r.returncode == rc, r.stderr
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    assert r.stderr.endswith("\n")
    return r.stderr.splitlines()[0]


# -- information ---------------------------------------------------------------------------


def test_list_passes_names_every_pass_with_a_summary():
    r = relay_opt("--list-passes")
    assert r.returncode == 0, r.stderr
    sections = r.stdout.strip().split("\n\n")
    titles = [section.splitlines()[0] for section in sections]
    # Relay's own passes first, then the lowering, then xDSL's generic ones.
    # (The example plugin that the test extra installs is a plugin.)
    assert titles == [
        "Relay passes (Relay -> Relay):",
        "Lowering (Relay -> linalg -> loops -> llvm):",
        "Plugin passes:",
        "xDSL's passes (generic MLIR transforms and other targets' lowerings):",
    ]
    rows: dict[str, str] = {}
    options: dict[str, str] = {}
    last = ""
    for section in sections:
        for line in section.splitlines()[1:]:
            name, rest = line.split(maxsplit=1)
            if name == "options:":
                options[last] = rest
            else:
                rows[name] = rest
                last = name
    assert rows["infer-types"].startswith("Infers and checks the types of a whole module")
    assert "canonicalize" in rows and "effect-aware" in rows["dce"]
    assert rows["gradient"].startswith("Reverse-mode AD") and "wrt=" in options["gradient"]
    assert "to-a-normal-form" in rows and "to-graph-normal-form" in rows
    assert "fuse-ops" in sections[0] and "bufferize" in sections[1] and "cse" in sections[3]
    assert "count-relay-ops" in sections[2]
    # Options as -p spells them, with their defaults.
    assert options["fuse-ops"] == "{max-depth=256 fuse-opt-level=1}"
    assert options["relay-optimize"] == "{level=3 entry=main layout-block=<unset>}"
    # Relay's summaries are whole sentences, never cut where the docstring wrapped.
    ours = [line for section in sections[:2] for line in section.splitlines()[1:]]
    assert all(line.endswith((".", ")")) for line in ours if "options:" not in line)
    # Every pass has a description: xDSL's without a docstring too.
    assert not [name for name, summary in rows.items() if "without a description" in summary]
    assert rows["cse"].startswith("Common subexpression elimination")


def test_help_lists_relay_opt_options():
    r = relay_opt("--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: relay-opt")
    for option in ("--list-passes", "--load-plugin", "--print-ir-after-all", "--mlir-timing", "-o"):
        assert option in r.stdout


def test_help_offers_only_targets_and_formats_that_apply(tmp_path: Path):
    r = relay_opt("--help")
    # Passes are listed by --list-passes, not inline; one input-format flag; no xDSL targets
    # that print nothing for Relay.
    assert "riscv" not in r.stdout and "stencil" not in r.stdout
    assert "(--list-passes shows them all)" in " ".join(r.stdout.split())
    assert "--input-format {mlir,relay,onnx}" in r.stdout and " -f " not in r.stdout
    assert "-t TARGET" in r.stdout and "wgsl" not in r.stdout and "csl" not in r.stdout
    path = write(tmp_path, "m.mlir", GOOD)
    for target in ("wgsl", "csl"):
        r = relay_opt(str(path), "-t", target)
        assert r.returncode == 2 and "invalid choice" in r.stderr and not r.stdout, r.stderr


def test_runs_a_pipeline_and_writes_the_output_file(tmp_path: Path):
    src = write(tmp_path, "good.mlir", GOOD)
    out = tmp_path / "out.mlir"
    r = relay_opt(str(src), "-p", "infer-types", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""
    assert "%1 = relay.exp %0 : (tensor<2xf32>) -> tensor<2xf32>" in out.read_text()


def test_reads_standard_input():
    r = relay_opt("-p", "infer-types", stdin=GOOD)
    assert r.returncode == 0, r.stderr
    assert "relay.return %1 : tensor<2xf32>" in r.stdout


# -- errors --------------------------------------------------------------------------------


def test_unknown_pass(tmp_path: Path):
    src = write(tmp_path, "good.mlir", GOOD)
    first = assert_clean_failure(relay_opt(str(src), "-p", "infer-types,no-such-pass"))
    assert first.startswith("relay-opt: error: ") and "no-such-pass" in first


def test_malformed_pipeline(tmp_path: Path):
    src = write(tmp_path, "good.mlir", GOOD)
    r = relay_opt(str(src), "-p", "fuse-ops{max-depth=3")
    first = assert_clean_failure(r)
    assert first == "relay-opt: error: malformed pass pipeline: pass-pipeline:1:21"
    assert "expected either a space or `}` here" in r.stderr


def test_bad_pass_option(tmp_path: Path):
    src = write(tmp_path, "good.mlir", GOOD)
    first = assert_clean_failure(relay_opt(str(src), "-p", "infer-types{bogus=1}"))
    assert first.startswith("relay-opt: error: ") and "bogus" in first


def test_missing_input_file(tmp_path: Path):
    missing = tmp_path / "missing.mlir"
    first = assert_clean_failure(relay_opt(str(missing)))
    assert first == f"relay-opt: error: cannot open '{missing}': No such file or directory"


def test_syntax_error_is_located_with_the_source_line(tmp_path: Path):
    src = write(tmp_path, "syntax.mlir", SYNTAX_ERROR)
    r = relay_opt(str(src))
    m = LOCATED.match(assert_clean_failure(r))
    assert m, r.stderr
    assert (m["file"], m["line"], m["col"]) == (str(src), "2", "27")
    assert m["msg"] == "Expected integer literal"
    line, caret = r.stderr.splitlines()[1:3]
    assert line == "  %0 = relay.tuple_get %x[zero] : tensor<2xf32>"
    assert caret == " " * 26 + "^^^^"


def test_verifier_error_is_located(tmp_path: Path):
    src = write(tmp_path, "verify.mlir", VERIFIER_ERROR)
    r = relay_opt(str(src))
    m = LOCATED.match(assert_clean_failure(r))
    assert m, r.stderr
    assert (m["line"], m["col"]) == ("2", "3")
    assert m["msg"] == "returns tensor<2xf32> but the function's result type is tensor<3xf32>"
    assert r.stderr.splitlines()[1:] == ["  relay.return %x : tensor<2xf32>", "  ^"]


def test_verifier_error_from_standard_input_shows_the_line():
    r = relay_opt(stdin=VERIFIER_ERROR)
    m = LOCATED.match(assert_clean_failure(r))
    assert m and (m["line"], m["col"]) == ("2", "3"), r.stderr
    assert r.stderr.splitlines()[1] == "  relay.return %x : tensor<2xf32>"


def test_pass_error_is_located(tmp_path: Path):
    src = write(tmp_path, "types.mlir", TYPE_ERROR)
    r = relay_opt(str(src), "-p", "infer-types")
    m = LOCATED.match(assert_clean_failure(r))
    assert m and (m["line"], m["col"]) == ("2", "3"), r.stderr
    assert "do not broadcast" in m["msg"]


@pytest.mark.parametrize(
    "text, passes",
    [
        (SYNTAX_ERROR, "infer-types"),
        (VERIFIER_ERROR, "infer-types"),
        (TYPE_ERROR, "infer-types"),
        (GOOD, "no-such-pass"),
    ],
    ids=["syntax", "verifier", "pass", "unknown-pass"],
)
def test_output_file_is_not_created_on_error(tmp_path: Path, text: str, passes: str):
    src = write(tmp_path, "in.mlir", text)
    out = tmp_path / "out.mlir"
    assert_clean_failure(relay_opt(str(src), "-p", passes, "-o", str(out)))
    assert not out.exists()


def test_output_file_is_left_alone_on_error(tmp_path: Path):
    src = write(tmp_path, "in.mlir", TYPE_ERROR)
    out = write(tmp_path, "out.mlir", "previous contents\n")
    assert_clean_failure(relay_opt(str(src), "-p", "infer-types", "-o", str(out)))
    assert out.read_text() == "previous contents\n"


def test_error_in_a_later_split_names_its_line_in_the_whole_file(tmp_path: Path):
    src = write(tmp_path, "split.mlir", GOOD + "// -----\n" + VERIFIER_ERROR)
    m = LOCATED.match(assert_clean_failure(relay_opt(str(src), "--split-input-file")))
    assert m and (m["line"], m["col"]) == (str(GOOD.count("\n") + 3), "3")


# -- observing a pipeline -------------------------------------------------------------------


def test_print_ir_after_all_dumps_after_each_pass(tmp_path: Path):
    src = write(tmp_path, "good.mlir", GOOD)
    r = relay_opt(str(src), "-p", "infer-types,dce", "--print-ir-after-all")
    assert r.returncode == 0, r.stderr
    titles = re.findall(r"^// -----// IR Dump After (\S+) //----- //$", r.stderr, re.M)
    assert titles == ["infer-types", "dce"]
    # Each dump is the whole module at that point; the final IR goes to stdout only.
    after_infer = r.stderr.split("IR Dump After dce")[0]
    assert "relay.exp %0 : (tensor<2xf32>) -> tensor<2xf32>" in after_infer
    assert r.stdout.count("builtin.module") == 1
    assert r.stderr.count("builtin.module") == 2


WITH_WEIGHTS = """\
func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
  %w = arith.constant dense_resource<w> : tensor<2xf32>
  %y = arith.addf %x, %w : tensor<2xf32>
  func.return %y : tensor<2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F00000040"
    }
  }
#-}
"""


def test_print_ir_after_all_dumps_carry_their_resource_blobs(tmp_path: Path):
    # A dump is a stage one can cut out and run again: its weights come with it.
    src = write(tmp_path, "weights.mlir", WITH_WEIGHTS)
    r = relay_opt(str(src), "-p", "dce", "--print-ir-after-all")
    assert r.returncode == 0, r.stderr
    dump = r.stderr.split("//----- //\n", 1)[1]
    assert 'w: "0x040000000000803F00000040"' in dump
    again = relay_opt("-", "-p", "dce", stdin=dump)
    assert again.returncode == 0, again.stderr
    assert again.stdout == r.stdout


def test_pass_pipeline_is_mlir_opts_spelling_of_p(tmp_path: Path):
    src = write(tmp_path, "good.mlir", GOOD)
    by_p = relay_opt(str(src), "-p", "infer-types,fuse-ops{max-depth=4}")
    by_pipeline = relay_opt(
        str(src), "--pass-pipeline", "builtin.module(infer-types, fuse-ops{max-depth=4})"
    )
    assert by_p.returncode == 0, by_p.stderr
    assert by_pipeline.returncode == 0, by_pipeline.stderr
    assert by_pipeline.stdout == by_p.stdout
    nested = relay_opt(str(src), "--pass-pipeline", "builtin.module(func.func(cse))")
    assert "without nested op anchors" in assert_clean_failure(nested)
    both = relay_opt(str(src), "-p", "dce", "--pass-pipeline", "builtin.module(dce)")
    assert "not both" in assert_clean_failure(both)


def test_dump_pass_pipeline_shows_the_levels_expanded(tmp_path: Path):
    src = write(tmp_path, "good.mlir", GOOD)
    r = relay_opt(str(src), "-O", "1", "-p", "cse", "--dump-pass-pipeline")
    assert r.returncode == 0, r.stderr
    header, pipeline = r.stderr.splitlines()[:2]
    passes = pipeline.removeprefix("builtin.module(").removesuffix(")").split(",")
    assert header == f"Pass Manager with {len(passes)} passes:"
    assert passes[0] == "infer-types" and passes[-1] == "cse" and "relay-optimize" not in passes


def test_print_ir_after_and_before_named_passes(tmp_path: Path):
    src = write(tmp_path, "good.mlir", GOOD)
    r = relay_opt(
        str(src),
        "-p",
        "infer-types,dce,cse",
        "--mlir-print-ir-after=dce",
        "--mlir-print-ir-before",
        "infer-types,cse",
    )
    assert r.returncode == 0, r.stderr
    titles = re.findall(r"^// -----// IR Dump (\w+ \S+) //----- //$", r.stderr, re.M)
    assert titles == ["Before infer-types", "After dce", "Before cse"]
    unknown = relay_opt(str(src), "-p", "dce", "--mlir-print-ir-after=nope")
    assert "no pass named nope" in assert_clean_failure(unknown)


def test_print_ir_before_all(tmp_path: Path):
    src = write(tmp_path, "good.mlir", GOOD)
    r = relay_opt(str(src), "-p", "infer-types", "--print-ir-before-all")
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("// -----// IR Dump Before infer-types //----- //\n")
    assert "!relay.incomplete" in r.stderr  # the IR as it was before inference


@pytest.mark.parametrize("flag", ["--mlir-timing", "--time-passes"])
def test_timing_report(tmp_path: Path, flag: str):
    src = write(tmp_path, "good.mlir", GOOD)
    r = relay_opt(str(src), "-p", "infer-types,dce", flag)
    assert r.returncode == 0, r.stderr
    assert "Pass execution timing report" in r.stderr
    rows = re.findall(r"^\s+(\d+\.\d+) \(\s*(\d+\.\d)%\)\s+(\S+)$", r.stderr, re.M)
    assert [name for _, _, name in rows] == ["infer-types", "dce", "Total"]
    assert float(rows[-1][0]) == pytest.approx(sum(float(t) for t, _, _ in rows[:-1]), abs=2e-4)
    assert "builtin.module" in r.stdout and "timing" not in r.stdout


def test_split_input_file_processes_each_chunk(tmp_path: Path):
    second = GOOD.replace("@f", "@g")
    src = write(tmp_path, "split.mlir", GOOD + "// -----\n" + second)
    r = relay_opt(str(src), "--split-input-file", "-p", "infer-types")
    assert r.returncode == 0, r.stderr
    first, rest = r.stdout.split("// -----\n")
    assert "relay.func @f" in first and "relay.func @g" not in first
    assert "relay.func @g" in rest and "relay.func @f" not in rest


def test_split_input_file_with_verify_diagnostics_reports_each_error(tmp_path: Path):
    src = write(
        tmp_path, "split.mlir", VERIFIER_ERROR + "// -----\n" + GOOD + "// -----\n" + SYNTAX_ERROR
    )
    r = relay_opt(str(src), "--split-input-file", "--verify-diagnostics")
    assert r.returncode == 0, r.stderr
    chunks = r.stdout.split("// -----\n")
    assert len(chunks) == 3
    assert LOCATED.match(chunks[0].splitlines()[0])
    assert chunks[1].startswith("builtin.module")
    m = LOCATED.match(chunks[2].splitlines()[0])
    lines_before = VERIFIER_ERROR.count("\n") + GOOD.count("\n") + 2
    assert m and m["line"] == str(lines_before + 2), chunks[2]


# -- plugins -------------------------------------------------------------------------------

CRASHING_PLUGIN = '''
from dataclasses import dataclass

from xdsl.passes import ModulePass
from xdsl.universe import Universe
from xdsl.utils.exceptions import PassFailedException


@dataclass(frozen=True)
class Crash(ModulePass):
    """Fails with an internal error."""

    name = "crash"

    def apply(self, ctx, op):
        raise RuntimeError("boom")


@dataclass(frozen=True)
class Refuse(ModulePass):
    """Reports a failure the xDSL way."""

    name = "refuse"

    def apply(self, ctx, op):
        raise PassFailedException("this module is not for me")


TEST_UNIVERSE = Universe(all_passes={"crash": lambda: Crash, "refuse": lambda: Refuse})
NOT_A_UNIVERSE = 42
'''


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which `--load-plugin relay_opt_cli_test_plugin` finds a test module."""
    (tmp_path / "plugins").mkdir()
    write(tmp_path / "plugins", "relay_opt_cli_test_plugin.py", CRASHING_PLUGIN)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(tmp_path / "plugins"), env.get("PYTHONPATH")) if p
    )
    return env


def test_load_plugin_with_a_bad_module_name(tmp_path: Path):
    src = write(tmp_path, "good.mlir", GOOD)
    first = assert_clean_failure(relay_opt(str(src), "--load-plugin", "no_such_plugin_module"))
    assert first == (
        "relay-opt: error: cannot load plugin 'no_such_plugin_module': "
        "No module named 'no_such_plugin_module'"
    )


def test_load_plugin_without_a_universe(tmp_path: Path, plugin_env: dict[str, str]):
    src = write(tmp_path, "good.mlir", GOOD)
    r = relay_opt(str(src), "--load-plugin", "os", env=plugin_env)
    assert (
        assert_clean_failure(r)
        == "relay-opt: error: plugin module 'os' defines no xdsl.universe.Universe"
    )
    r = relay_opt(
        str(src), "--load-plugin", "relay_opt_cli_test_plugin:NOT_A_UNIVERSE", env=plugin_env
    )
    assert "defines no xdsl.universe.Universe" in assert_clean_failure(r)


def test_loaded_plugin_passes_are_listed(plugin_env: dict[str, str]):
    r = relay_opt("--list-passes", "--load-plugin", "relay_opt_cli_test_plugin", env=plugin_env)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^  crash +Fails with an internal error\.$", r.stdout, re.M)


def test_a_pass_that_fails_is_a_clean_error(tmp_path: Path, plugin_env: dict[str, str]):
    src = write(tmp_path, "good.mlir", GOOD)
    out = tmp_path / "out.mlir"
    r = relay_opt(
        str(src),
        "--load-plugin",
        "relay_opt_cli_test_plugin",
        "-p",
        "refuse",
        "-o",
        str(out),
        env=plugin_env,
    )
    assert assert_clean_failure(r) == "relay-opt: error: this module is not for me"
    assert not out.exists()


def test_a_crashing_pass_is_an_internal_error_without_traceback(
    tmp_path: Path, plugin_env: dict[str, str]
):
    src = write(tmp_path, "good.mlir", GOOD)
    out = tmp_path / "out.mlir"
    r = relay_opt(
        str(src),
        "--load-plugin",
        "relay_opt_cli_test_plugin",
        "-p",
        "crash",
        "-o",
        str(out),
        env=plugin_env,
    )
    first = assert_clean_failure(r, rc=2)
    assert first == "relay-opt: internal error: pass 'crash' crashed: RuntimeError: boom"
    assert not out.exists()
    # The traceback is there for those who ask.
    r = relay_opt(
        str(src),
        "--load-plugin",
        "relay_opt_cli_test_plugin",
        "-p",
        "crash",
        env={**plugin_env, "RELAY_OPT_TRACEBACK": "1"},
    )
    assert r.returncode != 0 and "Traceback" in r.stderr and "RuntimeError: boom" in r.stderr


FOLDS = """#[version = "0.0.5"]
def @main(%x: Tensor[(4), float32]) {
  add(%x, multiply(2f, 3f))
}
"""


def _statistics(stderr: str) -> list[tuple[str, dict[str, int]]]:
    """The report's passes with their counters, in order."""
    assert "... Pass statistics report ..." in stderr
    rows: list[tuple[str, dict[str, int]]] = []
    for line in stderr[stderr.index("'builtin.module' Pipeline") :].splitlines()[1:]:
        counter = re.fullmatch(r"    \(S\) +(\d+) ([\w-]+) - .+", line)
        if counter:
            rows[-1][1][counter.group(2)] = int(counter.group(1))
        elif re.fullmatch(r"  [\w-]+", line):
            rows.append((line.strip(), {}))
    return rows


def test_pass_statistics_count_the_ops_each_pass_created_and_erased(tmp_path: Path):
    src = write(tmp_path, "f.rly", FOLDS)
    r = relay_opt(str(src), "-p", "fold-constant,dce", "--mlir-pass-statistics")
    assert r.returncode == 0, r.stderr
    # fold-constant makes one constant (6) of the two constants and the multiply it erases;
    # then the module holds itself, @main, the constant, the add and the return.
    assert _statistics(r.stderr) == [
        ("fold-constant", {"ops-created": 1, "ops-erased": 3, "ops-after": 5}),
        ("dce", {"ops-created": 0, "ops-erased": 0, "ops-after": 5}),
    ]
    assert r.stdout.count("relay.") == 4  # the five ops less builtin.module
    # Split inputs: each pass's counters are summed over the chunks.
    split = write(tmp_path, "s.mlir", relay_opt(str(src)).stdout + "// -----\n" + GOOD)
    r = relay_opt(str(split), "--split-input-file", "-p", "infer-types", "--mlir-pass-statistics")
    assert r.returncode == 0, r.stderr
    ((name, counters),) = _statistics(r.stderr)
    # FOLDS unfolded: module, @main, two constants, multiply, add, return; GOOD: module, @f,
    # add, exp, return.
    assert name == "infer-types" and counters["ops-after"] == 7 + 5


def _dot(
    text: str,
) -> tuple[dict[str, str], list[tuple[str, str, str]], list[tuple[str, set[str]]]]:
    """A small reader of the dot that view-op-graph writes: its nodes (name -> label), edges
    (from, to, label) and clusters (label, the nodes inside, nested ones included). It fails on
    anything else, so the test checks the syntax too."""
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    clusters: list[tuple[str, set[str]]] = []
    stack: list[tuple[str, set[str]]] = []
    lines = text.strip().splitlines()
    assert lines[0] == "digraph relay {" and lines[-1] == "}"
    for line in (line.strip() for line in lines[1:-1]):
        if m := re.fullmatch(r'(n\d+) \[label="((?:[^"\\]|\\.)*)", shape=\w+\];', line):
            nodes[m.group(1)] = m.group(2)
            for _, inside in stack:
                inside.add(m.group(1))
        elif m := re.fullmatch(r'(n\d+) -> (n\d+) \[label="((?:[^"\\]|\\.)*)"\];', line):
            edges.append((m.group(1), m.group(2), m.group(3)))
        elif re.fullmatch(r"subgraph cluster_\d+ \{", line):
            stack.append(("", set()))
        elif m := re.fullmatch(r'label="((?:[^"\\]|\\.)*)";', line):
            stack[-1] = (m.group(1), stack[-1][1])
        elif line == "}":
            clusters.append(stack.pop())
        else:
            assert line.startswith(("node [", "style=filled")), line
    assert not stack
    return nodes, edges, clusters


CONV = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 2, 6, 6), float32], %w: Tensor[(3, 2, 3, 3), float32]) {
  nn.relu(nn.conv2d(add(%x, %x), %w, padding=[1, 1]))
}
"""


def test_view_op_graph_draws_fused_groups_as_clusters_with_types_on_edges(tmp_path: Path):
    src = write(tmp_path, "c.rly", CONV)
    r = relay_opt(str(src), "-O", "3", "--view-op-graph")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("builtin.module")  # the IR still goes to stdout
    nodes, edges, clusters = _dot(r.stderr)
    assert all(a in nodes and b in nodes for a, b, _ in edges)
    groups = [
        sorted(nodes[n] for n in inside) for label, inside in clusters if label == "fused group"
    ]
    assert ["%p0", "%p1", "closure", "nn.conv2d", "nn.relu", "return"] in groups
    assert ["%p0", "add", "closure", "return"] in groups
    (main,) = [inside for label, inside in clusters if label == "@main"]
    assert len(main) == len(nodes)  # every node is inside @main's cluster
    by_label = {(nodes[a], nodes[b]): label for a, b, label in edges}
    assert by_label[("nn.conv2d", "nn.relu")] == "1x3x6x6xfloat32"
    assert by_label[("%w", "call_closure")] == "3x2x3x3xfloat32"
    # Without -O there is no group; the pass can also write a file from anywhere in -p.
    out = tmp_path / "g.dot"
    r = relay_opt(str(src), "-p", f'view-op-graph{{output-file="{out}"}},fuse-ops')
    assert r.returncode == 0 and r.stderr == "", r.stderr
    nodes, _, clusters = _dot(out.read_text())
    assert [label for label, _ in clusters] == ["@main"]
    assert sorted(nodes.values()) == ["%w", "%x", "add", "nn.conv2d", "nn.relu", "return"]
    r = relay_opt(str(src), "-p", 'view-op-graph{output-file="/nonexistent-dir/g.dot"}')
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "cannot write '/nonexistent-dir/g.dot': No such file or directory" in r.stderr
