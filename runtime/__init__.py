"""Running Relay programs: the JIT (jit.py) and the numpy reference interpreter."""

__all__ = ["load_module"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from relay_opt.runtime.package import load_module


def __getattr__(name: str):  # noqa: ANN202
    # `load_module` (a compiled-module package: package.py) loads the JIT on use, not on import.
    if name == "load_module":
        from relay_opt.runtime.package import load_module

        return load_module
    raise AttributeError(f"module 'relay_opt.runtime' has no attribute '{name}'")
