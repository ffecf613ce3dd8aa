//===- Elementwise.cpp - row-wise kernels: rms_norm, rope, swiglu, add ----===//
//
// Part of llmc. The decoder's small row-wise ops as kernels, so a layer
// compiles to a handful of calls instead of a dozen loop nests (compile
// time) and RoPE computes each angle's cosine and sine once per position
// for all heads and layers of a step. The arithmetic follows the linalg
// lowering of the same ops (lib/Conversion/LLMToLinalg/DecoderOps.cpp)
// operation by operation (this file is compiled without FP contraction); only
// RMSNorm's sum of squares is accumulated in a different order.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include "llmc/Runtime/Kernels.h"
#include <cmath>
#include <cstring>
#include <vector>

using namespace llmc::kernels;

namespace {

float weightAt(const uint8_t *w, int64_t format, int64_t i) {
  uint16_t h;
  switch (format) {
  case 1: // f16
    std::memcpy(&h, w + 2 * i, 2);
    return halfToFloat(h);
  case 2: { // bf16
    std::memcpy(&h, w + 2 * i, 2);
    uint32_t bits = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  default: {
    float f;
    std::memcpy(&f, w + 4 * i, 4);
    return f;
  }
  }
}

/// RoPE's cosines and sines of the rows at positions [pos, pos + rows),
/// kept for the next call: every layer rotates its queries and keys at the
/// same positions, so a step computes them once instead of twice per
/// layer. Grown, then reused (kernels are called from one thread).
struct RopeTable {
  int64_t pos = -1, rows = 0, rotary = 0;
  double theta = 0.0, freqScale = 0.0;
  std::vector<float> values; // per row: rotary / 2 cosines, then the sines

  const float *get(int64_t p, int64_t r, int64_t rot, double th, double scale) {
    int64_t half = rot / 2;
    if (p == pos && r == rows && rot == rotary && th == theta &&
        scale == freqScale)
      return values.data();
    if (int64_t(values.size()) < 2 * half * r)
      values.resize(size_t(2 * half * r));
    for (int64_t t = 0; t < r; ++t) {
      float *cosines = values.data() + 2 * half * t, *sines = cosines + half;
      float at = float(uint64_t(p + t));
      for (int64_t i = 0; i < half; ++i) {
        float freq =
            float(scale * std::pow(th, -2.0 * double(i) / double(rot)));
        float angle = at * freq;
        cosines[i] = std::cos(angle);
        sines[i] = std::sin(angle);
      }
    }
    pos = p, rows = r, rotary = rot, theta = th, freqScale = scale;
    return values.data();
  }
};
RopeTable ropeTable;

float sumOfSquares(const float *x, int64_t n) {
  if (activeISA() != ISA::Scalar)
    return sumOfSquaresAVX2(x, n);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    sum += x[i] * x[i];
  return sum;
}

void swigluRow(const float *g, const float *u, float *y, int64_t n) {
  int64_t i = 0;
  if (activeISA() != ISA::Scalar)
    i = swigluAVX2(g, u, y, n);
  for (; i < n; ++i) // silu(g) * u, silu(g) = g / (1 + e^-g)
    y[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

} // namespace

extern "C" {

void llmc_rmsnorm(LLMC_MEMREF2(float, x), LLMC_MEMREF1(uint8_t, w),
                  int64_t weightOffset, int64_t weightFormat, float eps,
                  LLMC_MEMREF2(float, y)) {
  (void)xAllocated, (void)xColStride, (void)wAllocated, (void)wSize,
      (void)wStride, (void)yAllocated, (void)yRows, (void)yColStride;
  const uint8_t *weight = w + wOffset + weightOffset;
  int64_t width = xCols;
  for (int64_t t = 0; t < xRows; ++t) {
    const float *in = x + xOffset + t * xRowStride;
    float *out = y + yOffset + t * yRowStride;
    float sum = sumOfSquares(in, width);
    float mean = sum / float(width);
    float inv = 1.0f / std::sqrt(mean + eps);
    if (weightFormat == 0) { // f32: a loop the compiler vectorizes
      for (int64_t i = 0; i < width; ++i) {
        float wi;
        std::memcpy(&wi, weight + 4 * i, 4);
        out[i] = in[i] * inv * wi;
      }
      continue;
    }
    for (int64_t i = 0; i < width; ++i)
      out[i] = in[i] * inv * weightAt(weight, weightFormat, i);
  }
}

void llmc_rope(LLMC_MEMREF2(float, x), int64_t pos, int64_t headDim,
               int64_t rotary, double theta, double freqScale,
               int64_t halfSplit, LLMC_MEMREF2(float, y)) {
  (void)xAllocated, (void)xColStride, (void)yAllocated, (void)yRows,
      (void)yColStride;
  int64_t half = rotary / 2;
  const float *table = ropeTable.get(pos, xRows, rotary, theta, freqScale);
  for (int64_t t = 0; t < xRows; ++t) {
    const float *in = x + xOffset + t * xRowStride;
    float *out = y + yOffset + t * yRowStride;
    const float *cosines = table + 2 * half * t, *sines = cosines + half;
    for (int64_t h = 0; h + headDim <= xCols; h += headDim) {
      const float *a = in + h;
      float *b = out + h;
      for (int64_t d = rotary; d < headDim; ++d)
        b[d] = a[d];
      for (int64_t i = 0; i < half; ++i) {
        int64_t first = halfSplit ? i : 2 * i;
        int64_t second = halfSplit ? i + half : 2 * i + 1;
        float c = cosines[i], s = sines[i];
        float x0 = a[first], x1 = a[second];
        float x0c = x0 * c, x1s = x1 * s, x1c = x1 * c, x0s = x0 * s;
        b[first] = x0c - x1s;
        b[second] = x0s + x1c;
      }
    }
  }
}

void llmc_swiglu(LLMC_MEMREF2(float, g), LLMC_MEMREF2(float, u),
                 LLMC_MEMREF2(float, y)) {
  (void)gAllocated, (void)gColStride, (void)uAllocated, (void)uRows,
      (void)uCols, (void)uColStride, (void)yAllocated, (void)yRows,
      (void)yCols, (void)yColStride;
  for (int64_t t = 0; t < gRows; ++t)
    swigluRow(g + gOffset + t * gRowStride, u + uOffset + t * uRowStride,
              y + yOffset + t * yRowStride, gCols);
}

void llmc_add(LLMC_MEMREF2(float, a), LLMC_MEMREF2(float, b),
              LLMC_MEMREF2(float, y)) {
  (void)aAllocated, (void)aColStride, (void)bAllocated, (void)bRows,
      (void)bCols, (void)bColStride, (void)yAllocated, (void)yRows,
      (void)yCols, (void)yColStride;
  for (int64_t t = 0; t < aRows; ++t) {
    const float *l = a + aOffset + t * aRowStride;
    const float *r = b + bOffset + t * bRowStride;
    float *out = y + yOffset + t * yRowStride;
    for (int64_t i = 0; i < aCols; ++i)
      out[i] = l[i] + r[i];
  }
}

} // extern "C"
