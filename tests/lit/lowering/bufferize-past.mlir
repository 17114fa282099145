// RUN: relay-opt %s -p relay-to-llvm 2>&1 | filecheck %s

// A module already past bufferize (branches, memrefs) fed to the whole pipeline: bufferize
// leaves a function marked bufferized alone and the later passes lower it (it was an
// internal error of bufferize on a function of several blocks: input fuzzer).
// CHECK-NOT: internal error
// CHECK:       llvm.func @f(%c: i1, %out0: !llvm.ptr {llvm.noalias}) attributes {relay_opt.outputs = 1 : i64} {
// CHECK-NEXT:    llvm.cond_br %c, ^bb1, ^bb1
func.func @f(%c: i1, %out0: memref<2xf32>) attributes {relay_opt.outputs = 1 : i64} {
  cf.cond_br %c, ^bb1, ^bb1
^bb1:
  func.return
}
