"""An ONNX model (made here with onnx.helper) imported by relay.frontend.from_onnx, then
built and run."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay
from relay_opt.tvm.contrib import graph_executor  # was: from tvm.contrib import graph_executor

rng = np.random.default_rng(3)
weight = rng.standard_normal((8, 3, 3, 3)).astype("float32") * 0.2
gemm_w = rng.standard_normal((5, 8)).astype("float32") * 0.2
nodes = [
    helper.make_node("Conv", ["input", "weight"], ["conv"], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["conv"], ["relu"]),
    helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
    helper.make_node("Flatten", ["pool"], ["flat"]),
    helper.make_node("Gemm", ["flat", "gemm_w"], ["logits"], transB=1),
    helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
]
graph = helper.make_graph(
    nodes,
    "small_cnn",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 12, 12])],
    [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 5])],
    [numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(gemm_w, "gemm_w")],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(model)

shape_dict = {"input": (2, 3, 12, 12)}
mod, params = relay.frontend.from_onnx(model, shape_dict)
print(mod["main"].checked_type)

with tvm.transform.PassContext(opt_level=2):
    lib = relay.build(mod, target="llvm", params=params)
module = graph_executor.GraphModule(lib["default"](tvm.cpu(0)))
x = rng.standard_normal((2, 3, 12, 12)).astype("float32")
module.set_input("input", x)
module.run()
result = module.get_output(0).numpy()
print("probabilities:", np.round(result, 3))
onnx_result = ReferenceEvaluator(model).run(None, {"input": x})[0]
np.testing.assert_allclose(result, onnx_result, rtol=1e-4, atol=1e-5)

inputs = {"input": x}
CHECK = (mod, inputs, result)
