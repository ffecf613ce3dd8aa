// Along each cache chain, attention visits every layer once, in order.
// RUN: llmc-opt %s -split-input-file --llmc-verify-model -verify-diagnostics | FileCheck %s

func.func @out_of_order(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<2x4x64x8, f32>, %pos: index) -> !kv.cache<2x4x64x8, f32> {
  // expected-note@+1 {{previous attention here}}
  %o1, %c1 = llm.attention %q, %k, %k, %c0[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  // expected-error@+1 {{'llm.attention' op attends layer 0 after layer 1 in the same step; layers must be attended once each, in order}}
  %o0, %c2 = llm.attention %o1, %k, %k, %c1[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  return %c2 : !kv.cache<2x4x64x8, f32>
}

// -----

func.func @attended_twice(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<2x4x64x8, f32>, %pos: index) -> !kv.cache<2x4x64x8, f32> {
  // expected-note@+1 {{previous attention here}}
  %o0, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  // expected-error@+1 {{'llm.attention' op attends layer 0 after layer 0 in the same step; layers must be attended once each, in order}}
  %o1, %c2 = llm.attention %o0, %k, %k, %c1[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  return %c2 : !kv.cache<2x4x64x8, f32>
}

// -----

// A kv op between the attentions does not hide the repeat.
func.func @attended_twice_across_append(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %k3: tensor<1x4x8xf32>, %c0: !kv.cache<2x4x64x8, f32>, %pos: index) -> !kv.cache<2x4x64x8, f32> {
  // expected-note@+1 {{previous attention here}}
  %o0, %c1 = llm.attention %q, %k, %k, %c0[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  %c2 = kv.append %c1[0], %k3, %k3 at %pos : !kv.cache<2x4x64x8, f32>, tensor<1x4x8xf32>
  // expected-error@+1 {{'llm.attention' op attends layer 1 after layer 1 in the same step}}
  %o1, %c3 = llm.attention %o0, %k, %k, %c2[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  return %c3 : !kv.cache<2x4x64x8, f32>
}

// -----

func.func @layer_missing(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<3x4x64x8, f32>, %pos: index) -> !kv.cache<3x4x64x8, f32> {
  %o0, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<3x4x64x8, f32> -> tensor<1x64xf32>
  // expected-error@+1 {{'llm.attention' op the step attends 2 of the cache's 3 layers; never attended: 1}}
  %o2, %c2 = llm.attention %o0, %k, %k, %c1[2] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<3x4x64x8, f32> -> tensor<1x64xf32>
  return %c2 : !kv.cache<3x4x64x8, f32>
}

// -----

func.func @only_one_layer(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %pos: index) -> !kv.cache<3x4x64x8, f32> {
  %c0 = kv.alloc : !kv.cache<3x4x64x8, f32>
  // expected-error@+1 {{'llm.attention' op the step attends 1 of the cache's 3 layers; never attended: 0 2}}
  %o1, %c1 = llm.attention %q, %k, %k, %c0[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<3x4x64x8, f32> -> tensor<1x64xf32>
  return %c1 : !kv.cache<3x4x64x8, f32>
}

// -----

// A forked cache is a chain of its own and must be complete too.
func.func @fork_incomplete(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<2x4x64x8, f32>, %pos: index) -> !kv.cache<2x4x64x8, f32> {
  %f0 = kv.fork %c0 prefix %pos : !kv.cache<2x4x64x8, f32>
  // expected-error@+1 {{'llm.attention' op the step attends 1 of the cache's 2 layers; never attended: 0}}
  %o1, %f1 = llm.attention %q, %k, %k, %f0[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  return %f1 : !kv.cache<2x4x64x8, f32>
}

// -----

// Every layer once, in order, with other cache ops in between.
// CHECK-LABEL: func.func @complete
// CHECK: llm.attention {{.*}}[0]
// CHECK: llm.attention {{.*}}[1]
// CHECK: llm.attention {{.*}}[2]
func.func @complete(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %s: tensor<4x64xf32>, %c0: !kv.cache<3x4x64x8, f32>, %pos: index) -> (tensor<1x64xf32>, !kv.cache<3x4x64x8, f32>) {
  %o0, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<3x4x64x8, f32> -> tensor<1x64xf32>
  %c2 = kv.score_accumulate %c1[0], %s : !kv.cache<3x4x64x8, f32>, tensor<4x64xf32>
  %o1, %c3 = llm.attention %o0, %k, %k, %c2[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<3x4x64x8, f32> -> tensor<1x64xf32>
  %o2, %c4 = llm.attention %o1, %k, %k, %c3[2] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<3x4x64x8, f32> -> tensor<1x64xf32>
  return %o2, %c4 : tensor<1x64xf32>, !kv.cache<3x4x64x8, f32>
}

// -----

// A step that attends no layer (here: only appends) is not checked for
// coverage.
// CHECK-LABEL: func.func @no_attention
// CHECK: kv.append
func.func @no_attention(%k: tensor<1x4x8xf32>, %c0: !kv.cache<3x4x64x8, f32>, %pos: index) -> !kv.cache<3x4x64x8, f32> {
  %c1 = kv.append %c0[1], %k, %k at %pos : !kv.cache<3x4x64x8, f32>, tensor<1x4x8xf32>
  return %c1 : !kv.cache<3x4x64x8, f32>
}

// -----

// Prefill and decode are separate steps, each complete.
// CHECK-LABEL: func.func @prefill
// CHECK-LABEL: func.func @decode
func.func @prefill(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %c0: !kv.cache<2x4x64x8, f32>, %pos: index) -> !kv.cache<2x4x64x8, f32> {
  %o0, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<?x64xf32>
  %o1, %c2 = llm.attention %o0, %k, %k, %c1[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<?x64xf32>
  return %c2 : !kv.cache<2x4x64x8, f32>
}
func.func @decode(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c0: !kv.cache<2x4x64x8, f32>, %pos: index) -> !kv.cache<2x4x64x8, f32> {
  %o0, %c1 = llm.attention %q, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  %o1, %c2 = llm.attention %o0, %k, %k, %c1[1] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<2x4x64x8, f32> -> tensor<1x64xf32>
  return %c2 : !kv.cache<2x4x64x8, f32>
}
