// RUN: relay-opt %s -p convert-relay-to-linalg | filecheck %s

// relay.if is scf.if on the condition's one element; a tuple result is one scf.if result
// per leaf; a nested if is lowered inside its branch, and yields its leaves.
// CHECK-LABEL: func.func @nested(%c: tensor<i1>, %d: tensor<i1>, %x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
// CHECK-NEXT:    %[[C:.*]] = tensor.extract %c[] : tensor<i1>
// CHECK-NEXT:    %[[R0:.*]], %[[R1:.*]] = scf.if %[[C]] -> (tensor<4xf32>, tensor<4xf32>) {
// CHECK-NEXT:      %[[D:.*]] = tensor.extract %d[] : tensor<i1>
// CHECK-NEXT:      %[[S0:.*]], %[[S1:.*]] = scf.if %[[D]] -> (tensor<4xf32>, tensor<4xf32>) {
// CHECK:             %[[NEG:.*]] = linalg.generic {{.*}} ins(%x : tensor<4xf32>)
// CHECK:               arith.negf
// CHECK:             scf.yield %x, %[[NEG]] : tensor<4xf32>, tensor<4xf32>
// CHECK-NEXT:      } else {
// CHECK:             %[[EXP:.*]] = linalg.generic {{.*}} ins(%x : tensor<4xf32>)
// CHECK:               math.exp
// CHECK:             scf.yield %[[EXP]], %x : tensor<4xf32>, tensor<4xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.yield %[[S0]], %[[S1]] : tensor<4xf32>, tensor<4xf32>
// CHECK-NEXT:    } else {
// CHECK-NEXT:      scf.yield %x, %x : tensor<4xf32>, tensor<4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[R0]], %[[R1]] : tensor<4xf32>, tensor<4xf32>
relay.func @nested(%c: tensor<i1>, %d: tensor<i1>, %x: tensor<4xf32>) -> tuple<tensor<4xf32>, tensor<4xf32>> {
  %0 = relay.if %c : tensor<i1> -> tuple<tensor<4xf32>, tensor<4xf32>> {
    %1 = relay.if %d : tensor<i1> -> tuple<tensor<4xf32>, tensor<4xf32>> {
      %2 = relay.negative %x : (tensor<4xf32>) -> tensor<4xf32>
      %3 = relay.tuple %x, %2 : tuple<tensor<4xf32>, tensor<4xf32>>
      relay.yield %3 : tuple<tensor<4xf32>, tensor<4xf32>>
    } else {
      %4 = relay.exp %x : (tensor<4xf32>) -> tensor<4xf32>
      %5 = relay.tuple %4, %x : tuple<tensor<4xf32>, tensor<4xf32>>
      relay.yield %5 : tuple<tensor<4xf32>, tensor<4xf32>>
    }
    relay.yield %1 : tuple<tensor<4xf32>, tensor<4xf32>>
  } else {
    %6 = relay.tuple %x, %x : tuple<tensor<4xf32>, tensor<4xf32>>
    relay.yield %6 : tuple<tensor<4xf32>, tensor<4xf32>>
  }
  relay.return %0 : tuple<tensor<4xf32>, tensor<4xf32>>
}

// Recursion through if: the recursive call is a func.call inside the else branch; a fused
// group (a Primitive closure) inside a branch is inlined there and marked as a group.
// CHECK-LABEL: func.func @fact(%n: tensor<i32>) -> tensor<i32>
// CHECK:         %[[LE:.*]] = linalg.generic {{.*}} ins(%n, %{{.*}} : tensor<i32>, tensor<i32>)
// CHECK:           arith.cmpi sle
// CHECK:         %[[C:.*]] = tensor.extract %[[LE]][] : tensor<i1>
// CHECK-NEXT:    %[[R:.*]] = scf.if %[[C]] -> (tensor<i32>) {
// CHECK-NEXT:      %[[ONE:.*]] = arith.constant dense<1> : tensor<i32>
// CHECK-NEXT:      scf.yield %[[ONE]] : tensor<i32>
// CHECK-NEXT:    } else {
// CHECK:           %[[SUB:.*]] = linalg.generic {{.*}} ins(%n, %{{.*}} : tensor<i32>, tensor<i32>) {{.*}} attrs =  {relay_opt.group = 1 : i64}
// CHECK:             arith.subi
// CHECK:           %[[REC:.*]] = func.call @fact(%[[SUB]]) : (tensor<i32>) -> tensor<i32>
// CHECK:           %[[MUL:.*]] = linalg.generic {{.*}} ins(%n, %[[REC]] : tensor<i32>, tensor<i32>)
// CHECK:             arith.muli
// CHECK:           scf.yield %[[MUL]] : tensor<i32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[R]] : tensor<i32>
relay.func @fact(%n: tensor<i32>) -> tensor<i32> {
  %0 = relay.constant dense<1> : tensor<i32>
  %1 = relay.less_equal %n, %0 : (tensor<i32>, tensor<i32>) -> tensor<i1>
  %2 = relay.if %1 : tensor<i1> -> tensor<i32> {
    %3 = relay.constant dense<1> : tensor<i32>
    relay.yield %3 : tensor<i32>
  } else {
    %f = relay.fn (%p0: tensor<i32>) -> tensor<i32> attributes {Primitive = 1 : i64} {
      %4 = relay.constant dense<1> : tensor<i32>
      %5 = relay.subtract %p0, %4 : (tensor<i32>, tensor<i32>) -> tensor<i32>
      relay.return %5 : tensor<i32>
    }
    %s = relay.call_closure %f(%n) : (tensor<i32>) -> tensor<i32>
    %6 = relay.call @fact(%s) : (tensor<i32>) -> tensor<i32>
    %7 = relay.multiply %n, %6 : (tensor<i32>, tensor<i32>) -> tensor<i32>
    relay.yield %7 : tensor<i32>
  }
  relay.return %2 : tensor<i32>
}
