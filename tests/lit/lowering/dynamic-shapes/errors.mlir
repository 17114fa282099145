// RUN: relay-opt %s -p convert-relay-to-linalg --split-input-file --verify-diagnostics | filecheck %s

// A convolution compiles with any `?` dims of its data and weight; its shape function
// refuses a grouped one whose weight channels are `?` (its loops split channels by them).
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'nn.conv2d' with these ? dimensions is not supported natively yet: a grouped conv2d needs static weight channels (O and I)
relay.func @conv(%x: tensor<1x4x8x8xf32>, %w: tensor<?x2x3x3xf32>) -> tensor<1x?x6x6xf32> {
  %0 = relay.nn.conv2d %x, %w {groups = 2} : (tensor<1x4x8x8xf32>, tensor<?x2x3x3xf32>) -> tensor<1x?x6x6xf32>
  relay.return %0 : tensor<1x?x6x6xf32>
}

// -----

// A static result does not make `?` operands safe: the operator still needs its shape
// function's consent (a grouped transposed convolution over a weight of `?` channels).
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'nn.conv2d_transpose' with these ? dimensions is not supported natively yet: a grouped conv2d_transpose needs static weight channels (I and O)
relay.func @conv_transpose_channels(%x: tensor<1x4x5x5xf32>, %w: tensor<?x2x3x3xf32>) -> tensor<1x4x7x7xf32> {
  %0 = relay.nn.conv2d_transpose %x, %w {groups = 2} : (tensor<1x4x5x5xf32>, tensor<?x2x3x3xf32>) -> tensor<1x4x7x7xf32>
  relay.return %0 : tensor<1x4x7x7xf32>
}
