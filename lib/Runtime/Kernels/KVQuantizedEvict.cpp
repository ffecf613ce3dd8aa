//===- KVQuantizedEvict.cpp - attention over a KIVI cache with eviction ---===//
//
// Part of llmc. llmc_attention_kivi_evict runs causal attention over one
// layer of a KIVI cache under an eviction policy (the layout of
// KiviEvictLayout in include/llmc/Runtime/KVLayout.h): the sinks in full
// precision, a pool of quantized token groups and KIVI's full-precision
// residual ring. Eviction works on whole token groups, since a key record
// quantizes a channel over the G positions of a group together. Whenever a
// group leaves the ring it is quantized into a free pool slot, or, with the
// pool full, the layer's policy chooses a victim among the pooled groups
// and the incoming one:
//  - window (StreamingLLM): the oldest group, so the layer keeps the sinks
//    and the most recent positions;
//  - H2O: the group with the least attention mass received so far (summed
//    over its positions, the query heads and the queries; ties to the
//    older), the incoming group included; the ring is the recent window;
//  - SnapKV: a prompt whose groups do not all fit is compressed once after
//    it has been attended in full: the last `observe` rows vote for the
//    earlier positions, the votes are max-pooled over `pool` neighbours and
//    summed per group, and the best groups fill the pool, pinned. Later
//    groups replace the oldest unpinned one or, when every slot is pinned,
//    are dropped as they leave the ring.
//
// Decisions are per layer (all KV heads keep the same groups: a value
// record may span the channels of several KV heads). Every row is inserted,
// then attends, before the next (an H2O victim depends on the attention of
// the rows before it); the head blocks of a row are split over the thread
// pool. Each row scores every held position into a buffer (sinks and ring
// exact, groups straight from the key codes as in llmc_attention_kivi),
// normalizes them, adds the probabilities to the H2O masses and sums the
// values, reading value records in place. A call of T rows (a SnapKV
// prompt aside) is exactly T one-row calls.
//
// A cache with an undo log (`rollback<N>`, the end of the layer's region)
// records, before each row, the sink or ring row it overwrites and every
// ring and pool mass (the row's attention adds to all of them), and for a
// flush the pool slot it takes with that slot's old records and first
// position. llmc_kv_rollback_kivi_evict and a call at a position below the
// layer's length replay the log backwards, restoring the bytes exactly.
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

using namespace llmc::kernels;
using namespace llmc::kernels::kv;
using llmc::runtime::KiviEvictLayout;
using llmc::runtime::KiviLayout;

namespace {

enum class Policy : int64_t { Window = 0, H2O = 1, SnapKV = 2 };

/// One call's view of one layer of the cache and of the step's rows.
struct KiviEvict {
  KiviEvictLayout layout;
  KiviLayout pool; // the layer's quantized sections and ring
  int64_t groups;  // pool slots of the layer
  uint8_t *keys, *values;
  float *ring, *sinkRows, *ringScores, *groupScores;
  int32_t *firsts;
  const float *q, *k, *v;
  int64_t qStride, kStride, vStride; // elements between rows
  int64_t rows, pos, heads;
  float scale;
  Policy policy;
  int64_t observe, poolWidth; // SnapKV only
  float *out;
  int64_t outStride;
  const UndoLogView *log; // the layer's log, if any

  int64_t channels() const { return layout.channels(); }
  int64_t group() const { return layout.group; }
  int64_t sinks() const { return layout.sinks; }
  int64_t recordBytes() const { return pool.recordBytes(); }
  /// Positions past the sinks after `len` positions.
  int64_t streamLength(int64_t len) const {
    return std::max<int64_t>(0, len - sinks());
  }
  /// Token groups flushed out of the ring after `len` positions.
  int64_t flushedGroups(int64_t len) const {
    return pool.quantizedCount(streamLength(len)) / group();
  }
  /// Pool slots in use after `len` positions (slots fill in order, and a
  /// full pool stays full).
  int64_t usedSlots(int64_t len) const {
    return std::min(flushedGroups(len), groups);
  }
  float *ringRow(int64_t stream) const {
    return ring + stream % pool.ringSlots() * 2 * channels();
  }
  float *sinkRow(int64_t position) const {
    return sinkRows + position * 2 * channels();
  }
  uint8_t *keyRecords(int64_t slot) const {
    return keys + slot * channels() * recordBytes();
  }
  /// The value records of position i of pool slot `slot`.
  uint8_t *valueRecords(int64_t slot, int64_t i) const {
    return values +
           (slot * group() + i) * (channels() / group()) * recordBytes();
  }
  /// Whether this call is a SnapKV prompt to compress: it starts the
  /// sequence and flushes more groups than the pool holds.
  bool selectsPrompt() const {
    return policy == Policy::SnapKV && pos == 0 && flushedGroups(rows) > groups;
  }
};

/// The slot the group leaving the ring (attention mass `mass`) replaces when
/// the pool is full, or -1 if the incoming group itself is evicted.
int64_t victim(const KiviEvict &p, float mass) {
  int64_t best = -1;
  for (int64_t s = 0; s < p.groups; ++s) {
    bool older = best < 0 || p.firsts[s] < p.firsts[best];
    switch (p.policy) {
    case Policy::Window:
      if (older)
        best = s;
      break;
    case Policy::H2O:
      if (best < 0 || p.groupScores[s] < p.groupScores[best] ||
          (p.groupScores[s] == p.groupScores[best] && older))
        best = s;
      break;
    case Policy::SnapKV:
      if (p.groupScores[s] == 0.0f && older)
        best = s;
      break;
    }
  }
  // H2O keeps the incoming group when it ties the least attended (the
  // older one goes).
  if (p.policy == Policy::H2O && best >= 0 && mass < p.groupScores[best])
    return -1;
  return best;
}

/// Quantizes token group `index` of the stream (its G positions are in the
/// ring) into the pool: a free slot, else the victim's, else nowhere.
void flush(const KiviEvict &p, int64_t index) {
  int64_t g = p.group(), first = index * g, c = p.channels();
  float mass = 0.0f;
  for (int64_t i = 0; i < g; ++i)
    mass += p.ringScores[(first + i) % p.pool.ringSlots()];
  int64_t slot = index < p.groups ? index : victim(p, mass);
  if (p.log && *p.log) {
    int32_t save[2] = {int32_t(slot), slot >= 0 ? p.firsts[slot] : 0};
    uint8_t *to = put(p.log->flushSave(index), save, sizeof(save));
    if (slot >= 0) {
      int64_t records = p.pool.groupRecordBytes();
      to = put(to, p.keyRecords(slot), size_t(records));
      put(to, p.valueRecords(slot, 0), size_t(records));
    }
  }
  if (slot < 0)
    return;
  quantizeGroup([&](int64_t i) { return p.ringRow(first + i); },
                [&](int64_t i) { return p.ringRow(first + i) + c; }, c, g,
                int(p.pool.bits), p.recordBytes(), p.keyRecords(slot),
                p.valueRecords(slot, 0));
  p.firsts[slot] = int32_t(p.sinks() + first);
  p.groupScores[slot] = p.policy == Policy::H2O ? mass : 0.0f;
}

/// Stores row t of the call (position pos + t) and flushes the group that
/// leaves the ring with it, if any.
void insert(const KiviEvict &p, int64_t t) {
  int64_t position = p.pos + t, c = p.channels();
  const float *key = p.k + t * p.kStride, *value = p.v + t * p.vStride;
  float *row;
  if (position < p.sinks()) {
    row = p.sinkRow(position);
  } else {
    int64_t stream = position - p.sinks();
    row = p.ringRow(stream);
    p.ringScores[stream % p.pool.ringSlots()] = 0.0f;
  }
  std::memcpy(row, key, size_t(c) * sizeof(float));
  std::memcpy(row + c, value, size_t(c) * sizeof(float));
  if (position < p.sinks())
    return;
  int64_t stream = position - p.sinks();
  int64_t before = p.pool.quantizedCount(stream);
  if (p.pool.quantizedCount(stream + 1) > before)
    flush(p, before / p.group());
}

/// The positions row t attends over: the sinks, the used pool slots
/// (G positions each) and the ring's stream indices [ringFirst, stream).
struct Held {
  int64_t sinks, slots, ringFirst, stream;
  int64_t count(int64_t g) const {
    return sinks + slots * g + (stream - ringFirst);
  }
};

Held held(const KiviEvict &p, int64_t t) {
  int64_t len = p.pos + t + 1;
  return {std::min(p.sinks(), len), p.usedSlots(len),
          p.flushedGroups(len) * p.group(), p.streamLength(len)};
}

/// What the head blocks of one row share: the row, the positions held and
/// the per-block attention masses (H2O only; block b at mass + b * n).
struct RowWork {
  const KiviEvict *p;
  int64_t t;
  Held held;
  int64_t n;
  float *mass;
};

/// Attention of row t for the heads of `block` over the held positions.
template <int B> void attendRow(const RowWork &work, int64_t blockIndex) {
  const KiviEvict &p = *work.p;
  HeadBlock block = headBlock(p.heads, p.layout.kvHeads, blockIndex);
  int64_t d = p.layout.headDim, g = p.group(), c = p.channels();
  int64_t record = p.recordBytes(), c0 = block.kvHead * d, nh = block.count;
  int64_t n = work.n, t = work.t;
  const Held &h = work.held;
  const float *q = p.q + t * p.qStride + block.first * d;
  float *out = p.out + t * p.outStride + block.first * d;
  float *probs = scratch<float, 1>(size_t(nh * n));
  auto scoreExact = [&](const float *key, int64_t s) {
    for (int64_t i = 0; i < nh; ++i) {
      float score = 0.0f;
      for (int64_t j = 0; j < d; ++j)
        score += q[i * d + j] * key[j];
      probs[i * n + s] = score * p.scale;
    }
  };
  for (int64_t s = 0; s < h.sinks; ++s)
    scoreExact(p.sinkRow(s) + c0, s);
  const float *qs[kHeadBlock];
  float *outs[kHeadBlock];
  for (int64_t i = 0; i < nh; ++i) {
    qs[i] = q + i * d;
    outs[i] = out + i * d;
  }
  float tile[kHeadBlock][kChunk];
  for (int64_t slot = 0; slot < h.slots; ++slot) {
    keyGroupScores<B>(p.keyRecords(slot) + c0 * record, record, d, qs, nh, 0,
                      g, tile);
    int64_t s0 = h.sinks + slot * g;
    for (int64_t i = 0; i < nh; ++i)
      for (int64_t x = 0; x < g; ++x)
        probs[i * n + s0 + x] = tile[i][x] * p.scale;
  }
  int64_t r0 = h.sinks + h.slots * g;
  for (int64_t u = h.ringFirst; u < h.stream; ++u)
    scoreExact(p.ringRow(u) + c0, r0 + u - h.ringFirst);
  for (int64_t i = 0; i < nh; ++i)
    softmaxInPlace(probs + i * n, n);
  if (work.mass)
    addMass(work.mass + blockIndex * n, probs, nh, n);
  std::fill(out, out + nh * d, 0.0f);
  float w[kHeadBlock];
  auto addExact = [&](const float *value, int64_t s) {
    for (int64_t i = 0; i < nh; ++i)
      for (int64_t j = 0; j < d; ++j)
        out[i * d + j] += probs[i * n + s] * value[j];
  };
  for (int64_t s = 0; s < h.sinks; ++s)
    addExact(p.sinkRow(s) + c + c0, s);
  for (int64_t slot = 0; slot < h.slots; ++slot)
    for (int64_t x = 0; x < g; ++x) {
      int64_t s = h.sinks + slot * g + x;
      for (int64_t i = 0; i < nh; ++i)
        w[i] = probs[i * n + s];
      addValueRecords<B>(p.valueRecords(slot, x), record, g, c0, d, w, nh,
                         outs);
    }
  for (int64_t u = h.ringFirst; u < h.stream; ++u)
    addExact(p.ringRow(u) + c + c0, r0 + u - h.ringFirst);
}

void rowRange(const void *context, int64_t begin, int64_t end) {
  const auto &work = *static_cast<const RowWork *>(context);
  for (int64_t block = begin; block < end; ++block)
    switch (work.p->pool.bits) {
    case 2:
      attendRow<2>(work, block);
      break;
    case 4:
      attendRow<4>(work, block);
      break;
    default:
      attendRow<8>(work, block);
      break;
    }
}

/// The sink or ring row position `position` is stored in.
float *rowOf(const KiviEvict &p, int64_t position) {
  return position < p.sinks() ? p.sinkRow(position)
                              : p.ringRow(position - p.sinks());
}

/// Logs what adding `position` is about to overwrite, but for a flush (which
/// logs itself once it has chosen its slot): its row and every mass.
void logPosition(const KiviEvict &p, int64_t position) {
  int64_t c = p.channels(), ringSlots = p.pool.ringSlots();
  uint8_t *e = p.log->entry(position);
  e = put(e, rowOf(p, position), size_t(2 * c) * sizeof(float));
  e = put(e, p.ringScores, size_t(ringSlots) * sizeof(float));
  put(e, p.groupScores, size_t(p.groups) * sizeof(float));
}

/// Restores what adding `position` changed.
void undoPosition(const KiviEvict &p, const UndoLogView &log,
                  int64_t position) {
  int64_t c = p.channels(), ringSlots = p.pool.ringSlots();
  const uint8_t *e = log.entry(position);
  e = get(e, rowOf(p, position), size_t(2 * c) * sizeof(float));
  e = get(e, p.ringScores, size_t(ringSlots) * sizeof(float));
  get(e, p.groupScores, size_t(p.groups) * sizeof(float));
  if (position < p.sinks())
    return;
  int64_t stream = position - p.sinks();
  int64_t before = p.pool.quantizedCount(stream);
  if (p.pool.quantizedCount(stream + 1) == before)
    return;
  int32_t save[2];
  const uint8_t *from =
      get(log.flushSave(before / p.group()), save, sizeof(save));
  if (save[0] < 0 || save[0] >= p.groups)
    return;
  int64_t records = p.pool.groupRecordBytes();
  p.firsts[save[0]] = save[1];
  from = get(from, p.keyRecords(save[0]), size_t(records));
  get(from, p.valueRecords(save[0], 0), size_t(records));
}

/// Inserts row t, attends it and, for H2O, adds its attention to the
/// masses of the ring slots and pool groups it attended.
void processRow(const KiviEvict &p, int64_t t) {
  if (p.log && *p.log)
    logPosition(p, p.pos + t);
  insert(p, t);
  Held h = held(p, t);
  int64_t n = h.count(p.group());
  int64_t blocks = headBlockCount(p.heads, p.layout.kvHeads);
  float *mass = nullptr;
  if (p.policy == Policy::H2O) {
    mass = scratch<float, 2>(size_t(blocks * n));
    std::fill(mass, mass + blocks * n, 0.0f);
  }
  RowWork work{&p, t, h, n, mass};
  double flops = double(p.heads) * double(n) * double(p.layout.headDim) * 4;
  parallelFor(blocks, /*grain=*/1, flops, rowRange, &work);
  if (!mass)
    return;
  int64_t g = p.group();
  for (int64_t b = 1; b < blocks; ++b)
    for (int64_t s = 0; s < n; ++s)
      mass[s] += mass[b * n + s];
  for (int64_t slot = 0; slot < h.slots; ++slot)
    for (int64_t x = 0; x < g; ++x)
      p.groupScores[slot] += mass[h.sinks + slot * g + x];
  int64_t r0 = h.sinks + h.slots * g;
  for (int64_t u = h.ringFirst; u < h.stream; ++u)
    p.ringScores[u % p.pool.ringSlots()] += mass[r0 + u - h.ringFirst];
}

/// SnapKV votes: the attention the last `observe` rows of a prompt pay to
/// the positions that may be dropped, [0, voteEnd), summed over the heads of
/// each block (block b's sums at votes + b * voteEnd). Every row attends in
/// full over the prompt, exactly.
struct PromptWork {
  const KiviEvict *p;
  int64_t voteEnd;
  float *votes;
};

void promptRange(const void *context, int64_t begin, int64_t end) {
  const auto &work = *static_cast<const PromptWork *>(context);
  const KiviEvict &p = *work.p;
  int64_t d = p.layout.headDim, rows = p.rows;
  for (int64_t b = begin; b < end; ++b) {
    HeadBlock block = headBlock(p.heads, p.layout.kvHeads, b);
    float *probs = scratch<float, 1>(size_t(block.count * rows));
    float *votes = work.votes + b * work.voteEnd;
    for (int64_t t = 0; t < rows; ++t) {
      int64_t n = t + 1;
      attendExact(p.q + t * p.qStride + block.first * d, block.count, d,
                  p.k + block.kvHead * d, p.kStride, p.v + block.kvHead * d,
                  p.vStride, n, p.scale, probs,
                  p.out + t * p.outStride + block.first * d);
      if (t >= rows - p.observe)
        for (int64_t i = 0; i < block.count; ++i)
          for (int64_t s = 0; s < std::min(n, work.voteEnd); ++s)
            votes[s] += probs[i * n + s];
    }
  }
}

/// SnapKV on a prompt of `rows` positions starting at 0 whose flushed
/// groups outnumber the pool: attends it in full, then keeps the sinks,
/// the best-voted groups (pinned, in position order) and the ring.
void selectPrompt(const KiviEvict &p) {
  int64_t g = p.group(), c = p.channels(), sinks = p.sinks();
  int64_t candidates = p.flushedGroups(p.rows);
  int64_t voteEnd = sinks + candidates * g;
  int64_t blocks = headBlockCount(p.heads, p.layout.kvHeads);
  float *votes = scratch<float, 2>(size_t((blocks + 1) * voteEnd));
  std::fill(votes, votes + blocks * voteEnd, 0.0f);
  PromptWork work{&p, voteEnd, votes};
  double flops = double(p.heads) * double(p.rows) * double(p.rows + 1) / 2 *
                 double(p.layout.headDim) * 4;
  parallelFor(blocks, /*grain=*/1, flops, promptRange, &work);
  for (int64_t b = 1; b < blocks; ++b)
    for (int64_t s = 0; s < voteEnd; ++s)
      votes[s] += votes[b * voteEnd + s];
  // Max-pool over the candidates' positions, then sum per group.
  float *pooled = votes + blocks * voteEnd;
  int64_t half = p.poolWidth / 2;
  for (int64_t s = sinks; s < voteEnd; ++s) {
    int64_t lo = std::max(sinks, s - half), hi = std::min(voteEnd - 1, s + half);
    pooled[s] = *std::max_element(votes + lo, votes + hi + 1);
  }
  int32_t *order = scratch<int32_t, 3>(size_t(candidates));
  float *groupVotes = scratch<float, 4>(size_t(candidates));
  for (int64_t f = 0; f < candidates; ++f) {
    order[f] = int32_t(f);
    groupVotes[f] = 0.0f;
    for (int64_t x = 0; x < g; ++x)
      groupVotes[f] += pooled[sinks + f * g + x];
  }
  auto better = [&](int32_t a, int32_t b) {
    return groupVotes[a] > groupVotes[b] ||
           (groupVotes[a] == groupVotes[b] && a < b);
  };
  std::nth_element(order, order + p.groups, order + candidates, better);
  std::sort(order, order + p.groups);
  for (int64_t slot = 0; slot < p.groups; ++slot) {
    int64_t first = sinks + int64_t(order[slot]) * g;
    quantizeGroup([&](int64_t i) { return p.k + (first + i) * p.kStride; },
                  [&](int64_t i) { return p.v + (first + i) * p.vStride; }, c,
                  g, int(p.pool.bits), p.recordBytes(), p.keyRecords(slot),
                  p.valueRecords(slot, 0));
    p.firsts[slot] = int32_t(first);
    p.groupScores[slot] = 1.0f;
  }
  for (int64_t position = 0; position < p.rows; ++position) {
    if (position >= sinks && position < voteEnd)
      continue;
    float *row = position < sinks ? p.sinkRow(position)
                                  : p.ringRow(position - sinks);
    std::memcpy(row, p.k + position * p.kStride, size_t(c) * sizeof(float));
    std::memcpy(row + c, p.v + position * p.vStride, size_t(c) * sizeof(float));
    if (position >= sinks)
      p.ringScores[(position - sinks) % p.pool.ringSlots()] = 0.0f;
  }
}

/// A layer's sections at `region` (a layer with `groups` pool slots), with
/// no rows: what the log's users address.
KiviEvict layerView(const KiviEvictLayout &layout, uint8_t *region,
                    int64_t groups) {
  KiviLayout poolLayout = layout.pool(groups);
  auto at = [&](int64_t offset) { return region + offset; };
  KiviEvict p{};
  p.layout = layout;
  p.pool = poolLayout;
  p.groups = groups;
  p.keys = at(poolLayout.keyOffset(0));
  p.values = at(poolLayout.valueOffset(0));
  p.ring = reinterpret_cast<float *>(at(poolLayout.ringOffset(0)));
  p.sinkRows = reinterpret_cast<float *>(at(layout.sinkOffset(groups)));
  p.ringScores = reinterpret_cast<float *>(at(layout.ringScoreOffset(groups)));
  p.groupScores =
      reinterpret_cast<float *>(at(layout.groupScoreOffset(groups)));
  p.firsts = reinterpret_cast<int32_t *>(at(layout.firstsOffset(groups)));
  return p;
}

} // namespace

extern "C" void llmc_attention_kivi_evict(
    LLMC_MEMREF2(float, q), LLMC_MEMREF2(float, k), LLMC_MEMREF2(float, v),
    LLMC_MEMREF1(uint8_t, cache), int64_t layer, int64_t pos, int64_t heads,
    float scale, int64_t layers, int64_t kvHeads, int64_t headDim,
    int64_t bits, int64_t group, int64_t residual, int64_t sinks,
    int64_t groups, int64_t policy, int64_t observe, int64_t pool,
    LLMC_MEMREF2(float, out)) {
  (void)qAllocated, (void)qColStride, (void)kAllocated, (void)kColStride,
      (void)vAllocated, (void)vColStride, (void)cacheAllocated,
      (void)cacheStride, (void)outAllocated, (void)outColStride;
  int64_t rows = qRows, c = kvHeads * headDim;
  uint8_t *base = cache + cacheOffset;
  // The compiler only emits valid calls; these checks keep a bad one from
  // reading or writing out of bounds (the outputs are left as they were).
  // Positions are stored as i32.
  bool valid =
      (bits == 2 || bits == 4 || bits == 8) && group >= 8 && group <= kChunk &&
      group % 8 == 0 && kvHeads > 0 && headDim > 0 && c % group == 0 &&
      residual >= 0 && sinks >= 0 && groups >= 1 && layers >= 1 &&
      layer >= 0 && layer < layers && heads > 0 && heads % kvHeads == 0 &&
      policy >= int64_t(Policy::Window) && policy <= int64_t(Policy::SnapKV) &&
      (Policy(policy) != Policy::SnapKV ||
       (observe >= 1 && pool >= 1 && pool % 2 == 1)) &&
      pos >= 0 && rows >= 0 &&
      pos + rows <= std::numeric_limits<int32_t>::max() && kRows >= rows &&
      vRows >= rows && kCols >= c && vCols >= c && qCols >= heads * headDim &&
      outRows >= rows && outCols >= heads * headDim &&
      reinterpret_cast<uintptr_t>(base) % alignof(float) == 0;
  if (!valid)
    return;
  KiviEvictLayout layout{layers, kvHeads, headDim, bits,
                         group,  residual, sinks,  groups};
  if (cacheSize < layout.totalBytes())
    return;
  // A buffer as long as the layout with a log of some depth has that log.
  layout.undoDepth = undoDepthFor(layout, cacheSize);
  KiviEvict p = layerView(layout, base + layout.layerOffset(layer), groups);
  UndoLogView log(base + layout.layerOffset(layer) + layout.undoOffset(groups),
                  layout.undoLog(groups));
  log.rewind(pos, [&](int64_t position) { undoPosition(p, log, position); });
  p.q = q + qOffset;
  p.k = k + kOffset;
  p.v = v + vOffset;
  p.qStride = qRowStride;
  p.kStride = kRowStride;
  p.vStride = vRowStride;
  p.rows = rows;
  p.pos = pos;
  p.heads = heads;
  p.scale = scale;
  p.policy = Policy(policy);
  p.observe = observe;
  p.poolWidth = pool;
  p.out = out + outOffset;
  p.outStride = outRowStride;
  p.log = &log;
  if (p.selectsPrompt()) {
    selectPrompt(p);
    log.forget(pos + rows);
  } else {
    for (int64_t t = 0; t < rows; ++t) {
      processRow(p, t);
      log.added(pos + t);
    }
  }
  log.store();
}

extern "C" void
llmc_kv_rollback_kivi_evict(LLMC_MEMREF1(uint8_t, cache), int64_t count,
                            int64_t layers, int64_t kvHeads, int64_t headDim,
                            int64_t bits, int64_t group, int64_t residual,
                            int64_t sinks, int64_t depth,
                            LLMC_MEMREF1(int64_t, layerGroups)) {
  (void)cacheAllocated, (void)cacheStride, (void)layerGroupsAllocated;
  int64_t c = kvHeads * headDim;
  if (count <= 0 || layers < 1 || kvHeads < 1 || headDim < 1 ||
      (bits != 2 && bits != 4 && bits != 8) || group < 8 || group > kChunk ||
      group % 8 != 0 || c % group != 0 || residual < 0 || sinks < 0 ||
      depth < 1 || depth > llmc::runtime::UndoLog::kMaxDepth ||
      layerGroupsSize < layers)
    return;
  // Reused, so that the per-layer group list allocates only once.
  thread_local KiviEvictLayout layout;
  layout.layers = layers;
  layout.kvHeads = kvHeads;
  layout.headDim = headDim;
  layout.bits = bits;
  layout.group = group;
  layout.residual = residual;
  layout.sinks = sinks;
  layout.groups = 0;
  layout.layerGroups.clear();
  for (int64_t l = 0; l < layers; ++l) {
    int64_t groups = layerGroups[layerGroupsOffset + l * layerGroupsStride];
    if (groups < 1)
      return;
    layout.layerGroups.push_back(groups);
  }
  layout.undoDepth = depth;
  uint8_t *base = cache + cacheOffset;
  if (cacheSize < layout.totalBytes() ||
      reinterpret_cast<uintptr_t>(base) % alignof(float) != 0)
    return;
  auto logOf = [&](int64_t l) {
    int64_t groups = layout.groupsOf(l);
    return UndoLogView(base + layout.layerOffset(l) + layout.undoOffset(groups),
                       layout.undoLog(groups));
  };
  rollBackLayers(layers, count, logOf, [&](int64_t l, UndoLogView &log) {
    // The layer alone (a copy of `layout` would copy its group list).
    KiviEvictLayout one{1,     kvHeads,  headDim, bits,
                        group, residual, sinks,   layout.groupsOf(l)};
    one.undoDepth = depth;
    KiviEvict p = layerView(one, base + layout.layerOffset(l), one.groups);
    return [&log, p](int64_t position) { undoPosition(p, log, position); };
  });
}
