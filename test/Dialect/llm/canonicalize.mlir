// Folders and canonicalization patterns of the llm dialect.
// RUN: llmc-opt %s -canonicalize -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @add_zero_rhs
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>)
// CHECK-NOT: llm.add
// CHECK: return %[[X]]
func.func @add_zero_rhs(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %zero = arith.constant dense<0.0> : tensor<4x64xf32>
  %0 = llm.add %x, %zero : tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// CHECK-LABEL: func.func @add_zero_lhs
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf16>)
// CHECK-NOT: llm.add
// CHECK: return %[[X]]
func.func @add_zero_lhs(%x: tensor<4x64xf16>) -> tensor<4x64xf16> {
  %zero = arith.constant dense<0.0> : tensor<4x64xf16>
  %0 = llm.add %zero, %x : tensor<4x64xf16>
  return %0 : tensor<4x64xf16>
}

// -----

// Adding a non-zero constant is kept.
// CHECK-LABEL: func.func @add_nonzero
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>)
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00>
// CHECK: %[[SUM:.*]] = llm.add %[[X]], %[[ONE]] : tensor<4x64xf32>
// CHECK: return %[[SUM]]
func.func @add_nonzero(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %one = arith.constant dense<1.0> : tensor<4x64xf32>
  %0 = llm.add %x, %one : tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// A constant that is zero only in some elements is kept.
// CHECK-LABEL: func.func @add_partly_zero
// CHECK: llm.add
func.func @add_partly_zero(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %c = arith.constant dense<[[0.0, 1.0]]> : tensor<1x2xf32>
  %0 = llm.add %x, %c : tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

// CHECK-LABEL: func.func @add_two_values
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>, %[[Y:.*]]: tensor<4x64xf32>)
// CHECK: %[[SUM:.*]] = llm.add %[[X]], %[[Y]]
// CHECK: return %[[SUM]]
func.func @add_two_values(%x: tensor<4x64xf32>, %y: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %0 = llm.add %x, %y : tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// CHECK-LABEL: func.func @sample_temperature_zero
// CHECK-SAME: (%[[L:.*]]: tensor<1x512xf32>, %{{.*}}: i64)
// CHECK-NOT: llm.sample
// CHECK: %[[T:.*]] = llm.argmax %[[L]] : tensor<1x512xf32> -> tensor<1xi32>
// CHECK: return %[[T]]
func.func @sample_temperature_zero(%logits: tensor<1x512xf32>, %seed: i64) -> tensor<1xi32> {
  %0 = llm.sample %logits, %seed {temperature = 0.0 : f32, top_k = 40 : i64, top_p = 0.9 : f32} : tensor<1x512xf32>, i64 -> tensor<1xi32>
  return %0 : tensor<1xi32>
}

// -----

// CHECK-LABEL: func.func @sample_top_k_one
// CHECK-SAME: (%[[L:.*]]: tensor<?x512xf16>, %{{.*}}: i64)
// CHECK-NOT: llm.sample
// CHECK: %[[T:.*]] = llm.argmax %[[L]] : tensor<?x512xf16> -> tensor<?xi64>
// CHECK: return %[[T]]
func.func @sample_top_k_one(%logits: tensor<?x512xf16>, %seed: i64) -> tensor<?xi64> {
  %0 = llm.sample %logits, %seed {temperature = 0.7 : f32, top_k = 1 : i64} : tensor<?x512xf16>, i64 -> tensor<?xi64>
  return %0 : tensor<?xi64>
}

// -----

// Real sampling stays: positive temperature, top_k other than 1.
// CHECK-LABEL: func.func @sample_stays
// CHECK-NOT: llm.argmax
// CHECK: llm.sample %{{.*}}, %{{.*}} {temperature = 8.000000e-01 : f32, top_k = 2 : i64}
// CHECK: llm.sample %{{.*}}, %{{.*}} {temperature = 1.000000e+00 : f32}
// CHECK-NOT: llm.argmax
func.func @sample_stays(%logits: tensor<1x512xf32>, %seed: i64) -> (tensor<1xi32>, tensor<1xi32>) {
  %0 = llm.sample %logits, %seed {temperature = 0.8 : f32, top_k = 2 : i64} : tensor<1x512xf32>, i64 -> tensor<1xi32>
  %1 = llm.sample %logits, %seed {temperature = 1.0 : f32} : tensor<1x512xf32>, i64 -> tensor<1xi32>
  return %0, %1 : tensor<1xi32>, tensor<1xi32>
}

// -----

// Packed weights are consumed directly; the dequantized copy dies.
// CHECK-LABEL: func.func @linear_packed
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[P:.*]]: !qmm.packed<172x64, #qmm.format<q8_0>>)
// CHECK-NOT: qmm.dequantize
// CHECK: %[[Y:.*]] = llm.linear %[[X]], %[[P]] : tensor<?x64xf32>, !qmm.packed<172x64, #qmm.format<q8_0>> -> tensor<?x172xf32>
// CHECK: return %[[Y]]
func.func @linear_packed(%x: tensor<?x64xf32>, %p: !qmm.packed<172x64, #qmm.format<q8_0>>) -> tensor<?x172xf32> {
  %w = qmm.dequantize %p : !qmm.packed<172x64, #qmm.format<q8_0>> -> tensor<172x64xf32>
  %0 = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  return %0 : tensor<?x172xf32>
}

// -----

// CHECK-LABEL: func.func @embedding_packed
// CHECK-SAME: (%[[P:.*]]: !qmm.packed<512x64, #qmm.format<q4_0>>, %[[IDS:.*]]: tensor<?xi32>)
// CHECK-NOT: qmm.dequantize
// CHECK: %[[E:.*]] = llm.embedding %[[P]], %[[IDS]] : !qmm.packed<512x64, #qmm.format<q4_0>>, tensor<?xi32> -> tensor<?x64xf32>
// CHECK: return %[[E]]
func.func @embedding_packed(%p: !qmm.packed<512x64, #qmm.format<q4_0>>, %ids: tensor<?xi32>) -> tensor<?x64xf32> {
  %t = qmm.dequantize %p : !qmm.packed<512x64, #qmm.format<q4_0>> -> tensor<512x64xf32>
  %0 = llm.embedding %t, %ids : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// The dequantized table is still returned, so it stays; the lm_head
// reads the packed weights regardless.
// CHECK-LABEL: func.func @lm_head_packed
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[P:.*]]: !qmm.packed<512x64, #qmm.format<q8_0>>)
// CHECK: %[[W:.*]] = qmm.dequantize %[[P]]
// CHECK: %[[L:.*]] = llm.lm_head %[[X]], %[[P]] {last_only} : tensor<?x64xf32>, !qmm.packed<512x64, #qmm.format<q8_0>> -> tensor<1x512xf32>
// CHECK: return %[[L]], %[[W]]
func.func @lm_head_packed(%x: tensor<?x64xf32>, %p: !qmm.packed<512x64, #qmm.format<q8_0>>) -> (tensor<1x512xf32>, tensor<512x64xf32>) {
  %w = qmm.dequantize %p : !qmm.packed<512x64, #qmm.format<q8_0>> -> tensor<512x64xf32>
  %0 = llm.lm_head %x, %w {last_only} : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
  return %0, %w : tensor<1x512xf32>, tensor<512x64xf32>
}

// -----

// Dequantizing a repacked weight looks through the repack, and the linear
// then reads the original packed weights.
// CHECK-LABEL: func.func @linear_repacked
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[P:.*]]: !qmm.packed<172x64, #qmm.format<q4_0>>)
// CHECK-NOT: qmm.
// CHECK: llm.linear %[[X]], %[[P]] : tensor<?x64xf32>, !qmm.packed<172x64, #qmm.format<q4_0>> -> tensor<?x172xf32>
func.func @linear_repacked(%x: tensor<?x64xf32>, %p: !qmm.packed<172x64, #qmm.format<q4_0>>) -> tensor<?x172xf32> {
  %t = qmm.repack %p : !qmm.packed<172x64, #qmm.format<q4_0>> -> !qmm.packed<172x64, #qmm.format<q4_0>, tile = 4>
  %w = qmm.dequantize %t : !qmm.packed<172x64, #qmm.format<q4_0>, tile = 4> -> tensor<172x64xf32>
  %0 = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  return %0 : tensor<?x172xf32>
}

// -----

// Float weights that do not come from qmm.dequantize are left alone.
// CHECK-LABEL: func.func @float_weights_stay
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[W:.*]]: tensor<172x64xf32>, %[[T:.*]]: tensor<512x64xf32>, %[[IDS:.*]]: tensor<?xi32>)
// CHECK: llm.linear %[[X]], %[[W]] : tensor<?x64xf32>, tensor<172x64xf32>
// CHECK: llm.embedding %[[T]], %[[IDS]] : tensor<512x64xf32>, tensor<?xi32>
// CHECK: llm.lm_head %[[X]], %[[T]] : tensor<?x64xf32>, tensor<512x64xf32>
func.func @float_weights_stay(%x: tensor<?x64xf32>, %w: tensor<172x64xf32>, %t: tensor<512x64xf32>, %ids: tensor<?xi32>) -> (tensor<?x172xf32>, tensor<?x64xf32>, tensor<?x512xf32>) {
  %0 = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %1 = llm.embedding %t, %ids : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %2 = llm.lm_head %x, %t : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
  return %0, %1, %2 : tensor<?x172xf32>, tensor<?x64xf32>, tensor<?x512xf32>
}

// -----

// A dequantized activation (the linear's input, not its weight) is not
// a weight to consume.
// CHECK-LABEL: func.func @dequantized_input_stays
// CHECK: %[[X:.*]] = qmm.dequantize
// CHECK: llm.linear %[[X]], %{{.*}} : tensor<4x64xf32>, tensor<172x64xf32>
func.func @dequantized_input_stays(%p: !qmm.packed<4x64, #qmm.format<q8_0>>, %w: tensor<172x64xf32>) -> tensor<4x172xf32> {
  %x = qmm.dequantize %p : !qmm.packed<4x64, #qmm.format<q8_0>> -> tensor<4x64xf32>
  %0 = llm.linear %x, %w : tensor<4x64xf32>, tensor<172x64xf32> -> tensor<4x172xf32>
  return %0 : tensor<4x172xf32>
}
