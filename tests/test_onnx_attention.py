"""frontends/onnx/attention.py: ONNX Attention compiled to native code against onnx's reference
evaluator on random inputs (tests/test_onnx_backend.py runs ONNX's own node tests of it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from relay_opt.frontends.onnx import import_onnx
from relay_opt.runtime.jit import compile


def _attention_model(
    inputs: dict[str, np.ndarray], outputs: list[str], **attrs: Any
) -> onnx.ModelProto:
    names = ["Q", "K", "V", "attn_mask", "past_key", "past_value"]
    operands = [n if n in inputs else "" for n in names]
    node = helper.make_node("Attention", operands, outputs, **attrs)
    while node.input and not node.input[-1]:
        node.input.pop()
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
            for k, v in inputs.items()
        ],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs if o],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.checker.check_model(model)
    return model


CASES = {
    # 4-d, 6 query heads on 2 kv heads, a 3-step cache: the causal frontier is offset by the past.
    "4d_causal_gqa_past": (
        {
            "Q": (2, 6, 4, 8),
            "K": (2, 2, 4, 8),
            "V": (2, 2, 4, 5),
            "past_key": (2, 2, 3, 8),
            "past_value": (2, 2, 3, 5),
        },
        ["Y", "present_key", "present_value"],
        {"is_causal": 1},
    ),
    # 3-d with head counts, multi-query (one kv head), a bool mask shorter than the keys,
    # softcap, and the post-softmax probabilities as the fourth output.
    "3d_causal_mqa_mask_softcap": (
        {"Q": (1, 5, 4 * 6), "K": (1, 5, 6), "V": (1, 5, 6), "attn_mask": (5, 4)},
        ["Y", "", "", "qk_matmul_output"],
        {
            "is_causal": 1,
            "q_num_heads": 4,
            "kv_num_heads": 1,
            "softcap": 2.0,
            "qk_matmul_output_mode": 3,
        },
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_attention_matches_onnx_reference(case: str, seed: int):
    shapes, outputs, attrs = CASES[case]
    rng = np.random.default_rng(seed)
    feeds = {
        name: rng.random(shape) > 0.3
        if name == "attn_mask"
        else rng.standard_normal(shape).astype(np.float32)
        for name, shape in shapes.items()
    }
    model = _attention_model(feeds, outputs, **attrs)
    expected = ReferenceEvaluator(model).run(None, feeds)
    imported = import_onnx(model)
    got = compile(imported.module)(*(feeds[n] for n in imported.input_names))
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
