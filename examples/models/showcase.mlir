// The whole Relay language in one module, written with `!relay.incomplete`
// (Relay's `_`) wherever infer-types should work a type out:
//   - a polymorphic `map` over the `List` ADT, recursive, with `match`;
//   - a recursive function with `if`;
//   - references (`ref_create`, `ref_read`, `ref_write`);
//   - a small CNN: conv2d -> batch_norm -> relu -> global_avg_pool2d -> dense;
//   - `main`, which maps a closure capturing `%scale` over a list of logits.
// Run: relay-opt examples/models/showcase.mlir -p infer-types

relay.type @List[A] {
  relay.constructor @Cons(!relay.tvar<A>, !relay.adt<@List, !relay.tvar<A>>)
  relay.constructor @Nil
}

relay.func @map[A, B](%f: (!relay.tvar<A>) -> !relay.tvar<B>, %xs: !relay.adt<@List, !relay.tvar<A>>) -> !relay.adt<@List, !relay.tvar<B>> {
  %r = relay.match %xs : !relay.adt<@List, !relay.tvar<A>> -> !relay.incomplete {
    case @List::@Cons(%h: !relay.incomplete, %t: !relay.incomplete) {
      %y = relay.call_closure %f(%h) : (!relay.incomplete) -> !relay.incomplete, callee: (!relay.tvar<A>) -> !relay.tvar<B>
      %ys = relay.call @map(%f, %t) : ((!relay.tvar<A>) -> !relay.tvar<B>, !relay.incomplete) -> !relay.incomplete
      %c = relay.construct @List::@Cons(%y, %ys) : (!relay.incomplete, !relay.incomplete) -> !relay.incomplete
      relay.yield %c : !relay.incomplete
    }
    case @List::@Nil {
      %n = relay.construct @List::@Nil() : () -> !relay.incomplete
      relay.yield %n : !relay.incomplete
    }
  }
  relay.return %r : !relay.incomplete
}

relay.func @sum_to(%n: tensor<i32>) -> !relay.incomplete {
  %zero = relay.constant dense<0> : tensor<i32>
  %done = relay.less_equal %n, %zero : (tensor<i32>, tensor<i32>) -> !relay.incomplete
  %r = relay.if %done : !relay.incomplete -> !relay.incomplete {
    relay.yield %zero : tensor<i32>
  } else {
    %one = relay.constant dense<1> : tensor<i32>
    %m = relay.subtract %n, %one : (tensor<i32>, tensor<i32>) -> !relay.incomplete
    %s = relay.call @sum_to(%m) : (!relay.incomplete) -> !relay.incomplete
    %t = relay.add %n, %s : (tensor<i32>, !relay.incomplete) -> !relay.incomplete
    relay.yield %t : !relay.incomplete
  }
  relay.return %r : !relay.incomplete
}

relay.func @counter(%start: tensor<f32>) -> !relay.incomplete {
  %cell = relay.ref_create %start : tensor<f32> -> !relay.incomplete
  %v = relay.ref_read %cell : !relay.incomplete
  %one = relay.constant dense<1.0> : tensor<f32>
  %v1 = relay.add %v, %one : (!relay.incomplete, tensor<f32>) -> !relay.incomplete
  %unit = relay.ref_write %cell, %v1 : !relay.incomplete, !relay.incomplete
  %out = relay.ref_read %cell : !relay.incomplete
  relay.return %out : !relay.incomplete
}

relay.func @cnn(%x: tensor<1x3x32x32xf32>, %w: tensor<16x3x3x3xf32>, %gamma: tensor<16xf32>, %beta: tensor<16xf32>, %mean: tensor<16xf32>, %var: tensor<16xf32>, %dw: tensor<10x16xf32>) -> !relay.incomplete {
  %0 = relay.nn.conv2d %x, %w {padding = [1, 1, 1, 1], channels = 16, kernel_size = [3, 3]} : (tensor<1x3x32x32xf32>, tensor<16x3x3x3xf32>) -> !relay.incomplete
  %1 = relay.nn.batch_norm %0, %gamma, %beta, %mean, %var : (!relay.incomplete, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> !relay.incomplete
  %2 = relay.tuple_get %1[0] : !relay.incomplete -> !relay.incomplete
  %3 = relay.nn.relu %2 : (!relay.incomplete) -> !relay.incomplete
  %4 = relay.nn.global_avg_pool2d %3 : (!relay.incomplete) -> !relay.incomplete
  %5 = relay.nn.batch_flatten %4 : (!relay.incomplete) -> !relay.incomplete
  %6 = relay.nn.dense %5, %dw {units = 10} : (!relay.incomplete, tensor<10x16xf32>) -> !relay.incomplete
  relay.return %6 : !relay.incomplete
}

relay.func @main(%img: tensor<1x3x32x32xf32>, %w: tensor<16x3x3x3xf32>, %gamma: tensor<16xf32>, %beta: tensor<16xf32>, %mean: tensor<16xf32>, %var: tensor<16xf32>, %dw: tensor<10x16xf32>, %scale: tensor<f32>) -> !relay.incomplete {
  %logits = relay.call @cnn(%img, %w, %gamma, %beta, %mean, %var, %dw) : (tensor<1x3x32x32xf32>, tensor<16x3x3x3xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<10x16xf32>) -> !relay.incomplete
  %scaled = relay.fn (%v: !relay.incomplete) -> !relay.incomplete {
    %s = relay.multiply %v, %scale : (!relay.incomplete, tensor<f32>) -> !relay.incomplete
    relay.return %s : !relay.incomplete
  }
  %nil = relay.construct @List::@Nil() : () -> !relay.incomplete
  %list = relay.construct @List::@Cons(%logits, %nil) : (!relay.incomplete, !relay.incomplete) -> !relay.incomplete
  %mapped = relay.call @map(%scaled, %list) : ((!relay.incomplete) -> !relay.incomplete, !relay.incomplete) -> !relay.incomplete
  %head = relay.match partial %mapped : !relay.incomplete -> !relay.incomplete {
    case @List::@Cons(%h: !relay.incomplete, _) {
      relay.yield %h : !relay.incomplete
    }
  }
  %ten = relay.constant dense<10> : tensor<i32>
  %total = relay.call @sum_to(%ten) : (tensor<i32>) -> !relay.incomplete
  %count = relay.call @counter(%scale) : (tensor<f32>) -> !relay.incomplete
  %result = relay.tuple %head, %total, %count : tuple<!relay.incomplete, !relay.incomplete, !relay.incomplete>
  relay.return %result : tuple<!relay.incomplete, !relay.incomplete, !relay.incomplete>
}
