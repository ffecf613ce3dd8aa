// The CPU pipeline takes the sample decoder to the LLVM dialect: nothing of
// llm/kv/linalg/tensor/memref is left, steps have C interfaces, the weight
// layout is recorded. Stopping after bufferization shows the memref ABI.
// The example's weights live in tiny-llama.gguf; a zero file of its size
// stands in for it.
// RUN: %PYTHON -c "open('%t.bin', 'wb').truncate(625920)"
// RUN: sed 's|tiny-llama.gguf|%t.bin|' %llmc_src_root/docs/examples/tiny-llama.mlir > %t.mlir
// RUN: llmc-opt %t.mlir --llmc-cpu-pipeline | FileCheck %s
// RUN: llmc-opt %t.mlir --llmc-cpu-pipeline=lower-to-llvm=false | FileCheck %s --check-prefix=BUFFERS
// RUN: llmc-opt %t.mlir --llmc-cpu-pipeline='lower-to-llvm=false plan-memory=false' | FileCheck %s --check-prefix=NOPLAN
// RUN: llmc-opt %t.mlir --llmc-cpu-pipeline | llmc-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVMIR

// CHECK-NOT: llm.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK-DAG: llvm.func @prefill(
// CHECK-DAG: llvm.func @_mlir_ciface_prefill(
// CHECK-DAG: llvm.func @_mlir_ciface_decode(

// Each step function's temporaries are views of one arena, the last
// argument (llmc-plan-memory); plan-memory=false leaves them allocations.
// BUFFERS: func.func @prefill(%{{.*}}: memref<?xi32>, %{{.*}}: memref<2x2x4x512x8xf32>, %{{.*}}: index, %{{.*}}: memref<?xi8> {llmc.weights}, %{{.*}}: memref<1x512xf32>, %[[ARENA:.*]]: memref<?xi8> {llmc.arena})
// BUFFERS-SAME: llmc.memory_plan = {arena = array<i64: {{[0-9]+}}, {{[1-9][0-9]*}}>, arena_argument
// BUFFERS-SAME: unplanned = 0
// BUFFERS-NOT: memref.alloc
// BUFFERS: memref.view %[[ARENA]]
// BUFFERS: func.func @decode(%{{.*}}: memref<1xi32>, %{{.*}}: memref<2x2x4x512x8xf32>, %{{.*}}: index, %{{.*}}: memref<?xi8> {llmc.weights}, %{{.*}}: memref<1xi32>, %{{.*}}: memref<?xi8> {llmc.arena})
// BUFFERS-SAME: llmc.memory_plan = {arena = array<i64: {{[0-9]+}}, 0>, arena_argument
// BUFFERS-NOT: memref.alloc
// NOPLAN: func.func @prefill(%{{.*}}: memref<?xi32>, %{{.*}}: memref<2x2x4x512x8xf32>, %{{.*}}: index, %{{.*}}: memref<?xi8> {llmc.weights}, %{{.*}}: memref<1x512xf32>)
// NOPLAN-NOT: llmc.arena
// NOPLAN: memref.alloc(

// LLVMIR: define void @_mlir_ciface_decode(ptr

// The default lowers projections, attention and the row-wise ops to kernel
// calls; the arena holds every temporary, so nothing is allocated (what it
// cannot hold would go through the kernels' allocator).
// use-microkernels=false keeps everything as generated loops on malloc.
// RUN: llmc-opt %t.mlir --llmc-cpu-pipeline | FileCheck %s --check-prefix=KERNELS
// RUN: llmc-opt %t.mlir --llmc-cpu-pipeline | FileCheck %s --check-prefix=NOALLOC
// RUN: llmc-opt %t.mlir --llmc-cpu-pipeline=plan-memory=false | FileCheck %s --check-prefix=ALLOCATOR
// RUN: llmc-opt %t.mlir --llmc-cpu-pipeline=use-microkernels=false | FileCheck %s --check-prefix=LOOPS
// KERNELS-DAG: llvm.func @llmc_matmul_f32(
// KERNELS-DAG: llvm.func @llmc_attention_f32(
// NOALLOC-NOT: _mlir_memref_to_llvm_alloc
// NOALLOC-NOT: @malloc
// ALLOCATOR: llvm.func @_mlir_memref_to_llvm_alloc(
// LOOPS-NOT: llmc_matmul
// LOOPS-NOT: _mlir_memref_to_llvm_alloc
// LOOPS: llvm.func @malloc(
