// RUN: relay-opt %s -p tail-calls-to-loops | filecheck %s

// A self tail call (the caller's out-parameter passed on, only frees after it) is a branch
// to the loop head. The parameters are copied once into buffers the loop owns; the jump
// hands over the temporary it would have freed, copies the constant, frees the parameters
// it drops; the return frees the loop's parameters.
// CHECK-LABEL: func.func @loop(%i: memref<i32>, %n: memref<i32>, %out0: memref<i32>)
// CHECK-NEXT:    %[[I0:.*]] = memref.alloc() : memref<i32>
// CHECK-NEXT:    "memref.copy"(%i, %[[I0]])
// CHECK-NEXT:    %[[N0:.*]] = memref.alloc() : memref<i32>
// CHECK-NEXT:    "memref.copy"(%n, %[[N0]])
// CHECK-NEXT:    cf.br ^[[HEAD:.*]](%[[I0]], %[[N0]], %out0 : memref<i32>, memref<i32>, memref<i32>)
// CHECK-NEXT:  ^[[HEAD]](%[[I:.*]]: memref<i32>, %[[N:.*]]: memref<i32>, %[[OUT:.*]]: memref<i32>):
// CHECK:         cf.cond_br %{{.*}}, ^[[THEN:.*]], ^[[ELSE:.*]]
// CHECK-NEXT:  ^[[THEN]]:
// CHECK-NEXT:    %[[NEXT:.*]] = memref.alloc() : memref<i32>
// CHECK:         %[[K:.*]] = memref.get_global @k : memref<i32>
// CHECK-NEXT:    %[[KC:.*]] = memref.alloc() : memref<i32>
// CHECK-NEXT:    "memref.copy"(%[[K]], %[[KC]])
// CHECK-NEXT:    memref.dealloc %[[I]] : memref<i32>
// CHECK-NEXT:    memref.dealloc %[[N]] : memref<i32>
// CHECK-NEXT:    cf.br ^[[HEAD]](%[[NEXT]], %[[KC]], %[[OUT]] : memref<i32>, memref<i32>, memref<i32>)
// CHECK-NEXT:  ^[[ELSE]]:
// CHECK-NEXT:    "memref.copy"(%[[I]], %[[OUT]])
// CHECK-NEXT:    cf.br ^[[DONE:.*]]
// CHECK-NEXT:  ^[[DONE]]:
// CHECK-NEXT:    memref.dealloc %[[I]] : memref<i32>
// CHECK-NEXT:    memref.dealloc %[[N]] : memref<i32>
// CHECK-NEXT:    func.return
// CHECK-NOT:     func.call
"memref.global"() <{sym_name = "k", type = memref<i32>, initial_value = dense<3> : tensor<i32>, sym_visibility = "private", constant}> : () -> ()
func.func @loop(%i: memref<i32>, %n: memref<i32>, %out0: memref<i32>) attributes {relay_opt.outputs = 1 : i64} {
  %a = memref.load %i[] : memref<i32>
  %b = memref.load %n[] : memref<i32>
  %c = arith.cmpi slt, %a, %b : i32
  cf.cond_br %c, ^then, ^else
^then:
  %next = memref.alloc() : memref<i32>
  %one = arith.constant 1 : i32
  %s = arith.addi %a, %one : i32
  memref.store %s, %next[] : memref<i32>
  %k = memref.get_global @k : memref<i32>
  func.call @loop(%next, %k, %out0) : (memref<i32>, memref<i32>, memref<i32>) -> ()
  memref.dealloc %next : memref<i32>
  cf.br ^done
^else:
  "memref.copy"(%i, %out0) : (memref<i32>, memref<i32>) -> ()
  cf.br ^done
^done:
  func.return
}

// Mutual tail calls: @even holds a copy of @odd's body; each tail call is a branch to its
// callee's head in the same function.
// CHECK-LABEL: func.func @even(%n: memref<i32>, %out0: memref<i1>)
// CHECK:         cf.br ^[[EVEN:.*]](%{{.*}}, %out0 : memref<i32>, memref<i1>)
// CHECK-NEXT:  ^[[EVEN]](%[[EN:.*]]: memref<i32>, %[[EO:.*]]: memref<i1>):
// CHECK:         cf.br ^[[ODD:.*]](%{{.*}}, %[[EO]] : memref<i32>, memref<i1>)
// CHECK:       ^[[ODD]](%[[ON:.*]]: memref<i32>, %[[OO:.*]]: memref<i1>):
// CHECK:         cf.br ^[[EVEN]](%{{.*}}, %[[OO]] : memref<i32>, memref<i1>)
// CHECK-NOT:     func.call
// CHECK-LABEL: func.func @odd(
func.func @even(%n: memref<i32>, %out0: memref<i1>) attributes {relay_opt.outputs = 1 : i64} {
  %a = memref.load %n[] : memref<i32>
  %zero = arith.constant 0 : i32
  %c = arith.cmpi eq, %a, %zero : i32
  cf.cond_br %c, ^yes, ^no
^yes:
  %t = arith.constant true
  memref.store %t, %out0[] : memref<i1>
  func.return
^no:
  %m = memref.alloc() : memref<i32>
  %one = arith.constant 1 : i32
  %s = arith.subi %a, %one : i32
  memref.store %s, %m[] : memref<i32>
  func.call @odd(%m, %out0) : (memref<i32>, memref<i1>) -> ()
  memref.dealloc %m : memref<i32>
  func.return
}
func.func @odd(%n: memref<i32>, %out0: memref<i1>) attributes {relay_opt.outputs = 1 : i64} {
  %a = memref.load %n[] : memref<i32>
  %zero = arith.constant 0 : i32
  %c = arith.cmpi eq, %a, %zero : i32
  cf.cond_br %c, ^yes, ^no
^yes:
  %f = arith.constant false
  memref.store %f, %out0[] : memref<i1>
  func.return
^no:
  %m = memref.alloc() : memref<i32>
  %one = arith.constant 1 : i32
  %s = arith.subi %a, %one : i32
  memref.store %s, %m[] : memref<i32>
  func.call @even(%m, %out0) : (memref<i32>, memref<i1>) -> ()
  memref.dealloc %m : memref<i32>
  func.return
}

// A call followed by more work is not a tail call, nor is a call of a function outside any
// cycle: both stay calls, and the function is left alone.
// CHECK-LABEL: func.func @sum(%n: memref<i32>, %out0: memref<i32>)
// CHECK-NEXT:    %[[R:.*]] = memref.alloc() : memref<i32>
// CHECK-NEXT:    func.call @sum(%n, %[[R]])
// CHECK-NEXT:    "memref.copy"(%[[R]], %out0)
// CHECK:       func.func @leaf
// CHECK-LABEL: func.func @main(%n: memref<i32>, %out0: memref<i32>)
// CHECK-NEXT:    func.call @leaf(%n, %out0)
// CHECK-NEXT:    func.return
func.func @sum(%n: memref<i32>, %out0: memref<i32>) attributes {relay_opt.outputs = 1 : i64} {
  %r = memref.alloc() : memref<i32>
  func.call @sum(%n, %r) : (memref<i32>, memref<i32>) -> ()
  "memref.copy"(%r, %out0) : (memref<i32>, memref<i32>) -> ()
  memref.dealloc %r : memref<i32>
  func.return
}
func.func @leaf(%n: memref<i32>, %out0: memref<i32>) attributes {relay_opt.outputs = 1 : i64} {
  "memref.copy"(%n, %out0) : (memref<i32>, memref<i32>) -> ()
  func.return
}
func.func @main(%n: memref<i32>, %out0: memref<i32>) attributes {relay_opt.outputs = 1 : i64} {
  func.call @leaf(%n, %out0) : (memref<i32>, memref<i32>) -> ()
  func.return
}

// A closure dispatch whose every arm is a tail call: each arm becomes a jump and the join
// block no branch reaches any more is dropped (LLVM wants every block terminated, and
// convert-to-llvm does not translate unreachable blocks). The backpropagator closures of
// the higher-order gradient run this way, each calling the next one last.
// CHECK-LABEL: func.func @apply(%p: !llvm.ptr)
// CHECK:         cf.cond_br %{{.*}}, ^[[A:.*]], ^[[B:.*]]
// CHECK-NEXT:  ^[[A]]:
// CHECK-NEXT:    cf.br ^{{.*}}(%{{.*}} : !llvm.ptr)
// CHECK-NEXT:  ^[[B]]:
// CHECK-NEXT:    cf.br ^{{.*}}(%{{.*}} : !llvm.ptr)
// CHECK-NOT:     func.return
// CHECK-LABEL: func.func @step_a
func.func @apply(%p: !llvm.ptr) attributes {relay_opt.outputs = 0 : i64} {
  %t = llvm.load %p : !llvm.ptr -> i64
  %z = arith.constant 0 : i64
  %c = arith.cmpi eq, %t, %z : i64
  cf.cond_br %c, ^a, ^b
^a:
  func.call @step_a(%p) : (!llvm.ptr) -> ()
  cf.br ^join
^b:
  func.call @step_b(%p) : (!llvm.ptr) -> ()
  cf.br ^join
^join:
  func.return
}
func.func @step_a(%p: !llvm.ptr) attributes {relay_opt.outputs = 0 : i64} {
  func.call @apply(%p) : (!llvm.ptr) -> ()
  func.return
}
func.func @step_b(%p: !llvm.ptr) attributes {relay_opt.outputs = 0 : i64} {
  func.call @apply(%p) : (!llvm.ptr) -> ()
  func.return
}
