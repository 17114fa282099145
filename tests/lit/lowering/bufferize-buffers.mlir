// RUN: relay-opt %s -p bufferize | filecheck %s
// RUN: relay-opt %s -p relay-to-llvm | filecheck %s --check-prefix=LLVM

// Functions already on buffers (an input at the memref stage) are left as they are: one
// marked bufferized (`relay_opt.outputs`) is skipped; one without the mark (it returns
// nothing: no outputs) has its linalg ops on memrefs (no results) copied over. Both used to
// crash bufferize (a linalg op with an init and no result).
// CHECK-LABEL: func.func @marked(%x: memref<4xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
// CHECK-NEXT:    linalg.generic {{.*}} ins(%x : memref<4xf32>) outs(%out0 : memref<4xf32>)
// CHECK:         func.return
// CHECK-LABEL: func.func @unmarked(%x: memref<4xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 0 : i64} {
// CHECK-NEXT:    %{{.*}} = arith.constant
// CHECK-NEXT:    linalg.fill ins(%{{.*}} : f32) outs(%out0 : memref<4xf32>)
// LLVM: llvm.func @marked
// LLVM: llvm.func @unmarked
func.func @marked(%x: memref<4xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : memref<4xf32>) outs(%out0 : memref<4xf32>) {
  ^bb0(%a: f32, %b: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  }
  func.return
}

func.func @unmarked(%x: memref<4xf32>, %out0: memref<4xf32>) {
  %one = arith.constant 1.000000e+00 : f32
  linalg.fill ins(%one : f32) outs(%out0 : memref<4xf32>)
  func.return
}
