//===- SpeculativeDecode.cpp - the llmc-speculative-decode pass -----------===//
//
// Part of llmc. Builds @spec_step out of the module's own step functions:
// the drafter (a model-free lookup, or @decode with layers removed, cloned
// k times), the verification (the body of @prefill on the last token and
// the draft), greedy acceptance and the cache rollback are all IR, so every
// target that lowers the step functions gets speculative decoding, and the
// pass can refuse what it cannot make exact.
//
//===----------------------------------------------------------------------===//

#include "dialects/kv/KVOps.h"
#include "dialects/llm/LLMOps.h"
#include "llmc/Transforms/Speculative/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include <set>

namespace llmc {
#define GEN_PASS_DEF_SPECULATIVEDECODE
#include "llmc/Transforms/Speculative/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

/// Clones the body of `func` (one block) at the builder's insertion point
/// with its arguments bound to `args` (`onClone` sees each cloned op);
/// returns the values it returns.
SmallVector<Value> inlineBody(
    OpBuilder &b, func::FuncOp func, ValueRange args,
    llvm::function_ref<void(Operation *)> onClone = nullptr) {
  IRMapping mapping;
  Block &body = func.getBody().front();
  mapping.map(body.getArguments(), args);
  for (Operation &op : body.without_terminator()) {
    Operation *clone = b.clone(op, mapping);
    if (onClone)
      onClone(clone);
  }
  SmallVector<Value> results;
  for (Value v : body.getTerminator()->getOperands())
    results.push_back(mapping.lookup(v));
  return results;
}

/// The residual stream entering each layer of a step function, found from
/// the decoder's structure rather than weight names: layer l's input is
/// what its attention's output projection is added to (attention -> linear
/// -> add(x_l, .)), and at index `layers` the stream leaving the last layer
/// is the input of the norm before the LM head. Null where not found.
SmallVector<Value> residualStream(func::FuncOp func, int64_t layers) {
  SmallVector<Value> stream(size_t(layers + 1));
  func.walk([&](llm::AttentionOp attention) {
    int64_t layer = int64_t(attention.getLayer());
    if (layer < 0 || layer >= layers)
      return;
    for (Operation *projection : attention.getResult().getUsers()) {
      if (!isa<llm::LinearOp>(projection))
        continue;
      for (Operation *user : projection->getResult(0).getUsers())
        if (auto add = dyn_cast<llm::AddOp>(user))
          stream[size_t(layer)] = add.getLhs() == projection->getResult(0)
                                      ? add.getRhs()
                                      : add.getLhs();
    }
  });
  func.walk([&](llm::LMHeadOp head) {
    if (auto norm = head.getInput().getDefiningOp<llm::RMSNormOp>())
      stream[size_t(layers)] = norm.getInput();
  });
  return stream;
}

/// Erases side-effect-free ops of `func` whose results are unused, until
/// none is left.
void eraseDeadOps(func::FuncOp func) {
  bool changed = true;
  while (changed) {
    changed = false;
    SmallVector<Operation *> dead;
    func.walk([&](Operation *op) {
      if (op != func && !op->hasTrait<OpTrait::IsTerminator>() &&
          op->use_empty() && isMemoryEffectFree(op))
        dead.push_back(op);
    });
    for (Operation *op : llvm::reverse(dead))
      op->erase();
    changed = !dead.empty();
  }
}

/// Removes the layers in `skipped` from a clone of a step function: each
/// skipped layer's output is replaced by its input (the residual stream
/// passes through) and its attention's new cache by the old one, then the
/// layer's ops are dead.
LogicalResult removeLayers(func::FuncOp func, const std::set<int64_t> &skipped,
                         int64_t layers) {
  SmallVector<Value> stream = residualStream(func, layers);
  for (int64_t l : skipped)
    if (!stream[size_t(l)] || !stream[size_t(l + 1)])
      return func.emitError("llmc-speculative-decode: cannot find the "
                            "residual stream around layer ")
             << l
             << " (expected attention -> linear -> add into the stream, and "
                "a norm before the LM head)";
  func.walk([&](llm::AttentionOp attention) {
    if (skipped.count(int64_t(attention.getLayer())))
      attention.getNewCache().replaceAllUsesWith(attention.getCache());
  });
  // Highest first, so that a run of skipped layers collapses onto the input
  // of its first layer.
  for (int64_t l : llvm::reverse(skipped))
    stream[size_t(l + 1)].replaceAllUsesWith(stream[size_t(l)]);
  eraseDeadOps(func);
  return success();
}

std::string describe(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

struct SpeculativeDecodePass
    : llmc::impl::SpeculativeDecodeBase<SpeculativeDecodePass> {
  using SpeculativeDecodeBase::SpeculativeDecodeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      emitError(module.getLoc()) << "llmc-speculative-decode: " << message;
      signalPassFailure();
    };
    if (drafter != "ngram" && drafter != "skip" && drafter != "exit" &&
        drafter != "model")
      return fail("unknown drafter '" + drafter +
                  "' (expected ngram, skip, exit or model)");
    if (k < 1 || k > 15)
      return fail("k must be in [1, 15], got " + Twine(int64_t(k)));
    if (ngram < 1)
      return fail("ngram must be >= 1, got " + Twine(int64_t(ngram)));
    if (treeWidth < 1)
      return fail("tree-width must be >= 1, got " + Twine(int64_t(treeWidth)));
    bool tree = treeWidth > 1;
    if (tree && drafter != "ngram")
      return fail("token trees (tree-width > 1) are drafted by the ngram "
                  "drafter only");
    auto prefill = module.lookupSymbol<func::FuncOp>("prefill");
    auto decode = module.lookupSymbol<func::FuncOp>("decode");
    if (!prefill || !decode)
      return fail("the module needs @prefill and @decode step functions");
    if (module.lookupSymbol("spec_step"))
      return fail("the module already has @spec_step");
    FunctionType prefillType = prefill.getFunctionType();
    auto cacheType = prefillType.getNumInputs() == 3
                         ? dyn_cast<kv::CacheType>(prefillType.getInput(1))
                         : kv::CacheType();
    auto logitsType =
        prefillType.getNumResults() == 2
            ? dyn_cast<RankedTensorType>(prefillType.getResult(0))
            : RankedTensorType();
    if (!cacheType || !logitsType || logitsType.getRank() != 2 ||
        !isa<FloatType>(logitsType.getElementType()))
      return fail("@prefill is not (ids, cache, pos) -> (logits, cache)");
    bool lastOnly = false;
    prefill.walk([&](llm::LMHeadOp head) { lastOnly |= head.getLastOnly(); });
    if (lastOnly || !logitsType.isDynamicDim(0))
      return fail("verification needs the logits of every row, but @prefill "
                  "returns only the last row's (llm.lm_head last_only)");
    // A float contiguous cache rolls back by its position. KIVI and evicting
    // caches keep state beyond their positions (flushed groups, evicted
    // slots, attention masses): they get an undo log of the verification's
    // k + 1 rows (rollback<k + 1>, in every step function's cache type).
    bool needsLog = cacheType.getKiviStorage() || cacheType.getPolicy();
    if (cacheType.isPaged() || (needsLog ? !kv::byteCacheSize(cacheType)
                                         : !cacheType.getFloatStorage()))
      return fail("the cache " + describe(cacheType) +
                  " cannot be rolled back exactly (supported: contiguous "
                  "f32/f16/bf16, KIVI, and f32 or KIVI under an eviction "
                  "policy; not paged or #qmm.format caches)");
    if (needsLog && cacheType.getRollbackDepth() < k + 1) {
      kv::CacheType logged = cacheType.withRollbackDepth(k + 1);
      kv::replaceCacheType(module, cacheType, logged);
      cacheType = logged;
    }
    if (tree && (needsLog || !cacheType.getFloatStorage() ||
                 !cacheType.getFloatStorage().isF32()))
      return fail("a token tree's verification needs a contiguous f32 cache, "
                  "not " + describe(cacheType));
    int64_t layers = cacheType.getLayers();

    // A separate draft model: its own step functions and cache.
    func::FuncOp draftPrefill, draftDecode;
    kv::CacheType draftCacheType;
    if (drafter == "model") {
      draftPrefill = module.lookupSymbol<func::FuncOp>("draft_prefill");
      draftDecode = module.lookupSymbol<func::FuncOp>("draft_decode");
      if (!draftPrefill || !draftDecode)
        return fail("the model drafter needs the draft model's step "
                    "functions @draft_prefill and @draft_decode");
      FunctionType type = draftPrefill.getFunctionType();
      draftCacheType = type.getNumInputs() == 3
                           ? dyn_cast<kv::CacheType>(type.getInput(1))
                           : kv::CacheType();
      auto draftLogits = type.getNumResults() == 2
                             ? dyn_cast<RankedTensorType>(type.getResult(0))
                             : RankedTensorType();
      if (!draftCacheType || !draftLogits || draftLogits.getRank() != 2)
        return fail("@draft_prefill is not (ids, cache, pos) -> (logits, "
                    "cache)");
      if (draftLogits.getDimSize(1) != logitsType.getDimSize(1))
        return fail("the draft model's vocabulary (" +
                    Twine(draftLogits.getDimSize(1)) +
                    " tokens) is not the target's (" +
                    Twine(logitsType.getDimSize(1)) + ")");
      if (draftCacheType.getCapacity() < cacheType.getCapacity())
        return fail("the draft model's cache holds " +
                    Twine(draftCacheType.getCapacity()) +
                    " positions, fewer than the target's " +
                    Twine(cacheType.getCapacity()));
      if (draftCacheType.getKiviStorage() || draftCacheType.getPolicy() ||
          draftCacheType.isPaged() || !draftCacheType.getFloatStorage())
        return fail("the draft model's cache " + describe(draftCacheType) +
                    " must be a contiguous float cache");
    }

    std::set<int64_t> skipped;
    if (drafter == "skip") {
      skipped.insert(skipLayers.begin(), skipLayers.end());
      if (skipped.empty())
        return fail("the skip drafter needs skip-layers");
    } else if (drafter == "exit") {
      if (exitLayer < 1 || exitLayer >= layers)
        return fail("exit-layer must be in [1, " + Twine(layers - 1) +
                    "], got " + Twine(int64_t(exitLayer)));
      for (int64_t l = exitLayer; l < layers; ++l)
        skipped.insert(l);
    }
    for (int64_t l : skipped)
      if (l < 0 || l >= layers)
        return fail("skipped layer " + Twine(l) + " is not one of the " +
                    Twine(layers) + " layers");
    if (int64_t(skipped.size()) == layers)
      return fail("the draft would skip every layer");

    MLIRContext *ctx = module.getContext();
    OpBuilder b(ctx);
    Location loc = decode.getLoc();
    // The draft model: @decode without the skipped layers, as a temporary
    // function whose body is cloned into the step k times.
    func::FuncOp draftModel;
    if (!skipped.empty()) {
      b.setInsertionPointToEnd(module.getBody());
      draftModel = cast<func::FuncOp>(b.clone(*decode));
      draftModel.setName("spec_draft_model");
      if (failed(removeLayers(draftModel, skipped, layers))) {
        draftModel.erase();
        return signalPassFailure();
      }
    }

    auto i32 = b.getI32Type();
    int64_t dyn = ShapedType::kDynamic;
    auto historyType = RankedTensorType::get({dyn}, i32);
    auto tokensType = RankedTensorType::get({int64_t(k) + 1}, i32);
    auto countType = RankedTensorType::get({2}, i32);
    b.setInsertionPointAfter(decode);
    SmallVector<Type> inputs = {historyType,        cacheType,
                                b.getIndexType(),   b.getIndexType(),
                                b.getF64Type(),     b.getI64Type(),
                                b.getF64Type(),     b.getI64Type()};
    SmallVector<Type> outputs = {tokensType, countType, cacheType};
    if (draftCacheType) {
      // The draft model's cache and the position up to which it is valid.
      inputs.append({draftCacheType, b.getIndexType()});
      outputs.push_back(draftCacheType);
    }
    auto step = func::FuncOp::create(b, loc, "spec_step",
                                     b.getFunctionType(inputs, outputs));
    step->setAttr(llm::kSpeculativeStepAttr, b.getUnitAttr());
    if (draftCacheType)
      step.setArgAttr(8, llm::kDraftCacheAttr, b.getUnitAttr());
    Block *entry = step.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value history = entry->getArgument(0), cache = entry->getArgument(1),
          pos = entry->getArgument(2), limit = entry->getArgument(3);
    Value draftCache = draftCacheType ? entry->getArgument(8) : Value();
    auto index = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    Value one = index(1);
    OpFoldResult zeroAttr = b.getIndexAttr(0), oneAttr = b.getIndexAttr(1);
    Value last = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({1}, i32), history,
        ArrayRef<OpFoldResult>{pos}, ArrayRef<OpFoldResult>{oneAttr},
        ArrayRef<OpFoldResult>{oneAttr});

    // 1. Draft.
    Value draft, count, parents;
    if (tree) {
      Value length = arith::AddIOp::create(b, loc, pos, one);
      auto op = llm::NgramTreeDraftOp::create(
          b, loc, RankedTensorType::get({int64_t(k)}, i32),
          RankedTensorType::get({int64_t(k)}, i32), b.getIndexType(), history,
          length, b.getI64IntegerAttr(ngram), b.getI64IntegerAttr(k),
          b.getI64IntegerAttr(treeWidth));
      draft = op.getDraft();
      parents = op.getParents();
      // Any prefix of the nodes is a tree. (At most k: the bound makes the
      // verification's rows visibly bounded, for llmc-plan-memory.)
      count = arith::MinUIOp::create(
          b, loc, arith::MinUIOp::create(b, loc, op.getCount(), limit),
          index(k));
    } else if (drafter == "ngram") {
      Value length = arith::AddIOp::create(b, loc, pos, one);
      auto op = llm::NgramDraftOp::create(
          b, loc, RankedTensorType::get({int64_t(k)}, i32), b.getIndexType(),
          history, length, b.getI64IntegerAttr(ngram), b.getI64IntegerAttr(k));
      draft = op.getDraft();
      count = arith::MinUIOp::create(
          b, loc, arith::MinUIOp::create(b, loc, op.getCount(), limit),
          index(k));
    } else {
      // Draft step i runs only when i < limit (the runtime's draft length
      // for this step); a skipped step passes its token and cache through.
      auto tokenType = RankedTensorType::get({1}, i32);
      // The greedy token of a step function's logits (or the token it
      // chose itself).
      auto choose = [&](Value out) -> Value {
        auto type = cast<RankedTensorType>(out.getType());
        if (!isa<FloatType>(type.getElementType()))
          return out;
        if (type.getRank() == 2 && type.getDimSize(0) != 1) {
          // Several rows (a prefill): the last one's.
          Value rows = tensor::DimOp::create(b, loc, out, 0);
          Value lastRow = arith::SubIOp::create(b, loc, rows, one);
          out = tensor::ExtractSliceOp::create(
              b, loc, RankedTensorType::get({1, type.getDimSize(1)},
                                            type.getElementType()),
              out, ArrayRef<OpFoldResult>{lastRow, zeroAttr},
              ArrayRef<OpFoldResult>{oneAttr, b.getIndexAttr(type.getDimSize(1))},
              ArrayRef<OpFoldResult>{oneAttr, oneAttr});
        }
        return llm::ArgmaxOp::create(b, loc, tokenType, out).getResult();
      };
      // Self-speculation drafts in the target's cache (the verification
      // overwrites those positions); a draft model in its own.
      Value &draftIn = draftCache ? draftCache : cache;
      Value token = last;
      SmallVector<Value> drafted;
      for (int64_t i = 0; i < k; ++i) {
        Value run = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          index(i), limit);
        auto ifOp = scf::IfOp::create(
            b, loc, TypeRange{tokenType, draftIn.getType()}, run,
            /*withElseRegion=*/true);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        Value at = i == 0 ? pos : arith::AddIOp::create(b, loc, pos, index(i));
        SmallVector<Value> results;
        if (draftCache && i == 0) {
          // Catch the draft model up: history[draft_pos, pos] (the tokens
          // it has not seen, the last one included) in one prefill.
          Value from = entry->getArgument(9);
          Value length = arith::SubIOp::create(
              b, loc, arith::AddIOp::create(b, loc, pos, one), from);
          Value unseen = tensor::ExtractSliceOp::create(
              b, loc, historyType, history, ArrayRef<OpFoldResult>{from},
              ArrayRef<OpFoldResult>{length}, ArrayRef<OpFoldResult>{oneAttr});
          results = inlineBody(b, draftPrefill, {unseen, draftIn, from});
        } else {
          results = inlineBody(b, draftCache ? draftDecode : draftModel,
                               {token, draftIn, at});
        }
        scf::YieldOp::create(b, loc, ValueRange{choose(results[0]),
                                                results[1]});
        b.setInsertionPointToStart(&ifOp.getElseRegion().front());
        scf::YieldOp::create(b, loc, ValueRange{token, draftIn});
        b.setInsertionPointAfter(ifOp);
        token = ifOp.getResult(0);
        draftIn = ifOp.getResult(1);
        drafted.push_back(tensor::ExtractOp::create(b, loc, token,
                                                    ValueRange{index(0)}));
      }
      draft = tensor::FromElementsOp::create(
          b, loc, RankedTensorType::get({int64_t(k)}, i32), drafted);
      count = arith::MinUIOp::create(b, loc, index(k), limit);
      if (draftModel)
        draftModel.erase();
    }

    // 2. Verify: the last token and the draft in one call of the target.
    Value rows = arith::AddIOp::create(b, loc, count, one);
    Value ids =
        tensor::EmptyOp::create(b, loc, ArrayRef<OpFoldResult>{rows}, i32);
    ids = tensor::InsertSliceOp::create(
        b, loc, last, ids, ArrayRef<OpFoldResult>{zeroAttr},
        ArrayRef<OpFoldResult>{oneAttr}, ArrayRef<OpFoldResult>{oneAttr});
    Value drafted = tensor::ExtractSliceOp::create(
        b, loc, historyType, draft, ArrayRef<OpFoldResult>{zeroAttr},
        ArrayRef<OpFoldResult>{count}, ArrayRef<OpFoldResult>{oneAttr});
    ids = tensor::InsertSliceOp::create(
        b, loc, drafted, ids, ArrayRef<OpFoldResult>{oneAttr},
        ArrayRef<OpFoldResult>{count}, ArrayRef<OpFoldResult>{oneAttr});
    // A tree: row 0 (the last token) is the root, row i + 1 node i.
    Value rowParents;
    if (tree) {
      rowParents =
          tensor::EmptyOp::create(b, loc, ArrayRef<OpFoldResult>{rows}, i32);
      Value root = arith::ConstantOp::create(
          b, loc,
          DenseIntElementsAttr::get(RankedTensorType::get({1}, i32),
                                    ArrayRef<int32_t>{-1}));
      rowParents = tensor::InsertSliceOp::create(
          b, loc, root, rowParents, ArrayRef<OpFoldResult>{zeroAttr},
          ArrayRef<OpFoldResult>{oneAttr}, ArrayRef<OpFoldResult>{oneAttr});
      Value nodeParents = tensor::ExtractSliceOp::create(
          b, loc, historyType, parents, ArrayRef<OpFoldResult>{zeroAttr},
          ArrayRef<OpFoldResult>{count}, ArrayRef<OpFoldResult>{oneAttr});
      rowParents = tensor::InsertSliceOp::create(
          b, loc, nodeParents, rowParents, ArrayRef<OpFoldResult>{oneAttr},
          ArrayRef<OpFoldResult>{count}, ArrayRef<OpFoldResult>{oneAttr});
    }
    SmallVector<Value> verified =
        inlineBody(b, prefill, {ids, cache, pos}, [&](Operation *op) {
          if (!rowParents)
            return;
          if (auto rope = dyn_cast<llm::RoPEOp>(op))
            rope.getTreeMutable().assign(rowParents);
          if (auto attention = dyn_cast<llm::AttentionOp>(op))
            attention.getTreeMutable().assign(rowParents);
        });

    // 3. Accept (greedy at temperature 0, else the rejection rule); 4. roll
    // back the positions of rejected draft tokens.
    Value emitted, acceptedCount, verifiedCache = verified[1];
    ValueRange sampling = entry->getArguments().slice(4, 4);
    if (tree) {
      // A tree: the accepted path's rows move to pos, pos + 1, ... first.
      auto accept = llm::SpecAcceptTreeOp::create(
          b, loc, tokensType, tokensType, b.getIndexType(), draft, parents,
          count, verified[0], sampling[0], sampling[1], sampling[2],
          sampling[3]);
      emitted = accept.getTokens();
      acceptedCount = accept.getAccepted();
      verifiedCache = kv::CompactOp::create(b, loc, cacheType, verifiedCache,
                                            pos, accept.getPath(),
                                            acceptedCount);
    } else {
      auto accept = llm::SpecAcceptOp::create(
          b, loc, tokensType, b.getIndexType(), draft, count, verified[0],
          sampling[0], sampling[1], sampling[2], sampling[3]);
      emitted = accept.getTokens();
      acceptedCount = accept.getAccepted();
    }
    Value rejected = arith::SubIOp::create(b, loc, rows, acceptedCount);
    Value rolledBack =
        kv::RollbackOp::create(b, loc, cacheType, verifiedCache, rejected);
    // [accepted tokens, drafted tokens]: the runtime's statistics.
    Value accepted = tensor::FromElementsOp::create(
        b, loc, countType,
        ValueRange{arith::IndexCastOp::create(b, loc, i32, acceptedCount),
                   arith::IndexCastOp::create(b, loc, i32, count)});
    SmallVector<Value> results = {emitted, accepted, rolledBack};
    // The draft model's cache is valid up to pos + 1 + min(accepted drafts,
    // drafted - 1); the runtime keeps that position and passes it back.
    if (draftCache) {
      results.push_back(draftCache);
      draftPrefill.erase();
      draftDecode.erase();
    }
    func::ReturnOp::create(b, loc, results);
  }
};

} // namespace
