// RUN: rm -rf %t && mkdir -p %t && cd %t && %PYTHON %S/Inputs/mlp_weights.py w.bin
// RUN: cd %t && llmc-opt %s --llmc-quantize-weights='output=q8.bin' | FileCheck %s --check-prefix=Q8
// RUN: cd %t && wc -c < q8.bin | FileCheck %s --check-prefix=Q8SIZE
// RUN: cd %t && llmc-opt %s --llmc-quantize-weights='format=q4_0 output=q4.bin' | FileCheck %s --check-prefix=Q4
// RUN: cd %t && llmc-opt %s --llmc-quantize-weights='format=int4-g64-asym overrides=*ffn_down*=f16,table=q4_k output=mix.bin' | FileCheck %s --check-prefix=MIX
// RUN: cd %t && llmc-opt %s --llmc-quantize-weights='format=f32 reorder-outliers=true output=perm.bin' | FileCheck %s --check-prefix=PERM
// RUN: cd %t && %PYTHON %S/Inputs/check_weights.py w.bin q8.bin q4.bin perm.bin | FileCheck %s --check-prefix=CHECKBIN
// RUN: cd %t && not llmc-opt %s --llmc-quantize-weights='format=q5_0 output=x.bin' 2>&1 | FileCheck %s --check-prefix=BADFMT
// RUN: cd %t && not llmc-opt %s --llmc-quantize-weights='format=int4-g48 output=x.bin' 2>&1 | FileCheck %s --check-prefix=BADGROUP
// RUN: cd %t && not llmc-opt %s --llmc-quantize-weights='format=q8_0' 2>&1 | FileCheck %s --check-prefix=NOOUT
// RUN: cd %t && not llmc-opt %s --llmc-quantize-weights='overrides=output.weight output=x.bin' 2>&1 | FileCheck %s --check-prefix=BADRULE
// RUN: cd %t && not llmc-opt %s --llmc-quantize-weights='output=w.bin' 2>&1 | FileCheck %s --check-prefix=SELF

// Q8_0 everywhere (the default): 40 rows x 2 blocks x 34 bytes = 2720 for
// gate and up; down has a ragged K = 40, two blocks per row (the second
// zero padded): 64 x 2 x 34 = 4352; the f16 table 16 x 2 x 34 = 1088.
// Tensors start 64-byte aligned: 0, 2752, 5504, 9856; 9856 + 1088 = 10944.
// Q8-DAG: llm.weight @w1 "blk.0.ffn_gate.weight" : !qmm.packed<40x64, #qmm.format<q8_0>> from "{{.*}}q8.bin" at 0
// Q8-DAG: llm.weight @w3 "blk.0.ffn_up.weight" : !qmm.packed<40x64, #qmm.format<q8_0>> from "{{.*}}q8.bin" at 2752
// Q8-DAG: llm.weight @w2 "blk.0.ffn_down.weight" : !qmm.packed<64x40, #qmm.format<q8_0>> from "{{.*}}q8.bin" at 5504
// Q8-DAG: llm.weight @norm "blk.0.ffn_norm.weight" : tensor<64xf32> from "w.bin" at 30720
// Q8-DAG: llm.weight @table "table" : !qmm.packed<16x64, #qmm.format<q8_0>> from "{{.*}}q8.bin" at 9856
// Q8-LABEL: func.func @mlp
// Q8: llm.get_weight @w1 : !qmm.packed<40x64, #qmm.format<q8_0>>
// Q8: llm.get_weight @w3 : !qmm.packed<40x64, #qmm.format<q8_0>>
// Q8: llm.get_weight @w2 : !qmm.packed<64x40, #qmm.format<q8_0>>
// Q8SIZE: 10944
// Q4_0: 18 bytes a block: 1440 (gate, up), 2304 (down), 576 (table).
// Q4-DAG: llm.weight @w3 "blk.0.ffn_up.weight" : !qmm.packed<40x64, #qmm.format<q4_0>> from "{{.*}}q4.bin" at 1472
// Q4-DAG: llm.weight @w2 "blk.0.ffn_down.weight" : !qmm.packed<64x40, #qmm.format<q4_0>> from "{{.*}}q4.bin" at 2944
// Q4-DAG: llm.weight @table "table" : !qmm.packed<16x64, #qmm.format<q4_0>> from "{{.*}}q4.bin" at 5248

// MIX-DAG: llm.weight @w1 "blk.0.ffn_gate.weight" : !qmm.packed<40x64, #qmm.format<int4, group = 64, asym>> from "{{.*}}mix.bin" at 0
// MIX-DAG: llm.weight @w2 "blk.0.ffn_down.weight" : tensor<64x40xf16> from "{{.*}}mix.bin"
// MIX-DAG: llm.weight @table "table" : !qmm.packed<16x64, #qmm.format<q4_k>> from "{{.*}}mix.bin"

// format=f32: the permuted MLP stays f32 and moves to the new file, the f16
// table is widened; 1-D weights (the norm) stay where they are.
// PERM-DAG: llm.weight @w1 "blk.0.ffn_gate.weight" : tensor<40x64xf32> from "{{.*}}perm.bin" at 0
// PERM-DAG: llm.weight @w3 "blk.0.ffn_up.weight" : tensor<40x64xf32> from "{{.*}}perm.bin" at 10240
// PERM-DAG: llm.weight @w2 "blk.0.ffn_down.weight" : tensor<64x40xf32> from "{{.*}}perm.bin" at 20480
// PERM-DAG: llm.weight @norm "blk.0.ffn_norm.weight" : tensor<64xf32> from "w.bin" at 30720
// PERM-DAG: llm.weight @table "table" : tensor<16x64xf32> from "{{.*}}perm.bin" at 30720
// CHECKBIN: weights ok

// BADFMT: error: llmc-quantize-weights: unknown format 'q5_0' (expected q8_0, q4_0, q4_k, q6_k, int2, int3, int4, int8, fp8_e4m3, fp8_e5m2 or mxfp4)
// BADGROUP: error: llmc-quantize-weights: format 'int4-g48': integer formats take a group of 32, 64 or 128 elements, got 48
// NOOUT: error: llmc-quantize-weights needs output=FILE (where the quantized weights are written)
// BADRULE: error: llmc-quantize-weights: override 'output.weight' is not GLOB=FORMAT
// SELF: error: 'llm.weight' op reads 'w.bin', the file llmc-quantize-weights would overwrite

module {
  llm.weight @w1 "blk.0.ffn_gate.weight" : tensor<40x64xf32> from "w.bin" at 0
  llm.weight @w3 "blk.0.ffn_up.weight" : tensor<40x64xf32> from "w.bin" at 10240
  llm.weight @w2 "blk.0.ffn_down.weight" : tensor<64x40xf32> from "w.bin" at 20480
  llm.weight @norm "blk.0.ffn_norm.weight" : tensor<64xf32> from "w.bin" at 30720
  llm.weight @table "table" : tensor<16x64xf16> from "w.bin" at 30976

  func.func @mlp(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
    %w1 = llm.get_weight @w1 : tensor<40x64xf32>
    %w3 = llm.get_weight @w3 : tensor<40x64xf32>
    %w2 = llm.get_weight @w2 : tensor<64x40xf32>
    %g = llm.linear %x, %w1 : tensor<?x64xf32>, tensor<40x64xf32> -> tensor<?x40xf32>
    %u = llm.linear %x, %w3 : tensor<?x64xf32>, tensor<40x64xf32> -> tensor<?x40xf32>
    %h = llm.swiglu %g, %u : tensor<?x40xf32>
    %y = llm.linear %h, %w2 : tensor<?x40xf32>, tensor<64x40xf32> -> tensor<?x64xf32>
    return %y : tensor<?x64xf32>
  }
}
