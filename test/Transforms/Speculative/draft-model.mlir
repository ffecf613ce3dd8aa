// llmc-speculative-decode with a separate draft model (drafter=model): a
// 3-layer target and a 2-layer draft with different heads, merged as
// `llmc compile --draft-model` merges them (@draft_prefill, @draft_decode,
// weights prefixed "draft.").
// RUN: rm -rf %t && mkdir -p %t
// RUN: llmc gen-model --shape dim=64,layers=3,heads=4,kv_heads=2,ffn=128,vocab=300,context=64 --format F32 -o %t/target.gguf
// RUN: llmc gen-model --shape dim=32,layers=2,heads=2,kv_heads=1,ffn=64,vocab=300,context=64 --format F32 --seed 3 -o %t/draft.gguf
// RUN: llmc gen-model --shape dim=32,layers=2,heads=2,kv_heads=1,ffn=64,vocab=400,context=64 --format F32 -o %t/vocab400.gguf
// RUN: llmc-translate --import-gguf %t/target.gguf -o %t/target.mlir
// RUN: llmc-translate --import-gguf %t/draft.gguf -o %t/draft.mlir
// RUN: llmc-translate --import-gguf %t/vocab400.gguf -o %t/vocab400.mlir
// RUN: %PYTHON %S/Inputs/merge_draft.py %t/target.mlir %t/draft.mlir > %t/merged.mlir
// RUN: %PYTHON %S/Inputs/merge_draft.py %t/target.mlir %t/vocab400.mlir > %t/vocab400-merged.mlir
// RUN: llmc-opt %t/merged.mlir --llmc-speculative-decode='drafter=model k=2' --llmc-verify-model | FileCheck %s
// RUN: llmc-opt %t/merged.mlir --llmc-speculative-decode='drafter=model k=2' --llmc-cpu-pipeline | FileCheck %s --check-prefix=LOWER
// RUN: not llmc-opt %t/target.mlir --llmc-speculative-decode='drafter=model' 2>&1 | FileCheck %s --check-prefix=NODRAFT
// RUN: not llmc-opt %t/vocab400-merged.mlir --llmc-speculative-decode='drafter=model' 2>&1 | FileCheck %s --check-prefix=VOCAB

// The step takes the draft model's cache and the position up to which it
// is valid after the sampling settings, and returns it last. The first
// draft step catches the draft model up on history[draft_pos, pos] with
// its prefill (the last row's argmax is the first draft token); the second
// is a draft decode step at pos + 1; both run only under the draft length
// limit. The verification then runs the target on its own cache, and the
// draft functions are gone.
// CHECK-LABEL: func.func @spec_step(
// CHECK-SAME: %[[HIST:[^:]*]]: tensor<?xi32>, %[[CACHE:[^:]*]]: !kv.cache<3x2x64x16, f32>, %[[POS:[^:]*]]: index, %[[LIMIT:[^:]*]]: index,
// CHECK-SAME: %[[DCACHE:[^:]*]]: !kv.cache<2x1x64x16, f32> {llm.draft_cache}, %[[DPOS:[^:]*]]: index)
// CHECK-SAME: -> (tensor<3xi32>, tensor<2xi32>, !kv.cache<3x2x64x16, f32>, !kv.cache<2x1x64x16, f32>)
// CHECK: %[[RUN0:.*]] = arith.cmpi ult, %c0, %[[LIMIT]]
// CHECK: %[[D0:.*]]:2 = scf.if %[[RUN0]] -> (tensor<1xi32>, !kv.cache<2x1x64x16, f32>) {
// CHECK: %[[UNSEEN:.*]] = tensor.extract_slice %[[HIST]][%[[DPOS]]] [%{{.*}}] [1] : tensor<?xi32> to tensor<?xi32>
// CHECK: llm.get_weight @draft.token_embd
// CHECK: llm.attention {{.*}}, %[[DCACHE]][0] at %[[DPOS]] {{.*}} -> tensor<?x32xf32>
// CHECK: llm.attention {{.*}}[1] at %[[DPOS]]
// CHECK: tensor.extract_slice %{{.*}}[%{{.*}}, 0] [1, 300] [1, 1] : tensor<?x300xf32> to tensor<1x300xf32>
// CHECK: llm.argmax %{{.*}} : tensor<1x300xf32> -> tensor<1xi32>
// CHECK: } else {
// CHECK: scf.yield %{{.*}}, %[[DCACHE]]
// CHECK: scf.if
// CHECK: llm.attention {{.*}}, %[[D0]]#1[0] at %{{.*}} {{.*}} -> tensor<1x32xf32>
// CHECK: llm.attention {{.*}}, %[[CACHE]][0] at %[[POS]] {{.*}} -> tensor<?x64xf32>
// CHECK: llm.attention {{.*}}[2] at %[[POS]]
// CHECK: llm.spec_accept
// CHECK: kv.rollback
// CHECK: return {{.*}} : tensor<3xi32>, tensor<2xi32>, !kv.cache<3x2x64x16, f32>, !kv.cache<2x1x64x16, f32>
// CHECK-NOT: func.func @draft_prefill
// CHECK-NOT: func.func @draft_decode

// Lowered, both caches are arguments written in place (no out-parameter
// for either): the C interface takes 14 arguments: history, cache, pos,
// limit, 4 sampling values, the draft cache and position, the weights,
// the two out-parameters tokens and counts, and the activation arena.
// LOWER-LABEL: llvm.func @_mlir_ciface_spec_step(
// LOWER-SAME: %arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: i64, %arg3: i64, %arg4: f64, %arg5: i64, %arg6: f64, %arg7: i64, %arg8: !llvm.ptr {llm.draft_cache}, %arg9: i64, %arg10: !llvm.ptr {llmc.weights}, %arg11: !llvm.ptr, %arg12: !llvm.ptr, %arg13: !llvm.ptr {llmc.arena})

// NODRAFT: error: llmc-speculative-decode: the model drafter needs the draft model's step functions @draft_prefill and @draft_decode
// VOCAB: error: llmc-speculative-decode: the draft model's vocabulary (400 tokens) is not the target's (300)
