//===- LLMOps.h - llm operations --------------------------------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_LLMOPS_H
#define LLMC_DIALECTS_LLM_LLMOPS_H

#include "dialects/kv/KVOps.h"
#include "dialects/llm/LLMDialect.h"
#include "dialects/qmm/QMMOps.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/llm/LLMInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dialects/llm/LLMOps.h.inc"

namespace llmc::llm {
/// Marks a step function that runs several forward passes over one cache
/// (a speculative step: drafts, then the verification), which
/// llmc-verify-model then checks pass by pass.
constexpr llvm::StringLiteral kSpeculativeStepAttr = "llm.speculative";
/// Marks the argument of a speculative step that is a separate draft
/// model's cache (whose model may have another configuration).
constexpr llvm::StringLiteral kDraftCacheAttr = "llm.draft_cache";
} // namespace llmc::llm

#endif // LLMC_DIALECTS_LLM_LLMOPS_H
