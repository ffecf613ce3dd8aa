// The sample decoder survives MLIR bytecode (properties of every op are
// serialized), and the textual form after the trip equals the one before.
// RUN: llmc-opt %llmc_src_root/docs/examples/tiny-llama.mlir > %t.before.mlir
// RUN: llmc-opt %llmc_src_root/docs/examples/tiny-llama.mlir --emit-bytecode -o %t.mlirbc
// RUN: llmc-opt %t.mlirbc > %t.after.mlir
// RUN: diff %t.before.mlir %t.after.mlir
// RUN: FileCheck %s --input-file=%t.after.mlir
// CHECK: llm.attention {{.*}} {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32}
