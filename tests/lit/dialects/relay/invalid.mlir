// One error per split, with its exact diagnostic: every verifier of core.py and adt.py,
// some of the operator registry's, and syntax errors of the custom forms.
// RUN: relay-opt %s --split-input-file --verify-diagnostics | filecheck %s
// Every split is rejected: no module is printed.
// RUN: relay-opt %s --split-input-file --verify-diagnostics | filecheck %s --check-prefix=NOMODULE
// NOMODULE-NOT: builtin.module
// A plain run stops at the first error, located, with a non-zero exit and no traceback.
// RUN: not relay-opt %s --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT
// EXIT: invalid.mlir:[[# @LINE + 10]]:3: error: returns tensor<f32> but the function's result type is tensor<i32>
// EXIT-NEXT: {{^}}  relay.return %x : tensor<f32>
// EXIT-NEXT: {{^}}  ^
// EXIT-NOT: error
// EXIT-NOT: Traceback

// ---- functions (core.py) --------------------------------------------------------------

// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: returns tensor<f32> but the function's result type is tensor<i32>
relay.func @f(%x: tensor<f32>) -> tensor<i32> {
  relay.return %x : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: a Relay function must have exactly one result type, got 2
"relay.func"() <{sym_name = "f", function_type = (tensor<f32>) -> (tensor<f32>, tensor<f32>)}> ({
^bb0(%x: tensor<f32>):
  "relay.return"(%x) : (tensor<f32>) -> ()
}) : () -> ()

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: entry block argument types differ from the function type
"relay.func"() <{sym_name = "f", function_type = (tensor<f32>) -> tensor<i32>}> ({
^bb0(%x: tensor<i32>):
  "relay.return"(%x) : (tensor<i32>) -> ()
}) : () -> ()

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: duplicate type parameter
relay.func @f[A, A](%x: !relay.tvar<A>) -> !relay.tvar<A> {
  relay.return %x : !relay.tvar<A>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: type variable(s) B not bound by the function's type parameters
relay.func @f[A](%x: !relay.tvar<B>) -> !relay.tvar<B> {
  relay.return %x : !relay.tvar<B>
}

// -----
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  relay.return %x : tensor<f32>
}
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: redefinition of symbol @f
relay.func @f(%x: tensor<i32>) -> tensor<i32> {
  relay.return %x : tensor<i32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: '@Nope' in !relay.adt<@Nope, tensor<f32>> does not name a relay.type
relay.func @f(%x: !relay.adt<@Nope, tensor<f32>>) -> tuple<> {
  %0 = relay.tuple : tuple<>
  relay.return %0 : tuple<>
}

// -----
relay.type @Box[A] { relay.constructor @Box(!relay.tvar<A>) }
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: !relay.adt<@Box> has 0 type argument(s) but @Box takes 1
relay.func @f(%x: !relay.adt<@Box>) -> tuple<> {
  %0 = relay.tuple : tuple<>
  relay.return %0 : tuple<>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: closure parameter types differ from its function type
relay.func @f() -> tuple<> {
  %f = "relay.fn"() ({
  ^bb0(%a: tensor<i32>):
    "relay.return"(%a) : (tensor<i32>) -> ()
  }) : () -> ((tensor<f32>) -> tensor<i32>)
  %0 = relay.tuple : tuple<>
  relay.return %0 : tuple<>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: the self argument of a recursive closure must have its type
relay.func @f() -> tuple<> {
  %f = "relay.fn"() <{recursive}> ({
  ^bb0(%self: tensor<f32>, %a: tensor<f32>):
    "relay.return"(%a) : (tensor<f32>) -> ()
  }) : () -> ((tensor<f32>) -> tensor<f32>)
  %0 = relay.tuple : tuple<>
  relay.return %0 : tuple<>
}

// ---- calls ----------------------------------------------------------------------------

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: '@nowhere' does not name a relay.func
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.call @nowhere(%x) : (tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
relay.func @g(%x: tensor<f32>) -> tensor<f32> {
  relay.return %x : tensor<f32>
}
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: '@g' takes 1 argument(s), got 2
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.call @g(%x, %x) : (tensor<f32>, tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
relay.func @g(%x: tensor<f32>) -> tensor<f32> {
  relay.return %x : tensor<f32>
}
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: argument 0 of @g must be tensor<f32>, got tensor<i32>
relay.func @f(%x: tensor<i32>) -> tensor<f32> {
  %0 = relay.call @g(%x) : (tensor<i32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
relay.func @g(%x: tensor<f32>) -> tensor<f32> {
  relay.return %x : tensor<f32>
}
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: @g returns tensor<f32>, not tensor<i32>
relay.func @f(%x: tensor<f32>) -> tensor<i32> {
  %0 = relay.call @g(%x) : (tensor<f32>) -> tensor<i32>
  relay.return %0 : tensor<i32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 5]]:3: error: the callee takes 1 argument(s), got 2
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %f = relay.fn (%a: tensor<f32>) -> tensor<f32> {
    relay.return %a : tensor<f32>
  }
  %0 = relay.call_closure %f(%x, %x) : (tensor<f32>, tensor<f32>) -> tensor<f32>, callee: (tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 5]]:3: error: argument 0 of the callee must be tensor<f32>, got tensor<i32>
relay.func @f(%i: tensor<i32>) -> tensor<f32> {
  %f = relay.fn (%a: tensor<f32>) -> tensor<f32> {
    relay.return %a : tensor<f32>
  }
  %0 = relay.call_closure %f(%i) : (tensor<i32>) -> tensor<f32>, callee: (tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: callee of type tensor<f32> is not a function
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.call_closure %x(%x) : (tensor<f32>) -> tensor<f32>, callee: tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: '@nowhere' does not name a relay.func
relay.func @f() -> (tensor<f32>) -> tensor<f32> {
  %0 = relay.global_ref @nowhere : (tensor<f32>) -> tensor<f32>
  relay.return %0 : (tensor<f32>) -> tensor<f32>
}

// -----
relay.func @g(%x: tensor<f32>) -> tensor<f32> {
  relay.return %x : tensor<f32>
}
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: '@g' has type (tensor<f32>) -> tensor<f32>, not (tensor<i32>) -> tensor<f32>
relay.func @f() -> (tensor<i32>) -> tensor<f32> {
  %0 = relay.global_ref @g : (tensor<i32>) -> tensor<f32>
  relay.return %0 : (tensor<i32>) -> tensor<f32>
}

// ---- control flow ---------------------------------------------------------------------

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: the condition must be a bool scalar tensor<i1>, got tensor<2xi1>
relay.func @f(%c: tensor<2xi1>, %x: tensor<f32>) -> tensor<f32> {
  %r = relay.if %c : tensor<2xi1> -> tensor<f32> {
    relay.yield %x : tensor<f32>
  } else {
    relay.yield %x : tensor<f32>
  }
  relay.return %r : tensor<f32>
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
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: expects parent op 'relay.if' or 'relay.match'
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  relay.yield %x : tensor<f32>
}

// ---- values ---------------------------------------------------------------------------

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: result type tensor<3xf32> differs from the value's type tensor<2xf32>
relay.func @f() -> tensor<3xf32> {
  %c = "relay.constant"() <{value = dense<1.0> : tensor<2xf32>}> : () -> tensor<3xf32>
  relay.return %c : tensor<3xf32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: result type tuple<tensor<i32>> differs from the fields' types
relay.func @f(%x: tensor<f32>) -> tuple<tensor<i32>> {
  %t = "relay.tuple"(%x) : (tensor<f32>) -> tuple<tensor<i32>>
  relay.return %t : tuple<tensor<i32>>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 3]]:3: error: index 2 is out of range for tuple<tensor<f32>, tensor<f32>> (2 field(s))
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %t = relay.tuple %x, %x : tuple<tensor<f32>, tensor<f32>>
  %0 = relay.tuple_get %t[2] : tuple<tensor<f32>, tensor<f32>> -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 3]]:3: error: result type tensor<i32> differs from field 0 of tuple<tensor<f32>>
relay.func @f(%x: tensor<f32>) -> tensor<i32> {
  %t = relay.tuple %x : tuple<tensor<f32>>
  %0 = relay.tuple_get %t[0] : tuple<tensor<f32>> -> tensor<i32>
  relay.return %0 : tensor<i32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: operand of type tensor<f32> is not a tuple
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.tuple_get %x[0] : tensor<f32> -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: index must be an integer
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = "relay.tuple_get"(%x) <{index = "a"}> : (tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: result type tensor<f32> is not a reference type
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %r = relay.ref_create %x : tensor<f32> -> tensor<f32>
  relay.return %r : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: puts tensor<f32> into a cell of tensor<i32>
relay.func @f(%x: tensor<f32>) -> !relay.ref<tensor<i32>> {
  %r = relay.ref_create %x : tensor<f32> -> !relay.ref<tensor<i32>>
  relay.return %r : !relay.ref<tensor<i32>>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 3]]:3: error: result type tensor<i32> differs from the cell's tensor<f32>
relay.func @f(%x: tensor<f32>) -> tensor<i32> {
  %r = relay.ref_create %x : tensor<f32>
  %0 = relay.ref_read %r : !relay.ref<tensor<f32>> -> tensor<i32>
  relay.return %0 : tensor<i32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: operand of type tensor<f32> is not a reference
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.ref_read %x : tensor<f32> -> tensor<f32>
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
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: operand of type tensor<f32> is not a reference
relay.func @f(%x: tensor<f32>) -> tuple<> {
  %0 = relay.ref_write %x, %x : tensor<f32>, tensor<f32>
  relay.return %0 : tuple<>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 3]]:3: error: result type must be the unit tuple<>
relay.func @f(%x: tensor<f32>) -> tuple<tensor<f32>> {
  %r = relay.ref_create %x : tensor<f32>
  %0 = "relay.ref_write"(%r, %x) : (!relay.ref<tensor<f32>>, tensor<f32>) -> tuple<tensor<f32>>
  relay.return %0 : tuple<tensor<f32>>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: Expected attribute tensor<ui64> but got tensor<i64>
relay.func @f() -> tensor<i64> {
  %0 = relay.call_count : tensor<i64>
  relay.return %0 : tensor<i64>
}

// ---- ADTs and match (adt.py) ----------------------------------------------------------

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: duplicate type parameter
relay.type @T[A, A] {
  relay.constructor @C(!relay.tvar<A>)
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: 'relay.tuple' is not allowed in a type definition
"relay.type"() <{sym_name = "T"}> ({
  %0 = "relay.tuple"() : () -> tuple<>
}) : () -> ()

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: an extern type has no constructors
relay.type @T extern {
  relay.constructor @C
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: constructor @C uses unbound type variable(s) B
relay.type @T[A] {
  relay.constructor @C(!relay.tvar<B>)
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: '@Nope' in !relay.adt<@Nope> does not name a relay.type
relay.type @T {
  relay.constructor @C(!relay.adt<@Nope>)
}

// -----
relay.type @Box[A] { relay.constructor @Box(!relay.tvar<A>) }
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: redefinition of symbol @Box
relay.type @Box { relay.constructor @Other }

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: '@Box::@Nope' does not name a constructor
relay.func @f() -> !relay.incomplete {
  %0 = relay.construct @Box::@Nope() : () -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}

// -----
relay.type @Box[A] { relay.constructor @Box(!relay.tvar<A>) }
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: constructor @Box::@Box takes 1 field(s), got 0
relay.func @f() -> !relay.adt<@Box, tensor<f32>> {
  %0 = relay.construct @Box::@Box() : () -> !relay.adt<@Box, tensor<f32>>
  relay.return %0 : !relay.adt<@Box, tensor<f32>>
}

// -----
relay.type @Box[A] { relay.constructor @Box(!relay.tvar<A>) }
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: constructor @Box::@Box builds a !relay.adt<@Box, ...>, not tensor<f32>
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.construct @Box::@Box(%x) : (tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
relay.type @Box[A] { relay.constructor @Box(!relay.tvar<A>) }
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: !relay.adt<@Box, tensor<f32>, tensor<f32>> has 2 type argument(s) but @Box takes 1
relay.func @f(%x: tensor<f32>) -> tuple<> {
  %0 = relay.construct @Box::@Box(%x) : (tensor<f32>) -> !relay.adt<@Box, tensor<f32>, tensor<f32>>
  %1 = relay.tuple : tuple<>
  relay.return %1 : tuple<>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: a match needs at least one clause
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.match %x : tensor<f32> -> tensor<f32> {
  }
  relay.return %0 : tensor<f32>
}

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
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: clause 0 binds 1 variable(s) but its region has 0 argument(s)
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = "relay.match"(%x) <{patterns = [#relay.pvar]}> ({
    "relay.yield"(%x) : (tensor<f32>) -> ()
  }) : (tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: 1 : i64 is not a pattern
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = "relay.match"(%x) <{patterns = [1 : i64]}> ({
    "relay.yield"(%x) : (tensor<f32>) -> ()
  }) : (tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
relay.type @Box[A] { relay.constructor @Box(!relay.tvar<A>) }
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: '@Box::@Nope' does not name a constructor
relay.func @f(%b: !relay.adt<@Box, tensor<f32>>, %x: tensor<f32>) -> tensor<f32> {
  %0 = relay.match %b : !relay.adt<@Box, tensor<f32>> -> tensor<f32> {
    case @Box::@Nope {
      relay.yield %x : tensor<f32>
    }
  }
  relay.return %0 : tensor<f32>
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

// ---- operators (the registry) ---------------------------------------------------------

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
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: seq_lengths has 3 lengths but batch axis 0 of data (2, 5) has 2
relay.func @f(%x: tensor<2x5xf32>, %l: tensor<3xi32>) -> tensor<2x5xf32> {
  %0 = relay.reverse_sequence %x, %l : (tensor<2x5xf32>, tensor<3xi32>) -> tensor<2x5xf32>
  relay.return %0 : tensor<2x5xf32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: seq_axis 1 and batch_axis -1 are the same axis (1) of rank 2 data
relay.func @f(%x: tensor<2x5xf32>, %l: tensor<5xi64>) -> tensor<2x5xf32> {
  %0 = relay.reverse_sequence %x, %l {batch_axis = -1} : (tensor<2x5xf32>, tensor<5xi64>) -> tensor<2x5xf32>
  relay.return %0 : tensor<2x5xf32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:3: error: reinterpret float32 as int16: their widths differ
relay.func @f(%x: tensor<4xf32>) -> tensor<4xi16> {
  %0 = relay.reinterpret %x {dtype = "int16"} : (tensor<4xf32>) -> tensor<4xi16>
  relay.return %0 : tensor<4xi16>
}

// ---- syntax ---------------------------------------------------------------------------

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:59: error: expected a pattern: `_`, `%x : T`, `(p, ...)` or `@T::@Ctor(p, ...)`
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.match %x : tensor<f32> -> tensor<f32> { case 3 { relay.yield %x : tensor<f32> } }
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 6]]:3: error: Expected '}' to end the match clauses (each starts with `case`)
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.match %x : tensor<f32> -> tensor<f32> {
    case _ {
      relay.yield %x : tensor<f32>
    }
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:29: error: expected a tuple type with 2 field(s)
relay.func @f(%x: tensor<f32>) -> tuple<tensor<f32>> {
  %t = relay.tuple %x, %x : tuple<tensor<f32>>
  relay.return %t : tuple<tensor<f32>>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:23: error: expected a dense<...> or dense_resource<...> value
relay.func @f() -> tensor<f32> {
  %c = relay.constant 1.0 : f32
  relay.return %c : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:36: error: expected `(argument types) -> result type`
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.call_closure %x(%x) : tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 2]]:40: error: 2 argument(s) but 1 argument type(s)
relay.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = relay.call_closure %x(%x, %x) : (tensor<f32>) -> tensor<f32>
  relay.return %0 : tensor<f32>
}

// -----
// CHECK: invalid.mlir:[[# @LINE + 1]]:1: error: 'relay.constructor' expects parent op 'relay.type'
relay.constructor @Stray(tensor<f32>)
