// RUN: relay-opt %s -p 'lower-contractions{vector-bits=256 min-macs=0 kernels=define}' | filecheck %s
// RUN: relay-opt %s -p 'lower-contractions{vector-bits=512 min-macs=0 kernels=define}' | filecheck %s --check-prefix=AVX512
// RUN: relay-opt %s -p 'lower-contractions{vector-bits=256}' | filecheck %s --check-prefix=SMALL
// RUN: relay-opt %s -p 'lower-contractions{vector-bits=256 min-macs=0}' | filecheck %s --check-prefix=DECLARE
// RUN: not relay-opt %s -p 'lower-contractions{kernels=inline}' 2>&1 | filecheck %s --check-prefix=BAD

// BAD: relay-opt: error: lower-contractions: unknown kernels mode 'inline' (expected declare or define)

// By default (kernels=declare) the module only declares the routine, once: the kernel
// library's object defines it (runtime/kernel_library.py), and nothing else is added.
// DECLARE:     llvm.call @relay_opt_sgemm_6x16(
// DECLARE:     llvm.func @relay_opt_sgemm_6x16(!llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, !llvm.ptr, !llvm.ptr, i64, f32, f32, f32, f32){{$}}
// DECLARE-NOT: llvm.func {{.*}}@relay_opt_sgemm
// DECLARE-NOT: @malloc
// DECLARE-NOT: @relay_opt_kernel_error

// By default contractions under 4096 multiply-adds keep their loops (all of these).
// SMALL-NOT: llvm.call @relay_opt_sgemm
// SMALL-NOT: llvm.func internal @relay_opt_sgemm

// A float32 contraction named by convert-relay-to-linalg becomes one call of the GEMM routine:
// base pointers, then M, N, K, A's row and column strides, B's, C's row stride, the batch
// and the three batch strides, and accumulate. The zero fill before it goes (accumulate = 0).
// dense: A = x[3,5], B = w[7,5] read transposed (rsb = 1, csb = 5).

// CHECK-LABEL: func.func @dense
// CHECK-NOT:     linalg.fill
// CHECK:         %[[X:.*]] = "memref.extract_aligned_pointer_as_index"(%x) : (memref<3x5xf32>) -> index
// CHECK-NEXT:    %[[XI:.*]] = arith.index_cast %[[X]] : index to i64
// CHECK-NEXT:    %[[XP:.*]] = llvm.inttoptr %[[XI]] : i64 to !llvm.ptr
// CHECK:         %[[M:.*]] = arith.constant 3 : i64
// CHECK-NEXT:    %[[N:.*]] = arith.constant 7 : i64
// CHECK-NEXT:    %[[K:.*]] = arith.constant 5 : i64
// CHECK-NEXT:    %[[RSA:.*]] = arith.constant 5 : i64
// CHECK-NEXT:    %[[CSA:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[RSB:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[CSB:.*]] = arith.constant 5 : i64
// CHECK-NEXT:    %[[LDC:.*]] = arith.constant 7 : i64
// CHECK-NEXT:    %[[BATCH:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    %[[ACC:.*]] = arith.constant 0 : i64
// No epilogue: C's pointer for the bias and the residual, flags 0, scale 1, clip [-inf, inf].
// CHECK-NEXT:    %[[FLAGS:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[SCALE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    %[[LO:.*]] = arith.constant 0xff800000 : f32
// CHECK-NEXT:    %[[HI:.*]] = arith.constant 0x7f800000 : f32
// CHECK-NEXT:    %[[SLOPE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16(%[[XP]], %{{.*}}, %[[CP:.*]], %[[M]], %[[N]], %[[K]], %[[RSA]], %[[CSA]], %[[RSB]], %[[CSB]], %[[LDC]], %[[BATCH]], %{{.*}}, %{{.*}}, %{{.*}}, %[[ACC]], %[[CP]], %[[CP]], %[[FLAGS]], %[[SCALE]], %[[LO]], %[[HI]], %[[SLOPE]])
// CHECK-NOT:     linalg.generic
// CHECK:         func.return

// batch_matmul with a broadcast B: batch 4, batch strides 15, 0 and 21.
// CHECK-LABEL: func.func @batch_matmul
// CHECK-NOT:     linalg.generic
// CHECK:         arith.constant 3 : i64
// CHECK-NEXT:    arith.constant 7 : i64
// CHECK-NEXT:    arith.constant 5 : i64
// CHECK-NEXT:    arith.constant 5 : i64
// CHECK-NEXT:    arith.constant 1 : i64
// CHECK-NEXT:    arith.constant 7 : i64
// CHECK-NEXT:    arith.constant 1 : i64
// CHECK-NEXT:    arith.constant 7 : i64
// CHECK-NEXT:    arith.constant 4 : i64
// CHECK-NEXT:    arith.constant 15 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 21 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    arith.constant 0xff800000 : f32
// CHECK-NEXT:    arith.constant 0x7f800000 : f32
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16(

// float16 and int32 keep their loops.
// CHECK-LABEL: func.func @matmul_f16
// CHECK-NOT:     llvm.call
// CHECK:         linalg.generic {{.*}} attrs = {relay_opt.contraction = "matmul"}
// CHECK-LABEL: func.func @matmul_i32
// CHECK-NOT:     llvm.call
// CHECK:         linalg.generic {{.*}} attrs = {relay_opt.contraction = "matmul"}

func.func @dense(%x: memref<3x5xf32>, %w: memref<7x5xf32>, %out0: memref<3x7xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %0 = arith.constant 0.000000e+00 : f32
  linalg.fill ins(%0 : f32) outs(%out0 : memref<3x7xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<3x5xf32>, memref<7x5xf32>) outs(%out0 : memref<3x7xf32>) attrs =  {relay_opt.contraction = "dense"} {
  ^bb0(%1: f32, %2: f32, %3: f32):
    %4 = arith.mulf %1, %2 : f32
    %5 = arith.addf %3, %4 : f32
    linalg.yield %5 : f32
  }
  func.return
}
func.func @batch_matmul(%x: memref<4x3x5xf32>, %y: memref<1x5x7xf32>, %out0: memref<4x3x7xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %0 = arith.constant 0.000000e+00 : f32
  linalg.fill ins(%0 : f32) outs(%out0 : memref<4x3x7xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (0, d3, d2)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %y : memref<4x3x5xf32>, memref<1x5x7xf32>) outs(%out0 : memref<4x3x7xf32>) attrs =  {relay_opt.contraction = "batch_matmul"} {
  ^bb0(%1: f32, %2: f32, %3: f32):
    %4 = arith.mulf %1, %2 : f32
    %5 = arith.addf %3, %4 : f32
    linalg.yield %5 : f32
  }
  func.return
}
func.func @matmul_f16(%x: memref<3x5xf16>, %y: memref<5x7xf16>, %out0: memref<3x7xf16>) attributes {relay_opt.outputs = 1 : i64} {
  %0 = arith.constant 0.000000e+00 : f32
  %1 = memref.alloc() : memref<3x7xf32>
  linalg.fill ins(%0 : f32) outs(%1 : memref<3x7xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %y : memref<3x5xf16>, memref<5x7xf16>) outs(%1 : memref<3x7xf32>) attrs =  {relay_opt.contraction = "matmul"} {
  ^bb0(%2: f16, %3: f16, %4: f32):
    %5 = arith.extf %2 : f16 to f32
    %6 = arith.extf %3 : f16 to f32
    %7 = arith.mulf %5, %6 : f32
    %8 = arith.addf %4, %7 : f32
    linalg.yield %8 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%1 : memref<3x7xf32>) outs(%out0 : memref<3x7xf16>) {
  ^bb0(%9: f32, %10: f16):
    %11 = arith.truncf %9 : f32 to f16
    linalg.yield %11 : f16
  }
  memref.dealloc %1 : memref<3x7xf32>
  func.return
}
func.func @matmul_i32(%x: memref<3x5xi32>, %y: memref<5x7xi32>, %out0: memref<3x7xi32>) attributes {relay_opt.outputs = 1 : i64} {
  %0 = arith.constant 0 : i32
  linalg.fill ins(%0 : i32) outs(%out0 : memref<3x7xi32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %y : memref<3x5xi32>, memref<5x7xi32>) outs(%out0 : memref<3x7xi32>) attrs =  {relay_opt.contraction = "matmul"} {
  ^bb0(%1: i32, %2: i32, %3: i32):
    %4 = arith.muli %1, %2 : i32
    %5 = arith.addi %3, %4 : i32
    linalg.yield %5 : i32
  }
  func.return
}

// The destination starts from values that are not zero: C += A x B (accumulate = 1), the
// fill stays.
// CHECK-LABEL: func.func @accumulate
// CHECK:         linalg.fill
// CHECK:         arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    %[[ACC:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    arith.constant 0xff800000 : f32
// CHECK-NEXT:    arith.constant 0x7f800000 : f32
// CHECK-NEXT:    arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    llvm.call @relay_opt_sgemm_6x16({{.*}}, %[[ACC]], {{.*}})
func.func @accumulate(%x: memref<3x5xf32>, %y: memref<5x7xf32>, %out0: memref<3x7xf32>) {
  %one = arith.constant 1.000000e+00 : f32
  linalg.fill ins(%one : f32) outs(%out0 : memref<3x7xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %y : memref<3x5xf32>, memref<5x7xf32>) outs(%out0 : memref<3x7xf32>) attrs = {relay_opt.contraction = "matmul"} {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  func.return
}

// A strided view (no identity layout) keeps its loops.
// CHECK-LABEL: func.func @strided_view
// CHECK-NOT:     llvm.call
// CHECK:         linalg.generic
func.func @strided_view(%x: memref<3x8xf32>, %y: memref<5x7xf32>, %out0: memref<3x7xf32>) {
  %v = memref.subview %x[0, 0] [3, 5] [1, 1] : memref<3x8xf32> to memref<3x5xf32, strided<[8, 1]>>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%v, %y : memref<3x5xf32, strided<[8, 1]>>, memref<5x7xf32>) outs(%out0 : memref<3x7xf32>) attrs = {relay_opt.contraction = "matmul"} {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  func.return
}

// With kernels=define, the declaration becomes the routine itself (internal), in two
// functions. The packed product for a range of NR-column panels, one thread-pool task: its
// parameters read from the context, the edge tile's stack buffer, scratch from malloc (a null
// one stores the byte count in the error cell, defined with the routine, and returns), the C
// tile prefetched, B's vectors loaded aligned from the packed panel, A's element broadcast,
// two vector FMAs per row of the 6x16 tile (8 lanes for AVX2; 14x32, 16 lanes for AVX-512),
// and the scratch freed.
// CHECK-LABEL: llvm.func internal @relay_opt_sgemm_6x16_columns(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64) -> i64
// CHECK:         llvm.load %{{.*}} {alignment = 8 : i64} : !llvm.ptr -> i64
// The epilogue's plan: is there one at all (flags, or a scale, lo or hi that changes values)?
// CHECK:         llvm.fcmp "une" %{{.*}}, %{{.*}} : f32
// CHECK:         llvm.alloca %{{.*}} x f32 {alignment = 64 : i64}
// CHECK:         %[[RAW:.*]] = llvm.call @malloc(%[[SIZE:.*]]) : (i64) -> !llvm.ptr
// CHECK:         %[[CELL:.*]] = llvm.mlir.addressof @relay_opt_kernel_error : !llvm.ptr
// CHECK-NEXT:    llvm.store %[[SIZE]], %[[CELL]] {alignment = 8 : i64} : i64, !llvm.ptr
// A panel with at most 4 valid rows (the last of M) takes the 4-row microkernel, the others
// the 6-row one (AVX2's variants): each prefetches its rows of C and keeps rows x 2 vectors.
// CHECK:         %[[FEW_ROWS:.*]] = llvm.icmp "sle" %{{.*}}, %{{.*}} : i64
// CHECK-NEXT:    llvm.cond_br %[[FEW_ROWS]]
// CHECK-COUNT-4: llvm.call_intrinsic "llvm.prefetch.p0"
// CHECK-NOT:     llvm.call_intrinsic "llvm.prefetch.p0"
// CHECK:         llvm.load %{{.*}} {alignment = 32 : i64} : !llvm.ptr -> vector<8xf32>
// CHECK:         llvm.shufflevector %{{.*}}, %{{.*}} [0, 0, 0, 0, 0, 0, 0, 0] : vector<8xf32>
// CHECK-NEXT:    llvm.intr.fma(%{{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK-NEXT:    llvm.intr.fma(%{{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// After the last K block (and with an epilogue) each vector of the tile gets it at its store:
// scale, bias, residual, leaky relu's max(v, slope * v), the clip.
// CHECK:         llvm.fmul %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK:         %[[V:.*]] = llvm.select %{{.*}}, %{{.*}}, %{{.*}} : i1, vector<8xf32>
// CHECK:         %[[SLOPED:.*]] = llvm.fmul %[[V]], %{{.*}} : vector<8xf32>
// CHECK-NEXT:    llvm.call_intrinsic "llvm.maximum.v8f32"(%[[V]], %[[SLOPED]])
// CHECK:         llvm.call_intrinsic "llvm.maximum.v8f32"
// CHECK:         llvm.shufflevector
// CHECK-NEXT:    llvm.call_intrinsic "llvm.minimum.v8f32"
// CHECK-NEXT:    llvm.bitcast
// CHECK-NEXT:    llvm.store
// CHECK-COUNT-6: llvm.call_intrinsic "llvm.prefetch.p0"
// CHECK-NOT:     llvm.call_intrinsic "llvm.prefetch.p0"
// CHECK:         llvm.call @free
// Fewer than 4 rows (a batch-1 dense), another task over runs of 64 columns, no packing: dot
// products along k, 8 columns at a time with one accumulator each, their lanes summed by a
// shuffle tree (8 vectors -> one vector of 8 sums) (dense's weight), or 4 rows of B at a time
// scaled into C's row with FMAs (B's rows along n).
// CHECK-LABEL: llvm.func internal @relay_opt_sgemm_6x16_few_rows(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64) -> i64
// CHECK-COUNT-8: llvm.intr.fma(%{{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK:         llvm.shufflevector %{{.*}}, %{{.*}} [0, 1, 2, 3, 8, 9, 10, 11] : vector<8xf32>
// CHECK-NEXT:    llvm.shufflevector %{{.*}}, %{{.*}} [4, 5, 6, 7, 12, 13, 14, 15] : vector<8xf32>
// CHECK-NEXT:    llvm.fadd %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK:         llvm.shufflevector %{{.*}}, %{{.*}} [0, 1, 4, 5, 8, 9, 12, 13] : vector<8xf32>
// CHECK-NEXT:    llvm.shufflevector %{{.*}}, %{{.*}} [2, 3, 6, 7, 10, 11, 14, 15] : vector<8xf32>
// CHECK:         llvm.shufflevector %{{.*}}, %{{.*}} [0, 2, 4, 6, 8, 10, 12, 14] : vector<8xf32>
// CHECK-NEXT:    llvm.shufflevector %{{.*}}, %{{.*}} [1, 3, 5, 7, 9, 11, 13, 15] : vector<8xf32>
// CHECK-NEXT:    %[[SUMS:.*]] = llvm.fadd %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK-NOT:     llvm.call_intrinsic "llvm.vector.reduce.fadd
// The last N mod 8 columns one at a time: one lane left (the tail of k as a 1-lane FMA).
// CHECK:         llvm.intr.fma(%{{.*}}) : (vector<1xf32>, vector<1xf32>, vector<1xf32>) -> vector<1xf32>
// CHECK:         llvm.shufflevector %{{.*}}, %{{.*}} [0, 0, 0, 0, 0, 0, 0, 0] : vector<8xf32>
// CHECK:         %[[A0:.*]] = llvm.intr.fma(%{{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK:         %[[A1:.*]] = llvm.intr.fma(%{{.*}}, %{{.*}}, %[[A0]]) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK:         %[[A2:.*]] = llvm.intr.fma(%{{.*}}, %{{.*}}, %[[A1]]) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK:         llvm.intr.fma(%{{.*}}, %{{.*}}, %[[A2]]) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK-NEXT:    llvm.bitcast
// CHECK-NEXT:    llvm.store
// The entry: the parameters go into a context, and the few-row task or the packed panels to
// the thread pool.
// CHECK-LABEL: llvm.func internal @relay_opt_sgemm_6x16(%A: !llvm.ptr, %B: !llvm.ptr, %C: !llvm.ptr, %M: i64, %N: i64, %K: i64, %rsa: i64, %csa: i64, %rsb: i64, %csb: i64, %ldc: i64, %batch: i64, %bsa: i64, %bsb: i64, %bsc: i64, %accumulate: i64, %bias: !llvm.ptr, %residual: !llvm.ptr, %flags: i64, %scale: f32, %lo: f32, %hi: f32, %slope: f32)
// CHECK:         llvm.icmp "slt" %M, %{{.*}}
// CHECK:         %[[FEW:.*]] = llvm.mlir.addressof @relay_opt_sgemm_6x16_few_rows : !llvm.ptr
// CHECK-NEXT:    llvm.call @relay_opt_parallel_for(%[[FEW]], %{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64, i64) -> i64
// CHECK:         %[[CTX:.*]] = llvm.alloca %{{.*}} x i64 {alignment = 8 : i64}
// CHECK:         %[[TASK:.*]] = llvm.mlir.addressof @relay_opt_sgemm_6x16_columns : !llvm.ptr
// CHECK-NEXT:    llvm.call @relay_opt_parallel_for(%[[TASK]], %[[CTX]], %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64, i64) -> i64
// CHECK-NOT:     llvm.call @malloc
// CHECK-NOT:   llvm.func internal @relay_opt_sgemm
// CHECK:       llvm.func @malloc(i64) -> !llvm.ptr
// CHECK:       llvm.mlir.global weak @relay_opt_kernel_error(0 : i64)

// AVX512: llvm.call @relay_opt_sgemm_14x32(
// AVX512-LABEL: llvm.func internal @relay_opt_sgemm_14x32_columns(
// AVX512:         llvm.intr.fma(%{{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
