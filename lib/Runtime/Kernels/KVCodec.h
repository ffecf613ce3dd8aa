//===- KVCodec.h - KIVI records, shared by the KV attention kernels -*- C++ -*-===//
//
// Part of llmc. What llmc_attention_kivi and llmc_attention_kivi_evict share
// about KIVI's quantized records (include/llmc/Runtime/KVLayout.h): an f16
// scale, an f16 minimum and G B-bit codes, packed LSB-first. Quantizing a
// record, unpacking its codes, scoring a token group's key records against
// query heads without decoding them to floats, and folding a value record
// into output accumulators. Also the per-thread scratch buffers the kernels
// use so that steady decoding never allocates.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_RUNTIME_KERNELS_KVCODEC_H
#define LLMC_LIB_RUNTIME_KERNELS_KVCODEC_H

#include "KernelsImpl.h"
#include "llmc/Runtime/KVLayout.h"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace llmc::kernels::kv {

inline uint16_t load16(const uint8_t *p) { return uint16_t(p[0] | p[1] << 8); }
inline void store16(uint8_t *p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}

/// Unpacks codes [begin, end) of a record into dst[0, end - begin) a byte
/// at a time (no code straddles a byte, B dividing 8), which vectorizes
/// where a shift per code would not. begin and end are rounded outwards to
/// whole bytes: the codes of [begin, end) start at dst[begin % (8 / B)],
/// and dst holds at least end - begin + 2 * (8 / B) floats.
template <int B>
const float *unpack(const uint8_t *codes, int64_t begin, int64_t end,
                    float *dst) {
  constexpr int64_t perByte = 8 / B;
  constexpr int mask = (1 << B) - 1;
  const uint8_t *bytes = codes + begin / perByte;
  int64_t n = (end + perByte - 1) / perByte - begin / perByte;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < perByte; ++k)
      dst[b * perByte + k] = float(bytes[b] >> (k * B) & mask);
  return dst + begin % perByte;
}

/// Quantizes the n values at(0), ..., at(n - 1) into one record: f16 scale
/// (max - min) / (2^bits - 1), f16 min, then the codes, rounded against the
/// stored (f16) scale and min so that decoding reproduces them. Two passes
/// over the source instead of a copy: key records gather one channel of G
/// positions, which may lie in the ring or in the step's input rows.
template <typename At>
void quantizeRecord(At at, int64_t n, int bits, uint8_t *record) {
  float lo = at(0), hi = lo;
  for (int64_t i = 1; i < n; ++i) {
    float x = at(i);
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  int top = (1 << bits) - 1;
  uint16_t scaleHalf = floatToHalfSaturated((hi - lo) / float(top));
  uint16_t minHalf = floatToHalfSaturated(lo);
  store16(record, scaleHalf);
  store16(record + 2, minHalf);
  float scale = halfToFloat(scaleHalf), min = halfToFloat(minHalf);
  uint8_t *codes = record + 4;
  std::memset(codes, 0, size_t(n * bits / 8));
  if (!(scale > 0.0f))
    return; // all codes 0: every value decodes to min
  for (int64_t i = 0; i < n; ++i) {
    float r = std::nearbyint((at(i) - min) / scale);
    int q = r >= 0.0f ? (r <= float(top) ? int(r) : top) : 0; // NaN: 0
    codes[i * bits / 8] |= uint8_t(q << (i * bits % 8));
  }
}

/// Quantizes one token group of G positions over C channels: key record
/// c (at keyRecords + c * recordBytes) holds channel c of the G positions,
/// value record j of position i (at valueRecords + (i * C / G + j) *
/// recordBytes) holds channels [j * G, (j + 1) * G) of position i.
/// keyRow(i) and valueRow(i) give position i's C floats.
template <typename KeyRow, typename ValueRow>
void quantizeGroup(KeyRow keyRow, ValueRow valueRow, int64_t channels,
                   int64_t group, int bits, int64_t recordBytes,
                   uint8_t *keyRecords, uint8_t *valueRecords) {
  int64_t runs = channels / group;
  for (int64_t ch = 0; ch < channels; ++ch)
    quantizeRecord([&](int64_t i) { return keyRow(i)[ch]; }, group, bits,
                   keyRecords + ch * recordBytes);
  for (int64_t i = 0; i < group; ++i) {
    const float *row = valueRow(i);
    uint8_t *record = valueRecords + i * runs * recordBytes;
    for (int64_t j = 0; j < runs; ++j, record += recordBytes)
      quantizeRecord([&](int64_t x) { return row[j * group + x]; }, group,
                     bits, record);
  }
}

/// Query heads of one KV head attended at once: they share each record's
/// decode (GQA), and their scores stay on the stack.
constexpr int64_t kHeadBlock = 8;
/// Codes unpacked at a time (the stack buffer of a record's decode).
constexpr int64_t kChunk = 256;

/// Unscaled scores q_h . k_s of the nh query heads q[h] (D floats each)
/// against positions [i0, i0 + n) of a token group (n <= kChunk), read from
/// the D key records of the KV head's channels at `keyRecords`:
/// sum_j (q_j scale_j) code_j[s] + sum_j q_j min_j. Overwrites
/// scores[h][0, n).
template <int B>
void keyGroupScores(const uint8_t *keyRecords, int64_t recordBytes,
                    int64_t headDim, const float *const *q, int64_t nh,
                    int64_t i0, int64_t n, float (*scores)[kChunk]) {
  float codes[kChunk + 16], bias[kHeadBlock];
  for (int64_t h = 0; h < nh; ++h) {
    std::fill(scores[h], scores[h] + n, 0.0f);
    bias[h] = 0.0f;
  }
  const uint8_t *record = keyRecords;
  for (int64_t j = 0; j < headDim; ++j, record += recordBytes) {
    float scale = halfToFloat(load16(record));
    float min = halfToFloat(load16(record + 2));
    const float *x = unpack<B>(record + 4, i0, i0 + n, codes);
    for (int64_t h = 0; h < nh; ++h) {
      float a = q[h][j] * scale;
      bias[h] += q[h][j] * min;
      for (int64_t i = 0; i < n; ++i)
        scores[h][i] += a * x[i];
    }
  }
  for (int64_t h = 0; h < nh; ++h)
    for (int64_t i = 0; i < n; ++i)
      scores[h][i] += bias[h];
}

/// out[h][0, D) += w[h] * value for the nh heads, where value is channels
/// [c0, c0 + D) of one position, decoded from its value records (runs of G
/// channels, `valueRecords` the position's first).
template <int B>
void addValueRecords(const uint8_t *valueRecords, int64_t recordBytes,
                     int64_t group, int64_t c0, int64_t headDim,
                     const float *w, int64_t nh, float *const *out) {
  float codes[kChunk + 16];
  for (int64_t ch = c0, next; ch < c0 + headDim; ch = next) {
    int64_t r = ch / group;
    next = std::min({c0 + headDim, (r + 1) * group, ch + kChunk});
    const uint8_t *record = valueRecords + r * recordBytes;
    float scale = halfToFloat(load16(record));
    float min = halfToFloat(load16(record + 2));
    const float *x =
        unpack<B>(record + 4, ch - r * group, next - r * group, codes);
    for (int64_t h = 0; h < nh; ++h) {
      float ws = w[h] * scale, wm = w[h] * min;
      float *o = out[h] + (ch - c0);
      for (int64_t j = 0; j < next - ch; ++j)
        o[j] += ws * x[j] + wm;
    }
  }
}

/// The query heads of one KV head attended together (so that they share
/// every record's decode), at most kHeadBlock at a time: block b of a
/// layer with `heads` query heads over `kvHeads` KV heads.
struct HeadBlock {
  int64_t first, count, kvHead;
};

inline int64_t headBlockCount(int64_t heads, int64_t kvHeads) {
  int64_t perKvHead = heads / kvHeads;
  return kvHeads * ((perKvHead + kHeadBlock - 1) / kHeadBlock);
}

inline HeadBlock headBlock(int64_t heads, int64_t kvHeads, int64_t block) {
  int64_t perKvHead = heads / kvHeads;
  int64_t blocksPerKvHead = (perKvHead + kHeadBlock - 1) / kHeadBlock;
  int64_t kvHead = block / blocksPerKvHead;
  int64_t first = kvHead * perKvHead + block % blocksPerKvHead * kHeadBlock;
  return {first, std::min(kHeadBlock, (kvHead + 1) * perKvHead - first),
          kvHead};
}

/// x[0, n) = softmax(x[0, n)), n >= 1.
inline void softmaxInPlace(float *x, int64_t n) {
  float m = *std::max_element(x, x + n), l = 0.0f;
  for (int64_t s = 0; s < n; ++s) {
    x[s] = std::exp(x[s] - m);
    l += x[s];
  }
  float inv = 1.0f / l; // l >= 1: the maximum contributes exp(0)
  for (int64_t s = 0; s < n; ++s)
    x[s] *= inv;
}

/// Exact softmax attention of nh query heads (q + h * D) over n >= 1 f32
/// keys and values (keys + s * keyStride, values + s * valueStride):
/// the probabilities of head h to probs[h * n, (h + 1) * n), its output to
/// out + h * D.
inline void attendExact(const float *q, int64_t nh, int64_t d,
                        const float *keys, int64_t keyStride,
                        const float *values, int64_t valueStride, int64_t n,
                        float scale, float *probs, float *out) {
  for (int64_t s = 0; s < n; ++s) {
    const float *key = keys + s * keyStride;
    for (int64_t h = 0; h < nh; ++h) {
      float score = 0.0f;
      for (int64_t j = 0; j < d; ++j)
        score += q[h * d + j] * key[j];
      probs[h * n + s] = score * scale;
    }
  }
  for (int64_t h = 0; h < nh; ++h)
    softmaxInPlace(probs + h * n, n);
  std::fill(out, out + nh * d, 0.0f);
  for (int64_t s = 0; s < n; ++s) {
    const float *value = values + s * valueStride;
    for (int64_t h = 0; h < nh; ++h) {
      float w = probs[h * n + s];
      for (int64_t j = 0; j < d; ++j)
        out[h * d + j] += w * value[j];
    }
  }
}

/// Adds the attention probabilities of a row (nh x n in probs), summed over
/// the heads, to sums[0, n).
inline void addMass(float *sums, const float *probs, int64_t nh, int64_t n) {
  for (int64_t s = 0; s < n; ++s) {
    float mass = 0.0f;
    for (int64_t h = 0; h < nh; ++h)
      mass += probs[h * n + s];
    sums[s] += mass;
  }
}

/// One layer's undo log (llmc::runtime::UndoLog) while a call works on
/// the layer: its place, geometry and header. Without a log (base null)
/// nothing is tracked and the kernels behave as they always have.
struct UndoLogView {
  uint8_t *base = nullptr;
  runtime::UndoLog geometry;
  int64_t length = 0; // positions the layer holds
  int64_t logged = 0; // how many of the latest the log can undo

  UndoLogView() = default;
  UndoLogView(uint8_t *base, const runtime::UndoLog &geometry)
      : base(geometry.depth > 0 ? base : nullptr), geometry(geometry) {
    if (this->base) {
      std::memcpy(&length, this->base, sizeof(int64_t));
      std::memcpy(&logged, this->base + 8, sizeof(int64_t));
      // Only a header the kernels wrote is trusted to index the log.
      if (length < 0 || logged < 0 || logged > geometry.depth ||
          logged > length)
        length = logged = 0;
    }
  }
  explicit operator bool() const { return base != nullptr; }
  void store() const {
    if (!base)
      return;
    std::memcpy(base, &length, sizeof(int64_t));
    std::memcpy(base + 8, &logged, sizeof(int64_t));
  }
  uint8_t *entry(int64_t position) const {
    return base + geometry.entryOffset(position);
  }
  uint8_t *flushSave(int64_t group) const {
    return base + geometry.flushOffset(group);
  }
  /// Position `position` was added (its entry written first).
  void added(int64_t position) {
    length = position + 1;
    logged = std::min(logged + 1, geometry.depth);
  }
  /// A call added [pos, end) without logging them: nothing is undoable.
  void forget(int64_t end) {
    length = end;
    logged = 0;
  }
  /// Brings the layer back to `pos` positions before a call writes from
  /// there, or a rollback: the positions from `pos` on are undone latest
  /// first (`undo(p)` restores what position p changed) when the log holds
  /// them all. Otherwise a call at 0 starts a new sequence (its kernel
  /// overwrites what it reads), and any other position is taken as it is,
  /// without exactness: the log is forgotten. A layer already at `pos` is
  /// left alone.
  template <typename Undo> void rewind(int64_t pos, Undo undo) {
    if (!base || pos == length)
      return;
    if (pos < length && length - pos <= logged) {
      for (int64_t p = length - 1; p >= pos; --p)
        undo(p);
      logged -= length - pos;
      length = pos;
      return;
    }
    forget(pos);
  }
};

/// kv.rollback of a cache whose layers keep undo logs: every layer is
/// brought back to the longest layer's length minus `count` (a draft may
/// have written only some layers). `logOf(l)` is layer l's log;
/// `undoLayer(l, log)` returns the undo function of one of its positions.
template <typename LogOf, typename UndoLayer>
void rollBackLayers(int64_t layers, int64_t count, LogOf logOf,
                    UndoLayer undoLayer) {
  int64_t length = 0;
  for (int64_t l = 0; l < layers; ++l)
    length = std::max(length, logOf(l).length);
  int64_t target = std::max<int64_t>(length - count, 0);
  for (int64_t l = 0; l < layers; ++l) {
    UndoLogView log = logOf(l);
    if (log.length <= target)
      continue;
    log.rewind(target, undoLayer(l, log));
    log.store();
  }
}

/// Copies `bytes` bytes from `from` to `to` and returns `to` + bytes (log
/// entries are packed runs of 4-byte fields, written and read in order).
inline uint8_t *put(uint8_t *to, const void *from, size_t bytes) {
  std::memcpy(to, from, bytes);
  return to + bytes;
}
inline const uint8_t *get(const uint8_t *from, void *to, size_t bytes) {
  std::memcpy(to, from, bytes);
  return from + bytes;
}

/// A per-thread buffer of n T's (Slot tells buffers of one thread apart),
/// grown to the largest size a call on this thread has needed and reused
/// after that, so that steady decoding never allocates.
template <typename T, int Slot = 0> T *scratch(size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n)
    buffer.resize(n);
  return buffer.data();
}

} // namespace llmc::kernels::kv

#endif // LLMC_LIB_RUNTIME_KERNELS_KVCODEC_H
