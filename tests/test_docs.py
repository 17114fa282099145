"""The documentation runs: every code block of docs/ is executed here, and the site builds.

How a page's code blocks are read (docs/index.md says the same for authors):

- ```` ```LANG title="PATH" ````: a file the page creates, written into the page's own
  working directory (a fresh temporary one per page; the blocks run in page order).
- ```` ```console ````: `$ command` lines (a trailing `\\` continues one), each followed by
  what it prints (standard output and error), which must match; a line `...` stands for any
  number of lines. The commands must succeed, or exit with `data-exit` (below).
- ```` ```sh ```` / ```` ```bash ````: commands that must succeed.
- ```` ```python ````: run in one namespace per page, in the page's directory; a block
  ```` ``` { .text .output } ```` right after it is what it must print.
- ```` ``` { .LANG .norun } ````: shown, not run (an illustration). Every other block runs.
- ```` ``` { .console data-exit="1" } ````: commands that must fail with that status.

`RELAY_OPT_DOCS_UPDATE=1 pytest tests/test_docs.py` rewrites the shown outputs from what the
commands print now (blocks without `...`), for a change that alters them on purpose.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
DIALECT_TUTORIAL = "tutorials/add-a-dialect.md"
UPDATE = os.environ.get("RELAY_OPT_DOCS_UPDATE") == "1"

_FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>```+|~~~+)(?P<info>.*)$")
_PLAIN_INFO = re.compile(r'^(?P<lang>[\w+-]*)(?:\s+title="(?P<title>[^"]+)")?$')
_BRACE_ITEM = re.compile(r'\.(?P<cls>[\w-]+)|(?P<key>[\w-]+)="(?P<value>[^"]*)"')


@dataclass
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    end: int  # of the closing fence, 1-based
    indent: str
    lang: str
    text: str
    classes: set[str] = field(default_factory=set)
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def parse_info(info: str, where: str) -> tuple[str, set[str], dict[str, str]]:
    """The language, classes and attributes of a fence's info string, in the two forms
    pymdownx.superfences renders: `lang title="..."`, or `{ .lang .class key="value" }`.
    Anything else would render as a broken paragraph, so it is an error here."""
    info = info.strip()
    plain = _PLAIN_INFO.match(info)
    if plain:
        attrs = {"title": plain["title"]} if plain["title"] else {}
        return plain["lang"], set(), attrs
    if info.startswith("{") and info.endswith("}"):
        body = info[1:-1].strip()
        items = list(_BRACE_ITEM.finditer(body))
        if _BRACE_ITEM.sub("", body).strip() == "" and items:
            classes = [m["cls"] for m in items if m["cls"]]
            attrs = {m["key"]: m["value"] for m in items if m["key"]}
            lang = classes.pop(0) if classes else ""
            return lang, set(classes), attrs
    raise AssertionError(
        f'{where}: the fence info "{info}" is neither `lang title="..."` nor `{{ .lang ... }}`'
    )


def code_blocks(page: str) -> list[Block]:
    lines = (DOCS / page).read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        where = f"docs/{page}:{i + 1}"
        lang, classes, attrs = parse_info(opening["info"], where)
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        assert j < len(lines), f"{where}: the code block is never closed"
        text = "\n".join(body) + "\n"
        blocks.append(Block(page, i + 1, j + 1, indent, lang, text, classes, attrs))
        i = j + 1
    return blocks


def lines_match(expected: list[str], actual: list[str]) -> bool:
    """Line by line, trailing spaces ignored; an expected line `...` matches any lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(lines_match(expected[1:], actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and lines_match(expected[1:], actual[1:])


def _clean(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def console_commands(block: Block) -> list[tuple[str, list[str]]]:
    """The `$ command` lines of a console block, each with the output shown after it."""
    commands: list[tuple[str, list[str]]] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        assert line.startswith("$ "), f"{block.where}: output shown before any `$ command`"
        command = line[2:]
        while command.endswith("\\"):  # bash reads the backslash-newline as one line
            i += 1
            command += "\n" + lines[i]
        i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        commands.append((command, output))
    return commands


@dataclass
class PageRun:
    """Runs one page's blocks in order, in `workdir`, with the tools on `env`'s PATH."""

    page: str
    workdir: Path
    env: dict[str, str]
    namespace: dict[str, object] = field(default_factory=dict)
    last_stdout: str | None = None
    updates: list[tuple[Block, str]] = field(default_factory=list)

    def run(self) -> None:
        for block in code_blocks(self.page):
            self.block(block)
        if self.updates:
            rewrite_outputs(self.page, self.updates)

    def block(self, b: Block) -> None:
        if "norun" in b.classes:
            return
        if "output" in b.classes:
            assert self.last_stdout is not None, f"{b.where}: output of no python block"
            assert lines_match(_clean(b.text), _clean(self.last_stdout)), (
                f"{b.where}: the python block before printed\n{self.last_stdout}"
            )
            return
        self.last_stdout = None
        if "title" in b.attrs:
            path = self.workdir / b.attrs["title"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(b.text)
        elif b.lang == "console":
            self.console(b)
        elif b.lang in ("sh", "bash"):
            self.shell(b, b.text)
        elif b.lang == "python":
            self.python(b)
        else:
            raise AssertionError(
                f"{b.where}: a `{b.lang}` block that is neither a file (title=...) nor marked "
                "{ .norun }: say what it is"
            )

    def shell(self, b: Block, command: str) -> str:
        r = subprocess.run(
            ["bash", "-e", "-c", command],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
        )
        want = int(b.attrs.get("data-exit", "0"))
        assert r.returncode == want, (
            f"{b.where}: `{command}` exited {r.returncode}, not {want}:\n{r.stdout}"
        )
        return r.stdout

    def console(self, b: Block) -> None:
        # Under RELAY_OPT_DOCS_UPDATE, a block without `...` is rewritten instead of checked.
        update = UPDATE and "..." not in b.text.splitlines()
        shown: list[str] = []
        for command, expected in console_commands(b):
            out = self.shell(b, command)
            shown += ["$ " + command] + _clean(out)
            assert update or lines_match(_clean("\n".join(expected)), _clean(out)), (
                f"{b.where}: `{command}` printed\n{out}\nbut the page shows\n" + "\n".join(expected)
            )
        if update:
            self.updates.append((b, "\n".join(shown) + "\n"))

    def python(self, b: Block) -> None:
        out = io.StringIO()
        cwd = os.getcwd()
        os.chdir(self.workdir)
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(b.text, b.where, "exec"), self.namespace)
        finally:
            os.chdir(cwd)
        self.last_stdout = out.getvalue()


def rewrite_outputs(page: str, updates: list[tuple[Block, str]]) -> None:
    """RELAY_OPT_DOCS_UPDATE=1: put what the console blocks printed into the page."""
    lines = (DOCS / page).read_text().splitlines()
    for b, text in sorted(updates, key=lambda u: -u[0].line):
        lines[b.line : b.end - 1] = [b.indent + line if line else "" for line in text.splitlines()]
    (DOCS / page).write_text("\n".join(lines) + "\n")


def tool_env(bin_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.parametrize("page", [p for p in PAGES if p != DIALECT_TUTORIAL])
def test_page_runs(page: str, tmp_path: Path) -> None:
    """Every code block of the page runs, and every output it shows is what it prints."""
    PageRun(page, tmp_path, tool_env(os.path.dirname(sys.executable))).run()


def fresh_venv(path: Path) -> Path:
    """A new virtual environment that sees this environment's packages (relay-opt, xDSL,
    numpy, pip, setuptools, ...) and no others, but has none of its own: a `.pth` line adds
    this environment's site-packages (with its own `.pth` files, so an editable relay-opt
    works). The base interpreter's packages are visible only when they are this environment's
    (the tests run outside a venv): a venv's base may hold other, stale installs. Made without
    ensurepip, which costs half a minute."""
    in_venv = sys.prefix != sys.base_prefix
    options = ["--without-pip"] + ([] if in_venv else ["--system-site-packages"])
    subprocess.run([sys.executable, "-m", "venv", *options, path], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    here = sysconfig.get_path("purelib")
    Path(purelib, "_parent_environment.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    # The console scripts `pip install relay-opt` and ensurepip would write into the venv; run
    # by its python, pip installs into the venv.
    for name, module in (
        ("relay-opt", "relay_opt.tools.relay_opt"),
        ("pip", "pip._internal.cli.main"),
    ):
        script = path / "bin" / name
        script.write_text(f"#!{python}\nimport sys\nfrom {module} import main\nsys.exit(main())\n")
        script.chmod(0o755)
    return path / "bin"


def test_add_a_dialect_tutorial(tmp_path: Path) -> None:
    """The 'add a dialect' tutorial, followed to the letter in a fresh virtual environment:
    its files are written as the page shows them, its `pip install` installs the package
    into that environment (offline: --no-deps --no-build-isolation), and that environment's
    relay-opt loads the dialect through the entry point and runs its pass."""
    bin_dir = fresh_venv(tmp_path / "venv")
    work = tmp_path / "work"
    work.mkdir()
    env = tool_env(str(bin_dir))
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    env["PIP_NO_INDEX"] = "1"  # nothing may come from a registry
    PageRun(DIALECT_TUTORIAL, work, env).run()
    # The package is installed in the fresh environment, not found through the working directory.
    r = subprocess.run(
        [bin_dir / "python", "-c", "import relay_qnn; print(relay_qnn.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(tmp_path / "venv") in r.stdout, r.stdout
    shown = " ".join(b.text for b in code_blocks(DIALECT_TUTORIAL) if b.lang == "console")
    assert "-p lower-qnn" in shown and "--load-plugin" not in shown


def test_site_builds_without_warnings(tmp_path: Path) -> None:
    """`mkdocs build --strict` succeeds and warns about nothing, every page is in the nav,
    and no code fence rendered as text (superfences drops a fence it cannot read)."""
    r = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING" not in r.stdout + r.stderr, r.stdout + r.stderr
    for page in PAGES:
        html = tmp_path / page.removesuffix(".md") / "index.html"
        if page == "index.md":
            html = tmp_path / "index.html"
        assert html.exists(), f"docs/{page} is not built"
        assert "<p>```" not in html.read_text(), f"docs/{page}: a code fence rendered as text"


def test_python_files_shown_are_lint_clean(tmp_path: Path) -> None:
    """The Python files the pages create pass the project's own ruff rules and format."""
    files = []
    for page in PAGES:
        for b in code_blocks(page):
            if b.lang == "python" and b.attrs.get("title", "").endswith(".py"):
                path = tmp_path / page.replace("/", "_") / b.attrs["title"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(b.text)
                files.append(str(path))
    assert files
    # lit runs its configuration with `config` defined (as in the project's own settings).
    lit_config = 'lint.extend-per-file-ignores = {"**/lit.cfg.py" = ["F821"]}'
    config = ["--config", str(ROOT / "pyproject.toml"), "--config", lit_config]
    for command in (["check", *files], ["format", "--check", "--diff", *files]):
        r = subprocess.run(
            [sys.executable, "-m", "ruff", *command[:1], *config, *command[1:]],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stdout + r.stderr


def test_pipeline_page_shows_every_stage() -> None:
    """docs/pipeline.md prints the IR after each stage of STAGES, in their order."""
    from relay_opt.lowering.relay_to_llvm import STAGES

    text = (DOCS / "pipeline.md").read_text()
    shown = re.findall(r"^### (\S+)$", text, re.MULTILINE)
    assert shown == [stage.name for stage in STAGES]


def test_every_block_is_read() -> None:
    """The parser sees every fence of every page (an unread block would not be run)."""
    for page in PAGES:
        text = (DOCS / page).read_text()
        fences = sum(1 for line in text.splitlines() if _FENCE.match(line))
        assert fences == 2 * len(code_blocks(page)), page


def test_lines_match() -> None:
    assert lines_match(["a", "...", "d"], ["a", "b", "c", "d"])
    assert lines_match(["a", "...", "b"], ["a", "b"])
    assert not lines_match(["a", "...", "d"], ["a", "b"])
    assert not lines_match(["a"], ["a", "b"])
