"""frontends/onnx/text.py: TfIdfVectorizer against ONNX's reference implementation, compiled
and interpreted (ONNX's node tests cover bigrams only, in TF mode, without weights)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from relay_opt.frontends.onnx import OnnxImportError, import_onnx
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


# Unigrams cat, sat, mat; bigrams (cat, sat), (sat, cat); trigrams (cat, sat, cat),
# (on, on, on); two share column 2 (onnxruntime refuses a repeated n-gram).
WORDS = ["cat", "sat", "on", "mat"]
STRING_POOL = dict(
    pool_strings=["cat", "sat", "mat", "cat", "sat", "sat", "cat"]
    + ["cat", "sat", "cat", "on", "on", "on"],
    ngram_counts=[0, 3, 7],
    ngram_indexes=[0, 1, 2, 3, 4, 5, 2],
)


@pytest.mark.parametrize(
    ("mode", "low", "high", "skip", "shape"),
    [("TFIDF", 1, 2, 1, [2, 9]), ("TF", 1, 3, 2, [11]), ("IDF", 2, 3, 0, [3, 7])],
)
def test_tfidf_vectorizer_string_pool_matches_onnxruntime(
    mode: str, low: int, high: int, skip: int, shape: list[int]
) -> None:
    """pool_strings: string tokens numbered through strings.label_encode (a token outside
    the pool, "the" or "dog", matches nothing), then the integer path; interpreted (string
    tensors run in the interpreter)."""
    ort = pytest.importorskip("onnxruntime")
    model = _model(
        TensorProto.STRING,
        shape,
        mode=mode,
        min_gram_length=low,
        max_gram_length=high,
        max_skip_count=skip,
        weights=[0.5, 1, 2, 3, 4, 5, 6],  # (onnxruntime wants one per ngram_indexes entry)
        **STRING_POOL,
    )
    words = np.array(["the", *WORDS, "dog"], object)
    x = words[np.random.default_rng(5).integers(0, len(words), size=shape)]
    x.reshape(-1)[:4] = ["cat", "sat", "cat", "sat"]  # every kind of n-gram occurs
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"x": x})
    assert np.count_nonzero(want) > 2
    np.testing.assert_array_equal(ReferenceEvaluator(model).run(None, {"x": x})[0], want)
    got = interpret(import_onnx(model).module, [x])
    np.testing.assert_array_equal(got, want)


def test_tfidf_vectorizer_pool_and_token_kinds_must_agree() -> None:
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
    with pytest.raises(
        OnnxImportError, match="node 0 .*pool_strings needs string tokens, not int64"
    ):
        import_onnx(model)
