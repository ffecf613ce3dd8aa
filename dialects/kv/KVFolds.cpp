//===- KVFolds.cpp - kv folders and canonicalization patterns -------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "dialects/kv/KVOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace llmc::kv;

OpFoldResult LengthOp::fold(FoldAdaptor) {
  // A fresh cache is empty.
  if (getCache().getDefiningOp<AllocOp>())
    return IntegerAttr::get(IndexType::get(getContext()), 0);
  return {};
}

OpFoldResult EvictOp::fold(FoldAdaptor) {
  // A cache already evicted with the same policy is within budget.
  if (auto inner = getCache().getDefiningOp<EvictOp>())
    if (inner.getEffectivePolicy() == getEffectivePolicy())
      return getCache();
  return {};
}

OpFoldResult RollbackOp::fold(FoldAdaptor adaptor) {
  if (auto count = dyn_cast_or_null<IntegerAttr>(adaptor.getCount()))
    if (count.getValue().isZero())
      return getCache();
  return {};
}

namespace {
/// rollback(rollback(c, a), b) -> rollback(c, a + b)
/// Two constant counts are summed here and capped at the capacity (dropping
/// more empties the cache all the same), so the result still verifies; on a
/// cache with an undo log (`rollback<N>`) a constant sum past N is left
/// alone, since such a count does not verify.
struct CombineRollbacks : OpRewritePattern<RollbackOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RollbackOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getCache().getDefiningOp<RollbackOp>();
    if (!inner)
      return rewriter.notifyMatchFailure(op, "cache not from a rollback");
    if (!inner->hasOneUse())
      return rewriter.notifyMatchFailure(op, "inner rollback has other uses");
    APInt a, b;
    Value total;
    int64_t depth = op.getType().getRollbackDepth();
    bool constants = matchPattern(inner.getCount(), m_ConstantInt(&a)) &&
                     matchPattern(op.getCount(), m_ConstantInt(&b));
    if (constants && depth > 0 && a.getSExtValue() + b.getSExtValue() > depth)
      return rewriter.notifyMatchFailure(op, "sum exceeds the undo log");
    if (constants)
      total = arith::ConstantIndexOp::create(
          rewriter, op.getLoc(),
          std::min(a.getSExtValue() + b.getSExtValue(),
                   op.getType().getCapacity()));
    else
      total = arith::AddIOp::create(rewriter, op.getLoc(), inner.getCount(),
                                    op.getCount());
    rewriter.replaceOpWithNewOp<RollbackOp>(op, op.getType(), inner.getCache(),
                                            total);
    return success();
  }
};

/// fork(c, prefix 0) -> alloc: nothing is shared.
struct ForkOfNothing : OpRewritePattern<ForkOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ForkOp op,
                                PatternRewriter &rewriter) const override {
    if (!matchPattern(op.getPrefix(), m_Zero()))
      return rewriter.notifyMatchFailure(op, "prefix is not constant zero");
    rewriter.replaceOpWithNewOp<AllocOp>(op, op.getType());
    return success();
  }
};
} // namespace

void RollbackOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                             MLIRContext *context) {
  results.add<CombineRollbacks>(context);
}

void ForkOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                         MLIRContext *context) {
  results.add<ForkOfNothing>(context);
}
