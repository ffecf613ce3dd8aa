
// Weights become views into one memref<?xi8> argument holding the weight
// files back to back; the layout is recorded for the runtime.
// RUN: %PYTHON -c "open('%t.bin', 'wb').truncate(100000)"
// RUN: sed 's|WEIGHTS|%t.bin|' %s | llmc-opt --llmc-convert-llm-to-linalg -split-input-file -verify-diagnostics | FileCheck %s
// CHECK: module attributes {llmc.weight_files = [{base = 0 : i64, file = "{{.*}}.bin", size = 100000 : i64}]}
// CHECK-NOT: llm.weight
// CHECK-LABEL: func.func @step
// CHECK-SAME: (%{{.*}}: tensor<1x64xf32>, %[[W:.*]]: memref<?xi8> {llmc.weights})
// CHECK: %[[OFF:.*]] = arith.constant 4096 : index
// CHECK: %[[V:.*]] = memref.view %[[W]][%[[OFF]]][] : memref<?xi8> to memref<172x64xf32>
// CHECK: bufferization.to_tensor %[[V]] restrict : memref<172x64xf32> to tensor<172x64xf32>
// CHECK: %[[P:.*]] = memref.view %[[W]][%{{.*}}][] : memref<?xi8> to memref<13056xi8>
llm.weight @w "blk.0.ffn_gate.weight" : tensor<172x64xf32> from "WEIGHTS" at 4096
llm.weight @p "blk.0.ffn_down.weight" : !qmm.packed<64x172, #qmm.format<q8_0>> from "WEIGHTS" at 65536
func.func @step(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %w = llm.get_weight @w : tensor<172x64xf32>
  %p = llm.get_weight @p : !qmm.packed<64x172, #qmm.format<q8_0>>
  %h = llm.linear %x, %w : tensor<1x64xf32>, tensor<172x64xf32> -> tensor<1x172xf32>
  %y = llm.linear %h, %p : tensor<1x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// expected-error@+1 {{'llm.weight' op cannot read weight file '/no/such/model.gguf'}}
llm.weight @w "w" : tensor<4x4xf32> from "/no/such/model.gguf" at 0
func.func @f() -> tensor<4x4xf32> {
  %w = llm.get_weight @w : tensor<4x4xf32>
  return %w : tensor<4x4xf32>
}

// -----

// expected-error@+1 {{'llm.weight' op (13056 bytes at offset 99000) lies outside}}
llm.weight @p "w" : !qmm.packed<64x172, #qmm.format<q8_0>> from "WEIGHTS" at 99000
func.func @g() -> !qmm.packed<64x172, #qmm.format<q8_0>> {
  %w = llm.get_weight @p : !qmm.packed<64x172, #qmm.format<q8_0>>
  return %w : !qmm.packed<64x172, #qmm.format<q8_0>>
}
