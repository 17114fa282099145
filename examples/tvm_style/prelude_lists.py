"""ADTs through the prelude: build a list with cons/nil, map a closure over it, fold it, and
match on a type defined here; run by the VM executor."""

import numpy as np

from relay_opt import relay, tvm  # was: import tvm; from tvm import relay
from relay_opt.relay.prelude import Prelude  # was: from tvm.relay.prelude import Prelude

mod = tvm.IRModule()
p = Prelude(mod)
List, cons, nil = p.mod.get_type("List")

# A type of our own: a shape is a circle or a rectangle.
shape_t = relay.GlobalTypeVar("Shape")
circle = relay.Constructor("Circle", [relay.scalar_type("float32")], shape_t)
rect = relay.Constructor(
    "Rect", [relay.scalar_type("float32"), relay.scalar_type("float32")], shape_t
)
mod[shape_t] = relay.TypeData(shape_t, [], [circle, rect])

s = relay.var("s", relay.TypeCall(shape_t, []))
r = relay.var("r", shape=(), dtype="float32")
w = relay.var("w", shape=(), dtype="float32")
h = relay.var("h", shape=(), dtype="float32")
area_body = relay.Match(
    s,
    [
        relay.Clause(
            relay.PatternConstructor(circle, [relay.PatternVar(r)]),
            relay.const(3.0) * r * r,
        ),
        relay.Clause(
            relay.PatternConstructor(rect, [relay.PatternVar(w), relay.PatternVar(h)]), w * h
        ),
    ],
)
area = relay.GlobalVar("area")
mod[area] = relay.Function([s], area_body)

x = relay.var("x", shape=(), dtype="float32")
y = relay.var("y", shape=(), dtype="float32")
shapes = cons(circle(x), cons(rect(x, y), cons(circle(y), nil())))
areas = p.map(relay.Function([s], area(s)), shapes)
acc = relay.var("acc", shape=(), dtype="float32")
item = relay.var("item", shape=(), dtype="float32")
total = p.foldl(relay.Function([acc, item], acc + item), relay.const(0.0), areas)
mod["main"] = relay.Function([x, y], relay.Tuple([total, areas]))

inputs = {"x": np.float32(2.0), "y": np.float32(0.5)}
run = relay.create_executor("vm", mod=mod, device=tvm.cpu(), target="llvm").evaluate()
total_value, area_list = run(inputs["x"], inputs["y"])

items = []
node = area_list
while node.constructor.name_hint == "Cons":
    items.append(float(node.fields[0].numpy()))
    node = node.fields[1]
print("areas:", items, "total:", float(total_value.numpy()))
assert np.isclose(float(total_value.numpy()), 12.0 + 1.0 + 0.75)

result = (total_value.numpy(), area_list.value)
CHECK = (mod, inputs, result)
