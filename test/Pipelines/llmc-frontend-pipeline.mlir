// The frontend pipeline verifies the whole model, refines shapes,
// canonicalizes and CSEs; the same passes run from a textual pipeline.
// RUN: llmc-opt %s --llmc-frontend-pipeline | FileCheck %s
// RUN: llmc-opt %s --pass-pipeline='builtin.module(llmc-frontend-pipeline)' | FileCheck %s
// RUN: llmc-opt %s --llmc-frontend-pipeline=refine-shapes=false | FileCheck %s --check-prefix=NOREFINE
// RUN: llmc-opt %s --pass-pipeline='builtin.module(llmc-verify-model{summary=true})' -o /dev/null 2>&1 | FileCheck %s --check-prefix=SUMMARY
// RUN: llmc-opt %s --pass-pipeline='builtin.module(llmc-verify-model{refine-shapes=false summary=true})' | FileCheck %s --check-prefix=VERIFYONLY
// RUN: not llmc-opt %s --pass-pipeline='builtin.module(llmc-verify-model{no-such-option=1})' 2>&1 | FileCheck %s --check-prefix=BADOPT

// SUMMARY: remark: model: 1 layers, 4 heads, 2 kv heads, head_dim 8, cache capacity 64 (128 bytes/position), 7 weights (13632 bytes)
// BADOPT: no-such-option

module {
  llm.weight @tok_embd "token_embd.weight" : tensor<32x32xf32> from "tiny.gguf" at 0
  llm.weight @attn_norm "blk.0.attn_norm.weight" : tensor<32xf32> from "tiny.gguf" at 4096
  llm.weight @wq "blk.0.attn_q.weight" : !qmm.packed<32x32, #qmm.format<q8_0>> from "tiny.gguf" at 4224
  llm.weight @wk "blk.0.attn_k.weight" : tensor<16x32xf32> from "tiny.gguf" at 5312
  llm.weight @wv "blk.0.attn_v.weight" : tensor<16x32xf32> from "tiny.gguf" at 7360
  llm.weight @wo "blk.0.attn_output.weight" : tensor<32x32xf32> from "tiny.gguf" at 9408
  llm.weight @output_norm "output_norm.weight" : tensor<32xf32> from "tiny.gguf" at 13504

  // CHECK-LABEL: func.func @decode
  // CHECK-SAME: (%[[IDS:.*]]: tensor<1xi32>, %[[C0:.*]]: !kv.cache<1x2x64x8, f32>, %[[POS:.*]]: index)
  // The zero bias and the seed of greedy sampling are gone.
  // CHECK-NOT: arith.constant
  // Identical weight reads are merged by CSE.
  // CHECK-COUNT-1: llm.get_weight @tok_embd
  // CHECK-NOT: llm.get_weight @tok_embd
  // CHECK: %[[X:.*]] = llm.embedding %{{.*}}, %[[IDS]] : tensor<32x32xf32>, tensor<1xi32> -> tensor<1x32xf32>
  // The query projection reads the packed weights directly.
  // CHECK-NOT: qmm.dequantize
  // CHECK: %[[Q:.*]] = llm.linear %{{.*}}, %{{.*}} : tensor<1x32xf32>, !qmm.packed<32x32, #qmm.format<q8_0>> -> tensor<1x32xf32>
  // CHECK: llm.rope %[[Q]] at %[[POS]] {{.*}} : tensor<1x32xf32>
  // CHECK: %[[A:.*]], %[[C1:.*]] = llm.attention {{.*}}, %[[C0]][0] at %[[POS]] {{.*}} -> tensor<1x32xf32>
  // Adding the zero bias folds away.
  // CHECK: %[[O:.*]] = llm.linear %[[A]], %{{.*}} : tensor<1x32xf32>, tensor<32x32xf32> -> tensor<1x32xf32>
  // CHECK: %[[R:.*]] = llm.add %[[X]], %[[O]] : tensor<1x32xf32>
  // CHECK: %[[N:.*]] = llm.rms_norm %[[R]], {{.*}} : tensor<1x32xf32>, tensor<32xf32>
  // Tied embeddings: the LM head reads the same (CSE'd) table.
  // CHECK: %[[L:.*]] = llm.lm_head %[[N]], %{{.*}} {last_only} : tensor<1x32xf32>, tensor<32x32xf32> -> tensor<1x32xf32>
  // Greedy sampling is argmax.
  // CHECK-NOT: llm.sample
  // CHECK: %[[T:.*]] = llm.argmax %[[L]] : tensor<1x32xf32> -> tensor<1xi32>
  // CHECK-NOT: tensor.cast
  // CHECK: return %[[T]], %[[C1]]

  // NOREFINE-LABEL: func.func @decode
  // NOREFINE: llm.linear {{.*}} -> tensor<1x?xf32>
  // NOREFINE: llm.attention {{.*}} -> tensor<1x?xf32>
  // NOREFINE: llm.argmax

  // VERIFYONLY-LABEL: func.func @decode
  // VERIFYONLY: qmm.dequantize
  // VERIFYONLY: llm.linear {{.*}} -> tensor<1x?xf32>
  // VERIFYONLY: llm.sample
  func.func @decode(%ids: tensor<1xi32>, %c0: !kv.cache<1x2x64x8, f32>, %pos: index) -> (tensor<1xi32>, !kv.cache<1x2x64x8, f32>) {
    %emb = llm.get_weight @tok_embd : tensor<32x32xf32>
    %x = llm.embedding %emb, %ids : tensor<32x32xf32>, tensor<1xi32> -> tensor<1x32xf32>
    %nw = llm.get_weight @attn_norm : tensor<32xf32>
    %h = llm.rms_norm %x, %nw {eps = 1.0e-05 : f32} : tensor<1x32xf32>, tensor<32xf32>
    %wq_p = llm.get_weight @wq : !qmm.packed<32x32, #qmm.format<q8_0>>
    %wq = qmm.dequantize %wq_p : !qmm.packed<32x32, #qmm.format<q8_0>> -> tensor<32x32xf32>
    %wk = llm.get_weight @wk : tensor<16x32xf32>
    %wv = llm.get_weight @wv : tensor<16x32xf32>
    %q = llm.linear %h, %wq : tensor<1x32xf32>, tensor<32x32xf32> -> tensor<1x?xf32>
    %k = llm.linear %h, %wk : tensor<1x32xf32>, tensor<16x32xf32> -> tensor<1x16xf32>
    %v = llm.linear %h, %wv : tensor<1x32xf32>, tensor<16x32xf32> -> tensor<1x16xf32>
    %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<1x?xf32>
    %kr = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<1x16xf32>
    %a, %c1 = llm.attention %qr, %kr, %v, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32} : tensor<1x?xf32>, tensor<1x16xf32>, !kv.cache<1x2x64x8, f32> -> tensor<1x?xf32>
    %wo = llm.get_weight @wo : tensor<32x32xf32>
    %o = llm.linear %a, %wo : tensor<1x?xf32>, tensor<32x32xf32> -> tensor<1x32xf32>
    %zero = arith.constant dense<0.0> : tensor<1x32xf32>
    %ob = llm.add %o, %zero : tensor<1x32xf32>
    %r = llm.add %x, %ob : tensor<1x32xf32>
    %onw = llm.get_weight @output_norm : tensor<32xf32>
    %n = llm.rms_norm %r, %onw {eps = 1.0e-05 : f32} : tensor<1x32xf32>, tensor<32xf32>
    %head = llm.get_weight @tok_embd : tensor<32x32xf32>
    %logits = llm.lm_head %n, %head {last_only} : tensor<1x32xf32>, tensor<32x32xf32> -> tensor<1x32xf32>
    %seed = arith.constant 7 : i64
    %next = llm.sample %logits, %seed {temperature = 0.0 : f32} : tensor<1x32xf32>, i64 -> tensor<1xi32>
    return %next, %c1 : tensor<1xi32>, !kv.cache<1x2x64x8, f32>
  }
}
