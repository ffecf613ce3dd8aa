//===- Attention.cpp - llm.attention to linalg over a tensor cache --------===//
//
// Part of llmc. The cache is tensor<2 x L x H x C x D>; one attention step:
//   1. scatter this step's keys/values ([T, H*D]) into [H, T, D] and insert
//      them at [kv, layer, :, pos : pos+T, :];
//   2. view the first S = pos + T positions of the layer;
//   3. scores[h, t, s] = scale * q[t, h, :] . K[h / group, s, :], masked
//      where s > pos + t (causal) or s <= pos + t - window;
//   4. softmax over s; out[t, h, :] = sum_s p[h, t, s] * V[h / group, s, :].
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include <limits>

using namespace mlir;
using namespace llmc;
using namespace llmc::lowering;

Value llmc::lowering::insertStepEntries(OpBuilder &b, Location loc,
                                        Value cache, Value keys, Value values,
                                        int64_t layer, Value pos) {
  MLIRContext *ctx = b.getContext();
  auto cacheType = cast<RankedTensorType>(cache.getType());
  int64_t kvHeads = cacheType.getDimSize(2), headDim = cacheType.getDimSize(4);
  Type f32 = b.getF32Type();
  auto par = utils::IteratorType::parallel;
  OpFoldResult steps = dimOf(b, loc, keys, 0);
  AffineExpr d0, d1, d2;
  bindDims(ctx, d0, d1, d2);
  auto scatterIn = AffineMap::get(3, 0, {d1, d0 * headDim + d2}, ctx);
  auto id3 = b.getMultiDimIdentityMap(3);
  SmallVector<Value, 2> newEntries = {keys, values};
  for (auto [which, value] : llvm::enumerate(newEntries)) {
    Value init = empty(b, loc,
                       {b.getIndexAttr(kvHeads), steps,
                        b.getIndexAttr(headDim)},
                       f32);
    Value hTD = generic(b, loc, init, {value}, {scatterIn, id3},
                        {par, par, par},
                        [&](OpBuilder &nb, Location l, ValueRange args) {
                          linalg::YieldOp::create(nb, l, args[0]);
                        });
    SmallVector<OpFoldResult> offsets = {
        b.getIndexAttr(int64_t(which)), b.getIndexAttr(layer),
        b.getIndexAttr(0), pos, b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                       b.getIndexAttr(kvHeads), steps,
                                       b.getIndexAttr(headDim)};
    SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
    cache = tensor::InsertSliceOp::create(b, loc, hTD, cache, offsets, sizes,
                                          strides);
  }
  return cache;
}

namespace {

struct AttentionLowering : OpConversionPattern<llm::AttentionOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(llm::AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    kv::CacheType cacheType = op.getCache().getType();
    if (op.getTree())
      return rewriter.notifyMatchFailure(op, "tree masks: kernel only");
    if (!cacheType.getFloatStorage() ||
        !cacheType.getFloatStorage().isF32())
      return rewriter.notifyMatchFailure(op, "CPU lowering needs an f32 cache");
    if (cacheType.isPaged())
      return rewriter.notifyMatchFailure(op,
                                         "paged caches need use-microkernels");
    if (cacheType.getPolicy())
      return rewriter.notifyMatchFailure(
          op, "eviction policies need use-microkernels");
    if (op.getScores())
      return rewriter.notifyMatchFailure(op, "scores output not lowered yet");
    if (!op.getQueries().getType().getElementType().isF32())
      return rewriter.notifyMatchFailure(op, "expects f32 activations");

    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Type f32 = b.getF32Type();
    int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads(),
            headDim = op.getHeadDim(), layer = op.getLayer();
    int64_t group = heads / kvHeads;
    Value q = adaptor.getQueries(), cache = adaptor.getCache(),
          pos = adaptor.getPosition();
    OpFoldResult steps = dimOf(b, loc, q, 0);
    Value stepsV = getValueOrCreateConstantIndexOp(b, loc, steps);
    auto par = utils::IteratorType::parallel;
    auto red = utils::IteratorType::reduction;

    // 1. Keys and values into the cache.
    cache = insertStepEntries(b, loc, cache, adaptor.getKeys(),
                              adaptor.getValues(), layer, pos);
    AffineExpr d0, d1, d2, d3;
    bindDims(ctx, d0, d1, d2, d3);
    auto id3 = b.getMultiDimIdentityMap(3);

    // 2. The first S positions of this layer.
    Value span = arith::AddIOp::create(b, loc, pos, stepsV);
    auto viewType =
        RankedTensorType::get({kvHeads, ShapedType::kDynamic, headDim}, f32);
    auto view = [&](int64_t which) -> Value {
      SmallVector<OpFoldResult> offsets = {
          b.getIndexAttr(which), b.getIndexAttr(layer), b.getIndexAttr(0),
          b.getIndexAttr(0), b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                         b.getIndexAttr(kvHeads), span,
                                         b.getIndexAttr(headDim)};
      SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
      return tensor::ExtractSliceOp::create(b, loc, viewType, cache, offsets,
                                            sizes, strides);
    };
    Value keys = view(0), values = view(1);

    // 3. Scores over (h, t, s), reduced over d.
    Value scores =
        filled(b, loc, {b.getIndexAttr(heads), steps, span}, f32, 0.0);
    auto qMap = AffineMap::get(4, 0, {d1, d0 * headDim + d3}, ctx);
    auto kMap = AffineMap::get(4, 0, {d0.floorDiv(group), d2, d3}, ctx);
    auto sMap = AffineMap::get(4, 0, {d0, d1, d2}, ctx);
    scores = generic(b, loc, scores, {q, keys}, {qMap, kMap, sMap},
                     {par, par, par, red},
                     [&](OpBuilder &nb, Location l, ValueRange args) {
                       Value p = arith::MulFOp::create(nb, l, args[0], args[1]);
                       linalg::YieldOp::create(
                           nb, l,
                           arith::AddFOp::create(nb, l, args[2], p).getResult());
                     });

    // Scale and mask.
    float scale = op.getScale().convertToFloat();
    bool causal = op.getCausal();
    std::optional<int64_t> window = op.getWindow();
    double negInf = -std::numeric_limits<double>::infinity();
    Value masked = empty(b, loc, {b.getIndexAttr(heads), steps, span}, f32);
    masked = generic(
        b, loc, masked, {scores}, {id3, id3}, {par, par, par},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value t = linalg::IndexOp::create(nb, l, 1);
          Value s = linalg::IndexOp::create(nb, l, 2);
          Value query = arith::AddIOp::create(nb, l, pos, t);
          Value v = arith::MulFOp::create(nb, l, args[0], f32Const(nb, l, scale));
          Value ninf = f32Const(nb, l, negInf);
          if (causal) {
            Value future = arith::CmpIOp::create(
                nb, l, arith::CmpIPredicate::ugt, s, query);
            v = arith::SelectOp::create(nb, l, future, ninf, v);
          }
          if (window) {
            // Keep s > query - window, i.e. s + window > query.
            Value shifted = arith::AddIOp::create(
                nb, l, s, indexConst(nb, l, *window));
            Value old = arith::CmpIOp::create(
                nb, l, arith::CmpIPredicate::ule, shifted, query);
            v = arith::SelectOp::create(nb, l, old, ninf, v);
          }
          linalg::YieldOp::create(nb, l, v);
        });

    // 4. Softmax over s.
    AffineExpr e0, e1, e2;
    bindDims(ctx, e0, e1, e2);
    auto rowMap = AffineMap::get(3, 0, {e0, e1}, ctx);
    Value maxes =
        filled(b, loc, {b.getIndexAttr(heads), steps}, f32, negInf);
    maxes = generic(b, loc, maxes, {masked}, {id3, rowMap}, {par, par, red},
                    [&](OpBuilder &nb, Location l, ValueRange args) {
                      linalg::YieldOp::create(
                          nb, l,
                          arith::MaximumFOp::create(nb, l, args[0], args[1])
                              .getResult());
                    });
    Value exps = empty(b, loc, {b.getIndexAttr(heads), steps, span}, f32);
    exps = generic(b, loc, exps, {masked, maxes}, {id3, rowMap, id3},
                   {par, par, par},
                   [&](OpBuilder &nb, Location l, ValueRange args) {
                     Value d = arith::SubFOp::create(nb, l, args[0], args[1]);
                     linalg::YieldOp::create(
                         nb, l, math::ExpOp::create(nb, l, d).getResult());
                   });
    Value sums = filled(b, loc, {b.getIndexAttr(heads), steps}, f32, 0.0);
    sums = generic(b, loc, sums, {exps}, {id3, rowMap}, {par, par, red},
                   [&](OpBuilder &nb, Location l, ValueRange args) {
                     linalg::YieldOp::create(
                         nb, l,
                         arith::AddFOp::create(nb, l, args[0], args[1])
                             .getResult());
                   });
    Value probs = empty(b, loc, {b.getIndexAttr(heads), steps, span}, f32);
    probs = generic(b, loc, probs, {exps, sums}, {id3, rowMap, id3},
                    {par, par, par},
                    [&](OpBuilder &nb, Location l, ValueRange args) {
                      linalg::YieldOp::create(
                          nb, l,
                          arith::DivFOp::create(nb, l, args[0], args[1])
                              .getResult());
                    });

    // out[t, h, d] = sum_s probs[h, t, s] * V[h / group, s, d] over (t,h,d,s).
    Value out = filled(b, loc, {steps, b.getIndexAttr(heads),
                                b.getIndexAttr(headDim)},
                       f32, 0.0);
    auto pMap = AffineMap::get(4, 0, {d1, d0, d3}, ctx);
    auto vMap = AffineMap::get(4, 0, {d1.floorDiv(group), d3, d2}, ctx);
    auto oMap = AffineMap::get(4, 0, {d0, d1, d2}, ctx);
    out = generic(b, loc, out, {probs, values}, {pMap, vMap, oMap},
                  {par, par, par, red},
                  [&](OpBuilder &nb, Location l, ValueRange args) {
                    Value p = arith::MulFOp::create(nb, l, args[0], args[1]);
                    linalg::YieldOp::create(
                        nb, l,
                        arith::AddFOp::create(nb, l, args[2], p).getResult());
                  });
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, out, SmallVector<ReassociationIndices>{{0}, {1, 2}});
    if (flat.getType() != op.getResult().getType())
      flat = tensor::CastOp::create(b, loc, op.getResult().getType(), flat);
    rewriter.replaceOp(op, {flat, cache});
    return success();
  }
};

} // namespace

void llmc::populateLLMAttentionToLinalgPatterns(LLMTypeConverter &converter,
                                                RewritePatternSet &patterns) {
  patterns.add<AttentionLowering>(converter, patterns.getContext());
}
