// The acceptance module: a polymorphic map over List, a recursive function, a closure,
// a match, a ref and a conv2d -> batch_norm -> relu -> global_avg_pool2d -> dense chain,
// written with !relay.incomplete where infer-types must work the type out.
// RUN: relay-opt %examples/models/showcase.mlir -p infer-types | filecheck %s
// Inference leaves nothing incomplete:
// RUN: relay-opt %examples/models/showcase.mlir -p infer-types | filecheck %s --check-prefix=NONE
// NONE-NOT: !relay.incomplete

// The polymorphic function keeps its type parameters; inside, they are rigid.
// CHECK-LABEL: relay.func @map[A, B](%f: (!relay.tvar<A>) -> !relay.tvar<B>, %xs: !relay.adt<@List, !relay.tvar<A>>) -> !relay.adt<@List, !relay.tvar<B>>
// CHECK:      relay.match %xs : !relay.adt<@List, !relay.tvar<A>> -> !relay.adt<@List, !relay.tvar<B>>
// CHECK-NEXT:   case @List::@Cons(%h: !relay.tvar<A>, %t: !relay.adt<@List, !relay.tvar<A>>) {
// CHECK-NEXT:     %y = relay.call_closure %f(%h) : (!relay.tvar<A>) -> !relay.tvar<B>
// CHECK-NEXT:     %ys = relay.call @map(%f, %t) : ((!relay.tvar<A>) -> !relay.tvar<B>, !relay.adt<@List, !relay.tvar<A>>) -> !relay.adt<@List, !relay.tvar<B>>

// Recursion and `if`: the join of both branches.
// CHECK-LABEL: relay.func @sum_to(%n: tensor<i32>) -> tensor<i32>
// CHECK:      %done = relay.less_equal %n, %zero : (tensor<i32>, tensor<i32>) -> tensor<i1>
// CHECK-NEXT: %r = relay.if %done : tensor<i1> -> tensor<i32>
// CHECK:      %s = relay.call @sum_to(%m) : (tensor<i32>) -> tensor<i32>

// References.
// CHECK-LABEL: relay.func @counter(%start: tensor<f32>) -> tensor<f32>
// CHECK-NEXT: %cell = relay.ref_create %start : tensor<f32>
// CHECK-NEXT: %v = relay.ref_read %cell : !relay.ref<tensor<f32>>
// CHECK:      %unit = relay.ref_write %cell, %v1 : !relay.ref<tensor<f32>>, tensor<f32>

// The operators' type relations.
// CHECK-LABEL: relay.func @cnn({{.*}}) -> tensor<1x10xf32>
// CHECK-NEXT: relay.nn.conv2d {{.*}} -> tensor<1x16x32x32xf32>
// CHECK-NEXT: relay.nn.batch_norm {{.*}} -> tuple<tensor<1x16x32x32xf32>, tensor<16xf32>, tensor<16xf32>>
// CHECK-NEXT: relay.tuple_get %{{.*}}[0] : tuple<tensor<1x16x32x32xf32>, tensor<16xf32>, tensor<16xf32>>
// CHECK-NEXT: relay.nn.relu {{.*}} -> tensor<1x16x32x32xf32>
// CHECK-NEXT: relay.nn.global_avg_pool2d {{.*}} -> tensor<1x16x1x1xf32>
// CHECK-NEXT: relay.nn.batch_flatten {{.*}} -> tensor<1x16xf32>
// CHECK-NEXT: relay.nn.dense {{.*}} -> tensor<1x10xf32>

// A closure capturing %scale; map instantiated at tensor<1x10xf32>; a partial match.
// CHECK-LABEL: relay.func @main({{.*}}) -> tuple<tensor<1x10xf32>, tensor<i32>, tensor<f32>>
// CHECK:      %scaled = relay.fn (%v: tensor<1x10xf32>) -> tensor<1x10xf32> {
// CHECK-NEXT:   relay.multiply %v, %scale : (tensor<1x10xf32>, tensor<f32>) -> tensor<1x10xf32>
// CHECK:      %mapped = relay.call @map(%scaled, %list) : ((tensor<1x10xf32>) -> tensor<1x10xf32>, !relay.adt<@List, tensor<1x10xf32>>) -> !relay.adt<@List, tensor<1x10xf32>>
// CHECK-NEXT: %head = relay.match partial %mapped : !relay.adt<@List, tensor<1x10xf32>> -> tensor<1x10xf32>
// CHECK:      relay.tuple %head, %total, %count : tuple<tensor<1x10xf32>, tensor<i32>, tensor<f32>>
