//===- Allocator.cpp - the buffer allocator of compiled step functions ----===//
//
// Part of llmc. The CPU pipeline lowers memref.alloc / memref.dealloc to
// `_mlir_memref_to_llvm_alloc` / `_mlir_memref_to_llvm_free` (MLIR's
// "generic allocation functions"), defined here: a caching allocator that
// keeps freed buffers in per-size free lists and hands them out again. A
// step function allocates the same sizes on every call, so after the first
// decode step the decode loop makes no system allocation at all
// (`llmc_kernels_system_allocations` counts them; test
// test/e2e/decode-allocations.py). Step functions planned by
// llmc-plan-memory (the CPU pipeline's default) keep their temporaries in
// one arena that the runtime passes and allocate nothing;
// `llmc_kernels_allocator_calls` counts every request, so tests can check.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Kernels.h"
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace {

/// Every buffer is preceded by a 64-byte header holding its size class and
/// the start of its system block, and is 64-byte aligned.
constexpr size_t kHeader = 64;

struct Header {
  size_t rounded; // 0: an over-aligned block, not cached
  void *block;
};

Header &headerOf(void *p) {
  return *reinterpret_cast<Header *>(static_cast<char *>(p) - kHeader);
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void *>> free;
  std::atomic<int64_t> systemAllocations{0};
  std::atomic<int64_t> calls{0};

  void *get(size_t size) {
    calls.fetch_add(1, std::memory_order_relaxed);
    size_t rounded = (size + 63) / 64 * 64;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = free.find(rounded);
      if (it != free.end() && !it->second.empty()) {
        void *p = it->second.back();
        it->second.pop_back();
        return p;
      }
    }
    systemAllocations.fetch_add(1, std::memory_order_relaxed);
    auto *block =
        static_cast<char *>(std::aligned_alloc(64, rounded + kHeader));
    if (!block)
      return nullptr;
    void *p = block + kHeader;
    headerOf(p) = {rounded, block};
    return p;
  }

  /// A block aligned to more than 64 bytes (not cached).
  void *getAligned(size_t alignment, size_t size) {
    calls.fetch_add(1, std::memory_order_relaxed);
    systemAllocations.fetch_add(1, std::memory_order_relaxed);
    auto *block = static_cast<char *>(std::malloc(size + alignment + kHeader));
    if (!block)
      return nullptr;
    uintptr_t start = reinterpret_cast<uintptr_t>(block) + kHeader;
    uintptr_t aligned = (start + alignment - 1) / alignment * alignment;
    void *p = reinterpret_cast<void *>(aligned);
    headerOf(p) = {0, block};
    return p;
  }

  void put(void *p) {
    if (!p)
      return;
    Header header = headerOf(p);
    if (header.rounded == 0) {
      std::free(header.block);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<void *> &list = free[header.rounded];
    // Bounded: a burst of one size (a long prefill) does not pin memory.
    if (list.size() >= 64) {
      std::free(header.block);
      return;
    }
    list.push_back(p);
  }
};

Cache &cache() {
  static Cache *instance = new Cache(); // never destroyed: models may free
  return *instance;                     // during static destruction
}

} // namespace

extern "C" {

void *_mlir_memref_to_llvm_alloc(size_t size) { return cache().get(size); }

void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  // Cached blocks are 64-byte aligned; larger alignments (the CPU pipeline
  // asks for none) get an uncached, over-allocated block.
  if (alignment <= 64)
    return cache().get(size);
  return cache().getAligned(alignment, size);
}

void _mlir_memref_to_llvm_free(void *p) { cache().put(p); }

int64_t llmc_kernels_allocator_calls() {
  return cache().calls.load(std::memory_order_relaxed);
}

int64_t llmc_kernels_system_allocations() {
  return cache().systemAllocations.load(std::memory_order_relaxed);
}

} // extern "C"
