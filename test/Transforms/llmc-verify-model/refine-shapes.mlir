// Dynamic result dimensions that operand shapes imply become static; a use
// that needs the old type gets a tensor.cast.
// RUN: llmc-opt %s -split-input-file --llmc-verify-model | FileCheck %s
// RUN: llmc-opt %s -split-input-file --llmc-verify-model=refine-shapes=false | FileCheck %s --check-prefix=NOREFINE

// Widths follow from weights and attention attributes, through rope.
// CHECK-LABEL: func.func @projection_chain
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[WQ:.*]]: tensor<64x64xf32>, %[[WK:.*]]: tensor<32x64xf32>, %[[WO:.*]]: tensor<64x64xf32>, %[[C:.*]]: !kv.cache<1x4x64x8, f32>, %[[POS:.*]]: index)
// CHECK: %[[Q:.*]] = llm.linear %[[X]], %[[WQ]] : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// CHECK: %[[K:.*]] = llm.linear %[[X]], %[[WK]] : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
// CHECK: %[[QR:.*]] = llm.rope %[[Q]] at %[[POS]] {{.*}} : tensor<?x64xf32>
// CHECK: %[[KR:.*]] = llm.rope %[[K]] at %[[POS]] {{.*}} : tensor<?x32xf32>
// CHECK: %[[A:.*]], %[[C1:.*]] = llm.attention %[[QR]], %[[KR]], %[[K]], %[[C]][0] {{.*}} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<?x64xf32>
// CHECK: %[[O:.*]] = llm.linear %[[A]], %[[WO]] : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// CHECK-NOT: tensor.cast
// CHECK: return %[[O]], %[[C1]] : tensor<?x64xf32>, !kv.cache<1x4x64x8, f32>

// NOREFINE-LABEL: func.func @projection_chain
// NOREFINE: llm.linear {{.*}} -> tensor<?x?xf32>
// NOREFINE: llm.linear {{.*}} -> tensor<?x?xf32>
// NOREFINE: llm.rope {{.*}} : tensor<?x?xf32>
// NOREFINE: llm.rope {{.*}} : tensor<?x?xf32>
// NOREFINE: llm.attention {{.*}} : tensor<?x?xf32>, tensor<?x?xf32>, !kv.cache<1x4x64x8, f32> -> tensor<?x?xf32>
// NOREFINE-NOT: tensor.cast
func.func @projection_chain(%x: tensor<?x64xf32>, %wq: tensor<64x64xf32>, %wk: tensor<32x64xf32>, %wo: tensor<64x64xf32>, %c0: !kv.cache<1x4x64x8, f32>, %pos: index) -> (tensor<?x64xf32>, !kv.cache<1x4x64x8, f32>) {
  %q = llm.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x?xf32>
  %k = llm.linear %x, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x?xf32>
  %qr = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x?xf32>
  %kr = llm.rope %k at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x?xf32>
  %a, %c1 = llm.attention %qr, %kr, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x?xf32>, tensor<?x?xf32>, !kv.cache<1x4x64x8, f32> -> tensor<?x?xf32>
  %o = llm.linear %a, %wo : tensor<?x?xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %o, %c1 : tensor<?x64xf32>, !kv.cache<1x4x64x8, f32>
}

// -----

// A refined value the function returns is cast back to the declared type.
// CHECK-LABEL: func.func @cast_before_return
// CHECK: %[[Y:.*]] = llm.linear {{.*}} -> tensor<?x172xf32>
// CHECK-NOT: tensor.cast
// CHECK: %[[H:.*]] = llm.swiglu %[[Y]], %[[Y]] : tensor<?x172xf32>
// CHECK: %[[CAST:.*]] = tensor.cast %[[H]] : tensor<?x172xf32> to tensor<?x?xf32>
// CHECK: return %[[CAST]] : tensor<?x?xf32>

// NOREFINE-LABEL: func.func @cast_before_return
// NOREFINE: llm.linear {{.*}} -> tensor<?x?xf32>
// NOREFINE: llm.swiglu {{.*}} : tensor<?x?xf32>
// NOREFINE-NOT: tensor.cast
func.func @cast_before_return(%x: tensor<?x64xf32>, %w: tensor<172x64xf32>) -> tensor<?x?xf32> {
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x?xf32>
  %h = llm.swiglu %y, %y : tensor<?x?xf32>
  return %h : tensor<?x?xf32>
}

// -----

// Embedding, last-only LM head, token choice and attention scores.
// CHECK-LABEL: func.func @decode_shapes
// CHECK: %[[X:.*]] = llm.embedding {{.*}} : !qmm.packed<512x64, #qmm.format<q8_0>>, tensor<1xi32> -> tensor<1x64xf32>
// CHECK: %[[A:.*]], %[[C1:.*]], %[[S:.*]] = llm.attention %[[X]], {{.*}} -> tensor<1x64xf32>, tensor<4x64xf32>
// CHECK: %[[SC:.*]] = tensor.cast %[[S]] : tensor<4x64xf32> to tensor<?x?xf32>
// CHECK: %[[L:.*]] = llm.lm_head %[[A]], {{.*}} {last_only} : tensor<1x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
// CHECK: %[[T:.*]] = llm.argmax %[[L]] : tensor<1x512xf32> -> tensor<1xi32>
// CHECK: %[[TC:.*]] = tensor.cast %[[T]] : tensor<1xi32> to tensor<?xi32>
// CHECK: %[[SMP:.*]] = llm.sample %[[L]], %{{.*}} {temperature = 1.000000e+00 : f32} : tensor<1x512xf32>, i64 -> tensor<1xi64>
// CHECK: %[[SMPC:.*]] = tensor.cast %[[SMP]] : tensor<1xi64> to tensor<?xi64>
// CHECK: return %[[TC]], %[[SMPC]], %[[SC]], %[[C1]] : tensor<?xi32>, tensor<?xi64>, tensor<?x?xf32>, !kv.cache<1x4x64x8, f32>

// NOREFINE-LABEL: func.func @decode_shapes
// NOREFINE: llm.embedding {{.*}} -> tensor<?x?xf32>
// NOREFINE: llm.attention {{.*}} -> tensor<?x?xf32>, tensor<?x?xf32>
// NOREFINE: llm.lm_head {{.*}} -> tensor<?x?xf32>
// NOREFINE-NOT: tensor.cast
func.func @decode_shapes(%t: !qmm.packed<512x64, #qmm.format<q8_0>>, %ids: tensor<1xi32>, %k: tensor<1x32xf32>, %c0: !kv.cache<1x4x64x8, f32>, %pos: index, %w: tensor<512x64xf32>, %seed: i64) -> (tensor<?xi32>, tensor<?xi64>, tensor<?x?xf32>, !kv.cache<1x4x64x8, f32>) {
  %x = llm.embedding %t, %ids : !qmm.packed<512x64, #qmm.format<q8_0>>, tensor<1xi32> -> tensor<?x?xf32>
  %a, %c1, %s = llm.attention %x, %k, %k, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<?x?xf32>, tensor<1x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<?x?xf32>, tensor<?x?xf32>
  %l = llm.lm_head %a, %w {last_only} : tensor<?x?xf32>, tensor<512x64xf32> -> tensor<?x?xf32>
  %tok = llm.argmax %l : tensor<?x?xf32> -> tensor<?xi32>
  %smp = llm.sample %l, %seed {temperature = 1.0 : f32} : tensor<?x?xf32>, i64 -> tensor<?xi64>
  return %tok, %smp, %s, %c1 : tensor<?xi32>, tensor<?xi64>, tensor<?x?xf32>, !kv.cache<1x4x64x8, f32>
}

// -----

// An op whose operands would no longer agree after looking through a cast
// keeps its types and its cast operand.
// CHECK-LABEL: func.func @mismatch_keeps_cast
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[W:.*]]: tensor<64x64xf32>, %[[R:.*]]: tensor<?x?xf32>)
// CHECK: %[[Y:.*]] = llm.linear %[[X]], %[[W]] : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// CHECK: %[[CAST:.*]] = tensor.cast %[[Y]] : tensor<?x64xf32> to tensor<?x?xf32>
// CHECK: %[[S:.*]] = llm.add %[[CAST]], %[[R]] : tensor<?x?xf32>
// CHECK: return %[[S]]
func.func @mismatch_keeps_cast(%x: tensor<?x64xf32>, %w: tensor<64x64xf32>, %r: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x?xf32>
  %s = llm.add %y, %r : tensor<?x?xf32>
  return %s : tensor<?x?xf32>
}

// -----

// Nothing to refine: the IR is unchanged.
// CHECK-LABEL: func.func @already_static
// CHECK-NEXT: llm.rms_norm %{{.*}}, %{{.*}} {eps = 9.99999974E-6 : f32} : tensor<4x64xf32>, tensor<64xf32>
// CHECK-NEXT: return
func.func @already_static(%x: tensor<4x64xf32>, %w: tensor<64xf32>) -> tensor<4x64xf32> {
  %y = llm.rms_norm %x, %w {eps = 1.0e-05 : f32} : tensor<4x64xf32>, tensor<64xf32>
  return %y : tensor<4x64xf32>
}
