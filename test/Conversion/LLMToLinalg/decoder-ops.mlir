// RUN: llmc-opt %s --llmc-convert-llm-to-linalg -split-input-file | FileCheck %s

// RMS norm: a sum-of-squares reduction per row, then a scaled element-wise op.
// CHECK-LABEL: func.func @rms_norm
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// CHECK: math.sqrt
func.func @rms_norm(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  %y = llm.rms_norm %x, %w {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Float projections reduce over K with the weight extended to f32.
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[O:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @linear_f16
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[O]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: arith.extf {{.*}} : f16 to f32
func.func @linear_f16(%x: tensor<?x64xf32>, %w: tensor<172x64xf16>) -> tensor<?x172xf32> {
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf16> -> tensor<?x172xf32>
  return %y : tensor<?x172xf32>
}

// -----

// Packed Q8_0 weights are bytes; each element is decoded in the loop body
// (f16 scale from two bytes, int8 value), never materialized as a matrix.
// CHECK-LABEL: func.func @linear_q8_0
// CHECK-SAME: %{{.*}}: tensor<?x172xf32>, %[[W:.*]]: tensor<13056xi8>
// CHECK: linalg.generic
// CHECK-NOT: tensor.empty() : tensor<64x172xf32>
// CHECK: tensor.extract %[[W]]
// CHECK: arith.bitcast {{.*}} : i16 to f16
// CHECK: arith.sitofp
func.func @linear_q8_0(%x: tensor<?x172xf32>, %w: !qmm.packed<64x172, #qmm.format<q8_0>>) -> tensor<?x64xf32> {
  %y = llm.linear %x, %w : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func.func @embedding
// CHECK: linalg.generic
// CHECK: arith.index_cast
// CHECK: tensor.extract
func.func @embedding(%t: tensor<512x64xf32>, %ids: tensor<?xi32>) -> tensor<?x64xf32> {
  %x = llm.embedding %t, %ids : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}

// -----

// RoPE: inverse frequencies folded into a constant, one angle per pair.
// CHECK-LABEL: func.func @rope
// CHECK: arith.constant dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>
// CHECK: linalg.generic
// CHECK: math.cos
// CHECK: math.sin
func.func @rope(%x: tensor<?x64xf32>, %pos: index) -> tensor<?x64xf32> {
  %y = llm.rope %x at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func.func @swiglu_add_argmax
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: arith.addf
// Argmax: a (max, index) reduction where the first maximum wins.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.cmpf ogt
// CHECK: arith.select
func.func @swiglu_add_argmax(%g: tensor<1x172xf32>, %u: tensor<1x172xf32>) -> tensor<1xi32> {
  %s = llm.swiglu %g, %u : tensor<1x172xf32>
  %a = llm.add %s, %s : tensor<1x172xf32>
  %t = llm.argmax %a : tensor<1x172xf32> -> tensor<1xi32>
  return %t : tensor<1xi32>
}

// -----

// last_only projects the last row.
// CHECK-LABEL: func.func @lm_head_last
// CHECK: %[[ROWS:.*]] = tensor.dim
// CHECK: %[[LAST:.*]] = arith.subi %[[ROWS]]
// CHECK: tensor.extract_slice %{{.*}}[%[[LAST]], 0] [1, 64] [1, 1]
func.func @lm_head_last(%x: tensor<?x64xf32>, %w: tensor<512x64xf32>) -> tensor<1x512xf32> {
  %l = llm.lm_head %x, %w {last_only} : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
  return %l : tensor<1x512xf32>
}
