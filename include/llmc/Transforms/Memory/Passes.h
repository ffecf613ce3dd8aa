//===- Passes.h - memory planning passes ------------------------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TRANSFORMS_MEMORY_PASSES_H
#define LLMC_TRANSFORMS_MEMORY_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace llmc {

/// The function attribute holding a function's memory plan.
constexpr llvm::StringLiteral kMemoryPlanAttr = "llmc.memory_plan";
/// The argument attribute of an arena passed by the caller.
constexpr llvm::StringLiteral kArenaAttr = "llmc.arena";

#define GEN_PASS_DECL
#include "llmc/Transforms/Memory/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "llmc/Transforms/Memory/Passes.h.inc"

} // namespace llmc

#endif // LLMC_TRANSFORMS_MEMORY_PASSES_H
