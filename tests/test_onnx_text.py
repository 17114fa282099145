"""frontends/onnx/text.py: TfIdfVectorizer against ONNX's reference implementation, compiled
and interpreted (ONNX's node tests cover bigrams only, in TF mode, without weights)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from relay_opt.frontends.onnx import OnnxUnsupportedError, import_onnx
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

# Unigrams 1, 2, 9; bigrams (1, 2), (2, 1), (1, 2) again; trigrams (1, 2, 1), (3, 3, 3).
POOL = dict(
    pool_int64s=[1, 2, 9, 1, 2, 2, 1, 1, 2, 1, 2, 1, 3, 3, 3],
    ngram_counts=[0, 3, 9],
    ngram_indexes=[0, 1, 2, 3, 4, 5, 6, 2],  # two n-grams share column 2
)


def _model(x_type: int, shape: list[int], **attrs: object) -> onnx.ModelProto:
    node = helper.make_node("TfIdfVectorizer", ["x"], ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", x_type, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])


# The modes differ only after counting, so one case is compiled (a short one: compile time
# grows with the (length, skip) pairs), every one interpreted.
@pytest.mark.parametrize(
    ("mode", "low", "high", "skip", "dtype", "shape", "weights", "native"),
    [
        ("TFIDF", 1, 2, 1, np.int32, [2, 9], [0.5, 1, 2, 3, 4, 5, 6], True),
        # uni-, bi- and trigrams (a repeated bigram), skips up to 2
        ("IDF", 2, 3, 2, np.int64, [9], [0.5, 1, 2, 3, 4, 5, 6], False),
        ("TF", 1, 3, 2, np.int64, [3, 7], None, False),
    ],
)
def test_tfidf_vectorizer_matches_onnx_reference(
    mode: str,
    low: int,
    high: int,
    skip: int,
    dtype: type,
    shape: list[int],
    weights: list[float] | None,
    native: bool,
) -> None:
    extra = {} if weights is None else {"weights": weights}
    x_type = TensorProto.INT32 if dtype is np.int32 else TensorProto.INT64
    model = _model(
        x_type,
        shape,
        mode=mode,
        min_gram_length=low,
        max_gram_length=high,
        max_skip_count=skip,
        **POOL,
        **extra,
    )
    x = np.random.default_rng(3).integers(0, 4, size=shape).astype(dtype)
    x.reshape(-1)[:4] = [1, 2, 1, 2]  # every kind of n-gram occurs at least once
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    assert np.count_nonzero(want) > 2
    module = import_onnx(model).module
    np.testing.assert_array_equal(interpret(module, [x]), want)
    if native:
        np.testing.assert_array_equal(compile(module)(x), want)


def test_tfidf_vectorizer_string_pool_is_unsupported_by_name() -> None:
    model = _model(
        TensorProto.INT64,
        [4],
        mode="TF",
        min_gram_length=1,
        max_gram_length=1,
        max_skip_count=0,
        pool_strings=["a", "b"],
        ngram_counts=[0],
        ngram_indexes=[0, 1],
    )
    with pytest.raises(OnnxUnsupportedError, match="node 0 .*pool_strings"):
        import_onnx(model)
