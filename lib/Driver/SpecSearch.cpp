//===- SpecSearch.cpp - `llmc spec-search` and --spec skip-auto -----------===//
//
// Part of llmc. The calibration mode of the SWIFT-style self-speculative
// drafter: which layers the draft skips (and how many tokens it drafts) is
// chosen by measurement. Every candidate is compiled, then decodes the
// calibration prompts greedily, plain and speculative, alternating, with
// the same library in the same run; the search ranks candidates by the
// speedup (from median step times, which other load barely moves) and
// fails if any produces other tokens than greedy decoding. Screening builds are
// -O0 (the kernels, where decode spends its time, are precompiled; the step
// functions compile 3x faster); the winner is re-measured with the real build.
//
//===----------------------------------------------------------------------===//

#include "Calibrate.h"
#include "LoadModel.h"
#include "Progress.h"
#include "llmc/API/ModelCompiler.h"
#include "llmc/Driver/Driver.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include <algorithm>
#include <functional>
#include <map>
#include <optional>

using namespace llmc;
using namespace llmc::driver;
using llvm::StringRef;

namespace {

constexpr int64_t kMaxK = 15;
/// The draft length the layer phase measures at when k is searched too.
constexpr int64_t kStartK = 2;
/// Layer-phase candidates kept back for the k phase (k auto).
constexpr int64_t kKReserve = 3;

struct SearchSettings {
  /// Calibration prompts (BOS is added); empty = defaultPrompts().
  std::vector<std::string> prompts;
  int64_t genTokens = 128;
  /// Draft tokens per step; 0 = searched.
  int64_t k = 0;
  /// Most layers a draft skips; 0 = half the layers.
  int64_t maxSkip = 0;
  /// Candidates compiled and measured in the layer and k phases.
  int64_t maxCandidates = 24;
  /// No new candidate after this many seconds (0 = no limit).
  double timeBudget = 25;
  int64_t repetitions = 3;
  int64_t threads = 0;
  unsigned screenOptLevel = 0;
  /// Re-measure the winner built with the base options' opt level.
  bool confirm = true;
  /// Decode fewer than genTokens where a prompt leaves less room.
  bool fitContext = false;
  std::string tokenizerPath;
};

/// One compiled and measured draft configuration.
struct Candidate {
  std::vector<int64_t> skip; // ascending
  int64_t k = 0;
  unsigned optLevel = 0;
  std::string spec;
  /// "layers", "k" or "confirm".
  std::string phase;
  bool compiled = false;
  double compileSeconds = 0;
  int64_t tokens = 0, steps = 0, drafted = 0, accepted = 0;
  double acceptance = 0, tokensPerStep = 0;
  /// Decode rates from the median step time (plain: a token per step;
  /// speculative: tokens / steps per step) and their ratio.
  double specRate = 0, greedyRate = 0, speedup = 0;
};

struct SearchResult {
  std::string model;
  int64_t layers = 0, maxSkip = 0, promptCount = 0, startK = 0;
  bool searchK = false;
  /// "exhaustive" or "greedy", and the layer-phase candidates it planned
  /// (greedy: its first level).
  std::string strategy;
  int64_t planned = 0;
  std::vector<Candidate> tried;
  /// Indices into `tried`.
  size_t best = 0;
  std::optional<size_t> confirmed;
  bool budgetReached = false;
  double seconds = 0;

  const Candidate &winner() const { return tried[confirmed.value_or(best)]; }
};

/// `skip-1:3-k2`, or `exit-E-kK` when the set is the last two or more
/// layers (the same draft, as the pass builds it).
std::string specName(llvm::ArrayRef<int64_t> skip, int64_t k, int64_t layers) {
  bool suffix = skip.size() >= 2 && skip.back() == layers - 1 &&
                skip.back() - skip.front() + 1 == int64_t(skip.size());
  std::string name =
      suffix ? "exit-" + std::to_string(skip.front())
             : "skip-" + llvm::join(llvm::map_range(skip,
                                                    [](int64_t l) {
                                                      return std::to_string(l);
                                                    }),
                                    ":");
  return name + "-k" + std::to_string(k);
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  size_t half = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + half, v.end());
  return v[half];
}

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

class Searcher {
public:
  Searcher(StringRef model, const api::CompileOptions &base,
           const SearchSettings &settings,
           llvm::function_ref<void(const Candidate &)> onCandidate)
      : model(model.str()), base(base), settings(settings),
        onCandidate(onCandidate) {}

  llvm::Expected<SearchResult> run();

private:
  llvm::Error prepare();
  /// The candidate (skip, k) built at `optLevel`, measured once: its index
  /// in result.tried.
  llvm::Expected<size_t> measure(std::vector<int64_t> skip, int64_t k,
                                 unsigned optLevel, StringRef phase);
  /// Whether another layer- or k-phase candidate may start.
  bool mayStart();
  llvm::Error searchExhaustive(int64_t k);
  llvm::Error searchGreedy(int64_t k);
  llvm::Error searchK();
  /// The fastest layer- or k-phase candidate.
  size_t bestScreened() const;

  std::string model;
  api::CompileOptions base;
  SearchSettings settings;
  llvm::function_ref<void(const Candidate &)> onCandidate;
  SearchResult result;
  Stopwatch clock;
  int64_t screened = 0;
  std::vector<std::vector<int32_t>> prompts, reference;
  std::map<std::tuple<std::vector<int64_t>, int64_t, unsigned>, size_t> seen;
};

llvm::Error Searcher::prepare() {
  result.model = model;
  // The plain model: the layer count, the tokenizer, and the greedy tokens
  // every candidate must reproduce.
  api::CompileOptions options = base;
  options.spec.clear();
  options.optLevel = settings.screenOptLevel;
  bool compiled = false;
  llvm::Expected<std::string> library =
      api::compileCached(model, options, compiled);
  if (!library)
    return library.takeError();
  llvm::Expected<std::unique_ptr<runtime::CompiledModel>> plain =
      runtime::CompiledModel::load(*library);
  if (!plain)
    return plain.takeError();
  const runtime::ModelInfo &info = (*plain)->getInfo();
  result.layers = info.layers;
  if (info.layers < 2)
    return error(model + ": the model has " + llvm::Twine(info.layers) +
                 " layer; a layer-skipping draft needs at least 2");
  result.maxSkip = settings.maxSkip ? settings.maxSkip
                                    : std::max<int64_t>(1, info.layers / 2);
  if (result.maxSkip > info.layers - 1)
    return error("--max-skip " + llvm::Twine(result.maxSkip) +
                 ": the model has " + llvm::Twine(info.layers) +
                 " layers, a draft keeps at least one (at most " +
                 llvm::Twine(info.layers - 1) + ")");
  llvm::Expected<runtime::Tokenizer> tokenizer =
      loadTokenizer(info, settings.tokenizerPath);
  if (!tokenizer)
    return tokenizer.takeError();
  std::vector<std::string> texts =
      settings.prompts.empty() ? defaultPrompts() : settings.prompts;
  for (const std::string &text : texts) {
    std::vector<int32_t> ids = tokenizer->encode(text, /*addBos=*/true);
    // skip-auto has no --gen-tokens to fix: decode what fits.
    if (settings.fitContext)
      settings.genTokens = std::min(settings.genTokens,
                                    info.contextLength() - int64_t(ids.size()));
    if (settings.genTokens < 1 ||
        int64_t(ids.size()) + settings.genTokens > info.contextLength())
      return error("a calibration prompt of " + llvm::Twine(ids.size()) +
                   " tokens + --gen-tokens " + llvm::Twine(settings.genTokens) +
                   " exceeds the context of " +
                   llvm::Twine(info.contextLength()) + " tokens");
    prompts.push_back(std::move(ids));
  }
  result.promptCount = int64_t(prompts.size());
  runtime::CompiledModel::setThreads(settings.threads);
  for (const std::vector<int32_t> &prompt : prompts) {
    llvm::Expected<GreedyRun> run =
        generateGreedy(**plain, prompt, settings.genTokens, /*eos=*/-1, false);
    if (!run)
      return run.takeError();
    reference.push_back(std::move(run->tokens));
  }
  return llvm::Error::success();
}

llvm::Expected<size_t> Searcher::measure(std::vector<int64_t> skip, int64_t k,
                                         unsigned optLevel, StringRef phase) {
  llvm::sort(skip);
  auto key = std::make_tuple(skip, k, optLevel);
  if (auto it = seen.find(key); it != seen.end())
    return it->second;
  Candidate c;
  c.skip = skip;
  c.k = k;
  c.optLevel = optLevel;
  c.spec = specName(skip, k, result.layers);
  c.phase = phase.str();
  api::CompileOptions options = base;
  options.spec = c.spec;
  options.optLevel = optLevel;
  Stopwatch compileWatch;
  llvm::Expected<std::string> library =
      api::compileCached(model, options, c.compiled);
  if (!library)
    return library.takeError();
  c.compileSeconds = compileWatch.seconds();
  llvm::Expected<std::unique_ptr<runtime::CompiledModel>> loaded =
      runtime::CompiledModel::load(*library);
  if (!loaded)
    return loaded.takeError();
  runtime::CompiledModel &runner = **loaded;
  runtime::CompiledModel::setThreads(settings.threads);
  // Compare against the screening reference only at its opt level.
  bool checkReference = optLevel == settings.screenOptLevel;

  // An untimed warm-up, then repetitions over every prompt, plain and
  // speculative alternating so both see the same machine. Times are per
  // step, from the token callbacks: a plain run's gaps between tokens are
  // its decode steps; a speculative run emits each step's tokens in a burst,
  // so its `steps` longest gaps are its steps. The rates come from the
  // median step: other load preempts a few steps of most runs, and the
  // ranking must not follow it.
  std::vector<double> plainSteps, specSteps, stamps;
  Stopwatch clock;
  auto stamp = [&](int32_t) { stamps.push_back(clock.seconds()); };
  auto gaps = [&] {
    std::vector<double> g;
    for (size_t i = 1; i < stamps.size(); ++i)
      g.push_back(stamps[i] - stamps[i - 1]);
    stamps.clear();
    return g;
  };
  for (int64_t r = 0; r <= settings.repetitions; ++r) {
    bool warmup = r == 0;
    for (size_t p = 0; p < prompts.size(); ++p) {
      int64_t gen = warmup ? std::min<int64_t>(settings.genTokens, 16)
                           : settings.genTokens;
      llvm::Expected<GreedyRun> plain =
          generateGreedy(runner, prompts[p], gen, /*eos=*/-1, false, stamp);
      if (!plain)
        return plain.takeError();
      std::vector<double> plainGaps = gaps();
      llvm::Expected<GreedyRun> fast =
          generateGreedy(runner, prompts[p], gen, /*eos=*/-1, true, stamp);
      if (!fast)
        return fast.takeError();
      std::vector<double> specGaps = gaps();
      if (fast->tokens != plain->tokens)
        return error("--spec " + c.spec +
                     ": speculative decoding produced other tokens than "
                     "greedy decoding (a bug: it must be lossless)");
      if (warmup)
        break;
      if (checkReference && plain->tokens != reference[p])
        return error("--spec " + c.spec +
                     ": greedy decoding differs from the plain model's (the "
                     "spec rewrite changed @decode)");
      plainSteps.insert(plainSteps.end(), plainGaps.begin(), plainGaps.end());
      size_t steps = std::min(size_t(fast->steps), specGaps.size());
      std::partial_sort(specGaps.begin(), specGaps.begin() + steps,
                        specGaps.end(), std::greater<double>());
      specSteps.insert(specSteps.end(), specGaps.begin(),
                       specGaps.begin() + steps);
      if (r == 1) {
        c.tokens += int64_t(plain->tokens.size());
        c.steps += fast->steps;
        c.drafted += fast->drafted;
        c.accepted += fast->acceptedDrafts;
      }
    }
  }
  double plainStep = median(plainSteps), specStep = median(specSteps);
  c.greedyRate = plainStep > 0 ? 1 / plainStep : 0;
  c.specRate = specStep > 0 && c.steps > 0
                   ? double(c.tokens) / double(c.steps) / specStep
                   : 0;
  c.speedup = c.greedyRate > 0 ? c.specRate / c.greedyRate : 0;
  c.acceptance = c.drafted > 0 ? double(c.accepted) / double(c.drafted) : 0;
  c.tokensPerStep =
      c.steps > 0 ? double(c.accepted + c.steps) / double(c.steps) : 0;
  if (phase != "confirm")
    ++screened;
  size_t index = result.tried.size();
  seen[key] = index;
  result.tried.push_back(std::move(c));
  if (onCandidate)
    onCandidate(result.tried.back());
  return index;
}

bool Searcher::mayStart() {
  bool ok = screened < settings.maxCandidates &&
            (settings.timeBudget <= 0 || clock.seconds() < settings.timeBudget);
  // The first candidate always runs.
  if (!ok && screened > 0)
    result.budgetReached = true;
  return ok || screened == 0;
}

size_t Searcher::bestScreened() const {
  std::optional<size_t> best;
  for (size_t i = 0; i < result.tried.size(); ++i)
    if (result.tried[i].phase != "confirm" &&
        (!best || result.tried[i].speedup > result.tried[*best].speedup))
      best = i;
  return best.value_or(0);
}

/// Every set of 1..maxSkip layers, smaller sets first.
llvm::Error Searcher::searchExhaustive(int64_t k) {
  int64_t layers = result.layers;
  for (int64_t size = 1; size <= result.maxSkip; ++size) {
    // Lexicographic combinations of `size` layers.
    std::vector<int64_t> set(size_t(size), 0);
    for (int64_t i = 0; i < size; ++i)
      set[size_t(i)] = i;
    while (true) {
      if (!mayStart())
        return llvm::Error::success();
      if (llvm::Expected<size_t> c =
              measure(set, k, settings.screenOptLevel, "layers");
          !c)
        return c.takeError();
      int64_t i = size - 1;
      while (i >= 0 && set[size_t(i)] == layers - size + i)
        --i;
      if (i < 0)
        break;
      ++set[size_t(i)];
      for (int64_t j = i + 1; j < size; ++j)
        set[size_t(j)] = set[size_t(j - 1)] + 1;
    }
  }
  return llvm::Error::success();
}

/// Greedy layer-by-layer growth: every single layer and the early exits,
/// then the best set plus each further layer while that improves.
llvm::Error Searcher::searchGreedy(int64_t k) {
  int64_t layers = result.layers;
  // Within a budget, the layers tried first: the first and last layers of
  // a decoder usually matter most, so from the second-to-last down, then
  // those two.
  std::vector<int64_t> order;
  for (int64_t l = layers - 2; l >= 1; --l)
    order.push_back(l);
  order.push_back(layers - 1);
  order.push_back(0);
  std::vector<std::vector<int64_t>> level;
  for (int64_t l : order)
    level.push_back({l});
  for (int64_t size = 2; size <= result.maxSkip; ++size) {
    std::vector<int64_t> exit;
    for (int64_t l = layers - size; l < layers; ++l)
      exit.push_back(l);
    level.push_back(exit);
  }
  auto score = [&](size_t i) { return result.tried[i].speedup; };
  std::optional<size_t> current;
  while (!level.empty()) {
    std::optional<size_t> levelBest;
    for (const std::vector<int64_t> &set : level) {
      if (!mayStart())
        return llvm::Error::success();
      llvm::Expected<size_t> c =
          measure(set, k, settings.screenOptLevel, "layers");
      if (!c)
        return c.takeError();
      if (!levelBest || score(*c) > score(*levelBest))
        levelBest = *c;
    }
    if (current && score(*levelBest) <= score(*current))
      break;
    current = levelBest;
    level.clear();
    std::vector<int64_t> skip = result.tried[*current].skip;
    if (int64_t(skip.size()) >= result.maxSkip)
      break;
    for (int64_t l : order)
      if (!llvm::is_contained(skip, l)) {
        std::vector<int64_t> grown = skip;
        grown.push_back(l);
        llvm::sort(grown);
        level.push_back(grown);
      }
  }
  return llvm::Error::success();
}

/// k for the best set: down from the start, or up while that improves.
llvm::Error Searcher::searchK() {
  size_t current = bestScreened();
  std::vector<int64_t> skip = result.tried[current].skip;
  for (int64_t direction : {-1, 1}) {
    bool moved = false;
    for (int64_t k = result.tried[current].k + direction; k >= 1 && k <= kMaxK;
         k += direction) {
      if (!mayStart())
        return llvm::Error::success();
      llvm::Expected<size_t> c = measure(skip, k, settings.screenOptLevel, "k");
      if (!c)
        return c.takeError();
      if (result.tried[*c].speedup <= result.tried[current].speedup)
        break;
      current = *c;
      moved = true;
    }
    if (moved)
      break;
  }
  return llvm::Error::success();
}

llvm::Expected<SearchResult> Searcher::run() {
  if (llvm::Error err = prepare())
    return std::move(err);
  result.searchK = settings.k == 0;
  result.startK = result.searchK ? kStartK : settings.k;
  int64_t subsets = 0, choose = 1;
  // (Only compared with the budget: stop counting once past it.)
  for (int64_t size = 1; size <= result.maxSkip && subsets <= (1 << 20);
       ++size) {
    choose = choose * (result.layers - size + 1) / size;
    subsets += choose;
  }
  int64_t layerBudget =
      settings.maxCandidates - (result.searchK ? kKReserve : 0);
  if (subsets <= std::max<int64_t>(layerBudget, 1)) {
    result.strategy = "exhaustive";
    result.planned = subsets;
    if (llvm::Error err = searchExhaustive(result.startK))
      return std::move(err);
  } else {
    result.strategy = "greedy";
    result.planned = result.layers + std::max<int64_t>(0, result.maxSkip - 1);
    if (llvm::Error err = searchGreedy(result.startK))
      return std::move(err);
  }
  if (result.searchK)
    if (llvm::Error err = searchK())
      return std::move(err);
  result.best = bestScreened();
  if (settings.confirm && base.optLevel != settings.screenOptLevel) {
    Candidate best = result.tried[result.best];
    llvm::Expected<size_t> c =
        measure(best.skip, best.k, base.optLevel, "confirm");
    if (!c)
      return c.takeError();
    result.confirmed = *c;
  }
  result.seconds = clock.seconds();
  return std::move(result);
}

llvm::json::Object toJSON(const Candidate &c) {
  return llvm::json::Object{{"spec", c.spec},
                            {"skip_layers", llvm::json::Array(c.skip)},
                            {"k", c.k},
                            {"phase", c.phase},
                            {"opt_level", int64_t(c.optLevel)},
                            {"compiled", c.compiled},
                            {"compile_seconds", c.compileSeconds},
                            {"tokens", c.tokens},
                            {"steps", c.steps},
                            {"drafted", c.drafted},
                            {"accepted", c.accepted},
                            {"acceptance", c.acceptance},
                            {"tokens_per_step", c.tokensPerStep},
                            {"spec_tokens_per_second", c.specRate},
                            {"greedy_tokens_per_second", c.greedyRate},
                            {"speedup", c.speedup},
                            {"identical", true}};
}

/// "skip-2-k1 (0.73x, acceptance 76%)"
std::string summary(const Candidate &c) {
  return llvm::formatv("{0} ({1:F2}x, acceptance {2:F0}%)", c.spec, c.speedup,
                       100 * c.acceptance)
      .str();
}

/// Reads calibration prompts: one per non-empty line of `path`.
llvm::Expected<std::vector<std::string>> readPrompts(StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> text =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!text)
    return error(path + ": " + text.getError().message());
  std::vector<std::string> prompts;
  llvm::SmallVector<StringRef> lines;
  (*text)->getBuffer().split(lines, '\n');
  for (StringRef line : lines)
    if (!line.trim().empty())
      prompts.push_back(line.trim().str());
  if (prompts.empty())
    return error(path + ": no calibration prompts (one per non-empty line)");
  return prompts;
}

} // namespace

llvm::Error llmc::driver::resolveAutoSpec(llvm::StringRef model,
                                          api::CompileOptions &options,
                                          llvm::ArrayRef<std::string> prompts,
                                          int64_t genTokens, int64_t threads,
                                          llvm::StringRef tokenizerPath,
                                          llvm::raw_ostream &err) {
  api::SpecSpec parsed;
  if (options.spec.empty() ||
      !api::parseSpecSpec(options.spec, parsed).empty() || !parsed.autoLayers)
    return llvm::Error::success();
  if (api::isCompiledArtifact(model))
    return error("--spec " + options.spec +
                 " searches by compiling the model; " + model +
                 " is a compiled artifact (give the model file)");
  SearchSettings settings;
  settings.prompts.assign(prompts.begin(), prompts.end());
  if (genTokens > 0)
    settings.genTokens = genTokens;
  settings.k = parsed.k;
  settings.threads = threads;
  settings.tokenizerPath = tokenizerPath.str();
  // The caller builds (and bench measures) the winner itself.
  settings.confirm = false;
  settings.fitContext = true;
  err << "llmc: --spec " << options.spec << ": searching skip sets on the "
      << "calibration text (llmc spec-search)...\n";
  err.flush();
  llvm::Expected<SearchResult> result =
      Searcher(model, options, settings, nullptr).run();
  if (!result)
    return result.takeError();
  const Candidate &best = result->winner();
  // Options of the auto form other than k (e.g. a later drafter flag) carry
  // over to the chosen spec.
  std::string chosen = best.spec;
  llvm::SmallVector<StringRef> parts;
  StringRef(options.spec).split(parts, '-');
  for (StringRef part : llvm::ArrayRef(parts).drop_front(2))
    if (!part.starts_with("k"))
      chosen += "-" + part.str();
  err << "llmc: --spec " << options.spec << " chose " << chosen
      << llvm::formatv(" ({0:F2}x, acceptance {1:F0}%; {2} candidates in "
                       "{3:F1} s{4})\n",
                       best.speedup, 100 * best.acceptance,
                       result->tried.size(), result->seconds,
                       best.speedup < 1
                           ? "; slower than plain greedy decoding here"
                           : "");
  options.spec = chosen;
  return llvm::Error::success();
}

int llmc::driver::runSpecSearch(llvm::ArrayRef<std::string> args,
                                Context &ctx) {
  std::string model, prompt, promptFile, kText = "auto", tokenizerPath;
  int64_t genTokens = 128, maxSkip = 0, maxCandidates = 24, repetitions = 3,
          threads = 0, context = 0, optLevel = 2, screenOptLevel = 0;
  double timeBudget = 25;
  bool json = false;
  ArgParser parser(
      "spec-search",
      "Searches the layers a self-speculative (SWIFT-style) draft skips, and "
      "its\ndraft length, by compiling candidates and decoding the "
      "calibration prompts\nwith each, plain and speculative in the same "
      "run: prints per candidate the\ndraft acceptance, tokens per step, "
      "both decode rates and the speedup\n(from the median step time over "
      "--repetitions: other load preempts a few\nsteps), then the best "
      "--spec. Every "
      "candidate must reproduce greedy decoding's tokens\nexactly.\n\n"
      "Search: every set of 1..--max-skip layers when they fit "
      "--max-candidates\n(smaller sets first), else greedy growth (each "
      "layer and early exit, then\nthe best set plus one more layer while "
      "that improves); with --k auto the\nsets are measured at k=2, then k "
      "moves down or up from the best while that\nimproves. Candidates are "
      "built at --search-opt-level (compiled once, cached\nlike llmc run); "
      "the best is re-measured built at --opt-level.");
  parser.positional("MODEL", model, "a GGUF model or Hugging Face directory");
  parser.option("-p,--prompt", prompt, "TEXT",
                "the calibration prompt (default: four built-in story "
                "openings)");
  parser.option("--prompt-file", promptFile, "FILE",
                "calibration prompts, one per non-empty line");
  parser.option("--gen-tokens", genTokens, "N",
                "tokens decoded after each prompt (default 128)");
  parser.option("--k", kText, "K|auto",
                "draft tokens per step, 1-15, or auto to search it too "
                "(default auto)");
  parser.option("--max-skip", maxSkip, "M",
                "most layers a draft skips (default: half the layers)");
  parser.option("--max-candidates", maxCandidates, "N",
                "candidates to compile and measure, at most (default 24)");
  parser.option("--time-budget", timeBudget, "SECONDS",
                "start no candidate after this long (default 25; 0 = no "
                "limit); the first always runs");
  parser.option("--repetitions", repetitions, "R",
                "timed repetitions per candidate (default 3)");
  parser.option("--search-opt-level", screenOptLevel, "N",
                "LLVM optimization level of the candidates' builds (default "
                "0: they compile fastest)");
  parser.option("-O,--opt-level", optLevel, "N",
                "LLVM optimization level the best is confirmed with "
                "(default 2, as llmc compile and run build)");
  addModelRunOptions(parser, threads, context, tokenizerPath);
  CompressionArgs compression;
  addCompressionOptions(parser, compression);
  parser.addJson(json);
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;
  SearchSettings settings;
  if (kText != "auto") {
    if (StringRef(kText).getAsInteger(10, settings.k) || settings.k < 1 ||
        settings.k > kMaxK)
      return parser.usageError(ctx, "--k must be auto or in [1, 15], got '" +
                                        kText + "'");
  }
  if (genTokens < 1)
    return parser.usageError(ctx, "--gen-tokens must be >= 1");
  if (maxSkip < 0)
    return parser.usageError(ctx, "--max-skip must be >= 1");
  if (maxCandidates < 1)
    return parser.usageError(ctx, "--max-candidates must be >= 1");
  if (timeBudget < 0)
    return parser.usageError(ctx, "--time-budget must be >= 0");
  if (repetitions < 1 || repetitions > 1000)
    return parser.usageError(ctx, "--repetitions must be in [1, 1000]");
  if (threads < 0 || context < 0)
    return parser.usageError(ctx, "--threads and --context must be >= 0");
  if (optLevel < 0 || optLevel > 3 || screenOptLevel < 0 || screenOptLevel > 3)
    return parser.usageError(ctx, "--opt-level and --search-opt-level must "
                                  "be 0, 1, 2 or 3");
  if (!prompt.empty() && !promptFile.empty())
    return parser.usageError(ctx, "give --prompt or --prompt-file, not both");
  if (!llvm::sys::fs::exists(model))
    return ctx.fail(model + ": no such file or directory");
  if (api::isCompiledArtifact(model))
    return ctx.fail(model + ": a compiled artifact; spec-search compiles "
                            "candidates from the model file");
  api::CompileOptions options;
  options.contextLength = context;
  options.optLevel = unsigned(optLevel);
  if (std::optional<int> exit =
          applyCompressionOptions(compression, options, parser, ctx))
    return *exit;
  if (!promptFile.empty()) {
    llvm::Expected<std::vector<std::string>> prompts = readPrompts(promptFile);
    if (!prompts)
      return ctx.fail(prompts.takeError());
    settings.prompts = std::move(*prompts);
  } else if (!prompt.empty()) {
    settings.prompts = {prompt};
  }
  settings.genTokens = genTokens;
  settings.maxSkip = maxSkip;
  settings.maxCandidates = maxCandidates;
  settings.timeBudget = timeBudget;
  settings.repetitions = repetitions;
  settings.threads = threads;
  settings.screenOptLevel = unsigned(screenOptLevel);
  settings.tokenizerPath = tokenizerPath;

  // One line per candidate as it finishes, when someone is watching.
  bool live = !json && ctx.err.is_displayed();
  int64_t done = 0;
  auto onCandidate = [&](const Candidate &c) {
    if (!live)
      return;
    ctx.err << llvm::formatv("llmc: [{0}] {1}: {2:F2}x, acceptance {3:F1}%\n",
                             ++done, c.spec, c.speedup, 100 * c.acceptance);
    ctx.err.flush();
  };
  llvm::Expected<SearchResult> found =
      Searcher(model, options, settings, onCandidate).run();
  if (!found)
    return ctx.fail(found.takeError());
  const SearchResult &r = *found;
  const Candidate &best = r.winner();

  if (json) {
    llvm::json::Array candidates;
    for (const Candidate &c : r.tried)
      candidates.push_back(toJSON(c));
    ctx.out << llvm::json::Value(llvm::json::Object{
                   {"model", model},
                   {"layers", r.layers},
                   {"max_skip", r.maxSkip},
                   {"k", r.searchK ? llvm::json::Value("auto")
                                   : llvm::json::Value(settings.k)},
                   {"strategy", r.strategy},
                   {"planned", r.planned},
                   {"prompts", r.promptCount},
                   {"gen_tokens", genTokens},
                   {"repetitions", repetitions},
                   {"threads", threads},
                   {"candidates", std::move(candidates)},
                   {"best", toJSON(best)},
                   {"best_spec", best.spec},
                   {"confirmed", r.confirmed.has_value()},
                   {"budget_reached", r.budgetReached},
                   {"seconds", r.seconds}})
            << "\n";
    return 0;
  }

  ctx.out << "llmc spec-search " << model << "\n";
  ctx.out << llvm::formatv(
      "  {0} layers; calibration: {1} prompt{2} x {3} tokens, {4} "
      "repetitions; k {5}; at most {6} layer{7} skipped\n",
      r.layers, r.promptCount, r.promptCount == 1 ? "" : "s", genTokens,
      repetitions,
      r.searchK ? "auto (layers at k=" + std::to_string(r.startK) + ")"
                : std::to_string(settings.k),
      r.maxSkip, r.maxSkip == 1 ? "" : "s");
  ctx.out
      << "  search: "
      << (r.strategy == "exhaustive"
              ? llvm::formatv("exhaustive over {0} skip sets", r.planned).str()
              : "greedy growth from the single layers and early exits")
      << llvm::formatv(", built at -O{0}", settings.screenOptLevel).str()
      << (r.confirmed
              ? llvm::formatv(", best confirmed at -O{0}", optLevel).str()
              : std::string())
      << "\n\n";
  ctx.out << llvm::formatv("  {0,3}  {1,-16} {2,-8} {3,7} {4,9} {5,11} "
                           "{6,13} {7,8}\n",
                           "#", "spec", "phase", "accept", "tok/step",
                           "spec tok/s", "greedy tok/s", "speedup");
  for (size_t i = 0; i < r.tried.size(); ++i) {
    const Candidate &c = r.tried[i];
    ctx.out << llvm::formatv("  {0,3}  {1,-16} {2,-8} {3,6:F1}% {4,9:F2} "
                             "{5,11:F0} {6,13:F0} {7,7:F2}x\n",
                             i + 1, c.spec, c.phase, 100 * c.acceptance,
                             c.tokensPerStep, c.specRate, c.greedyRate,
                             c.speedup);
  }
  ctx.out << llvm::formatv("\n  {0} candidate{1} in {2:F1} s; every one "
                           "produced exactly greedy decoding's tokens\n",
                           r.tried.size(), r.tried.size() == 1 ? "" : "s",
                           r.seconds);
  if (r.budgetReached)
    ctx.out << "  budget reached (--max-candidates " << maxCandidates
            << ", --time-budget " << llvm::format("%g", timeBudget)
            << " s): the search stopped early\n";
  if (best.speedup < 1)
    ctx.out << "  note: no candidate is faster than plain greedy decoding "
               "on this machine\n";
  ctx.out << "best: --spec " << summary(best) << "\n";
  return 0;
}
