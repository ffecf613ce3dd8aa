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
//    the KV head), ties to the older position;
//  - SnapKV: a prompt longer than the budget is compressed once, after it
//    has been attended in full: the last `observe` prompt rows vote (their
//    attention, pooled over neighbouring positions) for the earlier
//    positions, and the sinks, the `heavy` most voted and the observation
//    window are kept. The sinks and the voted positions are pinned (score 1)
//    for the rest of the sequence; later positions replace the oldest
//    unpinned one, like a window over what the prompt did not pin.
//
// Every choice depends on the attention of the rows before it (H2O), so the
// rows of a call are processed in order, each exactly as a call of that row
// alone would; the KV heads are independent and split over the thread pool.
// Slots are unordered, so a row scores all the slots in use into a buffer,
// normalizes them (the probabilities are what H2O accumulates and SnapKV
// votes with) and then sums the values; the query heads of a KV head (GQA)
// share each key and value read.
//
// A cache with an undo log (`rollback<N>`, a region that ends in the
// layer's log) records what each row overwrites before it does: per KV head
// the slot it takes with that slot's old contents and, under H2O, every
// slot's old mass. llmc_kv_rollback_evict and a call at a position below the
// layer's length replay the log backwards, which restores the layer's bytes
// exactly (speculative decoding's rejected drafts).
//
//===----------------------------------------------------------------------===//

#include "KVCodec.h"
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
using namespace llmc::kernels::kv;
using llmc::runtime::EvictLayout;

namespace {

enum class Policy : int64_t { Window = 0, H2O = 1, SnapKV = 2 };

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
  int64_t observe, pool; // SnapKV only
  float *out;
  int64_t outStride;
  const UndoLogView *log; // the layer's log, if any

  int64_t group() const { return heads / layout.kvHeads; }
  /// Whether this call is a SnapKV prompt to compress: it starts the
  /// sequence and brings more positions than the budget holds.
  bool selectsPrompt() const {
    return policy == Policy::SnapKV && pos == 0 && rows > budget;
  }
};

/// The four arrays of one KV head of the layer.
struct HeadCache {
  float *keys, *values;
  int32_t *positions;
  float *scores;
};

HeadCache headCache(const EvictLayout &l, uint8_t *cache, int64_t layer,
                    int64_t kvHead) {
  uint8_t *head = cache + l.headOffset(layer, kvHead);
  return {reinterpret_cast<float *>(head + l.keysOffset()),
          reinterpret_cast<float *>(head + l.valuesOffset()),
          reinterpret_cast<int32_t *>(head + l.positionsOffset()),
          reinterpret_cast<float *>(head + l.scoresOffset())};
}

HeadCache headCache(const Evict &p, int64_t kvHead) {
  return headCache(p.layout, p.cache, p.layer, kvHead);
}

/// Where KV head kvHead's part of the log entry of `position` starts.
uint8_t *headEntry(const EvictLayout &l, int64_t layer, const UndoLogView &log,
                   int64_t position, int64_t kvHead) {
  return log.entry(position) + kvHead * l.headEntryBytes(l.slotsOf(layer));
}

/// Logs what inserting a position into `slot` of a head is about to
/// overwrite (EvictLayout's entry).
void logInsert(const EvictLayout &l, int64_t layer, const UndoLogView &log,
               int64_t position, int64_t kvHead, const HeadCache &c,
               int64_t slot) {
  int64_t d = l.headDim;
  int32_t slot32 = int32_t(slot);
  uint8_t *e = headEntry(l, layer, log, position, kvHead);
  e = put(e, &slot32, 4);
  e = put(e, c.positions + slot, 4);
  e = put(e, c.scores + slot, 4);
  e = put(e, c.keys + slot * d, size_t(d) * 4);
  e = put(e, c.values + slot * d, size_t(d) * 4);
  if (l.undoScores)
    put(e, c.scores, size_t(l.slotsOf(layer)) * 4);
}

/// Undoes what `position` changed in every KV head of `layer`.
void undoPosition(const EvictLayout &l, uint8_t *cache, int64_t layer,
                  const UndoLogView &log, int64_t position) {
  int64_t d = l.headDim;
  for (int64_t kvHead = 0; kvHead < l.kvHeads; ++kvHead) {
    HeadCache c = headCache(l, cache, layer, kvHead);
    const uint8_t *e = headEntry(l, layer, log, position, kvHead);
    int32_t slot;
    e = get(e, &slot, 4);
    if (slot < 0 || slot >= l.slotsOf(layer))
      continue; // never written by a kernel
    e = get(e, c.positions + slot, 4);
    e = get(e, c.scores + slot, 4);
    e = get(e, c.keys + slot * d, size_t(d) * 4);
    e = get(e, c.values + slot * d, size_t(d) * 4);
    if (l.undoScores)
      get(e, c.scores, size_t(l.slotsOf(layer)) * 4);
  }
}

/// Keys and values one row attends over: n of each, `keyStride` and
/// `valueStride` floats apart (the cache's slots, or a prompt's input rows
/// while SnapKV attends to it in full).
struct KeyValues {
  const float *keys, *values;
  int64_t keyStride, valueStride;
};

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

/// The SnapKV victim among slots [0, count): the oldest position that is
/// neither a sink nor pinned by a prompt selection (score != 0); the window
/// rule if there is none. After a selection the observation window (at
/// least one slot) is unpinned and every new position enters unpinned, so
/// the fallback only matters for sinks >= budget.
int64_t snapVictim(const HeadCache &c, int64_t count, int64_t sinks) {
  int64_t victim = -1;
  for (int64_t s = 0; s < count; ++s) {
    int32_t position = c.positions[s];
    if (position < sinks || c.scores[s] != 0.0f)
      continue;
    if (victim < 0 || position < c.positions[victim])
      victim = s;
  }
  return victim >= 0 ? victim : windowVictim(c, count, sinks);
}

/// Attention of row t for the query heads of KV head `kvHead` over the n
/// keys and values of `kv`. `probs` holds group * n floats: on return, the
/// probabilities of head i at probs[i * n].
void attendRow(const Evict &p, const KeyValues &kv, int64_t kvHead, int64_t t,
               int64_t n, float *probs) {
  int64_t d = p.layout.headDim, firstHead = kvHead * p.group();
  attendExact(p.q + t * p.qStride + firstHead * d, p.group(), d, kv.keys,
              kv.keyStride, kv.values, kv.valueStride, n, p.scale, probs,
              p.out + t * p.outStride + firstHead * d);
}

/// SnapKV on a prompt of T = rows > budget positions starting at 0: every
/// row attends causally over the prompt's own rows (nothing is evicted
/// while the prompt runs), the last `observe` rows vote, and the selection
/// fills slots [0, budget) in increasing position order.
void selectPrompt(const Evict &p, int64_t kvHead) {
  int64_t d = p.layout.headDim, group = p.group(), rows = p.rows;
  int64_t observed = rows - p.observe; // positions that can be voted out
  int64_t heavy = p.budget - p.sinks - p.observe;
  // probs (group x T), then the votes and the pooled votes (one per
  // votable position); the candidates' positions in a buffer of their own.
  size_t probsSize = size_t(group * rows);
  float *probs = scratch<float>(probsSize + 2 * size_t(observed));
  float *votes = probs + probsSize, *pooled = votes + observed;
  int32_t *order = scratch<int32_t>(size_t(observed));
  std::fill(votes, votes + observed, 0.0f);
  KeyValues input{p.k + kvHead * d, p.v + kvHead * d, p.kStride, p.vStride};
  for (int64_t t = 0; t < rows; ++t) {
    attendRow(p, input, kvHead, t, t + 1, probs);
    // Row t's probabilities over the votable positions are the first
    // `observed` of each head's t + 1 (t >= observed here).
    if (t >= observed)
      for (int64_t i = 0; i < group; ++i)
        for (int64_t s = 0; s < observed; ++s)
          votes[s] += probs[i * (t + 1) + s];
  }
  // Max-pooling spreads a vote over its neighbours, so that the positions
  // around a strongly attended one (the rest of its phrase) are kept too.
  int64_t half = p.pool / 2;
  for (int64_t s = 0; s < observed; ++s) {
    int64_t first = std::max<int64_t>(0, s - half);
    int64_t last = std::min(observed - 1, s + half);
    pooled[s] = *std::max_element(votes + first, votes + last + 1);
  }
  // The `heavy` best candidates in [sinks, observed) (more than heavy of
  // them since rows > budget), ties to the older, back in position order.
  int64_t candidates = observed - p.sinks;
  for (int64_t i = 0; i < candidates; ++i)
    order[i] = int32_t(p.sinks + i);
  auto better = [&](int32_t a, int32_t b) {
    return pooled[a] > pooled[b] || (pooled[a] == pooled[b] && a < b);
  };
  std::nth_element(order, order + heavy, order + candidates, better);
  std::sort(order, order + heavy);
  // Sinks, heavy positions, observation window: increasing positions.
  HeadCache c = headCache(p, kvHead);
  auto store = [&](int64_t slot, int64_t position, float pin) {
    std::memcpy(c.keys + slot * d, p.k + position * p.kStride + kvHead * d,
                size_t(d) * sizeof(float));
    std::memcpy(c.values + slot * d, p.v + position * p.vStride + kvHead * d,
                size_t(d) * sizeof(float));
    c.positions[slot] = int32_t(position);
    c.scores[slot] = pin;
  };
  int64_t slot = 0;
  for (int64_t s = 0; s < p.sinks; ++s)
    store(slot++, s, 1.0f);
  for (int64_t i = 0; i < heavy; ++i)
    store(slot++, order[i], 1.0f);
  for (int64_t s = observed; s < rows; ++s)
    store(slot++, s, 0.0f);
}

/// Inserts the call's rows into KV head kvHead, one at a time, each
/// followed by its attention (the next row's victim depends on it).
void processHead(const Evict &p, int64_t kvHead) {
  if (p.selectsPrompt()) {
    selectPrompt(p, kvHead);
    return;
  }
  const EvictLayout &l = p.layout;
  int64_t d = l.headDim;
  // Sized for the largest budget any layer can have.
  float *probs = scratch<float>(size_t(p.group() * l.slots));
  HeadCache c = headCache(p, kvHead);
  KeyValues held{c.keys, c.values, d, d};
  for (int64_t t = 0; t < p.rows; ++t) {
    int64_t query = p.pos + t, count = std::min(query, p.budget);
    int64_t slot = count;
    if (count == p.budget) {
      if (p.policy == Policy::H2O)
        slot = heavyHitterVictim(c, count, p.sinks, p.recent, query);
      else if (p.policy == Policy::SnapKV)
        slot = snapVictim(c, count, p.sinks);
      else
        slot = windowVictim(c, count, p.sinks);
    }
    if (*p.log)
      logInsert(l, p.layer, *p.log, query, kvHead, c, slot);
    std::memcpy(c.keys + slot * d, p.k + t * p.kStride + kvHead * d,
                size_t(d) * sizeof(float));
    std::memcpy(c.values + slot * d, p.v + t * p.vStride + kvHead * d,
                size_t(d) * sizeof(float));
    c.positions[slot] = int32_t(query);
    c.scores[slot] = 0.0f;
    int64_t n = std::min(query + 1, p.budget);
    attendRow(p, held, kvHead, t, n, probs);
    // Only H2O reads the scores as attention mass; the window policy leaves
    // them 0 and SnapKV keeps them as pins.
    if (p.policy == Policy::H2O)
      addMass(c.scores, probs, p.group(), n);
  }
}

/// Work items [begin, end) are KV heads.
void headRange(const void *context, int64_t begin, int64_t end) {
  const auto &p = *static_cast<const Evict *>(context);
  for (int64_t kvHead = begin; kvHead < end; ++kvHead)
    processHead(p, kvHead);
}

/// Whether `policy`'s own parameters are consistent. SnapKV needs an
/// observation window, an odd (centred) pooling width and at least one
/// heavy position besides the sinks and the window; the other policies
/// ignore observe and pool.
bool validPolicy(int64_t policy, int64_t sinks, int64_t budget, int64_t observe,
                 int64_t pool) {
  switch (Policy(policy)) {
  case Policy::Window:
  case Policy::H2O:
    return true;
  case Policy::SnapKV:
    return observe >= 1 && pool >= 1 && pool % 2 == 1 &&
           sinks < budget - observe;
  }
  return false;
}

} // namespace

extern "C" void llmc_attention_evict(
    LLMC_MEMREF2(float, q), LLMC_MEMREF2(float, k), LLMC_MEMREF2(float, v),
    LLMC_MEMREF1(uint8_t, cache), int64_t layer, int64_t pos, int64_t heads,
    float scale, int64_t layers, int64_t kvHeads, int64_t slots,
    int64_t headDim, int64_t policy, int64_t sinks, int64_t recent,
    int64_t budget, int64_t observe, int64_t pool, LLMC_MEMREF2(float, out)) {
  (void)qAllocated, (void)qColStride, (void)kAllocated, (void)kColStride,
      (void)vAllocated, (void)vColStride, (void)cacheAllocated,
      (void)cacheStride, (void)outAllocated, (void)outColStride;
  EvictLayout layout{layers, kvHeads, slots, headDim};
  int64_t rows = qRows, c = kvHeads * headDim;
  uint8_t *base = cache + cacheOffset;
  // The compiler only emits valid calls; these checks keep a bad one from
  // reading or writing out of bounds (the outputs are left as they were).
  // Positions are stored as i32.
  bool valid = policy >= int64_t(Policy::Window) &&
               policy <= int64_t(Policy::SnapKV) && kvHeads > 0 &&
               headDim > 0 && heads > 0 && heads % kvHeads == 0 && layer >= 0 &&
               layer < layers && slots > 0 && budget >= 1 && budget <= slots &&
               sinks >= 0 && recent >= 0 &&
               validPolicy(policy, sinks, budget, observe, pool) && pos >= 0 &&
               rows >= 0 && pos + rows <= std::numeric_limits<int32_t>::max() &&
               kRows >= rows && vRows >= rows && kCols >= c && vCols >= c &&
               qCols >= heads * headDim && outRows >= rows &&
               outCols >= heads * headDim && cacheSize >= layout.totalBytes() &&
               reinterpret_cast<uintptr_t>(base) % alignof(float) == 0;
  if (!valid)
    return;
  // A buffer as long as the layout with a log of some depth has that log.
  layout.undoScores = Policy(policy) == Policy::H2O;
  layout.undoDepth = undoDepthFor(layout, cacheSize);
  UndoLogView log(base + layout.layerOffset(layer) + layout.undoOffsetOf(layer),
                  layout.undoLogOf(layer));
  log.rewind(pos, [&](int64_t position) {
    undoPosition(layout, base, layer, log, position);
  });
  Evict p{layout,       base,       layer,      q + qOffset,    k + kOffset,
          v + vOffset,  qRowStride, kRowStride, vRowStride,     rows,
          pos,          heads,      scale,      Policy(policy), sinks,
          recent,       budget,     observe,    pool,           out + outOffset,
          outRowStride, &log};
  // Keys a row attends over, on average: a SnapKV prompt attends in full.
  bool prompt = p.selectsPrompt();
  double keys =
      prompt ? double(rows + 1) / 2 : double(std::min(pos + rows, budget));
  double work = double(heads) * double(rows) * keys * double(headDim) * 4;
  parallelFor(kvHeads, /*grain=*/1, work, headRange, &p);
  if (prompt) {
    log.forget(pos + rows);
  } else {
    for (int64_t t = 0; t < rows; ++t)
      log.added(pos + t);
  }
  log.store();
}

extern "C" void llmc_kv_rollback_evict(LLMC_MEMREF1(uint8_t, cache),
                                       int64_t count, int64_t layers,
                                       int64_t kvHeads, int64_t headDim,
                                       int64_t policy, int64_t depth,
                                       LLMC_MEMREF1(int64_t, layerSlots)) {
  (void)cacheAllocated, (void)cacheStride, (void)layerSlotsAllocated;
  if (count <= 0 || layers < 1 || kvHeads < 1 || headDim < 1 ||
      policy < int64_t(Policy::Window) || policy > int64_t(Policy::SnapKV) ||
      depth < 1 || depth > llmc::runtime::UndoLog::kMaxDepth ||
      layerSlotsSize < layers)
    return;
  // Reused, so that the per-layer slot list allocates only once.
  thread_local EvictLayout layout;
  layout.layers = layers;
  layout.kvHeads = kvHeads;
  layout.headDim = headDim;
  layout.slots = 0;
  layout.layerSlots.clear();
  for (int64_t l = 0; l < layers; ++l) {
    int64_t slots = layerSlots[layerSlotsOffset + l * layerSlotsStride];
    if (slots < 1)
      return;
    layout.layerSlots.push_back(slots);
    layout.slots = std::max(layout.slots, slots);
  }
  layout.undoDepth = depth;
  layout.undoScores = Policy(policy) == Policy::H2O;
  uint8_t *base = cache + cacheOffset;
  if (cacheSize < layout.totalBytes() ||
      reinterpret_cast<uintptr_t>(base) % alignof(float) != 0)
    return;
  auto logOf = [&](int64_t l) {
    return UndoLogView(base + layout.layerOffset(l) + layout.undoOffsetOf(l),
                       layout.undoLogOf(l));
  };
  rollBackLayers(layers, count, logOf, [&](int64_t l, UndoLogView &log) {
    // The layer alone, as its attention kernel sees it (the head arrays'
    // offsets depend on the layer's own slot count).
    EvictLayout one{1,  kvHeads, layout.slotsOf(l), headDim,
                    {}, depth,   layout.undoScores};
    uint8_t *region = base + layout.layerOffset(l);
    return [&log, one, region](int64_t position) {
      undoPosition(one, region, 0, log, position);
    };
  });
}
