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
/// with its arguments bound to `args`; returns the values it returns.
SmallVector<Value> inlineBody(OpBuilder &b, func::FuncOp func,
                              ValueRange args) {
  IRMapping mapping;
  Block &body = func.getBody().front();
  mapping.map(body.getArguments(), args);
  for (Operation &op : body.without_terminator())
    b.clone(op, mapping);
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
    if (drafter != "ngram" && drafter != "skip" && drafter != "exit")
      return fail("unknown drafter '" + drafter +
                  "' (expected ngram, skip or exit)");
    if (k < 1 || k > 15)
      return fail("k must be in [1, 15], got " + Twine(int64_t(k)));
    if (ngram < 1)
      return fail("ngram must be >= 1, got " + Twine(int64_t(ngram)));
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
    if (cacheType.getKiviStorage() || cacheType.getPolicy() ||
        cacheType.isPaged() || !cacheType.getFloatStorage())
      return fail("the cache " + describe(cacheType) +
                  " keeps state beyond its positions (KIVI groups, eviction "
                  "slots or pages); rolling it back is not supported yet");
    int64_t layers = cacheType.getLayers();

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
    auto step = func::FuncOp::create(
        b, loc, "spec_step",
        b.getFunctionType({historyType, cacheType, b.getIndexType()},
                          {tokensType, countType, cacheType}));
    step->setAttr(llm::kSpeculativeStepAttr, b.getUnitAttr());
    Block *entry = step.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value history = entry->getArgument(0), cache = entry->getArgument(1),
          pos = entry->getArgument(2);
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
    Value draft, count;
    if (drafter == "ngram") {
      Value length = arith::AddIOp::create(b, loc, pos, one);
      auto op = llm::NgramDraftOp::create(
          b, loc, RankedTensorType::get({int64_t(k)}, i32), b.getIndexType(),
          history, length, b.getI64IntegerAttr(ngram), b.getI64IntegerAttr(k));
      draft = op.getDraft();
      count = op.getCount();
    } else {
      Value token = last;
      SmallVector<Value> drafted;
      for (int64_t i = 0; i < k; ++i) {
        Value at = i == 0 ? pos : arith::AddIOp::create(b, loc, pos, index(i));
        SmallVector<Value> results =
            inlineBody(b, draftModel, {token, cache, at});
        cache = results[1];
        // @decode returns logits, or a token it chose itself (greedily).
        token = isa<FloatType>(
                    cast<ShapedType>(results[0].getType()).getElementType())
                    ? llm::ArgmaxOp::create(
                          b, loc, RankedTensorType::get({1}, i32), results[0])
                          .getResult()
                    : results[0];
        drafted.push_back(tensor::ExtractOp::create(b, loc, token,
                                                    ValueRange{index(0)}));
      }
      draft = tensor::FromElementsOp::create(
          b, loc, RankedTensorType::get({int64_t(k)}, i32), drafted);
      count = index(k);
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
    SmallVector<Value> verified = inlineBody(b, prefill, {ids, cache, pos});
    Value target = llm::ArgmaxOp::create(b, loc, historyType, verified[0]);

    // 3. Accept; 4. roll back the positions of rejected draft tokens.
    auto accept = llm::SpecAcceptOp::create(b, loc, tokensType,
                                            b.getIndexType(), draft, count,
                                            target);
    Value rejected =
        arith::SubIOp::create(b, loc, rows, accept.getAccepted());
    Value rolledBack =
        kv::RollbackOp::create(b, loc, cacheType, verified[1], rejected);
    // [accepted tokens, drafted tokens]: the runtime's statistics.
    Value accepted = tensor::FromElementsOp::create(
        b, loc, countType,
        ValueRange{
            arith::IndexCastOp::create(b, loc, i32, accept.getAccepted()),
            arith::IndexCastOp::create(b, loc, i32, count)});
    func::ReturnOp::create(b, loc,
                           ValueRange{accept.getTokens(), accepted, rolledBack});
  }
};

} // namespace
