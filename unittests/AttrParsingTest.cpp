//===- AttrParsingTest.cpp - qmm/kv attribute syntax ----------------------===//
//
// Part of llmc. Every #qmm.format keyword and #kv.policy spelling parses to
// the expected parameters and prints back identically.
//
//===----------------------------------------------------------------------===//

#include "dialects/kv/KVDialect.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/MLIRContext.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace llmc;

namespace {

struct AttrParsingTest : ::testing::Test {
  AttrParsingTest() {
    context.loadDialect<kv::KVDialect>();
    context.getDiagEngine().registerHandler([this](Diagnostic &diag) {
      lastError = diag.str();
      return success();
    });
  }
  template <typename T> T parse(llvm::StringRef text) {
    return dyn_cast_or_null<T>(parseAttribute(text, &context));
  }
  std::string print(Attribute attr) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << attr;
    return s;
  }
  MLIRContext context;
  std::string lastError;
};

TEST_F(AttrParsingTest, FormatKeywordsRoundTrip) {
  for (const char *text :
       {"#qmm.format<q8_0>", "#qmm.format<q4_0>", "#qmm.format<q4_k>",
        "#qmm.format<q6_k>", "#qmm.format<int2, group = 128>",
        "#qmm.format<int3, group = 32>", "#qmm.format<int4, group = 64, asym>",
        "#qmm.format<int8, group = 32>", "#qmm.format<fp8_e4m3>",
        "#qmm.format<fp8_e5m2>", "#qmm.format<mxfp4>"}) {
    auto attr = parse<qmm::FormatAttr>(text);
    ASSERT_TRUE(attr) << text << ": " << lastError;
    EXPECT_EQ(print(attr), text);
  }
}

TEST_F(AttrParsingTest, FormatDefaultsAndParameters) {
  auto int4 = parse<qmm::FormatAttr>("#qmm.format<int4>");
  ASSERT_TRUE(int4);
  EXPECT_EQ(int4.getBits(), 4u);
  EXPECT_EQ(int4.getGroup(), 32u);
  EXPECT_TRUE(int4.getSymmetric());
  auto q4k = parse<qmm::FormatAttr>("#qmm.format<q4_k, group = 256>");
  ASSERT_TRUE(q4k);
  EXPECT_EQ(q4k, qmm::FormatAttr::get(&context, qmm::FormatKind::Q4_K));
}

TEST_F(AttrParsingTest, FormatErrorsExplain) {
  EXPECT_FALSE(parse<qmm::FormatAttr>("#qmm.format<int5>"));
  EXPECT_NE(lastError.find("2, 3, 4 or 8 bits"), std::string::npos);
  EXPECT_FALSE(parse<qmm::FormatAttr>("#qmm.format<q8_0, group = 64>"));
  EXPECT_NE(lastError.find("fixed block of 32"), std::string::npos);
  EXPECT_FALSE(parse<qmm::FormatAttr>("#qmm.format<q5_1>"));
  EXPECT_NE(lastError.find("unknown quantization format 'q5_1'"),
            std::string::npos);
}

TEST_F(AttrParsingTest, PoliciesRoundTrip) {
  for (const char *text :
       {"#kv.policy<window, sinks = 4, recent = 124>",
        "#kv.policy<h2o, heavy = 64, recent = 64>",
        "#kv.policy<snapkv, heavy = 96, observe = 16, pool = 7>",
        "#kv.policy<h2o, heavy = 32, recent = 32, layer_budgets = [128, 96, "
        "64]>"}) {
    auto attr = parse<kv::PolicyAttr>(text);
    ASSERT_TRUE(attr) << text << ": " << lastError;
    EXPECT_EQ(print(attr), text);
  }
}

TEST_F(AttrParsingTest, PolicyErrorsExplain) {
  EXPECT_FALSE(parse<kv::PolicyAttr>("#kv.policy<lru, recent = 4>"));
  EXPECT_NE(lastError.find("unknown eviction policy 'lru'"), std::string::npos);
  EXPECT_FALSE(parse<kv::PolicyAttr>("#kv.policy<h2o, recent = 4>"));
  EXPECT_NE(lastError.find("h2o policy needs heavy > 0"), std::string::npos);
  EXPECT_FALSE(
      parse<kv::PolicyAttr>("#kv.policy<window, recent = 4, pool = 3>"));
  EXPECT_NE(lastError.find("pool applies only to snapkv"), std::string::npos);
}

} // namespace
