// llmc-speculative-decode with a token tree (tree-width > 1): the ngram
// drafter proposes a trie of continuations and the verification's rope
// and attention take its parents, so each node is at its depth and
// attends its own path; acceptance walks the tree and kv.compact moves the
// accepted path into place before the rollback.
// RUN: rm -rf %t && mkdir -p %t
// RUN: llmc gen-model --shape dim=64,layers=2,heads=4,kv_heads=2,ffn=128,vocab=300,context=64 --format F32 -o %t/m.gguf
// RUN: llmc-translate --import-gguf %t/m.gguf -o %t/m.mlir
// RUN: llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=ngram k=6 tree-width=3' --llmc-verify-model | FileCheck %s
// RUN: llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=ngram k=6 tree-width=3' --llmc-cpu-pipeline | FileCheck %s --check-prefix=LOWER
// RUN: not llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=skip skip-layers=1 tree-width=2' 2>&1 | FileCheck %s --check-prefix=SKIP
// RUN: not llmc-opt %t/m.mlir --llmc-speculative-decode='tree-width=0' 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not llmc-opt %t/m.mlir --llmc-kv-quantize='residual=16' --llmc-speculative-decode='tree-width=2' 2>&1 | FileCheck %s --check-prefix=KIVI

// CHECK-LABEL: func.func @spec_step(
// CHECK-SAME: %[[HIST:[^:]*]]: tensor<?xi32>, %[[CACHE:[^:]*]]: !kv.cache<2x2x64x16, f32>, %[[POS:[^:]*]]: index, %[[LIMIT:[^:]*]]: index
// CHECK: %[[DRAFT:.*]], %[[PARENTS:.*]], %[[FOUND:.*]] = llm.ngram_tree_draft %[[HIST]], %{{.*}} {max = 6 : i64, ngram = 3 : i64, width = 3 : i64} : tensor<?xi32> -> tensor<6xi32>
// CHECK: %[[M:.*]] = arith.minui %[[FOUND]], %[[LIMIT]]
// CHECK: %[[N:.*]] = arith.minui %[[M]], %c6
// CHECK: %[[ROWS:.*]] = arith.addi %[[N]], %c1
// The rows' parents: -1 for the last token, then the nodes' parent rows.
// CHECK: %[[ROOT:.*]] = arith.constant dense<-1> : tensor<1xi32>
// CHECK: %[[P0:.*]] = tensor.insert_slice %[[ROOT]] into %{{.*}}[0] [1] [1]
// CHECK: %[[NODEPARENTS:.*]] = tensor.extract_slice %[[PARENTS]][0] [%[[N]]] [1]
// CHECK: %[[TREE:.*]] = tensor.insert_slice %[[NODEPARENTS]] into %[[P0]][1] [%[[N]]] [1]
// CHECK: llm.rope %{{.*}} at %[[POS]] tree(%[[TREE]] : tensor<?xi32>)
// CHECK: llm.rope %{{.*}} at %[[POS]] tree(%[[TREE]] : tensor<?xi32>)
// CHECK: llm.attention {{.*}}, %[[CACHE]][0] at %[[POS]] tree(%[[TREE]] : tensor<?xi32>)
// CHECK: llm.attention {{.*}}[1] at %[[POS]] tree(%[[TREE]] : tensor<?xi32>)
// CHECK: %[[TOKENS:.*]], %[[PATH:.*]], %[[ACC:.*]] = llm.spec_accept_tree %[[DRAFT]], %[[PARENTS]], %[[N]], %{{.*}} sampling(
// CHECK: %[[COMPACT:.*]] = kv.compact %{{.*}} at %[[POS]] rows %[[PATH]] count %[[ACC]] : tensor<7xi32>, !kv.cache<2x2x64x16, f32>
// CHECK: %[[REJ:.*]] = arith.subi %[[ROWS]], %[[ACC]]
// CHECK: kv.rollback %[[COMPACT]] by %[[REJ]]

// Lowered: the tree kernels.
// LOWER-LABEL: llvm.func @spec_step(
// LOWER: llvm.call @llmc_ngram_tree_draft(
// LOWER: llvm.call @llmc_rope_tree(
// LOWER: llvm.call @llmc_attention_tree_f32(
// LOWER: llvm.call @llmc_spec_accept_tree(
// LOWER: llvm.call @llmc_kv_compact_f32(

// SKIP: error: llmc-speculative-decode: token trees (tree-width > 1) are drafted by the ngram drafter only
// WIDTH: error: llmc-speculative-decode: tree-width must be >= 1, got 0
// KIVI: error: llmc-speculative-decode: a token tree's verification needs a contiguous f32 cache, not !kv.cache<2x2x64x16, #kv.kivi
