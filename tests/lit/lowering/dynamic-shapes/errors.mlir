// RUN: relay-opt %s -p convert-relay-to-linalg --split-input-file --verify-diagnostics | filecheck %s

// An operator without a shape function (registry: `OpDef.shape`) does not compile with `?`
// dims: a located error that names it (the interpreter runs it).
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'tile' with ? dimensions is not supported natively yet (the interpreter runs it: relay-run --interpret)
relay.func @tile(%x: tensor<?x3xf32>) -> tensor<?x6xf32> {
  %0 = relay.tile %x {reps = [1, 2]} : (tensor<?x3xf32>) -> tensor<?x6xf32>
  relay.return %0 : tensor<?x6xf32>
}

// -----

// A convolution compiles with a `?` batch; its shape function refuses other `?` dims.
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'nn.conv2d' with these ? dimensions is not supported natively yet: only a ? batch (the first axis of the data) is supported
relay.func @conv(%x: tensor<1x3x?x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x?x6xf32> {
  %0 = relay.nn.conv2d %x, %w : (tensor<1x3x?x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x?x6xf32>
  relay.return %0 : tensor<1x4x?x6xf32>
}

// -----

// A mean over a `?` axis divides by a run-time count: not yet.
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'mean' over a ? dimension is not supported natively yet
relay.func @mean(%x: tensor<3x?xf32>) -> tensor<3xf32> {
  %0 = relay.mean %x {axis = [1]} : (tensor<3x?xf32>) -> tensor<3xf32>
  relay.return %0 : tensor<3xf32>
}

// -----

// A flat take (no axis) from a tensor with `?` dims: not yet.
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'take' without an axis from a tensor with ? dims is not supported natively yet
relay.func @take(%x: tensor<?x3xf32>, %i: tensor<2xi32>) -> tensor<2xf32> {
  %0 = relay.take %x, %i : (tensor<?x3xf32>, tensor<2xi32>) -> tensor<2xf32>
  relay.return %0 : tensor<2xf32>
}

// -----

// A static result does not make `?` operands safe: the operator still needs its shape
// function's consent (a global pooling over `?` rows would divide by a compile-time count).
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'nn.global_avg_pool2d' with these ? dimensions is not supported natively yet: only a ? batch (the first axis of the data) is supported
relay.func @pool(%x: tensor<1x3x?x?xf32>) -> tensor<1x3x1x1xf32> {
  %0 = relay.nn.global_avg_pool2d %x : (tensor<1x3x?x?xf32>) -> tensor<1x3x1x1xf32>
  relay.return %0 : tensor<1x3x1x1xf32>
}
