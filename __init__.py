"""relay-opt: Relay as an xDSL dialect, compiled by progressive lowering.

The repository's top-level folders (dialects/, passes/, lowering/, tools/, ...)
are the subpackages of this package; see pyproject.toml.
"""

__version__ = "0.1.0"
