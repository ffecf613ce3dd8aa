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
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include "llmc/Runtime/KVLayout.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

using namespace llmc::kernels;
using llmc::runtime::KiviLayout;

namespace {

/// Positions scored at a time (the stack buffer of one query row). Token
/// groups longer than this are scored in several chunks, so any group size
/// works without a larger buffer.
constexpr int64_t kChunk = 256;
/// Query heads of one KV head attended at once: they share each record's
/// decode (GQA), and the scores of all of them stay on the stack.
constexpr int64_t kHeadBlock = 8;

uint16_t load16(const uint8_t *p) { return uint16_t(p[0] | p[1] << 8); }
void store16(uint8_t *p, uint16_t v) {
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
  int bits = int(l.bits);
  int64_t len = p.pos + p.rows;
  int64_t flushedEnd = l.quantizedCount(len);
  for (int64_t first = l.quantizedCount(p.pos); first < flushedEnd;
       first += g) {
    uint8_t *keyRecord = p.keys + first / g * c * record;
    for (int64_t ch = 0; ch < c; ++ch, keyRecord += record)
      quantizeRecord([&](int64_t i) { return p.keyRow(first + i)[ch]; }, g,
                     bits, keyRecord);
    for (int64_t s = first; s < first + g; ++s) {
      const float *row = p.valueRow(s);
      uint8_t *valueRecord = p.values + s * runs * record;
      for (int64_t j = 0; j < runs; ++j, valueRecord += record)
        quantizeRecord([&](int64_t i) { return row[j * g + i]; }, g, bits,
                       valueRecord);
    }
  }
  for (int64_t s = std::max(p.pos, flushedEnd); s < len; ++s) {
    float *slot = p.ring + s % l.ringSlots() * 2 * c;
    std::memcpy(slot, p.keyRow(s), size_t(c) * sizeof(float));
    std::memcpy(slot + c, p.valueRow(s), size_t(c) * sizeof(float));
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

/// The query heads of one KV head attended together (so that they share
/// every record's decode), at most kHeadBlock at a time.
struct HeadBlock {
  int64_t first, count, kvHead;
};

HeadBlock headBlock(const Kivi &p, int64_t block) {
  int64_t perKvHead = p.heads / p.layout.kvHeads;
  int64_t blocksPerKvHead = (perKvHead + kHeadBlock - 1) / kHeadBlock;
  int64_t kvHead = block / blocksPerKvHead;
  int64_t first = kvHead * perKvHead + block % blocksPerKvHead * kHeadBlock;
  return {first, std::min(kHeadBlock, (kvHead + 1) * perKvHead - first),
          kvHead};
}

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
  float scores[kHeadBlock][kChunk], bias[kHeadBlock], w[kHeadBlock];
  float codes[kChunk + 16]; // kChunk codes of a record, rounded to bytes
  const float *q[kHeadBlock];
  OnlineSoftmax acc[kHeadBlock];
  for (int64_t h = 0; h < nh; ++h) {
    q[h] = p.q + t * p.qStride + (block.first + h) * d;
    acc[h].out = p.out + t * p.outStride + (block.first + h) * d;
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
      for (int64_t h = 0; h < nh; ++h) {
        std::fill(scores[h], scores[h] + n, 0.0f);
        bias[h] = 0.0f;
      }
      const uint8_t *keyRecord = p.keys + (group * c + c0) * record;
      for (int64_t j = 0; j < d; ++j, keyRecord += record) {
        float scale = halfToFloat(load16(keyRecord));
        float min = halfToFloat(load16(keyRecord + 2));
        const float *x = unpack<B>(keyRecord + 4, i0, i0 + n, codes);
        for (int64_t h = 0; h < nh; ++h) {
          float a = q[h][j] * scale;
          bias[h] += q[h][j] * min;
          for (int64_t i = 0; i < n; ++i)
            scores[h][i] += a * x[i];
        }
      }
      for (int64_t h = 0; h < nh; ++h) {
        for (int64_t i = 0; i < n; ++i)
          scores[h][i] = (scores[h][i] + bias[h]) * p.scale;
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
        // The pieces of this KV head's channels that lie in one value
        // record (and fit the code buffer).
        const uint8_t *valueRecords = p.values + (s0 + i) * runs * record;
        for (int64_t ch = c0, next; ch < c0 + d; ch = next) {
          int64_t r = ch / g;
          next = std::min({c0 + d, (r + 1) * g, ch + kChunk});
          const uint8_t *valueRecord = valueRecords + r * record;
          float scale = halfToFloat(load16(valueRecord));
          float min = halfToFloat(load16(valueRecord + 2));
          const float *x =
              unpack<B>(valueRecord + 4, ch - r * g, next - r * g, codes);
          for (int64_t h = 0; h < nh; ++h) {
            float ws = w[h] * scale, wm = w[h] * min;
            float *o = acc[h].out + (ch - c0);
            for (int64_t j = 0; j < next - ch; ++j)
              o[j] += ws * x[j] + wm;
          }
        }
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
    HeadBlock block = headBlock(p, i / p.rows);
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
  append(p);
  double work =
      double(heads) * double(rows) * double(pos + rows) * double(headDim) * 2;
  int64_t perKvHead = heads / kvHeads;
  int64_t blocks = kvHeads * ((perKvHead + kHeadBlock - 1) / kHeadBlock);
  parallelFor(blocks * rows, /*grain=*/1, work, attentionRange, &p);
}
