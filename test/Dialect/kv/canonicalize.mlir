// RUN: llmc-opt %s -canonicalize -split-input-file | FileCheck %s

//===----------------------------------------------------------------------===//
// kv.length
//===----------------------------------------------------------------------===//

// A fresh cache is empty, and the alloc is then dead.
// CHECK-LABEL: func.func @length_of_alloc
// CHECK-NOT: kv.alloc
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK-NOT: kv.alloc
// CHECK-NOT: kv.length
// CHECK: return %[[ZERO]]
func.func @length_of_alloc() -> index {
  %c = kv.alloc : !kv.cache<5x4x512x8, f32, paged<16>>
  %n = kv.length %c : !kv.cache<5x4x512x8, f32, paged<16>>
  return %n : index
}

// -----

// CHECK-LABEL: func.func @length_of_argument
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-NEXT: %[[N:.*]] = kv.length %[[C]]
// CHECK-NEXT: return %[[N]]
func.func @length_of_argument(%c: !kv.cache<5x4x512x8, f32>) -> index {
  %n = kv.length %c : !kv.cache<5x4x512x8, f32>
  return %n : index
}

// -----

// After an append the length is unknown.
// CHECK-LABEL: func.func @length_after_append
// CHECK: %[[C1:.*]] = kv.append
// CHECK-NEXT: %[[N:.*]] = kv.length %[[C1]]
// CHECK-NEXT: return %[[N]]
func.func @length_after_append(%k: tensor<?x4x8xf32>, %pos: index) -> index {
  %c0 = kv.alloc : !kv.cache<5x4x512x8, f32>
  %c1 = kv.append %c0[0], %k, %k at %pos : !kv.cache<5x4x512x8, f32>, tensor<?x4x8xf32>
  %n = kv.length %c1 : !kv.cache<5x4x512x8, f32>
  return %n : index
}

// -----

//===----------------------------------------------------------------------===//
// kv.evict
//===----------------------------------------------------------------------===//

// Evicting twice with the same policy is evicting once.
// CHECK-LABEL: func.func @evict_twice
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-NEXT: %[[E:.*]] = kv.evict %[[C]] policy <window, sinks = 4, recent = 124>
// CHECK-NEXT: return %[[E]]
func.func @evict_twice(%c: !kv.cache<5x4x512x8, f32>) -> !kv.cache<5x4x512x8, f32> {
  %0 = kv.evict %c policy <window, sinks = 4, recent = 124> : !kv.cache<5x4x512x8, f32>
  %1 = kv.evict %0 policy <window, sinks = 4, recent = 124> : !kv.cache<5x4x512x8, f32>
  return %1 : !kv.cache<5x4x512x8, f32>
}

// -----

// The same with the policy taken from the cache type.
// CHECK-LABEL: func.func @evict_twice_type_policy
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-NEXT: %[[E:.*]] = kv.evict %[[C]] :
// CHECK-NEXT: return %[[E]]
func.func @evict_twice_type_policy(%c: !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>) -> !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>> {
  %0 = kv.evict %c : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  %1 = kv.evict %0 : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  %2 = kv.evict %1 : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  return %2 : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
}

// -----

// An explicit policy equal to the type's is the same policy.
// CHECK-LABEL: func.func @evict_twice_effective_policy
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-NEXT: %[[E:.*]] = kv.evict %[[C]] policy <h2o, heavy = 64, recent = 64>
// CHECK-NEXT: return %[[E]]
func.func @evict_twice_effective_policy(%c: !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>) -> !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>> {
  %0 = kv.evict %c policy <h2o, heavy = 64, recent = 64> : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  %1 = kv.evict %0 : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  return %1 : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
}

// -----

// A different policy keeps other positions: both evictions stay.
// CHECK-LABEL: func.func @evict_different_policy
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-NEXT: %[[E0:.*]] = kv.evict %[[C]] policy <window, sinks = 4, recent = 124>
// CHECK-NEXT: %[[E1:.*]] = kv.evict %[[E0]] policy <window, sinks = 4, recent = 60>
// CHECK-NEXT: return %[[E1]]
func.func @evict_different_policy(%c: !kv.cache<5x4x512x8, f32>) -> !kv.cache<5x4x512x8, f32> {
  %0 = kv.evict %c policy <window, sinks = 4, recent = 124> : !kv.cache<5x4x512x8, f32>
  %1 = kv.evict %0 policy <window, sinks = 4, recent = 60> : !kv.cache<5x4x512x8, f32>
  return %1 : !kv.cache<5x4x512x8, f32>
}

// -----

// An explicit policy that differs from the type's is not the type's.
// CHECK-LABEL: func.func @evict_override_type_policy
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-NEXT: %[[E0:.*]] = kv.evict %[[C]] :
// CHECK-NEXT: %[[E1:.*]] = kv.evict %[[E0]] policy <window, recent = 32>
// CHECK-NEXT: return %[[E1]]
func.func @evict_override_type_policy(%c: !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>) -> !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>> {
  %0 = kv.evict %c : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  %1 = kv.evict %0 policy <window, recent = 32> : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
  return %1 : !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
}

// -----

// Something in between (an append) makes the second eviction meaningful.
// CHECK-LABEL: func.func @evict_append_evict
// CHECK: kv.evict
// CHECK-NEXT: kv.append
// CHECK-NEXT: kv.evict
func.func @evict_append_evict(%c: !kv.cache<5x4x512x8, f32>, %k: tensor<1x4x8xf32>, %pos: index) -> !kv.cache<5x4x512x8, f32> {
  %0 = kv.evict %c policy <window, sinks = 4, recent = 124> : !kv.cache<5x4x512x8, f32>
  %1 = kv.append %0[0], %k, %k at %pos : !kv.cache<5x4x512x8, f32>, tensor<1x4x8xf32>
  %2 = kv.evict %1 policy <window, sinks = 4, recent = 124> : !kv.cache<5x4x512x8, f32>
  return %2 : !kv.cache<5x4x512x8, f32>
}

// -----

//===----------------------------------------------------------------------===//
// kv.rollback
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @rollback_zero
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-NEXT: return %[[C]]
func.func @rollback_zero(%c: !kv.cache<5x4x512x8, f32>) -> !kv.cache<5x4x512x8, f32> {
  %zero = arith.constant 0 : index
  %0 = kv.rollback %c by %zero : !kv.cache<5x4x512x8, f32>
  return %0 : !kv.cache<5x4x512x8, f32>
}

// -----

// CHECK-LABEL: func.func @rollback_constant
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-NEXT: %[[N:.*]] = arith.constant 3 : index
// CHECK-NEXT: %[[R:.*]] = kv.rollback %[[C]] by %[[N]]
// CHECK-NEXT: return %[[R]]
func.func @rollback_constant(%c: !kv.cache<5x4x512x8, f32>) -> !kv.cache<5x4x512x8, f32> {
  %n = arith.constant 3 : index
  %0 = kv.rollback %c by %n : !kv.cache<5x4x512x8, f32>
  return %0 : !kv.cache<5x4x512x8, f32>
}

// -----

// rollback(rollback(c, a), b) -> rollback(c, a + b)
// CHECK-LABEL: func.func @rollback_chain
// CHECK-SAME: (%[[C:.*]]: !kv.cache<5x4x512x8, f32>, %[[A:.*]]: index, %[[B:.*]]: index)
// CHECK-NEXT: %[[SUM:.*]] = arith.addi %[[A]], %[[B]] : index
// CHECK-NEXT: %[[R:.*]] = kv.rollback %[[C]] by %[[SUM]]
// CHECK-NEXT: return %[[R]]
func.func @rollback_chain(%c: !kv.cache<5x4x512x8, f32>, %a: index, %b: index) -> !kv.cache<5x4x512x8, f32> {
  %0 = kv.rollback %c by %a : !kv.cache<5x4x512x8, f32>
  %1 = kv.rollback %0 by %b : !kv.cache<5x4x512x8, f32>
  return %1 : !kv.cache<5x4x512x8, f32>
}

// -----

// CHECK-LABEL: func.func @rollback_chain_of_three
// CHECK-SAME: (%[[C:.*]]: !kv.cache<5x4x512x8, f32>, %[[A:.*]]: index, %[[B:.*]]: index, %[[D:.*]]: index)
// CHECK-DAG: %[[AB:.*]] = arith.addi %[[A]], %[[B]] : index
// CHECK-DAG: %[[ABD:.*]] = arith.addi %[[AB]], %[[D]] : index
// CHECK: %[[R:.*]] = kv.rollback %[[C]] by %[[ABD]]
// CHECK-NOT: kv.rollback
// CHECK: return %[[R]]
func.func @rollback_chain_of_three(%c: !kv.cache<5x4x512x8, f32>, %a: index, %b: index, %d: index) -> !kv.cache<5x4x512x8, f32> {
  %0 = kv.rollback %c by %a : !kv.cache<5x4x512x8, f32>
  %1 = kv.rollback %0 by %b : !kv.cache<5x4x512x8, f32>
  %2 = kv.rollback %1 by %d : !kv.cache<5x4x512x8, f32>
  return %2 : !kv.cache<5x4x512x8, f32>
}

// -----

// Constant counts add up to a constant.
// CHECK-LABEL: func.func @rollback_chain_constants
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-NEXT: %[[N:.*]] = arith.constant 7 : index
// CHECK-NEXT: %[[R:.*]] = kv.rollback %[[C]] by %[[N]]
// CHECK-NEXT: return %[[R]]
func.func @rollback_chain_constants(%c: !kv.cache<5x4x512x8, f32>) -> !kv.cache<5x4x512x8, f32> {
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %0 = kv.rollback %c by %c3 : !kv.cache<5x4x512x8, f32>
  %1 = kv.rollback %0 by %c4 : !kv.cache<5x4x512x8, f32>
  return %1 : !kv.cache<5x4x512x8, f32>
}

// -----

// Each count is valid but the sum exceeds the capacity: it is capped there
// (the cache ends up empty either way) so the result still verifies.
// CHECK-LABEL: func.func @rollback_chain_past_capacity
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-NEXT: %[[N:.*]] = arith.constant 512 : index
// CHECK-NEXT: %[[R:.*]] = kv.rollback %[[C]] by %[[N]]
// CHECK-NEXT: return %[[R]]
func.func @rollback_chain_past_capacity(%c: !kv.cache<5x4x512x8, f32>) -> !kv.cache<5x4x512x8, f32> {
  %c300 = arith.constant 300 : index
  %0 = kv.rollback %c by %c300 : !kv.cache<5x4x512x8, f32>
  %1 = kv.rollback %0 by %c300 : !kv.cache<5x4x512x8, f32>
  return %1 : !kv.cache<5x4x512x8, f32>
}

// -----

// With an undo log, constant counts are summed while the sum fits the log;
// past it the two rollbacks stay (a count beyond rollback<N> does not verify).
// CHECK-LABEL: func.func @rollback_chain_undo_log
// CHECK-SAME: (%[[C:.*]]: !kv.cache
// CHECK-DAG: %[[C3:.*]] = arith.constant 3 : index
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK: %[[R0:.*]] = kv.rollback %[[C]] by %[[C4]]
// CHECK-NEXT: %[[R1:.*]] = kv.rollback %[[R0]] by %[[C3]]
// CHECK-NEXT: return %[[R1]]
func.func @rollback_chain_undo_log(%c: !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<6>>) -> !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<6>> {
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %0 = kv.rollback %c by %c1 : !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<6>>
  %1 = kv.rollback %0 by %c3 : !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<6>>
  %2 = kv.rollback %1 by %c3 : !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<6>>
  return %2 : !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<6>>
}

// -----

// A zero count in the chain simply disappears.
// CHECK-LABEL: func.func @rollback_chain_with_zero
// CHECK-SAME: (%[[C:.*]]: !kv.cache<5x4x512x8, f32>, %[[A:.*]]: index)
// CHECK-NEXT: %[[R:.*]] = kv.rollback %[[C]] by %[[A]]
// CHECK-NEXT: return %[[R]]
func.func @rollback_chain_with_zero(%c: !kv.cache<5x4x512x8, f32>, %a: index) -> !kv.cache<5x4x512x8, f32> {
  %zero = arith.constant 0 : index
  %0 = kv.rollback %c by %a : !kv.cache<5x4x512x8, f32>
  %1 = kv.rollback %0 by %zero : !kv.cache<5x4x512x8, f32>
  return %1 : !kv.cache<5x4x512x8, f32>
}

// -----

// The inner rollback has another use: merging would keep both rollbacks
// alive, so nothing changes.
// CHECK-LABEL: func.func @rollback_chain_shared
// CHECK-SAME: (%[[C:.*]]: !kv.cache<5x4x512x8, f32>, %[[A:.*]]: index, %[[B:.*]]: index)
// CHECK-NOT: arith.addi
// CHECK: %[[R0:.*]] = kv.rollback %[[C]] by %[[A]]
// CHECK-NEXT: %[[R1:.*]] = kv.rollback %[[R0]] by %[[B]]
// CHECK-NEXT: return %[[R0]], %[[R1]]
func.func @rollback_chain_shared(%c: !kv.cache<5x4x512x8, f32>, %a: index, %b: index) -> (!kv.cache<5x4x512x8, f32>, !kv.cache<5x4x512x8, f32>) {
  %0 = kv.rollback %c by %a : !kv.cache<5x4x512x8, f32>
  %1 = kv.rollback %0 by %b : !kv.cache<5x4x512x8, f32>
  return %0, %1 : !kv.cache<5x4x512x8, f32>, !kv.cache<5x4x512x8, f32>
}

// -----

//===----------------------------------------------------------------------===//
// kv.fork
//===----------------------------------------------------------------------===//

// A fork that shares nothing is a fresh cache of the same type.
// CHECK-LABEL: func.func @fork_prefix_zero
// CHECK-NEXT: %[[A:.*]] = kv.alloc : !kv.cache<5x4x512x8, f32, paged<16>, #kv.policy<window, recent = 64>>
// CHECK-NOT: kv.fork
// CHECK: return %[[A]]
func.func @fork_prefix_zero(%c: !kv.cache<5x4x512x8, f32, paged<16>, #kv.policy<window, recent = 64>>) -> !kv.cache<5x4x512x8, f32, paged<16>, #kv.policy<window, recent = 64>> {
  %zero = arith.constant 0 : index
  %0 = kv.fork %c prefix %zero : !kv.cache<5x4x512x8, f32, paged<16>, #kv.policy<window, recent = 64>>
  return %0 : !kv.cache<5x4x512x8, f32, paged<16>, #kv.policy<window, recent = 64>>
}

// -----

// And its length folds in turn.
// CHECK-LABEL: func.func @fork_prefix_zero_length
// CHECK-NEXT: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK-NOT: kv.fork
// CHECK-NOT: kv.length
// CHECK: return %[[ZERO]]
func.func @fork_prefix_zero_length(%c: !kv.cache<5x4x512x8, f32>) -> index {
  %zero = arith.constant 0 : index
  %0 = kv.fork %c prefix %zero : !kv.cache<5x4x512x8, f32>
  %n = kv.length %0 : !kv.cache<5x4x512x8, f32>
  return %n : index
}

// -----

// CHECK-LABEL: func.func @fork_prefix_nonzero
// CHECK-SAME: (%[[C:.*]]: !kv.cache<5x4x512x8, f32>, %[[N:.*]]: index)
// CHECK-NEXT: %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[F0:.*]] = kv.fork %[[C]] prefix %[[N]]
// CHECK-NEXT: %[[F1:.*]] = kv.fork %[[C]] prefix %[[C1]]
// CHECK-NEXT: return %[[F0]], %[[F1]]
func.func @fork_prefix_nonzero(%c: !kv.cache<5x4x512x8, f32>, %n: index) -> (!kv.cache<5x4x512x8, f32>, !kv.cache<5x4x512x8, f32>) {
  %one = arith.constant 1 : index
  %0 = kv.fork %c prefix %n : !kv.cache<5x4x512x8, f32>
  %1 = kv.fork %c prefix %one : !kv.cache<5x4x512x8, f32>
  return %0, %1 : !kv.cache<5x4x512x8, f32>, !kv.cache<5x4x512x8, f32>
}
