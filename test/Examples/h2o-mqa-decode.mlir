// A two-layer MQA decoder step (4 query heads share 1 KV head) with a
// sliding-window layer, an f16 paged cache that carries an H2O policy,
// attention scores fed to kv.score_accumulate and a final kv.evict: the
// eviction dataflow later issues compile. Weight bytes: 2 x 32x32 f16 (2048
// each) + 8x32 f16 (512) + 32 f32 (128) = 4736. It verifies as a whole model,
// round-trips, and its shapes refine.
// RUN: llmc-opt %s --verify-roundtrip | FileCheck %s --check-prefix=ROUNDTRIP
// RUN: llmc-opt %s --llmc-verify-model=summary=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=SUMMARY
// RUN: llmc-opt %s --llmc-frontend-pipeline | FileCheck %s --check-prefix=PIPELINE

// ROUNDTRIP: kv.score_accumulate
// ROUNDTRIP: kv.evict %{{.*}} : !kv.cache<2x1x128x8, f16, paged<16>, #kv.policy<h2o, heavy = 32, recent = 32>>
// SUMMARY: remark: model: 2 layers, 4 heads, 1 kv heads, head_dim 8, cache capacity 128 (64 bytes/position), 4 weights (4736 bytes)
// PIPELINE-LABEL: func.func @decode
// PIPELINE: llm.linear {{.*}} -> tensor<1x32xf32>
// PIPELINE: llm.attention {{.*}} {{{.*}}window = 64 : i64} : {{.*}} -> tensor<1x32xf32>, tensor<1x128xf32>
// PIPELINE: kv.evict

module {
  llm.weight @wq "blk.0.attn_q.weight" : tensor<32x32xf16> from "mqa.gguf" at 0
  llm.weight @wkv "blk.0.attn_kv.weight" : tensor<8x32xf16> from "mqa.gguf" at 2048
  llm.weight @wq1 "blk.1.attn_q.weight" : tensor<32x32xf16> from "mqa.gguf" at 2560
  llm.weight @norm "blk.0.attn_norm.weight" : tensor<32xf32> from "mqa.gguf" at 4608

  func.func @decode(%x: tensor<1x32xf32>, %cache: !kv.cache<2x1x128x8, f16, paged<16>, #kv.policy<h2o, heavy = 32, recent = 32>>, %pos: index)
      -> (tensor<1x?xf32>, !kv.cache<2x1x128x8, f16, paged<16>, #kv.policy<h2o, heavy = 32, recent = 32>>) {
    %n = llm.get_weight @norm : tensor<32xf32>
    %wq = llm.get_weight @wq : tensor<32x32xf16>
    %wkv = llm.get_weight @wkv : tensor<8x32xf16>
    %wq1 = llm.get_weight @wq1 : tensor<32x32xf16>
    %h = llm.rms_norm %x, %n {eps = 1.0e-06 : f32} : tensor<1x32xf32>, tensor<32xf32>
    %q = llm.linear %h, %wq : tensor<1x32xf32>, tensor<32x32xf16> -> tensor<1x?xf32>
    %kv = llm.linear %h, %wkv : tensor<1x32xf32>, tensor<8x32xf16> -> tensor<1x8xf32>
    %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 4 : i64, theta = 5.0e+05 : f32, freq_scale = 2.5e-01 : f32} : tensor<1x?xf32>
    %kr = llm.rope %kv at %pos {head_dim = 8 : i64, rotary_dims = 4 : i64, theta = 5.0e+05 : f32, freq_scale = 2.5e-01 : f32} : tensor<1x8xf32>
    %a0, %c1, %s0 = llm.attention %qr, %kr, %kv, %cache[0] at %pos {head_dim = 8 : i64, num_heads = 4 : i64, num_kv_heads = 1 : i64, scale = 0.353553385 : f32}
        : tensor<1x?xf32>, tensor<1x8xf32>, !kv.cache<2x1x128x8, f16, paged<16>, #kv.policy<h2o, heavy = 32, recent = 32>> -> tensor<1x?xf32>, tensor<1x?xf32>
    %c2 = kv.score_accumulate %c1[0], %s0 : !kv.cache<2x1x128x8, f16, paged<16>, #kv.policy<h2o, heavy = 32, recent = 32>>, tensor<1x?xf32>
    %q1 = llm.linear %a0, %wq1 : tensor<1x?xf32>, tensor<32x32xf16> -> tensor<1x?xf32>
    %a1, %c3, %s1 = llm.attention %q1, %kv, %kv, %c2[1] at %pos {head_dim = 8 : i64, num_heads = 4 : i64, num_kv_heads = 1 : i64, scale = 0.353553385 : f32, window = 64 : i64}
        : tensor<1x?xf32>, tensor<1x8xf32>, !kv.cache<2x1x128x8, f16, paged<16>, #kv.policy<h2o, heavy = 32, recent = 32>> -> tensor<1x?xf32>, tensor<1x?xf32>
    %c4 = kv.score_accumulate %c3[1], %s1 : !kv.cache<2x1x128x8, f16, paged<16>, #kv.policy<h2o, heavy = 32, recent = 32>>, tensor<1x?xf32>
    %c5 = kv.evict %c4 : !kv.cache<2x1x128x8, f16, paged<16>, #kv.policy<h2o, heavy = 32, recent = 32>>
    return %a1, %c5 : tensor<1x?xf32>, !kv.cache<2x1x128x8, f16, paged<16>, #kv.policy<h2o, heavy = 32, recent = 32>>
  }
}
