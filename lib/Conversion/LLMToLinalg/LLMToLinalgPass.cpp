//===- LLMToLinalgPass.cpp - the llmc-convert-llm-to-linalg pass ----------===//
//
// Part of llmc. Type conversion, the weights argument, and the driver of the
// pattern sets; the lowering itself lives in the pattern files.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llmc/Runtime/KVLayout.h"
#include "llvm/Support/FileSystem.h"

namespace llmc {
#define GEN_PASS_DEF_CONVERTLLMTOLINALG
#include "llmc/Conversion/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

LLMTypeConverter::LLMTypeConverter() {
  addConversion([](Type type) { return type; });
  addConversion([](kv::CacheType cache) -> std::optional<Type> {
    // A KIVI cache, an f32 cache under an eviction policy, or both, is the
    // bytes of its layout (include/llmc/Runtime/KVLayout.h), only ever
    // touched by the attention kernel that owns that layout.
    if (std::optional<int64_t> bytes = kv::byteCacheSize(cache))
      return RankedTensorType::get(
          {*bytes}, IntegerType::get(cache.getContext(), 8));
    FloatType elt = cache.getFloatStorage();
    if (!elt)
      return std::nullopt;
    // A paged f32 cache is the block pool: C / B blocks of B positions in
    // every (layer, k/v, KV head) plane; the function's block table says
    // which blocks a sequence holds (docs/memory.md, "KV cache layout").
    if (cache.isPaged() && elt.isF32())
      return RankedTensorType::get({cache.getLayers(), 2, cache.getKvHeads(),
                                    cache.getCapacity() / cache.getBlockSize(),
                                    cache.getBlockSize(), cache.getHeadDim()},
                                   elt);
    return RankedTensorType::get({2, cache.getLayers(), cache.getKvHeads(),
                                  cache.getCapacity(), cache.getHeadDim()},
                                 elt);
  });
  addConversion([](qmm::PackedType packed) -> Type {
    return RankedTensorType::get({packed.getPackedBytes()},
                                 IntegerType::get(packed.getContext(), 8));
  });
}

namespace {

/// Lays the weight files out back to back in one address range (each at a
/// page-aligned base, in order of first use), records the layout on the
/// module as `llmc.weight_files` and returns each file's base. The runtime
/// maps the files at these bases, so one memref<?xi8> reaches every weight.
FailureOr<llvm::StringMap<int64_t>> layOutWeightFiles(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  llvm::StringMap<int64_t> bases;
  SmallVector<Attribute> layout;
  int64_t next = 0;
  for (auto weight : module.getOps<llm::WeightOp>()) {
    StringRef file = weight.getFile();
    uint64_t size = 0;
    if (std::error_code ec = llvm::sys::fs::file_size(file, size)) {
      weight.emitOpError("cannot read weight file '")
          << file << "': " << ec.message();
      return failure();
    }
    int64_t bytes = weight.getByteSize();
    if (weight.getOffset() < 0 ||
        uint64_t(weight.getOffset()) + uint64_t(bytes) > size) {
      weight.emitOpError("(")
          << bytes << " bytes at offset " << weight.getOffset()
          << ") lies outside '" << file << "' (" << size << " bytes)";
      return failure();
    }
    if (bases.count(file))
      continue;
    bases[file] = next;
    layout.push_back(DictionaryAttr::get(
        ctx, {NamedAttribute(StringAttr::get(ctx, "file"),
                             StringAttr::get(ctx, file)),
              NamedAttribute(StringAttr::get(ctx, "base"),
                             IntegerAttr::get(IntegerType::get(ctx, 64), next)),
              NamedAttribute(StringAttr::get(ctx, "size"),
                             IntegerAttr::get(IntegerType::get(ctx, 64),
                                              int64_t(size)))}));
    next += llvm::alignTo(int64_t(size), kWeightFileAlignment);
  }
  module->setAttr(kWeightFilesAttr, ArrayAttr::get(ctx, layout));
  return bases;
}

/// Gives every function that reads weights a trailing memref<?xi8> argument
/// holding the weight files, and marks results that were caches.
void prepareFunctions(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  module.walk([&](func::FuncOp func) {
    for (unsigned i = 0, e = func.getNumResults(); i < e; ++i)
      if (isa<kv::CacheType>(func.getResultTypes()[i]))
        func.setResultAttr(i, kCacheResultAttr, UnitAttr::get(ctx));
    if (func.isExternal())
      return;
    bool readsWeights = false;
    func.walk([&](llm::GetWeightOp) { readsWeights = true; });
    if (readsWeights) {
      auto type =
          MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8));
      unsigned index = func.getNumArguments();
      (void)func.insertArgument(
          index, type,
          DictionaryAttr::get(
              ctx, {NamedAttribute(StringAttr::get(ctx, kWeightsArgAttr),
                                   UnitAttr::get(ctx))}),
          func.getLoc());
    }
    // A paged cache argument brings the sequence's block table after it.
    for (Type type : func.getArgumentTypes()) {
      auto cache = dyn_cast<kv::CacheType>(type);
      if (!cache || !cache.isPaged())
        continue;
      auto table = MemRefType::get({cache.getCapacity() / cache.getBlockSize()},
                                   IntegerType::get(ctx, 32));
      (void)func.insertArgument(
          func.getNumArguments(), table,
          DictionaryAttr::get(
              ctx, {NamedAttribute(StringAttr::get(ctx, kBlockTableArgAttr),
                                   UnitAttr::get(ctx))}),
          func.getLoc());
      break;
    }
  });
}

struct ConvertLLMToLinalgPass
    : llmc::impl::ConvertLLMToLinalgBase<ConvertLLMToLinalgPass> {
  using ConvertLLMToLinalgBase::ConvertLLMToLinalgBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    FailureOr<llvm::StringMap<int64_t>> bases = layOutWeightFiles(module);
    if (failed(bases))
      return signalPassFailure();
    // Weight offsets become offsets into the laid-out range.
    for (auto weight : module.getOps<llm::WeightOp>())
      weight.setOffset((*bases)[weight.getFile()] + weight.getOffset());
    prepareFunctions(module);

    LLMTypeConverter converter;
    RewritePatternSet patterns(ctx);
    populateLLMDecoderToLinalgPatterns(converter, patterns);
    populateLLMAttentionToLinalgPatterns(converter, patterns);
    populateQMMToLinalgPatterns(converter, patterns);
    if (useMicrokernels)
      populateLLMToMicrokernelPatterns(converter, patterns);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    populateCallOpTypeConversionPattern(patterns, converter);

    ConversionTarget target(*ctx);
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect,
                           memref::MemRefDialect,
                           bufferization::BufferizationDialect>();
    target.addIllegalDialect<llm::LLMDialect, kv::KVDialect, qmm::QMMDialect>();
    target.addLegalOp<llm::WeightOp, ModuleOp>();
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp func) {
      return converter.isSignatureLegal(func.getFunctionType()) &&
             converter.isLegal(&func.getBody());
    });
    // Kernel calls take memrefs and scalars only.
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return converter.isLegal(op); });
    // scf.if around a draft step of @spec_step carries the cache.
    scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns,
                                                         target);
    if (failed(applyFullConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    // The weights are now views of the file argument.
    for (auto weight :
         llvm::make_early_inc_range(module.getOps<llm::WeightOp>()))
      weight.erase();
  }
};

} // namespace
