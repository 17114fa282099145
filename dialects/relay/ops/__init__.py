"""Relay's operators, one family per file; importing this package registers them all."""

from relay_opt.dialects.relay.ops import (  # noqa: F401
    elementwise,
    nn,
    reduce,
    strings,
    transform,
    vision,
)
