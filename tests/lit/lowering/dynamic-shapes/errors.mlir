// RUN: relay-opt %s -p convert-relay-to-linalg --split-input-file --verify-diagnostics | filecheck %s

// An operator without a shape function (registry: `OpDef.shape`) refuses `?` dims: a
// located error that names the operator (the interpreter runs it).
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'det' with ? dimensions is not supported natively yet (the interpreter runs it: relay-run --interpret)
relay.func @det(%x: tensor<?x3x3xf32>) -> tensor<?xf32> {
  %0 = relay.det %x : (tensor<?x3x3xf32>) -> tensor<?xf32>
  relay.return %0 : tensor<?xf32>
}

