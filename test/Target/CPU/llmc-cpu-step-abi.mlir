// RUN: llmc-opt %s --llmc-cpu-step-abi -allow-unregistered-dialect | FileCheck %s

// Tensor arguments become memrefs read through to_tensor (the cache one
// writable); the cache result is written back into the cache argument, the
// logits into a new trailing out-parameter; the function returns nothing and
// gets a C interface.
// CHECK-LABEL: func.func @decode
// CHECK-SAME: (%[[IDS:[a-z0-9_]+]]: memref<1xi32>, %[[C:[a-z0-9_]+]]: memref<2x1x4x64x8xf32>, %[[POS:[a-z0-9_]+]]: index, %[[W:[a-z0-9_]+]]: memref<?xi8> {llmc.weights}, %[[OUT:[a-z0-9_]+]]: memref<1x16xf32>)
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[IDS]] restrict : memref<1xi32>
// CHECK: %[[CT:.*]] = bufferization.to_tensor %[[C]] restrict writable : memref<2x1x4x64x8xf32>
// CHECK: %[[R:.*]]:2 = "test.step"(%[[T]], %[[CT]], %[[POS]], %[[W]])
// CHECK: bufferization.materialize_in_destination %[[R]]#0 in restrict writable %[[OUT]]
// CHECK: bufferization.materialize_in_destination %[[R]]#1 in restrict writable %[[C]]
// CHECK: return{{$}}
func.func @decode(%ids: tensor<1xi32>, %cache: tensor<2x1x4x64x8xf32>, %pos: index,
                  %w: memref<?xi8> {llmc.weights})
    -> (tensor<1x16xf32>, tensor<2x1x4x64x8xf32> {llmc.cache_result}) {
  %l, %c = "test.step"(%ids, %cache, %pos, %w) : (tensor<1xi32>, tensor<2x1x4x64x8xf32>, index, memref<?xi8>) -> (tensor<1x16xf32>, tensor<2x1x4x64x8xf32>)
  return %l, %c : tensor<1x16xf32>, tensor<2x1x4x64x8xf32>
}

// Private helpers keep their signature.
// CHECK-LABEL: func.func private @helper(%{{.*}}: tensor<4xf32>) -> tensor<4xf32>
func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
