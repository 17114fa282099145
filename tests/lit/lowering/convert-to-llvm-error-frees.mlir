// RUN: relay-opt %s -p convert-to-llvm | filecheck %s

// A function that ends through the error channel frees the buffers it owns at that point:
// those allocated on every path to it and not yet freed (its normal path frees them later).
// A buffer freed before the point, allocated after it, or allocated on one path only is
// not freed there.

builtin.module attributes {relay_opt.match_failures = ["e.rly:2:3"]} {
  func.func private @relay_opt_match_failed(i64)

  // CHECK-LABEL: llvm.func @check(%n: i64, %bad: i1)
  // CHECK:         %[[A:.*]] = llvm.call @malloc(%{{.*}}) : (i64) -> !llvm.ptr
  // CHECK:         llvm.cond_br %bad, ^[[FAIL:.*]], ^[[OK:.*]]
  // CHECK-NEXT:  ^[[FAIL]]:
  // CHECK:         llvm.store %{{.*}}, %{{.*}} : i64, !llvm.ptr
  // CHECK-NEXT:    llvm.call @free(%[[A]]) : (!llvm.ptr) -> ()
  // CHECK-NEXT:    llvm.return
  // CHECK:       ^[[OK]]:
  // CHECK-NEXT:    llvm.call @free(%[[A]]) : (!llvm.ptr) -> ()
  // CHECK-NEXT:    llvm.return
  func.func @check(%n: index, %bad: i1) {
    %a = memref.alloc(%n) : memref<?xf32>
    cf.cond_br %bad, ^fail, ^ok
  ^fail:
    %k = arith.constant 0 : i64
    func.call @relay_opt_match_failed(%k) : (i64) -> ()
    cf.br ^ok
  ^ok:
    memref.dealloc %a : memref<?xf32>
    func.return
  }

  // CHECK-LABEL: llvm.func @caller(%{{.*}}: i64, %{{.*}}: i1, %one: i1)
  // CHECK:         %[[FREED:.*]] = llvm.call @malloc(%{{.*}}) : (i64) -> !llvm.ptr
  // CHECK:         llvm.call @free(%[[FREED]]) : (!llvm.ptr) -> ()
  // CHECK:         %[[KEPT:.*]] = llvm.call @malloc(%{{.*}}) : (i64) -> !llvm.ptr
  // CHECK:         llvm.cond_br %one, ^[[ONE:.*]], ^[[JOIN:.*]]
  // CHECK-NEXT:  ^[[ONE]]:
  // CHECK:         %[[MAYBE:.*]] = llvm.call @malloc(%{{.*}}) : (i64) -> !llvm.ptr
  // CHECK-NEXT:    llvm.call @free(%[[MAYBE]]) : (!llvm.ptr) -> ()
  // CHECK-NEXT:    llvm.br ^[[JOIN]]
  // CHECK-NEXT:  ^[[JOIN]]:
  // CHECK-NEXT:    llvm.call @check(%{{.*}}, %{{.*}}) : (i64, i1) -> ()
  // CHECK:         llvm.cond_br %{{.*}}, ^[[UNWIND:.*]], ^[[REST:.*]]
  // CHECK-NEXT:  ^[[UNWIND]]:
  // CHECK-NEXT:    llvm.call @free(%[[KEPT]]) : (!llvm.ptr) -> ()
  // CHECK-NEXT:    llvm.return
  // CHECK-NEXT:  ^[[REST]]:
  // CHECK:         %[[AFTER:.*]] = llvm.call @malloc(%{{.*}}) : (i64) -> !llvm.ptr
  // CHECK-NEXT:    llvm.call @free(%[[AFTER]]) : (!llvm.ptr) -> ()
  // CHECK-NEXT:    llvm.call @free(%[[KEPT]]) : (!llvm.ptr) -> ()
  // CHECK-NEXT:    llvm.return
  func.func @caller(%n: index, %bad: i1, %one: i1) {
    %freed = memref.alloc(%n) : memref<?xf32>
    memref.dealloc %freed : memref<?xf32>
    %kept = memref.alloc(%n) : memref<?xf32>
    cf.cond_br %one, ^one, ^join
  ^one:
    %maybe = memref.alloc(%n) : memref<?xf32>
    memref.dealloc %maybe : memref<?xf32>
    cf.br ^join
  ^join:
    func.call @check(%n, %bad) : (index, i1) -> ()
    %after = memref.alloc(%n) : memref<?xf32>
    memref.dealloc %after : memref<?xf32>
    memref.dealloc %kept : memref<?xf32>
    func.return
  }
}
