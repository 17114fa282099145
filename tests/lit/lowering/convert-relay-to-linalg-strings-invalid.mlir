// The string operators native code does not have yet are located errors that point at the
// interpreter (docs/strings.md, "Native code"); split and normalize of data with ? dims too.
// RUN: relay-opt %s --split-input-file --verify-diagnostics -p convert-relay-to-linalg | filecheck %s

// CHECK: convert-relay-to-linalg-strings-invalid.mlir:[[# @LINE + 2]]:3: error: 'strings.from_string': this string operator is not compiled to native code yet; the interpreter runs it (relay-run --interpret; docs/strings.md)
relay.func @f(%x: tensor<2x!relay.string>) -> tensor<2xi32> {
  %0 = relay.strings.from_string %x {dtype = "int32"} : (tensor<2x!relay.string>) -> tensor<2xi32>
  relay.return %0 : tensor<2xi32>
}

// -----
// CHECK: convert-relay-to-linalg-strings-invalid.mlir:[[# @LINE + 2]]:3: error: 'strings.to_string' of float32 is not compiled natively yet (numpy's shortest text of a float); the interpreter runs it (relay-run --interpret)
relay.func @h(%x: tensor<2xf32>) -> tensor<2x!relay.string> {
  %0 = relay.strings.to_string %x : (tensor<2xf32>) -> tensor<2x!relay.string>
  relay.return %0 : tensor<2x!relay.string>
}

// -----
// CHECK: convert-relay-to-linalg-strings-invalid.mlir:[[# @LINE + 2]]:3: error: 'strings.split' of data with ? dimensions is not lowered natively yet
relay.func @g(%x: tensor<?x!relay.string>) -> tuple<tensor<?x?x!relay.string>, tensor<?xi64>> {
  %0 = relay.strings.split %x : (tensor<?x!relay.string>) -> tuple<tensor<?x?x!relay.string>, tensor<?xi64>>
  relay.return %0 : tuple<tensor<?x?x!relay.string>, tensor<?xi64>>
}
