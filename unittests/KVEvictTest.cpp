//===- KVEvictTest.cpp - attention over an evicting f32 KV cache ----------===//
//
// Part of llmc. llmc_attention_evict against an independent reference that
// keeps each KV head's cache as a list of (position, key, value, score)
// entries and applies the window (StreamingLLM), H2O and SnapKV eviction
// rules itself, one new position at a time (SnapKV's prompt selection by
// its own votes, pooling and top-k), with softmax in double. Covers GQA
// and MQA, prefills longer than the budget, sinks and recent windows of
// zero, strided operands, the positions and scores in the bytes of
// EvictLayout, plain causal attention while the budget holds everything,
// SnapKV's pooling, thread-count independence and rejected arguments.
//
//===----------------------------------------------------------------------===//

#include "AttentionTestUtil.h"
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
using namespace llmc::testing;

namespace {

constexpr int64_t kWindow = 0, kH2O = 1, kSnapKV = 2;

struct Config {
  int64_t heads = 4, kvHeads = 2, headDim = 8;
  int64_t slots = 12, layers = 2, layer = 1;
  int64_t policy = kWindow, sinks = 2, recent = 0, budget = 10;
  int64_t observe = 0, pool = 1; // SnapKV only

  EvictLayout layout() const { return {layers, kvHeads, slots, headDim}; }
  int64_t channels() const { return kvHeads * headDim; }
  int64_t width() const { return heads * headDim; }
  int64_t group() const { return heads / kvHeads; }
  float scale() const { return 1.0f / std::sqrt(float(headDim)); }
  AttentionShape attention() const {
    return {heads, kvHeads, headDim, scale()};
  }
  /// llmc_attention_evict's arguments between the cache and out, for a call
  /// at `pos`.
  auto kernelParams(int64_t pos) const {
    return std::make_tuple(layer, pos, heads, scale(), layers, kvHeads, slots,
                           headDim, policy, sinks, recent, budget, observe,
                           pool);
  }
  /// SnapKV: the prompt positions kept besides the sinks and the window.
  int64_t heavy() const { return budget - sinks - observe; }
};

std::string describe(const Config &c) {
  const char *names[] = {"window", "h2o", "snapkv"};
  return std::string(names[c.policy]) + " H " + std::to_string(c.heads) +
         " KVH " + std::to_string(c.kvHeads) + " sinks " +
         std::to_string(c.sinks) + " recent " + std::to_string(c.recent) +
         " observe " + std::to_string(c.observe) + " pool " +
         std::to_string(c.pool) + " budget " + std::to_string(c.budget) +
         " slots " + std::to_string(c.slots);
}

/// One cached position of the reference. `score` is H2O's accumulated
/// attention, or SnapKV's pin (1 for a prompt position kept for good).
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

size_t snapVictim(const std::vector<Entry> &entries, int64_t sinks) {
  size_t victim = entries.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry &e = entries[i];
    if (e.position < sinks || e.score != 0.0)
      continue;
    if (victim == entries.size() || e.position < entries[victim].position)
      victim = i;
  }
  return victim < entries.size() ? victim : windowVictim(entries, sinks);
}

/// SnapKV's pooled votes for KV head kh on a prompt of `rows` positions
/// from 0 (q rows x H*D, k rows x KVH*D): for every position p before the
/// observation window, the largest vote within pool/2 of it, a vote being
/// the attention p gets from the window's rows, summed over the query
/// heads of kh.
std::vector<double> pooledVotes(const Config &c, const std::vector<float> &q,
                                const std::vector<float> &k, int64_t rows,
                                int64_t kh) {
  int64_t d = c.headDim, ch = c.channels(), width = c.width();
  int64_t observed = rows - c.observe;
  std::vector<double> votes(size_t(observed), 0.0);
  for (int64_t h = kh * c.group(); h < (kh + 1) * c.group(); ++h)
    for (int64_t t = observed; t < rows; ++t) {
      std::vector<double> w;
      double best = -INFINITY, sum = 0.0;
      for (int64_t s = 0; s <= t; ++s) {
        double dot = 0.0;
        for (int64_t j = 0; j < d; ++j)
          dot += double(q[size_t(t * width + h * d + j)]) *
                 double(k[size_t(s * ch + kh * d + j)]);
        w.push_back(dot * double(c.scale()));
        best = std::max(best, w.back());
      }
      for (double &x : w) {
        x = std::exp(x - best);
        sum += x;
      }
      for (int64_t s = 0; s < observed; ++s)
        votes[size_t(s)] += w[size_t(s)] / sum;
    }
  std::vector<double> pooled(size_t(observed), -INFINITY);
  for (int64_t s = 0; s < observed; ++s)
    for (int64_t x = s - c.pool / 2; x <= s + c.pool / 2; ++x)
      if (x >= 0 && x < observed)
        pooled[size_t(s)] = std::max(pooled[size_t(s)], votes[size_t(x)]);
  return pooled;
}

/// The candidates [sinks, observed) in SnapKV's order of preference: the
/// larger pooled vote first, ties to the smaller position.
std::vector<int64_t> snapRanking(const Config &c,
                                 const std::vector<double> &pooled) {
  std::vector<int64_t> order;
  for (int64_t s = c.sinks; s < int64_t(pooled.size()); ++s)
    order.push_back(s);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    double x = pooled[size_t(a)], y = pooled[size_t(b)];
    return x > y || (x == y && a < b);
  });
  return order;
}

/// The positions SnapKV keeps from a prompt of `rows` positions, ascending:
/// the sinks, the `heavy` best ranked, the observation window.
std::vector<int64_t> snapSelection(const Config &c,
                                   const std::vector<double> &pooled,
                                   int64_t rows) {
  std::vector<int64_t> ranking = snapRanking(c, pooled);
  std::vector<int64_t> keep(ranking.begin(), ranking.begin() + c.heavy());
  for (int64_t s = 0; s < c.sinks; ++s)
    keep.push_back(s);
  for (int64_t s = rows - c.observe; s < rows; ++s)
    keep.push_back(s);
  std::sort(keep.begin(), keep.end());
  return keep;
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
    if (c.policy == kSnapKV && pos == 0 && rows > c.budget)
      return selectPrompt(q, k, v, rows);
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
        else if (c.policy == kSnapKV)
          entries[snapVictim(entries, c.sinks)] = e;
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

  /// SnapKV on a prompt longer than the budget: plain causal attention over
  /// the whole prompt, then each KV head keeps snapSelection, the sinks and
  /// the voted positions pinned.
  std::vector<float> selectPrompt(const std::vector<float> &q,
                                  const std::vector<float> &k,
                                  const std::vector<float> &v, int64_t rows) {
    const Config &c = config;
    int64_t d = c.headDim, ch = c.channels();
    for (int64_t kh = 0; kh < c.kvHeads; ++kh) {
      std::vector<Entry> &entries = heads[size_t(kh)];
      entries.clear();
      for (int64_t p : snapSelection(c, pooledVotes(c, q, k, rows, kh), rows))
        entries.push_back(
            {p,
             {k.begin() + p * ch + kh * d, k.begin() + p * ch + (kh + 1) * d},
             {v.begin() + p * ch + kh * d, v.begin() + p * ch + (kh + 1) * d},
             p < rows - c.observe ? 1.0 : 0.0});
    }
    pos = rows;
    return referenceAttention(c.attention(), q, rows, 0, k, v);
  }

  /// The positions KV head kh holds, ascending.
  std::vector<int64_t> held(int64_t kh) const {
    std::vector<int64_t> positions;
    for (const Entry &e : heads[size_t(kh)])
      positions.push_back(e.position);
    std::sort(positions.begin(), positions.end());
    return positions;
  }

  /// The score (H2O's mass, SnapKV's pin) of `position` in KV head kh.
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

/// Drives one layer of an evicting cache through llmc_attention_evict with
/// strided operands.
class EvictRun : public CacheRun<Config, EvictLayout, llmc_attention_evict> {
public:
  using CacheRun::CacheRun;

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
};

/// Feeds a call the kernel has made (`step`) to the reference and checks
/// the outputs within `rel` of their magnitude, the positions every KV head
/// holds and their scores (H2O's accumulated mass, SnapKV's pins).
void expectStepMatches(const EvictRun &run, Reference &ref,
                       const RandomStep &step, double rel = 1e-5) {
  const Config &c = run.config;
  auto [err, mag] =
      errorAndMagnitude(step.out, ref.step(step.q, step.k, step.v, step.rows));
  ASSERT_LE(err, rel * std::max(mag, 1e-3))
      << "call ending at position " << run.pos;
  for (int64_t kh = 0; kh < c.kvHeads; ++kh) {
    ASSERT_EQ(run.held(kh), ref.held(kh))
        << "KV head " << kh << ", call ending at position " << run.pos;
    for (int64_t s = 0; s < run.used(); ++s) {
      double want =
          c.policy == kWindow ? 0.0 : ref.score(kh, run.slotPosition(kh, s));
      ASSERT_NEAR(run.slotScore(kh, s), want, 1e-5 * std::max(want, 1.0))
          << "KV head " << kh << ", slot " << s;
    }
  }
}

/// Runs `schedule` (new positions per call) on the kernel and the reference
/// with random data, checking every call with expectStepMatches.
void expectMatchesReference(EvictRun &run, Reference &ref,
                            const std::vector<int64_t> &schedule, unsigned seed,
                            double rel = 1e-5) {
  forEachRandomStep(run, schedule, seed, [&](const RandomStep &step) {
    expectStepMatches(run, ref, step, rel);
  });
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

TEST(KVEvictTest, SnapKVSelectsThePromptThenDecodes) {
  Config c; // H 4, KVH 2, D 8
  c.policy = kSnapKV, c.sinks = 2, c.observe = 4, c.pool = 3, c.budget = 16;
  c.slots = 20;
  ASSERT_EQ(c.heavy(), 10);
  constexpr int64_t prompt = 40, observed = prompt - 4;
  EvictRun run(c);
  Reference ref(c);
  std::vector<std::vector<int64_t>> pinned(size_t(c.kvHeads));
  forEachRandomStep(
      run, prefillThenDecode(prompt, 20), 5, [&](const RandomStep &step) {
        expectStepMatches(run, ref, step);
        if (run.pos != prompt)
          return;
        // The prompt attends in full, nothing evicted while it runs.
        auto [err, mag] = errorAndMagnitude(
            step.out, referenceAttention(c.attention(), step.q, prompt, 0,
                                         step.k, step.v));
        ASSERT_LE(err, 1e-5 * std::max(mag, 1e-3));
        for (int64_t kh = 0; kh < c.kvHeads; ++kh) {
          SCOPED_TRACE("KV head " + std::to_string(kh));
          std::vector<double> pooled =
              pooledVotes(c, step.q, step.k, prompt, kh);
          // The data must not make the cut a float rounding away from
          // another choice: the last kept and first dropped candidates'
          // pooled votes are the same vote (pooling spreads one vote over
          // its neighbours) or clearly apart.
          std::vector<int64_t> ranking = snapRanking(c, pooled);
          double last = pooled[size_t(ranking[size_t(c.heavy() - 1)])];
          double next = pooled[size_t(ranking[size_t(c.heavy())])];
          ASSERT_TRUE(last == next || last - next > 1e-4);
          // Sinks, heavy positions, window: slots in increasing position
          // order, the first two kinds pinned.
          std::vector<int64_t> keep = snapSelection(c, pooled, prompt);
          ASSERT_EQ(keep.size(), size_t(c.budget));
          for (int64_t s = 0; s < c.budget; ++s) {
            EXPECT_EQ(run.slotPosition(kh, s), keep[size_t(s)]);
            EXPECT_EQ(run.slotScore(kh, s), keep[size_t(s)] < observed);
          }
          pinned[size_t(kh)].assign(keep.begin(), keep.end() - c.observe);
          // Not simply the latest positions.
          EXPECT_LT(keep[2], observed - c.heavy());
        }
      });
  ASSERT_EQ(run.pos, prompt + 20);
  // The pinned prompt positions survive every decode step; the unpinned
  // slots hold the latest positions.
  for (int64_t kh = 0; kh < c.kvHeads; ++kh) {
    std::vector<int64_t> expected = pinned[size_t(kh)];
    for (int64_t p = run.pos - c.observe; p < run.pos; ++p)
      expected.push_back(p);
    EXPECT_EQ(run.held(kh), expected) << "KV head " << kh;
    // Slots past the budget are never written.
    const uint8_t *head = run.head(kh);
    const EvictLayout &l = run.layout;
    for (int64_t offset : {l.keysOffset(), l.valuesOffset()})
      EXPECT_TRUE(allZero(head + offset + c.budget * c.headDim * 4,
                          head + offset + c.slots * c.headDim * 4));
    for (int64_t offset : {l.positionsOffset(), l.scoresOffset()})
      EXPECT_TRUE(
          allZero(head + offset + c.budget * 4, head + offset + c.slots * 4));
  }
}

TEST(KVEvictTest, SnapKVWithoutSelectionIsAWindow) {
  // A prompt the budget holds selects nothing, and a later call longer
  // than the budget is not a prompt: nothing is pinned, so SnapKV evicts
  // as the window policy does, to the bit.
  Config c;
  c.policy = kSnapKV, c.sinks = 2, c.observe = 4, c.pool = 3, c.budget = 16;
  c.slots = 16;
  std::vector<int64_t> schedule = {12, 1, 1, 25, 1, 1, 3};
  EvictRun run(c);
  Reference ref(c);
  expectMatchesReference(run, ref, schedule, 6);
  for (int64_t kh = 0; kh < c.kvHeads; ++kh)
    for (int64_t s = 0; s < c.budget; ++s)
      EXPECT_EQ(run.slotScore(kh, s), 0.0f);
  auto outputsAndBytes = [&](const Config &config) {
    EvictRun r(config);
    std::vector<float> outs;
    forEachRandomStep(r, schedule, 6, [&](const RandomStep &step) {
      outs.insert(outs.end(), step.out.begin(), step.out.end());
    });
    return std::make_pair(outs, r.buffer);
  };
  Config window = c; // keeps observe and pool, which the window ignores
  window.policy = kWindow;
  EXPECT_EQ(outputsAndBytes(c), outputsAndBytes(window));
}

TEST(KVEvictTest, SnapKVPoolingKeepsNeighbours) {
  // Keys along the first axis and every query on it: the observation rows
  // attend most to position 10, then equally to 3 and 16, then to 19.
  // Without pooling the three heavy slots take 3, 10 and 16; pooling over 5
  // gives 8..12 position 10's vote, and the tie goes to 8, 9 and 10.
  Config c;
  c.heads = 2, c.kvHeads = 1, c.layers = 1, c.layer = 0;
  c.policy = kSnapKV, c.sinks = 1, c.observe = 2, c.budget = 6, c.slots = 6;
  constexpr int64_t prompt = 24;
  std::vector<float> q(size_t(prompt * c.width()), 0.0f);
  std::vector<float> k(size_t(prompt * c.channels()), 0.0f);
  for (int64_t t = 0; t < prompt; ++t)
    for (int64_t h = 0; h < c.heads; ++h)
      q[size_t(t * c.width() + h * c.headDim)] = 1.0f;
  for (auto [position, key] : {std::pair{10, 20.0f}, std::pair{3, 18.0f},
                               std::pair{16, 18.0f}, std::pair{19, 16.0f}})
    k[size_t(position * c.channels())] = key;
  std::mt19937 rng(7);
  std::vector<float> v = normal(rng, prompt * c.channels());
  for (auto [pool, expected] :
       {std::pair{int64_t(1), std::vector<int64_t>{0, 3, 10, 16, 22, 23}},
        std::pair{int64_t(5), std::vector<int64_t>{0, 8, 9, 10, 22, 23}}}) {
    c.pool = pool;
    SCOPED_TRACE(describe(c));
    EXPECT_EQ(snapSelection(c, pooledVotes(c, q, k, prompt, 0), prompt),
              expected);
    EvictRun run(c);
    Reference ref(c);
    auto [err, mag] =
        errorAndMagnitude(run.step(q, k, v, prompt), ref.step(q, k, v, prompt));
    EXPECT_LE(err, 1e-5 * std::max(mag, 1e-3));
    EXPECT_EQ(run.held(0), expected);
    EXPECT_EQ(ref.held(0), expected);
  }
}

TEST(KVEvictTest, SnapKVVariants) {
  auto config = [](int64_t sinks, int64_t observe, int64_t pool,
                   int64_t budget) {
    Config c;
    c.policy = kSnapKV, c.sinks = sinks, c.observe = observe, c.pool = pool;
    c.budget = budget, c.slots = 24;
    return c;
  };
  std::vector<Config> cases = {
      config(0, 1, 1, 8), config(3, 5, 7, 20),
      config(1, 2, 3, 4), // one heavy slot
  };
  // Six query heads on one KV head (MQA).
  Config mqa = config(1, 3, 5, 9);
  mqa.heads = 6, mqa.kvHeads = 1, mqa.headDim = 16;
  cases.push_back(mqa);
  unsigned seed = 30;
  for (const Config &c : cases) {
    SCOPED_TRACE(describe(c));
    // A prompt selection, then uneven chunks evicting several positions
    // in one call; and a first call the budget holds, after which no call
    // selects.
    for (const std::vector<int64_t> &chunks :
         {std::vector<int64_t>{40, 1, 1, 17, 3, 8, 1, 29, 2},
          std::vector<int64_t>{3, 40, 1, 17, 1}}) {
      EvictRun run(c);
      Reference ref(c);
      expectMatchesReference(run, ref, chunks, seed++);
    }
  }
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
      auto [err, mag] = errorAndMagnitude(
          out, referenceAttention(c.attention(), q, rows, run.pos - rows,
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
  for (int64_t policy : {kWindow, kH2O, kSnapKV}) {
    Config c;
    c.heads = 8, c.kvHeads = 4, c.headDim = 32, c.slots = 48, c.budget = 40;
    c.policy = policy, c.sinks = 2, c.recent = 8;
    if (policy == kSnapKV)
      c.observe = 8, c.pool = 5; // the 100-row prompt is selected
    SCOPED_TRACE(describe(c));
    expectThreadCountIndependent<EvictRun>(c, {100, 1, 1, 1, 30}, 9);
  }
}

TEST(KVEvictTest, InvalidParametersWriteNothing) {
  Config c;
  std::vector<float> q(size_t(c.width()), 1.0f), k(size_t(c.channels()), 1.0f);
  struct Args {
    int64_t policy = kWindow, budget = 10, slots = 12, layer = 1, heads = 4;
    int64_t cacheOffset = 0, cacheSize = -1, qCols = -1;
    int64_t observe = 0, pool = 1;
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
        c.headDim, a.policy, c.sinks, c.recent, a.budget, a.observe, a.pool,
        out.data(), out.data(), 0, 1, c.width(), c.width(), 1);
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
  EXPECT_FALSE(untouched(with([](Args &a) { a.policy = kH2O; })));
  // The window and H2O ignore observe and pool.
  EXPECT_FALSE(untouched(with([](Args &a) { a.observe = -3, a.pool = 2; })));
  // SnapKV with sinks 2 of budget 10.
  auto snap = [&](int64_t observe, int64_t pool) {
    return with([&](Args &a) {
      a.policy = kSnapKV, a.observe = observe, a.pool = pool;
    });
  };
  EXPECT_FALSE(untouched(snap(1, 1)));
  EXPECT_FALSE(untouched(snap(7, 7))); // one heavy slot
  EXPECT_TRUE(untouched(snap(0, 1)));
  EXPECT_TRUE(untouched(snap(-1, 1)));
  EXPECT_TRUE(untouched(snap(1, 0)));
  EXPECT_TRUE(untouched(snap(1, 2))); // even: no centred window
  EXPECT_TRUE(untouched(snap(1, -1)));
  EXPECT_TRUE(untouched(snap(8, 1))); // sinks + observe = budget
  EXPECT_TRUE(untouched(snap(9, 1)));
  EXPECT_TRUE(untouched(with([](Args &a) { a.policy = 3; })));
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
