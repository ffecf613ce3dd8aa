// The complete two-layer decoder of docs/examples round-trips through the
// custom and the generic form, verifies as a whole model, and survives the
// frontend pipeline with its shapes refined.
// RUN: llmc-opt %llmc_src_root/docs/examples/tiny-llama.mlir | llmc-opt | FileCheck %s --check-prefix=ROUNDTRIP
// RUN: llmc-opt %llmc_src_root/docs/examples/tiny-llama.mlir --mlir-print-op-generic | llmc-opt | FileCheck %s --check-prefix=ROUNDTRIP
// RUN: llmc-opt %llmc_src_root/docs/examples/tiny-llama.mlir --verify-roundtrip -o /dev/null
// RUN: llmc-opt %llmc_src_root/docs/examples/tiny-llama.mlir --llmc-verify-model=summary=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=SUMMARY
// RUN: llmc-opt %llmc_src_root/docs/examples/tiny-llama.mlir --llmc-frontend-pipeline -verify-each | FileCheck %s --check-prefix=PIPELINE

// ROUNDTRIP: llm.weight @tok_embd "token_embd.weight" : tensor<512x64xf32> from "tiny-llama.gguf" at 0
// ROUNDTRIP-LABEL: func.func @prefill
// ROUNDTRIP-COUNT-2: llm.attention
// ROUNDTRIP: llm.lm_head {{.*}} {last_only}
// ROUNDTRIP-LABEL: func.func @decode
// ROUNDTRIP: llm.sample

// SUMMARY: remark: model: 2 layers, 8 heads, 4 kv heads, head_dim 8, cache capacity 512 (512 bytes/position), 21 weights (625920 bytes)

// PIPELINE-LABEL: func.func @prefill
// The query projection's width is inferred from its weight.
// PIPELINE: llm.linear {{.*}} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// PIPELINE: llm.attention {{.*}} -> tensor<?x64xf32>
// PIPELINE-NOT: tensor.cast
// PIPELINE-LABEL: func.func @decode
// Greedy sampling canonicalizes to argmax.
// PIPELINE-NOT: llm.sample
// PIPELINE: llm.argmax {{.*}} : tensor<1x512xf32> -> tensor<1xi32>
