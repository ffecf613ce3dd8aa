//===- KVQuantizedEvictTest.cpp - KIVI cache under eviction ---------------===//
//
// Part of llmc. llmc_attention_kivi_evict against an independent reference
// that keeps every position in float, the sinks exact, the pool as a list
// of token groups round-tripped through KIVI records (keys per channel over
// the group, values per token over channel runs) and the ring exact, and
// applies the group eviction rules itself: window (oldest group), H2O (least
// attention mass, the incoming group competing, masses in double) and
// SnapKV (oldest unpinned group; a long prompt attended in full, its groups
// voted by the last rows, max-pooled and the best kept pinned). Softmax in
// double. Covers GQA, 2/4/8 bits, groups of 8 to 64, residual 0, prefills
// and uneven chunks, the layer offset, the bytes against KiviEvictLayout,
// ties, exactness while nothing is quantized, agreement with
// llmc_attention_kivi while the pool holds everything, thread-count
// independence and rejected arguments.
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
using llmc::runtime::KiviEvictLayout;
using llmc::runtime::KiviLayout;
using namespace llmc::testing;

namespace {

constexpr int64_t kWindow = 0, kH2O = 1, kSnapKV = 2;

struct Config {
  int64_t heads = 4, kvHeads = 2, headDim = 16;
  int64_t bits = 4, group = 16, residual = 16, sinks = 4, groups = 3;
  int64_t policy = kWindow, observe = 0, pool = 1; // observe, pool: SnapKV
  int64_t layers = 2, layer = 1;
  /// Nonzero: the data of forEachStep favour some groups (H2O tests).
  float boost = 0.0f;

  KiviEvictLayout layout() const {
    return {layers, kvHeads, headDim, bits, group, residual, sinks, groups};
  }
  int64_t channels() const { return kvHeads * headDim; }
  int64_t width() const { return heads * headDim; }
  float scale() const { return 1.0f / std::sqrt(float(headDim)); }
  AttentionShape attention() const {
    return {heads, kvHeads, headDim, scale()};
  }
  /// llmc_attention_kivi_evict's arguments between the cache and out.
  auto kernelParams(int64_t pos) const {
    return std::make_tuple(layer, pos, heads, scale(), layers, kvHeads, headDim,
                           bits, group, residual, sinks, groups, policy,
                           observe, pool);
  }
  /// Token groups flushed out of the ring once `len` positions arrived:
  /// the stream past the sinks keeps its `residual` latest positions and up
  /// to G - 1 older ones exact.
  int64_t flushed(int64_t len) const {
    int64_t stream = std::max<int64_t>(0, len - sinks);
    return stream > residual ? (stream - residual) / group : 0;
  }
};

std::string describe(const Config &c) {
  const char *names[] = {"window", "h2o", "snapkv"};
  return std::string(names[c.policy]) + " bits " + std::to_string(c.bits) +
         " group " + std::to_string(c.group) + " residual " +
         std::to_string(c.residual) + " sinks " + std::to_string(c.sinks) +
         " groups " + std::to_string(c.groups);
}

/// The f16 a record stores for v: nearest, saturated at +-65504.
float storedHalf(float v) {
  return halfToFloat(
      llmc::import::floatToHalf(std::clamp(v, -65504.0f, 65504.0f)));
}

/// x after quantization to one KIVI record and back (as KVQuantizedTest).
void roundTrip(float *x, int64_t n, int64_t bits) {
  float lo = *std::min_element(x, x + n), hi = *std::max_element(x, x + n);
  float top = float((1 << bits) - 1);
  float s = storedHalf((hi - lo) / top), m = storedHalf(lo);
  for (int64_t i = 0; i < n; ++i) {
    float code =
        s > 0.0f ? std::clamp(std::nearbyint((x[i] - m) / s), 0.0f, top) : 0.0f;
    x[i] = m + s * code;
  }
}

/// Value i of a record (f16 scale, f16 min, B-bit codes LSB-first).
float decodeRecord(const uint8_t *record, int64_t i, int64_t bits) {
  float s = halfToFloat(uint16_t(record[0] | record[1] << 8));
  float m = halfToFloat(uint16_t(record[2] | record[3] << 8));
  int64_t bit = i * bits;
  int code = record[4 + bit / 8] >> (bit % 8) & ((1 << bits) - 1);
  return m + s * float(code);
}

/// A token group in the reference's pool: its first position and its G
/// positions' keys and values (rows of C floats) as their records decode.
struct PooledGroup {
  int64_t first;
  std::vector<float> keys, values;
  bool pinned = false;
};

/// The reference cache of one layer, simulated position by position.
class Reference {
public:
  explicit Reference(const Config &c) : config(c) {}

  /// Inserts `rows` positions and returns their attention (rows x H*D).
  std::vector<float> step(const std::vector<float> &q,
                          const std::vector<float> &k,
                          const std::vector<float> &v, int64_t rows) {
    const Config &c = config;
    keys.insert(keys.end(), k.begin(), k.end());
    values.insert(values.end(), v.begin(), v.end());
    mass.resize(keys.size() / size_t(c.channels()), 0.0);
    if (c.policy == kSnapKV && len == 0 && c.flushed(rows) > c.groups)
      return selectPrompt(q, rows);
    std::vector<float> out(size_t(rows * c.width()));
    for (int64_t t = 0; t < rows; ++t) {
      ++len;
      if (c.flushed(len) > c.flushed(len - 1))
        flush(c.flushed(len - 1));
      attend(&q[size_t(t * c.width())], &out[size_t(t * c.width())]);
    }
    return out;
  }

  /// The attention mass group `first` has received (H2O).
  double groupMass(int64_t first) const {
    double m = 0.0;
    for (int64_t i = 0; i < config.group; ++i)
      m += mass[size_t(first + i)];
    return m;
  }

  Config config;
  std::vector<float> keys, values; // every position so far, exact
  std::vector<double> mass;        // per position, H2O
  std::vector<PooledGroup> slots;  // the pool, slot by slot
  int64_t len = 0;
  int64_t replaced = 0, dropped = 0; // groups evicted from the pool, dropped
  /// The smallest relative margin of an eviction or selection decision: a
  /// float rounding in the kernel could flip a closer one.
  double closest = INFINITY;

private:
  /// How far apart a decision's best two choices are, relative; exact ties
  /// of zero (probabilities that underflow in float and double) are safe.
  static double margin(double higher, double lower) {
    return higher > 0.0 ? (higher - lower) / higher : INFINITY;
  }

  /// Softmax in double of scale * query . key over `keyRows` (rows of C
  /// floats, read at KV head kh's channels).
  std::vector<double> probabilities(const float *query, int64_t kh,
                                    const std::vector<const float *> &keyRows) {
    int64_t d = config.headDim;
    std::vector<double> w;
    double best = -INFINITY, sum = 0.0;
    for (const float *key : keyRows) {
      double dot = 0.0;
      for (int64_t j = 0; j < d; ++j)
        dot += double(query[j]) * double(key[kh * d + j]);
      w.push_back(dot * double(config.scale()));
      best = std::max(best, w.back());
    }
    for (double &x : w)
      sum += (x = std::exp(x - best));
    for (double &x : w)
      x /= sum;
    return w;
  }

  /// Group `first`'s G positions through KIVI's records.
  PooledGroup quantize(int64_t first) const {
    int64_t ch = config.channels(), g = config.group;
    PooledGroup pg{
        first,
        {keys.begin() + first * ch, keys.begin() + (first + g) * ch},
        {values.begin() + first * ch, values.begin() + (first + g) * ch}};
    std::vector<float> x(static_cast<size_t>(g));
    for (int64_t j = 0; j < ch; ++j) { // keys: channel j over the group
      for (int64_t i = 0; i < g; ++i)
        x[size_t(i)] = pg.keys[size_t(i * ch + j)];
      roundTrip(x.data(), g, config.bits);
      for (int64_t i = 0; i < g; ++i)
        pg.keys[size_t(i * ch + j)] = x[size_t(i)];
    }
    // Values: the G rows of C channels are C runs of G channels.
    for (int64_t r = 0; r < ch; ++r)
      roundTrip(&pg.values[size_t(r * g)], g, config.bits);
    return pg;
  }

  /// Stream group f leaves the ring: a free slot, a victim's or nowhere.
  void flush(int64_t f) {
    const Config &c = config;
    PooledGroup incoming = quantize(c.sinks + f * c.group);
    if (int64_t(slots.size()) < c.groups) {
      slots.push_back(incoming);
      return;
    }
    size_t victim = slots.size();
    for (size_t s = 0; s < slots.size(); ++s) {
      bool older =
          victim == slots.size() || slots[s].first < slots[victim].first;
      if (c.policy == kWindow && older)
        victim = s;
      if (c.policy == kSnapKV && !slots[s].pinned && older)
        victim = s;
      if (c.policy == kH2O) {
        double m = groupMass(slots[s].first);
        if (victim == slots.size() || m < groupMass(slots[victim].first) ||
            (m == groupMass(slots[victim].first) && older))
          victim = s;
      }
    }
    if (c.policy == kH2O) {
      std::vector<double> m = {groupMass(incoming.first)};
      for (const PooledGroup &pg : slots)
        m.push_back(groupMass(pg.first));
      std::sort(m.begin(), m.end());
      closest = std::min(closest, margin(m[1], m[0]));
      if (groupMass(incoming.first) < groupMass(slots[victim].first))
        victim = slots.size();
    }
    if (victim == slots.size()) {
      ++dropped;
      return;
    }
    ++replaced;
    slots[victim] = incoming;
  }

  /// The newest position's query row attends over the sinks, the pool and
  /// the ring; H2O adds the probabilities to the positions' masses.
  void attend(const float *query, float *out) {
    const Config &c = config;
    int64_t ch = c.channels(), d = c.headDim;
    std::vector<const float *> k, v;
    std::vector<int64_t> positions;
    auto hold = [&](const float *key, const float *value, int64_t p) {
      k.push_back(key), v.push_back(value), positions.push_back(p);
    };
    for (int64_t p = 0; p < std::min(c.sinks, len); ++p)
      hold(&keys[size_t(p * ch)], &values[size_t(p * ch)], p);
    for (const PooledGroup &pg : slots)
      for (int64_t i = 0; i < c.group; ++i)
        hold(&pg.keys[size_t(i * ch)], &pg.values[size_t(i * ch)],
             pg.first + i);
    for (int64_t p = c.sinks + c.flushed(len) * c.group; p < len; ++p)
      hold(&keys[size_t(p * ch)], &values[size_t(p * ch)], p);
    for (int64_t h = 0; h < c.heads; ++h) {
      int64_t kh = h / (c.heads / c.kvHeads);
      std::vector<double> w = probabilities(query + h * d, kh, k);
      for (int64_t j = 0; j < d; ++j) {
        double acc = 0.0;
        for (size_t s = 0; s < w.size(); ++s)
          acc += w[s] * double(v[s][kh * d + j]);
        out[h * d + j] = float(acc);
      }
      if (c.policy == kH2O)
        for (size_t s = 0; s < w.size(); ++s)
          mass[size_t(positions[s])] += w[s];
    }
  }

  /// SnapKV on a prompt whose groups do not all fit: plain causal
  /// attention; the last `observe` rows vote (all heads) for the positions
  /// before the ring, votes max-pooled within the candidates and summed per
  /// group; the best `groups` groups (ties to the older) pinned in position
  /// order.
  std::vector<float> selectPrompt(const std::vector<float> &q, int64_t rows) {
    const Config &c = config;
    int64_t ch = c.channels(), flushedGroups = c.flushed(rows);
    int64_t voteEnd = c.sinks + flushedGroups * c.group;
    std::vector<double> votes(size_t(voteEnd), 0.0);
    for (int64_t t = std::max<int64_t>(0, rows - c.observe); t < rows; ++t) {
      std::vector<const float *> prefix;
      for (int64_t s = 0; s <= t; ++s)
        prefix.push_back(&keys[size_t(s * ch)]);
      for (int64_t h = 0; h < c.heads; ++h) {
        std::vector<double> w =
            probabilities(&q[size_t(t * c.width() + h * c.headDim)],
                          h / (c.heads / c.kvHeads), prefix);
        for (int64_t s = 0; s < std::min(t + 1, voteEnd); ++s)
          votes[size_t(s)] += w[size_t(s)];
      }
    }
    std::vector<double> groupVotes(size_t(flushedGroups), 0.0);
    for (int64_t s = c.sinks; s < voteEnd; ++s) {
      double pooled = 0.0;
      for (int64_t x = std::max(c.sinks, s - c.pool / 2);
           x <= std::min(voteEnd - 1, s + c.pool / 2); ++x)
        pooled = std::max(pooled, votes[size_t(x)]);
      groupVotes[size_t((s - c.sinks) / c.group)] += pooled;
    }
    std::vector<int64_t> order(static_cast<size_t>(flushedGroups));
    for (int64_t f = 0; f < flushedGroups; ++f)
      order[size_t(f)] = f;
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      double x = groupVotes[size_t(a)], y = groupVotes[size_t(b)];
      return x > y || (x == y && a < b);
    });
    double last = groupVotes[size_t(order[size_t(c.groups - 1)])];
    closest = std::min(
        closest, margin(last, groupVotes[size_t(order[size_t(c.groups)])]));
    order.resize(size_t(c.groups));
    std::sort(order.begin(), order.end());
    for (int64_t f : order) {
      slots.push_back(quantize(c.sinks + f * c.group));
      slots.back().pinned = true;
    }
    len = rows;
    return referenceAttention(c.attention(), q, rows, 0, keys, values);
  }
};

/// Drives one layer of the cache through llmc_attention_kivi_evict with
/// strided operands, and reads the layer's bytes by KiviEvictLayout.
class EvictRun
    : public CacheRun<Config, KiviEvictLayout, llmc_attention_kivi_evict> {
public:
  using CacheRun::CacheRun;

  const uint8_t *region() const {
    return buffer.data() + kGuard + layout.layerOffset(config.layer);
  }
  template <typename T> T read(int64_t offset) const {
    T x;
    std::memcpy(&x, region() + offset, sizeof(T));
    return x;
  }
  int64_t first(int64_t slot) const {
    return read<int32_t>(layout.firstsOffset(config.groups) + slot * 4);
  }
  float groupScore(int64_t slot) const {
    return read<float>(layout.groupScoreOffset(config.groups) + slot * 4);
  }
  /// The first positions of the groups in slots [0, n).
  std::vector<int64_t> firsts(size_t n) const {
    std::vector<int64_t> f;
    for (size_t s = 0; s < n; ++s)
      f.push_back(first(int64_t(s)));
    return f;
  }
};

std::vector<int64_t> firstsOf(const Reference &ref) {
  std::vector<int64_t> f;
  for (const PooledGroup &pg : ref.slots)
    f.push_back(pg.first);
  return f;
}

/// Feeds a call the kernel has made to the reference; checks that no
/// decision was a near tie, the outputs within `rel` of their magnitude,
/// the groups every slot holds and their scores (H2O mass, SnapKV pin).
void expectStepMatches(const EvictRun &run, Reference &ref,
                       const RandomStep &step, double rel = 1e-4) {
  std::vector<float> want = ref.step(step.q, step.k, step.v, step.rows);
  ASSERT_GT(ref.closest, 1e-4) << "a near tie: choose other data";
  auto [err, mag] = errorAndMagnitude(step.out, want);
  ASSERT_LE(err, rel * std::max(mag, 1e-3))
      << "call ending at position " << run.pos;
  ASSERT_EQ(run.firsts(ref.slots.size()), firstsOf(ref))
      << "call ending at position " << run.pos;
  for (size_t s = 0; s < ref.slots.size(); ++s) {
    double score = run.config.policy == kH2O ? ref.groupMass(ref.slots[s].first)
                                             : double(ref.slots[s].pinned);
    ASSERT_NEAR(run.groupScore(int64_t(s)), score, 1e-4 * std::max(score, 1.0))
        << "slot " << s;
  }
}

/// forEachRandomStep, where a nonzero `boost` shapes the data for H2O:
/// every query head gets `boost` added to its first channel, so do the keys
/// of every third stream group from group 2, and the keys of groups 0 and 1
/// lose 3 x boost. With plain random data an incoming group, attended by
/// fewer rows than the pooled ones, nearly always loses; with these, cold
/// groups are replaced, then ordinary ones by the heavy hitters.
template <typename Check>
void forEachStep(EvictRun &run, const std::vector<int64_t> &schedule,
                 unsigned seed, Check check) {
  const Config &c = run.config;
  std::mt19937 rng(seed);
  for (int64_t rows : schedule) {
    RandomStep s{normal(rng, rows * c.width()),
                 normal(rng, rows * c.channels()),
                 normal(rng, rows * c.channels()),
                 rows,
                 {}};
    for (int64_t t = 0; t < rows && c.boost != 0.0f; ++t) {
      for (int64_t h = 0; h < c.heads; ++h)
        s.q[size_t(t * c.width() + h * c.headDim)] += c.boost;
      int64_t stream = run.pos + t - c.sinks, f = stream / c.group;
      float bias = stream < 0 ? 0.0f
                   : f < 2    ? -3 * c.boost
                              : (f % 3 == 2 ? c.boost : 0.0f);
      for (int64_t kh = 0; kh < c.kvHeads; ++kh)
        s.k[size_t(t * c.channels() + kh * c.headDim)] += bias;
    }
    s.out = run.step(s.q, s.k, s.v, rows);
    check(s);
    if (::testing::Test::HasFatalFailure())
      return;
  }
}

void expectMatchesReference(EvictRun &run, Reference &ref,
                            const std::vector<int64_t> &schedule,
                            unsigned seed) {
  forEachStep(run, schedule, seed, [&](const RandomStep &step) {
    expectStepMatches(run, ref, step);
  });
}

std::vector<int64_t> prefillThenDecode(int64_t prefill, int64_t total) {
  std::vector<int64_t> schedule = {prefill};
  schedule.resize(size_t(total - prefill + 1), 1);
  return schedule;
}

bool allZero(const uint8_t *begin, const uint8_t *end) {
  return std::all_of(begin, end, [](uint8_t x) { return x == 0; });
}

TEST(KVQuantizedEvictTest, WindowPrefillThenDecode) {
  Config c; // H 4, KVH 2, D 16, 4 bits, G 16, R 16, 4 sinks, 3 groups
  for (int64_t prefill : {1, 37}) {
    SCOPED_TRACE("prefill " + std::to_string(prefill));
    EvictRun run(c);
    Reference ref(c);
    expectMatchesReference(run, ref, prefillThenDecode(prefill, 200), 1);
    ASSERT_EQ(run.pos, 200);
    EXPECT_EQ(ref.replaced, 8); // 11 groups flushed into 3 slots
    // The pool keeps the latest groups (8, 9, 10 of the stream), group 9
    // in slot 0 where groups 0, 3 and 6 were.
    EXPECT_EQ(run.firsts(3), (std::vector<int64_t>{148, 164, 132}));
    // Layer 0 and the guard bytes are untouched.
    const std::vector<uint8_t> &b = run.buffer;
    EXPECT_TRUE(
        allZero(b.data(), b.data() + kGuard + run.layout.layerOffset(1)));
    EXPECT_TRUE(allZero(b.data() + b.size() - kGuard, b.data() + b.size()));
  }
}

TEST(KVQuantizedEvictTest, H2OPrefillThenDecode) {
  Config c;
  c.policy = kH2O, c.boost = 3.0f; // cold groups 0, 1; heavy 2, 5, 8
  for (int64_t prefill : {1, 37}) {
    SCOPED_TRACE("prefill " + std::to_string(prefill));
    EvictRun run(c);
    Reference ref(c);
    expectMatchesReference(run, ref, prefillThenDecode(prefill, 200), 2);
    ASSERT_EQ(run.pos, 200);
    EXPECT_EQ(ref.dropped, 4);
    EXPECT_EQ(ref.replaced, 4);
    // The pool ends with the heavy hitters (stream groups 2, 5 and 8), not
    // the latest groups (8, 9, 10) as a window would.
    std::vector<int64_t> held = run.firsts(3);
    std::sort(held.begin(), held.end());
    EXPECT_EQ(held, (std::vector<int64_t>{36, 84, 132}));
  }
}

TEST(KVQuantizedEvictTest, SnapKVSelectsThePromptThenDecodes) {
  // 150 rows flush 8 groups into 2 slots: the prompt is selected.
  Config c;
  c.policy = kSnapKV, c.groups = 2, c.observe = 8, c.pool = 5;
  constexpr int64_t prompt = 150;
  ASSERT_EQ(c.flushed(prompt), 8);
  EvictRun run(c);
  Reference ref(c);
  std::vector<int64_t> pinned;
  forEachRandomStep(
      run, prefillThenDecode(prompt, 200), 3, [&](const RandomStep &step) {
        expectStepMatches(run, ref, step);
        if (run.pos != prompt)
          return;
        // Every row attended exactly, over the whole prompt so far.
        auto [err, mag] = errorAndMagnitude(
            step.out, referenceAttention(c.attention(), step.q, prompt, 0,
                                         step.k, step.v));
        ASSERT_LE(err, 1e-5 * std::max(mag, 1e-3));
        pinned = run.firsts(2);
        EXPECT_EQ(run.groupScore(0), 1.0f);
        EXPECT_EQ(run.groupScore(1), 1.0f);
        EXPECT_LT(pinned[0], pinned[1]); // position order
        // The votes chose, not recency (the latest are groups 6 and 7).
        EXPECT_NE(pinned, (std::vector<int64_t>{100, 116}));
      });
  ASSERT_EQ(run.pos, 200);
  // Every group flushed while decoding was dropped: all slots are pinned.
  EXPECT_EQ(ref.dropped, c.flushed(200) - c.flushed(prompt));
  EXPECT_EQ(run.firsts(2), pinned);
}

TEST(KVQuantizedEvictTest, BitsGroupAndResidualVariants) {
  auto config = [](int64_t policy, int64_t bits, int64_t group,
                   int64_t residual, int64_t groups) {
    Config c;
    c.policy = policy, c.bits = bits, c.group = group, c.residual = residual;
    c.groups = groups;
    if (policy == kH2O)
      c.boost = 3.0f;
    if (policy == kSnapKV)
      c.observe = 5, c.pool = 3;
    if (group == 64) // C = 64
      c.headDim = 32;
    return c;
  };
  // Uneven chunks: calls that flush several groups, calls that flush none.
  std::vector<int64_t> chunks = {5,  40, 1, 1,  17, 3,  8, 1, 29, 2,
                                 45, 1,  1, 33, 1,  60, 1, 1, 50};
  std::vector<int64_t> prompt = {150, 1, 3, 20, 1, 1, 37, 1};
  // A prompt flushing exactly as many groups as the pool holds: no selection.
  std::vector<int64_t> fits = {60, 1, 1, 30, 1, 8};
  struct Case {
    Config config;
    std::vector<int64_t> schedule;
  };
  std::vector<Case> cases = {
      {config(kWindow, 2, 16, 16, 3), chunks},
      {config(kWindow, 8, 8, 0, 5), chunks},
      {config(kWindow, 4, 64, 16, 2), chunks},
      {config(kH2O, 2, 8, 8, 5), chunks},
      {config(kH2O, 8, 16, 0, 3), chunks},
      {config(kH2O, 4, 64, 0, 2), chunks},
      {config(kSnapKV, 2, 8, 0, 3), chunks},
      {config(kSnapKV, 8, 16, 16, 2), prompt},
      {config(kSnapKV, 4, 64, 0, 1), prompt},
      {config(kSnapKV, 4, 16, 16, 2), fits},
  };
  // Twelve query heads on one KV head: two head blocks (8 + 4) per row.
  Config mqa = config(kH2O, 4, 16, 8, 3);
  mqa.heads = 12, mqa.kvHeads = 1;
  cases.push_back({mqa, chunks});
  unsigned seed = 10;
  for (const Case &k : cases) {
    SCOPED_TRACE(describe(k.config));
    EvictRun run(k.config);
    Reference ref(k.config);
    expectMatchesReference(run, ref, k.schedule, seed++);
    EXPECT_GT(ref.replaced + ref.dropped, 0); // eviction happened
    if (k.config.policy == kH2O)
      EXPECT_GT(ref.replaced, 0);
  }
}

TEST(KVQuantizedEvictTest, ExactWhileNothingIsQuantized) {
  // Sinks 4, R 16, G 16: the first group leaves the ring at position 36.
  for (int64_t policy : {kWindow, kH2O, kSnapKV}) {
    Config c;
    c.policy = policy, c.observe = 4, c.pool = 3, c.bits = 2;
    SCOPED_TRACE(describe(c));
    std::mt19937 rng(5);
    EvictRun run(c);
    for (int64_t rows : {10, 1, 1, 12, 1, 1, 9, 1}) {
      std::vector<float> q = normal(rng, rows * c.width());
      std::vector<float> out = run.step(q, normal(rng, rows * c.channels()),
                                        normal(rng, rows * c.channels()), rows);
      auto [err, mag] = errorAndMagnitude(
          out, referenceAttention(c.attention(), q, rows, run.pos - rows,
                                  run.keys, run.values));
      if (run.pos < 36)
        ASSERT_LE(err, 1e-5 * std::max(mag, 1e-3)) << "position " << run.pos;
      else // the last row attends a quantized group
        EXPECT_GT(err, 1e-3);
    }
    ASSERT_EQ(run.pos, 36);
  }
}

TEST(KVQuantizedEvictTest, TiesGoToTheOlderGroup) {
  // Every query attends to the sink alone: the other keys score thousands
  // below it, so every mass and vote past the sink is exactly 0 (float and
  // double) and every decision a tie. H2O then keeps the incoming group and
  // evicts the oldest, as the window does; SnapKV pins the first groups.
  for (int64_t policy : {kH2O, kSnapKV}) {
    Config c;
    c.policy = policy, c.sinks = 1, c.groups = 2, c.observe = 4, c.pool = 3;
    SCOPED_TRACE(describe(c));
    EvictRun run(c);
    Reference ref(c);
    std::mt19937 rng(8);
    for (int64_t rows : prefillThenDecode(100, 160)) {
      RandomStep s{std::vector<float>(size_t(rows * c.width()), 1.0f),
                   std::vector<float>(size_t(rows * c.channels()), -1000.0f),
                   normal(rng, rows * c.channels()),
                   rows,
                   {}};
      if (run.pos == 0)
        std::fill(s.k.begin(), s.k.begin() + c.channels(), 1000.0f);
      s.out = run.step(s.q, s.k, s.v, rows);
      expectStepMatches(run, ref, s);
      ASSERT_FALSE(HasFatalFailure());
    }
    // H2O: stream groups 6 and 7 in the window's slots; SnapKV: 0 and 1.
    std::vector<int64_t> expected = {97, 113};
    if (policy == kSnapKV)
      expected = {1, 17};
    EXPECT_EQ(run.firsts(2), expected);
  }
}

/// llmc_attention_kivi on the same layer shape, `capacity` positions.
struct PlainConfig {
  Config c;
  int64_t capacity;
  KiviLayout layout() const {
    return {c.layers, c.kvHeads, capacity,  c.headDim,
            c.bits,   c.group,   c.residual};
  }
  int64_t channels() const { return c.channels(); }
  int64_t width() const { return c.width(); }
  auto kernelParams(int64_t pos) const {
    return std::make_tuple(c.layer, pos, c.heads, c.scale(), int64_t(0),
                           int64_t(1), c.layers, c.kvHeads, capacity, c.headDim,
                           c.bits, c.group, c.residual);
  }
};

TEST(KVQuantizedEvictTest, MatchesPlainKiviWhenThePoolHoldsEverything) {
  // No sinks and 12 slots for the 11 groups 200 positions flush: the
  // same cache as KIVI's, one row per call (KIVI attends a call's own rows
  // exactly, so longer calls would differ).
  for (int64_t policy : {kWindow, kH2O}) {
    Config c;
    c.policy = policy, c.sinks = 0, c.groups = 12;
    SCOPED_TRACE(describe(c));
    EvictRun run(c);
    CacheRun<PlainConfig, KiviLayout, llmc_attention_kivi> plain({c, 200});
    forEachRandomStep(
        run, std::vector<int64_t>(200, 1), 6, [&](const RandomStep &step) {
          auto [err, mag] = errorAndMagnitude(
              step.out, plain.step(step.q, step.k, step.v, 1));
          ASSERT_LE(err, 1e-5 * std::max(mag, 1e-3)) << "position " << run.pos;
        });
    // The records of the flushed positions are the same bytes.
    KiviLayout pool = run.layout.pool(c.groups), kivi = plain.layout;
    int64_t flushed = c.flushed(200) * c.group, rb = pool.recordBytes();
    ASSERT_EQ(flushed, 176);
    int64_t keyBytes = flushed / c.group * c.channels() * rb;
    int64_t valueBytes = flushed * (c.channels() / c.group) * rb;
    const uint8_t *p = plain.buffer.data() + kGuard;
    EXPECT_EQ(std::memcmp(run.region() + pool.keyOffset(0),
                          p + kivi.keyOffset(c.layer), size_t(keyBytes)),
              0);
    EXPECT_EQ(std::memcmp(run.region() + pool.valueOffset(0),
                          p + kivi.valueOffset(c.layer), size_t(valueBytes)),
              0);
  }
}

TEST(KVQuantizedEvictTest, BytesFollowLayout) {
  for (int64_t policy : {kWindow, kH2O, kSnapKV}) {
    Config c;
    c.policy = policy, c.observe = 6, c.pool = 3, c.boost = 3.0f;
    SCOPED_TRACE(describe(c));
    EvictRun run(c);
    Reference ref(c);
    expectMatchesReference(run, ref, {150, 1, 1, 20, 1, 3, 17}, 7);
    ASSERT_EQ(int64_t(ref.slots.size()), c.groups);
    const KiviEvictLayout &l = run.layout;
    KiviLayout pool = l.pool(c.groups);
    int64_t ch = c.channels(), g = c.group, rb = pool.recordBytes();
    auto f32 = [&](int64_t offset) { return run.read<float>(offset); };
    // Position p exact at byte `row`: C f32 of keys, then C of values.
    auto expectExact = [&](int64_t row, int64_t p) {
      for (int64_t j = 0; j < ch; ++j) {
        ASSERT_EQ(f32(row + j * 4), run.keys[size_t(p * ch + j)]) << p;
        ASSERT_EQ(f32(row + (ch + j) * 4), run.values[size_t(p * ch + j)]);
      }
    };
    for (int64_t p = 0; p < c.sinks; ++p)
      expectExact(l.sinkOffset(c.groups) + p * 2 * ch * 4, p);
    // Each slot's records decode to the reference's round trip of its group.
    for (int64_t s = 0; s < c.groups; ++s) {
      const PooledGroup &pg = ref.slots[size_t(s)];
      ASSERT_EQ(run.first(s), pg.first);
      for (int64_t i = 0; i < g; ++i)
        for (int64_t j = 0; j < ch; ++j) {
          const uint8_t *key =
              run.region() + pool.keyOffset(0) + (s * ch + j) * rb;
          const uint8_t *value = run.region() + pool.valueOffset(0) +
                                 ((s * g + i) * (ch / g) + j / g) * rb;
          ASSERT_EQ(decodeRecord(key, i, c.bits), pg.keys[size_t(i * ch + j)]);
          ASSERT_EQ(decodeRecord(value, j % g, c.bits),
                    pg.values[size_t(i * ch + j)]);
        }
    }
    // The ring: stream index u in slot u % (R + G), exact; H2O masses.
    for (int64_t p = c.sinks + c.flushed(run.pos) * g; p < run.pos; ++p) {
      int64_t u = p - c.sinks, slot = u % pool.ringSlots();
      expectExact(pool.ringOffset(0) + slot * 2 * ch * 4, p);
      if (policy == kH2O)
        EXPECT_NEAR(f32(l.ringScoreOffset(c.groups) + slot * 4),
                    ref.mass[size_t(p)],
                    1e-4 * std::max(ref.mass[size_t(p)], 1.0));
    }
  }
}

TEST(KVQuantizedEvictTest, ThreadCountDoesNotChangeResults) {
  for (int64_t policy : {kWindow, kH2O, kSnapKV}) {
    Config c;
    // Two head blocks (8 + 4) per KV head.
    c.heads = 24, c.kvHeads = 2, c.headDim = 32, c.groups = 2;
    c.policy = policy, c.observe = 8, c.pool = 5; // the prompt is selected
    SCOPED_TRACE(describe(c));
    expectThreadCountIndependent<EvictRun>(c, {100, 1, 1, 1, 30, 1}, 9);
  }
}

TEST(KVQuantizedEvictTest, InvalidParametersWriteNothing) {
  Config c;
  std::vector<float> q(size_t(c.width()), 1.0f), k(size_t(c.channels()), 1.0f);
  struct Args {
    int64_t bits = 4, group = 16, groups = 3, policy = kWindow;
    int64_t observe = 0, pool = 1, layer = 1, cacheSize = -1;
  };
  auto untouched = [&](const Args &a) {
    int64_t total = c.layout().totalBytes(); // of the valid arguments
    std::vector<uint8_t> cache(size_t(total + 1), 0);
    std::vector<float> out(size_t(c.width()), -1.0f);
    llmc_attention_kivi_evict(
        q.data(), q.data(), 0, 1, c.width(), c.width(), 1, k.data(), k.data(),
        0, 1, c.channels(), c.channels(), 1, k.data(), k.data(), 0, 1,
        c.channels(), c.channels(), 1, cache.data(), cache.data(), 0,
        a.cacheSize >= 0 ? a.cacheSize : total, 1, a.layer, 0, c.heads,
        c.scale(), c.layers, c.kvHeads, c.headDim, a.bits, a.group, c.residual,
        c.sinks, a.groups, a.policy, a.observe, a.pool, out.data(), out.data(),
        0, 1, c.width(), c.width(), 1);
    return allZero(cache.data(), cache.data() + cache.size()) &&
           std::all_of(out.begin(), out.end(),
                       [](float x) { return x == -1.0f; });
  };
  auto with = [](auto set) {
    Args a;
    set(a);
    return a;
  };
  EXPECT_FALSE(untouched(Args{})); // valid: writes a sink and the output
  EXPECT_FALSE(untouched(
      with([](Args &a) { a.policy = kSnapKV, a.observe = 1, a.pool = 1; })));
  EXPECT_TRUE(untouched(with([](Args &a) { a.bits = 3; })));
  EXPECT_TRUE(untouched(with([](Args &a) { a.group = 12; }))); // not 8k
  EXPECT_TRUE(untouched(with([](Args &a) { a.group = 24; }))); // C = 32
  EXPECT_TRUE(untouched(with([](Args &a) { a.groups = 0; })));
  EXPECT_TRUE(untouched(with([](Args &a) { a.policy = 3; })));
  EXPECT_TRUE(untouched(with([](Args &a) { a.policy = -1; })));
  EXPECT_TRUE(untouched(with([](Args &a) { a.layer = 2; }))); // = layers
  EXPECT_TRUE(untouched(with([](Args &a) {
    a.policy = kSnapKV, a.observe = 1, a.pool = 2; // even: no centre
  })));
  EXPECT_TRUE(untouched(
      with([](Args &a) { a.policy = kSnapKV, a.observe = 0, a.pool = 1; })));
  EXPECT_TRUE(untouched(
      with([&](Args &a) { a.cacheSize = c.layout().totalBytes() - 1; })));
}

} // namespace
