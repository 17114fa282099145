"""Relay-to-Relay passes, one per file (universe.py lists them for relay-opt)."""
