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

#include "StoriesModel.h"
#include "llmc/API/ModelCompiler.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llmc/Runtime/Kernels.h"
#include "llvm/Support/FileSystem.h"
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

using llmc::test::argmax;
using llmc::test::compileStories;

/// Runs `body` counting every heap allocation of the process and every
/// call of the step allocator; expects none.
template <typename Body> void expectNoAllocationsIn(const char *what,
                                                    Body body) {
  int64_t calls = llmc_kernels_allocator_calls();
  allocations = 0;
  counting = true;
  body();
  counting = false;
  EXPECT_EQ(allocations.load(), 0) << "heap allocations in " << what;
  EXPECT_EQ(llmc_kernels_allocator_calls() - calls, 0)
      << "step-function allocator calls in " << what;
}

/// 100 greedy decode steps after the prompt, counting every heap
/// allocation and every call of the step allocator.
void expectNoAllocations(const llmc::api::CompileOptions &options) {
  auto model = compileStories(options);
  ASSERT_TRUE(model);
  int64_t vocab = model->getInfo().vocabSize;
  const int32_t prompt[] = {1, 403, 407, 261, 378}; // "Once upon a time"
  auto logits = model->forward(prompt);
  ASSERT_TRUE(bool(logits)) << llvm::toString(logits.takeError());
  int32_t token = argmax(logits->take_back(vocab));
  expectNoAllocationsIn("100 decode steps", [&] {
    for (int i = 0; i < 100; ++i) {
      auto step = model->forward(llvm::ArrayRef<int32_t>(token));
      ASSERT_TRUE(bool(step)) << llvm::toString(step.takeError());
      token = argmax(*step);
    }
  });
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
  auto model = compileStories(options);
  ASSERT_TRUE(model);
  std::vector<int32_t> history = {1, 403, 407, 261, 378};
  auto logits = model->forward(llvm::ArrayRef<int32_t>(history).drop_back());
  ASSERT_TRUE(bool(logits)) << llvm::toString(logits.takeError());
  history.reserve(256);
  llmc::runtime::CompiledModel::SpecControl control;
  expectNoAllocationsIn("speculative steps", [&] {
    while (model->getPosition() + model->getInfo().specTokens + 1 < 200) {
      auto step = model->speculate(history, control);
      ASSERT_TRUE(bool(step)) << llvm::toString(step.takeError());
      history.insert(history.end(), step->tokens.begin(), step->tokens.end());
    }
  });
}

} // namespace
