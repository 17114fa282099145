// RUN: relay-opt %s -p infer-types --split-input-file --verify-diagnostics | filecheck %s
// RUN: not relay-opt %s -p infer-types --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT

// Each split holds one type error; infer-types reports it at the op, naming both types.

// EXIT: errors.mlir:[[# @LINE + 4]]:3: error: 'add': shapes (2, 3) and (4, 3) do not broadcast
// EXIT-NOT: Traceback
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'add': shapes (2, 3) and (4, 3) do not broadcast (dimension 2 against 4)
relay.func @broadcast(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) -> !relay.incomplete {
  %0 = relay.add %a, %b : (tensor<2x3xf32>, tensor<4x3xf32>) -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}

// -----

// CHECK: errors.mlir:[[# @LINE + 6]]:5: error: the branches of 'relay.if' differ: the then branch yields tensor<2xf32>, the else branch tensor<3xf32>
relay.func @branches(%c: tensor<i1>, %a: tensor<2xf32>, %b: tensor<3xf32>) -> !relay.incomplete {
  %r = relay.if %c : tensor<i1> -> !relay.incomplete {
    %x = relay.exp %a : (tensor<2xf32>) -> !relay.incomplete
    relay.yield %x : !relay.incomplete
  } else {
    relay.yield %b : tensor<3xf32>
  }
  relay.return %r : !relay.incomplete
}

// -----

// CHECK: errors.mlir:[[# @LINE + 5]]:3: error: constructor @Box::@Box takes 1 field(s), got 2
relay.type @Box[A] {
  relay.constructor @Box(!relay.tvar<A>)
}
relay.func @arity(%a: tensor<f32>) -> !relay.incomplete {
  %0 = relay.construct @Box::@Box(%a, %a) : (tensor<f32>, tensor<f32>) -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}

// -----

// CHECK: errors.mlir:[[# @LINE + 2]]:25: error: Operation relay.no_such_op is not registered
relay.func @unknown(%a: tensor<f32>) -> !relay.incomplete {
  %0 = relay.no_such_op %a : (tensor<f32>) -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}

// -----

// CHECK: errors.mlir:[[# @LINE + 6]]:3: error: @id has type (tensor<2xf32>) -> tensor<2xf32> but is used as (tensor<3xf32>) -> !relay.incomplete
relay.func @id(%x: tensor<2xf32>) -> tensor<2xf32> {
  relay.return %x : tensor<2xf32>
}
relay.func @caller(%y: tensor<3xf32>) -> !relay.incomplete {
  %e = relay.exp %y : (tensor<3xf32>) -> !relay.incomplete
  %0 = relay.call @id(%e) : (!relay.incomplete) -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}

// -----

// CHECK: errors.mlir:[[# @LINE + 3]]:3: error: index 2 is out of range for tuple<tensor<f32>, tensor<f32>> (2 field(s))
relay.func @project(%a: tensor<f32>) -> !relay.incomplete {
  %t = relay.tuple %a, %a : tuple<tensor<f32>, tensor<f32>>
  %0 = relay.tuple_get %t[2] : tuple<tensor<f32>, tensor<f32>> -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}

// -----

// A type parameter is rigid inside its function: it cannot be a tensor.
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: returns tensor<f32> but the function's result type is !relay.tvar<A>
relay.func @not_generic[A](%x: !relay.tvar<A>, %c: tensor<f32>) -> !relay.tvar<A> {
  relay.return %c : tensor<f32>
}

// -----

// CHECK: errors.mlir:[[# @LINE + 3]]:3: error: cannot infer a type for this value: !relay.adt<@List, !relay.incomplete>; annotate it
relay.type @List[A] { relay.constructor @Nil }
relay.func @unknown_element() -> tensor<f32> {
  %nil = relay.construct @List::@Nil() : () -> !relay.incomplete
  %c = relay.constant dense<1.0> : tensor<f32>
  relay.return %c : tensor<f32>
}

// -----

// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: 'nn.conv2d': data has 3 input channels but weight expects 4 (groups=1); data (1, 3, 8, 8), weight (8, 4, 3, 3)
relay.func @channels(%x: tensor<1x3x8x8xf32>, %w: tensor<8x4x3x3xf32>) -> !relay.incomplete {
  %0 = relay.nn.conv2d %x, %w {padding = [1, 1]} : (tensor<1x3x8x8xf32>, tensor<8x4x3x3xf32>) -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}
