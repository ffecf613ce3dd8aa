//===- KVEvict.cpp - the llmc-kv-evict pass -------------------------------===//
//
// Part of llmc. Bounds every f32 KV cache of the module by an eviction
// policy: the cache type gets the `#kv.policy` and a capacity equal to the
// largest per-layer budget, so that the memory a sequence needs no longer
// grows with its length. Which positions survive is decided at run time by
// the attention kernel the lowering emits (llmc_attention_evict, or
// llmc_attention_kivi_evict for a KIVI cache, which then evicts whole token
// groups; llmc-kv-quantize may run before or after this pass).
//
//===----------------------------------------------------------------------===//

#include "RetypeCaches.h"
#include "llmc/Transforms/Compression/Passes.h"
#include <algorithm>

namespace llmc {
#define GEN_PASS_DEF_KVEVICT
#include "llmc/Transforms/Compression/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

struct KVEvictPass : llmc::impl::KVEvictBase<KVEvictPass> {
  using KVEvictBase::KVEvictBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    auto emit = [&](Location loc) {
      return [loc] { return emitError(loc) << "llmc-kv-evict: "; };
    };
    std::optional<kv::PolicyKind> kind = kv::symbolizePolicyKind(policy);
    if (!kind) {
      emit(module.getLoc())() << "unknown policy '" << policy
                              << "' (expected window, h2o or snapkv)";
      return signalPassFailure();
    }
    bool isWindow = *kind == kv::PolicyKind::Window;
    bool isSnap = *kind == kv::PolicyKind::SnapKV;
    int64_t heavyPart = isWindow ? 0 : int64_t(heavy);
    SmallVector<int64_t> budgets(layerBudgets.begin(), layerBudgets.end());
    auto attr = kv::PolicyAttr::getChecked(
        emit(module.getLoc()), ctx, *kind, int64_t(sinks),
        // SnapKV's recent part is its observation window.
        isSnap ? int64_t(0) : int64_t(recent), heavyPart, isSnap ? int64_t(observe) : int64_t(0),
        isSnap ? int64_t(pool) : int64_t(1), ArrayRef<int64_t>(budgets));
    if (!attr)
      return signalPassFailure();
    // What a layer keeps beyond its budget's fixed part must be positive:
    // the window's recent part, or the heavy hitters.
    int64_t fixed = isWindow ? int64_t(sinks)
                    : isSnap ? int64_t(sinks + observe)
                             : int64_t(sinks + recent);
    for (int64_t budget : attr.getLayerBudgets())
      if (budget <= fixed) {
        emit(module.getLoc())()
            << "layer budget " << budget << " leaves no room beyond the "
            << fixed << " positions of sinks"
            << (isWindow ? "" : isSnap ? " and observation" : " and recent")
            << " window";
        return signalPassFailure();
      }
    int64_t slots = attr.getBudget();
    if (!attr.getLayerBudgets().empty())
      slots = *llvm::max_element(attr.getLayerBudgets());

    auto retype = [&](kv::CacheType cache, Location loc) -> kv::CacheType {
      FloatType storage = cache.getFloatStorage();
      if (!cache.getKiviStorage() && (!storage || !storage.isF32())) {
        emit(loc)() << "the cache " << cache
                    << " is neither f32 nor KIVI; eviction applies to f32 "
                       "and KIVI caches";
        return {};
      }
      if (cache.getPolicy()) {
        emit(loc)() << "the cache " << cache << " already has a policy";
        return {};
      }
      if (cache.isPaged()) {
        emit(loc)() << "paged caches are not evicted yet";
        return {};
      }
      if (slots > cache.getCapacity()) {
        emit(loc)() << "the policy keeps " << slots
                    << " positions per layer but the cache holds only "
                    << cache.getCapacity() << " (the context)";
        return {};
      }
      if (!attr.getLayerBudgets().empty() &&
          int64_t(attr.getLayerBudgets().size()) != cache.getLayers()) {
        emit(loc)() << attr.getLayerBudgets().size()
                    << " layer budgets for a cache of " << cache.getLayers()
                    << " layers";
        return {};
      }
      return kv::CacheType::getChecked(
          emit(loc), ctx, cache.getLayers(), cache.getKvHeads(), slots,
          cache.getHeadDim(), cache.getStorage(), cache.getBlockSize(), attr);
    };
    if (failed(retypeCaches(module, retype)))
      signalPassFailure();
  }
};

} // namespace
