//===- TokenizerTest.cpp - the SentencePiece-style tokenizer --------------===//
//
// Part of llmc. Merge order, tie-breaking, byte fallback and decoding on tiny
// hand-built vocabularies; reading a vocabulary from GGUF; and, where
// ../shared/models is present, the real stories260K and Llama-2 vocabularies.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Tokenizer.h"
#include "GGUFBuilder.h"
#include "llmc/Import/GGUF.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "gtest/gtest.h"
#include <cstdlib>

using namespace llmc;
using namespace llmc::runtime;
using namespace llmc::testing;

namespace {

const std::string kSpace = "\xE2\x96\x81"; // "▁"

/// <unk> <s> </s>, the 256 byte tokens (ids 3..258), then `pieces` with
/// their scores (ids from 259 on).
struct Vocab {
  std::vector<std::string> tokens{"<unk>", "<s>", "</s>"};
  std::vector<float> scores{0, 0, 0};
  std::vector<TokenType> types{TokenType::Unknown, TokenType::Control,
                               TokenType::Control};

  explicit Vocab(std::vector<std::pair<std::string, float>> pieces,
                 bool withBytes = true) {
    if (withBytes)
      for (unsigned b = 0; b < 256; ++b) {
        tokens.push_back("<0x" + llvm::utohexstr(b, false, 2) + ">");
        scores.push_back(0);
        types.push_back(TokenType::Byte);
      }
    for (auto &[text, score] : pieces) {
      tokens.push_back(text);
      scores.push_back(score);
      types.push_back(TokenType::Normal);
    }
  }
  int32_t id(const std::string &text) const {
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] == text)
        return static_cast<int32_t>(i);
    return -1;
  }
  Tokenizer build(bool addSpacePrefix = true) const {
    auto t = Tokenizer::fromVocab(tokens, scores, types, 1, 2, 0,
                                  /*addBos=*/true, addSpacePrefix);
    EXPECT_TRUE(bool(t)) << llvm::toString(t.takeError());
    return std::move(*t);
  }
};

int32_t byteId(uint8_t b) { return 3 + b; }

TEST(TokenizerTest, EmptyText) {
  Tokenizer t = Vocab({{"a", -1}}).build();
  EXPECT_EQ(t.encode("", false), std::vector<int32_t>{});
  EXPECT_EQ(t.encode("", true), std::vector<int32_t>{1});
  EXPECT_EQ(t.decode({}), "");
  EXPECT_EQ(t.decode({1}), "");
}

TEST(TokenizerTest, HighestScoreMergesFirst) {
  Vocab v({{"a", -1}, {"b", -1}, {"c", -1}, {"ab", -5}, {"bc", -2}});
  Tokenizer t = v.build(/*addSpacePrefix=*/false);
  // bc (-2) beats ab (-5); a + bc is not a piece.
  EXPECT_EQ(t.encode("abc", false),
            (std::vector<int32_t>{v.id("a"), v.id("bc")}));

  Vocab w(
      {{"a", -1}, {"b", -1}, {"c", -1}, {"ab", -5}, {"bc", -2}, {"abc", -9}});
  Tokenizer u = w.build(false);
  // Merging continues through pieces of lower score than the first.
  EXPECT_EQ(u.encode("abc", false), std::vector<int32_t>{w.id("abc")});
}

TEST(TokenizerTest, TiesMergeLeftmost) {
  Vocab v({{"a", -1}, {"aa", -1}});
  Tokenizer t = v.build(false);
  EXPECT_EQ(t.encode("aaa", false),
            (std::vector<int32_t>{v.id("aa"), v.id("a")}));
  EXPECT_EQ(t.encode("aaaaa", false),
            (std::vector<int32_t>{v.id("aa"), v.id("aa"), v.id("a")}));
}

TEST(TokenizerTest, DummyPrefixAndSpaces) {
  Vocab v({{kSpace, -1},
           {"a", -1},
           {"b", -1},
           {kSpace + "a", -2},
           {kSpace + kSpace, -3}});
  Tokenizer t = v.build();
  EXPECT_EQ(t.encode("a", false), std::vector<int32_t>{v.id(kSpace + "a")});
  EXPECT_EQ(
      t.encode("a b", true),
      (std::vector<int32_t>{1, v.id(kSpace + "a"), v.id(kSpace), v.id("b")}));
  // " a": the prefix and the space give "▁▁a"; ▁a (-2) beats ▁▁ (-3).
  EXPECT_EQ(t.encode(" a", false),
            (std::vector<int32_t>{v.id(kSpace), v.id(kSpace + "a")}));

  Tokenizer noPrefix = v.build(/*addSpacePrefix=*/false);
  EXPECT_EQ(noPrefix.encode("a", false), std::vector<int32_t>{v.id("a")});
}

TEST(TokenizerTest, ByteFallback) {
  Vocab v({{kSpace, -1}, {"a", -1}});
  Tokenizer t = v.build();
  // "é" is not a piece: its two UTF-8 bytes become byte tokens.
  EXPECT_EQ(t.encode("\xC3\xA9", false),
            (std::vector<int32_t>{v.id(kSpace), byteId(0xC3), byteId(0xA9)}));
  // Malformed UTF-8 still advances byte by byte.
  EXPECT_EQ(t.encode("a\xFF\xE2\x96", false),
            (std::vector<int32_t>{v.id(kSpace), v.id("a"), byteId(0xFF),
                                  byteId(0xE2), byteId(0x96)}));
  // Without byte tokens, unknown characters become <unk>.
  Vocab noBytes({{kSpace, -1}, {"a", -1}}, /*withBytes=*/false);
  Tokenizer u = noBytes.build();
  EXPECT_EQ(u.encode("a\xC3\xA9", false),
            (std::vector<int32_t>{noBytes.id(kSpace), noBytes.id("a"), 0, 0}));
}

TEST(TokenizerTest, ControlTextIsNotMatched) {
  Vocab v({{"<", -1}, {"s", -1}, {">", -1}, {"<s", -2}});
  Tokenizer t = v.build(false);
  EXPECT_EQ(t.lookup("<s>"), 1);
  EXPECT_EQ(t.encode("<s>", false),
            (std::vector<int32_t>{v.id("<s"), v.id(">")}));
  // Byte-token spellings in text are text too.
  EXPECT_EQ(t.encode("<0x41>", false).front(), v.id("<"));
}

TEST(TokenizerTest, Pieces) {
  Vocab v({{kSpace + "a", -1}, {"b" + kSpace + "c", -1}});
  Tokenizer t = v.build();
  EXPECT_EQ(t.tokenToPiece(v.id(kSpace + "a")), " a");
  EXPECT_EQ(t.tokenToPiece(v.id("b" + kSpace + "c")), "b c");
  EXPECT_EQ(t.tokenToPiece(byteId('A')), "A");
  EXPECT_EQ(t.tokenToPiece(byteId(0x0A)), "\n");
  EXPECT_EQ(t.tokenToPiece(byteId(0)), std::string(1, '\0'));
  EXPECT_EQ(t.tokenToPiece(1), "");
  EXPECT_EQ(t.tokenToPiece(2), "");
  EXPECT_EQ(t.tokenToPiece(0), " \xE2\x81\x87 ");
  EXPECT_EQ(t.tokenToPiece(-1), "");
  EXPECT_EQ(t.tokenToPiece(100000), "");
  EXPECT_EQ(t.getTokenText(1), "<s>");
  EXPECT_EQ(t.getTokenText(-5), "");
  EXPECT_EQ(t.getTokenType(3), TokenType::Byte);
  EXPECT_EQ(t.getBos(), 1);
  EXPECT_EQ(t.getEos(), 2);
  EXPECT_EQ(t.getUnk(), 0);
  EXPECT_EQ(t.getVocabSize(), 3 + 256 + 2);
}

TEST(TokenizerTest, DecodeStripsTheDummyPrefix) {
  Vocab v({{kSpace, -1}, {"a", -1}, {kSpace + "a", -2}});
  Tokenizer t = v.build();
  int32_t spaceA = v.id(kSpace + "a");
  EXPECT_EQ(t.decode({1, spaceA, spaceA, 2}), "a a");
  EXPECT_EQ(t.decode({spaceA}), "a");
  EXPECT_EQ(t.decode({byteId(' '), spaceA}), "  a") << "bytes are verbatim";
  for (llvm::StringRef text :
       {"a", " a", "  a a  ", "\n", "a\n\na", "\t a", "\xC3\xA9t\xC3\xA9",
        "\xF0\x9F\xA6\x99!", "\xFF\xFE bad utf-8 \xE2\x96"})
    EXPECT_EQ(t.decode(t.encode(text, true)), text.str());
}

TEST(TokenizerTest, VocabErrors) {
  Vocab v({{"a", -1}});
  auto bad = Tokenizer::fromVocab(v.tokens, {0, 1}, v.types, 1, 2, 0);
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "vocabulary: expected 260 scores, got 2");
  bad = Tokenizer::fromVocab(v.tokens, v.scores, {TokenType::Normal}, 1, 2, 0);
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("token types"),
            std::string::npos);
  bad = Tokenizer::fromVocab(v.tokens, v.scores, v.types, 1000, 2, 0);
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "vocabulary: special token id 1000 is outside the vocabulary");
  bad = Tokenizer::fromVocab({}, {}, {}, -1, -1, -1);
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "vocabulary: the vocabulary is empty");
  // Without types, <0xNN> spellings are byte tokens and the rest normal.
  auto ok = Tokenizer::fromVocab(v.tokens, {}, {}, 1, 2, 0);
  ASSERT_TRUE(bool(ok)) << llvm::toString(ok.takeError());
  EXPECT_EQ(ok->getTokenType(3), TokenType::Byte);
  EXPECT_EQ(ok->getTokenType(1), TokenType::Normal);
}

/// A GGUF file whose tokenizer metadata `edit` may change.
std::string tokenizerFile(llvm::StringRef model, uint32_t bos = 1,
                          size_t numScores = 6, int32_t lastType = 6) {
  GGUFBuilder b;
  b.header(3, 0, 8);
  b.kvString("tokenizer.ggml.model", model);
  b.kvStrings("tokenizer.ggml.tokens",
              {"<unk>", "<s>", "</s>", kSpace + "h", kSpace + "hi", "<0x21>"});
  b.kvF32s("tokenizer.ggml.scores", std::vector<float>(numScores, -1.0f));
  b.kvI32s("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, lastType});
  b.kvU32("tokenizer.ggml.bos_token_id", bos);
  b.kvU32("tokenizer.ggml.eos_token_id", 2);
  b.kvU32("tokenizer.ggml.unknown_token_id", 0);
  b.kvBool("tokenizer.ggml.add_bos_token", false);
  return b.bytes;
}

llvm::Expected<Tokenizer> tokenizerOf(const std::string &bytes,
                                      std::unique_ptr<gguf::File> &keep) {
  TempDir dir;
  if (!dir.ok())
    return llvm::createStringError("no temporary directory");
  auto file = gguf::File::open(dir.write("tok.gguf", bytes));
  if (!file)
    return file.takeError();
  keep = std::move(*file);
  return Tokenizer::fromGGUF(*keep);
}

std::string errorOf(llvm::Expected<Tokenizer> t) {
  if (t)
    return "";
  std::string message = llvm::toString(t.takeError());
  // Strip the temporary directory: keep "tok.gguf: ...".
  size_t at = message.find("tok.gguf: ");
  return at == std::string::npos ? message : message.substr(at);
}

TEST(TokenizerTest, FromGGUF) {
  std::unique_ptr<gguf::File> file;
  auto t = tokenizerOf(tokenizerFile("llama"), file);
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_EQ(t->getVocabSize(), 6);
  EXPECT_EQ(t->getBos(), 1);
  EXPECT_FALSE(t->shouldAddBos());
  // ▁ + h and then ▁h + i merge although "▁", "h" and "i" are no pieces.
  EXPECT_EQ(t->encode("hi!", true), (std::vector<int32_t>{1, 4, 5}));
  EXPECT_EQ(t->decode({1, 4, 5, 2}), "hi!");
}

TEST(TokenizerTest, FromGGUFErrors) {
  std::unique_ptr<gguf::File> file;
  EXPECT_EQ(errorOf(tokenizerOf(tokenizerFile("gpt2"), file)),
            "tok.gguf: unsupported tokenizer model 'gpt2' (supported: llama)");
  EXPECT_EQ(errorOf(tokenizerOf(tokenizerFile("llama", 7), file)),
            "tok.gguf: tokenizer.ggml.bos_token_id is not a token id below 6");
  EXPECT_EQ(errorOf(tokenizerOf(tokenizerFile("llama", 1, 5), file)),
            "tok.gguf: tokenizer.ggml.scores must be 6 numbers");
  EXPECT_EQ(errorOf(tokenizerOf(tokenizerFile("llama", 1, 6, 9), file)),
            "tok.gguf: tokenizer.ggml.token_type: unknown type 9");
  GGUFBuilder none;
  none.header(3, 0, 1).kvString("general.architecture", "llama");
  EXPECT_EQ(errorOf(tokenizerOf(none.bytes, file)),
            "tok.gguf: no tokenizer: tokenizer.ggml.model is missing");
}

//===----------------------------------------------------------------------===//
// The real vocabularies of ../shared/models
//===----------------------------------------------------------------------===//

std::string sharedModel(llvm::StringRef name) {
  const char *env = std::getenv("LLMC_SHARED_MODELS");
  std::string dir = env ? env : LLMC_SHARED_MODELS_DIR;
  return dir + "/" + name.str();
}

#define REQUIRE_SHARED_MODEL(path)                                             \
  if (!llvm::sys::fs::exists(path))                                            \
  GTEST_SKIP() << "shared model " << path << " not found"

TEST(TokenizerTest, Stories260K) {
  std::string path = sharedModel("stories260K.gguf");
  REQUIRE_SHARED_MODEL(path);
  auto file = gguf::File::open(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  auto t = Tokenizer::fromGGUF(**file);
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_EQ(t->getVocabSize(), 512);
  std::vector<int32_t> ids = t->encode("Once upon a time", true);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(t->decode(ids), "Once upon a time");
  EXPECT_EQ(t->tokenToPiece(403), " Once");
}

TEST(TokenizerTest, LlamaSpmVectors) {
  std::string path = sharedModel("vocab-llama-spm.gguf");
  REQUIRE_SHARED_MODEL(path);
  auto file = gguf::File::open(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  auto t = Tokenizer::fromGGUF(**file);
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  auto inp = llvm::MemoryBuffer::getFile(sharedModel("vocab-llama-spm.inp"));
  auto out = llvm::MemoryBuffer::getFile(sharedModel("vocab-llama-spm.out"));
  ASSERT_TRUE(inp && out);

  llvm::SmallVector<llvm::StringRef> texts, lines;
  (*inp)->getBuffer().split(texts, "\n__ggml_vocab_test__\n");
  if (!texts.empty() && texts.back().empty())
    texts.pop_back();
  (*out)->getBuffer().rtrim('\n').split(lines, '\n');
  ASSERT_EQ(texts.size(), lines.size());
  size_t matches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int32_t> expected;
    llvm::SmallVector<llvm::StringRef> words;
    lines[i].split(words, ' ', -1, /*KeepEmpty=*/false);
    for (llvm::StringRef w : words)
      expected.push_back(std::stoi(w.str()));
    std::vector<int32_t> ids = t->encode(texts[i], false);
    EXPECT_EQ(ids, expected)
        << "vector " << i << ": '" << texts[i].str() << "'";
    matches += ids == expected;
    EXPECT_EQ(t->decode(ids), texts[i].str()) << "vector " << i;
  }
  EXPECT_EQ(matches, texts.size());
}

} // namespace
