// What native code does not have yet is a located error that points at the interpreter
// (docs/strings.md, "Native code"): casts of bfloat16 to strings, and split, normalize and
// from_string of data with ? dims.
// RUN: relay-opt %s --split-input-file --verify-diagnostics -p convert-relay-to-linalg | filecheck %s

// CHECK: convert-relay-to-linalg-strings-invalid.mlir:[[# @LINE + 2]]:3: error: 'strings.from_string' with ? dimensions is not supported natively yet (the interpreter runs it: relay-run --interpret)
relay.func @f(%x: tensor<?x!relay.string>) -> tensor<?xf32> {
  %0 = relay.strings.from_string %x {dtype = "float32"} : (tensor<?x!relay.string>) -> tensor<?xf32>
  relay.return %0 : tensor<?xf32>
}

// -----
// CHECK: convert-relay-to-linalg-strings-invalid.mlir:[[# @LINE + 2]]:3: error: 'strings.to_string' of bfloat16 (numpy's shortest text of a float) is not compiled to native code yet; the interpreter runs it (relay-run --interpret; docs/strings.md)
relay.func @h(%x: tensor<2xbf16>) -> tensor<2x!relay.string> {
  %0 = relay.strings.to_string %x : (tensor<2xbf16>) -> tensor<2x!relay.string>
  relay.return %0 : tensor<2x!relay.string>
}

// -----
// CHECK: convert-relay-to-linalg-strings-invalid.mlir:[[# @LINE + 2]]:3: error: 'strings.split' of data with ? dimensions is not compiled to native code yet; the interpreter runs it (relay-run --interpret; docs/strings.md)
relay.func @g(%x: tensor<?x!relay.string>) -> tuple<tensor<?x?x!relay.string>, tensor<?xi64>> {
  %0 = relay.strings.split %x : (tensor<?x!relay.string>) -> tuple<tensor<?x?x!relay.string>, tensor<?xi64>>
  relay.return %0 : tuple<tensor<?x?x!relay.string>, tensor<?xi64>>
}
