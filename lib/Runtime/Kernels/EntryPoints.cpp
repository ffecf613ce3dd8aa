//===- EntryPoints.cpp - the C entry points compiled models call -----------===//
//
// Part of llmc. Unpacks the expanded memref descriptors, splits the output
// rows (matmul) or heads (attention) over the thread pool, and runs the
// AVX-512 or the portable implementation.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include "llmc/Runtime/Kernels.h"
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace llmc::kernels;

namespace {

void matmulRange(const void *context, int64_t begin, int64_t end) {
  const auto &p = *static_cast<const Matmul *>(context);
  switch (activeISA()) {
  case ISA::AVX512:
    return matmulAVX512(p, begin, end);
  case ISA::AVX2:
    return matmulAVX2(p, begin, end);
  case ISA::Scalar:
    return matmulScalar(p, begin, end);
  }
}

/// Whether decode steps on Q4_0/Q8_0 weights quantize the activation row
/// to 8 bits (the integer dot-product kernels; LLMC_Q8_ACTIVATIONS=0 keeps
/// f32 activations, as prefill always does).
bool q8Activations() {
  static const bool enabled = [] {
    const char *v = std::getenv("LLMC_Q8_ACTIVATIONS");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return enabled;
}

/// The quantized activation row of the current decode step: grown to the
/// largest K seen, then reused (kernel calls come from one thread).
struct Scratch {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> sums;
  QuantizedRow row(int64_t k) {
    int64_t blocks = (k + 31) / 32;
    if (int64_t(d.size()) < blocks) {
      q.resize(size_t(blocks * 32));
      d.resize(size_t(blocks));
      sums.resize(size_t(blocks));
    }
    return {q.data(), d.data(), sums.data(), blocks};
  }
};
Scratch scratch;

struct Matvec {
  const Matmul *p;
  const QuantizedRow *x;
};

void matvecRange(const void *context, int64_t begin, int64_t end) {
  const auto &m = *static_cast<const Matvec *>(context);
  matvecAVX2(*m.p, m.x, begin, end);
}

void matmul(Format format, const float *x, int64_t xOffset, int64_t rows,
            int64_t k, int64_t xStride, const uint8_t *w, int64_t wOffset,
            float *y, int64_t yOffset, int64_t n, int64_t yStride) {
  BlockShape shape = blockShape(format);
  Matmul p{format,
           x + xOffset,
           xStride,
           rows,
           k,
           w + wOffset,
           (k + shape.elements - 1) / shape.elements * shape.bytes,
           y + yOffset,
           yStride};
  // Float formats store K elements per row, not whole blocks.
  if (format == Format::F32)
    p.rowBytes = k * 4;
  else if (format == Format::F16 || format == Format::BF16)
    p.rowBytes = k * 2;
  double work = double(n) * double(k) * double(rows);
  if (rows == 1 && activeISA() == ISA::AVX2 && format != Format::Q4_K &&
      format != Format::Q6_K) {
    QuantizedRow x;
    Matvec m{&p, nullptr};
    if (format == Format::Q4_0 || format == Format::Q8_0) {
      if (!q8Activations())
        return parallelFor(n, 4, work, matmulRange, &p);
      x = scratch.row(k);
      quantizeRowAVX2(p.x, k, x);
      m.x = &x;
    }
    return parallelFor(n, /*grain=*/4, work, matvecRange, &m);
  }
  parallelFor(n, /*grain=*/4, work, matmulRange, &p);
}

void attentionRange(const void *context, int64_t begin, int64_t end) {
  const auto &p = *static_cast<const Attention *>(context);
  switch (activeISA()) {
  case ISA::AVX512:
    return attentionAVX512(p, begin, end);
  case ISA::AVX2:
    return attentionAVX2(p, begin, end);
  case ISA::Scalar:
    return attentionScalar(p, begin, end);
  }
}

} // namespace

#define LLMC_DEFINE_MATMUL(fmt, format)                                        \
  LLMC_DECLARE_MATMUL(fmt) {                                                   \
    (void)xAllocated, (void)xColStride, (void)wAllocated, (void)wSize,         \
        (void)wStride, (void)yAllocated, (void)yRows, (void)yColStride;        \
    if (recordingActivations)                                                  \
      recordActivations(weightOffset, x + xOffset, xRows, xCols, xRowStride);  \
    matmul(format, x, xOffset, xRows, xCols, xRowStride, w + wOffset,          \
           weightOffset, y, yOffset, yCols, yRowStride);                       \
  }

extern "C" {
LLMC_DEFINE_MATMUL(f32, Format::F32)
LLMC_DEFINE_MATMUL(f16, Format::F16)
LLMC_DEFINE_MATMUL(bf16, Format::BF16)
LLMC_DEFINE_MATMUL(q8_0, Format::Q8_0)
LLMC_DEFINE_MATMUL(q4_0, Format::Q4_0)
LLMC_DEFINE_MATMUL(q4_k, Format::Q4_K)
LLMC_DEFINE_MATMUL(q6_k, Format::Q6_K)

void llmc_attention_f32(LLMC_MEMREF2(float, q), LLMC_MEMREF5(float, cache),
                        int64_t layer, int64_t pos, int64_t heads, float scale,
                        int64_t window, int64_t causal,
                        LLMC_MEMREF2(float, out)) {
  (void)qAllocated, (void)qCols, (void)qColStride, (void)cacheAllocated,
      (void)cacheSize0, (void)cacheSize1, (void)cacheSize3, (void)cacheStride4,
      (void)outAllocated, (void)outRows, (void)outCols, (void)outColStride;
  const float *base = cache + cacheOffset + layer * cacheStride1;
  Attention p{q + qOffset,
              qRowStride,
              qRows,
              base,
              base + cacheStride0,
              cacheStride2,
              cacheStride3,
              heads,
              cacheSize2,
              cacheSize4,
              pos,
              window,
              causal != 0,
              scale,
              out + outOffset,
              outRowStride};
  double work = double(heads) * double(qRows) * double(pos + qRows) *
                double(cacheSize4) * 2;
  parallelFor(heads, /*grain=*/1, work, attentionRange, &p);
}
} // extern "C"
