//===- LoadModel.cpp - a runnable model from a model file or artifact -----===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "LoadModel.h"
#include "Progress.h"
#include "llmc/Import/GGUF.h"
#include "llmc/Transforms/Memory/MemoryPlanner.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include <algorithm>
#include <cmath>
#include <optional>
#include <random>

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

void llmc::driver::addBudgetOptions(ArgParser &parser, BudgetArgs &args) {
  parser.option("--memory-budget", args.budget, "BYTES",
                "fit the model in BYTES (suffixes K, M, G or KiB, MiB, GiB: "
                "powers of 1024; KB, MB, GB: of 1000), counting weights, KV "
                "cache, activation arenas and runtime buffers: keeps what "
                "you chose and picks the rest (KIVI precision, an H2O "
                "eviction budget, a shorter context), or fails saying by "
                "how much it is over");
  parser.flag("--allow-weight-requant", args.allowWeightRequant,
              "let --memory-budget requantize the weights (q8_0, then "
              "q4_0) before it shortens the context");
}

std::optional<int>
llmc::driver::applyBudgetOptions(const BudgetArgs &args,
                                 api::CompileOptions &options,
                                 const ArgParser &parser, Context &ctx) {
  if (!args.budget.empty()) {
    std::optional<int64_t> bytes = memplan::parseByteCount(args.budget);
    if (!bytes)
      return parser.usageError(ctx, "--memory-budget: '" + args.budget +
                                        "' is not a positive byte count "
                                        "(e.g. 4G, 512MiB, 1000000)");
    options.memoryBudget = *bytes;
  } else if (args.allowWeightRequant) {
    return parser.usageError(ctx, "--allow-weight-requant needs "
                                  "--memory-budget BYTES");
  }
  options.allowWeightRequant = args.allowWeightRequant;
  return std::nullopt;
}

llvm::Expected<std::optional<api::BudgetChoice>>
llmc::driver::resolveMemoryBudget(llvm::StringRef model,
                                  api::CompileOptions &options, bool quiet,
                                  llvm::raw_ostream &err) {
  if (options.memoryBudget <= 0 || api::isCompiledArtifact(model))
    return std::nullopt;
  llvm::Expected<api::BudgetChoice> choice =
      api::applyMemoryBudget(model, options);
  if (!choice)
    return choice.takeError();
  if (!quiet) {
    err << "llmc: memory budget " << options.memoryBudget << " bytes ("
        << api::formatBytes(options.memoryBudget) << "), " << choice->evaluated
        << " configurations measured:\n";
    for (const std::string &line : choice->decisions)
      err << "llmc:   " << line << "\n";
    err.flush();
  }
  return std::optional<api::BudgetChoice>(std::move(*choice));
}

llvm::json::Object llmc::driver::budgetJSON(const api::BudgetChoice &choice,
                                            int64_t budget) {
  llvm::json::Array decisions;
  for (const std::string &line : choice.decisions)
    decisions.push_back(line);
  return llvm::json::Object{{"bytes", budget},
                            {"context", choice.report.contextLength},
                            {"kv", choice.candidate.kv},
                            {"quantize", choice.candidate.quantize},
                            {"total", choice.report.total()},
                            {"evaluated", choice.evaluated},
                            {"decisions", std::move(decisions)}};
}

void llmc::driver::addSpecOption(ArgParser &parser, std::string &spec,
                                 std::string &draftModel) {
  parser.option("--draft-model", draftModel, "FILE",
                "the draft model of --spec model[-kK]: a GGUF file or "
                "Hugging Face directory with the target's vocabulary (e.g. a "
                "smaller or quantized model of the same family)");
  parser.option("--spec", spec, "SPEC",
                "speculative decoding (lossless: greedy output is exactly "
                "plain greedy decoding's, sampled output is distributed as "
                "plain sampling's): ngram[-kK][-nN][-tW] drafts by prompt lookup "
                "(k draft tokens per step, default 4; n-gram up to N, default "
                "3; with tW a token tree of up to W continuations), skip-L1:L2...[-kK] drafts with the model minus those "
                "layers (SWIFT-style), skip-auto[-kK] picks the layers (and "
                "k) by measuring candidates first (see llmc spec-search; on "
                "--prompt for run and bench, else built-in text), "
                "exit-E[-kK] with its first E layers "
                "(early exit), model[-kK] with --draft-model; -a adapts the draft length (0 to K) to the "
                "acceptance, e.g. ngram-k4, skip-2-k3-a");
}

std::optional<int> llmc::driver::applySpecOption(
    const std::string &spec, const std::string &draftModel,
    api::CompileOptions &options, const ArgParser &parser, Context &ctx) {
  api::SpecSpec parsed;
  if (!spec.empty())
    if (std::string error = api::parseSpecSpec(spec, parsed); !error.empty())
      return parser.usageError(ctx, "--spec " + error);
  if (parsed.drafter == "model" && draftModel.empty())
    return parser.usageError(ctx, "--spec " + spec +
                                      " drafts with a separate model: give "
                                      "--draft-model FILE");
  if (!draftModel.empty() && parsed.drafter != "model")
    return parser.usageError(ctx, "--draft-model needs --spec model[-kK]");
  options.spec = spec;
  options.draftModel = draftModel;
  return std::nullopt;
}

int32_t llmc::driver::argmax(llvm::ArrayRef<float> row) {
  return int32_t(std::max_element(row.begin(), row.end()) - row.begin());
}

llmc::driver::DraftLength::DraftLength(int64_t maxDraft) : maxDraft(maxDraft) {
  seconds.assign(size_t(maxDraft + 1), 0.0);
  weight.assign(size_t(maxDraft + 1), 0.0);
}

double llmc::driver::DraftLength::acceptance() const {
  return (accepted + 1.0) / (accepted + rejected + 2.0);
}

double llmc::driver::DraftLength::expectedTokens(int64_t k) const {
  // Geometric acceptance: draft token i is kept with probability alpha^i
  // when a draft is available (match of the steps that asked for one).
  double alpha = std::min(acceptance(), 0.999);
  double match = (matched + 1.0) / (asked + 1.0);
  return 1.0 + match * alpha * (1.0 - std::pow(alpha, double(k))) /
                   (1.0 - alpha);
}

double llmc::driver::DraftLength::stepSeconds(int64_t k) const {
  // Measured where tried; elsewhere linear through the nearest measured
  // lengths (a prior slope of half a step per draft token when only one
  // length has been measured).
  if (weight[size_t(k)] > 0)
    return seconds[size_t(k)] / weight[size_t(k)];
  int64_t below = -1, above = -1;
  for (int64_t j = k - 1; j >= 0 && below < 0; --j)
    if (weight[size_t(j)] > 0)
      below = j;
  for (int64_t j = k + 1; j <= maxDraft && above < 0; ++j)
    if (weight[size_t(j)] > 0)
      above = j;
  auto at = [&](int64_t j) { return seconds[size_t(j)] / weight[size_t(j)]; };
  if (below >= 0 && above >= 0)
    return at(below) +
           (at(above) - at(below)) * double(k - below) / double(above - below);
  int64_t known = below >= 0 ? below : above;
  if (known < 0)
    return 1.0 + 0.5 * double(k);
  // Slope from a second measured length on the same side, else the prior.
  int64_t other = -1;
  for (int64_t j = 0; j <= maxDraft; ++j)
    if (j != known && weight[size_t(j)] > 0 &&
        (other < 0 || std::abs(j - known) < std::abs(other - known)))
      other = j;
  double slope = other >= 0 ? (at(other) - at(known)) / double(other - known)
                            : 0.5 * at(known) / (1.0 + 0.5 * double(known));
  return std::max(at(known) + slope * double(k - known), 1e-9);
}

int64_t llmc::driver::DraftLength::next() {
  ++steps;
  int64_t best = 0;
  double bestRate = 0;
  for (int64_t k = 0; k <= maxDraft; ++k) {
    double rate = expectedTokens(k) / stepSeconds(k);
    if (rate > bestRate) {
      bestRate = rate;
      best = k;
    }
  }
  // Explore a neighbour now and then so the cost of other lengths (and the
  // acceptance, when the best length drafts nothing) stays measured.
  if (steps % 8 == 0)
    return std::clamp<int64_t>(best + ((steps / 8) % 2 ? 1 : -1), 0,
                               maxDraft);
  return best;
}

void llmc::driver::DraftLength::observe(int64_t limit, int64_t drafted,
                          int64_t acceptedDrafts, double stepSeconds) {
  constexpr double kDecay = 0.95;
  accepted = accepted * kDecay + double(acceptedDrafts);
  rejected = rejected * kDecay + (acceptedDrafts < drafted ? 1.0 : 0.0);
  if (limit > 0) {
    asked = asked * kDecay + 1.0;
    matched = matched * kDecay + (drafted > 0 ? 1.0 : 0.0);
  }
  for (size_t j = 0; j < seconds.size(); ++j) {
    seconds[j] *= kDecay;
    weight[j] *= kDecay;
  }
  seconds[size_t(limit)] += stepSeconds;
  weight[size_t(limit)] += 1.0;
}

llvm::Expected<GreedyRun>
llmc::driver::generate(runtime::CompiledModel &model,
                       llvm::ArrayRef<int32_t> prompt, int64_t maxTokens,
                       int32_t eos, const Decoding &decoding,
                       llvm::function_ref<void(int32_t)> onToken) {
  GreedyRun run;
  model.reset();
  llvm::Expected<llvm::ArrayRef<float>> logits = model.forward(prompt);
  if (!logits)
    return logits.takeError();
  const runtime::ModelInfo &info = model.getInfo();
  runtime::Sampler sampler(decoding.sampling);
  // Each speculative step's draws come from a seed of this stream.
  std::mt19937_64 seeds(decoding.sampling.seed ^ 0x5bd1e995u);
  std::optional<DraftLength> adaptive;
  if (decoding.adaptive && info.specTokens > 1)
    adaptive.emplace(info.specTokens - 1);
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  history.reserve(prompt.size() + size_t(maxTokens) + 16);
  run.tokens.reserve(size_t(maxTokens));
  Stopwatch watch;
  int32_t next = sampler.sample(logits->take_back(size_t(info.vocabSize)));
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
    if (decoding.speculative && model.canSpeculate() &&
        model.getPosition() + info.specTokens <= info.contextLength()) {
      runtime::CompiledModel::SpecControl control;
      control.sampling = decoding.sampling;
      control.seed = seeds();
      if (adaptive)
        control.draftLimit = adaptive->next();
      Stopwatch stepWatch;
      if (control.draftLimit == 0) {
        // No draft this step: a plain decode step is the same token (or
        // distribution) without the verification path's overhead.
        logits = model.forward({next});
        if (!logits)
          return logits.takeError();
        next = sampler.sample(*logits);
        adaptive->observe(0, 0, 0, stepWatch.seconds());
        ++run.steps;
        continue;
      }
      llvm::Expected<runtime::CompiledModel::SpecStep> step =
          model.speculate(history, control);
      if (!step)
        return step.takeError();
      int64_t acceptedDrafts = int64_t(step->tokens.size()) - 1;
      if (adaptive)
        adaptive->observe(control.draftLimit, step->drafted, acceptedDrafts,
                          stepWatch.seconds());
      ++run.steps;
      run.drafted += step->drafted;
      run.acceptedDrafts += acceptedDrafts;
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
    next = sampler.sample(*logits);
  }
  run.seconds = watch.seconds();
  return std::move(run);
}

llvm::Expected<GreedyRun>
llmc::driver::generateGreedy(runtime::CompiledModel &model,
                             llvm::ArrayRef<int32_t> prompt, int64_t maxTokens,
                             int32_t eos, bool speculative,
                             llvm::function_ref<void(int32_t)> onToken) {
  Decoding decoding;
  decoding.speculative = speculative;
  decoding.adaptive = speculative && isAdaptiveSpec(model.getInfo().spec);
  return generate(model, prompt, maxTokens, eos, decoding, onToken);
}

bool llmc::driver::isAdaptiveSpec(llvm::StringRef spec) {
  api::SpecSpec parsed;
  return !spec.empty() && api::parseSpecSpec(spec, parsed).empty() &&
         parsed.adaptive;
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
