//===- AVX512.cpp - AVX-512 kernels ----------------------------------------===//
//
// Part of llmc. Compiled with AVX-512 (F, BW, VL, DQ), F16C and FMA enabled
// for this file only; the entry points call it only on CPUs that have them.
//
// Matrix products: a tile of NR weight rows x TT activation rows keeps one
// or two accumulators per output in registers; each weight block is
// decoded once into 16-lane f32 vectors (scaled) and used for all TT
// activation rows, so a decode step (TT = 1) streams every packed byte once
// and prefill reuses each decoded block TT times. Every tile shape sums an
// output in the same order, so a row's result does not depend on the
// call's row count (batch invariance, at any T). K is walked in blocks; a
// ragged last block (K not a multiple of the block) is decoded to memory
// and finished in scalar code, so no activation is read past K.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <limits>

using namespace llmc::kernels;

bool llmc::kernels::avx512Supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("f16c") &&
         __builtin_cpu_supports("fma");
}

namespace {

inline float half(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

/// An f16 block scale in every lane. Not _mm512_set1_ps(half(p)): that
/// compiles to a vpinsrw merging into a register that still holds the
/// previous block's result, a false dependency chaining every block's
/// decode to the one before.
inline __m512 halfVector(const uint8_t *p) {
  int16_t h;
  std::memcpy(&h, p, 2);
  return _mm512_cvtph_ps(_mm256_set1_epi16(h));
}

inline __m128i load128(const uint8_t *p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
}
inline __m256i load256(const uint8_t *p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
}

//===----------------------------------------------------------------------===//
// Block decoders: `decode(block, out)` writes kVectors scaled f32 vectors.
//===----------------------------------------------------------------------===//

struct F32Block {
  static constexpr int kElements = 32, kBytes = 128, kVectors = 2;
  static void decode(const uint8_t *b, __m512 *v) {
    v[0] = _mm512_loadu_ps(b);
    v[1] = _mm512_loadu_ps(b + 64);
  }
};

struct F16Block {
  static constexpr int kElements = 32, kBytes = 64, kVectors = 2;
  static void decode(const uint8_t *b, __m512 *v) {
    v[0] = _mm512_cvtph_ps(load256(b));
    v[1] = _mm512_cvtph_ps(load256(b + 32));
  }
};

struct BF16Block {
  static constexpr int kElements = 32, kBytes = 64, kVectors = 2;
  static __m512 widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static void decode(const uint8_t *b, __m512 *v) {
    v[0] = widen(load256(b));
    v[1] = widen(load256(b + 32));
  }
};

struct Q8_0Block {
  static constexpr int kElements = 32, kBytes = 34, kVectors = 2;
  static void decode(const uint8_t *b, __m512 *v) {
    __m512 d = halfVector(b);
    v[0] = _mm512_mul_ps(
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load128(b + 2))), d);
    v[1] = _mm512_mul_ps(
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load128(b + 18))), d);
  }
};

struct Q4_0Block {
  static constexpr int kElements = 32, kBytes = 18, kVectors = 2;
  static void decode(const uint8_t *b, __m512 *v) {
    // q - 8 for every nibble value, looked up by vpermps.
    const __m512 table =
        _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    __m512 d = halfVector(b);
    __m512i bytes = _mm512_cvtepu8_epi32(load128(b + 2));
    __m512i lo = _mm512_and_si512(bytes, _mm512_set1_epi32(15));
    __m512i hi = _mm512_srli_epi32(bytes, 4);
    v[0] = _mm512_mul_ps(_mm512_permutexvar_ps(lo, table), d);
    v[1] = _mm512_mul_ps(_mm512_permutexvar_ps(hi, table), d);
  }
};

struct Q4_KBlock {
  static constexpr int kElements = 256, kBytes = 144, kVectors = 16;
  static void decode(const uint8_t *b, __m512 *v) {
    float d = half(b), dmin = half(b + 2);
    const uint8_t *scales = b + 4, *qs = b + 16;
    for (int chunk = 0; chunk < 4; ++chunk) {
      __m512i a = _mm512_cvtepu8_epi32(load128(qs + chunk * 32));
      __m512i c = _mm512_cvtepu8_epi32(load128(qs + chunk * 32 + 16));
      for (int nibble = 0; nibble < 2; ++nibble) {
        int is = chunk * 2 + nibble, sc, m;
        q4kScaleMin(scales, is, sc, m);
        __m512 scale = _mm512_set1_ps(d * float(sc));
        __m512 offset = _mm512_set1_ps(dmin * float(m));
        __m512i qa = nibble ? _mm512_srli_epi32(a, 4)
                            : _mm512_and_si512(a, _mm512_set1_epi32(15));
        __m512i qc = nibble ? _mm512_srli_epi32(c, 4)
                            : _mm512_and_si512(c, _mm512_set1_epi32(15));
        v[is * 2] = _mm512_fmsub_ps(_mm512_cvtepi32_ps(qa), scale, offset);
        v[is * 2 + 1] = _mm512_fmsub_ps(_mm512_cvtepi32_ps(qc), scale, offset);
      }
    }
  }
};

struct Q6_KBlock {
  static constexpr int kElements = 256, kBytes = 210, kVectors = 16;
  static void decode(const uint8_t *b, __m512 *v) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
    float d = half(b + 208);
    const __m512i mask4 = _mm512_set1_epi32(15), mask2 = _mm512_set1_epi32(3),
                  bias = _mm512_set1_epi32(32);
    for (int h = 0; h < 2; ++h)
      for (int quarter = 0; quarter < 4; ++quarter)
        for (int piece = 0; piece < 2; ++piece) {
          __m512i low = _mm512_cvtepu8_epi32(
              load128(ql + h * 64 + (quarter % 2) * 32 + piece * 16));
          low = _mm512_and_si512(
              _mm512_srli_epi32(low, unsigned((quarter / 2) * 4)), mask4);
          __m512i high =
              _mm512_cvtepu8_epi32(load128(qh + h * 32 + piece * 16));
          high = _mm512_and_si512(
              _mm512_srli_epi32(high, unsigned(quarter * 2)), mask2);
          __m512i q = _mm512_sub_epi32(
              _mm512_or_si512(low, _mm512_slli_epi32(high, 4)), bias);
          float scale = d * float(sc[h * 8 + piece + quarter * 2]);
          v[h * 8 + quarter * 2 + piece] =
              _mm512_mul_ps(_mm512_cvtepi32_ps(q), _mm512_set1_ps(scale));
        }
  }
};

//===----------------------------------------------------------------------===//
// Matrix product tiles
//===----------------------------------------------------------------------===//

/// Activation rows per cache chunk: 64 rows of K <= 8192 floats stay in L2
/// while every weight row of the thread's range passes over them.
constexpr int64_t kRowChunk = 64;

/// Accumulators per output: two for the 16-vector K-quant blocks (vector
/// i of a block goes to i % 2), so a block's FMAs form short chains; one
/// for the 2-vector blocks, whose tiles then hold twice the outputs.
template <class B> constexpr int accumulators() {
  return B::kVectors > 2 ? 2 : 1;
}

/// NR weight rows x TT activation rows. Every output gets the same
/// accumulators<B>() accumulators whatever NR and TT are, so each output
/// is summed in the same order by every tile shape: a row's result does
/// not depend on the call's row count (batch invariance).
template <class B, int NR, int TT>
void tile(const Matmul &p, int64_t n0, int64_t t0) {
  constexpr int V = B::kVectors, A = accumulators<B>();
  __m512 acc[NR][TT][A];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < TT; ++t)
      for (int a = 0; a < A; ++a)
        acc[r][t][a] = _mm512_setzero_ps();
  const uint8_t *rows[NR];
  for (int r = 0; r < NR; ++r)
    rows[r] = p.w + (n0 + r) * p.rowBytes;
  const float *xs[TT];
  for (int t = 0; t < TT; ++t)
    xs[t] = p.x + (t0 + t) * p.xStride;
  int64_t full = p.k / B::kElements;
  for (int64_t blk = 0; blk < full; ++blk) {
    int64_t k0 = blk * B::kElements;
    for (int r = 0; r < NR; ++r) {
      __m512 w[V];
      B::decode(rows[r] + blk * B::kBytes, w);
      // Constant accumulator indices (i steps by A), so the accumulators
      // stay in registers when the compiler keeps the loop.
      for (int i = 0; i < V; i += A)
        for (int a = 0; a < A; ++a)
          for (int t = 0; t < TT; ++t)
            acc[r][t][a] = _mm512_fmadd_ps(
                w[i + a], _mm512_loadu_ps(xs[t] + k0 + 16 * (i + a)),
                acc[r][t][a]);
    }
  }
  float tail[NR][TT] = {};
  int64_t rest = p.k - full * B::kElements;
  if (rest > 0) {
    alignas(64) float decoded[B::kElements];
    for (int r = 0; r < NR; ++r) {
      decodeLeadingScalar(p.format, rows[r] + full * B::kBytes, rest, decoded);
      for (int t = 0; t < TT; ++t) {
        const float *x = xs[t] + full * B::kElements;
        float sum = 0.0f;
        for (int64_t j = 0; j < rest; ++j)
          sum += x[j] * decoded[j];
        tail[r][t] = sum;
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < TT; ++t)
      p.y[(t0 + t) * p.yStride + n0 + r] =
          _mm512_reduce_add_ps(A == 2 ? _mm512_add_ps(acc[r][t][0],
                                                       acc[r][t][A - 1])
                                      : acc[r][t][0]) +
          tail[r][t];
}

/// Weight rows n0.. (NR of them) over activation rows [tBegin, tEnd): TT
/// rows at a time, then one tile of the rest.
template <class B, int NR, int TT>
void tileRows(const Matmul &p, int64_t n0, int64_t tBegin, int64_t tEnd) {
  int64_t t = tBegin;
  for (; t + TT <= tEnd; t += TT)
    tile<B, NR, TT>(p, n0, t);
  if constexpr (TT > 1)
    if (t < tEnd)
      tileRows<B, NR, TT - 1>(p, n0, t, tEnd);
}

/// One activation row (decode): 8 / A weight rows, 8 accumulators. More:
/// NR weight rows x 4 activation rows (4 x 4 with one accumulator, 3 x 4
/// with two: 16 or 24 of the 32 zmm registers, each decoded block used 4
/// times; measured ahead of 4 x 2 and 2 x 4).
template <class B>
void matmulBlocks(const Matmul &p, int64_t nBegin, int64_t nEnd) {
  constexpr int A = accumulators<B>(), Decode = 8 / A, NR = A == 1 ? 4 : 3;
  if (p.rows == 1) {
    int64_t n = nBegin;
    for (; n + Decode <= nEnd; n += Decode)
      tile<B, Decode, 1>(p, n, 0);
    for (; n < nEnd; ++n)
      tile<B, 1, 1>(p, n, 0);
    return;
  }
  for (int64_t tc = 0; tc < p.rows; tc += kRowChunk) {
    int64_t tEnd = std::min(p.rows, tc + kRowChunk);
    int64_t n = nBegin;
    for (; n + NR <= nEnd; n += NR)
      tileRows<B, NR, 4>(p, n, tc, tEnd);
    for (; n < nEnd; ++n)
      tileRows<B, 1, 4>(p, n, tc, tEnd);
  }
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// e^x for x <= 0 (scores minus their running maximum): 2^n * p(r) with
/// r = x - n ln 2 in [-ln2/2, ln2/2] and a degree-6 Taylor polynomial
/// (relative error < 2e-7).
inline __m512 expNonPositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  __m512 n = _mm512_roundscale_ps(
      _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 poly = _mm512_set1_ps(1.0f / 720);
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.0f / 120));
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.0f / 24));
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.0f / 6));
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(0.5f));
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.0f));
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(poly, n);
}

/// Positions scored at once before the softmax update.
constexpr int64_t kPositionChunk = 128;

} // namespace

void llmc::kernels::matmulAVX512(const Matmul &p, int64_t nBegin,
                                 int64_t nEnd) {
  switch (p.format) {
  case Format::F32:
    return matmulBlocks<F32Block>(p, nBegin, nEnd);
  case Format::F16:
    return matmulBlocks<F16Block>(p, nBegin, nEnd);
  case Format::BF16:
    return matmulBlocks<BF16Block>(p, nBegin, nEnd);
  case Format::Q8_0:
    return matmulBlocks<Q8_0Block>(p, nBegin, nEnd);
  case Format::Q4_0:
    return matmulBlocks<Q4_0Block>(p, nBegin, nEnd);
  case Format::Q4_K:
    return matmulBlocks<Q4_KBlock>(p, nBegin, nEnd);
  case Format::Q6_K:
    return matmulBlocks<Q6_KBlock>(p, nBegin, nEnd);
  }
}

void llmc::kernels::attentionAVX512(const Attention &p, int64_t hBegin,
                                    int64_t hEnd) {
  int64_t group = p.heads / p.kvHeads, d = p.headDim;
  int64_t vectors = (d + 15) / 16;
  if (vectors > 16) // head_dim > 256: the portable kernel
    return attentionScalar(p, hBegin, hEnd);
  __mmask16 lastMask = __mmask16((1u << (d - (vectors - 1) * 16)) - 1);
  auto maskOf = [&](int64_t i) {
    return i == vectors - 1 ? lastMask : __mmask16(0xffff);
  };
  alignas(64) float scores[kPositionChunk];
  for (int64_t h = hBegin; h < hEnd; ++h) {
    const float *keys = p.keys + (h / group) * p.kvHeadStride;
    const float *values = p.values + (h / group) * p.kvHeadStride;
    for (int64_t t = 0; t < p.rows; ++t) {
      const float *q = p.q + t * p.qStride + h * d;
      float *out = p.out + t * p.outStride + h * d;
      __m512 qv[16], acc[16];
      for (int64_t i = 0; i < vectors; ++i) {
        qv[i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(maskOf(i), q + 16 * i),
                              _mm512_set1_ps(p.scale));
        acc[i] = _mm512_setzero_ps();
      }
      int64_t query = p.pos + t;
      int64_t last = p.causal ? query : p.pos + p.rows - 1;
      int64_t first =
          p.window > 0 ? std::max<int64_t>(0, query - p.window + 1) : 0;
      float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
      for (int64_t s0 = first; s0 <= last; s0 += kPositionChunk) {
        int64_t count = std::min(kPositionChunk, last + 1 - s0);
        float chunkMax = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < count; ++j) {
          const float *k = keys + (s0 + j) * p.posStride;
          __m512 dot = _mm512_mul_ps(qv[0], _mm512_maskz_loadu_ps(maskOf(0), k));
          for (int64_t i = 1; i < vectors; ++i)
            dot = _mm512_fmadd_ps(
                qv[i], _mm512_maskz_loadu_ps(maskOf(i), k + 16 * i), dot);
          float score = _mm512_reduce_add_ps(dot);
          scores[j] = score;
          chunkMax = std::max(chunkMax, score);
        }
        float mNew = std::max(m, chunkMax);
        float correction = std::exp(m - mNew);
        l *= correction;
        for (int64_t i = 0; i < vectors; ++i)
          acc[i] = _mm512_mul_ps(acc[i], _mm512_set1_ps(correction));
        __m512 maxV = _mm512_set1_ps(mNew), sums = _mm512_setzero_ps();
        for (int64_t j = 0; j < count; j += 16) {
          __mmask16 mask = count - j >= 16 ? __mmask16(0xffff)
                                           : __mmask16((1u << (count - j)) - 1);
          __m512 e = expNonPositive(
              _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, scores + j), maxV));
          e = _mm512_maskz_mov_ps(mask, e);
          sums = _mm512_add_ps(sums, e);
          _mm512_mask_storeu_ps(scores + j, mask, e);
        }
        l += _mm512_reduce_add_ps(sums);
        for (int64_t j = 0; j < count; ++j) {
          const float *v = values + (s0 + j) * p.posStride;
          __m512 weight = _mm512_set1_ps(scores[j]);
          for (int64_t i = 0; i < vectors; ++i)
            acc[i] = _mm512_fmadd_ps(
                weight, _mm512_maskz_loadu_ps(maskOf(i), v + 16 * i), acc[i]);
        }
        m = mNew;
      }
      __m512 inv = _mm512_set1_ps(l > 0.0f ? 1.0f / l : 0.0f);
      for (int64_t i = 0; i < vectors; ++i)
        _mm512_mask_storeu_ps(out + 16 * i, maskOf(i),
                              _mm512_mul_ps(acc[i], inv));
    }
  }
}
