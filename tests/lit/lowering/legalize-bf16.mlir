// RUN: relay-opt %s -p legalize-bf16 | filecheck %s

// bfloat16 is i16 in memory and f32 in registers: a load shifts the bits up, an operation
// computes in f32 and rounds to the nearest bf16 (ties to even, nan kept quiet), a store
// keeps the upper half. Exact operations (negf, maximumf) are not rounded.

// CHECK:       "memref.global"() <{sym_name = "w", type = memref<2xi16>, initial_value = dense<[16256, -16384]> : tensor<2xi16>
// CHECK-LABEL: func.func @f(%x: memref<4xi16>, %out: memref<4xi16>, %d: f64) -> f32
// CHECK:       %[[BITS:.*]] = memref.load %x[%{{.*}}] : memref<4xi16>
// CHECK-NEXT:  %[[WIDE:.*]] = arith.extui %[[BITS]] : i16 to i32
// CHECK-NEXT:  %[[SIXTEEN:.*]] = arith.constant 16 : i32
// CHECK-NEXT:  %[[UP:.*]] = arith.shli %[[WIDE]], %[[SIXTEEN]] : i32
// CHECK-NEXT:  %[[X:.*]] = arith.bitcast %[[UP]] : i32 to f32
// CHECK:       %[[W:.*]] = arith.bitcast %{{.*}} : i32 to f32
// CHECK-NEXT:  %[[SUM:.*]] = arith.addf %[[X]], %[[W]] : f32
// CHECK-NEXT:  %[[SB:.*]] = arith.bitcast %[[SUM]] : f32 to i32
// CHECK:       arith.shrui %[[SB]], %{{.*}} : i32
// CHECK:       arith.andi %{{.*}}, %{{.*}} : i32
// CHECK:       arith.constant 32767 : i32
// CHECK:       %[[BIASED:.*]] = arith.addi %[[SB]], %{{.*}} : i32
// CHECK:       %[[QUIET:.*]] = arith.ori %[[SB]], %{{.*}} : i32
// CHECK-NEXT:  %[[NAN:.*]] = arith.cmpf uno, %[[SUM]], %[[SUM]] : f32
// CHECK-NEXT:  %[[PICK:.*]] = arith.select %[[NAN]], %[[QUIET]], %[[BIASED]] : i32
// CHECK-NEXT:  %[[MASK:.*]] = arith.constant -65536 : i32
// CHECK-NEXT:  %[[HIGH:.*]] = arith.andi %[[PICK]], %[[MASK]] : i32
// CHECK-NEXT:  %[[R:.*]] = arith.bitcast %[[HIGH]] : i32 to f32
// CHECK-NEXT:  %[[NEG:.*]] = arith.negf %[[R]] : f32
// CHECK-NEXT:  %[[MAX:.*]] = arith.maximumf %[[NEG]], %[[R]] : f32
// CHECK-NEXT:  %[[E:.*]] = math.exp %[[MAX]] : f32
// CHECK-NEXT:  arith.bitcast %[[E]] : f32 to i32
// CHECK:       %[[ER:.*]] = arith.bitcast %{{.*}} : i32 to f32
// CHECK-NEXT:  %[[OB:.*]] = arith.bitcast %[[ER]] : f32 to i32
// CHECK-NEXT:  %[[S:.*]] = arith.constant 16 : i32
// CHECK-NEXT:  %[[OH:.*]] = arith.shrui %[[OB]], %[[S]] : i32
// CHECK-NEXT:  %[[OUT:.*]] = arith.trunci %[[OH]] : i32 to i16
// CHECK-NEXT:  memref.store %[[OUT]], %out[%{{.*}}] : memref<4xi16>
// f64 -> bf16 through f32; bf16 -> f32 is the value itself.
// CHECK-NEXT:  %[[D32:.*]] = arith.truncf %d : f64 to f32
// CHECK-NEXT:  arith.bitcast %[[D32]] : f32 to i32
// CHECK:       %[[DR:.*]] = arith.bitcast %{{.*}} : i32 to f32
// CHECK-NEXT:  %[[HALF:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-NEXT:  %[[P:.*]] = arith.mulf %[[DR]], %[[HALF]] : f32
// CHECK:       func.return %[[ER]] : f32
// CHECK-NOT:   bf16
builtin.module {
  "memref.global"() <{sym_name = "w", type = memref<2xbf16>, initial_value = dense<[1.0, -2.0]> : tensor<2xbf16>, sym_visibility = "private", constant}> : () -> ()
  func.func @f(%x: memref<4xbf16>, %out: memref<4xbf16>, %d: f64) -> f32 {
    %i = arith.constant 1 : index
    %0 = memref.load %x[%i] : memref<4xbf16>
    %g = memref.get_global @w : memref<2xbf16>
    %1 = memref.load %g[%i] : memref<2xbf16>
    %2 = arith.addf %0, %1 : bf16
    %3 = arith.negf %2 : bf16
    %4 = arith.maximumf %3, %2 : bf16
    %5 = math.exp %4 : bf16
    memref.store %5, %out[%i] : memref<4xbf16>
    %6 = arith.truncf %d : f64 to bf16
    %half = arith.constant 0.5 : bf16
    %7 = arith.mulf %6, %half : bf16
    %8 = arith.extf %5 : bf16 to f32
    func.return %8 : f32
  }
}
