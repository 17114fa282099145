// Checks of upstream ops that xDSL's verifier lacks or raises as a bare Exception: each is a
// located error at the op when the module is loaded, never an internal error later.
// RUN: relay-opt %s --split-input-file --verify-diagnostics | filecheck %s
// RUN: not relay-opt %s -p relay-to-llvm 2>&1 | filecheck %s --check-prefix=EXIT
// EXIT: slices-invalid.mlir:[[# @LINE + 8]]:3: error: 'memref.store' op expected an index for each dimension
// EXIT-NOT: internal error

// ---- memref.load / memref.store: one index per dim ------------------------------------------

// CHECK: slices-invalid.mlir:[[# @LINE + 3]]:3: error: 'memref.store' op expected an index for each dimension
// CHECK-NEXT: {{^}}  memref.store %v, %t[] : memref<4xf32>
func.func @store(%v: f32, %t: memref<4xf32>) {
  memref.store %v, %t[] : memref<4xf32>
  func.return
}

// -----
// CHECK: slices-invalid.mlir:[[# @LINE + 3]]:3: error: 'memref.load' op expected an index for each dimension
func.func @load(%t: memref<4x4xf32>) -> f32 {
  %i = arith.constant 0 : index
  %v = memref.load %t[%i] : memref<4x4xf32>
  func.return %v : f32
}

// ---- tensor.insert_slice: sizes, rank reduction, bounds -------------------------------------

// -----
// CHECK: slices-invalid.mlir:[[# @LINE + 2]]:3: error: 'tensor.insert_slice' op expected type to be 'tensor<2x11xf32>' or a rank-reduced version. (size mismatch)
func.func @insert_sizes(%b: tensor<2x1xf32>, %d: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %r = tensor.insert_slice %b into %d[0, 3] [2, 11] [1, 1] : tensor<2x1xf32> into tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}

// -----
// CHECK: slices-invalid.mlir:[[# @LINE + 2]]:3: error: 'tensor.insert_slice' op slice along dimension 1 runs out-of-bounds: 4 >= 4
func.func @insert_past_end(%b: tensor<2x2xf32>, %d: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %r = tensor.insert_slice %b into %d[0, 3] [2, 2] [1, 1] : tensor<2x2xf32> into tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}

// -----
// CHECK: slices-invalid.mlir:[[# @LINE + 2]]:3: error: 'tensor.insert_slice' op expected 2 offset values, got 1
func.func @insert_rank(%b: tensor<4xf32>, %d: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %r = tensor.insert_slice %b into %d[0] [4] [1] : tensor<4xf32> into tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}

// ---- tensor.extract_slice -------------------------------------------------------------------

// -----
// CHECK: slices-invalid.mlir:[[# @LINE + 2]]:3: error: 'tensor.extract_slice' op expected type to be 'tensor<2x3xf32>' or a rank-reduced version. (size mismatch)
func.func @extract_sizes(%s: tensor<4x4xf32>) -> tensor<2x2xf32> {
  %r = tensor.extract_slice %s[0, 0] [2, 3] [1, 1] : tensor<4x4xf32> to tensor<2x2xf32>
  func.return %r : tensor<2x2xf32>
}

// -----
// CHECK: slices-invalid.mlir:[[# @LINE + 2]]:3: error: 'tensor.extract_slice' op offset 0 is out-of-bounds: 4 >= 4
func.func @extract_offset(%s: tensor<4x4xf32>) -> tensor<4xf32> {
  %r = tensor.extract_slice %s[4, 0] [1, 4] [1, 1] : tensor<4x4xf32> to tensor<4xf32>
  func.return %r : tensor<4xf32>
}

// -----
// CHECK: slices-invalid.mlir:[[# @LINE + 2]]:3: error: 'tensor.extract_slice' op slice along dimension 1 runs out-of-bounds: 6 >= 4
func.func @extract_strided(%s: tensor<4x4xf32>) -> tensor<4x2xf32> {
  %r = tensor.extract_slice %s[0, 2] [4, 2] [1, 4] : tensor<4x4xf32> to tensor<4x2xf32>
  func.return %r : tensor<4x2xf32>
}

// -----
// CHECK: slices-invalid.mlir:[[# @LINE + 2]]:3: error: 'tensor.extract_slice' op expected element type to be f32
func.func @extract_dtype(%s: tensor<4xf32>) -> tensor<2xi32> {
  %r = tensor.extract_slice %s[0] [2] [1] : tensor<4xf32> to tensor<2xi32>
  func.return %r : tensor<2xi32>
}

// ---- what upstream accepts: a rank-reduced slice, a dynamic size, an empty slice inside ----

// -----
// CHECK-LABEL: func.func @valid
func.func @valid(%s: tensor<4x4xf32>, %n: index) -> (tensor<4xf32>, tensor<?x4xf32>, tensor<0x4xf32>) {
  %a = tensor.extract_slice %s[1, 0] [1, 4] [1, 1] : tensor<4x4xf32> to tensor<4xf32>
  %b = tensor.extract_slice %s[0, 0] [%n, 4] [1, 1] : tensor<4x4xf32> to tensor<?x4xf32>
  %c = tensor.extract_slice %s[3, 0] [0, 4] [1, 1] : tensor<4x4xf32> to tensor<0x4xf32>
  func.return %a, %b, %c : tensor<4xf32>, tensor<?x4xf32>, tensor<0x4xf32>
}
