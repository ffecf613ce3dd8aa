//===- CompiledModel.h - running a compiled model ---------------*- C++ -*-===//
//
// Part of llmc. Loads the shared library `llmc compile` produced, maps the
// weight files at the layout the compiler chose, owns the KV cache and runs
// the @prefill / @decode step functions. No allocation in the decode loop.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_COMPILEDMODEL_H
#define LLMC_RUNTIME_COMPILEDMODEL_H

#include "llmc/Runtime/BlockPool.h"
#include "llmc/Runtime/Sampling.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace llmc::runtime {

/// A weight file mapped at `base` of the weight range.
struct WeightFile {
  std::string path;
  int64_t base = 0;
  int64_t size = 0;
};

/// A weight tensor of the compiled model: its name in the model file and
/// the byte offset of its data in the weight range (its file's base plus
/// its offset in the file), which is the `weightOffset` the matmul kernels
/// receive for it.
struct TensorLocation {
  std::string name;
  int64_t offset = 0;
};

/// What the compiler recorded in the library (symbol `llmc_model_info`).
/// The activation arena of one step function, as `llmc-plan-memory` planned
/// it (the function's `llmc.memory_plan` attribute): the function's
/// temporary buffers all live at fixed offsets in one buffer of
/// fixedBytes + perRowBytes x rows bytes, rows being the tokens the call
/// runs (the length of its first argument). The lower bound is the most
/// bytes live at any one point, the no-reuse total what one buffer per
/// temporary would take; both in the same fixed + per-row form, each part
/// maximized separately.
struct ArenaInfo {
  std::string function;
  int64_t fixedBytes = 0, perRowBytes = 0;
  int64_t lowerBoundFixed = 0, lowerBoundPerRow = 0;
  int64_t noReuseFixed = 0, noReusePerRow = 0;
  /// Temporaries placed in the arena, and those left to the allocator.
  int64_t buffers = 0, unplanned = 0;

  int64_t bytes(int64_t rows) const { return fixedBytes + perRowBytes * rows; }
  int64_t lowerBound(int64_t rows) const {
    return lowerBoundFixed + lowerBoundPerRow * rows;
  }
  int64_t noReuse(int64_t rows) const {
    return noReuseFixed + noReusePerRow * rows;
  }
};

struct ModelInfo {
  std::string source;
  int64_t vocabSize = 0;
  int64_t layers = 0;
  int64_t kvHeads = 0;
  int64_t headDim = 0;
  int64_t capacity = 0;
  /// Bytes of all weights as compiled (after any quantization).
  int64_t weightBytes = 0;
  /// Bytes the KV cache stores per position (keys and values, all layers).
  double kvBytesPerToken = 0;
  /// Bytes of a cache that is not an f32 [2, L, H, C, D] array (a KIVI
  /// cache, include/llmc/Runtime/KVLayout.h); 0 for the f32 cache.
  int64_t cacheBytes = 0;
  /// A paged cache (`paged<B>`): the block size B (0 = contiguous) and the
  /// blocks of the pool the runtime allocates (capacity / B; a sequence
  /// maps at most that many too). See BlockPool.
  int64_t kvBlockSize = 0, kvBlocks = 0;
  /// Positions a sequence may reach when that is more than the cache
  /// capacity (a cache under an eviction policy); 0 = the capacity.
  int64_t maxPositions = 0;
  /// Speculative decoding: the tokens @spec_step returns at most (draft
  /// length + 1; 0 = no @spec_step) and the `--spec` it was compiled with.
  int64_t specTokens = 0;
  std::string spec;
  /// `--spec model`: the draft model's f32 cache (0 layers = none).
  int64_t draftLayers = 0, draftKvHeads = 0, draftCapacity = 0,
          draftHeadDim = 0;
  std::vector<WeightFile> weightFiles;
  /// The arena of each step function (@prefill, @decode, @spec_step) that
  /// has one; empty when the pipeline planned none.
  std::vector<ArenaInfo> arenas;
  /// Every weight tensor as compiled (after any quantization), in the
  /// module's order.
  std::vector<TensorLocation> tensors;

  /// Bytes of the whole KV cache as allocated (at the compiled capacity).
  int64_t cacheSize() const {
    return cacheBytes > 0 ? cacheBytes
                          : 2 * layers * kvHeads * capacity * headDim * 4;
  }
  /// The arena of `function`, or null.
  const ArenaInfo *arenaOf(llvm::StringRef function) const {
    for (const ArenaInfo &a : arenas)
      if (a.function == function)
        return &a;
    return nullptr;
  }
  /// The longest sequence the model runs.
  int64_t contextLength() const {
    return maxPositions > 0 ? maxPositions : capacity;
  }

  /// The JSON the compiler embeds, and its parser (errors name `origin`).
  std::string toJSON() const;
  static llvm::Expected<ModelInfo> fromJSON(llvm::StringRef json,
                                            llvm::StringRef origin);
};

/// Token choice from one row of logits.
struct SamplingOptions {
  /// 0 = greedy (argmax, first maximum wins).
  double temperature = 0.0;
  /// Keep the k most likely tokens (0 = all).
  int64_t topK = 0;
  /// Keep the smallest set whose probability reaches top_p (1 = all).
  double topP = 1.0;
  uint64_t seed = 0;
};

class CompiledModel {
public:
  ~CompiledModel();
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  load(llvm::StringRef libraryPath);

  const ModelInfo &getInfo() const { return info; }
  /// Positions filled in the cache.
  int64_t getPosition() const { return position; }
  /// Forgets the sequence (the cache is overwritten from position 0).
  void reset() { position = draftPosition = 0; }
  /// Threads the kernels run on (the kernels' one pool, shared by every
  /// model in the process; workers are created here, never per token).
  /// n < 1: one per core.
  static void setThreads(int64_t n);
  static int64_t getThreads();

  /// Runs `tokens` at the current position and advances it. Returns the
  /// logits of every row (tokens.size() x vocab), valid until the next call.
  llvm::Expected<llvm::ArrayRef<float>> forward(llvm::ArrayRef<int32_t> tokens);

  /// Sequences over a paged cache (ModelInfo::kvBlockSize > 0). Sequence 0
  /// is the one forward(tokens) runs; fork(from, prefix) starts a new one
  /// holding the first `prefix` positions of `from`, sharing their blocks
  /// (copy-on-write: the first write into a shared block copies it), and
  /// returns its id. Each sequence has its own position.
  bool isPaged() const { return pool != nullptr; }
  llvm::Expected<int64_t> fork(int64_t from, int64_t prefix);
  /// forward(tokens) on sequence `seq` (any cache layout for sequence 0).
  llvm::Expected<llvm::ArrayRef<float>> forward(int64_t seq,
                                                llvm::ArrayRef<int32_t> tokens);
  /// Positions filled in sequence `seq` (-1 if there is no such sequence).
  int64_t getPosition(int64_t seq) const;
  /// Gives back the blocks of sequence `seq` (> 0); its id becomes invalid.
  llvm::Error release(int64_t seq);
  /// The block pool of a paged cache, or null.
  const BlockPool *getBlockPool() const { return pool.get(); }
  /// The block table and length of sequence `seq` of a paged cache, or
  /// null (sequence 0's length is brought up to date by its next step).
  const BlockPool::Sequence *getSequence(int64_t seq) const {
    return pool && getPosition(seq) >= 0 ? &sequences[size_t(seq)] : nullptr;
  }

  /// Whether the model was compiled with speculative decoding.
  bool canSpeculate() const { return specFn != nullptr; }
  /// One speculative step (@spec_step): `history` is every token of the
  /// sequence, getPosition() + 1 of them (the last one not run yet). Drafts
  /// up to `control.draftLimit` tokens (-1: the compiled k), verifies and
  /// accepts; returns the emitted tokens (1 to ModelInfo::specTokens, valid
  /// until the next call) and advances the position by their number. At
  /// temperature 0 they are exactly greedy decoding's next tokens; above,
  /// each is distributed exactly as sampling the target with the same
  /// options (the draws come from `control.seed`). The last returned token
  /// is not run yet. Needs getPosition() + specTokens <= the context.
  struct SpecStep {
    llvm::ArrayRef<int32_t> tokens;
    /// Draft tokens the step proposed (tokens.size() - 1 of them agreed).
    int64_t drafted = 0;
  };
  struct SpecControl {
    int64_t draftLimit = -1;
    /// temperature/topK/topP; its seed is unused (see `seed`).
    SamplingOptions sampling;
    uint64_t seed = 0;
  };
  llvm::Expected<SpecStep> speculate(llvm::ArrayRef<int32_t> history,
                                     const SpecControl &control);

private:
  CompiledModel() = default;

  ModelInfo info;
  std::string libraryPath;
  void *library = nullptr;
  void *prefillFn = nullptr;
  void *decodeFn = nullptr;
  void *specFn = nullptr;
  std::vector<int32_t> specTokens;
  /// `--spec model`: the draft model's cache, valid for [0, draftPosition).
  std::vector<float> draftCache;
  int64_t draftPosition = 0;
  uint8_t *weights = nullptr;
  int64_t weightsSize = 0;
  std::vector<float> cache;
  std::vector<uint8_t> byteCache;
  std::vector<float> logits;
  int64_t position = 0;
  /// The activation arena the planned step functions share (they never run
  /// at once): 64-byte aligned, grown to the largest call so far (the
  /// smaller one is freed); sized for @decode and @spec_step at load.
  void *arena = nullptr;
  int64_t arenaSize = 0;
  /// The arena for a call of `function` on `rows` rows (null when the
  /// function has none), or an error when it cannot be allocated.
  llvm::Expected<void *> arenaFor(llvm::StringRef function, int64_t rows);
  /// A paged cache: the pool and every sequence (entry 0's length follows
  /// `position`; released ones are marked dead).
  std::unique_ptr<BlockPool> pool;
  std::vector<BlockPool::Sequence> sequences;
  std::vector<bool> liveSequences;
  llvm::Expected<llvm::ArrayRef<float>>
  forwardPaged(int64_t seq, llvm::ArrayRef<int32_t> tokens);
  /// Calls @prefill (or @decode for one token) on `tokens` at position
  /// `at` with the cache descriptor `kvArg` (and, for a paged cache, the
  /// block table descriptor) and the arena; returns the logits.
  llvm::Expected<llvm::ArrayRef<float>> runStep(llvm::ArrayRef<int32_t> tokens,
                                                void *kvArg, int64_t at,
                                                void *blockTable);
  /// `tokens` can run at position `at`: some, in the vocabulary, within the
  /// context.
  llvm::Error checkStep(int64_t at, llvm::ArrayRef<int32_t> tokens) const;
};


class Sampler {
public:
  explicit Sampler(const SamplingOptions &options)
      : options(options), rng(options.seed) {}
  int32_t sample(llvm::ArrayRef<float> logits);

private:
  SamplingOptions options;
  std::mt19937_64 rng;
  // Reused across calls: sampling allocates nothing per token.
  TokenDistribution distribution;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_COMPILEDMODEL_H
