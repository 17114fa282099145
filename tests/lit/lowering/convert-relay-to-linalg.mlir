// RUN: relay-opt %s -p convert-relay-to-linalg --split-input-file --verify-diagnostics | filecheck %s

// Broadcasting is in the indexing maps; each operator is one linalg.generic.
// CHECK-LABEL: func.func @broadcast(%x: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xf32>
// CHECK:      %[[E:.*]] = tensor.empty() : tensor<2x3xf32>
// CHECK-NEXT: %[[R:.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %b : tensor<2x3xf32>, tensor<3xf32>) outs(%[[E]] : tensor<2x3xf32>) {
// CHECK-NEXT: ^bb0(%[[A:.*]]: f32, %[[B:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT:   %[[S:.*]] = arith.addf %[[A]], %[[B]] : f32
// CHECK-NEXT:   linalg.yield %[[S]] : f32
// CHECK-NEXT: } -> tensor<2x3xf32>
// CHECK-NEXT: func.return %[[R]] : tensor<2x3xf32>
relay.func @broadcast(%x: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xf32> {
  %0 = relay.add %x, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  relay.return %0 : tensor<2x3xf32>
}

// -----

// A size-1 dimension facing a larger one reads index 0.
// CHECK-LABEL: func.func @size_one
// CHECK: affine_map<(d0, d1) -> (0, d1)>, affine_map<(d0, d1) -> (d0, 0)>
relay.func @size_one(%a: tensor<1x3xf32>, %b: tensor<4x1xf32>) -> tensor<4x3xf32> {
  %0 = relay.multiply %a, %b : (tensor<1x3xf32>, tensor<4x1xf32>) -> tensor<4x3xf32>
  relay.return %0 : tensor<4x3xf32>
}

// -----

// Tuples disappear: a tuple result is several results, tuple_get picks values.
// Unsigned integers become signless with unsigned operations.
// CHECK-LABEL: func.func @tuples(%a: tensor<4xi8>, %b: tensor<4xi8>) -> (tensor<4xi8>, tensor<4xi1>)
// CHECK: arith.maxui
// CHECK: arith.cmpi ult
// CHECK: func.return %{{.*}}, %{{.*}} : tensor<4xi8>, tensor<4xi1>
relay.func @tuples(%a: tensor<4xui8>, %b: tensor<4xui8>) -> tuple<tensor<4xui8>, tensor<4xi1>> {
  %0 = relay.maximum %a, %b : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
  %1 = relay.less %a, %b : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xi1>
  %t = relay.tuple %0, %1 : tuple<tensor<4xui8>, tensor<4xi1>>
  %u = relay.tuple %t : tuple<tuple<tensor<4xui8>, tensor<4xi1>>>
  %v = relay.tuple_get %u[0] : tuple<tuple<tensor<4xui8>, tensor<4xi1>>>
  relay.return %v : tuple<tensor<4xui8>, tensor<4xi1>>
}

// -----

// Functions calling functions; constants.
// CHECK-LABEL: func.func @callee(%x: tensor<2xf32>) -> tensor<2xf32>
// CHECK-LABEL: func.func @caller(%y: tensor<2xf32>) -> tensor<2xf32>
// CHECK:      %[[C:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK:      %[[R:.*]] = func.call @callee(%{{.*}}) : (tensor<2xf32>) -> tensor<2xf32>
relay.func @callee(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = relay.tanh %x : (tensor<2xf32>) -> tensor<2xf32>
  relay.return %0 : tensor<2xf32>
}
relay.func @caller(%y: tensor<2xf32>) -> tensor<2xf32> {
  %c = relay.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %0 = relay.subtract %y, %c : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %1 = relay.call @callee(%0) : (tensor<2xf32>) -> tensor<2xf32>
  relay.return %1 : tensor<2xf32>
}

// -----

// reverse_sequence gathers with a computed index: each batch's length (indexed by the batch
// axis, here the last) is clamped to [0, 5], then position i of the sequence axis reads
// L - 1 - i below it and i from it on; the read is always in bounds.
// CHECK-LABEL: func.func @reverse_sequence(%x: tensor<2x5x3xf32>, %l: tensor<3xi64>) -> tensor<2x5x3xf32>
// CHECK:      %[[E:.*]] = tensor.empty() : tensor<2x5x3xf32>
// CHECK-NEXT: %[[R:.*]] = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[E]], %l : tensor<2x5x3xf32>, tensor<3xi64>) outs(%[[E]] : tensor<2x5x3xf32>) {
// CHECK-NEXT: ^bb0(%{{.*}}: f32, %[[LEN:.*]]: i64, %{{.*}}: f32):
// CHECK-NEXT:   %[[ZERO:.*]] = arith.constant 0 : i64
// CHECK-NEXT:   %[[LO:.*]] = arith.maxsi %[[LEN]], %[[ZERO]] : i64
// CHECK-NEXT:   %[[N:.*]] = arith.constant 5 : i64
// CHECK-NEXT:   %[[L:.*]] = arith.minsi %[[LO]], %[[N]] : i64
// CHECK-NEXT:   %[[I:.*]] = linalg.index 1 : index
// CHECK-NEXT:   %[[II:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK-NEXT:   %[[IN:.*]] = arith.cmpi slt, %[[II]], %[[L]] : i64
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1 : i64
// CHECK-NEXT:   %[[LAST:.*]] = arith.subi %[[L]], %[[ONE]] : i64
// CHECK-NEXT:   %[[MIR:.*]] = arith.subi %[[LAST]], %[[II]] : i64
// CHECK-NEXT:   %[[POS:.*]] = arith.select %[[IN]], %[[MIR]], %[[II]] : i64
// CHECK-NEXT:   %[[P:.*]] = arith.index_cast %[[POS]] : i64 to index
// CHECK-NEXT:   %[[B0:.*]] = linalg.index 0 : index
// CHECK-NEXT:   %[[B2:.*]] = linalg.index 2 : index
// CHECK-NEXT:   %[[V:.*]] = tensor.extract %x[%[[B0]], %[[P]], %[[B2]]] : tensor<2x5x3xf32>
// CHECK-NEXT:   linalg.yield %[[V]] : f32
// CHECK-NEXT: } -> tensor<2x5x3xf32>
// CHECK-NEXT: func.return %[[R]] : tensor<2x5x3xf32>
relay.func @reverse_sequence(%x: tensor<2x5x3xf32>, %l: tensor<3xi64>) -> tensor<2x5x3xf32> {
  %0 = relay.reverse_sequence %x, %l {batch_axis = -1} : (tensor<2x5x3xf32>, tensor<3xi64>) -> tensor<2x5x3xf32>
  relay.return %0 : tensor<2x5x3xf32>
}

// -----

// A slice from 0 that ends early reads its input's leading part, taken with extract_slice
// first (a view once bufferized): a plain d_k on the longer input would claim that axis is
// the loop's length, which linalg's verifier rejects. A slice from further on reads at d_k + c.
// CHECK-LABEL: func.func @split_first(%x: tensor<2x6xf32>) -> (tensor<2x2xf32>, tensor<2x4xf32>)
// CHECK:      %[[S:.*]] = tensor.extract_slice %x[0, 0] [2, 2] [1, 1] : tensor<2x6xf32> to tensor<2x2xf32>
// CHECK-NEXT: %[[E:.*]] = tensor.empty() : tensor<2x2xf32>
// CHECK-NEXT: linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%[[E]], %[[S]] : tensor<2x2xf32>, tensor<2x2xf32>)
// CHECK:      linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, (d1 + 2))>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%{{.*}}, %x : tensor<2x4xf32>, tensor<2x6xf32>)
// CHECK-LABEL: func.func @slice_from_zero(%x: tensor<4x6xf32>) -> tensor<3x2xf32>
// CHECK:      %[[S:.*]] = tensor.extract_slice %x[0, 0] [3, 6] [1, 1] : tensor<4x6xf32> to tensor<3x6xf32>
// CHECK-NEXT: %[[E:.*]] = tensor.empty() : tensor<3x2xf32>
// CHECK-NEXT: linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, ((d1 * 2) + 1))>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%[[E]], %[[S]] : tensor<3x2xf32>, tensor<3x6xf32>)
relay.func @split_first(%x: tensor<2x6xf32>) -> tuple<tensor<2x2xf32>, tensor<2x4xf32>> {
  %0 = relay.split %x {indices_or_sections = [2], axis = 1} : (tensor<2x6xf32>) -> tuple<tensor<2x2xf32>, tensor<2x4xf32>>
  %1 = relay.tuple_get %0[0] : tuple<tensor<2x2xf32>, tensor<2x4xf32>>
  %2 = relay.tuple_get %0[1] : tuple<tensor<2x2xf32>, tensor<2x4xf32>>
  %3 = relay.tuple %1, %2 : tuple<tensor<2x2xf32>, tensor<2x4xf32>>
  relay.return %3 : tuple<tensor<2x2xf32>, tensor<2x4xf32>>
}
relay.func @slice_from_zero(%x: tensor<4x6xf32>) -> tensor<3x2xf32> {
  %0 = relay.strided_slice %x {begin = [0, 1], end = [3, 5], strides = [1, 2]} : (tensor<4x6xf32>) -> tensor<3x2xf32>
  relay.return %0 : tensor<3x2xf32>
}

// -----

// concatenate inserts each input into its part of the result (a generic writing only part
// of its result would claim the result's longer axis with a plain d_k).
// CHECK-LABEL: func.func @concat(%a: tensor<2x3xf32>, %b: tensor<2x1xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %[[E:.*]] = tensor.empty() : tensor<2x4xf32>
// CHECK-NEXT: %[[A:.*]] = tensor.insert_slice %a into %[[E]][0, 0] [2, 3] [1, 1] : tensor<2x3xf32> into tensor<2x4xf32>
// CHECK-NEXT: %[[B:.*]] = tensor.insert_slice %b into %[[A]][0, 3] [2, 1] [1, 1] : tensor<2x1xf32> into tensor<2x4xf32>
// CHECK-NEXT: func.return %[[B]] : tensor<2x4xf32>
relay.func @concat(%a: tensor<2x3xf32>, %b: tensor<2x1xf32>) -> tensor<2x4xf32> {
  %t = relay.tuple %a, %b : tuple<tensor<2x3xf32>, tensor<2x1xf32>>
  %0 = relay.concatenate %t {axis = 1} : (tuple<tensor<2x3xf32>, tensor<2x1xf32>>) -> tensor<2x4xf32>
  relay.return %0 : tensor<2x4xf32>
}

// -----

// A C function that a kernel calls (float mod is fmodf) is declared, once: a call verifies
// only with its callee in the symbol table.
// CHECK:      func.func private @fmodf(f32, f32) -> f32
// CHECK-NOT:  func.func private @fmodf
// CHECK-LABEL: func.func @fmod(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32>
// CHECK:      func.call @fmodf
relay.func @fmod(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %0 = relay.mod %x, %y : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = relay.mod %0, %y : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  relay.return %1 : tensor<4xf32>
}

// -----

// References are objects (docs/native-objects.md); a `?` tensor in one is a pointer to
// a copy and its size, read back as a memref of that size.
// CHECK-LABEL: func.func @refs(%x: tensor<?xf32>) -> tensor<?xf32>
// CHECK:         %[[CELL:.*]] = llvm.call @relay_opt_alloc
// CHECK:         %[[SIZE:.*]] = tensor.dim %x
// CHECK:         llvm.store %{{.*}}, %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    %[[WORD:.*]] = arith.index_cast %[[SIZE]] : index to i64
// CHECK-NEXT:    %[[AT:.*]] = llvm.getelementptr inbounds %[[CELL]][2]
// CHECK-NEXT:    llvm.store %[[WORD]], %[[AT]] : i64, !llvm.ptr
// CHECK:         %[[READ:.*]] = llvm.load %{{.*}} : !llvm.ptr -> i64
// CHECK-NEXT:    %[[N:.*]] = arith.index_cast %[[READ]] : i64 to index
// CHECK-NEXT:    builtin.unrealized_conversion_cast %{{.*}}, %[[N]] : !llvm.ptr, index to memref<?xf32>
relay.func @refs(%x: tensor<?xf32>) -> tensor<?xf32> {
  %r = relay.ref_create %x : tensor<?xf32>
  %v = relay.ref_read %r : !relay.ref<tensor<?xf32>>
  relay.return %v : tensor<?xf32>
}

// -----

// reinterpret is arith.bitcast per element; between int32 and uint32 (both i32) it is no op.
// CHECK-LABEL: func.func @reinterpret(%x: tensor<4xf32>, %u: tensor<4xi32>) -> (tensor<4xi32>, tensor<4xi32>)
// CHECK:      ^bb0(%[[A:.*]]: f32, %{{.*}}: i32):
// CHECK-NEXT:   %[[B:.*]] = arith.bitcast %[[A]] : f32 to i32
// CHECK-NEXT:   linalg.yield %[[B]] : i32
// CHECK:      ^bb0(%[[C:.*]]: i32, %{{.*}}: i32):
// CHECK-NEXT:   linalg.yield %[[C]] : i32
relay.func @reinterpret(%x: tensor<4xf32>, %u: tensor<4xui32>) -> tuple<tensor<4xi32>, tensor<4xi32>> {
  %0 = relay.reinterpret %x {dtype = "int32"} : (tensor<4xf32>) -> tensor<4xi32>
  %1 = relay.reinterpret %u {dtype = "int32"} : (tensor<4xui32>) -> tensor<4xi32>
  %2 = relay.tuple %0, %1 : tuple<tensor<4xi32>, tensor<4xi32>>
  relay.return %2 : tuple<tensor<4xi32>, tensor<4xi32>>
}
