//===- QMMFormatTest.cpp - qmm format arithmetic --------------------------===//
//
// Part of llmc. Block sizes and byte counts against the GGUF block layouts
// (and hand-computed sizes for the integer, fp8 and mxfp4 formats).
//
//===----------------------------------------------------------------------===//

#include "dialects/qmm/QMMDialect.h"
#include "mlir/IR/MLIRContext.h"
#include "gtest/gtest.h"

using namespace llmc::qmm;

namespace {

TEST(QMMFormat, GgmlBlockSizes) {
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Q8_0).blockElements(), 32);
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Q8_0).blockBytes(), 34);
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Q4_0).blockElements(), 32);
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Q4_0).blockBytes(), 18);
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Q4_K).blockElements(), 256);
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Q4_K).blockBytes(), 144);
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Q6_K).blockElements(), 256);
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Q6_K).blockBytes(), 210);
}

TEST(QMMFormat, BitsPerElement) {
  EXPECT_DOUBLE_EQ(FormatInfo::canonical(FormatKind::Q8_0).bitsPerElement(),
                   8.5);
  EXPECT_DOUBLE_EQ(FormatInfo::canonical(FormatKind::Q4_0).bitsPerElement(),
                   4.5);
  EXPECT_DOUBLE_EQ(FormatInfo::canonical(FormatKind::Q4_K).bitsPerElement(),
                   4.5);
  EXPECT_DOUBLE_EQ(FormatInfo::canonical(FormatKind::Q6_K).bitsPerElement(),
                   6.5625);
  EXPECT_DOUBLE_EQ(FormatInfo::canonical(FormatKind::MXFP4).bitsPerElement(),
                   4.25);
  EXPECT_DOUBLE_EQ(FormatInfo::canonical(FormatKind::FP8E4M3).bitsPerElement(),
                   8.0);
}

TEST(QMMFormat, IntegerGroupBytes) {
  // 4-bit, group 32, symmetric: 16 bytes of codes + f16 scale.
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Int, 4, 32, true).blockBytes(),
            18);
  // Asymmetric adds an f16 zero point.
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Int, 4, 32, false).blockBytes(),
            20);
  // 3-bit, group 32: 96 bits = 12 bytes + scale.
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Int, 3, 32, true).blockBytes(),
            14);
  // 2-bit, group 128, asym: 32 + 2 + 2.
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Int, 2, 128, false).blockBytes(),
            36);
  // 8-bit, group 64: 64 + 2.
  EXPECT_EQ(FormatInfo::canonical(FormatKind::Int, 8, 64, true).blockBytes(),
            66);
}

TEST(QMMFormat, RaggedMatrixIsPadded) {
  FormatInfo q8 = FormatInfo::canonical(FormatKind::Q8_0);
  // stories260K's FFN width 172 needs 6 blocks of 32 (192 elements).
  EXPECT_EQ(q8.blocksFor(172), 6);
  EXPECT_EQ(q8.matrixBytes(64, 172), 64 * 6 * 34);
  EXPECT_EQ(q8.blocksFor(160), 5);
  FormatInfo q4k = FormatInfo::canonical(FormatKind::Q4_K);
  EXPECT_EQ(q4k.blocksFor(172), 1);
  EXPECT_EQ(q4k.matrixBytes(4096, 4096), 4096 * 16 * 144);
}

TEST(QMMFormat, ValidateRejectsBadIntegerFormats) {
  EXPECT_TRUE(FormatInfo::canonical(FormatKind::Int, 5, 32, true).validate());
  EXPECT_TRUE(FormatInfo::canonical(FormatKind::Int, 4, 48, true).validate());
  EXPECT_FALSE(
      FormatInfo::canonical(FormatKind::Int, 4, 128, false).validate());
}

TEST(QMMFormat, ValidateRejectsGroupOnFixedFormats) {
  FormatInfo q4k = FormatInfo::canonical(FormatKind::Q4_K);
  EXPECT_FALSE(q4k.validate());
  q4k.group = 32;
  std::optional<std::string> problem = q4k.validate();
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("fixed block of 256"), std::string::npos);
}

TEST(QMMFormat, KeywordRoundTrip) {
  for (llvm::StringRef kw : {"q8_0", "q4_0", "q4_k", "q6_k", "int2", "int3",
                             "int4", "int8", "fp8_e4m3", "fp8_e5m2", "mxfp4"}) {
    std::optional<FormatInfo> info = parseFormatKeyword(kw);
    ASSERT_TRUE(info) << kw.str();
    EXPECT_EQ(info->keyword(), kw.str());
    EXPECT_FALSE(info->validate()) << kw.str();
  }
  EXPECT_FALSE(parseFormatKeyword("q5_1"));
  EXPECT_FALSE(parseFormatKeyword("int"));
  EXPECT_FALSE(parseFormatKeyword("intx"));
}

TEST(QMMFormat, AttributeAndPackedType) {
  mlir::MLIRContext context;
  context.loadDialect<QMMDialect>();
  FormatAttr q4 = FormatAttr::get(&context, FormatKind::Q4_0);
  EXPECT_EQ(q4.getBlockElements(), 32);
  EXPECT_EQ(q4.getBlockBytes(), 18);
  PackedType packed = PackedType::get({172, 64}, q4);
  EXPECT_EQ(packed.getRows(), 172);
  EXPECT_EQ(packed.getBlocksPerRow(), 2);
  EXPECT_EQ(packed.getPackedBytes(), 172 * 2 * 18);
  // Uniquing: the canonical builder equals the fully spelled attribute.
  EXPECT_EQ(q4, FormatAttr::get(&context, FormatKind::Q4_0, 4, 32, true));
}

} // namespace
