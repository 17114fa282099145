"""TVM's Relay text format, version 0.0.5: `parse_relay` reads it into the Relay dialect.

A frontend only parses: `relay_opt.load_program` also type-checks (runs infer-types once).
"""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp

from relay_opt.diagnostics import RelayError, verify_located
from relay_opt.dialects.relay.ir_helpers import building_ir
from relay_opt.frontends.relay_text.metadata import MetadataError, MetaTable, from_tvm_json
from relay_opt.frontends.relay_text.parser import parse_program
from relay_opt.frontends.relay_text.prelude import with_prelude
from relay_opt.frontends.relay_text.to_dialect import to_dialect


def parse_relay(
    text: str,
    filename: str = "<relay>",
    meta: MetaTable | None = None,
    line_offset: int = 0,
    prelude: bool = True,
) -> ModuleOp:
    """Relay text -> a verified Relay-dialect module; the types the text leaves out are
    `!relay.incomplete` until infer-types runs (`relay_opt.load_program` runs it).

    The prelude's definitions that the program uses are added (unless `prelude`
    is False). `meta` supplies `meta[relay.Constant][i]` (it takes precedence over a
    `#[metadata]` section in the text). Errors are RelayErrors at file:line:col.
    """
    with building_ir():
        program = parse_program(text, filename, line_offset)
        if prelude:
            program = with_prelude(program)
        table: MetaTable = {}
        if program.metadata is not None:
            try:
                table.update(from_tvm_json(program.metadata))
            except MetadataError as e:
                raise RelayError(f"{filename}: {e}") from None
        table.update(meta or {})
        module = to_dialect(program, table)
        verify_located(module)
    return module
