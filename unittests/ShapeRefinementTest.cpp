//===- ShapeRefinementTest.cpp - llm ShapeRefinementOpInterface -----------===//
//
// Part of llmc. Each llm op infers its result shape from its operands; the
// llmc-verify-model pass relies on these answers.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace llmc;

namespace {

struct ShapeRefinementTest : ::testing::Test {
  ShapeRefinementTest() {
    context.loadDialect<llm::LLMDialect, func::FuncDialect>();
  }

  /// Parses `body` as the body of a function with the given arguments and
  /// returns the inferred result types of its first refinable op.
  SmallVector<Type> inferFirst(llvm::StringRef args, llvm::StringRef body) {
    std::string text =
        ("func.func @f(" + args + ") {\n" + body + "\n  return\n}").str();
    module = parseSourceString<ModuleOp>(text, &context);
    EXPECT_TRUE(module) << text;
    if (!module)
      return {};
    SmallVector<Type> types;
    module->walk([&](llm::ShapeRefinementOpInterface op) {
      if (types.empty())
        types = op.inferRefinedResultTypes();
    });
    return types;
  }

  std::string str(Type type) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << type;
    return s;
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

TEST_F(ShapeRefinementTest, LinearTakesWidthFromWeight) {
  SmallVector<Type> types = inferFirst(
      "%x: tensor<?x64xf32>, %w: tensor<172x64xf32>",
      "  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> "
      "tensor<?x?xf32>");
  ASSERT_EQ(types.size(), 1u);
  EXPECT_EQ(str(types[0]), "tensor<?x172xf32>");
}

TEST_F(ShapeRefinementTest, LMHeadLastOnlyHasOneRow) {
  SmallVector<Type> types = inferFirst(
      "%x: tensor<?x64xf32>, %w: !qmm.packed<512x64, #qmm.format<q6_k>>",
      "  %y = llm.lm_head %x, %w {last_only} : tensor<?x64xf32>, "
      "!qmm.packed<512x64, #qmm.format<q6_k>> -> tensor<?x?xf32>");
  ASSERT_EQ(types.size(), 1u);
  EXPECT_EQ(str(types[0]), "tensor<1x512xf32>");
}

TEST_F(ShapeRefinementTest, AttentionResultAndScores) {
  SmallVector<Type> types = inferFirst(
      "%q: tensor<3x64xf32>, %k: tensor<3x32xf32>, "
      "%c: !kv.cache<2x4x256x8, f16>, %p: index",
      "  %o, %c1, %s = llm.attention %q, %k, %k, %c[1] at %p {head_dim = 8 : "
      "i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 1.0 : f32} : "
      "tensor<3x64xf32>, tensor<3x32xf32>, !kv.cache<2x4x256x8, f16> -> "
      "tensor<?x?xf32>, tensor<?x?xf32>");
  ASSERT_EQ(types.size(), 3u);
  EXPECT_EQ(str(types[0]), "tensor<3x64xf32>");
  EXPECT_EQ(str(types[1]), "!kv.cache<2x4x256x8, f16>");
  EXPECT_EQ(str(types[2]), "tensor<4x256xf32>");
}

TEST_F(ShapeRefinementTest, StaticDimensionsAreKept) {
  // A dimension already static is never overwritten, even by a dynamic one.
  SmallVector<Type> types =
      inferFirst("%w: tensor<512x64xf32>, %i: tensor<?xi32>",
                 "  %y = llm.embedding %w, %i : tensor<512x64xf32>, "
                 "tensor<?xi32> -> tensor<7x?xf32>");
  ASSERT_EQ(types.size(), 1u);
  EXPECT_EQ(str(types[0]), "tensor<7x64xf32>");
}

} // namespace
