"""ONNX's own conformance suite against relay-opt, the way ONNX backends are tested.

`onnx.backend.test.BackendTest` turns every node test the installed `onnx`
generates (one operator, its inputs and expected outputs) and the nine "light"
real models (onnx/backend/test/data/light) into unittest cases, run here by
pytest through relay-opt's `Backend` (import -> -O3 -> native code). A test
whose operator, attribute or dtype relay-opt does not implement is reported
as skipped with the node and operator named; `pytest -rs` lists them and the
summary line gives the pass count.

Known failures are listed below with the reason, so that a regression in
anything else fails the suite.
"""

from __future__ import annotations

import warnings

import onnx.backend.test

from relay_opt.runtime.onnx_backend import RelayOptBackend

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the test generators' own numpy overflow warnings
    backend_test = onnx.backend.test.BackendTest(RelayOptBackend, __name__)


# Node tests that run but disagree with ONNX, with the reason; each is a known gap.
FP16_ULPS = (
    "float16 attention, 1-2 fp16 ulps from ONNX's reference where rtol 1e-3 is about one ulp "
    "(the reference interpreter is 1 ulp off too: rounding order of the expanded graph)"
)
INVERSE_DFT_NOISE = (
    "ONNX's expected output carries its float32 FFT's rounding noise (1.9e-7) in imaginary "
    "parts that are exactly 0 (ours: 3e-15), above the test's atol of 1e-7"
)
RANDOM_VALUES = (
    "the expected values are draws of numpy's global generator, which no other generator "
    "reproduces; relay-opt's are deterministic per seed and call (tests/test_onnx_sampling.py checks "
    "their distribution)"
)
ZERO_D_ELEMENT = (
    "ONNX's runner compares a sequence element by element with len(), which its first element, "
    "0-d, has not: a TypeError for any backend (tests/test_onnx_sequences.py compares the "
    "same outputs element by element)"
)
KNOWN_FAILURES: dict[str, str] = {
    "test_loop16_seq_none_cpu": ZERO_D_ELEMENT,
    "test_training_dropout_cpu": RANDOM_VALUES,
    "test_training_dropout_default_cpu": RANDOM_VALUES,
    "test_training_dropout_default_mask_cpu": RANDOM_VALUES,
    "test_training_dropout_mask_cpu": RANDOM_VALUES,
    "test_dft_inverse_cpu": INVERSE_DFT_NOISE,
    "test_dft_inverse_opset19_cpu": INVERSE_DFT_NOISE,
    "test_attention_4d_causal_fp16_expanded_cpu": FP16_ULPS,
    "test_attention_4d_fp16_expanded_cpu": FP16_ULPS,
    "test_attention_4d_gqa_with_past_and_present_fp16_expanded_cpu": FP16_ULPS,
    **{
        f"test_bernoulli{kind}{expanded}_cpu": RANDOM_VALUES
        for kind in ("", "_double", "_seed")
        for expanded in ("", "_expanded")
    },
}
for pattern in KNOWN_FAILURES:
    backend_test.xfail(pattern)


# onnx makes a CPU and a CUDA variant of every test; relay-opt compiles for the host CPU
# only, so the CUDA ones (half of them, each a skip) are never generated.
def _cpu_only(cases: dict[str, type]) -> dict[str, type]:
    for case in cases.values():
        for name in [n for n in vars(case) if n.endswith("_cuda")]:
            delattr(case, name)
    return cases


globals().update(_cpu_only(backend_test.test_cases))
