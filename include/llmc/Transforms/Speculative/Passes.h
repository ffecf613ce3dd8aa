//===- Passes.h - speculative decoding passes -------------------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TRANSFORMS_SPECULATIVE_PASSES_H
#define LLMC_TRANSFORMS_SPECULATIVE_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace llmc {

#define GEN_PASS_DECL
#include "llmc/Transforms/Speculative/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "llmc/Transforms/Speculative/Passes.h.inc"

} // namespace llmc

#endif // LLMC_TRANSFORMS_SPECULATIVE_PASSES_H
