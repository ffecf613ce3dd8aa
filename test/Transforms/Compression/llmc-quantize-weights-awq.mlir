// AWQ-style scaling in llmc-quantize-weights (activation-stats=FILE).
// RUN: rm -rf %t && mkdir -p %t && cd %t && %PYTHON %S/Inputs/mlp_weights.py w.bin && %PYTHON %S/Inputs/awq_stats.py stats.json
// RUN: cd %t && llmc-opt %s --llmc-quantize-weights='format=q4_0 activation-stats=stats.json output=awq.bin' | FileCheck %s
// RUN: cd %t && llmc-opt %s --llmc-quantize-weights='format=q4_0 output=plain.bin' > /dev/null
// RUN: cd %t && %PYTHON %S/Inputs/check_awq.py w.bin awq.bin plain.bin stats.json | FileCheck %s --check-prefix=CHECKBIN
// A group whose targets stay float is not scaled: nothing but the weights
// that change moves.
// RUN: cd %t && llmc-opt %s --llmc-quantize-weights='format=f32 activation-stats=stats.json output=f32.bin' | FileCheck %s --check-prefix=FLOAT
// RUN: cd %t && not llmc-opt %s --llmc-quantize-weights='activation-stats=missing.json output=x.bin' 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: cd %t && echo '{"rows": 3}' > bad.json && not llmc-opt %s --llmc-quantize-weights='activation-stats=bad.json output=x.bin' 2>&1 | FileCheck %s --check-prefix=BAD

// The norm gain, divided by the input scales, moves to the output file as
// f32 (in module order); the projections are packed.
// CHECK-DAG: llm.weight @norm "blk.0.ffn_norm.weight" : tensor<64xf32> from "{{.*}}awq.bin" at 5248
// CHECK-DAG: llm.weight @w1 "blk.0.ffn_gate.weight" : !qmm.packed<40x64, #qmm.format<q4_0>> from "{{.*}}awq.bin" at 0
// CHECK-DAG: llm.weight @w2 "blk.0.ffn_down.weight" : !qmm.packed<64x40, #qmm.format<q4_0>> from "{{.*}}awq.bin" at 2944
// CHECK-DAG: llm.weight @table "table" : !qmm.packed<16x64, #qmm.format<q4_0>> from "{{.*}}awq.bin" at 5504
// CHECK-LABEL: func.func @mlp
// CHECK: llm.rms_norm {{.*}} : tensor<?x64xf32>, tensor<64xf32>
// CHECKBIN: awq ok
// FLOAT: llm.weight @norm "blk.0.ffn_norm.weight" : tensor<64xf32> from "w.bin" at 30720
// MISSING: error: llmc-quantize-weights: cannot read 'missing.json'
// BAD: error: llmc-quantize-weights: 'bad.json' is not activation statistics

module {
  llm.weight @w1 "blk.0.ffn_gate.weight" : tensor<40x64xf32> from "w.bin" at 0
  llm.weight @w3 "blk.0.ffn_up.weight" : tensor<40x64xf32> from "w.bin" at 10240
  llm.weight @w2 "blk.0.ffn_down.weight" : tensor<64x40xf32> from "w.bin" at 20480
  llm.weight @norm "blk.0.ffn_norm.weight" : tensor<64xf32> from "w.bin" at 30720
  llm.weight @table "table" : tensor<16x64xf16> from "w.bin" at 30976

  func.func @mlp(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
    %g = llm.get_weight @norm : tensor<64xf32>
    %n = llm.rms_norm %x, %g {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    %w1 = llm.get_weight @w1 : tensor<40x64xf32>
    %w3 = llm.get_weight @w3 : tensor<40x64xf32>
    %w2 = llm.get_weight @w2 : tensor<64x40xf32>
    %a = llm.linear %n, %w1 : tensor<?x64xf32>, tensor<40x64xf32> -> tensor<?x40xf32>
    %b = llm.linear %n, %w3 : tensor<?x64xf32>, tensor<40x64xf32> -> tensor<?x40xf32>
    %h = llm.swiglu %a, %b : tensor<?x40xf32>
    %y = llm.linear %h, %w2 : tensor<?x40xf32>, tensor<64x40xf32> -> tensor<?x64xf32>
    return %y : tensor<?x64xf32>
  }
}
