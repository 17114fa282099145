// The whole pipeline in one pass, and with kernels bracketed by timer calls. exp is expanded
// (the bits of its rounded exponent) for the host, so only what every host gets is checked.
// RUN: relay-opt %s -p relay-to-llvm | filecheck %s
// RUN: relay-opt %s -p 'relay-to-llvm{profile=true}' | filecheck %s --check-prefix=PROFILE

// CHECK-LABEL: llvm.func @main(
// CHECK-SAME:    %{{.*}}: !llvm.ptr {llvm.noalias}, %{{.*}}: !llvm.ptr {llvm.noalias}) attributes {relay_opt.outputs = 1 : i64}
// CHECK-NOT:     llvm.exp.f32
// CHECK:         llvm.bitcast %{{.*}} : f32 to i32
// CHECK:         llvm.return
// CHECK-NOT:     linalg.
// CHECK-NOT:     memref.

// PROFILE:      llvm.call @relay_opt_profile_enter(%{{.*}}) : (i64) -> ()
// PROFILE:      llvm.bitcast %{{.*}} : f32 to i32
// PROFILE:      llvm.call @relay_opt_profile_exit(%{{.*}}) : (i64) -> ()
// PROFILE-DAG:  llvm.func @relay_opt_profile_enter(i64)
// PROFILE-DAG:  llvm.func @relay_opt_profile_exit(i64)
relay.func @main(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = relay.exp %x : (tensor<4x8xf32>) -> tensor<4x8xf32>
  relay.return %0 : tensor<4x8xf32>
}
