//===- CompiledModel.cpp - running a compiled model -----------------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/CompiledModel.h"
#include "llmc/Runtime/Kernels.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace llmc::runtime;

namespace {

/// The layout of an MLIR ranked memref descriptor.
template <typename T, int N> struct MemRef {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[N];
  int64_t strides[N];
};

template <typename T, int N>
MemRef<T, N> describe(T *data, const int64_t (&sizes)[N]) {
  MemRef<T, N> m;
  m.allocated = m.aligned = data;
  m.offset = 0;
  int64_t stride = 1;
  for (int i = N - 1; i >= 0; --i) {
    m.sizes[i] = sizes[i];
    m.strides[i] = stride;
    stride *= sizes[i];
  }
  return m;
}

/// The cache argument is an f32 [2, L, H, C, D] memref, or the bytes of a
/// KIVI cache (ModelInfo::cacheBytes > 0): a pointer to either descriptor.
/// Calls a step function with `args`, then the arena descriptor when the
/// function takes one (llmc-plan-memory appended it as the last argument).
template <typename... Args>
void callStep(void *fn, MemRef<uint8_t, 1> *arena, Args... args) {
  if (arena)
    reinterpret_cast<void (*)(Args..., MemRef<uint8_t, 1> *)>(fn)(args...,
                                                                  arena);
  else
    reinterpret_cast<void (*)(Args...)>(fn)(args...);
}

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace

std::string ModelInfo::toJSON() const {
  llvm::json::Array files;
  for (const WeightFile &f : weightFiles)
    files.push_back(
        llvm::json::Object{{"file", f.path}, {"base", f.base}, {"size", f.size}});
  llvm::json::Object o{{"format", "llmc-cpu-1"},
                       {"source", source},
                       {"vocab_size", vocabSize},
                       {"layers", layers},
                       {"kv_heads", kvHeads},
                       {"head_dim", headDim},
                       {"capacity", capacity},
                       {"weight_bytes", weightBytes},
                       {"kv_bytes_per_token", kvBytesPerToken},
                       {"cache_bytes", cacheBytes},
                       {"kv_block_size", kvBlockSize},
                       {"kv_blocks", kvBlocks},
                       {"max_positions", maxPositions},
                       {"spec_tokens", specTokens},
                       {"spec", spec},
                       {"draft_cache", llvm::json::Array{draftLayers, draftKvHeads,
                                                         draftCapacity,
                                                         draftHeadDim}},
                       {"weight_files", std::move(files)}};
  llvm::json::Array tensorList;
  for (const TensorLocation &t : tensors)
    tensorList.push_back(
        llvm::json::Object{{"name", t.name}, {"offset", t.offset}});
  o["tensors"] = std::move(tensorList);
  llvm::json::Array arenaList;
  for (const ArenaInfo &a : arenas)
    arenaList.push_back(llvm::json::Object{
        {"function", a.function},
        {"fixed", a.fixedBytes},
        {"per_row", a.perRowBytes},
        {"lower_bound", llvm::json::Array{a.lowerBoundFixed,
                                          a.lowerBoundPerRow}},
        {"no_reuse", llvm::json::Array{a.noReuseFixed, a.noReusePerRow}},
        {"buffers", a.buffers},
        {"unplanned", a.unplanned}});
  o["arenas"] = std::move(arenaList);
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::json::Value(std::move(o));
  return s;
}

llvm::Expected<ModelInfo> ModelInfo::fromJSON(llvm::StringRef json,
                                              llvm::StringRef origin) {
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(json);
  if (!parsed)
    return fail(origin + ": bad model info: " +
                llvm::toString(parsed.takeError()));
  const llvm::json::Object *o = parsed->getAsObject();
  if (!o || o->getString("format") != "llmc-cpu-1")
    return fail(origin + ": not an llmc CPU model (format llmc-cpu-1)");
  ModelInfo info;
  info.source = o->getString("source").value_or("").str();
  auto num = [&](llvm::StringRef key, int64_t &slot) -> bool {
    std::optional<int64_t> v = o->getInteger(key);
    slot = v.value_or(0);
    return v && *v > 0;
  };
  if (!num("vocab_size", info.vocabSize) || !num("layers", info.layers) ||
      !num("kv_heads", info.kvHeads) || !num("head_dim", info.headDim) ||
      !num("capacity", info.capacity))
    return fail(origin + ": model info lacks the model's dimensions");
  info.weightBytes = o->getInteger("weight_bytes").value_or(0);
  info.kvBytesPerToken = o->getNumber("kv_bytes_per_token").value_or(0);
  info.cacheBytes = o->getInteger("cache_bytes").value_or(0);
  info.kvBlockSize = o->getInteger("kv_block_size").value_or(0);
  info.kvBlocks = o->getInteger("kv_blocks").value_or(0);
  if (info.kvBlockSize < 0 ||
      (info.kvBlockSize > 0 &&
       info.kvBlocks * info.kvBlockSize != info.capacity))
    return fail(origin + ": bad paged cache entry (kv_block_size " +
                llvm::Twine(info.kvBlockSize) + ", kv_blocks " +
                llvm::Twine(info.kvBlocks) + ")");
  info.maxPositions = o->getInteger("max_positions").value_or(0);
  info.specTokens = o->getInteger("spec_tokens").value_or(0);
  info.spec = o->getString("spec").value_or("").str();
  if (const llvm::json::Array *draft = o->getArray("draft_cache")) {
    int64_t *dims[] = {&info.draftLayers, &info.draftKvHeads,
                       &info.draftCapacity, &info.draftHeadDim};
    if (draft->size() != 4)
      return fail(origin + ": bad draft_cache entry");
    for (size_t i = 0; i < 4; ++i) {
      std::optional<int64_t> v = (*draft)[i].getAsInteger();
      if (!v || *v < 0)
        return fail(origin + ": bad draft_cache entry");
      *dims[i] = *v;
    }
  }
  if (const llvm::json::Array *arenas = o->getArray("arenas"))
    for (const llvm::json::Value &v : *arenas) {
      const llvm::json::Object *a = v.getAsObject();
      ArenaInfo arena;
      auto pair = [&](llvm::StringRef key, int64_t &fixed, int64_t &perRow) {
        const llvm::json::Array *p = a->getArray(key);
        if (!p || p->size() != 2)
          return false;
        fixed = (*p)[0].getAsInteger().value_or(-1);
        perRow = (*p)[1].getAsInteger().value_or(-1);
        return fixed >= 0 && perRow >= 0;
      };
      if (!a || !a->getString("function") ||
          !pair("lower_bound", arena.lowerBoundFixed,
                arena.lowerBoundPerRow) ||
          !pair("no_reuse", arena.noReuseFixed, arena.noReusePerRow))
        return fail(origin + ": bad arena entry");
      arena.function = a->getString("function")->str();
      arena.fixedBytes = a->getInteger("fixed").value_or(-1);
      arena.perRowBytes = a->getInteger("per_row").value_or(-1);
      arena.buffers = a->getInteger("buffers").value_or(0);
      arena.unplanned = a->getInteger("unplanned").value_or(0);
      if (arena.fixedBytes < 0 || arena.perRowBytes < 0)
        return fail(origin + ": bad arena entry");
      info.arenas.push_back(std::move(arena));
    }
  if (const llvm::json::Array *files = o->getArray("weight_files"))
    for (const llvm::json::Value &v : *files) {
      const llvm::json::Object *f = v.getAsObject();
      if (!f)
        return fail(origin + ": bad weight file entry");
      info.weightFiles.push_back({f->getString("file").value_or("").str(),
                                  f->getInteger("base").value_or(-1),
                                  f->getInteger("size").value_or(-1)});
    }
  // Absent in models compiled before tensors were recorded.
  if (const llvm::json::Array *tensors = o->getArray("tensors"))
    for (const llvm::json::Value &v : *tensors) {
      const llvm::json::Object *t = v.getAsObject();
      std::optional<llvm::StringRef> name =
          t ? t->getString("name") : std::nullopt;
      std::optional<int64_t> offset =
          t ? t->getInteger("offset") : std::nullopt;
      if (!name || !offset)
        return fail(origin + ": bad tensor entry");
      info.tensors.push_back({name->str(), *offset});
    }
  return info;
}

CompiledModel::~CompiledModel() {
  std::free(arena);
  if (weights)
    ::munmap(weights, size_t(weightsSize));
  if (library)
    ::dlclose(library);
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::load(llvm::StringRef libraryPath) {
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  model->libraryPath = libraryPath.str();
  model->library = ::dlopen(model->libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!model->library)
    return fail(libraryPath + ": cannot load compiled model: " + ::dlerror());
  auto *infoText =
      static_cast<const char *>(::dlsym(model->library, "llmc_model_info"));
  model->prefillFn = ::dlsym(model->library, "_mlir_ciface_prefill");
  model->decodeFn = ::dlsym(model->library, "_mlir_ciface_decode");
  model->specFn = ::dlsym(model->library, "_mlir_ciface_spec_step");
  if (!infoText || !model->prefillFn || !model->decodeFn)
    return fail(libraryPath +
                ": not an llmc compiled model (missing model info or steps)");
  llvm::Expected<ModelInfo> info = ModelInfo::fromJSON(infoText, libraryPath);
  if (!info)
    return info.takeError();
  model->info = std::move(*info);
  const ModelInfo &mi = model->info;

  // Map every weight file at its base inside one reserved range.
  int64_t total = 0;
  for (const WeightFile &f : mi.weightFiles)
    total = std::max(total, f.base + f.size);
  if (total > 0) {
    // The range starts on a 2 MiB boundary (over-reserve, trim), so that
    // files placed at 2 MiB-aligned bases can be mapped with huge pages:
    // decode streams every weight once per token, and 4 KiB pages cost a
    // page walk per 4 KiB read.
    const size_t huge = size_t(1) << 21;
    size_t reserve = size_t(total) + huge;
    void *range = ::mmap(nullptr, reserve, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (range == MAP_FAILED)
      return fail(libraryPath + ": cannot reserve " + llvm::Twine(total) +
                  " bytes for the weights");
    uintptr_t start = reinterpret_cast<uintptr_t>(range);
    uintptr_t aligned = (start + huge - 1) & ~uintptr_t(huge - 1);
    if (aligned > start)
      ::munmap(range, aligned - start);
    size_t tail = reserve - (aligned - start) - size_t(total);
    if (tail > 0)
      ::munmap(reinterpret_cast<void *>(aligned + size_t(total)), tail);
    model->weights = reinterpret_cast<uint8_t *>(aligned);
    model->weightsSize = total;
    for (const WeightFile &f : mi.weightFiles) {
      uint64_t size = 0;
      if (llvm::sys::fs::file_size(f.path, size) || int64_t(size) != f.size)
        return fail(f.path + ": weight file is missing or changed since it "
                             "was compiled (recompile the model)");
      int fd = ::open(f.path.c_str(), O_RDONLY);
      if (fd < 0)
        return fail(f.path + ": cannot open weight file");
      void *at = ::mmap(model->weights + f.base, size_t(f.size), PROT_READ,
                        MAP_PRIVATE | MAP_FIXED, fd, 0);
      ::close(fd);
      if (at == MAP_FAILED)
        return fail(f.path + ": cannot map weight file");
#ifdef MADV_HUGEPAGE
      // Best effort: huge page-cache folios get mapped whole.
      ::madvise(at, size_t(f.size), MADV_HUGEPAGE);
#endif
    }
  }
  if (mi.kvBlockSize > 0) {
    // A paged cache: the pool of capacity / B blocks; sequence 0 is the
    // one forward(tokens) runs.
    model->pool = std::make_unique<BlockPool>(
        mi.kvBlocks, mi.kvBlockSize, mi.headDim, mi.layers * 2 * mi.kvHeads,
        mi.kvBlocks);
    model->sequences.push_back(model->pool->newSequence());
    model->liveSequences.push_back(true);
  } else if (mi.cacheBytes > 0)
    model->byteCache.assign(size_t(mi.cacheBytes), 0);
  else
    model->cache.assign(size_t(2 * mi.layers * mi.kvHeads * mi.capacity *
                               mi.headDim),
                        0.0f);
  model->logits.resize(size_t(mi.vocabSize));
  if (mi.draftLayers > 0)
    model->draftCache.assign(size_t(2 * mi.draftLayers * mi.draftKvHeads *
                                    mi.draftCapacity * mi.draftHeadDim),
                             0.0f);
  // The arena for one decode step and one speculative step, now: the
  // decode loop then allocates nothing.
  for (auto [function, rows] :
       {std::pair<llvm::StringRef, int64_t>{"decode", 1},
        {"spec_step", 1}})
    if (llvm::Error error = model->arenaFor(function, rows).takeError())
      return std::move(error);
  if (model->specFn && mi.specTokens < 1)
    return fail(libraryPath + ": @spec_step without its token count in the "
                              "model info (recompile the model)");
  if (!model->specFn)
    model->info.specTokens = 0;
  model->specTokens.resize(size_t(model->info.specTokens));
  return std::move(model);
}

void CompiledModel::setThreads(int64_t n) { llmc_kernels_set_threads(n); }

int64_t CompiledModel::getThreads() { return llmc_kernels_get_threads(); }

llvm::Error CompiledModel::checkStep(int64_t at,
                                     llvm::ArrayRef<int32_t> tokens) const {
  int64_t steps = int64_t(tokens.size());
  if (steps == 0)
    return fail("no tokens to run");
  if (at + steps > info.contextLength())
    return fail(llvm::formatv("{0} tokens at position {1} exceed the context "
                              "of {2} tokens",
                              steps, at, info.contextLength())
                    .str());
  for (int32_t t : tokens)
    if (t < 0 || t >= info.vocabSize)
      return fail(llvm::formatv("token id {0} is outside the vocabulary of {1}",
                                t, info.vocabSize)
                      .str());
  return llvm::Error::success();
}

llvm::Expected<llvm::ArrayRef<float>>
CompiledModel::forward(llvm::ArrayRef<int32_t> tokens) {
  if (pool)
    return forwardPaged(0, tokens);
  if (llvm::Error error = checkStep(position, tokens))
    return std::move(error);
  auto kv = describe(cache.data(), {2, info.layers, info.kvHeads,
                                    info.capacity, info.headDim});
  auto kvBytes = describe(byteCache.data(), {info.cacheBytes});
  void *kvArg = info.cacheBytes > 0 ? static_cast<void *>(&kvBytes)
                                    : static_cast<void *>(&kv);
  llvm::Expected<llvm::ArrayRef<float>> out =
      runStep(tokens, kvArg, position, nullptr);
  if (out)
    position += int64_t(tokens.size());
  return out;
}

llvm::Expected<llvm::ArrayRef<float>>
CompiledModel::runStep(llvm::ArrayRef<int32_t> tokens, void *kvArg,
                       int64_t at, void *blockTable) {
  int64_t steps = int64_t(tokens.size());
  if (int64_t(logits.size()) < steps * info.vocabSize)
    logits.resize(size_t(steps * info.vocabSize));
  auto ids = describe(const_cast<int32_t *>(tokens.data()), {steps});
  auto w = describe(weights, {weightsSize});
  auto out = describe(logits.data(), {steps, info.vocabSize});
  llvm::Expected<void *> buffer =
      arenaFor(steps == 1 ? "decode" : "prefill", steps);
  if (!buffer)
    return buffer.takeError();
  auto arenaRef = describe(static_cast<uint8_t *>(*buffer), {arenaSize});
  MemRef<uint8_t, 1> *arenaArg = *buffer ? &arenaRef : nullptr;
  void *fn = steps == 1 ? decodeFn : prefillFn;
  // A paged step takes the block table after the weights.
  if (blockTable)
    callStep(fn, arenaArg, &ids, kvArg, at, &w,
             static_cast<MemRef<int32_t, 1> *>(blockTable), &out);
  else
    callStep(fn, arenaArg, &ids, kvArg, at, &w, &out);
  return llvm::ArrayRef<float>(logits.data(), size_t(steps * info.vocabSize));
}

llvm::Expected<CompiledModel::SpecStep>
CompiledModel::speculate(llvm::ArrayRef<int32_t> history,
                         const SpecControl &control) {
  if (!specFn)
    return fail(libraryPath + ": compiled without speculative decoding "
                              "(compile with --spec)");
  if (int64_t(history.size()) != position + 1)
    return fail(llvm::formatv("speculate needs the whole sequence: {0} "
                              "tokens at position {1} (expected {2})",
                              history.size(), position, position + 1)
                    .str());
  if (position + info.specTokens > info.contextLength())
    return fail(llvm::formatv("a speculative step at position {0} may reach "
                              "{1} positions, past the context of {2} tokens",
                              position, position + info.specTokens,
                              info.contextLength())
                    .str());
  for (int32_t t : history)
    if (t < 0 || t >= info.vocabSize)
      return fail(llvm::formatv("token id {0} is outside the vocabulary of {1}",
                                t, info.vocabSize)
                      .str());
  int32_t counts[2] = {0, 0}; // accepted, drafted
  auto ids = describe(const_cast<int32_t *>(history.data()),
                      {int64_t(history.size())});
  auto kv = describe(cache.data(), {2, info.layers, info.kvHeads,
                                    info.capacity, info.headDim});
  // A KIVI or evicting cache is a byte buffer (as in forward).
  auto kvBytes = describe(byteCache.data(), {info.cacheBytes});
  void *kvArg = info.cacheBytes > 0 ? static_cast<void *>(&kvBytes)
                                    : static_cast<void *>(&kv);
  auto w = describe(weights, {weightsSize});
  auto tokens = describe(specTokens.data(), {info.specTokens});
  auto accepted = describe(counts, {2});
  int64_t limit = control.draftLimit < 0
                      ? info.specTokens - 1
                      : std::min(control.draftLimit, info.specTokens - 1);
  const SamplingOptions &sampling = control.sampling;
  llvm::Expected<void *> buffer =
      arenaFor("spec_step", int64_t(history.size()));
  if (!buffer)
    return buffer.takeError();
  auto arenaRef = describe(static_cast<uint8_t *>(*buffer), {arenaSize});
  MemRef<uint8_t, 1> *arenaArg = *buffer ? &arenaRef : nullptr;
  if (info.draftLayers > 0) {
    // A separate draft model: its cache and the position it is valid to.
    auto draftKv = describe(draftCache.data(),
                            {2, info.draftLayers, info.draftKvHeads,
                             info.draftCapacity, info.draftHeadDim});
    callStep(specFn, arenaArg, &ids, kvArg, position, limit,
             sampling.temperature, sampling.topK, sampling.topP,
             int64_t(control.seed), &draftKv, draftPosition, &w, &tokens,
             &accepted);
  } else {
    callStep(specFn, arenaArg, &ids, kvArg, position, limit,
             sampling.temperature, sampling.topK, sampling.topP,
             int64_t(control.seed), &w, &tokens, &accepted);
  }
  int32_t count = counts[0];
  if (count < 1 || count > info.specTokens || counts[1] < count - 1)
    return fail(llvm::formatv("@spec_step returned {0} tokens of {1} drafted "
                              "(expected 1 to {2})",
                              count, counts[1], info.specTokens)
                    .str());
  // The draft model saw the last token and its own draft tokens up to the
  // last one it produced; those agreeing with the output stay valid.
  if (info.draftLayers > 0 && counts[1] > 0)
    draftPosition = position + 1 + std::min<int64_t>(count - 1, counts[1] - 1);
  position += count;
  return SpecStep{llvm::ArrayRef<int32_t>(specTokens.data(), size_t(count)),
                  counts[1]};
}

llvm::Expected<void *> CompiledModel::arenaFor(llvm::StringRef function,
                                               int64_t rows) {
  const ArenaInfo *plan = info.arenaOf(function);
  if (!plan)
    return nullptr;
  int64_t bytes = std::max<int64_t>(plan->bytes(rows), 64);
  if (bytes > arenaSize) {
    // Straight from the system (not the step allocator, which would keep
    // the smaller arena cached).
    std::free(arena);
    arena = std::aligned_alloc(64, size_t((bytes + 63) / 64 * 64));
    arenaSize = arena ? bytes : 0;
    if (!arena)
      return fail(llvm::formatv("cannot allocate the {0}-byte activation "
                                "arena of @{1} ({2} rows)",
                                bytes, function, rows)
                      .str());
  }
  return arena;
}

int32_t Sampler::sample(llvm::ArrayRef<float> row) {
  if (options.temperature <= 0.0 || options.topK == 1) {
    int32_t best = 0;
    for (int32_t i = 1, e = int32_t(row.size()); i < e; ++i)
      if (row[i] > row[best])
        best = i;
    return best;
  }
  distribution.compute(row.data(), int64_t(row.size()), 1,
                       options.temperature, options.topK, options.topP);
  return distribution.pick(
      std::uniform_real_distribution<double>(0.0, distribution.total)(rng));
}

llvm::Expected<llvm::ArrayRef<float>>
CompiledModel::forward(int64_t seq, llvm::ArrayRef<int32_t> tokens) {
  if (pool)
    return forwardPaged(seq, tokens);
  if (seq != 0)
    return fail(llvm::formatv("no sequence {0}: a contiguous cache holds "
                              "sequence 0 only (compile with a paged KV "
                              "layout to fork sequences)",
                              seq)
                    .str());
  return forward(tokens);
}

int64_t CompiledModel::getPosition(int64_t seq) const {
  if (!pool)
    return seq == 0 ? position : -1;
  if (seq < 0 || seq >= int64_t(sequences.size()) || !liveSequences[seq])
    return -1;
  return seq == 0 ? position : sequences[size_t(seq)].length;
}

llvm::Expected<int64_t> CompiledModel::fork(int64_t from, int64_t prefix) {
  if (!pool)
    return fail(libraryPath + ": fork needs a paged KV cache (compile with "
                              "--kv paged)");
  int64_t length = getPosition(from);
  if (length < 0)
    return fail(llvm::formatv("fork: no sequence {0}", from).str());
  if (from == 0)
    pool->truncate(sequences[0], position); // after a reset()
  llvm::Expected<BlockPool::Sequence> forked =
      pool->fork(sequences[size_t(from)], prefix);
  if (!forked)
    return forked.takeError();
  sequences.push_back(std::move(*forked));
  liveSequences.push_back(true);
  return int64_t(sequences.size()) - 1;
}

llvm::Error CompiledModel::release(int64_t seq) {
  if (seq == 0 || getPosition(seq) < 0)
    return fail(llvm::formatv("release: no forked sequence {0}", seq).str());
  pool->release(sequences[size_t(seq)]);
  liveSequences[size_t(seq)] = false;
  return llvm::Error::success();
}

llvm::Expected<llvm::ArrayRef<float>>
CompiledModel::forwardPaged(int64_t seq, llvm::ArrayRef<int32_t> tokens) {
  int64_t steps = int64_t(tokens.size());
  int64_t at = getPosition(seq);
  if (at < 0)
    return fail(llvm::formatv("no sequence {0}", seq).str());
  if (llvm::Error error = checkStep(at, tokens))
    return std::move(error);
  BlockPool::Sequence &sequence = sequences[size_t(seq)];
  // Sequence 0 follows `position` (reset() rewinds it).
  if (seq == 0)
    pool->truncate(sequence, position);
  // Map (or copy-on-write) the blocks the step writes: the compiled code
  // only reads the table.
  if (llvm::Error error = pool->prepareWrite(sequence, at, at + steps))
    return std::move(error);
  auto kv = describe(pool->data(), {info.layers, 2, info.kvHeads, info.kvBlocks,
                                    info.kvBlockSize, info.headDim});
  auto table = describe(sequence.table.data(), {info.kvBlocks});
  llvm::Expected<llvm::ArrayRef<float>> out = runStep(tokens, &kv, at, &table);
  if (!out)
    return out;
  sequence.length = at + steps;
  if (seq == 0)
    position = sequence.length;
  return out;
}
