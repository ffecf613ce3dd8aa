// The shape of a speculative-decoding verify step as dataflow: the target
// model appends K draft positions to its cache in one attention call, and
// the rejected ones are dropped with kv.rollback; a second sequence forks
// the prompt's prefix. Verifies as a whole model; canonicalization combines
// consecutive rollbacks and keeps everything else.
// RUN: llmc-opt %s --llmc-verify-model | FileCheck %s --check-prefix=VERIFY
// RUN: llmc-opt %s --llmc-frontend-pipeline | FileCheck %s --check-prefix=PIPELINE

// VERIFY-LABEL: func.func @verify_drafts
// VERIFY: llm.attention {{.*}} -> tensor<4x16xf32>
// PIPELINE-LABEL: func.func @verify_drafts
// PIPELINE: %[[SUM:.*]] = arith.addi %{{.*}}, %{{.*}} : index
// PIPELINE: kv.rollback %{{.*}} by %[[SUM]]
// PIPELINE-NOT: kv.rollback
// PIPELINE-LABEL: func.func @share_prompt
// PIPELINE: kv.fork

module {
  func.func @verify_drafts(%q: tensor<4x16xf32>, %kv: tensor<4x8xf32>, %cache: !kv.cache<1x2x64x4, f32>,
                           %pos: index, %rejected: index, %stale: index)
      -> (tensor<4x?xf32>, !kv.cache<1x2x64x4, f32>) {
    %o, %c1 = llm.attention %q, %kv, %kv, %cache[0] at %pos {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 5.0e-01 : f32}
        : tensor<4x16xf32>, tensor<4x8xf32>, !kv.cache<1x2x64x4, f32> -> tensor<4x?xf32>
    %c2 = kv.rollback %c1 by %rejected : !kv.cache<1x2x64x4, f32>
    %c3 = kv.rollback %c2 by %stale : !kv.cache<1x2x64x4, f32>
    return %o, %c3 : tensor<4x?xf32>, !kv.cache<1x2x64x4, f32>
  }

  func.func @share_prompt(%cache: !kv.cache<1x2x64x4, f32, paged<8>>, %q: tensor<1x16xf32>, %kv: tensor<1x8xf32>)
      -> (!kv.cache<1x2x64x4, f32, paged<8>>, !kv.cache<1x2x64x4, f32, paged<8>>) {
    %n = kv.length %cache : !kv.cache<1x2x64x4, f32, paged<8>>
    %fork = kv.fork %cache prefix %n : !kv.cache<1x2x64x4, f32, paged<8>>
    %o, %c1 = llm.attention %q, %kv, %kv, %cache[0] at %n {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 5.0e-01 : f32}
        : tensor<1x16xf32>, tensor<1x8xf32>, !kv.cache<1x2x64x4, f32, paged<8>> -> tensor<1x16xf32>
    %o2, %f1 = llm.attention %q, %kv, %kv, %fork[0] at %n {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 5.0e-01 : f32}
        : tensor<1x16xf32>, tensor<1x8xf32>, !kv.cache<1x2x64x4, f32, paged<8>> -> tensor<1x16xf32>
    return %c1, %f1 : !kv.cache<1x2x64x4, f32, paged<8>>, !kv.cache<1x2x64x4, f32, paged<8>>
  }
}
