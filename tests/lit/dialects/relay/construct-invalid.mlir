// A constructor's tensor field of another shape than declared is an error at load, as
// infer-types gives it: relay-to-llvm on a fully typed module (no infer-types) built a cast
// that did not verify (input fuzzer mlir 1313 #2368).
// RUN: not relay-opt %s -p relay-to-llvm 2>&1 | filecheck %s
// CHECK: construct-invalid.mlir:[[# @LINE + 8]]:3: error: field 0 of constructor @T::@Leaf must be tensor<4xf32>, got tensor<2xf32>
// CHECK-NOT: internal error
relay.type @T[A] {
  relay.constructor @Leaf(tensor<4xf32>)
  relay.constructor @Box(!relay.tvar<A>)
}
relay.func @construct(%x: tensor<2xf32>, %y: tensor<?xf32>) -> !relay.adt<@T, tensor<3xf32>> {
  %1 = relay.construct @T::@Leaf(%y) : (tensor<?xf32>) -> !relay.adt<@T, tensor<3xf32>>
  %0 = relay.construct @T::@Leaf(%x) : (tensor<2xf32>) -> !relay.adt<@T, tensor<3xf32>>
  relay.return %0 : !relay.adt<@T, tensor<3xf32>>
}
