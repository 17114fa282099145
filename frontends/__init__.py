"""Frontends: Relay text format 0.0.5 today (ONNX and a Python builder are planned)."""
