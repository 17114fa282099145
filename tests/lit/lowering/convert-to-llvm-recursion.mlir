// RUN: relay-opt %s -p convert-to-llvm | filecheck %s

// A function in a call-graph cycle counts its depth in @relay_opt_depth: past
// @relay_opt_max_depth it stores its error code k (1 + its index in the module's
// relay_opt.recursive_functions; -k when its frame is below @relay_opt_stack_floor) in
// @relay_opt_error and returns at once; callers of a function that may fail return when the
// error is set. Functions outside any cycle pay nothing.
// CHECK: builtin.module attributes {relay_opt.recursive_functions = ["f", "count", "pointer"]}

// CHECK-LABEL: llvm.func @f(%x: !llvm.ptr, %out: !llvm.ptr)
// CHECK-NEXT:    %[[DP:.*]] = llvm.mlir.addressof @relay_opt_depth : !llvm.ptr
// CHECK-NEXT:    %[[D:.*]] = llvm.load %[[DP]] : !llvm.ptr -> i64
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %[[D1:.*]] = llvm.add %[[D]], %[[ONE]] : i64
// CHECK-NEXT:    %[[MP:.*]] = llvm.mlir.addressof @relay_opt_max_depth : !llvm.ptr
// CHECK-NEXT:    %[[M:.*]] = llvm.load %[[MP]] : !llvm.ptr -> i64
// CHECK-NEXT:    %[[OVER:.*]] = llvm.icmp "sgt" %[[D1]], %[[M]] : i64
// CHECK-NEXT:    %[[ZERO32:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:    %[[FRAME:.*]] = llvm.call_intrinsic "llvm.frameaddress.p0"(%[[ZERO32]]) : (i32) -> !llvm.ptr
// CHECK-NEXT:    %[[SP:.*]] = llvm.ptrtoint %[[FRAME]] : !llvm.ptr to i64
// CHECK-NEXT:    %[[FP:.*]] = llvm.mlir.addressof @relay_opt_stack_floor : !llvm.ptr
// CHECK-NEXT:    %[[FLOOR:.*]] = llvm.load %[[FP]] : !llvm.ptr -> i64
// CHECK-NEXT:    %[[LOW:.*]] = llvm.icmp "ult" %[[SP]], %[[FLOOR]] : i64
// CHECK-NEXT:    %[[STOP:.*]] = llvm.or %[[OVER]], %[[LOW]] : i1
// CHECK-NEXT:    llvm.cond_br %[[STOP]], ^[[TOODEEP:.*]], ^[[OK:.*]]
// CHECK-NEXT:  ^[[TOODEEP]]:
// CHECK-NEXT:    %[[STACKCODE:.*]] = llvm.mlir.constant(-1) : i64
// CHECK-NEXT:    %[[DEPTHCODE:.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %[[CODE:.*]] = llvm.select %[[LOW]], %[[STACKCODE]], %[[DEPTHCODE]] : i1, i64
// CHECK-NEXT:    %[[EP:.*]] = llvm.mlir.addressof @relay_opt_error : !llvm.ptr
// CHECK-NEXT:    llvm.store %[[CODE]], %[[EP]] : i64, !llvm.ptr
// CHECK-NEXT:    llvm.return
// CHECK-NEXT:  ^[[OK]]:
// CHECK-NEXT:    %[[DP2:.*]] = llvm.mlir.addressof @relay_opt_depth : !llvm.ptr
// CHECK-NEXT:    llvm.store %[[D1]], %[[DP2]] : i64, !llvm.ptr
// CHECK-NEXT:    llvm.br ^[[BODY:.*]](%x, %out : !llvm.ptr, !llvm.ptr)
// CHECK-NEXT:  ^[[BODY]](%[[X:.*]]: !llvm.ptr, %[[O:.*]]: !llvm.ptr):
// CHECK-NEXT:    llvm.call @f(%[[X]], %[[O]]) : (!llvm.ptr, !llvm.ptr) -> ()
// CHECK-NEXT:    %[[EP2:.*]] = llvm.mlir.addressof @relay_opt_error : !llvm.ptr
// CHECK-NEXT:    %[[E:.*]] = llvm.load %[[EP2]] : !llvm.ptr -> i64
// CHECK-NEXT:    %[[ZERO:.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    %[[FAILED:.*]] = llvm.icmp "ne" %[[E]], %[[ZERO]] : i64
// CHECK-NEXT:    llvm.cond_br %[[FAILED]], ^[[UNWIND:.*]], ^[[REST:.*]]
// CHECK-NEXT:  ^[[UNWIND]]:
// CHECK:         llvm.add %{{.*}}, %{{.*}} : i64
// CHECK:         llvm.store %{{.*}}, %{{.*}} : i64, !llvm.ptr
// CHECK-NEXT:    llvm.return
// CHECK-NEXT:  ^[[REST]]:
// CHECK:         llvm.store %{{.*}}, %{{.*}} : i64, !llvm.ptr
// CHECK-NEXT:    llvm.return
// CHECK-NEXT:  }
func.func @f(%x: memref<4xf32>, %out: memref<4xf32>) {
  func.call @f(%x, %out) : (memref<4xf32>, memref<4xf32>) -> ()
  func.return
}

// A function with a result returns zero on the error paths.
// CHECK-LABEL: llvm.func @count(%n: i64) -> i64
// CHECK:         llvm.mlir.constant(-2) : i64
// CHECK-NEXT:    llvm.mlir.constant(2) : i64
// CHECK-NEXT:    %[[CODE:.*]] = llvm.select
// CHECK-NEXT:    %[[EP:.*]] = llvm.mlir.addressof @relay_opt_error : !llvm.ptr
// CHECK-NEXT:    llvm.store %[[CODE]], %[[EP]] : i64, !llvm.ptr
// CHECK-NEXT:    %[[Z:.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    llvm.return %[[Z]] : i64
func.func @count(%n: i64) -> i64 {
  %r = func.call @count(%n) : (i64) -> i64
  func.return %r : i64
}

// A pointer result is null on the error paths.
// CHECK-LABEL: llvm.func @pointer(%p: !llvm.ptr) -> !llvm.ptr
// CHECK:         llvm.store
// CHECK-NEXT:    %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-NEXT:    llvm.return %[[NULL]] : !llvm.ptr
func.func @pointer(%p: memref<4xf32>) -> memref<4xf32> {
  %r = func.call @pointer(%p) : (memref<4xf32>) -> memref<4xf32>
  func.return %r : memref<4xf32>
}

// The caller of a recursive function checks the error after the call; it has no counter.
// CHECK-LABEL: llvm.func @main(%x_2: !llvm.ptr, %out_2: !llvm.ptr)
// CHECK-NEXT:    llvm.call @f(%x_2, %out_2) : (!llvm.ptr, !llvm.ptr) -> ()
// CHECK-NEXT:    llvm.mlir.addressof @relay_opt_error
// CHECK-NOT:     @relay_opt_depth
// CHECK:       }
func.func @main(%x: memref<4xf32>, %out: memref<4xf32>) {
  func.call @f(%x, %out) : (memref<4xf32>, memref<4xf32>) -> ()
  func.return
}

// Calls outside any cycle are plain calls.
// CHECK-LABEL: llvm.func @other(%x_4: !llvm.ptr)
// CHECK-NEXT:    llvm.call @leaf(%x_4) : (!llvm.ptr) -> ()
// CHECK-NEXT:    llvm.return
// CHECK-NEXT:  }
func.func @leaf(%x: memref<4xf32>) {
  func.return
}
func.func @other(%x: memref<4xf32>) {
  func.call @leaf(%x) : (memref<4xf32>) -> ()
  func.return
}

// CHECK: llvm.mlir.global weak @relay_opt_depth(0 : i64)
// CHECK: llvm.mlir.global weak @relay_opt_max_depth(10000 : i64)
// CHECK: llvm.mlir.global weak @relay_opt_stack_floor(0 : i64)
// CHECK: llvm.mlir.global weak @relay_opt_error(0 : i64)
