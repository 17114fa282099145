// RUN: relay-opt %s -p convert-to-llvm | filecheck %s

// A global memref is a flat !llvm.array<N x T>, and so is its initializer: LLVM rejects an
// initializer whose type is not the global's (a tensor<2x3xf32> for !llvm.array<6 x f32>).
// CHECK:      llvm.mlir.global internal constant @__constant_0(dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00]> : tensor<6xf32>) {{.*}} : !llvm.array<6 x f32>
// CHECK-NEXT: llvm.mlir.global internal constant @__constant_1(dense<5.000000e-01> : tensor<8xf32>) {{.*}} : !llvm.array<8 x f32>
// CHECK-NEXT: llvm.mlir.global internal constant @__constant_2(dense<[true, false, false, true]> : tensor<4xi1>) {{.*}} : !llvm.array<4 x i1>
// CHECK-NEXT: llvm.mlir.global internal constant @__constant_3(dense<7> : tensor<1xi32>) {{.*}} : !llvm.array<1 x i32>
// A weight, bound by the JIT to its array's address, has no initializer.
// CHECK-NEXT: llvm.mlir.global external @__relay_w0() {{.*}} : !llvm.array<12 x f32>
"memref.global"() <{sym_name = "__constant_0", type = memref<2x3xf32>, initial_value = dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "__constant_1", type = memref<8x1x1xf32>, initial_value = dense<0.5> : tensor<8x1x1xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "__constant_2", type = memref<2x2xi1>, initial_value = dense<[[true, false], [false, true]]> : tensor<2x2xi1>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "__constant_3", type = memref<i32>, initial_value = dense<7> : tensor<i32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "__relay_w0", type = memref<3x4xf32>, initial_value, sym_visibility = "public"}> : () -> ()

