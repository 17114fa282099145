// RUN: relay-opt %s -p fuse-linalg-epilogue --split-input-file | filecheck %s
// RUN: relay-opt %s -p fuse-linalg-epilogue,bufferize,convert-linalg-to-loops --split-input-file | filecheck %s --check-prefix=LOOPS

// A dense layer's bias + relu epilogue, one fuse-ops group: one generic over the output, the
// reduction as an scf.for nest carrying the accumulator, no fill and no intermediate tensor.
// CHECK-LABEL: func.func @fused(%x: tensor<4x8xf32>, %w: tensor<6x8xf32>, %b: tensor<6xf32>) -> tensor<4x6xf32> {
// CHECK-NEXT:    %zero = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %e1 = tensor.empty() : tensor<4x6xf32>
// CHECK-NEXT:    %z = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<6xf32>) outs(%e1 : tensor<4x6xf32>) attrs =  {relay_opt.group = 0 : i64} {
// CHECK-NEXT:    ^bb0(%[[BIAS:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT:      %[[I:.*]] = linalg.index 0 : index
// CHECK-NEXT:      %[[J:.*]] = linalg.index 1 : index
// CHECK-NEXT:      %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:      %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT:      %[[C8:.*]] = arith.constant 8 : index
// CHECK-NEXT:      %[[Y:.*]] = scf.for %[[K:.*]] = %[[C0]] to %[[C8]] step %[[C1]] iter_args(%[[ACC:.*]] = %zero) -> (f32) {
// CHECK-NEXT:        %[[XV:.*]] = tensor.extract %x[%[[I]], %[[K]]] : tensor<4x8xf32>
// CHECK-NEXT:        %[[WV:.*]] = tensor.extract %w[%[[J]], %[[K]]] : tensor<6x8xf32>
// CHECK-NEXT:        %m = arith.mulf %[[XV]], %[[WV]] : f32
// CHECK-NEXT:        %s = arith.addf %[[ACC]], %m : f32
// CHECK-NEXT:        scf.yield %s : f32
// CHECK-NEXT:      }
// CHECK-NEXT:      %t = arith.addf %[[Y]], %[[BIAS]] : f32
// CHECK-NEXT:      %r = arith.maximumf %t, %zero : f32
// CHECK-NEXT:      linalg.yield %r : f32
// CHECK-NEXT:    } -> tensor<4x6xf32>
// CHECK-NEXT:    func.return %z : tensor<4x6xf32>
// CHECK-NEXT:  }

// One loop nest: each output element is finished in a register and stored once, into the
// result; no buffer for the dense result, no fill.
// LOOPS-LABEL: func.func @fused(
// LOOPS-NOT:     memref.alloc
// LOOPS-NOT:     linalg.
// LOOPS:         scf.for %[[I:.*]] = {{.*}} {
// LOOPS-NEXT:      scf.for %[[J:.*]] = {{.*}} {
// LOOPS-NEXT:        %[[BIAS:.*]] = memref.load %b[%[[J]]] : memref<6xf32>
// LOOPS:             %[[Y:.*]] = scf.for %[[K:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %zero) -> (f32) {
// LOOPS-NEXT:          %[[XV:.*]] = memref.load %x[%[[I]], %[[K]]] : memref<4x8xf32>
// LOOPS-NEXT:          %[[WV:.*]] = memref.load %w[%[[J]], %[[K]]] : memref<6x8xf32>
// LOOPS-NEXT:          %m = arith.mulf %[[XV]], %[[WV]] : f32
// LOOPS-NEXT:          %s = arith.addf %[[ACC]], %m : f32
// LOOPS-NEXT:          scf.yield %s : f32
// LOOPS-NEXT:        }
// LOOPS-NEXT:        %t = arith.addf %[[Y]], %[[BIAS]] : f32
// LOOPS-NEXT:        %r = arith.maximumf %t, %zero : f32
// LOOPS-NEXT:        memref.store %r, %out0[%[[I]], %[[J]]] : memref<4x6xf32>
// LOOPS-NEXT:      }
// LOOPS-NEXT:    }
// LOOPS-NOT:     memref.dealloc
// LOOPS:         func.return
func.func @fused(%x: tensor<4x8xf32>, %w: tensor<6x8xf32>, %b: tensor<6xf32>) -> tensor<4x6xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e0 = tensor.empty() : tensor<4x6xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4x6xf32>) -> tensor<4x6xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<4x8xf32>, tensor<6x8xf32>) outs(%acc : tensor<4x6xf32>) attrs = {relay_opt.group = 0 : i64} {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %m = arith.mulf %a, %c : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x6xf32>
  %e1 = tensor.empty() : tensor<4x6xf32>
  %z = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y, %b : tensor<4x6xf32>, tensor<6xf32>) outs(%e1 : tensor<4x6xf32>) attrs = {relay_opt.group = 0 : i64} {
  ^bb0(%v: f32, %bias: f32, %o: f32):
    %t = arith.addf %v, %bias : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x6xf32>
  func.return %z : tensor<4x6xf32>
}

// -----

// Different fuse-ops groups: not fused.
// CHECK-LABEL: func.func @other_groups(
// CHECK:         linalg.fill
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK-NOT:     scf.for
// CHECK:         func.return
// LOOPS-LABEL: func.func @other_groups(
// LOOPS:         memref.store %s, %[[Y:.*]][{{.*}}] : memref<{{.*}}>
// LOOPS:         memref.load %[[Y]][
func.func @other_groups(%x: tensor<4x8xf32>, %w: tensor<6x8xf32>, %b: tensor<6xf32>) -> tensor<4x6xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e0 = tensor.empty() : tensor<4x6xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4x6xf32>) -> tensor<4x6xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<4x8xf32>, tensor<6x8xf32>) outs(%acc : tensor<4x6xf32>) attrs = {relay_opt.group = 0 : i64} {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %m = arith.mulf %a, %c : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x6xf32>
  %e1 = tensor.empty() : tensor<4x6xf32>
  %z = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y, %b : tensor<4x6xf32>, tensor<6xf32>) outs(%e1 : tensor<4x6xf32>) attrs = {relay_opt.group = 1 : i64} {
  ^bb0(%v: f32, %bias: f32, %o: f32):
    %t = arith.addf %v, %bias : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x6xf32>
  func.return %z : tensor<4x6xf32>
}

// -----

// No fuse-ops groups (unfused code): not fused.
// CHECK-LABEL: func.func @no_group(
// CHECK:         linalg.fill
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK-NOT:     scf.for
// CHECK:         func.return
// LOOPS-LABEL: func.func @no_group(
// LOOPS:         memref.store %s, %[[Y:.*]][{{.*}}] : memref<{{.*}}>
// LOOPS:         memref.load %[[Y]][
func.func @no_group(%x: tensor<4x8xf32>, %w: tensor<6x8xf32>, %b: tensor<6xf32>) -> tensor<4x6xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e0 = tensor.empty() : tensor<4x6xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4x6xf32>) -> tensor<4x6xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<4x8xf32>, tensor<6x8xf32>) outs(%acc : tensor<4x6xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %m = arith.mulf %a, %c : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x6xf32>
  %e1 = tensor.empty() : tensor<4x6xf32>
  %z = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y, %b : tensor<4x6xf32>, tensor<6xf32>) outs(%e1 : tensor<4x6xf32>) {
  ^bb0(%v: f32, %bias: f32, %o: f32):
    %t = arith.addf %v, %bias : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x6xf32>
  func.return %z : tensor<4x6xf32>
}

// -----

// The epilogue reads the result at another index (transposed): not fused.
// CHECK-LABEL: func.func @other_index(
// CHECK:         linalg.fill
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK-NOT:     scf.for
// CHECK:         func.return
// LOOPS-LABEL: func.func @other_index(
// LOOPS:         memref.store %s, %[[Y:.*]][{{.*}}] : memref<{{.*}}>
// LOOPS:         memref.load %[[Y]][
func.func @other_index(%x: tensor<4x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>) -> tensor<4x4xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e0 = tensor.empty() : tensor<4x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<4x8xf32>, tensor<4x8xf32>) outs(%acc : tensor<4x4xf32>) attrs = {relay_opt.group = 0 : i64} {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %m = arith.mulf %a, %c : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  %e1 = tensor.empty() : tensor<4x4xf32>
  %z = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y, %b : tensor<4x4xf32>, tensor<4xf32>) outs(%e1 : tensor<4x4xf32>) attrs = {relay_opt.group = 0 : i64} {
  ^bb0(%v: f32, %bias: f32, %o: f32):
    %t = arith.addf %v, %bias : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x4xf32>
  func.return %z : tensor<4x4xf32>
}

// -----

// The intermediate has another user (it is returned too): not fused.
// CHECK-LABEL: func.func @other_user(
// CHECK:         linalg.fill
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK-NOT:     scf.for
// CHECK:         func.return
// LOOPS-LABEL: func.func @other_user(
// LOOPS:         memref.store %s, %[[Y:.*]][{{.*}}] : memref<{{.*}}>
// LOOPS:         memref.load %[[Y]][
func.func @other_user(%x: tensor<4x8xf32>, %w: tensor<6x8xf32>, %b: tensor<6xf32>) -> (tensor<4x6xf32>, tensor<4x6xf32>) {
  %zero = arith.constant 0.000000e+00 : f32
  %e0 = tensor.empty() : tensor<4x6xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4x6xf32>) -> tensor<4x6xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<4x8xf32>, tensor<6x8xf32>) outs(%acc : tensor<4x6xf32>) attrs = {relay_opt.group = 0 : i64} {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %m = arith.mulf %a, %c : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x6xf32>
  %e1 = tensor.empty() : tensor<4x6xf32>
  %z = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y, %b : tensor<4x6xf32>, tensor<6xf32>) outs(%e1 : tensor<4x6xf32>) attrs = {relay_opt.group = 0 : i64} {
  ^bb0(%v: f32, %bias: f32, %o: f32):
    %t = arith.addf %v, %bias : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x6xf32>
  func.return %y, %z : tensor<4x6xf32>, tensor<4x6xf32>
}
