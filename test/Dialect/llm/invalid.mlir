// Every diagnostic of the llm op verifiers.
// RUN: llmc-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// llm.weight / llm.get_weight
//===----------------------------------------------------------------------===//

// expected-error@+1 {{'llm.weight' op weight tensors need a static shape, got 'tensor<?x64xf32>'}}
llm.weight @w "w" : tensor<?x64xf32> from "m.gguf" at 0

// -----

// expected-error@+1 {{'llm.weight' op weight tensors hold floats, got 'tensor<4xi32>'}}
llm.weight @w "w" : tensor<4xi32> from "m.gguf" at 0

// -----

// expected-error@+1 {{'llm.weight' op type must be a static float tensor or !qmm.packed, got 'i32'}}
llm.weight @w "w" : i32 from "m.gguf" at 0

// -----

// expected-error@+1 {{'llm.weight' op type must be a static float tensor or !qmm.packed, got 'tensor<*xf32>'}}
llm.weight @w "w" : tensor<*xf32> from "m.gguf" at 0

// -----

// expected-error@+1 {{'llm.weight' op needs the model file it refers to}}
llm.weight @w "w" : tensor<4xf32> from "" at 0

// -----

// expected-error@+1 {{'llm.weight' op needs the tensor's name in the model file}}
llm.weight @w "" : tensor<4xf32> from "m.gguf" at 0

// -----

// expected-error@+1 {{'llm.weight' op offset must be non-negative, got -1}}
llm.weight @w "w" : tensor<4xf32> from "m.gguf" at -1

// -----

func.func @weight_in_func() {
  // expected-error@+1 {{'llm.weight' op expects parent op 'builtin.module'}}
  llm.weight @w "w" : tensor<4xf32> from "m.gguf" at 0
  return
}

// -----

func.func @unknown_weight() -> tensor<4xf32> {
  // expected-error@+1 {{'llm.get_weight' op 'missing' does not name an llm.weight}}
  %0 = llm.get_weight @missing : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func private @not_a_weight()

func.func @symbol_is_a_func() -> tensor<4xf32> {
  // expected-error@+1 {{'llm.get_weight' op 'not_a_weight' does not name an llm.weight}}
  %0 = llm.get_weight @not_a_weight : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

llm.weight @w "w" : tensor<64x64xf32> from "m.gguf" at 0

func.func @wrong_weight_type() -> tensor<64x64xf16> {
  // expected-error@+1 {{'llm.get_weight' op type 'tensor<64x64xf16>' does not match the weight's type 'tensor<64x64xf32>'}}
  %0 = llm.get_weight @w : tensor<64x64xf16>
  return %0 : tensor<64x64xf16>
}

// -----

llm.weight @w "w" : !qmm.packed<64x64, #qmm.format<q8_0>> from "m.gguf" at 0

func.func @packed_weight_read_as_float() -> tensor<64x64xf32> {
  // expected-error@+1 {{'llm.get_weight' op type 'tensor<64x64xf32>' does not match the weight's type '!qmm.packed<64x64, #qmm.format<q8_0>>'}}
  %0 = llm.get_weight @w : tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

//===----------------------------------------------------------------------===//
// llm.embedding
//===----------------------------------------------------------------------===//

func.func @embedding_1d_table(%t: tensor<512xf32>, %ids: tensor<?xi32>) {
  // expected-error@+1 {{'llm.embedding' op expects a VOCAB x DIM table}}
  %0 = llm.embedding %t, %ids : tensor<512xf32>, tensor<?xi32> -> tensor<?x64xf32>
  return
}

// -----

func.func @embedding_2d_ids(%t: tensor<512x64xf32>, %ids: tensor<1x4xi32>) {
  // expected-error@+1 {{'llm.embedding' op expects a 1-D tensor of token ids, got rank 2}}
  %0 = llm.embedding %t, %ids : tensor<512x64xf32>, tensor<1x4xi32> -> tensor<4x64xf32>
  return
}

// -----

func.func @embedding_3d_result(%t: tensor<512x64xf32>, %ids: tensor<4xi32>) {
  // expected-error@+1 {{'llm.embedding' op result must be T x DIM}}
  %0 = llm.embedding %t, %ids : tensor<512x64xf32>, tensor<4xi32> -> tensor<1x4x64xf32>
  return
}

// -----

func.func @embedding_rows(%t: tensor<512x64xf32>, %ids: tensor<4xi32>) {
  // expected-error@+1 {{'llm.embedding' op result has 3 rows for 4 token ids}}
  %0 = llm.embedding %t, %ids : tensor<512x64xf32>, tensor<4xi32> -> tensor<3x64xf32>
  return
}

// -----

func.func @embedding_width(%t: !qmm.packed<512x64, #qmm.format<q8_0>>, %ids: tensor<?xi32>) {
  // expected-error@+1 {{'llm.embedding' op result width 32 does not match the table's DIM (64)}}
  %0 = llm.embedding %t, %ids : !qmm.packed<512x64, #qmm.format<q8_0>>, tensor<?xi32> -> tensor<?x32xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.rms_norm
//===----------------------------------------------------------------------===//

func.func @rms_norm_1d(%x: tensor<64xf32>, %w: tensor<64xf32>) {
  // expected-error@+1 {{'llm.rms_norm' op expects T x DIM input, got rank 1}}
  %0 = llm.rms_norm %x, %w {eps = 1.0e-05 : f32} : tensor<64xf32>, tensor<64xf32>
  return
}

// -----

func.func @rms_norm_2d_weight(%x: tensor<?x64xf32>, %w: tensor<1x64xf32>) {
  // expected-error@+1 {{'llm.rms_norm' op expects a 1-D weight, got rank 2}}
  %0 = llm.rms_norm %x, %w {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<1x64xf32>
  return
}

// -----

func.func @rms_norm_width(%x: tensor<?x64xf32>, %w: tensor<32xf32>) {
  // expected-error@+1 {{'llm.rms_norm' op weight has 32 elements but rows have 64}}
  %0 = llm.rms_norm %x, %w {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<32xf32>
  return
}

// -----

func.func @rms_norm_eps(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error@+1 {{'llm.rms_norm' op eps must be positive}}
  %0 = llm.rms_norm %x, %w {eps = 0.0 : f32} : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.rope
//===----------------------------------------------------------------------===//

func.func @rope_1d(%x: tensor<64xf32>, %pos: index) {
  // expected-error@+1 {{'llm.rope' op expects T x (HEADS*HEAD_DIM) input, got rank 1}}
  %0 = llm.rope %x at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<64xf32>
  return
}

// -----

func.func @rope_head_dim_zero(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error@+1 {{'llm.rope' op head_dim must be positive}}
  %0 = llm.rope %x at %pos {head_dim = 0 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_head_dim_divides(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error@+1 {{'llm.rope' op head_dim 12 does not divide the row width 64}}
  %0 = llm.rope %x at %pos {head_dim = 12 : i64, rotary_dims = 12 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_rotary_odd(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error@+1 {{'llm.rope' op rotary_dims must be even and in (0, head_dim = 8], got 3}}
  %0 = llm.rope %x at %pos {head_dim = 8 : i64, rotary_dims = 3 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_rotary_too_wide(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error@+1 {{'llm.rope' op rotary_dims must be even and in (0, head_dim = 8], got 16}}
  %0 = llm.rope %x at %pos {head_dim = 8 : i64, rotary_dims = 16 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_rotary_zero(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error@+1 {{'llm.rope' op rotary_dims must be even and in (0, head_dim = 8], got 0}}
  %0 = llm.rope %x at %pos {head_dim = 8 : i64, rotary_dims = 0 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error@+1 {{'llm.rope' op theta must be positive}}
  %0 = llm.rope %x at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = -1.0e+04 : f32} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_freq_scale(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error@+1 {{'llm.rope' op freq_scale must be positive}}
  %0 = llm.rope %x at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32, freq_scale = 0.0 : f32} : tensor<?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.linear / llm.lm_head
//===----------------------------------------------------------------------===//

func.func @linear_1d_weight(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error@+1 {{'llm.linear' op expects a 2-D weight matrix, got 'tensor<64xf32>'}}
  %0 = llm.linear %x, %w : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_1d_input(%x: tensor<64xf32>, %w: tensor<172x64xf32>) {
  // expected-error@+1 {{'llm.linear' op expects T x WIDTH activations and result}}
  %0 = llm.linear %x, %w : tensor<64xf32>, tensor<172x64xf32> -> tensor<1x172xf32>
  return
}

// -----

func.func @linear_1d_result(%x: tensor<1x64xf32>, %w: tensor<172x64xf32>) {
  // expected-error@+1 {{'llm.linear' op expects T x WIDTH activations and result}}
  %0 = llm.linear %x, %w : tensor<1x64xf32>, tensor<172x64xf32> -> tensor<172xf32>
  return
}

// -----

func.func @linear_k(%x: tensor<?x32xf32>, %w: tensor<172x64xf32>) {
  // expected-error@+1 {{'llm.linear' op input width 32 does not match the weight's K (64)}}
  %0 = llm.linear %x, %w : tensor<?x32xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  return
}

// -----

func.func @linear_packed_n(%x: tensor<?x64xf32>, %w: !qmm.packed<172x64, #qmm.format<q8_0>>) {
  // expected-error@+1 {{'llm.linear' op result width 64 does not match the weight's N (172)}}
  %0 = llm.linear %x, %w : tensor<?x64xf32>, !qmm.packed<172x64, #qmm.format<q8_0>> -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_rows(%x: tensor<4x64xf32>, %w: tensor<172x64xf32>) {
  // expected-error@+1 {{'llm.linear' op result has 2 rows, expected 4}}
  %0 = llm.linear %x, %w : tensor<4x64xf32>, tensor<172x64xf32> -> tensor<2x172xf32>
  return
}

// -----

func.func @lm_head_last_only(%x: tensor<?x64xf32>, %w: tensor<512x64xf32>) {
  // expected-error@+1 {{'llm.lm_head' op result has 4 rows, expected 1}}
  %0 = llm.lm_head %x, %w {last_only} : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<4x512xf32>
  return
}

// -----

func.func @lm_head_all_rows(%x: tensor<?x64xf32>, %w: tensor<512x64xf32>) {
  // expected-error@+1 {{'llm.lm_head' op result width 256 does not match the weight's N (512)}}
  %0 = llm.lm_head %x, %w : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x256xf32>
  return
}

// -----

func.func @lm_head_rows_dynamic(%x: tensor<3x64xf32>, %w: tensor<512x64xf32>) {
  // expected-error@+1 {{'llm.lm_head' op result has 1 rows, expected 3}}
  %0 = llm.lm_head %x, %w : tensor<3x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.attention
//===----------------------------------------------------------------------===//

func.func @attention_zero_heads(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op num_heads, num_kv_heads and head_dim must be positive}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 0 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_heads_divide(%q: tensor<?x48xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op num_heads (6) is not a multiple of num_kv_heads (4)}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 6 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x48xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x48xf32>
  return
}

// -----

func.func @attention_rank(%q: tensor<64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op queries, keys, values and result must be 2-D T x (HEADS*HEAD_DIM)}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<64xf32>
  return
}

// -----

func.func @attention_query_width(%q: tensor<?x32xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op queries have width 32, expected num_heads * head_dim = 64}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x32xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x32xf32>
  return
}

// -----

func.func @attention_key_width(%q: tensor<?x64xf32>, %k: tensor<?x64xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op keys/values have width 64, expected num_kv_heads * head_dim = 32}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x64xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_rows(%q: tensor<2x64xf32>, %k: tensor<3x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op queries have 2 rows but keys/values have 3}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<2x64xf32>, tensor<3x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<2x64xf32>
  return
}

// -----

func.func @attention_result_shape(%q: tensor<2x64xf32>, %k: tensor<2x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op result must have the queries' shape}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<2x64xf32>, tensor<2x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<3x64xf32>
  return
}

// -----

func.func @attention_result_width(%q: tensor<?x?xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op result must have the queries' shape}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x?xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x32xf32>
  return
}

// -----

func.func @attention_cache_head_dim(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x16, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op head_dim 8 does not match the cache's head_dim 16}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x16, f32> -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_cache_kv_heads(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x2x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op num_kv_heads 4 does not match the cache's 2 KV heads}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x2x512x8, f32> -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_layer_too_large(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op layer 2 is out of range for a cache of 2 layers}}
  %o, %c1 = llm.attention %q, %k, %k, %c[2] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_layer_negative(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op layer -1 is out of range for a cache of 2 layers}}
  %o, %c1 = llm.attention %q, %k, %k, %c[-1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_capacity(%q: tensor<600x64xf32>, %k: tensor<600x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op step of 600 tokens exceeds the cache capacity 512}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<600x64xf32>, tensor<600x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<600x64xf32>
  return
}

// -----

func.func @attention_window(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op window must be positive, got 0}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32, window = 0 : i64} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>
  return
}

// -----

// The attribute is unsigned in C++; a negative window must still be caught.
func.func @attention_window_negative(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op window must be positive, got -4}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32, window = -4 : i64} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_scale(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op scale must be positive}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.0 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_scores_capacity(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op scores must be KV_HEADS x CAPACITY (4x512), got 'tensor<4x256xf32>'}}
  %o, %c1, %s = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>, tensor<4x256xf32>
  return
}

// -----

func.func @attention_scores_per_query_head(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op scores must be KV_HEADS x CAPACITY (4x512), got 'tensor<8x512xf32>'}}
  %o, %c1, %s = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>, tensor<8x512xf32>
  return
}

// -----

func.func @attention_scores_rank(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index) {
  // expected-error@+1 {{'llm.attention' op scores must be KV_HEADS x CAPACITY (4x512), got 'tensor<2048xf32>'}}
  %o, %c1, %s = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>, tensor<2048xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.swiglu
//===----------------------------------------------------------------------===//

func.func @swiglu_1d(%g: tensor<172xf32>) {
  // expected-error@+1 {{'llm.swiglu' op expects T x FFN operands}}
  %0 = llm.swiglu %g, %g : tensor<172xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.argmax / llm.sample
//===----------------------------------------------------------------------===//

func.func @argmax_1d(%l: tensor<512xf32>) {
  // expected-error@+1 {{'llm.argmax' op expects T x VOCAB logits, got rank 1}}
  %0 = llm.argmax %l : tensor<512xf32> -> tensor<1xi32>
  return
}

// -----

func.func @argmax_rows(%l: tensor<1x512xf32>) {
  // expected-error@+1 {{'llm.argmax' op result must hold one token per logits row (1), got 'tensor<2xi32>'}}
  %0 = llm.argmax %l : tensor<1x512xf32> -> tensor<2xi32>
  return
}

// -----

func.func @sample_1d(%l: tensor<512xf32>, %seed: i64) {
  // expected-error@+1 {{'llm.sample' op expects T x VOCAB logits, got rank 1}}
  %0 = llm.sample %l, %seed {temperature = 1.0 : f32} : tensor<512xf32>, i64 -> tensor<1xi32>
  return
}

// -----

func.func @sample_rows(%l: tensor<?x512xf32>, %seed: i64) {
  // expected-error@+1 {{'llm.sample' op result must hold one token per logits row (?), got 'tensor<1x1xi32>'}}
  %0 = llm.sample %l, %seed {temperature = 1.0 : f32} : tensor<?x512xf32>, i64 -> tensor<1x1xi32>
  return
}

// -----

func.func @sample_temperature(%l: tensor<1x512xf32>, %seed: i64) {
  // expected-error@+1 {{'llm.sample' op temperature must be >= 0, got -5.000000e-01}}
  %0 = llm.sample %l, %seed {temperature = -0.5 : f32} : tensor<1x512xf32>, i64 -> tensor<1xi32>
  return
}

// -----

func.func @sample_top_k(%l: tensor<1x512xf32>, %seed: i64) {
  // expected-error@+1 {{'llm.sample' op top_k must be >= 0 (0 = no limit), got -1}}
  %0 = llm.sample %l, %seed {temperature = 1.0 : f32, top_k = -1 : i64} : tensor<1x512xf32>, i64 -> tensor<1xi32>
  return
}

// -----

func.func @sample_top_p_zero(%l: tensor<1x512xf32>, %seed: i64) {
  // expected-error@+1 {{'llm.sample' op top_p must be in (0, 1], got 0.000000e+00}}
  %0 = llm.sample %l, %seed {temperature = 1.0 : f32, top_p = 0.0 : f32} : tensor<1x512xf32>, i64 -> tensor<1xi32>
  return
}

// -----

func.func @sample_top_p_above_one(%l: tensor<1x512xf32>, %seed: i64) {
  // expected-error@+1 {{'llm.sample' op top_p must be in (0, 1], got 1.500000e+00}}
  %0 = llm.sample %l, %seed {temperature = 1.0 : f32, top_p = 1.5 : f32} : tensor<1x512xf32>, i64 -> tensor<1xi32>
  return
}

// -----

func.func @tree_window(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index, %tree: tensor<?xi32>) {
  // expected-error@+1 {{'llm.attention' op a tree mask needs causal attention without a window}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos tree(%tree : tensor<?xi32>) {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32, window = 16 : i64} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<?x64xf32>
  return
}

// -----

func.func @tree_rows(%q: tensor<3x64xf32>, %k: tensor<3x32xf32>, %c: !kv.cache<2x4x512x8, f32>, %pos: index, %tree: tensor<2xi32>) {
  // expected-error@+1 {{'llm.attention' op tree must hold one parent per query row, got 'tensor<2xi32>'}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos tree(%tree : tensor<2xi32>) {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<3x64xf32>, tensor<3x32xf32>, !kv.cache<2x4x512x8, f32> -> tensor<3x64xf32>
  return
}

// -----

func.func @rope_tree(%q: tensor<3x64xf32>, %pos: index, %tree: tensor<2xi32>) {
  // expected-error@+1 {{'llm.rope' op tree must hold one parent per row, got 'tensor<2xi32>'}}
  %r = llm.rope %q at %pos tree(%tree : tensor<2xi32>) {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<3x64xf32>
  return
}

// -----

func.func @tree_width(%hist: tensor<?xi32>, %len: index) {
  // expected-error@+1 {{'llm.ngram_tree_draft' op width must be >= 1, got 0}}
  %d, %p, %n = llm.ngram_tree_draft %hist, %len {max = 4 : i64, ngram = 3 : i64, width = 0 : i64} : tensor<?xi32> -> tensor<4xi32>
  return
}

// -----

func.func @accept_tree_size(%d: tensor<4xi32>, %n: index, %logits: tensor<?x512xf32>, %t: f64, %tk: i64, %tp: f64, %seed: i64) {
  // expected-error@+1 {{'llm.spec_accept_tree' op tokens and path must hold one more than the draft (5)}}
  %tokens, %path, %a = llm.spec_accept_tree %d, %d, %n, %logits sampling(%t, %tk, %tp, %seed) : tensor<4xi32>, tensor<?x512xf32> -> tensor<4xi32>
  return
}
