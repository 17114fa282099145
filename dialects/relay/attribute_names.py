"""Names of the attributes that one stage leaves on ops for a later one to read.

They are defined here, at the bottom of the pipeline, so that a pass or a lowering never
imports the stage that writes or reads them.
"""

PRIMITIVE = "Primitive"
"""On a closure: fuse-ops made it from a group of operators (TVM's `Primitive=1`);
convert-relay-to-linalg lowers it where it is called, defuse-ops puts it back."""

CLOSURE = "Closure"
"""On a global function: lambda-lift made it from a closure with free variables; its
parameters are the closure's environment and its body builds the closure (TVM's `Closure=1`)."""

INLINE = "Inline"
"""On a global function: inline replaces its calls by its body (TVM's `Inline=1`)."""

GRADIENT_OF = "GradientOf"
"""On a global function: gradient made it as the gradient of the function this string names;
remove-unused-functions keeps it while that function is kept (it is called from outside, as
TVM's gradient function is)."""

GROUP = "relay_opt.group"
"""On a linalg.generic: the id of the fused group convert-relay-to-linalg lowered it from;
fuse-linalg-elementwise and fuse-linalg-epilogue merge only kernels of one group."""

OUTPUTS = "relay_opt.outputs"
"""On a bufferized func.func: how many of its trailing arguments are its results."""

CONTRACTION = "relay_opt.contraction"
"""On a linalg.generic: the contraction it computes (`"dense"`, `"matmul"`, `"batch_matmul"`,
the blocked `"conv2d"`),
set by convert-relay-to-linalg; lower-contractions replaces such an op with a call to the
kernel library's routine for it, and fuse-linalg-epilogue leaves those anchors alone."""

CONV_PADDING = "relay_opt.conv_padding"
"""On a linalg.generic: it zero-pads a blocked conv2d's input by these (top, left, bottom,
right) rows and columns, set by convert-relay-to-linalg; lower-contractions gives the conv2d
routine the unpadded input and the padding instead, and drops the copy."""

PARALLEL_FOR = "relay_opt.parallel_for"
"""A declared func.func `(!llvm.ptr ctx, i64 n, i64 grain) -> i64` that parallelize-loops
calls with the TASK attribute; convert-to-llvm makes each call one of the thread pool's
`relay_opt_parallel_for` with the task's address (upstream MLIR has no function address
outside the llvm dialect)."""

TASK = "relay_opt.task"
"""On a call of PARALLEL_FOR: the symbol of the task function (ctx, begin, end) -> i64."""

OWNED = "relay_opt.owned"
"""On a bufferization.to_tensor: the rule allocated its buffer and hands it over; bufferize
frees it after its last use (or hands it to the caller), as one of its own allocations."""
