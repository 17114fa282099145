"""Walking a network: an ExprVisitor that counts operator calls, post_order_visit, the free
and bound variables, and an ExprMutator that rewrites `x * 2` as `x + x`."""

from collections import Counter

import numpy as np

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay
from relay_opt.relay.expr_functor import ExprMutator, ExprVisitor  # was: tvm.relay.expr_functor


class OpCounter(ExprVisitor):
    def __init__(self):
        super().__init__()
        self.counts = Counter()

    def visit_call(self, call):
        if isinstance(call.op, tvm.ir.Op):
            self.counts[call.op.name] += 1
        super().visit_call(call)


class DoubleToAdd(ExprMutator):
    def visit_call(self, call):
        new = super().visit_call(call)
        if (
            new.op == relay.op.get("multiply")
            and isinstance(new.args[1], relay.Constant)
            and float(new.args[1].data.numpy()) == 2.0
        ):
            return relay.add(new.args[0], new.args[0])
        return new


x = relay.var("x", shape=(2, 8))
w = relay.var("w", shape=(8, 8))
h = relay.nn.relu(relay.nn.dense(x, w))
h = h * relay.const(2.0)
h = relay.nn.relu(relay.nn.dense(h, w)) * relay.const(2.0)
let_var = relay.var("t")
body = relay.Let(let_var, relay.sigmoid(h), relay.add(let_var, h))
func = relay.Function(relay.analysis.free_vars(body), body)

counter = OpCounter()
counter.visit(func)
print("operator calls:", dict(sorted(counter.counts.items())))
assert counter.counts == Counter(
    {"nn.dense": 2, "nn.relu": 2, "multiply": 2, "sigmoid": 1, "add": 1}
)

visited = []
relay.analysis.post_order_visit(func, lambda node: visited.append(type(node).__name__))
print("nodes in post order:", len(visited), "first:", visited[:3])
print("free:", [v.name_hint for v in relay.analysis.free_vars(body)])
print("bound:", [v.name_hint for v in relay.analysis.bound_vars(func)])
print("all:", [v.name_hint for v in relay.analysis.all_vars(func)])

rewritten = DoubleToAdd().visit(func)
after = OpCounter()
after.visit(rewritten)
print("after the rewrite:", dict(sorted(after.counts.items())))
assert after.counts["multiply"] == 0 and after.counts["add"] == 3

mod = tvm.IRModule.from_expr(rewritten)
rng = np.random.default_rng(5)
inputs = {
    "x": rng.standard_normal((2, 8)).astype("float32"),
    "w": rng.standard_normal((8, 8)).astype("float32"),
}
run_original = relay.create_executor("debug", mod=tvm.IRModule.from_expr(func)).evaluate()
run_rewritten = relay.create_executor("graph", mod=mod).evaluate()
result = run_rewritten(**inputs).numpy()
np.testing.assert_allclose(result, run_original(**inputs).numpy(), rtol=1e-5)

CHECK = (mod, inputs, result)
