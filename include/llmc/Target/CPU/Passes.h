//===- Passes.h - CPU target passes -----------------------------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TARGET_CPU_PASSES_H
#define LLMC_TARGET_CPU_PASSES_H

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace llmc {

#define GEN_PASS_DECL
#include "llmc/Target/CPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "llmc/Target/CPU/Passes.h.inc"

} // namespace llmc

#endif // LLMC_TARGET_CPU_PASSES_H
