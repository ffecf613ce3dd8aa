//===- Eval.cpp - `llmc eval` ---------------------------------------------===//
//
// Part of llmc. Runs a compressed model and the uncompressed one over the
// same token sequences, one token per step (every position reads the cache
// the way decoding does), and compares their next-token distributions.
//
//===----------------------------------------------------------------------===//

#include "LoadModel.h"
#include "Progress.h"
#include "llmc/Driver/Driver.h"
#include "llmc/Import/GGUF.h"
#include "llmc/Runtime/Tokenizer.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cmath>

using namespace llmc;
using namespace llmc::driver;

namespace {

/// Story openings for models trained on simple English (the default).
const char *const kDefaultPrompts[] = {
    "Once upon a time, there was a little girl named Lily.",
    "One day, Tom and his dog went to the park.",
    "The sun was shining and the birds were singing.",
    "Sara had a red ball. She liked to play with it every day.",
};

/// log-softmax of `logits` into `out` (double precision).
void logSoftmax(llvm::ArrayRef<float> logits, std::vector<double> &out) {
  double maxv = -INFINITY;
  for (float v : logits)
    maxv = std::max(maxv, double(v));
  double sum = 0;
  for (float v : logits)
    sum += std::exp(double(v) - maxv);
  double lse = maxv + std::log(sum);
  out.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    out[i] = double(logits[i]) - lse;
}

int64_t argmax(llvm::ArrayRef<float> logits) {
  int64_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best])
      best = int64_t(i);
  return best;
}

/// Per-model totals over all evaluated positions.
struct ModelStats {
  double nll = 0; // summed negative log-likelihood of the next tokens
  int64_t predictions = 0;
  double seconds = 0;
  int64_t steps = 0;
  double perplexity() const {
    return predictions ? std::exp(nll / double(predictions)) : 0;
  }
  double tokensPerSecond() const { return seconds > 0 ? steps / seconds : 0; }
};

} // namespace

int llmc::driver::runEval(llvm::ArrayRef<std::string> args, Context &ctx) {
  std::string model, promptsFile, textFile, tokenizerPath;
  int64_t tokens = 512, sequences = 4, threads = 0, context = 0;
  bool json = false;
  ArgParser parser(
      "eval", "Compare a compressed model with the uncompressed one: mean KL "
              "divergence of next-token distributions, top-1 agreement, "
              "perplexity, weight and KV bytes, decode speed.");
  parser.positional("MODEL", model, "a GGUF model or Hugging Face directory");
  CompressionArgs compression;
  addCompressionOptions(parser, compression);
  parser.option("--tokens", tokens, "N",
                "tokens per sequence (default 512, at most the context)");
  parser.option("--prompts", promptsFile, "FILE",
                "one prompt per line; each is continued greedily by the "
                "uncompressed model to --tokens (default: built-in stories)");
  parser.option("--text", textFile, "FILE",
                "evaluate on this text instead, cut into --sequences "
                "sequences of --tokens");
  parser.option("--sequences", sequences, "N",
                "sequences taken from --text (default 4)");
  parser.option("--threads", threads, "N",
                "threads the kernels run on (default 0: one per core)");
  parser.option("--context", context, "N",
                "KV cache capacity when compiling (default: the model's)");
  parser.option("--tokenizer", tokenizerPath, "FILE",
                "a GGUF file whose vocabulary to use (default: the model's)");
  parser.addJson(json);
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;
  if (tokens < 2)
    return parser.usageError(ctx, "--tokens must be at least 2");
  if (sequences < 1)
    return parser.usageError(ctx, "--sequences must be at least 1");
  if (threads < 0 || context < 0)
    return parser.usageError(ctx, "--threads and --context must be >= 0");
  if (!promptsFile.empty() && !textFile.empty())
    return parser.usageError(ctx, "give --prompts or --text, not both");
  if (!llvm::sys::fs::exists(model))
    return ctx.fail(model + ": no such file or directory");

  api::CompileOptions baseOptions;
  baseOptions.contextLength = context;
  api::CompileOptions compressedOptions = baseOptions;
  if (std::optional<int> exit =
          applyCompressionOptions(compression, compressedOptions, parser, ctx))
    return *exit;
  llvm::Expected<LoadedModel> base = loadOrCompile(model, baseOptions, ctx.err);
  if (!base)
    return ctx.fail(base.takeError());
  llvm::Expected<LoadedModel> compressed =
      loadOrCompile(model, compressedOptions, ctx.err);
  if (!compressed)
    return ctx.fail(compressed.takeError());
  runtime::CompiledModel::setThreads(threads);
  runtime::CompiledModel &baseModel = *base->model,
                         &compModel = *compressed->model;
  const runtime::ModelInfo &info = baseModel.getInfo();
  if (tokens > info.contextLength())
    return parser.usageError(ctx, "--tokens " + llvm::Twine(tokens) +
                                      " exceeds the context of " +
                                      llvm::Twine(info.contextLength()) +
                                      " tokens (see --context)");

  std::string vocabulary = tokenizerPath.empty() ? info.source : tokenizerPath;
  if (llvm::sys::fs::is_directory(vocabulary))
    return ctx.fail(vocabulary + ": llmc does not read the tokenizer of a "
                                 "Hugging Face directory; give --tokenizer "
                                 "FILE.gguf");
  llvm::Expected<std::unique_ptr<gguf::File>> vocabFile =
      gguf::File::open(vocabulary);
  if (!vocabFile)
    return ctx.fail(vocabFile.takeError());
  llvm::Expected<runtime::Tokenizer> tokenizer =
      runtime::Tokenizer::fromGGUF(**vocabFile);
  if (!tokenizer)
    return ctx.fail(tokenizer.takeError());
  if (tokenizer->getVocabSize() > info.vocabSize)
    return ctx.fail(vocabulary + ": the tokenizer has " +
                    llvm::Twine(tokenizer->getVocabSize()) +
                    " tokens but the model's vocabulary has " +
                    llvm::Twine(info.vocabSize));

  // The sequences: cut from --text, or prompts continued greedily by the
  // uncompressed model (never emitting end-of-sequence, so every sequence
  // has the full length).
  std::vector<std::vector<int32_t>> seqs;
  auto readFile = [&](const std::string &path)
      -> llvm::Expected<std::string> {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
        llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
    if (!buffer)
      return llvm::createStringError(buffer.getError(),
                                     path + ": " +
                                         buffer.getError().message());
    return (*buffer)->getBuffer().str();
  };
  if (!textFile.empty()) {
    llvm::Expected<std::string> text = readFile(textFile);
    if (!text)
      return ctx.fail(text.takeError());
    std::vector<int32_t> ids = tokenizer->encode(*text, /*addBos=*/true);
    for (size_t start = 0;
         start + size_t(tokens) <= ids.size() && int64_t(seqs.size()) < sequences;
         start += size_t(tokens))
      seqs.emplace_back(ids.begin() + start, ids.begin() + start + tokens);
    if (seqs.empty())
      return ctx.fail(textFile + ": " + llvm::Twine(ids.size()) +
                      " tokens, fewer than one sequence of --tokens " +
                      llvm::Twine(tokens));
  } else {
    std::vector<std::string> prompts;
    if (!promptsFile.empty()) {
      llvm::Expected<std::string> text = readFile(promptsFile);
      if (!text)
        return ctx.fail(text.takeError());
      llvm::SmallVector<llvm::StringRef> lines;
      llvm::StringRef(*text).split(lines, '\n', -1, /*KeepEmpty=*/false);
      for (llvm::StringRef line : lines)
        if (!line.trim().empty())
          prompts.push_back(line.trim().str());
      if (prompts.empty())
        return ctx.fail(promptsFile + ": no prompts (one per line)");
    } else {
      prompts.assign(std::begin(kDefaultPrompts), std::end(kDefaultPrompts));
    }
    for (const std::string &prompt : prompts) {
      std::vector<int32_t> ids = tokenizer->encode(prompt, /*addBos=*/true);
      if (int64_t(ids.size()) >= tokens)
        ids.resize(size_t(tokens));
      baseModel.reset();
      llvm::Expected<llvm::ArrayRef<float>> logits = baseModel.forward(ids);
      while (logits && int64_t(ids.size()) < tokens) {
        std::vector<float> last(logits->take_back(size_t(info.vocabSize)).begin(),
                                logits->end());
        if (tokenizer->getEos() >= 0 && tokenizer->getEos() < info.vocabSize)
          last[size_t(tokenizer->getEos())] = -INFINITY;
        int32_t next = int32_t(argmax(last));
        ids.push_back(next);
        if (int64_t(ids.size()) < tokens)
          logits = baseModel.forward({next});
      }
      if (!logits)
        return ctx.fail(logits.takeError());
      seqs.push_back(std::move(ids));
    }
  }

  // Teacher-forced, one token per step, both models in lockstep.
  ModelStats baseStats, compStats;
  double kldSum = 0, kldMax = 0;
  int64_t positions = 0, agree = 0;
  std::vector<double> logP, logQ;
  for (const std::vector<int32_t> &seq : seqs) {
    baseModel.reset();
    compModel.reset();
    for (size_t i = 0; i < seq.size(); ++i) {
      Stopwatch baseWatch;
      llvm::Expected<llvm::ArrayRef<float>> p = baseModel.forward({seq[i]});
      baseStats.seconds += baseWatch.seconds();
      if (!p)
        return ctx.fail(p.takeError());
      Stopwatch compWatch;
      llvm::Expected<llvm::ArrayRef<float>> q = compModel.forward({seq[i]});
      compStats.seconds += compWatch.seconds();
      if (!q)
        return ctx.fail(q.takeError());
      ++baseStats.steps;
      ++compStats.steps;
      logSoftmax(*p, logP);
      logSoftmax(*q, logQ);
      double kld = 0;
      for (size_t v = 0; v < logP.size(); ++v)
        kld += std::exp(logP[v]) * (logP[v] - logQ[v]);
      kld = std::max(kld, 0.0);
      kldSum += kld;
      kldMax = std::max(kldMax, kld);
      agree += argmax(*p) == argmax(*q);
      ++positions;
      if (i + 1 < seq.size()) {
        baseStats.nll -= logP[size_t(seq[i + 1])];
        compStats.nll -= logQ[size_t(seq[i + 1])];
        ++baseStats.predictions;
        ++compStats.predictions;
      }
    }
  }
  double kldMean = positions ? kldSum / double(positions) : 0;
  double top1 = positions ? double(agree) / double(positions) : 0;
  const runtime::ModelInfo &compInfo = compModel.getInfo();

  if (json) {
    auto stats = [](const ModelStats &s, const runtime::ModelInfo &i) {
      return llvm::json::Object{{"perplexity", s.perplexity()},
                                {"weight_bytes", i.weightBytes},
                                {"kv_bytes_per_token", i.kvBytesPerToken},
                                {"kv_cache_bytes", i.cacheSize()},
                                {"decode_tokens_per_second",
                                 s.tokensPerSecond()}};
    };
    ctx.out << llvm::json::Value(llvm::json::Object{
                   {"model", model},
                   {"quantize", compression.quantize},
                   {"reorder_outliers", compression.reorderOutliers},
                   {"kv", compression.kv},
                   {"sequences", int64_t(seqs.size())},
                   {"tokens_per_sequence", tokens},
                   {"positions", positions},
                   {"kld_mean", kldMean},
                   {"kld_max", kldMax},
                   {"top1_agreement", top1},
                   {"baseline", stats(baseStats, info)},
                   {"compressed", stats(compStats, compInfo)}})
            << "\n";
    return 0;
  }
  llvm::SmallVector<std::string> what;
  if (!compression.quantize.empty())
    what.push_back("weights " + compression.quantize);
  if (compression.reorderOutliers)
    what.push_back("reorder-outliers");
  if (!compression.kv.empty())
    what.push_back("KV " + compression.kv);
  ctx.out << "model " << model << ": " << seqs.size() << " sequences x "
          << tokens << " tokens, compressed with "
          << (what.empty() ? std::string("(nothing)") : llvm::join(what, " + "))
          << "\n";
  ctx.out << llvm::format("%-22s %14s %14s\n", "", "baseline", "compressed");
  ctx.out << llvm::format("%-22s %14lld %14lld\n", "weight bytes",
                          (long long)info.weightBytes,
                          (long long)compInfo.weightBytes);
  ctx.out << llvm::format("%-22s %14.1f %14.1f\n", "KV bytes per token",
                          info.kvBytesPerToken, compInfo.kvBytesPerToken);
  ctx.out << llvm::format("%-22s %14lld %14lld\n", "KV cache bytes",
                          (long long)info.cacheSize(),
                          (long long)compInfo.cacheSize());
  ctx.out << llvm::format("%-22s %14.4f %14.4f\n", "perplexity",
                          baseStats.perplexity(), compStats.perplexity());
  ctx.out << llvm::format("%-22s %14.1f %14.1f\n", "decode tokens/s",
                          baseStats.tokensPerSecond(),
                          compStats.tokensPerSecond());
  ctx.out << llvm::format("mean KL divergence %.6f nats (max %.4f), top-1 "
                          "agreement %.2f%% (%lld of %lld positions)\n",
                          kldMean, kldMax, 100.0 * top1, (long long)agree,
                          (long long)positions);
  return 0;
}
