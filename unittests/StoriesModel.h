//===- StoriesModel.h - the real model of ../shared/models in tests -*- C++ -*-===//
//
// Part of llmc. Tests that compile and run stories260K: where it is
// (LLMC_SHARED_MODELS overrides the folder), a skip when it is absent, a
// compile into a fresh directory, and greedy argmax.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_UNITTESTS_STORIESMODEL_H
#define LLMC_UNITTESTS_STORIESMODEL_H

#include "llmc/API/ModelCompiler.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "gtest/gtest.h"
#include <cstdlib>
#include <memory>
#include <string>

namespace llmc::test {

inline std::string sharedModel(llvm::StringRef name) {
  const char *env = std::getenv("LLMC_SHARED_MODELS");
  std::string dir = env ? env : LLMC_SHARED_MODELS_DIR;
  return dir + "/" + name.str();
}

/// stories260K compiled with `options` into a fresh directory; null (and a
/// test failure) when it does not compile or load.
inline std::unique_ptr<runtime::CompiledModel>
compileStories(const api::CompileOptions &options) {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("llmc-stories", dir)) {
    ADD_FAILURE() << "cannot create a directory for the compiled model";
    return nullptr;
  }
  std::string out = (dir + "/model.so").str();
  if (llvm::Error error = api::compileModel(sharedModel("stories260K.gguf"),
                                            out, options)) {
    ADD_FAILURE() << llvm::toString(std::move(error));
    return nullptr;
  }
  auto model = runtime::CompiledModel::load(out);
  if (!model) {
    ADD_FAILURE() << llvm::toString(model.takeError());
    return nullptr;
  }
  return std::move(*model);
}

/// The greedy token of a row of logits (first maximum wins).
inline int32_t argmax(llvm::ArrayRef<float> row) {
  int32_t best = 0;
  for (int32_t i = 1; i < int32_t(row.size()); ++i)
    if (row[i] > row[best])
      best = i;
  return best;
}

} // namespace llmc::test

#define REQUIRE_STORIES()                                                      \
  if (!llvm::sys::fs::exists(llmc::test::sharedModel("stories260K.gguf")))     \
  GTEST_SKIP() << "shared model "                                              \
               << llmc::test::sharedModel("stories260K.gguf") << " not found"

#endif // LLMC_UNITTESTS_STORIESMODEL_H
