//===- Sampling.h - the distribution a sampled token is drawn from --------===//
//
// Part of llmc. Plain sampling (runtime::Sampler) and speculative sampling
// (llmc_spec_accept, the rejection rule) must draw from the same
// distribution: a row of logits at a temperature, cut to the top k tokens
// and then to the top-p mass. TokenDistribution computes it once for both.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SAMPLING_H
#define LLMC_RUNTIME_SAMPLING_H

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace llmc::runtime {

/// The kept tokens of one row and their unnormalized weights (most likely
/// first; ties by lower id). Reuses its storage across rows.
struct TokenDistribution {
  std::vector<std::pair<float, int32_t>> candidates;
  std::vector<double> weights;
  /// Kept tokens (a prefix of candidates) and the sum of their weights.
  size_t size = 0;
  double total = 0.0;

  /// `vocab` logits `stride` floats apart, at `temperature` > 0; topK 0 and
  /// topP 1 keep everything.
  void compute(const float *row, int64_t vocab, int64_t stride,
               double temperature, int64_t topK, double topP);
  /// The weight of `token` (0 when it is not kept).
  double weight(int32_t token) const;
  /// The kept token at `draw` in [0, total) of the cumulative weights,
  /// skipping `excluded` (-1: none).
  int32_t pick(double draw, int32_t excluded = -1) const;
};

/// splitmix64: a small, well-mixed generator, so that a speculative step's
/// draws depend only on its seed.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1), 53 bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SAMPLING_H
