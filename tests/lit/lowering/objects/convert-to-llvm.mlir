// RUN: relay-opt %s -p convert-to-llvm | filecheck %s

// Objects in convert-to-llvm (docs/native-objects.md): llvm-dialect ops pass through, a
// pointer cast to a memref is the same pointer, and a call of @relay_opt_match_failed
// stores MATCH_FAILURE_BASE (2^32) + its code in @relay_opt_error and returns; callers check
// the error after calling a function that may fail.

// CHECK: builtin.module attributes {relay_opt.match_failures = ["f.rly:3:3"], relay_opt.recursive_functions = []}
// CHECK-LABEL: llvm.func @hd2(%xs: !llvm.ptr {llvm.noalias}, %out0: !llvm.ptr {llvm.noalias})
// CHECK-NEXT:    %[[TAG:.*]] = llvm.load %xs : !llvm.ptr -> i64
// CHECK-NEXT:    %[[C:.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    %[[IS:.*]] = llvm.icmp "eq" %[[TAG]], %[[C]] : i64
// CHECK-NEXT:    llvm.cond_br %[[IS]], ^[[YES:.*]], ^[[NO:.*]]
// CHECK-NEXT:  ^[[YES]]:
// CHECK-NEXT:    %[[S:.*]] = llvm.getelementptr inbounds %xs[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    %[[BUF:.*]] = llvm.load %[[S]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT:    %[[N:.*]] = llvm.mlir.constant(8) : i64
// CHECK-NEXT:    %[[V:.*]] = llvm.mlir.constant(false) : i1
// CHECK-NEXT:    llvm.call_intrinsic "llvm.memcpy.p0.p0.i64"(%out0, %[[BUF]], %[[N]], %[[V]])
// CHECK-NEXT:    llvm.br ^[[END:.*]]
// CHECK-NEXT:  ^[[NO]]:
// CHECK-NEXT:    %{{.*}} = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    %[[CODE:.*]] = llvm.mlir.constant(4294967296) : i64
// CHECK-NEXT:    %[[E:.*]] = llvm.mlir.addressof @relay_opt_error : !llvm.ptr
// CHECK-NEXT:    llvm.store %[[CODE]], %[[E]] : i64, !llvm.ptr
// CHECK-NEXT:    llvm.return
// The rest of the failing branch: a block without predecessors.
// CHECK-NEXT:  ^{{.*}}:
// CHECK-NEXT:    llvm.br ^[[END]]
// CHECK-LABEL: llvm.func @main(
// CHECK:         llvm.call @hd2(%{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr) -> ()
// CHECK-NEXT:    %[[EA:.*]] = llvm.mlir.addressof @relay_opt_error : !llvm.ptr
// CHECK-NEXT:    %[[ERR:.*]] = llvm.load %[[EA]] : !llvm.ptr -> i64
// CHECK:         llvm.icmp "ne" %[[ERR]]
// CHECK-NOT:   @relay_opt_match_failed
builtin.module attributes {relay_opt.match_failures = ["f.rly:3:3"]} {
  func.func @hd2(%xs: !llvm.ptr, %out0: memref<2xf32>) attributes {relay_opt.outputs = 1 : i64} {
    %0 = llvm.load %xs : !llvm.ptr -> i64
    %1 = arith.constant 0 : i64
    %2 = arith.cmpi eq, %0, %1 : i64
    cf.cond_br %2, ^bb1, ^bb2
  ^bb1:
    %3 = llvm.getelementptr inbounds %xs[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
    %4 = llvm.load %3 : !llvm.ptr -> !llvm.ptr
    %5 = builtin.unrealized_conversion_cast %4 : !llvm.ptr to memref<2xf32>
    "memref.copy"(%5, %out0) : (memref<2xf32>, memref<2xf32>) -> ()
    cf.br ^bb3
  ^bb2:
    %6 = arith.constant 0 : i64
    func.call @relay_opt_match_failed(%6) : (i64) -> ()
    cf.br ^bb3
  ^bb3:
    func.return
  }
  func.func @main(%xs: !llvm.ptr, %out0: memref<2xf32>) attributes {relay_opt.outputs = 1 : i64} {
    %0 = memref.alloc() : memref<2xf32>
    func.call @hd2(%xs, %0) : (!llvm.ptr, memref<2xf32>) -> ()
    %1 = arith.constant 2 : index
    %2 = arith.constant 0 : index
    %3 = arith.constant 1 : index
    cf.br ^bb1(%2 : index)
  ^bb1(%4: index):
    %5 = arith.cmpi slt, %4, %1 : index
    cf.cond_br %5, ^bb2, ^bb3
  ^bb2:
    %6 = memref.load %0[%4] : memref<2xf32>
    %7 = arith.negf %6 : f32
    memref.store %7, %out0[%4] : memref<2xf32>
    %8 = arith.addi %4, %3 : index
    cf.br ^bb1(%8 : index)
  ^bb3:
    memref.dealloc %0 : memref<2xf32>
    func.return
  }
  func.func private @relay_opt_match_failed(i64) -> ()
}

