// RUN: relay-opt %s -p gradient --split-input-file --verify-diagnostics | filecheck %s
// RUN: not relay-opt %s -p gradient --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT

// An operator without a gradient rule, a rule that does not take the call's attributes, and
// what the higher-order gradient does not take yet are errors at the op, naming it; never a
// traceback.

// EXIT: errors.mlir:[[# @LINE + 4]]:3: error: gradient: 'argmax' is not differentiable
// EXIT-NOT: Traceback
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: gradient: 'argmax' is not differentiable
relay.func @main(%x: tensor<3xf32>) -> tensor<i32> {
  %0 = relay.argmax %x : (tensor<3xf32>) -> tensor<i32>
  relay.return %0 : tensor<i32>
}

// -----

// CHECK: errors.mlir:[[# @LINE + 3]]:3: error: gradient: cannot differentiate 'nn.pad': nn.pad with pad_mode 'edge' (only constant)
relay.func @main(%x: tensor<3xf32>) -> tensor<5xf32> {
  %v = relay.constant dense<0.0> : tensor<f32>
  %0 = relay.nn.pad %x, %v {pad_width = [[1, 1]], pad_mode = "edge"} : (tensor<3xf32>, tensor<f32>) -> tensor<5xf32>
  relay.return %0 : tensor<5xf32>
}

// -----

// A parameter of the differentiated function holding float tensors in a reference or a
// closure: the AD form of its tensors would have to be built by the code it holds.
// CHECK: errors.mlir:[[# @LINE + 1]]:1: error: gradient: Not yet: the higher-order gradient takes parameter 0 of type !relay.ref<tensor<3xf32>>, which holds float tensors in a reference or a function; build it inside the function
relay.func @main(%r: !relay.ref<tensor<3xf32>>, %x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = relay.ref_read %r : !relay.ref<tensor<3xf32>> -> tensor<3xf32>
  %1 = relay.multiply %0, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  relay.return %1 : tensor<3xf32>
}

// -----

// A primitive function (fuse-ops' groups) is not differentiated: run gradient first.
// CHECK: errors.mlir:[[# @LINE + 2]]:3: error: gradient: Not yet: a primitive function (differentiate before fuse-ops)
relay.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
  %f = relay.fn (%y: tensor<3xf32>) -> tensor<3xf32> attributes {Primitive = 1 : i64} {
    %0 = relay.tanh %y : (tensor<3xf32>) -> tensor<3xf32>
    relay.return %0 : tensor<3xf32>
  }
  %1 = relay.call_closure %f(%x) : (tensor<3xf32>) -> tensor<3xf32>
  relay.return %1 : tensor<3xf32>
}
