// RUN: relay-opt %s -p bufferize --split-input-file | filecheck %s

// Region ops with tensor results: each branch writes straight into the destination (here the
// out-parameters, nested ifs included); only what must exist twice is copied.
// CHECK-LABEL: func.func @nested(%c: memref<i1>, %d: memref<i1>, %x: memref<4xf32>, %out0: memref<4xf32>, %out1: memref<4xf32>)
// CHECK-NEXT:    %[[C:.*]] = memref.load %c[] : memref<i1>
// CHECK-NEXT:    scf.if %[[C]] {
// CHECK-NEXT:      %[[D:.*]] = memref.load %d[] : memref<i1>
// CHECK-NEXT:      scf.if %[[D]] {
// CHECK-NEXT:        linalg.generic {{.*}} ins(%x : memref<4xf32>) outs(%out1 : memref<4xf32>)
// CHECK:             "memref.copy"(%x, %out0)
// CHECK-NEXT:      } else {
// CHECK-NEXT:        linalg.generic {{.*}} ins(%x : memref<4xf32>) outs(%out0 : memref<4xf32>)
// CHECK:             "memref.copy"(%out0, %out1)
// CHECK-NEXT:      }
// CHECK-NEXT:    } else {
// CHECK-NEXT:      "memref.copy"(%x, %out0)
// CHECK-NEXT:      "memref.copy"(%x, %out1)
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return
func.func @nested(%c: tensor<i1>, %d: tensor<i1>, %x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = tensor.extract %c[] : tensor<i1>
  %1, %2 = scf.if %0 -> (tensor<4xf32>, tensor<4xf32>) {
    %3 = tensor.extract %d[] : tensor<i1>
    %4, %5 = scf.if %3 -> (tensor<4xf32>, tensor<4xf32>) {
      %6 = tensor.empty() : tensor<4xf32>
      %7 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%6 : tensor<4xf32>) {
      ^bb0(%8: f32, %9: f32):
        %10 = arith.negf %8 : f32
        linalg.yield %10 : f32
      } -> tensor<4xf32>
      scf.yield %x, %7 : tensor<4xf32>, tensor<4xf32>
    } else {
      %11 = tensor.empty() : tensor<4xf32>
      %12 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%11 : tensor<4xf32>) {
      ^bb0(%13: f32, %14: f32):
        %15 = math.exp %13 : f32
        linalg.yield %15 : f32
      } -> tensor<4xf32>
      scf.yield %12, %12 : tensor<4xf32>, tensor<4xf32>
    }
    scf.yield %4, %5 : tensor<4xf32>, tensor<4xf32>
  } else {
    scf.yield %x, %x : tensor<4xf32>, tensor<4xf32>
  }
  func.return %1, %2 : tensor<4xf32>, tensor<4xf32>
}

// -----

// A result used later gets one buffer allocated before the op; a buffer allocated in a branch
// is freed in it; one allocated outside and read inside is freed after the op.
// CHECK-LABEL: func.func @scratch(%c: memref<i1>, %x: memref<4xf32>, %out0: memref<4xf32>)
// CHECK-NEXT:    %[[T:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT:    linalg.generic {{.*}} ins(%x : memref<4xf32>) outs(%[[T]] : memref<4xf32>)
// CHECK:         %[[C:.*]] = memref.load %c[] : memref<i1>
// CHECK-NEXT:    %[[R:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT:    scf.if %[[C]] {
// CHECK-NEXT:      %[[U:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT:      linalg.generic {{.*}} ins(%[[T]] : memref<4xf32>) outs(%[[U]] : memref<4xf32>)
// CHECK:           linalg.generic {{.*}} ins(%[[U]], %[[T]] : memref<4xf32>, memref<4xf32>) outs(%[[R]] : memref<4xf32>)
// CHECK:           memref.dealloc %[[U]] : memref<4xf32>
// CHECK-NEXT:    } else {
// CHECK-NEXT:      "memref.copy"(%[[T]], %[[R]])
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.dealloc %[[T]] : memref<4xf32>
// CHECK-NEXT:    linalg.generic {{.*}} ins(%[[R]] : memref<4xf32>) outs(%out0 : memref<4xf32>)
// CHECK:         memref.dealloc %[[R]] : memref<4xf32>
// CHECK-NEXT:    func.return
func.func @scratch(%c: tensor<i1>, %x: tensor<4xf32>) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  %t = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%a: f32, %b: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  %0 = tensor.extract %c[] : tensor<i1>
  %r = scf.if %0 -> (tensor<4xf32>) {
    %e1 = tensor.empty() : tensor<4xf32>
    %u = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%t : tensor<4xf32>) outs(%e1 : tensor<4xf32>) {
    ^bb0(%a: f32, %b: f32):
      %n = math.exp %a : f32
      linalg.yield %n : f32
    } -> tensor<4xf32>
    %e2 = tensor.empty() : tensor<4xf32>
    %v = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%u, %t : tensor<4xf32>, tensor<4xf32>) outs(%e2 : tensor<4xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %n = arith.addf %a, %b : f32
      linalg.yield %n : f32
    } -> tensor<4xf32>
    scf.yield %v : tensor<4xf32>
  } else {
    scf.yield %t : tensor<4xf32>
  }
  %e3 = tensor.empty() : tensor<4xf32>
  %w = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%r : tensor<4xf32>) outs(%e3 : tensor<4xf32>) {
  ^bb0(%a: f32, %b: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  func.return %w : tensor<4xf32>
}

// -----

// scf.index_switch the same way; its non-tensor results stay results.
// CHECK-LABEL: func.func @pick(%t: memref<i32>, %x: memref<4xf32>, %out0: memref<4xf32>)
// CHECK:         %[[K:.*]] = scf.index_switch %{{.*}} -> i32
// CHECK-NEXT:    case 0 {
// CHECK:           linalg.fill ins(%{{.*}} : f32) outs(%out0 : memref<4xf32>)
// CHECK:           scf.yield %{{.*}} : i32
// CHECK-NEXT:    }
// CHECK-NEXT:    case 5 {
// CHECK:           "memref.copy"(%x, %out0)
// CHECK-NEXT:      scf.yield %{{.*}} : i32
// CHECK-NEXT:    }
// CHECK-NEXT:    default {
// CHECK:           linalg.fill ins(%{{.*}} : f32) outs(%out0 : memref<4xf32>)
// CHECK:           scf.yield %{{.*}} : i32
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return
func.func @pick(%t: tensor<i32>, %x: tensor<4xf32>) -> tensor<4xf32> {
  %v = tensor.extract %t[] : tensor<i32>
  %i = arith.index_cast %v : i32 to index
  %r, %s = scf.index_switch %i -> tensor<4xf32>, i32
  case 0 {
    %e = tensor.empty() : tensor<4xf32>
    %c = arith.constant 1.0 : f32
    %f = linalg.fill ins(%c : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
    %k = arith.constant 7 : i32
    scf.yield %f, %k : tensor<4xf32>, i32
  }
  case 5 {
    %k = arith.constant 5 : i32
    scf.yield %x, %k : tensor<4xf32>, i32
  }
  default {
    %e = tensor.empty() : tensor<4xf32>
    %c = arith.constant 2.0 : f32
    %f = linalg.fill ins(%c : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
    %k = arith.constant 0 : i32
    scf.yield %f, %k : tensor<4xf32>, i32
  }
  func.return %r : tensor<4xf32>
}
