//===- AVX2Decode.cpp - AVX2 matrix-vector kernels for decode steps -------===//
//
// Part of llmc. One activation row (a decode step) is bound by the weight
// bytes streamed, so these kernels spend as few instructions per weight as
// possible:
//   - Q4_0 / Q8_0 use integer dot products against the activation row
//     quantized to 8 bits per 32-element block (as ggml's Q8_0: d = max|x| /
//     127, q = round-to-nearest-even(x / d)): vpmaddubsw + vpmaddwd per 32
//     weights, then one FMA by d_w * d_x. Q4_0's nibbles are unsigned, so
//     the block's sum of q_x times 8 is subtracted once per block.
//   - F32 / F16 / BF16 stream 32 weights per iteration into 4 accumulators.
// Four weight rows share every activation load.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <immintrin.h>

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

/// Q4_0 or Q8_0 rows n0 .. n0+NR-1 against the quantized row. Blocks go in
/// groups of eight: the eight d_w * d_x products (and Q4_0's correction
/// -8 * d_w * d_x * sum q_x) are computed as one vector, then each block
/// costs a nibble split (Q4_0) or sign fix-up (Q8_0), vpmaddubsw, vpmaddwd,
/// a conversion and an FMA by its broadcast scale.
template <bool IsQ4, int NR>
void quantRows(const Matmul &p, const QuantizedRow &x, int64_t n0) {
  constexpr int64_t bytes = IsQ4 ? 18 : 34;
  __m256 acc[NR], corr[NR];
  for (int r = 0; r < NR; ++r)
    acc[r] = corr[r] = _mm256_setzero_ps();
  const uint8_t *row = p.w + n0 * p.rowBytes;
  auto blockDot = [&](const uint8_t *block, __m256i xq) {
    __m256i products;
    if constexpr (IsQ4) {
      products = _mm256_maddubs_epi16(q4Nibbles(block), xq);
    } else {
      __m256i wq =
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(block + 2));
      // |w| (u8) times x with w's sign (s8): exact w * x.
      products =
          _mm256_maddubs_epi16(_mm256_abs_epi8(wq), _mm256_sign_epi8(xq, wq));
    }
    return pairsToFloat(products);
  };
  int64_t b = 0;
  for (; b + 8 <= x.blocks; b += 8) {
    alignas(32) float scales[NR][8];
    __m256 dx = _mm256_loadu_ps(x.d + b);
    for (int r = 0; r < NR; ++r) {
      const uint8_t *first = row + r * p.rowBytes + bytes * b;
      // The hardware prefetcher ramps up too slowly for NR interleaved
      // streams: fetch the next row group's bytes now.
      for (int64_t line = 0; line < 8 * bytes; line += 64)
        _mm_prefetch(reinterpret_cast<const char *>(first + kPrefetchAhead +
                                                    NR * p.rowBytes + line),
                     _MM_HINT_T0);
      __m256 sc = _mm256_mul_ps(eightScales(first, bytes), dx);
      if constexpr (IsQ4)
        corr[r] = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(_mm256_loadu_si256(
                                          reinterpret_cast<const __m256i *>(
                                              x.sums + b))),
                                  corr[r]);
      _mm256_store_ps(scales[r], sc);
    }
    for (int j = 0; j < 8; ++j) {
      __m256i xq = loadQ(x.q + 32 * (b + j));
      for (int r = 0; r < NR; ++r) {
        const uint8_t *block = row + r * p.rowBytes + bytes * (b + j);
        acc[r] = _mm256_fmadd_ps(blockDot(block, xq),
                                 _mm256_broadcast_ss(&scales[r][j]), acc[r]);
      }
    }
  }
  float tail[NR] = {};
  for (; b < x.blocks; ++b) {
    __m256i xq = loadQ(x.q + 32 * b);
    for (int r = 0; r < NR; ++r) {
      const uint8_t *block = row + r * p.rowBytes + bytes * b;
      float scale = half(block) * x.d[b];
      acc[r] = _mm256_fmadd_ps(blockDot(block, xq), _mm256_set1_ps(scale),
                               acc[r]);
      if constexpr (IsQ4)
        tail[r] += scale * float(x.sums[b]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    float sum = hsum(acc[r]);
    if constexpr (IsQ4)
      sum -= 8.0f * (hsum(corr[r]) + tail[r]);
    p.y[n0 + r] = sum;
  }
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

/// One row of a float format: 32 weights per iteration into four
/// accumulators, prefetching kPrefetchAhead bytes ahead.
template <Format F> void floatRow(const Matmul &p, int64_t n) {
  constexpr int64_t width = F == Format::F32 ? 4 : 2;
  __m256 acc[4];
  for (__m256 &a : acc)
    a = _mm256_setzero_ps();
  const uint8_t *row = p.w + n * p.rowBytes;
  int64_t k = 0;
  for (; k + 32 <= p.k; k += 32) {
    const uint8_t *w = row + k * width;
    for (int64_t line = 0; line < 32 * width; line += 64)
      _mm_prefetch(reinterpret_cast<const char *>(w + kPrefetchAhead + line),
                   _MM_HINT_T0);
    for (int i = 0; i < 4; ++i)
      acc[i] = _mm256_fmadd_ps(load8<F>(w + 8 * i * width),
                               _mm256_loadu_ps(p.x + k + 8 * i), acc[i]);
  }
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                                 _mm256_add_ps(acc[2], acc[3])));
  // Ragged K: the last elements one at a time (never reading past the row,
  // which may end the mapping).
  for (; k < p.k; ++k)
    sum += loadOne<F>(row + k * width) * p.x[k];
  p.y[n] = sum;
}

template <Format F>
void floatRange(const Matmul &p, int64_t nBegin, int64_t nEnd) {
  for (int64_t n = nBegin; n < nEnd; ++n)
    floatRow<F>(p, n);
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
  int64_t n = nBegin;
  switch (p.format) {
  case Format::Q4_0:
    // One row at a time: a single stream prefetches best (measured against
    // four interleaved rows, which share activation loads but run ~40%
    // slower from memory).
    for (; n < nEnd; ++n)
      quantRows<true, 1>(p, *x, n);
    return;
  case Format::Q8_0:
    for (; n < nEnd; ++n)
      quantRows<false, 1>(p, *x, n);
    return;
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
