// relay-opt uses an out-of-tree package's dialect and pass with no edit to relay-opt.
// Through the installed package's xdsl.universe entry point (examples/plugin/pyproject.toml):
// RUN: relay-opt %s -p count-relay-ops | filecheck %s
// The plugin's `stats` dialect parses back, and the pass replaces its own earlier counts:
// RUN: relay-opt %s -p count-relay-ops | relay-opt -p count-relay-ops | filecheck %s
// RUN: relay-opt --list-passes | filecheck %s --check-prefix=LIST
//
// Through --load-plugin, from a module that is not installed (examples/plugin/unregistered):
// RUN: env PYTHONPATH=%examples/plugin/unregistered relay-opt %s --load-plugin relay_opt_sample_universe -p drop-dropout | filecheck %s --check-prefix=LOAD
// RUN: env PYTHONPATH=%examples/plugin/unregistered relay-opt --list-passes --load-plugin relay_opt_sample_universe | filecheck %s --check-prefix=LOADLIST
//
// Mistakes are clean errors: a module that does not exist, and a name registered twice
// (the installed plugin loaded again by hand).
// RUN: not relay-opt %s --load-plugin no_such_plugin_module 2>&1 | filecheck %s --check-prefix=BAD
// RUN: not relay-opt %s --load-plugin relay_opt_example_plugin 2>&1 | filecheck %s --check-prefix=DUP

// LIST:     count-relay-ops {{ *}}Records the operator calls of each relay.func as stats.op_count ops.
// LIST-NOT: drop-dropout

// LOADLIST: count-relay-ops
// LOADLIST: drop-dropout {{ *}}Replaces nn.dropout(x).0 by x (dropout is the identity at inference).

// CHECK-LABEL: relay.func @f
// CHECK-NEXT:    stats.op_count "add" 2 : i64
// CHECK-NEXT:    stats.op_count "nn.dropout" 1 : i64
// CHECK-NEXT:    stats.op_count "nn.relu" 1 : i64
// CHECK-NEXT:    relay.add

// LOAD-LABEL: relay.func @f
// LOAD-NEXT:    %0 = relay.add %x, %x
// LOAD-NEXT:    %1 = relay.add %0, %x
// LOAD-NEXT:    %2 = relay.nn.relu %1 : (tensor<4xf32>) -> tensor<4xf32>
// LOAD-NEXT:    relay.return %2

// BAD: relay-opt: error: cannot load plugin 'no_such_plugin_module': No module named 'no_such_plugin_module'
// BAD-NOT: Traceback

// DUP: relay-opt: error: plugin dialect 'stats' is already registered
// DUP-NOT: Traceback

relay.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = relay.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = relay.nn.dropout %0 : (tensor<4xf32>) -> tuple<tensor<4xf32>, tensor<4xf32>>
  %2 = relay.tuple_get %1[0] : tuple<tensor<4xf32>, tensor<4xf32>>
  %3 = relay.add %2, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = relay.nn.relu %3 : (tensor<4xf32>) -> tensor<4xf32>
  relay.return %4 : tensor<4xf32>
}
