// RUN: not relay-opt %s -p relay-to-llvm 2>&1 | filecheck %s

// A module already past bufferize (branches, memrefs) fed to the whole pipeline: a located
// error, not bufferize's internal error on a function of several blocks (input fuzzer).
// CHECK: bufferize-past.mlir:[[# @LINE + 2]]:1: error: bufferize expects a function of one block, @f has 2 (a module past bufferize: run the passes after it)
// CHECK-NOT: internal error
func.func @f(%c: i1, %out0: memref<2xf32>) attributes {relay_opt.outputs = 1 : i64} {
  cf.cond_br %c, ^bb1, ^bb1
^bb1:
  func.return
}
