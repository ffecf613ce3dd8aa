//===- PackedMatmul.cpp - matmul over a weight of any qmm format ----------===//
//
// Part of llmc. llmc_matmul_packed: the portable kernel for the formats
// without a dedicated one (intN, fp8, mxfp4; the ggml formats work too).
// Each weight row is decoded kPackedUnit elements at a time into a stack
// buffer, which every activation row then reads, so a weight byte is
// decoded once per call; sums accumulate in f32.
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <limits>

using namespace llmc::kernels;

namespace {

struct PackedMatmul {
  PackedFormat format;
  const float *x;
  int64_t xStride, rows, k;
  const uint8_t *w;
  int64_t rowBytes;
  float *y;
  int64_t yStride;
};

void packedMatmulRange(const void *context, int64_t nBegin, int64_t nEnd) {
  const auto &p = *static_cast<const PackedMatmul *>(context);
  decodedRowsMatmul(p.x, p.xStride, p.rows, p.k, p.y, p.yStride, nBegin, nEnd,
                    kPackedUnit,
                    [&](int64_t n, int64_t k0, int64_t width, float *out) {
                      decodePacked(p.format, p.w + n * p.rowBytes, k0, width,
                                   out);
                    });
}

} // namespace

extern "C" void llmc_matmul_packed(LLMC_MEMREF2(float, x),
                                   LLMC_MEMREF1(uint8_t, w),
                                   int64_t weightOffset, int64_t kind,
                                   int64_t bits, int64_t group,
                                   int64_t symmetric, LLMC_MEMREF2(float, y)) {
  (void)xAllocated, (void)xColStride, (void)wAllocated, (void)wSize,
      (void)wStride, (void)yAllocated, (void)yColStride;
  if (recordingActivations)
    recordActivations(weightOffset, x + xOffset, xRows, xCols, xRowStride);
  PackedFormat format;
  if (!packedFormat(kind, bits, group, symmetric, format)) {
    // Not a format (the compiler verifies formats): make it visible.
    for (int64_t t = 0; t < yRows; ++t)
      std::fill_n(y + yOffset + t * yRowStride, yCols,
                  std::numeric_limits<float>::quiet_NaN());
    return;
  }
  PackedMatmul p{format,
                 x + xOffset,
                 xRowStride,
                 xRows,
                 xCols,
                 w + wOffset + weightOffset,
                 packedRowBytes(format, xCols),
                 y + yOffset,
                 yRowStride};
  double work = double(yCols) * double(xCols) * double(xRows);
  parallelFor(yCols, /*grain=*/4, work, packedMatmulRange, &p);
}
