"""Running Relay programs: the JIT (jit.py) and the numpy reference interpreter."""
