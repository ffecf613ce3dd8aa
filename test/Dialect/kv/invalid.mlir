// RUN: llmc-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// #kv.policy parser
//===----------------------------------------------------------------------===//

// expected-error@+1 {{unknown eviction policy 'lru'; expected window, h2o or snapkv}}
func.func private @unknown_policy(!kv.cache<5x4x512x8, f32, #kv.policy<lru, recent = 4>>)

// -----

// expected-error@+1 {{unknown policy parameter 'budget'; expected sinks, recent, heavy, observe, pool or layer_budgets}}
func.func private @unknown_parameter(!kv.cache<5x4x512x8, f32, #kv.policy<window, budget = 4>>)

// -----

//===----------------------------------------------------------------------===//
// #kv.policy verifier
//===----------------------------------------------------------------------===//

// expected-error@+1 {{policy sizes must be non-negative}}
func.func private @negative_sinks(!kv.cache<5x4x512x8, f32, #kv.policy<window, sinks = -1, recent = 4>>)

// -----

// expected-error@+1 {{policy sizes must be non-negative}}
func.func private @negative_recent(!kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 4, recent = -4>>)

// -----

// expected-error@+1 {{window policy needs recent > 0}}
func.func private @window_no_recent(!kv.cache<5x4x512x8, f32, #kv.policy<window, sinks = 4>>)

// -----

// expected-error@+1 {{window policy takes only sinks and recent}}
func.func private @window_heavy(!kv.cache<5x4x512x8, f32, #kv.policy<window, recent = 4, heavy = 4>>)

// -----

// expected-error@+1 {{window policy takes only sinks and recent}}
func.func private @window_observe(!kv.cache<5x4x512x8, f32, #kv.policy<window, recent = 4, observe = 4>>)

// -----

// expected-error@+1 {{h2o policy needs heavy > 0}}
func.func private @h2o_no_heavy(!kv.cache<5x4x512x8, f32, #kv.policy<h2o, recent = 64>>)

// -----

// expected-error@+1 {{h2o policy takes no observation window}}
func.func private @h2o_observe(!kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 64, observe = 8>>)

// -----

// expected-error@+1 {{snapkv policy needs heavy > 0 and observe > 0}}
func.func private @snapkv_no_observe(!kv.cache<5x4x512x8, f32, #kv.policy<snapkv, heavy = 96>>)

// -----

// expected-error@+1 {{snapkv policy needs heavy > 0 and observe > 0}}
func.func private @snapkv_no_heavy(!kv.cache<5x4x512x8, f32, #kv.policy<snapkv, observe = 16>>)

// -----

// expected-error@+1 {{snapkv policy needs an odd pool >= 1, got 4}}
func.func private @snapkv_even_pool(!kv.cache<5x4x512x8, f32, #kv.policy<snapkv, heavy = 96, observe = 16, pool = 4>>)

// -----

// expected-error@+1 {{snapkv policy needs an odd pool >= 1, got 0}}
func.func private @snapkv_zero_pool(!kv.cache<5x4x512x8, f32, #kv.policy<snapkv, heavy = 96, observe = 16, pool = 0>>)

// -----

// expected-error@+1 {{window policy needs an odd pool >= 1, got -3}}
func.func private @window_negative_pool(!kv.cache<5x4x512x8, f32, #kv.policy<window, recent = 4, pool = -3>>)

// -----

// expected-error@+1 {{pool applies only to snapkv}}
func.func private @h2o_pool(!kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 64, pool = 3>>)

// -----

// expected-error@+1 {{layer budgets must be positive, got 0}}
func.func private @zero_layer_budget(!kv.cache<2x4x512x8, f32, #kv.policy<h2o, heavy = 32, layer_budgets = [64, 0]>>)

// -----

// The policy is checked wherever it appears, not only inside a type.
// expected-error@+1 {{layer budgets must be positive, got -8}}
func.func private @policy_attr() attributes {p = #kv.policy<window, recent = 8, layer_budgets = [-8]>}

// -----

//===----------------------------------------------------------------------===//
// !kv.cache parser
//===----------------------------------------------------------------------===//

// expected-error@+1 {{expected LAYERSxKV_HEADSxCAPACITYxHEAD_DIM, got 3 dimensions}}
func.func private @three_dims(!kv.cache<5x4x512, f32>)

// -----

// expected-error@+1 {{expected LAYERSxKV_HEADSxCAPACITYxHEAD_DIM, got 5 dimensions}}
func.func private @five_dims(!kv.cache<5x4x512x8x2, f32>)

// -----

// expected-error@+1 {{paged block size must be positive}}
func.func private @paged_zero(!kv.cache<5x4x512x8, f32, paged<0>>)

// -----

// expected-error@+1 {{paged block size must be positive}}
func.func private @paged_negative(!kv.cache<5x4x512x8, f32, paged<-16>>)

// -----

//===----------------------------------------------------------------------===//
// !kv.cache verifier
//===----------------------------------------------------------------------===//

// expected-error@+1 {{cache dimensions must be positive}}
func.func private @zero_layers(!kv.cache<0x4x512x8, f32>)

// -----

// expected-error@+1 {{cache dimensions must be positive}}
func.func private @zero_head_dim(!kv.cache<5x4x512x0, f32>)

// -----

// expected-error@+1 {{cache storage must be f32, f16, bf16 or a #qmm.format, got 'i8'}}
func.func private @integer_storage(!kv.cache<5x4x512x8, i8>)

// -----

// expected-error@+1 {{cache storage must be f32, f16, bf16 or a #qmm.format, got 'f64'}}
func.func private @f64_storage(!kv.cache<5x4x512x8, f64>)

// -----

// expected-error@+1 {{cache storage must be f32, f16, bf16, a #qmm.format or a #kv.kivi}}
func.func private @attr_storage(!kv.cache<5x4x512x8, 8 : i32>)

// -----

// expected-error@+1 {{format #qmm.format<q4_k> is a weight format (256-element super-blocks); use int2/3/4/8, q8_0, q4_0, fp8 or mxfp4 for a cache}}
func.func private @q4_k_storage(!kv.cache<5x4x512x8, #qmm.format<q4_k>>)

// -----

// expected-error@+1 {{format #qmm.format<q6_k> is a weight format (256-element super-blocks); use int2/3/4/8, q8_0, q4_0, fp8 or mxfp4 for a cache}}
func.func private @q6_k_storage(!kv.cache<5x4x512x8, #qmm.format<q6_k>>)

// -----

// expected-error@+1 {{paged block size 24 does not divide the capacity 512}}
func.func private @paged_not_dividing(!kv.cache<5x4x512x8, f32, paged<24>>)

// -----

// expected-error@+1 {{paged block size 1024 does not divide the capacity 512}}
func.func private @paged_too_large(!kv.cache<5x4x512x8, f32, paged<1024>>)

// -----

// expected-error@+1 {{policy keeps 520 positions but the cache capacity is 512}}
func.func private @policy_too_large(!kv.cache<5x4x512x8, f32, #kv.policy<h2o, sinks = 8, heavy = 256, recent = 256>>)

// -----

// expected-error@+1 {{policy has 3 layer budgets for a cache of 5 layers}}
func.func private @layer_budget_count(!kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 32, recent = 32, layer_budgets = [128, 96, 64]>>)

// -----

// expected-error@+1 {{layer budget 1024 exceeds the cache capacity 512}}
func.func private @layer_budget_too_large(!kv.cache<2x4x512x8, f32, #kv.policy<h2o, heavy = 32, recent = 32, layer_budgets = [1024, 64]>>)

// -----

//===----------------------------------------------------------------------===//
// Layer indices (kv.append, kv.view, kv.score_accumulate)
//===----------------------------------------------------------------------===//

func.func @append_layer(%c: !kv.cache<5x4x512x8, f32>, %k: tensor<1x4x8xf32>, %pos: index) {
  // expected-error@+1 {{'kv.append' op layer 5 is out of range for a cache of 5 layers}}
  %0 = kv.append %c[5], %k, %k at %pos : !kv.cache<5x4x512x8, f32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @view_layer(%c: !kv.cache<5x4x512x8, f32>, %n: index) {
  // expected-error@+1 {{'kv.view' op layer -1 is out of range for a cache of 5 layers}}
  %k, %v = kv.view %c[-1] len %n : !kv.cache<5x4x512x8, f32> -> tensor<4x?x8xf32>
  return
}

// -----

func.func @score_accumulate_layer(%c: !kv.cache<5x4x512x8, f32>, %s: tensor<4x512xf32>) {
  // expected-error@+1 {{'kv.score_accumulate' op layer 7 is out of range for a cache of 5 layers}}
  %0 = kv.score_accumulate %c[7], %s : !kv.cache<5x4x512x8, f32>, tensor<4x512xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// kv.append
//===----------------------------------------------------------------------===//

func.func @append_rank(%c: !kv.cache<5x4x512x8, f32>, %k: tensor<4x8xf32>, %pos: index) {
  // expected-error@+1 {{'kv.append' op keys and values must be T x KV_HEADS x HEAD_DIM, got rank 2}}
  %0 = kv.append %c[0], %k, %k at %pos : !kv.cache<5x4x512x8, f32>, tensor<4x8xf32>
  return
}

// -----

func.func @append_heads(%c: !kv.cache<5x4x512x8, f32>, %k: tensor<1x8x8xf32>, %pos: index) {
  // expected-error@+1 {{'kv.append' op keys have 8 heads but the cache has 4}}
  %0 = kv.append %c[0], %k, %k at %pos : !kv.cache<5x4x512x8, f32>, tensor<1x8x8xf32>
  return
}

// -----

// A dynamic head count is printed as `?`, not as the dynamic sentinel.
func.func @append_dynamic_heads(%c: !kv.cache<5x4x512x8, f32>, %k: tensor<1x?x8xf32>, %pos: index) {
  // expected-error@+1 {{'kv.append' op keys have ? heads but the cache has 4}}
  %0 = kv.append %c[0], %k, %k at %pos : !kv.cache<5x4x512x8, f32>, tensor<1x?x8xf32>
  return
}

// -----

func.func @append_head_dim(%c: !kv.cache<5x4x512x8, f32>, %k: tensor<1x4x16xf32>, %pos: index) {
  // expected-error@+1 {{'kv.append' op keys have head_dim 16 but the cache has head_dim 8}}
  %0 = kv.append %c[0], %k, %k at %pos : !kv.cache<5x4x512x8, f32>, tensor<1x4x16xf32>
  return
}

// -----

func.func @append_dynamic_head_dim(%c: !kv.cache<5x4x512x8, f32>, %k: tensor<1x4x?xf32>, %pos: index) {
  // expected-error@+1 {{'kv.append' op keys have head_dim ? but the cache has head_dim 8}}
  %0 = kv.append %c[0], %k, %k at %pos : !kv.cache<5x4x512x8, f32>, tensor<1x4x?xf32>
  return
}

// -----

func.func @append_too_many(%c: !kv.cache<5x4x512x8, f32>, %k: tensor<513x4x8xf32>, %pos: index) {
  // expected-error@+1 {{'kv.append' op appends 513 positions to a cache of capacity 512}}
  %0 = kv.append %c[0], %k, %k at %pos : !kv.cache<5x4x512x8, f32>, tensor<513x4x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// kv.view
//===----------------------------------------------------------------------===//

func.func @view_rank(%c: !kv.cache<5x4x512x8, f32>, %n: index) {
  // expected-error@+1 {{'kv.view' op results must be 4x?x8 (KV_HEADS x len x HEAD_DIM), got 'tensor<?x8xf32>'}}
  %k, %v = kv.view %c[0] len %n : !kv.cache<5x4x512x8, f32> -> tensor<?x8xf32>
  return
}

// -----

// The sequence dimension comes second (heads first).
func.func @view_heads(%c: !kv.cache<5x4x512x8, f32>, %n: index) {
  // expected-error@+1 {{'kv.view' op results must be 4x?x8 (KV_HEADS x len x HEAD_DIM), got 'tensor<?x4x8xf32>'}}
  %k, %v = kv.view %c[0] len %n : !kv.cache<5x4x512x8, f32> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @view_head_dim(%c: !kv.cache<5x4x512x8, f32>, %n: index) {
  // expected-error@+1 {{'kv.view' op results must be 4x?x8 (KV_HEADS x len x HEAD_DIM), got 'tensor<4x?x16xf32>'}}
  %k, %v = kv.view %c[0] len %n : !kv.cache<5x4x512x8, f32> -> tensor<4x?x16xf32>
  return
}

// -----

func.func @view_too_long(%c: !kv.cache<5x4x512x8, f32>, %n: index) {
  // expected-error@+1 {{'kv.view' op views 600 positions of a cache of capacity 512}}
  %k, %v = kv.view %c[0] len %n : !kv.cache<5x4x512x8, f32> -> tensor<4x600x8xf32>
  return
}

// -----

func.func @view_length_mismatch(%c: !kv.cache<5x4x512x8, f32>) {
  %c8 = arith.constant 8 : index
  // expected-error@+1 {{'kv.view' op length operand 8 does not match the result length 16}}
  %k, %v = kv.view %c[0] len %c8 : !kv.cache<5x4x512x8, f32> -> tensor<4x16x8xf32>
  return
}

// -----

func.func @view_element_type(%c: !kv.cache<5x4x512x8, f16>, %n: index) {
  // expected-error@+1 {{'kv.view' op result element type 'f32' differs from the cache storage 'f16'}}
  %k, %v = kv.view %c[0] len %n : !kv.cache<5x4x512x8, f16> -> tensor<4x?x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// kv.score_accumulate
//===----------------------------------------------------------------------===//

func.func @scores_rank(%c: !kv.cache<5x4x512x8, f32>, %s: tensor<512xf32>) {
  // expected-error@+1 {{'kv.score_accumulate' op scores must be KV_HEADS x positions (4x512), got 'tensor<512xf32>'}}
  %0 = kv.score_accumulate %c[0], %s : !kv.cache<5x4x512x8, f32>, tensor<512xf32>
  return
}

// -----

func.func @scores_heads(%c: !kv.cache<5x4x512x8, f32>, %s: tensor<8x512xf32>) {
  // expected-error@+1 {{'kv.score_accumulate' op scores must be KV_HEADS x positions (4x512), got 'tensor<8x512xf32>'}}
  %0 = kv.score_accumulate %c[0], %s : !kv.cache<5x4x512x8, f32>, tensor<8x512xf32>
  return
}

// -----

func.func @scores_too_many(%c: !kv.cache<5x4x512x8, f32>, %s: tensor<4x1024xf32>) {
  // expected-error@+1 {{'kv.score_accumulate' op scores cover 1024 positions but the cache capacity is 512}}
  %0 = kv.score_accumulate %c[0], %s : !kv.cache<5x4x512x8, f32>, tensor<4x1024xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// kv.evict
//===----------------------------------------------------------------------===//

func.func @evict_no_policy(%c: !kv.cache<5x4x512x8, f32>) {
  // expected-error@+1 {{'kv.evict' op needs a policy: neither the op nor the cache type carries one}}
  %0 = kv.evict %c : !kv.cache<5x4x512x8, f32>
  return
}

// -----

func.func @evict_policy_too_large(%c: !kv.cache<5x4x64x8, f32>) {
  // expected-error@+1 {{'kv.evict' op policy keeps 128 positions but the cache capacity is 64}}
  %0 = kv.evict %c policy <window, sinks = 4, recent = 124> : !kv.cache<5x4x64x8, f32>
  return
}

// -----

func.func @evict_layer_budget_count(%c: !kv.cache<5x4x512x8, f32>) {
  // expected-error@+1 {{'kv.evict' op policy has 2 layer budgets for a cache of 5 layers}}
  %0 = kv.evict %c policy <h2o, heavy = 32, recent = 32, layer_budgets = [128, 64]> : !kv.cache<5x4x512x8, f32>
  return
}

// -----

func.func @evict_layer_budget_too_large(%c: !kv.cache<2x4x512x8, f32>) {
  // expected-error@+1 {{'kv.evict' op layer budget 600 exceeds the cache capacity 512}}
  %0 = kv.evict %c policy <h2o, heavy = 32, recent = 32, layer_budgets = [64, 600]> : !kv.cache<2x4x512x8, f32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// kv.quantize / kv.dequantize
//===----------------------------------------------------------------------===//

func.func @quantize_geometry(%c: !kv.cache<5x4x512x8, f16>) {
  // expected-error@+1 {{'kv.quantize' op may change only the storage of the cache; geometry, layout or policy differ between '!kv.cache<5x4x512x8, f16>' and '!kv.cache<5x4x256x8, #qmm.format<int4, group = 32>>'}}
  %0 = kv.quantize %c : !kv.cache<5x4x512x8, f16> -> !kv.cache<5x4x256x8, #qmm.format<int4>>
  return
}

// -----

func.func @quantize_layout(%c: !kv.cache<5x4x512x8, f16>) {
  // expected-error@+1 {{'kv.quantize' op may change only the storage of the cache; geometry, layout or policy differ between '!kv.cache<5x4x512x8, f16>' and '!kv.cache<5x4x512x8, #qmm.format<q8_0>, paged<16>>'}}
  %0 = kv.quantize %c : !kv.cache<5x4x512x8, f16> -> !kv.cache<5x4x512x8, #qmm.format<q8_0>, paged<16>>
  return
}

// -----

func.func @dequantize_policy(%q: !kv.cache<5x4x512x8, #qmm.format<q8_0>, #kv.policy<window, recent = 64>>) {
  // expected-error@+1 {{'kv.dequantize' op may change only the storage of the cache; geometry, layout or policy differ between '!kv.cache<5x4x512x8, #qmm.format<q8_0>, #kv.policy<window, recent = 64>>' and '!kv.cache<5x4x512x8, f16>'}}
  %0 = kv.dequantize %q : !kv.cache<5x4x512x8, #qmm.format<q8_0>, #kv.policy<window, recent = 64>> -> !kv.cache<5x4x512x8, f16>
  return
}

// -----

func.func @quantize_to_float(%c: !kv.cache<5x4x512x8, f32>) {
  // expected-error@+1 {{'kv.quantize' op expects a float cache and a quantized result}}
  %0 = kv.quantize %c : !kv.cache<5x4x512x8, f32> -> !kv.cache<5x4x512x8, f16>
  return
}

// -----

func.func @quantize_quantized(%q: !kv.cache<5x4x512x8, #qmm.format<int8>>) {
  // expected-error@+1 {{'kv.quantize' op expects a float cache and a quantized result}}
  %0 = kv.quantize %q : !kv.cache<5x4x512x8, #qmm.format<int8>> -> !kv.cache<5x4x512x8, #qmm.format<int4>>
  return
}

// -----

func.func @dequantize_float(%c: !kv.cache<5x4x512x8, f32>) {
  // expected-error@+1 {{'kv.dequantize' op expects a quantized cache and a float result}}
  %0 = kv.dequantize %c : !kv.cache<5x4x512x8, f32> -> !kv.cache<5x4x512x8, f16>
  return
}

// -----

func.func @dequantize_to_quantized(%q: !kv.cache<5x4x512x8, #qmm.format<int8>>) {
  // expected-error@+1 {{'kv.dequantize' op expects a quantized cache and a float result}}
  %0 = kv.dequantize %q : !kv.cache<5x4x512x8, #qmm.format<int8>> -> !kv.cache<5x4x512x8, #qmm.format<q8_0>>
  return
}

// -----

//===----------------------------------------------------------------------===//
// kv.rollback / kv.fork
//===----------------------------------------------------------------------===//

func.func @rollback_negative(%c: !kv.cache<5x4x512x8, f32>) {
  %n = arith.constant -1 : index
  // expected-error@+1 {{'kv.rollback' op rollback count must be non-negative, got -1}}
  %0 = kv.rollback %c by %n : !kv.cache<5x4x512x8, f32>
  return
}

// -----

func.func @rollback_too_many(%c: !kv.cache<5x4x512x8, f32>) {
  %n = arith.constant 513 : index
  // expected-error@+1 {{'kv.rollback' op rollback count 513 exceeds the cache capacity 512}}
  %0 = kv.rollback %c by %n : !kv.cache<5x4x512x8, f32>
  return
}

// -----

func.func @rollback_without_log(%c: !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>>, %n: index) {
  // expected-error@+1 {{'kv.rollback' op cannot roll back a cache with KIVI storage or an eviction policy without an undo log: its type needs rollback<N>}}
  %0 = kv.rollback %c by %n : !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>>
  return
}

// -----

func.func @rollback_past_log(%c: !kv.cache<5x4x128x8, f32, #kv.policy<window, recent = 128>, rollback<4>>) {
  %n = arith.constant 5 : index
  // expected-error@+1 {{'kv.rollback' op rolls back 5 positions, more than the undo log of the cache holds (rollback<4>)}}
  %0 = kv.rollback %c by %n : !kv.cache<5x4x128x8, f32, #kv.policy<window, recent = 128>, rollback<4>>
  return
}

// -----

// expected-error@+1 {{rollback<4> keeps an undo log, which only KIVI and evicting caches need (a float cache rolls back by its position alone)}}
func.func private @rollback_float(!kv.cache<5x4x512x8, f32, rollback<4>>)

// -----

// expected-error@+1 {{rollback depth must be in [1, 16], got 17}}
func.func private @rollback_deep(!kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<17>>)

// -----

// expected-error@+1 {{rollback depth must be in [1, 16], got 0}}
func.func private @rollback_zero(!kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<0>>)

// -----

// expected-error@+1 {{cache rollback depth given twice}}
func.func private @rollback_twice(!kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<2>, rollback<2>>)

// -----

// expected-error@+1 {{rollback<4> needs an evicting cache stored as f32 or KIVI}}
func.func private @rollback_f16_policy(!kv.cache<5x4x128x8, f16, #kv.policy<window, recent = 128>, rollback<4>>)

// -----

// expected-error@+1 {{rollback<4> needs a contiguous cache, not paged}}
func.func private @rollback_paged(!kv.cache<5x4x128x8, f32, paged<16>, #kv.policy<window, recent = 128>, rollback<4>>)

// -----

func.func @fork_negative(%c: !kv.cache<5x4x512x8, f32>) {
  %n = arith.constant -16 : index
  // expected-error@+1 {{'kv.fork' op fork prefix must be non-negative, got -16}}
  %0 = kv.fork %c prefix %n : !kv.cache<5x4x512x8, f32>
  return
}

// -----

func.func @fork_too_long(%c: !kv.cache<5x4x512x8, f32, paged<16>>) {
  %n = arith.constant 1024 : index
  // expected-error@+1 {{'kv.fork' op fork prefix 1024 exceeds the cache capacity 512}}
  %0 = kv.fork %c prefix %n : !kv.cache<5x4x512x8, f32, paged<16>>
  return
}

// -----

func.func @view_too_long(%c: !kv.cache<5x4x512x8, f32>) {
  %n = arith.constant 600 : index
  // expected-error@+1 {{'kv.view' op view length 600 exceeds the cache capacity 512}}
  %k, %v = kv.view %c[0] len %n : !kv.cache<5x4x512x8, f32> -> tensor<4x?x8xf32>
  return
}

// -----

// expected-error@+1 {{cache layout given twice}}
func.func @layout_twice(%c: !kv.cache<5x4x512x8, f32, paged<16>, paged<32>>) {
  return
}

// -----

// expected-error@+1 {{cache policy given twice}}
func.func @policy_twice(%c: !kv.cache<5x4x512x8, f32, #kv.policy<window, recent = 8>, #kv.policy<window, recent = 16>>) {
  return
}

// -----

// expected-error@+1 {{policy parameter 'recent' given twice}}
func.func @policy_key_twice(%c: !kv.cache<5x4x512x8, f32, #kv.policy<window, recent = 8, recent = 16>>) {
  return
}

// -----

// expected-error@+1 {{snapkv keeps its observation window as the recent positions; use observe, not recent}}
func.func @snapkv_recent(%c: !kv.cache<5x4x512x8, f32, #kv.policy<snapkv, heavy = 32, observe = 8, recent = 8>>) {
  return
}

// -----

// expected-error@+1 {{KIVI bits must be 2, 4 or 8, got 3}}
func.func private @kivi_bits(!kv.cache<5x4x512x8, #kv.kivi<bits = 3, group = 32, residual = 128>>)

// -----

// expected-error@+1 {{KIVI group 64 does not divide the 32 channels}}
func.func private @kivi_group(!kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 64, residual = 128>>)

// -----

// expected-error@+1 {{KIVI residual window of 512 positions is not smaller than the cache capacity 512}}
func.func private @kivi_residual(!kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 512>>)

// -----

func.func @compact_kivi(%c: !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>>, %pos: index, %rows: tensor<5xi32>, %n: index) {
  // expected-error@+1 {{'kv.compact' op needs a contiguous f32 cache, got '!kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>>'}}
  %r = kv.compact %c at %pos rows %rows count %n : tensor<5xi32>, !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>>
  return
}
