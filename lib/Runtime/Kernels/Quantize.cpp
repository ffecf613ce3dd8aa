//===- Quantize.cpp - quantizers and decoders of every qmm format ---------===//
//
// Part of llmc. Packs f32 rows into each qmm format and unpacks them. A
// rows x cols matrix is row-major; each row is split along cols into
// ceil(cols / group) blocks, the ragged last block zero padded. Codes are
// rounded to nearest (ties to even); f16 fields are IEEE half, little endian.
//
//   Q8_0  (34 B / 32)   f16 d, int8 q[32]; x = d * q, d = amax / 127.
//   Q4_0  (18 B / 32)   f16 d, 16 bytes; byte j = q[j] | q[j + 16] << 4;
//                       x = d * (q - 8), d = (value of largest |x|) / -8.
//   Q4_K  (144 B / 256) f16 d, f16 dmin, 12 bytes of 6-bit (sc, m) for 8
//                       sub-blocks of 32 (sub-block i < 4: sc in byte i,
//                       m in byte i + 4, low 6 bits; i >= 4: low nibbles of
//                       sc/m in byte i + 4, high 2 bits in the top bits of
//                       bytes i - 4 / i), then 128 bytes: sub-blocks 2p and
//                       2p + 1 share bytes 32p.., low and high nibble;
//                       x = d * sc * q - dmin * m, q in 0..15.
//   Q6_K  (210 B / 256) ql[128], qh[64], int8 sc[16], f16 d; element
//                       j = 128h + 32c + l (c = 0..3): low 4 bits in
//                       ql[64h + l + 32(c % 2)] (nibble c / 2), high 2 bits
//                       in qh[32h + l] bits 2c..2c+1; x = d * sc[j / 16] *
//                       (q - 32), q in 0..63.
//   intN  (N = 2, 3, 4, 8; group 32/64/128) f16 d, f16 m (asym only), then
//                       ceil(group * N / 8) bytes of codes, element i in
//                       bits [iN, (i + 1)N) LSB first. Sym: x = d * (q -
//                       2^(N-1)), q in 1..2^N - 1, d = amax / (2^(N-1) - 1).
//                       Asym: x = d * q + m, m = min, d = (max - m) /
//                       (2^N - 1), q in 0..2^N - 1.
//   fp8_e4m3 (1 B)      OCP E4M3FN: sign, 4-bit exponent (bias 7), 3-bit
//                       mantissa, subnormals, no infinities, NaN = S.1111.111,
//                       largest 448; larger magnitudes saturate to 448.
//   fp8_e5m2 (1 B)      sign, 5-bit exponent (bias 15), 2-bit mantissa,
//                       IEEE-like (subnormals, inf, NaN), largest finite 57344;
//                       larger magnitudes (and inf) saturate to 57344.
//   mxfp4 (17 B / 32)   OCP MX: E8M0 scale byte e (2^(e - 127), 255 = NaN),
//                       then 16 bytes, byte j = c[j] | c[j + 16] << 4 with
//                       c an FP4 E2M1 code (sign bit 3; magnitudes 0, 0.5, 1,
//                       1.5, 2, 3, 4, 6); shared exponent floor(log2(amax))
//                       - 2, magnitudes above 6 saturate.
//
// Q4_K and Q6_K pick each sub-block's range from its min/max (no search) and
// round the 6/8-bit sub-block scales up, so no element is clipped. f16 scales
// saturate at 65504 (data beyond ~65504 * 127 clips). The ggml blocks decode
// through decodeBlockScalar (Scalar.cpp), the layout the matmul kernels read.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

using namespace llmc::kernels;

/// The largest finite half.
constexpr float kHalfMax = 65504.0f;

uint16_t llmc::kernels::floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint16_t sign = uint16_t(bits >> 16 & 0x8000);
  uint32_t a = bits & 0x7fffffff;
  if (a >= 0x7f800000) // inf, NaN
    return sign | 0x7c00 | (a > 0x7f800000 ? 0x200 : 0);
  if (a >= 0x477ff000) // 65520 and above round to infinity
    return sign | 0x7c00;
  if (a < 0x38800000) { // below 2^-14: a multiple of the subnormal 2^-24
    float v;
    std::memcpy(&v, &a, 4);
    return sign | uint16_t(std::nearbyint(v * 16777216.0f));
  }
  uint32_t mantissa = a & 0x7fffff;
  uint32_t h = ((a >> 23) - 127 + 15) << 10 | mantissa >> 13;
  uint32_t rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    ++h; // a carry into the exponent is the right result
  return uint16_t(sign | h);
}

uint16_t llmc::kernels::floatToHalfSaturated(float v) {
  return floatToHalf(std::max(-kHalfMax, std::min(v, kHalfMax)));
}

namespace {

uint16_t load16(const uint8_t *p) { return uint16_t(p[0] | p[1] << 8); }
void store16(uint8_t *p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}

/// The nearest half to v (>= 0), saturated at 65504.
uint16_t halfNearest(float v) { return floatToHalf(std::min(v, kHalfMax)); }
/// The smallest half >= v (>= 0), saturated at 65504.
uint16_t halfAtLeast(float v) {
  v = std::min(v, kHalfMax);
  uint16_t h = floatToHalf(v);
  if (halfToFloat(h) < v)
    ++h;
  return h;
}

/// nearbyint(v) clamped to [lo, hi]; NaN gives lo.
int roundClamp(float v, int lo, int hi) {
  float r = std::nearbyint(v);
  if (!(r >= float(lo)))
    return lo;
  if (r > float(hi))
    return hi;
  return int(r);
}

/// ceil(v) clamped to [0, hi]; NaN gives hi.
int ceilClamp(float v, int hi) {
  float r = std::ceil(v);
  if (!(r <= float(hi)))
    return hi;
  return r > 0.0f ? int(r) : 0;
}

float maxAbs(const float *x, int n) {
  float m = 0.0f;
  for (int i = 0; i < n; ++i)
    m = std::max(m, std::fabs(x[i]));
  return m;
}

//===----------------------------------------------------------------------===//
// ggml blocks
//===----------------------------------------------------------------------===//

void quantizeQ8_0(const float *x, uint8_t *b) {
  uint16_t dh = halfNearest(maxAbs(x, 32) / 127.0f);
  store16(b, dh);
  float d = halfToFloat(dh);
  for (int j = 0; j < 32; ++j)
    b[2 + j] = uint8_t(int8_t(d > 0.0f ? roundClamp(x[j] / d, -127, 127) : 0));
}

void quantizeQ4_0(const float *x, uint8_t *b) {
  float extreme = 0.0f; // the value of largest magnitude, with its sign
  for (int j = 0; j < 32; ++j)
    if (std::fabs(x[j]) > std::fabs(extreme))
      extreme = x[j];
  uint16_t dh = floatToHalfSaturated(extreme / -8.0f);
  store16(b, dh);
  float d = halfToFloat(dh);
  int q[32];
  for (int j = 0; j < 32; ++j)
    q[j] = d != 0.0f ? roundClamp(x[j] / d, -8, 7) + 8 : 8;
  for (int j = 0; j < 16; ++j)
    b[2 + j] = uint8_t(q[j] | q[j + 16] << 4);
}

void quantizeQ4_K(const float *x, uint8_t *b) {
  // Sub-block i: x ~ d*sc_i*q - dmin*m_i. The offset dmin*m_i is rounded up
  // to cover the sub-block's min (clamped to <= 0, m is unsigned), then the
  // step d*sc_i rounded up to cover its max.
  float lo[8], hi[8], maxNegMin = 0.0f;
  for (int i = 0; i < 8; ++i) {
    lo[i] = 0.0f;
    hi[i] = -std::numeric_limits<float>::infinity();
    for (int l = 0; l < 32; ++l) {
      lo[i] = std::min(lo[i], x[32 * i + l]);
      hi[i] = std::max(hi[i], x[32 * i + l]);
    }
    maxNegMin = std::max(maxNegMin, -lo[i]);
  }
  uint16_t dminH = halfAtLeast(maxNegMin / 63.0f);
  float dmin = halfToFloat(dminH);
  int m[8], sc[8];
  float offset[8], need[8], maxNeed = 0.0f;
  for (int i = 0; i < 8; ++i) {
    m[i] = dmin > 0.0f ? ceilClamp(-lo[i] / dmin, 63) : 0;
    offset[i] = dmin * float(m[i]);
    need[i] = std::max(0.0f, (hi[i] + offset[i]) / 15.0f);
    maxNeed = std::max(maxNeed, need[i]);
  }
  uint16_t dH = halfAtLeast(maxNeed / 63.0f);
  float d = halfToFloat(dH);
  for (int i = 0; i < 8; ++i)
    sc[i] = d > 0.0f ? ceilClamp(need[i] / d, 63) : 0;

  store16(b, dH);
  store16(b + 2, dminH);
  uint8_t *scales = b + 4, *qs = b + 16;
  std::memset(scales, 0, 12 + 128);
  for (int i = 0; i < 4; ++i) {
    scales[i] = uint8_t(sc[i]);
    scales[i + 4] = uint8_t(m[i]);
  }
  for (int i = 4; i < 8; ++i) {
    scales[i + 4] = uint8_t((sc[i] & 15) | (m[i] & 15) << 4);
    scales[i - 4] |= uint8_t((sc[i] >> 4) << 6);
    scales[i] |= uint8_t((m[i] >> 4) << 6);
  }
  for (int i = 0; i < 8; ++i) {
    // The decoder's step: d * float(sc) first.
    float step = d * float(sc[i]);
    for (int l = 0; l < 32; ++l) {
      int q = step > 0.0f
                  ? roundClamp((x[32 * i + l] + offset[i]) / step, 0, 15)
                  : 0;
      qs[(i / 2) * 32 + l] |= uint8_t(i % 2 == 0 ? q : q << 4);
    }
  }
}

void quantizeQ6_K(const float *x, uint8_t *b) {
  // Sub-block s (16 elements): x ~ d*sc_s*(q - 32), step rounded up to
  // amax_s / 31.
  float need[16], maxNeed = 0.0f;
  for (int s = 0; s < 16; ++s) {
    need[s] = maxAbs(x + 16 * s, 16) / 31.0f;
    maxNeed = std::max(maxNeed, need[s]);
  }
  uint16_t dH = halfAtLeast(maxNeed / 127.0f);
  float d = halfToFloat(dH);
  uint8_t *ql = b, *qh = b + 128;
  std::memset(b, 0, 192);
  for (int s = 0; s < 16; ++s) {
    int sc = d > 0.0f ? ceilClamp(need[s] / d, 127) : 0;
    b[192 + s] = uint8_t(int8_t(sc));
    float step = d * float(sc);
    for (int e = 0; e < 16; ++e) {
      int j = 16 * s + e;
      int q = step > 0.0f ? roundClamp(x[j] / step, -32, 31) + 32 : 32;
      int half = j / 128, r = j % 128, quarter = r / 32, l = r % 32;
      ql[half * 64 + l + (quarter % 2) * 32] |=
          uint8_t((q & 15) << ((quarter / 2) * 4));
      qh[half * 32 + l] |= uint8_t((q >> 4) << (quarter * 2));
    }
  }
  store16(b + 208, dH);
}

//===----------------------------------------------------------------------===//
// intN
//===----------------------------------------------------------------------===//

void quantizeInt(const PackedFormat &f, const float *x, uint8_t *b) {
  int n = f.group, bits = f.bits;
  uint8_t *codes = b + (f.symmetric ? 2 : 4);
  std::memset(codes, 0, size_t((n * bits + 7) / 8));
  int q[128];
  if (f.symmetric) {
    int levels = (1 << (bits - 1)) - 1, zero = 1 << (bits - 1);
    uint16_t dh = halfNearest(maxAbs(x, n) / float(levels));
    store16(b, dh);
    float d = halfToFloat(dh);
    for (int i = 0; i < n; ++i)
      q[i] = d > 0.0f ? roundClamp(x[i] / d, -levels, levels) + zero : zero;
  } else {
    int top = (1 << bits) - 1;
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; ++i) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    uint16_t mh = floatToHalfSaturated(lo);
    float m = halfToFloat(mh);
    uint16_t dh = halfNearest(std::max(0.0f, (hi - m) / float(top)));
    store16(b, dh);
    store16(b + 2, mh);
    float d = halfToFloat(dh);
    for (int i = 0; i < n; ++i)
      q[i] = d > 0.0f ? roundClamp((x[i] - m) / d, 0, top) : 0;
  }
  for (int i = 0; i < n; ++i) {
    int pos = i * bits, shift = pos & 7;
    codes[pos >> 3] |= uint8_t(q[i] << shift);
    if (shift + bits > 8)
      codes[(pos >> 3) + 1] |= uint8_t(q[i] >> (8 - shift));
  }
}

void decodeInt(const PackedFormat &f, const uint8_t *b, float *out) {
  int n = f.group, bits = f.bits;
  float d = halfToFloat(load16(b));
  const uint8_t *codes = b + (f.symmetric ? 2 : 4);
  int q[128];
  switch (bits) {
  case 8:
    for (int i = 0; i < n; ++i)
      q[i] = codes[i];
    break;
  case 4:
    for (int i = 0; i < n; ++i)
      q[i] = codes[i >> 1] >> ((i & 1) * 4) & 15;
    break;
  case 2:
    for (int i = 0; i < n; ++i)
      q[i] = codes[i >> 2] >> ((i & 3) * 2) & 3;
    break;
  default:
    for (int i = 0; i < n; ++i) {
      int pos = i * bits, shift = pos & 7;
      int v = codes[pos >> 3] >> shift;
      if (shift + bits > 8)
        v |= codes[(pos >> 3) + 1] << (8 - shift);
      q[i] = v & ((1 << bits) - 1);
    }
    break;
  }
  if (f.symmetric) {
    int zero = 1 << (bits - 1);
    for (int i = 0; i < n; ++i)
      out[i] = d * float(q[i] - zero);
  } else {
    float m = halfToFloat(load16(b + 2));
    for (int i = 0; i < n; ++i)
      out[i] = d * float(q[i]) + m;
  }
}

//===----------------------------------------------------------------------===//
// fp8
//===----------------------------------------------------------------------===//

/// A small float format: `mantissaBits`, exponent `bias`, largest finite
/// value and its code.
struct SmallFloat {
  int mantissaBits, bias;
  float maxFinite;
  uint8_t maxCode;
};
constexpr SmallFloat kE4M3{3, 7, 448.0f, 0x7e};
constexpr SmallFloat kE5M2{2, 15, 57344.0f, 0x7b};

uint8_t encodeFP8(const SmallFloat &t, float x) {
  uint8_t sign = std::signbit(x) ? 0x80 : 0;
  if (std::isnan(x))
    return sign | 0x7f;
  float a = std::fabs(x);
  if (a >= t.maxFinite)
    return sign | t.maxCode;
  if (a == 0.0f)
    return sign;
  int e;
  std::frexp(a, &e);
  --e; // a = 1.f * 2^e
  int minExponent = 1 - t.bias;
  if (e < minExponent) // subnormal: a multiple of 2^(minExponent - M); the
    // count is the code (2^M rounds up into the smallest normal)
    return sign |
           uint8_t(std::nearbyint(std::ldexp(a, t.mantissaBits - minExponent)));
  int q = int(std::nearbyint(std::ldexp(a, t.mantissaBits - e)));
  // q in [2^M, 2^(M+1)]; 2^(M+1) carries into the exponent.
  return sign |
         uint8_t(((e + t.bias) << t.mantissaBits) + q - (1 << t.mantissaBits));
}

std::array<float, 256> fp8Table(bool e4m3) {
  std::array<float, 256> table;
  const SmallFloat &t = e4m3 ? kE4M3 : kE5M2;
  int m = t.mantissaBits, expMask = e4m3 ? 15 : 31;
  for (int c = 0; c < 256; ++c) {
    int e = (c & 0x7f) >> m, mantissa = c & ((1 << m) - 1);
    float v;
    if (e4m3 && e == expMask && mantissa == (1 << m) - 1)
      v = std::numeric_limits<float>::quiet_NaN();
    else if (!e4m3 && e == expMask)
      v = mantissa == 0 ? std::numeric_limits<float>::infinity()
                        : std::numeric_limits<float>::quiet_NaN();
    else if (e == 0)
      v = std::ldexp(float(mantissa), 1 - t.bias - m);
    else
      v = std::ldexp(float((1 << m) + mantissa), e - t.bias - m);
    table[size_t(c)] = c & 0x80 ? -v : v;
  }
  return table;
}

const float *fp8Values(PackedKind kind) {
  static const std::array<float, 256> e4m3 = fp8Table(true);
  static const std::array<float, 256> e5m2 = fp8Table(false);
  return kind == PackedKind::FP8E4M3 ? e4m3.data() : e5m2.data();
}

//===----------------------------------------------------------------------===//
// mxfp4
//===----------------------------------------------------------------------===//

constexpr float kE2M1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

/// The E2M1 magnitude code nearest to v >= 0, ties to the even code,
/// saturating at 6.
int e2m1Code(float v) {
  if (v <= 0.25f)
    return 0;
  if (v < 0.75f)
    return 1;
  if (v <= 1.25f)
    return 2;
  if (v < 1.75f)
    return 3;
  if (v <= 2.5f)
    return 4;
  if (v < 3.5f)
    return 5;
  if (v <= 5.0f)
    return 6;
  return 7;
}

void quantizeMXFP4(const float *x, uint8_t *b) {
  float amax = maxAbs(x, 32);
  int shared = -127;
  if (amax > 0.0f && std::isfinite(amax)) {
    int e;
    std::frexp(amax, &e); // amax = f * 2^e, f in [0.5, 1)
    shared = std::max(-127, std::min(127, e - 1 - 2));
  }
  b[0] = uint8_t(shared + 127);
  int c[32];
  for (int j = 0; j < 32; ++j) {
    float v = std::ldexp(std::fabs(x[j]), -shared);
    c[j] = e2m1Code(v) | (std::signbit(x[j]) ? 8 : 0);
  }
  for (int j = 0; j < 16; ++j)
    b[1 + j] = uint8_t(c[j] | c[j + 16] << 4);
}

void decodeMXFP4(const uint8_t *b, float *out) {
  float scale = b[0] == 255 ? std::numeric_limits<float>::quiet_NaN()
                            : std::ldexp(1.0f, int(b[0]) - 127);
  for (int j = 0; j < 32; ++j) {
    int c = j < 16 ? b[1 + j] & 15 : b[1 + j - 16] >> 4;
    float v = kE2M1[c & 7] * scale;
    out[j] = c & 8 ? -v : v;
  }
}

Format ggmlFormat(PackedKind kind) {
  switch (kind) {
  case PackedKind::Q8_0:
    return Format::Q8_0;
  case PackedKind::Q4_0:
    return Format::Q4_0;
  case PackedKind::Q4_K:
    return Format::Q4_K;
  default:
    return Format::Q6_K;
  }
}

void decodeBlock(const PackedFormat &f, const uint8_t *block, float *out) {
  switch (f.kind) {
  case PackedKind::Q8_0:
  case PackedKind::Q4_0:
  case PackedKind::Q4_K:
  case PackedKind::Q6_K:
    return decodeBlockScalar(ggmlFormat(f.kind), block, out);
  case PackedKind::Int:
    return decodeInt(f, block, out);
  case PackedKind::MXFP4:
    return decodeMXFP4(block, out);
  case PackedKind::FP8E4M3:
  case PackedKind::FP8E5M2:
    out[0] = fp8Values(f.kind)[block[0]];
    return;
  }
}

void quantizeBlock(const PackedFormat &f, const float *x, uint8_t *block) {
  switch (f.kind) {
  case PackedKind::Q8_0:
    return quantizeQ8_0(x, block);
  case PackedKind::Q4_0:
    return quantizeQ4_0(x, block);
  case PackedKind::Q4_K:
    return quantizeQ4_K(x, block);
  case PackedKind::Q6_K:
    return quantizeQ6_K(x, block);
  case PackedKind::Int:
    return quantizeInt(f, x, block);
  case PackedKind::MXFP4:
    return quantizeMXFP4(x, block);
  case PackedKind::FP8E4M3:
    block[0] = encodeFP8(kE4M3, x[0]);
    return;
  case PackedKind::FP8E5M2:
    block[0] = encodeFP8(kE5M2, x[0]);
    return;
  }
}

bool isFP8(const PackedFormat &f) {
  return f.kind == PackedKind::FP8E4M3 || f.kind == PackedKind::FP8E5M2;
}

} // namespace

bool llmc::kernels::packedFormat(int64_t kind, int64_t bits, int64_t group,
                                 int64_t symmetric, PackedFormat &out) {
  if (kind < 0 || kind > int64_t(PackedKind::MXFP4) ||
      (symmetric != 0 && symmetric != 1))
    return false;
  out.kind = PackedKind(kind);
  out.symmetric = symmetric != 0;
  if (out.kind == PackedKind::Int) {
    if ((bits != 2 && bits != 3 && bits != 4 && bits != 8) ||
        (group != 32 && group != 64 && group != 128))
      return false;
    out.bits = int(bits);
    out.group = int(group);
    out.blockBytes = (group * bits + 7) / 8 + 2 + (symmetric ? 0 : 2);
    return true;
  }
  // Fixed formats: their canonical bits, group and symmetry only.
  struct Canonical {
    int bits, group;
    bool symmetric;
    int64_t blockBytes;
  };
  static constexpr Canonical canonical[] = {
      {8, 32, true, 34},   {4, 32, true, 18}, {4, 256, false, 144},
      {6, 256, true, 210}, {0, 0, false, 0},  {8, 1, true, 1},
      {8, 1, true, 1},     {4, 32, true, 17}};
  const Canonical &c = canonical[kind];
  if (bits != c.bits || group != c.group || out.symmetric != c.symmetric)
    return false;
  out.bits = c.bits;
  out.group = c.group;
  out.blockBytes = c.blockBytes;
  return true;
}

void llmc::kernels::decodePacked(const PackedFormat &f, const uint8_t *row,
                                 int64_t k0, int64_t count, float *out) {
  if (isFP8(f)) { // a byte per element: a table look-up
    const float *values = fp8Values(f.kind);
    for (int64_t i = 0; i < count; ++i)
      out[i] = values[row[k0 + i]];
    return;
  }
  int64_t first = k0 / f.group, last = (k0 + count + f.group - 1) / f.group;
  for (int64_t b = first; b < last; ++b)
    decodeBlock(f, row + b * f.blockBytes, out + (b - first) * f.group);
}

void llmc::kernels::quantizePacked(const PackedFormat &f, const float *src,
                                   int64_t cols, uint8_t *dst) {
  float padded[256];
  int64_t blocks = (cols + f.group - 1) / f.group;
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t k0 = b * f.group, width = std::min<int64_t>(f.group, cols - k0);
    const float *x = src + k0;
    if (width < f.group) {
      std::memcpy(padded, x, size_t(width) * sizeof(float));
      std::fill(padded + width, padded + f.group, 0.0f);
      x = padded;
    }
    quantizeBlock(f, x, dst + b * f.blockBytes);
  }
}

extern "C" {

int64_t llmc_quantize_rows(int64_t kind, int64_t bits, int64_t group,
                           int64_t symmetric, const float *src, int64_t rows,
                           int64_t cols, uint8_t *dst) {
  PackedFormat f;
  if (!packedFormat(kind, bits, group, symmetric, f) || rows < 0 || cols < 0)
    return -1;
  int64_t rowBytes = packedRowBytes(f, cols);
  for (int64_t r = 0; r < rows; ++r)
    quantizePacked(f, src + r * cols, cols, dst + r * rowBytes);
  return 0;
}

int64_t llmc_dequantize_rows(int64_t kind, int64_t bits, int64_t group,
                             int64_t symmetric, const uint8_t *src,
                             int64_t rows, int64_t cols, float *dst) {
  PackedFormat f;
  if (!packedFormat(kind, bits, group, symmetric, f) || rows < 0 || cols < 0)
    return -1;
  int64_t rowBytes = packedRowBytes(f, cols);
  float decoded[kPackedUnit];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k0 = 0; k0 < cols; k0 += kPackedUnit) {
      int64_t width = std::min(kPackedUnit, cols - k0);
      decodePacked(f, src + r * rowBytes, k0, width, decoded);
      std::memcpy(dst + r * cols + k0, decoded, size_t(width) * sizeof(float));
    }
  return 0;
}

int64_t llmc_convert_floats(const void *src, int64_t srcType, void *dst,
                            int64_t dstType, int64_t n) {
  auto known = [](int64_t type) { return type >= 0 && type <= 2; };
  if (!known(srcType) || !known(dstType) || n < 0)
    return -1;
  auto load = [&](int64_t i) -> float {
    if (srcType == 0)
      return static_cast<const float *>(src)[i];
    uint16_t h = static_cast<const uint16_t *>(src)[i];
    if (srcType == 1)
      return halfToFloat(h);
    uint32_t bits = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  };
  for (int64_t i = 0; i < n; ++i) {
    float f = load(i);
    if (dstType == 0) {
      static_cast<float *>(dst)[i] = f;
      continue;
    }
    uint16_t h;
    if (dstType == 1) {
      h = floatToHalf(f);
    } else { // bf16: round to nearest even; NaN stays a (quiet) NaN
      uint32_t x;
      std::memcpy(&x, &f, 4);
      h = (x & 0x7fffffff) > 0x7f800000
              ? uint16_t((x >> 16) | 0x40)
              : uint16_t((x + 0x7fff + ((x >> 16) & 1)) >> 16);
    }
    static_cast<uint16_t *>(dst)[i] = h;
  }
  return 0;
}

} // extern "C"
