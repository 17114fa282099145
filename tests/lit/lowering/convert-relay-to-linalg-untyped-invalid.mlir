// A value of no known type reaching the lowering (infer-types not run) is a located error,
// as infer-types itself gives for it (passes/infer-types/errors.mlir), never a crash.
// RUN: not relay-opt %s -p relay-to-llvm 2>&1 | filecheck %s
// CHECK: convert-relay-to-linalg-untyped-invalid.mlir:[[# @LINE + 4]]:3: error: the type of this value is not known: !relay.incomplete; run infer-types first, or annotate it
// CHECK-NOT: internal error
relay.type @List[A] { relay.constructor @Nil }
relay.func @unknown_element() -> tensor<f32> {
  %nil = relay.construct @List::@Nil() : () -> !relay.incomplete
  %c = relay.constant dense<1.0> : tensor<f32>
  relay.return %c : tensor<f32>
}
