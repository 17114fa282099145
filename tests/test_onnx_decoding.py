"""TensorScatter, CausalConvWithState and LinearAttention (frontends/onnx/decoding.py) on the
paths ONNX's node tests leave out: write indices read at run time, a cache view with axes on
both sides of the sequence, LinearAttention's loop over a long sequence; compiled and
interpreted against ONNX's reference evaluator."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from relay_opt.frontends.onnx import OnnxImportError, decoding, import_onnx
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile


def _model(node: onnx.NodeProto, inputs: dict[str, np.ndarray]) -> onnx.ModelProto:
    types = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64}
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(k, types[v.dtype], v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in node.output],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 27)])


def _check(node: onnx.NodeProto, feeds: dict[str, np.ndarray], rtol: float = 1e-6) -> None:
    model = _model(node, feeds)
    expected = ReferenceEvaluator(model).run(None, feeds)
    imported = import_onnx(model)
    args = [feeds[name] for name in imported.input_names]
    for got in (compile(imported.module)(*args), interpret(imported.module, args)):
        got = list(got) if isinstance(got, tuple) else [got]
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("mode", ["linear", "circular"])
def test_tensor_scatter_at_run_time_write_indices(mode: str):
    # (B, H, max_seq, D) with axis 2: heads before the sequence, features after; circular
    # rows wrap past the end, and a negative index wraps too
    rng = np.random.default_rng(0)
    past = rng.standard_normal((3, 2, 5, 3)).astype(np.float32)
    update = rng.standard_normal((3, 2, 2, 3)).astype(np.float32)
    w = np.array([0, 3, 4] if mode == "linear" else [4, -1, 7], np.int64)
    node = helper.make_node("TensorScatter", ["past", "update", "w"], ["y"], axis=2, mode=mode)
    if mode == "linear":  # ONNX's reference cannot write past the end: its last row is dropped
        expected = past.copy()
        for b, start in enumerate(w):
            rows = min(2, 5 - start)
            expected[b, :, start : start + rows] = update[b, :, :rows]
        imported = import_onnx(_model(node, {"past": past, "update": update, "w": w}))
        got = compile(imported.module)(past, update, w)
        np.testing.assert_array_equal(got, expected)
        w = np.array([0, 3, 2], np.int64)
    _check(node, {"past": past, "update": update, "w": w})


def test_tensor_scatter_update_longer_than_the_cache_is_a_located_error():
    node = helper.make_node("TensorScatter", ["past", "update"], ["y"], name="kv")
    feeds = {"past": np.zeros((1, 2, 3), np.float32), "update": np.zeros((1, 4, 3), np.float32)}
    with pytest.raises(OnnxImportError, match=r"node 0 'kv' \(TensorScatter\): update \[1, 4, 3\]"):
        import_onnx(_model(node, feeds))


def test_linear_attention_over_a_long_sequence_is_a_loop(monkeypatch: pytest.MonkeyPatch):
    # gated_delta with grouped-query heads (2 query heads per kv head) and a past state; the
    # loop taken from 3 steps on here, not from UNROLL_STEPS + 1 (a smaller program to compile)
    monkeypatch.setattr(decoding, "UNROLL_STEPS", 2)
    b, t, hq, hk, dk, dv = 1, 3, 2, 1, 2, 3
    rng = np.random.default_rng(1)

    def r(*shape: int, s: float = 0.5) -> np.ndarray:
        return (rng.standard_normal(shape) * s).astype(np.float32)

    key = r(b, t, hk * dk)
    key /= np.linalg.norm(key, axis=-1, keepdims=True)
    feeds = {
        "q": r(b, t, hq * dk),
        "k": key,
        "v": r(b, t, hk * dv),
        "past": r(b, hk, dk, dv),
        "decay": -np.abs(r(b, t, hk)),
        "beta": np.abs(r(b, t, hk)),
    }
    node = helper.make_node(
        "LinearAttention",
        list(feeds),
        ["y", "state"],
        q_num_heads=hq,
        kv_num_heads=hk,
    )
    model = _model(node, feeds)
    assert any(f.sym_name.data.startswith("onnx_linear_attention") for f in import_onnx(model).module.ops)  # fmt: skip
    _check(node, feeds, rtol=1e-5)
