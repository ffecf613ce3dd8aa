//===- FuzzGGUF.cpp - libFuzzer target: the GGUF reader -------------------===//
//
// Part of llmc. llmc-fuzz-gguf: bytes into gguf::File::fromBuffer, then every
// accessor and the tokenizer (see ReaderTargets.h). scripts/fuzz.sh runs it.
//
//===----------------------------------------------------------------------===//

#include "fuzz/ReaderTargets.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (llvm::Error err = llmc::fuzz::exerciseGGUF(llvm::ArrayRef(data, size))) {
    llvm::errs() << "llmc-fuzz-gguf: " << llvm::toString(std::move(err))
                 << "\n";
    std::abort();
  }
  return 0;
}
