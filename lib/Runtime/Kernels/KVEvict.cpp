//===- KVEvict.cpp - attention over an f32 KV cache with eviction ---------===//
//
// Part of llmc. llmc_attention_evict runs causal attention over one layer of
// an f32 cache that holds at most `budget` positions per KV head (the layout
// of EvictLayout in include/llmc/Runtime/KVLayout.h). Each new position takes
// a free slot while there is one and otherwise replaces a victim chosen by
// the layer's policy:
//  - window (StreamingLLM): the oldest position that is not one of the
//    `sinks` first positions (the attention sinks), so the cache holds the
//    sinks and a window of the most recent positions;
//  - H2O (heavy hitters): among the positions that are neither sinks nor
//    one of the `recent` most recent, the one that has received the least
//    attention so far (the mass summed over every query and query head of
//    the KV head), ties to the older position.
//
// Every choice depends on the attention of the rows before it (H2O), so the
// rows of a call are processed in order; the KV heads are independent and
// split over the thread pool. Slots are unordered, so a row scores all the
// slots in use into a buffer, normalizes them (the probabilities are what
// H2O accumulates) and then sums the values; the query heads of a KV head
// (GQA) share each key and value read.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include "llmc/Runtime/KVLayout.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

using namespace llmc::kernels;
using llmc::runtime::EvictLayout;

namespace {

enum class Policy : int64_t { Window = 0, H2O = 1 };

/// One call's view of one layer of the cache and of the step's rows.
struct Evict {
  EvictLayout layout;
  uint8_t *cache; // the whole cache (EvictLayout offsets apply)
  int64_t layer;
  const float *q, *k, *v;
  int64_t qStride, kStride, vStride; // elements between rows
  int64_t rows, pos, heads;
  float scale;
  Policy policy;
  int64_t sinks, recent, budget;
  float *out;
  int64_t outStride;
};

/// The four arrays of one KV head of the layer.
struct HeadCache {
  float *keys, *values;
  int32_t *positions;
  float *scores;
};

HeadCache headCache(const Evict &p, int64_t kvHead) {
  const EvictLayout &l = p.layout;
  uint8_t *head = p.cache + l.headOffset(p.layer, kvHead);
  return {reinterpret_cast<float *>(head + l.keysOffset()),
          reinterpret_cast<float *>(head + l.valuesOffset()),
          reinterpret_cast<int32_t *>(head + l.positionsOffset()),
          reinterpret_cast<float *>(head + l.scoresOffset())};
}

/// The window victim among slots [0, count): the oldest position that is
/// not a sink. When every slot holds a sink (sinks >= budget, which the
/// compiler never emits) the newest one goes instead, so that the oldest
/// budget - 1 sinks stay and every row still attends to itself.
int64_t windowVictim(const HeadCache &c, int64_t count, int64_t sinks) {
  int64_t victim = -1, newest = 0;
  for (int64_t s = 0; s < count; ++s) {
    int32_t position = c.positions[s];
    if (position >= sinks && (victim < 0 || position < c.positions[victim]))
      victim = s;
    if (position > c.positions[newest])
      newest = s;
  }
  return victim >= 0 ? victim : newest;
}

/// The H2O victim among slots [0, count) when position `query` arrives: the
/// least attended position outside the sinks and the `recent` positions
/// before `query`, ties to the older one; the window rule if there is none
/// (sinks + recent >= budget, which the compiler never emits).
int64_t heavyHitterVictim(const HeadCache &c, int64_t count, int64_t sinks,
                          int64_t recent, int64_t query) {
  int64_t victim = -1;
  for (int64_t s = 0; s < count; ++s) {
    int32_t position = c.positions[s];
    if (position < sinks || position >= query - recent)
      continue;
    if (victim < 0 || c.scores[s] < c.scores[victim] ||
        (c.scores[s] == c.scores[victim] && position < c.positions[victim]))
      victim = s;
  }
  return victim >= 0 ? victim : windowVictim(c, count, sinks);
}

/// Attention of row t for the query heads of KV head `kvHead` over slots
/// [0, n), which hold the row's own position and n - 1 earlier ones. `probs`
/// holds group * n floats: the probabilities of head i at probs[i * n].
void attendRow(const Evict &p, const HeadCache &c, int64_t kvHead, int64_t t,
               int64_t n, float *probs) {
  int64_t d = p.layout.headDim, group = p.heads / p.layout.kvHeads;
  int64_t firstHead = kvHead * group;
  const float *q = p.q + t * p.qStride + firstHead * d;
  float *out = p.out + t * p.outStride + firstHead * d;
  for (int64_t s = 0; s < n; ++s) {
    const float *key = c.keys + s * d;
    for (int64_t i = 0; i < group; ++i) {
      float score = 0.0f;
      for (int64_t j = 0; j < d; ++j)
        score += q[i * d + j] * key[j];
      probs[i * n + s] = score * p.scale;
    }
  }
  for (int64_t i = 0; i < group; ++i) {
    float *x = probs + i * n;
    float m = *std::max_element(x, x + n), l = 0.0f;
    for (int64_t s = 0; s < n; ++s) {
      x[s] = std::exp(x[s] - m);
      l += x[s];
    }
    float inv = 1.0f / l; // l >= 1: the maximum contributes exp(0)
    for (int64_t s = 0; s < n; ++s)
      x[s] *= inv;
  }
  std::fill(out, out + group * d, 0.0f);
  for (int64_t s = 0; s < n; ++s) {
    const float *value = c.values + s * d;
    for (int64_t i = 0; i < group; ++i) {
      float w = probs[i * n + s];
      for (int64_t j = 0; j < d; ++j)
        out[i * d + j] += w * value[j];
    }
  }
  // The window policy never reads the scores, so it does not keep them.
  if (p.policy != Policy::H2O)
    return;
  for (int64_t s = 0; s < n; ++s) {
    float mass = 0.0f;
    for (int64_t i = 0; i < group; ++i)
      mass += probs[i * n + s];
    c.scores[s] += mass;
  }
}

/// Inserts the call's rows into KV head kvHead, one at a time, each
/// followed by its attention (the next row's victim depends on it).
void processHead(const Evict &p, int64_t kvHead) {
  const EvictLayout &l = p.layout;
  int64_t d = l.headDim, group = p.heads / l.kvHeads;
  // One buffer per thread, sized for the largest budget any layer can have:
  // it is allocated on a thread's first call and reused after that.
  thread_local std::vector<float> probs;
  size_t need = size_t(group * l.slots);
  if (probs.size() < need)
    probs.resize(need);
  HeadCache c = headCache(p, kvHead);
  for (int64_t t = 0; t < p.rows; ++t) {
    int64_t query = p.pos + t, count = std::min(query, p.budget);
    int64_t slot = count;
    if (count == p.budget)
      slot = p.policy == Policy::H2O
                 ? heavyHitterVictim(c, count, p.sinks, p.recent, query)
                 : windowVictim(c, count, p.sinks);
    std::memcpy(c.keys + slot * d, p.k + t * p.kStride + kvHead * d,
                size_t(d) * sizeof(float));
    std::memcpy(c.values + slot * d, p.v + t * p.vStride + kvHead * d,
                size_t(d) * sizeof(float));
    c.positions[slot] = int32_t(query);
    c.scores[slot] = 0.0f;
    attendRow(p, c, kvHead, t, std::min(query + 1, p.budget), probs.data());
  }
}

/// Work items [begin, end) are KV heads.
void headRange(const void *context, int64_t begin, int64_t end) {
  const auto &p = *static_cast<const Evict *>(context);
  for (int64_t kvHead = begin; kvHead < end; ++kvHead)
    processHead(p, kvHead);
}

} // namespace

extern "C" void
llmc_attention_evict(LLMC_MEMREF2(float, q), LLMC_MEMREF2(float, k),
                     LLMC_MEMREF2(float, v), LLMC_MEMREF1(uint8_t, cache),
                     int64_t layer, int64_t pos, int64_t heads, float scale,
                     int64_t layers, int64_t kvHeads, int64_t slots,
                     int64_t headDim, int64_t policy, int64_t sinks,
                     int64_t recent, int64_t budget, LLMC_MEMREF2(float, out)) {
  (void)qAllocated, (void)qColStride, (void)kAllocated, (void)kColStride,
      (void)vAllocated, (void)vColStride, (void)cacheAllocated,
      (void)cacheStride, (void)outAllocated, (void)outColStride;
  EvictLayout layout{layers, kvHeads, slots, headDim};
  int64_t rows = qRows, c = kvHeads * headDim;
  uint8_t *base = cache + cacheOffset;
  // The compiler only emits valid calls; these checks keep a bad one from
  // reading or writing out of bounds (the outputs are left as they were).
  // Positions are stored as i32.
  bool valid =
      (policy == int64_t(Policy::Window) || policy == int64_t(Policy::H2O)) &&
      kvHeads > 0 && headDim > 0 && heads > 0 && heads % kvHeads == 0 &&
      layer >= 0 && layer < layers && slots > 0 && budget >= 1 &&
      budget <= slots && sinks >= 0 && recent >= 0 && pos >= 0 && rows >= 0 &&
      pos + rows <= std::numeric_limits<int32_t>::max() && kRows >= rows &&
      vRows >= rows && kCols >= c && vCols >= c && qCols >= heads * headDim &&
      outRows >= rows && outCols >= heads * headDim &&
      cacheSize >= layout.totalBytes() &&
      reinterpret_cast<uintptr_t>(base) % alignof(float) == 0;
  if (!valid)
    return;
  Evict p{layout,      base,       layer,           q + qOffset,    k + kOffset,
          v + vOffset, qRowStride, kRowStride,      vRowStride,     rows,
          pos,         heads,      scale,           Policy(policy), sinks,
          recent,      budget,     out + outOffset, outRowStride};
  double work = double(heads) * double(rows) *
                double(std::min(pos + rows, budget)) * double(headDim) * 4;
  parallelFor(kvHeads, /*grain=*/1, work, headRange, &p);
}
