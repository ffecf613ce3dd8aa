//===- Run.cpp - `llmc run` -----------------------------------------------===//
//
// Part of llmc. Compiles the model (or reuses the cached artifact), then
// prefills the prompt and decodes token by token, streaming the text.
//
//===----------------------------------------------------------------------===//

#include "LoadModel.h"
#include "Progress.h"
#include "llmc/API/ModelCompiler.h"
#include "llmc/Driver/Driver.h"
#include "llmc/Import/GGUF.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llmc/Runtime/Tokenizer.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"

using namespace llmc;
using namespace llmc::driver;

int llmc::driver::runRun(llvm::ArrayRef<std::string> args, Context &ctx) {
  std::string model, prompt, tokenizerPath;
  int64_t maxTokens = 64, topK = 0, seed = 0, threads = 0, context = 0;
  double temperature = 0.8, topP = 1.0;
  bool json = false, echo = false;
  ArgParser parser("run", "Generate text with a model (GGUF file, or an "
                          "artifact from `llmc compile`).");
  parser.positional("MODEL", model, "a GGUF model or a compiled artifact");
  parser.option("-p,--prompt", prompt, "TEXT", "the prompt");
  parser.option("-n,--max-tokens", maxTokens, "N",
                "tokens to generate (default 64)");
  parser.option("--temperature", temperature, "T",
                "sampling temperature; 0 = greedy (default 0.8)");
  parser.option("--top-k", topK, "K", "sample among the K most likely (0 = all)");
  parser.option("--top-p", topP, "P", "nucleus sampling mass (default 1)");
  parser.option("--seed", seed, "S", "random seed (default 0)");
  addModelRunOptions(parser, threads, context, tokenizerPath);
  parser.flag("--echo", echo, "print the prompt before the continuation");
  CompressionArgs compression;
  addCompressionOptions(parser, compression);
  std::string spec;
  std::string draftModel;
  addSpecOption(parser, spec, draftModel);
  BudgetArgs budget;
  addBudgetOptions(parser, budget);
  parser.addJson(json);
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;
  if (maxTokens < 0)
    return parser.usageError(ctx, "--max-tokens must be >= 0");
  if (temperature < 0)
    return parser.usageError(ctx, "--temperature must be >= 0");
  if (topK < 0)
    return parser.usageError(ctx, "--top-k must be >= 0");
  if (!(topP > 0 && topP <= 1))
    return parser.usageError(ctx, "--top-p must be in (0, 1]");
  if (threads < 0)
    return parser.usageError(ctx, "--threads must be >= 0");
  if (!llvm::sys::fs::exists(model))
    return ctx.fail(model + ": no such file or directory");
  auto noTokenizer = [&](llvm::StringRef directory) {
    return ctx.fail(directory +
                    ": llmc does not read the tokenizer of a Hugging Face "
                    "directory; give --tokenizer FILE.gguf");
  };
  if (tokenizerPath.empty() && llvm::sys::fs::is_directory(model))
    return noTokenizer(model);

  // The compiled library: given, or compiled once into the cache.
  api::CompileOptions options;
  options.contextLength = context;
  if (std::optional<int> exit =
          applyCompressionOptions(compression, options, parser, ctx))
    return *exit;
  if (std::optional<int> exit =
          applySpecOption(spec, draftModel, options, parser, ctx))
    return *exit;
  if (llvm::Error err = resolveAutoSpec(
          model, options,
          prompt.empty() ? std::vector<std::string>() : std::vector{prompt}, 0,
          threads, tokenizerPath, ctx.err))
    return ctx.fail(std::move(err));
  if (std::optional<int> exit =
          applyBudgetOptions(budget, options, parser, ctx))
    return *exit;
  llvm::Expected<std::optional<api::BudgetChoice>> choice =
      resolveMemoryBudget(model, options, /*quiet=*/json, ctx.err);
  if (!choice)
    return ctx.fail(choice.takeError());
  llvm::Expected<LoadedModel> loaded = loadOrCompile(model, options, ctx.err);
  if (!loaded)
    return ctx.fail(loaded.takeError());
  if (options.memoryBudget > 0 && !*choice) {
    // A compiled artifact: nothing to choose; check what it needs.
    api::MemoryReport report =
        api::describeMemory(loaded->model->getInfo(), "", {});
    if (report.total() > options.memoryBudget)
      return ctx.fail(
          api::overBudgetError(model, options.memoryBudget, report));
  }
  runtime::CompiledModel &runner = *loaded->model;
  const std::string &library = loaded->library;
  bool compiled = loaded->compiled;
  double compileSeconds = loaded->compileSeconds;
  runtime::CompiledModel::setThreads(threads);
  const runtime::ModelInfo &info = runner.getInfo();

  // The tokenizer: --tokenizer, else the one of the source GGUF model.
  llvm::Expected<runtime::Tokenizer> tokenizer =
      loadTokenizer(info, tokenizerPath);
  if (!tokenizer)
    return ctx.fail(tokenizer.takeError());

  std::vector<int32_t> ids = tokenizer->encode(prompt, /*addBos=*/true);
  if (ids.empty())
    return ctx.fail("the prompt encodes to no tokens");
  if (int64_t(ids.size()) > info.contextLength())
    return ctx.fail("prompt of " + llvm::Twine(ids.size()) +
                    " tokens exceeds the context of " +
                    llvm::Twine(info.contextLength()) + " tokens");
  maxTokens = std::min<int64_t>(maxTokens, info.contextLength() - int64_t(ids.size()));

  runtime::SamplingOptions sampling;
  sampling.temperature = temperature;
  sampling.topK = topK;
  sampling.topP = topP;
  sampling.seed = uint64_t(seed);
  runtime::Sampler sampler(sampling);

  std::vector<int32_t> all(ids), generated;
  all.reserve(ids.size() + size_t(maxTokens));
  generated.reserve(size_t(maxTokens));
  std::string printed = tokenizer->decode(ids);
  if (echo && !json) {
    ctx.out << printed;
    ctx.out.flush();
  }
  // Prints what a new token adds to the decoded text.
  auto show = [&](int32_t next) {
    generated.push_back(next);
    all.push_back(next);
    if (json)
      return;
    std::string text = tokenizer->decode(all);
    if (text.size() >= printed.size() &&
        llvm::StringRef(text).starts_with(printed))
      ctx.out << llvm::StringRef(text).drop_front(printed.size());
    else
      ctx.out << tokenizer->tokenToPiece(next);
    printed = std::move(text);
    ctx.out.flush();
  };
  double prefillSeconds = 0, decodeSeconds = 0;
  llvm::json::Object specStats;
  if (!spec.empty()) {
    // Speculative decoding, greedy or sampled (the prompt's time is not
    // split out).
    Decoding decoding;
    decoding.sampling = sampling;
    decoding.speculative = true;
    decoding.adaptive = isAdaptiveSpec(info.spec);
    llvm::Expected<GreedyRun> run =
        generate(runner, ids, maxTokens, tokenizer->getEos(), decoding, show);
    if (!run)
      return ctx.fail(run.takeError());
    decodeSeconds = run->seconds;
    specStats = llvm::json::Object{
        {"spec", info.spec},
        {"steps", run->steps},
        {"drafted", run->drafted},
        {"accepted", run->acceptedDrafts},
        {"acceptance", run->drafted > 0 ? double(run->acceptedDrafts) /
                                              double(run->drafted)
                                        : 0.0}};
  } else {
    Stopwatch prefillWatch;
    llvm::Expected<llvm::ArrayRef<float>> logits = runner.forward(ids);
    if (!logits)
      return ctx.fail(logits.takeError());
    prefillSeconds = prefillWatch.seconds();
    Stopwatch decodeWatch;
    int64_t vocab = info.vocabSize;
    for (int64_t i = 0; i < maxTokens; ++i) {
      llvm::ArrayRef<float> last = logits->take_back(size_t(vocab));
      int32_t next = sampler.sample(last);
      if (next == tokenizer->getEos())
        break;
      show(next);
      if (i + 1 == maxTokens)
        break;
      logits = runner.forward({next});
      if (!logits)
        return ctx.fail(logits.takeError());
    }
    decodeSeconds = decodeWatch.seconds();
  }
  double prefillRate = prefillSeconds > 0 ? double(ids.size()) / prefillSeconds : 0;
  double decodeRate =
      decodeSeconds > 0 && !generated.empty()
          ? double(generated.size()) / decodeSeconds
          : 0;
  if (json) {
    llvm::json::Array promptIds(ids), outIds(generated);
    std::string continuation =
        tokenizer->decode(all).substr(tokenizer->decode(ids).size());
    ctx.out << llvm::json::Value(llvm::json::Object{
                   {"model", model},
                   {"artifact", library},
                   {"compiled", compiled},
                   {"prompt_tokens", std::move(promptIds)},
                   {"tokens", std::move(outIds)},
                   {"text", continuation},
                   {"compile_seconds", compileSeconds},
                   {"prefill_tokens_per_second", prefillRate},
                   {"decode_tokens_per_second", decodeRate},
                   {"speculative", std::move(specStats)},
                   {"memory_budget",
                    *choice ? llvm::json::Value(
                                  budgetJSON(**choice, options.memoryBudget))
                            : llvm::json::Value(nullptr)}})
            << "\n";
    return 0;
  }
  ctx.out << "\n";
  ctx.out.flush();
  ctx.err << "llmc: prompt " << ids.size() << " tokens ("
          << llvm::format("%.1f", prefillRate) << " tok/s), generated "
          << generated.size() << " tokens ("
          << llvm::format("%.1f", decodeRate) << " tok/s)"
          << (compiled ? ", compiled this run" : "") << "\n";
  return 0;
}
