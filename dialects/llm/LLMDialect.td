//===- LLMDialect.td - llm dialect definition --------------*- tablegen -*-===//
//
// Part of llmc. Llama-family decoder at tensor level.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LLM_DIALECT_TD
#define LLMC_LLM_DIALECT_TD

include "mlir/IR/OpBase.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let cppNamespace = "::llmc::llm";
  let summary = "Transformer decoder operations at tensor level";
  let description = [{
    The ops of a Llama-family decoder over value-semantics tensors.
    Activations are row-major `T x WIDTH` matrices (T tokens); per-head
    quantities are packed in the width (`T x (HEADS * HEAD_DIM)`), as the
    projections produce them. Weights are `llm.weight` symbols that refer to
    a tensor of the model file by name and byte offset, so weights are never
    inlined into the IR; they may be float tensors or `!qmm.packed`.
    Attention reads and writes a `!kv.cache` value.

    ```mlir
    llm.weight @wq "blk.0.attn_q.weight" : tensor<64x64xf32> from "stories260K.gguf" at 1024
    func.func @f(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
      %w = llm.get_weight @wq : tensor<64x64xf32>
      %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
      return %y : tensor<?x64xf32>
    }
    ```
  }];
  let dependentDialects = ["::llmc::kv::KVDialect", "::llmc::qmm::QMMDialect"];
}

#endif // LLMC_LLM_DIALECT_TD
