"""Reverse-mode gradients with relay.transform.gradient: the gradient function of a small
regression loss, checked against finite differences, then one step of gradient descent."""

import numpy as np

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay

x = relay.var("x", shape=(5, 3))
w = relay.var("w", shape=(1, 3))
target = relay.var("target", shape=(5, 1))
pred = relay.nn.dense(x, w)
loss = relay.sum((pred - target) * (pred - target)) * relay.const(0.5)
func = relay.Function([x, w, target], loss)
mod = relay.transform.InferType()(tvm.IRModule.from_expr(func))

grad_func = relay.transform.gradient(mod["main"], mod=mod)
grad_mod = tvm.IRModule.from_expr(grad_func)
print(grad_mod["main"].checked_type)

rng = np.random.default_rng(7)
inputs = {
    "x": rng.standard_normal((5, 3)).astype("float32"),
    "w": rng.standard_normal((1, 3)).astype("float32"),
    "target": rng.standard_normal((5, 1)).astype("float32"),
}
run = relay.create_executor("vm", mod=grad_mod).evaluate()
value, (dx, dw, dtarget) = run(**inputs)
print("loss", float(value.numpy()), "dloss/dw", dw.numpy())

# The analytic gradient of 0.5 * |x w^T - t|^2 with respect to w, and a finite difference.
residual = inputs["x"] @ inputs["w"].T - inputs["target"]
np.testing.assert_allclose(dw.numpy(), residual.T @ inputs["x"], rtol=1e-4)
loss_of = relay.create_executor("debug", mod=mod).evaluate()
step = np.zeros((1, 3), "float32")
step[0, 1] = 1e-2
numeric = (
    loss_of(inputs["x"], inputs["w"] + step, inputs["target"]).numpy()
    - loss_of(inputs["x"], inputs["w"] - step, inputs["target"]).numpy()
) / 2e-2
np.testing.assert_allclose(dw.numpy()[0, 1], numeric, rtol=2e-2)

new_w = inputs["w"] - 0.05 * dw.numpy()
new_loss = loss_of(inputs["x"], new_w, inputs["target"]).numpy()
print("loss after one step:", float(new_loss))
assert new_loss < value.numpy()

result = (value.numpy(), (dx.numpy(), dw.numpy(), dtarget.numpy()))
mod = grad_mod
CHECK = (mod, inputs, result)
