//===- KVQuantized.cpp - attention over a KIVI-quantized KV cache ---------===//
//
// Part of llmc. llmc_attention_kivi appends a step's keys and values to one
// layer of a KIVI cache (the layout of include/llmc/Runtime/KVLayout.h) and
// runs attention over it. Keys are quantized per channel over groups of G
// positions and values per position over runs of G channels; the R most
// recent positions stay in a full-precision ring, from which whole token
// groups are flushed as they age out.
//
// Attention reads the quantized records in place instead of decoding the
// cache into floats, so a call allocates nothing: the scores of a token group
// come straight from the key codes, q . k_s = sum_j (q_j scale_c) code_c[s] +
// sum_j q_j min_c (c = kvHead * D + j), a scaled integer dot product plus one
// bias per group, and each value record is folded into the output accumulator
// as w * min + (w * scale) * code. The query heads of one KV head (GQA) are
// attended together, so each record is unpacked once for all of them; the
// work is split over (head block, query row) pairs. Portable C++: codes are
// unpacked a byte at a time into a small float buffer, so the inner loops
// are plain float loops the compiler vectorizes.
//
// A causal call of up to kBatchInvariantRows rows runs as that many one-row
// calls (append, then attend), so that each row sees exactly the cache a
// decode step at its position would, flushes included: speculative
// verification stays equal to greedy decoding. A cache with an undo log
// (`rollback<N>`, the logs after the last layer) records, before each such
// row, the ring slot it overwrites and the records a flush overwrites;
// llmc_kv_rollback_kivi and a call at a position below the layer's length
// undo positions from it, restoring the bytes exactly. A longer call
// (prefill) appends all its rows first and is not undoable.
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
using llmc::runtime::KiviLayout;

namespace {

/// One call's view of one layer of the cache and of the step's rows.
struct Kivi {
  KiviLayout layout;
  uint8_t *keys;   // the layer's key records
  uint8_t *values; // the layer's value records
  float *ring;     // the layer's residual ring
  const float *q, *k, *v;
  int64_t qStride, kStride, vStride; // elements between rows
  int64_t rows, pos, heads, window;
  bool causal;
  float scale;
  float *out;
  int64_t outStride;

  /// Full-precision keys (then values, C floats further) of position p: the
  /// step's input row if p is new, else its ring slot. Only for positions
  /// the ring still holds.
  const float *keyRow(int64_t p) const {
    if (p >= pos)
      return k + (p - pos) * kStride;
    return ring + p % layout.ringSlots() * 2 * layout.channels();
  }
  const float *valueRow(int64_t p) const {
    if (p >= pos)
      return v + (p - pos) * vStride;
    return ring + p % layout.ringSlots() * 2 * layout.channels() +
           layout.channels();
  }
};

/// Quantizes the token groups that leave the residual window when the layer
/// grows from `pos` to `pos + rows` positions, then stores the new rows that
/// stay full precision in the ring. All flush reads come before the ring
/// writes: a prefill longer than the ring reuses slots the flush reads.
void append(const Kivi &p) {
  const KiviLayout &l = p.layout;
  int64_t c = l.channels(), g = l.group, runs = c / g, record = l.recordBytes();
  int64_t len = p.pos + p.rows;
  int64_t flushedEnd = l.quantizedCount(len);
  for (int64_t first = l.quantizedCount(p.pos); first < flushedEnd;
       first += g)
    quantizeGroup([&](int64_t i) { return p.keyRow(first + i); },
                  [&](int64_t i) { return p.valueRow(first + i); }, c, g,
                  int(l.bits), record, p.keys + first / g * c * record,
                  p.values + first * runs * record);
  for (int64_t s = std::max(p.pos, flushedEnd); s < len; ++s) {
    float *slot = p.ring + s % l.ringSlots() * 2 * c;
    std::memcpy(slot, p.keyRow(s), size_t(c) * sizeof(float));
    std::memcpy(slot + c, p.valueRow(s), size_t(c) * sizeof(float));
  }
}

/// Whether adding position `position` flushes a token group (the one
/// starting at quantizedCount(position)) and whether the position itself
/// goes to the ring (not when it is flushed at once, with R = 0).
struct PositionEffects {
  bool flushes, ringWrite;
};

PositionEffects effectsOf(const KiviLayout &l, int64_t position) {
  int64_t after = l.quantizedCount(position + 1);
  return {after > l.quantizedCount(position), position >= after};
}

/// The layer's sections, as the log's users address them.
struct LayerBytes {
  uint8_t *keys, *values;
  float *ring;
};

LayerBytes layerBytes(const KiviLayout &l, uint8_t *base, int64_t layer) {
  return {base + l.keyOffset(layer), base + l.valueOffset(layer),
          reinterpret_cast<float *>(base + l.ringOffset(layer))};
}

/// Logs what adding `position` is about to overwrite: its ring slot, and
/// the records of the group it flushes.
void logPosition(const KiviLayout &l, const LayerBytes &b,
                 const UndoLogView &log, int64_t position) {
  PositionEffects effects = effectsOf(l, position);
  int64_t c = l.channels(), records = l.groupRecordBytes();
  if (effects.flushes) {
    int64_t first = l.quantizedCount(position), group = first / l.group;
    uint8_t *save = log.flushSave(group);
    save = put(save, b.keys + group * records, size_t(records));
    put(save, b.values + first * (c / l.group) * l.recordBytes(),
        size_t(records));
  }
  if (effects.ringWrite)
    put(log.entry(position), b.ring + position % l.ringSlots() * 2 * c,
        size_t(2 * c) * sizeof(float));
}

/// Restores what adding `position` changed.
void undoPosition(const KiviLayout &l, const LayerBytes &b,
                  const UndoLogView &log, int64_t position) {
  PositionEffects effects = effectsOf(l, position);
  int64_t c = l.channels(), records = l.groupRecordBytes();
  if (effects.ringWrite)
    get(log.entry(position), b.ring + position % l.ringSlots() * 2 * c,
        size_t(2 * c) * sizeof(float));
  if (effects.flushes) {
    int64_t first = l.quantizedCount(position), group = first / l.group;
    const uint8_t *save = log.flushSave(group);
    save = get(save, b.keys + group * records, size_t(records));
    get(save, b.values + first * (c / l.group) * l.recordBytes(),
        size_t(records));
  }
}

/// The running state of one query row's online softmax: maximum score m,
/// sum of weights l and the unnormalized output (d floats).
struct OnlineSoftmax {
  float *out = nullptr;
  int64_t d = 0;
  float m = -std::numeric_limits<float>::infinity(), l = 0.0f;

  /// Raises the maximum to cover scores[0..n) and rescales what was
  /// accumulated so far; the caller then adds exp(score - m) weights.
  void rescale(const float *scores, int64_t n) {
    float mNew = m;
    for (int64_t i = 0; i < n; ++i)
      mNew = std::max(mNew, scores[i]);
    float correction = std::exp(m - mNew);
    l *= correction;
    for (int64_t j = 0; j < d; ++j)
      out[j] *= correction;
    m = mNew;
  }
};

/// Attention of query row t for the heads of `block`.
template <int B> void attendRow(const Kivi &p, HeadBlock block, int64_t t) {
  const KiviLayout &l = p.layout;
  int64_t d = l.headDim, c = l.channels(), g = l.group, runs = c / g;
  int64_t record = l.recordBytes(), c0 = block.kvHead * d, nh = block.count;
  // Positions before quantizedEnd are read from the quantized sections; this
  // step's own rows are exact even where they were flushed just now.
  int64_t quantizedEnd = std::min(l.quantizedCount(p.pos + p.rows), p.pos);
  int64_t query = p.pos + t;
  int64_t last = p.causal ? query : p.pos + p.rows - 1;
  int64_t first = p.window > 0 ? std::max<int64_t>(0, query - p.window + 1) : 0;
  float scores[kHeadBlock][kChunk], w[kHeadBlock];
  const float *q[kHeadBlock];
  float *outs[kHeadBlock];
  OnlineSoftmax acc[kHeadBlock];
  for (int64_t h = 0; h < nh; ++h) {
    q[h] = p.q + t * p.qStride + (block.first + h) * d;
    acc[h].out = outs[h] = p.out + t * p.outStride + (block.first + h) * d;
    acc[h].d = d;
    std::fill(acc[h].out, acc[h].out + d, 0.0f);
  }
  for (int64_t s0 = first, s1; s0 <= last; s0 = s1) {
    int64_t n;
    if (s0 < quantizedEnd) {
      // Scores of positions [s0, s1), all in token group s0 / g, from the
      // codes.
      int64_t group = s0 / g, i0 = s0 - group * g;
      s1 = std::min({last + 1, quantizedEnd, (group + 1) * g, s0 + kChunk});
      n = s1 - s0;
      keyGroupScores<B>(p.keys + (group * c + c0) * record, record, d, q, nh,
                        i0, n, scores);
      for (int64_t h = 0; h < nh; ++h) {
        for (int64_t i = 0; i < n; ++i)
          scores[h][i] *= p.scale;
        acc[h].rescale(scores[h], n);
      }
    } else {
      // Full-precision positions: the ring, then the step's rows.
      s1 = std::min(last + 1, s0 + kChunk);
      n = s1 - s0;
      for (int64_t i = 0; i < n; ++i) {
        const float *key = p.keyRow(s0 + i) + c0;
        for (int64_t h = 0; h < nh; ++h) {
          float score = 0.0f;
          for (int64_t j = 0; j < d; ++j)
            score += q[h][j] * key[j];
          scores[h][i] = score * p.scale;
        }
      }
      for (int64_t h = 0; h < nh; ++h)
        acc[h].rescale(scores[h], n);
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t h = 0; h < nh; ++h) {
        w[h] = std::exp(scores[h][i] - acc[h].m);
        acc[h].l += w[h];
      }
      if (s0 < quantizedEnd) {
        addValueRecords<B>(p.values + (s0 + i) * runs * record, record, g, c0,
                           d, w, nh, outs);
      } else {
        const float *value = p.valueRow(s0 + i) + c0;
        for (int64_t h = 0; h < nh; ++h)
          for (int64_t j = 0; j < d; ++j)
            acc[h].out[j] += w[h] * value[j];
      }
    }
  }
  for (int64_t h = 0; h < nh; ++h) {
    float inv = acc[h].l > 0.0f ? 1.0f / acc[h].l : 0.0f;
    for (int64_t j = 0; j < d; ++j)
      acc[h].out[j] *= inv;
  }
}

/// Work items [begin, end): item i is query row i % rows of head block
/// i / rows.
void attentionRange(const void *context, int64_t begin, int64_t end) {
  const auto &p = *static_cast<const Kivi *>(context);
  for (int64_t i = begin; i < end; ++i) {
    HeadBlock block = headBlock(p.heads, p.layout.kvHeads, i / p.rows);
    int64_t t = i % p.rows;
    switch (p.layout.bits) {
    case 2:
      attendRow<2>(p, block, t);
      break;
    case 4:
      attendRow<4>(p, block, t);
      break;
    default:
      attendRow<8>(p, block, t);
      break;
    }
  }
}

} // namespace

extern "C" void llmc_attention_kivi(
    LLMC_MEMREF2(float, q), LLMC_MEMREF2(float, k), LLMC_MEMREF2(float, v),
    LLMC_MEMREF1(uint8_t, cache), int64_t layer, int64_t pos, int64_t heads,
    float scale, int64_t window, int64_t causal, int64_t layers,
    int64_t kvHeads, int64_t capacity, int64_t headDim, int64_t bits,
    int64_t group, int64_t residual, LLMC_MEMREF2(float, out)) {
  (void)qAllocated, (void)qColStride, (void)kAllocated, (void)kColStride,
      (void)vAllocated, (void)vColStride, (void)cacheAllocated,
      (void)cacheStride, (void)outAllocated, (void)outColStride;
  KiviLayout layout{layers, kvHeads, capacity, headDim, bits, group, residual};
  int64_t rows = qRows, c = kvHeads * headDim;
  uint8_t *base = cache + cacheOffset;
  // The compiler only emits valid calls; these checks keep a bad one from
  // reading or writing out of bounds (the outputs are left as they were).
  bool valid = (bits == 2 || bits == 4 || bits == 8) && group > 0 &&
               group % 8 == 0 && kvHeads > 0 && headDim > 0 && c % group == 0 &&
               residual >= 0 && heads > 0 && heads % kvHeads == 0 &&
               layer >= 0 && layer < layers && pos >= 0 && rows >= 0 &&
               pos + rows <= capacity && kRows >= rows && vRows >= rows &&
               kCols >= c && vCols >= c && qCols >= heads * headDim &&
               outRows >= rows && outCols >= heads * headDim &&
               cacheSize >= layout.totalBytes() &&
               reinterpret_cast<uintptr_t>(base) % alignof(float) == 0;
  if (!valid)
    return;
  // A buffer as long as the layout with a log of some depth has that log.
  layout.undoDepth = undoDepthFor(layout, cacheSize);
  LayerBytes bytes = layerBytes(layout, base, layer);
  UndoLogView log(base + layout.undoOffset(layer), layout.undoLog());
  log.rewind(pos, [&](int64_t position) {
    undoPosition(layout, bytes, log, position);
  });
  Kivi p{layout,
         base + layout.keyOffset(layer),
         base + layout.valueOffset(layer),
         reinterpret_cast<float *>(base + layout.ringOffset(layer)),
         q + qOffset,
         k + kOffset,
         v + vOffset,
         qRowStride,
         kRowStride,
         vRowStride,
         rows,
         pos,
         heads,
         window,
         causal != 0,
         scale,
         out + outOffset,
         outRowStride};
  int64_t blocks = headBlockCount(heads, kvHeads);
  if (rows > kBatchInvariantRows || (!causal && rows > 1)) {
    append(p);
    double work =
        double(heads) * double(rows) * double(pos + rows) * double(headDim) * 2;
    parallelFor(blocks * rows, /*grain=*/1, work, attentionRange, &p);
    log.forget(pos + rows);
    log.store();
    return;
  }
  for (int64_t t = 0; t < rows; ++t) {
    Kivi row = p;
    row.q += t * p.qStride;
    row.k += t * p.kStride;
    row.v += t * p.vStride;
    row.out += t * p.outStride;
    row.rows = 1;
    row.pos = pos + t;
    if (log)
      logPosition(layout, bytes, log, row.pos);
    append(row);
    double work = double(heads) * double(row.pos + 1) * double(headDim) * 2;
    parallelFor(blocks, /*grain=*/1, work, attentionRange, &row);
    log.added(row.pos);
  }
  log.store();
}

extern "C" void llmc_kv_rollback_kivi(LLMC_MEMREF1(uint8_t, cache),
                                      int64_t count, int64_t layers,
                                      int64_t kvHeads, int64_t capacity,
                                      int64_t headDim, int64_t bits,
                                      int64_t group, int64_t residual,
                                      int64_t depth) {
  (void)cacheAllocated, (void)cacheStride;
  KiviLayout layout{layers, kvHeads, capacity, headDim,
                    bits,   group,   residual, depth};
  uint8_t *base = cache + cacheOffset;
  bool valid = count > 0 && (bits == 2 || bits == 4 || bits == 8) &&
               group > 0 && group % 8 == 0 && layers > 0 && kvHeads > 0 &&
               headDim > 0 && capacity > 0 &&
               (kvHeads * headDim) % group == 0 && residual >= 0 &&
               depth >= 1 && depth <= llmc::runtime::UndoLog::kMaxDepth &&
               cacheSize >= layout.totalBytes() &&
               reinterpret_cast<uintptr_t>(base) % alignof(float) == 0;
  if (!valid)
    return;
  auto logOf = [&](int64_t l) {
    return UndoLogView(base + layout.undoOffset(l), layout.undoLog());
  };
  rollBackLayers(layers, count, logOf, [&](int64_t l, UndoLogView &log) {
    LayerBytes bytes = layerBytes(layout, base, l);
    return [&layout, &log, bytes](int64_t position) {
      undoPosition(layout, bytes, log, position);
    };
  });
}
