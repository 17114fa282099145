"""A two-layer perceptron built with relay.nn, compiled by relay.build and run with the
graph executor."""

import numpy as np

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay
from relay_opt.tvm.contrib import graph_executor  # was: from tvm.contrib import graph_executor

batch, features, hidden, classes = 4, 16, 32, 10

data = relay.var("data", shape=(batch, features), dtype="float32")
w1 = relay.var("w1", shape=(hidden, features))
b1 = relay.var("b1", shape=(hidden,))
w2 = relay.var("w2", shape=(classes, hidden))
b2 = relay.var("b2", shape=(classes,))

layer1 = relay.nn.relu(relay.nn.bias_add(relay.nn.dense(data, w1), b1))
logits = relay.nn.bias_add(relay.nn.dense(layer1, w2), b2)
net = relay.Function(relay.analysis.free_vars(logits), relay.nn.softmax(logits))
mod = tvm.IRModule.from_expr(net)
mod = relay.transform.InferType()(mod)
print(mod["main"].checked_type)

rng = np.random.default_rng(0)
inputs = {
    "data": rng.standard_normal((batch, features)).astype("float32"),
    "w1": rng.standard_normal((hidden, features)).astype("float32") * 0.1,
    "b1": rng.standard_normal((hidden,)).astype("float32"),
    "w2": rng.standard_normal((classes, hidden)).astype("float32") * 0.1,
    "b2": rng.standard_normal((classes,)).astype("float32"),
}

with tvm.transform.PassContext(opt_level=3):
    lib = relay.build(mod, target="llvm")

dev = tvm.cpu(0)
module = graph_executor.GraphModule(lib["default"](dev))
for name, value in inputs.items():
    module.set_input(name, tvm.nd.array(value, dev))
module.run()
result = module.get_output(0).numpy()
print("class of each row:", result.argmax(axis=1))
print("rows sum to one:", np.allclose(result.sum(axis=1), 1.0, atol=1e-5))

CHECK = (mod, inputs, result)
