//===- AVX2.cpp - AVX2 + FMA + F16C kernels --------------------------------===//
//
// Part of llmc. Compiled with AVX2, FMA and F16C enabled for this file
// only; the entry points call it only on CPUs that have them. The same
// scheme as AVX512.cpp with 8-lane vectors: a tile of NR weight rows x TT
// activation rows of accumulators; each weight block is decoded once into
// scaled f32 vectors and used for all TT activation rows; a ragged last
// block is decoded to memory and finished in scalar code. Calls of more
// than kBatchInvariantRows rows (prefill) run a packed GEMM instead.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <limits>

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
