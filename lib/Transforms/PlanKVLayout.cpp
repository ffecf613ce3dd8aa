//===- PlanKVLayout.cpp - the llmc-plan-kv-layout pass --------------------===//
//
// Part of llmc. Chooses each KV cache's layout (contiguous or paged<B>) and
// capacity for a target and re-types the cache everywhere it occurs, with
// the machinery of the KV compression passes (retypeCaches). What a paged
// cache is at run time (block pool, block tables, copy-on-write forks) is
// described in docs/memory.md, "KV cache layout".
//
//===----------------------------------------------------------------------===//

#include "Compression/RetypeCaches.h"
#include "llmc/Transforms/Passes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

namespace llmc {
#define GEN_PASS_DEF_PLANKVLAYOUT
#include "llmc/Transforms/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

/// What a target prefers when the layout is `auto`, and its block size.
struct TargetDefaults {
  bool paged;
  int64_t blockSize;
};

std::optional<TargetDefaults> targetDefaults(StringRef target) {
  return llvm::StringSwitch<std::optional<TargetDefaults>>(target)
      .Case("cpu", TargetDefaults{false, 16})
      .Case("gpu", TargetDefaults{true, 16})
      .Case("fpga", TargetDefaults{false, 32})
      .Case("accel", TargetDefaults{true, 64})
      .Default(std::nullopt);
}

/// Whether the CPU lowering can page `cache` (llmc_attention_paged_f32).
bool cpuCanPage(kv::CacheType cache) {
  return cache.getFloatStorage() && cache.getFloatStorage().isF32() &&
         !cache.getPolicy() && cache.getRollbackDepth() == 0;
}

struct PlanKVLayoutPass : llmc::impl::PlanKVLayoutBase<PlanKVLayoutPass> {
  using PlanKVLayoutBase::PlanKVLayoutBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    auto error = [&](Location loc) {
      return emitError(loc) << "llmc-plan-kv-layout: ";
    };
    // Options first: one line naming the bad one.
    std::optional<TargetDefaults> defaults = targetDefaults(target);
    if (!defaults) {
      error(module.getLoc()) << "unknown target='" << target
                             << "' (expected cpu, gpu, fpga or accel)";
      return signalPassFailure();
    }
    if (layout != "auto" && layout != "contiguous" && layout != "paged") {
      error(module.getLoc()) << "unknown layout='" << layout
                             << "' (expected auto, contiguous or paged)";
      return signalPassFailure();
    }
    if (blockSize < 0 || context < 0 || budget < 0) {
      error(module.getLoc())
          << (blockSize < 0 ? "block-size=" + std::to_string(blockSize)
              : context < 0 ? "context=" + std::to_string(context)
                            : "budget=" + std::to_string(budget))
          << " must not be negative";
      return signalPassFailure();
    }
    if (blockSize > 0 && layout == "contiguous") {
      error(module.getLoc()) << "block-size=" << int64_t(blockSize)
                             << " needs layout=paged or auto, not contiguous";
      return signalPassFailure();
    }
    int64_t block = blockSize > 0 ? int64_t(blockSize) : defaults->blockSize;
    // Plain values: the option wrappers do not print as numbers.
    int64_t contextN = context, budgetN = budget;

    DictionaryAttr decision;
    auto retype = [&](kv::CacheType cache, Location loc) -> kv::CacheType {
      bool paged = layout == "paged" || (layout == "auto" && defaults->paged);
      if (layout == "auto" && target == "cpu" && !cpuCanPage(cache))
        paged = false;
      if (paged && target == "cpu" && !cpuCanPage(cache)) {
        error(loc) << "layout=paged on target=cpu needs an f32 cache "
                      "without an eviction policy or undo log, not "
                   << cache;
        return {};
      }
      int64_t unit = paged ? block : 1;
      double perPosition = cache.getBytesPerPosition();
      int64_t capacity = cache.getCapacity();
      if (context > 0)
        capacity = llvm::alignTo(int64_t(context), unit);
      if (budget > 0) {
        int64_t fits = int64_t(double(budget) / perPosition) / unit * unit;
        if (fits < unit) {
          error(loc) << "budget=" << budgetN << " holds no "
                     << (paged ? "block of " + std::to_string(block) +
                                     " positions"
                               : std::string("position"))
                     << " of " << cache << " ("
                     << llvm::formatv("{0}", perPosition).str()
                     << " bytes per position)";
          return {};
        }
        if (context > 0 && capacity > fits) {
          error(loc) << "context=" << contextN << " needs "
                     << int64_t(double(capacity) * perPosition)
                     << " bytes of cache, over budget=" << budgetN;
          return {};
        }
        if (context == 0)
          capacity = fits;
      }
      if (paged && capacity % block != 0) {
        error(loc) << "block-size=" << block << " does not divide the capacity "
                   << capacity << " of " << cache
                   << " (give context or budget)";
        return {};
      }
      kv::CacheType planned = kv::CacheType::getChecked(
          [&] { return error(loc); }, ctx, cache.getLayers(),
          cache.getKvHeads(), capacity, cache.getHeadDim(), cache.getStorage(),
          paged ? block : 0, cache.getPolicy(), cache.getRollbackDepth());
      if (!planned)
        return {};
      Builder b(ctx);
      SmallVector<NamedAttribute> fields = {
          b.getNamedAttr("target", b.getStringAttr(target)),
          b.getNamedAttr("layout",
                         b.getStringAttr(paged ? "paged" : "contiguous")),
          b.getNamedAttr("block", b.getI64IntegerAttr(paged ? block : 0)),
          b.getNamedAttr("capacity", b.getI64IntegerAttr(capacity)),
          b.getNamedAttr("blocks",
                         b.getI64IntegerAttr(paged ? capacity / block : 0)),
          b.getNamedAttr("bytes", b.getI64IntegerAttr(
                                      int64_t(double(capacity) * perPosition))),
          b.getNamedAttr("bytes_per_position", b.getF64FloatAttr(perPosition))};
      // The first cache's decision (a draft model's cache is planned alike).
      if (!decision)
        decision = b.getDictionaryAttr(fields);
      return planned;
    };
    if (failed(retypeCaches(module, retype)))
      return signalPassFailure();
    if (!decision)
      return;
    module->setAttr(kKVLayoutAttr, decision);
    if (report)
      emitRemark(module.getLoc()) << "KV layout: " << decision;
  }
};

} // namespace
