# The two commands of the README's quick start.
PYTHON ?= python3

.PHONY: install demo test

install:
	$(PYTHON) -m pip install -q -e '.[test]' -e examples/plugin

# The main job: type-check a whole Relay program (ADTs, closures, refs, a CNN).
demo: install
	relay-opt examples/models/showcase.mlir -p infer-types --mlir-timing

# Every test: lit golden files, then pytest (numerics and APIs).
test: install
	lit -sv tests/lit
	$(PYTHON) -m pytest
