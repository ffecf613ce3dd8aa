// RUN: llmc-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// #qmm.format parser
//===----------------------------------------------------------------------===//

// expected-error@+1 {{unknown quantization format 'q5_0'; expected q8_0, q4_0, q4_k, q6_k, int2, int3, int4, int8, fp8_e4m3, fp8_e5m2 or mxfp4}}
func.func private @unknown_format(!qmm.packed<64x64, #qmm.format<q5_0>>)

// -----

// `int` needs a bit width.
// expected-error@+1 {{unknown quantization format 'int'}}
func.func private @int_without_bits(!qmm.packed<64x64, #qmm.format<int>>)

// -----

// expected-error@+1 {{unknown quantization format 'intx'}}
func.func private @int_bad_bits(!qmm.packed<64x64, #qmm.format<intx>>)

// -----

// expected-error@+1 {{unknown format option 'tile'; expected group = N, sym or asym}}
func.func private @unknown_option(!qmm.packed<64x64, #qmm.format<int4, tile = 2>>)

// -----

//===----------------------------------------------------------------------===//
// #qmm.format verifier (FormatInfo::validate)
//===----------------------------------------------------------------------===//

// expected-error@+1 {{integer formats take 2, 3, 4 or 8 bits, got 5}}
func.func private @int5(!qmm.packed<64x64, #qmm.format<int5>>)

// -----

// expected-error@+1 {{integer formats take 2, 3, 4 or 8 bits, got 16}}
func.func private @int16(!qmm.packed<64x64, #qmm.format<int16, group = 64>>)

// -----

// expected-error@+1 {{integer formats take a group of 32, 64 or 128 elements, got 16}}
func.func private @int_group16(!qmm.packed<64x64, #qmm.format<int4, group = 16>>)

// -----

// expected-error@+1 {{integer formats take a group of 32, 64 or 128 elements, got 256}}
func.func private @int_group256(!qmm.packed<64x64, #qmm.format<int8, group = 256, asym>>)

// -----

// expected-error@+1 {{format q8_0 has a fixed block of 32 elements, got group = 64}}
func.func private @q8_0_group(!qmm.packed<64x64, #qmm.format<q8_0, group = 64>>)

// -----

// expected-error@+1 {{format q4_k has a fixed block of 256 elements, got group = 32}}
func.func private @q4_k_group(!qmm.packed<64x64, #qmm.format<q4_k, group = 32>>)

// -----

// expected-error@+1 {{format fp8_e5m2 is element-wise and takes no group, got group = 32}}
func.func private @fp8_group(!qmm.packed<64x64, #qmm.format<fp8_e5m2, group = 32>>)

// -----

// expected-error@+1 {{format q8_0 has fixed bits and symmetry; only intN formats take sym/asym}}
func.func private @q8_0_asym(!qmm.packed<64x64, #qmm.format<q8_0, asym>>)

// -----

// q4_k is asymmetric by construction.
// expected-error@+1 {{format q4_k has fixed bits and symmetry; only intN formats take sym/asym}}
func.func private @q4_k_sym(!qmm.packed<64x64, #qmm.format<q4_k, sym>>)

// -----

// expected-error@+1 {{format mxfp4 has fixed bits and symmetry; only intN formats take sym/asym}}
func.func private @mxfp4_asym(!qmm.packed<64x64, #qmm.format<mxfp4, asym>>)

// -----

// The format is checked wherever it appears, not only inside a type.
// expected-error@+1 {{integer formats take 2, 3, 4 or 8 bits, got 1}}
func.func private @format_attr() attributes {fmt = #qmm.format<int1>}

// -----

//===----------------------------------------------------------------------===//
// !qmm.packed verifier
//===----------------------------------------------------------------------===//

// expected-error@+1 {{packed weights are 2-D (rows x cols), got rank 1}}
func.func private @rank1(!qmm.packed<64, #qmm.format<q8_0>>)

// -----

// expected-error@+1 {{packed weights are 2-D (rows x cols), got rank 3}}
func.func private @rank3(!qmm.packed<2x64x64, #qmm.format<q8_0>>)

// -----

// expected-error@+1 {{packed weights need static positive dimensions}}
func.func private @zero_rows(!qmm.packed<0x64, #qmm.format<q8_0>>)

// -----

// expected-error@+1 {{packed weights need static positive dimensions}}
func.func private @zero_cols(!qmm.packed<64x0, #qmm.format<q8_0>>)

// -----

// expected-error@+1 {{tile must be a power of two in [1, 64], got 0}}
func.func private @tile0(!qmm.packed<64x64, #qmm.format<q8_0>, tile = 0>)

// -----

// expected-error@+1 {{tile must be a power of two in [1, 64], got 3}}
func.func private @tile3(!qmm.packed<64x64, #qmm.format<q8_0>, tile = 3>)

// -----

// expected-error@+1 {{tile must be a power of two in [1, 64], got 128}}
func.func private @tile128(!qmm.packed<256x64, #qmm.format<q8_0>, tile = 128>)

// -----

// expected-error@+1 {{tile 16 does not divide the 24 rows}}
func.func private @tile_rows(!qmm.packed<24x64, #qmm.format<q4_0>, tile = 16>)

// -----

//===----------------------------------------------------------------------===//
// qmm.quantize / qmm.dequantize
//===----------------------------------------------------------------------===//

func.func @quantize_shape(%w: tensor<64x100xf32>) {
  // expected-error@+1 {{'qmm.quantize' op input shape 64x100 does not match the packed shape 64x172}}
  %0 = qmm.quantize %w : tensor<64x100xf32> -> !qmm.packed<64x172, #qmm.format<q8_0>>
  return
}

// -----

// The packed shape is static, so the input must be too.
func.func @quantize_dynamic(%w: tensor<?x172xf32>) {
  // expected-error@+1 {{'qmm.quantize' op input shape ?x172 does not match the packed shape 64x172}}
  %0 = qmm.quantize %w : tensor<?x172xf32> -> !qmm.packed<64x172, #qmm.format<q8_0>>
  return
}

// -----

func.func @quantize_rank(%w: tensor<64x172x1xf32>) {
  // expected-error@+1 {{'qmm.quantize' op input shape 64x172x1 does not match the packed shape 64x172}}
  %0 = qmm.quantize %w : tensor<64x172x1xf32> -> !qmm.packed<64x172, #qmm.format<q8_0>>
  return
}

// -----

func.func @dequantize_shape(%p: !qmm.packed<64x172, #qmm.format<q8_0>>) {
  // expected-error@+1 {{'qmm.dequantize' op result shape 172x64 does not match the packed shape 64x172}}
  %0 = qmm.dequantize %p : !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<172x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// qmm.matmul
//===----------------------------------------------------------------------===//

func.func @matmul_rank(%x: tensor<172xf32>, %w: !qmm.packed<64x172, #qmm.format<q8_0>>) {
  // expected-error@+1 {{'qmm.matmul' op expects 2-D activations and result, got ranks 1 and 2}}
  %0 = qmm.matmul %x, %w : tensor<172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<1x64xf32>
  return
}

// -----

func.func @matmul_result_rank(%x: tensor<?x172xf32>, %w: !qmm.packed<64x172, #qmm.format<q8_0>>) {
  // expected-error@+1 {{'qmm.matmul' op expects 2-D activations and result, got ranks 2 and 3}}
  %0 = qmm.matmul %x, %w : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<1x?x64xf32>
  return
}

// -----

func.func @matmul_k(%x: tensor<?x160xf32>, %w: !qmm.packed<64x172, #qmm.format<q8_0>>) {
  // expected-error@+1 {{'qmm.matmul' op reduction dimension of the activations (160) does not match K of the packed weights (172)}}
  %0 = qmm.matmul %x, %w : tensor<?x160xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<?x64xf32>
  return
}

// -----

func.func @matmul_n(%x: tensor<?x172xf32>, %w: !qmm.packed<64x172, #qmm.format<q8_0>>) {
  // expected-error@+1 {{'qmm.matmul' op result has 32 columns but the packed weights have 64 rows}}
  %0 = qmm.matmul %x, %w : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<?x32xf32>
  return
}

// -----

func.func @matmul_m(%x: tensor<4x172xf32>, %w: !qmm.packed<64x172, #qmm.format<q8_0>>) {
  // expected-error@+1 {{'qmm.matmul' op result has 5 rows but the activations have 4}}
  %0 = qmm.matmul %x, %w : tensor<4x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<5x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// qmm.repack
//===----------------------------------------------------------------------===//

func.func @repack_format(%p: !qmm.packed<64x172, #qmm.format<q4_0>>) {
  // expected-error@+1 {{'qmm.repack' op changes only the layout, but the format changes from #qmm.format<q4_0> to #qmm.format<int4, group = 32>}}
  %0 = qmm.repack %p : !qmm.packed<64x172, #qmm.format<q4_0>> -> !qmm.packed<64x172, #qmm.format<int4>, tile = 8>
  return
}

// -----

// Group and symmetry are part of the format.
func.func @repack_symmetry(%p: !qmm.packed<64x172, #qmm.format<int4, group = 64>>) {
  // expected-error@+1 {{'qmm.repack' op changes only the layout, but the format changes from #qmm.format<int4, group = 64> to #qmm.format<int4, group = 64, asym>}}
  %0 = qmm.repack %p : !qmm.packed<64x172, #qmm.format<int4, group = 64>> -> !qmm.packed<64x172, #qmm.format<int4, group = 64, asym>>
  return
}

// -----

func.func @repack_shape(%p: !qmm.packed<64x172, #qmm.format<q4_0>>) {
  // expected-error@+1 {{'qmm.repack' op changes only the layout, but the shape changes}}
  %0 = qmm.repack %p : !qmm.packed<64x172, #qmm.format<q4_0>> -> !qmm.packed<64x160, #qmm.format<q4_0>, tile = 8>
  return
}
