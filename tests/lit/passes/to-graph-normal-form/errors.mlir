// RUN: not relay-opt %s -p to-graph-normal-form 2>&1 | filecheck %s
// Input whose scopes are wrong (a branch uses a value defined after the branch) is refused
// where it is, before the pass moves anything; never a traceback.

// CHECK: errors.mlir:[[# @LINE + 8]]:5: error: operand 0 of 'relay.yield' is used before the op that defines it
// CHECK: errors.mlir:[[# @LINE + 9]]:3: note: defined here
// CHECK-NOT: Traceback
relay.func @main(%c: tensor<i1>, %x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = relay.if %c : tensor<i1> -> tensor<3xf32> {
    %1 = relay.exp %x : (tensor<3xf32>) -> tensor<3xf32>
    relay.yield %1 : tensor<3xf32>
  } else {
    relay.yield %2 : tensor<3xf32>
  }
  %2 = relay.tanh %x : (tensor<3xf32>) -> tensor<3xf32>
  relay.return %0 : tensor<3xf32>
}
