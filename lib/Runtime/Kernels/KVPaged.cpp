//===- KVPaged.cpp - attention over a paged f32 KV cache ------------------===//
//
// Part of llmc. llmc_attention_paged_f32 runs one llm.attention step over a
// paged cache: a pool of fixed-size blocks shared by every sequence, and the
// block table of the sequence being run (docs/memory.md, "KV cache
// layout"). The pool is `blocks` blocks of B positions in L x 2 x KVH
// planes (layer, keys or values, KV head): floats [layer][k/v][kv head]
// [block][slot][head dim]. Position p of a sequence is slot p % B of block
// table[p / B], in every plane.
//
// The call stores the step's rows at their slots. When the sequence's
// blocks are consecutive in the pool (table[j] = table[0] + j, as the
// runtime hands out blocks to a sequence that grows alone), each plane
// holds its positions as one contiguous [S, D] run and the contiguous
// kernel (runAttention) reads them in place, exactly as llmc_attention_f32
// reads a contiguous cache. Otherwise (a forked sequence, after
// copy-on-write), split over the thread pool by KV head, each chunk gathers
// its heads' first pos + T positions into a contiguous scratch (one copy of
// B x D floats per block, read while still in cache) and runs the active
// ISA's kernel on its query heads. Either way every ISA's attention, masks
// and batch invariance carry over unchanged and the result is bitwise that
// of the contiguous cache. The runtime has made every block the step writes
// private to the sequence beforehand (copy-on-write happens there).
//
//===----------------------------------------------------------------------===//

#include "KernelsImpl.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace llmc::kernels;

namespace {

/// The gathered keys and values, and each logical block's pool block:
/// kernels are called from one host thread at a time, so one scratch per
/// process, sized once for a whole table (decode then allocates nothing).
std::vector<float> &gatherScratch() {
  static std::vector<float> scratch;
  return scratch;
}
std::vector<int64_t> &blockScratch() {
  static std::vector<int64_t> blocks;
  return blocks;
}

struct PagedCall {
  Attention p; // over the gathered [KVH, S, D] scratch
  ISA isa;
  const float *keyPlanes, *valuePlanes; // this layer's KV head 0
  int64_t planeFloats;                  // blocks x B x D
  const int64_t *blocks;
  int64_t span, blockSize;
};

/// KV heads [begin, end): gathers them, then attends their query heads.
void pagedRange(const void *context, int64_t begin, int64_t end) {
  const auto &c = *static_cast<const PagedCall *>(context);
  const Attention &p = c.p;
  const int64_t S = c.span, B = c.blockSize, D = p.headDim;
  float *keys = const_cast<float *>(p.keys);
  float *values = const_cast<float *>(p.values);
  for (int64_t h = begin; h < end; ++h)
    for (int64_t j = 0, n = (S + B - 1) / B; j < n; ++j) {
      int64_t count = std::min(B, S - j * B);
      int64_t at = h * c.planeFloats + c.blocks[j] * B * D;
      std::memcpy(keys + (h * S + j * B) * D, c.keyPlanes + at,
                  size_t(count * D) * sizeof(float));
      std::memcpy(values + (h * S + j * B) * D, c.valuePlanes + at,
                  size_t(count * D) * sizeof(float));
    }
  int64_t group = p.heads / p.kvHeads;
  switch (c.isa) {
  case ISA::AVX512:
    return attentionAVX512(p, begin * group, end * group);
  case ISA::AVX2:
    return attentionAVX2(p, begin * group, end * group);
  case ISA::Scalar:
    return attentionScalar(p, begin * group, end * group);
  }
}

[[noreturn]] void badTable(int64_t entry, int64_t logical, int64_t blocks) {
  std::fprintf(stderr,
               "llmc_attention_paged_f32: block table entry %lld (logical "
               "block %lld) is outside the pool of %lld blocks\n",
               (long long)entry, (long long)logical, (long long)blocks);
  std::abort();
}

} // namespace

extern "C" {

void llmc_attention_paged_f32(LLMC_MEMREF2(float, q), LLMC_MEMREF2(float, k),
                              LLMC_MEMREF2(float, v), LLMC_MEMREF1(float, pool),
                              LLMC_MEMREF1(int32_t, table), int64_t layer,
                              int64_t pos, int64_t heads, float scale,
                              int64_t window, int64_t causal, int64_t layers,
                              int64_t kvHeads, int64_t blockSize,
                              int64_t headDim, LLMC_MEMREF2(float, out)) {
  (void)qAllocated, (void)qCols, (void)qColStride, (void)kAllocated,
      (void)kRows, (void)kCols, (void)kColStride, (void)vAllocated, (void)vRows,
      (void)vCols, (void)vColStride, (void)poolAllocated, (void)poolStride,
      (void)tableAllocated, (void)outAllocated, (void)outRows, (void)outCols,
      (void)outColStride;
  const int64_t B = blockSize, D = headDim, H = kvHeads, T = qRows;
  const int64_t blocks = poolSize / (layers * 2 * H * B * D);
  const int64_t planeFloats = blocks * B * D;
  float *keyPlanes = pool + poolOffset + layer * 2 * H * planeFloats;
  float *valuePlanes = keyPlanes + H * planeFloats;
  const int32_t *tbl = table + tableOffset;
  auto blockOf = [&](int64_t logical) -> int64_t {
    if (logical >= tableSize)
      badTable(-1, logical, blocks);
    int64_t entry = tbl[logical * tableStride];
    if (entry < 0 || entry >= blocks)
      badTable(entry, logical, blocks);
    return entry;
  };

  // 1. This step's keys and values at their slots.
  for (int64_t t = 0; t < T; ++t) {
    int64_t p = pos + t;
    int64_t at = blockOf(p / B) * B * D + (p % B) * D;
    const float *kRow = k + kOffset + t * kRowStride;
    const float *vRow = v + vOffset + t * vRowStride;
    for (int64_t h = 0; h < H; ++h) {
      std::memcpy(keyPlanes + h * planeFloats + at, kRow + h * D,
                  size_t(D) * sizeof(float));
      std::memcpy(valuePlanes + h * planeFloats + at, vRow + h * D,
                  size_t(D) * sizeof(float));
    }
  }

  // 2. The blocks of positions [0, S), checked here on the calling thread.
  const int64_t S = pos + T, n = (S + B - 1) / B;
  std::vector<int64_t> &blockIds = blockScratch();
  if (int64_t(blockIds.size()) < n)
    blockIds.resize(size_t(std::max(n, tableSize)));
  bool consecutive = true;
  for (int64_t j = 0; j < n; ++j) {
    blockIds[size_t(j)] = blockOf(j);
    consecutive = consecutive && blockIds[size_t(j)] == blockIds[0] + j;
  }
  Attention p{q + qOffset,
              qRowStride,
              T,
              keyPlanes + blockIds[0] * B * D,
              valuePlanes + blockIds[0] * B * D,
              /*kvHeadStride=*/planeFloats,
              /*posStride=*/D,
              heads,
              H,
              D,
              pos,
              window,
              causal != 0,
              scale,
              out + outOffset,
              outRowStride};
  // 3a. Consecutive blocks: the positions are contiguous in every plane.
  if (consecutive)
    return runAttention(activeISA(), p);

  // 3b. Per chunk of KV heads: gather their keys and values, then run the
  // contiguous kernel on their query heads while the copy is in cache.
  std::vector<float> &scratch = gatherScratch();
  if (int64_t(scratch.size()) < 2 * H * S * D)
    scratch.resize(size_t(2 * H * std::max(S, tableSize * B) * D));
  PagedCall call{p,           activeISA(),     keyPlanes, valuePlanes,
                 planeFloats, blockIds.data(), S,         B};
  call.p.keys = scratch.data();
  call.p.values = scratch.data() + H * S * D;
  call.p.kvHeadStride = S * D;
  double work = double(heads) * double(T) * double(S) * double(D) * 2;
  parallelFor(H, /*grain=*/1, work, pagedRange, &call);
}

} // extern "C"
