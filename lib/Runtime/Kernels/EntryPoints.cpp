//===- EntryPoints.cpp - the C entry points compiled models call -----------===//
//
// Part of llmc. Unpacks the expanded memref descriptors, splits the output
// rows (matmul) or heads (attention) over the thread pool, and runs the
// implementation of the active ISA.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace llmc::kernels;

namespace {

/// Whether AVX2 calls of up to kBatchInvariantRows rows on Q4_0/Q8_0
/// weights quantize the activation rows to 8 bits (the integer
/// dot-product kernels; LLMC_Q8_ACTIVATIONS=0 keeps f32 activations, as
/// larger calls, prefill, always do).
bool q8Activations() {
  static const bool enabled = [] {
    const char *v = std::getenv("LLMC_Q8_ACTIVATIONS");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return enabled;
}

/// The quantized activation rows of the current call: grown to the
/// largest K seen, then reused (kernel calls come from one thread).
struct Scratch {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> sums;
  QuantizedRow rows[kBatchInvariantRows];
  /// `count` (<= kBatchInvariantRows) rows of K elements.
  QuantizedRow *get(int64_t k, int64_t count) {
    int64_t blocks = (k + 31) / 32;
    if (int64_t(d.size()) < blocks * kBatchInvariantRows) {
      q.resize(size_t(blocks * 32 * kBatchInvariantRows));
      d.resize(size_t(blocks * kBatchInvariantRows));
      sums.resize(size_t(blocks * kBatchInvariantRows));
    }
    for (int64_t t = 0; t < count; ++t)
      rows[t] = {q.data() + t * blocks * 32, d.data() + t * blocks,
                 sums.data() + t * blocks, blocks};
    return rows;
  }
};
Scratch scratch;

struct MatmulCall {
  const Matmul *p;
  ISA isa;
  const QuantizedRow *quantized; // AVX2 Q4_0/Q8_0 rows, or null
};

void matmulRange(const void *context, int64_t begin, int64_t end) {
  const auto &c = *static_cast<const MatmulCall *>(context);
  switch (c.isa) {
  case ISA::AVX512:
    return matmulAVX512(*c.p, begin, end);
  case ISA::AVX2:
    if (c.p->rows <= kBatchInvariantRows)
      return matvecAVX2(*c.p, c.quantized, begin, end);
    return matmulAVX2(*c.p, begin, end);
  case ISA::Scalar:
    return matmulScalar(*c.p, begin, end);
  }
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
  runMatmul(activeISA(), p, n);
}

struct AttentionCall {
  const Attention *p;
  ISA isa;
};

void attentionRange(const void *context, int64_t begin, int64_t end) {
  const auto &c = *static_cast<const AttentionCall *>(context);
  switch (c.isa) {
  case ISA::AVX512:
    return attentionAVX512(*c.p, begin, end);
  case ISA::AVX2:
    return attentionAVX2(*c.p, begin, end);
  case ISA::Scalar:
    return attentionScalar(*c.p, begin, end);
  }
}

} // namespace

void llmc::kernels::runMatmul(ISA isa, const Matmul &p, int64_t n) {
  MatmulCall call{&p, isa, nullptr};
  if (isa == ISA::AVX2 && p.rows <= kBatchInvariantRows &&
      (p.format == Format::Q4_0 || p.format == Format::Q8_0) &&
      q8Activations()) {
    QuantizedRow *rows = scratch.get(p.k, p.rows);
    for (int64_t t = 0; t < p.rows; ++t)
      quantizeRowAVX2(p.x + t * p.xStride, p.k, rows[t]);
    call.quantized = rows;
  }
  double work = double(n) * double(p.k) * double(p.rows);
  parallelFor(n, /*grain=*/4, work, matmulRange, &call);
}

void llmc::kernels::runAttention(ISA isa, const Attention &p) {
  AttentionCall call{&p, isa};
  double work = double(p.heads) * double(p.rows) * double(p.pos + p.rows) *
                double(p.headDim) * 2;
  // Whole KV heads per chunk: their query heads share the key reads.
  parallelFor(p.heads, /*grain=*/std::max<int64_t>(1, p.heads / p.kvHeads),
              work, attentionRange, &call);
}

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
  runAttention(activeISA(), p);
}
} // extern "C"
