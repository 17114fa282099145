"""The Relay text frontend: lexing corner cases, metadata, the prelude, and print/parse fixed points."""

from __future__ import annotations

import io

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.constants import numpy_from_dense
from relay_opt.frontends.relay_text.lexer import Lexer, Tok
from relay_opt.frontends.relay_text.metadata import decode_ndarray, encode_ndarray, from_npz
from relay_opt.frontends.relay_text.prelude import prelude
from relay_opt.frontends.relay_text.printer import print_relay

HEADER = '#[version = "0.0.5"]\n'


def tokens(text: str) -> list[tuple[Tok, object]]:
    return [
        (t.kind, t.value if t.value is not None else t.text)
        for t in Lexer(text, "t").tokenize()[:-1]
    ]


def funcs(module) -> dict[str, core.FuncOp]:
    return {op.sym_name.data: op for op in module.ops if isinstance(op, core.FuncOp)}


@pytest.mark.parametrize(
    "text, value, dtype",
    [
        ("7", 7, "int32"),
        ("7i64", 7, "int64"),
        ("3000000000", 3000000000, "int64"),  # too big for int32: widened
        ("-3", -3, "int32"),
        ("--10", 10, "int32"),  # an even number of signs cancels
        ("1.5f", 1.5, "float32"),
        ("1e-05f", 1e-05, "float32"),
        ("3f16", 3.0, "float16"),
        ("2.5f64", 2.5, "float64"),
    ],
)
def test_literals(text, value, dtype):
    [(kind, (v, d))] = tokens(text)
    assert kind in (Tok.INT, Tok.FLOAT) and v == value and d == dtype


def test_inf_literal():
    [(_, (v, d))] = tokens("-inff")
    assert v == -np.inf and d == "float32"


@pytest.mark.parametrize(
    "text, message",
    [
        ("1.5", "a float literal needs a suffix"),
        ("65505f16", "out of range for float16"),
        ("300i8", "out of range for int8"),
        ("/* open", "unterminated block comment"),
        ('"no end', "unterminated string literal"),
        ("\r", "carriage return"),
    ],
)
def test_lexical_errors(text, message):
    with pytest.raises(RelayError, match=message):
        Lexer(text, "t").tokenize()


def test_minus_without_space_is_subtraction():
    # TVM reads `%n-1` as `%n` then the literal `-1`; here it is a subtraction.
    module = load_program(HEADER + "def @f(%n: int32) { %n-1 }", "relay").module
    ops = [op.name for op in funcs(module)["f"].body.block.ops]
    assert "relay.subtract" in ops


def test_nested_block_comments():
    module = load_program(HEADER + "/* a /* b */ c */ def @f() { /* x */ 1 }", "relay").module
    assert "f" in funcs(module)


def test_long_binding_chain_does_not_recurse():
    body = "".join(
        f"  %{i} = add(%{i - 1}, 1f);\n" if i else "  %0 = add(%x, 1f);\n" for i in range(3000)
    )
    module = load_program(
        HEADER + "def @f(%x: float32) {\n" + body + "  %2999\n}\n", "relay"
    ).module
    assert len(list(funcs(module)["f"].body.block.ops)) > 3000


def test_metadata_section_round_trip():
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.array([1, -2, 3], dtype=np.int64)
    text = HEADER + (
        "def @f(%x: Tensor[(3, 4), float32]) {\n"
        "  (add(%x, meta[relay.Constant][0]), meta[relay.Constant][1])\n}\n"
    )
    module = load_program(text, "relay", meta={"relay.Constant": [w, b]}).module
    printed = print_relay(module, show_meta_data=True)
    assert "#[metadata]" in printed.text
    again = load_program(printed.text, "relay").module
    consts = [numpy_from_dense(op.value) for op in again.walk() if isinstance(op, core.ConstantOp)]
    assert any(np.array_equal(c, w) for c in consts) and any(np.array_equal(c, b) for c in consts)
    assert print_relay(again, show_meta_data=True).text == printed.text


def test_bfloat16_metadata_round_trips_as_bfloat16():
    """A bfloat16 constant's #[metadata] array says bfloat16 (DLPack code 4, 16 bits) and reads
    back as a bfloat16 constant; it was written as float32 and read back as a float32 constant,
    which the function's bfloat16 result type then refused (fuzzer seed 13 #1216, #3938)."""
    import ml_dtypes

    from relay_opt.dialects.relay.types import tensor_dtype

    w = np.array([[1.5, -0.0078125, 3.0e38]], dtype=ml_dtypes.bfloat16)
    text = (
        "def @f() -> Tensor[(1, 3), bfloat16] {\n"
        "  add(meta[relay.Constant][0], meta[relay.Constant][1])\n}\n"
    )
    module = load_program(HEADER + text, "relay", meta={"relay.Constant": [w, w[:, ::-1]]}).module
    printed = print_relay(module, show_meta_data=True)
    again = load_program(printed.text, "relay").module
    consts = [op for op in again.walk() if isinstance(op, core.ConstantOp)]
    assert consts and all(tensor_dtype(c.result.type) == "bfloat16" for c in consts)  # pyright: ignore[reportArgumentType]
    values = [numpy_from_dense(c.value) for c in consts]  # pyright: ignore[reportArgumentType]
    assert any(np.array_equal(v, w.astype(np.float32)) for v in values)
    assert print_relay(again, show_meta_data=True).text == printed.text
    back = decode_ndarray(encode_ndarray(w))
    assert back.dtype == w.dtype and np.array_equal(back.view(np.uint16), w.view(np.uint16))


def test_dlpack_array_encoding_round_trips():
    for array in (
        np.random.default_rng(0).standard_normal((2, 3)).astype(np.float16),
        np.array(True),
    ):
        back = decode_ndarray(encode_ndarray(array))
        assert back.dtype == array.dtype and np.array_equal(back, array)


def test_npz_names_must_be_indexed():
    with pytest.raises(ValueError, match="relay.Constant.1"):
        from_npz({"relay.Constant.0": np.zeros(1), "relay.Constant.2": np.zeros(1)})


def test_missing_meta_constant_is_located():
    with pytest.raises(RelayError) as err:
        load_program(
            HEADER + "def @f() { meta[relay.Constant][2] }",
            "relay",
            filename="m.rly",
            meta={"relay.Constant": [np.zeros(1)]},
        )
    assert "is missing (the metadata holds 1)" in err.value.message
    assert str(err.value.at) == "m.rly:2:12"


def test_prelude_is_added_only_as_needed():
    module = load_program(
        HEADER + "def @main(%x: float32) { @length(Cons(%x, Nil)) }", "relay"
    ).module
    names = set(funcs(module))
    assert names == {"main", "length"}
    assert str(funcs(module)["main"].ret_type) == "tensor<i32>"


def test_program_definitions_win_over_the_prelude():
    module = load_program(
        HEADER + "def @id(%x: int32) -> int32 { %x + 1 }\ndef @main() { @id(1) }", "relay"
    ).module
    assert funcs(module)["id"].type_param_names == ()


def test_prelude_has_the_24_functions_and_prints_to_a_fixed_point():
    assert len(prelude().func_defs) == 24
    from importlib.resources import files

    text = files("relay_opt.frontends.relay_text").joinpath("prelude.rly").read_text()
    once = print_relay(load_program(text, "relay", filename="prelude.rly").module).text
    assert print_relay(load_program(once, "relay").module).text == once


def test_bare_expression_becomes_main_with_free_vars_as_parameters():
    module = load_program("free_var %x: Tensor[(2), float32];\nadd(%x, %x)", "relay").module
    main = funcs(module)["main"]
    assert [str(t) for t in main.function_type.inputs] == ["tensor<2xf32>"]


# -- constructs of TVM's own programs (std/prelude.rly, its tests' printed IR) -----------------


def _run(text: str, *inputs):  # noqa: ANN002, ANN202
    from relay_opt.runtime.interpreter import interpret

    return interpret(load_program(text, "relay").module, list(inputs))


def test_constructor_as_a_value_is_its_function():
    from relay_opt.runtime.values import from_adt_list, to_adt_list

    text = HEADER + (
        "def @main(%xs: List[int32], %ys: List[int32]) -> List[int32] {\n"
        "  @foldr(Cons, %ys, %xs)\n}"
    )
    xs = [np.array(1, np.int32), np.array(2, np.int32)]
    out = _run(text, to_adt_list(xs), to_adt_list([np.array(3, np.int32)]))
    assert [int(v) for v in from_adt_list(out)] == [1, 2, 3]  # pyright: ignore[reportOptionalIterable]


def test_constructor_value_takes_its_type_from_the_use():
    text = HEADER + "def @main[A]() -> fn(A, List[A]) -> List[A] { Cons }"
    main = funcs(load_program(text, "relay").module)["main"]
    assert "!relay.tvar<A>" in str(main.ret_type)


def test_local_polymorphic_function():
    text = HEADER + (
        "def @main(%x: Tensor[(2), float32]) {\n  %0 = fn[A](%v: A) -> A { %v };\n  %0(%x)\n}"
    )
    x = np.array([1.5, -2.0], np.float32)
    np.testing.assert_array_equal(_run(text, x), x)


def test_attributes_on_a_function_call_are_accepted():
    text = HEADER + "def @f(%x: float32) { %x }\ndef @main(%y: float32) { @f(%y, note=1) }"
    assert float(_run(text, np.float32(2.5))) == 2.5


def test_list_valued_function_attributes_read_and_print_back():
    # TVM's VM tests give @main `param_device_types=[2]`.
    text = HEADER + (
        "def @main(%a: Tensor[(2), float32], param_device_types=[2, 1], result_device_type=2) {\n"
        "  add(%a, %a)\n}"
    )
    printed = print_relay(load_program(text, "relay").module).text
    assert "param_device_types=[2, 1]" in printed
    assert print_relay(load_program(printed, "relay").module).text == printed
    with pytest.raises(RelayError, match=r"2:1: error: .*must be a number, bool, string or a list"):
        load_program(HEADER + "def @main(%a: float32, a=[None]) { %a }", "relay")


def test_header_then_a_function_is_main():
    main = funcs(load_program(HEADER + "fn (%x: float32) { %x * 2f }", "relay").module)["main"]
    assert [a.name_hint for a in main.args] == ["x"]


def test_free_vars_anywhere_in_a_bare_expression_are_main_parameters():
    text = "free_var %c: bool\nif (%c) {\n  free_var %s: float32\n  %s\n} else {\n  add(%s, 1f)\n}"
    main = funcs(load_program(text, "relay").module)["main"]
    assert [a.name_hint for a in main.args] == ["c", "s"]
    assert float(_run(text, np.bool_(False), np.float32(2))) == 3.0


def test_graph_variable_used_outside_the_block_that_bound_it():
    """TVM's printer names a shared node once; the else branch uses %1 of the then branch."""
    text = HEADER + (
        "fn (%x: float32) {\n  %0 = equal(%x, 2f);\n"
        "  if (%0) {\n    %1 = add(%x, 1f);\n    multiply(%1, 2f)\n"
        "  } else {\n    multiply(%1, 1f)\n  }\n}"
    )
    assert float(_run(text, np.float32(2))) == 6.0
    assert float(_run(text, np.float32(3))) == 4.0


def test_graph_variable_with_effects_stays_in_its_block():
    text = HEADER + (
        "def @main(%c: bool) {\n  if (%c) {\n    %0 = ref(1f);\n    ref_read(%0)\n"
        "  } else {\n    ref_read(%0)\n  }\n}"
    )
    with pytest.raises(RelayError, match=r"7:14: error: undefined graph variable %0"):
        load_program(text, "relay", filename="f.rly")
    # A read computed again in the other branch could see another value (a write between).
    text = HEADER + (
        "def @main(%c: bool, %r: ref(float32)) {\n  if (%c) {\n    %0 = ref_read(%r);\n"
        "    %0\n  } else {\n    %0\n  }\n}"
    )
    with pytest.raises(RelayError, match=r"7:5: error: undefined graph variable %0"):
        load_program(text, "relay", filename="f.rly")


def test_free_var_in_a_def_is_a_located_error():
    text = HEADER + "def @main() {\n  free_var %x: float32\n  %x\n}"
    with pytest.raises(RelayError, match=r"3:12: error: free_var is only allowed in a bare"):
        load_program(text, "relay", filename="f.rly")


def test_let_annotation_fills_an_unknown_type():
    module = load_program(HEADER + "def @f() { let %e: List[float32] = Nil; %e }", "relay").module
    assert str(funcs(module)["f"].ret_type) == "!relay.adt<@List, tensor<f32>>"


def test_let_annotation_mismatch_is_an_error():
    with pytest.raises(RelayError, match="is annotated"):
        load_program(HEADER + "def @f(%x: float32) { let %y: int32 = %x; %y }", "relay")


# -- deep nesting: within MAX_NESTING everything works, beyond it a located error ------------


def _nested(kind: str, n: int) -> str:
    """A program with `n` levels of nesting of one kind (the function body is one more)."""
    if kind == "parens":
        return HEADER + "def @main(%x: float32) { " + "(" * n + "%x" + ")" * n + " }\n"
    if kind == "calls":
        return HEADER + "def @main(%x: float32) { " + "negative(" * n + "%x" + ")" * n + " }\n"
    if kind == "tuples":
        return HEADER + "def @main(%x: float32) { " + "(" * n + "%x" + ",)" * n + " }\n"
    body, ty = "%x", "float32"
    for i in range(n):
        if kind == "ifs":
            body = f"if (%c) {{ {body} }} else {{ %x }}"
        elif kind == "fns":
            body = f"fn (%y{i}: float32) {{ {body} }}"
        elif kind == "matches":
            body = f"match (%o) {{ Some(%z{i}) => {body}, None => %x }}"
        elif kind == "tuple_types":
            ty = f"({ty},)"
        elif kind == "fn_types":
            ty = f"fn () -> {ty}"
    return HEADER + f"def @main(%x: {ty}, %c: bool, %o: Option[float32]) {{ {body} }}\n"


KINDS = ["parens", "calls", "tuples", "ifs", "fns", "matches", "tuple_types", "fn_types"]


@pytest.mark.parametrize("kind", KINDS)
def test_nesting_up_to_the_limit_loads_prints_and_reads_back(kind):
    from xdsl.printer import Printer

    from relay_opt.frontends.relay_text.parser import MAX_NESTING

    # The function body is one level; a match's pattern fields, `Some(%z)`, one more.
    module = load_program(_nested(kind, MAX_NESTING - 1 - (kind == "matches")), "relay").module
    out = io.StringIO()
    Printer(stream=out).print_op(module)
    load_program(out.getvalue(), "mlir")
    load_program(print_relay(module).text, "relay")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("extra", [1, 5000])
def test_nesting_beyond_the_limit_is_a_located_error(kind, extra):
    from relay_opt.frontends.relay_text.parser import MAX_NESTING

    with pytest.raises(RelayError, match=rf"nested more than {MAX_NESTING} deep") as e:
        load_program(_nested(kind, MAX_NESTING + extra), "relay")
    assert ":2:" in str(e.value)  # file:line:col of the level past the limit


def test_import_pauses_the_cyclic_collector(monkeypatch):
    """Each full collection rescans all the IR built so far, which made importing a long
    chain of bindings grow faster than the chain: conversion to the dialect and inference
    run with the collector paused, and it resumes afterwards."""
    import gc

    import relay_opt.frontends.relay_text as relay_text
    from relay_opt.passes import infer_types

    seen = []

    def spy(f):
        def run(*args, **kwargs):
            seen.append((f.__name__, gc.isenabled()))
            return f(*args, **kwargs)

        return run

    monkeypatch.setattr(relay_text, "to_dialect", spy(relay_text.to_dialect))
    monkeypatch.setattr(infer_types.Inference, "run", spy(infer_types.Inference.run))
    load_program(HEADER + "def @f(%x: float32) { add(%x, 1f) }", "relay")
    assert seen == [("to_dialect", False), ("run", False)] and gc.isenabled()
