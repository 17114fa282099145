"""The host CPU's vector registers: the one default of every option that says "the host's".

lower-contractions' and expand-math's `vector-bits=0` (through `Target.host()`,
lowering/kernels/target.py), alter-op-layout's `block` and relay-optimize's `layout-block`
when unset all read it here, so a pipeline's passes agree: the conv2d routines take only a
block of the target's float32 lanes, and a CLI pipeline that blocked by another width kept
those convs in loops. The host is asked through LLVM, the CPU the JIT compiles for.
"""

from __future__ import annotations

from functools import cache


@cache
def _features() -> dict[str, bool]:
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    return dict(llvm.get_host_cpu_features())


def host_vector_bits() -> int:
    """The widest vector register: 512 (AVX-512F), 256 (AVX, AVX2) or 128."""
    features = _features()
    if features.get("avx512f", False):
        return 512
    if features.get("avx2", False) or features.get("avx", False):
        return 256
    return 128


def host_has_fma() -> bool:
    """Whether the host fuses multiply and add."""
    return bool(_features().get("fma", False))


def host_float32_lanes() -> int:
    """float32 elements in one vector register: alter-op-layout's default channel block."""
    return host_vector_bits() // 32
