// RUN: relay-opt %s -p convert-to-llvm | filecheck %s

// A block no branch reaches (the join of an if whose two arms became tail-call loops) is
// dropped, not left empty: an llvm block without a terminator is invalid LLVM IR (the fuzzer
// found it: a recursive closure at -O0).
// CHECK-LABEL: llvm.func @loop(%n: !llvm.ptr, %out0: !llvm.ptr)
// CHECK-NEXT:    llvm.br ^[[HEAD:.*]](%n : !llvm.ptr)
// CHECK-NEXT:  ^[[HEAD]](%[[N:.*]]: !llvm.ptr):
// CHECK-NEXT:    %[[V:.*]] = llvm.load %[[N]] : !llvm.ptr -> i1
// CHECK-NEXT:    llvm.cond_br %[[V]], ^[[HEAD]](%[[N]] : !llvm.ptr), ^[[DONE:.*]]
// CHECK-NEXT:  ^[[DONE]]:
// CHECK-NEXT:    llvm.return
// CHECK-NEXT:  }
func.func @loop(%n: memref<i1>, %out0: memref<i1>) {
  cf.br ^head(%n : memref<i1>)
^head(%m: memref<i1>):
  %c = memref.load %m[] : memref<i1>
  cf.cond_br %c, ^head(%m : memref<i1>), ^done
^join:
  memref.dealloc %m : memref<i1>
  func.return
^done:
  func.return
}
