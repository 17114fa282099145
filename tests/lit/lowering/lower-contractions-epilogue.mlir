// RUN: relay-opt %s -p 'lower-contractions{vector-bits=256 min-macs=0}' | filecheck %s

// The elementwise generic that alone reads a fresh product goes into the GEMM call as its
// epilogue, applied on the register tile at the last store: the call's last six arguments
// are the bias, the residual (C's pointer when absent), the flags (1: bias per column,
// 2: per row, 4: residual), the scale and the clip [lo, hi]. The call sits where the
// epilogue was and writes its destination; C (alloc, fill, dealloc) goes.

// dense + bias_add + relu: the bias per column, clip [0, inf].
// CHECK-LABEL: func.func @dense_bias_relu
// CHECK-NOT:     memref.alloc
// CHECK:         "memref.extract_aligned_pointer_as_index"(%out0)
// CHECK-NEXT:    arith.index_cast
// CHECK-NEXT:    %[[OUT:.*]] = llvm.inttoptr
// CHECK:         "memref.extract_aligned_pointer_as_index"(%b)
// CHECK-NEXT:    arith.index_cast
// CHECK-NEXT:    %[[B:.*]] = llvm.inttoptr
// CHECK-NEXT:    %[[FLAGS:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[SCALE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    %[[LO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[HI:.*]] = arith.constant 0x7f800000 : f32
// CHECK-NEXT:    %[[SLOPE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16(%{{.*}}, %{{.*}}, %[[OUT]], {{.*}}, %[[B]], %[[OUT]], %[[FLAGS]], %[[SCALE]], %[[LO]], %[[HI]], %[[SLOPE]])
// CHECK-NOT:     linalg
// CHECK-NOT:     memref.dealloc
// CHECK:         func.return
func.func @dense_bias_relu(%x: memref<7x40xf32>, %w: memref<33x40xf32>, %b: memref<33xf32>, %out0: memref<7x33xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = memref.alloc() : memref<7x33xf32>
  linalg.fill ins(%0 : f32) outs(%1 : memref<7x33xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<7x40xf32>, memref<33x40xf32>) outs(%1 : memref<7x33xf32>) attrs =  {relay_opt.contraction = "dense"} {
  ^bb0(%2: f32, %3: f32, %4: f32):
    %5 = arith.mulf %2, %3 : f32
    %6 = arith.addf %4, %5 : f32
    linalg.yield %6 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%1, %b : memref<7x33xf32>, memref<33xf32>) outs(%out0 : memref<7x33xf32>) {
  ^bb0(%7: f32, %8: f32, %9: f32):
    %10 = arith.addf %7, %8 : f32
    %11 = arith.constant 0.000000e+00 : f32
    %12 = arith.maximumf %10, %11 : f32
    linalg.yield %12 : f32
  }
  memref.dealloc %1 : memref<7x33xf32>
  func.return
}

// A batch_matmul scaled by 0.5, plus a bias per row (shared by the batches), plus a residual,
// clipped to [-1, 6]: flags 2 | 4.
// CHECK-LABEL: func.func @batch_matmul_scale_row_bias_residual_clip
// CHECK:         "memref.extract_aligned_pointer_as_index"(%rb)
// CHECK-NEXT:    arith.index_cast
// CHECK-NEXT:    %[[RB:.*]] = llvm.inttoptr
// CHECK-NEXT:    "memref.extract_aligned_pointer_as_index"(%res)
// CHECK-NEXT:    arith.index_cast
// CHECK-NEXT:    %[[RES:.*]] = llvm.inttoptr
// CHECK-NEXT:    %[[FLAGS:.*]] = arith.constant 6 : i64
// CHECK-NEXT:    %[[SCALE:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-NEXT:    %[[LO:.*]] = arith.constant -1.000000e+00 : f32
// CHECK-NEXT:    %[[HI:.*]] = arith.constant 6.000000e+00 : f32
// CHECK-NEXT:    %[[SLOPE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16({{.*}}, %[[RB]], %[[RES]], %[[FLAGS]], %[[SCALE]], %[[LO]], %[[HI]], %[[SLOPE]])
// CHECK-NOT:     linalg
// CHECK:         func.return
func.func @batch_matmul_scale_row_bias_residual_clip(%x: memref<2x5x8xf32>, %y: memref<2x8x9xf32>, %rb: memref<5x1xf32>, %res: memref<2x5x9xf32>, %out0: memref<2x5x9xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = memref.alloc() : memref<2x5x9xf32>
  linalg.fill ins(%0 : f32) outs(%1 : memref<2x5x9xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %y : memref<2x5x8xf32>, memref<2x8x9xf32>) outs(%1 : memref<2x5x9xf32>) attrs =  {relay_opt.contraction = "batch_matmul"} {
  ^bb0(%2: f32, %3: f32, %4: f32):
    %5 = arith.mulf %2, %3 : f32
    %6 = arith.addf %4, %5 : f32
    linalg.yield %6 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d1, 0)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%1, %rb, %res : memref<2x5x9xf32>, memref<5x1xf32>, memref<2x5x9xf32>) outs(%out0 : memref<2x5x9xf32>) {
  ^bb0(%7: f32, %8: f32, %9: f32, %10: f32):
    %half = arith.constant 5.000000e-01 : f32
    %11 = arith.mulf %7, %half : f32
    %12 = arith.addf %11, %8 : f32
    %13 = arith.addf %12, %9 : f32
    %lo = arith.constant -1.000000e+00 : f32
    %hi = arith.constant 6.000000e+00 : f32
    %14 = arith.maximumf %13, %lo : f32
    %15 = arith.minimumf %14, %hi : f32
    linalg.yield %15 : f32
  }
  memref.dealloc %1 : memref<2x5x9xf32>
  func.return
}

// Not fused: a bias along neither C's rows nor its columns (one per batch of a
// batch_matmul); a product read twice (and scaled after its bias add). Each call writes
// its own C (no bias pointer, clip [-inf, inf]) and the elementwise loop stays.
// CHECK-LABEL: func.func @not_fused
// CHECK:         %[[C0:.*]] = memref.alloc() : memref<2x5x9xf32>
// CHECK-NOT:     "memref.extract_aligned_pointer_as_index"(%bb)
// CHECK:         arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    arith.constant 0xff800000 : f32
// CHECK-NEXT:    arith.constant 0x7f800000 : f32
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16(
// CHECK-NEXT:    linalg.generic {{.*}} ins(%[[C0]], %bb : memref<2x5x9xf32>, memref<2xf32>)
// CHECK:         %[[C1:.*]] = memref.alloc() : memref<2x5x9xf32>
// CHECK-NOT:     "memref.extract_aligned_pointer_as_index"(%rb)
// CHECK:         arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    arith.constant 0xff800000 : f32
// CHECK-NEXT:    arith.constant 0x7f800000 : f32
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16(
// CHECK-NEXT:    linalg.generic {{.*}} ins(%[[C1]], %rb : memref<2x5x9xf32>, memref<5x1xf32>) outs(%out1
// CHECK-NEXT:    ^
// CHECK-NEXT:      arith.addf
// CHECK-NEXT:      arith.constant
// CHECK-NEXT:      arith.mulf
// CHECK:         "memref.copy"(%[[C1]], %out2)
func.func @not_fused(%x: memref<2x5x8xf32>, %y: memref<2x8x9xf32>, %bb: memref<2xf32>, %rb: memref<5x1xf32>, %out0: memref<2x5x9xf32>, %out1: memref<2x5x9xf32>, %out2: memref<2x5x9xf32>) attributes {relay_opt.outputs = 3 : i64} {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = memref.alloc() : memref<2x5x9xf32>
  linalg.fill ins(%0 : f32) outs(%1 : memref<2x5x9xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %y : memref<2x5x8xf32>, memref<2x8x9xf32>) outs(%1 : memref<2x5x9xf32>) attrs =  {relay_opt.contraction = "batch_matmul"} {
  ^bb0(%2: f32, %3: f32, %4: f32):
    %5 = arith.mulf %2, %3 : f32
    %6 = arith.addf %4, %5 : f32
    linalg.yield %6 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%1, %bb : memref<2x5x9xf32>, memref<2xf32>) outs(%out0 : memref<2x5x9xf32>) {
  ^bb0(%7: f32, %8: f32, %9: f32):
    %10 = arith.addf %7, %8 : f32
    linalg.yield %10 : f32
  }
  memref.dealloc %1 : memref<2x5x9xf32>
  %11 = memref.alloc() : memref<2x5x9xf32>
  linalg.fill ins(%0 : f32) outs(%11 : memref<2x5x9xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %y : memref<2x5x8xf32>, memref<2x8x9xf32>) outs(%11 : memref<2x5x9xf32>) attrs =  {relay_opt.contraction = "batch_matmul"} {
  ^bb0(%12: f32, %13: f32, %14: f32):
    %15 = arith.mulf %12, %13 : f32
    %16 = arith.addf %14, %15 : f32
    linalg.yield %16 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d1, 0)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%11, %rb : memref<2x5x9xf32>, memref<5x1xf32>) outs(%out1 : memref<2x5x9xf32>) {
  ^bb0(%17: f32, %18: f32, %19: f32):
    %20 = arith.addf %17, %18 : f32
    %two = arith.constant 2.000000e+00 : f32
    %21 = arith.mulf %20, %two : f32
    linalg.yield %21 : f32
  }
  "memref.copy"(%11, %out2) : (memref<2x5x9xf32>, memref<2x5x9xf32>) -> ()
  memref.dealloc %11 : memref<2x5x9xf32>
  func.return
}

// dense + leaky_relu(alpha=0.1) + clip: convert-relay-to-linalg's select(x > 0, x, 0.1 * x)
// is max(x, 0.1 * x), the call's slope (its last argument; 1 elsewhere).
// CHECK-LABEL: func.func @dense_leaky_relu_clip
// CHECK-NOT:     memref.alloc
// CHECK:         %[[SCALE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    %[[LO:.*]] = arith.constant 0xff800000 : f32
// CHECK-NEXT:    %[[HI:.*]] = arith.constant 6.000000e+00 : f32
// CHECK-NEXT:    %[[SLOPE:.*]] = arith.constant 1.000000e-01 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16({{.*}}, %[[SCALE]], %[[LO]], %[[HI]], %[[SLOPE]])
// CHECK-NOT:     linalg
// CHECK:         func.return
func.func @dense_leaky_relu_clip(%x: memref<7x40xf32>, %w: memref<33x40xf32>, %out0: memref<7x33xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = memref.alloc() : memref<7x33xf32>
  linalg.fill ins(%0 : f32) outs(%1 : memref<7x33xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<7x40xf32>, memref<33x40xf32>) outs(%1 : memref<7x33xf32>) attrs =  {relay_opt.contraction = "dense"} {
  ^bb0(%2: f32, %3: f32, %4: f32):
    %5 = arith.mulf %2, %3 : f32
    %6 = arith.addf %4, %5 : f32
    linalg.yield %6 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%1 : memref<7x33xf32>) outs(%out0 : memref<7x33xf32>) {
  ^bb0(%7: f32, %8: f32):
    %zero = arith.constant 0.000000e+00 : f32
    %9 = arith.cmpf ogt, %7, %zero : f32
    %alpha = arith.constant 1.000000e-01 : f32
    %10 = arith.mulf %7, %alpha : f32
    %11 = arith.select %9, %7, %10 : f32
    %six = arith.constant 6.000000e+00 : f32
    %12 = arith.minimumf %11, %six : f32
    linalg.yield %12 : f32
  }
  memref.dealloc %1 : memref<7x33xf32>
  func.return
}

// Not fused: alpha 2 (max(x, 2x) is not leaky relu there), and a compare that is not x > 0.
// CHECK-LABEL: func.func @leaky_not_fused
// CHECK:         arith.constant 0x7f800000 : f32
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16(
// CHECK-NEXT:    linalg.generic
// CHECK:           arith.select
// CHECK:         arith.constant 0x7f800000 : f32
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16(
// CHECK-NEXT:    linalg.generic
// CHECK:           arith.select
// CHECK:         func.return
func.func @leaky_not_fused(%x: memref<7x40xf32>, %w: memref<33x40xf32>, %out0: memref<7x33xf32>, %out1: memref<7x33xf32>) attributes {relay_opt.outputs = 2 : i64} {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = memref.alloc() : memref<7x33xf32>
  linalg.fill ins(%0 : f32) outs(%1 : memref<7x33xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<7x40xf32>, memref<33x40xf32>) outs(%1 : memref<7x33xf32>) attrs =  {relay_opt.contraction = "dense"} {
  ^bb0(%2: f32, %3: f32, %4: f32):
    %5 = arith.mulf %2, %3 : f32
    %6 = arith.addf %4, %5 : f32
    linalg.yield %6 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%1 : memref<7x33xf32>) outs(%out0 : memref<7x33xf32>) {
  ^bb0(%7: f32, %8: f32):
    %zero = arith.constant 0.000000e+00 : f32
    %9 = arith.cmpf ogt, %7, %zero : f32
    %alpha = arith.constant 2.000000e+00 : f32
    %10 = arith.mulf %7, %alpha : f32
    %11 = arith.select %9, %7, %10 : f32
    linalg.yield %11 : f32
  }
  memref.dealloc %1 : memref<7x33xf32>
  %20 = memref.alloc() : memref<7x33xf32>
  linalg.fill ins(%0 : f32) outs(%20 : memref<7x33xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<7x40xf32>, memref<33x40xf32>) outs(%20 : memref<7x33xf32>) attrs =  {relay_opt.contraction = "dense"} {
  ^bb0(%22: f32, %23: f32, %24: f32):
    %25 = arith.mulf %22, %23 : f32
    %26 = arith.addf %24, %25 : f32
    linalg.yield %26 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%20 : memref<7x33xf32>) outs(%out1 : memref<7x33xf32>) {
  ^bb0(%27: f32, %28: f32):
    %zero1 = arith.constant 0.000000e+00 : f32
    %29 = arith.cmpf oge, %27, %zero1 : f32
    %alpha1 = arith.constant 1.000000e-01 : f32
    %30 = arith.mulf %27, %alpha1 : f32
    %31 = arith.select %29, %27, %30 : f32
    linalg.yield %31 : f32
  }
  memref.dealloc %20 : memref<7x33xf32>
  func.return
}
