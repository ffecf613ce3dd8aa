//===- DecoderOps.cpp - llm decoder ops to linalg -------------------------===//
//
// Part of llmc. Element-wise ops, norms, rope, projections, embeddings and
// argmax as linalg.generic over f32 activations; weights may be float
// tensors (extended to f32 in the loop body) or packed bytes.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include <cmath>

using namespace mlir;
using namespace llmc;
using namespace llmc::lowering;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

Value llmc::lowering::generic(OpBuilder &b, Location loc, Value init,
                              ValueRange inputs, ArrayRef<AffineMap> maps,
                              ArrayRef<utils::IteratorType> iterators,
                              BodyBuilder body) {
  return linalg::GenericOp::create(b, loc, TypeRange{init.getType()}, inputs,
                                   ValueRange{init}, maps, iterators, body)
      .getResult(0);
}

Value llmc::lowering::empty(OpBuilder &b, Location loc,
                            ArrayRef<OpFoldResult> sizes, Type elt) {
  return tensor::EmptyOp::create(b, loc, sizes, elt);
}

Value llmc::lowering::filled(OpBuilder &b, Location loc,
                             ArrayRef<OpFoldResult> sizes, Type elt,
                             double value) {
  Value init = empty(b, loc, sizes, elt);
  Value cst = arith::ConstantOp::create(b, loc, b.getFloatAttr(elt, value));
  return linalg::FillOp::create(b, loc, ValueRange{cst}, ValueRange{init})
      .getResult(0);
}

OpFoldResult llmc::lowering::dimOf(OpBuilder &b, Location loc, Value tensor,
                                   int64_t dim) {
  auto type = cast<RankedTensorType>(tensor.getType());
  if (!type.isDynamicDim(dim))
    return b.getIndexAttr(type.getDimSize(dim));
  return tensor::DimOp::create(b, loc, tensor, dim).getResult();
}

Value llmc::lowering::indexConst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value llmc::lowering::f32Const(OpBuilder &b, Location loc, double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(v)));
}

Value llmc::lowering::lastRow(OpBuilder &b, Location loc, Value x) {
  OpFoldResult rows = dimOf(b, loc, x, 0);
  Value last = arith::SubIOp::create(
      b, loc, getValueOrCreateConstantIndexOp(b, loc, rows),
      indexConst(b, loc, 1));
  int64_t width = cast<RankedTensorType>(x.getType()).getDimSize(1);
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({1, width}, b.getF32Type()), x,
      ValueRange{last}, ValueRange{}, ValueRange{},
      b.getDenseI64ArrayAttr({ShapedType::kDynamic, 0}),
      b.getDenseI64ArrayAttr({1, width}), b.getDenseI64ArrayAttr({1, 1}));
}

Value llmc::lowering::toF32(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

static bool isF32Tensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.getElementType().isF32();
}

static SmallVector<utils::IteratorType> parallel(unsigned n) {
  return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
}

/// An element-wise op over same-shaped 2-D f32 tensors.
static Value elementwise(OpBuilder &b, Location loc, ValueRange inputs,
                         BodyBuilder body) {
  Value like = inputs.front();
  Value init = empty(b, loc, {dimOf(b, loc, like, 0), dimOf(b, loc, like, 1)},
                     b.getF32Type());
  auto id = b.getMultiDimIdentityMap(2);
  SmallVector<AffineMap> maps(inputs.size() + 1, id);
  return generic(b, loc, init, inputs, maps, parallel(2), body);
}

namespace {

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

struct GetWeightLowering : OpConversionPattern<llm::GetWeightOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::GetWeightOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto func = op->getParentOfType<func::FuncOp>();
    BlockArgument weights;
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
      if (func.getArgAttr(i, kWeightsArgAttr))
        weights = func.getArgument(i);
    if (!weights)
      return rewriter.notifyMatchFailure(op, "function has no weights arg");
    auto decl = SymbolTable::lookupNearestSymbolFrom<llm::WeightOp>(
        op, op.getNameAttr());
    Type converted = getTypeConverter()->convertType(op.getType());
    auto tensorType = dyn_cast_or_null<RankedTensorType>(converted);
    if (!decl || !tensorType)
      return rewriter.notifyMatchFailure(op, "unsupported weight");
    Location loc = op.getLoc();
    Value shift = indexConst(rewriter, loc, decl.getOffset());
    auto memrefType =
        MemRefType::get(tensorType.getShape(), tensorType.getElementType());
    Value view = memref::ViewOp::create(rewriter, loc, memrefType, weights,
                                        shift, ValueRange{});
    auto toTensor = bufferization::ToTensorOp::create(
        rewriter, loc, tensorType, view, /*restrict=*/true,
        /*writable=*/false);
    rewriter.replaceOp(op, toTensor.getResult());
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Embedding, norms, rope
//===----------------------------------------------------------------------===//

struct EmbeddingLowering : OpConversionPattern<llm::EmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::EmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Tensor(op.getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    if (!isDecodable(op.getTable().getType()))
      return rewriter.notifyMatchFailure(op, "table format not decodable");
    Location loc = op.getLoc();
    Value ids = adaptor.getIds(), table = adaptor.getTable();
    Type tableType = op.getTable().getType();
    int64_t dim = op.getType().getDimSize(1);
    Value init = empty(rewriter, loc,
                       {dimOf(rewriter, loc, ids, 0), rewriter.getIndexAttr(dim)},
                       rewriter.getF32Type());
    auto outMap = rewriter.getMultiDimIdentityMap(2);
    auto idsMap = AffineMap::get(2, 0, {rewriter.getAffineDimExpr(0)},
                                 getContext());
    Value result = generic(
        rewriter, loc, init, {ids}, {idsMap, outMap}, parallel(2),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value row = arith::IndexCastOp::create(b, l, b.getIndexType(), args[0]);
          Value col = linalg::IndexOp::create(b, l, 1);
          Value v;
          if (auto packed = dyn_cast<qmm::PackedType>(tableType))
            v = decodePackedElement(b, l, table, packed, row, col);
          else
            v = toF32(b, l,
                      tensor::ExtractOp::create(b, l, table, ValueRange{row, col}));
          linalg::YieldOp::create(b, l, v);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct RMSNormLowering : OpConversionPattern<llm::RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Tensor(op.getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value x = adaptor.getInput(), w = adaptor.getWeight();
    int64_t width = op.getType().getDimSize(1);
    AffineExpr t, k;
    bindDims(ctx, t, k);
    // Sum of squares per row.
    Value sums = filled(rewriter, loc, {dimOf(rewriter, loc, x, 0)},
                        rewriter.getF32Type(), 0.0);
    auto rowMap = AffineMap::get(2, 0, {t}, ctx);
    auto id = rewriter.getMultiDimIdentityMap(2);
    sums = generic(rewriter, loc, sums, {x}, {id, rowMap},
                   {utils::IteratorType::parallel, utils::IteratorType::reduction},
                   [&](OpBuilder &b, Location l, ValueRange args) {
                     Value sq = arith::MulFOp::create(b, l, args[0], args[0]);
                     linalg::YieldOp::create(
                         b, l, arith::AddFOp::create(b, l, args[1], sq).getResult());
                   });
    float eps = op.getEps().convertToFloat();
    auto colMap = AffineMap::get(2, 0, {k}, ctx);
    Value init = empty(rewriter, loc,
                       {dimOf(rewriter, loc, x, 0), rewriter.getIndexAttr(width)},
                       rewriter.getF32Type());
    Value result = generic(
        rewriter, loc, init, {x, sums, w}, {id, rowMap, colMap, id},
        parallel(2), [&](OpBuilder &b, Location l, ValueRange args) {
          Value mean = arith::DivFOp::create(b, l, args[1],
                                             f32Const(b, l, double(width)));
          Value var = arith::AddFOp::create(b, l, mean, f32Const(b, l, eps));
          Value inv = arith::DivFOp::create(b, l, f32Const(b, l, 1.0),
                                            math::SqrtOp::create(b, l, var));
          Value y = arith::MulFOp::create(b, l, args[0], inv);
          y = arith::MulFOp::create(b, l, y, toF32(b, l, args[2]));
          linalg::YieldOp::create(b, l, y);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct RoPELowering : OpConversionPattern<llm::RoPEOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::RoPEOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Tensor(op.getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    if (op.getTree())
      return rewriter.notifyMatchFailure(op, "tree positions: kernel only");
    Location loc = op.getLoc();
    Value x = adaptor.getInput(), pos = adaptor.getPosition();
    int64_t headDim = op.getHeadDim(), rotary = op.getRotaryDims();
    double theta = op.getTheta().convertToDouble();
    double scale = op.getFreqScale() ? op.getFreqScale()->convertToDouble() : 1.0;
    // Inverse frequencies per pair, computed here in double precision.
    SmallVector<float> invFreq;
    for (int64_t i = 0; i < rotary / 2; ++i)
      invFreq.push_back(
          float(scale * std::pow(theta, -2.0 * double(i) / double(rotary))));
    auto freqType = RankedTensorType::get({rotary / 2}, rewriter.getF32Type());
    Value freqs = arith::ConstantOp::create(
        rewriter, loc, DenseElementsAttr::get(freqType, ArrayRef<float>(invFreq)));
    Value init = empty(rewriter, loc,
                       {dimOf(rewriter, loc, x, 0), dimOf(rewriter, loc, x, 1)},
                       rewriter.getF32Type());
    auto id = rewriter.getMultiDimIdentityMap(2);
    bool halfSplit = op.getHalfSplit();
    int64_t half = rotary / 2;
    Value result = generic(
        rewriter, loc, init, {x}, {id, id}, parallel(2),
        [&](OpBuilder &b, Location l, ValueRange args) {
          auto cst = [&](int64_t v) { return indexConst(b, l, v); };
          Value t = linalg::IndexOp::create(b, l, 0);
          Value c = linalg::IndexOp::create(b, l, 1);
          Value d = arith::RemUIOp::create(b, l, c, cst(headDim));
          Value rotated = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                                d, cst(rotary));
          // Clamped so that unrotated columns still index valid entries.
          Value dr = arith::MinUIOp::create(b, l, d, cst(rotary - 1));
          // `second`: this element is the second of its pair, rotated by
          // +sin; its partner lies `stride` columns before it.
          Value pair, second;
          int64_t stride;
          if (halfSplit) {
            // Pairs (i, i + rotary/2).
            pair = arith::RemUIOp::create(b, l, dr, cst(half));
            second = arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, dr,
                                           cst(half));
            stride = half;
          } else {
            // Pairs (2i, 2i + 1).
            pair = arith::DivUIOp::create(b, l, dr, cst(2));
            second = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::ne,
                arith::RemUIOp::create(b, l, dr, cst(2)), cst(0));
            stride = 1;
          }
          Value partnerCol = arith::SelectOp::create(
              b, l, second, arith::SubIOp::create(b, l, c, cst(stride)),
              arith::AddIOp::create(b, l, c, cst(stride)));
          partnerCol = arith::SelectOp::create(b, l, rotated, partnerCol, c);
          Value partner =
              tensor::ExtractOp::create(b, l, x, ValueRange{t, partnerCol});
          Value p = arith::AddIOp::create(b, l, pos, t);
          Value pf = arith::UIToFPOp::create(
              b, l, b.getF32Type(),
              arith::IndexCastUIOp::create(b, l, b.getI64Type(), p));
          Value freq = tensor::ExtractOp::create(b, l, freqs, ValueRange{pair});
          Value angle = arith::MulFOp::create(b, l, pf, freq);
          Value cos = math::CosOp::create(b, l, angle);
          Value sin = math::SinOp::create(b, l, angle);
          // first: x*cos - partner*sin; second: partner*sin + x*cos.
          Value xc = arith::MulFOp::create(b, l, args[0], cos);
          Value ps = arith::MulFOp::create(b, l, partner, sin);
          Value y = arith::SelectOp::create(
              b, l, second, arith::AddFOp::create(b, l, xc, ps),
              arith::SubFOp::create(b, l, xc, ps));
          y = arith::SelectOp::create(b, l, rotated, y, args[0]);
          linalg::YieldOp::create(b, l, y);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Projections
//===----------------------------------------------------------------------===//

struct LinearLowering : OpConversionPattern<llm::LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Tensor(op.getType()) || !isF32Tensor(op.getInput().getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    if (!isDecodable(op.getWeight().getType()))
      return rewriter.notifyMatchFailure(op, "weight format not decodable");
    rewriter.replaceOp(op, projection(rewriter, op.getLoc(), adaptor.getInput(),
                                      adaptor.getWeight(),
                                      op.getWeight().getType(), op.getType()));
    return success();
  }
};

struct LMHeadLowering : OpConversionPattern<llm::LMHeadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::LMHeadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Tensor(op.getType()) || !isF32Tensor(op.getInput().getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    if (!isDecodable(op.getWeight().getType()))
      return rewriter.notifyMatchFailure(op, "weight format not decodable");
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    if (op.getLastOnly())
      x = lastRow(rewriter, loc, x);
    Value result = projection(rewriter, loc, x, adaptor.getWeight(),
                              op.getWeight().getType(), op.getType());
    if (result.getType() != op.getType())
      result = tensor::CastOp::create(rewriter, loc, op.getType(), result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Element-wise ops and argmax
//===----------------------------------------------------------------------===//

struct SwiGLULowering : OpConversionPattern<llm::SwiGLUOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::SwiGLUOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Tensor(op.getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    Value result = elementwise(
        rewriter, op.getLoc(), {adaptor.getGate(), adaptor.getUp()},
        [&](OpBuilder &b, Location l, ValueRange args) {
          // silu(g) = g / (1 + exp(-g))
          Value neg = arith::NegFOp::create(b, l, args[0]);
          Value den = arith::AddFOp::create(b, l, f32Const(b, l, 1.0),
                                            math::ExpOp::create(b, l, neg));
          Value silu = arith::DivFOp::create(b, l, args[0], den);
          linalg::YieldOp::create(
              b, l, arith::MulFOp::create(b, l, silu, args[1]).getResult());
        });
    rewriter.replaceOp(op, tensor::CastOp::create(rewriter, op.getLoc(),
                                                  op.getType(), result));
    return success();
  }
};

struct AddLowering : OpConversionPattern<llm::AddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::AddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Tensor(op.getType()) || op.getType().getRank() != 2)
      return rewriter.notifyMatchFailure(op, "expects 2-D f32 tensors");
    Value result = elementwise(
        rewriter, op.getLoc(), {adaptor.getLhs(), adaptor.getRhs()},
        [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(
              b, l, arith::AddFOp::create(b, l, args[0], args[1]).getResult());
        });
    rewriter.replaceOp(op, tensor::CastOp::create(rewriter, op.getLoc(),
                                                  op.getType(), result));
    return success();
  }
};

struct ArgmaxLowering : OpConversionPattern<llm::ArgmaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::ArgmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Tensor(op.getLogits().getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 logits");
    Location loc = op.getLoc();
    Value logits = adaptor.getLogits();
    Type idType = op.getType().getElementType();
    OpFoldResult rows = dimOf(rewriter, loc, logits, 0);
    Value best = filled(rewriter, loc, {rows}, rewriter.getF32Type(),
                        -std::numeric_limits<double>::infinity());
    Value zero = arith::ConstantOp::create(rewriter, loc,
                                           rewriter.getIntegerAttr(idType, 0));
    Value idxInit = empty(rewriter, loc, {rows}, idType);
    idxInit = linalg::FillOp::create(rewriter, loc, ValueRange{zero},
                                     ValueRange{idxInit})
                  .getResult(0);
    MLIRContext *ctx = getContext();
    AffineExpr t, v;
    bindDims(ctx, t, v);
    auto rowMap = AffineMap::get(2, 0, {t}, ctx);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{best.getType(), idxInit.getType()},
        ValueRange{logits}, ValueRange{best, idxInit},
        {rewriter.getMultiDimIdentityMap(2), rowMap, rowMap},
        {utils::IteratorType::parallel, utils::IteratorType::reduction},
        [&](OpBuilder &b, Location l, ValueRange args) {
          // Strictly greater: the first maximum wins.
          Value better = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT,
                                               args[0], args[1]);
          Value i = arith::IndexCastOp::create(b, l, idType,
                                               linalg::IndexOp::create(b, l, 1));
          linalg::YieldOp::create(
              b, l,
              ValueRange{arith::SelectOp::create(b, l, better, args[0], args[1]),
                         arith::SelectOp::create(b, l, better, i, args[2])});
        });
    rewriter.replaceOp(op, tensor::CastOp::create(rewriter, loc, op.getType(),
                                                  generic.getResult(1)));
    return success();
  }
};

/// kv.fork of a contiguous float cache: a new cache whose first `prefix`
/// positions are a copy (the rest is never read before it is written).
/// Sharing without a copy needs blocks: a paged cache is forked by the
/// runtime (CompiledModel::fork, copy-on-write), since a step function sees
/// one sequence's block table; a KIVI or evicting cache has no fork.
struct ForkLowering : OpConversionPattern<kv::ForkOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(kv::ForkOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    kv::CacheType cache = op.getCache().getType();
    if (cache.isPaged())
      return op.emitOpError(
          "of a paged cache is not compiled: the runtime forks sequences "
          "of a paged cache, sharing their blocks (CompiledModel::fork)");
    auto type = dyn_cast<RankedTensorType>(adaptor.getCache().getType());
    if (!cache.getFloatStorage() || !type || type.getRank() != 5)
      return op.emitOpError("needs a contiguous float cache without a "
                            "policy, not ")
             << cache;
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> offsets(5, rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(5, rewriter.getIndexAttr(1));
    SmallVector<OpFoldResult> sizes;
    for (int64_t d : type.getShape())
      sizes.push_back(rewriter.getIndexAttr(d));
    sizes[3] = adaptor.getPrefix();
    Value prefix = tensor::ExtractSliceOp::create(
        rewriter, loc, adaptor.getCache(), offsets, sizes, strides);
    Value fresh = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                          type.getElementType());
    rewriter.replaceOpWithNewOp<tensor::InsertSliceOp>(op, prefix, fresh,
                                                       offsets, sizes, strides);
    return success();
  }
};

} // namespace

void llmc::populateLLMDecoderToLinalgPatterns(LLMTypeConverter &converter,
                                              RewritePatternSet &patterns) {
  patterns.add<GetWeightLowering, EmbeddingLowering, RMSNormLowering,
               RoPELowering, LinearLowering, LMHeadLowering, SwiGLULowering,
               AddLowering, ArgmaxLowering, ForkLowering>(converter,
                                                          patterns.getContext());
}
