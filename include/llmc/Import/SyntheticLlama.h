//===- SyntheticLlama.h - synthetic Llama GGUF models -----------*- C++ -*-===//
//
// Part of llmc. Writes Llama-architecture GGUF files of a chosen shape with
// deterministic pseudo-random weights (`llmc gen-model`), for benchmarks
// and tests that need a model of a real size without downloading one.
//
// Weights: every 2-D weight is uniform in [-a, a) with a = 0.02 * sqrt(3)
// (standard deviation 0.02); norm weights are 1. Element i of a tensor is a
// pure function of (seed, tensor name, i), so the F32, F16, Q8_0 and Q4_0
// files of one seed hold the same values up to the format's rounding.
// Q8_0/Q4_0 blocks are quantized exactly like ggml's reference quantizers
// (quantize_row_q8_0_ref / quantize_row_q4_0_ref).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORT_SYNTHETICLLAMA_H
#define LLMC_IMPORT_SYNTHETICLLAMA_H

#include "llmc/Import/GGUF.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <functional>
#include <string>

namespace llmc::import {

/// The hyperparameters of a synthetic Llama model.
struct SyntheticShape {
  std::string name;
  int64_t dim = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t ffn = 0;
  /// Vocabulary size; with a vocabulary file, the file's unless
  /// `vocabExplicit` (then the two must agree).
  int64_t vocab = 0;
  bool vocabExplicit = false;
  /// Vocabulary size when no vocabulary file is given.
  int64_t vocabWithoutFile = 0;
  int64_t context = 0;
  double ropeTheta = 10000.0;
  double rmsEps = 1e-5;
};

/// A named shape ("tiny", "tinyllama-1.1b", "llama-7b") or a list of
/// `key=value` pairs: dim, layers, heads (required), kv_heads (default:
/// heads), ffn (default: the Llama rule, 8*dim/3 rounded up to 256), vocab
/// (default: the vocabulary file's, else 32000), context (2048),
/// rope_theta (10000), eps (1e-5). Errors are one line without a prefix.
llvm::Expected<SyntheticShape> parseSyntheticShape(llvm::StringRef spec);

/// The names of the predefined shapes, for help texts.
llvm::ArrayRef<llvm::StringRef> getSyntheticShapeNames();

struct SyntheticOptions {
  SyntheticShape shape;
  /// F32, F16, Q8_0 or Q4_0: the type of every 2-D weight (a weight whose
  /// rows are not a whole number of blocks falls back to F16). Norms are
  /// always F32.
  gguf::GGMLType format = gguf::GGMLType::F16;
  uint64_t seed = 0;
  /// A GGUF file whose tokenizer (tokenizer.* keys) to copy; empty: a
  /// built-in byte-level SentencePiece-style vocabulary.
  std::string vocabPath;
  /// Worker threads generating weights (0 = all cores).
  unsigned threads = 0;
};

/// Called now and then with the bytes of tensor data written so far.
using SyntheticProgressFn =
    std::function<void(uint64_t written, uint64_t total)>;

/// Writes the model to `path` (streaming; memory use does not grow with the
/// model). On error nothing is left at `path`.
llvm::Error writeSyntheticLlama(const SyntheticOptions &options,
                                llvm::StringRef path,
                                const SyntheticProgressFn &progress = nullptr);

//===----------------------------------------------------------------------===//
// Conversions (exposed for tests and other writers).
//===----------------------------------------------------------------------===//

/// IEEE half from float, round to nearest even (like F16C's vcvtps2ph).
uint16_t floatToHalf(float value);
/// ggml block_q8_0 / block_q4_0 encodings of `n` floats (n % 32 == 0).
void quantizeRowQ8_0(const float *x, uint8_t *out, int64_t n);
void quantizeRowQ4_0(const float *x, uint8_t *out, int64_t n);

} // namespace llmc::import

#endif // LLMC_IMPORT_SYNTHETICLLAMA_H
