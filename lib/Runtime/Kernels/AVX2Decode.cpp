//===- AVX2Decode.cpp - AVX2 kernels for decode-sized calls ---------------===//
//
// Part of llmc. Calls of up to kBatchInvariantRows activation rows (decode
// steps, speculative decoding's verification of a few draft tokens) are
// bound by the weight bytes streamed, so these kernels spend as few
// instructions per weight as possible:
//   - Q4_0 / Q8_0 use integer dot products against the activation rows
//     quantized to 8 bits per 32-element block (as ggml's Q8_0: d = max|x| /
//     127, q = round-to-nearest-even(x / d)): vpmaddubsw + vpmaddwd per 32
//     weights, then one FMA by d_w * d_x. Q4_0's nibbles are unsigned, so
//     the block's sum of q_x times 8 is subtracted once per block.
//   - F32 / F16 / BF16 sum each output in 4 accumulators over the
//     32-element blocks of K (floatRow), in blocks of eight weight rows
//     whose horizontal sums go eight at a time (floatBlock); several
//     activation rows share each weight load: up to three per streamed
//     weight row, or, for cached weights, up to six per weight vector by
//     running the four accumulators as separate passes over K.
// Each activation row is summed by the operations it would get alone,
// whatever loops run them, so a row's result does not depend on the call's
// row count (batch invariance).
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <type_traits>

using namespace llmc::kernels;

namespace {

inline float half(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i loadQ(const int8_t *p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
}

/// Sum of the 16 i16 products pairs, as 8 f32 lanes.
inline __m256 pairsToFloat(__m256i products16) {
  return _mm256_cvtepi32_ps(
      _mm256_madd_epi16(products16, _mm256_set1_epi16(1)));
}

/// 32 Q4_0 nibbles as unsigned bytes in element order (low nibbles are
/// elements 0..15, high nibbles 16..31).
inline __m256i q4Nibbles(const uint8_t *block) {
  __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i *>(block + 2));
  __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
  return _mm256_and_si256(both, _mm256_set1_epi8(15));
}

/// How far ahead weight bytes are prefetched. The hardware prefetcher
/// alone leaves a streaming kernel at ~55% of the read bandwidth on the
/// machines we measured (docs/performance.md); 32 KiB ahead of the next
/// row reaches it.
constexpr int64_t kPrefetchAhead = 32768;

/// Eight f16 block scales at `first`, `first + stride`, ... as f32.
inline __m256 eightScales(const uint8_t *first, int64_t stride) {
  auto at = [&](int j) {
    uint16_t h;
    std::memcpy(&h, first + j * stride, 2);
    return int(h);
  };
  __m128i h = _mm_cvtsi32_si128(at(0));
  h = _mm_insert_epi16(h, at(1), 1);
  h = _mm_insert_epi16(h, at(2), 2);
  h = _mm_insert_epi16(h, at(3), 3);
  h = _mm_insert_epi16(h, at(4), 4);
  h = _mm_insert_epi16(h, at(5), 5);
  h = _mm_insert_epi16(h, at(6), 6);
  h = _mm_insert_epi16(h, at(7), 7);
  return _mm256_cvtph_ps(h);
}

/// Q4_0 or Q8_0 weight row n against the TT quantized activation rows
/// x[0, TT) (output rows t0..). Blocks go in groups of eight: the eight
/// d_w * d_x products (and Q4_0's correction -8 * d_w * d_x * sum q_x) are
/// computed as one vector, then each block costs a nibble split (Q4_0) or
/// sign fix-up (Q8_0), and per activation row vpmaddubsw, vpmaddwd, a
/// conversion and an FMA by its broadcast scale. Each activation row is
/// summed by the same operations whatever TT is (batch invariance).
template <bool IsQ4, int TT>
void quantRow(const Matmul &p, const QuantizedRow *x, int64_t n, int64_t t0) {
  constexpr int64_t bytes = IsQ4 ? 18 : 34;
  __m256 acc[TT], corr[TT];
  for (int t = 0; t < TT; ++t)
    acc[t] = corr[t] = _mm256_setzero_ps();
  const uint8_t *row = p.w + n * p.rowBytes;
  // The block's weights in the form vpmaddubsw takes them, and its dot
  // product with the activation block xq.
  auto weights = [](const uint8_t *block) {
    if constexpr (IsQ4)
      return q4Nibbles(block);
    else
      return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(block + 2));
  };
  auto blockDot = [](__m256i wq, __m256i xq) {
    __m256i products;
    if constexpr (IsQ4)
      products = _mm256_maddubs_epi16(wq, xq);
    else // |w| (u8) times x with w's sign (s8): exact w * x.
      products =
          _mm256_maddubs_epi16(_mm256_abs_epi8(wq), _mm256_sign_epi8(xq, wq));
    return pairsToFloat(products);
  };
  int64_t blocks = x[0].blocks, b = 0;
  for (; b + 8 <= blocks; b += 8) {
    alignas(32) float scales[TT][8];
    const uint8_t *first = row + bytes * b;
    // The hardware prefetcher ramps up too slowly: fetch the bytes of the
    // next weight row now.
    for (int64_t line = 0; line < 8 * bytes; line += 64)
      _mm_prefetch(reinterpret_cast<const char *>(first + kPrefetchAhead +
                                                  p.rowBytes + line),
                   _MM_HINT_T0);
    __m256 dw = eightScales(first, bytes);
    for (int t = 0; t < TT; ++t) {
      __m256 sc = _mm256_mul_ps(dw, _mm256_loadu_ps(x[t].d + b));
      if constexpr (IsQ4)
        corr[t] = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(_mm256_loadu_si256(
                                          reinterpret_cast<const __m256i *>(
                                              x[t].sums + b))),
                                  corr[t]);
      _mm256_store_ps(scales[t], sc);
    }
    for (int j = 0; j < 8; ++j) {
      __m256i wq = weights(row + bytes * (b + j));
      for (int t = 0; t < TT; ++t)
        acc[t] = _mm256_fmadd_ps(blockDot(wq, loadQ(x[t].q + 32 * (b + j))),
                                 _mm256_broadcast_ss(&scales[t][j]), acc[t]);
    }
  }
  float tail[TT] = {};
  for (; b < blocks; ++b) {
    const uint8_t *block = row + bytes * b;
    __m256i wq = weights(block);
    for (int t = 0; t < TT; ++t) {
      float scale = half(block) * x[t].d[b];
      acc[t] = _mm256_fmadd_ps(blockDot(wq, loadQ(x[t].q + 32 * b)),
                               _mm256_set1_ps(scale), acc[t]);
      if constexpr (IsQ4)
        tail[t] += scale * float(x[t].sums[b]);
    }
  }
  for (int t = 0; t < TT; ++t) {
    float sum = hsum(acc[t]);
    if constexpr (IsQ4)
      sum -= 8.0f * (hsum(corr[t]) + tail[t]);
    p.y[(t0 + t) * p.yStride + n] = sum;
  }
}

/// Runs kernel(std::integral_constant<int, TT>, t0) over activation rows
/// [0, rows) in groups of MaxTT, then one group of the rest.
template <int MaxTT, class Kernel> void rowGroups(int64_t rows, Kernel kernel) {
  int64_t t = 0;
  for (; t + MaxTT <= rows; t += MaxTT)
    kernel(std::integral_constant<int, MaxTT>(), t);
  if constexpr (MaxTT > 1)
    if (t < rows)
      rowGroups<MaxTT - 1>(rows - t, [&](auto tt, int64_t t1) {
        kernel(tt, t + t1);
      });
}

/// 8 weights of a float format as f32.
template <Format F> inline __m256 load8(const uint8_t *p) {
  if constexpr (F == Format::F32)
    return _mm256_loadu_ps(reinterpret_cast<const float *>(p));
  else if constexpr (F == Format::F16)
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
  else
    return _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_cvtepu16_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(p))),
        16));
}

template <Format F> inline float loadOne(const uint8_t *p) {
  uint16_t h;
  if constexpr (F == Format::F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  } else if constexpr (F == Format::F16) {
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
  } else {
    std::memcpy(&h, p, 2);
    uint32_t bits = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
}

/// One weight row n of a float format against TT activation rows (output
/// rows t0..): 32 weights per iteration into four accumulators per
/// activation row, prefetching kPrefetchAhead bytes ahead. Each activation
/// row is summed by the same operations whatever TT is (batch invariance).
template <Format F, int TT>
void floatRow(const Matmul &p, int64_t n, int64_t t0) {
  constexpr int64_t width = F == Format::F32 ? 4 : 2;
  __m256 acc[TT][4];
  for (int t = 0; t < TT; ++t)
    for (__m256 &a : acc[t])
      a = _mm256_setzero_ps();
  const float *xs[TT];
  for (int t = 0; t < TT; ++t)
    xs[t] = p.x + (t0 + t) * p.xStride;
  const uint8_t *row = p.w + n * p.rowBytes;
  int64_t k = 0;
  for (; k + 32 <= p.k; k += 32) {
    const uint8_t *w = row + k * width;
    for (int64_t line = 0; line < 32 * width; line += 64)
      _mm_prefetch(reinterpret_cast<const char *>(w + kPrefetchAhead + line),
                   _MM_HINT_T0);
    for (int i = 0; i < 4; ++i) {
      __m256 wv = load8<F>(w + 8 * i * width);
      for (int t = 0; t < TT; ++t)
        acc[t][i] =
            _mm256_fmadd_ps(wv, _mm256_loadu_ps(xs[t] + k + 8 * i), acc[t][i]);
    }
  }
  for (int t = 0; t < TT; ++t) {
    float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[t][0], acc[t][1]),
                                   _mm256_add_ps(acc[t][2], acc[t][3])));
    // Ragged K: the last elements one at a time (never reading past the
    // row, which may end the mapping).
    for (int64_t j = k; j < p.k; ++j)
      sum += loadOne<F>(row + j * width) * xs[t][j];
    p.y[(t0 + t) * p.yStride + n] = sum;
  }
}

/// The horizontal sums of eight vectors, lane r = hsum(v[r]) bit for bit:
/// the same additions in the same order (halves, then lanes two apart,
/// then neighbours), 15 instructions for the eight instead of 40.
inline __m256 hsum8(const __m256 v[8]) {
  auto halves = [&](int a, int b) { // [lo(a) + hi(a) | lo(b) + hi(b)]
    return _mm256_add_ps(_mm256_permute2f128_ps(v[a], v[b], 0x20),
                         _mm256_permute2f128_ps(v[a], v[b], 0x31));
  };
  __m256 w0 = halves(0, 4), w1 = halves(1, 5), w2 = halves(2, 6),
         w3 = halves(3, 7);
  __m256 z01 =
      _mm256_add_ps(_mm256_shuffle_ps(w0, w1, _MM_SHUFFLE(1, 0, 1, 0)),
                    _mm256_shuffle_ps(w0, w1, _MM_SHUFFLE(3, 2, 3, 2)));
  __m256 z23 =
      _mm256_add_ps(_mm256_shuffle_ps(w2, w3, _MM_SHUFFLE(1, 0, 1, 0)),
                    _mm256_shuffle_ps(w2, w3, _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm256_hadd_ps(z01, z23);
}

/// The running sums of floatPasses: sums[i][t][r] is accumulator i of
/// floatRow (elements 8i..8i+7 of every 32-element block) for activation
/// row t and weight row r of an eight-row block.
using FloatSums = __m256[4][kBatchInvariantRows][8];
/// Blocks of 32 elements per K segment of floatPasses: eight weight rows of
/// a segment (8 KiB of f32) stay in L1 while the four passes read them.
constexpr int64_t kSegmentBlocks = 8;
/// Weight ranges up to this size use floatPasses for calls of several
/// rows (they are likely cached); larger ones stream one row at a time.
constexpr int64_t kPassesMaxBytes = 1 << 20;

/// Weight rows r0..r0 + NR - 1 of the eight at `w` against activation rows
/// t0..t0 + TT - 1 over the 32-element blocks [b0, b1) (a K segment): one
/// pass per accumulator i of floatRow, each pass continuing its chains
/// from `sums` (starting them at b0 = 0), so a weight vector is loaded
/// once for TT activation rows and the NR x TT accumulators fit in
/// registers. After the last segment s[t][r] = (a0 + a1) + (a2 + a3), as
/// floatRow combines them.
template <Format F, int NR, int TT>
void floatPasses(const Matmul &p, const uint8_t *w, int r0, int64_t t0,
                 int64_t b0, int64_t b1, bool last, FloatSums &sums,
                 __m256 (*s)[8]) {
  constexpr int64_t width = F == Format::F32 ? 4 : 2;
  const float *xs[TT];
  for (int t = 0; t < TT; ++t)
    xs[t] = p.x + (t0 + t) * p.xStride;
  const uint8_t *rows[NR];
  for (int r = 0; r < NR; ++r)
    rows[r] = w + (r0 + r) * p.rowBytes;
  auto pass = [&](auto index) {
    constexpr int i = decltype(index)::value;
    __m256 acc[NR][TT];
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < TT; ++t)
        acc[r][t] = b0 == 0 ? _mm256_setzero_ps() : sums[i][t0 + t][r0 + r];
    for (int64_t b = b0; b < b1; ++b) {
      int64_t k = 32 * b + 8 * i;
      if constexpr (TT == 1) {
        __m256 x = _mm256_loadu_ps(xs[0] + k);
        for (int r = 0; r < NR; ++r)
          acc[r][0] =
              _mm256_fmadd_ps(load8<F>(rows[r] + k * width), x, acc[r][0]);
      } else {
        __m256 wv[NR];
        for (int r = 0; r < NR; ++r)
          wv[r] = load8<F>(rows[r] + k * width);
        for (int t = 0; t < TT; ++t) {
          __m256 x = _mm256_loadu_ps(xs[t] + k);
          for (int r = 0; r < NR; ++r)
            acc[r][t] = _mm256_fmadd_ps(wv[r], x, acc[r][t]);
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < TT; ++t) {
        __m256 &a0 = sums[0][t0 + t][r0 + r], &a2 = sums[2][t0 + t][r0 + r];
        if (!last || i == 0 || i == 2)
          sums[i][t0 + t][r0 + r] = acc[r][t];
        else if (i == 1) // a0 + a1
          a0 = _mm256_add_ps(a0, acc[r][t]);
        else // (a0 + a1) + (a2 + a3)
          s[t0 + t][r0 + r] = _mm256_add_ps(a0, _mm256_add_ps(a2, acc[r][t]));
      }
  };
  pass(std::integral_constant<int, 0>());
  pass(std::integral_constant<int, 1>());
  pass(std::integral_constant<int, 2>());
  pass(std::integral_constant<int, 3>());
}

/// Weight rows r0..r0 + NR - 1 of the eight at `w` against activation rows
/// t0..t0 + TT - 1, streamed whole as floatRow streams one (four
/// accumulators each, prefetching kPrefetchAhead bytes ahead): s[t][r] =
/// (a0 + a1) + (a2 + a3).
template <Format F, int NR, int TT>
void floatStream(const Matmul &p, const uint8_t *w, int r0, int64_t t0,
                 __m256 (*s)[8]) {
  constexpr int64_t width = F == Format::F32 ? 4 : 2;
  __m256 acc[NR][TT][4];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < TT; ++t)
      for (__m256 &a : acc[r][t])
        a = _mm256_setzero_ps();
  const float *xs[TT];
  for (int t = 0; t < TT; ++t)
    xs[t] = p.x + (t0 + t) * p.xStride;
  const uint8_t *rows[NR];
  for (int r = 0; r < NR; ++r)
    rows[r] = w + (r0 + r) * p.rowBytes;
  int64_t full = p.k / 32 * 32;
  for (int64_t k = 0; k < full; k += 32) {
    for (int r = 0; r < NR; ++r)
      for (int64_t line = 0; line < 32 * width; line += 64)
        _mm_prefetch(reinterpret_cast<const char *>(rows[r] + k * width +
                                                    kPrefetchAhead + line),
                     _MM_HINT_T0);
    for (int i = 0; i < 4; ++i) {
      if constexpr (TT == 1) {
        __m256 x = _mm256_loadu_ps(xs[0] + k + 8 * i);
        for (int r = 0; r < NR; ++r)
          acc[r][0][i] = _mm256_fmadd_ps(
              load8<F>(rows[r] + (k + 8 * i) * width), x, acc[r][0][i]);
      } else {
        for (int r = 0; r < NR; ++r) {
          __m256 wv = load8<F>(rows[r] + (k + 8 * i) * width);
          for (int t = 0; t < TT; ++t)
            acc[r][t][i] = _mm256_fmadd_ps(
                wv, _mm256_loadu_ps(xs[t] + k + 8 * i), acc[r][t][i]);
        }
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < TT; ++t)
      s[t0 + t][r0 + r] =
          _mm256_add_ps(_mm256_add_ps(acc[r][t][0], acc[r][t][1]),
                        _mm256_add_ps(acc[r][t][2], acc[r][t][3]));
}

/// One activation row with K < 96 (at most two 32-element blocks): the
/// row's x vectors stay in registers for the eight weight rows, each
/// summed as floatStream sums it: s[0][r] = (a0 + a1) + (a2 + a3).
template <Format F>
void floatShortRow(const Matmul &p, const uint8_t *w, __m256 (*s)[8]) {
  constexpr int64_t width = F == Format::F32 ? 4 : 2;
  int64_t blocks = p.k / 32;
  __m256 x[8];
  for (int i = 0; i < 8; ++i)
    x[i] = i < 4 * blocks ? _mm256_loadu_ps(p.x + 8 * i) : _mm256_setzero_ps();
  for (int r = 0; r < 8; ++r) {
    const uint8_t *row = w + r * p.rowBytes;
    __m256 acc[4];
    for (int i = 0; i < 4; ++i)
      acc[i] = _mm256_setzero_ps();
    if (blocks > 0)
      for (int i = 0; i < 4; ++i)
        acc[i] = _mm256_fmadd_ps(load8<F>(row + 8 * i * width), x[i], acc[i]);
    if (blocks > 1)
      for (int i = 0; i < 4; ++i)
        acc[i] = _mm256_fmadd_ps(load8<F>(row + (32 + 8 * i) * width), x[4 + i],
                                 acc[i]);
    s[0][r] = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                            _mm256_add_ps(acc[2], acc[3]));
  }
}

/// Several activation rows with K < 96: each weight row's vectors stay in
/// registers for all the activation rows, each output summed as
/// floatStream sums it: s[t][r] = (a0 + a1) + (a2 + a3).
template <Format F>
void floatShortRows(const Matmul &p, const uint8_t *w, __m256 (*s)[8]) {
  constexpr int64_t width = F == Format::F32 ? 4 : 2;
  int64_t blocks = p.k / 32;
  for (int r = 0; r < 8; ++r) {
    const uint8_t *row = w + r * p.rowBytes;
    __m256 wv[8];
    for (int i = 0; i < 8; ++i)
      wv[i] =
          i < 4 * blocks ? load8<F>(row + 8 * i * width) : _mm256_setzero_ps();
    for (int64_t t = 0; t < p.rows; ++t) {
      const float *x = p.x + t * p.xStride;
      __m256 acc[4];
      for (int i = 0; i < 4; ++i)
        acc[i] = _mm256_setzero_ps();
      if (blocks > 0)
        for (int i = 0; i < 4; ++i)
          acc[i] = _mm256_fmadd_ps(wv[i], _mm256_loadu_ps(x + 8 * i), acc[i]);
      if (blocks > 1)
        for (int i = 0; i < 4; ++i)
          acc[i] = _mm256_fmadd_ps(wv[4 + i], _mm256_loadu_ps(x + 32 + 8 * i),
                                   acc[i]);
      s[t][r] = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                              _mm256_add_ps(acc[2], acc[3]));
    }
  }
}

/// Eight weight rows n0..n0 + 7 against all p.rows activation rows. Every
/// output is floatRow's bit for bit: the same four accumulator chains, the
/// same combination, hsum8 (= hsum), then the ragged elements one at a
/// time (mul then add); only the loops around them differ, chosen by shape
/// (batch invariance is about the order of the sums, not the loops):
///   - K < 96 (at most two blocks): floatShortRow keeps the activation row
///     in registers (one row), floatShortRows each weight row (several);
///   - one row: floatStream over two weight rows at a time;
///   - several rows of a large (streamed) weight: floatStream with up to
///     three activation rows per weight row;
///   - several rows otherwise: floatPasses, each weight vector loaded once
///     for up to six activation rows.
/// The horizontal sums go eight at a time and each activation row's eight
/// outputs are stored as one vector.
template <Format F> void floatBlock(const Matmul &p, int64_t n0, bool stream) {
  constexpr int64_t width = F == Format::F32 ? 4 : 2;
  alignas(32) __m256 s[kBatchInvariantRows][8];
  const uint8_t *w = p.w + n0 * p.rowBytes;
  int64_t full = p.k / 32;
  if (p.rows == 1 && full < 3) {
    floatShortRow<F>(p, w, s);
  } else if (p.rows == 1) {
    for (int r0 = 0; r0 < 8; r0 += 2)
      floatStream<F, 2, 1>(p, w, r0, 0, s);
  } else if (full < 3) {
    floatShortRows<F>(p, w, s);
  } else if (stream) {
    for (int r = 0; r < 8; ++r)
      rowGroups<3>(p.rows, [&](auto tt, int64_t t0) {
        floatStream<F, 1, decltype(tt)::value>(p, w, r, t0, s);
      });
  } else {
    alignas(32) FloatSums sums;
    for (int64_t b0 = 0; b0 < full; b0 += kSegmentBlocks) {
      int64_t b1 = std::min(full, b0 + kSegmentBlocks);
      bool last = b1 == full;
      // This segment of the next eight rows, read next.
      for (int r = 0; r < 8; ++r)
        for (int64_t line = 0; line < (b1 - b0) * 32 * width; line += 64)
          _mm_prefetch(reinterpret_cast<const char *>(w + (8 + r) * p.rowBytes +
                                                      b0 * 32 * width + line),
                       _MM_HINT_T0);
      // NR x TT accumulators and NR weight vectors in registers.
      rowGroups<6>(p.rows, [&](auto tt, int64_t t0) {
        constexpr int TT = decltype(tt)::value;
        if constexpr (TT == 1) {
          floatPasses<F, 8, 1>(p, w, 0, t0, b0, b1, last, sums, s);
        } else if constexpr (TT == 2) {
          floatPasses<F, 4, 2>(p, w, 0, t0, b0, b1, last, sums, s);
          floatPasses<F, 4, 2>(p, w, 4, t0, b0, b1, last, sums, s);
        } else if constexpr (TT == 3) {
          floatPasses<F, 3, 3>(p, w, 0, t0, b0, b1, last, sums, s);
          floatPasses<F, 3, 3>(p, w, 3, t0, b0, b1, last, sums, s);
          floatPasses<F, 2, 3>(p, w, 6, t0, b0, b1, last, sums, s);
        } else {
          for (int r0 = 0; r0 < 8; r0 += 2)
            floatPasses<F, 2, TT>(p, w, r0, t0, b0, b1, last, sums, s);
        }
      });
    }
  }
  // The ragged elements, transposed: tailW[j] holds element 32 * full + j
  // of the eight rows.
  int64_t rest = p.k - 32 * full;
  alignas(32) float tailW[32][8];
  for (int r = 0; r < 8; ++r)
    for (int64_t j = 0; j < rest; ++j)
      tailW[j][r] = loadOne<F>(w + r * p.rowBytes + (32 * full + j) * width);
  for (int64_t t = 0; t < p.rows; ++t) {
    __m256 y = hsum8(s[t]);
    const float *x = p.x + t * p.xStride + 32 * full;
    for (int64_t j = 0; j < rest; ++j) // sum += w * x, not fused
      y = _mm256_add_ps(
          y, _mm256_mul_ps(_mm256_load_ps(tailW[j]), _mm256_set1_ps(x[j])));
    _mm256_storeu_ps(p.y + t * p.yStride + n0, y);
  }
}

/// Weight rows [nBegin, nEnd) of a float format: eight at a time through
/// floatBlock, the rest one at a time through floatRow (the same sums
/// either way).
template <Format F>
void floatRange(const Matmul &p, int64_t nBegin, int64_t nEnd) {
  bool stream = (nEnd - nBegin) * p.rowBytes > kPassesMaxBytes;
  int64_t n = nBegin;
  for (; n + 8 <= nEnd; n += 8)
    floatBlock<F>(p, n, stream);
  for (; n < nEnd; ++n)
    rowGroups<3>(p.rows, [&](auto tt, int64_t t0) {
      floatRow<F, decltype(tt)::value>(p, n, t0);
    });
}

/// Weight rows [nBegin, nEnd) of Q4_0/Q8_0 against the quantized rows,
/// one weight row at a time: a single stream prefetches best (measured
/// against four interleaved rows, which share activation loads but run
/// ~40% slower from memory); up to four activation rows share it.
template <bool IsQ4>
void quantRange(const Matmul &p, const QuantizedRow *x, int64_t nBegin,
                int64_t nEnd) {
  if (p.rows == 1) { // decode: no row-group dispatch per weight row
    for (int64_t n = nBegin; n < nEnd; ++n)
      quantRow<IsQ4, 1>(p, x, n, 0);
    return;
  }
  for (int64_t n = nBegin; n < nEnd; ++n)
    rowGroups<4>(p.rows, [&](auto tt, int64_t t0) {
      quantRow<IsQ4, decltype(tt)::value>(p, x + t0, n, t0);
    });
}

} // namespace

void llmc::kernels::quantizeRowAVX2(const float *x, int64_t k,
                                    QuantizedRow &out) {
  for (int64_t b = 0; b < out.blocks; ++b) {
    alignas(32) float v[32];
    int64_t width = std::min<int64_t>(32, k - 32 * b);
    std::memset(v, 0, sizeof(v));
    std::memcpy(v, x + 32 * b, size_t(width) * 4);
    __m256 amax = _mm256_setzero_ps();
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int i = 0; i < 4; ++i)
      amax = _mm256_max_ps(amax, _mm256_and_ps(_mm256_load_ps(v + 8 * i), absMask));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax),
                          _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    float maxAbs = _mm_cvtss_f32(m);
    float d = maxAbs / 127.0f, inv = maxAbs > 0.0f ? 127.0f / maxAbs : 0.0f;
    __m256i q32[4];
    for (int i = 0; i < 4; ++i)
      q32[i] = _mm256_cvtps_epi32(_mm256_round_ps(
          _mm256_mul_ps(_mm256_load_ps(v + 8 * i), _mm256_set1_ps(inv)),
          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    // Pack 32 i32 to 32 i8 in element order.
    __m256i q16a = _mm256_packs_epi32(q32[0], q32[1]);
    __m256i q16b = _mm256_packs_epi32(q32[2], q32[3]);
    __m256i q8 = _mm256_packs_epi16(q16a, q16b);
    q8 = _mm256_permutevar8x32_epi32(q8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(out.q + 32 * b), q8);
    __m256i sum32 = _mm256_add_epi32(_mm256_add_epi32(q32[0], q32[1]),
                                     _mm256_add_epi32(q32[2], q32[3]));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum32),
                              _mm256_extracti128_si256(sum32, 1));
    s = _mm_hadd_epi32(s, s);
    s = _mm_hadd_epi32(s, s);
    out.d[b] = d;
    out.sums[b] = _mm_cvtsi128_si32(s);
  }
}

void llmc::kernels::matvecAVX2(const Matmul &p, const QuantizedRow *x,
                               int64_t nBegin, int64_t nEnd) {
  if (!x && (p.format == Format::Q4_0 || p.format == Format::Q8_0))
    return matmulAVX2(p, nBegin, nEnd);
  switch (p.format) {
  case Format::Q4_0:
    return quantRange<true>(p, x, nBegin, nEnd);
  case Format::Q8_0:
    return quantRange<false>(p, x, nBegin, nEnd);
  case Format::F32:
    return floatRange<Format::F32>(p, nBegin, nEnd);
  case Format::F16:
    return floatRange<Format::F16>(p, nBegin, nEnd);
  case Format::BF16:
    return floatRange<Format::BF16>(p, nBegin, nEnd);
  default:
    return matmulAVX2(p, nBegin, nEnd);
  }
}
