"""The operators whose result size the computation finds (ops/vision.py, `sized_by_values`):
vision.non_max_suppression and unique. Their numpy semantics against ONNX's reference, their
native code against the interpreter, and bad input as located errors."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from relay_opt import load_program
from relay_opt.diagnostics import RelayError, location_of
from relay_opt.dialects.relay.registry import lookup
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

HEADER = '#[version = "0.0.5"]\n'


def _boxes(rng: np.random.Generator, batches: int, n: int, center: bool) -> np.ndarray:
    """Boxes on a coarse grid, so overlaps and score ties are common; corners in any order."""
    a = rng.integers(0, 6, (batches, n, 2)).astype(np.float32)
    size = rng.integers(0, 4, (batches, n, 2)).astype(np.float32)
    if center:
        return np.concatenate([a, size], axis=2)
    b = a + size * rng.choice([-1, 1], (batches, n, 2))
    return np.concatenate([a, b], axis=2)


def _model(center: int, inputs: int) -> object:
    names = ["boxes", "scores", "max", "iou", "threshold"][:inputs]
    types = [TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.INT64, TensorProto.FLOAT]
    types.append(TensorProto.FLOAT)
    graph = helper.make_graph(
        [helper.make_node("NonMaxSuppression", names, ["y"], center_point_box=center)],
        "g",
        [helper.make_tensor_value_info(n, t, None) for n, t in zip(names, types, strict=False)],
        [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])


@pytest.mark.parametrize("center", [0, 1])
def test_semantics_match_onnx_reference(center: int) -> None:
    """Random overlapping boxes with tied scores, several batches and classes, with and
    without a score threshold, against onnx.reference."""
    opdef = lookup("vision.non_max_suppression")
    attrs = opdef.make_attrs({"center_point_box": bool(center)})
    rng = np.random.default_rng(center)
    for trial in range(6):
        boxes = _boxes(rng, 2, 7, bool(center))
        scores = rng.integers(0, 4, (2, 3, 7)).astype(np.float32) / 4
        limit = np.array([trial % 4 + (trial == 5) * 10], np.int64)
        iou = np.array([rng.choice([0.0, 0.3, 0.6])], np.float32)
        threshold = np.array([0.25 if trial % 2 else -np.inf], np.float32)
        feeds = {"boxes": boxes, "scores": scores, "max": limit, "iou": iou}
        if trial % 2:
            feeds["threshold"] = threshold
        (want,) = ReferenceEvaluator(_model(center, len(feeds))).run(None, feeds)
        got = opdef.evaluate(attrs, boxes, scores, limit, iou, threshold)
        np.testing.assert_array_equal(got, want.reshape(-1, 3), err_msg=f"trial {trial}")


def test_compiled_at_any_box_count_matches_interpreter() -> None:
    """One compiled function with a `?` box count: several counts (none among them), an
    empty result (max 0, or every score under the threshold), float16 boxes widened; a box
    count that differs from the scores' at run time is an error at the call, not a read out
    of bounds."""
    module = load_program(
        HEADER + "def @main(%b: Tensor[(2, ?, 4), float16], %s: Tensor[(2, 3, ?), float16],\n"
        "          %m: Tensor[(1), int64], %i: Tensor[(1), float16], %t: Tensor[(), float16]) {\n"
        "  vision.non_max_suppression(%b, %s, %m, %i, %t)\n}\n",
        "relay",
        filename="fit.rly",
    ).module
    exe = compile(module, opt=0, cache=False)
    rng = np.random.default_rng(3)
    rows = 0
    for n, limit, threshold in ((9, 3, 0.1), (0, 3, 0.1), (5, 0, 0.1), (6, 9, 2.0), (12, 9, -1)):
        args = [
            _boxes(rng, 2, n, False).astype(np.float16),
            (rng.integers(0, 4, (2, 3, n)) / 4).astype(np.float16),
            np.array([limit], np.int64),
            np.array([0.4], np.float16),
            np.array(threshold, np.float16),
        ]
        got, want = exe(*args), interpret(module, args)
        assert got.dtype == want.dtype == np.int64 and got.shape[1:] == (3,)
        np.testing.assert_array_equal(got, want, err_msg=f"{n} boxes, max {limit}")
        rows += len(got)
    assert rows > 20  # the cases keep boxes, not only nothing
    args[0] = args[0][:, :5]
    with pytest.raises(RelayError, match="boxes and scores differ in their boxes") as e:
        exe(*args)
    assert str(location_of(e.value.at)).startswith("fit.rly:4:3")


def test_bad_boxes_are_located_errors() -> None:
    """Boxes of the wrong rank: a type error at the call (Relay) and an import error naming
    the node (ONNX)."""
    with pytest.raises(RelayError, match="boxes are \\(batches, boxes, 4\\)") as e:
        load_program(
            HEADER + "def @main(%b: Tensor[(3, 4), float32], %s: Tensor[(1, 1, 3), float32],\n"
            "          %m: Tensor[(1), int64], %i: Tensor[(1), float32]) {\n"
            "  vision.non_max_suppression(%b, %s, %m, %i, %i)\n}\n",
            "relay",
            filename="nms.rly",
        )
    assert str(location_of(e.value.at)) == "nms.rly:4:3"

    from relay_opt.frontends.onnx import import_onnx

    graph = helper.make_graph(
        [helper.make_node("NonMaxSuppression", ["b", "s"], ["y"])],
        "g",
        [
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [3, 4]),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, 1, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    with pytest.raises(Exception, match="node 0 \\(NonMaxSuppression\\): boxes must be"):
        import_onnx(model)


@pytest.mark.parametrize(
    "data, attrs",
    [
        (np.array([2.0, 1.0, 1.0, 3.0, 4.0, 3.0], np.float32), {"sorted": 0}),
        (np.array([[1, 0, 0], [1, 0, 0], [2, 3, 4]], np.int64), {"axis": 0}),
        (np.array([[[1, 1], [0, 1], [2, 1], [0, 1]]] * 2, np.int8), {"axis": 1}),
    ],
)
def test_unique_semantics_match_onnx_reference(data: np.ndarray, attrs: dict) -> None:
    graph = helper.make_graph(
        [helper.make_node("Unique", ["x"], ["y", "i", "r", "c"], **attrs)],
        "g",
        [helper.make_tensor_value_info("x", helper.np_dtype_to_tensor_dtype(data.dtype), None)],
        [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in "yirc"],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    want = ReferenceEvaluator(model).run(None, {"x": data})
    opdef = lookup("unique")
    axis = attrs.get("axis")
    full = opdef.make_attrs({"sorted": bool(attrs.get("sorted", 1)), "axis": axis})
    for g, w in zip(opdef.evaluate(full, data), want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_unique_compiled_matches_interpreter() -> None:
    """Sorted floats with NaNs (one distinct NaN, last) and signed zeros; unsorted columns of
    unsigned integers (compared as unsigned)."""
    module = load_program(
        HEADER + "def @main(%x: Tensor[(9), float32], %y: Tensor[(2, 5), uint8]) {\n"
        "  (unique(%x), unique(%y, sorted=False, axis=1))\n}\n",
        "relay",
    ).module
    x = np.array([3, np.nan, -0.0, 1, 3, np.nan, 0.0, -2, 1], np.float32)
    y = np.array([[200, 1, 200, 7, 1], [3, 0, 3, 9, 0]], np.uint8)
    got, want = compile(module, opt=0, cache=False)(x, y), interpret(module, [x, y])
    flat_got = [a for t in got for a in t]
    flat_want = [a for t in want for a in t]
    assert len(flat_got) == 8
    for g, w in zip(flat_got, flat_want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    assert len(flat_got[0]) == 5 and np.isnan(flat_got[0][-1])
