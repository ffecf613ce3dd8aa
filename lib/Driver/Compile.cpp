//===- Compile.cpp - `llmc compile` ---------------------------------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "LoadModel.h"
#include "Progress.h"
#include "llmc/API/ModelCompiler.h"
#include "llmc/Driver/Driver.h"
#include "llvm/Support/JSON.h"

using namespace llmc;
using namespace llmc::driver;

int llmc::driver::runCompile(llvm::ArrayRef<std::string> args, Context &ctx) {
  std::string model, output, target = "cpu", pipeline;
  int64_t context = 0, optLevel = 2;
  bool json = false, reportMemory = false;
  ArgParser parser("compile", "Compile a model (GGUF file or Hugging Face "
                              "directory) into a native shared library.");
  parser.positional("MODEL", model, "the model to compile");
  parser.option("-o,--output", output, "OUT", "the shared library to write");
  parser.option("--target", target, "TARGET", "cpu (default)");
  parser.option("--context", context, "N",
                "KV cache capacity in tokens (default: the model's context)");
  parser.option("--pipeline", pipeline, "PIPELINE",
                "a textual pass pipeline replacing llmc-cpu-pipeline");
  parser.option("-O,--opt-level", optLevel, "N", "LLVM optimization level 0-3");
  CompressionArgs compression;
  addCompressionOptions(parser, compression);
  std::string spec;
  std::string draftModel;
  addSpecOption(parser, spec, draftModel);
  BudgetArgs budget;
  addBudgetOptions(parser, budget);
  parser.flag("--report-memory", reportMemory,
              "print what the compiled model needs in memory: weights, KV "
              "cache, the activation arena of each step function, runtime "
              "buffers (with --json: under \"memory\")");
  parser.addJson(json);
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;
  if (output.empty())
    return parser.usageError(ctx, "compile needs -o OUT (the shared library to write)");
  if (target != "cpu")
    return parser.usageError(ctx, "target '" + target +
                                      "' is not available yet (supported: cpu)");
  if (context < 0)
    return parser.usageError(ctx, "--context must be positive");
  if (optLevel < 0 || optLevel > 3)
    return parser.usageError(ctx, "--opt-level must be 0, 1, 2 or 3");

  api::CompileOptions options;
  options.contextLength = context;
  options.pipeline = pipeline;
  options.optLevel = unsigned(optLevel);
  if (std::optional<int> exit =
          applyCompressionOptions(compression, options, parser, ctx))
    return *exit;
  if (std::optional<int> exit =
          applySpecOption(spec, draftModel, options, parser, ctx))
    return *exit;
  if (std::optional<int> exit =
          applyBudgetOptions(budget, options, parser, ctx))
    return *exit;
  if (llvm::Error err =
          resolveAutoSpec(model, options, {}, 0, 0, "", ctx.err))
    return ctx.fail(std::move(err));
  llvm::Expected<std::optional<api::BudgetChoice>> choice =
      resolveMemoryBudget(model, options, /*quiet=*/json, ctx.err);
  if (!choice)
    return ctx.fail(choice.takeError());
  Progress progress(ctx.err, /*enabled=*/!json);
  Stopwatch watch;
  llvm::Expected<api::ModelMemory> memory = api::compileModelWithMemory(
      model, output, options,
      [&](llvm::StringRef stage) { progress.stage(stage); });
  progress.done();
  if (!memory)
    return ctx.fail(memory.takeError());
  double seconds = watch.seconds();
  if (json) {
    llvm::json::Object result{{"model", model},
                              {"output", output},
                              {"target", target},
                              {"seconds", seconds}};
    if (*choice)
      result["memory_budget"] = budgetJSON(**choice, options.memoryBudget);
    if (reportMemory)
      result["memory"] = memory->report.toJSON();
    ctx.out << llvm::json::Value(std::move(result)) << "\n";
  } else {
    ctx.out << "compiled " << model << " -> " << output << " ("
            << llvm::format("%.2f", seconds) << " s)\n";
    if (reportMemory) {
      ctx.out << "memory of " << output << ":\n";
      memory->report.print(ctx.out);
    }
  }
  return 0;
}
