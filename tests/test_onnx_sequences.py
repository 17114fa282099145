"""ONNX sequences and optionals as the prelude's List and Option (frontends/onnx/sequences.py),
compiled and interpreted, against onnx's reference evaluator (tests/test_onnx_backend.py runs
ONNX's node tests of them)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from relay_opt.diagnostics import RelayError
from relay_opt.frontends.onnx import import_onnx
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile
from relay_opt.runtime.onnx_backend import RelayOptBackend

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def _model(nodes, inputs, outputs, opset: int = 18) -> onnx.ModelProto:  # noqa: ANN001
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def _positions_model() -> onnx.ModelProto:
    """Every position operator at run-time positions, and the other list operators."""
    node = helper.make_node
    return _model(
        [
            node("SplitToSequence", ["x"], ["rows"], axis=0, keepdims=0),
            node("SequenceConstruct", ["x", "y"], ["s"]),
            node("SequenceInsert", ["s", "y", "at"], ["t"]),
            node("SequenceErase", ["t", "at"], ["u"]),
            node("ConcatFromSequence", ["u"], ["joined"], axis=0),
            node("ConcatFromSequence", ["rows"], ["stacked"], axis=1, new_axis=1),
            node("SequenceAt", ["t", "at"], ["picked"]),
            node("SequenceLength", ["t"], ["count"]),
        ],
        [
            helper.make_tensor_value_info("x", F, [2, 3]),
            helper.make_tensor_value_info("y", F, [1, 3]),
            helper.make_tensor_value_info("at", I64, []),
        ],
        [
            helper.make_tensor_value_info("joined", F, [3, 3]),
            helper.make_tensor_value_info("stacked", F, [3, 2]),
            helper.make_tensor_value_info("picked", F, ["r", 3]),
            helper.make_tensor_value_info("count", I64, []),
        ],
    )


@pytest.fixture(scope="module")
def positions():  # noqa: ANN201
    model = _positions_model()
    imported = import_onnx(model)
    return model, imported, compile(imported.module)


@pytest.mark.parametrize("at", [-2, 1])  # (the reference inserts at n at the front)
def test_positions_match_the_reference(positions, at: int) -> None:  # noqa: ANN001
    model, imported, exe = positions
    rng = np.random.default_rng(at + 5)
    feeds = {
        "x": rng.standard_normal((2, 3)).astype(np.float32),
        "y": rng.standard_normal((1, 3)).astype(np.float32),
        "at": np.array(at, np.int64),
    }
    expected = ReferenceEvaluator(model).run(None, feeds)
    args = [feeds[n] for n in imported.input_names]
    for got in (exe(*args), interpret(imported.module, args)):
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6)


def test_position_out_of_range_is_a_located_error(positions) -> None:  # noqa: ANN001
    _, imported, exe = positions
    x, y = np.zeros((2, 3), np.float32), np.zeros((1, 3), np.float32)
    with pytest.raises(RelayError, match=r"node 2 \(SequenceInsert\)"):
        exe(x, y, np.array(-5, np.int64))  # [x, y] takes an insertion at -2 to 2


def test_sequence_map_and_optionals_through_the_backend() -> None:
    """Python lists and None in and out: SequenceMap adds a tensor to each element of a
    list input; an optional input's element or, when it is None, the tensor."""
    body = helper.make_graph(
        [helper.make_node("Add", ["e", "b"], ["out"])],
        "body",
        [helper.make_tensor_value_info("e", F, ["n"]), helper.make_tensor_value_info("b", F, [3])],
        [helper.make_tensor_value_info("out", F, ["n"])],
    )
    seq = helper.make_tensor_sequence_value_info
    optional = helper.make_value_info(
        "o", helper.make_optional_type_proto(helper.make_tensor_type_proto(F, [3]))
    )
    model = _model(
        [
            helper.make_node("SequenceMap", ["xs", "b"], ["ys"], body=body),
            helper.make_node("OptionalHasElement", ["o"], ["has"]),
            helper.make_node(
                "If",
                ["has"],
                ["picked"],
                then_branch=helper.make_graph(
                    [helper.make_node("OptionalGetElement", ["o"], ["v"])],
                    "then",
                    [],
                    [helper.make_tensor_value_info("v", F, [3])],
                ),
                else_branch=helper.make_graph(
                    [helper.make_node("Identity", ["b"], ["w"])],
                    "else",
                    [],
                    [helper.make_tensor_value_info("w", F, [3])],
                ),
            ),
        ],
        [seq("xs", F, [3]), helper.make_tensor_value_info("b", F, [3]), optional],
        [seq("ys", F, [3]), helper.make_tensor_value_info("picked", F, [3])],
    )
    rep = RelayOptBackend.prepare(model)
    xs = [np.arange(3, dtype=np.float32) * k for k in range(4)]
    b = np.full(3, 0.5, np.float32)
    for given in (None, np.ones(3, np.float32)):
        ys, picked = rep.run([xs, b, given])
        assert isinstance(ys, list) and len(ys) == len(xs)
        for got, x in zip(ys, xs, strict=True):
            np.testing.assert_array_equal(got, x + b)
        np.testing.assert_array_equal(picked, b if given is None else given)


# -- tensors of several ranks: rank-erased elements and If joins ---------------------------


def _several_ranks_model(picked_rank: int) -> onnx.ModelProto:
    """[x (2-d), y (1-d)] with z (0-d) inserted at a run-time position, an element read at
    another (its output declared `picked_rank`-d) and doubled, and the whole sequence."""
    node = helper.make_node
    model = _model(
        [
            node("SequenceConstruct", ["x", "y"], ["s"]),
            node("SequenceInsert", ["s", "z", "at"], ["t"]),
            node("SequenceAt", ["t", "pick"], ["picked"]),
            node("Add", ["picked", "picked"], ["doubled"]),
            node("SequenceLength", ["t"], ["count"]),
        ],
        [
            helper.make_tensor_value_info("x", F, [2, 3]),
            helper.make_tensor_value_info("y", F, [4]),
            helper.make_tensor_value_info("z", F, []),
            helper.make_tensor_value_info("at", I64, []),
            helper.make_tensor_value_info("pick", I64, []),
        ],
        [
            helper.make_tensor_sequence_value_info("t", F, None),
            helper.make_tensor_value_info("doubled", F, [None] * picked_rank),
            helper.make_tensor_value_info("count", I64, []),
        ],
    )
    model.graph.value_info.append(helper.make_tensor_value_info("picked", F, [None] * picked_rank))
    return model


@pytest.mark.parametrize("at, pick, rank", [(0, 2, 1), (2, 1, 1), (1, 0, 2), (-1, 1, 0)])
def test_a_sequence_of_several_ranks_keeps_each_elements_shape(at: int, pick: int, rank: int):
    """Compiled and interpreted, against numpy: the backend gives each element back in its
    own shape; SequenceAt reads one at the rank its output declares."""
    rng = np.random.default_rng(at + 10 * pick)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = rng.standard_normal(4).astype(np.float32)
    z = rng.standard_normal(()).astype(np.float32)
    expected = [x, y]
    expected.insert(at if at >= 0 else len(expected) + at, z)
    model = _several_ranks_model(rank)
    feeds = [x, y, z, np.array(at, np.int64), np.array(pick, np.int64)]
    seq, doubled, count = RelayOptBackend.prepare(model).run(feeds)
    assert [e.shape for e in seq] == [e.shape for e in expected]
    for got, want in zip(seq, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(doubled, 2 * expected[pick])
    assert int(count) == 3
    imported = import_onnx(model)
    compiled = compile(imported.module)(*feeds)
    interpreted = interpret(imported.module, feeds)
    for c, i in zip(compiled[1:], interpreted[1:], strict=True):
        np.testing.assert_array_equal(np.asarray(c), np.asarray(i))


def test_an_element_of_another_rank_than_declared_is_a_located_error():
    model = _several_ranks_model(1)  # the element at 0 is x, 2-d
    feeds = [np.zeros((2, 3), np.float32), np.zeros(4, np.float32), np.zeros((), np.float32)]
    feeds += [np.array(2, np.int64), np.array(0, np.int64)]
    imported = import_onnx(model)
    with pytest.raises(RelayError, match=r"node 2 \(SequenceAt\)"):
        compile(imported.module)(*feeds)
    with pytest.raises(RelayError, match="out of bounds"):  # (located by its op)
        interpret(imported.module, feeds)


def _if_of_two_ranks(then_rank: int, else_rank: int) -> onnx.ModelProto:
    """An If of a `then_rank`-d and an `else_rank`-d tensor at a run-time condition, added to
    x (the uses read the join at the higher rank)."""
    shapes = {0: [], 1: [1], 2: [1, 3]}
    return _model(
        [
            helper.make_node(
                "If",
                ["c"],
                ["j"],
                then_branch=helper.make_graph(
                    [helper.make_node("Neg", ["a"], ["na"])],
                    "then",
                    [],
                    [helper.make_tensor_value_info("na", F, shapes[then_rank])],
                ),
                else_branch=helper.make_graph(
                    [helper.make_node("Identity", ["b"], ["ib"])],
                    "else",
                    [],
                    [helper.make_tensor_value_info("ib", F, shapes[else_rank])],
                ),
            ),
            helper.make_node("Add", ["x", "j"], ["y"]),
        ],
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", F, [2, 3]),
            helper.make_tensor_value_info("a", F, shapes[then_rank]),
            helper.make_tensor_value_info("b", F, shapes[else_rank]),
        ],
        [helper.make_tensor_value_info("y", F, [2, 3])],
    )


@pytest.mark.parametrize("then_rank, else_rank", [(0, 1), (2, 0), (1, 2)])
def test_an_if_of_two_ranks_is_read_at_the_higher(then_rank: int, else_rank: int):
    """Both branches taken, compiled and interpreted, against numpy's broadcasting."""
    shapes = {0: (), 1: (1,), 2: (1, 3)}
    model = _if_of_two_ranks(then_rank, else_rank)
    imported = import_onnx(model)
    exe = compile(imported.module)
    rng = np.random.default_rng(then_rank * 3 + else_rank)
    for cond in (True, False):
        x = rng.standard_normal((2, 3)).astype(np.float32)
        a = rng.standard_normal(shapes[then_rank]).astype(np.float32)
        b = rng.standard_normal(shapes[else_rank]).astype(np.float32)
        feeds = [np.array(cond), x, a, b]
        expected = x + (-a if cond else b)
        for got in (exe(*feeds), interpret(imported.module, feeds)):
            np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)


def _node_case(name: str):  # noqa: ANN202
    import warnings

    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        [case] = [c for c in node.collect_testcases(None) if c.name == name]
    return case


def test_onnx_loop16_seq_none_element_by_element():
    """ONNX's test_loop16_seq_none through the backend, compared here: ONNX's runner takes
    len() of every element of a sequence, which its first, 0-d, has not (a TypeError for any
    backend). A loop-carried optional sequence of a scalar and vectors; for other trip
    counts, and with no sequence given (the body starts one from [0])."""
    case = _node_case("test_loop16_seq_none")
    rep = RelayOptBackend.prepare(case.model)
    for inputs, outputs in case.data_sets:
        (got,) = rep.run(inputs)
        assert [g.shape for g in got] == [e.shape for e in outputs[0]]
        for g, e in zip(got, outputs[0], strict=True):
            assert g.dtype == e.dtype
            np.testing.assert_array_equal(g, e)
    x = np.arange(1, 6, dtype=np.float32)
    for trips in (0, 1, 3):
        for given in (None, [np.array(7, np.float32)]):
            if given is None and trips == 0:
                continue  # (no iteration: the empty optional itself, which it may not be)
            (got,) = rep.run([np.array(trips), np.array(True), given])
            start = given or [np.array(0, np.float32)]
            expected = [*start, *(x[: k + 1] for k in range(trips))]
            assert [g.shape for g in got] == [e.shape for e in expected]
            for g, e in zip(got, expected, strict=True):
                np.testing.assert_array_equal(g, e)


def test_onnx_loop13_seq_at_other_trip_counts():
    """A loop whose body declares scalar elements and inserts vectors: re-imported with the
    carried sequence rank-erased; the backend gives each vector back in its shape."""
    case = _node_case("test_loop13_seq")
    rep = RelayOptBackend.prepare(case.model)
    x = np.arange(1, 6, dtype=np.float32)
    for trips in (0, 2, 5):
        (got,) = rep.run([np.array(trips), np.array(True), []])
        expected = [x[: k + 1] for k in range(trips)]
        assert [g.shape for g in got] == [e.shape for e in expected]
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
