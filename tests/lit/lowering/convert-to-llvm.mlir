// RUN: relay-opt %s -p convert-to-llvm | filecheck %s

// Memrefs are bare pointers; an access is a row-major offset with constant strides.
// CHECK-LABEL: llvm.func @load_store(%m: !llvm.ptr, %i: i64, %j: i64, %v: f32) -> f32
// CHECK:      %[[S:.*]] = llvm.mlir.constant(3) : i64
// CHECK-NEXT: %[[M:.*]] = llvm.mul %i, %[[S]] : i64
// CHECK-NEXT: %[[O:.*]] = llvm.add %[[M]], %j : i64
// CHECK-NEXT: %[[P:.*]] = llvm.getelementptr inbounds %m[%[[O]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK-NEXT: %{{.*}} = llvm.load %[[P]] : !llvm.ptr -> f32
// CHECK:      llvm.store %v, %{{.*}} : f32, !llvm.ptr
func.func @load_store(%m: memref<2x3xf32>, %i: index, %j: index, %v: f32) -> f32 {
  %x = memref.load %m[%i, %j] : memref<2x3xf32>
  memref.store %v, %m[%i, %j] : memref<2x3xf32>
  func.return %x : f32
}

// Allocation calls malloc and free; copies are llvm.memcpy; math has intrinsics (by their
// type-mangled names, so f16 and f32 can mix in a module) or libm.
// (xDSL's printer makes names unique across the module, hence %x_1.)
// CHECK-LABEL: llvm.func @memory_and_math(
// CHECK-SAME:   %[[A:[a-z0-9_]+]]: !llvm.ptr, %[[X:[a-z0-9_]+]]: f32) -> f32
// CHECK:      %[[N:.*]] = llvm.mlir.constant(24) : i64
// CHECK-NEXT: %[[B:.*]] = llvm.call @malloc(%[[N]]) : (i64) -> !llvm.ptr
// CHECK:      llvm.call_intrinsic "llvm.memcpy.p0.p0.i64"(%[[B]], %[[A]], %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64, i1) -> ()
// CHECK:      llvm.call @free(%[[B]]) : (!llvm.ptr) -> ()
// CHECK:      %[[E:.*]] = llvm.call_intrinsic "llvm.exp.f32"(%[[X]]) : (f32) -> f32
// CHECK:      %[[T:.*]] = llvm.call @tanhf(%[[E]]) : (f32) -> f32
// CHECK:      llvm.call_intrinsic "llvm.maximum.f32"(%[[T]], %[[X]]) : (f32, f32) -> f32
func.func @memory_and_math(%a: memref<6xf32>, %x: f32) -> f32 {
  %b = memref.alloc() : memref<6xf32>
  "memref.copy"(%a, %b) : (memref<6xf32>, memref<6xf32>) -> ()
  memref.dealloc %b : memref<6xf32>
  %e = math.exp %x : f32
  %t = math.tanh %e : f32
  %m = arith.maximumf %t, %x : f32
  func.return %m : f32
}

// Control flow: blocks and their arguments carry over.
// CHECK-LABEL: llvm.func @branches(
// CHECK-SAME:   %[[C:[a-z0-9_]+]]: i1, %[[A2:[a-z0-9_]+]]: i64, %[[B2:[a-z0-9_]+]]: i64) -> i64
// CHECK:      llvm.cond_br %[[C]], ^bb1(%[[A2]] : i64), ^bb1(%[[B2]] : i64)
// CHECK:      ^bb1(%[[V:.*]]: i64):
// CHECK-NEXT:   %{{.*}} = llvm.sdiv %[[V]], %[[A2]] : i64
func.func @branches(%c: i1, %a: index, %b: index) -> index {
  cf.cond_br %c, ^bb1(%a : index), ^bb1(%b : index)
^bb1(%v: index):
  %q = arith.divsi %v, %a : index
  func.return %q : index
}

// Reshapes keep the pointer; a subview moves it, and its type's strides index it.
// CHECK-LABEL: llvm.func @views(
// CHECK:       %[[V:.*]] = llvm.getelementptr inbounds %{{.*}}[9] : (!llvm.ptr) -> !llvm.ptr, f32
// CHECK:       %[[S:.*]] = llvm.mlir.constant(8) : i64
// CHECK-NEXT:  %[[M:.*]] = llvm.mul %{{.*}}, %[[S]] : i64
// CHECK:       llvm.getelementptr inbounds %[[V]][%{{.*}}] : (!llvm.ptr, i64) -> !llvm.ptr, f32
func.func @views(%m: memref<4x8xf32>, %i: index, %j: index) -> f32 {
  %flat = memref.collapse_shape %m [[0, 1]] : memref<4x8xf32> into memref<32xf32>
  %back = memref.expand_shape %flat [[0, 1]] output_shape [4, 8] : memref<32xf32> into memref<4x8xf32>
  %sub = memref.subview %back[1, 1] [2, 3] [1, 1] : memref<4x8xf32> to memref<2x3xf32, strided<[8, 1], offset: 9>>
  %x = memref.load %sub[%i, %j] : memref<2x3xf32, strided<[8, 1], offset: 9>>
  func.return %x : f32
}

// External C functions are declared once, at the end of the module.
// CHECK-DAG: llvm.func @malloc(i64) -> !llvm.ptr
// CHECK-DAG: llvm.func @free(!llvm.ptr)
// CHECK-DAG: llvm.func @tanhf(f32) -> f32
