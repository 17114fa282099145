"""ONNX models -> the Relay dialect.

    from relay_opt.frontends.onnx import import_onnx
    imported = import_onnx("model.onnx")          # or an onnx.ModelProto
    imported.module, imported.input_names, imported.output_names

Each ONNX node becomes Relay operators (one converter per ONNX operator, in
files by theme: ops.py, rnn.py, attention.py, ...; `If` in control_flow.py becomes
Relay's `if`, or only its taken branch when the condition is known); initializers and constant
subgraphs are evaluated while importing and become constants (large ones as
resources, never text). Shapes are static: a graph input with a symbolic
dimension needs its shape given (`shapes=`).
Errors name the node and its operator: `OnnxImportError`, and for operators,
attributes, opsets or dtypes that relay-opt does not implement, its subclass
`OnnxUnsupportedError`.
"""

from __future__ import annotations

from relay_opt.frontends.onnx.importer import (
    ImportedModel,
    OnnxImportError,
    OnnxUnsupportedError,
    import_onnx,
    supported_operators,
)

__all__ = [
    "ImportedModel",
    "OnnxImportError",
    "OnnxUnsupportedError",
    "import_onnx",
    "supported_operators",
]
