//===- kernel_bench.cpp - throughput of one matmul kernel ------------------===//
//
// Part of llmc. Times llmc_matmul_<format> on synthetic weights, streaming
// from memory (64 distinct matrices per pass for one activation row, 4 for
// more) or from cache (--in-cache: the same matrix every call), and prints
// GB/s of weights and GMAC/s, best of 3 passes. A benchmark, not a test.
//
//   llmc-kernel-bench FORMAT N K [THREADS] [ROWS] [--in-cache]
//   FORMAT: f32 f16 q8_0 q4_0
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: llmc-kernel-bench FORMAT N K [THREADS] "
                         "[ROWS] [--in-cache]\n");
    return 2;
  }
  std::string format = argv[1];
  int64_t n = std::atoll(argv[2]), k = std::atoll(argv[3]);
  int64_t threads = argc > 4 ? std::atoll(argv[4]) : 1;
  int64_t rows = argc > 5 ? std::atoll(argv[5]) : 1;
  bool inCache = argc > 6 && std::strcmp(argv[6], "--in-cache") == 0;
  using Fn = void (*)(LLMC_MEMREF2(float, x), LLMC_MEMREF1(uint8_t, w),
                      int64_t, LLMC_MEMREF2(float, y));
  Fn fn;
  int64_t rowBytes;
  if (format == "q4_0") {
    fn = llmc_matmul_q4_0, rowBytes = (k + 31) / 32 * 18;
  } else if (format == "q8_0") {
    fn = llmc_matmul_q8_0, rowBytes = (k + 31) / 32 * 34;
  } else if (format == "f16") {
    fn = llmc_matmul_f16, rowBytes = k * 2;
  } else if (format == "f32") {
    fn = llmc_matmul_f32, rowBytes = k * 4;
  } else {
    std::fprintf(stderr, "llmc-kernel-bench: unknown format '%s'\n",
                 format.c_str());
    return 2;
  }
  llmc_kernels_set_threads(threads);
  int64_t matrices = inCache ? 1 : rows == 1 ? 64 : 4;
  int64_t calls = inCache ? 200 : matrices;
  std::vector<uint8_t> w(size_t(n * rowBytes * matrices));
  // Small values (f16/f32 finite, scales positive) from a fixed pattern.
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = uint8_t((i * 7 + 3) & 0x3f);
  std::vector<float> x(size_t(k * rows), 0.5f), y(size_t(n * rows));
  double best = 1e30;
  for (int pass = 0; pass < 3; ++pass) {
    auto start = std::chrono::steady_clock::now();
    for (int64_t c = 0; c < calls; ++c)
      fn(x.data(), x.data(), 0, rows, k, k, 1, w.data(), w.data(), 0,
         int64_t(w.size()), 1, (c % matrices) * n * rowBytes, y.data(),
         y.data(), 0, rows, n, n, 1);
    best = std::min(best, std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start)
                              .count());
  }
  double bytes = double(n * rowBytes) * double(calls);
  double macs = double(n) * double(k) * double(rows) * double(calls);
  std::printf("%s N=%lld K=%lld rows=%lld threads=%lld %s (%s): %.2f GB/s, "
              "%.2f GMAC/s\n",
              format.c_str(), (long long)n, (long long)k, (long long)rows,
              (long long)threads, inCache ? "in cache" : "from memory",
              llmc_kernels_isa(), bytes / best / 1e9, macs / best / 1e9);
  return 0;
}
