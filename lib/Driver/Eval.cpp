//===- Eval.cpp - `llmc eval` ---------------------------------------------===//
//
// Part of llmc. Runs a compressed model and the uncompressed one over the
// same token sequences, one token per step (every position reads the cache
// the way decoding does), and compares their next-token distributions.
//
//===----------------------------------------------------------------------===//

#include "Calibrate.h"
#include "LoadModel.h"
#include "Plot.h"
#include "Progress.h"
#include "llmc/Driver/Driver.h"
#include "llmc/Import/GGUF.h"
#include "llmc/Runtime/Tokenizer.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cmath>

using namespace llmc;
using namespace llmc::driver;

namespace {

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

/// Both models over the same sequences.
struct Comparison {
  ModelStats base, comp;
  double kldSum = 0, kldMax = 0;
  int64_t positions = 0, agree = 0;
  double kldMean() const { return positions ? kldSum / double(positions) : 0; }
  double top1() const {
    return positions ? double(agree) / double(positions) : 0;
  }
};

/// Runs `base` and `comp` over `seqs`, the first `prefill` tokens of each
/// as one call, then one token per step in lockstep (teacher forcing), and
/// compares their next-token distributions at every position.
llvm::Expected<Comparison>
compare(runtime::CompiledModel &base, runtime::CompiledModel &comp,
        const std::vector<std::vector<int32_t>> &seqs, int64_t prefill) {
  Comparison c;
  std::vector<double> logP, logQ;
  int64_t vocab = base.getInfo().vocabSize;
  for (const std::vector<int32_t> &seq : seqs) {
    base.reset();
    comp.reset();
    for (size_t i = 0; i < seq.size();) {
      size_t n = i == 0 ? std::max<size_t>(1, std::min(size_t(prefill),
                                                         seq.size()))
                        : 1;
      llvm::ArrayRef<int32_t> tokens(seq.data() + i, n);
      Stopwatch baseWatch;
      llvm::Expected<llvm::ArrayRef<float>> p = base.forward(tokens);
      double baseSeconds = baseWatch.seconds();
      if (!p)
        return p.takeError();
      Stopwatch compWatch;
      llvm::Expected<llvm::ArrayRef<float>> q = comp.forward(tokens);
      double compSeconds = compWatch.seconds();
      if (!q)
        return q.takeError();
      // Decode speed counts one-token steps only.
      if (n == 1) {
        c.base.seconds += baseSeconds;
        c.comp.seconds += compSeconds;
        ++c.base.steps;
        ++c.comp.steps;
      }
      for (size_t r = 0; r < n; ++r, ++i) {
        llvm::ArrayRef<float> rowP = p->slice(r * size_t(vocab), size_t(vocab));
        llvm::ArrayRef<float> rowQ = q->slice(r * size_t(vocab), size_t(vocab));
        logSoftmax(rowP, logP);
        logSoftmax(rowQ, logQ);
        double kld = 0;
        for (size_t v = 0; v < logP.size(); ++v)
          kld += std::exp(logP[v]) * (logP[v] - logQ[v]);
        kld = std::max(kld, 0.0);
        c.kldSum += kld;
        c.kldMax = std::max(c.kldMax, kld);
        c.agree += argmax(rowP) == argmax(rowQ);
        ++c.positions;
        if (i + 1 < seq.size()) {
          c.base.nll -= logP[size_t(seq[i + 1])];
          c.comp.nll -= logQ[size_t(seq[i + 1])];
          ++c.base.predictions;
          ++c.comp.predictions;
        }
      }
    }
  }
  return c;
}

llvm::json::Object statsJSON(const ModelStats &s, const runtime::ModelInfo &i) {
  return llvm::json::Object{{"perplexity", s.perplexity()},
                            {"weight_bytes", i.weightBytes},
                            {"kv_bytes_per_token", i.kvBytesPerToken},
                            {"kv_cache_bytes", i.cacheSize()},
                            {"decode_tokens_per_second", s.tokensPerSecond()}};
}

/// One report of `llmc eval --json` (and one entry of a sweep's results).
llvm::json::Object reportJSON(const CompressionArgs &setting,
                              const Comparison &c,
                              const runtime::ModelInfo &baseInfo,
                              const runtime::ModelInfo &compInfo) {
  return llvm::json::Object{{"quantize", setting.quantize},
                            {"reorder_outliers", setting.reorderOutliers},
                            {"activation_stats", setting.activationStats},
                            {"kv", setting.kv},
                            {"positions", c.positions},
                            {"kld_mean", c.kldMean()},
                            {"kld_max", c.kldMax},
                            {"top1_agreement", c.top1()},
                            {"baseline", statsJSON(c.base, baseInfo)},
                            {"compressed", statsJSON(c.comp, compInfo)}};
}

/// The options of one setting, as on the command line.
std::string describe(const CompressionArgs &setting) {
  llvm::SmallVector<std::string> parts;
  if (!setting.quantize.empty())
    parts.push_back("--quantize " + setting.quantize);
  if (setting.reorderOutliers)
    parts.push_back("--reorder-outliers");
  if (!setting.activationStats.empty())
    parts.push_back("--activation-stats " + setting.activationStats);
  if (!setting.kv.empty())
    parts.push_back("--kv " + setting.kv);
  return parts.empty() ? std::string("(nothing)") : llvm::join(parts, " ");
}

/// The settings `--sweep` runs without `--grid`: the weight formats, KIVI
/// widths and eviction budgets along the frontier, KIVI under eviction,
/// then two combinations with weights.
std::vector<CompressionArgs> defaultGrid() {
  std::vector<CompressionArgs> grid;
  for (const char *q : {"q8_0", "q6_k", "fp8_e4m3", "q4_k", "int4-g32-asym",
                        "q4_0", "mxfp4", "int3-g32-asym"})
    grid.push_back({q, false, "", ""});
  grid.push_back({"q4_0", true, "", ""});
  for (const char *kv : {"kivi8", "kivi4", "kivi2", "kivi4-r32", "kivi2-r32",
                         "window-b256", "window-b128", "window-b64",
                         "window-b32", "h2o-b256", "h2o-b128", "h2o-b64",
                         "h2o-b32"})
    grid.push_back({"", false, kv, ""});
  for (const char *kv : {"kivi4,window-b128", "kivi4-g8-r8,window-b128"})
    grid.push_back({"", false, kv, ""});
  grid.push_back({"q8_0", false, "kivi4", ""});
  grid.push_back({"q4_0,output.weight=q8_0", true, "h2o-b128", ""});
  return grid;
}

/// Settings from a `--grid` file: one per line, `--quantize FMT`,
/// `--reorder-outliers` and `--kv SPEC` in any combination; `#` comments.
llvm::Expected<std::vector<CompressionArgs>> readGrid(llvm::StringRef path,
                                                      llvm::StringRef text) {
  std::vector<CompressionArgs> grid;
  llvm::SmallVector<llvm::StringRef> lines;
  text.split(lines, '\n');
  for (auto [number, raw] : llvm::enumerate(lines)) {
    llvm::StringRef line = raw.split('#').first.trim();
    if (line.empty())
      continue;
    auto bad = [&, number = number](const llvm::Twine &why) {
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     path + ":" + llvm::Twine(number + 1) +
                                         ": " + why);
    };
    llvm::SmallVector<llvm::StringRef> words;
    line.split(words, ' ', -1, /*KeepEmpty=*/false);
    CompressionArgs setting;
    for (size_t i = 0; i < words.size(); ++i) {
      if (words[i] == "--reorder-outliers") {
        setting.reorderOutliers = true;
        continue;
      }
      if ((words[i] != "--quantize" && words[i] != "--kv" &&
           words[i] != "--activation-stats") ||
          i + 1 == words.size())
        return bad("expected --quantize FMT, --kv SPEC, --activation-stats "
                   "FILE or --reorder-outliers, got '" +
                   words[i] + "'");
      std::string &value = words[i] == "--kv"         ? setting.kv
                           : words[i] == "--quantize" ? setting.quantize
                                                      : setting.activationStats;
      value = words[i + 1].str();
      ++i;
    }
    if (!setting.quantize.empty())
      if (std::string error = api::validateQuantizeSpec(setting.quantize);
          !error.empty())
        return bad("--quantize: " + error);
    if (!setting.kv.empty()) {
      api::KVSpec spec;
      if (std::string error = api::parseKVSpec(setting.kv, spec);
          !error.empty())
        return bad("--kv " + error);
    }
    grid.push_back(std::move(setting));
  }
  if (grid.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": no settings (one per line)");
  return grid;
}

/// `llmc eval --sweep DIR`: every setting of `grid` against `base` on the
/// same sequences; writes DIR/results.json, DIR/table.md and
/// DIR/frontier.png (mean KLD against the bytes of weights plus KV cache).
int runSweep(Context &ctx, const std::string &model, const std::string &dir,
             const std::vector<CompressionArgs> &grid,
             runtime::CompiledModel &base,
             const std::vector<std::vector<int32_t>> &seqs, int64_t prefill,
             const api::CompileOptions &baseOptions, bool json) {
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return ctx.fail(dir + ": cannot create the sweep folder: " + ec.message());
  const runtime::ModelInfo &baseInfo = base.getInfo();
  int64_t baseBytes = baseInfo.weightBytes + baseInfo.cacheSize();
  llvm::json::Array results;
  std::string table;
  llvm::raw_string_ostream os(table);
  os << "Sweep of " << model << ": " << seqs.size() << " sequences x "
     << (seqs.empty() ? 0 : seqs.front().size())
     << " tokens, each setting against the uncompressed model.\n\n"
     << "| options | weight bytes | KV cache bytes | x bytes | mean KLD | "
        "perplexity | top-1 | decode tok/s |\n"
     << "|---|---|---|---|---|---|---|---|\n";
  PlotSeries weights{"weights", 0x1f77b4, {}}, cache{"KV cache", 0xd62728, {}},
      both{"weights + KV cache", 0x2ca02c, {}};
  bool baselineRow = false;
  for (auto [index, setting] : llvm::enumerate(grid)) {
    api::CompileOptions options = baseOptions;
    options.quantize = setting.quantize;
    options.reorderOutliers = setting.reorderOutliers;
    options.kv = setting.kv;
    options.activationStats = setting.activationStats;
    ctx.err << "llmc eval: sweep " << index + 1 << "/" << grid.size() << ": "
            << describe(setting) << "\n";
    llvm::Expected<LoadedModel> loaded = loadOrCompile(model, options, ctx.err);
    if (!loaded)
      return ctx.fail(loaded.takeError());
    llvm::Expected<Comparison> c =
        compare(base, *loaded->model, seqs, prefill);
    if (!c)
      return ctx.fail(c.takeError());
    const runtime::ModelInfo &info = loaded->model->getInfo();
    if (!baselineRow) {
      os << llvm::format("| (baseline) | %lld | %lld | 1.000 | 0 | %.4f | "
                         "100%% | %.0f |\n",
                         (long long)baseInfo.weightBytes,
                         (long long)baseInfo.cacheSize(), c->base.perplexity(),
                         c->base.tokensPerSecond());
      baselineRow = true;
    }
    int64_t bytes = info.weightBytes + info.cacheSize();
    os << "| `" << describe(setting) << "` "
       << llvm::format("| %lld | %lld | %.3f | %.5f | %.4f | %.2f%% | %.0f |\n",
                       (long long)info.weightBytes, (long long)info.cacheSize(),
                       double(bytes) / double(baseBytes), c->kldMean(),
                       c->comp.perplexity(), 100.0 * c->top1(),
                       c->comp.tokensPerSecond());
    bool compressesWeights = !setting.quantize.empty() || setting.reorderOutliers;
    PlotSeries &series = compressesWeights && !setting.kv.empty() ? both
                         : compressesWeights                    ? weights
                                                                : cache;
    std::string label = setting.quantize;
    if (setting.reorderOutliers)
      label += "+reorder";
    if (!setting.kv.empty())
      label += (label.empty() ? "" : "+") + setting.kv;
    series.points.push_back({double(bytes), c->kldMean(), label});
    results.push_back(reportJSON(setting, *c, baseInfo, info));
  }

  auto write = [&](llvm::StringRef name,
                   llvm::StringRef contents) -> std::string {
    std::string path = (dir + "/" + name).str();
    std::error_code ec;
    llvm::raw_fd_ostream out(path, ec);
    if (ec)
      return path + ": cannot write: " + ec.message();
    out << contents;
    return "";
  };
  std::string jsonText;
  llvm::raw_string_ostream(jsonText)
      << llvm::formatv("{0:2}", llvm::json::Value(llvm::json::Object{
                                    {"model", model},
                                    {"sequences", int64_t(seqs.size())},
                                    {"results", std::move(results)}}))
      << "\n";
  PlotOptions plot;
  plot.title = "KL divergence against bytes: " +
               llvm::sys::path::filename(model).str();
  plot.xLabel = "weights + KV cache bytes";
  plot.yLabel = "mean KL divergence (nats)";
  plot.logX = plot.logY = true;
  for (std::string error :
       {write("results.json", jsonText), write("table.md", table),
        writeScatterPNG(dir + "/frontier.png", plot, {weights, cache, both})})
    if (!error.empty())
      return ctx.fail(error);
  if (json)
    ctx.out << jsonText;
  else
    ctx.out << table << "\nwrote " << dir << "/results.json, " << dir
            << "/table.md and " << dir << "/frontier.png\n";
  return 0;
}

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
  addModelRunOptions(parser, threads, context, tokenizerPath);
  int64_t prefill = 0;
  parser.option("--prefill", prefill, "N",
                "run the first N tokens of each sequence as one prefill call "
                "(a prompt: what SnapKV selects from), the rest one token per "
                "step (default 0: every token one step)");
  std::string sweepDir, gridFile;
  parser.option("--sweep", sweepDir, "DIR",
                "run a grid of settings instead (weight formats, KIVI widths, "
                "eviction budgets, or --grid) and write DIR/results.json, "
                "DIR/table.md and DIR/frontier.png (KLD against bytes)");
  parser.option("--grid", gridFile, "FILE",
                "the settings of --sweep, one per line (e.g. "
                "'--quantize q4_0 --kv kivi4')");
  parser.addJson(json);
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;
  if (!gridFile.empty() && sweepDir.empty())
    return parser.usageError(ctx, "--grid needs --sweep DIR");
  if (!sweepDir.empty() && (!compression.quantize.empty() ||
                            compression.reorderOutliers ||
                            !compression.kv.empty()))
    return parser.usageError(ctx, "--sweep runs its grid of settings; give "
                                  "them with --grid, not --quantize, "
                                  "--reorder-outliers or --kv");
  if (tokens < 2)
    return parser.usageError(ctx, "--tokens must be at least 2");
  if (prefill < 0 || prefill >= tokens)
    return parser.usageError(ctx, "--prefill must be in [0, --tokens)");
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
  std::vector<CompressionArgs> grid;
  if (!sweepDir.empty()) {
    if (gridFile.empty()) {
      grid = defaultGrid();
    } else {
      llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> text =
          llvm::MemoryBuffer::getFile(gridFile, /*IsText=*/true);
      if (!text)
        return ctx.fail(gridFile + ": " + text.getError().message());
      llvm::Expected<std::vector<CompressionArgs>> read =
          readGrid(gridFile, (*text)->getBuffer());
      if (!read)
        return ctx.fail(read.takeError());
      grid = std::move(*read);
    }
  }
  llvm::Expected<LoadedModel> base = loadOrCompile(model, baseOptions, ctx.err);
  if (!base)
    return ctx.fail(base.takeError());
  std::optional<LoadedModel> compressed;
  if (sweepDir.empty()) {
    llvm::Expected<LoadedModel> loaded =
        loadOrCompile(model, compressedOptions, ctx.err);
    if (!loaded)
      return ctx.fail(loaded.takeError());
    compressed = std::move(*loaded);
  }
  runtime::CompiledModel::setThreads(threads);
  runtime::CompiledModel &baseModel = *base->model;
  const runtime::ModelInfo &info = baseModel.getInfo();
  if (tokens > info.contextLength())
    return parser.usageError(ctx, "--tokens " + llvm::Twine(tokens) +
                                      " exceeds the context of " +
                                      llvm::Twine(info.contextLength()) +
                                      " tokens (see --context)");

  llvm::Expected<runtime::Tokenizer> tokenizer =
      loadTokenizer(info, tokenizerPath);
  if (!tokenizer)
    return ctx.fail(tokenizer.takeError());

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
    seqs = textSequences(*tokenizer, *text, tokens, sequences);
    if (seqs.empty())
      return ctx.fail(
          textFile + ": " +
          llvm::Twine(tokenizer->encode(*text, /*addBos=*/true).size()) +
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
      prompts = defaultPrompts();
    }
    llvm::Expected<std::vector<std::vector<int32_t>>> greedy =
        greedySequences(baseModel, *tokenizer, prompts, tokens);
    if (!greedy)
      return ctx.fail(greedy.takeError());
    seqs = std::move(*greedy);
  }

  if (!sweepDir.empty())
    return runSweep(ctx, model, sweepDir, grid, baseModel, seqs, prefill,
                    baseOptions, json);

  runtime::CompiledModel &compModel = *compressed->model;
  llvm::Expected<Comparison> result =
      compare(baseModel, compModel, seqs, prefill);
  if (!result)
    return ctx.fail(result.takeError());
  const Comparison &c = *result;
  const runtime::ModelInfo &compInfo = compModel.getInfo();

  if (json) {
    llvm::json::Object report = reportJSON(compression, c, info, compInfo);
    report["model"] = model;
    report["sequences"] = int64_t(seqs.size());
    report["tokens_per_sequence"] = tokens;
    report["prefill"] = prefill;
    ctx.out << llvm::json::Value(std::move(report)) << "\n";
    return 0;
  }
  ctx.out << "model " << model << ": " << seqs.size() << " sequences x "
          << tokens << " tokens, compressed with " << describe(compression)
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
                          c.base.perplexity(), c.comp.perplexity());
  ctx.out << llvm::format("%-22s %14.1f %14.1f\n", "decode tokens/s",
                          c.base.tokensPerSecond(), c.comp.tokensPerSecond());
  ctx.out << llvm::format("mean KL divergence %.6f nats (max %.4f), top-1 "
                          "agreement %.2f%% (%lld of %lld positions)\n",
                          c.kldMean(), c.kldMax, 100.0 * c.top1(),
                          (long long)c.agree, (long long)c.positions);
  return 0;
}
