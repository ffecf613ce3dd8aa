//===- KVQuantizedTest.cpp - attention over a KIVI-quantized cache --------===//
//
// Part of llmc. llmc_attention_kivi against an independent reference that
// keeps every key and value in float and applies the KIVI rule itself: keys
// round-tripped per channel over token groups, values per token over channel
// runs, once a position is older than quantizedCount(len); the ring and the
// step's own rows exact. Plain softmax in double. Covers GQA, 2/4/8 bits,
// residual 0, sliding windows, non-causal chunks, prefills longer than the
// ring, strided operands, the bytes against KVLayout.h, exactness while
// everything fits the residual window, closeness to f32 attention at 8 bits
// and thread-count independence.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Kernels/KernelsImpl.h"
#include "llmc/Import/SyntheticLlama.h"
#include "llmc/Runtime/KVLayout.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

using llmc::kernels::halfToFloat;
using llmc::runtime::KiviLayout;

namespace {

struct Config {
  int64_t heads = 4, kvHeads = 2, headDim = 16;
  int64_t bits = 4, group = 32, residual = 16, capacity = 200;
  int64_t layers = 2, layer = 1;
  int64_t window = 0;
  bool causal = true;

  KiviLayout layout() const {
    return {layers, kvHeads, capacity, headDim, bits, group, residual};
  }
  int64_t channels() const { return kvHeads * headDim; }
  int64_t width() const { return heads * headDim; }
  float scale() const { return 1.0f / std::sqrt(float(headDim)); }
};

/// The f16 a record stores for v: nearest, saturated at +-65504.
float storedHalf(float v) {
  return halfToFloat(
      llmc::import::floatToHalf(std::clamp(v, -65504.0f, 65504.0f)));
}

/// x after quantization to one KIVI record and back.
void roundTrip(std::vector<float> &x, int64_t bits) {
  float lo = *std::min_element(x.begin(), x.end());
  float hi = *std::max_element(x.begin(), x.end());
  float top = float((1 << bits) - 1);
  float s = storedHalf((hi - lo) / top), m = storedHalf(lo);
  for (float &v : x) {
    float code =
        s > 0.0f ? std::clamp(std::nearbyint((v - m) / s), 0.0f, top) : 0.0f;
    v = m + s * code;
  }
}

/// What the cache holds of positions [0, len) (rows of C floats): positions
/// below quantizedCount(len) round-tripped, the rest exact.
void quantizeHistory(const Config &c, int64_t len, std::vector<float> &keys,
                     std::vector<float> &values) {
  KiviLayout l = c.layout();
  int64_t ch = c.channels(), g = c.group, end = l.quantizedCount(len);
  std::vector<float> x(static_cast<size_t>(g));
  for (int64_t first = 0; first < end; first += g) {
    for (int64_t j = 0; j < ch; ++j) {
      for (int64_t i = 0; i < g; ++i)
        x[size_t(i)] = keys[size_t((first + i) * ch + j)];
      roundTrip(x, c.bits);
      for (int64_t i = 0; i < g; ++i)
        keys[size_t((first + i) * ch + j)] = x[size_t(i)];
    }
  }
  for (int64_t s = 0; s < end; ++s)
    for (int64_t r = 0; r < ch / g; ++r) {
      float *run = &values[size_t(s * ch + r * g)];
      x.assign(run, run + g);
      roundTrip(x, c.bits);
      std::copy(x.begin(), x.end(), run);
    }
}

/// Softmax attention in double of `rows` queries at positions pos.. over
/// keys/values (rows of C floats), with the kernel's masks.
std::vector<float> referenceAttention(const Config &c,
                                      const std::vector<float> &q, int64_t rows,
                                      int64_t pos,
                                      const std::vector<float> &keys,
                                      const std::vector<float> &values) {
  int64_t d = c.headDim, ch = c.channels();
  std::vector<float> out(size_t(rows * c.width()));
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t h = 0; h < c.heads; ++h) {
      int64_t kh = h / (c.heads / c.kvHeads), query = pos + t;
      int64_t last = c.causal ? query : pos + rows - 1;
      int64_t first =
          c.window > 0 ? std::max<int64_t>(0, query - c.window + 1) : 0;
      std::vector<double> scores;
      double best = -INFINITY;
      for (int64_t s = first; s <= last; ++s) {
        double dot = 0;
        for (int64_t j = 0; j < d; ++j)
          dot += double(q[size_t(t * c.width() + h * d + j)]) *
                 double(keys[size_t(s * ch + kh * d + j)]);
        scores.push_back(dot * double(c.scale()));
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
        out[size_t(t * c.width() + h * d + j)] = float(acc[size_t(j)] / sum);
    }
  return out;
}

/// A strided copy of a rows x cols matrix: `offset` elements of padding,
/// then rows `stride` apart (the padding NaN, so reading it shows).
std::vector<float> strided(const float *x, int64_t rows, int64_t cols,
                           int64_t stride, int64_t offset) {
  std::vector<float> b(size_t(offset + rows * stride), NAN);
  for (int64_t t = 0; t < rows; ++t)
    std::copy(x + t * cols, x + (t + 1) * cols,
              b.begin() + offset + t * stride);
  return b;
}

/// Padding bytes around the cache (a multiple of 64, so the sections stay
/// aligned); the kernel must not touch them.
constexpr int64_t kGuard = 64;

/// Drives one layer of a KIVI cache through llmc_attention_kivi with strided
/// operands, keeping every key and value in float for the reference.
class KiviRun {
public:
  explicit KiviRun(const Config &c)
      : config(c), layout(c.layout()),
        buffer(size_t(layout.totalBytes() + 2 * kGuard), 0) {}

  /// One call on `rows` new positions; returns out (rows x H*D, compact).
  std::vector<float> step(const std::vector<float> &q,
                          const std::vector<float> &k,
                          const std::vector<float> &v, int64_t rows) {
    const Config &c = config;
    int64_t width = c.width(), ch = c.channels();
    std::vector<float> qb = strided(q.data(), rows, width, width + 3, 5);
    std::vector<float> kb = strided(k.data(), rows, ch, ch + 1, 2);
    std::vector<float> vb = strided(v.data(), rows, ch, ch + 7, 0);
    std::vector<float> ob(size_t(1 + rows * (width + 2)), NAN);
    llmc_attention_kivi(
        qb.data(), qb.data(), 5, rows, width, width + 3, 1, kb.data(),
        kb.data(), 2, rows, ch, ch + 1, 1, vb.data(), vb.data(), 0, rows, ch,
        ch + 7, 1, buffer.data(), buffer.data(), kGuard, layout.totalBytes(), 1,
        c.layer, pos, c.heads, c.scale(), c.window, c.causal ? 1 : 0, c.layers,
        c.kvHeads, c.capacity, c.headDim, c.bits, c.group, c.residual,
        ob.data(), ob.data(), 1, rows, width, width + 2, 1);
    keys.insert(keys.end(), k.begin(), k.end());
    values.insert(values.end(), v.begin(), v.end());
    pos += rows;
    std::vector<float> out(size_t(rows * width));
    for (int64_t t = 0; t < rows; ++t)
      std::copy(ob.begin() + 1 + t * (width + 2),
                ob.begin() + 1 + t * (width + 2) + width,
                out.begin() + t * width);
    return out;
  }

  /// The reference output of the last step's queries q (rows of them).
  std::vector<float> reference(const std::vector<float> &q,
                               int64_t rows) const {
    std::vector<float> k = keys, v = values;
    quantizeHistory(config, pos, k, v);
    // The step's own rows are exact even where they were just flushed.
    int64_t ch = config.channels();
    std::copy(keys.begin() + (pos - rows) * ch, keys.end(),
              k.begin() + (pos - rows) * ch);
    std::copy(values.begin() + (pos - rows) * ch, values.end(),
              v.begin() + (pos - rows) * ch);
    return referenceAttention(config, q, rows, pos - rows, k, v);
  }

  /// The exact (f32 cache) attention of the last step's queries.
  std::vector<float> exact(const std::vector<float> &q, int64_t rows) const {
    return referenceAttention(config, q, rows, pos - rows, keys, values);
  }

  Config config;
  KiviLayout layout;
  std::vector<uint8_t> buffer; // kGuard bytes, the cache, kGuard bytes
  std::vector<float> keys, values;
  int64_t pos = 0;
};

std::vector<float> normal(std::mt19937 &rng, int64_t n) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float &v : x)
    v = dist(rng);
  return x;
}

/// Largest |got - want| and largest |want|.
std::pair<double, double> errorAndMagnitude(const std::vector<float> &got,
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

/// Runs `schedule` (new positions per call) on `run` with random data and
/// checks every call's output against the reference within `rel` of the
/// output magnitude.
void expectMatchesReference(KiviRun &run, const std::vector<int64_t> &schedule,
                            unsigned seed, double rel = 1e-4) {
  const Config &c = run.config;
  std::mt19937 rng(seed);
  for (int64_t rows : schedule) {
    std::vector<float> q = normal(rng, rows * c.width());
    std::vector<float> k = normal(rng, rows * c.channels());
    std::vector<float> v = normal(rng, rows * c.channels());
    std::vector<float> out = run.step(q, k, v, rows);
    auto [err, mag] = errorAndMagnitude(out, run.reference(q, rows));
    ASSERT_LE(err, rel * std::max(mag, 1e-3))
        << "call ending at position " << run.pos;
  }
}

std::string describe(const Config &c) {
  return "bits " + std::to_string(c.bits) + " group " +
         std::to_string(c.group) + " residual " + std::to_string(c.residual) +
         " window " + std::to_string(c.window) +
         (c.causal ? " causal" : " non-causal");
}

TEST(KVQuantizedTest, GQAPrefillThenDecode) {
  Config c; // H 4, KVH 2, D 16, 4 bits, group 32, residual 16, layer 1 of 2
  std::vector<int64_t> schedule = {37};
  schedule.resize(61, 1);
  KiviRun run(c);
  expectMatchesReference(run, schedule, 1);
  // Layer 0 and the guard bytes are untouched.
  const std::vector<uint8_t> &b = run.buffer;
  auto zero = [](uint8_t x) { return x == 0; };
  EXPECT_TRUE(std::all_of(b.begin(),
                          b.begin() + kGuard + run.layout.keyOffset(1), zero));
  EXPECT_TRUE(std::all_of(b.end() - kGuard, b.end(), zero));
}

TEST(KVQuantizedTest, BitsResidualWindowAndMaskVariants) {
  struct Case {
    Config config;
    std::vector<int64_t> schedule;
  };
  auto config = [](int64_t bits, int64_t group, int64_t residual,
                   int64_t window, bool causal) {
    Config c;
    c.bits = bits, c.group = group, c.residual = residual, c.window = window,
    c.causal = causal;
    return c;
  };
  std::vector<int64_t> decode = {23};
  decode.resize(40, 1);
  // Uneven chunks: prefills longer than the ring, flushes that read the ring
  // and the step's rows, calls that flush nothing.
  std::vector<int64_t> chunks = {5, 40, 1, 1, 17, 3, 8, 1, 29, 2};
  std::vector<Case> cases = {
      {config(2, 16, 0, 0, true), decode},
      {config(8, 8, 8, 0, true), decode},
      {config(2, 32, 16, 0, true), chunks},
      {config(8, 16, 0, 0, true), chunks},
      {config(4, 8, 8, 20, true), decode},
      {config(2, 8, 0, 7, true), chunks},
      {config(4, 16, 8, 0, false), chunks},
      {config(8, 32, 0, 11, false), chunks},
  };
  // Twelve query heads on one KV head: two head blocks (8 + 4) per row.
  Config mqa = config(4, 16, 8, 0, true);
  mqa.heads = 12, mqa.kvHeads = 1;
  cases.push_back({mqa, chunks});
  unsigned seed = 10;
  for (const Case &k : cases) {
    SCOPED_TRACE(describe(k.config));
    KiviRun run(k.config);
    expectMatchesReference(run, k.schedule, seed++);
  }
}

TEST(KVQuantizedTest, GroupsLongerThanTheScoreBuffer) {
  // A group of 264 positions is scored in two chunks (256, then 8); a value
  // run of 264 channels spans all three KV heads.
  Config c;
  c.heads = 3, c.kvHeads = 3, c.headDim = 88, c.group = 264, c.residual = 0;
  c.capacity = 400;
  KiviRun run(c);
  expectMatchesReference(run, {300, 1, 1, 40}, 4);
}

TEST(KVQuantizedTest, ExactWhileWithinResidual) {
  Config c;
  c.residual = 64;
  c.capacity = 64;
  std::mt19937 rng(5);
  KiviRun run(c);
  for (int64_t rows : {20, 1, 1, 1, 30, 1, 10}) {
    std::vector<float> q = normal(rng, rows * c.width());
    std::vector<float> out = run.step(q, normal(rng, rows * c.channels()),
                                      normal(rng, rows * c.channels()), rows);
    auto [err, mag] = errorAndMagnitude(out, run.exact(q, rows));
    ASSERT_LE(err, 1e-5) << "call ending at position " << run.pos;
  }
  EXPECT_EQ(run.pos, 64);
}

TEST(KVQuantizedTest, EightBitsCloseToF32) {
  Config c;
  c.headDim = 32, c.bits = 8, c.residual = 16, c.capacity = 320;
  std::mt19937 rng(6);
  KiviRun run(c);
  std::vector<int64_t> schedule = {300};
  schedule.resize(11, 1);
  for (int64_t rows : schedule) {
    std::vector<float> q = normal(rng, rows * c.width());
    std::vector<float> out = run.step(q, normal(rng, rows * c.channels()),
                                      normal(rng, rows * c.channels()), rows);
    if (rows == 1) {
      auto [err, mag] = errorAndMagnitude(out, run.exact(q, rows));
      EXPECT_LT(err, 2e-2) << "position " << run.pos;
    }
  }
}

TEST(KVQuantizedTest, BytesFollowKVLayout) {
  Config c;
  c.group = 16; // two runs per position, runs straddling no head
  std::mt19937 rng(8);
  KiviRun run(c);
  for (int64_t rows : {37, 1, 1, 20, 1})
    run.step(normal(rng, rows * c.width()), normal(rng, rows * c.channels()),
             normal(rng, rows * c.channels()), rows);
  const KiviLayout &l = run.layout;
  int64_t len = run.pos, ch = c.channels(), g = c.group;
  std::vector<float> k = run.keys, v = run.values;
  quantizeHistory(c, len, k, v);
  const uint8_t *base = run.buffer.data() + kGuard;
  auto decode = [&](const uint8_t *record, int64_t i) {
    float s = halfToFloat(uint16_t(record[0] | record[1] << 8));
    float m = halfToFloat(uint16_t(record[2] | record[3] << 8));
    int64_t bit = i * c.bits;
    int code = record[4 + bit / 8] >> (bit % 8) & ((1 << c.bits) - 1);
    return m + s * float(code);
  };
  int64_t quantized = l.quantizedCount(len);
  ASSERT_GT(quantized, 0);
  for (int64_t s = 0; s < quantized; ++s)
    for (int64_t j = 0; j < ch; ++j) {
      const uint8_t *key =
          base + l.keyOffset(c.layer) + (s / g * ch + j) * l.recordBytes();
      const uint8_t *value = base + l.valueOffset(c.layer) +
                             (s * (ch / g) + j / g) * l.recordBytes();
      ASSERT_EQ(decode(key, s % g), k[size_t(s * ch + j)]) << s << " " << j;
      ASSERT_EQ(decode(value, j % g), v[size_t(s * ch + j)]) << s << " " << j;
    }
  for (int64_t s = quantized; s < len; ++s) {
    std::vector<float> slot(size_t(2 * ch));
    std::memcpy(slot.data(),
                base + l.ringOffset(c.layer) +
                    s % l.ringSlots() * 2 * ch * int64_t(sizeof(float)),
                slot.size() * sizeof(float));
    for (int64_t j = 0; j < ch; ++j) {
      ASSERT_EQ(slot[size_t(j)], run.keys[size_t(s * ch + j)]) << s;
      ASSERT_EQ(slot[size_t(ch + j)], run.values[size_t(s * ch + j)]) << s;
    }
  }
}

TEST(KVQuantizedTest, ThreadCountDoesNotChangeResults) {
  Config c;
  c.heads = 8, c.kvHeads = 2, c.headDim = 64, c.residual = 32;
  c.capacity = 512;
  auto runWith = [&](int64_t threads) {
    llmc_kernels_set_threads(threads);
    std::mt19937 rng(9);
    KiviRun run(c);
    std::vector<float> outs;
    for (int64_t rows : {300, 1, 1, 1, 50}) {
      std::vector<float> out = run.step(normal(rng, rows * c.width()),
                                        normal(rng, rows * c.channels()),
                                        normal(rng, rows * c.channels()), rows);
      outs.insert(outs.end(), out.begin(), out.end());
    }
    return std::make_pair(outs, run.buffer);
  };
  int64_t previous = llmc_kernels_get_threads();
  auto one = runWith(1), three = runWith(3);
  llmc_kernels_set_threads(previous);
  EXPECT_EQ(one.first, three.first);
  EXPECT_EQ(one.second, three.second);
}

TEST(KVQuantizedTest, InvalidParametersWriteNothing) {
  Config c;
  std::vector<float> q(size_t(c.width()), 1.0f), k(size_t(c.channels()), 1.0f);
  auto call = [&](int64_t bits, int64_t group, int64_t pos) {
    KiviLayout l = c.layout();
    std::vector<uint8_t> cache(size_t(l.totalBytes()), 0);
    std::vector<float> out(size_t(c.width()), -1.0f);
    llmc_attention_kivi(
        q.data(), q.data(), 0, 1, c.width(), c.width(), 1, k.data(), k.data(),
        0, 1, c.channels(), c.channels(), 1, k.data(), k.data(), 0, 1,
        c.channels(), c.channels(), 1, cache.data(), cache.data(), 0,
        l.totalBytes(), 1, c.layer, pos, c.heads, c.scale(), 0, 1, c.layers,
        c.kvHeads, c.capacity, c.headDim, bits, group, c.residual, out.data(),
        out.data(), 0, 1, c.width(), c.width(), 1);
    bool untouched =
        std::all_of(cache.begin(), cache.end(), [](uint8_t x) { return !x; }) &&
        std::all_of(out.begin(), out.end(), [](float x) { return x == -1.0f; });
    return untouched;
  };
  EXPECT_FALSE(call(4, 32, 0));         // valid: writes the ring and the output
  EXPECT_TRUE(call(3, 32, 0));          // bits not 2/4/8
  EXPECT_TRUE(call(4, 12, 0));          // group not a multiple of 8
  EXPECT_TRUE(call(4, 24, 0));          // group does not divide C = 32
  EXPECT_TRUE(call(4, 32, c.capacity)); // pos + T > capacity
}

} // namespace
