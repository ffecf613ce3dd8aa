// RUN: llmc-opt %s -canonicalize -split-input-file | FileCheck %s

// A repack to the same layout is the identity.
// CHECK-LABEL: func.func @repack_identity
// CHECK-SAME: (%[[P:.*]]: !qmm.packed
// CHECK-NOT: qmm.repack
// CHECK: return %[[P]]
func.func @repack_identity(%p: !qmm.packed<64x172, #qmm.format<q4_0>, tile = 4>) -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 4> {
  %0 = qmm.repack %p : !qmm.packed<64x172, #qmm.format<q4_0>, tile = 4> -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 4>
  return %0 : !qmm.packed<64x172, #qmm.format<q4_0>, tile = 4>
}

// -----

// A chain of repacks becomes one repack from the original layout.
// CHECK-LABEL: func.func @repack_chain
// CHECK-SAME: (%[[P:.*]]: !qmm.packed
// CHECK-NEXT: %[[R:.*]] = qmm.repack %[[P]] : !qmm.packed<64x172, #qmm.format<q4_0>> -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8>
// CHECK-NEXT: return %[[R]]
func.func @repack_chain(%p: !qmm.packed<64x172, #qmm.format<q4_0>>) -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8> {
  %0 = qmm.repack %p : !qmm.packed<64x172, #qmm.format<q4_0>> -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 4>
  %1 = qmm.repack %0 : !qmm.packed<64x172, #qmm.format<q4_0>, tile = 4> -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 16>
  %2 = qmm.repack %1 : !qmm.packed<64x172, #qmm.format<q4_0>, tile = 16> -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8>
  return %2 : !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8>
}

// -----

// A round trip through another layout vanishes.
// CHECK-LABEL: func.func @repack_round_trip
// CHECK-SAME: (%[[P:.*]]: !qmm.packed
// CHECK-NEXT: return %[[P]]
func.func @repack_round_trip(%p: !qmm.packed<64x172, #qmm.format<int4, group = 64, asym>>) -> !qmm.packed<64x172, #qmm.format<int4, group = 64, asym>> {
  %0 = qmm.repack %p : !qmm.packed<64x172, #qmm.format<int4, group = 64, asym>> -> !qmm.packed<64x172, #qmm.format<int4, group = 64, asym>, tile = 8>
  %1 = qmm.repack %0 : !qmm.packed<64x172, #qmm.format<int4, group = 64, asym>, tile = 8> -> !qmm.packed<64x172, #qmm.format<int4, group = 64, asym>>
  return %1 : !qmm.packed<64x172, #qmm.format<int4, group = 64, asym>>
}

// -----

// The inner repack stays when something else uses it; the outer one still
// reads the original.
// CHECK-LABEL: func.func @repack_chain_shared
// CHECK-SAME: (%[[P:.*]]: !qmm.packed
// CHECK-NEXT: %[[A:.*]] = qmm.repack %[[P]] : {{.*}} -> !qmm.packed<64x172, #qmm.format<q8_0>, tile = 4>
// CHECK-NEXT: %[[B:.*]] = qmm.repack %[[P]] : {{.*}} -> !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8>
// CHECK-NEXT: return %[[A]], %[[B]]
func.func @repack_chain_shared(%p: !qmm.packed<64x172, #qmm.format<q8_0>>) -> (!qmm.packed<64x172, #qmm.format<q8_0>, tile = 4>, !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8>) {
  %0 = qmm.repack %p : !qmm.packed<64x172, #qmm.format<q8_0>> -> !qmm.packed<64x172, #qmm.format<q8_0>, tile = 4>
  %1 = qmm.repack %0 : !qmm.packed<64x172, #qmm.format<q8_0>, tile = 4> -> !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8>
  return %0, %1 : !qmm.packed<64x172, #qmm.format<q8_0>, tile = 4>, !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8>
}

// -----

// A single repack to a new layout is kept.
// CHECK-LABEL: func.func @repack_kept
// CHECK-NEXT: %[[R:.*]] = qmm.repack
// CHECK-NEXT: return %[[R]]
func.func @repack_kept(%p: !qmm.packed<64x172, #qmm.format<q8_0>>) -> !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8> {
  %0 = qmm.repack %p : !qmm.packed<64x172, #qmm.format<q8_0>> -> !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8>
  return %0 : !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8>
}

// -----

// Dequantization does not depend on the layout.
// CHECK-LABEL: func.func @dequantize_of_repack
// CHECK-SAME: (%[[P:.*]]: !qmm.packed
// CHECK-NEXT: %[[D:.*]] = qmm.dequantize %[[P]] : !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<64x172xf16>
// CHECK-NEXT: return %[[D]]
func.func @dequantize_of_repack(%p: !qmm.packed<64x172, #qmm.format<q8_0>>) -> tensor<64x172xf16> {
  %0 = qmm.repack %p : !qmm.packed<64x172, #qmm.format<q8_0>> -> !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8>
  %1 = qmm.repack %0 : !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8> -> !qmm.packed<64x172, #qmm.format<q8_0>, tile = 2>
  %2 = qmm.dequantize %1 : !qmm.packed<64x172, #qmm.format<q8_0>, tile = 2> -> tensor<64x172xf16>
  return %2 : tensor<64x172xf16>
}

// -----

// Dequantizing a value that was not repacked is kept.
// CHECK-LABEL: func.func @dequantize_kept
// CHECK-SAME: (%[[P:.*]]: !qmm.packed
// CHECK-NEXT: %[[D:.*]] = qmm.dequantize %[[P]] : !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8> -> tensor<64x172xf32>
// CHECK-NEXT: return %[[D]]
func.func @dequantize_kept(%p: !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8>) -> tensor<64x172xf32> {
  %0 = qmm.dequantize %p : !qmm.packed<64x172, #qmm.format<q8_0>, tile = 8> -> tensor<64x172xf32>
  return %0 : tensor<64x172xf32>
}

// -----

// quantize and matmul have no folders: a matmul on a repacked matrix keeps
// reading the repacked layout, which is the point of repacking.
// CHECK-LABEL: func.func @matmul_keeps_repack
// CHECK: %[[Q:.*]] = qmm.quantize
// CHECK-NEXT: %[[R:.*]] = qmm.repack %[[Q]]
// CHECK-NEXT: qmm.matmul %{{.*}}, %[[R]]
func.func @matmul_keeps_repack(%w: tensor<64x172xf32>, %x: tensor<?x172xf32>) -> tensor<?x64xf32> {
  %0 = qmm.quantize %w : tensor<64x172xf32> -> !qmm.packed<64x172, #qmm.format<q4_0>>
  %1 = qmm.repack %0 : !qmm.packed<64x172, #qmm.format<q4_0>> -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8>
  %2 = qmm.matmul %x, %1 : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8> -> tensor<?x64xf32>
  return %2 : tensor<?x64xf32>
}
