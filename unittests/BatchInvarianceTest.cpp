//===- BatchInvarianceTest.cpp - batched rows equal lone rows, bitwise ----===//
//
// Part of llmc. Speculative decoding verifies k draft tokens in one call of
// k + 1 rows and must stay token-for-token equal to greedy decoding, so a
// kernel call of T <= kBatchInvariantRows rows must give every row bitwise
// the result of a call of that row alone (lib/Runtime/Kernels/
// KernelsImpl.h). Checked for every ISA the CPU has, every weight format
// (llmc_matmul_packed's too), ragged K, N not a multiple of any tile width,
// several thread counts, causal attention at consecutive positions (small
// heads too) and the row-wise ops.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Kernels/KernelsImpl.h"
#include "llmc/Runtime/Kernels.h"
#include <cmath>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace llmc::kernels;

namespace {

const char *isaName(ISA isa) {
  switch (isa) {
  case ISA::Scalar:
    return "scalar";
  case ISA::AVX2:
    return "avx2";
  case ISA::AVX512:
    return "avx512";
  }
  return "?";
}

bool supported(ISA isa) {
  return isa == ISA::Scalar || (isa == ISA::AVX2 && avx2Supported()) ||
         (isa == ISA::AVX512 && avx512Supported());
}

/// The first index where a and b differ bit for bit, or -1.
int64_t firstDifference(const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (std::memcmp(a + i, b + i, sizeof(float)) != 0)
      return i;
  return -1;
}

std::vector<float> randomFloats(size_t n, std::mt19937 &rng, float range) {
  std::uniform_real_distribution<float> value(-range, range);
  std::vector<float> v(n);
  for (float &f : v)
    f = value(rng);
  return v;
}

/// Random N x K weights of `format` in the layout llmc_matmul_<fmt> reads.
std::vector<uint8_t> randomWeights(Format format, int64_t n, int64_t k,
                                   std::mt19937 &rng, int64_t &rowBytes) {
  std::vector<float> values = randomFloats(size_t(n * k), rng, 1.0f);
  std::vector<uint8_t> w;
  switch (format) {
  case Format::F32:
    rowBytes = k * 4;
    w.resize(size_t(n * rowBytes));
    std::memcpy(w.data(), values.data(), w.size());
    return w;
  case Format::F16:
  case Format::BF16:
    rowBytes = k * 2;
    w.resize(size_t(n * rowBytes));
    llmc_convert_floats(values.data(), 0, w.data(),
                        format == Format::F16 ? 1 : 2, n * k);
    return w;
  default:
    break;
  }
  // The ggml block formats, numbered as the qmm kinds 0..3.
  struct Params {
    int64_t kind, bits, group, symmetric;
  };
  Params q = format == Format::Q8_0   ? Params{0, 8, 32, 1}
             : format == Format::Q4_0 ? Params{1, 4, 32, 1}
             : format == Format::Q4_K ? Params{2, 4, 256, 0}
                                      : Params{3, 6, 256, 1};
  BlockShape shape = blockShape(format);
  rowBytes = (k + shape.elements - 1) / shape.elements * shape.bytes;
  w.resize(size_t(n * rowBytes));
  EXPECT_EQ(llmc_quantize_rows(q.kind, q.bits, q.group, q.symmetric,
                               values.data(), n, k, w.data()),
            0);
  return w;
}

constexpr Format kFormats[] = {Format::F32,  Format::F16,  Format::BF16,
                               Format::Q8_0, Format::Q4_0, Format::Q4_K,
                               Format::Q6_K};
constexpr int64_t kMaxRows = kBatchInvariantRows;

/// Every row of every T-row call (T = 1..kMaxRows) against that row alone.
/// `matmul(x, rows, y)` computes rows x N outputs from rows of stride
/// xStride into y (row stride n + 1, so no output row is contiguous with
/// the next).
template <class Run>
void expectRowsInvariant(int64_t n, int64_t k, int64_t xStride,
                         std::mt19937 &rng, Run matmul,
                         const std::string &what) {
  std::vector<float> x = randomFloats(size_t(kMaxRows * xStride), rng, 2.0f);
  int64_t yStride = n + 1;
  std::vector<float> alone(size_t(kMaxRows * yStride));
  for (int64_t t = 0; t < kMaxRows; ++t)
    matmul(x.data() + t * xStride, 1, alone.data() + t * yStride);
  // One report per case: how many rows differ, and the first of them.
  int64_t differing = 0;
  std::string first;
  for (int64_t rows = 1; rows <= kMaxRows; ++rows) {
    std::vector<float> y(size_t(rows * yStride));
    matmul(x.data(), rows, y.data());
    for (int64_t t = 0; t < rows; ++t) {
      const float *got = y.data() + t * yStride;
      const float *want = alone.data() + t * yStride;
      int64_t i = firstDifference(got, want, n);
      if (i < 0 || differing++)
        continue;
      first = "row " + std::to_string(t) + " of " + std::to_string(rows) +
              ", column " + std::to_string(i) + ": " +
              std::to_string(got[i]) + " batched, " +
              std::to_string(want[i]) + " alone";
    }
  }
  EXPECT_EQ(differing, 0) << what << " K " << k << " N " << n
                          << ": rows differing from the row alone, first "
                          << first;
}

void expectMatmulInvariant(ISA isa, int64_t threads) {
  llmc_kernels_set_threads(threads);
  std::mt19937 rng(5);
  for (Format format : kFormats)
    // Ragged K (44, 172, 300: 256 + 44) and whole blocks; K < 96 takes
    // AVX2's short-row paths; N = 19 leaves a remainder after every tile
    // width; N = 203 is split over the pool.
    for (int64_t k :
         {int64_t(44), int64_t(64), int64_t(172), int64_t(300), int64_t(768)})
      for (int64_t n : {int64_t(19), int64_t(203)}) {
        int64_t rowBytes = 0;
        std::vector<uint8_t> w = randomWeights(format, n, k, rng, rowBytes);
        int64_t xStride = k + 3;
        expectRowsInvariant(
            n, k, xStride, rng,
            [&](const float *x, int64_t rows, float *y) {
              Matmul p{format, x,        xStride, rows, k,
                       w.data(), rowBytes, y,       n + 1};
              runMatmul(isa, p, n);
            },
            std::string(isaName(isa)) + " format " +
                std::to_string(int(format)) + " threads " +
                std::to_string(threads));
      }
  llmc_kernels_set_threads(1);
}

TEST(BatchInvarianceTest, ScalarMatmul) {
  expectMatmulInvariant(ISA::Scalar, 1);
}

TEST(BatchInvarianceTest, AVX2Matmul) {
  if (!supported(ISA::AVX2))
    GTEST_SKIP() << "CPU without AVX2/FMA/F16C";
  expectMatmulInvariant(ISA::AVX2, 1);
  expectMatmulInvariant(ISA::AVX2, 3);
}

TEST(BatchInvarianceTest, AVX512Matmul) {
  if (!supported(ISA::AVX512))
    GTEST_SKIP() << "CPU without AVX-512";
  expectMatmulInvariant(ISA::AVX512, 1);
  expectMatmulInvariant(ISA::AVX512, 3);
}

/// The C entry points, descriptors and all, with the ISA LLMC_KERNELS
/// chose (run the tests under each).
TEST(BatchInvarianceTest, MatmulEntryPoints) {
  using Fn = void (*)(LLMC_MEMREF2(float, x), LLMC_MEMREF1(uint8_t, w),
                      int64_t, LLMC_MEMREF2(float, y));
  constexpr Fn entry[] = {llmc_matmul_f32,  llmc_matmul_f16,
                          llmc_matmul_bf16, llmc_matmul_q8_0,
                          llmc_matmul_q4_0, llmc_matmul_q4_k,
                          llmc_matmul_q6_k};
  std::mt19937 rng(9);
  int64_t n = 37, k = 300, xStride = k + 1;
  for (Format format : kFormats) {
    int64_t rowBytes = 0;
    std::vector<uint8_t> w = randomWeights(format, n, k, rng, rowBytes);
    // The weight at a byte offset inside the range, as compiled models
    // pass it.
    std::vector<uint8_t> range(64 + w.size());
    std::memcpy(range.data() + 64, w.data(), w.size());
    Fn fn = entry[int(format)];
    expectRowsInvariant(
        n, k, xStride, rng,
        [&](const float *x, int64_t rows, float *y) {
          float *xm = const_cast<float *>(x);
          fn(xm, xm, 0, rows, k, xStride, 1, range.data(), range.data(), 0,
             int64_t(range.size()), 1, 64, y, y, 0, rows, n, n + 1, 1);
        },
        std::string(llmc_kernels_isa()) + " entry point, format " +
            std::to_string(int(format)));
  }
}

/// llmc_matmul_packed (one portable kernel for every ISA) on every qmm
/// format family.
TEST(BatchInvarianceTest, PackedMatmul) {
  struct Params {
    int64_t kind, bits, group, symmetric;
  };
  std::mt19937 rng(13);
  for (Params f : {Params{0, 8, 32, 1}, Params{1, 4, 32, 1},
                   Params{2, 4, 256, 0}, Params{3, 6, 256, 1},
                   Params{4, 4, 32, 1}, Params{4, 4, 32, 0},
                   Params{4, 2, 64, 1}, Params{4, 3, 128, 0},
                   Params{4, 8, 128, 1}, Params{5, 8, 1, 1},
                   Params{6, 8, 1, 1}, Params{7, 4, 32, 1}})
    for (int64_t k : {int64_t(172), int64_t(300)}) {
      int64_t n = 19, xStride = k + 2;
      std::vector<float> values = randomFloats(size_t(n * k), rng, 1.0f);
      std::vector<uint8_t> w(size_t(n * k * 2 + 1024));
      ASSERT_EQ(llmc_quantize_rows(f.kind, f.bits, f.group, f.symmetric,
                                   values.data(), n, k, w.data()),
                0);
      expectRowsInvariant(
          n, k, xStride, rng,
          [&](const float *x, int64_t rows, float *y) {
            float *xm = const_cast<float *>(x);
            llmc_matmul_packed(xm, xm, 0, rows, k, xStride, 1, w.data(),
                               w.data(), 0, int64_t(w.size()), 1, 0, f.kind,
                               f.bits, f.group, f.symmetric, y, y, 0, rows, n,
                               n + 1, 1);
          },
          "packed kind " + std::to_string(f.kind) + " bits " +
              std::to_string(f.bits) + " group " + std::to_string(f.group));
    }
}

/// Causal attention: T query rows at pos against T calls of one row at
/// pos, pos + 1, ... over the same cache.
struct AttentionCase {
  int64_t heads, kvHeads, headDim, pos, window;
};
constexpr AttentionCase kAttentionCases[] = {
    {8, 2, 64, 0, 0},   // GQA, a prompt's first rows
    {4, 4, 12, 37, 0},  // head_dim not a multiple of 8 or 16
    {8, 4, 32, 120, 0}, // rows cross the 128-position score chunks
    {4, 2, 16, 50, 6},  // sliding window
    {2, 1, 48, 300, 0},
    // Small heads (8, 16: keys transposed per chunk, shared by the KV
    // head's queries, kQueryBatch of them at a time).
    {8, 4, 8, 100, 0},   // stories260K's shape
    {8, 4, 8, 120, 0},   // rows cross a chunk
    {16, 2, 8, 5, 0},    // 8 heads x 16 rows of one KV head: several batches
    {4, 4, 8, 40, 5},    // sliding window, MHA
    {6, 3, 16, 130, 0},  // 16 dims
    {4, 1, 16, 250, 20}, // window across a chunk boundary
    {4, 2, 8, 300, 150}, // windows of several chunks, each row's own
    {2, 1, 16, 400, 200},
    {2, 2, 8, 496, 0}, // rows up to the last cache position
};

void expectAttentionInvariant(ISA isa) {
  std::mt19937 rng(17);
  for (AttentionCase c : kAttentionCases) {
    int64_t capacity = 512, d = c.headDim, width = c.heads * d;
    std::vector<float> cache =
        randomFloats(size_t(2 * c.kvHeads * capacity * d), rng, 2.0f);
    std::vector<float> q = randomFloats(size_t(kMaxRows * width), rng, 2.0f);
    auto attend = [&](int64_t t0, int64_t rows, float *out) {
      Attention p{q.data() + t0 * width,
                  width,
                  rows,
                  cache.data(),
                  cache.data() + c.kvHeads * capacity * d,
                  capacity * d,
                  d,
                  c.heads,
                  c.kvHeads,
                  d,
                  c.pos + t0,
                  c.window,
                  /*causal=*/true,
                  1.0f / std::sqrt(float(d)),
                  out,
                  width};
      runAttention(isa, p);
    };
    std::vector<float> alone(size_t(kMaxRows * width));
    for (int64_t t = 0; t < kMaxRows; ++t)
      attend(t, 1, alone.data() + t * width);
    int64_t differing = 0;
    for (int64_t rows = 1; rows <= kMaxRows; ++rows) {
      std::vector<float> out(size_t(rows * width));
      attend(0, rows, out.data());
      for (int64_t t = 0; t < rows; ++t)
        differing += firstDifference(out.data() + t * width,
                                     alone.data() + t * width, width) >= 0;
    }
    EXPECT_EQ(differing, 0) << isaName(isa) << " heads " << c.heads << " d "
                            << d << " pos " << c.pos << " window "
                            << c.window << ": rows differing";
  }
}

TEST(BatchInvarianceTest, ScalarAttention) {
  expectAttentionInvariant(ISA::Scalar);
}

TEST(BatchInvarianceTest, AVX2Attention) {
  if (!supported(ISA::AVX2))
    GTEST_SKIP() << "CPU without AVX2/FMA/F16C";
  expectAttentionInvariant(ISA::AVX2);
}

TEST(BatchInvarianceTest, AVX512Attention) {
  if (!supported(ISA::AVX512))
    GTEST_SKIP() << "CPU without AVX-512";
  expectAttentionInvariant(ISA::AVX512);
}

/// The small-head attention kernels (AVX2: head_dim 8 and 16) against the
/// portable one, causal or not: the batched path is checked above, this
/// checks it computes attention.
TEST(BatchInvarianceTest, SmallHeadAttentionMatchesPortable) {
  if (!supported(ISA::AVX2))
    GTEST_SKIP() << "CPU without AVX2/FMA/F16C";
  std::mt19937 rng(29);
  struct Case {
    int64_t heads, kvHeads, headDim, pos, rows, window;
    bool causal;
  };
  for (Case c :
       {Case{8, 4, 8, 300, 1, 0, true}, Case{8, 4, 8, 100, 16, 0, true},
        Case{16, 2, 8, 3, 9, 0, true}, Case{4, 4, 8, 60, 5, 7, true},
        Case{2, 1, 16, 3, 4, 0, false}, Case{6, 3, 16, 200, 3, 0, true},
        Case{4, 2, 8, 120, 12, 0, false}}) {
    int64_t capacity = 512, d = c.headDim, width = c.heads * d;
    std::vector<float> cache =
        randomFloats(size_t(2 * c.kvHeads * capacity * d), rng, 2.0f);
    std::vector<float> q = randomFloats(size_t(c.rows * width), rng, 2.0f);
    std::vector<float> want(q.size()), got(q.size());
    Attention p{q.data(),
                width,
                c.rows,
                cache.data(),
                cache.data() + c.kvHeads * capacity * d,
                capacity * d,
                d,
                c.heads,
                c.kvHeads,
                d,
                c.pos,
                c.window,
                c.causal,
                1.0f / std::sqrt(float(d)),
                want.data(),
                width};
    runAttention(ISA::Scalar, p);
    p.out = got.data();
    runAttention(ISA::AVX2, p);
    int64_t wrong = 0;
    for (size_t i = 0; i < want.size(); ++i)
      wrong +=
          !(std::fabs(got[i] - want[i]) <= 1e-5f * (1.0f + std::fabs(want[i])));
    EXPECT_EQ(wrong, 0) << "heads " << c.heads << " d " << d << " pos " << c.pos
                        << " rows " << c.rows << " window " << c.window
                        << " causal " << c.causal;
  }
}

/// Float weights above 1 MiB, which AVX2 streams one weight row at a time
/// for calls of several rows (smaller ones go accumulator by accumulator):
/// the same sums as a lone row.
TEST(BatchInvarianceTest, AVX2LargeFloatMatmul) {
  if (!supported(ISA::AVX2))
    GTEST_SKIP() << "CPU without AVX2/FMA/F16C";
  std::mt19937 rng(31);
  int64_t n = 700, k = 768, xStride = k + 5;
  for (Format format : {Format::F32, Format::F16, Format::BF16}) {
    int64_t rowBytes = 0;
    std::vector<uint8_t> w = randomWeights(format, n, k, rng, rowBytes);
    expectRowsInvariant(
        n, k, xStride, rng,
        [&](const float *x, int64_t rows, float *y) {
          Matmul p{format, x, xStride, rows, k, w.data(), rowBytes, y, n + 1};
          runMatmul(ISA::AVX2, p, n);
        },
        "avx2 large format " + std::to_string(int(format)));
  }
}

/// llmc_attention_f32 itself, with the active ISA, on a two-layer cache.
TEST(BatchInvarianceTest, AttentionEntryPoint) {
  std::mt19937 rng(19);
  int64_t layers = 2, heads = 4, kvHeads = 2, capacity = 256, d = 32,
          pos = 90, width = heads * d;
  std::vector<float> cache =
      randomFloats(size_t(2 * layers * kvHeads * capacity * d), rng, 2.0f);
  std::vector<float> q = randomFloats(size_t(kMaxRows * width), rng, 2.0f);
  auto attend = [&](int64_t t0, int64_t rows, float *out) {
    float *c = cache.data(), *qm = q.data() + t0 * width;
    llmc_attention_f32(qm, qm, 0, rows, width, width, 1, c, c, 0, 2, layers,
                       kvHeads, capacity, d, layers * kvHeads * capacity * d,
                       kvHeads * capacity * d, capacity * d, d, 1,
                       /*layer=*/1, pos + t0, heads,
                       1.0f / std::sqrt(float(d)), /*window=*/0,
                       /*causal=*/1, out, out, 0, rows, width, width, 1);
  };
  std::vector<float> alone(size_t(kMaxRows * width));
  for (int64_t t = 0; t < kMaxRows; ++t)
    attend(t, 1, alone.data() + t * width);
  int64_t differing = 0;
  for (int64_t rows = 1; rows <= kMaxRows; ++rows) {
    std::vector<float> out(size_t(rows * width));
    attend(0, rows, out.data());
    for (int64_t t = 0; t < rows; ++t)
      differing += firstDifference(out.data() + t * width,
                                   alone.data() + t * width, width) >= 0;
  }
  EXPECT_EQ(differing, 0) << llmc_kernels_isa() << ": rows differing";
}

/// The row-wise ops (active ISA): rows of a T-row call against the row
/// alone (RoPE at the row's position).
TEST(BatchInvarianceTest, RowWiseOps) {
  std::mt19937 rng(23);
  int64_t width = 100, pos = 7; // not a multiple of the 8-lane vectors
  std::vector<float> a = randomFloats(size_t(kMaxRows * width), rng, 3.0f);
  std::vector<float> b = randomFloats(size_t(kMaxRows * width), rng, 3.0f);
  std::vector<float> weight = randomFloats(size_t(width), rng, 1.0f);
  uint8_t *w = reinterpret_cast<uint8_t *>(weight.data());
  // op(t0, rows, y): rows t0.. of the inputs into y.
  using Op = std::function<void(int64_t, int64_t, float *)>;
  const std::pair<const char *, Op> ops[] = {
      {"rms_norm",
       [&](int64_t t0, int64_t rows, float *y) {
         float *x = a.data() + t0 * width;
         llmc_rmsnorm(x, x, 0, rows, width, width, 1, w, w, 0, width * 4, 1,
                      0, 0, 1e-5f, y, y, 0, rows, width, width, 1);
       }},
      {"rope",
       [&](int64_t t0, int64_t rows, float *y) {
         float *x = a.data() + t0 * width;
         llmc_rope(x, x, 0, rows, width, width, 1, pos + t0, 20, 16, 10000.0,
                   1.0, 1, y, y, 0, rows, width, width, 1);
       }},
      {"swiglu",
       [&](int64_t t0, int64_t rows, float *y) {
         float *g = a.data() + t0 * width, *u = b.data() + t0 * width;
         llmc_swiglu(g, g, 0, rows, width, width, 1, u, u, 0, rows, width,
                     width, 1, y, y, 0, rows, width, width, 1);
       }},
      {"add", [&](int64_t t0, int64_t rows, float *y) {
         float *l = a.data() + t0 * width, *r = b.data() + t0 * width;
         llmc_add(l, l, 0, rows, width, width, 1, r, r, 0, rows, width, width,
                  1, y, y, 0, rows, width, width, 1);
       }}};
  for (const auto &[name, op] : ops) {
    std::vector<float> alone(size_t(kMaxRows * width));
    for (int64_t t = 0; t < kMaxRows; ++t)
      op(t, 1, alone.data() + t * width);
    int64_t differing = 0;
    for (int64_t rows = 1; rows <= kMaxRows; ++rows) {
      std::vector<float> y(size_t(rows * width));
      op(0, rows, y.data());
      for (int64_t t = 0; t < rows; ++t)
        differing += firstDifference(y.data() + t * width,
                                     alone.data() + t * width, width) >= 0;
    }
    EXPECT_EQ(differing, 0) << llmc_kernels_isa() << " " << name
                            << ": rows differing";
  }
}

} // namespace
