//===- Microkernels.cpp - llm/qmm ops to calls of CPU microkernels --------===//
//
// Part of llmc. With `use-microkernels`, the hot ops are lowered to calls of
// the kernels in libllmc_kernels.so (include/llmc/Runtime/Kernels.h) instead
// of linalg loops: projections over float or block-quantized weights
// (llm.linear, llm.lm_head, qmm.matmul) become `llmc_matmul_<format>`,
// attention over an f32 cache becomes the cache update (tensor ops, as in
// the linalg lowering) followed by `llmc_attention_f32`, and the row-wise
// ops (rms_norm, rope, swiglu, add) become `llmc_<op>`: a layer is a dozen
// calls, which keeps LLVM's time on a 32-layer model to seconds. The calls take
// memrefs (bufferization.to_buffer of the tensor operands, read-only, and a
// fresh result buffer wrapped back with to_tensor restrict), so one-shot
// bufferization sees plain reads and a new value; weights are passed as
// the weights argument plus the weight's byte offset.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace llmc;
using namespace llmc::lowering;

std::optional<WeightLocation> llmc::lowering::locateWeight(Value weight) {
  auto toTensor = weight.getDefiningOp<bufferization::ToTensorOp>();
  if (!toTensor)
    return std::nullopt;
  auto view = toTensor.getBuffer().getDefiningOp<memref::ViewOp>();
  if (!view || !view.getSizes().empty())
    return std::nullopt;
  return WeightLocation{view.getSource(), view.getByteShift()};
}

namespace {

MemRefType stridedMatrixType(MLIRContext *ctx) {
  int64_t dyn = ShapedType::kDynamic;
  return MemRefType::get({dyn, dyn}, Float32Type::get(ctx),
                         StridedLayoutAttr::get(ctx, dyn, {dyn, dyn}));
}

MemRefType matrixType(MLIRContext *ctx) {
  int64_t dyn = ShapedType::kDynamic;
  return MemRefType::get({dyn, dyn}, Float32Type::get(ctx));
}

/// The private declaration of kernel `name`, created on first use.
func::FuncOp declareKernel(OpBuilder &b, Operation *from, StringRef name,
                           TypeRange inputs, TypeRange results = {}) {
  auto module = from->getParentOfType<ModuleOp>();
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  auto func = func::FuncOp::create(
      b, module.getLoc(), name, b.getFunctionType(inputs, results));
  func.setPrivate();
  return func;
}

/// A read-only buffer of `tensor` for the kernel call that follows it.
/// One-shot bufferization takes the to_buffer op as the point where the
/// buffer is read, so each call gets its own op right before it: the
/// `llmc.kernel_operand` number keeps CSE from merging two of them (a
/// later op could then reuse the buffer before the second call reads it).
Value readBuffer(OpBuilder &b, Location loc, Operation *anchor,
                 MemRefType type, Value tensor) {
  auto func = anchor->getParentOfType<func::FuncOp>();
  int64_t number = 0;
  func.walk([&](bufferization::ToBufferOp) { ++number; });
  auto op = bufferization::ToBufferOp::create(b, loc, type, tensor,
                                              /*readOnly=*/true);
  op->setAttr("llmc.kernel_operand", b.getI64IntegerAttr(number));
  return op;
}

/// A read-only buffer of a 2-D f32 tensor with any strides. The cast to
/// dynamic sizes is on the buffer: a tensor.cast under the to_buffer would
/// be folded into a new, unnumbered to_buffer.
Value matrixBuffer(OpBuilder &b, Location loc, Operation *anchor,
                   Value tensor) {
  MLIRContext *ctx = b.getContext();
  auto tensorType = cast<RankedTensorType>(tensor.getType());
  int64_t dyn = ShapedType::kDynamic;
  auto type = MemRefType::get(tensorType.getShape(), b.getF32Type(),
                              StridedLayoutAttr::get(ctx, dyn, {dyn, dyn}));
  Value buffer = readBuffer(b, loc, anchor, type, tensor);
  return memref::CastOp::create(b, loc, stridedMatrixType(ctx), buffer);
}

/// The strided 1-D i32 buffer type the token helpers take.
MemRefType tokenBufferType(MLIRContext *ctx) {
  int64_t dyn = ShapedType::kDynamic;
  return MemRefType::get({dyn}, IntegerType::get(ctx, 32),
                         StridedLayoutAttr::get(ctx, dyn, {dyn}));
}

/// A read-only buffer of a 1-D i32 tensor, as tokenBufferType.
Value tokenBuffer(OpBuilder &b, Location loc, Operation *anchor,
                  Value tensor) {
  MLIRContext *ctx = b.getContext();
  auto tensorType = cast<RankedTensorType>(tensor.getType());
  int64_t dyn = ShapedType::kDynamic;
  auto type = MemRefType::get(tensorType.getShape(), b.getI32Type(),
                              StridedLayoutAttr::get(ctx, dyn, {dyn}));
  Value buffer = readBuffer(b, loc, anchor, type, tensor);
  return memref::CastOp::create(b, loc, tokenBufferType(ctx), buffer);
}

/// The buffer of a 5-D f32 cache tensor as the kernels take it (dynamic
/// sizes and strides); kernels that write the cache write it in place (the
/// step's cache argument).
Value f32CacheBuffer(OpBuilder &b, Location loc, Operation *anchor,
                     Value cache) {
  auto cacheTensor = cast<RankedTensorType>(cache.getType());
  Value buffer = readBuffer(
      b, loc, anchor, MemRefType::get(cacheTensor.getShape(), b.getF32Type()),
      cache);
  SmallVector<int64_t> dyn5(5, ShapedType::kDynamic);
  return memref::CastOp::create(b, loc, MemRefType::get(dyn5, b.getF32Type()),
                                buffer);
}

/// A new rows x cols f32 buffer (rows an index value), 64-byte aligned.
Value newMatrix(OpBuilder &b, Location loc, Value rows, int64_t cols,
                memref::AllocOp &alloc) {
  auto type =
      MemRefType::get({ShapedType::kDynamic, cols}, b.getF32Type());
  alloc = memref::AllocOp::create(b, loc, type, ValueRange{rows},
                                  b.getI64IntegerAttr(64));
  return memref::CastOp::create(b, loc, matrixType(b.getContext()), alloc);
}

/// The tensor of a buffer the kernel wrote, as `resultType`.
Value resultTensor(OpBuilder &b, Location loc, memref::AllocOp alloc,
                   Type resultType) {
  auto type = cast<MemRefType>(alloc.getType());
  Value tensor = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(type.getShape(), type.getElementType()),
      alloc, /*restrict=*/true, /*writable=*/true);
  if (tensor.getType() != resultType)
    tensor = tensor::CastOp::create(b, loc, resultType, tensor);
  return tensor;
}

/// The kernel suffix of a weight type, or "" when no kernel handles it.
StringRef formatSuffix(Type weightType) {
  if (auto packed = dyn_cast<qmm::PackedType>(weightType)) {
    if (packed.getTile() != 1)
      return "";
    switch (packed.getFormat().getKind()) {
    case qmm::FormatKind::Q8_0:
      return "q8_0";
    case qmm::FormatKind::Q4_0:
      return "q4_0";
    case qmm::FormatKind::Q4_K:
      return "q4_k";
    case qmm::FormatKind::Q6_K:
      return "q6_k";
    default:
      return "";
    }
  }
  auto tensor = dyn_cast<RankedTensorType>(weightType);
  if (!tensor || tensor.getRank() != 2)
    return "";
  Type elt = tensor.getElementType();
  if (elt.isF32())
    return "f32";
  if (elt.isF16())
    return "f16";
  if (elt.isBF16())
    return "bf16";
  return "";
}

/// Emits a call of kernel `name` with the kernels' argument order: the 2-D
/// f32 tensors `inputs` as strided read-only buffers, then `scalars` (any
/// values, memrefs included), then a new T x width result buffer (T the
/// rows of the first input); returns the result as `resultType`.
Value emitKernelCall(OpBuilder &b, Operation *op, StringRef name,
                  ValueRange inputs, ValueRange scalars,
                  RankedTensorType resultType) {
  Location loc = op->getLoc();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> args;
  SmallVector<Type> types;
  for (Value input : inputs) {
    args.push_back(matrixBuffer(b, loc, op, input));
    types.push_back(stridedMatrixType(ctx));
  }
  for (Value scalar : scalars) {
    args.push_back(scalar);
    types.push_back(scalar.getType());
  }
  Value rows = getValueOrCreateConstantIndexOp(
      b, loc, dimOf(b, loc, inputs.front(), 0));
  memref::AllocOp alloc;
  args.push_back(newMatrix(b, loc, rows, resultType.getDimSize(1), alloc));
  types.push_back(matrixType(ctx));
  func::FuncOp kernel = declareKernel(b, op, name, types);
  func::CallOp::create(b, loc, kernel, args);
  return resultTensor(b, loc, alloc, resultType);
}

/// Emits `x @ W^T` as a call of llmc_matmul_<format>; `x` is T x K f32,
/// `weight` the converted weight value. Fails (no IR created) when the
/// weight is not a located file weight of a kernel format.
FailureOr<Value> emitMatmulCall(ConversionPatternRewriter &rewriter,
                                Operation *op, Value x, Value weight,
                                Type weightType, RankedTensorType resultType) {
  StringRef suffix = formatSuffix(weightType);
  std::optional<WeightLocation> where = locateWeight(weight);
  auto packed = dyn_cast<qmm::PackedType>(weightType);
  bool generic = suffix.empty() && packed && packed.getTile() == 1;
  if ((suffix.empty() && !generic) || !where)
    return failure();
  Location loc = op->getLoc();
  Value offset = arith::IndexCastOp::create(rewriter, loc,
                                            rewriter.getI64Type(),
                                            where->byteOffset);
  if (!generic)
    return emitKernelCall(rewriter, op, ("llmc_matmul_" + suffix).str(), {x},
                          {where->base, offset}, resultType);
  // Formats without a dedicated kernel: the generic one, told the format.
  qmm::FormatInfo info = packed.getFormat().getInfo();
  SmallVector<Value> scalars = {where->base, offset};
  for (int64_t v : {int64_t(info.kind), int64_t(info.bits),
                    int64_t(info.group), int64_t(info.symmetric)})
    scalars.push_back(arith::ConstantIntOp::create(rewriter, loc,
                                                   rewriter.getI64Type(), v));
  return emitKernelCall(rewriter, op, "llmc_matmul_packed", {x}, scalars,
                        resultType);
}

bool isF32Matrix(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.getRank() == 2 && tensor.getElementType().isF32();
}

struct LinearToKernel : OpConversionPattern<llm::LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Matrix(op.getType()) || !isF32Matrix(op.getInput().getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    FailureOr<Value> result =
        emitMatmulCall(rewriter, op, adaptor.getInput(), adaptor.getWeight(),
                       op.getWeight().getType(), op.getType());
    if (failed(result))
      return rewriter.notifyMatchFailure(op, "no kernel for this weight");
    rewriter.replaceOp(op, *result);
    return success();
  }
};

struct MatmulToKernel : OpConversionPattern<qmm::MatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(qmm::MatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Matrix(op.getType()) || !isF32Matrix(op.getLhs().getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    FailureOr<Value> result =
        emitMatmulCall(rewriter, op, adaptor.getLhs(), adaptor.getRhs(),
                       op.getRhs().getType(), op.getType());
    if (failed(result))
      return rewriter.notifyMatchFailure(op, "no kernel for this weight");
    rewriter.replaceOp(op, *result);
    return success();
  }
};

struct LMHeadToKernel : OpConversionPattern<llm::LMHeadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::LMHeadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Matrix(op.getType()) || !isF32Matrix(op.getInput().getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    if (formatSuffix(op.getWeight().getType()).empty() ||
        !locateWeight(adaptor.getWeight()))
      return rewriter.notifyMatchFailure(op, "no kernel for this weight");
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    if (op.getLastOnly())
      x = lastRow(rewriter, loc, x);
    FailureOr<Value> result =
        emitMatmulCall(rewriter, op, x, adaptor.getWeight(),
                       op.getWeight().getType(), op.getType());
    if (failed(result))
      return rewriter.notifyMatchFailure(op, "no kernel for this weight");
    rewriter.replaceOp(op, *result);
    return success();
  }
};

Value i64Const(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v);
}

struct RMSNormToKernel : OpConversionPattern<llm::RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Matrix(op.getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    auto weightType = dyn_cast<RankedTensorType>(op.getWeight().getType());
    std::optional<WeightLocation> where = locateWeight(adaptor.getWeight());
    if (!weightType || !where)
      return rewriter.notifyMatchFailure(op, "weight is not a file weight");
    Type elt = weightType.getElementType();
    int64_t format = elt.isF32() ? 0 : elt.isF16() ? 1 : elt.isBF16() ? 2 : -1;
    if (format < 0)
      return rewriter.notifyMatchFailure(op, "unsupported weight type");
    Location loc = op.getLoc();
    SmallVector<Value> scalars = {
        where->base,
        arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(),
                                   where->byteOffset),
        i64Const(rewriter, loc, format),
        f32Const(rewriter, loc, op.getEps().convertToDouble())};
    rewriter.replaceOp(op, emitKernelCall(rewriter, op, "llmc_rmsnorm",
                                          {adaptor.getInput()}, scalars,
                                          op.getType()));
    return success();
  }
};

struct RoPEToKernel : OpConversionPattern<llm::RoPEOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::RoPEOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Matrix(op.getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    Location loc = op.getLoc();
    auto f64 = [&](double v) {
      return arith::ConstantOp::create(rewriter, loc, rewriter.getF64FloatAttr(v))
          .getResult();
    };
    double scale =
        op.getFreqScale() ? op.getFreqScale()->convertToDouble() : 1.0;
    SmallVector<Value> scalars = {
        arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(),
                                   adaptor.getPosition())};
    // Positions by depth in a token tree: llmc_rope_tree.
    if (op.getTree())
      scalars.push_back(tokenBuffer(rewriter, loc, op, adaptor.getTree()));
    scalars.append({i64Const(rewriter, loc, op.getHeadDim()),
                    i64Const(rewriter, loc, op.getRotaryDims()),
                    f64(op.getTheta().convertToDouble()), f64(scale),
                    i64Const(rewriter, loc, op.getHalfSplit() ? 1 : 0)});
    rewriter.replaceOp(
        op, emitKernelCall(rewriter, op,
                           op.getTree() ? "llmc_rope_tree" : "llmc_rope",
                           {adaptor.getInput()}, scalars, op.getType()));
    return success();
  }
};

template <typename Op>
struct BinaryToKernel : OpConversionPattern<Op> {
  BinaryToKernel(const TypeConverter &converter, MLIRContext *ctx,
                 StringRef name, PatternBenefit benefit)
      : OpConversionPattern<Op>(converter, ctx, benefit), name(name) {}
  LogicalResult
  matchAndRewrite(Op op, typename Op::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isF32Matrix(op.getType()))
      return rewriter.notifyMatchFailure(op, "expects 2-D f32 tensors");
    SmallVector<Value> inputs(adaptor.getOperands());
    rewriter.replaceOp(op, emitKernelCall(rewriter, op, name, inputs, {},
                                       op.getType()));
    return success();
  }
  std::string name;
};

/// Whether queries, keys and values are 2-D f32 (what the byte-cache
/// attention kernels take).
bool hasF32Operands(llm::AttentionOp op, llm::AttentionOp::Adaptor adaptor) {
  return isF32Matrix(op.getQueries().getType()) &&
         isF32Matrix(adaptor.getKeys().getType()) &&
         isF32Matrix(adaptor.getValues().getType());
}

/// The leading scalar arguments of the attention kernels over a byte cache
/// (KIVI, eviction): the cache region the kernel works on (`regionBytes` at
/// `regionOffset` of the `totalBytes` cache, as a subview), the layer
/// number the kernel is told, position, heads and scale.
SmallVector<Value> byteCacheScalars(OpBuilder &b, llm::AttentionOp op,
                                    llm::AttentionOp::Adaptor adaptor,
                                    int64_t totalBytes, int64_t regionOffset,
                                    int64_t regionBytes, int64_t layer) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  auto i8 = b.getIntegerType(8);
  Value buffer = readBuffer(b, loc, op, MemRefType::get({totalBytes}, i8),
                            adaptor.getCache());
  Value region = memref::SubViewOp::create(
      b, loc, buffer, ArrayRef<OpFoldResult>{b.getIndexAttr(regionOffset)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(regionBytes)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  int64_t dyn = ShapedType::kDynamic;
  region = memref::CastOp::create(
      b, loc,
      MemRefType::get({dyn}, i8, StridedLayoutAttr::get(ctx, dyn, {1})),
      region);
  return {region, i64Const(b, loc, layer),
          arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                     adaptor.getPosition()),
          i64Const(b, loc, op.getNumHeads()),
          f32Const(b, loc, op.getScale().convertToDouble())};
}

/// Replaces `op` by a call of the byte-cache attention kernel `name` on
/// queries, keys and values. The new cache value is the old one: the kernel
/// updates the buffer in place (see AttentionToKernel::rewriteKivi).
LogicalResult emitByteCacheCall(ConversionPatternRewriter &rewriter,
                                llm::AttentionOp op,
                                llm::AttentionOp::Adaptor adaptor,
                                StringRef name, ValueRange scalars) {
  Value result = emitKernelCall(
      rewriter, op, name,
      {adaptor.getQueries(), adaptor.getKeys(), adaptor.getValues()}, scalars,
      op.getResult().getType());
  rewriter.replaceOp(op, {result, adaptor.getCache()});
  return success();
}

struct AttentionToKernel : OpConversionPattern<llm::AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    kv::CacheType cacheType = op.getCache().getType();
    if (op.getTree() && (cacheType.getKiviStorage() || cacheType.getPolicy()))
      return rewriter.notifyMatchFailure(op, "tree masks need an f32 cache");
    if (cacheType.getKiviStorage() && cacheType.getPolicy())
      return rewriteKiviEvict(op, adaptor, rewriter);
    if (cacheType.getKiviStorage())
      return rewriteKivi(op, adaptor, rewriter);
    if (cacheType.getPolicy())
      return rewriteEvict(op, adaptor, rewriter);
    if (cacheType.isPaged())
      return rewritePaged(op, adaptor, rewriter);
    if (!cacheType.getFloatStorage() || !cacheType.getFloatStorage().isF32() ||
        cacheType.isPaged())
      return rewriter.notifyMatchFailure(op, "kernel needs a contiguous f32 "
                                             "cache");
    if (op.getScores())
      return rewriter.notifyMatchFailure(op, "scores output not supported");
    if (!isF32Matrix(op.getQueries().getType()))
      return rewriter.notifyMatchFailure(op, "expects f32 activations");
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Value pos = adaptor.getPosition();
    Value cache =
        insertStepEntries(b, loc, adaptor.getCache(), adaptor.getKeys(),
                          adaptor.getValues(), op.getLayer(), pos);
    Value cacheBuffer = f32CacheBuffer(b, loc, op, cache);
    Value q = adaptor.getQueries();
    auto i64 = [&](int64_t v) { return i64Const(b, loc, v); };
    SmallVector<Value> scalars = {
        cacheBuffer,
        i64(op.getLayer()),
        arith::IndexCastOp::create(b, loc, b.getI64Type(), pos),
        i64(op.getNumHeads()),
        f32Const(b, loc, op.getScale().convertToDouble())};
    if (op.getTree()) {
      // A token tree: each row attends its path (llmc_attention_tree_f32).
      scalars.push_back(tokenBuffer(b, loc, op, adaptor.getTree()));
      Value result = emitKernelCall(b, op, "llmc_attention_tree_f32", {q},
                                    scalars, op.getResult().getType());
      rewriter.replaceOp(op, {result, cache});
      return success();
    }
    scalars.push_back(i64(op.getWindow().value_or(0)));
    scalars.push_back(i64(op.getCausal() ? 1 : 0));
    Value result = emitKernelCall(b, op, "llmc_attention_f32", {q}, scalars,
                                  op.getResult().getType());
    rewriter.replaceOp(op, {result, cache});
    return success();
  }

  /// Attention over a paged f32 cache: one call of
  /// llmc_attention_paged_f32 stores the step's keys and values in the
  /// sequence's blocks (the pool, addressed through the function's block
  /// table argument) and attends over them. The pool is written in place
  /// as for KIVI (see rewriteKivi): the op's new cache value is the pool.
  LogicalResult rewritePaged(llm::AttentionOp op, OpAdaptor adaptor,
                             ConversionPatternRewriter &rewriter) const {
    kv::CacheType cacheType = op.getCache().getType();
    if (!cacheType.getFloatStorage() || !cacheType.getFloatStorage().isF32())
      return rewriter.notifyMatchFailure(op, "paged caches need f32 storage");
    if (op.getTree() || op.getScores())
      return rewriter.notifyMatchFailure(
          op, "paged caches lower plain attention (no tree, no scores)");
    if (!hasF32Operands(op, adaptor))
      return rewriter.notifyMatchFailure(op, "expects 2-D f32 activations");
    auto func = op->getParentOfType<func::FuncOp>();
    Value table;
    for (BlockArgument arg : func.getArguments())
      if (func.getArgAttr(arg.getArgNumber(), kBlockTableArgAttr))
        table = arg;
    if (!table)
      return rewriter.notifyMatchFailure(op, "no block table argument");
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    auto poolTensor = cast<RankedTensorType>(adaptor.getCache().getType());
    Value pool = readBuffer(
        b, loc, op, MemRefType::get(poolTensor.getShape(), b.getF32Type()),
        adaptor.getCache());
    pool = memref::CollapseShapeOp::create(
        b, loc, pool, SmallVector<ReassociationIndices>{{0, 1, 2, 3, 4, 5}});
    int64_t dyn = ShapedType::kDynamic;
    pool = memref::CastOp::create(
        b, loc,
        MemRefType::get({dyn}, b.getF32Type(),
                        StridedLayoutAttr::get(ctx, dyn, {1})),
        pool);
    Value tableView =
        memref::CastOp::create(b, loc, tokenBufferType(ctx), table);
    auto i64 = [&](int64_t v) { return i64Const(b, loc, v); };
    SmallVector<Value> scalars = {
        pool,
        tableView,
        i64(op.getLayer()),
        arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                   adaptor.getPosition()),
        i64(op.getNumHeads()),
        f32Const(b, loc, op.getScale().convertToDouble()),
        i64(op.getWindow().value_or(0)),
        i64(op.getCausal() ? 1 : 0),
        i64(cacheType.getLayers()),
        i64(cacheType.getKvHeads()),
        i64(cacheType.getBlockSize()),
        i64(cacheType.getHeadDim())};
    return emitByteCacheCall(rewriter, op, adaptor, "llmc_attention_paged_f32",
                             scalars);
  }

  /// Attention over a KIVI cache: one call appends the step's keys and
  /// values (flushing full groups out of the residual window) and attends
  /// over the quantized groups in place. The cache buffer is passed as a
  /// read-only operand although the kernel writes it: the cache tensor is
  /// the step's cache argument (restrict, writable) and no tensor op ever
  /// writes it, so bufferization keeps it in that one buffer and the calls,
  /// which are not reordered, see each other's writes. The op's new cache
  /// value is the same tensor.
  LogicalResult rewriteKivi(llm::AttentionOp op, OpAdaptor adaptor,
                            ConversionPatternRewriter &rewriter) const {
    kv::CacheType cacheType = op.getCache().getType();
    std::optional<runtime::KiviLayout> layout = kv::kiviLayout(cacheType);
    if (!layout || cacheType.isPaged())
      return rewriter.notifyMatchFailure(op, "paged KIVI cache");
    if (op.getScores())
      return rewriter.notifyMatchFailure(op, "scores output not supported");
    if (!hasF32Operands(op, adaptor))
      return rewriter.notifyMatchFailure(op, "expects 2-D f32 activations");
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    auto i64 = [&](int64_t v) { return i64Const(b, loc, v); };
    SmallVector<Value> scalars =
        byteCacheScalars(b, op, adaptor, layout->totalBytes(), 0,
                         layout->totalBytes(), op.getLayer());
    scalars.push_back(i64(op.getWindow().value_or(0)));
    scalars.push_back(i64(op.getCausal() ? 1 : 0));
    for (int64_t v : {layout->layers, layout->kvHeads, layout->capacity,
                      layout->headDim, layout->bits, layout->group,
                      layout->residual})
      scalars.push_back(i64(v));
    return emitByteCacheCall(rewriter, op, adaptor, "llmc_attention_kivi",
                             scalars);
  }

  /// Attention over an f32 cache with an eviction policy: one call inserts
  /// each new position (evicting one when the layer's budget is full) and
  /// attends over the slots held, accumulating attention mass for H2O. The
  /// cache buffer is written by the kernel as for KIVI (see rewriteKivi).
  LogicalResult rewriteEvict(llm::AttentionOp op, OpAdaptor adaptor,
                             ConversionPatternRewriter &rewriter) const {
    kv::CacheType cacheType = op.getCache().getType();
    kv::PolicyAttr policy = cacheType.getPolicy();
    std::optional<runtime::EvictLayout> layout = kv::evictLayout(cacheType);
    if (!layout || cacheType.isPaged())
      return rewriter.notifyMatchFailure(op, "eviction needs a contiguous "
                                             "f32 cache");
    int64_t layer = op.getLayer();
    auto [observe, pool] = snapParams(policy);
    return emitEvictingCall(
        op, adaptor, rewriter, "llmc_attention_evict", layout->totalBytes(),
        layout->layerOffset(layer), layout->layerBytesOf(layer),
        {int64_t(1), layout->kvHeads, layout->slotsOf(layer), layout->headDim,
         kernelPolicy(policy), policy.getSinks(), policy.getRecent(),
         policy.getLayerBudget(layer), observe, pool});
  }

  /// Attention over a KIVI cache with an eviction policy: one call stores
  /// each new position, quantizes the token group leaving the residual
  /// window into the layer's pool (evicting a group when it is full) and
  /// attends over sinks, pool and ring. Written in place as for KIVI.
  LogicalResult rewriteKiviEvict(llm::AttentionOp op, OpAdaptor adaptor,
                                 ConversionPatternRewriter &rewriter) const {
    kv::CacheType cacheType = op.getCache().getType();
    std::optional<runtime::KiviEvictLayout> layout =
        kv::kiviEvictLayout(cacheType);
    if (!layout || cacheType.isPaged())
      return rewriter.notifyMatchFailure(op, "paged KIVI cache");
    int64_t layer = op.getLayer();
    auto [observe, pool] = snapParams(cacheType.getPolicy());
    return emitEvictingCall(
        op, adaptor, rewriter, "llmc_attention_kivi_evict",
        layout->totalBytes(), layout->layerOffset(layer),
        layout->layerBytesOf(layer),
        {int64_t(1), layout->kvHeads, layout->headDim, layout->bits,
         layout->group, layout->residual, layout->sinks,
         layout->groupsOf(layer), kernelPolicy(cacheType.getPolicy()),
         observe, pool});
  }

  /// The call of an eviction kernel on one layer's region of the cache
  /// (`layerBytes` at `layerOffset` of `totalBytes`, told it is layer 0 of
  /// `params`' layer count) with `params` after the common scalars.
  static LogicalResult
  emitEvictingCall(llm::AttentionOp op, OpAdaptor adaptor,
                   ConversionPatternRewriter &rewriter, StringRef name,
                   int64_t totalBytes, int64_t layerOffset, int64_t layerBytes,
                   ArrayRef<int64_t> params) {
    if (op.getScores() || op.getWindow() || !op.getCausal())
      return rewriter.notifyMatchFailure(
          op, "eviction lowers causal attention without a window or scores");
    if (!hasF32Operands(op, adaptor))
      return rewriter.notifyMatchFailure(op, "expects 2-D f32 activations");
    OpBuilder &b = rewriter;
    SmallVector<Value> scalars = byteCacheScalars(
        b, op, adaptor, totalBytes, layerOffset, layerBytes, /*layer=*/0);
    for (int64_t v : params)
      scalars.push_back(i64Const(b, op.getLoc(), v));
    return emitByteCacheCall(rewriter, op, adaptor, name, scalars);
  }

  /// SnapKV's observation window and pooling width (0 and 1 otherwise).
  static std::pair<int64_t, int64_t> snapParams(kv::PolicyAttr policy) {
    if (policy.getKind() != kv::PolicyKind::SnapKV)
      return {0, 1};
    return {policy.getObserve(), policy.getPool()};
  }

  /// The eviction kernels' policy numbers: 0 window, 1 h2o, 2 snapkv.
  static int64_t kernelPolicy(kv::PolicyAttr policy) {
    switch (policy.getKind()) {
    case kv::PolicyKind::Window:
      return 0;
    case kv::PolicyKind::H2O:
      return 1;
    case kv::PolicyKind::SnapKV:
      return 2;
    }
    return 0;
  }
};

/// A new 64-byte aligned i32 buffer of `type`'s static size, and its cast
/// to tokenBufferType (appended to `args`).
memref::AllocOp newTokenBuffer(OpBuilder &b, Location loc,
                               RankedTensorType type,
                               SmallVector<Value> &args) {
  auto alloc = memref::AllocOp::create(
      b, loc, MemRefType::get(type.getShape(), b.getI32Type()), ValueRange{},
      b.getI64IntegerAttr(64));
  args.push_back(
      memref::CastOp::create(b, loc, tokenBufferType(b.getContext()), alloc));
  return alloc;
}

/// Calls `name` on `args`, returning its i64 result as an index.
Value callIndexHelper(OpBuilder &b, Operation *op, StringRef name,
                      ArrayRef<Value> args) {
  SmallVector<Type> types;
  for (Value arg : args)
    types.push_back(arg.getType());
  func::FuncOp helper = declareKernel(b, op, name, types, {b.getI64Type()});
  Value result = func::CallOp::create(b, op->getLoc(), helper, args)
                     .getResult(0);
  return arith::IndexCastOp::create(b, op->getLoc(), b.getIndexType(), result);
}

/// Calls the token helper `name` (scalar i64 result) on `args`, the last of
/// which is a new buffer of `outType`'s static size; returns the buffer as
/// a tensor and the helper's result as an index.
std::pair<Value, Value> callTokenHelper(OpBuilder &b, Operation *op,
                                        StringRef name,
                                        SmallVector<Value> args,
                                        RankedTensorType outType) {
  memref::AllocOp alloc = newTokenBuffer(b, op->getLoc(), outType, args);
  Value result = callIndexHelper(b, op, name, args);
  return {resultTensor(b, op->getLoc(), alloc, outType), result};
}

struct NgramDraftToHelper : OpConversionPattern<llm::NgramDraftOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::NgramDraftOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    SmallVector<Value> args = {
        tokenBuffer(b, loc, op, adaptor.getHistory()),
        arith::IndexCastOp::create(b, loc, b.getI64Type(), adaptor.getLength()),
        i64Const(b, loc, op.getNgram()), i64Const(b, loc, op.getMax())};
    auto [draft, count] = callTokenHelper(b, op, "llmc_ngram_draft", args,
                                          op.getDraft().getType());
    rewriter.replaceOp(op, {draft, count});
    return success();
  }
};

/// The target's logits and the sampling settings of an acceptance op, as
/// the acceptance helpers take them.
template <typename Adaptor>
void appendLogitsAndSampling(OpBuilder &b, Operation *op, Adaptor adaptor,
                             SmallVector<Value> &args) {
  args.append({matrixBuffer(b, op->getLoc(), op, adaptor.getLogits()),
               adaptor.getTemperature(), adaptor.getTopK(), adaptor.getTopP(),
               adaptor.getSeed()});
}

struct SpecAcceptToHelper : OpConversionPattern<llm::SpecAcceptOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::SpecAcceptOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    SmallVector<Value> args = {
        tokenBuffer(b, loc, op, adaptor.getDraft()),
        arith::IndexCastOp::create(b, loc, b.getI64Type(), adaptor.getCount())};
    appendLogitsAndSampling(b, op, adaptor, args);
    auto [tokens, accepted] = callTokenHelper(b, op, "llmc_spec_accept", args,
                                              op.getTokens().getType());
    rewriter.replaceOp(op, {tokens, accepted});
    return success();
  }
};

/// Rolling back a contiguous float cache is free: its length is the position
/// the caller passes, so the dropped positions are simply never read again
/// and the next step overwrites them. A cache with KIVI storage or an
/// eviction policy keeps state beyond its positions (flushed groups, evicted
/// slots, attention masses); with an undo log (`rollback<N>`) rolling it
/// back is a call of its layout's helper, llmc_kv_rollback_<kivi | evict |
/// kivi_evict>, which undoes the dropped positions in the buffer in place
/// (written through a read-only operand, as the attention kernels do; see
/// AttentionToKernel::rewriteKivi). Without a log there is no lowering.
struct RollbackToKernel : OpConversionPattern<kv::RollbackOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(kv::RollbackOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    kv::CacheType cache = op.getCache().getType();
    if (!cache.getKiviStorage() && !cache.getPolicy()) {
      if (cache.isPaged() || !cache.getFloatStorage())
        return rewriter.notifyMatchFailure(
            op, "only a contiguous float cache rolls back by its position");
      rewriter.replaceOp(op, adaptor.getCache());
      return success();
    }
    std::optional<int64_t> bytes = kv::byteCacheSize(cache);
    if (!bytes || cache.getRollbackDepth() == 0)
      return rewriter.notifyMatchFailure(
          op, "a KIVI or evicting cache rolls back through its undo log "
              "(rollback<N>)");
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    int64_t dyn = ShapedType::kDynamic;
    auto i8 = b.getIntegerType(8), i64 = b.getI64Type();
    Value buffer = readBuffer(b, loc, op, MemRefType::get({*bytes}, i8),
                              adaptor.getCache());
    buffer = memref::CastOp::create(
        b, loc,
        MemRefType::get({dyn}, i8, StridedLayoutAttr::get(ctx, dyn, {1})),
        buffer);
    SmallVector<Value> args = {
        buffer, arith::IndexCastOp::create(b, loc, i64, adaptor.getCount())};
    auto push = [&](ArrayRef<int64_t> values) {
      for (int64_t v : values)
        args.push_back(i64Const(b, loc, v));
    };
    // Per-layer slot or group counts (per-layer budgets), as a table.
    auto pushTable = [&](ArrayRef<int64_t> values) {
      auto tensorType = RankedTensorType::get({int64_t(values.size())}, i64);
      Value table = arith::ConstantOp::create(
          b, loc, DenseIntElementsAttr::get(tensorType, values));
      Value tableBuffer = readBuffer(
          b, loc, op, MemRefType::get(tensorType.getShape(), i64), table);
      args.push_back(memref::CastOp::create(
          b, loc,
          MemRefType::get({dyn}, i64, StridedLayoutAttr::get(ctx, dyn, {dyn})),
          tableBuffer));
    };
    StringRef name;
    int64_t depth = cache.getRollbackDepth();
    if (auto layout = kv::kiviEvictLayout(cache)) {
      name = "llmc_kv_rollback_kivi_evict";
      push({layout->layers, layout->kvHeads, layout->headDim, layout->bits,
            layout->group, layout->residual, layout->sinks, depth});
      SmallVector<int64_t> groups;
      for (int64_t l = 0; l < layout->layers; ++l)
        groups.push_back(layout->groupsOf(l));
      pushTable(groups);
    } else if (auto layout = kv::kiviLayout(cache)) {
      name = "llmc_kv_rollback_kivi";
      push({layout->layers, layout->kvHeads, layout->capacity, layout->headDim,
            layout->bits, layout->group, layout->residual, depth});
    } else if (auto layout = kv::evictLayout(cache)) {
      name = "llmc_kv_rollback_evict";
      push({layout->layers, layout->kvHeads, layout->headDim,
            AttentionToKernel::kernelPolicy(cache.getPolicy()), depth});
      SmallVector<int64_t> slots;
      for (int64_t l = 0; l < layout->layers; ++l)
        slots.push_back(layout->slotsOf(l));
      pushTable(slots);
    } else {
      return rewriter.notifyMatchFailure(op, "no byte layout");
    }
    SmallVector<Type> types;
    for (Value arg : args)
      types.push_back(arg.getType());
    func::CallOp::create(b, loc, declareKernel(b, op, name, types), args);
    rewriter.replaceOp(op, adaptor.getCache());
    return success();
  }
};

struct NgramTreeDraftToHelper : OpConversionPattern<llm::NgramTreeDraftOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::NgramTreeDraftOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    SmallVector<Value> args = {
        tokenBuffer(b, loc, op, adaptor.getHistory()),
        arith::IndexCastOp::create(b, loc, b.getI64Type(), adaptor.getLength()),
        i64Const(b, loc, op.getNgram()), i64Const(b, loc, op.getWidth())};
    memref::AllocOp parents =
        newTokenBuffer(b, loc, op.getParents().getType(), args);
    memref::AllocOp draft = newTokenBuffer(b, loc, op.getDraft().getType(), args);
    Value count = callIndexHelper(b, op, "llmc_ngram_tree_draft", args);
    rewriter.replaceOp(op,
                       {resultTensor(b, loc, draft, op.getDraft().getType()),
                        resultTensor(b, loc, parents, op.getParents().getType()),
                        count});
    return success();
  }
};

struct SpecAcceptTreeToHelper : OpConversionPattern<llm::SpecAcceptTreeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::SpecAcceptTreeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    SmallVector<Value> args = {
        tokenBuffer(b, loc, op, adaptor.getDraft()),
        tokenBuffer(b, loc, op, adaptor.getParents()),
        arith::IndexCastOp::create(b, loc, b.getI64Type(), adaptor.getCount())};
    appendLogitsAndSampling(b, op, adaptor, args);
    memref::AllocOp path = newTokenBuffer(b, loc, op.getPath().getType(), args);
    memref::AllocOp tokens =
        newTokenBuffer(b, loc, op.getTokens().getType(), args);
    Value accepted = callIndexHelper(b, op, "llmc_spec_accept_tree", args);
    rewriter.replaceOp(op,
                       {resultTensor(b, loc, tokens, op.getTokens().getType()),
                        resultTensor(b, loc, path, op.getPath().getType()),
                        accepted});
    return success();
  }
};

/// kv.compact on an f32 cache: llmc_kv_compact_f32 moves the accepted
/// rows in place (the cache buffer is the step's cache argument, written in
/// place as the KIVI kernels do).
struct CompactToKernel : OpConversionPattern<kv::CompactOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(kv::CompactOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    auto cacheTensor = dyn_cast<RankedTensorType>(adaptor.getCache().getType());
    if (!cacheTensor || cacheTensor.getRank() != 5 ||
        !cacheTensor.getElementType().isF32())
      return rewriter.notifyMatchFailure(op, "needs a contiguous f32 cache");
    Value cacheBuffer = f32CacheBuffer(b, loc, op, adaptor.getCache());
    SmallVector<Value> args = {
        cacheBuffer,
        arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                   adaptor.getPosition()),
        tokenBuffer(b, loc, op, adaptor.getRows()),
        arith::IndexCastOp::create(b, loc, b.getI64Type(), adaptor.getCount())};
    SmallVector<Type> types;
    for (Value arg : args)
      types.push_back(arg.getType());
    func::CallOp::create(
        b, loc, declareKernel(b, op, "llmc_kv_compact_f32", types), args);
    rewriter.replaceOp(op, adaptor.getCache());
    return success();
  }
};

} // namespace

void llmc::populateLLMToMicrokernelPatterns(LLMTypeConverter &converter,
                                            RewritePatternSet &patterns) {
  // Preferred over the linalg lowerings of the same ops, which stay as the
  // fallback for what no kernel handles.
  MLIRContext *ctx = patterns.getContext();
  patterns.add<LinearToKernel, MatmulToKernel, LMHeadToKernel,
               AttentionToKernel, RMSNormToKernel, RoPEToKernel>(
      converter, ctx, /*benefit=*/2);
  patterns.add<NgramDraftToHelper, SpecAcceptToHelper, RollbackToKernel,
               NgramTreeDraftToHelper, SpecAcceptTreeToHelper,
               CompactToKernel>(converter, ctx);
  patterns.add<BinaryToKernel<llm::SwiGLUOp>>(converter, ctx, "llmc_swiglu",
                                              /*benefit=*/2);
  patterns.add<BinaryToKernel<llm::AddOp>>(converter, ctx, "llmc_add",
                                           /*benefit=*/2);
}
