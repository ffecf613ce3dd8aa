//===- Llama.h - Llama-family models into the llm dialect -------*- C++ -*-===//
//
// Part of llmc. A model file is first read into a LlamaModel (configuration
// plus where each weight lives), independent of the file format; the module
// builder then emits `llm.weight` references and the @prefill / @decode
// step functions.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORT_LLAMA_H
#define LLMC_IMPORT_LLAMA_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include <string>
#include <vector>

namespace llmc::import {

/// Hyperparameters of a Llama-family decoder.
struct LlamaConfig {
  int64_t vocabSize = 0;
  int64_t dim = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t headDim = 0;
  int64_t ffnDim = 0;
  int64_t ropeDims = 0;
  int64_t contextLength = 0;
  double ropeTheta = 10000.0;
  double ropeFreqScale = 1.0;
  double rmsEps = 1e-5;
  /// Rotate (i, i + rotary/2) pairs (Hugging Face layout) instead of
  /// adjacent pairs (GGUF layout).
  bool ropeHalfSplit = false;
  /// The output head is the token embedding table.
  bool tiedOutput = false;
};

/// How a weight is stored in its file.
enum class StorageType { F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K };
llvm::StringRef storageTypeName(StorageType type);

/// Where one weight lives.
struct TensorRef {
  std::string file;
  uint64_t offset = 0;
  /// Outermost first: {rows, cols} for matrices, {n} for vectors.
  std::vector<int64_t> shape;
  StorageType type = StorageType::F32;
  /// The tensor's name in its file, where it differs from the GGUF name the
  /// model is keyed by (for messages).
  std::string sourceName;
};

struct LlamaModel {
  LlamaConfig config;
  /// Keyed by GGUF tensor name (token_embd.weight, blk.N.attn_q.weight...).
  llvm::StringMap<TensorRef> tensors;
  /// The file or directory the model came from (for messages).
  std::string source;
};

struct ImportOptions {
  /// KV cache capacity; 0 = the model's context length.
  int64_t contextLength = 0;
};

/// Reads a GGUF file with the llama architecture.
llvm::Expected<LlamaModel> readGGUFLlama(llvm::StringRef path);

/// Reads a Hugging Face model directory (config.json with
/// LlamaForCausalLM, model.safetensors or sharded model-*.safetensors with
/// model.safetensors.index.json), F32/F16/BF16.
llvm::Expected<LlamaModel> readSafetensorsLlama(llvm::StringRef directory);

/// Checks that every tensor the decoder needs is present with the right
/// shape; errors name the source and the tensor.
llvm::Error validateLlamaModel(const LlamaModel &model);

/// Builds the llm-dialect module: llm.weight symbols, @prefill (T tokens at
/// a position -> logits of every row and the updated cache) and @decode (one
/// token -> its logits and the updated cache).
mlir::OwningOpRef<mlir::ModuleOp>
buildLlamaModule(mlir::MLIRContext &context, const LlamaModel &model,
                 const ImportOptions &options);

/// Reads any supported model (a .gguf file, or a Hugging Face directory with
/// config.json and *.safetensors) and builds its module.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importModel(mlir::MLIRContext &context, llvm::StringRef path,
            const ImportOptions &options);

} // namespace llmc::import

#endif // LLMC_IMPORT_LLAMA_H
