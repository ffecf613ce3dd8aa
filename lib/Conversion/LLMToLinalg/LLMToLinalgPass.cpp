//===- LLMToLinalgPass.cpp - the llmc-convert-llm-to-linalg pass ----------===//
//
// Part of llmc. Type conversion, the weights argument, and the driver of the
// pattern sets; the lowering itself lives in the pattern files.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace llmc {
#define GEN_PASS_DEF_CONVERTLLMTOLINALG
#include "llmc/Conversion/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

LLMTypeConverter::LLMTypeConverter() {
  addConversion([](Type type) { return type; });
  addConversion([](kv::CacheType cache) -> std::optional<Type> {
    FloatType elt = cache.getFloatStorage();
    if (!elt)
      return std::nullopt;
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

/// Gives every function that reads weights a trailing memref<?xi8> argument
/// holding the model file, and marks results that were caches.
void prepareFunctions(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  module.walk([&](func::FuncOp func) {
    for (unsigned i = 0, e = func.getNumResults(); i < e; ++i)
      if (isa<kv::CacheType>(func.getResultTypes()[i]))
        func.setResultAttr(i, kCacheResultAttr, UnitAttr::get(ctx));
    bool readsWeights = false;
    func.walk([&](llm::GetWeightOp) { readsWeights = true; });
    if (!readsWeights || func.isExternal())
      return;
    auto type = MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8));
    unsigned index = func.getNumArguments();
    if (failed(func.insertArgument(index, type,
                                   DictionaryAttr::get(ctx, {NamedAttribute(
                                       StringAttr::get(ctx, kWeightsArgAttr),
                                       UnitAttr::get(ctx))}),
                                   func.getLoc())))
      return;
  });
}

struct ConvertLLMToLinalgPass
    : llmc::impl::ConvertLLMToLinalgBase<ConvertLLMToLinalgPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    prepareFunctions(module);

    LLMTypeConverter converter;
    RewritePatternSet patterns(ctx);
    populateLLMDecoderToLinalgPatterns(converter, patterns);
    populateLLMAttentionToLinalgPatterns(converter, patterns);
    populateQMMToLinalgPatterns(converter, patterns);
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
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return converter.isLegal(op); });
    if (failed(applyFullConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    // The weights are now views of the file argument.
    for (auto weight : llvm::make_early_inc_range(module.getOps<llm::WeightOp>()))
      weight.erase();
  }
};

} // namespace
