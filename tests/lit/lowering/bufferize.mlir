// RUN: relay-opt %s -p bufferize --split-input-file | filecheck %s

// Results are out-parameters; a linalg op writes its result straight into it.
// An intermediate gets an alloc, freed right after its last use. No copies.
// CHECK-LABEL: func.func @chain(%x: memref<4xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
// CHECK-NEXT:   %[[T:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT:   linalg.generic {{.*}} ins(%x : memref<4xf32>) outs(%[[T]] : memref<4xf32>)
// CHECK:        linalg.generic {{.*}} ins(%[[T]] : memref<4xf32>) outs(%out0 : memref<4xf32>)
// CHECK:        memref.dealloc %[[T]] : memref<4xf32>
// CHECK-NEXT:   func.return
// CHECK-NOT:    "memref.copy"
func.func @chain(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e0 = tensor.empty() : tensor<4xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%e0 : tensor<4xf32>) {
  ^bb0(%i: f32, %o: f32):
    %n = arith.negf %i : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  %e1 = tensor.empty() : tensor<4xf32>
  %b = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%a : tensor<4xf32>) outs(%e1 : tensor<4xf32>) {
  ^bb0(%i: f32, %o: f32):
    %m = arith.mulf %i, %i : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  func.return %b : tensor<4xf32>
}

// -----

// A parameter or a constant returned as a result must be copied; so must a value returned twice.
// xDSL prints memref.global and memref.copy in the generic form (valid upstream too).
// CHECK:      "memref.global"() <{sym_name = "__constant_0", type = memref<2xf32>, initial_value = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>, sym_visibility = "private", constant}>
// CHECK-LABEL: func.func @copies(%x: memref<2xf32>, %out0: memref<2xf32>, %out1: memref<2xf32>, %out2: memref<2xf32>)
// CHECK-NEXT:   %[[G:.*]] = memref.get_global @__constant_0 : memref<2xf32>
// CHECK-NEXT:   "memref.copy"(%x, %out0) : (memref<2xf32>, memref<2xf32>) -> ()
// CHECK-NEXT:   "memref.copy"(%[[G]], %out1) : (memref<2xf32>, memref<2xf32>) -> ()
// CHECK-NEXT:   "memref.copy"(%x, %out2) : (memref<2xf32>, memref<2xf32>) -> ()
func.func @copies(%x: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) {
  %c = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  func.return %x, %c, %x : tensor<2xf32>, tensor<2xf32>, tensor<2xf32>
}

// -----

// Calls pass their destinations.
// CHECK-LABEL: func.func @caller(%y: memref<3xf32>, %out0: memref<3xf32>)
// CHECK-NEXT:   func.call @callee(%y, %out0) : (memref<3xf32>, memref<3xf32>) -> ()
func.func @callee(%x: tensor<3xf32>) -> tensor<3xf32> {
  %e = tensor.empty() : tensor<3xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<3xf32>) outs(%e : tensor<3xf32>) {
  ^bb0(%i: f32, %o: f32):
    linalg.yield %i : f32
  } -> tensor<3xf32>
  func.return %r : tensor<3xf32>
}
func.func @caller(%y: tensor<3xf32>) -> tensor<3xf32> {
  %r = func.call @callee(%y) : (tensor<3xf32>) -> tensor<3xf32>
  func.return %r : tensor<3xf32>
}

// -----

// Constants of every function become globals at the top of the module, also when the
// function holding one is not the first (the first is replaced before they are placed).
// CHECK:      "memref.global"() <{sym_name = "__constant_0", type = memref<2xf32>, initial_value = dense<[3.000000e+00, 4.000000e+00]> : tensor<2xf32>, sym_visibility = "private", constant}>
// CHECK-NEXT: func.func @no_constant(
// CHECK-LABEL: func.func @second(%out0: memref<2xf32>)
// CHECK-NEXT:   %[[G:.*]] = memref.get_global @__constant_0 : memref<2xf32>
// CHECK-NEXT:   "memref.copy"(%[[G]], %out0)
func.func @no_constant(%x: tensor<2xf32>) -> tensor<2xf32> {
  func.return %x : tensor<2xf32>
}
func.func @second() -> tensor<2xf32> {
  %c = arith.constant dense<[3.0, 4.0]> : tensor<2xf32>
  func.return %c : tensor<2xf32>
}

// -----

// A static slice is a view of its source's buffer, no copy; the buffer is freed only after
// the last read through the view.
// CHECK-LABEL: func.func @slice_view(%x: memref<2x6xf32>, %out0: memref<2x2xf32>)
// CHECK-NEXT:   %[[T:.*]] = memref.alloc() : memref<2x6xf32>
// CHECK-NEXT:   linalg.generic {{.*}} ins(%x : memref<2x6xf32>) outs(%[[T]] : memref<2x6xf32>)
// CHECK:        %[[V:.*]] = memref.subview %[[T]][0, 0] [2, 2] [1, 1] : memref<2x6xf32> to memref<2x2xf32, strided<[6, 1]>>
// CHECK-NEXT:   linalg.generic {{.*}} ins(%[[V]] : memref<2x2xf32, strided<[6, 1]>>) outs(%out0 : memref<2x2xf32>)
// CHECK:        memref.dealloc %[[T]] : memref<2x6xf32>
// CHECK-NEXT:   func.return
func.func @slice_view(%x: tensor<2x6xf32>) -> tensor<2x2xf32> {
  %e0 = tensor.empty() : tensor<2x6xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<2x6xf32>) outs(%e0 : tensor<2x6xf32>) {
  ^bb0(%i: f32, %o: f32):
    %n = arith.negf %i : f32
    linalg.yield %n : f32
  } -> tensor<2x6xf32>
  %s = tensor.extract_slice %a[0, 0] [2, 2] [1, 1] : tensor<2x6xf32> to tensor<2x2xf32>
  %e1 = tensor.empty() : tensor<2x2xf32>
  %b = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%s : tensor<2x2xf32>) outs(%e1 : tensor<2x2xf32>) {
  ^bb0(%i: f32, %o: f32):
    linalg.yield %i : f32
  } -> tensor<2x2xf32>
  func.return %b : tensor<2x2xf32>
}

// -----

// insert_slice copies its source into a view of its destination's buffer, updated in place
// along a chain (a concatenate): the parts land straight in the out-parameter.
// CHECK-LABEL: func.func @concat(%a: memref<2x3xf32>, %b: memref<2x1xf32>, %out0: memref<2x4xf32>)
// CHECK-NEXT:   %[[V0:.*]] = memref.subview %out0[0, 0] [2, 3] [1, 1] : memref<2x4xf32> to memref<2x3xf32, strided<[4, 1]>>
// CHECK-NEXT:   linalg.generic {{.*}} ins(%a : memref<2x3xf32>) outs(%[[V0]] : memref<2x3xf32, strided<[4, 1]>>)
// CHECK:        %[[V1:.*]] = memref.subview %out0[0, 3] [2, 1] [1, 1] : memref<2x4xf32> to memref<2x1xf32, strided<[4, 1], offset: 3>>
// CHECK-NEXT:   linalg.generic {{.*}} ins(%b : memref<2x1xf32>) outs(%[[V1]] : memref<2x1xf32, strided<[4, 1], offset: 3>>)
// CHECK:        func.return
// CHECK-NOT:    memref.copy
func.func @concat(%a: tensor<2x3xf32>, %b: tensor<2x1xf32>) -> tensor<2x4xf32> {
  %0 = tensor.empty() : tensor<2x4xf32>
  %1 = tensor.insert_slice %a into %0[0, 0] [2, 3] [1, 1] : tensor<2x3xf32> into tensor<2x4xf32>
  %2 = tensor.insert_slice %b into %1[0, 3] [2, 1] [1, 1] : tensor<2x1xf32> into tensor<2x4xf32>
  func.return %2 : tensor<2x4xf32>
}

// -----

// A declared external function (C's fmodf, called by a kernel) is left as it is.
// CHECK:      func.func private @fmodf(f32, f32) -> f32
// CHECK-LABEL: func.func @uses_fmodf(%x: memref<f32>, %out0: memref<f32>)
func.func private @fmodf(f32, f32) -> f32
func.func @uses_fmodf(%x: tensor<f32>) -> tensor<f32> {
  %e = tensor.empty() : tensor<f32>
  %r = linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []} ins(%x : tensor<f32>) outs(%e : tensor<f32>) {
  ^bb0(%i: f32, %o: f32):
    %m = func.call @fmodf(%i, %i) : (f32, f32) -> f32
    linalg.yield %m : f32
  } -> tensor<f32>
  func.return %r : tensor<f32>
}
