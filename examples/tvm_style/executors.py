"""One function with control flow run by each executor kind: debug (the interpreter),
graph and vm (native code); all three agree."""

import numpy as np

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay

x = relay.var("x", shape=(3, 4), dtype="float32")
threshold = relay.var("threshold", shape=(), dtype="float32")
total = relay.sum(x)
branch = relay.If(
    relay.greater(total, threshold),
    relay.tanh(x) * relay.const(2.0),
    relay.exp(relay.negative(relay.abs(x))),
)
out = relay.Tuple([branch, relay.mean(x, axis=1, keepdims=True)])
mod = tvm.IRModule.from_expr(relay.Function([x, threshold], out))

rng = np.random.default_rng(4)
data = rng.standard_normal((3, 4)).astype("float32")
results = {}
for kind in ("debug", "graph", "vm"):
    for limit in (-100.0, 100.0):
        run = relay.create_executor(kind, mod=mod, device=tvm.cpu(0), target="llvm").evaluate()
        first, second = run(tvm.nd.array(data), np.float32(limit))
        results[kind, limit] = (first.numpy(), second.numpy())
        print(kind, limit, first.numpy()[0, :2], second.numpy().ravel())

for limit in (-100.0, 100.0):
    for kind in ("graph", "vm"):
        for a, b in zip(results[kind, limit], results["debug", limit], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(results["vm", -100.0][0], np.tanh(data) * 2, rtol=1e-5)

inputs = {"x": data, "threshold": np.float32(100.0)}
result = results["vm", 100.0]
CHECK = (mod, inputs, result)
