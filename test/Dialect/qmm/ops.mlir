// RUN: llmc-opt %s | llmc-opt | FileCheck %s
// RUN: llmc-opt %s --mlir-print-op-generic | llmc-opt | FileCheck %s

//===----------------------------------------------------------------------===//
// Operations
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @quantize
func.func @quantize(%w: tensor<64x172xf32>, %h: tensor<64x172xf16>, %b: tensor<64x172xbf16>) {
  // CHECK: qmm.quantize %{{.*}} : tensor<64x172xf32> -> !qmm.packed<64x172, #qmm.format<q8_0>>
  %0 = qmm.quantize %w : tensor<64x172xf32> -> !qmm.packed<64x172, #qmm.format<q8_0>>
  // CHECK: qmm.quantize %{{.*}} : tensor<64x172xf16> -> !qmm.packed<64x172, #qmm.format<q4_0>>
  %1 = qmm.quantize %h : tensor<64x172xf16> -> !qmm.packed<64x172, #qmm.format<q4_0>>
  // CHECK: qmm.quantize %{{.*}} : tensor<64x172xbf16> -> !qmm.packed<64x172, #qmm.format<int4, group = 64, asym>, tile = 8>
  %2 = qmm.quantize %b : tensor<64x172xbf16> -> !qmm.packed<64x172, #qmm.format<int4, group = 64, asym>, tile = 8>
  return
}

// CHECK-LABEL: func.func @dequantize
func.func @dequantize(%p: !qmm.packed<64x172, #qmm.format<q8_0>>) {
  // CHECK: qmm.dequantize %{{.*}} : !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<64x172xf32>
  %0 = qmm.dequantize %p : !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<64x172xf32>
  // CHECK: qmm.dequantize %{{.*}} : !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<64x172xf16>
  %1 = qmm.dequantize %p : !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<64x172xf16>
  // CHECK: qmm.dequantize %{{.*}} : !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<64x172xbf16>
  %2 = qmm.dequantize %p : !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<64x172xbf16>
  return
}

// CHECK-LABEL: func.func @matmul
func.func @matmul(%x: tensor<?x172xf32>, %s: tensor<3x172xf16>, %d: tensor<2x?xbf16>,
                  %w: !qmm.packed<64x172, #qmm.format<q8_0>>) {
  // CHECK: qmm.matmul %{{.*}}, %{{.*}} : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<?x64xf32>
  %0 = qmm.matmul %x, %w : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<?x64xf32>
  // CHECK: qmm.matmul %{{.*}}, %{{.*}} : tensor<3x172xf16>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<3x64xf16>
  %1 = qmm.matmul %s, %w : tensor<3x172xf16>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<3x64xf16>
  // A dynamic K or N is checked at run time.
  // CHECK: qmm.matmul %{{.*}}, %{{.*}} : tensor<2x?xbf16>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<2x?xbf16>
  %2 = qmm.matmul %d, %w : tensor<2x?xbf16>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<2x?xbf16>
  // CHECK: qmm.matmul %{{.*}}, %{{.*}} : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<5x64xf32>
  %3 = qmm.matmul %x, %w : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<5x64xf32>
  return
}

// CHECK-LABEL: func.func @repack
func.func @repack(%p: !qmm.packed<64x172, #qmm.format<q4_0>>) {
  // CHECK: qmm.repack %{{.*}} : !qmm.packed<64x172, #qmm.format<q4_0>> -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8>
  %0 = qmm.repack %p : !qmm.packed<64x172, #qmm.format<q4_0>> -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8>
  // CHECK: qmm.repack %{{.*}} : !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8> -> !qmm.packed<64x172, #qmm.format<q4_0>>
  %1 = qmm.repack %0 : !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8> -> !qmm.packed<64x172, #qmm.format<q4_0>>
  return
}

//===----------------------------------------------------------------------===//
// #qmm.format: fixed-block kinds
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @format_ggml
func.func @format_ggml(%w: tensor<64x256xf32>) {
  // CHECK: !qmm.packed<64x256, #qmm.format<q8_0>>
  %0 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<q8_0>>
  // CHECK: !qmm.packed<64x256, #qmm.format<q4_0>>
  %1 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<q4_0>>
  // CHECK: !qmm.packed<64x256, #qmm.format<q4_k>>
  %2 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<q4_k>>
  // CHECK: !qmm.packed<64x256, #qmm.format<q6_k>>
  %3 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<q6_k>>
  return
}

// CHECK-LABEL: func.func @format_float
func.func @format_float(%w: tensor<64x256xf32>) {
  // CHECK: !qmm.packed<64x256, #qmm.format<fp8_e4m3>>
  %0 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<fp8_e4m3>>
  // CHECK: !qmm.packed<64x256, #qmm.format<fp8_e5m2>>
  %1 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<fp8_e5m2>>
  // CHECK: !qmm.packed<64x256, #qmm.format<mxfp4>>
  %2 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<mxfp4>>
  return
}

// Spelling out a fixed kind's own geometry is accepted and printed canonically.
// CHECK-LABEL: func.func @format_fixed_explicit
func.func @format_fixed_explicit(%w: tensor<64x256xf32>) {
  // CHECK: !qmm.packed<64x256, #qmm.format<q8_0>>
  %0 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<q8_0, group = 32, sym>>
  // CHECK: !qmm.packed<64x256, #qmm.format<q4_k>>
  %1 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<q4_k, group = 256, asym>>
  // CHECK: !qmm.packed<64x256, #qmm.format<fp8_e4m3>>
  %2 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<fp8_e4m3, group = 1>>
  return
}

//===----------------------------------------------------------------------===//
// #qmm.format: integer kinds, every bit width x group x symmetry
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @format_int2
func.func @format_int2(%w: tensor<64x256xf32>) {
  // CHECK: #qmm.format<int2, group = 32>>
  %0 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int2, group = 32, sym>>
  // CHECK: #qmm.format<int2, group = 32, asym>>
  %1 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int2, group = 32, asym>>
  // CHECK: #qmm.format<int2, group = 64>>
  %2 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int2, group = 64, sym>>
  // CHECK: #qmm.format<int2, group = 64, asym>>
  %3 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int2, group = 64, asym>>
  // CHECK: #qmm.format<int2, group = 128>>
  %4 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int2, group = 128, sym>>
  // CHECK: #qmm.format<int2, group = 128, asym>>
  %5 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int2, group = 128, asym>>
  return
}

// CHECK-LABEL: func.func @format_int3
func.func @format_int3(%w: tensor<64x256xf32>) {
  // CHECK: #qmm.format<int3, group = 32>>
  %0 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int3, group = 32, sym>>
  // CHECK: #qmm.format<int3, group = 32, asym>>
  %1 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int3, group = 32, asym>>
  // CHECK: #qmm.format<int3, group = 64>>
  %2 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int3, group = 64, sym>>
  // CHECK: #qmm.format<int3, group = 64, asym>>
  %3 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int3, group = 64, asym>>
  // CHECK: #qmm.format<int3, group = 128>>
  %4 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int3, group = 128, sym>>
  // CHECK: #qmm.format<int3, group = 128, asym>>
  %5 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int3, group = 128, asym>>
  return
}

// CHECK-LABEL: func.func @format_int4
func.func @format_int4(%w: tensor<64x256xf32>) {
  // CHECK: #qmm.format<int4, group = 32>>
  %0 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int4, group = 32, sym>>
  // CHECK: #qmm.format<int4, group = 32, asym>>
  %1 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int4, group = 32, asym>>
  // CHECK: #qmm.format<int4, group = 64>>
  %2 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int4, group = 64, sym>>
  // CHECK: #qmm.format<int4, group = 64, asym>>
  %3 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int4, group = 64, asym>>
  // CHECK: #qmm.format<int4, group = 128>>
  %4 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int4, group = 128, sym>>
  // CHECK: #qmm.format<int4, group = 128, asym>>
  %5 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int4, group = 128, asym>>
  return
}

// CHECK-LABEL: func.func @format_int8
func.func @format_int8(%w: tensor<64x256xf32>) {
  // CHECK: #qmm.format<int8, group = 32>>
  %0 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int8, group = 32, sym>>
  // CHECK: #qmm.format<int8, group = 32, asym>>
  %1 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int8, group = 32, asym>>
  // CHECK: #qmm.format<int8, group = 64>>
  %2 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int8, group = 64, sym>>
  // CHECK: #qmm.format<int8, group = 64, asym>>
  %3 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int8, group = 64, asym>>
  // CHECK: #qmm.format<int8, group = 128>>
  %4 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int8, group = 128, sym>>
  // CHECK: #qmm.format<int8, group = 128, asym>>
  %5 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int8, group = 128, asym>>
  return
}

// Integer defaults (group 32, sym) and option order.
// CHECK-LABEL: func.func @format_int_defaults
func.func @format_int_defaults(%w: tensor<64x256xf32>) {
  // CHECK: #qmm.format<int4, group = 32>>
  %0 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int4>>
  // CHECK: #qmm.format<int8, group = 32, asym>>
  %1 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int8, asym>>
  // CHECK: #qmm.format<int3, group = 128, asym>>
  %2 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int3, asym, group = 128>>
  // The last of repeated options wins.
  // CHECK: #qmm.format<int2, group = 64>>
  %3 = qmm.quantize %w : tensor<64x256xf32> -> !qmm.packed<64x256, #qmm.format<int2, asym, group = 128, sym, group = 64>>
  return
}

// The attribute outside a type.
// CHECK-LABEL: func.func @format_attr
// CHECK-SAME: qmm.weight_format = #qmm.format<int4, group = 128, asym>
func.func @format_attr() attributes {qmm.weight_format = #qmm.format<int4, group = 128, asym>} {
  return
}

//===----------------------------------------------------------------------===//
// !qmm.packed
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @packed_tile
// CHECK-SAME: !qmm.packed<64x172, #qmm.format<q8_0>>,
// CHECK-SAME: !qmm.packed<64x172, #qmm.format<q8_0>>,
// CHECK-SAME: !qmm.packed<64x172, #qmm.format<q4_0>, tile = 2>,
// CHECK-SAME: !qmm.packed<4096x4096, #qmm.format<q4_0>, tile = 8>,
// CHECK-SAME: !qmm.packed<128x100, #qmm.format<int4, group = 32, asym>, tile = 64>,
// CHECK-SAME: !qmm.packed<1x1, #qmm.format<mxfp4>>)
func.func @packed_tile(%a: !qmm.packed<64x172, #qmm.format<q8_0>>,
                       %b: !qmm.packed<64x172, #qmm.format<q8_0>, tile = 1>,
                       %c: !qmm.packed<64x172, #qmm.format<q4_0>, tile = 2>,
                       %d: !qmm.packed<4096x4096, #qmm.format<q4_0>, tile = 8>,
                       %e: !qmm.packed<128x100, #qmm.format<int4, asym>, tile = 64>,
                       %f: !qmm.packed<1x1, #qmm.format<mxfp4>>) {
  return
}
