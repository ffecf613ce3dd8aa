//===- Driver.h - the llmc user driver --------------------------*- C++ -*-===//
//
// Part of llmc. `llmc SUBCOMMAND [args]`: a dispatch table of subcommands,
// each a function over its argument list that declares its own options with
// ArgParser, so `llmc SUBCOMMAND --help`, usage errors (one line, exit 2) and
// the common options (--json, --help) behave the same everywhere.
//
// Adding a subcommand `foo`:
//   1. lib/Driver/Foo.cpp defines
//        int llmc::driver::runFoo(llvm::ArrayRef<std::string> args,
//                                 Context &ctx) {
//          std::string model; bool json = false;
//          ArgParser parser("foo", "One sentence of what foo does.");
//          parser.positional("MODEL", model, "a GGUF model file");
//          parser.addJson(json);
//          if (std::optional<int> exit = parser.parse(args, ctx))
//            return *exit;        // --help printed (0) or usage error (2)
//          ...                    // print to ctx.out; on failure
//          return ctx.fail(std::move(err)); // "llmc: error: ...", exit 1
//        }
//   2. declare runFoo below, next to runInspect;
//   3. add {"foo", "one-line summary", runFoo} to kSubcommands in
//      lib/Driver/Driver.cpp and Foo.cpp to lib/Driver/CMakeLists.txt.
//
// Exit codes: 0 success, 1 the command failed (bad model file, ...),
// 2 the command line was wrong.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DRIVER_DRIVER_H
#define LLMC_DRIVER_DRIVER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc::driver {

/// Where a subcommand writes: results to `out`, diagnostics to `err`.
struct Context {
  llvm::raw_ostream &out;
  llvm::raw_ostream &err;

  /// Prints "llmc: error: MESSAGE" and returns exit code 1.
  int fail(const llvm::Twine &message);
  /// Prints every error in `error` as "llmc: error: ..." and returns 1.
  int fail(llvm::Error error);
};

/// Declarative command-line parser for one subcommand. Options are named by
/// comma-separated spellings ("-o,--output"); values are given as
/// `--opt VALUE` or `--opt=VALUE`; `--` ends the options; options and
/// positionals may be interleaved.
class ArgParser {
public:
  ArgParser(llvm::StringRef command, llvm::StringRef description);

  /// A boolean switch.
  ArgParser &flag(llvm::StringRef spellings, bool &value, llvm::StringRef help);
  /// An option with a value; `metavar` names it in the help.
  ArgParser &option(llvm::StringRef spellings, std::string &value,
                    llvm::StringRef metavar, llvm::StringRef help);
  ArgParser &option(llvm::StringRef spellings, int64_t &value,
                    llvm::StringRef metavar, llvm::StringRef help);
  ArgParser &option(llvm::StringRef spellings, double &value,
                    llvm::StringRef metavar, llvm::StringRef help);
  /// The next positional argument; `present` (when given) records whether
  /// an optional one was supplied.
  ArgParser &positional(llvm::StringRef metavar, std::string &value,
                        llvm::StringRef help, bool optional = false,
                        bool *present = nullptr);
  /// The common `--json` switch (machine-readable output).
  ArgParser &addJson(bool &value);

  /// Parses `args` (the words after the subcommand name). Returns an exit
  /// code when the subcommand must stop: 0 after printing --help to
  /// ctx.out, 2 after printing a one-line usage error to ctx.err.
  std::optional<int> parse(llvm::ArrayRef<std::string> args, Context &ctx);

  /// Reports a bad option value found after parsing (exit code 2), in the
  /// same one-line format as parse() errors.
  int usageError(Context &ctx, const llvm::Twine &message) const;

  void printHelp(llvm::raw_ostream &os) const;

private:
  enum class Kind { Flag, String, Int, Float };
  struct Option {
    std::vector<std::string> spellings;
    Kind kind;
    void *value;
    std::string metavar;
    std::string help;
  };
  struct Positional {
    std::string metavar;
    std::string *value;
    std::string help;
    bool optional;
    bool *present;
  };
  ArgParser &add(llvm::StringRef spellings, Kind kind, void *value,
                 llvm::StringRef metavar, llvm::StringRef help);
  const Option *find(llvm::StringRef spelling) const;

  std::string command;
  std::string description;
  std::vector<Option> options;
  std::vector<Positional> positionals;
};

/// A subcommand: `run` gets the arguments after its name.
using SubcommandFn = int (*)(llvm::ArrayRef<std::string> args, Context &ctx);
struct Subcommand {
  llvm::StringRef name;
  llvm::StringRef summary;
  SubcommandFn run;
};

/// The subcommands, in the order `llmc --help` lists them.
llvm::ArrayRef<Subcommand> getSubcommands();

// Subcommand entry points (one file each under lib/Driver/).
int runInspect(llvm::ArrayRef<std::string> args, Context &ctx);
int runTokenize(llvm::ArrayRef<std::string> args, Context &ctx);
int runCompile(llvm::ArrayRef<std::string> args, Context &ctx);
int runRun(llvm::ArrayRef<std::string> args, Context &ctx);
int runBench(llvm::ArrayRef<std::string> args, Context &ctx);
int runEval(llvm::ArrayRef<std::string> args, Context &ctx);
int runCalibrate(llvm::ArrayRef<std::string> args, Context &ctx);
int runSpecSearch(llvm::ArrayRef<std::string> args, Context &ctx);
int runGenModel(llvm::ArrayRef<std::string> args, Context &ctx);
int runDemo(llvm::ArrayRef<std::string> args, Context &ctx);

/// Runs `llmc` on `args` (without the program name); the exit code.
int run(llvm::ArrayRef<std::string> args, llvm::raw_ostream &out,
        llvm::raw_ostream &err);

/// The process entry point of tools/llmc.
int main(int argc, char **argv);

} // namespace llmc::driver

#endif // LLMC_DRIVER_DRIVER_H
