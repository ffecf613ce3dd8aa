//===- GGUFLlama.cpp - a GGUF llama model as a LlamaModel -----------------===//
//
// Part of llmc. Hyperparameters come from the llama.* metadata keys; each
// tensor's location is its absolute offset in the file.
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/GGUF.h"
#include "llmc/Import/Llama.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llmc;
using namespace llmc::import;

static llvm::Error fail(llvm::StringRef path, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 path + ": " + message);
}

static std::optional<StorageType> storageOf(gguf::GGMLType type) {
  switch (type) {
  case gguf::GGMLType::F32:
    return StorageType::F32;
  case gguf::GGMLType::F16:
    return StorageType::F16;
  case gguf::GGMLType::BF16:
    return StorageType::BF16;
  case gguf::GGMLType::Q8_0:
    return StorageType::Q8_0;
  case gguf::GGMLType::Q4_0:
    return StorageType::Q4_0;
  case gguf::GGMLType::Q4_K:
    return StorageType::Q4_K;
  case gguf::GGMLType::Q6_K:
    return StorageType::Q6_K;
  default:
    return std::nullopt;
  }
}

llvm::Expected<LlamaModel> llmc::import::readGGUFLlama(llvm::StringRef path) {
  llvm::Expected<std::unique_ptr<gguf::File>> opened = gguf::File::open(path);
  if (!opened)
    return opened.takeError();
  const gguf::File &file = **opened;

  std::string arch = file.getString("general.architecture").value_or("");
  if (arch != "llama")
    return fail(path, "unsupported architecture '" + arch +
                          "' (llmc imports the llama architecture)");

  LlamaModel model;
  model.source = path.str();
  LlamaConfig &c = model.config;
  auto requireInt = [&](llvm::StringRef key, int64_t &slot) -> llvm::Error {
    std::optional<int64_t> v = file.getInt(key);
    if (!v || *v <= 0)
      return fail(path, "missing or invalid metadata " + key);
    slot = *v;
    return llvm::Error::success();
  };
  if (llvm::Error e = requireInt("llama.embedding_length", c.dim))
    return std::move(e);
  if (llvm::Error e = requireInt("llama.block_count", c.layers))
    return std::move(e);
  if (llvm::Error e = requireInt("llama.attention.head_count", c.heads))
    return std::move(e);
  if (llvm::Error e = requireInt("llama.feed_forward_length", c.ffnDim))
    return std::move(e);
  if (llvm::Error e = requireInt("llama.context_length", c.contextLength))
    return std::move(e);
  c.kvHeads = file.getInt("llama.attention.head_count_kv").value_or(c.heads);
  if (c.heads <= 0 || c.dim % c.heads != 0)
    return fail(path, llvm::formatv("embedding length {0} is not a multiple of "
                                    "the head count {1}",
                                    c.dim, c.heads));
  c.headDim = c.dim / c.heads;
  c.ropeDims = file.getInt("llama.rope.dimension_count").value_or(c.headDim);
  c.ropeTheta = file.getFloat("llama.rope.freq_base").value_or(10000.0);
  c.rmsEps =
      file.getFloat("llama.attention.layer_norm_rms_epsilon").value_or(1e-5);
  std::string scaling = file.getString("llama.rope.scaling.type").value_or("");
  if (!scaling.empty() && scaling != "none") {
    if (scaling != "linear")
      return fail(path, "unsupported rope scaling '" + scaling +
                            "' (supported: none, linear)");
    double factor = file.getFloat("llama.rope.scaling.factor").value_or(1.0);
    if (!(factor > 0.0))
      return fail(path, "invalid llama.rope.scaling.factor");
    c.ropeFreqScale = 1.0 / factor;
  }

  for (const gguf::TensorInfo &info : file.getTensors()) {
    std::optional<StorageType> type = storageOf(info.type);
    if (!type)
      return fail(path, "unsupported tensor type " +
                            gguf::ggmlTypeName(info.type) + " for " +
                            info.name +
                            " (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, "
                            "Q6_K)");
    TensorRef ref;
    ref.file = path.str();
    ref.offset = info.offset;
    ref.type = *type;
    for (auto it = info.dims.rbegin(); it != info.dims.rend(); ++it)
      ref.shape.push_back(int64_t(*it));
    model.tensors[info.name] = std::move(ref);
  }
  auto embd = model.tensors.find("token_embd.weight");
  if (embd == model.tensors.end() || embd->second.shape.size() != 2)
    return fail(path, "missing tensor token_embd.weight");
  c.vocabSize = embd->second.shape[0];
  c.tiedOutput = !model.tensors.count("output.weight");
  if (llvm::Error e = validateLlamaModel(model))
    return std::move(e);
  return std::move(model);
}
