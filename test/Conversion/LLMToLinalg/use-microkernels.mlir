// With use-microkernels, projections over file weights, attention over an
// f32 cache and the row-wise ops become calls of the CPU kernels
// (include/llmc/Runtime/Kernels.h) on buffers of their tensor operands;
// what no kernel handles (a weight that is not a file weight) keeps the
// linalg lowering.
// RUN: %PYTHON -c "open('%t.bin', 'wb').truncate(100000)"
// RUN: sed 's|WEIGHTS|%t.bin|' %s | llmc-opt --llmc-convert-llm-to-linalg=use-microkernels=true | FileCheck %s
// RUN: sed 's|WEIGHTS|%t.bin|' %s | llmc-opt --llmc-convert-llm-to-linalg | FileCheck %s --check-prefix=LOOPS
// LOOPS-NOT: call @llmc_

// CHECK-DAG: func.func private @llmc_matmul_f32(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?xi8>, i64, memref<?x?xf32>)
// CHECK-DAG: func.func private @llmc_matmul_q8_0(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?xi8>, i64, memref<?x?xf32>)
// CHECK-DAG: func.func private @llmc_rmsnorm(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?xi8>, i64, i64, f32, memref<?x?xf32>)
// CHECK-DAG: func.func private @llmc_rope(memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64, i64, f64, f64, i64, memref<?x?xf32>)
// CHECK-DAG: func.func private @llmc_swiglu(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32>)
// CHECK-DAG: func.func private @llmc_add(
// CHECK-DAG: func.func private @llmc_attention_f32(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?x?x?x?xf32>, i64, i64, i64, f32, i64, i64, memref<?x?xf32>)

// CHECK-LABEL: func.func @step
// CHECK-SAME: %[[W:[a-z0-9_]+]]: memref<?xi8> {llmc.weights}
// Each kernel operand gets its own numbered to_buffer right before its call.
// CHECK-DAG: %[[OFF:.*]] = arith.index_cast %{{.*}} : index to i64
// CHECK-DAG: %[[XB:.*]] = bufferization.to_buffer %{{.*}} read_only {llmc.kernel_operand = 0 : i64}
// CHECK: %[[XC:.*]] = memref.cast %[[XB]]
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x172xf32>
// CHECK: %[[OC:.*]] = memref.cast %[[OUT]] : memref<?x172xf32> to memref<?x?xf32>
// CHECK: call @llmc_matmul_f32(%[[XC]], %[[W]], %[[OFF]], %[[OC]])
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: {llmc.kernel_operand = 1 : i64}
// CHECK: call @llmc_matmul_q8_0(
// The weight that is a function argument has no file location: loops.
// CHECK: linalg.generic
// CHECK: call @llmc_rmsnorm(%{{.*}}, %[[W]], %{{.*}}, %c0_i64{{[_0-9]*}}, %{{.*}}, %{{.*}})
// CHECK: call @llmc_rope(%{{[^,]*}}, %{{[^,]*}}, %c8_i64{{[_0-9]*}}, %c8_i64{{[_0-9]*}}, %{{[^,]*}}, %{{[^,]*}}, %c0_i64{{[_0-9]*}}, %{{[^,]*}})
// CHECK: call @llmc_swiglu(
// CHECK: call @llmc_add(
// CHECK: return
llm.weight @w "blk.0.ffn_gate.weight" : tensor<172x64xf32> from "WEIGHTS" at 4096
llm.weight @p "blk.0.ffn_down.weight" : !qmm.packed<64x172, #qmm.format<q8_0>> from "WEIGHTS" at 65536
llm.weight @n "blk.0.attn_norm.weight" : tensor<64xf32> from "WEIGHTS" at 0
func.func @step(%x: tensor<?x64xf32>, %a: tensor<64x64xf32>, %pos: index) -> tensor<?x64xf32> {
  %w = llm.get_weight @w : tensor<172x64xf32>
  %p = llm.get_weight @p : !qmm.packed<64x172, #qmm.format<q8_0>>
  %n = llm.get_weight @n : tensor<64xf32>
  %h = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %y = llm.linear %h, %p : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<?x64xf32>
  %z = llm.linear %y, %a : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %r = llm.rms_norm %z, %n {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
  %q = llm.rope %r at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  %s = llm.swiglu %q, %r : tensor<?x64xf32>
  %t = llm.add %s, %x : tensor<?x64xf32>
  return %t : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @attend
// CHECK-SAME: %[[C:[a-z0-9_]+]]: tensor<2x5x4x512x8xf32>, %[[POS:[a-z0-9_]+]]: index
// The cache update stays tensor ops (in place after bufferization).
// CHECK: %[[K:.*]] = tensor.insert_slice %{{.*}} into %[[C]][0, 3, 0, %[[POS]], 0]
// CHECK: %[[KV:.*]] = tensor.insert_slice %{{.*}} into %[[K]][1, 3, 0, %[[POS]], 0]
// CHECK: %[[CB:.*]] = bufferization.to_buffer %[[KV]] read_only {{.*}} : tensor<2x5x4x512x8xf32> to memref<2x5x4x512x8xf32>
// CHECK: %[[CC:.*]] = memref.cast %[[CB]] : memref<2x5x4x512x8xf32> to memref<?x?x?x?x?xf32>
// CHECK: %[[P64:.*]] = arith.index_cast %[[POS]] : index to i64
// CHECK: call @llmc_attention_f32(%{{.*}}, %[[CC]], %c3_i64, %[[P64]], %c8_i64, %{{.*}}, %c0_i64, %c1_i64, %{{.*}})
// CHECK: return %{{.*}}, %[[KV]]
func.func @attend(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>,
                  %c: !kv.cache<5x4x512x8, f32>, %pos: index)
    -> (tensor<?x64xf32>, !kv.cache<5x4x512x8, f32>) {
  %o, %c1 = llm.attention %q, %k, %v, %c[3] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32}
      : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<5x4x512x8, f32> -> tensor<?x64xf32>
  return %o, %c1 : tensor<?x64xf32>, !kv.cache<5x4x512x8, f32>
}
