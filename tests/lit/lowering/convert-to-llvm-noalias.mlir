// RUN: relay-opt %s -p convert-to-llvm --split-input-file | filecheck %s

// A bufferized function's memref parameters are noalias when destination passing holds:
// it writes only its out-parameters (relay_opt.outputs counts them) and its own buffers, and
// no caller passes one buffer as an out-parameter and as another argument. Scalars never.
// CHECK-LABEL: llvm.func @scale(%x: !llvm.ptr {llvm.noalias}, %k: f32, %out0: !llvm.ptr {llvm.noalias})
func.func @scale(%x: memref<4xf32>, %k: f32, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %c0 = arith.constant 0 : index
  %v = memref.load %x[%c0] : memref<4xf32>
  %t = memref.alloc() : memref<4xf32>
  memref.store %v, %t[%c0] : memref<4xf32>
  "memref.copy"(%t, %out0) : (memref<4xf32>, memref<4xf32>) -> ()
  memref.dealloc %t : memref<4xf32>
  func.return
}

// Its callers pass their own input and out-parameter, or fresh buffers and views of them,
// and qualify themselves.
// CHECK-LABEL: llvm.func @caller(%{{[a-z0-9_]+}}: !llvm.ptr {llvm.noalias}, %{{[a-z0-9_]+}}: !llvm.ptr {llvm.noalias})
func.func @caller(%a: memref<2x4xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %k = arith.constant 2.0 : f32
  %row = memref.subview %a[1, 0] [1, 4] [1, 1] : memref<2x4xf32> to memref<4xf32, strided<[1], offset: 4>>
  %flat = memref.collapse_shape %a [[0, 1]] : memref<2x4xf32> into memref<8xf32>
  %b = memref.alloc() : memref<4xf32>
  func.call @scale(%out0, %k, %b) : (memref<4xf32>, f32, memref<4xf32>) -> ()
  func.call @scale(%b, %k, %out0) : (memref<4xf32>, f32, memref<4xf32>) -> ()
  memref.dealloc %b : memref<4xf32>
  func.return
}

// -----

// A callee that some caller gives one buffer twice, as input and as out-parameter, is not
// noalias (a view or reshape of a buffer is that buffer); neither is a function that writes
// its input.
// CHECK-LABEL: llvm.func @twice(%x: !llvm.ptr, %out0: !llvm.ptr)
// CHECK-LABEL: llvm.func @in_place(%b: !llvm.ptr {llvm.noalias}, %out0_1: !llvm.ptr {llvm.noalias})
// CHECK-LABEL: llvm.func @writes_input(%{{[a-z0-9_]+}}: !llvm.ptr, %{{[a-z0-9_]+}}: !llvm.ptr)
// CHECK-LABEL: llvm.func @forwarded(%{{[a-z0-9_]+}}: !llvm.ptr, %{{[a-z0-9_]+}}: !llvm.ptr)
// CHECK-LABEL: llvm.func @no_convention(%{{[a-z0-9_]+}}: !llvm.ptr, %{{[a-z0-9_]+}}: !llvm.ptr)
func.func @twice(%x: memref<4xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
  "memref.copy"(%x, %out0) : (memref<4xf32>, memref<4xf32>) -> ()
  func.return
}
func.func @in_place(%b: memref<8xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %t = memref.alloc() : memref<4xf32>
  %e = memref.expand_shape %t [[0, 1]] output_shape [2, 2] : memref<4xf32> into memref<2x2xf32>
  %c = memref.collapse_shape %e [[0, 1]] : memref<2x2xf32> into memref<4xf32>
  func.call @twice(%c, %t) : (memref<4xf32>, memref<4xf32>) -> ()
  memref.dealloc %t : memref<4xf32>
  func.return
}
func.func @writes_input(%x: memref<4xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %c0 = arith.constant 0 : index
  %z = arith.constant 0.0 : f32
  memref.store %z, %x[%c0] : memref<4xf32>
  func.call @forwarded(%x, %out0) : (memref<4xf32>, memref<4xf32>) -> ()
  func.return
}
// Fine alone, but its only caller does not qualify and passes it two of its parameters
// (which may then be one buffer).
func.func @forwarded(%x: memref<4xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
  "memref.copy"(%x, %out0) : (memref<4xf32>, memref<4xf32>) -> ()
  func.return
}
// Without relay_opt.outputs the convention is unknown.
func.func @no_convention(%x: memref<4xf32>, %y: memref<4xf32>) {
  "memref.copy"(%x, %y) : (memref<4xf32>, memref<4xf32>) -> ()
  func.return
}
