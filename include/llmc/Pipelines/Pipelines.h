//===- Pipelines.h - named llmc pass pipelines ------------------*- C++ -*-===//
//
// Part of llmc. Pipelines are functions, so llmc-opt, the driver, Python and
// tests all run the same pass sequence.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PIPELINES_PIPELINES_H
#define LLMC_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace llmc {

struct FrontendPipelineOptions
    : public mlir::PassPipelineOptions<FrontendPipelineOptions> {
  Option<bool> refineShapes{*this, "refine-shapes",
                            llvm::cl::desc("Refine dynamic tensor shapes"),
                            llvm::cl::init(true)};
};

/// Model-level cleanup every target starts from: whole-model verification
/// and shape refinement, canonicalization of llm/kv/qmm ops, CSE.
void buildFrontendPipeline(mlir::OpPassManager &pm,
                           const FrontendPipelineOptions &options);

/// Registers every llmc pipeline (`llmc-frontend-pipeline`, ...).
void registerPipelines();

/// Names of the pipelines registerPipelines() registers (MLIR's registry
/// cannot be enumerated).
llvm::ArrayRef<llvm::StringRef> getPipelineNames();

} // namespace llmc

#endif // LLMC_PIPELINES_PIPELINES_H
