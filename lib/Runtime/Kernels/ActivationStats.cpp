//===- ActivationStats.cpp - per-channel |x| sums of the matmul inputs ----===//
//
// Part of llmc. While recording (llmc_kernels_record_activations), every
// matmul entry point adds the absolute values of its activation rows, per
// input channel, to the sums kept for its weight, keyed by the weight's
// byte offset in the weights range. AWQ-style quantization reads these
// means to find the channels that matter. Recording allocates (a map entry
// per weight); the decode loop's no-allocation rule holds when it is off,
// which costs the matmul entry points one branch on a global flag.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

namespace llmc::kernels {
bool recordingActivations = false;
} // namespace llmc::kernels

using namespace llmc::kernels;

namespace {

struct ChannelSums {
  std::vector<double> sumAbs;
  int64_t rows = 0;
};

/// The sums of every weight seen since recording started. Kernel calls come
/// from one host thread (Kernels.h), so no lock.
std::unordered_map<int64_t, ChannelSums> &stats() {
  static std::unordered_map<int64_t, ChannelSums> map;
  return map;
}

} // namespace

void llmc::kernels::recordActivations(int64_t weightOffset, const float *x,
                                      int64_t rows, int64_t k,
                                      int64_t xStride) {
  ChannelSums &s = stats()[weightOffset];
  if (s.sumAbs.empty())
    s.sumAbs.assign(size_t(k), 0.0);
  // One weight always has the same K; a different one means two weights
  // at one offset, which the compiler never lays out. Keep the first.
  if (int64_t(s.sumAbs.size()) != k)
    return;
  for (int64_t t = 0; t < rows; ++t) {
    const float *row = x + t * xStride;
    for (int64_t c = 0; c < k; ++c)
      s.sumAbs[size_t(c)] += std::fabs(double(row[c]));
  }
  s.rows += rows;
}

extern "C" void llmc_kernels_record_activations(int64_t enable) {
  if (enable)
    stats().clear();
  recordingActivations = enable != 0;
}

extern "C" int64_t llmc_kernels_activation_stats(int64_t weightOffset,
                                                 double *sumAbs, int64_t k) {
  auto it = stats().find(weightOffset);
  if (it == stats().end() || int64_t(it->second.sumAbs.size()) != k)
    return -1;
  std::copy(it->second.sumAbs.begin(), it->second.sumAbs.end(), sumAbs);
  return it->second.rows;
}

extern "C" int64_t llmc_kernels_activation_channels(int64_t weightOffset) {
  auto it = stats().find(weightOffset);
  return it == stats().end() ? -1 : int64_t(it->second.sumAbs.size());
}
