//===- SafetensorsLlama.cpp - a Hugging Face llama directory --------------===//
//
// Part of llmc. Hyperparameters come from config.json (LlamaForCausalLM);
// weights from model.safetensors, or from the shards that
// model.safetensors.index.json names. Tensors are renamed to the GGUF names
// the module builder expects and referenced in place: Hugging Face q/k
// projections keep their rotate-half row order, and the model is marked
// ropeHalfSplit instead of permuting them.
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/Llama.h"
#include "llmc/Import/Safetensors.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include <cmath>

using namespace llmc;
using namespace llmc::import;
using llvm::StringRef;

static llvm::Error fail(const llvm::Twine &path, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 path + ": " + message);
}

static std::string join(StringRef directory, StringRef file) {
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(path, file);
  return std::string(path);
}

/// Reads a JSON file of at most `limit` bytes.
static llvm::Expected<llvm::json::Value> readJSONFile(const std::string &path,
                                                      uint64_t limit) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  if ((*buffer)->getBufferSize() > limit)
    return fail(path, "larger than " + llvm::Twine(limit) + " bytes");
  return safetensors::parseJSON((*buffer)->getBuffer(),
                                path + ": invalid JSON");
}

//===----------------------------------------------------------------------===//
// config.json
//===----------------------------------------------------------------------===//

namespace {

/// Typed access to config.json; a key whose value is null counts as absent.
class ConfigReader {
public:
  ConfigReader(const llvm::json::Object &object, StringRef path)
      : object(object), path(path) {}

  const llvm::json::Value *get(StringRef key) const {
    const llvm::json::Value *v = object.get(key);
    return v && v->kind() != llvm::json::Value::Null ? v : nullptr;
  }

  /// A positive integer (below 2^31: larger sizes are not real models and
  /// would overflow the products the builder forms).
  llvm::Error getInt(StringRef key, int64_t &slot,
                     std::optional<int64_t> fallback = std::nullopt) const {
    const llvm::json::Value *v = get(key);
    if (!v) {
      if (!fallback)
        return fail(path, "missing " + key);
      slot = *fallback;
      return llvm::Error::success();
    }
    std::optional<int64_t> i = safetensors::getJSONInteger(*v);
    if (!i || *i <= 0 || *i > int64_t(INT32_MAX))
      return fail(path, key + " must be a positive integer below 2^31");
    slot = *i;
    return llvm::Error::success();
  }

  llvm::Error getPositive(StringRef key, double &slot,
                          std::optional<double> fallback = std::nullopt) const {
    const llvm::json::Value *v = get(key);
    if (!v) {
      if (!fallback)
        return fail(path, "missing " + key);
      slot = *fallback;
      return llvm::Error::success();
    }
    std::optional<double> d = v->getAsNumber();
    if (!d || !(*d > 0.0) || !std::isfinite(*d))
      return fail(path, key + " must be a positive number");
    slot = *d;
    return llvm::Error::success();
  }

  llvm::Error getBool(StringRef key, bool &slot, bool fallback) const {
    const llvm::json::Value *v = get(key);
    if (!v) {
      slot = fallback;
      return llvm::Error::success();
    }
    std::optional<bool> b = v->getAsBoolean();
    if (!b)
      return fail(path, key + " must be true or false");
    slot = *b;
    return llvm::Error::success();
  }

private:
  const llvm::json::Object &object;
  StringRef path;
};

} // namespace

static llvm::Error readArchitecture(const ConfigReader &config,
                                    StringRef path) {
  const llvm::json::Value *value = config.get("architectures");
  const llvm::json::Array *list = value ? value->getAsArray() : nullptr;
  if (!list || list->empty())
    return fail(path, "no architectures list (llmc imports LlamaForCausalLM)");
  std::string names;
  for (const llvm::json::Value &entry : *list) {
    std::optional<StringRef> name = entry.getAsString();
    if (name && *name == "LlamaForCausalLM")
      return llvm::Error::success();
    names += (names.empty() ? "" : ", ") +
             (name ? safetensors::quote(*name) : std::string("?"));
  }
  return fail(path, "unsupported architecture " + names +
                        " (llmc imports LlamaForCausalLM)");
}

static llvm::Error readRopeScaling(const ConfigReader &config, StringRef path,
                                   LlamaConfig &c) {
  const llvm::json::Value *value = config.get("rope_scaling");
  if (!value)
    return llvm::Error::success();
  const llvm::json::Object *scaling = value->getAsObject();
  if (!scaling)
    return fail(path, "rope_scaling must be an object or null");
  std::optional<StringRef> type = scaling->getString("rope_type");
  if (!type)
    type = scaling->getString("type");
  if (!type)
    return fail(path, "rope_scaling has no type");
  if (*type == "default")
    return llvm::Error::success();
  if (*type != "linear")
    return fail(path, "unsupported rope_scaling type " +
                          safetensors::quote(*type) + " (supported: linear)");
  std::optional<double> factor = scaling->getNumber("factor");
  if (!factor || !(*factor > 0.0) || !std::isfinite(*factor))
    return fail(path, "rope_scaling factor must be a positive number");
  c.ropeFreqScale = 1.0 / *factor;
  return llvm::Error::success();
}

/// Reads config.json; `tied` is tie_word_embeddings.
static llvm::Error readConfig(const std::string &path, LlamaConfig &c,
                              bool &tied) {
  llvm::Expected<llvm::json::Value> json = readJSONFile(path, 16 << 20);
  if (!json)
    return json.takeError();
  const llvm::json::Object *object = json->getAsObject();
  if (!object)
    return fail(path, "expected a JSON object");
  ConfigReader config(*object, path);
  if (llvm::Error e = readArchitecture(config, path))
    return e;
  if (llvm::Error e = config.getInt("hidden_size", c.dim))
    return e;
  if (llvm::Error e = config.getInt("num_hidden_layers", c.layers))
    return e;
  if (llvm::Error e = config.getInt("num_attention_heads", c.heads))
    return e;
  if (llvm::Error e = config.getInt("num_key_value_heads", c.kvHeads, c.heads))
    return e;
  if (llvm::Error e = config.getInt("intermediate_size", c.ffnDim))
    return e;
  if (llvm::Error e = config.getInt("max_position_embeddings", c.contextLength))
    return e;
  if (llvm::Error e = config.getInt("vocab_size", c.vocabSize))
    return e;
  if (llvm::Error e = config.getPositive("rms_norm_eps", c.rmsEps))
    return e;
  if (llvm::Error e = config.getPositive("rope_theta", c.ropeTheta, 10000.0))
    return e;
  if (llvm::Error e = config.getBool("tie_word_embeddings", tied, false))
    return e;
  if (c.dim % c.heads != 0)
    return fail(path, llvm::formatv("hidden_size {0} is not a multiple of "
                                    "num_attention_heads {1}",
                                    c.dim, c.heads)
                          .str());
  c.headDim = c.dim / c.heads;
  int64_t headDim = c.headDim;
  if (llvm::Error e = config.getInt("head_dim", headDim, c.headDim))
    return e;
  if (headDim != c.headDim)
    return fail(path, llvm::formatv("head_dim {0} differs from hidden_size / "
                                    "num_attention_heads = {1} (not "
                                    "supported)",
                                    headDim, c.headDim)
                          .str());
  c.ropeDims = c.headDim;
  c.ropeHalfSplit = true;
  if (llvm::Error e = readRopeScaling(config, path, c))
    return e;
  // Variants the decoder does not implement.
  if (const llvm::json::Value *act = config.get("hidden_act"))
    if (act->getAsString() != StringRef("silu"))
      return fail(path, "unsupported hidden_act (supported: silu)");
  for (StringRef key : {"attention_bias", "mlp_bias"}) {
    bool bias = false;
    if (llvm::Error e = config.getBool(key, bias, false))
      return e;
    if (bias)
      return fail(path, key + " is not supported");
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

namespace {

/// The opened weight files and where each tensor lives.
struct Weights {
  struct Location {
    const safetensors::File *file;
    const safetensors::TensorInfo *info;
  };
  std::vector<std::unique_ptr<safetensors::File>> files;
  /// Tensor names, sorted.
  std::vector<std::string> names;
  llvm::StringMap<Location> tensors;
};

} // namespace

static llvm::Error openSingle(const std::string &path, Weights &weights) {
  llvm::Expected<std::unique_ptr<safetensors::File>> file =
      safetensors::File::open(path);
  if (!file)
    return file.takeError();
  for (const safetensors::TensorInfo &info : (*file)->getTensors()) {
    weights.names.push_back(info.name);
    weights.tensors[info.name] = {file->get(), &info};
  }
  llvm::sort(weights.names);
  weights.files.push_back(std::move(*file));
  return llvm::Error::success();
}

static llvm::Error openSharded(StringRef directory, const std::string &index,
                               Weights &weights) {
  llvm::Expected<llvm::json::Value> json = readJSONFile(index, 64 << 20);
  if (!json)
    return json.takeError();
  const llvm::json::Object *object = json->getAsObject();
  const llvm::json::Object *map =
      object ? object->getObject("weight_map") : nullptr;
  if (!map)
    return fail(index, "no weight_map object");
  // In name order, so that the first problem reported does not depend on
  // the JSON object's hashing.
  std::vector<std::pair<StringRef, const llvm::json::Value *>> entries;
  for (const auto &[key, value] : *map)
    entries.emplace_back(key, &value);
  llvm::sort(entries, llvm::less_first());
  llvm::StringMap<const safetensors::File *> shards;
  for (const auto &[name, value] : entries) {
    std::optional<StringRef> shard = value->getAsString();
    if (!shard)
      return fail(index, "weight_map entry " + safetensors::quote(name) +
                             " is not a file name");
    // Shards are files of this directory, never paths elsewhere.
    if (shard->empty() || *shard == "." || *shard == ".." ||
        shard->find_first_of("/\\") != StringRef::npos)
      return fail(index, "weight_map entry " + safetensors::quote(name) +
                             " names " + safetensors::quote(*shard) +
                             ", not a file of the model directory");
    auto [it, inserted] = shards.try_emplace(*shard, nullptr);
    if (inserted) {
      llvm::Expected<std::unique_ptr<safetensors::File>> file =
          safetensors::File::open(join(directory, *shard));
      if (!file)
        return file.takeError();
      it->second = file->get();
      weights.files.push_back(std::move(*file));
    }
    const safetensors::TensorInfo *info = it->second->findTensor(name);
    if (!info)
      return fail(index, "tensor " + safetensors::quote(name) +
                             " is not in its shard " +
                             safetensors::quote(*shard));
    weights.names.push_back(name.str());
    weights.tensors[name] = {it->second, info};
  }
  return llvm::Error::success();
}

static llvm::Error openWeights(StringRef directory, Weights &weights) {
  std::string single = join(directory, "model.safetensors");
  if (llvm::sys::fs::exists(single))
    return openSingle(single, weights);
  std::string index = join(directory, "model.safetensors.index.json");
  if (llvm::sys::fs::exists(index))
    return openSharded(directory, index, weights);
  return fail(directory,
              "no model.safetensors or model.safetensors.index.json");
}

//===----------------------------------------------------------------------===//
// Names
//===----------------------------------------------------------------------===//

/// Parameters of each decoder layer: Hugging Face suffix, GGUF suffix.
static constexpr std::pair<const char *, const char *> kLayerTensors[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

namespace {
/// What becomes of one tensor of the checkpoint.
struct Mapping {
  enum Kind { Use, Skip, Unknown, BadLayer } kind;
  std::string ggufName;
  int64_t layer = 0;
};
} // namespace

static Mapping mapName(StringRef name, int64_t layers, bool tied) {
  if (name == "model.embed_tokens.weight")
    return {Mapping::Use, "token_embd.weight"};
  if (name == "model.norm.weight")
    return {Mapping::Use, "output_norm.weight"};
  if (name == "lm_head.weight")
    // Tied checkpoints that store the head anyway store the embedding.
    return tied ? Mapping{Mapping::Skip, ""}
                : Mapping{Mapping::Use, "output.weight"};
  StringRef rest = name;
  if (!rest.consume_front("model.layers."))
    return {Mapping::Unknown, ""};
  size_t dot = rest.find('.');
  StringRef number = rest.take_front(dot);
  rest = rest.drop_front(dot == StringRef::npos ? rest.size() : dot + 1);
  unsigned long long layer = 0;
  // Canonical decimal only, so two spellings never name one layer.
  if (number.getAsInteger(10, layer) || number != std::to_string(layer))
    return {Mapping::Unknown, ""};
  if (layer >= uint64_t(layers))
    return {Mapping::BadLayer, "",
            int64_t(std::min<unsigned long long>(layer, INT64_MAX))};
  // Precomputed rotary frequencies of older checkpoints: not parameters.
  if (rest == "self_attn.rotary_emb.inv_freq")
    return {Mapping::Skip, ""};
  for (const auto &[hf, gguf] : kLayerTensors)
    if (rest == hf)
      return {Mapping::Use, "blk." + std::to_string(layer) + "." + gguf};
  return {Mapping::Unknown, ""};
}

/// The first tensor the decoder needs that the checkpoint lacks, in the
/// order validateLlamaModel checks them (stopping early: a hostile
/// num_hidden_layers must not make this enumerate billions of names).
static std::optional<std::string>
firstMissing(const LlamaConfig &c,
             const llvm::StringMap<Weights::Location> &have) {
  auto missing = [&](const std::string &name) { return !have.count(name); };
  if (std::string name = "model.embed_tokens.weight"; missing(name))
    return name;
  for (int64_t l = 0; l < c.layers; ++l)
    for (const auto &entry : kLayerTensors)
      if (std::string name =
              "model.layers." + std::to_string(l) + "." + entry.first;
          missing(name))
        return name;
  if (std::string name = "model.norm.weight"; missing(name))
    return name;
  if (std::string name = "lm_head.weight"; !c.tiedOutput && missing(name))
    return name;
  return std::nullopt;
}

static std::optional<StorageType> storageOf(safetensors::DType type) {
  switch (type) {
  case safetensors::DType::F32:
    return StorageType::F32;
  case safetensors::DType::F16:
    return StorageType::F16;
  case safetensors::DType::BF16:
    return StorageType::BF16;
  default:
    return std::nullopt;
  }
}

llvm::Expected<LlamaModel>
llmc::import::readSafetensorsLlama(StringRef directory) {
  LlamaModel model;
  model.source = directory.str();
  LlamaConfig &c = model.config;
  std::string configPath = join(directory, "config.json");
  if (!llvm::sys::fs::exists(configPath))
    return fail(directory, "no config.json (not a Hugging Face model "
                           "directory)");
  bool tied = false;
  if (llvm::Error e = readConfig(configPath, c, tied))
    return std::move(e);

  Weights weights;
  if (llvm::Error e = openWeights(directory, weights))
    return std::move(e);
  c.tiedOutput = tied || !weights.tensors.count("lm_head.weight");
  if (std::optional<std::string> name = firstMissing(c, weights.tensors))
    return fail(directory, "missing tensor " + *name);

  for (const std::string &name : weights.names) {
    const Weights::Location &at = weights.tensors.find(name)->second;
    StringRef file = at.file->getPath();
    Mapping mapping = mapName(name, c.layers, tied);
    switch (mapping.kind) {
    case Mapping::Skip:
      continue;
    case Mapping::Unknown:
      return fail(file, "unexpected tensor " + safetensors::quote(name) +
                            " (not a LlamaForCausalLM parameter)");
    case Mapping::BadLayer:
      return fail(file, "tensor " + safetensors::quote(name) + " is in layer " +
                            llvm::Twine(mapping.layer) +
                            ", but num_hidden_layers is " +
                            llvm::Twine(c.layers));
    case Mapping::Use:
      break;
    }
    std::optional<StorageType> type = storageOf(at.info->dtype);
    if (!type)
      return fail(file, "tensor " + safetensors::quote(name) + " has dtype " +
                            safetensors::dtypeName(at.info->dtype) +
                            " (supported: F32, F16, BF16)");
    TensorRef ref;
    ref.file = file.str();
    ref.offset = at.info->offset;
    ref.shape = at.info->shape;
    ref.type = *type;
    ref.sourceName = name;
    model.tensors[mapping.ggufName] = std::move(ref);
  }
  if (llvm::Error e = validateLlamaModel(model))
    return std::move(e);
  return std::move(model);
}
