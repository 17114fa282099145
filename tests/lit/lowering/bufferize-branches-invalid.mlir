// RUN: not relay-opt %s -p relay-to-llvm 2>&1 | filecheck %s

// A function on tensors with branches (cf, not scf) has not been through bufferize, which
// takes structured control flow: a located error, not an internal one.
// CHECK: bufferize-branches-invalid.mlir:[[# @LINE + 2]]:1: error: bufferize expects a function of one block, @g has 2 (branches come after bufferize: structured control flow before it)
// CHECK-NOT: internal error
func.func @g(%c: i1, %x: tensor<2xf32>) -> tensor<2xf32> {
  cf.cond_br %c, ^bb1, ^bb1
^bb1:
  func.return %x : tensor<2xf32>
}
