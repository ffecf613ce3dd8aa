//===- Bandwidth.cpp - memory read bandwidth measurement ------------------===//
//
// Part of llmc. A team of threads (the caller is member 0) spins on a
// generation counter between tasks, so releasing them costs microseconds
// against the tens of milliseconds a repetition over 1 GiB takes. Each
// kernel keeps several independent accumulators so the loads, not the adds,
// set the pace, and the sums go to an atomic sink so no load can be dropped.
// Every repetition reads the buffer twice, with plain loads and with
// software prefetching (as the decode kernels do), and keeps the faster.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Bandwidth.h"
#include "llvm/ADT/Twine.h"
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <sys/mman.h>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LLMC_X86 1
#endif

using namespace llmc::runtime;

namespace {

using SumFn = uint64_t (*)(const uint8_t *, size_t);

/// Software prefetch distance, the same as the decode kernels use
/// (lib/Runtime/Kernels/AVX2Decode.cpp): on the machines we measured, the
/// hardware prefetcher alone reaches only ~60-70% of what a stream with
/// prefetching reads, so a kernel without it would understate the roofline.
/// Prefetching past the end of the buffer is harmless (no fault).
constexpr size_t kPrefetchAhead = 32768;
#define LLMC_PREFETCH4(p, i)                                                   \
  for (size_t line = 0; line < 256; line += 64)                                \
  _mm_prefetch(reinterpret_cast<const char *>(p + i + kPrefetchAhead + line),  \
               _MM_HINT_T0)

#ifdef LLMC_X86
template <bool Prefetch>
__attribute__((target("avx512f"))) uint64_t sumAvx512(const uint8_t *p,
                                                      size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 256) {
    if (Prefetch)
      LLMC_PREFETCH4(p, i);
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 192));
  }
  a0 = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
  return uint64_t(_mm512_reduce_add_epi64(a0));
}

template <bool Prefetch>
__attribute__((target("avx2"))) uint64_t sumAvx2(const uint8_t *p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  __m256i a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  // (A lambda would not inherit the target attribute.)
#define LLMC_AT(off)                                                           \
  _mm256_load_si256(reinterpret_cast<const __m256i *>(p + i + (off)))
  for (size_t i = 0; i < n; i += 256) {
    if (Prefetch)
      LLMC_PREFETCH4(p, i);
    a0 = _mm256_add_epi64(a0, LLMC_AT(0));
    a1 = _mm256_add_epi64(a1, LLMC_AT(32));
    a2 = _mm256_add_epi64(a2, LLMC_AT(64));
    a3 = _mm256_add_epi64(a3, LLMC_AT(96));
    a4 = _mm256_add_epi64(a4, LLMC_AT(128));
    a5 = _mm256_add_epi64(a5, LLMC_AT(160));
    a6 = _mm256_add_epi64(a6, LLMC_AT(192));
    a7 = _mm256_add_epi64(a7, LLMC_AT(224));
  }
#undef LLMC_AT
  a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  a4 = _mm256_add_epi64(_mm256_add_epi64(a4, a5), _mm256_add_epi64(a6, a7));
  a0 = _mm256_add_epi64(a0, a4);
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i *>(lanes), a0);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

uint64_t sumScalar(const uint8_t *p, size_t n) {
  const uint64_t *q = reinterpret_cast<const uint64_t *>(p);
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (size_t i = 0; i < n / 8; i += 4) {
    a0 += q[i];
    a1 += q[i + 1];
    a2 += q[i + 2];
    a3 += q[i + 3];
  }
  return a0 + a1 + a2 + a3;
}

/// The read kernels for this CPU: plain loads, and loads with software
/// prefetching; every repetition runs both and the faster one counts.
std::pair<SumFn, SumFn> pickKernels(std::string &name) {
#ifdef LLMC_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    name = "avx512";
    return {sumAvx512<false>, sumAvx512<true>};
  }
  if (__builtin_cpu_supports("avx2")) {
    name = "avx2";
    return {sumAvx2<false>, sumAvx2<true>};
  }
#endif
  name = "scalar";
  return {sumScalar, sumScalar};
}

inline void relax() {
#ifdef LLMC_X86
  _mm_pause();
#endif
}

/// `size` threads, the caller being member 0, running one task at a time.
class Team {
public:
  explicit Team(int size) : size(size) {
    for (int i = 1; i < size; ++i)
      workers.emplace_back([this, i] { loop(i); });
  }
  ~Team() {
    stop.store(true, std::memory_order_release);
    generation.fetch_add(1, std::memory_order_release);
    for (std::thread &t : workers)
      t.join();
  }

  /// Runs task(i) on every member i and returns when all are done.
  void run(const std::function<void(int)> &work) {
    task = &work;
    pending.store(size - 1, std::memory_order_relaxed);
    generation.fetch_add(1, std::memory_order_release);
    work(0);
    for (unsigned spins = 0; pending.load(std::memory_order_acquire); ++spins)
      wait(spins);
  }

private:
  static void wait(unsigned spins) {
    // Spin briefly, then give the core away: a team larger than the
    // machine must not starve the members still working.
    if (spins < 2000)
      relax();
    else
      std::this_thread::yield();
  }

  void loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t now;
      for (unsigned spins = 0;
           (now = generation.load(std::memory_order_acquire)) == seen; ++spins)
        wait(spins);
      seen = now;
      if (stop.load(std::memory_order_acquire))
        return;
      (*task)(index);
      pending.fetch_sub(1, std::memory_order_release);
    }
  }

  int size;
  std::vector<std::thread> workers;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<bool> stop{false};
  const std::function<void(int)> *task = nullptr;
};

} // namespace

llvm::Expected<BandwidthResult>
llmc::runtime::measureReadBandwidthDetailed(int threads, size_t bytes,
                                            int repetitions) {
  threads = std::max(threads, 1);
  repetitions = std::max(repetitions, 1);
  // Whole pages per thread (also whole 256-byte kernel steps).
  const size_t slice = bytes / size_t(threads) / 4096 * 4096;
  if (slice == 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "bandwidth buffer of " + llvm::Twine(bytes) +
                                       " bytes is too small for " +
                                       llvm::Twine(threads) + " threads");
  const size_t total = slice * size_t(threads);
  void *mapped = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot map a bandwidth buffer of " +
                                       llvm::Twine(total) +
                                       " bytes: " + std::strerror(errno));
#ifdef MADV_HUGEPAGE
  madvise(mapped, total, MADV_HUGEPAGE); // fewer TLB misses; best effort
#endif
  uint8_t *buffer = static_cast<uint8_t *>(mapped);

  BandwidthResult result;
  result.threads = threads;
  result.bytes = total;
  auto [plain, prefetching] = pickKernels(result.kernel);
  SumFn sum = plain;
  std::atomic<uint64_t> sink{0};
  {
    Team team(threads);
    // Each thread writes its own slice first (real pages, placed near it).
    team.run([&](int i) {
      std::memset(buffer + size_t(i) * slice, 0x5A + i, slice);
    });
    std::function<void(int)> read = [&](int i) {
      sink.fetch_add(sum(buffer + size_t(i) * slice, slice),
                     std::memory_order_relaxed);
    };
    team.run(read); // warm-up: TLBs, frequency
    for (int r = 0; r < repetitions; ++r) {
      double best = 0;
      for (SumFn kernel : {plain, prefetching}) {
        sum = kernel;
        auto start = std::chrono::steady_clock::now();
        team.run(read);
        double seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count();
        best = std::max(best, seconds > 0 ? double(total) / seconds : 0);
      }
      result.samples.push_back(best);
    }
  }
  munmap(mapped, total);
  // The sink is read, so the sums (and hence the loads) are live.
  if (sink.load() == 0x0123456789ABCDEFull)
    result.kernel += " ";

  std::vector<double> sorted = result.samples;
  std::sort(sorted.begin(), sorted.end());
  result.bestBytesPerSecond = sorted.back();
  size_t n = sorted.size();
  result.medianBytesPerSecond =
      n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return result;
}

double llmc::runtime::measureReadBandwidth(int threads, size_t bytes,
                                           int repetitions) {
  llvm::Expected<BandwidthResult> result =
      measureReadBandwidthDetailed(threads, bytes, repetitions);
  if (!result) {
    llvm::consumeError(result.takeError());
    return 0;
  }
  return result->bestBytesPerSecond;
}
