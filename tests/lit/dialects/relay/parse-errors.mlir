// Errors in the custom syntax of the Relay dialect: every message says what was expected
// (xDSL's own message there was only " in block definition").
// RUN: relay-opt %s --split-input-file --verify-diagnostics | filecheck %s
// RUN: not relay-opt %s 2>&1 | filecheck %s --check-prefix=EXIT
// EXIT: error: expected an operation
// CHECK-NOT: error: {{ }}
// CHECK-NOT: Traceback

builtin.module {
  relay.func @f(%x: tensor<f32>) -> tensor<f32> {
    // CHECK: parse-errors.mlir:[[# @LINE + 1]]:35: error: expected an operation or '}', found '->'
    relay.return %x : tensor<f32> -> f32
  }
}

// -----
builtin.module {
  relay.func @g() -> tensor<f32> {
    %0 = relay.constant dense<1.0> : tensor<f32>
    relay.return %0 : tensor<f32>
  }
  relay.func @f() -> tensor<f32> {
    // CHECK: parse-errors.mlir:[[# @LINE + 1]]:28: error: expected `(argument types) -> result type`
    %0 = relay.call @g() : tensor<f32>
    relay.return %0 : tensor<f32>
  }
}
