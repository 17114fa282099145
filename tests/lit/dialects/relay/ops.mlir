// Every core op and type of the Relay dialect in its custom form; it prints back the same,
// and the generic form parses back to the same IR.
// RUN: relay-opt %s | filecheck %s
// RUN: relay-opt %s --print-op-generic | relay-opt | filecheck %s
// RUN: relay-opt %s | relay-opt | filecheck %s
// RUN: relay-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC
// Fixed points: printing what was printed changes nothing, in either form, and the
// custom form read from the generic one is the custom form itself.
// RUN: relay-opt %s -o %t.custom.mlir
// RUN: relay-opt %t.custom.mlir | diff %t.custom.mlir -
// RUN: relay-opt %s --print-op-generic -o %t.generic.mlir
// RUN: relay-opt %t.generic.mlir --print-op-generic | diff %t.generic.mlir -
// RUN: relay-opt %t.generic.mlir | diff %t.custom.mlir -

// CHECK:      relay.type @List[A] {
// CHECK-NEXT:   relay.constructor @Cons(!relay.tvar<A>, !relay.adt<@List, !relay.tvar<A>>)
// CHECK-NEXT:   relay.constructor @Nil
// CHECK-NEXT: }
// GENERIC: "relay.type"() <{sym_name = "List", type_params = ["A"]}> ({
// GENERIC:   "relay.constructor"() <{sym_name = "Cons", inputs = [!relay.tvar<A>, !relay.adt<@List, !relay.tvar<A>>]}> : () -> ()
relay.type @List[A] {
  relay.constructor @Cons(!relay.tvar<A>, !relay.adt<@List, !relay.tvar<A>>)
  relay.constructor @Nil
}
// CHECK: relay.type @Storage extern
relay.type @Storage extern

// CHECK-LABEL: relay.func @id[A](%x: !relay.tvar<A>) -> !relay.tvar<A> attributes {Inline = 1 : i64} {
// CHECK-NEXT:    relay.return %x : !relay.tvar<A>
relay.func @id[A](%x: !relay.tvar<A>) -> !relay.tvar<A> attributes {Inline = 1 : i64} {
  relay.return %x : !relay.tvar<A>
}

// CHECK-LABEL: relay.func @values(%x: tensor<2x?xf32>, %b: tensor<i1>) -> tuple<> {
// CHECK-NEXT:    %c = relay.constant dense<[1, 2]> : tensor<2xi64>
// CHECK-NEXT:    %w = relay.constant dense_resource<weights> : tensor<2xf32>
// CHECK-NEXT:    %t = relay.tuple %x, %c : tuple<tensor<2x?xf32>, tensor<2xi64>>
// CHECK-NEXT:    %u = relay.tuple : tuple<>
// CHECK-NEXT:    %g = relay.tuple_get %t[1] : tuple<tensor<2x?xf32>, tensor<2xi64>>
// CHECK-NEXT:    %h = relay.tuple_get %t[0] : tuple<tensor<2x?xf32>, tensor<2xi64>> -> !relay.incomplete
// CHECK-NEXT:    %r = relay.ref_create %g : tensor<2xi64>
// CHECK-NEXT:    %v = relay.ref_read %r : !relay.ref<tensor<2xi64>>
// CHECK-NEXT:    %n = relay.ref_write %r, %v : !relay.ref<tensor<2xi64>>, tensor<2xi64>
// CHECK-NEXT:    %i = relay.if %b : tensor<i1> -> tensor<2xi64> {
// CHECK-NEXT:      relay.yield %c : tensor<2xi64>
// CHECK-NEXT:    } else {
// CHECK-NEXT:      relay.yield %v : tensor<2xi64>
// CHECK-NEXT:    }
// CHECK-NEXT:    relay.return %u : tuple<>
relay.func @values(%x: tensor<2x?xf32>, %b: tensor<i1>) -> tuple<> {
  %c = relay.constant dense<[1, 2]> : tensor<2xi64>
  %w = relay.constant dense_resource<weights> : tensor<2xf32>
  %t = relay.tuple %x, %c : tuple<tensor<2x?xf32>, tensor<2xi64>>
  %u = relay.tuple : tuple<>
  %g = relay.tuple_get %t[1] : tuple<tensor<2x?xf32>, tensor<2xi64>>
  %h = relay.tuple_get %t[0] : tuple<tensor<2x?xf32>, tensor<2xi64>> -> !relay.incomplete
  %r = relay.ref_create %g : tensor<2xi64>
  %v = relay.ref_read %r : !relay.ref<tensor<2xi64>>
  %n = relay.ref_write %r, %v : !relay.ref<tensor<2xi64>>, tensor<2xi64>
  %i = relay.if %b : tensor<i1> -> tensor<2xi64> {
    relay.yield %c : tensor<2xi64>
  } else {
    relay.yield %v : tensor<2xi64>
  }
  relay.return %u : tuple<>
}

// CHECK-LABEL: relay.func @functions(%y: tensor<f32>) -> tensor<f32> {
// CHECK-NEXT:    %f = relay.fn (%a: tensor<f32>) -> tensor<f32> attributes {Primitive = 1 : i64} {
// CHECK-NEXT:      %s = relay.add %a, %y : (tensor<f32>, tensor<f32>) -> tensor<f32>
// CHECK-NEXT:      relay.return %s : tensor<f32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %loop = relay.fn recursive %self (%k: tensor<f32>) -> tensor<f32> {
// CHECK-NEXT:      %z = relay.call_closure %self(%k) : (tensor<f32>) -> tensor<f32>
// CHECK-NEXT:      relay.return %z : tensor<f32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %p = relay.call_closure %f(%y) : (tensor<f32>) -> tensor<f32>
// CHECK-NEXT:    %p2 = relay.fn (%m: !relay.incomplete) -> tensor<f32> {
// CHECK-NEXT:      relay.return %y : tensor<f32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %q = relay.call_closure %p2(%y) : (tensor<f32>) -> tensor<f32>, callee: (!relay.incomplete) -> tensor<f32>
// CHECK-NEXT:    %gr = relay.global_ref @id : (tensor<f32>) -> tensor<f32>
// CHECK-NEXT:    %c = relay.call @id(%q) : (tensor<f32>) -> tensor<f32>
// CHECK-NEXT:    relay.return %c : tensor<f32>
relay.func @functions(%y: tensor<f32>) -> tensor<f32> {
  %f = relay.fn (%a: tensor<f32>) -> tensor<f32> attributes {Primitive = 1 : i64} {
    %s = relay.add %a, %y : (tensor<f32>, tensor<f32>) -> tensor<f32>
    relay.return %s : tensor<f32>
  }
  %loop = relay.fn recursive %self (%k: tensor<f32>) -> tensor<f32> {
    %z = relay.call_closure %self(%k) : (tensor<f32>) -> tensor<f32>
    relay.return %z : tensor<f32>
  }
  %p = relay.call_closure %f(%y) : (tensor<f32>) -> tensor<f32>
  %p2 = relay.fn (%m: !relay.incomplete) -> tensor<f32> {
    relay.return %y : tensor<f32>
  }
  %q = relay.call_closure %p2(%y) : (tensor<f32>) -> tensor<f32>, callee: (!relay.incomplete) -> tensor<f32>
  %gr = relay.global_ref @id : (tensor<f32>) -> tensor<f32>
  %c = relay.call @id(%q) : (tensor<f32>) -> tensor<f32>
  relay.return %c : tensor<f32>
}

// CHECK-LABEL: relay.func @adts(%p: tuple<!relay.adt<@List, tensor<f32>>, tensor<bf16>>) -> tensor<f32> {
// CHECK-NEXT:    %nil = relay.construct @List::@Nil() : () -> !relay.adt<@List, tensor<f32>>
// CHECK-NEXT:    %m = relay.match %p : tuple<!relay.adt<@List, tensor<f32>>, tensor<bf16>> -> tensor<f32> {
// CHECK-NEXT:      case (@List::@Cons(%h: tensor<f32>, @List::@Cons(_, %rest: !relay.adt<@List, tensor<f32>>)), _) {
// CHECK-NEXT:        relay.yield %h : tensor<f32>
// CHECK-NEXT:      }
// CHECK-NEXT:      case _ {
// CHECK-NEXT:        %z = relay.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NEXT:        relay.yield %z : tensor<f32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    %o = relay.match partial %nil : !relay.adt<@List, tensor<f32>> -> tensor<f32> {
// CHECK-NEXT:      case @List::@Cons(%v: tensor<f32>, _) {
// CHECK-NEXT:        relay.yield %v : tensor<f32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    relay.return %m : tensor<f32>
relay.func @adts(%p: tuple<!relay.adt<@List, tensor<f32>>, tensor<bf16>>) -> tensor<f32> {
  %nil = relay.construct @List::@Nil() : () -> !relay.adt<@List, tensor<f32>>
  %m = relay.match %p : tuple<!relay.adt<@List, tensor<f32>>, tensor<bf16>> -> tensor<f32> {
    case (@List::@Cons(%h : tensor<f32>, @List::@Cons(_, %rest : !relay.adt<@List, tensor<f32>>)), _) {
      relay.yield %h : tensor<f32>
    }
    case _ {
      %z = relay.constant dense<0.0> : tensor<f32>
      relay.yield %z : tensor<f32>
    }
  }
  %o = relay.match partial %nil : !relay.adt<@List, tensor<f32>> -> tensor<f32> {
    case @List::@Cons(%v : tensor<f32>, _) {
      relay.yield %v : tensor<f32>
    }
  }
  relay.return %m : tensor<f32>
}

// Relay's dtypes.
// CHECK-LABEL: relay.func @dtypes(%a: tensor<i1>, %b: tensor<i8>, %c: tensor<i16>, %d: tensor<i64>, %e: tensor<ui8>, %f: tensor<f16>, %g: tensor<bf16>, %h: tensor<f64>) -> tensor<i1>
relay.func @dtypes(%a: tensor<i1>, %b: tensor<i8>, %c: tensor<i16>, %d: tensor<i64>, %e: tensor<ui8>, %f: tensor<f16>, %g: tensor<bf16>, %h: tensor<f64>) -> tensor<i1> {
  relay.return %a : tensor<i1>
}

// Discardable attributes survive every custom form (they are printed before the `:`, or
// with `attributes` before a region), and type parameters that are not identifiers are quoted.
// CHECK-LABEL: relay.type @Tagged["T 1"] attributes {origin = "test"} {
// CHECK-NEXT:    relay.constructor @Leaf(!relay.tvar<"T 1">) {tag = 7 : i64}
// CHECK-NEXT:  }
// CHECK-NEXT:  relay.type @Handle extern attributes {origin = "test"}
relay.type @Tagged["T 1"] attributes {origin = "test"} {
  relay.constructor @Leaf(!relay.tvar<"T 1">) {tag = 7 : i64}
}
relay.type @Handle extern attributes {origin = "test"}

// CHECK-LABEL: relay.func @attributes(%b: tensor<i1>, %x: tensor<f32>) -> tensor<f32> {
// CHECK-NEXT:    %c = relay.constant {a} dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:    %t = relay.tuple %x {a} : tuple<tensor<f32>>
// CHECK-NEXT:    %u = relay.tuple {a} : tuple<>
// CHECK-NEXT:    %g = relay.tuple_get %t[0] {a} : tuple<tensor<f32>>
// CHECK-NEXT:    %r = relay.ref_create %g {a} : tensor<f32>
// CHECK-NEXT:    %v = relay.ref_read %r {a} : !relay.ref<tensor<f32>>
// CHECK-NEXT:    %n = relay.ref_write %r, %v {a} : !relay.ref<tensor<f32>>, tensor<f32>
// CHECK-NEXT:    %f = relay.fn (%y: tensor<f32>) -> tensor<f32> attributes {a} {
// CHECK:         %k = relay.call_closure %f(%x) {a} : (tensor<f32>) -> tensor<f32>
// CHECK-NEXT:    %i = relay.if %b {a} : tensor<i1> -> tensor<f32> {
// CHECK:         %m = relay.match %x {a} : tensor<f32> -> tensor<f32> {
// CHECK:         %l = relay.construct @Tagged::@Leaf(%x) {a} : (tensor<f32>) -> !relay.adt<@Tagged, tensor<f32>>
relay.func @attributes(%b: tensor<i1>, %x: tensor<f32>) -> tensor<f32> {
  %c = relay.constant {a} dense<1.0> : tensor<f32>
  %t = relay.tuple %x {a} : tuple<tensor<f32>>
  %u = relay.tuple {a} : tuple<>
  %g = relay.tuple_get %t[0] {a} : tuple<tensor<f32>>
  %r = relay.ref_create %g {a} : tensor<f32>
  %v = relay.ref_read %r {a} : !relay.ref<tensor<f32>>
  %n = relay.ref_write %r, %v {a} : !relay.ref<tensor<f32>>, tensor<f32>
  %f = relay.fn (%y: tensor<f32>) -> tensor<f32> attributes {a} {
    relay.return %y : tensor<f32>
  }
  %k = relay.call_closure %f(%x) {a} : (tensor<f32>) -> tensor<f32>
  %i = relay.if %b {a} : tensor<i1> -> tensor<f32> {
    relay.yield %k : tensor<f32>
  } else {
    relay.yield %c : tensor<f32>
  }
  %m = relay.match %x {a} : tensor<f32> -> tensor<f32> {
    case _ {
      relay.yield %i : tensor<f32>
    }
  }
  %l = relay.construct @Tagged::@Leaf(%x) {a} : (tensor<f32>) -> !relay.adt<@Tagged, tensor<f32>>
  relay.return %m : tensor<f32>
}

// The weights of `dense_resource<weights>` above: a blob (4-byte alignment, then
// little-endian data) that is read and written back in MLIR's resource section.
// CHECK:      {-#
// CHECK-NEXT:   dialect_resources: {
// CHECK-NEXT:     builtin: {
// CHECK-NEXT:       weights: "0x040000000000803F00000040"
// CHECK-NEXT:     }
// CHECK-NEXT:   }
// CHECK-NEXT: #-}
{-#
  dialect_resources: {
    builtin: {
      weights: "0x040000000000803F00000040"
    }
  }
#-}
