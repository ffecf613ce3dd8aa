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
#include "llmc/Runtime/Tokenizer.h"
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

/// The compression options compile, run, bench and eval share.
struct CompressionArgs {
  std::string quantize;
  bool reorderOutliers = false;
  std::string kv;
  std::string activationStats;
};
void addCompressionOptions(ArgParser &parser, CompressionArgs &args);
/// --threads, --context and --tokenizer: how run, eval and calibrate
/// compile, run and tokenize for a model.
void addModelRunOptions(ArgParser &parser, int64_t &threads, int64_t &context,
                        std::string &tokenizerPath);
/// Validates `args` into `options`; an exit code (usage error) on failure.
std::optional<int> applyCompressionOptions(const CompressionArgs &args,
                                           api::CompileOptions &options,
                                           const ArgParser &parser,
                                           Context &ctx);

/// --spec SPEC (compile, run, bench): speculative decoding; validated into
/// `options` (an exit code on a usage error).
void addSpecOption(ArgParser &parser, std::string &spec);
std::optional<int> applySpecOption(const std::string &spec,
                                   api::CompileOptions &options,
                                   const ArgParser &parser, Context &ctx);

/// The greedy choice from one row of logits: the first maximum.
int32_t argmax(llvm::ArrayRef<float> row);

/// A greedy continuation and how it was produced.
struct GreedyRun {
  std::vector<int32_t> tokens;
  double seconds = 0;
  /// Speculative steps, draft tokens proposed and draft tokens accepted
  /// (all 0 for plain decoding).
  int64_t steps = 0, drafted = 0, acceptedDrafts = 0;
};
/// Greedy decoding of up to `maxTokens` tokens after `prompt` (which must
/// fit the context with them), from a reset model; stops before `eos`
/// (-1: never). With `speculative`, runs @spec_step while a step fits the
/// context and plain decode steps after that; the tokens are the same
/// either way. `onToken` sees each token as it is produced. `seconds`
/// excludes the prompt.
llvm::Expected<GreedyRun>
generateGreedy(runtime::CompiledModel &model, llvm::ArrayRef<int32_t> prompt,
               int64_t maxTokens, int32_t eos, bool speculative,
               llvm::function_ref<void(int32_t)> onToken = nullptr);

/// Loads `path` when it is a compiled artifact, else compiles it into the
/// cache first (api::compileCached, progress lines on `err`).
llvm::Expected<LoadedModel> loadOrCompile(llvm::StringRef path,
                                          const api::CompileOptions &options,
                                          llvm::raw_ostream &err);

/// The tokenizer of a compiled model: the GGUF file `tokenizerPath`, else
/// the model's source GGUF file (a Hugging Face directory's tokenizer is not
/// read: an error asks for --tokenizer). Fails if it has more tokens than
/// the model's vocabulary (ids past it would index past the embeddings).
llvm::Expected<runtime::Tokenizer>
loadTokenizer(const runtime::ModelInfo &info, llvm::StringRef tokenizerPath);

} // namespace llmc::driver

#endif // LLMC_LIB_DRIVER_LOADMODEL_H
