"""What the generated code may assume about the CPU it runs on.

Passes that choose vector widths take a `Target` (from their options), never the host
directly, so their output is deterministic and golden-testable; `Target.host()` is what
the JIT and the tools pass by default; its width is relay_opt.host's, the one every
host-dependent default reads (alter-op-layout's block too).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Target:
    """A CPU as the kernels see it."""

    vector_bits: int = 256
    """Width of the widest vector register: 128 (SSE), 256 (AVX2) or 512 (AVX-512)."""
    fma: bool = True
    """Whether the CPU fuses multiply and add (chooses the microkernels' inner product)."""

    def lanes(self, element_bits: int) -> int:
        """Elements of `element_bits` that fit one vector register."""
        return self.vector_bits // element_bits

    @staticmethod
    def host() -> Target:
        return _host()


@cache
def _host() -> Target:
    from relay_opt.host import host_has_fma, host_vector_bits

    return Target(vector_bits=host_vector_bits(), fma=host_has_fma())


def llvm_features(host_features: str) -> str:
    """The feature string the JIT's and object writer's target machines get for a host with
    `host_features` (LLVM's flattened "+avx2,-avx512f,..." list).

    LLVM's tuning for Intel's AVX-512 CPUs prefers 256-bit vectors (`prefer-256-bit`): its
    loop vectorizer then writes ymm code, half the width the vector math and elementwise
    loops could use. With AVX-512F the preference is turned off; any other host's string is
    returned unchanged, so its code is what it was.
    """
    if "+avx512f" not in host_features.split(","):
        return host_features
    return f"{host_features},-prefer-256-bit"
