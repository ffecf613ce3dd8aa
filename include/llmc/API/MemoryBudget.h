//===- MemoryBudget.h - memory report and budget mode -----------*- C++ -*-===//
//
// Part of llmc. What a compiled model needs in memory, by component
// (`llmc compile --report-memory`), and the choice of KV precision,
// eviction budget, context and (when allowed) weight format that makes a
// model fit a byte budget (`--memory-budget BYTES` on compile and run).
//
// The report is computed from the ModelInfo a compiled library embeds and
// counts what the runtime (CompiledModel) really allocates: the weights it
// maps (tensor bytes; every one is read per token), the KV cache, the
// activation arenas of the step functions at the rows the runtime may run
// them with, and the runtime's own buffers (logits, speculative tokens, a
// draft model's cache).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_API_MEMORYBUDGET_H
#define LLMC_API_MEMORYBUDGET_H

#include "llmc/API/ModelCompiler.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace llmc::api {

/// "1.50 GiB"-style rendering of a byte count.
std::string formatBytes(int64_t bytes);

/// One step function's activation arena at the rows the runtime may call
/// it with.
struct ArenaReport {
  std::string function;
  int64_t rows = 0;
  int64_t bytes = 0, lowerBound = 0, noReuse = 0;
  int64_t buffers = 0, unplanned = 0;
};

/// What a compiled model needs in memory, by component.
struct MemoryReport {
  /// Weight bytes by storage format ("f32", "f16", "q4_0", ...), as
  /// compiled; their sum is ModelInfo::weightBytes.
  std::vector<std::pair<std::string, int64_t>> weightFormats;
  int64_t weightBytes = 0;
  /// The weight files the runtime maps (they may hold more than the
  /// tensors, e.g. a GGUF file's metadata; untouched pages stay on disk).
  int64_t mappedBytes = 0;

  /// The KV cache: "f32" or "kiviB-gG-rR"; "none" or the eviction policy.
  std::string kvPrecision = "f32", kvPolicy = "none";
  /// "contiguous" or "paged<B>" (a block pool of B positions per block).
  std::string kvLayout = "contiguous";
  /// Positions the cache holds, and the longest sequence the model runs.
  int64_t capacity = 0, contextLength = 0;
  double kvBytesPerToken = 0;
  /// The cache as allocated (with a KIVI or evicting cache's side tables
  /// and undo log), and a `--spec model` draft model's f32 cache.
  int64_t kvBytes = 0, draftKvBytes = 0;

  /// Whether the step functions' activations were planned into arenas
  /// (false: no plan in the model; the activations are then not counted).
  bool planned = false;
  std::vector<ArenaReport> arenas;
  /// The arena bytes the runtime allocates: one arena the step functions
  /// share (they never run at once), sized for the largest call.
  int64_t activationBytes = 0;

  /// The runtime's own buffers: logits (vocab x the most rows of one call
  /// x 4 bytes) and @spec_step's token buffer.
  int64_t logitsBytes = 0, tokenBytes = 0;

  int64_t kvTotal() const { return kvBytes + draftKvBytes; }
  int64_t runtimeBytes() const { return logitsBytes + tokenBytes; }
  int64_t total() const {
    return weightBytes + kvTotal() + activationBytes + runtimeBytes();
  }
  /// The largest component: "weights", "KV cache", "activations" or
  /// "runtime buffers", and its bytes.
  std::pair<std::string, int64_t> dominant() const;

  llvm::json::Object toJSON() const;
  /// An aligned table: component, bytes, MiB and details.
  void print(llvm::raw_ostream &os) const;
};

/// The report of a compiled model; `kvSpec` is the `--kv` it was compiled
/// with (names the precision and policy).
MemoryReport
describeMemory(const runtime::ModelInfo &info, llvm::StringRef kvSpec,
               std::vector<std::pair<std::string, int64_t>> weightFormats);

/// Bytes of the module's weights (llm.weight) by storage format, in the
/// order the formats first appear; with a `--quantize` specification, as
/// llmc-quantize-weights would store them (float 2-D weights in the
/// format their tensor name selects, ragged blocks padded). Weights that
/// read the same bytes of the same file are mapped once and count once.
std::vector<std::pair<std::string, int64_t>>
weightBytesByFormat(mlir::ModuleOp module, llvm::StringRef quantize);

/// Everything compiling `options` would produce that the memory report
/// needs, without writing a library.
struct ModelMemory {
  runtime::ModelInfo info;
  std::vector<std::pair<std::string, int64_t>> weightFormats;
  MemoryReport report;
};

/// Runs the compile flow of `modelPath` up to the lowered module (import,
/// KV compression, speculation, the pipeline) and reports its memory;
/// `--quantize` is accounted by the formats' sizes, not run (the weights
/// stay as they are for the lowering). Defined in ModelCompiler.cpp.
llvm::Expected<ModelMemory> analyzeModelMemory(llvm::StringRef modelPath,
                                               const CompileOptions &options);

/// compileModel, also returning the memory of the library it wrote.
/// Defined in ModelCompiler.cpp.
llvm::Expected<ModelMemory>
compileModelWithMemory(llvm::StringRef modelPath, llvm::StringRef outputPath,
                       const CompileOptions &options,
                       const ProgressFn &progress = nullptr);

/// The error of a model whose `report` exceeds `budget` bytes: how many
/// bytes it needs, by how many it is over, and the dominant component.
llvm::Error overBudgetError(llvm::StringRef model, int64_t budget,
                            const MemoryReport &report);

//===----------------------------------------------------------------------===//
// Budget mode
//===----------------------------------------------------------------------===//

/// One configuration the budget chooser may pick.
struct BudgetCandidate {
  /// KV cache capacity (0: the model's context), `--kv`, `--quantize`.
  int64_t contextLength = 0;
  std::string kv, quantize;

  std::string key() const;
};

/// What the chooser may change.
struct BudgetProblem {
  int64_t budget = 0;
  bool allowWeightRequant = false;
  /// The user's choices, kept as given when `fixed*`.
  BudgetCandidate user;
  bool fixedContext = false, fixedKV = false, fixedQuantize = false;
  /// The context of the model (or the user's --context).
  int64_t context = 0;
  /// The smallest context the chooser goes down to (at most `context`).
  int64_t minContext = 128;
  /// The smallest eviction budget it tries.
  int64_t minEvictBudget = 64;
};

/// The chosen configuration, its report, and one line per decision.
struct BudgetChoice {
  BudgetCandidate candidate;
  MemoryReport report;
  std::vector<std::string> decisions;
  /// Configurations evaluated.
  int64_t evaluated = 0;
};

/// The memory of one candidate (errors are the compile's: a candidate that
/// does not compile ends the search).
using CandidateMemory =
    llvm::function_ref<llvm::Expected<MemoryReport>(const BudgetCandidate &)>;

/// Chooses, in order of preference, the first configuration whose total is
/// at most the budget: the user's (or full context, f32 KV, weights as in
/// the model); then KIVI 8, 4, 2 bits; then KIVI 2 with an H2O eviction
/// budget, as large as fits; each of these with the weights as they are,
/// then (with allowWeightRequant) requantized to q8_0, then q4_0 (a format
/// only when it makes the weights smaller); last, the lightest of those
/// with a smaller context, as large as fits, down to minContext. Anything
/// the user fixed stays fixed. Fails with overBudgetError on the cheapest
/// configuration tried when none fits.
llvm::Expected<BudgetChoice> chooseForBudget(const BudgetProblem &problem,
                                             llvm::StringRef model,
                                             CandidateMemory memoryOf);

/// Budget mode for `llmc compile` and `llmc run`: when
/// options.memoryBudget > 0, chooses (chooseForBudget, each candidate
/// measured by analyzeModelMemory) and writes the choice into `options`
/// (contextLength, kv, quantize). The user's choices are the non-default
/// fields of `options`.
llvm::Expected<BudgetChoice> applyMemoryBudget(llvm::StringRef modelPath,
                                               CompileOptions &options);

} // namespace llmc::api

#endif // LLMC_API_MEMORYBUDGET_H
