//===- QuantizeTest.cpp - quantizers and the packed matmul kernel ---------===//
//
// Part of llmc. llmc_quantize_rows / llmc_dequantize_rows for every qmm
// format: buffer sizes against qmm::FormatInfo, round-trip error within the
// bound each format allows (read from the stored scales and checked against
// the data), exact round trips of representable values, fp8 against a
// brute-force nearest-value search, the ggml blocks against the decoders the
// matmul kernels use, and llmc_matmul_packed against x @ dequant(W)^T in
// double.
//
//===----------------------------------------------------------------------===//

#include "dialects/qmm/QMMFormat.h"
#include "lib/Runtime/Kernels/KernelsImpl.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace llmc;
using llmc::kernels::halfToFloat;

namespace {

static_assert(
    int(qmm::FormatKind::Q8_0) == 0 && int(qmm::FormatKind::Q4_0) == 1 &&
        int(qmm::FormatKind::Q4_K) == 2 && int(qmm::FormatKind::Q6_K) == 3 &&
        int(qmm::FormatKind::Int) == 4 && int(qmm::FormatKind::FP8E4M3) == 5 &&
        int(qmm::FormatKind::FP8E5M2) == 6 && int(qmm::FormatKind::MXFP4) == 7,
    "the kernels' C API numbers formats as qmm::FormatKind");

/// The C API's format parameters.
struct Fmt {
  int64_t kind, bits, group, symmetric;

  qmm::FormatInfo info() const {
    return qmm::FormatInfo::canonical(qmm::FormatKind(kind), unsigned(bits),
                                      unsigned(group), symmetric != 0);
  }
  std::string name() const {
    std::string s = info().keyword();
    if (kind == int64_t(qmm::FormatKind::Int))
      s += "/g" + std::to_string(group) + (symmetric ? "/sym" : "/asym");
    return s;
  }
};

Fmt canonicalFmt(qmm::FormatKind kind) {
  qmm::FormatInfo f = qmm::FormatInfo::canonical(kind);
  return {int64_t(kind), f.bits, f.group, f.symmetric ? 1 : 0};
}

std::vector<Fmt> ggmlFormats() {
  return {
      canonicalFmt(qmm::FormatKind::Q8_0), canonicalFmt(qmm::FormatKind::Q4_0),
      canonicalFmt(qmm::FormatKind::Q4_K), canonicalFmt(qmm::FormatKind::Q6_K)};
}

std::vector<Fmt> intFormats() {
  std::vector<Fmt> formats;
  for (int64_t bits : {2, 3, 4, 8})
    for (int64_t group : {32, 64, 128})
      for (int64_t sym : {1, 0})
        formats.push_back({int64_t(qmm::FormatKind::Int), bits, group, sym});
  return formats;
}

/// The formats without a dedicated matmul kernel.
std::vector<Fmt> newFormats() {
  std::vector<Fmt> formats = intFormats();
  formats.push_back(canonicalFmt(qmm::FormatKind::FP8E4M3));
  formats.push_back(canonicalFmt(qmm::FormatKind::FP8E5M2));
  formats.push_back(canonicalFmt(qmm::FormatKind::MXFP4));
  return formats;
}

std::vector<Fmt> allFormats() {
  std::vector<Fmt> formats = ggmlFormats();
  for (const Fmt &f : newFormats())
    formats.push_back(f);
  return formats;
}

std::vector<uint8_t> quantize(const Fmt &f, const std::vector<float> &src,
                              int64_t rows, int64_t cols) {
  std::vector<uint8_t> packed(size_t(f.info().matrixBytes(rows, cols)));
  EXPECT_EQ(llmc_quantize_rows(f.kind, f.bits, f.group, f.symmetric, src.data(),
                               rows, cols, packed.data()),
            0)
      << f.name();
  return packed;
}

std::vector<float> dequantize(const Fmt &f, const std::vector<uint8_t> &packed,
                              int64_t rows, int64_t cols) {
  std::vector<float> out(size_t(rows * cols));
  EXPECT_EQ(llmc_dequantize_rows(f.kind, f.bits, f.group, f.symmetric,
                                 packed.data(), rows, cols, out.data()),
            0)
      << f.name();
  return out;
}

/// Rows of N(0, 1) with a few x12 outliers, zeros, constants (positive and
/// negative), tiny values (N(0, 1e-3)) and large ones (N(0, 50)).
std::vector<float> testMatrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> m(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float v = normal(rng);
      switch (r % 8) {
      case 1:
        v = 0.0f;
        break;
      case 2:
        v = 0.7f;
        break;
      case 3:
        v = -1.3f;
        break;
      case 4:
        v *= 1e-3f;
        break;
      case 5:
        v *= 50.0f;
        break;
      default:
        if ((c * 7 + r) % 37 == 0)
          v *= 12.0f;
        break;
      }
      m[size_t(r * cols + c)] = v;
    }
  return m;
}

/// Element `c` of row `r`, zero in a block's padding.
float at(const std::vector<float> &m, int64_t cols, int64_t r, int64_t c) {
  return c < cols ? m[size_t(r * cols + c)] : 0.0f;
}

float half(const uint8_t *p) { return halfToFloat(uint16_t(p[0] | p[1] << 8)); }

constexpr int64_t kColumns[] = {172, 512};
constexpr float kHalfUlp = 1.0f / 1024; // relative f16 rounding, with slack

/// Checks |dequant - x| against the per-block bound `bound(block, j, x)`
/// for every element of a rows x cols matrix.
template <typename Bound>
void expectWithinBound(const Fmt &f, int64_t cols, Bound bound) {
  int64_t rows = 16;
  std::vector<float> x = testMatrix(rows, cols, uint32_t(cols + f.kind));
  std::vector<uint8_t> packed = quantize(f, x, rows, cols);
  std::vector<float> y = dequantize(f, packed, rows, cols);
  qmm::FormatInfo info = f.info();
  int64_t blocks = info.blocksFor(cols), bytes = info.blockBytes();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const uint8_t *block =
          &packed[size_t((r * blocks + c / f.group) * bytes)];
      std::vector<float> data(size_t(f.group));
      for (int64_t j = 0; j < f.group; ++j)
        data[size_t(j)] = at(x, cols, r, c / f.group * f.group + j);
      float want = x[size_t(r * cols + c)], got = y[size_t(r * cols + c)];
      ASSERT_TRUE(std::isfinite(got))
          << f.name() << " row " << r << " col " << c;
      EXPECT_LE(std::fabs(got - want), bound(block, data, c % f.group, want))
          << f.name() << " cols " << cols << " row " << r << " col " << c
          << " value " << want;
    }
}

float maxAbsOf(const std::vector<float> &v, size_t begin, size_t end) {
  float m = 0.0f;
  for (size_t i = begin; i < end; ++i)
    m = std::max(m, std::fabs(v[i]));
  return m;
}

TEST(QuantizeTest, PackedSizesMatchFormatInfo) {
  // Writes exactly FormatInfo::matrixBytes: a guard after it stays intact.
  for (const Fmt &f : allFormats())
    for (int64_t cols : {int64_t(1), int64_t(172), int64_t(300)}) {
      int64_t rows = 3, size = f.info().matrixBytes(rows, cols);
      std::vector<float> x = testMatrix(rows, cols, 1);
      std::vector<uint8_t> packed(size_t(size + 64), 0xcd);
      ASSERT_EQ(llmc_quantize_rows(f.kind, f.bits, f.group, f.symmetric,
                                   x.data(), rows, cols, packed.data()),
                0);
      for (int64_t i = size; i < size + 64; ++i)
        ASSERT_EQ(packed[size_t(i)], 0xcd) << f.name() << " cols " << cols;
      std::vector<float> y(size_t(rows * cols) + 16, 123.0f);
      ASSERT_EQ(llmc_dequantize_rows(f.kind, f.bits, f.group, f.symmetric,
                                     packed.data(), rows, cols, y.data()),
                0);
      for (size_t i = size_t(rows * cols); i < y.size(); ++i)
        ASSERT_EQ(y[i], 123.0f) << f.name();
    }
}

TEST(QuantizeTest, IntegerRoundTripWithinHalfStep) {
  for (const Fmt &f : intFormats())
    for (int64_t cols : kColumns)
      expectWithinBound(
          f, cols,
          [&](const uint8_t *block, const std::vector<float> &data, int64_t,
              float) {
            float d = half(block);
            float lo = *std::min_element(data.begin(), data.end());
            float hi = *std::max_element(data.begin(), data.end());
            float amax = std::max(std::fabs(lo), std::fabs(hi));
            if (f.symmetric) {
              float levels = float((1 << (f.bits - 1)) - 1);
              // The scale is amax / levels in f16; codes are within half a
              // step.
              EXPECT_NEAR(d, amax / levels, amax / levels * kHalfUlp + 6e-8f);
              return d / 2 + amax * kHalfUlp + 1e-7f;
            }
            float levels = float((1 << f.bits) - 1), m = half(block + 2);
            EXPECT_NEAR(m, lo, std::fabs(lo) * kHalfUlp + 6e-8f);
            EXPECT_NEAR(d, (hi - lo) / levels,
                        (hi - lo + std::fabs(lo)) / levels * kHalfUlp + 6e-8f);
            return d / 2 + (std::fabs(lo) + std::fabs(hi)) * kHalfUlp + 1e-7f;
          });
}

TEST(QuantizeTest, IntegerRepresentableValuesRoundTripExactly) {
  for (const Fmt &f : intFormats()) {
    int64_t cols = 2 * f.group;
    std::vector<float> x(static_cast<size_t>(cols));
    int top = (1 << f.bits) - 1;
    for (int64_t i = 0; i < cols; ++i) {
      int q = int(i * 5 % (top + 1)); // covers 0 and top in every block
      if (i % f.group == 0)
        q = 0;
      if (i % f.group == 1)
        q = top;
      if (f.symmetric) // d = 0.25, levels -(2^(N-1) - 1) .. 2^(N-1) - 1
        x[size_t(i)] = 0.25f * float(std::max(q, 1) - (1 << (f.bits - 1)));
      else // d = 0.125, m = -1.5
        x[size_t(i)] = -1.5f + 0.125f * float(q);
    }
    std::vector<float> y = dequantize(f, quantize(f, x, 1, cols), 1, cols);
    EXPECT_EQ(x, y) << f.name();
  }
}

TEST(QuantizeTest, GGMLRoundTripWithinBlockBounds) {
  Fmt q8 = canonicalFmt(qmm::FormatKind::Q8_0);
  Fmt q4 = canonicalFmt(qmm::FormatKind::Q4_0);
  Fmt q4k = canonicalFmt(qmm::FormatKind::Q4_K);
  Fmt q6k = canonicalFmt(qmm::FormatKind::Q6_K);
  for (int64_t cols : kColumns) {
    expectWithinBound(q8, cols,
                      [](const uint8_t *block, const std::vector<float> &data,
                         int64_t, float) {
                        float d = half(block), amax = maxAbsOf(data, 0, 32);
                        EXPECT_NEAR(d, amax / 127,
                                    amax / 127 * kHalfUlp + 6e-8f);
                        return d / 2 + amax * kHalfUlp + 1e-7f;
                      });
    expectWithinBound(q4, cols,
                      [](const uint8_t *block, const std::vector<float> &data,
                         int64_t, float x) {
                        // d = -(value of largest magnitude) / 8: codes -8..7 of
                        // x/d, so the far end of the other sign (x/d up to 8)
                        // clips by up to a step.
                        float d = half(block), amax = maxAbsOf(data, 0, 32);
                        EXPECT_NEAR(std::fabs(d), amax / 8,
                                    amax / 8 * kHalfUlp + 6e-8f);
                        float ratio = d != 0.0f ? x / d : 0.0f;
                        return std::fabs(d) * std::max(0.5f, ratio - 7) +
                               amax * kHalfUlp + 1e-7f;
                      });
    expectWithinBound(
        q4k, cols,
        [](const uint8_t *block, const std::vector<float> &data, int64_t j,
           float) {
          float d = half(block), dmin = half(block + 2);
          int i = int(j / 32), sc, m;
          kernels::q4kScaleMin(block + 4, i, sc, m);
          float lo =
              std::min(0.0f, *std::min_element(data.begin() + 32 * i,
                                               data.begin() + 32 * i + 32));
          float hi = *std::max_element(data.begin() + 32 * i,
                                       data.begin() + 32 * i + 32);
          float amax = maxAbsOf(data, 0, 256), step = d * float(sc);
          // Simple min/max: the step is within (range + dmin) / 15 + d.
          EXPECT_LE(step, (hi - lo + dmin) / 15 + d + amax * 1e-5f);
          EXPECT_LE(dmin * float(m), -lo + dmin + amax * 1e-5f);
          return step / 2 + amax * 1e-5f + 1e-7f;
        });
    expectWithinBound(q6k, cols,
                      [](const uint8_t *block, const std::vector<float> &data,
                         int64_t j, float) {
                        float d = half(block + 208);
                        int s = int(j / 16), sc = int8_t(block[192 + s]);
                        float amaxSub =
                            maxAbsOf(data, size_t(16 * s), size_t(16 * s + 16));
                        float amax = maxAbsOf(data, 0, 256),
                              step = d * float(sc);
                        EXPECT_LE(step, amaxSub / 31 + d + amax * 1e-5f);
                        return step / 2 + amax * 1e-5f + 1e-7f;
                      });
  }
}

TEST(QuantizeTest, GGMLBlocksAreWhatTheKernelDecodersRead) {
  // Hand-computed blocks: ggml's Q8_0 and Q4_0 conventions.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j)
    x[size_t(j)] = 0.5f * float(j % 16 - 8); // -4 .. 3.5: d = -4 / -8
  std::vector<uint8_t> q4 =
      quantize(canonicalFmt(qmm::FormatKind::Q4_0), x, 1, 32);
  EXPECT_EQ(half(q4.data()), 0.5f);
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(q4[size_t(2 + j)], uint8_t(j | j << 4)) << j;
  std::vector<uint8_t> q8 =
      quantize(canonicalFmt(qmm::FormatKind::Q8_0), x, 1, 32);
  float d8 = half(q8.data()); // f16(4 / 127)
  EXPECT_NEAR(d8, 4.0f / 127, 4.0f / 127 / 2048);
  EXPECT_EQ(int8_t(q8[2]), -127); // x[0] = -4
  EXPECT_EQ(int8_t(q8[2 + 8]), 0);
  EXPECT_EQ(int8_t(q8[2 + 15]), int8_t(std::nearbyint(3.5f / d8)));

  // llmc_dequantize_rows of the ggml formats is the kernels' own decoder.
  const kernels::Format formats[] = {
      kernels::Format::Q8_0, kernels::Format::Q4_0, kernels::Format::Q4_K,
      kernels::Format::Q6_K};
  for (int i = 0; i < 4; ++i) {
    Fmt f = ggmlFormats()[size_t(i)];
    int64_t rows = 8, cols = 172;
    std::vector<float> m = testMatrix(rows, cols, 11);
    std::vector<uint8_t> packed = quantize(f, m, rows, cols);
    std::vector<float> y = dequantize(f, packed, rows, cols);
    std::vector<float> block(256);
    int64_t bytes = f.info().blockBytes(), blocks = f.info().blocksFor(cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < blocks; ++b) {
        kernels::decodeBlockScalar(formats[i],
                                   &packed[size_t((r * blocks + b) * bytes)],
                                   block.data());
        for (int64_t j = 0; j < f.group && b * f.group + j < cols; ++j)
          ASSERT_EQ(y[size_t(r * cols + b * f.group + j)], block[size_t(j)])
              << f.name();
      }
  }
}

/// y = x @ W^T in double, and sum |x| |W| per output (the error scale).
void reference(const std::vector<float> &x, const std::vector<float> &w,
               int64_t t, int64_t n, int64_t k, std::vector<double> &y,
               std::vector<double> &scale) {
  y.assign(size_t(t * n), 0.0);
  scale.assign(size_t(t * n), 0.0);
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t l = 0; l < k; ++l) {
        double p = double(x[size_t(i * k + l)]) * double(w[size_t(j * k + l)]);
        y[size_t(i * n + j)] += p;
        scale[size_t(i * n + j)] += std::fabs(p);
      }
}

std::vector<float> randomActivations(int64_t t, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> x(size_t(t * k));
  for (float &v : x)
    v = value(rng);
  return x;
}

TEST(QuantizeTest, GGMLQuantizedWeightsThroughExistingKernels) {
  // T > 16: calls of up to 16 rows of Q4_0/Q8_0 quantize the activations
  // too (exactly as one-row decode does, for batch invariance).
  using MatmulFn = void (*)(LLMC_MEMREF2(float, x), LLMC_MEMREF1(uint8_t, w),
                            int64_t, LLMC_MEMREF2(float, y));
  const MatmulFn kernels[] = {llmc_matmul_q8_0, llmc_matmul_q4_0,
                              llmc_matmul_q4_k, llmc_matmul_q6_k};
  for (int i = 0; i < 4; ++i)
    for (int64_t k : kColumns)
      for (int64_t t : {int64_t(17), int64_t(19)}) {
        Fmt f = ggmlFormats()[size_t(i)];
        int64_t n = 24;
        std::vector<float> w = testMatrix(n, k, 5);
        std::vector<uint8_t> packed = quantize(f, w, n, k);
        std::vector<float> wd = dequantize(f, packed, n, k);
        std::vector<float> x = randomActivations(t, k, 9);
        std::vector<float> y(size_t(t * n));
        kernels[i](x.data(), x.data(), 0, t, k, k, 1, packed.data(),
                   packed.data(), 0, int64_t(packed.size()), 1, 0, y.data(),
                   y.data(), 0, t, n, n, 1);
        std::vector<double> want, scale;
        reference(x, wd, t, n, k, want, scale);
        for (size_t e = 0; e < y.size(); ++e)
          EXPECT_NEAR(y[e], want[e], 1e-4 * scale[e] + 1e-6)
              << f.name() << " K " << k << " T " << t << " element " << e;
      }
}

/// The finite values of a small float format, by code (0..127, positive).
std::vector<double> smallFloatValues(bool e4m3) {
  std::vector<double> values;
  for (int c = 0; c < 128; ++c) {
    int e = e4m3 ? c >> 3 : c >> 2, m = e4m3 ? c & 7 : c & 3;
    int mBits = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15;
    if (e4m3 ? c == 0x7f : e == 31)
      break; // the codes after the largest finite value
    double frac = double(m) / double(1 << mBits);
    values.push_back(e == 0 ? std::ldexp(frac, 1 - bias)
                            : std::ldexp(1 + frac, e - bias));
  }
  return values;
}

/// The code nearest to |x| (ties to the even code), saturating.
int nearestCode(const std::vector<double> &values, double a) {
  if (a >= values.back())
    return int(values.size()) - 1;
  int best = 0;
  for (int c = 1; c < int(values.size()); ++c) {
    double err = std::fabs(values[size_t(c)] - a),
           bestErr = std::fabs(values[size_t(best)] - a);
    if (err < bestErr || (err == bestErr && c % 2 == 0))
      best = c;
  }
  return best;
}

TEST(QuantizeTest, FP8MatchesNearestRepresentable) {
  for (bool e4m3 : {true, false}) {
    Fmt f = canonicalFmt(e4m3 ? qmm::FormatKind::FP8E4M3
                              : qmm::FormatKind::FP8E5M2);
    std::vector<double> values = smallFloatValues(e4m3);
    EXPECT_EQ(values.back(), e4m3 ? 448.0 : 57344.0);
    EXPECT_EQ(values[1], e4m3 ? std::ldexp(1.0, -9) : std::ldexp(1.0, -16));
    int mBits = e4m3 ? 3 : 2;
    double minNormal = e4m3 ? std::ldexp(1.0, -6) : std::ldexp(1.0, -14);
    // Random magnitudes over the whole range and past it, every
    // representable value, and every midpoint (the ties).
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> exponent(-20.0f, 17.0f);
    std::vector<float> x;
    for (int i = 0; i < 4000; ++i)
      x.push_back((i % 2 ? -1.0f : 1.0f) * std::exp2(exponent(rng)));
    for (size_t c = 0; c < values.size(); ++c) {
      x.push_back(float(values[c]));
      x.push_back(-float(values[c]));
      if (c + 1 < values.size())
        x.push_back(float((values[c] + values[c + 1]) / 2));
    }
    x.push_back(1e30f);
    x.push_back(-std::numeric_limits<float>::infinity());
    int64_t cols = int64_t(x.size());
    std::vector<uint8_t> packed = quantize(f, x, 1, cols);
    std::vector<float> y = dequantize(f, packed, 1, cols);
    for (int64_t i = 0; i < cols; ++i) {
      float v = x[size_t(i)];
      double a = std::fabs(double(v));
      int code = nearestCode(values, a);
      uint8_t want = uint8_t(code | (std::signbit(v) ? 0x80 : 0));
      ASSERT_EQ(packed[size_t(i)], want) << f.name() << " value " << v;
      ASSERT_EQ(std::fabs(y[size_t(i)]), float(values[size_t(code)]));
      // The spec's bound: half an ulp, relative in the normal range.
      if (a <= values.back())
        EXPECT_LE(std::fabs(std::fabs(double(y[size_t(i)])) - a),
                  a >= minNormal ? a * std::ldexp(1.0, -mBits - 1)
                                 : std::ldexp(minNormal, -mBits - 1))
            << f.name() << " value " << v;
    }
    // Every code decodes and re-encodes to itself, NaN stays NaN.
    std::vector<uint8_t> codes;
    for (int c = 0; c < 256; ++c)
      if ((c & 0x7f) < int(values.size()))
        codes.push_back(uint8_t(c));
    std::vector<float> decoded(codes.size());
    ASSERT_EQ(llmc_dequantize_rows(f.kind, f.bits, f.group, f.symmetric,
                                   codes.data(), 1, int64_t(codes.size()),
                                   decoded.data()),
              0);
    EXPECT_EQ(quantize(f, decoded, 1, int64_t(decoded.size())), codes);
    uint8_t nanCode = 0x7f;
    float nan = 0.0f;
    ASSERT_EQ(llmc_dequantize_rows(f.kind, f.bits, f.group, f.symmetric,
                                   &nanCode, 1, 1, &nan),
              0);
    EXPECT_TRUE(std::isnan(nan));
    std::vector<float> nanIn{std::numeric_limits<float>::quiet_NaN()};
    EXPECT_TRUE(std::isnan(dequantize(f, quantize(f, nanIn, 1, 1), 1, 1)[0]));
  }
}

TEST(QuantizeTest, MXFP4RoundTripWithinBounds) {
  Fmt f = canonicalFmt(qmm::FormatKind::MXFP4);
  for (int64_t cols : kColumns)
    expectWithinBound(
        f, cols,
        [](const uint8_t *block, const std::vector<float> &data, int64_t,
           float x) {
          float amax = maxAbsOf(data, 0, 32);
          int shared = amax > 0 ? int(std::floor(std::log2(amax))) - 2 : -127;
          EXPECT_EQ(int(block[0]) - 127, shared);
          // Scaled magnitude v: half the E2M1 gap below 6, clipped above.
          float scale = std::ldexp(1.0f, shared), v = std::fabs(x) / scale;
          float gap = v < 2 ? 0.5f : v < 4 ? 1.0f : 2.0f;
          return scale * (v > 6 ? v - 6 : gap / 2) * (1 + 1e-6f);
        });
  // Representable values: E2M1 magnitudes times the shared scale 2^-1.
  const float e2m1[] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  std::vector<float> x(64);
  for (int j = 0; j < 64; ++j)
    x[size_t(j)] = (j % 3 ? 0.5f : -0.5f) * e2m1[(j * 3 + 7) % 8];
  x[0] = 3.0f;
  x[32] = -3.0f;
  EXPECT_EQ(dequantize(f, quantize(f, x, 1, 64), 1, 64), x);
  // Ties (scale 2^0, amax 6) go to the even code; past 6 saturates.
  std::vector<float> ties = {6, 0.25f, 0.75f,  1.25f,  1.75f, 2.5f, 3.5f,
                             5, 7,     -0.25f, -0.75f, -5,    -5.5f};
  std::vector<float> want = {6, 0, 1, 1, 2, 2, 4, 4, 6, -0.0f, -1, -4, -6};
  ties.resize(32, 0.0f);
  want.resize(32, 0.0f);
  std::vector<float> got = dequantize(f, quantize(f, ties, 1, 32), 1, 32);
  EXPECT_EQ(got, want);
}

TEST(QuantizeTest, PackedMatmulMatchesDequantized) {
  for (const Fmt &f : allFormats())
    for (int64_t k : kColumns)
      for (int64_t t : {int64_t(1), int64_t(5)}) {
        int64_t n = 21, xStride = k + 3, offset = 40;
        std::vector<float> w = testMatrix(n, k, uint32_t(k + t));
        std::vector<uint8_t> packed = quantize(f, w, n, k);
        std::vector<float> wd = dequantize(f, packed, n, k);
        // The weight at a byte offset inside a larger range; x strided.
        std::vector<uint8_t> range(size_t(offset), 0x55);
        range.insert(range.end(), packed.begin(), packed.end());
        std::vector<float> x = randomActivations(t, k, 17);
        std::vector<float> xs(size_t(t * xStride), 1e30f);
        for (int64_t i = 0; i < t; ++i)
          std::copy_n(&x[size_t(i * k)], k, &xs[size_t(i * xStride)]);
        std::vector<float> y(size_t(t * n));
        llmc_matmul_packed(xs.data(), xs.data(), 0, t, k, xStride, 1,
                           range.data(), range.data(), 0, int64_t(range.size()),
                           1, offset, f.kind, f.bits, f.group, f.symmetric,
                           y.data(), y.data(), 0, t, n, n, 1);
        std::vector<double> want, scale;
        reference(x, wd, t, n, k, want, scale);
        for (size_t e = 0; e < y.size(); ++e)
          EXPECT_NEAR(y[e], want[e], 1e-4 * scale[e] + 1e-6)
              << f.name() << " K " << k << " T " << t << " element " << e;
      }
}

TEST(QuantizeTest, PackedMatmulThreadCountDoesNotChangeResults) {
  Fmt f{int64_t(qmm::FormatKind::Int), 4, 64, 0};
  int64_t n = 600, k = 512, t = 5;
  std::vector<uint8_t> packed = quantize(f, testMatrix(n, k, 2), n, k);
  std::vector<float> x = randomActivations(t, k, 4);
  auto run = [&](int64_t threads) {
    llmc_kernels_set_threads(threads);
    std::vector<float> y(size_t(t * n));
    llmc_matmul_packed(x.data(), x.data(), 0, t, k, k, 1, packed.data(),
                       packed.data(), 0, int64_t(packed.size()), 1, 0, f.kind,
                       f.bits, f.group, f.symmetric, y.data(), y.data(), 0, t,
                       n, n, 1);
    return y;
  };
  std::vector<float> one = run(1), three = run(3);
  llmc_kernels_set_threads(1);
  EXPECT_EQ(one, three);
}

TEST(QuantizeTest, BadParametersAreRejected) {
  struct Bad {
    int64_t kind, bits, group, symmetric;
  };
  const Bad bad[] = {
      {-1, 8, 32, 1}, {8, 8, 32, 1},  {0, 8, 64, 1},  {0, 4, 32, 1},
      {0, 8, 32, 0},  {1, 4, 16, 1},  {2, 4, 256, 1}, {2, 4, 32, 0},
      {3, 6, 256, 0}, {4, 5, 32, 1},  {4, 1, 32, 1},  {4, 16, 32, 1},
      {4, 4, 16, 1},  {4, 4, 256, 0}, {4, 4, 32, 2},  {4, 4, 32, -1},
      {5, 8, 32, 1},  {5, 8, 1, 0},   {6, 4, 1, 1},   {7, 4, 32, 0},
      {7, 4, 64, 1},  {7, 8, 32, 1}};
  std::vector<float> x(256, 1.0f), y(256, 5.0f);
  std::vector<uint8_t> packed(1024, 0x11);
  for (const Bad &b : bad) {
    EXPECT_EQ(llmc_quantize_rows(b.kind, b.bits, b.group, b.symmetric, x.data(),
                                 1, 256, packed.data()),
              -1)
        << b.kind << " " << b.bits << " " << b.group << " " << b.symmetric;
    EXPECT_EQ(llmc_dequantize_rows(b.kind, b.bits, b.group, b.symmetric,
                                   packed.data(), 1, 256, y.data()),
              -1);
    std::vector<float> out(4, 0.0f);
    llmc_matmul_packed(x.data(), x.data(), 0, 1, 256, 256, 1, packed.data(),
                       packed.data(), 0, 1024, 1, 0, b.kind, b.bits, b.group,
                       b.symmetric, out.data(), out.data(), 0, 1, 4, 4, 1);
    for (float v : out)
      EXPECT_TRUE(std::isnan(v));
  }
  EXPECT_EQ(packed, std::vector<uint8_t>(1024, 0x11)); // nothing written
  EXPECT_EQ(y, std::vector<float>(256, 5.0f));
  Fmt q8 = canonicalFmt(qmm::FormatKind::Q8_0);
  EXPECT_EQ(llmc_quantize_rows(q8.kind, q8.bits, q8.group, q8.symmetric,
                               x.data(), -1, 32, packed.data()),
            -1);
  EXPECT_EQ(llmc_dequantize_rows(q8.kind, q8.bits, q8.group, q8.symmetric,
                                 packed.data(), 1, -5, y.data()),
            -1);
  // Every valid format is accepted.
  for (const Fmt &f : allFormats())
    EXPECT_EQ(llmc_quantize_rows(f.kind, f.bits, f.group, f.symmetric, x.data(),
                                 1, 1, packed.data()),
              0)
        << f.name();
}

TEST(QuantizeTest, ConvertFloatsRoundsToNearestEven) {
  // f32 -> f16 -> f32 and f32 -> bf16 -> f32 on values with known results:
  // 1 + 2^-11 is a tie between 1 and 1 + 2^-10 (even: 1); 1 + 3 * 2^-11
  // rounds up; 70000 overflows f16; 2^-24 is the smallest f16 subnormal.
  std::vector<float> in = {1.0f + std::ldexp(1.0f, -11),
                           1.0f + 3 * std::ldexp(1.0f, -11), -2.5f, 70000.0f,
                           std::ldexp(1.0f, -24), 0.0f};
  std::vector<uint16_t> half(in.size()), bf16(in.size());
  std::vector<float> back(in.size());
  ASSERT_EQ(llmc_convert_floats(in.data(), 0, half.data(), 1, 6), 0);
  ASSERT_EQ(llmc_convert_floats(half.data(), 1, back.data(), 0, 6), 0);
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], 1.0f + std::ldexp(1.0f, -9));
  EXPECT_EQ(back[2], -2.5f);
  EXPECT_TRUE(std::isinf(back[3]));
  EXPECT_EQ(back[4], std::ldexp(1.0f, -24));
  EXPECT_EQ(half[5], 0);
  ASSERT_EQ(llmc_convert_floats(in.data(), 0, bf16.data(), 2, 6), 0);
  ASSERT_EQ(llmc_convert_floats(bf16.data(), 2, back.data(), 0, 6), 0);
  EXPECT_EQ(back[2], -2.5f);
  EXPECT_EQ(back[3], 70144.0f); // 8 significant bits
  // bf16 -> f16 goes through f32.
  ASSERT_EQ(llmc_convert_floats(bf16.data(), 2, half.data(), 1, 1), 0);
  EXPECT_EQ(half[0], 0x3c00); // 1.0
  std::vector<uint16_t> untouched(2, 7);
  EXPECT_EQ(llmc_convert_floats(in.data(), 3, untouched.data(), 1, 2), -1);
  EXPECT_EQ(llmc_convert_floats(in.data(), 0, untouched.data(), 1, -1), -1);
  EXPECT_EQ(untouched, std::vector<uint16_t>(2, 7));
}

} // namespace
