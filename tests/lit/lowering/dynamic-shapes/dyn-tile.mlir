// RUN: relay-opt %s -p convert-relay-to-linalg | filecheck %s

// dyn.tile reads its repetitions at run time (`shape_reads`): each result size is a data
// dim times a repetition (a negative one is a located error before the buffer is made),
// and the kernel reads each axis of the data at the index modulo its size.
// CHECK:      builtin.module attributes {relay_opt.match_failures = ["{{.*}}dyn-tile.mlir:[[# @LINE + 19]]:3\09'dyn.tile': a repetition is negative", "{{.*}}"]} {
// CHECK-LABEL: func.func @tile(%x: tensor<?x3xf32>, %r: tensor<2xi64>) -> tensor<?x?xf32> {
// CHECK:        %[[R0:.*]] = tensor.extract %r[%{{.*}}] : tensor<2xi64>
// CHECK-NEXT:   %[[REP0:.*]] = arith.index_cast %[[R0]] : i64 to index
// CHECK:        %[[R1:.*]] = tensor.extract %r[%{{.*}}] : tensor<2xi64>
// CHECK-NEXT:   %[[REP1:.*]] = arith.index_cast %[[R1]] : i64 to index
// CHECK:        %[[N:.*]] = tensor.dim %x, %{{.*}} : tensor<?x3xf32>
// CHECK-NEXT:   %[[ROWS:.*]] = arith.muli %[[N]], %[[REP0]] : index
// CHECK:        %[[COLS:.*]] = arith.muli %[[REP1]], %{{.*}} : index
// CHECK:        %[[NEG:.*]] = arith.cmpi slt, %[[ROWS]], %{{.*}} : index
// CHECK-NEXT:   scf.if %[[NEG]] {
// CHECK:        %[[OUT:.*]] = tensor.empty(%[[ROWS]], %[[COLS]]) : tensor<?x?xf32>
// CHECK:        linalg.generic {{.*}} outs(%[[OUT]] : tensor<?x?xf32>)
// CHECK:          %[[I:.*]] = linalg.index 0 : index
// CHECK-NEXT:     %[[J:.*]] = linalg.index 1 : index
// CHECK-NEXT:     %[[WI:.*]] = arith.remui %[[I]], %{{.*}} : index
// CHECK-NEXT:     %[[WJ:.*]] = arith.remui %[[J]], %{{.*}} : index
// CHECK-NEXT:     tensor.extract %x[%[[WI]], %[[WJ]]] : tensor<?x3xf32>
relay.func @tile(%x: tensor<?x3xf32>, %r: tensor<2xi64>) -> tensor<?x?xf32> {
  %0 = relay.dyn.tile %x, %r : (tensor<?x3xf32>, tensor<2xi64>) -> tensor<?x?xf32>
  relay.return %0 : tensor<?x?xf32>
}
