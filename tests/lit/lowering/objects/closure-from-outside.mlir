// RUN: not relay-opt %s -p convert-relay-to-linalg 2>&1 | filecheck %s

// A closure can only be called natively if the module makes a function of its type: one
// passed in as a parameter of the entry has no code to dispatch to. The error names the call
// (before, an internal IndexError).
// CHECK: closure-from-outside.mlir:9:3: error: no function of type (tensor<3xf32>) -> tensor<3xf32> is made in this module: a closure passed in from outside cannot be called in native code
// CHECK-NOT: Traceback
relay.func @main(%f: (tensor<3xf32>) -> tensor<3xf32>, %x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = relay.call_closure %f(%x) : (tensor<3xf32>) -> tensor<3xf32>
  relay.return %0 : tensor<3xf32>
}
