//===- Codegen.h - LLVM dialect to a native shared library -----*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TARGET_CPU_CODEGEN_H
#define LLMC_TARGET_CPU_CODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include <string>

namespace llmc::cpu {

struct CodegenOptions {
  /// LLVM optimization level (0-3).
  unsigned optLevel = 2;
  /// Embedded as the null-terminated string symbol `llmc_model_info`.
  std::string modelInfo;
};

/// Translates a module in the LLVM dialect to LLVM IR, optimizes it for the
/// host CPU, emits an object file and links it into the shared library
/// `outputPath` with ld.lld. On failure returns false and sets `error`.
bool emitSharedLibrary(mlir::ModuleOp module, llvm::StringRef outputPath,
                       const CodegenOptions &options, std::string &error);

/// Translates to LLVM IR text (for --emit-llvm and tests).
bool emitLLVMIR(mlir::ModuleOp module, llvm::raw_ostream &os,
                std::string &error);

} // namespace llmc::cpu

#endif // LLMC_TARGET_CPU_CODEGEN_H
