// RUN: relay-opt %s -p 'lower-contractions{vector-bits=256 min-macs=0}' | filecheck %s
// RUN: relay-opt %s -p 'lower-contractions{vector-bits=512 min-macs=0}' | filecheck %s --check-prefix=AVX512
// RUN: relay-opt %s -p 'lower-contractions{vector-bits=256 min-macs=0 pack-weights=false}' | filecheck %s --check-prefix=OFF

// A constant B (a weight) is packed at compile time into the GEMM's NR-column panels,
// [ceil(N/NR), K, NR] (NR = 16 with AVX2's 6x16 tile, 32 with AVX-512's 14x32), zero past
// N; the call is the packed-B entry's, which takes no B strides and packs no B.
// dense's weight w[3, 2] = [[1, 2], [3, 4], [5, 6]] (read transposed: column n of B is
// row n of w): panel 0 holds row k = 0 as 1, 3, 5, then zeros, and k = 1 as 2, 4, 6.
// The source global goes once nothing reads it.
// CHECK-NOT:   @__constant_w
// CHECK:       "memref.global"() <{sym_name = "__constant_w_packed16", type = memref<1x2x16xf32>, initial_value = dense<{{\[\[\[}}1.000000e+00, 3.000000e+00, 5.000000e+00, 0.000000e+00, {{.*}}], [2.000000e+00, 4.000000e+00, 6.000000e+00, 0.000000e+00, {{.*}}]]]> : tensor<1x2x16xf32>, sym_visibility = "private", constant}>
// A weight bound by the JIT (an external global) gets a packed copy that is a stored weight too.
// CHECK:       "memref.global"() <{sym_name = "[[PACKED:__relay_packed_[0-9a-f]+]]", type = memref<1x3x16xf32>, initial_value, sym_visibility = "public"}>
// CHECK-NOT:   @__relay_w_k3n2

// CHECK-LABEL: func.func @dense_constant
// CHECK:         %[[W:.*]] = memref.get_global @__constant_w_packed16 : memref<1x2x16xf32>
// CHECK:         %[[X:.*]] = "memref.extract_aligned_pointer_as_index"(%x)
// CHECK:         "memref.extract_aligned_pointer_as_index"(%[[W]]) : (memref<1x2x16xf32>) -> index
// CHECK:         %[[M:.*]] = arith.constant 4 : i64
// CHECK-NEXT:    %[[N:.*]] = arith.constant 3 : i64
// CHECK-NEXT:    %[[K:.*]] = arith.constant 2 : i64
// CHECK-NEXT:    %[[RSA:.*]] = arith.constant 2 : i64
// CHECK-NEXT:    %[[CSA:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[LDC:.*]] = arith.constant 3 : i64
// CHECK-NEXT:    %[[BATCH:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[BSA:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[BSB:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[BSC:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[ACC:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    arith.constant 0xff800000 : f32
// CHECK-NEXT:    arith.constant 0x7f800000 : f32
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16_packed_b(%{{.*}}, %{{.*}}, %{{.*}}, %[[M]], %[[N]], %[[K]], %[[RSA]], %[[CSA]], %[[LDC]], %[[BATCH]], %[[BSA]], %[[BSB]], %[[BSC]], %[[ACC]], {{.*}})
// CHECK-NOT:     linalg.generic

// A matmul with a constant B[3, 2] (its rows along n), two uses of one weight: packed once.
// CHECK-LABEL: func.func @matmul_weight_twice
// CHECK:         memref.get_global @[[PACKED]] : memref<1x3x16xf32>
// CHECK:         llvm.call @relay_opt_sgemm_6x16_packed_b(
// CHECK:         memref.get_global @[[PACKED]] : memref<1x3x16xf32>
// CHECK:         llvm.call @relay_opt_sgemm_6x16_packed_b(

// Fewer than 4 rows read B in place (dot products along dense's weight rows): not packed.
// CHECK-LABEL: func.func @few_rows
// CHECK:         memref.get_global @__constant_v : memref<3x2xf32>
// CHECK:         llvm.call @relay_opt_sgemm_6x16(

// AVX512: sym_name = "__constant_w_packed32", type = memref<1x2x32xf32>
// AVX512: llvm.call @relay_opt_sgemm_14x32_packed_b(

// OFF-NOT: packed
"memref.global"() <{sym_name = "__constant_w", type = memref<3x2xf32>, initial_value = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "__constant_v", type = memref<3x2xf32>, initial_value = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "__relay_w_k3n2", type = memref<3x2xf32>, initial_value, sym_visibility = "public"}> : () -> ()
func.func @dense_constant(%x: memref<4x2xf32>, %out0: memref<4x3xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %w = memref.get_global @__constant_w : memref<3x2xf32>
  %0 = arith.constant 0.000000e+00 : f32
  linalg.fill ins(%0 : f32) outs(%out0 : memref<4x3xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<4x2xf32>, memref<3x2xf32>) outs(%out0 : memref<4x3xf32>) attrs =  {relay_opt.contraction = "dense"} {
  ^bb0(%1: f32, %2: f32, %3: f32):
    %4 = arith.mulf %1, %2 : f32
    %5 = arith.addf %3, %4 : f32
    linalg.yield %5 : f32
  }
  func.return
}
func.func @matmul_weight_twice(%x: memref<5x3xf32>, %out0: memref<5x2xf32>, %out1: memref<5x2xf32>) attributes {relay_opt.outputs = 2 : i64} {
  %w = memref.get_global @__relay_w_k3n2 : memref<3x2xf32>
  %0 = arith.constant 0.000000e+00 : f32
  linalg.fill ins(%0 : f32) outs(%out0 : memref<5x2xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<5x3xf32>, memref<3x2xf32>) outs(%out0 : memref<5x2xf32>) attrs =  {relay_opt.contraction = "matmul"} {
  ^bb0(%1: f32, %2: f32, %3: f32):
    %4 = arith.mulf %1, %2 : f32
    %5 = arith.addf %3, %4 : f32
    linalg.yield %5 : f32
  }
  %v = memref.get_global @__relay_w_k3n2 : memref<3x2xf32>
  linalg.fill ins(%0 : f32) outs(%out1 : memref<5x2xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %v : memref<5x3xf32>, memref<3x2xf32>) outs(%out1 : memref<5x2xf32>) attrs =  {relay_opt.contraction = "matmul"} {
  ^bb0(%1: f32, %2: f32, %3: f32):
    %4 = arith.mulf %1, %2 : f32
    %5 = arith.addf %3, %4 : f32
    linalg.yield %5 : f32
  }
  func.return
}
func.func @few_rows(%x: memref<1x2xf32>, %out0: memref<1x3xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %w = memref.get_global @__constant_v : memref<3x2xf32>
  %0 = arith.constant 0.000000e+00 : f32
  linalg.fill ins(%0 : f32) outs(%out0 : memref<1x3xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<1x2xf32>, memref<3x2xf32>) outs(%out0 : memref<1x3xf32>) attrs =  {relay_opt.contraction = "dense"} {
  ^bb0(%1: f32, %2: f32, %3: f32):
    %4 = arith.mulf %1, %2 : f32
    %5 = arith.addf %3, %4 : f32
    linalg.yield %5 : f32
  }
  func.return
}

{-#
  dialect_resources: {
    builtin: {
      __relay_w_k3n2: "0x040000000000803F0000004000004040000080400000A0400000C040"
    }
  }
#-}
