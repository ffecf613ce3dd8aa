//===- KVQuantize.cpp - the llmc-kv-quantize pass -------------------------===//
//
// Part of llmc. Re-types every float KV cache of the module to KIVI storage.
// The cache is a typed value threaded through the step functions, so the
// rewrite is a type substitution everywhere it occurs (function types,
// block arguments, op results); what the storage means is left to the
// lowering (attention over a KIVI cache becomes llmc_attention_kivi, or
// llmc_attention_kivi_evict under an eviction policy, which the cache keeps:
// the two passes compose in either order).
//
//===----------------------------------------------------------------------===//

#include "RetypeCaches.h"
#include "llmc/Transforms/Compression/Passes.h"
#include "mlir/IR/AttrTypeSubElements.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/DenseMap.h"

namespace llmc {
#define GEN_PASS_DEF_KVQUANTIZE
#include "llmc/Transforms/Compression/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

LogicalResult llmc::retypeCaches(
    ModuleOp module,
    function_ref<kv::CacheType(kv::CacheType, Location)> retype) {
  llvm::DenseMap<Type, Type> retyped;
  bool failed = false;
  auto visit = [&](Type type, Location loc) {
    auto cache = dyn_cast<kv::CacheType>(type);
    if (!cache || retyped.count(cache) || failed)
      return;
    kv::CacheType next = retype(cache, loc);
    failed = !next;
    retyped[cache] = next;
  };
  module.walk([&](Operation *op) {
    if (auto func = dyn_cast<FunctionOpInterface>(op))
      for (Type type : llvm::concat<const Type>(func.getArgumentTypes(),
                                                func.getResultTypes()))
        visit(type, op->getLoc());
    for (Type type : op->getResultTypes())
      visit(type, op->getLoc());
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          visit(arg.getType(), arg.getLoc());
  });
  if (failed)
    return failure();
  AttrTypeReplacer replacer;
  replacer.addReplacement([&](kv::CacheType cache) -> std::optional<Type> {
    auto it = retyped.find(cache);
    return it == retyped.end() ? std::optional<Type>() : it->second;
  });
  replacer.recursivelyReplaceElementsIn(module, /*replaceAttrs=*/true,
                                        /*replaceLocs=*/false,
                                        /*replaceTypes=*/true);
  return success();
}

namespace {

struct KVQuantizePass : llmc::impl::KVQuantizeBase<KVQuantizePass> {
  using KVQuantizeBase::KVQuantizeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    auto emit = [&](Location loc) {
      return [loc] { return emitError(loc) << "llmc-kv-quantize: "; };
    };
    Attribute kivi =
        kv::KiviAttr::getChecked(emit(module.getLoc()), ctx, int64_t(bits),
                                 int64_t(group), int64_t(residual));
    if (!kivi)
      return signalPassFailure();
    auto retype = [&](kv::CacheType cache, Location loc) -> kv::CacheType {
      if (!cache.getFloatStorage()) {
        emit(loc)() << "the cache " << cache
                    << " is already quantized; llmc-kv-quantize takes a "
                       "float cache";
        return {};
      }
      return kv::CacheType::getChecked(
          emit(loc), ctx, cache.getLayers(), cache.getKvHeads(),
          cache.getCapacity(), cache.getHeadDim(), kivi, cache.getBlockSize(),
          cache.getPolicy());
    };
    if (failed(retypeCaches(module, retype)))
      signalPassFailure();
  }
};

} // namespace
