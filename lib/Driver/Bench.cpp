//===- Bench.cpp - `llmc bench` -------------------------------------------===//
//
// Part of llmc. Prefill and decode throughput of a compiled model, the
// machine's read bandwidth at the same thread count, and how close decode
// comes to the memory roofline: a decode step must read every weight it
// uses plus the KV cache, so bytes/token x tokens/s can at best reach the
// read bandwidth.
//
//===----------------------------------------------------------------------===//

#include "LoadModel.h"
#include "Progress.h"
#include "llmc/API/ModelCompiler.h"
#include "llmc/Driver/Driver.h"
#include "llmc/Import/GGUF.h"
#include "llmc/Import/Safetensors.h"
#include "llmc/Runtime/Bandwidth.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include <algorithm>
#include <cmath>
#include <map>
#include <thread>

using namespace llmc;
using namespace llmc::driver;
using llvm::StringRef;

namespace {

/// What a model's weights weigh, from its source file's tensor table.
struct WeightStats {
  uint64_t params = 0;
  uint64_t bytes = 0;
  /// Bytes a decode step reads: every weight except the token embedding
  /// table, of which one row (the table counts in full, once, when the
  /// output projection is tied to it).
  uint64_t bytesPerToken = 0;
  bool tiedOutput = false;
  /// Bytes by element type ("Q4_0" -> bytes).
  std::map<std::string, uint64_t> bytesByType;
  int32_t bos = 1;

  /// The type holding the most bytes.
  std::string dominantType() const {
    std::string best = "-";
    uint64_t most = 0;
    for (const auto &[type, n] : bytesByType)
      if (n > most) {
        most = n;
        best = type;
      }
    return best;
  }
};

/// One weight of `elements` elements and `bytes` bytes; the embedding
/// table has `rows` rows.
void addWeight(WeightStats &stats, StringRef type, uint64_t elements,
               uint64_t bytes, bool embedding, uint64_t rows) {
  stats.params += elements;
  stats.bytes += bytes;
  stats.bytesByType[type.str()] += bytes;
  if (!embedding || stats.tiedOutput)
    stats.bytesPerToken += bytes;
  else
    stats.bytesPerToken += rows ? bytes / rows : bytes;
}

llvm::Expected<WeightStats> readWeightStats(StringRef source) {
  WeightStats stats;
  if (!llvm::sys::fs::is_directory(source)) {
    llvm::Expected<std::unique_ptr<gguf::File>> file = gguf::File::open(source);
    if (!file)
      return file.takeError();
    stats.tiedOutput = !(*file)->findTensor("output.weight");
    stats.bos =
        int32_t((*file)->getInt("tokenizer.ggml.bos_token_id").value_or(1));
    for (const gguf::TensorInfo &t : (*file)->getTensors())
      addWeight(stats, gguf::ggmlTypeName(t.type), t.getNumElements(), t.nbytes,
                t.name == "token_embd.weight",
                t.dims.size() > 1 ? t.dims[1] : 1);
    return stats;
  }
  // A Hugging Face directory: every *.safetensors file in it.
  std::vector<std::unique_ptr<safetensors::File>> files;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(source, ec), end; it != end && !ec;
       it.increment(ec))
    if (StringRef(it->path()).ends_with(".safetensors")) {
      llvm::Expected<std::unique_ptr<safetensors::File>> file =
          safetensors::File::open(it->path());
      if (!file)
        return file.takeError();
      files.push_back(std::move(*file));
    }
  if (ec)
    return llvm::createStringError(ec, source + ": " + ec.message());
  stats.tiedOutput = true;
  for (const auto &file : files)
    if (file->findTensor("lm_head.weight"))
      stats.tiedOutput = false;
  for (const auto &file : files)
    for (const safetensors::TensorInfo &t : file->getTensors())
      addWeight(stats, safetensors::dtypeName(t.dtype), t.getNumElements(),
                t.nbytes, t.name == "model.embed_tokens.weight",
                t.shape.empty() ? 1 : uint64_t(t.shape[0]));
  return stats;
}

struct Summary {
  double median = 0, min = 0, max = 0;
  std::vector<double> samples;
};

Summary summarize(std::vector<double> samples) {
  Summary s;
  s.samples = samples;
  if (samples.empty())
    return s;
  std::sort(samples.begin(), samples.end());
  size_t n = samples.size();
  s.min = samples.front();
  s.max = samples.back();
  s.median = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  return s;
}

llvm::json::Object toJSON(const Summary &s) {
  return llvm::json::Object{{"median", s.median},
                            {"min", s.min},
                            {"max", s.max},
                            {"samples", llvm::json::Array(s.samples)}};
}

llvm::json::Object toJSON(const runtime::BandwidthResult &b) {
  return llvm::json::Object{{"best_bytes_per_second", b.bestBytesPerSecond},
                            {"median_bytes_per_second", b.medianBytesPerSecond},
                            {"samples", llvm::json::Array(b.samples)},
                            {"bytes", int64_t(b.bytes)},
                            {"repetitions", int64_t(b.samples.size())},
                            {"threads", b.threads},
                            {"kernel", b.kernel}};
}

/// "12.3 MB" (decimal units, as bandwidths are quoted).
std::string decimalBytes(double bytes) {
  const char *units[] = {"B", "kB", "MB", "GB", "TB"};
  unsigned unit = 0;
  while (bytes >= 1000 && unit + 1 < std::size(units)) {
    bytes /= 1000;
    ++unit;
  }
  return llvm::formatv("{0:F2} {1}", bytes, units[unit]).str();
}

std::string count(double n) {
  const char *units[] = {"", " K", " M", " B"};
  unsigned unit = 0;
  while (n >= 1000 && unit + 1 < std::size(units)) {
    n /= 1000;
    ++unit;
  }
  return unit ? llvm::formatv("{0:F2}{1}", n, units[unit]).str()
              : std::to_string(int64_t(n));
}

bool allFinite(llvm::ArrayRef<float> values) {
  return llvm::all_of(values, [](float v) { return std::isfinite(v); });
}

} // namespace

int llmc::driver::runBench(llvm::ArrayRef<std::string> args, Context &ctx) {
  std::string model;
  bool hasModel = false, json = false, bandwidthOnly = false;
  int64_t promptTokens = 128, genTokens = 64, repetitions = 3, context = 0,
          bandwidthMiB = int64_t(runtime::kDefaultBandwidthBytes >> 20);
  int64_t threads = int64_t(std::max(1u, std::thread::hardware_concurrency()));
  ArgParser parser(
      "bench",
      "Measures prefill and decode throughput of a model, the machine's "
      "read\nbandwidth at the same thread count, and decode's fraction of "
      "the memory\nroofline: bytes read per decoded token x decode tok/s / "
      "read bandwidth.\nBytes per token: every weight but the token "
      "embedding table (one row of it;\nall of it when the output is tied "
      "to it), plus the f32 KV cache read at\nthe mean decode position.\n\n"
      "Each repetition prefills N synthetic tokens (BOS, then ids drawn from "
      "the\nvocabulary) and decodes G tokens greedily, after one untimed "
      "warm-up;\nrates are the median (min, max) over the repetitions. "
      "Bandwidth is the\nbest of 5 passes over the buffer.");
  parser.positional("MODEL", model,
                    "a GGUF model, Hugging Face directory or compiled "
                    "artifact (not needed with --bandwidth-only)",
                    /*optional=*/true, &hasModel);
  parser.option("--prompt-tokens", promptTokens, "N",
                "tokens to prefill (default 128)");
  parser.option("--gen-tokens", genTokens, "N",
                "tokens to decode (default 64)");
  parser.option("--threads", threads, "N",
                "threads (default: all cores, here " + std::to_string(threads) +
                    ")");
  parser.option("--repetitions", repetitions, "R",
                "timed repetitions (default 3)");
  parser.option("--context", context, "N",
                "KV cache capacity when compiling (default: the model's)");
  parser.option("--bandwidth-mib", bandwidthMiB, "MIB",
                "size of the bandwidth buffer in MiB (default 1024)");
  parser.flag("--bandwidth-only", bandwidthOnly,
              "only measure the read bandwidth");
  CompressionArgs compression;
  addCompressionOptions(parser, compression);
  std::string spec, promptText;
  std::string draftModel;
  addSpecOption(parser, spec, draftModel);
  parser.option("--prompt", promptText, "TEXT",
                "prefill this text (the model's tokenizer) instead of "
                "--prompt-tokens synthetic tokens");
  parser.addJson(json);
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;
  if (promptTokens < 1)
    return parser.usageError(ctx, "--prompt-tokens must be >= 1");
  if (genTokens < 1)
    return parser.usageError(ctx, "--gen-tokens must be >= 1");
  if (threads < 1 || threads > 4096)
    return parser.usageError(ctx, "--threads must be in [1, 4096]");
  if (repetitions < 1 || repetitions > 1000)
    return parser.usageError(ctx, "--repetitions must be in [1, 1000]");
  if (context < 0)
    return parser.usageError(ctx, "--context must be >= 0");
  if (bandwidthMiB < 1 || bandwidthMiB > (int64_t(1) << 20))
    return parser.usageError(ctx, "--bandwidth-mib must be in [1, 1048576]");
  if (!hasModel && !bandwidthOnly)
    return parser.usageError(ctx, "missing MODEL");
  if (hasModel && bandwidthOnly)
    return parser.usageError(ctx, "--bandwidth-only takes no MODEL");

  auto measureBandwidth = [&]() {
    return runtime::measureReadBandwidthDetailed(
        int(threads), size_t(bandwidthMiB) << 20, /*repetitions=*/5);
  };
  auto bandwidthLine = [&](const runtime::BandwidthResult &b) {
    return llvm::formatv("{0:F2} GB/s (best of {1} over {2} MiB, {3} "
                         "threads, {4}; median {5:F2} GB/s)",
                         b.bestBytesPerSecond / 1e9, b.samples.size(),
                         b.bytes >> 20, b.threads, b.kernel,
                         b.medianBytesPerSecond / 1e9)
        .str();
  };
  if (bandwidthOnly) {
    llvm::Expected<runtime::BandwidthResult> bandwidth = measureBandwidth();
    if (!bandwidth)
      return ctx.fail(bandwidth.takeError());
    if (json)
      ctx.out << llvm::json::Value(llvm::json::Object{
                     {"threads", threads}, {"bandwidth", toJSON(*bandwidth)}})
              << "\n";
    else
      ctx.out << "read bandwidth  " << bandwidthLine(*bandwidth) << "\n";
    return 0;
  }

  if (!llvm::sys::fs::exists(model))
    return ctx.fail(model + ": no such file or directory");
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
          promptText.empty() ? std::vector<std::string>()
                             : std::vector{promptText},
          genTokens, threads, "", ctx.err))
    return ctx.fail(std::move(err));
  llvm::Expected<LoadedModel> loaded = loadOrCompile(model, options, ctx.err);
  if (!loaded)
    return ctx.fail(loaded.takeError());
  runtime::CompiledModel &runner = *loaded->model;
  const std::string &library = loaded->library;
  bool compiled = loaded->compiled;
  double compileSeconds = loaded->compileSeconds;
  const runtime::ModelInfo &info = runner.getInfo();
  runtime::CompiledModel::setThreads(threads);
  std::vector<int32_t> textPrompt;
  if (!promptText.empty()) {
    llvm::Expected<runtime::Tokenizer> tokenizer = loadTokenizer(info, "");
    if (!tokenizer)
      return ctx.fail(tokenizer.takeError());
    textPrompt = tokenizer->encode(promptText, /*addBos=*/true);
    promptTokens = int64_t(textPrompt.size());
  }
  if (promptTokens + genTokens > info.contextLength())
    return ctx.fail("--prompt-tokens + --gen-tokens = " +
                    llvm::Twine(promptTokens + genTokens) +
                    " exceeds the context of " + llvm::Twine(info.contextLength()) +
                    " tokens (see --context)");

  llvm::Expected<WeightStats> stats = readWeightStats(info.source);
  if (!stats)
    return ctx.fail(stats.takeError());

  // The synthetic prompt: BOS, then ids from a fixed LCG over the
  // vocabulary past the first three (usually <unk>, <s>, </s>).
  const int64_t vocab = info.vocabSize;
  std::vector<int32_t> prompt = textPrompt;
  if (prompt.empty()) {
    prompt.reserve(size_t(promptTokens));
    prompt.push_back(stats->bos >= 0 && stats->bos < vocab ? stats->bos : 0);
    uint64_t lcg = 0x853c49e6748fea9bull;
    for (int64_t i = 1; i < promptTokens; ++i) {
      lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
      prompt.push_back(
          vocab > 3 ? int32_t(3 + (lcg >> 33) % uint64_t(vocab - 3)) : 0);
    }
  }

  bool finite = true;
  // One pass of the benchmark; times into the two vectors when given.
  auto pass = [&](int64_t gen, std::vector<double> *prefillRates,
                  std::vector<double> *decodeRates) -> llvm::Error {
    runner.reset();
    Stopwatch prefillWatch;
    llvm::Expected<llvm::ArrayRef<float>> logits = runner.forward(prompt);
    if (!logits)
      return logits.takeError();
    double prefillSeconds = prefillWatch.seconds();
    llvm::ArrayRef<float> last = logits->take_back(size_t(vocab));
    finite = finite && allFinite(last);
    int32_t next = argmax(last);
    Stopwatch decodeWatch;
    for (int64_t i = 0; i < gen; ++i) {
      logits = runner.forward({next});
      if (!logits)
        return logits.takeError();
      next = argmax(*logits);
    }
    double decodeSeconds = decodeWatch.seconds();
    finite = finite && allFinite(*logits);
    if (prefillRates)
      prefillRates->push_back(
          prefillSeconds > 0 ? double(promptTokens) / prefillSeconds : 0);
    if (decodeRates)
      decodeRates->push_back(decodeSeconds > 0 ? double(gen) / decodeSeconds
                                               : 0);
    return llvm::Error::success();
  };
  // Warm-up: pages the weights in and settles the caches.
  if (llvm::Error err = pass(1, nullptr, nullptr))
    return ctx.fail(std::move(err));
  std::vector<double> prefillRates, decodeRates;
  for (int64_t r = 0; r < repetitions; ++r)
    if (llvm::Error err = pass(genTokens, &prefillRates, &decodeRates))
      return ctx.fail(std::move(err));
  if (!finite)
    return ctx.fail(model + ": the model produced non-finite logits");
  Summary prefill = summarize(prefillRates), decode = summarize(decodeRates);

  // Speculative decoding: greedy generation of --gen-tokens, plain and
  // speculative, alternating, in this same run; the tokens must agree.
  llvm::json::Object specJson;
  std::string specLine;
  if (runner.canSpeculate()) {
    std::vector<double> plainRates, specRates;
    GreedyRun plain, fast;
    for (int64_t r = 0; r < repetitions + 1; ++r) {
      llvm::Expected<GreedyRun> a =
          generateGreedy(runner, prompt, genTokens, /*eos=*/-1, false);
      if (!a)
        return ctx.fail(a.takeError());
      llvm::Expected<GreedyRun> b =
          generateGreedy(runner, prompt, genTokens, /*eos=*/-1, true);
      if (!b)
        return ctx.fail(b.takeError());
      if (a->tokens != b->tokens)
        return ctx.fail("--spec " + info.spec +
                        ": speculative decoding produced other tokens than "
                        "greedy decoding (a bug: it must be lossless)");
      if (r == 0)
        continue; // warm-up
      plainRates.push_back(double(a->tokens.size()) / a->seconds);
      specRates.push_back(double(b->tokens.size()) / b->seconds);
      plain = std::move(*a);
      fast = std::move(*b);
    }
    Summary plainRate = summarize(plainRates), specRate = summarize(specRates);
    double acceptance = fast.drafted > 0 ? double(fast.acceptedDrafts) /
                                               double(fast.drafted)
                                         : 0;
    double perStep = fast.steps > 0 ? double(fast.acceptedDrafts + fast.steps) /
                                          double(fast.steps)
                                    : 0;
    double speedup = plainRate.median > 0 ? specRate.median / plainRate.median
                                          : 0;
    specJson = llvm::json::Object{
        {"spec", info.spec},
        {"tokens", int64_t(fast.tokens.size())},
        {"steps", fast.steps},
        {"drafted", fast.drafted},
        {"accepted", fast.acceptedDrafts},
        {"acceptance", acceptance},
        {"tokens_per_step", perStep},
        {"plain_tokens_per_second", toJSON(plainRate)},
        {"spec_tokens_per_second", toJSON(specRate)},
        {"speedup", speedup},
        {"identical", true}};
    specLine = llvm::formatv("{0}: {1:F1} tok/s vs {2:F1} greedy ({3:F2}x); "
                             "acceptance {4:F1}% ({5} of {6} drafted), "
                             "{7:F2} tokens per step; same tokens",
                             info.spec, specRate.median, plainRate.median,
                             speedup, 100 * acceptance, fast.acceptedDrafts,
                             fast.drafted, perStep)
                   .str();
  }

  llvm::Expected<runtime::BandwidthResult> bandwidth = measureBandwidth();
  if (!bandwidth)
    return ctx.fail(bandwidth.takeError());

  // Decode step g (0-based) attends over promptTokens + g + 1 cached
  // positions; their mean over the decode phase:
  double kvPositions = double(promptTokens) + double(genTokens + 1) / 2;
  double kvBytesPerToken = 2.0 * double(info.layers) * double(info.kvHeads) *
                           double(info.headDim) * 4.0 * kvPositions;
  double bytesPerToken = double(stats->bytesPerToken) + kvBytesPerToken;
  double roofline =
      bandwidth->bestBytesPerSecond > 0
          ? bytesPerToken * decode.median / bandwidth->bestBytesPerSecond
          : 0;

  if (json) {
    llvm::json::Object types;
    for (const auto &[type, n] : stats->bytesByType)
      types[type] = int64_t(n);
    ctx.out << llvm::json::Value(llvm::json::Object{
                   {"model", model},
                   {"source", info.source},
                   {"artifact", library},
                   {"compiled", compiled},
                   {"compile_seconds", compileSeconds},
                   {"format", stats->dominantType()},
                   {"weight_bytes_by_type", std::move(types)},
                   {"params", int64_t(stats->params)},
                   {"weight_bytes", int64_t(stats->bytes)},
                   {"tied_output", stats->tiedOutput},
                   {"threads", threads},
                   {"prompt_tokens", promptTokens},
                   {"gen_tokens", genTokens},
                   {"repetitions", repetitions},
                   {"prefill_tokens_per_second", toJSON(prefill)},
                   {"decode_tokens_per_second", toJSON(decode)},
                   {"bandwidth", toJSON(*bandwidth)},
                   {"bandwidth_bytes_per_second",
                    bandwidth->bestBytesPerSecond},
                   {"weight_bytes_per_token", int64_t(stats->bytesPerToken)},
                   {"kv_bytes_per_token", kvBytesPerToken},
                   {"kv_positions", kvPositions},
                   {"bytes_per_token", bytesPerToken},
                   {"roofline_fraction", roofline},
                   {"logits_finite", finite},
                   {"speculative", std::move(specJson)}})
            << "\n";
    return 0;
  }

  auto row = [&](StringRef label, const llvm::Twine &value) {
    ctx.out << "  " << llvm::left_justify(label, 16) << value << "\n";
  };
  auto rate = [&](int64_t tokens, const Summary &s) {
    return llvm::formatv("{0:F1} tok/s over {1} tokens (median of {2}; min "
                         "{3:F1}, max {4:F1})",
                         s.median, tokens, s.samples.size(), s.min, s.max)
        .str();
  };
  std::string types;
  for (const auto &[type, n] : stats->bytesByType)
    types += (types.empty() ? "" : ", ") + type +
             llvm::formatv(" {0:F1}%",
                           100.0 * double(n) /
                               double(std::max<uint64_t>(stats->bytes, 1)))
                 .str();
  ctx.out << "llmc bench " << model << "\n";
  row("format", stats->dominantType() + " (" + types + ")" +
                    (stats->tiedOutput ? ", tied output" : ""));
  row("params", count(double(stats->params)));
  row("weight bytes", decimalBytes(double(stats->bytes)));
  row("threads", llvm::Twine(threads));
  row("prefill", rate(promptTokens, prefill));
  row("decode", rate(genTokens, decode));
  if (!specLine.empty())
    row("speculative", specLine);
  row("read bandwidth", bandwidthLine(*bandwidth));
  row("bytes/token", decimalBytes(bytesPerToken) + " (weights " +
                         decimalBytes(double(stats->bytesPerToken)) +
                         " + KV cache " + decimalBytes(kvBytesPerToken) +
                         " at " + llvm::formatv("{0:F1}", kvPositions).str() +
                         " positions)");
  row("roofline",
      llvm::formatv("{0:F1}% of read bandwidth in decode", 100.0 * roofline)
          .str());
  if (compiled)
    ctx.err << "llmc: compiled this run ("
            << llvm::format("%.1f s", compileSeconds) << ")\n";
  return 0;
}
