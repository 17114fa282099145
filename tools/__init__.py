"""Command-line tools: relay-opt (and later relay-run, relay-translate)."""
