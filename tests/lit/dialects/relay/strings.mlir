// The string element type and the string operators print and parse back (docs/strings.md);
// a string constant's texts are MLIR string literals (escapes for '"', '\' and control
// characters, other characters as they are).
// RUN: relay-opt %s | filecheck %s
// RUN: relay-opt %s | relay-opt | filecheck %s

// CHECK-LABEL: relay.func @main(%a: tensor<2x!relay.string>, %b: tensor<!relay.string>) -> tuple<tensor<2xi1>, tensor<2x?x!relay.string>, tensor<2xi64>> {
// CHECK-NEXT:    %k = relay.strings.constant {texts = ["a\"b", "café\n"], shape = [2]} : () -> tensor<2x!relay.string>
// CHECK-NEXT:    %c = relay.strings.concat %a, %b : (tensor<2x!relay.string>, tensor<!relay.string>) -> tensor<2x!relay.string>
// CHECK-NEXT:    %e = relay.strings.equal %c, %k : (tensor<2x!relay.string>, tensor<2x!relay.string>) -> tensor<2xi1>
// CHECK-NEXT:    %s = relay.strings.split %c {delimiter = "-", maxsplit = 1} : (tensor<2x!relay.string>) -> tuple<tensor<2x?x!relay.string>, tensor<2xi64>>
relay.func @main(%a: tensor<2x!relay.string>, %b: tensor<!relay.string>) -> tuple<tensor<2xi1>, tensor<2x?x!relay.string>, tensor<2xi64>> {
  %k = relay.strings.constant {texts = ["a\"b", "café\n"], shape = [2]} : () -> tensor<2x!relay.string>
  %c = relay.strings.concat %a, %b : (tensor<2x!relay.string>, tensor<!relay.string>) -> tensor<2x!relay.string>
  %e = relay.strings.equal %c, %k : (tensor<2x!relay.string>, tensor<2x!relay.string>) -> tensor<2xi1>
  %s = relay.strings.split %c {delimiter = "-", maxsplit = 1} : (tensor<2x!relay.string>) -> tuple<tensor<2x?x!relay.string>, tensor<2xi64>>
  %w = relay.tuple_get %s[0] : tuple<tensor<2x?x!relay.string>, tensor<2xi64>>
  %n = relay.tuple_get %s[1] : tuple<tensor<2x?x!relay.string>, tensor<2xi64>>
  %r = relay.tuple %e, %w, %n : tuple<tensor<2xi1>, tensor<2x?x!relay.string>, tensor<2xi64>>
  relay.return %r : tuple<tensor<2xi1>, tensor<2x?x!relay.string>, tensor<2xi64>>
}
