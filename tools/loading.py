"""Reading programs for the command-line tools: .mlir or .rly, with located errors."""

from __future__ import annotations

import sys

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import ParseError

from relay_opt.diagnostics import RelayError, render_error, render_parse_error, verify_located
from relay_opt.frontends.relay_text.metadata import MetadataError, MetaTable, from_npz


class UserError(Exception):
    """An error already rendered for the user (`file:line:col: error: ...` and excerpt)."""


def full_context() -> Context:
    """A context with every dialect xDSL and the installed plugins know (lazily loaded)."""
    from xdsl.universe import Universe

    ctx = Context()
    for name, factory in Universe.get_multiverse().all_dialects.items():
        ctx.register_dialect(name, factory)
    return ctx


def load_meta(path: str | None) -> MetaTable | None:
    """`--meta M.npz`: arrays named relay.Constant.0, relay.Constant.1, ..."""
    if not path:
        return None
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as arrays:
            return from_npz(dict(arrays))
    except (OSError, ValueError, MetadataError) as e:
        raise RelayError(f"cannot read --meta {path}: {e}") from None


def input_format(path: str, given: str | None) -> str:
    if given:
        return given
    if path.endswith(".rly"):
        return "relay"
    return "onnx" if path.endswith((".onnx", ".onnxtxt")) else "mlir"


def parse_shapes(specs: list[str] | None) -> dict[str, list[int]]:
    """`--input-shape NAME=1,3,224,224` (repeatable) as {name: shape}."""
    shapes: dict[str, list[int]] = {}
    for spec in specs or []:
        name, _, dims = spec.rpartition("=")
        try:
            shapes[name] = [int(d) for d in dims.split(",") if d.strip()]
        except ValueError:
            raise UserError(f"error: --input-shape '{spec}' is not NAME=D1,D2,...\n") from None
        if not name:
            raise UserError(f"error: --input-shape '{spec}' is not NAME=D1,D2,...\n")
    return shapes


def read_onnx(path: str, shapes: dict[str, list[int]] | None = None):  # noqa: ANN201
    """An ONNX model as an ImportedModel (module, input and output names). Raises UserError."""
    from relay_opt.frontends.onnx import OnnxImportError, import_onnx

    try:
        data = sys.stdin.buffer.read() if path == "-" else path
        return import_onnx(data, shapes, filename="stdin" if path == "-" else path)
    except OnnxImportError as e:
        raise UserError(render_error(e, {}, unlocated="stdin" if path == "-" else path)) from None


def read_module(
    path: str, fmt: str | None = None, meta_path: str | None = None, ctx: Context | None = None
) -> tuple[ModuleOp, str]:
    """Parse and verify a program; returns it with its source text. Raises UserError."""
    from relay_opt.frontends.relay_text import parse_relay
    from relay_opt.tools.relay_opt import LocatingParser

    name = "stdin" if path == "-" else path
    if input_format(path, fmt) == "onnx":
        return read_onnx(path).module, ""
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as e:
        raise UserError(f"{path}: error: cannot read the file: {e.strerror}\n") from None
    try:
        if input_format(path, fmt) == "relay":
            module = parse_relay(text, name, load_meta(meta_path))
        else:
            module = LocatingParser(ctx or full_context(), text, name).parse_module()
            verify_located(module)
    except ParseError as e:
        raise UserError(render_parse_error(e)) from None
    except RelayError as e:
        raise UserError(render_error(e, {name: text})) from None
    return module, text
