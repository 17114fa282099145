// relay-opt uses an out-of-tree package's dialect and pass with no edit to relay-opt.
// Through the installed package's xdsl.universe entry point:
// RUN: relay-opt %s -p count-relay-ops | filecheck %s
// RUN: relay-opt --list-passes | filecheck %s --check-prefix=LIST
// Through --load-plugin, from a module that is not installed:
// RUN: env PYTHONPATH=%examples/plugin/unregistered relay-opt %s --load-plugin relay_opt_sample_universe -p drop-dropout | filecheck %s --check-prefix=LOAD
// RUN: not relay-opt %s --load-plugin no_such_plugin_module 2>&1 | filecheck %s --check-prefix=BAD

// LIST: count-relay-ops {{ *}}Records the operator calls of each relay.func as stats.op_count ops.

// CHECK-LABEL: relay.func @f
// CHECK-NEXT:    stats.op_count "add" 2 : i64
// CHECK-NEXT:    stats.op_count "nn.dropout" 1 : i64
// CHECK-NEXT:    stats.op_count "nn.relu" 1 : i64

// LOAD-LABEL: relay.func @f
// LOAD-NOT:   relay.nn.dropout
// LOAD:       relay.nn.relu %{{.*}} : (tensor<4xf32>) -> tensor<4xf32>

// BAD: relay-opt: error: cannot load plugin 'no_such_plugin_module': No module named 'no_such_plugin_module'

relay.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = relay.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = relay.nn.dropout %0 : (tensor<4xf32>) -> tuple<tensor<4xf32>, tensor<4xf32>>
  %2 = relay.tuple_get %1[0] : tuple<tensor<4xf32>, tensor<4xf32>>
  %3 = relay.add %2, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = relay.nn.relu %3 : (tensor<4xf32>) -> tensor<4xf32>
  relay.return %4 : tensor<4xf32>
}
