//===- KVQuantizedTest.cpp - attention over a KIVI-quantized cache --------===//
//
// Part of llmc. llmc_attention_kivi against an independent reference that
// keeps every key and value in float and applies the KIVI rule itself: keys
// round-tripped per channel over token groups, values per token over channel
// runs, once a position is older than quantizedCount(len); the ring and the
// step's own rows exact (a causal step of up to 16 rows row by row, as that
// many decode steps). Plain softmax in double. Covers GQA, 2/4/8 bits,
// residual 0, sliding windows, non-causal chunks, prefills longer than the
// ring, strided operands, the bytes against KVLayout.h, exactness while
// everything fits the residual window, closeness to f32 attention at 8 bits
// and thread-count independence.
//
//===----------------------------------------------------------------------===//

#include "AttentionTestUtil.h"
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
using namespace llmc::testing;

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
  AttentionShape attention() const {
    return {heads, kvHeads, headDim, scale(), window, causal};
  }
  /// llmc_attention_kivi's arguments between the cache and out, for a call
  /// at `pos`.
  auto kernelParams(int64_t pos) const {
    return std::make_tuple(layer, pos, heads, scale(), window, causal ? 1 : 0,
                           layers, kvHeads, capacity, headDim, bits, group,
                           residual);
  }
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

/// Drives one layer of a KIVI cache through llmc_attention_kivi with strided
/// operands, keeping every key and value in float for the reference.
class KiviRun : public CacheRun<Config, KiviLayout, llmc_attention_kivi> {
public:
  using CacheRun::CacheRun;

  /// The reference output of the last step's queries q (rows of them). A
  /// causal call of up to 16 rows is that many one-row calls (each row sees
  /// what a decode step at its position would, groups the call's earlier
  /// rows flushed included); a longer or non-causal call flushes first and
  /// reads all its own rows exactly.
  std::vector<float> reference(const std::vector<float> &q,
                               int64_t rows) const {
    if (config.causal && rows > 1 && rows <= 16) {
      std::vector<float> out;
      int64_t width = config.width();
      for (int64_t t = 0; t < rows; ++t) {
        std::vector<float> row(q.begin() + t * width,
                               q.begin() + (t + 1) * width);
        std::vector<float> o = referenceAt(row, 1, pos - rows + t + 1);
        out.insert(out.end(), o.begin(), o.end());
      }
      return out;
    }
    return referenceAt(q, rows, pos);
  }

  /// The output of a call of `rows` queries q that ends at position `end`.
  std::vector<float> referenceAt(const std::vector<float> &q, int64_t rows,
                                 int64_t end) const {
    int64_t ch = config.channels();
    std::vector<float> k(keys.begin(), keys.begin() + end * ch),
        v(values.begin(), values.begin() + end * ch);
    quantizeHistory(config, end, k, v);
    // The call's own rows are exact even where they were just flushed.
    std::copy(keys.begin() + (end - rows) * ch, keys.begin() + end * ch,
              k.begin() + (end - rows) * ch);
    std::copy(values.begin() + (end - rows) * ch, values.begin() + end * ch,
              v.begin() + (end - rows) * ch);
    return referenceAttention(config.attention(), q, rows, end - rows, k, v);
  }

  /// The exact (f32 cache) attention of the last step's queries.
  std::vector<float> exact(const std::vector<float> &q, int64_t rows) const {
    return referenceAttention(config.attention(), q, rows, pos - rows, keys,
                              values);
  }
};

/// Runs `schedule` (new positions per call) on `run` with random data and
/// checks every call's output against the reference within `rel` of the
/// output magnitude.
void expectMatchesReference(KiviRun &run, const std::vector<int64_t> &schedule,
                            unsigned seed, double rel = 1e-4) {
  forEachRandomStep(run, schedule, seed, [&](const RandomStep &step) {
    auto [err, mag] =
        errorAndMagnitude(step.out, run.reference(step.q, step.rows));
    ASSERT_LE(err, rel * std::max(mag, 1e-3))
        << "call ending at position " << run.pos;
  });
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
  expectThreadCountIndependent<KiviRun>(c, {300, 1, 1, 1, 50}, 9);
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
