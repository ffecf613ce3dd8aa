// With summary=true the pass reports the model configuration as a remark on
// the module; without it, nothing.
// RUN: llmc-opt %s -split-input-file --llmc-verify-model=summary=true -verify-diagnostics -o /dev/null
// RUN: llmc-opt %s -split-input-file --llmc-verify-model=summary=true -o /dev/null 2>&1 | FileCheck %s
// RUN: llmc-opt %s -split-input-file --llmc-verify-model -o /dev/null 2>&1 | FileCheck %s --check-prefix=QUIET --allow-empty

// Float and packed weights: 512*64*4 + 64*2 + 172*(64/32)*34 (q8_0) +
// 172*(64/32)*18 (q4_0) bytes. The f16 cache holds 2 layers * 4 KV heads *
// head_dim 8 * (K and V) * 2 bytes per position.
// CHECK: remark: model: 2 layers, 8 heads, 4 kv heads, head_dim 8, cache capacity 512 (256 bytes/position), 4 weights (149088 bytes)
// QUIET-NOT: remark: model
// expected-remark@+1 {{model: 2 layers, 8 heads, 4 kv heads, head_dim 8, cache capacity 512 (256 bytes/position), 4 weights (149088 bytes)}}
module {
  llm.weight @tok_embd "token_embd.weight" : tensor<512x64xf32> from "m.gguf" at 0
  llm.weight @norm "blk.0.attn_norm.weight" : tensor<64xf16> from "m.gguf" at 131072
  llm.weight @w1 "blk.0.ffn_gate.weight" : !qmm.packed<172x64, #qmm.format<q8_0>> from "m.gguf" at 131200
  llm.weight @w3 "blk.0.ffn_up.weight" : !qmm.packed<172x64, #qmm.format<q4_0>> from "m.gguf" at 142896

  func.func @step(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<2x4x512x8, f16>, %pos: index) -> (tensor<1x64xf32>, !kv.cache<2x4x512x8, f16>) {
    %o0, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f16> -> tensor<1x64xf32>
    %o1, %c2 = llm.attention %o0, %k, %k, %c1[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x512x8, f16> -> tensor<1x64xf32>
    return %o1, %c2 : tensor<1x64xf32>, !kv.cache<2x4x512x8, f16>
  }
}

// -----

// A model without attention (e.g. just the embedding) still gets a summary.
// CHECK: remark: model: no attention, 1 weights (2048 bytes)
// expected-remark@+1 {{model: no attention, 1 weights (2048 bytes)}}
module {
  llm.weight @tok_embd "token_embd.weight" : tensor<32x32xf16> from "m.gguf" at 0
}

// -----

// An empty module: nothing at all.
// CHECK: remark: model: no attention, 0 weights (0 bytes)
// expected-remark@+1 {{model: no attention, 0 weights (0 bytes)}}
module {
}
