//===- FuzzSafetensors.cpp - libFuzzer target: the safetensors reader -----===//
//
// Part of llmc. llmc-fuzz-safetensors: bytes into safetensors::File::fromBuffer
// and safetensors::parseJSON, then every accessor (see ReaderTargets.h).
// scripts/fuzz.sh runs it.
//
//===----------------------------------------------------------------------===//

#include "fuzz/ReaderTargets.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (llvm::Error err =
          llmc::fuzz::exerciseSafetensors(llvm::ArrayRef(data, size))) {
    llvm::errs() << "llmc-fuzz-safetensors: " << llvm::toString(std::move(err))
                 << "\n";
    std::abort();
  }
  return 0;
}
