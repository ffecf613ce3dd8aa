//===- DriverTest.cpp - llmc subcommand dispatch and arguments ------------===//
//
// Part of llmc. The driver's command-line contract: help, one-line usage
// errors with exit 2, option syntaxes, and the subcommand table.
//
//===----------------------------------------------------------------------===//

#include "llmc/Driver/Driver.h"
#include "GGUFBuilder.h"
#include "llvm/Support/JSON.h"
#include "gtest/gtest.h"

using namespace llmc::driver;

namespace {

struct Result {
  int code;
  std::string out, err;
};

Result runLlmc(std::vector<std::string> args) {
  Result r;
  llvm::raw_string_ostream out(r.out), err(r.err);
  r.code = run(args, out, err);
  return r;
}

TEST(DriverTest, Help) {
  Result r = runLlmc({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("usage: llmc SUBCOMMAND"), std::string::npos);
  for (const Subcommand &sub : getSubcommands())
    EXPECT_NE(r.out.find("  " + sub.name.str() + " "), std::string::npos)
        << sub.name.str();

  r = runLlmc({"inspect", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("usage: llmc inspect MODEL [options]"),
            std::string::npos);
  EXPECT_NE(r.out.find("--json"), std::string::npos);
  EXPECT_EQ(runLlmc({"help", "tokenize"}).out, runLlmc({"tokenize", "-h"}).out);
}

TEST(DriverTest, UsageErrorsAreOneLineWithExitTwo) {
  struct {
    std::vector<std::string> args;
    const char *message;
  } cases[] = {
      {{}, "llmc: error: no subcommand given (see 'llmc --help')\n"},
      {{"frobnicate"},
       "llmc: error: unknown subcommand 'frobnicate' (see 'llmc --help')\n"},
      {{"--frob"},
       "llmc: error: unknown option '--frob' (see 'llmc --help')\n"},
      {{"inspect"},
       "llmc: error: inspect: missing MODEL (see 'llmc inspect --help')\n"},
      {{"inspect", "m.gguf", "--frob"},
       "llmc: error: inspect: unknown option '--frob' (see 'llmc inspect "
       "--help')\n"},
      {{"inspect", "a.gguf", "b.gguf"},
       "llmc: error: inspect: unexpected argument 'b.gguf' (see 'llmc "
       "inspect --help')\n"},
      {{"inspect", "--json=yes", "m.gguf"},
       "llmc: error: inspect: option '--json' takes no value (see 'llmc "
       "inspect --help')\n"},
      {{"tokenize", "m.gguf", "--file"},
       "llmc: error: tokenize: option '--file' needs a value (see 'llmc "
       "tokenize --help')\n"},
      {{"tokenize", "m.gguf"},
       "llmc: error: tokenize: give either TEXT or --file (see 'llmc "
       "tokenize --help')\n"},
  };
  for (const auto &c : cases) {
    Result r = runLlmc(c.args);
    EXPECT_EQ(r.code, 2) << c.message;
    EXPECT_EQ(r.err, c.message);
    EXPECT_EQ(r.out, "");
  }
}

TEST(DriverTest, ArgParserSyntax) {
  std::string model, name, text;
  bool json = false, verbose = false, hasText = false;
  int64_t count = 0;
  double temperature = 0;
  ArgParser parser("demo", "A demo.");
  parser.positional("MODEL", model, "model");
  parser.positional("TEXT", text, "text", /*optional=*/true, &hasText);
  parser.addJson(json);
  parser.flag("-v,--verbose", verbose, "more output");
  parser.option("-n,--count", count, "N", "how many");
  parser.option("--temperature", temperature, "T", "sampling temperature");
  parser.option("-o,--output", name, "PATH", "output");
  std::string out, err;
  llvm::raw_string_ostream outs(out), errs(err);
  Context ctx{outs, errs};
  std::vector<std::string> args = {
      "-n",     "12",   "m.gguf", "--temperature=0.5", "-v",
      "--json", "-o=x", "--",     "--not-an-option"};
  EXPECT_EQ(parser.parse(args, ctx), std::nullopt) << err;
  EXPECT_EQ(model, "m.gguf");
  EXPECT_EQ(text, "--not-an-option");
  EXPECT_TRUE(hasText && json && verbose);
  EXPECT_EQ(count, 12);
  EXPECT_EQ(temperature, 0.5);
  EXPECT_EQ(name, "x");

  std::vector<std::string> bad = {"m.gguf", "-n", "many"};
  EXPECT_EQ(parser.parse(bad, ctx), 2);
  EXPECT_NE(err.find("option '-n' expects an integer, got 'many'"),
            std::string::npos)
      << err;
  // An empty TEXT is a positional like any other.
  std::vector<std::string> empty = {"m.gguf", ""};
  hasText = false;
  EXPECT_EQ(parser.parse(empty, ctx), std::nullopt);
  EXPECT_TRUE(hasText);
  EXPECT_EQ(text, "");

  out.clear();
  parser.printHelp(outs);
  EXPECT_NE(out.find("usage: llmc demo MODEL [TEXT] [options]"),
            std::string::npos);
  EXPECT_NE(out.find("-n, --count N"), std::string::npos) << out;
}

TEST(DriverTest, RuntimeErrorsExitOne) {
  llmc::testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string bad = dir.write("bad.gguf", "not a model");
  Result r = runLlmc({"inspect", bad});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "llmc: error: " + bad + ": bad magic: expected GGUF\n");
  r = runLlmc({"tokenize", bad, "hello"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "llmc: error: " + bad + ": bad magic: expected GGUF\n");
}

TEST(DriverTest, InspectAndTokenize) {
  llmc::testing::GGUFBuilder b;
  b.header(3, 1, 8);
  b.kvString("general.architecture", "llama");
  b.kvU32("llama.embedding_length", 64);
  b.kvU32("llama.attention.head_count", 8);
  b.kvF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  b.kvString("tokenizer.ggml.model", "llama");
  b.kvStrings("tokenizer.ggml.tokens",
              {"<unk>", "<s>", "</s>", "\xE2\x96\x81h", "\xE2\x96\x81hi"});
  b.kvF32s("tokenizer.ggml.scores", {0, 0, 0, -1, -1});
  b.kvI32s("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
  b.tensor("token_embd.weight", {64, 4}, 0, 0).pad().data(64 * 4 * 4);
  llmc::testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string model = dir.write("m.gguf", b.bytes);

  Result r = runLlmc({"inspect", model});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("rms eps:              1e-05"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("head count kv:        8 (default: head count)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("rope dimensions:      8 (default"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("vocab size:           5 (tokenizer.ggml.tokens)"),
            std::string::npos)
      << r.out;

  r = runLlmc({"inspect", model, "--json", "--tensors", "--metadata"});
  ASSERT_EQ(r.code, 0) << r.err;
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(r.out);
  ASSERT_TRUE(bool(json)) << llvm::toString(json.takeError()) << r.out;
  const llvm::json::Object *root = json->getAsObject();
  ASSERT_TRUE(root);
  EXPECT_EQ(root->getInteger("version"), 3);
  EXPECT_EQ(root->getInteger("tensor_count"), 1);
  EXPECT_EQ(root->getObject("hyperparameters")->getNumber("rms_eps"), 1e-05);
  EXPECT_EQ(root->getObject("hyperparameters")->getInteger("head_count_kv"), 8);
  EXPECT_EQ(root->getObject("types")->getObject("F32")->getInteger("bytes"),
            1024);
  EXPECT_EQ(root->getArray("tensors")->size(), 1u);
  EXPECT_EQ(root->getObject("metadata")->getString("general.architecture"),
            "llama");

  r = runLlmc({"tokenize", model, "hi"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1 4\n");
  r = runLlmc({"tokenize", "--json", "--no-bos", model, "hi hi"});
  EXPECT_EQ(r.out, "[4, 4]\n");
  r = runLlmc({"tokenize", "--json", model, ""});
  EXPECT_EQ(r.out, "[1]\n");
}

} // namespace
