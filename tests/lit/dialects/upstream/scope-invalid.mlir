// A value used outside the region that defines it (lines moved across a region's brace) is a
// located error at load: xDSL's parser resolves the name, and infer-types or bufferize then
// met a value they had not seen (input fuzzer mlir 1313 #4050, #3326).
// (A block argument used outside its region is the parser's error.)
// RUN: relay-opt %s --split-input-file --verify-diagnostics | filecheck %s

// CHECK: scope-invalid.mlir:[[# @LINE + 3]]:3: error: operand 1 of 'relay.subtract' is used outside the region that defines it
// CHECK: scope-invalid.mlir:[[# @LINE + 6]]:5: note: defined here
relay.func @f(%c: tensor<i1>, %n: tensor<i32>) -> tensor<i32> {
  %6 = relay.subtract %n, %5 : (tensor<i32>, tensor<i32>) -> tensor<i32>
  %2 = relay.if %c : tensor<i1> -> tensor<i32> {
    relay.yield %n : tensor<i32>
  } else {
    %5 = relay.constant dense<1> : tensor<i32>
    relay.yield %5 : tensor<i32>
  }
  relay.return %2 : tensor<i32>
}
