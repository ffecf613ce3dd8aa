//===- MemoryBudget.cpp - memory report and budget mode -------------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/API/MemoryBudget.h"
#include "dialects/llm/LLMOps.h"
#include "dialects/qmm/QMMDialect.h"
#include "dialects/qmm/QMMFormat.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/GlobPattern.h"
#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace llmc;
using namespace llmc::api;

std::string llmc::api::formatBytes(int64_t bytes) {
  static const char *names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = double(bytes);
  int unit = 0;
  while (std::fabs(value) >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  std::string s;
  llvm::raw_string_ostream os(s);
  if (unit == 0)
    os << bytes << " B";
  else
    os << llvm::format("%.2f", value) << " " << names[unit];
  return s;
}

//===----------------------------------------------------------------------===//
// Weights by format
//===----------------------------------------------------------------------===//

/// The name of a weight's storage format.
static std::string formatName(Type type) {
  if (auto packed = dyn_cast<qmm::PackedType>(type))
    return qmm::formatSpec(packed.getFormat().getInfo());
  Type element = cast<RankedTensorType>(type).getElementType();
  if (element.isF32())
    return "f32";
  if (element.isF16())
    return "f16";
  if (element.isBF16())
    return "bf16";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << element;
  return s;
}

std::vector<std::pair<std::string, int64_t>>
llmc::api::weightBytesByFormat(ModuleOp module, llvm::StringRef quantize) {
  // The format llmc-quantize-weights gives each float 2-D weight: the first
  // override whose glob matches its tensor name, else the default.
  std::string defaultFormat;
  std::vector<std::pair<llvm::GlobPattern, std::string>> rules;
  if (!quantize.empty()) {
    llvm::SmallVector<llvm::StringRef> parts;
    quantize.split(parts, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
    defaultFormat = parts.empty() ? "f32" : parts.front().str();
    for (llvm::StringRef part : llvm::ArrayRef(parts).drop_front()) {
      auto [glob, format] = part.split('=');
      llvm::Expected<llvm::GlobPattern> pattern =
          llvm::GlobPattern::create(glob);
      if (!pattern) {
        llvm::consumeError(pattern.takeError());
        continue;
      }
      rules.push_back({std::move(*pattern), format.str()});
    }
  }
  llvm::StringMap<int64_t> bytes;
  std::vector<std::string> order;
  auto add = [&](const std::string &format, int64_t n) {
    if (!bytes.count(format))
      order.push_back(format);
    bytes[format] += n;
  };
  // Weights that read the same bytes of the same file (a draft model that
  // is the target's own file) are mapped, hence resident, once.
  llvm::StringSet<> mapped;
  for (auto weight : module.getOps<llm::WeightOp>()) {
    auto tensor = dyn_cast<RankedTensorType>(weight.getType());
    if (quantize.empty() || !tensor || tensor.getRank() != 2) {
      std::string where =
          weight.getFile().str() + ":" + std::to_string(weight.getOffset());
      if (mapped.insert(where).second)
        add(formatName(weight.getType()), weight.getByteSize());
      continue;
    }
    std::string target = defaultFormat;
    for (auto &[glob, format] : rules)
      if (glob.match(weight.getTensorName())) {
        target = format;
        break;
      }
    int64_t elements = tensor.getNumElements();
    if (target == "f32" || target == "f16" || target == "bf16") {
      add(target, elements * (target == "f32" ? 4 : 2));
      continue;
    }
    std::string error;
    std::optional<qmm::FormatInfo> info = qmm::parseFormatSpec(target, error);
    if (!info) {
      add(formatName(tensor), weight.getByteSize());
      continue;
    }
    add(qmm::formatSpec(*info),
        info->matrixBytes(tensor.getDimSize(0), tensor.getDimSize(1)));
  }
  std::vector<std::pair<std::string, int64_t>> result;
  for (const std::string &format : order)
    result.push_back({format, bytes[format]});
  return result;
}

//===----------------------------------------------------------------------===//
// The report
//===----------------------------------------------------------------------===//

MemoryReport llmc::api::describeMemory(
    const runtime::ModelInfo &info, llvm::StringRef kvSpec,
    std::vector<std::pair<std::string, int64_t>> weightFormats) {
  MemoryReport r;
  r.weightFormats = std::move(weightFormats);
  // The formats count shared tensors once (ModelInfo::weightBytes sums
  // every llm.weight).
  r.weightBytes = info.weightBytes;
  if (!r.weightFormats.empty()) {
    r.weightBytes = 0;
    for (const auto &[format, bytes] : r.weightFormats)
      r.weightBytes += bytes;
  }
  for (const runtime::WeightFile &f : info.weightFiles)
    r.mappedBytes = std::max(r.mappedBytes, f.base + f.size);
  // The --kv parts as written: a KIVI precision and an eviction policy.
  llvm::SmallVector<llvm::StringRef> items;
  kvSpec.split(items, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (llvm::StringRef item : items)
    if (item.starts_with("kivi"))
      r.kvPrecision = item.str();
    else if (!item.starts_with("paged"))
      r.kvPolicy = item.str();
  r.capacity = info.capacity;
  r.contextLength = info.contextLength();
  r.kvBytesPerToken = info.kvBytesPerToken;
  r.kvBytes = info.cacheSize();
  if (info.kvBlockSize > 0) {
    // A paged cache: the block pool (BlockPool: kvBlocks blocks of f32
    // keys and values, a reference count each), sequence 0's block table
    // (each forked sequence adds one of kvBlocks entries), and the paged
    // attention kernel's gather scratch: one layer's keys and values at a
    // full table (lib/Runtime/Kernels/KVPaged.cpp).
    r.kvLayout = "paged<" + std::to_string(info.kvBlockSize) + ">";
    int64_t positions = info.kvBlocks * info.kvBlockSize;
    r.kvBytes = positions * 2 * info.layers * info.kvHeads * info.headDim * 4 +
                info.kvBlocks * 4 + info.kvBlocks * 4 +
                2 * info.kvHeads * positions * info.headDim * 4;
  }
  r.draftKvBytes = 2 * info.draftLayers * info.draftKvHeads *
                   info.draftCapacity * info.draftHeadDim * 4;
  // A step runs one row (@decode) or up to the whole context in one call
  // (@prefill: CompiledModel::forward runs the prompt at once; @spec_step:
  // its first argument is the sequence so far). The step functions never
  // run at once and share one arena (CompiledModel::arenaFor), grown to the
  // largest call: the largest of theirs.
  r.planned = !info.arenas.empty();
  for (const runtime::ArenaInfo &a : info.arenas) {
    ArenaReport arena;
    arena.function = a.function;
    arena.rows = a.function == "decode" ? 1 : r.contextLength;
    arena.bytes = a.bytes(arena.rows);
    arena.lowerBound = a.lowerBound(arena.rows);
    arena.noReuse = a.noReuse(arena.rows);
    arena.buffers = a.buffers;
    arena.unplanned = a.unplanned;
    r.activationBytes = std::max(r.activationBytes, arena.bytes);
    r.arenas.push_back(std::move(arena));
  }
  // CompiledModel keeps the logits of every row of the last call (the
  // whole prompt's at most) and @spec_step's output tokens.
  r.logitsBytes = info.vocabSize * std::max<int64_t>(1, r.contextLength) * 4;
  r.tokenBytes = info.specTokens * 4;
  return r;
}

std::pair<std::string, int64_t> MemoryReport::dominant() const {
  std::pair<std::string, int64_t> parts[] = {
      {"weights", weightBytes},
      {"the KV cache", kvTotal()},
      {"activations", activationBytes},
      {"runtime buffers", runtimeBytes()}};
  return *std::max_element(
      std::begin(parts), std::end(parts),
      [](const auto &a, const auto &b) { return a.second < b.second; });
}

llvm::json::Object MemoryReport::toJSON() const {
  llvm::json::Object formats;
  for (const auto &[format, bytes] : weightFormats)
    formats[format] = bytes;
  llvm::json::Array functions;
  for (const ArenaReport &a : arenas)
    functions.push_back(llvm::json::Object{{"function", a.function},
                                           {"rows", a.rows},
                                           {"bytes", a.bytes},
                                           {"lower_bound", a.lowerBound},
                                           {"no_reuse", a.noReuse},
                                           {"buffers", a.buffers},
                                           {"unplanned", a.unplanned}});
  return llvm::json::Object{
      {"weights", llvm::json::Object{{"bytes", weightBytes},
                                     {"formats", std::move(formats)},
                                     {"mapped_bytes", mappedBytes}}},
      {"kv", llvm::json::Object{{"precision", kvPrecision},
                                {"policy", kvPolicy},
                                {"layout", kvLayout},
                                {"capacity", capacity},
                                {"context", contextLength},
                                {"bytes_per_token", kvBytesPerToken},
                                {"bytes", kvBytes},
                                {"draft_bytes", draftKvBytes}}},
      {"activations", llvm::json::Object{{"planned", planned},
                                         {"bytes", activationBytes},
                                         {"functions", std::move(functions)}}},
      {"runtime", llvm::json::Object{{"bytes", runtimeBytes()},
                                     {"logits", logitsBytes},
                                     {"tokens", tokenBytes}}},
      {"total", total()},
      {"dominant", dominant().first}};
}

void MemoryReport::print(llvm::raw_ostream &os) const {
  auto row = [&](llvm::StringRef name, int64_t bytes,
                 const llvm::Twine &details) {
    os << llvm::format("  %-18s %14lld %11.2f  ", name.str().c_str(),
                       (long long)bytes, double(bytes) / 1048576.0)
       << details << "\n";
  };
  os << llvm::format("  %-18s %14s %11s  %s\n", "component", "bytes", "MiB",
                     "details");
  std::string formats;
  for (const auto &[format, bytes] : weightFormats)
    formats +=
        (formats.empty() ? "" : ", ") + format + " " + formatBytes(bytes);
  row("weights", weightBytes,
      formats + " (mapped from files of " + formatBytes(mappedBytes) + ")");
  std::string kv;
  llvm::raw_string_ostream kvOs(kv);
  kvOs << kvPrecision << ", eviction " << kvPolicy << ", " << kvLayout << ": "
       << capacity << " positions x " << llvm::format("%.1f", kvBytesPerToken)
       << " B/position";
  if (kvBytes != int64_t(std::llround(kvBytesPerToken * double(capacity))))
    kvOs << " + "
         << (kvBytes -
             int64_t(std::llround(kvBytesPerToken * double(capacity))))
         << " B fixed ("
         << (kvLayout != "contiguous" ? "block tables, gather scratch"
             : kvPrecision != "f32"   ? "residual window, tables"
                                      : "tables")
         << ")";
  kvOs << "; context " << contextLength;
  row("KV cache", kvBytes, kv);
  if (draftKvBytes > 0)
    row("draft KV cache", draftKvBytes, "the draft model's f32 cache");
  if (!planned) {
    row("activations", 0,
        "not planned (no llmc.memory_plan in the model): not counted");
  } else {
    row("activations", activationBytes,
        "one arena the step functions share, sized for the largest:");
    for (const ArenaReport &a : arenas) {
      std::string details;
      llvm::raw_string_ostream d(details);
      d << a.rows << (a.rows == 1 ? " row" : " rows") << "; lower bound "
        << a.lowerBound << " (arena/bound "
        << llvm::format("%.3f", a.lowerBound > 0
                                    ? double(a.bytes) / double(a.lowerBound)
                                    : 1.0)
        << "), no reuse " << a.noReuse << "; " << a.buffers << " buffers, "
        << a.unplanned << " unplanned";
      row("  @" + a.function, a.bytes, details);
    }
  }
  row("runtime buffers", runtimeBytes(),
      "logits " + formatBytes(logitsBytes) + " (vocab x " +
          llvm::Twine(contextLength) + " rows x 4 B), tokens " +
          formatBytes(tokenBytes));
  auto [name, bytes] = dominant();
  std::string share;
  llvm::raw_string_ostream shareOs(share);
  shareOs << llvm::format(
      "%.1f", total() > 0 ? 100.0 * double(bytes) / double(total()) : 0.0);
  row("total", total(), "dominant: " + name + " (" + share + "%)");
}

llvm::Error llmc::api::overBudgetError(llvm::StringRef model, int64_t budget,
                                       const MemoryReport &report) {
  auto [name, bytes] = report.dominant();
  std::string message;
  llvm::raw_string_ostream os(message);
  os << model << " does not fit in a memory budget of " << budget << " bytes ("
     << formatBytes(budget) << "): needs at least " << report.total()
     << " bytes (" << (report.total() - budget) << " bytes over); " << name
     << " dominate" << (name == "the KV cache" ? "s" : "") << " (" << bytes
     << " bytes, "
     << llvm::format("%.1f", 100.0 * double(bytes) / double(report.total()))
     << "%)";
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// Budget mode
//===----------------------------------------------------------------------===//

std::string BudgetCandidate::key() const {
  return std::to_string(contextLength) + "|" + kv + "|" + quantize;
}

llvm::Expected<BudgetChoice>
llmc::api::chooseForBudget(const BudgetProblem &problem, llvm::StringRef model,
                           CandidateMemory memoryOf) {
  BudgetChoice choice;
  // The model's context (or the user's --context), once known.
  int64_t context = problem.context;
  llvm::StringMap<MemoryReport> seen;
  std::optional<MemoryReport> cheapest;
  auto evaluate =
      [&](const BudgetCandidate &c) -> llvm::Expected<MemoryReport> {
    auto it = seen.find(c.key());
    if (it != seen.end())
      return it->second;
    llvm::Expected<MemoryReport> report = memoryOf(c);
    if (!report)
      return report.takeError();
    ++choice.evaluated;
    if (!cheapest || report->total() < cheapest->total())
      cheapest = *report;
    seen[c.key()] = *report;
    return *report;
  };
  // Whether `c` fits. A configuration the chooser made up that does not
  // compile for this model (e.g. a KIVI group that does not divide its
  // channels) does not fit; errors of the user's own end the search.
  auto fits = [&](const BudgetCandidate &c) -> llvm::Expected<bool> {
    llvm::Expected<MemoryReport> report = evaluate(c);
    if (!report) {
      if (c.key() == problem.user.key() ||
          (!problem.fixedContext && c.contextLength == 0 &&
           c.kv == problem.user.kv && c.quantize == problem.user.quantize))
        return report.takeError();
      llvm::consumeError(report.takeError());
      return false;
    }
    return report->total() <= problem.budget;
  };
  // The largest value in [lo, hi] for which make(value) fits, given that
  // make(lo) fits and the total grows with the value.
  auto largest = [&](int64_t lo, int64_t hi,
                     llvm::function_ref<BudgetCandidate(int64_t)> make)
      -> llvm::Expected<int64_t> {
    while (lo < hi) {
      int64_t mid = lo + (hi - lo + 1) / 2;
      llvm::Expected<bool> ok = fits(make(mid));
      if (!ok)
        return ok.takeError();
      if (*ok)
        lo = mid;
      else
        hi = mid - 1;
    }
    return lo;
  };
  auto finish = [&](const BudgetCandidate &c,
                    llvm::StringRef how) -> llvm::Expected<BudgetChoice> {
    choice.candidate = c;
    choice.report = seen.find(c.key())->second;
    const MemoryReport &r = choice.report;
    std::vector<std::string> &lines = choice.decisions;
    // Weights.
    std::string weights;
    for (const auto &[format, bytes] : r.weightFormats)
      weights += (weights.empty() ? "" : ", ") + format;
    if (problem.fixedQuantize)
      lines.push_back("weights: " + weights + " (--quantize " + c.quantize +
                      ", kept), " + formatBytes(r.weightBytes));
    else if (c.quantize.empty())
      lines.push_back("weights: as in the model (" + weights + "), " +
                      formatBytes(r.weightBytes));
    else
      lines.push_back("weights: requantized to " + c.quantize +
                      " (--allow-weight-requant), " +
                      formatBytes(r.weightBytes));
    // KV cache.
    std::string kv = c.kv.empty() ? "f32" : c.kv;
    if (problem.fixedKV)
      lines.push_back("KV cache: " + kv + " (--kv, kept), " +
                      formatBytes(r.kvTotal()));
    else
      lines.push_back("KV cache: " + kv + " (" + how.str() + "), " +
                      formatBytes(r.kvTotal()));
    // Context.
    if (problem.fixedContext)
      lines.push_back("context: " + std::to_string(r.contextLength) +
                      " tokens (--context, kept)");
    else if (c.contextLength == 0)
      lines.push_back("context: " + std::to_string(r.contextLength) +
                      " tokens (the model's)");
    else
      lines.push_back("context: " + std::to_string(r.contextLength) +
                      " tokens (the largest that fits; the model's is " +
                      std::to_string(context) + ")");
    lines.push_back(
        "total: " + std::to_string(r.total()) + " of " +
        std::to_string(problem.budget) + " bytes (" + formatBytes(r.total()) +
        " of " + formatBytes(problem.budget) + ", " +
        std::to_string(problem.budget - r.total()) + " bytes to spare)");
    return std::move(choice);
  };

  BudgetCandidate first = problem.user;
  if (!problem.fixedContext)
    first.contextLength = 0;
  llvm::Expected<MemoryReport> firstReport = evaluate(first);
  if (!firstReport)
    return firstReport.takeError();
  context = problem.fixedContext ? problem.user.contextLength
                                 : firstReport->contextLength;

  // The weight formats to try: as given, then (if allowed) lighter ones.
  std::vector<std::string> formats = {problem.user.quantize};
  if (problem.allowWeightRequant && !problem.fixedQuantize) {
    int64_t bytes = firstReport->weightBytes;
    for (const char *format : {"q8_0", "q4_0"}) {
      BudgetCandidate c = first;
      c.quantize = format;
      llvm::Expected<MemoryReport> report = evaluate(c);
      if (!report) {
        llvm::consumeError(report.takeError());
        continue;
      }
      if (report->weightBytes < bytes) {
        formats.push_back(format);
        bytes = report->weightBytes;
      }
    }
  }

  for (const std::string &format : formats) {
    BudgetCandidate c = first;
    c.quantize = format;
    llvm::Expected<bool> ok = fits(c);
    if (!ok)
      return ok.takeError();
    if (*ok)
      return finish(c, c.kv.empty() ? "full precision fits" : "as given");
    if (problem.fixedKV)
      continue;
    for (int bits : {8, 4, 2}) {
      c.kv = "kivi" + std::to_string(bits);
      if (!(ok = fits(c)))
        return ok.takeError();
      if (*ok)
        return finish(c, bits == 8 ? "f32 does not fit"
                                   : "higher precisions do not fit");
    }
    // KIVI 2 bits with an H2O eviction budget, as large as fits.
    if (context <= problem.minEvictBudget)
      continue;
    auto evicting = [&](int64_t budget) {
      BudgetCandidate e = c;
      e.kv = "kivi2,h2o-b" + std::to_string(budget);
      return e;
    };
    if (!(ok = fits(evicting(problem.minEvictBudget))))
      return ok.takeError();
    if (!*ok)
      continue;
    llvm::Expected<int64_t> budget =
        largest(problem.minEvictBudget, context - 1, evicting);
    if (!budget)
      return budget.takeError();
    return finish(evicting(*budget),
                  "the whole context does not fit; the largest eviction "
                  "budget that fits");
  }

  // A smaller context, with the lightest weights and KV tried.
  if (!problem.fixedContext) {
    int64_t lo = std::min(problem.minContext, context);
    auto shorter = [&](int64_t length) {
      BudgetCandidate c = first;
      c.quantize = formats.back();
      // KIVI keeps a residual window of recent positions in f32 (128 by
      // default), which must be smaller than the cache.
      c.kv = problem.fixedKV ? problem.user.kv
             : length >= 512 ? "kivi2"
                             : "kivi2-r" + std::to_string(length / 4);
      c.contextLength = length;
      return c;
    };
    llvm::Expected<bool> ok = fits(shorter(lo));
    if (!ok)
      return ok.takeError();
    if (*ok) {
      llvm::Expected<int64_t> length = largest(lo, context - 1, shorter);
      if (!length)
        return length.takeError();
      return finish(shorter(*length), problem.fixedKV
                                          ? "as given"
                                          : "the lightest precision, at a "
                                            "smaller context");
    }
  }
  return overBudgetError(model, problem.budget, *cheapest);
}

llvm::Expected<BudgetChoice>
llmc::api::applyMemoryBudget(llvm::StringRef modelPath,
                             CompileOptions &options) {
  BudgetProblem problem;
  problem.budget = options.memoryBudget;
  problem.allowWeightRequant = options.allowWeightRequant;
  problem.user.contextLength = options.contextLength;
  problem.user.kv = options.kv;
  problem.user.quantize = options.quantize;
  problem.fixedContext = options.contextLength > 0;
  problem.fixedKV = !options.kv.empty();
  problem.fixedQuantize = !options.quantize.empty();
  problem.context = options.contextLength;
  auto memoryOf =
      [&](const BudgetCandidate &c) -> llvm::Expected<MemoryReport> {
    CompileOptions probe = options;
    probe.memoryBudget = 0;
    probe.contextLength = c.contextLength;
    probe.kv = c.kv;
    probe.quantize = c.quantize;
    llvm::Expected<ModelMemory> memory = analyzeModelMemory(modelPath, probe);
    if (!memory)
      return memory.takeError();
    return std::move(memory->report);
  };
  llvm::Expected<BudgetChoice> choice =
      chooseForBudget(problem, modelPath, memoryOf);
  if (!choice)
    return choice.takeError();
  options.contextLength = choice->candidate.contextLength;
  options.kv = choice->candidate.kv;
  options.quantize = choice->candidate.quantize;
  return choice;
}
