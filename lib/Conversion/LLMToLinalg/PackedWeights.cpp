//===- PackedWeights.cpp - decoding packed blocks inside loops ------------===//
//
// Part of llmc. Scalar decoders for every qmm format, emitted inside linalg
// bodies so that packed weights are read in place (ggml block layouts per
// the GGUF specification; intN, fp8 and mxfp4 as lib/Runtime/Kernels/
// Quantize.cpp writes them), plus the qmm op lowerings built on them.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

using namespace mlir;
using namespace llmc;
using namespace llmc::lowering;

namespace {

/// Emits the arithmetic of one block decode; all offsets are index values.
struct Decoder {
  OpBuilder &b;
  Location loc;
  Value bytes;

  Value idx(int64_t v) { return indexConst(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, int64_t d) {
    return arith::DivUIOp::create(b, loc, x, idx(d));
  }
  Value rem(Value x, int64_t d) {
    return arith::RemUIOp::create(b, loc, x, idx(d));
  }
  /// The byte at `offset` as an i32 (zero-extended).
  Value byteU(Value offset) {
    Value v = tensor::ExtractOp::create(b, loc, bytes, ValueRange{offset});
    return arith::ExtUIOp::create(b, loc, b.getI32Type(), v);
  }
  /// The byte at `offset` as a signed i32.
  Value byteS(Value offset) {
    Value v = tensor::ExtractOp::create(b, loc, bytes, ValueRange{offset});
    return arith::ExtSIOp::create(b, loc, b.getI32Type(), v);
  }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value andI(Value x, int64_t m) { return arith::AndIOp::create(b, loc, x, i32(m)); }
  Value shr(Value x, int64_t s) {
    return arith::ShRUIOp::create(b, loc, x, i32(s));
  }
  Value shrV(Value x, Value s) { return arith::ShRUIOp::create(b, loc, x, s); }
  Value shl(Value x, int64_t s) { return arith::ShLIOp::create(b, loc, x, i32(s)); }
  Value orI(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value subI(Value x, int64_t v) { return arith::SubIOp::create(b, loc, x, i32(v)); }
  Value toFloat(Value i) {
    return arith::SIToFPOp::create(b, loc, b.getF32Type(), i);
  }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value ult(Value x, int64_t v) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, idx(v));
  }
  /// Little-endian f16 at `offset`, as f32.
  Value f16(Value offset) {
    Value lo = byteU(offset), hi = byteU(add(offset, idx(1)));
    Value bits = orI(lo, shl(hi, 8));
    Value half = arith::TruncIOp::create(b, loc, b.getI16Type(), bits);
    Value h = arith::BitcastOp::create(b, loc, b.getF16Type(), half);
    return arith::ExtFOp::create(b, loc, b.getF32Type(), h);
  }
  Value indexToI32(Value v) {
    return arith::IndexCastUIOp::create(b, loc, b.getI32Type(), v);
  }

  // Q8_0: f16 d, 32 x int8.
  Value q8_0(Value base, Value j) {
    return fmul(f16(base), toFloat(byteS(add(base, add(idx(2), j)))));
  }
  // Q4_0: f16 d, 16 bytes; element j<16 low nibble of byte j, else high
  // nibble of byte j-16; value (q - 8) * d.
  Value q4_0(Value base, Value j) {
    Value byte = byteU(add(base, add(idx(2), rem(j, 16))));
    Value q = select(ult(j, 16), andI(byte, 15), shr(byte, 4));
    return fmul(f16(base), toFloat(subI(q, 8)));
  }
  // Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of
  // nibbles; 8 sub-blocks of 32.
  Value q4_k(Value base, Value j) {
    Value d = f16(base), dmin = f16(add(base, idx(2)));
    Value scales = add(base, idx(4));
    Value is = div(j, 32);
    Value a = byteU(add(scales, is));
    Value bb = byteU(add(scales, add(is, idx(4))));
    Value low = select(ult(is, 4), is, arith::SubIOp::create(b, loc, is, idx(4)));
    Value c = byteU(add(scales, low));
    Value first = ult(is, 4);
    Value sc = select(first, andI(a, 63), orI(andI(bb, 15), shl(shr(c, 6), 4)));
    Value m = select(first, andI(bb, 63), orI(shr(bb, 4), shl(shr(a, 6), 4)));
    Value chunk = div(j, 64), r = rem(j, 64);
    Value qsByte =
        byteU(add(add(base, idx(16)), add(mul(chunk, idx(32)), rem(r, 32))));
    Value q = select(ult(r, 32), andI(qsByte, 15), shr(qsByte, 4));
    return fsub(fmul(fmul(d, toFloat(sc)), toFloat(q)),
                fmul(dmin, toFloat(m)));
  }
  // Q6_K: 128 bytes low 4 bits, 64 bytes high 2 bits, 16 int8 scales,
  // f16 d; two halves of 128, each four quarters of 32.
  Value q6_k(Value base, Value j) {
    Value half = div(j, 128), r = rem(j, 128);
    Value quarter = div(r, 32), l = rem(r, 32);
    Value qlIdx = add(add(mul(half, idx(64)), l),
                      mul(rem(quarter, 2), idx(32)));
    Value ql = byteU(add(base, qlIdx));
    Value nibbleShift = indexToI32(mul(div(quarter, 2), idx(4)));
    Value lowBits = andI(shrV(ql, nibbleShift), 15);
    Value qh = byteU(add(base, add(idx(128), add(mul(half, idx(32)), l))));
    Value qhShift = indexToI32(mul(quarter, idx(2)));
    Value highBits = andI(shrV(qh, qhShift), 3);
    Value q = subI(orI(lowBits, shl(highBits, 4)), 32);
    Value scIdx = add(add(idx(192), mul(half, idx(8))),
                      add(div(l, 16), mul(quarter, idx(2))));
    Value sc = byteS(add(base, scIdx));
    Value d = f16(add(base, idx(208)));
    return fmul(fmul(d, toFloat(sc)), toFloat(q));
  }
  /// 2^e for an i32 exponent e in the normal f32 range.
  Value pow2(Value e) {
    Value bits = shl(arith::AddIOp::create(b, loc, e, i32(127)), 23);
    return arith::BitcastOp::create(b, loc, b.getF32Type(), bits);
  }
  Value eqI(Value x, int64_t v) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, i32(v));
  }
  Value fconst(double v) { return f32Const(b, loc, v); }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value uToFloat(Value i) {
    return arith::UIToFPOp::create(b, loc, b.getF32Type(), i);
  }
  /// A small float code: `sign` bit, `e` exponent and `m` mantissa fields
  /// (i32), `mBits` mantissa bits, exponent `bias`; subnormals at e == 0.
  Value minifloat(Value sign, Value e, Value m, int64_t mBits, int64_t bias) {
    Value frac = fmul(uToFloat(m), fconst(1.0 / double(1 << mBits)));
    Value subnormal = eqI(e, 0);
    Value mant = select(subnormal, frac, fadd(fconst(1.0), frac));
    Value exp = select(subnormal, i32(1 - bias), subI(e, bias));
    Value v = fmul(mant, pow2(exp));
    return select(eqI(sign, 0), v, arith::NegFOp::create(b, loc, v));
  }
  // intN group g: f16 d, [f16 min if asym], codes bit-packed LSB first.
  Value intN(Value base, Value j, const qmm::FormatInfo &info) {
    int64_t header = info.symmetric ? 2 : 4;
    int64_t codeBytes = (int64_t(info.group) * info.bits + 7) / 8;
    Value bit = mul(j, idx(info.bits));
    Value byteIdx = div(bit, 8);
    Value codes = add(base, idx(header));
    Value lo = byteU(add(codes, byteIdx));
    // The next byte only when the code crosses into it (never past the block).
    Value next = arith::MinUIOp::create(b, loc, add(byteIdx, idx(1)),
                                        idx(codeBytes - 1));
    Value hi = byteU(add(codes, next));
    Value word = orI(lo, shl(hi, 8));
    Value q = andI(shrV(word, indexToI32(rem(bit, 8))), (1 << info.bits) - 1);
    Value d = f16(base);
    if (info.symmetric)
      return fmul(d, toFloat(subI(q, 1 << (info.bits - 1))));
    return fadd(fmul(d, uToFloat(q)), f16(add(base, idx(2))));
  }
  // fp8: one byte per element, e4m3 (bias 7) or e5m2 (bias 15).
  Value fp8(Value base, bool e4m3) {
    Value v = byteU(base);
    int64_t mBits = e4m3 ? 3 : 2;
    return minifloat(shr(v, 7), andI(shr(v, mBits), e4m3 ? 15 : 31),
                     andI(v, (1 << mBits) - 1), mBits, e4m3 ? 7 : 15);
  }
  // mxfp4: E8M0 scale byte, 16 bytes of E2M1 codes (element j < 16 in the
  // low nibble of byte j, else the high nibble of byte j - 16).
  Value mxfp4(Value base, Value j) {
    Value scale = pow2(subI(byteU(base), 127));
    Value byte = byteU(add(base, add(idx(1), rem(j, 16))));
    Value c = select(ult(j, 16), andI(byte, 15), shr(byte, 4));
    return fmul(scale, minifloat(shr(c, 3), andI(shr(c, 1), 3), andI(c, 1),
                                 1, 1));
  }
};

} // namespace

Value llmc::lowering::decodePackedElement(OpBuilder &b, Location loc,
                                          Value bytes, qmm::PackedType type,
                                          Value row, Value col) {
  qmm::FormatInfo info = type.getFormat().getInfo();
  Decoder d{b, loc, bytes};
  int64_t block = info.blockElements();
  Value blockIdx = d.add(d.mul(row, d.idx(type.getBlocksPerRow())),
                         d.div(col, block));
  Value base = d.mul(blockIdx, d.idx(info.blockBytes()));
  Value j = d.rem(col, block);
  switch (info.kind) {
  case qmm::FormatKind::Q8_0:
    return d.q8_0(base, j);
  case qmm::FormatKind::Q4_0:
    return d.q4_0(base, j);
  case qmm::FormatKind::Q4_K:
    return d.q4_k(base, j);
  case qmm::FormatKind::Q6_K:
    return d.q6_k(base, j);
  case qmm::FormatKind::Int:
    return d.intN(base, j, info);
  case qmm::FormatKind::FP8E4M3:
  case qmm::FormatKind::FP8E5M2:
    return d.fp8(base, info.kind == qmm::FormatKind::FP8E4M3);
  case qmm::FormatKind::MXFP4:
    return d.mxfp4(base, j);
  }
  return {};
}

bool llmc::lowering::isDecodable(Type type) {
  auto packed = dyn_cast<qmm::PackedType>(type);
  if (!packed)
    return true;
  return isDecodablePacked(packed);
}

bool llmc::lowering::isDecodablePacked(qmm::PackedType type) {
  return type.getTile() == 1;
}

Value llmc::lowering::projection(OpBuilder &b, Location loc, Value x,
                                 Value weight, Type weightType,
                                 RankedTensorType resultType) {
  MLIRContext *ctx = b.getContext();
  AffineExpr t, n, k;
  bindDims(ctx, t, n, k);
  auto red = utils::IteratorType::reduction;
  auto par = utils::IteratorType::parallel;
  Value init = filled(b, loc, {dimOf(b, loc, x, 0),
                               b.getIndexAttr(resultType.getDimSize(1))},
                      b.getF32Type(), 0.0);
  auto xMap = AffineMap::get(3, 0, {t, k}, ctx);
  auto outMap = AffineMap::get(3, 0, {t, n}, ctx);
  if (auto packed = dyn_cast<qmm::PackedType>(weightType)) {
    return generic(b, loc, init, {x}, {xMap, outMap}, {par, par, red},
                   [&](OpBuilder &nb, Location nl, ValueRange args) {
                     Value row = linalg::IndexOp::create(nb, nl, 1);
                     Value col = linalg::IndexOp::create(nb, nl, 2);
                     Value w = decodePackedElement(nb, nl, weight, packed, row,
                                                   col);
                     Value p = arith::MulFOp::create(nb, nl, args[0], w);
                     Value s = arith::AddFOp::create(nb, nl, args[1], p);
                     linalg::YieldOp::create(nb, nl, s);
                   });
  }
  auto wMap = AffineMap::get(3, 0, {n, k}, ctx);
  return generic(b, loc, init, {x, weight}, {xMap, wMap, outMap},
                 {par, par, red},
                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                   Value w = toF32(nb, nl, args[1]);
                   Value p = arith::MulFOp::create(nb, nl, args[0], w);
                   Value s = arith::AddFOp::create(nb, nl, args[2], p);
                   linalg::YieldOp::create(nb, nl, s);
                 });
}

namespace {

struct MatmulLowering : OpConversionPattern<qmm::MatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(qmm::MatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    qmm::PackedType packed = op.getRhs().getType();
    if (!isDecodablePacked(packed))
      return rewriter.notifyMatchFailure(op, "format not decodable on CPU");
    if (!op.getLhs().getType().getElementType().isF32() ||
        !op.getType().getElementType().isF32())
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    rewriter.replaceOp(op, projection(rewriter, op.getLoc(), adaptor.getLhs(),
                                      adaptor.getRhs(), packed, op.getType()));
    return success();
  }
};

struct DequantizeLowering : OpConversionPattern<qmm::DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(qmm::DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    qmm::PackedType packed = op.getInput().getType();
    if (!isDecodablePacked(packed))
      return rewriter.notifyMatchFailure(op, "format not decodable on CPU");
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value init = empty(rewriter, loc,
                       getAsIndexOpFoldResult(getContext(), type.getShape()),
                       type.getElementType());
    auto id = rewriter.getMultiDimIdentityMap(2);
    Value bytes = adaptor.getInput();
    Value result = generic(
        rewriter, loc, init, {}, {id},
        {utils::IteratorType::parallel, utils::IteratorType::parallel},
        [&](OpBuilder &b, Location l, ValueRange) {
          Value row = linalg::IndexOp::create(b, l, 0);
          Value col = linalg::IndexOp::create(b, l, 1);
          Value v = decodePackedElement(b, l, bytes, packed, row, col);
          if (!type.getElementType().isF32())
            v = arith::TruncFOp::create(b, l, type.getElementType(), v);
          linalg::YieldOp::create(b, l, v);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void llmc::populateQMMToLinalgPatterns(LLMTypeConverter &converter,
                                       RewritePatternSet &patterns) {
  patterns.add<MatmulLowering, DequantizeLowering>(converter,
                                                   patterns.getContext());
}
