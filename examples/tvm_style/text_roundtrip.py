"""Relay text both ways: a module printed with astext (its constants in the metadata
section) and parsed back with tvm.parser.parse / relay.fromtext gives the same program."""

import numpy as np

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay

rng = np.random.default_rng(6)
x = relay.var("x", shape=(2, 6))
w = relay.const(rng.standard_normal((4, 6)).astype("float32"))
y = relay.nn.dense(x, w)
parts = relay.split(y, indices_or_sections=2, axis=1)
z = relay.concatenate([relay.nn.relu(parts[0]), relay.sigmoid(parts[1])], axis=1)
mod = tvm.IRModule.from_expr(relay.Function([x], relay.reshape(z, newshape=(-1,))))

text = mod.astext()
print(text.split("#[metadata]")[0])
reparsed = tvm.parser.parse(text)
again = relay.fromtext(reparsed.astext())
assert again.astext() == reparsed.astext(), "print, parse, print is a fixed point"

handwritten = relay.fromtext(
    """
    #[version = "0.0.5"]
    def @main(%a: Tensor[(3), float32], %b: Tensor[(3), float32]) {
      %0 = add(%a, %b);
      multiply(%0, 2f)
    }
    """
)
print(handwritten["main"].checked_type)
run = relay.create_executor("debug", mod=handwritten).evaluate()
print(run(np.ones(3, "float32"), np.arange(3, dtype="float32")).numpy())

data = rng.standard_normal((2, 6)).astype("float32")
before = relay.create_executor("graph", mod=mod).evaluate()(data).numpy()
result = relay.create_executor("graph", mod=reparsed).evaluate()(data).numpy()
np.testing.assert_allclose(result, before, rtol=1e-6)

inputs = {"x": data}
CHECK = (mod, inputs, result)
