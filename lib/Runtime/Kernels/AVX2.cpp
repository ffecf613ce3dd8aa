//===- AVX2.cpp - AVX2 + FMA + F16C kernels --------------------------------===//
//
// Part of llmc. Compiled with AVX2, FMA and F16C enabled for this file
// only; the entry points call it only on CPUs that have them. The same
// scheme as AVX512.cpp with 8-lane vectors: a tile of NR weight rows x TT
// activation rows of accumulators; each weight block is decoded once into
// scaled f32 vectors and used for all TT activation rows; a ragged last
// block is decoded to memory and finished in scalar code. Calls of more
// than kBatchInvariantRows rows (prefill) run a packed GEMM instead.
// Attention over heads of 8 or 16 dims transposes each chunk of keys once
// for all queries of a KV head (attentionSmallHeads).
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <limits>
#include <type_traits>

using namespace llmc::kernels;

bool llmc::kernels::avx2Supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}

namespace {

inline float half(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

/// An f16 block scale in every lane. Not _mm256_set1_ps(half(p)): that
/// compiles to a vpinsrw merging into a register that still holds the
/// previous block's result, a false dependency chaining every block's
/// decode to the one before.
inline __m256 halfVector(const uint8_t *p) {
  int16_t h;
  std::memcpy(&h, p, 2);
  return _mm256_cvtph_ps(_mm_set1_epi16(h));
}

inline __m128i load128(const uint8_t *p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
}
inline __m128i load64(const uint8_t *p) {
  return _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

//===----------------------------------------------------------------------===//
// Block decoders: `decode(block, out)` writes kVectors scaled f32 vectors.
//===----------------------------------------------------------------------===//

struct F32Block {
  static constexpr bool kPacked = false;
  static constexpr int kElements = 32, kBytes = 128, kVectors = 4;
  static void decode(const uint8_t *b, __m256 *v) {
    for (int i = 0; i < 4; ++i)
      v[i] = _mm256_loadu_ps(reinterpret_cast<const float *>(b) + 8 * i);
  }
};

struct F16Block {
  static constexpr bool kPacked = false;
  static constexpr int kElements = 32, kBytes = 64, kVectors = 4;
  static void decode(const uint8_t *b, __m256 *v) {
    for (int i = 0; i < 4; ++i)
      v[i] = _mm256_cvtph_ps(load128(b + 16 * i));
  }
};

struct BF16Block {
  static constexpr bool kPacked = false;
  static constexpr int kElements = 32, kBytes = 64, kVectors = 4;
  static void decode(const uint8_t *b, __m256 *v) {
    for (int i = 0; i < 4; ++i)
      v[i] = _mm256_castsi256_ps(
          _mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(b + 16 * i)), 16));
  }
};

struct Q8_0Block {
  static constexpr bool kPacked = true;
  static constexpr int kElements = 32, kBytes = 34, kVectors = 4;
  static void decode(const uint8_t *b, __m256 *v) {
    __m256 d = halfVector(b);
    for (int i = 0; i < 4; ++i)
      v[i] = _mm256_mul_ps(
          _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(load64(b + 2 + 8 * i))), d);
  }
};

struct Q4_0Block {
  static constexpr bool kPacked = true;
  static constexpr int kElements = 32, kBytes = 18, kVectors = 4;
  static void decode(const uint8_t *b, __m256 *v) {
    __m256 d = halfVector(b);
    const __m256i mask = _mm256_set1_epi32(15), eight = _mm256_set1_epi32(8);
    for (int i = 0; i < 2; ++i) {
      __m256i bytes = _mm256_cvtepu8_epi32(load64(b + 2 + 8 * i));
      __m256i lo = _mm256_sub_epi32(_mm256_and_si256(bytes, mask), eight);
      __m256i hi = _mm256_sub_epi32(_mm256_srli_epi32(bytes, 4), eight);
      v[i] = _mm256_mul_ps(_mm256_cvtepi32_ps(lo), d);     // elements 8i..
      v[i + 2] = _mm256_mul_ps(_mm256_cvtepi32_ps(hi), d); // 16 + 8i..
    }
  }
};

struct Q4_KBlock {
  static constexpr bool kPacked = true;
  static constexpr int kElements = 256, kBytes = 144, kVectors = 32;
  static void decode(const uint8_t *b, __m256 *v) {
    float d = half(b), dmin = half(b + 2);
    const uint8_t *scales = b + 4, *qs = b + 16;
    const __m256i mask = _mm256_set1_epi32(15);
    for (int is = 0; is < 8; ++is) {
      int sc, m;
      q4kScaleMin(scales, is, sc, m);
      __m256 scale = _mm256_set1_ps(d * float(sc));
      __m256 offset = _mm256_set1_ps(dmin * float(m));
      const uint8_t *q = qs + (is / 2) * 32;
      for (int i = 0; i < 4; ++i) {
        __m256i bytes = _mm256_cvtepu8_epi32(load64(q + 8 * i));
        __m256i nib = is % 2 ? _mm256_srli_epi32(bytes, 4)
                             : _mm256_and_si256(bytes, mask);
        v[is * 4 + i] = _mm256_fmsub_ps(_mm256_cvtepi32_ps(nib), scale, offset);
      }
    }
  }
};

struct Q6_KBlock {
  static constexpr bool kPacked = true;
  static constexpr int kElements = 256, kBytes = 210, kVectors = 32;
  static void decode(const uint8_t *b, __m256 *v) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
    float d = half(b + 208);
    const __m256i mask4 = _mm256_set1_epi32(15), mask2 = _mm256_set1_epi32(3),
                  bias = _mm256_set1_epi32(32);
    for (int h = 0; h < 2; ++h)
      for (int quarter = 0; quarter < 4; ++quarter)
        for (int piece = 0; piece < 4; ++piece) { // 8 of the 32 elements
          int l = piece * 8;
          __m256i low = _mm256_cvtepu8_epi32(
              load64(ql + h * 64 + (quarter % 2) * 32 + l));
          low = _mm256_and_si256(
              _mm256_srli_epi32(low, (quarter / 2) * 4), mask4);
          __m256i high = _mm256_cvtepu8_epi32(load64(qh + h * 32 + l));
          high = _mm256_and_si256(_mm256_srli_epi32(high, quarter * 2), mask2);
          __m256i q = _mm256_sub_epi32(
              _mm256_or_si256(low, _mm256_slli_epi32(high, 4)), bias);
          float scale = d * float(sc[h * 8 + l / 16 + quarter * 2]);
          v[h * 16 + quarter * 4 + piece] =
              _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(scale));
        }
  }
};

//===----------------------------------------------------------------------===//
// Matrix product tiles
//===----------------------------------------------------------------------===//

/// NR weight rows x TT activation rows. Every output has two accumulators
/// (vector i of a block goes to i % 2) whatever NR and TT are, so each
/// output is summed in the same order by every tile shape: a row's result
/// does not depend on the call's row count (batch invariance).
template <class B, int NR, int TT>
void tile(const Matmul &p, int64_t n0, int64_t t0) {
  constexpr int V = B::kVectors, A = 2;
  __m256 acc[NR][TT][A];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < TT; ++t)
      for (int a = 0; a < A; ++a)
        acc[r][t][a] = _mm256_setzero_ps();
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
      __m256 w[V];
      B::decode(rows[r] + blk * B::kBytes, w);
      // Constant accumulator indices (i steps by A), so the accumulators
      // stay in registers when the compiler keeps the loop.
      for (int i = 0; i < V; i += A)
        for (int a = 0; a < A; ++a)
          for (int t = 0; t < TT; ++t)
            acc[r][t][a] = _mm256_fmadd_ps(
                w[i + a], _mm256_loadu_ps(xs[t] + k0 + 8 * (i + a)),
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
          hsum(_mm256_add_ps(acc[r][t][0], acc[r][t][1])) + tail[r][t];
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

//===----------------------------------------------------------------------===//
// Prefill: packed GEMM
//===----------------------------------------------------------------------===//

/// More than kBatchInvariantRows activation rows (prefill; its sums run in
/// another order than the direct tiles', which smaller calls keep): weights
/// are decoded once into a packed panel of kPanelColumns output columns x
/// kPanelDepth K elements (k-major, f32, per thread, L1-sized), and a 6 x
/// 16 register-blocked micro-kernel (12 accumulators: 6 activation rows x 2
/// vectors of 8 columns) runs every activation row over it: per k, 2 panel
/// loads, 6 broadcasts and 12 FMAs, the classic SGEMM shape.
constexpr int64_t kPanelColumns = 16, kPanelDepth = 256, kMicroRows = 6;

/// Decodes K elements [k0, k0 + len) of one weight row into `out`; k0 is a
/// multiple of the block. Float formats read no element past K.
template <class B>
void decodeRange(const Matmul &p, const uint8_t *row, int64_t k0, int64_t len,
                 float *out) {
  constexpr int V = B::kVectors;
  for (int64_t k = 0; k < len; k += B::kElements) {
    int64_t blk = (k0 + k) / B::kElements;
    int64_t valid = std::min<int64_t>(B::kElements, p.k - (k0 + k));
    __m256 w[V];
    if (B::kPacked || valid == B::kElements) {
      B::decode(row + blk * B::kBytes, w);
    } else {
      // A ragged float row: copy the valid elements into a zeroed block.
      alignas(32) uint8_t raw[B::kBytes] = {};
      int64_t width = B::kBytes / B::kElements;
      std::memcpy(raw, row + blk * B::kBytes, size_t(valid * width));
      B::decode(raw, w);
    }
    alignas(32) float block[B::kElements];
    for (int i = 0; i < V; ++i)
      _mm256_store_ps(block + 8 * i, w[i]);
    std::memcpy(out + k, block, size_t(std::min<int64_t>(B::kElements, len - k)) * 4);
  }
}

template <int MR>
void microKernel(const Matmul &p, const float *panel, int64_t depth,
                 int64_t t0, int64_t k0, int64_t n0, int64_t columns,
                 bool accumulate) {
  __m256 acc[MR][2];
  for (int i = 0; i < MR; ++i)
    acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  const float *x = p.x + t0 * p.xStride + k0;
  for (int64_t k = 0; k < depth; ++k) {
    __m256 b0 = _mm256_load_ps(panel + k * kPanelColumns);
    __m256 b1 = _mm256_load_ps(panel + k * kPanelColumns + 8);
    for (int i = 0; i < MR; ++i) {
      __m256 a = _mm256_broadcast_ss(x + i * p.xStride + k);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    float *y = p.y + (t0 + i) * p.yStride + n0;
    alignas(32) float out[kPanelColumns];
    _mm256_store_ps(out, acc[i][0]);
    _mm256_store_ps(out + 8, acc[i][1]);
    for (int64_t c = 0; c < columns; ++c)
      y[c] = accumulate ? y[c] + out[c] : out[c];
  }
}

template <class B>
void gemmPacked(const Matmul &p, int64_t nBegin, int64_t nEnd) {
  static_assert(kPanelDepth % B::kElements == 0, "panel depth in blocks");
  alignas(32) static thread_local float panel[kPanelDepth * kPanelColumns];
  alignas(32) static thread_local float rowBuffer[kPanelDepth];
  for (int64_t n0 = nBegin; n0 < nEnd; n0 += kPanelColumns) {
    int64_t columns = std::min(kPanelColumns, nEnd - n0);
    for (int64_t k0 = 0; k0 < p.k; k0 += kPanelDepth) {
      int64_t depth = std::min(kPanelDepth, p.k - k0);
      // Pack: panel[k][c] = W[n0 + c][k0 + k], zero for missing columns.
      for (int64_t c = 0; c < kPanelColumns; ++c) {
        if (c < columns)
          decodeRange<B>(p, p.w + (n0 + c) * p.rowBytes, k0, depth, rowBuffer);
        else
          std::memset(rowBuffer, 0, sizeof(rowBuffer));
        for (int64_t k = 0; k < depth; ++k)
          panel[k * kPanelColumns + c] = rowBuffer[k];
      }
      bool accumulate = k0 > 0;
      int64_t t = 0;
      for (; t + kMicroRows <= p.rows; t += kMicroRows)
        microKernel<kMicroRows>(p, panel, depth, t, k0, n0, columns,
                                accumulate);
      switch (p.rows - t) {
      case 5:
        microKernel<5>(p, panel, depth, t, k0, n0, columns, accumulate);
        break;
      case 4:
        microKernel<4>(p, panel, depth, t, k0, n0, columns, accumulate);
        break;
      case 3:
        microKernel<3>(p, panel, depth, t, k0, n0, columns, accumulate);
        break;
      case 2:
        microKernel<2>(p, panel, depth, t, k0, n0, columns, accumulate);
        break;
      case 1:
        microKernel<1>(p, panel, depth, t, k0, n0, columns, accumulate);
        break;
      default:
        break;
      }
    }
  }
}

template <class B>
void matmulBlocks(const Matmul &p, int64_t nBegin, int64_t nEnd) {
  if (p.rows > kBatchInvariantRows)
    return gemmPacked<B>(p, nBegin, nEnd);
  // Direct tiles: 4 weight rows for one activation row (decode, 8
  // accumulators); else whole groups of 4 activation rows with 2 weight
  // rows (16 accumulators, each decoded block used 4 times) and the 1..3
  // rows left with 1 weight row (measured ahead of either shape alone).
  int64_t n = nBegin;
  if (p.rows == 1) {
    for (; n + 4 <= nEnd; n += 4)
      tile<B, 4, 1>(p, n, 0);
    for (; n < nEnd; ++n)
      tile<B, 1, 1>(p, n, 0);
    return;
  }
  int64_t whole = p.rows / 4 * 4;
  for (; n + 2 <= nEnd; n += 2)
    for (int64_t t = 0; t < whole; t += 4)
      tile<B, 2, 4>(p, n, t);
  for (; n < nEnd; ++n)
    tileRows<B, 1, 4>(p, n, 0, whole);
  if (whole < p.rows)
    for (n = nBegin; n < nEnd; ++n)
      tileRows<B, 1, 3>(p, n, whole, p.rows);
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// e^x for x <= 0: 2^n * p(r), r = x - n ln 2, degree-6 Taylor polynomial
/// (relative error < 2e-7); 2^n built in the exponent bits.
inline __m256 expNonPositiveUnclamped(__m256 x) {
  __m256 n = _mm256_round_ps(
      _mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
  __m256 poly = _mm256_set1_ps(1.0f / 720);
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 120));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 24));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 6));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(0.5f));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f));
  __m256i exponent = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(poly, _mm256_castsi256_ps(exponent));
}

inline __m256 expNonPositive(__m256 x) {
  return expNonPositiveUnclamped(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)));
}

constexpr int64_t kPositionChunk = 128;

/// e^x for any x (clamped to [-87, 88]; e^88 overflows to infinity as
/// expf does): the same reduction and polynomial as expNonPositive.
inline __m256 expAny(__m256 x) {
  x = _mm256_min_ps(x, _mm256_set1_ps(88.5f));
  return expNonPositiveUnclamped(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)));
}

//===----------------------------------------------------------------------===//
// Attention over small heads
//===----------------------------------------------------------------------===//

// Heads of 8 or 16 dims (one or two vectors) run attentionSmallHeads: a
// score per position as a horizontal sum would cost more than the dot
// product itself, and every query of a KV head reads the same keys.

/// Queries (head, row) of one KV head that share each transposition of a
/// chunk's keys.
constexpr int64_t kQueryBatch = 32;

/// f(std::integral_constant<int, i>()) for i in [0, N).
template <int N, int I = 0, class F> inline void unroll(F f) {
  if constexpr (I < N) {
    f(std::integral_constant<int, I>());
    unroll<N, I + 1>(f);
  }
}

/// The 8 x 8 transpose: out[i] holds element i of rows[0..7] (lane r from
/// rows[r]).
inline void transpose8(const __m256 rows[8], __m256 out[8]) {
  __m256 t0 = _mm256_unpacklo_ps(rows[0], rows[1]);
  __m256 t1 = _mm256_unpackhi_ps(rows[0], rows[1]);
  __m256 t2 = _mm256_unpacklo_ps(rows[2], rows[3]);
  __m256 t3 = _mm256_unpackhi_ps(rows[2], rows[3]);
  __m256 t4 = _mm256_unpacklo_ps(rows[4], rows[5]);
  __m256 t5 = _mm256_unpackhi_ps(rows[4], rows[5]);
  __m256 t6 = _mm256_unpacklo_ps(rows[6], rows[7]);
  __m256 t7 = _mm256_unpackhi_ps(rows[6], rows[7]);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  out[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  out[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  out[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  out[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  out[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  out[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  out[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  out[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

/// Lanes of the 8 positions from `start` that lie in [begin, end).
inline __m256 positionMask(int64_t start, int64_t begin, int64_t end) {
  __m256i index = _mm256_add_epi32(_mm256_set1_epi32(int32_t(start)),
                                   _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256i atLeast =
      _mm256_cmpgt_epi32(index, _mm256_set1_epi32(int32_t(begin - 1)));
  __m256i below = _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(end)), index);
  return _mm256_castsi256_ps(_mm256_and_si256(atLeast, below));
}

/// One query (a head of one row) of attentionSmallHeads: its positions
/// [first, last] and its online-softmax state.
template <int V> struct SmallHeadQuery {
  static constexpr int A = 4 / V; // value accumulators, position s to s % A
  __m256 acc[A][V];
  const float *q;
  float *out;
  int64_t first, last;
  float m, l;
};

/// Attention of `count` queries of one KV head (V vectors of 8 per head).
/// Positions go in chunks of kPositionChunk aligned to multiples of it;
/// each chunk's keys are transposed once (8 positions x 8 dims at a time)
/// into keysT[dim][position], so a query scores 8 positions per vector
/// with one FMA per dim. Everything a query computes (its chunks, its
/// 8-position blocks, its accumulator per position) depends on its own
/// positions only, never on the other queries of the batch or on the
/// call's row count: a row's result is the same in any call (batch
/// invariance).
template <int V>
void smallHeadQueries(const Attention &p, const float *keys,
                      const float *values, SmallHeadQuery<V> *queries,
                      int64_t count) {
  constexpr int D = 8 * V, A = SmallHeadQuery<V>::A;
  alignas(32) float keysT[D][kPositionChunk];
  alignas(32) float weights[kPositionChunk];
  int64_t lo = queries[0].first, hi = queries[0].last;
  for (int64_t i = 1; i < count; ++i) {
    lo = std::min(lo, queries[i].first);
    hi = std::max(hi, queries[i].last);
  }
  const __m256 minusInf =
      _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t c0 = lo / kPositionChunk * kPositionChunk; c0 <= hi;
       c0 += kPositionChunk) {
    int64_t begin = std::max(c0, lo) - c0,
            end = std::min(c0 + kPositionChunk, hi + 1) - c0;
    // Keys of positions [begin rounded down to 8, end): never past `end`
    // (the cache may end there), the missing rows of a block zero.
    for (int64_t b = begin & ~int64_t(7); b < end; b += 8) {
      int64_t rows = std::min<int64_t>(8, end - b);
      const float *k = keys + (c0 + b) * p.posStride;
      for (int v = 0; v < V; ++v) {
        __m256 in[8], cols[8];
        for (int r = 0; r < 8; ++r)
          in[r] = r < rows ? _mm256_loadu_ps(k + r * p.posStride + 8 * v)
                           : _mm256_setzero_ps();
        transpose8(in, cols);
        for (int i = 0; i < 8; ++i)
          _mm256_store_ps(&keysT[8 * v + i][b], cols[i]);
      }
    }
    for (int64_t qi = 0; qi < count; ++qi) {
      SmallHeadQuery<V> &query = queries[qi];
      int64_t qb = std::max(c0 + begin, query.first) - c0,
              qe = std::min(c0 + end, query.last + 1) - c0;
      if (qb >= qe)
        continue;
      __m256 qv[D];
      for (int i = 0; i < D; ++i)
        qv[i] = _mm256_set1_ps(query.q[i] * p.scale);
      // Scores of the 8-position blocks that hold [qb, qe); the lanes
      // outside it (first and last block only) -infinity.
      int64_t jb = qb & ~int64_t(7);
      auto partial = [&](int64_t j) { return j < qb || j + 8 > qe; };
      __m256 maxV = minusInf;
      for (int64_t j = jb; j < qe; j += 8) {
        __m256 s = _mm256_mul_ps(qv[0], _mm256_load_ps(&keysT[0][j]));
        for (int i = 1; i < D; ++i)
          s = _mm256_fmadd_ps(qv[i], _mm256_load_ps(&keysT[i][j]), s);
        if (partial(j))
          s = _mm256_blendv_ps(minusInf, s, positionMask(j, qb, qe));
        _mm256_store_ps(weights + j, s);
        maxV = _mm256_max_ps(maxV, s);
      }
      float mNew = std::max(query.m, hmax(maxV));
      __m256 acc[A][V];
      for (int a = 0; a < A; ++a)
        for (int v = 0; v < V; ++v)
          acc[a][v] = query.acc[a][v];
      if (query.m != -std::numeric_limits<float>::infinity()) {
        // Not the query's first chunk (where acc and l are still zero).
        float correction = std::exp(query.m - mNew);
        query.l *= correction;
        for (int a = 0; a < A; ++a)
          for (int v = 0; v < V; ++v)
            acc[a][v] = _mm256_mul_ps(acc[a][v], _mm256_set1_ps(correction));
      }
      // Per block: the weights e^(s - m), then the values of its positions,
      // position j into accumulator j % A (c0 and blocks are multiples of
      // A).
      const float *vs = values + c0 * p.posStride;
      auto add = [&](auto a, int64_t j) {
        __m256 w = _mm256_broadcast_ss(weights + j);
        for (int v = 0; v < V; ++v)
          acc[a][v] = _mm256_fmadd_ps(
              w, _mm256_loadu_ps(vs + j * p.posStride + 8 * v), acc[a][v]);
      };
      __m256 maxBroadcast = _mm256_set1_ps(mNew), sums = _mm256_setzero_ps();
      for (int64_t j = jb; j < qe; j += 8) {
        __m256 e = expNonPositive(
            _mm256_sub_ps(_mm256_load_ps(weights + j), maxBroadcast));
        bool cut = partial(j);
        if (cut)
          e = _mm256_and_ps(e, positionMask(j, qb, qe));
        sums = _mm256_add_ps(sums, e);
        _mm256_store_ps(weights + j, e);
        unroll<8>([&](auto u) {
          constexpr int a = decltype(u)::value % A;
          if (!cut || (j + u >= qb && j + u < qe))
            add(std::integral_constant<int, a>(), j + u);
        });
      }
      query.l += hsum(sums);
      query.m = mNew;
      for (int a = 0; a < A; ++a)
        for (int v = 0; v < V; ++v)
          query.acc[a][v] = acc[a][v];
    }
  }
  for (int64_t qi = 0; qi < count; ++qi) {
    SmallHeadQuery<V> &query = queries[qi];
    __m256 inv = _mm256_set1_ps(query.l > 0.0f ? 1.0f / query.l : 0.0f);
    for (int v = 0; v < V; ++v) {
      // Pairwise: (a0 + a1) + (a2 + a3).
      __m256 level[A];
      for (int a = 0; a < A; ++a)
        level[a] = query.acc[a][v];
      for (int width = A; width > 1; width /= 2)
        for (int a = 0; a < width / 2; ++a)
          level[a] = _mm256_add_ps(level[2 * a], level[2 * a + 1]);
      __m256 sum = level[0];
      _mm256_storeu_ps(query.out + 8 * v, _mm256_mul_ps(sum, inv));
    }
  }
}

/// Heads [hBegin, hEnd) with head_dim 8 * V: the queries of each KV head,
/// kQueryBatch at a time (all its heads' rows), through smallHeadQueries.
template <int V>
void attentionSmallHeads(const Attention &p, int64_t hBegin, int64_t hEnd) {
  constexpr int D = 8 * V, A = SmallHeadQuery<V>::A;
  int64_t group = p.heads / p.kvHeads;
  SmallHeadQuery<V> queries[kQueryBatch];
  int64_t h = hBegin, t = 0;
  while (h < hEnd) {
    int64_t kv = h / group, count = 0;
    while (h < hEnd && h / group == kv && count < kQueryBatch) {
      SmallHeadQuery<V> &query = queries[count++];
      int64_t position = p.pos + t;
      query.q = p.q + t * p.qStride + h * D;
      query.out = p.out + t * p.outStride + h * D;
      query.last = p.causal ? position : p.pos + p.rows - 1;
      query.first =
          p.window > 0 ? std::max<int64_t>(0, position - p.window + 1) : 0;
      query.m = -std::numeric_limits<float>::infinity();
      query.l = 0.0f;
      for (int a = 0; a < A; ++a)
        for (int v = 0; v < V; ++v)
          query.acc[a][v] = _mm256_setzero_ps();
      if (++t == p.rows) {
        t = 0;
        ++h;
      }
    }
    smallHeadQueries<V>(p, p.keys + kv * p.kvHeadStride,
                        p.values + kv * p.kvHeadStride, queries, count);
  }
}

} // namespace

float llmc::kernels::sumOfSquaresAVX2(const float *x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    acc = _mm256_fmadd_ps(v, v, acc);
  }
  float sum = hsum(acc);
  for (; i < n; ++i)
    sum += x[i] * x[i];
  return sum;
}

int64_t llmc::kernels::swigluAVX2(const float *g, const float *u, float *y,
                                  int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 gate = _mm256_loadu_ps(g + i);
    __m256 e = expAny(_mm256_sub_ps(zero, gate));
    __m256 silu = _mm256_div_ps(gate, _mm256_add_ps(one, e));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u + i)));
  }
  return i;
}

void llmc::kernels::matmulAVX2(const Matmul &p, int64_t nBegin, int64_t nEnd) {
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

void llmc::kernels::attentionAVX2(const Attention &p, int64_t hBegin,
                                  int64_t hEnd) {
  int64_t group = p.heads / p.kvHeads, d = p.headDim;
  if (d == 8) // small heads: keys transposed, shared by the KV head's queries
    return attentionSmallHeads<1>(p, hBegin, hEnd);
  if (d == 16)
    return attentionSmallHeads<2>(p, hBegin, hEnd);
  if (d % 8 != 0 || d > 256) // the portable kernel
    return attentionScalar(p, hBegin, hEnd);
  int64_t vectors = d / 8;
  alignas(32) float scores[kPositionChunk];
  for (int64_t h = hBegin; h < hEnd; ++h) {
    const float *keys = p.keys + (h / group) * p.kvHeadStride;
    const float *values = p.values + (h / group) * p.kvHeadStride;
    for (int64_t t = 0; t < p.rows; ++t) {
      const float *q = p.q + t * p.qStride + h * d;
      float *out = p.out + t * p.outStride + h * d;
      __m256 qv[32], acc[32];
      for (int64_t i = 0; i < vectors; ++i) {
        qv[i] = _mm256_mul_ps(_mm256_loadu_ps(q + 8 * i),
                              _mm256_set1_ps(p.scale));
        acc[i] = _mm256_setzero_ps();
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
          __m256 dot = _mm256_mul_ps(qv[0], _mm256_loadu_ps(k));
          for (int64_t i = 1; i < vectors; ++i)
            dot = _mm256_fmadd_ps(qv[i], _mm256_loadu_ps(k + 8 * i), dot);
          float score = hsum(dot);
          scores[j] = score;
          chunkMax = std::max(chunkMax, score);
        }
        float mNew = std::max(m, chunkMax);
        float correction = std::exp(m - mNew);
        l *= correction;
        for (int64_t i = 0; i < vectors; ++i)
          acc[i] = _mm256_mul_ps(acc[i], _mm256_set1_ps(correction));
        __m256 maxV = _mm256_set1_ps(mNew), sums = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 8 <= count; j += 8) {
          __m256 e = expNonPositive(
              _mm256_sub_ps(_mm256_load_ps(scores + j), maxV));
          sums = _mm256_add_ps(sums, e);
          _mm256_store_ps(scores + j, e);
        }
        float sum = hsum(sums);
        for (; j < count; ++j) {
          scores[j] = std::exp(scores[j] - mNew);
          sum += scores[j];
        }
        l += sum;
        for (j = 0; j < count; ++j) {
          const float *v = values + (s0 + j) * p.posStride;
          __m256 weight = _mm256_set1_ps(scores[j]);
          for (int64_t i = 0; i < vectors; ++i)
            acc[i] = _mm256_fmadd_ps(weight, _mm256_loadu_ps(v + 8 * i), acc[i]);
        }
        m = mNew;
      }
      __m256 inv = _mm256_set1_ps(l > 0.0f ? 1.0f / l : 0.0f);
      for (int64_t i = 0; i < vectors; ++i)
        _mm256_storeu_ps(out + 8 * i, _mm256_mul_ps(acc[i], inv));
    }
  }
}
