// A call whose result is a function prints its type with the result in parentheses,
// `() -> ((A) -> R)`, and reads back (xDSL's functional-type directive printed
// `() -> (A) -> R`, which does not parse); custom and generic forms are fixed points.
// RUN: relay-opt %s | filecheck %s
// RUN: relay-opt %s | relay-opt | filecheck %s
// RUN: relay-opt %s --print-op-generic | relay-opt | filecheck %s
// RUN: relay-opt %s -o %t.mlir
// RUN: relay-opt %t.mlir | diff %t.mlir -
// RUN: relay-translate --export-relay %s | relay-opt --input-format relay | filecheck %s --check-prefix=RELAY

builtin.module {
  // CHECK-LABEL: relay.func @adder() -> (tensor<f32>) -> tensor<f32> {
  relay.func @adder() -> (tensor<f32>) -> tensor<f32> {
    %0 = relay.fn (%x: tensor<f32>) -> tensor<f32> {
      relay.return %x : tensor<f32>
    }
    relay.return %0 : (tensor<f32>) -> tensor<f32>
  }
  // CHECK-LABEL: relay.func @curried() -> () -> ((tensor<f32>) -> tensor<f32>) {
  relay.func @curried() -> () -> ((tensor<f32>) -> tensor<f32>) {
    %0 = relay.global_ref @adder : () -> ((tensor<f32>) -> tensor<f32>)
    relay.return %0 : () -> ((tensor<f32>) -> tensor<f32>)
  }
  // CHECK-LABEL: relay.func @main(%y: tensor<f32>) -> tensor<f32> {
  // CHECK-NEXT:    %g = relay.call @adder() : () -> ((tensor<f32>) -> tensor<f32>)
  // CHECK-NEXT:    %h = relay.call @curried() : () -> (() -> ((tensor<f32>) -> tensor<f32>))
  // CHECK-NEXT:    %0 = relay.call_closure %g(%y) : (tensor<f32>) -> tensor<f32>
  // RELAY-LABEL: relay.func @main(%y: tensor<f32>) -> tensor<f32> {
  // RELAY:         relay.call @adder() : () -> ((tensor<f32>) -> tensor<f32>)
  // RELAY:         relay.call @curried() : () -> (() -> ((tensor<f32>) -> tensor<f32>))
  relay.func @main(%y: tensor<f32>) -> tensor<f32> {
    %g = relay.call @adder() : () -> ((tensor<f32>) -> tensor<f32>)
    %h = relay.call @curried() : () -> (() -> ((tensor<f32>) -> tensor<f32>))
    %0 = relay.call_closure %g(%y) : (tensor<f32>) -> tensor<f32>
    relay.return %0 : tensor<f32>
  }
}
