"""MkDocs hook: the API reference reads relay_opt from a folder that holds only the package.

The package relay_opt is the repository root (pyproject.toml's package-dir), and griffe, which
reads the docstrings for mkdocstrings, walks every folder under a package, following links:
under the root that is also .venv/, site/ and build/typecheck/relay_opt, `make typecheck`'s
link back to the root (a minute of walking). So this links the package's own modules and
subpackages into build/api/relay_opt, where mkdocs.yml's `paths` points griffe. It runs when
MkDocs imports the hook, while reading mkdocs.yml: mkdocstrings drops a `paths` entry that
does not exist yet when its own configuration is read.
"""

import contextlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_PACKAGE = {"build", "site", "docs", "tests", "benchmarks", "examples"}


def link_package() -> None:
    package = ROOT / "build" / "api" / "relay_opt"
    package.mkdir(parents=True, exist_ok=True)
    for entry in sorted(ROOT.iterdir()):
        if entry.name.startswith(".") or entry.name in NOT_PACKAGE:
            continue
        if entry.suffix == ".py" or (entry / "__init__.py").exists():
            # An earlier (or a concurrent) build may have made the link.
            with contextlib.suppress(FileExistsError):
                (package / entry.name).symlink_to(entry)


link_package()
