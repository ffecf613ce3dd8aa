//===- LoadModel.cpp - a runnable model from a model file or artifact -----===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "LoadModel.h"
#include "Progress.h"

using namespace llmc;
using namespace llmc::driver;

llvm::Expected<LoadedModel>
llmc::driver::loadOrCompile(llvm::StringRef path,
                            const api::CompileOptions &options,
                            llvm::raw_ostream &err) {
  LoadedModel result;
  result.library = path.str();
  if (!api::isCompiledArtifact(path)) {
    Progress progress(err, /*enabled=*/true);
    Stopwatch watch;
    llvm::Expected<std::string> cached = api::compileCached(
        path, options, result.compiled,
        [&](llvm::StringRef stage) { progress.stage(stage); });
    progress.done();
    if (!cached)
      return cached.takeError();
    result.library = *cached;
    result.compileSeconds = watch.seconds();
  }
  llvm::Expected<std::unique_ptr<runtime::CompiledModel>> loaded =
      runtime::CompiledModel::load(result.library);
  if (!loaded)
    return loaded.takeError();
  result.model = std::move(*loaded);
  return std::move(result);
}
