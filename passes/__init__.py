"""Relay-to-Relay passes, one per file. `get_all_passes` maps pass names to lazy loaders."""

from collections.abc import Callable

from xdsl.passes import ModulePass


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    def infer_types():
        from relay_opt.passes.infer_types import InferTypesPass

        return InferTypesPass

    return {"infer-types": infer_types}
