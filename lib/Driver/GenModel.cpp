//===- GenModel.cpp - `llmc gen-model` ------------------------------------===//
//
// Part of llmc. Writes a synthetic Llama GGUF model of a named or given
// shape with deterministic random weights (import::writeSyntheticLlama),
// for benchmarks at real model sizes and for tests.
//
//===----------------------------------------------------------------------===//

#include "Progress.h"
#include "llmc/Driver/Driver.h"
#include "llmc/Import/SyntheticLlama.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

using namespace llmc;
using namespace llmc::driver;

namespace {

std::optional<gguf::GGMLType> parseFormat(llvm::StringRef name) {
  std::string upper = name.upper();
  if (upper == "F32")
    return gguf::GGMLType::F32;
  if (upper == "F16")
    return gguf::GGMLType::F16;
  if (upper == "Q8_0")
    return gguf::GGMLType::Q8_0;
  if (upper == "Q4_0")
    return gguf::GGMLType::Q4_0;
  return std::nullopt;
}

} // namespace

int llmc::driver::runGenModel(llvm::ArrayRef<std::string> args, Context &ctx) {
  std::string shapeSpec, formatName = "F16", vocab, output;
  int64_t seed = 0, threads = 0;
  bool json = false;
  std::string shapes = llvm::join(import::getSyntheticShapeNames(), ", ");
  ArgParser parser(
      "gen-model",
      "Writes a synthetic Llama GGUF model with deterministic random "
      "weights\n(uniform, standard deviation 0.02; norms 1), streaming.\n\n"
      "A shape is a name (" +
          shapes +
          ") or key=value pairs, e.g.\n"
          "  dim=512,layers=4,heads=8,kv_heads=4,ffn=1376,vocab=32000,"
          "context=1024\n"
          "dim, layers and heads are required; the defaults are kv_heads = "
          "heads,\nffn = 8*dim/3 rounded up to 256, vocab = the --vocab "
          "file's (else 32000),\ncontext 2048, rope_theta 10000, eps 1e-5.\n"
          "Without --vocab the model gets a built-in byte-level tokenizer "
          "(<unk>,\n<s>, </s>, 256 byte pieces <0xNN>, filler pieces).");
  parser.option("--shape", shapeSpec, "SHAPE",
                "a shape name (" + shapes + ") or key=value pairs");
  parser.option("--format", formatName, "FMT",
                "weight type: F32, F16, Q8_0 or Q4_0 (default F16); norms "
                "stay F32");
  parser.option("--vocab", vocab, "FILE",
                "a GGUF file whose tokenizer (and vocabulary size) to use");
  parser.option("--seed", seed, "S", "random seed (default 0)");
  parser.option("--threads", threads, "N",
                "threads generating weights (default 0: one per core)");
  parser.option("-o,--output", output, "FILE", "the GGUF file to write");
  parser.addJson(json);
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;
  if (shapeSpec.empty())
    return parser.usageError(ctx, "missing --shape");
  if (output.empty())
    return parser.usageError(ctx, "missing -o FILE");
  if (threads < 0 || threads > 4096)
    return parser.usageError(ctx, "--threads must be in [0, 4096]");
  std::optional<gguf::GGMLType> format = parseFormat(formatName);
  if (!format)
    return parser.usageError(ctx, "unknown format '" + formatName +
                                      "' (expected F32, F16, Q8_0 or Q4_0)");
  llvm::Expected<import::SyntheticShape> shape =
      import::parseSyntheticShape(shapeSpec);
  if (!shape)
    return parser.usageError(ctx, llvm::toString(shape.takeError()));
  if (vocab.empty() && shape->vocabExplicit && shape->vocab < 259)
    return parser.usageError(ctx, "vocab=" + llvm::Twine(shape->vocab) +
                                      " is too small for the built-in byte "
                                      "tokenizer (at least 259; or give "
                                      "--vocab FILE)");
  if (llvm::sys::fs::is_directory(output))
    return ctx.fail(output + ": is a directory");
  if (!vocab.empty() && !llvm::sys::fs::exists(vocab))
    return ctx.fail(vocab + ": no such file or directory");

  import::SyntheticOptions options;
  options.shape = *shape;
  options.format = *format;
  options.seed = uint64_t(seed);
  options.vocabPath = vocab;
  options.threads = unsigned(threads);

  // A line a second on stderr while a large model is written.
  Stopwatch watch;
  double lastReport = 0;
  auto progress = [&](uint64_t written, uint64_t total) {
    double now = watch.seconds();
    if (now - lastReport < 1.0 || json)
      return;
    lastReport = now;
    ctx.err << "llmc: gen-model: "
            << llvm::format("%.0f%% of %.1f MiB (%.1f s)\n",
                            100.0 * double(written) / double(total),
                            double(total) / (1 << 20), now);
    ctx.err.flush();
  };
  if (llvm::Error err = import::writeSyntheticLlama(options, output, progress))
    return ctx.fail(std::move(err));
  double seconds = watch.seconds();

  uint64_t size = 0;
  llvm::sys::fs::file_size(output, size);
  llvm::StringRef formatText = gguf::ggmlTypeName(*format);
  if (json) {
    ctx.out << llvm::json::Value(llvm::json::Object{{"output", output},
                                                    {"shape", shape->name},
                                                    {"format", formatText},
                                                    {"seed", seed},
                                                    {"vocab_file", vocab},
                                                    {"bytes", int64_t(size)},
                                                    {"seconds", seconds}})
            << "\n";
    return 0;
  }
  ctx.out << "wrote " << output << " (" << shape->name << ", " << formatText
          << ", seed " << seed << ", "
          << llvm::format("%.1f MiB", double(size) / (1 << 20)) << ")\n";
  if (seconds > 1)
    ctx.err << "llmc: gen-model took " << llvm::format("%.1f s", seconds)
            << "\n";
  return 0;
}
