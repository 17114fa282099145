// RUN: relay-opt %s -p convert-relay-to-linalg --split-input-file --verify-diagnostics | filecheck %s

// An operator without a shape function (registry: `OpDef.shape`) refuses `?` dims: a
// located error that names the operator (the interpreter runs it).
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'det' with ? dimensions is not supported natively yet (the interpreter runs it: relay-run --interpret)
relay.func @det(%x: tensor<?x3x3xf32>) -> tensor<?xf32> {
  %0 = relay.det %x : (tensor<?x3x3xf32>) -> tensor<?xf32>
  relay.return %0 : tensor<?xf32>
}

// -----

// A convolution compiles with a `?` batch and `?` spatial dims; its shape function refuses
// other `?` dims (a `?` channel count).
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'nn.conv2d' with these ? dimensions is not supported natively yet: only a ? batch and ? spatial dims (H, W) of the data are supported
relay.func @conv(%x: tensor<1x?x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %0 = relay.nn.conv2d %x, %w : (tensor<1x?x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  relay.return %0 : tensor<1x4x6x6xf32>
}

// -----

// A static result does not make `?` operands safe: the operator still needs its shape
// function's consent (a transposed convolution over a `?` channel count: the weight's
// input channels could not be checked).
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'nn.conv2d_transpose' with these ? dimensions is not supported natively yet: only a ? batch and ? spatial dims (H, W) of the data are supported
relay.func @conv_transpose_channels(%x: tensor<1x?x5x5xf32>, %w: tensor<3x4x3x3xf32>) -> tensor<1x4x7x7xf32> {
  %0 = relay.nn.conv2d_transpose %x, %w : (tensor<1x?x5x5xf32>, tensor<3x4x3x3xf32>) -> tensor<1x4x7x7xf32>
  relay.return %0 : tensor<1x4x7x7xf32>
}
