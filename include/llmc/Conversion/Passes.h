//===- Passes.h - llmc conversion passes ------------------------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CONVERSION_PASSES_H
#define LLMC_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Transforms/DialectConversion.h"

namespace llmc {

#define GEN_PASS_DECL
#include "llmc/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "llmc/Conversion/Passes.h.inc"

/// Converts !kv.cache (float storage) and !qmm.packed to tensors.
class LLMTypeConverter : public mlir::TypeConverter {
public:
  LLMTypeConverter();
};

/// Patterns lowering llm/kv/qmm ops to linalg, split by op family.
void populateLLMDecoderToLinalgPatterns(LLMTypeConverter &converter,
                                        mlir::RewritePatternSet &patterns);
void populateLLMAttentionToLinalgPatterns(LLMTypeConverter &converter,
                                          mlir::RewritePatternSet &patterns);
void populateQMMToLinalgPatterns(LLMTypeConverter &converter,
                                 mlir::RewritePatternSet &patterns);
/// Calls of the CPU microkernels (libllmc_kernels) for projections and
/// attention; added with a higher benefit than the linalg patterns.
void populateLLMToMicrokernelPatterns(LLMTypeConverter &converter,
                                      mlir::RewritePatternSet &patterns);

/// The attribute marking a function's whole-model-file argument.
inline constexpr llvm::StringLiteral kWeightsArgAttr = "llmc.weights";
/// The module attribute listing weight files: [{file, base, size}], each
/// mapped at `base` (a multiple of kWeightFileAlignment) of the weights arg.
inline constexpr llvm::StringLiteral kWeightFilesAttr = "llmc.weight_files";
/// 2 MiB, so that the runtime can map each file with huge pages.
inline constexpr int64_t kWeightFileAlignment = 1 << 21;
/// The attribute marking results that were !kv.cache values.
inline constexpr llvm::StringLiteral kCacheResultAttr = "llmc.cache_result";
/// The attribute marking the block table argument (memref<(C/B) x i32>) a
/// function over a paged cache takes after the weights: entry j is the pool
/// block holding the sequence's positions [j * B, (j + 1) * B).
inline constexpr llvm::StringLiteral kBlockTableArgAttr = "llmc.kv_block_table";

} // namespace llmc

#endif // LLMC_CONVERSION_PASSES_H
