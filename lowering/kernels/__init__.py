"""The kernel library: shape-generic, register-blocked routines built in the llvm dialect.

Each kernel is a Python generator that returns an `llvm.func` with vector types for one
target (`Target`: the host's vector width), so kernels print as MLIR and are golden-tested
like every other stage. `lower-contractions` replaces the contractions that bufferize left
as `linalg` ops with calls to them, adding each routine to the module once.
"""
