// RUN: llmc-opt %s --llmc-kv-quantize | FileCheck %s
// RUN: llmc-opt %s --llmc-kv-quantize='bits=2 group=8 residual=0' | FileCheck %s --check-prefix=TWO
// RUN: llmc-opt %s --llmc-kv-quantize --llmc-convert-llm-to-linalg=use-microkernels=true | FileCheck %s --check-prefix=LOWER
// RUN: not llmc-opt %s --llmc-kv-quantize='bits=3' 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not llmc-opt %s --llmc-kv-quantize='group=12' 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not llmc-opt %s --llmc-kv-quantize='group=64' 2>&1 | FileCheck %s --check-prefix=DIVIDE
// RUN: not llmc-opt %s --llmc-kv-quantize='residual=512' 2>&1 | FileCheck %s --check-prefix=RESIDUAL
// RUN: llmc-opt %s --llmc-kv-quantize | not llmc-opt --llmc-kv-quantize 2>&1 | FileCheck %s --check-prefix=TWICE

// Every occurrence of the cache type is re-typed: signature, attention
// operand and result, return.
// CHECK-LABEL: func.func @step
// CHECK-SAME: %{{.*}}: !kv.cache<2x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>>
// CHECK-SAME: -> (tensor<1x64xf32>, !kv.cache<2x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>>)
// CHECK: llm.attention {{.*}} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>> -> tensor<1x64xf32>
// CHECK: llm.attention {{.*}} !kv.cache<2x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>>
// CHECK-NOT: f32>>
// TWO: !kv.cache<2x4x512x8, #kv.kivi<bits = 2, group = 8, residual = 0>>

// Lowered: the cache is its bytes (include/llmc/Runtime/KVLayout.h: per
// layer 16 token groups x 32 channels x 20-byte records of keys, 512 x 1
// records of values, a ring of 160 slots x 64 f32: 10240 + 10240 + 40960,
// two layers = 122880), and attention one kernel call per layer that gets
// the layer, position, heads, scale, window, causal flag, then L, KV heads,
// capacity, head dim, bits, group, residual.
// LOWER-LABEL: func.func @step
// LOWER-SAME: tensor<122880xi8>
// LOWER: call @llmc_attention_kivi({{.*}}, %c0_i64{{.*}}, %{{.*}}, %c8_i64{{.*}}, %{{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}}, %c2_i64{{.*}}, %c4_i64{{.*}}, %c512_i64{{.*}}, %c8_i64{{.*}}, %c4_i64{{.*}}, %c32_i64{{.*}}, %c128_i64{{.*}}, %{{.*}})
// LOWER: call @llmc_attention_kivi({{.*}}, %c1_i64{{.*}}, %{{.*}}, %c8_i64

// BITS: error: llmc-kv-quantize: KIVI bits must be 2, 4 or 8, got 3
// GROUP: error: llmc-kv-quantize: KIVI group must be a multiple of 8 in [8, 256], got 12
// DIVIDE: error: llmc-kv-quantize: KIVI group 64 does not divide the 32 channels (KV heads x head dim) that values are quantized over
// RESIDUAL: error: llmc-kv-quantize: KIVI residual window of 512 positions is not smaller than the cache capacity 512 (nothing would be quantized)
// TWICE: error: llmc-kv-quantize: the cache {{.*}} is already quantized; llmc-kv-quantize takes a float cache

func.func @step(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %v: tensor<1x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) -> (tensor<1x64xf32>, !kv.cache<2x4x512x8, f32>) {
  %o0, %c0 = llm.attention %q, %k, %v, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32}
      : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<1x64xf32>
  %o1, %c1 = llm.attention %o0, %k, %v, %c0[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32}
      : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<1x64xf32>
  return %o1, %c1 : tensor<1x64xf32>, !kv.cache<2x4x512x8, f32>
}
