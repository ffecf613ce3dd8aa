//===- Pipelines.cpp - named llmc pass pipelines --------------------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/Pipelines/Pipelines.h"
#include "llmc/Conversion/Passes.h"
#include "llmc/Target/CPU/Passes.h"
#include "llmc/Transforms/Memory/Passes.h"
#include "llmc/Transforms/Passes.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
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

void llmc::buildCPUPipeline(OpPassManager &pm,
                            const CPUPipelineOptions &options) {
  buildFrontendPipeline(pm, FrontendPipelineOptions());
  ConvertLLMToLinalgOptions lowering;
  lowering.useMicrokernels = options.useMicrokernels;
  pm.addPass(createConvertLLMToLinalg(lowering));
  pm.addPass(createCPUStepABI());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createCanonicalizerPass());
  if (options.planMemory) {
    PlanMemoryOptions plan;
    plan.arenaArgument = true;
    pm.addPass(createPlanMemory(plan));
  }
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  if (!options.lowerToLLVM)
    return;
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // Buffers come from libllmc_kernels' caching allocator
  // (_mlir_memref_to_llvm_alloc/free), so the decode loop calls no malloc.
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = options.useMicrokernels;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

FailureOr<OpPassManager> llmc::parseModulePipeline(llvm::StringRef pipeline,
                                                   std::string &errors) {
  std::string text = pipeline.trim().str();
  if (!llvm::StringRef(text).starts_with("builtin.module("))
    text = "builtin.module(" + text + ")";
  llvm::raw_string_ostream errorStream(errors);
  FailureOr<OpPassManager> parsed = parsePassPipeline(text, errorStream);
  errors = llvm::StringRef(errors).trim().str();
  return parsed;
}

llvm::ArrayRef<llvm::StringRef> llmc::getPipelineNames() {
  static const llvm::StringRef names[] = {"llmc-frontend-pipeline",
                                          "llmc-cpu-pipeline"};
  return names;
}

void llmc::registerPipelines() {
  PassPipelineRegistration<FrontendPipelineOptions>(
      "llmc-frontend-pipeline",
      "Verify the whole model, refine shapes, canonicalize and CSE",
      buildFrontendPipeline);
  PassPipelineRegistration<CPUPipelineOptions>(
      "llmc-cpu-pipeline",
      "Lower an llm-dialect model to the LLVM dialect for the host CPU",
      buildCPUPipeline);
}
