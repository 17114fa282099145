// Only the string operators and five moves take string tensors; a regex pattern outside the supported subset
// of RE2 is a located type error naming the construct (docs/strings.md).
// RUN: relay-opt %s --split-input-file --verify-diagnostics | filecheck %s
// RUN: not relay-opt %s --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT
// EXIT: strings-invalid.mlir:[[# @LINE + 5]]:3: error: 'add' does not accept string tensors
// EXIT-NOT: Traceback

// CHECK: strings-invalid.mlir:[[# @LINE + 2]]:3: error: 'add' does not accept string tensors
relay.func @f(%x: tensor<2x!relay.string>) -> tensor<2x!relay.string> {
  %0 = relay.add %x, %x : (tensor<2x!relay.string>, tensor<2x!relay.string>) -> tensor<2x!relay.string>
  relay.return %0 : tensor<2x!relay.string>
}

// -----
// The moves reshape, transpose, take, concatenate and copy take strings; the others not yet.
// CHECK: strings-invalid.mlir:[[# @LINE + 2]]:3: error: 'squeeze' does not accept string tensors
relay.func @f(%x: tensor<1x2x!relay.string>) -> tensor<2x!relay.string> {
  %0 = relay.squeeze %x {axis = [0]} : (tensor<1x2x!relay.string>) -> tensor<2x!relay.string>
  relay.return %0 : tensor<2x!relay.string>
}

// -----
// CHECK: strings-invalid.mlir:[[# @LINE + 2]]:3: error: pattern `a(?i)b`: group flags and lookaround '(?' are not supported at offset 1
relay.func @f(%x: tensor<2x!relay.string>) -> tensor<2xi1> {
  %0 = relay.strings.regex_full_match %x {pattern = "a(?i)b"} : (tensor<2x!relay.string>) -> tensor<2xi1>
  relay.return %0 : tensor<2xi1>
}

// -----
// CHECK: strings-invalid.mlir:[[# @LINE + 2]]:3: error: pattern `\p{L}+`: the escape '\p' is not supported at offset 0
relay.func @f(%x: tensor<2x!relay.string>) -> tensor<2xi1> {
  %0 = relay.strings.regex_full_match %x {pattern = "\\p{L}+"} : (tensor<2x!relay.string>) -> tensor<2xi1>
  relay.return %0 : tensor<2xi1>
}

// -----
// CHECK: strings-invalid.mlir:[[# @LINE + 2]]:3: error: lhs must be a string tensor, got int32
relay.func @f(%x: tensor<2xi32>, %y: tensor<2x!relay.string>) -> tensor<2xi1> {
  %0 = relay.strings.equal %x, %y : (tensor<2xi32>, tensor<2x!relay.string>) -> tensor<2xi1>
  relay.return %0 : tensor<2xi1>
}
