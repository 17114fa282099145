"""Relay's operators, one family per file; importing this package registers them all."""

from relay_opt.dialects.relay.ops import elementwise, nn, reduce, transform, vision  # noqa: F401
