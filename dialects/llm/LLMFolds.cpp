//===- LLMFolds.cpp - llm folders and canonicalization patterns -----------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace llmc;
using namespace llmc::llm;

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  // x + 0 -> x (the zero is a splat constant of the same type).
  if (matchPattern(adaptor.getRhs(), m_AnyZeroFloat()))
    return getLhs();
  if (matchPattern(adaptor.getLhs(), m_AnyZeroFloat()))
    return getRhs();
  return {};
}

namespace {
/// Ops that accept packed weights consume them directly instead of a
/// dequantized copy: op(..., qmm.dequantize(p)) -> op(..., p). The weight
/// is operand `WeightIndex`.
template <typename OpTy, unsigned WeightIndex>
struct ConsumePackedWeight : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Value weight = op->getOperand(WeightIndex);
    auto dequant = weight.getDefiningOp<qmm::DequantizeOp>();
    if (!dequant)
      return rewriter.notifyMatchFailure(op, "weight is not dequantized");
    rewriter.modifyOpInPlace(
        op, [&] { op->setOperand(WeightIndex, dequant.getInput()); });
    return success();
  }
};

/// Sampling at temperature 0 or with top_k 1 is greedy.
struct GreedySample : OpRewritePattern<SampleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SampleOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getTemperature().isZero() && op.getTopK() != 1)
      return rewriter.notifyMatchFailure(op, "sampling is not greedy");
    rewriter.replaceOpWithNewOp<ArgmaxOp>(op, op.getType(), op.getLogits());
    return success();
  }
};
} // namespace

void EmbeddingOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<ConsumePackedWeight<EmbeddingOp, 0>>(context);
}

void LinearOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                           MLIRContext *context) {
  results.add<ConsumePackedWeight<LinearOp, 1>>(context);
}

void LMHeadOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                           MLIRContext *context) {
  results.add<ConsumePackedWeight<LMHeadOp, 1>>(context);
}

void SampleOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                           MLIRContext *context) {
  results.add<GreedySample>(context);
}
