//===- LlamaModule.cpp - LlamaModel to llm-dialect step functions ---------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "llmc/Import/Llama.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include <cmath>

using namespace mlir;
using namespace llmc;
using namespace llmc::import;

llvm::StringRef llmc::import::storageTypeName(StorageType type) {
  switch (type) {
  case StorageType::F32:
    return "F32";
  case StorageType::F16:
    return "F16";
  case StorageType::BF16:
    return "BF16";
  case StorageType::Q8_0:
    return "Q8_0";
  case StorageType::Q4_0:
    return "Q4_0";
  case StorageType::Q4_K:
    return "Q4_K";
  case StorageType::Q6_K:
    return "Q6_K";
  }
  return "?";
}

static bool isFloat(StorageType type) {
  return type == StorageType::F32 || type == StorageType::F16 ||
         type == StorageType::BF16;
}

static std::string shapeStr(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

llvm::Error llmc::import::validateLlamaModel(const LlamaModel &model) {
  const LlamaConfig &c = model.config;
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   model.source + ": " + message);
  };
  if (c.kvHeads <= 0 || c.heads % c.kvHeads != 0)
    return fail(llvm::formatv("head count {0} is not a multiple of the KV head "
                              "count {1}",
                              c.heads, c.kvHeads)
                    .str());
  if (c.ropeDims <= 0 || c.ropeDims > c.headDim || c.ropeDims % 2 != 0)
    return fail(llvm::formatv("rope dimension count {0} must be even and at "
                              "most the head size {1}",
                              c.ropeDims, c.headDim)
                    .str());
  auto expect = [&](const std::string &name,
                    std::vector<int64_t> shape) -> llvm::Error {
    auto it = model.tensors.find(name);
    if (it == model.tensors.end())
      return fail("missing tensor " + name);
    const std::string &shown =
        it->second.sourceName.empty() ? name : it->second.sourceName;
    if (it->second.shape != shape)
      return fail("tensor " + shown + " has shape " +
                  shapeStr(it->second.shape) + ", expected " + shapeStr(shape));
    if (shape.size() == 1 && !isFloat(it->second.type))
      return fail("tensor " + shown + " is " +
                  storageTypeName(it->second.type) +
                  "; norm weights must be F32, F16 or BF16");
    return llvm::Error::success();
  };
  int64_t q = c.heads * c.headDim, kv = c.kvHeads * c.headDim;
  if (llvm::Error e = expect("token_embd.weight", {c.vocabSize, c.dim}))
    return e;
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    std::pair<std::string, std::vector<int64_t>> need[] = {
        {p + "attn_norm.weight", {c.dim}},
        {p + "attn_q.weight", {q, c.dim}},
        {p + "attn_k.weight", {kv, c.dim}},
        {p + "attn_v.weight", {kv, c.dim}},
        {p + "attn_output.weight", {c.dim, q}},
        {p + "ffn_norm.weight", {c.dim}},
        {p + "ffn_gate.weight", {c.ffnDim, c.dim}},
        {p + "ffn_up.weight", {c.ffnDim, c.dim}},
        {p + "ffn_down.weight", {c.dim, c.ffnDim}}};
    for (auto &[name, shape] : need)
      if (llvm::Error e = expect(name, shape))
        return e;
  }
  if (llvm::Error e = expect("output_norm.weight", {c.dim}))
    return e;
  if (!c.tiedOutput)
    if (llvm::Error e = expect("output.weight", {c.vocabSize, c.dim}))
      return e;
  return llvm::Error::success();
}

namespace {

/// Emits the decoder into step functions.
class ModuleBuilder {
public:
  ModuleBuilder(MLIRContext &context, const LlamaModel &model,
                int64_t capacity)
      : ctx(context), model(model), c(model.config), b(&context),
        loc(UnknownLoc::get(&context)) {
    f32 = b.getF32Type();
    cacheType = kv::CacheType::get(&ctx, c.layers, c.kvHeads, capacity,
                                   c.headDim, TypeAttr::get(f32), 0,
                                   kv::PolicyAttr());
  }

  OwningOpRef<ModuleOp> build() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    module->getOperation()->setAttr(
        "llm.source", b.getStringAttr(model.source));
    b.setInsertionPointToEnd(module->getBody());
    for (const auto &entry : model.tensors)
      names.push_back(entry.getKey().str());
    llvm::sort(names);
    for (const std::string &name : names)
      declareWeight(name);
    buildStep("prefill", ShapedType::kDynamic);
    buildStep("decode", 1);
    return module;
  }

private:
  Type weightType(const TensorRef &ref) {
    auto packed = [&](qmm::FormatKind kind) -> Type {
      return qmm::PackedType::get(ref.shape,
                                  qmm::FormatAttr::get(&ctx, kind));
    };
    switch (ref.type) {
    case StorageType::F32:
      return RankedTensorType::get(ref.shape, f32);
    case StorageType::F16:
      return RankedTensorType::get(ref.shape, b.getF16Type());
    case StorageType::BF16:
      return RankedTensorType::get(ref.shape, b.getBF16Type());
    case StorageType::Q8_0:
      return packed(qmm::FormatKind::Q8_0);
    case StorageType::Q4_0:
      return packed(qmm::FormatKind::Q4_0);
    case StorageType::Q4_K:
      return packed(qmm::FormatKind::Q4_K);
    case StorageType::Q6_K:
      return packed(qmm::FormatKind::Q6_K);
    }
    return {};
  }

  static std::string symbolFor(llvm::StringRef tensorName) {
    tensorName.consume_back(".weight");
    return tensorName.str();
  }

  void declareWeight(const std::string &name) {
    const TensorRef &ref = model.tensors.find(name)->second;
    llm::WeightOp::create(b, loc, b.getStringAttr(symbolFor(name)),
                          b.getStringAttr(name),
                          TypeAttr::get(weightType(ref)),
                          b.getStringAttr(ref.file),
                          b.getI64IntegerAttr(int64_t(ref.offset)));
  }

  Value weight(llvm::StringRef name) {
    const TensorRef &ref = model.tensors.find(name)->second;
    return llm::GetWeightOp::create(b, loc, weightType(ref),
                                    SymbolRefAttr::get(&ctx, symbolFor(name)));
  }

  RankedTensorType act(int64_t rows, int64_t width) {
    return RankedTensorType::get({rows, width}, f32);
  }

  Value linear(Value x, llvm::StringRef name, int64_t rows, int64_t out) {
    return llm::LinearOp::create(b, loc, act(rows, out), x, weight(name));
  }

  Value rmsNorm(Value x, llvm::StringRef name) {
    return llm::RMSNormOp::create(b, loc, x.getType(), x, weight(name),
                                  b.getF32FloatAttr(float(c.rmsEps)));
  }

  Value rope(Value x, Value pos) {
    auto op = llm::RoPEOp::create(
        b, loc, x.getType(), x, pos, /*tree=*/Value(),
        b.getI64IntegerAttr(c.headDim),
        b.getI64IntegerAttr(c.ropeDims), b.getF32FloatAttr(float(c.ropeTheta)),
        c.ropeFreqScale != 1.0 ? b.getF32FloatAttr(float(c.ropeFreqScale))
                               : FloatAttr(),
        c.ropeHalfSplit ? b.getUnitAttr() : UnitAttr());
    return op;
  }

  void buildStep(llvm::StringRef name, int64_t rows) {
    auto idsType = RankedTensorType::get({rows}, b.getI32Type());
    auto logitsType = act(rows, c.vocabSize);
    auto fnType = FunctionType::get(
        &ctx, {idsType, cacheType, b.getIndexType()}, {logitsType, cacheType});
    OpBuilder::InsertionGuard guard(b);
    auto func = func::FuncOp::create(b, loc, name, fnType);
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value ids = entry->getArgument(0), cache = entry->getArgument(1),
          pos = entry->getArgument(2);
    int64_t qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim;

    Value x = llm::EmbeddingOp::create(b, loc, act(rows, c.dim),
                                       weight("token_embd.weight"), ids);
    float scale = float(1.0 / std::sqrt(double(c.headDim)));
    for (int64_t l = 0; l < c.layers; ++l) {
      std::string p = "blk." + std::to_string(l) + ".";
      Value h = rmsNorm(x, p + "attn_norm.weight");
      Value q = rope(linear(h, p + "attn_q.weight", rows, qWidth), pos);
      Value k = rope(linear(h, p + "attn_k.weight", rows, kvWidth), pos);
      Value v = linear(h, p + "attn_v.weight", rows, kvWidth);
      auto attention = llm::AttentionOp::create(
          b, loc, act(rows, qWidth), cacheType, Type(), q, k, v, cache,
          b.getI64IntegerAttr(l), pos, /*tree=*/Value(),
          b.getI64IntegerAttr(c.heads),
          b.getI64IntegerAttr(c.kvHeads), b.getI64IntegerAttr(c.headDim),
          b.getF32FloatAttr(scale), b.getBoolAttr(true), IntegerAttr());
      cache = attention.getNewCache();
      Value o = linear(attention.getResult(), p + "attn_output.weight", rows,
                       c.dim);
      Value r = llm::AddOp::create(b, loc, x.getType(), x, o);
      Value n = rmsNorm(r, p + "ffn_norm.weight");
      Value gate = linear(n, p + "ffn_gate.weight", rows, c.ffnDim);
      Value up = linear(n, p + "ffn_up.weight", rows, c.ffnDim);
      Value act = llm::SwiGLUOp::create(b, loc, gate.getType(), gate, up);
      Value down = linear(act, p + "ffn_down.weight", rows, c.dim);
      x = llm::AddOp::create(b, loc, r.getType(), r, down);
    }
    Value xn = rmsNorm(x, "output_norm.weight");
    Value head = weight(c.tiedOutput ? "token_embd.weight" : "output.weight");
    Value logits =
        llm::LMHeadOp::create(b, loc, logitsType, xn, head, UnitAttr());
    func::ReturnOp::create(b, loc, ValueRange{logits, cache});
  }

  MLIRContext &ctx;
  const LlamaModel &model;
  const LlamaConfig &c;
  OpBuilder b;
  Location loc;
  Type f32;
  kv::CacheType cacheType;
  std::vector<std::string> names;
};

} // namespace

OwningOpRef<ModuleOp>
llmc::import::buildLlamaModule(MLIRContext &context, const LlamaModel &model,
                               const ImportOptions &options) {
  context.loadDialect<llm::LLMDialect, func::FuncDialect,
                      arith::ArithDialect>();
  int64_t capacity = model.config.contextLength;
  if (options.contextLength > 0)
    capacity = options.contextLength;
  return ModuleBuilder(context, model, capacity).build();
}

llvm::Expected<OwningOpRef<ModuleOp>>
llmc::import::importModel(MLIRContext &context, llvm::StringRef path,
                          const ImportOptions &options) {
  llvm::Expected<LlamaModel> model = [&]() -> llvm::Expected<LlamaModel> {
    if (llvm::sys::fs::is_directory(path))
      return readSafetensorsLlama(path);
    return readGGUFLlama(path);
  }();
  if (!model)
    return model.takeError();
  if (options.contextLength < 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "context length must be positive");
  return buildLlamaModule(context, *model, options);
}
