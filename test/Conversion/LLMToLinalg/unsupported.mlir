// RUN: llmc-opt %s --llmc-convert-llm-to-linalg -split-input-file -verify-diagnostics

// What the CPU lowering does not handle yet fails with the op named.
func.func @paged(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c: !kv.cache<1x4x64x8, f32, paged<16>>, %pos: index) -> tensor<1x64xf32> {
  // expected-error@+1 {{failed to legalize operation 'llm.attention'}}
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32}
      : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<1x4x64x8, f32, paged<16>> -> tensor<1x64xf32>
  return %o : tensor<1x64xf32>
}

// -----

// Row-interleaved (tiled) packings are a layout for target back ends.
func.func @tiled(%x: tensor<1x64xf32>, %w: !qmm.packed<8x64, #qmm.format<q4_0>, tile = 4>) -> tensor<1x8xf32> {
  // expected-error@+1 {{failed to legalize operation 'llm.linear'}}
  %y = llm.linear %x, %w : tensor<1x64xf32>, !qmm.packed<8x64, #qmm.format<q4_0>, tile = 4> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @sample(%l: tensor<1x8xf32>, %s: i64) -> tensor<1xi32> {
  // expected-error@+1 {{failed to legalize operation 'llm.sample'}}
  %t = llm.sample %l, %s {temperature = 0.5 : f32} : tensor<1x8xf32>, i64 -> tensor<1xi32>
  return %t : tensor<1xi32>
}
