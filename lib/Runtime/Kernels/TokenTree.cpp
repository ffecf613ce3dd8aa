//===- TokenTree.cpp - token-tree speculative decoding kernels ------------===//
//
// Part of llmc. A token tree's verification runs every draft node as one
// row of the target model. Rows are independent except in attention, where
// row t must see the cache before the step and the rows on its path from
// the root, at their depths. These kernels make each row exactly a one-row
// decode step along its path (bitwise: they call the one-row kernels), so
// greedy acceptance stays lossless: rope at the row's depth
// (llmc_rope_tree), attention with the path's keys and values moved into
// the positions right after the step's start (llmc_attention_tree_f32),
// the accepted path compacted into place afterwards (llmc_kv_compact_f32).
// Drafting the tree (llmc_ngram_tree_draft) and accepting along it
// (llmc_spec_accept_tree) walk token ids.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Kernels.h"
#include "llmc/Runtime/Sampling.h"
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

/// A strided view of a 1-D i32 memref.
struct Ids {
  int32_t *data;
  int64_t size, stride;
  int32_t &operator[](int64_t i) const { return data[i * stride]; }
};

/// Row t's path from its root, root first (rows whose parent is invalid,
/// i.e. not in [0, t), are roots).
void pathOf(const Ids &parents, int64_t t, std::vector<int64_t> &path) {
  path.clear();
  for (int64_t r = t; r >= 0;) {
    path.push_back(r);
    int64_t p = r < parents.size ? parents[r] : -1;
    r = p >= 0 && p < r ? p : -1;
  }
  std::reverse(path.begin(), path.end());
}

} // namespace

extern "C" void llmc_rope_tree(LLMC_MEMREF2(float, x), int64_t pos,
                               LLMC_MEMREF1(int32_t, parents),
                               int64_t headDim, int64_t rotary, double theta,
                               double freqScale, int64_t halfSplit,
                               LLMC_MEMREF2(float, y)) {
  (void)parentsAllocated;
  Ids tree{parents + parentsOffset, parentsSize, parentsStride};
  thread_local std::vector<int64_t> path;
  for (int64_t t = 0; t < xRows; ++t) {
    pathOf(tree, t, path);
    int64_t at = pos + int64_t(path.size()) - 1;
    llmc_rope(xAllocated, x, xOffset + t * xRowStride, 1, xCols, xRowStride,
              xColStride, at, headDim, rotary, theta, freqScale, halfSplit,
              yAllocated, y, yOffset + t * yRowStride, 1, yCols, yRowStride,
              yColStride);
  }
}

extern "C" void llmc_attention_tree_f32(
    LLMC_MEMREF2(float, q), LLMC_MEMREF5(float, cache), int64_t layer,
    int64_t pos, int64_t heads, float scale, LLMC_MEMREF1(int32_t, parents),
    LLMC_MEMREF2(float, out)) {
  (void)parentsAllocated;
  Ids tree{parents + parentsOffset, parentsSize, parentsStride};
  float *base = cache + cacheOffset;
  int64_t kvHeads = cacheSize2, capacity = cacheSize3, dim = cacheSize4;
  // Position s of head h of keys (kv = 0) or values (kv = 1) of this layer.
  auto slot = [&](int64_t kv, int64_t h, int64_t s) {
    return base + kv * cacheStride0 + layer * cacheStride1 +
           h * cacheStride2 + s * cacheStride3;
  };
  auto copySlot = [&](int64_t from, int64_t to, float *saved) {
    for (int64_t kv = 0; kv < 2; ++kv)
      for (int64_t h = 0; h < kvHeads; ++h) {
        float *dst = slot(kv, h, to);
        const float *src = slot(kv, h, from);
        for (int64_t d = 0; d < dim; ++d) {
          if (saved)
            *saved++ = dst[d * cacheStride4];
          dst[d * cacheStride4] = src[d * cacheStride4];
        }
      }
  };
  auto restoreSlot = [&](int64_t to, const float *saved) {
    for (int64_t kv = 0; kv < 2; ++kv)
      for (int64_t h = 0; h < kvHeads; ++h) {
        float *dst = slot(kv, h, to);
        for (int64_t d = 0; d < dim; ++d)
          dst[d * cacheStride4] = *saved++;
      }
  };
  int64_t slotFloats = 2 * kvHeads * dim;
  thread_local std::vector<int64_t> path;
  thread_local std::vector<float> saved;
  for (int64_t t = 0; t < qRows; ++t) {
    pathOf(tree, t, path);
    int64_t depth = int64_t(path.size()) - 1;
    if (pos + depth >= capacity)
      continue; // cannot happen for a verified step (rows <= capacity)
    // Move the path into positions pos .. pos + depth (row path[i] to
    // position pos + i; path[i] >= i, so no source is overwritten first).
    saved.resize(size_t(slotFloats * (depth + 1)));
    for (int64_t i = 0; i <= depth; ++i)
      if (path[size_t(i)] != i)
        copySlot(pos + path[size_t(i)], pos + i,
                 saved.data() + i * slotFloats);
    llmc_attention_f32(qAllocated, q, qOffset + t * qRowStride, 1, qCols,
                       qRowStride, qColStride, cacheAllocated, cache,
                       cacheOffset, cacheSize0, cacheSize1, cacheSize2,
                       cacheSize3, cacheSize4, cacheStride0, cacheStride1,
                       cacheStride2, cacheStride3, cacheStride4, layer,
                       pos + depth, heads, scale, /*window=*/0, /*causal=*/1,
                       outAllocated, out, outOffset + t * outRowStride, 1,
                       outCols, outRowStride, outColStride);
    for (int64_t i = depth; i >= 0; --i)
      if (path[size_t(i)] != i)
        restoreSlot(pos + i, saved.data() + i * slotFloats);
  }
}

extern "C" void llmc_kv_compact_f32(LLMC_MEMREF5(float, cache), int64_t pos,
                                    LLMC_MEMREF1(int32_t, rows),
                                    int64_t count) {
  (void)cacheAllocated, (void)rowsAllocated;
  Ids keep{rows + rowsOffset, rowsSize, rowsStride};
  float *base = cache + cacheOffset;
  count = std::min(count, keep.size);
  for (int64_t j = 0; j < count; ++j) {
    int64_t r = keep[j];
    if (r == j || r < j || pos + r >= cacheSize3)
      continue; // an accepted path only moves rows down
    for (int64_t kv = 0; kv < cacheSize0; ++kv)
      for (int64_t l = 0; l < cacheSize1; ++l)
        for (int64_t h = 0; h < cacheSize2; ++h) {
          float *head = base + kv * cacheStride0 + l * cacheStride1 +
                        h * cacheStride2;
          for (int64_t d = 0; d < cacheSize4; ++d)
            head[(pos + j) * cacheStride3 + d * cacheStride4] =
                head[(pos + r) * cacheStride3 + d * cacheStride4];
        }
  }
}

extern "C" int64_t llmc_ngram_tree_draft(LLMC_MEMREF1(int32_t, history),
                                         int64_t length, int64_t ngram,
                                         int64_t width,
                                         LLMC_MEMREF1(int32_t, parents),
                                         LLMC_MEMREF1(int32_t, draft)) {
  (void)historyAllocated, (void)parentsAllocated, (void)draftAllocated;
  Ids h{history + historyOffset, historySize, historyStride};
  Ids par{parents + parentsOffset, parentsSize, parentsStride};
  Ids out{draft + draftOffset, draftSize, draftStride};
  int64_t max = std::min(out.size, par.size);
  for (int64_t i = 0; i < out.size; ++i)
    out[i] = 0;
  for (int64_t i = 0; i < par.size; ++i)
    par[i] = 0;
  length = std::clamp<int64_t>(length, 0, h.size);
  int64_t nodes = 0;
  // The child of node `parent` (-1: the last token) with `token`, or -1.
  // Parents are stored as verification rows: node i is row i + 1.
  auto child = [&](int64_t parent, int32_t token) -> int64_t {
    for (int64_t i = 0; i < nodes; ++i)
      if (par[i] == parent + 1 && out[i] == token)
        return i;
    return -1;
  };
  // Candidates: the continuations after earlier occurrences of the last n
  // tokens, longest n first, latest occurrence first, up to `width`
  // different ones (continuations compared over max tokens).
  thread_local std::vector<int64_t> starts;
  starts.clear();
  auto sameContinuation = [&](int64_t a, int64_t b) {
    for (int64_t i = 0; i < max; ++i) {
      bool endA = a + i >= length, endB = b + i >= length;
      if (endA || endB)
        return endA == endB;
      if (h[a + i] != h[b + i])
        return false;
    }
    return true;
  };
  for (int64_t n = std::min(ngram, length - 1);
       n >= 1 && int64_t(starts.size()) < width; --n) {
    int64_t suffix = length - n;
    for (int64_t j = length - n - 1;
         j >= 0 && int64_t(starts.size()) < width; --j) {
      int64_t i = 0;
      while (i < n && h[j + i] == h[suffix + i])
        ++i;
      if (i < n)
        continue;
      int64_t start = j + n;
      bool seen = false;
      for (int64_t s : starts)
        seen = seen || sameContinuation(s, start);
      if (!seen)
        starts.push_back(start);
    }
  }
  // Grow the trie breadth first, one token of every candidate per depth,
  // so that the node budget is shared between the branches.
  thread_local std::vector<int64_t> at;
  at.assign(starts.size(), -1);
  for (int64_t depth = 0; depth < max && nodes < max; ++depth)
    for (size_t m = 0; m < starts.size() && nodes < max; ++m) {
      int64_t c = starts[m] + depth;
      if (at[m] == -2 || c >= length) {
        at[m] = -2; // this continuation has ended
        continue;
      }
      int64_t next = child(at[m], h[c]);
      if (next < 0) {
        out[nodes] = h[c];
        par[nodes] = int32_t(at[m] + 1);
        next = nodes++;
      }
      at[m] = next;
    }
  return nodes;
}

extern "C" int64_t llmc_spec_accept_tree(
    LLMC_MEMREF1(int32_t, draft), LLMC_MEMREF1(int32_t, parents),
    int64_t count, LLMC_MEMREF2(float, logits), double temperature,
    int64_t topK, double topP, int64_t seed, LLMC_MEMREF1(int32_t, path),
    LLMC_MEMREF1(int32_t, tokens)) {
  (void)draftAllocated, (void)parentsAllocated, (void)logitsAllocated,
      (void)pathAllocated, (void)tokensAllocated;
  Ids d{draft + draftOffset, draftSize, draftStride};
  Ids par{parents + parentsOffset, parentsSize, parentsStride};
  Ids rowsOut{path + pathOffset, pathSize, pathStride};
  Ids out{tokens + tokensOffset, tokensSize, tokensStride};
  for (int64_t i = 0; i < out.size; ++i)
    out[i] = 0;
  for (int64_t i = 0; i < rowsOut.size; ++i)
    rowsOut[i] = 0;
  if (logitsRows < 1 || logitsCols < 1 || out.size < 1 || rowsOut.size < 1)
    return 0;
  count = std::clamp<int64_t>(
      count, 0, std::min({d.size, par.size, logitsRows - 1}));
  const float *rows = logits + logitsOffset;
  auto row = [&](int64_t r) { return rows + r * logitsRowStride; };
  bool greedy = !(temperature > 0.0) || topK == 1;
  thread_local llmc::runtime::TokenDistribution p;
  thread_local std::vector<double> residual;
  llmc::runtime::SplitMix rng{uint64_t(seed)};
  // node: the draft index whose row we are at (-1: the root, row 0).
  int64_t node = -1, emitted = 0;
  while (emitted < out.size) {
    int64_t r = node + 1;
    rowsOut[std::min(emitted, rowsOut.size - 1)] = int32_t(r);
    int64_t next = -1;
    int32_t token = 0;
    if (greedy) {
      const float *x = row(r);
      int32_t best = 0;
      for (int64_t v = 1; v < logitsCols; ++v)
        if (x[v * logitsColStride] > x[best * logitsColStride])
          best = int32_t(v);
      token = best;
      for (int64_t c = node + 1; c < count && next < 0; ++c)
        if (par[c] == r && d[c] == token)
          next = c;
    } else {
      // Children are distinct tokens, each proposed with probability 1:
      // try them in order, each kept with its probability under what the
      // earlier rejections left; if all are rejected, draw from the rest.
      p.compute(row(r), logitsCols, logitsColStride, temperature, topK, topP);
      residual.assign(p.weights.begin(), p.weights.begin() + p.size);
      double total = p.total;
      for (int64_t c = node + 1; c < count && next < 0; ++c) {
        if (par[c] != r)
          continue;
        double w = 0;
        size_t at = 0;
        for (; at < p.size; ++at)
          if (p.candidates[at].second == d[c]) {
            w = residual[at];
            break;
          }
        if (w > 0 && rng.uniform() * total < w) {
          next = c;
          token = d[c];
        } else if (w > 0) {
          total -= w;
          residual[at] = 0;
        }
      }
      if (next < 0) {
        double draw = rng.uniform() * total;
        token = p.candidates[p.size - 1].second;
        for (size_t i = 0; i < p.size; ++i) {
          if (residual[i] <= 0)
            continue;
          token = p.candidates[i].second;
          draw -= residual[i];
          if (draw <= 0)
            break;
        }
      }
    }
    out[emitted++] = token;
    if (next < 0)
      break;
    node = next;
  }
  return emitted;
}
