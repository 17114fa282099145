"""A pass pipeline under a PassContext: batch norm folded away by SimplifyInference and
FoldConstant, then FuseOps; the optimized module is printed and run."""

import numpy as np

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay

rng = np.random.default_rng(2)
channels = 4
data = relay.var("data", shape=(1, 3, 8, 8))
weight = relay.const(rng.standard_normal((channels, 3, 3, 3)).astype("float32") * 0.3)
gamma = relay.const(rng.uniform(0.5, 1.5, channels).astype("float32"))
beta = relay.const(rng.standard_normal(channels).astype("float32"))
mean = relay.const(rng.standard_normal(channels).astype("float32") * 0.1)
variance = relay.const(rng.uniform(0.5, 2.0, channels).astype("float32"))

conv = relay.nn.conv2d(data, weight, padding=(1, 1), channels=channels, kernel_size=(3, 3))
bn = relay.nn.batch_norm(conv, gamma, beta, mean, variance, epsilon=1e-3)[0]
out = relay.nn.relu(bn) * relay.const(2.0) + relay.const(1.0) * relay.const(0.5)
mod = tvm.IRModule.from_expr(relay.Function([data], out))

seq = tvm.transform.Sequential(
    [
        relay.transform.InferType(),
        relay.transform.SimplifyInference(),
        relay.transform.FoldConstant(),
        relay.transform.EliminateCommonSubexpr(),
        relay.transform.FuseOps(fuse_opt_level=2),
    ]
)
with tvm.transform.PassContext(opt_level=3):
    optimized = seq(mod)
text = optimized.astext(show_meta_data=False)
print(text)
assert "nn.batch_norm" not in text and "Primitive" in text

with tvm.transform.PassContext(opt_level=0):
    unfolded = seq(mod)  # FoldConstant (level 2) and EliminateCommonSubexpr (3) are skipped
assert "nn.batch_norm" not in unfolded.astext() and "multiply(1f, 0.5f)" in unfolded.astext()

image = rng.standard_normal((1, 3, 8, 8)).astype("float32")
result = relay.create_executor("graph", mod=optimized).evaluate()(image).numpy()
reference = relay.create_executor("debug", mod=mod).evaluate()(image).numpy()
print("max difference to the unoptimized module:", float(np.abs(result - reference).max()))

inputs = {"data": image}
CHECK = (mod, inputs, result)
