// RUN: relay-opt %s -p 'emit-kernel-library{vector-bits=256}' | filecheck %s
// RUN: relay-opt %s -p 'emit-kernel-library{vector-bits=128 fma=false}' | filecheck %s --check-prefix=SSE
// RUN: not relay-opt %s -p 'emit-kernel-library{vector-bits=256},emit-kernel-library{vector-bits=256}' 2>&1 | filecheck %s --check-prefix=TWICE
// RUN: not relay-opt %s -p 'emit-kernel-library{vector-bits=100}' 2>&1 | filecheck %s --check-prefix=BAD

// The kernel library the runtime compiles once per CPU: what the routines need (malloc, free,
// the weak error cell, the thread pool's entry), then each routine, external (with its
// internal helpers). A module that declares a routine (as
// lower-contractions leaves it) gets the definition in its place.

// CHECK:      llvm.func @malloc(i64) -> !llvm.ptr
// CHECK-NEXT: llvm.func @free(!llvm.ptr)
// CHECK-NEXT: llvm.func @relay_opt_parallel_for(!llvm.ptr, !llvm.ptr, i64, i64) -> i64
// CHECK-NEXT: llvm.mlir.global weak @relay_opt_kernel_error(0 : i64) {addr_space = 0 : i32, alignment = 8 : i64} : i64
// CHECK-NOT:  llvm.func @relay_opt_sgemm_6x16(!llvm.ptr
// CHECK:      llvm.func @relay_opt_sgemm_6x16(%A: !llvm.ptr, %B: !llvm.ptr, %C: !llvm.ptr, %M: i64, %N: i64, %K: i64, %rsa: i64, %csa: i64, %rsb: i64, %csb: i64, %ldc: i64, %batch: i64, %bsa: i64, %bsb: i64, %bsc: i64, %accumulate: i64, %bias: !llvm.ptr, %residual: !llvm.ptr, %flags: i64, %scale: f32, %lo: f32, %hi: f32, %slope: f32) {
// CHECK:        llvm.call @relay_opt_parallel_for(
// The packed product's pool tasks take at least 128 columns (8 runs of NR = 16): each task
// packs all of A for its columns.
// CHECK:        %[[MACS:.*]] = llvm.mlir.constant(1048576) : i64
// CHECK:        %[[GRAIN:.*]] = llvm.sdiv %[[MACS]], %{{.*}} : i64
// CHECK-NEXT:   %[[LEAST:.*]] = llvm.mlir.constant(8) : i64
// CHECK-NEXT:   %[[FEW:.*]] = llvm.icmp "slt" %[[GRAIN]], %[[LEAST]] : i64
// CHECK-NEXT:   %[[G:.*]] = llvm.select %[[FEW]], %[[LEAST]], %[[GRAIN]] : i1, i64
// CHECK-NEXT:   %[[TASK:.*]] = llvm.mlir.addressof @relay_opt_sgemm_6x16_columns : !llvm.ptr
// CHECK-NEXT:   llvm.call @relay_opt_parallel_for(%[[TASK]], %{{.*}}, %{{.*}}, %[[G]])
// The packed product is the thread-pool task beside it. A null scratch pointer: the byte
// count asked for goes to the error cell, and the task returns without touching C.
// CHECK:      llvm.func internal @relay_opt_sgemm_6x16_columns(
// CHECK:        %[[RAW:.*]] = llvm.call @malloc(%[[SIZE:.*]]) : (i64) -> !llvm.ptr
// CHECK-NEXT:   %[[ADDR:.*]] = llvm.ptrtoint %[[RAW]] : !llvm.ptr to i64
// CHECK:        %[[NULL:.*]] = llvm.icmp "eq" %[[ADDR]], %{{.*}} : i64
// CHECK-NEXT:   llvm.cond_br %[[NULL]], ^[[OOM:.*]], ^[[WORK:.*]]
// CHECK-NEXT: ^[[OOM]]:
// CHECK-NEXT:   %[[CELL:.*]] = llvm.mlir.addressof @relay_opt_kernel_error : !llvm.ptr
// CHECK-NEXT:   llvm.store %[[SIZE]], %[[CELL]] {alignment = 8 : i64} : i64, !llvm.ptr
// CHECK-NEXT:   llvm.br
// CHECK-NEXT: ^[[WORK]]:
// CHECK:        llvm.call @free(%[[RAW]]) : (!llvm.ptr) -> ()
// The packed-B entry: B comes in NR-column panels (a weight lower-contractions packed at
// compile time), so it has no B strides, and its task (the same packed product, A packed
// per call, B not) is beside it.
// CHECK:      llvm.func internal @relay_opt_sgemm_6x16_packed_b_columns(
// CHECK:      llvm.func @relay_opt_sgemm_6x16_packed_b(%A_1: !llvm.ptr, %B_1: !llvm.ptr, %C_1: !llvm.ptr, %M_1: i64, %N_1: i64, %K_1: i64, %rsa_1: i64, %csa_1: i64, %ldc_1: i64, %batch_1: i64, %bsa_1: i64, %bsb_1: i64, %bsc_1: i64, %accumulate_1: i64, %bias_1: !llvm.ptr, %residual_1: !llvm.ptr, %flags_1: i64, %scale_1: f32, %lo_1: f32, %hi_1: f32, %slope_1: f32) {
// CHECK:        %[[TASK:.*]] = llvm.mlir.addressof @relay_opt_sgemm_6x16_packed_b_columns : !llvm.ptr
// CHECK-NEXT:   llvm.call @relay_opt_parallel_for(%[[TASK]],
// The depthwise routine's work items, N * C * OH output rows of a channel block, are its
// task beside it; each thread's share is at least 2^16 multiply-adds (OW * 8 * KH * KW each).
// CHECK:      llvm.func internal @relay_opt_depthwise_conv2d_nchw8c_8_rows(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64) -> i64 {
// CHECK:      llvm.func @relay_opt_depthwise_conv2d_nchw8c_8(%X_{{[0-9]+}}: !llvm.ptr,
// CHECK:        %[[NC:.*]] = llvm.mul %N_{{[0-9]+}}, %C_{{[0-9]+}} : i64
// CHECK-NEXT:   %[[ITEMS:.*]] = llvm.mul %[[NC]], %OH_{{[0-9]+}} : i64
// CHECK:        %[[MIN:.*]] = llvm.mlir.constant(65536) : i64
// CHECK:        %[[GRAIN:.*]] = llvm.sdiv %[[MIN]], %{{.*}} : i64
// CHECK-NEXT:   %[[DW:.*]] = llvm.mlir.addressof @relay_opt_depthwise_conv2d_nchw8c_8_rows : !llvm.ptr
// CHECK-NEXT:   llvm.call @relay_opt_parallel_for(%[[DW]], %{{.*}}, %[[ITEMS]], %[[GRAIN]])

// 128-bit vectors without FMA: a 6x8 tile of multiplies and adds.
// SSE:     llvm.func @relay_opt_sgemm_6x8(
// SSE-NOT: llvm.intr.fma
// SSE:     llvm.fmul %{{.*}} : vector<4xf32>

// TWICE: error: emit-kernel-library: the module already defines @relay_opt_sgemm_6x16

// BAD: relay-opt: error: emit-kernel-library: vector-bits must be 0 (the host) or one of 128, 256, 512, got 100

builtin.module {
  llvm.func @relay_opt_sgemm_6x16(!llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, !llvm.ptr, !llvm.ptr, i64, f32, f32, f32)
}
