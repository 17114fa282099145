// RUN: relay-opt %s -p bufferize | filecheck %s
// RUN: relay-opt %s -p relay-to-llvm | filecheck %s --check-prefix=LLVM

// A scalar result goes into the caller's slot, as an object result does: the callee takes
// a pointer and stores it there; the caller passes a stack slot and loads it back.
// CHECK-LABEL: func.func @exp(%x: f32, %out0: !llvm.ptr) attributes {relay_opt.outputs = 1 : i64} {
// CHECK-NEXT:    %e = math.exp %x : f32
// CHECK-NEXT:    llvm.store %e, %out0 : f32, !llvm.ptr
// CHECK-NEXT:    func.return
func.func @exp(%x: f32) -> f32 {
  %e = math.exp %x : f32
  func.return %e : f32
}

// CHECK-LABEL: func.func @twice(%x: f32, %out0: !llvm.ptr) attributes {relay_opt.outputs = 1 : i64} {
// CHECK:         %[[SLOT:.*]] = llvm.alloca %{{.*}} x !llvm.ptr
// CHECK:         func.call @exp(%x, %[[SLOT]]) : (f32, !llvm.ptr) -> ()
// CHECK-NEXT:    %[[E:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> f32
// CHECK-NEXT:    %[[S:.*]] = arith.addf %[[E]], %[[E]] : f32
// CHECK-NEXT:    llvm.store %[[S]], %out0 : f32, !llvm.ptr
// LLVM-LABEL: llvm.func @twice(%{{.*}}: f32, %{{.*}}: !llvm.ptr {llvm.noalias})
// LLVM:         llvm.call @exp(%{{.*}}, %{{.*}}) : (f32, !llvm.ptr) -> ()
func.func @twice(%x: f32) -> f32 {
  %e = func.call @exp(%x) : (f32) -> f32
  %s = arith.addf %e, %e : f32
  func.return %s : f32
}
