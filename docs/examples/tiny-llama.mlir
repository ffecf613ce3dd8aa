// A complete two-layer Llama-style decoder in the llm dialect, shaped like
// stories260K (dim 64, 8 heads, 4 KV heads, head_dim 8, FFN 172, vocab 512).
// Weights refer to tensors of a GGUF file by name and offset; the IR never
// holds weight data. The demo runs it through llmc-frontend-pipeline.
module {
  llm.weight @tok_embd "token_embd.weight" : tensor<512x64xf32> from "tiny-llama.gguf" at 0
  llm.weight @blk0.attn_norm "blk.0.attn_norm.weight" : tensor<64xf32> from "tiny-llama.gguf" at 131072
  llm.weight @blk0.wq "blk.0.attn_q.weight" : tensor<64x64xf32> from "tiny-llama.gguf" at 131328
  llm.weight @blk0.wk "blk.0.attn_k.weight" : tensor<32x64xf32> from "tiny-llama.gguf" at 147712
  llm.weight @blk0.wv "blk.0.attn_v.weight" : tensor<32x64xf32> from "tiny-llama.gguf" at 155904
  llm.weight @blk0.wo "blk.0.attn_output.weight" : tensor<64x64xf32> from "tiny-llama.gguf" at 164096
  llm.weight @blk0.ffn_norm "blk.0.ffn_norm.weight" : tensor<64xf32> from "tiny-llama.gguf" at 180480
  llm.weight @blk0.w1 "blk.0.ffn_gate.weight" : tensor<172x64xf32> from "tiny-llama.gguf" at 180736
  llm.weight @blk0.w3 "blk.0.ffn_up.weight" : tensor<172x64xf32> from "tiny-llama.gguf" at 224768
  llm.weight @blk0.w2 "blk.0.ffn_down.weight" : tensor<64x172xf32> from "tiny-llama.gguf" at 268800
  llm.weight @blk1.attn_norm "blk.1.attn_norm.weight" : tensor<64xf32> from "tiny-llama.gguf" at 312832
  llm.weight @blk1.wq "blk.1.attn_q.weight" : tensor<64x64xf32> from "tiny-llama.gguf" at 313088
  llm.weight @blk1.wk "blk.1.attn_k.weight" : tensor<32x64xf32> from "tiny-llama.gguf" at 329472
  llm.weight @blk1.wv "blk.1.attn_v.weight" : tensor<32x64xf32> from "tiny-llama.gguf" at 337664
  llm.weight @blk1.wo "blk.1.attn_output.weight" : tensor<64x64xf32> from "tiny-llama.gguf" at 345856
  llm.weight @blk1.ffn_norm "blk.1.ffn_norm.weight" : tensor<64xf32> from "tiny-llama.gguf" at 362240
  llm.weight @blk1.w1 "blk.1.ffn_gate.weight" : tensor<172x64xf32> from "tiny-llama.gguf" at 362496
  llm.weight @blk1.w3 "blk.1.ffn_up.weight" : tensor<172x64xf32> from "tiny-llama.gguf" at 406528
  llm.weight @blk1.w2 "blk.1.ffn_down.weight" : tensor<64x172xf32> from "tiny-llama.gguf" at 450560
  llm.weight @output_norm "output_norm.weight" : tensor<64xf32> from "tiny-llama.gguf" at 494592
  llm.weight @output "output.weight" : tensor<512x64xf32> from "tiny-llama.gguf" at 494848

  // prefill: a prompt of T tokens at position %pos; returns last-token logits and the updated cache.
  func.func @prefill(%ids: tensor<?xi32>, %cache: !kv.cache<2x4x512x8, f32>, %pos: index) -> (tensor<1x512xf32>, !kv.cache<2x4x512x8, f32>) {
    %emb = llm.get_weight @tok_embd : tensor<512x64xf32>
    %x0 = llm.embedding %emb, %ids : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    %l0_attn_norm = llm.get_weight @blk0.attn_norm : tensor<64xf32>
    %l0_h = llm.rms_norm %x0, %l0_attn_norm {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    %l0_wq = llm.get_weight @blk0.wq : tensor<64x64xf32>
    %l0_wk = llm.get_weight @blk0.wk : tensor<32x64xf32>
    %l0_wv = llm.get_weight @blk0.wv : tensor<32x64xf32>
    %l0_q = llm.linear %l0_h, %l0_wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x?xf32>
    %l0_k = llm.linear %l0_h, %l0_wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    %l0_v = llm.linear %l0_h, %l0_wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    %l0_qr = llm.rope %l0_q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x?xf32>
    %l0_kr = llm.rope %l0_k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x32xf32>
    %l0_a, %l0_c = llm.attention %l0_qr, %l0_kr, %l0_v, %cache[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : tensor<?x?xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x?xf32>
    %l0_wo = llm.get_weight @blk0.wo : tensor<64x64xf32>
    %l0_o = llm.linear %l0_a, %l0_wo : tensor<?x?xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %l0_r = llm.add %x0, %l0_o : tensor<?x64xf32>
    %l0_ffn_norm = llm.get_weight @blk0.ffn_norm : tensor<64xf32>
    %l0_n = llm.rms_norm %l0_r, %l0_ffn_norm {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    %l0_w1 = llm.get_weight @blk0.w1 : tensor<172x64xf32>
    %l0_w3 = llm.get_weight @blk0.w3 : tensor<172x64xf32>
    %l0_w2 = llm.get_weight @blk0.w2 : tensor<64x172xf32>
    %l0_gate = llm.linear %l0_n, %l0_w1 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    %l0_up = llm.linear %l0_n, %l0_w3 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    %l0_act = llm.swiglu %l0_gate, %l0_up : tensor<?x172xf32>
    %l0_down = llm.linear %l0_act, %l0_w2 : tensor<?x172xf32>, tensor<64x172xf32> -> tensor<?x64xf32>
    %l0_out = llm.add %l0_r, %l0_down : tensor<?x64xf32>
    %l1_attn_norm = llm.get_weight @blk1.attn_norm : tensor<64xf32>
    %l1_h = llm.rms_norm %l0_out, %l1_attn_norm {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    %l1_wq = llm.get_weight @blk1.wq : tensor<64x64xf32>
    %l1_wk = llm.get_weight @blk1.wk : tensor<32x64xf32>
    %l1_wv = llm.get_weight @blk1.wv : tensor<32x64xf32>
    %l1_q = llm.linear %l1_h, %l1_wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x?xf32>
    %l1_k = llm.linear %l1_h, %l1_wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    %l1_v = llm.linear %l1_h, %l1_wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    %l1_qr = llm.rope %l1_q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x?xf32>
    %l1_kr = llm.rope %l1_k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x32xf32>
    %l1_a, %l1_c = llm.attention %l1_qr, %l1_kr, %l1_v, %l0_c[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : tensor<?x?xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x?xf32>
    %l1_wo = llm.get_weight @blk1.wo : tensor<64x64xf32>
    %l1_o = llm.linear %l1_a, %l1_wo : tensor<?x?xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %l1_r = llm.add %l0_out, %l1_o : tensor<?x64xf32>
    %l1_ffn_norm = llm.get_weight @blk1.ffn_norm : tensor<64xf32>
    %l1_n = llm.rms_norm %l1_r, %l1_ffn_norm {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    %l1_w1 = llm.get_weight @blk1.w1 : tensor<172x64xf32>
    %l1_w3 = llm.get_weight @blk1.w3 : tensor<172x64xf32>
    %l1_w2 = llm.get_weight @blk1.w2 : tensor<64x172xf32>
    %l1_gate = llm.linear %l1_n, %l1_w1 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    %l1_up = llm.linear %l1_n, %l1_w3 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    %l1_act = llm.swiglu %l1_gate, %l1_up : tensor<?x172xf32>
    %l1_down = llm.linear %l1_act, %l1_w2 : tensor<?x172xf32>, tensor<64x172xf32> -> tensor<?x64xf32>
    %l1_out = llm.add %l1_r, %l1_down : tensor<?x64xf32>
    %norm_w = llm.get_weight @output_norm : tensor<64xf32>
    %xn = llm.rms_norm %l1_out, %norm_w {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    %head = llm.get_weight @output : tensor<512x64xf32>
    %logits = llm.lm_head %xn, %head {last_only} : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
    return %logits, %l1_c : tensor<1x512xf32>, !kv.cache<2x4x512x8, f32>
  }

  // decode: one token at position %pos; returns the next token (greedy) and the updated cache.
  func.func @decode(%ids: tensor<1xi32>, %cache: !kv.cache<2x4x512x8, f32>, %pos: index) -> (tensor<1xi32>, !kv.cache<2x4x512x8, f32>) {
    %emb = llm.get_weight @tok_embd : tensor<512x64xf32>
    %x0 = llm.embedding %emb, %ids : tensor<512x64xf32>, tensor<1xi32> -> tensor<1x64xf32>
    %l0_attn_norm = llm.get_weight @blk0.attn_norm : tensor<64xf32>
    %l0_h = llm.rms_norm %x0, %l0_attn_norm {eps = 1.0e-05 : f32} : tensor<1x64xf32>, tensor<64xf32>
    %l0_wq = llm.get_weight @blk0.wq : tensor<64x64xf32>
    %l0_wk = llm.get_weight @blk0.wk : tensor<32x64xf32>
    %l0_wv = llm.get_weight @blk0.wv : tensor<32x64xf32>
    %l0_q = llm.linear %l0_h, %l0_wq : tensor<1x64xf32>, tensor<64x64xf32> -> tensor<1x?xf32>
    %l0_k = llm.linear %l0_h, %l0_wk : tensor<1x64xf32>, tensor<32x64xf32> -> tensor<1x32xf32>
    %l0_v = llm.linear %l0_h, %l0_wv : tensor<1x64xf32>, tensor<32x64xf32> -> tensor<1x32xf32>
    %l0_qr = llm.rope %l0_q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<1x?xf32>
    %l0_kr = llm.rope %l0_k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<1x32xf32>
    %l0_a, %l0_c = llm.attention %l0_qr, %l0_kr, %l0_v, %cache[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : tensor<1x?xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<1x?xf32>
    %l0_wo = llm.get_weight @blk0.wo : tensor<64x64xf32>
    %l0_o = llm.linear %l0_a, %l0_wo : tensor<1x?xf32>, tensor<64x64xf32> -> tensor<1x64xf32>
    %l0_r = llm.add %x0, %l0_o : tensor<1x64xf32>
    %l0_ffn_norm = llm.get_weight @blk0.ffn_norm : tensor<64xf32>
    %l0_n = llm.rms_norm %l0_r, %l0_ffn_norm {eps = 1.0e-05 : f32} : tensor<1x64xf32>, tensor<64xf32>
    %l0_w1 = llm.get_weight @blk0.w1 : tensor<172x64xf32>
    %l0_w3 = llm.get_weight @blk0.w3 : tensor<172x64xf32>
    %l0_w2 = llm.get_weight @blk0.w2 : tensor<64x172xf32>
    %l0_gate = llm.linear %l0_n, %l0_w1 : tensor<1x64xf32>, tensor<172x64xf32> -> tensor<1x172xf32>
    %l0_up = llm.linear %l0_n, %l0_w3 : tensor<1x64xf32>, tensor<172x64xf32> -> tensor<1x172xf32>
    %l0_act = llm.swiglu %l0_gate, %l0_up : tensor<1x172xf32>
    %l0_down = llm.linear %l0_act, %l0_w2 : tensor<1x172xf32>, tensor<64x172xf32> -> tensor<1x64xf32>
    %l0_out = llm.add %l0_r, %l0_down : tensor<1x64xf32>
    %l1_attn_norm = llm.get_weight @blk1.attn_norm : tensor<64xf32>
    %l1_h = llm.rms_norm %l0_out, %l1_attn_norm {eps = 1.0e-05 : f32} : tensor<1x64xf32>, tensor<64xf32>
    %l1_wq = llm.get_weight @blk1.wq : tensor<64x64xf32>
    %l1_wk = llm.get_weight @blk1.wk : tensor<32x64xf32>
    %l1_wv = llm.get_weight @blk1.wv : tensor<32x64xf32>
    %l1_q = llm.linear %l1_h, %l1_wq : tensor<1x64xf32>, tensor<64x64xf32> -> tensor<1x?xf32>
    %l1_k = llm.linear %l1_h, %l1_wk : tensor<1x64xf32>, tensor<32x64xf32> -> tensor<1x32xf32>
    %l1_v = llm.linear %l1_h, %l1_wv : tensor<1x64xf32>, tensor<32x64xf32> -> tensor<1x32xf32>
    %l1_qr = llm.rope %l1_q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<1x?xf32>
    %l1_kr = llm.rope %l1_k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<1x32xf32>
    %l1_a, %l1_c = llm.attention %l1_qr, %l1_kr, %l1_v, %l0_c[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : tensor<1x?xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<1x?xf32>
    %l1_wo = llm.get_weight @blk1.wo : tensor<64x64xf32>
    %l1_o = llm.linear %l1_a, %l1_wo : tensor<1x?xf32>, tensor<64x64xf32> -> tensor<1x64xf32>
    %l1_r = llm.add %l0_out, %l1_o : tensor<1x64xf32>
    %l1_ffn_norm = llm.get_weight @blk1.ffn_norm : tensor<64xf32>
    %l1_n = llm.rms_norm %l1_r, %l1_ffn_norm {eps = 1.0e-05 : f32} : tensor<1x64xf32>, tensor<64xf32>
    %l1_w1 = llm.get_weight @blk1.w1 : tensor<172x64xf32>
    %l1_w3 = llm.get_weight @blk1.w3 : tensor<172x64xf32>
    %l1_w2 = llm.get_weight @blk1.w2 : tensor<64x172xf32>
    %l1_gate = llm.linear %l1_n, %l1_w1 : tensor<1x64xf32>, tensor<172x64xf32> -> tensor<1x172xf32>
    %l1_up = llm.linear %l1_n, %l1_w3 : tensor<1x64xf32>, tensor<172x64xf32> -> tensor<1x172xf32>
    %l1_act = llm.swiglu %l1_gate, %l1_up : tensor<1x172xf32>
    %l1_down = llm.linear %l1_act, %l1_w2 : tensor<1x172xf32>, tensor<64x172xf32> -> tensor<1x64xf32>
    %l1_out = llm.add %l1_r, %l1_down : tensor<1x64xf32>
    %norm_w = llm.get_weight @output_norm : tensor<64xf32>
    %xn = llm.rms_norm %l1_out, %norm_w {eps = 1.0e-05 : f32} : tensor<1x64xf32>, tensor<64xf32>
    %head = llm.get_weight @output : tensor<512x64xf32>
    %logits = llm.lm_head %xn, %head {last_only} : tensor<1x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
    %seed = arith.constant 0 : i64
    %next = llm.sample %logits, %seed {temperature = 0.0 : f32} : tensor<1x512xf32>, i64 -> tensor<1xi32>
    return %next, %l1_c : tensor<1xi32>, !kv.cache<2x4x512x8, f32>
  }
}
