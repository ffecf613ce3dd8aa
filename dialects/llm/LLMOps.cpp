//===- LLMOps.cpp - llm dialect, verifiers and shape refinement -----------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"

using namespace mlir;
using namespace llmc;
using namespace llmc::llm;

#include "dialects/llm/LLMDialect.cpp.inc"
#include "dialects/llm/LLMInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/llm/LLMOps.cpp.inc"

void LLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/llm/LLMOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {
/// Rows (N) and columns (K) of a weight matrix, float or packed.
struct MatrixShape {
  int64_t rows, cols;
};
} // namespace

static std::optional<MatrixShape> getMatrixShape(Type type) {
  if (auto packed = dyn_cast<qmm::PackedType>(type))
    return MatrixShape{packed.getRows(), packed.getCols()};
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    if (tensor.getRank() == 2)
      return MatrixShape{tensor.getDimSize(0), tensor.getDimSize(1)};
  return std::nullopt;
}

static bool isStatic(int64_t d) { return !ShapedType::isDynamic(d); }

/// Dimensions must agree where both are known.
static bool compatible(int64_t a, int64_t b) {
  return !isStatic(a) || !isStatic(b) || a == b;
}

/// `current` with each dynamic dimension replaced by the implied one.
static RankedTensorType refine(RankedTensorType current,
                               ArrayRef<int64_t> implied) {
  if (current.getRank() != int64_t(implied.size()))
    return current;
  SmallVector<int64_t> dims(current.getShape());
  for (auto [dim, imp] : llvm::zip(dims, implied))
    if (!isStatic(dim))
      dim = imp;
  return current.clone(dims);
}

static std::string dimStr(int64_t d) {
  return isStatic(d) ? std::to_string(d) : std::string("?");
}

/// Verifies `result = input * W^T` shapes: input T x K, W N x K, result T' x N
/// where T' is T (or 1 when `lastOnly`).
static LogicalResult verifyProjection(Operation *op, RankedTensorType input,
                                      Type weight, RankedTensorType result,
                                      bool lastOnly) {
  std::optional<MatrixShape> w = getMatrixShape(weight);
  if (!w)
    return op->emitOpError("expects a 2-D weight matrix, got ") << weight;
  if (input.getRank() != 2 || result.getRank() != 2)
    return op->emitOpError("expects T x WIDTH activations and result");
  if (!compatible(input.getDimSize(1), w->cols))
    return op->emitOpError("input width ")
           << input.getDimSize(1) << " does not match the weight's K ("
           << w->cols << ")";
  if (!compatible(result.getDimSize(1), w->rows))
    return op->emitOpError("result width ")
           << dimStr(result.getDimSize(1)) << " does not match the weight's N ("
           << w->rows << ")";
  int64_t rows = lastOnly ? 1 : input.getDimSize(0);
  if (!compatible(result.getDimSize(0), rows))
    return op->emitOpError("result has ")
           << result.getDimSize(0) << " rows, expected " << dimStr(rows);
  return success();
}

//===----------------------------------------------------------------------===//
// WeightOp / GetWeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  Type type = getType();
  if (auto tensor = dyn_cast<RankedTensorType>(type)) {
    if (!tensor.hasStaticShape())
      return emitOpError("weight tensors need a static shape, got ") << type;
    if (!isa<FloatType>(tensor.getElementType()))
      return emitOpError("weight tensors hold floats, got ") << type;
  } else if (!isa<qmm::PackedType>(type)) {
    return emitOpError("type must be a static float tensor or !qmm.packed, "
                       "got ")
           << type;
  }
  if (getFile().empty())
    return emitOpError("needs the model file it refers to");
  if (getTensorName().empty())
    return emitOpError("needs the tensor's name in the model file");
  // I64Attr getters are unsigned; read the offset as the signed value parsed.
  if (int64_t offset = getOffset(); offset < 0)
    return emitOpError("offset must be non-negative, got ") << offset;
  return success();
}

int64_t WeightOp::getByteSize() {
  if (auto packed = dyn_cast<qmm::PackedType>(getType()))
    return packed.getPackedBytes();
  auto tensor = cast<RankedTensorType>(getType());
  return tensor.getNumElements() *
         int64_t(tensor.getElementType().getIntOrFloatBitWidth() / 8);
}

LogicalResult
GetWeightOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto weight =
      symbolTable.lookupNearestSymbolFrom<WeightOp>(*this, getNameAttr());
  if (!weight)
    return emitOpError("'") << getName() << "' does not name an llm.weight";
  if (weight.getType() != getType())
    return emitOpError("type ")
           << getType() << " does not match the weight's type "
           << weight.getType();
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  std::optional<MatrixShape> table = getMatrixShape(getTable().getType());
  if (!table)
    return emitOpError("expects a VOCAB x DIM table");
  RankedTensorType ids = getIds().getType();
  RankedTensorType result = getResult().getType();
  if (ids.getRank() != 1)
    return emitOpError("expects a 1-D tensor of token ids, got rank ")
           << ids.getRank();
  if (result.getRank() != 2)
    return emitOpError("result must be T x DIM");
  if (!compatible(result.getDimSize(0), ids.getDimSize(0)))
    return emitOpError("result has ") << result.getDimSize(0) << " rows for "
                                      << ids.getDimSize(0) << " token ids";
  if (!compatible(result.getDimSize(1), table->cols))
    return emitOpError("result width ")
           << result.getDimSize(1) << " does not match the table's DIM ("
           << table->cols << ")";
  return success();
}

SmallVector<Type> EmbeddingOp::inferRefinedResultTypes() {
  std::optional<MatrixShape> table = getMatrixShape(getTable().getType());
  return {refine(getResult().getType(),
                 {getIds().getType().getDimSize(0), table->cols})};
}

//===----------------------------------------------------------------------===//
// RMSNormOp / RoPEOp
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType weight = getWeight().getType();
  if (input.getRank() != 2)
    return emitOpError("expects T x DIM input, got rank ") << input.getRank();
  if (weight.getRank() != 1)
    return emitOpError("expects a 1-D weight, got rank ") << weight.getRank();
  if (!compatible(weight.getDimSize(0), input.getDimSize(1)))
    return emitOpError("weight has ")
           << weight.getDimSize(0) << " elements but rows have "
           << input.getDimSize(1);
  if (!(getEps().convertToFloat() > 0.0f))
    return emitOpError("eps must be positive");
  return success();
}

SmallVector<Type> RMSNormOp::inferRefinedResultTypes() {
  return {getInput().getType()};
}

LogicalResult RoPEOp::verify() {
  RankedTensorType input = getInput().getType();
  int64_t headDim = getHeadDim(), rotary = getRotaryDims();
  if (input.getRank() != 2)
    return emitOpError("expects T x (HEADS*HEAD_DIM) input, got rank ")
           << input.getRank();
  if (headDim <= 0)
    return emitOpError("head_dim must be positive");
  if (Value tree = getTree()) {
    auto type = cast<RankedTensorType>(tree.getType());
    if (type.getRank() != 1 ||
        (isStatic(type.getDimSize(0)) && isStatic(input.getDimSize(0)) &&
         type.getDimSize(0) != input.getDimSize(0)))
      return emitOpError("tree must hold one parent per row, got ") << type;
  }
  if (isStatic(input.getDimSize(1)) && input.getDimSize(1) % headDim != 0)
    return emitOpError("head_dim ")
           << headDim << " does not divide the row width "
           << input.getDimSize(1);
  if (rotary <= 0 || rotary > headDim || rotary % 2 != 0)
    return emitOpError("rotary_dims must be even and in (0, head_dim = ")
           << headDim << "], got " << rotary;
  if (!(getTheta().convertToFloat() > 0.0f))
    return emitOpError("theta must be positive");
  if (std::optional<APFloat> scale = getFreqScale();
      scale && !(scale->convertToFloat() > 0.0f))
    return emitOpError("freq_scale must be positive");
  return success();
}

SmallVector<Type> RoPEOp::inferRefinedResultTypes() {
  return {getInput().getType()};
}

//===----------------------------------------------------------------------===//
// LinearOp / LMHeadOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  return verifyProjection(*this, getInput().getType(), getWeight().getType(),
                          getResult().getType(), /*lastOnly=*/false);
}

SmallVector<Type> LinearOp::inferRefinedResultTypes() {
  std::optional<MatrixShape> w = getMatrixShape(getWeight().getType());
  return {refine(getResult().getType(),
                 {getInput().getType().getDimSize(0), w->rows})};
}

LogicalResult LMHeadOp::verify() {
  return verifyProjection(*this, getInput().getType(), getWeight().getType(),
                          getResult().getType(), getLastOnly());
}

SmallVector<Type> LMHeadOp::inferRefinedResultTypes() {
  std::optional<MatrixShape> w = getMatrixShape(getWeight().getType());
  int64_t rows = getLastOnly() ? 1 : getInput().getType().getDimSize(0);
  return {refine(getResult().getType(), {rows, w->rows})};
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(),
          headDim = getHeadDim();
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0)
    return emitOpError("num_heads, num_kv_heads and head_dim must be positive");
  if (heads % kvHeads != 0)
    return emitOpError("num_heads (")
           << heads << ") is not a multiple of num_kv_heads (" << kvHeads
           << ")";
  RankedTensorType q = getQueries().getType(), k = getKeys().getType(),
                   out = getResult().getType();
  if (q.getRank() != 2 || k.getRank() != 2 || out.getRank() != 2)
    return emitOpError("queries, keys, values and result must be 2-D "
                       "T x (HEADS*HEAD_DIM)");
  if (!compatible(q.getDimSize(1), heads * headDim))
    return emitOpError("queries have width ")
           << q.getDimSize(1)
           << ", expected num_heads * head_dim = " << heads * headDim;
  if (!compatible(k.getDimSize(1), kvHeads * headDim))
    return emitOpError("keys/values have width ")
           << k.getDimSize(1)
           << ", expected num_kv_heads * head_dim = " << kvHeads * headDim;
  if (!compatible(q.getDimSize(0), k.getDimSize(0)))
    return emitOpError("queries have ")
           << q.getDimSize(0) << " rows but keys/values have "
           << k.getDimSize(0);
  if (out.getShape() != q.getShape() &&
      (!compatible(out.getDimSize(0), q.getDimSize(0)) ||
       !compatible(out.getDimSize(1), heads * headDim)))
    return emitOpError("result must have the queries' shape");
  if (Value tree = getTree()) {
    auto type = cast<RankedTensorType>(tree.getType());
    if (type.getRank() != 1 || !compatible(type.getDimSize(0), q.getDimSize(0)))
      return emitOpError("tree must hold one parent per query row, got ")
             << type;
    if (!getCausal() || getWindow())
      return emitOpError("a tree mask needs causal attention without a "
                         "window");
    if (getScores())
      return emitOpError("a tree mask does not produce attention scores");
  }
  kv::CacheType cache = getCache().getType();
  if (cache.getHeadDim() != headDim)
    return emitOpError("head_dim ")
           << headDim << " does not match the cache's head_dim "
           << cache.getHeadDim();
  if (cache.getKvHeads() != kvHeads)
    return emitOpError("num_kv_heads ")
           << kvHeads << " does not match the cache's " << cache.getKvHeads()
           << " KV heads";
  int64_t layer = getLayer();
  if (layer < 0 || layer >= cache.getLayers())
    return emitOpError("layer ") << layer << " is out of range for a cache of "
                                 << cache.getLayers() << " layers";
  if (isStatic(q.getDimSize(0)) && q.getDimSize(0) > cache.getCapacity())
    return emitOpError("step of ")
           << q.getDimSize(0) << " tokens exceeds the cache capacity "
           << cache.getCapacity();
  if (std::optional<int64_t> window = getWindow(); window && *window <= 0)
    return emitOpError("window must be positive, got ") << *window;
  if (!(getScale().convertToFloat() > 0.0f))
    return emitOpError("scale must be positive");
  if (Value scores = getScores()) {
    auto type = cast<RankedTensorType>(scores.getType());
    if (type.getRank() != 2 || !compatible(type.getDimSize(0), kvHeads) ||
        !compatible(type.getDimSize(1), cache.getCapacity()))
      return emitOpError("scores must be KV_HEADS x CAPACITY (")
             << kvHeads << "x" << cache.getCapacity() << "), got " << type;
  }
  return success();
}

SmallVector<Type> AttentionOp::inferRefinedResultTypes() {
  SmallVector<Type> types;
  types.push_back(
      refine(getResult().getType(), {getQueries().getType().getDimSize(0),
                                     int64_t(getNumHeads() * getHeadDim())}));
  types.push_back(getCache().getType());
  if (Value scores = getScores())
    types.push_back(
        refine(cast<RankedTensorType>(scores.getType()),
               {int64_t(getNumKvHeads()), getCache().getType().getCapacity()}));
  return types;
}

//===----------------------------------------------------------------------===//
// SwiGLUOp / AddOp
//===----------------------------------------------------------------------===//

LogicalResult SwiGLUOp::verify() {
  if (getResult().getType().getRank() != 2)
    return emitOpError("expects T x FFN operands");
  return success();
}

SmallVector<Type> SwiGLUOp::inferRefinedResultTypes() {
  return {getGate().getType()};
}

SmallVector<Type> AddOp::inferRefinedResultTypes() {
  return {getLhs().getType()};
}

//===----------------------------------------------------------------------===//
// ArgmaxOp / SampleOp
//===----------------------------------------------------------------------===//

static LogicalResult verifyTokenChoice(Operation *op, RankedTensorType logits,
                                       RankedTensorType result) {
  if (logits.getRank() != 2)
    return op->emitOpError("expects T x VOCAB logits, got rank ")
           << logits.getRank();
  if (result.getRank() != 1 ||
      !compatible(result.getDimSize(0), logits.getDimSize(0)))
    return op->emitOpError("result must hold one token per logits row (")
           << dimStr(logits.getDimSize(0)) << "), got " << result;
  return success();
}

LogicalResult ArgmaxOp::verify() {
  return verifyTokenChoice(*this, getLogits().getType(), getResult().getType());
}

SmallVector<Type> ArgmaxOp::inferRefinedResultTypes() {
  return {refine(getResult().getType(), {getLogits().getType().getDimSize(0)})};
}

LogicalResult SampleOp::verify() {
  if (failed(verifyTokenChoice(*this, getLogits().getType(),
                               getResult().getType())))
    return failure();
  float temperature = getTemperature().convertToFloat();
  float topP = getTopP().convertToFloat();
  if (!(temperature >= 0.0f))
    return emitOpError("temperature must be >= 0, got ") << temperature;
  if (int64_t(getTopK()) < 0)
    return emitOpError("top_k must be >= 0 (0 = no limit), got ")
           << int64_t(getTopK());
  if (!(topP > 0.0f && topP <= 1.0f))
    return emitOpError("top_p must be in (0, 1], got ") << topP;
  return success();
}

SmallVector<Type> SampleOp::inferRefinedResultTypes() {
  return {refine(getResult().getType(), {getLogits().getType().getDimSize(0)})};
}

//===----------------------------------------------------------------------===//
// Speculative decoding
//===----------------------------------------------------------------------===//

LogicalResult NgramDraftOp::verify() {
  if (getHistory().getType().getRank() != 1 ||
      getDraft().getType().getRank() != 1)
    return emitOpError("history and draft must be 1-D token tensors");
  if (getNgram() < 1)
    return emitOpError("ngram must be >= 1, got ") << getNgram();
  if (getMax() < 1)
    return emitOpError("max must be >= 1, got ") << getMax();
  if (getDraft().getType().getDimSize(0) != getMax())
    return emitOpError("draft must hold max = ")
           << getMax() << " tokens, got " << getDraft().getType();
  return success();
}

LogicalResult SpecAcceptOp::verify() {
  auto draft = getDraft().getType(), tokens = getTokens().getType();
  auto logits = getLogits().getType();
  if (draft.getRank() != 1 || tokens.getRank() != 1)
    return emitOpError("draft and tokens must be 1-D token tensors");
  if (logits.getRank() != 2)
    return emitOpError("logits must be rows x vocab, got ") << logits;
  if (draft.isDynamicDim(0))
    return emitOpError("draft must have a static size, got ") << draft;
  if (tokens.getDimSize(0) != draft.getDimSize(0) + 1)
    return emitOpError("tokens must hold one more than the draft (")
           << draft.getDimSize(0) + 1 << "), got " << tokens;
  if (!logits.isDynamicDim(0) && logits.getDimSize(0) > draft.getDimSize(0) + 1)
    return emitOpError("logits has more rows (")
           << logits.getDimSize(0) << ") than draft + 1";
  return success();
}

LogicalResult NgramTreeDraftOp::verify() {
  if (getNgram() < 1)
    return emitOpError("ngram must be >= 1, got ") << getNgram();
  if (getMax() < 1)
    return emitOpError("max must be >= 1, got ") << getMax();
  if (getWidth() < 1)
    return emitOpError("width must be >= 1, got ") << getWidth();
  for (RankedTensorType type :
       {getDraft().getType(), getParents().getType()})
    if (type.getRank() != 1 || type.getDimSize(0) != getMax())
      return emitOpError("draft and parents must hold max = ")
             << getMax() << " entries, got " << type;
  return success();
}

LogicalResult SpecAcceptTreeOp::verify() {
  auto draft = getDraft().getType(), parents = getParents().getType(),
       tokens = getTokens().getType(), path = getPath().getType();
  if (draft.isDynamicDim(0) || draft.getRank() != 1)
    return emitOpError("draft must be a 1-D tensor of static size, got ")
           << draft;
  if (parents != draft)
    return emitOpError("parents must have the draft's type, got ") << parents;
  if (tokens.getRank() != 1 || tokens.getDimSize(0) != draft.getDimSize(0) + 1 ||
      path != tokens)
    return emitOpError("tokens and path must hold one more than the draft (")
           << draft.getDimSize(0) + 1 << ")";
  if (getLogits().getType().getRank() != 2)
    return emitOpError("logits must be rows x vocab");
  return success();
}
