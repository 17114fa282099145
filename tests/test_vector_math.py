"""expand-math's exp, log, tanh, sigmoid and erf, compiled, against float64 references.

The bounds are the maximum ulp errors measured (every float32 with |x| in [2^-30, 128), every
16th bit pattern elsewhere; benchmarks/vector_math.py --exhaustive does all 2^32) plus about
half an ulp of margin; here a sample: random bit patterns
(every exponent), a dense sample of each function's interesting range, and the special values
and edges, which must also come out exactly right.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.runtime.jit import compile, llvm_ir, lower_to_llvm, optimize


def erf64(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


# name -> (float64 reference, max ulp allowed, dense range)
FUNCTIONS = {
    "exp": (np.exp, 1.5, (-104.0, 89.0)),
    "log": (np.log, 1.5, (1e-3, 4.0)),
    "tanh": (np.tanh, 2.0, (-10.0, 10.0)),
    "sigmoid": (lambda x: 1.0 / (1.0 + np.exp(-x)), 3.0, (-110.0, 20.0)),
    "erf": (erf64, 2.0, (-4.5, 4.5)),
}

INF, NAN = np.inf, np.nan
TINY = 1e-45  # the smallest denormal
MAX = 3.4028235e38
# (x, exact result) for each function: zeros with their sign, infinities, nan, denormals,
# the largest finite value, the overflow and underflow edges and the saturation points.
SPECIAL = {
    "exp": [
        (0.0, 1.0),
        (-0.0, 1.0),
        (INF, INF),
        (-INF, 0.0),
        (NAN, NAN),
        (TINY, 1.0),
        (-TINY, 1.0),
        (MAX, INF),
        (-MAX, 0.0),
        (88.72283, 3.4027985e38),  # the largest x with a finite result
        (88.72284, INF),  # the smallest that overflows
        (-87.33654, 1.1754997e-38),  # near the smallest normal result
        (-103.27893, 1.4e-45),  # the smallest denormal
        (-103.97209, 0.0),  # rounds to 0
    ],
    "log": [
        (0.0, -INF),
        (-0.0, -INF),
        (INF, INF),
        (-INF, NAN),
        (NAN, NAN),
        (-1.0, NAN),
        (-TINY, NAN),
        (1.0, 0.0),
        (TINY, -103.27893),
        (1.1754942e-38, -87.33655),  # the largest denormal
        (MAX, 88.72284),
    ],
    "tanh": [
        (0.0, 0.0),
        (-0.0, -0.0),
        (INF, 1.0),
        (-INF, -1.0),
        (NAN, NAN),
        (TINY, TINY),
        (-TINY, -TINY),
        (MAX, 1.0),
        (-MAX, -1.0),
        (9.01092, 1.0),  # saturates
        (-9.01092, -1.0),
    ],
    "sigmoid": [
        (0.0, 0.5),
        (-0.0, 0.5),
        (INF, 1.0),
        (-INF, 0.0),
        (NAN, NAN),
        (MAX, 1.0),
        (-MAX, 0.0),
        (17.32868, 1.0),
        (-100.0, 3.8e-44),  # denormal, where 1 / (1 + exp(100)) is 1 / inf = 0
        (-103.97209, 0.0),
    ],
    "erf": [
        (0.0, 0.0),
        (-0.0, -0.0),
        (INF, 1.0),
        (-INF, -1.0),
        (NAN, NAN),
        (TINY, TINY),
        (-TINY, -TINY),
        (MAX, 1.0),
        (-MAX, -1.0),
        (3.92, 1.0),
        (-3.92, -1.0),
    ],
}


def ulp_error(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|y - ref| in float32 ulps of the rounded reference (2^-149 at least); 0 where equal."""
    with np.errstate(all="ignore"):
        y64 = y.astype(np.float64)
        r32 = ref.astype(np.float32)
        spacing = np.maximum(np.spacing(np.abs(r32)).astype(np.float64), 2.0**-149)
        same = (y64 == ref) | (np.isnan(y64) & np.isnan(ref)) | (y == r32)
        err = np.where(same, 0.0, np.abs(y64 - ref) / spacing)
    return np.nan_to_num(err, nan=np.inf, posinf=np.inf)


def program(name: str, n: int, dtype: str = "float32") -> str:
    return f"""#[version = "0.0.5"]
def @main(%x: Tensor[({n}), {dtype}]) {{ {name}(%x) }}"""


N = 1 << 17


@pytest.fixture(scope="module", params=list(FUNCTIONS))
def compiled(request):  # noqa: ANN001, ANN201
    name = request.param
    return name, compile(load_program(program(name, N), "relay").module)


def test_ulp_error_within_bound(compiled) -> None:  # noqa: ANN001
    name, f = compiled
    reference, bound, (lo, hi) = FUNCTIONS[name]
    rng = np.random.default_rng(11)
    random_bits = rng.integers(0, 1 << 32, N, dtype=np.uint64).astype(np.uint32).view(np.float32)
    dense = rng.uniform(lo, hi, N).astype(np.float32)
    for x in (random_bits, dense):
        y = np.asarray(f(x))
        with np.errstate(all="ignore"):
            err = ulp_error(y, reference(x.astype(np.float64)))
        worst = int(np.argmax(err))
        assert err[worst] <= bound, f"{name}({x[worst]!r}) = {y[worst]!r}: {err[worst]} ulp"


def test_special_values(compiled) -> None:  # noqa: ANN001
    name, f = compiled
    xs, expected = (np.array(v, np.float32) for v in zip(*SPECIAL[name], strict=True))
    x = np.resize(xs, N)
    y = np.asarray(f(x))[: len(xs)]
    for xi, yi, ei in zip(xs, y, expected, strict=True):
        if np.isnan(ei):
            assert np.isnan(yi), f"{name}({xi}) = {yi}, not nan"
        else:
            assert yi == ei and np.signbit(yi) == np.signbit(ei), (
                f"{name}({xi}) = {yi!r}, not {ei!r}"
            )


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "log", "erf"])
def test_vectorized_without_calls(name: str) -> None:
    """The optimized LLVM IR of the elementwise loop is vector code with no libm call."""
    lowered = lower_to_llvm(load_program(program(name, 1024), "relay").module)
    ir = str(optimize(llvm_ir(lowered)))
    assert "x float>" in ir
    for call in ("@expf", "@tanhf", "@erff", "@logf", "llvm.exp.", "llvm.log."):
        assert call not in ir, call


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
def test_float16_within_one_half_ulp(name: str) -> None:
    """f16 is computed in f32 and rounded once more: at most one f16 ulp off."""
    f = compile(load_program(program(name, 1 << 16, "float16"), "relay").module)
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    y = np.asarray(f(x))
    with np.errstate(all="ignore"):
        ref = FUNCTIONS[name][0](x.astype(np.float64)).astype(np.float16)
        ok = (y == ref) | (np.isnan(y) & np.isnan(ref))
        ulps = np.abs(y.astype(np.float64) - ref) / np.spacing(np.abs(ref)).astype(np.float64)
    assert np.all(ok | (ulps <= 1.0)), x[~(ok | (ulps <= 1.0))][:5]


AVX2 = "+avx,+avx2,+fma,+f16c,+sse4.2,-avx512f,-avx512vl"
AVX512 = "+avx,+avx2,+fma,+f16c,+sse4.2,+avx512f,+avx512vl,+avx512bw,+avx512dq"


def test_llvm_features_changed_only_for_avx512() -> None:
    """An AVX2 host's target machine gets its features as they were; an AVX-512 one loses
    LLVM's 256-bit preference."""
    from relay_opt.lowering.kernels.target import llvm_features

    assert llvm_features(AVX2) == AVX2
    assert llvm_features("") == ""
    assert llvm_features(AVX512) == AVX512 + ",-prefer-256-bit"


@pytest.mark.parametrize(
    ("cpu", "features", "bits"),
    [("znver3", AVX2, 256), ("icelake-server", AVX512, 512), ("rocketlake", AVX512, 512)],
)
def test_vector_width_follows_the_cpu(
    cpu: str, features: str, bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exp loop, lowered for such a host, is compiled for its widest vectors: AVX2 ymm with
    integer scaling, AVX-512 zmm (which LLVM's tuning for these Intel CPUs would otherwise not
    use) scaling with vscalefps; never a call."""
    from relay_opt.lowering.kernels import target
    from relay_opt.runtime.jit import _llvm, _run_pipeline

    llvm = _llvm()  # initialized for this host (an x86 one)

    monkeypatch.setattr(target, "_host", lambda: target.Target(vector_bits=bits))
    lowered = lower_to_llvm(load_program(program("exp", 4096), "relay").module)

    def assembly(feature_string: str) -> str:
        tm = llvm.Target.from_default_triple().create_target_machine(
            cpu=cpu, features=feature_string, opt=3
        )
        mod = llvm.parse_assembly(llvm_ir(lowered))
        mod.triple, mod.data_layout = tm.triple, str(tm.target_data)
        _run_pipeline(mod, tm, 3)
        return tm.emit_assembly(mod)

    tuned = assembly(target.llvm_features(features))
    assert "vfmadd" in tuned and "call" not in tuned  # 4096 elements: no parallel region
    if bits == 512:
        assert "%zmm" in tuned and "vscalefps\t%zmm" in tuned
        assert "%zmm" not in assembly(features)  # LLVM's own choice: 256 bits
    else:
        assert "%ymm" in tuned and "%zmm" not in tuned and "vscalef" not in tuned


@pytest.mark.parametrize(
    ("cpu", "features", "bits"), [("znver3", AVX2, 256), ("rocketlake", AVX512, 512)]
)
def test_tanh_by_intervals_on_avx512(
    cpu: str, features: str, bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tanh lowered for an AVX-512 host: the vectorized loop picks its polynomial's
    coefficients with vpermi2ps/vpermt2ps (the 16-lane variant, inlined), with neither a call
    nor a division; for AVX2 it is the exp-based expansion with its division."""
    from relay_opt.lowering.kernels import target
    from relay_opt.runtime.jit import _llvm, _run_pipeline

    llvm = _llvm()
    monkeypatch.setattr(target, "_host", lambda: target.Target(vector_bits=bits))
    lowered = lower_to_llvm(load_program(program("tanh", 4096), "relay").module)
    tm = llvm.Target.from_default_triple().create_target_machine(
        cpu=cpu, features=target.llvm_features(features), opt=3
    )
    mod = llvm.parse_assembly(llvm_ir(lowered))
    mod.triple, mod.data_layout = tm.triple, str(tm.target_data)
    _run_pipeline(mod, tm, 3)
    main = tm.emit_assembly(mod).partition("main:")[2].partition(".Lfunc_end")[0]
    assert "call" not in main
    if bits == 512:
        assert "vperm" in main and "%zmm" in main and "vdivps" not in main
    else:
        assert "vperm" not in main and "vdivps\t%ymm" in main


def test_prefetched_loop_gives_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    """exp over 70001 float32 (547 KiB streamed, above parallelize-loops' prefetch-bytes):
    the loop blocked by cache lines with its prefetches gives bit for bit what the plain loop
    gives, on one thread and on two (whose chunks end inside a block: the remainder loop).
    exp, not tanh: on AVX-512 tanh's vector lanes take a 16-lane routine and a loop's scalar
    remainder another expansion, 1 ulp apart at times, and blocking moves which elements are
    a remainder; exp's scalar and vector forms are one expansion."""
    from relay_opt.lowering import parallelize_loops

    n = 70001
    x = np.random.default_rng(3).uniform(-80, 80, n).astype(np.float32)
    blocked = compile(load_program(program("exp", n), "relay").module, cache=False)
    assert "llvm.prefetch" in str(blocked._llvm_module)  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setattr(parallelize_loops, "_prefetch_blocks", lambda *_: None)
    plain = compile(load_program(program("exp", n), "relay").module, cache=False)
    assert "llvm.prefetch" not in str(plain._llvm_module)  # pyright: ignore[reportPrivateUsage]
    want = np.asarray(plain(x)).view(np.uint32)
    for threads in (1, 2):
        blocked.threads = threads
        np.testing.assert_array_equal(np.asarray(blocked(x)).view(np.uint32), want)
