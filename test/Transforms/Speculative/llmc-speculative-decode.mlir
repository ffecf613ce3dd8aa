// llmc-speculative-decode on a generated 3-layer model: the speculative
// step's structure for each drafter, its lowering, and the errors.
// RUN: rm -rf %t && mkdir -p %t
// RUN: llmc gen-model --shape dim=64,layers=3,heads=4,kv_heads=2,ffn=128,vocab=300,context=64 --format F32 -o %t/m.gguf
// RUN: llmc-translate --import-gguf %t/m.gguf -o %t/m.mlir
// RUN: llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=ngram k=4 ngram=2' | FileCheck %s --check-prefix=NGRAM
// RUN: llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=skip skip-layers=1 k=2' | FileCheck %s --check-prefix=SKIP
// RUN: llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=exit exit-layer=1 k=1' | FileCheck %s --check-prefix=EXIT
// RUN: llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=skip skip-layers=1 k=2' --llmc-verify-model -o /dev/null
// RUN: llmc-opt %t/m.mlir --llmc-speculative-decode --llmc-cpu-pipeline | FileCheck %s --check-prefix=LOWER
// RUN: not llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=medusa' 2>&1 | FileCheck %s --check-prefix=DRAFTER
// RUN: not llmc-opt %t/m.mlir --llmc-speculative-decode='k=16' 2>&1 | FileCheck %s --check-prefix=K
// RUN: not llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=skip skip-layers=3' 2>&1 | FileCheck %s --check-prefix=LAYER
// RUN: not llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=skip skip-layers=0,1,2' 2>&1 | FileCheck %s --check-prefix=ALL
// RUN: not llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=skip' 2>&1 | FileCheck %s --check-prefix=NOSKIP
// RUN: not llmc-opt %t/m.mlir --llmc-speculative-decode='drafter=exit exit-layer=3' 2>&1 | FileCheck %s --check-prefix=EXITRANGE
// RUN: not llmc-opt %t/m.mlir --llmc-speculative-decode --llmc-speculative-decode 2>&1 | FileCheck %s --check-prefix=TWICE
// RUN: llmc-opt %t/m.mlir --llmc-kv-quantize='residual=16' --llmc-speculative-decode='drafter=skip skip-layers=1 k=2' | FileCheck %s --check-prefix=KIVI
// RUN: llmc-opt %t/m.mlir --llmc-kv-evict='policy=window sinks=4 recent=28' --llmc-speculative-decode --llmc-verify-model --llmc-cpu-pipeline | FileCheck %s --check-prefix=EVICT
// RUN: llmc-opt %t/m.mlir --llmc-kv-evict='policy=h2o heavy=32 recent=16' --llmc-kv-quantize='residual=16 group=8' --llmc-speculative-decode='drafter=exit exit-layer=1 k=3' --llmc-verify-model --llmc-cpu-pipeline | FileCheck %s --check-prefix=KIVIEVICT
// RUN: llmc-opt %t/m.mlir --llmc-kv-quantize='residual=16' --llmc-speculative-decode --llmc-cpu-pipeline | FileCheck %s --check-prefix=KIVILOWER
// RUN: not llmc-opt %s --llmc-speculative-decode 2>&1 | FileCheck %s --check-prefix=PAGED
// RUN: not llmc-opt %llmc_src_root/docs/examples/tiny-llama.mlir --llmc-speculative-decode 2>&1 | FileCheck %s --check-prefix=LASTONLY

// The step takes the whole history (pos + 1 tokens, the last not run yet),
// the draft length limit and the sampling settings, drafts by prompt lookup
// (at most limit tokens), verifies the last token and the draft in one
// batched pass over all three layers at %pos, accepts against the logits
// (greedy or by rejection sampling, at run time) and rolls back the
// rejected positions: (drafted + 1) - accepted.
// The original steps are kept, and @spec_step follows them.
// NGRAM: func.func @prefill(
// NGRAM: func.func @decode(
// NGRAM-LABEL: func.func @spec_step(
// NGRAM-SAME: %[[HIST:.*]]: tensor<?xi32>, %[[CACHE:.*]]: !kv.cache<3x2x64x16, f32>, %[[POS:.*]]: index, %[[LIMIT:.*]]: index, %[[TEMP:.*]]: f64, %[[TOPK:.*]]: i64, %[[TOPP:.*]]: f64, %[[SEED:.*]]: i64)
// NGRAM-SAME: -> (tensor<5xi32>, tensor<2xi32>, !kv.cache<3x2x64x16, f32>)
// NGRAM-SAME: llm.speculative
// NGRAM: %[[LAST:.*]] = tensor.extract_slice %[[HIST]][%[[POS]]] [1] [1]
// NGRAM: %[[LEN:.*]] = arith.addi %[[POS]], %c1
// NGRAM: %[[DRAFT:.*]], %[[FOUND:.*]] = llm.ngram_draft %[[HIST]], %[[LEN]] {max = 4 : i64, ngram = 2 : i64} : tensor<?xi32> -> tensor<4xi32>
// NGRAM: %[[M:.*]] = arith.minui %[[FOUND]], %[[LIMIT]]
// NGRAM: %[[N:.*]] = arith.minui %[[M]], %c{{[0-9]+}}
// NGRAM: %[[ROWS:.*]] = arith.addi %[[N]], %c1
// NGRAM: tensor.empty(%[[ROWS]]) : tensor<?xi32>
// NGRAM: tensor.insert_slice %[[LAST]] into
// NGRAM: tensor.extract_slice %[[DRAFT]][0] [%[[N]]] [1]
// NGRAM: llm.embedding {{.*}} -> tensor<?x64xf32>
// NGRAM: llm.attention {{.*}}, %[[CACHE]][0] at %[[POS]]
// NGRAM: llm.attention {{.*}}[1] at %[[POS]]
// NGRAM: llm.attention {{.*}}[2] at %[[POS]]
// NGRAM: %[[TOKENS:.*]], %[[ACC:.*]] = llm.spec_accept %[[DRAFT]], %[[N]], %{{.*}} sampling(%[[TEMP]], %[[TOPK]], %[[TOPP]], %[[SEED]]) : tensor<4xi32>, tensor<?x300xf32> -> tensor<5xi32>
// NGRAM: %[[REJ:.*]] = arith.subi %[[ROWS]], %[[ACC]]
// NGRAM: %[[ROLLED:.*]] = kv.rollback %{{.*}} by %[[REJ]]
// NGRAM: %[[COUNTS:.*]] = tensor.from_elements %{{.*}}, %{{.*}} : tensor<2xi32>
// NGRAM: return %[[TOKENS]], %[[COUNTS]], %[[ROLLED]]

// Self-speculation without layer 1: two one-token draft passes over layers
// 0 and 2 (at pos, then pos + 1), each ending in an argmax and each run
// only when its index is below the limit (else the token and the cache pass
// through); the draft model is not left in the module. Then the
// verification over 0, 1, 2 of min(k, limit) draft tokens.
// SKIP-LABEL: func.func @spec_step(
// SKIP: %[[RUN0:.*]] = arith.cmpi ult, %c0, %arg3 : index
// SKIP: %[[D0:.*]]:2 = scf.if %[[RUN0]] -> (tensor<1xi32>, !kv.cache<3x2x64x16, f32>) {
// SKIP: llm.attention {{.*}}[0] at %arg2 {{.*}} -> tensor<1x64xf32>
// SKIP-NOT: llm.attention {{.*}}[1] at
// SKIP: llm.attention {{.*}}[2] at %arg2 {{.*}} -> tensor<1x64xf32>
// SKIP: %[[TOK0:.*]] = llm.argmax %{{.*}} : tensor<1x300xf32> -> tensor<1xi32>
// SKIP: scf.yield %[[TOK0]], %{{.*}} : tensor<1xi32>, !kv.cache<3x2x64x16, f32>
// SKIP: } else {
// SKIP: scf.yield %{{.*}}, %arg1 : tensor<1xi32>, !kv.cache<3x2x64x16, f32>
// SKIP: scf.if
// SKIP: %[[NEXT:.*]] = arith.addi %arg2, %c1
// SKIP: llm.attention {{.*}}[0] at %[[NEXT]]
// SKIP-NOT: llm.attention {{.*}}[1] at
// SKIP: llm.attention {{.*}}[2] at %[[NEXT]]
// SKIP: llm.argmax
// SKIP: %[[DRAFT:.*]] = tensor.from_elements %{{.*}}, %{{.*}} : tensor<2xi32>
// SKIP: %[[N:.*]] = arith.minui %c2, %arg3 : index
// SKIP: llm.attention {{.*}}[0] at %arg2 {{.*}} -> tensor<?x64xf32>
// SKIP: llm.attention {{.*}}[1] at %arg2
// SKIP: llm.attention {{.*}}[2] at %arg2
// SKIP: llm.spec_accept %[[DRAFT]], %[[N]]
// SKIP-NOT: spec_draft_model

// Early exit after layer 0: the draft attends layer 0 only.
// EXIT-LABEL: func.func @spec_step(
// EXIT: llm.attention {{.*}}[0] at %arg2 {{.*}} -> tensor<1x64xf32>
// EXIT-NOT: llm.attention {{.*}}[1] at %arg2 {{.*}} -> tensor<1x64xf32>
// EXIT: llm.argmax %{{.*}} : tensor<1x300xf32> -> tensor<1xi32>
// EXIT: llm.attention {{.*}}[0] at %arg2 {{.*}} -> tensor<?x64xf32>
// EXIT: llm.attention {{.*}}[1] at %arg2 {{.*}} -> tensor<?x64xf32>
// EXIT: llm.attention {{.*}}[2] at %arg2 {{.*}} -> tensor<?x64xf32>

// Lowered for the CPU: the drafting and the acceptance are calls of the
// runtime helpers; rolling back an f32 cache costs nothing.
// LOWER-LABEL: llvm.func @spec_step(
// LOWER: llvm.call @llmc_ngram_draft(
// LOWER: llvm.call @llmc_spec_accept(
// LOWER-LABEL: llvm.func @_mlir_ciface_spec_step(

// KIVI and evicting caches keep state beyond their positions: every step
// function's cache gets an undo log of the verification's k + 1 rows
// (rollback<3> for k = 2), which the rollback restores the state from.
// KIVI: func.func @prefill(%{{.*}}: tensor<?xi32>, %{{.*}}: !kv.cache<3x2x64x16, #kv.kivi<bits = 4, group = 32, residual = 16>, rollback<3>>, %{{.*}}: index)
// KIVI-SAME: -> (tensor<?x300xf32>, !kv.cache<3x2x64x16, #kv.kivi<bits = 4, group = 32, residual = 16>, rollback<3>>)
// KIVI: func.func @decode(%{{.*}}: tensor<1xi32>, %{{.*}}: !kv.cache<3x2x64x16, #kv.kivi<bits = 4, group = 32, residual = 16>, rollback<3>>
// KIVI-LABEL: func.func @spec_step(
// KIVI-SAME: !kv.cache<3x2x64x16, #kv.kivi<bits = 4, group = 32, residual = 16>, rollback<3>>
// KIVI: llm.attention {{.*}}[0] at %arg2 {{.*}} -> tensor<1x64xf32>
// KIVI: llm.attention {{.*}}[1] at %arg2 {{.*}} -> tensor<?x64xf32>
// KIVI: kv.rollback %{{.*}} by %{{.*}} : !kv.cache<3x2x64x16, #kv.kivi<bits = 4, group = 32, residual = 16>, rollback<3>>

// Lowered, the rollback of a KIVI, evicting or KIVI-evicting cache is a call
// of its layout's helper on the cache buffer.
// KIVILOWER-LABEL: llvm.func @spec_step(
// KIVILOWER: llvm.call @llmc_attention_kivi(
// KIVILOWER: llvm.call @llmc_kv_rollback_kivi(
// EVICT-LABEL: llvm.func @spec_step(
// EVICT: llvm.call @llmc_attention_evict(
// EVICT: llvm.call @llmc_kv_rollback_evict(
// KIVIEVICT-LABEL: llvm.func @spec_step(
// KIVIEVICT: llvm.call @llmc_attention_kivi_evict(
// KIVIEVICT: llvm.call @llmc_kv_rollback_kivi_evict(

// DRAFTER: error: llmc-speculative-decode: unknown drafter 'medusa' (expected ngram, skip, exit or model)
// K: error: llmc-speculative-decode: k must be in [1, 15], got 16
// LAYER: error: llmc-speculative-decode: skipped layer 3 is not one of the 3 layers
// ALL: error: llmc-speculative-decode: the draft would skip every layer
// NOSKIP: error: llmc-speculative-decode: the skip drafter needs skip-layers
// EXITRANGE: error: llmc-speculative-decode: exit-layer must be in [1, 2], got 3
// TWICE: error: llmc-speculative-decode: the module already has @spec_step
// PAGED: error: llmc-speculative-decode: the cache !kv.cache<1x2x64x4, f32, paged<8>> cannot be rolled back exactly (supported: contiguous f32/f16/bf16, KIVI, and f32 or KIVI under an eviction policy; not paged or #qmm.format caches)
// LASTONLY: error: llmc-speculative-decode: verification needs the logits of every row, but @prefill returns only the last row's (llm.lm_head last_only)

// A paged cache has no exact rollback (nor a CPU lowering) yet.
module {
  func.func @prefill(%ids: tensor<?xi32>, %c: !kv.cache<1x2x64x4, f32, paged<8>>, %pos: index)
      -> (tensor<?x8xf32>, !kv.cache<1x2x64x4, f32, paged<8>>) {
    %c0 = arith.constant 0 : index
    %n = tensor.dim %ids, %c0 : tensor<?xi32>
    %logits = tensor.empty(%n) : tensor<?x8xf32>
    return %logits, %c : tensor<?x8xf32>, !kv.cache<1x2x64x4, f32, paged<8>>
  }
  func.func @decode(%ids: tensor<1xi32>, %c: !kv.cache<1x2x64x4, f32, paged<8>>, %pos: index)
      -> (tensor<1x8xf32>, !kv.cache<1x2x64x4, f32, paged<8>>) {
    %logits = tensor.empty() : tensor<1x8xf32>
    return %logits, %c : tensor<1x8xf32>, !kv.cache<1x2x64x4, f32, paged<8>>
  }
}
