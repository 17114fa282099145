// RUN: relay-opt %s -p convert-scf-to-cf | filecheck %s --check-prefix=CF
// RUN: relay-opt %s -p convert-scf-to-cf,convert-to-llvm | filecheck %s --check-prefix=LLVM

// What bufferize leaves of an if (no results: the branches wrote their destinations) and of
// an index_switch become branches, then llvm branches; cf.switch is a chain of tests.
// CF-LABEL: func.func @choose(%c: memref<i1>, %x: memref<4xf32>, %out0: memref<4xf32>)
// CF-NEXT:    %[[C:.*]] = memref.load %c[] : memref<i1>
// CF-NEXT:    cf.cond_br %[[C]], ^[[T:.*]], ^[[E:.*]]
// CF-NEXT:  ^[[T]]:
// CF-NEXT:    "memref.copy"(%x, %out0)
// CF-NEXT:    cf.br ^[[J:.*]]
// CF-NEXT:  ^[[E]]:
// CF-NEXT:    func.call @choose(%c, %x, %out0)
// CF-NEXT:    cf.br ^[[J]]
// CF-NEXT:  ^[[J]]:
// CF-NEXT:    func.return
// LLVM-LABEL: llvm.func @choose(%c: !llvm.ptr {llvm.noalias}, %x: !llvm.ptr {llvm.noalias}, %out0: !llvm.ptr {llvm.noalias})
// LLVM:         %[[C:.*]] = llvm.load %{{.*}} : !llvm.ptr -> i1
// LLVM-NEXT:    llvm.cond_br %[[C]], ^{{.*}}, ^{{.*}}
func.func @choose(%c: memref<i1>, %x: memref<4xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %0 = memref.load %c[] : memref<i1>
  scf.if %0 {
    "memref.copy"(%x, %out0) : (memref<4xf32>, memref<4xf32>) -> ()
  } else {
    func.call @choose(%c, %x, %out0) : (memref<i1>, memref<4xf32>, memref<4xf32>) -> ()
  }
  func.return
}

// CF-LABEL: func.func @pick(%i: memref<i32>, %out0: memref<i32>)
// CF:         cf.switch %{{.*}} : i32, [
// CF-NEXT:      default: ^[[D:.*]],
// CF-NEXT:      0: ^[[A:.*]],
// CF-NEXT:      5: ^[[B:.*]]
// CF-NEXT:    ]
// LLVM-LABEL: llvm.func @pick(%i: !llvm.ptr {llvm.noalias}, %{{.*}}: !llvm.ptr {llvm.noalias})
// LLVM:         %[[F:.*]] = llvm.trunc %{{.*}} : i64 to i32
// LLVM-NEXT:    %[[ZERO:.*]] = llvm.mlir.constant(0 : i32) : i32
// LLVM-NEXT:    %[[IS0:.*]] = llvm.icmp "eq" %[[F]], %[[ZERO]] : i32
// LLVM-NEXT:    llvm.cond_br %[[IS0]], ^[[CASE0:.*]], ^[[TEST5:.*]]
// LLVM-NEXT:  ^[[TEST5]]:
// LLVM-NEXT:    %[[FIVE:.*]] = llvm.mlir.constant(5 : i32) : i32
// LLVM-NEXT:    %[[IS5:.*]] = llvm.icmp "eq" %[[F]], %[[FIVE]] : i32
// LLVM-NEXT:    llvm.cond_br %[[IS5]], ^{{.*}}, ^[[DEFAULT:.*]]
// LLVM-NEXT:  ^[[DEFAULT]]:
// LLVM-NEXT:    llvm.br ^{{.*}}
func.func @pick(%i: memref<i32>, %out0: memref<i32>) attributes {relay_opt.outputs = 1 : i64} {
  %0 = memref.load %i[] : memref<i32>
  %1 = arith.index_cast %0 : i32 to index
  scf.index_switch %1
  case 0 {
    %a = arith.constant 7 : i32
    memref.store %a, %out0[] : memref<i32>
    scf.yield
  }
  case 5 {
    %b = arith.constant 9 : i32
    memref.store %b, %out0[] : memref<i32>
    scf.yield
  }
  default {
    "memref.copy"(%i, %out0) : (memref<i32>, memref<i32>) -> ()
    scf.yield
  }
  func.return
}
