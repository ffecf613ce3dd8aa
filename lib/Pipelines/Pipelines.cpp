//===- Pipelines.cpp - named llmc pass pipelines --------------------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/Pipelines/Pipelines.h"
#include "llmc/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void llmc::buildFrontendPipeline(OpPassManager &pm,
                                 const FrontendPipelineOptions &options) {
  VerifyModelOptions verify;
  verify.refineShapes = options.refineShapes;
  pm.addPass(createVerifyModel(verify));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

llvm::ArrayRef<llvm::StringRef> llmc::getPipelineNames() {
  static const llvm::StringRef names[] = {"llmc-frontend-pipeline"};
  return names;
}

void llmc::registerPipelines() {
  PassPipelineRegistration<FrontendPipelineOptions>(
      "llmc-frontend-pipeline",
      "Verify the whole model, refine shapes, canonicalize and CSE",
      buildFrontendPipeline);
}
