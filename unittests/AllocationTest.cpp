//===- AllocationTest.cpp - the decode loop allocates nothing -------------===//
//
// Part of llmc. Counts every heap allocation of the process (malloc and
// friends, and so operator new) while a compiled stories260K model decodes
// 100 tokens and takes speculative steps: after the prompt, none may
// happen. The step functions keep their temporaries in the arena planned by
// llmc-plan-memory, which the runtime allocates at load. A separate
// executable, because it replaces malloc; not built under sanitizers,
// which replace it themselves.
//
//===----------------------------------------------------------------------===//

#include "llmc/API/ModelCompiler.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llmc/Runtime/Kernels.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "gtest/gtest.h"
#include <atomic>
#include <cstdlib>

extern "C" {
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);

static std::atomic<bool> counting{false};
static std::atomic<int64_t> allocations{0};

static void count() {
  if (counting.load(std::memory_order_relaxed))
    allocations.fetch_add(1, std::memory_order_relaxed);
}

void *malloc(size_t size) {
  count();
  return __libc_malloc(size);
}
void *calloc(size_t n, size_t size) {
  count();
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t size) {
  count();
  return __libc_realloc(p, size);
}
void *aligned_alloc(size_t alignment, size_t size) {
  count();
  return __libc_memalign(alignment, size);
}
void *memalign(size_t alignment, size_t size) {
  count();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void **out, size_t alignment, size_t size) {
  count();
  *out = __libc_memalign(alignment, size);
  return *out ? 0 : 12; // ENOMEM
}
}

namespace {

std::string sharedModel(llvm::StringRef name) {
  const char *env = std::getenv("LLMC_SHARED_MODELS");
  std::string dir = env ? env : LLMC_SHARED_MODELS_DIR;
  return dir + "/" + name.str();
}

/// stories260K compiled with `options` into a fresh directory.
std::unique_ptr<llmc::runtime::CompiledModel>
compile(const llmc::api::CompileOptions &options) {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("llmc-alloc", dir))
    return nullptr;
  std::string out = (dir + "/model.so").str();
  if (llvm::Error error = llmc::api::compileModel(
          sharedModel("stories260K.gguf"), out, options)) {
    ADD_FAILURE() << llvm::toString(std::move(error));
    return nullptr;
  }
  auto model = llmc::runtime::CompiledModel::load(out);
  if (!model) {
    ADD_FAILURE() << llvm::toString(model.takeError());
    return nullptr;
  }
  return std::move(*model);
}

int32_t argmax(llvm::ArrayRef<float> row) {
  int32_t best = 0;
  for (int32_t i = 1; i < int32_t(row.size()); ++i)
    if (row[i] > row[best])
      best = i;
  return best;
}

#define REQUIRE_STORIES()                                                      \
  if (!llvm::sys::fs::exists(sharedModel("stories260K.gguf")))                 \
  GTEST_SKIP() << "shared model " << sharedModel("stories260K.gguf")         \
               << " not found"

/// 100 greedy decode steps after the prompt, counting every heap
/// allocation and every call of the step allocator.
void expectNoAllocations(const llmc::api::CompileOptions &options) {
  auto model = compile(options);
  ASSERT_TRUE(model);
  int64_t vocab = model->getInfo().vocabSize;
  const int32_t prompt[] = {1, 403, 407, 261, 378}; // "Once upon a time"
  auto logits = model->forward(prompt);
  ASSERT_TRUE(bool(logits)) << llvm::toString(logits.takeError());
  int32_t token = argmax(logits->take_back(vocab));
  int64_t calls = llmc_kernels_allocator_calls();
  allocations = 0;
  counting = true;
  for (int i = 0; i < 100; ++i) {
    auto step = model->forward(llvm::ArrayRef<int32_t>(token));
    if (!step) {
      counting = false;
      FAIL() << llvm::toString(step.takeError());
    }
    token = argmax(*step);
  }
  counting = false;
  EXPECT_EQ(allocations.load(), 0) << "heap allocations in 100 decode steps";
  EXPECT_EQ(llmc_kernels_allocator_calls() - calls, 0)
      << "step-function allocator calls in 100 decode steps";
  const llmc::runtime::ArenaInfo *decode = model->getInfo().arenaOf("decode");
  ASSERT_NE(decode, nullptr);
  EXPECT_GT(decode->buffers, 0);
  EXPECT_EQ(decode->unplanned, 0);
}

TEST(AllocationTest, HundredDecodeSteps) {
  REQUIRE_STORIES();
  llmc::api::CompileOptions options;
  options.contextLength = 256;
  expectNoAllocations(options);
}

TEST(AllocationTest, HundredDecodeStepsPagedCache) {
  REQUIRE_STORIES();
  llmc::api::CompileOptions options;
  options.contextLength = 256;
  options.kv = "paged-b16";
  expectNoAllocations(options);
}

TEST(AllocationTest, HundredDecodeStepsKivi) {
  REQUIRE_STORIES();
  llmc::api::CompileOptions options;
  options.contextLength = 256;
  options.kv = "kivi4";
  expectNoAllocations(options);
}

TEST(AllocationTest, SpeculativeSteps) {
  REQUIRE_STORIES();
  llmc::api::CompileOptions options;
  options.contextLength = 256;
  options.spec = "ngram-k4";
  auto model = compile(options);
  ASSERT_TRUE(model);
  std::vector<int32_t> history = {1, 403, 407, 261, 378};
  auto logits = model->forward(llvm::ArrayRef<int32_t>(history).drop_back());
  ASSERT_TRUE(bool(logits)) << llvm::toString(logits.takeError());
  history.reserve(256);
  llmc::runtime::CompiledModel::SpecControl control;
  int64_t calls = llmc_kernels_allocator_calls();
  allocations = 0;
  counting = true;
  while (model->getPosition() + model->getInfo().specTokens + 1 < 200) {
    auto step = model->speculate(history, control);
    if (!step) {
      counting = false;
      FAIL() << llvm::toString(step.takeError());
    }
    history.insert(history.end(), step->tokens.begin(), step->tokens.end());
  }
  counting = false;
  EXPECT_EQ(allocations.load(), 0) << "heap allocations in speculative steps";
  EXPECT_EQ(llmc_kernels_allocator_calls() - calls, 0)
      << "step-function allocator calls in speculative steps";
}

} // namespace
