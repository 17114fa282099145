"""Passes written in Python: a function pass (a class with transform_function, using an
ExprMutator) that replaces relu by clip, and a module pass, run in a Sequential with the
built-in passes."""

import numpy as np

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay


@relay.transform.function_pass(opt_level=1)
class ReluToClip:
    """relu(x) -> clip(x, 0, 6): a ReLU6 network."""

    def transform_function(self, func, mod, ctx):
        class Rewrite(relay.ExprMutator):
            def visit_call(self, call):
                new = super().visit_call(call)
                if new.op == relay.op.get("nn.relu"):
                    return relay.clip(new.args[0], a_min=0.0, a_max=6.0)
                return new

        return Rewrite().visit(func)


@tvm.transform.module_pass(opt_level=2, name="AddDebugCopy")
def add_debug_copy(mod, ctx):
    """Adds @main_copy, a second entry with main's body."""
    mod = tvm.IRModule(mod.functions, mod.type_definitions)
    mod["main_copy"] = mod["main"]
    return mod


x = relay.var("x", shape=(3, 5))
w = relay.var("w", shape=(5, 5))
y = relay.nn.relu(relay.nn.dense(x, w)) * relay.const(3.0)
mod = tvm.IRModule.from_expr(relay.Function([x, w], relay.nn.relu(y)))

with tvm.transform.PassContext(opt_level=2):
    mod = tvm.transform.Sequential(
        [relay.transform.InferType(), ReluToClip(), add_debug_copy, relay.transform.FoldConstant()]
    )(mod)
text = mod.astext(show_meta_data=False)
print(text)
assert "nn.relu" not in text and text.count("clip(") == 4 and "@main_copy" in text

rng = np.random.default_rng(8)
inputs = {
    "x": rng.standard_normal((3, 5)).astype("float32"),
    "w": rng.standard_normal((5, 5)).astype("float32"),
}
result = relay.create_executor("graph", mod=mod).evaluate()(**inputs).numpy()
np.testing.assert_allclose(
    result, np.clip(np.clip(inputs["x"] @ inputs["w"].T, 0, 6) * 3, 0, 6), rtol=1e-5
)
print("largest output:", float(result.max()))

CHECK = (mod, inputs, result)
