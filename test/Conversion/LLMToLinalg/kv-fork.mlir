// kv.fork of a contiguous float cache lowers to a fresh cache holding a
// copy of the first `prefix` positions of every layer, key and value; the
// whole CPU pipeline then takes it to LLVM. A paged cache is forked by the
// runtime (CompiledModel::fork shares its blocks), not in compiled code.
// RUN: llmc-opt %s --llmc-convert-llm-to-linalg -split-input-file -verify-diagnostics | FileCheck %s
// RUN: llmc-opt %s --llmc-cpu-pipeline -split-input-file -verify-diagnostics | FileCheck %s --check-prefix=LLVM

// CHECK-LABEL: func.func @fork(
// CHECK-SAME: %[[C:.*]]: tensor<2x2x2x64x16xf32>, %[[N:.*]]: index
// CHECK: %[[PREFIX:.*]] = tensor.extract_slice %[[C]][0, 0, 0, 0, 0] [2, 2, 2, %[[N]], 16] [1, 1, 1, 1, 1] : tensor<2x2x2x64x16xf32> to tensor<2x2x2x?x16xf32>
// CHECK: %[[FRESH:.*]] = tensor.empty() : tensor<2x2x2x64x16xf32>
// CHECK: tensor.insert_slice %[[PREFIX]] into %[[FRESH]][0, 0, 0, 0, 0] [2, 2, 2, %[[N]], 16] [1, 1, 1, 1, 1]
// LLVM: llvm.func @_mlir_ciface_fork(
func.func @fork(%c: !kv.cache<2x2x64x16, f32>, %n: index) -> !kv.cache<2x2x64x16, f32> {
  %f = kv.fork %c prefix %n : !kv.cache<2x2x64x16, f32>
  return %f : !kv.cache<2x2x64x16, f32>
}

// -----

func.func @paged(%c: !kv.cache<2x2x64x16, f32, paged<16>>, %n: index) -> !kv.cache<2x2x64x16, f32, paged<16>> {
  // expected-error@+2 {{failed to legalize operation 'kv.fork'}}
  // expected-error@+1 {{'kv.fork' op of a paged cache is not compiled: the runtime forks sequences of a paged cache, sharing their blocks (CompiledModel::fork)}}
  %f = kv.fork %c prefix %n : !kv.cache<2x2x64x16, f32, paged<16>>
  return %f : !kv.cache<2x2x64x16, f32, paged<16>>
}
