//===- Bandwidth.h - memory read bandwidth measurement ----------*- C++ -*-===//
//
// Part of llmc. The peak rate at which this machine's cores can stream
// memory, the ceiling of a memory-bound decode step (`llmc bench` reports
// decode speed as a fraction of it).
//
// A buffer much larger than the last-level cache is written once (so every
// page is real, not the shared zero page), then each of `threads` threads
// sums its own contiguous slice with the widest vector loads the CPU has
// (AVX-512, else AVX2, else plain 64-bit loads; chosen at run time). The
// threads are created and the buffer touched before any timing; each
// repetition times from the release of all threads to the end of the last.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BANDWIDTH_H
#define LLMC_RUNTIME_BANDWIDTH_H

#include "llvm/Support/Error.h"
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace llmc::runtime {

struct BandwidthResult {
  int threads = 0;
  /// Bytes read per repetition (the requested size rounded down to whole
  /// per-thread slices).
  uint64_t bytes = 0;
  /// Bytes per second of each repetition, in run order.
  std::vector<double> samples;
  /// The fastest repetition: the conventional "peak read bandwidth".
  double bestBytesPerSecond = 0;
  double medianBytesPerSecond = 0;
  /// "avx512", "avx2" or "scalar".
  std::string kernel;
};

/// Default buffer size: 1 GiB, far beyond any last-level cache.
constexpr size_t kDefaultBandwidthBytes = size_t(1) << 30;

/// Measures read bandwidth with `threads` threads over a buffer of `bytes`
/// bytes, `repetitions` times. Fails only when the buffer cannot be mapped.
llvm::Expected<BandwidthResult>
measureReadBandwidthDetailed(int threads, size_t bytes = kDefaultBandwidthBytes,
                             int repetitions = 5);

/// The best of `repetitions` (bytes/s); 0 if the measurement failed.
double measureReadBandwidth(int threads, size_t bytes = kDefaultBandwidthBytes,
                            int repetitions = 5);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_BANDWIDTH_H
