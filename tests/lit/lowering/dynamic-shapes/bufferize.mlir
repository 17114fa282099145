// RUN: relay-opt %s -p bufferize | filecheck %s

// A tensor with `?` dims is a memref with `?` dims; `tensor.empty(%n)` is `memref.alloc(%n)`
// and `tensor.dim` is `memref.dim`. A result with `?` dims is not an out-parameter the caller
// sizes: the callee allocates it and hands it back through a slot (its address, then every
// size, as i64); the caller owns it and frees it after its last use.
// CHECK-LABEL: func.func @rows(%x: memref<?x3xf32>, %out0: !llvm.ptr) attributes {relay_opt.outputs = 1 : i64} {
// CHECK:        %[[N:.*]] = memref.dim %x, %{{.*}} : memref<?x3xf32>
// CHECK-NEXT:   %[[BUF:.*]] = memref.alloc(%[[N]]) : memref<?x3xf32>
// CHECK-NEXT:   linalg.generic {{.*}} ins(%x : memref<?x3xf32>) outs(%[[BUF]] : memref<?x3xf32>)
// CHECK:        %[[ADDRESS:.*]] = "memref.extract_aligned_pointer_as_index"(%[[BUF]])
// CHECK:        %[[ROWS:.*]] = memref.dim %[[BUF]], %{{.*}} : memref<?x3xf32>
// CHECK:        %[[COLS:.*]] = memref.dim %[[BUF]], %{{.*}} : memref<?x3xf32>
// CHECK:        %[[A:.*]] = arith.index_cast %[[ADDRESS]] : index to i64
// CHECK-NEXT:   llvm.store %[[A]], %out0 : i64, !llvm.ptr
// CHECK-NEXT:   %[[R:.*]] = arith.index_cast %[[ROWS]] : index to i64
// CHECK-NEXT:   %[[AT1:.*]] = llvm.getelementptr %out0[1] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK-NEXT:   llvm.store %[[R]], %[[AT1]] : i64, !llvm.ptr
// CHECK:        llvm.getelementptr %out0[2]
// CHECK-NOT:    memref.dealloc
// CHECK:        func.return
func.func @rows(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x3xf32>
  %e = tensor.empty(%n) : tensor<?x3xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<?x3xf32>) outs(%e : tensor<?x3xf32>) {
  ^bb0(%a: f32, %b: f32):
    %t = math.tanh %a : f32
    linalg.yield %t : f32
  } -> tensor<?x3xf32>
  func.return %y : tensor<?x3xf32>
}

// The caller's slot is three i64 words; the result is read back as a memref of the sizes it
// carries, used, and freed.
// CHECK-LABEL: func.func @caller(%x: memref<?x3xf32>, %out0: memref<3xf32>)
// CHECK:        %[[SLOT:.*]] = llvm.alloca %{{.*}} x i64 {alignment = 8 : i64} : (i64) -> !llvm.ptr
// CHECK:        func.call @rows(%x, %[[SLOT]]) : (memref<?x3xf32>, !llvm.ptr) -> ()
// CHECK-NEXT:   %[[W0:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> i64
// CHECK:        %[[W1:.*]] = llvm.load %{{.*}} : !llvm.ptr -> i64
// CHECK:        %[[P:.*]] = llvm.inttoptr %[[W0]] : i64 to !llvm.ptr
// CHECK-NEXT:   %[[R:.*]] = arith.index_cast %[[W1]] : i64 to index
// CHECK-NEXT:   %[[M:.*]] = builtin.unrealized_conversion_cast %[[P]], %[[R]] : !llvm.ptr, index to memref<?x3xf32>
// CHECK:        linalg.generic {{.*}} ins(%[[M]] : memref<?x3xf32>) outs(%{{.*}} : memref<3xf32>)
// CHECK-NEXT:   ^bb0
// CHECK:        memref.dealloc %[[M]] : memref<?x3xf32>
func.func @caller(%x: tensor<?x3xf32>) -> tensor<3xf32> {
  %y = func.call @rows(%x) : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3xf32>) -> tensor<3xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>], iterator_types = ["reduction", "parallel"]} ins(%y : tensor<?x3xf32>) outs(%f : tensor<3xf32>) {
  ^bb0(%a: f32, %b: f32):
    %t = arith.addf %a, %b : f32
    linalg.yield %t : f32
  } -> tensor<3xf32>
  func.return %s : tensor<3xf32>
}
