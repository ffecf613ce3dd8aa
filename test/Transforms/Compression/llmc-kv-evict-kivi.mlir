// KIVI storage and eviction compose, in either order of the two passes, and
// lower to llmc_attention_kivi_evict.
// RUN: llmc-opt %s --llmc-kv-quantize='residual=32' --llmc-kv-evict='recent=32' | FileCheck %s
// RUN: llmc-opt %s --llmc-kv-evict='recent=32' --llmc-kv-quantize='residual=32' | FileCheck %s
// RUN: llmc-opt %s --llmc-kv-evict='recent=32' --llmc-kv-quantize='residual=32' --llmc-convert-llm-to-linalg=use-microkernels=true | FileCheck %s --check-prefix=LOWER
// RUN: llmc-opt %s --llmc-kv-evict='policy=window sinks=4 recent=92' --llmc-kv-quantize='bits=2 residual=24' --llmc-convert-llm-to-linalg=use-microkernels=true | FileCheck %s --check-prefix=WINDOW
// RUN: llmc-opt %s --llmc-kv-evict='policy=snapkv heavy=80 observe=16' --llmc-kv-quantize='residual=16' --llmc-convert-llm-to-linalg=use-microkernels=true | FileCheck %s --check-prefix=SNAP
// RUN: llmc-opt %s --llmc-kv-evict='recent=32 heavy=32 layer-budgets=128,64' --llmc-kv-quantize='residual=32' --llmc-convert-llm-to-linalg=use-microkernels=true | FileCheck %s --check-prefix=PYRAMID
// RUN: not llmc-opt %s --llmc-kv-evict='recent=64' --llmc-kv-quantize='residual=32' 2>&1 | FileCheck %s --check-prefix=RECENT
// RUN: not llmc-opt %s --llmc-kv-quantize='residual=32' --llmc-kv-evict='recent=32 heavy=16' 2>&1 | FileCheck %s --check-prefix=ROOM
// RUN: not llmc-opt %s --llmc-kv-evict='policy=window sinks=4 recent=60' --llmc-kv-quantize='residual=32' 2>&1 | FileCheck %s --check-prefix=WROOM
// RUN: not llmc-opt %s --llmc-kv-evict='recent=32' --llmc-kv-quantize='residual=32 group=64' 2>&1 | FileCheck %s --check-prefix=DIVIDE

// H2O with 64 heavy and 32 recent over KIVI with a 32-position residual:
// the type carries both, capacity = budget = 96.
// CHECK-LABEL: func.func @step
// CHECK-SAME: !kv.cache<2x4x96x8, #kv.kivi<bits = 4, group = 32, residual = 32>, #kv.policy<h2o, heavy = 64, recent = 32>>
// CHECK: llm.attention {{.*}} !kv.cache<2x4x96x8, #kv.kivi<bits = 4, group = 32, residual = 32>, #kv.policy<h2o, heavy = 64, recent = 32>> -> tensor<1x64xf32>

// Bytes (include/llmc/Runtime/KVLayout.h, KiviEvictLayout), C = 4 x 8 = 32
// channels, records of 4 + 32 x 4 / 8 = 20 bytes, a pool of
// (96 - 0 - 32) / 32 = 2 groups per layer:
//   pool keys 2 x 32 x 20 = 1280, pool values 64 x 1 x 20 = 1280,
//   ring (32 + 32) x 2 x 32 x 4 = 16384, no sinks, ring masses 64 x 4 = 256,
//   group starts 64 (8 aligned), group masses 64 (8 aligned): 19328 a layer,
//   38656 for both. Layer 1 starts at 19328. The kernel is told: layer 0 of
//   1, KV heads 4, head dim 8, bits 4, group 32, residual 32, sinks 0,
//   2 groups, policy 1 (h2o), observe 0, pool 1.
// LOWER-LABEL: func.func @step
// LOWER-SAME: tensor<38656xi8>
// LOWER: memref.subview %{{.*}}[0] [19328] [1]
// LOWER: call @llmc_attention_kivi_evict({{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}}, %c4_i64{{.*}}, %c8_i64{{.*}}, %c4_i64{{.*}}, %c32_i64{{.*}}, %c32_i64{{.*}}, %c0_i64{{.*}}, %c2_i64{{.*}}, %c1_i64{{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}}, %{{.*}})
// LOWER: memref.subview %{{.*}}[19328] [19328] [1]
// LOWER-NOT: llmc_attention_evict(
// LOWER-NOT: llmc_attention_kivi(

// Window of 96 with 4 sinks over 2-bit KIVI, residual 24: (96 - 4 - 24) / 32
// = 2 groups (the 4 left over are not allocated); records 4 + 8 = 12 bytes:
//   keys 2 x 32 x 12 = 768, values 64 x 12 = 768, ring 56 x 256 = 14336,
//   sinks 4 x 256 = 1024, ring masses 56 x 4 = 224 -> 256, starts 64,
//   masses 64: 17280 a layer.
// WINDOW: memref.subview %{{.*}}[0] [17280] [1]
// WINDOW: call @llmc_attention_kivi_evict({{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}}, %c4_i64{{.*}}, %c8_i64{{.*}}, %c2_i64{{.*}}, %c32_i64{{.*}}, %c24_i64{{.*}}, %c4_i64{{.*}}, %c2_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}}, %{{.*}})

// SnapKV, 80 heavy + 16 observed = 96 over residual 16: (96 - 16) / 32 = 2
// groups; policy 2 with observe 16 and pool 7.
// SNAP: call @llmc_attention_kivi_evict({{.*}}, %c16_i64{{.*}}, %c0_i64{{.*}}, %c2_i64{{.*}}, %c2_i64{{.*}}, %c16_i64{{.*}}, %c7_i64{{.*}}, %{{.*}})

// Per-layer budgets 128 and 64: (128 - 32) / 32 = 3 groups in layer 0,
// (64 - 32) / 32 = 1 in layer 1. Layer 0: keys 1920 + values 1920 + ring
// 16384 + masses 256 + starts 64 + masses 64 = 20608; layer 1: 640 + 640 +
// 16384 + 256 + 64 + 64 = 18048.
// PYRAMID: tensor<38656xi8>
// PYRAMID: memref.subview %{{.*}}[0] [20608] [1]
// PYRAMID: call @llmc_attention_kivi_evict({{.*}}, %c32_i64{{.*}}, %c0_i64{{.*}}, %c3_i64{{.*}}, %c1_i64{{.*}}
// PYRAMID: memref.subview %{{.*}}[20608] [18048] [1]
// PYRAMID: call @llmc_attention_kivi_evict({{.*}}, %c32_i64{{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}}, %c1_i64{{.*}}

// RECENT: error: llmc-kv-quantize: with KIVI storage the h2o recent window is the residual ring: recent (64) must equal residual (32)
// ROOM: error: llmc-kv-evict: layer 0's budget of 48 positions leaves no room for a KIVI token group beside the sinks and the residual window (needs 0 + 32 + 32)
// WROOM: error: llmc-kv-quantize: layer 0's budget of 64 positions leaves no room for a KIVI token group beside the sinks and the residual window (needs 4 + 32 + 32)
// DIVIDE: error: llmc-kv-quantize: KIVI group 64 does not divide the 32 channels

func.func @step(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %v: tensor<1x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) -> (tensor<1x64xf32>, !kv.cache<2x4x512x8, f32>) {
  %o0, %c0 = llm.attention %q, %k, %v, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32}
      : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<1x64xf32>
  %o1, %c1 = llm.attention %o0, %k, %v, %c0[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32}
      : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<1x64xf32>
  return %o1, %c1 : tensor<1x64xf32>, !kv.cache<2x4x512x8, f32>
}
