// RUN: llmc-opt %s --llmc-kv-evict | FileCheck %s
// RUN: llmc-opt %s --llmc-kv-evict='policy=window sinks=4 recent=60' | FileCheck %s --check-prefix=WINDOW
// RUN: llmc-opt %s --llmc-kv-evict='policy=h2o sinks=2 recent=16 heavy=32 layer-budgets=96,32' | FileCheck %s --check-prefix=PYRAMID
// RUN: llmc-opt %s --llmc-kv-evict='policy=h2o sinks=2 recent=16 heavy=32 layer-budgets=96,32' --llmc-convert-llm-to-linalg=use-microkernels=true | FileCheck %s --check-prefix=PYRAMIDLOWER
// RUN: llmc-opt %s --llmc-kv-evict --llmc-convert-llm-to-linalg=use-microkernels=true | FileCheck %s --check-prefix=LOWER
// RUN: not llmc-opt %s --llmc-kv-evict='policy=lru' 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: llmc-opt %s --llmc-kv-evict='policy=snapkv heavy=96 observe=16 pool=7' | FileCheck %s --check-prefix=SNAPKV
// RUN: llmc-opt %s --llmc-kv-evict='policy=snapkv heavy=96 observe=16 pool=7' --llmc-convert-llm-to-linalg=use-microkernels=true | FileCheck %s --check-prefix=SNAPLOWER
// RUN: not llmc-opt %s --llmc-kv-evict='policy=snapkv pool=4' 2>&1 | FileCheck %s --check-prefix=POOL
// RUN: not llmc-opt %s --llmc-kv-evict='heavy=500 recent=100' 2>&1 | FileCheck %s --check-prefix=BUDGET
// RUN: not llmc-opt %s --llmc-kv-evict='layer-budgets=96' 2>&1 | FileCheck %s --check-prefix=LAYERS
// RUN: not llmc-opt %s --llmc-kv-evict='recent=64 layer-budgets=96,64' 2>&1 | FileCheck %s --check-prefix=ROOM
// RUN: not llmc-opt %s --llmc-kv-evict='policy=h2o heavy=0' 2>&1 | FileCheck %s --check-prefix=HEAVY

// The default, H2O with 64 heavy hitters and 64 recent positions: the cache
// shrinks to 128 positions per layer and carries the policy.
// CHECK-LABEL: func.func @step
// CHECK-SAME: !kv.cache<2x4x128x8, f32, #kv.policy<h2o, heavy = 64, recent = 64>>
// CHECK: llm.attention {{.*}} !kv.cache<2x4x128x8, f32, #kv.policy<h2o, heavy = 64, recent = 64>> -> tensor<1x64xf32>
// WINDOW: !kv.cache<2x4x64x8, f32, #kv.policy<window, sinks = 4, recent = 60>>
// Per-layer budgets: the capacity is the largest.
// PYRAMID: !kv.cache<2x4x96x8, f32, #kv.policy<h2o, sinks = 2, heavy = 32, recent = 16, layer_budgets = [96, 32]>>
// Each layer allocates its own budget: 4 x (96 + 32) x 72 = 36864 bytes;
// layer 1's 9216 bytes start at 27648, and it has 32 slots.
// PYRAMIDLOWER: tensor<36864xi8>
// PYRAMIDLOWER: memref.subview %{{.*}}[0] [27648] [1]
// PYRAMIDLOWER: call @llmc_attention_evict({{.*}}, %c1_i64{{.*}}, %c4_i64{{.*}}, %c96_i64
// PYRAMIDLOWER: memref.subview %{{.*}}[27648] [9216] [1]
// PYRAMIDLOWER: call @llmc_attention_evict({{.*}}, %c1_i64{{.*}}, %c4_i64{{.*}}, %c32_i64

// Lowered: the cache is its bytes (include/llmc/Runtime/KVLayout.h: 2
// layers x 4 KV heads x 128 slots x (2 x 8 + 2) x 4 bytes = 73728) and
// attention one kernel call per layer on that layer's region (a subview),
// told it is a one-layer cache: layer 0 of 1, KV heads, the layer's slots,
// head dim, the policy (1 = h2o), sinks, recent, the layer's budget, and
// SnapKV's observation window and pooling (0 and 1 for other policies).
// LOWER-LABEL: func.func @step
// LOWER-SAME: tensor<73728xi8>
// LOWER: memref.subview %{{.*}}[0] [36864] [1]
// LOWER: call @llmc_attention_evict({{.*}}, %c1_i64{{.*}}, %c4_i64{{.*}}, %c128_i64{{.*}}, %c8_i64{{.*}}, %c1_i64{{.*}}, %c0_i64{{.*}}, %c64_i64{{.*}}, %c128_i64{{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}}, %{{.*}})
// LOWER: memref.subview %{{.*}}[36864] [36864] [1]

// UNKNOWN: error: llmc-kv-evict: unknown policy 'lru' (expected window, h2o or snapkv)
// SnapKV: the budget is sinks + heavy + observe = 112.
// SNAPKV: !kv.cache<2x4x112x8, f32, #kv.policy<snapkv, heavy = 96, observe = 16, pool = 7>>
// The kernel gets policy 2, no sinks, recent 0, budget 112, observe 16, pool 7.
// SNAPLOWER: call @llmc_attention_evict({{.*}}, %c1_i64{{.*}}, %c4_i64{{.*}}, %c112_i64{{.*}}, %c8_i64{{.*}}, %c2_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c112_i64{{.*}}, %c16_i64{{.*}}, %c7_i64{{.*}}, %{{.*}})
// POOL: error: llmc-kv-evict: snapkv policy needs an odd pool >= 1, got 4
// BUDGET: error: llmc-kv-evict: the policy keeps 600 positions per layer but the cache holds only 512 (the context)
// LAYERS: error: llmc-kv-evict: 1 layer budgets for a cache of 2 layers
// ROOM: error: llmc-kv-evict: layer budget 64 leaves no room beyond the 64 positions of sinks and recent window
// HEAVY: error: llmc-kv-evict: h2o policy needs heavy > 0
// KIVI storage under a policy: llmc-kv-evict-kivi.mlir.

func.func @step(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %v: tensor<1x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) -> (tensor<1x64xf32>, !kv.cache<2x4x512x8, f32>) {
  %o0, %c0 = llm.attention %q, %k, %v, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32}
      : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<1x64xf32>
  %o1, %c1 = llm.attention %o0, %k, %v, %c0[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32}
      : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<1x64xf32>
  return %o1, %c1 : tensor<1x64xf32>, !kv.cache<2x4x512x8, f32>
}
