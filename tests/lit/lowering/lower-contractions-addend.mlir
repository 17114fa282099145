// RUN: relay-opt %s -p 'lower-contractions{vector-bits=256 min-macs=0}' | filecheck %s

// A product into a fresh buffer C, then C + R into D, R computed before the product and dead
// after the sum (the LSTM's step: the input projection's slice plus the recurrent product):
// the call adds the product to R in place (accumulate = 1), R stands for D, and the sum,
// C (with its fill) and D go.
// CHECK-LABEL: func.func @sum_into_addend
// CHECK:         %[[R:.*]] = memref.alloc() : memref<4x3xf32>
// CHECK-NEXT:    linalg.fill
// CHECK-NOT:     memref.alloc
// CHECK:         "memref.extract_aligned_pointer_as_index"(%[[R]]) : (memref<4x3xf32>) -> index
// M, N, K, A's strides, B's, ldc, the batch and its strides, then accumulate = 1.
// CHECK:         arith.constant 4 : i64
// CHECK-COUNT-11: arith.constant
// CHECK-NEXT:    %[[ACC:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    arith.constant 0xff800000 : f32
// CHECK-NEXT:    arith.constant 0x7f800000 : f32
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[ACC]], {{.*}})
// CHECK-NOT:     linalg.generic
// CHECK:         "memref.copy"(%[[R]], %out0)
// CHECK-NEXT:    memref.dealloc %[[R]] : memref<4x3xf32>
// CHECK-NEXT:    func.return
func.func @sum_into_addend(%x: memref<4x2xf32>, %w: memref<3x2xf32>, %out0: memref<4x3xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %zero = arith.constant 0.000000e+00 : f32
  %one = arith.constant 1.000000e+00 : f32
  %r = memref.alloc() : memref<4x3xf32>
  linalg.fill ins(%one : f32) outs(%r : memref<4x3xf32>)
  %c = memref.alloc() : memref<4x3xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x3xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<4x2xf32>, memref<3x2xf32>) outs(%c : memref<4x3xf32>) attrs =  {relay_opt.contraction = "dense"} {
  ^bb0(%1: f32, %2: f32, %3: f32):
    %4 = arith.mulf %1, %2 : f32
    %5 = arith.addf %3, %4 : f32
    linalg.yield %5 : f32
  }
  %d = memref.alloc() : memref<4x3xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%r, %c : memref<4x3xf32>, memref<4x3xf32>) outs(%d : memref<4x3xf32>) {
  ^bb0(%6: f32, %7: f32, %8: f32):
    %9 = arith.addf %6, %7 : f32
    linalg.yield %9 : f32
  }
  memref.dealloc %c : memref<4x3xf32>
  memref.dealloc %r : memref<4x3xf32>
  "memref.copy"(%d, %out0) : (memref<4x3xf32>, memref<4x3xf32>) -> ()
  memref.dealloc %d : memref<4x3xf32>
  func.return
}

// R read again after the sum: it must keep its value, so the call does not add into it; it
// reads R as the epilogue's residual instead (flags = 4) and writes D: the sum goes, and C.
// CHECK-LABEL: func.func @addend_read_later
// CHECK:         %[[R:.*]] = memref.alloc() : memref<4x3xf32>
// CHECK-NEXT:    linalg.fill
// CHECK-NEXT:    %[[D:.*]] = memref.alloc() : memref<4x3xf32>
// CHECK-NOT:     memref.alloc
// CHECK:         "memref.extract_aligned_pointer_as_index"(%[[D]])
// CHECK-NEXT:    arith.index_cast
// CHECK-NEXT:    %[[DP:.*]] = llvm.inttoptr
// CHECK:         "memref.extract_aligned_pointer_as_index"(%[[R]])
// CHECK-NEXT:    arith.index_cast
// CHECK-NEXT:    %[[RP:.*]] = llvm.inttoptr
// CHECK-NEXT:    %[[FLAGS:.*]] = arith.constant 4 : i64
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    arith.constant 0xff800000 : f32
// CHECK-NEXT:    arith.constant 0x7f800000 : f32
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16(%{{.*}}, %{{.*}}, %[[DP]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[DP]], %[[RP]], %[[FLAGS]], {{.*}})
// CHECK-NOT:     linalg.generic
// CHECK:         "memref.copy"(%[[D]], %out0)
// CHECK-NEXT:    "memref.copy"(%[[R]], %out1)
func.func @addend_read_later(%x: memref<4x2xf32>, %w: memref<3x2xf32>, %out0: memref<4x3xf32>, %out1: memref<4x3xf32>) attributes {relay_opt.outputs = 2 : i64} {
  %zero = arith.constant 0.000000e+00 : f32
  %one = arith.constant 1.000000e+00 : f32
  %r = memref.alloc() : memref<4x3xf32>
  linalg.fill ins(%one : f32) outs(%r : memref<4x3xf32>)
  %c = memref.alloc() : memref<4x3xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x3xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<4x2xf32>, memref<3x2xf32>) outs(%c : memref<4x3xf32>) attrs =  {relay_opt.contraction = "dense"} {
  ^bb0(%1: f32, %2: f32, %3: f32):
    %4 = arith.mulf %1, %2 : f32
    %5 = arith.addf %3, %4 : f32
    linalg.yield %5 : f32
  }
  %d = memref.alloc() : memref<4x3xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%r, %c : memref<4x3xf32>, memref<4x3xf32>) outs(%d : memref<4x3xf32>) {
  ^bb0(%6: f32, %7: f32, %8: f32):
    %9 = arith.addf %6, %7 : f32
    linalg.yield %9 : f32
  }
  memref.dealloc %c : memref<4x3xf32>
  "memref.copy"(%d, %out0) : (memref<4x3xf32>, memref<4x3xf32>) -> ()
  "memref.copy"(%r, %out1) : (memref<4x3xf32>, memref<4x3xf32>) -> ()
  memref.dealloc %r : memref<4x3xf32>
  memref.dealloc %d : memref<4x3xf32>
  func.return
}
