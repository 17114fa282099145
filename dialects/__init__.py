"""Dialects of relay-opt (the Relay dialect today)."""
