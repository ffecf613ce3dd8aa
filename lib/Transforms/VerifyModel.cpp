//===- VerifyModel.cpp - whole-model checks and shape refinement ----------===//
//
// Part of llmc. Op verifiers see one op; this pass sees the decoder graph:
// how the KV cache is threaded through a step, which layers it attends, and
// whether the configuration is the same everywhere. It then propagates static
// shapes through llm ops.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "llmc/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace llmc {
#define GEN_PASS_DEF_VERIFYMODEL
#include "llmc/Transforms/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

/// Uses that only read a cache value; every other use consumes it.
bool isCacheRead(Operation *user) {
  return isa<kv::ViewOp, kv::LengthOp, kv::ForkOp>(user);
}

/// Whether `a` and `b` sit in different branches of one scf.if, so that at
/// most one of them runs.
bool inExclusiveBranches(Operation *a, Operation *b) {
  for (Region *region = a->getParentRegion(); region;
       region = region->getParentRegion()) {
    auto ifOp = dyn_cast_or_null<scf::IfOp>(region->getParentOp());
    if (!ifOp)
      continue;
    Region *other = region == &ifOp.getThenRegion() ? &ifOp.getElseRegion()
                                                    : &ifOp.getThenRegion();
    if (other->isAncestor(b->getParentRegion()))
      return true;
  }
  return false;
}

/// The op that continues the chain from `cache` and the cache it produces.
/// A cache yielded by a branch of scf.if continues as the if's result; a
/// branch that updates the cache is followed rather than one that passes
/// it through.
std::pair<Operation *, Value> nextInChain(Value cache) {
  std::pair<Operation *, Value> passedThrough = {nullptr, Value()};
  for (OpOperand &use : cache.getUses()) {
    Operation *user = use.getOwner();
    if (isCacheRead(user))
      continue;
    if (auto ifOp = dyn_cast<scf::IfOp>(user->getParentOp());
        ifOp && isa<scf::YieldOp>(user)) {
      passedThrough = {ifOp, ifOp.getResult(use.getOperandNumber())};
      continue;
    }
    for (Value result : user->getResults())
      if (isa<kv::CacheType>(result.getType()))
        return {user, result};
    return {user, Value()};
  }
  return passedThrough;
}

/// At most one consumer per cache value, and reads only before it.
LogicalResult checkCacheUses(Value cache) {
  Operation *consumer = nullptr;
  for (Operation *user : cache.getUsers()) {
    if (isCacheRead(user))
      continue;
    if (!consumer) {
      consumer = user;
      continue;
    }
    if (inExclusiveBranches(user, consumer))
      continue;
    // One op taking the value twice (e.g. returning it twice) would own two
    // copies; "already updated by itself" would not say that.
    if (user == consumer)
      return user->emitOpError("uses a !kv.cache value twice; each use would "
                               "need its own copy of the whole cache (use "
                               "kv.fork to share a prefix)");
    // Report the later of the two in block order, where that is defined.
    Operation *first = consumer, *second = user;
    if (first->getBlock() == second->getBlock() &&
        second->isBeforeInBlock(first))
      std::swap(first, second);
    InFlightDiagnostic diag =
        second->emitOpError("updates a !kv.cache value that '")
        << first->getName()
        << "' already updated; two updates of one cache would need a copy "
           "of the whole cache (use kv.fork to share a prefix)";
    diag.attachNote(first->getLoc()) << "first update here";
    return failure();
  }
  if (!consumer)
    return success();
  for (Operation *user : cache.getUsers()) {
    if (!isCacheRead(user) || user->getBlock() != consumer->getBlock())
      continue;
    if (consumer->isBeforeInBlock(user)) {
      InFlightDiagnostic diag =
          user->emitOpError("reads a !kv.cache value after '")
          << consumer->getName()
          << "' updated it; read the updated cache instead";
      diag.attachNote(consumer->getLoc()) << "update here";
      return failure();
    }
  }
  return success();
}

/// Along the chain starting at `root`, attention layers increase and, if
/// any layer is attended, all are. In a speculative step (the function has
/// `llm.speculative`) the chain is several forward passes: a layer not
/// above the previous one starts a new pass, draft passes may leave layers
/// out (self-speculation skips them), and the last pass, the verification,
/// must attend every layer.
LogicalResult checkLayerCoverage(Value root, bool speculative) {
  auto cacheType = cast<kv::CacheType>(root.getType());
  SmallVector<llm::AttentionOp> attended;
  llvm::SmallPtrSet<Operation *, 16> seen;
  for (Value cache = root; cache;) {
    auto [op, next] = nextInChain(cache);
    if (!op || !seen.insert(op).second)
      break;
    if (auto attention = dyn_cast<llm::AttentionOp>(op)) {
      if (speculative && !attended.empty() &&
          int64_t(attention.getLayer()) <= int64_t(attended.back().getLayer()))
        attended.clear(); // a new forward pass
      if (!attended.empty() && int64_t(attention.getLayer()) <=
                                   int64_t(attended.back().getLayer())) {
        InFlightDiagnostic diag =
            attention.emitOpError("attends layer ")
            << attention.getLayer() << " after layer "
            << attended.back().getLayer()
            << " in the same step; layers must be attended once each, in "
               "order";
        diag.attachNote(attended.back().getLoc()) << "previous attention here";
        return failure();
      }
      attended.push_back(attention);
    }
    cache = next;
  }
  if (attended.empty() || int64_t(attended.size()) == cacheType.getLayers())
    return success();
  llvm::SmallBitVector covered(cacheType.getLayers());
  for (llm::AttentionOp attention : attended)
    covered.set(attention.getLayer());
  InFlightDiagnostic diag = attended.back().emitOpError("the step attends ")
                            << attended.size() << " of the cache's "
                            << cacheType.getLayers()
                            << " layers; never attended:";
  for (int64_t layer = 0; layer < cacheType.getLayers(); ++layer)
    if (!covered.test(layer))
      diag << " " << layer;
  return diag;
}

/// The configuration every attention and rope op of one model must share.
struct ModelConfig {
  llm::AttentionOp firstAttention;
  llm::RoPEOp firstRope;
};

/// The model an attention or rope op belongs to: the module's one, or a
/// separate draft model's (its step functions @draft_prefill /
/// @draft_decode, and in a speculative step the ops on the cache argument
/// marked llm.draft_cache), whose configuration may differ.
bool inDraftModel(Operation *op) {
  auto func = op->getParentOfType<func::FuncOp>();
  if (!func)
    return false;
  if (func.getSymName().starts_with("draft_"))
    return true;
  Type cache;
  if (auto attention = dyn_cast<llm::AttentionOp>(op))
    cache = attention.getCache().getType();
  for (Operation *user : op->getUsers())
    if (auto attention = dyn_cast<llm::AttentionOp>(user); attention && !cache)
      cache = attention.getCache().getType();
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
    if (func.getArgAttr(i, llm::kDraftCacheAttr) &&
        func.getArgumentTypes()[i] == cache)
      return true;
  return false;
}

LogicalResult checkConsistency(ModelConfig &config, Operation *op) {
  if (auto attention = dyn_cast<llm::AttentionOp>(op)) {
    llm::AttentionOp first = config.firstAttention;
    if (!first) {
      config.firstAttention = attention;
    } else if (first.getNumHeads() != attention.getNumHeads() ||
               first.getNumKvHeads() != attention.getNumKvHeads() ||
               first.getHeadDim() != attention.getHeadDim()) {
      InFlightDiagnostic diag =
          attention.emitOpError("has heads/kv_heads/head_dim ")
          << attention.getNumHeads() << "/" << attention.getNumKvHeads() << "/"
          << attention.getHeadDim() << " but the model's first attention has "
          << first.getNumHeads() << "/" << first.getNumKvHeads() << "/"
          << first.getHeadDim();
      diag.attachNote(first.getLoc()) << "first attention here";
      return failure();
    }
  }
  if (auto rope = dyn_cast<llm::RoPEOp>(op)) {
    llm::RoPEOp first = config.firstRope;
    if (!first) {
      config.firstRope = rope;
    } else if (first.getHeadDim() != rope.getHeadDim() ||
               first.getRotaryDims() != rope.getRotaryDims() ||
               first.getTheta() != rope.getTheta() ||
               first.getFreqScale() != rope.getFreqScale() ||
               first.getHalfSplit() != rope.getHalfSplit()) {
      InFlightDiagnostic diag = rope.emitOpError(
          "rope parameters differ from the model's first rope");
      diag.attachNote(first.getLoc()) << "first rope here";
      return failure();
    }
  }
  return success();
}

/// Rope must rotate heads of attention's head_dim. Checked once after the
/// walk: checked per op, the error would repeat for every later op.
LogicalResult checkRopeHeadDim(const ModelConfig &config) {
  llm::AttentionOp attention = config.firstAttention;
  llm::RoPEOp rope = config.firstRope;
  if (!attention || !rope || attention.getHeadDim() == rope.getHeadDim())
    return success();
  InFlightDiagnostic diag = rope.emitOpError("rope head_dim ")
                            << rope.getHeadDim()
                            << " differs from attention head_dim "
                            << attention.getHeadDim();
  diag.attachNote(attention.getLoc()) << "first attention here";
  return diag;
}

/// Verifies `op` alone, swallowing diagnostics.
bool verifiesQuietly(Operation *op) {
  ScopedDiagnosticHandler silence(op->getContext(),
                                  [](Diagnostic &) { return success(); });
  return succeeded(mlir::verify(op, /*verifyRecursively=*/false));
}

/// Propagates static shapes through llm ops in program order. A refined
/// result gets a tensor.cast back to its old type for its uses; later llm
/// ops look through those casts, and casts left unused are erased.
void refineFunctionShapes(func::FuncOp func) {
  llvm::SmallPtrSet<Operation *, 32> bridges;
  OpBuilder builder(func.getContext());
  func.walk([&](llm::ShapeRefinementOpInterface refinable) {
    Operation *op = refinable;
    SmallVector<std::pair<OpOperand *, Value>> oldOperands;
    for (OpOperand &operand : op->getOpOperands())
      if (auto cast = operand.get().getDefiningOp<tensor::CastOp>();
          cast && bridges.contains(cast)) {
        oldOperands.push_back({&operand, operand.get()});
        operand.set(cast.getSource());
      }
    SmallVector<Type> oldTypes(op->getResultTypes());
    SmallVector<Type> newTypes = refinable.inferRefinedResultTypes();
    for (auto [result, type] : llvm::zip(op->getResults(), newTypes))
      result.setType(type);
    if (!verifiesQuietly(op)) {
      for (auto [operand, value] : oldOperands)
        operand->set(value);
      for (auto [result, type] : llvm::zip(op->getResults(), oldTypes))
        result.setType(type);
      return;
    }
    builder.setInsertionPointAfter(op);
    for (auto [result, oldType] : llvm::zip(op->getResults(), oldTypes)) {
      if (result.getType() == oldType)
        continue;
      auto cast =
          tensor::CastOp::create(builder, op->getLoc(), oldType, result);
      result.replaceAllUsesExcept(cast, cast);
      bridges.insert(cast);
    }
  });
  for (Operation *cast : bridges)
    if (cast->use_empty())
      cast->erase();
}

/// Whether `cache` lives in a step marked llm.speculative.
bool isSpeculativeStep(Value cache) {
  auto func = cache.getParentRegion()->getParentOfType<func::FuncOp>();
  return func && func->hasAttr(llm::kSpeculativeStepAttr);
}

struct VerifyModelPass : llmc::impl::VerifyModelBase<VerifyModelPass> {
  using VerifyModelBase::VerifyModelBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool ok = true;
    // The model's configuration, and a separate draft model's.
    ModelConfig configs[2];

    SmallVector<Value> caches;
    module.walk([&](Operation *op) {
      if (isa<llm::AttentionOp, llm::RoPEOp>(op) &&
          failed(checkConsistency(configs[inDraftModel(op)], op)))
        ok = false;
      for (Region &region : op->getRegions())
        for (Block &block : region)
          for (BlockArgument arg : block.getArguments())
            if (isa<kv::CacheType>(arg.getType()))
              caches.push_back(arg);
      for (Value result : op->getResults())
        if (isa<kv::CacheType>(result.getType()))
          caches.push_back(result);
    });
    for (const ModelConfig &config : configs)
      if (failed(checkRopeHeadDim(config)))
        ok = false;
    for (Value cache : caches)
      if (failed(checkCacheUses(cache)))
        ok = false;
    if (ok)
      for (Value cache : caches)
        // Chains start where a cache enters: an argument, an alloc, a fork.
        if (isa<BlockArgument>(cache) ||
            isa<kv::AllocOp, kv::ForkOp>(cache.getDefiningOp()))
          if (failed(checkLayerCoverage(cache, isSpeculativeStep(cache))))
            ok = false;
    if (!ok)
      return signalPassFailure();

    if (refineShapes)
      module.walk([](func::FuncOp func) { refineFunctionShapes(func); });
    if (summary)
      emitSummary(module, configs[0]);
  }

  void emitSummary(ModuleOp module, const ModelConfig &config) {
    int64_t count = 0, bytes = 0;
    module.walk([&](llm::WeightOp weight) {
      ++count;
      bytes += weight.getByteSize();
    });
    InFlightDiagnostic remark = mlir::emitRemark(module.getLoc(), "model: ");
    if (llm::AttentionOp attention = config.firstAttention) {
      kv::CacheType cache = attention.getCache().getType();
      remark << cache.getLayers() << " layers, " << attention.getNumHeads()
             << " heads, " << attention.getNumKvHeads()
             << " kv heads, head_dim " << attention.getHeadDim()
             << ", cache capacity " << cache.getCapacity() << " ("
             << int64_t(cache.getBytesPerPosition()) << " bytes/position), ";
    } else {
      remark << "no attention, ";
    }
    remark << count << " weights (" << bytes << " bytes)";
  }
};

} // namespace
