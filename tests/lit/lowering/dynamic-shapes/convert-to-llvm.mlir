// RUN: relay-opt %s -p convert-to-llvm | filecheck %s

// A memref with `?` dims is its pointer followed by one i64 per `?` dim, in parameters and
// in calls; `memref.dim` of a `?` dim is that size; an access's strides, an allocation's and
// a copy's byte counts are computed from the sizes (row-major).
// CHECK-LABEL: llvm.func @callee(%m: !llvm.ptr, %m_size0: i64, %i: i64) {
func.func @callee(%m: memref<?x3xf32>, %i: index) -> () {
  func.return
}

// CHECK-LABEL: llvm.func @access(%m_1: !llvm.ptr, %m_size0_1: i64, %m_size1: i64, %i_1: i64, %j: i64, %k: i64, %v: f32) -> f32 {
// CHECK:        %[[ELEM:.*]] = llvm.mlir.constant(12) : i64
// CHECK-NEXT:   %[[BYTES:.*]] = llvm.mul %[[ELEM]], %m_size0_1 : i64
// CHECK-NEXT:   %b = llvm.call @malloc(%[[BYTES]]) : (i64) -> !llvm.ptr
// CHECK:        %[[ROW:.*]] = llvm.mul %i_1, %{{.*}} : i64
// CHECK-NEXT:   %[[AT:.*]] = llvm.add %[[ROW]], %j : i64
// CHECK-NEXT:   llvm.getelementptr inbounds %b[%[[AT]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK:        llvm.call @callee(%b, %m_size0_1, %i_1) : (!llvm.ptr, i64, i64) -> ()
// CHECK:        %c = llvm.call @malloc
// CHECK:        %[[COPY:.*]] = llvm.mul %{{.*}}, %m_size0_1 : i64
// CHECK:        llvm.call_intrinsic "llvm.memcpy.p0.p0.i64"(%c, %b, %[[COPY]], %{{.*}})
// CHECK:        %[[S1:.*]] = llvm.mlir.constant(3) : i64
// CHECK-NEXT:   %[[S0:.*]] = llvm.mul %m_size1, %[[S1]] : i64
// CHECK-NEXT:   %[[I:.*]] = llvm.mul %i_1, %[[S0]] : i64
// CHECK-NEXT:   %[[J:.*]] = llvm.mul %j, %m_size1 : i64
// CHECK-NEXT:   %[[IJ:.*]] = llvm.add %[[I]], %[[J]] : i64
// CHECK-NEXT:   %[[IJK:.*]] = llvm.add %[[IJ]], %k : i64
// CHECK-NEXT:   llvm.getelementptr inbounds %m_1[%[[IJK]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
func.func @access(%m: memref<?x3x?xf32>, %i: index, %j: index, %k: index, %v: f32) -> f32 {
  %c0 = arith.constant 0 : index
  %n = memref.dim %m, %c0 : memref<?x3x?xf32>
  %b = memref.alloc(%n) : memref<?x3xf32>
  memref.store %v, %b[%i, %j] : memref<?x3xf32>
  func.call @callee(%b, %i) : (memref<?x3xf32>, index) -> ()
  %c = memref.alloc(%n) : memref<?x3xf32>
  "memref.copy"(%b, %c) : (memref<?x3xf32>, memref<?x3xf32>) -> ()
  memref.dealloc %b : memref<?x3xf32>
  memref.dealloc %c : memref<?x3xf32>
  %x = memref.load %m[%i, %j, %k] : memref<?x3x?xf32>
  func.return %x : f32
}

// A callee's `?` result read from its slot (bufferize): the pointer and the sizes it carries.
// CHECK-LABEL: llvm.func @received(%p: !llvm.ptr, %cols: i64, %r: i64) -> f32 {
// CHECK-NEXT:   %[[R:.*]] = llvm.mul %r, %cols : i64
// CHECK-NEXT:   %[[AT:.*]] = llvm.add %[[R]], %r : i64
// CHECK-NEXT:   llvm.getelementptr inbounds %p[%[[AT]]]
func.func @received(%p: !llvm.ptr, %cols: index, %r: index) -> f32 {
  %m = builtin.unrealized_conversion_cast %p, %cols : !llvm.ptr, index to memref<3x?xf32>
  %x = memref.load %m[%r, %r] : memref<3x?xf32>
  func.return %x : f32
}
