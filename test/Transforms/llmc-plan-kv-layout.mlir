// RUN: llmc-opt %s --llmc-plan-kv-layout | FileCheck %s --check-prefix=AUTO
// RUN: llmc-opt %s --llmc-plan-kv-layout='layout=paged' | FileCheck %s --check-prefix=PAGED
// RUN: llmc-opt %s --llmc-plan-kv-layout='layout=paged block-size=32 context=100' | FileCheck %s --check-prefix=CONTEXT
// RUN: llmc-opt %s --llmc-plan-kv-layout='layout=paged budget=40000 report=true' 2>&1 | FileCheck %s --check-prefix=BUDGET
// RUN: llmc-opt %s --llmc-plan-kv-layout='layout=contiguous budget=40000' | FileCheck %s --check-prefix=CBUDGET
// RUN: llmc-opt %s --llmc-plan-kv-layout='target=gpu' | FileCheck %s --check-prefix=GPU
// RUN: llmc-opt %s --llmc-plan-kv-layout='target=accel context=100' | FileCheck %s --check-prefix=ACCEL
// RUN: llmc-opt %s --llmc-plan-kv-layout='target=fpga' | FileCheck %s --check-prefix=FPGA
// RUN: llmc-opt %s --llmc-plan-kv-layout='layout=paged' --llmc-convert-llm-to-linalg=use-microkernels=true | FileCheck %s --check-prefix=LOWER
// RUN: llmc-opt %s --llmc-kv-evict='policy=window sinks=4 recent=60' --llmc-plan-kv-layout | FileCheck %s --check-prefix=EVICT
// RUN: not llmc-opt %s --llmc-plan-kv-layout='target=tpu' 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not llmc-opt %s --llmc-plan-kv-layout='layout=ring' 2>&1 | FileCheck %s --check-prefix=LAYOUT
// RUN: not llmc-opt %s --llmc-plan-kv-layout='block-size=-4' 2>&1 | FileCheck %s --check-prefix=NEGATIVE
// RUN: not llmc-opt %s --llmc-plan-kv-layout='layout=contiguous block-size=8' 2>&1 | FileCheck %s --check-prefix=CBLOCK
// RUN: not llmc-opt %s --llmc-plan-kv-layout='layout=paged budget=4000' 2>&1 | FileCheck %s --check-prefix=SMALL
// RUN: not llmc-opt %s --llmc-plan-kv-layout='context=1000 budget=40000' 2>&1 | FileCheck %s --check-prefix=OVER
// RUN: not llmc-opt %s --llmc-plan-kv-layout='layout=paged block-size=48' 2>&1 | FileCheck %s --check-prefix=DIVIDE
// RUN: not llmc-opt %s --llmc-kv-evict='policy=window sinks=4 recent=60' --llmc-plan-kv-layout='layout=paged' 2>&1 | FileCheck %s --check-prefix=POLICY

// The cache holds 2 layers x 4 KV heads x 8 dims of f32 keys and values:
// 512 bytes per position.

// On the CPU `auto` keeps the cache contiguous (one sequence decodes
// without a gather) and records the decision.
// AUTO: module attributes {llmc.kv_layout = {block = 0 : i64, blocks = 0 : i64, bytes = 262144 : i64, bytes_per_position = 5.120000e+02 : f64, capacity = 512 : i64, layout = "contiguous", target = "cpu"}}
// AUTO-LABEL: func.func @step
// AUTO-SAME: !kv.cache<2x4x512x8, f32>

// Every occurrence of the cache type is re-typed: signature, attention
// operand and result, return.
// PAGED: llmc.kv_layout = {block = 16 : i64, blocks = 32 : i64, bytes = 262144 : i64, {{.*}} capacity = 512 : i64, layout = "paged", target = "cpu"}
// PAGED-LABEL: func.func @step
// PAGED-SAME: %{{.*}}: !kv.cache<2x4x512x8, f32, paged<16>>
// PAGED-SAME: -> (tensor<1x64xf32>, !kv.cache<2x4x512x8, f32, paged<16>>)
// PAGED: llm.attention {{.*}} !kv.cache<2x4x512x8, f32, paged<16>> -> tensor<1x64xf32>
// PAGED: llm.attention {{.*}} !kv.cache<2x4x512x8, f32, paged<16>> -> tensor<1x64xf32>
// PAGED: return {{.*}} !kv.cache<2x4x512x8, f32, paged<16>>
// PAGED-NOT: f32>

// A context rounds up to whole blocks.
// CONTEXT: capacity = 128
// CONTEXT-LABEL: func.func @step
// CONTEXT-SAME: !kv.cache<2x4x128x8, f32, paged<32>>

// A budget: the most whole blocks that fit (40000 / 512 = 78 positions, 4
// blocks of 16); contiguous, the most positions.
// BUDGET: remark: KV layout: {block = 16 : i64, blocks = 4 : i64, bytes = 32768 : i64, {{.*}} capacity = 64 : i64, layout = "paged"
// BUDGET: !kv.cache<2x4x64x8, f32, paged<16>>
// CBUDGET: bytes = 39936 : i64, {{.*}} capacity = 78 : i64, layout = "contiguous"
// CBUDGET: !kv.cache<2x4x78x8, f32>

// Other targets' defaults: GPU and accelerator pages (blocks of 16 and
// 64), FPGA stays contiguous.
// GPU: !kv.cache<2x4x512x8, f32, paged<16>>
// ACCEL: capacity = 128 : i64, layout = "paged", target = "accel"
// ACCEL: !kv.cache<2x4x128x8, f32, paged<64>>
// FPGA: layout = "contiguous", target = "fpga"
// FPGA: !kv.cache<2x4x512x8, f32>

// Lowered: the cache is the block pool ([layer][k/v][head][block][slot]
// [dim], 32 blocks), the function takes the sequence's block table after the
// other arguments, and attention is one llmc_attention_paged_f32 call per
// layer: layer, position, heads, scale, window, causal, then L, KV heads,
// block size and head dim.
// LOWER-LABEL: func.func @step
// LOWER-SAME: %{{.*}}: tensor<2x2x4x32x16x8xf32>
// LOWER-SAME: %{{.*}}: memref<32xi32> {llmc.kv_block_table}
// LOWER-SAME: -> (tensor<1x64xf32>, tensor<2x2x4x32x16x8xf32> {llmc.cache_result})
// LOWER: call @llmc_attention_paged_f32({{.*}}, %c0_i64{{.*}}, %{{.*}}, %c8_i64{{.*}}, %{{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}}, %c2_i64{{.*}}, %c4_i64{{.*}}, %c16_i64{{.*}}, %c8_i64{{.*}}, %{{.*}})
// LOWER: call @llmc_attention_paged_f32({{.*}}, %c1_i64

// `auto` on the CPU leaves an evicting cache contiguous (it is not paged
// there); asking for paged is an error.
// EVICT: layout = "contiguous"
// EVICT: !kv.cache<2x4x64x8, f32, #kv.policy<window, sinks = 4, recent = 60>>

// TARGET: error: llmc-plan-kv-layout: unknown target='tpu' (expected cpu, gpu, fpga or accel)
// LAYOUT: error: llmc-plan-kv-layout: unknown layout='ring' (expected auto, contiguous or paged)
// NEGATIVE: error: llmc-plan-kv-layout: block-size=-4 must not be negative
// CBLOCK: error: llmc-plan-kv-layout: block-size=8 needs layout=paged or auto, not contiguous
// SMALL: error: llmc-plan-kv-layout: budget=4000 holds no block of 16 positions of '!kv.cache<2x4x512x8, f32>' (512.00 bytes per position)
// OVER: error: llmc-plan-kv-layout: context=1000 needs 512000 bytes of cache, over budget=40000
// DIVIDE: error: llmc-plan-kv-layout: block-size=48 does not divide the capacity 512 of '!kv.cache<2x4x512x8, f32>' (give context or budget)
// POLICY: error: llmc-plan-kv-layout: layout=paged on target=cpu needs an f32 cache without an eviction policy or undo log, not '!kv.cache<2x4x64x8, f32, #kv.policy<window, sinks = 4, recent = 60>>'

func.func @step(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %v: tensor<1x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) -> (tensor<1x64xf32>, !kv.cache<2x4x512x8, f32>) {
  %o0, %c0 = llm.attention %q, %k, %v, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32}
      : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<1x64xf32>
  %o1, %c1 = llm.attention %o0, %k, %v, %c0[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32}
      : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<1x64xf32>
  return %o1, %c1 : tensor<1x64xf32>, !kv.cache<2x4x512x8, f32>
}
