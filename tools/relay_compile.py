"""`relay-compile`: compile a program once into a package that runs later without compiling.

    relay-compile model.onnx -o model.relaymod [--input-shape x=1,3,224,224]
    relay-run model.relaymod -i inputs.npz -o outputs.npz

The package (runtime/package.py) holds the entry's object code, the kernel library's, the
weights and the signature; `relay_opt.runtime.load_module(path)` loads it from Python. It
runs on a machine with the same CPU (name and features) and a relay-opt of the same package
ABI; elsewhere it is refused.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from relay_opt.diagnostics import ArgumentError, RelayError, UserError, run_tool, write_output
from relay_opt.timing import Timings


def _input_shape(spec: str) -> tuple[str, list[int]]:
    from relay_opt.loader import parse_input_shape

    try:
        return parse_input_shape(spec)
    except ArgumentError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relay-compile", description=(__doc__ or "").partition("\n")[0]
    )
    p.add_argument("input_file", help="the program: .rly (Relay text), .mlir or .onnx")
    p.add_argument("-o", "--output", required=True, metavar="M.relaymod", help="the package")
    p.add_argument("--meta", metavar="M.npz", help="constants for meta[relay.Constant][i]")
    p.add_argument(
        "--input-format", choices=("mlir", "relay", "onnx"), help="default: by file extension"
    )
    p.add_argument("--entry", default="main", help="the function to compile (default: main)")
    p.add_argument(
        "--input-shape",
        action="append",
        type=_input_shape,
        metavar="NAME=D1,D2,...",
        help="fix an input's symbolic (?) dimensions, e.g. an ONNX graph input's (repeatable; "
        "dims left ? stay ? in the package)",
    )
    p.add_argument(
        "-O",
        dest="opt_level",
        type=int,
        default=3,
        choices=(0, 1, 2, 3),
        help="optimization level of the compiled code (default 3)",
    )
    p.add_argument(
        "--fp-policy",
        choices=("fast", "strict"),
        default="fast",
        help="floating-point policy of the compiled code: fast (default) or strict",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the compile cache (also RELAY_OPT_NO_CACHE=1)",
    )
    p.add_argument(
        "--mlir-timing",
        "--time-passes",
        action="store_true",
        help="print a per-pass timing report (stderr); the passes run (no cache)",
    )
    return p


def run(args: Sequence[str] | None = None) -> int:
    from relay_opt.loader import load_program, merge_input_shapes

    parser = _parser()
    ns = parser.parse_args(args)
    try:
        shapes = merge_input_shapes(ns.input_shape or [])
    except ArgumentError as e:
        parser.error(str(e))
    timings = Timings()
    source = ns.input_file if ns.input_file == "-" else Path(ns.input_file)
    program = load_program(
        source,
        ns.input_format,
        filename=None if source == "-" else ns.input_file,
        meta=ns.meta,
        input_shapes=shapes,
        timings=timings,
    )
    from relay_opt.runtime.jit import compile
    from relay_opt.runtime.package import encode

    try:
        exe = compile(
            program.module,
            ns.entry,
            opt=ns.opt_level,
            timings=timings,
            cache=not (ns.no_cache or ns.mlir_timing),
            fp_policy=ns.fp_policy,
        )
        parts = encode(exe, program.input_names, program.output_names)
    except RelayError as e:
        raise UserError(program.render(e)) from None
    except ArgumentError as e:
        raise UserError(f"relay-compile: error: {e}\n") from None

    def write(f) -> None:  # noqa: ANN001
        for part in parts:
            f.write(part)

    write_output(ns.output, write, "relay-compile")
    if ns.mlir_timing:
        sys.stderr.write(timings.report())
    return 0


def main(args: Sequence[str] | None = None) -> int:
    return run_tool(lambda: run(args), "relay-compile")


if __name__ == "__main__":
    sys.exit(main())
