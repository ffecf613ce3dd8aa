//===- StepABI.cpp - fixed memref calling convention for step functions ---===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/Conversion/Passes.h"
#include "llmc/Target/CPU/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace llmc {
#define GEN_PASS_DEF_CPUSTEPABI
#include "llmc/Target/CPU/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

LogicalResult rewriteStep(func::FuncOp func) {
  MLIRContext *ctx = func.getContext();
  Block &entry = func.getBody().front();
  OpBuilder b(ctx);
  b.setInsertionPointToStart(&entry);
  auto returnOp = cast<func::ReturnOp>(func.getBody().back().getTerminator());

  // Each cache result is written into its cache argument: the k-th cache
  // result pairs with the first unpaired argument of its type, in order (a
  // speculative step with a draft model has two caches).
  DenseMap<unsigned, int> cacheArgOfResult;
  llvm::SmallDenseSet<unsigned> cacheArgs;
  for (unsigned r = 0, e = func.getNumResults(); r < e; ++r) {
    if (!func.getResultAttr(r, kCacheResultAttr))
      continue;
    for (BlockArgument arg : entry.getArguments())
      if (arg.getType() == func.getResultTypes()[r] &&
          !cacheArgs.contains(arg.getArgNumber())) {
        cacheArgs.insert(arg.getArgNumber());
        cacheArgOfResult[r] = int(arg.getArgNumber());
        break;
      }
  }

  // Arguments: tensors become memrefs read through to_tensor.
  SmallVector<Type> argTypes;
  for (BlockArgument arg : entry.getArguments()) {
    auto tensor = dyn_cast<RankedTensorType>(arg.getType());
    if (!tensor) {
      argTypes.push_back(arg.getType());
      continue;
    }
    bool isCache = cacheArgs.contains(arg.getArgNumber());
    auto memref = MemRefType::get(tensor.getShape(), tensor.getElementType());
    arg.setType(memref);
    auto toTensor = bufferization::ToTensorOp::create(
        b, func.getLoc(), tensor, arg, /*restrict=*/true, /*writable=*/isCache);
    arg.replaceAllUsesExcept(toTensor.getResult(), toTensor);
    argTypes.push_back(memref);
  }

  // Results: written into the cache argument or a new out-parameter.
  b.setInsertionPoint(returnOp);
  for (auto [index, value] : llvm::enumerate(returnOp.getOperands())) {
    auto tensor = dyn_cast<RankedTensorType>(value.getType());
    if (!tensor)
      return func.emitOpError("step result ")
             << index << " is not a tensor: " << value.getType();
    Value dest;
    if (auto it = cacheArgOfResult.find(unsigned(index));
        it != cacheArgOfResult.end()) {
      dest = entry.getArgument(unsigned(it->second));
    } else {
      auto memref = MemRefType::get(tensor.getShape(), tensor.getElementType());
      dest = entry.addArgument(memref, func.getLoc());
      argTypes.push_back(memref);
    }
    bufferization::MaterializeInDestinationOp::create(
        b, func.getLoc(), TypeRange{}, value, dest, /*restrict=*/true,
        /*writable=*/true);
  }
  func::ReturnOp::create(b, returnOp.getLoc());
  returnOp.erase();

  // Drop per-result attributes and set the new type.
  func.setAllResultAttrs(ArrayRef<DictionaryAttr>{});
  SmallVector<DictionaryAttr> argAttrs;
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
    argAttrs.push_back(func.getArgAttrDict(i));
  func.setType(FunctionType::get(ctx, argTypes, {}));
  argAttrs.resize(argTypes.size(), DictionaryAttr::get(ctx));
  func.setAllArgAttrs(argAttrs);
  func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                UnitAttr::get(ctx));
  return success();
}

struct CPUStepABIPass : llmc::impl::CPUStepABIBase<CPUStepABIPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal() || func.isPrivate())
        continue;
      if (failed(rewriteStep(func)))
        return signalPassFailure();
    }
  }
};

} // namespace
