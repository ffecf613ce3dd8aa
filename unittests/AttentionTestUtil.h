//===- AttentionTestUtil.h - shared by the KV attention tests ---*- C++ -*-===//
//
// Part of llmc. What the tests of the byte-cache attention kernels
// (llmc_attention_kivi, llmc_attention_evict) share: random data, strided
// copies of the operands and the kernel call on them, plain softmax attention
// in double as the reference, the error measure and the check that the
// kernel thread count does not change results.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_UNITTESTS_ATTENTIONTESTUTIL_H
#define LLMC_UNITTESTS_ATTENTIONTESTUTIL_H

#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <gtest/gtest.h>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

namespace llmc::testing {

/// Padding bytes around the cache (a multiple of 64, so the sections stay
/// aligned); the kernel must not touch them.
constexpr int64_t kGuard = 64;

/// n floats drawn from N(0, 1).
inline std::vector<float> normal(std::mt19937 &rng, int64_t n) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float &v : x)
    v = dist(rng);
  return x;
}

/// Largest |got - want| and largest |want|.
inline std::pair<double, double>
errorAndMagnitude(const std::vector<float> &got,
                  const std::vector<float> &want) {
  double err = 0, mag = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    // NaN compares false: count it as an infinite error.
    double e = std::fabs(double(got[i]) - double(want[i]));
    err = std::max(err, e == e ? e : INFINITY);
    mag = std::max(mag, std::fabs(double(want[i])));
  }
  return {err, mag};
}

/// The head mapping and masks of an attention call.
struct AttentionShape {
  int64_t heads, kvHeads, headDim;
  float scale;
  int64_t window = 0; // 0: no sliding window
  bool causal = true;
};

/// Softmax attention in double of `rows` queries at positions pos.. over
/// keys/values (rows of KVH*D floats, from position 0), with the kernel's
/// masks: a query sees positions up to its own (causal) or up to the call's
/// last, and with a window only the latest `window` of them.
inline std::vector<float> referenceAttention(const AttentionShape &a,
                                             const std::vector<float> &q,
                                             int64_t rows, int64_t pos,
                                             const std::vector<float> &keys,
                                             const std::vector<float> &values) {
  int64_t d = a.headDim, ch = a.kvHeads * d, width = a.heads * d;
  std::vector<float> out(size_t(rows * width));
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t h = 0; h < a.heads; ++h) {
      int64_t kh = h / (a.heads / a.kvHeads), query = pos + t;
      int64_t last = a.causal ? query : pos + rows - 1;
      int64_t first =
          a.window > 0 ? std::max<int64_t>(0, query - a.window + 1) : 0;
      std::vector<double> scores;
      double best = -INFINITY;
      for (int64_t s = first; s <= last; ++s) {
        double dot = 0;
        for (int64_t j = 0; j < d; ++j)
          dot += double(q[size_t(t * width + h * d + j)]) *
                 double(keys[size_t(s * ch + kh * d + j)]);
        scores.push_back(dot * double(a.scale));
        best = std::max(best, scores.back());
      }
      double sum = 0;
      std::vector<double> acc(size_t(d), 0.0);
      for (int64_t s = first; s <= last; ++s) {
        double w = std::exp(scores[size_t(s - first)] - best);
        sum += w;
        for (int64_t j = 0; j < d; ++j)
          acc[size_t(j)] += w * double(values[size_t(s * ch + kh * d + j)]);
      }
      for (int64_t j = 0; j < d; ++j)
        out[size_t(t * width + h * d + j)] = float(acc[size_t(j)] / sum);
    }
  return out;
}

/// A strided copy of a rows x cols matrix: `offset` elements of padding,
/// then rows `stride` apart (the padding NaN, so reading it shows).
inline std::vector<float> strided(const float *x, int64_t rows, int64_t cols,
                                  int64_t stride, int64_t offset) {
  std::vector<float> b(size_t(offset + rows * stride), NAN);
  for (int64_t t = 0; t < rows; ++t)
    std::copy(x + t * cols, x + (t + 1) * cols,
              b.begin() + offset + t * stride);
  return b;
}

/// Calls an attention kernel on `rows` new positions with q (rows x width),
/// k and v (rows x channels) copied to buffers of their own padding and row
/// stride, the cache at byte kGuard of `buffer` (`cacheBytes` long) and
/// `params` (the kernel's arguments between the cache and out) passed as
/// they are; out goes to a strided NaN-filled buffer. Returns out (rows x
/// width, compact).
template <typename Kernel, typename... Params>
std::vector<float> callStrided(Kernel kernel, const std::vector<float> &q,
                               const std::vector<float> &k,
                               const std::vector<float> &v, int64_t rows,
                               int64_t width, int64_t channels,
                               std::vector<uint8_t> &buffer, int64_t cacheBytes,
                               Params... params) {
  int64_t ch = channels;
  std::vector<float> qb = strided(q.data(), rows, width, width + 3, 5);
  std::vector<float> kb = strided(k.data(), rows, ch, ch + 1, 2);
  std::vector<float> vb = strided(v.data(), rows, ch, ch + 7, 0);
  std::vector<float> ob(size_t(1 + rows * (width + 2)), NAN);
  kernel(qb.data(), qb.data(), 5, rows, width, width + 3, 1, kb.data(),
         kb.data(), 2, rows, ch, ch + 1, 1, vb.data(), vb.data(), 0, rows, ch,
         ch + 7, 1, buffer.data(), buffer.data(), kGuard, cacheBytes, 1,
         params..., ob.data(), ob.data(), 1, rows, width, width + 2, 1);
  std::vector<float> out(size_t(rows * width));
  for (int64_t t = 0; t < rows; ++t)
    std::copy(ob.begin() + 1 + t * (width + 2),
              ob.begin() + 1 + t * (width + 2) + width,
              out.begin() + t * width);
  return out;
}

/// One layer of a byte cache driven through `Kernel` call by call with
/// callStrided: the cache between kGuard bytes of padding, every key and
/// value so far in float (rows of channels()) and the next position. Config
/// has layout(), width(), channels() and kernelParams(pos), the kernel's
/// arguments between the cache and out as a tuple; Layout has totalBytes().
template <typename Config, typename Layout, auto Kernel> struct CacheRun {
  explicit CacheRun(const Config &c)
      : config(c), layout(c.layout()),
        buffer(size_t(layout.totalBytes() + 2 * kGuard), 0) {}

  /// One call on `rows` new positions; returns out (rows x width, compact).
  std::vector<float> step(const std::vector<float> &q,
                          const std::vector<float> &k,
                          const std::vector<float> &v, int64_t rows) {
    std::vector<float> out = std::apply(
        [&](auto... params) {
          return callStrided(Kernel, q, k, v, rows, config.width(),
                             config.channels(), buffer, layout.totalBytes(),
                             params...);
        },
        config.kernelParams(pos));
    keys.insert(keys.end(), k.begin(), k.end());
    values.insert(values.end(), v.begin(), v.end());
    pos += rows;
    return out;
  }

  Config config;
  Layout layout;
  std::vector<uint8_t> buffer; // kGuard bytes, the cache, kGuard bytes
  std::vector<float> keys, values;
  int64_t pos = 0;
};

/// One call of a schedule: its random operands and the kernel's output.
struct RandomStep {
  std::vector<float> q, k, v; // rows x width, rows x channels (twice)
  int64_t rows;
  std::vector<float> out; // rows x width
};

/// Runs `schedule` (new positions per call) on `run` with random q, k and v
/// drawn from `seed`, handing each call to `check`; stops once the test has
/// a fatal failure (an ASSERT in `check` fired).
template <typename Run, typename Check>
void forEachRandomStep(Run &run, const std::vector<int64_t> &schedule,
                       unsigned seed, Check check) {
  std::mt19937 rng(seed);
  for (int64_t rows : schedule) {
    RandomStep s;
    s.q = normal(rng, rows * run.config.width());
    s.k = normal(rng, rows * run.config.channels());
    s.v = normal(rng, rows * run.config.channels());
    s.rows = rows;
    s.out = run.step(s.q, s.k, s.v, rows);
    check(s);
    if (::testing::Test::HasFatalFailure())
      return;
  }
}

/// Runs `schedule` (new positions per call, random data from `seed`) on a
/// fresh Run(config) with one kernel thread and with three, and expects the
/// same outputs and cache bytes.
template <typename Run, typename Config>
void expectThreadCountIndependent(const Config &c,
                                  const std::vector<int64_t> &schedule,
                                  unsigned seed) {
  auto runWith = [&](int64_t threads) {
    llmc_kernels_set_threads(threads);
    Run run(c);
    std::vector<float> outs;
    forEachRandomStep(run, schedule, seed, [&](const RandomStep &step) {
      outs.insert(outs.end(), step.out.begin(), step.out.end());
    });
    return std::make_pair(outs, run.buffer);
  };
  int64_t previous = llmc_kernels_get_threads();
  auto one = runWith(1), three = runWith(3);
  llmc_kernels_set_threads(previous);
  EXPECT_EQ(one.first, three.first);
  EXPECT_EQ(one.second, three.second);
}

} // namespace llmc::testing

#endif // LLMC_UNITTESTS_ATTENTIONTESTUTIL_H
