# lit configuration for relay-opt's golden tests: `// RUN: relay-opt %s ... | filecheck %s`.
import os
import shutil

import lit.formats

config.name = "relay-opt"
config.test_format = lit.formats.ShTest(preamble_commands=[])
config.suffixes = [".mlir", ".rly", ".onnxtxt"]
config.test_source_root = os.path.dirname(__file__)
config.excludes = ["lit.cfg.py", "Inputs"]

repo_root = os.path.dirname(os.path.dirname(config.test_source_root))
config.substitutions.append(("%examples", os.path.join(repo_root, "examples")))

# The tools come from the environment the project is installed into.
for var in ("PATH", "PYTHONPATH", "HOME", "VIRTUAL_ENV"):
    if var in os.environ:
        config.environment[var] = os.environ[var]
for tool in ("relay-opt", "filecheck"):
    if shutil.which(tool) is None:
        lit_config.fatal(
            f"'{tool}' is not on PATH: install the project with `pip install -e '.[test]'`"
        )
