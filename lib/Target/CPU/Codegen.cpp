//===- Codegen.cpp - LLVM dialect to a native shared library --------------===//
//
// Part of llmc. LLVM IR for the host CPU, optimized, emitted as an object
// and linked with ld.lld into a shared library the runtime dlopens.
//
//===----------------------------------------------------------------------===//

#include "llmc/Target/CPU/Codegen.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace mlir;

namespace {

std::unique_ptr<llvm::TargetMachine> hostTargetMachine(std::string &error) {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  llvm::SubtargetFeatures features;
  for (const auto &[name, enabled] : llvm::sys::getHostCPUFeatures())
    features.AddFeature(name, enabled);
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, llvm::sys::getHostCPUName(), features.getString(), options,
      llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    error = "cannot create a target machine for " + triple.str();
  return std::move(machine);
}

std::unique_ptr<llvm::Module> translate(ModuleOp module,
                                        llvm::LLVMContext &llvmContext,
                                        std::string &error) {
  registerBuiltinDialectTranslation(*module.getContext());
  registerLLVMDialectTranslation(*module.getContext());
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "llmc-model");
  if (!llvmModule)
    error = "cannot translate the module to LLVM IR";
  return llvmModule;
}

} // namespace

bool llmc::cpu::emitLLVMIR(ModuleOp module, llvm::raw_ostream &os,
                           std::string &error) {
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translate(module, llvmContext, error);
  if (!llvmModule)
    return false;
  llvmModule->print(os, nullptr);
  return true;
}

bool llmc::cpu::emitSharedLibrary(ModuleOp module, llvm::StringRef outputPath,
                                  const CodegenOptions &options,
                                  std::string &error) {
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translate(module, llvmContext, error);
  if (!llvmModule)
    return false;
  std::unique_ptr<llvm::TargetMachine> machine = hostTargetMachine(error);
  if (!machine)
    return false;
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());

  // Model metadata the runtime reads back after dlopen.
  llvm::Constant *info =
      llvm::ConstantDataArray::getString(llvmContext, options.modelInfo);
  new llvm::GlobalVariable(*llvmModule, info->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, info,
                           "llmc_model_info");

  auto optimize = makeOptimizingTransformer(options.optLevel, /*sizeLevel=*/0,
                                            machine.get());
  if (llvm::Error err = optimize(llvmModule.get())) {
    error = "LLVM optimization failed: " + llvm::toString(std::move(err));
    return false;
  }

  // Object file next to the output, then link.
  llvm::SmallString<256> objectPath(outputPath);
  objectPath += ".o";
  {
    std::error_code ec;
    llvm::ToolOutputFile object(objectPath, ec, llvm::sys::fs::OF_None);
    if (ec) {
      error = "cannot write " + objectPath.str().str() + ": " + ec.message();
      return false;
    }
    llvm::legacy::PassManager pm;
    if (machine->addPassesToEmitFile(pm, object.os(), nullptr,
                                     llvm::CodeGenFileType::ObjectFile)) {
      error = "the target cannot emit object files";
      return false;
    }
    pm.run(*llvmModule);
    object.keep();
  }
  llvm::ErrorOr<std::string> linker = llvm::sys::findProgramByName("ld.lld");
  if (!linker) {
    error = "ld.lld not found on PATH (install the lld package)";
    return false;
  }
  std::string out = outputPath.str();
  std::string obj = objectPath.str().str();
  // Strided memref copies call memrefCopy from MLIR's C runner utils; the
  // microkernels live in libllmc_kernels.so next to llmc's libraries.
  std::string libDir = LLMC_MLIR_LIBRARY_DIR;
  std::string searchDir = "-L" + libDir;
  std::string kernelsDir = LLMC_KERNELS_LIBRARY_DIR;
  std::string kernelsSearch = "-L" + kernelsDir;
  llvm::SmallVector<llvm::StringRef> args = {
      *linker, "-shared", "-o", out, obj, searchDir, "-rpath", libDir,
      "-lmlir_c_runner_utils", kernelsSearch, "-rpath", kernelsDir,
      "-lllmc_kernels"};
  std::string linkError;
  int rc = llvm::sys::ExecuteAndWait(*linker, args, std::nullopt, {}, 0, 0,
                                     &linkError);
  llvm::sys::fs::remove(objectPath);
  if (rc != 0) {
    error = "linking " + out + " failed" +
            (linkError.empty() ? std::string() : ": " + linkError);
    return false;
  }
  return true;
}
