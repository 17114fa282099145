// RUN: relay-opt %s -p bufferize | filecheck %s

// Objects through bufferize (docs/native-objects.md): an object result becomes an
// out-parameter pointing to an 8-byte slot; a caller's slot is an llvm.alloca in its entry
// block. A tensor read from an object is a view of its buffer (no copy); one stored into an
// object is copied into the object's buffer.

builtin.module {
  // CHECK-LABEL: func.func @wrap(%x: memref<2xf32>, %out0: !llvm.ptr) attributes {relay_opt.outputs = 1 : i64}
  // CHECK:         %[[OBJ:.*]] = llvm.call @relay_opt_alloc(
  // CHECK:         %[[DEST:.*]] = builtin.unrealized_conversion_cast %[[BUF:.*]] : !llvm.ptr to memref<2xf32>
  // CHECK-NEXT:    "memref.copy"(%x, %[[DEST]]) : (memref<2xf32>, memref<2xf32>) -> ()
  // CHECK:         llvm.store %[[OBJ]], %out0 : !llvm.ptr, !llvm.ptr
  // CHECK-NEXT:    func.return
  func.func @wrap(%x: tensor<2xf32>) -> !llvm.ptr {
    %size = arith.constant 16 : i64
    %obj = llvm.call @relay_opt_alloc(%size) : (i64) -> !llvm.ptr
    %bytes = arith.constant 8 : i64
    %buf = llvm.call @relay_opt_alloc(%bytes) : (i64) -> !llvm.ptr
    %dest = builtin.unrealized_conversion_cast %buf : !llvm.ptr to memref<2xf32>
    bufferization.materialize_in_destination %x in writable %dest : (tensor<2xf32>, memref<2xf32>) -> ()
    %slot = llvm.getelementptr inbounds %obj[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
    llvm.store %buf, %slot : !llvm.ptr, !llvm.ptr
    func.return %obj : !llvm.ptr
  }

  // CHECK-LABEL: func.func @unwrap(%x: memref<2xf32>, %out0: memref<2xf32>)
  // CHECK-NEXT:    %[[ONE:.*]] = arith.constant 1 : i64
  // CHECK-NEXT:    %[[SLOT:.*]] = llvm.alloca %[[ONE]] x !llvm.ptr {alignment = 8 : i64} : (i64) -> !llvm.ptr
  // CHECK-NEXT:    func.call @wrap(%x, %[[SLOT]]) : (memref<2xf32>, !llvm.ptr) -> ()
  // CHECK-NEXT:    %[[OBJ:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
  // CHECK-NEXT:    %[[S:.*]] = llvm.getelementptr inbounds %[[OBJ]][1]
  // CHECK-NEXT:    %[[BUF:.*]] = llvm.load %[[S]] : !llvm.ptr -> !llvm.ptr
  // CHECK-NEXT:    %[[VIEW:.*]] = builtin.unrealized_conversion_cast %[[BUF]] : !llvm.ptr to memref<2xf32>
  // CHECK-NEXT:    linalg.generic {{.*}} ins(%[[VIEW]] : memref<2xf32>) outs(%out0 : memref<2xf32>)
  func.func @unwrap(%x: tensor<2xf32>) -> tensor<2xf32> {
    %obj = func.call @wrap(%x) : (tensor<2xf32>) -> !llvm.ptr
    %slot = llvm.getelementptr inbounds %obj[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
    %buf = llvm.load %slot : !llvm.ptr -> !llvm.ptr
    %view = builtin.unrealized_conversion_cast %buf : !llvm.ptr to memref<2xf32>
    %t = bufferization.to_tensor %view restrict : memref<2xf32> to tensor<2xf32>
    %e = tensor.empty() : tensor<2xf32>
    %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%t : tensor<2xf32>) outs(%e : tensor<2xf32>) {
    ^bb0(%a: f32, %b: f32):
      %n = arith.negf %a : f32
      linalg.yield %n : f32
    } -> tensor<2xf32>
    func.return %r : tensor<2xf32>
  }
  llvm.func internal @relay_opt_alloc(%0: i64) -> !llvm.ptr {
    %1 = llvm.call @malloc(%0) : (i64) -> !llvm.ptr
    llvm.return %1 : !llvm.ptr
  }
  llvm.func @malloc(i64) -> !llvm.ptr
}
