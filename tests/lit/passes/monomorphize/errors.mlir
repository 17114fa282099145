// RUN: relay-opt %s -p monomorphize --split-input-file --verify-diagnostics | filecheck %s
// RUN: not relay-opt %s -p monomorphize --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT

// Polymorphic recursion that would not end is an error at the use that goes one step too
// far, with a note at the function; never a hang or a traceback.

// EXIT: errors.mlir:[[# @LINE + 13]]:5: error: monomorphize: specializing @g does not end (polymorphic recursion: a type argument of more than 2000 parts); the last use is at B = tuple<tuple<
// EXIT-NOT: Traceback
// CHECK: errors.mlir:[[# @LINE + 11]]:5: error: monomorphize: specializing @g does not end (polymorphic recursion: a type argument of more than 2000 parts)
// CHECK: errors.mlir:[[# @LINE + 15]]:1: note: @g is defined here
relay.func @f[A](%x: !relay.tvar<A>, %n: tensor<i32>) -> tensor<i32> {
  %0 = relay.constant dense<0> : tensor<i32>
  %1 = relay.equal %n, %0 : (tensor<i32>, tensor<i32>) -> tensor<i1>
  %2 = relay.if %1 : tensor<i1> -> tensor<i32> {
    relay.yield %0 : tensor<i32>
  } else {
    %4 = relay.tuple %x, %x : tuple<!relay.tvar<A>, !relay.tvar<A>>
    %5 = relay.constant dense<1> : tensor<i32>
    %6 = relay.subtract %n, %5 : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %7 = relay.call @g(%4, %6) : (tuple<!relay.tvar<A>, !relay.tvar<A>>, tensor<i32>) -> tensor<i32>
    relay.yield %7 : tensor<i32>
  }
  relay.return %2 : tensor<i32>
}
relay.func @g[B](%y: !relay.tvar<B>, %n: tensor<i32>) -> tensor<i32> {
  %0 = relay.call @f(%y, %n) : (!relay.tvar<B>, tensor<i32>) -> tensor<i32>
  relay.return %0 : tensor<i32>
}
relay.func @main(%x: tensor<f32>) -> tensor<i32> {
  %0 = relay.constant dense<3> : tensor<i32>
  %1 = relay.call @f(%x, %0) : (tensor<f32>, tensor<i32>) -> tensor<i32>
  relay.return %1 : tensor<i32>
}

// -----

// A type that grows by one constructor per step: the instantiation count ends it.
// CHECK: errors.mlir:[[# @LINE + 14]]:5: error: monomorphize: specializing @f does not end (polymorphic recursion: more than 64 instantiations); the last use is at A = !relay.adt<@Box, !relay.adt<@Box,
// CHECK: errors.mlir:[[# @LINE + 4]]:1: note: @f is defined here
relay.type @Box[A] {
  relay.constructor @Box(!relay.tvar<A>)
}
relay.func @f[A](%x: !relay.tvar<A>, %n: tensor<i32>) -> tensor<i32> {
  %0 = relay.constant dense<0> : tensor<i32>
  %1 = relay.equal %n, %0 : (tensor<i32>, tensor<i32>) -> tensor<i1>
  %2 = relay.if %1 : tensor<i1> -> tensor<i32> {
    relay.yield %0 : tensor<i32>
  } else {
    %b = relay.construct @Box::@Box(%x) : (!relay.tvar<A>) -> !relay.adt<@Box, !relay.tvar<A>>
    %5 = relay.constant dense<1> : tensor<i32>
    %6 = relay.subtract %n, %5 : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %7 = relay.call @f(%b, %6) : (!relay.adt<@Box, !relay.tvar<A>>, tensor<i32>) -> tensor<i32>
    relay.yield %7 : tensor<i32>
  }
  relay.return %2 : tensor<i32>
}
relay.func @main(%x: tensor<f32>) -> tensor<i32> {
  %0 = relay.constant dense<3> : tensor<i32>
  %1 = relay.call @f(%x, %0) : (tensor<f32>, tensor<i32>) -> tensor<i32>
  relay.return %1 : tensor<i32>
}
