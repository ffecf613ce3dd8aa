// Every llm op round-trips through the custom and the generic form.
// RUN: llmc-opt %s | llmc-opt | FileCheck %s
// RUN: llmc-opt %s --mlir-print-op-generic | llmc-opt | FileCheck %s

// CHECK: llm.weight @tok_embd "token_embd.weight" : tensor<512x64xf32> from "m.gguf" at 0
llm.weight @tok_embd "token_embd.weight" : tensor<512x64xf32> from "m.gguf" at 0
// CHECK: llm.weight @tok_embd_q8 "token_embd.weight" : !qmm.packed<512x64, #qmm.format<q8_0>> from "m-q8.gguf" at 736
llm.weight @tok_embd_q8 "token_embd.weight" : !qmm.packed<512x64, #qmm.format<q8_0>> from "m-q8.gguf" at 736
// CHECK: llm.weight @norm "blk.0.attn_norm.weight" : tensor<64xf16> from "m.gguf" at 131072
llm.weight @norm "blk.0.attn_norm.weight" : tensor<64xf16> from "m.gguf" at 131072
// CHECK: llm.weight @w1 "blk.0.ffn_gate.weight" : !qmm.packed<172x64, #qmm.format<q4_0>, tile = 4> from "m.gguf" at 4096
llm.weight @w1 "blk.0.ffn_gate.weight" : !qmm.packed<172x64, #qmm.format<q4_0>, tile = 4> from "m.gguf" at 4096

// CHECK-LABEL: func.func @get_weight
func.func @get_weight() -> (tensor<512x64xf32>, !qmm.packed<512x64, #qmm.format<q8_0>>) {
  // CHECK: llm.get_weight @tok_embd : tensor<512x64xf32>
  %0 = llm.get_weight @tok_embd : tensor<512x64xf32>
  // CHECK: llm.get_weight @tok_embd_q8 : !qmm.packed<512x64, #qmm.format<q8_0>>
  %1 = llm.get_weight @tok_embd_q8 : !qmm.packed<512x64, #qmm.format<q8_0>>
  return %0, %1 : tensor<512x64xf32>, !qmm.packed<512x64, #qmm.format<q8_0>>
}

// CHECK-LABEL: func.func @embedding
// CHECK-SAME: (%[[T:.*]]: tensor<512x64xf32>, %[[P:.*]]: !qmm.packed<512x64, #qmm.format<q8_0>>, %[[IDS:.*]]: tensor<?xi32>, %[[IDS64:.*]]: tensor<3xi64>)
func.func @embedding(%table: tensor<512x64xf32>, %packed: !qmm.packed<512x64, #qmm.format<q8_0>>, %ids: tensor<?xi32>, %ids64: tensor<3xi64>) -> (tensor<?x64xf32>, tensor<3x64xbf16>) {
  // CHECK: llm.embedding %[[T]], %[[IDS]] : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %0 = llm.embedding %table, %ids : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  // CHECK: llm.embedding %[[P]], %[[IDS64]] : !qmm.packed<512x64, #qmm.format<q8_0>>, tensor<3xi64> -> tensor<3x64xbf16>
  %1 = llm.embedding %packed, %ids64 : !qmm.packed<512x64, #qmm.format<q8_0>>, tensor<3xi64> -> tensor<3x64xbf16>
  return %0, %1 : tensor<?x64xf32>, tensor<3x64xbf16>
}

// CHECK-LABEL: func.func @rms_norm
func.func @rms_norm(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  // CHECK: llm.rms_norm %{{.*}}, %{{.*}} {eps = 9.99999974E-6 : f32} : tensor<?x64xf32>, tensor<64xf32>
  %0 = llm.rms_norm %x, %w {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
  return %0 : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @rope
func.func @rope(%q: tensor<?x64xf32>, %k: tensor<2x32xf16>, %pos: index) -> (tensor<?x64xf32>, tensor<2x32xf16>) {
  // CHECK: llm.rope %{{.*}} at %{{.*}} {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.000000e+04 : f32} : tensor<?x64xf32>
  %0 = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  // Partial rotation with linear position scaling.
  // CHECK: llm.rope %{{.*}} at %{{.*}} {freq_scale = 2.500000e-01 : f32, head_dim = 8 : i64, rotary_dims = 4 : i64, theta = 5.000000e+05 : f32} : tensor<2x32xf16>
  %1 = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 4 : i64, theta = 5.0e+05 : f32, freq_scale = 0.25 : f32} : tensor<2x32xf16>
  return %0, %1 : tensor<?x64xf32>, tensor<2x32xf16>
}

// CHECK-LABEL: func.func @rope_half_split
func.func @rope_half_split(%q: tensor<?x64xf32>, %pos: index) -> tensor<?x64xf32> {
  // Pairs (i, i + rotary_dims / 2): Hugging Face's rotate-half layout.
  // CHECK: llm.rope %{{.*}} at %{{.*}} {half_split, head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.000000e+04 : f32} : tensor<?x64xf32>
  %0 = llm.rope %q at %pos {half_split, head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @linear
func.func @linear(%x: tensor<?x64xf32>, %w: tensor<172x64xf32>, %p: !qmm.packed<172x64, #qmm.format<q4_0>, tile = 4>) -> (tensor<?x172xf32>, tensor<?x?xf32>) {
  // CHECK: llm.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %0 = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, !qmm.packed<172x64, #qmm.format<q4_0>, tile = 4> -> tensor<?x?xf32>
  %1 = llm.linear %x, %p : tensor<?x64xf32>, !qmm.packed<172x64, #qmm.format<q4_0>, tile = 4> -> tensor<?x?xf32>
  return %0, %1 : tensor<?x172xf32>, tensor<?x?xf32>
}

// CHECK-LABEL: func.func @attention
// CHECK-SAME: (%[[Q:.*]]: tensor<?x64xf32>, %[[K:.*]]: tensor<?x32xf32>, %[[V:.*]]: tensor<?x32xf32>, %[[C:.*]]: !kv.cache<2x4x512x8, f32>, %[[POS:.*]]: index)
func.func @attention(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %c0: !kv.cache<2x4x512x8, f32>, %pos: index) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<4x512xf32>, !kv.cache<2x4x512x8, f32>) {
  // CHECK: %[[O0:.*]], %[[C1:.*]] = llm.attention %[[Q]], %[[K]], %[[V]], %[[C]][0] at %[[POS]] {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>{{$}}
  %o0, %c1 = llm.attention %q, %k, %v, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>
  // Sliding window, bidirectional, with the per-position scores result.
  // CHECK: %{{.*}}, %[[C2:.*]], %{{.*}} = llm.attention %[[Q]], %[[K]], %[[V]], %[[C1]][1] at %[[POS]] {causal = false, head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32, window = 128 : i64} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>, tensor<4x512xf32>
  %o1, %c2, %s = llm.attention %q, %k, %v, %c1[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32, causal = false, window = 128 : i64} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>, tensor<4x512xf32>
  // CHECK: return %[[O0]], %{{.*}}, %{{.*}}, %[[C2]]
  return %o0, %o1, %s, %c2 : tensor<?x64xf32>, tensor<?x64xf32>, tensor<4x512xf32>, !kv.cache<2x4x512x8, f32>
}

// CHECK-LABEL: func.func @swiglu_add
func.func @swiglu_add(%g: tensor<?x172xf32>, %u: tensor<?x172xf32>) -> tensor<?x172xf32> {
  // CHECK: %[[H:.*]] = llm.swiglu %{{.*}}, %{{.*}} : tensor<?x172xf32>
  %h = llm.swiglu %g, %u : tensor<?x172xf32>
  // CHECK: llm.add %{{.*}}, %[[H]] : tensor<?x172xf32>
  %r = llm.add %g, %h : tensor<?x172xf32>
  return %r : tensor<?x172xf32>
}

// CHECK-LABEL: func.func @lm_head
func.func @lm_head(%x: tensor<?x64xf32>, %w: tensor<512x64xf32>, %p: !qmm.packed<512x64, #qmm.format<q8_0>>) -> (tensor<?x512xf32>, tensor<1x512xf32>) {
  // CHECK: llm.lm_head %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
  %0 = llm.lm_head %x, %w : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
  // CHECK: llm.lm_head %{{.*}}, %{{.*}} {last_only} : tensor<?x64xf32>, !qmm.packed<512x64, #qmm.format<q8_0>> -> tensor<1x512xf32>
  %1 = llm.lm_head %x, %p {last_only} : tensor<?x64xf32>, !qmm.packed<512x64, #qmm.format<q8_0>> -> tensor<1x512xf32>
  return %0, %1 : tensor<?x512xf32>, tensor<1x512xf32>
}

// CHECK-LABEL: func.func @token_choice
func.func @token_choice(%logits: tensor<1x512xf32>, %batch: tensor<?x512xf16>, %seed: i64) -> (tensor<1xi32>, tensor<1xi32>, tensor<?xi64>) {
  // CHECK: llm.argmax %{{.*}} : tensor<1x512xf32> -> tensor<1xi32>
  %0 = llm.argmax %logits : tensor<1x512xf32> -> tensor<1xi32>
  // CHECK: llm.sample %{{.*}}, %{{.*}} {temperature = 8.000000e-01 : f32, top_k = 40 : i64, top_p = 0.949999988 : f32} : tensor<1x512xf32>, i64 -> tensor<1xi32>
  %1 = llm.sample %logits, %seed {temperature = 0.8 : f32, top_k = 40 : i64, top_p = 0.95 : f32} : tensor<1x512xf32>, i64 -> tensor<1xi32>
  // Defaults (top_k = 0, top_p = 1) are elided.
  // CHECK: llm.sample %{{.*}}, %{{.*}} {temperature = 1.000000e+00 : f32} : tensor<?x512xf16>, i64 -> tensor<?xi64>
  %2 = llm.sample %batch, %seed {temperature = 1.0 : f32} : tensor<?x512xf16>, i64 -> tensor<?xi64>
  return %0, %1, %2 : tensor<1xi32>, tensor<1xi32>, tensor<?xi64>
}

// Token trees: per-row positions by depth, a tree mask, the tree drafter
// and tree acceptance.
// CHECK-LABEL: func.func @token_tree
func.func @token_tree(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index, %tree: tensor<?xi32>, %hist: tensor<?xi32>, %len: index, %logits: tensor<?x512xf32>, %t: f64, %tk: i64, %tp: f64, %seed: i64) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<5xi32>, tensor<5xi32>) {
  // CHECK: llm.rope %{{.*}} at %{{.*}} tree(%{{.*}} : tensor<?xi32>) {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.000000e+04 : f32} : tensor<?x64xf32>
  %r = llm.rope %q at %pos tree(%tree : tensor<?xi32>) {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  // CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}[1] at %{{.*}} tree(%{{.*}} : tensor<?xi32>) {head_dim = 8 : i64
  %o, %c1 = llm.attention %r, %k, %k, %c[1] at %pos tree(%tree : tensor<?xi32>) {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>
  // CHECK: llm.ngram_tree_draft %{{.*}}, %{{.*}} {max = 4 : i64, ngram = 3 : i64, width = 2 : i64} : tensor<?xi32> -> tensor<4xi32>
  %d, %p, %n = llm.ngram_tree_draft %hist, %len {max = 4 : i64, ngram = 3 : i64, width = 2 : i64} : tensor<?xi32> -> tensor<4xi32>
  // CHECK: llm.spec_accept_tree %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} sampling(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : tensor<4xi32>, tensor<?x512xf32> -> tensor<5xi32>
  %tokens, %path, %a = llm.spec_accept_tree %d, %p, %n, %logits sampling(%t, %tk, %tp, %seed) : tensor<4xi32>, tensor<?x512xf32> -> tensor<5xi32>
  return %r, %o, %tokens, %path : tensor<?x64xf32>, tensor<?x64xf32>, tensor<5xi32>, tensor<5xi32>
}
