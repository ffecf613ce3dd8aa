//===- Scalar.cpp - portable kernels and block decoders --------------------===//
//
// Part of llmc. Straightforward C++ for every kernel: the fallback on CPUs
// without AVX-512 (or with LLMC_KERNELS=scalar) and the reference the
// kernel unit tests compare the vector code with. Block layouts follow the
// GGUF specification (ggml's Q8_0, Q4_0, Q4_K, Q6_K).
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace llmc::kernels;

float llmc::kernels::halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31;
  uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else { // subnormal: normalize
      int shift = 0;
      while (!(mantissa & 0x400)) {
        mantissa <<= 1;
        ++shift;
      }
      mantissa &= 0x3ff;
      bits = sign | uint32_t(127 - 15 + 1 - shift) << 23 | mantissa << 13;
    }
  } else if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | mantissa << 13;
  } else {
    bits = sign | (exponent + 127 - 15) << 23 | mantissa << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

namespace {

float bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t load16(const uint8_t *p) { return uint16_t(p[0] | p[1] << 8); }

} // namespace

BlockShape llmc::kernels::blockShape(Format format) {
  switch (format) {
  case Format::F32:
    return {32, 128};
  case Format::F16:
  case Format::BF16:
    return {32, 64};
  case Format::Q8_0:
    return {32, 34};
  case Format::Q4_0:
    return {32, 18};
  case Format::Q4_K:
    return {256, 144};
  case Format::Q6_K:
    return {256, 210};
  }
  return {32, 128};
}

void llmc::kernels::decodeBlockScalar(Format format, const uint8_t *b,
                                      float *out) {
  switch (format) {
  case Format::F32:
    std::memcpy(out, b, 128);
    return;
  case Format::F16:
    for (int j = 0; j < 32; ++j)
      out[j] = halfToFloat(load16(b + 2 * j));
    return;
  case Format::BF16:
    for (int j = 0; j < 32; ++j)
      out[j] = bf16ToFloat(load16(b + 2 * j));
    return;
  case Format::Q8_0: {
    float d = halfToFloat(load16(b));
    for (int j = 0; j < 32; ++j)
      out[j] = d * float(int8_t(b[2 + j]));
    return;
  }
  case Format::Q4_0: {
    float d = halfToFloat(load16(b));
    for (int j = 0; j < 16; ++j) {
      out[j] = d * float(int(b[2 + j] & 15) - 8);
      out[j + 16] = d * float(int(b[2 + j] >> 4) - 8);
    }
    return;
  }
  case Format::Q4_K: {
    float d = halfToFloat(load16(b)), dmin = halfToFloat(load16(b + 2));
    const uint8_t *scales = b + 4, *qs = b + 16;
    for (int is = 0; is < 8; ++is) {
      int sc, m;
      q4kScaleMin(scales, is, sc, m);
      const uint8_t *q = qs + (is / 2) * 32;
      for (int l = 0; l < 32; ++l) {
        int v = is % 2 == 0 ? q[l] & 15 : q[l] >> 4;
        out[is * 32 + l] = d * float(sc) * float(v) - dmin * float(m);
      }
    }
    return;
  }
  case Format::Q6_K: {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
    float d = halfToFloat(load16(b + 208));
    for (int j = 0; j < 256; ++j) {
      int half = j / 128, r = j % 128, quarter = r / 32, l = r % 32;
      int low = (ql[half * 64 + l + (quarter % 2) * 32] >> ((quarter / 2) * 4)) & 15;
      int high = (qh[half * 32 + l] >> (quarter * 2)) & 3;
      int q = (low | high << 4) - 32;
      out[j] = d * float(sc[half * 8 + l / 16 + quarter * 2]) * float(q);
    }
    return;
  }
  }
}

void llmc::kernels::decodeLeadingScalar(Format format, const uint8_t *block,
                                        int64_t count, float *out) {
  switch (format) {
  case Format::F32:
    std::memcpy(out, block, size_t(count) * 4);
    return;
  case Format::F16:
    for (int64_t j = 0; j < count; ++j)
      out[j] = halfToFloat(load16(block + 2 * j));
    return;
  case Format::BF16:
    for (int64_t j = 0; j < count; ++j)
      out[j] = bf16ToFloat(load16(block + 2 * j));
    return;
  default: // block formats store whole (padded) blocks
    decodeBlockScalar(format, block, out);
    return;
  }
}

void llmc::kernels::matmulScalar(const Matmul &p, int64_t nBegin,
                                 int64_t nEnd) {
  BlockShape shape = blockShape(p.format);
  decodedRowsMatmul(p.x, p.xStride, p.rows, p.k, p.y, p.yStride, nBegin, nEnd,
                    shape.elements,
                    [&](int64_t n, int64_t k0, int64_t width, float *out) {
                      decodeLeadingScalar(
                          p.format,
                          p.w + n * p.rowBytes +
                              k0 / shape.elements * shape.bytes,
                          width, out);
                    });
}

void llmc::kernels::attentionScalar(const Attention &p, int64_t hBegin,
                                    int64_t hEnd) {
  int64_t group = p.heads / p.kvHeads, d = p.headDim;
  for (int64_t h = hBegin; h < hEnd; ++h) {
    const float *keys = p.keys + (h / group) * p.kvHeadStride;
    const float *values = p.values + (h / group) * p.kvHeadStride;
    for (int64_t t = 0; t < p.rows; ++t) {
      const float *q = p.q + t * p.qStride + h * d;
      float *out = p.out + t * p.outStride + h * d;
      int64_t query = p.pos + t;
      int64_t last = p.causal ? query : p.pos + p.rows - 1;
      int64_t first = p.window > 0 ? std::max<int64_t>(0, query - p.window + 1) : 0;
      // Online softmax: running maximum m, running sum l, unnormalized out.
      float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
      for (int64_t j = 0; j < d; ++j)
        out[j] = 0.0f;
      for (int64_t s = first; s <= last; ++s) {
        const float *k = keys + s * p.posStride;
        float score = 0.0f;
        for (int64_t j = 0; j < d; ++j)
          score += q[j] * k[j];
        score *= p.scale;
        float mNew = std::max(m, score);
        float correction = std::exp(m - mNew), weight = std::exp(score - mNew);
        l = l * correction + weight;
        const float *v = values + s * p.posStride;
        for (int64_t j = 0; j < d; ++j)
          out[j] = out[j] * correction + weight * v[j];
        m = mNew;
      }
      float inv = l > 0.0f ? 1.0f / l : 0.0f;
      for (int64_t j = 0; j < d; ++j)
        out[j] *= inv;
    }
  }
}

void llmc::kernels::quantizeRowScalar(const float *x, int64_t k,
                                      QuantizedRow &out) {
  for (int64_t b = 0; b < out.blocks; ++b) {
    float maxAbs = 0.0f;
    for (int64_t j = 32 * b; j < std::min(k, 32 * b + 32); ++j)
      maxAbs = std::max(maxAbs, std::fabs(x[j]));
    float inv = maxAbs > 0.0f ? 127.0f / maxAbs : 0.0f;
    int32_t sum = 0;
    for (int64_t j = 0; j < 32; ++j) {
      float v = 32 * b + j < k ? x[32 * b + j] : 0.0f;
      int32_t q = int32_t(std::nearbyint(v * inv)); // ties to even
      out.q[32 * b + j] = int8_t(q);
      sum += q;
    }
    out.d[b] = maxAbs / 127.0f;
    out.sums[b] = sum;
  }
}

void llmc::kernels::matvecQ8Scalar(const Matmul &p, const QuantizedRow &x,
                                   int64_t nBegin, int64_t nEnd) {
  BlockShape shape = blockShape(p.format);
  for (int64_t n = nBegin; n < nEnd; ++n) {
    double total = 0.0;
    for (int64_t b = 0; b < x.blocks; ++b) {
      const uint8_t *block = p.w + n * p.rowBytes + b * shape.bytes;
      float dw = halfToFloat(load16(block));
      int64_t dot = 0;
      for (int j = 0; j < 32; ++j) {
        int w;
        if (p.format == Format::Q8_0)
          w = int8_t(block[2 + j]);
        else
          w = (j < 16 ? block[2 + j] & 15 : block[2 + j - 16] >> 4) - 8;
        dot += int64_t(w) * x.q[32 * b + j];
      }
      total += double(dw) * double(x.d[b]) * double(dot);
    }
    p.y[n] = float(total);
  }
}
