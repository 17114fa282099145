"""expand-math: math.exp, math.log, math.tanh, math.erf and sigmoid on f32 as arith ops.

convert-to-llvm lowers these ops to calls (llvm.exp.f32, which LLVM scalarizes to libm's
expf; tanhf, erff): one call per element, so an elementwise loop never vectorizes. Here each
becomes straight-line arith code -- range reduction with exponent bit manipulation, a
polynomial, selects for the edges; no calls, no branches -- which LLVM's loop vectorizer turns
into AVX2/AVX-512 code. The expansions are written for the whole f32 range: +-0, +-inf, nan,
denormal inputs and results, and the overflow/underflow thresholds give what libm gives.
f16 is computed in f32 (exact widening, one rounding back); f64 keeps libm.
Each polynomial step and the range reductions are a multiply and an add marked `contract`,
which LLVM fuses into one FMA where the CPU has one (one rounding instead of two: as accurate
or more, and half the instructions). On an AVX-512 target (`vector-bits`, the host's by
default) exp's final p * 2^k is llvm.ldexp, one vscalefps per vector instead of eight integer
and float instructions; and tanh is a call of a scalar function with a 16-lane variant in the
llvm dialect (a polynomial per interval of |x|, its coefficients picked by vpermi2ps), which
LLVM's vectorizer calls instead and the JIT then inlines: 7 permutes, 6 float and 4 integer
instructions per 16 lanes instead of 20 float ones, a division and 6 integer ones (exp and two
polynomials). AVX-512 runs them on two ports, so their number is the speed.

The relay lowering's sigmoid, `1 / (1 + exp(-x))`, is recognized and rewritten as
`(x >= 0 ? 1 : exp(-|x|)) / (1 + exp(-|x|))`: the same value where it is accurate,
and denormal rather than 0 results where exp(-x) overflows (x in [-103.9, -88.7]).

Maximum errors against a float64 reference, without FMA, on every f32 with 0.5 <= |x| < 64
and every 16th bit pattern of the whole range: exp 0.98 ulp, log 0.83, tanh 1.33, sigmoid
2.4, erf 1.41; with FMA (AVX-512), on benchmarks/vector_math.py's sample: exp 1.0006,
log 0.77, sigmoid 2.36, erf 1.26, and tanh by intervals 0.99 on every f32 with |x| < 9.1
(every 16th bit pattern beyond).
Polynomial coefficients are Cephes' (exp, log, tanh) or fitted for this pass (erf, tanh's
intervals).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import arith, func, llvm, math
from xdsl.dialects.arith import FastMathFlagsAttr
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    Float16Type,
    Float32Type,
    FloatAttr,
    FunctionType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    VectorType,
    i16,
    i32,
)
from xdsl.dialects.utils.fast_math import FastMathFlag
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from relay_opt.diagnostics import RelayError
from relay_opt.lowering.kernels.target import Target

F32 = Float32Type()
# On a multiply and the add that uses it: LLVM may fuse them into one FMA (rounded once, as
# accurate or more) where the CPU has one, and keeps two roundings where it has not.
_CONTRACT = FastMathFlagsAttr([FastMathFlag.ALLOW_CONTRACT])


def _f32_bits(v: float) -> int:
    return struct.unpack("<i", struct.pack("<f", v))[0]


@dataclass
class _Builder:
    """Collects the ops of one expansion (all on f32 / i32 scalars)."""

    ops: list[Operation] = field(default_factory=list[Operation])
    ldexp: bool = False
    """Whether exp scales by 2^k with llvm.ldexp (AVX-512's vscalefps: one rounding into
    denormals and inf) instead of two exponent-field factors."""

    def emit(self, op: Operation) -> SSAValue:
        self.ops.append(op)
        return op.results[0]

    def f(self, v: float) -> SSAValue:
        return self.emit(arith.ConstantOp(FloatAttr(v, F32)))

    def i(self, v: int) -> SSAValue:
        return self.emit(arith.ConstantOp(IntegerAttr(v, i32)))

    def add(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.AddfOp(a, b))

    def sub(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.SubfOp(a, b))

    def mul(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.MulfOp(a, b))

    def div(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.DivfOp(a, b))

    def cmp(self, a: SSAValue, pred: str, b: SSAValue) -> SSAValue:
        return self.emit(arith.CmpfOp(a, b, pred))

    def sel(self, c: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.SelectOp(c, a, b))

    def bits(self, x: SSAValue) -> SSAValue:
        return self.emit(arith.BitcastOp(x, i32))

    def float(self, x: SSAValue) -> SSAValue:
        return self.emit(arith.BitcastOp(x, F32))

    def iadd(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.AddiOp(a, b))

    def isub(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.SubiOp(a, b))

    def iand(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.AndIOp(a, b))

    def ior(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.OrIOp(a, b))

    def shl(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.ShLIOp(a, b))

    def ashr(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(arith.ShRSIOp(a, b))

    def fma(self, a: SSAValue, b: SSAValue, c: SSAValue) -> SSAValue:
        """a * b + c, fused where the CPU can."""
        product = self.emit(arith.MulfOp(a, b, _CONTRACT))
        return self.emit(arith.AddfOp(product, c, _CONTRACT))

    def horner(self, x: SSAValue, coefficients: tuple[float, ...]) -> SSAValue:
        """c0*x^n + c1*x^(n-1) + ... + cn."""
        acc = self.f(coefficients[0])
        for c in coefficients[1:]:
            acc = self.fma(acc, x, self.f(c))
        return acc

    def abs(self, x: SSAValue) -> SSAValue:
        return self.float(self.iand(self.bits(x), self.i(0x7FFFFFFF)))

    def with_sign_of(self, y: SSAValue, x: SSAValue) -> SSAValue:
        """y with x's sign bit, for y of x's sign, +0 or nan."""
        sign = self.iand(self.bits(x), self.i(-0x80000000))
        return self.float(self.ior(self.bits(y), sign))


# exp ------------------------------------------------------------------------------------------

_LOG2E = 1.44269504088896341
# ln 2 split so that k * _LN2_HI is exact for |k| < 2^15 (the high part has 9 significant bits).
_LN2_HI = 0.693359375
_LN2_LO = -2.12194440e-4
_ROUND_MAGIC = 12582912.0  # 1.5 * 2^23: adding it rounds |t| < 2^22 to an integer
# Beyond these exp overflows to inf / underflows to 0 anyway; clamping keeps k small enough for
# the two-step scaling below and for the magic rounding.
_EXP_HI = 88.8
_EXP_LO = -104.0
# Cephes expf: exp(r) ~ 1 + r + r^2 P(r) on |r| <= ln2/2.
_EXP_P = (
    1.9875691500e-4,
    1.3981999507e-3,
    8.3334519073e-3,
    4.1665795894e-2,
    1.6666665459e-1,
    5.0000001201e-1,
)


def _exp(b: _Builder, x: SSAValue) -> SSAValue:
    # ogt/olt are false for nan: nan passes through and the arithmetic keeps it nan.
    x = b.sel(b.cmp(x, "ogt", b.f(_EXP_HI)), b.f(_EXP_HI), x)
    x = b.sel(b.cmp(x, "olt", b.f(_EXP_LO)), b.f(_EXP_LO), x)
    # k = round(x / ln2), as a float and (from the bits of the magic sum) as an integer.
    t = b.fma(x, b.f(_LOG2E), b.f(_ROUND_MAGIC))
    kf = b.sub(t, b.f(_ROUND_MAGIC))
    k = b.isub(b.bits(t), b.i(_f32_bits(_ROUND_MAGIC)))
    r = b.fma(kf, b.f(-_LN2_HI), x)  # exact, fused or not
    r = b.fma(kf, b.f(-_LN2_LO), r)
    p = b.add(b.fma(b.horner(r, _EXP_P), b.mul(r, r), r), b.f(1.0))
    if b.ldexp:
        return b.emit(llvm.CallIntrinsicOp("llvm.ldexp.f32.i32", [p, k], [F32]))
    # p * 2^k in two factors, each a normal float for k in [-150, 128]: the product rounds
    # once, into a denormal or to inf where the true result does.
    k1 = b.ashr(k, b.i(1))
    k2 = b.isub(k, k1)
    s1 = b.float(b.shl(b.iadd(k1, b.i(127)), b.i(23)))
    s2 = b.float(b.shl(b.iadd(k2, b.i(127)), b.i(23)))
    return b.mul(b.mul(p, s1), s2)


# log ------------------------------------------------------------------------------------------

_SQRT_HALF = 0.707106781186547524
# Cephes logf: log(1 + m) ~ m - m^2/2 + m^3 P(m) on sqrt(1/2) - 1 <= m < sqrt(2) - 1.
_LOG_P = (
    7.0376836292e-2,
    -1.1514610310e-1,
    1.1676998740e-1,
    -1.2420140846e-1,
    1.4249322787e-1,
    -1.6668057665e-1,
    2.0000714765e-1,
    -2.4999993993e-1,
    3.3333331174e-1,
)
_MIN_NORMAL = 1.17549435082228750797e-38


def _log(b: _Builder, x: SSAValue) -> SSAValue:
    # Denormals scaled by 2^23 into the normal range, the exponent corrected below.
    denormal = b.cmp(x, "olt", b.f(_MIN_NORMAL))
    xn = b.sel(denormal, b.mul(x, b.f(8388608.0)), x)
    bits = b.bits(xn)
    # x = 2^e * m with m in [0.5, 1).
    e = b.isub(b.ashr(bits, b.i(23)), b.i(126))
    e = b.sel(denormal, b.isub(e, b.i(23)), e)
    m = b.float(b.ior(b.iand(bits, b.i(0x007FFFFF)), b.i(0x3F000000)))
    # m < sqrt(1/2): use 2m - 1 and e - 1, so that the argument is centered on 0.
    small = b.cmp(m, "olt", b.f(_SQRT_HALF))
    e = b.sel(small, b.isub(e, b.i(1)), e)
    m = b.sub(b.sel(small, b.add(m, m), m), b.f(1.0))
    ef = b.emit(arith.SIToFPOp(e, F32))
    z = b.mul(m, m)
    y = b.mul(b.mul(m, z), b.horner(m, _LOG_P))
    y = b.fma(ef, b.f(_LN2_LO), y)
    y = b.fma(z, b.f(-0.5), y)
    y = b.add(m, y)
    y = b.fma(ef, b.f(_LN2_HI), y)
    # 0 -> -inf, x < 0 -> nan, inf and nan -> themselves.
    inf = float("inf")
    finite_positive = b.emit(arith.AndIOp(b.cmp(x, "ogt", b.f(0.0)), b.cmp(x, "olt", b.f(inf))))
    special = b.sel(b.cmp(x, "olt", b.f(0.0)), b.f(float("nan")), x)
    special = b.sel(b.cmp(x, "oeq", b.f(0.0)), b.f(-inf), special)
    return b.sel(finite_positive, y, special)


# tanh -----------------------------------------------------------------------------------------

_TANH_SMALL = 0.625
_TANH_ONE = 9.1  # tanh rounds to 1 from 9.0109 on
# exp(2r) on |r| <= ln2/4, fitted for this pass (relative minimax, 2e-9; 0.87 ulp in f32).
_EXP2R_P = (
    0.08859864622354507,
    0.26797613501548767,
    0.6666881442070007,
    1.3333144187927246,
    1.999999761581421,
    2.0,
    1.0,
)
# Cephes tanhf: tanh(x) ~ x + x^3 P(x^2) on |x| < 0.625.
_TANH_P = (
    -5.70498872745e-3,
    2.06390887954e-2,
    -5.37397155531e-2,
    1.33314422036e-1,
    -3.33332819422e-1,
)


def _tanh(b: _Builder, x: SSAValue) -> SSAValue:
    a = b.abs(x)
    z = b.mul(a, a)
    small = b.fma(b.mul(b.horner(z, _TANH_P), z), a, a)
    # |x| >= 0.625: 1 - 2 / (exp(2|x|) + 1). Beyond _TANH_ONE that rounds to 1, so |x| is
    # clamped there (inf too; nan fails the comparison): exp(2|x|) is then a normal float,
    # 2^k * exp(2r) with |r| <= ln2/4 and k in [0, 27], without exp's clamps and two-step
    # scaling.
    a = b.sel(b.cmp(a, "ogt", b.f(_TANH_ONE)), b.f(_TANH_ONE), a)
    t = b.fma(a, b.f(2 * _LOG2E), b.f(_ROUND_MAGIC))
    kf = b.sub(t, b.f(_ROUND_MAGIC))
    k = b.isub(b.bits(t), b.i(_f32_bits(_ROUND_MAGIC) - 127))  # the biased exponent
    r = b.fma(kf, b.f(-_LN2_HI / 2), a)
    r = b.fma(kf, b.f(-_LN2_LO / 2), r)
    one = b.f(1.0)
    e_plus_1 = b.fma(b.horner(r, _EXP2R_P), b.float(b.shl(k, b.i(23))), one)
    large = b.sub(one, b.div(b.f(2.0), e_plus_1))
    # nan: the comparison is false and the large branch is nan.
    y = b.sel(b.cmp(a, "olt", b.f(_TANH_SMALL)), small, large)
    return b.with_sign_of(y, x)


# tanh on AVX-512 -------------------------------------------------------------------------------

# LLVM's loop vectorizer widens a call of TANH_SCALAR into one of TANH_VECTOR per 16 lanes (the
# vector-function ABI attribute runtime/jit.py puts on the scalar function; it also inlines the
# vector function afterwards). The scalar one, for loop remainders, is _tanh above.
TANH_SCALAR = "relay_opt_tanh_f32"
TANH_VECTOR = "relay_opt_tanh_f32x16"
VECTOR_VARIANTS: dict[str, tuple[str, int]] = {TANH_SCALAR: (TANH_VECTOR, 16)}
"""Scalar function -> (its vector variant, lanes)."""

# 32 intervals of |x|, selected by its top bits: interval i is usubsat(bits >> 21, base) (a
# quarter of a binade from 0.047 to 8; below 0.047 interval 0, from 8 to the clamp at 9.02
# interval 31). On each, tanh ~ P(|x| - center), P of degree 5, with the coefficient of each
# lane picked from two registers by one vpermi2ps: 7 permutes and 5 FMAs per 16 lanes
# instead of exp, a division and two polynomials (AVX-512 runs them on two ports, the
# permutes on the one that has no FMA). Fitted for this pass (Lawson's iteration towards
# relative minimax in float64, coefficients rounded to f32): each center is one whose tanh
# is nearly an f32, the constant term, so that it adds no rounding; interval 0 has
# P(a) = a + a^2 Q(a) (center 0, c0 = 0, c1 = 1), exact for denormals. 0.99 ulp at most.
_TANH_LUT_CLAMP = 9.02  # tanh rounds to 1 from 9.0109 on; inf and larger clamp here
_TANH_LUT_SHIFT = 21
_TANH_LUT_BASE = (_f32_bits(_TANH_LUT_CLAMP) >> _TANH_LUT_SHIFT) - 31
_TANH_CENTERS = (
    0.0,
    0.051302265,
    0.05788672,
    0.070444845,
    0.085180625,
    0.10199359,
    0.118723124,
    0.13863063,
    0.17498781,
    0.20467626,
    0.2360053,
    0.2754706,
    0.3386825,
    0.41036624,
    0.46827313,
    0.57171124,
    0.692495,
    0.8031525,
    0.9436775,
    1.1453675,
    1.368685,
    1.6122375,
    1.854575,
    2.235145,
    2.7747,
    3.22002,
    3.70591,
    4.5836,
    5.54517,
    6.42567,
    7.46539,
    8.612,
)
_TANH_COEFFICIENTS = (
    (  # c0
        0.0,
        0.051257305,
        0.05782215,
        0.07032855,
        0.084975205,
        0.10164139,
        0.11816844,
        0.13774931,
        0.17322333,
        0.20186523,
        0.23171906,
        0.26870787,
        0.32630068,
        0.3887836,
        0.43680298,
        0.5166149,
        0.59958243,
        0.6657955,
        0.7369073,
        0.8162136,
        0.87839216,
        0.92349,
        0.95217496,
        0.977371,
        0.99225056,
        0.9968124,
        0.9987926,
        0.9997912,
        0.9999695,
        0.99999475,
        0.99999934,
        0.99999994,
    ),
    (  # c1
        1.0,
        0.9973727,
        0.9966566,
        0.9950539,
        0.9927792,
        0.989669,
        0.98603624,
        0.9810251,
        0.96999365,
        0.95925045,
        0.9463063,
        0.92779607,
        0.89352787,
        0.8488473,
        0.80920315,
        0.73310906,
        0.6405009,
        0.5567163,
        0.45696762,
        0.33379528,
        0.22842722,
        0.14716625,
        0.093362845,
        0.044745933,
        0.015438871,
        0.0063650105,
        0.002413352,
        4.1765405e-04,
        6.104346e-05,
        1.0489e-05,
        1.3112385e-06,
        1.3238987e-07,
    ),
    (  # c2
        2.3550881e-09,
        -0.051122613,
        -0.05762877,
        -0.06998067,
        -0.084361605,
        -0.10059133,
        -0.11651835,
        -0.13513553,
        -0.16802554,
        -0.19363928,
        -0.2192772,
        -0.24930608,
        -0.29155874,
        -0.3300179,
        -0.35346234,
        -0.37873492,
        -0.38403302,
        -0.37065926,
        -0.33674288,
        -0.27244943,
        -0.20064981,
        -0.13590695,
        -0.08889782,
        -0.043732267,
        -0.015318415,
        -0.0063444003,
        -0.0024103513,
        -4.171735e-04,
        -6.096569e-05,
        -1.0481404e-05,
        -1.3098493e-06,
        -3.8235348e-07,
    ),
    (  # c3
        -0.3333338,
        -0.3298355,
        -0.3288899,
        -0.32676262,
        -0.3237579,
        -0.3196654,
        -0.31490922,
        -0.3083936,
        -0.29422545,
        -0.28066078,
        -0.26462486,
        -0.24227287,
        -0.20270506,
        -0.1546449,
        -0.11534092,
        -0.04871743,
        0.016757412,
        0.06120962,
        0.095827915,
        0.11114324,
        0.10010145,
        0.07644921,
        0.0535244,
        0.027832532,
        0.010049189,
        0.0042050863,
        0.0016043807,
        2.7549657e-04,
        4.0445953e-05,
        7.0284377e-06,
        8.7585005e-07,
        -5.496871e-08,
    ),
    (  # c4
        2.5267864e-05,
        0.032279074,
        0.03365393,
        0.045983136,
        0.05544819,
        0.06598436,
        0.07568245,
        0.087450966,
        0.10697626,
        0.12107677,
        0.13440719,
        0.1481296,
        0.1632544,
        0.17006509,
        0.16812547,
        0.15126151,
        0.11790765,
        0.08282517,
        0.041717578,
        4.1505691e-04,
        -0.020810738,
        -0.025215149,
        -0.021319121,
        -0.012681377,
        -0.004911604,
        -0.002093856,
        -8.0411887e-04,
        -1.4360121e-04,
        -2.1230366e-05,
        -3.6287795e-06,
        -4.567152e-07,
        1.2226435e-06,
    ),
    (  # c5
        0.13285755,
        -0.07806168,
        0.7061274,
        0.120519124,
        0.13152444,
        0.120657794,
        0.09115733,
        0.11357338,
        0.102412865,
        0.087965325,
        0.079018794,
        0.059229042,
        0.032055628,
        0.006012078,
        -0.017099023,
        -0.043340385,
        -0.061520975,
        -0.06266774,
        -0.053077333,
        -0.032112043,
        -0.009551684,
        0.0013808238,
        0.004596708,
        0.0039766347,
        0.0019164212,
        7.71309e-04,
        2.9300444e-04,
        6.866373e-05,
        9.32347e-06,
        1.2625446e-06,
        1.707937e-07,
        1.3893667e-06,
    ),
)


def _tanh_x16() -> llvm.FuncOp:
    """TANH_VECTOR: tanh of 16 floats by the interval tables, in the llvm dialect."""
    vf = VectorType(F32, [16])
    vi: VectorType[IntegerType] = VectorType(i32, [16])
    vh: VectorType[IntegerType] = VectorType(i16, [32])
    block = Block(arg_types=[vf])
    ops: list[Operation] = []

    def emit(op: Operation) -> SSAValue:
        ops.append(op)
        return op.results[0]

    def floats(values: Sequence[float]) -> SSAValue:
        return emit(llvm.ConstantOp(DenseIntOrFPElementsAttr.from_list(vf, values), vf))

    def splat(t: VectorType[IntegerType], value: int) -> SSAValue:
        lanes = t.get_shape()[0]
        return emit(llvm.ConstantOp(DenseIntOrFPElementsAttr.from_list(t, [value] * lanes), t))

    def pick(table: Sequence[float], index: SSAValue) -> SSAValue:
        lo, hi = floats(table[:16]), floats(table[16:])
        intrinsic = "llvm.x86.avx512.vpermi2var.ps.512"
        return emit(llvm.CallIntrinsicOp(intrinsic, [lo, index, hi], [vf]))

    bits = emit(llvm.BitcastOp(block.args[0], vi))
    sign = emit(llvm.AndOp(bits, splat(vi, -0x80000000)))
    a = emit(llvm.BitcastOp(emit(llvm.AndOp(bits, splat(vi, 0x7FFFFFFF))), vf))
    # Clamped (inf too); llvm.minimum keeps nan, which then picks any interval and stays nan.
    # One vminps: the bound is neither nan nor zero.
    a = emit(llvm.CallIntrinsicOp("llvm.minimum.v16f32", [a, floats([_TANH_LUT_CLAMP] * 16)], [vf]))
    high = emit(llvm.LShrOp(emit(llvm.BitcastOp(a, vi)), splat(vi, _TANH_LUT_SHIFT)))
    # The 11-bit quotient minus the base, saturated at 0, on the 16-bit halves of each lane
    # (the upper half is 0 - 0): interval 0 takes everything below.
    index = emit(
        llvm.CallIntrinsicOp(
            "llvm.usub.sat.v32i16",
            [emit(llvm.BitcastOp(high, vh)), splat(vh, _TANH_LUT_BASE)],
            [vh],
        )
    )
    index = emit(llvm.BitcastOp(index, vi))
    t = emit(llvm.FSubOp(a, pick(_TANH_CENTERS, index)))
    acc = pick(_TANH_COEFFICIENTS[-1], index)
    for table in reversed(_TANH_COEFFICIENTS[:-1]):
        acc = emit(llvm.FMAOp(acc, t, pick(table, index)))
    y = emit(llvm.OrOp(emit(llvm.BitcastOp(acc, vi)), sign))
    ops.append(llvm.ReturnOp(emit(llvm.BitcastOp(y, vf))))
    block.add_ops(ops)
    return llvm.FuncOp(
        TANH_VECTOR,
        llvm.LLVMFunctionType([vf], vf),
        linkage=llvm.LinkageAttr("external"),
        body=Region(block),
    )


def _tanh_scalar() -> func.FuncOp:
    """TANH_SCALAR: _tanh as a function (f32 -> f32)."""
    block = Block(arg_types=[F32])
    b = _Builder()
    y = _tanh(b, block.args[0])
    block.add_ops([*b.ops, func.ReturnOp(y)])
    return func.FuncOp(TANH_SCALAR, FunctionType.from_lists([F32], [F32]), Region(block))


# sigmoid --------------------------------------------------------------------------------------


def _sigmoid(b: _Builder, x: SSAValue) -> SSAValue:
    e = _exp(b, b.emit(arith.NegfOp(b.abs(x))))
    # x < 0: exp(x) / (1 + exp(x)), so tiny results are denormals instead of 1/inf = 0.
    # nan: the comparison is false and e is nan.
    numerator = b.sel(b.cmp(x, "oge", b.f(0.0)), b.f(1.0), e)
    return b.div(numerator, b.add(b.f(1.0), e))


# erf ------------------------------------------------------------------------------------------

# Fitted for this pass (float64 least squares on Chebyshev nodes, against math.erf/erfc).
# erf(x) ~ x + x P(x^2) on |x| < 1.
_ERF_SMALL = (
    7.882497448008507e-05,
    -0.0008018855005502701,
    0.005189312156289816,
    -0.02685432881116867,
    0.11283597350120544,
    -0.3761262595653534,
    0.1283791670955126,  # 2/sqrt(pi) - 1: the 1 is added as x, exactly
)
# erfc(a) ~ Q(a - mid) on [1, 2.25) and [2.25, 3.92); beyond 3.92, erf rounds to 1.
_ERFC_SPLIT = 2.25
_ERFC_MID = (1.625, 3.085)
_ERFC_Q = (
    (
        0.0002617484424263239,
        -0.001273625297471881,
        0.00061666319379583,
        0.006130521651357412,
        -0.014422783628106117,
        0.0021441227290779352,
        0.049719590693712234,
        -0.11484126001596451,
        0.13076739013195038,
        -0.08047224581241608,
        0.021556267514824867,
    ),
    (
        -1.230171892530052e-05,
        -8.12218786450103e-06,
        0.000124051992315799,
        -0.00031414994737133384,
        0.0005306496168486774,
        -0.0006916296551935375,
        0.0006846638862043619,
        -0.0004994710325263441,
        0.00025609988369978964,
        -8.300475019495934e-05,
        1.2838092516176403e-05,
    ),
)
_ERF_ONE = 3.92


def _erf(b: _Builder, x: SSAValue) -> SSAValue:
    small = b.add(x, b.mul(x, b.horner(b.mul(x, x), _ERF_SMALL)))
    a = b.abs(x)
    # One polynomial whose coefficients each lane selects by interval: no branch.
    near = b.cmp(a, "olt", b.f(_ERFC_SPLIT))

    def pick(v0: float, v1: float) -> SSAValue:
        return b.sel(near, b.f(v0), b.f(v1))

    t = b.sub(a, pick(*_ERFC_MID))
    q0, q1 = _ERFC_Q
    q = pick(q0[0], q1[0])
    for c0, c1 in zip(q0[1:], q1[1:], strict=True):
        q = b.fma(q, t, pick(c0, c1))
    large = b.sub(b.f(1.0), q)
    # inf -> 1; nan fails both comparisons and stays nan.
    large = b.sel(b.cmp(a, "oge", b.f(_ERF_ONE)), b.f(1.0), large)
    large = b.with_sign_of(large, x)
    return b.sel(b.cmp(a, "olt", b.f(1.0)), small, large)


_EXPANSIONS: dict[type[Operation], Callable[[_Builder, SSAValue], SSAValue]] = {
    math.ExpOp: _exp,
    math.LogOp: _log,
    math.TanhOp: _tanh,
    math.ErfOp: _erf,
}


def _call_tanh(b: _Builder, x: SSAValue) -> SSAValue:
    return b.emit(func.CallOp(TANH_SCALAR, [x], [F32]))


def _is_one(v: SSAValue) -> bool:
    op = v.owner
    return (
        isinstance(op, arith.ConstantOp)
        and isinstance(op.value, FloatAttr)
        and op.value.value.data == 1.0  # pyright: ignore[reportUnknownMemberType]
    )


def _sigmoid_operand(div: arith.DivfOp) -> SSAValue | None:
    """x where `div` is 1 / (1 + exp(-x)) (either order of the sum), else None."""
    if not _is_one(div.lhs) or not isinstance(add := div.rhs.owner, arith.AddfOp):
        return None
    e = add.rhs if _is_one(add.lhs) else add.lhs if _is_one(add.rhs) else None
    if e is None or not isinstance(exp := e.owner, math.ExpOp):
        return None
    if not isinstance(neg := exp.operand.owner, arith.NegfOp):
        return None
    return neg.operand


def _expand(
    op: Operation, x: SSAValue, fn: Callable[[_Builder, SSAValue], SSAValue], ldexp: bool
) -> bool:
    """Replaces `op` (one result, operand x) with fn's expansion; f32 and f16 only."""
    t = op.results[0].type
    if not isinstance(t, (Float32Type, Float16Type)):
        return False
    b = _Builder(ldexp=ldexp)
    if isinstance(t, Float16Type):
        x = b.emit(arith.ExtFOp(x, F32))
    y = fn(b, x)
    if isinstance(t, Float16Type):
        y = b.emit(arith.TruncFOp(y, t))
    Rewriter.replace_op(op, b.ops, [y])
    return True


def _erase_dead(ops: list[Operation]) -> None:
    for op in ops:
        if op.parent is not None and all(not r.uses for r in op.results):
            Rewriter.erase_op(op)


@dataclass(frozen=True)
class ExpandMathPass(ModulePass):
    """Expands f32/f16 exp, log, tanh, erf and sigmoid into vectorizable arith code (no calls)."""

    name = "expand-math"

    vector_bits: int = 0
    """The target's vector width (128, 256, 512); 0 is the host's. At 512 (AVX-512F) exp
    scales with llvm.ldexp, which LLVM vectorizes to vscalefps; elsewhere ldexp would be a
    libm call per element, so exp keeps its integer scaling."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.vector_bits not in (0, 128, 256, 512):
            raise RelayError(
                f"expand-math: vector-bits must be 128, 256 or 512 (0: the host's), "
                f"got {self.vector_bits}"
            )
        bits = self.vector_bits or Target.host().vector_bits
        ldexp = bits >= 512
        # Sigmoids first, while their exp is still an op to recognize.
        for div in [o for o in op.walk() if isinstance(o, arith.DivfOp)]:
            x = _sigmoid_operand(div)
            if x is None:
                continue
            add = div.rhs.owner
            assert isinstance(add, arith.AddfOp)
            exp = (add.rhs if _is_one(add.lhs) else add.lhs).owner
            assert isinstance(exp, math.ExpOp)
            chain: list[Operation] = [add, exp]
            if isinstance(neg := exp.operand.owner, Operation):
                chain.append(neg)
            if _expand(div, x, _sigmoid, ldexp):
                _erase_dead(chain)
        expansions = dict(_EXPANSIONS)
        if bits >= 512:
            expansions[math.TanhOp] = _call_tanh
        called = False
        for o in [o for o in op.walk() if type(o) in expansions]:
            done = _expand(o, o.operands[0], expansions[type(o)], ldexp)
            called |= done and expansions[type(o)] is _call_tanh
        if called:
            defined = {f.sym_name.data for f in op.ops if isinstance(f, (func.FuncOp, llvm.FuncOp))}
            for f in (_tanh_scalar(), _tanh_x16()):
                if f.sym_name.data not in defined:
                    op.body.block.add_op(f)
