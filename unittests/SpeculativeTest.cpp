//===- SpeculativeTest.cpp - prompt lookup and greedy acceptance ----------===//
//
// Part of llmc. llmc_ngram_draft and llmc_spec_accept (the CPU lowering of
// llm.ngram_draft and llm.spec_accept) on hand-made token sequences: the
// latest match wins, shorter n-grams are tried when longer ones fail, a
// match must leave a token after it, drafts stop at the history's end and
// the buffer's size; acceptance takes the agreeing prefix plus the target's
// token, and neither helper writes past its buffers or reads past the
// given counts. Strided buffers check the descriptors are honoured.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Kernels.h"
#include "llmc/Runtime/Sampling.h"
#include <cmath>
#include <gtest/gtest.h>
#include <vector>

namespace {

/// `n` tokens with stride 2 (odd slots hold a guard value), plus guards.
struct Strided {
  static constexpr int32_t kGuard = -7;
  std::vector<int32_t> storage;
  int64_t size;
  explicit Strided(std::vector<int32_t> values)
      : storage(values.size() * 2 + 2, kGuard), size(int64_t(values.size())) {
    for (size_t i = 0; i < values.size(); ++i)
      storage[1 + 2 * i] = values[i];
  }
  int32_t *data() { return storage.data(); }
  std::vector<int32_t> values() const {
    std::vector<int32_t> v;
    for (int64_t i = 0; i < size; ++i)
      v.push_back(storage[size_t(1 + 2 * i)]);
    return v;
  }
  bool guardsIntact() const {
    for (size_t i = 0; i < storage.size(); ++i)
      if ((i % 2 == 0 || i + 1 == storage.size()) && storage[i] != kGuard)
        return false;
    return true;
  }
};

/// llmc_ngram_draft on `history` (first `length` tokens) into a draft
/// buffer of `capacity`; returns (count, draft).
std::pair<int64_t, std::vector<int32_t>>
draft(const std::vector<int32_t> &history, int64_t length, int64_t ngram,
      int64_t max, int64_t capacity = 4) {
  Strided h(history), d(std::vector<int32_t>(size_t(capacity), 99));
  int64_t n = llmc_ngram_draft(h.data(), h.data(), 1, h.size, 2, length, ngram,
                               max, d.data(), d.data(), 1, d.size, 2);
  EXPECT_TRUE(d.guardsIntact());
  EXPECT_EQ(h.values(), history);
  return {n, d.values()};
}

TEST(SpeculativeTest, NgramDraftContinuesTheLatestMatch) {
  // ... 5 6 7 | 8 9 ... 5 6 7 | 1 2 3 ... 5 6 7: the latest earlier "5 6 7"
  // is followed by 1 2 3 4.
  std::vector<int32_t> h = {5, 6, 7, 8, 9, 0, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7};
  auto [n, d] = draft(h, int64_t(h.size()), 3, 4);
  EXPECT_EQ(n, 4);
  EXPECT_EQ(d, (std::vector<int32_t>{1, 2, 3, 4}));
  // `max` limits the draft; the rest of the buffer is zeroed.
  std::tie(n, d) = draft(h, int64_t(h.size()), 3, 2);
  EXPECT_EQ(n, 2);
  EXPECT_EQ(d, (std::vector<int32_t>{1, 2, 0, 0}));
  // The buffer limits it too.
  std::tie(n, d) = draft(h, int64_t(h.size()), 3, 8, /*capacity=*/3);
  EXPECT_EQ(n, 3);
  EXPECT_EQ(d, (std::vector<int32_t>{1, 2, 3}));
}

TEST(SpeculativeTest, NgramDraftFallsBackToShorterNgrams) {
  // No earlier "4 2"; the last earlier "2" is followed by 8 3.
  std::vector<int32_t> h = {1, 2, 9, 2, 8, 3, 4, 2};
  auto [n, d] = draft(h, 8, 2, 4);
  EXPECT_EQ(n, 4);
  EXPECT_EQ(d, (std::vector<int32_t>{8, 3, 4, 2}));
  // A match near the end proposes only what follows it.
  std::vector<int32_t> g = {3, 1, 3};
  std::tie(n, d) = draft(g, 3, 3, 4);
  EXPECT_EQ(n, 2);
  EXPECT_EQ(d, (std::vector<int32_t>{1, 3, 0, 0}));
}

TEST(SpeculativeTest, NgramDraftWithoutMatchProposesNothing) {
  auto [n, d] = draft({1, 2, 3, 4}, 4, 3, 4);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(d, (std::vector<int32_t>{0, 0, 0, 0}));
  // A single token and an empty history have nothing to match.
  std::tie(n, d) = draft({7}, 1, 3, 4);
  EXPECT_EQ(n, 0);
  std::tie(n, d) = draft({7, 7}, 0, 3, 4);
  EXPECT_EQ(n, 0);
  // Tokens past `length` are not looked at (they would match here).
  std::tie(n, d) = draft({1, 2, 1, 2, 1, 9}, 3, 1, 4);
  EXPECT_EQ(n, 2);
  EXPECT_EQ(d, (std::vector<int32_t>{2, 1, 0, 0}));
  // A length past the buffer is clamped to it.
  std::tie(n, d) = draft({4, 5, 4}, 100, 1, 4);
  EXPECT_EQ(n, 2);
  EXPECT_EQ(d, (std::vector<int32_t>{5, 4, 0, 0}));
}

/// Logits rows (vocab wide, stored transposed: column-major, so the
/// helper must honour both strides) for llmc_spec_accept.
struct Logits {
  int64_t rows, vocab;
  std::vector<float> storage;
  Logits(int64_t rows, int64_t vocab)
      : rows(rows), vocab(vocab), storage(size_t(rows * vocab), 0.0f) {}
  float &at(int64_t r, int64_t v) { return storage[size_t(v * rows + r)]; }
  /// One-hot rows: the greedy choice of row r is `tokens[r]`.
  static Logits greedy(const std::vector<int32_t> &tokens, int64_t vocab) {
    Logits l(int64_t(tokens.size()), vocab);
    for (size_t r = 0; r < tokens.size(); ++r)
      l.at(int64_t(r), tokens[r]) = 1.0f;
    return l;
  }
};

/// llmc_spec_accept; returns (accepted, tokens).
std::pair<int64_t, std::vector<int32_t>>
acceptLogits(const std::vector<int32_t> &drafted, int64_t count,
             Logits &logits, double temperature = 0, int64_t topK = 0,
             double topP = 1, int64_t seed = 0) {
  Strided d(drafted), out(std::vector<int32_t>(drafted.size() + 1, 99));
  float *l = logits.storage.data();
  int64_t n = llmc_spec_accept(
      d.data(), d.data(), 1, d.size, 2, count, l, l, 0, logits.rows,
      logits.vocab, 1, logits.rows, temperature, topK, topP, seed,
      out.data(), out.data(), 1, out.size, 2);
  EXPECT_TRUE(out.guardsIntact());
  return {n, out.values()};
}

std::pair<int64_t, std::vector<int32_t>>
accept(const std::vector<int32_t> &drafted, int64_t count,
       const std::vector<int32_t> &target) {
  Logits logits = Logits::greedy(target, 16);
  return acceptLogits(drafted, count, logits);
}

TEST(SpeculativeTest, AcceptTakesTheAgreeingPrefixAndTheTargetToken) {
  // Draft 4 5 6 7; the target would say 4 5 9 ...: two accepted, then 9.
  auto [n, t] = accept({4, 5, 6, 7}, 4, {4, 5, 9, 1, 2});
  EXPECT_EQ(n, 3);
  EXPECT_EQ(t, (std::vector<int32_t>{4, 5, 9, 0, 0}));
  // Everything agrees: all four plus the target's fifth.
  std::tie(n, t) = accept({4, 5, 6, 7}, 4, {4, 5, 6, 7, 8});
  EXPECT_EQ(n, 5);
  EXPECT_EQ(t, (std::vector<int32_t>{4, 5, 6, 7, 8}));
  // The first disagrees: only the target's token.
  std::tie(n, t) = accept({4, 5, 6, 7}, 4, {3, 5, 6, 7, 8});
  EXPECT_EQ(n, 1);
  EXPECT_EQ(t, (std::vector<int32_t>{3, 0, 0, 0, 0}));
  // Only `count` draft tokens count (entries past it are ignored) and the
  // target then has count + 1 rows.
  std::tie(n, t) = accept({4, 5, 6, 7}, 2, {4, 5, 1});
  EXPECT_EQ(n, 3);
  EXPECT_EQ(t, (std::vector<int32_t>{4, 5, 1, 0, 0}));
  // No draft: the target's next token.
  std::tie(n, t) = accept({4, 5, 6, 7}, 0, {6});
  EXPECT_EQ(n, 1);
  EXPECT_EQ(t, (std::vector<int32_t>{6, 0, 0, 0, 0}));
}

TEST(SpeculativeTest, AcceptClampsCountsToTheBuffers) {
  // A count larger than the target's rows allow is clamped: 3 rows let two
  // draft tokens be checked.
  auto [n, t] = accept({4, 5, 6, 7}, 9, {4, 5, 6});
  EXPECT_EQ(n, 3);
  EXPECT_EQ(t, (std::vector<int32_t>{4, 5, 6, 0, 0}));
  std::tie(n, t) = accept({4, 5, 6, 7}, -3, {8, 8});
  EXPECT_EQ(n, 1);
  EXPECT_EQ(t, (std::vector<int32_t>{8, 0, 0, 0, 0}));
}

/// softmax(row / temperature) restricted as plain sampling restricts it.
std::vector<double> target(Logits &l, int64_t row, double temperature,
                           int64_t topK = 0, double topP = 1) {
  llmc::runtime::TokenDistribution p;
  p.compute(&l.at(row, 0), l.vocab, l.rows, temperature, topK, topP);
  std::vector<double> probs(size_t(l.vocab), 0.0);
  for (size_t i = 0; i < p.size; ++i)
    probs[size_t(p.candidates[i].second)] = p.weights[i] / p.total;
  return probs;
}

/// Pearson's chi-square of `counts` against `expected` probabilities over
/// `trials`; tokens with probability 0 must never appear (an infinite
/// statistic otherwise). Returns (statistic, degrees of freedom).
std::pair<double, int> chiSquare(const std::vector<int64_t> &counts,
                                 const std::vector<double> &expected,
                                 int64_t trials) {
  double chi = 0;
  int cells = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    double e = expected[i] * double(trials);
    if (e == 0) {
      if (counts[i] != 0)
        return {1e30, 1};
      continue;
    }
    chi += (double(counts[i]) - e) * (double(counts[i]) - e) / e;
    ++cells;
  }
  return {chi, cells - 1};
}

/// The chi-square critical value at p = 1e-6 (Wilson-Hilferty), so a
/// correct sampler fails about once in a million runs.
double critical(int df) {
  double z = 4.753, k = double(df);
  double c = 1.0 - 2.0 / (9.0 * k) + z * std::sqrt(2.0 / (9.0 * k));
  return k * c * c * c;
}

TEST(SpeculativeTest, RejectionSamplingEmitsTheTargetDistribution) {
  // Three draft tokens over a vocabulary of 8; row r holds the target's
  // logits after the last token and r draft tokens. The draft is
  // deterministic: token 2 is likely, 5 unlikely, 7 impossible under top-k.
  const int64_t vocab = 8, trials = 200000;
  Logits l(4, vocab);
  const float rows[4][8] = {{1.0f, 0.5f, 2.0f, -1.0f, 0.0f, 0.3f, 1.5f, -3.0f},
                            {0.2f, 0.1f, 0.0f, 1.2f, -0.5f, 2.5f, 0.4f, 0.0f},
                            {3.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},
                            {0.0f, 1.0f, 2.0f, 3.0f, 0.5f, 0.5f, 0.5f, 0.5f}};
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t v = 0; v < vocab; ++v)
      l.at(r, v) = rows[r][v];
  const std::vector<int32_t> draft = {2, 5, 7};
  struct Setting {
    double temperature;
    int64_t topK;
    double topP;
  };
  for (Setting s : {Setting{1.0, 0, 1.0}, Setting{0.7, 0, 1.0},
                    Setting{1.3, 5, 1.0}, Setting{1.0, 0, 0.8}}) {
    SCOPED_TRACE(testing::Message() << "temperature " << s.temperature
                                    << " top-k " << s.topK << " top-p "
                                    << s.topP);
    std::vector<double> p0 = target(l, 0, s.temperature, s.topK, s.topP),
                        p1 = target(l, 1, s.temperature, s.topK, s.topP);
    // First token: p0. Second token, when the first was the draft's: p1.
    std::vector<int64_t> first(size_t(vocab), 0), second(size_t(vocab), 0);
    int64_t afterDraft = 0, emittedPastFirst = 0;
    for (int64_t seed = 0; seed < trials; ++seed) {
      auto [n, tokens] =
          acceptLogits(draft, 3, l, s.temperature, s.topK, s.topP, seed);
      ASSERT_GE(n, 1);
      ASSERT_LE(n, 4);
      ++first[size_t(tokens[0])];
      if (tokens[0] != draft[0]) {
        ASSERT_EQ(n, 1) << "a rejection ends the step";
        continue;
      }
      ++afterDraft;
      ASSERT_GE(n, 2) << "an accepted draft token is followed by another";
      ++second[size_t(tokens[1])];
      emittedPastFirst += n - 1;
    }
    auto [chi0, df0] = chiSquare(first, p0, trials);
    EXPECT_LT(chi0, critical(df0));
    auto [chi1, df1] = chiSquare(second, p1, afterDraft);
    EXPECT_LT(chi1, critical(df1));
    // The draft token is kept with probability p0(draft[0]).
    double rate = double(afterDraft) / double(trials);
    EXPECT_NEAR(rate, p0[size_t(draft[0])],
                5 * std::sqrt(p0[2] * (1 - p0[2]) / double(trials)) + 1e-12);
    EXPECT_GT(emittedPastFirst, 0);
  }
}

TEST(SpeculativeTest, RejectionSamplingIsDeterministicPerSeed) {
  Logits l(3, 6);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t v = 0; v < 6; ++v)
      l.at(r, v) = float((r * 7 + v * 3) % 5) * 0.4f;
  for (int64_t seed : {0, 1, 12345}) {
    auto a = acceptLogits({1, 2}, 2, l, 0.9, 0, 1, seed);
    auto b = acceptLogits({1, 2}, 2, l, 0.9, 0, 1, seed);
    EXPECT_EQ(a, b);
  }
  // Temperature 0 is greedy whatever the seed: row 0 is 0 1.2 0.4 1.6 0.8
  // 0, so the target says 3 and the draft's 1 is rejected.
  auto [n, t] = acceptLogits({1, 2}, 2, l, 0.0, 0, 1, 77);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(t[0], 3);
}

} // namespace
