//===- KernelsImpl.h - internals of libllmc_kernels --------------*- C++ -*-===//
//
// Part of llmc. Shared between the kernel files: the thread pool's
// parallel loop, the problem descriptions the C entry points unpack, and
// the per-ISA implementations (portable C++ and AVX-512) they dispatch to.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_RUNTIME_KERNELS_KERNELSIMPL_H
#define LLMC_LIB_RUNTIME_KERNELS_KERNELSIMPL_H

#include <cstdint>

namespace llmc::kernels {

/// Weight storage formats, in the order of the entry points.
enum class Format { F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K };

/// Elements and bytes of one block of `format` (float formats: a "block"
/// of 32 elements, so every format walks K in blocks).
struct BlockShape {
  int64_t elements;
  int64_t bytes;
};
BlockShape blockShape(Format format);

/// Batch invariance: a matmul (every format, llmc_matmul_packed included)
/// or causal attention call of T <= kBatchInvariantRows rows computes each
/// row's outputs with the same operations in the same order as a call of
/// that row alone (T = 1, attention at the row's position), so they are
/// bitwise equal, on every ISA and thread count. Speculative decoding
/// verifies k draft tokens in one call of k + 1 rows and stays
/// token-for-token equal to greedy decoding because of it. Kernels may sum
/// in another order only above this many rows (AVX2's packed GEMM); every
/// other kernel's rows are independent of T at any size.
constexpr int64_t kBatchInvariantRows = 16;

/// y[t, n] = sum_k x[t, k] * W[n, k] for rows n in [nBegin, nEnd).
struct Matmul {
  Format format;
  const float *x;
  int64_t xStride; // elements between rows of x
  int64_t rows;    // T
  int64_t k;
  const uint8_t *w; // row n starts at w + n * rowBytes
  int64_t rowBytes;
  float *y;
  int64_t yStride;
};

/// Attention of `rows` queries (see llmc_attention_f32).
struct Attention {
  const float *q;
  int64_t qStride;
  int64_t rows;
  const float *keys;   // [KVH, C, D] of this layer
  const float *values; // same
  int64_t kvHeadStride, posStride; // elements
  int64_t heads, kvHeads, headDim, pos, window;
  bool causal;
  float scale;
  float *out;
  int64_t outStride;
};

// Portable implementations (also the reference of the kernel unit tests).
void matmulScalar(const Matmul &p, int64_t nBegin, int64_t nEnd);
void attentionScalar(const Attention &p, int64_t hBegin, int64_t hEnd);
/// Scale and min of Q4_K sub-block `is` (0..7) from the block's 12 packed
/// 6-bit scale bytes. `static`: every ISA's file gets its own copy, so no
/// AVX-512-compiled body can be picked for the others at link time.
static inline void q4kScaleMin(const uint8_t *scales, int is, int &sc,
                               int &m) {
  if (is < 4) {
    sc = scales[is] & 63;
    m = scales[is + 4] & 63;
  } else {
    sc = (scales[is + 4] & 15) | (scales[is - 4] >> 6) << 4;
    m = (scales[is + 4] >> 4) | (scales[is] >> 6) << 4;
  }
}

/// IEEE half to float.
float halfToFloat(uint16_t h);
/// The IEEE half nearest to f (ties to even); overflow gives infinity.
uint16_t floatToHalf(float f);
/// The nearest half to f, saturated at +-65504 instead of overflowing
/// (a scale or offset stored as f16 then stays finite).
uint16_t floatToHalfSaturated(float f);

/// Decodes block `block` of `format` into `out` (blockShape().elements).
void decodeBlockScalar(Format format, const uint8_t *block, float *out);
/// The first `count` elements of a block that may be cut short: float
/// formats read only those (a row of K floats ends there, maybe with the
/// mapping); block formats decode their whole, padded block.
void decodeLeadingScalar(Format format, const uint8_t *block, int64_t count,
                         float *out);

/// y[t, n] = sum_k x[t, k] * W[n, k] for n in [nBegin, nEnd), the portable
/// way: row n of W is decoded `unit` (<= 256) values at a time by
/// decode(n, k0, width, out) into a stack buffer that every activation row
/// then reads, so each weight byte is decoded once; sums are f32, one per
/// unit, added in order (the result every portable kernel reproduces).
template <typename Decode>
void decodedRowsMatmul(const float *x, int64_t xStride, int64_t rows,
                       int64_t k, float *y, int64_t yStride, int64_t nBegin,
                       int64_t nEnd, int64_t unit, Decode decode) {
  float decoded[256];
  for (int64_t n = nBegin; n < nEnd; ++n) {
    for (int64_t t = 0; t < rows; ++t)
      y[t * yStride + n] = 0.0f;
    for (int64_t k0 = 0; k0 < k; k0 += unit) {
      int64_t width = k - k0 < unit ? k - k0 : unit;
      decode(n, k0, width, decoded);
      for (int64_t t = 0; t < rows; ++t) {
        const float *xt = x + t * xStride + k0;
        float sum = 0.0f;
        for (int64_t j = 0; j < width; ++j)
          sum += xt[j] * decoded[j];
        y[t * yStride + n] += sum;
      }
    }
  }
}

// AVX-512 implementations (F, BW, VL, DQ, F16C, FMA); call only when
// avx512Supported().
bool avx512Supported();
void matmulAVX512(const Matmul &p, int64_t nBegin, int64_t nEnd);
void attentionAVX512(const Attention &p, int64_t hBegin, int64_t hEnd);

/// An activation row quantized to 8 bits per 32-element block (ggml's
/// Q8_0 without the packing): q[32 * blocks] (zero-padded past K), the
/// block scales d and the sums of each block's q.
struct QuantizedRow {
  int8_t *q;
  float *d;
  int32_t *sums;
  int64_t blocks;
};

/// The integer-dot-product decode path (one activation row, Q4_0/Q8_0):
/// y[n] = sum_b d_w[n,b] * d_x[b] * (q_w[n,b] . q_x[b]), in double; the
/// reference of the AVX2 kernel.
void quantizeRowScalar(const float *x, int64_t k, QuantizedRow &out);
void matvecQ8Scalar(const Matmul &p, const QuantizedRow &x, int64_t nBegin,
                    int64_t nEnd);

// AVX2 + FMA + F16C implementations; call only when avx2Supported().
bool avx2Supported();
/// Up to kBatchInvariantRows activation rows (decode steps, speculative
/// verification), each row summed exactly as alone: Q4_0/Q8_0 on the
/// p.rows quantized rows at `x` (null: f32 activations, via matmulAVX2),
/// float formats on p.x by 32-element row kernels, other formats via
/// matmulAVX2.
void quantizeRowAVX2(const float *x, int64_t k, QuantizedRow &out);
void matvecAVX2(const Matmul &p, const QuantizedRow *x, int64_t nBegin,
                int64_t nEnd);
void matmulAVX2(const Matmul &p, int64_t nBegin, int64_t nEnd);
/// Sum of x[i]^2 (8 lanes); swiglu over the first multiple of 8 elements,
/// returning how many it did.
float sumOfSquaresAVX2(const float *x, int64_t n);
int64_t swigluAVX2(const float *g, const float *u, float *y, int64_t n);
void attentionAVX2(const Attention &p, int64_t hBegin, int64_t hEnd);

/// The implementation the entry points run: AVX2 where the CPU has it,
/// else the portable one; LLMC_KERNELS=scalar|avx2|avx512 chooses (the
/// AVX-512 kernels are opt-in until validated on AVX-512 hardware, see
/// docs/performance.md). An unsupported choice falls back to scalar.
enum class ISA { Scalar, AVX2, AVX512 };
ISA activeISA();

/// y = x @ W^T over output columns [0, n) (p.y) as the llmc_matmul_<fmt>
/// entry points compute it with `isa`, split over the pool; AVX2 quantizes
/// the activation rows of Q4_0/Q8_0 calls of up to kBatchInvariantRows
/// rows (LLMC_Q8_ACTIVATIONS=0 keeps f32). `isa` must be supported.
void runMatmul(ISA isa, const Matmul &p, int64_t n);
/// Attention over all heads as llmc_attention_f32 computes it with `isa`.
void runAttention(ISA isa, const Attention &p);

/// The qmm formats of the quantizers and the packed matmul, numbered as
/// qmm::FormatKind (this library does not depend on the dialect).
enum class PackedKind { Q8_0, Q4_0, Q4_K, Q6_K, Int, FP8E4M3, FP8E5M2, MXFP4 };

/// One qmm format: `group` elements per block of `blockBytes` bytes (fp8:
/// group 1, one byte).
struct PackedFormat {
  PackedKind kind;
  int bits;
  int group;
  bool symmetric;
  int64_t blockBytes;
};

/// The format the C API's (kind, bits, group, symmetric) name, with the
/// rules of qmm::FormatInfo::validate; false when they name none.
bool packedFormat(int64_t kind, int64_t bits, int64_t group, int64_t symmetric,
                  PackedFormat &out);
/// Bytes of one packed row of `cols` elements.
inline int64_t packedRowBytes(const PackedFormat &f, int64_t cols) {
  return (cols + f.group - 1) / f.group * f.blockBytes;
}
/// Elements decodePacked handles at a time (a multiple of every group).
constexpr int64_t kPackedUnit = 256;
/// Decodes elements [k0, k0 + count) of the packed row `row` into `out`;
/// k0 is a multiple of kPackedUnit and count <= kPackedUnit. Block formats
/// write their whole last block (padding included), so `out` must hold
/// kPackedUnit floats.
void decodePacked(const PackedFormat &f, const uint8_t *row, int64_t k0,
                  int64_t count, float *out);
/// Quantizes one row of `cols` values into packedRowBytes(f, cols) bytes.
void quantizePacked(const PackedFormat &f, const float *src, int64_t cols,
                    uint8_t *dst);

/// Runs body(begin, end) over [0, n) split into contiguous chunks, each a
/// multiple of `grain` (but the last), that the threads take in order; runs
/// inline when one thread is set or `work` (a rough operation count) is too
/// small to share.
using RangeFn = void (*)(const void *context, int64_t begin, int64_t end);
void parallelFor(int64_t n, int64_t grain, double work, RangeFn body,
                 const void *context);

/// Whether llmc_kernels_record_activations is on. Read by every matmul
/// entry point: off (the normal case) costs that one branch.
extern bool recordingActivations;
/// Adds |x[t, k]| of the T x K activation rows of one matmul to the sums of
/// the weight at `weightOffset` (ActivationStats.cpp). Called before the
/// parallel work, on the one thread that calls kernels.
void recordActivations(int64_t weightOffset, const float *x, int64_t rows,
                       int64_t k, int64_t xStride);

} // namespace llmc::kernels

#endif // LLMC_LIB_RUNTIME_KERNELS_KERNELSIMPL_H
