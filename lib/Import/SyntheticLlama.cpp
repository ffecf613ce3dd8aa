//===- SyntheticLlama.cpp - synthetic Llama GGUF models -------------------===//
//
// Part of llmc. Shapes, the counter-based weight generator, the ggml
// reference quantizers and the streaming write of a synthetic Llama model.
// Weights are produced chunk by chunk (whole rows, spread over the cores)
// and streamed through gguf::Writer, so memory stays at a few chunks.
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/SyntheticLlama.h"
#include "llmc/Import/GGUFWriter.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/bit.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <map>
#include <thread>

// The quantizers must round exactly like ggml's C reference (and the NumPy
// reference writer): no fused multiply-add.
#pragma STDC FP_CONTRACT OFF

using namespace llmc;
using namespace llmc::import;
using gguf::GGMLType;
using llvm::StringRef;

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

SyntheticShape makeShape(StringRef name, int64_t dim, int64_t layers,
                         int64_t heads, int64_t kvHeads, int64_t ffn,
                         int64_t vocabWithoutFile, int64_t context) {
  SyntheticShape s;
  s.name = name.str();
  s.dim = dim;
  s.layers = layers;
  s.heads = heads;
  s.kvHeads = kvHeads;
  s.ffn = ffn;
  s.vocab = vocabWithoutFile;
  s.vocabWithoutFile = vocabWithoutFile;
  s.context = context;
  return s;
}

const StringRef kShapeNames[] = {"tiny", "tinyllama-1.1b", "llama-7b"};

std::optional<SyntheticShape> namedShape(StringRef name) {
  std::string lower = name.lower();
  // tiny: FFN 704 (not Llama's 688) so that every row is whole Q8_0/Q4_0
  // blocks.
  if (lower == "tiny")
    return makeShape("tiny", 256, 2, 8, 4, 704, 512, 512);
  if (lower == "tinyllama-1.1b")
    return makeShape("tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048);
  if (lower == "llama-7b")
    return makeShape("llama-7b", 4096, 32, 32, 32, 11008, 32000, 4096);
  return std::nullopt;
}

llvm::Error checkShape(const SyntheticShape &s) {
  auto positive = [](StringRef key, int64_t v, int64_t max) -> llvm::Error {
    if (v < 1 || v > max)
      return makeError(key + " must be in [1, " + llvm::Twine(max) + "], got " +
                       llvm::Twine(v));
    return llvm::Error::success();
  };
  for (auto [key, v, max] :
       {std::tuple<StringRef, int64_t, int64_t>{"dim", s.dim, 1 << 16},
        {"layers", s.layers, 1024},
        {"heads", s.heads, 1024},
        {"kv_heads", s.kvHeads, 1024},
        {"ffn", s.ffn, 1 << 18},
        {"vocab", s.vocab, 1 << 22},
        {"context", s.context, 1 << 22}})
    if (llvm::Error e = positive(key, v, max))
      return e;
  if (s.dim % s.heads)
    return makeError("dim " + llvm::Twine(s.dim) +
                     " is not a multiple of heads " + llvm::Twine(s.heads));
  if (s.heads % s.kvHeads)
    return makeError("heads " + llvm::Twine(s.heads) +
                     " is not a multiple of kv_heads " +
                     llvm::Twine(s.kvHeads));
  if ((s.dim / s.heads) % 2)
    return makeError("the head dimension dim/heads = " +
                     llvm::Twine(s.dim / s.heads) + " must be even (RoPE)");
  if (!(s.ropeTheta > 0) || !std::isfinite(s.ropeTheta))
    return makeError("rope_theta must be a positive number");
  if (!(s.rmsEps > 0) || !std::isfinite(s.rmsEps))
    return makeError("eps must be a positive number");
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Weight values
//===----------------------------------------------------------------------===//

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t tensorKey(uint64_t seed, StringRef name) {
  uint64_t h = 0xcbf29ce484222325ull; // FNV-1a
  for (unsigned char c : name)
    h = (h ^ c) * 0x100000001b3ull;
  return mix64(mix64(seed + kGolden) ^ h);
}

/// Amplitude of the uniform weights: standard deviation 0.02.
const float kAmplitude = float(0.02 * std::sqrt(3.0));

/// Elements [start, start + n) of the tensor with `key`: splitmix64 of the
/// pair index gives two 32-bit halves, each one element (top 24 bits).
void generate(uint64_t key, uint64_t start, uint64_t n, float *out) {
  const float scale = 2 * kAmplitude / 16777216.0f;
  auto value = [&](uint32_t bits) {
    return float(int32_t(bits >> 8)) * scale - kAmplitude;
  };
  uint64_t i = start, end = start + n;
  if (i < end && (i & 1)) {
    *out++ = value(uint32_t(mix64(key + ((i >> 1) + 1) * kGolden) >> 32));
    ++i;
  }
  for (; i + 1 < end; i += 2) {
    uint64_t z = mix64(key + ((i >> 1) + 1) * kGolden);
    *out++ = value(uint32_t(z));
    *out++ = value(uint32_t(z >> 32));
  }
  if (i < end)
    *out++ = value(uint32_t(mix64(key + ((i >> 1) + 1) * kGolden)));
}

void putHalf(uint8_t *out, uint16_t h) {
  out[0] = uint8_t(h);
  out[1] = uint8_t(h >> 8);
}

/// Bytes of one row of `cols` elements of `type`.
uint64_t rowBytes(GGMLType type, uint64_t cols) {
  gguf::TypeTraits traits = *gguf::getTypeTraits(type);
  return cols / traits.blockSize * traits.blockBytes;
}

void encodeRow(GGMLType type, const float *x, uint8_t *out, int64_t n) {
  switch (type) {
  case GGMLType::F32:
    std::memcpy(out, x, size_t(n) * 4);
    return;
  case GGMLType::F16:
    for (int64_t i = 0; i < n; ++i)
      putHalf(out + 2 * i, floatToHalf(x[i]));
    return;
  case GGMLType::Q8_0:
    quantizeRowQ8_0(x, out, n);
    return;
  case GGMLType::Q4_0:
    quantizeRowQ4_0(x, out, n);
    return;
  default:
    return;
  }
}

/// Runs fn(begin, end) over [0, n) split into `threads` contiguous parts.
template <typename Fn> void parallelFor(unsigned threads, uint64_t n, Fn fn) {
  threads = unsigned(std::min<uint64_t>(threads, n));
  if (threads <= 1) {
    fn(uint64_t(0), n);
    return;
  }
  std::vector<std::thread> workers;
  for (unsigned t = 1; t < threads; ++t)
    workers.emplace_back(fn, n * t / threads, n * (t + 1) / threads);
  fn(uint64_t(0), n / threads);
  for (std::thread &w : workers)
    w.join();
}

//===----------------------------------------------------------------------===//
// Tokenizer
//===----------------------------------------------------------------------===//

/// A SentencePiece-style (tokenizer.ggml.model = llama) vocabulary of
/// `vocab` pieces: <unk>, <s>, </s>, the 256 byte pieces <0xNN>, then
/// filler pieces "▁", "▁a", "a", ..., "▁zz", "zz", "▁aaa", ... so that any
/// text encodes (through byte fallback at worst).
void addBuiltinTokenizer(gguf::Writer &w, int64_t vocab) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int64_t> types = {2, 3, 3}; // unknown, control
  std::vector<double> scores = {0, 0, 0};
  tokens.reserve(size_t(vocab));
  for (unsigned b = 0; b < 256; ++b) {
    tokens.push_back("<0x" + llvm::utohexstr(b, false, 2) + ">");
    types.push_back(6); // byte
    scores.push_back(0);
  }
  const std::string space = "\xE2\x96\x81"; // U+2581, SentencePiece's space
  auto addPiece = [&](std::string piece) {
    if (int64_t(tokens.size()) >= vocab)
      return;
    scores.push_back(-double(tokens.size()));
    tokens.push_back(std::move(piece));
    types.push_back(1); // normal
  };
  addPiece(space);
  for (unsigned length = 1; int64_t(tokens.size()) < vocab; ++length) {
    std::string word(length, 'a');
    while (int64_t(tokens.size()) < vocab) {
      addPiece(space + word);
      addPiece(word);
      // The next word of this length in lexicographic order.
      int pos = int(length) - 1;
      while (pos >= 0 && word[pos] == 'z')
        word[pos--] = 'a';
      if (pos < 0)
        break;
      ++word[pos];
    }
  }
  w.addString("tokenizer.ggml.model", "llama");
  w.addStringArray("tokenizer.ggml.tokens", tokens);
  w.addFloatArray("tokenizer.ggml.scores", gguf::ValueType::Float32, scores);
  w.addIntArray("tokenizer.ggml.token_type", gguf::ValueType::Int32, types);
  w.addUInt32("tokenizer.ggml.bos_token_id", 1);
  w.addUInt32("tokenizer.ggml.eos_token_id", 2);
  w.addUInt32("tokenizer.ggml.unknown_token_id", 0);
  w.addBool("tokenizer.ggml.add_bos_token", true);
  w.addBool("tokenizer.ggml.add_eos_token", false);
}

/// llama.cpp's general.file_type for a model whose weights are `format`.
uint32_t fileType(GGMLType format) {
  switch (format) {
  case GGMLType::F32:
    return 0;
  case GGMLType::F16:
    return 1;
  case GGMLType::Q4_0:
    return 2;
  case GGMLType::Q8_0:
    return 7;
  default:
    return 0;
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// Public API
//===----------------------------------------------------------------------===//

llvm::ArrayRef<StringRef> llmc::import::getSyntheticShapeNames() {
  return kShapeNames;
}

llvm::Expected<SyntheticShape>
llmc::import::parseSyntheticShape(StringRef spec) {
  spec = spec.trim();
  if (!spec.contains('=')) {
    if (std::optional<SyntheticShape> shape = namedShape(spec))
      return *shape;
    return makeError("unknown shape '" + spec + "' (expected " +
                     llvm::join(llvm::ArrayRef<StringRef>(kShapeNames), ", ") +
                     ", or key=value pairs such as "
                     "dim=512,layers=4,heads=8)");
  }

  SyntheticShape s;
  s.name = spec.str();
  std::map<std::string, std::string> given;
  llvm::SmallVector<StringRef, 8> parts;
  spec.split(parts, ',', -1, /*KeepEmpty=*/false);
  const StringRef keys[] = {"dim",   "layers",  "heads",      "kv_heads", "ffn",
                            "vocab", "context", "rope_theta", "eps"};
  for (StringRef part : parts) {
    auto [key, value] = part.split('=');
    key = key.trim();
    value = value.trim();
    if (!llvm::is_contained(keys, key))
      return makeError("unknown shape key '" + key + "' (expected " +
                       llvm::join(llvm::ArrayRef<StringRef>(keys), ", ") + ")");
    if (!given.emplace(key.str(), value.str()).second)
      return makeError("shape key '" + key + "' given twice");
  }
  auto integer = [&](StringRef key, int64_t &out,
                     std::optional<int64_t> fallback) -> llvm::Error {
    auto it = given.find(key.str());
    if (it == given.end()) {
      if (!fallback)
        return makeError("the shape needs " + key + "=N");
      out = *fallback;
      return llvm::Error::success();
    }
    if (StringRef(it->second).getAsInteger(10, out))
      return makeError("shape key " + key + " expects an integer, got '" +
                       it->second + "'");
    return llvm::Error::success();
  };
  auto real = [&](StringRef key, double &out) -> llvm::Error {
    auto it = given.find(key.str());
    if (it != given.end() && StringRef(it->second).getAsDouble(out))
      return makeError("shape key " + key + " expects a number, got '" +
                       it->second + "'");
    return llvm::Error::success();
  };
  if (llvm::Error e = integer("dim", s.dim, std::nullopt))
    return std::move(e);
  if (llvm::Error e = integer("layers", s.layers, std::nullopt))
    return std::move(e);
  if (llvm::Error e = integer("heads", s.heads, std::nullopt))
    return std::move(e);
  if (llvm::Error e = integer("kv_heads", s.kvHeads, s.heads))
    return std::move(e);
  // Llama's rule: 2/3 of 4*dim, rounded up to a multiple of 256.
  int64_t llamaFfn = (2 * (4 * s.dim) / 3 + 255) / 256 * 256;
  if (llvm::Error e = integer("ffn", s.ffn, llamaFfn))
    return std::move(e);
  if (llvm::Error e = integer("vocab", s.vocab, int64_t(32000)))
    return std::move(e);
  s.vocabExplicit = given.count("vocab");
  s.vocabWithoutFile = s.vocab;
  if (llvm::Error e = integer("context", s.context, int64_t(2048)))
    return std::move(e);
  if (llvm::Error e = real("rope_theta", s.ropeTheta))
    return std::move(e);
  if (llvm::Error e = real("eps", s.rmsEps))
    return std::move(e);
  if (llvm::Error e = checkShape(s))
    return std::move(e);
  return s;
}

uint16_t llmc::import::floatToHalf(float f) {
  // Round to nearest even through float arithmetic (the FP16 library's
  // fp16_ieee_from_fp32_value, also ggml's non-F16C path).
  const float scaleToInf = 0x1.0p+112f;
  const float scaleToZero = 0x1.0p-110f;
  float base = (std::fabs(f) * scaleToInf) * scaleToZero;
  const uint32_t w = llvm::bit_cast<uint32_t>(f);
  const uint32_t shl1 = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1 & 0xFF000000u;
  if (bias < 0x71000000u)
    bias = 0x71000000u;
  base = llvm::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = llvm::bit_cast<uint32_t>(base);
  const uint32_t expBits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissaBits = bits & 0x00000FFFu;
  const uint32_t nonsign = expBits + mantissaBits;
  return uint16_t((sign >> 16) | (shl1 > 0xFF000000u ? 0x7E00u : nonsign));
}

/// C roundf (half away from zero) for |v| < 2^23, in a form that
/// vectorizes: v - trunc(v) is exact there.
static inline int roundHalfAway(float v) {
  int t = int(v);
  float frac = v - float(t);
  return t + (frac >= 0.5f) - (frac <= -0.5f);
}

void llmc::import::quantizeRowQ8_0(const float *x, uint8_t *out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32, out += 34) {
    float amax = 0;
    for (int j = 0; j < 32; ++j)
      amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    putHalf(out, floatToHalf(d));
    int8_t q[32];
    for (int j = 0; j < 32; ++j)
      q[j] = int8_t(roundHalfAway(x[j] * id));
    std::memcpy(out + 2, q, 32);
  }
}

void llmc::import::quantizeRowQ4_0(const float *x, uint8_t *out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32, out += 18) {
    // The first element of the largest magnitude sets the scale's sign.
    float amax = 0;
    for (int j = 0; j < 32; ++j)
      amax = std::max(amax, std::fabs(x[j]));
    float max = 0;
    for (int j = 0; j < 32; ++j)
      if (std::fabs(x[j]) == amax) {
        max = x[j];
        break;
      }
    const float d = max / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    putHalf(out, floatToHalf(d));
    // x * id is in [-8, 8], so + 8.5 is positive and int() truncates
    // like ggml's (int8_t) cast.
    uint8_t qs[16];
    for (int j = 0; j < 16; ++j) {
      int q0 = std::min(15, int(x[j] * id + 8.5f));
      int q1 = std::min(15, int(x[j + 16] * id + 8.5f));
      qs[j] = uint8_t(q0 | (q1 << 4));
    }
    std::memcpy(out + 2, qs, 16);
  }
}

llvm::Error
llmc::import::writeSyntheticLlama(const SyntheticOptions &options,
                                  StringRef path,
                                  const SyntheticProgressFn &progress) {
  SyntheticShape shape = options.shape;
  GGMLType format = options.format;
  if (format != GGMLType::F32 && format != GGMLType::F16 &&
      format != GGMLType::Q8_0 && format != GGMLType::Q4_0)
    return makeError("unsupported weight format " + gguf::ggmlTypeName(format) +
                     " (supported: F32, F16, Q8_0, Q4_0)");

  gguf::Writer w;
  // The vocabulary decides the vocabulary size.
  std::unique_ptr<gguf::File> vocabFile;
  if (!options.vocabPath.empty()) {
    llvm::Expected<std::unique_ptr<gguf::File>> opened =
        gguf::File::open(options.vocabPath);
    if (!opened)
      return opened.takeError();
    vocabFile = std::move(*opened);
    std::optional<std::pair<gguf::ValueType, uint64_t>> tokens =
        vocabFile->getArrayInfo("tokenizer.ggml.tokens");
    if (!tokens || tokens->first != gguf::ValueType::String ||
        tokens->second == 0)
      return makeError(options.vocabPath +
                       ": no vocabulary (tokenizer.ggml.tokens)");
    int64_t size = int64_t(tokens->second);
    if (shape.vocabExplicit && shape.vocab != size)
      return makeError("the shape's vocab=" + llvm::Twine(shape.vocab) +
                       " disagrees with the " + llvm::Twine(size) +
                       " tokens of " + options.vocabPath);
    shape.vocab = size;
  } else {
    shape.vocab = shape.vocabExplicit ? shape.vocab : shape.vocabWithoutFile;
    if (shape.vocab < 259)
      return makeError("vocab " + llvm::Twine(shape.vocab) +
                       " is too small for the built-in byte tokenizer "
                       "(at least 259 tokens; or give --vocab)");
  }
  if (llvm::Error e = checkShape(shape))
    return e;

  const int64_t headDim = shape.dim / shape.heads;
  const int64_t kvDim = headDim * shape.kvHeads;
  w.addString("general.architecture", "llama");
  w.addString("general.name", "llmc synthetic " + shape.name);
  w.addString("general.description",
              "random weights from llmc gen-model, seed " +
                  std::to_string(options.seed));
  w.addUInt32("general.file_type", fileType(format));
  if (format == GGMLType::Q8_0 || format == GGMLType::Q4_0)
    w.addUInt32("general.quantization_version", 2);
  w.addUInt32("general.alignment", 32);
  w.addUInt32("llama.vocab_size", uint32_t(shape.vocab));
  w.addUInt32("llama.context_length", uint32_t(shape.context));
  w.addUInt32("llama.embedding_length", uint32_t(shape.dim));
  w.addUInt32("llama.block_count", uint32_t(shape.layers));
  w.addUInt32("llama.feed_forward_length", uint32_t(shape.ffn));
  w.addUInt32("llama.rope.dimension_count", uint32_t(headDim));
  w.addUInt32("llama.attention.head_count", uint32_t(shape.heads));
  w.addUInt32("llama.attention.head_count_kv", uint32_t(shape.kvHeads));
  w.addFloat32("llama.attention.layer_norm_rms_epsilon", float(shape.rmsEps));
  w.addFloat32("llama.rope.freq_base", float(shape.ropeTheta));
  if (vocabFile) {
    for (const std::string &key : vocabFile->getKeys())
      if (StringRef(key).starts_with("tokenizer."))
        if (llvm::Error e = w.copyValue(*vocabFile, key))
          return e;
  } else {
    addBuiltinTokenizer(w, shape.vocab);
  }

  // The tensor table, in llama.cpp's order. dims[0] is the row length.
  struct Planned {
    std::string name;
    uint64_t cols, rows; // rows == 0: a 1-D norm weight
    GGMLType type;
  };
  std::vector<Planned> plan;
  auto matrix = [&](std::string name, int64_t cols, int64_t rows) {
    GGMLType type = format;
    if (uint64_t(cols) % gguf::getTypeTraits(format)->blockSize)
      type = GGMLType::F16;
    plan.push_back({std::move(name), uint64_t(cols), uint64_t(rows), type});
  };
  auto norm = [&](std::string name) {
    plan.push_back({std::move(name), uint64_t(shape.dim), 0, GGMLType::F32});
  };
  matrix("token_embd.weight", shape.dim, shape.vocab);
  for (int64_t l = 0; l < shape.layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    norm(p + "attn_norm.weight");
    matrix(p + "attn_q.weight", shape.dim, shape.dim);
    matrix(p + "attn_k.weight", shape.dim, kvDim);
    matrix(p + "attn_v.weight", shape.dim, kvDim);
    matrix(p + "attn_output.weight", shape.dim, shape.dim);
    norm(p + "ffn_norm.weight");
    matrix(p + "ffn_gate.weight", shape.dim, shape.ffn);
    matrix(p + "ffn_up.weight", shape.dim, shape.ffn);
    matrix(p + "ffn_down.weight", shape.ffn, shape.dim);
  }
  norm("output_norm.weight");
  matrix("output.weight", shape.dim, shape.vocab);

  uint64_t total = 0;
  for (const Planned &t : plan) {
    llvm::SmallVector<uint64_t, 2> dims = {t.cols};
    if (t.rows)
      dims.push_back(t.rows);
    if (llvm::Error e = w.addTensor(t.name, dims, t.type))
      return e;
    total += w.getTensorBytes(w.getNumTensors() - 1);
  }
  if (llvm::Error e = w.begin(path))
    return e;

  unsigned threads = options.threads
                         ? options.threads
                         : std::max(1u, std::thread::hardware_concurrency());
  // Two chunk buffers: the workers fill one while a writer thread hands the
  // other to the file (page-cache copies cost about as much as generating).
  constexpr uint64_t kChunkElements = uint64_t(1) << 23;
  std::vector<uint8_t> chunks[2];
  int fill = 0;
  std::future<llvm::Error> writing;
  auto waitForWrite = [&]() -> llvm::Error {
    return writing.valid() ? writing.get() : llvm::Error::success();
  };
  uint64_t done = 0;
  for (const Planned &t : plan) {
    if (!t.rows) {
      if (llvm::Error e = waitForWrite())
        return e;
      std::vector<float> ones(t.cols, 1.0f);
      if (llvm::Error e = w.writeTensorData(llvm::ArrayRef<uint8_t>(
              reinterpret_cast<const uint8_t *>(ones.data()), t.cols * 4)))
        return e;
      done += t.cols * 4;
      continue;
    }
    const uint64_t key = tensorKey(options.seed, t.name);
    const uint64_t bytesPerRow = rowBytes(t.type, t.cols);
    const uint64_t rowsPerChunk =
        std::max<uint64_t>(1, kChunkElements / t.cols);
    for (uint64_t row0 = 0; row0 < t.rows; row0 += rowsPerChunk) {
      uint64_t rows = std::min(rowsPerChunk, t.rows - row0);
      std::vector<uint8_t> &chunk = chunks[fill];
      chunk.resize(rows * bytesPerRow);
      parallelFor(threads, rows, [&](uint64_t begin, uint64_t end) {
        std::vector<float> values(t.cols);
        for (uint64_t r = begin; r < end; ++r) {
          generate(key, (row0 + r) * t.cols, t.cols, values.data());
          encodeRow(t.type, values.data(), chunk.data() + r * bytesPerRow,
                    int64_t(t.cols));
        }
      });
      if (llvm::Error e = waitForWrite())
        return e;
      writing = std::async(std::launch::async,
                           [&w, &chunk] { return w.writeTensorData(chunk); });
      fill ^= 1;
      done += chunk.size();
      if (progress)
        progress(done, total);
    }
  }
  if (llvm::Error e = waitForWrite())
    return e;
  return w.finish();
}
