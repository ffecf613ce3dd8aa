//===- Common.h - helpers shared by the llm-to-linalg patterns --*- C++ -*-===//
//
// Part of llmc. Internal to lib/Conversion/LLMToLinalg.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_CONVERSION_LLMTOLINALG_COMMON_H
#define LLMC_LIB_CONVERSION_LLMTOLINALG_COMMON_H

#include "dialects/llm/LLMOps.h"
#include "llmc/Conversion/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace llmc::lowering {

using BodyBuilder =
    llvm::function_ref<void(mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

/// A linalg.generic with one output; returns its result.
mlir::Value generic(mlir::OpBuilder &b, mlir::Location loc, mlir::Value init,
                    mlir::ValueRange inputs,
                    llvm::ArrayRef<mlir::AffineMap> maps,
                    llvm::ArrayRef<mlir::utils::IteratorType> iterators,
                    BodyBuilder body);

/// tensor.empty of the given sizes, optionally filled with `fill`.
mlir::Value empty(mlir::OpBuilder &b, mlir::Location loc,
                  llvm::ArrayRef<mlir::OpFoldResult> sizes, mlir::Type elt);
mlir::Value filled(mlir::OpBuilder &b, mlir::Location loc,
                   llvm::ArrayRef<mlir::OpFoldResult> sizes, mlir::Type elt,
                   double value);

/// Size `dim` of a ranked tensor value, static or tensor.dim.
mlir::OpFoldResult dimOf(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Value tensor, int64_t dim);

/// Index and float constants.
mlir::Value indexConst(mlir::OpBuilder &b, mlir::Location loc, int64_t v);
mlir::Value f32Const(mlir::OpBuilder &b, mlir::Location loc, double v);

/// The last row of a T x W f32 tensor, as 1 x W.
mlir::Value lastRow(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x);

/// Extends a float scalar to f32 (no-op for f32).
mlir::Value toF32(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v);

/// Whether the CPU lowering decodes this packed format in place (float
/// tensors: always true).
bool isDecodable(mlir::Type weightType);
bool isDecodablePacked(qmm::PackedType type);

/// Element (row, col) of a packed matrix stored as `bytes` (tensor<Nxi8>),
/// decoded to f32 from its block; row and col are index values.
mlir::Value decodePackedElement(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::Value bytes, qmm::PackedType type,
                                mlir::Value row, mlir::Value col);

/// `result[t, n] = sum_k x[t, k] * W[n, k]` for a float or packed (bytes)
/// weight; `x` is f32 T x K.
mlir::Value projection(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                       mlir::Value weight, mlir::Type weightType,
                       mlir::RankedTensorType resultType);

/// Writes one step's keys and values ([T, KVH*D] each) into `cache`
/// (tensor<2 x L x KVH x C x D>) at positions pos..pos+T of `layer`.
mlir::Value insertStepEntries(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value cache, mlir::Value keys,
                              mlir::Value values, int64_t layer,
                              mlir::Value pos);

/// Where a weight lives: the weights argument (memref<?xi8>) and the byte
/// offset of the weight in it, when `weight` is an llm.get_weight lowered
/// by GetWeightLowering; else nullopt.
struct WeightLocation {
  mlir::Value base;
  mlir::Value byteOffset; // index
};
std::optional<WeightLocation> locateWeight(mlir::Value weight);

} // namespace llmc::lowering

#endif // LLMC_LIB_CONVERSION_LLMTOLINALG_COMMON_H
