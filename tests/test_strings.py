"""String tensors (docs/strings.md): the string operators' numpy semantics against ONNX's own
node tests and Python's str methods, the regex DFA against Python's re, the string type and
attributes through text, relay-run's .npz strings, and the errors (refused operators, bad
patterns, bad inputs); native code is tests/test_native_strings.py's."""

from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from relay_opt.diagnostics import ArgumentError, RelayError
from relay_opt.dialects.relay.regex import RegexError, compile_dfa
from relay_opt.frontends.onnx.importer import OnnxImportError, import_onnx
from relay_opt.loader import load_program, type_check
from relay_opt.runtime.interpreter import Interpreter

# ONNX's node tests of the string operators, by the module of onnx.backend.test.case.node
# that declares them and the prefix of their names.
NODE_TESTS = {
    "string_concat": "test_string_concat",
    "string_split": "test_string_split",
    "stringnormalizer": "test_strnormalizer",
    "regex_full_match": "test_regex_full_match",
    "equal": "test_equal_string",
    "ai_onnx_ml.label_encoder": "test_ai_onnx_ml_label_encoder",
}


def _node_cases(module: str, prefix: str) -> list:
    """The node test cases of one module of ONNX's generators (importing a module runs its
    exports, which append to the cases; importing one is faster than collecting all)."""
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importlib.import_module(f"onnx.backend.test.case.node.{module}")
    return [c for c in node._NodeTestCases if c.name.startswith(prefix)]  # pyright: ignore[reportPrivateUsage]


def _interpret(module, args):  # noqa: ANN001, ANN202
    out = Interpreter(module).run("main", args)
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize(("module", "prefix"), list(NODE_TESTS.items()))
def test_onnx_node_tests_through_the_interpreter(module: str, prefix: str):
    """Each of ONNX's node tests of the string operators, imported and interpreted, gives the
    expected outputs exactly (string, integer and boolean results)."""
    cases = _node_cases(module, prefix)
    assert cases, prefix
    for case in cases:
        imported = import_onnx(case.model)
        type_check(imported.module)
        for inputs, outputs in case.data_sets:
            got = _interpret(imported.module, list(inputs))
            assert len(got) == len(outputs), case.name
            for g, want in zip(got, outputs, strict=True):
                want = np.asarray(want)
                assert g.shape == want.shape, case.name
                if want.dtype.kind in "OU":
                    assert g.dtype == object and g.tolist() == want.tolist(), case.name
                else:
                    np.testing.assert_array_equal(g, want, err_msg=case.name)


def _words(rng: np.random.Generator, n: int) -> np.ndarray:
    """Short strings over ASCII letters, separators and a few non-ASCII characters."""
    alphabet = list("ab -,\t") + ["é", "ß", "日", "İ"]
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = "".join(alphabet[k] for k in rng.integers(0, len(alphabet), rng.integers(0, 7)))
    return out


def _run_text(text: str, *args: np.ndarray):  # noqa: ANN202
    module = load_program(text, "relay").module
    return _interpret(module, list(args))


def test_split_and_normalize_follow_python():
    """strings.split is str.split (a delimiter, or runs of whitespace), padded with "" to the
    longest; strings.normalize drops stopwords (case-insensitively by default) and maps case
    with str.lower/upper, all on random strings with empty and non-ASCII ones."""
    x = _words(np.random.default_rng(3), 12)
    for delimiter, maxsplit in ((",", None), ("", None), (" ", 1)):
        attrs = f'delimiter="{delimiter}"' + ("" if maxsplit is None else f", maxsplit={maxsplit}")
        words, counts = _run_text(
            f"""#[version = "0.0.5"]
            def @main(%x: Tensor[(12), string]) {{ strings.split(%x, {attrs}) }}""",
            x,
        )
        parts = [s.split(delimiter or None, -1 if maxsplit is None else maxsplit) for s in x]
        assert counts.tolist() == [len(p) for p in parts]
        assert words.shape == (12, max(map(len, parts)))
        assert [list(w[: len(p)]) for w, p in zip(words, parts, strict=True)] == parts
        assert all(not w for row, p in zip(words, parts, strict=True) for w in row[len(p) :])
    stops = [x[0], x[1].upper()]
    (normalized,) = _run_text(
        f"""#[version = "0.0.5"]
        def @main(%x: Tensor[(12), string]) {{
          strings.normalize(%x, case_change_action="UPPER", stopwords=["{stops[0]}", "{stops[1]}"])
        }}""",
        x,
    )
    lowered = {s.lower() for s in stops}
    assert normalized.tolist() == [s.upper() for s in x if s.lower() not in lowered] or [""]


PATTERNS = [
    r"[a-z]+",
    r"(ab|b)*a?",
    r"\w+\s\d{2,3}",
    r"[^ ,]*",
    r"é.+",
    r".{2}",
    r"(\W|^)b+(\W|$)",
    r"a\b.*",
    r"x*\B.",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_regex_dfa_agrees_with_python(pattern: str):
    """The DFA (UTF-8 bytes) matches what Python's re fullmatch does with RE2's ASCII classes,
    on random strings with non-ASCII characters."""
    rng = np.random.default_rng(5)
    alphabet = list("ab1 ,_x") + ["é", "日"]
    dfa = compile_dfa(pattern)
    python = re.compile(pattern, re.ASCII)
    for _ in range(300):
        s = "".join(alphabet[k] for k in rng.integers(0, len(alphabet), rng.integers(0, 6)))
        assert dfa.full_match(s) == (python.fullmatch(s) is not None), (pattern, s)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(?i)a", "group flags and lookaround '(?' are not supported at offset 0"),
        (r"a\1", r"the escape '\1' is not supported at offset 1"),
        (r"[[:alpha:]]", "POSIX classes '[:name:]' are not supported at offset 1"),
        (r"a{2000}", "a repetition count outside 0..1000 or reversed at offset 1"),
        (r"(a", "missing ')' at offset 0"),
        (r"(a|b)*a(a|b){3}", "the pattern needs more than 8 DFA states"),
    ],
)
def test_regex_outside_the_subset_is_refused(pattern: str, message: str, monkeypatch):
    from relay_opt.dialects.relay import regex

    monkeypatch.setattr(regex, "MAX_STATES", 8)  # (the last pattern needs 16)
    with pytest.raises(RegexError, match=re.escape(message)):
        compile_dfa(pattern)


def _onnx_model(node, inputs, outputs, initializers=()):  # noqa: ANN001, ANN202
    from onnx import helper

    graph = helper.make_graph([node], "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


def test_onnx_errors_name_the_node():
    """A bad pattern, a numeric operator on strings and a refused cast are import errors that
    name the node."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.STRING, [2])
    y = helper.make_tensor_value_info("y", TensorProto.BOOL, [2])
    model = _onnx_model(
        helper.make_node("RegexFullMatch", ["x"], ["y"], pattern=r"a(?=b)"), [x], [y]
    )
    with pytest.raises(
        OnnxImportError, match=r"node 0 \(RegexFullMatch\): strings.regex_full_match"
    ):
        import_onnx(model)
    s = helper.make_tensor_value_info("s", TensorProto.STRING, [2])
    model = _onnx_model(helper.make_node("Add", ["x", "x"], ["s"]), [x], [s])
    with pytest.raises(
        OnnxImportError, match="node 0 \\(Add\\): add: 'add' does not accept string"
    ):
        import_onnx(model)
    b = helper.make_tensor_value_info("b", TensorProto.BOOL, [2])
    model = _onnx_model(helper.make_node("Cast", ["x"], ["b"], to=TensorProto.BOOL), [x], [b])
    with pytest.raises(OnnxImportError, match="a string does not convert to 'bool'"):
        import_onnx(model)


def test_string_initializers_and_casts():
    """A string initializer becomes a strings.constant; Cast parses and formats numbers as
    ONNX's reference does (numpy's shortest text of a float32); a text that is no number is a
    located run-time error."""
    from onnx import TensorProto, helper, numpy_helper

    known = numpy_helper.from_array(np.array(["1", "-2.5", "1e3", "x"], dtype=object), "k")
    x = helper.make_tensor_value_info("x", TensorProto.STRING, [4])
    e = helper.make_tensor_value_info("e", TensorProto.BOOL, [4])
    f = helper.make_tensor_value_info("f", TensorProto.FLOAT, [4])
    nodes = [
        helper.make_node("Equal", ["x", "k"], ["e"]),
        helper.make_node("Cast", ["x"], ["f"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(nodes, "g", [x], [e, f], [known])
    imported = import_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]))
    same, got = _interpret(imported.module, [np.array(["1", "-2.5", "1e3", "nan"])])
    assert same.tolist() == [True, True, True, False]
    np.testing.assert_array_equal(got, np.array([1, -2.5, 1000, np.nan], np.float32))
    with pytest.raises(RelayError, match="'nope' is not a number of dtype float32") as error:
        _interpret(imported.module, [np.array(["1", "nope", "2", "3"])])
    assert error.value.at is not None  # the Cast node's op
    values = np.array([0.1, -3.0, 1e-8, np.inf], np.float32)
    (text,) = _run_text(
        """#[version = "0.0.5"]
        def @main(%x: Tensor[(4), float32]) { strings.to_string(%x) }""",
        values,
    )
    assert text.tolist() == values.astype(np.str_).tolist() == ["0.1", "-3.0", "1e-08", "inf"]


def test_inputs_convert_at_the_edge():
    """'U' arrays are accepted as string inputs (held as str objects inside); bytes or numbers
    are an argument error naming the input."""
    text = """#[version = "0.0.5"]
    def @main(%x: Tensor[(2), string]) { strings.concat(%x, %x) }"""
    (got,) = _run_text(text, np.array(["ab", "é"]))
    assert got.dtype == object and got.tolist() == ["abab", "éé"]
    with pytest.raises(
        ArgumentError, match="input 'x': expected strings, got an element of type bytes"
    ):
        _run_text(text, np.array([b"a", b"b"], dtype=object))
    with pytest.raises(
        ArgumentError, match="input 'x': expected strings, got an array of dtype int64"
    ):
        _run_text(text, np.array([1, 2]))


def test_string_attributes_print_and_parse_back():
    """Texts with quotes, backslashes, control and non-ASCII characters survive MLIR text."""
    from relay_opt.dialects.relay.builder import RelayBuilder
    from relay_opt.dialects.relay.ops.strings import StringConstant

    texts = ['a"b', "c\\d", "e\nf\tg\x01", "ü日", ""]
    ops: list = []
    RelayBuilder.collect(ops).constant(np.array(texts, dtype=object))
    (op,) = ops
    assert isinstance(op, StringConstant)
    printed = str(op)
    module = load_program(
        "relay.func @main() -> tensor<5x!relay.string> {\n"
        f"  {printed}\n  relay.return %0 : tensor<5x!relay.string>\n}}",
        "mlir",
    ).module
    (got,) = _interpret(module, [])
    assert got.tolist() == texts


def test_relay_run_reads_and_writes_string_npz(tmp_path: Path, capsys):
    """relay-run takes string inputs from an .npz ('U' arrays, never pickled), prints them,
    saves string results as 'U' arrays and compares them with --expected."""
    from relay_opt.tools.relay_run import main

    program = tmp_path / "p.rly"
    program.write_text(
        """#[version = "0.0.5"]
        def @main(%x: Tensor[(2), string], %y: Tensor[(1), string]) { strings.concat(%x, %y) }"""
    )
    np.savez(tmp_path / "in.npz", x=np.array(["a", "日"]), y=np.array(["!"]))
    np.savez(tmp_path / "want.npz", output_0=np.array(["a!", "日!"]))
    out = tmp_path / "out.npz"
    args = [str(program), "--interpret", "-i", str(tmp_path / "in.npz"), "-o", str(out)]
    assert main([*args, "--expected", str(tmp_path / "want.npz")]) == 0
    printed = capsys.readouterr().out
    assert "result[0]: 2xstring ['a!', '日!']" in printed and "[SUCCESS]" in printed
    with np.load(out, allow_pickle=False) as saved:
        assert saved["output_0"].tolist() == ["a!", "日!"]
    np.savez(tmp_path / "want.npz", output_0=np.array(["a!", "x"]))
    assert main([*args, "--expected", str(tmp_path / "want.npz")]) == 1
    assert "1 of 2 strings differ" in capsys.readouterr().out
