//===- LoadModel.h - a runnable model from a model file or artifact -*- C++ -*-===//
//
// Part of llmc. Internal to lib/Driver: what `run` and `bench` share.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_DRIVER_LOADMODEL_H
#define LLMC_LIB_DRIVER_LOADMODEL_H

#include "llmc/API/ModelCompiler.h"
#include "llmc/Driver/Driver.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llvm/Support/raw_ostream.h"

namespace llmc::driver {

/// A loaded model and how it was obtained.
struct LoadedModel {
  std::unique_ptr<runtime::CompiledModel> model;
  /// The shared library that was loaded.
  std::string library;
  /// Whether this call compiled it, and how long that took.
  bool compiled = false;
  double compileSeconds = 0;
};

/// Loads `path` when it is a compiled artifact, else compiles it into the
/// cache first (api::compileCached, progress lines on `err`).
/// The compression options compile, run, bench and eval share.
struct CompressionArgs {
  std::string quantize;
  bool reorderOutliers = false;
  std::string kv;
};
void addCompressionOptions(ArgParser &parser, CompressionArgs &args);
/// Validates `args` into `options`; an exit code (usage error) on failure.
std::optional<int> applyCompressionOptions(const CompressionArgs &args,
                                           api::CompileOptions &options,
                                           const ArgParser &parser,
                                           Context &ctx);

llvm::Expected<LoadedModel> loadOrCompile(llvm::StringRef path,
                                          const api::CompileOptions &options,
                                          llvm::raw_ostream &err);

} // namespace llmc::driver

#endif // LLMC_LIB_DRIVER_LOADMODEL_H
