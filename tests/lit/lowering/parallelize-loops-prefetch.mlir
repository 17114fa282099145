// RUN: relay-opt %s -p 'parallelize-loops{min-work=1000 prefetch-bytes=4096}' --split-input-file | filecheck %s
// RUN: relay-opt %s -p 'parallelize-loops{min-work=1000}' --split-input-file | filecheck %s --check-prefix=SMALL
// RUN: relay-opt %s -p 'parallelize-loops{min-work=1000 prefetch-bytes=4096},convert-scf-to-cf,convert-to-llvm' --split-input-file | filecheck %s --check-prefix=LLVM
// RUN: not relay-opt %s -p 'parallelize-loops{prefetch-bytes=-1}' 2>&1 | filecheck %s --check-prefix=BAD

// BAD: relay-opt: error: parallelize-loops: prefetch-bytes must be at least 0, got -1

// Below prefetch-bytes (the default, 512 KiB) the outlined loops stay as they were.
// SMALL-NOT: llvm.prefetch

// A flat elementwise loop (32 KiB streamed): blocks of one cache line (16 float32), each
// prefetching its input and its output 4 KiB ahead (read 0, write 1), then the block's
// 16 elements; the iterations after the last whole block run as before. The scale, one
// element for the whole loop, is not prefetched.
// CHECK-LABEL: func.func private @scale_loop0_body(%0: index, %1: index, %x: memref<4096xf32>, %s: memref<1xf32>, %out0: memref<4096xf32>)
// CHECK:         %[[B:.*]] = arith.constant 16 : index
// CHECK-NEXT:    %[[LEN:.*]] = arith.subi %1, %0 : index
// CHECK-NEXT:    %[[NB:.*]] = arith.divsi %[[LEN]], %[[B]] : index
// CHECK-NEXT:    %[[WHOLE:.*]] = arith.muli %[[NB]], %[[B]] : index
// CHECK-NEXT:    %[[FULL:.*]] = arith.addi %0, %[[WHOLE]] : index
// CHECK-NEXT:    %[[XP:.*]] = "memref.extract_aligned_pointer_as_index"(%x) : (memref<4096xf32>) -> index
// CHECK-NEXT:    %[[XI:.*]] = arith.index_cast %[[XP]] : index to i64
// CHECK-NEXT:    %[[D:.*]] = arith.constant 4096 : i64
// CHECK-NEXT:    %[[XA:.*]] = arith.addi %[[XI]], %[[D]] : i64
// CHECK-NEXT:    %[[OP:.*]] = "memref.extract_aligned_pointer_as_index"(%out0) : (memref<4096xf32>) -> index
// CHECK-NEXT:    %[[OI:.*]] = arith.index_cast %[[OP]] : index to i64
// CHECK-NEXT:    %[[D2:.*]] = arith.constant 4096 : i64
// CHECK-NEXT:    %[[OA:.*]] = arith.addi %[[OI]], %[[D2]] : i64
// CHECK-NEXT:    %[[READ:.*]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[WRITE:.*]] = arith.constant 1 : i32
// CHECK-NEXT:    %[[LOC:.*]] = arith.constant 3 : i32
// CHECK-NEXT:    %[[DATA:.*]] = arith.constant 1 : i32
// CHECK-NEXT:    %[[F32:.*]] = arith.constant 4 : i64
// CHECK-NEXT:    %[[ZERO:.*]] = arith.constant 0 : index
// CHECK-NEXT:    scf.for %[[BLK:.*]] = %0 to %[[FULL]] step %[[B]] {
// CHECK-NEXT:      %[[K:.*]] = arith.index_cast %[[BLK]] : index to i64
// CHECK-NEXT:      %[[KB:.*]] = arith.muli %[[K]], %[[F32]] : i64
// CHECK-NEXT:      %[[XAT:.*]] = arith.addi %[[XA]], %[[KB]] : i64
// CHECK-NEXT:      %[[XPTR:.*]] = llvm.inttoptr %[[XAT]] : i64 to !llvm.ptr
// CHECK-NEXT:      llvm.call_intrinsic "llvm.prefetch.p0"(%[[XPTR]], %[[READ]], %[[LOC]], %[[DATA]]) : (!llvm.ptr, i32, i32, i32) -> ()
// CHECK-NEXT:      %[[K2:.*]] = arith.index_cast %[[BLK]] : index to i64
// CHECK-NEXT:      %[[KB2:.*]] = arith.muli %[[K2]], %[[F32]] : i64
// CHECK-NEXT:      %[[OAT:.*]] = arith.addi %[[OA]], %[[KB2]] : i64
// CHECK-NEXT:      %[[OPTR:.*]] = llvm.inttoptr %[[OAT]] : i64 to !llvm.ptr
// CHECK-NEXT:      llvm.call_intrinsic "llvm.prefetch.p0"(%[[OPTR]], %[[WRITE]], %[[LOC]], %[[DATA]]) : (!llvm.ptr, i32, i32, i32) -> ()
// CHECK-NEXT:      scf.for %[[J:.*]] = %[[ZERO]] to %[[B]] step %c1 {
// CHECK-NEXT:        %[[I:.*]] = arith.addi %[[BLK]], %[[J]] : index
// CHECK-NEXT:        %{{.*}} = memref.load %x[%[[I]]] : memref<4096xf32>
// CHECK-NEXT:        %{{.*}} = memref.load %s[%c0] : memref<1xf32>
// CHECK-NEXT:        %[[M:.*]] = arith.mulf
// CHECK-NEXT:        memref.store %[[M]], %out0[%[[I]]] : memref<4096xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    scf.for %[[R:.*]] = %[[FULL]] to %1 step %c1 {
// CHECK-NEXT:      %{{.*}} = memref.load %x[%[[R]]] : memref<4096xf32>
// CHECK-NEXT:      %{{.*}} = memref.load %s[%c0] : memref<1xf32>
// CHECK-NEXT:      %[[M2:.*]] = arith.mulf
// CHECK-NEXT:      memref.store %[[M2]], %out0[%[[R]]] : memref<4096xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

// The prefetch addresses only feed prefetches: convert-to-llvm keeps the loop's buffers
// noalias (a runtime overlap check in every block would cost more than the prefetch gains).
// LLVM-LABEL: llvm.func @scale_loop0_body(%{{.*}}: i64, %{{.*}}: i64, %{{.*}}: !llvm.ptr {llvm.noalias}, %{{.*}}: !llvm.ptr {llvm.noalias}, %{{.*}}: !llvm.ptr {llvm.noalias})
// LLVM:         llvm.call_intrinsic "llvm.prefetch.p0"
// LLVM:         llvm.call_intrinsic "llvm.prefetch.p0"
func.func @scale(%x: memref<4096xf32>, %s: memref<1xf32>, %out0: memref<4096xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 4096 : index
  scf.for %i = %c0 to %n step %c1 {
    %a = memref.load %x[%i] : memref<4096xf32>
    %b = memref.load %s[%c0] : memref<1xf32>
    %m = arith.mulf %a, %b : f32
    memref.store %m, %out0[%i] : memref<4096xf32>
  }
  func.return
}

// -----

// The rows of a nest: the innermost loop is blocked, an address is the row's offset
// (%i * 64) plus the block's. A block is one line of the widest buffer (8 float64), one
// prefetch each (the float32 output's half line too).
// CHECK-LABEL: func.func private @rows_loop0_body(
// CHECK:         scf.for %[[I:.*]] = %0 to %1 step %c1 {
// CHECK:           %[[B:.*]] = arith.constant 8 : index
// CHECK:           scf.for %[[BLK:.*]] = %c0 to %{{.*}} step %[[B]] {
// CHECK-NEXT:        %[[ROW:.*]] = arith.constant 64 : index
// CHECK-NEXT:        %[[R:.*]] = arith.muli %[[I]], %[[ROW]] : index
// CHECK-NEXT:        %{{.*}} = arith.addi %[[R]], %[[BLK]] : index
// CHECK:             llvm.call_intrinsic "llvm.prefetch.p0"
// CHECK:             llvm.call_intrinsic "llvm.prefetch.p0"
// CHECK-NEXT:        scf.for %{{.*}} = %{{.*}} to %[[B]] step %c1 {
// CHECK:               memref.load %x[%[[I]], %{{.*}}] : memref<64x64xf64>
// CHECK:               memref.store %{{.*}}, %out0[%[[I]], %{{.*}}] : memref<64x64xf32>
// CHECK:           scf.for %{{.*}} = %{{.*}} to %n step %c1 {
// CHECK-NOT:         llvm.prefetch
// CHECK:         func.return
func.func @rows(%x: memref<64x64xf64>, %out0: memref<64x64xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 64 : index
  scf.for %i = %c0 to %n step %c1 {
    scf.for %j = %c0 to %n step %c1 {
      %a = memref.load %x[%i, %j] : memref<64x64xf64>
      %t = arith.truncf %a : f64 to f32
      memref.store %t, %out0[%i, %j] : memref<64x64xf32>
    }
  }
  func.return
}

// -----

// A store across the rows (the inner variable is not the last index): no blocks.
// CHECK-LABEL: func.func private @transpose_loop0_body(
// CHECK-NOT:     llvm.prefetch
// CHECK:         func.return
func.func @transpose(%x: memref<64x64xf32>, %out0: memref<64x64xf32>) attributes {relay_opt.outputs = 1 : i64} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 64 : index
  scf.for %i = %c0 to %n step %c1 {
    scf.for %j = %c0 to %n step %c1 {
      %a = memref.load %x[%i, %j] : memref<64x64xf32>
      memref.store %a, %out0[%j, %i] : memref<64x64xf32>
    }
  }
  func.return
}
