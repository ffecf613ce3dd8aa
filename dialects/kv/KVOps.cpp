//===- KVOps.cpp - kv dialect, attributes, types and verifiers ------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "dialects/kv/KVOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace llmc;
using namespace llmc::kv;

#include "dialects/kv/KVDialect.cpp.inc"
#include "dialects/kv/KVEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/kv/KVAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/kv/KVTypes.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/kv/KVOps.cpp.inc"

void KVDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/kv/KVAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/kv/KVTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/kv/KVOps.cpp.inc"
      >();
}

Operation *KVDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                          Type type, Location loc) {
  return arith::ConstantOp::materialize(builder, value, type, loc);
}

//===----------------------------------------------------------------------===//
// PolicyAttr
//===----------------------------------------------------------------------===//

int64_t PolicyAttr::getBudget() const {
  switch (getKind()) {
  case PolicyKind::Window:
    return getSinks() + getRecent();
  case PolicyKind::H2O:
    return getSinks() + getHeavy() + getRecent();
  case PolicyKind::SnapKV:
    return getSinks() + getHeavy() + getObserve();
  }
  return 0;
}

int64_t PolicyAttr::getLayerBudget(int64_t layer) const {
  ArrayRef<int64_t> budgets = getLayerBudgets();
  if (!budgets.empty() && layer >= 0 && layer < int64_t(budgets.size()))
    return budgets[layer];
  return getBudget();
}

LogicalResult PolicyAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 PolicyKind kind, int64_t sinks, int64_t recent,
                                 int64_t heavy, int64_t observe, int64_t pool,
                                 ArrayRef<int64_t> layerBudgets) {
  if (sinks < 0 || recent < 0 || heavy < 0 || observe < 0)
    return emitError() << "policy sizes must be non-negative";
  StringRef name = stringifyPolicyKind(kind);
  switch (kind) {
  case PolicyKind::Window:
    if (recent <= 0)
      return emitError() << "window policy needs recent > 0";
    if (heavy != 0 || observe != 0)
      return emitError() << "window policy takes only sinks and recent";
    break;
  case PolicyKind::H2O:
    if (heavy <= 0)
      return emitError() << "h2o policy needs heavy > 0";
    if (observe != 0)
      return emitError() << "h2o policy takes no observation window";
    break;
  case PolicyKind::SnapKV:
    if (heavy <= 0 || observe <= 0)
      return emitError() << "snapkv policy needs heavy > 0 and observe > 0";
    if (recent != 0)
      return emitError() << "snapkv keeps its observation window as the "
                            "recent positions; use observe, not recent";
    break;
  }
  if (pool < 1 || pool % 2 == 0)
    return emitError() << name << " policy needs an odd pool >= 1, got "
                       << pool;
  if (pool != 1 && kind != PolicyKind::SnapKV)
    return emitError() << "pool applies only to snapkv";
  for (int64_t budget : layerBudgets)
    if (budget <= 0)
      return emitError() << "layer budgets must be positive, got " << budget;
  return success();
}

// Syntax: `<` kind (`,` key `=` int | `,` `layer_budgets` `=` `[` ints `]`)*
// `>`
Attribute PolicyAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef kindName;
  if (parser.parseLess() || parser.parseKeyword(&kindName))
    return {};
  std::optional<PolicyKind> kind = symbolizePolicyKind(kindName);
  if (!kind) {
    parser.emitError(loc) << "unknown eviction policy '" << kindName
                          << "'; expected window, h2o or snapkv";
    return {};
  }
  int64_t sinks = 0, recent = 0, heavy = 0, observe = 0, pool = 1;
  SmallVector<int64_t> budgets;
  llvm::StringSet<> seenKeys;
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc keyLoc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return {};
    if (!seenKeys.insert(key).second) {
      parser.emitError(keyLoc) << "policy parameter '" << key
                               << "' given twice";
      return {};
    }
    if (key == "layer_budgets") {
      if (parser.parseCommaSeparatedList(
              AsmParser::Delimiter::Square, [&]() -> ParseResult {
                return parser.parseInteger(budgets.emplace_back());
              }))
        return {};
      continue;
    }
    int64_t *slot = llvm::StringSwitch<int64_t *>(key)
                        .Case("sinks", &sinks)
                        .Case("recent", &recent)
                        .Case("heavy", &heavy)
                        .Case("observe", &observe)
                        .Case("pool", &pool)
                        .Default(nullptr);
    if (!slot) {
      parser.emitError(keyLoc)
          << "unknown policy parameter '" << key
          << "'; expected sinks, recent, heavy, observe, pool or layer_budgets";
      return {};
    }
    if (parser.parseInteger(*slot))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    *kind, sinks, recent, heavy, observe, pool, budgets);
}

void PolicyAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyPolicyKind(getKind());
  auto field = [&](StringRef key, int64_t value, int64_t dflt) {
    if (value != dflt)
      printer << ", " << key << " = " << value;
  };
  field("sinks", getSinks(), 0);
  field("heavy", getHeavy(), 0);
  field("recent", getRecent(), 0);
  field("observe", getObserve(), 0);
  field("pool", getPool(), 1);
  if (!getLayerBudgets().empty()) {
    printer << ", layer_budgets = [";
    llvm::interleaveComma(getLayerBudgets(), printer);
    printer << "]";
  }
  printer << ">";
}

//===----------------------------------------------------------------------===//
// KiviAttr
//===----------------------------------------------------------------------===//

LogicalResult KiviAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t bits, int64_t group, int64_t residual) {
  if (bits != 2 && bits != 4 && bits != 8)
    return emitError() << "KIVI bits must be 2, 4 or 8, got " << bits;
  if (group < 8 || group > 256 || group % 8 != 0)
    return emitError() << "KIVI group must be a multiple of 8 in [8, 256], "
                          "got "
                       << group;
  if (residual < 0)
    return emitError() << "KIVI residual window must be non-negative, got "
                       << residual;
  return success();
}

std::optional<runtime::KiviLayout> llmc::kv::kiviLayout(CacheType cache) {
  KiviAttr kivi = cache.getKiviStorage();
  if (!kivi || cache.getPolicy())
    return std::nullopt;
  runtime::KiviLayout layout;
  layout.layers = cache.getLayers();
  layout.kvHeads = cache.getKvHeads();
  layout.capacity = cache.getCapacity();
  layout.headDim = cache.getHeadDim();
  layout.bits = kivi.getBits();
  layout.group = kivi.getGroup();
  layout.residual = kivi.getResidual();
  layout.undoDepth = cache.getRollbackDepth();
  return layout;
}

std::optional<runtime::EvictLayout> llmc::kv::evictLayout(CacheType cache) {
  FloatType storage = cache.getFloatStorage();
  if (!cache.getPolicy() || !storage || !storage.isF32())
    return std::nullopt;
  runtime::EvictLayout layout;
  layout.layers = cache.getLayers();
  layout.kvHeads = cache.getKvHeads();
  layout.slots = cache.getCapacity();
  layout.headDim = cache.getHeadDim();
  // Per-layer budgets: each layer allocates only its own.
  for (int64_t budget : cache.getPolicy().getLayerBudgets())
    layout.layerSlots.push_back(budget);
  layout.undoDepth = cache.getRollbackDepth();
  layout.undoScores = cache.getPolicy().getKind() == PolicyKind::H2O;
  return layout;
}

std::optional<runtime::KiviEvictLayout>
llmc::kv::kiviEvictLayout(CacheType cache) {
  KiviAttr kivi = cache.getKiviStorage();
  PolicyAttr policy = cache.getPolicy();
  if (!kivi || !policy)
    return std::nullopt;
  runtime::KiviEvictLayout layout;
  layout.layers = cache.getLayers();
  layout.kvHeads = cache.getKvHeads();
  layout.headDim = cache.getHeadDim();
  layout.bits = kivi.getBits();
  layout.group = kivi.getGroup();
  layout.residual = kivi.getResidual();
  layout.sinks = policy.getSinks();
  auto groupsFor = [&](int64_t budget) {
    return runtime::KiviEvictLayout::groupsFor(budget, layout.sinks,
                                               layout.residual, layout.group);
  };
  layout.groups = groupsFor(policy.getBudget());
  // Per-layer budgets: each layer allocates only its own groups.
  for (int64_t budget : policy.getLayerBudgets())
    layout.layerGroups.push_back(groupsFor(budget));
  layout.undoDepth = cache.getRollbackDepth();
  return layout;
}

std::optional<int64_t> llmc::kv::byteCacheSize(CacheType cache) {
  if (cache.isPaged())
    return std::nullopt;
  if (std::optional<runtime::KiviLayout> layout = kiviLayout(cache))
    return layout->totalBytes();
  if (std::optional<runtime::EvictLayout> layout = evictLayout(cache))
    return layout->totalBytes();
  if (std::optional<runtime::KiviEvictLayout> layout = kiviEvictLayout(cache))
    return layout->totalBytes();
  return std::nullopt;
}

void llmc::kv::replaceCacheType(Operation *root, CacheType from, CacheType to) {
  auto swap = [&](Type type) { return type == from ? Type(to) : type; };
  root->walk([&](Operation *op) {
    for (Value result : op->getResults())
      result.setType(swap(result.getType()));
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          arg.setType(swap(arg.getType()));
    if (auto func = dyn_cast<FunctionOpInterface>(op)) {
      auto type = dyn_cast<FunctionType>(func.getFunctionType());
      if (!type)
        return;
      SmallVector<Type> inputs = llvm::map_to_vector(type.getInputs(), swap);
      SmallVector<Type> results = llvm::map_to_vector(type.getResults(), swap);
      func.setFunctionTypeAttr(
          TypeAttr::get(FunctionType::get(op->getContext(), inputs, results)));
    }
  });
}

double KiviAttr::getBitsPerElement() const {
  // An f16 scale and an f16 minimum per group.
  return double(getBits()) + 32.0 / double(getGroup());
}

//===----------------------------------------------------------------------===//
// CacheType
//===----------------------------------------------------------------------===//

FloatType CacheType::getFloatStorage() const {
  if (auto typeAttr = dyn_cast<TypeAttr>(getStorage()))
    return dyn_cast<FloatType>(typeAttr.getValue());
  return {};
}

qmm::FormatAttr CacheType::getQuantizedStorage() const {
  return dyn_cast<qmm::FormatAttr>(getStorage());
}

KiviAttr CacheType::getKiviStorage() const {
  return dyn_cast<KiviAttr>(getStorage());
}

double CacheType::getBitsPerElement() const {
  if (FloatType f = getFloatStorage())
    return f.getWidth();
  if (KiviAttr kivi = getKiviStorage())
    return kivi.getBitsPerElement();
  return getQuantizedStorage().getBitsPerElement();
}

double CacheType::getBytesPerPosition() const {
  return 2.0 * double(getLayers() * getKvHeads() * getHeadDim()) *
         getBitsPerElement() / 8.0;
}

CacheType CacheType::withStorage(Attribute storage) const {
  return CacheType::get(getContext(), getLayers(), getKvHeads(), getCapacity(),
                        getHeadDim(), storage, getBlockSize(), getPolicy(),
                        getRollbackDepth());
}

CacheType CacheType::withRollbackDepth(int64_t depth) const {
  return CacheType::get(getContext(), getLayers(), getKvHeads(), getCapacity(),
                        getHeadDim(), getStorage(), getBlockSize(), getPolicy(),
                        depth);
}

/// Checks a policy against the cache it applies to.
static LogicalResult
verifyPolicyFits(function_ref<InFlightDiagnostic()> emitError,
                 PolicyAttr policy, int64_t layers, int64_t capacity) {
  if (policy.getBudget() > capacity)
    return emitError() << "policy keeps " << policy.getBudget()
                       << " positions but the cache capacity is " << capacity;
  ArrayRef<int64_t> budgets = policy.getLayerBudgets();
  if (!budgets.empty() && int64_t(budgets.size()) != layers)
    return emitError() << "policy has " << budgets.size()
                       << " layer budgets for a cache of " << layers
                       << " layers";
  for (int64_t budget : budgets)
    if (budget > capacity)
      return emitError() << "layer budget " << budget
                         << " exceeds the cache capacity " << capacity;
  return success();
}

/// Checks that a KIVI cache can follow `policy`: eviction drops whole
/// token groups from a pool beside the sinks and the residual ring (see
/// KiviEvictLayout), so every layer's budget must leave room for a group,
/// and H2O's recent window is the ring.
static LogicalResult
verifyKiviPolicy(function_ref<InFlightDiagnostic()> emitError, KiviAttr kivi,
                 PolicyAttr policy, int64_t layers, int64_t blockSize) {
  if (blockSize != 0)
    return emitError() << "a KIVI cache with an eviction policy must be "
                          "contiguous, not paged";
  if (policy.getKind() == PolicyKind::H2O &&
      policy.getRecent() != kivi.getResidual())
    return emitError() << "with KIVI storage the h2o recent window is the "
                          "residual ring: recent ("
                       << policy.getRecent() << ") must equal residual ("
                       << kivi.getResidual() << ")";
  int64_t fixed = policy.getSinks() + kivi.getResidual();
  for (int64_t layer = 0; layer < layers; ++layer) {
    int64_t budget = policy.getLayerBudget(layer);
    if (budget - fixed < kivi.getGroup())
      return emitError() << "layer " << layer << "'s budget of " << budget
                         << " positions leaves no room for a KIVI token group "
                            "beside the sinks and the residual window (needs "
                         << policy.getSinks() << " + " << kivi.getResidual()
                         << " + " << kivi.getGroup() << ")";
  }
  return success();
}

/// Checks `rollback<depth>`: an undo log is what a cache needs whose state is
/// more than its positions (KIVI's flushed groups, eviction's slots and
/// masses), in the byte layouts the kernels keep it in.
static LogicalResult
verifyRollbackDepth(function_ref<InFlightDiagnostic()> emitError, int64_t depth,
                    Attribute storage, int64_t blockSize, PolicyAttr policy) {
  if (depth < 1 || depth > runtime::UndoLog::kMaxDepth)
    return emitError() << "rollback depth must be in [1, "
                       << runtime::UndoLog::kMaxDepth << "], got " << depth;
  bool kivi = isa_and_nonnull<KiviAttr>(storage);
  auto typeAttr = dyn_cast_or_null<TypeAttr>(storage);
  bool f32 = typeAttr && typeAttr.getValue().isF32();
  if (!kivi && !policy)
    return emitError() << "rollback<" << depth
                       << "> keeps an undo log, which only KIVI and evicting "
                          "caches need (a float cache rolls back by its "
                          "position alone)";
  if (!kivi && !f32)
    return emitError() << "rollback<" << depth
                       << "> needs an evicting cache stored as f32 or KIVI";
  if (blockSize != 0)
    return emitError() << "rollback<" << depth
                       << "> needs a contiguous cache, not paged";
  return success();
}

LogicalResult CacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t layers, int64_t kvHeads,
                                int64_t capacity, int64_t headDim,
                                Attribute storage, int64_t blockSize,
                                PolicyAttr policy, int64_t rollbackDepth) {
  if (layers <= 0 || kvHeads <= 0 || capacity <= 0 || headDim <= 0)
    return emitError() << "cache dimensions must be positive";
  if (auto typeAttr = dyn_cast_or_null<TypeAttr>(storage)) {
    Type elt = typeAttr.getValue();
    if (!elt.isF32() && !elt.isF16() && !elt.isBF16())
      return emitError() << "cache storage must be f32, f16, bf16 or a "
                            "#qmm.format, got "
                         << elt;
  } else if (auto format = dyn_cast_or_null<qmm::FormatAttr>(storage)) {
    qmm::FormatKind kind = format.getKind();
    if (kind == qmm::FormatKind::Q4_K || kind == qmm::FormatKind::Q6_K)
      return emitError() << "format " << format
                         << " is a weight format (256-element super-blocks); "
                            "use int2/3/4/8, q8_0, q4_0, fp8 or mxfp4 for a "
                            "cache";
  } else if (auto kivi = dyn_cast_or_null<KiviAttr>(storage)) {
    int64_t channels = kvHeads * headDim;
    if (channels % kivi.getGroup() != 0)
      return emitError() << "KIVI group " << kivi.getGroup()
                         << " does not divide the " << channels
                         << " channels (KV heads x head dim) that values "
                            "are quantized over";
    // Under a policy the budgets bound the residual window instead
    // (verifyKiviPolicy).
    if (!policy && kivi.getResidual() >= capacity)
      return emitError() << "KIVI residual window of " << kivi.getResidual()
                         << " positions is not smaller than the cache "
                            "capacity "
                         << capacity << " (nothing would be quantized)";
  } else {
    return emitError() << "cache storage must be f32, f16, bf16, a "
                          "#qmm.format or a #kv.kivi";
  }
  if (blockSize < 0)
    return emitError() << "paged block size must be positive";
  if (blockSize > 0 && capacity % blockSize != 0)
    return emitError() << "paged block size " << blockSize
                       << " does not divide the capacity " << capacity;
  if (policy && failed(verifyPolicyFits(emitError, policy, layers, capacity)))
    return failure();
  if (rollbackDepth != 0 &&
      failed(verifyRollbackDepth(emitError, rollbackDepth, storage, blockSize,
                                 policy)))
    return failure();
  if (auto kivi = dyn_cast_or_null<KiviAttr>(storage); kivi && policy)
    return verifyKiviPolicy(emitError, kivi, policy, layers, blockSize);
  return success();
}

// Syntax: `<` L x H x C x D `,` storage (`,` layout)? (`,` #kv.policy)? `>`
Type CacheType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> dims;
  Attribute storage;
  if (parser.parseLess() ||
      parser.parseDimensionList(dims, /*allowDynamic=*/false,
                                /*withTrailingX=*/false))
    return {};
  if (dims.size() != 4) {
    parser.emitError(loc) << "expected LAYERSxKV_HEADSxCAPACITYxHEAD_DIM, got "
                          << dims.size() << " dimensions";
    return {};
  }
  if (parser.parseComma() || parser.parseAttribute(storage))
    return {};
  int64_t blockSize = 0, rollbackDepth = 0;
  PolicyAttr policy;
  bool seenLayout = false;
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc itemLoc = parser.getCurrentLocation();
    if (succeeded(parser.parseOptionalKeyword("rollback"))) {
      if (rollbackDepth != 0) {
        parser.emitError(itemLoc) << "cache rollback depth given twice";
        return {};
      }
      if (parser.parseLess() || parser.parseInteger(rollbackDepth) ||
          parser.parseGreater())
        return {};
      if (rollbackDepth == 0) {
        parser.emitError(itemLoc) << "rollback depth must be in [1, "
                                  << runtime::UndoLog::kMaxDepth << "], got 0";
        return {};
      }
      continue;
    }
    bool isContiguous = succeeded(parser.parseOptionalKeyword("contiguous"));
    bool isPaged = !isContiguous && succeeded(parser.parseOptionalKeyword("paged"));
    if ((isContiguous || isPaged) && seenLayout) {
      parser.emitError(itemLoc) << "cache layout given twice";
      return {};
    }
    seenLayout |= isContiguous || isPaged;
    if (isContiguous)
      continue;
    if (isPaged) {
      if (parser.parseLess() || parser.parseInteger(blockSize) ||
          parser.parseGreater())
        return {};
      if (blockSize <= 0) {
        parser.emitError(loc) << "paged block size must be positive";
        return {};
      }
      continue;
    }
    if (policy) {
      parser.emitError(itemLoc) << "cache policy given twice";
      return {};
    }
    if (parser.parseAttribute(policy))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    dims[0], dims[1], dims[2], dims[3], storage, blockSize,
                    policy, rollbackDepth);
}

void CacheType::print(AsmPrinter &printer) const {
  printer << "<" << getLayers() << "x" << getKvHeads() << "x" << getCapacity()
          << "x" << getHeadDim() << ", ";
  if (FloatType f = getFloatStorage())
    printer << f;
  else
    printer << getStorage();
  if (isPaged())
    printer << ", paged<" << getBlockSize() << ">";
  if (getPolicy())
    printer << ", " << getPolicy();
  if (getRollbackDepth() != 0)
    printer << ", rollback<" << getRollbackDepth() << ">";
  printer << ">";
}

//===----------------------------------------------------------------------===//
// Op verifiers
//===----------------------------------------------------------------------===//

/// A tensor dimension as written in a type: `?` when dynamic.
static std::string dimString(int64_t dim) {
  return ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
}

static LogicalResult verifyLayer(Operation *op, CacheType cache,
                                 int64_t layer) {
  if (layer < 0 || layer >= cache.getLayers())
    return op->emitOpError("layer ")
           << layer << " is out of range for a cache of " << cache.getLayers()
           << " layers";
  return success();
}

/// A constant position count must lie within [0, capacity].
static LogicalResult verifyPositionCount(Operation *op, Value count,
                                         CacheType cache, StringRef what) {
  APInt value;
  if (!matchPattern(count, m_ConstantInt(&value)))
    return success();
  int64_t n = value.getSExtValue();
  if (n < 0)
    return op->emitOpError() << what << " must be non-negative, got " << n;
  if (n > cache.getCapacity())
    return op->emitOpError()
           << what << " " << n << " exceeds the cache capacity "
           << cache.getCapacity();
  return success();
}

LogicalResult AppendOp::verify() {
  CacheType cache = getCache().getType();
  if (failed(verifyLayer(*this, cache, getLayer())))
    return failure();
  RankedTensorType keys = getKeys().getType();
  if (keys.getRank() != 3)
    return emitOpError("keys and values must be T x KV_HEADS x HEAD_DIM, got "
                       "rank ")
           << keys.getRank();
  if (keys.getDimSize(1) != cache.getKvHeads())
    return emitOpError("keys have ")
           << dimString(keys.getDimSize(1)) << " heads but the cache has "
           << cache.getKvHeads();
  if (keys.getDimSize(2) != cache.getHeadDim())
    return emitOpError("keys have head_dim ")
           << dimString(keys.getDimSize(2)) << " but the cache has head_dim "
           << cache.getHeadDim();
  int64_t t = keys.getDimSize(0);
  if (!ShapedType::isDynamic(t) && t > cache.getCapacity())
    return emitOpError("appends ")
           << t << " positions to a cache of capacity " << cache.getCapacity();
  return success();
}

LogicalResult ViewOp::verify() {
  CacheType cache = getCache().getType();
  if (failed(verifyLayer(*this, cache, getLayer())))
    return failure();
  RankedTensorType keys = getKeys().getType();
  if (keys.getRank() != 3 || keys.getDimSize(0) != cache.getKvHeads() ||
      keys.getDimSize(2) != cache.getHeadDim())
    return emitOpError("results must be ")
           << cache.getKvHeads() << "x?x" << cache.getHeadDim()
           << " (KV_HEADS x len x HEAD_DIM), got " << keys;
  int64_t len = keys.getDimSize(1);
  if (!ShapedType::isDynamic(len) && len > cache.getCapacity())
    return emitOpError("views ") << len << " positions of a cache of capacity "
                                 << cache.getCapacity();
  if (failed(verifyPositionCount(*this, getLength(), cache, "view length")))
    return failure();
  APInt constLen;
  if (!ShapedType::isDynamic(len) &&
      matchPattern(getLength(), m_ConstantInt(&constLen)) &&
      constLen.getSExtValue() != len)
    return emitOpError("length operand ")
           << constLen.getSExtValue() << " does not match the result length "
           << len;
  if (FloatType f = cache.getFloatStorage(); f && keys.getElementType() != f)
    return emitOpError("result element type ")
           << keys.getElementType() << " differs from the cache storage " << f;
  return success();
}

LogicalResult ScoreAccumulateOp::verify() {
  CacheType cache = getCache().getType();
  if (failed(verifyLayer(*this, cache, getLayer())))
    return failure();
  RankedTensorType scores = getScores().getType();
  if (scores.getRank() != 2 || scores.getDimSize(0) != cache.getKvHeads())
    return emitOpError("scores must be KV_HEADS x positions (")
           << cache.getKvHeads() << "x" << cache.getCapacity() << "), got "
           << scores;
  int64_t n = scores.getDimSize(1);
  if (!ShapedType::isDynamic(n) && n > cache.getCapacity())
    return emitOpError("scores cover ")
           << n << " positions but the cache capacity is "
           << cache.getCapacity();
  return success();
}

PolicyAttr EvictOp::getEffectivePolicy() {
  if (PolicyAttr policy = getPolicyAttr())
    return policy;
  return getCache().getType().getPolicy();
}

LogicalResult EvictOp::verify() {
  CacheType cache = getCache().getType();
  PolicyAttr policy = getEffectivePolicy();
  if (!policy)
    return emitOpError("needs a policy: neither the op nor the cache type "
                       "carries one");
  return verifyPolicyFits([&] { return emitOpError(); }, policy,
                          cache.getLayers(), cache.getCapacity());
}

/// Quantize/dequantize keep everything but the storage.
static LogicalResult verifyStorageChange(Operation *op, CacheType from,
                                         CacheType to, bool toQuantized) {
  if (from.withStorage(to.getStorage()) != to)
    return op->emitOpError("may change only the storage of the cache; ")
           << "geometry, layout or policy differ between " << from << " and "
           << to;
  auto quantized = [](CacheType c) {
    return c.getQuantizedStorage() || c.getKiviStorage();
  };
  bool fromOk = toQuantized ? bool(from.getFloatStorage()) : quantized(from);
  bool toOk = toQuantized ? quantized(to) : bool(to.getFloatStorage());
  if (!fromOk || !toOk)
    return op->emitOpError(
        toQuantized ? "expects a float cache and a quantized result"
                    : "expects a quantized cache and a float result");
  return success();
}

LogicalResult QuantizeOp::verify() {
  return verifyStorageChange(*this, getCache().getType(), getType(), true);
}

LogicalResult DequantizeOp::verify() {
  return verifyStorageChange(*this, getCache().getType(), getType(), false);
}

LogicalResult RollbackOp::verify() {
  CacheType cache = getCache().getType();
  if (failed(verifyPositionCount(*this, getCount(), cache, "rollback count")))
    return failure();
  if (!cache.getKiviStorage() && !cache.getPolicy())
    return success();
  int64_t depth = cache.getRollbackDepth();
  if (depth == 0)
    return emitOpError("cannot roll back a cache with KIVI storage or an "
                       "eviction policy without an undo log: its type needs "
                       "rollback<N>");
  APInt count;
  if (matchPattern(getCount(), m_ConstantInt(&count)) &&
      count.getSExtValue() > depth)
    return emitOpError("rolls back ")
           << count.getSExtValue() << " positions, more than the undo log "
           << "of the cache holds (rollback<" << depth << ">)";
  return success();
}

LogicalResult ForkOp::verify() {
  return verifyPositionCount(*this, getPrefix(), getCache().getType(),
                             "fork prefix");
}

LogicalResult CompactOp::verify() {
  CacheType cache = getCache().getType();
  if (getRows().getType().getRank() != 1)
    return emitOpError("rows must be a 1-D tensor of row indices");
  if (cache.getKiviStorage() || cache.getPolicy() || cache.isPaged() ||
      !cache.getFloatStorage() || !cache.getFloatStorage().isF32())
    return emitOpError("needs a contiguous f32 cache, got ") << cache;
  return success();
}
