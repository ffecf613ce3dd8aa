//===- ModelCompiler.h - model file to a compiled artifact ------*- C++ -*-===//
//
// Part of llmc. The whole compile flow shared by the driver and Python:
// import, the CPU pipeline, LLVM codegen and linking into a shared library
// that embeds its ModelInfo; plus a cache keyed by the model file and the
// options, so running a model twice compiles it once.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_API_MODELCOMPILER_H
#define LLMC_API_MODELCOMPILER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <functional>
#include <string>
#include <vector>

namespace llmc::api {

struct CompileOptions {
  /// KV cache capacity; 0 = the model's context length.
  int64_t contextLength = 0;
  /// A textual pass pipeline replacing llmc-cpu-pipeline (must end in the
  /// LLVM dialect).
  std::string pipeline;
  /// LLVM optimization level.
  unsigned optLevel = 2;
  /// Weight quantization (llmc-quantize-weights): `FORMAT[,GLOB=FORMAT...]`,
  /// e.g. "q4_0,output.weight=q8_0"; empty = weights as in the file.
  std::string quantize;
  /// Permute MLP channels so outliers share quantization blocks.
  bool reorderOutliers = false;
  /// Where quantized weights are written; empty = `<output>.weights`.
  std::string weightsPath;
  /// Activation statistics (`llmc calibrate`) for AWQ-style scaling of the
  /// quantized weights; empty = none.
  std::string activationStats;
  /// KV-cache compression, comma-separated parts: KIVI quantization
  /// `kiviBITS[-gGROUP][-rRESIDUAL]` (llmc-kv-quantize, e.g. "kivi4") and/or
  /// an eviction policy `window|h2o|snapkv-bBUDGET[-sSINKS][-rRECENT]
  /// [-oOBSERVE][-pPOOL][-pyramid]` (llmc-kv-evict, e.g. "h2o-b128");
  /// empty = the f32 cache.
  std::string kv;
  /// Speculative decoding (llmc-speculative-decode): `ngram[-kK][-nN]`,
  /// `skip-L1:L2...[-kK]` or `exit-E[-kK]`, each with `-a` for an adaptive
  /// draft length; empty = none. (`skip-auto`
  /// parses but only the driver resolves it, by a search.) `model[-kK]`
  /// drafts with `draftModel`.
  std::string spec;
  /// The draft model of `--spec model`: a GGUF file or Hugging Face
  /// directory with the target's vocabulary (e.g. a smaller or quantized
  /// model of the same family).
  std::string draftModel;
  /// Budget mode (include/llmc/API/MemoryBudget.h): compileModel fails when
  /// the compiled model needs more than this many bytes (weights, KV,
  /// activations, runtime buffers); 0 = no budget. api::applyMemoryBudget
  /// chooses the options that fit first.
  int64_t memoryBudget = 0;
  /// Let applyMemoryBudget requantize the weights (q8_0, then q4_0).
  bool allowWeightRequant = false;
};

/// The settings of a `--spec` specification.
struct SpecSpec {
  /// "ngram", "skip", "exit" or "model".
  std::string drafter;
  int64_t k = 4, ngram = 3, exitLayer = 0;
  std::vector<int64_t> skipLayers;
  /// `-a`: the runtime picks each step's draft length in [0, k].
  bool adaptive = false;
  /// ngram `-tW`: a token tree of up to W branching continuations.
  int64_t treeWidth = 1;
  /// `skip-auto[-kK]`: the layers (and, without -kK, k = 0: k too) are for
  /// the driver's calibration search (`llmc spec-search`) to choose.
  bool autoLayers = false;
};
/// Parses a `--spec` specification; returns an error message or "".
std::string parseSpecSpec(llvm::StringRef spec, SpecSpec &out);

/// Checks a `--quantize` specification; returns an error message or "".
std::string validateQuantizeSpec(llvm::StringRef spec);

/// The settings of a `--kv` specification.
struct KVSpec {
  bool kivi = false;
  /// residual -1: 128 alone; with a policy, h2o's recent window if given,
  /// else a quarter of the budget.
  int64_t bits = 4, group = 32, residual = -1;
  /// "", "window", "h2o" or "snapkv".
  std::string policy;
  /// Positions kept per layer (the mean over layers with `pyramid`);
  /// sinks and recent of -1 take the policy's defaults (window: 4 sinks,
  /// the rest recent; h2o: no sinks, half the budget recent).
  int64_t budget = 0, sinks = -1, recent = -1;
  /// SnapKV's observation window (-1: min(16, budget / 4)) and pooling.
  int64_t observe = -1, pool = 7;
  /// PyramidKV-style budgets: 1.5x the budget at the first layer down to
  /// 0.5x at the last, linearly (same total).
  bool pyramid = false;
  /// `paged[-bBLOCK]`: a paged cache of BLOCK-position blocks (0: not
  /// paged; llmc-plan-kv-layout's CPU default when BLOCK is omitted).
  int64_t pagedBlock = 0;
};
/// Parses a `--kv` specification; returns an error message or "".
std::string parseKVSpec(llvm::StringRef spec, KVSpec &out);

/// Called when a compile stage starts ("import", "lower", "codegen").
using ProgressFn = std::function<void(llvm::StringRef stage)>;

/// Compiles `modelPath` (GGUF file or Hugging Face directory) into the
/// shared library `outputPath`.
llvm::Error compileModel(llvm::StringRef modelPath, llvm::StringRef outputPath,
                         const CompileOptions &options,
                         const ProgressFn &progress = nullptr);

/// The cached artifact for `modelPath` and `options`, compiled first if it
/// is missing or stale. The cache lives in $LLMC_CACHE_DIR, else
/// $XDG_CACHE_HOME/llmc, else ~/.cache/llmc. `compiled` tells whether this
/// call compiled.
llvm::Expected<std::string> compileCached(llvm::StringRef modelPath,
                                          const CompileOptions &options,
                                          bool &compiled,
                                          const ProgressFn &progress = nullptr);

/// Whether `path` is a compiled llmc artifact (a shared library).
bool isCompiledArtifact(llvm::StringRef path);

} // namespace llmc::api

#endif // LLMC_API_MODELCOMPILER_H
