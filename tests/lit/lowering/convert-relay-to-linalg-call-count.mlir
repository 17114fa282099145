// RUN: relay-opt %s -p convert-relay-to-linalg | filecheck %s

// relay.call_count reads a global of its own (0 when the code is loaded), stores the count
// plus one back, and is the count before this run as a 0-d tensor. Two ops count apart.
// CHECK-LABEL: func.func @main(%x: tensor<3xi64>) -> tensor<3xi64>
// CHECK-NEXT:    %[[AT:.*]] = llvm.mlir.addressof @relay_opt_call_count_0 : !llvm.ptr
// CHECK-NEXT:    %[[N:.*]] = llvm.load %[[AT]] : !llvm.ptr -> i64
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %[[NEXT:.*]] = llvm.add %[[N]], %[[ONE]] : i64
// CHECK-NEXT:    llvm.store %[[NEXT]], %[[AT]] : i64, !llvm.ptr
// CHECK-NEXT:    %[[E:.*]] = tensor.empty() : tensor<i64>
// CHECK-NEXT:    %{{.*}} = linalg.fill ins(%[[N]] : i64) outs(%[[E]] : tensor<i64>) -> tensor<i64>
// CHECK:         llvm.mlir.addressof @relay_opt_call_count_1 : !llvm.ptr
// CHECK:         func.return
// CHECK-DAG:   llvm.mlir.global internal @relay_opt_call_count_0(0 : i64) {{.*}} : i64
// CHECK-DAG:   llvm.mlir.global internal @relay_opt_call_count_1(0 : i64) {{.*}} : i64
builtin.module {
  relay.func @main(%x: tensor<3xui64>) -> tensor<3xui64> {
    %c = relay.call_count : tensor<ui64>
    %d = relay.call_count : tensor<ui64>
    %e = relay.add %c, %d : (tensor<ui64>, tensor<ui64>) -> tensor<ui64>
    %y = relay.add %x, %e : (tensor<3xui64>, tensor<ui64>) -> tensor<3xui64>
    relay.return %y : tensor<3xui64>
  }
}
