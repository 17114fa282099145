"""infer-types beyond the golden files: polymorphism, `?` dims, recursion, idempotence."""

from __future__ import annotations

import pytest
from conftest import parse_module, print_module, relay_context

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import core
from relay_opt.passes.infer_types import InferTypesPass


def infer(text: str):
    module = parse_module(text)
    InferTypesPass().apply(relay_context(), module)
    module.verify()
    return module


def func(module, name: str) -> core.FuncOp:
    for op in module.ops:
        if isinstance(op, core.FuncOp) and op.sym_name.data == name:
            return op
    raise KeyError(name)


POLY = """
relay.func @id[A](%x: !relay.tvar<A>) -> !relay.tvar<A> {
  relay.return %x : !relay.tvar<A>
}
relay.func @main(%a: tensor<2xf32>, %b: tensor<i64>) -> !relay.incomplete {
  %0 = relay.call @id(%a) : (tensor<2xf32>) -> !relay.incomplete
  %1 = relay.call @id(%b) : (tensor<i64>) -> !relay.incomplete
  %t = relay.tuple %0, %1 : tuple<!relay.incomplete, !relay.incomplete>
  relay.return %t : tuple<!relay.incomplete, !relay.incomplete>
}
"""


def test_polymorphic_function_is_instantiated_per_use():
    module = infer(POLY)
    main = func(module, "main")
    assert str(main.ret_type) == "tuple<tensor<2xf32>, tensor<i64>>"
    # The polymorphic function itself keeps its type parameter.
    assert str(func(module, "id").function_type) == "(!relay.tvar<A>) -> !relay.tvar<A>"


def test_dynamic_dims_broadcast_and_unify():
    module = infer("""
relay.func @f(%a: tensor<?x3xf32>, %b: tensor<4x1xf32>) -> !relay.incomplete {
  %0 = relay.add %a, %b : (tensor<?x3xf32>, tensor<4x1xf32>) -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}
""")
    assert str(func(module, "f").ret_type) == "tensor<4x3xf32>"


def test_dynamic_dim_stays_dynamic():
    module = infer("""
relay.func @f(%a: tensor<?x3xf32>, %b: tensor<3xf32>) -> !relay.incomplete {
  %0 = relay.multiply %a, %b : (tensor<?x3xf32>, tensor<3xf32>) -> !relay.incomplete
  relay.return %0 : !relay.incomplete
}
""")
    assert str(func(module, "f").ret_type) == "tensor<?x3xf32>"


def test_recursive_closure_gets_its_type_from_the_body():
    module = infer("""
relay.func @f(%n: tensor<f32>) -> !relay.incomplete {
  %loop = relay.fn recursive %self (%i: !relay.incomplete) -> !relay.incomplete {
    %c = relay.less %i, %n : (!relay.incomplete, tensor<f32>) -> !relay.incomplete
    %r = relay.if %c : !relay.incomplete -> !relay.incomplete {
      %j = relay.add %i, %n : (!relay.incomplete, tensor<f32>) -> !relay.incomplete
      %k = relay.call_closure %self(%j) : (!relay.incomplete) -> !relay.incomplete
      relay.yield %k : !relay.incomplete
    } else {
      relay.yield %i : !relay.incomplete
    }
    relay.return %r : !relay.incomplete
  }
  %out = relay.call_closure %loop(%n) : (tensor<f32>) -> !relay.incomplete, callee: (!relay.incomplete) -> !relay.incomplete
  relay.return %out : !relay.incomplete
}
""")
    text = print_module(module)
    assert "relay.fn recursive %self (%i: tensor<f32>) -> tensor<f32>" in text
    assert "!relay.incomplete" not in text


def test_idempotent_on_its_own_output():
    once = print_module(infer(POLY))
    twice = print_module(infer(once))
    assert once == twice


def test_operand_never_known_is_an_error_at_the_op():
    module = parse_module("""
relay.func @f() -> !relay.incomplete {
  %r = relay.fn (%x: !relay.incomplete) -> !relay.incomplete {
    %y = relay.exp %x : (!relay.incomplete) -> !relay.incomplete
    relay.return %y : !relay.incomplete
  }
  relay.return %r : (!relay.incomplete) -> !relay.incomplete
}
""")
    with pytest.raises(RelayError) as err:
        InferTypesPass().apply(relay_context(), module)
    assert "cannot infer the type of 'relay.exp'" in err.value.message
    assert err.value.at.name == "relay.exp"


def test_match_binds_pattern_variables_through_nested_patterns():
    module = infer("""
relay.type @Option[A] {
  relay.constructor @Some(!relay.tvar<A>)
  relay.constructor @None
}
relay.func @f(%p: tuple<!relay.adt<@Option, tensor<3xi32>>, tensor<f32>>) -> !relay.incomplete {
  %r = relay.match %p : tuple<!relay.adt<@Option, tensor<3xi32>>, tensor<f32>> -> !relay.incomplete {
    case (@Option::@Some(%v : !relay.incomplete), _) {
      relay.yield %v : !relay.incomplete
    }
    case (@Option::@None, %w : !relay.incomplete) {
      %z = relay.zeros_like %w : (!relay.incomplete) -> !relay.incomplete
      %c = relay.cast %z {dtype = "int32"} : (!relay.incomplete) -> !relay.incomplete
      %b = relay.add %c, %c : (!relay.incomplete, !relay.incomplete) -> !relay.incomplete
      %e = relay.constant dense<[1, 2, 3]> : tensor<3xi32>
      %s = relay.add %e, %b : (tensor<3xi32>, !relay.incomplete) -> !relay.incomplete
      relay.yield %s : !relay.incomplete
    }
  }
  relay.return %r : !relay.incomplete
}
""")
    assert str(func(module, "f").ret_type) == "tensor<3xi32>"
