//===- ReaderTargets.h - fuzzing entry points of the readers ----*- C++ -*-===//
//
// Part of llmc. Each function parses one untrusted image with a reader and,
// when it opens, reads back everything the reader offers. The libFuzzer
// targets of this folder call them, and so does the unit test that replays
// the seed corpora in every build (unittests/FuzzSeedsTest.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_FUZZ_READERTARGETS_H
#define LLMC_FUZZ_READERTARGETS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>

namespace llmc::fuzz {

/// gguf::File::fromBuffer over `data`, then every metadata accessor on every
/// key, every tensor's data, and (when the file has a vocabulary)
/// Tokenizer::fromGGUF with encode/decode of a fixed text. A rejected file
/// is a success; the error is a file that opened but broke a promise of the
/// reader (tensor data outside the image, ids outside the vocabulary...).
llvm::Error exerciseGGUF(llvm::ArrayRef<uint8_t> data);

/// safetensors::File::fromBuffer over `data`, then every tensor (name
/// lookup, dtype, data) and the metadata; and safetensors::parseJSON over
/// the same bytes as text (the reader of config.json files).
llvm::Error exerciseSafetensors(llvm::ArrayRef<uint8_t> data);

} // namespace llmc::fuzz

#endif // LLMC_FUZZ_READERTARGETS_H
