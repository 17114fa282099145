# The two commands of the README's quick start.
PYTHON ?= python3

.PHONY: install demo lint typecheck test

install:
	$(PYTHON) -m pip install -q -e '.[test]' -e examples/plugin

# The main job: a CNN in Relay text, type-checked, compiled, run, checked against numpy.
demo: install
	$(PYTHON) examples/demo.py

# Lint: ruff's rules in pyproject.toml, and ruff's formatter's layout.
lint: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

# Type check (basedpyright, basic mode). The import package relay_opt is this folder
# under another name, so a link build/typecheck/relay_opt -> here lets relay_opt.* resolve.
# -p: this project's settings, even when a folder above holds a pyrightconfig.json.
typecheck: install
	mkdir -p build/typecheck
	ln -sfn $(CURDIR) build/typecheck/relay_opt
	$(PYTHON) -m basedpyright -p pyproject.toml --pythonpath "$$($(PYTHON) -c 'import sys; print(sys.executable)')"

# Every test: lint, type check, lit golden files, then pytest (numerics and APIs) in
# PYTEST_WORKERS processes (pytest-xdist; one process alone peaked at 4.3 GiB).
# --dist loadgroup runs the tests that share compiled models (xdist_group marks) in one.
PYTEST_WORKERS ?= 2
test: lint typecheck
	lit -sv tests/lit
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup
