//===- Speculative.cpp - draft lookup and greedy acceptance ---------------===//
//
// Part of llmc. The two small pieces of a speculative step that are not
// model computation: prompt-lookup drafting (llm.ngram_draft) and greedy
// acceptance (llm.spec_accept). Both walk a few token ids; the model work
// (drafting with a skipped-layer model, the batched verification) is the
// step function's own.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cstdint>

namespace {

/// A strided view of a 1-D i32 memref.
struct Tokens {
  int32_t *data;
  int64_t size, stride;
  int32_t &operator[](int64_t i) const { return data[i * stride]; }
  void clear() const {
    for (int64_t i = 0; i < size; ++i)
      (*this)[i] = 0;
  }
};

} // namespace

extern "C" int64_t llmc_ngram_draft(LLMC_MEMREF1(int32_t, history),
                                    int64_t length, int64_t ngram, int64_t max,
                                    LLMC_MEMREF1(int32_t, draft)) {
  (void)historyAllocated, (void)draftAllocated;
  Tokens h{history + historyOffset, historySize, historyStride};
  Tokens out{draft + draftOffset, draftSize, draftStride};
  out.clear();
  length = std::clamp<int64_t>(length, 0, h.size);
  max = std::min(max, out.size);
  // The longest n-gram first; a match must leave a token after it.
  for (int64_t n = std::min(ngram, length - 1); n >= 1 && max > 0; --n) {
    int64_t suffix = length - n;
    for (int64_t j = length - n - 1; j >= 0; --j) {
      int64_t i = 0;
      while (i < n && h[j + i] == h[suffix + i])
        ++i;
      if (i < n)
        continue;
      int64_t count = std::min(max, length - (j + n));
      for (int64_t c = 0; c < count; ++c)
        out[c] = h[j + n + c];
      return count;
    }
  }
  return 0;
}

extern "C" int64_t llmc_spec_accept(LLMC_MEMREF1(int32_t, draft),
                                    int64_t count,
                                    LLMC_MEMREF1(int32_t, target),
                                    LLMC_MEMREF1(int32_t, tokens)) {
  (void)draftAllocated, (void)targetAllocated, (void)tokensAllocated;
  Tokens d{draft + draftOffset, draftSize, draftStride};
  Tokens t{target + targetOffset, targetSize, targetStride};
  Tokens out{tokens + tokensOffset, tokensSize, tokensStride};
  out.clear();
  if (t.size < 1 || out.size < 1)
    return 0;
  count = std::clamp<int64_t>(count, 0,
                              std::min({d.size, t.size - 1, out.size - 1}));
  int64_t i = 0;
  while (i < count && d[i] == t[i]) {
    out[i] = t[i];
    ++i;
  }
  out[i] = t[i]; // the target's own next token
  return i + 1;
}
