//===- Calibrate.h - calibration sequences and activation stats -*- C++ -*-===//
//
// Part of llmc. Internal to lib/Driver: the token sequences `eval` and
// `calibrate` run (greedy continuations of prompts, or windows of a text),
// and the per-channel activation statistics `calibrate` writes for
// AWQ-style weight quantization.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_DRIVER_CALIBRATE_H
#define LLMC_LIB_DRIVER_CALIBRATE_H

#include "llmc/API/ModelCompiler.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llmc/Runtime/Tokenizer.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"
#include <string>
#include <vector>

namespace llmc::driver {

/// Story openings for models trained on simple English: the prompts `eval`
/// and `calibrate` continue when given no text.
std::vector<std::string> defaultPrompts();

/// Each prompt (with BOS) continued greedily by `model` to `tokens` tokens
/// (a longer prompt is cut). End-of-sequence is never chosen, so every
/// sequence has exactly `tokens` tokens. Resets the model.
llvm::Expected<std::vector<std::vector<int32_t>>>
greedySequences(runtime::CompiledModel &model,
                const runtime::Tokenizer &tokenizer,
                llvm::ArrayRef<std::string> prompts, int64_t tokens);

/// Up to `sequences` consecutive windows of `tokens` tokens of `text`
/// (tokenized with BOS); none when the text is shorter than one window.
std::vector<std::vector<int32_t>>
textSequences(const runtime::Tokenizer &tokenizer, llvm::StringRef text,
              int64_t tokens, int64_t sequences);

/// Runs each sequence through `model` (one forward call per sequence, from
/// position 0) while the kernels record their inputs, and writes to
/// `outPath`, for every weight of the model's tensor list that a matmul
/// kernel read, the mean |x| of each input channel over the rows that
/// went through that matmul:
///   {"model": MODEL, "rows": N, "tensors": {"NAME": [m_0, ...], ...}}
/// N is the number of positions run, which are the rows every projection
/// of the decoder sees; each mean divides by the rows recorded for its own
/// tensor, and a tensor that saw a different number is listed in an extra
/// "tensor_rows": {"NAME": rows} (absent normally). The token
/// embedding is a row gather, not a matmul, so it appears only when the lm
/// head shares it. Prints a one-line summary to `summary`.
llvm::Error writeActivationStats(runtime::CompiledModel &model,
                                 llvm::StringRef modelName,
                                 const std::vector<std::vector<int32_t>> &seqs,
                                 llvm::StringRef outPath,
                                 llvm::raw_ostream &summary);

/// The same on `model` (a model file, compiled into the cache with
/// `baseOptions` when it is not an artifact; progress lines on `err`).
llvm::Error writeActivationStats(llvm::StringRef model,
                                 const api::CompileOptions &baseOptions,
                                 const std::vector<std::vector<int32_t>> &seqs,
                                 llvm::StringRef outPath,
                                 llvm::raw_ostream &err);

} // namespace llmc::driver

#endif // LLMC_LIB_DRIVER_CALIBRATE_H
