# The two commands of the README's quick start.
PYTHON ?= python3

.PHONY: install demo test

install:
	$(PYTHON) -m pip install -q -e '.[test]' -e examples/plugin

# The main job: a CNN in Relay text, type-checked, compiled, run, checked against numpy.
demo: install
	$(PYTHON) examples/demo.py

# Every test: lit golden files, then pytest (numerics and APIs).
test: install
	lit -sv tests/lit
	$(PYTHON) -m pytest
