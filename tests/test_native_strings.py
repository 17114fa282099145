"""String tensors in native code (docs/strings.md, "Native code"): ONNX's string node tests
through the backend (which compiles), each string operator against the reference interpreter
on random strings (empty, non-ASCII and whitespace ones included), the JIT's conversions at
the edge, the located errors that remain, and steady memory over 10,000 calls."""

from __future__ import annotations

import itertools
import resource

import numpy as np
import pytest
from test_strings import NODE_TESTS, _node_cases, _onnx_model

from relay_opt.diagnostics import ArgumentError, RelayError
from relay_opt.loader import load_program
from relay_opt.runtime import jit
from relay_opt.runtime.interpreter import Interpreter

HEADER = '#[version = "0.0.5"]\n'


def _words(rng: np.random.Generator, shape: tuple[int, ...], ascii_only: bool = False):  # noqa: ANN202
    """Short strings over letters of both cases, separators, Python's whitespace (an ASCII
    one, U+00A0, U+3000) and non-ASCII letters."""
    alphabet = list("aAbZ -,\t\x1c") + ([] if ascii_only else ["é", "ß", "日", "\u00a0", "\u3000"])
    out = np.empty(int(np.prod(shape)), dtype=object)
    for i in range(out.size):
        out[i] = "".join(alphabet[k] for k in rng.integers(0, len(alphabet), rng.integers(0, 8)))
    return out.reshape(shape)


def _same(got: object, want: object) -> bool:
    if isinstance(want, tuple):
        return isinstance(got, tuple) and all(_same(g, w) for g, w in zip(got, want, strict=True))
    assert isinstance(got, np.ndarray) and isinstance(want, np.ndarray)
    return got.dtype == want.dtype and got.shape == want.shape and got.tolist() == want.tolist()


def _both(text: str, *args: np.ndarray) -> tuple[object, object]:
    """The compiled result and the interpreter's, for the program `text`."""
    module = load_program(HEADER + text, "relay").module
    want = Interpreter(module).run("main", list(args))
    got = jit.compile(module, cache=False)(*args)
    return got, want


@pytest.mark.parametrize(("module", "prefix"), list(NODE_TESTS.items()))
def test_onnx_node_tests_natively(module: str, prefix: str):
    """Each of ONNX's string node tests, through the backend (import, -O3, native code),
    gives the expected outputs exactly; none is skipped."""
    from relay_opt.runtime.onnx_backend import RelayOptBackend

    cases = _node_cases(module, prefix)
    assert cases, prefix
    for case in cases:
        rep = RelayOptBackend.prepare(case.model)
        for inputs, outputs in case.data_sets:
            got = rep.run(list(inputs))
            for g, w in zip(got, outputs, strict=True):
                w = np.asarray(w)
                assert g.shape == w.shape, case.name
                assert g.tolist() == w.tolist(), case.name


def test_equal_concat_and_constants_match_the_interpreter():
    """Broadcasting equal and concat over random strings and a constant with a quote,
    non-ASCII and empty texts."""
    rng = np.random.default_rng(0)
    x, y = _words(rng, (3, 4)), _words(rng, (4,))
    y[1] = x[0, 1]  # some equal pairs
    text = """def @main(%x: Tensor[(3, 4), string], %y: Tensor[(4), string]) {
      let %k = strings.constant(texts=["a'b", "", "日本", " "], shape=[4]);
      let %c = strings.concat(strings.concat(%x, %y), %k);
      (%c, strings.equal(%x, %y), strings.equal(%c, %c), strings.concat(%k, %k))
    }"""
    got, want = _both(text, x, y)
    assert _same(got, want)


@pytest.mark.parametrize(
    ("in_dtype", "out_dtype"),
    [("string", "int64"), ("string", "string"), ("int64", "string"), ("float32", "string")],
)
def test_label_encode_matches_the_interpreter(in_dtype: str, out_dtype: str):
    """String, integer and float keys (-0.0 matches 0.0; a repeated key: the first wins) to
    string or integer values, and the default for the others (NaN included)."""
    rng = np.random.default_rng(1)
    if in_dtype == "string":
        keys = ["a", "", "日", "a", "Ab"]
        x = np.array(["a", "", "日", "b", "Ab", "ab", "a "], dtype=object)
        keys_attr = "keys_strings=" + str(keys).replace("'", '"')
    elif in_dtype == "int64":
        keys = [3, -1, 0, 3]
        x = rng.integers(-2, 5, size=7)
        keys_attr = f"keys_ints={keys}"
    else:
        keys = [1.5, -0.0, 2.0, 1.5]
        x = np.array([1.5, np.nan, 0.0, -0.0, 2.0, 3.0, -1.5], dtype=np.float32)
        keys_attr = "keys_floats=[1.5f, -0f, 2f, 1.5f]"
    if out_dtype == "string":
        texts = ["one", "", "three", "four", "five"][: len(keys)]
        values_attr = "values_strings=" + str(texts).replace("'", '"')
        default = 'default_string="-"'
    else:
        values_attr = f"values_ints={list(range(10, 10 + len(keys)))}"
        default = "default_int=-7"
    text = f"""def @main(%x: Tensor[(7), {in_dtype}]) {{
      strings.label_encode(%x, {keys_attr}, {values_attr}, {default}, out_dtype="{out_dtype}")
    }}"""
    got, want = _both(text, x.astype(in_dtype) if in_dtype != "string" else x)
    assert _same(got, want)


def test_label_encode_nan_key_through_onnx():
    """A NaN key (ONNX's LabelEncoder; Relay text cannot write one) matches NaN natively as
    in the interpreter."""
    from onnx import TensorProto, helper

    from relay_opt.frontends.onnx.importer import import_onnx
    from relay_opt.loader import type_check

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [5])
    y = helper.make_tensor_value_info("y", TensorProto.STRING, [5])
    node = helper.make_node(
        "LabelEncoder",
        ["x"],
        ["y"],
        domain="ai.onnx.ml",
        keys_floats=[1.0, float("nan"), -0.0],
        values_strings=["one", "nan", "zero"],
        default_string="-",
    )
    graph = helper.make_graph([node], "g", [x], [y])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid("ai.onnx.ml", 4)]
    )
    module = import_onnx(model).module
    type_check(module)
    a = np.array([1.0, np.nan, 0.0, 2.0, -0.0], dtype=np.float32)
    want = Interpreter(module).run("main", [a])
    got = jit.compile(module, cache=False)(a)
    assert _same(got, want) and got.tolist() == ["one", "nan", "zero", "-", "zero"]


def test_regex_full_match_matches_the_interpreter():
    """Patterns with classes, repetitions, alternation, UTF-8 literals and assertions, on
    random strings (the same DFA, run as a table loop)."""
    rng = np.random.default_rng(2)
    x = _words(rng, (5, 8))
    x[0, :4] = ["ab", "a-b", "日日", ""]
    for pattern in ["[a-z]+", "(a|A)b*", ".*日.*", "\\\\w*\\\\s?", "^a{1,2}\\\\b.*$", ""]:
        text = f"""def @main(%x: Tensor[(5, 8), string]) {{
          strings.regex_full_match(%x, pattern="{pattern}")
        }}"""
        got, want = _both(text, x)
        assert _same(got, want), pattern


def test_split_matches_the_interpreter():
    """A delimiter of one or two bytes or none (runs of Python's whitespace, non-ASCII
    spaces included), with and without maxsplit."""
    rng = np.random.default_rng(3)
    x = _words(rng, (2, 6))
    for delimiter, maxsplit in itertools.product(["", ",", " -", "é"], [None, 0, 2]):
        limit = "" if maxsplit is None else f", maxsplit={maxsplit}"
        text = f"""def @main(%x: Tensor[(2, 6), string]) {{
          strings.split(%x, delimiter="{delimiter}"{limit})
        }}"""
        got, want = _both(text, x)
        assert _same(got, want), (delimiter, maxsplit)


def test_normalize_matches_the_interpreter():
    """Every case change, stopwords compared with and without case, on ASCII strings of
    shape (C) and (1, C); every element a stopword gives one empty string."""
    rng = np.random.default_rng(4)
    x = _words(rng, (1, 9), ascii_only=True)
    x[0, :3] = ["Ab", "aB", "ab"]
    for action, sensitive, stops in itertools.product(
        ["NONE", "LOWER", "UPPER"], [False, True], [[], ["ab", "z"], list(set(x.reshape(-1)))]
    ):
        words = ", ".join(f'"{s}"' for s in stops).replace("\t", "\\t").replace("\x1c", "\\x1c")
        for shape, arg in (("(1, 9)", x), ("(9)", x.reshape(-1))):
            text = f"""def @main(%x: Tensor[{shape}, string]) {{
              strings.normalize(%x, case_change_action="{action}",
                                is_case_sensitive={sensitive}, stopwords=[{words}])
            }}"""
            got, want = _both(text, arg)
            assert _same(got, want), (action, sensitive, stops, shape)


def test_strings_through_data_movement_and_objects():
    """A string tensor is a tensor of addresses: a tuple, an `if`, and an ADT field carry
    it like any tensor."""
    x = np.array(["a", "bc", "日"], dtype=object)
    text = """type Box { Box(Tensor[(3), string]) }
    def @main(%x: Tensor[(3), string], %c: bool) {
      let %b = Box(strings.concat(%x, %x));
      let %y = match (%b) { Box(%v) => %v };
      let %z = if (%c) { %y } else { %x };
      (%z, %x)
    }"""
    for c in (True, False):
        got, want = _both(text, x, np.array(c))
        assert _same(got, want)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "uint64", "bool"])
def test_to_string_of_integers_matches_the_interpreter(dtype: str):
    """Integers as decimal text (the extremes of each dtype, 0, powers of ten, random ones);
    booleans as True and False."""
    rng = np.random.default_rng(7)
    if dtype == "bool":
        x = rng.integers(0, 2, size=12).astype(bool)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, size=12, dtype=dtype, endpoint=True)
        x[:6] = [info.min, info.max, 0, 1, 10, min(100, int(info.max))]
    text = f"def @main(%x: Tensor[(12), {dtype}]) {{ strings.to_string(%x) }}"
    got, want = _both(text, x)
    assert _same(got, want)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "uint64"])
def test_from_string_to_integers_matches_the_interpreter(dtype: str):
    """Decimal text as int() reads it (spaces around, a sign, underscores between digits),
    the extremes of each dtype included; text that is no integer, out of range or
    non-ASCII ends the call with a located error."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(8)
    texts = [str(info.min), str(info.max), " -0 ", "+1_0", "\t7\r\n", "0012"]
    texts += [str(v) for v in rng.integers(info.min, info.max, size=6, dtype=dtype)]
    text = f'def @main(%x: Tensor[(12), string]) {{ strings.from_string(%x, dtype="{dtype}") }}'
    module = load_program(HEADER + text, "relay", filename="c.rly").module
    x = np.array(texts, dtype=object)
    want = Interpreter(module).run("main", [x])
    exe = jit.compile(module, cache=False)
    assert _same(exe(x), want)
    for bad, message in [
        ("1__0", "not a number"),
        ("\x1c1", "not a number"),
        ("", "not a number"),
        (str(int(info.max) + 1), "out of the range"),
        (str(int(info.min) - 1), "out of the range"),
        ("\u0663", "non-ASCII text is not parsed natively"),
    ]:
        with pytest.raises(RelayError, match=message) as e:
            exe(np.array([bad] + texts[1:], dtype=object))
        assert e.value.at is not None and "c.rly:2" in str(e.value.at), bad
        if "out of" in message:  # the interpreter's too (numpy's OverflowError before)
            with pytest.raises(RelayError, match=message):
                Interpreter(module).run("main", [np.array([bad] + texts[1:], dtype=object)])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_from_string_to_floats_matches_the_interpreter(dtype: str):
    """Text as float() reads it (spaces around, a sign, underscores between digits, an
    exponent, inf/infinity/nan in any case), rounded as the interpreter rounds (to f64, then
    to the dtype): bit for bit equal on edge values and random ones, shortest and long."""
    rng = np.random.default_rng(9)
    finfo = np.finfo(dtype)
    texts = [
        "0",
        "-0.0",
        " 1e-5\t",
        "+123456",
        "1e16",
        "16777217",
        "1_000.2_5",
        ".5",
        "5.",
        "1E+3",
        "-INF",
        "Infinity",
        "nan",
        "-NaN",
        "1e400",
        "-1e-400",
        "4.9e-324",
        "2.2250738585072011e-308",
        "0.1000000000000000055511151231257827",
        str(finfo.max),
        str(finfo.tiny),
        str(finfo.smallest_subnormal),
        "3.4028235677973366e38",
        "65520",
        "1.00048828125",
    ]  # f32/f16 midpoints
    bits = rng.integers(0, 2**63, size=24, dtype=np.uint64)
    texts += [repr(float(v)) for v in bits.view(np.float64)]
    texts += [str(v.item()) for v in (bits >> np.uint64(32)).astype(np.uint32).view(np.float32)]
    texts += [f"{v:.20e}" for v in rng.standard_normal(8)]
    n = len(texts)
    text = f'def @main(%x: Tensor[({n}), string]) {{ strings.from_string(%x, dtype="{dtype}") }}'
    module = load_program(HEADER + text, "relay", filename="c.rly").module
    x = np.array(texts, dtype=object)
    want = Interpreter(module).run("main", [x])
    got = jit.compile(module, cache=False)(x)
    assert got.dtype == want.dtype
    assert got.tobytes() == want.tobytes() or _same(got, want)  # NaN bits aside
    assert np.array_equal(got, want, equal_nan=True)
    exe = jit.compile(module, cache=False)
    for bad in [
        "1__0",
        "_1",
        "1_",
        "1_.5",
        "0x1p3",
        "nan(1)",
        "1e",
        "e5",
        ".",
        "",
        "  ",
        "1 2",
        "\x1c2",
        "infinit",
        "- 1",
        "1f",
        "++1",
    ]:
        with pytest.raises(ValueError, match="could not convert"):
            float(bad)  # what the interpreter follows
        with pytest.raises(RelayError, match="not a number") as e:
            exe(np.array([bad] + texts[1:], dtype=object))
        assert e.value.at is not None and "c.rly:2" in str(e.value.at), bad
    with pytest.raises(RelayError, match="non-ASCII text is not parsed natively"):
        exe(np.array(["\u00a01"] + texts[1:], dtype=object))


def _float_texts_cases(dtype: str) -> np.ndarray:
    """Edge values, every power of two (where the shortest text is not the nearest one at
    its length) and random bit patterns of a float dtype; all of float16."""
    if dtype == "float16":
        return np.arange(2**16, dtype=np.uint16).view(np.float16)
    finfo = np.finfo(dtype)
    edges = [
        0.0,
        -0.0,
        1e-5,
        1e-4,
        123456.0,
        1e15,
        1e16,
        1e17,
        2.0**24 + 1,
        999999.0,
        1e6,
        finfo.max,
        -finfo.max,
        finfo.tiny,
        finfo.smallest_subnormal,
        np.inf,
        -np.inf,
        np.nan,
        -np.nan,
        0.1,
        -3.25e-7,
        9.5,
        0.3,
    ]
    rng = np.random.default_rng(10)
    width = np.dtype(dtype).itemsize * 8
    bits = rng.integers(0, 2**63, size=20000, dtype=np.uint64)
    random = (bits if width == 64 else (bits >> np.uint64(32)).astype(np.uint32)).view(dtype)
    powers = np.ldexp(np.ones(1, dtype), np.arange(finfo.minexp - finfo.nmant, finfo.maxexp))
    return np.concatenate([np.array(edges, dtype), powers.astype(dtype), -powers[:50], random])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_to_string_of_floats_matches_the_interpreter(dtype: str):
    """numpy's shortest round-trip text, exactly: positional or scientific by magnitude as
    numpy switches per dtype, "-0.0", "nan", "inf"; all 65536 float16 values."""
    x = _float_texts_cases(dtype)
    text = f"def @main(%x: Tensor[({len(x)}), {dtype}]) {{ strings.to_string(%x) }}"
    got, want = _both(text, x)
    assert got.dtype == object and got.shape == want.shape
    differ = [(v, g, w) for v, g, w in zip(x, got, want, strict=True) if g != w]
    assert not differ, differ[:5]


def test_data_movement_moves_strings():
    """reshape, transpose, take (clipped indices), concatenate and copy move strings, natively
    as addresses, in the interpreter as numpy's object arrays; they agree."""
    rng = np.random.default_rng(6)
    x = _words(rng, (2, 3))
    i = rng.integers(-1, 5, size=4)
    text = """def @main(%x: Tensor[(2, 3), string], %i: Tensor[(4), int64]) {
      let %k = strings.constant(texts=["p", "q", "r"], shape=[3]);
      (reshape(%x, newshape=[3, 2]), transpose(%x), take(%x, %i, axis=1),
       concatenate((%x, strings.concat(%x, %x)), axis=0), copy(%x), take(%k, %i))
    }"""
    got, want = _both(text, x, i)
    assert _same(got, want)


def test_inputs_convert_and_are_checked_at_the_edge():
    """'U' arrays are accepted; bytes, numbers and a wrong shape are argument errors naming
    the input."""
    module = load_program(
        HEADER + "def @main(%x: Tensor[(2), string]) { strings.concat(%x, %x) }", "relay"
    ).module
    exe = jit.compile(module, cache=False)
    assert exe(np.array(["ab", "é"])).tolist() == ["abab", "éé"]
    with pytest.raises(ArgumentError, match="input 'x'.*element of type bytes"):
        exe(np.array([b"a", b"b"], dtype=object))
    with pytest.raises(ArgumentError, match="input 'x'.*array of dtype int64"):
        exe(np.array([1, 2]))
    with pytest.raises(ArgumentError, match="input 'x' must be 2 string, got 3 string"):
        exe(np.array(["a", "b", "c"]))


def test_located_errors_that_remain():
    """Non-ASCII text where normalize's case matters is a located run-time error; a cast
    from strings, floats to strings and split of data with ? dims are located compile
    errors."""
    module = load_program(
        HEADER
        + """def @main(%x: Tensor[(2), string]) {
          strings.normalize(%x, case_change_action="UPPER")
        }""",
        "relay",
        filename="n.rly",
    ).module
    exe = jit.compile(module, cache=False)
    assert exe(np.array(["ab", "c"], dtype=object)).tolist() == ["AB", "C"]
    with pytest.raises(RelayError, match="case mapping of non-ASCII text") as e:
        exe(np.array(["ab", "é"], dtype=object))
    assert e.value.at is not None and "n.rly:3" in str(e.value.at)
    for body in (
        'strings.from_string(%x, dtype="float32")',
        "strings.split(%x)",
        'strings.to_string(strings.from_string(%x, dtype="float32"))',
    ):
        m = load_program(
            HEADER + f"def @main(%x: Tensor[(?), string]) {{ {body} }}", "relay", filename="e.rly"
        ).module
        with pytest.raises(RelayError) as e:
            jit.compile(m, cache=False)
        assert e.value.at is not None, body


def test_onnx_backend_skips_models_with_string_operators_not_compiled():
    """A string operator native code lacks (Cast from bfloat16 to strings) is reported as a
    skip, naming the operator; Casts between strings and float32 compile and match numpy."""
    import unittest

    from onnx import TensorProto, helper

    from relay_opt.runtime.onnx_backend import RelayOptBackend

    def cast(source: int, target: int) -> object:
        x = helper.make_tensor_value_info("x", source, [3])
        y = helper.make_tensor_value_info("y", target, [3])
        return _onnx_model(helper.make_node("Cast", ["x"], ["y"], to=target), [x], [y])

    with pytest.raises(
        unittest.SkipTest, match="'strings.to_string' of bfloat16 .* is not compiled"
    ):
        RelayOptBackend.prepare(cast(TensorProto.BFLOAT16, TensorProto.STRING))
    model = cast(TensorProto.STRING, TensorProto.FLOAT)
    (got,) = RelayOptBackend.prepare(model).run([np.array(["1.5", " -INF", "1e-3"], dtype=object)])
    assert got.tolist() == np.array([1.5, -np.inf, 1e-3], dtype=np.float32).tolist()
    x = np.array([0.1, -np.inf, 3e-7], dtype=np.float32)
    (got,) = RelayOptBackend.prepare(cast(TensorProto.FLOAT, TensorProto.STRING)).run([x])
    assert got.tolist() == ["0.1", "-inf", "3e-07"]


def test_memory_is_steady():
    """Strings made by a call (concat, split's parts, case changes) live in the call's arena:
    after 100 calls, 10,000 more grow the peak RSS by less than 5 MiB."""
    module = load_program(
        HEADER
        + """def @main(%x: Tensor[(64), string]) {
          let %s = strings.split(strings.concat(%x, strings.constant(texts=[" tail"], shape=[1])));
          (%s.0, %s.1, strings.normalize(%x, case_change_action="UPPER"))
        }""",
        "relay",
    ).module
    exe = jit.compile(module, cache=False)
    x = _words(np.random.default_rng(5), (64,), ascii_only=True)
    want = Interpreter(module).run("main", [x])
    for _ in range(100):
        got = exe(x)
    assert _same(got, want)
    first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(10_000):
        exe(x)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - first
    assert grown_kib < 5 * 1024, f"peak RSS grew by {grown_kib} KiB over 10,000 calls"
