"""Lowering passes from the Relay dialect towards native code (see docs/ARCHITECTURE.md)."""
