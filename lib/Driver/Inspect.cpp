//===- Inspect.cpp - llmc inspect -----------------------------------------===//
//
// Part of llmc. `llmc inspect MODEL`: what a GGUF file holds, read from its
// metadata and tensor table without touching the weights.
//
//===----------------------------------------------------------------------===//

#include "llmc/API/MemoryBudget.h"
#include "llmc/Driver/Driver.h"
#include "llmc/Import/GGUF.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

using namespace llmc;
using namespace llmc::driver;
using llvm::StringRef;

namespace {

/// The shortest decimal that reads back as `value` (as a float when
/// `single`), so a float32 1e-5 prints as 1e-05, not 9.9999997e-06.
std::string formatReal(double value, bool single) {
  if (std::isnan(value))
    return "nan";
  if (std::isinf(value))
    return value < 0 ? "-inf" : "inf";
  char buffer[64];
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
    return buffer;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    double back = std::strtod(buffer, nullptr);
    if (single ? static_cast<float>(back) == static_cast<float>(value)
               : back == value)
      break;
  }
  return buffer;
}

/// JSON text of a real: numbers JSON can hold, else null.
std::string jsonReal(double value, bool single) {
  if (!std::isfinite(value))
    return "null";
  return formatReal(value, single);
}

std::string jsonSafe(StringRef text) {
  return llvm::json::isUTF8(text) ? text.str() : llvm::json::fixUTF8(text);
}

/// One hyperparameter as read (or derived) from the metadata.
struct Hyper {
  const char *jsonKey = "";
  const char *label = "";
  bool isReal = false;
  std::optional<int64_t> intValue;
  std::optional<double> realValue;
  bool single = false;
  /// Where a value not in the metadata came from ("default", ...).
  const char *derived = nullptr;

  bool present() const { return intValue || realValue; }
  std::string text() const {
    if (intValue)
      return std::to_string(*intValue);
    if (realValue)
      return formatReal(*realValue, single);
    return "-";
  }
  std::string json() const {
    if (intValue)
      return std::to_string(*intValue);
    if (realValue)
      return jsonReal(*realValue, single);
    return "null";
  }
};

std::vector<Hyper> readHyperparameters(const gguf::File &file, StringRef arch) {
  auto key = [&](StringRef suffix) { return (arch + "." + suffix).str(); };
  auto integer = [&](const char *jsonKey, const char *label, StringRef suffix) {
    Hyper h;
    h.jsonKey = jsonKey;
    h.label = label;
    h.intValue = file.getInt(key(suffix));
    return h;
  };
  auto real = [&](const char *jsonKey, const char *label, StringRef suffix) {
    Hyper h;
    h.jsonKey = jsonKey;
    h.label = label;
    h.isReal = true;
    h.realValue = file.getFloat(key(suffix));
    h.single = file.getValueType(key(suffix)) == gguf::ValueType::Float32;
    return h;
  };

  std::vector<Hyper> hypers = {
      integer("context_length", "context length", "context_length"),
      integer("embedding_length", "embedding length", "embedding_length"),
      integer("block_count", "block count", "block_count"),
      integer("feed_forward_length", "feed forward length",
              "feed_forward_length"),
      integer("head_count", "head count", "attention.head_count"),
      integer("head_count_kv", "head count kv", "attention.head_count_kv"),
      integer("rope_dimension_count", "rope dimensions",
              "rope.dimension_count"),
      real("rope_freq_base", "rope freq base", "rope.freq_base"),
      real("rms_eps", "rms eps", "attention.layer_norm_rms_epsilon"),
      integer("vocab_size", "vocab size", "vocab_size"),
  };
  Hyper &embedding = hypers[1], &heads = hypers[4], &kvHeads = hypers[5],
        &rope = hypers[6], &freqBase = hypers[7], &vocab = hypers[9];

  // Values Llama readers assume when a file leaves them out.
  if (!kvHeads.present() && heads.present()) {
    kvHeads.intValue = heads.intValue;
    kvHeads.derived = "default: head count";
  }
  if (!rope.present() && embedding.present() && heads.present() &&
      *heads.intValue > 0) {
    rope.intValue = *embedding.intValue / *heads.intValue;
    rope.derived = "default: embedding length / head count";
  }
  if (!freqBase.present()) {
    freqBase.realValue = 10000.0;
    freqBase.derived = "default";
  }
  if (!vocab.present()) {
    if (auto info = file.getArrayInfo("tokenizer.ggml.tokens")) {
      vocab.intValue = static_cast<int64_t>(info->second);
      vocab.derived = "tokenizer.ggml.tokens";
    } else if (const gguf::TensorInfo *embd =
                   file.findTensor("token_embd.weight");
               embd && embd->dims.size() == 2) {
      vocab.intValue = static_cast<int64_t>(embd->dims[1]);
      vocab.derived = "token_embd.weight";
    }
  }
  return hypers;
}

struct TypeSummary {
  uint64_t count = 0;
  uint64_t bytes = 0;
};

std::string dimsText(const gguf::TensorInfo &t) {
  std::string s = "[";
  for (size_t i = 0; i < t.dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(t.dims[i]);
  return s + "]";
}

/// Writes a metadata value (scalars, strings, flat arrays) as JSON.
void writeJsonValue(llvm::json::OStream &j, const gguf::File &file,
                    StringRef key, gguf::ValueType type) {
  using gguf::ValueType;
  switch (type) {
  case ValueType::String:
    j.value(jsonSafe(file.getString(key).value_or("")));
    return;
  case ValueType::Bool:
    j.value(file.getBool(key).value_or(false));
    return;
  case ValueType::Float32:
  case ValueType::Float64:
    j.rawValue(
        jsonReal(file.getFloat(key).value_or(0), type == ValueType::Float32));
    return;
  case ValueType::UInt64:
    if (!file.getInt(key)) { // Above INT64_MAX.
      j.rawValue(formatReal(*file.getFloat(key), false));
      return;
    }
    [[fallthrough]];
  default:
    j.value(*file.getInt(key));
    return;
  case ValueType::Array:
    break;
  }
  auto [elem, count] = *file.getArrayInfo(key);
  j.objectBegin();
  j.attribute("element_type", valueTypeName(elem));
  j.attribute("count", static_cast<int64_t>(count));
  constexpr uint64_t kMaxListed = 64;
  if (count <= kMaxListed && elem != ValueType::Array) {
    j.attributeBegin("values");
    j.arrayBegin();
    if (elem == ValueType::String) {
      std::vector<std::string> strings = *file.getStringArray(key);
      for (const std::string &s : strings)
        j.value(jsonSafe(s));
    } else if (elem == ValueType::Float32 || elem == ValueType::Float64) {
      std::vector<double> reals = *file.getFloatArray(key);
      for (double v : reals)
        j.rawValue(jsonReal(v, elem == ValueType::Float32));
    } else if (auto ints = file.getIntArray(key)) {
      for (int64_t v : *ints)
        elem == ValueType::Bool ? j.value(v != 0) : j.value(v);
    } else { // uint64 values above INT64_MAX.
      std::vector<double> reals = *file.getFloatArray(key);
      for (double v : reals)
        j.rawValue(formatReal(v, false));
    }
    j.arrayEnd();
    j.attributeEnd();
  }
  j.objectEnd();
}

/// One-line text of a metadata value; long strings and arrays abbreviated.
std::string textValue(const gguf::File &file, StringRef key,
                      gguf::ValueType type) {
  using gguf::ValueType;
  std::string out;
  llvm::raw_string_ostream os(out);
  auto quoted = [&](StringRef s) {
    constexpr size_t kMaxShown = 60;
    os << '"';
    llvm::printEscapedString(s.take_front(kMaxShown), os);
    os << (s.size() > kMaxShown ? "\"..." : "\"");
  };
  switch (type) {
  case ValueType::String:
    quoted(*file.getString(key));
    return out;
  case ValueType::Bool:
    return *file.getBool(key) ? "true" : "false";
  case ValueType::Float32:
  case ValueType::Float64:
    return formatReal(*file.getFloat(key), type == ValueType::Float32);
  case ValueType::Array:
    break;
  default:
    if (auto v = file.getInt(key))
      return std::to_string(*v);
    return formatReal(*file.getFloat(key), false);
  }
  auto [elem, count] = *file.getArrayInfo(key);
  os << "[" << count << " x " << valueTypeName(elem) << "]";
  constexpr size_t kShown = 4;
  if (count == 0 || elem == ValueType::Array)
    return out;
  os << " ";
  std::vector<std::string> items;
  if (elem == ValueType::String) {
    std::vector<std::string> strings = *file.getStringArray(key);
    for (const std::string &s : strings) {
      if (items.size() == kShown)
        break;
      std::string item;
      llvm::raw_string_ostream is(item);
      is << '"';
      llvm::printEscapedString(s, is);
      is << '"';
      items.push_back(item);
    }
  } else if (elem == ValueType::Float32 || elem == ValueType::Float64) {
    std::vector<double> reals = *file.getFloatArray(key);
    for (double v : reals) {
      if (items.size() == kShown)
        break;
      items.push_back(formatReal(v, elem == ValueType::Float32));
    }
  } else if (auto ints = file.getIntArray(key)) {
    for (int64_t v : *ints) {
      if (items.size() == kShown)
        break;
      items.push_back(std::to_string(v));
    }
  }
  os << llvm::join(items, ", ") << (count > kShown ? ", ..." : "");
  return out;
}

struct InspectOptions {
  std::string model;
  bool json = false;
  bool tensors = false;
  bool metadata = false;
};

void printText(const gguf::File &file, const InspectOptions &opts,
               llvm::raw_ostream &os) {
  std::string arch = file.getString("general.architecture").value_or("");
  uint64_t tensorBytes = 0;
  std::map<uint32_t, TypeSummary> types;
  for (const gguf::TensorInfo &t : file.getTensors()) {
    tensorBytes += t.nbytes;
    TypeSummary &s = types[static_cast<uint32_t>(t.type)];
    ++s.count;
    s.bytes += t.nbytes;
  }

  auto field = [&](StringRef label) -> llvm::raw_ostream & {
    return os << llvm::left_justify(label, 14);
  };
  field("file:") << file.getPath() << "\n";
  field("format:") << "GGUF v" << file.getVersion() << ", " << file.getSize()
                   << " bytes (" << api::formatBytes(int64_t(file.getSize()))
                   << "), alignment " << file.getAlignment() << "\n";
  field("architecture:") << (arch.empty() ? "-" : arch) << "\n";
  if (auto name = file.getString("general.name"))
    field("name:") << *name << "\n";

  if (!arch.empty()) {
    os << arch << " hyperparameters:\n";
    for (const Hyper &h : readHyperparameters(file, arch)) {
      os << "  " << llvm::left_justify(StringRef(h.label).str() + ":", 22)
         << h.text();
      if (h.derived)
        os << " (" << h.derived << ")";
      os << "\n";
    }
  }

  if (auto model = file.getString("tokenizer.ggml.model")) {
    field("tokenizer:") << *model;
    if (auto info = file.getArrayInfo("tokenizer.ggml.tokens"))
      os << ", " << info->second << " tokens";
    for (auto [label, key] : {std::pair<const char *, const char *>{
                                  "bos", "tokenizer.ggml.bos_token_id"},
                              {"eos", "tokenizer.ggml.eos_token_id"},
                              {"unk", "tokenizer.ggml.unknown_token_id"}})
      if (auto id = file.getInt(key))
        os << ", " << label << " " << *id;
    os << "\n";
  }
  field("metadata:") << file.getKeys().size() << " keys\n";
  field("tensors:") << file.getTensors().size() << ", " << tensorBytes
                    << " bytes (" << api::formatBytes(int64_t(tensorBytes)) << ")\n";
  for (const auto &[raw, s] : types)
    os << "  "
       << llvm::left_justify(
              gguf::ggmlTypeName(static_cast<gguf::GGMLType>(raw)), 8)
       << llvm::right_justify(std::to_string(s.count), 6) << " tensors "
       << llvm::right_justify(std::to_string(s.bytes), 14) << " bytes\n";

  if (opts.metadata) {
    os << "metadata keys:\n";
    for (const std::string &key : file.getKeys()) {
      gguf::ValueType type = *file.getValueType(key);
      os << "  " << key << " (" << valueTypeName(type)
         << ") = " << textValue(file, key, type) << "\n";
    }
  }
  if (opts.tensors) {
    os << "tensor list (name, type, dims innermost first, offset, bytes):\n";
    size_t nameWidth = 0, dimsWidth = 0;
    for (const gguf::TensorInfo &t : file.getTensors()) {
      nameWidth = std::max(nameWidth, t.name.size());
      dimsWidth = std::max(dimsWidth, dimsText(t).size());
    }
    for (const gguf::TensorInfo &t : file.getTensors())
      os << "  " << llvm::left_justify(t.name, nameWidth) << "  "
         << llvm::left_justify(gguf::ggmlTypeName(t.type), 6) << "  "
         << llvm::left_justify(dimsText(t), dimsWidth) << "  "
         << llvm::right_justify(std::to_string(t.offset), 12) << "  "
         << llvm::right_justify(std::to_string(t.nbytes), 12) << "\n";
  }
}

void printJson(const gguf::File &file, const InspectOptions &opts,
               llvm::raw_ostream &os) {
  std::optional<std::string> arch = file.getString("general.architecture");
  uint64_t tensorBytes = 0;
  std::map<uint32_t, TypeSummary> types;
  for (const gguf::TensorInfo &t : file.getTensors()) {
    tensorBytes += t.nbytes;
    TypeSummary &s = types[static_cast<uint32_t>(t.type)];
    ++s.count;
    s.bytes += t.nbytes;
  }

  llvm::json::OStream j(os, 2);
  j.objectBegin();
  j.attribute("path", jsonSafe(file.getPath()));
  j.attribute("format", "gguf");
  j.attribute("version", static_cast<int64_t>(file.getVersion()));
  j.attribute("size", static_cast<int64_t>(file.getSize()));
  j.attribute("alignment", static_cast<int64_t>(file.getAlignment()));
  j.attribute("architecture",
              arch ? llvm::json::Value(jsonSafe(*arch)) : nullptr);
  if (auto name = file.getString("general.name"))
    j.attribute("name", jsonSafe(*name));
  else
    j.attribute("name", nullptr);

  j.attributeBegin("hyperparameters");
  j.objectBegin();
  if (arch)
    for (const Hyper &h : readHyperparameters(file, *arch)) {
      j.attributeBegin(h.jsonKey);
      j.rawValue(h.json());
      j.attributeEnd();
    }
  j.objectEnd();
  j.attributeEnd();

  if (auto model = file.getString("tokenizer.ggml.model")) {
    j.attributeObject("tokenizer", [&] {
      j.attribute("model", jsonSafe(*model));
      auto info = file.getArrayInfo("tokenizer.ggml.tokens");
      j.attribute("tokens",
                  info ? llvm::json::Value(static_cast<int64_t>(info->second))
                       : nullptr);
      for (auto [label, key] : {std::pair<const char *, const char *>{
                                    "bos", "tokenizer.ggml.bos_token_id"},
                                {"eos", "tokenizer.ggml.eos_token_id"},
                                {"unk", "tokenizer.ggml.unknown_token_id"}}) {
        auto id = file.getInt(key);
        j.attribute(label, id ? llvm::json::Value(*id) : nullptr);
      }
    });
  } else {
    j.attribute("tokenizer", nullptr);
  }

  j.attribute("metadata_count", static_cast<int64_t>(file.getKeys().size()));
  j.attribute("tensor_count", static_cast<int64_t>(file.getTensors().size()));
  j.attribute("tensor_bytes", static_cast<int64_t>(tensorBytes));
  j.attributeObject("types", [&] {
    for (const auto &entry : types)
      j.attributeObject(
          gguf::ggmlTypeName(static_cast<gguf::GGMLType>(entry.first)), [&] {
            j.attribute("count", static_cast<int64_t>(entry.second.count));
            j.attribute("bytes", static_cast<int64_t>(entry.second.bytes));
          });
  });

  if (opts.metadata)
    j.attributeObject("metadata", [&] {
      for (const std::string &key : file.getKeys()) {
        j.attributeBegin(jsonSafe(key));
        writeJsonValue(j, file, key, *file.getValueType(key));
        j.attributeEnd();
      }
    });
  if (opts.tensors)
    j.attributeArray("tensors", [&] {
      for (const gguf::TensorInfo &t : file.getTensors())
        j.object([&] {
          j.attribute("name", jsonSafe(t.name));
          j.attribute("type", gguf::ggmlTypeName(t.type));
          j.attributeArray("dims", [&] {
            for (uint64_t d : t.dims)
              j.value(static_cast<int64_t>(d));
          });
          j.attribute("offset", static_cast<int64_t>(t.offset));
          j.attribute("bytes", static_cast<int64_t>(t.nbytes));
        });
    });
  j.objectEnd();
  os << "\n";
}

} // namespace

int llmc::driver::runInspect(llvm::ArrayRef<std::string> args, Context &ctx) {
  InspectOptions opts;
  ArgParser parser("inspect",
                   "Shows what a GGUF model file holds: format and version, "
                   "architecture, the\nhyperparameters, the tokenizer, and "
                   "tensor counts and bytes per type.");
  parser.positional("MODEL", opts.model, "a GGUF model file");
  parser.addJson(opts.json);
  parser.flag("--tensors", opts.tensors,
              "list every tensor (name, type, dims, offset, bytes)");
  parser.flag("--metadata", opts.metadata, "list every metadata key/value");
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;

  llvm::Expected<std::unique_ptr<gguf::File>> file =
      gguf::File::open(opts.model);
  if (!file)
    return ctx.fail(file.takeError());
  if (opts.json)
    printJson(**file, opts, ctx.out);
  else
    printText(**file, opts, ctx.out);
  return 0;
}
