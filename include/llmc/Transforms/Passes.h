//===- Passes.h - llmc model-level passes -----------------------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TRANSFORMS_PASSES_H
#define LLMC_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace llmc {

#define GEN_PASS_DECL
#include "llmc/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "llmc/Transforms/Passes.h.inc"

/// The module attribute where llmc-plan-kv-layout records its decision.
inline constexpr llvm::StringLiteral kKVLayoutAttr = "llmc.kv_layout";

} // namespace llmc

#endif // LLMC_TRANSFORMS_PASSES_H
