//===- Demo.cpp - `llmc demo` ---------------------------------------------===//
//
// Part of llmc. Runs the model the project trains and ships
// (models/demo-llama.gguf) or any GGUF file through `llmc run`.
//
//===----------------------------------------------------------------------===//

#include "llmc/Driver/Driver.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Process.h"

using namespace llmc;
using namespace llmc::driver;

/// The shipped demo model: $LLMC_DEMO_MODEL, else the source tree's copy.
static std::string defaultDemoModel() {
  if (std::optional<std::string> path =
          llvm::sys::Process::GetEnv("LLMC_DEMO_MODEL"))
    return *path;
  return std::string(LLMC_SOURCE_DIR) + "/models/demo-llama.gguf";
}

int llmc::driver::runDemo(llvm::ArrayRef<std::string> args, Context &ctx) {
  std::string model, prompt = "Once upon a time";
  int64_t maxTokens = 100, seed = 42;
  double temperature = 0.8;
  bool json = false, present = false;
  ArgParser parser("demo", "Compile and run the demo model llmc ships "
                           "(models/demo-llama.gguf), or MODEL.");
  parser.positional("MODEL", model, "a GGUF model (default: the demo model)",
                    /*optional=*/true, &present);
  parser.option("-p,--prompt", prompt, "TEXT",
                "the prompt (default \"Once upon a time\")");
  parser.option("-n,--max-tokens", maxTokens, "N", "tokens (default 100)");
  parser.option("--temperature", temperature, "T", "default 0.8");
  parser.option("--seed", seed, "S", "default 42");
  parser.addJson(json);
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;
  if (!present)
    model = defaultDemoModel();
  if (!llvm::sys::fs::exists(model))
    return ctx.fail(model + ": no such file (the demo model ships in the "
                            "source tree's models/ folder)");
  std::vector<std::string> runArgs = {model,
                                      "--prompt",
                                      prompt,
                                      "--max-tokens",
                                      std::to_string(maxTokens),
                                      "--temperature",
                                      std::to_string(temperature),
                                      "--seed",
                                      std::to_string(seed),
                                      "--echo"};
  if (json)
    runArgs.push_back("--json");
  return runRun(runArgs, ctx);
}
