"""Command-line value types the tools share, so that each flag is spelled and checked once."""

from __future__ import annotations

import argparse


def input_shape(spec: str) -> tuple[str, list[int]]:
    """`--input-shape NAME=D1,D2,...` (an empty list of dims is a scalar) as (name, dims)."""
    name, _, dims = spec.rpartition("=")
    try:
        shape = [int(d) for d in dims.split(",") if d.strip()]
    except ValueError:
        shape = None
    if not name or shape is None or any(d < 0 for d in shape):
        raise argparse.ArgumentTypeError(
            f"'{spec}' is not NAME=D1,D2,... (non-negative whole numbers)"
        )
    return name, shape


def input_shapes(
    specs: list[tuple[str, list[int]]] | None, parser: argparse.ArgumentParser
) -> dict[str, list[int]]:
    """The repeated `--input-shape` values as {name: dims}; naming an input twice is an error."""
    shapes: dict[str, list[int]] = {}
    for name, dims in specs or []:
        if name in shapes and shapes[name] != dims:
            parser.error(f"--input-shape gives '{name}' two shapes: {shapes[name]} and {dims}")
        shapes[name] = dims
    return shapes
