//===- FuzzSeedsTest.cpp - the fuzz targets over their seed corpora -------===//
//
// Part of llmc. Runs the entry points of the libFuzzer targets
// (fuzz/ReaderTargets.h) over every seed file the build writes, over
// prefixes and single-bit flips of each, and over the inputs of fuzz-found
// bugs kept in fuzz/regressions/, so every build exercises what the fuzzers
// do without libFuzzer.
//
//===----------------------------------------------------------------------===//

#include "fuzz/ReaderTargets.h"
#include "llmc/Import/GGUF.h"
#include "llmc/Import/Safetensors.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "gtest/gtest.h"
#include <string>
#include <vector>

using namespace llmc;
using llvm::StringRef;

namespace {

using Target = llvm::Error (*)(llvm::ArrayRef<uint8_t>);

/// Regular files of `dir`, sorted; empty when it does not exist.
std::vector<std::string> listFiles(StringRef dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    if (llvm::sys::fs::is_regular_file(it->path()))
      files.push_back(it->path());
  llvm::sort(files);
  return files;
}

std::string readFile(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  EXPECT_TRUE(bool(buffer)) << path.str();
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

/// Runs `target` on a copy of `bytes` in an allocation of exactly its size,
/// so that ASan builds catch a read one past the end.
void runOnce(Target target, StringRef bytes, const std::string &what) {
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  if (llvm::Error err = target(copy))
    ADD_FAILURE() << what << ": " << llvm::toString(std::move(err));
}

/// The image, its prefixes (every one for small images, 128 spread out
/// otherwise) and 256 single-bit flips at pseudo-random positions.
void replayWithMutations(Target target, const std::string &path) {
  std::string image = readFile(path);
  runOnce(target, image, path);
  size_t step = std::max<size_t>(1, image.size() / 128);
  for (size_t len = 0; len < image.size(); len += step)
    runOnce(target, StringRef(image).take_front(len),
            path + " cut to " + std::to_string(len) + " bytes");
  if (image.empty())
    return;
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 256; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    size_t bit = (state >> 16) % (image.size() * 8);
    std::string flipped = image;
    flipped[bit / 8] ^= static_cast<char>(1u << (bit % 8));
    runOnce(target, flipped,
            path + " with bit " + std::to_string(bit) + " flipped");
  }
}

std::string seedsDir(StringRef target) {
  llvm::SmallString<128> dir(LLMC_FUZZ_SEEDS_DIR);
  llvm::sys::path::append(dir, target);
  return std::string(dir);
}

std::string regressionsDir(StringRef target) {
  llvm::SmallString<128> dir(LLMC_FUZZ_REGRESSIONS_DIR);
  llvm::sys::path::append(dir, target);
  return std::string(dir);
}

TEST(FuzzSeedsTest, GGUFSeeds) {
  std::vector<std::string> seeds = listFiles(seedsDir("gguf"));
  ASSERT_GE(seeds.size(), 8u) << "seeds missing in " << seedsDir("gguf")
                              << " (built by the llmc-fuzz-seeds target)";
  for (const std::string &path : seeds) {
    // Every seed but the cut heads of the real models is a valid file.
    if (!StringRef(path).contains("-head"))
      if (auto file = gguf::File::open(path); !file)
        ADD_FAILURE() << llvm::toString(file.takeError());
    replayWithMutations(fuzz::exerciseGGUF, path);
  }
}

TEST(FuzzSeedsTest, GGUFRegressions) {
  for (const std::string &path : listFiles(regressionsDir("gguf")))
    runOnce(fuzz::exerciseGGUF, readFile(path), path);
}

TEST(FuzzSeedsTest, SafetensorsSeeds) {
  std::vector<std::string> seeds = listFiles(seedsDir("safetensors"));
  ASSERT_GE(seeds.size(), 5u) << "seeds missing in " << seedsDir("safetensors")
                              << " (built by the llmc-fuzz-seeds target)";
  for (const std::string &path : seeds) {
    if (StringRef(path).ends_with(".safetensors"))
      if (auto file = safetensors::File::open(path); !file)
        ADD_FAILURE() << llvm::toString(file.takeError());
    replayWithMutations(fuzz::exerciseSafetensors, path);
  }
}

TEST(FuzzSeedsTest, SafetensorsRegressions) {
  for (const std::string &path : listFiles(regressionsDir("safetensors")))
    runOnce(fuzz::exerciseSafetensors, readFile(path), path);
}

} // namespace
