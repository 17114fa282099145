// RUN: relay-opt %s -p 'expand-math{vector-bits=256}' | filecheck %s
// RUN: relay-opt %s -p 'expand-math{vector-bits=512}' | filecheck %s --check-prefix=AVX512
// RUN: not relay-opt %s -p 'expand-math{vector-bits=100}' 2>&1 | filecheck %s --check-prefix=BAD

// BAD: expand-math: vector-bits must be 128, 256 or 512 (0: the host's), got 100

// exp: clamp (nan passes), k = round(x log2 e) by the 1.5 * 2^23 trick, Cody-Waite reduction,
// polynomial, then 2^k in two exponent-field factors so that denormal results round once.
// Multiplies and the adds of their products are `contract` (an FMA where the CPU has one).
// CHECK-LABEL: func.func @exp(%x: f32) -> f32
// CHECK-NOT:   math.
// CHECK:       arith.cmpf ogt, %x, %{{.*}} : f32
// CHECK:       arith.constant 0x4B400000 : f32
// CHECK:       arith.mulf %{{.*}}, %{{.*}} fastmath<contract> : f32
// CHECK-NEXT:  arith.addf %{{.*}}, %{{.*}} fastmath<contract> : f32
// CHECK:       arith.bitcast %{{.*}} : f32 to i32
// CHECK:       %[[LN2HI:.*]] = arith.constant -0.693359375 : f32
// CHECK-NEXT:  %[[KLN2:.*]] = arith.mulf %{{.*}}, %[[LN2HI]] fastmath<contract> : f32
// CHECK-NEXT:  arith.addf %[[KLN2]], %{{.*}} fastmath<contract> : f32
// CHECK:       arith.shrsi
// CHECK:       arith.shli
// CHECK:       %[[S1:.*]] = arith.bitcast %{{.*}} : i32 to f32
// CHECK:       arith.shli
// CHECK:       %[[S2:.*]] = arith.bitcast %{{.*}} : i32 to f32
// CHECK:       %[[P:.*]] = arith.mulf %{{.*}}, %[[S1]] : f32
// CHECK:       %[[R:.*]] = arith.mulf %[[P]], %[[S2]] : f32
// CHECK-NEXT:  func.return %[[R]] : f32
// AVX-512: 2^k by llvm.ldexp (vscalefps), one rounding into denormals and inf.
// AVX512-LABEL: func.func @exp(%x: f32) -> f32
// AVX512-NOT:   arith.shrsi
// AVX512:       %[[R:.*]] = llvm.call_intrinsic "llvm.ldexp.f32.i32"(%{{.*}}, %{{.*}}) : (f32, i32) -> f32
// AVX512-NEXT:  func.return %[[R]] : f32
func.func @exp(%x: f32) -> f32 {
  %e = math.exp %x : f32
  func.return %e : f32
}

// tanh: |x| < 0.625 a polynomial, else 1 - 2 / (exp(2|x|) + 1) with |x| clamped where tanh
// rounds to 1, so that exp needs neither its clamps nor its two-factor scaling: one
// exponent-field factor, multiplied and 1 added in one FMA. The sign goes back on with bit
// operations.
// CHECK-LABEL: func.func @tanh(%x: f32) -> f32
// CHECK-NOT:   math.
// CHECK:       arith.constant 9.100000e+00 : f32
// CHECK-NOT:   arith.shrsi
// CHECK:       %[[S:.*]] = arith.bitcast %{{.*}} : i32 to f32
// CHECK-NEXT:  %[[E:.*]] = arith.mulf %{{.*}}, %[[S]] fastmath<contract> : f32
// CHECK-NEXT:  %[[E1:.*]] = arith.addf %[[E]], %{{.*}} fastmath<contract> : f32
// CHECK:       arith.divf %{{.*}}, %[[E1]] : f32
// CHECK:       %[[SMALL:.*]] = arith.cmpf olt, %{{.*}}, %{{.*}} : f32
// CHECK-NEXT:  arith.select %[[SMALL]], %{{.*}}, %{{.*}} : f32
// CHECK:       arith.ori
// CHECK:       %[[R:.*]] = arith.bitcast %{{.*}} : i32 to f32
// CHECK-NEXT:  func.return %[[R]] : f32
// AVX-512: a call of the scalar tanh, which LLVM's vectorizer replaces by its 16-lane variant
// (both defined at the end of the module).
// AVX512-LABEL: func.func @tanh(%x: f32) -> f32
// AVX512-NEXT:  %[[T:.*]] = func.call @relay_opt_tanh_f32(%x) : (f32) -> f32
// AVX512-NEXT:  func.return %[[T]] : f32
func.func @tanh(%x: f32) -> f32 {
  %t = math.tanh %x : f32
  func.return %t : f32
}

// log: denormals scaled into the normal range, exponent and mantissa from the bits, and the
// special values (0, negative, inf, nan) chosen by selects at the end.
// CHECK-LABEL: func.func @log(%x: f32) -> f32
// CHECK-NOT:   math.
// CHECK:       arith.cmpf olt, %x, %{{.*}} : f32
// CHECK:       arith.shrsi
// CHECK:       arith.sitofp %{{.*}} : i32 to f32
// CHECK:       %[[OK:.*]] = arith.andi
// CHECK:       %[[R:.*]] = arith.select %[[OK]], %{{.*}}, %{{.*}} : f32
// CHECK-NEXT:  func.return %[[R]] : f32
func.func @log(%x: f32) -> f32 {
  %l = math.log %x : f32
  func.return %l : f32
}

// The lowering's sigmoid, 1 / (1 + exp(-x)), becomes exp(-|x|) based, the negative side
// exp(x) / (1 + exp(x)); the old exp chain is gone.
// CHECK-LABEL: func.func @sigmoid(%x: f32) -> f32
// CHECK-NOT:   math.exp
// CHECK-NOT:   arith.negf %x
// CHECK:       arith.andi %{{.*}}, %{{.*}} : i32
// CHECK:       %[[NONNEG:.*]] = arith.cmpf oge, %x, %{{.*}} : f32
// CHECK:       %[[NUM:.*]] = arith.select %[[NONNEG]], %{{.*}}, %[[E:[a-z0-9_]+]] : f32
// CHECK:       %[[DEN:.*]] = arith.addf %{{.*}}, %[[E]] : f32
// CHECK:       %[[R:.*]] = arith.divf %[[NUM]], %[[DEN]] : f32
// CHECK-NEXT:  func.return %[[R]] : f32
func.func @sigmoid(%x: f32) -> f32 {
  %one = arith.constant 1.000000e+00 : f32
  %n = arith.negf %x : f32
  %e = math.exp %n : f32
  %d = arith.addf %one, %e : f32
  %s = arith.divf %one, %d : f32
  func.return %s : f32
}

// erf: the small branch x + x P(x^2) and one tail polynomial whose coefficients are selected per
// interval; the sign put back with bit operations.
// CHECK-LABEL: func.func @erf(%x: f32) -> f32
// CHECK-NOT:   math.
// CHECK:       %[[NEAR:.*]] = arith.cmpf olt, %{{.*}}, %{{.*}} : f32
// CHECK:       arith.select %[[NEAR]], %{{.*}}, %{{.*}} : f32
// CHECK:       arith.ori
// CHECK:       %[[R:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK-NEXT:  func.return %[[R]] : f32
func.func @erf(%x: f32) -> f32 {
  %r = math.erf %x : f32
  func.return %r : f32
}

// f16 is computed in f32; f64 keeps its libm call (convert-to-llvm's).
// CHECK-LABEL: func.func @half_and_double(%h: f16, %d: f64) -> (f16, f64)
// CHECK:       arith.extf %h : f16 to f32
// CHECK-NOT:   math.tanh
// CHECK:       arith.divf
// CHECK:       %[[T:.*]] = arith.truncf %{{.*}} : f32 to f16
// CHECK-NEXT:  %[[E:.*]] = math.exp %d : f64
// CHECK-NEXT:  func.return %[[T]], %[[E]] : f16, f64
func.func @half_and_double(%h: f16, %d: f64) -> (f16, f64) {
  %a = math.tanh %h : f16
  %b = math.exp %d : f64
  func.return %a, %b : f16, f64
}

// AVX-512: the f16 tanh calls the f32 function between its conversions.
// AVX512-LABEL: func.func @half_and_double(%h: f16, %d: f64) -> (f16, f64)
// AVX512:       %[[W:.*]] = arith.extf %h : f16 to f32
// AVX512-NEXT:  %[[T:.*]] = func.call @relay_opt_tanh_f32(%[[W]]) : (f32) -> f32
// AVX512-NEXT:  arith.truncf %[[T]] : f32 to f16
// The scalar tanh (the 256-bit expansion above), for the vectorized loop's remainder.
// AVX512-LABEL: func.func @relay_opt_tanh_f32(%0: f32) -> f32
// AVX512-NOT:   math.
// AVX512:       arith.divf
// AVX512:       func.return
// The 16-lane tanh: |x| clamped (llvm.minimum keeps nan), the interval from its top bits
// (a saturating 16-bit subtract puts everything small in interval 0), the center and six
// coefficients each picked by a vpermi2ps from two registers, five FMAs, the sign back on.
// AVX512-LABEL: llvm.func @relay_opt_tanh_f32x16(%0: vector<16xf32>) -> vector<16xf32>
// AVX512:       %[[A:.*]] = llvm.call_intrinsic "llvm.minimum.v16f32"(%{{.*}}, %{{.*}}) : (vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// AVX512:       %[[S:.*]] = llvm.lshr %{{.*}}, %{{.*}} : vector<16xi32>
// AVX512:       llvm.call_intrinsic "llvm.usub.sat.v32i16"
// AVX512:       %[[I:.*]] = llvm.bitcast %{{.*}} : vector<32xi16> to vector<16xi32>
// AVX512:       %[[C:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpermi2var.ps.512"(%{{.*}}, %[[I]], %{{.*}})
// AVX512-NEXT:  %[[X:.*]] = llvm.fsub %[[A]], %[[C]] : vector<16xf32>
// AVX512-COUNT-5: llvm.intr.fma(%{{.*}}, %[[X]], %{{.*}})
// AVX512:       llvm.or
// AVX512:       llvm.return
