//===- CompilerAPITest.cpp - the embeddable compiler API ------------------===//
//
// Part of llmc. The C++ API the Python bindings wrap: diagnostics come back
// as text, failures are return values, pipelines run in place.
//
//===----------------------------------------------------------------------===//

#include "llmc/API/Compiler.h"
#include "gtest/gtest.h"
#include <algorithm>

using namespace llmc::api;

namespace {

const char *kStep = R"mlir(
func.func @step(%x: tensor<?x64xf32>, %w: tensor<172x64xf32>) -> tensor<?x?xf32> {
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}
)mlir";

struct CompilerAPITest : ::testing::Test {
  std::shared_ptr<Session> session = std::make_shared<Session>();
};

TEST_F(CompilerAPITest, ParsesAndPrints) {
  std::string diagnostics;
  std::unique_ptr<Module> module =
      Module::parse(session, kStep, "step.mlir", diagnostics);
  ASSERT_TRUE(module) << diagnostics;
  EXPECT_TRUE(diagnostics.empty());
  EXPECT_NE(module->print().find("llm.linear"), std::string::npos);
  EXPECT_NE(module->print(/*generic=*/true).find("\"llm.linear\""),
            std::string::npos);
  EXPECT_TRUE(module->verify(diagnostics)) << diagnostics;
}

TEST_F(CompilerAPITest, ParseErrorsCarryFileLineColumn) {
  std::string diagnostics;
  std::unique_ptr<Module> module = Module::parse(
      session, "func.func @f() {\n  llm.nope\n}", "bad.mlir", diagnostics);
  EXPECT_FALSE(module);
  EXPECT_EQ(diagnostics.rfind("bad.mlir:2:3: error: ", 0), 0u) << diagnostics;
}

TEST_F(CompilerAPITest, VerifierErrorsAreReported) {
  std::string diagnostics;
  std::unique_ptr<Module> module =
      Module::parse(session,
                    "%c = kv.alloc : !kv.cache<2x4x64x8, f32>\n"
                    "%n = arith.constant 65 : index\n"
                    "%r = kv.rollback %c by %n : !kv.cache<2x4x64x8, f32>\n",
                    "rollback.mlir", diagnostics);
  EXPECT_FALSE(module);
  EXPECT_NE(diagnostics.find("rollback count 65 exceeds the cache capacity 64"),
            std::string::npos)
      << diagnostics;
}

TEST_F(CompilerAPITest, RunsPipelinesInPlace) {
  std::string diagnostics;
  std::unique_ptr<Module> module =
      Module::parse(session, kStep, "step.mlir", diagnostics);
  ASSERT_TRUE(module);
  ASSERT_TRUE(module->runPipeline("llmc-verify-model", diagnostics))
      << diagnostics;
  // The projection's width now comes from its weight.
  EXPECT_NE(module->print().find("-> tensor<?x172xf32>"), std::string::npos)
      << module->print();
}

TEST_F(CompilerAPITest, BadPipelinesFailWithAMessage) {
  std::string diagnostics;
  std::unique_ptr<Module> module =
      Module::parse(session, kStep, "step.mlir", diagnostics);
  ASSERT_TRUE(module);
  EXPECT_FALSE(module->runPipeline("builtin.module(not-a-pass)", diagnostics));
  EXPECT_NE(diagnostics.find("'not-a-pass' does not refer to a registered"),
            std::string::npos)
      << diagnostics;
}

TEST_F(CompilerAPITest, RemarksAreKeptAfterSuccess) {
  std::string diagnostics;
  std::unique_ptr<Module> module =
      Module::parse(session, kStep, "step.mlir", diagnostics);
  ASSERT_TRUE(module);
  ASSERT_TRUE(
      module->runPipeline("llmc-verify-model{summary=true}", diagnostics));
  EXPECT_NE(module->getLastMessages().find("remark: model: no attention, 0 "
                                           "weights (0 bytes)"),
            std::string::npos)
      << module->getLastMessages();
}

TEST_F(CompilerAPITest, ListsOurPassesAndPipelines) {
  std::vector<PassEntry> entries = listRegisteredPasses();
  auto find = [&](const std::string &name) {
    return std::find_if(entries.begin(), entries.end(),
                        [&](const PassEntry &e) { return e.name == name; });
  };
  auto verify = find("llmc-verify-model");
  ASSERT_NE(verify, entries.end());
  EXPECT_FALSE(verify->isPipeline);
  EXPECT_FALSE(verify->summary.empty());
  auto frontend = find("llmc-frontend-pipeline");
  ASSERT_NE(frontend, entries.end());
  EXPECT_TRUE(frontend->isPipeline);
  EXPECT_NE(find("canonicalize"), entries.end());
}

} // namespace
