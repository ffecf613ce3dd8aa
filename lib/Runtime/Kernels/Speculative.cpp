//===- Speculative.cpp - draft lookup and greedy acceptance ---------------===//
//
// Part of llmc. The two small pieces of a speculative step that are not
// model computation: prompt-lookup drafting (llm.ngram_draft) and
// acceptance (llm.spec_accept: greedy, or the rejection-sampling rule). Both walk a few token ids; the model work
// (drafting with a skipped-layer model, the batched verification) is the
// step function's own.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Kernels.h"
#include "llmc/Runtime/Sampling.h"
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
                                    LLMC_MEMREF2(float, logits),
                                    double temperature, int64_t topK,
                                    double topP, int64_t seed,
                                    LLMC_MEMREF1(int32_t, tokens)) {
  (void)draftAllocated, (void)logitsAllocated, (void)tokensAllocated;
  Tokens d{draft + draftOffset, draftSize, draftStride};
  Tokens out{tokens + tokensOffset, tokensSize, tokensStride};
  out.clear();
  if (logitsRows < 1 || logitsCols < 1 || out.size < 1)
    return 0;
  count = std::clamp<int64_t>(
      count, 0, std::min({d.size, logitsRows - 1, out.size - 1}));
  const float *rows = logits + logitsOffset;
  auto row = [&](int64_t i) { return rows + i * logitsRowStride; };

  if (!(temperature > 0.0) || topK == 1) {
    // Greedy: the target's argmax (first maximum) per row.
    auto argmax = [&](int64_t i) {
      const float *r = row(i);
      int32_t best = 0;
      for (int64_t v = 1; v < logitsCols; ++v)
        if (r[v * logitsColStride] > r[best * logitsColStride])
          best = int32_t(v);
      return best;
    };
    int64_t i = 0;
    for (; i < count; ++i) {
      int32_t target = argmax(i);
      out[i] = target;
      if (target != d[i])
        return i + 1;
    }
    out[i] = argmax(i); // every draft token agreed: the target's next one
    return i + 1;
  }

  // Speculative sampling with a deterministic draft (q = the draft token
  // with probability 1): keep d_i with probability p_i(d_i), else draw
  // from p_i without d_i; after a full acceptance draw from p_count.
  thread_local llmc::runtime::TokenDistribution p;
  llmc::runtime::SplitMix rng{uint64_t(seed)};
  for (int64_t i = 0; i < count; ++i) {
    p.compute(row(i), logitsCols, logitsColStride, temperature, topK, topP);
    double kept = p.weight(d[i]);
    double u = rng.uniform();
    double rest = p.total - kept;
    if (u * p.total < kept || !(rest > 0.0)) {
      out[i] = d[i];
      continue;
    }
    out[i] = p.pick(rng.uniform() * rest, d[i]);
    return i + 1;
  }
  p.compute(row(count), logitsCols, logitsColStride, temperature, topK, topP);
  out[count] = p.pick(rng.uniform() * p.total);
  return count + 1;
}
