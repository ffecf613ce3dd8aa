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

/// llmc_spec_accept; returns (accepted, tokens).
std::pair<int64_t, std::vector<int32_t>>
accept(const std::vector<int32_t> &drafted, int64_t count,
       const std::vector<int32_t> &target) {
  Strided d(drafted), t(target),
      out(std::vector<int32_t>(drafted.size() + 1, 99));
  int64_t n = llmc_spec_accept(d.data(), d.data(), 1, d.size, 2, count,
                               t.data(), t.data(), 1, t.size, 2, out.data(),
                               out.data(), 1, out.size, 2);
  EXPECT_TRUE(out.guardsIntact());
  return {n, out.values()};
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

} // namespace
