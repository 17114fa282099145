"""relay.frontend.from_onnx: an ONNX model through the project's importer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from relay_opt.relay.module import IRModule


def from_onnx(
    model: Any,
    shape: Mapping[str, Sequence[int]] | None = None,
    dtype: object = "float32",
    opset: int | None = None,
    freeze_params: bool = True,
    convert_config: object = None,
    export_node_renamed_model_path: object = None,
) -> tuple[IRModule, dict[str, Any]]:
    """(mod, params) for an ONNX model (a ModelProto, its bytes or a path). The weights
    (initializers) are constants inside `mod`, so `params` is empty; `shape` fixes the
    symbolic dims of graph inputs."""
    from relay_opt.diagnostics import RelayError
    from relay_opt.frontends.onnx import import_onnx
    from relay_opt.relay.module import located

    shapes: dict[str, Sequence[int]] = {k: list(v) for k, v in (shape or {}).items()}
    try:
        imported = import_onnx(model, shapes)
    except RelayError as err:
        raise located(err) from None
    from relay_opt.loader import type_check

    type_check(imported.module)
    return IRModule.from_dialect(imported.module), {}
