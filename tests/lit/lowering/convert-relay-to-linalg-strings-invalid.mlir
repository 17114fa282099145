// String tensors are not compiled to native code yet (docs/strings.md): a function that takes
// one, and a string operator inside a function, are located errors that point at the
// interpreter.
// RUN: relay-opt %s --split-input-file --verify-diagnostics -p convert-relay-to-linalg | filecheck %s

// CHECK: convert-relay-to-linalg-strings-invalid.mlir:[[# @LINE + 1]]:1: error: @f: string tensors are not compiled to native code yet; the interpreter runs them (relay-run --interpret; docs/strings.md)
relay.func @f(%x: tensor<2x!relay.string>) -> tensor<2xi1> {
  %0 = relay.strings.equal %x, %x : (tensor<2x!relay.string>, tensor<2x!relay.string>) -> tensor<2xi1>
  relay.return %0 : tensor<2xi1>
}

// -----
// CHECK: convert-relay-to-linalg-strings-invalid.mlir:[[# @LINE + 2]]:3: error: 'strings.constant': string tensors are not compiled to native code yet; the interpreter runs them (relay-run --interpret; docs/strings.md)
relay.func @g() -> tensor<2xi1> {
  %k = relay.strings.constant {texts = ["a", "b"], shape = [2]} : () -> tensor<2x!relay.string>
  %0 = relay.strings.equal %k, %k : (tensor<2x!relay.string>, tensor<2x!relay.string>) -> tensor<2xi1>
  relay.return %0 : tensor<2xi1>
}
