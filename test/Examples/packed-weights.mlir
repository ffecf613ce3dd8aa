// A one-layer decoder whose projections are block-quantized: Q4_0 attention,
// Q4_K gate/up, Q8_0 down (K = 172 is ragged: 6 padded blocks of 32), Q6_K
// output head, a Q8_0 embedding table and an f16 cache. The model verifier's
// byte count is checked against the GGUF block sizes, computed independently:
//   34816 + 256 + 2304 + 1152 + 1152 + 2304 + 256 + 24768 + 24768 + 13056 + 256 + 107520 = 212608
// The decode step feeds a dequantized copy of the output head to lm_head;
// canonicalization makes lm_head consume the packed weights directly.
// RUN: llmc-opt %s | llmc-opt --verify-roundtrip | FileCheck %s --check-prefix=ROUNDTRIP
// RUN: llmc-opt %s --llmc-verify-model=summary=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=SUMMARY
// RUN: llmc-opt %s --llmc-frontend-pipeline | FileCheck %s --check-prefix=PIPELINE

// ROUNDTRIP: llm.weight @w2 "blk.0.ffn_down.weight" : !qmm.packed<64x172, #qmm.format<q8_0>>
// SUMMARY: remark: model: 1 layers, 8 heads, 4 kv heads, head_dim 8, cache capacity 256 (128 bytes/position), 12 weights (212608 bytes)
// PIPELINE-LABEL: func.func @decode
// PIPELINE-NOT: qmm.dequantize
// PIPELINE: %[[HEAD:.*]] = llm.get_weight @output : !qmm.packed<512x64, #qmm.format<q6_k>>
// PIPELINE: llm.lm_head %{{.*}}, %[[HEAD]] {last_only} : tensor<1x64xf32>, !qmm.packed<512x64, #qmm.format<q6_k>> -> tensor<1x512xf32>
module {
  llm.weight @tok_embd "token_embd.weight" : !qmm.packed<512x64, #qmm.format<q8_0>> from "tiny-q.gguf" at 0
  llm.weight @attn_norm "blk.0.attn_norm.weight" : tensor<64xf32> from "tiny-q.gguf" at 34816
  llm.weight @wq "blk.0.attn_q.weight" : !qmm.packed<64x64, #qmm.format<q4_0>> from "tiny-q.gguf" at 35072
  llm.weight @wk "blk.0.attn_k.weight" : !qmm.packed<32x64, #qmm.format<q4_0>> from "tiny-q.gguf" at 37376
  llm.weight @wv "blk.0.attn_v.weight" : !qmm.packed<32x64, #qmm.format<q4_0>> from "tiny-q.gguf" at 38528
  llm.weight @wo "blk.0.attn_output.weight" : !qmm.packed<64x64, #qmm.format<q4_0>> from "tiny-q.gguf" at 39680
  llm.weight @ffn_norm "blk.0.ffn_norm.weight" : tensor<64xf32> from "tiny-q.gguf" at 41984
  llm.weight @w1 "blk.0.ffn_gate.weight" : !qmm.packed<172x64, #qmm.format<q4_k>> from "tiny-q.gguf" at 42240
  llm.weight @w3 "blk.0.ffn_up.weight" : !qmm.packed<172x64, #qmm.format<q4_k>> from "tiny-q.gguf" at 67008
  llm.weight @w2 "blk.0.ffn_down.weight" : !qmm.packed<64x172, #qmm.format<q8_0>> from "tiny-q.gguf" at 91776
  llm.weight @output_norm "output_norm.weight" : tensor<64xf32> from "tiny-q.gguf" at 104832
  llm.weight @output "output.weight" : !qmm.packed<512x64, #qmm.format<q6_k>> from "tiny-q.gguf" at 105088

  func.func @prefill(%ids: tensor<?xi32>, %cache: !kv.cache<1x4x256x8, f16>, %pos: index) -> (tensor<1x512xf32>, !kv.cache<1x4x256x8, f16>) {
    %tok_embd = llm.get_weight @tok_embd : !qmm.packed<512x64, #qmm.format<q8_0>>
    %attn_norm = llm.get_weight @attn_norm : tensor<64xf32>
    %wq = llm.get_weight @wq : !qmm.packed<64x64, #qmm.format<q4_0>>
    %wk = llm.get_weight @wk : !qmm.packed<32x64, #qmm.format<q4_0>>
    %wv = llm.get_weight @wv : !qmm.packed<32x64, #qmm.format<q4_0>>
    %wo = llm.get_weight @wo : !qmm.packed<64x64, #qmm.format<q4_0>>
    %ffn_norm = llm.get_weight @ffn_norm : tensor<64xf32>
    %w1 = llm.get_weight @w1 : !qmm.packed<172x64, #qmm.format<q4_k>>
    %w3 = llm.get_weight @w3 : !qmm.packed<172x64, #qmm.format<q4_k>>
    %w2 = llm.get_weight @w2 : !qmm.packed<64x172, #qmm.format<q8_0>>
    %output_norm = llm.get_weight @output_norm : tensor<64xf32>
    %output = llm.get_weight @output : !qmm.packed<512x64, #qmm.format<q6_k>>
    %x = llm.embedding %tok_embd, %ids : !qmm.packed<512x64, #qmm.format<q8_0>>, tensor<?xi32> -> tensor<?x64xf32>
    %h = llm.rms_norm %x, %attn_norm {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    %q = llm.linear %h, %wq : tensor<?x64xf32>, !qmm.packed<64x64, #qmm.format<q4_0>> -> tensor<?x64xf32>
    %k = llm.linear %h, %wk : tensor<?x64xf32>, !qmm.packed<32x64, #qmm.format<q4_0>> -> tensor<?x32xf32>
    %v = llm.linear %h, %wv : tensor<?x64xf32>, !qmm.packed<32x64, #qmm.format<q4_0>> -> tensor<?x32xf32>
    %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
    %kr = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x32xf32>
    %a, %c1 = llm.attention %qr, %kr, %v, %cache[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<1x4x256x8, f16> -> tensor<?x64xf32>
    %o = llm.linear %a, %wo : tensor<?x64xf32>, !qmm.packed<64x64, #qmm.format<q4_0>> -> tensor<?x64xf32>
    %r = llm.add %x, %o : tensor<?x64xf32>
    %n = llm.rms_norm %r, %ffn_norm {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    %gate = llm.linear %n, %w1 : tensor<?x64xf32>, !qmm.packed<172x64, #qmm.format<q4_k>> -> tensor<?x172xf32>
    %up = llm.linear %n, %w3 : tensor<?x64xf32>, !qmm.packed<172x64, #qmm.format<q4_k>> -> tensor<?x172xf32>
    %s = llm.swiglu %gate, %up : tensor<?x172xf32>
    %d = llm.linear %s, %w2 : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<?x64xf32>
    %y = llm.add %r, %d : tensor<?x64xf32>
    %yn = llm.rms_norm %y, %output_norm {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    %logits = llm.lm_head %yn, %output {last_only} : tensor<?x64xf32>, !qmm.packed<512x64, #qmm.format<q6_k>> -> tensor<1x512xf32>
    return %logits, %c1 : tensor<1x512xf32>, !kv.cache<1x4x256x8, f16>
  }
  func.func @decode(%ids: tensor<1xi32>, %cache: !kv.cache<1x4x256x8, f16>, %pos: index) -> (tensor<1xi32>, !kv.cache<1x4x256x8, f16>) {
    %tok_embd = llm.get_weight @tok_embd : !qmm.packed<512x64, #qmm.format<q8_0>>
    %attn_norm = llm.get_weight @attn_norm : tensor<64xf32>
    %wq = llm.get_weight @wq : !qmm.packed<64x64, #qmm.format<q4_0>>
    %wk = llm.get_weight @wk : !qmm.packed<32x64, #qmm.format<q4_0>>
    %wv = llm.get_weight @wv : !qmm.packed<32x64, #qmm.format<q4_0>>
    %wo = llm.get_weight @wo : !qmm.packed<64x64, #qmm.format<q4_0>>
    %ffn_norm = llm.get_weight @ffn_norm : tensor<64xf32>
    %w1 = llm.get_weight @w1 : !qmm.packed<172x64, #qmm.format<q4_k>>
    %w3 = llm.get_weight @w3 : !qmm.packed<172x64, #qmm.format<q4_k>>
    %w2 = llm.get_weight @w2 : !qmm.packed<64x172, #qmm.format<q8_0>>
    %output_norm = llm.get_weight @output_norm : tensor<64xf32>
    %output = llm.get_weight @output : !qmm.packed<512x64, #qmm.format<q6_k>>
    %x = llm.embedding %tok_embd, %ids : !qmm.packed<512x64, #qmm.format<q8_0>>, tensor<1xi32> -> tensor<1x64xf32>
    %h = llm.rms_norm %x, %attn_norm {eps = 1.0e-05 : f32} : tensor<1x64xf32>, tensor<64xf32>
    %q = llm.linear %h, %wq : tensor<1x64xf32>, !qmm.packed<64x64, #qmm.format<q4_0>> -> tensor<1x64xf32>
    %k = llm.linear %h, %wk : tensor<1x64xf32>, !qmm.packed<32x64, #qmm.format<q4_0>> -> tensor<1x32xf32>
    %v = llm.linear %h, %wv : tensor<1x64xf32>, !qmm.packed<32x64, #qmm.format<q4_0>> -> tensor<1x32xf32>
    %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<1x64xf32>
    %kr = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<1x32xf32>
    %a, %c1 = llm.attention %qr, %kr, %v, %cache[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<1x4x256x8, f16> -> tensor<1x64xf32>
    %o = llm.linear %a, %wo : tensor<1x64xf32>, !qmm.packed<64x64, #qmm.format<q4_0>> -> tensor<1x64xf32>
    %r = llm.add %x, %o : tensor<1x64xf32>
    %n = llm.rms_norm %r, %ffn_norm {eps = 1.0e-05 : f32} : tensor<1x64xf32>, tensor<64xf32>
    %gate = llm.linear %n, %w1 : tensor<1x64xf32>, !qmm.packed<172x64, #qmm.format<q4_k>> -> tensor<1x172xf32>
    %up = llm.linear %n, %w3 : tensor<1x64xf32>, !qmm.packed<172x64, #qmm.format<q4_k>> -> tensor<1x172xf32>
    %s = llm.swiglu %gate, %up : tensor<1x172xf32>
    %d = llm.linear %s, %w2 : tensor<1x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<1x64xf32>
    %y = llm.add %r, %d : tensor<1x64xf32>
    %yn = llm.rms_norm %y, %output_norm {eps = 1.0e-05 : f32} : tensor<1x64xf32>, tensor<64xf32>
    %head = qmm.dequantize %output : !qmm.packed<512x64, #qmm.format<q6_k>> -> tensor<512x64xf32>
    %logits = llm.lm_head %yn, %head {last_only} : tensor<1x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
    %next = llm.argmax %logits : tensor<1x512xf32> -> tensor<1xi32>
    return %next, %c1 : tensor<1xi32>, !kv.cache<1x4x256x8, f16>
  }
}
