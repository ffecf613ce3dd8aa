//===- TokenTreeTest.cpp - token-tree speculative decoding kernels --------===//
//
// Part of llmc. The kernels of a token tree's verification compute every
// row bitwise as a one-row decode step along its path: attention
// (llmc_attention_tree_f32) against the same row decoded alone after its
// ancestors, rope (llmc_rope_tree) against llmc_rope at the row's depth,
// and the compaction of the accepted path (llmc_kv_compact_f32). The tree
// drafter builds a trie of prompt-lookup continuations; tree acceptance
// walks it greedily, and at temperature > 0 its multi-candidate rejection
// rule emits tokens distributed as the target's (chi-square, 200000 steps).
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Kernels.h"
#include "llmc/Runtime/Sampling.h"
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

std::vector<float> randomFloats(size_t n, std::mt19937 &rng) {
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// An f32 cache [2, L, KVH, C, D] and one-row / tree attention on it.
struct Cache {
  int64_t layers = 2, kvHeads = 2, capacity = 64, dim = 8, heads = 4;
  std::vector<float> data;
  explicit Cache(std::mt19937 &rng)
      : data(randomFloats(size_t(2 * layers * kvHeads * capacity * dim), rng)) {}
  float *slot(int64_t kv, int64_t layer, int64_t h, int64_t s) {
    return data.data() + (((kv * layers + layer) * kvHeads + h) * capacity +
                          s) * dim;
  }
  /// Writes row `row` of keys/values (kvHeads * dim wide) at position s.
  void put(int64_t layer, int64_t s, const float *k, const float *v) {
    for (int64_t h = 0; h < kvHeads; ++h) {
      std::memcpy(slot(0, layer, h, s), k + h * dim, size_t(dim) * 4);
      std::memcpy(slot(1, layer, h, s), v + h * dim, size_t(dim) * 4);
    }
  }
  void attend(const float *q, int64_t rows, int64_t layer, int64_t pos,
              float *out) {
    float *c = data.data();
    int64_t width = heads * dim;
    llmc_attention_f32(const_cast<float *>(q), const_cast<float *>(q), 0,
                       rows, width, width, 1, c, c, 0, 2, layers, kvHeads,
                       capacity, dim, layers * kvHeads * capacity * dim,
                       kvHeads * capacity * dim, capacity * dim, dim, 1, layer,
                       pos, heads, 1.0f / std::sqrt(float(dim)), 0, 1, out,
                       out, 0, rows, width, width, 1);
  }
  void attendTree(const float *q, int64_t rows, int64_t layer, int64_t pos,
                  std::vector<int32_t> &parents, float *out) {
    float *c = data.data();
    int64_t width = heads * dim;
    int32_t *p = parents.data();
    llmc_attention_tree_f32(
        const_cast<float *>(q), const_cast<float *>(q), 0, rows, width, width,
        1, c, c, 0, 2, layers, kvHeads, capacity, dim,
        layers * kvHeads * capacity * dim, kvHeads * capacity * dim,
        capacity * dim, dim, 1, layer, pos, heads,
        1.0f / std::sqrt(float(dim)), p, p, 0, int64_t(parents.size()), 1, out,
        out, 0, rows, width, width, 1);
  }
};

TEST(TokenTreeTest, TreeAttentionIsEachPathDecodedAlone) {
  std::mt19937 rng(5);
  // Rows: 0 the root; 1, 2 its children; 3 child of 1; 4 child of 3;
  // 5 child of 2; 6 child of 0.
  std::vector<int32_t> parents = {-1, 0, 0, 1, 3, 2, 0};
  int64_t rows = int64_t(parents.size()), pos = 20, layer = 1;
  Cache tree(rng);
  Cache base = tree;
  int64_t qWidth = tree.heads * tree.dim, kvWidth = tree.kvHeads * tree.dim;
  std::vector<float> q = randomFloats(size_t(rows * qWidth), rng),
                     k = randomFloats(size_t(rows * kvWidth), rng),
                     v = randomFloats(size_t(rows * kvWidth), rng);
  // The verification: every row's keys/values at pos + row, then the tree.
  for (int64_t r = 0; r < rows; ++r)
    tree.put(layer, pos + r, &k[size_t(r * kvWidth)], &v[size_t(r * kvWidth)]);
  Cache written = tree;
  std::vector<float> out(size_t(rows * qWidth));
  tree.attendTree(q.data(), rows, layer, pos, parents, out.data());
  EXPECT_EQ(tree.data, written.data) << "the tree layout is left in place";
  for (int64_t r = 0; r < rows; ++r) {
    // Row r decoded alone: its path at pos, pos + 1, ..., then one row.
    std::vector<int64_t> path;
    for (int64_t a = r; a >= 0; a = parents[size_t(a)])
      path.insert(path.begin(), a);
    Cache alone = base;
    for (size_t i = 0; i < path.size(); ++i)
      alone.put(layer, pos + int64_t(i), &k[size_t(path[i] * kvWidth)],
                &v[size_t(path[i] * kvWidth)]);
    std::vector<float> want(static_cast<size_t>(qWidth));
    alone.attend(&q[size_t(r * qWidth)], 1, layer,
                 pos + int64_t(path.size()) - 1, want.data());
    EXPECT_EQ(0, std::memcmp(want.data(), &out[size_t(r * qWidth)],
                             size_t(qWidth) * 4))
        << "row " << r;
  }
  // A chain is plain causal attention.
  std::vector<int32_t> chain = {-1, 0, 1, 2};
  Cache c1 = written, c2 = written;
  std::vector<float> a(size_t(4 * qWidth)), b(size_t(4 * qWidth));
  c1.attendTree(q.data(), 4, layer, pos, chain, a.data());
  c2.attend(q.data(), 4, layer, pos, b.data());
  EXPECT_EQ(a, b);
}

TEST(TokenTreeTest, RopeAtDepth) {
  std::mt19937 rng(7);
  std::vector<int32_t> parents = {-1, 0, 0, 2, 3};
  std::vector<int64_t> depth = {0, 1, 1, 2, 3};
  int64_t rows = 5, width = 16, pos = 9;
  std::vector<float> x = randomFloats(size_t(rows * width), rng);
  std::vector<float> y(x.size()), want(x.size());
  llmc_rope_tree(x.data(), x.data(), 0, rows, width, width, 1, pos,
                 parents.data(), parents.data(), 0, rows, 1, 8, 8, 10000.0,
                 1.0, 0, y.data(), y.data(), 0, rows, width, width, 1);
  for (int64_t r = 0; r < rows; ++r) {
    float *xr = x.data() + r * width, *wr = want.data() + r * width;
    llmc_rope(xr, xr, 0, 1, width, width, 1, pos + depth[size_t(r)], 8, 8,
              10000.0, 1.0, 0, wr, wr, 0, 1, width, width, 1);
  }
  EXPECT_EQ(y, want);
}

TEST(TokenTreeTest, CompactKeepsTheAcceptedPath) {
  std::mt19937 rng(3);
  Cache c(rng);
  Cache before = c;
  std::vector<int32_t> path = {0, 2, 5, 6};
  int64_t pos = 10;
  float *d = c.data.data();
  int32_t *p = path.data();
  llmc_kv_compact_f32(d, d, 0, 2, c.layers, c.kvHeads, c.capacity, c.dim,
                      c.layers * c.kvHeads * c.capacity * c.dim,
                      c.kvHeads * c.capacity * c.dim, c.capacity * c.dim,
                      c.dim, 1, pos, p, p, 0, 4, 1, /*count=*/4);
  for (int64_t kv = 0; kv < 2; ++kv)
    for (int64_t l = 0; l < c.layers; ++l)
      for (int64_t h = 0; h < c.kvHeads; ++h) {
        for (int64_t j = 0; j < 4; ++j)
          EXPECT_EQ(0, std::memcmp(c.slot(kv, l, h, pos + j),
                                   before.slot(kv, l, h, pos + path[size_t(j)]),
                                   size_t(c.dim) * 4));
        // Positions before pos are untouched.
        EXPECT_EQ(0, std::memcmp(c.slot(kv, l, h, 0), before.slot(kv, l, h, 0),
                                 size_t(pos * c.dim) * 4));
      }
}

/// llmc_ngram_tree_draft on `history`; returns (draft, parents) of its
/// nodes.
std::pair<std::vector<int32_t>, std::vector<int32_t>>
treeDraft(std::vector<int32_t> history, int64_t ngram, int64_t width,
          int64_t max) {
  std::vector<int32_t> draft(size_t(max), 7), parents(size_t(max), 7);
  int32_t *h = history.data();
  int64_t n = llmc_ngram_tree_draft(
      h, h, 0, int64_t(history.size()), 1, int64_t(history.size()), ngram,
      width, parents.data(), parents.data(), 0, max, 1, draft.data(),
      draft.data(), 0, max, 1);
  draft.resize(size_t(n));
  parents.resize(size_t(n));
  return {draft, parents};
}

TEST(TokenTreeTest, DraftMergesContinuationsIntoATrie) {
  // "5 1" was followed by 2 3, by 2 4 and by 9 9; the history ends in 5 1.
  std::vector<int32_t> h = {5, 1, 2, 3, 0, 5, 1, 2, 4, 0, 5, 1, 9, 9, 0, 5, 1};
  auto [draft, parents] = treeDraft(h, 2, 3, 8);
  // Latest first, breadth first: depth 1: 9 (from 12), 2 (from 7; 2 shared
  // with the occurrence at 2); depth 2: 9 after 9, 4 after 2, 3 after 2;
  // depth 3: 0 after 9 9, 0 after 2 4, 0 after 2 3.
  EXPECT_EQ(draft, (std::vector<int32_t>{9, 2, 9, 4, 3, 0, 0, 0}));
  // Parents as verification rows (0: the last token; node i is row i + 1).
  EXPECT_EQ(parents, (std::vector<int32_t>{0, 0, 1, 2, 2, 3, 4, 5}));
  // Width 1 is the chain of the latest occurrence.
  std::tie(draft, parents) = treeDraft(h, 2, 1, 3);
  EXPECT_EQ(draft, (std::vector<int32_t>{9, 9, 0}));
  EXPECT_EQ(parents, (std::vector<int32_t>{0, 1, 2}));
  // Nothing matches: no nodes.
  std::tie(draft, parents) = treeDraft({1, 2, 3}, 2, 3, 4);
  EXPECT_TRUE(draft.empty());
}

/// llmc_spec_accept_tree; returns (emitted tokens, path rows).
std::pair<std::vector<int32_t>, std::vector<int32_t>>
acceptTree(std::vector<int32_t> draft, std::vector<int32_t> parents,
           std::vector<float> &logits, int64_t vocab, double temperature,
           int64_t seed) {
  int64_t k = int64_t(draft.size());
  std::vector<int32_t> tokens(size_t(k + 1), 99), path(size_t(k + 1), 99);
  int64_t rows = int64_t(logits.size()) / vocab;
  int64_t n = llmc_spec_accept_tree(
      draft.data(), draft.data(), 0, k, 1, parents.data(), parents.data(), 0,
      k, 1, k, logits.data(), logits.data(), 0, rows, vocab, vocab, 1,
      temperature, 0, 1.0, seed, path.data(), path.data(), 0, k + 1, 1,
      tokens.data(), tokens.data(), 0, k + 1, 1);
  tokens.resize(size_t(n));
  path.resize(size_t(n));
  return {tokens, path};
}

TEST(TokenTreeTest, GreedyAcceptanceFollowsTheTargetThroughTheTree) {
  // Nodes: 0 = token 3 (row 1), 1 = token 4 (row 2), both after the last
  // token; 2 = token 5 after node 1 (row 3). Vocabulary 6.
  std::vector<int32_t> draft = {3, 4, 5}, parents = {0, 0, 2};
  const int64_t vocab = 6;
  auto oneHot = [&](std::vector<int32_t> argmax) {
    std::vector<float> l(argmax.size() * vocab, 0.0f);
    for (size_t r = 0; r < argmax.size(); ++r)
      l[r * vocab + size_t(argmax[r])] = 1.0f;
    return l;
  };
  // The target says 4 (node 1), then 5 (node 2), then 1.
  std::vector<float> l = oneHot({4, 0, 5, 1});
  auto [tokens, path] = acceptTree(draft, parents, l, vocab, 0.0, 0);
  EXPECT_EQ(tokens, (std::vector<int32_t>{4, 5, 1}));
  EXPECT_EQ(path, (std::vector<int32_t>{0, 2, 3}));
  // The target says 2: no child has it.
  l = oneHot({2, 0, 0, 0});
  std::tie(tokens, path) = acceptTree(draft, parents, l, vocab, 0.0, 0);
  EXPECT_EQ(tokens, (std::vector<int32_t>{2}));
  EXPECT_EQ(path, (std::vector<int32_t>{0}));
}

TEST(TokenTreeTest, TreeRejectionSamplingEmitsTheTargetDistribution) {
  // Two candidates after the last token (tokens 1 and 2), one more after
  // token 2. The first emitted token must follow row 0's softmax, and
  // after 2 the second must follow row 2's.
  const int64_t vocab = 5, trials = 200000;
  std::vector<int32_t> draft = {1, 2, 4}, parents = {0, 0, 2};
  std::vector<float> l = {0.5f, 1.0f, 1.5f, -0.5f, 0.0f,  // row 0
                          0.0f, 0.0f, 0.0f, 0.0f, 0.0f,   // row 1 (after 1)
                          1.0f, -1.0f, 0.3f, 0.2f, 2.0f,  // row 2 (after 2)
                          0.0f, 0.0f, 0.0f, 0.0f, 0.0f};  // row 3
  auto softmax = [&](int64_t row) {
    std::vector<double> p(static_cast<size_t>(vocab));
    double total = 0;
    for (int64_t v = 0; v < vocab; ++v)
      total += p[size_t(v)] = std::exp(double(l[size_t(row * vocab + v)]));
    for (double &x : p)
      x /= total;
    return p;
  };
  std::vector<double> p0 = softmax(0), p2 = softmax(2);
  std::vector<int64_t> first(static_cast<size_t>(vocab)),
      second(static_cast<size_t>(vocab));
  int64_t afterTwo = 0;
  for (int64_t seed = 0; seed < trials; ++seed) {
    auto [tokens, path] = acceptTree(draft, parents, l, vocab, 1.0, seed);
    ASSERT_FALSE(tokens.empty());
    ++first[size_t(tokens[0])];
    if (tokens[0] == 2) {
      // Node 1 was kept: then node 2 (token 4) and one more, or another.
      bool deeper = tokens.size() > 1 && tokens[1] == 4;
      ASSERT_EQ(tokens.size(), deeper ? 3u : 2u);
      ASSERT_EQ(path, deeper ? (std::vector<int32_t>{0, 2, 3})
                             : (std::vector<int32_t>{0, 2}));
      ++afterTwo;
      ++second[size_t(tokens[1])];
    }
  }
  auto chi = [](const std::vector<int64_t> &counts,
                const std::vector<double> &p, int64_t n) {
    double c = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      double e = p[i] * double(n);
      c += (double(counts[i]) - e) * (double(counts[i]) - e) / e;
    }
    return c;
  };
  // df 4: the p = 1e-6 critical value is 33.4.
  EXPECT_LT(chi(first, p0, trials), 33.4);
  EXPECT_LT(chi(second, p2, afterTwo), 33.4);
}

} // namespace
