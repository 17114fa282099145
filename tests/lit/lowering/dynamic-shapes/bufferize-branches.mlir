// RUN: relay-opt %s -p bufferize | filecheck %s

// An `scf.if` whose value has `?` dims: no destination can be sized before it, so each
// branch yields its own buffer's address (i64) and `?` sizes, and the code after the op owns
// the buffer (a cast like a callee's `?` result), freeing it after its last use. A branch
// that computed the value hands its buffer over (not freed inside); one that yields a value
// from outside yields a copy.
// CHECK-LABEL: func.func @choose(%x: memref<?x3xf32>, %c: i1, %out0: memref<3xf32>)
// CHECK:         %[[ADDR:.*]], %[[ROWS:.*]] = scf.if %c -> (i64, index) {
// CHECK:           %[[OWN:.*]] = memref.alloc(%{{.*}}) : memref<?x3xf32>
// CHECK-NEXT:      linalg.generic {{.*}} ins(%x : memref<?x3xf32>) outs(%[[OWN]] : memref<?x3xf32>)
// CHECK-NOT:       memref.dealloc
// CHECK:           %[[P:.*]] = "memref.extract_aligned_pointer_as_index"(%[[OWN]])
// CHECK-NEXT:      %[[P64:.*]] = arith.index_cast %[[P]] : index to i64
// CHECK:           %[[N:.*]] = memref.dim %[[OWN]], %{{.*}} : memref<?x3xf32>
// CHECK-NEXT:      scf.yield %[[P64]], %[[N]] : i64, index
// CHECK-NEXT:    } else {
// CHECK:           %[[COPY:.*]] = memref.alloc(%{{.*}}) : memref<?x3xf32>
// CHECK-NEXT:      "memref.copy"(%x, %[[COPY]])
// CHECK:           scf.yield %{{.*}}, %{{.*}} : i64, index
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[PTR:.*]] = llvm.inttoptr %[[ADDR]] : i64 to !llvm.ptr
// CHECK-NEXT:    %[[Y:.*]] = builtin.unrealized_conversion_cast %[[PTR]], %[[ROWS]] : !llvm.ptr, index to memref<?x3xf32>
// CHECK:         linalg.generic {{.*}} ins(%[[Y]] : memref<?x3xf32>) outs(%out0 : memref<3xf32>)
// CHECK:         memref.dealloc %[[Y]] : memref<?x3xf32>
// CHECK-NEXT:    func.return
func.func @choose(%x: tensor<?x3xf32>, %c: i1) -> tensor<3xf32> {
  %y = scf.if %c -> (tensor<?x3xf32>) {
    %c0 = arith.constant 0 : index
    %n = tensor.dim %x, %c0 : tensor<?x3xf32>
    %e = tensor.empty(%n) : tensor<?x3xf32>
    %t = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<?x3xf32>) outs(%e : tensor<?x3xf32>) {
    ^bb0(%a: f32, %b: f32):
      %h = math.tanh %a : f32
      linalg.yield %h : f32
    } -> tensor<?x3xf32>
    scf.yield %t : tensor<?x3xf32>
  } else {
    scf.yield %x : tensor<?x3xf32>
  }
  %z = arith.constant 0.0 : f32
  %e3 = tensor.empty() : tensor<3xf32>
  %f = linalg.fill ins(%z : f32) outs(%e3 : tensor<3xf32>) -> tensor<3xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>], iterator_types = ["reduction", "parallel"]} ins(%y : tensor<?x3xf32>) outs(%f : tensor<3xf32>) {
  ^bb0(%a: f32, %b: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<3xf32>
  func.return %s : tensor<3xf32>
}
