// llmc-plan-memory: every temporary of a bufferized function becomes a view
// of one arena; buffers live at disjoint times share bytes.
// RUN: llmc-opt %s --llmc-plan-memory='report=true' --split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// RUN: llmc-opt %s --llmc-plan-memory --split-input-file | FileCheck %s
// RUN: llmc-opt %s --llmc-plan-memory='arena-argument=true' --split-input-file | FileCheck %s --check-prefix=ARG

func.func private @use(memref<?x?xf32>)

// Three 1x64 f32 buffers (256 bytes each): %a and %b are live together;
// %c is allocated after %a's last use, so it takes %a's place.
// REPORT: remark: @chain: 3 buffers in an arena of 512 bytes + 0 per row; lower bound 512 + 0 per row; no reuse 768 + 0 per row; 0 left to the allocator
// CHECK-LABEL: func.func @chain(
// CHECK-SAME: llmc.memory_plan = {arena = array<i64: 512, 0>, buffers = 3 : i64, lower_bound = array<i64: 512, 0>, no_reuse = array<i64: 768, 0>, unplanned = 0 : i64}
// CHECK: %[[ARENA:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xi8>
// CHECK: memref.view %[[ARENA]][%c0][] : memref<?xi8> to memref<1x64xf32>
// CHECK: memref.view %[[ARENA]][%c256][] : memref<?xi8> to memref<1x64xf32>
// CHECK: memref.view %[[ARENA]][%c0_{{[0-9]+}}][] : memref<?xi8> to memref<1x64xf32>
// CHECK-NOT: memref.alloc()
// CHECK: return
// ARG-LABEL: func.func @chain(
// ARG-SAME: %{{.*}}: memref<?xi8> {llmc.arena}
// ARG-SAME: arena_argument
// ARG-NOT: memref.alloc
// ARG: return
func.func @chain(%out: memref<1x64xf32>) {
  %a = memref.alloc() {alignment = 64 : i64} : memref<1x64xf32>
  %ca = memref.cast %a : memref<1x64xf32> to memref<?x?xf32>
  call @use(%ca) : (memref<?x?xf32>) -> ()
  %b = memref.alloc() {alignment = 64 : i64} : memref<1x64xf32>
  %cb = memref.cast %b : memref<1x64xf32> to memref<?x?xf32>
  call @use(%cb) : (memref<?x?xf32>) -> ()
  call @use(%ca) : (memref<?x?xf32>) -> ()
  %c = memref.alloc() {alignment = 64 : i64} : memref<1x64xf32>
  %cc = memref.cast %c : memref<1x64xf32> to memref<?x?xf32>
  call @use(%cc) : (memref<?x?xf32>) -> ()
  call @use(%cb) : (memref<?x?xf32>) -> ()
  memref.copy %c, %out : memref<1x64xf32> to memref<1x64xf32>
  return
}

// -----

func.func private @use(memref<?x?xf32>)

// Rows: buffers with a dynamic first dimension (the rows of %ids) are
// placed per row, after the static part; the offset scales with the rows.
// A 172-float row (688 bytes) is rounded to 704.
// REPORT: remark: @rows: 3 buffers in an arena of 128 bytes + 960 per row; lower bound 128 + 944 per row; no reuse 128 + 944 per row; 0 left to the allocator
// CHECK-LABEL: func.func @rows(
// CHECK-SAME: rows = array<i64: 0, 0>
// CHECK: %[[N:.*]] = memref.dim %arg0, %c0
// CHECK: %[[PER:.*]] = arith.muli %[[N]], %c960
// CHECK: %[[SIZE:.*]] = arith.addi %{{.*}}, %[[PER]]
// CHECK: %[[ARENA:.*]] = memref.alloc(%[[SIZE]]) {alignment = 64 : i64} : memref<?xi8>
// CHECK: memref.view %[[ARENA]][%{{.*}}][%{{.*}}] : memref<?xi8> to memref<?x64xf32>
// CHECK: memref.view %[[ARENA]][%{{.*}}][%{{.*}}] : memref<?xi8> to memref<?x172xf32>
// CHECK: memref.view %[[ARENA]][%{{.*}}][] : memref<?xi8> to memref<32xf32>
func.func @rows(%ids: memref<?xi32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %ids, %c0 : memref<?xi32>
  %x = memref.alloc(%n) {alignment = 64 : i64} : memref<?x64xf32>
  %cx = memref.cast %x : memref<?x64xf32> to memref<?x?xf32>
  call @use(%cx) : (memref<?x?xf32>) -> ()
  %h = memref.alloc(%n) {alignment = 64 : i64} : memref<?x172xf32>
  %ch = memref.cast %h : memref<?x172xf32> to memref<?x?xf32>
  call @use(%ch) : (memref<?x?xf32>) -> ()
  call @use(%cx) : (memref<?x?xf32>) -> ()
  %s = memref.alloc() {alignment = 64 : i64} : memref<32xf32>
  %cs = memref.expand_shape %s [[0, 1]] output_shape [1, 32] : memref<32xf32> into memref<1x32xf32>
  %cs2 = memref.cast %cs : memref<1x32xf32> to memref<?x?xf32>
  call @use(%cs2) : (memref<?x?xf32>) -> ()
  return
}

// -----

func.func private @use(memref<?x?xf32>)

// A buffer used in a loop lives for the whole loop; one allocated and
// released inside the body is planned there. A buffer yielded out of an
// scf.if lives on in the enclosing block. A buffer returned, or with two
// dynamic dimensions, is left to the allocator.
// REPORT: remark: @nested: 3 buffers in an arena of 512 bytes + 0 per row; lower bound 512 + 0 per row; no reuse 528 + 0 per row; 2 left to the allocator
// CHECK-LABEL: func.func @nested(
// CHECK: scf.for
// CHECK: memref.view
// CHECK: scf.if
// CHECK: memref.view %{{.*}} : memref<?xi8> to memref<4xf32>
// CHECK: memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?xf32>
// CHECK: scf.if
// CHECK: memref.alloc() : memref<4xf32>
func.func @nested(%n: index, %flag: i1) -> memref<4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %outer = memref.alloc() : memref<1x64xf32>
  %co = memref.cast %outer : memref<1x64xf32> to memref<?x?xf32>
  scf.for %i = %c0 to %n step %c1 {
    %inner = memref.alloc() : memref<1x64xf32>
    %ci = memref.cast %inner : memref<1x64xf32> to memref<?x?xf32>
    func.call @use(%ci) : (memref<?x?xf32>) -> ()
    func.call @use(%co) : (memref<?x?xf32>) -> ()
  }
  %t = scf.if %flag -> memref<4xf32> {
    %y = memref.alloc() : memref<4xf32>
    scf.yield %y : memref<4xf32>
  } else {
    %z = memref.alloc(%n, %n) : memref<?x?xf32>
    func.call @use(%z) : (memref<?x?xf32>) -> ()
    %w = memref.get_global @g : memref<4xf32>
    scf.yield %w : memref<4xf32>
  }
  memref.copy %t, %t : memref<4xf32> to memref<4xf32>
  %r = scf.if %flag -> memref<4xf32> {
    %y = memref.alloc() : memref<4xf32>
    scf.yield %y : memref<4xf32>
  } else {
    %w = memref.get_global @g : memref<4xf32>
    scf.yield %w : memref<4xf32>
  }
  return %r : memref<4xf32>
}
memref.global "private" constant @g : memref<4xf32> = dense<0.0>

// -----

func.func private @use(memref<?x?xf32>)

// A size computed in the function is planned at its largest value when
// integer range analysis bounds it (min(x, 5): 5 rows of 256 bytes); an
// unbounded one is left to the allocator.
// REPORT: remark: @bounded: 1 buffers in an arena of 1280 bytes + 0 per row; lower bound 1280 + 0 per row; no reuse 1280 + 0 per row; 1 left to the allocator
// CHECK-LABEL: func.func @bounded(
// CHECK: %[[ARENA:.*]] = memref.alloc(%c1280) {alignment = 64 : i64} : memref<?xi8>
// CHECK: memref.view %[[ARENA]][%{{.*}}][%{{.*}}] : memref<?xi8> to memref<?x64xf32>
// CHECK: memref.alloc(%{{.*}}) : memref<?x64xf32>
func.func @bounded(%count: i64) {
  %c5 = arith.constant 5 : index
  %n = arith.index_cast %count : i64 to index
  %rows = arith.minui %n, %c5 : index
  %a = memref.alloc(%rows) : memref<?x64xf32>
  %ca = memref.cast %a : memref<?x64xf32> to memref<?x?xf32>
  call @use(%ca) : (memref<?x?xf32>) -> ()
  %b = memref.alloc(%n) : memref<?x64xf32>
  %cb = memref.cast %b : memref<?x64xf32> to memref<?x?xf32>
  call @use(%cb) : (memref<?x?xf32>) -> ()
  return
}
