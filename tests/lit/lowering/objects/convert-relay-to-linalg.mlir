// RUN: relay-opt %s -p convert-relay-to-linalg | filecheck %s

// ADT values and references are heap objects (docs/native-objects.md): an `!llvm.ptr` to
// 8-byte slots, the tag first, then the field leaves; a tensor field is a pointer to a copy
// of the tensor (materialized into an arena buffer), read back as a view of it, then one
// slot per dim with its size (a static one too: `(2)` and `(?)` lay out the same).

// Each match that can fail has an error code: its index in relay_opt.match_failures.
// CHECK: builtin.module attributes {relay_opt.match_failures = ["{{.*}}convert-relay-to-linalg.mlir:{{[0-9]+}}:5", "{{.*}}convert-relay-to-linalg.mlir:{{[0-9]+}}:5"]}

builtin.module {
  relay.type @T {
    relay.constructor @Leaf(tensor<2xf32>)
    relay.constructor @Node(!relay.adt<@T>, !relay.adt<@T>)
  }

  // CHECK-LABEL: func.func @construct(%x: tensor<2xf32>) -> !llvm.ptr
  // CHECK:         %[[SIZE:.*]] = arith.constant 24 : i64
  // CHECK-NEXT:    %[[LEAF:.*]] = llvm.call @relay_opt_alloc(%[[SIZE]]) : (i64) -> !llvm.ptr
  // CHECK-NEXT:    %[[TAG:.*]] = arith.constant 0 : i64
  // CHECK-NEXT:    llvm.store %[[TAG]], %[[LEAF]] : i64, !llvm.ptr
  // CHECK-NEXT:    %[[BYTES:.*]] = arith.constant 8 : i64
  // CHECK-NEXT:    %[[BUF:.*]] = llvm.call @relay_opt_alloc(%[[BYTES]]) : (i64) -> !llvm.ptr
  // CHECK-NEXT:    %[[DEST:.*]] = builtin.unrealized_conversion_cast %[[BUF]] : !llvm.ptr to memref<2xf32>
  // CHECK-NEXT:    bufferization.materialize_in_destination %x in writable %[[DEST]] : (tensor<2xf32>, memref<2xf32>) -> ()
  // CHECK-NEXT:    %[[SLOT:.*]] = llvm.getelementptr inbounds %[[LEAF]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  // CHECK-NEXT:    llvm.store %[[BUF]], %[[SLOT]] : !llvm.ptr, !llvm.ptr
  // CHECK-NEXT:    %[[TWO:.*]] = arith.constant 2 : i64
  // CHECK-NEXT:    %[[SLOT2:.*]] = llvm.getelementptr inbounds %[[LEAF]][2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  // CHECK-NEXT:    llvm.store %[[TWO]], %[[SLOT2]] : i64, !llvm.ptr
  // CHECK:         %[[NODE:.*]] = llvm.call @relay_opt_alloc(%{{.*}}) : (i64) -> !llvm.ptr
  // CHECK:         llvm.getelementptr inbounds %[[NODE]][2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  // CHECK:         func.return %[[NODE]] : !llvm.ptr
  relay.func @construct(%x: tensor<2xf32>) -> !relay.adt<@T> {
    %0 = relay.construct @T::@Leaf(%x) : (tensor<2xf32>) -> !relay.adt<@T>
    %1 = relay.construct @T::@Node(%0, %0) : (!relay.adt<@T>, !relay.adt<@T>) -> !relay.adt<@T>
    relay.return %1 : !relay.adt<@T>
  }

  // A nested pattern: the inner tag is read only under the outer one; only the fields a
  // sub-pattern needs are loaded; no clause matching is the error channel's call.
  // CHECK-LABEL: func.func @left_leaf(%t: !llvm.ptr) -> tensor<2xf32>
  // CHECK-NEXT:    %[[T:.*]] = llvm.load %t : !llvm.ptr -> i64
  // CHECK-NEXT:    %[[NODE:.*]] = arith.constant 1 : i64
  // CHECK-NEXT:    %[[ISNODE:.*]] = arith.cmpi eq, %[[T]], %[[NODE]] : i64
  // CHECK-NEXT:    %[[MATCH:.*]] = scf.if %[[ISNODE]] -> (i1) {
  // CHECK-NEXT:      %[[S:.*]] = llvm.getelementptr inbounds %t[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  // CHECK-NEXT:      %[[LEFT:.*]] = llvm.load %[[S]] : !llvm.ptr -> !llvm.ptr
  // CHECK-NEXT:      %[[LT:.*]] = llvm.load %[[LEFT]] : !llvm.ptr -> i64
  // CHECK-NEXT:      %[[LEAF:.*]] = arith.constant 0 : i64
  // CHECK-NEXT:      %[[ISLEAF:.*]] = arith.cmpi eq, %[[LT]], %[[LEAF]] : i64
  // CHECK-NEXT:      scf.yield %[[ISLEAF]] : i1
  // CHECK-NEXT:    } else {
  // CHECK-NEXT:      %[[NO:.*]] = arith.constant false
  // CHECK-NEXT:      scf.yield %[[NO]] : i1
  // CHECK-NEXT:    }
  // CHECK-NEXT:    %[[R:.*]] = scf.if %[[MATCH]] -> (tensor<2xf32>) {
  // CHECK-NEXT:      %[[S1:.*]] = llvm.getelementptr inbounds %t[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  // CHECK-NEXT:      %[[L:.*]] = llvm.load %[[S1]] : !llvm.ptr -> !llvm.ptr
  // CHECK-NEXT:      %[[S2:.*]] = llvm.getelementptr inbounds %[[L]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  // CHECK-NEXT:      %[[BUF:.*]] = llvm.load %[[S2]] : !llvm.ptr -> !llvm.ptr
  // CHECK-NEXT:      %[[VIEW:.*]] = builtin.unrealized_conversion_cast %[[BUF]] : !llvm.ptr to memref<2xf32>
  // CHECK-NEXT:      %[[X:.*]] = bufferization.to_tensor %[[VIEW]] restrict : memref<2xf32> to tensor<2xf32>
  // CHECK-NEXT:      scf.yield %[[X]] : tensor<2xf32>
  // CHECK-NEXT:    } else {
  // CHECK-NEXT:      %[[CODE:.*]] = arith.constant 0 : i64
  // CHECK-NEXT:      func.call @relay_opt_match_failed(%[[CODE]]) : (i64) -> ()
  // CHECK-NEXT:      %[[NONE:.*]] = tensor.empty() : tensor<2xf32>
  // CHECK-NEXT:      scf.yield %[[NONE]] : tensor<2xf32>
  // CHECK-NEXT:    }
  // CHECK-NEXT:    func.return %[[R]] : tensor<2xf32>
  relay.func @left_leaf(%t: !relay.adt<@T>) -> tensor<2xf32> {
    %0 = relay.match partial %t : !relay.adt<@T> -> tensor<2xf32> {
      case @T::@Node(@T::@Leaf(%x : tensor<2xf32>), _) {
        relay.yield %x : tensor<2xf32>
      }
    }
    relay.return %0 : tensor<2xf32>
  }

  // A complete match: the last clause is tested too (a wrong tag never reaches it).
  // CHECK-LABEL: func.func @depth(%t: !llvm.ptr, %one: tensor<i32>) -> tensor<i32>
  // CHECK:         scf.if %{{.*}} -> (tensor<i32>) {
  // CHECK:           func.call @depth(
  // CHECK:         } else {
  // CHECK:           scf.if %{{.*}} -> (tensor<i32>) {
  // CHECK:           } else {
  // CHECK:             func.call @relay_opt_match_failed(
  relay.func @depth(%t: !relay.adt<@T>, %one: tensor<i32>) -> tensor<i32> {
    %0 = relay.match %t : !relay.adt<@T> -> tensor<i32> {
      case @T::@Node(%l : !relay.adt<@T>, _) {
        %d = relay.call @depth(%l, %one) : (!relay.adt<@T>, tensor<i32>) -> tensor<i32>
        %s = relay.add %d, %one : (tensor<i32>, tensor<i32>) -> tensor<i32>
        relay.yield %s : tensor<i32>
      }
      case @T::@Leaf(_) {
        relay.yield %one : tensor<i32>
      }
    }
    relay.return %0 : tensor<i32>
  }

  // A reference is an object with tag 0; a write stores a fresh copy, so a view read
  // before it keeps its value.
  // CHECK-LABEL: func.func @cell(%x: tensor<2xf32>, %y: tensor<2xf32>) -> tensor<2xf32>
  // CHECK:         %[[CELL:.*]] = llvm.call @relay_opt_alloc(
  // CHECK:         bufferization.materialize_in_destination %x in writable
  // CHECK:         %[[NEW:.*]] = llvm.call @relay_opt_alloc(
  // CHECK-NEXT:    %[[DEST:.*]] = builtin.unrealized_conversion_cast %[[NEW]] : !llvm.ptr to memref<2xf32>
  // CHECK-NEXT:    bufferization.materialize_in_destination %y in writable %[[DEST]]
  // CHECK-NEXT:    %[[S:.*]] = llvm.getelementptr inbounds %[[CELL]][1]
  // CHECK-NEXT:    llvm.store %[[NEW]], %[[S]] : !llvm.ptr, !llvm.ptr
  // CHECK:         bufferization.to_tensor
  relay.func @cell(%x: tensor<2xf32>, %y: tensor<2xf32>) -> tensor<2xf32> {
    %r = relay.ref_create %x : tensor<2xf32>
    %u = relay.ref_write %r, %y : !relay.ref<tensor<2xf32>>, tensor<2xf32>
    %0 = relay.ref_read %r : !relay.ref<tensor<2xf32>>
    relay.return %0 : tensor<2xf32>
  }
}

// The arena: each allocation linked into @relay_opt_arena, freed by @relay_opt_release.
// CHECK: llvm.mlir.global weak @relay_opt_arena(0 : i64)
// CHECK-LABEL: llvm.func internal @relay_opt_alloc(%{{.*}}: i64) -> !llvm.ptr
// CHECK:         llvm.call @malloc(
// CHECK-LABEL: llvm.func @relay_opt_release()
// CHECK:         llvm.call @free(
// CHECK: func.func private @relay_opt_match_failed(i64) -> ()
