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

struct CPUPipelineOptions
    : public mlir::PassPipelineOptions<CPUPipelineOptions> {
  Option<bool> lowerToLLVM{
      *this, "lower-to-llvm",
      llvm::cl::desc("Lower all the way to the LLVM dialect (else stop after "
                     "bufferization)"),
      llvm::cl::init(true)};
  Option<bool> useMicrokernels{
      *this, "use-microkernels",
      llvm::cl::desc("Call the CPU microkernels (libllmc_kernels) for "
                     "projections and attention (else linalg loops)"),
      llvm::cl::init(true)};
  Option<bool> planMemory{
      *this, "plan-memory",
      llvm::cl::desc("Place each step function's temporaries in one arena "
                     "the runtime passes (llmc-plan-memory; else each "
                     "buffer comes from the allocator)"),
      llvm::cl::init(true)};
};

/// The CPU back end up to the LLVM dialect: frontend, llm/kv/qmm to linalg,
/// the step ABI, one-shot bufferization, arena planning, deallocation, loops, LLVM.
void buildCPUPipeline(mlir::OpPassManager &pm,
                      const CPUPipelineOptions &options);

/// Parses a textual pipeline for a module: "builtin.module(...)", or a bare
/// pass list ("llmc-verify-model,canonicalize") anchored on the module. On
/// failure the parser's message is in `errors`.
mlir::FailureOr<mlir::OpPassManager>
parseModulePipeline(llvm::StringRef pipeline, std::string &errors);

/// Registers every llmc pipeline (`llmc-frontend-pipeline`, ...).
void registerPipelines();

/// Names of the pipelines registerPipelines() registers (MLIR's registry
/// cannot be enumerated).
llvm::ArrayRef<llvm::StringRef> getPipelineNames();

} // namespace llmc

#endif // LLMC_PIPELINES_PIPELINES_H
