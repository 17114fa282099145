// RUN: relay-opt %s -p convert-relay-to-linalg | filecheck %s

// Integer division never traps: it divides by a safe divisor (1 where the divisor is 0, or
// for INT_MIN / -1) and a select gives a division by zero its defined value, 0. No branch,
// so the loop still vectorizes.
// CHECK-LABEL: func.func @div_i32
// CHECK:      ^bb0(%[[X:.*]]: i32, %[[Y:.*]]: i32, %{{.*}}: i32):
// CHECK-NEXT:   %[[ZERO:.*]] = arith.constant 0 : i32
// CHECK-NEXT:   %[[BYZERO:.*]] = arith.cmpi eq, %[[Y]], %[[ZERO]] : i32
// CHECK-NEXT:   %[[MIN:.*]] = arith.constant -2147483648 : i32
// CHECK-NEXT:   %[[XMIN:.*]] = arith.cmpi eq, %[[X]], %[[MIN]] : i32
// CHECK-NEXT:   %[[M1:.*]] = arith.constant -1 : i32
// CHECK-NEXT:   %[[YM1:.*]] = arith.cmpi eq, %[[Y]], %[[M1]] : i32
// CHECK-NEXT:   %[[OVF:.*]] = arith.andi %[[XMIN]], %[[YM1]] : i1
// CHECK-NEXT:   %[[BAD:.*]] = arith.ori %[[BYZERO]], %[[OVF]] : i1
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1 : i32
// CHECK-NEXT:   %[[SAFE:.*]] = arith.select %[[BAD]], %[[ONE]], %[[Y]] : i32
// CHECK-NEXT:   %[[Q:.*]] = arith.divsi %[[X]], %[[SAFE]] : i32
// CHECK-NEXT:   %[[R:.*]] = arith.select %[[BYZERO]], %[[ZERO]], %[[Q]] : i32
// CHECK-NEXT:   linalg.yield %[[R]] : i32
relay.func @div_i32(%x: tensor<4xi32>, %y: tensor<4xi32>) -> tensor<4xi32> {
  %0 = relay.divide %x, %y : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  relay.return %0 : tensor<4xi32>
}

// floor_divide: the same guard around arith.floordivsi.
// CHECK-LABEL: func.func @floor_div_i64
// CHECK:      %[[SAFE:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : i64
// CHECK-NEXT: %[[Q:.*]] = arith.floordivsi %{{.*}}, %[[SAFE]] : i64
// CHECK-NEXT: %[[R:.*]] = arith.select %{{.*}}, %{{.*}}, %[[Q]] : i64
// CHECK-NEXT: linalg.yield %[[R]] : i64
relay.func @floor_div_i64(%x: tensor<4xi64>, %y: tensor<4xi64>) -> tensor<4xi64> {
  %0 = relay.floor_divide %x, %y : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  relay.return %0 : tensor<4xi64>
}

// Unsigned: only a zero divisor traps; x mod 1 is already the defined 0, so mod needs no
// second select.
// CHECK-LABEL: func.func @mod_u8
// CHECK:      ^bb0(%[[X:.*]]: i8, %[[Y:.*]]: i8, %{{.*}}: i8):
// CHECK-NEXT:   %[[ZERO:.*]] = arith.constant 0 : i8
// CHECK-NEXT:   %[[BYZERO:.*]] = arith.cmpi eq, %[[Y]], %[[ZERO]] : i8
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1 : i8
// CHECK-NEXT:   %[[SAFE:.*]] = arith.select %[[BYZERO]], %[[ONE]], %[[Y]] : i8
// CHECK-NEXT:   %[[R:.*]] = arith.remui %[[X]], %[[SAFE]] : i8
// CHECK-NEXT:   linalg.yield %[[R]] : i8
relay.func @mod_u8(%x: tensor<4xui8>, %y: tensor<4xui8>) -> tensor<4xui8> {
  %0 = relay.mod %x, %y : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
  relay.return %0 : tensor<4xui8>
}
