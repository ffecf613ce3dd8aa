//===- QMMFolds.cpp - qmm folders -----------------------------------------===//
//
// Part of llmc. Repacking changes the layout, never the values, so chains of
// repacks collapse and dequantization looks through them.
//
//===----------------------------------------------------------------------===//

#include "dialects/qmm/QMMOps.h"

using namespace mlir;
using namespace llmc::qmm;

OpFoldResult DequantizeOp::fold(FoldAdaptor) {
  if (auto repack = getInput().getDefiningOp<RepackOp>()) {
    getInputMutable().assign(repack.getInput());
    return getResult();
  }
  return {};
}

OpFoldResult RepackOp::fold(FoldAdaptor) {
  if (auto inner = getInput().getDefiningOp<RepackOp>()) {
    getInputMutable().assign(inner.getInput());
    if (getInput().getType() == getType())
      return getInput();
    return getResult();
  }
  if (getInput().getType() == getType())
    return getInput();
  return {};
}
