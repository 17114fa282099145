"""A small conv net whose weights are given to relay.build as params (bound as constants),
run with set_input / run / get_output."""

import numpy as np

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay
from relay_opt.tvm.contrib import graph_executor  # was: from tvm.contrib import graph_executor


def conv_block(data, name, channels, in_channels):
    weight = relay.var(name + "_weight", shape=(channels, in_channels, 3, 3))
    bias = relay.var(name + "_bias", shape=(channels,))
    conv = relay.nn.conv2d(data, weight, padding=(1, 1), channels=channels, kernel_size=(3, 3))
    return relay.nn.relu(relay.nn.bias_add(conv, bias))


data = relay.var("data", relay.TensorType((1, 3, 16, 16), "float32"))
x = conv_block(data, "conv1", 8, 3)
x = relay.nn.max_pool2d(x, pool_size=(2, 2), strides=(2, 2))
x = conv_block(x, "conv2", 16, 8)
x = relay.nn.global_avg_pool2d(x)
x = relay.nn.batch_flatten(x)
fc_weight = relay.var("fc_weight", shape=(10, 16))
x = relay.nn.dense(x, fc_weight, units=10)
net = relay.Function(relay.analysis.free_vars(x), x)
mod = tvm.IRModule.from_expr(net)

rng = np.random.default_rng(1)
params = {}
for p in mod["main"].params[1:]:
    shape = [int(d) for d in p.type_annotation.shape]
    params[p.name_hint] = tvm.nd.array((rng.standard_normal(shape) * 0.2).astype("float32"))

with tvm.transform.PassContext(opt_level=3):
    lib = relay.build(mod, target="llvm", params=params)

image = rng.standard_normal((1, 3, 16, 16)).astype("float32")
module = graph_executor.GraphModule(lib["default"](tvm.cpu()))
module.set_input("data", image)
module.set_input(**lib.get_params())  # the params are compiled in: setting them again is a no-op
module.run()
result = module.get_output(0).numpy()
print("output", result.shape, "top class", int(result.argmax()))

inputs = {"data": image, **{k: v.numpy() for k, v in params.items()}}
CHECK = (mod, inputs, result)
