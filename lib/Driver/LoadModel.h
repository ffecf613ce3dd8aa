//===- LoadModel.h - a runnable model from a model file or artifact -*- C++ -*-===//
//
// Part of llmc. Internal to lib/Driver: what `run` and `bench` share.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_DRIVER_LOADMODEL_H
#define LLMC_LIB_DRIVER_LOADMODEL_H

#include "llmc/API/MemoryBudget.h"
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

/// --memory-budget BYTES and --allow-weight-requant (compile, run).
struct BudgetArgs {
  std::string budget;
  bool allowWeightRequant = false;
};
void addBudgetOptions(ArgParser &parser, BudgetArgs &args);
/// Validates `args` into `options`; an exit code (usage error) on failure.
std::optional<int> applyBudgetOptions(const BudgetArgs &args,
                                      api::CompileOptions &options,
                                      const ArgParser &parser, Context &ctx);
/// Budget mode: when options.memoryBudget is set and `model` is not a
/// compiled artifact, chooses the options that fit (api::applyMemoryBudget)
/// and names each decision on `err` (unless `quiet`). The choice, or
/// nullopt without a budget.
llvm::Expected<std::optional<api::BudgetChoice>>
resolveMemoryBudget(llvm::StringRef model, api::CompileOptions &options,
                    bool quiet, llvm::raw_ostream &err);
/// The JSON of a budget choice.
llvm::json::Object budgetJSON(const api::BudgetChoice &choice, int64_t budget);

/// --spec SPEC (compile, run, bench): speculative decoding; validated into
/// `options` (an exit code on a usage error).
/// --draft-model FILE comes with it (the draft of `--spec model`).
void addSpecOption(ArgParser &parser, std::string &spec,
                   std::string &draftModel);
std::optional<int> applySpecOption(const std::string &spec,
                                   const std::string &draftModel,
                                   api::CompileOptions &options,
                                   const ArgParser &parser, Context &ctx);
/// `--spec skip-auto[-kK]`: when options.spec is that form, searches the
/// skip set (and k, unless given) for `model` as `llmc spec-search` does with
/// its defaults (SpecSearch.cpp), on `prompts` (empty: the built-in
/// calibration prompts) x `genTokens` (0: the default), and replaces
/// options.spec with the winner, which it names on `err`. Any other spec is
/// left as it is.
llvm::Error resolveAutoSpec(llvm::StringRef model, api::CompileOptions &options,
                            llvm::ArrayRef<std::string> prompts,
                            int64_t genTokens, int64_t threads,
                            llvm::StringRef tokenizerPath,
                            llvm::raw_ostream &err);

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
/// How `generate` chooses tokens.
struct Decoding {
  /// Temperature 0: greedy.
  runtime::SamplingOptions sampling;
  /// Run @spec_step while a step fits the context (plain decode steps after
  /// that); the tokens are greedy decoding's, or distributed as sampling's.
  bool speculative = false;
  /// Choose each step's draft length with DraftLength.
  bool adaptive = false;
};
/// Generates up to `maxTokens` tokens after `prompt` (which must fit the
/// context with them) from a reset model; stops before `eos` (-1: never).
/// `onToken` sees each token as it is produced. `seconds` excludes the
/// prompt.
llvm::Expected<GreedyRun>
generate(runtime::CompiledModel &model, llvm::ArrayRef<int32_t> prompt,
         int64_t maxTokens, int32_t eos, const Decoding &decoding,
         llvm::function_ref<void(int32_t)> onToken = nullptr);
/// Greedy `generate`; with `speculative`, adaptive when the model's --spec
/// asked for it.
llvm::Expected<GreedyRun>
generateGreedy(runtime::CompiledModel &model, llvm::ArrayRef<int32_t> prompt,
               int64_t maxTokens, int32_t eos, bool speculative,
               llvm::function_ref<void(int32_t)> onToken = nullptr);
/// Whether a --spec specification asks for an adaptive draft length.
bool isAdaptiveSpec(llvm::StringRef spec);

/// Adaptive draft length (PEARL/DEL-style, from running statistics): picks
/// each speculative step's draft length in [0, maxDraft] to maximize the
/// expected tokens per second, from the acceptance rate so far (geometric
/// model, exponentially decayed), how often a draft was available, and the
/// measured time of steps at each length; a step of length 0 is a plain
/// decode step. Greedy output does not depend on it; sampled output stays
/// distributed as the target's.
class DraftLength {
public:
  explicit DraftLength(int64_t maxDraft);
  int64_t next();
  void observe(int64_t limit, int64_t drafted, int64_t acceptedDrafts,
               double stepSeconds);
  double acceptance() const;
  double expectedTokens(int64_t k) const;
  double stepSeconds(int64_t k) const;

private:
  int64_t maxDraft;
  int64_t steps = 0;
  double accepted = 0, rejected = 0, asked = 0, matched = 0;
  std::vector<double> seconds, weight;
};

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
