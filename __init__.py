"""relay-opt: Relay as an xDSL dialect, compiled by progressive lowering.

The repository's top-level folders (dialects/, passes/, lowering/, tools/, ...)
are the subpackages of this package; see pyproject.toml.
"""

__version__ = "0.1.0"

__all__ = ["ArgumentError", "LoadError", "Program", "compile", "load_program"]

TYPE_CHECKING = False  # (typing.TYPE_CHECKING without importing typing)
if TYPE_CHECKING:  # what __getattr__ returns, for type checkers; nothing is imported at run time
    from relay_opt.diagnostics import ArgumentError, LoadError
    from relay_opt.loader import Program, load_program


def __getattr__(name: str):  # noqa: ANN202
    # Importing relay_opt does no work (`relay-opt --help` stays fast): the API loads on use.
    if name in ("load_program", "Program"):
        from relay_opt import loader

        return getattr(loader, name)
    if name in ("LoadError", "ArgumentError"):
        from relay_opt import diagnostics

        return getattr(diagnostics, name)
    raise AttributeError(f"module 'relay_opt' has no attribute '{name}'")


def compile(  # noqa: A001, ANN201
    module,  # noqa: ANN001
    entry: str = "main",
    opt: int = 3,
    profile: bool = False,
    fp_policy: str = "fast",
    cache: bool = True,
    threads: int | None = None,
):
    """Compile a type-checked Relay module to native code: see `relay_opt.runtime.jit.compile`
    (`fp_policy`: "fast", the default, or "strict"; `cache=False` neither reads nor writes the
    on-disk compile cache; `threads`: the thread count of its calls, a run-time setting)."""
    from relay_opt.runtime.jit import compile as jit_compile

    return jit_compile(
        module, entry, opt, profile, fp_policy=fp_policy, cache=cache, threads=threads
    )
