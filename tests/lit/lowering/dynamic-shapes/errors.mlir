// RUN: relay-opt %s -p convert-relay-to-linalg --split-input-file --verify-diagnostics | filecheck %s

// An operator without a shape function (registry: `OpDef.shape`; unique's distinct count is
// found by the computation) whose lowering does not take `?` data: a located error that
// names the operator (the interpreter runs it).
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: unique of data with ? dimensions is not lowered natively yet
relay.func @unique(%x: tensor<?xi32>) -> tuple<tensor<?xi32>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>> {
  %0 = relay.unique %x : (tensor<?xi32>) -> tuple<tensor<?xi32>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>>
  relay.return %0 : tuple<tensor<?xi32>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>>
}
