//===- Sampling.cpp - the distribution a sampled token is drawn from ------===//
//
// Part of llmc. See include/llmc/Runtime/Sampling.h.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Sampling.h"
#include <algorithm>
#include <cmath>

using namespace llmc::runtime;

void TokenDistribution::compute(const float *row, int64_t vocab,
                                int64_t stride, double temperature,
                                int64_t topK, double topP) {
  candidates.clear();
  candidates.reserve(size_t(vocab));
  for (int64_t i = 0; i < vocab; ++i)
    candidates.push_back({row[i * stride], int32_t(i)});
  size_t keep = candidates.size();
  if (topK > 0 && size_t(topK) < keep)
    keep = size_t(topK);
  std::partial_sort(candidates.begin(), candidates.begin() + keep,
                    candidates.end(), [](const auto &a, const auto &b) {
                      return a.first > b.first ||
                             (a.first == b.first && a.second < b.second);
                    });
  // Softmax at the temperature, in double for stability.
  double maxLogit = keep ? double(candidates.front().first) : 0.0, all = 0.0;
  weights.assign(keep, 0.0);
  for (size_t i = 0; i < keep; ++i)
    all += weights[i] =
        std::exp((double(candidates[i].first) - maxLogit) / temperature);
  // Top-p: the smallest prefix whose mass reaches top_p.
  double mass = 0.0;
  size = keep;
  for (size_t i = 0; i < keep; ++i) {
    mass += weights[i] / all;
    if (mass >= topP) {
      size = i + 1;
      break;
    }
  }
  total = 0.0;
  for (size_t i = 0; i < size; ++i)
    total += weights[i];
}

double TokenDistribution::weight(int32_t token) const {
  for (size_t i = 0; i < size; ++i)
    if (candidates[i].second == token)
      return weights[i];
  return 0.0;
}

int32_t TokenDistribution::pick(double draw, int32_t excluded) const {
  int32_t last = -1;
  for (size_t i = 0; i < size; ++i) {
    if (candidates[i].second == excluded)
      continue;
    last = candidates[i].second;
    draw -= weights[i];
    if (draw <= 0.0)
      return last;
  }
  return last;
}
