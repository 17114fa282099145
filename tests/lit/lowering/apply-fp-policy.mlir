// RUN: relay-opt %s -p apply-fp-policy --split-input-file | filecheck %s
// RUN: relay-opt %s -p 'apply-fp-policy{fp-policy=strict}' --split-input-file | filecheck %s --check-prefix=STRICT
// RUN: relay-opt %s -p 'apply-fp-policy{fp-policy=fast},convert-linalg-to-loops,convert-scf-to-cf,convert-to-llvm' --split-input-file | filecheck %s --check-prefix=LLVM
// RUN: not relay-opt %s -p 'apply-fp-policy{fp-policy=loose}' 2>&1 | filecheck %s --check-prefix=BAD

// The fast policy (the default): `contract` on every float add, subtract and multiply;
// `reassoc` too on the accumulation of a reduction (from the output block argument to the
// yield), and nowhere else. Flags already written are kept. The strict policy adds none.
// BAD: relay-opt: error: unknown floating-point policy 'loose' (expected fast or strict)
// STRICT-NOT: contract
// STRICT-NOT: reassoc
// STRICT:     arith.subf %{{.*}}, %{{.*}} fastmath<nnan> : f32
// STRICT-NOT: contract
// STRICT-NOT: reassoc
// CHECK-LABEL: func.func @reductions(
func.func @reductions(%x: memref<4x8xf32>, %m: memref<4x1xf32>, %s: memref<4xf32>, %v: memref<4xf32>, %out0: memref<4xf32>) attributes {relay_opt.outputs = 1 : i64} {
  // A sum: the accumulation is reassociated.
  // CHECK:      ^bb0(%{{.*}}: f32, %[[ACC:.*]]: f32):
  // CHECK-NEXT:   %[[SUM:.*]] = arith.addf %[[ACC]], %{{.*}} fastmath<reassoc,contract> : f32
  // CHECK-NEXT:   linalg.yield %[[SUM]] : f32
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x8xf32>) outs(%s : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sum = arith.addf %acc, %a : f32
    linalg.yield %sum : f32
  }
  // A variance's body: what feeds the accumulation is contracted only; its nnan stays.
  // CHECK:      ^bb0(%{{.*}}: f32, %{{.*}}: f32, %[[VACC:.*]]: f32):
  // CHECK-NEXT:   %[[D:.*]] = arith.subf %{{.*}}, %{{.*}} fastmath<nnan,contract> : f32
  // CHECK-NEXT:   %[[SQ:.*]] = arith.mulf %[[D]], %[[D]] fastmath<contract> : f32
  // CHECK-NEXT:   %[[VS:.*]] = arith.addf %[[VACC]], %[[SQ]] fastmath<reassoc,contract> : f32
  // CHECK-NEXT:   linalg.yield %[[VS]] : f32
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x, %m : memref<4x8xf32>, memref<4x1xf32>) outs(%v : memref<4xf32>) {
  ^bb0(%b: f32, %mean: f32, %vacc: f32):
    %d = arith.subf %b, %mean fastmath<nnan> : f32
    %sq = arith.mulf %d, %d : f32
    %vs = arith.addf %vacc, %sq : f32
    linalg.yield %vs : f32
  }
  // Elementwise: contracted, never reassociated; division and integers get no flags.
  // CHECK:      linalg.generic
  // CHECK-SAME:   iterator_types = ["parallel"]
  // CHECK-NEXT: ^bb0(
  // CHECK-NEXT:   %{{.*}} = arith.mulf %{{.*}}, %{{.*}} fastmath<contract> : f32
  // CHECK-NEXT:   %{{.*}} = arith.addf %{{.*}}, %{{.*}} fastmath<contract> : f32
  // CHECK-NEXT:   %{{.*}} = arith.divf %{{.*}}, %{{.*}} : f32
  // CHECK-NEXT:   linalg.yield
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%s, %v : memref<4xf32>, memref<4xf32>) outs(%out0 : memref<4xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %pq = arith.mulf %p, %q : f32
    %r = arith.addf %pq, %p : f32
    %t = arith.divf %r, %q : f32
    linalg.yield %t : f32
  }
  func.return
}

// -----

// fuse-linalg-epilogue's form: the reduction is an scf.for carrying the accumulator; the
// epilogue after the loop (a bias) is contracted only.
// CHECK-LABEL: func.func @epilogue(
// CHECK:         scf.for {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (f32) {
// CHECK:           %[[M:.*]] = arith.mulf %{{.*}}, %{{.*}} fastmath<contract> : f32
// CHECK-NEXT:      %[[S:.*]] = arith.addf %[[ACC]], %[[M]] fastmath<reassoc,contract> : f32
// CHECK-NEXT:      scf.yield %[[S]] : f32
// CHECK:         arith.addf %{{.*}}, %{{.*}} fastmath<contract> : f32
// CHECK-NOT:     reassoc
// LLVM-LABEL: llvm.func @epilogue(
// LLVM:         llvm.fmul %{{.*}}, %{{.*}} {fastmathFlags = #llvm.fastmath<contract>} : f32
// LLVM-NEXT:    llvm.fadd %{{.*}}, %{{.*}} {fastmathFlags = #llvm.fastmath<reassoc,contract>} : f32
// LLVM:         llvm.fadd %{{.*}}, %{{.*}} {fastmathFlags = #llvm.fastmath<contract>} : f32
func.func @epilogue(%x: memref<4x8xf32>, %w: memref<6x8xf32>, %b: memref<6xf32>, %out0: memref<4x6xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %zero = arith.constant 0.000000e+00 : f32
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%b : memref<6xf32>) outs(%out0 : memref<4x6xf32>) {
  ^bb0(%bias: f32, %o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %y = scf.for %k = %c0 to %c8 step %c1 iter_args(%acc = %zero) -> (f32) {
      %xv = memref.load %x[%i, %k] : memref<4x8xf32>
      %wv = memref.load %w[%j, %k] : memref<6x8xf32>
      %m = arith.mulf %xv, %wv : f32
      %s = arith.addf %acc, %m : f32
      scf.yield %s : f32
    }
    %t = arith.addf %y, %bias : f32
    linalg.yield %t : f32
  }
  func.return
}
