// RUN: llmc-opt %s | llmc-opt | FileCheck %s
// RUN: llmc-opt %s --mlir-print-op-generic | llmc-opt | FileCheck %s

//===----------------------------------------------------------------------===//
// Operations
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @alloc
func.func @alloc() {
  // CHECK: kv.alloc : !kv.cache<5x4x512x8, f32>
  %0 = kv.alloc : !kv.cache<5x4x512x8, f32>
  // Two allocations of one type stay two caches.
  // CHECK: kv.alloc : !kv.cache<5x4x512x8, f32>
  %1 = kv.alloc : !kv.cache<5x4x512x8, f32>
  // CHECK: kv.alloc : !kv.cache<32x8x4096x128, #qmm.format<int4, group = 32, asym>, paged<16>>
  %2 = kv.alloc : !kv.cache<32x8x4096x128, #qmm.format<int4, group = 32, asym>, paged<16>>
  return
}

// CHECK-LABEL: func.func @append
// CHECK-SAME: (%[[C:.*]]: !kv.cache<5x4x512x8, f32>, %[[K:.*]]: tensor<?x4x8xf32>, %[[V:.*]]: tensor<?x4x8xf32>, %[[S:.*]]: tensor<3x4x8xf16>, %[[P:.*]]: index)
func.func @append(%c: !kv.cache<5x4x512x8, f32>, %k: tensor<?x4x8xf32>, %v: tensor<?x4x8xf32>,
                  %s: tensor<3x4x8xf16>, %pos: index) {
  // CHECK: %[[C1:.*]] = kv.append %[[C]][2], %[[K]], %[[V]] at %[[P]] : !kv.cache<5x4x512x8, f32>, tensor<?x4x8xf32>
  %0 = kv.append %c[2], %k, %v at %pos : !kv.cache<5x4x512x8, f32>, tensor<?x4x8xf32>
  // A static chunk, and keys in another float type than the storage.
  // CHECK: kv.append %[[C1]][4], %[[S]], %[[S]] at %[[P]] : !kv.cache<5x4x512x8, f32>, tensor<3x4x8xf16>
  %1 = kv.append %0[4], %s, %s at %pos : !kv.cache<5x4x512x8, f32>, tensor<3x4x8xf16>
  return
}

// CHECK-LABEL: func.func @view
// CHECK-SAME: (%[[C:.*]]: !kv.cache<5x4x512x8, f16>, %[[Q:.*]]: !kv.cache<5x4x512x8, #qmm.format<q8_0>>, %[[N:.*]]: index)
func.func @view(%c: !kv.cache<5x4x512x8, f16>, %q: !kv.cache<5x4x512x8, #qmm.format<q8_0>>, %n: index) {
  // CHECK: %{{.*}}, %{{.*}} = kv.view %[[C]][0] len %[[N]] : !kv.cache<5x4x512x8, f16> -> tensor<4x?x8xf16>
  %k0, %v0 = kv.view %c[0] len %n : !kv.cache<5x4x512x8, f16> -> tensor<4x?x8xf16>
  // CHECK: %[[C16:.*]] = arith.constant 16 : index
  // CHECK: kv.view %[[C]][4] len %[[C16]] : !kv.cache<5x4x512x8, f16> -> tensor<4x16x8xf16>
  %c16 = arith.constant 16 : index
  %k1, %v1 = kv.view %c[4] len %c16 : !kv.cache<5x4x512x8, f16> -> tensor<4x16x8xf16>
  // A quantized cache is viewed dequantized, in any float type.
  // CHECK: kv.view %[[Q]][1] len %[[N]] : !kv.cache<5x4x512x8, #qmm.format<q8_0>> -> tensor<4x?x8xbf16>
  %k2, %v2 = kv.view %q[1] len %n : !kv.cache<5x4x512x8, #qmm.format<q8_0>> -> tensor<4x?x8xbf16>
  return
}

// CHECK-LABEL: func.func @length
// CHECK-SAME: (%[[C:.*]]: !kv.cache
func.func @length(%c: !kv.cache<5x4x512x8, bf16, paged<32>>) -> index {
  // CHECK: %[[N:.*]] = kv.length %[[C]] : !kv.cache<5x4x512x8, bf16, paged<32>>
  // CHECK: return %[[N]]
  %0 = kv.length %c : !kv.cache<5x4x512x8, bf16, paged<32>>
  return %0 : index
}

// CHECK-LABEL: func.func @score_accumulate
// CHECK-SAME: (%[[C:.*]]: !kv.cache<5x4x512x8, f32>, %[[S:.*]]: tensor<4x512xf32>, %[[P:.*]]: tensor<4x?xf32>)
func.func @score_accumulate(%c: !kv.cache<5x4x512x8, f32>, %s: tensor<4x512xf32>, %p: tensor<4x?xf32>) {
  // CHECK: %[[C1:.*]] = kv.score_accumulate %[[C]][1], %[[S]] : !kv.cache<5x4x512x8, f32>, tensor<4x512xf32>
  %0 = kv.score_accumulate %c[1], %s : !kv.cache<5x4x512x8, f32>, tensor<4x512xf32>
  // CHECK: kv.score_accumulate %[[C1]][4], %[[P]] : !kv.cache<5x4x512x8, f32>, tensor<4x?xf32>
  %1 = kv.score_accumulate %0[4], %p : !kv.cache<5x4x512x8, f32>, tensor<4x?xf32>
  return
}

// The op's policy is printed without the #kv.policy prefix, which would
// swallow the `: type` that follows.
// CHECK-LABEL: func.func @evict_explicit
func.func @evict_explicit(%c: !kv.cache<5x4x512x8, f32>) {
  // CHECK: kv.evict %{{.*}} policy <window, sinks = 4, recent = 124> : !kv.cache<5x4x512x8, f32>
  %0 = kv.evict %c policy <window, sinks = 4, recent = 124> : !kv.cache<5x4x512x8, f32>
  // CHECK: kv.evict %{{.*}} policy <h2o, heavy = 64, recent = 64> : !kv.cache<5x4x512x8, f32>
  %1 = kv.evict %0 policy <h2o, recent = 64, heavy = 64> : !kv.cache<5x4x512x8, f32>
  // CHECK: kv.evict %{{.*}} policy <snapkv, heavy = 96, observe = 16, pool = 7> : !kv.cache<5x4x512x8, f32>
  %2 = kv.evict %1 policy <snapkv, heavy = 96, observe = 16, pool = 7> : !kv.cache<5x4x512x8, f32>
  // CHECK: kv.evict %{{.*}} policy <h2o, heavy = 32, recent = 32, layer_budgets = [128, 96, 64, 48, 32]> : !kv.cache<5x4x512x8, f32>
  %3 = kv.evict %2 policy <h2o, heavy = 32, recent = 32, layer_budgets = [128, 96, 64, 48, 32]> : !kv.cache<5x4x512x8, f32>
  return
}

// Without a policy on the op, the cache type's policy applies.
// CHECK-LABEL: func.func @evict_type_policy
func.func @evict_type_policy(%c: !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>) {
  // CHECK: kv.evict %{{.*}} : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  %0 = kv.evict %c : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  // The op's policy overrides the type's.
  // CHECK: kv.evict %{{.*}} policy <window, recent = 16> : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  %1 = kv.evict %0 policy <window, recent = 16> : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  return
}

// CHECK-LABEL: func.func @quantize
func.func @quantize(%c: !kv.cache<5x4x512x8, f16>, %p: !kv.cache<5x4x512x8, f32, paged<16>, #kv.policy<window, recent = 64>>) {
  // CHECK: kv.quantize %{{.*}} : !kv.cache<5x4x512x8, f16> -> !kv.cache<5x4x512x8, #qmm.format<int4, group = 32>>
  %0 = kv.quantize %c : !kv.cache<5x4x512x8, f16> -> !kv.cache<5x4x512x8, #qmm.format<int4, group = 32>>
  // Layout and policy are kept.
  // CHECK: kv.quantize %{{.*}} : !kv.cache<5x4x512x8, f32, paged<16>, #kv.policy<window, recent = 64>> -> !kv.cache<5x4x512x8, #qmm.format<fp8_e4m3>, paged<16>, #kv.policy<window, recent = 64>>
  %1 = kv.quantize %p : !kv.cache<5x4x512x8, f32, paged<16>, #kv.policy<window, recent = 64>> -> !kv.cache<5x4x512x8, #qmm.format<fp8_e4m3>, paged<16>, #kv.policy<window, recent = 64>>
  // KIVI storage (keys per channel, values per token, a residual window).
  // CHECK: kv.quantize %{{.*}} : !kv.cache<5x4x512x8, f16> -> !kv.cache<5x4x512x8, #kv.kivi<bits = 2, group = 32, residual = 64>>
  %2 = kv.quantize %c : !kv.cache<5x4x512x8, f16> -> !kv.cache<5x4x512x8, #kv.kivi<bits = 2, group = 32, residual = 64>>
  return
}

// CHECK-LABEL: func.func @dequantize
func.func @dequantize(%q: !kv.cache<5x4x512x8, #qmm.format<int4, group = 32>>) {
  // CHECK: kv.dequantize %{{.*}} : !kv.cache<5x4x512x8, #qmm.format<int4, group = 32>> -> !kv.cache<5x4x512x8, f16>
  %0 = kv.dequantize %q : !kv.cache<5x4x512x8, #qmm.format<int4, group = 32>> -> !kv.cache<5x4x512x8, f16>
  // CHECK: kv.dequantize %{{.*}} : !kv.cache<5x4x512x8, #qmm.format<int4, group = 32>> -> !kv.cache<5x4x512x8, bf16>
  %1 = kv.dequantize %q : !kv.cache<5x4x512x8, #qmm.format<int4, group = 32>> -> !kv.cache<5x4x512x8, bf16>
  return
}

// CHECK-LABEL: func.func @rollback
// CHECK-SAME: (%[[C:.*]]: !kv.cache<5x4x512x8, f32>, %[[N:.*]]: index)
func.func @rollback(%c: !kv.cache<5x4x512x8, f32>, %n: index) {
  // CHECK: %[[C1:.*]] = kv.rollback %[[C]] by %[[N]] : !kv.cache<5x4x512x8, f32>
  %0 = kv.rollback %c by %n : !kv.cache<5x4x512x8, f32>
  // The whole capacity is a valid constant count.
  // CHECK: %[[CAP:.*]] = arith.constant 512 : index
  // CHECK: kv.rollback %[[C1]] by %[[CAP]] : !kv.cache<5x4x512x8, f32>
  %c512 = arith.constant 512 : index
  %1 = kv.rollback %0 by %c512 : !kv.cache<5x4x512x8, f32>
  return
}

// A KIVI or evicting cache rolls back through the undo log its type keeps.
// CHECK-LABEL: func.func @rollback_with_log
// CHECK-SAME: !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<5>>
// CHECK-SAME: !kv.cache<5x4x128x8, f32, #kv.policy<h2o, heavy = 64, recent = 64>, rollback<16>>
func.func @rollback_with_log(%q: !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<5>>,
                             %e: !kv.cache<5x4x128x8, f32, #kv.policy<h2o, heavy = 64, recent = 64>, rollback<16>>, %n: index) {
  // CHECK: kv.rollback %{{.*}} by %{{.*}} : !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<5>>
  %0 = kv.rollback %q by %n : !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<5>>
  // The whole log is a valid constant count.
  // CHECK: kv.rollback %{{.*}} by %{{.*}} : !kv.cache<5x4x128x8, f32, #kv.policy<h2o, heavy = 64, recent = 64>, rollback<16>>
  %c16 = arith.constant 16 : index
  %1 = kv.rollback %e by %c16 : !kv.cache<5x4x128x8, f32, #kv.policy<h2o, heavy = 64, recent = 64>, rollback<16>>
  return
}

// CHECK-LABEL: func.func @fork
// CHECK-SAME: (%[[C:.*]]: !kv.cache<5x4x512x8, f32, paged<16>>, %[[N:.*]]: index)
func.func @fork(%c: !kv.cache<5x4x512x8, f32, paged<16>>, %n: index) {
  // CHECK: kv.fork %[[C]] prefix %[[N]] : !kv.cache<5x4x512x8, f32, paged<16>>
  %0 = kv.fork %c prefix %n : !kv.cache<5x4x512x8, f32, paged<16>>
  // CHECK: kv.fork %[[C]] prefix %{{.*}} : !kv.cache<5x4x512x8, f32, paged<16>>
  %c0 = arith.constant 0 : index
  %1 = kv.fork %c prefix %c0 : !kv.cache<5x4x512x8, f32, paged<16>>
  return
}

//===----------------------------------------------------------------------===//
// !kv.cache storage and layout
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func private @cache_float(
// CHECK-SAME: !kv.cache<5x4x512x8, f32>,
// CHECK-SAME: !kv.cache<5x4x512x8, f16>,
// CHECK-SAME: !kv.cache<5x4x512x8, bf16>)
func.func private @cache_float(!kv.cache<5x4x512x8, f32>, !kv.cache<5x4x512x8, f16>, !kv.cache<5x4x512x8, bf16>)

// Every format a cache may be stored in.
// CHECK-LABEL: func.func private @cache_quantized(
// CHECK-SAME: !kv.cache<5x4x512x8, #qmm.format<q8_0>>,
// CHECK-SAME: !kv.cache<5x4x512x8, #qmm.format<q4_0>>,
// CHECK-SAME: !kv.cache<5x4x512x8, #qmm.format<int2, group = 32>>,
// CHECK-SAME: !kv.cache<5x4x512x8, #qmm.format<int3, group = 64, asym>>,
// CHECK-SAME: !kv.cache<5x4x512x8, #qmm.format<int4, group = 128>>,
// CHECK-SAME: !kv.cache<5x4x512x8, #qmm.format<int8, group = 32, asym>>,
// CHECK-SAME: !kv.cache<5x4x512x8, #qmm.format<fp8_e4m3>>,
// CHECK-SAME: !kv.cache<5x4x512x8, #qmm.format<fp8_e5m2>>,
// CHECK-SAME: !kv.cache<5x4x512x8, #qmm.format<mxfp4>>)
func.func private @cache_quantized(
    !kv.cache<5x4x512x8, #qmm.format<q8_0>>,
    !kv.cache<5x4x512x8, #qmm.format<q4_0>>,
    !kv.cache<5x4x512x8, #qmm.format<int2>>,
    !kv.cache<5x4x512x8, #qmm.format<int3, group = 64, asym>>,
    !kv.cache<5x4x512x8, #qmm.format<int4, group = 128, sym>>,
    !kv.cache<5x4x512x8, #qmm.format<int8, asym>>,
    !kv.cache<5x4x512x8, #qmm.format<fp8_e4m3>>,
    !kv.cache<5x4x512x8, #qmm.format<fp8_e5m2>>,
    !kv.cache<5x4x512x8, #qmm.format<mxfp4>>)

// `contiguous` is the default and is not printed; any block dividing the
// capacity (the capacity itself included) may page it.
// CHECK-LABEL: func.func private @cache_layout(
// CHECK-SAME: !kv.cache<5x4x512x8, f32>,
// CHECK-SAME: !kv.cache<5x4x512x8, f16, paged<16>>,
// CHECK-SAME: !kv.cache<5x4x512x8, #qmm.format<q8_0>, paged<1>>,
// CHECK-SAME: !kv.cache<1x1x1x1, bf16, paged<1>>,
// CHECK-SAME: !kv.cache<5x4x96x8, f32, paged<96>>)
func.func private @cache_layout(
    !kv.cache<5x4x512x8, f32, contiguous>,
    !kv.cache<5x4x512x8, f16, paged<16>>,
    !kv.cache<5x4x512x8, #qmm.format<q8_0>, paged<1>>,
    !kv.cache<1x1x1x1, bf16, paged<1>>,
    !kv.cache<5x4x96x8, f32, paged<96>>)

// Layout and policy in either order; both are printed layout first.
// CHECK-LABEL: func.func private @cache_layout_and_policy(
// CHECK-SAME: !kv.cache<32x8x4096x128, #qmm.format<int4, group = 32, asym>, paged<16>, #kv.policy<window, sinks = 4, recent = 1020>>,
// CHECK-SAME: !kv.cache<32x8x4096x128, f16, paged<16>, #kv.policy<window, sinks = 4, recent = 1020>>)
func.func private @cache_layout_and_policy(
    !kv.cache<32x8x4096x128, #qmm.format<int4, group = 32, asym>, paged<16>, #kv.policy<window, sinks = 4, recent = 1020>>,
    !kv.cache<32x8x4096x128, f16, #kv.policy<window, sinks = 4, recent = 1020>, paged<16>>)

//===----------------------------------------------------------------------===//
// #kv.policy
//===----------------------------------------------------------------------===//

// Every policy kind, with parameters in any order and defaults elided
// (sinks 0, pool 1, no layer budgets).
// CHECK-LABEL: func.func private @policy_kinds(
// CHECK-SAME: !kv.cache<5x4x512x8, f32, #kv.policy<window, sinks = 4, recent = 124>>,
// CHECK-SAME: !kv.cache<5x4x512x8, f32, #kv.policy<window, recent = 128>>,
// CHECK-SAME: !kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 64, recent = 64>>,
// CHECK-SAME: !kv.cache<5x4x512x8, f32, #kv.policy<h2o, sinks = 4, heavy = 60, recent = 64>>,
// CHECK-SAME: !kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 128>>,
// CHECK-SAME: !kv.cache<5x4x512x8, f32, #kv.policy<snapkv, heavy = 96, observe = 16, pool = 7>>,
// CHECK-SAME: !kv.cache<5x4x512x8, f32, #kv.policy<snapkv, sinks = 2, heavy = 96, observe = 16>>)
func.func private @policy_kinds(
    !kv.cache<5x4x512x8, f32, #kv.policy<window, sinks = 4, recent = 124>>,
    !kv.cache<5x4x512x8, f32, #kv.policy<window, sinks = 0, recent = 128, pool = 1>>,
    !kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 64, recent = 64>>,
    !kv.cache<5x4x512x8, f32, #kv.policy<h2o, recent = 64, heavy = 60, sinks = 4>>,
    !kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 128>>,
    !kv.cache<5x4x512x8, f32, #kv.policy<snapkv, pool = 7, observe = 16, heavy = 96>>,
    !kv.cache<5x4x512x8, f32, #kv.policy<snapkv, heavy = 96, observe = 16, sinks = 2, pool = 1>>)

// Per-layer budgets: one per layer; an empty list is no list.
// CHECK-LABEL: func.func private @policy_layer_budgets(
// CHECK-SAME: !kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 32, recent = 32, layer_budgets = [128, 96, 64, 48, 32]>>,
// CHECK-SAME: !kv.cache<2x4x512x8, f16, #kv.policy<window, sinks = 4, recent = 60, layer_budgets = [512, 1]>>,
// CHECK-SAME: !kv.cache<3x4x512x8, f16, paged<16>, #kv.policy<snapkv, heavy = 96, observe = 16, pool = 5, layer_budgets = [256, 128, 64]>>,
// CHECK-SAME: !kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 32, recent = 32>>)
func.func private @policy_layer_budgets(
    !kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 32, recent = 32, layer_budgets = [128, 96, 64, 48, 32]>>,
    !kv.cache<2x4x512x8, f16, #kv.policy<window, layer_budgets = [512, 1], sinks = 4, recent = 60>>,
    !kv.cache<3x4x512x8, f16, paged<16>, #kv.policy<snapkv, heavy = 96, observe = 16, pool = 5, layer_budgets = [256, 128, 64]>>,
    !kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 32, recent = 32, layer_budgets = []>>)

// The attribute outside a type.
// CHECK-LABEL: func.func @policy_attr
// CHECK-SAME: kv.default_policy = #kv.policy<snapkv, heavy = 96, observe = 16, pool = 7>
func.func @policy_attr() attributes {kv.default_policy = #kv.policy<snapkv, heavy = 96, observe = 16, pool = 7>} {
  return
}

// CHECK-LABEL: func.func @compact
func.func @compact(%c: !kv.cache<5x4x512x8, f32>, %pos: index, %rows: tensor<5xi32>, %n: index) -> !kv.cache<5x4x512x8, f32> {
  // CHECK: kv.compact %{{.*}} at %{{.*}} rows %{{.*}} count %{{.*}} : tensor<5xi32>, !kv.cache<5x4x512x8, f32>
  %r = kv.compact %c at %pos rows %rows count %n : tensor<5xi32>, !kv.cache<5x4x512x8, f32>
  return %r : !kv.cache<5x4x512x8, f32>
}
