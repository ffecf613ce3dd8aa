// All attention ops share heads/kv_heads/head_dim; all rope ops share their
// parameters and attention's head_dim.
// RUN: llmc-opt %s -split-input-file --llmc-verify-model -verify-diagnostics | FileCheck %s

func.func @attention_heads_differ(%q: tensor<1x64xf32>, %q2: tensor<1x32xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<2x4x64x8, f32>, %pos: index) -> !kv.cache<2x4x64x8, f32> {
  // expected-note@+1 {{first attention here}}
  %o0, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  // expected-error@+1 {{'llm.attention' op has heads/kv_heads/head_dim 4/4/8 but the model's first attention has 8/4/8}}
  %o1, %c2 = llm.attention %q2, %k, %k, %c1[1] at %pos {head_dim = 8 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x32xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x32xf32>
  return %c2 : !kv.cache<2x4x64x8, f32>
}

// -----

// The configuration is the model's, so attention ops in different
// functions over different caches must agree too.
func.func @prefill(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c0: !kv.cache<1x4x64x8, f32>, %pos: index) -> !kv.cache<1x4x64x8, f32> {
  // expected-note@+1 {{first attention here}}
  %o, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<?x64xf32>
  return %c1 : !kv.cache<1x4x64x8, f32>
}

func.func @decode(%q: tensor<1x64xf32>, %k: tensor<1x64xf32>, %c0: !kv.cache<1x4x64x16, f32>, %pos: index) -> !kv.cache<1x4x64x16, f32> {
  // expected-error@+1 {{'llm.attention' op has heads/kv_heads/head_dim 4/4/16 but the model's first attention has 8/4/8}}
  %o, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : tensor<1x64xf32>, tensor<1x64xf32>, !kv.cache<1x4x64x16, f32> -> tensor<1x64xf32>
  return %c1 : !kv.cache<1x4x64x16, f32>
}

// -----

func.func @rope_theta_differs(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %pos: index) -> (tensor<?x64xf32>, tensor<?x32xf32>) {
  // expected-note@+1 {{first rope here}}
  %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  // expected-error@+1 {{'llm.rope' op rope parameters differ from the model's first rope}}
  %kr = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 5.0e+05 : f32} : tensor<?x32xf32>
  return %qr, %kr : tensor<?x64xf32>, tensor<?x32xf32>
}

// -----

func.func @rope_rotary_dims_differ(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %pos: index) -> (tensor<?x64xf32>, tensor<?x32xf32>) {
  // expected-note@+1 {{first rope here}}
  %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  // expected-error@+1 {{'llm.rope' op rope parameters differ from the model's first rope}}
  %kr = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 4 : i64, theta = 1.0e+04 : f32} : tensor<?x32xf32>
  return %qr, %kr : tensor<?x64xf32>, tensor<?x32xf32>
}

// -----

func.func @rope_freq_scale_only_on_one(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %pos: index) -> (tensor<?x64xf32>, tensor<?x32xf32>) {
  // expected-note@+1 {{first rope here}}
  %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  // expected-error@+1 {{'llm.rope' op rope parameters differ from the model's first rope}}
  %kr = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32, freq_scale = 0.5 : f32} : tensor<?x32xf32>
  return %qr, %kr : tensor<?x64xf32>, tensor<?x32xf32>
}

// -----

func.func @rope_half_split_only_on_one(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %pos: index) -> (tensor<?x64xf32>, tensor<?x32xf32>) {
  // expected-note@+1 {{first rope here}}
  %qr = llm.rope %q at %pos {half_split, head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  // expected-error@+1 {{'llm.rope' op rope parameters differ from the model's first rope}}
  %kr = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x32xf32>
  return %qr, %kr : tensor<?x64xf32>, tensor<?x32xf32>
}

// -----

func.func @rope_head_dim_differs(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %pos: index) -> (tensor<?x64xf32>, tensor<?x32xf32>) {
  // expected-note@+1 {{first rope here}}
  %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  // expected-error@+1 {{'llm.rope' op rope parameters differ from the model's first rope}}
  %kr = llm.rope %k at %pos {head_dim = 16 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x32xf32>
  return %qr, %kr : tensor<?x64xf32>, tensor<?x32xf32>
}

// -----

// Reported once, however many ops follow.
func.func @rope_vs_attention_head_dim(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c0: !kv.cache<1x4x64x8, f32>, %pos: index) -> (tensor<?x64xf32>, !kv.cache<1x4x64x8, f32>) {
  // expected-error@+1 {{'llm.rope' op rope head_dim 16 differs from attention head_dim 8}}
  %qr = llm.rope %q at %pos {head_dim = 16 : i64, rotary_dims = 16 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  // expected-note@+1 {{first attention here}}
  %o, %c1 = llm.attention %qr, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<?x64xf32>
  %r = llm.add %o, %q : tensor<?x64xf32>
  %r2 = llm.add %r, %q : tensor<?x64xf32>
  return %r2, %c1 : tensor<?x64xf32>, !kv.cache<1x4x64x8, f32>
}

// -----

// The same configuration across functions and layers, partial rotary and
// scaled positions included, passes.
// CHECK-LABEL: func.func @consistent_prefill
// CHECK-COUNT-2: llm.rope
// CHECK: llm.attention
// CHECK-LABEL: func.func @consistent_decode
// CHECK-COUNT-2: llm.rope
// CHECK: llm.attention
func.func @consistent_prefill(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c0: !kv.cache<1x4x64x8, f32>, %pos: index) -> (tensor<?x64xf32>, !kv.cache<1x4x64x8, f32>) {
  %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 4 : i64, theta = 1.0e+04 : f32, freq_scale = 0.5 : f32} : tensor<?x64xf32>
  %kr = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 4 : i64, theta = 1.0e+04 : f32, freq_scale = 0.5 : f32} : tensor<?x32xf32>
  %o, %c1 = llm.attention %qr, %kr, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<?x64xf32>
  return %o, %c1 : tensor<?x64xf32>, !kv.cache<1x4x64x8, f32>
}
func.func @consistent_decode(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<1x4x64x8, f32>, %pos: index) -> (tensor<1x64xf32>, !kv.cache<1x4x64x8, f32>) {
  %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 4 : i64, theta = 1.0e+04 : f32, freq_scale = 0.5 : f32} : tensor<1x64xf32>
  %kr = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 4 : i64, theta = 1.0e+04 : f32, freq_scale = 0.5 : f32} : tensor<1x32xf32>
  %o, %c1 = llm.attention %qr, %kr, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32, window = 16 : i64} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<1x64xf32>
  return %o, %c1 : tensor<1x64xf32>, !kv.cache<1x4x64x8, f32>
}
