// An operator whose result is larger than Relay's types allow (a dim above 2^31 - 1, or more
// than 2^56 elements) is a located type error from the registry (OpDef.infer), for MLIR
// input as for Relay text and ONNX (errors.onnxtxt): its sizes would overflow the lowering's
// 64-bit arithmetic, which failed in convert-to-llvm as an internal error.
// RUN: relay-opt %s --split-input-file --verify-diagnostics | filecheck %s
// RUN: not relay-opt %s --split-input-file -p relay-to-llvm 2>&1 | filecheck %s --check-prefix=EXIT
// EXIT: result-size-invalid.mlir:[[# @LINE + 7]]:3: error: a result of shape [3, 4294967296] is too large (dims at most 2147483647, at most 2^56 elements)
// EXIT-NOT: internal error
// EXIT-NOT: Traceback

// A dim past 2^31 - 1.
// CHECK: result-size-invalid.mlir:[[# @LINE + 2]]:3: error: a result of shape [3, 4294967296] is too large (dims at most 2147483647, at most 2^56 elements)
relay.func @main(%x: tensor<3x1xf32>) -> tensor<3x4294967296xf32> {
  %0 = relay.repeat %x {repeats = 4294967296, axis = 1} : (tensor<3x1xf32>) -> tensor<3x4294967296xf32>
  relay.return %0 : tensor<3x4294967296xf32>
}

// -----
// Dims within the bound, elements past 2^56 (the ? dim counts as 1).
// CHECK: result-size-invalid.mlir:[[# @LINE + 2]]:3: error: a result of shape [2147483647, 2147483647, 65536, ?] is too large (dims at most 2147483647, at most 2^56 elements)
relay.func @main(%x: tensor<1x1x1x?xf32>) -> tensor<2147483647x2147483647x65536x?xf32> {
  %0 = relay.tile %x {reps = [2147483647, 2147483647, 65536, 1]} : (tensor<1x1x1x?xf32>) -> tensor<2147483647x2147483647x65536x?xf32>
  relay.return %0 : tensor<2147483647x2147483647x65536x?xf32>
}

// -----
// The largest dim is accepted.
// CHECK: relay.repeat %x {repeats = 2147483647, axis = 1} : (tensor<3x1xi8>) -> tensor<3x2147483647xi8>
relay.func @main(%x: tensor<3x1xi8>) -> tensor<3x2147483647xi8> {
  %0 = relay.repeat %x {repeats = 2147483647, axis = 1} : (tensor<3x1xi8>) -> tensor<3x2147483647xi8>
  relay.return %0 : tensor<3x2147483647xi8>
}
