//===- KernelsTest.cpp - CPU microkernels vs the portable reference -------===//
//
// Part of llmc. The vector kernels (AVX2, and AVX-512 where the CPU has it)
// against the portable C++ ones on random weights of every format, ragged
// K, several activation-row counts and thread counts; attention with GQA,
// causal and sliding-window masks. The portable kernels themselves are
// checked against the independent NumPy reference by the e2e tests
// (LLMC_KERNELS=scalar) and here on hand-computed blocks.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Kernels/KernelsImpl.h"
#include "llmc/Import/SyntheticLlama.h"
#include "llmc/Runtime/Kernels.h"
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace llmc::kernels;

namespace {

void putHalf(uint8_t *p, float f) {
  uint16_t h = llmc::import::floatToHalf(f);
  std::memcpy(p, &h, 2);
}

/// Random weights of `format`, N rows of K, with sane scales.
std::vector<uint8_t> randomWeights(Format format, int64_t n, int64_t k,
                                   std::mt19937 &rng, int64_t &rowBytes) {
  BlockShape shape = blockShape(format);
  int64_t blocks = (k + shape.elements - 1) / shape.elements;
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  if (format == Format::F32 || format == Format::F16 ||
      format == Format::BF16) {
    int64_t width = format == Format::F32 ? 4 : 2;
    rowBytes = k * width;
    std::vector<uint8_t> w(size_t(n * rowBytes));
    for (int64_t i = 0; i < n * k; ++i) {
      float f = value(rng);
      if (format == Format::F32) {
        std::memcpy(&w[size_t(i * 4)], &f, 4);
      } else if (format == Format::F16) {
        putHalf(&w[size_t(i * 2)], f);
      } else {
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        uint16_t h = uint16_t(bits >> 16);
        std::memcpy(&w[size_t(i * 2)], &h, 2);
      }
    }
    return w;
  }
  rowBytes = blocks * shape.bytes;
  std::vector<uint8_t> w(size_t(n * rowBytes));
  for (uint8_t &b : w)
    b = uint8_t(byte(rng));
  for (int64_t i = 0; i < n * blocks; ++i) {
    uint8_t *block = &w[size_t(i * shape.bytes)];
    switch (format) {
    case Format::Q8_0:
    case Format::Q4_0:
      putHalf(block, 0.01f + 0.05f * std::fabs(value(rng)));
      break;
    case Format::Q4_K:
      putHalf(block, 0.002f + 0.01f * std::fabs(value(rng)));
      putHalf(block + 2, 0.002f + 0.01f * std::fabs(value(rng)));
      break;
    case Format::Q6_K:
      putHalf(block + 208, 0.001f + 0.005f * std::fabs(value(rng)));
      break;
    default:
      break;
    }
  }
  return w;
}

using MatmulFn = void (*)(const Matmul &, int64_t, int64_t);

void expectMatmulMatches(MatmulFn fn, const char *isa) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (Format format : {Format::F32, Format::F16, Format::BF16, Format::Q8_0,
                        Format::Q4_0, Format::Q4_K, Format::Q6_K})
    for (int64_t k : {int64_t(32), int64_t(172), int64_t(256), int64_t(300),
                      int64_t(768)})
      for (int64_t rows : {int64_t(1), int64_t(3), int64_t(9)}) {
        int64_t n = 13, rowBytes = 0;
        std::vector<uint8_t> w = randomWeights(format, n, k, rng, rowBytes);
        std::vector<float> x(size_t(rows * k));
        for (float &v : x)
          v = value(rng);
        std::vector<float> want(size_t(rows * n)), got(size_t(rows * n));
        Matmul p{format, x.data(), k, rows, k, w.data(), rowBytes,
                 want.data(), n};
        matmulScalar(p, 0, n);
        p.y = got.data();
        fn(p, 0, n);
        // Bound: float rounding of a K-term sum, relative to sum |x w|.
        std::vector<float> decoded(size_t(blockShape(format).elements));
        for (int64_t i = 0; i < rows * n; ++i)
          EXPECT_NEAR(got[size_t(i)], want[size_t(i)],
                      1e-4f * (1.0f + std::fabs(want[size_t(i)])) +
                          1e-5f * float(k))
              << isa << " format " << int(format) << " K " << k << " rows "
              << rows << " element " << i;
      }
}

TEST(KernelsTest, AVX2MatmulMatchesPortable) {
  if (!avx2Supported())
    GTEST_SKIP() << "CPU without AVX2/FMA/F16C";
  expectMatmulMatches(matmulAVX2, "avx2");
}

TEST(KernelsTest, AVX512MatmulMatchesPortable) {
  if (!avx512Supported())
    GTEST_SKIP() << "CPU without AVX-512";
  expectMatmulMatches(matmulAVX512, "avx512");
}

TEST(KernelsTest, PortableDecodersOnKnownBlocks) {
  // Q4_0: d = 0.5, byte j = (j + 1) | (15 - j) << 4.
  uint8_t q4[18];
  putHalf(q4, 0.5f);
  for (int j = 0; j < 16; ++j)
    q4[2 + j] = uint8_t(((j + 1) & 15) | (15 - j) << 4);
  float out[256];
  decodeBlockScalar(Format::Q4_0, q4, out);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 0.5f * float(((j + 1) & 15) - 8));
    EXPECT_EQ(out[j + 16], 0.5f * float((15 - j) - 8));
  }
  // Q8_0: d = 0.25, q = j - 16.
  uint8_t q8[34];
  putHalf(q8, 0.25f);
  for (int j = 0; j < 32; ++j)
    q8[2 + j] = uint8_t(int8_t(j - 16));
  decodeBlockScalar(Format::Q8_0, q8, out);
  for (int j = 0; j < 32; ++j)
    EXPECT_EQ(out[j], 0.25f * float(j - 16));
}

TEST(KernelsTest, ThreadCountDoesNotChangeResults) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  int64_t n = 1000, k = 1024, rowBytes = 0, rows = 5;
  std::vector<uint8_t> w = randomWeights(Format::Q4_0, n, k, rng, rowBytes);
  std::vector<float> x(size_t(rows * k));
  for (float &v : x)
    v = value(rng);
  auto run = [&](int64_t threads) {
    llmc_kernels_set_threads(threads);
    std::vector<float> y(size_t(rows * n));
    llmc_matmul_q4_0(x.data(), x.data(), 0, rows, k, k, 1, w.data(), w.data(),
                     0, int64_t(w.size()), 1, 0, y.data(), y.data(), 0, rows,
                     n, n, 1);
    return y;
  };
  std::vector<float> one = run(1), two = run(2), three = run(3);
  llmc_kernels_set_threads(1);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
}

using AttentionFn = void (*)(const Attention &, int64_t, int64_t);

void expectAttentionMatches(AttentionFn fn, const char *isa) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  struct Case {
    int64_t heads, kvHeads, headDim, pos, rows, window;
    bool causal;
  };
  for (Case c : {Case{8, 2, 64, 0, 7, 0, true}, Case{8, 4, 8, 300, 1, 0, true},
                 Case{4, 4, 32, 10, 5, 4, true}, Case{2, 1, 16, 3, 4, 0, false},
                 Case{4, 2, 12, 20, 3, 0, true}, Case{32, 4, 64, 200, 2, 0, true}}) {
    int64_t capacity = 512, d = c.headDim;
    std::vector<float> cache(size_t(2 * c.kvHeads * capacity * d));
    for (float &v : cache)
      v = value(rng);
    std::vector<float> q(size_t(c.rows * c.heads * d));
    for (float &v : q)
      v = value(rng);
    std::vector<float> want(q.size()), got(q.size());
    Attention p{q.data(),
                c.heads * d,
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
                c.heads * d};
    attentionScalar(p, 0, c.heads);
    p.out = got.data();
    fn(p, 0, c.heads);
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::fabs(want[i])))
          << isa << " heads " << c.heads << " d " << d << " pos " << c.pos
          << " element " << i;
  }
}

TEST(KernelsTest, AVX2AttentionMatchesPortable) {
  if (!avx2Supported())
    GTEST_SKIP() << "CPU without AVX2/FMA/F16C";
  expectAttentionMatches(attentionAVX2, "avx2");
}

TEST(KernelsTest, AVX512AttentionMatchesPortable) {
  if (!avx512Supported())
    GTEST_SKIP() << "CPU without AVX-512";
  expectAttentionMatches(attentionAVX512, "avx512");
}

TEST(KernelsTest, PortableAttentionIsSoftmaxWeightedSum) {
  // One head, three positions: the output is the softmax-weighted values.
  float cache[2 * 3 * 2] = {1, 0, 0, 1, 1, 1,   // keys
                            1, 2, 3, 4, 5, 6};  // values
  float q[2] = {1, 2}, out[2];
  Attention p{q, 2, 1, cache, cache + 6, 6, 2, 1, 1, 2, 2, 0, true, 1.0f,
              out, 2};
  attentionScalar(p, 0, 1);
  double s[3] = {1, 2, 3}, total = 0, expect[2] = {0, 0};
  for (double v : s)
    total += std::exp(v);
  for (int i = 0; i < 3; ++i) {
    expect[0] += std::exp(s[i]) / total * cache[6 + 2 * i];
    expect[1] += std::exp(s[i]) / total * cache[6 + 2 * i + 1];
  }
  EXPECT_NEAR(out[0], expect[0], 1e-5);
  EXPECT_NEAR(out[1], expect[1], 1e-5);
}

} // namespace

namespace {

TEST(KernelsTest, AVX2Int8DecodeMatchesPortable) {
  if (!avx2Supported())
    GTEST_SKIP() << "CPU without AVX2/FMA/F16C";
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  for (Format format : {Format::Q8_0, Format::Q4_0})
    for (int64_t k : {int64_t(32), int64_t(160), int64_t(172), int64_t(256),
                      int64_t(300), int64_t(2048)}) {
      int64_t n = 13, rowBytes = 0;
      std::vector<uint8_t> w = randomWeights(format, n, k, rng, rowBytes);
      std::vector<float> x(static_cast<size_t>(k));
      for (float &v : x)
        v = value(rng);
      int64_t blocks = (k + 31) / 32;
      std::vector<int8_t> q1(size_t(blocks * 32)), q2(q1.size());
      std::vector<float> d1(size_t(blocks) + 8), d2(d1.size());
      std::vector<int32_t> s1(size_t(blocks) + 8), s2(s1.size());
      QuantizedRow a{q1.data(), d1.data(), s1.data(), blocks};
      QuantizedRow b{q2.data(), d2.data(), s2.data(), blocks};
      quantizeRowScalar(x.data(), k, a);
      quantizeRowAVX2(x.data(), k, b);
      EXPECT_EQ(q1, q2) << "K " << k;
      EXPECT_EQ(d1, d2) << "K " << k;
      EXPECT_EQ(s1, s2) << "K " << k;
      std::vector<float> want(static_cast<size_t>(n)), got(want.size());
      Matmul p{format, x.data(), k, 1, k, w.data(), rowBytes, want.data(), n};
      matvecQ8Scalar(p, a, 0, n);
      p.y = got.data();
      matvecAVX2(p, &b, 0, n);
      for (int64_t i = 0; i < n; ++i)
        EXPECT_NEAR(got[size_t(i)], want[size_t(i)],
                    1e-5f * (1.0f + std::fabs(want[size_t(i)])) * float(k) / 32)
            << "format " << int(format) << " K " << k << " row " << i;
    }
}

} // namespace
