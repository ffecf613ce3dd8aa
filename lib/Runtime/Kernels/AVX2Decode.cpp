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
//   - F32 / F16 / BF16 stream 32 weights per iteration into 4 accumulators
//     per activation row.
// Each weight row is streamed once and used for a few activation rows at a
// time, each summed by the operations it would get alone, so a row's
// result does not depend on the call's row count (batch invariance).
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

/// Weight rows [nBegin, nEnd) of a float format: up to three activation
/// rows share each weight load (12 accumulators).
template <Format F>
void floatRange(const Matmul &p, int64_t nBegin, int64_t nEnd) {
  if (p.rows == 1) { // decode: no row-group dispatch per weight row
    for (int64_t n = nBegin; n < nEnd; ++n)
      floatRow<F, 1>(p, n, 0);
    return;
  }
  for (int64_t n = nBegin; n < nEnd; ++n)
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
