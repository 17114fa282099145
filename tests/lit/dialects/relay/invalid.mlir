// One verifier error per split, with its exact diagnostic; a plain run exits non-zero.
// RUN: relay-opt %s --split-input-file --verify-diagnostics | filecheck %s
// RUN: not relay-opt %s --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT
// EXIT: invalid.mlir:[[# @LINE + 5]]:3: error: returns tensor<f32> but the function's result type is tensor<i32>
// EXIT-NOT: Traceback

// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: returns tensor<f32> but the function's result type is tensor<i32>
relay.func @f(%x: tensor<f32>) -> tensor<i32> {
  relay.return %x : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 3]]:5: error: yields tensor<i32> but 'relay.if' has type tensor<f32>
relay.func @f(%c: tensor<i1>, %x: tensor<f32>, %i: tensor<i32>) -> tensor<f32> {
  %r = relay.if %c : tensor<i1> -> tensor<f32> {
    relay.yield %i : tensor<i32>
  } else {
    relay.yield %x : tensor<f32>
  }
  relay.return %r : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: type variable(s) B not bound by the function's type parameters
relay.func @f[A](%x: !relay.tvar<B>) -> !relay.tvar<B> {
  relay.return %x : !relay.tvar<B>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: '@nowhere' does not name a relay.func
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.call @nowhere(%x) : (tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 5]]:3: error: '@g' takes 1 argument(s), got 2
relay.func @g(%x: tensor<f32>) -> tensor<f32> {
  relay.return %x : tensor<f32>
}
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.call @g(%x, %x) : (tensor<f32>, tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 5]]:3: error: argument 0 of @g must be tensor<f32>, got tensor<i32>
relay.func @g(%x: tensor<f32>) -> tensor<f32> {
  relay.return %x : tensor<f32>
}
relay.func @f(%x: tensor<i32>) -> tensor<f32> {
  %0 = relay.call @g(%x) : (tensor<i32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
relay.type @Box[A] { relay.constructor @Box(!relay.tvar<A>) }
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: constructor @Box::@Box takes 1 field(s), got 0
relay.func @f() -> !relay.adt<@Box, tensor<f32>> {
  %0 = relay.construct @Box::@Box() : () -> !relay.adt<@Box, tensor<f32>>
  relay.return %0 : !relay.adt<@Box, tensor<f32>>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: '@Box::@Nope' does not name a constructor
relay.func @f() -> !relay.incomplete {
  %0 = relay.construct @Box::@Nope() : () -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 3]]:3: error: index 2 is out of range for tuple<tensor<f32>, tensor<f32>> (2 field(s))
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %t = relay.tuple %x, %x : tuple<tensor<f32>, tensor<f32>>
  %0 = relay.tuple_get %t[2] : tuple<tensor<f32>, tensor<f32>> -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 3]]:3: error: stores tensor<i32> into a cell of tensor<f32>
relay.func @f(%x: tensor<f32>, %i: tensor<i32>) -> tuple<> {
  %r = relay.ref_create %x : tensor<f32>
  %0 = relay.ref_write %r, %i : !relay.ref<tensor<f32>>, tensor<i32>
  relay.return %0 : tuple<>
}

// -----
relay.type @Box[A] { relay.constructor @Box(!relay.tvar<A>) }
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: constructor @Box::@Box takes 1 field(s), the pattern has 2
relay.func @f(%b: !relay.adt<@Box, tensor<f32>>) -> tensor<f32> {
  %0 = relay.match %b : !relay.adt<@Box, tensor<f32>> -> tensor<f32> {
    case @Box::@Box(%v : tensor<f32>, _) {
      relay.yield %v : tensor<f32>
    }
  }
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: an extern type has no constructors
"relay.type"() <{sym_name = "T", extern}> ({
  "relay.constructor"() <{sym_name = "C", inputs = []}> : () -> ()
}) : () -> ()

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: 1 pattern(s) but 2 clause region(s)
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = "relay.match"(%x) <{patterns = [#relay.pwild]}> ({
    "relay.yield"(%x) : (tensor<f32>) -> ()
  }, {
    "relay.yield"(%x) : (tensor<f32>) -> ()
  }) : (tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: result type tensor<3xf32> does not match the inferred type tensor<2xf32>
relay.func @f(%x: tensor<2xf32>) -> tensor<3xf32> {
  %0 = relay.exp %x : (tensor<2xf32>) -> tensor<3xf32>
  relay.return %0 : tensor<3xf32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:29: error: operator 'nn.softmax' has no attribute 'dim'
relay.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = relay.nn.softmax %x {dim = 0} : (tensor<2xf32>) -> tensor<2xf32>
  relay.return %0 : tensor<2xf32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:36: error: attribute 'axis' expects an integer, got "x"
relay.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = relay.nn.softmax %x {axis = "x"} : (tensor<2xf32>) -> tensor<2xf32>
  relay.return %0 : tensor<2xf32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: 'add' takes 2 operand(s) (lhs, rhs), got 1
relay.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "relay.add"(%x) : (tensor<2xf32>) -> tensor<2xf32>
  relay.return %0 : tensor<2xf32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:59: error: expected a pattern: `_`, `%x : T`, `(p, ...)` or `@T::@Ctor(p, ...)`
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.match %x : tensor<f32> -> tensor<f32> { case 3 { relay.yield %x : tensor<f32> } }
  relay.return %0 : tensor<f32>
}
