// RUN: relay-opt %s -p gradient --split-input-file --verify-diagnostics | filecheck %s
// RUN: not relay-opt %s -p gradient --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT

// An operator without a gradient rule, a rule that does not take the call's attributes, calls
// and closures (first-order gradient) are errors at the op, naming it; never a traceback.

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

// CHECK: errors.mlir:[[# @LINE + 6]]:3: error: gradient: 'relay.call' is not supported by the first-order gradient (inline calls or partial-evaluate first)
relay.func @square(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = relay.multiply %x, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  relay.return %0 : tensor<3xf32>
}
relay.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = relay.call @square(%x) : (tensor<3xf32>) -> tensor<3xf32>
  relay.return %0 : tensor<3xf32>
}

// -----

// CHECK: errors.mlir:[[# @LINE + 1]]:1: error: gradient: parameter 0 has type !relay.ref<tensor<3xf32>>; only tensors and tuples of tensors are differentiated (first-order gradient)
relay.func @main(%r: !relay.ref<tensor<3xf32>>, %x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = relay.ref_read %r : !relay.ref<tensor<3xf32>> -> tensor<3xf32>
  %1 = relay.multiply %0, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  relay.return %1 : tensor<3xf32>
}

// -----

// CHECK: errors.mlir:[[# @LINE + 3]]:3: error: gradient: a match on a value that depends on a differentiated parameter is not supported by the first-order gradient
relay.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
  %t = relay.tuple %x, %x : tuple<tensor<3xf32>, tensor<3xf32>>
  %0 = relay.match %t : tuple<tensor<3xf32>, tensor<3xf32>> -> tensor<3xf32> {
    case (%a: tensor<3xf32>, %b: tensor<3xf32>) {
      %1 = relay.multiply %a, %b : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
      relay.yield %1 : tensor<3xf32>
    }
  }
  relay.return %0 : tensor<3xf32>
}
