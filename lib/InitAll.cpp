//===- InitAll.cpp - central registration of llmc -------------------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/InitAll.h"
#include "dialects/kv/KVDialect.h"
#include "dialects/llm/LLMDialect.h"
#include "dialects/qmm/QMMDialect.h"
#include "llmc/Conversion/Passes.h"
#include "llmc/Import/Llama.h"
#include "llmc/Pipelines/Pipelines.h"
#include "llmc/Target/CPU/Passes.h"
#include "llmc/Transforms/Compression/Passes.h"
#include "llmc/Transforms/Memory/Passes.h"
#include "llmc/Transforms/Speculative/Passes.h"
#include "llmc/Transforms/Passes.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/TensorInferTypeOpInterfaceImpl.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/InitAllTranslations.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

void llmc::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<llm::LLMDialect, kv::KVDialect, qmm::QMMDialect>();
  registry.insert<mlir::func::FuncDialect, mlir::arith::ArithDialect,
                  mlir::math::MathDialect, mlir::tensor::TensorDialect,
                  mlir::linalg::LinalgDialect, mlir::scf::SCFDialect,
                  mlir::cf::ControlFlowDialect, mlir::memref::MemRefDialect,
                  mlir::bufferization::BufferizationDialect,
                  mlir::vector::VectorDialect,
                  mlir::x86vector::X86VectorDialect, mlir::amx::AMXDialect,
                  mlir::LLVM::LLVMDialect, mlir::gpu::GPUDialect,
                  mlir::NVVM::NVVMDialect, mlir::emitc::EmitCDialect>();
  // Bufferization models of the upstream ops our lowering produces.
  mlir::arith::registerBufferizableOpInterfaceExternalModels(registry);
  mlir::bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  mlir::linalg::registerBufferizableOpInterfaceExternalModels(registry);
  mlir::linalg::registerSubsetOpInterfaceExternalModels(registry);
  mlir::scf::registerBufferizableOpInterfaceExternalModels(registry);
  mlir::tensor::registerBufferizableOpInterfaceExternalModels(registry);
  mlir::tensor::registerInferTypeOpInterfaceExternalModels(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
}

void llmc::registerAllPasses() {
  registerLLMCTransformsPasses();
  registerLLMCCompressionPasses();
  registerLLMCMemoryPasses();
  registerLLMCSpeculativePasses();
  registerLLMCConversionPasses();
  registerLLMCTargetCPUPasses();
  registerPipelines();
  mlir::registerTransformsPasses();
  mlir::bufferization::registerBufferizationPasses();
  mlir::registerLinalgPasses();
}

/// Imports the model whose file (or, for config.json, directory) is the
/// translation's input; weights stay in that file, referenced by path.
static mlir::OwningOpRef<mlir::Operation *>
importFromSource(llvm::SourceMgr &sourceMgr, mlir::MLIRContext *context) {
  llvm::StringRef path =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBufferIdentifier();
  if (path == "<stdin>" || path.empty()) {
    mlir::emitError(mlir::UnknownLoc::get(context))
        << "model import needs a file path, not standard input";
    return nullptr;
  }
  std::string source = path.str();
  if (llvm::sys::path::filename(path) == "config.json")
    source = llvm::sys::path::parent_path(path).str();
  if (source.empty())
    source = ".";
  llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>> module =
      llmc::import::importModel(*context, source, {});
  if (!module) {
    mlir::emitError(mlir::UnknownLoc::get(context))
        << llvm::toString(module.takeError());
    return nullptr;
  }
  return mlir::OwningOpRef<mlir::Operation *>(module->release());
}

void llmc::registerAllTranslations() {
  static bool once = [] {
    mlir::registerToLLVMIRTranslation();
    mlir::TranslateFromMLIRRegistration toCpp(
        "llmc-emit-cpp", "Emit C++ from the emitc dialect (HLS back end)",
        [](mlir::Operation *op, llvm::raw_ostream &os) {
          return mlir::emitc::translateToCpp(op, os);
        },
        [](mlir::DialectRegistry &registry) {
          registry.insert<mlir::emitc::EmitCDialect, mlir::func::FuncDialect>();
        });
    mlir::TranslateToMLIRRegistration importGGUF(
        "import-gguf", "Import a GGUF llama model into the llm dialect",
        [](llvm::SourceMgr &sourceMgr,
           mlir::MLIRContext *context) -> mlir::OwningOpRef<mlir::Operation *> {
          return importFromSource(sourceMgr, context);
        },
        registerAllDialects);
    mlir::TranslateToMLIRRegistration importSafetensors(
        "import-safetensors",
        "Import a Hugging Face llama directory (give its config.json)",
        [](llvm::SourceMgr &sourceMgr,
           mlir::MLIRContext *context) -> mlir::OwningOpRef<mlir::Operation *> {
          return importFromSource(sourceMgr, context);
        },
        registerAllDialects);
    return true;
  }();
  (void)once;
}
