// RUN: relay-opt %s -p 'parallelize-loops{min-work=1000}' --split-input-file | filecheck %s
// RUN: relay-opt %s -p parallelize-loops --split-input-file | filecheck %s --check-prefix=DEFAULT
// RUN: relay-opt %s -p 'parallelize-loops{min-work=1000},convert-scf-to-cf,convert-to-llvm' --split-input-file | filecheck %s --check-prefix=LLVM
// RUN: not relay-opt %s -p 'parallelize-loops{min-work=0}' 2>&1 | filecheck %s --check-prefix=BAD

// BAD: relay-opt: error: parallelize-loops: min-work must be at least 1, got 0

// An elementwise nest under a batch loop of one iteration: the channel loop is outlined.
// The buffers go through the context, constants are cloned, the batch variable becomes its
// lower bound.
// DEFAULT-NOT: relay_opt.parallel_for
// CHECK-LABEL: func.func @relu(
// CHECK:         scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:      %[[SLOTS:.*]] = arith.constant 2 : i64
// CHECK-NEXT:      %[[CTX:.*]] = llvm.alloca %[[SLOTS]] x i64 {alignment = 8 : i64} : (i64) -> !llvm.ptr
// CHECK-NEXT:      %[[K0:.*]] = arith.constant 0 : i64
// CHECK-NEXT:      %[[S0:.*]] = llvm.getelementptr inbounds %[[CTX]][%[[K0]]] : (!llvm.ptr, i64) -> !llvm.ptr, i64
// CHECK-NEXT:      %[[X:.*]] = "memref.extract_aligned_pointer_as_index"(%x) : (memref<1x8x16x16xf32>) -> index
// CHECK-NEXT:      %[[XI:.*]] = arith.index_cast %[[X]] : index to i64
// CHECK-NEXT:      llvm.store %[[XI]], %[[S0]] {alignment = 8 : i64} : i64, !llvm.ptr
// CHECK:           "memref.extract_aligned_pointer_as_index"(%out0)
// CHECK:           %[[N:.*]] = arith.constant 8 : i64
// CHECK-NEXT:      %[[GRAIN:.*]] = arith.constant 1 : i64
// CHECK-NEXT:      %{{.*}} = func.call @relay_opt.parallel_for(%[[CTX]], %[[N]], %[[GRAIN]]) {relay_opt.task = @relu_loop0} : (!llvm.ptr, i64, i64) -> i64
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return
// The task reads its values from the context and calls the loop for its iterations,
// [0 + begin * 1, min(0 + end * 1, 8)).
// CHECK-LABEL: func.func private @relu_loop0(%0: !llvm.ptr, %1: i64, %2: i64) -> i64 {
// CHECK:         %[[XP:.*]] = llvm.inttoptr %{{.*}} : i64 to !llvm.ptr
// CHECK-NEXT:    %[[XM:.*]] = builtin.unrealized_conversion_cast %[[XP]] : !llvm.ptr to memref<1x8x16x16xf32>
// CHECK:         %[[OUT:.*]] = builtin.unrealized_conversion_cast %{{.*}} : !llvm.ptr to memref<1x8x16x16xf32>
// CHECK-NEXT:    %[[LB:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[UB:.*]] = arith.constant 8 : index
// CHECK-NEXT:    %[[STEP:.*]] = arith.constant 1 : index
// CHECK-NEXT:    %[[B:.*]] = arith.index_cast %1 : i64 to index
// CHECK-NEXT:    %[[BS:.*]] = arith.muli %[[B]], %[[STEP]] : index
// CHECK-NEXT:    %[[FIRST:.*]] = arith.addi %[[LB]], %[[BS]] : index
// CHECK-NEXT:    %[[E:.*]] = arith.index_cast %2 : i64 to index
// CHECK-NEXT:    %[[ES:.*]] = arith.muli %[[E]], %[[STEP]] : index
// CHECK-NEXT:    %[[END:.*]] = arith.addi %[[LB]], %[[ES]] : index
// CHECK-NEXT:    %[[LAST:.*]] = arith.minsi %[[END]], %[[UB]] : index
// CHECK-NEXT:    func.call @relu_loop0_body(%[[FIRST]], %[[LAST]], %[[XM]], %[[OUT]]) : (index, index, memref<1x8x16x16xf32>, memref<1x8x16x16xf32>) -> ()
// CHECK-NEXT:    %[[ZERO:.*]] = arith.constant 0 : i64
// CHECK-NEXT:    func.return %[[ZERO]] : i64
// The loop, in a function of its buffers (read ones first, written ones last, counted as its
// outputs): @relu's parameters are noalias, so convert-to-llvm proves these noalias too.
// CHECK-LABEL: func.func private @relu_loop0_body(%0: index, %1: index, %x: memref<1x8x16x16xf32>, %out0: memref<1x8x16x16xf32>) attributes {relay_opt.outputs = 1 : i64} {
// CHECK:         %[[C0:.*]] = arith.constant 0 : index
// CHECK:         scf.for %[[C:.*]] = %0 to %1 step %{{.*}} {
// CHECK:             memref.load %x[%[[C0]], %[[C]], %{{.*}}, %{{.*}}] : memref<1x8x16x16xf32>
// CHECK:             memref.store %{{.*}}, %out0[%[[C0]], %[[C]], %{{.*}}, %{{.*}}] : memref<1x8x16x16xf32>
// CHECK:         func.return
// CHECK:       func.func private @relay_opt.parallel_for(!llvm.ptr, i64, i64) -> i64

// After convert-to-llvm: the pool's entry point, called with the task's address.
// LLVM-LABEL: llvm.func @relu(
// LLVM:         %[[TASK:.*]] = llvm.mlir.addressof @relu_loop0 : !llvm.ptr
// LLVM-NEXT:    %{{.*}} = llvm.call @relay_opt_parallel_for(%[[TASK]], %{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64, i64) -> i64
// LLVM:       llvm.func @relu_loop0(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64) -> i64
// LLVM:       llvm.func @relu_loop0_body(%{{.*}}: i64, %{{.*}}: i64, %x_1: !llvm.ptr {llvm.noalias}, %out0_1: !llvm.ptr {llvm.noalias})
// LLVM:       llvm.func @relay_opt_parallel_for(!llvm.ptr, !llvm.ptr, i64, i64) -> i64
// LLVM-NOT:   relay_opt.parallel_for
func.func @relu(%x: memref<1x8x16x16xf32>, %out0: memref<1x8x16x16xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.000000e+00 : f32
  scf.for %n = %c0 to %c1 step %c1 {
    scf.for %c = %c0 to %c8 step %c1 {
      scf.for %h = %c0 to %c16 step %c1 {
        scf.for %w = %c0 to %c16 step %c1 {
          %v = memref.load %x[%n, %c, %h, %w] : memref<1x8x16x16xf32>
          %r = arith.maximumf %v, %zero : f32
          memref.store %r, %out0[%n, %c, %h, %w] : memref<1x8x16x16xf32>
        }
      }
    }
  }
  func.return
}

// -----

// A reduction over the outer axis: every iteration writes all of %out0, so nothing is
// outlined; the reduction over the inner axis of %out1 is.
// CHECK-LABEL: func.func @sums(
// CHECK:         scf.for %[[R:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:      scf.for
// CHECK:           memref.store %{{.*}}, %out0[%{{.*}}] : memref<64xf32>
// CHECK:         func.call @relay_opt.parallel_for({{.*}}) {relay_opt.task = @sums_loop0}
// CHECK-NOT:     relay_opt.task
// @sums has no out-parameters proven: its task's buffers get no outputs count (no noalias).
// CHECK-LABEL: func.func private @sums_loop0(
// CHECK:       func.func private @sums_loop0_body(%0: index, %1: index, %x: memref<64x64xf32>, %out1: memref<64xf32>) {
// CHECK:         memref.store %{{.*}}, %out1[%{{.*}}] : memref<64xf32>
func.func @sums(%x: memref<64x64xf32>, %out0: memref<64xf32>, %out1: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.for %r = %c0 to %c64 step %c1 {
    scf.for %c = %c0 to %c64 step %c1 {
      %v = memref.load %x[%r, %c] : memref<64x64xf32>
      %acc = memref.load %out0[%c] : memref<64xf32>
      %s = arith.addf %acc, %v : f32
      memref.store %s, %out0[%c] : memref<64xf32>
    }
  }
  scf.for %r = %c0 to %c64 step %c1 {
    scf.for %c = %c0 to %c64 step %c1 {
      %v = memref.load %x[%r, %c] : memref<64x64xf32>
      %acc = memref.load %out1[%r] : memref<64xf32>
      %s = arith.addf %acc, %v : f32
      memref.store %s, %out1[%r] : memref<64xf32>
    }
  }
  func.return
}

// -----

// Left alone: a call of another function in the nest (it may write anything), a loop that
// carries a value, and a nest below min-work.
// CHECK-LABEL: func.func @left_alone(
// CHECK-NOT:     relay_opt.parallel_for
// CHECK:         func.return
func.func private @opaque(index) -> ()
func.func @left_alone(%out0: memref<64x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %one = arith.constant 1.000000e+00 : f32
  scf.for %r = %c0 to %c64 step %c1 {
    scf.for %c = %c0 to %c64 step %c1 {
      func.call @opaque(%c) : (index) -> ()
      memref.store %one, %out0[%r, %c] : memref<64x64xf32>
    }
  }
  %sum = scf.for %r = %c0 to %c64 step %c1 iter_args(%acc = %one) -> (f32) {
    %inner = scf.for %c = %c0 to %c64 step %c1 iter_args(%a = %acc) -> (f32) {
      %v = memref.load %out0[%r, %c] : memref<64x64xf32>
      %s = arith.addf %a, %v : f32
      scf.yield %s : f32
    }
    scf.yield %inner : f32
  }
  scf.for %r = %c0 to %c8 step %c1 {
    scf.for %c = %c0 to %c8 step %c1 {
      memref.store %sum, %out0[%r, %c] : memref<64x64xf32>
    }
  }
  func.return
}

// -----

// Left alone: row r reads row r + 1 of the buffer it writes, through another view of it.
// CHECK-LABEL: func.func @shift_rows(
// CHECK-NOT:     relay_opt.parallel_for
// CHECK:         func.return
func.func @shift_rows(%out0: memref<64x64xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c63 = arith.constant 63 : index
  %c64 = arith.constant 64 : index
  %next = memref.subview %out0[1, 0] [63, 64] [1, 1] : memref<64x64xf32> to memref<63x64xf32, strided<[64, 1], offset: 64>>
  scf.for %r = %c0 to %c63 step %c1 {
    scf.for %c = %c0 to %c64 step %c1 {
      %v = memref.load %next[%r, %c] : memref<63x64xf32, strided<[64, 1], offset: 64>>
      memref.store %v, %out0[%r, %c] : memref<64x64xf32>
    }
  }
  func.return
}

// -----

// Left alone: a buffer with ? dims is a pointer and its sizes in convert-to-llvm's calling
// convention, not the one pointer a context slot holds (dyn.tile's result, found by the fuzzer),
// even when the nest's trip counts are static.
// CHECK-LABEL: func.func @dynamic_rows(
// CHECK-NOT:     relay_opt.parallel_for
// CHECK:         func.return
func.func @dynamic_rows(%x: memref<?x64xf32>, %out0: memref<?x64xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.for %r = %c0 to %c64 step %c1 {
    scf.for %c = %c0 to %c64 step %c1 {
      %v = memref.load %x[%r, %c] : memref<?x64xf32>
      memref.store %v, %out0[%r, %c] : memref<?x64xf32>
    }
  }
  func.return
}
