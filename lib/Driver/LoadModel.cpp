//===- LoadModel.cpp - a runnable model from a model file or artifact -----===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "LoadModel.h"
#include "Progress.h"
#include "llmc/Import/GGUF.h"
#include "llvm/Support/FileSystem.h"
#include <algorithm>

using namespace llmc;
using namespace llmc::driver;

void llmc::driver::addCompressionOptions(ArgParser &parser,
                                         CompressionArgs &args) {
  parser.option("--quantize", args.quantize, "FMT[,GLOB=FMT...]",
                "quantize float weights: q8_0, q4_0, q4_k, q6_k, "
                "int2..int8[-gN][-asym], fp8_e4m3, fp8_e5m2, mxfp4 (f32/f16/"
                "bf16 keep float), with per-tensor overrides, e.g. "
                "q4_0,output.weight=q8_0");
  parser.flag("--reorder-outliers", args.reorderOutliers,
              "permute MLP channels so outliers share quantization blocks");
  parser.option("--activation-stats", args.activationStats, "FILE",
                "AWQ-style scaling of the quantized weights from the "
                "activation statistics `llmc calibrate` wrote (needs "
                "--quantize)");
  parser.option("--kv", args.kv, "SPEC",
                "compress the KV cache: kiviBITS[-gGROUP][-rRESIDUAL] "
                "quantizes it KIVI-style (keys per channel, values per token; "
                "2, 4 or 8 bits, group default 32, full-precision window "
                "default 128), e.g. kivi4; window|h2o|snapkv-bBUDGET[-sSINKS]"
                "[-rRECENT][-oOBSERVE][-pPOOL][-pyramid] bounds it to BUDGET "
                "positions per layer (attention sinks + recent window, H2O "
                "heavy hitters, or SnapKV's one-shot selection at the end of "
                "the prompt), e.g. h2o-b128; both, comma-separated, evict "
                "whole KIVI token groups (residual default: a quarter of the "
                "budget, and h2o's recent window), e.g. kivi4,h2o-b128");
}

void llmc::driver::addModelRunOptions(ArgParser &parser, int64_t &threads,
                                      int64_t &context,
                                      std::string &tokenizerPath) {
  parser.option("--threads", threads, "N",
                "threads the kernels run on (default 0: one per core)");
  parser.option("--context", context, "N",
                "KV cache capacity when compiling (default: the model's)");
  parser.option("--tokenizer", tokenizerPath, "FILE",
                "a GGUF file whose vocabulary to use (default: the model's "
                "own; needed for Hugging Face directories)");
}

std::optional<int> llmc::driver::applyCompressionOptions(
    const CompressionArgs &args, api::CompileOptions &options,
    const ArgParser &parser, Context &ctx) {
  if (!args.quantize.empty()) {
    std::string error = api::validateQuantizeSpec(args.quantize);
    if (!error.empty())
      return parser.usageError(ctx, "--quantize: " + error);
  }
  if (!args.kv.empty()) {
    api::KVSpec spec;
    std::string error = api::parseKVSpec(args.kv, spec);
    if (!error.empty())
      return parser.usageError(ctx, "--kv " + error);
  }
  if (!args.activationStats.empty()) {
    if (args.quantize.empty())
      return parser.usageError(ctx, "--activation-stats scales weights for "
                                    "quantization: give --quantize too");
    if (!llvm::sys::fs::exists(args.activationStats))
      return ctx.fail(args.activationStats + ": no such file");
  }
  options.quantize = args.quantize;
  options.reorderOutliers = args.reorderOutliers;
  options.kv = args.kv;
  options.activationStats = args.activationStats;
  return std::nullopt;
}

void llmc::driver::addSpecOption(ArgParser &parser, std::string &spec) {
  parser.option("--spec", spec, "SPEC",
                "speculative decoding (greedy; the output is exactly plain "
                "greedy decoding's): ngram[-kK][-nN] drafts by prompt lookup "
                "(k draft tokens per step, default 4; n-gram up to N, default "
                "3), skip-L1:L2...[-kK] drafts with the model minus those "
                "layers (SWIFT-style), exit-E[-kK] with its first E layers "
                "(early exit), e.g. ngram-k4");
}

std::optional<int> llmc::driver::applySpecOption(const std::string &spec,
                                                 api::CompileOptions &options,
                                                 const ArgParser &parser,
                                                 Context &ctx) {
  if (!spec.empty()) {
    api::SpecSpec parsed;
    if (std::string error = api::parseSpecSpec(spec, parsed); !error.empty())
      return parser.usageError(ctx, "--spec " + error);
  }
  options.spec = spec;
  return std::nullopt;
}

int32_t llmc::driver::argmax(llvm::ArrayRef<float> row) {
  return int32_t(std::max_element(row.begin(), row.end()) - row.begin());
}

llvm::Expected<GreedyRun>
llmc::driver::generateGreedy(runtime::CompiledModel &model,
                             llvm::ArrayRef<int32_t> prompt, int64_t maxTokens,
                             int32_t eos, bool speculative,
                             llvm::function_ref<void(int32_t)> onToken) {
  GreedyRun run;
  model.reset();
  llvm::Expected<llvm::ArrayRef<float>> logits = model.forward(prompt);
  if (!logits)
    return logits.takeError();
  const runtime::ModelInfo &info = model.getInfo();
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  history.reserve(prompt.size() + size_t(maxTokens) + 16);
  run.tokens.reserve(size_t(maxTokens));
  Stopwatch watch;
  int32_t next = argmax(logits->take_back(size_t(info.vocabSize)));
  // Emits `token`; false when generation ends before it.
  auto emit = [&](int32_t token) {
    if (token == eos || int64_t(run.tokens.size()) >= maxTokens)
      return false;
    run.tokens.push_back(token);
    history.push_back(token);
    if (onToken)
      onToken(token);
    return true;
  };
  while (emit(next) && int64_t(run.tokens.size()) < maxTokens) {
    // `next` is the last token of `history` and has not run yet.
    if (speculative && model.canSpeculate() &&
        model.getPosition() + info.specTokens <= info.contextLength()) {
      llvm::Expected<runtime::CompiledModel::SpecStep> step =
          model.speculate(history);
      if (!step)
        return step.takeError();
      ++run.steps;
      run.drafted += step->drafted;
      run.acceptedDrafts += int64_t(step->tokens.size()) - 1;
      bool more = true;
      for (int32_t token : step->tokens.drop_back())
        if (!(more = emit(token)))
          break;
      if (!more)
        break;
      next = step->tokens.back();
      continue;
    }
    logits = model.forward({next});
    if (!logits)
      return logits.takeError();
    next = argmax(*logits);
  }
  run.seconds = watch.seconds();
  return std::move(run);
}

llvm::Expected<LoadedModel>
llmc::driver::loadOrCompile(llvm::StringRef path,
                            const api::CompileOptions &options,
                            llvm::raw_ostream &err) {
  LoadedModel result;
  result.library = path.str();
  if (!api::isCompiledArtifact(path)) {
    Progress progress(err, /*enabled=*/true);
    Stopwatch watch;
    llvm::Expected<std::string> cached = api::compileCached(
        path, options, result.compiled,
        [&](llvm::StringRef stage) { progress.stage(stage); });
    progress.done();
    if (!cached)
      return cached.takeError();
    result.library = *cached;
    result.compileSeconds = watch.seconds();
  }
  llvm::Expected<std::unique_ptr<runtime::CompiledModel>> loaded =
      runtime::CompiledModel::load(result.library);
  if (!loaded)
    return loaded.takeError();
  result.model = std::move(*loaded);
  return std::move(result);
}

llvm::Expected<runtime::Tokenizer>
llmc::driver::loadTokenizer(const runtime::ModelInfo &info,
                            llvm::StringRef tokenizerPath) {
  auto fail = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  std::string vocabulary =
      tokenizerPath.empty() ? info.source : tokenizerPath.str();
  if (llvm::sys::fs::is_directory(vocabulary))
    return fail(vocabulary + ": llmc does not read the tokenizer of a "
                             "Hugging Face directory; give --tokenizer "
                             "FILE.gguf");
  llvm::Expected<std::unique_ptr<gguf::File>> file =
      gguf::File::open(vocabulary);
  if (!file)
    return file.takeError();
  llvm::Expected<runtime::Tokenizer> tokenizer =
      runtime::Tokenizer::fromGGUF(**file);
  if (!tokenizer)
    return tokenizer.takeError();
  if (tokenizer->getVocabSize() > info.vocabSize)
    return fail(vocabulary + ": the tokenizer has " +
                llvm::Twine(tokenizer->getVocabSize()) +
                " tokens but the model's vocabulary has " +
                llvm::Twine(info.vocabSize));
  return tokenizer;
}
