"""ONNX operators whose shape-deciding input is a graph input (issue 12, Deliver 4): the model
imports from its input shapes alone (as relay-run gives them), compiles once, and runs at
several values of that input, natively and interpreted, against numpy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile


def _model(tmp_path: Path, node: Any, inputs: list[Any], outputs: list[str], opset: int) -> Any:  # noqa: ANN401
    import onnx
    from onnx import helper

    graph = helper.make_graph(
        [node],
        node.op_type.lower(),
        inputs,
        [helper.make_tensor_value_info(o, 0, None) for o in outputs],
    )
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return load_program(path).module


def _check(module: Any, exe: Any, inputs: dict[str, np.ndarray], want: list[np.ndarray]) -> None:  # noqa: ANN401
    got = exe(*inputs.values())
    got = list(got) if isinstance(got, tuple) else [got]
    interpreted = interpret(module, inputs)
    interpreted = list(interpreted) if isinstance(interpreted, tuple) else [interpreted]
    for g, i, w in zip(got, interpreted, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(i, w)


@pytest.mark.parametrize("upper", [0, 1])
def test_trilu_of_a_run_time_k(tmp_path: Path, upper: int):
    from onnx import TensorProto, helper

    node = helper.make_node("Trilu", ["x", "k"], ["y"], upper=upper)
    module = _model(
        tmp_path,
        node,
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4]),
            helper.make_tensor_value_info("k", TensorProto.INT64, []),
        ],
        ["y"],
        14,
    )
    exe = compile(module, opt=1, cache=False)
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    for k in (-5, -1, 0, 2, 7):
        want = np.triu(x, k) if upper else np.tril(x, k)
        _check(module, exe, {"x": x, "k": np.array(k, np.int64)}, [want])


def test_topk_of_a_run_time_k(tmp_path: Path):
    from onnx import TensorProto, helper

    node = helper.make_node("TopK", ["x", "k"], ["values", "indices"], axis=0, largest=1)
    module = _model(
        tmp_path,
        node,
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3]),
            helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
        ],
        ["values", "indices"],
        11,
    )
    exe = compile(module, opt=1, cache=False)
    x = np.array([[3, 1, 2], [5, 1, 0], [3, 7, 2], [-1, 0, 9]], np.float32)
    order = np.argsort(-x, axis=0, kind="stable")  # ties: the lower index first, as ONNX
    for k in (0, 2, 4):
        idx = order[:k]
        _check(
            module,
            exe,
            {"x": x, "k": np.array([k], np.int64)},
            [np.take_along_axis(x, idx, 0), idx],
        )
    for k in (5, -1):
        # (the axis moved last: the slice's axis 1)
        with pytest.raises(RelayError, match="'dyn.strided_slice': axis 1 reads outside the data"):
            exe(x, np.array([k], np.int64))
        with pytest.raises(
            RelayError, match="'dyn.strided_slice' failed at run time: slice of axis 1"
        ):
            interpret(module, {"x": x, "k": np.array([k], np.int64)})


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "wrap"])
def test_pad_of_run_time_pads(tmp_path: Path, mode: str):
    from onnx import TensorProto, helper

    node = helper.make_node("Pad", ["x", "pads", "value"], ["y"], mode=mode)
    module = _model(
        tmp_path,
        node,
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("pads", TensorProto.INT64, [4]),
            helper.make_tensor_value_info("value", TensorProto.FLOAT, []),
        ],
        ["y"],
        13,
    )
    exe = compile(module, opt=1, cache=False)
    x = np.arange(6, dtype=np.float32).reshape(2, 3) + 1
    value = np.array(-2.5, np.float32)
    # A negative pad removes elements (ONNX's spec; numpy has no such pad): pad, then crop.
    for pads in ((0, 0, 0, 0), (1, 2, 0, 1), (3, 0, 2, 5), (-1, 1, 0, -2)):
        widths = [(max(pads[0], 0), max(pads[2], 0)), (max(pads[1], 0), max(pads[3], 0))]
        kw = {"constant_values": value} if mode == "constant" else {}
        want = np.pad(x, widths, mode=mode, **kw)  # pyright: ignore[reportArgumentType, reportCallIssue]
        crop = [min(pads[0], 0), min(pads[1], 0)], [min(pads[2], 0), min(pads[3], 0)]
        want = want[
            -crop[0][0] : want.shape[0] + crop[1][0], -crop[0][1] : want.shape[1] + crop[1][1]
        ]
        _check(module, exe, {"x": x, "pads": np.array(pads, np.int64), "value": value}, [want])


def test_pad_of_run_time_axes(tmp_path: Path):
    from onnx import TensorProto, helper

    node = helper.make_node("Pad", ["x", "pads", "", "axes"], ["y"], mode="edge")
    module = _model(
        tmp_path,
        node,
        [
            helper.make_tensor_value_info("x", TensorProto.INT32, [2, 1, 3]),
            helper.make_tensor_value_info("pads", TensorProto.INT64, [4]),
            helper.make_tensor_value_info("axes", TensorProto.INT32, [2]),
        ],
        ["y"],
        18,
    )
    exe = compile(module, opt=1, cache=False)
    x = np.arange(6, dtype=np.int32).reshape(2, 1, 3)
    for axes, pads in (((0, -1), (1, 0, 2, 3)), ((1, 0), (2, 0, 1, 1))):
        widths = [(0, 0)] * 3
        for i, a in enumerate(axes):
            widths[a % 3] = (pads[i], pads[2 + i])
        want = np.pad(x, widths, mode="edge")
        inputs = {"x": x, "pads": np.array(pads, np.int64), "axes": np.array(axes, np.int32)}
        _check(module, exe, inputs, [want])


@pytest.mark.parametrize(
    ("given", "attrs"),
    [
        ("scales", {"mode": "nearest", "nearest_mode": "round_prefer_ceil"}),
        # (the spatial axes only, in reverse order: a linear resize of four axes compiles slower)
        (
            "sizes",
            {"mode": "linear", "coordinate_transformation_mode": "align_corners", "axes": [3, 2]},
        ),
    ],
)
def test_resize_of_run_time_scales_or_sizes(tmp_path: Path, given: str, attrs: dict[str, Any]):
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    kind = TensorProto.FLOAT if given == "scales" else TensorProto.INT64
    count = len(attrs.get("axes", range(4)))
    node = helper.make_node(
        "Resize", ["x", "", *(["s"] if given == "scales" else ["", "s"])], ["y"], **attrs
    )
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4]),
        helper.make_tensor_value_info("s", kind, [count]),
    ]
    module = _model(tmp_path, node, inputs, ["y"], 18)
    exe = compile(module, opt=1, cache=False)
    graph = helper.make_graph([node], "r", inputs, [helper.make_tensor_value_info("y", 1, None)])
    reference = ReferenceEvaluator(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    )
    x = np.random.default_rng(1).standard_normal((1, 2, 3, 4)).astype(np.float32)
    # scales that give no whole size (0.6 x 4 = 2.4), and a channel axis resized too
    values = [(1, 1, 2, 0.6), (1, 2, 0.5, 1.75)] if given == "scales" else [(5, 3), (1, 1), (2, 7)]
    for v in values:
        s = np.array(v, np.float32 if given == "scales" else np.int64)
        want = reference.run(None, {"x": x, "s": s})[0]
        got, interpreted = exe(x, s), interpret(module, {"x": x, "s": s})
        assert got.shape == want.shape  # pyright: ignore[reportAttributeAccessIssue]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # pyright: ignore[reportArgumentType]
        np.testing.assert_allclose(interpreted, want, rtol=1e-5, atol=1e-6)  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize(
    "attrs",
    [
        # (one axis: the cubic weights compile slower; two, in reverse order, for linear)
        {"mode": "cubic", "antialias": 1, "exclude_outside": 1, "cubic_coeff_a": -0.5, "axes": [3]},
        {"mode": "linear", "antialias": 1, "coordinate_transformation_mode": "align_corners"},
    ],
)
def test_resize_weights_of_run_time_scales(tmp_path: Path, attrs: dict[str, Any]):
    """Cubic and antialiased Resize whose scales are an input: each axis' weights are built
    at run time (more taps when downsampling), against ONNX's reference within 1e-6."""
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    attrs = {"axes": [3, 2], **attrs}
    count = len(attrs["axes"])
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], **attrs)
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 3, 5]),
        helper.make_tensor_value_info("s", TensorProto.FLOAT, [count]),
    ]
    module = _model(tmp_path, node, inputs, ["y"], 18)
    exe = compile(module, opt=1, cache=False)
    graph = helper.make_graph([node], "r", inputs, [helper.make_tensor_value_info("y", 1, None)])
    reference = ReferenceEvaluator(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    )
    x = np.random.default_rng(3).standard_normal((1, 1, 3, 5)).astype(np.float32)
    for v in [(0.4, 1.0), (1.5, 0.7), (0.25, 2.0)]:  # (width's scale, height's)
        s = np.array(v[:count], np.float32)
        want = reference.run(None, {"x": x, "s": s})[0]
        for got in (exe(x, s), interpret(module, {"x": x, "s": s})):
            assert got.shape == want.shape  # pyright: ignore[reportAttributeAccessIssue]
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)  # pyright: ignore[reportArgumentType]


def test_tf_crop_and_resize_of_a_run_time_roi(tmp_path: Path):
    """A linear crop of the spatial axes whose roi is an input: positions from the roi at run
    time, the ones outside the input take extrapolation_value."""
    import onnx
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    node = helper.make_node(
        "Resize",
        ["x", "roi", "", "s"],
        ["y"],
        mode="linear",
        coordinate_transformation_mode="tf_crop_and_resize",
        extrapolation_value=-3.0,
        axes=[2, 3],
    )
    sizes = helper.make_tensor("s", TensorProto.INT64, [2], [3, 5])
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4]),
        helper.make_tensor_value_info("roi", TensorProto.FLOAT, [4]),
    ]
    graph = helper.make_graph(
        [node], "r", inputs, [helper.make_tensor_value_info("y", 1, None)], [sizes]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    module = load_program(path).module
    exe = compile(module, opt=1, cache=False)
    x = np.random.default_rng(2).standard_normal((1, 2, 4, 4)).astype(np.float32)
    for box in ((0.0, 0.0, 1.0, 1.0), (0.25, -0.5, 0.75, 1.25)):
        roi = np.array(box, np.float32)
        want = ReferenceEvaluator(model).run(None, {"x": x, "roi": roi})[0]
        got, interpreted = exe(x, roi), interpret(module, {"x": x, "roi": roi})
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # pyright: ignore[reportArgumentType]
        np.testing.assert_allclose(interpreted, want, rtol=1e-5, atol=1e-6)  # pyright: ignore[reportArgumentType]
        assert (got == -3.0).any() == (box[1] < 0)


def _expect_error(
    module: Any, exe: Any, inputs: dict[str, np.ndarray], native: str, interpreted: str
) -> None:  # noqa: ANN401
    with pytest.raises(RelayError, match=re.escape(native)):
        exe(*inputs.values())
    with pytest.raises(RelayError, match=re.escape(interpreted)):
        interpret(module, inputs)


OUTSIDE = ("'dyn.strided_slice': axis 0 reads outside the data", "slice of axis 0 out of bounds")


def test_cumsum_of_a_run_time_axis(tmp_path: Path):
    from onnx import TensorProto, helper

    node = helper.make_node("CumSum", ["x", "axis"], ["y"], reverse=1, exclusive=1)
    module = _model(
        tmp_path,
        node,
        [
            helper.make_tensor_value_info("x", TensorProto.INT32, [2, 3]),
            helper.make_tensor_value_info("axis", TensorProto.INT32, []),
        ],
        ["y"],
        14,
    )
    exe = compile(module, opt=1, cache=False)
    x = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    for axis in (0, 1, -1):
        flipped = np.flip(x, axis)
        want = np.flip(np.cumsum(flipped, axis, dtype=np.int32) - flipped, axis)
        _check(module, exe, {"x": x, "axis": np.array(axis, np.int32)}, [want])
    for axis in (2, -3):  # outside the data's axes
        _expect_error(module, exe, {"x": x, "axis": np.array(axis, np.int32)}, *OUTSIDE)


def test_dft_of_a_run_time_axis(tmp_path: Path):
    from onnx import TensorProto, helper

    # An inverse one-sided DFT of a real spectrum: along axis 1 (4 bins) 6 samples, along
    # axis 2 (3 bins) 4, so the result's dims are `?`; axis 0 (1 bin, no samples) is no
    # candidate.
    node = helper.make_node("DFT", ["x", "", "axis"], ["y"], inverse=1, onesided=1)
    module = _model(
        tmp_path,
        node,
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3, 1]),
            helper.make_tensor_value_info("axis", TensorProto.INT64, []),
        ],
        ["y"],
        20,
    )
    exe = compile(module, opt=1, cache=False)
    x = np.random.default_rng(2).standard_normal((1, 4, 3, 1)).astype(np.float32)
    for axis in (1, -2):
        inputs = {"x": x, "axis": np.array(axis, np.int64)}
        want = np.fft.irfft(x[..., 0], axis=axis % 4)[..., None]
        for got in (exe(*inputs.values()), interpret(module, inputs)):
            assert got.shape == want.shape  # pyright: ignore[reportAttributeAccessIssue]
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)  # pyright: ignore[reportArgumentType]
    for axis in (0, 3):  # no samples along axis 0; axis 3 holds the (real) value
        _expect_error(module, exe, {"x": x, "axis": np.array(axis, np.int64)}, *OUTSIDE)


def test_split_of_run_time_sizes(tmp_path: Path):
    from onnx import TensorProto, helper

    node = helper.make_node("Split", ["x", "split"], ["a", "b"], axis=1)
    module = _model(
        tmp_path,
        node,
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4]),
            helper.make_tensor_value_info("split", TensorProto.INT64, [2]),
        ],
        ["a", "b"],
        13,
    )
    exe = compile(module, opt=1, cache=False)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    for sizes in ((1, 3), (4, 0)):
        want = np.split(x, [sizes[0]], axis=1)
        _check(module, exe, {"x": x, "split": np.array(sizes, np.int64)}, want)
    # sizes that do not add up to 4: the reshape's element count
    _expect_error(
        module,
        exe,
        {"x": x, "split": np.array([1, 2], np.int64)},
        "'dyn.reshape'",
        "'dyn.reshape' failed at run time",
    )
    _expect_error(  # a negative size that adds up: the slice's bounds
        module,
        exe,
        {"x": x, "split": np.array([5, -1], np.int64)},
        "'dyn.strided_slice'",
        "'dyn.strided_slice' failed at run time",
    )


def test_split_into_num_outputs_of_a_symbolic_axis(tmp_path: Path):
    """Split's num_outputs over a `?` axis: parts of ceil(L / parts), the last what is left
    (ONNX's uneven split), sized at run time; parts that cannot add up to L are an error."""
    from onnx import TensorProto, helper

    node = helper.make_node("Split", ["x"], ["a", "b", "c"], axis=-1, num_outputs=3)
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, "L"])
    module = _model(tmp_path, node, [x_info], ["a", "b", "c"], 18)
    exe = compile(module, opt=1, cache=False)
    rng = np.random.default_rng(3)
    for length in (2, 3, 7, 8, 9):
        x = rng.standard_normal((2, length)).astype(np.float32)
        chunk = -(-length // 3)
        want = [x[:, :chunk], x[:, chunk : 2 * chunk], x[:, 2 * chunk :]]
        _check(module, exe, {"x": x}, want)
    node = helper.make_node("Split", ["x"], ["a", "b", "c", "d"], axis=1, num_outputs=4)
    module = _model(tmp_path, node, [x_info], ["a", "b", "c", "d"], 18)
    exe = compile(module, opt=1, cache=False)
    x = np.ones((2, 5), np.float32)  # parts of 2, 2, 1 and -1: the element count check
    _expect_error(module, exe, {"x": x}, "'dyn.reshape'", "'dyn.reshape' failed at run time")


def test_expand_to_a_shape_with_constant_parts_keeps_them_static(tmp_path: Path):
    """Expand to Concat(N, [2, 3]) (N read at run time): the constant sizes stay static,
    so what follows (a Split of axis 1, a Squeeze) imports as for static dims."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Constant", [], ["c"], value_ints=[2, 3]),
        helper.make_node("Concat", ["n", "c"], ["shape"], axis=0),
        helper.make_node("Expand", ["x", "shape"], ["y"]),
        helper.make_node("Split", ["y"], ["a", "b"], axis=1, num_outputs=2),
        helper.make_node("Squeeze", ["a"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes,
        "expand",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("n", TensorProto.INT64, [1]),
        ],
        [helper.make_tensor_value_info(k, 0, None) for k in ("y", "z")],
    )
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    module = load_program(path).module
    assert "-> tuple<tensor<?x2x3xf32>, tensor<?x3xf32>>" in str(module)
    exe = compile(module, opt=1, cache=False)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for n in (1, 4):
        y = np.broadcast_to(x, (n, 2, 3))
        _check(module, exe, {"x": x, "n": np.array([n], np.int64)}, [y, y[:, 0]])


def test_slice_and_squeeze_of_symbolic_axes(tmp_path: Path):
    """Constant Slice bounds on a `?` axis are clamped to its run-time size; a Squeeze
    naming a `?` axis checks that it is 1 at run time (dyn.reshape's element count)."""
    from onnx import TensorProto, helper

    info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "L"])
    starts, ends = helper.make_tensor("s", 7, [1], [1]), helper.make_tensor("e", 7, [1], [-1])
    node = helper.make_node("Slice", ["x", "s", "e"], ["y"])
    module = _with_constants(tmp_path, node, info, [starts, ends])
    exe = compile(module, opt=1, cache=False)
    rng = np.random.default_rng(4)
    for n in (1, 3, 5):
        x = rng.standard_normal((n, 2)).astype(np.float32)
        _check(module, exe, {"x": x}, [x[1:-1]])
    axes = helper.make_tensor("a", 7, [1], [0])
    node = helper.make_node("Squeeze", ["x", "a"], ["y"])
    module = _with_constants(tmp_path, node, info, [axes])
    exe = compile(module, opt=1, cache=False)
    x = rng.standard_normal((1, 4)).astype(np.float32)
    _check(module, exe, {"x": x}, [x[0]])
    x = rng.standard_normal((2, 4)).astype(np.float32)
    _expect_error(module, exe, {"x": x}, "'dyn.reshape'", "'dyn.reshape' failed at run time")


def _with_constants(tmp_path: Path, node: Any, info: Any, constants: list[Any]) -> Any:  # noqa: ANN401
    import onnx
    from onnx import helper

    graph = helper.make_graph(
        [node], "g", [info], [helper.make_tensor_value_info("y", 0, None)], constants
    )
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return load_program(path).module


@pytest.mark.parametrize(
    "name", ["test_affine_grid_2d_expanded", "test_affine_grid_2d_align_corners_expanded"]
)
def test_expanded_affine_grid_imports_from_its_inputs(name: str):
    """The expanded AffineGrid 2-d node tests, imported from their inputs' shapes alone (the
    size a run-time value, as `relay-run -i` gives it): an Expand to Concat(N, [2, 3]), a
    Split of a `?` axis into num_outputs parts, Squeezes and Slices of `?` dims."""
    import warnings

    from onnx.backend.test.case import node

    from relay_opt.frontends.onnx.importer import import_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        [case] = [c for c in node.collect_testcases(None) if c.name == name]
    inputs, outputs = case.data_sets[0]
    module = import_onnx(case.model, {"theta": [2, 2, 3], "size": [4]}).module
    exe = compile(module, opt=1, cache=False)
    for got in (exe(*inputs), interpret(module, list(inputs))):
        np.testing.assert_allclose(got, outputs[0], rtol=1e-5, atol=1e-5)  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize("reduction", ["none", "max"])
def test_scatter_elements_of_run_time_indices(tmp_path: Path, reduction: str):
    from onnx import TensorProto, helper

    node = helper.make_node(
        "ScatterElements", ["data", "indices", "updates"], ["y"], axis=1, reduction=reduction
    )
    module = _model(
        tmp_path,
        node,
        [
            helper.make_tensor_value_info("data", TensorProto.FLOAT, [3, 4]),
            helper.make_tensor_value_info("indices", TensorProto.INT64, [2, 3]),
            helper.make_tensor_value_info("updates", TensorProto.FLOAT, [2, 3]),
        ],
        ["y"],
        18,
    )
    exe = compile(module, opt=1, cache=False)
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    updates = np.array([[10, -20, 30], [-40, 50, 60]], np.float32)
    for idx in ([[0, -1, 0], [2, 1, 3]], [[3, 3, 3], [-4, 0, 1]]):
        indices = np.array(idx, np.int64)
        want = data.copy()
        for (i, j), u in np.ndenumerate(updates):  # the last duplicate wins, as ONNX's reference
            k = indices[i, j] % 4
            want[i, k] = u if reduction == "none" else max(want[i, k], u)
        _check(module, exe, {"data": data, "indices": indices, "updates": updates}, [want])
    for bad in (4, -5):
        indices = np.array([[0, 1, 2], [0, bad, 2]], np.int64)
        _expect_error(module, exe, {"data": data, "indices": indices, "updates": updates}, *OUTSIDE)


def test_scatter_nd_of_run_time_indices(tmp_path: Path):
    from onnx import TensorProto, helper

    node = helper.make_node("ScatterND", ["data", "indices", "updates"], ["y"], reduction="mul")
    module = _model(
        tmp_path,
        node,
        [
            helper.make_tensor_value_info("data", TensorProto.INT32, [3, 2, 2]),
            helper.make_tensor_value_info("indices", TensorProto.INT64, [3, 2]),
            helper.make_tensor_value_info("updates", TensorProto.INT32, [3, 2]),
        ],
        ["y"],
        18,
    )
    exe = compile(module, opt=1, cache=False)
    data = np.arange(12, dtype=np.int32).reshape(3, 2, 2) + 1
    updates = np.array([[2, 3], [5, 7], [-1, 2]], np.int32)
    indices = np.array([[0, 1], [-1, 0], [0, -1]], np.int64)  # the first and last meet
    want = data.copy()
    for k in range(3):
        want[tuple(indices[k])] *= updates[k]
    _check(module, exe, {"data": data, "indices": indices, "updates": updates}, [want])
    bad = np.array([[0, 1], [2, 2], [0, 0]], np.int64)  # (2, 2): axis 1 has 2 positions
    _expect_error(module, exe, {"data": data, "indices": bad, "updates": updates}, *OUTSIDE)


def test_compress_of_a_run_time_condition(tmp_path: Path):
    from onnx import TensorProto, helper

    node = helper.make_node("Compress", ["x", "condition"], ["y"], axis=0)
    module = _model(
        tmp_path,
        node,
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2]),
            helper.make_tensor_value_info("condition", TensorProto.BOOL, [4]),
        ],
        ["y"],
        11,
    )
    exe = compile(module, opt=1, cache=False)
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    # (the fourth entry is past the axis: it selects nothing)
    for condition in ([1, 0, 1, 1], [0, 0, 0, 1], [1, 1, 1, 0], [0, 1, 0, 0]):
        c = np.array(condition, bool)
        _check(module, exe, {"x": x, "condition": c}, [x[c[:3]]])


@pytest.mark.parametrize(
    ("op", "shapes", "attrs", "message"),
    [
        ("Trilu", ([3, 3], [2]), {}, "node 0 (Trilu): k must hold one value, got shape [2]"),
        ("TopK", ([3, 3], [1, 1]), {}, "node 0 (TopK): k must hold one value, got shape [1, 1]"),
        ("Pad", ([3, 3], [3]), {}, "node 0 (Pad): pads has shape [3], expected [4]"),
        ("Resize", ([1, 1, 2, 2], [3]), {}, "node 0 (Resize): scales has shape [3], expected [4]"),
        ("CumSum", ([3, 3], [2]), {}, "node 0 (CumSum): the axis must hold one value, not shape"),
        ("Split", ([4], [3]), {}, "node 0 (Split): split must hold one size per output (2)"),
    ],
)
def test_run_time_inputs_of_the_wrong_shape(
    tmp_path: Path,
    op: str,
    shapes: tuple[list[int], list[int]],
    attrs: dict[str, Any],
    message: str,
):
    from onnx import TensorProto, helper

    from relay_opt.diagnostics import LoadError

    inputs = ["x", "", "s"] if op == "Resize" else ["x", "s"]
    outputs = ["y", "i"] if op in ("TopK", "Split") else ["y"]
    kind = TensorProto.FLOAT if op == "Resize" else TensorProto.INT64
    node = helper.make_node(op, inputs, outputs, **attrs)
    with pytest.raises(LoadError, match=re.escape(message)):
        _model(
            tmp_path,
            node,
            [
                helper.make_tensor_value_info("x", TensorProto.FLOAT, shapes[0]),
                helper.make_tensor_value_info("s", kind, shapes[1]),
            ],
            outputs,
            18,
        )


def _i64(*v: int) -> np.ndarray:
    return np.array(v, np.int64)


_F = np.random.default_rng(2).standard_normal(64).astype(np.float32)

# (node, graph inputs (name, dtype, shape), opset, run-time values that work, values that are a
# run-time error and its message): one case per converter's run-time path.
RUN_TIME_SIZES: dict[str, tuple[Any, ...]] = {
    "HannWindow": (
        ("HannWindow", ["size"], {"periodic": 0}),
        [("size", "int64", [])],
        17,
        [{"size": np.array(2, np.int64)}, {"size": np.array(5, np.int64)}],
        {"size": np.array(-2, np.int64)},
        "a size of the new shape",
    ),
    "OneHot": (
        ("OneHot", ["i", "depth", "v"], {"axis": 0}),
        [("i", "int64", [2, 2]), ("depth", "float32", []), ("v", "float32", [2])],
        11,
        [
            {"i": _i64(0, -1, 2, 5).reshape(2, 2), "depth": np.array(d, np.float32), "v": _F[:2]}
            for d in (3, 6)
        ],
        {"i": _i64(0, 1, 2, 3).reshape(2, 2), "depth": np.array(-1, np.float32), "v": _F[:2]},
        "a size of the new shape",
    ),
    "CenterCropPad": (
        ("CenterCropPad", ["x", "shape"], {"axes": [0, -1]}),
        [("x", "float32", [3, 2, 4]), ("shape", "int64", [2])],
        18,
        [{"x": _F[:24].reshape(3, 2, 4), "shape": s} for s in (_i64(1, 7), _i64(6, 3))],
        {"x": _F[:24].reshape(3, 2, 4), "shape": _i64(2, -1)},
        "a size of the new shape",
    ),
    "MaxUnpool": (
        ("MaxUnpool", ["x", "idx", "shape"], {"kernel_shape": [2], "strides": [2]}),
        [("x", "float32", [1, 1, 2]), ("idx", "int64", [1, 1, 2]), ("shape", "int64", [3])],
        11,
        [
            {
                "x": _F[:2].reshape(1, 1, 2),
                "idx": _i64(1, 2).reshape(1, 1, 2),
                "shape": _i64(1, 1, k),
            }
            for k in (4, 7)
        ],
        {"x": _F[:2].reshape(1, 1, 2), "idx": _i64(1, 2).reshape(1, 1, 2), "shape": _i64(1, 1, 3)},
        "a size of the new shape",
    ),
    "AffineGrid": (
        ("AffineGrid", ["theta", "size"], {"align_corners": 1}),
        [("theta", "float32", [2, 2, 3]), ("size", "int64", [4])],
        20,
        [
            {"theta": _F[:12].reshape(2, 2, 3), "size": _i64(2, 1, h, w)}
            for h, w in ((1, 3), (4, 2))
        ],
        {"theta": _F[:12].reshape(2, 2, 3), "size": _i64(3, 1, 2, 2)},
        "element count",
    ),
    "Col2Im": (
        ("Col2Im", ["x", "image", "block"], {"strides": [1, 2], "pads": [0, 1, 0, 1]}),
        [("x", "float32", [1, 4, 6]), ("image", "int64", [2]), ("block", "int64", [2])],
        18,
        # blocks (2, 3) of 2x2, or (3, 2) of 1x2 (2 channels): 6 columns either way
        [
            {"x": _F[:24].reshape(1, 4, 6), "image": i, "block": b}
            for i, b in ((_i64(3, 5), _i64(2, 2)), (_i64(3, 3), _i64(1, 2)))
        ],
        {"x": _F[:24].reshape(1, 4, 6), "image": _i64(4, 5), "block": _i64(2, 2)},
        "element count",
    ),
    "STFT": (
        ("STFT", ["signal", "step", "", "length"], {"onesided": 1}),
        [("signal", "float32", [1, 12, 2]), ("step", "int64", []), ("length", "int64", [])],
        17,
        [
            {
                "signal": _F[:24].reshape(1, 12, 2),
                "step": np.array(s, np.int64),
                "length": np.array(f, np.int64),
            }
            for s, f in ((3, 4), (5, 12))
        ],
        {
            "signal": _F[:24].reshape(1, 12, 2),
            "step": np.array(0, np.int64),
            "length": np.array(4, np.int64),
        },
        "the step is 0",
    ),
}


@pytest.mark.parametrize("op", sorted(RUN_TIME_SIZES))
def test_output_sizes_read_at_run_time(tmp_path: Path, op: str):
    """The model imports from its input shapes alone, compiles once, and matches ONNX's
    reference evaluator at several values of its size input, natively and interpreted; a
    bad size is a located run-time error in both."""
    from onnx import helper
    from onnx.helper import np_dtype_to_tensor_dtype
    from onnx.reference import ReferenceEvaluator

    (name, ins, attrs), specs, opset, good, bad, message = RUN_TIME_SIZES[op]
    node = helper.make_node(name, ins, ["y"], **attrs)
    inputs = [
        helper.make_tensor_value_info(v, np_dtype_to_tensor_dtype(np.dtype(t)), s)
        for v, t, s in specs
    ]
    module = _model(tmp_path, node, inputs, ["y"], opset)
    exe = compile(module, opt=1, cache=False)
    graph = helper.make_graph([node], "r", inputs, [helper.make_tensor_value_info("y", 0, None)])
    reference = ReferenceEvaluator(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    )
    for values in good:
        with np.errstate(divide="ignore"):  # ONNX's AffineGrid divides by a size - 1 of 0
            want = reference.run(None, values)[0]
        for got in (exe(*values.values()), interpret(module, values)):
            assert got.shape == want.shape and got.dtype == want.dtype  # pyright: ignore
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)  # pyright: ignore
    with pytest.raises(RelayError, match=message):
        exe(*bad.values())
    with pytest.raises(RelayError, match="failed at run time"):
        interpret(module, bad)


# A Loop's scan output whose length is its run-time trip count (and condition); an If whose
# branches give tensors of different sizes (its result's dim 0 is `?`).
CONTROL_FLOW = {
    "loop": (
        """
        <ir_version: 8, opset_import: ["" : 13]>
        g (int64 n, bool c, float[2] y) => (float[2] last, float[?,2] all) {
          last, all = Loop (n, c, y) <body = b (int64 i, bool c_in, float[2] y_in)
              => (bool c_out, float[2] y_out, float[2] s) {
            c_out = Identity (c_in)
            f = Cast <to = 1> (i)
            y_out = Add (y_in, f)
            s = Mul (y_out, y_out)
          }>
        }""",
        [(3, True), (0, True), (2, False), (-1, True)],
    ),
    "if": (
        """
        <ir_version: 8, opset_import: ["" : 11]>
        g (int64 n, bool c, float[2] y) => (float[?,2] out) {
          out = If (c) <
            then_branch = t () => (float[1,2] a) { a = Unsqueeze <axes = [0]> (y) },
            else_branch = e () => (float[3,2] b) { a1 = Unsqueeze <axes = [0]> (y)
                                                   b = Concat <axis = 0> (a1, a1, a1) }
          >
        }""",
        [(0, True), (0, False)],
    ),
}


@pytest.mark.parametrize("name", sorted(CONTROL_FLOW))
def test_control_flow_sized_at_run_time(tmp_path: Path, name: str):
    """Compiled once from the input shapes, natively and interpreted against ONNX's reference
    at each trip count and condition."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    text, runs = CONTROL_FLOW[name]
    model = onnx.parser.parse_model(text)
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    module = load_program(path).module
    exe = compile(module, opt=1, cache=False)
    y = np.array([0.5, -1.0], np.float32)
    for n, c in runs:
        values = {"n": np.array(n, np.int64), "c": np.array(c), "y": y}
        if name == "loop" and (n <= 0 or not c):  # (the reference stacks no iteration)
            want = [y, np.zeros((0, 2), np.float32)]
        else:
            want = ReferenceEvaluator(model).run(None, values)
        _check(module, exe, values, want)  # pyright: ignore[reportArgumentType]


def test_gather_elements_over_run_time_sizes(tmp_path: Path):
    """GatherElements whose indices have a symbolic (`?`) dim: the flat positions come from
    the sizes read at run time; negative indices count from the axis' end."""
    import onnx

    model = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[N,4] x, int64[M,2] i) => (float[M,2] y) {
          y = GatherElements <axis = 1> (x, i)
        }""")
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    module = load_program(path).module
    exe = compile(module, opt=1, cache=False)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    for i in (np.array([[0, 3], [-1, 1]]), np.array([[2, 2], [0, -4], [3, 1]])):
        values = {"x": x, "i": i}
        _check(module, exe, values, [np.take_along_axis(x[: len(i)], i % 4, axis=1)])
