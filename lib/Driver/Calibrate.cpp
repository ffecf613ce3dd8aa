//===- Calibrate.cpp - `llmc calibrate` and calibration sequences ---------===//
//
// Part of llmc. Runs the uncompressed model over calibration sequences with
// the kernels' activation recorder on (llmc_kernels_record_activations) and
// writes, per projection weight, the mean |x| of each input channel: the
// statistics AWQ-style quantization scales weights by. Also the sequence
// builders `eval` shares.
//
//===----------------------------------------------------------------------===//

#include "Calibrate.h"
#include "LoadModel.h"
#include "llmc/Driver/Driver.h"
#include "llmc/Runtime/Kernels.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cmath>

using namespace llmc;
using namespace llmc::driver;

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::vector<std::string> llmc::driver::defaultPrompts() {
  return {
      "Once upon a time, there was a little girl named Lily.",
      "One day, Tom and his dog went to the park.",
      "The sun was shining and the birds were singing.",
      "Sara had a red ball. She liked to play with it every day.",
  };
}

llvm::Expected<std::vector<std::vector<int32_t>>> llmc::driver::greedySequences(
    runtime::CompiledModel &model, const runtime::Tokenizer &tokenizer,
    llvm::ArrayRef<std::string> prompts, int64_t tokens) {
  const int64_t vocab = model.getInfo().vocabSize;
  const int32_t eos = tokenizer.getEos();
  std::vector<std::vector<int32_t>> seqs;
  std::vector<float> last;
  for (const std::string &prompt : prompts) {
    std::vector<int32_t> ids = tokenizer.encode(prompt, /*addBos=*/true);
    if (int64_t(ids.size()) >= tokens)
      ids.resize(size_t(tokens));
    model.reset();
    llvm::Expected<llvm::ArrayRef<float>> logits = model.forward(ids);
    while (logits && int64_t(ids.size()) < tokens) {
      last.assign(logits->take_back(size_t(vocab)).begin(), logits->end());
      if (eos >= 0 && eos < vocab)
        last[size_t(eos)] = -INFINITY;
      int32_t next = 0;
      for (int32_t i = 1; i < int32_t(vocab); ++i)
        if (last[size_t(i)] > last[size_t(next)])
          next = i;
      ids.push_back(next);
      if (int64_t(ids.size()) < tokens)
        logits = model.forward({next});
    }
    if (!logits)
      return logits.takeError();
    seqs.push_back(std::move(ids));
  }
  model.reset();
  return seqs;
}

std::vector<std::vector<int32_t>>
llmc::driver::textSequences(const runtime::Tokenizer &tokenizer,
                            llvm::StringRef text, int64_t tokens,
                            int64_t sequences) {
  std::vector<int32_t> ids = tokenizer.encode(text, /*addBos=*/true);
  std::vector<std::vector<int32_t>> seqs;
  for (size_t start = 0;
       start + size_t(tokens) <= ids.size() && int64_t(seqs.size()) < sequences;
       start += size_t(tokens))
    seqs.emplace_back(ids.begin() + start, ids.begin() + start + tokens);
  return seqs;
}

llvm::Error llmc::driver::writeActivationStats(
    runtime::CompiledModel &model, llvm::StringRef modelName,
    const std::vector<std::vector<int32_t>> &seqs, llvm::StringRef outPath,
    llvm::raw_ostream &summary) {
  const runtime::ModelInfo &info = model.getInfo();
  if (info.tensors.empty())
    return fail(modelName + ": the compiled model lists no weight tensors "
                            "(compiled by an older llmc: recompile it)");
  int64_t positions = 0;
  llmc_kernels_record_activations(1);
  for (const std::vector<int32_t> &seq : seqs) {
    model.reset();
    llvm::Expected<llvm::ArrayRef<float>> logits = model.forward(seq);
    if (!logits) {
      llmc_kernels_record_activations(0);
      return logits.takeError();
    }
    positions += int64_t(seq.size());
  }
  llmc_kernels_record_activations(0);
  model.reset();

  llvm::json::Object tensors, tensorRows;
  std::vector<double> sums;
  for (const runtime::TensorLocation &t : info.tensors) {
    int64_t k = llmc_kernels_activation_channels(t.offset);
    if (k <= 0)
      continue; // not a matmul weight (norms, the embedding gather)
    sums.resize(size_t(k));
    int64_t rows = llmc_kernels_activation_stats(t.offset, sums.data(), k);
    if (rows <= 0)
      continue;
    llvm::json::Array means;
    for (double s : sums)
      means.push_back(s / double(rows));
    tensors[t.name] = std::move(means);
    // Every projection of the decoder sees every position; one that does
    // not (an lm head over last rows only) says how many it saw.
    if (rows != positions)
      tensorRows[t.name] = rows;
  }
  if (tensors.empty())
    return fail(modelName + ": no matmul kernel recorded its input (was the "
                            "model compiled without microkernels?)");
  size_t count = tensors.size();
  llvm::json::Object out{{"model", modelName.str()},
                         {"rows", positions},
                         {"tensors", std::move(tensors)}};
  if (!tensorRows.empty())
    out["tensor_rows"] = std::move(tensorRows);

  std::error_code ec;
  llvm::raw_fd_ostream os(outPath, ec, llvm::sys::fs::OF_Text);
  if (ec)
    return fail(outPath + ": cannot write: " + ec.message());
  os << llvm::json::Value(std::move(out)) << "\n";
  os.close();
  if (os.has_error()) {
    std::string message = os.error().message();
    os.clear_error();
    return fail(outPath + ": cannot write: " + message);
  }
  summary << "wrote activation statistics of " << count << " tensors over "
          << positions << " positions (" << seqs.size() << " sequences) to "
          << outPath << "\n";
  return llvm::Error::success();
}

llvm::Error llmc::driver::writeActivationStats(
    llvm::StringRef model, const api::CompileOptions &baseOptions,
    const std::vector<std::vector<int32_t>> &seqs, llvm::StringRef outPath,
    llvm::raw_ostream &err) {
  llvm::Expected<LoadedModel> loaded = loadOrCompile(model, baseOptions, err);
  if (!loaded)
    return loaded.takeError();
  return writeActivationStats(*loaded->model, model, seqs, outPath, err);
}

int llmc::driver::runCalibrate(llvm::ArrayRef<std::string> args, Context &ctx) {
  std::string model, outPath, textFile, tokenizerPath;
  int64_t tokens = 256, sequences = 4, threads = 0, context = 0;
  ArgParser parser(
      "calibrate",
      "Run the uncompressed model over calibration text and write, for every "
      "projection weight, the mean |x| of each input channel (JSON, for "
      "activation-aware weight quantization).");
  parser.positional("MODEL", model, "a GGUF model or Hugging Face directory");
  parser.option("-o,--output", outPath, "FILE",
                "where to write the statistics (required)");
  parser.option("--text", textFile, "FILE",
                "calibrate on windows of this text (default: the model's "
                "greedy continuations of built-in stories)");
  parser.option("--tokens", tokens, "N",
                "tokens per sequence (default 256, at most the context)");
  parser.option("--sequences", sequences, "N",
                "sequences to run: windows of --text, else the first N "
                "built-in stories (default 4, all of them)");
  addModelRunOptions(parser, threads, context, tokenizerPath);
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;
  if (outPath.empty())
    return parser.usageError(ctx, "missing -o FILE (where to write the "
                                  "statistics)");
  if (tokens < 1)
    return parser.usageError(ctx, "--tokens must be at least 1");
  if (sequences < 1)
    return parser.usageError(ctx, "--sequences must be at least 1");
  if (threads < 0 || context < 0)
    return parser.usageError(ctx, "--threads and --context must be >= 0");
  if (!llvm::sys::fs::exists(model))
    return ctx.fail(model + ": no such file or directory");

  api::CompileOptions options;
  options.contextLength = context;
  llvm::Expected<LoadedModel> loaded = loadOrCompile(model, options, ctx.err);
  if (!loaded)
    return ctx.fail(loaded.takeError());
  runtime::CompiledModel::setThreads(threads);
  runtime::CompiledModel &compiled = *loaded->model;
  const runtime::ModelInfo &info = compiled.getInfo();
  if (tokens > info.contextLength())
    return parser.usageError(
        ctx, "--tokens " + llvm::Twine(tokens) + " exceeds the context of " +
                 llvm::Twine(info.contextLength()) + " tokens (see --context)");
  llvm::Expected<runtime::Tokenizer> tokenizer =
      loadTokenizer(info, tokenizerPath);
  if (!tokenizer)
    return ctx.fail(tokenizer.takeError());

  std::vector<std::vector<int32_t>> seqs;
  if (!textFile.empty()) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> text =
        llvm::MemoryBuffer::getFile(textFile, /*IsText=*/true);
    if (!text)
      return ctx.fail(textFile + ": " + text.getError().message());
    seqs = textSequences(*tokenizer, (*text)->getBuffer(), tokens, sequences);
    if (seqs.empty())
      return ctx.fail(textFile +
                      ": fewer tokens than one sequence of "
                      "--tokens " +
                      llvm::Twine(tokens));
  } else {
    llvm::Expected<std::vector<std::vector<int32_t>>> greedy = greedySequences(
        compiled, *tokenizer,
        llvm::ArrayRef(defaultPrompts()).take_front(size_t(sequences)), tokens);
    if (!greedy)
      return ctx.fail(greedy.takeError());
    seqs = std::move(*greedy);
  }
  if (llvm::Error error =
          writeActivationStats(compiled, model, seqs, outPath, ctx.out))
    return ctx.fail(std::move(error));
  return 0;
}
