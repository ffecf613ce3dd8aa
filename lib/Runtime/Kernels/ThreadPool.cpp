//===- ThreadPool.cpp - the kernels' persistent thread pool ---------------===//
//
// Part of llmc. Workers are created once (llmc_kernels_set_threads) and
// wait for work by spinning briefly, then sleeping on a condition variable,
// so a decode step dispatches ~150 kernels without creating a thread or
// paying a futex wake-up for each one. Work is split into contiguous chunks
// (about eight per thread, each a run of weight rows streamed by one core)
// that threads take in order; each output element is computed by exactly
// one chunk, so results do not depend on which thread ran it.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <immintrin.h>

using namespace llmc::kernels;

namespace {

/// Below this many multiply-adds (~20 us of work) a kernel runs on the
/// calling thread: handing work over costs about a microsecond when the
/// worker spins, far more when it sleeps or the core is busy.
constexpr double kMinParallelWork = 1 << 18;
/// Spin iterations (each a pause) before a worker sleeps; waiters yield
/// the core every kYieldEvery pauses, so a loaded machine still progresses.
constexpr int kSpinIterations = 50000;
constexpr int kYieldEvery = 256;
/// Work chunks per thread in a parallel loop.
constexpr int64_t kChunksPerThread = 8;

class Pool {
public:
  ~Pool() { resize(1); }

  int64_t size() const { return int64_t(workers.size()) + 1; }

  void resize(int64_t threads) {
    if (threads == size())
      return;
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      generation.fetch_add(1, std::memory_order_release);
    }
    wake.notify_all();
    for (std::thread &t : workers)
      t.join();
    workers.clear();
    stopping = false;
    // Workers start from the current generation: one read inside the
    // thread could miss a run posted before it got there.
    uint64_t start = generation.load(std::memory_order_acquire);
    for (int64_t i = 1; i < threads; ++i)
      workers.emplace_back([this, i, start] { workerLoop(i, start); });
  }

  void run(int64_t n, int64_t grain, RangeFn fn, const void *ctx) {
    int64_t parts = size();
    body = fn;
    context = ctx;
    total = n;
    // Chunks of whole grains, about kChunksPerThread per thread, taken in
    // order from a shared counter: a thread that a busy core slows down
    // takes fewer of them instead of holding the others up.
    int64_t units = (n + grain - 1) / grain;
    int64_t perChunk = std::max<int64_t>(1, units / (parts * kChunksPerThread));
    unit = perChunk * grain;
    next.store(0, std::memory_order_relaxed);
    pending.store(parts - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex);
      generation.fetch_add(1, std::memory_order_release);
    }
    wake.notify_all();
    runPart(0);
    for (int i = 1; pending.load(std::memory_order_acquire) != 0; ++i) {
      _mm_pause();
      if (i % kYieldEvery == 0)
        std::this_thread::yield();
    }
  }

private:
  void runPart(int64_t) {
    for (;;) {
      int64_t begin = next.fetch_add(unit, std::memory_order_relaxed);
      if (begin >= total)
        return;
      body(context, begin, std::min(total, begin + unit));
    }
  }

  void workerLoop(int64_t index, uint64_t seen) {
    for (;;) {
      uint64_t now = seen;
      for (int i = 0; i < kSpinIterations; ++i) {
        now = generation.load(std::memory_order_acquire);
        if (now != seen)
          break;
        _mm_pause();
        if ((i + 1) % kYieldEvery == 0)
          std::this_thread::yield();
      }
      if (now == seen) {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] {
          return generation.load(std::memory_order_acquire) != seen;
        });
        now = generation.load(std::memory_order_acquire);
      }
      seen = now;
      if (stopping)
        return;
      runPart(index);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<uint64_t> generation{0};
  std::atomic<int64_t> pending{0};
  std::atomic<int64_t> next{0};
  std::atomic<bool> stopping{false};
  RangeFn body = nullptr;
  const void *context = nullptr;
  int64_t total = 0, unit = 1;
};

Pool &pool() {
  static Pool instance;
  return instance;
}

} // namespace

ISA llmc::kernels::activeISA() {
  static const ISA isa = [] {
    const char *forced = std::getenv("LLMC_KERNELS");
    std::string choice = forced ? forced : "";
    if (choice == "scalar")
      return ISA::Scalar;
    if (choice == "avx512")
      return avx512Supported() ? ISA::AVX512 : ISA::Scalar;
    return avx2Supported() ? ISA::AVX2 : ISA::Scalar;
  }();
  return isa;
}

void llmc::kernels::parallelFor(int64_t n, int64_t grain, double work,
                                RangeFn body, const void *context) {
  Pool &p = pool();
  if (p.size() == 1 || work < kMinParallelWork || n <= grain) {
    body(context, 0, n);
    return;
  }
  p.run(n, grain, body, context);
}

extern "C" void llmc_kernels_set_threads(int64_t n) {
  if (n < 1)
    n = std::max<int64_t>(1, int64_t(std::thread::hardware_concurrency()));
  pool().resize(n);
}

extern "C" int64_t llmc_kernels_get_threads() { return pool().size(); }

extern "C" const char *llmc_kernels_isa() {
  switch (activeISA()) {
  case ISA::AVX512:
    return "avx512";
  case ISA::AVX2:
    return "avx2";
  case ISA::Scalar:
    break;
  }
  return "scalar";
}
