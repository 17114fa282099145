// RUN: relay-opt %s -p 'lower-contractions{vector-bits=256 min-macs=0 kernels=define}' | filecheck %s
// RUN: relay-opt %s -p 'lower-contractions{vector-bits=512 min-macs=0}' | filecheck %s --check-prefix=AVX512
// RUN: not relay-opt %s -p 'lower-contractions{vector-bits=100}' 2>&1 | filecheck %s --check-prefix=BAD

// BAD: relay-opt: error: lower-contractions: vector-bits must be 128, 256 or 512 (0: the host's), got 100

// A blocked conv2d (NCHW8c data, OIHW8i8o weight, 8 output lanes: AVX2's) named by
// convert-relay-to-linalg becomes one call of the conv routine. Its geometry comes from the
// maps: stride 2 (rows d2 * 2, columns (d3 * 3 + d8) * 2), dilation 1, the input already
// padded (padding 0). The elementwise generic after it, (conv + bias) + residual then max
// with 0, goes into the call: bias and residual pointers, flags 3, clip [0, inf]; the call
// writes the epilogue's destination where the epilogue was, and the conv's input is freed
// after it. The conv's buffer, its fill and the tile-shape operand disappear.
// CHECK-LABEL: func.func @conv_bias_residual_relu
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     linalg.fill
// CHECK:         %[[X:.*]] = "memref.extract_aligned_pointer_as_index"(%x) : (memref<1x2x8x8x8xf32>) -> index
// CHECK:         %[[W:.*]] = "memref.extract_aligned_pointer_as_index"(%w) : (memref<4x2x3x3x8x8xf32>) -> index
// CHECK:         %[[Y:.*]] = "memref.extract_aligned_pointer_as_index"(%out0) : (memref<1x4x3x3x8xf32>) -> index
// CHECK:         %[[B:.*]] = "memref.extract_aligned_pointer_as_index"(%b) : (memref<1x4x1x1x8xf32>) -> index
// CHECK:         %[[R:.*]] = "memref.extract_aligned_pointer_as_index"(%r) : (memref<1x4x3x3x8xf32>) -> index
// CHECK:         %[[LO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[HI:.*]] = arith.constant 0x7f800000 : f32
// CHECK-NEXT:    %[[N:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[C:.*]] = arith.constant 2 : i64
// CHECK-NEXT:    %[[IC:.*]] = arith.constant 8 : i64
// CHECK-NEXT:    %[[H:.*]] = arith.constant 8 : i64
// CHECK-NEXT:    %[[WI:.*]] = arith.constant 8 : i64
// CHECK-NEXT:    %[[OB:.*]] = arith.constant 4 : i64
// CHECK-NEXT:    %[[G:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[OH:.*]] = arith.constant 3 : i64
// CHECK-NEXT:    %[[OW:.*]] = arith.constant 3 : i64
// CHECK-NEXT:    %[[KH:.*]] = arith.constant 3 : i64
// CHECK-NEXT:    %[[KW:.*]] = arith.constant 3 : i64
// CHECK-NEXT:    %[[SH:.*]] = arith.constant 2 : i64
// CHECK-NEXT:    %[[SW:.*]] = arith.constant 2 : i64
// CHECK-NEXT:    %[[PH:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[PW:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[DH:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[DW:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[FLAGS:.*]] = arith.constant 3 : i64
// CHECK-NEXT:    llvm.call @relay_opt_conv2d_nchw8c_6x2(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[N]], %[[C]], %[[IC]], %[[H]], %[[WI]], %[[OB]], %[[G]], %[[OH]], %[[OW]], %[[KH]], %[[KW]], %[[SH]], %[[SW]], %[[PH]], %[[PW]], %[[DH]], %[[DW]], %[[FLAGS]], %[[LO]], %[[HI]])
// CHECK-NEXT:    memref.dealloc %x : memref<1x2x8x8x8xf32>
// CHECK-NEXT:    func.return
func.func @conv_bias_residual_relu(%w: memref<4x2x3x3x8x8xf32>, %b: memref<1x4x1x1x8xf32>, %r: memref<1x4x3x3x8xf32>, %out0: memref<1x4x3x3x8xf32>) {
  %x = memref.alloc() : memref<1x2x8x8x8xf32>
  %zero = arith.constant 0.000000e+00 : f32
  %y = memref.alloc() : memref<1x4x3x3x8xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<1x4x3x3x8xf32>)
  %tiles = memref.alloc() : memref<1x3xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d0, d4, ((d2 * 2) + d5), (((d3 * 6) + (d8 * 2)) + d6), d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d1, d4, d5, d6, d7, d9)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d3, d8)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d0, d1, d2, ((d3 * 3) + d8), d9)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "reduction", "parallel", "parallel"]} ins(%x, %w, %tiles : memref<1x2x8x8x8xf32>, memref<4x2x3x3x8x8xf32>, memref<1x3xf32>) outs(%y : memref<1x4x3x3x8xf32>) attrs = {relay_opt.contraction = "conv2d"} {
  ^bb0(%a: f32, %k: f32, %t: f32, %acc: f32):
    %p = arith.mulf %a, %k : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %tiles : memref<1x3xf32>
  memref.dealloc %x : memref<1x2x8x8x8xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, 0, 0, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%r, %y, %b : memref<1x4x3x3x8xf32>, memref<1x4x3x3x8xf32>, memref<1x4x1x1x8xf32>) outs(%out0 : memref<1x4x3x3x8xf32>) {
  ^bb0(%res: f32, %v: f32, %bias: f32, %o: f32):
    %0 = arith.addf %v, %bias : f32
    %1 = arith.addf %0, %res : f32
    %c0 = arith.constant 0.000000e+00 : f32
    %2 = arith.maximumf %1, %c0 : f32
    linalg.yield %2 : f32
  }
  memref.dealloc %y : memref<1x4x3x3x8xf32>
  func.return
}

// An epilogue the routine cannot apply (a multiply) stays a loop over the conv's buffer;
// the call writes that buffer with no epilogue (flags 0, clip [-inf, inf]), dilation 2.
// CHECK-LABEL: func.func @conv_other_epilogue
// CHECK:         %[[Y:.*]] = memref.alloc() : memref<1x1x2x2x8xf32>
// CHECK:         arith.constant 0xff800000 : f32
// CHECK-NEXT:    arith.constant 0x7f800000 : f32
// CHECK:         arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 0 : i64
// CHECK-NEXT:    arith.constant 2 : i64
// CHECK-NEXT:    arith.constant 2 : i64
// CHECK-NEXT:    %[[FLAGS:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    llvm.call @relay_opt_conv2d_nchw8c_6x2({{.*}}, %[[FLAGS]], %{{.*}}, %{{.*}})
// CHECK-NEXT:    linalg.generic {{.*}} ins(%[[Y]], %b : memref<1x1x2x2x8xf32>, memref<1x1x1x1x8xf32>)
// CHECK:           arith.mulf
func.func @conv_other_epilogue(%x: memref<1x1x6x6x8xf32>, %w: memref<1x1x3x3x8x8xf32>, %b: memref<1x1x1x1x8xf32>, %out0: memref<1x1x2x2x8xf32>) {
  %zero = arith.constant 0.000000e+00 : f32
  %y = memref.alloc() : memref<1x1x2x2x8xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<1x1x2x2x8xf32>)
  %tiles = memref.alloc() : memref<1x2xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d0, d4, (d2 + (d5 * 2)), (((d3 * 2) + d8) + (d6 * 2)), d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d1, d4, d5, d6, d7, d9)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d3, d8)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d0, d1, d2, ((d3 * 2) + d8), d9)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "reduction", "parallel", "parallel"]} ins(%x, %w, %tiles : memref<1x1x6x6x8xf32>, memref<1x1x3x3x8x8xf32>, memref<1x2xf32>) outs(%y : memref<1x1x2x2x8xf32>) attrs = {relay_opt.contraction = "conv2d"} {
  ^bb0(%a: f32, %k: f32, %t: f32, %acc: f32):
    %p = arith.mulf %a, %k : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %tiles : memref<1x2xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, 0, 0, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%y, %b : memref<1x1x2x2x8xf32>, memref<1x1x1x1x8xf32>) outs(%out0 : memref<1x1x2x2x8xf32>) {
  ^bb0(%v: f32, %bias: f32, %o: f32):
    %0 = arith.mulf %v, %bias : f32
    linalg.yield %0 : f32
  }
  memref.dealloc %y : memref<1x1x2x2x8xf32>
  func.return
}

// min with -0.5 then max with 0 is 0 everywhere, which no single clamp [lo, hi] with lo > hi
// applied as max-then-min gives: the epilogue stays a loop.
// CHECK-LABEL: func.func @conv_empty_clamp
// CHECK:         llvm.call @relay_opt_conv2d_nchw8c_6x2(
// CHECK-NEXT:    linalg.generic
// CHECK:           arith.minimumf
// CHECK-NEXT:      arith.maximumf
func.func @conv_empty_clamp(%x: memref<1x1x6x6x8xf32>, %w: memref<1x1x3x3x8x8xf32>, %out0: memref<1x1x4x4x8xf32>) {
  %zero = arith.constant 0.000000e+00 : f32
  %y = memref.alloc() : memref<1x1x4x4x8xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<1x1x4x4x8xf32>)
  %tiles = memref.alloc() : memref<1x4xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d0, d4, (d2 + d5), (((d3 * 4) + d8) + d6), d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d1, d4, d5, d6, d7, d9)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d3, d8)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9) -> (d0, d1, d2, ((d3 * 4) + d8), d9)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "reduction", "parallel", "parallel"]} ins(%x, %w, %tiles : memref<1x1x6x6x8xf32>, memref<1x1x3x3x8x8xf32>, memref<1x4xf32>) outs(%y : memref<1x1x4x4x8xf32>) attrs = {relay_opt.contraction = "conv2d"} {
  ^bb0(%a: f32, %k: f32, %t: f32, %acc: f32):
    %p = arith.mulf %a, %k : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %tiles : memref<1x4xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%y : memref<1x1x4x4x8xf32>) outs(%out0 : memref<1x1x4x4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %h = arith.constant -5.000000e-01 : f32
    %0 = arith.minimumf %v, %h : f32
    %1 = arith.maximumf %0, %zero : f32
    linalg.yield %1 : f32
  }
  memref.dealloc %y : memref<1x1x4x4x8xf32>
  func.return
}

// A grouped blocked conv2d (loops n, g, ob, y, xo, ib, i, j, ii, xi, oo): C and OB per group
// (2 input blocks of 2 channels, 2 output blocks), G = 2, read from the maps and the unread
// operand's shape (2 x 2 x 1 x 5); no epilogue.
// CHECK-LABEL: func.func @conv_grouped
// CHECK-NOT:     linalg.generic
// CHECK:         %[[N:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[C:.*]] = arith.constant 2 : i64
// CHECK-NEXT:    %[[IC:.*]] = arith.constant 2 : i64
// CHECK-NEXT:    %[[H:.*]] = arith.constant 5 : i64
// CHECK-NEXT:    %[[WI:.*]] = arith.constant 7 : i64
// CHECK-NEXT:    %[[OB:.*]] = arith.constant 2 : i64
// CHECK-NEXT:    %[[G:.*]] = arith.constant 2 : i64
// CHECK-NEXT:    %[[OH:.*]] = arith.constant 5 : i64
// CHECK-NEXT:    %[[OW:.*]] = arith.constant 5 : i64
// CHECK-NEXT:    %[[KH:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[KW:.*]] = arith.constant 3 : i64
// CHECK-NEXT:    %[[SH:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[SW:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[PH:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[PW:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[DH:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[DW:.*]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[FLAGS:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    llvm.call @relay_opt_conv2d_nchw8c_6x2(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[N]], %[[C]], %[[IC]], %[[H]], %[[WI]], %[[OB]], %[[G]], %[[OH]], %[[OW]], %[[KH]], %[[KW]], %[[SH]], %[[SW]], %[[PH]], %[[PW]], %[[DH]], %[[DW]], %[[FLAGS]], %{{.*}}, %{{.*}})
// CHECK-NEXT:    func.return
func.func @conv_grouped(%x: memref<1x4x5x7x2xf32>, %w: memref<4x2x1x3x2x8xf32>, %y: memref<1x4x5x5x8xf32>) {
  %zero = arith.constant 0.000000e+00 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<1x4x5x5x8xf32>)
  %tiles = memref.alloc() : memref<2x2x1x5xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10) -> (d0, ((d1 * 2) + d5), (d3 + d6), (((d4 * 5) + d9) + d7), d8)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10) -> (((d1 * 2) + d2), d5, d6, d7, d8, d10)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10) -> (d1, d2, d4, d9)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10) -> (d0, ((d1 * 2) + d2), d3, ((d4 * 5) + d9), d10)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "reduction", "parallel", "parallel"]} ins(%x, %w, %tiles : memref<1x4x5x7x2xf32>, memref<4x2x1x3x2x8xf32>, memref<2x2x1x5xf32>) outs(%y : memref<1x4x5x5x8xf32>) attrs = {relay_opt.contraction = "conv2d"} {
  ^bb0(%a: f32, %k: f32, %t: f32, %acc: f32):
    %p = arith.mulf %a, %k : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %tiles : memref<2x2x1x5xf32>
  func.return
}

// The routine, added once, in two functions. Its work items (an output row, or a band of
// an unpadded image's pixels, of a pair of output-channel blocks or of an odd last block) are one thread-pool
// task: the parameters read from the context, the zero vector read when there is no bias,
// the valid kernel rows of each output row, the 6 x 2 tile (a broadcast input element, two
// weight vectors, two FMAs per column) and the epilogue at the store (bias, the residual
// selected by its flag, llvm.maximum/minimum with the clip bounds).
// CHECK-LABEL: llvm.func internal @relay_opt_conv2d_nchw8c_6x2_rows(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64) -> i64
// CHECK:         llvm.load %{{.*}} {alignment = 8 : i64} : !llvm.ptr -> i64
// CHECK:         llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr -> f32
// CHECK:         llvm.alloca %{{.*}} x f32 {alignment = 64 : i64}
// CHECK:         llvm.intr.fma(%[[X:[0-9]+]], %{{.*}}, %{{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK-NEXT:    llvm.intr.fma(%[[X]], %{{.*}}, %{{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK:         llvm.call_intrinsic "llvm.maximum.v8f32"
// CHECK-NEXT:    llvm.call_intrinsic "llvm.minimum.v8f32"
// Without padding a band of pixels ends in narrower fast tiles: the rest (under 6 pixels)
// in tiles of 4, 2 and 1 columns, each where its bit of the rest is set, after the wider
// ones. A tile's column is one on from the last, and past an output row's end (sge OW)
// back at 0 and one input row down, so a tile crosses any number of row ends.
// CHECK:         %[[M8:.*]] = llvm.mlir.constant(-8) : i64
// CHECK-NEXT:    %[[WIDER:.*]] = llvm.and %[[REST:.*]], %[[M8]] : i64
// CHECK-NEXT:    %[[FOUR:.*]] = llvm.mlir.constant(4) : i64
// CHECK-NEXT:    %[[BIT:.*]] = llvm.and %[[REST]], %[[FOUR]] : i64
// CHECK-NEXT:    %[[TAKE:.*]] = llvm.icmp "ne" %[[BIT]], %{{.*}} : i64
// CHECK-NEXT:    %{{.*}} = llvm.add %{{.*}}, %[[WIDER]] : i64
// CHECK-NEXT:    llvm.cond_br %[[TAKE]]
// CHECK:         %[[COL:.*]] = llvm.add %{{.*}}, %{{.*}} : i64
// CHECK-NEXT:    %[[WRAP:.*]] = llvm.icmp "sge" %[[COL]], %{{.*}} : i64
// CHECK-NEXT:    %[[ZERO:.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    llvm.select %[[WRAP]], %[[ZERO]], %[[COL]] : i1, i64
// CHECK:         llvm.mlir.constant(-4) : i64
// CHECK-NEXT:    llvm.and %[[REST]], %{{.*}} : i64
// CHECK-NEXT:    llvm.mlir.constant(2) : i64
// CHECK:         llvm.mlir.constant(-2) : i64
// CHECK-NEXT:    llvm.and %[[REST]], %{{.*}} : i64
// CHECK-NEXT:    llvm.mlir.constant(1) : i64
// The entry: its parameters into a context, then per image (after its scratch copy, when
// the routine copies) the image's work items to the thread pool.
// CHECK-LABEL: llvm.func internal @relay_opt_conv2d_nchw8c_6x2(%X: !llvm.ptr, %W: !llvm.ptr, %Y: !llvm.ptr, %bias: !llvm.ptr, %residual: !llvm.ptr, %N: i64, %C: i64, %IC: i64, %H: i64, %WI: i64, %OB: i64, %G: i64, %OH: i64, %OW: i64, %KH: i64, %KW: i64, %SH: i64, %SW: i64, %PH: i64, %PW: i64, %DH: i64, %DW: i64, %flags: i64, %lo: f32, %hi: f32)
// CHECK:         %[[CTX:.*]] = llvm.alloca %{{.*}} x i64 {alignment = 8 : i64}
// CHECK:         %[[TASK:.*]] = llvm.mlir.addressof @relay_opt_conv2d_nchw8c_6x2_rows : !llvm.ptr
// CHECK:         llvm.call @relay_opt_parallel_for(%[[TASK]], %[[CTX]], %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64, i64) -> i64
// CHECK-NOT:     llvm.intr.fma
// CHECK-NOT:   llvm.func internal @relay_opt_conv2d

// With AVX-512's 16 lanes, these 8-lane output blocks keep their loops.
// AVX512-NOT: llvm.call @relay_opt_conv2d
// AVX512-NOT: llvm.func internal @relay_opt_conv2d
