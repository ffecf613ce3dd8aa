//===- Passes.td - llmc conversion passes ------------------*- tablegen -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CONVERSION_PASSES_TD
#define LLMC_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertLLMToLinalg : Pass<"llmc-convert-llm-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower llm, kv and qmm ops to linalg/tensor/arith/math";
  let description = [{
    Rewrites decoder ops into `linalg.generic` ops over tensors:

    - `!kv.cache<L x H x C x D, f32|f16|bf16>` becomes
      `tensor<2 x L x H x C x D x elt>` (keys, then values); `llm.attention`
      inserts the step's keys and values at `position` and attends over the
      first `position + T` entries (causal mask, optional sliding window,
      GQA by indexing KV head `h floordiv (heads / kv_heads)`).
    - `!qmm.packed<N x K, fmt>` becomes `tensor<BYTES x i8>`: matmuls,
      embeddings and LM heads on packed weights decode each block element
      from the bytes inside the loop (Q8_0, Q4_0, Q4_K, Q6_K), never
      materializing a dequantized matrix.
    - `llm.get_weight @w` becomes a `memref.view` at the weight's byte
      offset into a `memref<?xi8>` argument holding the weight files laid
      out back to back (2 MiB-aligned bases, recorded on the module as
      `llmc.weight_files`, a list of {file, base, size} dictionaries, for the runtime that maps
      them), wrapped in `bufferization.to_tensor restrict`. The argument is
      added to every function that reads weights and marked `llmc.weights`.

    With `use-microkernels`, projections over weights of the model file
    (f32, f16, bf16, Q8_0, Q4_0, Q4_K, Q6_K) become calls of
    `llmc_matmul_<format>` and attention over a contiguous f32 cache a call
    of `llmc_attention_f32` (CPU microkernels in libllmc_kernels.so, see
    include/llmc/Runtime/Kernels.h) on buffers of the tensor operands; what
    no kernel handles is lowered to linalg as above.

    Results of type `!kv.cache` are marked with `llmc.cache_result` so the
    step ABI can write them back into the cache argument.
  }];
  let options = [
    Option<"useMicrokernels", "use-microkernels", "bool", /*default=*/"false",
           "Call the CPU microkernels for projections and attention">
  ];
  let dependentDialects = [
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::bufferization::BufferizationDialect"
  ];
}

#endif // LLMC_CONVERSION_PASSES_TD
