//===- MemoryBudgetTest.cpp - budget mode's chooser and byte counts -------===//
//
// Part of llmc. chooseForBudget over a synthetic cost model (no compile):
// the order of preference, exact boundaries, choices the user fixed, and
// the error of a model that cannot fit; parseByteCount's syntax.
//
//===----------------------------------------------------------------------===//

#include "llmc/API/MemoryBudget.h"
#include "llmc/Transforms/Memory/MemoryPlanner.h"
#include "gtest/gtest.h"
#include <set>

using namespace llmc::api;

namespace {

/// A model of 1000 weight bytes as stored (300 as q8_0, 180 as q4_0) and a
/// context of 1000 positions; per position, the KV cache takes 100 bytes in
/// f32, 30 / 17 / 10 with KIVI 8 / 4 / 2 (an H2O budget of N holds N
/// positions); activations 2 bytes and logits 1 byte per context position.
struct Synthetic {
  std::vector<BudgetCandidate> seen;

  llvm::Expected<MemoryReport> operator()(const BudgetCandidate &c) {
    seen.push_back(c);
    MemoryReport r;
    r.weightBytes = c.quantize.empty()     ? 1000
                    : c.quantize == "q8_0" ? 300
                                           : 180;
    r.weightFormats = {
        {c.quantize.empty() ? "f32" : c.quantize, r.weightBytes}};
    r.contextLength = c.contextLength > 0 ? c.contextLength : 1000;
    int64_t positions = r.contextLength;
    llvm::StringRef kv = c.kv;
    size_t evict = kv.find("h2o-b");
    if (evict != llvm::StringRef::npos)
      kv.substr(evict + 5).getAsInteger(10, positions);
    int64_t perPosition = kv.starts_with("kivi8")   ? 30
                          : kv.starts_with("kivi4") ? 17
                          : kv.starts_with("kivi2") ? 10
                                                    : 100;
    r.capacity = positions;
    r.kvBytes = perPosition * positions;
    r.planned = true;
    r.activationBytes = 2 * r.contextLength;
    r.logitsBytes = r.contextLength;
    return r;
  }
};

BudgetProblem problem(int64_t budget) {
  BudgetProblem p;
  p.budget = budget;
  return p;
}

llvm::Expected<BudgetChoice> choose(const BudgetProblem &p, Synthetic &model) {
  return chooseForBudget(p, "m.gguf",
                         [&](const BudgetCandidate &c) { return model(c); });
}

std::string joined(const std::vector<std::string> &lines) {
  std::string s;
  for (const std::string &line : lines)
    s += line + "\n";
  return s;
}

TEST(MemoryBudgetTest, FullPrecisionWhenItFits) {
  Synthetic model;
  // 1000 + 100000 + 2000 + 1000.
  llvm::Expected<BudgetChoice> choice = choose(problem(104000), model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(choice->candidate.kv, "");
  EXPECT_EQ(choice->candidate.contextLength, 0);
  EXPECT_EQ(choice->candidate.quantize, "");
  EXPECT_EQ(choice->report.total(), 104000);
  EXPECT_EQ(choice->evaluated, 1);
  std::string text = joined(choice->decisions);
  EXPECT_NE(text.find("weights: as in the model (f32)"), std::string::npos);
  EXPECT_NE(text.find("KV cache: f32 (full precision fits)"),
            std::string::npos);
  EXPECT_NE(text.find("context: 1000 tokens (the model's)"), std::string::npos);
  EXPECT_NE(text.find("0 bytes to spare"), std::string::npos);
}

TEST(MemoryBudgetTest, CheaperPrecisionBeforeEviction) {
  Synthetic model;
  // f32 needs 104000, kivi8 34000, kivi4 21000: a budget of 21000 takes
  // kivi4, one byte less takes kivi2 (14000).
  llvm::Expected<BudgetChoice> choice = choose(problem(21000), model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(choice->candidate.kv, "kivi4");
  choice = choose(problem(20999), model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(choice->candidate.kv, "kivi2");
}

TEST(MemoryBudgetTest, LargestEvictionBudgetThatFits) {
  Synthetic model;
  // kivi2 with h2o-bN: 4000 + 10 N; N = 555 at 9550 exactly.
  llvm::Expected<BudgetChoice> choice = choose(problem(9550), model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(choice->candidate.kv, "kivi2,h2o-b555");
  EXPECT_EQ(choice->report.total(), 9550);
  choice = choose(problem(9549), model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(choice->candidate.kv, "kivi2,h2o-b554");
  EXPECT_EQ(choice->candidate.contextLength, 0);
}

TEST(MemoryBudgetTest, ShorterContextLast) {
  Synthetic model;
  // The smallest eviction budget (64) needs 4640; below that, kivi2 at a
  // shorter context: 1000 + 13 C; C = 200 at 3600.
  llvm::Expected<BudgetChoice> choice = choose(problem(3600), model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  // A residual window of a quarter of the context (KIVI's default 128
  // must be smaller than the cache).
  EXPECT_EQ(choice->candidate.kv, "kivi2-r50");
  EXPECT_EQ(choice->candidate.contextLength, 200);
  EXPECT_NE(joined(choice->decisions)
                .find("context: 200 tokens (the largest that fits; the "
                      "model's is 1000)"),
            std::string::npos);
}

TEST(MemoryBudgetTest, RequantOnlyWhenAllowed) {
  Synthetic model;
  // q8_0 weights with an f32 cache need 103300; without requantization the
  // same budget takes kivi8.
  BudgetProblem p = problem(103300);
  llvm::Expected<BudgetChoice> choice = choose(p, model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(choice->candidate.quantize, "");
  EXPECT_EQ(choice->candidate.kv, "kivi8");
  p.allowWeightRequant = true;
  // Weights as they are still come first: kivi8 fits them.
  choice = choose(p, model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(choice->candidate.quantize, "");
  // Where no cache fits the f32 weights at the full context, requantized
  // weights keep the context: 300 + 10 x 64 + 3000 = 3940 with q8_0.
  p.budget = 3940;
  choice = choose(p, model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(choice->candidate.quantize, "q8_0");
  EXPECT_EQ(choice->candidate.kv, "kivi2,h2o-b64");
  EXPECT_EQ(choice->candidate.contextLength, 0);
  EXPECT_NE(joined(choice->decisions)
                .find("weights: requantized to q8_0 (--allow-weight-requant)"),
            std::string::npos);
}

TEST(MemoryBudgetTest, UserChoicesAreKept) {
  Synthetic model;
  BudgetProblem p = problem(3600);
  p.user.kv = "kivi8";
  p.fixedKV = true;
  // kivi8 at a shorter context: 1000 + 33 C; C = 78 < 128 does not fit.
  llvm::Expected<BudgetChoice> choice = choose(p, model);
  ASSERT_FALSE(bool(choice));
  llvm::consumeError(choice.takeError());
  for (const BudgetCandidate &c : model.seen)
    EXPECT_EQ(c.kv, "kivi8");
  p.budget = 1000 + 33 * 128;
  choice = choose(p, model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(choice->candidate.kv, "kivi8");
  EXPECT_EQ(choice->candidate.contextLength, 128);
  EXPECT_NE(joined(choice->decisions).find("KV cache: kivi8 (--kv, kept)"),
            std::string::npos);
}

TEST(MemoryBudgetTest, BorderlineAndError) {
  Synthetic model;
  BudgetProblem p = problem(0);
  p.user = {500, "kivi4", ""};
  p.fixedContext = p.fixedKV = true;
  // 1000 + 17 x 500 + 3 x 500 = 11000, the only candidate.
  p.budget = 11000;
  llvm::Expected<BudgetChoice> choice = choose(p, model);
  ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
  EXPECT_EQ(choice->report.total(), 11000);
  p.budget = 10999;
  choice = choose(p, model);
  ASSERT_FALSE(bool(choice));
  std::string message = llvm::toString(choice.takeError());
  EXPECT_EQ(message, "m.gguf does not fit in a memory budget of 10999 bytes "
                     "(10.74 KiB): needs at least 11000 bytes (1 bytes "
                     "over); the KV cache dominates (8500 bytes, 77.3%)");
  std::set<std::string> keys;
  for (const BudgetCandidate &c : model.seen)
    keys.insert(c.key());
  EXPECT_EQ(keys.size(), 1u);
}

TEST(MemoryBudgetTest, NothingFitsNamesTheCheapest) {
  Synthetic model;
  // The cheapest configuration: kivi2 at a context of 128: 1000 + 13 x 128.
  llvm::Expected<BudgetChoice> choice = choose(problem(2000), model);
  ASSERT_FALSE(bool(choice));
  std::string message = llvm::toString(choice.takeError());
  EXPECT_NE(message.find("needs at least 2664 bytes (664 bytes over); "
                         "the KV cache dominates (1280 bytes, 48.0%)"),
            std::string::npos)
      << message;
}

TEST(MemoryBudgetTest, ParseByteCount) {
  EXPECT_EQ(llmc::memplan::parseByteCount("1000000"), 1000000);
  EXPECT_EQ(llmc::memplan::parseByteCount("4G"), int64_t(4) << 30);
  EXPECT_EQ(llmc::memplan::parseByteCount("4GiB"), int64_t(4) << 30);
  EXPECT_EQ(llmc::memplan::parseByteCount("4gb"), int64_t(4000000000));
  EXPECT_EQ(llmc::memplan::parseByteCount("512MiB"), int64_t(512) << 20);
  EXPECT_EQ(llmc::memplan::parseByteCount("512 M"), int64_t(512) << 20);
  EXPECT_EQ(llmc::memplan::parseByteCount("1.5K"), 1536);
  EXPECT_EQ(llmc::memplan::parseByteCount("64KiB"), 65536);
  EXPECT_EQ(llmc::memplan::parseByteCount("100B"), 100);
  for (const char *bad : {"", "0", "-1", "G", "1.2.3", "4X", "4 GiBs", "abc",
                          "1e9", "99999999999999999999"})
    EXPECT_FALSE(llmc::memplan::parseByteCount(bad).has_value()) << bad;
}

TEST(MemoryBudgetTest, ReportTotalsAndJSON) {
  llmc::runtime::ModelInfo info;
  info.vocabSize = 10;
  info.layers = 2;
  info.kvHeads = 1;
  info.headDim = 4;
  info.capacity = 8;
  info.weightBytes = 400;
  info.kvBytesPerToken = 64;
  info.specTokens = 3;
  llmc::runtime::ArenaInfo decode, prefill;
  decode.function = "decode";
  decode.fixedBytes = 128;
  decode.perRowBytes = 64;
  prefill.function = "prefill";
  prefill.fixedBytes = 128;
  prefill.perRowBytes = 64;
  info.arenas = {decode, prefill};
  MemoryReport r = describeMemory(info, "kivi4,h2o-b8", {{"f32", 400}});
  EXPECT_EQ(r.kvPrecision, "kivi4");
  EXPECT_EQ(r.kvPolicy, "h2o-b8");
  EXPECT_EQ(r.kvBytes, 2 * 2 * 1 * 8 * 4 * 4);
  // One shared arena: prefill at the whole context (8 rows).
  EXPECT_EQ(r.activationBytes, 128 + 64 * 8);
  EXPECT_EQ(r.logitsBytes, 10 * 8 * 4);
  EXPECT_EQ(r.tokenBytes, 12);
  EXPECT_EQ(r.total(), 400 + 512 + 640 + 320 + 12);
  llvm::json::Object json = r.toJSON();
  EXPECT_EQ(json.getInteger("total"), r.total());
  EXPECT_EQ(json.getString("dominant"), "activations");
  std::string text;
  llvm::raw_string_ostream os(text);
  r.print(os);
  EXPECT_NE(text.find("@prefill"), std::string::npos);
  EXPECT_NE(text.find("8 rows"), std::string::npos);
}

} // namespace
