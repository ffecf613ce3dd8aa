//===- SafetensorsLlama.cpp - a Hugging Face llama directory --------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/Llama.h"

llvm::Expected<llmc::import::LlamaModel>
llmc::import::readSafetensorsLlama(llvm::StringRef directory) {
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      directory + ": Hugging Face directories are not supported yet");
}
