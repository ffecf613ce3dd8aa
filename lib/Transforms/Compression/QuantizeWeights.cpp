//===- QuantizeWeights.cpp - the llmc-quantize-weights pass ---------------===//
//
// Part of llmc. Reads float weights from their files, optionally permutes
// MLP channels so outliers share blocks, quantizes them with the kernels
// library's reference quantizers (the same code the runtime would use) and
// writes the packed bytes to one new file that the rewritten llm.weight ops
// reference. The IR never holds weight data.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "dialects/qmm/QMMFormat.h"
#include "llmc/Runtime/Kernels.h"
#include "llmc/Transforms/Compression/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace llmc {
#define GEN_PASS_DEF_QUANTIZEWEIGHTS
#include "llmc/Transforms/Compression/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

/// Where packed weights start in the output file (cache-line aligned).
constexpr int64_t kTensorAlignment = 64;

/// A weight's target: a qmm format, or a float type to keep it in.
struct Target {
  std::optional<qmm::FormatInfo> format;
  FloatType floatType; // set when !format
};

/// The llmc_convert_floats code of f32, f16 or bf16.
int64_t floatTypeCode(Type type) {
  return type.isF32() ? 0 : type.isF16() ? 1 : 2;
}

/// A float weight's values, row-major (a vector is one column).
struct Loaded {
  int64_t rows = 0, cols = 0;
  std::vector<float> values;
};

/// A channel permutation to apply to a weight's rows or columns.
struct Permutation {
  std::shared_ptr<std::vector<int64_t>> order;
  bool columns = false;
};

/// Per-channel scales to apply to a weight before it is permuted and
/// quantized: columns multiplied (a projection AWQ scales), rows divided
/// (the producer of a scaled input: an up projection's rows, or the
/// elements of a norm gain). An up projection can have both.
struct Scaling {
  std::shared_ptr<std::vector<float>> columns, rows;
};

struct QuantizeWeightsPass
    : llmc::impl::QuantizeWeightsBase<QuantizeWeightsPass> {
  using QuantizeWeightsBase::QuantizeWeightsBase;

  void runOnOperation() override;

private:
  FailureOr<Target> parseTarget(StringRef spec, MLIRContext *ctx);
  FailureOr<Loaded> load(llm::WeightOp weight);
  LogicalResult
  planMLPReordering(ModuleOp module,
                    llvm::StringMap<Permutation> &permutations);
  LogicalResult planAWQ(ModuleOp module,
                        llvm::function_ref<Target(llm::WeightOp)> targetOf,
                        llvm::StringMap<Scaling> &scalings);

  // Shared, so that the pass stays copyable (clonePass).
  llvm::StringMap<std::shared_ptr<llvm::MemoryBuffer>> files;
};

FailureOr<Target> QuantizeWeightsPass::parseTarget(StringRef spec,
                                                   MLIRContext *ctx) {
  Target target;
  if (spec == "f32")
    target.floatType = Float32Type::get(ctx);
  else if (spec == "f16")
    target.floatType = Float16Type::get(ctx);
  else if (spec == "bf16")
    target.floatType = BFloat16Type::get(ctx);
  if (target.floatType)
    return target;
  std::string error;
  target.format = qmm::parseFormatSpec(spec, error);
  if (!target.format) {
    getOperation().emitError("llmc-quantize-weights: ") << error;
    return failure();
  }
  return target;
}

FailureOr<Loaded> QuantizeWeightsPass::load(llm::WeightOp weight) {
  auto type = cast<RankedTensorType>(weight.getType());
  StringRef file = weight.getFile();
  auto &buffer = files[file];
  if (!buffer) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> opened =
        llvm::MemoryBuffer::getFile(file, /*IsText=*/false,
                                    /*RequiresNullTerminator=*/false);
    if (!opened) {
      weight.emitOpError("cannot read weight file '")
          << file << "': " << opened.getError().message();
      return failure();
    }
    buffer = std::shared_ptr<llvm::MemoryBuffer>(std::move(*opened));
  }
  int64_t bytes = weight.getByteSize();
  if (weight.getOffset() < 0 ||
      uint64_t(weight.getOffset() + bytes) > buffer->getBufferSize()) {
    weight.emitOpError("(")
        << bytes << " bytes at offset " << weight.getOffset()
        << ") lies outside '" << file << "' (" << buffer->getBufferSize()
        << " bytes)";
    return failure();
  }
  Loaded result;
  result.rows = type.getDimSize(0);
  result.cols = type.getRank() == 2 ? type.getDimSize(1) : 1;
  int64_t n = type.getNumElements();
  result.values.resize(n);
  const char *data = buffer->getBufferStart() + weight.getOffset();
  // The file's bytes may be unaligned for 2- or 4-byte loads: copy first.
  Type elt = type.getElementType();
  int64_t width = elt.getIntOrFloatBitWidth() / 8;
  std::vector<uint8_t> raw(data, data + n * width);
  llmc_convert_floats(raw.data(), floatTypeCode(elt), result.values.data(),
                      /*f32*/ 0, n);
  return result;
}

/// The weight symbol an llm.linear reads, if it reads one directly.
llm::WeightOp linearWeight(Value value, ModuleOp module) {
  auto linear = value.getDefiningOp<llm::LinearOp>();
  if (!linear)
    return {};
  auto get = linear.getWeight().getDefiningOp<llm::GetWeightOp>();
  if (!get)
    return {};
  return module.lookupSymbol<llm::WeightOp>(get.getNameAttr());
}

void applyScaling(Loaded &w, const Scaling &s) {
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c) {
      float &v = w.values[r * w.cols + c];
      if (s.columns)
        v *= (*s.columns)[c];
      if (s.rows)
        v /= (*s.rows)[r]; // a vector is one column: its elements
    }
}

/// The weight an SSA value reads through llm.get_weight, if it does.
llm::WeightOp weightRead(Value value, ModuleOp module) {
  auto get = value.getDefiningOp<llm::GetWeightOp>();
  return get ? module.lookupSymbol<llm::WeightOp>(get.getNameAttr())
             : llm::WeightOp();
}

/// The weight whose rows (or elements) produce `input` and can absorb a
/// per-channel division: the gain of the RMS norm computing it, or the up
/// projection of the SwiGLU computing it.
llm::WeightOp producerWeight(Value input, ModuleOp module) {
  if (auto norm = input.getDefiningOp<llm::RMSNormOp>())
    return weightRead(norm.getWeight(), module);
  if (auto swiglu = input.getDefiningOp<llm::SwiGLUOp>())
    if (auto up = swiglu.getUp().getDefiningOp<llm::LinearOp>())
      return weightRead(up.getWeight(), module);
  return {};
}

/// Whether every read of `producer` is in that producing role (a norm's
/// gain, or an up projection feeding a SwiGLU): then dividing it changes
/// nothing but the inputs of the projections AWQ scales.
bool onlyProduces(llm::WeightOp producer, ModuleOp module) {
  bool ok = true;
  module.walk([&](llm::GetWeightOp get) {
    if (get.getName() != producer.getSymName())
      return;
    for (Operation *user : get->getUsers()) {
      if (auto norm = dyn_cast<llm::RMSNormOp>(user)) {
        ok &= norm.getWeight() == get.getResult();
        continue;
      }
      auto linear = dyn_cast<llm::LinearOp>(user);
      ok &= linear && linear.getWeight() == get.getResult() &&
            llvm::all_of(linear->getUsers(), [&](Operation *u) {
              auto swiglu = dyn_cast<llm::SwiGLUOp>(u);
              return swiglu && swiglu.getUp() == linear.getResult() &&
                     swiglu.getGate() != linear.getResult();
            });
    }
  });
  return ok;
}

void applyPermutation(Loaded &w, const Permutation &p) {
  const std::vector<int64_t> &order = *p.order;
  std::vector<float> out(w.values.size());
  if (p.columns) {
    for (int64_t r = 0; r < w.rows; ++r)
      for (int64_t i = 0; i < w.cols; ++i)
        out[r * w.cols + i] = w.values[r * w.cols + order[i]];
  } else {
    for (int64_t i = 0; i < w.rows; ++i)
      std::memcpy(&out[i * w.cols], &w.values[order[i] * w.cols],
                  w.cols * sizeof(float));
  }
  w.values = std::move(out);
}

LogicalResult QuantizeWeightsPass::planMLPReordering(
    ModuleOp module, llvm::StringMap<Permutation> &permutations) {
  // (gate, up, down) weight triples, each once.
  SmallVector<std::array<llm::WeightOp, 3>> mlps;
  llvm::StringSet<> seen;
  module.walk([&](llm::SwiGLUOp swiglu) {
    llm::WeightOp gate = linearWeight(swiglu.getGate(), module);
    llm::WeightOp up = linearWeight(swiglu.getUp(), module);
    llm::WeightOp down;
    for (Operation *user : swiglu.getResult().getUsers())
      if (auto linear = dyn_cast<llm::LinearOp>(user))
        if (linear.getInput() == swiglu.getResult())
          down = linearWeight(linear.getResult(), module);
    if (!gate || !up || !down || !seen.insert(down.getSymName()).second)
      return;
    mlps.push_back({gate, up, down});
  });
  for (auto [gate, up, down] : mlps) {
    auto types = {gate.getType(), up.getType(), down.getType()};
    if (!llvm::all_of(types, [](Type t) { return isa<RankedTensorType>(t); })) {
      down.emitWarning("reorder-outliers: MLP weights are already packed; "
                       "channels left in place");
      continue;
    }
    int64_t channels = cast<RankedTensorType>(down.getType()).getDimSize(1);
    if (cast<RankedTensorType>(gate.getType()).getDimSize(0) != channels ||
        cast<RankedTensorType>(up.getType()).getDimSize(0) != channels)
      continue;
    FailureOr<Loaded> d = load(down);
    if (failed(d))
      return failure();
    // Column magnitude of the down projection: the channels whose values
    // set the block scales of its rows.
    std::vector<float> magnitude(channels, 0.0f);
    for (int64_t r = 0; r < d->rows; ++r)
      for (int64_t c = 0; c < channels; ++c)
        magnitude[c] =
            std::max(magnitude[c], std::fabs(d->values[r * channels + c]));
    auto order = std::make_shared<std::vector<int64_t>>(channels);
    std::iota(order->begin(), order->end(), 0);
    std::sort(order->begin(), order->end(), [&](int64_t a, int64_t b) {
      return magnitude[a] != magnitude[b] ? magnitude[a] > magnitude[b]
                                          : a < b;
    });
    permutations[gate.getSymName()] = {order, false};
    permutations[up.getSymName()] = {order, false};
    permutations[down.getSymName()] = {order, true};
  }
  return success();
}

LogicalResult QuantizeWeightsPass::planAWQ(
    ModuleOp module, llvm::function_ref<Target(llm::WeightOp)> targetOf,
    llvm::StringMap<Scaling> &scalings) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> text =
      llvm::MemoryBuffer::getFile(activationStats, /*IsText=*/true);
  if (!text)
    return module.emitError("llmc-quantize-weights: cannot read '")
           << activationStats << "': " << text.getError().message();
  llvm::Expected<llvm::json::Value> parsed =
      llvm::json::parse((*text)->getBuffer());
  const llvm::json::Object *tensors =
      parsed && parsed->getAsObject()
          ? parsed->getAsObject()->getObject("tensors")
          : nullptr;
  if (!tensors) {
    if (!parsed)
      llvm::consumeError(parsed.takeError());
    return module.emitError("llmc-quantize-weights: '")
           << activationStats
           << "' is not activation statistics (a JSON object with "
              "\"tensors\": {name: [mean |x| per input channel]})";
  }
  auto statsOf = [&](llm::WeightOp weight, int64_t k)
      -> std::optional<std::vector<float>> {
    const llvm::json::Array *list = tensors->getArray(weight.getTensorName());
    if (!list || int64_t(list->size()) != k)
      return std::nullopt;
    std::vector<float> m;
    for (const llvm::json::Value &v : *list) {
      std::optional<double> d = v.getAsNumber();
      if (!d || !std::isfinite(*d) || *d < 0)
        return std::nullopt;
      m.push_back(float(std::max(*d, 1e-8)));
    }
    return m;
  };

  // Projections grouped by the value they read; the step functions
  // (prefill, decode) each read the same weights, so groups are merged by
  // the weight that produces their input and must agree on its consumers.
  llvm::MapVector<Value, SmallVector<llm::WeightOp>> byInput;
  module.walk([&](llm::LinearOp linear) {
    llm::WeightOp weight = weightRead(linear.getWeight(), module);
    auto type = weight ? dyn_cast<RankedTensorType>(weight.getType())
                       : RankedTensorType();
    if (type && type.getRank() == 2 && targetOf(weight).format)
      byInput[linear.getInput()].push_back(weight);
  });
  struct Group {
    llm::WeightOp producer;
    SmallVector<llm::WeightOp> weights;
    bool consistent = true;
  };
  llvm::MapVector<StringRef, Group> groups;
  for (auto &[input, consumers] : byInput) {
    llm::WeightOp producer = producerWeight(input, module);
    if (!producer)
      continue;
    llvm::sort(consumers, [](llm::WeightOp a, llm::WeightOp b) {
      return a.getSymName() < b.getSymName();
    });
    auto [it, inserted] = groups.try_emplace(producer.getSymName());
    Group &group = it->second;
    if (inserted) {
      group.producer = producer;
      group.weights = consumers;
    } else if (group.weights != consumers) {
      group.consistent = false;
    }
  }

  for (auto &[name, group] : groups) {
    llm::WeightOp producer = group.producer;
    SmallVector<llm::WeightOp> &weights = group.weights;
    if (!group.consistent || scalings.lookup(name).rows ||
        !onlyProduces(producer, module))
      continue;
    auto producerType = dyn_cast<RankedTensorType>(producer.getType());
    int64_t k = cast<RankedTensorType>(weights.front().getType()).getDimSize(1);
    if (!producerType || producerType.getDimSize(0) != k ||
        llvm::any_of(weights, [&](llm::WeightOp w) {
          return scalings.lookup(w.getSymName()).columns ||
                 cast<RankedTensorType>(w.getType()).getDimSize(1) != k;
        }))
      continue;
    std::optional<std::vector<float>> m;
    for (llm::WeightOp w : weights)
      if ((m = statsOf(w, k)))
        break;
    if (!m)
      continue;
    // The weights as they will be before this group's scaling (a producer
    // of an earlier group may have had its rows divided already).
    SmallVector<Loaded> loaded;
    for (llm::WeightOp w : weights) {
      FailureOr<Loaded> values = load(w);
      if (failed(values))
        return failure();
      applyScaling(*values, scalings.lookup(w.getSymName()));
      loaded.push_back(std::move(*values));
    }
    // Activation-weighted error of quantizing every weight of the group
    // with columns scaled by s.
    std::vector<uint8_t> packed;
    std::vector<float> scaled, decoded;
    auto error = [&](const std::vector<float> &sc) {
      double total = 0;
      for (auto [w, weight] : llvm::zip(loaded, weights)) {
        qmm::FormatInfo info = *targetOf(weight).format;
        scaled = w.values;
        for (int64_t r = 0; r < w.rows; ++r)
          for (int64_t c = 0; c < k; ++c)
            scaled[r * k + c] *= sc[c];
        packed.assign(info.matrixBytes(w.rows, k), 0);
        decoded.assign(scaled.size(), 0.0f);
        llmc_quantize_rows(int64_t(info.kind), info.bits, info.group,
                           info.symmetric, scaled.data(), w.rows, k,
                           packed.data());
        llmc_dequantize_rows(int64_t(info.kind), info.bits, info.group,
                             info.symmetric, packed.data(), w.rows, k,
                             decoded.data());
        for (int64_t r = 0; r < w.rows; ++r)
          for (int64_t c = 0; c < k; ++c) {
            double e = double(decoded[r * k + c]) / sc[c] - w.values[r * k + c];
            total += double((*m)[c]) * (*m)[c] * e * e;
          }
      }
      return total;
    };
    std::vector<float> best(k, 1.0f);
    double bestError = error(best);
    for (int step = 1; step <= 10; ++step) {
      double alpha = step / 10.0;
      std::vector<float> sc(k);
      float lo = INFINITY, hi = 0;
      for (int64_t c = 0; c < k; ++c) {
        sc[c] = float(std::pow(double((*m)[c]), alpha));
        lo = std::min(lo, sc[c]);
        hi = std::max(hi, sc[c]);
      }
      // Centre the scales (geometric mean of the extremes at 1) so that
      // neither side's values drift far from their original range.
      float centre = std::sqrt(lo * hi);
      for (float &v : sc)
        v /= centre;
      double e = error(sc);
      if (e < bestError) {
        bestError = e;
        best = std::move(sc);
      }
    }
    if (llvm::all_of(best, [](float v) { return v == 1.0f; }))
      continue;
    auto factors = std::make_shared<std::vector<float>>(std::move(best));
    for (llm::WeightOp w : weights)
      scalings[w.getSymName()].columns = factors;
    scalings[producer.getSymName()].rows = factors;
  }
  return success();
}

void QuantizeWeightsPass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *ctx = module.getContext();
  if (output.empty()) {
    module.emitError("llmc-quantize-weights needs output=FILE (where the "
                     "quantized weights are written)");
    return signalPassFailure();
  }
  FailureOr<Target> defaultTarget = parseTarget(format, ctx);
  if (failed(defaultTarget))
    return signalPassFailure();
  SmallVector<std::pair<llvm::GlobPattern, Target>> rules;
  for (const std::string &entry : overrides) {
    auto [pattern, spec] = StringRef(entry).split('=');
    if (pattern.empty() || spec.empty()) {
      module.emitError("llmc-quantize-weights: override '")
          << entry << "' is not GLOB=FORMAT";
      return signalPassFailure();
    }
    llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(pattern);
    if (!glob) {
      module.emitError("llmc-quantize-weights: override pattern '")
          << pattern << "': " << llvm::toString(glob.takeError());
      return signalPassFailure();
    }
    FailureOr<Target> target = parseTarget(spec, ctx);
    if (failed(target))
      return signalPassFailure();
    rules.push_back({std::move(*glob), *target});
  }
  llvm::SmallString<256> outputPath(output);
  llvm::sys::fs::make_absolute(outputPath);
  for (auto weight : module.getOps<llm::WeightOp>()) {
    llvm::SmallString<256> source(weight.getFile());
    llvm::sys::fs::make_absolute(source);
    if (source == outputPath) {
      weight.emitOpError("reads '")
          << weight.getFile()
          << "', the file llmc-quantize-weights would overwrite";
      return signalPassFailure();
    }
  }

  auto targetOf = [&](llm::WeightOp weight) {
    for (auto &[glob, t] : rules)
      if (glob.match(weight.getTensorName()))
        return t;
    return *defaultTarget;
  };
  // AWQ scales first, in the original channel order; the permutation
  // comes after them.
  llvm::StringMap<Scaling> scalings;
  if (!activationStats.empty() && failed(planAWQ(module, targetOf, scalings)))
    return signalPassFailure();
  llvm::StringMap<Permutation> permutations;
  if (reorderOutliers && failed(planMLPReordering(module, permutations)))
    return signalPassFailure();

  std::error_code ec;
  llvm::raw_fd_ostream out(outputPath, ec, llvm::sys::fs::OF_None);
  if (ec) {
    module.emitError("llmc-quantize-weights: cannot write '")
        << output << "': " << ec.message();
    return signalPassFailure();
  }
  int64_t offset = 0;
  llvm::StringMap<Type> newTypes;
  std::vector<uint8_t> packed;
  for (auto weight : module.getOps<llm::WeightOp>()) {
    auto type = dyn_cast<RankedTensorType>(weight.getType());
    auto scaling = scalings.find(weight.getSymName());
    bool scaled = scaling != scalings.end();
    // 2-D weights, and the 1-D norm gains AWQ divides.
    if (!type || (type.getRank() != 2 && !scaled))
      continue;
    Target target = type.getRank() == 2 ? targetOf(weight) : Target();
    if (type.getRank() == 1)
      target.floatType = Float32Type::get(ctx);
    auto permutation = permutations.find(weight.getSymName());
    bool permuted = permutation != permutations.end();
    if (!target.format && target.floatType == type.getElementType() &&
        !permuted && !scaled)
      continue;
    FailureOr<Loaded> values = load(weight);
    if (failed(values))
      return signalPassFailure();
    Loaded &w = *values;
    if (scaled)
      applyScaling(w, scaling->second);
    if (permuted)
      applyPermutation(w, permutation->second);
    Type newType;
    if (target.format) {
      qmm::FormatInfo info = *target.format;
      packed.assign(info.matrixBytes(w.rows, w.cols), 0);
      if (llmc_quantize_rows(int64_t(info.kind), info.bits, info.group,
                             info.symmetric, w.values.data(), w.rows, w.cols,
                             packed.data()) != 0) {
        weight.emitOpError("cannot be quantized to ") << qmm::formatSpec(info);
        return signalPassFailure();
      }
      auto attr = qmm::FormatAttr::get(ctx, info.kind, info.bits, info.group,
                                       info.symmetric);
      newType = qmm::PackedType::get(type.getShape(), attr);
    } else {
      int64_t n = int64_t(w.values.size());
      Type elt = target.floatType;
      packed.resize(n * (elt.isF32() ? 4 : 2));
      llmc_convert_floats(w.values.data(), /*f32*/ 0, packed.data(),
                          floatTypeCode(elt), n);
      newType = RankedTensorType::get(type.getShape(), elt);
    }
    int64_t aligned = llvm::alignTo(offset, kTensorAlignment);
    out.write_zeros(aligned - offset);
    out.write(reinterpret_cast<const char *>(packed.data()), packed.size());
    offset = aligned + int64_t(packed.size());
    weight.setType(newType);
    weight.setFile(outputPath);
    weight.setOffset(aligned);
    newTypes[weight.getSymName()] = newType;
  }
  out.close();
  if (out.has_error()) {
    module.emitError("llmc-quantize-weights: writing '")
        << output << "' failed: " << out.error().message();
    out.clear_error();
    return signalPassFailure();
  }
  module.walk([&](llm::GetWeightOp get) {
    auto it = newTypes.find(get.getName());
    if (it != newTypes.end())
      get.getResult().setType(it->second);
  });
}

} // namespace
