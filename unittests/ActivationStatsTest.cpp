//===- ActivationStatsTest.cpp - the kernels' activation recorder ---------===//
//
// Part of llmc. llmc_kernels_record_activations / _activation_stats: the
// matmul entry points add |x| per input channel to sums keyed by the
// weight's byte offset, only while recording, and enabling clears them;
// the tensor list of the model info that names those offsets round-trips.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/CompiledModel.h"
#include "llmc/Runtime/Kernels.h"
#include <cmath>
#include <gtest/gtest.h>
#include <vector>

namespace {

constexpr int64_t kRows = 2, kK = 3, kN = 2, kStride = 4;
constexpr int64_t kWeightOffset = 64;

/// Weights range: kN x kK f32 rows at kWeightOffset.
std::vector<uint8_t> weights() {
  std::vector<uint8_t> w(size_t(kWeightOffset + kN * kK * 4), 0);
  auto *f = reinterpret_cast<float *>(w.data() + kWeightOffset);
  for (int64_t i = 0; i < kN * kK; ++i)
    f[i] = float(i + 1);
  return w;
}

/// x is kRows x kK with row stride kStride: the padding column is never
/// read, so its huge value must not show up in the sums.
const float kX[kRows * kStride] = {1.0f,  -2.0f, 0.5f,   1e9f,
                                   -3.0f, 4.0f,  -0.25f, 1e9f};

void callF32(std::vector<uint8_t> &w, std::vector<float> &y) {
  llmc_matmul_f32(const_cast<float *>(kX), const_cast<float *>(kX), 0, kRows,
                  kK, kStride, 1, w.data(), w.data(), 0, int64_t(w.size()), 1,
                  kWeightOffset, y.data(), y.data(), 0, kRows, kN, kN, 1);
}

TEST(ActivationStatsTest, SumsAbsolutePerChannelWhileRecording) {
  llmc_kernels_set_threads(1);
  std::vector<uint8_t> w = weights();
  std::vector<float> y(size_t(kRows * kN));
  double sums[kK];

  // Not recording: nothing is kept.
  llmc_kernels_record_activations(0);
  callF32(w, y);
  llmc_kernels_record_activations(1);
  llmc_kernels_record_activations(0);
  EXPECT_EQ(llmc_kernels_activation_stats(kWeightOffset, sums, kK), -1);
  EXPECT_EQ(llmc_kernels_activation_channels(kWeightOffset), -1);

  llmc_kernels_record_activations(1);
  callF32(w, y);
  callF32(w, y);
  llmc_kernels_record_activations(0);
  // The product itself is unchanged by recording.
  EXPECT_FLOAT_EQ(y[0], 1.0f * 1 - 2.0f * 2 + 0.5f * 3);
  EXPECT_EQ(llmc_kernels_activation_channels(kWeightOffset), kK);
  EXPECT_EQ(llmc_kernels_activation_stats(kWeightOffset, sums, kK), 2 * kRows);
  EXPECT_DOUBLE_EQ(sums[0], 2 * (1.0 + 3.0));
  EXPECT_DOUBLE_EQ(sums[1], 2 * (2.0 + 4.0));
  EXPECT_DOUBLE_EQ(sums[2], 2 * (0.5 + 0.25));
  // A wrong K or an unknown weight: -1, nothing written.
  double untouched[kK + 1] = {7, 7, 7, 7};
  EXPECT_EQ(llmc_kernels_activation_stats(kWeightOffset, untouched, kK + 1),
            -1);
  EXPECT_EQ(untouched[0], 7);
  EXPECT_EQ(llmc_kernels_activation_stats(0, sums, kK), -1);

  // Calls after stopping are not counted; the sums stay readable.
  callF32(w, y);
  EXPECT_EQ(llmc_kernels_activation_stats(kWeightOffset, sums, kK), 2 * kRows);

  // Enabling again starts from nothing.
  llmc_kernels_record_activations(1);
  EXPECT_EQ(llmc_kernels_activation_stats(kWeightOffset, sums, kK), -1);
  callF32(w, y);
  llmc_kernels_record_activations(0);
  EXPECT_EQ(llmc_kernels_activation_stats(kWeightOffset, sums, kK), kRows);
  EXPECT_DOUBLE_EQ(sums[1], 6.0);
}

TEST(ActivationStatsTest, PackedMatmulAndDecodeRowsAreRecorded) {
  llmc_kernels_set_threads(1);
  // int8 symmetric, group 32: one block per row of K = 32.
  const int64_t k = 32, n = 4;
  std::vector<float> wf(size_t(n * k), 0.5f);
  std::vector<uint8_t> w(4096, 0);
  ASSERT_EQ(llmc_quantize_rows(4, 8, 32, 1, wf.data(), n, k, w.data() + 128),
            0);
  std::vector<float> x(static_cast<size_t>(k)), y(static_cast<size_t>(n));
  for (int64_t i = 0; i < k; ++i)
    x[size_t(i)] = float(i) - 10.0f;
  llmc_kernels_record_activations(1);
  // One row (a decode step) of the generic kernel, twice.
  for (int repeat = 0; repeat < 2; ++repeat)
    llmc_matmul_packed(x.data(), x.data(), 0, 1, k, k, 1, w.data(), w.data(), 0,
                       int64_t(w.size()), 1, 128, 4, 8, 32, 1, y.data(),
                       y.data(), 0, 1, n, n, 1);
  llmc_kernels_record_activations(0);
  std::vector<double> sums(static_cast<size_t>(k));
  EXPECT_EQ(llmc_kernels_activation_stats(128, sums.data(), k), 2);
  for (int64_t i = 0; i < k; ++i)
    EXPECT_DOUBLE_EQ(sums[size_t(i)], 2 * std::fabs(double(i) - 10.0));
}

TEST(ActivationStatsTest, ModelInfoTensorsRoundTrip) {
  llmc::runtime::ModelInfo info;
  info.vocabSize = info.layers = info.kvHeads = info.headDim = 1;
  info.capacity = 8;
  info.tensors = {{"blk.0.attn_q.weight", 4096}, {"output.weight", 2097152}};
  llvm::Expected<llmc::runtime::ModelInfo> back =
      llmc::runtime::ModelInfo::fromJSON(info.toJSON(), "test");
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  ASSERT_EQ(back->tensors.size(), 2u);
  EXPECT_EQ(back->tensors[1].name, "output.weight");
  EXPECT_EQ(back->tensors[1].offset, 2097152);
  // A tensor entry without an offset is an error, not a silent 0.
  std::string bad = info.toJSON();
  size_t at = bad.find("\"offset\":4096");
  ASSERT_NE(at, std::string::npos);
  bad.replace(at, 13, "\"offset\":\"x\"");
  EXPECT_FALSE(bool(llmc::runtime::ModelInfo::fromJSON(bad, "test")));
}

} // namespace
