//===- KVEvictTest.cpp - attention over an evicting f32 KV cache ----------===//
//
// Part of llmc. llmc_attention_evict against an independent reference that
// keeps each KV head's cache as a list of (position, key, value, score)
// entries and applies the window (StreamingLLM) and H2O eviction rules
// itself, one new position at a time, with softmax in double. Covers GQA
// and MQA, prefills longer than the budget, sinks and recent windows of
// zero, strided operands, the positions and scores in the bytes of
// EvictLayout, plain causal attention while the budget holds everything,
// thread-count independence and rejected arguments.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/KVLayout.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

using llmc::runtime::EvictLayout;

namespace {

constexpr int64_t kWindow = 0, kH2O = 1;

struct Config {
  int64_t heads = 4, kvHeads = 2, headDim = 8;
  int64_t slots = 12, layers = 2, layer = 1;
  int64_t policy = kWindow, sinks = 2, recent = 0, budget = 10;

  EvictLayout layout() const { return {layers, kvHeads, slots, headDim}; }
  int64_t channels() const { return kvHeads * headDim; }
  int64_t width() const { return heads * headDim; }
  int64_t group() const { return heads / kvHeads; }
  float scale() const { return 1.0f / std::sqrt(float(headDim)); }
};

std::string describe(const Config &c) {
  return std::string(c.policy == kH2O ? "h2o" : "window") + " H " +
         std::to_string(c.heads) + " KVH " + std::to_string(c.kvHeads) +
         " sinks " + std::to_string(c.sinks) + " recent " +
         std::to_string(c.recent) + " budget " + std::to_string(c.budget) +
         " slots " + std::to_string(c.slots);
}

/// One cached position of the reference.
struct Entry {
  int64_t position;
  std::vector<float> key, value;
  double score = 0.0;
};

/// The eviction rules on one KV head's entries (in no particular order),
/// written as plainly as possible: the index of the entry that position
/// `query` replaces.
size_t windowVictim(const std::vector<Entry> &entries, int64_t sinks) {
  size_t victim = entries.size(), newest = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].position >= sinks &&
        (victim == entries.size() ||
         entries[i].position < entries[victim].position))
      victim = i;
    if (entries[i].position > entries[newest].position)
      newest = i;
  }
  return victim < entries.size() ? victim : newest;
}

size_t heavyHitterVictim(const std::vector<Entry> &entries, int64_t sinks,
                         int64_t recent, int64_t query) {
  size_t victim = entries.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry &e = entries[i];
    if (e.position < sinks || e.position >= query - recent)
      continue;
    if (victim == entries.size() || e.score < entries[victim].score ||
        (e.score == entries[victim].score &&
         e.position < entries[victim].position))
      victim = i;
  }
  return victim < entries.size() ? victim : windowVictim(entries, sinks);
}

/// The reference cache of one layer: per KV head, its entries.
class Reference {
public:
  explicit Reference(const Config &c) : config(c), heads(size_t(c.kvHeads)) {}

  /// Inserts `rows` positions and returns their attention (rows x H*D).
  std::vector<float> step(const std::vector<float> &q,
                          const std::vector<float> &k,
                          const std::vector<float> &v, int64_t rows) {
    const Config &c = config;
    int64_t d = c.headDim, ch = c.channels(), width = c.width();
    std::vector<float> out(size_t(rows * width));
    for (int64_t t = 0; t < rows; ++t, ++pos)
      for (int64_t kh = 0; kh < c.kvHeads; ++kh) {
        std::vector<Entry> &entries = heads[size_t(kh)];
        Entry e{
            pos,
            {k.begin() + t * ch + kh * d, k.begin() + t * ch + (kh + 1) * d},
            {v.begin() + t * ch + kh * d, v.begin() + t * ch + (kh + 1) * d}};
        if (int64_t(entries.size()) < c.budget)
          entries.push_back(e);
        else if (c.policy == kH2O)
          entries[heavyHitterVictim(entries, c.sinks, c.recent, pos)] = e;
        else
          entries[windowVictim(entries, c.sinks)] = e;
        for (int64_t h = kh * c.group(); h < (kh + 1) * c.group(); ++h) {
          const float *query = &q[size_t(t * width + h * d)];
          std::vector<double> w;
          double best = -INFINITY, sum = 0.0;
          for (const Entry &x : entries) {
            double dot = 0.0;
            for (int64_t j = 0; j < d; ++j)
              dot += double(query[j]) * double(x.key[size_t(j)]);
            w.push_back(dot * double(c.scale()));
            best = std::max(best, w.back());
          }
          for (double &x : w) {
            x = std::exp(x - best);
            sum += x;
          }
          std::vector<double> acc(size_t(d), 0.0);
          for (size_t i = 0; i < entries.size(); ++i) {
            double p = w[i] / sum;
            for (int64_t j = 0; j < d; ++j)
              acc[size_t(j)] += p * double(entries[i].value[size_t(j)]);
            if (c.policy == kH2O)
              entries[i].score += p;
          }
          for (int64_t j = 0; j < d; ++j)
            out[size_t(t * width + h * d + j)] = float(acc[size_t(j)]);
        }
      }
    return out;
  }

  /// The positions KV head kh holds, ascending.
  std::vector<int64_t> held(int64_t kh) const {
    std::vector<int64_t> positions;
    for (const Entry &e : heads[size_t(kh)])
      positions.push_back(e.position);
    std::sort(positions.begin(), positions.end());
    return positions;
  }

  /// The accumulated score of `position` in KV head kh.
  double score(int64_t kh, int64_t position) const {
    for (const Entry &e : heads[size_t(kh)])
      if (e.position == position)
        return e.score;
    return NAN;
  }

  Config config;
  std::vector<std::vector<Entry>> heads;
  int64_t pos = 0;
};

/// Plain causal attention in double of `rows` queries at positions pos..
/// over every key and value so far (rows of C floats).
std::vector<float> causalAttention(const Config &c, const std::vector<float> &q,
                                   int64_t rows, int64_t pos,
                                   const std::vector<float> &keys,
                                   const std::vector<float> &values) {
  int64_t d = c.headDim, ch = c.channels(), width = c.width();
  std::vector<float> out(size_t(rows * width));
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t h = 0; h < c.heads; ++h) {
      int64_t kh = h / c.group();
      std::vector<double> w;
      double best = -INFINITY, sum = 0.0;
      for (int64_t s = 0; s <= pos + t; ++s) {
        double dot = 0.0;
        for (int64_t j = 0; j < d; ++j)
          dot += double(q[size_t(t * width + h * d + j)]) *
                 double(keys[size_t(s * ch + kh * d + j)]);
        w.push_back(dot * double(c.scale()));
        best = std::max(best, w.back());
      }
      std::vector<double> acc(size_t(d), 0.0);
      for (int64_t s = 0; s <= pos + t; ++s) {
        double x = std::exp(w[size_t(s)] - best);
        sum += x;
        for (int64_t j = 0; j < d; ++j)
          acc[size_t(j)] += x * double(values[size_t(s * ch + kh * d + j)]);
      }
      for (int64_t j = 0; j < d; ++j)
        out[size_t(t * width + h * d + j)] = float(acc[size_t(j)] / sum);
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

/// Padding bytes around the cache; the kernel must not touch them.
constexpr int64_t kGuard = 64;

/// Drives one layer of an evicting cache through llmc_attention_evict with
/// strided operands.
class EvictRun {
public:
  explicit EvictRun(const Config &c)
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
    llmc_attention_evict(
        qb.data(), qb.data(), 5, rows, width, width + 3, 1, kb.data(),
        kb.data(), 2, rows, ch, ch + 1, 1, vb.data(), vb.data(), 0, rows, ch,
        ch + 7, 1, buffer.data(), buffer.data(), kGuard, layout.totalBytes(), 1,
        c.layer, pos, c.heads, c.scale(), c.layers, c.kvHeads, c.slots,
        c.headDim, c.policy, c.sinks, c.recent, c.budget, ob.data(), ob.data(),
        1, rows, width, width + 2, 1);
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

  const uint8_t *head(int64_t kh) const {
    return buffer.data() + kGuard + layout.headOffset(config.layer, kh);
  }

  /// The i32 position slot s of KV head kh holds, read from the bytes.
  int64_t slotPosition(int64_t kh, int64_t s) const {
    int32_t position;
    std::memcpy(&position, head(kh) + layout.positionsOffset() + s * 4, 4);
    return position;
  }
  float slotScore(int64_t kh, int64_t s) const {
    float score;
    std::memcpy(&score, head(kh) + layout.scoresOffset() + s * 4, 4);
    return score;
  }
  int64_t used() const { return std::min(pos, config.budget); }

  /// The positions KV head kh holds, ascending.
  std::vector<int64_t> held(int64_t kh) const {
    std::vector<int64_t> positions;
    for (int64_t s = 0; s < used(); ++s)
      positions.push_back(slotPosition(kh, s));
    std::sort(positions.begin(), positions.end());
    return positions;
  }

  Config config;
  EvictLayout layout;
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

/// Runs `schedule` (new positions per call) on the kernel and the reference
/// with random data; after every call checks the outputs within `rel` of
/// their magnitude, the positions every KV head holds and (H2O) their
/// accumulated scores.
void expectMatchesReference(EvictRun &run, Reference &ref,
                            const std::vector<int64_t> &schedule, unsigned seed,
                            double rel = 1e-5) {
  const Config &c = run.config;
  std::mt19937 rng(seed);
  for (int64_t rows : schedule) {
    std::vector<float> q = normal(rng, rows * c.width());
    std::vector<float> k = normal(rng, rows * c.channels());
    std::vector<float> v = normal(rng, rows * c.channels());
    std::vector<float> out = run.step(q, k, v, rows);
    auto [err, mag] = errorAndMagnitude(out, ref.step(q, k, v, rows));
    ASSERT_LE(err, rel * std::max(mag, 1e-3))
        << "call ending at position " << run.pos;
    for (int64_t kh = 0; kh < c.kvHeads; ++kh) {
      ASSERT_EQ(run.held(kh), ref.held(kh))
          << "KV head " << kh << ", call ending at position " << run.pos;
      for (int64_t s = 0; s < run.used(); ++s) {
        double want =
            c.policy == kH2O ? ref.score(kh, run.slotPosition(kh, s)) : 0.0;
        ASSERT_NEAR(run.slotScore(kh, s), want, 1e-5 * std::max(want, 1.0))
            << "KV head " << kh << ", slot " << s;
      }
    }
  }
}

std::vector<int64_t> prefillThenDecode(int64_t prefill, int64_t steps) {
  std::vector<int64_t> schedule = {prefill};
  schedule.resize(size_t(steps + 1), 1);
  return schedule;
}

bool allZero(const uint8_t *begin, const uint8_t *end) {
  return std::all_of(begin, end, [](uint8_t x) { return x == 0; });
}

TEST(KVEvictTest, WindowGQAPrefillThenDecode) {
  Config c; // H 4, KVH 2, D 8, window, sinks 2, budget 10 of 12 slots
  EvictRun run(c);
  Reference ref(c);
  expectMatchesReference(run, ref, prefillThenDecode(7, 40), 1);
  ASSERT_EQ(run.pos, 47);
  // The two sinks and the eight most recent positions.
  std::vector<int64_t> expected = {0, 1};
  for (int64_t p = 39; p < 47; ++p)
    expected.push_back(p);
  for (int64_t kh = 0; kh < c.kvHeads; ++kh)
    EXPECT_EQ(run.held(kh), expected) << "KV head " << kh;
  // Layer 0 and the guard bytes are untouched.
  const std::vector<uint8_t> &b = run.buffer;
  EXPECT_TRUE(
      allZero(b.data(), b.data() + kGuard + run.layout.headOffset(1, 0)));
  EXPECT_TRUE(allZero(b.data() + b.size() - kGuard, b.data() + b.size()));
}

TEST(KVEvictTest, H2OPrefillThenDecode) {
  Config c;
  c.policy = kH2O, c.sinks = 1, c.recent = 4, c.budget = 12, c.slots = 16;
  EvictRun run(c);
  Reference ref(c);
  expectMatchesReference(run, ref, prefillThenDecode(20, 30), 2);
  ASSERT_EQ(run.pos, 50);
  for (int64_t kh = 0; kh < c.kvHeads; ++kh) {
    std::vector<int64_t> held = run.held(kh);
    ASSERT_EQ(held.size(), 12u);
    // The sink, the protected recent positions and the newest are held;
    // the rest are heavy hitters, not simply the latest positions.
    EXPECT_EQ(held.front(), 0);
    EXPECT_EQ(std::vector<int64_t>(held.end() - 5, held.end()),
              (std::vector<int64_t>{45, 46, 47, 48, 49}));
    EXPECT_LT(held[1], 50 - 11) << "KV head " << kh;
    // Slots past the budget are never written.
    const uint8_t *head = run.head(kh);
    const EvictLayout &l = run.layout;
    for (int64_t offset : {l.keysOffset(), l.valuesOffset()})
      EXPECT_TRUE(allZero(head + offset + 12 * c.headDim * 4,
                          head + offset + 16 * c.headDim * 4));
    for (int64_t offset : {l.positionsOffset(), l.scoresOffset()})
      EXPECT_TRUE(allZero(head + offset + 12 * 4, head + offset + 16 * 4));
  }
}

TEST(KVEvictTest, PolicyVariants) {
  auto config = [](int64_t policy, int64_t sinks, int64_t recent,
                   int64_t budget) {
    Config c;
    c.policy = policy, c.sinks = sinks, c.recent = recent, c.budget = budget;
    c.slots = 24;
    return c;
  };
  // Uneven chunks: prefills longer than the budget, evicting several
  // positions in one call.
  std::vector<int64_t> chunks = {5, 40, 1, 1, 17, 3, 8, 1, 29, 2};
  std::vector<Config> cases = {
      config(kWindow, 0, 0, 6),
      config(kWindow, 4, 0, 24),
      config(kWindow, 1, 0, 1),
      config(kH2O, 0, 0, 8),
      config(kH2O, 2, 5, 20),
      config(kH2O, 0, 1, 3),
      // Beyond what the compiler emits (sinks >= budget; sinks + recent >=
      // budget): the fallbacks, newest out and the window rule.
      config(kWindow, 4, 0, 3),
      config(kH2O, 2, 3, 4),
  };
  // Six query heads on one KV head (MQA).
  Config mqa = config(kH2O, 1, 3, 9);
  mqa.heads = 6, mqa.kvHeads = 1, mqa.headDim = 16;
  cases.push_back(mqa);
  unsigned seed = 10;
  for (const Config &c : cases) {
    SCOPED_TRACE(describe(c));
    EvictRun run(c);
    Reference ref(c);
    expectMatchesReference(run, ref, chunks, seed++);
  }
}

TEST(KVEvictTest, H2OTiesGoToTheOlderPosition) {
  // Every query attends to position 0 alone: the other keys score thousands
  // below it, so their probabilities (float and double) and accumulated
  // scores are exactly 0, and each eviction is a tie among all of them.
  Config c;
  c.heads = 2, c.kvHeads = 1, c.layers = 1, c.layer = 0;
  c.policy = kH2O, c.sinks = 0, c.recent = 0, c.budget = 4, c.slots = 4;
  std::mt19937 rng(4);
  EvictRun run(c);
  Reference ref(c);
  for (int64_t rows : {3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}) {
    std::vector<float> q(size_t(rows * c.width()), 1.0f);
    std::vector<float> k(size_t(rows * c.channels()), -1000.0f);
    if (run.pos == 0)
      std::fill(k.begin(), k.begin() + c.channels(), 1000.0f);
    std::vector<float> v = normal(rng, rows * c.channels());
    std::vector<float> out = run.step(q, k, v, rows);
    EXPECT_EQ(out, ref.step(q, k, v, rows));
    ASSERT_EQ(run.held(0), ref.held(0)) << "position " << run.pos;
  }
  // Position 0 and the three latest, as a window would keep.
  EXPECT_EQ(run.held(0), (std::vector<int64_t>{0, 10, 11, 12}));
}

TEST(KVEvictTest, CausalAttentionWhileBudgetHoldsEverything) {
  for (int64_t policy : {kWindow, kH2O}) {
    Config c;
    c.policy = policy, c.sinks = 1, c.recent = 2, c.budget = 40, c.slots = 40;
    SCOPED_TRACE(describe(c));
    std::mt19937 rng(3);
    EvictRun run(c);
    for (int64_t rows : {17, 1, 1, 9, 1, 11}) {
      std::vector<float> q = normal(rng, rows * c.width());
      std::vector<float> out = run.step(q, normal(rng, rows * c.channels()),
                                        normal(rng, rows * c.channels()), rows);
      auto [err, mag] =
          errorAndMagnitude(out, causalAttention(c, q, rows, run.pos - rows,
                                                 run.keys, run.values));
      ASSERT_LE(err, 1e-5 * std::max(mag, 1e-3))
          << "call ending at position " << run.pos;
    }
    ASSERT_EQ(run.pos, 40);
    // Nothing was evicted: slot s holds position s.
    for (int64_t kh = 0; kh < c.kvHeads; ++kh)
      for (int64_t s = 0; s < 40; ++s)
        ASSERT_EQ(run.slotPosition(kh, s), s);
  }
}

TEST(KVEvictTest, ThreadCountDoesNotChangeResults) {
  for (int64_t policy : {kWindow, kH2O}) {
    Config c;
    c.heads = 8, c.kvHeads = 4, c.headDim = 32, c.slots = 48, c.budget = 40;
    c.policy = policy, c.sinks = 2, c.recent = 8;
    SCOPED_TRACE(describe(c));
    auto runWith = [&](int64_t threads) {
      llmc_kernels_set_threads(threads);
      std::mt19937 rng(9);
      EvictRun run(c);
      std::vector<float> outs;
      for (int64_t rows : {100, 1, 1, 1, 30}) {
        std::vector<float> out = run.step(
            normal(rng, rows * c.width()), normal(rng, rows * c.channels()),
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
}

TEST(KVEvictTest, InvalidParametersWriteNothing) {
  Config c;
  std::vector<float> q(size_t(c.width()), 1.0f), k(size_t(c.channels()), 1.0f);
  struct Args {
    int64_t policy = kWindow, budget = 10, slots = 12, layer = 1, heads = 4;
    int64_t cacheOffset = 0, cacheSize = -1, qCols = -1;
  };
  auto untouched = [&](const Args &a) {
    EvictLayout l = c.layout();
    std::vector<uint8_t> cache(size_t(l.totalBytes() + 1), 0);
    std::vector<float> out(size_t(c.width()), -1.0f);
    int64_t cacheSize = a.cacheSize >= 0 ? a.cacheSize : l.totalBytes();
    int64_t qCols = a.qCols >= 0 ? a.qCols : c.width();
    llmc_attention_evict(
        q.data(), q.data(), 0, 1, qCols, c.width(), 1, k.data(), k.data(), 0, 1,
        c.channels(), c.channels(), 1, k.data(), k.data(), 0, 1, c.channels(),
        c.channels(), 1, cache.data(), cache.data(), a.cacheOffset, cacheSize,
        1, a.layer, 0, a.heads, c.scale(), c.layers, c.kvHeads, a.slots,
        c.headDim, a.policy, c.sinks, c.recent, a.budget, out.data(),
        out.data(), 0, 1, c.width(), c.width(), 1);
    return allZero(cache.data(), cache.data() + cache.size()) &&
           std::all_of(out.begin(), out.end(),
                       [](float x) { return x == -1.0f; });
  };
  auto with = [](auto set) {
    Args a;
    set(a);
    return a;
  };
  EXPECT_FALSE(untouched(Args{})); // valid: writes a slot and the output
  EXPECT_TRUE(untouched(with([](Args &a) { a.policy = 2; })));
  EXPECT_TRUE(untouched(with([](Args &a) { a.policy = -1; })));
  EXPECT_TRUE(untouched(with([](Args &a) { a.budget = 0; })));
  EXPECT_TRUE(untouched(with([](Args &a) { a.budget = 13; }))); // > slots
  EXPECT_TRUE(untouched(with([](Args &a) { a.layer = 2; })));   // = layers
  EXPECT_TRUE(untouched(with([](Args &a) { a.layer = -1; })));
  // Heads not a multiple of KV heads.
  EXPECT_TRUE(untouched(with([](Args &a) { a.heads = 3; })));
  EXPECT_TRUE(untouched(with([](Args &a) { a.qCols = 31; })));
  EXPECT_TRUE(untouched(
      with([&](Args &a) { a.cacheSize = c.layout().totalBytes() - 1; })));
  EXPECT_TRUE(untouched(with([](Args &a) { a.cacheOffset = 1; }))); // odd
}

} // namespace
