"""Let bindings, closures that capture a variable, a recursive local function (a loop
written as recursion) and references, run natively by the VM executor."""

import numpy as np

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay

x = relay.var("x", shape=(4,))
scale = relay.var("scale", shape=())

# let %scaled = fn (%v) { %v * %scale };  -- a closure capturing %scale
v = relay.var("v", shape=(4,))
scaled = relay.var("scaled")
closure = relay.Function([v], v * scale)

# let %loop = fn (%i, %acc) { if (%i == 0) { %acc } else { %loop(%i - 1, %scaled(%acc) + 1) } }
i = relay.var("i", shape=(), dtype="int32")
acc = relay.var("acc", shape=(4,))
loop = relay.var("loop")
loop_body = relay.If(
    relay.equal(i, relay.const(0)),
    acc,
    loop(i - relay.const(1), scaled(acc) + relay.const(1.0)),
)
loop_fn = relay.Function([i, acc], loop_body)

# A reference cell keeps a running maximum across two writes.
cell = relay.var("cell")
first = relay.var("first")
n = relay.var("n", shape=(), dtype="int32")
body = relay.Let(
    scaled,
    closure,
    relay.Let(
        loop,
        loop_fn,
        relay.Let(
            cell,
            relay.RefCreate(x),
            relay.Let(
                first,
                relay.RefWrite(cell, relay.maximum(relay.RefRead(cell), loop(n, x))),
                relay.Tuple([relay.RefRead(cell), loop(n, x)]),
            ),
        ),
    ),
)
mod = tvm.IRModule.from_expr(relay.Function([x, scale, n], body))
print(mod.astext(show_meta_data=False))

data = np.array([1.0, -2.0, 0.5, 3.0], "float32")
inputs = {"x": data, "scale": np.float32(0.5), "n": np.int32(3)}
run = relay.create_executor("vm", mod=mod).evaluate()
kept, looped = run(**inputs)

expected = data.copy()
for _ in range(3):
    expected = expected * 0.5 + 1.0
np.testing.assert_allclose(looped.numpy(), expected, rtol=1e-6)
np.testing.assert_allclose(kept.numpy(), np.maximum(data, expected), rtol=1e-6)
print("loop result:", looped.numpy(), "running maximum:", kept.numpy())

result = (kept.numpy(), looped.numpy())
CHECK = (mod, inputs, result)
