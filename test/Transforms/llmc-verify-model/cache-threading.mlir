// Each !kv.cache value is updated at most once and read only before that.
// RUN: llmc-opt %s -split-input-file --llmc-verify-model -verify-diagnostics | FileCheck %s

func.func @two_attentions_one_cache(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<2x4x64x8, f32>, %pos: index) -> (!kv.cache<2x4x64x8, f32>, !kv.cache<2x4x64x8, f32>) {
  // expected-note@+1 {{first update here}}
  %o0, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  // expected-error@+1 {{'llm.attention' op updates a !kv.cache value that 'llm.attention' already updated; two updates of one cache would need a copy of the whole cache (use kv.fork to share a prefix)}}
  %o1, %c2 = llm.attention %q, %k, %k, %c0[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  return %c1, %c2 : !kv.cache<2x4x64x8, f32>, !kv.cache<2x4x64x8, f32>
}

// -----

// Returning a cache that was already updated is a second update too.
func.func @attend_and_return_old(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<1x4x64x8, f32>, %pos: index) -> (tensor<1x64xf32>, !kv.cache<1x4x64x8, f32>) {
  // expected-note@+1 {{first update here}}
  %o, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<1x64xf32>
  // expected-error@+1 {{'func.return' op updates a !kv.cache value that 'llm.attention' already updated}}
  return %o, %c0 : tensor<1x64xf32>, !kv.cache<1x4x64x8, f32>
}

// -----

func.func @return_twice(%c0: !kv.cache<1x4x64x8, f32>) -> (!kv.cache<1x4x64x8, f32>, !kv.cache<1x4x64x8, f32>) {
  // expected-error@+1 {{'func.return' op uses a !kv.cache value twice; each use would need its own copy of the whole cache (use kv.fork to share a prefix)}}
  return %c0, %c0 : !kv.cache<1x4x64x8, f32>, !kv.cache<1x4x64x8, f32>
}

// -----

func.func @append_then_evict_same_value(%k: tensor<1x4x8xf32>, %pos: index) -> (!kv.cache<1x4x64x8, f32>, !kv.cache<1x4x64x8, f32>) {
  %c0 = kv.alloc : !kv.cache<1x4x64x8, f32>
  // expected-note@+1 {{first update here}}
  %c1 = kv.append %c0[0], %k, %k at %pos : !kv.cache<1x4x64x8, f32>, tensor<1x4x8xf32>
  // expected-error@+1 {{'kv.evict' op updates a !kv.cache value that 'kv.append' already updated}}
  %c2 = kv.evict %c0 policy <window, sinks = 4, recent = 28> : !kv.cache<1x4x64x8, f32>
  return %c1, %c2 : !kv.cache<1x4x64x8, f32>, !kv.cache<1x4x64x8, f32>
}

// -----

func.func @view_after_update(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<1x4x64x8, f32>, %pos: index) -> (tensor<4x?x8xf32>, !kv.cache<1x4x64x8, f32>) {
  // expected-note@+1 {{update here}}
  %o, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<1x64xf32>
  // expected-error@+1 {{'kv.view' op reads a !kv.cache value after 'llm.attention' updated it; read the updated cache instead}}
  %kk, %vv = kv.view %c0[0] len %pos : !kv.cache<1x4x64x8, f32> -> tensor<4x?x8xf32>
  return %kk, %c1 : tensor<4x?x8xf32>, !kv.cache<1x4x64x8, f32>
}

// -----

func.func @length_after_update(%k: tensor<1x4x8xf32>, %c0: !kv.cache<1x4x64x8, f32>, %pos: index) -> (index, !kv.cache<1x4x64x8, f32>) {
  // expected-note@+1 {{update here}}
  %c1 = kv.append %c0[0], %k, %k at %pos : !kv.cache<1x4x64x8, f32>, tensor<1x4x8xf32>
  // expected-error@+1 {{'kv.length' op reads a !kv.cache value after 'kv.append' updated it; read the updated cache instead}}
  %n = kv.length %c0 : !kv.cache<1x4x64x8, f32>
  return %n, %c1 : index, !kv.cache<1x4x64x8, f32>
}

// -----

// Reads before the one update are fine, and a fork starts a cache of its
// own that may be updated independently.
// CHECK-LABEL: func.func @valid_chain
// CHECK: kv.length %[[C0:[^ ]+]]
// CHECK: kv.view %[[C0]][0]
// CHECK: kv.fork %[[C0]]
// CHECK: llm.attention {{.*}}, %[[C0]][0]
func.func @valid_chain(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<1x4x64x8, f32>, %pos: index) -> (tensor<4x?x8xf32>, index, tensor<1x64xf32>, !kv.cache<1x4x64x8, f32>, !kv.cache<1x4x64x8, f32>) {
  %n = kv.length %c0 : !kv.cache<1x4x64x8, f32>
  %kk, %vv = kv.view %c0[0] len %n : !kv.cache<1x4x64x8, f32> -> tensor<4x?x8xf32>
  %f0 = kv.fork %c0 prefix %n : !kv.cache<1x4x64x8, f32>
  %o, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<1x64xf32>
  %c2 = kv.evict %c1 policy <window, sinks = 4, recent = 28> : !kv.cache<1x4x64x8, f32>
  %o2, %f1 = llm.attention %q, %k, %k, %f0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<1x64xf32>
  return %kk, %n, %o2, %c2, %f1 : tensor<4x?x8xf32>, index, tensor<1x64xf32>, !kv.cache<1x4x64x8, f32>, !kv.cache<1x4x64x8, f32>
}

// -----

// A chain that starts at kv.alloc and goes through quantization.
// CHECK-LABEL: func.func @valid_alloc_chain
// CHECK: kv.alloc
// CHECK: kv.append
// CHECK: kv.quantize
func.func @valid_alloc_chain(%k: tensor<2x4x8xf32>, %pos: index) -> !kv.cache<1x4x64x8, #qmm.format<int8, group = 32>> {
  %c0 = kv.alloc : !kv.cache<1x4x64x8, f32>
  %c1 = kv.append %c0[0], %k, %k at %pos : !kv.cache<1x4x64x8, f32>, tensor<2x4x8xf32>
  %c2 = kv.quantize %c1 : !kv.cache<1x4x64x8, f32> -> !kv.cache<1x4x64x8, #qmm.format<int8, group = 32>>
  return %c2 : !kv.cache<1x4x64x8, #qmm.format<int8, group = 32>>
}
