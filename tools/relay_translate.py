"""`relay-translate`: between the Relay dialect and other formats.

  relay-translate --import-relay model.rly [--meta M.npz]     Relay text -> Relay dialect (MLIR)
  relay-translate --import-onnx model.onnx [--input-shape x=1,3,224,224]
                                                              ONNX -> Relay dialect (MLIR)
  relay-translate --export-relay model.mlir [--meta-out M.npz | --show-meta-data]
                                                              Relay dialect -> Relay text
  relay-translate --emit-llvm model.rly [-O N]                LLVM IR of one function
  relay-translate --emit-obj model.rly -o model.o [-O N]      a native object file

The input is Relay text (.rly), the Relay dialect (.mlir), or an ONNX model (.onnx, or
.onnxtxt for ONNX's text syntax), chosen by extension or --input-format; - reads standard
input. -O N: with --emit-llvm/--emit-obj, the level of both the Relay optimizer
(relay-optimize{level=N}) and LLVM (default 3); with the other modes, run the Relay
optimizer at that level before printing (default: print the program as read).

--emit-llvm and --emit-obj compile one function (--entry, default main) into a
self-contained module: the weights are constants inside it, the function is the
C symbol relay_<entry> (or --entry-symbol), every other function is internal:

    void relay_main(const T *in0, ..., T *out0, ...);

one pointer per input tensor, then one per result (tuples flattened), each to a
dense row-major buffer of the tensor's element type; results are written there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from io import StringIO
from pathlib import Path
from typing import BinaryIO

from relay_opt.diagnostics import ArgumentError, RelayError, UserError, run_tool, write_output


def _input_shape(spec: str) -> tuple[str, list[int]]:
    from relay_opt.loader import parse_input_shape

    try:
        return parse_input_shape(spec)
    except ArgumentError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _parser() -> argparse.ArgumentParser:
    summary, _, details = (__doc__ or "").partition("\n\n")
    p = argparse.ArgumentParser(
        prog="relay-translate",
        description=summary.replace("`", ""),
        epilog=details,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--import-relay", action="store_true", help="read Relay text, print the Relay dialect"
    )
    mode.add_argument(
        "--import-onnx", action="store_true", help="read an ONNX model, print the Relay dialect"
    )
    mode.add_argument(
        "--export-relay", action="store_true", help="read the Relay dialect, print Relay text"
    )
    mode.add_argument("--emit-llvm", action="store_true", help="compile, print LLVM IR")
    mode.add_argument(
        "--emit-obj", action="store_true", help="compile, write an object file (needs -o)"
    )
    p.add_argument(
        "-O",
        dest="opt",
        type=int,
        choices=(0, 1, 2, 3),
        help="optimization level: Relay's and LLVM's for --emit-*, default 3; with the other "
        "modes, optimize the Relay program at this level before printing it",
    )
    p.add_argument(
        "input_file", help="the input: .rly, .mlir, .onnx or .onnxtxt; - for standard input"
    )
    p.add_argument(
        "--input-format",
        choices=("mlir", "relay", "onnx"),
        help="how to read the input (default: by file extension)",
    )
    p.add_argument("--meta", metavar="M.npz", help="constants for meta[relay.Constant][i]")
    p.add_argument(
        "--input-shape",
        action="append",
        type=_input_shape,
        metavar="NAME=D1,D2,...",
        help="fix the symbolic dimensions of an ONNX graph input (repeatable; else they are ?)",
    )
    p.add_argument(
        "--meta-out", metavar="M.npz", help="with --export-relay: save the constants here"
    )
    p.add_argument(
        "--show-meta-data",
        action="store_true",
        help="with --export-relay: append the constants as a #[metadata] section",
    )
    p.add_argument(
        "--entry",
        default="main",
        help="the function to compile (--emit-*), or to keep when -O optimizes (default main)",
    )
    p.add_argument(
        "--entry-symbol",
        metavar="SYMBOL",
        help="with --emit-llvm/--emit-obj: its C symbol (default relay_<entry>)",
    )
    p.add_argument(
        "--fp-policy",
        choices=("fast", "strict"),
        default="fast",
        help="with --emit-llvm/--emit-obj: fast (default: FMA contraction, reductions "
        "reassociated) or strict (every float operation as written)",
    )
    p.add_argument("--print-op-generic", action="store_true", help="print ops in the generic form")
    p.add_argument("-o", "--output-file", help="output file (default: stdout)")
    return p


def _optimize(program, level: int, entry: str) -> None:  # noqa: ANN001
    """-O with an import or export mode: Relay's default pipeline of that level, keeping
    `entry` (and what it calls); a pass's error is located in the input."""
    from xdsl.context import Context

    from relay_opt.dialects.relay.ir_helpers import functions_by_name
    from relay_opt.passes.relay_optimize import OptimizePass

    funcs = functions_by_name(program.module)
    if entry not in funcs:
        raise UserError(
            f"relay-translate: error: -O keeps the function @{entry}, which the module does not "
            f"have (it has {', '.join(sorted(funcs)) or 'none'}; choose one with --entry)\n"
        )
    try:
        OptimizePass(level=level, entry=(entry,)).apply(Context(), program.module)
    except RelayError as e:
        raise UserError(program.render(e)) from None


def translate(args: Sequence[str] | None = None) -> int:
    from relay_opt.loader import load_program

    parser = _parser()
    ns = parser.parse_args(args)
    from relay_opt.loader import merge_input_shapes

    try:
        shapes = merge_input_shapes(ns.input_shape or [])
    except ArgumentError as e:
        parser.error(str(e))

    def load(fmt: str | None):  # noqa: ANN202
        # A Path: the argument names a file even when the format is given.
        source = ns.input_file if ns.input_file == "-" else Path(ns.input_file)
        name = None if source == "-" else ns.input_file
        program = load_program(source, fmt, filename=name, meta=ns.meta, input_shapes=shapes)
        if ns.opt is not None and not (ns.emit_llvm or ns.emit_obj):
            _optimize(program, ns.opt, ns.entry)
        return program

    result: str | bytes
    if ns.import_relay or ns.import_onnx:
        from relay_opt.dialects.relay.resources import print_module

        module = load("onnx" if ns.import_onnx else ns.input_format or "relay").module
        out = StringIO()
        # With the weights' blobs: what relay-translate writes reads back complete.
        print_module(module, out, generic=ns.print_op_generic)
        result = out.getvalue()
        constants = []
    elif ns.emit_llvm or ns.emit_obj:
        if ns.emit_obj and not ns.output_file:
            raise UserError("relay-translate: error: --emit-obj needs -o FILE\n")
        program = load(ns.input_format)
        from relay_opt.runtime.native_object import native_module, object_machine

        level = 3 if ns.opt is None else ns.opt
        try:
            llvm_module = native_module(
                program.module, ns.entry, ns.entry_symbol, level, fp_policy=ns.fp_policy
            )
        except RelayError as e:
            raise UserError(program.render(e)) from None
        result = object_machine(level).emit_object(llvm_module) if ns.emit_obj else str(llvm_module)
        constants = []
    else:
        program = load(ns.input_format)
        from relay_opt.frontends.relay_text.printer import print_relay

        try:
            printed = print_relay(program.module, show_meta_data=ns.show_meta_data)
        except RelayError as e:
            raise UserError(program.render(e)) from None
        result, constants = printed.text, printed.constants
    # Everything succeeded: now write (never half a file).
    if ns.meta_out:
        import numpy as np

        arrays = {f"relay.Constant.{i}": c for i, c in enumerate(constants)}

        def save(f: BinaryIO) -> None:
            np.savez(f, **arrays)  # pyright: ignore[reportArgumentType]  (numpy's stub: a key could be allow_pickle)

        write_output(ns.meta_out, save, "relay-translate")
    if ns.output_file:
        write_output(ns.output_file, result, "relay-translate")
    elif isinstance(result, str):
        sys.stdout.write(result)
    return 0


def main(args: Sequence[str] | None = None) -> int:
    return run_tool(lambda: translate(args), "relay-translate")


if __name__ == "__main__":
    sys.exit(main())
