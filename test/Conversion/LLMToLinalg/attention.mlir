// RUN: llmc-opt %s --llmc-convert-llm-to-linalg | FileCheck %s

// GQA attention over a tensor cache: keys and values are inserted at the
// position, the first pos + T entries of the layer are read, KV head h / 2
// serves query head h, softmax over positions, result collapsed to T x 64.
// KV head of query head h is h floordiv 2.
// CHECK-DAG: affine_map<(d0, d1, d2, d3) -> (d0 floordiv 2, d2, d3)>
// CHECK-DAG: affine_map<(d0, d1, d2, d3) -> (d1 floordiv 2, d3, d2)>
// CHECK-LABEL: func.func @attend
// CHECK-SAME: %[[C:[a-z0-9_]+]]: tensor<2x5x4x512x8xf32>, %[[POS:[a-z0-9_]+]]: index) -> (tensor<?x64xf32>, tensor<2x5x4x512x8xf32> {llmc.cache_result})
// CHECK: %[[K:.*]] = tensor.insert_slice %{{.*}} into %[[C]][0, 3, 0, %[[POS]], 0] [1, 1, 4, %{{.*}}, 8] [1, 1, 1, 1, 1]
// CHECK: %[[KV:.*]] = tensor.insert_slice %{{.*}} into %[[K]][1, 3, 0, %[[POS]], 0]
// CHECK: %[[S:.*]] = arith.addi %[[POS]]
// CHECK: tensor.extract_slice %[[KV]][0, 3, 0, 0, 0] [1, 1, 4, %[[S]], 8]
// CHECK: tensor.extract_slice %[[KV]][1, 3, 0, 0, 0] [1, 1, 4, %[[S]], 8]
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// Causal mask: positions after pos + t get -inf.
// CHECK: arith.cmpi ugt
// CHECK: arith.constant 0xFF800000 : f32
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: tensor.collapse_shape {{.*}} {{\[}}[0], [1, 2]] : tensor<?x8x8xf32> into tensor<?x64xf32>
// CHECK: return {{.*}} : tensor<?x64xf32>, tensor<2x5x4x512x8xf32>
func.func @attend(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>,
                  %c: !kv.cache<5x4x512x8, f32>, %pos: index)
    -> (tensor<?x64xf32>, !kv.cache<5x4x512x8, f32>) {
  %o, %c1 = llm.attention %q, %k, %v, %c[3] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32}
      : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<5x4x512x8, f32> -> tensor<?x64xf32>
  return %o, %c1 : tensor<?x64xf32>, !kv.cache<5x4x512x8, f32>
}

// A sliding window masks positions at or before pos + t - window.
// CHECK-LABEL: func.func @window
// CHECK: arith.constant 16 : index
// CHECK: arith.cmpi ule
func.func @window(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %c: !kv.cache<1x4x64x8, f32>, %pos: index)
    -> tensor<1x64xf32> {
  %o, %c1 = llm.attention %q, %k, %k, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32, window = 16 : i64}
      : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<1x4x64x8, f32> -> tensor<1x64xf32>
  return %o : tensor<1x64xf32>
}
