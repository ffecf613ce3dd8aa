// llm.rope to one linalg.generic: each element reads its pair partner and
// the pair's inverse frequency. Adjacent pairs (2i, 2i + 1) by default;
// half_split pairs (i, i + rotary_dims / 2).
// RUN: llmc-opt %s --llmc-convert-llm-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @rope_adjacent
// The rotary part of a head is dims 0..5 (rotary_dims 6, head_dim 8).
// CHECK: %[[FREQ:.*]] = arith.constant dense<[1.000000e+00, 0.0464158878, 0.0021544348]> : tensor<3xf32>
// CHECK: linalg.generic
// CHECK: %[[C:.*]] = linalg.index 1 : index
// CHECK: %[[D:.*]] = arith.remui %[[C]], %c8
// CHECK: %[[ROT:.*]] = arith.cmpi ult, %[[D]], %c6
// CHECK: %[[DR:.*]] = arith.minui %[[D]], %c5
// Pair i = d / 2; the second of a pair is the odd one, its partner at c - 1.
// CHECK: %[[PAIR:.*]] = arith.divui %[[DR]], %c2
// CHECK: %[[ODD:.*]] = arith.remui %[[DR]], %c2
// CHECK: %[[SECOND:.*]] = arith.cmpi ne, %[[ODD]]
// CHECK: %[[BACK:.*]] = arith.subi %[[C]], %c1
// CHECK: %[[FWD:.*]] = arith.addi %[[C]], %c1
// CHECK: %[[P:.*]] = arith.select %[[SECOND]], %[[BACK]], %[[FWD]]
// CHECK: %[[PCOL:.*]] = arith.select %[[ROT]], %[[P]], %[[C]]
// CHECK: tensor.extract %arg0[%{{.*}}, %[[PCOL]]]
// CHECK: tensor.extract %[[FREQ]][%[[PAIR]]]
// CHECK: %[[PLUS:.*]] = arith.addf
// CHECK: %[[MINUS:.*]] = arith.subf
// CHECK: %[[Y:.*]] = arith.select %[[SECOND]], %[[PLUS]], %[[MINUS]]
// CHECK: arith.select %[[ROT]], %[[Y]], %in
func.func @rope_adjacent(%x: tensor<?x16xf32>, %pos: index) -> tensor<?x16xf32> {
  %r = llm.rope %x at %pos {head_dim = 8 : i64, rotary_dims = 6 : i64, theta = 1.0e+04 : f32} : tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @rope_half_split
// CHECK: %[[FREQ:.*]] = arith.constant dense<[1.000000e+00, 0.0464158878, 0.0021544348]> : tensor<3xf32>
// CHECK: linalg.generic
// CHECK: %[[C:.*]] = linalg.index 1 : index
// CHECK: %[[D:.*]] = arith.remui %[[C]], %c8
// CHECK: %[[ROT:.*]] = arith.cmpi ult, %[[D]], %c6
// CHECK: %[[DR:.*]] = arith.minui %[[D]], %c5
// Pair i = d mod 3; the second of a pair is in the upper half (d >= 3), its
// partner at c - 3; the first's partner is at c + 3.
// CHECK: %[[PAIR:.*]] = arith.remui %[[DR]], %c3
// CHECK: %[[SECOND:.*]] = arith.cmpi uge, %[[DR]], %c3
// CHECK: %[[BACK:.*]] = arith.subi %[[C]], %c3
// CHECK: %[[FWD:.*]] = arith.addi %[[C]], %c3
// CHECK: %[[P:.*]] = arith.select %[[SECOND]], %[[BACK]], %[[FWD]]
// CHECK: %[[PCOL:.*]] = arith.select %[[ROT]], %[[P]], %[[C]]
// CHECK: tensor.extract %arg0[%{{.*}}, %[[PCOL]]]
// CHECK: tensor.extract %[[FREQ]][%[[PAIR]]]
// CHECK: %[[PLUS:.*]] = arith.addf
// CHECK: %[[MINUS:.*]] = arith.subf
// CHECK: %[[Y:.*]] = arith.select %[[SECOND]], %[[PLUS]], %[[MINUS]]
// CHECK: arith.select %[[ROT]], %[[Y]], %in
func.func @rope_half_split(%x: tensor<?x16xf32>, %pos: index) -> tensor<?x16xf32> {
  %r = llm.rope %x at %pos {half_split, head_dim = 8 : i64, rotary_dims = 6 : i64, theta = 1.0e+04 : f32} : tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}
