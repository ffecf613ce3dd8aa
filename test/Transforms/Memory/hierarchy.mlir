// llmc-plan-memory over a synthetic two-level hierarchy (512 bytes of
// on-chip SRAM, then DRAM): the buffers with the most uses per byte go to
// the SRAM arena as long as it fits; a double-buffered tile takes twice its
// bytes there; the rest goes to the DRAM arena.
// RUN: llmc-opt %s --llmc-plan-memory='hierarchy=sram:512,dram report=true' -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// RUN: llmc-opt %s --llmc-plan-memory='hierarchy=sram:512,dram' | FileCheck %s
// RUN: not llmc-opt %s --llmc-plan-memory='hierarchy=sram,dram' 2>&1 | FileCheck %s --check-prefix=NOCAP
// RUN: not llmc-opt %s --llmc-plan-memory='hierarchy=sram:12X,dram' 2>&1 | FileCheck %s --check-prefix=BADCAP
// RUN: not llmc-opt %s --llmc-plan-memory='hierarchy=sram:1K,dram:1G' 2>&1 | FileCheck %s --check-prefix=LAST
// RUN: not llmc-opt %s --llmc-plan-memory='alignment=48' 2>&1 | FileCheck %s --check-prefix=ALIGN

// REPORT: remark: @tiles: 3 buffers in an arena of 4096 bytes + 0 per row; lower bound 4096 + 0 per row; no reuse 4096 + 0 per row; 0 left to the allocator; sram: 2 buffers in 512 of 512 bytes
// CHECK-LABEL: func.func @tiles(
// CHECK-SAME: levels = [{arena = 512 : i64, buffers = 2 : i64, lower_bound = 512 : i64, name = "sram"}, {arena = 4096 : i64, buffers = 1 : i64, lower_bound = 4096 : i64, name = "dram"}]
// CHECK-DAG: %[[SRAM:.*]] = memref.alloc() {alignment = 64 : i64, llmc.memory_level = "sram"} : memref<512xi8>
// CHECK-DAG: %[[DRAM:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xi8>
// CHECK: memref.view %[[SRAM]][%{{.*}}][] {llmc.memory_level = "sram"} : memref<512xi8> to memref<1x64xf32>
// CHECK: memref.view %[[SRAM]][%{{.*}}][] {llmc.memory_level = "sram"} : memref<512xi8> to memref<32xf32>
// CHECK: memref.view %[[DRAM]][%{{.*}}][] : memref<?xi8> to memref<1024xf32>

// NOCAP: error: llmc-plan-memory: hierarchy=sram,dram: memory level 'sram' needs a capacity (NAME:BYTES); only the last level is unbounded
// BADCAP: error: llmc-plan-memory: hierarchy=sram:12X,dram: memory level 'sram:12X': bad capacity '12X' (bytes, optionally with K, M or G)
// LAST: error: llmc-plan-memory: hierarchy=sram:1K,dram:1G: memory level 'dram:1G': the last level is unbounded (give it no capacity)
// ALIGN: error: llmc-plan-memory: alignment=48 is not a power of two

func.func private @use(memref<?x?xf32>)
func.func private @use1(memref<?xf32>)

func.func @tiles() {
  %hot = memref.alloc() : memref<1x64xf32>
  %ch = memref.cast %hot : memref<1x64xf32> to memref<?x?xf32>
  call @use(%ch) : (memref<?x?xf32>) -> ()
  call @use(%ch) : (memref<?x?xf32>) -> ()
  call @use(%ch) : (memref<?x?xf32>) -> ()
  %tile = memref.alloc() {llmc.double_buffer} : memref<32xf32>
  %ct = memref.cast %tile : memref<32xf32> to memref<?xf32>
  call @use1(%ct) : (memref<?xf32>) -> ()
  call @use1(%ct) : (memref<?xf32>) -> ()
  %big = memref.alloc() : memref<1024xf32>
  %cb = memref.cast %big : memref<1024xf32> to memref<?xf32>
  call @use1(%cb) : (memref<?xf32>) -> ()
  call @use(%ch) : (memref<?x?xf32>) -> ()
  call @use1(%ct) : (memref<?xf32>) -> ()
  return
}
